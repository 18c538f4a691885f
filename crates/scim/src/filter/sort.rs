//! Sorting (RFC 7644 §3.4.2.3): the value a resource sorts by for `sortBy`, and the order of two
//! such values by the attribute's schema type (caseExact, dateTime, numbers; nulls last).

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::eval::{as_bool_lenient, compare_numbers, locate, parse_datetime};
use super::parse::parse_attr_path;
use super::resolve_leaf;
use crate::schema::{AttrType, AttributeDef, ResourceType, get_ci};

/// The definition that orders values of `sortBy` path (for [`compare_for_sort`]); None when the
/// path is not modelled (values are then ordered by their JSON type, strings case-insensitively).
pub fn sort_def(rt: &ResourceType, path: &str) -> Option<&'static AttributeDef> {
    let p = parse_attr_path(path).ok()?;
    resolve_leaf(rt, &p)
}

/// Ordering of two attribute values for sortBy (RFC 7644 §3.4.2.3): respects caseExact
/// (case-insensitive ties are `Equal`, left to the caller's tie-break), dateTime chronological,
/// numbers numeric; None (or null) sorts last in ascending order. A complex definition orders
/// by its `value` sub-attribute.
pub fn compare_for_sort(def: Option<&AttributeDef>, a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let def = match def {
        Some(d) if d.is_complex() => d.sub("value"),
        d => d,
    };
    match (a.filter(|v| !v.is_null()), b.filter(|v| !v.is_null())) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => compare_values(def, a, b),
    }
}

fn compare_values(def: Option<&AttributeDef>, a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            if def.is_some_and(|d| d.kind == AttrType::DateTime)
                && let (Some(x), Some(y)) = (parse_datetime(x), parse_datetime(y))
            {
                return x.cmp(&y);
            }
            if def.is_some_and(|d| d.case_exact) { x.cmp(y) } else { x.to_lowercase().cmp(&y.to_lowercase()) }
        }
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// The value a resource sorts by for `sortBy` path (RFC 7644 §3.4.2.3): for a multi-valued
/// attribute, the primary element's value, else the first element's; for a complex value
/// without sub-attribute in the path, its `value` sub-attribute. None when there is no data
/// (or the path does not parse; the caller validates `sortBy` first).
pub fn sort_key<'d>(rt: &ResourceType, path: &str, doc: &'d Map<String, Value>) -> Option<&'d Value> {
    let p = parse_attr_path(path).ok()?;
    let (_, top) = locate(rt, &p, doc);
    let chosen = match top? {
        Value::Array(items) => items.iter().find(|e| is_primary(e)).or_else(|| items.first())?,
        v => v,
    };
    let leaf = match &p.sub_attr {
        Some(sub) => chosen.as_object().and_then(|o| get_ci(o, sub)).map(|(_, v)| v)?,
        None => chosen,
    };
    let leaf = match leaf {
        Value::Object(o) => get_ci(o, "value").map(|(_, v)| v)?,
        Value::Array(items) => items.first()?,
        v => v,
    };
    (!leaf.is_null()).then_some(leaf)
}

/// Whether an element of a multi-valued attribute is marked `primary` (leniently: `"True"`).
pub fn is_primary(element: &Value) -> bool {
    element.as_object().and_then(|o| get_ci(o, "primary")).is_some_and(|(_, v)| as_bool_lenient(v) == Some(true))
}
