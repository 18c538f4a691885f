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

/// Map a storage error: protocol errors pass through; database trouble is ours.
pub fn scim_error_of(e: StoreError) -> ScimError {
    match e {
        StoreError::Scim(e) => e,
        StoreError::Connection(cause) => {
            tracing::error!(error.cause = %cause, "database unavailable");
            ScimError::unavailable("the database is unavailable; retry later")
        }
        StoreError::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            info,
        )) if info.message().contains("locked") || info.message().contains("busy") => {
            tracing::warn!(error.cause = %info.message(), "database busy");
            ScimError::unavailable("the database is busy; retry later")
        }
        other => {
            tracing::error!(error.cause = %other, "internal error");
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
    use scim::ScimType;

    fn check(e: StoreError, status: u16, scim_type: Option<ScimType>) {
        let got = scim_error_of(e);
        assert_eq!((got.status, got.scim_type), (status, scim_type), "{got:?}");
    }

    #[test]
    fn store_errors_map_to_scim_errors() {
        check(StoreError::Scim(ScimError::uniqueness("taken")), 409, Some(ScimType::Uniqueness));
        check(StoreError::Scim(ScimError::not_found("gone")), 404, None);
        check(StoreError::Scim(ScimError::precondition_failed("v")), 412, None);
        check(StoreError::Scim(ScimError::invalid_filter("f")), 400, Some(ScimType::InvalidFilter));
        check(StoreError::Connection("refused".into()), 503, None);
        check(StoreError::Database(diesel::result::Error::NotFound), 500, None);
        check(StoreError::Corrupt("x".into()), 500, None);
        check(StoreError::Migration("x".into()), 500, None);
    }

    #[test]
    fn internal_detail_is_opaque() {
        let got = scim_error_of(StoreError::Corrupt("secret table detail".into()));
        assert!(!got.detail.contains("secret"));
    }
}
