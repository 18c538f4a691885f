//! Genesys's Platform group API on the same groups as SCIM (genesys-api-notes §13; OWNERSHIP-FACTS
//! §3 "Platform alternative"): `GET /api/v2/groups/{id}`, `GET /api/v2/groups/{id}/individuals`,
//! `POST /api/v2/groups/{id}/members` and `DELETE /api/v2/groups/{id}/members?ids=`. A group's
//! `version` is the one SCIM shows as `meta.version`.
//!
//! Fidelity decisions (the section of docs/genesys-api-notes.md in brackets):
//! * `POST …/members` takes `GroupMembersUpdate` `{"memberIds": [at most 50 ids], "version":
//!   <the group's current version>}`; both are required (400 without); a stale version is 409
//!   `general.conflict` "Resource conflict - Unexpected version was provided" (or 400 when the
//!   fault setting `version_conflict_status` is 400); success is 202 with no body (§13, PY-SDK
//!   `GroupsApi.md`, JF). Adding someone who is already a member changes nothing [unknown].
//! * `DELETE …/members?ids=a,b` (at most 50, no version) is 202 (§13). Removing someone who is not
//!   a member: [unknown]; strict 400 `bad.request` naming the ids, nothing removed; with the
//!   leniency `remove-absent-member`, the members among them are removed and the rest ignored.
//! * Ids that are not existing, non-deleted users are 400 naming them [unknown how Genesys
//!   answers].
//! * 202 means the change is asynchronous in Genesys [inferred]; the simulator applies it at once.
//!
//! Must not import: actix (only `server` speaks HTTP), or anything of the bridge.

use serde_json::{Value, json};

use super::faults::Leniency;
use super::patch::get_ci;
use super::platform::render_user;
use super::scim::iso;
use super::store::{SimGroup, UserState};
use super::wire::{Answer, ApiError, Reply};
use super::{Ctx, Inner};

/// At most this many ids per members request (PY-SDK `GroupMembersUpdate.md`, `GroupsApi.md`).
const MAX_IDS: usize = 50;

fn group_not_found() -> ApiError {
    ApiError::new(404, "general.resource.not.found", "Unable to find a group with that groupId")
}

fn group_of<'s>(inner: &'s Inner, id: &str) -> Result<&'s SimGroup, ApiError> {
    inner.store.group(id).ok_or_else(group_not_found)
}

/// A group as the Platform `Group` model (the fields the simulator has).
fn render_group(g: &SimGroup) -> Value {
    json!({
        "id": g.id,
        "name": g.display_name,
        "dateModified": iso(g.modified),
        "memberCount": g.members.len(),
        "state": "active",
        "version": g.version,
        "type": "official",
        "rulesVisible": true,
        "visibility": "public",
        "rolesEnabled": true,
        "selfUri": format!("/api/v2/groups/{}", g.id),
    })
}

/// `GET /api/v2/groups/{id}`.
pub(crate) fn get_group(inner: &Inner, id: &str) -> Answer {
    Ok(Reply::json(200, render_group(group_of(inner, id)?)))
}

/// `GET /api/v2/groups/{id}/individuals`: the members as a `UserEntityListing` (one page).
pub(crate) fn list_individuals(inner: &Inner, id: &str) -> Answer {
    let g = group_of(inner, id)?;
    let entities: Vec<Value> =
        g.members.iter().filter_map(|m| inner.store.user(m)).map(|u| render_user(&inner.store, u)).collect();
    let total = entities.len();
    let uri = format!("/api/v2/groups/{id}/individuals?pageSize={}&pageNumber=1", total.max(25));
    Ok(Reply::json(
        200,
        json!({
            "entities": entities,
            "pageSize": total.max(25),
            "pageNumber": 1,
            "total": total,
            "pageCount": 1,
            "firstUri": uri,
            "selfUri": uri,
            "lastUri": uri,
        }),
    ))
}

/// The ids of a request, checked: 1 to 50, each an existing, non-deleted user.
fn checked_ids(inner: &Inner, ids: Vec<String>, field: &str) -> Result<Vec<String>, ApiError> {
    if ids.is_empty() {
        return Err(ApiError::bad_request(format!("{field} must name at least one user id")));
    }
    if ids.len() > MAX_IDS {
        return Err(ApiError::bad_request(format!("{field}: at most {MAX_IDS} ids are allowed, not {}", ids.len())));
    }
    let unknown: Vec<&str> = ids
        .iter()
        .filter(|id| !inner.store.user(id).is_some_and(|u| u.state != UserState::Deleted))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(format!("No user with the id(s) {}", unknown.join(", "))));
    }
    let mut unique: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    Ok(unique)
}

/// `POST /api/v2/groups/{id}/members` `{"memberIds": [...], "version": N}` → 202.
pub(crate) fn add_members(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let current = group_of(inner, id)?.clone();
    let Value::Object(o) = ctx.json_body(false)? else {
        return Err(ApiError::bad_request("The body must be a JSON object {memberIds, version}"));
    };
    let ids = match get_ci(&o, "memberIds") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::invalid_value(&v.to_string(), "memberIds", "user ids"))
            })
            .collect::<Result<Vec<String>, ApiError>>()?,
        Some(other) => return Err(ApiError::invalid_value(&other.to_string(), "memberIds", "a list of user ids")),
        None => return Err(ApiError::bad_request("memberIds is required")),
    };
    let version = match get_ci(&o, "version") {
        Some(Value::Number(n)) => {
            n.as_u64().ok_or_else(|| ApiError::invalid_value(&n.to_string(), "version", "an integer"))?
        }
        Some(Value::Null) | None => {
            return Err(ApiError::bad_request(
                "version is required: the group's current version, from a GET on the group",
            ));
        }
        Some(other) => return Err(ApiError::invalid_value(&other.to_string(), "version", "an integer")),
    };
    if version != current.version {
        let message = "Resource conflict - Unexpected version was provided";
        return Err(if inner.faults.version_conflict_status == 400 {
            ApiError::bad_request(format!("{message}: the version does not match the current version"))
        } else {
            ApiError::conflict(message)
        });
    }
    let ids = checked_ids(inner, ids, "memberIds")?;
    let mut next = current;
    for m in ids {
        if !next.members.contains(&m) {
            next.members.push(m);
        }
    }
    inner.store.update_group(next);
    Ok(Reply::empty(202))
}

/// `DELETE /api/v2/groups/{id}/members?ids=a,b` → 202.
pub(crate) fn remove_members(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let current = group_of(inner, id)?.clone();
    let ids: Vec<String> = ctx.query_list("ids").into_iter().map(str::to_string).collect();
    if ids.is_empty() {
        return Err(ApiError::bad_request("The ids parameter is required: the user ids to remove, comma-separated"));
    }
    if ids.len() > MAX_IDS {
        return Err(ApiError::bad_request(format!("ids: at most {MAX_IDS} ids are allowed, not {}", ids.len())));
    }
    let absent: Vec<&str> = ids.iter().filter(|m| !current.members.contains(m)).map(String::as_str).collect();
    if !absent.is_empty() && !inner.faults.lenient.allows(Leniency::RemoveAbsentMember) {
        return Err(ApiError::bad_request(format!(
            "The user(s) {} are not members of the group {}",
            absent.join(", "),
            current.display_name
        )));
    }
    let mut next = current;
    next.members.retain(|m| !ids.contains(m));
    inner.store.update_group(next);
    Ok(Reply::empty(202))
}
