//! Table tests of the plan: one `check` per row, from (change, known, settings) to the requests
//! planned; and the claim the dry run rests on: executing a plan step by step against Genesys's
//! answers sends the first plan's requests, request for request.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::*;
use crate::genesys::mapping::{MappingConfig, map_user};

fn user(extra: Value) -> MappedUser {
    user_granted(extra, "")
}

/// A user mapped with `genesys.roles` set to `roles`.
fn user_granted(extra: Value, roles: &str) -> MappedUser {
    let mut doc = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "b-ana",
        "userName": "ana@corp.example",
        "displayName": "Ana Lima",
        "active": true,
        "phoneNumbers": [{"type": "eightbyeight", "value": "+14155550123"}],
    });
    if let (Some(d), Value::Object(e)) = (doc.as_object_mut(), extra) {
        d.extend(e);
    }
    let doc: Map<String, Value> = serde_json::from_value(doc).unwrap();
    let cfg = MappingConfig { roles: RoleSpec::parse_list(roles).unwrap(), ..MappingConfig::default() };
    map_user(&doc, &cfg, &BTreeMap::<String, String>::new()).unwrap()
}

const SCIM: Settings = Settings { api: ApiMode::Scim, delete_mode: DeleteMode::Delete };
const PLATFORM: Settings = Settings { api: ApiMode::Platform, delete_mode: DeleteMode::Delete };
const DEACTIVATE: Settings = Settings { api: ApiMode::Scim, delete_mode: DeleteMode::Deactivate };

fn linked(g: &str) -> Known {
    Known { genesys_id: Some(g.into()), ..Known::default() }
}

/// The plan as `METHOD target` lines, `(after read)` marking bodies that depend on a read; or
/// the decision's name.
fn shown(p: &Plan) -> Vec<String> {
    match p {
        Plan::Done => vec!["done".into()],
        Plan::Park(why) => vec![format!("park: {why}")],
        Plan::Wait(d, why) => vec![format!("wait {}s: {why}", d.as_secs())],
        Plan::Send(steps) => steps
            .iter()
            .map(|s| {
                let after = if matches!(s.body, Body::AfterRead(_)) { " (after read)" } else { "" };
                format!("{} {}{after}", s.request.verb.as_str(), s.request.target())
            })
            .collect(),
    }
}

fn check(name: &str, change: Change<'_>, known: Known, settings: Settings, expected: &[&str]) {
    let got = shown(&plan(&change, &known, settings));
    assert_eq!(got, expected, "{name}");
}

#[test]
fn user_plans() {
    let ana = user(json!({}));
    let ana_with_id =
        user(json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "E7"}}));
    let ana_off = user(json!({"active": false}));
    let sync = Change::SyncUser;
    let lookup = r#"GET /api/v2/scim/v2/users?filter=userName eq "ana@corp.example""#;
    let rows: Vec<(&str, Change<'_>, Known, Settings, Vec<&str>)> = vec![
        (
            "scim: a first attempt creates at once",
            sync(&ana),
            Known::default(),
            SCIM,
            vec!["POST /api/v2/scim/v2/users"],
        ),
        ("scim: a linked user is patched", sync(&ana), linked("g1"), SCIM, vec!["PATCH /api/v2/scim/v2/users/g1"]),
        (
            "scim: a retry looks first, and updates what it finds",
            sync(&ana),
            Known { look_up_first: true, ..Known::default() },
            SCIM,
            vec![lookup, "PATCH /api/v2/scim/v2/users/{genesys id of ana@corp.example}"],
        ),
        (
            "scim: a lookup that found nothing creates",
            sync(&ana),
            Known { look_up_first: true, absent: true, ..Known::default() },
            SCIM,
            vec!["POST /api/v2/scim/v2/users"],
        ),
        ("written: done", sync(&ana), Known { written: true, ..linked("g1") }, SCIM, vec!["done"]),
        (
            "platform: a create finds the home division, creates, and reads the new user",
            sync(&ana),
            Known::default(),
            PLATFORM,
            vec![
                "GET /api/v2/authorization/divisions/home",
                "POST /api/v2/users",
                "GET /api/v2/users/{genesys id of ana@corp.example}?expand=employerInfo",
            ],
        ),
        (
            "platform: what the create cannot carry (the employee id) is patched after the read",
            sync(&ana_with_id),
            Known { division_id: Some("d1".into()), ..Known::default() },
            PLATFORM,
            vec![
                "POST /api/v2/users",
                "GET /api/v2/users/{genesys id of ana@corp.example}?expand=employerInfo",
                "PATCH /api/v2/users/{genesys id of ana@corp.example}",
            ],
        ),
        (
            "platform: a linked user is read, then patched with what differs",
            sync(&ana),
            linked("g1"),
            PLATFORM,
            vec![
                "GET /api/v2/users/g1?expand=employerInfo",
                "PATCH /api/v2/users/g1 (after read)",
                "PATCH /api/v2/users/g1 (after read)",
            ],
        ),
        (
            "platform: a deactivation is a state change of its own before the rest",
            sync(&ana_off),
            linked("g1"),
            PLATFORM,
            vec![
                "GET /api/v2/users/g1?expand=employerInfo",
                "PATCH /api/v2/users/g1 (after read)",
                "PATCH /api/v2/users/g1 (after read)",
            ],
        ),
    ];
    for (name, change, known, settings, expected) in rows {
        check(name, change, known, settings, &expected);
    }
}

#[test]
fn platform_plans_over_a_user_as_read() {
    let ana = user(json!({"title": "Agent"}));
    let read = |title: &str, state: &str| {
        json!({"id": "g1", "version": 7, "name": "Ana Lima", "email": "ana@corp.example", "state": state,
               "title": title, "department": "",
               "addresses": [{"address": "+14155550123", "mediaType": "PHONE", "type": "OTHER"}]})
    };
    let known = |current: Value| Known { current: Some(current), ..linked("g1") };
    check("in sync: done", Change::SyncUser(&ana), known(read("Agent", "active")), PLATFORM, &["done"]);
    let p = plan(&Change::SyncUser(&ana), &known(read("Team Lead", "active")), PLATFORM);
    let Plan::Send(steps) = &p else { panic!("{p:?}") };
    assert_eq!(steps.len(), 1, "{p:?}");
    assert_eq!(
        steps[0].body,
        Body::Exact(json!({"version": 7, "title": "Agent"})),
        "only what differs, at the read version"
    );
    let p = plan(
        &Change::SyncUser(&user(json!({"title": "Agent", "active": false}))),
        &known(read("Agent", "active")),
        PLATFORM,
    );
    let Plan::Send(steps) = &p else { panic!("{p:?}") };
    assert_eq!(steps.len(), 1, "{p:?}");
    assert_eq!(steps[0].purpose, Purpose::ChangeUserState);
    assert_eq!(steps[0].body, Body::Exact(json!({"version": 7, "state": "inactive"})));
}

#[test]
fn platform_divisions_are_found_by_name_and_a_missing_one_parks() {
    let ana = user(json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"division": "Support"}}));
    let p = plan(&Change::SyncUser(&ana), &Known::default(), PLATFORM);
    assert_eq!(shown(&p)[..2], ["GET /api/v2/authorization/divisions?name=Support&pageSize=100", "POST /api/v2/users"]);
    let Plan::Send(steps) = &p else { panic!("{p:?}") };
    assert_eq!(
        steps[1].request.body.as_ref().and_then(|b| b.get("divisionId")),
        Some(&json!("{id of division Support}"))
    );
    let absent = Known { division_absent: true, ..Known::default() };
    let p = plan(&Change::SyncUser(&ana), &absent, PLATFORM);
    assert!(matches!(&p, Plan::Park(why) if why.contains("no division named 'Support'")), "{p:?}");
}

#[test]
fn delete_plans() {
    let del = |name: Option<&'static str>| Change::DeleteUser { user_name: name };
    let lookup = r#"GET /api/v2/scim/v2/users?filter=userName eq "bob@corp.example""#;
    check("scim delete", del(None), linked("g1"), SCIM, &["DELETE /api/v2/scim/v2/users/g1"]);
    check("platform delete", del(None), linked("g1"), PLATFORM, &["DELETE /api/v2/users/g1"]);
    check("deactivate", del(None), linked("g1"), DEACTIVATE, &["PATCH /api/v2/scim/v2/users/g1"]);
    check(
        "no link: find it by name first",
        del(Some("bob@corp.example")),
        Known::default(),
        SCIM,
        &[lookup, "DELETE /api/v2/scim/v2/users/{genesys id of bob@corp.example}"],
    );
    check(
        "not in Genesys: done",
        del(Some("bob@corp.example")),
        Known { absent: true, ..Known::default() },
        SCIM,
        &["done"],
    );
    check("no link, no name: done", del(None), Known::default(), SCIM, &["done"]);
    check("deleted: done", del(None), Known { deleted: true, ..linked("g1") }, SCIM, &["done"]);
}

#[test]
fn group_plans() {
    let group: Map<String, Value> = serde_json::from_value(json!({"id": "b-sales", "displayName": "Sales"})).unwrap();
    let m = |b: &str, g: Option<&str>| Member { bridge_id: b.into(), genesys_id: g.map(str::to_string) };
    let members = [m("b1", Some("g-u1")), m("b2", None)];
    let sync = |attempts| Change::SyncGroup { group: &group, members: &members, attempts };
    check(
        "members on their way: wait",
        sync(0),
        Known::default(),
        SCIM,
        &["wait 2s: 1 member(s) not in Genesys yet; waiting for their delivery"],
    );
    check(
        "found by name, read, then patched",
        sync(10),
        Known::default(),
        SCIM,
        &[
            r#"GET /api/v2/scim/v2/groups?filter=displayName eq "Sales""#,
            "GET /api/v2/scim/v2/groups/{genesys id of group Sales}",
            "PATCH /api/v2/scim/v2/groups/{genesys id of group Sales} (after read)",
        ],
    );
    let absent = Known { absent: true, ..Known::default() };
    let p = plan(&sync(10), &absent, SCIM);
    assert!(matches!(&p, Plan::Park(why) if why.contains("no group named 'Sales'")), "{p:?}");

    let read =
        |ids: &[&str]| Known { group_members: Some(ids.iter().map(|s| s.to_string()).collect()), ..linked("gg") };
    check("in sync: done", sync(10), read(&["g-u1"]), SCIM, &["done"]);
    let ops = |known: &Known| {
        let p = plan(&sync(10), known, SCIM);
        let Plan::Send(steps) = &p else { panic!("{p:?}") };
        steps[0].request.body.as_ref().and_then(|b| b.get("Operations")).cloned()
    };
    assert_eq!(
        ops(&read(&["g-hand"])),
        Some(json!([{"op": "add", "path": "members", "value": [{"value": "g-u1"}]}])),
        "a member added in Genesys by hand stays"
    );
    let ours = Known { bridge_added: BTreeSet::from(["g-old".to_string()]), ..read(&["g-old", "g-hand"]) };
    assert_eq!(
        ops(&ours),
        Some(json!([
            {"op": "remove", "path": "members[value eq \"g-old\"]"},
            {"op": "add", "path": "members", "value": [{"value": "g-u1"}]}
        ])),
        "a member the bridge added and no longer wants is removed"
    );
    let p = plan(&sync(10), &Known { bridge_added: BTreeSet::from(["g-old".to_string()]), ..Known::default() }, SCIM);
    let Plan::Send(steps) = &p else { panic!("{p:?}") };
    assert_eq!(
        steps[2].purpose,
        Purpose::UpdateGroupMembers { add: vec!["g-u1".into()], remove: vec!["g-old".into()] },
        "before the read: every member wanted, every member of the bridge's no longer wanted"
    );
    assert!(!steps[2].request.body.as_ref().unwrap().to_string().contains("replace"), "never a whole member list");

    let dry = Known { assume_members_delivered: true, ..linked("gg") };
    let p = plan(&sync(0), &dry, SCIM);
    let Plan::Send(steps) = &p else { panic!("{p:?}") };
    let added = steps.last().and_then(|s| s.request.body.clone()).unwrap();
    assert!(added.to_string().contains("{genesys id of user b2}"), "the dry run shows undelivered members: {added}");
}

#[test]
fn learning_from_answers() {
    let step = |purpose: Purpose| Step::exact(purpose, ApiRequest::home_division());
    let mut k = Known::default();
    assert_eq!(
        k.learn(&step(Purpose::FindUser), &json!({"totalResults": 0, "Resources": []}), ApiMode::Scim),
        Learnt::Continue
    );
    assert!(k.absent && k.genesys_id.is_none());
    let mut k = Known::default();
    k.learn(&step(Purpose::FindUser), &json!({"Resources": [{"id": "g9"}]}), ApiMode::Scim);
    assert_eq!(k.genesys_id.as_deref(), Some("g9"));
    let mut k = Known::default();
    assert!(matches!(k.learn(&step(Purpose::CreateUser), &json!({}), ApiMode::Scim), Learnt::Incomplete(_)));
    k.learn(&step(Purpose::CreateUser), &json!({"id": "g2"}), ApiMode::Scim);
    assert!(k.written, "a SCIM create carries every field");
    let mut k = Known::default();
    k.learn(&step(Purpose::CreateUser), &json!({"id": "g2"}), ApiMode::Platform);
    assert!(!k.written, "a Platform create is followed by an update");
    k.learn(&step(Purpose::FindDivision("Support".into())), &json!({"entities": []}), ApiMode::Platform);
    assert!(k.division_absent);
    k.learn(&step(Purpose::ReadGroup), &json!({"members": [{"value": "a"}]}), ApiMode::Scim);
    assert_eq!(k.group_members, Some(BTreeSet::from(["a".to_string()])));
}

/// Whether a sent request is the planned one: placeholders (`{...}`) stand for any value, and a
/// body that depends on a read matches any body holding only the planned fields and values
/// (the version aside).
pub(crate) fn matches_planned(planned: &Step, sent: &ApiRequest) -> bool {
    let segs = |p: &str| p.split('/').map(str::to_string).collect::<Vec<_>>();
    let (a, b) = (segs(&planned.request.path), segs(&sent.path));
    let path_ok =
        a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || (x.starts_with('{') && x.ends_with('}')));
    let query_ok = planned.request.query.len() == sent.query.len()
        && planned
            .request
            .query
            .iter()
            .zip(&sent.query)
            .all(|((k1, v1), (k2, v2))| k1 == k2 && json_matches(&json!(v1), &json!(v2)));
    let body_ok = match (&planned.body, &sent.body) {
        (Body::None, None) => true,
        (Body::Exact(p), Some(s)) => json_matches(p, s),
        // A group delta planned before the read against the one sent after it: every add and
        // every remove sent was planned.
        (Body::AfterRead(p), Some(s)) if p.get("Operations").is_some() => {
            let planned_ops = p["Operations"].as_array().cloned().unwrap_or_default();
            s["Operations"].as_array().is_some_and(|ops| {
                ops.iter().all(|op| match op["op"].as_str() {
                    Some("add") => op["value"].as_array().is_some_and(|a| {
                        a.iter().all(|m| {
                            planned_ops.iter().filter(|q| q["op"] == "add").any(|q| {
                                q["value"]
                                    .as_array()
                                    .is_some_and(|w| w.iter().any(|w| json_matches(&w["value"], &m["value"])))
                            })
                        })
                    }),
                    Some("remove") => {
                        planned_ops.iter().any(|q| q["op"] == "remove" && json_matches(&q["path"], &op["path"]))
                    }
                    _ => false,
                })
            })
        }
        // Grants: every grant sent was planned (those the user held already are not sent).
        (Body::AfterRead(p), Some(s)) if p.get("grants").is_some() => s["grants"].as_array().is_some_and(|sent| {
            !sent.is_empty()
                && sent.iter().all(|g| p["grants"].as_array().is_some_and(|w| w.iter().any(|w| json_matches(w, g))))
        }),
        (Body::AfterRead(p), Some(Value::Object(s))) => {
            s.iter().all(|(k, v)| k == "version" || p.get(k).is_some_and(|pv| json_matches(pv, v)))
        }
        _ => false,
    };
    planned.request.verb == sent.verb && path_ok && query_ok && body_ok
}

fn json_matches(planned: &Value, sent: &Value) -> bool {
    match (planned, sent) {
        (Value::String(p), _) if p.starts_with('{') && p.ends_with('}') => true,
        (Value::String(p), Value::String(s)) => {
            // A placeholder inside a string (a filter naming a placeholder) matches by its frame.
            match (p.find('{'), p.rfind('}')) {
                (Some(i), Some(j)) if i < j => s.starts_with(&p[..i]) && s.ends_with(&p[j + 1..]),
                _ => p == s,
            }
        }
        (Value::Array(p), Value::Array(s)) => p.len() == s.len() && p.iter().zip(s).all(|(a, b)| json_matches(a, b)),
        (Value::Object(p), Value::Object(s)) => {
            p.len() == s.len() && p.iter().all(|(k, v)| s.get(k).is_some_and(|sv| json_matches(v, sv)))
        }
        _ => planned == sent,
    }
}

/// A tiny stand-in for Genesys's answers, enough to run plans to their end.
fn answer(step: &Step, created: &str) -> Value {
    match step.purpose {
        Purpose::FindUser | Purpose::FindGroup => json!({"totalResults": 1, "Resources": [{"id": created}]}),
        Purpose::CreateUser => json!({"id": created}),
        Purpose::HomeDivision => json!({"id": "d-home"}),
        Purpose::FindDivision(ref name) => json!({"entities": [{"id": "d-x", "name": name}]}),
        Purpose::ReadUser | Purpose::ChangeUserState => {
            // What Genesys holds after the create: the create body's fields, at a version.
            let mut u = step.request.body.clone().unwrap_or_else(|| json!({}));
            if let Some(o) = u.as_object_mut() {
                o.insert("version".into(), json!(3));
            }
            u
        }
        Purpose::ReadGroup => json!({"members": []}),
        Purpose::FindRole(ref spec) => json!({"entities": [{"id": format!("r-{spec}"), "name": spec.to_string()}]}),
        // The user holds the employee role Genesys gives every new user.
        Purpose::ReadGrants(_) => json!({"grants": [{"role": {"id": "r-employee"}, "division": {"id": "d-home"}}]}),
        _ => json!({}),
    }
}

#[test]
fn executing_a_plan_sends_the_first_plan_request_for_request() {
    let ana = user(json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "E7"}}));
    let group: Map<String, Value> = serde_json::from_value(json!({"id": "b-sales", "displayName": "Sales"})).unwrap();
    let members = [Member { bridge_id: "b1".into(), genesys_id: Some("g-u1".into()) }];
    let granted = user_granted(json!({}), "employee, 8x8 User");
    let cases: Vec<(&str, Change<'_>, Known, Settings)> = vec![
        ("scim create", Change::SyncUser(&ana), Known::default(), SCIM),
        ("scim update", Change::SyncUser(&ana), linked("g1"), SCIM),
        ("scim retry", Change::SyncUser(&ana), Known { look_up_first: true, ..Known::default() }, SCIM),
        ("platform create", Change::SyncUser(&ana), Known::default(), PLATFORM),
        ("delete by name", Change::DeleteUser { user_name: Some("bob@corp.example") }, Known::default(), PLATFORM),
        ("group", Change::SyncGroup { group: &group, members: &members, attempts: 0 }, Known::default(), SCIM),
        ("scim create with roles", Change::SyncUser(&granted), Known::default(), SCIM),
        ("platform create with roles", Change::SyncUser(&granted), Known::default(), PLATFORM),
    ];
    for (name, change, start, settings) in cases {
        let Plan::Send(first) = plan(&change, &start, settings) else { panic!("{name}: nothing planned") };
        let mut known = start;
        let mut sent: Vec<ApiRequest> = Vec::new();
        // The last request read, whose answer the next read returns (a Platform create's body).
        let mut last_write: Option<Value> = None;
        for _ in 0..10 {
            let Plan::Send(steps) = plan(&change, &known, settings) else { break };
            let mut step = steps[0].clone();
            assert!(step.request.is_concrete(), "{name}: sends a placeholder: {}", step.request.path);
            if step.purpose == Purpose::ReadUser {
                step.request.body = last_write.clone();
            }
            let body = answer(&step, "g-new");
            if step.purpose == Purpose::CreateUser {
                last_write = steps[0].request.body.clone();
            }
            known.learn(&step, &body, settings.api);
            sent.push(steps[0].request.clone());
        }
        assert_eq!(sent.len(), first.len(), "{name}: sent {sent:#?}\nplanned {first:#?}");
        for (p, s) in first.iter().zip(&sent) {
            assert!(matches_planned(p, s), "{name}: planned {p:#?}\nsent {s:#?}");
        }
    }
}

#[test]
fn roles_are_granted_after_the_writes_only_where_missing() {
    let roles = "employee, permission:integration:unifiedCommunications:view";
    let ana = user_granted(json!({}), roles);
    let ana_off = user_granted(json!({"active": false}), roles);
    let no_number = user_granted(json!({"phoneNumbers": []}), roles);
    let resolved = |k: Known| Known {
        role_ids: [("employee", "r-emp"), ("permission:integration:unifiedCommunications:view", "r-8x8")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        home_division: Some("d-home".into()),
        ..k
    };
    let both: BTreeSet<String> =
        ["employee", "permission:integration:unifiedCommunications:view"].into_iter().map(String::from).collect();
    let sync = Change::SyncUser;
    let rows: Vec<(&str, Change<'_>, Known, Settings, Vec<&str>)> = vec![
        (
            "a create finds the roles and the home division, reads the grants, adds the missing ones",
            sync(&ana),
            Known::default(),
            SCIM,
            vec![
                "POST /api/v2/scim/v2/users",
                "GET /api/v2/authorization/roles?name=employee&pageSize=100",
                "GET /api/v2/authorization/roles?permission=integration:unifiedCommunications:view&pageSize=100",
                "GET /api/v2/authorization/divisions/home",
                "GET /api/v2/authorization/subjects/{genesys id of ana@corp.example}",
                "POST /api/v2/authorization/subjects/{genesys id of ana@corp.example}/bulkadd?subjectType=PC_USER (after read)",
            ],
        ),
        (
            "roles found before: no lookups",
            sync(&ana),
            resolved(linked("g1")),
            SCIM,
            vec![
                "PATCH /api/v2/scim/v2/users/g1",
                "GET /api/v2/authorization/subjects/g1",
                "POST /api/v2/authorization/subjects/g1/bulkadd?subjectType=PC_USER (after read)",
            ],
        ),
        (
            "granted already: only the update",
            sync(&ana),
            Known { roles_granted: both.clone(), ..resolved(linked("g1")) },
            SCIM,
            vec!["PATCH /api/v2/scim/v2/users/g1"],
        ),
        (
            "written, grants read: only the missing grant is sent",
            sync(&ana),
            Known {
                written: true,
                grants: Some([("r-emp".to_string(), "d-home".to_string())].into_iter().collect()),
                ..resolved(linked("g1"))
            },
            SCIM,
            vec!["POST /api/v2/authorization/subjects/g1/bulkadd?subjectType=PC_USER"],
        ),
        (
            "an inactive user is granted nothing",
            sync(&ana_off),
            resolved(linked("g1")),
            SCIM,
            vec!["PATCH /api/v2/scim/v2/users/g1"],
        ),
        (
            "a user without an 8x8 number is granted nothing",
            sync(&no_number),
            resolved(linked("g1")),
            SCIM,
            vec!["PATCH /api/v2/scim/v2/users/g1"],
        ),
        (
            "a role Genesys lacks: the fields are written first",
            sync(&ana),
            Known { roles_absent: [("employee".to_string(), "no such role".to_string())].into(), ..linked("g1") },
            SCIM,
            vec!["PATCH /api/v2/scim/v2/users/g1"],
        ),
        (
            "a role Genesys lacks, fields written: parked saying why",
            sync(&ana),
            Known {
                written: true,
                roles_absent: [("employee".to_string(), "no such role".to_string())].into(),
                ..linked("g1")
            },
            SCIM,
            vec!["park: no such role"],
        ),
    ];
    for (name, change, known, settings, expected) in rows {
        check(name, change, known, settings, &expected);
    }
    // The grant body names each role in the home division.
    let Plan::Send(steps) =
        plan(&sync(&ana), &Known { written: true, grants: Some(BTreeSet::new()), ..resolved(linked("g1")) }, SCIM)
    else {
        panic!("a grant is planned")
    };
    assert_eq!(
        steps[0].request.body,
        Some(
            json!({"grants": [{"roleId": "r-emp", "divisionId": "d-home"}, {"roleId": "r-8x8", "divisionId": "d-home"}]})
        )
    );
}

#[test]
fn learning_about_roles() {
    let spec: RoleSpec = "employee".parse().unwrap();
    let mut known = linked("g1");
    let find = Step::exact(Purpose::FindRole(spec.clone()), spec.lookup());
    known.learn(
        &find,
        &json!({"entities": [{"id": "r1", "name": "Employee Plus"}, {"id": "r2", "name": "Employee"}]}),
        ApiMode::Scim,
    );
    assert_eq!(known.role_ids.get("employee").map(String::as_str), Some("r2"));
    let mut missing = linked("g1");
    missing.learn(&find, &json!({"entities": []}), ApiMode::Scim);
    assert!(missing.roles_absent.get("employee").is_some_and(|why| why.contains("no role named 'employee'")));

    // Grants read: those present count as granted.
    let wanted = vec![
        Grant { role: "employee".into(), role_id: "r2".into(), division_id: "d".into() },
        Grant { role: "8x8 User".into(), role_id: "r3".into(), division_id: "d".into() },
    ];
    let read = Step::exact(Purpose::ReadGrants(wanted), ApiRequest::subject_grants("g1"));
    known.learn(&read, &json!({"grants": [{"role": {"id": "r2"}, "division": {"id": "d"}}]}), ApiMode::Scim);
    assert_eq!(known.roles_granted.iter().collect::<Vec<_>>(), ["employee"]);
    let grant = Step::exact(
        Purpose::GrantRoles(vec!["8x8 User".into()]),
        ApiRequest::grant_roles("g1", json!({"grants": [{"roleId": "r3", "divisionId": "d"}]})),
    );
    known.learn(&grant, &Value::Null, ApiMode::Scim);
    assert_eq!(known.roles_granted.len(), 2);
    assert!(known.grants.as_ref().is_some_and(|g| g.contains(&("r3".to_string(), "d".to_string()))));

    // A state change (Platform) or a SCIM deactivation: Genesys dropped the direct roles.
    let mut platform = known.clone();
    let state = Step::exact(
        Purpose::ChangeUserState,
        ApiRequest::platform_user_patch("g1", json!({"state": "active", "version": 2})),
    );
    platform.learn(&state, &json!({"id": "g1", "version": 3}), ApiMode::Platform);
    assert!(platform.roles_granted.is_empty() && platform.grants.is_none());
    let mut scim = known.clone();
    let off = Step::exact(Purpose::UpdateUser, ApiRequest::scim_user_patch("g1", mapping::scim_deactivate_body()));
    scim.learn(&off, &json!({}), ApiMode::Scim);
    assert!(scim.roles_granted.is_empty());
    let mut still = known.clone();
    let on = Step::exact(
        Purpose::UpdateUser,
        ApiRequest::scim_user_patch("g1", json!({"Operations": [{"op": "replace", "path": "active", "value": true}]})),
    );
    still.learn(&on, &json!({}), ApiMode::Scim);
    assert_eq!(still.roles_granted.len(), 2, "an update that keeps the user active keeps its roles");
}
