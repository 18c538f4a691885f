//! `scim-bridge sync` (issue 12, docs/sync.md) run as a process against the real bridge, and
//! through a small proxy that answers 429 and 503 or hides Bulk, as another SCIM server might.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::{TOKEN, TestApp};

const BIN: &str = env!("CARGO_BIN_EXE_scim-bridge");
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const EXPORT: &str = "userName,externalId,givenName,familyName,email,eightbyeight,active,title,department,manager,groups\n\
alice@x.com,E1,Alice,Able,alice@x.com,+1 415 555 0001,yes,Boss,Exec,,Admins;Everyone\n\
bob@x.com,E2,Bob,Baker,bob@x.com,+1 415 555 0002,,Dev,Eng,E1,Everyone;Devs\n\
carol@x.com,E3,Carol,Cole,carol@x.com,+1 415 555 0003,1,Dev,Eng,bob@x.com,Devs\n\
dan@x.com,E4,Dan,Dunn,dan@x.com,+1 415 555 0004,TRUE,Ops,Eng,E1,Everyone\n";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("one JSON object on stdout ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

struct Files {
    dir: TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
        Files { dir }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn token(&self) -> PathBuf {
        self.dir.path().join("token")
    }
}

async fn sync(url: &str, source: &Path, token: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<String> = vec![
        "sync".into(),
        "--source".into(),
        source.display().to_string(),
        "--url".into(),
        url.into(),
        "--token-file".into(),
        token.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || {
        let out = Command::new(BIN).args(&args).env_remove("SCIM_BRIDGE_CONFIG").output().expect("binary runs");
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN), "the token is never printed");
        run
    })
    .await
    .unwrap()
}

async fn user(app: &TestApp, user_name: &str) -> Value {
    let r = app.get(&format!("/Users?filter=userName%20eq%20%22{user_name}%22")).await;
    assert_eq!(r.body["totalResults"], 1, "{user_name}: {}", r.body);
    r.body["Resources"][0].clone()
}

async fn group_members(app: &TestApp, name: &str) -> Vec<String> {
    let r = app.get(&format!("/Groups?filter=displayName%20eq%20%22{name}%22")).await;
    assert_eq!(r.body["totalResults"], 1, "{name}: {}", r.body);
    let mut ids: Vec<String> = r.body["Resources"][0]["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn counts(v: &Value) -> [u64; 5] {
    ["created", "updated", "deactivated", "unchanged", "failed"].map(|k| v[k].as_u64().unwrap())
}

#[tokio::test]
async fn first_sync_creates_everything_and_a_second_sends_nothing() {
    let app = TestApp::spawn().await;
    let files = Files::new();
    let src = files.write("users.csv", EXPORT);
    let run = sync(&app.base, &src, &files.token(), &["--json"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let out = run.json();
    assert_eq!(counts(&out), [4, 0, 0, 0, 0], "{out}");
    assert_eq!((out["groups_created"].as_u64(), out["dry_run"].as_bool()), (Some(3), Some(false)));

    let alice = user(&app, "alice@x.com").await;
    let bob = user(&app, "bob@x.com").await;
    let carol = user(&app, "carol@x.com").await;
    let dan = user(&app, "dan@x.com").await;
    assert_eq!(bob["phoneNumbers"], json!([{"type": "eightbyeight", "value": "+1 415 555 0002"}]));
    assert_eq!(bob["emails"][0]["primary"], true);
    assert_eq!(bob["name"]["givenName"], "Bob");
    assert_eq!(bob[ENT]["department"], "Eng");
    // Managers created in the same run, by externalId and by userName.
    assert_eq!(bob[ENT]["manager"]["value"], alice["id"]);
    assert_eq!(carol[ENT]["manager"]["value"], bob["id"]);
    assert_eq!(dan[ENT]["manager"]["value"], alice["id"]);
    assert!(alice[ENT].get("manager").is_none());
    let id = |u: &Value| u["id"].as_str().unwrap().to_string();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(group_members(&app, "Admins").await, vec![id(&alice)]);
    assert_eq!(group_members(&app, "Everyone").await, sorted(vec![id(&alice), id(&bob), id(&dan)]));
    assert_eq!(group_members(&app, "Devs").await, sorted(vec![id(&bob), id(&carol)]));

    let again = sync(&app.base, &src, &files.token(), &["--json"]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    let out = again.json();
    assert_eq!(counts(&out), [0, 0, 0, 4, 0], "{out}");
    assert_eq!((out["groups_created"].as_u64(), out["groups_updated"].as_u64()), (Some(0), Some(0)));
    // Only reads: the ServiceProviderConfig, one page of users, one of groups.
    assert_eq!(out["requests"], 3, "{out}");
}

#[tokio::test]
async fn a_changed_file_sends_only_minimal_patches() {
    let app = TestApp::spawn().await;
    let proxy = Proxy::start(&app, ProxyMode::default());
    let files = Files::new();
    let src = files.write("users.csv", EXPORT);
    assert_eq!(sync(&app.base, &src, &files.token(), &[]).await.code, 0);
    let changed = EXPORT
        .replace("+1 415 555 0002", "+1 415 555 0099")
        .replace("Carol,Cole", "Caroline,Cole")
        .replace("Dev,Eng,bob@x.com,Devs", "Dev,,bob@x.com,Devs;Everyone");
    let src = files.write("users2.csv", &changed);
    let run = sync(&proxy.base, &src, &files.token(), &["--json", "-v"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.json();
    assert_eq!(counts(&out), [0, 2, 0, 2, 0], "{out}");
    assert_eq!(out["groups_updated"], 1);
    // -v with --json: the changes on stderr.
    assert!(run.stderr.contains("\"+1 415 555 0002\" -> \"+1 415 555 0099\""), "{}", run.stderr);

    let bulks = proxy.bodies("/Bulk");
    assert_eq!(bulks.len(), 2, "one Bulk for users, one for the group");
    let ops = bulks[0]["Operations"].as_array().unwrap().clone();
    assert_eq!(ops.len(), 2, "{ops:?}");
    let bob = user(&app, "bob@x.com").await;
    let carol = user(&app, "carol@x.com").await;
    let of = |id: &Value| ops.iter().find(|o| o["path"] == format!("/Users/{}", id.as_str().unwrap())).unwrap().clone();
    assert_eq!(of(&bob["id"])["method"], "PATCH");
    assert_eq!(
        of(&bob["id"])["data"]["Operations"],
        json!([{"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+1 415 555 0099"}])
    );
    assert_eq!(
        of(&carol["id"])["data"]["Operations"],
        json!([
            {"op": "replace", "path": "name.givenName", "value": "Caroline"},
            {"op": "remove", "path": format!("{ENT}:department")}
        ])
    );
    assert_eq!(bob["phoneNumbers"][0]["value"], "+1 415 555 0099");
    assert!(carol[ENT].get("department").is_none());
    assert!(group_members(&app, "Everyone").await.contains(&carol["id"].as_str().unwrap().to_string()));
}

#[tokio::test]
async fn a_dry_run_prints_the_plan_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let proxy = Proxy::start(&app, ProxyMode::default());
    let files = Files::new();
    let src = files.write("users.csv", EXPORT);
    let run = sync(&proxy.base, &src, &files.token(), &["--dry-run", "-v"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("plan: create 4, update 0"), "{}", run.stdout);
    assert!(run.stdout.contains("create bob@x.com (line 3)"), "{}", run.stdout);
    assert!(run.stdout.contains("create group Everyone with alice@x.com, bob@x.com, dan@x.com"), "{}", run.stdout);
    assert!(run.stdout.contains("dry run, would have: created 4"), "{}", run.stdout);
    assert!(proxy.requests().iter().all(|(m, _)| m == "GET"), "{:?}", proxy.requests());
    assert_eq!(app.get("/Users").await.body["totalResults"], 0);
    let json = sync(&app.base, &src, &files.token(), &["--dry-run", "--json"]).await.json();
    assert_eq!((json["created"].as_u64(), json["dry_run"].as_bool()), (Some(4), Some(true)));
    assert_eq!(app.get("/Users").await.body["totalResults"], 0);
}

#[tokio::test]
async fn deactivation_is_asked_for_and_refused_above_the_limit_unless_forced() {
    let app = TestApp::spawn().await;
    let files = Files::new();
    let src = files.write("users.csv", EXPORT);
    assert_eq!(sync(&app.base, &src, &files.token(), &[]).await.code, 0);
    // Two of the four leave.
    let fewer: String = EXPORT.lines().take(3).map(|l| format!("{l}\n")).collect();
    let src = files.write("fewer.csv", &fewer);
    let run = sync(&app.base, &src, &files.token(), &["--json"]).await;
    assert_eq!(run.json()["deactivated"], 0, "not without --deactivate-missing");

    let run = sync(&app.base, &src, &files.token(), &["--deactivate-missing", "--json"]).await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("refusing to deactivate 2 of 4"), "{}", run.stderr);
    assert_eq!(user(&app, "carol@x.com").await["active"], true, "nothing sent");
    let run = sync(&app.base, &src, &files.token(), &["--deactivate-missing", "--max-deactivate", "0.4"]).await;
    assert_eq!(run.code, 2);

    let run =
        sync(&app.base, &src, &files.token(), &["--deactivate-missing", "--max-deactivate", "50%", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["deactivated"], 2);
    assert_eq!(user(&app, "carol@x.com").await["active"], false);
    assert_eq!(user(&app, "dan@x.com").await["active"], false);
    assert_eq!(user(&app, "bob@x.com").await["active"], true);

    // Forced: one of two left, 50 % above the default 10 %.
    let one: String = EXPORT.lines().take(2).map(|l| format!("{l}\n")).collect();
    let src = files.write("one.csv", &one);
    assert_eq!(sync(&app.base, &src, &files.token(), &["--deactivate-missing"]).await.code, 2);
    let run = sync(&app.base, &src, &files.token(), &["--deactivate-missing", "--force-deactivate", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["deactivated"], 1);
    assert_eq!(user(&app, "bob@x.com").await["active"], false);
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_skipped_while_good_rows_apply() {
    let app = TestApp::spawn().await;
    let files = Files::new();
    let text = "userName,externalId,active,eightbyeight,shoeSize\n\
                good@x.com,G1,yes,+1 415 555 0101,42\n\
                ,G2,yes,,\n\
                maybe@x.com,G3,perhaps,,\n\
                GOOD@x.com,G4,,,\n\
                \"quoted@x.com\",G5,no,+1 415 555 0105,\n\
                badphone@x.com,G6,,12,\n";
    let src = files.write("bad.csv", text);
    let run = sync(&app.base, &src, &files.token(), &["--json"]).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let out = run.json();
    assert_eq!((out["created"].as_u64(), out["skipped"].as_u64(), out["failed"].as_u64()), (Some(2), Some(3), Some(1)));
    let skipped: Vec<u64> =
        out["skipped_rows"].as_array().unwrap().iter().map(|s| s["line"].as_u64().unwrap()).collect();
    assert_eq!(skipped, [3, 4, 5]);
    assert_eq!(out["failures"][0]["line"], 7);
    assert_eq!(out["failures"][0]["userName"], "badphone@x.com");
    assert_eq!(out["failures"][0]["status"], 400);
    assert!(run.stderr.contains("columns ignored (not known, no --map): shoeSize"), "{}", run.stderr);
    assert_eq!(user(&app, "good@x.com").await["phoneNumbers"][0]["value"], "+1 415 555 0101");
    assert_eq!(user(&app, "quoted@x.com").await["active"], false);
    assert_eq!(app.get("/Users").await.body["totalResults"], 2);
    // The text report names the lines too.
    let run = sync(&app.base, &src, &files.token(), &[]).await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("skipped line 4 (maybe@x.com): active `perhaps`"), "{}", run.stdout);
}

#[tokio::test]
async fn cannot_run_is_exit_2() {
    let app = TestApp::spawn().await;
    let files = Files::new();
    let src = files.write("users.csv", EXPORT);
    let bad = files.write("bad-token", "not-the-token");
    let run = sync(&app.base, &src, &bad, &[]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("refused the token (401)"), "{}", run.stderr);
    assert!(!run.stderr.contains("not-the-token"));

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let run = sync(&format!("http://127.0.0.1:{port}/scim/v2"), &src, &files.token(), &["--json"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("cannot be reached"), "{}", run.stderr);
    assert!(run.json()["error"].is_string());

    // The server, but not its SCIM base URL.
    let run = sync(&format!("http://{}/", app.addr), &src, &files.token(), &[]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);

    let run = sync(&app.base, &files.dir.path().join("absent.csv"), &files.token(), &[]).await;
    assert_eq!(run.code, 2);
    let no_user_name = files.write("header.csv", "login,email\na,b\n");
    assert_eq!(sync(&app.base, &no_user_name, &files.token(), &[]).await.code, 2);
    assert_eq!(sync(&app.base, &src, &files.token(), &["--map", "title=noSuchAttribute"]).await.code, 2);
    assert_eq!(app.get("/Users").await.body["totalResults"], 0);
}

#[tokio::test]
async fn json_lines_and_mapped_columns() {
    let app = TestApp::spawn().await;
    let files = Files::new();
    let jsonl = format!(
        "{}\n{}\nnot json\n",
        json!({"userName": "j1@x.com", "externalId": "J1", "name": {"givenName": "Jo"},
               "phoneNumbers": [{"type": "eightbyeight", "value": "+1 415 555 0201"}],
               ENT: {"department": "Sales"}, "groups": ["Jsonl"]}),
        json!({"userName": "j2@x.com", "active": false, ENT: {"manager": {"value": "J1"}}, "groups": [{"display": "Jsonl"}]})
    );
    let src = files.write("users.jsonl", &jsonl);
    let run = sync(&app.base, &src, &files.token(), &["--json"]).await;
    assert_eq!(run.code, 1, "one bad line: {}", run.stderr);
    let out = run.json();
    assert_eq!((out["created"].as_u64(), out["skipped_rows"][0]["line"].as_u64()), (Some(2), Some(3)));
    let j1 = user(&app, "j1@x.com").await;
    let j2 = user(&app, "j2@x.com").await;
    assert_eq!(j1["phoneNumbers"][0]["value"], "+1 415 555 0201");
    assert_eq!(j2[ENT]["manager"]["value"], j1["id"]);
    assert_eq!(j2["active"], false);
    assert_eq!(group_members(&app, "Jsonl").await.len(), 2);

    // CSV with --map, and --format overriding the extension.
    let csv = "userName,mobile,cost\nm@x.com,+1 415 555 0301,CC7\n";
    let src = files.write("mapped.txt", csv);
    let run = sync(
        &app.base,
        &src,
        &files.token(),
        &[
            "--format",
            "csv",
            "--map",
            "mobile=phoneNumbers[type eq \"mobile\"].value",
            "--map",
            &format!("cost={ENT}:costCenter"),
            "--json",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = user(&app, "m@x.com").await;
    assert_eq!(m["phoneNumbers"], json!([{"type": "mobile", "value": "+1 415 555 0301"}]));
    assert_eq!(m[ENT]["costCenter"], "CC7");
}

#[tokio::test]
async fn rate_limits_and_unavailability_are_retried_honouring_retry_after() {
    let app = TestApp::spawn().await;
    let proxy = Proxy::start(&app, ProxyMode { refuse_first_bulks: true, ..ProxyMode::default() });
    let files = Files::new();
    let src = files.write("users.csv", EXPORT);
    let started = std::time::Instant::now();
    let run = sync(&proxy.base, &src, &files.token(), &["--json"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let out = run.json();
    assert_eq!(counts(&out), [4, 0, 0, 0, 0], "{out}");
    assert_eq!(out["retries"], 2);
    assert!(started.elapsed() >= std::time::Duration::from_secs(2), "waited Retry-After twice");
    assert_eq!(proxy.statuses("/Bulk")[..3], [429, 503, 200]);
    assert_eq!(user(&app, "bob@x.com").await["phoneNumbers"][0]["value"], "+1 415 555 0002");
}

#[tokio::test]
async fn a_bulk_operation_answered_429_is_sent_again() {
    let app = TestApp::spawn().await;
    let proxy = Proxy::start(&app, ProxyMode { refuse_first_operation: true, ..ProxyMode::default() });
    let files = Files::new();
    let src = files.write("users.csv", EXPORT);
    let run = sync(&proxy.base, &src, &files.token(), &["--json"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let out = run.json();
    assert_eq!(counts(&out), [4, 0, 0, 0, 0], "{out}");
    assert_eq!(out["retries"], 1);
    let bulks = proxy.bodies("/Bulk");
    assert_eq!(bulks[1]["Operations"].as_array().unwrap().len(), 1, "only the refused operation again");
    assert_eq!(bulks[1]["Operations"][0]["data"]["userName"], "alice@x.com");
    let bob = user(&app, "bob@x.com").await;
    assert_eq!(bob[ENT]["manager"]["value"], user(&app, "alice@x.com").await["id"]);
}

#[tokio::test]
async fn groups_listed_without_members_are_read_one_by_one() {
    let app = TestApp::spawn().await;
    let files = Files::new();
    let src = files.write("users.csv", EXPORT);
    assert_eq!(sync(&app.base, &src, &files.token(), &[]).await.code, 0);
    let proxy = Proxy::start(&app, ProxyMode { list_groups_without_members: true, ..ProxyMode::default() });
    // Carol leaves Devs: one removal, nothing else.
    let changed = EXPORT.replace("Dev,Eng,bob@x.com,Devs", "Dev,Eng,bob@x.com,");
    let src = files.write("users2.csv", &changed);
    let run = sync(&proxy.base, &src, &files.token(), &["--json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.json();
    assert_eq!((out["groups_updated"].as_u64(), out["unchanged"].as_u64()), (Some(1), Some(4)), "{out}");
    let gets = proxy.requests().into_iter().filter(|(m, p)| m == "GET" && p.contains("/Groups/")).count();
    assert_eq!(gets, 3, "the three groups the export names");
    let bob = user(&app, "bob@x.com").await;
    assert_eq!(group_members(&app, "Devs").await, vec![bob["id"].as_str().unwrap().to_string()]);
}

#[tokio::test]
async fn without_bulk_single_requests_are_sent() {
    let app = TestApp::spawn().await;
    let proxy = Proxy::start(&app, ProxyMode { hide_bulk: true, ..ProxyMode::default() });
    let files = Files::new();
    let src = files.write("users.csv", EXPORT);
    let run = sync(&proxy.base, &src, &files.token(), &["--json"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(counts(&run.json()), [4, 0, 0, 0, 0]);
    let requests = proxy.requests();
    assert!(requests.iter().all(|(_, p)| !p.contains("/Bulk")), "{requests:?}");
    assert_eq!(requests.iter().filter(|(m, p)| m == "POST" && p.ends_with("/Users")).count(), 4);
    let bob = user(&app, "bob@x.com").await;
    let alice = user(&app, "alice@x.com").await;
    assert_eq!(bob[ENT]["manager"]["value"], alice["id"]);
    let changed = EXPORT.replace("+1 415 555 0004", "+1 415 555 0404");
    let src = files.write("users2.csv", &changed);
    let run = sync(&proxy.base, &src, &files.token(), &["--json"]).await;
    assert_eq!(counts(&run.json()), [0, 1, 0, 3, 0]);
    let dan = user(&app, "dan@x.com").await;
    let patches = proxy.bodies(&format!("/Users/{}", dan["id"].as_str().unwrap()));
    assert_eq!(
        patches.last().unwrap()["Operations"],
        json!([{"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+1 415 555 0404"}])
    );
}

#[derive(Clone, Copy, Default)]
struct ProxyMode {
    /// Answer the first Bulk with 429 (Retry-After: 1) and the second with 503 (Retry-After: 1).
    refuse_first_bulks: bool,
    /// Rewrite the ServiceProviderConfig to `bulk.supported: false`.
    hide_bulk: bool,
    /// Answer the first operation of the first Bulk with a per-operation 429 (not forwarded).
    refuse_first_operation: bool,
    /// Leave `members` out of the groups of `GET /Groups` lists.
    list_groups_without_members: bool,
}

#[derive(Default)]
struct ProxyLog {
    /// Method, path, body, status answered.
    entries: Vec<(String, String, Value, u16)>,
}

struct ProxyState {
    upstream: String,
    mode: ProxyMode,
    bulks: AtomicUsize,
    log: Mutex<ProxyLog>,
    client: reqwest::Client,
}

/// A forwarding proxy in front of the bridge that records what passes.
struct Proxy {
    base: String,
    state: Arc<ProxyState>,
    handle: actix_web::dev::ServerHandle,
}

impl Proxy {
    fn start(app: &TestApp, mode: ProxyMode) -> Proxy {
        let state = Arc::new(ProxyState {
            upstream: format!("http://{}", app.addr),
            mode,
            bulks: AtomicUsize::new(0),
            log: Mutex::default(),
            client: reqwest::Client::new(),
        });
        let (tx, rx) = mpsc::channel();
        let shared = state.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = web::Data::from(shared);
                let server =
                    HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(forward)))
                        .workers(1)
                        .bind("127.0.0.1:0")
                        .unwrap();
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle())).unwrap();
                let _ = server.await;
            });
        });
        let (addr, handle) = rx.recv().unwrap();
        Proxy { base: format!("http://{addr}/scim/v2"), state, handle }
    }

    fn requests(&self) -> Vec<(String, String)> {
        self.state.log.lock().unwrap().entries.iter().map(|(m, p, _, _)| (m.clone(), p.clone())).collect()
    }

    fn bodies(&self, path_end: &str) -> Vec<Value> {
        let log = self.state.log.lock().unwrap();
        log.entries.iter().filter(|(m, p, _, _)| m != "GET" && p.ends_with(path_end)).map(|e| e.2.clone()).collect()
    }

    fn statuses(&self, path_end: &str) -> Vec<u16> {
        let log = self.state.log.lock().unwrap();
        log.entries.iter().filter(|(_, p, _, _)| p.ends_with(path_end)).map(|e| e.3).collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn forward(req: HttpRequest, body: web::Bytes, state: web::Data<ProxyState>) -> HttpResponse {
    let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let method = req.method().as_str().to_string();
    let logged: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let record =
        |status: u16| state.log.lock().unwrap().entries.push((method.clone(), path.clone(), logged.clone(), status));
    if state.mode.refuse_first_bulks && req.path().ends_with("/Bulk") {
        match state.bulks.fetch_add(1, Ordering::SeqCst) {
            0 => {
                record(429);
                return HttpResponse::TooManyRequests().insert_header(("Retry-After", "1")).finish();
            }
            1 => {
                record(503);
                return HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "1")).finish();
            }
            _ => {}
        }
    }
    let mut body = body.to_vec();
    let mut held = None;
    if state.mode.refuse_first_operation
        && req.path().ends_with("/Bulk")
        && state.bulks.fetch_add(1, Ordering::SeqCst) == 0
    {
        let mut bulk: Value = serde_json::from_slice(&body).unwrap();
        let first = bulk["Operations"].as_array_mut().unwrap().remove(0);
        held = Some(json!({"method": first["method"], "bulkId": first["bulkId"], "status": "429"}));
        body = bulk.to_string().into_bytes();
    }
    let m = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut up = state.client.request(m, format!("{}{}", state.upstream, path));
    for name in ["authorization", "content-type", "accept"] {
        if let Some(v) = req.headers().get(name) {
            up = up.header(name, v.to_str().unwrap());
        }
    }
    let resp = up.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    let mut bytes = resp.bytes().await.unwrap().to_vec();
    if state.mode.hide_bulk && req.path().ends_with("/ServiceProviderConfig") {
        let mut spc: Value = serde_json::from_slice(&bytes).unwrap();
        spc["bulk"] = json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0});
        bytes = spc.to_string().into_bytes();
    }
    if state.mode.list_groups_without_members && req.path().ends_with("/Groups") && req.method() == "GET" {
        let mut list: Value = serde_json::from_slice(&bytes).unwrap();
        for g in list["Resources"].as_array_mut().into_iter().flatten() {
            g.as_object_mut().unwrap().remove("members");
        }
        bytes = list.to_string().into_bytes();
    }
    if let Some(answer) = held {
        let mut bulk: Value = serde_json::from_slice(&bytes).unwrap();
        bulk["Operations"].as_array_mut().unwrap().insert(0, answer);
        bytes = bulk.to_string().into_bytes();
    }
    record(status);
    let mut out = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    out.content_type("application/scim+json");
    if let Some(l) = location {
        out.insert_header(("Location", l));
    }
    out.body(bytes)
}
