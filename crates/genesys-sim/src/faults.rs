//! Faults on demand, the rate limiter, and the request statistics of the simulator.
//!
//! Owns: the fault settings (`POST /sim/faults` and the `genesys-sim` flags), the fixed-window
//! rate limiter of genesys-api-notes §4 (N requests per window, default 300 per 60 s, with the
//! `inin-ratelimit-*` numbers), counted per access token as Genesys counts them or, with
//! [`RateLimitScope::Client`], per OAuth client (all of its tokens together), the leniency
//! switches ([`Leniency`]: the lenient side of the behaviours no public source settles; strict
//! by default), and [`Stats`] (`GET /sim/stats`).
//!
//! Must not import: actix, or anything of the bridge.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A change to the fault settings: each field present replaces the current value, each field
/// absent leaves it alone (`POST /sim/faults` merges; `DELETE /sim/faults` restores the start-up
/// settings). Unknown fields are refused, so a typo does not silently inject nothing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsUpdate {
    /// Probability (0..=1) that an `/api/v2` request fails with one of `error_status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// Statuses drawn (uniformly) for `error_rate` failures; default 502, 503, 504.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_status: Option<Vec<u16>>,
    /// Requests allowed per window for each token, or each OAuth client under
    /// `rate_limit_scope: "client"` (genesys-api-notes §4: 300 per minute per token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_minute: Option<u32>,
    /// Length of the rate-limit window in seconds (60 in Genesys; shorter for tests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<u64>,
    /// What is counted together against the limit: `"token"` (each access token on its own,
    /// as Genesys counts) or `"client"` (every token of one OAuth client in one window). A change
    /// restarts every window, as a change of the limit or the window does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_scope: Option<RateLimitScope>,
    /// `Retry-After` sent on every 429 (and on injected 503s) instead of the computed value;
    /// 0 removes the override. Over 180 makes Genesys SDKs give up (genesys-api-notes §4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// Answer every `/api/v2` request with 429 for this many seconds from now (0 ends a storm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storm_429_for_seconds: Option<u64>,
    /// Delay every `/api/v2` and `/oauth/token` response by this many milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Probability (0..=1) that an `/api/v2` request is answered by closing the connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop_connection_rate: Option<f64>,
    /// Answer every `/api/v2` and `/oauth/token` request with 503 for this many seconds from now
    /// (0 ends an outage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outage_for_seconds: Option<u64>,
    /// Statuses for the next `/api/v2` requests, one each, in order; 0 drops the connection.
    /// Replaces the queue. Deterministic, unlike the rates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_next: Option<Vec<u16>>,
    /// Statuses for the next `/api/v2` requests that reach their route, one each: the request
    /// is carried out (the store changes) and then answered with this status instead, 0 drops
    /// the connection: a response lost after the commit, to test idempotent retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lose_next: Option<Vec<u16>>,
    /// Probability (0..=1) that an `/api/v2` request is carried out and then its connection
    /// dropped before the answer (a response lost after the commit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lose_response_rate: Option<f64>,
    /// Status of a version mismatch: 409 (Genesys's response tables, the default) or 400
    /// (`invalidVers` on SCIM, "does not match the current version" on Platform; genesys-api-notes §1.9, §2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_conflict_status: Option<u16>,
    /// The next N Platform `GET /api/v2/users/{id}` are each followed by an edit made in
    /// Genesys (the user's title changes, so its version goes up): the version the caller read is
    /// stale and its PATCH meets a version conflict, as when an admin edits the user meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edit_after_next_reads: Option<u32>,
    /// userNames held by Genesys users the caller cannot see (in a division its OAuth client may
    /// not read): a create with one of them is 409, and no lookup finds them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_user_names: Option<Vec<String>>,
    /// Whether a SCIM list with `count` over 25 and neither `attributes` nor
    /// `excludedAttributes` is answered with 429 (genesys-api-notes §1.8 "may ... return a 429"). Default on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub large_page_429: Option<bool>,
    /// The lenient side of the behaviours no public source settles ([`Leniency`]); the list
    /// replaces the current one, `[]` is strict everywhere (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lenient: Option<Vec<Leniency>>,
}

/// A behaviour of Genesys that no public source settles, where the simulator takes the strict
/// side (the one that breaks a careless client) unless told to be lenient: `POST /sim/faults`
/// `{"lenient": ["put-keeps-omitted", ...]}` or `genesys-sim --lenient put-keeps-omitted,...`.
/// docs/genesys-api-notes.md §8, "Behaviours and their evidence", gives the source of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Leniency {
    /// A SCIM user PUT keeps the attributes its body leaves out (strict: they are cleared,
    /// RFC 7644 §3.5.1; unknown for Genesys, genesys-api-notes §11).
    PutKeepsOmitted,
    /// Removing a group member who is not in the group (SCIM PATCH `members[value eq "x"]` or a
    /// value list; Platform `DELETE /api/v2/groups/{id}/members?ids=`) succeeds and does nothing
    /// (strict: SCIM 400 `noTarget`, Platform 400; genesys-api-notes §13).
    RemoveAbsentMember,
    /// A SCIM PATCH `remove` whose filtered path matches nothing (`phoneNumbers[type eq
    /// "eightbyeight"]` on a user without one) succeeds and does nothing (strict: 400 `noTarget`,
    /// RFC 7644 §3.5.2.2 and §3.12; genesys-api-notes §11).
    RemoveUnmatchedFilter,
    /// A SCIM PATCH `replace` whose filtered path matches nothing creates the element from the
    /// filter, as `add` does (strict: 400 `noTarget`, RFC 7644 §3.5.2.3).
    ReplaceUnmatchedFilterAdds,
    /// A SCIM PATCH `add`/`replace` with the value `""` clears the attribute, like `null`
    /// (strict: `""` writes nothing and the old value stays; "empty values won't overwrite
    /// existing data", genesys-api-notes §11 [community]).
    EmptyStringClears,
    /// `GET /api/v2/authorization/roles?name=X` lists only the roles called exactly X (any case)
    /// (strict: every role whose name contains X, any case, so `name=employee` also lists
    /// "Contract employee"; how Genesys matches is unknown, genesys-api-notes §12).
    ExactRoleName,
}

impl Leniency {
    /// The name used by `--lenient` and `POST /sim/faults`.
    pub fn name(self) -> &'static str {
        match self {
            Leniency::PutKeepsOmitted => "put-keeps-omitted",
            Leniency::RemoveAbsentMember => "remove-absent-member",
            Leniency::RemoveUnmatchedFilter => "remove-unmatched-filter",
            Leniency::ReplaceUnmatchedFilterAdds => "replace-unmatched-filter-adds",
            Leniency::EmptyStringClears => "empty-string-clears",
            Leniency::ExactRoleName => "exact-role-name",
        }
    }
}

/// The leniencies in force: none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Lenient(std::collections::BTreeSet<Leniency>);

impl Lenient {
    pub fn allows(&self, l: Leniency) -> bool {
        self.0.contains(&l)
    }

    pub fn of(list: &[Leniency]) -> Lenient {
        Lenient(list.iter().copied().collect())
    }

    pub fn list(&self) -> Vec<Leniency> {
        self.0.iter().copied().collect()
    }
}

/// What the rate limiter counts together in one window (`--rate-limit-scope`,
/// `POST /sim/faults {"rate_limit_scope": ...}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitScope {
    /// Each access token has its own window: Genesys's `client.credentials.token.rate.per.minute`
    /// (genesys-api-notes §4), so a client that fetches a second token gets a second allowance.
    #[default]
    Token,
    /// Every token issued to one OAuth client id shares one window: several bridge replicas
    /// sharing a client share one limit, which the replica tests need. A test setting, not a
    /// claim about Genesys (genesys-api-notes §8, "Behaviours and their evidence").
    Client,
}

impl RateLimitScope {
    /// The name used by `--rate-limit-scope`, `POST /sim/faults` and `GET /sim/stats`.
    pub fn name(self) -> &'static str {
        match self {
            RateLimitScope::Token => "token",
            RateLimitScope::Client => "client",
        }
    }

    /// The limiter's key for a request made with `token`, issued to `client_id`. The two
    /// scopes' keys never collide (the limiter is cleared on a change of scope anyway).
    pub(crate) fn key(self, token: &str, client_id: &str) -> String {
        match self {
            RateLimitScope::Token => format!("token:{token}"),
            RateLimitScope::Client => format!("client:{client_id}"),
        }
    }
}

impl std::fmt::Display for RateLimitScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A rate-limit scope that is neither `token` nor `client`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown rate-limit scope {0:?}: use \"token\" (each access token counted on its own, as Genesys does) or \"client\" (all tokens of one OAuth client counted together)"
)]
pub struct InvalidRateLimitScope(pub String);

impl std::str::FromStr for RateLimitScope {
    type Err = InvalidRateLimitScope;

    /// `token` or `client`, any case, surrounding blanks ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "token" => Ok(RateLimitScope::Token),
            "client" => Ok(RateLimitScope::Client),
            _ => Err(InvalidRateLimitScope(s.to_string())),
        }
    }
}

/// A fault setting that is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFaults(pub String);

impl FaultsUpdate {
    /// Check every present field's range.
    pub fn validate(&self) -> Result<(), InvalidFaults> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("drop_connection_rate", self.drop_connection_rate),
            ("lose_response_rate", self.lose_response_rate),
        ] {
            if let Some(r) = rate
                && !(0.0..=1.0).contains(&r)
            {
                return Err(InvalidFaults(format!("{name} must be between 0 and 1, not {r}")));
            }
        }
        if let Some(list) = &self.error_status {
            if list.is_empty() {
                return Err(InvalidFaults("error_status must list at least one status".into()));
            }
            if let Some(s) = list.iter().find(|s| !(400..=599).contains(*s)) {
                return Err(InvalidFaults(format!("error_status entries must be 400..599, not {s}")));
            }
        }
        for (name, list) in [("fail_next", &self.fail_next), ("lose_next", &self.lose_next)] {
            if let Some(list) = list
                && let Some(s) = list.iter().find(|s| **s != 0 && !(400..=599).contains(*s))
            {
                return Err(InvalidFaults(format!("{name} entries must be 0 (drop) or 400..599, not {s}")));
            }
        }
        if self.rate_limit_per_minute == Some(0) {
            return Err(InvalidFaults("rate_limit_per_minute must be at least 1".into()));
        }
        if self.window_seconds == Some(0) {
            return Err(InvalidFaults("window_seconds must be at least 1".into()));
        }
        if let Some(s) = self.version_conflict_status
            && s != 400
            && s != 409
        {
            return Err(InvalidFaults(format!("version_conflict_status must be 400 or 409, not {s}")));
        }
        Ok(())
    }
}

/// The effective fault and limit settings.
#[derive(Debug, Clone)]
pub(crate) struct Faults {
    pub error_rate: f64,
    pub error_status: Vec<u16>,
    pub rate_limit: u32,
    pub window: Duration,
    pub rate_limit_scope: RateLimitScope,
    pub retry_after: Option<u64>,
    pub storm_until: Option<Instant>,
    pub latency: Duration,
    pub drop_rate: f64,
    pub outage_until: Option<Instant>,
    pub fail_next: VecDeque<u16>,
    pub lose_next: VecDeque<u16>,
    pub lose_rate: f64,
    pub version_conflict_status: u16,
    pub large_page_429: bool,
    pub edit_after_reads: u32,
    pub hidden_user_names: Vec<String>,
    pub lenient: Lenient,
}

impl Faults {
    /// Whether `user_name` is held by a user the caller cannot see.
    pub fn hides(&self, user_name: &str) -> bool {
        self.hidden_user_names.iter().any(|n| n.eq_ignore_ascii_case(user_name))
    }

    /// No faults, the given limit, window and scope.
    pub fn new(rate_limit: u32, window: Duration, rate_limit_scope: RateLimitScope) -> Self {
        Faults {
            error_rate: 0.0,
            error_status: vec![502, 503, 504],
            rate_limit: rate_limit.max(1),
            window: window.max(Duration::from_secs(1)),
            rate_limit_scope,
            retry_after: None,
            storm_until: None,
            latency: Duration::ZERO,
            drop_rate: 0.0,
            outage_until: None,
            fail_next: VecDeque::new(),
            lose_next: VecDeque::new(),
            lose_rate: 0.0,
            version_conflict_status: 409,
            large_page_429: true,
            edit_after_reads: 0,
            hidden_user_names: Vec::new(),
            lenient: Lenient::default(),
        }
    }

    /// Merge an update (already validated). Returns whether the limit, the window or the scope
    /// changed, in which case the caller restarts every window.
    pub fn apply(&mut self, u: &FaultsUpdate, now: Instant) -> bool {
        let before = (self.rate_limit, self.window, self.rate_limit_scope);
        if let Some(v) = u.error_rate {
            self.error_rate = v;
        }
        if let Some(v) = &u.error_status {
            self.error_status = v.clone();
        }
        if let Some(v) = u.rate_limit_per_minute {
            self.rate_limit = v.max(1);
        }
        if let Some(v) = u.window_seconds {
            self.window = Duration::from_secs(v.max(1));
        }
        if let Some(v) = u.rate_limit_scope {
            self.rate_limit_scope = v;
        }
        if let Some(v) = u.retry_after_seconds {
            self.retry_after = (v > 0).then_some(v);
        }
        if let Some(v) = u.storm_429_for_seconds {
            self.storm_until = (v > 0).then(|| now + Duration::from_secs(v));
        }
        if let Some(v) = u.latency_ms {
            self.latency = Duration::from_millis(v);
        }
        if let Some(v) = u.drop_connection_rate {
            self.drop_rate = v;
        }
        if let Some(v) = u.outage_for_seconds {
            self.outage_until = (v > 0).then(|| now + Duration::from_secs(v));
        }
        if let Some(v) = &u.fail_next {
            self.fail_next = v.iter().copied().collect();
        }
        if let Some(v) = &u.lose_next {
            self.lose_next = v.iter().copied().collect();
        }
        if let Some(v) = u.lose_response_rate {
            self.lose_rate = v;
        }
        if let Some(v) = u.version_conflict_status {
            self.version_conflict_status = v;
        }
        if let Some(v) = u.large_page_429 {
            self.large_page_429 = v;
        }
        if let Some(v) = u.edit_after_next_reads {
            self.edit_after_reads = v;
        }
        if let Some(v) = &u.hidden_user_names {
            self.hidden_user_names = v.clone();
        }
        if let Some(v) = &u.lenient {
            self.lenient = Lenient::of(v);
        }
        before != (self.rate_limit, self.window, self.rate_limit_scope)
    }

    pub fn in_outage(&self, now: Instant) -> bool {
        self.outage_until.is_some_and(|t| now < t)
    }

    /// Seconds left in a 429 storm, if one is on.
    pub fn storm_left(&self, now: Instant) -> Option<u64> {
        self.storm_until.filter(|t| now < *t).map(|t| ceil_secs(t - now))
    }

    /// What `GET /sim/faults` shows: the settings as an update that would recreate them
    /// (storm and outage as the seconds left).
    pub fn view(&self, now: Instant) -> FaultsUpdate {
        FaultsUpdate {
            error_rate: Some(self.error_rate),
            error_status: Some(self.error_status.clone()),
            rate_limit_per_minute: Some(self.rate_limit),
            window_seconds: Some(self.window.as_secs()),
            rate_limit_scope: Some(self.rate_limit_scope),
            retry_after_seconds: Some(self.retry_after.unwrap_or(0)),
            storm_429_for_seconds: Some(self.storm_left(now).unwrap_or(0)),
            latency_ms: Some(u64::try_from(self.latency.as_millis()).unwrap_or(u64::MAX)),
            drop_connection_rate: Some(self.drop_rate),
            outage_for_seconds: Some(self.outage_until.filter(|t| now < *t).map_or(0, |t| ceil_secs(t - now))),
            fail_next: Some(self.fail_next.iter().copied().collect()),
            lose_next: Some(self.lose_next.iter().copied().collect()),
            lose_response_rate: Some(self.lose_rate),
            version_conflict_status: Some(self.version_conflict_status),
            large_page_429: Some(self.large_page_429),
            edit_after_next_reads: Some(self.edit_after_reads),
            hidden_user_names: Some(self.hidden_user_names.clone()),
            lenient: Some(self.lenient.list()),
        }
    }
}

/// Whole seconds, rounded up, at least 1 (what `Retry-After` and `inin-ratelimit-reset` carry).
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

/// The numbers of the `inin-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateInfo {
    pub allowed: u32,
    pub count: u32,
    pub reset_secs: u64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

/// Fixed windows per key (a token, or a client: [`RateLimitScope::key`]): the first request
/// after a window ends starts the next one.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    windows: HashMap<String, Window>,
}

impl RateLimiter {
    /// Count one request for `key`; `Ok` when within the limit, `Err` (with the same numbers)
    /// when over it. Refused requests count too, as they do against a real quota.
    pub fn admit(&mut self, key: &str, now: Instant, limit: u32, window: Duration) -> Result<RateInfo, RateInfo> {
        let w = self.windows.entry(key.to_string()).or_insert(Window { started: now, count: 0 });
        if now.duration_since(w.started) >= window {
            *w = Window { started: now, count: 0 };
        }
        w.count = w.count.saturating_add(1);
        let left = window.saturating_sub(now.duration_since(w.started));
        let info = RateInfo { allowed: limit, count: w.count, reset_secs: ceil_secs(left) };
        if w.count > limit { Err(info) } else { Ok(info) }
    }

    /// The numbers for `key` without counting a request (for answers that are not counted).
    pub fn peek(&self, key: &str, now: Instant, limit: u32, window: Duration) -> RateInfo {
        match self.windows.get(key) {
            Some(w) if now.duration_since(w.started) < window => RateInfo {
                allowed: limit,
                count: w.count,
                reset_secs: ceil_secs(window.saturating_sub(now.duration_since(w.started))),
            },
            _ => RateInfo { allowed: limit, count: 0, reset_secs: ceil_secs(window) },
        }
    }

    pub fn clear(&mut self) {
        self.windows.clear();
    }

    /// Forget windows that ended long ago (tokens come and go).
    pub fn prune(&mut self, now: Instant, window: Duration) {
        if self.windows.len() > 1024 {
            self.windows.retain(|_, w| now.duration_since(w.started) < window);
        }
    }
}

/// What the simulator saw and did, for tests (`GET /sim/stats`, [`super::SimHandle::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Every request, `/sim/*` excepted.
    pub requests: u64,
    /// Route pattern (`"PATCH /api/v2/users/{id}"`) → status (`"200"`, or `"dropped"`) → count.
    pub by_route: BTreeMap<String, BTreeMap<String, u64>>,
    /// Status → count, over all routes.
    pub by_status: BTreeMap<String, u64>,
    /// 429 answers sent, whatever the cause (limit, storm, large page, injected).
    pub rate_limited: u64,
    /// The rate-limit scope in force when the statistics were read (a setting, not a count:
    /// `DELETE /sim/stats` does not change it).
    pub rate_limit_scope: RateLimitScope,
    /// `/api/v2` requests the rate limiter admitted, per OAuth client id (whatever the scope):
    /// with the time between two reads, the combined rate of every replica sharing a client.
    pub requests_by_client: BTreeMap<String, u64>,
    /// Access tokens issued by `POST /oauth/token`.
    pub tokens_issued: u64,
    /// Refused token requests (bad client, bad grant).
    pub token_refusals: u64,
    /// Successful user creations (SCIM or Platform) per lower-cased userName.
    pub creates_by_user_name: BTreeMap<String, u64>,
    /// Successful user writes that changed something (PUT/PATCH, SCIM or Platform) per userName.
    pub updates_by_user_name: BTreeMap<String, u64>,
    /// Successful (soft) deletions per userName.
    pub deletes_by_user_name: BTreeMap<String, u64>,
    /// Injected faults by kind (`"error_503"`, `"drop"`, `"outage"`, `"storm_429"`, `"fail_next_502"`, ...).
    pub faults_injected: BTreeMap<String, u64>,
    /// Connections closed without an answer.
    pub dropped_connections: u64,
    /// Attributes a SCIM write sent that Genesys does not model (genesys-api-notes §1.3 "Not present"),
    /// ignored, by name.
    pub ignored_attributes: BTreeMap<String, u64>,
    /// Writes that sent two phone numbers for one Genesys field (e.g. `other` and
    /// `eightbyeight`, both the Other Phone; genesys-api-notes §1.5): the last one won.
    pub phone_slot_conflicts: u64,
}

impl Stats {
    pub fn record(&mut self, route: &str, status: &str) {
        self.requests += 1;
        *self.by_route.entry(route.to_string()).or_default().entry(status.to_string()).or_default() += 1;
        *self.by_status.entry(status.to_string()).or_default() += 1;
        if status == "429" {
            self.rate_limited += 1;
        }
        if status == "dropped" {
            self.dropped_connections += 1;
        }
    }

    pub fn fault(&mut self, kind: &str) {
        *self.faults_injected.entry(kind.to_string()).or_default() += 1;
    }
}

pub(crate) fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    *map.entry(key.to_ascii_lowercase()).or_default() += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_and_resets() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        let w = Duration::from_secs(2);
        assert_eq!(rl.admit("a", t0, 2, w), Ok(RateInfo { allowed: 2, count: 1, reset_secs: 2 }));
        assert!(rl.admit("a", t0, 2, w).is_ok());
        let over = rl.admit("a", t0 + Duration::from_millis(500), 2, w);
        assert_eq!(over, Err(RateInfo { allowed: 2, count: 3, reset_secs: 2 }));
        // Another token has its own window.
        assert!(rl.admit("b", t0, 2, w).is_ok());
        // The window ends: counting starts again.
        assert_eq!(rl.admit("a", t0 + w, 2, w).map(|i| i.count), Ok(1));
        assert_eq!(rl.peek("c", t0, 2, w).count, 0);
    }

    #[test]
    fn ceil_secs_rounds_up_and_is_at_least_one() {
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_millis(1001)), 2);
        assert_eq!(ceil_secs(Duration::from_secs(3)), 3);
        assert_eq!(ceil_secs(Duration::ZERO), 1);
    }

    #[test]
    fn updates_are_validated_and_merged() {
        let bad = [
            FaultsUpdate { error_rate: Some(1.5), ..Default::default() },
            FaultsUpdate { error_status: Some(vec![200]), ..Default::default() },
            FaultsUpdate { fail_next: Some(vec![302]), ..Default::default() },
            FaultsUpdate { lose_next: Some(vec![200]), ..Default::default() },
            FaultsUpdate { lose_response_rate: Some(-0.1), ..Default::default() },
            FaultsUpdate { window_seconds: Some(0), ..Default::default() },
            FaultsUpdate { version_conflict_status: Some(412), ..Default::default() },
        ];
        for u in bad {
            assert!(u.validate().is_err(), "{u:?}");
        }
        let now = Instant::now();
        let mut f = Faults::new(300, Duration::from_secs(60), RateLimitScope::Token);
        let changed = f.apply(&FaultsUpdate { rate_limit_per_minute: Some(5), ..Default::default() }, now);
        assert!(changed);
        let changed =
            f.apply(&FaultsUpdate { latency_ms: Some(10), storm_429_for_seconds: Some(5), ..Default::default() }, now);
        assert!(!changed);
        assert_eq!(f.rate_limit, 5);
        let scope = |s| FaultsUpdate { rate_limit_scope: Some(s), ..Default::default() };
        assert!(f.apply(&scope(RateLimitScope::Client), now), "a new scope restarts the windows");
        assert!(!f.apply(&scope(RateLimitScope::Client), now), "the same scope does not");
        assert_eq!(f.view(now).rate_limit_scope, Some(RateLimitScope::Client));
        assert_eq!(f.storm_left(now), Some(5));
        assert_eq!(f.storm_left(now + Duration::from_secs(6)), None);
        assert_eq!(f.view(now).latency_ms, Some(10));
        let unknown: Result<FaultsUpdate, _> = serde_json::from_str(r#"{"eror_rate": 0.5}"#);
        assert!(unknown.is_err());
    }
}
