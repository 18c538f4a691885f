//! The audit trail over HTTP: every create, PUT, PATCH, DELETE and Bulk operation leaves a row
//! naming the credential (a stored token, the bootstrap token, a JWT's subject and issuer), the
//! peer address and the request id; `scim-bridge audit` filters it and prints it as a table or
//! JSON lines, `/admin` shows the newest rows; and none of it holds an e-mail address, a phone
//! number or a token.

use std::process::Command;

use jsonwebtoken::{EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Resp, TOKEN, TestApp, patch_body};
use scim_bridge::config::{JwtConfig, JwtKey, Secret};

const BIN: &str = env!("CARGO_BIN_EXE_scim-bridge");
const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const ADMIN_TOKEN: &str = "admin-token-for-the-audit-test";

/// Personal data the requests carry that the trail must never hold: e-mail addresses (the
/// userNames are not e-mail addresses here, so any `@` is a leak), phone numbers.
const SECRETS: [&str; 6] = ["@", "example.com", "4155550", "+1415", "Jane Q", "work-home"];

/// A user whose userName is no e-mail address, with e-mail addresses and phone numbers.
fn person(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Jane Q", "familyName": "Public"},
        "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+14155550100", "type": "eightbyeight"}],
        "active": true
    })
}

/// A request with this bearer token and request id.
async fn send(app: &TestApp, bearer: &str, method: Method, path: &str, body: Option<Value>, request_id: &str) -> Resp {
    let mut rb = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(bearer)
        .header("x-request-id", request_id);
    if let Some(b) = body {
        rb = rb.header("content-type", "application/scim+json").body(b.to_string());
    }
    let resp = rb.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert_eq!(headers.get("x-request-id").and_then(|v| v.to_str().ok()), Some(request_id));
    Resp { status, headers, body }
}

/// `scim-bridge --database DB audit ARGS`: its stdout (the command must succeed).
fn audit(db: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--database")
        .arg(db)
        .arg("audit")
        .args(args)
        .env_remove("SCIM_BRIDGE_BOOTSTRAP_TOKEN")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "audit {args:?}: {stderr}");
    stdout.into_owned()
}

/// `audit --json ARGS`, one object per line.
fn audit_json(db: &str, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    audit(db, &all).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// (op, bulk, resourceType, id, name, version) of each line.
fn summary(lines: &[Value]) -> Vec<(String, bool, String, String, Value, Value)> {
    lines
        .iter()
        .map(|l| {
            (
                l["op"].as_str().unwrap().to_string(),
                l["bulk"].as_bool().unwrap(),
                l["resourceType"].as_str().unwrap().to_string(),
                l["id"].as_str().unwrap().to_string(),
                l["name"].clone(),
                l["version"].clone(),
            )
        })
        .collect()
}

fn assert_no_personal_data(what: &str, text: &str, tokens: &[&str]) {
    for needle in SECRETS.iter().chain(tokens) {
        assert!(!text.contains(needle), "{what} holds {needle:?}:\n{text}");
    }
}

#[tokio::test]
async fn every_write_is_recorded_with_the_stored_token_address_and_request_id() {
    let app = TestApp::spawn_with(|c| c.admin_token = Some(Secret::new(ADMIN_TOKEN))).await;
    let store = scim_bridge::store::Store::open(&app.db_path()).unwrap();
    let okta = store.create_token("okta").unwrap();

    let r = send(&app, &okta, Method::POST, "/Users", Some(person("jdoe")), "req-create").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let jane = r.body["id"].as_str().unwrap().to_string();
    let patch = patch_body(json!([
        {"op": "replace", "path": "emails[value eq \"jdoe@example.com\"].value", "value": "jane@work-home.example.com"},
        {"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+14155550199"},
        {"op": "replace", "value": {"displayName": "Jane Q"}},
    ]));
    let r = send(&app, &okta, Method::PATCH, &format!("/Users/{jane}"), Some(patch), "req-patch").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A PATCH that changes nothing is no change: no row.
    let same = patch_body(json!([{"op": "replace", "path": "userName", "value": "jdoe"}]));
    let r = send(&app, &okta, Method::PATCH, &format!("/Users/{jane}"), Some(same), "req-same").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(&app, &okta, Method::PUT, &format!("/Users/{jane}"), Some(person("jdoe2")), "req-put").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A refused write leaves no row either.
    let r = send(&app, &okta, Method::POST, "/Users", Some(person("JDOE2")), "req-taken").await;
    assert_eq!(r.status, 409, "{}", r.body);
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales",
                       "members": [{"value": jane}]});
    let r = send(&app, &okta, Method::POST, "/Groups", Some(group), "req-group").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let sales = r.body["id"].as_str().unwrap().to_string();
    let bulk = json!({"schemas": [BULK_REQUEST], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "bob", "data": person("bob")},
        {"method": "PATCH", "path": format!("/Groups/{sales}"),
         "data": patch_body(json!([{"op": "add", "path": "members", "value": [{"value": "bulkId:bob"}]}]))},
        {"method": "POST", "path": "/Users", "bulkId": "dup", "data": person("bob")},
        {"method": "DELETE", "path": format!("/Users/{jane}")},
    ]});
    let r = send(&app, &okta, Method::POST, "/Bulk", Some(bulk), "req-bulk").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let statuses: Vec<&str> =
        r.body["Operations"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "200", "409", "204"]);
    let bob = r.body["Operations"][0]["location"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    // The bootstrap token is an actor too; reads are not recorded.
    let r = send(&app, TOKEN, Method::DELETE, &format!("/Groups/{sales}"), None, "req-boot").await;
    assert_eq!(r.status, 204);
    assert_eq!(send(&app, TOKEN, Method::GET, &format!("/Users/{bob}"), None, "req-read").await.status, 200);

    let db = app.db_path();
    let lines = audit_json(&db, &[]);
    let s = |x: &str| x.to_string();
    assert_eq!(
        summary(&lines),
        vec![
            (s("create"), false, s("User"), jane.clone(), json!("jdoe"), json!(1)),
            (s("patch"), false, s("User"), jane.clone(), json!("jdoe"), json!(2)),
            (s("replace"), false, s("User"), jane.clone(), json!("jdoe2"), json!(3)),
            (s("create"), false, s("Group"), sales.clone(), json!("Sales"), json!(1)),
            (s("create"), true, s("User"), bob.clone(), json!("bob"), json!(1)),
            (s("patch"), true, s("Group"), sales.clone(), json!("Sales"), json!(2)),
            (s("delete"), true, s("User"), jane.clone(), json!("jdoe2"), Value::Null),
            (s("delete"), false, s("Group"), sales.clone(), json!("Sales"), Value::Null),
        ]
    );
    assert_eq!(lines[1]["paths"], json!(["emails.value", "phoneNumbers.value", "displayName"]));
    assert_eq!(lines[5]["paths"], json!(["members"]));
    let requests: Vec<&str> = lines.iter().map(|l| l["requestId"].as_str().unwrap()).collect();
    assert_eq!(
        requests,
        ["req-create", "req-patch", "req-put", "req-group", "req-bulk", "req-bulk", "req-bulk", "req-boot"]
    );
    for l in &lines[..7] {
        assert_eq!(
            (l["actorType"].as_str(), l["actor"].as_str(), &l["issuer"]),
            (Some("token"), Some("okta"), &Value::Null)
        );
        assert_eq!(l["address"], "127.0.0.1", "the peer address");
        assert!(l["at"].as_str().unwrap().ends_with('Z'), "{l}");
    }
    assert_eq!((lines[7]["actorType"].as_str(), &lines[7]["actor"]), (Some("bootstrap"), &Value::Null));

    // What the trail holds, read from the database (every column), and everything it prints.
    let rows = store.audit_entries(&scim_bridge::store::AuditQuery { limit: 1000, ..Default::default() }).unwrap();
    assert_eq!(rows.len(), 8);
    let tokens = [okta.as_str(), TOKEN, ADMIN_TOKEN];
    assert_no_personal_data("the rows", &format!("{rows:?}"), &tokens);
    let table = audit(&db, &[]);
    assert_no_personal_data("the table", &table, &tokens);
    assert_no_personal_data("the JSON lines", &audit(&db, &["--json"]), &tokens);
    let mut table_lines = table.lines();
    let header = table_lines.next().unwrap();
    assert!(header.starts_with("TIME") && header.contains("ACTOR") && header.contains("ADDRESS"), "{header}");
    let patch_line = table_lines.nth(1).unwrap();
    for cell in
        ["patch", "User", &jane, "jdoe", "token okta", "127.0.0.1", "req-patch", "emails.value,phoneNumbers.value"]
    {
        assert!(patch_line.contains(cell), "{cell} in {patch_line}");
    }
    // The columns line up: each header starts where its cells start.
    let at = header.find("ACTOR").unwrap();
    assert!(table.lines().skip(1).all(|l| l[at..].starts_with("token") || l[at..].starts_with("bootstrap")), "{table}");

    // The status page shows the newest rows, and no personal data either.
    let page = app.client.get(format!("http://{}/admin", app.addr)).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    let html = page.text().await.unwrap();
    let changes = &html[html.find("<table id=changes>").expect("a table of changes")..];
    let changes = &changes[..changes.find("</table>").unwrap()];
    assert_eq!(changes.matches("<tr>").count(), 9, "a header and 8 rows: {changes}");
    assert!(changes.contains("token okta") && changes.contains("req-bulk") && changes.contains("jdoe2"), "{changes}");
    assert!(changes.find("bootstrap").unwrap() < changes.find("token okta").unwrap(), "newest first");
    assert_no_personal_data("the status page's changes", changes, &tokens);
}

#[tokio::test]
async fn the_audit_command_filters_by_resource_actor_and_time() {
    let app = TestApp::spawn().await;
    let store = scim_bridge::store::Store::open(&app.db_path()).unwrap();
    let entra = store.create_token("entra").unwrap();
    let r = send(&app, &entra, Method::POST, "/Users", Some(person("Alice")), "a1").await;
    let alice = r.body["id"].as_str().unwrap().to_string();
    let r = send(&app, TOKEN, Method::POST, "/Users", Some(person("carol")), "c1").await;
    let carol = r.body["id"].as_str().unwrap().to_string();
    // Clear of both sides' milliseconds: `--until` is exclusive, `--since` inclusive.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = time::OffsetDateTime::now_utc();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let off = patch_body(json!([{"op": "replace", "path": "active", "value": false}]));
    send(&app, &entra, Method::PATCH, &format!("/Users/{alice}"), Some(off.clone()), "a2").await;
    send(&app, TOKEN, Method::PATCH, &format!("/Users/{carol}"), Some(off), "c2").await;
    let db = app.db_path();
    let ids = |lines: Vec<Value>| -> Vec<String> {
        lines.iter().map(|l| format!("{} {}", l["requestId"].as_str().unwrap(), l["op"].as_str().unwrap())).collect()
    };
    assert_eq!(ids(audit_json(&db, &["--resource", &alice])), ["a1 create", "a2 patch"]);
    assert_eq!(ids(audit_json(&db, &["--resource", "ALICE"])), ["a1 create", "a2 patch"], "userName in any case");
    assert_eq!(ids(audit_json(&db, &["--actor", "entra"])), ["a1 create", "a2 patch"]);
    assert_eq!(ids(audit_json(&db, &["--actor", "bootstrap"])), ["c1 create", "c2 patch"]);
    let cut = between.format(&time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(ids(audit_json(&db, &["--since", &cut])), ["a2 patch", "c2 patch"]);
    assert_eq!(ids(audit_json(&db, &["--until", &cut])), ["a1 create", "c1 create"]);
    assert_eq!(ids(audit_json(&db, &["--since", &cut, "--actor", "bootstrap"])), ["c2 patch"]);
    assert_eq!(ids(audit_json(&db, &["--limit", "1"])), ["c2 patch"], "the newest");
    assert_eq!(ids(audit_json(&db, &["--limit", "3"])), ["c1 create", "a2 patch", "c2 patch"]);
    assert!(audit_json(&db, &["--resource", "nobody"]).is_empty());
    // Retention: entries older than N days go.
    let out = Command::new(BIN).args(["--database", &db, "audit", "--prune-older-than-days", "1"]).output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stderr).contains("0 audit entries"), "{out:?}");
    assert_eq!(audit_json(&db, &[]).len(), 4);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let out = Command::new(BIN).args(["--database", &db, "audit", "--prune-older-than-days", "0"]).output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stderr).contains("4 audit entries"), "{out:?}");
    assert!(audit_json(&db, &[]).is_empty());
    // A time that is not RFC 3339 is refused, saying what to write.
    let out = Command::new(BIN).args(["--database", &db, "audit", "--since", "yesterday"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
}

#[tokio::test]
async fn a_jwt_is_recorded_by_its_subject_and_issuer() {
    let secret = "jwt-test-secret-of-decent-length";
    let app = TestApp::spawn_with(|c| {
        c.jwt = Some(JwtConfig {
            key: JwtKey::Hs256(Secret::new(secret)),
            issuer: "https://idp.example.org".into(),
            audience: "scim-bridge".into(),
        });
    })
    .await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let sign = |claims: Value| {
        jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    };
    let jwt =
        sign(json!({"iss": "https://idp.example.org", "aud": "scim-bridge", "exp": now + 300, "sub": "okta-client-7"}));
    let r = send(&app, &jwt, Method::POST, "/Users", Some(person("dave")), "j1").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let dave = r.body["id"].as_str().unwrap().to_string();
    let anonymous = sign(json!({"iss": "https://idp.example.org", "aud": "scim-bridge", "exp": now + 300}));
    let r = send(&app, &anonymous, Method::DELETE, &format!("/Users/{dave}"), None, "j2").await;
    assert_eq!(r.status, 204, "{}", r.body);

    let lines = audit_json(&app.db_path(), &[]);
    let who: Vec<(&str, &Value, &str)> =
        lines.iter().map(|l| (l["actorType"].as_str().unwrap(), &l["actor"], l["issuer"].as_str().unwrap())).collect();
    assert_eq!(
        who,
        [("jwt", &json!("okta-client-7"), "https://idp.example.org"), ("jwt", &Value::Null, "https://idp.example.org")]
    );
    assert_eq!(audit_json(&app.db_path(), &["--actor", "okta-client-7"]).len(), 1);
    let table = audit(&app.db_path(), &[]);
    assert!(table.contains("jwt okta-client-7 (https://idp.example.org)"), "{table}");
    assert!(!table.contains(&jwt) && !table.contains(&anonymous), "no token in the table");
}
