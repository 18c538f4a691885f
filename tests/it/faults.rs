//! Each fault class in turn, on a short window: the simulator's 429 storms, 5xx, timeouts
//! (latency beyond `genesys.timeout`), dropped connections and lost answers, an outage longer
//! than the client's retry budget, a `Retry-After` beyond the 180 s the SDKs wait, and a
//! database that cannot be written (SQLite: another connection holds the write lock; PostgreSQL:
//! the database turned read-only). Throughout, the bridge answers the IdP where it can (reads;
//! writes while Genesys is down), answers 503 with `Retry-After` and a detail saying what is
//! wrong where it cannot, recovers by itself when the fault ends, and loses nothing: every
//! accepted change is in the simulator afterwards, each user created there exactly once.
//! `resilience.rs` has the long mixed runs; this file keeps each class short.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, patch_body, q, user_body};
use scim_bridge::store::Store;

const OTHER_PHONE: &str = "/contactInfo/0/phone_other/0/value/number";

fn number(i: usize) -> String {
    format!("+1415555{i:04}")
}

/// The writes an IdP makes while a fault lasts, and what Genesys must show once it is over.
struct Changes {
    /// userName → the 8x8 number Genesys must end with.
    live: Vec<(String, String)>,
    /// userNames deleted in the bridge: inactive in Genesys (the default delete mode).
    deleted: Vec<String>,
}

/// Create `n` users named `{prefix}{i}@example.com`, give the first a new 8x8 number by
/// Entra's filtered PATCH, delete the second; every write accepted at once. Reads (a filter, a
/// page) answer meanwhile.
async fn push(app: &TestApp, prefix: &str, n: usize) -> Changes {
    let mut live = Vec::new();
    let mut ids = Vec::new();
    for i in 0..n {
        let name = format!("{prefix}{i}@example.com");
        let mut body = user_body(&name);
        body["phoneNumbers"] = json!([{"type": "eightbyeight", "value": number(i)}]);
        let r = app.post("/Users", body).await;
        assert_eq!(r.status, 201, "a create is accepted while Genesys fails: {}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
        live.push((name, number(i)));
    }
    let path = "phoneNumbers[type eq \"eightbyeight\"].value";
    let r = app
        .patch(
            &format!("/Users/{}", ids[0]),
            patch_body(json!([{"op": "replace", "path": path, "value": number(900)}])),
        )
        .await;
    assert_eq!(r.status, 200, "a PATCH is accepted while Genesys fails: {}", r.body);
    live[0].1 = number(900);
    assert_eq!(app.delete(&format!("/Users/{}", ids[1])).await.status, 204);
    let (deleted, _) = live.remove(1);

    let r = app.get(&format!("/Users?filter={}", q(&format!("userName eq \"{}\"", live[0].0)))).await;
    assert_eq!((r.status.as_u16(), r.body["totalResults"].as_u64()), (200, Some(1)), "{}", r.body);
    let r = app.get("/Users?startIndex=1&count=2").await;
    assert_eq!((r.status.as_u16(), r.body["itemsPerPage"].as_u64()), (200, Some(2)), "{}", r.body);
    Changes { live, deleted: vec![deleted] }
}

/// Once drained: every live user in Genesys once, with its number; every deleted one inactive.
async fn assert_arrived(app: &TestApp, changes: &Changes) {
    let stats = app.sim_admin(Method::GET, "/sim/stats", None).await;
    for (name, number) in &changes.live {
        assert_eq!(stats["creates_by_user_name"][name].as_u64(), Some(1), "{name} created once: {stats}");
        let p = app.profile(name).await.unwrap_or_else(|| panic!("{name} is in Genesys"));
        assert_eq!(p.pointer(OTHER_PHONE), Some(&json!(number)), "{name}: {p}");
        assert_eq!(p["state"], "active", "{name}: {p}");
    }
    for name in &changes.deleted {
        let p = app.profile(name).await;
        // Deleted before its create was delivered: never created, which is as good.
        if let Some(p) = p {
            assert_eq!(p["state"], "inactive", "{name}: {p}");
        }
    }
}

/// A user delivered before the fault: the bridge holds a token when the fault begins (the
/// token endpoint is faulted too by latency and outages).
async fn warm_up(app: &TestApp, name: &str) {
    app.create_user(name).await;
    app.wait_drained(Duration::from_secs(10)).await;
}

async fn faults(app: &TestApp, body: Value) {
    app.sim_admin(Method::POST, "/sim/faults", Some(body)).await;
}

async fn injected(app: &TestApp) -> Value {
    app.sim_admin(Method::GET, "/sim/stats", None).await
}

#[tokio::test]
async fn a_429_storm_is_waited_out_and_nothing_is_lost() {
    let app = TestApp::spawn().await;
    warm_up(&app, "storm-warm@example.com").await;
    faults(&app, json!({"storm_429_for_seconds": 3, "retry_after_seconds": 1})).await;
    let changes = push(&app, "storm", 5).await;
    app.wait_drained(Duration::from_secs(30)).await;
    assert_arrived(&app, &changes).await;
    let stats = injected(&app).await;
    assert!(stats["faults_injected"]["storm_429"].as_u64().unwrap_or(0) > 0, "{stats}");
}

#[tokio::test]
async fn server_errors_are_retried_and_nothing_is_lost() {
    let app = TestApp::spawn().await;
    warm_up(&app, "5xx-warm@example.com").await;
    faults(&app, json!({"error_rate": 0.6, "error_status": [500, 502, 503, 504]})).await;
    let changes = push(&app, "5xx", 5).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    faults(&app, json!({"error_rate": 0.0})).await;
    app.wait_drained(Duration::from_secs(45)).await;
    assert_arrived(&app, &changes).await;
    let stats = injected(&app).await;
    let f = stats["faults_injected"].as_object().unwrap();
    assert!(f.keys().any(|k| k.starts_with("error_5")), "{stats}");
}

#[tokio::test]
async fn calls_slower_than_the_genesys_timeout_are_retried_and_nothing_is_lost() {
    // `genesys.timeout` of 1 s; the simulator answers after 1.5 s for a while.
    let app = TestApp::spawn_with(|c| c.genesys.timeout = Some(Duration::from_secs(1))).await;
    warm_up(&app, "slow-warm@example.com").await;
    faults(&app, json!({"latency_ms": 1500})).await;
    let changes = push(&app, "slow", 4).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    faults(&app, json!({"latency_ms": 0})).await;
    app.wait_drained(Duration::from_secs(45)).await;
    assert_arrived(&app, &changes).await;
    // The timeouts were met: the client counted them as network errors.
    let metrics = app.client.get(format!("http://{}/metrics", app.addr)).send().await.unwrap().text().await.unwrap();
    let line = metrics.lines().find(|l| l.starts_with("scim_bridge_genesys_requests_total{status=\"network_error\"}"));
    let count = line.and_then(|l| l.split_whitespace().last()).and_then(|n| n.parse::<f64>().ok()).unwrap_or(0.0);
    assert!(count >= 1.0, "timeouts counted: {line:?}");
}

#[tokio::test]
async fn dropped_connections_and_lost_answers_are_retried_without_duplicates() {
    let app = TestApp::spawn().await;
    warm_up(&app, "drop-warm@example.com").await;
    // Half the calls never reach Genesys; a fifth are carried out and their answer lost, so a
    // retried create meets 409 and must find the user instead of creating it twice.
    faults(&app, json!({"drop_connection_rate": 0.5, "lose_response_rate": 0.2})).await;
    let changes = push(&app, "drop", 6).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    faults(&app, json!({"drop_connection_rate": 0.0, "lose_response_rate": 0.0})).await;
    app.wait_drained(Duration::from_secs(45)).await;
    assert_arrived(&app, &changes).await;
    let stats = injected(&app).await;
    assert!(stats["dropped_connections"].as_u64().unwrap_or(0) > 0, "{stats}");
}

#[tokio::test]
async fn an_outage_longer_than_the_clients_retries_ends_in_recovery_by_itself() {
    let app = TestApp::spawn().await;
    warm_up(&app, "outage-warm@example.com").await;
    // 503 with Retry-After: 1 on the API and the token endpoint for 8 s: the client spends its
    // six attempts in about 6 s, so the change is held (the client's longest backoff, 30 s) —
    // the situation of an outage of hours, compressed. No IdP traffic follows the outage: the
    // bridge must come back by itself.
    faults(&app, json!({"outage_for_seconds": 8, "retry_after_seconds": 1})).await;
    let began = Instant::now();
    let changes = push(&app, "outage", 4).await;
    let ready = app.get_ops("/readyz").await;
    assert_eq!(ready["checks"]["database"]["ok"], true, "{ready}");
    app.wait_drained(Duration::from_secs(60)).await;
    assert!(began.elapsed() >= Duration::from_secs(8), "drained during the outage?");
    assert_arrived(&app, &changes).await;
    let stats = injected(&app).await;
    assert!(stats["faults_injected"]["outage"].as_u64().unwrap_or(0) > 0, "{stats}");
}

#[tokio::test]
async fn a_retry_after_beyond_180_s_holds_the_change_capped_said_on_readyz_and_released_by_the_next_success() {
    let app = TestApp::spawn().await;
    warm_up(&app, "long-warm@example.com").await;
    // 429 with Retry-After of a day: the client does not wait it out (the SDKs give up past
    // 180 s); the change is held, never parked, and for the bridge's limit, not a day.
    faults(&app, json!({"storm_429_for_seconds": 3, "retry_after_seconds": 86_400})).await;
    let id = app.create_user("held@example.com").await;
    let store = Store::open(&app.db_path()).unwrap();
    let started = Instant::now();
    let held = loop {
        let e = store.outbox_pending().unwrap().into_iter().find(|e| e.resource_id == id);
        if let Some(e) = e.filter(|e| e.not_before > scim_bridge::store::now_millis() + 60_000) {
            break e;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never held back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let limit = scim_bridge::genesys::outbox::HOLD_LIMIT.as_millis() as i64;
    assert!(held.not_before <= scim_bridge::store::now_millis() + limit, "held for the limit, not a day: {held:?}");
    assert!(held.last_error.as_deref().is_some_and(|e| e.contains("429")), "{held:?}");
    assert!(store.outbox_dead().unwrap().is_empty(), "kept, not parked");

    // Still ready (Genesys asked for the wait; the token endpoint answers), and saying so.
    let ready = app.get_ops("/readyz").await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["checks"]["outbox"]["waiting"], 1, "{ready}");
    let detail = ready["checks"]["outbox"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("held back") && detail.contains("Retry-After"), "{ready}");

    // The storm ends; the IdP's next change goes through, and with it the held one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut body = user_body("after@example.com");
    body["phoneNumbers"] = json!([{"type": "eightbyeight", "value": number(7)}]);
    assert_eq!(app.post("/Users", body).await.status, 201);
    app.wait_drained(Duration::from_secs(20)).await;
    let changes = Changes {
        live: vec![("held@example.com".into(), "+14155550100".into()), ("after@example.com".into(), number(7))],
        deleted: vec![],
    };
    assert_arrived(&app, &changes).await;
}

/// Makes the database unwritable from outside the bridge, and writable again.
enum Unwritable {
    /// SQLite: another connection holds the write lock (`BEGIN EXCLUSIVE`) until told to stop.
    Sqlite(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>),
    /// PostgreSQL: the database is read-only for new sessions and the bridge's are ended.
    Postgres { server: String, db: String },
}

impl Unwritable {
    fn begin(url: &str) -> Unwritable {
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        if !url.starts_with("postgres") {
            let path = url.to_string();
            let (locked_tx, locked_rx) = std::sync::mpsc::channel();
            let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
            let holder = std::thread::spawn(move || {
                let mut c = diesel::SqliteConnection::establish(&path).unwrap();
                c.batch_execute("PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE;").unwrap();
                locked_tx.send(()).unwrap();
                let _ = stop_rx.recv();
                c.batch_execute("COMMIT;").unwrap();
            });
            locked_rx.recv().unwrap();
            return Unwritable::Sqlite(stop_tx, holder);
        }
        let server = std::env::var(scim_bridge::store::TEST_POSTGRES_VAR).unwrap();
        let db = url.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
        let mut admin = diesel::PgConnection::establish(&server).unwrap();
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {db} SET default_transaction_read_only = on; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid();"
            ))
            .unwrap();
        Unwritable::Postgres { server, db }
    }

    /// Writable again. PostgreSQL: the bridge's read-only sessions are not ended; it must
    /// replace them by itself.
    fn end(self) {
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        match self {
            Unwritable::Sqlite(stop, holder) => {
                stop.send(()).unwrap();
                holder.join().unwrap();
            }
            Unwritable::Postgres { server, db } => {
                let mut admin = diesel::PgConnection::establish(&server).unwrap();
                admin.batch_execute(&format!("ALTER DATABASE {db} RESET default_transaction_read_only;")).unwrap();
            }
        }
    }
}

#[tokio::test]
async fn writes_get_503_with_retry_after_while_the_database_cannot_be_written_and_reads_go_on() {
    let app = TestApp::spawn().await;
    let before = app.create_user("db-before@example.com").await;
    app.wait_drained(Duration::from_secs(10)).await;

    let fault = Unwritable::begin(&app.db_path());
    let what = if app.db_path().starts_with("postgres") { "read-only" } else { "busy" };
    // PostgreSQL: the first writes may meet sessions that were ended ("connection lost"); the
    // next ones meet the read-only database. Each is a 503 saying so, none hangs.
    for attempt in 0.. {
        let started = Instant::now();
        let r = app.post("/Users", user_body("db-refused@example.com")).await;
        r.assert_error(503, None);
        assert!(started.elapsed() < Duration::from_secs(12), "answered, not hung: {:?}", started.elapsed());
        assert_eq!(r.header("retry-after"), Some("5"), "{:?}", r.headers);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains("nothing was changed") && detail.contains("retry later"), "{detail}");
        if detail.contains(what) {
            break;
        }
        // At most one per pooled connection the fault ended.
        assert!(attempt < 16 && detail.contains("connection to the database was lost"), "{detail}");
    }
    let r = app
        .patch(&format!("/Users/{before}"), patch_body(json!([{"op": "replace", "path": "title", "value": "x"}])))
        .await;
    r.assert_error(503, None);
    // Reads go on.
    assert_eq!(app.get(&format!("/Users/{before}")).await.status, 200);
    let r = app.get(&format!("/Users?filter={}", q("userName eq \"db-before@example.com\""))).await;
    assert_eq!((r.status.as_u16(), r.body["totalResults"].as_u64()), (200, Some(1)), "{}", r.body);
    fault.end();

    // Writable again: the bridge takes writes by itself, and they reach Genesys.
    let started = Instant::now();
    let mut body = user_body("db-after@example.com");
    body["phoneNumbers"] = json!([{"type": "eightbyeight", "value": number(1)}]);
    let r = loop {
        let r = app.post("/Users", body.clone()).await;
        if r.status != 503 || started.elapsed() > Duration::from_secs(15) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(r.status, 201, "{}", r.body);
    // And every write after it, many at once (so the pool uses many connections): no session
    // left over from the fault refuses one.
    let mut live = vec![
        ("db-before@example.com".to_string(), "+14155550100".to_string()),
        ("db-after@example.com".into(), number(1)),
    ];
    let writes = (2..26).map(|i| {
        let app = &app;
        async move {
            let name = format!("db-after{i}@example.com");
            let mut body = user_body(&name);
            body["phoneNumbers"] = json!([{"type": "eightbyeight", "value": number(i)}]);
            let r = app.post("/Users", body).await;
            assert_eq!(r.status, 201, "write {i} after the fault: {}", r.body);
            (name, number(i))
        }
    });
    live.extend(futures_util::future::join_all(writes).await);
    app.wait_drained(Duration::from_secs(30)).await;
    let changes = Changes { live, deleted: vec![] };
    assert_arrived(&app, &changes).await;
    let stats = injected(&app).await;
    assert!(stats["creates_by_user_name"].get("db-refused@example.com").is_none(), "a refused write went out: {stats}");
}

impl TestApp {
    /// An operator route (`/readyz`, `/healthz`) as JSON, whatever its status.
    async fn get_ops(&self, path: &str) -> Value {
        self.client.get(format!("http://{}{path}", self.addr)).send().await.unwrap().json().await.unwrap()
    }
}
