//! Lowering of SCIM filters and `sortBy` to SQL over the indexed columns.
//!
//! A filter lowers to a condition that is either *exact* (SQL alone decides) or a *superset*
//! (SQL narrows the candidates, `scim::filter::matches` decides in memory). Attributes with a
//! column or a value table: `id`, `userName`, `externalId`, `displayName`, `active`,
//! `meta.created`, `meta.lastModified`, `emails.value`, `phoneNumbers.value`, group
//! `members.value`. Every generated atom is NULL-free (`col IS NOT NULL AND ...`), so `not`
//! keeps its meaning. Values are always bound, never spliced into the SQL text.

use scim::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, ValFilter};

use scim::schema::{Namespace, ResourceKind, ResourceType};

/// A value bound to a `?` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// A SQL boolean expression over `r` (the `resources` row) and its binds, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cond {
    pub sql: String,
    pub binds: Vec<Bind>,
}

impl Cond {
    fn new(sql: impl Into<String>, binds: Vec<Bind>) -> Self {
        Cond { sql: sql.into(), binds }
    }

    /// `(p1 op p2 op …)`. SQLite parses a flat chain into a tree as deep as the chain is long
    /// and refuses one deeper than 1000 (`SQLITE_MAX_EXPR_DEPTH`), which a filter of 1000 `or`s
    /// reaches: longer chains are nested in groups of at most [`JOIN_GROUP`], depth
    /// `JOIN_GROUP × log_JOIN_GROUP(n)`.
    fn join(parts: Vec<Cond>, op: &str) -> Cond {
        if parts.len() <= JOIN_GROUP {
            return Cond::join_flat(parts, op);
        }
        let mut groups = Vec::with_capacity(parts.len().div_ceil(JOIN_GROUP));
        let mut parts = parts.into_iter().peekable();
        while parts.peek().is_some() {
            groups.push(Cond::join_flat(parts.by_ref().take(JOIN_GROUP).collect(), op));
        }
        Cond::join(groups, op)
    }

    fn join_flat(parts: Vec<Cond>, op: &str) -> Cond {
        let mut sql = String::from("(");
        let mut binds = Vec::new();
        for (i, p) in parts.into_iter().enumerate() {
            if i > 0 {
                sql.push_str(op);
            }
            sql.push_str(&p.sql);
            binds.extend(p.binds);
        }
        sql.push(')');
        Cond { sql, binds }
    }
}

/// Most conditions joined flat by one `AND`/`OR` (see [`Cond::join`]).
const JOIN_GROUP: usize = 32;

/// The result of lowering: `cond` None means "no restriction"; `exact` says whether SQL alone
/// gives the answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lowered {
    pub cond: Option<Cond>,
    pub exact: bool,
}

impl Lowered {
    fn exact(c: Cond) -> Self {
        Lowered { cond: Some(c), exact: true }
    }
    fn superset(c: Option<Cond>) -> Self {
        Lowered { cond: c, exact: false }
    }
    fn unknown() -> Self {
        Lowered { cond: None, exact: false }
    }
}

/// What an attribute path maps to in SQL.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Column {
    /// A text column; `folded` when it holds the lower-cased value (caseExact=false).
    Text {
        name: &'static str,
        folded: bool,
    },
    Bool(&'static str),
    /// Milliseconds since the epoch.
    Millis(&'static str),
    /// A row in `resource_values` for this attribute (lower-cased).
    Values(&'static str),
    /// A row in `group_members` (member ids are caseExact).
    Members,
}

fn column(rt: &ResourceType, path: &AttrPath) -> Option<Column> {
    let resolved = rt.resolve(path.uri.as_deref(), &path.name, path.sub_attr.as_deref())?;
    if resolved.namespace != Namespace::Core {
        return None;
    }
    let attr = resolved.attr.name.as_str();
    let sub = resolved.sub.map(|s| s.name.as_str());
    Some(match (rt.kind, attr, sub) {
        (_, "id", None) => Column::Text { name: "r.id", folded: false },
        (_, "externalId", None) => Column::Text { name: "r.external_id", folded: false },
        (_, "displayName", None) => Column::Text { name: "r.display_name", folded: true },
        (ResourceKind::User, "userName", None) => Column::Text { name: "r.user_name", folded: true },
        (ResourceKind::User, "active", None) => Column::Bool("r.active"),
        (_, "meta", Some("created")) => Column::Millis("r.created"),
        (_, "meta", Some("lastModified")) => Column::Millis("r.last_modified"),
        (ResourceKind::User, "emails", Some("value") | None) => Column::Values("emails"),
        (ResourceKind::User, "phoneNumbers", Some("value") | None) => Column::Values("phoneNumbers"),
        (ResourceKind::Group, "members", Some("value") | None) => Column::Members,
        _ => return None,
    })
}

/// Lower a whole filter.
pub(crate) fn lower(rt: &ResourceType, filter: &Filter) -> Lowered {
    match filter {
        Filter::Attr(exp) => lower_exp(rt, exp, None),
        Filter::ValuePath(vp) => lower_value_path(rt, &vp.attr, &vp.filter),
        Filter::Not(inner) => negate(lower(rt, inner)),
        Filter::And(items) => and(items.iter().map(|f| lower(rt, f)).collect()),
        Filter::Or(items) => or(items.iter().map(|f| lower(rt, f)).collect()),
    }
}

fn negate(inner: Lowered) -> Lowered {
    match inner {
        Lowered { cond: Some(c), exact: true } => Lowered::exact(Cond::new(format!("(NOT {})", c.sql), c.binds)),
        // The complement of a superset says nothing.
        _ => Lowered::unknown(),
    }
}

fn and(parts: Vec<Lowered>) -> Lowered {
    let exact = parts.iter().all(|p| p.exact);
    let conds: Vec<Cond> = parts.into_iter().filter_map(|p| p.cond).collect();
    let cond = if conds.is_empty() { None } else { Some(Cond::join(conds, " AND ")) };
    Lowered { cond, exact }
}

fn or(parts: Vec<Lowered>) -> Lowered {
    if parts.iter().any(|p| p.cond.is_none()) {
        return Lowered::unknown();
    }
    let exact = parts.iter().all(|p| p.exact);
    let conds: Vec<Cond> = parts.into_iter().filter_map(|p| p.cond).collect();
    Lowered { cond: Some(Cond::join(conds, " OR ")), exact }
}

/// `attr[inner]`: exact when `inner` only constrains `value`; otherwise the `value` terms of a
/// conjunction still narrow the candidates (Entra's `emails[type eq "work"].value eq "x"`).
fn lower_value_path(rt: &ResourceType, attr: &AttrPath, inner: &ValFilter) -> Lowered {
    let Some(col @ (Column::Values(_) | Column::Members)) = column(rt, attr) else {
        return Lowered::unknown();
    };
    let value_cond = |exp: &AttrExp| -> Option<Cond> {
        let (path, op, val) = match exp {
            AttrExp::Comparison(p, op, v) => (p, Some(op.clone()), Some(v)),
            AttrExp::Present(p) => (p, None, None),
        };
        if path.uri.is_some() || path.sub_attr.is_some() || !path.name.eq_ignore_ascii_case("value") {
            return None;
        }
        element_cond(col, op, val)
    };
    match inner {
        ValFilter::Attr(exp) => match value_cond(exp) {
            Some(c) => Lowered::exact(exists(col, c)),
            None => Lowered::unknown(),
        },
        ValFilter::And(items) => {
            let mut conds = Vec::new();
            let mut exact = true;
            for item in items.iter() {
                match item {
                    ValFilter::Attr(exp) => match value_cond(exp) {
                        Some(c) => conds.push(c),
                        None => exact = false,
                    },
                    _ => exact = false,
                }
            }
            if conds.is_empty() {
                return Lowered::unknown();
            }
            let c = exists(col, Cond::join(conds, " AND "));
            if exact { Lowered::exact(c) } else { Lowered::superset(Some(c)) }
        }
        _ => Lowered::unknown(),
    }
}

/// `r` has an element satisfying `inner`. Written as `seq IN (...)` so that SQLite starts from
/// the value index rather than testing every resource with a correlated subquery.
fn exists(col: Column, inner: Cond) -> Cond {
    match col {
        Column::Values(attr) => {
            let mut binds = vec![Bind::Text(attr.to_string())];
            binds.extend(inner.binds);
            Cond::new(
                format!("r.seq IN (SELECT v.seq FROM resource_values v WHERE v.attr = ? AND {})", inner.sql),
                binds,
            )
        }
        _ => Cond::new(format!("r.seq IN (SELECT v.group_seq FROM group_members v WHERE {})", inner.sql), inner.binds),
    }
}

/// A condition on `v.value` / `v.member_id` for one element.
fn element_cond(col: Column, op: Option<CompareOp>, val: Option<&CompValue>) -> Option<Cond> {
    let (name, folded) = match col {
        Column::Values(_) => ("v.value", true),
        Column::Members => ("v.member_id", false),
        _ => return None,
    };
    match (op, val) {
        (None, None) => Some(Cond::new(format!("{name} <> ''"), vec![])),
        (Some(op), Some(CompValue::Str(s))) => text_cond(name, folded, op, s),
        _ => None,
    }
}

fn lower_exp(rt: &ResourceType, exp: &AttrExp, _: Option<()>) -> Lowered {
    // `ne` is `not (eq)` (see `scim::filter`): true when the attribute is absent, and for a
    // multi-valued attribute when no value is equal.
    if let AttrExp::Comparison(p, CompareOp::Ne, v) = exp
        && !matches!(v, CompValue::Null)
    {
        {
            return negate(lower_exp(rt, &AttrExp::Comparison(p.clone(), CompareOp::Eq, v.clone()), None));
        }
    }
    let path = match exp {
        AttrExp::Present(p) | AttrExp::Comparison(p, _, _) => p,
    };
    let Some(col) = column(rt, path) else {
        return Lowered::unknown();
    };
    let cond = match (col, exp) {
        (Column::Values(_) | Column::Members, AttrExp::Present(p)) => {
            // `emails pr` also holds for an element without a value: only `emails.value pr` is exact.
            if p.sub_attr.is_none() {
                return Lowered::unknown();
            }
            element_cond(col, None, None).map(|c| exists(col, c))
        }
        (Column::Values(_) | Column::Members, AttrExp::Comparison(_, op, v)) => {
            element_cond(col, Some(op.clone()), Some(v)).map(|c| exists(col, c))
        }
        (Column::Text { name, .. }, AttrExp::Present(_)) => {
            Some(Cond::new(format!("({name} IS NOT NULL AND {name} <> '')"), vec![]))
        }
        (Column::Text { name, folded }, AttrExp::Comparison(_, op, CompValue::Str(s))) => {
            text_cond(name, folded, op.clone(), s)
                .map(|c| Cond::new(format!("({name} IS NOT NULL AND {})", c.sql), c.binds))
        }
        (Column::Bool(name), AttrExp::Present(_)) => Some(Cond::new(format!("({name} IS NOT NULL)"), vec![])),
        (Column::Bool(name), AttrExp::Comparison(_, CompareOp::Eq, CompValue::True)) => {
            Some(Cond::new(format!("({name} IS NOT NULL AND {name} = TRUE)"), vec![]))
        }
        (Column::Bool(name), AttrExp::Comparison(_, CompareOp::Eq, CompValue::False)) => {
            Some(Cond::new(format!("({name} IS NOT NULL AND {name} = FALSE)"), vec![]))
        }
        (Column::Bool(name), AttrExp::Comparison(_, CompareOp::Ne, CompValue::True)) => {
            Some(Cond::new(format!("({name} IS NULL OR {name} <> TRUE)"), vec![]))
        }
        (Column::Bool(name), AttrExp::Comparison(_, CompareOp::Ne, CompValue::False)) => {
            Some(Cond::new(format!("({name} IS NULL OR {name} <> FALSE)"), vec![]))
        }
        (Column::Millis(name), AttrExp::Present(_)) => Some(Cond::new(format!("({name} IS NOT NULL)"), vec![])),
        (Column::Millis(name), AttrExp::Comparison(_, op, CompValue::Str(s))) => millis_cond(name, op.clone(), s),
        _ => None,
    };
    match cond {
        Some(c) => Lowered::exact(c),
        None => Lowered::unknown(),
    }
}

/// A string comparison on a column known to be non-NULL. Folded columns compare lower-cased.
/// A value holding U+0000 is left to the in-memory pass: PostgreSQL cannot bind it as text and
/// SQLite's string functions stop at it (stored strings never hold it, `scim::resource`).
fn text_cond(name: &str, folded: bool, op: CompareOp, value: &str) -> Option<Cond> {
    if value.contains('\0') {
        return None;
    }
    let v = if folded { value.to_lowercase() } else { value.to_string() };
    let t = |v: &str| Bind::Text(v.to_string());
    Some(match op {
        CompareOp::Eq => Cond::new(format!("{name} = ?"), vec![t(&v)]),
        // Derived from `eq` by the caller; inside a value path an element without a value
        // would match in memory but has no row here.
        CompareOp::Ne => return None,
        CompareOp::Co if v.is_empty() => Cond::new("TRUE", vec![]),
        CompareOp::Sw if v.is_empty() => Cond::new("TRUE", vec![]),
        CompareOp::Ew if v.is_empty() => Cond::new("TRUE", vec![]),
        CompareOp::Co => Cond::new(format!("instr({name}, ?) > 0"), vec![t(&v)]),
        CompareOp::Sw => Cond::new(
            format!("substr({name}, 1, CAST(? AS INTEGER)) = ?"),
            vec![Bind::Int(v.chars().count() as i64), t(&v)],
        ),
        CompareOp::Ew => {
            let n = v.chars().count() as i64;
            Cond::new(
                format!("(length({name}) >= ? AND substr({name}, CAST(length({name}) - ? + 1 AS INTEGER)) = ?)"),
                vec![Bind::Int(n), Bind::Int(n), t(&v)],
            )
        }
        CompareOp::Gt => Cond::new(format!("{name} > ?"), vec![t(&v)]),
        CompareOp::Ge => Cond::new(format!("{name} >= ?"), vec![t(&v)]),
        CompareOp::Lt => Cond::new(format!("{name} < ?"), vec![t(&v)]),
        CompareOp::Le => Cond::new(format!("{name} <= ?"), vec![t(&v)]),
    })
}

/// A dateTime comparison against a millisecond column. The filter value may carry more
/// precision than the column: the bounds are rounded so that the answer equals comparing the
/// exact instants.
fn millis_cond(name: &str, op: CompareOp, value: &str) -> Option<Cond> {
    let t = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).ok()?;
    let nanos = t.unix_timestamp_nanos();
    let floor = i64::try_from(nanos.div_euclid(1_000_000)).ok()?;
    let whole = nanos.rem_euclid(1_000_000) == 0;
    let ceil = if whole { floor } else { floor + 1 };
    let c = |sql: &str, v: i64| Some(Cond::new(format!("({name} {sql} ?)"), vec![Bind::Int(v)]));
    match op {
        CompareOp::Eq if whole => c("=", floor),
        CompareOp::Eq => Some(Cond::new("FALSE", vec![])),
        CompareOp::Ne => None,
        CompareOp::Gt => c(">", floor),
        CompareOp::Ge => c(">=", ceil),
        CompareOp::Lt => c("<", ceil),
        CompareOp::Le => c("<=", floor),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => None,
    }
}

/// A text column with an index that `attr eq "value"` can be answered from directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EqColumn {
    Id,
    UserName,
    ExternalId,
    DisplayName,
}

/// `attr eq "value"` on one indexed text column: the existence probe every IdP sends before a
/// create (`userName eq "..."`, `externalId eq "..."`). Returns the column and the value as the
/// column stores it (lower-cased for caseExact=false attributes).
pub(crate) fn single_eq(rt: &ResourceType, filter: &Filter) -> Option<(EqColumn, String)> {
    let Filter::Attr(AttrExp::Comparison(path, CompareOp::Eq, CompValue::Str(value))) = filter else {
        return None;
    };
    if value.contains('\0') {
        return None;
    }
    match column(rt, path)? {
        Column::Text { name: "r.id", .. } => Some((EqColumn::Id, value.clone())),
        Column::Text { name: "r.user_name", .. } => Some((EqColumn::UserName, value.to_lowercase())),
        Column::Text { name: "r.external_id", .. } => Some((EqColumn::ExternalId, value.clone())),
        Column::Text { name: "r.display_name", .. } => Some((EqColumn::DisplayName, value.to_lowercase())),
        _ => None,
    }
}

/// A column `sortBy` can order by in SQL, with the type of its values (a keyset cursor binds
/// the last row's value back against it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortColumn {
    Text(&'static str),
    Int(&'static str),
    Bool(&'static str),
}

impl SortColumn {
    pub(crate) fn name(self) -> &'static str {
        match self {
            SortColumn::Text(n) | SortColumn::Int(n) | SortColumn::Bool(n) => n,
        }
    }
}

/// The SQL sort column for `sortBy`, when the attribute has one.
pub(crate) fn sort_column(rt: &ResourceType, sort_by: &str) -> Option<SortColumn> {
    let path = AttrPath::from_text(sort_by)?;
    match column(rt, &path)? {
        Column::Text { name, .. } => Some(SortColumn::Text(name)),
        Column::Millis(name) => Some(SortColumn::Int(name)),
        Column::Bool(name) => Some(SortColumn::Bool(name)),
        _ => None,
    }
}

/// Whether a filter mentions an attribute by this (canonical) name, at any depth.
pub(crate) fn mentions(filter: &Filter, name: &str) -> bool {
    let hit = |p: &AttrPath| p.name.eq_ignore_ascii_case(name);
    match filter {
        Filter::Attr(AttrExp::Present(p) | AttrExp::Comparison(p, _, _)) => hit(p),
        Filter::ValuePath(vp) => hit(&vp.attr),
        Filter::Not(inner) => mentions(inner, name),
        Filter::And(items) | Filter::Or(items) => items.iter().any(|f| mentions(f, name)),
    }
}

trait FromText: Sized {
    fn from_text(s: &str) -> Option<Self>;
}

impl FromText for AttrPath {
    /// Parse `[urn:]name[.sub]` by way of the filter grammar (`<path> pr`).
    fn from_text(s: &str) -> Option<Self> {
        match format!("{s} pr").parse::<Filter>() {
            Ok(Filter::Attr(AttrExp::Present(p))) => Some(p),
            _ => None,
        }
    }
}
