//! Roles the 8x8 integration needs (opt-in, `genesys.roles`): granted to every user with an 8x8
//! number, additively (a role granted by hand stays), once (not again at every change), and again
//! after a reactivation, since Genesys drops a user's direct roles when it is set inactive; in
//! both API modes. A role Genesys lacks is an error in `/readyz` and `/admin` from the start,
//! and parks the grant with what to do once the user's fields are delivered. The dry run shows
//! the grants.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use scim_bridge::config::{Config, Secret};
use scim_bridge::genesys::api::{ApiMode, RoleSpec};
use scim_bridge::store::Store;

use crate::helpers::{TestApp, patch_body, user_body};

/// The 8x8 role is found by the permission it carries (the simulator's `8x8 User`; its `admin`
/// carries every permission and must not be chosen).
const ROLES: &str = "employee, permission:integration:unifiedCommunications:view";
const EIGHT_BY_EIGHT_ROLE: &str = "8x8 User";
const ADMIN_TOKEN: &str = "roles-test-admin-token";

fn with_roles(roles: &'static str, api: ApiMode) -> impl FnOnce(&mut Config) {
    move |c| {
        c.genesys.roles = RoleSpec::parse_list(roles).expect("roles parse");
        c.genesys.api = api;
        c.admin_token = Some(Secret::new(ADMIN_TOKEN));
    }
}

/// The names of the roles the user holds in the simulator.
async fn roles_of(app: &TestApp, user_name: &str) -> BTreeSet<String> {
    let g = app.sim_admin(Method::GET, &format!("/sim/grants/{user_name}"), None).await;
    g["grants"].as_array().into_iter().flatten().filter_map(|g| g["role"].as_str().map(str::to_string)).collect()
}

async fn wait_roles(app: &TestApp, user_name: &str, want: &[&str]) {
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    let started = Instant::now();
    loop {
        let have = roles_of(app, user_name).await;
        if have == want {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{user_name} holds {have:?}, not {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The grant requests Genesys received (`bulkadd`), with their bodies; and whether any request
/// removed a grant.
async fn grant_requests(app: &TestApp) -> (Vec<Value>, bool) {
    let journal = app.sim_admin(Method::GET, "/sim/requests", None).await;
    let all = journal.as_array().cloned().unwrap_or_default();
    let path = |r: &Value| r["path"].as_str().unwrap_or_default().to_string();
    let adds = all.iter().filter(|r| r["method"] == "POST" && path(r).ends_with("/bulkadd")).cloned().collect();
    let removes = all.iter().any(|r| {
        let p = path(r);
        p.ends_with("/bulkremove") || p.ends_with("/bulkreplace") || (r["method"] == "DELETE" && p.contains("/roles/"))
    });
    (adds, removes)
}

fn active(on: bool) -> Value {
    patch_body(json!([{"op": "replace", "path": "active", "value": on}]))
}

/// Grant `role` by hand, as an administrator would in the Genesys UI.
async fn grant_by_hand(app: &TestApp, user_name: &str, role: &str) {
    let token = app.sim_admin(Method::POST, "/sim/tokens", None).await["access_token"].as_str().unwrap().to_string();
    let g = app.sim_admin(Method::GET, &format!("/sim/grants/{user_name}"), None).await;
    let user_id = g["userId"].as_str().unwrap().to_string();
    let division = g["grants"][0]["divisionId"].as_str().unwrap().to_string();
    let roles: Value = app
        .client
        .get(format!("http://{}/api/v2/authorization/roles?name={role}", app.sim))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let role_id = roles["entities"].as_array().unwrap().iter().find(|e| e["name"] == role).unwrap()["id"].clone();
    let r = app
        .client
        .post(format!("http://{}/api/v2/authorization/subjects/{user_id}/bulkadd?subjectType=PC_USER", app.sim))
        .bearer_auth(&token)
        .json(&json!({"grants": [{"roleId": role_id, "divisionId": division}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

async fn roles_are_granted_once_kept_and_granted_again_after_a_reactivation(api: ApiMode) {
    let app = TestApp::spawn_with(with_roles(ROLES, api)).await;
    // Ana has an 8x8 number; Bob has none and gets no role from the bridge.
    let ana = app.create_user("ana@corp.example").await;
    let mut bob = user_body("bob@corp.example");
    bob["phoneNumbers"] = json!([]);
    assert_eq!(app.post("/Users", bob).await.status, 201);
    app.wait_drained(Duration::from_secs(20)).await;
    wait_roles(&app, "ana@corp.example", &["employee", EIGHT_BY_EIGHT_ROLE]).await;
    // Bob holds what Genesys gives every new user, nothing more.
    wait_roles(&app, "bob@corp.example", &["employee"]).await;
    let (adds, _) = grant_requests(&app).await;
    // Ana held employee already (Genesys's default): only the 8x8 role was asked for.
    assert_eq!(adds.len(), 1, "{api}: {adds:#?}");
    assert_eq!(adds[0]["body"]["grants"].as_array().map(Vec::len), Some(1), "{adds:#?}");

    // An administrator grants Ana another role; the IdP changes her title: no grant again, and
    // the administrator's role stays.
    grant_by_hand(&app, "ana@corp.example", "admin").await;
    let by_hand = 1;
    let title = patch_body(json!([{"op": "replace", "path": "title", "value": "Agent"}]));
    assert_eq!(app.patch(&format!("/Users/{ana}"), title).await.status, 200);
    app.wait_drained(Duration::from_secs(20)).await;
    assert_eq!(grant_requests(&app).await.0.len(), 1 + by_hand, "{api}: granted once, not at every change");
    wait_roles(&app, "ana@corp.example", &["admin", "employee", EIGHT_BY_EIGHT_ROLE]).await;

    // Deactivated, Genesys drops her direct roles; reactivated, the bridge grants its roles again
    // (the administrator's role is Genesys's to restore, not the bridge's).
    assert_eq!(app.patch(&format!("/Users/{ana}"), active(false)).await.status, 200);
    app.wait_drained(Duration::from_secs(20)).await;
    wait_roles(&app, "ana@corp.example", &[]).await;
    assert_eq!(app.patch(&format!("/Users/{ana}"), active(true)).await.status, 200);
    app.wait_drained(Duration::from_secs(20)).await;
    wait_roles(&app, "ana@corp.example", &["employee", EIGHT_BY_EIGHT_ROLE]).await;
    let (adds, removes) = grant_requests(&app).await;
    assert_eq!(adds.len(), 2 + by_hand, "{api}: granted again after the reactivation: {adds:#?}");
    assert!(!removes, "{api}: the bridge never removes a role");

    // Bob gains an 8x8 number: he is granted the roles then.
    let number = patch_body(json!([{"op": "add", "path": "phoneNumbers", "value": [
        {"type": "eightbyeight", "value": "+14155550188"}
    ]}]));
    let bob_id = app
        .get(&format!("/Users?filter={}", crate::helpers::q("userName eq \"bob@corp.example\"")))
        .await
        .body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.patch(&format!("/Users/{bob_id}"), number).await.status, 200);
    app.wait_drained(Duration::from_secs(20)).await;
    wait_roles(&app, "bob@corp.example", &["employee", EIGHT_BY_EIGHT_ROLE]).await;
}

#[tokio::test]
async fn over_scim_roles_are_granted_once_kept_and_granted_again_after_a_reactivation() {
    roles_are_granted_once_kept_and_granted_again_after_a_reactivation(ApiMode::Scim).await;
}

#[tokio::test]
async fn over_the_platform_api_roles_are_granted_once_kept_and_granted_again_after_a_reactivation() {
    roles_are_granted_once_kept_and_granted_again_after_a_reactivation(ApiMode::Platform).await;
}

/// The `/admin` page, with the admin token.
async fn admin_page(app: &TestApp) -> String {
    let r = app.client.get(format!("http://{}/admin", app.addr)).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    r.text().await.unwrap()
}

/// The dead change of `id`, once the worker parks it (within `limit`).
async fn parked(store: &Store, id: &str, limit: Duration) -> scim_bridge::store::OutboxEntry {
    let started = Instant::now();
    loop {
        if let Some(d) = store.outbox_dead().unwrap().into_iter().find(|d| d.resource_id == id) {
            return d;
        }
        assert!(started.elapsed() < limit, "never parked: {:?}", store.outbox_pending().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn readyz(app: &TestApp) -> (u16, Value) {
    let r = app.client.get(format!("http://{}/readyz", app.addr)).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_role_genesys_lacks_is_an_error_from_the_start_and_parks_the_grant_after_the_fields() {
    let app = TestApp::spawn_with(with_roles("employee, 8x8 Usr", ApiMode::Scim)).await;
    // At start the bridge looks the roles up: /readyz fails on the missing one, saying what to do.
    let started = Instant::now();
    let (status, body) = loop {
        let (status, body) = readyz(&app).await;
        if body["checks"]["roles"]["ok"] == false || started.elapsed() > Duration::from_secs(10) {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 503, "{body}");
    let detail = body["checks"]["roles"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("no role named '8x8 Usr'") && detail.contains("genesys.roles"), "{detail}");
    let page = admin_page(&app).await;
    assert!(page.contains("role 8x8 Usr") && page.contains("no role named &#39;8x8 Usr&#39;"), "{page}");
    assert!(page.contains("role employee</td><td class=ok>ok"), "{page}");

    // A user with an 8x8 number: its fields reach Genesys, then the change is parked saying why.
    let ana = app.create_user("ana@corp.example").await;
    let store = Store::open(&app.db_path()).unwrap();
    let dead = parked(&store, &ana, Duration::from_secs(20)).await;
    let why = dead.last_error.unwrap_or_default();
    assert!(why.contains("no role named '8x8 Usr'") && why.contains("outbox retry"), "{why}");
    let p = app.profile("ana@corp.example").await.expect("created in Genesys");
    assert!(p.pointer("/contactInfo/0/phone_other/0/value/number").is_some(), "the fields were sent: {p}");
    assert!(grant_requests(&app).await.0.is_empty(), "no grant sent");
    // A user without an 8x8 number needs no role: delivered as usual.
    let mut bob = user_body("bob@corp.example");
    bob["phoneNumbers"] = json!([]);
    let bob = app.post("/Users", bob).await.body["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    while store.outbox_pending().unwrap().iter().any(|p| p.resource_id == bob) {
        assert!(started.elapsed() < Duration::from_secs(20), "bob never delivered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(store.outbox_dead().unwrap().iter().all(|d| d.resource_id != bob));
}

#[tokio::test]
async fn without_roles_configured_nothing_is_looked_up_or_granted_and_readyz_has_no_roles_check() {
    let app = TestApp::spawn().await;
    app.create_user("ana@corp.example").await;
    app.wait_drained(Duration::from_secs(20)).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["checks"].get("roles").is_none(), "{body}");
    let journal = app.sim_admin(Method::GET, "/sim/requests", None).await;
    let authorization = journal
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.contains("/authorization/roles") || p.contains("/subjects/")))
        .count();
    assert_eq!(authorization, 0, "{journal}");
}

#[tokio::test]
async fn the_dry_run_shows_the_grants_it_would_make() {
    let sim = crate::helpers::OwnSim::start(|_| {});
    let app = TestApp::spawn_against(&sim, |c| {
        with_roles(ROLES, ApiMode::Scim)(c);
        c.dry_run = true;
    })
    .await;
    let ana = app.create_user("ana@corp.example").await;
    app.wait_drained(Duration::from_secs(20)).await;
    let bin = env!("CARGO_BIN_EXE_scim-bridge");
    let out = std::process::Command::new(bin)
        .args(["--database", &app.db_path(), "outbox", "list", "--dry-run", "--json"])
        .output()
        .unwrap();
    let rows: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .filter(|r: &Value| r["resourceId"] == ana.as_str())
        .collect();
    let shown: Vec<String> =
        rows.iter().map(|r| format!("{} {}", r["method"].as_str().unwrap(), r["path"].as_str().unwrap())).collect();
    // The roles were looked up at start (the dry run may read Genesys): their ids are known.
    assert_eq!(shown.len(), 4, "{shown:#?}");
    assert!(shown[0].starts_with("POST /api/v2/scim/v2/users"), "{shown:#?}");
    assert!(shown[1].starts_with("GET /api/v2/authorization/divisions/home"), "{shown:#?}");
    assert!(shown[2].starts_with("GET /api/v2/authorization/subjects/{genesys id of ana@corp.example}"), "{shown:#?}");
    assert!(
        shown[3].starts_with("POST /api/v2/authorization/subjects/{genesys id of ana@corp.example}/bulkadd"),
        "{shown:#?}"
    );
    let body = rows[3]["body"]["grants"].as_array().cloned().unwrap_or_default();
    assert_eq!(body.len(), 2, "both roles, before the read says which the user holds: {rows:#?}");
    // Nothing was written to Genesys.
    let journal = app.sim_admin(Method::GET, "/sim/requests", None).await;
    assert!(
        journal.as_array().unwrap().iter().all(|r| r["method"] == "GET" || r["path"] == "/oauth/token"),
        "{journal}"
    );
}

#[tokio::test]
async fn when_genesys_cannot_be_asked_at_start_a_missing_role_is_found_at_the_first_grant() {
    // Genesys is down while the bridge starts: nothing listens where it is yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let app = TestApp::spawn_against_addr(addr, with_roles("employee, 8x8 Usr", ApiMode::Scim)).await;
    let ana = app.create_user("ana@corp.example").await;
    // The start-up lookup gives up (Genesys unreachable): the role is not called missing.
    let started = Instant::now();
    loop {
        let page = admin_page(&app).await;
        if page.contains("role 8x8 Usr</td><td class=warn>unchecked")
            && page.contains("Genesys could not be asked")
            && page.contains("looked up again at the first grant")
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "never gave up on the start-up lookup: {page}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (_, body) = readyz(&app).await;
    assert_eq!(body["checks"]["roles"]["ok"], true, "unchecked is not an error: {body}");

    // Genesys comes back: the first grant looks the role up, parks the change, and says so.
    let _sim = crate::helpers::OwnSim::start(|c| c.listen = addr);
    let store = Store::open(&app.db_path()).unwrap();
    let dead = parked(&store, &ana, Duration::from_secs(90)).await;
    assert!(dead.last_error.unwrap_or_default().contains("no role named '8x8 Usr'"));
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["checks"]["roles"]["detail"].as_str().unwrap_or_default().contains("no role named '8x8 Usr'"),
        "{body}"
    );
}
