//! The Genesys simulator over real HTTP on loopback: OAuth, SCIM and Platform on one store, the
//! headers and limits of genesys-api-notes §4, and every fault on demand.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use scim_bridge::genesys::simulator::{ClientSecret, FaultsUpdate, SimConfig, SimHandle, basic_credentials};

use crate::helpers::Resp;

const CLIENT_ID: &str = "sim-test-client";
const CLIENT_SECRET: &str = "sim-test-secret";
const SCIM: &str = "/api/v2/scim/v2";
const OTHER_PHONE: &str = "/contactInfo/0/phone_other/0/value/number";

struct Sim {
    base: String,
    client: reqwest::Client,
    state: SimHandle,
    token: String,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Sim {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl Sim {
    async fn spawn() -> Sim {
        Self::spawn_with(|_| {}).await
    }

    async fn spawn_with(adjust: impl FnOnce(&mut SimConfig)) -> Sim {
        let mut config = SimConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            client_id: CLIENT_ID.into(),
            client_secret: ClientSecret::new(CLIENT_SECRET),
            seed_groups: vec!["Sales".into(), "Support".into()],
            ..SimConfig::default()
        };
        adjust(&mut config);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let running = scim_bridge::genesys::simulator::start(config).expect("simulator starts");
                tx.send((running.addr, running.server.handle(), running.state.clone())).expect("send");
                let _ = running.server.await;
            });
        });
        let (addr, handle, state) = rx.recv().expect("simulator address");
        let mut sim =
            Sim { base: format!("http://{addr}"), client: reqwest::Client::new(), state, token: String::new(), handle };
        let r = sim.token_request(&basic_credentials(CLIENT_ID, CLIENT_SECRET), "grant_type=client_credentials").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        sim.token = r.body["access_token"].as_str().expect("token").to_string();
        sim
    }

    async fn token_request(&self, authorization: &str, form: &str) -> Resp {
        let rb = self
            .client
            .post(format!("{}/oauth/token", self.base))
            .header("authorization", authorization)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string());
        into_resp(rb.send().await.expect("sent")).await
    }

    /// Any request with the simulator's token; JSON bodies typed for the API they go to.
    async fn req(&self, method: Method, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Resp {
        let mut rb = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            let ct = if path.starts_with(SCIM) { "application/scim+json" } else { "application/json" };
            rb = rb.header("content-type", ct).body(b.to_string());
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        into_resp(rb.send().await.expect("sent")).await
    }

    async fn get(&self, path: &str) -> Resp {
        self.req(Method::GET, path, None, &[]).await
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.req(Method::POST, path, Some(body), &[]).await
    }

    async fn patch(&self, path: &str, body: Value) -> Resp {
        self.req(Method::PATCH, path, Some(body), &[]).await
    }

    /// Simulator admin routes: no token.
    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut rb = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b.to_string());
        }
        into_resp(rb.send().await.expect("sent")).await
    }

    async fn faults(&self, faults: Value) {
        let r = self.admin(Method::POST, "/sim/faults", Some(faults)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }

    async fn profile(&self, user_name: &str) -> Value {
        let r = self.admin(Method::GET, &format!("/sim/profiles/{user_name}"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }

    async fn create(&self, user_name: &str, phone_type: &str) -> String {
        let r = self.post(&format!("{SCIM}/users"), scim_user(user_name, phone_type, "+14155550123")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().expect("id").to_string()
    }
}

async fn into_resp(resp: reqwest::Response) -> Resp {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Resp { status, headers, body }
}

fn scim_user(user_name: &str, phone_type: &str, number: &str) -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User"
        ],
        "userName": user_name,
        "displayName": "Jane Doe",
        "active": true,
        "title": "Account Manager",
        "externalId": format!("ext-{user_name}"),
        "emails": [{"type": "work", "value": user_name, "primary": true}],
        "phoneNumbers": [{"type": phone_type, "value": number}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "division": "Home", "department": "Sales", "employeeNumber": "1234"
        }
    })
}

fn patch_ops(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// An ErrorBody with this status and code, whose contextId is the correlation id header.
fn assert_error_body(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.body["status"], json!(status), "{}", r.body);
    assert_eq!(r.body["code"], code, "{}", r.body);
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.body);
    assert_eq!(r.body["details"], json!([]));
    assert_eq!(r.body["errors"], json!([]));
    assert_eq!(r.body["contextId"].as_str(), r.header("inin-correlation-id"), "{}", r.body);
}

fn assert_scim_error(r: &Resp, status: u16, detail: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{}", r.body);
    assert_eq!(r.body["status"], json!(status.to_string()), "{}", r.body);
    assert_eq!(r.body["detail"], detail, "{}", r.body);
}

fn assert_genesys_headers(r: &Resp) {
    let id = r.header("inin-correlation-id").expect("inin-correlation-id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    for h in ["inin-ratelimit-allowed", "inin-ratelimit-count", "inin-ratelimit-reset"] {
        assert!(r.header(h).is_some_and(|v| v.parse::<u64>().is_ok()), "{h} missing on {}", r.status);
    }
}

fn pointer<'v>(v: &'v Value, p: &str) -> &'v Value {
    v.pointer(p).unwrap_or(&Value::Null)
}

#[tokio::test]
async fn oauth_issues_refuses_and_expires_tokens() {
    let sim = Sim::spawn_with(|c| c.token_lifetime = Duration::from_secs(1)).await;
    let good = sim.token_request(&basic_credentials(CLIENT_ID, CLIENT_SECRET), "grant_type=client_credentials").await;
    assert_eq!(good.status, StatusCode::OK);
    assert_eq!(good.body["token_type"], "bearer");
    assert!(good.body["expires_in"].as_u64().is_some());
    assert_genesys_headers(&good);

    let bad = sim.token_request(&basic_credentials(CLIENT_ID, "wrong"), "grant_type=client_credentials").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"], "unauthorized_client");
    assert!(bad.body["error_description"].is_string());
    let grant = sim.token_request(&basic_credentials(CLIENT_ID, CLIENT_SECRET), "grant_type=password").await;
    assert_eq!((grant.status, grant.body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unsupported_grant_type")));

    // No token, a made-up token, then an expired one.
    let r = sim.client.get(format!("{}{SCIM}/users", sim.base)).send().await.expect("sent");
    assert_error_body(&into_resp(r).await, 401, "authentication.required");
    let r = sim.client.get(format!("{}{SCIM}/users", sim.base)).bearer_auth("made-up").send().await.expect("sent");
    assert_error_body(&into_resp(r).await, 401, "bad.credentials");
    assert_eq!(sim.get(&format!("{SCIM}/users")).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = sim.get(&format!("{SCIM}/users")).await;
    assert_error_body(&r, 401, "bad.credentials");
    assert_genesys_headers(&r);

    let stats = sim.state.stats();
    assert_eq!((stats.tokens_issued, stats.token_refusals), (2, 2));
}

#[tokio::test]
async fn scim_8x8_number_lands_in_the_other_phone() {
    let sim = Sim::spawn().await;
    let id = sim.create("jane.doe@example.com", "eightbyeight").await;
    let profile = sim.profile("jane.doe@example.com").await;
    assert_eq!(pointer(&profile, OTHER_PHONE), "+14155550123", "{profile}");

    // SCIM reads it back as written; being the only phone, it is primary.
    let r = sim.get(&format!("{SCIM}/users/{id}")).await;
    assert_eq!(r.body["phoneNumbers"], json!([{"type": "eightbyeight", "value": "+14155550123", "primary": true}]));
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(r.body["meta"]["version"], "1");
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/scim+json")));

    // The Platform API shows the same datum as addresses PHONE/OTHER, and as primary contact.
    let p = sim.get(&format!("/api/v2/users/{id}")).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let other: Vec<&Value> = p.body["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .filter(|a| a["mediaType"] == "PHONE" && a["type"] == "OTHER")
        .collect();
    assert_eq!(other.len(), 1, "{}", p.body);
    assert_eq!(other[0]["address"], "+14155550123");
    assert!(
        p.body["primaryContactInfo"]
            .as_array()
            .expect("primary")
            .iter()
            .any(|c| c["mediaType"] == "PHONE" && c["address"] == "+14155550123")
    );
    assert_eq!((p.body["version"].as_u64(), p.body["state"].as_str()), (Some(1), Some("active")));
    assert_eq!(p.body["email"], "jane.doe@example.com");
    assert_eq!(p.body["division"]["name"], "Home");

    // Every UC type writes the same field.
    for (i, t) in ["other", "microsoftteams", "zoomphone", "ringcentral"].iter().enumerate() {
        let name = format!("uc{i}@example.com");
        sim.create(&name, t).await;
        assert_eq!(pointer(&sim.profile(&name).await, OTHER_PHONE), "+14155550123", "{t}");
    }
    // The old typo is not one of the 11 values.
    let r = sim.post(&format!("{SCIM}/users"), scim_user("typo@example.com", "eighbyeight", "+1")).await;
    assert_error_body(&r, 400, "invalid.value");
    assert_eq!(sim.state.stats().creates_by_user_name.get("jane.doe@example.com"), Some(&1));
}

#[tokio::test]
async fn platform_patch_of_addresses_writes_the_same_other_phone() {
    let sim = Sim::spawn().await;
    let id = sim.create("pat@example.com", "eightbyeight").await;
    let user = sim.get(&format!("/api/v2/users/{id}")).await;
    let version = user.body["version"].as_u64().expect("version");
    let r = sim
        .patch(
            &format!("/api/v2/users/{id}"),
            json!({"version": version, "addresses": [
                {"address": "+14155550199", "mediaType": "PHONE", "type": "OTHER"},
                {"address": "+14155550100", "mediaType": "PHONE", "type": "WORK"}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"].as_u64(), Some(version + 1));
    assert_eq!(pointer(&sim.profile("pat@example.com").await, OTHER_PHONE), "+14155550199");
    // SCIM sees the new number, still as the type it was written as through SCIM.
    let s = sim.get(&format!("{SCIM}/users/{id}")).await;
    let phones = s.body["phoneNumbers"].as_array().expect("phones");
    assert!(phones.iter().any(|p| p["type"] == "eightbyeight" && p["value"] == "+14155550199"), "{}", s.body);
    assert!(phones.iter().any(|p| p["type"] == "work" && p["value"] == "+14155550100"), "{}", s.body);

    // `addresses` replaces every phone, and keeps e-mail contacts.
    let r = sim.patch(&format!("/api/v2/users/{id}"), json!({"version": version + 1, "addresses": []})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let addresses = r.body["addresses"].as_array().expect("addresses");
    assert!(addresses.iter().all(|a| a["mediaType"] == "EMAIL"), "{}", r.body);
    assert!(addresses.iter().any(|a| a["mediaType"] == "EMAIL" && a["address"] == "pat@example.com"), "{}", r.body);
    assert_eq!(pointer(&sim.profile("pat@example.com").await, OTHER_PHONE), &Value::Null);
    assert_eq!(sim.state.stats().updates_by_user_name.get("pat@example.com"), Some(&2));
}

#[tokio::test]
async fn duplicate_user_names_conflict_in_both_apis() {
    let sim = Sim::spawn().await;
    sim.create("dup@example.com", "eightbyeight").await;
    let r = sim.post(&format!("{SCIM}/users"), scim_user("DUP@example.com", "work", "+1555")).await;
    assert_scim_error(&r, 409, "User name already in use by non-deleted user.");
    assert_genesys_headers(&r);
    let home = sim.get("/api/v2/authorization/divisions/home").await;
    let division = home.body["id"].as_str().expect("division id").to_string();
    let r = sim.post("/api/v2/users", json!({"name": "Dup", "email": "dup@example.com", "divisionId": division})).await;
    assert_error_body(&r, 409, "general.conflict");
    // A Platform create with a fresh e-mail works (200, as the swagger says), and SCIM sees it.
    let r = sim
        .post(
            "/api/v2/users",
            json!({"name": "Plat", "email": "plat@example.com", "divisionId": division,
                   "addresses": [{"address": "+14155550111", "mediaType": "PHONE", "type": "OTHER"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(pointer(&sim.profile("plat@example.com").await, OTHER_PHONE), "+14155550111");
    let list = sim.get(&format!("{SCIM}/users?filter=userName%20eq%20%22plat@example.com%22")).await;
    assert_eq!(list.body["totalResults"], 1, "{}", list.body);
    assert_eq!(list.body["Resources"][0]["phoneNumbers"][0]["type"], "other");
    let r = sim.post("/api/v2/users", json!({"name": "No division", "email": "nd@example.com"})).await;
    assert_error_body(&r, 400, "bad.request");

    // Media types: SCIM takes scim+json or json; Platform only json. Bodies are bounded.
    let send = |path: String, ct: &'static str, body: String| {
        sim.client.post(format!("{}{path}", sim.base)).bearer_auth(&sim.token).header("content-type", ct).body(body)
    };
    let body = scim_user("json@example.com", "work", "+1555").to_string();
    let r =
        into_resp(send(format!("{SCIM}/users"), "application/json", body.clone()).send().await.expect("sent")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = into_resp(send(format!("{SCIM}/users"), "text/plain", body).send().await.expect("sent")).await;
    assert_error_body(&r, 415, "unsupported.media.type");
    let r =
        into_resp(send("/api/v2/users".into(), "application/scim+json", "{}".into()).send().await.expect("sent")).await;
    assert_error_body(&r, 415, "unsupported.media.type");
    let r = into_resp(send(format!("{SCIM}/users"), "application/json", "{".into()).send().await.expect("sent")).await;
    assert_error_body(&r, 400, "bad.request");
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(1024 * 1024 + 1));
    let r = into_resp(send(format!("{SCIM}/users"), "application/json", big).send().await.expect("sent")).await;
    assert_error_body(&r, 413, "request.too.large");
    let r = sim.admin(Method::GET, "/sim/profiles/nobody@example.com", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn version_mismatches_conflict_in_both_apis() {
    let sim = Sim::spawn().await;
    let id = sim.create("ver@example.com", "eightbyeight").await;
    let path = format!("{SCIM}/users/{id}");
    let stale = [("if-match", "\"7\"")];
    let r = sim.req(Method::PUT, &path, Some(scim_user("ver@example.com", "work", "+1")), &stale).await;
    assert_scim_error(&r, 409, "Version does not match current version.");
    let op = patch_ops(json!([{"op": "replace", "path": "title", "value": "X"}]));
    let r = sim.req(Method::PATCH, &path, Some(op.clone()), &stale).await;
    assert_scim_error(&r, 409, "Version does not match current version.");
    let r = sim.req(Method::DELETE, &path, None, &stale).await;
    assert_scim_error(&r, 409, "Version does not match current version.");
    // The right version (any common spelling) passes; If-None-Match with it is 304.
    let r = sim.req(Method::PATCH, &path, Some(op.clone()), &[("if-match", "W/\"1\"")]).await;
    assert_eq!((r.status, r.header("etag")), (StatusCode::OK, Some("\"2\"")), "{}", r.body);
    let r = sim.req(Method::GET, &path, None, &[("if-none-match", "\"2\"")]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_genesys_headers(&r);

    let platform = format!("/api/v2/users/{id}");
    let r = sim.patch(&platform, json!({"version": 1, "title": "Y"})).await;
    assert_error_body(&r, 409, "general.conflict");
    assert_eq!(r.body["message"], "The version supplied does not match the current version of the user");
    let r = sim.patch(&platform, json!({"title": "Y"})).await;
    assert_error_body(&r, 400, "bad.request");

    // The documented 400 variants, on demand.
    sim.faults(json!({"version_conflict_status": 400})).await;
    let r = sim.req(Method::PATCH, &path, Some(op), &stale).await;
    assert_eq!((r.status.as_u16(), r.body["scimType"].as_str()), (400, Some("invalidVers")), "{}", r.body);
    let r = sim.patch(&platform, json!({"version": 1, "title": "Y"})).await;
    assert_error_body(&r, 400, "bad.request");
    assert!(r.body["message"].as_str().is_some_and(|m| m.contains("does not match the current version")));
}

#[tokio::test]
async fn delete_is_soft_and_frees_the_user_name() {
    let sim = Sim::spawn().await;
    let id = sim.create("gone@example.com", "eightbyeight").await;
    let r = sim.req(Method::DELETE, &format!("{SCIM}/users/{id}"), None, &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_error_body(&sim.get(&format!("{SCIM}/users/{id}")).await, 404, "not.found");
    assert_error_body(&sim.get(&format!("/api/v2/users/{id}")).await, 404, "general.resource.not.found");
    let r = sim.get(&format!("/api/v2/users/{id}?state=deleted")).await;
    assert_eq!((r.status, r.body["state"].as_str()), (StatusCode::OK, Some("deleted")), "{}", r.body);
    let r = sim.get("/api/v2/users?state=deleted").await;
    assert_eq!(r.body["total"], 1, "{}", r.body);
    assert_eq!(r.body["entities"][0]["id"], id.as_str());
    assert_eq!(sim.get(&format!("{SCIM}/users")).await.body["totalResults"], 0);

    // The userName is free again; restoring the old user now collides.
    let again = sim.create("gone@example.com", "eightbyeight").await;
    assert_ne!(again, id);
    let deleted = sim.get(&format!("/api/v2/users/{id}?state=deleted")).await;
    let v = deleted.body["version"].as_u64().expect("version");
    let r = sim.patch(&format!("/api/v2/users/{id}"), json!({"version": v, "state": "active"})).await;
    assert_error_body(&r, 409, "general.conflict");
    // Platform DELETE is soft too (200, empty object).
    let r = sim.req(Method::DELETE, &format!("/api/v2/users/{again}"), None, &[]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!({})));
    let r = sim.patch(&format!("/api/v2/users/{id}"), json!({"version": v, "state": "active"})).await;
    assert_eq!((r.status, r.body["state"].as_str()), (StatusCode::OK, Some("active")), "{}", r.body);
    assert_eq!(sim.state.stats().deletes_by_user_name.get("gone@example.com"), Some(&2));
}

#[tokio::test]
async fn scim_lists_filters_and_inactive_users() {
    let sim = Sim::spawn().await;
    let a = sim.create("a@example.com", "eightbyeight").await;
    let b = sim.create("b@example.com", "work").await;
    let r = sim
        .patch(&format!("{SCIM}/users/{b}"), patch_ops(json!([{"op": "Replace", "path": "active", "value": "False"}])))
        .await;
    assert_eq!((r.status, r.body["active"].as_bool()), (StatusCode::OK, Some(false)), "{}", r.body);
    assert_eq!(sim.get(&format!("/api/v2/users/{b}")).await.body["state"], "inactive");

    let all = sim.get(&format!("{SCIM}/users")).await;
    assert_eq!(all.body["totalResults"], 1, "no filter lists active users only: {}", all.body);
    assert_eq!(all.body["Resources"][0]["id"], a.as_str());
    assert_eq!(all.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:ListResponse");
    let inactive = sim.get(&format!("{SCIM}/users?filter=active%20eq%20false")).await;
    assert_eq!(inactive.body["Resources"][0]["id"], b.as_str(), "{}", inactive.body);
    // Genesys's documented examples use bare values.
    let bare = sim.get(&format!("{SCIM}/users?filter=userName%20eq%20B@example.com")).await;
    assert_eq!(bare.body["totalResults"], 1, "{}", bare.body);
    let ext = sim.get(&format!("{SCIM}/users?filter=externalId%20eq%20%22ext-b@example.com%22")).await;
    assert_eq!(ext.body["Resources"][0]["id"], b.as_str(), "{}", ext.body);
    let count0 = sim.get(&format!("{SCIM}/users?filter=externalId%20eq%20%22ext-b@example.com%22&count=0")).await;
    assert_eq!(
        (count0.body["totalResults"].as_u64(), count0.body["Resources"].as_array().map(Vec::len)),
        (Some(1), Some(0))
    );
    assert_error_body(&sim.get(&format!("{SCIM}/users?filter=userName%20co%20%22a%22")).await, 400, "bad.request");
    // Lower-case segments only; no /Me, no /Bulk.
    for path in ["/Users", "/Me", "/Bulk", "/users/x/y"] {
        assert_error_body(&sim.get(&format!("{SCIM}{path}")).await, 404, "not.found");
    }
    // The legacy paths without `/v2` serve the same store.
    let legacy = sim.get(&format!("/api/v2/scim/users/{a}")).await;
    assert_eq!((legacy.status, legacy.body["id"].as_str()), (StatusCode::OK, Some(a.as_str())), "{}", legacy.body);
    let spc = sim.get(&format!("{SCIM}/serviceproviderconfig")).await;
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(sim.get(&format!("{SCIM}/resourcetypes/User")).await.body["endpoint"], "/Users");
    let schemas = sim.get(&format!("{SCIM}/schemas")).await;
    assert_eq!(schemas.body["totalResults"], 7);
    assert_error_body(&sim.get(&format!("{SCIM}/schemas?filter=id%20eq%20x")).await, 403, "not.authorized");
}

#[tokio::test]
async fn patch_shapes_the_bridge_sends() {
    let sim = Sim::spawn().await;
    let id = sim.create("shape@example.com", "eightbyeight").await;
    let path = format!("{SCIM}/users/{id}");
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let r = sim
        .patch(
            &path,
            patch_ops(json!([
                {"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+14155550199"},
                {"op": "replace", "path": "displayName", "value": "Jane Q. Doe"},
                {"op": "replace", "path": "title", "value": "Director"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "jq@example.com"},
                {"op": "replace", "path": format!("{ent}:department"), "value": "Support"},
                {"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+14155550177"},
                {"op": "replace", "value": {"externalId": "ext-2", ent: {"employeeNumber": "99"}}}
            ])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Jane Q. Doe");
    assert_eq!(r.body["title"], "Director");
    assert_eq!(r.body["externalId"], "ext-2");
    assert_eq!(r.body[ent]["department"], "Support");
    assert_eq!(r.body[ent]["employeeNumber"], "99");
    assert!(
        r.body["emails"]
            .as_array()
            .expect("emails")
            .iter()
            .any(|e| e["type"] == "work" && e["value"] == "jq@example.com")
    );
    assert_eq!(r.body["meta"]["version"], "2", "one PATCH, one version");
    let profile = sim.profile("shape@example.com").await;
    assert_eq!(pointer(&profile, OTHER_PHONE), "+14155550199");
    assert_eq!(pointer(&profile, "/contactInfo/0/phone_mobile/0/value/number"), "+14155550177");
    // The Other Phone stays primary once there is a second phone.
    assert_eq!(pointer(&profile, "/contactInfo/0/phone_other/0/primary"), true);

    // Another UC type's filter reaches the same field and re-types it.
    let r = sim
        .patch(&path, patch_ops(json!([{"op": "replace", "path": "phoneNumbers[type eq \"microsoftteams\"].value", "value": "+14155550155"}])))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let phones = r.body["phoneNumbers"].as_array().expect("phones");
    assert!(phones.iter().any(|p| p["type"] == "microsoftteams" && p["value"] == "+14155550155"), "{}", r.body);
    assert!(!phones.iter().any(|p| p["type"] == "eightbyeight"), "{}", r.body);
    assert_eq!(pointer(&sim.profile("shape@example.com").await, OTHER_PHONE), "+14155550155");

    // A PATCH that changes nothing keeps the version.
    let r = sim.patch(&path, patch_ops(json!([{"op": "replace", "path": "title", "value": "Director"}]))).await;
    assert_eq!(r.body["meta"]["version"], "3", "{}", r.body);
    let r = sim.patch(&path, json!({"Operations": [{"op": "replace", "path": "title", "value": "x"}]})).await;
    assert_error_body(&r, 400, "bad.request");
}

#[tokio::test]
async fn groups_must_exist_need_a_filter_and_take_member_patches() {
    let sim = Sim::spawn().await;
    let u1 = sim.create("m1@example.com", "eightbyeight").await;
    let u2 = sim.create("m2@example.com", "eightbyeight").await;
    assert_error_body(&sim.get(&format!("{SCIM}/groups")).await, 400, "bad.request");
    let r = sim.get(&format!("{SCIM}/groups?filter=displayName%20eq%20%22Sales%22")).await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    let gid = r.body["Resources"][0]["id"].as_str().expect("group id").to_string();
    let r = sim.get(&format!("{SCIM}/groups?filter=displayname%20eq%20Support")).await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    let r = sim.post(&format!("{SCIM}/groups"), json!({"schemas": [], "displayName": "New"})).await;
    assert_error_body(&r, 405, "method.not.allowed");
    let r = sim.req(Method::DELETE, &format!("{SCIM}/groups/{gid}"), None, &[]).await;
    assert_error_body(&r, 405, "method.not.allowed");

    let gpath = format!("{SCIM}/groups/{gid}");
    let r = sim
        .patch(&gpath, patch_ops(json!([{"op": "add", "path": "members", "value": [{"value": u1}, {"value": u2}]}])))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["members"].as_array().map(Vec::len), Some(2));
    let r =
        sim.patch(&gpath, patch_ops(json!([{"op": "remove", "path": format!("members[value eq \"{u1}\"]")}]))).await;
    assert_eq!(
        r.body["members"],
        json!([{"type": "User", "value": u2, "$ref": format!("{}{SCIM}/users/{u2}", sim.base)}])
    );
    assert_eq!(sim.state.group_members("Sales"), Some(vec![u2.clone()]));
    let user = sim.get(&format!("{SCIM}/users/{u2}")).await;
    assert_eq!(user.body["groups"][0]["value"], gid.as_str(), "{}", user.body);
    let r = sim
        .patch(&gpath, patch_ops(json!([{"op": "add", "path": "members", "value": [{"value": "no-such-user"}]}])))
        .await;
    assert_error_body(&r, 400, "bad.request");

    // Seeding through the admin route; the SCIM API then finds it.
    let r = sim.admin(Method::POST, "/sim/groups", Some(json!({"displayName": "Night Shift"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = sim.get(&format!("{SCIM}/groups?filter=displayName%20eq%20%22Night%20Shift%22")).await;
    assert_eq!(r.body["totalResults"], 1);
}

#[tokio::test]
async fn rate_limit_headers_and_429_with_retry_after() {
    let sim = Sim::spawn_with(|c| {
        c.rate_limit_per_minute = 3;
        c.rate_window = Duration::from_secs(2);
    })
    .await;
    let path = format!("{SCIM}/users");
    for n in 1..=3 {
        let r = sim.get(&path).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("inin-ratelimit-allowed"), Some("3"));
        assert_eq!(r.header("inin-ratelimit-count"), Some(n.to_string().as_str()));
        assert!(
            r.header("inin-ratelimit-reset").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| (1..=2).contains(&s))
        );
    }
    let r = sim.get(&path).await;
    assert_error_body(&r, 429, "too.many.requests");
    let retry = r.header("retry-after").and_then(|v| v.parse::<u64>().ok()).expect("Retry-After");
    assert!((1..=2).contains(&retry), "{retry}");
    assert_genesys_headers(&r);
    // Another token has its own window.
    let other = sim.state.issue_token();
    let r = sim.client.get(format!("{}{path}", sim.base)).bearer_auth(other).send().await.expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(sim.get(&path).await.status, StatusCode::OK, "a new window");
    assert_eq!(sim.state.stats().rate_limited, 1);

    // The limit and window are settable at run time.
    sim.faults(json!({"rate_limit_per_minute": 1, "window_seconds": 60})).await;
    assert_eq!(sim.get(&path).await.status, StatusCode::OK);
    assert_eq!(sim.get(&path).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn faults_on_demand() {
    let sim = Sim::spawn().await;
    let path = format!("{SCIM}/users");

    // Error rate with chosen statuses.
    sim.faults(json!({"error_rate": 1.0, "error_status": [502]})).await;
    assert_error_body(&sim.get(&path).await, 502, "bad.gateway");
    sim.admin(Method::DELETE, "/sim/faults", None).await;
    assert_eq!(sim.get(&path).await.status, StatusCode::OK);

    // A deterministic queue.
    sim.faults(json!({"fail_next": [503, 504, 429]})).await;
    assert_error_body(&sim.get(&path).await, 503, "service.unavailable");
    assert_error_body(&sim.get(&path).await, 504, "request.timeout");
    let r = sim.get(&path).await;
    assert_error_body(&r, 429, "too.many.requests");
    assert!(r.header("retry-after").is_some());
    assert_eq!(sim.get(&path).await.status, StatusCode::OK);

    // A 429 storm, with a Retry-After beyond what Genesys SDKs accept (180 s).
    sim.faults(json!({"storm_429_for_seconds": 30, "retry_after_seconds": 200})).await;
    let r = sim.get(&path).await;
    assert_error_body(&r, 429, "too.many.requests");
    assert_eq!(r.header("retry-after"), Some("200"));
    sim.faults(json!({"storm_429_for_seconds": 0, "retry_after_seconds": 0})).await;
    assert_eq!(sim.get(&path).await.status, StatusCode::OK);

    // Slow answers.
    sim.faults(json!({"latency_ms": 300})).await;
    let started = Instant::now();
    assert_eq!(sim.get(&path).await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    sim.faults(json!({"latency_ms": 0})).await;

    // Dropped connections: no answer at all.
    sim.faults(json!({"drop_connection_rate": 1.0})).await;
    let err = sim.client.get(format!("{}{path}", sim.base)).bearer_auth(&sim.token).send().await;
    assert!(err.is_err(), "expected a dropped connection, got {:?}", err.map(|r| r.status()));
    sim.faults(json!({"drop_connection_rate": 0.0})).await;
    assert_eq!(sim.get(&path).await.status, StatusCode::OK);

    // An outage: the API and the login host answer 503 until it ends.
    sim.faults(json!({"outage_for_seconds": 1})).await;
    assert_error_body(&sim.get(&path).await, 503, "service.unavailable");
    let t = sim.token_request(&basic_credentials(CLIENT_ID, CLIENT_SECRET), "grant_type=client_credentials").await;
    assert_eq!(t.status, StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(sim.get(&path).await.status, StatusCode::OK);

    // Large SCIM pages may 429 (genesys-api-notes §1.8) unless attributes trim them, or the check is off.
    assert_error_body(&sim.get(&format!("{path}?count=50")).await, 429, "too.many.requests");
    assert_eq!(sim.get(&format!("{path}?count=50&attributes=userName")).await.status, StatusCode::OK);
    sim.faults(json!({"large_page_429": false})).await;
    assert_eq!(sim.get(&format!("{path}?count=50")).await.status, StatusCode::OK);

    // A response lost after the commit: the retry meets the user it already created.
    sim.faults(json!({"lose_next": [0]})).await;
    let body = scim_user("lost@example.com", "eightbyeight", "+14155550123").to_string();
    let first = sim
        .client
        .post(format!("{}{path}", sim.base))
        .bearer_auth(&sim.token)
        .header("content-type", "application/scim+json")
        .body(body)
        .send()
        .await;
    assert!(first.is_err(), "the answer is lost");
    let retry = sim.post(&path, scim_user("lost@example.com", "eightbyeight", "+14155550123")).await;
    assert_scim_error(&retry, 409, "User name already in use by non-deleted user.");
    assert_eq!(sim.state.stats().creates_by_user_name.get("lost@example.com"), Some(&1));

    // Unknown fault names are refused, not ignored.
    let r = sim.admin(Method::POST, "/sim/faults", Some(json!({"error_rat": 1.0}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let stats = sim.state.stats();
    assert_eq!(stats.faults_injected.get("error_502"), Some(&1));
    assert_eq!(stats.faults_injected.get("drop"), Some(&1));
    assert_eq!(stats.faults_injected.get("outage"), Some(&2));
    assert_eq!(stats.dropped_connections, 2);
    let by_route = stats.by_route.get("GET /api/v2/scim/v2/users").expect("route counted");
    assert_eq!(by_route.get("dropped"), Some(&1));
    let via_http = sim.admin(Method::GET, "/sim/stats", None).await;
    assert_eq!(via_http.body["dropped_connections"], 2);
}

#[tokio::test]
async fn seed_file_and_handle_helpers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("seed.json");
    let seed = json!({
        "groups": ["Agents", {"displayName": "Supervisors"}],
        "divisions": ["East"],
        "users": [scim_user("seeded@example.com", "zoomphone", "+14155550188")]
    });
    std::fs::write(&file, seed.to_string()).expect("write seed");
    let sim = Sim::spawn_with(|c| c.seed_file = Some(file)).await;
    assert_eq!(pointer(&sim.state.profile("seeded@example.com").expect("seeded"), OTHER_PHONE), "+14155550188");
    let r = sim.get(&format!("{SCIM}/groups?filter=displayName%20eq%20Supervisors")).await;
    assert_eq!(r.body["totalResults"], 1);
    let divisions = sim.get("/api/v2/authorization/divisions").await;
    assert_eq!(divisions.body["total"], 2, "{}", divisions.body);
    let me = sim.get("/api/v2/tokens/me").await;
    assert_eq!(me.body["OAuthClient"]["id"], CLIENT_ID);

    // Expiring every token forces clients back to the login host.
    sim.state.expire_tokens();
    assert_error_body(&sim.get(&format!("{SCIM}/users")).await, 401, "bad.credentials");
    assert!(sim.state.set_faults(&FaultsUpdate { error_rate: Some(2.0), ..FaultsUpdate::default() }).is_err());
}

#[test]
fn genesys_sim_command_serves_tokens() {
    let bin = env!("CARGO_BIN_EXE_scim-bridge");
    let mut child = Command::new(bin)
        .args(["genesys-sim", "--listen", "127.0.0.1:0", "--client-id", "cli-id", "--seed-groups", "Sales,Support"])
        .args(["--rate-limit-per-minute", "2", "--window-seconds", "30"])
        .env("SCIM_BRIDGE_SIM_CLIENT_SECRET", "cli-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("genesys-sim starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    // Keep reading stderr to its end, so the simulator never writes into a closed pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().map(str::to_string));
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).ok().flatten().expect("the listening address is printed");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (token_status, limited) = rt.block_on(async {
        let client = reqwest::Client::new();
        let mut token = None;
        for _ in 0..50 {
            let sent = client
                .post(format!("http://{addr}/oauth/token"))
                .header("authorization", basic_credentials("cli-id", "cli-secret"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .send()
                .await;
            match sent {
                Ok(r) => {
                    token = Some(r);
                    break;
                }
                Err(e) => {
                    eprintln!("token request: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        let token = token.expect("token request");
        let status = token.status().as_u16();
        let body: Value = token.json().await.expect("json");
        let bearer = body["access_token"].as_str().unwrap_or_default().to_string();
        let mut last = 0;
        for _ in 0..3 {
            let r = client
                .get(format!("http://{addr}{SCIM}/groups?filter=displayName%20eq%20Sales"))
                .bearer_auth(&bearer)
                .send()
                .await
                .expect("list");
            last = r.status().as_u16();
        }
        (status, last)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!((token_status, limited), (200, 429));
}
