//! Genesys's SCIM 2.0 server as genesys-api-notes §1 describes it, under `/api/v2/scim/v2` (lower-case
//! segments only): users, groups (no POST/DELETE), `/serviceproviderconfig`, `/resourcetypes`,
//! `/schemas`.
//!
//! This file owns the SCIM routing table ([`route`]), the schema URNs, and what the resources
//! share: lenient booleans and strings, timestamps, versions (`If-Match`, `If-None-Match`). The
//! rest, one concern a file:
//! * `users`: the `/users` handlers (create, read, replace, patch, soft delete, list);
//! * `user_body`: reading a SCIM user body into Genesys's user model, and writing it over a user;
//! * `groups`: the `/groups` handlers (list, read, replace, patch);
//! * `filter`: the list `filter` subset, and the attributes users and groups filter on;
//! * `list`: paging, `attributes`/`excludedAttributes`, the ListResponse, the large-page 429;
//! * `render`: users and groups as Genesys writes them;
//! * `discovery`: `/serviceproviderconfig`, `/resourcetypes`, `/schemas`.
//!
//! Fidelity decisions (the section of docs/genesys-api-notes.md in brackets; each file's header
//! has its own):
//! * Versions (§1.9): `meta.version` is the integer as a string, `ETag: "N"`; `If-Match`
//!   accepts `"N"`, `W/"N"`, `N` and `*`; a mismatch is 409 ScimError (or 400 `invalidVers`, a
//!   fault setting); `If-None-Match` equal to the version is 304.
//! * Errors (§1.12): ErrorBody except the 409s (ScimError).
//! * The user model (§1.3, §1.4, §1.5, §1.11): `user_body`. DELETE (§1.10): `users`. Lists
//!   (§1.7, §1.8): `filter`, `list`, and the handlers that use them.
//!
//! Must not import: actix (the HTTP side is `crate::server`'s), or anything of the bridge.

mod discovery;
mod filter;
mod groups;
mod list;
mod render;
mod user_body;
mod users;

use serde_json::Value;

use super::wire::{Answer, ApiError};
use super::{Ctx, Inner};

pub(crate) use render::render_group;
pub(crate) use users::seed_user;

pub(crate) const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(crate) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub(crate) const GENESYS: &str = "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User";
/// The authority Genesys puts in front of the SCIM `externalId` (genesys-api-notes §1.3; exact string unverified).
const SCIM_AUTHORITY: &str = "x-pc:scimv2:v1";
/// The SCIM base path.
pub(crate) const BASE: &str = "/api/v2/scim/v2";

/// `/api/v2/scim/v2/...`, and the legacy duplicates `/api/v2/scim/...` (genesys-api-notes §1.1):
/// `rest` is the path after `scim`.
pub(crate) fn route(inner: &mut Inner, ctx: &Ctx, method: &str, rest: &[&str]) -> Answer {
    let not_allowed = || Err(ApiError::method_not_allowed(method));
    match (method, rest.strip_prefix(&["v2"]).unwrap_or(rest)) {
        ("GET", ["users"]) => users::list_users(inner, ctx),
        ("POST", ["users"]) => users::create_user(inner, ctx),
        (_, ["users"]) => not_allowed(),
        ("GET", ["users", id]) => users::get_user(inner, ctx, id),
        ("PUT", ["users", id]) => users::replace_user(inner, ctx, id),
        ("PATCH", ["users", id]) => users::patch_user(inner, ctx, id),
        ("DELETE", ["users", id]) => users::delete_user(inner, ctx, id),
        (_, ["users", _]) => not_allowed(),
        ("GET", ["groups"]) => groups::list_groups(inner, ctx),
        // No group creation or deletion in Genesys (genesys-api-notes §1.1).
        (_, ["groups"]) => not_allowed(),
        ("GET", ["groups", id]) => groups::get_group(inner, ctx, id),
        ("PUT", ["groups", id]) => groups::replace_group(inner, ctx, id),
        ("PATCH", ["groups", id]) => groups::patch_group(inner, ctx, id),
        (_, ["groups", _]) => not_allowed(),
        ("GET", ["serviceproviderconfig"]) => discovery::service_provider_config(ctx),
        ("GET", ["resourcetypes"]) => discovery::resource_types(ctx, None),
        ("GET", ["resourcetypes", t]) => discovery::resource_types(ctx, Some(t)),
        ("GET", ["schemas"]) => discovery::schemas(ctx, None),
        ("GET", ["schemas", id]) => discovery::schemas(ctx, Some(id)),
        (_, ["serviceproviderconfig" | "resourcetypes" | "schemas", ..]) => not_allowed(),
        // `/Users` (capitalised), `/Me`, `/Bulk`, ...: not Genesys endpoints.
        _ => Err(ApiError::not_found()),
    }
}

/// A boolean as Genesys reads it: JSON `true`/`false`, or the strings `"true"`/`"false"` in
/// any case (Entra sends `"True"`; Genesys's SCIM API accepts it).
fn lenient_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A string attribute: `null` and `""` are unassigned; numbers and booleans are written as text.
fn opt_string(v: &Value, field: &str) -> Result<Option<String>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(ApiError::invalid_value(&other.to_string(), field, "a string")),
    }
}

/// Timestamps as Genesys writes them: `yyyy-MM-ddTHH:mm:ss.SSSZ`.
pub(crate) fn iso(t: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(time::UtcOffset::UTC).format(&fmt).unwrap_or_default()
}

/// Genesys userNames are e-mail addresses (genesys-api-notes §1.3).
pub(crate) fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !s.chars().any(char::is_whitespace),
        None => false,
    }
}

/// The version in an `If-Match`/`If-None-Match` value: `"3"`, `W/"3"`, `3`; `*` is any.
fn etag_matches(header: &str, version: u64) -> bool {
    header.split(',').any(|tag| {
        let t = tag.trim();
        if t == "*" {
            return true;
        }
        let t = t.strip_prefix("W/").unwrap_or(t);
        t.trim_matches('"').trim() == version.to_string()
    })
}

fn check_if_match(inner: &Inner, ctx: &Ctx, version: u64) -> Result<(), ApiError> {
    match ctx.if_match {
        Some(h) if !etag_matches(h, version) => {
            Err(ApiError::scim_version_mismatch(inner.faults.version_conflict_status))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_accept_the_usual_spellings() {
        for h in ["\"3\"", "W/\"3\"", "3", "*", "\"2\", \"3\""] {
            assert!(etag_matches(h, 3), "{h}");
        }
        assert!(!etag_matches("\"4\"", 3));
    }

    #[test]
    fn emails_are_user_names() {
        assert!(looks_like_email("jane.doe@example.com"));
        for bad in ["jane", "@x", "a@", "a b@x"] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }
}
