//! The SCIM `/users` handlers: create, read, replace, patch, soft delete, list.
//!
//! Fidelity decisions (the section of docs/genesys-api-notes.md in brackets):
//! * POST, PUT and a PATCH's result are read alike (`user_body`); a taken userName is 409
//!   ScimError (§1.12). A PUT clears the read-write attributes its body leaves out (RFC 7644
//!   §3.5.1 allows it; unknown for Genesys, §11), unless the leniency `put-keeps-omitted` is on. Versions (§1.9): `If-Match` on PUT, PATCH and DELETE; `If-None-Match` on
//!   GET (304).
//! * DELETE is a soft delete (§1.10): 204; the user leaves its groups and loses its grants
//!   (§16), is hidden from SCIM, and its userName is free again.
//! * Roles (§12, §16): `user_body` decides what a write does to them; they are written once the
//!   user is stored, and a write that deactivates the user leaves it none.
//! * Lists (§1.7, §1.8): no filter lists active users only; a filter lists matching non-deleted
//!   users (the filter subset is `filter`'s; paging and the large-page 429 are `list`'s).
//!
//! Must not import: actix, or anything of the bridge.

use serde_json::{Map, Value};

use super::filter::{check_user_term, parse_filter, user_matches};
use super::list::{large_page_check, list_body, paging, project};
use super::render::render_user;
use super::user_body::{Mode, read_user, record_input_stats, write_roles, write_user};
use super::{BASE, CORE_USER, ENTERPRISE, GENESYS, check_if_match, etag_matches};
use crate::faults::{Leniency, bump};
use crate::patch;
use crate::store::{HOME_DIVISION_ID, SimUser, Store, StoreError, UserState};
use crate::wire::{Answer, ApiError, Reply};
use crate::{Ctx, Inner};

/// A live (non-deleted) user by id, or 404.
fn live_user<'s>(store: &'s Store, id: &str) -> Result<&'s SimUser, ApiError> {
    store.user(id).filter(|u| u.state != UserState::Deleted).ok_or_else(ApiError::not_found)
}

fn user_reply(store: &Store, u: &SimUser, base: &str, status: u16) -> Reply {
    Reply::scim(status, render_user(store, u, base)).etag(u.version)
}

/// Create a user from a SCIM body (POST); the stored user's id.
fn insert_user(inner: &mut Inner, doc: &Map<String, Value>) -> Result<String, ApiError> {
    let input = read_user(doc)?;
    record_input_stats(inner, &input);
    let mut user = SimUser::new(String::new(), String::new(), HOME_DIVISION_ID.to_string());
    let roles = write_user(&mut inner.store, &mut user, input, Mode::Create)?;
    let name = user.user_name.clone();
    if inner.faults.hides(&name) {
        return Err(ApiError::scim_user_name_taken());
    }
    let id = inner.store.insert_user(user).map_err(|_| ApiError::scim_user_name_taken())?.id.clone();
    write_roles(&mut inner.store, &id, None, roles);
    bump(&mut inner.stats.creates_by_user_name, &name);
    Ok(id)
}

/// Create a user from a SCIM body as a seed (`crate::seed`): read as a POST is, but every
/// attribute must be one the simulator keeps (no typo is silently dropped), and nothing is
/// counted in the stats. The stored user's id.
pub(crate) fn seed_user(store: &mut Store, doc: &Map<String, Value>) -> Result<String, ApiError> {
    let input = read_user(doc)?;
    if let Some(name) = input.ignored().first() {
        return Err(ApiError::bad_request(format!("the simulator does not keep the attribute {name}")));
    }
    let mut user = SimUser::new(String::new(), String::new(), HOME_DIVISION_ID.to_string());
    let roles = write_user(store, &mut user, input, Mode::Create)?;
    let id = store.insert_user(user).map_err(|_| ApiError::scim_user_name_taken())?.id.clone();
    write_roles(store, &id, None, roles);
    Ok(id)
}

/// `POST /users`.
pub(super) fn create_user(inner: &mut Inner, ctx: &Ctx) -> Answer {
    let body = ctx.json_body(true)?;
    let Some(doc) = body.as_object() else {
        return Err(ApiError::bad_request("The body must be a JSON object"));
    };
    let id = insert_user(inner, doc)?;
    let created = live_user(&inner.store, &id)?;
    Ok(user_reply(&inner.store, created, &ctx.base, 201).header("location", format!("{}{BASE}/users/{id}", ctx.base)))
}

/// `GET /users/{id}`.
pub(super) fn get_user(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let u = live_user(&inner.store, id)?;
    if ctx.if_none_match.is_some_and(|h| etag_matches(h, u.version)) {
        return Ok(Reply::empty(304).etag(u.version));
    }
    let doc = project(render_user(&inner.store, u, &ctx.base), ctx, &["id", "userName", "active", "meta"]);
    Ok(Reply::scim(200, doc).etag(u.version))
}

/// Write a new state of a user through the store (409 on a userName collision) and count it.
fn commit_user(inner: &mut Inner, next: SimUser) -> Result<(), ApiError> {
    let name = next.user_name.clone();
    match inner.store.update_user(next) {
        Ok(true) => {
            bump(&mut inner.stats.updates_by_user_name, &name);
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(StoreError::UserNameTaken) => Err(ApiError::scim_user_name_taken()),
        Err(StoreError::NoSuchUser) => Err(ApiError::not_found()),
    }
}

/// `PUT /users/{id}`.
pub(super) fn replace_user(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let current = live_user(&inner.store, id)?.clone();
    check_if_match(inner, ctx, current.version)?;
    let body = ctx.json_body(true)?;
    let Some(doc) = body.as_object() else {
        return Err(ApiError::bad_request("The body must be a JSON object"));
    };
    let input = read_user(doc)?;
    record_input_stats(inner, &input);
    let before = current.state;
    let mut next = current;
    let keep_omitted = inner.faults.lenient.allows(Leniency::PutKeepsOmitted);
    let roles = write_user(&mut inner.store, &mut next, input, Mode::Replace { keep_omitted })?;
    commit_user(inner, next)?;
    write_roles(&mut inner.store, id, Some(before), roles);
    let u = live_user(&inner.store, id)?;
    Ok(user_reply(&inner.store, u, &ctx.base, 200))
}

/// `PATCH /users/{id}`: the operations are applied to the user's SCIM JSON, which is then read
/// like a PUT body.
pub(super) fn patch_user(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let current = live_user(&inner.store, id)?.clone();
    check_if_match(inner, ctx, current.version)?;
    let ops = patch::parse_request(&ctx.json_body(true)?)?;
    let Value::Object(mut doc) = render_user(&inner.store, &current, &ctx.base) else {
        return Err(ApiError::injected(500));
    };
    patch::apply(&mut doc, &ops, CORE_USER, &[ENTERPRISE, GENESYS], &inner.faults.lenient)?;
    let input = read_user(&doc)?;
    record_input_stats(inner, &input);
    let before = current.state;
    let mut next = current;
    // The patched document is the whole user: what it lacks was removed.
    let roles = write_user(&mut inner.store, &mut next, input, Mode::Replace { keep_omitted: false })?;
    commit_user(inner, next)?;
    write_roles(&mut inner.store, id, Some(before), roles);
    let u = live_user(&inner.store, id)?;
    Ok(user_reply(&inner.store, u, &ctx.base, 200))
}

/// `DELETE /users/{id}`: soft delete, 204.
pub(super) fn delete_user(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let current = live_user(&inner.store, id)?.clone();
    check_if_match(inner, ctx, current.version)?;
    let name = current.user_name.clone();
    let mut next = current;
    next.state = UserState::Deleted;
    inner.store.update_user(next).map_err(|_| ApiError::not_found())?;
    bump(&mut inner.stats.deletes_by_user_name, &name);
    Ok(Reply::empty(204))
}

/// `GET /users`.
pub(super) fn list_users(inner: &mut Inner, ctx: &Ctx) -> Answer {
    let (start, count) = paging(ctx)?;
    large_page_check(inner, ctx, count)?;
    let filter = match ctx.query_one("filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => Some(parse_filter(f)?),
        None => None,
    };
    if let Some(terms) = &filter {
        for t in terms {
            check_user_term(t)?;
        }
    }
    let store = &inner.store;
    let matching: Vec<&SimUser> = store
        .users()
        .filter(|u| u.state != UserState::Deleted)
        .filter(|u| match &filter {
            None => u.state == UserState::Active,
            Some(terms) => terms.iter().all(|t| user_matches(store, u, t)),
        })
        .collect();
    let always = ["id", "userName", "active", "meta"];
    let resources: Vec<Value> = matching
        .iter()
        .skip(start - 1)
        .take(count)
        .map(|u| project(render_user(store, u, &ctx.base), ctx, &always))
        .collect();
    Ok(Reply::scim(200, list_body(matching.len(), start, resources)))
}
