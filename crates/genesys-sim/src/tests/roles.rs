//! The role catalogue and role grants: `GET /api/v2/authorization/roles[/{id}]`, the subjects'
//! grants (`bulkadd`, `bulkremove`, `GET …/subjects/{id}`), SCIM `roles`, what deactivating and
//! deleting do to grants, and seeding roles.

use serde_json::{Value, json};

use super::{SCIM, TestSim, scim_type, user};
use crate::store::HOME_DIVISION_ID;

const ROLES: &str = "/api/v2/authorization/roles";

/// The `name`s of a listing's entities, in order.
fn names(listing: &Value) -> Vec<&str> {
    listing["entities"].as_array().expect("entities").iter().map(|e| e["name"].as_str().expect("name")).collect()
}

/// The names of the roles a SCIM user shows.
fn scim_roles(user: &Value) -> Vec<&str> {
    user["roles"].as_array().expect("roles").iter().map(|r| r["value"].as_str().expect("value")).collect()
}

impl TestSim {
    fn role_id(&self, name: &str) -> String {
        self.sim.role_id(name).expect("role")
    }

    /// The (role name, division id) pairs of `GET …/subjects/{id}`, and the subject's version.
    fn grants(&self, user_id: &str) -> (Vec<(String, String)>, u64) {
        let s = self.ok("GET", &format!("/api/v2/authorization/subjects/{user_id}"), None, 200);
        let pairs = s["grants"]
            .as_array()
            .expect("grants")
            .iter()
            .map(|g| {
                (g["role"]["name"].as_str().expect("role").into(), g["division"]["id"].as_str().expect("id").into())
            })
            .collect();
        (pairs, s["version"].as_u64().expect("version"))
    }

    fn bulk(&self, user_id: &str, op: &str, grants: Value) -> super::Res {
        let path = format!("/api/v2/authorization/subjects/{user_id}/{op}?subjectType=PC_USER");
        self.call("POST", &path, Some(json!({"grants": grants})))
    }

    fn platform_user(&self, email: &str) -> String {
        let body = json!({"name": "P", "email": email, "divisionId": HOME_DIVISION_ID});
        self.ok("POST", "/api/v2/users", Some(body), 200)["id"].as_str().expect("id").to_string()
    }
}

fn pair(role: &str, division: &str) -> (String, String) {
    (role.to_string(), division.to_string())
}

#[test]
fn the_default_catalogue_lists_admin_employee_and_8x8_user() {
    let t = TestSim::new();
    let listing = t.ok("GET", ROLES, None, 200);
    assert_eq!(names(&listing), ["8x8 User", "admin", "employee"], "sorted by name, any case");
    let uri = "/api/v2/authorization/roles?pageSize=25&pageNumber=1";
    for (k, v) in [
        ("pageSize", json!(25)),
        ("pageNumber", json!(1)),
        ("total", json!(3)),
        ("pageCount", json!(1)),
        ("firstUri", json!(uri)),
        ("selfUri", json!(uri)),
        ("lastUri", json!(uri)),
    ] {
        assert_eq!(listing[k], v, "{k}");
    }
    let uc = t.role_id("8x8 User");
    assert_eq!(
        listing["entities"][0],
        json!({
            "id": uc,
            "name": "8x8 User",
            "description": "8x8 User: sees the 8x8 integration",
            "permissions": ["integration:eightByEight:view", "integration:unifiedCommunications:view"],
            "permissionPolicies": [
                {"domain": "integration", "entityName": "eightByEight", "actionSet": ["view"]},
                {"domain": "integration", "entityName": "unifiedCommunications", "actionSet": ["view"]}
            ],
            "default": false,
            "base": false,
            "selfUri": format!("{ROLES}/{uc}"),
            "userCount": 0
        })
    );
    assert_eq!(
        listing["entities"][1]["permissionPolicies"],
        json!([{"domain": "*", "entityName": "*", "actionSet": ["*"]}])
    );
    let employee = t.ok("GET", &format!("{ROLES}/{}", t.role_id("employee")), None, 200);
    assert_eq!(employee["name"], "employee");
    assert_eq!(employee["permissions"][0], "directory:user:view");
    let r = t.call("GET", &format!("{ROLES}/no-such-role"), None);
    assert_eq!((r.status, r.body["status"].as_u64()), (404, Some(404)), "ErrorBody: {}", r.body);
    assert_eq!(t.call("POST", ROLES, Some(json!({}))).status, 405);
    // userCount counts the users holding the role directly.
    t.create_scim_user(user("a@example.com"));
    let employee = t.ok("GET", &format!("{ROLES}/{}", t.role_id("employee")), None, 200);
    assert_eq!(employee["userCount"], 1);
    let without = t.ok("GET", &format!("{ROLES}?userCount=false"), None, 200);
    assert!(without["entities"][0].get("userCount").is_none());
    // Role ids differ between simulators, as between orgs.
    assert_ne!(TestSim::new().role_id("employee"), t.role_id("employee"));
}

#[test]
fn the_name_filter_matches_substrings_unless_exact_role_name() {
    let t = TestSim::new();
    t.ok(
        "POST",
        "/sim/seed",
        Some(json!({"roles": [
            {"name": "Employee Plus", "permissions": ["directory:user:view"]},
            {"name": "Contract employee", "permissions": ["directory:user:view"]}
        ]})),
        200,
    );
    for query in ["name=employee", "name=EMPLOYEE", "name=ploy"] {
        let listing = t.ok("GET", &format!("{ROLES}?{query}"), None, 200);
        assert_eq!(names(&listing), ["Contract employee", "employee", "Employee Plus"], "{query}");
    }
    let listing = t.ok("GET", &format!("{ROLES}?name=employee"), None, 200);
    assert_ne!(listing["entities"][0]["name"], "employee", "a client taking the first entity gets the wrong role");
    let listing = t.ok("GET", &format!("{ROLES}?name=8x8"), None, 200);
    assert_eq!(names(&listing), ["8x8 User"]);

    t.lenient(&["exact-role-name"]);
    let listing = t.ok("GET", &format!("{ROLES}?name=EMPLOYEE"), None, 200);
    assert_eq!(names(&listing), ["employee"]);
    let listing = t.ok("GET", &format!("{ROLES}?name=8x8"), None, 200);
    assert_eq!(listing["total"], 0);
    let listing = t.ok("GET", &format!("{ROLES}?name=8x8%20user"), None, 200);
    assert_eq!(names(&listing), ["8x8 User"]);
}

#[test]
fn the_permission_and_id_filters_and_paging() {
    let t = TestSim::new();
    for p in ["integration:unifiedCommunications:view", "integration:eightByEight:view"] {
        let listing = t.ok("GET", &format!("{ROLES}?permission={p}"), None, 200);
        assert_eq!(names(&listing), ["8x8 User", "admin"], "{p}: admin's wildcards match");
    }
    let listing = t.ok("GET", &format!("{ROLES}?permission=directory:user:view"), None, 200);
    assert_eq!(names(&listing), ["admin", "employee"]);
    let listing = t.ok(
        "GET",
        &format!("{ROLES}?permission=directory:user:view&permission=integration:eightByEight:view"),
        None,
        200,
    );
    assert_eq!(names(&listing), ["8x8 User", "admin", "employee"], "a role matches one of the values");
    let listing = t.ok("GET", &format!("{ROLES}?permission=integration:unifiedcommunications:view"), None, 200);
    assert_eq!(names(&listing), ["admin"], "permissions are case-sensitive; only wildcards match");
    let listing =
        t.ok("GET", &format!("{ROLES}?name=user&permission=integration:unifiedCommunications:view"), None, 200);
    assert_eq!(names(&listing), ["8x8 User"], "every filter applies");
    let (uc, admin) = (t.role_id("8x8 User"), t.role_id("admin"));
    let listing = t.ok("GET", &format!("{ROLES}?id={uc}&id={admin}"), None, 200);
    assert_eq!(names(&listing), ["8x8 User", "admin"]);

    let page = t.ok("GET", &format!("{ROLES}?pageSize=1&pageNumber=2"), None, 200);
    assert_eq!(names(&page), ["admin"]);
    assert_eq!((page["total"].as_u64(), page["pageCount"].as_u64()), (Some(3), Some(3)));
    assert_eq!(page["nextUri"], "/api/v2/authorization/roles?pageSize=1&pageNumber=3");
    assert_eq!(page["previousUri"], "/api/v2/authorization/roles?pageSize=1&pageNumber=1");
    assert_eq!(page["lastUri"], "/api/v2/authorization/roles?pageSize=1&pageNumber=3");
    assert_eq!(t.ok("GET", &format!("{ROLES}?pageSize=500"), None, 200)["pageSize"], 500);
    for bad in ["pageSize=501", "pageSize=0", "pageSize=x", "pageNumber=-1", "userCount=maybe"] {
        let r = t.call("GET", &format!("{ROLES}?{bad}"), None);
        assert_eq!((r.status, r.body["code"].as_str()), (400, Some("invalid.value")), "{bad}: {}", r.body);
    }
}

#[test]
fn bulkadd_adds_each_grant_once_and_the_subject_shows_them() {
    let t = TestSim::new();
    let seeded = t.ok("POST", "/sim/seed", Some(json!({"divisions": ["East"]})), 200);
    let east = seeded["divisions"][0]["id"].as_str().expect("id").to_string();
    let id = t.create_scim_user(user("jane@example.com"));
    assert_eq!(t.grants(&id), (vec![pair("employee", HOME_DIVISION_ID)], 1), "a new user gets employee");
    let uc = t.role_id("8x8 User");

    let r = t.bulk(&id, "bulkadd", json!([{"roleId": uc, "divisionId": HOME_DIVISION_ID}]));
    assert_eq!((r.status, &r.body), (204, &Value::Null));
    let subject = t.ok("GET", &format!("/api/v2/authorization/subjects/{id}"), None, 200);
    assert_eq!(subject["id"], id.as_str());
    assert_eq!(subject["name"], "D jane@example.com");
    assert_eq!(subject["version"], 2);
    let grant = &subject["grants"][1];
    assert_eq!(grant["subjectId"], id.as_str());
    assert_eq!(grant["role"]["id"], uc.as_str());
    assert_eq!(grant["role"]["name"], "8x8 User");
    assert_eq!(
        (grant["division"]["id"].as_str(), grant["division"]["name"].as_str()),
        (Some(HOME_DIVISION_ID), Some("Home"))
    );
    let made_at = grant["grantMadeAt"].as_str().expect("grantMadeAt");
    assert!(made_at.len() == 24 && made_at.ends_with('Z') && made_at.as_bytes()[10] == b'T', "{made_at}");

    // Held already: kept once, no error, no new version.
    let r = t.bulk(&id, "bulkadd", json!([{"roleId": uc, "divisionId": HOME_DIVISION_ID}]));
    assert_eq!(r.status, 204);
    assert_eq!(t.grants(&id), (vec![pair("employee", HOME_DIVISION_ID), pair("8x8 User", HOME_DIVISION_ID)], 2));
    // The same role in another division is another grant; SCIM lists the role once.
    t.bulk(&id, "bulkadd", json!([{"roleId": uc, "divisionId": east}, {"roleId": uc, "divisionId": east}]));
    assert_eq!(t.grants(&id).0.len(), 3);
    assert_eq!(scim_roles(&t.scim_user(&id)), ["employee", "8x8 User"]);
    assert_eq!(t.scim_user(&id)["meta"]["version"], "1", "grants do not move the user's version");

    let r = t.bulk(&id, "bulkremove", json!([{"roleId": uc, "divisionId": east}]));
    assert_eq!(r.status, 204);
    assert_eq!(t.grants(&id), (vec![pair("employee", HOME_DIVISION_ID), pair("8x8 User", HOME_DIVISION_ID)], 4));
    t.bulk(&id, "bulkremove", json!([{"roleId": uc, "divisionId": east}]));
    assert_eq!(t.grants(&id).1, 4, "removing a grant not held changes nothing");

    // The new routes are journalled and counted, ids hidden.
    let stats = t.sim.stats();
    assert_eq!(stats.by_route["POST /api/v2/authorization/subjects/{id}/bulkadd"]["204"], 3);
    assert_eq!(stats.by_route["POST /api/v2/authorization/subjects/{id}/bulkremove"]["204"], 2);
    assert!(stats.by_route.contains_key("GET /api/v2/authorization/subjects/{id}"));
    let journal = t.sim.requests();
    let add = journal.iter().find(|e| e.path.ends_with("/bulkadd")).expect("journalled");
    assert_eq!(add.path, format!("/api/v2/authorization/subjects/{id}/bulkadd"));
    assert_eq!(add.query, [("subjectType".to_string(), "PC_USER".to_string())]);
    assert_eq!(add.body, Some(json!({"grants": [{"roleId": uc, "divisionId": HOME_DIVISION_ID}]})));
}

#[test]
fn bulk_requests_are_checked_whole_before_anything_is_granted() {
    let t = TestSim::new();
    let id = t.create_scim_user(user("jane@example.com"));
    let uc = t.role_id("8x8 User");
    let ok = json!({"roleId": uc, "divisionId": HOME_DIVISION_ID});
    let before = t.grants(&id);

    let r = t.bulk(&id, "bulkadd", json!([ok, {"roleId": "ghost-role", "divisionId": HOME_DIVISION_ID}]));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["message"].as_str().is_some_and(|m| m.contains("ghost-role") && m.contains("roleId")), "{}", r.body);
    let r = t.bulk(&id, "bulkadd", json!([ok, {"roleId": uc, "divisionId": "ghost-division"}]));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["message"].as_str().is_some_and(|m| m.contains("ghost-division") && m.contains("divisionId")));
    for body in [json!({}), json!({"grants": "x"}), json!({"grants": [{"roleId": uc}]}), json!([ok])] {
        let path = format!("/api/v2/authorization/subjects/{id}/bulkadd?subjectType=PC_USER");
        let r = t.call("POST", &path, Some(body.clone()));
        assert_eq!(r.status, 400, "{body}: {}", r.body);
    }
    for query in ["subjectType=pc_user", "subjectType=PC_GROUP", "subjectType=ROBOT"] {
        let path = format!("/api/v2/authorization/subjects/{id}/bulkadd?{query}");
        let r = t.call("POST", &path, Some(json!({"grants": [ok]})));
        assert_eq!(r.status, 400, "{query}: {}", r.body);
    }
    assert_eq!(t.grants(&id), before, "nothing granted by a refused request");

    let r = t.bulk("no-such-user", "bulkadd", json!([ok]));
    assert_eq!((r.status, r.body["status"].as_u64()), (404, Some(404)), "ErrorBody: {}", r.body);
    assert_eq!(t.call("GET", "/api/v2/authorization/subjects/no-such-user", None).status, 404);
    assert_eq!(t.call("GET", &format!("/api/v2/authorization/subjects/{id}/bulkadd"), None).status, 405);

    // subjectType is optional, PC_USER by default (PY-SDK).
    let r = t.call("POST", &format!("/api/v2/authorization/subjects/{id}/bulkadd"), Some(json!({"grants": [ok]})));
    assert_eq!(r.status, 204, "{}", r.body);

    // The routes go through the fault pipeline like every /api/v2 route.
    t.ok("POST", "/sim/faults", Some(json!({"fail_next": [503]})), 200);
    let r = t.bulk(&id, "bulkremove", json!([ok]));
    assert_eq!(r.status, 503);
    assert_eq!(t.grants(&id).0.len(), 2, "the failed request removed nothing");

    t.ok("DELETE", &format!("{SCIM}/users/{id}"), None, 204);
    assert_eq!(t.bulk(&id, "bulkadd", json!([ok])).status, 404, "a deleted user is no subject");
    assert_eq!(t.call("GET", &format!("/api/v2/authorization/subjects/{id}"), None).status, 404);
}

#[test]
fn deactivating_through_scim_drops_every_grant_and_reactivating_restores_none() {
    let t = TestSim::new();
    let uc = t.role_id("8x8 User");
    let id = t.create_scim_user(user("jane@example.com"));
    t.bulk(&id, "bulkadd", json!([{"roleId": uc, "divisionId": HOME_DIVISION_ID}]));
    let r = t.scim_patch("users", &id, json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(scim_roles(&r.body), Vec::<&str>::new(), "the write that deactivates drops them all");
    assert_eq!(t.grants(&id), (vec![], 3));
    let r = t.scim_patch("users", &id, json!([{"op": "replace", "path": "active", "value": true}]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(scim_roles(&r.body), Vec::<&str>::new(), "reactivation restores none");
    assert_eq!(t.grants(&id).0, vec![]);
    // Granting them again is the client's job.
    let r = t.scim_patch("users", &id, json!([{"op": "add", "path": "roles", "value": [{"value": "employee"}]}]));
    assert_eq!(scim_roles(&r.body), ["employee"]);

    // A PUT that deactivates drops them too, whatever roles it carries.
    let mut body = user("jane@example.com");
    body["active"] = json!(false);
    body["roles"] = json!([{"value": "employee"}, {"value": "8x8 User"}]);
    let r = t.call("PUT", &format!("{SCIM}/users/{id}"), Some(body.clone()));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.body["active"].as_bool(), scim_roles(&r.body)), (Some(false), vec![]));
    // A PUT that reactivates and names roles grants what it names.
    body["active"] = json!(true);
    body["roles"] = json!([{"value": "8x8 User"}]);
    let r = t.call("PUT", &format!("{SCIM}/users/{id}"), Some(body));
    assert_eq!(scim_roles(&r.body), ["8x8 User"]);

    // DELETE drops them.
    t.ok("DELETE", &format!("{SCIM}/users/{id}"), None, 204);
    let after = t.ok("GET", &format!("/sim/grants/{id}"), None, 200);
    assert_eq!((after["state"].as_str(), after["grants"].clone()), (Some("deleted"), json!([])));
}

#[test]
fn deactivating_through_platform_drops_every_grant_and_reactivating_restores_none() {
    let t = TestSim::new();
    let uc = t.role_id("8x8 User");
    let id = t.platform_user("pat@example.com");
    assert_eq!(t.grants(&id).0, vec![pair("employee", HOME_DIVISION_ID)], "a Platform create gets employee too");
    t.bulk(&id, "bulkadd", json!([{"roleId": uc, "divisionId": HOME_DIVISION_ID}]));
    let version = |t: &TestSim| t.ok("GET", &format!("/api/v2/users/{id}"), None, 200)["version"].clone();
    assert_eq!(version(&t), 1, "grants do not move the user's version");
    let r = t.call("PATCH", &format!("/api/v2/users/{id}"), Some(json!({"state": "inactive", "version": 1})));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(t.grants(&id).0, vec![]);
    t.ok("PATCH", &format!("/api/v2/users/{id}"), Some(json!({"state": "active", "version": 2})), 200);
    assert_eq!(t.grants(&id).0, vec![], "reactivation restores none");

    t.bulk(&id, "bulkadd", json!([{"roleId": uc, "divisionId": HOME_DIVISION_ID}]));
    t.ok("DELETE", &format!("/api/v2/users/{id}"), None, 200);
    assert_eq!(t.sim.grants(&id), Some(vec![]), "deleting drops them");
    t.ok("PATCH", &format!("/api/v2/users/{id}"), Some(json!({"state": "active", "version": 4})), 200);
    assert_eq!(t.grants(&id).0, vec![], "restoring restores none");
}

#[test]
fn scim_roles_are_role_names_and_writes_set_them() {
    let t = TestSim::new();
    let mut body = user("uc@example.com");
    body["roles"] = json!([{"value": "8X8 USER"}]);
    let created = t.ok("POST", &format!("{SCIM}/users"), Some(body), 201);
    assert_eq!(scim_roles(&created), ["8x8 User"], "matched by name, any case; exactly those roles");
    let id = created["id"].as_str().expect("id").to_string();
    assert_eq!(t.grants(&id).0, vec![pair("8x8 User", HOME_DIVISION_ID)]);
    let mut body = user("empty@example.com");
    body["roles"] = json!([]);
    let created = t.ok("POST", &format!("{SCIM}/users"), Some(body), 201);
    assert_eq!(scim_roles(&created), ["employee"], "no roles named: employee, as without roles");

    // An unknown name (here the help page's typographic "×") is refused whole.
    for name in ["8×8 User", "8x8", "Master Admin"] {
        let mut body = user("ghost@example.com");
        body["roles"] = json!([{"value": "employee"}, {"value": name}]);
        let r = t.call("POST", &format!("{SCIM}/users"), Some(body));
        assert_eq!((r.status, scim_type(&r)), (400, "invalidValue"), "{name}: {}", r.body);
        assert_eq!(r.body["status"], "400", "a ScimError: {}", r.body);
        assert!(r.body["detail"].as_str().is_some_and(|d| d.contains(name)), "{}", r.body);
        assert!(t.sim.user_id("ghost@example.com").is_none());
    }

    // PATCH add, filtered remove, replace.
    let r = t.scim_patch(
        "users",
        &id,
        json!([{"op": "add", "path": "roles", "value": [{"value": "employee"}, {"value": "8x8 user"}]}]),
    );
    assert_eq!(scim_roles(&r.body), ["8x8 User", "employee"], "{}", r.body);
    assert_eq!(r.body["meta"]["version"], "1", "roles do not move the user's version");
    let r = t.scim_patch("users", &id, json!([{"op": "remove", "path": "roles[value eq \"8x8 User\"]"}]));
    assert_eq!(scim_roles(&r.body), ["employee"], "{}", r.body);
    let r = t.scim_patch("users", &id, json!([{"op": "remove", "path": "roles[value eq \"admin\"]"}]));
    assert_eq!((r.status, scim_type(&r)), (400, "noTarget"), "{}", r.body);
    let r = t.scim_patch(
        "users",
        &id,
        json!([{"op": "replace", "path": "roles", "value": [{"value": "admin"}, {"value": "8x8 User"}]}]),
    );
    assert_eq!(scim_roles(&r.body), ["admin", "8x8 User"], "{}", r.body);
    let r = t.scim_patch("users", &id, json!([{"op": "add", "path": "roles", "value": [{"value": "nobody"}]}]));
    assert_eq!((r.status, scim_type(&r)), (400, "invalidValue"), "{}", r.body);
    let r = t.scim_patch("users", &id, json!([{"op": "remove", "path": "roles"}]));
    assert_eq!(scim_roles(&r.body), Vec::<&str>::new());
    assert_eq!(t.grants(&id).0, vec![]);

    // A PUT names the whole set; leaving roles out clears them unless put-keeps-omitted.
    let mut body = user("uc@example.com");
    body["roles"] = json!(["employee", {"value": "8x8 User", "display": "ignored"}]);
    let r = t.call("PUT", &format!("{SCIM}/users/{id}"), Some(body));
    assert_eq!(scim_roles(&r.body), ["employee", "8x8 User"], "{}", r.body);
    let r = t.call("PUT", &format!("{SCIM}/users/{id}"), Some(user("uc@example.com")));
    assert_eq!(scim_roles(&r.body), Vec::<&str>::new(), "left out of a PUT: cleared");
    t.ok("PATCH", &format!("{SCIM}/users/{id}"), Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "roles", "value": [{"value": "employee"}]}]})), 200);
    t.lenient(&["put-keeps-omitted"]);
    let r = t.call("PUT", &format!("{SCIM}/users/{id}"), Some(user("uc@example.com")));
    assert_eq!(scim_roles(&r.body), ["employee"], "kept with put-keeps-omitted");
    // A grant made in another division survives a SCIM write naming the role.
    let seeded = t.ok("POST", "/sim/seed", Some(json!({"divisions": ["East"]})), 200);
    let east = seeded["divisions"][0]["id"].as_str().expect("id").to_string();
    t.bulk(&id, "bulkadd", json!([{"roleId": t.role_id("admin"), "divisionId": east}]));
    let r = t.scim_patch("users", &id, json!([{"op": "add", "path": "roles", "value": [{"value": "8x8 User"}]}]));
    assert_eq!(scim_roles(&r.body), ["employee", "admin", "8x8 User"]);
    assert_eq!(
        t.grants(&id).0,
        vec![pair("employee", HOME_DIVISION_ID), pair("admin", &east), pair("8x8 User", HOME_DIVISION_ID)]
    );
}

#[test]
fn seeds_add_roles_and_grant_users_roles_by_name() {
    let t = TestSim::new();
    let seed = json!({
        "roles": [{"name": "Employee Plus", "description": "Employee and UC",
                   "permissions": ["directory:user:view", "integration:unifiedCommunications:view", "directory:user:edit"]}],
        "users": [
            {"userName": "boss@example.com", "displayName": "Boss", "roles": ["Employee Plus", {"value": "admin"}]},
            {"userName": "jane@example.com", "displayName": "Jane", "active": false}
        ]
    });
    let report = t.ok("POST", "/sim/seed", Some(seed), 200);
    let plus = t.role_id("employee plus");
    assert_eq!(report["roles"], json!([{"name": "Employee Plus", "id": plus}]));
    let role = t.ok("GET", &format!("{ROLES}/{plus}"), None, 200);
    assert_eq!(role["description"], "Employee and UC");
    assert_eq!(
        role["permissionPolicies"],
        json!([
            {"domain": "directory", "entityName": "user", "actionSet": ["view", "edit"]},
            {"domain": "integration", "entityName": "unifiedCommunications", "actionSet": ["view"]}
        ])
    );
    assert_eq!(
        role["permissions"],
        json!(["directory:user:view", "directory:user:edit", "integration:unifiedCommunications:view"])
    );
    let listing = t.ok("GET", &format!("{ROLES}?permission=integration:unifiedCommunications:view"), None, 200);
    assert_eq!(names(&listing), ["8x8 User", "admin", "Employee Plus"]);

    let boss = t.sim.grants("boss@example.com").expect("boss");
    let held: Vec<(&str, &str)> = boss.iter().map(|g| (g.role.as_str(), g.division_id.as_str())).collect();
    assert_eq!(held, [("Employee Plus", HOME_DIVISION_ID), ("admin", HOME_DIVISION_ID)]);
    let jane = t.ok("GET", "/sim/grants/jane@example.com", None, 200);
    assert_eq!(jane["grants"][0]["role"], "employee", "without roles: employee (even inactive at creation)");
    assert_eq!(jane["grants"][0]["division"], "Home");
    assert_eq!(jane["version"], 1);
    assert_eq!(t.call("GET", "/sim/grants/nobody@example.com", None).status, 404);

    // A role of the same name is redefined, keeping its id and grants.
    let report = t.ok(
        "POST",
        "/sim/seed",
        Some(json!({"roles": [{"name": "EMPLOYEE PLUS", "permissions": ["integration:*:view"]}]})),
        200,
    );
    assert_eq!(report["roles"][0]["id"], plus.as_str());
    let role = t.ok("GET", &format!("{ROLES}/{plus}"), None, 200);
    assert_eq!((role["name"].as_str(), role["userCount"].as_u64()), (Some("EMPLOYEE PLUS"), Some(1)));
    assert_eq!(
        role["permissionPolicies"],
        json!([{"domain": "integration", "entityName": "*", "actionSet": ["view"]}])
    );
    let listing = t.ok("GET", &format!("{ROLES}?permission=integration:eightByEight:view"), None, 200);
    assert_eq!(names(&listing), ["8x8 User", "admin", "EMPLOYEE PLUS"], "a wildcard entity matches");

    // Bad seeds are refused whole.
    for (seed, reason) in [
        (json!({"roles": [{"name": "X", "permissions": ["directory:user"]}]}), "directory:user"),
        (json!({"roles": [{"name": "X", "perms": []}]}), "unknown key \"perms\""),
        (json!({"roles": [{"permissions": []}]}), "no name"),
        (
            json!({"roles": [{"name": "X"}], "users": [{"userName": "n@example.com", "displayName": "N", "roles": ["Y"]}]}),
            "\"Y\"",
        ),
    ] {
        let r = t.call("POST", "/sim/seed", Some(seed.clone()));
        assert_eq!(r.status, 400, "{seed}: {}", r.body);
        assert!(r.body["message"].as_str().is_some_and(|m| m.contains(reason)), "{seed}: {}", r.body);
        assert!(t.sim.role_id("X").is_none(), "nothing of {seed} is applied");
    }
}
