//! Reading requests: body size and content type, JSON syntax, query parameters, base URL, and
//! who sent a request from where (for the audit trail).

use actix_web::http::header;
use actix_web::web;
use actix_web::{HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde_json::Value;

use super::{AppState, RequestId};
use crate::store::{Actor, AuditContext};
use scim::ScimError;

/// Read and parse a JSON request body, enforcing the size limit and the content type.
pub async fn json_body(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<Value, ScimError> {
    json_body_within(req, payload, limit, "SCIM_BRIDGE_MAX_BODY_BYTES").await
}

/// [`json_body`], naming the setting of the limit (`limit_name`) in the 413's detail.
pub async fn json_body_within(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    limit_name: &str,
) -> Result<Value, ScimError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default();
        let mime = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        if mime != "application/scim+json" && mime != "application/json" {
            return Err(ScimError::unsupported_media_type(format!(
                "Content-Type '{ct}' is not accepted; send application/scim+json (or application/json)"
            )));
        }
    }
    let too_large = || {
        ScimError::payload_too_large(format!("the request body is larger than the {limit}-byte limit ({limit_name})"))
    };
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ScimError::invalid_syntax(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax("the request body is empty; send a JSON object"));
    }
    scim::json::parse_body(&body)
}

/// Query parameters, looked up by name case-insensitively.
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(req: &HttpRequest) -> Result<Params, ScimError> {
        web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(|q| Params(q.into_inner()))
            .map_err(|e| ScimError::invalid_syntax(format!("the query string could not be decoded: {e}")))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The SCIM root URL as clients see it, for `meta.location` and `Location`.
pub fn base_url(req: &HttpRequest, state: &AppState) -> String {
    match &state.config.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let info = req.connection_info();
            // A proxy's Forwarded / X-Forwarded-Proto says the scheme; without one, the
            // listener's own (the server is not built by actix-web, which would know it).
            let forwarded = req.headers().contains_key("forwarded") || req.headers().contains_key("x-forwarded-proto");
            let scheme = if state.config.tls.is_some() && !forwarded { "https" } else { info.scheme() };
            format!("{scheme}://{}/scim/v2", info.host())
        }
    }
}

pub fn header(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Who sent a write, from where, under which request id: the [`Actor`] bearer authentication
/// put in the request's extensions, the peer's IP address (a proxy's `X-Forwarded-For` is not
/// trusted: any client can send one), and the `X-Request-Id` of the response.
pub fn audit_context(req: &HttpRequest) -> Result<AuditContext, ScimError> {
    let extensions = req.extensions();
    // Every route that writes is behind `require_auth`; a write without its actor is not made.
    let actor = extensions
        .get::<Actor>()
        .cloned()
        .ok_or_else(|| ScimError::internal("a write without an authenticated actor was refused"))?;
    let request_id = extensions.get::<RequestId>().map(|r| r.0.clone());
    let address = req.peer_addr().map(|a| a.ip().to_canonical().to_string());
    Ok(AuditContext { actor, address, request_id })
}
