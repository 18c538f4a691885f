//! One attribute value made canonical against its definition: sub-attribute names in the
//! schema's spelling, values checked and coerced to their type (RFC 7643 §2.3), at most one
//! `primary` (RFC 7643 §2.4), nulls and empty values dropped (RFC 7643 §2.5); and the wording of
//! value errors.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::quirks::{
    boolean_from_string, complex_from_value_string, is_discarded, multi_valued_from_single_value,
    single_value_from_one_element_array,
};
use crate::error::ScimError;
use crate::schema::{AttrType, AttributeDef, Mutability};

/// Canonicalise one attribute value against its definition.
///
/// Sub-attribute names take their schema spelling (matched case-insensitively); values are
/// checked against the schema type (booleans also from Entra's `"True"`/`"false"`, dateTime as
/// RFC 3339, binary as base64); nulls, empty arrays and empty objects are removed (`Ok(None)`
/// when nothing is left). Unknown sub-attributes of a known complex attribute are kept as sent;
/// readOnly sub-attributes (`manager.displayName`) are ignored, as RFC 7644 §3.5.1 says for
/// readOnly values a client sends. A multi-valued attribute may carry at most one
/// `primary: true` (RFC 7643 §2.4). `path` names the attribute in error details.
/// Most values one multi-valued attribute may hold (a Group's `members` excepted): identity
/// providers send a handful of e-mail addresses or numbers; each indexed value is a row.
pub const MAX_VALUES: usize = 1000;

pub fn canonical_value(def: &AttributeDef, value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    refuse_nul(&value, path)?;
    if !def.multi_valued {
        // An array for a single-valued attribute is refused, even empty (`"active": []` is not
        // "no value"): the one tolerated case is Entra's one-element `manager` array.
        let value = match value {
            Value::Array(items) if def.name.eq_ignore_ascii_case("manager") => {
                single_value_from_one_element_array(items, path)?
            }
            Value::Array(items) => {
                return Err(ScimError::invalid_value(format!(
                    "{path} is single-valued: send one value, not an array ({} element{} sent)",
                    items.len(),
                    if items.len() == 1 { "" } else { "s" }
                )));
            }
            other => other,
        };
        return canonical_single(def, value, path);
    }
    if is_unassigned(&value) {
        return Ok(None);
    }
    let items = match value {
        Value::Array(items) => items,
        other => multi_valued_from_single_value(def, other, path)?,
    };
    if items.len() > MAX_VALUES && !def.name.eq_ignore_ascii_case("members") {
        return Err(ScimError::invalid_value(format!(
            "{path} has {} values; at most {MAX_VALUES} are accepted",
            items.len()
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        if item.is_array() {
            return Err(ScimError::invalid_value(format!(
                "{item_path}: a multi-valued attribute holds values, not nested arrays"
            )));
        }
        if let Some(v) = canonical_single(def, item, &item_path)? {
            out.push(v);
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    check_one_primary(&out, path)?;
    Ok(Some(Value::Array(out)))
}

/// A string holding U+0000 is refused (400 `invalidValue`). JSON allows it (`"\u0000"`), but
/// PostgreSQL cannot store it in a text column (the write would fail as a 500) and SQLite's
/// `length()` and `substr()` stop at it, so a filter lowered to SQL would disagree with the
/// same filter evaluated in memory (found by the property test in
/// `src/store/resources/filter_props.rs`, docs/fuzzing.md).
pub(crate) fn refuse_nul(value: &Value, path: &str) -> Result<(), ScimError> {
    let found = match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => {
            return items.iter().enumerate().try_for_each(|(i, v)| refuse_nul(v, &format!("{path}[{i}]")));
        }
        Value::Object(obj) => return obj.iter().try_for_each(|(k, v)| refuse_nul(v, &format!("{path}.{k}"))),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    };
    if found {
        return Err(ScimError::invalid_value(format!(
            "{path} contains the character U+0000 (NUL), which cannot be stored; remove it"
        )));
    }
    Ok(())
}

/// One value of an attribute (an element, for a multi-valued one).
fn canonical_single(def: &AttributeDef, value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    if is_unassigned(&value) {
        return Ok(None);
    }
    let ok = |v: Value| Ok(Some(v));
    match (def.kind, value) {
        (AttrType::Complex, Value::Object(obj)) => canonical_complex(def, obj, path),
        (AttrType::Complex, Value::String(s)) => match complex_from_value_string(def, &s) {
            Some(v) => Ok(v),
            None => Err(type_error(path, &format!("an object ({})", sub_names(def)), &Value::String(s))),
        },
        (AttrType::Complex, other) => Err(type_error(path, &format!("an object ({})", sub_names(def)), &other)),
        (AttrType::String | AttrType::Reference, Value::String(s)) => ok(Value::String(s)),
        (AttrType::String, other) => Err(type_error(path, "a string", &other)),
        (AttrType::Reference, other) => Err(type_error(path, "a string holding a URI or resource id", &other)),
        (AttrType::Boolean, Value::Bool(b)) => ok(Value::Bool(b)),
        (AttrType::Boolean, Value::String(s)) => match boolean_from_string(&s) {
            Some(b) => ok(Value::Bool(b)),
            None => Err(type_error(path, "a boolean (true or false)", &Value::String(s))),
        },
        (AttrType::Boolean, other) => Err(type_error(path, "a boolean (true or false)", &other)),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => ok(Value::Number(n)),
        (AttrType::Integer, other) => Err(type_error(path, "an integer", &other)),
        (AttrType::Decimal, Value::Number(n)) => ok(Value::Number(n)),
        (AttrType::Decimal, other) => Err(type_error(path, "a number", &other)),
        (AttrType::DateTime, Value::String(s)) if OffsetDateTime::parse(s.trim(), &Rfc3339).is_ok() => {
            ok(Value::String(s))
        }
        (AttrType::DateTime, other) => {
            Err(type_error(path, "an RFC 3339 date-time such as \"2024-05-01T12:00:00Z\"", &other))
        }
        (AttrType::Binary, Value::String(s)) if is_base64(&s) => ok(Value::String(s)),
        (AttrType::Binary, other) => Err(type_error(path, "base64 text (RFC 4648 §4)", &other)),
    }
}

/// Sub-attributes in schema order with schema spelling, then unknown ones as sent.
fn canonical_complex(def: &AttributeDef, obj: Map<String, Value>, path: &str) -> Result<Option<Value>, ScimError> {
    let mut known: Vec<Option<(String, Value)>> = def.sub_attributes.iter().map(|_| None).collect();
    let mut unknown = Map::new();
    for (key, value) in obj {
        let Some(i) = def.sub_attributes.iter().position(|s| s.name.eq_ignore_ascii_case(&key)) else {
            if !is_unassigned(&value) {
                unknown.insert(key, value);
            }
            continue;
        };
        let sub = &def.sub_attributes[i];
        if sub.mutability == Mutability::ReadOnly || is_discarded(sub) {
            continue;
        }
        let sub_path = format!("{path}.{}", sub.name);
        let Some(v) = canonical_value(sub, value, &sub_path)? else {
            continue;
        };
        if let Some((first, _)) = &known[i] {
            return Err(given_twice(&sub_path, first, &key));
        }
        known[i] = Some((key, v));
    }
    let mut out = Map::new();
    for (sub, slot) in def.sub_attributes.iter().zip(known) {
        if let Some((_, v)) = slot {
            out.insert(sub.name.clone(), v);
        }
    }
    out.extend(unknown);
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

/// RFC 7643 §2.4: "The primary attribute value 'true' MUST appear no more than once."
fn check_one_primary(values: &[Value], path: &str) -> Result<(), ScimError> {
    let primaries: Vec<usize> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.get("primary") == Some(&Value::Bool(true)))
        .map(|(i, _)| i)
        .collect();
    if primaries.len() > 1 {
        return Err(ScimError::invalid_value(format!(
            "{path}: {} values have primary: true (at positions {}); at most one may be primary",
            primaries.len(),
            primaries.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

/// RFC 7643 §2.5: null, `[]` and `{}` mean "unassigned".
pub(super) fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Base64 as RFC 7643 §2.3.6 asks (RFC 4648 §4 alphabet). Line breaks and other ASCII whitespace
/// are allowed (certificates are often wrapped); padding may be omitted.
pub(super) fn is_base64(s: &str) -> bool {
    let bytes: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let pad = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &bytes[..bytes.len() - pad];
    if pad > 2 || !body.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/') {
        return false;
    }
    if pad > 0 { bytes.len().is_multiple_of(4) } else { body.len() % 4 != 1 }
}

pub(super) fn sub_names(def: &AttributeDef) -> String {
    let names: Vec<&str> = def.sub_attributes.iter().map(|s| s.name.as_str()).collect();
    format!("sub-attributes {}", names.join(", "))
}

pub(super) fn given_twice(name: &str, a: &str, b: &str) -> ScimError {
    ScimError::invalid_value(format!("{name} is given more than once (as `{a}` and as `{b}`); send it once"))
}

fn type_error(path: &str, expected: &str, got: &Value) -> ScimError {
    ScimError::invalid_value(format!("{path} must be {expected}, got {}", describe(got)))
}

/// The JSON type of a value, for error details.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for an error detail: short scalars are quoted so the sender can find them; longer
/// strings are only named by type (they may be personal data, and details reach logs).
pub(super) fn describe(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().count() <= 24 => format!("the string {v}"),
        Value::Bool(_) | Value::Number(_) => format!("{} ({v})", kind_of(v)),
        other => kind_of(other).to_string(),
    }
}
