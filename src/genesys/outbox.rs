//! The outbox worker: delivers each pending change to Genesys Cloud, one resource at a time.
//!
//! The store keeps one pending row per resource, written with the change (`store::outbox`); this
//! worker reads due rows oldest first and brings Genesys to the resource's stored state:
//!
//! * **User sync**: map the stored user (`mapping`), find its Genesys id (the stored link; on a
//!   retry, else a lookup by `userName`, so a create whose response was lost is found instead of
//!   created twice), then create (POST) or update (PATCH). A first attempt without a link POSTs
//!   at once and adopts the existing user when Genesys answers 409 (its userName is taken: a
//!   crash after the 201, or a user made outside the bridge). A 404 on update forgets the link
//!   and creates.
//! * **User delete**: delete in Genesys (or deactivate, by configuration) and forget the link.
//! * **Group sync**: find the Genesys group of the same `displayName` (Genesys groups are not
//!   created through SCIM) and PATCH its members to the stored member list.
//!
//! Outcomes: delivered → the row is removed (kept if a newer change arrived meanwhile); a
//! transient failure → retried later with backoff (`Retry-After` honoured by the client); a
//! refusal Genesys will repeat (a 4xx other than 409/429, or a user the mapping cannot send) →
//! parked as dead with its error until an operator retries it. Only this module calls the client.
//! Outcomes, and when the worker last settled a change, are counted in `metrics::OutboxStats`
//! (for `/metrics` and the stuck check of `/readyz`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Map, Value};
use tracing::Instrument;

use super::client::{Client, ClientError, Request};
use super::mapping::{self, ApiMode, DeleteMode, MappedUser, MappingConfig, MembershipUpdate};
use crate::metrics::{DeliveryOutcome, OutboxStats};
use crate::store::{DryRunRequest, MemberRow, OutboxEntry, OutboxOp, Store, StoreError, StoredResource, now_millis};
use crate::telemetry::redact;
use scim::schema::ResourceKind;

const SCIM_USERS: &str = "/api/v2/scim/v2/users";
const SCIM_GROUPS: &str = "/api/v2/scim/v2/groups";
const PLATFORM_USERS: &str = "/api/v2/users";

/// The result of one delivery attempt.
#[derive(Debug)]
enum Delivery {
    Done,
    Park(String),
    Defer(Option<Duration>, String),
}

impl From<ClientError> for Delivery {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::RetryLater { after, reason } => Delivery::Defer(Some(after), reason),
            ClientError::Refused { .. } => Delivery::Park(e.to_string()),
            ClientError::Conflict { .. } => Delivery::Defer(None, e.to_string()),
            // Configuration, not this change: keep it and try again in a minute.
            ClientError::Credentials(_) => {
                tracing::error!(error.cause = %redact(&e.to_string()), "Genesys credentials refused; changes wait until they work");
                Delivery::Defer(Some(Duration::from_secs(60)), e.to_string())
            }
        }
    }
}

impl From<StoreError> for Delivery {
    fn from(e: StoreError) -> Self {
        Delivery::Defer(Some(Duration::from_secs(5)), format!("database: {e}"))
    }
}

/// How many due rows one pass reads.
const BATCH: i64 = 64;

/// Deliveries in flight at once (Genesys answers in ~100 ms; one at a time would cap a
/// 300-per-minute quota well below its use).
const CONCURRENCY: usize = 4;

/// One delivery attempt, for the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Milliseconds since the epoch.
    pub at: i64,
    pub kind: &'static str,
    pub resource_id: String,
    pub attempt: i64,
    /// `delivered`, `retry`, `dead` or `dry run`.
    pub outcome: &'static str,
    /// Why (for retries and dead changes); may quote the user's data: operators' eyes only.
    pub detail: Option<String>,
}

/// The last deliveries, newest first (bounded).
#[derive(Debug, Default)]
pub struct RecentDeliveries(std::sync::Mutex<std::collections::VecDeque<DeliveryRecord>>);

impl RecentDeliveries {
    const KEPT: usize = 50;

    fn push(&self, r: DeliveryRecord) {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.push_front(r);
        q.truncate(Self::KEPT);
    }

    /// Newest first.
    pub fn list(&self) -> Vec<DeliveryRecord> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }
}

/// Delivers the outbox.
pub struct Worker {
    store: Arc<Store>,
    client: Arc<Client>,
    mapping: MappingConfig,
    delete_mode: DeleteMode,
    /// Genesys's home division id (Platform creates need a division id), looked up once.
    home_division: tokio::sync::OnceCell<String>,
    /// Division ids by lower-cased name, as found.
    divisions: tokio::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Send nothing; record the requests that would have been sent (`SCIM_BRIDGE_DRY_RUN`).
    dry_run: bool,
    recent: Arc<RecentDeliveries>,
    /// Outcomes and the time of the last progress, for `/metrics` and `/readyz`.
    stats: OutboxStats,
}

impl Worker {
    pub fn new(store: Arc<Store>, client: Arc<Client>, mapping: MappingConfig, delete_mode: DeleteMode) -> Worker {
        Worker {
            store,
            client,
            mapping,
            delete_mode,
            home_division: tokio::sync::OnceCell::new(),
            divisions: tokio::sync::Mutex::default(),
            dry_run: false,
            recent: Arc::default(),
            stats: OutboxStats::default(),
        }
    }

    /// Where the worker notes its last deliveries (the status page reads them).
    pub fn recent(&self) -> Arc<RecentDeliveries> {
        self.recent.clone()
    }

    /// What this worker counts (a handle sharing its counters).
    pub fn stats(&self) -> OutboxStats {
        self.stats.clone()
    }

    /// Send nothing to Genesys: record the requests each change would cause instead.
    pub fn dry_run(mut self, on: bool) -> Worker {
        self.dry_run = on;
        self
    }

    /// Deliver until `stop` turns true, between two deliveries.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        self.stats.started(now_millis());
        loop {
            if *stop.borrow() {
                break;
            }
            let delivered = self.drain_once(&stop).await;
            if delivered == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        tracing::info!("outbox worker stopped");
    }

    /// One pass over the rows due now; returns how many were handled.
    pub async fn drain_once(&self, stop: &tokio::sync::watch::Receiver<bool>) -> usize {
        let store = self.store.clone();
        let due = match tokio::task::spawn_blocking(move || store.outbox_due(now_millis(), BATCH)).await {
            Ok(Ok(due)) => due,
            Ok(Err(e)) => {
                tracing::warn!(error.cause = %e, "cannot read the outbox");
                return 0;
            }
            Err(_) => return 0,
        };
        // Rows are distinct resources, so deliveries may overlap; each resource's changes stay
        // in order because a resource has one row and a pass ends before the next one reads.
        futures_util::stream::iter(due)
            .map(|entry| {
                // Every line of one delivery (each Genesys call with its correlation id, the
                // outcome) carries the change it belongs to.
                let span = tracing::info_span!(
                    "outbox",
                    change.id = %change_id(&entry),
                    scim.resource_type = entry.kind.as_str(),
                    outbox.attempt = entry.attempts + 1
                );
                async move {
                    if *stop.borrow() {
                        return 0;
                    }
                    if self.dry_run {
                        self.preview(&entry).await;
                        return 1;
                    }
                    let outcome = self.deliver(&entry).await;
                    self.record(&entry, outcome).await;
                    1
                }
                .instrument(span)
            })
            .buffer_unordered(CONCURRENCY)
            .fold(0, |n, one| async move { n + one })
            .await
    }

    async fn record(&self, entry: &OutboxEntry, outcome: Delivery) {
        let store = self.store.clone();
        let e = entry.clone();
        let kind = entry.kind.as_str();
        let id = entry.resource_id.clone();
        let attempt = entry.attempts + 1;
        let (outcome_name, detail) = match &outcome {
            Delivery::Done => ("delivered", None),
            Delivery::Park(why) => ("dead", Some(why.clone())),
            Delivery::Defer(_, why) => ("retry", Some(why.clone())),
        };
        self.recent.push(DeliveryRecord {
            at: now_millis(),
            kind,
            resource_id: id.clone(),
            attempt,
            outcome: outcome_name,
            detail,
        });
        let counted = match &outcome {
            Delivery::Done => DeliveryOutcome::Delivered,
            Delivery::Park(_) => DeliveryOutcome::Dead,
            Delivery::Defer(..) => DeliveryOutcome::Deferred,
        };
        let result = tokio::task::spawn_blocking(move || match outcome {
            Delivery::Done => store.outbox_complete(&e).map(|_| "delivered".to_string()),
            Delivery::Park(why) => store.outbox_park(&e, &why).map(|_| format!("parked as dead: {why}")),
            Delivery::Defer(after, why) => {
                let wait = after.unwrap_or_else(|| backoff(e.attempts));
                let until = now_millis() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
                store.outbox_defer(&e, until, &why).map(|_| format!("retry in {} ms: {why}", wait.as_millis()))
            }
        })
        .await;
        match result {
            // Genesys's refusals and mapping errors may quote the user's e-mail or number: the
            // log gets them masked, the database (operators' view) keeps them whole.
            Ok(Ok(what)) => {
                self.stats.attempted(counted, now_millis());
                tracing::info!(scim.resource_type = kind, scim.resource_id = %id, outbox.attempt = attempt, "outbox: {}", redact(&what))
            }
            Ok(Err(e)) => tracing::warn!(scim.resource_id = %id, error.cause = %e, "outbox: cannot record the outcome"),
            Err(_) => tracing::warn!(scim.resource_id = %id, "outbox: recording task failed"),
        }
    }

    async fn deliver(&self, e: &OutboxEntry) -> Delivery {
        let result = match (e.kind, e.op) {
            (ResourceKind::User, OutboxOp::Sync) => self.sync_user(&e.resource_id, e.attempts).await,
            (ResourceKind::User, OutboxOp::Delete) => self.delete_user(&e.resource_id, e.user_name.as_deref()).await,
            (ResourceKind::Group, OutboxOp::Sync) => self.sync_group(&e.resource_id, e.attempts).await,
            // Genesys groups are not deleted through SCIM (FACTS §1.1): nothing to send.
            (ResourceKind::Group, OutboxOp::Delete) => Ok(Delivery::Done),
        };
        result.unwrap_or_else(|d| d)
    }

    /// Dry run: record what delivering `e` would send, without sending. What depends on
    /// Genesys's answers is written as a placeholder in braces: the id of a user or group the
    /// bridge has not linked yet (`{genesys id of userName}`), the home division of a Platform
    /// create, and a Platform PATCH's `version` (read by a GET first). A user whose create was
    /// recorded is updated next time, as it would be had the create been sent.
    async fn preview(&self, e: &OutboxEntry) {
        let requests = match self.planned_requests(e).await {
            Ok(r) => r,
            Err(outcome) => {
                self.record(e, outcome).await;
                return;
            }
        };
        let n = requests.len();
        let entry = e.clone();
        let stored = self.blocking(move |s| s.dry_run_record(&entry, requests)).await;
        match stored {
            Ok(()) => {
                self.recent.push(DeliveryRecord {
                    at: now_millis(),
                    kind: e.kind.as_str(),
                    resource_id: e.resource_id.clone(),
                    attempt: e.attempts + 1,
                    outcome: "dry run",
                    detail: Some(format!("{n} request(s) recorded, not sent")),
                });
                self.stats.attempted(DeliveryOutcome::DryRun, now_millis());
                tracing::info!(scim.resource_id = %e.resource_id, requests = n, "dry run: recorded, not sent")
            }
            Err(d) => self.record(e, d).await,
        }
    }

    async fn planned_requests(&self, e: &OutboxEntry) -> Result<Vec<DryRunRequest>, Delivery> {
        let at = now_millis();
        let req = |method: &str, path: String, body: Option<Value>| DryRunRequest {
            at,
            kind: e.kind.as_str().to_string(),
            resource_id: e.resource_id.clone(),
            method: method.to_string(),
            path,
            body,
        };
        match (e.kind, e.op) {
            (ResourceKind::User, OutboxOp::Sync) => {
                let Some(m) = self.mapped_user(&e.resource_id).await? else { return Ok(Vec::new()) };
                let link = match self.link(ResourceKind::User, &e.resource_id).await? {
                    Some(g) => Some(g),
                    None => {
                        let id = e.resource_id.clone();
                        let seen = self.blocking(move |s| s.dry_run_seen(&id)).await?;
                        seen.then(|| format!("{{genesys id of {}}}", m.user_name()))
                    }
                };
                Ok(match (self.mapping.api, link) {
                    (ApiMode::Scim, Some(g)) => {
                        vec![req("PATCH", format!("{SCIM_USERS}/{g}"), Some(mapping::scim_patch_body(&m)))]
                    }
                    (ApiMode::Scim, None) => vec![req("POST", SCIM_USERS.into(), Some(mapping::scim_create_body(&m)))],
                    (ApiMode::Platform, Some(g)) => {
                        let current = serde_json::json!({"id": g, "version": "{current version}"});
                        let patch = mapping::platform_patch_body(&m, &current).ok().flatten();
                        vec![
                            req("GET", format!("{PLATFORM_USERS}/{g}?expand=employerInfo"), None),
                            req("PATCH", format!("{PLATFORM_USERS}/{g}"), patch),
                        ]
                    }
                    (ApiMode::Platform, None) => vec![req(
                        "POST",
                        PLATFORM_USERS.into(),
                        Some(mapping::platform_create_body(&m, "{home division id}")),
                    )],
                })
            }
            (ResourceKind::User, OutboxOp::Delete) => {
                let g = match self.link(ResourceKind::User, &e.resource_id).await? {
                    Some(g) => g,
                    None => match &e.user_name {
                        Some(name) => format!("{{genesys id of {name}}}"),
                        None => return Ok(Vec::new()),
                    },
                };
                Ok(match (self.delete_mode, self.mapping.api) {
                    (DeleteMode::Delete, ApiMode::Scim) => vec![req("DELETE", format!("{SCIM_USERS}/{g}"), None)],
                    (DeleteMode::Delete, ApiMode::Platform) => {
                        vec![req("DELETE", format!("{PLATFORM_USERS}/{g}"), None)]
                    }
                    (DeleteMode::Deactivate, _) => {
                        vec![req("PATCH", format!("{SCIM_USERS}/{g}"), Some(mapping::scim_deactivate_body()))]
                    }
                })
            }
            (ResourceKind::Group, OutboxOp::Sync) => {
                let Some((group, members)) = self.group_with_members(&e.resource_id).await? else {
                    return Ok(Vec::new());
                };
                let mut ids = Vec::new();
                for m in members.iter().filter(|m| m.kind == crate::store::MemberKind::User) {
                    ids.push(match self.link(ResourceKind::User, &m.id).await? {
                        Some(g) => g,
                        None => format!("{{genesys id of user {}}}", m.id),
                    });
                }
                let doc = group.into_full_document();
                let name = doc.get("displayName").and_then(Value::as_str).unwrap_or_default().to_string();
                let r = mapping::map_group_membership(&doc, MembershipUpdate::Replace(&ids))
                    .map_err(|err| Delivery::Park(err.to_string()))?;
                let filter = mapping::group_lookup_filter(&name);
                Ok(vec![
                    req("GET", format!("{SCIM_GROUPS}?filter={filter}"), None),
                    req("PATCH", format!("{SCIM_GROUPS}/{{genesys id of group {name}}}"), r.patch),
                ])
            }
            (ResourceKind::Group, OutboxOp::Delete) => Ok(Vec::new()),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Delivery> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(r) => r.map_err(Delivery::from),
            Err(_) => Err(Delivery::Defer(None, "a database task failed".into())),
        }
    }

    async fn send(&self, req: Request) -> Result<super::client::Response, ClientError> {
        self.client.send(&req).await
    }

    /// The stored user mapped for Genesys; `None` when it was deleted meanwhile. A user the
    /// mapping cannot send is parked (`Err(Delivery::Park)`).
    async fn mapped_user(&self, id: &str) -> Result<Option<MappedUser>, Delivery> {
        let owned = id.to_string();
        let found = self
            .blocking(move |s| match s.get(ResourceKind::User, &owned) {
                Ok(r) => Ok(Some(r)),
                Err(StoreError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            })
            .await?;
        let Some(user) = found else { return Ok(None) };
        let doc = user.into_full_document();
        let ids = self.manager_ids(&doc).await?;
        mapping::map_user(&doc, &self.mapping, &ids).map(Some).map_err(|e| Delivery::Park(e.to_string()))
    }

    /// The stored group and its member rows; `None` when it was deleted meanwhile.
    async fn group_with_members(&self, id: &str) -> Result<Option<(StoredResource, Vec<MemberRow>)>, Delivery> {
        let owned = id.to_string();
        self.blocking(move |s| match s.get(ResourceKind::Group, &owned) {
            Ok(g) => {
                let members = s.members(&g)?;
                Ok(Some((g, members)))
            }
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    async fn sync_user(&self, id: &str, attempts: i64) -> Result<Delivery, Delivery> {
        // Deleted meanwhile: its delete is the pending change now.
        let Some(mapped) = self.mapped_user(id).await? else { return Ok(Delivery::Done) };
        let genesys_id = match self.link(ResourceKind::User, id).await? {
            Some(g) => Some(g),
            // A first attempt without a link POSTs at once: should Genesys hold the userName
            // already (a crash after its 201, or a user made outside the bridge) it answers 409
            // and `create_user` adopts that user. A retry looks first: its earlier POST may have
            // worked with the answer lost.
            None if attempts == 0 => None,
            None => self.find_user(mapped.user_name()).await?,
        };
        match genesys_id {
            Some(g) => self.update_user(id, &g, &mapped).await,
            None => self.create_user(id, &mapped).await,
        }
    }

    /// The Genesys id of the user's manager, when the manager has been delivered.
    async fn manager_ids(&self, doc: &Map<String, Value>) -> Result<BTreeMap<String, String>, Delivery> {
        let manager = mapping::manager_bridge_id(doc).map(str::to_string);
        let mut ids = BTreeMap::new();
        if let Some(m) = manager
            && let Some(g) = self.link(ResourceKind::User, &m).await?
        {
            ids.insert(m, g);
        }
        Ok(ids)
    }

    async fn link(&self, kind: ResourceKind, id: &str) -> Result<Option<String>, Delivery> {
        let id = id.to_string();
        self.blocking(move |s| s.genesys_link(kind, &id)).await
    }

    async fn set_link(&self, kind: ResourceKind, id: &str, genesys_id: Option<&str>) -> Result<(), Delivery> {
        let (id, g) = (id.to_string(), genesys_id.map(str::to_string));
        self.blocking(move |s| s.set_genesys_link(kind, &id, g.as_deref())).await
    }

    /// A Genesys user by `userName` (SCIM filter; the same user store serves both APIs).
    async fn find_user(&self, user_name: &str) -> Result<Option<String>, Delivery> {
        let filter = format!("userName eq {}", Value::String(user_name.to_string()));
        let resp = self.send(Request::new(Method::GET, SCIM_USERS).query("filter", &filter)).await?;
        Ok(first_id(&resp.body))
    }

    async fn create_user(&self, id: &str, m: &MappedUser) -> Result<Delivery, Delivery> {
        let created = match self.mapping.api {
            ApiMode::Scim => self.send(Request::new(Method::POST, SCIM_USERS).json(mapping::scim_create_body(m))).await,
            ApiMode::Platform => {
                let division = match m.division() {
                    Some(name) => match self.division_id(name).await? {
                        Some(id) => id,
                        None => {
                            return Ok(Delivery::Park(format!(
                                "Genesys has no division named '{name}': create it in Genesys, or correct the user's \
                                 division (or SCIM_BRIDGE_GENESYS_DIVISION)"
                            )));
                        }
                    },
                    None => self.home_division().await?,
                };
                let body = mapping::platform_create_body(m, &division);
                self.send(Request::new(Method::POST, PLATFORM_USERS).json(body)).await
            }
        };
        match created {
            Ok(resp) => {
                let Some(g) = resp.body.get("id").and_then(Value::as_str).map(str::to_string) else {
                    return Ok(Delivery::Defer(None, "Genesys created the user but sent no id".into()));
                };
                self.set_link(ResourceKind::User, id, Some(&g)).await?;
                match self.mapping.api {
                    // The create body carries everything in SCIM mode.
                    ApiMode::Scim => Ok(Delivery::Done),
                    // The Platform create has no manager or employee id: update the new user.
                    ApiMode::Platform => self.update_user(id, &g, m).await,
                }
            }
            // Created meanwhile (our lost response, or by someone else): adopt it and update.
            Err(conflict @ ClientError::Conflict { .. }) => match self.find_user(m.user_name()).await? {
                Some(g) => {
                    self.set_link(ResourceKind::User, id, Some(&g)).await?;
                    self.update_user(id, &g, m).await
                }
                None => Ok(Delivery::from(conflict)),
            },
            Err(e) => Ok(Delivery::from(e)),
        }
    }

    async fn update_user(&self, id: &str, g: &str, m: &MappedUser) -> Result<Delivery, Delivery> {
        let sent = match self.mapping.api {
            ApiMode::Scim => {
                let path = format!("{SCIM_USERS}/{g}");
                self.send(Request::new(Method::PATCH, path).json(mapping::scim_patch_body(m)))
                    .await
                    .map(|_| Delivery::Done)
            }
            ApiMode::Platform => self.update_platform_user(g, m).await,
        };
        match sent {
            Err(ClientError::Refused { status: 404, .. }) => {
                // Deleted in Genesys: forget the link; the next attempt creates it again.
                self.set_link(ResourceKind::User, id, None).await?;
                Ok(Delivery::Defer(Some(Duration::ZERO), "the Genesys user was gone; creating it again".into()))
            }
            Ok(d) => Ok(d),
            Err(e) => Ok(Delivery::from(e)),
        }
    }

    /// Platform: read the user (for its `version` and the phones we do not own), send a state
    /// change alone if needed, then the rest; a version conflict reads again.
    async fn update_platform_user(&self, g: &str, m: &MappedUser) -> Result<Delivery, ClientError> {
        let path = format!("{PLATFORM_USERS}/{g}");
        for _ in 0..3 {
            let mut current =
                self.send(Request::new(Method::GET, path.clone()).query("expand", "employerInfo")).await?.body;
            let state = match mapping::platform_state_body(m, &current) {
                Ok(b) => b,
                Err(e) => return Ok(Delivery::Park(e.to_string())),
            };
            if let Some(body) = state {
                match self.send(Request::new(Method::PATCH, path.clone()).json(body)).await {
                    Ok(resp) => current = resp.body,
                    Err(ClientError::Conflict { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
            let patch = match mapping::platform_patch_body(m, &current) {
                Ok(p) => p,
                Err(e) => return Ok(Delivery::Park(e.to_string())),
            };
            let Some(body) = patch else { return Ok(Delivery::Done) };
            match self.send(Request::new(Method::PATCH, path.clone()).json(body)).await {
                Ok(_) => return Ok(Delivery::Done),
                Err(ClientError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(Delivery::Defer(None, "the Genesys user kept changing (version conflicts)".into()))
    }

    /// The id of the Genesys division of this name (case-insensitive), remembered once found.
    async fn division_id(&self, name: &str) -> Result<Option<String>, Delivery> {
        let key = name.to_lowercase();
        if let Some(id) = self.divisions.lock().await.get(&key) {
            return Ok(Some(id.clone()));
        }
        let resp = self
            .send(
                Request::new(Method::GET, "/api/v2/authorization/divisions")
                    .query("name", name)
                    .query("pageSize", "100"),
            )
            .await?;
        let found = resp.body.get("entities").and_then(Value::as_array).into_iter().flatten().find_map(|d| {
            let n = d.get("name").and_then(Value::as_str)?;
            if n.eq_ignore_ascii_case(name) { d.get("id").and_then(Value::as_str).map(str::to_string) } else { None }
        });
        if let Some(id) = &found {
            self.divisions.lock().await.insert(key, id.clone());
        }
        Ok(found)
    }

    async fn home_division(&self) -> Result<String, Delivery> {
        if let Some(d) = self.home_division.get() {
            return Ok(d.clone());
        }
        let resp = self.send(Request::new(Method::GET, "/api/v2/authorization/divisions/home")).await?;
        let id = resp
            .body
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Delivery::Defer(None, "Genesys sent no home division id".into()))?;
        let _ = self.home_division.set(id.clone());
        Ok(id)
    }

    async fn delete_user(&self, id: &str, user_name: Option<&str>) -> Result<Delivery, Delivery> {
        let genesys_id = match (self.link(ResourceKind::User, id).await?, user_name) {
            (Some(g), _) => Some(g),
            (None, Some(name)) => self.find_user(name).await?,
            (None, None) => None,
        };
        let Some(g) = genesys_id else { return Ok(Delivery::Done) };
        let sent = match (self.delete_mode, self.mapping.api) {
            (DeleteMode::Delete, ApiMode::Scim) => {
                self.send(Request::new(Method::DELETE, format!("{SCIM_USERS}/{g}"))).await.map(|_| ())
            }
            (DeleteMode::Delete, ApiMode::Platform) => {
                self.send(Request::new(Method::DELETE, format!("{PLATFORM_USERS}/{g}"))).await.map(|_| ())
            }
            (DeleteMode::Deactivate, _) => {
                let body = mapping::scim_deactivate_body();
                self.send(Request::new(Method::PATCH, format!("{SCIM_USERS}/{g}")).json(body)).await.map(|_| ())
            }
        };
        match sent {
            Ok(()) => {}
            // Already gone in Genesys: the goal is reached.
            Err(ClientError::Refused { status: 404, .. }) => {}
            Err(e) => return Ok(Delivery::from(e)),
        }
        if self.delete_mode == DeleteMode::Delete {
            self.set_link(ResourceKind::User, id, None).await?;
        }
        Ok(Delivery::Done)
    }

    async fn sync_group(&self, id: &str, attempts: i64) -> Result<Delivery, Delivery> {
        let Some((group, members)) = self.group_with_members(id).await? else { return Ok(Delivery::Done) };
        // Members must be in Genesys first: wait a little for users still being delivered.
        let mut desired = BTreeSet::new();
        let mut missing = 0;
        for m in members.iter().filter(|m| m.kind == crate::store::MemberKind::User) {
            match self.link(ResourceKind::User, &m.id).await? {
                Some(g) => {
                    desired.insert(g);
                }
                None => missing += 1,
            }
        }
        if missing > 0 && attempts < 10 {
            return Ok(Delivery::Defer(
                Some(Duration::from_secs(2)),
                format!("{missing} member(s) not in Genesys yet; waiting for their delivery"),
            ));
        }
        let doc = group.into_full_document();
        let name = doc.get("displayName").and_then(Value::as_str).unwrap_or_default().to_string();
        let filter = mapping::group_lookup_filter(&name);
        let found = self.send(Request::new(Method::GET, SCIM_GROUPS).query("filter", &filter)).await?;
        let Some(genesys_group) = first_id(&found.body) else {
            return Ok(Delivery::Park(format!(
                "Genesys has no group named '{name}': create it in Genesys (groups are not created through SCIM)"
            )));
        };
        let path = format!("{SCIM_GROUPS}/{genesys_group}");
        let current = self.send(Request::new(Method::GET, path.clone())).await?.body;
        let have: BTreeSet<String> = current
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_string))
            .collect();
        let add: Vec<String> = desired.difference(&have).cloned().collect();
        let remove: Vec<String> = have.difference(&desired).cloned().collect();
        let request = match mapping::map_group_membership(&doc, MembershipUpdate::Delta { add: &add, remove: &remove })
        {
            Ok(r) => r,
            Err(e) => return Ok(Delivery::Park(e.to_string())),
        };
        if let Some(body) = request.patch {
            self.send(Request::new(Method::PATCH, path).json(body)).await?;
        }
        Ok(Delivery::Done)
    }
}

/// How logs name one change: `User/<id>#<revision>` (the revision counts the changes to the
/// resource folded into this row).
fn change_id(e: &OutboxEntry) -> String {
    format!("{}/{}#{}", e.kind.as_str(), e.resource_id, e.revision)
}

/// The id of the first resource of a SCIM ListResponse.
fn first_id(list: &Value) -> Option<String> {
    list.get("Resources")?.as_array()?.first()?.get("id")?.as_str().map(str::to_string)
}

/// Backoff for a failed delivery without a server-given delay: 1 s doubling to 5 minutes.
fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 9)).unwrap_or(9);
    Duration::from_secs(1u64 << exp).min(Duration::from_secs(300))
}
