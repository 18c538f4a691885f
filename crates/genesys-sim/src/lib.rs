//! A faithful stand-in for Genesys Cloud's public API (`docs/genesys-api-notes.md`, §8 is its
//! checklist): the login host's OAuth token endpoint, the SCIM v2 server, and the Platform user
//! endpoints, all on one in-memory user store, on one HTTP listener; plus faults on demand and
//! an admin surface under `/sim/` for tests.
//!
//! Run it with `scim-bridge genesys-sim --listen ADDR --client-id ID --client-secret SECRET`, or
//! in-process with [`start`] (tests; the bridge when no Genesys credentials are configured).
//! The listener is both the "login" and the "api" host: `POST /oauth/token`, `/api/v2/...`.
//!
//! Every answer carries `inin-correlation-id` (a uuid, = ErrorBody `contextId`) and
//! `inin-ratelimit-allowed`/`-count`/`-reset` (genesys-api-notes §4). `/api/v2` needs a bearer token from
//! `/oauth/token` and counts against that token's fixed window (default 300 per 60 s; both
//! settable, so benchmarks and tests need not wait minutes); over the limit is 429
//! `too.many.requests` with `Retry-After`.
//!
//! Order of checks on `/api/v2`: latency, outage (503), queued `fail_next`, dropped connection,
//! error rate, bearer token (401), 429 storm, rate limit (429), the route, and then the
//! "lost response" faults (`lose_next`, `lose_response_rate`: the work is done, the answer is
//! replaced or the connection dropped, to test idempotent retries). `/oauth/token` sees latency
//! and outages only. `/sim/*` sees none of them.
//!
//! A dropped connection is answered with a body stream that fails before its first chunk:
//! actix-http then returns an error from the connection's dispatcher before it has flushed the
//! response head, and closes the socket, so the client sees the connection close with no
//! answer at all (hyper: "connection closed before message completed").
//!
//! Must not import: `crate::store`, `crate::http` (the bridge's own server); `crate::scim` is
//! used only for its path parser and lenient booleans.

mod admin;
pub mod cli;
mod faults;
mod oauth;
mod patch;
mod path;
mod platform;
mod scim;
mod store;
mod wire;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use futures_util::StreamExt;
use serde_json::Value;
use uuid::Uuid;

pub use cli::SimArgs;
pub use faults::{FaultsUpdate, InvalidFaults, Stats};
pub use oauth::basic_credentials;

use faults::{Faults, RateInfo, RateLimiter};
use oauth::{TokenOutcome, Tokens};
use store::Store;
use wire::{Answer, ApiError, Reply};

/// The OAuth client secret the simulator accepts; never printed (`Debug` redacts it).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(s: impl Into<String>) -> Self {
        ClientSecret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

impl std::str::FromStr for ClientSecret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(ClientSecret(s.to_string()))
    }
}

/// Resolves on the first SIGTERM or SIGINT, for [`serve_blocking`].
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Everything a simulator needs at start.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub listen: SocketAddr,
    /// The one OAuth client-credentials client the login host knows.
    pub client_id: String,
    pub client_secret: ClientSecret,
    /// Requests per token per window (Genesys: 300 per minute, genesys-api-notes §4).
    pub rate_limit_per_minute: u32,
    /// The rate-limit window (Genesys: 60 s).
    pub rate_window: Duration,
    /// Lifetime of issued tokens (Genesys default 86400 s, settable 300..172800 per client).
    pub token_lifetime: Duration,
    /// Groups that exist from the start (Genesys groups must pre-exist, genesys-api-notes §1.11).
    pub seed_groups: Vec<String>,
    /// A JSON seed file: `["Sales", ...]` or `{"groups": [...], "divisions": [...], "users":
    /// [<SCIM create bodies>]}`.
    pub seed_file: Option<PathBuf>,
    /// Faults and behaviour settings in force from the start (and after `DELETE /sim/faults`).
    pub faults: FaultsUpdate,
    /// Largest request body (413 beyond).
    pub max_body_bytes: usize,
    /// HTTP worker threads.
    pub workers: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            client_id: "genesys-sim-client".to_string(),
            client_secret: ClientSecret::new("genesys-sim-secret"),
            rate_limit_per_minute: 300,
            rate_window: Duration::from_secs(60),
            token_lifetime: Duration::from_secs(86_400),
            seed_groups: Vec::new(),
            seed_file: None,
            faults: FaultsUpdate::default(),
            max_body_bytes: 1024 * 1024,
            workers: 1,
        }
    }
}

/// A started simulator.
pub struct SimRunning {
    pub addr: SocketAddr,
    pub server: Server,
    /// Inspect the store and stats, set faults, seed groups, mint tokens.
    pub state: SimHandle,
}

/// Mutable simulator state, behind one lock (every operation is short and in memory).
pub(crate) struct Inner {
    pub store: Store,
    pub tokens: Tokens,
    pub limiter: RateLimiter,
    pub faults: Faults,
    pub stats: Stats,
    /// The last API requests, oldest first (`GET /sim/requests`).
    pub journal: std::collections::VecDeque<JournalEntry>,
}

/// One API request as the simulator received it, and its answer's status (`GET /sim/requests`):
/// what a test compares with what the bridge meant to send.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JournalEntry {
    pub method: String,
    /// The path, percent-decoded (`/api/v2/users/<id>`).
    pub path: String,
    /// The query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// The JSON body, if the request had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The status answered, or `dropped`.
    pub status: String,
}

/// How many requests the journal keeps.
const JOURNAL_LEN: usize = 10_000;

struct Shared {
    config: SimConfig,
    inner: Mutex<Inner>,
}

/// A handle on a simulator's state, for tests and for the process that embeds it.
#[derive(Clone)]
pub struct SimHandle(Arc<Shared>);

impl SimHandle {
    /// A simulator state with the seed groups and seed file of `config` loaded.
    pub fn new(config: SimConfig) -> anyhow::Result<SimHandle> {
        if let Err(e) = config.faults.validate() {
            anyhow::bail!("invalid fault settings: {e}");
        }
        let mut inner = Inner {
            store: Store::new(),
            tokens: Tokens::default(),
            limiter: RateLimiter::default(),
            faults: admin::initial_faults(&config, Instant::now(), true),
            stats: Stats::default(),
            journal: std::collections::VecDeque::new(),
        };
        for g in &config.seed_groups {
            if !g.trim().is_empty() {
                inner.store.seed_group(g.trim());
            }
        }
        if let Some(path) = &config.seed_file {
            load_seed(&mut inner, path).with_context(|| format!("loading seed file {}", path.display()))?;
        }
        Ok(SimHandle(Arc::new(Shared { config, inner: Mutex::new(inner) })))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the plain data half-written in a way
        // that matters to a test double; keep serving.
        self.0.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> &SimConfig {
        &self.0.config
    }

    /// Merge fault settings (as `POST /sim/faults`).
    pub fn set_faults(&self, update: &FaultsUpdate) -> Result<FaultsUpdate, InvalidFaults> {
        update.validate()?;
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.faults.apply(update, now) {
            inner.limiter.clear();
        }
        Ok(inner.faults.view(now))
    }

    /// Back to the start-up settings (as `DELETE /sim/faults`).
    pub fn clear_faults(&self) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.faults = admin::initial_faults(&self.0.config, now, false);
        inner.limiter.clear();
    }

    /// The fault settings in force.
    pub fn faults(&self) -> FaultsUpdate {
        self.lock().faults.view(Instant::now())
    }

    /// A copy of the statistics.
    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    pub fn reset_stats(&self) {
        self.lock().stats = Stats::default();
    }

    /// The API requests received (the last 10,000), oldest first; `/oauth/token` excluded.
    pub fn requests(&self) -> Vec<JournalEntry> {
        self.lock().journal.iter().cloned().collect()
    }

    /// Forget the requests received so far.
    pub fn clear_requests(&self) {
        self.lock().journal.clear();
    }

    /// The profile of `GET /sim/profiles/{userName}`.
    pub fn profile(&self, user_name: &str) -> Option<Value> {
        let inner = self.lock();
        inner.store.user_by_name_any(user_name).map(|u| admin::profile(&inner.store, u))
    }

    /// The id of the non-deleted user with this userName.
    pub fn user_id(&self, user_name: &str) -> Option<String> {
        self.lock().store.user_by_name(user_name).map(|u| u.id.clone())
    }

    /// Seed a group (idempotent by name); its id.
    pub fn seed_group(&self, name: &str) -> String {
        self.lock().store.seed_group(name).id.clone()
    }

    /// The member ids of a group.
    pub fn group_members(&self, name: &str) -> Option<Vec<String>> {
        let inner = self.lock();
        inner.store.groups().iter().find(|g| g.display_name.eq_ignore_ascii_case(name)).map(|g| g.members.clone())
    }

    /// A valid access token, without the OAuth round trip.
    pub fn issue_token(&self) -> String {
        let lifetime = self.0.config.token_lifetime;
        self.lock().tokens.issue(Instant::now(), lifetime)
    }

    /// Expire every token.
    pub fn expire_tokens(&self) {
        self.lock().tokens.expire_all();
    }

    /// Forget users, memberships and stats.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.store.clear_users();
        inner.stats = Stats::default();
    }
}

/// Read a seed file into the store.
fn load_seed(inner: &mut Inner, path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let v: Value = serde_json::from_str(&text).context("the seed file is not JSON")?;
    let (groups, divisions, users) = match &v {
        Value::Array(groups) => (groups.clone(), Vec::new(), Vec::new()),
        Value::Object(o) => {
            for k in o.keys() {
                if !["groups", "divisions", "users"].contains(&k.as_str()) {
                    anyhow::bail!("unknown key {k:?} (expected groups, divisions, users)");
                }
            }
            let list = |k: &str| match o.get(k) {
                None => Ok(Vec::new()),
                Some(Value::Array(a)) => Ok(a.clone()),
                Some(_) => Err(anyhow::anyhow!("{k} must be a list")),
            };
            (list("groups")?, list("divisions")?, list("users")?)
        }
        _ => anyhow::bail!("expected a list of group names or an object {{groups, divisions, users}}"),
    };
    for d in divisions {
        let Some(name) = d.as_str().or_else(|| d.get("name").and_then(Value::as_str)) else {
            anyhow::bail!("a division must be a name or {{\"name\": ...}}: {d}");
        };
        inner.store.division_by_name(name);
    }
    for g in groups {
        let name = g.as_str().or_else(|| g.get("displayName").and_then(Value::as_str));
        let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
            anyhow::bail!("a group must be a name or {{\"displayName\": ...}}: {g}");
        };
        inner.store.seed_group(name);
    }
    for u in users {
        let Some(doc) = u.as_object() else {
            anyhow::bail!("a user must be a SCIM user object: {u}");
        };
        scim::insert_user(inner, doc).map_err(|e| anyhow::anyhow!("seed user {u}: {}", e.message))?;
    }
    Ok(())
}

/// Bind and start serving; returns once listening. Call from within an actix system.
pub fn start(config: SimConfig) -> anyhow::Result<SimRunning> {
    let listen = config.listen;
    let workers = config.workers.max(1);
    let handle = SimHandle::new(config)?;
    let data = web::Data::new(handle.clone());
    let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(dispatch)))
        .workers(workers)
        .disable_signals()
        .bind(listen)
        .with_context(|| format!("binding {listen}"))?;
    let addr = server.addrs().first().copied().unwrap_or(listen);
    let server = server.run();
    Ok(SimRunning { addr, server, state: handle })
}

/// `scim-bridge genesys-sim`: run until SIGINT/SIGTERM.
pub fn serve_blocking(config: SimConfig) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let running = start(config)?;
        let c = running.state.config();
        tracing::info!(
            listen = %running.addr,
            rate_limit = c.rate_limit_per_minute,
            window_s = c.rate_window.as_secs(),
            "genesys simulator listening"
        );
        eprintln!(
            "genesys-sim: listening on http://{addr} — login base http://{addr} (POST /oauth/token), API base \
             http://{addr}/api/v2, SCIM base http://{addr}/api/v2/scim/v2; admin routes under /sim/ (no auth: keep it on loopback)",
            addr = running.addr
        );
        let handle = running.server.handle();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            handle.stop(true).await;
        });
        running.server.await.context("server")
    })
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// What a route handler sees of the request.
pub(crate) struct Ctx<'r> {
    /// `scheme://host` of the request (for `meta.location`).
    pub base: String,
    pub query: Vec<(String, String)>,
    /// Why the query string could not be read (400), if it could not.
    pub query_error: Option<String>,
    pub if_match: Option<&'r str>,
    pub if_none_match: Option<&'r str>,
    pub content_type: Option<&'r str>,
    pub body: &'r [u8],
    /// The bearer token, once checked.
    pub token: Option<&'r str>,
    pub config: &'r SimConfig,
}

impl Ctx<'_> {
    /// The first value of a query parameter (name case-insensitive).
    pub fn query_one(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a multi-valued query parameter, repeated (`a=x&a=y`) or comma-separated.
    pub fn query_list(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// The JSON body. SCIM takes `application/scim+json` or `application/json`, Platform only
    /// `application/json` (genesys-api-notes §1.1, swagger `consumes`); others are 415.
    pub fn json_body(&self, scim: bool) -> Result<Value, ApiError> {
        let media = self.content_type.map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
        let ok = match media.as_deref() {
            Some("application/json") => true,
            Some("application/scim+json") => scim,
            _ => false,
        };
        if !ok {
            return Err(ApiError::unsupported_media_type());
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("The request body is empty"));
        }
        serde_json::from_slice(self.body)
            .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))
    }
}

/// Decode `%XX` escapes of a path segment.
fn percent_decode(seg: &str) -> String {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// What to answer.
enum Outcome {
    Reply(Reply),
    Drop,
}

/// The one handler: routes by hand, so paths are case-sensitive and 404/405 are Genesys's.
async fn dispatch(req: HttpRequest, payload: web::Payload, sim: web::Data<SimHandle>) -> HttpResponse {
    let sim = sim.get_ref().clone();
    let correlation = Uuid::new_v4().to_string();
    let segs: Vec<String> = req.path().split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = req.method().as_str().to_string();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let info = req.connection_info().clone();
    let base = format!("{}://{}", info.scheme(), info.host());
    let config = &sim.0.config;

    let body = match read_body(payload, config.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => {
            let rate = RateInfo { allowed: config.rate_limit_per_minute, count: 0, reset_secs: 1 };
            return respond(e.into_reply(&correlation), &correlation, rate);
        }
    };
    let (query, query_error) = match web::Query::<Vec<(String, String)>>::from_query(req.query_string()) {
        Ok(q) => (q.into_inner(), None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };

    if segs.first() == Some(&"sim") {
        let now = Instant::now();
        let mut inner = sim.lock();
        let answer = admin::route(&mut inner, config, &method, &segs[1..], &body, &base, now);
        let rate = inner.limiter.peek("", now, inner.faults.rate_limit, inner.faults.window);
        drop(inner);
        let reply = answer.unwrap_or_else(|e| e.into_reply(&correlation));
        return respond(reply, &correlation, rate);
    }

    let latency = sim.lock().faults.latency;
    if !latency.is_zero() {
        actix_web::rt::time::sleep(latency).await;
    }

    let ctx = Ctx {
        base,
        query,
        query_error,
        if_match: header("if-match"),
        if_none_match: header("if-none-match"),
        content_type: header("content-type"),
        body: &body,
        token: None,
        config,
    };
    let (outcome, rate) = {
        let mut inner = sim.lock();
        handle(&mut inner, ctx, &method, &segs, header("authorization"), &correlation)
    };
    match outcome {
        Outcome::Reply(reply) => respond(reply, &correlation, rate),
        Outcome::Drop => dropped_connection(),
    }
}

/// Everything after the body is read, under the lock.
fn handle<'r>(
    inner: &mut Inner,
    mut ctx: Ctx<'r>,
    method: &str,
    segs: &[&str],
    authorization: Option<&'r str>,
    correlation: &str,
) -> (Outcome, RateInfo) {
    let now = Instant::now();
    let (limit, window) = (inner.faults.rate_limit, inner.faults.window);
    let mut rate = inner.limiter.peek("", now, limit, window);
    let label = route_label(method, segs);
    let (outcome, status) = 'decided: {
        let fail = |inner: &mut Inner, e: ApiError| {
            let status = e.status;
            let e = with_retry_after_override(inner, e);
            (Outcome::Reply(e.into_reply(correlation)), status.to_string())
        };
        if let Some(why) = &ctx.query_error {
            break 'decided fail(inner, ApiError::bad_request(format!("The query string is malformed: {why}")));
        }
        let api = segs.first() == Some(&"api");
        let oauth = segs == ["oauth", "token"];
        if !api && !oauth {
            break 'decided fail(inner, ApiError::not_found());
        }
        if inner.faults.in_outage(now) {
            inner.stats.fault("outage");
            break 'decided fail(inner, ApiError::unavailable());
        }
        if oauth {
            if method != "POST" {
                break 'decided fail(inner, ApiError::method_not_allowed(method));
            }
            let form = web::Query::<Vec<(String, String)>>::from_query(std::str::from_utf8(ctx.body).unwrap_or(""))
                .map(web::Query::into_inner)
                .unwrap_or_default();
            let config = ctx.config;
            let client = oauth::Client {
                id: &config.client_id,
                secret: config.client_secret.expose(),
                lifetime: config.token_lifetime,
            };
            match oauth::token_request(&mut inner.tokens, &client, authorization, ctx.content_type, &form, now) {
                TokenOutcome::Issued(r) => {
                    inner.stats.tokens_issued += 1;
                    break 'decided (Outcome::Reply(r), "200".to_string());
                }
                TokenOutcome::Refused(r) => {
                    inner.stats.token_refusals += 1;
                    let s = r.status.to_string();
                    break 'decided (Outcome::Reply(r), s);
                }
            }
        }
        // Gateway-level faults: before authentication, like a load balancer's.
        if let Some(s) = inner.faults.fail_next.pop_front() {
            if s == 0 {
                inner.stats.fault("fail_next_drop");
                break 'decided (Outcome::Drop, "dropped".to_string());
            }
            inner.stats.fault(&format!("fail_next_{s}"));
            break 'decided fail(inner, ApiError::injected(s));
        }
        if inner.faults.drop_rate > 0.0 && rand::random::<f64>() < inner.faults.drop_rate {
            inner.stats.fault("drop");
            break 'decided (Outcome::Drop, "dropped".to_string());
        }
        if inner.faults.error_rate > 0.0 && rand::random::<f64>() < inner.faults.error_rate {
            let choices = &inner.faults.error_status;
            let s = choices.get(rand::random_range(0..choices.len().max(1))).copied().unwrap_or(503);
            inner.stats.fault(&format!("error_{s}"));
            break 'decided fail(inner, ApiError::injected(s));
        }
        let token = match inner.tokens.check(authorization, now) {
            Ok(t) => t,
            Err(e) => break 'decided fail(inner, e),
        };
        ctx.token = Some(token);
        rate = inner.limiter.peek(token, now, limit, window);
        if let Some(left) = inner.faults.storm_left(now) {
            inner.stats.fault("storm_429");
            break 'decided fail(inner, ApiError::too_many_requests(left));
        }
        inner.limiter.prune(now, window);
        match inner.limiter.admit(token, now, limit, window) {
            Ok(info) => rate = info,
            Err(info) => {
                rate = info;
                break 'decided fail(inner, ApiError::rate_limited(info.reset_secs, limit));
            }
        }
        let answer = route_api(inner, &ctx, method, &segs[1..], now);
        // Responses lost after the work is done (the store has changed).
        if let Some(s) = inner.faults.lose_next.pop_front() {
            if s == 0 {
                inner.stats.fault("lose_next_drop");
                break 'decided (Outcome::Drop, "dropped".to_string());
            }
            inner.stats.fault(&format!("lose_next_{s}"));
            break 'decided fail(inner, ApiError::injected(s));
        }
        if inner.faults.lose_rate > 0.0 && rand::random::<f64>() < inner.faults.lose_rate {
            inner.stats.fault("lose_response");
            break 'decided (Outcome::Drop, "dropped".to_string());
        }
        match answer {
            Ok(reply) => {
                let s = reply.status.to_string();
                (Outcome::Reply(reply), s)
            }
            Err(e) => fail(inner, e),
        }
    };
    inner.stats.record(&label, &status);
    if segs.first() == Some(&"api") {
        if inner.journal.len() >= JOURNAL_LEN {
            inner.journal.pop_front();
        }
        inner.journal.push_back(JournalEntry {
            method: method.to_string(),
            path: format!("/{}", segs.join("/")),
            query: ctx.query.clone(),
            body: serde_json::from_slice(ctx.body).ok(),
            status: status.clone(),
        });
    }
    tracing::debug!(http.method = method, route = %label, http.status = %status, "genesys simulator");
    (outcome, rate)
}

/// A configured `Retry-After` replaces the computed one on 429s and is added to 503s.
fn with_retry_after_override(inner: &Inner, mut e: ApiError) -> ApiError {
    if let Some(secs) = inner.faults.retry_after
        && (e.status == 429 || e.status == 503)
    {
        e.retry_after = Some(secs);
        if e.status == 429 {
            e.message = format!("Rate limit exceeded the maximum. Retry the request in [{secs}] seconds");
        }
    }
    e
}

/// The route pattern for stats: the id after `users`/`groups` shown as `{id}`, the name after
/// `resourcetypes`/`schemas` as `{name}`.
fn route_label(method: &str, segs: &[&str]) -> String {
    if segs.first() != Some(&"api") && segs != ["oauth", "token"] {
        return format!("{method} /(unknown)");
    }
    let pattern: Vec<&str> = segs
        .iter()
        .enumerate()
        .map(|(i, s)| match (i.checked_sub(1).map(|p| segs[p]), i + 1 == segs.len()) {
            (Some("users" | "groups"), true) => "{id}",
            (Some("resourcetypes" | "schemas"), true) => "{name}",
            _ => s,
        })
        .collect();
    format!("{method} /{}", pattern.join("/"))
}

/// `/api/...` routes (`segs` without the leading `api`).
fn route_api(inner: &mut Inner, ctx: &Ctx, method: &str, segs: &[&str], now: Instant) -> Answer {
    let not_allowed = || Err(ApiError::method_not_allowed(method));
    match segs {
        // `/api/v2/scim/v2/...`, and the legacy duplicates `/api/v2/scim/...` (genesys-api-notes §1.1).
        ["v2", "scim", rest @ ..] => scim::route(inner, ctx, method, rest),
        ["v2", "users"] => match method {
            "GET" => platform::list_users(inner, ctx),
            "POST" => platform::create_user(inner, ctx),
            _ => not_allowed(),
        },
        ["v2", "users", id] => match method {
            "GET" => platform::get_user(inner, ctx, id),
            "PATCH" => platform::patch_user(inner, ctx, id),
            "DELETE" => platform::delete_user(inner, id),
            _ => not_allowed(),
        },
        ["v2", "authorization", "divisions"] if method == "GET" => platform::list_divisions(inner),
        ["v2", "authorization", "divisions", "home"] if method == "GET" => platform::home_division(inner),
        ["v2", "tokens", "me"] if method == "GET" => platform::token_info(inner, ctx, now),
        _ => Err(ApiError::not_found()),
    }
}

/// The HTTP response with the headers every Genesys answer carries (genesys-api-notes §4).
fn respond(reply: Reply, correlation: &str, rate: RateInfo) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut b = HttpResponse::build(status);
    b.insert_header(("inin-correlation-id", correlation))
        .insert_header(("inin-ratelimit-allowed", rate.allowed.to_string()))
        .insert_header(("inin-ratelimit-count", rate.count.to_string()))
        .insert_header(("inin-ratelimit-reset", rate.reset_secs.to_string()))
        .insert_header(("cache-control", "no-cache, no-store, must-revalidate"))
        .insert_header(("pragma", "no-cache"))
        .insert_header(("expires", "0"));
    for (name, value) in reply.headers {
        b.insert_header((name, value));
    }
    match reply.body {
        Some(v) if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED => {
            b.content_type(reply.content_type).body(v.to_string())
        }
        _ => b.finish(),
    }
}

/// A response whose body fails before its first byte: the connection closes unanswered (see
/// the module doc).
fn dropped_connection() -> HttpResponse {
    let failing = futures_util::stream::once(async {
        Err::<web::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "genesys simulator: connection dropped on purpose",
        ))
    });
    HttpResponse::Ok().streaming(failing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("jane%40example.com"), "jane@example.com");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("plain"), "plain");
    }

    #[test]
    fn route_labels_hide_ids() {
        assert_eq!(route_label("GET", &["api", "v2", "scim", "v2", "users", "x"]), "GET /api/v2/scim/v2/users/{id}");
        assert_eq!(route_label("PATCH", &["api", "v2", "users", "x"]), "PATCH /api/v2/users/{id}");
        assert_eq!(route_label("POST", &["oauth", "token"]), "POST /oauth/token");
        assert_eq!(route_label("GET", &["favicon.ico"]), "GET /(unknown)");
        assert_eq!(route_label("GET", &["api", "v2", "scim", "groups", "g"]), "GET /api/v2/scim/groups/{id}");
        assert_eq!(
            route_label("GET", &["api", "v2", "scim", "v2", "schemas", "urn"]),
            "GET /api/v2/scim/v2/schemas/{name}"
        );
        assert_eq!(route_label("GET", &["api", "v2", "scim", "v2", "users"]), "GET /api/v2/scim/v2/users");
    }
}
