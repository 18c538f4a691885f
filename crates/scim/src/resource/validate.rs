//! The rules on a whole document, checked around its canonicalisation: `schemas` must fit the
//! endpoint (RFC 7644 §3.3), required attributes must be present (RFC 7643 §7, and a Group's
//! `displayName`, RFC 7643 §4.2), immutable ones may not change (RFC 7643 §7, RFC 7644 §3.5.1).

use serde_json::{Map, Value};

use super::starts_with_ci;
use super::values::kind_of;
use crate::error::ScimError;
use crate::schema::{AttributeDef, Mutability, Namespace, ResourceKind, ResourceType, get_ci};

/// `schemas` must be an array of URNs. We are lenient when it is absent or names only URNs we do
/// not know (IdPs always send it, but a missing list does not make the body ambiguous: the
/// endpoint says what it is); we refuse a list that names standard SCIM URNs of which none is
/// ours, such as a Group on `/Users` or a PatchOp sent to PUT, because then the client meant
/// something else.
pub(super) fn check_schemas(rt: &ResourceType, schemas: Option<&Value>) -> Result<(), ScimError> {
    let urns: Vec<&str> = match schemas {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => {
            let mut urns = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => urns.push(s.as_str()),
                    other => {
                        return Err(ScimError::invalid_syntax(format!(
                            "schemas must be an array of schema URN strings, but it holds {}",
                            kind_of(other)
                        )));
                    }
                }
            }
            urns
        }
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must be an array of schema URN strings, got {}",
                kind_of(other)
            )));
        }
    };
    if urns.iter().any(|u| rt.knows_schema(u.trim())) {
        return Ok(());
    }
    let foreign: Vec<&str> = urns.into_iter().filter(|u| starts_with_ci(u.trim(), "urn:ietf:params:scim:")).collect();
    if foreign.is_empty() {
        return Ok(());
    }
    Err(ScimError::invalid_value(format!(
        "schemas lists {} but not {}: {} takes {} resources",
        foreign.join(", "),
        rt.core.id,
        rt.endpoint(),
        rt.id()
    )))
}

/// Required attributes (RFC 7643 §7 `required`), plus a Group's `displayName`: RFC 7643 §4.2
/// calls it REQUIRED in prose although the §8.7.1 schema representation (and our
/// `schemas/group.json`) says `required: false`. We follow the prose: a nameless group cannot be
/// matched by Entra (its default matching attribute, docs/idp-notes.md §4.1 item 14) nor pushed on.
fn is_required(rt: &ResourceType, def: &AttributeDef) -> bool {
    def.required || (rt.kind == ResourceKind::Group && def.name == "displayName")
}

pub(super) fn check_required(rt: &ResourceType, doc: &Map<String, Value>) -> Result<(), ScimError> {
    for def in rt.core.attributes.iter().filter(|d| is_required(rt, d)) {
        check_required_value(doc.get(&def.name), &def.name, rt)?;
    }
    for extension in &rt.extensions {
        let obj = doc.get(&extension.schema.id).and_then(Value::as_object);
        let Some(obj) = obj else {
            if extension.required {
                return Err(ScimError::invalid_value(format!(
                    "the extension {} is required for {} resources",
                    extension.schema.id,
                    rt.id()
                )));
            }
            continue;
        };
        for def in extension.schema.attributes.iter().filter(|d| d.required) {
            check_required_value(obj.get(&def.name), &format!("{}:{}", extension.schema.id, def.name), rt)?;
        }
    }
    Ok(())
}

fn check_required_value(value: Option<&Value>, path: &str, rt: &ResourceType) -> Result<(), ScimError> {
    match value {
        None => {
            Err(ScimError::invalid_value(format!("{path} is required: every {} must have a non-empty {path}", rt.id())))
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(ScimError::invalid_value(format!("{path} must not be empty or blank")))
        }
        Some(_) => Ok(()),
    }
}

/// Immutable attributes (RFC 7643 §7) may be set once; afterwards a replace or patch must leave
/// them as they are (RFC 7644 §3.5.1: "the input value(s) MUST match"), including not removing
/// them. Checked for top-level attributes and the sub-attributes of single-valued complex ones;
/// the immutable sub-attributes of `members` describe each member, not the list, and members are
/// rows anyway.
pub(super) fn check_immutable(
    rt: &ResourceType,
    doc: &Map<String, Value>,
    existing: &Map<String, Value>,
) -> Result<(), ScimError> {
    for (namespace, def) in rt.all_attributes() {
        let (new_obj, old_obj, prefix) = match namespace {
            Namespace::Core => (Some(doc), Some(existing), String::new()),
            Namespace::Extension(urn) => (
                doc.get(urn).and_then(Value::as_object),
                get_ci(existing, urn).and_then(|(_, v)| v.as_object()),
                format!("{urn}:"),
            ),
        };
        let new = new_obj.and_then(|o| o.get(&def.name));
        let Some(old) = old_obj.and_then(|o| get_ci(o, &def.name)).map(|(_, v)| v) else {
            continue;
        };
        if def.mutability == Mutability::Immutable {
            if new != Some(old) {
                return Err(ScimError::mutability(format!(
                    "{prefix}{} is immutable: it was set when the resource was created and cannot be changed or removed",
                    def.name
                )));
            }
            continue;
        }
        if def.is_complex() && !def.multi_valued {
            for sub in def.sub_attributes.iter().filter(|s| s.mutability == Mutability::Immutable) {
                let Some(old_sub) = old.as_object().and_then(|o| get_ci(o, &sub.name)).map(|(_, v)| v) else {
                    continue;
                };
                if new.and_then(Value::as_object).and_then(|o| o.get(&sub.name)) != Some(old_sub) {
                    return Err(ScimError::mutability(format!(
                        "{prefix}{}.{} is immutable: it cannot be changed or removed once set",
                        def.name, sub.name
                    )));
                }
            }
        }
    }
    Ok(())
}
