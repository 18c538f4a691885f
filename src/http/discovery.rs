//! Discovery endpoints (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas. Read-only:
//! any write is 405.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiError, SCIM_CONTENT_TYPE, error_response};
use super::request::base_url;
use super::resources::{DEFAULT_COUNT, MAX_RESULTS};
use scim::ScimError;
use scim::list::list_response;
use scim::schema::{self, ResourceType, registry};

type State = web::Data<AppState>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/ServiceProviderConfig")
            .route(web::get().to(service_provider_config))
            .default_service(web::to(read_only)),
    )
    .service(web::resource("/ResourceTypes").route(web::get().to(resource_types)).default_service(web::to(read_only)))
    .service(
        web::resource("/ResourceTypes/{id}").route(web::get().to(resource_type)).default_service(web::to(read_only)),
    )
    .service(web::resource("/Schemas").route(web::get().to(schemas)).default_service(web::to(read_only)))
    .service(web::resource("/Schemas/{id}").route(web::get().to(schema_by_id)).default_service(web::to(read_only)));
}

async fn read_only() -> HttpResponse {
    let mut resp =
        error_response(&ScimError::method_not_allowed("discovery endpoints are read-only: only GET is allowed"));
    resp.headers_mut().insert(actix_web::http::header::ALLOW, actix_web::http::header::HeaderValue::from_static("GET"));
    resp
}

fn ok(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().content_type(SCIM_CONTENT_TYPE).body(serde_json::to_string(&body).unwrap_or_default())
}

/// RFC 7643 §5, with RFC 9865 §4's `pagination`: both methods, index by default (§2.4: a
/// provider that had index paging keeps it as the default). No `cursorTimeout`: a cursor holds
/// its own position and never expires, and §4 reads an absent value as possibly "no timeout".
pub fn service_provider_config_json(base: &str, config: &crate::config::Config) -> Value {
    json!({
        "schemas": [schema::SPC_URN],
        "documentationUri": "https://github.com/scim-bridge/scim-bridge/blob/main/README.md",
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": config.bulk_max_operations,
            "maxPayloadSize": config.bulk_max_payload_bytes
        },
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": DEFAULT_COUNT,
            "maxPageSize": MAX_RESULTS
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token: a static token from 'scim-bridge token create', or a JWT from a configured issuer",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        }
    })
}

async fn service_provider_config(state: State, req: HttpRequest) -> HttpResponse {
    ok(service_provider_config_json(&base_url(&req, &state), &state.config))
}

fn resource_type_json(rt: &ResourceType, base: &str) -> Value {
    let extensions: Vec<Value> =
        rt.extensions.iter().map(|e| json!({"schema": e.schema.id, "required": e.required})).collect();
    let mut v = json!({
        "schemas": [schema::RESOURCE_TYPE_URN],
        "id": rt.id(),
        "name": rt.id(),
        "endpoint": rt.endpoint(),
        "description": rt.description,
        "schema": rt.core.id,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", rt.id())}
    });
    if let (false, Some(o)) = (extensions.is_empty(), v.as_object_mut()) {
        o.insert("schemaExtensions".into(), Value::Array(extensions));
    }
    v
}

async fn resource_types(state: State, req: HttpRequest) -> HttpResponse {
    let base = base_url(&req, &state);
    let all: Vec<Value> = registry().resource_types().iter().map(|rt| resource_type_json(rt, &base)).collect();
    ok(list_response(all.len() as u64, 1, all))
}

async fn resource_type(state: State, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let base = base_url(&req, &state);
    registry()
        .resource_types()
        .iter()
        .find(|rt| rt.id().eq_ignore_ascii_case(&id))
        .map(|rt| ok(resource_type_json(rt, &base)))
        .ok_or_else(|| {
            ApiError(ScimError::not_found(format!("no resource type '{id}'; this server has User and Group")))
        })
}

fn schema_json(s: &schema::Schema, base: &str) -> Value {
    let mut doc = s.document.clone();
    if let Some(o) = doc.as_object_mut() {
        o.insert("schemas".into(), json!([schema::SCHEMA_URN]));
        o.insert("meta".into(), json!({"resourceType": "Schema", "location": format!("{base}/Schemas/{}", s.id)}));
    }
    doc
}

async fn schemas(state: State, req: HttpRequest) -> HttpResponse {
    let base = base_url(&req, &state);
    let all: Vec<Value> = registry().schemas().map(|s| schema_json(s, &base)).collect();
    ok(list_response(all.len() as u64, 1, all))
}

async fn schema_by_id(state: State, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let base = base_url(&req, &state);
    registry()
        .schema(&id)
        .map(|s| ok(schema_json(s, &base)))
        .ok_or_else(|| ApiError(ScimError::not_found(format!("no schema '{id}'; GET /Schemas lists them"))))
}
