//! The identity-provider deviations from RFC 7643 that resource bodies may carry, each one
//! small, named function whose doc names the IdP and the evidence (`docs/idp-notes.md` §4.1
//! for Entra ID, §4.2 for Okta, §4.3 for OneLogin). We accept what IdPs send and store strict
//! RFC form. Also here: the `password` Okta sends on create, accepted and discarded.

use serde_json::{Map, Value};

use super::strip_urn_prefix;
use super::values::{is_unassigned, kind_of, sub_names};
use crate::error::ScimError;
use crate::schema::{AttributeDef, Mutability, ResourceType};

/// Entra sends booleans as strings: `"active": "False"` by default and `"primary": "true"` in
/// sub-attribute PATCH values (docs/idp-notes.md §4.1 item 2: Microsoft Learn "Known issues ... SCIM
/// 2.0 protocol compliance"; SimpleIdServer#376). Accepts `true`/`false` in any case, trimmed.
pub(super) fn boolean_from_string(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Entra sends the enterprise `manager` as a plain string holding the manager's id
/// (`"value": "271"` on path `...:manager`; docs/idp-notes.md §4.1 item 7, SCIM-SDK#541 and #686).
/// A string given for a single-valued complex attribute that has a `value` sub-attribute becomes
/// `{"value": "..."}`; an empty string means no value.
pub(super) fn complex_from_value_string(def: &AttributeDef, s: &str) -> Option<Option<Value>> {
    let sub = def.sub("value")?;
    if def.multi_valued {
        return None;
    }
    if s.trim().is_empty() {
        return Some(None);
    }
    let mut obj = Map::new();
    obj.insert(sub.name.clone(), Value::String(s.to_string()));
    Some(Some(Value::Object(obj)))
}

/// Entra's tutorial sends `manager` (single-valued) as a one-element array
/// `[{"$ref": "...", "value": "<id>"}]` (Microsoft Learn "Tutorial: Develop and plan provisioning
/// for a SCIM endpoint", Example 5). One element is unwrapped; more are an error because we
/// cannot choose among them. Only `manager`: any other single-valued attribute sent as an array
/// is refused (`"userName": ["a@example.com"]` is not an IdP's quirk but a client's mistake).
pub(super) fn single_value_from_one_element_array(mut items: Vec<Value>, path: &str) -> Result<Value, ScimError> {
    items.retain(|v| !is_unassigned(v));
    match items.len() {
        0 => Ok(Value::Null),
        1 => Ok(items.remove(0)),
        n => Err(ScimError::invalid_value(format!(
            "{path} is single-valued but {n} values were sent; send one value, not an array"
        ))),
    }
}

/// A multi-valued attribute given one bare value (`"emails": {"value": "a@example.com"}`) is
/// taken as a one-element array. Evidence is thin: hand-written JSON templates such as
/// OneLogin's "SCIM JSON Template" (docs/idp-notes.md §4.3), and PATCH values the patch module
/// passes through; no captured request shows it. The meaning is unambiguous, so we accept it.
/// A bare string for a multi-valued *complex* attribute is still refused: its sub-attribute is
/// not obvious.
pub(super) fn multi_valued_from_single_value(
    def: &AttributeDef,
    value: Value,
    path: &str,
) -> Result<Vec<Value>, ScimError> {
    if def.is_complex() && !value.is_object() {
        return Err(ScimError::invalid_value(format!(
            "{path} must be an array of objects ({}), got {}",
            sub_names(def),
            kind_of(&value)
        )));
    }
    Ok(vec![value])
}

/// Entra sends enterprise attributes as flattened top-level keys,
/// `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "x"` (docs/idp-notes.md
/// §4.1 item 6; limosa-io/laravel-scim-server#34). Returns the extension index and the rest of the
/// key (`department`, or `manager.value`) when `key` starts with a known extension URN and `:`.
pub(super) fn extension_attribute_from_flattened_key<'k>(rt: &ResourceType, key: &'k str) -> Option<(usize, &'k str)> {
    rt.extensions.iter().enumerate().find_map(|(i, e)| strip_urn_prefix(key, &e.schema.id).map(|rest| (i, rest)))
}

/// Entra's tutorial create body (Example 2; docs/idp-notes.md §4.1 item 13) sends enterprise
/// attributes unqualified at the top level (`"department": null, "manager": null`). A top-level
/// name that no core attribute has but exactly one extension defines goes into that extension,
/// as an unqualified PATCH path does (`ResourceType::resolve`).
pub(super) fn unqualified_extension_attribute(rt: &ResourceType, key: &str) -> Option<(usize, &'static AttributeDef)> {
    let mut found = rt.extensions.iter().enumerate().filter_map(|(i, e)| e.schema.attribute(key).map(|a| (i, a)));
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// `password` (the only writeOnly attribute) is accepted and discarded, never stored: the bridge
/// authenticates nobody (users sign in at their IdP), `returned: never` means we could not give it
/// back anyway, and a stored plaintext password (Okta sends one on create, docs/idp-notes.md §4.2
/// item 4) would only be a liability.
pub(super) fn is_discarded(def: &AttributeDef) -> bool {
    def.mutability == Mutability::WriteOnly
}
