//! The proof that the bridge is safe to connect to an org that already has people in it.
//!
//! A simulator is seeded, through its own SCIM API as an administrator's tools would, with an
//! org of 200 users (hand-set titles, departments, managers, work and mobile numbers) and two
//! groups with hand-added members. An identity provider then pushes 1,000 users with 8x8
//! numbers (50 of them with the userName of a seeded user), then updates, group changes,
//! deactivations and deletes, each phase drained before the next. This runs in both API modes
//! and both adoption settings, first through a bridge in dry run (which only reads Genesys), then
//! through a bridge that forwards, on the same simulator. The test asserts, field by field, that
//! every value the bridge does not own is what the seed put there, that every value it owns is
//! what the IdP last said, and that the dry run listed exactly the writes then made.
//!
//! The simulator's rate limit is raised: pacing is tested in `resilience`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use scim_bridge::genesys::api::ApiMode;
use scim_bridge::genesys::mapping::AdoptPolicy;
use scim_bridge::store::Store;

use crate::helpers::{OwnSim, TestApp, patch_body};
use crate::plan::{Seen, request_matches};

const SEEDED: usize = 200;
const IDP_USERS: usize = 1_000;
/// IdP users `0..COLLIDING` have the userName of seeded user `i`.
const COLLIDING: usize = 50;
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn seed_name(i: usize) -> String {
    format!("seed{i:03}@corp.example")
}

fn idp_name(i: usize) -> String {
    if i < COLLIDING { seed_name(i) } else { format!("idp{i:04}@corp.example") }
}

/// The 8x8 number the IdP sends first, and after phase B for every tenth user.
fn number(i: usize, second: bool) -> String {
    if second { format!("+1 415 556 {i:04}") } else { format!("+1 415 555 {i:04}") }
}

fn e164(raw: &str) -> String {
    raw.chars().filter(|c| *c == '+' || c.is_ascii_digit()).collect()
}

// ---------------------------------------------------------------------------------------------
// The org an administrator built by hand
// ---------------------------------------------------------------------------------------------

struct Org {
    /// Their profiles as the seed left them.
    before: HashMap<String, Value>,
    /// Genesys ids of the groups, by name.
    groups: HashMap<String, String>,
    /// The hand-added members of Sales and Support.
    sales_by_hand: Vec<String>,
    support_by_hand: Vec<String>,
}

async fn sim_token(client: &reqwest::Client, sim: &OwnSim) -> String {
    let r: Value = client.post(format!("http://{}/sim/tokens", sim.addr)).send().await.unwrap().json().await.unwrap();
    r["access_token"].as_str().unwrap().to_string()
}

async fn profile(client: &reqwest::Client, sim: &OwnSim, user_name: &str) -> Value {
    let r = client.get(format!("http://{}/sim/profiles/{user_name}", sim.addr)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{user_name} is not in Genesys");
    r.json().await.unwrap()
}

async fn seed_org(client: &reqwest::Client, sim: &OwnSim) -> Org {
    let token = sim_token(client, sim).await;
    let api = format!("http://{}/api/v2/scim/v2", sim.addr);
    let mut ids: Vec<String> = Vec::new();
    for i in 0..SEEDED {
        let mut enterprise = json!({"department": format!("Dept {}", i % 7), "employeeNumber": format!("H{i:04}")});
        if i > 0 {
            // Each reports to a user seeded earlier (a tree of managers).
            enterprise["manager"] = json!({"value": ids[(i - 1) / 2]});
        }
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": seed_name(i),
            "displayName": format!("Hand Made {i}"),
            "title": format!("Title by hand {i}"),
            "phoneNumbers": [
                {"type": "work", "value": format!("+12125550{i:03}")},
                {"type": "mobile", "value": format!("+16465550{i:03}")}
            ],
            ENTERPRISE: enterprise
        });
        let r = client.post(format!("{api}/users")).bearer_auth(&token).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "seeding {i}: {}", r.text().await.unwrap_or_default());
        let created: Value = r.json().await.unwrap();
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    // Groups with members added by hand: seeded users 0..20 in Sales (ten of them IdP users
    // too), 100..120 in Support.
    let all: Value = client.get(format!("http://{}/sim/groups", sim.addr)).send().await.unwrap().json().await.unwrap();
    let groups: HashMap<String, String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["displayName"].as_str().unwrap().to_string(), g["id"].as_str().unwrap().to_string()))
        .collect();
    let sales_by_hand: Vec<String> = ids[0..20].to_vec();
    let support_by_hand: Vec<String> = ids[100..120].to_vec();
    for (group, members) in [("Sales", &sales_by_hand), ("Support", &support_by_hand)] {
        let value: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": value}]});
        let r = client.patch(format!("{api}/groups/{}", groups[group])).bearer_auth(&token).json(&body).send().await;
        assert!(r.unwrap().status().is_success(), "adding {group}'s members by hand");
    }
    let mut before = HashMap::new();
    for i in 0..SEEDED {
        before.insert(seed_name(i), profile(client, sim, &seed_name(i)).await);
    }
    Org { before, groups, sales_by_hand, support_by_hand }
}

async fn group_members(client: &reqwest::Client, sim: &OwnSim, id: &str) -> Vec<String> {
    let all: Value = client.get(format!("http://{}/sim/groups", sim.addr)).send().await.unwrap().json().await.unwrap();
    let g = all.as_array().unwrap().iter().find(|g| g["id"] == id).unwrap().clone();
    let mut ids: Vec<String> =
        g["members"].as_array().into_iter().flatten().map(|m| m["value"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids
}

// ---------------------------------------------------------------------------------------------
// The identity provider's push, in phases
// ---------------------------------------------------------------------------------------------

fn idp_user(i: usize) -> Value {
    let mut u = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": idp_name(i),
        "displayName": format!("IdP User {i}"),
        "active": true,
        "emails": [{"type": "work", "primary": true, "value": idp_name(i)}],
        "phoneNumbers": [{"type": "eightbyeight", "value": number(i, false)}]
    });
    if i.is_multiple_of(2) {
        u["title"] = json!(format!("IdP Title {i}"));
    }
    u
}

fn in_sales(i: usize) -> bool {
    i < 100 && i.is_multiple_of(2)
}

fn in_sales_after_leaving(i: usize) -> bool {
    in_sales(i) && i >= 20
}

fn in_support(i: usize) -> bool {
    (100..150).contains(&i)
}

fn deactivated(i: usize) -> bool {
    (900..950).contains(&i) || (46..48).contains(&i)
}

fn deleted(i: usize) -> bool {
    (950..IDP_USERS).contains(&i) || (40..45).contains(&i)
}

/// The title the IdP last sent: even users had one; every tenth+2 had it removed, every
/// tenth+4 changed.
fn title(i: usize) -> Option<String> {
    match (i % 2, i % 10) {
        (1, _) => None,
        (_, 2) => None,
        (_, 4) => Some(format!("IdP Title {i} v2")),
        _ => Some(format!("IdP Title {i}")),
    }
}

/// Wait until nothing is pending (parked changes are expected where adoption is off).
async fn settle(app: &TestApp) {
    let store = Store::open(&app.db_path()).unwrap();
    let started = Instant::now();
    loop {
        let depth = store.outbox_depth().unwrap();
        if depth.pending == 0 {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(240), "{} changes still pending", depth.pending);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Run a batch of IdP requests, 16 at a time.
async fn run_all<F>(requests: Vec<F>)
where
    F: std::future::Future<Output = ()>,
{
    use futures_util::StreamExt;
    futures_util::stream::iter(requests).buffer_unordered(16).collect::<Vec<()>>().await;
}

const PHASES: [&str; 6] = ["create", "update", "groups", "leave", "deactivate", "delete"];

/// One phase of the push; returns after the bridge has settled. `ids` are the bridge's user
/// ids (filled by the create phase), `groups` its group ids.
async fn push(app: &TestApp, phase: &str, ids: &mut Vec<String>, groups: &mut HashMap<String, String>) {
    match phase {
        "create" => {
            let created = std::sync::Mutex::new(vec![String::new(); IDP_USERS]);
            run_all(
                (0..IDP_USERS)
                    .map(|i| {
                        let created = &created;
                        async move {
                            let r = app.post("/Users", idp_user(i)).await;
                            assert_eq!(r.status, 201, "{}", r.body);
                            created.lock().unwrap()[i] = r.body["id"].as_str().unwrap().to_string();
                        }
                    })
                    .collect(),
            )
            .await;
            *ids = created.into_inner().unwrap();
        }
        "update" => {
            run_all(
                (0..IDP_USERS)
                    .filter(|i| [0, 2, 4].contains(&(i % 10)))
                    .map(|i| {
                        let id = ids[i].clone();
                        async move {
                            let op = match i % 10 {
                                0 => json!({"op": "Replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value",
                                    "value": number(i, true)}),
                                2 => json!({"op": "Remove", "path": "title"}),
                                _ => json!({"op": "Replace", "path": "title", "value": format!("IdP Title {i} v2")}),
                            };
                            let r = app.patch(&format!("/Users/{id}"), patch_body(json!([op]))).await;
                            assert_eq!(r.status, 200, "{}", r.body);
                        }
                    })
                    .collect(),
            )
            .await;
        }
        "groups" => {
            let sales: Vec<&str> = (0..IDP_USERS).filter(|i| in_sales(*i)).map(|i| ids[i].as_str()).collect();
            let support: Vec<&str> = (0..IDP_USERS).filter(|i| in_support(*i)).map(|i| ids[i].as_str()).collect();
            groups.insert("Sales".into(), app.create_group("Sales", &sales).await);
            groups.insert("Support".into(), app.create_group("Support", &support).await);
        }
        "leave" => {
            let leaving: Vec<Value> = (0..IDP_USERS)
                .filter(|i| in_sales(*i) && !in_sales_after_leaving(*i))
                .map(|i| json!({"op": "Remove", "path": format!("members[value eq \"{}\"]", ids[i])}))
                .collect();
            let r = app.patch(&format!("/Groups/{}", groups["Sales"]), patch_body(json!(leaving))).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        "deactivate" => {
            run_all(
                (0..IDP_USERS)
                    .filter(|i| deactivated(*i))
                    .map(|i| {
                        let id = ids[i].clone();
                        async move {
                            let op = json!([{"op": "Replace", "path": "active", "value": "False"}]);
                            assert_eq!(app.patch(&format!("/Users/{id}"), patch_body(op)).await.status, 200);
                        }
                    })
                    .collect(),
            )
            .await;
        }
        "delete" => {
            run_all(
                (0..IDP_USERS)
                    .filter(|i| deleted(*i))
                    .map(|i| {
                        let id = ids[i].clone();
                        async move { assert_eq!(app.delete(&format!("/Users/{id}")).await.status, 204) }
                    })
                    .collect(),
            )
            .await;
        }
        other => unreachable!("no phase {other}"),
    }
    settle(app).await;
}

// ---------------------------------------------------------------------------------------------
// What was planned and what was sent
// ---------------------------------------------------------------------------------------------

fn planned_rows(app: &TestApp) -> Vec<Seen> {
    Store::open(&app.db_path())
        .unwrap()
        .dry_run_requests(10_000_000)
        .unwrap()
        .into_iter()
        .filter(|r| !r.method.is_empty() && r.method != "GET")
        .map(|r| Seen { method: r.method, target: r.path, body: r.body, after_read: r.body_after_read })
        .collect()
}

async fn writes_sent(client: &reqwest::Client, sim: &OwnSim) -> Vec<Seen> {
    let journal: Value =
        client.get(format!("http://{}/sim/requests", sim.addr)).send().await.unwrap().json().await.unwrap();
    client.delete(format!("http://{}/sim/requests", sim.addr)).send().await.unwrap();
    let entries = journal.as_array().unwrap();
    assert!(entries.len() < 10_000, "the journal overflowed: clear it more often");
    entries
        .iter()
        .filter(|r| {
            let status = r["status"].as_str().and_then(|s| s.parse::<u16>().ok());
            r["method"] != "GET" && status.is_some_and(|s| (200..300).contains(&s))
        })
        .map(|r| {
            let query: Vec<String> = r["query"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|kv| format!("{}={}", kv[0].as_str().unwrap(), kv[1].as_str().unwrap()))
                .collect();
            let path = r["path"].as_str().unwrap();
            let target = if query.is_empty() { path.to_string() } else { format!("{path}?{}", query.join("&")) };
            Seen {
                method: r["method"].as_str().unwrap().into(),
                target,
                body: r.get("body").cloned(),
                after_read: false,
            }
        })
        .collect()
}

/// Replace each `{…}` placeholder whose value is now known.
fn resolve_text(s: &str, known: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else { break };
        let placeholder = &rest[start..start + len + 1];
        out.push_str(&rest[..start]);
        out.push_str(known.get(placeholder).map_or(placeholder, String::as_str));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

fn resolve(v: &Value, known: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(resolve_text(s, known)),
        Value::Array(a) => Value::Array(a.iter().map(|e| resolve(e, known)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, e)| (k.clone(), resolve(e, known))).collect()),
        other => other.clone(),
    }
}

/// Every write sent was planned (in the same phase), and every planned write not depending on
/// a read was sent.
fn assert_dry_run_listed_exactly(what: &str, phase: &str, planned: &[Seen], sent: &[Seen]) {
    let mut by_key: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (n, p) in planned.iter().enumerate() {
        by_key.entry((p.method.clone(), p.target.clone())).or_default().push(n);
    }
    let mut used = vec![false; planned.len()];
    for s in sent {
        let candidates = by_key.get(&(s.method.clone(), s.target.clone())).cloned().unwrap_or_default();
        let found = candidates.into_iter().find(|n| !used[*n] && request_matches(&planned[*n], s));
        match found {
            Some(n) => used[n] = true,
            None => {
                let listed: Vec<&Seen> = planned.iter().filter(|p| p.target == s.target).collect();
                panic!("{what}, phase {phase}: sent but not listed by the dry run: {s:#?}\nlisted for it: {listed:#?}")
            }
        }
    }
    let missing: Vec<&Seen> =
        planned.iter().zip(&used).filter(|(p, u)| !**u && !p.after_read).map(|(p, _)| p).collect();
    assert!(missing.is_empty(), "{what}, phase {phase}: listed by the dry run but never sent: {missing:#?}");
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

async fn first_connect(api: ApiMode, adopt: AdoptPolicy) {
    let what = format!("{api}, adopt {adopt:?}");
    let client = reqwest::Client::new();
    let sim = OwnSim::start(|c| {
        c.rate_limit_per_minute = 10_000_000;
        c.seed_groups = vec!["Sales".into(), "Support".into()];
    });
    let org = seed_org(&client, &sim).await;
    client.delete(format!("http://{}/sim/requests", sim.addr)).send().await.unwrap();
    let home_division = org.before[&seed_name(0)]["divisionId"].as_str().unwrap().to_string();

    // First the dry run, on the same org: it reads and never writes.
    let dry = TestApp::spawn_against(&sim, |c| {
        c.genesys.api = api;
        c.genesys.adopt = adopt;
        c.dry_run = true;
    })
    .await;
    let (mut dry_ids, mut dry_groups) = (Vec::new(), HashMap::new());
    let mut planned_by_phase = Vec::new();
    let mut seen_rows = 0;
    for phase in PHASES {
        push(&dry, phase, &mut dry_ids, &mut dry_groups).await;
        let rows = planned_rows(&dry);
        planned_by_phase.push(rows[seen_rows..].to_vec());
        seen_rows = rows.len();
    }
    assert!(writes_sent(&client, &sim).await.is_empty(), "{what}: the dry run wrote to Genesys");
    for i in 0..SEEDED {
        assert_eq!(profile(&client, &sim, &seed_name(i)).await, org.before[&seed_name(i)], "{what}: dry run");
    }
    drop(dry);

    // Then the bridge that forwards.
    let live = TestApp::spawn_against(&sim, |c| {
        c.genesys.api = api;
        c.genesys.adopt = adopt;
    })
    .await;
    let (mut ids, mut groups) = (Vec::new(), HashMap::new());
    let mut sent_by_phase = Vec::new();
    for phase in PHASES {
        push(&live, phase, &mut ids, &mut groups).await;
        sent_by_phase.push(writes_sent(&client, &sim).await);
    }

    // Not a vacuous comparison: every IdP user the bridge may write was written in the create
    // phase (adopted or created), every updated one in the update phase.
    let owned_count = if adopt == AdoptPolicy::ByUserName { IDP_USERS } else { IDP_USERS - COLLIDING };
    assert!(sent_by_phase[0].len() >= owned_count, "{what}: {} writes to create", sent_by_phase[0].len());
    assert!(sent_by_phase[1].len() >= owned_count * 3 / 10, "{what}: {} writes to update", sent_by_phase[1].len());
    // Every Genesys user, as it is now.
    let mut now: HashMap<String, Value> = HashMap::new();
    for i in 0..SEEDED {
        now.insert(seed_name(i), profile(&client, &sim, &seed_name(i)).await);
    }
    for i in COLLIDING..IDP_USERS {
        now.insert(idp_name(i), profile(&client, &sim, &idp_name(i)).await);
    }
    let genesys_id = |name: &str| now[name]["id"].as_str().unwrap().to_string();

    // The dry run listed exactly the writes then made, phase by phase.
    let mut known: HashMap<String, String> = HashMap::new();
    known.insert("{home division id}".into(), home_division.clone());
    for (name, id) in &org.groups {
        known.insert(format!("{{genesys id of group {name}}}"), id.clone());
    }
    for (i, dry_id) in dry_ids.iter().enumerate() {
        let g = genesys_id(&idp_name(i));
        known.insert(format!("{{genesys id of {}}}", idp_name(i)), g.clone());
        known.insert(format!("{{genesys id of user {dry_id}}}"), g);
    }
    for (n, phase) in PHASES.iter().enumerate() {
        let planned: Vec<Seen> = planned_by_phase[n]
            .iter()
            .map(|p| Seen {
                method: p.method.clone(),
                target: resolve_text(&p.target, &known),
                body: p.body.as_ref().map(|b| resolve(b, &known)),
                after_read: p.after_read,
            })
            .collect();
        assert_dry_run_listed_exactly(&what, phase, &planned, &sent_by_phase[n]);
    }

    // Field by field.
    let field = |p: &Value, pointer: &str| p.pointer(pointer).cloned();
    let other_phone = "/contactInfo/0/phone_other/0/value/number";
    let title_at = "/general/title/0/value";
    let hand_set =
        ["/general/department", "/relationships", "/hr", "/contactInfo/0/phone_work", "/contactInfo/0/phone_mobile"];
    let adopting = adopt == AdoptPolicy::ByUserName;
    for i in 0..SEEDED {
        let name = seed_name(i);
        let (before, after) = (&org.before[&name], &now[&name]);
        if i >= COLLIDING || !adopting {
            // Not the bridge's: exactly as the administrator left it, version included.
            assert_eq!(after, before, "{what}: {name} was not the bridge's to change");
            continue;
        }
        // Adopted: what the IdP says is the bridge's; what the seed set and the IdP never sent
        // is left byte for byte.
        for pointer in hand_set {
            assert_eq!(field(after, pointer), field(before, pointer), "{what}: {name} {pointer}");
        }
        let expected_title = if i % 2 == 1 { field(before, title_at) } else { title(i).map(Value::from) };
        assert_eq!(field(after, title_at), expected_title, "{what}: {name} title");
        assert_eq!(field(after, other_phone), Some(json!(e164(&number(i, i % 10 == 0)))), "{what}: {name}");
        assert_eq!(field(after, "/general/name/0/value"), Some(json!(format!("IdP User {i}"))), "{what}: {name}");
        let state = if deactivated(i) || deleted(i) { "inactive" } else { "active" };
        assert_eq!(after["state"], state, "{what}: {name} state");
    }
    for i in COLLIDING..IDP_USERS {
        let name = idp_name(i);
        let p = &now[&name];
        assert_eq!(field(p, other_phone), Some(json!(e164(&number(i, i % 10 == 0)))), "{what}: {name}");
        assert_eq!(field(p, title_at), title(i).map(Value::from), "{what}: {name} title");
        assert_eq!(field(p, "/general/name/0/value"), Some(json!(format!("IdP User {i}"))), "{what}: {name}");
        let state = if deactivated(i) || deleted(i) { "inactive" } else { "active" };
        assert_eq!(p["state"], state, "{what}: {name} state");
        for pointer in hand_set {
            assert_eq!(field(p, pointer), None, "{what}: {name} has nothing the IdP did not send: {pointer}");
        }
    }

    // Groups: every member added by hand stays; the bridge's members are the IdP's, among the
    // users it owns and has not deleted.
    let owned = |i: usize| i >= COLLIDING || adopting;
    for (group, by_hand, wanted) in [
        ("Sales", &org.sales_by_hand, &in_sales_after_leaving as &dyn Fn(usize) -> bool),
        ("Support", &org.support_by_hand, &in_support as &dyn Fn(usize) -> bool),
    ] {
        let mut expected: Vec<String> = by_hand.clone();
        for i in (0..IDP_USERS).filter(|i| wanted(*i) && owned(*i) && !deleted(*i)) {
            expected.push(genesys_id(&idp_name(i)));
        }
        expected.sort();
        expected.dedup();
        assert_eq!(group_members(&client, &sim, &org.groups[group]).await, expected, "{what}: {group}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_connect_over_scim_parking_collisions() {
    first_connect(ApiMode::Scim, AdoptPolicy::Never).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_connect_over_scim_adopting_by_username() {
    first_connect(ApiMode::Scim, AdoptPolicy::ByUserName).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_connect_over_the_platform_api_parking_collisions() {
    first_connect(ApiMode::Platform, AdoptPolicy::Never).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_connect_over_the_platform_api_adopting_by_username() {
    first_connect(ApiMode::Platform, AdoptPolicy::ByUserName).await;
}
