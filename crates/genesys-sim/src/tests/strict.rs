//! The behaviours no public source settles: strict by default, lenient with a switch
//! (docs/genesys-api-notes.md §8, "Behaviours and their evidence").

use clap::Parser;
use serde_json::{Value, json};

use super::{ENT, SCIM, TestSim, scim_type, user};
use crate::{Leniency, SimArgs};

/// A user with a title, a department, a manager, a work and an 8x8 number.
fn rich_user(t: &TestSim) -> String {
    let mut body = user("jane@example.com");
    body["title"] = json!("Agent");
    body["externalId"] = json!("e-1");
    body["phoneNumbers"] =
        json!([{"type": "work", "value": "+14155550100"}, {"type": "eightbyeight", "value": "+14155550123"}]);
    body[ENT] = json!({"department": "Sales", "manager": {"value": "m-1"}, "employeeNumber": "42"});
    t.create_scim_user(body)
}

fn put(t: &TestSim, id: &str, body: Value) -> Value {
    t.ok("PUT", &format!("{SCIM}/users/{id}"), Some(body), 200)
}

#[test]
fn a_put_clears_what_it_leaves_out_unless_lenient() {
    let t = TestSim::new();
    let id = rich_user(&t);
    let mut body = user("jane@example.com");
    body["phoneNumbers"] = json!([{"type": "eightbyeight", "value": "+14155550199"}]);
    let after = put(&t, &id, body.clone());
    for gone in ["title", "externalId"] {
        assert!(after.get(gone).is_none(), "{gone} cleared: {after}");
    }
    assert_eq!(
        after[ENT],
        json!({"division": "Home"}),
        "department, manager, employeeNumber cleared; the division stays"
    );
    assert_eq!(after["phoneNumbers"], json!([{"type": "eightbyeight", "value": "+14155550199", "primary": true}]));
    assert_eq!(after["active"], true, "active left out: kept");

    let t = TestSim::new();
    let id = rich_user(&t);
    t.lenient(&["put-keeps-omitted"]);
    let after = put(&t, &id, body);
    assert_eq!((after["title"].as_str(), after["externalId"].as_str()), (Some("Agent"), Some("e-1")));
    assert_eq!(after[ENT]["department"], "Sales");
    assert_eq!(after[ENT]["manager"]["value"], "m-1");
    assert_eq!(after[ENT]["employeeNumber"], "42");
    assert_eq!(
        after["phoneNumbers"],
        json!([{"type": "eightbyeight", "value": "+14155550199", "primary": true}]),
        "what the PUT names is written"
    );
    // Named as null, it is cleared even when lenient.
    let mut body = user("jane@example.com");
    body["title"] = Value::Null;
    body[ENT] = json!({"department": null});
    let after = put(&t, &id, body);
    assert!(after.get("title").is_none(), "{after}");
    assert!(after[ENT].get("department").is_none(), "{after}");
    assert_eq!(after[ENT]["employeeNumber"], "42");
}

#[test]
fn removing_a_non_member_is_no_target_unless_lenient() {
    let t = TestSim::new();
    let sales = t.group_id("Sales");
    let member = t.create_scim_user(user("member@example.com"));
    let outsider = t.create_scim_user(user("outsider@example.com"));
    let r = t.scim_patch("groups", &sales, json!([{"op": "add", "path": "members", "value": [{"value": member}]}]));
    assert_eq!(r.status, 200, "{}", r.body);
    let forms = [
        json!([{"op": "remove", "path": format!("members[value eq \"{outsider}\"]")}]),
        json!([{"op": "remove", "path": "members", "value": [{"value": outsider}]}]),
        json!([{"op": "remove", "path": "members", "value": [{"value": member}, {"value": outsider}]}]),
    ];
    for ops in &forms {
        let r = t.scim_patch("groups", &sales, ops.clone());
        assert_eq!((r.status, scim_type(&r)), (400, "noTarget"), "{ops}: {}", r.body);
        assert_eq!(r.body["status"], "400", "a ScimError: {}", r.body);
        assert_eq!(t.sim.group_members("Sales"), Some(vec![member.clone()]), "nothing removed by {ops}");
    }
    let members = format!("/api/v2/groups/{sales}/members");
    let r = t.call("DELETE", &format!("{members}?ids={member},{outsider}"), None);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["message"].as_str().is_some_and(|m| m.contains(&outsider) && !m.contains(&member)), "{}", r.body);
    assert_eq!(t.sim.group_members("Sales"), Some(vec![member.clone()]));

    t.lenient(&["remove-absent-member"]);
    for ops in &forms[..2] {
        let r = t.scim_patch("groups", &sales, ops.clone());
        assert_eq!(r.status, 200, "{ops}: {}", r.body);
        assert_eq!(r.body["meta"]["version"], "2", "no change, no new version");
    }
    t.ok("DELETE", &format!("{members}?ids={member},{outsider}"), None, 202);
    assert_eq!(t.sim.group_members("Sales"), Some(vec![]), "the member among them is removed");
    // Removing a present member by filter works either way.
    t.lenient(&[]);
    t.scim_patch("groups", &sales, json!([{"op": "add", "path": "members", "value": [{"value": outsider}]}]));
    let r =
        t.scim_patch("groups", &sales, json!([{"op": "remove", "path": format!("members[value eq \"{outsider}\"]")}]));
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn removing_through_a_filter_that_matches_nothing_is_no_target_unless_lenient() {
    let t = TestSim::new();
    let mut body = user("jane@example.com");
    body["phoneNumbers"] = json!([{"type": "work", "value": "+14155550100"}]);
    let id = t.create_scim_user(body);
    let paths = [
        "phoneNumbers[type eq \"eightbyeight\"]",
        "phoneNumbers[type eq \"mobile\"].value",
        "emails[type eq \"work\"].value",
        "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User:externalIds[authority eq \"zoomphone\"]",
    ];
    for path in paths {
        let r = t.scim_patch("users", &id, json!([{"op": "remove", "path": path}]));
        assert_eq!((r.status, scim_type(&r)), (400, "noTarget"), "{path}: {}", r.body);
    }
    // The other UC types are the same Other Phone: a remove through any of them matches it.
    let r = t.scim_patch(
        "users",
        &id,
        json!([{"op": "add", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+14155550123"}]),
    );
    assert_eq!(r.status, 200, "add creates the element: {}", r.body);
    let r = t.scim_patch("users", &id, json!([{"op": "remove", "path": "phoneNumbers[type eq \"microsoftteams\"]"}]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["phoneNumbers"], json!([{"type": "work", "value": "+14155550100", "primary": true}]));
    // A remove of a simple attribute that has no value is no error (no filter).
    let r = t.scim_patch("users", &id, json!([{"op": "remove", "path": "title"}]));
    assert_eq!(r.status, 200, "{}", r.body);

    t.lenient(&["remove-unmatched-filter"]);
    for path in paths {
        let r = t.scim_patch("users", &id, json!([{"op": "remove", "path": path}]));
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.body["meta"]["version"], "3", "nothing changed");
    }
}

#[test]
fn replacing_through_a_filter_that_matches_nothing_is_no_target_unless_lenient() {
    let t = TestSim::new();
    let id = t.create_scim_user(user("jane@example.com"));
    let replace =
        json!([{"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+14155550123"}]);
    let r = t.scim_patch("users", &id, replace.clone());
    assert_eq!((r.status, scim_type(&r)), (400, "noTarget"), "{}", r.body);
    assert!(t.scim_user(&id).get("phoneNumbers").is_none());
    t.lenient(&["replace-unmatched-filter-adds"]);
    let r = t.scim_patch("users", &id, replace.clone());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["phoneNumbers"], json!([{"type": "eightbyeight", "value": "+14155550123", "primary": true}]));
    // Once there, a replace matches it, strict or not.
    t.lenient(&[]);
    let r = t.scim_patch(
        "users",
        &id,
        json!([{"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+14155550124"}]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn an_empty_string_writes_nothing_unless_lenient_and_null_clears() {
    let t = TestSim::new();
    let id = rich_user(&t);
    let ops = json!([
        {"op": "replace", "path": "title", "value": ""},
        {"op": "replace", "path": format!("{ENT}:department"), "value": ""},
        {"op": "replace", "path": "phoneNumbers[type eq \"work\"].value", "value": ""},
        {"op": "replace", "value": {"externalId": "", ENT: {"employeeNumber": ""}}}
    ]);
    let r = t.scim_patch("users", &id, ops.clone());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.body["title"].as_str(), r.body["externalId"].as_str()), (Some("Agent"), Some("e-1")));
    assert_eq!(
        (r.body[ENT]["department"].as_str(), r.body[ENT]["employeeNumber"].as_str()),
        (Some("Sales"), Some("42"))
    );
    assert_eq!(r.body["phoneNumbers"].as_array().map(Vec::len), Some(2));
    assert_eq!(r.body["meta"]["version"], "1", "nothing written");

    let r = t.scim_patch(
        "users",
        &id,
        json!([{"op": "replace", "path": "title", "value": null}, {"op": "replace", "value": {"externalId": null}}]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("title").is_none() && r.body.get("externalId").is_none(), "null clears: {}", r.body);

    t.lenient(&["empty-string-clears"]);
    let r = t.scim_patch("users", &id, ops);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body[ENT].get("department").is_none() && r.body[ENT].get("employeeNumber").is_none(), "{}", r.body);
    assert_eq!(r.body["phoneNumbers"], json!([{"type": "eightbyeight", "value": "+14155550123", "primary": true}]));
}

#[test]
fn replacing_the_bare_phone_list_drops_the_other_types() {
    let t = TestSim::new();
    let id = rich_user(&t);
    let r = t.scim_patch("users", &id, json!([{"op": "replace", "path": "phoneNumbers", "value": [{"type": "eightbyeight", "value": "+14155550199"}]}]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["phoneNumbers"],
        json!([{"type": "eightbyeight", "value": "+14155550199", "primary": true}]),
        "RFC 7644 §3.5.2.3"
    );
}

#[test]
fn leniencies_are_set_by_flag_and_by_faults_and_reset_to_the_start_up_list() {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }
    let cli = Cli::try_parse_from([
        "genesys-sim",
        "--client-id",
        "c",
        "--client-secret",
        "s",
        "--lenient",
        "put-keeps-omitted,remove-absent-member",
    ])
    .expect("parses");
    let config = cli.sim.sim_config();
    assert_eq!(config.faults.lenient, Some(vec![Leniency::PutKeepsOmitted, Leniency::RemoveAbsentMember]));
    assert!(
        Cli::try_parse_from(["genesys-sim", "--client-id", "c", "--client-secret", "s", "--lenient", "lax"]).is_err()
    );
    let cli = Cli::try_parse_from(["genesys-sim", "--client-id", "c", "--client-secret", "s"]).expect("parses");
    assert_eq!(cli.sim.sim_config().faults.lenient, None, "strict unless asked");

    let t = TestSim::with(|c| c.faults = config.faults.clone());
    assert_eq!(t.ok("GET", "/sim/faults", None, 200)["lenient"], json!(["put-keeps-omitted", "remove-absent-member"]));
    let view = t.ok("POST", "/sim/faults", Some(json!({"lenient": ["empty-string-clears"]})), 200);
    assert_eq!(view["lenient"], json!(["empty-string-clears"]), "the list replaces the one in force");
    assert_eq!(t.call("POST", "/sim/faults", Some(json!({"lenient": ["lax"]}))).status, 400);
    assert_eq!(
        t.ok("DELETE", "/sim/faults", None, 200)["lenient"],
        json!(["put-keeps-omitted", "remove-absent-member"])
    );
    for l in [
        Leniency::PutKeepsOmitted,
        Leniency::RemoveAbsentMember,
        Leniency::RemoveUnmatchedFilter,
        Leniency::ReplaceUnmatchedFilterAdds,
        Leniency::EmptyStringClears,
        Leniency::ExactRoleName,
    ] {
        assert_eq!(serde_json::to_value(l).expect("json"), json!(l.name()), "one name for the flag and the JSON");
    }
}
