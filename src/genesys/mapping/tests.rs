//! Table tests and snapshots of the whole mapping: one `check` per row.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use scim::schema::{ENTERPRISE_USER_URN, PATCH_OP_URN, USER_URN};

use super::*;

const ENT: &str = ENTERPRISE_USER_URN;
const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
const USER_ID: &str = "2819c223-7f76-453a-919d-413861904646";

/// A stored user as Entra provisions it (canonical form, values as sent): an 8x8 phone, a
/// primary work phone and a mobile, enterprise data, and attributes Genesys does not have.
fn entra_user() -> Value {
    json!({
        "schemas": [USER_URN, ENT],
        "id": USER_ID,
        "externalId": "jyoung",
        "userName": "jyoung@contoso.com",
        "name": {"formatted": "Joy Young", "familyName": "Young", "givenName": "Joy"},
        "displayName": "Joy Young",
        "title": "Account Manager",
        "preferredLanguage": "en-US",
        "active": true,
        "emails": [{"value": "jyoung@contoso.com", "type": "work", "primary": true}],
        "phoneNumbers": [
            {"value": "+1 (415) 555-0100", "type": "mobile"},
            {"value": "+1 415 555 0123", "type": "eightbyeight"},
            {"value": "+1-415-555-0111", "type": "work", "primary": true}
        ],
        ENT: {"employeeNumber": "1234", "department": "Sales", "manager": {"value": "mgr-bridge-1"}},
        "meta": {
            "resourceType": "User",
            "created": "2026-11-24T10:00:00Z",
            "lastModified": "2026-11-24T10:00:00Z",
            "version": "W/\"3\""
        }
    })
}

/// A minimal user: `userName` plus the given members.
fn user(extra: Value) -> Value {
    let mut u = json!({"schemas": [USER_URN], "id": USER_ID, "userName": "ada@example.com", "displayName": "Ada"});
    if let (Some(u), Value::Object(extra)) = (u.as_object_mut(), extra) {
        u.extend(extra);
    }
    u
}

fn with_eight(number: &str) -> Value {
    user(json!({"phoneNumbers": [{"type": "eightbyeight", "value": number}]}))
}

/// Entra's user as Genesys's Platform API returns it after an earlier sync: other title, an
/// old 8x8 number, and contacts the bridge does not own (EMAIL, SMS, MAIN, an extension-only WORK2).
fn genesys_current() -> Value {
    json!({
        "id": "genesys-user-1",
        "name": "Joy Young",
        "email": "jyoung@contoso.com",
        "username": "jyoung@contoso.com",
        "division": {"id": "division-1", "name": "Home"},
        "state": "active",
        "version": 7,
        "department": "Sales",
        "title": "Sales Representative",
        "manager": {"id": "genesys-mgr-1", "selfUri": "/api/v2/users/genesys-mgr-1"},
        "employerInfo": {"employeeId": "1234", "dateHire": "2020-01-01"},
        "addresses": [
            {"address": "jyoung@contoso.com", "mediaType": "EMAIL", "type": "WORK"},
            {"address": "+14155550111", "display": "(415) 555-0111", "mediaType": "PHONE", "type": "WORK"},
            {"address": "+14155550199", "display": "(415) 555-0199", "mediaType": "PHONE", "type": "OTHER"},
            {"address": "+14155550177", "mediaType": "SMS", "type": "MOBILE"},
            {"address": "+14155550188", "mediaType": "PHONE", "type": "MAIN"},
            {"extension": "4321", "mediaType": "PHONE", "type": "WORK2"}
        ],
        "selfUri": "/api/v2/users/genesys-user-1"
    })
}

/// The same user once Genesys has everything the bridge wants.
fn genesys_in_sync() -> Value {
    let mut current = genesys_current();
    current["title"] = json!("Account Manager");
    current["addresses"] = json!([
        {"address": "jyoung@contoso.com", "mediaType": "EMAIL", "type": "WORK"},
        {"address": "+14155550111", "display": "(415) 555-0111", "mediaType": "PHONE", "type": "WORK"},
        {"address": "+14155550100", "mediaType": "PHONE", "type": "MOBILE"},
        {"address": "+14155550123", "mediaType": "PHONE", "type": "OTHER"}
    ]);
    current
}

fn scim() -> MappingConfig {
    MappingConfig::default()
}

fn platform() -> MappingConfig {
    MappingConfig { api: ApiMode::Platform, ..MappingConfig::default() }
}

fn source(cfg: MappingConfig, path: &str) -> MappingConfig {
    match path.parse() {
        Ok(number_source) => MappingConfig { number_source, ..cfg },
        Err(e) => panic!("test source `{path}`: {e}"),
    }
}

fn country(cfg: MappingConfig, iso: &str) -> MappingConfig {
    MappingConfig { default_country: iso.parse().ok(), ..cfg }
}

fn ids() -> HashMap<String, String> {
    HashMap::from([("mgr-bridge-1".to_string(), "genesys-mgr-1".to_string())])
}

fn leak(s: String) -> &'static str {
    s.leak()
}

fn strings(ids: &[&str]) -> &'static [String] {
    Vec::leak(ids.iter().map(|s| s.to_string()).collect())
}

enum Input {
    User(Value),
    Number(&'static str),
    Source(&'static str),
    Group(Value, MembershipUpdate<'static>),
}

enum Expected {
    /// The create body of the configured mode (Platform: division id `division-1`).
    Create(Value),
    /// The update of the configured mode: the SCIM PATCH (`current` unused), or the Platform
    /// PATCH over `current` (None: nothing to send).
    Update {
        current: Value,
        body: Option<Value>,
    },
    /// The Platform state PATCH over `current`.
    State {
        current: Value,
        body: Option<Value>,
    },
    /// `phoneNumbers` of the SCIM create body (null when there are none).
    Phones(Value),
    /// The member at this JSON pointer of the SCIM create body (null when absent).
    Pointer(&'static str, Value),
    /// The notes, each containing its fragment, in order.
    Notes(Vec<&'static str>),
    Number(&'static str),
    /// The error message contains every fragment (and never a phone number).
    Fails(Vec<&'static str>),
    /// [`Expected::Fails`] for the Platform PATCH over `current`.
    UpdateFails {
        current: Value,
        fragments: Vec<&'static str>,
    },
    SourceOk,
    Group(GroupRequest),
}

/// The one table helper: runs `input` through the module with `cfg` and compares.
fn check(name: &str, input: Input, cfg: &MappingConfig, expected: Expected) {
    let outcome: Result<Value, String> = match (&input, &expected) {
        (Input::Number(raw), _) => {
            normalise_number(raw, cfg.default_country).map(Value::String).map_err(|e| e.to_string())
        }
        (Input::Source(text), _) => text.parse::<NumberSource>().map(|_| Value::Null).map_err(|e| e.to_string()),
        (Input::Group(group, update), _) => match group.as_object() {
            Some(g) => map_group_membership(g, *update)
                .map(|r| json!({"lookup_filter": r.lookup_filter, "patch": r.patch}))
                .map_err(|e| e.to_string()),
            None => panic!("{name}: the group fixture is not an object"),
        },
        (Input::User(doc), _) => {
            let Some(doc) = doc.as_object() else { panic!("{name}: the user fixture is not an object") };
            map_user(doc, cfg, &ids()).map_err(|e| e.to_string()).and_then(|m| render(name, &m, cfg, &expected))
        }
    };
    match expected {
        Expected::Fails(fragments) | Expected::UpdateFails { fragments, .. } => {
            let Err(message) = outcome else { panic!("{name}: expected an error, got {outcome:?}") };
            for fragment in fragments {
                assert!(message.contains(fragment), "{name}: `{message}` lacks `{fragment}`");
            }
            assert_no_phone_number(name, &message);
            if let Input::Number(raw) = input
                && raw.trim().len() > 3
            {
                assert!(!message.contains(raw.trim()), "{name}: the error repeats the number");
            }
        }
        Expected::SourceOk => assert_eq!(outcome, Ok(Value::Null), "{name}"),
        Expected::Number(want) => assert_eq!(outcome, Ok(json!(want)), "{name}"),
        Expected::Group(want) => {
            assert_eq!(outcome, Ok(json!({"lookup_filter": want.lookup_filter, "patch": want.patch})), "{name}")
        }
        Expected::Create(want) | Expected::Phones(want) | Expected::Pointer(_, want) => {
            assert_eq!(outcome, Ok(want), "{name}")
        }
        Expected::Update { body, .. } | Expected::State { body, .. } => {
            assert_eq!(outcome, Ok(body.unwrap_or(Value::Null)), "{name}")
        }
        Expected::Notes(fragments) => {
            let Ok(Value::Array(notes)) = outcome else { panic!("{name}: expected notes, got {outcome:?}") };
            assert_eq!(notes.len(), fragments.len(), "{name}: notes {notes:?}");
            for (note, fragment) in notes.iter().zip(fragments) {
                let note = note.as_str().unwrap_or_default();
                assert!(note.contains(fragment), "{name}: note `{note}` lacks `{fragment}`");
                assert_no_phone_number(name, note);
            }
        }
    }
}

/// What `expected` looks at, from a mapped user.
fn render(name: &str, m: &MappedUser, cfg: &MappingConfig, expected: &Expected) -> Result<Value, String> {
    let platform = cfg.api == ApiMode::Platform;
    Ok(match expected {
        Expected::Create(_) if platform => platform_create_body(m, "division-1"),
        Expected::Create(_) => scim_create_body(m),
        Expected::Update { current, .. } if platform => {
            platform_patch_body(m, current, &Written::all()).map_err(|e| e.to_string())?.unwrap_or(Value::Null)
        }
        Expected::Update { .. } => scim_patch_body(m, &Written::all()),
        Expected::UpdateFails { current, .. } => {
            platform_patch_body(m, current, &Written::all()).map_err(|e| e.to_string())?.unwrap_or(Value::Null)
        }
        Expected::State { current, .. } => {
            platform_state_body(m, current).map_err(|e| e.to_string())?.unwrap_or(Value::Null)
        }
        Expected::Phones(_) => scim_create_body(m).get("phoneNumbers").cloned().unwrap_or(Value::Null),
        Expected::Pointer(pointer, _) => scim_create_body(m).pointer(pointer).cloned().unwrap_or(Value::Null),
        Expected::Notes(_) => Value::Array(m.notes().iter().map(|n| Value::String(n.to_string())).collect()),
        _ => panic!("{name}: a user input needs a user expectation"),
    })
}

/// Errors and notes may be logged: they must not carry a phone number (7+ digits in a row).
/// The user's id is allowed (a UUID can have long runs of digits).
fn assert_no_phone_number(name: &str, text: &str) {
    let text = text.replace(USER_ID, "<id>");
    let longest = text.split(|c: char| !c.is_ascii_digit()).map(str::len).max().unwrap_or(0);
    assert!(longest < 7, "{name}: `{text}` seems to hold a phone number");
}

#[test]
fn users() {
    let cases: Vec<(&str, Input, MappingConfig, Expected)> = vec![
        (
            "Entra user with an 8x8 phone, SCIM mode",
            Input::User(entra_user()),
            scim(),
            Expected::Create(json!({
                "schemas": [USER_URN, ENT],
                "userName": "jyoung@contoso.com",
                "displayName": "Joy Young",
                "active": true,
                "title": "Account Manager",
                "externalId": "jyoung",
                "emails": [{"type": "work", "value": "jyoung@contoso.com", "primary": true}],
                "phoneNumbers": [
                    {"type": "work", "value": "+14155550111"},
                    {"type": "mobile", "value": "+14155550100"},
                    {"type": "eightbyeight", "value": "+14155550123", "primary": true}
                ],
                ENT: {"department": "Sales", "manager": {"value": "genesys-mgr-1"}, "employeeNumber": "1234"}
            })),
        ),
        (
            "Entra user with an 8x8 phone, Platform mode",
            Input::User(entra_user()),
            platform(),
            Expected::Create(json!({
                "name": "Joy Young",
                "email": "jyoung@contoso.com",
                "divisionId": "division-1",
                "department": "Sales",
                "title": "Account Manager",
                "addresses": [
                    {"address": "+14155550111", "mediaType": "PHONE", "type": "WORK"},
                    {"address": "+14155550100", "mediaType": "PHONE", "type": "MOBILE"},
                    {"address": "+14155550123", "mediaType": "PHONE", "type": "OTHER"}
                ],
                "state": "active"
            })),
        ),
        (
            "Entra user: the attributes Genesys lacks are reported",
            Input::User(entra_user()),
            scim(),
            Expected::Notes(vec!["`name` not sent", "`preferredLanguage` not sent"]),
        ),
        (
            "roles, the Genesys extension and dateHire are left to Genesys",
            Input::User(user(json!({
                "roles": [{"value": "Supervisor"}],
                ENT: {"dateHire": "2020-01-01"},
                "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User": {"routingSkills": [{"name": "Sales"}]},
                "nickName": "Ace"
            }))),
            scim(),
            Expected::Notes(vec![
                "no 8x8",
                "`roles` not sent: the bridge leaves it as Genesys has it",
                "`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:dateHire` not sent: the bridge leaves it",
                "`urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User` not sent: the bridge leaves it",
                "`nickName` not sent: Genesys's user has no such attribute",
            ]),
        ),
        (
            "SCIM update is a PATCH of every owned attribute, phones one type at a time",
            Input::User(entra_user()),
            scim(),
            Expected::Update {
                current: Value::Null,
                body: Some(json!({
                    "schemas": [PATCH_OP_URN],
                    "Operations": [
                        {"op": "replace", "path": "userName", "value": "jyoung@contoso.com"},
                        {"op": "replace", "path": "displayName", "value": "Joy Young"},
                        {"op": "replace", "path": "active", "value": true},
                        {"op": "replace", "path": "title", "value": "Account Manager"},
                        {"op": "replace", "path": "externalId", "value": "jyoung"},
                        {"op": "add", "path": "emails[type eq \"work\"].value", "value": "jyoung@contoso.com"},
                        {"op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+14155550111"},
                        {"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+14155550100"},
                        {"op": "add", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+14155550123"},
                        {"op": "add", "path": "phoneNumbers[type eq \"eightbyeight\"].primary", "value": true},
                        {"op": "remove", "path": "phoneNumbers[type eq \"home\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"work2\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"work3\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"work4\"]"},
                        {"op": "replace", "path": format!("{ENT}:department"), "value": "Sales"},
                        {"op": "replace", "path": format!("{ENT}:manager"), "value": {"value": "genesys-mgr-1"}},
                        {"op": "replace", "path": format!("{ENT}:employeeNumber"), "value": "1234"}
                    ]
                })),
            },
        ),
        (
            "SCIM update of a sparse user removes what it lacks, never the division or work e-mail",
            Input::User(user(json!({}))),
            scim(),
            Expected::Update {
                current: Value::Null,
                body: Some(json!({
                    "schemas": [PATCH_OP_URN],
                    "Operations": [
                        {"op": "replace", "path": "userName", "value": "ada@example.com"},
                        {"op": "replace", "path": "displayName", "value": "Ada"},
                        {"op": "replace", "path": "active", "value": true},
                        {"op": "remove", "path": "title"},
                        {"op": "remove", "path": "externalId"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"eightbyeight\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"home\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"mobile\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"work\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"work2\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"work3\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"work4\"]"},
                        {"op": "remove", "path": format!("{ENT}:department")},
                        {"op": "remove", "path": format!("{ENT}:manager")},
                        {"op": "remove", "path": format!("{ENT}:employeeNumber")}
                    ]
                })),
            },
        ),
        (
            "Platform PATCH keeps version and the contacts the bridge does not own, replaces the OTHER phone",
            Input::User(entra_user()),
            platform(),
            Expected::Update {
                current: genesys_current(),
                body: Some(json!({
                    "version": 7,
                    "title": "Account Manager",
                    "addresses": [
                        {"address": "+14155550111", "mediaType": "PHONE", "type": "WORK"},
                        {"address": "+14155550100", "mediaType": "PHONE", "type": "MOBILE"},
                        {"address": "+14155550123", "mediaType": "PHONE", "type": "OTHER"},
                        {"address": "+14155550177", "mediaType": "SMS", "type": "MOBILE"},
                        {"address": "+14155550188", "mediaType": "PHONE", "type": "MAIN"},
                        {"extension": "4321", "mediaType": "PHONE", "type": "WORK2"}
                    ]
                })),
            },
        ),
        (
            "Platform PATCH sends an unchanged phone back as Genesys has it, without `display`",
            Input::User(user(json!({"phoneNumbers": [
                {"type": "eightbyeight", "value": "+1 415 555 0123"},
                {"type": "mobile", "value": "+1 415 555 0100"}
            ]}))),
            platform(),
            Expected::Update {
                current: json!({
                    "name": "Ada", "email": "ada@example.com", "version": 5,
                    "addresses": [{"address": "+14155550123", "display": "(415) 555-0123", "mediaType": "PHONE",
                        "type": "OTHER", "countryCode": "US", "integration": "eightbyeight"}]
                }),
                body: Some(json!({
                    "version": 5,
                    "addresses": [
                        {"address": "+14155550100", "mediaType": "PHONE", "type": "MOBILE"},
                        {"address": "+14155550123", "mediaType": "PHONE", "type": "OTHER", "countryCode": "US",
                            "integration": "eightbyeight"}
                    ]
                })),
            },
        ),
        (
            "Platform PATCH of a user already in sync: nothing to send (EMAIL contacts do not count)",
            Input::User(entra_user()),
            platform(),
            Expected::Update { current: genesys_in_sync(), body: None },
        ),
        (
            "Platform PATCH without an 8x8 number removes the OTHER phone, keeps EMAIL untouched",
            Input::User(user(json!({"phoneNumbers": [{"type": "work", "value": "+14155550111"}]}))),
            platform(),
            Expected::Update {
                current: json!({
                    "name": "Ada", "email": "ada@example.com", "version": 3,
                    "addresses": [
                        {"address": "ada@example.com", "mediaType": "EMAIL", "type": "WORK"},
                        {"address": "+14155550111", "mediaType": "PHONE", "type": "WORK"},
                        {"address": "+14155550123", "mediaType": "PHONE", "type": "OTHER"}
                    ]
                }),
                body: Some(json!({
                    "version": 3,
                    "addresses": [{"address": "+14155550111", "mediaType": "PHONE", "type": "WORK"}]
                })),
            },
        ),
        (
            "Platform PATCH clears department, title, manager and employee id the user no longer has",
            Input::User(user(json!({}))),
            platform(),
            Expected::Update {
                current: json!({
                    "name": "Ada", "email": "ada@example.com", "version": 4, "department": "Ops", "title": "Lead",
                    "manager": {"id": "genesys-mgr-1"}, "employerInfo": {"employeeId": "77", "dateHire": "2020-01-01"}
                }),
                body: Some(json!({
                    "version": 4, "department": "", "title": "", "manager": "",
                    "employerInfo": {"employeeId": "", "dateHire": "2020-01-01"}
                })),
            },
        ),
        (
            "Platform PATCH sets manager and employee id, keeping the rest of employerInfo",
            Input::User(entra_user()),
            platform(),
            Expected::Update {
                current: {
                    let mut c = genesys_in_sync();
                    c["manager"] = Value::Null;
                    c["employerInfo"] = json!({"dateHire": "2020-01-01"});
                    c
                },
                body: Some(json!({
                    "version": 7, "manager": "genesys-mgr-1",
                    "employerInfo": {"dateHire": "2020-01-01", "employeeId": "1234"}
                })),
            },
        ),
        (
            "Platform PATCH needs the current version",
            Input::User(entra_user()),
            platform(),
            Expected::UpdateFails {
                current: json!({"name": "Joy Young", "version": "7"}),
                fragments: vec![USER_ID, "no integer `version`"],
            },
        ),
        (
            "Platform state change is a PATCH of its own",
            Input::User(user(json!({"active": false}))),
            platform(),
            Expected::State {
                current: json!({"version": 9, "state": "active"}),
                body: Some(json!({"version": 9, "state": "inactive"})),
            },
        ),
        (
            "Platform state already right",
            Input::User(user(json!({"active": "True"}))),
            platform(),
            Expected::State { current: json!({"version": 9, "state": "active"}), body: None },
        ),
        (
            "number source = the work phone: it becomes the 8x8 number and is not sent as work",
            Input::User(user(json!({"phoneNumbers": [
                {"type": "work", "value": "+1 415 555 0111"},
                {"type": "mobile", "value": "+1 415 555 0100", "primary": true}
            ]}))),
            source(scim(), r#"phoneNumbers[type eq "work"].value"#),
            Expected::Phones(json!([
                {"type": "mobile", "value": "+14155550100"},
                {"type": "eightbyeight", "value": "+14155550111", "primary": true}
            ])),
        ),
        (
            "number source = the work phone in Platform mode",
            Input::User(user(json!({"phoneNumbers": [{"type": "Work", "value": "+1 415 555 0111"}]}))),
            source(platform(), r#"phoneNumbers[type eq "work"].value"#),
            Expected::Create(json!({
                "name": "Ada", "email": "ada@example.com", "divisionId": "division-1",
                "addresses": [{"address": "+14155550111", "mediaType": "PHONE", "type": "OTHER"}],
                "state": "active"
            })),
        ),
        (
            "number source = the work phone, and an eightbyeight phone too: only the source is sent",
            Input::User(user(json!({"phoneNumbers": [
                {"type": "eightbyeight", "value": "+1 415 555 0199"},
                {"type": "work", "value": "+1 415 555 0111"}
            ]}))),
            source(scim(), r#"phoneNumbers[type eq "work"].value"#),
            Expected::Phones(json!([{"type": "eightbyeight", "value": "+14155550111", "primary": true}])),
        ),
        (
            "number source = a custom extension attribute",
            Input::User(user(json!({ACME: {"eightByEightNumber": "+44 20 7946 0958"}}))),
            source(scim(), &format!("{ACME}:eightByEightNumber")),
            Expected::Phones(json!([{"type": "eightbyeight", "value": "+442079460958", "primary": true}])),
        ),
        (
            "number source = a custom extension attribute: its extension is not reported as dropped",
            Input::User(user(json!({ACME: {"eightByEightNumber": "+44 20 7946 0958"}}))),
            source(scim(), &format!("{ACME}:eightByEightNumber")),
            Expected::Notes(vec![]),
        ),
        (
            "number source = a custom extension attribute sent as a flattened key (Entra)",
            Input::User(user(json!({format!("{ACME}:eightByEightNumber"): "+44 20 7946 0958"}))),
            source(scim(), &format!("{ACME}:eightByEightNumber")),
            Expected::Phones(json!([{"type": "eightbyeight", "value": "+442079460958", "primary": true}])),
        ),
        (
            "number source = an enterprise attribute",
            Input::User(user(json!({ENT: {"employeeNumber": "tel:+1-415-555-0123"}}))),
            source(scim(), &format!("{ENT}:employeeNumber")),
            Expected::Phones(json!([{"type": "eightbyeight", "value": "+14155550123", "primary": true}])),
        ),
        (
            "number source holding a whole number",
            Input::User(user(json!({ACME: {"eightByEightNumber": 14155550123u64}}))),
            country(source(scim(), &format!("{ACME}:eightByEightNumber")), "US"),
            Expected::Phones(json!([{"type": "eightbyeight", "value": "+14155550123", "primary": true}])),
        ),
        (
            "number source holding an object",
            Input::User(user(json!({ACME: {"eightByEightNumber": {"n": 1}}}))),
            source(scim(), &format!("{ACME}:eightByEightNumber")),
            Expected::Fails(vec![USER_ID, "eightByEightNumber` is neither a string nor a whole number"]),
        ),
        (
            "national 8x8 number with a default country",
            Input::User(with_eight("(415) 555-0123")),
            country(scim(), "US"),
            Expected::Phones(json!([{"type": "eightbyeight", "value": "+14155550123", "primary": true}])),
        ),
        (
            "national 8x8 number without a default country is a per-user error",
            Input::User(with_eight("(415) 555-0123")),
            scim(),
            Expected::Fails(vec![
                leak(format!("user {USER_ID}: the 8x8 number at `phoneNumbers[type eq \"eightbyeight\"].value`")),
                "national format",
                "configure the default country",
            ]),
        ),
        (
            "tel URI with extension",
            Input::User(with_eight("tel:+1-415-555-0123;ext=42")),
            scim(),
            Expected::Phones(json!([{"type": "eightbyeight", "value": "tel:+14155550123;ext=42", "primary": true}])),
        ),
        (
            "garbage 8x8 number is an error naming the user and the problem, not the number",
            Input::User(with_eight("+1 415 CALL NOW")),
            scim(),
            Expected::Fails(vec![USER_ID, "contains letters"]),
        ),
        (
            "8x8 number too long",
            Input::User(with_eight("+1 415 555 0123 4567 89")),
            scim(),
            Expected::Fails(vec![USER_ID, "has 17 digits; E.164 allows at most 15"]),
        ),
        (
            "two UC phones and an `other` one: only the 8x8 one is sent",
            Input::User(user(json!({"phoneNumbers": [
                {"type": "microsoftteams", "value": "+1 415 555 0144", "primary": true},
                {"type": "other", "value": "+1 415 555 0155"},
                {"type": "eightbyeight", "value": "+1 415 555 0123"},
                {"type": "zoomphone", "value": "+1 415 555 0166"}
            ]}))),
            scim(),
            Expected::Phones(json!([{"type": "eightbyeight", "value": "+14155550123", "primary": true}])),
        ),
        (
            "two UC phones: the others are reported",
            Input::User(user(json!({"phoneNumbers": [
                {"type": "microsoftteams", "value": "+1 415 555 0144", "primary": true},
                {"type": "eightbyeight", "value": "+1 415 555 0123"},
                {"type": "ringcentral", "value": "+1 415 555 0166"}
            ]}))),
            scim(),
            Expected::Notes(vec![
                "phone of type `microsoftteams` not sent: Genesys stores it in the Other Phone field",
                "phone of type `ringcentral` not sent: Genesys stores it in the Other Phone field",
            ]),
        ),
        (
            "two eightbyeight phones: the primary one wins",
            Input::User(user(json!({"phoneNumbers": [
                {"type": "eightbyeight", "value": "+1 415 555 0199"},
                {"type": "eightbyeight", "value": "+1 415 555 0123", "primary": true}
            ]}))),
            scim(),
            Expected::Phones(json!([{"type": "eightbyeight", "value": "+14155550123", "primary": true}])),
        ),
        (
            "UC phone without an 8x8 number is still not sent",
            Input::User(user(json!({"phoneNumbers": [{"type": "microsoftteams", "value": "+1 415 555 0144"}]}))),
            platform(),
            Expected::Create(json!({
                "name": "Ada", "email": "ada@example.com", "divisionId": "division-1", "state": "active"
            })),
        ),
        (
            "phones without an 8x8 number keep their primary flag",
            Input::User(user(json!({"phoneNumbers": [
                {"type": "home", "value": "+44 20 7946 0000"},
                {"type": "work", "value": "+44 20 7946 0958", "primary": true}
            ]}))),
            scim(),
            Expected::Phones(json!([
                {"type": "work", "value": "+442079460958", "primary": true},
                {"type": "home", "value": "+442079460000"}
            ])),
        ),
        (
            "unusable, unknown and duplicate other phones are dropped with notes, the user is sent",
            Input::User(user(json!({"phoneNumbers": [
                {"type": "home", "value": "call my mobile"},
                {"type": "fax", "value": "+1 415 555 0100"},
                {"value": "+1 415 555 0101"},
                {"type": "work", "value": "+1 415 555 0111"},
                {"type": "work", "value": "+1 415 555 0112"},
                {"type": "eightbyeight", "value": "+1 415 555 0123"}
            ]}))),
            scim(),
            Expected::Notes(vec![
                "phone of type `home` not sent: the number contains letters",
                "phone of type `fax` not sent: Genesys takes the types work",
                "phone without type not sent",
                "phone of type `work` not sent: Genesys keeps one phone per type",
            ]),
        ),
        (
            "no 8x8 number is a note",
            Input::User(user(json!({}))),
            scim(),
            Expected::Notes(vec!["no 8x8 number at the configured source"]),
        ),
        (
            "displayName falls back to name.formatted",
            Input::User(json!({"id": USER_ID, "userName": "ada@example.com", "name": {"formatted": "Ada Lovelace"}})),
            scim(),
            Expected::Pointer("/displayName", json!("Ada Lovelace")),
        ),
        (
            "displayName falls back to givenName and familyName",
            Input::User(json!({"id": USER_ID, "userName": "ada@example.com", "displayName": "  ",
                "name": {"givenName": "Ada", "familyName": "Lovelace"}})),
            platform(),
            Expected::Create(json!({
                "name": "Ada Lovelace", "email": "ada@example.com", "divisionId": "division-1", "state": "active"
            })),
        ),
        (
            "displayName falls back to familyName alone",
            Input::User(json!({"id": USER_ID, "userName": "ada@example.com", "name": {"familyName": "Lovelace"}})),
            scim(),
            Expected::Pointer("/displayName", json!("Lovelace")),
        ),
        (
            "displayName falls back to userName, with a note",
            Input::User(json!({"id": USER_ID, "userName": "ada@example.com"})),
            scim(),
            Expected::Notes(vec![
                "displayName is missing; Genesys requires one, so it is taken from userName",
                "no 8x8",
            ]),
        ),
        (
            "missing userName",
            Input::User(json!({"id": USER_ID, "displayName": "Ada"})),
            scim(),
            Expected::Fails(vec![leak(format!("user {USER_ID}: `userName` is missing"))]),
        ),
        (
            "userName that is not an e-mail",
            Input::User(json!({"id": USER_ID, "userName": "ada"})),
            scim(),
            Expected::Fails(vec!["`userName` is not an e-mail address"]),
        ),
        (
            "active of the wrong type",
            Input::User(user(json!({"active": "yes"}))),
            scim(),
            Expected::Fails(vec!["`active` must be a boolean"]),
        ),
        (
            "inactive user",
            Input::User(user(json!({"active": false}))),
            scim(),
            Expected::Pointer("/active", json!(false)),
        ),
        (
            "only the work e-mail is sent",
            Input::User(user(json!({"emails": [
                {"type": "home", "value": "ada@home.example", "primary": true},
                {"type": "Work", "value": "ada@example.com"},
                {"type": "work", "value": "ada.l@example.com"}
            ]}))),
            scim(),
            Expected::Pointer("/emails", json!([{"type": "work", "value": "ada@example.com"}])),
        ),
        (
            "other e-mails are reported",
            Input::User(user(json!({"emails": [
                {"type": "home", "value": "ada@home.example", "primary": true},
                {"type": "work", "value": "ada@example.com"},
                {"type": "work", "value": "ada.l@example.com"},
                {"value": "ada@other.example"}
            ]}))),
            scim(),
            Expected::Notes(vec![
                "e-mail of type `home` not sent: Genesys takes the work e-mail only",
                "e-mail of type `work` not sent: Genesys keeps one work e-mail",
                "e-mail without type not sent",
                "no 8x8",
            ]),
        ),
        (
            "default division when the user has none",
            Input::User(user(json!({ENT: {"department": "Ops"}}))),
            MappingConfig { division: Some("Home".into()), ..scim() },
            Expected::Pointer(leak(format!("/{ENT}")), json!({"division": "Home", "department": "Ops"})),
        ),
        (
            "the user's division wins over the default",
            Input::User(user(json!({ENT: {"division": "EMEA Sales"}}))),
            MappingConfig { division: Some("Home".into()), ..scim() },
            Expected::Pointer(leak(format!("/{ENT}/division")), json!("EMEA Sales")),
        ),
        (
            "unresolved manager is dropped with a note",
            Input::User(user(json!({ENT: {"manager": {"value": "not-in-genesys-yet"}, "costCenter": "4130"}}))),
            scim(),
            Expected::Notes(vec![
                "no 8x8",
                "manager not sent: the manager has no Genesys user yet",
                "`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter` not sent",
            ]),
        ),
        (
            "unresolved manager: the SCIM PATCH leaves Genesys's manager alone",
            Input::User(user(json!({ENT: {"manager": {"value": "not-in-genesys-yet"}}}))),
            scim(),
            Expected::Update {
                current: Value::Null,
                body: Some(json!({
                    "schemas": [PATCH_OP_URN],
                    "Operations": [
                        {"op": "replace", "path": "userName", "value": "ada@example.com"},
                        {"op": "replace", "path": "displayName", "value": "Ada"},
                        {"op": "replace", "path": "active", "value": true},
                        {"op": "remove", "path": "title"},
                        {"op": "remove", "path": "externalId"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"eightbyeight\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"home\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"mobile\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"work\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"work2\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"work3\"]"},
                        {"op": "remove", "path": "phoneNumbers[type eq \"work4\"]"},
                        {"op": "remove", "path": format!("{ENT}:department")},
                        {"op": "remove", "path": format!("{ENT}:employeeNumber")}
                    ]
                })),
            },
        ),
        (
            "unresolved manager: the Platform PATCH leaves Genesys's manager alone",
            Input::User(user(json!({ENT: {"manager": {"value": "not-in-genesys-yet"}}}))),
            platform(),
            Expected::Update {
                current: json!({"name": "Ada", "email": "ada@example.com", "version": 2, "manager": {"id": "g-9"}}),
                body: None,
            },
        ),
        (
            "resolved manager as Entra's plain string",
            Input::User(user(json!({ENT: {"manager": "mgr-bridge-1"}}))),
            scim(),
            Expected::Pointer(leak(format!("/{ENT}/manager")), json!({"value": "genesys-mgr-1"})),
        ),
    ];
    for (name, input, cfg, expected) in cases {
        check(name, input, &cfg, expected);
    }
}

#[test]
fn numbers() {
    let us = country(scim(), "US");
    let gb = country(scim(), "GB");
    let it = country(scim(), "IT");
    let au = country(scim(), "AU");
    let none = scim();
    let cases: Vec<(&str, &'static str, &MappingConfig, Expected)> = vec![
        ("E.164 as is", "+14155550123", &none, Expected::Number("+14155550123")),
        ("visual separators", "+1 (415) 555-0123", &none, Expected::Number("+14155550123")),
        ("dots and slashes", "+49 30/1234.5678", &none, Expected::Number("+493012345678")),
        (
            "non-breaking space and unicode dash",
            "+44\u{a0}20\u{2011}7946\u{2011}0958",
            &none,
            Expected::Number("+442079460958"),
        ),
        (
            "00 international prefix without default country",
            "0044 20 7946 0958",
            &none,
            Expected::Number("+442079460958"),
        ),
        ("tel URI", "tel:+1-415-555-0123", &none, Expected::Number("+14155550123")),
        ("tel URI with extension", "tel:+1-415-555-0123;ext=42", &none, Expected::Number("tel:+14155550123;ext=42")),
        (
            "Genesys's documented tel URI form",
            "tel:+14155550123; ext=42",
            &none,
            Expected::Number("tel:+14155550123;ext=42"),
        ),
        (
            "tel URI, other parameters ignored",
            "TEL:+14155550123;isub=1;ext=4-2",
            &none,
            Expected::Number("tel:+14155550123;ext=42"),
        ),
        (
            "tel URI, local number with phone context",
            "tel:415-555-0123;phone-context=+1",
            &none,
            Expected::Number("+14155550123"),
        ),
        ("extension x42", "+1 415 555 0123 x42", &none, Expected::Number("tel:+14155550123;ext=42")),
        ("extension ext. 42", "+1 415 555 0123 ext. 42", &none, Expected::Number("tel:+14155550123;ext=42")),
        ("extension Extension 42", "+1 415 555 0123, Extension 42", &none, Expected::Number("tel:+14155550123;ext=42")),
        ("extension #42", "+1 415 555 0123#42", &none, Expected::Number("tel:+14155550123;ext=42")),
        (
            "extension ;ext=42 outside a tel URI",
            "+14155550123;ext=42",
            &none,
            Expected::Number("tel:+14155550123;ext=42"),
        ),
        ("US national", "(415) 555-0123", &us, Expected::Number("+14155550123")),
        ("US national with trunk 1", "1-415-555-0123", &us, Expected::Number("+14155550123")),
        ("US international prefix 011", "011 44 20 7946 0958", &us, Expected::Number("+442079460958")),
        ("US national with extension", "415.555.0123 x7", &us, Expected::Number("tel:+14155550123;ext=7")),
        ("US national too short", "555-0123", &us, Expected::Fails(vec!["national US number with 7 digits"])),
        ("UK national drops trunk 0", "020 7946 0958", &gb, Expected::Number("+442079460958")),
        ("bracketed trunk 0 after the country code", "+44 (0)20 7946 0958", &none, Expected::Number("+442079460958")),
        ("bracketed trunk 0 with spaces", "+49 ( 0 ) 30 1234 5678", &none, Expected::Number("+493012345678")),
        ("brackets in a national number are separators", "(020) 7946 0958", &gb, Expected::Number("+442079460958")),
        ("international number with a default country", "+33 1 23 45 67 89", &gb, Expected::Number("+33123456789")),
        ("Italy keeps its leading 0", "06 1234 5678", &it, Expected::Number("+390612345678")),
        ("Australia 0011 prefix", "0011 44 20 7946 0958", &au, Expected::Number("+442079460958")),
        ("Australia national", "(02) 9374 4000", &au, Expected::Number("+61293744000")),
        ("national without default country", "(415) 555-0123", &none, Expected::Fails(vec!["national format"])),
        ("empty", "   ", &none, Expected::Fails(vec!["is empty"])),
        ("letters", "1-800-FLOWERS", &us, Expected::Fails(vec!["contains letters"])),
        ("e-mail in a phone field", "jo@example.com", &none, Expected::Fails(vec!["contains letters"])),
        ("unexpected character", "+1 415 555 0123 !", &none, Expected::Fails(vec!["contains the character '!'"])),
        ("misplaced plus", "1+4155550123", &none, Expected::Fails(vec!["`+` that does not start"])),
        ("two plus signs", "++14155550123", &none, Expected::Fails(vec!["`+` that does not start"])),
        ("no digits", "+ ()", &none, Expected::Fails(vec!["has no digits"])),
        ("too short", "+44 123", &none, Expected::Fails(vec!["has 5 digits; an international number has at least 7"])),
        ("too long", "+44 2079 4609 5812 345", &none, Expected::Fails(vec!["has 17 digits; E.164 allows at most 15"])),
        ("country code 0", "+0 415 555 0123", &none, Expected::Fails(vec!["country code with 0"])),
        (
            "+1 with 9 digits",
            "+1 415 555 012",
            &none,
            Expected::Fails(vec!["+1 (North American) number with 9 digits"]),
        ),
        ("+1 area code 0", "+1 015 555 0123", &none, Expected::Fails(vec!["area code starting with 0 or 1"])),
        (
            "extension too long",
            "+1 415 555 0123 x12345678901",
            &none,
            Expected::Fails(vec!["extension that is not 1 to 10"]),
        ),
        (
            "tel URI with bad extension",
            "tel:+14155550123;ext=abc",
            &none,
            Expected::Fails(vec!["extension that is not 1 to 10"]),
        ),
        ("an extension alone", "x123", &none, Expected::Fails(vec!["extension without a number"])),
        ("an extension alone, spelt out", "ext. 4321", &us, Expected::Fails(vec!["extension without a number"])),
        ("an extension alone, tel form", ";ext=4321", &none, Expected::Fails(vec!["extension without a number"])),
        ("a short run of digits is an extension", "4123", &us, Expected::Fails(vec!["extension without a number"])),
        (
            "six digits are still an extension without a default country",
            "41 23 45",
            &none,
            Expected::Fails(vec!["extension without a number"]),
        ),
        (
            "absurdly long input",
            "+1 415 555 0123 ------------------------------------------------------------",
            &none,
            Expected::Fails(vec!["longer than 64 characters"]),
        ),
    ];
    for (name, raw, cfg, expected) in cases {
        check(name, Input::Number(raw), cfg, expected);
    }
}

#[test]
fn number_sources() {
    let cases: Vec<(&str, &'static str, Expected)> = vec![
        ("the default", NumberSource::DEFAULT, Expected::SourceOk),
        ("the work phone", r#"phoneNumbers[type eq "work"].value"#, Expected::SourceOk),
        (
            "the typo'd type too",
            r#"phoneNumbers[type eq "eightbyeight" or type eq "eighbyeight"].value"#,
            Expected::SourceOk,
        ),
        ("value implied", r#"phoneNumbers[type eq "work"]"#, Expected::SourceOk),
        (
            "enterprise attribute",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            Expected::SourceOk,
        ),
        ("enterprise attribute unqualified", "employeeNumber", Expected::SourceOk),
        (
            "custom extension attribute",
            "urn:ietf:params:scim:schemas:extension:acme:2.0:User:eightByEightNumber",
            Expected::SourceOk,
        ),
        ("empty", " ", Expected::Fails(vec!["the 8x8 number source is empty; the default is"])),
        (
            "typo in the attribute",
            r#"phoneNumber[type eq "work"].value"#,
            Expected::Fails(vec![
                "8x8 number source `phoneNumber[type eq \"work\"].value`",
                "has no attribute `phoneNumber`",
                "Expected a SCIM attribute path",
            ]),
        ),
        (
            "bad filter syntax",
            r#"phoneNumbers[type eq ].value"#,
            Expected::Fails(vec!["Expected a SCIM attribute path"]),
        ),
        (
            "multi-valued without filter",
            "phoneNumbers.value",
            Expected::Fails(vec!["`phoneNumbers` is multi-valued: select one element"]),
        ),
        (
            "whole extension",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            Expected::Fails(vec!["names a whole extension"]),
        ),
        (
            "complex attribute",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            Expected::Fails(vec!["`manager` is complex"]),
        ),
        ("boolean attribute", "active", Expected::Fails(vec!["`active` is not a string attribute"])),
        (
            "unknown sub-attribute",
            r#"phoneNumbers[type eq "work"].number"#,
            Expected::Fails(vec!["has no sub-attribute `number`"]),
        ),
    ];
    for (name, text, expected) in cases {
        check(name, Input::Source(text), &scim(), expected);
    }
}

#[test]
fn groups() {
    let sales = json!({"id": "g-1", "displayName": "Sales \"EMEA\""});
    let filter = r#"displayName eq "Sales \"EMEA\"""#.to_string();
    let cases: Vec<(&str, Input, Expected)> = vec![
        (
            "replace all members",
            Input::Group(sales.clone(), MembershipUpdate::Replace(strings(&["u-1", "u-2", "u-1"]))),
            Expected::Group(GroupRequest {
                lookup_filter: filter.clone(),
                patch: Some(json!({"schemas": [PATCH_OP_URN], "Operations": [
                    {"op": "replace", "path": "members", "value": [{"value": "u-1"}, {"value": "u-2"}]}
                ]})),
            }),
        ),
        (
            "replace with no members clears them",
            Input::Group(sales.clone(), MembershipUpdate::Replace(strings(&[]))),
            Expected::Group(GroupRequest {
                lookup_filter: filter.clone(),
                patch: Some(json!({"schemas": [PATCH_OP_URN], "Operations": [
                    {"op": "replace", "path": "members", "value": []}
                ]})),
            }),
        ),
        (
            "delta: removes first, then one add",
            Input::Group(
                sales.clone(),
                MembershipUpdate::Delta { add: strings(&["u-3", "u-4"]), remove: strings(&["u-1", "u\"x"]) },
            ),
            Expected::Group(GroupRequest {
                lookup_filter: filter.clone(),
                patch: Some(json!({"schemas": [PATCH_OP_URN], "Operations": [
                    {"op": "remove", "path": "members[value eq \"u-1\"]"},
                    {"op": "remove", "path": "members[value eq \"u\\\"x\"]"},
                    {"op": "add", "path": "members", "value": [{"value": "u-3"}, {"value": "u-4"}]}
                ]})),
            }),
        ),
        (
            "empty delta: nothing to send",
            Input::Group(sales.clone(), MembershipUpdate::Delta { add: strings(&[]), remove: strings(&[]) }),
            Expected::Group(GroupRequest { lookup_filter: filter.clone(), patch: None }),
        ),
        (
            "group without displayName",
            Input::Group(json!({"id": "g-2"}), MembershipUpdate::Replace(strings(&[]))),
            Expected::Fails(vec!["group g-2: `displayName` is missing"]),
        ),
    ];
    for (name, input, expected) in cases {
        check(name, input, &scim(), expected);
    }
}

#[test]
fn config_values_parse_with_fixable_errors() {
    assert_eq!("scim".parse(), Ok(ApiMode::Scim));
    assert_eq!(" Platform ".parse(), Ok(ApiMode::Platform));
    assert_eq!(ApiMode::default(), ApiMode::Scim);
    let Err(e) = "rest".parse::<ApiMode>() else { panic!("`rest` parsed") };
    assert!(e.to_string().contains("use `scim`"), "{e}");

    let us: Result<Country, _> = "us".parse();
    assert_eq!(us.map(|c| (c.iso(), c.calling_code())), Ok(("US", "1")));
    let Err(e) = "XX".parse::<Country>() else { panic!("`XX` parsed") };
    assert!(e.to_string().contains("unsupported default country `XX`: use one of US, CA, GB"), "{e}");
}

#[test]
fn the_default_number_source_is_the_parsed_default() {
    let parsed: Result<NumberSource, _> = NumberSource::DEFAULT.parse();
    let Ok(parsed) = parsed else { panic!("the default does not parse: {parsed:?}") };
    let built = NumberSource::default();
    assert_eq!(built.as_str(), parsed.as_str());
    assert_eq!(format!("{:?}", built.target), format!("{:?}", parsed.target));
}

#[test]
fn debug_output_redacts_numbers_and_addresses() {
    let Some(doc) = entra_user().as_object().cloned() else { panic!("fixture") };
    let Ok(m) = map_user(&doc, &scim(), &ids()) else { panic!("maps") };
    let debug = format!("{m:?}");
    for secret in ["jyoung@contoso.com", "Joy Young", "4155550123", "4155550111"] {
        assert!(!debug.contains(secret), "Debug shows `{secret}`: {debug}");
    }
    assert_eq!(m.eight_by_eight_number(), Some("+14155550123"));
    assert_eq!(m.bridge_id(), Some(USER_ID));
    assert_eq!(m.manager(), &Manager::Genesys("genesys-mgr-1".into()));
}

/// The full request bodies of a realistic user in both modes, as the outbox will send them.
#[test]
fn snapshots_of_full_request_bodies() {
    let Some(doc) = entra_user().as_object().cloned() else { panic!("fixture") };
    let cfg = MappingConfig { division: Some("Home".into()), ..scim() };
    let Ok(m) = map_user(&doc, &cfg, &ids()) else { panic!("maps") };
    insta::assert_json_snapshot!("scim_create_body", scim_create_body(&m));
    insta::assert_json_snapshot!("scim_patch_body", scim_patch_body(&m, &Written::all()));
    insta::assert_json_snapshot!("platform_create_body", platform_create_body(&m, "division-1"));
    insta::assert_json_snapshot!(
        "platform_patch_body",
        platform_patch_body(&m, &genesys_current(), &Written::all()).ok().flatten()
    );
    let group = json!({"id": "g-1", "displayName": "Sales"});
    let Some(group) = group.as_object() else { panic!("fixture") };
    let request = map_group_membership(
        group,
        MembershipUpdate::Delta { add: strings(&["genesys-user-1"]), remove: strings(&["genesys-user-2"]) },
    )
    .ok();
    insta::assert_json_snapshot!("group_members_patch", request.and_then(|r| r.patch));
}

#[test]
fn an_empty_document_is_an_error_not_a_panic() {
    let none: HashMap<String, String> = HashMap::new();
    let outcome = map_user(&Map::new(), &scim(), &none);
    let Err(e) = outcome else { panic!("an empty document mapped: {outcome:?}") };
    assert_eq!(e.subject, Subject::User(None));
    assert_eq!(
        e.to_string(),
        "user (without id): `userName` is missing; Genesys requires it (it is the user's Genesys login e-mail)"
    );
}

#[test]
fn whether_the_8x8_number_is_primary_is_a_setting() {
    let doc: Map<String, Value> = serde_json::from_value(json!({
        "id": USER_ID, "userName": "ana@corp.example", "displayName": "Ana",
        "phoneNumbers": [
            {"type": "work", "value": "+14155550100", "primary": true},
            {"type": "eightbyeight", "value": "+14155550123"}
        ]
    }))
    .unwrap();
    let primaries = |cfg: &MappingConfig| {
        let m = map_user(&doc, cfg, &HashMap::new()).unwrap();
        m.phones().iter().map(|p| (p.kind, p.primary)).collect::<Vec<_>>()
    };
    assert_eq!(
        primaries(&MappingConfig::default()),
        [(PhoneKind::Work, false), (PhoneKind::EightByEight, true)],
        "by default the 8x8 number is the primary phone"
    );
    let as_sent = MappingConfig { number_primary: NumberPrimary::AsSent, ..MappingConfig::default() };
    assert_eq!(
        primaries(&as_sent),
        [(PhoneKind::Work, true), (PhoneKind::EightByEight, false)],
        "as sent: the IdP's primary work number stays primary"
    );
    assert!(scim_create_body(&map_user(&doc, &as_sent, &HashMap::new()).unwrap()).to_string().contains(
        r#"{"type":"work","value":"+14155550100","primary":true},{"type":"eightbyeight","value":"+14155550123"}"#
    ));
    let mut marked = doc.clone();
    marked["phoneNumbers"][1]["primary"] = json!(true);
    marked["phoneNumbers"][0]["primary"] = json!(false);
    let m = map_user(&marked, &as_sent, &HashMap::new()).unwrap();
    assert!(m.phones().iter().any(|p| p.kind == PhoneKind::EightByEight && p.primary), "marked primary by the IdP");
    for (text, want) in [("always", NumberPrimary::Always), ("AS-SENT", NumberPrimary::AsSent)] {
        assert_eq!(text.parse::<NumberPrimary>(), Ok(want));
    }
    assert!("sometimes".parse::<NumberPrimary>().is_err());
}

#[test]
fn only_what_the_bridge_wrote_is_cleared_and_a_derived_display_name_never_replaces_genesys() {
    // Ana, made in Genesys by hand, adopted: the IdP sends her 8x8 number, no title, no display name.
    let doc: Map<String, Value> = serde_json::from_value(json!({
        "id": USER_ID, "userName": "ana@corp.example",
        "name": {"givenName": "Ana", "familyName": "Lima"},
        "phoneNumbers": [{"type": "eightbyeight", "value": "+14155550123"}]
    }))
    .unwrap();
    let m = map_user(&doc, &MappingConfig::default(), &HashMap::new()).unwrap();
    assert!(!m.display_name_sent());
    let body = scim_patch_body(&m, &Written::default());
    let paths: Vec<&str> = body["Operations"].as_array().unwrap().iter().filter_map(|o| o["path"].as_str()).collect();
    assert_eq!(
        paths,
        [
            "userName",
            "active",
            "phoneNumbers[type eq \"eightbyeight\"].value",
            "phoneNumbers[type eq \"eightbyeight\"].primary"
        ],
        "nothing the bridge never wrote is removed, and no whole phone list: {body}"
    );
    // Once the bridge wrote a title, an IdP that drops it clears it.
    let wrote_title: Written = serde_json::from_value(json!(["title", "phone:mobile"])).unwrap();
    let body = scim_patch_body(&m, &wrote_title).to_string();
    assert!(body.contains(r#"{"op":"remove","path":"title"}"#), "{body}");
    assert!(body.contains(r#"{"op":"remove","path":"phoneNumbers[type eq \"mobile\"]"}"#), "{body}");

    // Platform: her title, department, work and mobile numbers stay; the 8x8 number is added.
    let current = json!({
        "id": "g-ana", "version": 3, "name": "Ana Lima (Support)", "email": "ana@corp.example", "state": "active",
        "title": "Team Lead", "department": "Support",
        "addresses": [
            {"address": "+14155550101", "mediaType": "PHONE", "type": "WORK"},
            {"address": "+14155550102", "mediaType": "PHONE", "type": "MOBILE"}
        ]
    });
    let patch = platform_patch_body(&m, &current, &Written::default()).unwrap().unwrap();
    assert_eq!(
        patch,
        json!({"version": 3, "addresses": [
            {"address": "+14155550123", "mediaType": "PHONE", "type": "OTHER"},
            {"address": "+14155550101", "mediaType": "PHONE", "type": "WORK"},
            {"address": "+14155550102", "mediaType": "PHONE", "type": "MOBILE"}
        ]})
    );
    assert_eq!(Written::of(&m), serde_json::from_value::<Written>(json!(["phone:eightbyeight"])).unwrap());
}

#[test]
fn extensions_are_sent_in_scim_mode_and_refused_in_platform_mode() {
    for raw in ["+14155550123;ext=123", "+1 415 555 0123 x123", "tel:+14155550123;ext=123"] {
        assert_eq!(normalise_number_for(raw, None, ApiMode::Scim).as_deref(), Ok("tel:+14155550123;ext=123"), "{raw}");
        assert_eq!(normalise_number_for(raw, None, ApiMode::Platform), Err(NumberError::ExtensionInPlatformMode));
    }
    assert_eq!(normalise_number_for("+1 415 555 0123", None, ApiMode::Platform).as_deref(), Ok("+14155550123"));
    // A work number with an extension is dropped with a note in Platform mode, never sent guessed.
    let doc = user(json!({"phoneNumbers": [
        {"type": "eightbyeight", "value": "+14155550123"},
        {"type": "work", "value": "+1 415 555 0100 x12"}
    ]}));
    let m = map_user(doc.as_object().unwrap(), &platform(), &ids()).unwrap();
    assert_eq!(m.phones.len(), 1, "{:?}", m.phones);
    assert!(m.notes.iter().any(|n| n.to_string().contains("Platform API cannot take")), "{:?}", m.notes);
}

#[test]
fn a_new_or_changed_number_the_bridge_could_not_send_is_refused_with_the_accepted_forms() {
    let doc = |number: &str| user(json!({"phoneNumbers": [{"type": "eightbyeight", "value": number}]}));
    let obj = |v: &Value| v.as_object().cloned().unwrap();
    let (bad, good, ext) = (doc("x123"), doc("+14155550123"), doc("+14155550123 x9"));
    // On create and on a change.
    for old in [None, Some(obj(&good))] {
        let e = check_number_change(&obj(&bad), old.as_ref(), &scim()).unwrap_err();
        assert_eq!((e.status, e.scim_type), (400, Some(scim::ScimType::InvalidValue)));
        assert!(e.detail.contains("extension without a number") && e.detail.contains("Accepted:"), "{}", e.detail);
        assert!(e.detail.contains(r#"phoneNumbers[type eq "eightbyeight"].value"#), "{}", e.detail);
        assert_no_phone_number("refusal", &e.detail);
    }
    // A number with an extension: sent in SCIM mode, refused in Platform mode, naming that mode's forms.
    assert_eq!(check_number_change(&obj(&ext), None, &scim()), Ok(()));
    let e = check_number_change(&obj(&ext), None, &platform()).unwrap_err();
    assert!(e.detail.contains("Accepted in Platform API mode"), "{}", e.detail);
    // An unchanged number is not checked again (a user stored before a configuration change can
    // still be deactivated); no number at all is fine.
    assert_eq!(check_number_change(&obj(&bad), Some(&obj(&bad)), &scim()), Ok(()));
    assert_eq!(check_number_change(&obj(&user(json!({}))), None, &scim()), Ok(()));
    assert_eq!(check_number_change(&obj(&good), Some(&obj(&bad)), &scim()), Ok(()));
    // A national number without a default country is stored (its delivery parks until the
    // country is configured): the value is fine, the configuration is missing.
    let national = doc("4155550123");
    assert_eq!(check_number_change(&obj(&national), None, &scim()), Ok(()));
    assert!(map_user(national.as_object().unwrap(), &scim(), &ids()).is_err(), "parked at delivery");
}
