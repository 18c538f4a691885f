//! The one error identity providers see: RFC 7644 §3.12.
//!
//! Every layer keeps its own error enum; `http::error` maps them to a [`ScimError`], which
//! carries the HTTP status, the `scimType` keyword and a `detail` a person can act on.
//! This module knows no HTTP framework: the status is a plain number.

use serde_json::{Value, json};

/// The URN of the SCIM error message (RFC 7644 §3.12).
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// `scimType` keywords of RFC 7644 §3.12, Table 9, and the three RFC 9865 §2.1 adds for paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
    /// RFC 9865 §2.1: a cursor that does not decode or belongs to another query.
    InvalidCursor,
    /// RFC 9865 §2.1: a cursor past its lifetime. Never sent here: keyset cursors do not expire.
    ExpiredCursor,
    /// RFC 9865 §2.1: a `count` above `maxPageSize`, or not the count of the first page.
    InvalidCount,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::InvalidCursor => "invalidCursor",
            ScimType::ExpiredCursor => "expiredCursor",
            ScimType::InvalidCount => "invalidCount",
        }
    }
}

/// An RFC 7644 §3.12 error: status, optional `scimType`, and a human-actionable `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {detail}", .scim_type.map(ScimType::as_str).unwrap_or("-"))]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError { status, scim_type, detail: detail.into() }
    }

    /// 400 with a `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidPath, detail)
    }

    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::NoTarget, detail)
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::Mutability, detail)
    }

    pub fn invalid_cursor(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidCursor, detail)
    }

    pub fn invalid_count(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidCount, detail)
    }

    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::TooMany, detail)
    }

    /// 429 Too Many Requests (RFC 6585 §4; no `scimType`): a request budget is used up. The
    /// caller adds `Retry-After`.
    pub fn too_many_requests(detail: impl Into<String>) -> Self {
        Self::new(429, None, detail)
    }

    /// 409 `uniqueness` (RFC 7644 §3.3).
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    /// 412: the `If-Match` version is not the current one (RFC 7644 §3.14).
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, None, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, None, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, None, detail)
    }

    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(405, None, detail)
    }

    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(413, None, detail)
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(415, None, detail)
    }

    /// Our fault, not the caller's: the detail stays opaque (the cause is logged, not sent).
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, None, detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(503, None, detail)
    }

    /// The JSON body of the error response; `status` is a string, as RFC 7644 §3.12 shows.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".into(), Value::String(t.as_str().into()));
        }
        body
    }
}

/// A short, quoted rendering of a value a client sent, for an error detail: at most 24
/// characters, control characters escaped.
pub fn quoted(s: &str) -> String {
    let head: String = s.chars().take(24).flat_map(char::escape_debug).collect();
    if s.chars().count() <= 24 { format!("\"{head}\"") } else { format!("\"{head}...\"") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_string_status_and_scim_type() {
        let e = ScimError::invalid_filter("bad");
        let body = e.to_json();
        assert_eq!(body["status"], "400");
        assert_eq!(body["scimType"], "invalidFilter");
        assert_eq!(body["schemas"][0], ERROR_URN);
        assert_eq!(body["detail"], "bad");
        assert!(ScimError::not_found("x").to_json().get("scimType").is_none());
    }
}
