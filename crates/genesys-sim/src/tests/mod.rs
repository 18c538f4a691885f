//! Tests of the simulator through its routes, without a socket: [`TestSim::call`] runs a request
//! through the same checks and routes as the HTTP listener (`server::handle` for `/api/...`,
//! `admin::route` for `/sim/...`). The bridge's integration tests (tests/it/genesys_sim.rs) cover
//! the listener itself.
//!
//! * `seed`: `POST /sim/seed`, `--seed-file`, and seeding through the SCIM and Platform APIs.
//! * `strict`: the behaviours no source settles, strict by default and lenient on demand.
//! * `roles`: the role catalogue, role grants, SCIM `roles`, and what deactivation does to them.
//! * `rate_limit`: the rate limiter's scope (per token or per OAuth client), its 429s and stats.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod rate_limit;
mod roles;
mod seed;
mod strict;

use std::time::Instant;

use actix_web::web;
use serde_json::{Value, json};

use crate::server::{Outcome, handle};
use crate::{Ctx, SimConfig, SimHandle, admin};

const SCIM: &str = "/api/v2/scim/v2";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GEN: &str = "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User";
const BASE: &str = "http://sim.test";

/// A simulator state and a valid token.
struct TestSim {
    sim: SimHandle,
    token: String,
}

/// An answer: status and JSON body (`null` when empty).
#[derive(Debug)]
struct Res {
    status: u16,
    body: Value,
}

impl TestSim {
    fn new() -> TestSim {
        TestSim::with(|_| {})
    }

    fn with(adjust: impl FnOnce(&mut SimConfig)) -> TestSim {
        let mut config = SimConfig { seed_groups: vec!["Sales".into()], ..SimConfig::default() };
        adjust(&mut config);
        let sim = SimHandle::new(config).expect("simulator state");
        let token = sim.issue_token();
        TestSim { sim, token }
    }

    /// Any request; SCIM bodies go as `application/scim+json`, others as `application/json`.
    fn call(&self, method: &str, path_and_query: &str, body: Option<Value>) -> Res {
        self.call_with(method, path_and_query, body, None)
    }

    fn call_with(&self, method: &str, path_and_query: &str, body: Option<Value>, if_match: Option<&str>) -> Res {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let now = Instant::now();
        let config = self.sim.config();
        let mut inner = self.sim.lock();
        let reply = if segs.first() == Some(&"sim") {
            admin::route(&mut inner, config, method, &segs[1..], &bytes, BASE, now)
                .unwrap_or_else(|e| e.into_reply("test"))
        } else {
            let query = web::Query::<Vec<(String, String)>>::from_query(query).expect("query").into_inner();
            let content_type = if path.starts_with(SCIM) { "application/scim+json" } else { "application/json" };
            let ctx = Ctx {
                base: BASE.to_string(),
                query,
                query_error: None,
                if_match,
                if_none_match: None,
                content_type: Some(content_type),
                body: &bytes,
                token: None,
                config,
            };
            let authorization = format!("Bearer {}", self.token);
            match handle(&mut inner, ctx, method, &segs, Some(&authorization), "test").0 {
                Outcome::Reply(r) => r,
                Outcome::Drop => panic!("{method} {path}: connection dropped"),
            }
        };
        Res { status: reply.status, body: reply.body.unwrap_or(Value::Null) }
    }

    /// A request that must answer `status`; its body.
    fn ok(&self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        let r = self.call(method, path, body);
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
        r.body
    }

    fn lenient(&self, names: &[&str]) {
        self.ok("POST", "/sim/faults", Some(json!({"lenient": names})), 200);
    }

    fn scim_user(&self, id: &str) -> Value {
        self.ok("GET", &format!("{SCIM}/users/{id}"), None, 200)
    }

    fn create_scim_user(&self, body: Value) -> String {
        let b = self.ok("POST", &format!("{SCIM}/users"), Some(body), 201);
        b["id"].as_str().expect("id").to_string()
    }

    fn scim_patch(&self, kind: &str, id: &str, ops: Value) -> Res {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        self.call("PATCH", &format!("{SCIM}/{kind}/{id}"), Some(body))
    }

    fn group_id(&self, name: &str) -> String {
        let groups = self.ok("GET", "/sim/groups", None, 200);
        let g = groups.as_array().expect("list").iter().find(|g| g["displayName"] == name).expect("group");
        g["id"].as_str().expect("id").to_string()
    }
}

/// The `scimType` of a SCIM error answer.
fn scim_type(r: &Res) -> &str {
    r.body["scimType"].as_str().unwrap_or("")
}

/// A minimal SCIM user.
fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "displayName": format!("D {name}")})
}
