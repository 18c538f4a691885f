//! A faithful stand-in for Genesys Cloud's public API (`docs/genesys-api-notes.md`, §8 is its
//! checklist): the login host's OAuth token endpoint, the SCIM v2 server, and the Platform user
//! and group endpoints, all on one in-memory user store, on one HTTP listener; plus faults on demand and
//! an admin surface under `/sim/` for tests.
//!
//! Run it with `scim-bridge genesys-sim --listen ADDR --client-id ID --client-secret SECRET`, or
//! in-process with [`start`] (tests; the bridge when no Genesys credentials are configured).
//! The listener is both the "login" and the "api" host: `POST /oauth/token`, `/api/v2/...`.
//!
//! This file owns the configuration ([`SimConfig`]), the state behind one lock (`Inner`, the
//! request journal, the seed file) with its handle for tests ([`SimHandle`]), and what a route
//! handler sees of a request (`Ctx`). The HTTP side (the listener, the order of checks, faults,
//! dropped connections, Genesys's headers) is `server`'s; the routes are `oauth`, `scim`,
//! `platform` (users), `platform_groups`, `authorization` (the role catalogue and role grants,
//! whose data is `roles`'s) and `admin`; `seed` loads an existing organisation
//! (`--seed-file`, `POST /sim/seed`). Where no source settles Genesys's behaviour the simulator
//! is strict, with a [`Leniency`] for the other side (docs/genesys-api-notes.md §8, "Behaviours
//! and their evidence").
//!
//! Must not import: anything of the bridge (neither `scim` nor `scim-bridge`: the simulator is an
//! independent model to test the bridge against).

mod admin;
mod authorization;
pub mod cli;
mod faults;
mod oauth;
mod patch;
mod path;
mod platform;
mod platform_groups;
mod roles;
mod scim;
mod seed;
mod server;
mod store;
#[cfg(test)]
mod tests;
mod wire;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use anyhow::Context;
use serde_json::Value;

pub use admin::GrantInfo;
pub use cli::SimArgs;
pub use faults::{FaultsUpdate, InvalidFaults, InvalidRateLimitScope, Leniency, RateLimitScope, Stats};
pub use oauth::basic_credentials;
pub use server::{serve_blocking, start};

use faults::{Faults, RateLimiter};
use oauth::Tokens;
use store::Store;
use wire::ApiError;

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

/// Everything a simulator needs at start.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub listen: SocketAddr,
    /// The one OAuth client-credentials client the login host knows.
    pub client_id: String,
    pub client_secret: ClientSecret,
    /// Requests per window for each token, or each client under [`RateLimitScope::Client`]
    /// (Genesys: 300 per minute per token, genesys-api-notes §4).
    pub rate_limit_per_minute: u32,
    /// The rate-limit window (Genesys: 60 s).
    pub rate_window: Duration,
    /// What is counted together in one window: each token (Genesys, the default) or every
    /// token of one OAuth client (several bridge replicas sharing a client share one limit).
    pub rate_limit_scope: RateLimitScope,
    /// Lifetime of issued tokens (Genesys default 86400 s, settable 300..172800 per client).
    pub token_lifetime: Duration,
    /// Groups that exist from the start (Genesys groups must pre-exist, genesys-api-notes §1.11).
    pub seed_groups: Vec<String>,
    /// A JSON seed file, the body of `POST /sim/seed` (the format is in `seed.rs` and
    /// docs/genesys-api-notes.md §8): `["Sales", ...]` or `{"divisions": [...], "roles":
    /// [{"name", "permissions", "description"?}], "users": [<SCIM users, with "roles": [<role
    /// names>]>], "groups": ["Sales" or {"displayName", "members": [<userNames>]}]}`.
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
            rate_limit_scope: RateLimitScope::Token,
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
    /// When the simulator started: journal entries carry their time since.
    pub started: Instant,
}

impl Inner {
    /// The statistics with the settings they report (`GET /sim/stats`).
    pub(crate) fn stats_view(&self) -> Stats {
        Stats { rate_limit_scope: self.faults.rate_limit_scope, ..self.stats.clone() }
    }
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
    /// When it arrived, in milliseconds since the simulator started (rates over time).
    pub at_ms: u64,
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
            started: Instant::now(),
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

    /// A copy of the statistics (as `GET /sim/stats`).
    pub fn stats(&self) -> Stats {
        self.lock().stats_view()
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

    /// Seed an organisation, as `POST /sim/seed` does: all of it or, on error, nothing. The
    /// answer names what was created (`{"users": [{"userName", "id"}], "groups": [...],
    /// "divisions": [...], "roles": [...]}`); the error says what is wrong with the seed.
    pub fn seed(&self, seed: &Value) -> Result<Value, String> {
        let mut inner = self.lock();
        seed_copy(&mut inner.store, seed)
    }

    /// The direct grants of a user (by id, or by userName: the non-deleted user of that name, else
    /// the last deleted one), oldest first; `None` for no such user.
    pub fn grants(&self, user: &str) -> Option<Vec<GrantInfo>> {
        let inner = self.lock();
        let u = inner.store.user(user).or_else(|| inner.store.user_by_name_any(user))?;
        Some(admin::grant_infos(&inner.store, &u.id))
    }

    /// The id of the role with this name (exact, any case).
    pub fn role_id(&self, name: &str) -> Option<String> {
        self.lock().store.role_by_name(name).map(|r| r.id.clone())
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

    /// A valid access token for the configured client, without the OAuth round trip.
    pub fn issue_token(&self) -> String {
        let config = &self.0.config;
        self.lock().tokens.issue(Instant::now(), config.token_lifetime, &config.client_id)
    }

    /// Expire every token.
    pub fn expire_tokens(&self) {
        self.lock().tokens.expire_all();
    }

    /// Forget users, memberships, grants and stats.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.store.clear_users();
        inner.stats = Stats::default();
    }
}

/// Apply a seed to a copy of `store`, and keep the copy only if all of it applied.
pub(crate) fn seed_copy(store: &mut Store, seed: &Value) -> Result<Value, String> {
    let mut copy = store.clone();
    let report = seed::apply(&mut copy, seed)?;
    *store = copy;
    Ok(report)
}

/// Read a seed file into the store (the format is `seed`'s; the same as `POST /sim/seed`).
fn load_seed(inner: &mut Inner, path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let v: Value = serde_json::from_str(&text).context("the seed file is not JSON")?;
    seed::apply(&mut inner.store, &v).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
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
