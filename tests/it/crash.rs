//! The real binary killed with SIGKILL while it drains the outbox, then restarted on the same
//! database, delivers every change it accepted exactly once. Genesys is `scim-bridge genesys-sim`
//! in its own process, so it outlives the bridge.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::helpers::{TOKEN, patch_body, user_body};
use scim_bridge::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_scim-bridge");
const OTHER_PHONE: &str = "/contactInfo/0/phone_other/0/value/number";
const USERS: usize = 400;
const PATCHED: usize = 200;

/// A child process killed (SIGKILL) when dropped, so a failing test leaves nothing running.
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) fn serve(db: &str, port: u16, sim: &str) -> Proc {
    serve_logging(db, port, sim, None)
}

/// `serve` against the simulator at `sim`; with `log`, everything it prints (at trace level) goes
/// to that file.
pub(crate) fn serve_logging(db: &str, port: u16, sim: &str, log: Option<&std::path::Path>) -> Proc {
    let mut cmd = Command::new(BIN);
    cmd.args(["--database", db, "serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("SCIM_BRIDGE_BOOTSTRAP_TOKEN", TOKEN)
        .env("SCIM_BRIDGE_GENESYS_API_URL", sim)
        .env("SCIM_BRIDGE_GENESYS_LOGIN_URL", sim)
        .env("SCIM_BRIDGE_GENESYS_CLIENT_ID", "crash-test")
        .env("SCIM_BRIDGE_GENESYS_CLIENT_SECRET", "crash-secret")
        .env_remove("SCIM_BRIDGE_GENESYS_REGION");
    match log {
        Some(path) => {
            let file = std::fs::File::create(path).expect("log file");
            cmd.env("RUST_LOG", "trace")
                .env("SCIM_BRIDGE_LOG_FORMAT", "json")
                .stdout(file.try_clone().expect("log file"))
                .stderr(file);
        }
        None => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    Proc(cmd.spawn().expect("serve starts"))
}

/// `scim-bridge genesys-sim` on a free port (OAuth client `crash-test` / `crash-secret`, plus
/// `extra` flags), up and answering; its base URL.
pub(crate) async fn genesys_sim(client: &reqwest::Client, extra: &[&str]) -> (Proc, String) {
    let port = free_port();
    let sim = Proc(
        Command::new(BIN)
            .args(["genesys-sim", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--client-id", "crash-test", "--client-secret", "crash-secret"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("genesys-sim starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_up(client, &format!("{base}/sim/stats")).await;
    (sim, base)
}

pub(crate) fn number(i: usize, round: usize) -> String {
    format!("+1415{:07}", 5_550_000 + round * 1_000 + i)
}

pub(crate) async fn wait_up(client: &reqwest::Client, url: &str) {
    for _ in 0..100 {
        if client.get(url).bearer_auth(TOKEN).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never answered");
}

pub(crate) async fn sim_json(
    client: &reqwest::Client,
    sim: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut rb = client.request(method, format!("{sim}{path}"));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("simulator answers");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

async fn created_count(client: &reqwest::Client, sim: &str) -> usize {
    let stats = sim_json(client, sim, reqwest::Method::GET, "/sim/stats", None).await;
    stats["creates_by_user_name"].as_object().map_or(0, |m| m.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_drain_then_restart_delivers_every_accepted_change_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = scim_bridge::store::test_database(dir.path(), "crash.db").unwrap();
    let client = reqwest::Client::new();
    let (_sim, sim) = genesys_sim(&client, &["--rate-limit-per-minute", "100000"]).await;
    // Slow Genesys down so that the drain takes seconds and the kill lands in its middle.
    sim_json(&client, &sim, reqwest::Method::POST, "/sim/faults", Some(json!({"latency_ms": 60}))).await;

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/scim/v2");
    let mut bridge = serve(&db, port, &sim);
    wait_up(&client, &format!("{base}/ServiceProviderConfig")).await;

    // Accept USERS creates, then a new 8x8 number for the first PATCHED of them.
    let ids: Vec<String> = futures_util::stream::iter(0..USERS)
        .map(|i| {
            let (client, base) = (&client, &base);
            async move {
                let mut body = user_body(&format!("crash{i:04}@example.com"));
                body["phoneNumbers"] = json!([{"type": "eightbyeight", "value": number(i, 0)}]);
                let r = client.post(format!("{base}/Users")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
                assert_eq!(r.status(), 201);
                r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
            }
        })
        .buffered(8)
        .collect()
        .await;
    for (i, id) in ids.iter().enumerate().take(PATCHED) {
        let ops =
            json!([{"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": number(i, 1)}]);
        let r =
            client.patch(format!("{base}/Users/{id}")).bearer_auth(TOKEN).json(&patch_body(ops)).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }

    // Kill -9 once Genesys holds some of them but not all.
    let started = Instant::now();
    while created_count(&client, &sim).await < 40 {
        assert!(started.elapsed() < Duration::from_secs(60), "the drain never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bridge.0.kill().unwrap();
    bridge.0.wait().unwrap();
    let at_kill = created_count(&client, &sim).await;
    assert!(at_kill < USERS, "killed after the drain ended ({at_kill} delivered): not a mid-drain kill");
    let pending = Store::open(&db).unwrap().outbox_depth().unwrap().pending;
    assert!(pending > 0, "changes were waiting at the kill");

    // Restart on the same database: the rest arrives, nothing twice.
    let _bridge = serve(&db, port, &sim);
    wait_drained_at(&db, Duration::from_secs(120)).await;
    let stats = sim_json(&client, &sim, reqwest::Method::GET, "/sim/stats", None).await;
    let creates = stats["creates_by_user_name"].as_object().unwrap();
    assert_eq!(creates.len(), USERS);
    assert!(creates.values().all(|n| n.as_u64() == Some(1)), "a user was created twice: {creates:?}");
    for i in 0..USERS {
        let r = client.get(format!("{sim}/sim/profiles/crash{i:04}@example.com")).send().await.unwrap();
        let p: Value = r.json().await.unwrap();
        let want = number(i, usize::from(i < PATCHED));
        assert_eq!(p.pointer(OTHER_PHONE), Some(&json!(want)), "user {i}: {p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_json_lines_with_change_and_correlation_ids_and_hold_no_secret_or_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = scim_bridge::store::test_database(dir.path(), "logs.db").unwrap();
    let log = dir.path().join("serve.log");
    let client = reqwest::Client::new();
    let (_sim, sim) = genesys_sim(&client, &[]).await;
    // A user an administrator made in Genesys by hand: the bridge's create meets it and parks.
    let token = sim_json(&client, &sim, reqwest::Method::POST, "/sim/tokens", None).await;
    let hand_made = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "unsendable@example.com", "displayName": "By Hand"});
    let r = client
        .post(format!("{sim}/api/v2/scim/v2/users"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&hand_made)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Every Genesys call fails once, so retries and their reasons are logged too.
    sim_json(&client, &sim, reqwest::Method::POST, "/sim/faults", Some(json!({"fail_next": [503, 401, 429]}))).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/scim/v2");
    let _bridge = serve_logging(&db, port, &sim, Some(&log));
    wait_up(&client, &format!("{base}/ServiceProviderConfig")).await;
    let mut body = user_body("logged@example.com");
    body["phoneNumbers"] = json!([{"type": "eightbyeight", "value": "+14155550177"}]);
    let r = client.post(format!("{base}/Users")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    // A duplicate (409), a filter by userName, a number that cannot be sent, and a create that
    // meets the hand-made user (parked with what to do).
    let r = client.post(format!("{base}/Users")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let filter = "userName%20eq%20%22logged%40example.com%22";
    let r = client.get(format!("{base}/Users?filter={filter}")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // A number the bridge could not send is refused at once, naming the accepted forms.
    let mut bad = user_body("unsendable@example.com");
    bad["phoneNumbers"] = json!([{"type": "eightbyeight", "value": "ext. 0199"}]);
    let r = client.post(format!("{base}/Users")).bearer_auth(TOKEN).json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let error: Value = r.json().await.unwrap();
    assert_eq!(error["scimType"], "invalidValue", "{error}");
    assert!(error["detail"].as_str().is_some_and(|d| d.contains("default country") && d.contains("Accepted")));
    // Once the injected failures are spent (a create retried after a 5xx may have been carried
    // out, so its 409 would count as the bridge's own user).
    wait_drained_at(&db, Duration::from_secs(60)).await;
    bad["phoneNumbers"] = json!([{"type": "eightbyeight", "value": "+14155550199"}]);
    let r = client.post(format!("{base}/Users")).bearer_auth(TOKEN).json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let started = Instant::now();
    loop {
        let depth = Store::open(&db).unwrap().outbox_depth().unwrap();
        if depth.pending == 0 && depth.dead == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "never delivered and parked: {depth:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dead = Store::open(&db).unwrap().outbox_dead().unwrap();
    assert!(dead[0].last_error.as_deref().is_some_and(|e| e.contains("not created by the bridge")), "{dead:?}");

    let logs = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    // Each Genesys call of a delivery names its change and Genesys's correlation id.
    let call = lines
        .iter()
        .find(|l| l["fields"]["message"] == "Genesys call" && l["fields"]["http.status"] == 201)
        .unwrap_or_else(|| panic!("no Genesys call logged: {logs}"));
    assert!(call["span"]["change.id"].as_str().is_some_and(|c| c.starts_with("User/")), "{call}");
    assert!(call["fields"]["genesys.correlation_id"].as_str().is_some_and(|c| c.len() > 8), "{call}");
    assert!(lines.iter().any(|l| l["fields"]["message"].as_str().is_some_and(|m| m.contains("parked as dead"))));
    // Every request has its id; the response echoed it (X-Request-Id).
    assert!(lines.iter().any(|l| l["span"]["request.id"].is_string()), "{logs}");

    // No secret, token, e-mail address or phone number, whatever the level.
    let issued = sim_json(&client, &sim, reqwest::Method::GET, "/sim/tokens", None).await;
    let basic = scim_bridge::genesys::simulator::basic_credentials("crash-test", "crash-secret");
    for secret in ["crash-secret", TOKEN, basic.as_str()] {
        assert!(!logs.contains(secret), "{secret:?} is in the log");
    }
    for t in issued.as_array().into_iter().flatten().filter_map(|t| t["access_token"].as_str()) {
        assert!(!logs.contains(t), "an access token is in the log");
    }
    for personal in [
        "logged@example.com",
        "unsendable@example.com",
        "logged%40",
        "4155550177",
        "4155550199",
        "555-0199-77",
        "5550199",
    ] {
        assert!(!logs.contains(personal), "{personal:?} is in the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_stops_the_worker_between_calls_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = scim_bridge::store::test_database(dir.path(), "term.db").unwrap();
    let client = reqwest::Client::new();
    let (_sim, sim) = genesys_sim(&client, &["--rate-limit-per-minute", "100000", "--latency-ms", "20"]).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/scim/v2");
    let mut bridge = serve(&db, port, &sim);
    wait_up(&client, &format!("{base}/ServiceProviderConfig")).await;

    // An IdP pushing 3,000 creates, 16 at a time; SIGTERM lands in the middle of it, while the
    // worker waits out a 30 s Retry-After from Genesys.
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let pusher = {
        let (client, base, accepted) = (client.clone(), base.clone(), accepted.clone());
        tokio::spawn(async move {
            futures_util::stream::iter(0..3000)
                .map(|i| {
                    let (client, base, accepted) = (client.clone(), base.clone(), accepted.clone());
                    async move {
                        let name = format!("term{i:04}@example.com");
                        let r = client
                            .post(format!("{base}/Users"))
                            .bearer_auth(TOKEN)
                            .json(&user_body(&name))
                            .send()
                            .await;
                        if let Ok(r) = r
                            && r.status() == 201
                        {
                            accepted.lock().unwrap().push(name);
                        }
                    }
                })
                .buffer_unordered(16)
                .collect::<Vec<()>>()
                .await
        })
    };
    let count = |n: usize| {
        let accepted = accepted.clone();
        async move {
            let started = Instant::now();
            while accepted.lock().unwrap().len() < n {
                assert!(started.elapsed() < Duration::from_secs(60), "the IdP's creates stalled");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    count(100).await;
    let storm = json!({"storm_429_for_seconds": 600, "retry_after_seconds": 30});
    sim_json(&client, &sim, reqwest::Method::POST, "/sim/faults", Some(storm)).await;
    count(250).await;
    let started = Instant::now();
    while sim_json(&client, &sim, reqwest::Method::GET, "/sim/stats", None).await["rate_limited"].as_u64() == Some(0) {
        assert!(started.elapsed() < Duration::from_secs(5), "the worker never met the 429 storm");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = bridge.0.id().to_string();
    let term_at = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = loop {
        if let Some(s) = bridge.0.try_wait().unwrap() {
            break s;
        }
        assert!(term_at.elapsed() < Duration::from_secs(20), "serve did not stop within 20 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = term_at.elapsed();
    assert!(status.success(), "a clean exit: {status:?}");
    assert!(
        took < Duration::from_secs(10),
        "the worker waited out Genesys's Retry-After ({took:?}) instead of stopping"
    );
    pusher.await.unwrap();
    let accepted: Vec<String> = accepted.lock().unwrap().clone();
    assert!(accepted.len() < 3000, "SIGTERM came after the IdP was done: not a test of requests in flight");

    // Everything answered 201 was stored (and nothing else was), and reaches Genesys once.
    sim_json(&client, &sim, reqwest::Method::DELETE, "/sim/faults", None).await;
    let _bridge = serve(&db, port, &sim);
    wait_up(&client, &format!("{base}/ServiceProviderConfig")).await;
    let list: Value =
        client.get(format!("{base}/Users?count=0")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["totalResults"].as_u64(), Some(accepted.len() as u64), "stored = answered 201");
    wait_drained_at(&db, Duration::from_secs(120)).await;
    let stats = sim_json(&client, &sim, reqwest::Method::GET, "/sim/stats", None).await;
    let creates = stats["creates_by_user_name"].as_object().unwrap();
    assert_eq!(creates.len(), accepted.len(), "every accepted user is in Genesys");
    for name in &accepted {
        assert_eq!(creates.get(name).and_then(Value::as_u64), Some(1), "{name}");
    }
}

fn reconcile(db: &str, sim: &str, args: &[&str]) -> (Option<i32>, Value) {
    let out = Command::new(BIN)
        .args(["--database", db, "reconcile", "--json"])
        .args(args)
        .env("SCIM_BRIDGE_GENESYS_API_URL", sim)
        .env("SCIM_BRIDGE_GENESYS_LOGIN_URL", sim)
        .env("SCIM_BRIDGE_GENESYS_CLIENT_ID", "crash-test")
        .env("SCIM_BRIDGE_GENESYS_CLIENT_SECRET", "crash-secret")
        .env_remove("SCIM_BRIDGE_GENESYS_REGION")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), report)
}

/// Wait until the outbox at `db` has nothing pending; fail on a dead change or after `limit`.
async fn wait_drained_at(db: &str, limit: Duration) {
    let started = Instant::now();
    loop {
        let depth = Store::open(db).unwrap().outbox_depth().unwrap();
        assert_eq!(depth.dead, 0);
        if depth.pending == 0 {
            return;
        }
        assert!(started.elapsed() < limit, "{} changes still pending", depth.pending);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_reports_drift_and_apply_repairs_it_through_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let db = scim_bridge::store::test_database(dir.path(), "reconcile.db").unwrap();
    let client = reqwest::Client::new();
    let (_sim, sim) = genesys_sim(&client, &[]).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/scim/v2");
    let mut bridge = serve(&db, port, &sim);
    wait_up(&client, &format!("{base}/ServiceProviderConfig")).await;
    let mut ids = Vec::new();
    for (i, name) in ["same", "changed", "gone"].iter().enumerate() {
        let mut body = user_body(&format!("{name}@example.com"));
        body["phoneNumbers"] = json!([{"type": "eightbyeight", "value": number(i, 0)}]);
        let r = client.post(format!("{base}/Users")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201);
        ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string());
    }
    wait_drained_at(&db, Duration::from_secs(60)).await;
    bridge.0.kill().unwrap();
    bridge.0.wait().unwrap();

    // Drift made behind the bridge's back, through Genesys's own API.
    let token = sim_json(&client, &sim, reqwest::Method::POST, "/sim/tokens", None).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let genesys_id = |name: &str| {
        let (client, sim, token, name) = (client.clone(), sim.clone(), token.clone(), name.to_string());
        async move {
            let filter = format!("userName eq \"{name}\"");
            let r: Value = client
                .get(format!("{sim}/api/v2/scim/v2/users"))
                .query(&[("filter", filter.as_str())])
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["Resources"][0]["id"].as_str().unwrap().to_string()
        }
    };
    let changed = genesys_id("changed@example.com").await;
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+14155559999"}]});
    let r = client.patch(format!("{sim}/api/v2/scim/v2/users/{changed}")).bearer_auth(&token).json(&ops).send().await;
    assert!(r.unwrap().status().is_success());
    let gone = genesys_id("gone@example.com").await;
    let r = client.delete(format!("{sim}/api/v2/scim/v2/users/{gone}")).bearer_auth(&token).send().await.unwrap();
    assert!(r.status().is_success());
    let stranger = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "stranger@example.com",
        "displayName": "Stranger", "active": true});
    let r =
        client.post(format!("{sim}/api/v2/scim/v2/users")).bearer_auth(&token).json(&stranger).send().await.unwrap();
    assert!(r.status().is_success());

    let (code, report) = reconcile(&db, &sim, &[]);
    assert_eq!(code, Some(2), "drift is exit status 2: {report}");
    assert_eq!(report["inSync"], 1, "{report}");
    assert_eq!(report["missingInGenesys"][0]["userName"], "gone@example.com", "{report}");
    assert_eq!(report["different"][0]["userName"], "changed@example.com", "{report}");
    let field = &report["different"][0]["fields"][0];
    assert_eq!(
        (field["bridge"].as_str(), field["genesys"].as_str()),
        (Some(number(1, 0).as_str()), Some("+14155559999"))
    );
    assert_eq!(report["onlyInGenesys"][0]["userName"], "stranger@example.com", "{report}");
    assert!(report.get("queued").is_none());
    assert!(Store::open(&db).unwrap().last_reconcile_report().unwrap().is_some(), "the report is kept for /admin");

    let (code, report) = reconcile(&db, &sim, &["--apply"]);
    assert_eq!((code, report["queued"].as_u64()), (Some(2), Some(2)), "{report}");
    let _bridge = serve(&db, port, &sim);
    wait_drained_at(&db, Duration::from_secs(60)).await;
    let (code, report) = reconcile(&db, &sim, &[]);
    assert_eq!(code, Some(0), "repaired: {report}");
    assert_eq!(report["inSync"], 3);
    assert_eq!(report["onlyInGenesys"][0]["userName"], "stranger@example.com", "left alone");
}
