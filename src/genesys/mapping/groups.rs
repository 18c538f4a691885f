//! The group membership PATCH for Genesys's SCIM groups (genesys-api-notes §1.1, §1.11).

use serde_json::{Map, Value};

use scim::schema::get_ci;

use super::*;
use crate::genesys::api::ApiRequest;
use crate::genesys::api::wire::{PatchOperation, PatchRequest, ScimReference, to_json};

/// How a group's members change, in Genesys user ids (the caller resolves bridge ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipUpdate<'a> {
    /// These are all the members: replaces Genesys's member list (members added in Genesys by
    /// hand are removed).
    Replace(&'a [String]),
    /// Remove these, then add these; other members are left alone.
    Delta { add: &'a [String], remove: &'a [String] },
}

/// What the caller sends for a group: find it with `GET /api/v2/scim/v2/groups?filter=` +
/// `lookup_filter` (Genesys groups are not created by SCIM and are matched by name), then
/// `PATCH /api/v2/scim/v2/groups/{id}` with `patch` (None: nothing to send).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRequest {
    pub lookup_filter: String,
    pub patch: Option<Value>,
}

/// `displayName eq "<name>"`, the name as a JSON string (quotes and backslashes escaped): the
/// filter of [`ApiRequest::scim_group_by_display_name`].
pub fn group_lookup_filter(display_name: &str) -> String {
    ApiRequest::display_name_filter(display_name)
}

/// The lookup filter and the members PATCH for a stored group (only its `displayName` is read).
/// Removes are `members[value eq "<id>"]` (RFC 7644 §3.5.2.2); adds are one `add` of
/// `[{"value": id}]`, the form Entra sends (docs/idp-notes.md §4.1 item 10). Duplicate ids are
/// sent once.
pub fn map_group_membership(
    group: &Map<String, Value>,
    update: MembershipUpdate<'_>,
) -> Result<GroupRequest, MappingError> {
    let fail = |kind| MappingError {
        subject: Subject::Group(get_ci(group, "id").and_then(|(_, v)| v.as_str()).map(str::to_string)),
        kind,
    };
    let name =
        text(group, "displayName").map_err(fail)?.ok_or_else(|| fail(MappingErrorKind::GroupWithoutDisplayName))?;
    let members = |ids: &[String]| {
        let refs: Vec<ScimReference> =
            unique(ids).into_iter().map(|id| ScimReference { value: id.to_string() }).collect();
        to_json(&refs)
    };
    let ops = match update {
        MembershipUpdate::Replace(ids) => vec![PatchOperation::replace("members", members(ids))],
        MembershipUpdate::Delta { add, remove } => {
            let mut ops: Vec<PatchOperation> = unique(remove)
                .into_iter()
                .map(|id| PatchOperation::remove(format!("members[value eq {}]", Value::String(id.to_string()))))
                .collect();
            if !add.is_empty() {
                ops.push(PatchOperation::add("members", members(add)));
            }
            ops
        }
    };
    let patch = (!ops.is_empty()).then(|| to_json(&PatchRequest::new(ops)));
    Ok(GroupRequest { lookup_filter: group_lookup_filter(&name), patch })
}

pub(super) fn unique(ids: &[String]) -> Vec<&str> {
    let mut seen: Vec<&str> = Vec::with_capacity(ids.len());
    for id in ids {
        if !seen.contains(&id.as_str()) {
            seen.push(id);
        }
    }
    seen
}
