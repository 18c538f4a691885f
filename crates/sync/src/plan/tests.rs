use serde_json::json;

use super::*;
use crate::source::{Format, read_export};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn rows(text: &str) -> Vec<Row> {
    let e = read_export(text.as_bytes(), Format::Csv, &[]).unwrap();
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    e.rows
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(o) => o,
        _ => unreachable!(),
    }
}

fn server_user() -> Map<String, Value> {
    obj(json!({
        "schemas": [USER_URN, ENT],
        "id": "u1", "userName": "Ann@X", "externalId": "E1", "active": true,
        "name": {"givenName": "Ann", "familyName": "Smith"},
        "emails": [{"type": "work", "value": "ann@x.com", "primary": true}],
        "phoneNumbers": [{"type": "eightbyeight", "value": "+1 415 555 0001"}],
        ENT: {"department": "Sales", "manager": {"value": "u0"}},
        "meta": {"resourceType": "User"}
    }))
}

fn boss() -> Map<String, Value> {
    obj(json!({"id": "u0", "userName": "boss@x", "externalId": "E0", "active": true}))
}

const HEADER: &str = "userName,externalId,givenName,familyName,email,eightbyeight,department,manager\n";

#[test]
fn the_same_user_needs_nothing() {
    let r = rows(&format!("{HEADER}ann@x,E1,Ann,Smith,ann@x.com,+1 415 555 0001,Sales,E0\n"));
    let p = plan(&r, &[server_user(), boss()], &[], PlanOptions::default());
    assert_eq!(p.unchanged, 1);
    assert!(p.updates.is_empty() && p.creates.is_empty() && p.deactivations.is_empty(), "{p:?}");
}

#[test]
fn one_changed_cell_is_one_replace_on_its_path() {
    let r = rows(&format!("{HEADER}ann@x,E1,Ann,Smith,ann@x.com,+1 415 555 0999,Sales,E0\n"));
    let p = plan(&r, &[server_user(), boss()], &[], PlanOptions::default());
    assert_eq!(p.updates.len(), 1);
    assert_eq!(
        p.updates[0].ops,
        [json!({"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+1 415 555 0999"})]
    );
    assert_eq!(p.updates[0].changes[0].old, Some(json!("+1 415 555 0001")));
}

#[test]
fn empty_cells_remove_and_new_values_add() {
    let mut u = server_user();
    u.remove("phoneNumbers");
    let r = rows(&format!("{HEADER}ann@x,E1,Ann,,ann@x.com,+1 415 555 0002,,\n"));
    let p = plan(&r, &[u, boss()], &[], PlanOptions::default());
    let ops = &p.updates[0].ops;
    assert_eq!(
        ops,
        &[
            json!({"op": "remove", "path": "name.familyName"}),
            json!({"op": "add", "path": "phoneNumbers", "value": [{"type": "eightbyeight", "value": "+1 415 555 0002"}]}),
            json!({"op": "remove", "path": format!("{ENT}:department")}),
            json!({"op": "remove", "path": format!("{ENT}:manager")}),
        ]
    );
    // An emptied filtered value removes its element.
    let r = rows("userName,externalId,eightbyeight\nann@x,E1,\n");
    let p = plan(&r, &[server_user()], &[], PlanOptions::default());
    assert_eq!(p.updates[0].ops, [json!({"op": "remove", "path": "phoneNumbers[type eq \"eightbyeight\"]"})]);
}

#[test]
fn matching_by_external_id_then_user_name_case_insensitively() {
    // By externalId: the userName changed.
    let r = rows("userName,externalId\nann.smith@x,E1\n");
    let p = plan(&r, &[server_user()], &[], PlanOptions::default());
    assert_eq!(p.updates[0].ops, [json!({"op": "replace", "path": "userName", "value": "ann.smith@x"})]);
    // By userName, in any case, when the row has no externalId.
    let r = rows("userName,givenName\nANN@x,Ann\n");
    let p = plan(&r, &[server_user()], &[], PlanOptions::default());
    assert_eq!((p.unchanged, p.creates.len()), (1, 0));
    // A userName match whose server user has another externalId is not the same person.
    let r = rows("userName,externalId\nann@x,E7\n");
    let p = plan(&r, &[server_user()], &[], PlanOptions::default());
    assert_eq!(p.creates.len(), 1);
}

#[test]
fn creates_are_built_through_the_core_with_managers_resolved() {
    let r = rows(&format!("{HEADER}new@x,E2,Nia,New,new@x.com,+1 415 555 0003,Ops,E0\nnewer@x,E3,,,,,,new@x\n"));
    let p = plan(&r, &[boss()], &[], PlanOptions::default());
    assert_eq!(p.creates.len(), 2);
    assert_eq!(
        p.creates[0].body,
        json!({
            "schemas": [USER_URN, ENT],
            "userName": "new@x", "externalId": "E2", "active": true,
            "name": {"givenName": "Nia", "familyName": "New"},
            "emails": [{"type": "work", "value": "new@x.com", "primary": true}],
            "phoneNumbers": [{"type": "eightbyeight", "value": "+1 415 555 0003"}],
            ENT: {"department": "Ops", "manager": {"value": "u0"}}
        })
    );
    // The manager of the second is created in this run: set later.
    assert_eq!(p.later_managers.len(), 1);
    assert_eq!((p.later_managers[0].subject.clone(), p.later_managers[0].manager), (UserRef::New(1), 0));
    assert!(p.creates[1].body.get(ENT).is_none());
}

#[test]
fn an_unknown_manager_is_a_warning_not_a_change() {
    let r = rows("userName,externalId,manager\nann@x,E1,E404\n");
    let p = plan(&r, &[server_user()], &[], PlanOptions::default());
    assert!(p.updates.is_empty());
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
}

#[test]
fn deactivation_only_when_asked_and_never_for_skipped_rows() {
    let other = obj(json!({"id": "u2", "userName": "gone@x", "active": true}));
    let inactive = obj(json!({"id": "u3", "userName": "old@x", "active": false}));
    let users = [server_user(), other, inactive, boss()];
    let r = rows("userName,externalId\nann@x,E1\n");
    let p = plan(&r, &users, &[], PlanOptions::default());
    assert!(p.deactivations.is_empty());
    let p = plan(&r, &users, &[], PlanOptions { deactivate_missing: true });
    let gone: Vec<&str> = p.deactivations.iter().map(|d| d.user_name.as_str()).collect();
    assert_eq!(gone, ["gone@x", "boss@x"]);
    let skipped = [RowError { line: 9, user_name: Some("GONE@x".into()), external_id: None, reason: "bad".into() }];
    let p = plan_with_skipped(&r, &skipped, &users, &[], PlanOptions { deactivate_missing: true });
    let gone: Vec<&str> = p.deactivations.iter().map(|d| d.user_name.as_str()).collect();
    assert_eq!(gone, ["boss@x"]);
}

#[test]
fn group_membership_of_export_users_only() {
    let outsider = "u9";
    let groups = [
        obj(json!({"id": "g1", "displayName": "Sales", "members": [{"value": "u0"}, {"value": outsider}]})),
        obj(json!({"id": "g2", "displayName": "Untouched", "members": [{"value": "u1"}]})),
    ];
    let r = rows("userName,externalId,groups\nann@x,E1,sales;Admins\nboss@x,E0,\nnew@x,E5,Sales\n");
    let p = plan(&r, &[server_user(), boss()], &groups, PlanOptions::default());
    assert_eq!(p.group_updates.len(), 1);
    let g = &p.group_updates[0];
    assert_eq!(g.id, "g1");
    let added: Vec<&str> = g.add.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(added, ["ann@x", "new@x"]);
    assert_eq!(g.remove, [("u0".to_string(), "boss@x".to_string())]);
    assert_eq!(p.group_creates.len(), 1);
    assert_eq!(p.group_creates[0].display_name, "Admins");
    assert_eq!(p.group_creates[0].members, [(UserRef::Existing("u1".into()), "ann@x".into())]);
    let body = group_patch(&["u1".into()], &["u0".into()]);
    assert_eq!(
        body["Operations"],
        json!([{"op": "add", "path": "members", "value": [{"value": "u1"}]},
               {"op": "remove", "path": "members[value eq \"u0\"]"}])
    );
}

#[test]
fn value_at_reads_paths_as_patch_resolves_them() {
    let u = server_user();
    assert_eq!(value_at(&u, "USERNAME"), Some(json!("Ann@X")));
    assert_eq!(value_at(&u, "emails[type eq \"WORK\"].value"), Some(json!("ann@x.com")));
    assert_eq!(value_at(&u, &format!("{ENT}:manager.value")), Some(json!("u0")));
    assert_eq!(value_at(&u, "title"), None);
    assert_eq!(value_at(&u, "phoneNumbers[type eq \"mobile\"].value"), None);
}
