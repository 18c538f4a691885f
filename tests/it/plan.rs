//! One plan, two uses: what a dry run records is what the worker then sends, request for
//! request, for a mixed set of changes in both API modes.
//!
//! The same changes go to two bridges, each with its own simulator seeded alike: one in dry
//! run (it records its plans), one forwarding (the simulator's journal, `GET /sim/requests`,
//! shows what arrived). Each change is drained before the next, so both see the same changes.
//! A placeholder in braces stands for the value only Genesys's answer can tell; a body marked
//! `bodyAfterRead` holds the desired values, of which only those that differ from the read are
//! sent, and is skipped when nothing differs (a group's lists every member wanted and every member
//! the bridge added that is no longer wanted: what is sent adds and removes only members of those).

use std::time::Duration;

use serde_json::{Value, json};

use scim_bridge::genesys::api::ApiMode;

use crate::helpers::{TestApp, patch_body};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn user(user_name: &str, number: &str, employee: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": user_name,
        "active": "True",
        "displayName": user_name.split('@').next().unwrap_or(user_name),
        "emails": [{"primary": "true", "type": "work", "value": user_name}],
        "phoneNumbers": [{"type": "eightbyeight", "value": number}],
        "title": "Agent",
        ENTERPRISE: {"department": "Support", "employeeNumber": employee}
    })
}

/// The mixed set of changes: two creates, a new 8x8 number, a group with both, a
/// deactivation, a member leaving the group, and a delete; each drained before the next.
async fn changes(app: &TestApp) {
    let drained = || app.wait_drained(Duration::from_secs(20));
    app.sim_admin(reqwest::Method::POST, "/sim/groups", Some(json!({"displayName": "Sales"}))).await;
    let ana = app.post("/Users", user("ana@corp.example", "+14155550123", "E1")).await;
    assert_eq!(ana.status, 201, "{}", ana.body);
    let ana = ana.body["id"].as_str().unwrap().to_string();
    drained().await;
    let bob = app.post("/Users", user("bob@corp.example", "+14155550124", "E2")).await;
    let bob = bob.body["id"].as_str().unwrap().to_string();
    drained().await;
    let number =
        json!([{"op": "Replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+14155550199"}]);
    assert_eq!(app.patch(&format!("/Users/{ana}"), patch_body(number)).await.status, 200);
    drained().await;
    let sales = app.create_group("Sales", &[&ana, &bob]).await;
    drained().await;
    let off = json!([{"op": "Replace", "path": "active", "value": "False"}]);
    assert_eq!(app.patch(&format!("/Users/{bob}"), patch_body(off)).await.status, 200);
    drained().await;
    // Out of the group first: deleting a member would queue the group's resync beside the
    // delete, and two resources are delivered in no fixed order.
    let leave = json!([{"op": "remove", "path": format!("members[value eq \"{ana}\"]")}]);
    assert_eq!(app.patch(&format!("/Groups/{sales}"), patch_body(leave)).await.status, 200);
    drained().await;
    assert_eq!(app.delete(&format!("/Users/{ana}")).await.status, 204);
    drained().await;
}

/// A request as `METHOD target` with its body and whether the body depends on a read.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) body: Option<Value>,
    pub(crate) after_read: bool,
}

fn is_placeholder(s: &str) -> bool {
    s.starts_with('{') && s.ends_with('}')
}

/// Planned text against sent text: a placeholder inside (`userName eq "{...}"`) matches any
/// value in its place.
fn text_matches(planned: &str, sent: &str) -> bool {
    match (planned.find('{'), planned.rfind('}')) {
        (Some(i), Some(j)) if i < j => {
            let (prefix, suffix) = (&planned[..i], &planned[j + 1..]);
            sent.len() >= prefix.len() + suffix.len() && sent.starts_with(prefix) && sent.ends_with(suffix)
        }
        _ => planned == sent,
    }
}

fn target_matches(planned: &str, sent: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (planned.split('/').collect(), sent.split('/').collect());
    a.len() == b.len() && a.iter().zip(&b).all(|(p, s)| is_placeholder(p) || text_matches(p, s))
}

/// JSON equality where a placeholder string matches anything and arrays match in any order.
fn json_matches(planned: &Value, sent: &Value) -> bool {
    match (planned, sent) {
        (Value::String(p), _) if is_placeholder(p) => true,
        (Value::String(p), Value::String(s)) => text_matches(p, s),
        (Value::Array(p), Value::Array(s)) => {
            let mut used = vec![false; s.len()];
            p.len() == s.len()
                && p.iter().all(|pe| {
                    let found = s.iter().enumerate().find(|(i, se)| !used[*i] && json_matches(pe, se));
                    found.map(|(i, _)| used[i] = true).is_some()
                })
        }
        (Value::Object(p), Value::Object(s)) => {
            p.len() == s.len() && p.iter().all(|(k, v)| s.get(k).is_some_and(|sv| json_matches(v, sv)))
        }
        _ => planned == sent,
    }
}

/// A group delta sent after the read against the one planned before it: every member added
/// and every member removed was planned.
fn group_delta_matches(planned: &Value, sent: &Value) -> bool {
    let planned_ops = planned["Operations"].as_array().cloned().unwrap_or_default();
    let Some(ops) = sent.get("Operations").and_then(Value::as_array) else { return false };
    ops.iter().all(|op| match op["op"].as_str() {
        Some("add") => op["value"].as_array().is_some_and(|added| {
            added.iter().all(|a| {
                planned_ops.iter().filter(|p| p["op"] == "add").any(|p| {
                    p["value"].as_array().is_some_and(|ms| ms.iter().any(|m| json_matches(&m["value"], &a["value"])))
                })
            })
        }),
        Some("remove") => planned_ops.iter().any(|p| p["op"] == "remove" && json_matches(&p["path"], &op["path"])),
        _ => false,
    })
}

pub(crate) fn request_matches(planned: &Seen, sent: &Seen) -> bool {
    let body = match (&planned.body, &sent.body, planned.after_read) {
        (None, None, _) => true,
        (Some(p), Some(s), false) => json_matches(p, s),
        (Some(p), Some(s), true) if p.get("Operations").is_some() => group_delta_matches(p, s),
        // Only what differs is sent: every field sent is planned, with the planned value.
        (Some(p), Some(Value::Object(s)), true) => {
            s.iter().all(|(k, v)| k == "version" || p.get(k).is_some_and(|pv| json_matches(pv, v)))
        }
        _ => false,
    };
    planned.method == sent.method && target_matches(&planned.target, &sent.target) && body
}

/// Walk the plan: each planned request is the next one sent, except a write that depends on a
/// read, which is skipped when nothing differed.
fn assert_sent_as_planned(mode: &str, planned: &[Seen], sent: &[Seen]) {
    let mut next = 0;
    for p in planned {
        if sent.get(next).is_some_and(|s| request_matches(p, s)) {
            next += 1;
        } else {
            assert!(
                p.after_read,
                "{mode}: planned {p:#?}\nbut sent {:#?}\n(all planned: {planned:#?}\nall sent: {sent:#?})",
                sent.get(next)
            );
        }
    }
    assert_eq!(next, sent.len(), "{mode}: sent more than planned: {:#?}", &sent[next..]);
}

async fn dry_run_plans(app: &TestApp) -> Vec<Seen> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-bridge"))
        .args(["--database", &app.db_path(), "outbox", "list", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        // A row without a request says why nothing would be sent.
        .filter(|v| v["method"] != "")
        .map(|v| Seen {
            method: v["method"].as_str().unwrap().into(),
            target: v["path"].as_str().unwrap().into(),
            body: Some(v["body"].clone()).filter(|b| !b.is_null()),
            after_read: v["bodyAfterRead"] == true,
        })
        .collect()
}

async fn sent_to_genesys(app: &TestApp) -> Vec<Seen> {
    let journal = app.sim_admin(reqwest::Method::GET, "/sim/requests", None).await;
    journal
        .as_array()
        .unwrap()
        .iter()
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

async fn dry_run_equals_delivery(api: ApiMode) {
    let set = |c: &mut scim_bridge::config::Config| c.genesys.api = api;
    let dry = TestApp::spawn_with(|c| {
        set(c);
        c.dry_run = true;
    })
    .await;
    changes(&dry).await;
    let planned = dry_run_plans(&dry).await;
    let stats = dry.sim_admin(reqwest::Method::GET, "/sim/stats", None).await;
    assert_eq!(stats["requests"], 0, "{api}: the dry run sent nothing: {stats}");

    let live = TestApp::spawn_with(set).await;
    changes(&live).await;
    let sent = sent_to_genesys(&live).await;
    assert!(sent.len() >= 8, "{api}: {sent:#?}");
    assert_sent_as_planned(api.as_str(), &planned, &sent);
}

#[tokio::test]
async fn the_dry_run_records_what_the_worker_then_sends_in_scim_mode() {
    dry_run_equals_delivery(ApiMode::Scim).await;
}

#[tokio::test]
async fn the_dry_run_records_what_the_worker_then_sends_in_platform_mode() {
    dry_run_equals_delivery(ApiMode::Platform).await;
}

#[test]
fn the_matcher_refuses_what_differs() {
    let seen = |m: &str, t: &str, b: Option<Value>, after_read| Seen {
        method: m.into(),
        target: t.into(),
        body: b,
        after_read,
    };
    let p = seen(
        "PATCH",
        "/api/v2/users/{genesys id of a@b.c}",
        Some(json!({"version": "{current version}", "title": "A"})),
        false,
    );
    assert!(request_matches(&p, &seen("PATCH", "/api/v2/users/g1", Some(json!({"version": 4, "title": "A"})), false)));
    assert!(!request_matches(&p, &seen("PATCH", "/api/v2/users/g1", Some(json!({"version": 4, "title": "B"})), false)));
    assert!(!request_matches(&p, &seen("POST", "/api/v2/users/g1", Some(json!({"version": 4, "title": "A"})), false)));
    assert!(!request_matches(
        &p,
        &seen("PATCH", "/api/v2/users/g1/x", Some(json!({"version": 4, "title": "A"})), false)
    ));
    let q = seen("GET", r#"/api/v2/scim/v2/users?filter=userName eq "a@b.c""#, None, false);
    assert!(request_matches(&q, &seen("GET", r#"/api/v2/scim/v2/users?filter=userName eq "a@b.c""#, None, false)));
    assert!(!request_matches(&q, &seen("GET", r#"/api/v2/scim/v2/users?filter=userName eq "x@b.c""#, None, false)));
    let r = seen("PATCH", "/u/{g}", Some(json!({"version": "{v}", "title": "A", "name": "N"})), true);
    assert!(request_matches(&r, &seen("PATCH", "/u/g1", Some(json!({"version": 4, "title": "A"})), false)));
    assert!(!request_matches(&r, &seen("PATCH", "/u/g1", Some(json!({"version": 4, "department": "D"})), false)));
    let group = json!({"schemas": ["x"], "Operations": [
        {"op": "remove", "path": "members[value eq \"u7\"]"},
        {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "{genesys id of user b2}"}]}
    ]});
    let g = seen("PATCH", "/groups/{g}", Some(group), true);
    let delta = |ops: Value| seen("PATCH", "/groups/g9", Some(json!({"schemas": ["x"], "Operations": ops})), false);
    assert!(request_matches(&g, &delta(json!([{"op": "add", "path": "members", "value": [{"value": "u1"}]}]))));
    assert!(request_matches(&g, &delta(json!([{"op": "remove", "path": "members[value eq \"u7\"]"}]))));
    assert!(!request_matches(&g, &delta(json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]))));
    let only_u1 =
        json!({"schemas": ["x"], "Operations": [{"op": "add", "path": "members", "value": [{"value": "u1"}]}]});
    let g1 = seen("PATCH", "/groups/{g}", Some(only_u1), true);
    assert!(!request_matches(&g1, &delta(json!([{"op": "add", "path": "members", "value": [{"value": "u2"}]}]))));
}
