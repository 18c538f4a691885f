//! Starting the forwarding to Genesys for `serve`: the mapping configuration, the client, the
//! outbox worker, and the built-in simulator when no Genesys credentials are configured.

use std::sync::Arc;

use anyhow::Context;

use super::client::{BudgetScope, Client, ClientConfig, ClientError, Endpoints, RateBudget};
use super::mapping::MappingConfig;
use super::outbox::{RecentDeliveries, Worker};
use super::role_status::RoleStatus;
use super::simulator::{SimConfig, SimHandle};
use crate::config::{GenesysCloud, GenesysSettings, GenesysTarget, Secret};
use crate::metrics::OutboxStats;
use crate::store::Store;

/// A running forwarder: stop it with [`Forwarding::stop`].
pub struct Forwarding {
    stop: tokio::sync::watch::Sender<bool>,
    worker: actix_web::rt::task::JoinHandle<()>,
    /// The in-process simulator, when no credentials were configured.
    pub simulator: Option<EmbeddedSimulator>,
    pub client: Arc<Client>,
    /// The worker's last deliveries.
    pub recent: Arc<RecentDeliveries>,
    /// Where Genesys is, for the status page (`region us_east_1`, a URL, or the simulator).
    pub target: String,
    pub mapping: MappingConfig,
    /// The worker's outcome counters and last progress.
    pub outbox: OutboxStats,
    /// The roles granted to users with an 8x8 number, and what was found of them.
    pub roles: Arc<RoleStatus>,
}

/// The built-in simulator, serving on the current runtime.
pub struct EmbeddedSimulator {
    pub addr: std::net::SocketAddr,
    /// Its state: faults, stats, profiles.
    pub state: SimHandle,
    handle: actix_web::dev::ServerHandle,
}

impl Forwarding {
    /// Stop the worker between two Genesys calls (a call in flight is answered and recorded;
    /// retries and rate-limit waits end at once, their change staying queued), then the simulator.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.client.shut_down();
        let _ = self.worker.await;
        if let Some(sim) = self.simulator {
            sim.handle.stop(true).await;
        }
    }
}

/// The deployment's one budget of Genesys requests, kept in the database every replica shares.
struct SharedBudget {
    store: Arc<Store>,
}

/// No burst: the shared budget hands out requests evenly over the minute, so no minute of
/// Genesys's sees more than the budget's rate.
const BUDGET_BURST: f64 = 1.0;

impl RateBudget for SharedBudget {
    fn take(&self, observed: Option<f64>, default: f64) -> Result<(), std::time::Duration> {
        let now = crate::store::now_millis();
        match self.store.rate_take("genesys", now, observed, default, BUDGET_BURST) {
            Ok(None) => Ok(()),
            Ok(Some(ms)) => Err(std::time::Duration::from_millis(ms.max(1) as u64)),
            Err(e) => {
                // The database is down: wait a little rather than send unbudgeted.
                tracing::warn!(error.cause = %e, "cannot read the shared Genesys rate budget");
                Err(std::time::Duration::from_secs(1))
            }
        }
    }
}

/// The mapping options, from the configuration's typed values.
pub fn mapping_config(s: &GenesysSettings) -> MappingConfig {
    MappingConfig {
        api: s.api,
        number_source: s.number_source.clone(),
        default_country: s.default_country,
        division: s.division.clone(),
        number_primary: s.number_primary,
        roles: s.roles.clone(),
    }
}

fn client_config(cloud: &GenesysCloud) -> ClientConfig {
    ClientConfig::new(cloud.endpoints.clone(), cloud.client_id.clone(), cloud.client_secret.clone())
}

/// `genesys.timeout`, when set, replaces the client's default per-request timeout.
fn with_timeout(mut cfg: ClientConfig, settings: &GenesysSettings) -> ClientConfig {
    if let Some(t) = settings.timeout {
        cfg.timeout = t;
    }
    cfg
}

/// A client for Genesys Cloud (commands such as `reconcile`; `serve` starts one in [`start`]).
pub fn client(cloud: &GenesysCloud) -> Result<Client, ClientError> {
    Client::new(client_config(cloud))
}

/// Start forwarding (on the current actix runtime). Without credentials, start the simulator
/// on a loopback port and forward to it, saying so loudly.
pub fn start(store: Arc<Store>, settings: &GenesysSettings, dry_run: bool) -> anyhow::Result<Forwarding> {
    let mapping = mapping_config(settings);
    let check = mapping.clone();
    store.set_user_check(Arc::new(move |new, old| super::mapping::check_number_change(new, old, &check)));
    let (client_cfg, simulator, target) = match &settings.target {
        GenesysTarget::Cloud(cloud) => {
            let target = match &cloud.region {
                Some(r) => format!("Genesys Cloud, region {r}"),
                None => format!("Genesys Cloud at {}", cloud.endpoints.api_base),
            };
            (client_config(cloud), None, target)
        }
        GenesysTarget::Simulator => {
            let secret = Secret::new(uuid::Uuid::new_v4().to_string());
            let sim = super::simulator::start(SimConfig {
                listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                client_secret: super::simulator::ClientSecret::new(secret.expose()),
                ..SimConfig::default()
            })
            .context("starting the built-in Genesys simulator")?;
            let base = format!("http://{}", sim.addr);
            let cfg = ClientConfig::new(Endpoints::explicit(&base, &base), SimConfig::default().client_id, secret);
            let embedded = EmbeddedSimulator { addr: sim.addr, state: sim.state, handle: sim.server.handle() };
            actix_web::rt::spawn(sim.server);
            (cfg, Some(embedded), format!("the built-in simulator at http://{}", sim.addr))
        }
    };
    let mut client = Client::new(with_timeout(client_cfg, settings)).map_err(|e| anyhow::anyhow!("{e}"))?;
    if store.is_postgres() && settings.rate_budget == BudgetScope::Shared {
        client = client.with_budget(Arc::new(SharedBudget { store: store.clone() }));
    }
    let client = Arc::new(client);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let worker = Worker::new(store, client.clone(), mapping.clone(), settings.delete_mode)
        .adopt(settings.adopt)
        .dry_run(dry_run)
        .dry_run_reads(simulator.is_none());
    let recent = worker.recent();
    let outbox = worker.stats();
    let roles = worker.role_status();
    let worker = actix_web::rt::spawn(worker.run(stop_rx));
    Ok(Forwarding { stop, worker, simulator, client, recent, target, mapping, outbox, roles })
}
