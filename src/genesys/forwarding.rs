//! Starting the forwarding to Genesys for `serve`: the mapping configuration, the client, the
//! outbox worker, and the built-in simulator when no Genesys credentials are configured.

use std::sync::Arc;

use anyhow::Context;

use super::client::{Client, ClientConfig, Endpoints};
use super::mapping::DeleteMode;
use super::mapping::MappingConfig;
use super::outbox::{RecentDeliveries, Worker};
use super::simulator::{SimConfig, SimHandle};
use crate::config::{GenesysSettings, Secret};
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

/// The mapping options, each parsed with an error that says how to fix it.
pub fn mapping_config(s: &GenesysSettings) -> anyhow::Result<MappingConfig> {
    let mut cfg = MappingConfig {
        api: s.api.parse().map_err(|e| anyhow::anyhow!("SCIM_BRIDGE_GENESYS_API: {e}"))?,
        ..MappingConfig::default()
    };
    if let Some(src) = &s.number_source {
        cfg.number_source = src.parse().map_err(|e| anyhow::anyhow!("SCIM_BRIDGE_GENESYS_NUMBER_SOURCE: {e}"))?;
    }
    if let Some(c) = &s.default_country {
        cfg.default_country = Some(c.parse().map_err(|e| anyhow::anyhow!("SCIM_BRIDGE_GENESYS_DEFAULT_COUNTRY: {e}"))?);
    }
    cfg.division = s.division.clone();
    Ok(cfg)
}

/// Where Genesys is, from a region or explicit URLs.
fn endpoints(s: &GenesysSettings) -> anyhow::Result<Endpoints> {
    match (&s.region, &s.api_url, &s.login_url) {
        (Some(r), None, None) => {
            Endpoints::for_region(r).map_err(|e| anyhow::anyhow!("SCIM_BRIDGE_GENESYS_REGION: {e}"))
        }
        (None, Some(api), Some(login)) => Ok(Endpoints::explicit(api, login)),
        (None, None, None) => anyhow::bail!(
            "Genesys credentials are set but not where Genesys is: set SCIM_BRIDGE_GENESYS_REGION (e.g. us_east_1), \
             or SCIM_BRIDGE_GENESYS_API_URL and SCIM_BRIDGE_GENESYS_LOGIN_URL"
        ),
        _ => anyhow::bail!(
            "set either SCIM_BRIDGE_GENESYS_REGION or both SCIM_BRIDGE_GENESYS_API_URL and SCIM_BRIDGE_GENESYS_LOGIN_URL, not a mix"
        ),
    }
}

/// A client for the configured Genesys (commands such as `reconcile`); the simulator does not
/// stand in here: without credentials this is an error that says what to set.
pub fn client(settings: &GenesysSettings) -> anyhow::Result<Client> {
    let (Some(id), Some(secret)) = (&settings.client_id, &settings.client_secret) else {
        anyhow::bail!(
            "this command talks to Genesys Cloud: set SCIM_BRIDGE_GENESYS_CLIENT_ID, SCIM_BRIDGE_GENESYS_CLIENT_SECRET \
             (or _FILE) and SCIM_BRIDGE_GENESYS_REGION (or the [genesys] table of the configuration file)"
        );
    };
    Client::new(ClientConfig::new(endpoints(settings)?, id.clone(), secret.clone())).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Start forwarding (on the current actix runtime). Without credentials, start the simulator
/// on a loopback port and forward to it, saying so loudly.
pub fn start(store: Arc<Store>, settings: &GenesysSettings, dry_run: bool) -> anyhow::Result<Forwarding> {
    let mapping = mapping_config(settings)?;
    let delete_mode: DeleteMode =
        settings.delete_mode.parse().map_err(|e| anyhow::anyhow!("SCIM_BRIDGE_GENESYS_DELETE: {e}"))?;
    let (client_cfg, simulator) = if settings.has_credentials() {
        let (Some(id), Some(secret)) = (&settings.client_id, &settings.client_secret) else {
            anyhow::bail!("set both SCIM_BRIDGE_GENESYS_CLIENT_ID and SCIM_BRIDGE_GENESYS_CLIENT_SECRET (or _FILE)");
        };
        (ClientConfig::new(endpoints(settings)?, id.clone(), secret.clone()), None)
    } else {
        let secret = Secret::new(uuid::Uuid::new_v4().to_string());
        let sim = super::simulator::start(SimConfig {
            listen: "127.0.0.1:0".parse().context("loopback address")?,
            client_secret: super::simulator::ClientSecret::new(secret.expose()),
            ..SimConfig::default()
        })
        .context("starting the built-in Genesys simulator")?;
        let base = format!("http://{}", sim.addr);
        let cfg = ClientConfig::new(Endpoints::explicit(&base, &base), SimConfig::default().client_id, secret);
        let embedded = EmbeddedSimulator { addr: sim.addr, state: sim.state, handle: sim.server.handle() };
        actix_web::rt::spawn(sim.server);
        (cfg, Some(embedded))
    };
    let client = Arc::new(Client::new(client_cfg).map_err(|e| anyhow::anyhow!("{e}"))?);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let worker = Worker::new(store, client.clone(), mapping.clone(), delete_mode).dry_run(dry_run);
    let recent = worker.recent();
    let outbox = worker.stats();
    let worker = actix_web::rt::spawn(worker.run(stop_rx));
    let target = match (&simulator, &settings.region, &settings.api_url) {
        (Some(sim), _, _) => format!("the built-in simulator at http://{}", sim.addr),
        (None, Some(r), _) => format!("Genesys Cloud, region {r}"),
        (None, None, Some(u)) => format!("Genesys Cloud at {u}"),
        (None, None, None) => "Genesys Cloud".into(),
    };
    Ok(Forwarding { stop, worker, simulator, client, recent, target, mapping, outbox })
}
