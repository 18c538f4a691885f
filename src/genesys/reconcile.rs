//! `scim-bridge reconcile`: compare the bridge's users with the users Genesys Cloud holds, the
//! 8x8 number (the Other Phone) above all, and report what is missing in Genesys, what differs,
//! and what is present only in Genesys; `--apply` queues a sync of the first two through the
//! outbox (users present only in Genesys are reported, never deleted: the bridge did not make
//! them).
//!
//! [`compare`] is pure (mapped users and Genesys SCIM users in, a [`Report`] out); [`run`] reads
//! both sides (the store, and Genesys's SCIM users through the client, 25 a page as genesys-api-notes §1.8
//! advises). The report holds e-mail addresses and numbers: it is for operators' eyes (the CLI,
//! /admin), never for the logs.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Map, Value};

use super::api::phones::OTHER_PHONE_TYPES;
use super::api::{ApiRequest, wire};
use super::client::{Client, ClientError};
use super::mapping::{self, AdoptPolicy, MappedUser, MappingConfig};
use super::plan::{self, Change, Known, Plan};
use crate::store::{Ownership, Store, StoreError};
use scim::list::ListParams;
use scim::schema::ResourceKind;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub bridge_users: usize,
    pub genesys_users: usize,
    pub in_sync: usize,
    pub missing_in_genesys: Vec<Missing>,
    pub different: Vec<Different>,
    pub only_in_genesys: Vec<OnlyInGenesys>,
    /// Bridge users whose userName a Genesys user has that the bridge did not create or adopt:
    /// what delivery would do (park, or adopt when allowed).
    pub collisions: Vec<Collision>,
    /// Bridge users the mapping cannot send (their change is parked too): fix them at the IdP.
    pub unmappable: Vec<Unmappable>,
    /// With `--apply`: how many syncs were queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Missing {
    pub id: String,
    pub user_name: String,
    /// What `--apply` would send for it (the outbox worker's plan, as the dry run shows it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<PlannedRequest>,
}

/// One request of a plan, as reports show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedRequest {
    pub method: &'static str,
    /// Path and query, relative to the Genesys API base.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// The requests the worker would start with for `m`, given its Genesys id if it has one.
fn planned(m: &MappedUser, genesys_id: Option<&str>, settings: plan::Settings) -> Vec<PlannedRequest> {
    let known = Known { genesys_id: genesys_id.map(str::to_string), ..Known::default() };
    match plan::plan(&Change::SyncUser(m), &known, settings) {
        Plan::Send(steps) => steps
            .into_iter()
            .map(|s| PlannedRequest {
                method: s.request.verb.as_str(),
                path: s.request.target(),
                body: s.body.json().cloned(),
            })
            .collect(),
        Plan::Done | Plan::Park(_) | Plan::Wait(..) => Vec::new(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Different {
    pub id: String,
    pub user_name: String,
    pub genesys_id: String,
    pub fields: Vec<FieldDiff>,
    /// What `--apply` would send for it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<PlannedRequest>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    pub field: &'static str,
    pub bridge: Option<String>,
    pub genesys: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlyInGenesys {
    pub genesys_id: String,
    pub user_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Collision {
    pub id: String,
    pub user_name: String,
    pub genesys_id: String,
    /// `parked` (the default `genesys.adopt = never`) or `adopted`.
    pub outcome: &'static str,
    /// What to do, or what adopting means.
    pub detail: String,
    /// What `--apply` would send (only when the user would be adopted).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<PlannedRequest>,
}

/// What the bridge owns in Genesys, for telling its users from an administrator's.
#[derive(Debug, Clone, Default)]
pub struct Owners {
    /// No ownership records to go by: every Genesys user with a bridge user's userName is taken
    /// as the bridge's ([`compare`]).
    pub unchecked: bool,
    /// What a create meeting a user the bridge does not own does.
    pub policy: AdoptPolicy,
    /// Genesys ids of the users the bridge created or adopted (or is linked to).
    pub owned: std::collections::HashSet<String>,
    /// Per bridge user id: how the bridge owns (or may adopt) its Genesys user.
    pub by_bridge_id: HashMap<String, Ownership>,
}

impl Owners {
    /// Whether the Genesys user `genesys_id`, found by the userName of bridge user `id`, is the
    /// bridge's to change; `Err(outcome)` for a collision.
    fn judge(&self, id: &str, genesys_id: &str) -> Result<(), (&'static str, String)> {
        let how = self.by_bridge_id.get(id).copied();
        if self.unchecked
            || self.owned.contains(genesys_id)
            || matches!(how, Some(Ownership::Creating | Ownership::Created))
        {
            return Ok(());
        }
        if how == Some(Ownership::AdoptAllowed) {
            return Err(("adopted", "an operator allowed adopting it (`scim-bridge outbox adopt`)".into()));
        }
        if self.policy == AdoptPolicy::ByUserName {
            return Err(("adopted", "genesys.adopt = by-username adopts it".into()));
        }
        Err((
            "parked",
            format!(
                "not created by the bridge: its change is parked and the Genesys user left as it is. Run \
                 `scim-bridge outbox adopt {id}` to let the bridge take it over, or set \
                 SCIM_BRIDGE_GENESYS_ADOPT=by-username for all; or change the userName at the identity provider"
            ),
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unmappable {
    pub id: String,
    pub error: String,
}

impl Report {
    /// Whether Genesys matches the bridge.
    pub fn is_clean(&self) -> bool {
        self.missing_in_genesys.is_empty()
            && self.different.is_empty()
            && self.unmappable.is_empty()
            && self.collisions.is_empty()
    }

    /// The bridge ids a sync would fix (missing, different, and collisions that adopt).
    pub fn to_fix(&self) -> Vec<String> {
        self.missing_in_genesys
            .iter()
            .map(|m| m.id.clone())
            .chain(self.different.iter().map(|d| d.id.clone()))
            .chain(self.collisions.iter().filter(|c| c.outcome == "adopted").map(|c| c.id.clone()))
            .collect()
    }

    /// The human-readable form.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "reconcile: {} bridge users, {} Genesys users; {} in sync, {} missing in Genesys, {} different, {} only in Genesys, {} collisions, {} cannot be mapped\n",
            self.bridge_users,
            self.genesys_users,
            self.in_sync,
            self.missing_in_genesys.len(),
            self.different.len(),
            self.only_in_genesys.len(),
            self.collisions.len(),
            self.unmappable.len()
        );
        if !self.collisions.is_empty() {
            out.push_str("\nCollisions (a Genesys user has the userName, and the bridge did not create it):\n");
            for c in &self.collisions {
                out.push_str(&format!(
                    "  {}  (bridge id {}, Genesys id {}): {}; {}\n",
                    c.user_name, c.id, c.genesys_id, c.outcome, c.detail
                ));
                push_plan(&mut out, &c.plan);
            }
        }
        if !self.missing_in_genesys.is_empty() {
            out.push_str("\nMissing in Genesys:\n");
            for m in &self.missing_in_genesys {
                out.push_str(&format!("  {}  (bridge id {})\n", m.user_name, m.id));
                push_plan(&mut out, &m.plan);
            }
        }
        if !self.different.is_empty() {
            out.push_str("\nDifferent:\n");
            for d in &self.different {
                out.push_str(&format!("  {}  (bridge id {}, Genesys id {})\n", d.user_name, d.id, d.genesys_id));
                for f in &d.fields {
                    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
                    out.push_str(&format!(
                        "    {}: bridge {}, Genesys {}\n",
                        f.field,
                        show(&f.bridge),
                        show(&f.genesys)
                    ));
                }
                push_plan(&mut out, &d.plan);
            }
        }
        if !self.only_in_genesys.is_empty() {
            out.push_str("\nOnly in Genesys (not made by the bridge; left alone):\n");
            for o in &self.only_in_genesys {
                out.push_str(&format!("  {}  (Genesys id {})\n", o.user_name, o.genesys_id));
            }
        }
        if !self.unmappable.is_empty() {
            out.push_str("\nCannot be sent to Genesys (fix at the identity provider):\n");
            for u in &self.unmappable {
                out.push_str(&format!("  bridge id {}: {}\n", u.id, u.error));
            }
        }
        if let Some(n) = self.queued {
            out.push_str(&format!("\n{n} sync(s) queued through the outbox.\n"));
        }
        out
    }
}

/// The planned requests under a report entry.
fn push_plan(out: &mut String, plan: &[PlannedRequest]) {
    for r in plan {
        out.push_str(&format!("    would send: {} {}\n", r.method, r.path));
    }
}

/// The Other Phone of a Genesys SCIM user: the eightbyeight entry, else another type that
/// writes that field.
fn genesys_other_phone(user: &Value) -> Option<String> {
    let phones = user.get("phoneNumbers")?.as_array()?;
    let of_type = |t: &str| {
        phones.iter().find(|p| p.get("type").and_then(Value::as_str).is_some_and(|pt| pt.eq_ignore_ascii_case(t)))
    };
    OTHER_PHONE_TYPES.iter().find_map(|t| of_type(t)).and_then(|p| p.get("value")?.as_str()).map(str::to_string)
}

fn text(user: &Value, key: &str) -> Option<String> {
    user.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A bridge user: its id and what the mapping made of it (or why it could not).
pub type MappedBridgeUser = (String, Result<MappedUser, String>);

/// Compare mapped bridge users with Genesys's SCIM users; each user missing or different
/// carries the plan `--apply` would start (sent in the default settings' API mode).
/// Without ownership records: every Genesys user with a bridge user's userName counts as the
/// bridge's ([`Owners::unchecked`]).
pub fn compare(bridge: Vec<MappedBridgeUser>, genesys: &[Value]) -> Report {
    let owners = Owners { unchecked: true, ..Owners::default() };
    compare_with(bridge, genesys, plan::Settings::default(), &owners)
}

/// [`compare`] with the settings the plans are made with and what the bridge owns.
pub fn compare_with(
    bridge: Vec<MappedBridgeUser>,
    genesys: &[Value],
    settings: plan::Settings,
    owners: &Owners,
) -> Report {
    let mut by_name: HashMap<String, &Value> = HashMap::new();
    for g in genesys {
        if let Some(name) = g.get("userName").and_then(Value::as_str) {
            by_name.insert(name.to_lowercase(), g);
        }
    }
    let mut report = Report {
        bridge_users: bridge.len(),
        genesys_users: genesys.len(),
        in_sync: 0,
        missing_in_genesys: Vec::new(),
        different: Vec::new(),
        only_in_genesys: Vec::new(),
        collisions: Vec::new(),
        unmappable: Vec::new(),
        queued: None,
    };
    let mut matched = std::collections::HashSet::new();
    for (id, mapped) in bridge {
        let m = match mapped {
            Ok(m) => m,
            Err(error) => {
                report.unmappable.push(Unmappable { id, error });
                continue;
            }
        };
        let key = m.user_name().to_lowercase();
        let Some(g) = by_name.get(&key) else {
            let plan = planned(&m, None, settings);
            report.missing_in_genesys.push(Missing { id, user_name: m.user_name().to_string(), plan });
            continue;
        };
        matched.insert(key);
        let genesys_id = text(g, "id").unwrap_or_default();
        if let Err((outcome, detail)) = owners.judge(&id, &genesys_id) {
            let plan = if outcome == "adopted" { planned(&m, Some(&genesys_id), settings) } else { Vec::new() };
            let user_name = m.user_name().to_string();
            report.collisions.push(Collision { id, user_name, genesys_id, outcome, detail, plan });
            continue;
        }
        let mut fields = Vec::new();
        let mut check = |field, bridge: Option<String>, genesys: Option<String>| {
            if bridge != genesys {
                fields.push(FieldDiff { field, bridge, genesys });
            }
        };
        check("8x8 number (Other Phone)", m.eight_by_eight_number().map(str::to_string), genesys_other_phone(g));
        check("displayName", Some(m.display_name().to_string()), text(g, "displayName"));
        let g_active = g.get("active").and_then(Value::as_bool).unwrap_or(true);
        check("active", Some(m.active().to_string()), Some(g_active.to_string()));
        check("title", m.title().map(str::to_string), text(g, "title"));
        if fields.is_empty() {
            report.in_sync += 1;
        } else {
            let plan = planned(&m, Some(&genesys_id), settings);
            report.different.push(Different { id, user_name: m.user_name().to_string(), genesys_id, fields, plan });
        }
    }
    let mut only: BTreeMap<String, OnlyInGenesys> = BTreeMap::new();
    for g in genesys {
        let Some(name) = g.get("userName").and_then(Value::as_str) else { continue };
        if !matched.contains(&name.to_lowercase()) {
            only.insert(
                name.to_lowercase(),
                OnlyInGenesys { genesys_id: text(g, "id").unwrap_or_default(), user_name: name.to_string() },
            );
        }
    }
    report.only_in_genesys = only.into_values().collect();
    report
}

/// Why a reconcile could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("reading the bridge's users: {0}")]
    Store(#[from] StoreError),
    #[error("reading Genesys's users: {0}")]
    Genesys(#[from] ClientError),
}

/// Genesys's users through its SCIM API, 25 a page.
async fn genesys_users(client: &Client) -> Result<Vec<Value>, ClientError> {
    let mut all = Vec::new();
    let mut start = 1u64;
    loop {
        let page = client.send(&ApiRequest::scim_users_page(start)).await?.body;
        let resources = wire::list_resources(&page).to_vec();
        let total = wire::list_total(&page);
        let n = resources.len() as u64;
        all.extend(resources);
        start += n;
        if n == 0 || start > total {
            return Ok(all);
        }
    }
}

/// The bridge's users, mapped (manager ids from the stored links).
fn bridge_users(store: &Store, cfg: &MappingConfig) -> Result<Vec<MappedBridgeUser>, StoreError> {
    let rt = ResourceKind::User.resource_type();
    let mut out = Vec::new();
    let mut start = 1u64;
    loop {
        let params = ListParams {
            start_index: start,
            count: Some(500),
            sort_by: None,
            sort_order: Default::default(),
            filter: None,
            cursor: None,
        };
        let page = store.list(rt, &params, None)?;
        let n = page.resources.len() as u64;
        for r in page.resources {
            let id = r.id.clone();
            let doc: Map<String, Value> = r.into_full_document();
            let mut ids = BTreeMap::new();
            if let Some(m) = mapping::manager_bridge_id(&doc)
                && let Some(g) = store.genesys_link(ResourceKind::User, m)?
            {
                ids.insert(m.to_string(), g);
            }
            out.push((id, mapping::map_user(&doc, cfg, &ids).map_err(|e| e.to_string())));
        }
        start += n;
        if n == 0 || start > page.total {
            return Ok(out);
        }
    }
}

/// What the bridge owns, from its links and ownership records of `bridge`'s users.
fn owners(store: &Store, bridge: &[MappedBridgeUser], policy: AdoptPolicy) -> Result<Owners, StoreError> {
    let mut owners = Owners { policy, ..Owners::default() };
    owners.owned.extend(store.owned_genesys_ids()?);
    for (id, _) in bridge {
        if let Some(g) = store.genesys_link(ResourceKind::User, id)? {
            owners.owned.insert(g);
        }
        if let Some(o) = store.owned_user(id)? {
            owners.by_bridge_id.insert(id.clone(), o.how);
        }
    }
    Ok(owners)
}

/// Read both sides and compare; with `apply`, queue a sync of every user missing or different.
/// The report is kept in the store (the last one shows on /admin).
pub async fn run(
    store: std::sync::Arc<Store>,
    client: &Client,
    cfg: &MappingConfig,
    adopt: AdoptPolicy,
    apply: bool,
) -> Result<Report, ReconcileError> {
    let genesys = genesys_users(client).await?;
    let (s, c) = (store.clone(), cfg.clone());
    let (bridge, owners) = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
        let bridge = bridge_users(&s, &c)?;
        let owners = owners(&s, &bridge, adopt)?;
        Ok((bridge, owners))
    })
    .await
    .map_err(|_| StoreError::Internal("the reading task failed".into()))??;
    let settings = plan::Settings { api: cfg.api, delete_mode: mapping::DeleteMode::default() };
    let mut report = compare_with(bridge, &genesys, settings, &owners);
    let s = store.clone();
    let fix = report.to_fix();
    let apply_result = tokio::task::spawn_blocking(move || -> Result<Option<usize>, StoreError> {
        let queued = if apply { Some(s.outbox_sync(ResourceKind::User, fix)?) } else { None };
        Ok(queued)
    })
    .await
    .map_err(|_| StoreError::Internal("the writing task failed".into()))??;
    report.queued = apply_result;
    let s = store;
    let json = serde_json::to_value(&report).unwrap_or(Value::Null);
    tokio::task::spawn_blocking(move || s.save_reconcile_report(&json))
        .await
        .map_err(|_| StoreError::Internal("the writing task failed".into()))??;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapped(user_name: &str, number: Option<&str>, title: Option<&str>) -> MappedBridgeUser {
        let mut doc = json!({
            "id": format!("id-{user_name}"), "userName": user_name, "displayName": "Jane Doe", "active": true,
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]
        });
        if let Some(n) = number {
            doc["phoneNumbers"] = json!([{"type": "eightbyeight", "value": n}]);
        }
        if let Some(t) = title {
            doc["title"] = json!(t);
        }
        let doc = doc.as_object().unwrap().clone();
        let m = mapping::map_user(&doc, &MappingConfig::default(), &BTreeMap::new()).map_err(|e| e.to_string());
        (format!("id-{user_name}"), m)
    }

    fn genesys(user_name: &str, phones: Value, title: Option<&str>) -> Value {
        let mut g = json!({"id": format!("g-{user_name}"), "userName": user_name, "displayName": "Jane Doe",
            "active": true, "phoneNumbers": phones});
        if let Some(t) = title {
            g["title"] = json!(t);
        }
        g
    }

    #[test]
    fn users_are_matched_by_user_name_case_insensitively_and_compared_field_by_field() {
        let bridge = vec![
            mapped("same@example.com", Some("+14155550100"), None),
            mapped("Moved@Example.com", Some("+14155550101"), Some("Agent")),
            mapped("missing@example.com", Some("+14155550102"), None),
        ];
        let genesys_side = vec![
            genesys("same@example.com", json!([{"type": "eightbyeight", "value": "+14155550100"}]), None),
            genesys("moved@example.com", json!([{"type": "other", "value": "+14155550999"}]), Some("Agent")),
            genesys("stranger@example.com", json!([]), None),
        ];
        let r = compare(bridge, &genesys_side);
        assert_eq!((r.bridge_users, r.genesys_users, r.in_sync), (3, 3, 1));
        assert_eq!(r.missing_in_genesys.len(), 1);
        let missing = &r.missing_in_genesys[0];
        assert_eq!(
            (missing.id.as_str(), missing.user_name.as_str()),
            ("id-missing@example.com", "missing@example.com")
        );
        let shown = |p: &[PlannedRequest]| p.iter().map(|r| format!("{} {}", r.method, r.path)).collect::<Vec<_>>();
        assert_eq!(shown(&missing.plan), ["POST /api/v2/scim/v2/users"], "--apply would create it");
        assert_eq!(r.different.len(), 1);
        let g = r.different[0].genesys_id.clone();
        assert_eq!(
            shown(&r.different[0].plan),
            [format!("PATCH /api/v2/scim/v2/users/{g}")],
            "--apply would update it"
        );
        assert_eq!(
            r.different[0].fields,
            vec![FieldDiff {
                field: "8x8 number (Other Phone)",
                bridge: Some("+14155550101".into()),
                genesys: Some("+14155550999".into())
            }],
            "the Other Phone is read from type other when no eightbyeight entry exists"
        );
        assert_eq!(r.only_in_genesys.len(), 1);
        assert_eq!(r.only_in_genesys[0].user_name, "stranger@example.com");
        assert!(!r.is_clean());
        assert_eq!(r.to_fix(), vec!["id-missing@example.com".to_string(), "id-Moved@Example.com".to_string()]);
        let text = r.to_text();
        assert!(text.contains("1 in sync, 1 missing in Genesys, 1 different, 1 only in Genesys"), "{text}");
        assert!(text.contains("would send: POST /api/v2/scim/v2/users\n"), "{text}");
    }

    #[test]
    fn a_genesys_user_the_bridge_does_not_own_is_a_collision_parked_or_adopted_as_delivery_would() {
        let bridge = || {
            vec![
                mapped("mine@example.com", Some("+14155550100"), None),
                mapped("ana@example.com", Some("+14155550101"), None),
                mapped("adopt-me@example.com", Some("+14155550102"), None),
            ]
        };
        let genesys_side = vec![
            genesys("mine@example.com", json!([{"type": "eightbyeight", "value": "+14155550100"}]), None),
            genesys("ana@example.com", json!([]), Some("Team Lead")),
            genesys("adopt-me@example.com", json!([]), None),
        ];
        let mut owners = Owners::default();
        owners.owned.insert("g-mine@example.com".into());
        owners.by_bridge_id.insert("id-adopt-me@example.com".into(), Ownership::AdoptAllowed);
        let r = compare_with(bridge(), &genesys_side, plan::Settings::default(), &owners);
        assert_eq!(r.in_sync, 1, "the bridge's own user is compared as before");
        let seen: Vec<(&str, &str)> = r.collisions.iter().map(|c| (c.user_name.as_str(), c.outcome)).collect();
        assert_eq!(seen, [("ana@example.com", "parked"), ("adopt-me@example.com", "adopted")]);
        let ana = &r.collisions[0];
        assert!(ana.plan.is_empty() && ana.detail.contains("outbox adopt id-ana@example.com"), "{ana:?}");
        let adopted = &r.collisions[1];
        assert_eq!(adopted.plan[0].path, "/api/v2/scim/v2/users/g-adopt-me@example.com", "{adopted:?}");
        assert!(!r.is_clean());
        assert_eq!(r.to_fix(), vec!["id-adopt-me@example.com".to_string()], "--apply never queues a parked one");
        let text = r.to_text();
        assert!(
            text.contains("1 in sync, 0 missing in Genesys, 0 different, 0 only in Genesys, 2 collisions"),
            "{text}"
        );
        assert!(
            text.contains("ana@example.com  (bridge id id-ana@example.com, Genesys id g-ana@example.com): parked"),
            "{text}"
        );

        // With genesys.adopt = by-username every collision is adopted.
        let owners = Owners { policy: AdoptPolicy::ByUserName, owned: owners.owned, ..Owners::default() };
        let r = compare_with(bridge(), &genesys_side, plan::Settings::default(), &owners);
        assert!(r.collisions.iter().all(|c| c.outcome == "adopted" && !c.plan.is_empty()), "{:?}", r.collisions);
    }

    #[test]
    fn a_user_the_mapping_refuses_is_reported_not_compared() {
        let bridge = vec![("id-x".to_string(), Err("no userName".to_string()))];
        let r = compare(bridge, &[]);
        assert_eq!(r.unmappable, vec![Unmappable { id: "id-x".into(), error: "no userName".into() }]);
        assert!(!r.is_clean());
    }
}
