//! Changes accepted over SCIM reach the (simulated) Genesys Cloud: the 8x8 number lands in the
//! user's Other Phone, read through the simulator's `GET /sim/profiles/{userName}`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use scim_bridge::genesys::api::ApiMode;
use scim_bridge::genesys::mapping::DeleteMode;

use crate::helpers::{TestApp, patch_body};

const OTHER_PHONE: &str = "/contactInfo/0/phone_other/0/value/number";

impl TestApp {
    /// The simulator's profile of a user (`None` while Genesys has no such user).
    pub async fn profile(&self, user_name: &str) -> Option<Value> {
        let r = self.client.get(format!("http://{}/sim/profiles/{user_name}", self.sim)).send().await.ok()?;
        if r.status() != 200 {
            return None;
        }
        r.json().await.ok()
    }

    /// Wait (up to 15 s) until the profile satisfies `check`; return it.
    pub async fn wait_profile(&self, user_name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            if let Some(p) = self.profile(user_name).await.filter(|p| check(p)) {
                return p;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "Genesys never showed {what} for {user_name}: {:?}",
                self.profile(user_name).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn entra_user(user_name: &str, number: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": user_name,
        "active": "True",
        "displayName": "Jane Doe",
        "emails": [{"primary": "true", "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "phoneNumbers": [{"type": "eightbyeight", "value": number}, {"type": "mobile", "value": "+1 415 555 0111"}],
        "title": "Account Manager",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"}
    })
}

/// Create, new number, deactivation, delete; `deleted` is the state a SCIM DELETE leaves.
async fn lifecycle(app: &TestApp, deleted: &str) {
    let name = "jane.doe@example.com";
    let created = app.post("/Users", entra_user(name, "+1 (415) 555-0123")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let p = app.wait_profile(name, "the 8x8 number", |p| p.pointer(OTHER_PHONE).is_some()).await;
    assert_eq!(p.pointer(OTHER_PHONE), Some(&json!("+14155550123")), "normalised to E.164: {p}");
    assert_eq!(p["state"], "active");

    // Entra's PATCH of the 8x8 number changes the Other Phone.
    let r = app
        .patch(
            &format!("/Users/{id}"),
            patch_body(json!([{"op": "Replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+14155550199"}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.wait_profile(name, "the new 8x8 number", |p| p.pointer(OTHER_PHONE) == Some(&json!("+14155550199"))).await;

    // Deactivation and deletion arrive.
    app.patch(&format!("/Users/{id}"), patch_body(json!([{"op": "Replace", "path": "active", "value": "False"}])))
        .await;
    app.wait_profile(name, "the deactivation", |p| p["state"] == "inactive").await;
    assert_eq!(app.delete(&format!("/Users/{id}")).await.status, 204);
    app.wait_drained(Duration::from_secs(15)).await;
    app.wait_profile(name, "the deletion", |p| p["state"] == deleted).await;
    let stats = app.sim_admin(reqwest::Method::GET, "/sim/stats", None).await;
    let deletes = stats["deletes_by_user_name"][name].as_u64().unwrap_or(0);
    assert_eq!(deletes, u64::from(deleted == "deleted"), "{stats}");
}

#[tokio::test]
async fn an_entra_user_reaches_genesys_through_scim_with_its_8x8_number() {
    // By default a SCIM DELETE deactivates: the Genesys user stays, inactive.
    let app = TestApp::spawn().await;
    lifecycle(&app, "inactive").await;
}

#[tokio::test]
async fn an_entra_user_reaches_genesys_through_the_platform_api_with_its_8x8_number() {
    let app = TestApp::spawn_with(|c| {
        c.genesys.api = ApiMode::Platform;
        c.genesys.delete_mode = DeleteMode::Delete;
    })
    .await;
    lifecycle(&app, "deleted").await;
}

#[tokio::test]
async fn the_number_source_is_configurable() {
    let app = TestApp::spawn_with(|c| {
        c.genesys.number_source = "phoneNumbers[type eq \"work\"].value".parse().unwrap();
        c.genesys.default_country = Some("US".parse().unwrap());
    })
    .await;
    let mut body = crate::helpers::user_body("worker@example.com");
    body["phoneNumbers"] = json!([{"type": "work", "value": "(415) 555-0142"}]);
    assert_eq!(app.post("/Users", body).await.status, 201);
    let p =
        app.wait_profile("worker@example.com", "the work number as 8x8", |p| p.pointer(OTHER_PHONE).is_some()).await;
    assert_eq!(p.pointer(OTHER_PHONE), Some(&json!("+14155550142")));
}

/// The members (Genesys user ids) of the simulator's group called `name`.
async fn sim_group_members(app: &TestApp, name: &str) -> Vec<String> {
    let groups = app.sim_admin(reqwest::Method::GET, "/sim/groups", None).await;
    let group = groups.as_array().into_iter().flatten().find(|g| g["displayName"] == name).cloned().unwrap_or_default();
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["value"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn group_membership_goes_to_the_genesys_group_of_the_same_name_and_a_missing_group_is_parked() {
    let app = TestApp::spawn().await;
    app.sim_admin(reqwest::Method::POST, "/sim/groups", Some(json!({"displayName": "Sales"}))).await;
    let (a, b) = (app.create_user("ann@example.com").await, app.create_user("bob@example.com").await);
    let group = app.create_group("Sales", &[&a, &b]).await;
    let started = Instant::now();
    while sim_group_members(&app, "Sales").await.len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(20), "members never reached the Genesys group");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ann = app.wait_profile("ann@example.com", "ann", |_| true).await["id"].as_str().map(str::to_string);
    // Entra's removal form: remove with a value filter.
    let r = app
        .patch(
            &format!("/Groups/{group}"),
            patch_body(json!([{"op": "Remove", "path": format!("members[value eq \"{b}\"]")}])),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let started = Instant::now();
    loop {
        let members = sim_group_members(&app, "Sales").await;
        if members.len() == 1 {
            if let Some(ann) = &ann {
                assert_eq!(&members[0], ann, "the one left is Ann");
            }
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the removal never reached Genesys: {members:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A group Genesys does not have is parked with an error that says what to do.
    let ghost = app.create_group("Not In Genesys", &[&a]).await;
    let store = scim_bridge::store::Store::open(&app.db_path()).unwrap();
    let started = Instant::now();
    let dead = loop {
        let dead = store.outbox_dead().unwrap();
        if let Some(d) = dead.into_iter().find(|d| d.resource_id == ghost) {
            break d;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the change was never parked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(dead.last_error.as_deref().is_some_and(|e| e.contains("create it in Genesys")), "{dead:?}");
}

#[tokio::test]
async fn a_dry_run_stores_everything_sends_nothing_and_records_the_requests() {
    let app = TestApp::spawn_with(|c| c.dry_run = true).await;
    let name = "dry.run@example.com";
    let created = app.post("/Users", entra_user(name, "+1 (415) 555-0123")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    app.wait_drained(Duration::from_secs(15)).await;
    let ops =
        json!([{"op": "Replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+14155550199"}]);
    assert_eq!(app.patch(&format!("/Users/{id}"), patch_body(ops)).await.status, 200);
    app.wait_drained(Duration::from_secs(15)).await;

    let stats = app.sim_admin(reqwest::Method::GET, "/sim/stats", None).await;
    assert_eq!(stats["requests"], 0, "Genesys was not called: {stats}");
    assert!(app.profile(name).await.is_none());

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-bridge"))
        .args(["--database", &app.db_path(), "outbox", "list", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!((lines[0]["method"].as_str(), lines[0]["path"].as_str()), (Some("POST"), Some("/api/v2/scim/v2/users")));
    assert_eq!(lines[0]["resourceId"], id.as_str());
    let phones = lines[0]["body"]["phoneNumbers"].as_array().expect("phones in the create");
    assert!(phones.iter().any(|p| p["type"] == "eightbyeight" && p["value"] == "+14155550123"), "{phones:?}");
    assert_eq!(lines[1]["method"], "PATCH", "the second change updates the user the first would have created");
    assert!(lines[1]["body"].to_string().contains("+14155550199"), "{}", lines[1]);
}

#[tokio::test]
async fn platform_creates_go_to_the_named_division_and_an_unknown_one_is_parked() {
    let app = TestApp::spawn_with(|c| c.genesys.api = ApiMode::Platform).await;
    let mut home = entra_user("home@example.com", "+14155550123");
    home["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["division"] = json!("home");
    assert_eq!(app.post("/Users", home).await.status, 201);
    let p =
        app.wait_profile("home@example.com", "the user in its division", |p| p.pointer(OTHER_PHONE).is_some()).await;
    assert_eq!(p["division"], "Home", "found by name, case-insensitively: {p}");

    let mut lost = entra_user("lost@example.com", "+14155550124");
    lost["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["division"] = json!("Atlantis");
    let created = app.post("/Users", lost).await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().unwrap().to_string();
    let store = scim_bridge::store::Store::open(&app.db_path()).unwrap();
    let started = Instant::now();
    let dead = loop {
        if let Some(d) = store.outbox_dead().unwrap().into_iter().find(|d| d.resource_id == id) {
            break d;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never parked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(dead.last_error.as_deref().is_some_and(|e| e.contains("no division named 'Atlantis'")), "{dead:?}");
    assert!(app.profile("lost@example.com").await.is_none());
}

/// Someone edits the user in Genesys between the bridge's read and its write; Genesys answers
/// the stale version with `status` (409, or 400 "does not match the current version").
async fn a_platform_version_conflict_is_read_again_and_retried(status: u16) {
    let app = TestApp::spawn_with(|c| c.genesys.api = ApiMode::Platform).await;
    app.sim_admin(reqwest::Method::POST, "/sim/faults", Some(json!({"version_conflict_status": status}))).await;
    let name = "conflict@example.com";
    let created = app.post("/Users", entra_user(name, "+14155550123")).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    app.wait_profile(name, "the first number", |p| p.pointer(OTHER_PHONE).is_some()).await;
    app.wait_drained(Duration::from_secs(15)).await;

    app.sim_admin(reqwest::Method::POST, "/sim/faults", Some(json!({"edit_after_next_reads": 1}))).await;
    let ops =
        json!([{"op": "Replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+14155550199"}]);
    assert_eq!(app.patch(&format!("/Users/{id}"), patch_body(ops)).await.status, 200);
    let p = app.wait_profile(name, "the new number", |p| p.pointer(OTHER_PHONE) == Some(&json!("+14155550199"))).await;
    assert_eq!(
        p.pointer("/general/title/0/value"),
        Some(&json!("Account Manager")),
        "the bridge's title, written after the conflict: {p}"
    );

    let stats = app.sim_admin(reqwest::Method::GET, "/sim/stats", None).await;
    assert_eq!(stats["faults_injected"]["edit_after_read"], 1, "{stats}");
    let conflicts = stats["by_route"]["PATCH /api/v2/users/{id}"][status.to_string()].as_u64().unwrap_or(0);
    assert!(conflicts >= 1, "the stale version met a {status}: {stats}");
    app.wait_drained(Duration::from_secs(15)).await;
    let store = scim_bridge::store::Store::open(&app.db_path()).unwrap();
    assert!(store.outbox_dead().unwrap().is_empty(), "nothing parked");
}

#[tokio::test]
async fn a_platform_409_version_conflict_is_read_again_and_retried() {
    a_platform_version_conflict_is_read_again_and_retried(409).await;
}

#[tokio::test]
async fn a_platform_400_version_mismatch_is_read_again_and_retried() {
    a_platform_version_conflict_is_read_again_and_retried(400).await;
}

#[tokio::test]
async fn a_user_name_held_by_a_user_the_bridge_cannot_see_is_parked_with_what_to_do() {
    let app = TestApp::spawn().await;
    let name = "hidden@example.com";
    app.sim_admin(reqwest::Method::POST, "/sim/faults", Some(json!({"hidden_user_names": [name]}))).await;
    let created = app.post("/Users", entra_user(name, "+14155550123")).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let store = scim_bridge::store::Store::open(&app.db_path()).unwrap();
    let started = Instant::now();
    let dead = loop {
        if let Some(d) = store.outbox_dead().unwrap().into_iter().find(|d| d.resource_id == id) {
            break d;
        }
        assert!(started.elapsed() < Duration::from_secs(40), "never parked: {:?}", store.outbox_pending().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let why = dead.last_error.unwrap_or_default();
    assert!(why.contains("held by another Genesys user") && why.contains("outbox retry"), "{why}");
    let stats = app.sim_admin(reqwest::Method::GET, "/sim/stats", None).await;
    let conflicts = stats["by_route"]["POST /api/v2/scim/v2/users"]["409"].as_u64().unwrap_or(0);
    assert!((2..=10).contains(&conflicts), "a bounded number of attempts: {stats}");
}

#[tokio::test]
async fn a_member_added_in_genesys_by_hand_stays_through_group_syncs() {
    let app = TestApp::spawn().await;
    app.sim_admin(reqwest::Method::POST, "/sim/groups", Some(json!({"displayName": "Support"}))).await;
    // An administrator made a user in Genesys and put them in the group.
    let token =
        app.sim_admin(reqwest::Method::POST, "/sim/tokens", None).await["access_token"].as_str().unwrap().to_string();
    let sim = |method, path: &str| app.client.request(method, format!("http://{}{path}", app.sim)).bearer_auth(&token);
    let hand: Value = sim(reqwest::Method::POST, "/api/v2/scim/v2/users")
        .header("content-type", "application/scim+json")
        .json(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "hand@corp.example", "displayName": "Hand Made"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hand = hand["id"].as_str().unwrap().to_string();
    let groups = app.sim_admin(reqwest::Method::GET, "/sim/groups", None).await;
    let support = groups.as_array().unwrap().iter().find(|g| g["displayName"] == "Support").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let added = sim(reqwest::Method::PATCH, &format!("/api/v2/scim/v2/groups/{support}"))
        .header("content-type", "application/scim+json")
        .json(&patch_body(json!([{"op": "add", "path": "members", "value": [{"value": hand}]}])))
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success(), "{}", added.status());
    assert_eq!(sim_group_members(&app, "Support").await, vec![hand.clone()]);

    // The IdP's group gains Ann, then loses her; the hand-added member is never touched.
    let ann = app.create_user("ann@example.com").await;
    let group = app.create_group("Support", &[&ann]).await;
    app.wait_drained(Duration::from_secs(20)).await;
    let ann_genesys = app.wait_profile("ann@example.com", "ann", |_| true).await["id"].as_str().unwrap().to_string();
    let mut both = vec![hand.clone(), ann_genesys.clone()];
    both.sort();
    assert_eq!(sim_group_members(&app, "Support").await, both, "Ann added beside the hand-added member");
    let r = app
        .patch(
            &format!("/Groups/{group}"),
            patch_body(json!([{"op": "Remove", "path": format!("members[value eq \"{ann}\"]")}])),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    app.wait_drained(Duration::from_secs(20)).await;
    assert_eq!(sim_group_members(&app, "Support").await, vec![hand.clone()], "only the bridge's member removed");
    // An IdP that replaces the member list with nobody still removes only what the bridge added.
    let r = app
        .patch(&format!("/Groups/{group}"), patch_body(json!([{"op": "replace", "path": "members", "value": []}])))
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    app.wait_drained(Duration::from_secs(20)).await;
    assert_eq!(sim_group_members(&app, "Support").await, vec![hand], "the hand-added member stays");
}

/// A body with only an 8x8 number.
fn with_number(user_name: &str, number: &str) -> Value {
    let mut body = crate::helpers::user_body(user_name);
    body["phoneNumbers"] = json!([{"type": "eightbyeight", "value": number}]);
    body
}

#[tokio::test]
async fn an_8x8_number_with_an_extension_reaches_genesys_as_a_tel_uri_in_scim_mode() {
    let app = TestApp::spawn().await;
    assert_eq!(app.post("/Users", with_number("ext@example.com", "+1 415 555 0123 x123")).await.status, 201);
    let p = app.wait_profile("ext@example.com", "the 8x8 number", |p| p.pointer(OTHER_PHONE).is_some()).await;
    assert_eq!(p.pointer(OTHER_PHONE), Some(&json!("tel:+14155550123;ext=123")));
    // An extension alone cannot be dialled from Genesys: refused, naming the accepted forms.
    let r = app.post("/Users", with_number("alone@example.com", "x123")).await;
    r.assert_error(400, Some("invalidValue"));
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("extension without a number") && detail.contains("Accepted:"), "{detail}");
}

#[tokio::test]
async fn in_platform_mode_a_number_with_an_extension_is_refused_at_the_scim_side_and_nothing_is_stored() {
    let app = TestApp::spawn_with(|c| c.genesys.api = ApiMode::Platform).await;
    let r = app.post("/Users", with_number("ext@example.com", "+1 415 555 0123;ext=123")).await;
    r.assert_error(400, Some("invalidValue"));
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("Accepted in Platform API mode") && detail.contains("SCIM API mode"), "{detail}");
    assert_eq!(
        app.get(&format!("/Users?filter={}", crate::helpers::q("userName eq \"ext@example.com\""))).await.body["totalResults"],
        0
    );

    // A stored user whose number the IdP changes to one with an extension: the PATCH is refused
    // as a whole, the user keeps its number, and other changes still go through.
    let id = app.post("/Users", with_number("pat@example.com", "+1 415 555 0123")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ops = json!([{"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+1 415 555 0123 x9"}]);
    app.patch(&format!("/Users/{id}"), patch_body(ops)).await.assert_error(400, Some("invalidValue"));
    let stored = app.get(&format!("/Users/{id}")).await.body;
    assert_eq!(stored["phoneNumbers"][0]["value"], "+1 415 555 0123", "{stored}");
    let ops = json!([{"op": "replace", "path": "title", "value": "Lead"}]);
    assert_eq!(app.patch(&format!("/Users/{id}"), patch_body(ops)).await.status, 200);
    let p = app.wait_profile("pat@example.com", "the 8x8 number", |p| p.pointer(OTHER_PHONE).is_some()).await;
    assert_eq!(p.pointer(OTHER_PHONE), Some(&json!("+14155550123")));
}
