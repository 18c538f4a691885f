//! The simulator's answers before the common headers: Genesys's `ErrorBody` (genesys-api-notes §4), SCIM's
//! `ScimError` (genesys-api-notes §1.12) and successful replies.
//!
//! Which shape an error takes follows Genesys's response tables (genesys-api-notes §1.12): `ErrorBody` for
//! 400/401/403/404/405/408/413/415/429/5xx on every route, the SCIM ones included; `ScimError`
//! only for the SCIM 409s (duplicate userName, version mismatch), for the 400 `invalidVers`
//! variant of a version mismatch (the `If-Match` parameter text), for the PATCH 400
//! `noTarget`, and for the 400 `invalidValue` of an unknown role name (RFC 7644 §3.12; which
//! shape Genesys's SCIM 400s take is unverified, §1.12).
//!
//! Must not import: actix (only `server` speaks HTTP), or anything of the bridge.

use serde_json::{Value, json};

/// `application/json`, what Platform answers carry (genesys-api-notes §4 headers).
pub(crate) const JSON: &str = "application/json";
/// `application/scim+json`, what SCIM answers carry (genesys-api-notes §1.1 content types).
pub(crate) const SCIM_JSON: &str = "application/scim+json";

/// The SCIM error message URN.
pub(crate) const SCIM_ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// How an error is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Platform `ErrorBody` `{message, code, status, contextId, details, errors}`.
    ErrorBody,
    /// `ScimError` `{schemas, status (string), scimType?, detail}`.
    ScimError(Option<&'static str>),
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub shape: Shape,
    /// `Retry-After` seconds, on 429s (and injected 503s when an override is set).
    pub retry_after: Option<u64>,
    /// The limit that was hit (ErrorBody `limit`), on rate-limit 429s.
    pub limit: Option<(&'static str, u32)>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), shape: Shape::ErrorBody, retry_after: None, limit: None }
    }

    /// 400 `bad.request`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "bad.request", message)
    }

    /// 400 `invalid.value`, with the 2018 swagger's message.
    pub fn invalid_value(value: &str, field: &str, allowed: &str) -> ApiError {
        ApiError::new(
            400,
            "invalid.value",
            format!("Value [{value}] is not valid for field type [{field}]. Allowable values are: {allowed}"),
        )
    }

    /// 404 `not.found`.
    pub fn not_found() -> ApiError {
        ApiError::new(404, "not.found", "The requested resource was not found.")
    }

    /// 404 for a Platform user id (2018 swagger `x-inin-error-codes` of `GET /api/v2/users/{userId}`).
    pub fn user_not_found() -> ApiError {
        ApiError::new(404, "general.resource.not.found", "Unable to find a user with that userId")
    }

    /// 409 `general.conflict` (Platform).
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "general.conflict", message)
    }

    /// 409 ScimError "User name already in use by non-deleted user." (genesys-api-notes §1.1).
    pub fn scim_user_name_taken() -> ApiError {
        ApiError {
            shape: Shape::ScimError(Some("uniqueness")),
            ..ApiError::new(409, "conflict", "User name already in use by non-deleted user.")
        }
    }

    /// A SCIM `If-Match` mismatch: 409 ScimError "Version does not match current version."
    /// (response tables), or 400 ScimError `invalidVers` (parameter text); genesys-api-notes §1.9.
    pub fn scim_version_mismatch(status: u16) -> ApiError {
        if status == 400 {
            ApiError {
                shape: Shape::ScimError(Some("invalidVers")),
                ..ApiError::new(400, "bad.request", "Version does not match current version.")
            }
        } else {
            ApiError {
                shape: Shape::ScimError(None),
                ..ApiError::new(409, "conflict", "Version does not match current version.")
            }
        }
    }

    /// 400 ScimError `invalidValue` (RFC 7644 §3.12): a SCIM value Genesys cannot use, such as a
    /// role name that is not in the catalogue (which shape Genesys answers with is unverified).
    pub fn scim_invalid_value(detail: impl Into<String>) -> ApiError {
        ApiError { shape: Shape::ScimError(Some("invalidValue")), ..ApiError::new(400, "bad.request", detail) }
    }

    /// 400 ScimError `noTarget`: a PATCH path that "did not yield an attribute or attribute value
    /// that could be operated on", e.g. a filter that matches nothing (RFC 7644 §3.5.2.2,
    /// §3.5.2.3, §3.12; `noTarget` is in Genesys's ScimError enum, genesys-api-notes §1.12).
    pub fn no_target(detail: impl Into<String>) -> ApiError {
        ApiError { shape: Shape::ScimError(Some("noTarget")), ..ApiError::new(400, "bad.request", detail) }
    }

    /// A Platform `version` mismatch: 409 `general.conflict` with the 2018 swagger message, or
    /// 400 with "does not match the current version" in the message (Terraform's
    /// `IsVersionMismatch`, genesys-api-notes §2.1).
    pub fn platform_version_mismatch(status: u16) -> ApiError {
        let message = "The version supplied does not match the current version of the user";
        if status == 400 { ApiError::bad_request(message) } else { ApiError::conflict(message) }
    }

    /// 401 `authentication.required`: no bearer token.
    pub fn authentication_required() -> ApiError {
        ApiError::new(
            401,
            "authentication.required",
            "No authentication bearer token specified in authorization header.",
        )
    }

    /// 401 `bad.credentials`: unknown or expired token.
    pub fn bad_credentials() -> ApiError {
        ApiError::new(401, "bad.credentials", "Invalid login credentials.")
    }

    /// 403 `not.authorized`.
    pub fn not_authorized(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "not.authorized", message)
    }

    /// 405 for operations Genesys does not have on an existing path (group POST/DELETE).
    /// The code is **[unverified]**.
    pub fn method_not_allowed(detail: &str) -> ApiError {
        ApiError::new(405, "method.not.allowed", format!("HTTP method not allowed: {detail}"))
    }

    /// 413 with the swagger's message (code **[unverified]**).
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(413, "request.too.large", format!("The request is over the size limit. Maximum bytes: {limit}"))
    }

    /// 415 `unsupported.media.type`.
    pub fn unsupported_media_type() -> ApiError {
        ApiError::new(
            415,
            "unsupported.media.type",
            "Unsupported Media Type - Unsupported or incorrect media type, such as an incorrect Content-Type value in the header.",
        )
    }

    /// 429 `too.many.requests` with `Retry-After` (message of the 2025 swagger, genesys-api-notes §4).
    pub fn too_many_requests(retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                429,
                "too.many.requests",
                format!("Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds"),
            )
        }
    }

    /// A rate-limit 429, naming the limit (`client.credentials.token.rate.per.minute`, genesys-api-notes §4).
    pub fn rate_limited(retry_after: u64, allowed: u32) -> ApiError {
        ApiError {
            limit: Some(("client.credentials.token.rate.per.minute", allowed)),
            ..ApiError::too_many_requests(retry_after)
        }
    }

    /// An injected failure with this status, coded as Genesys codes it where the 2018 swagger
    /// says (500, 503, 504, 408, 429); others get a plain code.
    pub fn injected(status: u16) -> ApiError {
        match status {
            429 => ApiError::too_many_requests(1),
            408 => ApiError::new(
                408,
                "request.timeout",
                "The client did not produce a request within the server timeout limit.",
            ),
            500 => ApiError::new(
                500,
                "internal.server.error",
                "The server encountered an unexpected condition which prevented it from fulfilling the request.",
            ),
            502 => ApiError::new(502, "bad.gateway", "Bad Gateway"),
            503 => ApiError::unavailable(),
            504 => ApiError::new(504, "request.timeout", "The request timed out."),
            s if s < 500 => ApiError::new(s, "bad.request", format!("Injected client error {s}")),
            s => ApiError::new(s, "internal.server.error", format!("Injected server error {s}")),
        }
    }

    /// 503 `service.unavailable`.
    pub fn unavailable() -> ApiError {
        ApiError::new(
            503,
            "service.unavailable",
            "Service Unavailable - The server is currently unavailable (because it is overloaded or down for maintenance).",
        )
    }

    /// The answer for this error, `contextId` = the response's correlation id.
    pub fn into_reply(self, correlation_id: &str) -> Reply {
        let (body, content_type) = match self.shape {
            Shape::ErrorBody => {
                let mut body = json!({
                    "message": self.message,
                    "code": self.code,
                    "status": self.status,
                    "messageParams": {},
                    "contextId": correlation_id,
                    "details": [],
                    "errors": [],
                });
                if let (Some((key, value)), Some(obj)) = (self.limit, body.as_object_mut()) {
                    obj.insert("limit".into(), json!({"key": key, "namespace": "platform.api", "value": value}));
                }
                (body, JSON)
            }
            Shape::ScimError(scim_type) => {
                let mut body = json!({
                    "schemas": [SCIM_ERROR_URN],
                    "status": self.status.to_string(),
                    "detail": self.message,
                });
                if let (Some(t), Some(obj)) = (scim_type, body.as_object_mut()) {
                    obj.insert("scimType".into(), Value::String(t.into()));
                }
                (body, SCIM_JSON)
            }
        };
        let mut reply = Reply::json(self.status, body).content_type(content_type);
        if let Some(secs) = self.retry_after {
            reply = reply.header("retry-after", secs.to_string());
        }
        reply
    }
}

/// A successful (or error) answer before the common headers are added.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply { status, body: Some(body), content_type: JSON, headers: Vec::new() }
    }

    pub fn scim(status: u16, body: Value) -> Reply {
        Reply { status, body: Some(body), content_type: SCIM_JSON, headers: Vec::new() }
    }

    pub fn empty(status: u16) -> Reply {
        Reply { status, body: None, content_type: JSON, headers: Vec::new() }
    }

    pub fn content_type(mut self, content_type: &'static str) -> Reply {
        self.content_type = content_type;
        self
    }

    pub fn header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }

    /// `ETag: "<version>"` (strong, as Genesys's documented example `"42"`; genesys-api-notes §1.9).
    pub fn etag(self, version: u64) -> Reply {
        self.header("etag", format!("\"{version}\""))
    }
}

/// Result of a route handler.
pub(crate) type Answer = Result<Reply, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_genesys_shape() {
        let r = ApiError::not_found().into_reply("c-1");
        let b = r.body.expect("body");
        assert_eq!(r.status, 404);
        assert_eq!(b["status"], 404);
        assert_eq!(b["code"], "not.found");
        assert_eq!(b["contextId"], "c-1");
        assert_eq!(b["details"], json!([]));
        assert_eq!(b["errors"], json!([]));
        assert_eq!(r.content_type, JSON);
    }

    #[test]
    fn scim_conflicts_are_scim_errors_with_string_status() {
        let r = ApiError::scim_user_name_taken().into_reply("c");
        let b = r.body.expect("body");
        assert_eq!(b["status"], "409");
        assert_eq!(b["schemas"][0], SCIM_ERROR_URN);
        assert_eq!(b["detail"], "User name already in use by non-deleted user.");
        let v = ApiError::scim_version_mismatch(409).into_reply("c").body.expect("body");
        assert_eq!(v["detail"], "Version does not match current version.");
        assert!(v.get("scimType").is_none());
        let v = ApiError::scim_version_mismatch(400).into_reply("c").body.expect("body");
        assert_eq!((v["status"].as_str(), v["scimType"].as_str()), (Some("400"), Some("invalidVers")));
    }

    #[test]
    fn rate_limited_carries_retry_after_and_limit() {
        let r = ApiError::rate_limited(7, 300).into_reply("c");
        assert!(r.headers.contains(&("retry-after", "7".to_string())));
        let b = r.body.expect("body");
        assert_eq!(b["code"], "too.many.requests");
        assert_eq!(b["limit"]["value"], 300);
    }
}
