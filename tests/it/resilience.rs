//! Everything the bridge accepted reaches Genesys exactly once, whatever Genesys does: 429s,
//! 5xx, answers lost after the work was done, and an outage of 30 s.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::helpers::{TestApp, user_body};
use scim_bridge::store::Store;

const OTHER_PHONE: &str = "/contactInfo/0/phone_other/0/value/number";
const USERS: usize = 1_000;

impl TestApp {
    pub async fn sim_admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.client.request(method, format!("http://{}{path}", self.sim));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("simulator answers");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    /// Wait until the outbox has nothing pending; fail on a dead change or after `limit`.
    pub async fn wait_drained(&self, limit: Duration) {
        let store = Store::open(&self.db_path()).expect("open the test database");
        let started = Instant::now();
        loop {
            let depth = store.outbox_depth().expect("outbox depth");
            assert_eq!(depth.dead, 0, "a change was parked: {:?}", store.outbox_dead().expect("dead"));
            if depth.pending == 0 {
                return;
            }
            assert!(started.elapsed() < limit, "{} changes still pending after {limit:?}", depth.pending);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn number(i: usize) -> String {
    format!("+1415{:07}", 5_550_000 + i)
}

#[tokio::test]
async fn a_thousand_creates_arrive_exactly_once_through_429s_503s_lost_answers_and_a_30_s_outage() {
    let app = TestApp::spawn().await;
    // Throughout: 15 % of calls fail with 429/502/503, 3 % are carried out with their answer
    // lost (the retried POST meets 409 and must adopt, not duplicate), and a 429 storm at first.
    app.sim_admin(
        reqwest::Method::POST,
        "/sim/faults",
        Some(json!({
            "error_rate": 0.15,
            "error_status": [429, 502, 503],
            "lose_response_rate": 0.03,
            "storm_429_for_seconds": 2,
            "rate_limit_per_minute": 100000
        })),
    )
    .await;

    let post = |i: usize| {
        let app = &app;
        async move {
            let mut body = user_body(&format!("user{i:04}@example.com"));
            body["phoneNumbers"] = json!([{"type": "eightbyeight", "value": number(i)}]);
            let r = app.post("/Users", body).await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
    };
    futures_util::stream::iter(0..USERS / 2).map(post).buffer_unordered(8).collect::<Vec<()>>().await;
    // Genesys goes down (503 on the API and on the token endpoint) while the IdP keeps pushing.
    app.sim_admin(reqwest::Method::POST, "/sim/faults", Some(json!({"outage_for_seconds": 30}))).await;
    let outage_began = Instant::now();
    futures_util::stream::iter(USERS / 2..USERS).map(post).buffer_unordered(8).collect::<Vec<()>>().await;

    app.wait_drained(Duration::from_secs(240)).await;
    assert!(outage_began.elapsed() >= Duration::from_secs(30), "drained during the outage?");

    let stats = app.sim_admin(reqwest::Method::GET, "/sim/stats", None).await;
    let creates = stats["creates_by_user_name"].as_object().expect("creates by userName");
    assert_eq!(creates.len(), USERS, "every user created in Genesys");
    let twice: Vec<_> = creates.iter().filter(|(_, n)| n.as_u64() != Some(1)).collect();
    assert!(twice.is_empty(), "created more than once: {twice:?}");
    assert!(stats["faults_injected"]["outage"].as_u64().unwrap_or(0) > 0, "the outage was met: {stats}");
    assert!(stats["rate_limited"].as_u64().unwrap_or(0) > 0, "429s were met: {stats}");
    assert!(stats["faults_injected"].as_object().is_some_and(|f| f.keys().any(|k| k.starts_with("lose"))), "{stats}");

    app.sim_admin(reqwest::Method::DELETE, "/sim/faults", None).await;
    for i in 0..USERS {
        let p = app.profile(&format!("user{i:04}@example.com")).await.expect("profile");
        assert_eq!(p.pointer(OTHER_PHONE), Some(&json!(number(i))), "user {i}: {p}");
    }
}

#[tokio::test]
async fn a_retry_after_the_sdks_would_give_up_on_keeps_the_change_waiting_in_outbox_list() {
    let admin = "an-admin-token-for-this-test";
    let app = TestApp::spawn_with(|c| c.admin_token = Some(scim_bridge::config::Secret::new(admin))).await;
    // Every call answered 429 with Retry-After: 600 s, beyond the 180 s the Genesys SDKs wait.
    app.sim_admin(
        reqwest::Method::POST,
        "/sim/faults",
        Some(json!({"storm_429_for_seconds": 120, "retry_after_seconds": 600})),
    )
    .await;
    let id = app.create_user("patient@example.com").await;
    let store = Store::open(&app.db_path()).unwrap();
    let started = std::time::Instant::now();
    loop {
        let waiting = store.outbox_pending().unwrap().into_iter().find(|e| e.resource_id == id);
        if waiting.as_ref().is_some_and(|e| e.not_before > scim_bridge::store::now_millis() + 300_000) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never held back: {waiting:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-bridge"))
        .args(["--database", &app.db_path(), "outbox", "list", "--json"])
        .output()
        .unwrap();
    let line: Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["resourceId"] == id.as_str())
        .expect("the change is listed");
    assert_eq!((line["state"].as_str(), line["waiting"].as_bool()), (Some("pending"), Some(true)), "{line}");
    assert!(line["nextAttempt"].is_string() && line["lastError"].as_str().is_some_and(|e| e.contains("429")), "{line}");
    assert!(store.outbox_dead().unwrap().is_empty(), "kept, not parked");
    assert_eq!(store.outbox_depth().unwrap().waiting, 1);
    let page = app
        .client
        .get(format!("http://{}/admin", app.addr))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<span id=waiting>1</span> waiting to be tried again"), "/admin shows it: {page}");
}
