use super::*;
use serde_json::json;

fn ids() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("id{n}")
    }
}

fn plan(body: Value) -> BulkPlan {
    plan_bulk(body, 1000, ids()).expect("plans")
}

fn run_steps(p: &BulkPlan) -> Vec<&Step> {
    p.steps
        .iter()
        .filter_map(|s| match s {
            Planned::Run(s) => Some(s),
            Planned::Fail { .. } => None,
        })
        .collect()
}

fn failure(p: &BulkPlan, op: usize) -> Option<&ScimError> {
    p.steps.iter().find_map(|s| match s {
        Planned::Fail { op: o, error } if *o == op => Some(error),
        _ => None,
    })
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})
}

#[test]
fn a_group_of_users_created_earlier_in_the_request_gets_their_ids() {
    // RFC 7644 §3.7.2: a user and a group holding it by bulkId.
    let p = plan(json!({
        "schemas": [BULK_REQUEST_URN],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "qwerty", "data": user("alice")},
            {"method": "POST", "path": "/Groups", "bulkId": "ytrewq",
             "data": {"displayName": "Tour Guides", "members": [{"type": "User", "value": "bulkId:qwerty"}]}},
        ]
    }));
    let steps = run_steps(&p);
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].action, Action::Create { kind: ResourceKind::User, id: "id1".into(), data: user("alice") });
    let Action::Create { kind: ResourceKind::Group, id, data } = &steps[1].action else { panic!("{:?}", steps[1]) };
    assert_eq!(id, "id2");
    assert_eq!(data["members"][0]["value"], "id1");
    assert_eq!(steps[1].needs, vec![(0, "qwerty".to_string())]);
    assert_eq!(p.echoes[1], Echo { method: Some("POST".into()), bulk_id: Some("ytrewq".into()) });
}

#[test]
fn a_reference_used_before_its_post_makes_that_post_run_first() {
    let p = plan(json!({"Operations": [
        {"method": "PATCH", "path": "/Users/bulkId:later", "data": {"Operations": [{"op": "replace", "path": "title", "value": "x"}]}},
        {"method": "post", "path": "Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "bulkId:later"}]}},
        {"method": "POST", "path": "/Users/", "bulkId": "later", "data": user("bob")},
    ]}));
    let order: Vec<usize> = run_steps(&p).iter().map(|s| s.op).collect();
    assert_eq!(order, vec![2, 0, 1], "the POST runs before the first operation that references it");
    let patch = run_steps(&p)[1];
    assert_eq!(patch.action.id(), "id2", "the path's reference is replaced by the POST's id");
    assert_eq!(p.echoes[1].method.as_deref(), Some("POST"), "the method is echoed in its canonical case");
}

#[test]
fn circular_references_create_first_then_fill_in_the_members() {
    // RFC 7644 §3.7.1: two groups holding each other.
    let p = plan(json!({"Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"displayName": "A", "members": [{"value": "bulkId:b", "type": "Group"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"displayName": "B", "members": [{"value": "bulkId:a", "type": "Group"}]}},
    ]}));
    let steps = run_steps(&p);
    let order: Vec<(usize, bool)> = steps.iter().map(|s| (s.op, s.completes)).collect();
    // A is planned first and follows its reference to B, which points back to A (still being
    // planned): B is created first without A, then A with B, then A is added to B.
    assert_eq!(order, vec![(1, false), (0, false), (1, true)]);
    let Action::Create { data, .. } = &steps[0].action else { panic!() };
    assert_eq!(data["members"], json!([]), "B is created without the member pointing back");
    let Action::Create { data, .. } = &steps[1].action else { panic!() };
    assert_eq!(data["members"][0]["value"], "id2", "A holds B, which exists by then");
    let Action::Patch { id, data, .. } = &steps[2].action else { panic!() };
    assert_eq!(id, "id2");
    assert_eq!(data["Operations"][0]["value"], json!([{"value": "id1", "type": "Group"}]));
    let mut needs = steps[2].needs.clone();
    needs.sort();
    assert_eq!(needs, vec![(0, "a".to_string()), (1, "b".to_string())]);
}

#[test]
fn a_group_holding_itself_is_filled_in_after_it_exists() {
    let p = plan(json!({"Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "me", "data": {"displayName": "Me", "members": [{"value": "bulkId:me"}]}},
    ]}));
    let steps = run_steps(&p);
    assert_eq!(steps.len(), 2);
    assert!(steps[1].completes);
    assert_eq!(steps[1].action.id(), "id1");
}

#[test]
fn references_that_cannot_be_resolved_fail_with_409_and_nothing_else_does() {
    let p = plan(json!({"Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "bulkId:nobody"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": user("carol")},
        {"method": "DELETE", "path": "/Users/bulkId:ghost"},
    ]}));
    let e = failure(&p, 0).expect("op 0 fails");
    assert_eq!(e.status, 409);
    assert!(e.detail.contains("bulkId:nobody"), "{}", e.detail);
    assert_eq!(failure(&p, 2).map(|e| e.status), Some(409));
    assert_eq!(run_steps(&p).iter().map(|s| s.op).collect::<Vec<_>>(), vec![1]);
}

#[test]
fn malformed_operations_fail_alone() {
    let p = plan(json!({"Operations": [
        "not an object",
        {"method": "GET", "path": "/Users/x"},
        {"method": "POST", "path": "/Users/abc", "bulkId": "x", "data": user("d")},
        {"method": "PUT", "path": "/Users", "data": user("d")},
        {"method": "PATCH", "path": "/Users/1"},
        {"method": "POST", "path": "/Widgets", "bulkId": "w", "data": {}},
        {"method": "POST", "path": "/Users", "bulkId": "dup", "data": user("e")},
        {"method": "POST", "path": "/Users", "bulkId": "dup", "data": user("f")},
        {"method": "DELETE", "path": "/Groups/g1", "version": "W/\"3\""},
    ]}));
    let status = |op| failure(&p, op).map(|e| (e.status, e.scim_type.map(|t| t.as_str())));
    assert_eq!(status(0), Some((400, Some("invalidSyntax"))));
    assert_eq!(status(1), Some((400, Some("invalidValue"))));
    assert_eq!(status(2), Some((400, Some("invalidPath"))));
    assert_eq!(status(3), Some((400, Some("invalidPath"))));
    assert_eq!(status(4), Some((400, Some("invalidSyntax"))));
    assert_eq!(status(5), Some((404, None)));
    assert_eq!(status(6), None);
    assert_eq!(status(7), Some((400, Some("invalidValue"))), "a second POST with the same bulkId");
    let delete = run_steps(&p).into_iter().find(|s| s.op == 8).expect("the delete runs");
    assert_eq!(delete.if_match.as_deref(), Some("W/\"3\""));
    assert_eq!(delete.action, Action::Delete { kind: ResourceKind::Group, id: "g1".into() });
}

#[test]
fn request_level_errors() {
    let err = |body: Value| plan_bulk(body, 2, ids()).expect_err("refused");
    let e = err(json!({"Operations": [{}, {}, {}]}));
    assert_eq!(e.status, 413);
    assert!(e.detail.contains("3 operations") && e.detail.contains("at most 2"), "{}", e.detail);
    assert_eq!(err(json!([])).scim_type.map(|t| t.as_str()), Some("invalidSyntax"));
    assert_eq!(err(json!({"schemas": [BULK_REQUEST_URN]})).status, 400);
    assert_eq!(err(json!({"Operations": {}})).status, 400);
    assert_eq!(err(json!({"failOnErrors": -1, "Operations": []})).scim_type.map(|t| t.as_str()), Some("invalidValue"));
    assert_eq!(err(json!({"schemas": [PATCH_OP_URN], "Operations": []})).status, 400);
    let p = plan_bulk(json!({"failOnErrors": "2", "Operations": []}), 2, ids()).expect("plans");
    assert_eq!(p.fail_on_errors, Some(2), "a number sent as text");
    let p = plan_bulk(json!({"failOnErrors": 0, "Operations": []}), 2, ids()).expect("plans");
    assert_eq!(p.fail_on_errors, None, "0 means no limit");
}

#[test]
fn the_ledger_blocks_on_failed_references_and_stops_at_fail_on_errors() {
    let needs = vec![(0, "a".to_string()), (1, "b".to_string())];
    let mut ledger = Ledger::new(3, Some(2));
    assert!(ledger.blocked(&needs).is_some_and(|e| e.detail.contains("did not run")));
    ledger.record(0, true);
    ledger.record(1, false);
    let e = ledger.blocked(&needs).expect("b failed");
    assert_eq!(e.status, 409);
    assert!(e.detail.contains("bulkId:b") && e.detail.contains("failed"), "{}", e.detail);
    assert!(!ledger.stopped());
    ledger.record(2, false);
    assert!(ledger.stopped(), "two failures reach failOnErrors 2");
}

#[test]
fn the_response_lists_what_ran_in_request_order() {
    let echoes = vec![
        Echo { method: Some("POST".into()), bulk_id: Some("a".into()) },
        Echo { method: Some("DELETE".into()), bulk_id: None },
        Echo { method: Some("POST".into()), bulk_id: Some("c".into()) },
    ];
    let outcomes = vec![
        Some(Outcome {
            status: 201,
            location: Some("https://h/Users/1".into()),
            version: Some("W/\"1\"".into()),
            error: None,
        }),
        None,
        Some(Outcome { status: 400, location: None, version: None, error: Some(ScimError::invalid_value("bad")) }),
    ];
    let body = bulk_response(&echoes, &outcomes);
    assert_eq!(body["schemas"], json!([BULK_RESPONSE_URN]));
    assert_eq!(
        body["Operations"][0],
        json!({"method": "POST", "bulkId": "a", "location": "https://h/Users/1", "version": "W/\"1\"", "status": "201"})
    );
    assert_eq!(body["Operations"].as_array().map(Vec::len), Some(2));
    assert_eq!(body["Operations"][1]["status"], "400");
    assert_eq!(body["Operations"][1]["response"]["scimType"], "invalidValue");
    assert!(body["Operations"][1].get("location").is_none(), "a failed POST has no location");
}
