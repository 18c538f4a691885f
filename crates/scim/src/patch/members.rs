//! A Group's `members` under PATCH (RFC 7643 §4.2, RFC 7644 §3.5.2): members are rows, not part
//! of the document (`docs/architecture.md`), so an operation on them becomes a [`MemberChange`]
//! for the store. Here: the member objects an add/replace carries, the ids a remove names, and
//! the filters that reduce to ids.

use serde_json::{Map, Value};

use super::parse::OpKind;
use super::path::PatchTarget;
use crate::error::ScimError;
use crate::filter::{AttrExp, CompValue, CompareOp, ValFilter};
use crate::schema::get_ci;

/// What a group PATCH does to the member rows (members are not in the document).
#[derive(Debug, Clone, PartialEq)]
pub enum MemberChange {
    /// Add these members (objects `{value, type?, display?, $ref?}`, names canonical, nulls dropped).
    Add(Vec<Value>),
    RemoveAll,
    /// Remove the members with these `value`s. `members.value` is caseExact false (RFC 7643
    /// §8.7.1), so the store compares them as [`crate::filter::matches_element`] would.
    RemoveValues(Vec<String>),
    /// Remove the members whose row (as a member object) satisfies this value filter.
    RemoveMatching(ValFilter),
    /// Replace all members with these.
    ReplaceAll(Vec<Value>),
}

pub(super) fn member_change(
    op: OpKind,
    target: &PatchTarget,
    value: Option<&Value>,
) -> Result<MemberChange, ScimError> {
    Ok(match op {
        OpKind::Add => MemberChange::Add(member_list(value)?),
        OpKind::Replace => MemberChange::ReplaceAll(member_list(value)?),
        OpKind::Remove => match (&target.filter, value) {
            (Some(f), _) => match member_ids_from_filter(f) {
                Some(ids) => MemberChange::RemoveValues(ids),
                None => MemberChange::RemoveMatching(f.clone()),
            },
            (None, None | Some(Value::Null)) => MemberChange::RemoveAll,
            (None, Some(v)) => MemberChange::RemoveValues(member_ids(v)?),
        },
    })
}

/// Member objects for add/replace: each needs a string `value` (the member's id); names are
/// made canonical and nulls dropped (Entra sends `"$ref": null`). `null` is no members.
pub(super) fn member_list(value: Option<&Value>) -> Result<Vec<Value>, ScimError> {
    let members_def = crate::schema::registry().group.core_attribute("members");
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single) => vec![single],
    };
    items
        .into_iter()
        .map(|item| {
            let Value::Object(o) = item else {
                return Err(bad_member());
            };
            let mut member = Map::new();
            for (k, v) in o.iter().filter(|(_, v)| !v.is_null()) {
                let name = members_def.and_then(|d| d.sub(k)).map_or(k.clone(), |s| s.name.clone());
                member.insert(name, v.clone());
            }
            match member.get("value") {
                Some(Value::String(id)) if !id.trim().is_empty() => Ok(Value::Object(member)),
                _ => Err(bad_member()),
            }
        })
        .collect()
}

fn bad_member() -> ScimError {
    ScimError::invalid_value("each member must be an object with a string `value`: the member's id")
}

/// The ids of a remove-with-value list: member objects or plain id strings.
pub(super) fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(id) => Ok(id.clone()),
            Value::Object(o) => match get_ci(o, "value") {
                Some((_, Value::String(id))) => Ok(id.clone()),
                _ => Err(bad_member()),
            },
            _ => Err(bad_member()),
        })
        .collect()
}

/// `value eq "x"` or `value eq "x" or value eq "y"`: the ids, so the store can delete by key.
fn member_ids_from_filter(filter: &ValFilter) -> Option<Vec<String>> {
    match filter {
        ValFilter::Attr(AttrExp::Comparison(path, CompareOp::Eq, CompValue::Str(id)))
            if path.name.eq_ignore_ascii_case("value") && path.sub_attr.is_none() =>
        {
            Some(vec![id.clone()])
        }
        ValFilter::Or(items) => items.iter().try_fold(Vec::new(), |mut ids, f| {
            ids.extend(member_ids_from_filter(f)?);
            Some(ids)
        }),
        _ => None,
    }
}
