//! The bridge changes only Genesys users it created or was told to adopt: a create that meets a
//! user an administrator made is parked with what to do (`genesys.adopt = never`, the default),
//! adopted with `by-username` or after `scim-bridge outbox adopt`; a delete never reaches a user
//! the bridge does not own; a user the bridge made, deactivated and the IdP creates again is its
//! own.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use scim_bridge::genesys::mapping::AdoptPolicy;
use scim_bridge::store::{OutboxEntry, Store};

use crate::helpers::{TestApp, user_body};

const OTHER_PHONE: &str = "/contactInfo/0/phone_other/0/value/number";

/// A Genesys user made by hand (through the simulator's SCIM API, as an admin's tool would).
async fn hand_made(app: &TestApp, user_name: &str) -> String {
    let token =
        app.sim_admin(reqwest::Method::POST, "/sim/tokens", None).await["access_token"].as_str().unwrap().to_string();
    let r: Value = app
        .client
        .post(format!("http://{}/api/v2/scim/v2/users", app.sim))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name, "displayName": "Made By Hand", "title": "Team Lead"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["id"].as_str().expect("created in Genesys").to_string()
}

async fn parked(store: &Store, id: &str) -> OutboxEntry {
    let started = Instant::now();
    loop {
        if let Some(d) = store.outbox_dead().unwrap().into_iter().find(|d| d.resource_id == id) {
            return d;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never parked: {:?}", store.outbox_pending().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_user_an_administrator_made_is_parked_by_default_and_adopted_on_request() {
    let app = TestApp::spawn().await;
    let genesys_id = hand_made(&app, "ana@corp.example").await;
    let created = app.post("/Users", user_body("ana@corp.example")).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let store = Store::open(&app.db_path()).unwrap();
    let dead = parked(&store, &id).await;
    let why = dead.last_error.clone().unwrap_or_default();
    assert!(why.contains("was not created by the bridge") && why.contains(&format!("outbox adopt {id}")), "{why}");
    let p = app.profile("ana@corp.example").await.expect("still in Genesys");
    assert_eq!(p.pointer(OTHER_PHONE), None, "left as it was: {p}");
    assert_eq!(p["id"], genesys_id.as_str());

    // `outbox list --json` shows the reason; `outbox adopt` takes the user over.
    let bin = env!("CARGO_BIN_EXE_scim-bridge");
    let list = std::process::Command::new(bin)
        .args(["--database", &app.db_path(), "outbox", "list", "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("was not created by the bridge"), "{text}");
    let adopt =
        std::process::Command::new(bin).args(["--database", &app.db_path(), "outbox", "adopt", &id]).output().unwrap();
    assert!(adopt.status.success(), "{}", String::from_utf8_lossy(&adopt.stderr));
    app.wait_profile("ana@corp.example", "the 8x8 number after adoption", |p| p.pointer(OTHER_PHONE).is_some()).await;
    app.wait_drained(Duration::from_secs(20)).await;
    assert_eq!(
        store.genesys_link(scim::schema::ResourceKind::User, &id).unwrap().as_deref(),
        Some(genesys_id.as_str())
    );
    let stats = app.sim_admin(reqwest::Method::GET, "/sim/stats", None).await;
    assert_eq!(stats["creates_by_user_name"]["ana@corp.example"], 1, "only the administrator's create: {stats}");
}

#[tokio::test]
async fn with_by_username_the_user_is_adopted_at_once() {
    let app = TestApp::spawn_with(|c| c.genesys.adopt = AdoptPolicy::ByUserName).await;
    let genesys_id = hand_made(&app, "ana@corp.example").await;
    app.create_user("ana@corp.example").await;
    let p = app.wait_profile("ana@corp.example", "the 8x8 number", |p| p.pointer(OTHER_PHONE).is_some()).await;
    assert_eq!(p["id"], genesys_id.as_str());
    app.wait_drained(Duration::from_secs(20)).await;
}

#[tokio::test]
async fn a_delete_never_reaches_a_user_the_bridge_does_not_own() {
    let app = TestApp::spawn_with(|c| c.genesys.delete_mode = scim_bridge::genesys::mapping::DeleteMode::Delete).await;
    hand_made(&app, "bob@corp.example").await;
    let id = app.create_user("bob@corp.example").await;
    let store = Store::open(&app.db_path()).unwrap();
    parked(&store, &id).await;
    assert_eq!(app.delete(&format!("/Users/{id}")).await.status, 204);
    app.wait_drained(Duration::from_secs(20)).await;
    let p = app.profile("bob@corp.example").await.expect("still in Genesys");
    assert_eq!(p["state"], "active", "never deleted: {p}");
    let stats = app.sim_admin(reqwest::Method::GET, "/sim/stats", None).await;
    assert_eq!(stats["deletes_by_user_name"]["bob@corp.example"], Value::Null, "{stats}");
}

#[tokio::test]
async fn a_user_the_bridge_made_and_deactivated_is_its_own_when_the_idp_creates_it_again() {
    let app = TestApp::spawn().await;
    let first = app.create_user("carl@corp.example").await;
    let p = app.wait_profile("carl@corp.example", "carl", |p| p.pointer(OTHER_PHONE).is_some()).await;
    let genesys_id = p["id"].as_str().unwrap().to_string();
    assert_eq!(app.delete(&format!("/Users/{first}")).await.status, 204);
    app.wait_profile("carl@corp.example", "the deactivation", |p| p["state"] == "inactive").await;

    let mut again = user_body("carl@corp.example");
    again["phoneNumbers"] = json!([{"type": "eightbyeight", "value": "+14155550177"}]);
    assert_eq!(app.post("/Users", again).await.status, 201);
    let p = app
        .wait_profile("carl@corp.example", "the new number, active again", |p| {
            p.pointer(OTHER_PHONE) == Some(&json!("+14155550177")) && p["state"] == "active"
        })
        .await;
    assert_eq!(p["id"], genesys_id.as_str(), "the same Genesys user, not parked");
    app.wait_drained(Duration::from_secs(20)).await;
}

/// Ana as an administrator made her in Genesys: display name, title, department, work and
/// mobile numbers.
async fn ana_by_hand(app: &TestApp) {
    let token =
        app.sim_admin(reqwest::Method::POST, "/sim/tokens", None).await["access_token"].as_str().unwrap().to_string();
    let r = app
        .client
        .post(format!("http://{}/api/v2/scim/v2/users", app.sim))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": "ana@corp.example", "displayName": "Ana Lima (Support)", "title": "Team Lead",
            "phoneNumbers": [{"type": "work", "value": "+14155550101"}, {"type": "mobile", "value": "+14155550102"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Support"}
        }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

/// The IdP creates Ana with her 8x8 number and nothing else; she is adopted. Genesys keeps
/// everything the bridge does not own and gains the 8x8 number as Other Phone.
async fn adopted_ana_keeps_what_the_bridge_does_not_own(app: &TestApp) {
    ana_by_hand(app).await;
    let idp = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ana@corp.example",
        "name": {"givenName": "Ana", "familyName": "Lima"},
        "phoneNumbers": [{"type": "eightbyeight", "value": "+14155550123"}],
        "active": true
    });
    let id = app.post("/Users", idp).await.body["id"].as_str().unwrap().to_string();
    let p = app.wait_profile("ana@corp.example", "the 8x8 number", |p| p.pointer(OTHER_PHONE).is_some()).await;
    app.wait_drained(Duration::from_secs(20)).await;
    let p = app.profile("ana@corp.example").await.unwrap_or(p);
    assert_eq!(p.pointer(OTHER_PHONE), Some(&json!("+14155550123")), "{p}");
    assert_eq!(p.pointer("/general/title/0/value"), Some(&json!("Team Lead")), "title kept: {p}");
    assert_eq!(p.pointer("/general/department/0/value"), Some(&json!("Support")), "department kept: {p}");
    assert_eq!(p.pointer("/general/name/0/value"), Some(&json!("Ana Lima (Support)")), "name kept: {p}");
    assert_eq!(p.pointer("/contactInfo/0/phone_work/0/value/number"), Some(&json!("+14155550101")), "work kept: {p}");
    assert_eq!(
        p.pointer("/contactInfo/0/phone_mobile/0/value/number"),
        Some(&json!("+14155550102")),
        "mobile kept: {p}"
    );

    // The IdP now sends a title, then drops it: the bridge wrote it, so it is cleared; the
    // administrator's numbers are still never touched.
    let set = json!([{"op": "add", "path": "title", "value": "Agent"}]);
    assert_eq!(app.patch(&format!("/Users/{id}"), crate::helpers::patch_body(set)).await.status, 200);
    app.wait_profile("ana@corp.example", "the IdP's title", |p| {
        p.pointer("/general/title/0/value") == Some(&json!("Agent"))
    })
    .await;
    let drop = json!([{"op": "remove", "path": "title"}]);
    assert_eq!(app.patch(&format!("/Users/{id}"), crate::helpers::patch_body(drop)).await.status, 200);
    let p = app
        .wait_profile("ana@corp.example", "the title cleared", |p| p.pointer("/general/title/0/value").is_none())
        .await;
    assert_eq!(p.pointer("/contactInfo/0/phone_mobile/0/value/number"), Some(&json!("+14155550102")), "{p}");
    assert_eq!(p.pointer("/general/department/0/value"), Some(&json!("Support")), "{p}");
    app.wait_drained(Duration::from_secs(20)).await;
}

#[tokio::test]
async fn an_adopted_user_keeps_what_the_bridge_does_not_own_over_scim() {
    let app = TestApp::spawn_with(|c| c.genesys.adopt = AdoptPolicy::ByUserName).await;
    adopted_ana_keeps_what_the_bridge_does_not_own(&app).await;
}

#[tokio::test]
async fn an_adopted_user_keeps_what_the_bridge_does_not_own_over_the_platform_api() {
    let app = TestApp::spawn_with(|c| {
        c.genesys.adopt = AdoptPolicy::ByUserName;
        c.genesys.api = scim_bridge::genesys::api::ApiMode::Platform;
    })
    .await;
    adopted_ana_keeps_what_the_bridge_does_not_own(&app).await;
}

/// The dry run's rows, as `outbox list --dry-run --json` prints them.
fn dry_run_rows(app: &TestApp) -> Vec<Value> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-bridge"))
        .args(["--database", &app.db_path(), "outbox", "list", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn rows_of<'r>(rows: &'r [Value], id: &str) -> Vec<&'r Value> {
    rows.iter().filter(|r| r["resourceId"] == id).collect()
}

/// What reached the simulator's API, without the reads.
async fn writes_received(app: &TestApp) -> Vec<Value> {
    let journal = app.sim_admin(reqwest::Method::GET, "/sim/requests", None).await;
    journal.as_array().unwrap().iter().filter(|r| r["method"] != "GET").cloned().collect()
}

#[tokio::test]
async fn the_dry_run_reads_genesys_and_lists_each_collision_before_anything_is_sent() {
    for adopt in [AdoptPolicy::Never, AdoptPolicy::ByUserName] {
        let sim = crate::helpers::OwnSim::start(|_| {});
        let app = TestApp::spawn_against(&sim, |c| {
            c.dry_run = true;
            c.genesys.adopt = adopt;
        })
        .await;
        let genesys_id = hand_made(&app, "ana@corp.example").await;
        let ana = app.create_user("ana@corp.example").await;
        let carl = app.create_user("carl@corp.example").await;
        app.wait_drained(Duration::from_secs(20)).await;
        let rows = dry_run_rows(&app);

        let ana_rows = rows_of(&rows, &ana);
        match adopt {
            AdoptPolicy::Never => {
                // Nothing would be sent for Ana: one row without a request says why.
                assert_eq!(ana_rows.len(), 1, "{rows:#?}");
                assert_eq!(ana_rows[0]["method"], "");
                let note = ana_rows[0]["note"].as_str().unwrap();
                assert!(note.starts_with("collision") && note.contains(&genesys_id), "{note}");
                assert!(note.contains("would be parked") && note.contains("outbox adopt"), "{note}");
            }
            AdoptPolicy::ByUserName => {
                // Ana's Genesys user is adopted: updated in place, never created.
                assert!(ana_rows.iter().all(|r| r["method"] != "POST"), "{rows:#?}");
                assert!(ana_rows.iter().any(|r| r["path"].as_str().unwrap().contains(&genesys_id)), "{rows:#?}");
                assert!(ana_rows[0]["note"].as_str().unwrap().starts_with("adopts Genesys user"), "{rows:#?}");
            }
        }
        // Carl is new to Genesys: created, and the dry run checked that.
        let carl_rows = rows_of(&rows, &carl);
        assert_eq!(carl_rows[0]["method"], "POST", "{rows:#?}");
        assert!(carl_rows[0]["note"].is_null(), "{rows:#?}");
        // The dry run only read: Genesys received the administrator's create and nothing else.
        let writes = writes_received(&app).await;
        assert_eq!(writes.len(), 1, "{adopt:?}: {writes:#?}");
    }
}

#[tokio::test]
async fn without_credentials_the_dry_run_plans_from_the_store_and_says_what_it_could_not_check() {
    let app = TestApp::spawn_with(|c| c.dry_run = true).await;
    let ana = app.create_user("ana@corp.example").await;
    app.wait_drained(Duration::from_secs(20)).await;
    let rows = dry_run_rows(&app);
    let ana_rows = rows_of(&rows, &ana);
    assert_eq!(ana_rows[0]["method"], "POST", "{rows:#?}");
    let note = ana_rows[0]["note"].as_str().unwrap_or_default();
    assert!(note.contains("not checked against Genesys") && note.contains("no Genesys credentials"), "{note}");
    let stats = app.sim_admin(reqwest::Method::GET, "/sim/stats", None).await;
    assert_eq!(stats["requests"], 0, "nothing read or sent: {stats}");
}

/// `scim-bridge reconcile --json` against `sim`, as Genesys Cloud.
fn reconcile_report(app: &TestApp, sim: &crate::helpers::OwnSim, env: &[(&str, &str)]) -> (Option<i32>, Value) {
    let base = format!("http://{}", sim.addr);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-bridge"))
        .args(["--database", &app.db_path(), "reconcile", "--json"])
        .env("SCIM_BRIDGE_GENESYS_API_URL", &base)
        .env("SCIM_BRIDGE_GENESYS_LOGIN_URL", &base)
        .env("SCIM_BRIDGE_GENESYS_CLIENT_ID", crate::helpers::OwnSim::CLIENT_ID)
        .env("SCIM_BRIDGE_GENESYS_CLIENT_SECRET", crate::helpers::OwnSim::CLIENT_SECRET)
        .env_remove("SCIM_BRIDGE_GENESYS_REGION")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), report)
}

#[tokio::test]
async fn reconcile_lists_each_collision_with_what_delivery_does_about_it() {
    let sim = crate::helpers::OwnSim::start(|_| {});
    let app = TestApp::spawn_against(&sim, |_| {}).await;
    let genesys_id = hand_made(&app, "ana@corp.example").await;
    let ana = app.create_user("ana@corp.example").await;
    let carl = app.create_user("carl@corp.example").await;
    let store = Store::open(&app.db_path()).unwrap();
    parked(&store, &ana).await;
    app.wait_profile("carl@corp.example", "carl", |p| p.pointer(OTHER_PHONE).is_some()).await;

    let (code, report) = reconcile_report(&app, &sim, &[]);
    assert_eq!(code, Some(2), "not clean: {report}");
    let collisions = report["collisions"].as_array().unwrap();
    assert_eq!(collisions.len(), 1, "{report:#}");
    assert_eq!(collisions[0]["id"], ana.as_str());
    assert_eq!(collisions[0]["genesysId"], genesys_id.as_str());
    assert_eq!(collisions[0]["outcome"], "parked");
    assert!(collisions[0]["detail"].as_str().unwrap().contains(&format!("outbox adopt {ana}")), "{report:#}");
    assert_eq!(report["inSync"], 1, "Carl, the bridge's own: {report:#}");
    assert!(report["different"].as_array().unwrap().iter().all(|d| d["id"] != ana.as_str()), "{report:#}");

    // With by-username, reconcile says it would adopt her, and what it would send.
    let (_, report) = reconcile_report(&app, &sim, &[("SCIM_BRIDGE_GENESYS_ADOPT", "by-username")]);
    let c = &report["collisions"][0];
    assert_eq!(c["outcome"], "adopted", "{report:#}");
    assert!(c["plan"][0]["path"].as_str().unwrap().ends_with(&genesys_id), "{report:#}");
    let _ = carl;
}

#[tokio::test]
async fn retrying_a_parked_collision_parks_it_again_and_never_takes_the_user_over() {
    let app = TestApp::spawn().await;
    let genesys_id = hand_made(&app, "bob@corp.example").await;
    let id = app.create_user("bob@corp.example").await;
    let store = Store::open(&app.db_path()).unwrap();
    parked(&store, &id).await;
    assert_eq!(store.owned_user(&id).unwrap(), None, "no ownership left behind by the refused create");
    let retry = std::process::Command::new(env!("CARGO_BIN_EXE_scim-bridge"))
        .args(["--database", &app.db_path(), "outbox", "retry", &id])
        .output()
        .unwrap();
    assert!(retry.status.success(), "{}", String::from_utf8_lossy(&retry.stderr));
    assert!(store.outbox_dead().unwrap().is_empty(), "the retry took it out of the dead list");
    parked(&store, &id).await;
    let p = app.profile("bob@corp.example").await.expect("still in Genesys");
    assert_eq!((p["id"].as_str(), p.pointer(OTHER_PHONE)), (Some(genesys_id.as_str()), None), "untouched: {p}");
}

#[tokio::test]
async fn a_phone_an_administrator_deleted_in_genesys_is_not_a_reason_to_park_when_the_idp_drops_it() {
    let app = TestApp::spawn().await;
    let mut body = user_body("dana@corp.example");
    body["phoneNumbers"] = json!([
        {"type": "eightbyeight", "value": "+14155550150"},
        {"type": "work", "value": "+14155550151"}
    ]);
    let id = app.post("/Users", body).await.body["id"].as_str().unwrap().to_string();
    let p = app
        .wait_profile("dana@corp.example", "the work number", |p| p.pointer("/contactInfo/0/phone_work").is_some())
        .await;
    // An administrator deletes the work number in Genesys.
    let token =
        app.sim_admin(reqwest::Method::POST, "/sim/tokens", None).await["access_token"].as_str().unwrap().to_string();
    let r = app
        .client
        .patch(format!("http://{}/api/v2/scim/v2/users/{}", app.sim, p["id"].as_str().unwrap()))
        .bearer_auth(token)
        .json(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The IdP drops it too, and changes the title: Genesys answers the filtered remove with
    // noTarget (the simulator is strict by default); the rest still arrives, nothing is parked.
    let ops = json!([
        {"op": "remove", "path": "phoneNumbers[type eq \"work\"]"},
        {"op": "replace", "path": "title", "value": "Lead"}
    ]);
    assert_eq!(app.patch(&format!("/Users/{id}"), crate::helpers::patch_body(ops)).await.status, 200);
    let p = app
        .wait_profile("dana@corp.example", "the new title", |p| {
            p.pointer("/general/title/0/value") == Some(&json!("Lead"))
        })
        .await;
    assert_eq!(p.pointer("/contactInfo/0/phone_work"), None);
    assert_eq!(p.pointer(OTHER_PHONE), Some(&json!("+14155550150")));
    app.wait_drained(Duration::from_secs(20)).await;
    let refused = app.sim_admin(reqwest::Method::GET, "/sim/requests", None).await;
    assert!(
        refused.as_array().unwrap().iter().any(|r| r["status"] == "400" && r["method"] == "PATCH"),
        "Genesys did answer noTarget once: {refused:#}"
    );
}
