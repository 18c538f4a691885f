//! The one place that talks to Genesys Cloud: OAuth client credentials, retries, pacing.
//!
//! * **Token**: `POST {login}/oauth/token` with Basic auth and `grant_type=client_credentials`
//!   (genesys-api-notes §3); cached, renewed a minute before it expires and after a 401.
//! * **Retries**: 429, 500, 502, 503, 504, timeouts and connection errors, waiting `Retry-After`
//!   when given, else a capped exponential backoff with jitter (genesys-api-notes §4: the SDKs retry
//!   429/502/503/504 and give up when `Retry-After` exceeds 180 s). A wait longer than that, or a
//!   budget of attempts used up, becomes [`ClientError::RetryLater`]: the outbox keeps the change
//!   and tries again later; nothing is dropped.
//! * **Pacing**: every response carries `inin-ratelimit-allowed/count/reset`; when the window's
//!   quota is used up the client waits for the reset instead of meeting a 429. Replicas sharing
//!   one OAuth client also draw from one [`RateBudget`] (kept in their database) before each
//!   request, so that together they stay within one token's rate.
//! * **Readiness**: [`Client::check_token`] says whether a token is at hand with one request at
//!   most, and reuses its answer for a few seconds. Calls, 429s and renewals are counted in
//!   [`GenesysStats`] for `/metrics`.
//!
//! Secrets and tokens are never logged; requests are logged by method, path and the Genesys
//! correlation id. Must not import `store` or `http`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::Method;

use super::api::answers::{self, AnswerClass};
use super::api::requests::OAUTH_TOKEN;
use super::api::{ApiRequest, Verb, wire};
use serde::Deserialize;
use serde_json::Value;

use crate::config::Secret;
use crate::metrics::GenesysStats;

/// Longest `Retry-After` the client waits for itself (the SDKs' limit, genesys-api-notes §4).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(answers::MAX_RETRY_AFTER_SECS);

/// How long one request may take when `genesys.timeout` does not say: a request slower than
/// this counts as failed and is retried (it may have been carried out; see `uncertain` in
/// [`Client::send`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`Client::check_token`] reuses its answer: readiness probes every few seconds from
/// several places must not each ask Genesys for a token.
pub const TOKEN_CHECK_TTL: Duration = Duration::from_secs(5);

/// How long [`Client::check_token`] waits for a token (shorter than a probe's timeout).
pub const TOKEN_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

pub use super::api::Endpoints;

/// Everything the client needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub endpoints: Endpoints,
    pub client_id: String,
    pub client_secret: Secret,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts of one request before it is handed back as `RetryLater`.
    pub max_attempts: u32,
    /// First backoff step; doubles per attempt up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl ClientConfig {
    pub fn new(endpoints: Endpoints, client_id: impl Into<String>, client_secret: Secret) -> Self {
        ClientConfig {
            endpoints,
            client_id: client_id.into(),
            client_secret,
            timeout: DEFAULT_TIMEOUT,
            max_attempts: 6,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// A successful (2xx or 304) response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Value,
    pub correlation_id: Option<String>,
}

/// Why a request did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Genesys refused the request for good (a 4xx other than 401, 408, 409, 429): retrying the
    /// same request cannot help; the outbox parks it with this error.
    #[error("Genesys refused the request: HTTP {status} {code}: {message} (correlation id {correlation_id})")]
    Refused { status: u16, code: String, message: String, correlation_id: String },
    /// 409: a duplicate (userName in use) or a version mismatch; the caller resolves it.
    /// `after_uncertain_attempt`: an earlier attempt of the same request may have been carried
    /// out (its answer was lost, or was a 5xx or 408), so the conflict may be with itself.
    #[error("Genesys reported a conflict: {message} (correlation id {correlation_id})")]
    Conflict { message: String, correlation_id: String, after_uncertain_attempt: bool },
    /// Try again after this delay (long `Retry-After`, or the attempts of this call are spent).
    #[error("Genesys is not answering usefully now ({reason}); retry in {}s", after.as_secs())]
    RetryLater { after: Duration, reason: String },
    /// The OAuth client was refused: configuration, not a transient fault.
    #[error("Genesys refused the OAuth client credentials: {0}")]
    Credentials(String),
}

struct Token {
    value: Secret,
    renew_at: Instant,
}

/// The rate-limit window as the last response described it.
#[derive(Debug, Clone, Copy)]
struct Window {
    allowed: u64,
    count: u64,
    reset_at: Instant,
}

/// A budget of Genesys requests shared beyond this process (the replicas of one deployment,
/// through their database). Blocking: called on a blocking thread.
pub trait RateBudget: Send + Sync {
    /// Take one request from the budget, refilled per minute at `observed` (this replica's view
    /// of Genesys's rate-limit headers, shared with the others), else at the rate another replica
    /// observed, else at `default`; `Err(wait)` when it is empty for about that long.
    fn take(&self, observed: Option<f64>, default: f64) -> Result<(), Duration>;
}

/// Whose budget of Genesys requests a replica draws from (`genesys.rate_budget`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BudgetScope {
    /// One budget for every replica on the database: together they stay within one token's
    /// rate (the default; an administrator sizes one OAuth client for one bridge).
    #[default]
    Shared,
    /// Each replica paces alone by its own token's window (Genesys counts per token).
    PerReplica,
}

impl BudgetScope {
    pub const ALLOWED: &'static str = "shared, per-replica";

    pub fn as_str(self) -> &'static str {
        match self {
            BudgetScope::Shared => "shared",
            BudgetScope::PerReplica => "per-replica",
        }
    }
}

impl std::str::FromStr for BudgetScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "shared" => Ok(BudgetScope::Shared),
            "per-replica" | "per_replica" => Ok(BudgetScope::PerReplica),
            other => Err(format!("'{other}' is not a rate budget; use shared or per-replica")),
        }
    }
}

/// The requests per minute Genesys allows one token (genesys-api-notes §4), until a response's
/// `inin-ratelimit-allowed` says otherwise.
pub const DEFAULT_PER_MINUTE: u64 = 300;

/// The share of the allowed rate the shared budget hands out: the rest absorbs the budget's
/// one-request burst and the clocks of the replicas, so no window of Genesys's is overrun.
const BUDGET_SHARE: f64 = 0.97;

/// The Genesys client. Cheap to share behind an `Arc`.
pub struct Client {
    /// The shared budget, when replicas share one (`None`: this process paces alone).
    budget: Option<std::sync::Arc<dyn RateBudget>>,
    http: reqwest::Client,
    cfg: ClientConfig,
    token: tokio::sync::Mutex<Option<Token>>,
    window: Mutex<Option<Window>>,
    /// Set by [`Client::shut_down`]: waits (retries, pacing) end at once and no new call starts.
    stopping: tokio::sync::watch::Sender<bool>,
    /// The last answer of `check_token`, and when it was found.
    token_check: Mutex<Option<(Instant, Result<(), String>)>>,
    /// Counters exported on `/metrics`.
    pub stats: GenesysStats,
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .user_agent(concat!("scim-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Credentials(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            budget: None,
            http,
            cfg,
            token: tokio::sync::Mutex::new(None),
            window: Mutex::new(None),
            stopping: tokio::sync::watch::Sender::new(false),
            token_check: Mutex::new(None),
            stats: GenesysStats::default(),
        })
    }

    /// Draw every request from `budget` too (replicas sharing one OAuth client).
    pub fn with_budget(mut self, budget: std::sync::Arc<dyn RateBudget>) -> Client {
        self.budget = Some(budget);
        self
    }

    /// Stop between two calls: a call in flight finishes, but no retry or paced wait goes on
    /// and no new call starts; they end as [`ClientError::RetryLater`] (the change stays queued).
    pub fn shut_down(&self) {
        self.stopping.send_replace(true);
    }

    fn shutting_down(&self) -> Option<ClientError> {
        (*self.stopping.borrow())
            .then(|| ClientError::RetryLater { after: Duration::ZERO, reason: "the bridge is shutting down".into() })
    }

    /// Sleep, unless a shutdown comes first (then `false`).
    async fn pause(&self, d: Duration) -> bool {
        let mut stop = self.stopping.subscribe();
        if *stop.borrow() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = stop.wait_for(|s| *s) => false,
        }
    }

    /// Send a request, with token handling, pacing and retries.
    pub async fn send(&self, req: &ApiRequest) -> Result<Response, ClientError> {
        let mut last_reason = String::from("no attempt made");
        let mut renewed_after_401 = false;
        // Whether an attempt may have been carried out without its answer reaching us.
        let mut uncertain = false;
        for attempt in 0..self.cfg.max_attempts {
            self.pace().await;
            if let Some(stop) = self.shutting_down() {
                return Err(stop);
            }
            let token = self.token().await?;
            let result = self.send_once(req, &token).await;
            let wait = match result {
                Ok(Outcome::Done(resp)) => return Ok(resp),
                Ok(Outcome::Fail(ClientError::Conflict { message, correlation_id, .. })) => {
                    return Err(ClientError::Conflict { message, correlation_id, after_uncertain_attempt: uncertain });
                }
                Ok(Outcome::Fail(err)) => return Err(err),
                Ok(Outcome::Unauthorized) if !renewed_after_401 => {
                    // The token was revoked or expired early: renew once, at once.
                    renewed_after_401 = true;
                    self.invalidate_token().await;
                    last_reason = "401 with a cached token".into();
                    continue;
                }
                Ok(Outcome::Unauthorized) => {
                    return Err(ClientError::Credentials(
                        "a freshly issued token was refused (401): check the OAuth client's roles".into(),
                    ));
                }
                Ok(Outcome::Retry { after, reason }) => {
                    // A 429 was not carried out; a 5xx or 408 may have been.
                    uncertain |= !reason.starts_with("429");
                    last_reason = reason;
                    match after {
                        Some(a) if a > MAX_RETRY_AFTER => {
                            return Err(ClientError::RetryLater { after: a, reason: last_reason });
                        }
                        Some(a) => a,
                        None => self.backoff(attempt),
                    }
                }
                Err(reason) => {
                    uncertain = true;
                    self.stats.network_error();
                    last_reason = reason;
                    self.backoff(attempt)
                }
            };
            tracing::info!(genesys.path = %req.path, retry = attempt + 1, wait_ms = wait.as_millis() as u64, reason = %crate::telemetry::redact(&last_reason), "retrying Genesys request");
            if !self.pause(wait).await {
                return Err(ClientError::RetryLater { after: Duration::ZERO, reason: last_reason });
            }
        }
        Err(ClientError::RetryLater { after: self.cfg.max_backoff, reason: last_reason })
    }

    async fn send_once(&self, req: &ApiRequest, token: &Secret) -> Result<Outcome, String> {
        let url = format!("{}{}", self.cfg.endpoints.api_base, req.path);
        let ctype = if req.is_scim() { "application/scim+json" } else { "application/json" };
        let mut rb = self
            .http
            .request(method(req.verb), &url)
            .bearer_auth(token.expose())
            .header(reqwest::header::ACCEPT, ctype)
            .query(&req.query);
        if let Some(body) = &req.body {
            rb = rb.header(reqwest::header::CONTENT_TYPE, ctype).body(body.to_string());
        }
        let resp = rb.send().await.map_err(|e| describe_transport(&e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        self.observe_window(&headers);
        let correlation_id = header(&headers, answers::CORRELATION_ID).map(str::to_string);
        let retry_after =
            header(&headers, "retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
        let text = resp.text().await.map_err(|e| describe_transport(&e))?;
        self.stats.response(status.as_u16());
        let body: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        tracing::info!(genesys.method = req.verb.as_str(), genesys.path = %req.path, http.status = status.as_u16(), genesys.correlation_id = correlation_id.as_deref().unwrap_or("-"), "Genesys call");
        let cid = correlation_id.clone().unwrap_or_else(|| "-".into());
        let code = status.as_u16();
        Ok(match answers::classify(code) {
            AnswerClass::Success => Outcome::Done(Response { status: code, body, correlation_id }),
            AnswerClass::Unauthorized => Outcome::Unauthorized,
            AnswerClass::Conflict => Outcome::Fail(ClientError::Conflict {
                message: wire::error_message(&body),
                correlation_id: cid,
                after_uncertain_attempt: false,
            }),
            AnswerClass::Retry if code == 429 => {
                Outcome::Retry { after: retry_after, reason: "429 too many requests".into() }
            }
            AnswerClass::Retry => Outcome::Retry { after: retry_after, reason: format!("HTTP {code}") },
            AnswerClass::Refused => Outcome::Fail(ClientError::Refused {
                status: code,
                code: wire::error_code(&body),
                message: wire::error_message(&body),
                correlation_id: cid,
            }),
        })
    }

    /// The cached token, or a new one when it is missing or about to expire.
    async fn token(&self) -> Result<Secret, ClientError> {
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(t.value.clone());
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *guard = Some(fresh);
        Ok(value)
    }

    async fn invalidate_token(&self) {
        *self.token.lock().await = None;
    }

    /// Whether an access token is at hand, for readiness: the cached one while it is valid,
    /// else one request to the token endpoint (no retries, at most [`TOKEN_CHECK_TIMEOUT`],
    /// waiting behind a renewal already under way). The answer, good or bad, is reused for
    /// [`TOKEN_CHECK_TTL`]. The error says why, without secrets.
    pub async fn check_token(&self) -> Result<(), String> {
        if let Some((at, answer)) = self.token_check.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && at.elapsed() < TOKEN_CHECK_TTL
        {
            return answer.clone();
        }
        let answer = match tokio::time::timeout(TOKEN_CHECK_TIMEOUT, self.token_at_hand()).await {
            Ok(answer) => answer,
            Err(_) => Err(format!(
                "Genesys issued no access token within {} s (its token endpoint is slow or unreachable)",
                TOKEN_CHECK_TIMEOUT.as_secs()
            )),
        };
        *self.token_check.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), answer.clone()));
        answer
    }

    /// The cached token is valid, or one request for a new one succeeds (and is cached).
    async fn token_at_hand(&self) -> Result<(), String> {
        let mut guard = self.token.lock().await;
        if guard.as_ref().is_some_and(|t| Instant::now() < t.renew_at) {
            return Ok(());
        }
        match self.fetch_token_once().await {
            Ok(fresh) => {
                *guard = Some(fresh);
                Ok(())
            }
            Err(TokenFailure::Refused(e)) => Err(e.to_string()),
            Err(TokenFailure::Transient(reason)) => Err(format!("Genesys issued no access token: {reason}")),
        }
    }

    /// A new token, retrying transient failures with backoff.
    async fn fetch_token(&self) -> Result<Token, ClientError> {
        let mut attempt = 0;
        loop {
            let reason = match self.fetch_token_once().await {
                Ok(token) => return Ok(token),
                Err(TokenFailure::Refused(e)) => return Err(e),
                Err(TokenFailure::Transient(reason)) => reason,
            };
            attempt += 1;
            if attempt >= self.cfg.max_attempts {
                return Err(ClientError::RetryLater { after: self.cfg.max_backoff, reason });
            }
            if !self.pause(self.backoff(attempt - 1)).await {
                return Err(ClientError::RetryLater { after: Duration::ZERO, reason });
            }
        }
    }

    /// One request to the token endpoint.
    async fn fetch_token_once(&self) -> Result<Token, TokenFailure> {
        #[derive(Deserialize)]
        struct TokenResponse {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let url = format!("{}{OAUTH_TOKEN}", self.cfg.endpoints.login_base);
        let sent = self
            .http
            .post(&url)
            .basic_auth(&self.cfg.client_id, Some(self.cfg.client_secret.expose()))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => {
                let parsed: TokenResponse = resp.json().await.map_err(|e| {
                    TokenFailure::Refused(ClientError::Credentials(format!(
                        "the token response was not understood: {e}"
                    )))
                })?;
                let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(300));
                // Renew a minute early (or at half-life for short tokens), less up to half a
                // minute at random: replicas started together do not all renew at once.
                let jitter = Duration::from_millis(rand::rng().random_range(0..30_000));
                let margin = (Duration::from_secs(60) + jitter).min(lifetime / 2);
                self.stats.token_renewed();
                tracing::info!(genesys.token_lifetime_s = lifetime.as_secs(), "obtained a Genesys access token");
                Ok(Token { value: Secret::new(parsed.access_token), renew_at: Instant::now() + lifetime - margin })
            }
            Ok(resp) if answers::token_refused(resp.status().as_u16()) => {
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                let why = body
                    .get("error_description")
                    .or_else(|| body.get("description"))
                    .or_else(|| body.get("error"))
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
                    .to_string();
                Err(TokenFailure::Refused(ClientError::Credentials(format!(
                    "HTTP {status} from {url}: {why}; check SCIM_BRIDGE_GENESYS_CLIENT_ID / _CLIENT_SECRET and the region"
                ))))
            }
            Ok(resp) => {
                Err(TokenFailure::Transient(format!("HTTP {} from the token endpoint", resp.status().as_u16())))
            }
            Err(e) => Err(TokenFailure::Transient(describe_transport(&e))),
        }
    }

    /// Wait for the rate-limit window to reset when its quota is used up, then for the shared
    /// budget, if any, to grant the request.
    async fn pace(&self) {
        self.pace_window().await;
        let Some(budget) = self.budget.clone() else { return };
        let observed =
            self.window.lock().unwrap_or_else(|p| p.into_inner()).map(|w| w.allowed.max(1) as f64 * BUDGET_SHARE);
        let default = DEFAULT_PER_MINUTE as f64 * BUDGET_SHARE;
        loop {
            let b = budget.clone();
            let wait = match tokio::task::spawn_blocking(move || b.take(observed, default)).await {
                Ok(Ok(())) => return,
                Ok(Err(wait)) => wait,
                Err(_) => return,
            };
            self.stats.paced_wait();
            if !self.pause(wait).await {
                return;
            }
        }
    }

    async fn pace_window(&self) {
        let wait = {
            let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
            match w.as_mut() {
                Some(win) if win.allowed > 0 && win.count >= win.allowed => {
                    let now = Instant::now();
                    if now < win.reset_at {
                        Some(win.reset_at - now)
                    } else {
                        *w = None;
                        None
                    }
                }
                Some(win) => {
                    // Count our own request until the next response corrects it.
                    win.count += 1;
                    None
                }
                None => None,
            }
        };
        if let Some(wait) = wait {
            self.stats.paced_wait();
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "Genesys rate-limit window used up; waiting for its reset"
            );
            if self.pause(wait).await {
                *self.window.lock().unwrap_or_else(|p| p.into_inner()) = None;
            }
        }
    }

    fn observe_window(&self, headers: &reqwest::header::HeaderMap) {
        let num = |name| header(headers, name).and_then(|v| v.trim().parse::<u64>().ok());
        if let (Some(allowed), Some(count), Some(reset)) =
            (num(answers::RATE_LIMIT_ALLOWED), num(answers::RATE_LIMIT_COUNT), num(answers::RATE_LIMIT_RESET))
        {
            let win = Window { allowed, count, reset_at: Instant::now() + Duration::from_secs(reset.max(1)) };
            *self.window.lock().unwrap_or_else(|p| p.into_inner()) = Some(win);
        }
    }

    /// Capped exponential backoff with full jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self.cfg.base_backoff.saturating_mul(2u32.saturating_pow(attempt)).min(self.cfg.max_backoff);
        let jitter = rand::rng().random_range(0.5..=1.0);
        cap.mul_f64(jitter)
    }
}

/// Why one request to the token endpoint gave no token.
enum TokenFailure {
    /// The credentials were refused (or the answer not understood): retrying cannot help.
    Refused(ClientError),
    /// A 5xx, 429 or transport failure: another attempt may work.
    Transient(String),
}

enum Outcome {
    Done(Response),
    Fail(ClientError),
    Unauthorized,
    Retry { after: Option<Duration>, reason: String },
}

fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A transport error without URLs' query strings or anything secret.
fn describe_transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else if e.is_body() || e.is_decode() {
        "the response was cut off".into()
    } else {
        "the connection failed".into()
    }
}

/// The reqwest method of a Genesys API verb.
fn method(verb: Verb) -> Method {
    match verb {
        Verb::Get => Method::GET,
        Verb::Post => Method::POST,
        Verb::Patch => Method::PATCH,
        Verb::Delete => Method::DELETE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let client =
            Client::new(ClientConfig::new(Endpoints::explicit("http://x", "http://x"), "id", Secret::new("s")))
                .unwrap();
        for attempt in 0..20 {
            let b = client.backoff(attempt);
            assert!(b <= Duration::from_secs(30));
            assert!(b >= Duration::from_millis(250));
        }
        assert!(client.backoff(10) >= Duration::from_secs(15));
    }
}
