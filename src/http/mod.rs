//! HTTP: actix routes under `/scim/v2`, bearer auth, request ids, and SCIM error rendering;
//! the operator routes `/healthz`, `/readyz` and `/metrics` (`ops`, no auth).
//!
//! Handlers are thin: parse the request, call `store`/`scim`, render. Must not import diesel.

mod admin;
mod auth;
mod bulk;
mod discovery;
pub mod error;
mod framing;
mod listener;
mod ops;
mod request;
mod resources;
mod throttle;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpResponse, web};
use anyhow::Context;
use tracing::Instrument;

pub use auth::Authenticator;
use error::error_response;
pub use ops::OUTBOX_STUCK_AFTER;

use crate::config::Config;
use crate::genesys::client::Client;
use crate::metrics::{Metrics, OutboxStats};
use crate::store::Store;
use scim::ScimError;

/// Shared by every request.
pub struct AppState {
    pub store: Arc<Store>,
    pub auth: Authenticator,
    pub config: Config,
    /// The registry `/metrics` encodes; the request middleware finds it as `web::Data<Metrics>`.
    pub metrics: Arc<Metrics>,
    /// The Genesys client, for the readiness check of the token.
    pub genesys: Arc<Client>,
    /// The outbox worker's progress, for the readiness check of the outbox.
    pub outbox: OutboxStats,
    /// The roles to grant and what was found of them, for the readiness check of the roles.
    pub roles: Arc<crate::genesys::role_status::RoleStatus>,
    /// Failed-authentication throttling and the per-credential rate limit.
    pub limits: throttle::Limits,
}

/// A started server: its bound address and a handle to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub server: Server,
    /// The token printed at first start, when the database had none.
    pub initial_token: Option<String>,
    /// The outbox worker forwarding to Genesys (and the built-in simulator, if it stands in).
    pub forwarding: crate::genesys::forwarding::Forwarding,
    /// Nothing is sent to Genesys (`SCIM_BRIDGE_DRY_RUN`).
    pub dry_run: bool,
    /// The listener speaks TLS.
    pub tls: bool,
}

/// Blocking threads per HTTP worker (see `start`); the reader pool has as many connections.
pub const BLOCKING_THREADS_PER_WORKER: usize = 4;

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(0);
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id (`X-Request-Id`), in the request's extensions for the audit trail.
#[derive(Clone)]
pub(crate) struct RequestId(pub String);

/// One span per request, with an id echoed in `X-Request-Id`; counted and timed in the
/// `Metrics` of the app data (when there is one) under its route pattern, never its raw path.
async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // A proxy's or IdP's own request id is kept when it is a plain token; otherwise one is made.
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        })
        .map(str::to_string)
        .unwrap_or_else(|| format!("{:x}-{:x}", std::process::id(), REQUEST_SEQ.fetch_add(1, Ordering::Relaxed)));
    let span = tracing::info_span!("request", request.id = %id, http.method = %req.method(), http.path = %req.path());
    req.extensions_mut().insert(RequestId(id.clone()));
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let (method, path) = (req.method().clone(), metrics.as_ref().map(|_| req.path().to_string()));
    async move {
        let result = next.call(req).await;
        let elapsed = started.elapsed();
        if let (Some(m), Some(path)) = (&metrics, &path) {
            let (status, route) = match &result {
                Ok(resp) => (resp.status(), route_label(path, resp)),
                Err(e) => (e.as_response_error().status_code(), None),
            };
            m.observe_request(method.as_str(), route.as_deref(), status.as_u16(), elapsed);
        }
        let mut resp = result?;
        let status = resp.status().as_u16();
        let ms = elapsed.as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::error!(http.status = status, duration_ms = ms, "request failed");
        } else {
            tracing::debug!(http.status = status, duration_ms = ms, "request");
        }
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert(REQUEST_ID, v);
        }
        Ok(resp)
    }
    .instrument(span)
    .await
}

/// Bearer authentication for everything under `/scim/v2`; the credential that matched goes into
/// the request's extensions as an [`Actor`](crate::store::Actor), for the audit trail.
async fn require_auth(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req.into_response(error_response(&ScimError::internal("no state"))).map_into_right_body());
    };
    let now = Instant::now();
    let address = req.peer_addr().map(|a| a.ip());
    if let Some(wait) = address.and_then(|ip| state.limits.failures.blocked(ip, now)) {
        tracing::info!(http.status = 429, client.address = ?address, "authentication throttled");
        let e = ScimError::too_many_requests(format!(
            "too many failed authentications from this address ({} a minute, auth_failure_limit); nothing is \
             checked from it for {} s",
            state.config.auth_failure_limit,
            throttle::retry_after_secs(wait)
        ));
        return Ok(req.into_response(too_many(&e, wait)).map_into_right_body());
    }
    let header = req.headers().get(actix_web::http::header::AUTHORIZATION).and_then(|h| h.to_str().ok());
    let verdict = match auth::bearer(header) {
        None => Err(ScimError::unauthorized(
            "missing bearer token: send 'Authorization: Bearer <token>' (create one with 'scim-bridge token create --name NAME')",
        )),
        Some(token) => {
            if let Some(actor) = state.auth.check_static(token) {
                Ok(actor)
            } else if state.auth.jwt_enabled() && token.matches('.').count() == 2 {
                state.auth.check_jwt(token)
            } else {
                // Perhaps a token created a moment ago by the CLI: re-read the (small) token
                // table once. A refused request costs one indexed read, never more.
                let s = state.clone();
                let token = token.to_string();
                let fresh = web::block(move || s.auth.refresh().ok().and_then(|()| s.auth.check_static(&token)))
                    .await
                    .unwrap_or(None);
                fresh.ok_or_else(|| ScimError::unauthorized("the bearer token is not valid"))
            }
        }
    };
    match verdict {
        Ok(actor) => {
            if let Some(Err(wait)) = state.limits.rate.as_ref().map(|r| r.take(&throttle::budget_key(&actor), now)) {
                let e = ScimError::too_many_requests(format!(
                    "this credential sent more than {} requests a second (token_rate_limit); retry after {} s",
                    state.config.token_rate_limit,
                    throttle::retry_after_secs(wait)
                ));
                return Ok(req.into_response(too_many(&e, wait)).map_into_right_body());
            }
            req.extensions_mut().insert(actor);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(e) => {
            if let Some(ip) = address {
                state.limits.failures.failed(ip, now);
            }
            tracing::info!(http.status = 401, client.address = ?address, "authentication refused");
            Ok(req.into_response(error_response(&e)).map_into_right_body())
        }
    }
}

/// A 429 SCIM error with `Retry-After`.
fn too_many(e: &ScimError, wait: std::time::Duration) -> HttpResponse {
    let mut resp = error_response(e);
    if let Ok(v) = HeaderValue::from_str(&throttle::retry_after_secs(wait).to_string()) {
        resp.headers_mut().insert(actix_web::http::header::RETRY_AFTER, v);
    }
    resp
}

async fn not_found() -> HttpResponse {
    let mut resp = error_response(&ScimError::not_found(
        "no such endpoint; SCIM lives under /scim/v2 (see /scim/v2/ResourceTypes)",
    ));
    resp.extensions_mut().insert(Unmatched);
    resp
}

/// Marks the answer of the default service: no route matched.
struct Unmatched;

/// The route pattern of an answered request, for metric labels: the path with each matched
/// parameter put back as `{name}` (`/scim/v2/Users/{id}`), which costs no second pass of the
/// router; `None` when no route matched. Should a parameter not be found verbatim in the path
/// (an encoded id), the router's own `match_pattern` is asked.
fn route_label<B>(path: &str, resp: &ServiceResponse<B>) -> Option<String> {
    if resp.response().extensions().get::<Unmatched>().is_some() {
        return None;
    }
    let info = resp.request().match_info();
    let mut label = path.to_string();
    for (name, value) in info.iter() {
        let needle = format!("/{value}");
        match label.rfind(&needle) {
            Some(at) if !value.is_empty() => label.replace_range(at + 1..at + needle.len(), &format!("{{{name}}}")),
            _ => return resp.request().match_pattern(),
        }
    }
    Some(label)
}

/// The routes, for `App::configure`.
pub fn routes(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::from(state.metrics.clone()))
            .app_data(state)
            .configure(ops::routes)
            .service(
                web::scope("/scim/v2")
                    .wrap(from_fn(require_auth))
                    .configure(discovery::routes)
                    .configure(resources::routes)
                    .configure(bulk::routes),
            )
            .default_service(web::to(not_found));
    }
}

/// Open the store, bind, and start serving (returns once listening).
pub fn start(config: Config) -> anyhow::Result<Running> {
    let store = Arc::new(
        Store::open(&config.database_url)
            .with_context(|| format!("opening database {}", crate::store::redact_url(&config.database_url)))?,
    );
    let auth =
        Authenticator::new(store.clone(), config.bootstrap_token.as_ref().map(|s| s.expose()), config.jwt.as_ref())?;
    let mut initial_token = None;
    if !auth.has_any_credential() {
        let token = store.create_token("initial")?;
        auth.refresh()?;
        initial_token = Some(token);
    }
    let listen = config.listen;
    let workers =
        if config.workers == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { config.workers };
    let certificates = match &config.tls {
        Some(files) => Some(tls::Certificates::load(&files.cert, &files.key)?),
        None => None,
    };
    let options = listener::ListenOptions {
        workers,
        // Database calls run on each worker's blocking threads. SQLite work is short and
        // CPU-bound, so a few threads per worker keep the cores busy; more only add context
        // switches and per-thread allocator arenas (memory).
        blocking_threads_per_worker: BLOCKING_THREADS_PER_WORKER,
        max_connections: config.max_connections,
        timeouts: framing::ReadTimeouts { header: config.header_timeout, body: config.body_timeout },
        tls: certificates.clone(),
    };
    let dry_run = config.dry_run;
    // The handlers need the forwarding's client and counters, so it starts before the server.
    let forwarding = crate::genesys::forwarding::start(store.clone(), &config.genesys, dry_run)?;
    let metrics = Arc::new(Metrics::new(&forwarding.client.stats, &forwarding.outbox));
    let (genesys, outbox) = (forwarding.client.clone(), forwarding.outbox.clone());
    let admin = web::Data::new(admin::AdminState {
        store: store.clone(),
        token_hash: admin::AdminState::token_hash(config.admin_token.as_ref().map(|t| t.expose())),
        client: forwarding.client.clone(),
        recent: forwarding.recent.clone(),
        outbox: forwarding.outbox.clone(),
        mapping: forwarding.mapping.clone(),
        adopt: config.genesys.adopt,
        target: forwarding.target.clone(),
        dry_run,
        roles: forwarding.roles.clone(),
    });
    let roles = forwarding.roles.clone();
    let limits = throttle::Limits::of(&config);
    let state = web::Data::new(AppState { store, auth, config, metrics, genesys, outbox, roles, limits });
    let refresher = state.clone();
    let bound = listener::bind(listen, &options, move || {
        App::new().wrap(from_fn(request_span)).configure(admin::routes(admin.clone())).configure(routes(state.clone()))
    });
    let (addr, server) = match bound {
        Ok(bound) => bound,
        Err(e) => {
            actix_web::rt::spawn(forwarding.stop());
            return Err(e);
        }
    };
    actix_web::rt::spawn(reload_on_hangup(certificates));
    // Revoked tokens stop working within TOKEN_REFRESH.
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(auth::TOKEN_REFRESH);
        loop {
            tick.tick().await;
            let s = refresher.clone();
            let _ = web::block(move || s.auth.refresh()).await;
        }
    });
    Ok(Running { addr, server, initial_token, forwarding, dry_run, tls: options.tls.is_some() })
}

/// Reload the TLS certificate on SIGHUP, and when its files change (looked at every 5 s);
/// connections already open keep theirs. Without TLS a SIGHUP is logged and ignored (rather
/// than ending the process, its default).
async fn reload_on_hangup(certificates: Option<Arc<tls::Certificates>>) {
    let mut hangups = crate::signals::Hangups::catch();
    let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(5));
    loop {
        let signalled = tokio::select! {
            () = hangups.recv() => true,
            _ = tick.tick() => false,
        };
        let Some(certs) = &certificates else {
            if signalled {
                tracing::info!("SIGHUP: nothing to reload (no TLS certificate is configured)");
            }
            continue;
        };
        let reloaded = if signalled { Some(certs.reload()) } else { certs.reload_if_changed() };
        match reloaded {
            Some(Ok(())) => {
                tracing::info!(tls.files = %certs.describe(), "TLS certificate reloaded; new connections use it")
            }
            Some(Err(e)) => tracing::error!(
                tls.files = %certs.describe(),
                error.cause = format!("{e:#}"),
                "TLS certificate not reloaded; the one loaded before stays in use"
            ),
            None => {}
        }
    }
}

/// `scim-bridge serve`: run until SIGINT/SIGTERM.
pub fn serve_blocking(config: Config) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let running = start(config)?;
        if let Some(token) = &running.initial_token {
            eprintln!(
                "scim-bridge: no bearer token existed, so one was created (name 'initial'). It is shown once, here;\n\
                 only its hash is stored. Give it to your identity provider, or revoke it with 'scim-bridge token revoke initial'."
            );
            println!("{token}");
        }
        let scheme = if running.tls { "https" } else { "http" };
        tracing::info!(listen = %running.addr, "scim-bridge listening; SCIM base URL {scheme}://{}/scim/v2", running.addr);
        if running.dry_run {
            eprintln!(
                "\n!!! DRY RUN (SCIM_BRIDGE_DRY_RUN): changes are stored but NOTHING is sent to Genesys; the requests that\n                 !!! would have been sent are recorded: `scim-bridge outbox list --dry-run`.\n"
            );
            tracing::warn!("dry run: nothing is sent to Genesys");
        } else if let Some(sim) = &running.forwarding.simulator {
            let warning = format!(
                "\n!!! NO GENESYS CREDENTIALS CONFIGURED: users are forwarded to the BUILT-IN GENESYS SIMULATOR at http://{addr},\n                 !!! not to Genesys Cloud. See what arrived at http://{addr}/sim/profiles/<userName> (the 8x8 number is at\n                 !!! /contactInfo/0/phone_other/0/value/number). Set SCIM_BRIDGE_GENESYS_CLIENT_ID, _CLIENT_SECRET and _REGION to forward for real.\n",
                addr = sim.addr
            );
            eprintln!("{warning}");
            tracing::warn!(simulator = %sim.addr, "no Genesys credentials: forwarding to the built-in simulator");
        }
        let handle = running.server.handle();
        let server = running.server;
        let forwarding = running.forwarding;
        actix_web::rt::spawn(async move {
            crate::signals::shutdown_signal().await;
            tracing::info!("shutting down: finishing requests in flight");
            handle.stop(true).await;
        });
        let served = server.await.context("server");
        // Requests are finished: let the worker end between two Genesys calls.
        forwarding.stop().await;
        served
    })
}

#[cfg(test)]
mod tests {
    use actix_web::test;

    use super::*;
    use crate::genesys::client::{ClientConfig, Endpoints};
    use crate::metrics::{Format, GenesysStats};

    /// The real routes over a fresh database, with a client that is never called.
    fn state(dir: &tempfile::TempDir) -> web::Data<AppState> {
        let store = Arc::new(Store::open(&crate::store::test_database(dir.path(), "t.db").unwrap()).unwrap());
        let config = Config::default();
        let auth = Authenticator::new(store.clone(), Some("token"), config.jwt.as_ref()).unwrap();
        let endpoints = Endpoints::explicit("http://127.0.0.1:9", "http://127.0.0.1:9");
        let genesys =
            Arc::new(Client::new(ClientConfig::new(endpoints, "id", crate::config::Secret::new("s"))).unwrap());
        let outbox = OutboxStats::default();
        let metrics = Arc::new(Metrics::new(&GenesysStats::default(), &outbox));
        let roles = Arc::default();
        let limits = throttle::Limits::of(&config);
        web::Data::new(AppState { store, auth, config, metrics, genesys, outbox, roles, limits })
    }

    #[actix_web::test]
    async fn the_route_label_is_the_pattern_not_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir);
        let app = test::init_service(App::new().wrap(from_fn(request_span)).configure(routes(state.clone()))).await;
        for path in [
            "/scim/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "/scim/v2/Users/jane.doe@example.com",
            "/scim/v2/Nothing/jane.doe@example.com",
            "/jane.doe@example.com",
        ] {
            let req = test::TestRequest::get().uri(path).insert_header(("Authorization", "Bearer token")).to_request();
            assert_eq!(test::call_service(&app, req).await.status(), 404, "{path}");
        }
        let text = state.metrics.encode(Format::PrometheusText).unwrap();
        let counted = |line: &str| text.lines().any(|l| l == line);
        assert!(
            counted(r#"scim_bridge_http_requests_total{method="GET",route="/scim/v2/Users/{id}",status="404"} 2"#),
            "{text}"
        );
        assert!(counted(r#"scim_bridge_http_requests_total{method="GET",route="unmatched",status="404"} 2"#), "{text}");
        assert!(!text.contains("2819c223") && !text.contains("jane.doe"), "{text}");
    }
}
