//! `/Users`, `/Groups`, `/.search`: thin handlers over `store` and `scim`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::{ApiError, SCIM_CONTENT_TYPE};
use super::request::{Params, base_url, json_body};
use crate::store::{GroupRef, MemberRow, Page, Store, StoreError, StoredResource, WriteOutcome};
use scim::ScimError;
use scim::filter;
use scim::list::{self, ListParams};
use scim::patch;
use scim::projection::{Projection, parse_projection};
use scim::resource;
use scim::schema::{ResourceKind, ResourceType};

/// Default and largest page sizes (also published in ServiceProviderConfig).
pub const DEFAULT_COUNT: u64 = 100;
pub const MAX_RESULTS: u64 = 1000;

type State = web::Data<AppState>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let ep = kind.endpoint();
        cfg.service(
            web::resource(ep)
                .route(web::get().to(move |s: State, r: HttpRequest| list_get(s, r, kind)))
                .route(web::post().to(move |s: State, r: HttpRequest, p: web::Payload| create(s, r, p, kind)))
                .default_service(web::to(|| async { method_not_allowed("GET, POST") })),
        )
        .service(
            web::resource(format!("{ep}/.search"))
                .route(web::post().to(move |s: State, r: HttpRequest, p: web::Payload| search(s, r, p, Some(kind))))
                .default_service(web::to(|| async { method_not_allowed("POST") })),
        )
        .service(
            web::resource(format!("{ep}/{{id}}"))
                .route(web::get().to(move |s: State, r: HttpRequest, id: web::Path<String>| get(s, r, id, kind)))
                .route(web::put().to(move |s: State, r: HttpRequest, id: web::Path<String>, p: web::Payload| {
                    replace(s, r, id, p, kind)
                }))
                .route(web::patch().to(move |s: State, r: HttpRequest, id: web::Path<String>, p: web::Payload| {
                    patch(s, r, id, p, kind)
                }))
                .route(web::delete().to(move |s: State, r: HttpRequest, id: web::Path<String>| delete(s, r, id, kind)))
                .default_service(web::to(|| async { method_not_allowed("GET, PUT, PATCH, DELETE") })),
        );
    }
    cfg.service(
        web::resource("/.search")
            .route(web::post().to(|s: State, r: HttpRequest, p: web::Payload| search(s, r, p, None)))
            .default_service(web::to(|| async { method_not_allowed("POST") })),
    )
    .service(web::resource("/Me").to(|| async {
        super::error::error_response(&ScimError::new(
            501,
            None,
            "/Me is not supported: the bridge authenticates IdPs, not users",
        ))
    }))
    .service(web::resource("/Bulk").to(|| async {
        super::error::error_response(&ScimError::new(
            501,
            None,
            "Bulk is not supported yet (ServiceProviderConfig says so)",
        ))
    }));
}

fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut resp =
        super::error::error_response(&ScimError::method_not_allowed(format!("this endpoint accepts {allow}")));
    resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// What a rendered resource needs beyond its document.
#[derive(Default)]
struct Derived {
    members: Option<Vec<MemberRow>>,
    groups: Option<Vec<GroupRef>>,
}

/// Load members (groups) or groups (users) for these resources when the projection wants them.
fn load_derived(
    state: &AppState,
    rt: &ResourceType,
    proj: &Projection,
    res: &[StoredResource],
) -> Result<Vec<Derived>, ApiError> {
    match rt.kind {
        ResourceKind::Group if proj.wants(rt, "members") => {
            res.iter().map(|g| Ok(Derived { members: Some(state.store.members(g)?), groups: None })).collect()
        }
        ResourceKind::User if proj.wants(rt, "groups") => {
            let ids: Vec<&str> = res.iter().map(|r| r.id.as_str()).collect();
            let mut by_user = state.store.groups_of(&ids)?;
            Ok(res
                .iter()
                .map(|r| Derived { members: None, groups: Some(by_user.remove(&r.id).unwrap_or_default()) })
                .collect())
        }
        _ => Ok(res.iter().map(|_| Derived::default()).collect()),
    }
}

fn render(
    rt: &ResourceType,
    base: &str,
    res: StoredResource,
    derived: Derived,
    proj: &Projection,
) -> Map<String, Value> {
    let location = format!("{base}{}/{}", rt.endpoint(), res.id);
    let mut doc = res.into_full_document();
    if let Some(Value::Object(meta)) = doc.get_mut("meta") {
        meta.insert("location".into(), Value::String(location));
    }
    if let Some(members) = derived.members.filter(|m| !m.is_empty()) {
        let list = members
            .into_iter()
            .map(|m| {
                let ep = ResourceKind::from(m.kind).endpoint();
                let mut v = json!({"value": m.id, "$ref": format!("{base}{ep}/{}", m.id), "type": m.kind.as_str()});
                if let (Some(d), Some(o)) = (m.display, v.as_object_mut()) {
                    o.insert("display".into(), Value::String(d));
                }
                v
            })
            .collect();
        insert_before_meta(&mut doc, "members", Value::Array(list));
    }
    if let Some(groups) = derived.groups.filter(|g| !g.is_empty()) {
        let list = groups
            .into_iter()
            .map(|g| {
                let mut v = json!({"value": g.id, "$ref": format!("{base}/Groups/{}", g.id), "type": "direct"});
                if let (Some(d), Some(o)) = (g.display, v.as_object_mut()) {
                    o.insert("display".into(), Value::String(d));
                }
                v
            })
            .collect();
        insert_before_meta(&mut doc, "groups", Value::Array(list));
    }
    proj.apply(rt, doc)
}

fn insert_before_meta(doc: &mut Map<String, Value>, key: &str, value: Value) {
    let meta = doc.shift_remove("meta");
    doc.insert(key.into(), value);
    if let Some(m) = meta {
        doc.insert("meta".into(), m);
    }
}

fn scim_json(status: actix_web::http::StatusCode, body: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(status).content_type(SCIM_CONTENT_TYPE).body(serde_json::to_vec(body).unwrap_or_default())
}

fn resource_response(status: actix_web::http::StatusCode, etag: &str, doc: &Map<String, Value>) -> HttpResponse {
    let mut resp = scim_json(status, doc);
    if let Ok(v) = HeaderValue::from_str(etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

fn projection(rt: &ResourceType, params: &Params) -> Result<Projection, ScimError> {
    parse_projection(rt, params.get("attributes"), params.get("excludedAttributes"))
}

async fn get(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
    kind: ResourceKind,
) -> Result<HttpResponse, ApiError> {
    let rt = kind.resource_type();
    let params = Params::parse(&req)?;
    let proj = projection(rt, &params)?;
    let s = state.clone();
    let id = id.into_inner();
    let (res, derived, proj) = web::block(move || -> Result<_, ApiError> {
        let res = s.store.get(kind, &id)?;
        let derived = load_derived(&s, rt, &proj, std::slice::from_ref(&res))?.pop().unwrap_or_default();
        Ok((res, derived, proj))
    })
    .await??;
    if let Some(inm) = super::request::header(&req, header::IF_NONE_MATCH) {
        let etag = res.etag();
        if inm.split(',').map(str::trim).any(|t| t == "*" || t == etag || t == &etag[2..]) {
            let mut resp = HttpResponse::NotModified().finish();
            if let Ok(v) = HeaderValue::from_str(&etag) {
                resp.headers_mut().insert(header::ETAG, v);
            }
            return Ok(resp);
        }
    }
    let etag = res.etag();
    let doc = render(rt, &base_url(&req, &state), res, derived, &proj);
    Ok(resource_response(actix_web::http::StatusCode::OK, &etag, &doc))
}

async fn create(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
    kind: ResourceKind,
) -> Result<HttpResponse, ApiError> {
    let rt = kind.resource_type();
    let params = Params::parse(&req)?;
    let proj = projection(rt, &params)?;
    let body = json_body(&req, payload, state.config.max_body_bytes).await?;
    let prepared = resource::prepare_create(rt, body)?;
    let s = state.clone();
    let (res, derived, proj) = web::block(move || -> Result<_, ApiError> {
        let res = s.store.create(rt, prepared)?;
        // A user just created belongs to no group yet: no query for its `groups`.
        let derived = match kind {
            ResourceKind::User => Derived::default(),
            ResourceKind::Group => load_derived(&s, rt, &proj, std::slice::from_ref(&res))?.pop().unwrap_or_default(),
        };
        Ok((res, derived, proj))
    })
    .await??;
    tracing::info!(scim.resource_type = kind.as_str(), scim.resource_id = %res.id, "created");
    let base = base_url(&req, &state);
    let (etag, location) = (res.etag(), format!("{base}{}/{}", rt.endpoint(), res.id));
    let doc = render(rt, &base, res, derived, &proj);
    let mut resp = resource_response(actix_web::http::StatusCode::CREATED, &etag, &doc);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn replace(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    kind: ResourceKind,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(&req, payload, state.config.max_body_bytes).await?;
    rewrite(state, req, id.into_inner(), kind, "replaced", move |store, rt, id, if_match| {
        store.replace(rt, id, if_match, body)
    })
    .await
}

async fn patch(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    kind: ResourceKind,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(&req, payload, state.config.max_body_bytes).await?;
    let request = patch::parse_patch(kind.resource_type(), &body)?;
    rewrite(state, req, id.into_inner(), kind, "patched", move |store, rt, id, if_match| {
        store.patch(rt, id, if_match, &request)
    })
    .await
}

/// PUT and PATCH: run the store call with `If-Match`, answer 200 with the resource.
async fn rewrite(
    state: State,
    req: HttpRequest,
    id: String,
    kind: ResourceKind,
    verb: &'static str,
    write: impl FnOnce(&Store, &'static ResourceType, &str, Option<&str>) -> Result<WriteOutcome, StoreError>
    + Send
    + 'static,
) -> Result<HttpResponse, ApiError> {
    let rt = kind.resource_type();
    let params = Params::parse(&req)?;
    let proj = projection(rt, &params)?;
    let if_match = super::request::header(&req, header::IF_MATCH).map(str::to_string);
    let s = state.clone();
    let (out, derived, proj) = web::block(move || -> Result<_, ApiError> {
        let out = write(&s.store, rt, &id, if_match.as_deref())?;
        let derived = load_derived(&s, rt, &proj, std::slice::from_ref(&out.resource))?.pop().unwrap_or_default();
        Ok((out, derived, proj))
    })
    .await??;
    if out.changed {
        tracing::info!(scim.resource_type = kind.as_str(), scim.resource_id = %out.resource.id, "{verb}");
    }
    let etag = out.resource.etag();
    let doc = render(rt, &base_url(&req, &state), out.resource, derived, &proj);
    Ok(resource_response(actix_web::http::StatusCode::OK, &etag, &doc))
}

async fn delete(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
    kind: ResourceKind,
) -> Result<HttpResponse, ApiError> {
    let if_match = super::request::header(&req, header::IF_MATCH).map(str::to_string);
    let s = state.clone();
    let id = id.into_inner();
    let logged = id.clone();
    web::block(move || s.store.delete(kind, &id, if_match.as_deref())).await??;
    tracing::info!(scim.resource_type = kind.as_str(), scim.resource_id = %logged, "deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// A list query, from GET parameters or a `.search` body.
struct Query {
    params: ListParams,
    attributes: Option<String>,
    excluded: Option<String>,
}

async fn list_get(state: State, req: HttpRequest, kind: ResourceKind) -> Result<HttpResponse, ApiError> {
    let p = Params::parse(&req)?;
    let params = list::parse_list_params(
        p.get("startIndex"),
        p.get("count"),
        p.get("sortBy"),
        p.get("sortOrder"),
        p.get("filter"),
        DEFAULT_COUNT,
        MAX_RESULTS,
    )?;
    let q = Query {
        params,
        attributes: p.get("attributes").map(str::to_string),
        excluded: p.get("excludedAttributes").map(str::to_string),
    };
    run_list(state, req, q, vec![kind]).await
}

async fn search(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
    kind: Option<ResourceKind>,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(&req, payload, state.config.max_body_bytes).await?;
    let sr = list::parse_search_request(&body)?;
    let params = sr.list_params(DEFAULT_COUNT, MAX_RESULTS)?;
    let q = Query { params, attributes: sr.attributes, excluded: sr.excluded_attributes };
    let kinds = match kind {
        Some(k) => vec![k],
        None => vec![ResourceKind::User, ResourceKind::Group],
    };
    run_list(state, req, q, kinds).await
}

async fn run_list(
    state: State,
    req: HttpRequest,
    q: Query,
    kinds: Vec<ResourceKind>,
) -> Result<HttpResponse, ApiError> {
    let base = base_url(&req, &state);
    let s = state.clone();
    let body = web::block(move || -> Result<Value, ApiError> {
        let start_index = q.params.start_index.max(1);
        let mut total = 0u64;
        let mut out = Vec::new();
        let mut remaining = q.params.count;
        let mut skip = start_index - 1;
        for kind in kinds {
            let rt = kind.resource_type();
            let proj = parse_projection(rt, q.attributes.as_deref(), q.excluded.as_deref())?;
            let filter = match q.params.filter.as_deref() {
                Some(text) => {
                    let f = filter::parse_filter(text)?;
                    filter::validate_filter(rt, &f)?;
                    Some(f)
                }
                None => None,
            };
            // Root `.search` spans both types: page across their concatenation.
            let mut params = q.params.clone();
            params.start_index = skip + 1;
            params.count = remaining;
            let Page { total: t, resources } = s.store.list(rt, &params, filter.as_ref())?;
            total += t;
            skip = skip.saturating_sub(t);
            remaining = remaining.map(|r| r.saturating_sub(resources.len() as u64));
            let derived = load_derived(&s, rt, &proj, &resources)?;
            out.extend(resources.into_iter().zip(derived).map(|(r, d)| Value::Object(render(rt, &base, r, d, &proj))));
        }
        Ok(list::list_response(total, start_index, out))
    })
    .await??;
    Ok(scim_json(actix_web::http::StatusCode::OK, &body))
}
