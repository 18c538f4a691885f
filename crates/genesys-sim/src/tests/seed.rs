//! Seeding an existing organisation: `POST /sim/seed`, `--seed-file`, `--seed-groups`, and the
//! SCIM and Platform APIs.

use serde_json::{Value, json};

use super::{BASE, ENT, GEN, SCIM, TestSim, user};
use crate::SimConfig;
use crate::store::HOME_DIVISION_ID;

/// A user with every field the simulator keeps, and the boss it names by userName.
fn full_seed() -> Value {
    json!({
        "divisions": ["East"],
        "users": [
            {
                "userName": "jane@example.com",
                "displayName": "Jane Doe",
                "active": false,
                "title": "Agent",
                "externalId": "e-1",
                "emails": [{"type": "work", "value": "jane.work@example.com", "primary": true}],
                "phoneNumbers": [
                    {"type": "work", "value": "+14155550100"},
                    {"type": "work2", "value": "+14155550102"},
                    {"type": "home", "value": "+14155550103"},
                    {"type": "mobile", "value": "+14155550101", "primary": true},
                    {"type": "eightbyeight", "value": "+14155550123"}
                ],
                ENT: {
                    "division": "East",
                    "department": "Sales",
                    "manager": {"value": "boss@example.com"},
                    "employeeNumber": "42",
                    "dateHire": "2024-02-01"
                },
                GEN: {
                    "routingSkills": [{"name": "Billing", "proficiency": 3.0}],
                    "routingLanguages": [{"name": "French", "proficiency": 4.0}],
                    "externalIds": [{"authority": "microsoftteams", "value": "t-1"}]
                }
            },
            {"userName": "boss@example.com", "displayName": "The Boss"}
        ],
        "groups": ["Support", {"displayName": "Sales", "members": ["jane@example.com", "boss@example.com"]}]
    })
}

#[test]
fn a_seeded_user_reads_back_byte_for_byte_through_scim_and_the_profile() {
    let t = TestSim::new();
    let report = t.ok("POST", "/sim/seed", Some(full_seed()), 200);
    let jane = report["users"][0]["id"].as_str().expect("id").to_string();
    let boss = report["users"][1]["id"].as_str().expect("id").to_string();
    assert_eq!(report["users"][0]["userName"], "jane@example.com");
    let east = report["divisions"][0]["id"].as_str().expect("division id").to_string();
    assert_eq!(report["divisions"][0]["name"], "East");
    let sales = t.group_id("Sales");
    assert_eq!(
        report["groups"],
        json!([{"displayName": "Support", "id": t.group_id("Support")}, {"displayName": "Sales", "id": sales}])
    );

    let got = t.scim_user(&jane);
    let expected = json!({
        "id": jane,
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            ENT,
            GEN
        ],
        "active": false,
        "userName": "jane@example.com",
        "displayName": "Jane Doe",
        "title": "Agent",
        "phoneNumbers": [
            {"type": "work", "value": "+14155550100"},
            {"type": "work2", "value": "+14155550102"},
            {"type": "home", "value": "+14155550103"},
            {"type": "mobile", "value": "+14155550101", "primary": true},
            {"type": "eightbyeight", "value": "+14155550123"}
        ],
        "emails": [
            {"type": "work", "value": "jane.work@example.com", "primary": true},
            {"type": "other", "value": "jane@example.com"}
        ],
        "externalId": "e-1",
        "groups": [{"type": "Group", "value": sales, "$ref": format!("{BASE}{SCIM}/groups/{sales}")}],
        "roles": [{"value": "employee"}],
        ENT: {
            "division": "East",
            "department": "Sales",
            "manager": {"value": boss, "$ref": format!("{BASE}{SCIM}/users/{boss}")},
            "employeeNumber": "42",
            "dateHire": "2024-02-01"
        },
        GEN: {
            "routingSkills": [{"name": "Billing", "proficiency": 3.0}],
            "routingLanguages": [{"name": "French", "proficiency": 4.0}],
            "externalIds": [
                {"authority": "x-pc:scimv2:v1", "value": "e-1"},
                {"authority": "microsoftteams", "value": "t-1"}
            ]
        },
        "meta": {
            "resourceType": "User",
            "lastModified": got["meta"]["lastModified"],
            "location": format!("{BASE}{SCIM}/users/{jane}"),
            "version": "1"
        }
    });
    assert_eq!(got.to_string(), expected.to_string());

    let profile = t.ok("GET", "/sim/profiles/jane@example.com", None, 200);
    let number = |n: &str, primary: bool| json!([{"value": {"number": n}, "primary": primary}]);
    let expected = json!({
        "id": jane,
        "userName": "jane@example.com",
        "state": "inactive",
        "version": 1,
        "divisionId": east,
        "division": "East",
        "general": {"name": [{"value": "Jane Doe"}], "title": [{"value": "Agent"}], "department": [{"value": "Sales"}]},
        "contactInfo": [{
            "email_main": [{"value": "jane@example.com"}],
            "email_work": [{"value": "jane.work@example.com"}],
            "phone_work": number("+14155550100", false),
            "phone_work_2": number("+14155550102", false),
            "phone_home": number("+14155550103", false),
            "phone_mobile": number("+14155550101", true),
            "phone_other": [{"value": {"number": "+14155550123"}, "primary": false, "scimType": "eightbyeight"}]
        }],
        "relationships": {"manager": [{"value": boss}]},
        "hr": {"hireDate": [{"value": "2024-02-01"}], "employeeId": [{"value": "42"}]},
        "externalId": "e-1"
    });
    assert_eq!(profile.to_string(), expected.to_string());

    // The inactive user is listed only with `active eq false` (genesys-api-notes §1.7). Sales
    // existed (the harness seeds it), so adding the members moved its version; Support is new.
    let listed = t.ok("GET", &format!("{SCIM}/users"), None, 200);
    assert_eq!(listed["totalResults"], 1, "{listed}");
    let group = t.ok("GET", &format!("{SCIM}/groups/{sales}"), None, 200);
    assert_eq!(group["members"].as_array().map(Vec::len), Some(2));
    assert_eq!(group["meta"]["version"], "2");
    let support = t.ok("GET", &format!("{SCIM}/groups/{}", t.group_id("Support")), None, 200);
    assert_eq!(support["meta"]["version"], "1");
}

#[test]
fn a_bad_seed_is_refused_whole_with_a_reason() {
    let t = TestSim::new();
    let good = user("kept@example.com");
    let cases = [
        (
            json!({"users": [good.clone()], "groups": [{"displayName": "Sales", "members": ["nobody@example.com"]}]}),
            "nobody@example.com",
        ),
        (json!({"users": [good.clone()], "teams": []}), "unknown key \"teams\""),
        (
            json!({"users": [good.clone(), {"userName": "n@example.com", "displayName": "N", "nickName": "x"}]}),
            "nickName",
        ),
        (
            json!({"users": [good.clone(), {"userName": "m@example.com", "displayName": "M", ENT: {"manager": {"value": "ghost@example.com"}}}]}),
            "ghost@example.com",
        ),
        (json!({"users": [good.clone(), good.clone()]}), "users[1] (kept@example.com)"),
        (json!({"users": [{"displayName": "no userName"}]}), "userName is required"),
        (json!({"users": [good.clone()], "groups": [{"displayName": "X", "owner": "y"}]}), "unknown key \"owner\""),
        (
            json!({"users": [{"userName": "p@example.com", "displayName": "P", "phoneNumbers": [{"type": "eighbyeight", "value": "+1"}]}]}),
            "eighbyeight",
        ),
        (json!("Sales"), "expected a list"),
    ];
    for (seed, reason) in cases {
        let r = t.call("POST", "/sim/seed", Some(seed.clone()));
        assert_eq!(r.status, 400, "{seed}: {}", r.body);
        let message = r.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{seed}: {message}");
        assert!(t.sim.user_id("kept@example.com").is_none(), "nothing of {seed} is applied");
        assert!(t.sim.group_members("X").is_none());
    }
    let r = t.call("POST", "/sim/seed", None);
    assert_eq!(r.status, 400, "an empty body: {}", r.body);
    assert!(t.sim.seed(&json!({"users": [{"displayName": "x"}]})).is_err());
}

#[test]
fn seeding_an_existing_group_adds_members_by_hand_and_moves_its_version() {
    let t = TestSim::new();
    let sales = t.group_id("Sales");
    let before = t.ok("GET", &format!("/api/v2/groups/{sales}"), None, 200);
    assert_eq!((before["version"].as_u64(), before["memberCount"].as_u64()), (Some(1), Some(0)));
    let existing = t.create_scim_user(user("old@example.com"));
    let report = t
        .sim
        .seed(&json!({
            "users": [{"userName": "new@example.com", "displayName": "New", ENT: {"manager": {"value": existing}}}],
            "groups": [{"displayName": "sales", "members": ["new@example.com", existing]}]
        }))
        .expect("seeded");
    let new = report["users"][0]["id"].as_str().expect("id").to_string();
    assert_eq!(report["groups"][0]["id"], sales.as_str(), "found by name, case-insensitively");
    let after = t.ok("GET", &format!("/api/v2/groups/{sales}"), None, 200);
    assert_eq!((after["version"].as_u64(), after["memberCount"].as_u64()), (Some(2), Some(2)), "{after}");
    assert_eq!(t.sim.group_members("Sales"), Some(vec![new.clone(), existing.clone()]));
    assert_eq!(t.scim_user(&new)[ENT]["manager"]["value"], existing.as_str(), "a manager by id");
}

#[test]
fn old_seed_forms_still_work() {
    let t = TestSim::with(|c| c.seed_groups = vec!["Sales".into(), " Support ".into()]);
    assert_eq!(t.sim.group_members("Support"), Some(vec![]));
    t.ok("POST", "/sim/seed", Some(json!(["Billing", "Sales"])), 200);
    assert!(t.sim.group_members("Billing").is_some());
    let groups = t.ok("GET", "/sim/groups", None, 200);
    assert_eq!(groups.as_array().map(Vec::len), Some(3), "no duplicate Sales: {groups}");
}

#[test]
fn a_seed_file_is_loaded_at_start_and_a_bad_one_stops_the_start() {
    let dir = std::env::temp_dir().join(format!("genesys-sim-seed-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("seed.json");
    std::fs::write(&file, full_seed().to_string()).expect("write");
    let t = TestSim::with(|c| c.seed_file = Some(file.clone()));
    let profile = t.sim.profile("jane@example.com").expect("seeded");
    assert_eq!(profile["contactInfo"][0]["phone_other"][0]["value"]["number"], "+14155550123");
    assert_eq!(t.sim.group_members("Sales").map(|m| m.len()), Some(2));

    std::fs::write(&file, json!({"users": [{"userName": "x@example.com"}]}).to_string()).expect("write");
    let err = crate::SimHandle::new(SimConfig { seed_file: Some(file), ..SimConfig::default() })
        .err()
        .expect("a bad seed file is an error");
    assert!(format!("{err:#}").contains("displayName is required"), "{err:#}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_org_can_be_seeded_through_scim() {
    let t = TestSim::new();
    let boss = t.create_scim_user(user("boss@example.com"));
    let mut body = user("jane@example.com");
    body["title"] = json!("Agent");
    body["phoneNumbers"] =
        json!([{"type": "work", "value": "+14155550100"}, {"type": "zoomphone", "value": "+14155550123"}]);
    body[ENT] = json!({"department": "Sales", "manager": {"value": boss}, "employeeNumber": "7"});
    let jane = t.create_scim_user(body);
    let sales = t.group_id("Sales");
    let r = t.scim_patch(
        "groups",
        &sales,
        json!([{"op": "add", "path": "members", "value": [{"value": jane}, {"value": boss}]}]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(t.sim.group_members("Sales"), Some(vec![jane.clone(), boss]));
    let p = t.sim.profile("jane@example.com").expect("profile");
    assert_eq!(p["contactInfo"][0]["phone_other"][0]["scimType"], "zoomphone");
    assert_eq!(p["general"]["department"][0]["value"], "Sales");
}

#[test]
fn an_org_can_be_seeded_through_the_platform_api() {
    let t = TestSim::new();
    let create = |name: &str, email: &str| {
        json!({
            "name": name,
            "email": email,
            "divisionId": HOME_DIVISION_ID,
            "title": "Agent",
            "department": "Support",
            "addresses": [{"address": "+14155550101", "mediaType": "PHONE", "type": "MOBILE"}]
        })
    };
    let boss = t.ok("POST", "/api/v2/users", Some(create("Boss", "boss@example.com")), 200);
    let jane = t.ok("POST", "/api/v2/users", Some(create("Jane", "jane@example.com")), 200);
    assert_eq!((jane["title"].as_str(), jane["department"].as_str()), (Some("Agent"), Some("Support")));
    let again = t.call("POST", "/api/v2/users", Some(create("Jane 2", "JANE@example.com")));
    assert_eq!((again.status, again.body["code"].as_str()), (409, Some("general.conflict")), "{}", again.body);
    for missing in ["name", "email", "divisionId"] {
        let mut body = create("X", "x@example.com");
        body.as_object_mut().expect("object").remove(missing);
        assert_eq!(t.call("POST", "/api/v2/users", Some(body)).status, 400, "{missing} is required");
    }

    let (jane_id, boss_id) = (jane["id"].as_str().expect("id"), boss["id"].as_str().expect("id"));
    let patch = json!({
        "version": jane["version"],
        "title": "Senior agent",
        "department": "Sales",
        "manager": boss_id,
        "addresses": [
            {"address": "+14155550101", "mediaType": "PHONE", "type": "MOBILE"},
            {"address": "+14155550123", "mediaType": "PHONE", "type": "OTHER"}
        ]
    });
    let patched = t.ok("PATCH", &format!("/api/v2/users/{jane_id}"), Some(patch), 200);
    assert_eq!(patched["manager"]["id"], boss_id);
    let scim = t.scim_user(jane_id);
    assert_eq!(scim["title"], "Senior agent");
    assert_eq!(scim[ENT]["department"], "Sales");
    assert_eq!(scim[ENT]["manager"]["value"], boss_id);
    assert_eq!(
        scim["phoneNumbers"],
        json!([{"type": "mobile", "value": "+14155550101"}, {"type": "other", "value": "+14155550123"}])
    );

    // Members by hand: version required and checked, 202, memberCount and version move.
    let sales = t.group_id("Sales");
    let members = format!("/api/v2/groups/{sales}/members");
    let r = t.call("POST", &members, Some(json!({"memberIds": [jane_id]})));
    assert_eq!(r.status, 400, "version is required: {}", r.body);
    let r = t.call("POST", &members, Some(json!({"memberIds": [jane_id], "version": 7})));
    assert_eq!((r.status, r.body["code"].as_str()), (409, Some("general.conflict")), "{}", r.body);
    let r = t.call("POST", &members, Some(json!({"memberIds": ["no-such-user"], "version": 1})));
    assert_eq!(r.status, 400, "{}", r.body);
    let too_many: Vec<String> = (0..51).map(|i| format!("u{i}")).collect();
    assert_eq!(t.call("POST", &members, Some(json!({"memberIds": too_many, "version": 1}))).status, 400);
    t.ok("POST", &members, Some(json!({"memberIds": [jane_id, boss_id], "version": 1})), 202);
    let g = t.ok("GET", &format!("/api/v2/groups/{sales}"), None, 200);
    assert_eq!(
        (g["memberCount"].as_u64(), g["version"].as_u64(), g["name"].as_str()),
        (Some(2), Some(2), Some("Sales"))
    );
    let individuals = t.ok("GET", &format!("/api/v2/groups/{sales}/individuals"), None, 200);
    assert_eq!(individuals["total"], 2);
    assert_eq!(t.scim_user(jane_id)["groups"][0]["value"], sales.as_str(), "SCIM sees the same membership");
    t.ok("DELETE", &format!("{members}?ids={boss_id}"), None, 202);
    assert_eq!(t.sim.group_members("Sales"), Some(vec![jane_id.to_string()]));
    assert_eq!(t.call("GET", "/api/v2/groups/nope", None).status, 404);
    assert_eq!(t.call("DELETE", &members, None).status, 400, "ids are required");
}
