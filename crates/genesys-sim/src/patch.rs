//! SCIM PATCH for the simulator: apply a `PatchOp` to the SCIM JSON of a user or group, which the
//! SCIM routes then read back like a PUT body (so PATCH and PUT share every validation).
//!
//! Supported (genesys-api-notes §1.6, and what the bridge and Entra send): `add`/`replace`/`remove` (any
//! case) with no path (an object of attributes, extension objects under their URN), an
//! attribute path (`active`, `displayName`, `title`, `externalId`, `members`), a sub-attribute
//! path (`manager.value`), an extension path (`urn:...:enterprise:2.0:User:department`,
//! `urn:...:enterprise:2.0:User` itself), and a value-filter path
//! (`phoneNumbers[type eq "eightbyeight"].value`, `emails[type eq "work"].value`,
//! `members[value eq "id"]`). Paths are read by this crate's own `path` module.
//!
//! Genesys behaviour copied here: the UC phone types and `other` are one field, so a filter
//! `phoneNumbers[type eq "microsoftteams"]` matches the Other Phone whatever type it was written
//! as, and a write through it records the new type. Entra-style `add` on a filter that matches
//! nothing creates the element from the filter's `eq` terms (what Microsoft says a server should
//! do with Entra's `add` of `emails[type eq "work"].value`, genesys-api-notes §1.6 [inferred]).
//! `remove` on `members` with a value list removes only those members (Entra and Okta send that
//! form). A `replace` of a bare multi-valued attribute (`phoneNumbers`) replaces all its values
//! (RFC 7644 §3.5.2.3, genesys-api-notes §11 [inferred]).
//!
//! Strict where no source settles Genesys's behaviour, each with a [`Leniency`] for the other
//! side (genesys-api-notes §8, "Behaviours and their evidence"):
//! * `remove` on a filter that matches nothing: 400 `noTarget` (RFC 7644 §3.5.2.2, §3.12);
//!   lenient `remove-unmatched-filter`. For `members`, a filter or a value list naming someone
//!   who is not a member: the same 400; lenient `remove-absent-member`.
//! * `replace` on a filter that matches nothing: 400 `noTarget` (RFC 7644 §3.5.2.3); lenient
//!   `replace-unmatched-filter-adds` (creates the element, as `add` does).
//! * `add`/`replace` with the value `""`: writes nothing, the old value stays
//!   (genesys-api-notes §11 [community] "empty values won't overwrite existing data"); lenient
//!   `empty-string-clears`. `null` clears (RFC 7643 §2.5: null and unassigned are the same).
//!
//! Must not import: actix (only `server` speaks HTTP), or anything of the bridge.

use serde_json::{Map, Value};

use crate::faults::{Leniency, Lenient};
use crate::path::{self, CompareOp, ValFilter};

use super::store::OTHER_PHONE_TYPES;
use super::wire::ApiError;

/// A PATCH operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Operation {
    pub op: Op,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Read a `ScimV2PatchRequest`: `schemas` required (its content is not checked: a Genesys
/// moderator's working example sent resource URNs, genesys-api-notes §1.2), `Operations` (any case) a
/// non-empty list of `{op, path?, value?}`; `path` required for `remove`.
pub(crate) fn parse_request(body: &Value) -> Result<Vec<Operation>, ApiError> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::bad_request("The PATCH body must be a JSON object"));
    };
    if !matches!(get_ci(obj, "schemas"), Some(Value::Array(_))) {
        return Err(ApiError::bad_request("The PATCH body must have a schemas list"));
    }
    let Some(Value::Array(ops)) = get_ci(obj, "Operations") else {
        return Err(ApiError::bad_request("The PATCH body must have an Operations list"));
    };
    if ops.is_empty() {
        return Err(ApiError::bad_request("The Operations list is empty"));
    }
    ops.iter()
        .map(|o| {
            let Some(o) = o.as_object() else {
                return Err(ApiError::bad_request("Each operation must be a JSON object"));
            };
            let op = match get_ci(o, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
                Some("add") => Op::Add,
                Some("replace") => Op::Replace,
                Some("remove") => Op::Remove,
                other => return Err(ApiError::invalid_value(other.unwrap_or(""), "op", "add, replace, remove")),
            };
            let path = match get_ci(o, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(s.trim().to_string()),
                Some(_) => return Err(ApiError::bad_request("An operation's path must be a string")),
            };
            if op == Op::Remove && path.is_none() {
                return Err(ApiError::bad_request("A remove operation requires a path"));
            }
            let value = get_ci(o, "value").cloned();
            if op != Op::Remove && value.is_none() {
                return Err(ApiError::bad_request(format!("The {} operation requires a value", o_name(op))));
            }
            Ok(Operation { op, path, value })
        })
        .collect()
}

fn o_name(op: Op) -> &'static str {
    match op {
        Op::Add => "add",
        Op::Replace => "replace",
        Op::Remove => "remove",
    }
}

/// Apply `ops` in order to `doc`, whose core schema is `core_urn` and whose extension objects
/// live under the URNs in `extensions`.
pub(crate) fn apply(
    doc: &mut Map<String, Value>,
    ops: &[Operation],
    core_urn: &str,
    extensions: &[&'static str],
    lenient: &Lenient,
) -> Result<(), ApiError> {
    for o in ops {
        apply_one(doc, o, core_urn, extensions, lenient)?;
    }
    Ok(())
}

fn apply_one(
    doc: &mut Map<String, Value>,
    o: &Operation,
    core_urn: &str,
    extensions: &[&'static str],
    lenient: &Lenient,
) -> Result<(), ApiError> {
    let mut value = o.value.clone().unwrap_or(Value::Null);
    if o.op != Op::Remove && !lenient.allows(Leniency::EmptyStringClears) {
        // "" writes nothing (see the module doc): drop it, and the operation if nothing is left.
        if is_empty_string(&value) {
            return Ok(());
        }
        drop_empty_strings(&mut value);
    }
    let Some(path) = &o.path else {
        return apply_object(doc, o.op, value, core_urn, extensions, lenient);
    };
    // A path that is exactly an extension URN targets that extension's object.
    if let Some(urn) = extensions.iter().find(|u| u.eq_ignore_ascii_case(path)) {
        if o.op == Op::Remove {
            remove_ci(doc, urn);
            return Ok(());
        }
        let ext = object_at(doc, urn)?;
        return apply_object(ext, o.op, value, core_urn, &[], lenient);
    }
    let parsed = path::parse(path).map_err(|e| ApiError::bad_request(format!("Invalid path: {e}")))?;
    let path::PatchPath { uri, name, filter, sub } = parsed;
    let container: &mut Map<String, Value> = match uri.as_deref() {
        None => doc,
        Some(u) if u.eq_ignore_ascii_case(core_urn) => doc,
        Some(u) => match extensions.iter().find(|e| e.eq_ignore_ascii_case(u)) {
            Some(urn) => {
                if o.op == Op::Remove && filter.is_none() && get_ci(doc, urn).is_none() {
                    return Ok(());
                }
                object_at(doc, urn)?
            }
            None => return Err(ApiError::bad_request(format!("Invalid path: unknown schema {u}"))),
        },
    };
    match filter {
        None => apply_attr(container, o.op, &name, sub.as_deref(), value, lenient),
        Some(f) => apply_filtered(container, o.op, &name, &f, sub.as_deref(), value, lenient),
    }
}

/// add/replace of an object of attributes (no path, or a path naming an extension).
fn apply_object(
    target: &mut Map<String, Value>,
    op: Op,
    value: Value,
    core_urn: &str,
    extensions: &[&'static str],
    lenient: &Lenient,
) -> Result<(), ApiError> {
    let Value::Object(attrs) = value else {
        return Err(ApiError::bad_request("An operation without a path needs an object value"));
    };
    for (k, v) in attrs {
        if let Some(urn) = extensions.iter().find(|u| u.eq_ignore_ascii_case(&k)) {
            let ext = object_at(target, urn)?;
            apply_object(ext, op, v, core_urn, &[], lenient)?;
        } else if let Some((urn, attr)) = split_urn_attr(&k, extensions) {
            // `"urn:...:enterprise:2.0:User:department": "Sales"` as a key (Entra sends this).
            let ext = object_at(target, urn)?;
            apply_attr(ext, op, attr, None, v, lenient)?;
        } else if k.eq_ignore_ascii_case(core_urn) {
            apply_object(target, op, v, core_urn, extensions, lenient)?;
        } else {
            apply_attr(target, op, &k, None, v, lenient)?;
        }
    }
    Ok(())
}

fn split_urn_attr<'k>(key: &'k str, extensions: &[&'static str]) -> Option<(&'static str, &'k str)> {
    extensions.iter().find_map(|u| {
        let rest = key.get(u.len()..)?;
        (key.len() > u.len() + 1 && key[..u.len()].eq_ignore_ascii_case(u) && rest.starts_with(':'))
            .then(|| (*u, &rest[1..]))
    })
}

/// add/replace/remove on `name` or `name.sub`.
fn apply_attr(
    container: &mut Map<String, Value>,
    op: Op,
    name: &str,
    sub: Option<&str>,
    value: Value,
    lenient: &Lenient,
) -> Result<(), ApiError> {
    let key = key_ci(container, name);
    match sub {
        None => match op {
            Op::Replace => {
                if value.is_null() {
                    container.remove(&key);
                } else {
                    container.insert(key, value);
                }
            }
            Op::Add => match (container.get_mut(&key), value) {
                (_, Value::Null) => {}
                (Some(Value::Array(current)), Value::Array(new)) => {
                    for v in new {
                        if !current.contains(&v) {
                            current.push(v);
                        }
                    }
                }
                (Some(Value::Array(current)), v) => {
                    if !current.contains(&v) {
                        current.push(v);
                    }
                }
                (Some(Value::Object(current)), Value::Object(new)) => current.extend(new),
                (_, v) => {
                    container.insert(key, v);
                }
            },
            Op::Remove => match (container.get_mut(&key), value) {
                // `{"op":"remove","path":"members","value":[{"value":"id"}]}`: only those.
                (current, Value::Array(gone)) if !gone.is_empty() => {
                    let empty = Vec::new();
                    let have = match current {
                        Some(Value::Array(items)) => items,
                        _ => &empty,
                    };
                    let ids: Vec<&Value> = gone.iter().map(|g| g.get("value").unwrap_or(g)).collect();
                    let absent: Vec<String> = ids
                        .iter()
                        .filter(|id| !have.iter().any(|e| e.get("value").unwrap_or(e) == **id))
                        .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_string))
                        .collect();
                    if !absent.is_empty() {
                        no_match(name, &format!("{name} has no value {}", absent.join(", ")), lenient)?;
                    }
                    if let Some(Value::Array(current)) = container.get_mut(&key) {
                        current.retain(|e| !ids.iter().any(|id| *id == e.get("value").unwrap_or(e)));
                    }
                }
                _ => {
                    container.remove(&key);
                }
            },
        },
        Some(sub) => {
            let target = container.get_mut(&key);
            match (op, target) {
                (Op::Remove, Some(Value::Object(obj))) => {
                    let k = key_ci(obj, sub);
                    obj.remove(&k);
                }
                (Op::Remove, Some(Value::Array(items))) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        let k = key_ci(item, sub);
                        item.remove(&k);
                    }
                }
                (Op::Remove, _) => {}
                (_, Some(Value::Object(obj))) => set_sub(obj, sub, value),
                (_, Some(Value::Array(items))) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        set_sub(item, sub, value.clone());
                    }
                }
                (_, _) => {
                    if !value.is_null() {
                        let mut obj = Map::new();
                        obj.insert(sub.to_string(), value);
                        container.insert(key, Value::Object(obj));
                    }
                }
            }
        }
    }
    Ok(())
}

fn set_sub(obj: &mut Map<String, Value>, sub: &str, value: Value) {
    let k = key_ci(obj, sub);
    if value.is_null() {
        obj.remove(&k);
    } else {
        obj.insert(k, value);
    }
}

/// add/replace/remove on `name[filter]` or `name[filter].sub`.
fn apply_filtered(
    container: &mut Map<String, Value>,
    op: Op,
    name: &str,
    filter: &ValFilter,
    sub: Option<&str>,
    value: Value,
    lenient: &Lenient,
) -> Result<(), ApiError> {
    let key = key_ci(container, name);
    let phones = name.eq_ignore_ascii_case("phoneNumbers");
    // The UC type the filter names, written onto the matched Other Phone (see the module doc).
    let written_type = if phones { other_type_in(filter) } else { None };
    let items = match container.get_mut(&key) {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => {
            if op == Op::Remove {
                return no_match(name, &format!("No {name} value matches the filter"), lenient);
            }
            container.insert(key.clone(), Value::Array(Vec::new()));
            match container.get_mut(&key) {
                Some(Value::Array(items)) => items,
                _ => return Err(ApiError::bad_request(format!("Invalid path: {name} is not multi-valued"))),
            }
        }
        Some(_) => return Err(ApiError::bad_request(format!("Invalid path: {name} is not multi-valued"))),
    };
    let matched: Vec<usize> = (0..items.len()).filter(|i| matches(&items[*i], filter, phones)).collect();
    if matched.is_empty() {
        match op {
            Op::Remove => return no_match(name, &format!("No {name} value matches the filter"), lenient),
            Op::Replace if !lenient.allows(Leniency::ReplaceUnmatchedFilterAdds) => {
                return Err(ApiError::no_target(format!(
                    "No {name} value matches the filter of this replace (RFC 7644 §3.5.2.3); use add to create one"
                )));
            }
            Op::Add | Op::Replace => {}
        }
    }
    match op {
        Op::Remove => {
            if let Some(sub) = sub {
                for i in matched {
                    if let Some(obj) = items[i].as_object_mut() {
                        let k = key_ci(obj, sub);
                        obj.remove(&k);
                    }
                }
            } else {
                let mut i = 0;
                items.retain(|_| {
                    let keep = !matched.contains(&i);
                    i += 1;
                    keep
                });
            }
        }
        Op::Add | Op::Replace => {
            if matched.is_empty() {
                let Some(terms) = eq_terms(filter) else {
                    return Err(ApiError::bad_request(format!(
                        "No {name} value matches the filter, and the filter cannot describe a new one"
                    )));
                };
                let mut obj = Map::new();
                for (k, v) in terms {
                    obj.insert(k, v);
                }
                match (sub, value) {
                    (Some(sub), v) => set_sub(&mut obj, sub, v),
                    (None, Value::Object(v)) => obj.extend(v),
                    (None, _) => {
                        return Err(ApiError::bad_request(format!("The value for {name}[...] must be an object")));
                    }
                }
                items.push(Value::Object(obj));
            } else {
                for i in matched {
                    match (sub, &value) {
                        (Some(sub), v) => {
                            if let Some(obj) = items[i].as_object_mut() {
                                set_sub(obj, sub, v.clone());
                            }
                        }
                        (None, Value::Object(v)) => {
                            if op == Op::Replace {
                                items[i] = Value::Object(v.clone());
                            } else if let Some(obj) = items[i].as_object_mut() {
                                obj.extend(v.clone());
                            }
                        }
                        (None, _) => {
                            return Err(ApiError::bad_request(format!("The value for {name}[...] must be an object")));
                        }
                    }
                    if let (Some(t), Some(obj)) = (written_type, items[i].as_object_mut())
                        && !obj.get("type").and_then(Value::as_str).is_some_and(|cur| cur.eq_ignore_ascii_case(t))
                    {
                        obj.insert("type".into(), Value::String(t.to_string()));
                    }
                }
            }
        }
    }
    Ok(())
}

/// A `remove` that found nothing to remove in `name`: 400 `noTarget`, or nothing with the
/// leniency for it (`remove-absent-member` for `members`, else `remove-unmatched-filter`).
fn no_match(name: &str, detail: &str, lenient: &Lenient) -> Result<(), ApiError> {
    let leniency = if name.eq_ignore_ascii_case("members") {
        Leniency::RemoveAbsentMember
    } else {
        Leniency::RemoveUnmatchedFilter
    };
    if lenient.allows(leniency) { Ok(()) } else { Err(ApiError::no_target(detail)) }
}

fn is_empty_string(v: &Value) -> bool {
    matches!(v, Value::String(s) if s.trim().is_empty())
}

/// Drop the members of an object (and of the objects in it) whose value is `""`.
fn drop_empty_strings(v: &mut Value) {
    if let Value::Object(o) = v {
        o.retain(|_, x| !is_empty_string(x));
        for x in o.values_mut() {
            drop_empty_strings(x);
        }
    }
}

/// The Other-Phone type named by `type eq X` in a phone filter, if X is one.
fn other_type_in(filter: &ValFilter) -> Option<&'static str> {
    eq_terms(filter)?.into_iter().find_map(|(k, v)| {
        let t = v.as_str()?;
        (k.eq_ignore_ascii_case("type"))
            .then(|| OTHER_PHONE_TYPES.iter().find(|o| o.eq_ignore_ascii_case(t)).copied())?
    })
}

/// The `attr eq value` terms of a filter made only of them (joined by `and`).
fn eq_terms(filter: &ValFilter) -> Option<Vec<(String, Value)>> {
    match filter {
        ValFilter::Compare(name, CompareOp::Eq, v) => Some(vec![(name.clone(), v.clone())]),
        ValFilter::And(items) => {
            let mut out = Vec::new();
            for f in items.iter() {
                out.extend(eq_terms(f)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// Whether an element of a multi-valued attribute matches a value filter. Strings compare
/// case-insensitively. In `phoneNumbers`, `type eq` any Other-Phone type matches every
/// Other-Phone type.
fn matches(elem: &Value, filter: &ValFilter, phones: bool) -> bool {
    match filter {
        ValFilter::Present(name) => elem.as_object().and_then(|o| get_ci(o, name)).is_some_and(|v| !v.is_null()),
        ValFilter::Compare(name, op, v) => {
            let field = elem.as_object().and_then(|o| get_ci(o, name));
            if phones
                && *op == CompareOp::Eq
                && name.eq_ignore_ascii_case("type")
                && let (Some(Value::String(have)), Value::String(want)) = (field, v)
                && is_other_type(have)
                && is_other_type(want)
            {
                return true;
            }
            compare(field, op, v)
        }
        ValFilter::Not(inner) => !matches(elem, inner, phones),
        ValFilter::And(items) => items.iter().all(|f| matches(elem, f, phones)),
        ValFilter::Or(items) => items.iter().any(|f| matches(elem, f, phones)),
    }
}

fn is_other_type(t: &str) -> bool {
    OTHER_PHONE_TYPES.iter().any(|o| o.eq_ignore_ascii_case(t))
}

fn compare(field: Option<&Value>, op: &CompareOp, want: &Value) -> bool {
    let eq = |f: Option<&Value>| match (f, want) {
        (None | Some(Value::Null), Value::Null) => true,
        (Some(Value::String(a)), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (Some(Value::Bool(a)), Value::Bool(b)) => a == b,
        (Some(Value::String(a)), Value::Bool(b)) => a.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        (Some(Value::Number(a)), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => false,
    };
    let text = |f: Option<&Value>, test: fn(&str, &str) -> bool| match (f, want) {
        (Some(Value::String(a)), Value::String(b)) => test(&a.to_lowercase(), &b.to_lowercase()),
        _ => false,
    };
    match op {
        CompareOp::Eq => eq(field),
        CompareOp::Ne => !eq(field),
        CompareOp::Co => text(field, |a, b| a.contains(b)),
        CompareOp::Sw => text(field, |a, b| a.starts_with(b)),
        CompareOp::Ew => text(field, |a, b| a.ends_with(b)),
        // Ordering comparisons are not needed on the multi-valued attributes Genesys has.
        CompareOp::Gt | CompareOp::Lt | CompareOp::Ge | CompareOp::Le => false,
    }
}

/// A member of `map` by case-insensitive name.
pub(crate) fn get_ci<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    map.get(name).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// The key spelling `map` already uses for `name`, or `name` itself.
fn key_ci(map: &Map<String, Value>, name: &str) -> String {
    if map.contains_key(name) {
        return name.to_string();
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_string())
}

fn remove_ci(map: &mut Map<String, Value>, name: &str) {
    let k = key_ci(map, name);
    map.remove(&k);
}

/// The object under `key` (any case), created (or made an object) if needed.
fn object_at<'m>(map: &'m mut Map<String, Value>, key: &str) -> Result<&'m mut Map<String, Value>, ApiError> {
    let k = key_ci(map, key);
    let slot = map.entry(k).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().ok_or_else(|| ApiError::bad_request(format!("{key} must be an object")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn check(doc: Value, ops: Value, expected: Value) {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        let ops = parse_request(&body).expect("parses");
        let mut doc = doc.as_object().cloned().expect("object");
        apply(&mut doc, &ops, CORE, &[ENT], &Lenient::default()).expect("applies");
        assert_eq!(Value::Object(doc), expected);
    }

    #[test]
    fn uc_filter_matches_the_other_phone_and_records_the_type() {
        check(
            json!({"phoneNumbers": [{"type": "eightbyeight", "value": "+1"}, {"type": "work", "value": "+2"}]}),
            json!([{"op": "replace", "path": "phoneNumbers[type eq \"microsoftteams\"].value", "value": "+3"}]),
            json!({"phoneNumbers": [{"type": "microsoftteams", "value": "+3"}, {"type": "work", "value": "+2"}]}),
        );
        check(
            json!({"phoneNumbers": [{"type": "eightbyeight", "value": "+1"}]}),
            json!([{"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+9"}]),
            json!({"phoneNumbers": [{"type": "eightbyeight", "value": "+9"}]}),
        );
    }

    #[test]
    fn filtered_add_on_nothing_creates_the_element() {
        check(
            json!({"userName": "a"}),
            json!([{"op": "Add", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+1"}]),
            json!({"userName": "a", "phoneNumbers": [{"type": "eightbyeight", "value": "+1"}]}),
        );
        check(
            json!({"emails": [{"type": "work", "value": "a@x"}]}),
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x"}]),
            json!({"emails": [{"type": "work", "value": "b@x"}]}),
        );
    }

    #[test]
    fn extension_paths_and_pathless_replace() {
        check(
            json!({"active": true, ENT: {"division": "Home"}}),
            json!([
                {"op": "replace", "path": format!("{ENT}:department"), "value": "Sales"},
                {"op": "replace", "value": {"active": false, "title": "T", ENT: {"employeeNumber": "7"}}},
                {"op": "replace", "path": ENT, "value": {"division": "East"}},
                {"op": "add", "value": {format!("{ENT}:costCenter"): "C"}},
            ]),
            json!({"active": false, ENT: {"division": "East", "department": "Sales", "employeeNumber": "7", "costCenter": "C"}, "title": "T"}),
        );
        check(
            json!({ENT: {"manager": {"value": "m1"}}}),
            json!([{"op": "replace", "path": format!("{ENT}:manager.value"), "value": "m2"}]),
            json!({ENT: {"manager": {"value": "m2"}}}),
        );
        check(
            json!({"title": "T", "displayName": "D"}),
            json!([{"op": "remove", "path": "title"}, {"op": "replace", "path": "DISPLAYNAME", "value": "E"}]),
            json!({"displayName": "E"}),
        );
    }

    #[test]
    fn member_add_and_remove() {
        check(
            json!({"members": [{"value": "a"}]}),
            json!([{"op": "add", "path": "members", "value": [{"value": "b"}, {"value": "a"}]}]),
            json!({"members": [{"value": "a"}, {"value": "b"}]}),
        );
        check(
            json!({"members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]}),
            json!([{"op": "remove", "path": "members[value eq \"b\"]"}]),
            json!({"members": [{"value": "a"}, {"value": "c"}]}),
        );
        check(
            json!({"members": [{"value": "a"}, {"value": "b"}]}),
            json!([{"op": "remove", "path": "members", "value": [{"value": "a"}]}]),
            json!({"members": [{"value": "b"}]}),
        );
        check(json!({"members": [{"value": "a"}]}), json!([{"op": "remove", "path": "members"}]), json!({}));
    }

    #[test]
    fn bad_requests() {
        for body in [
            json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]}),
            json!({"schemas": [], "Operations": []}),
            json!({"schemas": [], "Operations": [{"op": "move", "path": "title"}]}),
            json!({"schemas": [], "Operations": [{"op": "remove"}]}),
            json!({"schemas": [], "Operations": [{"op": "add", "path": "title"}]}),
        ] {
            assert_eq!(parse_request(&body).map_err(|e| e.status), Err(400), "{body}");
        }
        let ops = parse_request(&json!({"schemas": [], "Operations": [{"op": "add", "path": "a[[", "value": 1}]}))
            .expect("parses");
        let mut doc = Map::new();
        assert_eq!(apply(&mut doc, &ops, CORE, &[ENT], &Lenient::default()).map_err(|e| e.status), Err(400));
    }
}
