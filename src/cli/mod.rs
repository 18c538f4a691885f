//! The `scim-bridge` command line: `serve`, `migrate`, `token create|list|revoke`, `outbox list|retry`,
//! `genesys-sim`.
//!
//! Must not import diesel: storage goes through `store`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::{Config, JwtConfig, Secret};
use crate::genesys::simulator::{FaultsUpdate, SimConfig};
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(name = "scim-bridge", version, about = "SCIM 2.0 bridge from your identity provider to Genesys Cloud")]
pub struct Cli {
    /// Database: a SQLite file path (created on first start).
    #[arg(long = "database", env = "SCIM_BRIDGE_DATABASE_URL", default_value = "scim-bridge.db", global = true)]
    pub database: String,
    /// Log format: text or json.
    #[arg(long, env = "SCIM_BRIDGE_LOG_FORMAT", default_value = "text", global = true, value_parser = ["text", "json"])]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the SCIM server.
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage static bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Inspect and retry the changes waiting to reach Genesys Cloud.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Run the Genesys Cloud simulator (OAuth, SCIM v2, Platform users) for tests and demos.
    GenesysSim(Box<GenesysSimArgs>),
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List pending and dead changes (oldest pending first).
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make dead changes pending again: all of them, or those of one resource id.
    Retry { resource_id: Option<String> },
}

/// `genesys-sim`: one listener is both the login host (`POST /oauth/token`) and the API host
/// (`/api/v2/...`); admin routes under `/sim/` need no token, so keep it on loopback.
#[derive(Debug, Args)]
pub struct GenesysSimArgs {
    /// Address to listen on.
    #[arg(long, env = "SCIM_BRIDGE_SIM_LISTEN", default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// The OAuth client id the simulator accepts.
    #[arg(long, env = "SCIM_BRIDGE_SIM_CLIENT_ID")]
    pub client_id: String,
    /// The OAuth client secret the simulator accepts.
    #[arg(long, env = "SCIM_BRIDGE_SIM_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Secret,
    /// Requests allowed per token per window (Genesys: 300 per minute).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_per_minute: u32,
    /// Length of the rate-limit window in seconds (Genesys: 60).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub window_seconds: u64,
    /// Lifetime of issued access tokens in seconds (Genesys default 86400).
    #[arg(long, default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub token_lifetime_seconds: u64,
    /// Groups that exist from the start, comma-separated ("Sales,Support").
    #[arg(long, value_delimiter = ',')]
    pub seed_groups: Vec<String>,
    /// JSON seed file: ["Sales", ...] or {"groups": [...], "divisions": [...], "users": [SCIM users]}.
    #[arg(long)]
    pub seed_file: Option<PathBuf>,
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

impl GenesysSimArgs {
    /// The simulator configuration these flags describe.
    pub fn sim_config(self) -> SimConfig {
        SimConfig {
            listen: self.listen,
            client_id: self.client_id,
            client_secret: self.client_secret,
            rate_limit_per_minute: self.rate_limit_per_minute,
            rate_window: std::time::Duration::from_secs(self.window_seconds),
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
                ..FaultsUpdate::default()
            },
            workers: self.workers.max(1),
            ..SimConfig::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SCIM_BRIDGE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "SCIM_BRIDGE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Externally visible SCIM base URL, e.g. https://scim.example.com/scim/v2 (default: from the request).
    #[arg(long, env = "SCIM_BRIDGE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// HTTP worker threads (0 = one per core).
    #[arg(long, env = "SCIM_BRIDGE_WORKERS", default_value_t = 0)]
    pub workers: usize,
    /// HS256 secret for JWT bearer tokens.
    #[arg(long, env = "SCIM_BRIDGE_JWT_HS256_SECRET", hide_env_values = true)]
    pub jwt_hs256_secret: Option<Secret>,
    /// PEM file with the RSA or EC public key for RS256/ES256 JWT bearer tokens.
    #[arg(long, env = "SCIM_BRIDGE_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,
    /// Required JWT issuer (`iss`).
    #[arg(long, env = "SCIM_BRIDGE_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required JWT audience (`aud`).
    #[arg(long, env = "SCIM_BRIDGE_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    #[command(flatten)]
    pub genesys: GenesysArgs,
}

/// Genesys Cloud. Without a client id and secret, `serve` runs the built-in simulator.
#[derive(Debug, Args)]
pub struct GenesysArgs {
    /// Genesys region: an SDK name (us_east_1, eu_central_1, ...) or a domain (mypurecloud.de).
    #[arg(long = "genesys-region", env = "SCIM_BRIDGE_GENESYS_REGION")]
    pub region: Option<String>,
    /// Genesys API base URL (instead of a region).
    #[arg(long = "genesys-api-url", env = "SCIM_BRIDGE_GENESYS_API_URL")]
    pub api_url: Option<String>,
    /// Genesys login (OAuth) base URL (instead of a region).
    #[arg(long = "genesys-login-url", env = "SCIM_BRIDGE_GENESYS_LOGIN_URL")]
    pub login_url: Option<String>,
    /// OAuth client id (client credentials grant).
    #[arg(long = "genesys-client-id", env = "SCIM_BRIDGE_GENESYS_CLIENT_ID")]
    pub client_id: Option<String>,
    /// OAuth client secret.
    #[arg(long = "genesys-client-secret", env = "SCIM_BRIDGE_GENESYS_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<Secret>,
    /// A file holding the OAuth client secret (instead of the variable).
    #[arg(long = "genesys-client-secret-file", env = "SCIM_BRIDGE_GENESYS_CLIENT_SECRET_FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// Which Genesys API receives users: scim or platform.
    #[arg(long = "genesys-api", env = "SCIM_BRIDGE_GENESYS_API", default_value = "scim", value_parser = ["scim", "platform"])]
    pub api: String,
    /// SCIM path of the 8x8 number, e.g. 'phoneNumbers[type eq "work"].value'.
    #[arg(long = "genesys-number-source", env = "SCIM_BRIDGE_GENESYS_NUMBER_SOURCE")]
    pub number_source: Option<String>,
    /// Country for national-format numbers (ISO code such as US).
    #[arg(long = "genesys-default-country", env = "SCIM_BRIDGE_GENESYS_DEFAULT_COUNTRY")]
    pub default_country: Option<String>,
    /// Division name for users without one.
    #[arg(long = "genesys-division", env = "SCIM_BRIDGE_GENESYS_DIVISION")]
    pub division: Option<String>,
    /// What a SCIM DELETE does in Genesys.
    #[arg(long = "genesys-delete", env = "SCIM_BRIDGE_GENESYS_DELETE", default_value = "delete", value_parser = ["delete", "deactivate"])]
    pub delete_mode: String,
}

impl GenesysArgs {
    fn into_settings(self) -> anyhow::Result<crate::config::GenesysSettings> {
        let client_secret = match (self.client_secret, self.client_secret_file) {
            (Some(s), None) => Some(s),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading the Genesys client secret from {}", path.display()))?;
                Some(Secret::new(text.trim()))
            }
            (Some(_), Some(_)) => anyhow::bail!(
                "both SCIM_BRIDGE_GENESYS_CLIENT_SECRET and SCIM_BRIDGE_GENESYS_CLIENT_SECRET_FILE are set; keep one"
            ),
            (None, None) => None,
        };
        Ok(crate::config::GenesysSettings {
            region: self.region,
            api_url: self.api_url,
            login_url: self.login_url,
            client_id: self.client_id,
            client_secret,
            api: self.api,
            number_source: self.number_source,
            default_country: self.default_country,
            division: self.division,
            delete_mode: self.delete_mode,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (alone) on stdout. Only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List token names and creation times.
    List,
    /// Revoke the token called NAME.
    Revoke { name: String },
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    crate::telemetry::init(cli.log_format == "json");
    match cli.command {
        Command::Serve(args) => {
            let bootstrap =
                std::env::var("SCIM_BRIDGE_BOOTSTRAP_TOKEN").ok().filter(|t| !t.trim().is_empty()).map(Secret::new);
            let config = Config {
                listen: args.listen,
                database_url: cli.database,
                max_body_bytes: args.max_body_bytes,
                bootstrap_token: bootstrap,
                jwt: JwtConfig {
                    hs256_secret: args.jwt_hs256_secret,
                    public_key_file: args.jwt_public_key_file,
                    issuer: args.jwt_issuer,
                    audience: args.jwt_audience,
                },
                public_url: args.public_url,
                workers: args.workers,
                genesys: args.genesys.into_settings()?,
            };
            crate::http::serve_blocking(config)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let n = Store::migrate(&cli.database).with_context(|| format!("migrating {}", cli.database))?;
            eprintln!("scim-bridge: {n} migration(s) applied to {}", cli.database);
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox(cmd) => {
            let store = Store::open(&cli.database).with_context(|| format!("opening {}", cli.database))?;
            match cmd {
                OutboxCommand::List { json } => {
                    let pending = store.outbox_pending()?.into_iter().map(|e| ("pending", e));
                    let dead = store.outbox_dead()?.into_iter().map(|e| ("dead", e));
                    if !json {
                        println!("STATE\tKIND\tRESOURCE\tOP\tCHANGES\tATTEMPTS\tSINCE\tLAST ERROR");
                    }
                    for (state, e) in pending.chain(dead) {
                        let since = crate::store::format_millis(e.created);
                        if json {
                            let line = serde_json::json!({
                                "state": state, "kind": e.kind.as_str(), "resourceId": e.resource_id,
                                "op": e.op.as_str(), "changes": e.revision, "attempts": e.attempts,
                                "since": since, "lastError": e.last_error,
                            });
                            println!("{line}");
                        } else {
                            println!(
                                "{state}\t{}\t{}\t{}\t{}\t{}\t{since}\t{}",
                                e.kind.as_str(),
                                e.resource_id,
                                e.op.as_str(),
                                e.revision,
                                e.attempts,
                                e.last_error.as_deref().unwrap_or("-")
                            );
                        }
                    }
                }
                OutboxCommand::Retry { resource_id } => {
                    let n = store.outbox_retry(resource_id.as_deref())?;
                    eprintln!("scim-bridge: {n} dead change(s) queued again");
                    if n == 0 && resource_id.is_some() {
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(cmd) => {
            let store = Store::open(&cli.database).with_context(|| format!("opening {}", cli.database))?;
            match cmd {
                TokenCommand::Create { name } => {
                    let token = store.create_token(&name)?;
                    println!("{token}");
                }
                TokenCommand::List => {
                    for t in store.list_tokens()? {
                        println!("{}\t{}", t.name, crate::store::format_millis(t.created));
                    }
                }
                TokenCommand::Revoke { name } => {
                    if !store.revoke_token(&name)? {
                        eprintln!("scim-bridge: no token named '{name}'");
                        return Ok(ExitCode::FAILURE);
                    }
                    eprintln!("scim-bridge: token '{name}' revoked");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::GenesysSim(args) => {
            crate::genesys::simulator::serve_blocking(args.sim_config())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
