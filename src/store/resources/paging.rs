//! Lists: filters lowered to SQL (`store::query`), sorting, and paging that finds a page's first
//! row from per-block counts, so its cost does not grow with `startIndex`.

use crate::store::db::DbConn;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::{Map, Value, json};

use crate::store::StoreError;
use crate::store::query::{self, Bind, Cond};
use crate::store::schema::{page_counts, resources};
use scim::filter::{self, Filter};
use scim::list::{ListParams, SortOrder};
use scim::schema::{ResourceKind, ResourceType};

use super::*;

pub(super) fn list_in(
    conn: &mut DbConn,
    rt: &ResourceType,
    params: &ListParams,
    filter: Option<&Filter>,
) -> Result<Page, StoreError> {
    let kind = rt.kind;
    let offset = params.start_index.saturating_sub(1);
    let limit = params.count;
    let lowered = filter.map(|f| query::lower(rt, f));
    let exact = lowered.as_ref().is_none_or(|l| l.exact);
    let sql_sort = params.sort_by.as_deref().map(|s| query::sort_column(rt, s));
    let sort_in_memory = matches!(sql_sort, Some(None));

    // Fast path: the whole collection in storage order; the page counts find the start.
    if filter.is_none() && params.sort_by.is_none() {
        return page_by_counts(conn, kind, offset, limit);
    }

    if let (None, Some((col, value))) = (&params.sort_by, filter.and_then(|f| query::single_eq(rt, f))) {
        return page_eq(conn, kind, col, &value, offset, limit);
    }

    let mut cond = Cond { sql: "r.kind = ?".into(), binds: vec![Bind::Text(kind.as_str().into())] };
    if let Some(c) = lowered.and_then(|l| l.cond) {
        cond.sql = format!("{} AND {}", cond.sql, c.sql);
        cond.binds.extend(c.binds);
    }
    let order = match sql_sort {
        Some(Some(col)) => match params.sort_order {
            SortOrder::Ascending => format!("({col} IS NULL), {col}, r.seq"),
            SortOrder::Descending => format!("({col} IS NULL) DESC, {col} DESC, r.seq"),
        },
        _ => "r.seq".to_string(),
    };

    if exact && !sort_in_memory {
        if limit == Some(0) {
            return Ok(Page { total: count(conn, &cond)?, resources: Vec::new() });
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
        return Ok(Page { total, resources });
    }

    // In memory: SQL narrows, `scim::filter` decides; sorting by an attribute without a column
    // happens here too.
    let sql = format!("SELECT {ROW_COLUMNS} FROM resources r WHERE {} ORDER BY {order}", cond.sql);
    let candidates = load_rows(conn, &sql, cond.binds)?;
    let needs_members = kind == ResourceKind::Group && filter.is_some_and(|f| query::mentions(f, "members"));
    let mut matched: Vec<(StoredResource, Map<String, Value>)> = Vec::new();
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
            matched.push((res, full));
        }
    }
    if let (true, Some(sort_by)) = (sort_in_memory, params.sort_by.as_deref()) {
        {
            let def = rt.resolve_text(sort_by).and_then(|t| match t {
                scim::schema::Target::Attribute(r) => Some(r.leaf()),
                scim::schema::Target::Extension(_) => None,
            });
            matched.sort_by(|(ra, a), (rb, b)| {
                let o =
                    filter::compare_for_sort(def, filter::sort_key(rt, sort_by, a), filter::sort_key(rt, sort_by, b));
                let o = match params.sort_order {
                    SortOrder::Ascending => o,
                    SortOrder::Descending => o.reverse(),
                };
                o.then(ra.seq.cmp(&rb.seq))
            });
        }
    }
    let total = matched.len() as u64;
    let take = limit.map_or(usize::MAX, |l| l as usize);
    let resources = matched.into_iter().skip(offset as usize).take(take).map(|(r, _)| r).collect();
    Ok(Page { total, resources })
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
) -> Result<Page, StoreError> {
    let (lim, off) = (limit.map_or(i64::MAX, |l| l as i64), offset as i64);
    macro_rules! page {
        ($column:expr) => {{
            let matching = resources::table.filter(resources::kind.eq(kind.as_str())).filter($column.eq(value));
            let rows: Vec<ResourceRow> =
                matching.select(ROW_SELECT).order(resources::seq).limit(lim).offset(off).load(conn)?;
            let total = match first_page_total(offset, limit, rows.len()) {
                Some(t) => t,
                None => matching.count().get_result::<i64>(conn)?.max(0) as u64,
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
    let resources = rows.into_iter().map(ResourceRow::into_resource).collect::<Result<_, _>>()?;
    Ok(Page { total, resources })
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
    let buckets: Vec<(i64, i64)> = page_counts::table
        .filter(page_counts::kind.eq(kind.as_str()))
        .filter(page_counts::n.gt(0))
        .order(page_counts::bucket)
        .select((page_counts::bucket, page_counts::n))
        .load(conn)?;
    let total: u64 = buckets.iter().map(|(_, n)| (*n).max(0) as u64).sum();
    if limit == Some(0) || offset >= total {
        return Ok(Page { total, resources: Vec::new() });
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
    Ok(Page { total, resources: load_rows(conn, &sql, binds)? })
}
