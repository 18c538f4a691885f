//! The `scim-bridge` command line: `serve`, `migrate`, `token create|list|revoke`, `outbox list|retry`,
//! `audit` (the audit trail), `genesys-sim`, `sync` (the SCIM client of crates/sync).
//!
//! Must not import diesel: storage goes through `store`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{
    AdminLayer, Config, GenesysLayer, GenesysTarget, Global, JwtLayer, Layer, LogFormat, MetricsLayer, Origin, Origins,
    Secret, key_of_env,
};
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(name = "scim-bridge", version, about = "SCIM 2.0 bridge from your identity provider to Genesys Cloud")]
pub struct Cli {
    /// A TOML configuration file (see docs/configuration.md); environment and flags override it.
    #[arg(long, env = "SCIM_BRIDGE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Database: a SQLite file path, created on first start [default: scim-bridge.db].
    #[arg(long = "database", env = "SCIM_BRIDGE_DATABASE_URL", global = true)]
    pub database: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "SCIM_BRIDGE_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
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
    /// Show the audit trail: who created, replaced, patched or deleted which user or group,
    /// when, from which address (docs/audit.md). Newest entries last.
    Audit(AuditArgs),
    /// Compare the bridge's users with Genesys Cloud's (the 8x8 number above all) and report;
    /// exit status 0 when they match, 2 when they differ.
    Reconcile(Box<ReconcileArgs>),
    /// Run the Genesys Cloud simulator (OAuth, SCIM v2, Platform users) for tests and demos.
    GenesysSim(Box<genesys_sim::SimArgs>),
    /// Make a SCIM server's users and groups match a directory export (CSV or JSON lines),
    /// sending only the differences (docs/sync.md). Exit status 0 all applied, 1 some writes
    /// failed or rows were skipped, 2 could not run.
    Sync(Box<scim_sync::SyncArgs>),
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List pending and dead changes (oldest pending first).
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        /// Show the requests a dry run (SCIM_BRIDGE_DRY_RUN) would have sent to Genesys instead.
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: how many of the newest requests to show.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
    },
    /// Make dead changes pending again: all of them, or those of one resource id.
    Retry { resource_id: Option<String> },
    /// Let the bridge take over the Genesys user that has this user's userName (a create parked
    /// because the bridge did not make that user), and send the change again.
    Adopt { resource_id: String },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this resource: its id, or its userName (users) or displayName (groups), in any case.
    #[arg(long)]
    pub resource: Option<String>,
    /// Only writes by this actor: a token name, a JWT subject, or `bootstrap`.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only writes at or after this time (RFC 3339, e.g. 2026-12-06T08:00:00Z).
    #[arg(long, value_parser = rfc3339_millis)]
    pub since: Option<i64>,
    /// Only writes before this time (RFC 3339).
    #[arg(long, value_parser = rfc3339_millis)]
    pub until: Option<i64>,
    /// How many of the newest matching entries to show.
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Retention: delete the entries older than this many days, print how many, show nothing
    /// (run it from cron or a systemd timer; the trail is otherwise kept for ever).
    #[arg(long, value_name = "DAYS", conflicts_with_all = ["resource", "actor", "since", "until", "json"])]
    pub prune_older_than_days: Option<u32>,
}

/// An RFC 3339 time as milliseconds since the epoch.
fn rfc3339_millis(text: &str) -> Result<i64, String> {
    let t = time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{e}: use RFC 3339, e.g. 2026-12-06T08:00:00Z"))?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| "out of range".to_string())
}

/// An audit entry as `audit --json` prints it: one object, no attribute value beyond the
/// resource's id and name.
fn audit_json(e: &crate::store::AuditEntry) -> serde_json::Value {
    serde_json::json!({
        "at": crate::store::format_millis(e.at),
        "op": e.op.as_str(),
        "bulk": e.bulk,
        "resourceType": e.kind.as_str(),
        "id": e.resource_id,
        "name": e.name,
        "version": e.version,
        "paths": e.paths,
        "actorType": e.actor.kind(),
        "actor": e.actor.name(),
        "issuer": match &e.actor { crate::store::Actor::Jwt { issuer, .. } => Some(issuer.as_str()), _ => None },
        "address": e.address,
        "requestId": e.request_id,
    })
}

/// Audit entries as a table whose columns line up.
fn audit_table(entries: &[crate::store::AuditEntry]) -> String {
    let mut rows = vec![
        ["TIME", "OP", "TYPE", "ID", "NAME", "VERSION", "ACTOR", "ADDRESS", "REQUEST", "PATHS"].map(str::to_string),
    ];
    for e in entries {
        let op = if e.bulk { format!("{} (bulk)", e.op.as_str()) } else { e.op.as_str().to_string() };
        rows.push([
            crate::store::format_millis(e.at),
            op,
            e.kind.as_str().to_string(),
            e.resource_id.clone(),
            e.name.clone().unwrap_or_else(|| "-".into()),
            e.version.map_or_else(|| "-".into(), |v| v.to_string()),
            e.actor.to_string(),
            e.address.clone().unwrap_or_else(|| "-".into()),
            e.request_id.clone().unwrap_or_else(|| "-".into()),
            if e.paths.is_empty() { "-".into() } else { e.paths.join(",") },
        ]);
    }
    let mut widths = [0usize; 10];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SCIM_BRIDGE_LISTEN")]
    pub listen: Option<String>,
    /// Largest request body accepted, in bytes [default: 1048576].
    #[arg(long, env = "SCIM_BRIDGE_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<String>,
    /// Most operations in one Bulk request [default: 1000].
    #[arg(long, env = "SCIM_BRIDGE_BULK_MAX_OPERATIONS")]
    pub bulk_max_operations: Option<String>,
    /// Largest Bulk request body, in bytes [default: 4194304].
    #[arg(long, env = "SCIM_BRIDGE_BULK_MAX_PAYLOAD_BYTES")]
    pub bulk_max_payload_bytes: Option<String>,
    /// Externally visible SCIM base URL, e.g. https://scim.example.com/scim/v2 (default: from the request).
    #[arg(long, env = "SCIM_BRIDGE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// HTTP worker threads [default: one per core].
    #[arg(long, env = "SCIM_BRIDGE_WORKERS")]
    pub workers: Option<String>,
    /// Serve HTTPS: the PEM certificate chain (reloaded on SIGHUP or when the file changes).
    #[arg(long, env = "SCIM_BRIDGE_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// Serve HTTPS: the PEM private key of --tls-cert.
    #[arg(long, env = "SCIM_BRIDGE_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Seconds a request's head may take to arrive [default: 10].
    #[arg(long, env = "SCIM_BRIDGE_HEADER_TIMEOUT")]
    pub header_timeout: Option<String>,
    /// Seconds a request's body may take to arrive after its head [default: 30].
    #[arg(long, env = "SCIM_BRIDGE_BODY_TIMEOUT")]
    pub body_timeout: Option<String>,
    /// Connections served at once; more wait to be accepted [default: 1024].
    #[arg(long, env = "SCIM_BRIDGE_MAX_CONNECTIONS")]
    pub max_connections: Option<String>,
    /// Failed authentications per client address and minute, then 429 until the minute ends [default: 30; 0: off].
    #[arg(long, env = "SCIM_BRIDGE_AUTH_FAILURE_LIMIT")]
    pub auth_failure_limit: Option<String>,
    /// Requests per second per token (or JWT subject), then 429 with Retry-After [default: 0, no limit].
    #[arg(long, env = "SCIM_BRIDGE_TOKEN_RATE_LIMIT")]
    pub token_rate_limit: Option<String>,
    /// Accept and store everything but send nothing to Genesys; record what would have been sent.
    #[arg(long, env = "SCIM_BRIDGE_DRY_RUN", num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: Option<String>,
    /// A bearer token accepted besides the stored ones (containers, CI).
    #[arg(long, env = "SCIM_BRIDGE_BOOTSTRAP_TOKEN", hide_env_values = true)]
    pub bootstrap_token: Option<Secret>,
    /// A file holding the bootstrap token.
    #[arg(long, env = "SCIM_BRIDGE_BOOTSTRAP_TOKEN_FILE")]
    pub bootstrap_token_file: Option<PathBuf>,
    /// The token of the /admin status page.
    #[arg(long, env = "SCIM_BRIDGE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,
    /// A file holding the admin token.
    #[arg(long, env = "SCIM_BRIDGE_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// The bearer token /metrics asks for (unset: /metrics answers anyone who reaches it).
    #[arg(long, env = "SCIM_BRIDGE_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,
    /// A file holding the metrics token (Prometheus: `authorization: {credentials_file: …}`).
    #[arg(long, env = "SCIM_BRIDGE_METRICS_TOKEN_FILE")]
    pub metrics_token_file: Option<PathBuf>,
    /// HS256 secret for JWT bearer tokens.
    #[arg(long, env = "SCIM_BRIDGE_JWT_HS256_SECRET", hide_env_values = true)]
    pub jwt_hs256_secret: Option<Secret>,
    /// A file holding the HS256 secret.
    #[arg(long, env = "SCIM_BRIDGE_JWT_HS256_SECRET_FILE")]
    pub jwt_hs256_secret_file: Option<PathBuf>,
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
    /// Which Genesys API receives users: scim or platform [default: scim].
    #[arg(long = "genesys-api", env = "SCIM_BRIDGE_GENESYS_API")]
    pub api: Option<String>,
    /// SCIM path of the 8x8 number, e.g. 'phoneNumbers[type eq "work"].value'.
    #[arg(long = "genesys-number-source", env = "SCIM_BRIDGE_GENESYS_NUMBER_SOURCE")]
    pub number_source: Option<String>,
    /// Country for national-format numbers (ISO code such as US).
    #[arg(long = "genesys-default-country", env = "SCIM_BRIDGE_GENESYS_DEFAULT_COUNTRY")]
    pub default_country: Option<String>,
    /// Division name for users without one.
    #[arg(long = "genesys-division", env = "SCIM_BRIDGE_GENESYS_DIVISION")]
    pub division: Option<String>,
    /// Whether the 8x8 number is the primary phone: always or as-sent [default: always].
    #[arg(long = "genesys-number-primary", env = "SCIM_BRIDGE_GENESYS_NUMBER_PRIMARY")]
    pub number_primary: Option<String>,
    /// A create whose userName a Genesys user not created by the bridge has: never (park it) or
    /// by-username (adopt that user) [default: never].
    #[arg(long = "genesys-adopt", env = "SCIM_BRIDGE_GENESYS_ADOPT")]
    pub adopt: Option<String>,
    /// Roles to grant every user with an 8x8 number, comma-separated: API role names (employee)
    /// or permission:<domain:entity:action> for the role carrying it [default: none].
    #[arg(long = "genesys-roles", env = "SCIM_BRIDGE_GENESYS_ROLES")]
    pub roles: Option<String>,
    /// Replicas on PostgreSQL: one Genesys request budget for all (shared) or one each
    /// (per-replica) [default: shared].
    #[arg(long = "genesys-rate-budget", env = "SCIM_BRIDGE_GENESYS_RATE_BUDGET")]
    pub rate_budget: Option<String>,
    /// What a SCIM DELETE does in Genesys: deactivate or delete [default: deactivate].
    #[arg(long = "genesys-delete", env = "SCIM_BRIDGE_GENESYS_DELETE")]
    pub delete_mode: Option<String>,
    /// Seconds one Genesys request may take before it is given up and retried [default: 30].
    #[arg(long = "genesys-timeout", env = "SCIM_BRIDGE_GENESYS_TIMEOUT")]
    pub timeout: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Queue a sync through the outbox for every user missing in Genesys or different there
    /// (users present only in Genesys are reported, never changed).
    #[arg(long)]
    pub apply: bool,
    #[command(flatten)]
    pub genesys: GenesysArgs,
}

impl GenesysArgs {
    fn layer(self) -> GenesysLayer {
        GenesysLayer {
            region: self.region,
            api_url: self.api_url,
            login_url: self.login_url,
            client_id: self.client_id,
            client_secret: self.client_secret,
            client_secret_file: self.client_secret_file,
            api: self.api,
            number_source: self.number_source,
            default_country: self.default_country,
            number_primary: self.number_primary,
            adopt: self.adopt,
            roles: self.roles,
            rate_budget: self.rate_budget,
            division: self.division,
            delete_mode: self.delete_mode,
            timeout: self.timeout,
        }
    }
}

impl ServeArgs {
    /// What the environment and the flags set, as a configuration layer.
    fn layer(self) -> Layer {
        let g = self.genesys;
        Layer {
            listen: self.listen,
            public_url: self.public_url,
            max_body_bytes: self.max_body_bytes,
            bulk_max_operations: self.bulk_max_operations,
            bulk_max_payload_bytes: self.bulk_max_payload_bytes,
            workers: self.workers,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            max_connections: self.max_connections,
            auth_failure_limit: self.auth_failure_limit,
            token_rate_limit: self.token_rate_limit,
            dry_run: self.dry_run,
            bootstrap_token: self.bootstrap_token,
            bootstrap_token_file: self.bootstrap_token_file,
            jwt: JwtLayer {
                hs256_secret: self.jwt_hs256_secret,
                hs256_secret_file: self.jwt_hs256_secret_file,
                public_key_file: self.jwt_public_key_file,
                issuer: self.jwt_issuer,
                audience: self.jwt_audience,
            },
            admin: AdminLayer { token: self.admin_token, token_file: self.admin_token_file },
            metrics: MetricsLayer { token: self.metrics_token, token_file: self.metrics_token_file },
            genesys: g.layer(),
            ..Layer::default()
        }
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

impl Cli {
    /// The global options as a layer (over the file, under the command's own), carrying the
    /// origin of every value on the command line.
    fn global_layer(&self, matches: &ArgMatches) -> Layer {
        Layer {
            database_url: self.database.clone(),
            log_format: self.log_format.clone(),
            origins: origins(matches),
            ..Layer::default()
        }
    }
}

/// Parse the process's arguments (and the variables clap reads), exiting with clap's message
/// and status on a usage error. The matches say where each value came from.
pub fn parse_args() -> (Cli, ArgMatches) {
    let matches = Cli::command().get_matches();
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => (cli, matches),
        Err(e) => e.exit(),
    }
}

/// Where each configuration value of the command line came from: a flag, or the variable clap
/// read it from (`ArgMatches::value_source`). Options are keyed by configuration key, found from
/// their variable's name.
fn origins(matches: &ArgMatches) -> Origins {
    fn record(cmd: &clap::Command, matches: &ArgMatches, out: &mut Origins) {
        for arg in cmd.get_arguments() {
            let Some(var) = arg.get_env().and_then(|v| v.to_str()) else { continue };
            let Some(key) = key_of_env(var) else { continue };
            let origin = match matches.value_source(arg.get_id().as_str()) {
                Some(ValueSource::EnvVariable) => Origin::Env(var.to_string()),
                Some(ValueSource::CommandLine) => match arg.get_long() {
                    Some(long) => Origin::Flag(format!("--{long}")),
                    None => continue,
                },
                _ => continue,
            };
            out.set(key, origin);
        }
    }
    let cmd = Cli::command();
    let mut out = Origins::default();
    // Global options: clap copies their values (and sources) to the top level.
    record(&cmd, matches, &mut out);
    if let Some((name, sub_matches)) = matches.subcommand()
        && let Some(sub) = cmd.find_subcommand(name)
    {
        record(sub, sub_matches, &mut out);
    }
    out
}

/// The `SCIM_BRIDGE_*` variables this program reads (from the command definitions).
fn known_env_vars() -> std::collections::BTreeSet<String> {
    fn walk(cmd: &clap::Command, out: &mut std::collections::BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env() {
                out.insert(env.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(&Cli::command(), &mut out);
    out
}

/// `SCIM_BRIDGE_*` variables set in the environment that nothing reads (a typo, an option of
/// another version), each with the closest known name when one is near.
pub fn unknown_env_vars(vars: impl Iterator<Item = String>) -> Vec<(String, Option<String>)> {
    let known = known_env_vars();
    vars.filter(|v| v.starts_with("SCIM_BRIDGE_") && !known.contains(v))
        .map(|v| {
            let near = known.iter().map(|k| (edit_distance(&v, k), k)).min().filter(|(d, _)| *d <= 3);
            (v, near.map(|(_, k)| k.clone()))
        })
        .collect()
}

/// Levenshtein distance (for "did you mean").
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Run a parsed command line; `matches` (from [`parse_args`]) say where its values came from.
pub fn run(cli: Cli, matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    let file = match &cli.config {
        Some(path) => Layer::from_file(path)?,
        None => Layer::default(),
    };
    let base = cli.global_layer(matches).over(file);
    // `serve` and `reconcile` report a bad log format with their other problems; the other
    // commands below. Until then, text.
    let global = Global::resolve(&base);
    crate::telemetry::init(global.as_ref().map_or(LogFormat::Text, |g| g.log_format));
    for (var, near) in unknown_env_vars(std::env::vars().map(|(k, _)| k)) {
        match near {
            Some(n) => tracing::warn!(variable = %var, "unknown SCIM_BRIDGE_ variable ignored; did you mean {n}?"),
            None => {
                tracing::warn!(variable = %var, "unknown SCIM_BRIDGE_ variable ignored; docs/configuration.md lists the names")
            }
        }
    }
    match cli.command {
        Command::Serve(args) => {
            let config = Config::resolve(args.layer().over(base))?;
            crate::http::serve_blocking(config)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reconcile(args) => {
            let args = *args;
            let layer = Layer { genesys: args.genesys.layer(), ..Layer::default() }.over(base);
            let config = Config::resolve(layer)?;
            let GenesysTarget::Cloud(cloud) = &config.genesys.target else {
                anyhow::bail!(
                    "this command talks to Genesys Cloud: set SCIM_BRIDGE_GENESYS_CLIENT_ID, \
                     SCIM_BRIDGE_GENESYS_CLIENT_SECRET (or _FILE) and SCIM_BRIDGE_GENESYS_REGION (or the [genesys] \
                     table of the configuration file)"
                );
            };
            let mapping = crate::genesys::forwarding::mapping_config(&config.genesys);
            let client = crate::genesys::forwarding::client(cloud)?;
            let database = &config.database_url;
            let store = std::sync::Arc::new(
                Store::open(database).with_context(|| format!("opening {}", crate::store::redact_url(database)))?,
            );
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("runtime")?;
            let report = rt.block_on(crate::genesys::reconcile::run(
                store,
                &client,
                &mapping,
                config.genesys.adopt,
                args.apply,
            ))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report).context("report")?);
            } else {
                print!("{}", report.to_text());
            }
            Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
        Command::Migrate => {
            let database = global?.database_url;
            let shown = crate::store::redact_url(&database);
            let n = Store::migrate(&database).with_context(|| format!("migrating {shown}"))?;
            eprintln!("scim-bridge: {n} migration(s) applied to {shown}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox(cmd) => {
            let database = global?.database_url;
            let store =
                Store::open(&database).with_context(|| format!("opening {}", crate::store::redact_url(&database)))?;
            match cmd {
                OutboxCommand::List { json, dry_run: true, limit } => {
                    for r in store.dry_run_requests(limit)? {
                        let at = crate::store::format_millis(r.at);
                        if json {
                            let line = serde_json::json!({
                                "at": at, "kind": r.kind, "resourceId": r.resource_id,
                                "method": r.method, "path": r.path, "body": r.body,
                                "bodyAfterRead": r.body_after_read, "note": r.note,
                            });
                            println!("{line}");
                        } else {
                            if r.method.is_empty() {
                                println!("{at}\tnothing sent\t({} {})", r.kind, r.resource_id);
                            } else {
                                println!("{at}\t{} {}\t({} {})", r.method, r.path, r.kind, r.resource_id);
                            }
                            if let Some(note) = &r.note {
                                println!("    note: {note}");
                            }
                            if let Some(body) = &r.body {
                                let only =
                                    if r.body_after_read { " (only what differs from the read is sent)" } else { "" };
                                println!("    {body}{only}");
                            }
                        }
                    }
                }
                OutboxCommand::List { json, dry_run: false, .. } => {
                    let pending = store.outbox_pending()?.into_iter().map(|e| ("pending", e));
                    let dead = store.outbox_dead()?.into_iter().map(|e| ("dead", e));
                    if !json {
                        println!("STATE\tKIND\tRESOURCE\tOP\tCHANGES\tATTEMPTS\tSINCE\tLAST ERROR\tNEXT ATTEMPT");
                    }
                    let now = crate::store::now_millis();
                    for (state, e) in pending.chain(dead) {
                        let since = crate::store::format_millis(e.created);
                        // A pending change held back (a Retry-After the SDKs would give up on, or
                        // a backoff): when it is tried again.
                        let next = (state == "pending" && e.not_before > now)
                            .then(|| crate::store::format_millis(e.not_before));
                        if json {
                            let line = serde_json::json!({
                                "state": state, "kind": e.kind.as_str(), "resourceId": e.resource_id,
                                "op": e.op.as_str(), "changes": e.revision, "attempts": e.attempts,
                                "since": since, "lastError": e.last_error,
                                "waiting": next.is_some(), "nextAttempt": next,
                            });
                            println!("{line}");
                        } else {
                            println!(
                                "{state}\t{}\t{}\t{}\t{}\t{}\t{since}\t{}\t{}",
                                e.kind.as_str(),
                                e.resource_id,
                                e.op.as_str(),
                                e.revision,
                                e.attempts,
                                e.last_error.as_deref().unwrap_or("-"),
                                next.as_deref().unwrap_or("-")
                            );
                        }
                    }
                }
                OutboxCommand::Adopt { resource_id } => {
                    let user = match store.get(scim::schema::ResourceKind::User, &resource_id) {
                        Ok(u) => u,
                        Err(crate::store::StoreError::NotFound { .. }) => {
                            eprintln!("scim-bridge: no user {resource_id}");
                            return Ok(ExitCode::FAILURE);
                        }
                        Err(e) => return Err(e.into()),
                    };
                    let user_name = user
                        .full_document()
                        .get("userName")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    store.set_owned_user(&resource_id, &user_name, None, crate::store::Ownership::AdoptAllowed)?;
                    let n = store.outbox_retry(Some(&resource_id))?;
                    eprintln!(
                        "scim-bridge: the Genesys user with this user's userName will be adopted; {n} dead change(s) queued again"
                    );
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
        Command::Audit(args) => {
            let database = global?.database_url;
            let store =
                Store::open(&database).with_context(|| format!("opening {}", crate::store::redact_url(&database)))?;
            if let Some(days) = args.prune_older_than_days {
                let before = crate::store::now_millis() - i64::from(days) * 86_400_000;
                let n = store.audit_prune(before)?;
                eprintln!(
                    "scim-bridge: {n} audit entr{} older than {} deleted",
                    if n == 1 { "y" } else { "ies" },
                    crate::store::format_millis(before)
                );
                return Ok(ExitCode::SUCCESS);
            }
            let query = crate::store::AuditQuery {
                resource: args.resource,
                actor: args.actor,
                since: args.since,
                until: args.until,
                limit: args.limit,
            };
            // Read newest first (the limit keeps the newest), shown oldest first, as a log reads.
            let mut entries = store.audit_entries(&query)?;
            entries.reverse();
            if args.json {
                for e in &entries {
                    println!("{}", audit_json(e));
                }
            } else {
                print!("{}", audit_table(&entries));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(cmd) => {
            let database = global?.database_url;
            let store =
                Store::open(&database).with_context(|| format!("opening {}", crate::store::redact_url(&database)))?;
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
            global?;
            genesys_sim::serve_blocking(args.sim_config())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync(args) => {
            // A SCIM client: no database, no configuration file beyond the global flags.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            Ok(ExitCode::from(runtime.block_on(scim_sync::run(*args))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_variables_are_found_with_a_suggestion() {
        let vars = [
            "SCIM_BRIDGE_LISTN",
            "SCIM_BRIDGE_LISTEN",
            "SCIM_BRIDGE_GENESYS_CLIENT_SECRET_FILE",
            "PATH",
            "SCIM_BRIDGE_WHATEVER_ELSE",
        ];
        let unknown = unknown_env_vars(vars.iter().map(|v| v.to_string()));
        assert_eq!(
            unknown,
            vec![
                ("SCIM_BRIDGE_LISTN".to_string(), Some("SCIM_BRIDGE_LISTEN".to_string())),
                ("SCIM_BRIDGE_WHATEVER_ELSE".to_string(), None)
            ]
        );
        let known = known_env_vars();
        for v in [
            "SCIM_BRIDGE_DRY_RUN",
            "SCIM_BRIDGE_ADMIN_TOKEN_FILE",
            "SCIM_BRIDGE_CONFIG",
            "SCIM_BRIDGE_SIM_LISTEN",
            "SCIM_BRIDGE_BOOTSTRAP_TOKEN",
        ] {
            assert!(known.contains(v), "{v}");
        }
    }

    fn parse(args: &[&str]) -> (Cli, ArgMatches) {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        (Cli::from_arg_matches(&matches).unwrap(), matches)
    }

    /// The layer `serve` resolves for this command line, over `file`.
    fn serve_layer(args: &[&str], file: Layer) -> Layer {
        let (cli, matches) = parse(args);
        let base = cli.global_layer(&matches).over(file);
        let Command::Serve(serve) = cli.command else { panic!("serve") };
        serve.layer().over(base)
    }

    /// The variables of the global options, `serve` and `reconcile` (all of the configuration).
    fn configuration_args() -> Vec<(String, Option<String>)> {
        let cmd = Cli::command();
        let subs = ["serve", "reconcile"].map(|name| cmd.find_subcommand(name).unwrap().clone());
        std::iter::once(&cmd)
            .chain(subs.iter())
            .flat_map(|c| c.get_arguments().cloned().collect::<Vec<_>>())
            .filter_map(|a| {
                let var = a.get_env()?.to_str()?.to_string();
                (var != "SCIM_BRIDGE_CONFIG").then(|| (var, a.get_long().map(str::to_string)))
            })
            .collect()
    }

    #[test]
    fn flags_beat_the_environment_and_both_beat_the_file() {
        let file = Layer::from_toml("listen = \"127.0.0.1:7000\"\nworkers = 3\n[genesys]\napi = \"platform\"", &|_| {
            Origin::File("scim-bridge.toml".into())
        })
        .unwrap();
        let layer = serve_layer(&["scim-bridge", "serve", "--listen", "127.0.0.1:9000"], file);
        assert_eq!(layer.origins.of("listen"), Some(&Origin::Flag("--listen".into())));
        assert_eq!(layer.origins.of("workers"), Some(&Origin::File("scim-bridge.toml".into())));
        let config = Config::resolve(layer).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9000", "the flag wins");
        assert_eq!(config.workers, 3, "the file fills what the flags leave");
        assert_eq!(config.genesys.api, crate::genesys::api::ApiMode::Platform);
        assert_eq!(config.max_body_bytes, 1024 * 1024, "the default fills the rest");
    }

    #[test]
    fn every_bad_value_of_a_flag_names_the_option_the_flag_and_what_to_use() {
        use crate::config::{BAD_VALUES, assert_refused, bad_value_files, env_name};
        let files = bad_value_files();
        let dir = files.path().display().to_string();
        let args = configuration_args();
        for (key, value, allowed) in BAD_VALUES {
            let var = env_name(key);
            let Some((_, Some(long))) = args.iter().find(|(v, _)| *v == var) else { panic!("no flag for {key}") };
            let value = value.replace("{dir}", &dir);
            let arg = format!("--{long}={value}");
            let layer = serve_layer(&["scim-bridge", "serve", &arg], Layer::default());
            let p = Config::resolve(layer).expect_err("refused").0;
            assert_refused(&p, key, &value, &format!("--{long}"), allowed);
        }
    }

    #[test]
    fn bad_values_of_global_flags_are_refused_for_every_command() {
        let (cli, matches) = parse(&["scim-bridge", "--log-format", "xml", "migrate"]);
        let e = Global::resolve(&cli.global_layer(&matches)).unwrap_err();
        assert_eq!(e.0, vec!["`log_format` = \"xml\" (from --log-format): use text or json".to_string()]);
    }

    #[test]
    fn every_variable_is_a_key_of_the_file_and_back() {
        let args = configuration_args();
        assert!(args.len() >= 25, "{args:?}");
        for (var, _) in args {
            let key = key_of_env(&var).unwrap();
            assert_eq!(crate::config::env_name(&key), var);
            let setting = match key.split_once('.') {
                Some((table, name)) => format!("[{table}]\n{name} = \"1\""),
                None => format!("{key} = \"1\""),
            };
            let layer = Layer::from_toml(&setting, &|k| Origin::Env(crate::config::env_name(k)));
            assert!(layer.is_ok(), "{var}: {setting}: {layer:?}");
        }
    }
}
