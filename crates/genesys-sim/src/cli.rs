//! The simulator's command line, shared by its own binary (`genesys-sim`) and by
//! `scim-bridge genesys-sim`: the same flags and `SCIM_BRIDGE_SIM_*` variables in both.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::{ClientSecret, FaultsUpdate, Leniency, RateLimitScope, SimConfig};

/// `genesys-sim`: one listener is both the login host (`POST /oauth/token`) and the API host
/// (`/api/v2/...`); admin routes under `/sim/` need no token, so keep it on loopback.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, env = "SCIM_BRIDGE_SIM_LISTEN", default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// The OAuth client id the simulator accepts.
    #[arg(long, env = "SCIM_BRIDGE_SIM_CLIENT_ID")]
    pub client_id: String,
    /// The OAuth client secret the simulator accepts.
    #[arg(long, env = "SCIM_BRIDGE_SIM_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: ClientSecret,
    /// Requests allowed per window, for each token or each client (--rate-limit-scope;
    /// Genesys: 300 per minute per token).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_per_minute: u32,
    /// Length of the rate-limit window in seconds (Genesys: 60).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub window_seconds: u64,
    /// What one window counts: "token" (each access token on its own, as Genesys does) or
    /// "client" (every token of one OAuth client together: replicas sharing a client share one limit).
    #[arg(long, default_value_t = RateLimitScope::Token)]
    pub rate_limit_scope: RateLimitScope,
    /// Lifetime of issued access tokens in seconds (Genesys default 86400).
    #[arg(long, default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub token_lifetime_seconds: u64,
    /// Groups that exist from the start, comma-separated ("Sales,Support").
    #[arg(long, value_delimiter = ',')]
    pub seed_groups: Vec<String>,
    /// JSON seed file, the body of `POST /sim/seed`: ["Sales", ...] or {"divisions": [...],
    /// "users": [SCIM users], "groups": ["Sales" or {"displayName", "members": [userNames]}]}.
    #[arg(long)]
    pub seed_file: Option<PathBuf>,
    /// Take the lenient side of behaviours no public source settles, comma-separated (default:
    /// strict everywhere); see docs/genesys-api-notes.md §8, "Behaviours and their evidence".
    #[arg(long, value_enum, value_delimiter = ',')]
    pub lenient: Vec<Leniency>,
    /// Probability (0..1) that an API request fails with one of --error-status.
    #[arg(long)]
    pub error_rate: Option<f64>,
    /// Statuses for --error-rate failures, comma-separated (default 502,503,504).
    #[arg(long, value_delimiter = ',')]
    pub error_status: Vec<u16>,
    /// Retry-After seconds on every 429 (over 180 makes Genesys SDKs give up).
    #[arg(long)]
    pub retry_after_seconds: Option<u64>,
    /// Answer every API request with 429 for this many seconds after start.
    #[arg(long = "storm-429-for-seconds")]
    pub storm_429_for_seconds: Option<u64>,
    /// Delay every answer by this many milliseconds.
    #[arg(long)]
    pub latency_ms: Option<u64>,
    /// Probability (0..1) that an API request is answered by closing the connection.
    #[arg(long)]
    pub drop_connection_rate: Option<f64>,
    /// Probability (0..1) that an API request is carried out and its answer then lost (connection dropped).
    #[arg(long)]
    pub lose_response_rate: Option<f64>,
    /// Answer everything with 503 for this many seconds after start.
    #[arg(long)]
    pub outage_for_seconds: Option<u64>,
    /// Status of a version mismatch: 409 (default) or 400.
    #[arg(long)]
    pub version_conflict_status: Option<u16>,
    /// Answer SCIM lists with count > 25 (and no attributes/excludedAttributes) with 429: true or false.
    #[arg(long = "large-page-429")]
    pub large_page_429: Option<bool>,
    /// HTTP worker threads.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
}

impl SimArgs {
    /// The simulator configuration these flags describe.
    pub fn sim_config(self) -> SimConfig {
        SimConfig {
            listen: self.listen,
            client_id: self.client_id,
            client_secret: self.client_secret,
            rate_limit_per_minute: self.rate_limit_per_minute,
            rate_window: std::time::Duration::from_secs(self.window_seconds),
            rate_limit_scope: self.rate_limit_scope,
            token_lifetime: std::time::Duration::from_secs(self.token_lifetime_seconds),
            seed_groups: self.seed_groups.into_iter().map(|g| g.trim().to_string()).filter(|g| !g.is_empty()).collect(),
            seed_file: self.seed_file,
            faults: FaultsUpdate {
                error_rate: self.error_rate,
                error_status: (!self.error_status.is_empty()).then_some(self.error_status),
                retry_after_seconds: self.retry_after_seconds,
                storm_429_for_seconds: self.storm_429_for_seconds,
                latency_ms: self.latency_ms,
                drop_connection_rate: self.drop_connection_rate,
                lose_response_rate: self.lose_response_rate,
                outage_for_seconds: self.outage_for_seconds,
                version_conflict_status: self.version_conflict_status,
                large_page_429: self.large_page_429,
                lenient: (!self.lenient.is_empty()).then_some(self.lenient),
                ..FaultsUpdate::default()
            },
            workers: self.workers.max(1),
            ..SimConfig::default()
        }
    }
}
