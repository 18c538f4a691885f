//! `/Users`, `/Groups`, `/.search`: thin handlers over `store` and `scim`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::{ApiError, SCIM_CONTENT_TYPE};
use super::request::{Params, audit_context, base_url, json_body};
use crate::store::{self, AuditContext, GroupRef, MemberRow, Page, Store, StoreError, StoredResource, WriteOutcome};
use scim::ScimError;
use scim::filter;
use scim::list::{self, CursorPage, ListParams, PageSizes, Position, RawListParams};
use scim::patch;
use scim::projection::{Projection, parse_projection};
use scim::resource;
use scim::schema::{ResourceKind, ResourceType};

/// Default and largest page sizes (also published in ServiceProviderConfig).
pub const DEFAULT_COUNT: u64 = 100;
pub const MAX_RESULTS: u64 = 1000;
const SIZES: PageSizes = PageSizes { default_count: DEFAULT_COUNT, max_count: MAX_RESULTS };

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
        insert_before_meta(&mut doc, "members", Value::Array(member_values(base, &members)));
    }
    if let Some(groups) = derived.groups.filter(|g| !g.is_empty()) {
        insert_before_meta(&mut doc, "groups", Value::Array(group_values(base, &groups)));
    }
    proj.apply(rt, doc)
}

/// A resource as the response writes it: its JSON text.
type Rendered = Box<RawValue>;

/// [`render`], as JSON text. A document that is still its stored text and needs nothing
/// hidden below the top level is spliced from that text member by member (nothing parsed into
/// values, nothing built again); anything else goes through [`render`]. Both give the same
/// document, members in the same order (the tests below compare them).
fn render_text(rt: &ResourceType, base: &str, res: StoredResource, derived: Derived, proj: &Projection) -> Rendered {
    if let Some(out) = proj.hidden_top_level(rt).and_then(|hidden| splice(rt, base, &res, &derived, &hidden)) {
        return out;
    }
    let doc = render(rt, base, res, derived, proj);
    // A map with string keys always serialises.
    serde_json::value::to_raw_value(&doc).unwrap_or_default()
}

/// The top-level members of a stored document, their values as the text they are stored as.
struct Members<'a>(Vec<(std::borrow::Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Members<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Members<'a>, M::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(entry) = map.next_entry::<std::borrow::Cow<'a, str>, &'a RawValue>()? {
                    out.push(entry);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// The fast path of [`render_text`]: `None` when the document is no longer its stored text.
fn splice(rt: &ResourceType, base: &str, res: &StoredResource, derived: &Derived, hidden: &[&str]) -> Option<Rendered> {
    let text = res.doc.text()?;
    let Members(members) = serde_json::from_str(text).ok()?;
    let meta = Meta {
        resource_type: res.kind.as_str(),
        created: store::format_millis(res.created),
        last_modified: store::format_millis(res.last_modified),
        version: res.etag(),
        location: format!("{base}{}/{}", rt.endpoint(), res.id),
    };
    let doc = Spliced {
        id: &res.id,
        members: &members,
        hidden,
        derived_members: derived.members.as_deref().filter(|m| !m.is_empty()).map(|m| member_values(base, m)),
        groups: derived.groups.as_deref().filter(|g| !g.is_empty()).map(|g| group_values(base, g)),
        meta,
    };
    // Serialising writes each stored value's text as it is (a `RawValue`), unchecked and uncopied.
    serde_json::value::to_raw_value(&doc).ok()
}

/// A document spliced from its stored members, in [`render`]'s order: `schemas`, `id`, the
/// stored members (less the hidden ones and those `render` replaces), `members` or `groups`,
/// `meta`.
struct Spliced<'a> {
    id: &'a str,
    members: &'a [(std::borrow::Cow<'a, str>, &'a RawValue)],
    hidden: &'a [&'a str],
    derived_members: Option<Vec<Value>>,
    groups: Option<Vec<Value>>,
    meta: Meta,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    resource_type: &'static str,
    created: String,
    last_modified: String,
    version: String,
    location: String,
}

impl serde::Serialize for Spliced<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        // What `render` puts in place of stored members of these names (the store strips them).
        const REPLACED: [&str; 5] = ["schemas", "id", "meta", "members", "groups"];
        let mut map = s.serialize_map(None)?;
        if let Some((_, v)) = self.members.iter().find(|(k, _)| k == "schemas") {
            map.serialize_entry("schemas", v)?;
        }
        map.serialize_entry("id", self.id)?;
        for (k, v) in self.members {
            if !REPLACED.contains(&k.as_ref()) && !self.hidden.contains(&k.as_ref()) {
                map.serialize_entry(k, v)?;
            }
        }
        if let Some(m) = &self.derived_members {
            map.serialize_entry("members", m)?;
        }
        if let Some(g) = &self.groups {
            map.serialize_entry("groups", g)?;
        }
        map.serialize_entry("meta", &self.meta)?;
        map.end()
    }
}

fn member_values(base: &str, members: &[MemberRow]) -> Vec<Value> {
    members
        .iter()
        .map(|m| {
            let ep = ResourceKind::from(m.kind).endpoint();
            let mut v = json!({"value": m.id, "$ref": format!("{base}{ep}/{}", m.id), "type": m.kind.as_str()});
            if let (Some(d), Some(o)) = (&m.display, v.as_object_mut()) {
                o.insert("display".into(), Value::String(d.clone()));
            }
            v
        })
        .collect()
}

fn group_values(base: &str, groups: &[GroupRef]) -> Vec<Value> {
    groups
        .iter()
        .map(|g| {
            let mut v = json!({"value": g.id, "$ref": format!("{base}/Groups/{}", g.id), "type": "direct"});
            if let (Some(d), Some(o)) = (&g.display, v.as_object_mut()) {
                o.insert("display".into(), Value::String(d.clone()));
            }
            v
        })
        .collect()
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

fn resource_response(status: actix_web::http::StatusCode, etag: &str, doc: Rendered) -> HttpResponse {
    let text: Box<str> = doc.into();
    let mut resp = HttpResponse::build(status).content_type(SCIM_CONTENT_TYPE).body(String::from(text));
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
    let doc = render_text(rt, &base_url(&req, &state), res, derived, &proj);
    Ok(resource_response(actix_web::http::StatusCode::OK, &etag, doc))
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
    let ctx = audit_context(&req)?;
    let s = state.clone();
    let (res, derived, proj) = web::block(move || -> Result<_, ApiError> {
        let res = s.store.create(rt, prepared, &ctx)?;
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
    let doc = render_text(rt, &base, res, derived, &proj);
    let mut resp = resource_response(actix_web::http::StatusCode::CREATED, &etag, doc);
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
    rewrite(state, req, id.into_inner(), kind, "replaced", move |store, rt, id, if_match, ctx| {
        store.replace(rt, id, if_match, body, ctx)
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
    rewrite(state, req, id.into_inner(), kind, "patched", move |store, rt, id, if_match, ctx| {
        store.patch(rt, id, if_match, &request, ctx)
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
    write: impl FnOnce(&Store, &'static ResourceType, &str, Option<&str>, &AuditContext) -> Result<WriteOutcome, StoreError>
    + Send
    + 'static,
) -> Result<HttpResponse, ApiError> {
    let rt = kind.resource_type();
    let params = Params::parse(&req)?;
    let proj = projection(rt, &params)?;
    let if_match = super::request::header(&req, header::IF_MATCH).map(str::to_string);
    let ctx = audit_context(&req)?;
    let s = state.clone();
    let (out, derived, proj) = web::block(move || -> Result<_, ApiError> {
        let out = write(&s.store, rt, &id, if_match.as_deref(), &ctx)?;
        let derived = load_derived(&s, rt, &proj, std::slice::from_ref(&out.resource))?.pop().unwrap_or_default();
        Ok((out, derived, proj))
    })
    .await??;
    if out.changed {
        tracing::info!(scim.resource_type = kind.as_str(), scim.resource_id = %out.resource.id, "{verb}");
    }
    let etag = out.resource.etag();
    let doc = render_text(rt, &base_url(&req, &state), out.resource, derived, &proj);
    Ok(resource_response(actix_web::http::StatusCode::OK, &etag, doc))
}

async fn delete(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
    kind: ResourceKind,
) -> Result<HttpResponse, ApiError> {
    let if_match = super::request::header(&req, header::IF_MATCH).map(str::to_string);
    let ctx = audit_context(&req)?;
    let s = state.clone();
    let id = id.into_inner();
    let logged = id.clone();
    web::block(move || s.store.delete(kind, &id, if_match.as_deref(), &ctx)).await??;
    tracing::info!(scim.resource_type = kind.as_str(), scim.resource_id = %logged, "deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// A list query, from GET parameters or a `.search` body.
struct Query {
    params: ListParams,
    attributes: Option<String>,
    excluded: Option<String>,
    /// The endpoint the query went to (`/Users`, `/Groups`, `/`): a cursor is only good there.
    scope: &'static str,
}

async fn list_get(state: State, req: HttpRequest, kind: ResourceKind) -> Result<HttpResponse, ApiError> {
    let p = Params::parse(&req)?;
    let raw = RawListParams {
        start_index: p.get("startIndex"),
        count: p.get("count"),
        cursor: p.get("cursor"),
        sort_by: p.get("sortBy"),
        sort_order: p.get("sortOrder"),
        filter: p.get("filter"),
    };
    let params = list::parse_list_params(&raw, kind.endpoint(), SIZES)?;
    let q = Query {
        params,
        attributes: p.get("attributes").map(str::to_string),
        excluded: p.get("excludedAttributes").map(str::to_string),
        scope: kind.endpoint(),
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
    let scope = kind.map_or("/", ResourceKind::endpoint);
    let params = sr.list_params(scope, SIZES)?;
    let q = Query { params, attributes: sr.attributes, excluded: sr.excluded_attributes, scope };
    let kinds = match kind {
        Some(k) => vec![k],
        None => vec![ResourceKind::User, ResourceKind::Group],
    };
    run_list(state, req, q, kinds).await
}

/// The resources of one type a list query asks for, rendered, with the stored page.
fn list_one(
    s: &AppState,
    base: &str,
    q: &Query,
    kind: ResourceKind,
    params: &ListParams,
) -> Result<(Page, Option<Position>, Vec<Rendered>), ApiError> {
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
    let mut page = s.store.list(rt, params, filter.as_ref())?;
    let last = page.resources.last().map(|r| store::position_of(rt, params.sort_by.as_deref(), r));
    let resources = std::mem::take(&mut page.resources);
    let derived = load_derived(s, rt, &proj, &resources)?;
    let rendered = resources.into_iter().zip(derived).map(|(r, d)| render_text(rt, base, r, d, &proj)).collect();
    Ok((page, last, rendered))
}

async fn run_list(
    state: State,
    req: HttpRequest,
    q: Query,
    kinds: Vec<ResourceKind>,
) -> Result<HttpResponse, ApiError> {
    let base = base_url(&req, &state);
    let s = state.clone();
    let body = web::block(move || -> Result<list::ListResponse<Rendered>, ApiError> {
        match q.params.cursor.clone() {
            Some(page) => cursor_list(&s, &base, &q, &kinds, page),
            None => index_list(&s, &base, &q, &kinds),
        }
    })
    .await??;
    Ok(scim_json(actix_web::http::StatusCode::OK, &body))
}

/// Index paging (RFC 7644 §3.4.2.4). The root `.search` spans both types: it pages across
/// their concatenation.
fn index_list(
    s: &AppState,
    base: &str,
    q: &Query,
    kinds: &[ResourceKind],
) -> Result<list::ListResponse<Rendered>, ApiError> {
    let start_index = q.params.start_index.max(1);
    let mut total = 0u64;
    let mut out = Vec::new();
    let mut remaining = q.params.count;
    let mut skip = start_index - 1;
    for &kind in kinds {
        let mut params = q.params.clone();
        params.start_index = skip + 1;
        params.count = remaining;
        let (page, _, rendered) = list_one(s, base, q, kind, &params)?;
        total += page.total;
        skip = skip.saturating_sub(page.total);
        remaining = remaining.map(|r| r.saturating_sub(rendered.len() as u64));
        out.extend(rendered);
    }
    Ok(list::list_response(total, start_index, out))
}

/// Cursor paging (RFC 9865 §2, §3): the rows after the cursor's position. Across the root
/// `.search` the position names its resource type: types before it are only counted, the
/// rest are read from their start. `nextCursor` is the position of the last row sent, given
/// when rows follow it; a `count` of 0 asks for `totalResults` only and has no next page.
fn cursor_list(
    s: &AppState,
    base: &str,
    q: &Query,
    kinds: &[ResourceKind],
    page: CursorPage,
) -> Result<list::ListResponse<Rendered>, ApiError> {
    let mut last = match &page {
        CursorPage::After(p) if !kinds.contains(&p.kind) => {
            return Err(ApiError(ScimError::invalid_cursor(format!(
                "the cursor points into the {}s, which {} does not list; start again with an empty cursor",
                p.kind.as_str(),
                q.scope
            ))));
        }
        CursorPage::After(p) => Some(p.clone()),
        CursorPage::First => None,
    };
    let count = q.params.count.unwrap_or(0);
    let mut remaining = count;
    let mut reached = matches!(page, CursorPage::First);
    let (mut total, mut more, mut out) = (0u64, false, Vec::new());
    for &kind in kinds {
        let mut params = q.params.clone();
        let counted_only = !reached && !matches!(&page, CursorPage::After(p) if p.kind == kind);
        params.cursor = Some(if reached || counted_only { CursorPage::First } else { page.clone() });
        params.count = Some(if counted_only { 0 } else { remaining });
        let (kind_page, kind_last, rendered) = list_one(s, base, q, kind, &params)?;
        total += kind_page.total;
        if counted_only {
            continue;
        }
        reached = true;
        more |= kind_page.more;
        last = kind_last.or(last);
        remaining = remaining.saturating_sub(rendered.len() as u64);
        out.extend(rendered);
    }
    let next = match (more && count > 0, last) {
        (true, Some(pos)) => Some(list::next_cursor(q.scope, &q.params, pos)),
        _ => None,
    };
    Ok(list::cursor_list_response(total, out, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Doc;

    fn stored(kind: ResourceKind, id: &str, doc: Value) -> StoredResource {
        StoredResource {
            kind,
            seq: 7,
            id: id.into(),
            created: 1_700_000_000_123,
            last_modified: 1_700_000_100_456,
            version: 3,
            doc: Doc::from_stored(doc.to_string()).unwrap(),
        }
    }

    fn both(
        rt: &ResourceType,
        res: StoredResource,
        derived: impl Fn() -> Derived,
        proj: &Projection,
    ) -> (String, String) {
        let base = "https://bridge.example/scim/v2";
        let fast = render_text(rt, base, res.clone(), derived(), proj);
        let mut parsed = res;
        parsed.doc = Doc::from(parsed.doc.clone().into_map());
        assert!(parsed.doc.text().is_none());
        let slow = serde_json::to_string(&render(rt, base, parsed, derived(), proj)).unwrap();
        (fast.get().to_string(), slow)
    }

    /// The document spliced from its stored text is the document `render` builds, byte for
    /// byte: members, their order, what is hidden, escapes, the derived groups and members.
    #[test]
    fn spliced_documents_are_the_rendered_ones() {
        let user = ResourceKind::User.resource_type();
        let proj = parse_projection(user, None, None).unwrap();
        assert!(proj.hidden_top_level(user).is_some_and(|h| h.contains(&"password")));
        let doc = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": "ada\"quote\u{e9}\u{1F600}@example.com",
            "name": {"givenName": "Ada", "familyName": "L\\ovelace"},
            "password": "never returned",
            "weird \"key\"\n": [1, 2.5, -3e-7, true, null, {"a": []}],
            "phoneNumbers": [{"type": "eightbyeight", "value": "+1 555 0100"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "42"},
            "active": true
        });
        let groups = || Derived {
            members: None,
            groups: Some(vec![
                GroupRef { id: "g1".into(), display: Some("Sales \"EU\"".into()) },
                GroupRef { id: "g2".into(), display: None },
            ]),
        };
        let (fast, slow) = both(user, stored(ResourceKind::User, "u-1", doc.clone()), groups, &proj);
        assert_eq!(fast, slow);
        assert!(
            !fast.contains("password") && fast.contains("\"groups\"") && fast.starts_with("{\"schemas\""),
            "{fast}"
        );
        let (fast, slow) = both(user, stored(ResourceKind::User, "u-1", doc), Derived::default, &proj);
        assert_eq!(fast, slow);

        // Without `schemas` stored, `id` comes first in both.
        let (fast, slow) =
            both(user, stored(ResourceKind::User, "u-2", json!({"userName": "b"})), Derived::default, &proj);
        assert_eq!(fast, slow);
        assert!(fast.starts_with("{\"id\":\"u-2\""), "{fast}");

        let group = ResourceKind::Group.resource_type();
        let proj = parse_projection(group, None, None).unwrap();
        let members = || Derived {
            members: Some(vec![
                MemberRow { id: "u-1".into(), kind: store::MemberKind::User, display: Some("Ada".into()) },
                MemberRow { id: "g-9".into(), kind: store::MemberKind::Group, display: None },
            ]),
            groups: None,
        };
        let doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales"});
        let (fast, slow) = both(group, stored(ResourceKind::Group, "g-1", doc), members, &proj);
        assert_eq!(fast, slow);
        assert!(fast.contains("\"members\"") && fast.ends_with("/Groups/g-1\"}}"), "{fast}");
    }

    /// `attributes`/`excludedAttributes` and changed documents take the full walk.
    #[test]
    fn projections_and_changed_documents_are_not_spliced() {
        let user = ResourceKind::User.resource_type();
        let only = parse_projection(user, Some("userName"), None).unwrap();
        assert!(only.hidden_top_level(user).is_none());
        let res = stored(ResourceKind::User, "u-3", json!({"schemas": [], "userName": "c", "title": "x"}));
        let (fast, slow) = both(user, res.clone(), Derived::default, &only);
        assert_eq!(fast, slow);
        assert!(!fast.contains("title"), "{fast}");
        let mut changed = res;
        changed.doc.insert("title".into(), json!("y"));
        assert!(changed.doc.text().is_none(), "a changed document is no longer its stored text");
        let proj = parse_projection(user, None, None).unwrap();
        let out = render_text(user, "http://b", changed, Derived::default(), &proj);
        assert!(out.get().contains("\"title\":\"y\""), "{}", out.get());
    }
}
