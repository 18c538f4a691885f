//! The SCIM `/groups` handlers: list, read, replace, patch. Groups have no POST or DELETE
//! (genesys-api-notes §1.1; `super::route` answers 405) and must already exist (§1.11): here they
//! exist only when seeded.
//!
//! Fidelity decisions (the section of docs/genesys-api-notes.md in brackets):
//! * Lists (§1.1, §1.7): `filter` is required (400 without); what it may say is `filter`'s.
//! * Members must be existing, non-deleted users (400 otherwise); duplicates are kept once.
//!   Removing someone who is not a member is 400 `noTarget` unless the leniency
//!   `remove-absent-member` is on (§13 [unknown]; `crate::patch`).
//! * Versions (§1.9): `If-Match` on PUT and PATCH; `If-None-Match` on GET (304).
//!
//! Must not import: actix, or anything of the bridge.

use serde_json::{Map, Value};

use super::filter::{check_group_term, group_matches, parse_filter};
use super::list::{large_page_check, list_body, paging, project};
use super::render::render_group;
use super::{CORE_GROUP, check_if_match, etag_matches, opt_string};
use crate::patch::{self, get_ci};
use crate::store::{SimGroup, Store, UserState};
use crate::wire::{Answer, ApiError, Reply};
use crate::{Ctx, Inner};

fn group_of<'s>(store: &'s Store, id: &str) -> Result<&'s SimGroup, ApiError> {
    store.group(id).ok_or_else(ApiError::not_found)
}

/// `GET /groups`: `filter` is required (genesys-api-notes §1.1).
pub(super) fn list_groups(inner: &mut Inner, ctx: &Ctx) -> Answer {
    let Some(filter) = ctx.query_one("filter").filter(|f| !f.trim().is_empty()) else {
        return Err(ApiError::bad_request(
            "The filter parameter is required, for example filter=displayName eq \"Sales\"",
        ));
    };
    let terms = parse_filter(filter)?;
    for t in &terms {
        check_group_term(t)?;
    }
    let (start, count) = paging(ctx)?;
    large_page_check(inner, ctx, count)?;
    let matching: Vec<&SimGroup> =
        inner.store.groups().iter().filter(|g| terms.iter().all(|t| group_matches(g, t))).collect();
    let resources: Vec<Value> = matching
        .iter()
        .skip(start - 1)
        .take(count)
        .map(|g| project(render_group(g, &ctx.base), ctx, &["id", "meta"]))
        .collect();
    Ok(Reply::scim(200, list_body(matching.len(), start, resources)))
}

/// `GET /groups/{id}`.
pub(super) fn get_group(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let g = group_of(&inner.store, id)?;
    if ctx.if_none_match.is_some_and(|h| etag_matches(h, g.version)) {
        return Ok(Reply::empty(304).etag(g.version));
    }
    Ok(Reply::scim(200, project(render_group(g, &ctx.base), ctx, &["id", "meta"])).etag(g.version))
}

/// Read a group document (PUT body or patched JSON) over `current`.
fn write_group(store: &Store, current: &SimGroup, doc: &Map<String, Value>) -> Result<SimGroup, ApiError> {
    let mut next = current.clone();
    let Some(name) = get_ci(doc, "displayName").map(|v| opt_string(v, "displayName")).transpose()?.flatten() else {
        return Err(ApiError::bad_request("The attribute displayName is required"));
    };
    next.display_name = name;
    next.external_id = get_ci(doc, "externalId").map(|v| opt_string(v, "externalId")).transpose()?.flatten();
    let mut members: Vec<String> = Vec::new();
    match get_ci(doc, "members") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for m in items {
                let id = match m {
                    Value::Object(o) => get_ci(o, "value").and_then(Value::as_str).map(str::to_string),
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                };
                let Some(id) = id else {
                    return Err(ApiError::invalid_value(&m.to_string(), "members", "objects {value: user id}"));
                };
                if !store.user(&id).is_some_and(|u| u.state != UserState::Deleted) {
                    return Err(ApiError::bad_request(format!("The member [{id}] is not an existing user")));
                }
                if !members.contains(&id) {
                    members.push(id);
                }
            }
        }
        Some(other) => return Err(ApiError::invalid_value(&other.to_string(), "members", "a list")),
    }
    next.members = members;
    Ok(next)
}

/// `PUT /groups/{id}`.
pub(super) fn replace_group(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let current = group_of(&inner.store, id)?.clone();
    check_if_match(inner, ctx, current.version)?;
    let body = ctx.json_body(true)?;
    let Some(doc) = body.as_object() else {
        return Err(ApiError::bad_request("The body must be a JSON object"));
    };
    let next = write_group(&inner.store, &current, doc)?;
    inner.store.update_group(next);
    let g = group_of(&inner.store, id)?;
    Ok(Reply::scim(200, render_group(g, &ctx.base)).etag(g.version))
}

/// `PATCH /groups/{id}`: members add/remove, displayName, externalId.
pub(super) fn patch_group(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let current = group_of(&inner.store, id)?.clone();
    check_if_match(inner, ctx, current.version)?;
    let ops = patch::parse_request(&ctx.json_body(true)?)?;
    let Value::Object(mut doc) = render_group(&current, &ctx.base) else {
        return Err(ApiError::injected(500));
    };
    patch::apply(&mut doc, &ops, CORE_GROUP, &[], &inner.faults.lenient)?;
    let next = write_group(&inner.store, &current, &doc)?;
    inner.store.update_group(next);
    let g = group_of(&inner.store, id)?;
    Ok(Reply::scim(200, render_group(g, &ctx.base)).etag(g.version))
}
