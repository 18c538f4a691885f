//! The operator routes: `/healthz`, `/readyz` (database, Genesys token, outbox) and `/metrics`
//! (parsed strictly as Prometheus text), all without a bearer token.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use scim_bridge::genesys::client::TOKEN_CHECK_TTL;

impl TestApp {
    /// GET an operator route without a token (probes and Prometheus send none).
    async fn ops(&self, path: &str, accept: Option<&str>) -> (StatusCode, String, String) {
        let mut rb = self.client.get(format!("http://{}{path}", self.addr));
        if let Some(a) = accept {
            rb = rb.header("accept", a);
        }
        let r = rb.send().await.expect("request sent");
        let status = r.status();
        let ctype = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        (status, ctype, r.text().await.expect("body"))
    }

    async fn readyz(&self) -> (StatusCode, Value) {
        let (status, ctype, body) = self.ops("/readyz", None).await;
        assert!(ctype.starts_with("application/json"), "{ctype}");
        (status, serde_json::from_str(&body).expect("JSON"))
    }

    async fn scrape(&self) -> Vec<Sample> {
        let (status, ctype, body) = self.ops("/metrics", None).await;
        assert_eq!(status, 200, "{body}");
        assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
        self.assert_no_live_token(&body).await;
        parse_exposition(&body)
    }

    /// None of the access tokens the simulator issued appears in `text`.
    async fn assert_no_live_token(&self, text: &str) {
        let issued = self.sim_admin(Method::GET, "/sim/tokens", None).await;
        for t in issued.as_array().into_iter().flatten() {
            let token = t["access_token"].as_str().expect("token");
            assert!(!text.contains(token), "an access token leaked into an operator route");
        }
    }
}

#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The value of the one sample named `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches several samples: {found:?}");
    found.first().map(|s| s.value)
}

fn sum(samples: &[Sample], name: &str) -> f64 {
    samples.iter().filter(|s| s.name == name).map(|s| s.value).sum()
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parse the Prometheus text format 0.0.4 (and OpenMetrics text) strictly: every line is a
/// `# HELP`/`# TYPE`/`# UNIT` comment, `# EOF`, or a sample of a family typed before it, with
/// well-formed labels and a number; anything else fails the test.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    let mut eof = false;
    for line in text.lines() {
        assert!(!eof, "text after # EOF: {line:?}");
        if line == "# EOF" {
            eof = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name, arg) = (parts.next(), parts.next(), parts.next());
            let name = name.filter(|n| is_metric_name(n)).unwrap_or_else(|| panic!("bad comment line {line:?}"));
            match (kind, arg) {
                (Some("HELP"), Some(_)) | (Some("UNIT"), Some(_)) => {}
                (Some("TYPE"), Some(t)) => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped", "unknown"].contains(&t),
                        "{line:?}"
                    );
                    assert!(types.insert(name.to_string(), t.to_string()).is_none(), "typed twice: {line:?}");
                }
                _ => panic!("bad comment line {line:?}"),
            }
            continue;
        }
        assert!(!line.trim().is_empty() && !line.starts_with('#'), "bad line {line:?}");
        let sample = parse_sample(line);
        let family = types
            .iter()
            .find(|(family, t)| {
                let suffix = sample.name.strip_prefix(family.as_str());
                match t.as_str() {
                    "histogram" => matches!(suffix, Some("_bucket" | "_sum" | "_count" | "_created")),
                    "counter" => matches!(suffix, Some("" | "_total" | "_created")),
                    _ => suffix == Some(""),
                }
            })
            .unwrap_or_else(|| panic!("sample of an untyped family: {line:?}"));
        if family.1 == "histogram" && sample.name.ends_with("_bucket") {
            assert!(sample.labels.contains_key("le"), "bucket without le: {line:?}");
        }
        samples.push(sample);
    }
    samples
}

fn parse_sample(line: &str) -> Sample {
    let bad = || -> ! { panic!("bad sample line {line:?}") };
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| bad());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        bad();
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut l) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = l.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = l.split_once("=\"").unwrap_or_else(|| bad());
            if !is_metric_name(key) || key.contains(':') {
                bad();
            }
            let mut val = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => val.push('\n'),
                        Some((_, c @ ('\\' | '"'))) => val.push(c),
                        _ => bad(),
                    },
                    Some((i, '"')) => break i,
                    Some((_, c)) => val.push(c),
                    None => bad(),
                }
            };
            assert!(labels.insert(key.to_string(), val).is_none(), "label twice: {line:?}");
            l = &after[end + 1..];
            l = l.strip_prefix(',').unwrap_or(l);
        }
    }
    let mut fields = rest.strip_prefix(' ').unwrap_or_else(|| bad()).split(' ');
    let value = match fields.next().unwrap_or_else(|| bad()) {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse::<f64>().unwrap_or_else(|_| bad()),
    };
    if let Some(ts) = fields.next() {
        ts.parse::<f64>().unwrap_or_else(|_| bad());
    }
    if fields.next().is_some() {
        bad();
    }
    Sample { name: name.to_string(), labels, value }
}

#[tokio::test]
async fn healthz_answers_without_a_token() {
    let app = TestApp::spawn().await;
    let (status, ctype, body) = app.ops("/healthz", None).await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("application/json"), "{ctype}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({"status": "ok"}));
}

#[tokio::test]
async fn readyz_is_ready_when_the_database_genesys_and_the_outbox_are() {
    let app = TestApp::spawn().await;
    let (status, body) = app.readyz().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"status": "ready", "checks": {
            "database": {"ok": true},
            "genesys": {"ok": true},
            "outbox": {"ok": true, "pending": 0, "oldestPendingAgeSeconds": 0, "dead": 0, "waiting": 0}
        }})
    );
    app.assert_no_live_token(&body.to_string()).await;
}

#[tokio::test]
async fn readyz_names_genesys_while_genesys_is_down_and_recovers_after() {
    let app = TestApp::spawn().await;
    // The token endpoint (and the API) answer 503; no token was cached before.
    app.sim_admin(Method::POST, "/sim/faults", Some(json!({"outage_for_seconds": 60}))).await;
    let (status, body) = app.readyz().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["database"], json!({"ok": true}));
    assert_eq!(body["checks"]["genesys"]["ok"], false, "{body}");
    let detail = body["checks"]["genesys"]["detail"].as_str().expect("a detail for genesys");
    assert!(detail.contains("token") && detail.contains("503"), "{detail}");
    // A change accepted meanwhile waits in the outbox: fresh, so not stuck.
    app.create_user("waiting@example.com").await;
    let (_, body) = app.readyz().await;
    assert_eq!(body["checks"]["outbox"]["ok"], true, "{body}");
    assert_eq!(body["checks"]["outbox"]["pending"], 1, "{body}");
    let samples = app.scrape().await;
    assert_eq!(value(&samples, "scim_bridge_outbox_pending", &[]), Some(1.0));
    assert!(value(&samples, "scim_bridge_outbox_oldest_pending_age_seconds", &[]).is_some_and(|a| a >= 0.0));

    // Genesys is back: ready again once the cached answer has expired and a token is issued.
    app.sim_admin(Method::DELETE, "/sim/faults", None).await;
    tokio::time::sleep(TOKEN_CHECK_TTL).await;
    let started = Instant::now();
    loop {
        let (status, body) = app.readyz().await;
        if status == 200 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "still not ready: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_the_outbox_and_genesys_calls() {
    let app = TestApp::spawn().await;
    // The first Genesys API call meets a 429 (the client waits and sends again).
    app.sim_admin(Method::POST, "/sim/faults", Some(json!({"fail_next": [429]}))).await;
    let id = app.create_user("counted@example.com").await;
    assert_eq!(app.get(&format!("/Users/{id}")).await.status, 200);
    assert_eq!(app.get("/Users/2819c223-7f76-453a-919d-413861904646").await.status, 404);
    assert_eq!(app.get("/Users?filter=userName%20eq%20%22counted@example.com%22").await.status, 200);
    app.wait_profile("counted@example.com", "the created user", |_| true).await;
    app.wait_drained(Duration::from_secs(15)).await;

    let samples = app.scrape().await;
    let requests = "scim_bridge_http_requests_total";
    let created = value(&samples, requests, &[("method", "POST"), ("route", "/scim/v2/Users"), ("status", "201")]);
    assert_eq!(created, Some(1.0), "{samples:#?}");
    let read = &[("method", "GET"), ("route", "/scim/v2/Users/{id}"), ("status", "200")];
    assert_eq!(value(&samples, requests, read), Some(1.0));
    let missing = &[("method", "GET"), ("route", "/scim/v2/Users/{id}"), ("status", "404")];
    assert_eq!(value(&samples, requests, missing), Some(1.0));
    for s in &samples {
        assert!(
            s.labels.values().all(|v| !v.contains(&id) && !v.contains("2819c223") && !v.contains("counted@")),
            "a label carries an id or a userName: {s:?}"
        );
    }
    let timed = &[("method", "POST"), ("route", "/scim/v2/Users")];
    assert_eq!(value(&samples, "scim_bridge_http_request_duration_seconds_count", timed), Some(1.0));
    let all = &[("method", "POST"), ("route", "/scim/v2/Users"), ("le", "+Inf")];
    assert_eq!(value(&samples, "scim_bridge_http_request_duration_seconds_bucket", all), Some(1.0));

    assert_eq!(value(&samples, "scim_bridge_outbox_pending", &[]), Some(0.0));
    assert_eq!(value(&samples, "scim_bridge_outbox_oldest_pending_age_seconds", &[]), Some(0.0));
    assert_eq!(value(&samples, "scim_bridge_outbox_dead", &[]), Some(0.0));
    assert_eq!(value(&samples, "scim_bridge_database_up", &[]), Some(1.0));
    assert_eq!(value(&samples, "scim_bridge_outbox_deliveries_total", &[("outcome", "delivered")]), Some(1.0));
    assert!(value(&samples, "scim_bridge_outbox_last_progress_timestamp_seconds", &[]).is_some_and(|t| t > 1.6e9));

    assert!(sum(&samples, "scim_bridge_genesys_requests_total") > 0.0, "{samples:#?}");
    assert!(value(&samples, "scim_bridge_genesys_requests_total", &[("status", "201")]).is_some_and(|n| n >= 1.0));
    assert_eq!(value(&samples, "scim_bridge_genesys_requests_total", &[("status", "429")]), Some(1.0));
    assert_eq!(value(&samples, "scim_bridge_genesys_rate_limited_total", &[]), Some(1.0));
    assert_eq!(value(&samples, "scim_bridge_genesys_token_renewals_total", &[]), Some(1.0));

    // Prometheus asks for OpenMetrics first: the same families, ending in # EOF.
    let (status, ctype, body) = app.ops("/metrics", Some("application/openmetrics-text;version=1.0.0,*/*;q=0.1")).await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    assert!(body.ends_with("# EOF\n"));
    let open = parse_exposition(&body);
    assert_eq!(
        value(&open, requests, &[("method", "POST"), ("route", "/scim/v2/Users"), ("status", "201")]),
        Some(1.0)
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_plain_incoming_one_is_kept() {
    let app = TestApp::spawn().await;
    let r = app.req(reqwest::Method::GET, "/Users", None, &[]).await;
    let made = r.header("x-request-id").expect("an id is made").to_string();
    assert!(!made.is_empty());
    let r = app.req(reqwest::Method::GET, "/Users", None, &[("x-request-id", "okta-7f3a.91")]).await;
    assert_eq!(r.header("x-request-id"), Some("okta-7f3a.91"));
    let r = app.req(reqwest::Method::GET, "/Users", None, &[("x-request-id", "<script>alert(1)</script>")]).await;
    assert_ne!(r.header("x-request-id"), Some("<script>alert(1)</script>"), "a strange id is replaced");
}

/// `/metrics` answers anyone by default (scrapers often cannot send a token); with
/// `metrics.token` set it asks for that bearer token, and nothing else opens it.
#[tokio::test]
async fn metrics_token_when_set_is_required() {
    let open = TestApp::spawn().await;
    assert_eq!(open.ops("/metrics", None).await.0, 200);

    let app = TestApp::spawn_with(|c| {
        c.metrics_token = Some(scim_bridge::config::Secret::new("metrics-token-long-enough"));
    })
    .await;
    let scrape = |token: Option<&'static str>| {
        let mut rb = app.client.get(format!("http://{}/metrics", app.addr));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        async move {
            let r = rb.send().await.expect("sent");
            (r.status(), r.headers().get("www-authenticate").is_some(), r.text().await.unwrap())
        }
    };
    let (status, challenge, body) = scrape(None).await;
    assert_eq!(status, 401, "{body}");
    assert!(challenge && body.contains("metrics.token"), "{body}");
    assert!(!body.contains("metrics-token-long-enough"));
    assert_eq!(scrape(Some("metrics-token-long-enough-not")).await.0, 401);
    assert_eq!(scrape(Some(crate::helpers::TOKEN)).await.0, 401, "a SCIM token does not open /metrics");
    let (status, _, body) = scrape(Some("metrics-token-long-enough")).await;
    assert_eq!(status, 200);
    assert!(body.contains("scim_bridge_http_requests_total"), "{body}");
    // The probes stay open.
    assert_eq!(app.ops("/healthz", None).await.0, 200);
}
