//! The one place that talks HTTP to the SCIM server (RFC 7644): discovery of what it offers
//! (`/ServiceProviderConfig`: Bulk and its limits, RFC 9865 cursor paging, page sizes), paging
//! through `/Users` and `/Groups`, and sending writes as Bulk requests (§3.7) within the
//! advertised `maxOperations` and `maxPayloadSize`, or as single requests, 8 in flight, when the
//! server has no Bulk. Nothing here relies on the bridge: no ETags are sent, a server without
//! cursors is paged by `startIndex`.
//!
//! Retries: 429 and 503, of a whole request or of one Bulk operation, are retried with
//! exponential backoff (1 s, 2 s, 4 s, ... capped at 30 s) honouring `Retry-After` (seconds or
//! an HTTP-date, capped at 120 s), at most [`MAX_ATTEMPTS`] attempts in all. Nothing else is
//! retried: a write that failed otherwise is reported. The token is never printed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::SyncError;
use crate::progress::Progress;
use scim::schema::BULK_REQUEST_URN;

/// Attempts of one request (or Bulk operation) that keeps getting 429 or 503.
pub const MAX_ATTEMPTS: u32 = 6;
/// Single requests in flight when the server has no Bulk.
pub const SINGLE_CONCURRENCY: usize = 8;
/// Bulk requests in flight.
pub const BULK_CONCURRENCY: usize = 2;
const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
const RETRY_AFTER_CAP: Duration = Duration::from_secs(120);
/// Largest page asked for; less when the server says so.
const PAGE_SIZE: u64 = 1000;

/// What the server offers, from `/ServiceProviderConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    /// `None`: no Bulk; send single requests.
    pub bulk: Option<BulkLimits>,
    /// RFC 9865 `pagination.cursor`.
    pub cursor: bool,
    pub page_size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkLimits {
    pub max_operations: usize,
    pub max_payload: usize,
}

impl Capabilities {
    /// Read a ServiceProviderConfig document. Absent limits are read conservatively.
    pub fn from_spc(spc: &Value) -> Capabilities {
        let bulk = spc.get("bulk").filter(|b| b.get("supported").and_then(Value::as_bool) == Some(true)).map(|b| {
            let n = |k: &str, d: u64| b.get(k).and_then(Value::as_u64).filter(|v| *v > 0).unwrap_or(d);
            BulkLimits {
                max_operations: n("maxOperations", 100).min(1000) as usize,
                max_payload: n("maxPayloadSize", 1_048_576) as usize,
            }
        });
        let pagination = spc.get("pagination");
        let cursor = pagination.and_then(|p| p.get("cursor")).and_then(Value::as_bool) == Some(true);
        let max_page = [
            pagination.and_then(|p| p.get("maxPageSize")).and_then(Value::as_u64),
            spc.get("filter").and_then(|f| f.get("maxResults")).and_then(Value::as_u64),
        ]
        .into_iter()
        .flatten()
        .filter(|v| *v > 0)
        .min();
        Capabilities { bulk, cursor, page_size: max_page.map_or(PAGE_SIZE, |m| m.min(PAGE_SIZE)) }
    }
}

/// A write to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Relative to the base URL: `/Users`, `/Users/{id}`, `/Groups/{id}`.
    pub path: String,
    pub body: Value,
}

/// What became of a write.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// 0: no HTTP status (connection failed, or no answer for a Bulk operation).
    pub status: u16,
    pub detail: String,
    /// The id of a created resource (from the body or the location).
    pub id: Option<String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Counters of what was sent.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Arc<str>,
    auth: Arc<str>,
    pub caps: Capabilities,
    pub stats: Arc<Stats>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).field("caps", &self.caps).finish_non_exhaustive()
    }
}

fn is_retryable(status: u16) -> bool {
    status == 429 || status == 503
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, as a wait from `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(RETRY_AFTER_CAP));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO).min(RETRY_AFTER_CAP))
}

/// The wait before attempt `attempt + 1` (`attempt` counts from 1).
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(BACKOFF_CAP);
    retry_after.unwrap_or(exp)
}

fn retry_after_of(headers: &HeaderMap) -> Option<Duration> {
    headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// A SCIM error's `detail` (or the body's start), for the report.
fn detail_of(status: u16, body: &Value, raw: &str) -> String {
    if let Some(d) = body.get("detail").and_then(Value::as_str) {
        return d.to_string();
    }
    if (200..300).contains(&status) {
        return String::new();
    }
    let text: String = raw.chars().take(200).collect();
    if text.trim().is_empty() {
        StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("error").to_string()
    } else {
        text
    }
}

fn id_from_location(location: &str) -> Option<String> {
    location.trim_end_matches('/').rsplit('/').next().filter(|s| !s.is_empty()).map(str::to_string)
}

fn status_of(v: Option<&Value>) -> u16 {
    match v {
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()).unwrap_or(0),
        // SCIM drafts wrote {"code": 201}.
        Some(Value::Object(o)) => status_of(o.get("code")),
        _ => 0,
    }
}

/// Split operations of these serialized sizes into consecutive runs of at most `max_ops`
/// operations whose Bulk body stays within `max_payload` bytes. An operation too large on its
/// own goes alone (the server will refuse it, and that is reported).
pub fn chunk(sizes: &[usize], max_ops: usize, max_payload: usize) -> Vec<std::ops::Range<usize>> {
    // The envelope: {"schemas":["urn:...:BulkRequest"],"Operations":[...]} with room to spare.
    const ENVELOPE: usize = 128;
    let max_ops = max_ops.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = ENVELOPE;
    for (i, size) in sizes.iter().enumerate() {
        let n = i - start;
        if n > 0 && (n >= max_ops || bytes + size + 1 > max_payload) {
            out.push(start..i);
            start = i;
            bytes = ENVELOPE;
        }
        bytes += size + 1;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

impl Client {
    /// Connect: read `/ServiceProviderConfig`. Unreachable, 401 and 403 are errors; a server
    /// without the document is assumed to have neither Bulk nor cursors.
    pub async fn connect(base: &str, token: &str) -> Result<(Client, Vec<String>), SyncError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("scim-sync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::Unreachable(e.to_string()))?;
        let mut client = Client {
            http,
            base: Arc::from(base.trim_end_matches('/')),
            auth: Arc::from(format!("Bearer {token}")),
            caps: Capabilities { bulk: None, cursor: false, page_size: PAGE_SIZE },
            stats: Arc::default(),
        };
        let mut warnings = Vec::new();
        let (status, _, body, _) = client.send(Method::GET, "/ServiceProviderConfig", None).await?;
        match status {
            200..=299 => client.caps = Capabilities::from_spc(&body),
            401 | 403 => return Err(SyncError::Auth(status)),
            _ => warnings
                .push(format!("GET /ServiceProviderConfig answered {status}: assuming no Bulk and no cursor paging")),
        }
        Ok((client, warnings))
    }

    /// One request, retried on 429 and 503. Errors only when the server cannot be reached.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, HeaderMap, Value, String), SyncError> {
        let url = format!("{}{}", self.base, path);
        let mut attempt = 1;
        loop {
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header("Authorization", &*self.auth)
                .header("Accept", "application/scim+json, application/json");
            if let Some(b) = body {
                req = req.header("Content-Type", "application/scim+json").body(b.to_string());
            }
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let resp = req.send().await.map_err(|e| SyncError::Unreachable(describe(&e)))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            if is_retryable(status) && attempt < MAX_ATTEMPTS {
                let wait = backoff(attempt, retry_after_of(&headers));
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            let raw = resp.text().await.map_err(|e| SyncError::Unreachable(describe(&e)))?;
            let value = serde_json::from_str(&raw).unwrap_or(Value::Null);
            return Ok((status, headers, value, raw));
        }
    }

    /// Every resource of an endpoint (`/Users`, `/Groups`), page by page.
    pub async fn list_all(&self, endpoint: &str) -> Result<Vec<Map<String, Value>>, SyncError> {
        let mut out = Vec::new();
        let count = self.caps.page_size;
        let mut cursor = Some(String::new());
        let mut start = 1u64;
        loop {
            let path = if self.caps.cursor {
                let c = cursor.take().unwrap_or_default();
                format!("{endpoint}?count={count}&cursor={}", encode(&c))
            } else {
                format!("{endpoint}?count={count}&startIndex={start}")
            };
            let (status, _, body, raw) = self.send(Method::GET, &path, None).await?;
            match status {
                200..=299 => {}
                401 | 403 => return Err(SyncError::Auth(status)),
                _ => {
                    return Err(SyncError::Server(format!("GET {path}: {status} {}", detail_of(status, &body, &raw))));
                }
            }
            // A 200 that is not a ListResponse (a login page, a wrong URL) must not read as an
            // empty server: everything would be created again.
            if body.get("totalResults").is_none() && !body.get("Resources").is_some_and(Value::is_array) {
                return Err(SyncError::Server(format!(
                    "GET {path}: the answer is not a SCIM ListResponse; check --url"
                )));
            }
            let resources = body.get("Resources").and_then(Value::as_array).cloned().unwrap_or_default();
            let n = resources.len() as u64;
            out.extend(resources.into_iter().filter_map(|r| match r {
                Value::Object(o) => Some(o),
                _ => None,
            }));
            if self.caps.cursor {
                match body.get("nextCursor").and_then(Value::as_str) {
                    Some(next) if !next.is_empty() && n > 0 => cursor = Some(next.to_string()),
                    _ => break,
                }
            } else {
                let total = body.get("totalResults").and_then(Value::as_u64).unwrap_or(0);
                let per_page = body.get("itemsPerPage").and_then(Value::as_u64).unwrap_or(n);
                start += per_page.max(n);
                if n == 0 || start > total {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// One resource, e.g. `/Groups/{id}` (for servers that leave `members` out of lists).
    pub async fn get_one(&self, path: &str) -> Result<Map<String, Value>, SyncError> {
        let (status, _, body, raw) = self.send(Method::GET, path, None).await?;
        match (status, body) {
            (200..=299, Value::Object(o)) => Ok(o),
            (401 | 403, _) => Err(SyncError::Auth(status)),
            (_, body) => Err(SyncError::Server(format!("GET {path}: {status} {}", detail_of(status, &body, &raw)))),
        }
    }

    /// Send writes (independent of each other) and return their outcomes, in order.
    pub async fn send_all(&self, requests: Vec<Request>, progress: &Arc<Progress>) -> Vec<Outcome> {
        let n = requests.len();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
        let mut tasks: JoinSet<Vec<(usize, Outcome)>> = JoinSet::new();
        match self.caps.bulk {
            Some(limits) => {
                let ops: Vec<Value> = requests.iter().enumerate().map(|(i, r)| bulk_operation(i, r)).collect();
                let sizes: Vec<usize> = ops.iter().map(|o| o.to_string().len()).collect();
                let gate = Arc::new(Semaphore::new(BULK_CONCURRENCY));
                let mut ops: Vec<Option<Value>> = ops.into_iter().map(Some).collect();
                for range in chunk(&sizes, limits.max_operations, limits.max_payload) {
                    let batch: Vec<(usize, Value)> =
                        range.filter_map(|i| ops.get_mut(i).and_then(Option::take).map(|o| (i, o))).collect();
                    let (client, gate, progress) = (self.clone(), gate.clone(), progress.clone());
                    tasks.spawn(async move {
                        let _permit = gate.acquire_owned().await;
                        let len = batch.len();
                        let out = client.bulk(batch).await;
                        progress.advance(len);
                        out
                    });
                }
            }
            None => {
                let gate = Arc::new(Semaphore::new(SINGLE_CONCURRENCY));
                for (i, r) in requests.into_iter().enumerate() {
                    let (client, gate, progress) = (self.clone(), gate.clone(), progress.clone());
                    tasks.spawn(async move {
                        let _permit = gate.acquire_owned().await;
                        let out = client.single(r).await;
                        progress.advance(1);
                        vec![(i, out)]
                    });
                }
            }
        }
        while let Some(done) = tasks.join_next().await {
            for (i, o) in done.unwrap_or_default() {
                if let Some(slot) = outcomes.get_mut(i) {
                    *slot = Some(o);
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Outcome { status: 0, detail: "not sent (internal task failed)".into(), id: None }))
            .collect()
    }

    async fn single(&self, r: Request) -> Outcome {
        match self.send(r.method, &r.path, Some(&r.body)).await {
            Ok((status, headers, body, raw)) => {
                let id = body
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| headers.get("location").and_then(|l| l.to_str().ok()).and_then(id_from_location));
                Outcome { status, detail: detail_of(status, &body, &raw), id }
            }
            Err(e) => Outcome { status: 0, detail: e.to_string(), id: None },
        }
    }

    /// One Bulk request; operations answered 429 or 503 are sent again (in a new Bulk request)
    /// after a backoff.
    async fn bulk(&self, mut pending: Vec<(usize, Value)>) -> Vec<(usize, Outcome)> {
        let mut done = Vec::with_capacity(pending.len());
        let mut attempt = 1;
        while !pending.is_empty() {
            let ops: Vec<&Value> = pending.iter().map(|(_, o)| o).collect();
            let body = json!({"schemas": [BULK_REQUEST_URN], "Operations": ops});
            let (status, headers, resp, raw) = match self.send(Method::POST, "/Bulk", Some(&body)).await {
                Ok(r) => r,
                Err(e) => {
                    done.extend(
                        pending.drain(..).map(|(i, _)| (i, Outcome { status: 0, detail: e.to_string(), id: None })),
                    );
                    break;
                }
            };
            if !(200..300).contains(&status) {
                let detail = detail_of(status, &resp, &raw);
                done.extend(pending.drain(..).map(|(i, _)| (i, Outcome { status, detail: detail.clone(), id: None })));
                break;
            }
            let answers = resp.get("Operations").and_then(Value::as_array).cloned().unwrap_or_default();
            let positional = answers.len() == pending.len();
            let mut again = Vec::new();
            for (k, (i, op)) in pending.drain(..).enumerate() {
                let bulk_id = op.get("bulkId").and_then(Value::as_str);
                let answer = bulk_id
                    .and_then(|b| answers.iter().find(|a| a.get("bulkId").and_then(Value::as_str) == Some(b)))
                    .or_else(|| if positional { answers.get(k) } else { None });
                let Some(answer) = answer else {
                    done.push((
                        i,
                        Outcome { status: 0, detail: "the Bulk response has no answer for it".into(), id: None },
                    ));
                    continue;
                };
                let st = status_of(answer.get("status"));
                if is_retryable(st) && attempt < MAX_ATTEMPTS {
                    again.push((i, op));
                    continue;
                }
                let response = answer.get("response").cloned().unwrap_or(Value::Null);
                let id = answer
                    .get("location")
                    .and_then(Value::as_str)
                    .and_then(id_from_location)
                    .or_else(|| response.get("id").and_then(Value::as_str).map(str::to_string));
                let detail = detail_of(st, &response, "");
                done.push((i, Outcome { status: st, detail, id }));
            }
            if !again.is_empty() {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(backoff(attempt, retry_after_of(&headers))).await;
                attempt += 1;
            }
            pending = again;
        }
        done
    }
}

fn bulk_operation(i: usize, r: &Request) -> Value {
    let mut op = json!({"method": r.method.as_str(), "path": r.path, "data": r.body});
    if r.method == Method::POST
        && let Value::Object(o) = &mut op
    {
        o.insert("bulkId".into(), Value::String(format!("op{i}")));
    }
    op
}

/// A reqwest error without the URL's query or any header (the token is in a header).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut root = None;
    while let Some(s) = source {
        root = Some(s.to_string());
        source = s.source();
    }
    match root {
        Some(r) => format!("{kind}: {r}"),
        None => kind.to_string(),
    }
}

/// Percent-encoding of everything but RFC 3986's unreserved characters: a cursor in a query
/// string, an id in a path segment.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("100000", now), Some(RETRY_AFTER_CAP));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(7)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn backoff_doubles_to_a_cap_and_retry_after_wins() {
        assert_eq!(backoff(1, None), Duration::from_secs(1));
        assert_eq!(backoff(2, None), Duration::from_secs(2));
        assert_eq!(backoff(4, None), Duration::from_secs(8));
        assert_eq!(backoff(20, None), BACKOFF_CAP);
        assert_eq!(backoff(3, Some(Duration::from_secs(1))), Duration::from_secs(1));
    }

    #[test]
    fn chunks_respect_operations_and_payload() {
        assert_eq!(chunk(&[10; 5], 2, 10_000), vec![0..2, 2..4, 4..5]);
        assert_eq!(chunk(&[], 2, 10_000), Vec::<std::ops::Range<usize>>::new());
        // 128 envelope + 3 * 101 = 431 fits 450; a fourth does not.
        assert_eq!(chunk(&[100; 7], 1000, 450), vec![0..3, 3..6, 6..7]);
        // Too large alone: alone.
        assert_eq!(chunk(&[10, 5000, 10], 1000, 450), vec![0..1, 1..2, 2..3]);
        for r in chunk(&[300; 50], 7, 2000) {
            assert!(r.len() <= 7);
            assert!(128 + r.len() * 301 <= 2000);
        }
    }

    #[test]
    fn capabilities_from_service_provider_config() {
        let ours = json!({"bulk": {"supported": true, "maxOperations": 1000, "maxPayloadSize": 4194304},
            "filter": {"supported": true, "maxResults": 1000}, "pagination": {"cursor": true, "maxPageSize": 1000}});
        let c = Capabilities::from_spc(&ours);
        assert_eq!(c.bulk, Some(BulkLimits { max_operations: 1000, max_payload: 4_194_304 }));
        assert!(c.cursor);
        assert_eq!(c.page_size, 1000);
        let bare = json!({"bulk": {"supported": false}, "filter": {"supported": true, "maxResults": 200}});
        let c = Capabilities::from_spc(&bare);
        assert_eq!(c.bulk, None);
        assert!(!c.cursor);
        assert_eq!(c.page_size, 200);
    }

    #[test]
    fn ids_and_statuses_of_bulk_answers() {
        assert_eq!(id_from_location("https://x/scim/v2/Users/abc-1"), Some("abc-1".into()));
        assert_eq!(status_of(Some(&json!("201"))), 201);
        assert_eq!(status_of(Some(&json!(429))), 429);
        assert_eq!(status_of(Some(&json!({"code": 503}))), 503);
        assert_eq!(encode("a b/+"), "a%20b%2F%2B");
    }
}
