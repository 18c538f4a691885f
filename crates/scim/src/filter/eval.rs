//! Evaluating a filter in memory against a stored document (RFC 7644 §3.4.2.2, with the semantics
//! decided in `mod.rs`): attribute lookup in the canonical document (`docs/architecture.md`), `pr`,
//! and comparisons by schema type (caseExact strings, chronological dateTimes, numbers, lenient
//! booleans); also the lenient readers of booleans and dateTimes that validation, sorting and
//! PATCH share.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AttrExp, AttrPath, CompValue, CompareOp, Filter, ValFilter, exp_path};
use crate::schema::{AttrType, AttributeDef, Namespace, ResourceType, get_ci};

/// Evaluate a filter in memory against a stored resource document (canonical form, see
/// `docs/architecture.md`; keys are still matched case-insensitively for attributes we do not
/// model). Semantics: RFC 7644 §3.4.2.2 and the decisions in the module docs.
pub fn matches(rt: &ResourceType, filter: &Filter, doc: &Map<String, Value>) -> bool {
    match filter {
        Filter::Attr(exp) => eval_exp(exp, &lookup_resource(rt, exp_path(exp), doc)),
        Filter::ValuePath(vp) => {
            let found = lookup_resource(rt, &vp.attr, doc);
            found.values.iter().any(|element| matches_element(found.def, &vp.filter, element))
        }
        Filter::Not(inner) => !matches(rt, inner, doc),
        Filter::And(items) => items.iter().all(|f| matches(rt, f, doc)),
        Filter::Or(items) => items.iter().any(|f| matches(rt, f, doc)),
    }
}

/// Evaluate a value filter (the part inside `attr[...]`) against one element of a multi-valued
/// complex attribute whose definition is `parent` (None when the attribute is not modelled).
/// Used by PATCH value paths and group-member filters. An element that is not an object (a
/// multi-valued simple attribute) is its own `value` sub-attribute.
pub fn matches_element(parent: Option<&AttributeDef>, filter: &ValFilter, element: &Value) -> bool {
    match filter {
        ValFilter::Attr(exp) => eval_exp(exp, &lookup_element(parent, exp_path(exp), element)),
        ValFilter::Not(inner) => !matches_element(parent, inner, element),
        ValFilter::And(items) => items.iter().all(|f| matches_element(parent, f, element)),
        ValFilter::Or(items) => items.iter().any(|f| matches_element(parent, f, element)),
    }
}

/// The values a path reaches (arrays flattened) and the definition they have.
struct Found<'a, 'd> {
    def: Option<&'a AttributeDef>,
    values: Vec<&'d Value>,
}

/// Where `path` lives in `doc`: the attribute's definition (if modelled) and its value.
pub(super) fn locate<'d>(
    rt: &ResourceType,
    path: &AttrPath,
    doc: &'d Map<String, Value>,
) -> (Option<&'static AttributeDef>, Option<&'d Value>) {
    let uri = path.uri.as_deref();
    let resolved = rt.resolve(uri, &path.name, None);
    let container = match (resolved.map(|r| r.namespace), uri) {
        (Some(Namespace::Core), _) | (None, None) => Some(doc),
        (Some(Namespace::Extension(urn)), _) => get_ci(doc, urn).and_then(|(_, v)| v.as_object()),
        (None, Some(u)) if rt.core.id.eq_ignore_ascii_case(u) => Some(doc),
        (None, Some(u)) => get_ci(doc, u).and_then(|(_, v)| v.as_object()),
    };
    let name = resolved.map_or(path.name.as_str(), |r| r.attr.name.as_str());
    let value = container.and_then(|c| get_ci(c, name)).map(|(_, v)| v);
    (resolved.map(|r| r.attr), value)
}

fn lookup_resource<'d>(rt: &ResourceType, path: &AttrPath, doc: &'d Map<String, Value>) -> Found<'static, 'd> {
    let (def, value) = locate(rt, path, doc);
    descend(def, value, path.sub_attr.as_deref())
}

fn lookup_element<'a, 'd>(parent: Option<&'a AttributeDef>, path: &AttrPath, element: &'d Value) -> Found<'a, 'd> {
    let def = parent.and_then(|p| p.sub(&path.name));
    match element {
        Value::Object(obj) => descend(def, get_ci(obj, &path.name).map(|(_, v)| v), path.sub_attr.as_deref()),
        scalar if path.name.eq_ignore_ascii_case("value") && path.sub_attr.is_none() => {
            let def = match parent {
                Some(p) if p.is_complex() => def,
                p => p,
            };
            Found { def, values: vec![scalar] }
        }
        _ => Found { def, values: Vec::new() },
    }
}

/// From an attribute's value, the values of `sub` (or the attribute's own), arrays flattened.
fn descend<'a, 'd>(def: Option<&'a AttributeDef>, value: Option<&'d Value>, sub: Option<&str>) -> Found<'a, 'd> {
    let mut values = Vec::new();
    flatten(value, &mut values);
    let Some(sub) = sub else {
        return Found { def, values };
    };
    let mut subs = Vec::new();
    for v in values {
        if let Value::Object(o) = v {
            flatten(get_ci(o, sub).map(|(_, v)| v), &mut subs);
        }
    }
    Found { def: def.and_then(|d| d.sub(sub)), values: subs }
}

fn flatten<'d>(value: Option<&'d Value>, out: &mut Vec<&'d Value>) {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => items.iter().for_each(|v| flatten(Some(v), out)),
        Some(v) => out.push(v),
    }
}

/// RFC 7644 §3.4.2.2 `pr`: not null, not "", not [], not {} (nor an object of only such values).
fn is_nonempty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_nonempty),
        Value::Object(o) => o.values().any(is_nonempty),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn eval_exp(exp: &AttrExp, found: &Found<'_, '_>) -> bool {
    let present = || found.values.iter().any(|v| is_nonempty(v));
    match exp {
        AttrExp::Present(_) => present(),
        AttrExp::Comparison(_, CompareOp::Eq, CompValue::Null) => !present(),
        AttrExp::Comparison(_, CompareOp::Ne, CompValue::Null) => present(),
        AttrExp::Comparison(_, _, CompValue::Null) => false,
        AttrExp::Comparison(_, CompareOp::Ne, expected) => !any_compares(found, &CompareOp::Eq, expected),
        AttrExp::Comparison(_, op, expected) => any_compares(found, op, expected),
    }
}

/// Whether any value satisfies `op expected`. A complex value (an element of `emails`, or
/// `manager`) compares its `value` sub-attribute (RFC 7644 §3.4.2.2, `emails co "example.com"`).
fn any_compares(found: &Found<'_, '_>, op: &CompareOp, expected: &CompValue) -> bool {
    let value_def = found.def.map(|d| if d.is_complex() { d.sub("value") } else { Some(d) });
    found.values.iter().any(|v| match v {
        Value::Object(o) => {
            let def = value_def.flatten();
            let mut inner = Vec::new();
            flatten(get_ci(o, "value").map(|(_, v)| v), &mut inner);
            inner.iter().any(|v| compare_one(def, op, v, expected))
        }
        v => compare_one(found.def, op, v, expected),
    })
}

/// One attribute value against one comparison value. `ne` and `null` are handled by the caller.
fn compare_one(def: Option<&AttributeDef>, op: &CompareOp, actual: &Value, expected: &CompValue) -> bool {
    let kind = def.map(|d| d.kind);
    match expected {
        CompValue::Null => false,
        CompValue::True | CompValue::False => {
            let want = *expected == CompValue::True;
            *op == CompareOp::Eq && as_bool_lenient(actual) == Some(want)
        }
        CompValue::Number(n) => match actual {
            Value::Number(a) => order_matches(op, compare_numbers(a, n)),
            _ => false,
        },
        CompValue::Str(s) => match actual {
            _ if kind == Some(AttrType::Boolean) => {
                *op == CompareOp::Eq && parse_bool_lenient(s).is_some_and(|b| as_bool_lenient(actual) == Some(b))
            }
            Value::String(a) => {
                let chronological =
                    kind == Some(AttrType::DateTime) && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
                if chronological && let (Some(x), Some(y)) = (parse_datetime(a), parse_datetime(s)) {
                    return order_matches(op, x.cmp(&y));
                }
                compare_strings(op, a, s, def.is_some_and(|d| d.case_exact))
            }
            Value::Bool(b) => *op == CompareOp::Eq && parse_bool_lenient(s) == Some(*b),
            Value::Number(a) => match serde_json::from_str::<Number>(s.trim()) {
                Ok(n) => order_matches(op, compare_numbers(a, &n)),
                Err(_) => false,
            },
            _ => false,
        },
    }
}

fn compare_strings(op: &CompareOp, actual: &str, expected: &str, case_exact: bool) -> bool {
    let (a, e) = if case_exact {
        (actual.to_string(), expected.to_string())
    } else {
        (actual.to_lowercase(), expected.to_lowercase())
    };
    match op {
        CompareOp::Co => a.contains(&e),
        CompareOp::Sw => a.starts_with(&e),
        CompareOp::Ew => a.ends_with(&e),
        op => order_matches(op, a.cmp(&e)),
    }
}

fn order_matches(op: &CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

pub(super) fn compare_numbers(a: &Number, b: &Number) -> Ordering {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x.cmp(&y);
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x.cmp(&y);
    }
    let (x, y) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
    x.partial_cmp(&y).unwrap_or(Ordering::Equal)
}

/// `"true"`/`"false"` in any case, as Entra sends booleans (`docs/idp-notes.md` §4.1 item 2).
pub fn parse_bool_lenient(s: &str) -> Option<bool> {
    match s.trim() {
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A JSON boolean, or a string that [`parse_bool_lenient`] reads as one.
pub fn as_bool_lenient(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => parse_bool_lenient(s),
        _ => None,
    }
}

/// An RFC 3339 timestamp, or an xsd:dateTime without offset (RFC 7643 §2.3.5), read as UTC.
pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let local = time::macros::format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    time::PrimitiveDateTime::parse(s, &local).ok().map(|t| t.assume_utc())
}
