//! Genesys's authorization API for roles and grants, on the store's role catalogue and grants
//! (`crate::roles`): `GET /api/v2/authorization/roles`, `GET /api/v2/authorization/roles/{roleId}`,
//! `GET /api/v2/authorization/subjects/{userId}`, and `POST
//! /api/v2/authorization/subjects/{userId}/bulkadd|bulkremove`.
//!
//! Fidelity decisions (docs/genesys-api-notes.md §12, and §8 "Behaviours and their evidence"):
//! * `GET …/roles` answers an `OrganizationRoleEntityListing` of `DomainOrganizationRole`s
//!   (PY-SDK `AuthorizationApi.md`), sorted by name (any case; Genesys's default order is
//!   [unknown]). Filters: `name` (one value), `permission` and `id` (each repeatable or
//!   comma-separated: a role matches one of the values [unknown]); a role must pass every filter
//!   given. `name` matches any
//!   role whose name *contains* the value, any case [unknown], so a client must pick the exact
//!   name out of the page itself; the leniency `exact-role-name` matches the whole name (any
//!   case). `permission` matches the roles whose policies grant it, wildcards included (`admin`
//!   always matches). `pageSize` 1..=500 (default 25; 400 otherwise), `pageNumber` from 1.
//!   `userCount=false` leaves `userCount` out; `sortBy`, `expand`, `defaultRoleId` and the
//!   cursor parameters are not modelled (ignored).
//! * `bulkadd` (`RoleDivisionGrants` `{"grants": [{"roleId", "divisionId"}]}`) is 204 with no
//!   body and adds the grants the user does not hold; one it holds already stays as it is and is
//!   no error [unknown; Genesys's Terraform provider reads the grants first and adds only the
//!   missing ones]. `bulkremove` takes the same body and removes the grants held (others
//!   ignored). Every grant is checked before any is applied: an unknown `roleId` or `divisionId`
//!   is 400 naming it [unknown how Genesys answers]; a body not of that shape is 400.
//! * `subjectType` is optional, `PC_USER` by default (PY-SDK); spelled exactly (the SDKs note that
//!   its format is case-sensitive). `PC_GROUP` and `PC_OAUTH_CLIENT` are Genesys values the
//!   simulator does not model: 400. An unknown or deleted user is 404.
//! * `GET …/subjects/{userId}` answers the `AuthzSubject`: the user's direct grants with their
//!   role, division and `grantMadeAt`, and a `version` that moves with every change of them.
//!
//! Must not import: actix (only `server` speaks HTTP), or anything of the bridge.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::faults::Leniency;
use super::patch::get_ci;
use super::roles::Role;
use super::scim::iso;
use super::store::{SimUser, Store, UserState};
use super::wire::{Answer, ApiError, Reply};
use super::{Ctx, Inner};

/// The largest `pageSize` of `GET /api/v2/authorization/roles`.
const MAX_PAGE_SIZE: usize = 500;

fn role_not_found() -> ApiError {
    ApiError::new(404, "not.found", "Unable to find a role with that roleId")
}

fn subject_not_found() -> ApiError {
    ApiError::new(404, "not.found", "Unable to find a user with that subjectId")
}

/// A role as `DomainOrganizationRole`.
fn render_role(store: &Store, r: &Role, user_count: bool) -> Value {
    let policies: Vec<Value> = r
        .policies
        .iter()
        .map(|p| json!({"domain": p.domain, "entityName": p.entity_name, "actionSet": p.action_set}))
        .collect();
    let mut body = json!({
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "permissions": r.permissions(),
        "permissionPolicies": policies,
        "default": false,
        "base": false,
        "selfUri": format!("/api/v2/authorization/roles/{}", r.id),
    });
    if user_count {
        body["userCount"] = json!(store.user_count(&r.id));
    }
    body
}

/// A positive integer query parameter, or its default.
fn number(ctx: &Ctx, name: &str, default: usize) -> Result<usize, ApiError> {
    match ctx.query_one(name) {
        None => Ok(default),
        Some(v) => v.trim().parse::<usize>().map_err(|_| ApiError::invalid_value(v, name, "a positive integer")),
    }
}

/// `GET /api/v2/authorization/roles`.
pub(crate) fn list_roles(inner: &Inner, ctx: &Ctx) -> Answer {
    let page_size = number(ctx, "pageSize", 25)?;
    if page_size == 0 || page_size > MAX_PAGE_SIZE {
        return Err(ApiError::invalid_value(&page_size.to_string(), "pageSize", "1 to 500"));
    }
    let page_number = number(ctx, "pageNumber", 1)?.max(1);
    let user_count = match ctx.query_one("userCount").map(str::to_ascii_lowercase).as_deref() {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => return Err(ApiError::invalid_value(other, "userCount", "true, false")),
    };
    let exact = inner.faults.lenient.allows(Leniency::ExactRoleName);
    let name = ctx.query_one("name").filter(|n| !n.is_empty()).map(str::to_lowercase);
    let permissions = ctx.query_list("permission");
    let ids = ctx.query_list("id");
    let store = &inner.store;
    let mut matching: Vec<&Role> = store
        .roles()
        .iter()
        .filter(|r| match &name {
            None => true,
            Some(n) if exact => r.name.to_lowercase() == *n,
            Some(n) => r.name.to_lowercase().contains(n.as_str()),
        })
        .filter(|r| permissions.is_empty() || permissions.iter().any(|p| r.grants(p)))
        .filter(|r| ids.is_empty() || ids.contains(&r.id.as_str()))
        .collect();
    matching.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id)));
    let total = matching.len();
    let page_count = total.div_ceil(page_size);
    let entities: Vec<Value> = matching
        .iter()
        .skip((page_number - 1) * page_size)
        .take(page_size)
        .map(|r| render_role(store, r, user_count))
        .collect();
    let uri = |n: usize| format!("/api/v2/authorization/roles?pageSize={page_size}&pageNumber={n}");
    let mut body = json!({
        "entities": entities,
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "pageCount": page_count,
        "firstUri": uri(1),
        "selfUri": uri(page_number),
        "lastUri": uri(page_count.max(1)),
    });
    if page_number < page_count {
        body["nextUri"] = json!(uri(page_number + 1));
    }
    if page_number > 1 {
        body["previousUri"] = json!(uri(page_number - 1));
    }
    Ok(Reply::json(200, body))
}

/// `GET /api/v2/authorization/roles/{roleId}`.
pub(crate) fn get_role(inner: &Inner, id: &str) -> Answer {
    let role = inner.store.role(id).ok_or_else(role_not_found)?;
    Ok(Reply::json(200, render_role(&inner.store, role, true)))
}

/// A live (non-deleted) user as a grant subject, or 404.
fn subject_user<'s>(store: &'s Store, id: &str) -> Result<&'s SimUser, ApiError> {
    store.user(id).filter(|u| u.state != UserState::Deleted).ok_or_else(subject_not_found)
}

/// `GET /api/v2/authorization/subjects/{userId}` (`AuthzSubject`).
pub(crate) fn get_subject(inner: &Inner, id: &str) -> Answer {
    let store = &inner.store;
    let u = subject_user(store, id)?;
    let grants: Vec<Value> = store
        .grants(id)
        .iter()
        .map(|g| {
            let role = store.role(&g.role_id).map_or("", |r| r.name.as_str());
            json!({
                "subjectId": id,
                "division": {
                    "id": g.division_id,
                    "name": store.division_name(&g.division_id),
                    "selfUri": format!("/api/v2/authorization/divisions/{}", g.division_id),
                },
                "role": {
                    "id": g.role_id,
                    "name": role,
                    "selfUri": format!("/api/v2/authorization/roles/{}", g.role_id),
                },
                "grantMadeAt": iso(g.made_at),
            })
        })
        .collect();
    Ok(Reply::json(
        200,
        json!({
            "id": id,
            "name": u.display_name,
            "grants": grants,
            "version": store.grants_version(id),
            "selfUri": format!("/api/v2/authorization/subjects/{id}"),
        }),
    ))
}

/// The checked `subjectType` of a bulk request: absent or `PC_USER`.
fn check_subject_type(ctx: &Ctx) -> Result<(), ApiError> {
    match ctx.query_one("subjectType") {
        None | Some("PC_USER") => Ok(()),
        Some(t @ ("PC_GROUP" | "PC_OAUTH_CLIENT")) => {
            Err(ApiError::bad_request(format!("subjectType {t}: the simulator models grants to users only (PC_USER)")))
        }
        Some(other) => Err(ApiError::invalid_value(other, "subjectType", "PC_GROUP, PC_USER, PC_OAUTH_CLIENT")),
    }
}

/// The (roleId, divisionId) pairs of a `RoleDivisionGrants` body, each naming an existing role
/// and division.
fn read_grants(store: &Store, ctx: &Ctx) -> Result<Vec<(String, String)>, ApiError> {
    let body = ctx.json_body(false)?;
    let Some(o) = body.as_object() else {
        return Err(ApiError::bad_request("The body must be {\"grants\": [{\"roleId\", \"divisionId\"}, ...]}"));
    };
    let Some(Value::Array(items)) = get_ci(o, "grants") else {
        return Err(ApiError::bad_request("grants is required: a list of {\"roleId\", \"divisionId\"}"));
    };
    let mut pairs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| -> Result<String, ApiError> {
            match item.as_object().and_then(|g| get_ci(g, name)) {
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
                Some(other) => {
                    Err(ApiError::invalid_value(&other.to_string(), &format!("grants[{i}].{name}"), "an id"))
                }
                None => Err(ApiError::bad_request(format!("grants[{i}].{name} is required"))),
            }
        };
        let (role_id, division_id) = (field("roleId")?, field("divisionId")?);
        if store.role(&role_id).is_none() {
            return Err(ApiError::bad_request(format!("grants[{i}].roleId: the role {role_id} does not exist")));
        }
        if store.division(&division_id).is_none() {
            return Err(ApiError::bad_request(format!(
                "grants[{i}].divisionId: the division {division_id} does not exist"
            )));
        }
        pairs.push((role_id, division_id));
    }
    Ok(pairs)
}

/// What a bulk request does with its grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bulk {
    Add,
    Remove,
}

/// `POST /api/v2/authorization/subjects/{userId}/bulkadd` and `…/bulkremove`: 204.
pub(crate) fn bulk(inner: &mut Inner, ctx: &Ctx, id: &str, what: Bulk) -> Answer {
    check_subject_type(ctx)?;
    subject_user(&inner.store, id)?;
    let pairs = read_grants(&inner.store, ctx)?;
    let subject = inner.store.subject_mut(id);
    match what {
        Bulk::Add => subject.add(&pairs, OffsetDateTime::now_utc()),
        Bulk::Remove => subject.remove(&pairs),
    };
    Ok(Reply::empty(204))
}
