//! The one mapping from internal errors to SCIM errors (RFC 7644 §3.12), and their rendering.
//!
//! Caller mistakes keep their detail; our own faults become an opaque 500/503 whose cause is
//! logged once, here, with the request id the client also sees.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::store::StoreError;
use scim::ScimError;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// The `Retry-After` (seconds) of every 503: the database cannot take the write now; an IdP
/// that honours it comes back soon, one that does not retries on its own schedule anyway.
pub const RETRY_AFTER_SECS: u32 = 5;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub ScimError);

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<ScimError> for ApiError {
    fn from(e: ScimError) -> Self {
        ApiError(e)
    }
}

/// The one mapping from the store's errors to SCIM errors (status, `scimType`, detail). The
/// caller's mistakes get a detail it can act on; a database that cannot answer now is a 503 to
/// retry; our own faults are an opaque 500 whose cause is logged here, once.
pub fn scim_error_of(e: StoreError) -> ScimError {
    match e {
        StoreError::NotFound { kind, id } => ScimError::not_found(format!("{} {id} not found", kind.as_str())),
        // The value goes to the client that sent it, never to the log.
        StoreError::Conflict { kind, key, value } => ScimError::uniqueness(format!(
            "{key} '{}' is already taken by another {} ({key} is unique, case-insensitively)",
            value.0,
            kind.as_str().to_lowercase()
        )),
        StoreError::PreconditionFailed { kind, id, expected, actual } => ScimError::precondition_failed(format!(
            "If-Match {expected} does not match the current version {actual} of {} {id}; GET it again and retry",
            kind.as_str()
        )),
        StoreError::TokenExists { name } => ScimError::uniqueness(format!(
            "a token named '{name}' already exists; revoke it first or pick another name"
        )),
        StoreError::TokenNameEmpty => ScimError::invalid_value("a token name must not be empty"),
        StoreError::Invalid(e) => e,
        StoreError::Unavailable(cause) => {
            tracing::warn!(error.cause = %cause, "database unavailable");
            // What is wrong, in words the IdP's operator can pass on; never the cause itself
            // (it may name a path or a host).
            let what = if cause.contains(crate::store::READ_ONLY) {
                "the database is read-only now (an operator has to make it writable)"
            } else if cause.contains(crate::store::FULL) {
                "the database's disk is full (an operator has to free space)"
            } else if cause.contains("connection was lost") {
                "the connection to the database was lost (a restart or failover?)"
            } else if cause.contains("busy") || cause.contains("locked") {
                "the database is busy (another connection holds its write lock)"
            } else {
                "the database is busy or unavailable"
            };
            ScimError::unavailable(format!(
                "{what}; nothing was changed, retry later; reads still work when it answers"
            ))
        }
        StoreError::Internal(cause) => {
            tracing::error!(error.cause = %cause, "internal error");
            ScimError::internal("internal server error; the bridge's log has the cause under this request's id")
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(scim_error_of(e))
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        tracing::error!("blocking task failed");
        ApiError(ScimError::internal("internal server error"))
    }
}

/// Render a SCIM error response.
pub fn error_response(e: &ScimError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = HttpResponse::build(status);
    resp.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE)));
    if e.status == 401 {
        resp.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"scim-bridge\"")));
    }
    if e.status == 503 {
        resp.insert_header((header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS)));
    }
    resp.body(e.to_json().to_string())
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        error_response(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Personal;
    use scim::ScimType;
    use scim::schema::ResourceKind;

    /// The variant's name: the match fails to compile when a variant is added, until the table
    /// below has a row for it.
    fn variant(e: &StoreError) -> &'static str {
        match e {
            StoreError::NotFound { .. } => "NotFound",
            StoreError::Conflict { .. } => "Conflict",
            StoreError::PreconditionFailed { .. } => "PreconditionFailed",
            StoreError::TokenExists { .. } => "TokenExists",
            StoreError::TokenNameEmpty => "TokenNameEmpty",
            StoreError::Invalid(_) => "Invalid",
            StoreError::Unavailable(_) => "Unavailable",
            StoreError::Internal(_) => "Internal",
        }
    }
    const VARIANTS: usize = 8;

    /// A store error, the status and scimType it becomes, what its detail says and hides.
    type Row = (StoreError, u16, Option<ScimType>, &'static [&'static str], &'static [&'static str]);

    /// `e` becomes a SCIM error with this status and scimType whose detail holds each of `says`
    /// and none of `hides`.
    fn check(e: StoreError, status: u16, scim_type: Option<ScimType>, says: &[&str], hides: &[&str]) {
        let shown = format!("{e} {e:?}");
        let got = scim_error_of(e);
        assert_eq!((got.status, got.scim_type), (status, scim_type), "{got:?}");
        for s in says {
            assert!(got.detail.contains(s), "{s:?} missing from {:?}", got.detail);
        }
        for h in hides {
            assert!(!got.detail.contains(h), "{h:?} in {:?}", got.detail);
        }
        assert!(!shown.contains("jane@example.com"), "a log line would hold the userName: {shown}");
    }

    #[test]
    fn every_store_error_maps_to_one_scim_error() {
        let id = || "2819c223-7f76-453a-919d-413861904646".to_string();
        let table: Vec<Row> = vec![
            (StoreError::NotFound { kind: ResourceKind::User, id: id() }, 404, None, &["User 2819c223"], &[]),
            (StoreError::NotFound { kind: ResourceKind::Group, id: id() }, 404, None, &["Group 2819c223"], &[]),
            (
                StoreError::Conflict {
                    kind: ResourceKind::User,
                    key: "userName",
                    value: Personal("jane@example.com".into()),
                },
                409,
                Some(ScimType::Uniqueness),
                &["userName 'jane@example.com' is already taken"],
                &[],
            ),
            (
                StoreError::PreconditionFailed {
                    kind: ResourceKind::Group,
                    id: id(),
                    expected: "W/\"1\"".into(),
                    actual: "W/\"2\"".into(),
                },
                412,
                None,
                &["If-Match W/\"1\"", "current version W/\"2\"", "GET it again"],
                &[],
            ),
            (StoreError::TokenExists { name: "okta".into() }, 409, Some(ScimType::Uniqueness), &["'okta'"], &[]),
            (StoreError::TokenNameEmpty, 400, Some(ScimType::InvalidValue), &["must not be empty"], &[]),
            (StoreError::Invalid(ScimError::uniqueness("taken")), 409, Some(ScimType::Uniqueness), &["taken"], &[]),
            (StoreError::Invalid(ScimError::not_found("gone")), 404, None, &["gone"], &[]),
            (StoreError::Invalid(ScimError::invalid_filter("f")), 400, Some(ScimType::InvalidFilter), &["f"], &[]),
            (StoreError::Unavailable("refused: /var/lib/x.db".into()), 503, None, &["retry later"], &["/var/lib"]),
            (
                StoreError::Unavailable(format!("{}: attempt to write a readonly database", crate::store::READ_ONLY)),
                503,
                None,
                &["read-only", "nothing was changed", "retry later"],
                &["attempt to write"],
            ),
            (
                StoreError::Unavailable(format!("{}: database or disk is full", crate::store::FULL)),
                503,
                None,
                &["disk is full", "retry later"],
                &[],
            ),
            (StoreError::Unavailable("the database is busy: database is locked".into()), 503, None, &["busy"], &[]),
            (StoreError::Internal("secret table detail".into()), 500, None, &["request's id"], &["secret"]),
            (StoreError::corrupt("document of x is not a JSON object"), 500, None, &[], &["document"]),
        ];
        let covered: std::collections::BTreeSet<&str> = table.iter().map(|(e, ..)| variant(e)).collect();
        assert_eq!(covered.len(), VARIANTS, "a variant has no row: {covered:?}");
        for (e, status, scim_type, says, hides) in table {
            check(e, status, scim_type, says, hides);
        }
    }

    #[test]
    fn a_503_says_when_to_come_back() {
        let resp = error_response(&scim_error_of(StoreError::Unavailable("the database is busy".into())));
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("5"));
        let resp = error_response(&ScimError::not_found("x"));
        assert!(resp.headers().get(header::RETRY_AFTER).is_none());
    }
}
