//! Lists: filters lowered to SQL (`store::query`), sorting, and paging whose cost does not grow
//! with depth: index paging of the whole collection finds a page's first row from per-block
//! counts; cursor paging (RFC 9865) starts after the cursor's keyset position.

use std::cmp::Ordering;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use serde_json::{Map, Value, json};

use crate::store::StoreError;
use crate::store::db::DbConn;
use crate::store::query::{self, Bind, Cond, SortColumn};
use crate::store::schema::{page_counts, resources};
use scim::ScimError;
use scim::filter::{self, Filter};
use scim::list::{CursorPage, ListParams, Position, SortOrder};
use scim::schema::{ResourceKind, ResourceType};

use super::*;

pub(super) fn list_in(
    conn: &mut DbConn,
    rt: &ResourceType,
    params: &ListParams,
    filter: Option<&Filter>,
) -> Result<Page, StoreError> {
    if let Some(page) = &params.cursor {
        return list_cursor_in(conn, rt, params, filter, page);
    }
    let kind = rt.kind;
    let offset = params.start_index.saturating_sub(1);
    let limit = params.count;
    let lowered = filter.map(|f| query::lower(rt, f));
    let exact = lowered.as_ref().is_none_or(|l| l.exact);
    let sql_sort = params.sort_by.as_deref().map(|s| query::sort_column(rt, s));
    let sort_in_memory = matches!(sql_sort, Some(None));
    let more = |total: u64, got: usize| offset.saturating_add(got as u64) < total;

    // Fast path: the whole collection in storage order; the page counts find the start.
    if filter.is_none() && params.sort_by.is_none() {
        return page_by_counts(conn, kind, offset, limit);
    }

    if let (None, Some((col, value))) = (&params.sort_by, filter.and_then(|f| query::single_eq(rt, f))) {
        return page_eq(conn, kind, col, &value, offset, limit, true)?
            .ok_or_else(|| StoreError::corrupt("the total of an eq page was not counted"));
    }

    let cond = kind_cond(kind, lowered);
    let order = sql_order(sql_sort.flatten(), params.sort_order);

    if exact && !sort_in_memory {
        if limit == Some(0) {
            let total = count(conn, &cond)?;
            return Ok(Page { total, more: more(total, 0), resources: Vec::new() });
        }
        let sql = format!("SELECT {ROW_COLUMNS} FROM resources r WHERE {} ORDER BY {order} LIMIT ? OFFSET ?", cond.sql);
        let mut binds = cond.binds.clone();
        binds.push(Bind::Int(limit.map_or(i64::MAX, |l| l as i64)));
        binds.push(Bind::Int(offset as i64));
        let resources = load_rows(conn, &sql, binds)?;
        let total = match first_page_total(offset, limit, resources.len()) {
            Some(t) => t,
            None => count(conn, &cond)?,
        };
        return Ok(Page { total, more: more(total, resources.len()), resources });
    }

    let matched = in_memory(conn, rt, params, filter, &cond, &order)?;
    let total = matched.len() as u64;
    let take = limit.map_or(usize::MAX, |l| l as usize);
    let resources: Vec<StoredResource> = matched.into_iter().skip(offset as usize).take(take).map(|(r, _)| r).collect();
    Ok(Page { total, more: more(total, resources.len()), resources })
}

/// `r.kind = ?` and the lowered filter's SQL condition, if any.
fn kind_cond(kind: ResourceKind, lowered: Option<query::Lowered>) -> Cond {
    let mut cond = Cond { sql: "r.kind = ?".into(), binds: vec![Bind::Text(kind.as_str().into())] };
    if let Some(c) = lowered.and_then(|l| l.cond) {
        cond.sql = format!("{} AND {}", cond.sql, c.sql);
        cond.binds.extend(c.binds);
    }
    cond
}

/// The ORDER BY of a list. Ascending puts rows without a value last and breaks ties by `seq`;
/// descending is its exact reverse (rows without a value first, ties by `seq` descending), so
/// a keyset cursor walks either direction with the same comparison turned round.
fn sql_order(col: Option<SortColumn>, order: SortOrder) -> String {
    match (col.map(SortColumn::name), order) {
        (Some(col), SortOrder::Ascending) => format!("({col} IS NULL), {col}, r.seq"),
        (Some(col), SortOrder::Descending) => format!("({col} IS NULL) DESC, {col} DESC, r.seq DESC"),
        // Without sortBy there is no sortOrder (RFC 7644 §3.4.2.3): storage order.
        (None, _) => "r.seq".to_string(),
    }
}

/// Filters SQL cannot decide, and sorts on attributes without a column: SQL narrows (in the
/// list's order), `scim::filter` decides, and an attribute sort happens here, with the same
/// rules as the SQL order (see [`compare_positions`]).
fn in_memory(
    conn: &mut DbConn,
    rt: &ResourceType,
    params: &ListParams,
    filter: Option<&Filter>,
    cond: &Cond,
    order: &str,
) -> Result<Vec<(StoredResource, Position)>, StoreError> {
    let kind = rt.kind;
    let sql = format!("SELECT {ROW_COLUMNS} FROM resources r WHERE {} ORDER BY {order}", cond.sql);
    let candidates = load_rows(conn, &sql, cond.binds.clone())?;
    let needs_members = kind == ResourceKind::Group && filter.is_some_and(|f| query::mentions(f, "members"));
    let mut matched: Vec<(StoredResource, Position)> = Vec::new();
    for res in candidates {
        let mut full = res.full_document();
        if needs_members {
            let members = load_members(conn, res.seq)?;
            full.insert(
                "members".into(),
                Value::Array(members.into_iter().map(|m| json!({"value": m.id, "type": m.kind.as_str()})).collect()),
            );
        }
        if filter.is_none_or(|f| filter::matches(rt, f, &full)) {
            let pos = position_in(rt, params.sort_by.as_deref(), &res, &full);
            matched.push((res, pos));
        }
    }
    if params.sort_by.as_deref().is_some_and(|s| query::sort_column(rt, s).is_none()) {
        matched.sort_by(|(_, a), (_, b)| compare_positions(rt, params, a, b));
    }
    Ok(matched)
}

/// Cursor paging (RFC 9865): the rows after the cursor's position, at most `count`, found by
/// the position itself (a keyset), never by counting rows: a deep page costs what the first
/// does. `more` says whether rows follow.
fn list_cursor_in(
    conn: &mut DbConn,
    rt: &ResourceType,
    params: &ListParams,
    filter: Option<&Filter>,
    page: &CursorPage,
) -> Result<Page, StoreError> {
    let kind = rt.kind;
    let after = match page {
        CursorPage::First => None,
        CursorPage::After(p) if p.kind == kind => Some(p),
        CursorPage::After(p) => {
            return Err(StoreError::Invalid(ScimError::invalid_cursor(format!(
                "the cursor points into the {}s, not the {}s",
                p.kind.as_str(),
                kind.as_str()
            ))));
        }
    };
    let limit = params.count.unwrap_or(u64::MAX);
    let want = limit.saturating_add(1);
    let lowered = filter.map(|f| query::lower(rt, f));
    let exact = lowered.as_ref().is_none_or(|l| l.exact);
    let sql_sort = params.sort_by.as_deref().map(|s| query::sort_column(rt, s));
    let sort_in_memory = matches!(sql_sort, Some(None));
    let cond = kind_cond(kind, lowered);

    if exact && !sort_in_memory {
        // Without sortBy there is no sortOrder (RFC 7644 §3.4.2.3): storage order.
        let order = if params.sort_by.is_some() { params.sort_order } else { SortOrder::Ascending };
        let mut resources = keyset_rows(conn, &cond, sql_sort.flatten(), order, after, want)?;
        let more = resources.len() as u64 > limit;
        resources.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let total = if filter.is_none() {
            collection_total(conn, kind)?
        } else if after.is_none() && !more {
            resources.len() as u64
        } else {
            count(conn, &cond)?
        };
        return Ok(Page { total, more, resources });
    }

    // Filters SQL cannot decide: every candidate is read to count the matches anyway, so the
    // keyset applies after filtering.
    let matched = in_memory(conn, rt, params, filter, &cond, &sql_order(sql_sort.flatten(), params.sort_order))?;
    let total = matched.len() as u64;
    let start = match after {
        None => 0,
        Some(p) => matched
            .iter()
            .position(|(_, pos)| compare_positions(rt, params, pos, p) == Ordering::Greater)
            .unwrap_or(matched.len()),
    };
    let mut resources: Vec<StoredResource> =
        matched.into_iter().skip(start).take(usize::try_from(want).unwrap_or(usize::MAX)).map(|(r, _)| r).collect();
    let more = resources.len() as u64 > limit;
    resources.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(Page { total, more, resources })
}

/// Rows matching `cond` after `after` in the list's order, at most `limit`. Rows with a value
/// and rows without one are read in two statements, each a range of the `(kind, column, seq)`
/// index: `(column, seq) > (?, ?)` for the first, `seq > ?` for the second (`<` descending).
fn keyset_rows(
    conn: &mut DbConn,
    cond: &Cond,
    col: Option<SortColumn>,
    order: SortOrder,
    after: Option<&Position>,
    limit: u64,
) -> Result<Vec<StoredResource>, StoreError> {
    let (dir, beyond) = match order {
        SortOrder::Ascending => ("", ">"),
        SortOrder::Descending => (" DESC", "<"),
    };
    let Some(col) = col else {
        let mut c = cond.clone();
        if let Some(p) = after {
            c.sql = format!("{} AND r.seq {beyond} ?", c.sql);
            c.binds.push(Bind::Int(p.seq));
        }
        let sql = format!("SELECT {ROW_COLUMNS} FROM resources r WHERE {} ORDER BY r.seq{dir} LIMIT ?", c.sql);
        c.binds.push(Bind::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
        return load_rows(conn, &sql, c.binds);
    };
    // `Some(None)`: the cursor's row had no value, so it sits among the rows without one.
    let key = after.map(|p| key_bind(col, &p.key)).transpose()?;
    let phases = match order {
        SortOrder::Ascending => [true, false],
        SortOrder::Descending => [false, true],
    };
    let mut out: Vec<StoredResource> = Vec::new();
    let mut past_cursor = key.is_none();
    for with_value in phases {
        let left = limit.saturating_sub(out.len() as u64);
        if left == 0 {
            break;
        }
        let at_cursor = !past_cursor && key.as_ref().is_some_and(|k| k.is_some() == with_value);
        if !past_cursor && !at_cursor {
            continue;
        }
        past_cursor = true;
        let from = match (at_cursor, &key, after) {
            (true, Some(k), Some(p)) => Some((k.clone(), p.seq)),
            _ => None,
        };
        let (sql, binds) = phase_statement(cond, col, order, with_value, from, left);
        out.extend(load_rows(conn, &sql, binds)?);
    }
    Ok(out)
}

/// One statement of [`keyset_rows`]: the rows with a value (`with_value`) or without, after
/// `from` (the cursor's key and `seq`) when the cursor sits among them.
pub(super) fn phase_statement(
    cond: &Cond,
    col: SortColumn,
    order: SortOrder,
    with_value: bool,
    from: Option<(Option<Bind>, i64)>,
    limit: u64,
) -> (String, Vec<Bind>) {
    let (dir, beyond) = match order {
        SortOrder::Ascending => ("", ">"),
        SortOrder::Descending => (" DESC", "<"),
    };
    let name = col.name();
    let mut c = cond.clone();
    let sql = if with_value {
        c.sql = format!("{} AND {name} IS NOT NULL", c.sql);
        if let Some((Some(k), seq)) = from {
            c.sql = format!("{} AND ({name}, r.seq) {beyond} (?, ?)", c.sql);
            c.binds.extend([k, Bind::Int(seq)]);
        }
        format!("SELECT {ROW_COLUMNS} FROM resources r WHERE {} ORDER BY {name}{dir}, r.seq{dir} LIMIT ?", c.sql)
    } else {
        c.sql = format!("{} AND {name} IS NULL", c.sql);
        if let Some((_, seq)) = from {
            c.sql = format!("{} AND r.seq {beyond} ?", c.sql);
            c.binds.push(Bind::Int(seq));
        }
        format!("SELECT {ROW_COLUMNS} FROM resources r WHERE {} ORDER BY r.seq{dir} LIMIT ?", c.sql)
    };
    c.binds.push(Bind::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    (sql, c.binds)
}

/// A cursor's sort key as a value to bind against `col`; `None` when the row had no value. A
/// key of another type than the column's is a cursor this query did not issue.
fn key_bind(col: SortColumn, key: &Value) -> Result<Option<Bind>, StoreError> {
    match (col, key) {
        (_, Value::Null) => Ok(None),
        (SortColumn::Text(_), Value::String(s)) => Ok(Some(Bind::Text(s.clone()))),
        (SortColumn::Int(_), Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64().map(Bind::Int)),
        (SortColumn::Bool(_), Value::Bool(b)) => Ok(Some(Bind::Bool(*b))),
        _ => Err(StoreError::Invalid(ScimError::invalid_cursor(
            "the cursor's sort key does not fit this query's sortBy; start again with an empty cursor",
        ))),
    }
}

/// Where `res` sits in a list sorted by `sort_by`: its cursor position.
pub fn position_of(rt: &ResourceType, sort_by: Option<&str>, res: &StoredResource) -> Position {
    match sort_by {
        Some(s) if query::sort_column(rt, s).is_none() => position_in(rt, sort_by, res, &res.full_document()),
        _ => position_in(rt, sort_by, res, &Map::new()),
    }
}

/// [`position_of`] with the full document at hand (only attribute sorts read it). The key of a
/// column sort is the column's value as the store writes it, so it compares as SQL orders.
fn position_in(rt: &ResourceType, sort_by: Option<&str>, res: &StoredResource, full: &Map<String, Value>) -> Position {
    let key = match sort_by.map(|s| (s, query::sort_column(rt, s))) {
        None => Value::Null,
        Some((s, None)) => filter::sort_key(rt, s, full).cloned().unwrap_or(Value::Null),
        Some((_, Some(col))) => {
            let cols = || columns(res.kind, &res.doc);
            match col.name() {
                "r.id" => Value::String(res.id.clone()),
                "r.created" => Value::from(res.created),
                "r.last_modified" => Value::from(res.last_modified),
                "r.user_name" => cols().user_name.map_or(Value::Null, Value::String),
                "r.external_id" => cols().external_id.map_or(Value::Null, Value::String),
                "r.display_name" => cols().display_name.map_or(Value::Null, Value::String),
                "r.active" => cols().active.map_or(Value::Null, Value::Bool),
                _ => Value::Null,
            }
        }
    };
    Position { kind: res.kind, key, seq: res.seq }
}

/// The list's order over positions: the sort key (values before no value; a column's values as
/// SQL compares them, an attribute's by RFC 7644 §3.4.2.3 rules), then `seq`; descending is the
/// exact reverse.
fn compare_positions(rt: &ResourceType, params: &ListParams, a: &Position, b: &Position) -> Ordering {
    let present = |v: &Value| -> Option<Value> { (!v.is_null()).then(|| v.clone()) };
    let keys = match params.sort_by.as_deref() {
        None => Ordering::Equal,
        Some(s) => match query::sort_column(rt, s) {
            Some(_) => compare_column_keys(&a.key, &b.key),
            None => {
                let def = rt.resolve_text(s).and_then(|t| match t {
                    scim::schema::Target::Attribute(r) => Some(r.leaf()),
                    scim::schema::Target::Extension(_) => None,
                });
                filter::compare_for_sort(def, present(&a.key).as_ref(), present(&b.key).as_ref())
            }
        },
    };
    let o = keys.then(a.seq.cmp(&b.seq));
    match (params.sort_by.is_some(), params.sort_order) {
        (true, SortOrder::Descending) => o.reverse(),
        _ => o,
    }
}

/// Column values as SQLite (BINARY) and PostgreSQL ("C" collation) compare them: text by
/// bytes, numbers, booleans; no value last.
fn compare_column_keys(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Number(x), Value::Number(y)) => x.as_i64().cmp(&y.as_i64()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// Every resource of a kind, from the page counts.
fn collection_total(conn: &mut DbConn, kind: ResourceKind) -> Result<u64, StoreError> {
    let counts: Vec<i64> = page_counts::table
        .filter(page_counts::kind.eq(kind.as_str()))
        .filter(page_counts::n.gt(0))
        .select(page_counts::n)
        .load(conn)?;
    Ok(counts.into_iter().map(|n| n.max(0) as u64).sum())
}

/// When the first page is not full it holds every match: no count query is needed.
pub(super) fn first_page_total(offset: u64, limit: Option<u64>, got: usize) -> Option<u64> {
    let got = got as u64;
    (offset == 0 && limit.is_none_or(|l| got < l)).then_some(got)
}

/// `attr eq "value"` on one indexed column, with statements diesel prepares once per
/// connection (a dynamic SQL text is parsed on every request).
pub(super) fn page_eq(
    conn: &mut DbConn,
    kind: ResourceKind,
    col: query::EqColumn,
    value: &str,
    offset: u64,
    limit: Option<u64>,
    count: bool,
) -> Result<Option<Page>, StoreError> {
    let (lim, off) = (limit.map_or(i64::MAX, |l| l as i64), offset as i64);
    macro_rules! page {
        ($column:expr) => {{
            let matching = resources::table.filter(resources::kind.eq(kind.as_str())).filter($column.eq(value));
            // On the connection's own type (see `load_row`).
            let rows: Vec<ResourceRow> = crate::store::db::each!(&mut *conn, |c| matching
                .select(ROW_SELECT)
                .order(resources::seq)
                .limit(lim)
                .offset(off)
                .load(c))?;
            let total = match first_page_total(offset, limit, rows.len()) {
                Some(t) => t,
                None if !count => return Ok(None),
                None => crate::store::db::each!(&mut *conn, |c| matching.count().get_result::<i64>(c))?.max(0) as u64,
            };
            (rows, total)
        }};
    }
    let (rows, total) = match col {
        query::EqColumn::Id => page!(resources::id),
        query::EqColumn::UserName => page!(resources::user_name),
        query::EqColumn::ExternalId => page!(resources::external_id),
        query::EqColumn::DisplayName => page!(resources::display_name),
    };
    let resources: Vec<StoredResource> = rows.into_iter().map(ResourceRow::into_resource).collect::<Result<_, _>>()?;
    Ok(Some(Page { total, more: offset.saturating_add(resources.len() as u64) < total, resources }))
}

/// [`list_in`] when it is one statement: an `attr eq "value"` list whose page holds every
/// match (a `userName eq` lookup, the IdPs' most frequent list). A single statement sees one
/// snapshot by itself, so SQLite needs no read transaction around it. `None` otherwise.
pub(super) fn list_in_one_statement(
    conn: &mut DbConn,
    rt: &ResourceType,
    params: &ListParams,
    filter: Option<&Filter>,
) -> Result<Option<Page>, StoreError> {
    if params.cursor.is_some() || params.sort_by.is_some() {
        return Ok(None);
    }
    let Some((col, value)) = filter.and_then(|f| query::single_eq(rt, f)) else { return Ok(None) };
    page_eq(conn, rt.kind, col, &value, params.start_index.saturating_sub(1), params.count, false)
}

pub(super) fn count(conn: &mut DbConn, cond: &Cond) -> Result<u64, StoreError> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let sql = format!("SELECT count(*) AS n FROM resources r WHERE {}", cond.sql);
    let sql = conn.sql(&sql).into_owned();
    let rows: Vec<N> = bound(diesel::sql_query(sql).into_boxed(), cond.binds.clone()).load(conn)?;
    Ok(rows.first().map_or(0, |n| n.n.max(0) as u64))
}

pub(super) fn bound<'q>(
    mut q: diesel::query_builder::BoxedSqlQuery<'q, crate::store::db::MultiBackend, diesel::query_builder::SqlQuery>,
    binds: Vec<Bind>,
) -> diesel::query_builder::BoxedSqlQuery<'q, crate::store::db::MultiBackend, diesel::query_builder::SqlQuery> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind::<Text, _>(s),
            Bind::Int(i) => q.bind::<BigInt, _>(i),
            Bind::Bool(b) => q.bind::<Bool, _>(b),
        };
    }
    q
}

pub(super) fn load_rows(conn: &mut DbConn, sql: &str, binds: Vec<Bind>) -> Result<Vec<StoredResource>, StoreError> {
    let sql = conn.sql(sql).into_owned();
    let rows: Vec<ResourceRow> = bound(diesel::sql_query(sql).into_boxed(), binds).load(conn)?;
    rows.into_iter().map(ResourceRow::into_resource).collect()
}

/// Unfiltered, unsorted paging: sum the per-bucket counts to find the bucket holding the
/// first row of the page, then step at most one bucket's worth of rows. The cost does not grow
/// with `startIndex`.
pub(super) fn page_by_counts(
    conn: &mut DbConn,
    kind: ResourceKind,
    offset: u64,
    limit: Option<u64>,
) -> Result<Page, StoreError> {
    if let (DbConn::Pg(pg), Some(limit @ 1..)) = (&mut *conn, limit)
        && let Some(page) = page_by_counts_pg(pg, kind, offset, limit)?
    {
        return Ok(page);
    }
    let buckets: Vec<(i64, i64)> = page_counts::table
        .filter(page_counts::kind.eq(kind.as_str()))
        .filter(page_counts::n.gt(0))
        .order(page_counts::bucket)
        .select((page_counts::bucket, page_counts::n))
        .load(conn)?;
    let total: u64 = buckets.iter().map(|(_, n)| (*n).max(0) as u64).sum();
    if limit == Some(0) || offset >= total {
        return Ok(Page { total, more: offset < total, resources: Vec::new() });
    }
    let mut before = 0u64;
    let mut start_seq = 0i64;
    // The shards of one bucket are adjacent in key order: sum them, then step by bucket.
    for (start, n) in buckets
        .chunk_by(|a, b| bucket_start(a.0) == bucket_start(b.0))
        .map(|shards| (bucket_start(shards[0].0), shards.iter().map(|(_, n)| (*n).max(0) as u64).sum::<u64>()))
    {
        if before + n > offset {
            start_seq = start;
            break;
        }
        before += n;
    }
    let sql = format!(
        "SELECT {ROW_COLUMNS} FROM resources r WHERE r.kind = ? AND r.seq >= ? ORDER BY r.seq LIMIT ? OFFSET ?"
    );
    let binds = vec![
        Bind::Text(kind.as_str().into()),
        Bind::Int(start_seq),
        Bind::Int(limit.map_or(i64::MAX, |l| l as i64)),
        Bind::Int((offset - before) as i64),
    ];
    let resources = load_rows(conn, &sql, binds)?;
    Ok(Page { total, more: offset.saturating_add(resources.len() as u64) < total, resources })
}

/// A row of [`page_by_counts_pg`]: a resource and the collection's total.
#[derive(QueryableByName)]
struct CountedRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = BigInt)]
    created: i64,
    #[diesel(sql_type = BigInt)]
    last_modified: i64,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    doc: String,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

impl CountedRow {
    fn into_resource(self) -> Result<StoredResource, StoreError> {
        let CountedRow { seq, kind, id, created, last_modified, version, doc, total: _ } = self;
        ResourceRow { seq, kind, id, created, last_modified, version, doc }.into_resource()
    }
}

/// [`page_by_counts`] on PostgreSQL in one statement (one round trip where it took two),
/// prepared once per connection: the server sums the buckets, finds the one holding the page's
/// first row and reads the page from there. The bucket size (1,024 rows) and the shards per
/// bucket (16) are written out: [`COUNT_SHARDS`] and [`BUCKET_BITS`] are checked against them.
const PG_PAGE_BY_COUNTS: &str = "WITH buckets AS (SELECT bucket / 16 AS b, SUM(n) AS n FROM page_counts \
     WHERE kind = ? AND n > 0 GROUP BY bucket / 16), \
     sums AS (SELECT b, n, SUM(n) OVER (ORDER BY b) - n AS before, SUM(n) OVER () AS total FROM buckets), \
     start AS (SELECT b, before, total FROM sums WHERE before + n > ? ORDER BY b LIMIT 1) \
     SELECT r.seq, r.kind, r.id, r.created, r.last_modified, r.version, r.doc, start.total::BIGINT AS total \
     FROM start CROSS JOIN LATERAL \
     (SELECT * FROM resources r WHERE r.kind = ? AND r.seq >= start.b * 1024 \
      ORDER BY r.seq LIMIT ? OFFSET ? - start.before) r";
const _: () = assert!(COUNT_SHARDS == 16 && BUCKET_BITS == 10, "PG_PAGE_BY_COUNTS spells them out");

/// [`page_by_counts`] on PostgreSQL ([`PG_PAGE_BY_COUNTS`]). `None` when that gives no row (a
/// page past the end, or an empty collection): the caller's two statements then give the total.
fn page_by_counts_pg(
    pg: &mut diesel::PgConnection,
    kind: ResourceKind,
    offset: u64,
    limit: u64,
) -> Result<Option<Page>, StoreError> {
    use crate::store::db::{PgBind, PgStatement};
    let offset_bind = PgBind::Int(offset.min(i64::MAX as u64) as i64);
    let binds = vec![
        PgBind::Text(kind.as_str()),
        offset_bind.clone(),
        PgBind::Text(kind.as_str()),
        PgBind::Int(limit.min(i64::MAX as u64) as i64),
        offset_bind,
    ];
    let rows: Vec<CountedRow> = PgStatement::new(PG_PAGE_BY_COUNTS, binds).load(pg)?;
    let Some(total) = rows.first().map(|r| r.total.max(0) as u64) else {
        return Ok(None);
    };
    let resources = rows.into_iter().map(CountedRow::into_resource).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Page { total, more: offset.saturating_add(resources.len() as u64) < total, resources }))
}
