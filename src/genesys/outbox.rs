//! The outbox worker: delivers each pending change to Genesys Cloud, one resource at a time.
//!
//! The store keeps one pending row per resource, written with the change (`store::outbox`); this
//! worker reads due rows oldest first and brings Genesys to the resource's stored state by
//! executing its plan (`genesys::plan`): it loads the resource and what the bridge knows of its
//! Genesys side (the stored link; on a retry, a lookup by `userName` comes first, so a create
//! whose answer was lost is found instead of created twice), sends the plan's first request,
//! folds the answer into what is known, and plans again until the plan is done. Answers that
//! are not successes are handled here: 409 to a create adopts the existing user (a lookup and
//! an update follow), 409 to a Platform update reads the user again (three times at most), 404
//! to an update forgets the link and creates the user again, 404 to a delete is done.
//!
//! Outcomes: delivered → the row is removed (kept if a newer change arrived meanwhile); a
//! transient failure → retried later with backoff (`Retry-After` honoured by the client); a
//! refusal Genesys will repeat (a 4xx other than 409/429, or a user the mapping cannot send) →
//! parked as dead with its error until an operator retries it. Only this module calls the client.
//! The dry run plans the same way and records the whole first plan instead of sending it.
//! Outcomes, and when the worker last settled a change, are counted in `metrics::OutboxStats`
//! (for `/metrics` and the stuck check of `/readyz`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Map, Value};
use tracing::Instrument;

use super::api::{ApiMode, ApiRequest, answers, wire};
use super::client::{Client, ClientError};
use super::mapping::{self, AdoptPolicy, DeleteMode, MappedUser, MappingConfig, Written};
use super::plan::{self, Change, Known, Learnt, Member, Plan, Purpose, Step};
use super::role_status::{Resolution, RoleStatus};
use crate::metrics::{DeliveryOutcome, OutboxStats};
use crate::store::{
    DryRunRequest, MemberRow, OutboxEntry, OutboxOp, Ownership, Store, StoreError, StoredResource, now_millis,
};
use crate::telemetry::redact;
use scim::schema::ResourceKind;

/// The result of one delivery attempt.
#[derive(Debug)]
enum Delivery {
    Done,
    Park(String),
    Defer(Option<Duration>, String),
    /// Genesys is not answering usefully (its `Retry-After` is longer than the client waits,
    /// the client's attempts are spent, the credentials are refused): keep the change for this
    /// long ([`HOLD_LIMIT`] at most), or until a later delivery succeeds.
    Hold(Duration, String),
}

impl From<ClientError> for Delivery {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::RetryLater { after, reason } => Delivery::Hold(after, reason),
            ClientError::Refused { .. } => Delivery::Park(e.to_string()),
            ClientError::Conflict { .. } => Delivery::Defer(None, e.to_string()),
            // Configuration, not this change: keep it and try again in a minute.
            ClientError::Credentials(_) => {
                tracing::error!(error.cause = %redact(&e.to_string()), "Genesys credentials refused; changes wait until they work");
                Delivery::Hold(Duration::from_secs(60), e.to_string())
            }
        }
    }
}

impl From<StoreError> for Delivery {
    fn from(e: StoreError) -> Self {
        Delivery::Defer(Some(Duration::from_secs(5)), format!("database: {e}"))
    }
}

/// The resource of a change, loaded for planning.
#[derive(Debug)]
enum Subject {
    User(MappedUser),
    /// A deleted user, with its last `userName` (to find it in Genesys without a link).
    DeletedUser(Option<String>),
    /// A group: its document, its user members (bridge id, Genesys id once delivered), and the
    /// members the bridge added to Genesys groups, by Genesys group id.
    Group {
        doc: Map<String, Value>,
        members: Vec<Member>,
        attempts: i64,
        added: BTreeMap<String, BTreeSet<String>>,
    },
}

impl Subject {
    fn change(&self) -> Change<'_> {
        match self {
            Subject::User(m) => Change::SyncUser(m),
            Subject::DeletedUser(name) => Change::DeleteUser { user_name: name.as_deref() },
            Subject::Group { doc, members, attempts, .. } => {
                Change::SyncGroup { group: doc, members, attempts: *attempts }
            }
        }
    }

    fn is_user_sync(&self) -> bool {
        matches!(self, Subject::User(_))
    }
}

/// The most Genesys requests one delivery makes (a Platform create with a division lookup,
/// a state change and version conflicts stays well below).
const MAX_STEPS: usize = 16;

/// Version conflicts one Platform update tolerates before it tries again later.
const MAX_VERSION_CONFLICTS: u32 = 3;

/// Deliveries of a create that Genesys answers 409 with no user to adopt before it is parked.
const MAX_CREATE_CONFLICTS: i64 = 5;

/// The members the bridge added to the Genesys group `genesys_id`; before the group is found
/// (the dry run), those it added to any group matched with this one.
fn bridge_added(added: &BTreeMap<String, BTreeSet<String>>, genesys_id: Option<&str>) -> BTreeSet<String> {
    match genesys_id.filter(|g| !g.starts_with('{')) {
        Some(g) => added.get(g).cloned().unwrap_or_default(),
        None => added.values().flatten().cloned().collect(),
    }
}

/// Whether a client error is a version conflict (`api::answers::is_version_mismatch`).
fn version_mismatch(err: &ClientError) -> bool {
    match err {
        ClientError::Conflict { .. } => true,
        ClientError::Refused { status, message, .. } => answers::is_version_mismatch(*status, message),
        _ => false,
    }
}

/// How many due rows one pass claims: a few per delivery in flight, so that replicas sharing
/// the outbox share its work.
const BATCH: i64 = 16;

/// How long a claim holds a change. The holder renews its leases every fifth of that, and each
/// replica's heartbeat takes over leases that ran out: a replica that dies loses its changes to
/// the others within a lease and a heartbeat of its last renewal (24 s).
pub const LEASE: Duration = Duration::from_secs(20);

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
    /// This replica's name in the leases it takes (pid and a random part).
    owner: String,
    store: Arc<Store>,
    client: Arc<Client>,
    mapping: MappingConfig,
    /// What the plan depends on: the API mode and what a delete does.
    settings: plan::Settings,
    /// Whether a create meeting a Genesys user the bridge did not create adopts it.
    adopt: AdoptPolicy,
    /// The roles granted to users with an 8x8 number, and what was found of them in Genesys.
    roles: Arc<RoleStatus>,
    /// Genesys's home division id (Platform creates and role grants need it), looked up once.
    home_division: tokio::sync::OnceCell<String>,
    /// Division ids by lower-cased name, as found.
    divisions: tokio::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Send nothing; record the requests that would have been sent (`SCIM_BRIDGE_DRY_RUN`).
    dry_run: bool,
    /// The dry run may read Genesys (GET only) to find collisions: true when real Genesys
    /// credentials are configured, false for the built-in simulator.
    dry_run_reads: bool,
    /// What the dry run took as done so far (kept in memory, so forgotten on restart).
    dry_state: std::sync::Mutex<DryState>,
    recent: Arc<RecentDeliveries>,
    /// Outcomes and the time of the last progress, for `/metrics` and `/readyz`.
    stats: OutboxStats,
    /// Set when a change was held back because Genesys was not answering usefully
    /// ([`Delivery::Hold`]); the next delivery that succeeds clears it and releases the held
    /// changes ([`HOLD_LIMIT`]).
    held_back: std::sync::atomic::AtomicBool,
}

/// The longest a change waits before it is tried again, whatever Genesys's `Retry-After` says.
///
/// Policy when Genesys is not answering usefully ([`Delivery::Hold`]): a `Retry-After` beyond
/// the 180 s the Genesys SDKs wait (genesys-api-notes §4), or the client's attempts spent on
/// 429s, 5xx, timeouts or dropped connections (an outage). The change is kept (never parked) and
/// held back for the `Retry-After` (the client's longest backoff when none was given), but at
/// most this long, so a nonsensical value (a day) does not freeze a user; it then tries again
/// (one request per change per hold) and is held again if Genesys still says to wait. Held
/// changes show on `/readyz` (`checks.outbox.waiting`), `/admin` and `scim-bridge outbox list`.
/// When any later delivery succeeds, Genesys is evidently accepting again: the held changes are
/// released at once (`Store::outbox_release_held`) instead of waiting out the rest of their hold.
pub const HOLD_LIMIT: Duration = Duration::from_secs(10 * 60);

impl Worker {
    pub fn new(store: Arc<Store>, client: Arc<Client>, mapping: MappingConfig, delete_mode: DeleteMode) -> Worker {
        Worker {
            owner: format!("{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]),
            store,
            client,
            settings: plan::Settings { api: mapping.api, delete_mode },
            adopt: AdoptPolicy::default(),
            roles: Arc::new(RoleStatus::new(mapping.roles.clone())),
            mapping,
            home_division: tokio::sync::OnceCell::new(),
            divisions: tokio::sync::Mutex::default(),
            dry_run: false,
            dry_run_reads: false,
            dry_state: std::sync::Mutex::default(),
            recent: Arc::default(),
            stats: OutboxStats::default(),
            held_back: std::sync::atomic::AtomicBool::new(false),
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

    /// The configured roles and what was found of them (the operator pages read it).
    pub fn role_status(&self) -> Arc<RoleStatus> {
        self.roles.clone()
    }

    /// What a create does when Genesys has a user with the userName that the bridge did not create.
    pub fn adopt(mut self, policy: AdoptPolicy) -> Worker {
        self.adopt = policy;
        self
    }

    /// Send nothing to Genesys: record the requests each change would cause instead.
    pub fn dry_run(mut self, on: bool) -> Worker {
        self.dry_run = on;
        self
    }

    /// Let the dry run read Genesys (GET only, never a write) to find the Genesys users whose
    /// userName a create would meet. Off, it plans from the store alone and notes on each
    /// create that this was not checked.
    pub fn dry_run_reads(mut self, on: bool) -> Worker {
        self.dry_run_reads = on;
        self
    }

    /// Deliver until `stop` turns true, between two deliveries.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        self.stats.started(now_millis());
        if !self.store.is_postgres() {
            // SQLite: this is the only process delivering from the file; leases left by an
            // earlier run (a crash) are its own.
            let store = self.store.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || store.outbox_release(None)).await {
                tracing::warn!(error.cause = %e, "cannot release the outbox leases of an earlier run");
            }
        }
        let heartbeat = tokio::spawn(heartbeat(self.store.clone(), self.owner.clone(), stop.clone()));
        self.check_roles().await;
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
        let _ = heartbeat.await;
        // Another replica takes what this one held at once, not when the leases run out.
        let (store, owner) = (self.store.clone(), self.owner.clone());
        let _ = tokio::task::spawn_blocking(move || store.outbox_release(Some(&owner))).await;
        tracing::info!("outbox worker stopped");
    }

    /// Look up every configured role (`genesys.roles`) once, at start: a role Genesys lacks is
    /// an error in the log, `/readyz` and `/admin`; when Genesys cannot be asked, the first
    /// grant looks the role up. A dry run without Genesys credentials asks nothing.
    async fn check_roles(&self) {
        if self.dry_run && !self.dry_run_reads {
            for spec in self.roles.specs() {
                let why = "dry run without Genesys credentials: not looked up".to_string();
                self.roles.record(spec, Resolution::Unchecked(why));
            }
            return;
        }
        for spec in self.roles.specs() {
            match self.client.send(&spec.lookup()).await {
                Ok(answer) => {
                    let found = super::api::roles::match_role(&answer.body, spec);
                    self.note_role(spec, &found);
                }
                Err(err) => {
                    tracing::warn!(genesys.role = %spec, error.cause = %redact(&err.to_string()), "cannot look up a role to grant; looked up again at the first grant");
                    let why = format!("Genesys could not be asked ({err}); looked up again at the first grant");
                    self.roles.record(spec, Resolution::Unchecked(why));
                }
            }
        }
    }

    /// Record what a role lookup found; a missing role is logged as an error.
    fn note_role(&self, spec: &super::api::RoleSpec, found: &super::api::RoleMatch) {
        match super::api::roles::problem(spec, found) {
            Some(why) => {
                tracing::error!(genesys.role = %spec, "genesys.roles: {why}");
                self.roles.record(spec, Resolution::Missing { why, at: std::time::Instant::now() });
            }
            None => {
                if let super::api::RoleMatch::Found(role) = found {
                    tracing::info!(genesys.role = %spec, genesys.role_id = %role.id, "role to grant found in Genesys");
                    self.roles.record(spec, Resolution::Found(role.clone()));
                }
            }
        }
    }

    /// One pass over the rows due now; returns how many were handled.
    pub async fn drain_once(&self, stop: &tokio::sync::watch::Receiver<bool>) -> usize {
        let (store, owner) = (self.store.clone(), self.owner.clone());
        let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX / 4);
        let claim = move || {
            let now = now_millis();
            store.outbox_claim(&owner, now, now + lease, BATCH)
        };
        let due = match tokio::task::spawn_blocking(claim).await {
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
                    // Changes folded into the row since the claim are delivered by this delivery
                    // (it reads the resource after this), so it completes them too.
                    let store = self.store.clone();
                    let claimed = entry.clone();
                    let entry = match tokio::task::spawn_blocking(move || store.outbox_reload(&claimed)).await {
                        Ok(Ok(Some(fresh))) => fresh,
                        Ok(Ok(None)) => return 0,
                        _ => entry,
                    };
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
            Delivery::Defer(_, why) | Delivery::Hold(_, why) => ("retry", Some(why.clone())),
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
            Delivery::Defer(..) | Delivery::Hold(..) => DeliveryOutcome::Deferred,
        };
        use std::sync::atomic::Ordering;
        if let Delivery::Hold(..) = &outcome {
            self.held_back.store(true, Ordering::Relaxed);
        }
        let release = matches!(outcome, Delivery::Done) && self.held_back.swap(false, Ordering::Relaxed);
        let result = tokio::task::spawn_blocking(move || match outcome {
            Delivery::Done => store.outbox_complete(&e).map(|_| {
                let released = if release { store.outbox_release_held(now_millis()) } else { Ok(0) };
                match released {
                    Ok(0) => "delivered".to_string(),
                    Ok(n) => format!("delivered; Genesys accepts again, so {n} held-back change(s) were released"),
                    Err(err) => format!("delivered; the held-back changes wait out their hold ({err})"),
                }
            }),
            Delivery::Park(why) => store.outbox_park(&e, &why).map(|_| format!("parked as dead: {why}")),
            Delivery::Hold(after, why) => {
                let wait = after.min(HOLD_LIMIT);
                let until = now_millis() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
                store.outbox_defer(&e, until, &why).map(|_| format!("held for {} ms: {why}", wait.as_millis()))
            }
            Delivery::Defer(after, why) => {
                let wait = after.unwrap_or_else(|| backoff(e.attempts)).min(HOLD_LIMIT);
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
        let subject = match self.subject(e).await {
            Ok(Some(s)) => s,
            // Deleted meanwhile (its delete is the pending change now), or nothing to send.
            Ok(None) => return Delivery::Done,
            Err(d) => return d,
        };
        let (mut known, prior) = match self.known(e, &subject, false).await {
            Ok(k) => k,
            Err(d) => return d,
        };
        // A retry looks first: its earlier create may have worked with the answer lost.
        known.look_up_first = e.attempts > 0;
        self.execute(e, &subject, known, prior).await
    }

    /// Run the plan of `e` until it is done: send its first request, learn, plan again.
    /// `prior`: how the bridge owned the user before this delivery (a create sent earlier whose
    /// answer may be lost, an operator's permission to adopt).
    async fn execute(
        &self,
        e: &OutboxEntry,
        subject: &Subject,
        mut known: Known,
        mut prior: Option<Ownership>,
    ) -> Delivery {
        let mut version_conflicts = 0;
        let mut roles_stored = known.roles_granted.clone();
        for _ in 0..MAX_STEPS {
            let steps = match plan::plan(&subject.change(), &known, self.settings) {
                Plan::Done => return Delivery::Done,
                Plan::Park(why) => return Delivery::Park(why),
                Plan::Wait(after, why) => return Delivery::Defer(Some(after), why),
                Plan::Send(steps) => steps,
            };
            let Some(step) = steps.into_iter().next() else { return Delivery::Done };
            if !step.request.is_concrete() {
                return Delivery::Park(format!(
                    "internal: a planned request still holds a placeholder: {}",
                    step.request.path
                ));
            }
            if let (Purpose::CreateUser, Subject::User(m)) = (&step.purpose, subject) {
                // Written before the create is sent: should its answer be lost, the user Genesys
                // then holds is known to be the bridge's own.
                let (id, name) = (e.resource_id.clone(), m.user_name().to_string());
                if let Err(d) = self.blocking(move |s| s.set_owned_user(&id, &name, None, Ownership::Creating)).await {
                    return d;
                }
            }
            match self.client.send(&step.request).await {
                Ok(resp) => {
                    if let Learnt::Incomplete(why) = known.learn(&step, &resp.body, self.settings.api) {
                        return Delivery::Defer(None, why);
                    }
                    if let Purpose::FindRole(spec) = &step.purpose {
                        self.note_role(spec, &super::api::roles::match_role(&resp.body, spec));
                    }
                    if known.roles_granted != roles_stored {
                        // What Genesys now holds of the user's roles: granted, or dropped by a
                        // state change (to be granted again).
                        let (id, roles) = (e.resource_id.clone(), roles_json(&known.roles_granted));
                        if let Err(d) = self.blocking(move |s| s.set_roles_granted(&id, roles.as_deref())).await {
                            return d;
                        }
                        roles_stored = known.roles_granted.clone();
                    }
                    if let Some(done) = self.check_ownership(e, subject, &step, &known, prior).await {
                        return done;
                    }
                    if let (Purpose::CreateUser | Purpose::UpdateUser, Subject::User(m)) = (&step.purpose, subject) {
                        // What the bridge now owns of the user: cleared later only if the IdP drops it.
                        let (id, w) =
                            (e.resource_id.clone(), serde_json::to_string(&Written::of(m)).unwrap_or_default());
                        if let Err(d) = self.blocking(move |s| s.set_written_fields(&id, &w)).await {
                            return d;
                        }
                    }
                    if let (Purpose::FindGroup, Subject::Group { added, .. }) = (&step.purpose, subject) {
                        known.bridge_added = bridge_added(added, known.genesys_id.as_deref());
                    }
                    if let Err(d) = self.remember(e, subject, &step, &known).await {
                        return d;
                    }
                }
                Err(err) => match (&step.purpose, err) {
                    // Created meanwhile (our lost answer, or by someone else): adopt it. A userName
                    // Genesys reports taken but no lookup finds is someone else's for good: after a
                    // few attempts the change is parked with what to do.
                    (Purpose::CreateUser, conflict @ ClientError::Conflict { .. }) => {
                        if let ClientError::Conflict { after_uncertain_attempt: true, .. } = conflict {
                            // Our own create may have been carried out: the user is ours.
                            prior = Some(Ownership::Creating);
                        } else if let Subject::User(m) = subject {
                            // A plain 409: this create made nothing, so the user that holds the
                            // userName is not its doing. Take back the "creating" record written
                            // before sending, lest a later attempt take that user for its own.
                            let (id, name) = (e.resource_id.clone(), m.user_name().to_string());
                            if let Err(d) = self.blocking(move |s| s.restore_owned_user(&id, &name, prior)).await {
                                return d;
                            }
                        }
                        if known.look_up_first {
                            if e.attempts + 1 >= MAX_CREATE_CONFLICTS {
                                return Delivery::Park(format!(
                                    "Genesys keeps answering 409 to the create ({conflict}), and no Genesys user with \
                                     this userName can be found to adopt: the userName is held by another Genesys \
                                     user (perhaps a deleted one). Free it in Genesys or change the user's userName \
                                     at the identity provider, then `scim-bridge outbox retry`"
                                ));
                            }
                            return Delivery::from(conflict);
                        }
                        known.look_up_first = true;
                    }
                    // The user changed in Genesys between our read and our write (409, or 400/408
                    // saying the version does not match): read again.
                    (Purpose::ChangeUserState | Purpose::UpdateUser, err)
                        if self.settings.api == ApiMode::Platform && version_mismatch(&err) =>
                    {
                        version_conflicts += 1;
                        if version_conflicts >= MAX_VERSION_CONFLICTS {
                            return Delivery::Defer(
                                None,
                                format!("the Genesys user kept changing (version conflicts): {err}"),
                            );
                        }
                        known.current = None;
                    }
                    // Deleted in Genesys: forget the link; the next attempt creates it again.
                    (
                        Purpose::ReadUser | Purpose::ChangeUserState | Purpose::UpdateUser,
                        ClientError::Refused { status: 404, .. },
                    ) if subject.is_user_sync() => {
                        if let Err(d) = self.set_link(ResourceKind::User, &e.resource_id, None).await {
                            return d;
                        }
                        return Delivery::Defer(
                            Some(Duration::ZERO),
                            "the Genesys user was gone; creating it again".into(),
                        );
                    }
                    // Already gone in Genesys: the goal is reached.
                    (Purpose::DeleteUser | Purpose::DeactivateUser, ClientError::Refused { status: 404, .. }) => {
                        known.deleted = true;
                        if let Err(d) = self.remember(e, subject, &step, &known).await {
                            return d;
                        }
                    }
                    // A filtered remove whose element is gone already (an administrator deleted
                    // that phone): RFC 7644 §3.5.2.2 answers noTarget. Its goal is reached: send
                    // the other operations without the filtered removes, once.
                    (Purpose::UpdateUser, ClientError::Refused { status: 400, code, .. })
                        if code.eq_ignore_ascii_case("noTarget") && self.settings.api == ApiMode::Scim =>
                    {
                        let Some(request) = without_filtered_removes(&step.request) else {
                            return Delivery::Park(
                                "Genesys answered noTarget to an update without a filtered remove".into(),
                            );
                        };
                        tracing::info!(scim.resource_id = %e.resource_id, "a value the bridge removes was gone already; sending the rest");
                        match self.client.send(&request).await {
                            Ok(resp) => {
                                known.learn(&step, &resp.body, self.settings.api);
                                if let Subject::User(m) = subject {
                                    let (id, w) = (
                                        e.resource_id.clone(),
                                        serde_json::to_string(&Written::of(m)).unwrap_or_default(),
                                    );
                                    if let Err(d) = self.blocking(move |s| s.set_written_fields(&id, &w)).await {
                                        return d;
                                    }
                                }
                            }
                            Err(err) => return Delivery::from(err),
                        }
                    }
                    (_, err) => return Delivery::from(err),
                },
            }
        }
        Delivery::Defer(None, "the change needed more Genesys requests than expected; trying again".into())
    }

    /// After a lookup or a create: record the bridge's ownership of the user, or stop when the
    /// user found is not the bridge's to change (`None`: go on).
    async fn check_ownership(
        &self,
        e: &OutboxEntry,
        subject: &Subject,
        step: &Step,
        known: &Known,
        prior: Option<Ownership>,
    ) -> Option<Delivery> {
        let g = known.genesys_id.clone()?;
        let id = e.resource_id.clone();
        let (name, found) = match (subject, &step.purpose) {
            (Subject::User(m), Purpose::CreateUser) => (m.user_name().to_string(), false),
            (Subject::User(m), Purpose::FindUser) => (m.user_name().to_string(), true),
            (Subject::DeletedUser(_), Purpose::FindUser) => {
                let owns = match self.owns(&g).await {
                    Ok(o) => o,
                    Err(d) => return Some(d),
                };
                if !owns {
                    tracing::info!(scim.resource_id = %id, "the Genesys user with this userName is not the bridge's: left as it is");
                    return Some(Delivery::Done);
                }
                return None;
            }
            _ => return None,
        };
        let how = if !found {
            Ownership::Created
        } else {
            let owned_elsewhere = match self.owns(&g).await {
                Ok(o) => o,
                Err(d) => return Some(d),
            };
            match prior {
                // An earlier create may have made it; or it is a user the bridge made before
                // (deactivated, then created again by the IdP).
                Some(Ownership::Creating | Ownership::Created) => Ownership::Created,
                _ if owned_elsewhere => Ownership::Created,
                Some(Ownership::AdoptAllowed | Ownership::Adopted) => Ownership::Adopted,
                None if self.adopt == AdoptPolicy::ByUserName => Ownership::Adopted,
                None => {
                    return Some(Delivery::Park(format!(
                        "a Genesys user with this userName exists and was not created by the bridge; it is \
                         left as it is. To let the bridge take it over, run `scim-bridge outbox adopt {id}` for this \
                         user, or set SCIM_BRIDGE_GENESYS_ADOPT=by-username for all; or change the userName at the \
                         identity provider"
                    )));
                }
            }
        };
        let result = self.blocking(move |s| s.set_owned_user(&id, &name, Some(&g), how)).await;
        result.err()
    }

    /// Whether the bridge owns the Genesys user `genesys_id` (for any bridge user).
    async fn owns(&self, genesys_id: &str) -> Result<bool, Delivery> {
        let g = genesys_id.to_string();
        self.blocking(move |s| s.owns_genesys_user(&g)).await
    }

    /// Store what a step taught that outlives this delivery: the link of a found or created
    /// user or group, the link forgotten after a delete, a division id.
    async fn remember(&self, e: &OutboxEntry, subject: &Subject, step: &Step, known: &Known) -> Result<(), Delivery> {
        match &step.purpose {
            Purpose::FindUser | Purpose::CreateUser if subject.is_user_sync() => {
                if let Some(g) = &known.genesys_id {
                    self.set_link(ResourceKind::User, &e.resource_id, Some(g)).await?;
                }
            }
            Purpose::DeleteUser => self.set_link(ResourceKind::User, &e.resource_id, None).await?,
            Purpose::UpdateGroupMembers { add, remove } => {
                if let Some(g) = known.genesys_id.clone() {
                    let (id, add, remove) = (e.resource_id.clone(), add.clone(), remove.clone());
                    self.blocking(move |s| s.record_genesys_group_members(&id, &g, &add, &remove)).await?;
                }
            }
            Purpose::FindDivision(name) => {
                if let Some(d) = &known.division_id {
                    self.divisions.lock().await.insert(name.to_lowercase(), d.clone());
                }
            }
            Purpose::HomeDivision => {
                if let Some(d) = &known.home_division {
                    let _ = self.home_division.set(d.clone());
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Dry run: record what delivering `e` would send (the whole first plan), without sending.
    /// What depends on Genesys's answers is a placeholder in braces (`plan`). A user whose create
    /// was recorded is updated next time, as it would be had the create been sent; a division
    /// looked up once is taken as known.
    async fn preview(&self, e: &OutboxEntry) {
        let (requests, note) = match self.planned(e).await {
            Ok(planned) => planned,
            Err(outcome) => {
                self.record(e, outcome).await;
                return;
            }
        };
        let at = now_millis();
        let row =
            |method: String, path: String, body: Option<Value>, after_read: bool, note: Option<String>| DryRunRequest {
                at,
                kind: e.kind.as_str().to_string(),
                resource_id: e.resource_id.clone(),
                method,
                path,
                body,
                body_after_read: after_read,
                note,
            };
        let mut note = note;
        let mut requests: Vec<DryRunRequest> = requests
            .into_iter()
            .map(|s| {
                let after_read = matches!(s.body, plan::Body::AfterRead(_));
                row(
                    s.request.verb.as_str().to_string(),
                    s.request.target(),
                    s.body.json().cloned(),
                    after_read,
                    note.take(),
                )
            })
            .collect();
        // Nothing would be sent, for a reason worth showing (a collision): a row without a request.
        if let Some(why) = note {
            requests.push(row(String::new(), String::new(), None, false, Some(why)));
        }
        let n = requests.iter().filter(|r| !r.method.is_empty()).count();
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

    /// The plan of `e` as the worker would start it, from what the bridge knows without asking
    /// Genesys (the dry run; `reconcile` prints the same plans).
    async fn planned(&self, e: &OutboxEntry) -> Result<(Vec<Step>, Option<String>), Delivery> {
        let Some(subject) = self.subject(e).await? else { return Ok((Vec::new(), None)) };
        let (mut known, prior) = self.known(e, &subject, true).await?;
        let note = match &subject {
            Subject::User(m) if known.genesys_id.is_none() => match self.collision(m, prior).await? {
                Collision::None(note) => note,
                Collision::Own(g, note) => {
                    known.genesys_id = Some(g);
                    Some(note)
                }
                Collision::Adopt(g, note) => {
                    known.genesys_id = Some(g);
                    known.fields_written = Written::default();
                    Some(note)
                }
                Collision::Park(why) => {
                    self.dry_remember(e, &subject, &known, None);
                    return Ok((Vec::new(), Some(why)));
                }
            },
            // A delete of a user never linked: only a user the bridge owns is deactivated or
            // deleted (delivery looks it up and checks, as here).
            Subject::DeletedUser(Some(name)) if known.genesys_id.is_none() && self.dry_run_reads => {
                match self.client.send(&ApiRequest::scim_user_by_user_name(name)).await {
                    Ok(answer) => match wire::first_id(&answer.body) {
                        Some(g) if self.owns(&g).await? => {
                            known.genesys_id = Some(g);
                            None
                        }
                        Some(g) => {
                            let why = format!(
                                "Genesys user {g} has this userName and is not the bridge's: left as it is, nothing sent"
                            );
                            return Ok((Vec::new(), Some(why)));
                        }
                        None => return Ok((Vec::new(), None)),
                    },
                    Err(err) => Some(format!("could not check Genesys for a user with this userName ({err})")),
                }
            }
            _ => None,
        };
        // Platform mode: a real Genesys user the dry run has not planned writes for yet is read
        // (GET), so the planned writes are the exact ones, the phones it keeps included.
        if let (Subject::User(_), ApiMode::Platform, Some(g), None) =
            (&subject, self.settings.api, &known.genesys_id, &known.current)
            && self.dry_run_reads
            && !g.starts_with('{')
        {
            match self.client.send(&ApiRequest::platform_user_get(g)).await {
                Ok(answer) => known.current = Some(answer.body),
                Err(err) => {
                    let why = format!("could not read the Genesys user ({err}); the writes shown depend on that read");
                    return Ok((self.planned_steps(e, &subject, &known).await?, Some(why)));
                }
            }
        }
        let assumed = known.current.as_ref().and_then(|c| c.get("version")).and_then(Value::as_str)
            == Some(plan::VERSION_PLACEHOLDER);
        let mut steps = self.planned_steps(e, &subject, &known).await?;
        self.dry_remember(e, &subject, &known, Some(&steps));
        // Planned against the user as the dry run's own writes would leave it: delivery reads it
        // first all the same.
        if let (true, Subject::User(_), Some(g), Some(first)) = (assumed, &subject, &known.genesys_id, steps.first())
            && !matches!(first.purpose, Purpose::ReadUser | Purpose::CreateUser)
        {
            steps.insert(0, Step::read_platform_user(g));
        }
        Ok((steps, note))
    }

    /// Dry run: take the recorded plan of `e` as done, for the plans of later changes. A user
    /// written is known by its Genesys id (found, or a placeholder) with the fields written; a
    /// user with nothing sent (a collision) is left out of its groups, as delivery leaves out a
    /// member whose change is parked.
    fn dry_remember(&self, e: &OutboxEntry, subject: &Subject, known: &Known, steps: Option<&[Step]>) {
        let mut state = self.dry_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match (subject, steps) {
            (Subject::User(_), None) => {
                state.parked.insert(e.resource_id.clone());
            }
            (Subject::User(m), Some(steps)) => {
                state.parked.remove(&e.resource_id);
                let writes =
                    |p: &Purpose| matches!(p, Purpose::CreateUser | Purpose::UpdateUser | Purpose::ChangeUserState);
                let grants = |p: &Purpose| matches!(p, Purpose::GrantRoles(_));
                if steps.iter().any(|s| writes(&s.purpose) || grants(&s.purpose)) {
                    let genesys_id =
                        known.genesys_id.clone().unwrap_or_else(|| plan::user_id_placeholder(m.user_name()));
                    let current = match self.settings.api {
                        ApiMode::Platform => after_platform_writes(known.current.clone(), steps),
                        ApiMode::Scim => None,
                    };
                    let fields_written =
                        if steps.iter().any(|s| matches!(s.purpose, Purpose::CreateUser | Purpose::UpdateUser)) {
                            Written::of(m)
                        } else {
                            known.fields_written.clone()
                        };
                    // The roles as the planned requests leave them: a create or a state change
                    // drops what the user held, a grant adds.
                    let mut roles_granted = known.roles_granted.clone();
                    for s in steps {
                        match &s.purpose {
                            Purpose::CreateUser | Purpose::ChangeUserState | Purpose::DeactivateUser => {
                                roles_granted.clear()
                            }
                            Purpose::UpdateUser
                                if s.request.body.as_ref().is_some_and(wire::scim_patch_deactivates) =>
                            {
                                roles_granted.clear()
                            }
                            Purpose::GrantRoles(specs) => roles_granted.extend(specs.iter().cloned()),
                            _ => {}
                        }
                    }
                    let user = DryUser { genesys_id, written: fields_written, current, roles_granted };
                    state.written.insert(e.resource_id.clone(), user);
                }
            }
            (Subject::DeletedUser(_), _) => {
                state.parked.remove(&e.resource_id);
            }
            (Subject::Group { .. }, _) => {}
        }
    }

    /// Dry run, a user the bridge has no Genesys id for: is there a Genesys user with its
    /// userName already, and what would delivery do about it (the same rules as
    /// [`Self::check_ownership`])? Reads Genesys only when allowed ([`Self::dry_run_reads`]).
    async fn collision(&self, m: &MappedUser, prior: Option<Ownership>) -> Result<Collision, Delivery> {
        if !self.dry_run_reads {
            return Ok(Collision::None(Some(
                "not checked against Genesys (no Genesys credentials configured): whether a Genesys user already \
                 has this userName is found out only when the change is sent"
                    .into(),
            )));
        }
        let found = match self.client.send(&ApiRequest::scim_user_by_user_name(m.user_name())).await {
            Ok(answer) => wire::first_id(&answer.body),
            Err(err) => {
                return Ok(Collision::None(Some(format!(
                    "could not check Genesys for a user with this userName ({err}); planned as a create"
                ))));
            }
        };
        let Some(g) = found else { return Ok(Collision::None(None)) };
        let owned_elsewhere = self.owns(&g).await?;
        Ok(match prior {
            Some(Ownership::Creating | Ownership::Created) => {
                Collision::Own(g.clone(), format!("Genesys user {g} has this userName and is the bridge's: updated"))
            }
            _ if owned_elsewhere => {
                Collision::Own(g.clone(), format!("Genesys user {g} has this userName and is the bridge's: updated"))
            }
            Some(Ownership::AdoptAllowed | Ownership::Adopted) => Collision::Adopt(
                g.clone(),
                format!("adopts Genesys user {g}, which has this userName (`scim-bridge outbox adopt`)"),
            ),
            None if self.adopt == AdoptPolicy::ByUserName => Collision::Adopt(
                g.clone(),
                format!("adopts Genesys user {g}, which has this userName (genesys.adopt = by-username)"),
            ),
            None => Collision::Park(format!(
                "collision: Genesys user {g} has this userName and was not created by the bridge; nothing would be \
                 sent and the change would be parked (genesys.adopt = never). To let the bridge take it over, run \
                 `scim-bridge outbox adopt <id>` for this user, or set SCIM_BRIDGE_GENESYS_ADOPT=by-username"
            )),
        })
    }

    /// The plan's steps as the dry run records them (see [`Self::planned`]).
    async fn planned_steps(&self, e: &OutboxEntry, subject: &Subject, known: &Known) -> Result<Vec<Step>, Delivery> {
        match plan::plan(&subject.change(), known, self.settings) {
            Plan::Done => Ok(Vec::new()),
            Plan::Send(steps) => {
                // Later plans take a looked-up division as known, and a group's planned members
                // as added by the bridge (recorded under the placeholder of the group's id, which
                // no real Genesys group id equals, so delivery never counts them as its own).
                for s in &steps {
                    match &s.purpose {
                        Purpose::UpdateGroupMembers { add, remove } => {
                            let group = s.request.path.rsplit('/').next().unwrap_or_default().to_string();
                            let (id, add, remove) = (e.resource_id.clone(), add.clone(), remove.clone());
                            self.blocking(move |st| st.record_genesys_group_members(&id, &group, &add, &remove))
                                .await?;
                        }
                        Purpose::FindDivision(name) => {
                            self.divisions.lock().await.insert(name.to_lowercase(), plan::division_placeholder(name));
                        }
                        Purpose::HomeDivision => {
                            let _ = self.home_division.set(plan::HOME_DIVISION_PLACEHOLDER.to_string());
                        }
                        _ => {}
                    }
                }
                Ok(steps)
            }
            Plan::Park(why) => Err(Delivery::Park(why)),
            Plan::Wait(after, why) => Err(Delivery::Defer(Some(after), why)),
        }
    }

    /// The stored resource behind `e`, ready for planning; `None` when there is nothing to send
    /// (the resource was deleted meanwhile, or a group was deleted: Genesys groups are not
    /// deleted through SCIM). A user the mapping cannot send is parked.
    async fn subject(&self, e: &OutboxEntry) -> Result<Option<Subject>, Delivery> {
        match (e.kind, e.op) {
            (ResourceKind::User, OutboxOp::Sync) => Ok(self.mapped_user(&e.resource_id).await?.map(Subject::User)),
            (ResourceKind::User, OutboxOp::Delete) => Ok(Some(Subject::DeletedUser(e.user_name.clone()))),
            (ResourceKind::Group, OutboxOp::Sync) => {
                let Some((group, members)) = self.group_with_members(&e.resource_id).await? else { return Ok(None) };
                let mut ids = Vec::new();
                for m in members.iter().filter(|m| m.kind == crate::store::MemberKind::User) {
                    let mut genesys_id = self.link(ResourceKind::User, &m.id).await?;
                    if self.dry_run && genesys_id.is_none() {
                        // As the dry run took its plans: written (found or a placeholder), or
                        // parked, which delivery leaves out of the group.
                        let state = self.dry_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        if state.parked.contains(&m.id) {
                            continue;
                        }
                        genesys_id = state.written.get(&m.id).map(|u| u.genesys_id.clone());
                    }
                    ids.push(Member { bridge_id: m.id.clone(), genesys_id });
                }
                let id = e.resource_id.clone();
                let added = self.blocking(move |s| s.genesys_group_added(&id)).await?;
                Ok(Some(Subject::Group { doc: group.into_full_document(), members: ids, attempts: e.attempts, added }))
            }
            (ResourceKind::Group, OutboxOp::Delete) => Ok(None),
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

    /// What the bridge knows of the Genesys side of `e` before asking Genesys: the stored link
    /// and the divisions found so far. In a dry run, a user whose create was recorded counts as
    /// created, and members not delivered count as delivered. Also how the bridge owns the user.
    async fn known(
        &self,
        e: &OutboxEntry,
        subject: &Subject,
        dry_run: bool,
    ) -> Result<(Known, Option<Ownership>), Delivery> {
        let mut prior = None;
        let mut known = Known { genesys_id: self.link(e.kind, &e.resource_id).await?, ..Known::default() };
        let user_name = match subject {
            Subject::User(m) => Some(m.user_name()),
            Subject::DeletedUser(name) => name.as_deref(),
            Subject::Group { .. } => None,
        };
        let mut dry_written = None;
        let mut dry_roles = None;
        if let Some(name) = user_name
            && known.genesys_id.is_none()
            && dry_run
        {
            let remembered = self
                .dry_state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .written
                .get(&e.resource_id)
                .cloned();
            if let Some(user) = remembered {
                known.genesys_id = Some(user.genesys_id);
                known.current = user.current;
                dry_written = Some(user.written);
                dry_roles = Some(user.roles_granted);
            } else {
                let id = e.resource_id.clone();
                if self.blocking(move |s| s.dry_run_seen(&id)).await? {
                    known.genesys_id = Some(plan::user_id_placeholder(name));
                }
            }
        }
        if let Subject::DeletedUser(_) = subject {
            let id = e.resource_id.clone();
            let owned = self.blocking(move |s| s.owned_user(&id)).await?;
            known.roles_granted = stored_roles(owned.as_ref());
        }
        if let Subject::User(m) = subject {
            let id = e.resource_id.clone();
            let owned = self.blocking(move |s| s.owned_user(&id)).await?;
            known.roles_granted = dry_roles.take().unwrap_or_else(|| stored_roles(owned.as_ref()));
            prior = owned.as_ref().map(|o| o.how);
            if !m.roles().is_empty() {
                (known.role_ids, known.roles_absent) = self.roles.known(std::time::Instant::now());
            }
            let placeholder = known.genesys_id.as_deref().is_some_and(|g| g.starts_with('{'));
            let written = owned.as_ref().and_then(|o| o.written.as_deref());
            known.fields_written = match written.and_then(|w| serde_json::from_str::<Written>(w).ok()) {
                _ if dry_written.is_some() => dry_written.clone().unwrap_or_default(),
                Some(w) => w,
                // The dry run recorded a create of this user: it would have written what it had.
                None if placeholder => Written::of(m),
                // Linked before the bridge kept ownership records: it made the user and wrote
                // every field it had.
                None if known.genesys_id.is_some() && owned.is_none() => Written::all(),
                None => Written::default(),
            };
        }
        if let Subject::User(m) = subject
            && self.settings.api == ApiMode::Platform
            && known.genesys_id.is_none()
        {
            known.division_id = match m.division() {
                Some(name) => self.divisions.lock().await.get(&name.to_lowercase()).cloned(),
                None => self.home_division.get().cloned(),
            };
        }
        known.home_division = self.home_division.get().cloned();
        known.assume_members_delivered = dry_run;
        if let Subject::Group { added, .. } = subject {
            known.bridge_added = bridge_added(added, known.genesys_id.as_deref());
        }
        Ok((known, prior))
    }
}

/// Renew this replica's leases every fifth of [`LEASE`] until `stop`, so that a delivery that
/// waits (rate limits, retries) keeps its change while the replica lives; and take over the
/// changes of a replica that stopped renewing (it died).
async fn heartbeat(store: Arc<Store>, owner: String, mut stop: tokio::sync::watch::Receiver<bool>) {
    let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX / 4);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(LEASE / 5) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let (s, o) = (store.clone(), owner.clone());
        let beat = move || {
            let now = now_millis();
            s.outbox_renew(&o, now + lease)?;
            s.outbox_take_over(&o, now, now + lease)
        };
        match tokio::task::spawn_blocking(beat).await {
            Ok(Ok(0)) => tracing::trace!("outbox leases renewed"),
            Ok(Ok(n)) => {
                tracing::warn!(outbox.taken_over = n, "took over changes whose replica stopped renewing its leases")
            }
            Ok(Err(e)) => {
                tracing::warn!(error.cause = %e, "cannot renew the outbox leases; another replica may take them")
            }
            Err(_) => tracing::warn!("the lease renewal task failed"),
        }
    }
}

/// The roles granted to an owned user, from its stored row.
fn stored_roles(owned: Option<&crate::store::OwnedUser>) -> BTreeSet<String> {
    owned.and_then(|o| o.roles_granted.as_deref()).and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default()
}

/// The roles granted, as stored (`None`: none).
fn roles_json(roles: &BTreeSet<String>) -> Option<String> {
    (!roles.is_empty()).then(|| serde_json::to_string(roles).unwrap_or_default())
}

/// A SCIM PATCH without its filtered `remove` operations (`phoneNumbers[type eq "…"]`), or
/// `None` when it has none.
fn without_filtered_removes(request: &ApiRequest) -> Option<ApiRequest> {
    let mut body = request.body.clone()?;
    let ops = body.get_mut("Operations")?.as_array_mut()?;
    let before = ops.len();
    ops.retain(|op| {
        let remove = op.get("op").and_then(Value::as_str).is_some_and(|o| o.eq_ignore_ascii_case("remove"));
        !(remove && op.get("path").and_then(Value::as_str).is_some_and(|p| p.contains('[')))
    });
    (ops.len() < before).then(|| ApiRequest { body: Some(body), ..request.clone() })
}

/// What the dry run took as done: per user, the Genesys id (or its placeholder) and the fields
/// its recorded plan wrote; the users whose change would be parked.
#[derive(Default)]
struct DryState {
    written: std::collections::HashMap<String, DryUser>,
    parked: std::collections::HashSet<String>,
}

/// A user the dry run planned writes for.
#[derive(Clone)]
struct DryUser {
    /// Its Genesys id, or the placeholder of a user the dry run would have created.
    genesys_id: String,
    /// The fields the plan wrote.
    written: Written,
    /// Platform mode: the user as Genesys would hold it after the planned writes (read first,
    /// or as created), at a placeholder version.
    current: Option<Value>,
    /// The roles granted by the planned requests since the user's last (re)activation.
    roles_granted: BTreeSet<String>,
}

/// The Platform user `current` after the writes of `steps` (its create, its PATCHes).
fn after_platform_writes(current: Option<Value>, steps: &[Step]) -> Option<Value> {
    let mut current = current;
    for s in steps {
        let Some(body) = s.request.body.as_ref().and_then(Value::as_object) else { continue };
        match s.purpose {
            Purpose::CreateUser => {
                let mut created = body.clone();
                created.remove("divisionId");
                current = Some(Value::Object(created));
            }
            Purpose::ChangeUserState | Purpose::UpdateUser => {
                let mut merged = current.take().and_then(|c| c.as_object().cloned()).unwrap_or_default();
                merged.extend(body.iter().map(|(k, v)| (k.clone(), v.clone())));
                current = Some(Value::Object(merged));
            }
            _ => {}
        }
    }
    current.map(|mut c| {
        if let Some(obj) = c.as_object_mut() {
            obj.insert("version".into(), Value::String(plan::VERSION_PLACEHOLDER.into()));
        }
        c
    })
}

/// What the dry run found when it looked for a Genesys user with a new user's userName.
enum Collision {
    /// None (or not checked: the note says why): the plan creates the user.
    None(Option<String>),
    /// One the bridge owns (made earlier, deactivated): updated.
    Own(String, String),
    /// One adoption applies to (by setting or by `outbox adopt`): adopted and updated.
    Adopt(String, String),
    /// One the bridge may not touch: nothing is sent, the change would be parked.
    Park(String),
}

/// How logs name one change: `User/<id>#<revision>` (the revision counts the changes to the
/// resource folded into this row).
fn change_id(e: &OutboxEntry) -> String {
    format!("{}/{}#{}", e.kind.as_str(), e.resource_id, e.revision)
}

/// Backoff for a failed delivery without a server-given delay: 1 s doubling to 5 minutes.
fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 9)).unwrap_or(9);
    Duration::from_secs(1u64 << exp).min(Duration::from_secs(300))
}
