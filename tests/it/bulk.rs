//! `POST /Bulk` (RFC 7644 §3.7) over HTTP: bulkId references in any order, circular references,
//! per-operation outcomes, `failOnErrors`, `version`, the limits, and forwarding to Genesys.

use serde_json::{Value, json};

use crate::helpers::{TestApp, patch_body, q, user_body};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const OTHER_PHONE: &str = "/contactInfo/0/phone_other/0/value/number";

fn bulk(ops: Value) -> Value {
    json!({"schemas": [BULK_REQUEST], "Operations": ops})
}

/// The response's operations, checked to be a BulkResponse.
fn ops(r: &crate::helpers::Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]), "{}", r.body);
    r.body["Operations"].as_array().expect("Operations").clone()
}

fn id_of(op: &Value) -> String {
    op["location"].as_str().and_then(|l| l.rsplit('/').next()).expect("location").to_string()
}

#[tokio::test]
async fn users_and_a_group_by_bulk_id_in_any_order_then_patch_and_delete_them() {
    let app = TestApp::spawn().await;
    let mut bob = user_body("bob@example.com");
    bob["phoneNumbers"] = json!([{"type": "eightbyeight", "value": "+14155550142"}]);
    let r = app
        .post(
            "/Bulk",
            bulk(json!([
                // The group comes first and names users created later in the request.
                {"method": "POST", "path": "/Groups", "bulkId": "team",
                 "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Tour Guides",
                          "members": [{"type": "User", "value": "bulkId:alice"}, {"type": "User", "value": "bulkId:bob"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "alice", "data": user_body("alice@example.com")},
                {"method": "POST", "path": "/Users", "bulkId": "bob", "data": bob},
                {"method": "PATCH", "path": "/Users/bulkId:alice",
                 "data": patch_body(json!([{"op": "replace", "path": "title", "value": "Guide"}]))},
                {"method": "POST", "path": "/Users", "bulkId": "carol", "data": user_body("carol@example.com")},
                {"method": "DELETE", "path": "/Users/bulkId:carol"},
            ])),
        )
        .await;
    let ops = ops(&r);
    assert_eq!(ops.len(), 6);
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["201", "201", "201", "200", "201", "204"], "{}", r.body);
    assert_eq!(ops[0]["bulkId"], "team");
    assert_eq!(ops[0]["method"], "POST");
    for op in &ops[..5] {
        let version = op["version"].as_str().unwrap();
        assert!(version.starts_with("W/\""), "{op}");
        let location = op["location"].as_str().unwrap();
        assert!(location.starts_with(&app.base), "{op}");
        // The location and version are those a GET sees (but alice's, patched later, and the
        // deleted one's).
        if op["bulkId"] != "carol" && op["bulkId"] != "alice" {
            let got = app.get(location.trim_start_matches(&app.base)).await;
            assert_eq!(got.status, 200, "{}", got.body);
            assert_eq!(got.header("etag"), Some(version), "{op}");
        }
    }
    let (group, alice, bob) = (id_of(&ops[0]), id_of(&ops[1]), id_of(&ops[2]));
    let g = app.get(&format!("/Groups/{group}")).await;
    let mut members: Vec<&str> =
        g.body["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    members.sort();
    let mut want = vec![alice.as_str(), bob.as_str()];
    want.sort();
    assert_eq!(members, want, "the references became the users' ids: {}", g.body);
    assert_eq!(app.get(&format!("/Users/{alice}")).await.body["title"], "Guide");
    assert_eq!(app.get(&format!("/Users/{}", id_of(&ops[4]))).await.status, 404, "carol was deleted");
    let found = app.get(&format!("/Users?filter={}", q("userName eq \"carol@example.com\""))).await;
    assert_eq!(found.body["totalResults"], 0);

    // Forwarded as the single requests would be: bob's 8x8 number reaches Genesys.
    let p = app.wait_profile("bob@example.com", "the 8x8 number", |p| p.pointer(OTHER_PHONE).is_some()).await;
    assert_eq!(p.pointer(OTHER_PHONE), Some(&json!("+14155550142")));
    app.wait_profile("alice@example.com", "the title", |p| {
        p.pointer("/general/title/0/value") == Some(&json!("Guide"))
    })
    .await;
}

#[tokio::test]
async fn circular_references_are_resolved_by_creating_first_and_filling_in_after() {
    let app = TestApp::spawn().await;
    let group = |name: &str, other: &str| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name,
               "members": [{"type": "Group", "value": format!("bulkId:{other}")}]})
    };
    let r = app
        .post(
            "/Bulk",
            bulk(json!([
                {"method": "POST", "path": "/Groups", "bulkId": "a", "data": group("Group A", "b")},
                {"method": "POST", "path": "/Groups", "bulkId": "b", "data": group("Group B", "a")},
            ])),
        )
        .await;
    let ops = ops(&r);
    assert_eq!((ops[0]["status"].as_str(), ops[1]["status"].as_str()), (Some("201"), Some("201")), "{}", r.body);
    let (a, b) = (id_of(&ops[0]), id_of(&ops[1]));
    for (me, other, op) in [(&a, &b, &ops[0]), (&b, &a, &ops[1])] {
        let g = app.get(&format!("/Groups/{me}")).await;
        assert_eq!(g.body["members"][0]["value"], other.as_str(), "{}", g.body);
        assert_eq!(g.body["members"][0]["type"], "Group", "{}", g.body);
        assert_eq!(g.header("etag"), op["version"].as_str(), "the version reported is the final one");
    }
}

#[tokio::test]
async fn each_operation_keeps_its_own_outcome() {
    let app = TestApp::spawn().await;
    let existing = app.create_user("taken@example.com").await;
    let stale = "W/\"99\"";
    let r = app
        .post(
            "/Bulk",
            bulk(json!([
                {"method": "POST", "path": "/Users", "bulkId": "ok1", "data": user_body("one@example.com")},
                {"method": "POST", "path": "/Users", "bulkId": "dup", "data": user_body("TAKEN@example.com")},
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"displayName": "Needs dup", "members": [{"value": "bulkId:dup"}]}},
                {"method": "POST", "path": "/Groups", "bulkId": "g2",
                 "data": {"displayName": "Needs nobody", "members": [{"value": "bulkId:nobody"}]}},
                {"method": "PATCH", "path": format!("/Users/{existing}"), "version": stale,
                 "data": patch_body(json!([{"op": "replace", "path": "title", "value": "x"}]))},
                {"method": "DELETE", "path": "/Users/00000000-0000-0000-0000-000000000000"},
                {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"userName": ["a@example.com"], "name": 7}},
                {"method": "FETCH", "path": "/Users"},
                {"method": "POST", "path": "/Users", "bulkId": "ok2", "data": user_body("two@example.com")},
            ])),
        )
        .await;
    let ops = ops(&r);
    let got: Vec<(&str, Option<&str>)> =
        ops.iter().map(|o| (o["status"].as_str().unwrap(), o["response"]["scimType"].as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("201", None),
            ("409", Some("uniqueness")),
            ("409", None),
            ("409", None),
            ("412", None),
            ("404", None),
            ("400", Some("invalidValue")),
            ("400", Some("invalidValue")),
            ("201", None),
        ],
        "{}",
        r.body
    );
    for op in &ops[1..8] {
        let e = &op["response"];
        assert_eq!(e["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{op}");
        assert_eq!(e["status"], op["status"], "{op}");
        assert!(e["detail"].as_str().is_some_and(|d| d.len() > 15), "{op}");
    }
    assert!(ops[1].get("location").is_none(), "a failed POST has no location: {}", ops[1]);
    assert!(ops[2]["response"]["detail"].as_str().unwrap().contains("bulkId:dup"), "{}", ops[2]);
    assert!(ops[3]["response"]["detail"].as_str().unwrap().contains("bulkId:nobody"), "{}", ops[3]);
    assert!(ops[4]["location"].as_str().unwrap().ends_with(&existing));
    // What failed left nothing behind; what succeeded is there.
    let users = app.get("/Users?count=0").await;
    assert_eq!(users.body["totalResults"], 3, "taken, one, two");
    assert_eq!(app.get("/Groups?count=0").await.body["totalResults"], 0);
    assert!(app.get(&format!("/Users/{existing}")).await.body.get("title").is_none());

    // A rename onto a taken userName fails alone; the operation after it runs.
    let r = app
        .post(
            "/Bulk",
            bulk(json!([
                {"method": "PATCH", "path": format!("/Users/{existing}"),
                 "data": patch_body(json!([{"op": "replace", "path": "userName", "value": "ONE@example.com"}]))},
                {"method": "PATCH", "path": format!("/Users/{existing}"),
                 "data": patch_body(json!([{"op": "replace", "path": "title", "value": "Kept"}]))},
            ])),
        )
        .await;
    let ops = self::ops(&r);
    assert_eq!((ops[0]["status"].as_str(), ops[0]["response"]["scimType"].as_str()), (Some("409"), Some("uniqueness")));
    assert_eq!(ops[1]["status"], "200", "{}", r.body);
    let user = app.get(&format!("/Users/{existing}")).await;
    assert_eq!(
        (user.body["userName"].as_str(), user.body["title"].as_str()),
        (Some("taken@example.com"), Some("Kept"))
    );
}

#[tokio::test]
async fn fail_on_errors_stops_after_that_many_failures() {
    let app = TestApp::spawn().await;
    app.create_user("taken@example.com").await;
    let r = app
        .post(
            "/Bulk",
            json!({"schemas": [BULK_REQUEST], "failOnErrors": 1, "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": user_body("a@example.com")},
                {"method": "POST", "path": "/Users", "bulkId": "b", "data": user_body("taken@example.com")},
                {"method": "POST", "path": "/Users", "bulkId": "c", "data": user_body("c@example.com")},
            ]}),
        )
        .await;
    let ops = ops(&r);
    assert_eq!(ops.len(), 2, "the operation after the first failure did not run: {}", r.body);
    assert_eq!((ops[0]["status"].as_str(), ops[1]["status"].as_str()), (Some("201"), Some("409")));
    let c = app.get(&format!("/Users?filter={}", q("userName eq \"c@example.com\""))).await;
    assert_eq!(c.body["totalResults"], 0);
}

#[tokio::test]
async fn the_limits_are_advertised_and_enforced_with_413() {
    let app = TestApp::spawn_with(|c| {
        c.bulk_max_operations = 3;
        c.bulk_max_payload_bytes = 4096;
    })
    .await;
    let spc = app.get("/ServiceProviderConfig").await;
    assert_eq!(spc.body["bulk"], json!({"supported": true, "maxOperations": 3, "maxPayloadSize": 4096}));

    let four: Vec<Value> = (0..4)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": {"userName": format!("u{i}@example.com")}}))
        .collect();
    let r = app.post("/Bulk", bulk(Value::Array(four))).await;
    r.assert_error(413, None);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains("4 operations") && detail.contains("at most 3"), "{detail}");

    let big = json!({"method": "POST", "path": "/Users", "bulkId": "big",
                     "data": {"userName": "big@example.com", "title": "x".repeat(5000)}});
    let r = app.post("/Bulk", bulk(json!([big]))).await;
    r.assert_error(413, None);
    assert!(r.body["detail"].as_str().unwrap().contains("4096"), "{}", r.body);
    assert_eq!(app.get("/Users?count=0").await.body["totalResults"], 0, "nothing of a refused request was written");

    let r = app.post("/Bulk", json!({"Operations": "all of them"})).await;
    r.assert_error(400, Some("invalidSyntax"));
    let r = app.get("/Bulk").await;
    r.assert_error(405, None);
}

#[tokio::test]
async fn a_thousand_creates_in_one_request() {
    let app = TestApp::spawn().await;
    let ops: Vec<Value> = (0..1000)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": user_body(&format!("user{i}@example.com"))}))
        .collect();
    let r = app.post("/Bulk", bulk(Value::Array(ops))).await;
    let ops = self::ops(&r);
    assert_eq!(ops.len(), 1000);
    assert!(ops.iter().all(|o| o["status"] == "201"), "{}", r.body);
    assert_eq!(app.get("/Users?count=0").await.body["totalResults"], 1000);
    let last = app.get(&format!("/Users?filter={}", q("userName eq \"user999@example.com\""))).await;
    assert_eq!(last.body["Resources"][0]["id"].as_str().map(str::to_string), Some(id_of(&ops[999])));
}

/// Bulk requests running at once (on PostgreSQL each in its own transaction, all counting into
/// the same page-count rows) neither deadlock nor lose a count: totals and pages stay exact.
#[tokio::test]
async fn concurrent_bulk_requests_keep_counts_and_pages_exact() {
    let app = TestApp::spawn().await;
    let request = |n: usize| {
        let ops: Vec<Value> = (0..300)
            .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": user_body(&format!("c{n}-{i}@example.com"))}))
            .collect();
        bulk(Value::Array(ops))
    };
    let responses = futures_util::future::join_all((0..4).map(|n| app.post("/Bulk", request(n)))).await;
    let mut ids = Vec::new();
    for r in &responses {
        let ops = self::ops(r);
        assert!(ops.iter().all(|o| o["status"] == "201"), "{}", r.body);
        ids.extend(ops.iter().map(id_of));
    }
    // Delete every third user, again from several requests at once.
    let deletes: Vec<Vec<Value>> = ids
        .iter()
        .step_by(3)
        .map(|id| json!({"method": "DELETE", "path": format!("/Users/{id}")}))
        .collect::<Vec<_>>()
        .chunks(100)
        .map(<[Value]>::to_vec)
        .collect();
    let responses =
        futures_util::future::join_all(deletes.into_iter().map(|d| app.post("/Bulk", bulk(Value::Array(d))))).await;
    for r in &responses {
        assert!(self::ops(r).iter().all(|o| o["status"] == "204"), "{}", r.body);
    }
    let left = 1200 - 400;
    assert_eq!(app.get("/Users?count=0").await.body["totalResults"], left);
    let mut seen = std::collections::HashSet::new();
    for start in (1..=left).step_by(100) {
        let page = app.get(&format!("/Users?startIndex={start}&count=100&attributes=userName")).await;
        assert_eq!(page.body["totalResults"], left);
        for u in page.body["Resources"].as_array().unwrap() {
            assert!(seen.insert(u["id"].as_str().unwrap().to_string()), "a user on two pages: {u}");
        }
    }
    assert_eq!(seen.len(), left);
}
