//! The simulator's own admin and inspection routes under `/sim/` — not part of Genesys's API.
//!
//! They need no token and are never rate-limited, faulted or counted in [`super::Stats`]: they
//! are the test harness's side door (seed groups, inject faults, read what happened, read a
//! user's internal profile). Do not expose a simulator beyond loopback.
//!
//! * `GET /sim/profiles/{userName}` — the user's profile in Genesys's internal notation
//!   (genesys-api-notes §2.2), so the JSON pointer `/contactInfo/0/phone_other/0/value/number` is the Other
//!   Phone whichever API wrote it. The non-deleted user of that name, else the last deleted one.
//! * `GET /sim/grants/{userId or userName}` — the user's direct role grants, oldest first:
//!   `{"userId", "userName", "state", "version": <the grants' version>, "grants": [{"role",
//!   "roleId", "divisionId", "division", "grantMadeAt"}]}` (by userName: the non-deleted user of
//!   that name, else the last deleted one).
//! * `POST /sim/groups` `{"displayName": "Sales"}` (or `{"name": ...}`) — seed a group (201, or
//!   200 when it exists); `GET /sim/groups` — all groups.
//! * `POST /sim/seed` — seed an existing organisation: the JSON of `--seed-file` (the format is
//!   in `seed.rs` and in docs/genesys-api-notes.md §8, "Seeding the simulator"), for example
//!   `{"users": [{"userName": "jane@example.com", "displayName": "Jane", "title": "Agent",
//!   "phoneNumbers": [{"type": "mobile", "value": "+14155550101"}]}], "groups": [{"displayName":
//!   "Sales", "members": ["jane@example.com"]}]}`. 200 with what was created (`{"users":
//!   [{"userName", "id"}], "groups": [{"displayName", "id"}], "divisions": [{"name", "id"}]}`);
//!   400 with the reason on a bad seed, and then nothing of it is applied.
//! * `GET /sim/stats`, `DELETE /sim/stats` (reset). Besides the counts, `rate_limit_scope` (the
//!   scope in force) and `requests_by_client` (requests the limiter admitted, per OAuth client id).
//! * `GET /sim/requests` — the last 10,000 API requests as received (method, decoded path and
//!   query, JSON body, status), oldest first; `DELETE /sim/requests` forgets them.
//! * `GET /sim/faults`, `POST /sim/faults` (merge a [`super::FaultsUpdate`]), `DELETE
//!   /sim/faults` (back to the start-up settings). Its `lenient` list turns on the lenient side
//!   of behaviours no source settles ([`super::Leniency`]; strict by default); its
//!   `rate_limit_scope` (`"token"` or `"client"`) says what the limiter counts together. A change
//!   of the limit, the window or the scope restarts every window.
//! * `POST /sim/tokens` — a token without the OAuth round trip; `GET /sim/tokens` — the valid
//!   ones (to check that none leaked into a log); `DELETE /sim/tokens` — expire every token
//!   (clients must fetch a new one).
//! * `POST /sim/reset` — forget users, memberships, grants and stats (groups, roles, tokens,
//!   faults stay).
//!
//! Must not import: actix (only `server` speaks HTTP), or anything of the bridge.

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::faults::{Faults, FaultsUpdate, Stats};
use super::patch::get_ci;
use super::scim::{iso, render_group};
use super::store::{SimUser, Store};
use super::wire::{Answer, ApiError, Reply};
use super::{Inner, SimConfig};

/// The profile notation of genesys-api-notes §2.2: `{"contactInfo": [{"phone_other": [{"value": {"number"}}]}]}`.
pub(crate) fn profile(store: &Store, u: &SimUser) -> Value {
    let one = |v: &str| json!([{"value": v}]);
    let mut general = Map::new();
    general.insert("name".into(), one(&u.display_name));
    if let Some(t) = &u.title {
        general.insert("title".into(), one(t));
    }
    if let Some(d) = &u.department {
        general.insert("department".into(), one(d));
    }
    let mut contact = Map::new();
    contact.insert("email_main".into(), one(&u.user_name));
    if let Some(w) = &u.work_email {
        contact.insert("email_work".into(), one(w));
    }
    let primary = u.primary_phone();
    for (slot, p) in &u.phones {
        let mut value = Map::new();
        if let Some(n) = &p.number {
            value.insert("number".into(), json!(n));
        }
        if let Some(e) = &p.extension {
            value.insert("extension".into(), json!(e));
        }
        if let Some(c) = &p.country_code {
            value.insert("countryCode".into(), json!(c));
        }
        let mut entry = json!({"value": value, "primary": primary == Some(*slot)});
        if *slot == super::store::PhoneSlot::Other {
            entry["scimType"] = json!(u.other_written_as);
        }
        if let Some(i) = &p.integration {
            entry["integration"] = json!(i);
        }
        contact.insert(slot.profile_key().into(), json!([entry]));
    }
    let mut body = json!({
        "id": u.id,
        "userName": u.user_name,
        "state": u.state.as_str(),
        "version": u.version,
        "divisionId": u.division_id,
        "division": store.division_name(&u.division_id),
        "general": general,
        "contactInfo": [contact],
    });
    if let Some(m) = &u.manager {
        body["relationships"] = json!({"manager": [{"value": m}]});
    }
    if let Some(d) = &u.date_hire {
        body["hr"] = json!({"hireDate": [{"value": d}]});
    }
    if let Some(n) = &u.employee_number {
        body["hr"]["employeeId"] = json!([{"value": n}]);
    }
    if let Some(x) = &u.external_id {
        body["externalId"] = json!(x);
    }
    body
}

/// One direct grant of a user, as `GET /sim/grants/{user}` and [`super::SimHandle::grants`] show
/// it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantInfo {
    /// The role's name.
    pub role: String,
    pub role_id: String,
    pub division_id: String,
    /// The division's name.
    pub division: String,
    /// When the grant was made (ISO-8601).
    pub grant_made_at: String,
}

/// A user's direct grants, oldest first.
pub(crate) fn grant_infos(store: &Store, user_id: &str) -> Vec<GrantInfo> {
    store
        .grants(user_id)
        .iter()
        .map(|g| GrantInfo {
            role: store.role(&g.role_id).map(|r| r.name.clone()).unwrap_or_default(),
            role_id: g.role_id.clone(),
            division_id: g.division_id.clone(),
            division: store.division_name(&g.division_id).to_string(),
            grant_made_at: iso(g.made_at),
        })
        .collect()
}

/// Route `/sim/...` (`rest` is the path after `sim`).
pub(crate) fn route(
    inner: &mut Inner,
    config: &SimConfig,
    method: &str,
    rest: &[&str],
    body: &[u8],
    base: &str,
    now: Instant,
) -> Answer {
    match (method, rest) {
        ("GET", ["profiles", user_name]) => {
            let u = inner.store.user_by_name_any(user_name).ok_or_else(ApiError::not_found)?;
            Ok(Reply::json(200, profile(&inner.store, u)))
        }
        ("GET", ["grants", user]) => {
            let store = &inner.store;
            let u = store.user(user).or_else(|| store.user_by_name_any(user)).ok_or_else(ApiError::not_found)?;
            let grants = serde_json::to_value(grant_infos(store, &u.id)).unwrap_or(Value::Null);
            Ok(Reply::json(
                200,
                json!({
                    "userId": u.id,
                    "userName": u.user_name,
                    "state": u.state.as_str(),
                    "version": store.grants_version(&u.id),
                    "grants": grants,
                }),
            ))
        }
        ("POST", ["groups"]) => {
            let v: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("Invalid JSON: {e}")))?;
            let name = match &v {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => {
                    get_ci(o, "displayName").or_else(|| get_ci(o, "name")).and_then(Value::as_str).map(str::to_string)
                }
                _ => None,
            };
            let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
                return Err(ApiError::bad_request("Send {\"displayName\": \"<group name>\"}"));
            };
            let existed = inner.store.groups().iter().any(|g| g.display_name.eq_ignore_ascii_case(&name));
            let g = inner.store.seed_group(&name);
            Ok(Reply::json(if existed { 200 } else { 201 }, render_group(g, base)))
        }
        ("POST", ["seed"]) => {
            let v: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("The seed is not JSON: {e}")))?;
            let report =
                super::seed_copy(&mut inner.store, &v).map_err(|e| ApiError::bad_request(format!("Bad seed: {e}")))?;
            Ok(Reply::json(200, report))
        }
        ("GET", ["groups"]) => {
            let all: Vec<Value> = inner.store.groups().iter().map(|g| render_group(g, base)).collect();
            Ok(Reply::json(200, Value::Array(all)))
        }
        ("GET", ["stats"]) => Ok(Reply::json(200, stats_json(&inner.stats_view()))),
        ("DELETE", ["stats"]) => {
            inner.stats = Stats::default();
            Ok(Reply::empty(204))
        }
        ("GET", ["requests"]) => Ok(Reply::json(200, serde_json::to_value(&inner.journal).unwrap_or(Value::Null))),
        ("DELETE", ["requests"]) => {
            inner.journal.clear();
            Ok(Reply::empty(204))
        }
        ("GET", ["faults"]) => Ok(Reply::json(200, faults_json(&inner.faults, now))),
        ("POST", ["faults"]) => {
            let update: FaultsUpdate = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("Invalid fault settings: {e}")))?;
            update.validate().map_err(|e| ApiError::bad_request(e.0))?;
            if inner.faults.apply(&update, now) {
                inner.limiter.clear();
            }
            Ok(Reply::json(200, faults_json(&inner.faults, now)))
        }
        ("DELETE", ["faults"]) => {
            inner.faults = initial_faults(config, now, false);
            inner.limiter.clear();
            Ok(Reply::json(200, faults_json(&inner.faults, now)))
        }
        ("GET", ["tokens"]) => {
            let live: Vec<Value> = inner.tokens.live(now).into_iter().map(|t| json!({"access_token": t})).collect();
            Ok(Reply::json(200, Value::Array(live)))
        }
        ("POST", ["tokens"]) => {
            let token = inner.tokens.issue(now, config.token_lifetime, &config.client_id);
            Ok(Reply::json(200, json!({"access_token": token, "token_type": "bearer"})))
        }
        ("DELETE", ["tokens"]) => {
            inner.tokens.expire_all();
            Ok(Reply::empty(204))
        }
        ("POST", ["reset"]) => {
            inner.store.clear_users();
            inner.stats = Stats::default();
            Ok(Reply::empty(204))
        }
        (
            _,
            ["profiles", _]
            | ["grants", _]
            | ["groups"]
            | ["seed"]
            | ["stats"]
            | ["requests"]
            | ["faults"]
            | ["tokens"]
            | ["reset"],
        ) => Err(ApiError::method_not_allowed(method)),
        _ => Err(ApiError::not_found()),
    }
}

/// The fault settings a simulator starts with; on `DELETE /sim/faults` (`at_start` false) the
/// same without the one-off storm, outage and queues of the start-up settings.
pub(crate) fn initial_faults(config: &SimConfig, now: Instant, at_start: bool) -> Faults {
    let mut f = Faults::new(config.rate_limit_per_minute, config.rate_window, config.rate_limit_scope);
    let mut settings = config.faults.clone();
    if !at_start {
        settings.storm_429_for_seconds = None;
        settings.outage_for_seconds = None;
        settings.fail_next = None;
        settings.lose_next = None;
    }
    f.apply(&settings, now);
    f
}

fn stats_json(s: &Stats) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

fn faults_json(f: &Faults, now: Instant) -> Value {
    serde_json::to_value(f.view(now)).unwrap_or(Value::Null)
}
