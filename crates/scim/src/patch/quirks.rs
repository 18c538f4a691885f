//! The identity-provider quirks PATCH tolerates, where a request departs from RFC 7644 §3.5.2:
//! one named function each, whose doc names the IdP, shows what it sends and cites the evidence
//! (`docs/idp-notes.md` §4.1 for Entra ID, §4.2 for Okta). What the bridge decided to do with
//! them is `docs/idp-notes.md` §5.

use serde_json::{Map, Value};

use super::apply::{canonical_names, remove_attr, slot_mut};
use super::parse::OpKind;
use super::path::AttrName;
use crate::error::ScimError;
use crate::schema::{AttributeDef, get_ci};

/// `op` in any case: Entra ID sends `Add`, `Replace`, `Remove` ("Microsoft Entra ID emits the
/// values of op as Add, Replace, and Remove", Microsoft Learn SCIM tutorial;
/// `docs/idp-notes.md` §4.1 item 1).
pub(super) fn quirk_entra_capitalised_op(s: &str) -> Result<OpKind, ScimError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "add" => Ok(OpKind::Add),
        "remove" => Ok(OpKind::Remove),
        "replace" => Ok(OpKind::Replace),
        _ => Err(ScimError::invalid_syntax(format!("unknown op `{s}`: use add, remove or replace"))),
    }
}

/// Okta's group rename carries the group's own id in a path-less replace:
/// `{"op":"replace","value":{"id":"<group id>","displayName":".."}}`, sent with every
/// membership update (Okta "SCIM 2.0 Protocol Reference", Group Push;
/// `docs/idp-notes.md` §4.2 item 8). `id` is readOnly: the same id is accepted and
/// ignored, a different one is a `mutability` error.
pub(super) fn quirk_okta_own_id(doc: &Map<String, Value>, sent: &Value) -> Result<(), ScimError> {
    match (doc.get("id"), sent) {
        (Some(Value::String(current)), Value::String(s)) if current == s => Ok(()),
        _ => Err(ScimError::mutability("`id` is readOnly")),
    }
}

/// Entra ID sends the enterprise `manager` (a complex attribute) as a plain string:
/// `{"op":"Add","path":"urn:...:enterprise:2.0:User:manager","value":"271"}`
/// (Captain-P-Goldfish/SCIM-SDK#541 and #686; `docs/idp-notes.md` §4.1 item 7).
/// A scalar given for a single-valued complex attribute that has a `value` sub-attribute
/// becomes `{"value": scalar}`.
pub(super) fn quirk_entra_scalar_for_complex(def: Option<&AttributeDef>, value: Value) -> Value {
    match (def, value) {
        (Some(d), v @ (Value::String(_) | Value::Number(_)))
            if d.is_complex() && !d.multi_valued && d.sub("value").is_some() =>
        {
            let mut o = Map::new();
            o.insert("value".to_string(), v);
            Value::Object(o)
        }
        (_, v) => v,
    }
}

/// Entra's older documentation adds the single-valued `manager` as a one-element array:
/// `{"op":"Add","path":"manager","value":[{"$ref":"...","value":"<id>"}]}` (Microsoft Learn SCIM
/// tutorial, Example 5; `docs/idp-notes.md` §4.1 item 7). A one-element array given
/// for a single-valued attribute stands for its element.
pub(super) fn quirk_entra_single_value_in_array(def: Option<&AttributeDef>, value: &Value) -> Value {
    match (def, value) {
        (Some(d), Value::Array(items)) if !d.multi_valued && items.len() == 1 => canonical_names(def, &items[0]),
        (_, v) => canonical_names(def, v),
    }
}

/// Entra ID removes group members with a value list:
/// `{"op":"Remove","path":"members","value":[{"value":"<id>"}]}` (Microsoft Learn "Known issues
/// ... SCIM 2.0 protocol compliance"; `docs/idp-notes.md` §4.1 item 10). Per RFC a
/// remove without filter drops every value; we remove exactly the listed ones (decision §5).
/// For `members` this becomes [`MemberChange::RemoveValues`]; for other multi-valued attributes
/// an element goes when it equals a listed value, or when its `value` sub-attribute equals the
/// listed element's `value` (caseExact as the schema says).
pub(super) fn quirk_remove_listed_values(container: &mut Map<String, Value>, attr: &AttrName, listed: &Value) {
    let listed: Vec<Value> = match listed {
        Value::Array(items) => items.iter().map(|i| canonical_names(attr.def, i)).collect(),
        single => vec![canonical_names(attr.def, single)],
    };
    let value_def = attr.def.and_then(|d| d.sub("value"));
    let case_exact = value_def.is_some_and(|d| d.case_exact);
    let same_value = |a: &Value, b: &Value| match (a, b) {
        (Value::String(x), Value::String(y)) if !case_exact => x.to_lowercase() == y.to_lowercase(),
        (x, y) => x == y,
    };
    let value_of = |v: &Value| -> Option<Value> {
        match v {
            Value::Object(o) => get_ci(o, "value").map(|(_, v)| v.clone()),
            scalar => Some(scalar.clone()),
        }
    };
    let Some(Value::Array(elements)) = slot_mut(container, attr) else {
        return;
    };
    elements.retain(|e| {
        !listed.iter().any(|l| {
            e == l
                || match (value_of(e), value_of(l)) {
                    (Some(a), Some(b)) => same_value(&a, &b),
                    _ => false,
                }
        })
    });
    if elements.is_empty() {
        remove_attr(container, &attr.name);
    }
}
