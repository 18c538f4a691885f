//! `TestApp::spawn()`: the real server on 127.0.0.1:0 with a fresh SQLite file.

use std::net::SocketAddr;
use std::sync::mpsc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

use scim_bridge::config::{Config, GenesysCloud, GenesysTarget, Secret};
use scim_bridge::genesys::api::Endpoints;
use scim_bridge::genesys::simulator::{ClientSecret, SimConfig};

pub const TOKEN: &str = "test-bootstrap-token";

pub struct TestApp {
    pub addr: SocketAddr,
    /// The built-in Genesys simulator the bridge forwards to.
    pub sim: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    /// Holds the SQLite file (and is removed with the app).
    _dir: TempDir,
    /// The database the bridge serves from: a SQLite file in `dir`, or a PostgreSQL database.
    pub db: String,
    handle: actix_web::dev::ServerHandle,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Assert a SCIM error with this status and scimType.
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "body: {}", self.body);
        assert_eq!(self.body["status"], Value::String(status.to_string()), "body: {}", self.body);
        assert_eq!(self.body.get("scimType").and_then(Value::as_str), scim_type, "body: {}", self.body);
        assert!(self.body["detail"].as_str().is_some_and(|d| d.len() > 10), "detail should help: {}", self.body);
        assert!(self.header("content-type").is_some_and(|c| c.starts_with("application/scim+json")));
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// The bridge forwarding to `sim` as it would to Genesys Cloud: with OAuth credentials, so
    /// a dry run may read it.
    pub async fn spawn_against(sim: &OwnSim, adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_against_addr(sim.addr, adjust).await
    }

    /// As [`Self::spawn_against`], for a simulator that will listen at `addr` (perhaps not yet).
    pub async fn spawn_against_addr(addr: SocketAddr, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let base = format!("http://{addr}");
        let target = GenesysTarget::Cloud(GenesysCloud {
            endpoints: Endpoints::explicit(&base, &base),
            region: None,
            client_id: OwnSim::CLIENT_ID.to_string(),
            client_secret: Secret::new(OwnSim::CLIENT_SECRET),
        });
        Self::spawn_inner(
            |c| {
                c.genesys.target = target;
                adjust(c);
            },
            Some(addr),
        )
        .await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_inner(adjust, None).await
    }

    async fn spawn_inner(adjust: impl FnOnce(&mut Config), own_sim: Option<SocketAddr>) -> TestApp {
        if std::env::var("TEST_LOG").is_ok() {
            scim_bridge::telemetry::init(scim_bridge::telemetry::LogFormat::Text);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let db = scim_bridge::store::test_database(dir.path(), "test.db").unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            database_url: db.clone(),
            bootstrap_token: Some(Secret::new(TOKEN)),
            workers: 2,
            ..Config::default()
        };
        adjust(&mut config);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let running = scim_bridge::http::start(config).expect("server starts");
                let sim = running.forwarding.simulator.as_ref().map(|s| s.addr).or(own_sim).expect("simulator runs");
                tx.send((running.addr, sim, running.server.handle())).expect("send addr");
                let _ = running.server.await;
            });
        });
        let (addr, sim, handle) = rx.recv().expect("server address");
        TestApp {
            addr,
            sim,
            base: format!("http://{addr}/scim/v2"),
            // Idle connections are dropped before the server's 5 s keep-alive closes them, so a
            // request never goes out on a connection the server is closing at that moment.
            client: reqwest::Client::builder()
                .pool_idle_timeout(std::time::Duration::from_secs(3))
                .build()
                .expect("client"),
            _dir: dir,
            db,
            handle,
        }
    }

    pub fn db_path(&self) -> String {
        self.db.clone()
    }

    /// Any request, with the bootstrap token, a JSON body typed application/scim+json.
    pub async fn req(&self, method: Method, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Resp {
        let url = if path.starts_with("http") { path.to_string() } else { format!("{}{}", self.base, path) };
        let mut rb = self.client.request(method, url).bearer_auth(TOKEN);
        if let Some(b) = body {
            rb = rb.header("content-type", "application/scim+json").body(b.to_string());
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let resp = rb.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Resp { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.req(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.req(Method::POST, path, Some(body), &[]).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.req(Method::PUT, path, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.req(Method::PATCH, path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.req(Method::DELETE, path, None, &[]).await
    }

    /// Create a user and return its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let r = self.post("/Users", user_body(user_name)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().expect("id").to_string()
    }

    /// Create a group and return its id.
    pub async fn create_group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let r = self
            .post(
                "/Groups",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().expect("id").to_string()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let h = self.handle.clone();
        drop(h.stop(false));
    }
}

pub fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "displayName": format!("Display {user_name}"),
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+14155550100", "type": "eightbyeight"}],
        "active": true
    })
}

pub fn patch_body(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// A query-string-safe filter.
pub fn q(filter: &str) -> String {
    let mut out = String::new();
    for b in filter.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A Genesys simulator of the test's own, on its own thread (not the bridge's built-in one), as
/// a test seeds an org in it before the bridge starts.
pub struct OwnSim {
    pub addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
}

impl OwnSim {
    pub const CLIENT_ID: &'static str = "own-sim-client";
    pub const CLIENT_SECRET: &'static str = "own-sim-secret";

    pub fn start(adjust: impl FnOnce(&mut SimConfig)) -> OwnSim {
        let mut config = SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            client_id: Self::CLIENT_ID.to_string(),
            client_secret: ClientSecret::new(Self::CLIENT_SECRET),
            ..SimConfig::default()
        };
        adjust(&mut config);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let running = scim_bridge::genesys::simulator::start(config).expect("simulator starts");
                tx.send((running.addr, running.server.handle())).expect("send addr");
                let _ = running.server.await;
            });
        });
        let (addr, handle) = rx.recv().expect("simulator address");
        OwnSim { addr, handle }
    }
}

impl Drop for OwnSim {
    fn drop(&mut self) {
        // Stop without waiting: the server's thread ends with it.
        drop(self.handle.stop(false));
    }
}

/// The audit context of a write a test makes on the store directly: a stored token `test`.
pub fn audit_context() -> scim_bridge::store::AuditContext {
    scim_bridge::store::AuditContext {
        actor: scim_bridge::store::Actor::Token("test".into()),
        address: None,
        request_id: None,
    }
}
