//! Configuration: one typed [`Config`] built from defaults, then an optional TOML file
//! (`--config`), then `SCIM_BRIDGE_*` environment variables, then flags. Each source is a
//! [`Layer`]: every field optional, values as the source spelled them, and the [`Origin`] of
//! each (the file, the variable, the flag). [`Layer::over`] stacks them; [`Config::resolve`]
//! applies the defaults, reads secret files and the JWT key, and parses every value into its
//! type, reporting every problem at once with the option, where its value came from and what
//! is allowed. After that nothing parses or compares a configuration string: modes are enums,
//! Genesys is [`Endpoints`] or the simulator, the JWT key is loaded.
//! Secrets live in [`Secret`], whose `Debug` is redacted. `docs/configuration.md` documents
//! every option; `docs/scim-bridge.example.toml` is loaded by the tests.
//!
//! One file of about 820 lines before its tests, on purpose: the layers, their origins and the
//! resolution are read together, and `Config::resolve` is one list of checks in option order.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};

use crate::genesys::api::{ApiMode, Endpoints, RoleSpec};
use crate::genesys::client::BudgetScope;
use crate::genesys::mapping::{AdoptPolicy, Country, DeleteMode, NumberPrimary, NumberSource};
pub use crate::telemetry::LogFormat;

/// A secret string: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

/// Where a configuration value came from, so a message can say what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The TOML file (`--config`), by its path.
    File(PathBuf),
    /// An environment variable, by its name (`SCIM_BRIDGE_LISTEN`).
    Env(String),
    /// A command-line flag (`--listen`).
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Env(name) | Origin::Flag(name) => f.write_str(name),
        }
    }
}

/// The origin of each value a layer sets, by configuration key (`genesys.api`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins(BTreeMap<String, Origin>);

impl Origins {
    pub fn set(&mut self, key: impl Into<String>, origin: Origin) {
        self.0.insert(key.into(), origin);
    }

    pub fn of(&self, key: &str) -> Option<&Origin> {
        self.0.get(key)
    }

    /// These origins over `lower`'s: a key set here wins, as its value does in [`Layer::over`].
    fn over(self, mut lower: Origins) -> Origins {
        lower.0.extend(self.0);
        lower
    }
}

/// How JWT bearer tokens are verified (for IdPs that send OAuth access tokens). Issuer and
/// audience are required: without them a token the IdP signs for another application would pass.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub key: JwtKey,
    /// Required `iss` claim.
    pub issuer: String,
    /// Required `aud` claim.
    pub audience: String,
}

/// The key JWT signatures are checked with, loaded at start.
#[derive(Clone)]
pub enum JwtKey {
    /// HS256 with a shared secret.
    Hs256(Secret),
    /// An RSA public key from a PEM file: RS256, RS384, RS512.
    Rsa { file: PathBuf, key: DecodingKey },
    /// An EC public key from a PEM file: ES256, ES384.
    Ec { file: PathBuf, key: DecodingKey },
}

impl JwtKey {
    /// Read a PEM public key, RSA or EC; the error says what is wrong with the file.
    pub fn from_pem_file(path: &Path) -> Result<JwtKey, String> {
        let pem = std::fs::read(path).map_err(|e| format!("the file cannot be read: {e}"))?;
        if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
            return Ok(JwtKey::Rsa { file: path.to_path_buf(), key });
        }
        match DecodingKey::from_ec_pem(&pem) {
            Ok(key) => Ok(JwtKey::Ec { file: path.to_path_buf(), key }),
            Err(e) => Err(format!(
                "the file holds neither an RSA nor an EC public key in PEM form ({e}); export the IdP's signing key as PEM"
            )),
        }
    }

    /// The signature algorithms this key verifies (never HS256 with a public key as secret).
    pub fn algorithms(&self) -> Vec<Algorithm> {
        match self {
            JwtKey::Hs256(_) => vec![Algorithm::HS256],
            JwtKey::Rsa { .. } => vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512],
            JwtKey::Ec { .. } => vec![Algorithm::ES256, Algorithm::ES384],
        }
    }

    pub fn decoding_key(&self) -> DecodingKey {
        match self {
            JwtKey::Hs256(secret) => DecodingKey::from_secret(secret.expose().as_bytes()),
            JwtKey::Rsa { key, .. } | JwtKey::Ec { key, .. } => key.clone(),
        }
    }
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtKey::Hs256(secret) => f.debug_tuple("Hs256").field(secret).finish(),
            JwtKey::Rsa { file, .. } => f.debug_struct("Rsa").field("file", file).finish_non_exhaustive(),
            JwtKey::Ec { file, .. } => f.debug_struct("Ec").field("file", file).finish_non_exhaustive(),
        }
    }
}

/// Where users are forwarded.
#[derive(Debug, Clone, Default)]
pub enum GenesysTarget {
    /// No OAuth client is configured: `serve` forwards to the built-in simulator (and says so
    /// loudly); commands that need Genesys refuse to run.
    #[default]
    Simulator,
    /// Genesys Cloud.
    Cloud(GenesysCloud),
}

/// Genesys Cloud: where it is and the OAuth client (client-credentials grant).
#[derive(Debug, Clone)]
pub struct GenesysCloud {
    pub endpoints: Endpoints,
    /// The region as configured, for the status page; `None` with explicit URLs.
    pub region: Option<String>,
    pub client_id: String,
    pub client_secret: Secret,
}

/// How to reach Genesys Cloud and what to send it.
#[derive(Debug, Clone, Default)]
pub struct GenesysSettings {
    pub target: GenesysTarget,
    /// Which Genesys API users are written with.
    pub api: ApiMode,
    /// Where the 8x8 number is read from (default `phoneNumbers[type eq "eightbyeight"].value`).
    pub number_source: NumberSource,
    /// The country of national-format numbers (e.g. `US`); `None`: numbers must be international.
    pub default_country: Option<Country>,
    /// Division name for users that carry none.
    pub division: Option<String>,
    /// What a SCIM DELETE does in Genesys.
    pub delete_mode: DeleteMode,
    /// Whether the 8x8 number is the user's primary phone.
    pub number_primary: NumberPrimary,
    /// What a create does when Genesys already has a user with the userName that the bridge did
    /// not create.
    pub adopt: AdoptPolicy,
    /// Roles granted to every user with an 8x8 number (none by default).
    pub roles: Vec<RoleSpec>,
    /// Replicas on PostgreSQL: one Genesys request budget for all, or one each.
    pub rate_budget: BudgetScope,
    /// How long one Genesys request may take before it counts as failed (and is retried);
    /// `None`: the client's default, [`crate::genesys::client::DEFAULT_TIMEOUT`].
    pub timeout: Option<Duration>,
}

/// What every command needs: the log format and the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    pub log_format: LogFormat,
    pub database_url: String,
}

/// The database when none is configured.
pub const DEFAULT_DATABASE: &str = "scim-bridge.db";

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub log_format: LogFormat,
    /// Accept and store everything, send nothing to Genesys, record what would have been sent.
    pub dry_run: bool,
    /// The token of the `/admin` status page (none: the page is off).
    pub admin_token: Option<Secret>,
    /// The bearer token `/metrics` asks for (none: `/metrics` answers anyone who reaches it).
    pub metrics_token: Option<Secret>,
    pub listen: SocketAddr,
    pub database_url: String,
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Most operations in one Bulk request (`bulk.maxOperations`; 413 beyond).
    pub bulk_max_operations: usize,
    /// Largest Bulk request body, in bytes (`bulk.maxPayloadSize`; 413 beyond).
    pub bulk_max_payload_bytes: usize,
    /// A token accepted besides the stored ones (containers, CI).
    pub bootstrap_token: Option<Secret>,
    /// JWT bearer tokens (none: only static tokens are accepted).
    pub jwt: Option<JwtConfig>,
    /// The externally visible base URL of the SCIM root (for `meta.location` and `Location`),
    /// without a trailing slash; derived from each request's Host when unset.
    pub public_url: Option<String>,
    /// HTTP worker threads (0 = one per core).
    pub workers: usize,
    /// TLS on the listener: the PEM certificate chain and key (none: plain HTTP).
    pub tls: Option<TlsFiles>,
    /// A request's head must arrive within this of its first byte.
    pub header_timeout: Duration,
    /// A request's body must arrive within this of the end of its head.
    pub body_timeout: Duration,
    /// Connections served at once (more wait in the accept queue).
    pub max_connections: usize,
    /// Failed authentications per client address and minute before it is refused (0: no limit).
    pub auth_failure_limit: u32,
    /// Requests per second per credential (0: no limit).
    pub token_rate_limit: u32,
    pub genesys: GenesysSettings,
}

/// The PEM files of the listener's TLS certificate chain and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            log_format: LogFormat::Text,
            dry_run: false,
            admin_token: None,
            metrics_token: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DEFAULT_DATABASE.into(),
            max_body_bytes: 1024 * 1024,
            bulk_max_operations: 1000,
            bulk_max_payload_bytes: 4 * 1024 * 1024,
            bootstrap_token: None,
            jwt: None,
            public_url: None,
            workers: 0,
            tls: None,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            auth_failure_limit: 30,
            token_rate_limit: 0,
            genesys: GenesysSettings::default(),
        }
    }
}

/// One source of configuration (the TOML file, or the environment and flags): every field is
/// optional and holds the value as the source spelled it (numbers and booleans too, so a bad one
/// is reported with the others); what a higher layer sets wins. A secret may be given directly
/// or as a `*_file` holding it; a layer that sets one of the pair overrides both of a lower layer.
/// `origins` says where each value came from.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub log_format: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub max_body_bytes: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub bulk_max_operations: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub bulk_max_payload_bytes: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub workers: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    #[serde(default, deserialize_with = "scalar")]
    pub header_timeout: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub body_timeout: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub max_connections: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub auth_failure_limit: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub token_rate_limit: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub dry_run: Option<String>,
    pub bootstrap_token: Option<Secret>,
    pub bootstrap_token_file: Option<PathBuf>,
    #[serde(default)]
    pub jwt: JwtLayer,
    #[serde(default)]
    pub admin: AdminLayer,
    #[serde(default)]
    pub metrics: MetricsLayer,
    #[serde(default)]
    pub genesys: GenesysLayer,
    #[serde(skip)]
    pub origins: Origins,
}

/// A TOML string, number or boolean as text (`workers = 4` and `workers = "4"` alike): the
/// value is parsed, and a bad one reported, by [`Config::resolve`].
fn scalar<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Scalar;
    impl serde::de::Visitor<'_> for Scalar {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, a number or a boolean")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_any(Scalar).map(Some)
}

/// `[jwt]`: JWT bearer tokens for IdPs that send OAuth access tokens.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtLayer {
    pub hs256_secret: Option<Secret>,
    pub hs256_secret_file: Option<PathBuf>,
    pub public_key_file: Option<PathBuf>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// `[admin]`: the `/admin` status page.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminLayer {
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
}

/// `[metrics]`: who may read `/metrics`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsLayer {
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
}

/// `[genesys]`: where Genesys Cloud is and what to send it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesysLayer {
    pub region: Option<String>,
    pub api_url: Option<String>,
    pub login_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub client_secret_file: Option<PathBuf>,
    pub api: Option<String>,
    pub number_source: Option<String>,
    pub default_country: Option<String>,
    pub number_primary: Option<String>,
    pub adopt: Option<String>,
    /// A comma-separated list; the file may also give a TOML list.
    #[serde(default, deserialize_with = "comma_list")]
    pub roles: Option<String>,
    pub rate_budget: Option<String>,
    pub division: Option<String>,
    pub delete_mode: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub timeout: Option<String>,
}

/// A TOML string or list of strings, as one comma-separated string.
fn comma_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(Some(match <OneOrMany as serde::Deserialize>::deserialize(d)? {
        OneOrMany::One(s) => s,
        OneOrMany::Many(items) => items.join(","),
    }))
}

/// A secret pair from one layer: the higher layer's pair wins if it sets either half.
fn pair<T, U>(upper: (Option<T>, Option<U>), lower: (Option<T>, Option<U>)) -> (Option<T>, Option<U>) {
    if upper.0.is_some() || upper.1.is_some() { upper } else { lower }
}

impl Layer {
    /// Read a TOML configuration file; every value it sets has the file as its origin.
    pub fn from_file(path: &Path) -> Result<Layer, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(vec![format!("cannot read the configuration file {}: {e}", path.display())]))?;
        Layer::from_toml(&text, &|_| Origin::File(path.to_path_buf())).map_err(|e| {
            ConfigError(vec![format!("{}: {} (see docs/configuration.md for the keys)", path.display(), e.trim_end())])
        })
    }

    /// A layer from TOML text, the origin of each key it sets given by `origin`.
    pub(crate) fn from_toml(text: &str, origin: &dyn Fn(&str) -> Origin) -> Result<Layer, String> {
        let mut layer: Layer = toml::from_str(text).map_err(|e| e.to_string())?;
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        for (key, value) in &table {
            match value {
                toml::Value::Table(sub) => {
                    for name in sub.keys() {
                        let key = format!("{key}.{name}");
                        layer.origins.set(key.clone(), origin(&key));
                    }
                }
                _ => layer.origins.set(key.clone(), origin(key)),
            }
        }
        Ok(layer)
    }

    /// This layer stacked over `lower`: each value set here wins.
    pub fn over(self, lower: Layer) -> Layer {
        let (bootstrap_token, bootstrap_token_file) = pair(
            (self.bootstrap_token, self.bootstrap_token_file),
            (lower.bootstrap_token, lower.bootstrap_token_file),
        );
        let (hs256_secret, hs256_secret_file) = pair(
            (self.jwt.hs256_secret, self.jwt.hs256_secret_file),
            (lower.jwt.hs256_secret, lower.jwt.hs256_secret_file),
        );
        let (token, token_file) =
            pair((self.admin.token, self.admin.token_file), (lower.admin.token, lower.admin.token_file));
        let (metrics_token, metrics_token_file) =
            pair((self.metrics.token, self.metrics.token_file), (lower.metrics.token, lower.metrics.token_file));
        let (g, lg) = (self.genesys, lower.genesys);
        let (client_secret, client_secret_file) =
            pair((g.client_secret, g.client_secret_file), (lg.client_secret, lg.client_secret_file));
        Layer {
            listen: self.listen.or(lower.listen),
            database_url: self.database_url.or(lower.database_url),
            public_url: self.public_url.or(lower.public_url),
            log_format: self.log_format.or(lower.log_format),
            max_body_bytes: self.max_body_bytes.or(lower.max_body_bytes),
            bulk_max_operations: self.bulk_max_operations.or(lower.bulk_max_operations),
            bulk_max_payload_bytes: self.bulk_max_payload_bytes.or(lower.bulk_max_payload_bytes),
            workers: self.workers.or(lower.workers),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            header_timeout: self.header_timeout.or(lower.header_timeout),
            body_timeout: self.body_timeout.or(lower.body_timeout),
            max_connections: self.max_connections.or(lower.max_connections),
            auth_failure_limit: self.auth_failure_limit.or(lower.auth_failure_limit),
            token_rate_limit: self.token_rate_limit.or(lower.token_rate_limit),
            dry_run: self.dry_run.or(lower.dry_run),
            bootstrap_token,
            bootstrap_token_file,
            jwt: JwtLayer {
                hs256_secret,
                hs256_secret_file,
                public_key_file: self.jwt.public_key_file.or(lower.jwt.public_key_file),
                issuer: self.jwt.issuer.or(lower.jwt.issuer),
                audience: self.jwt.audience.or(lower.jwt.audience),
            },
            admin: AdminLayer { token, token_file },
            metrics: MetricsLayer { token: metrics_token, token_file: metrics_token_file },
            genesys: GenesysLayer {
                region: g.region.or(lg.region),
                api_url: g.api_url.or(lg.api_url),
                login_url: g.login_url.or(lg.login_url),
                client_id: g.client_id.or(lg.client_id),
                client_secret,
                client_secret_file,
                api: g.api.or(lg.api),
                number_source: g.number_source.or(lg.number_source),
                default_country: g.default_country.or(lg.default_country),
                number_primary: g.number_primary.or(lg.number_primary),
                adopt: g.adopt.or(lg.adopt),
                roles: g.roles.or(lg.roles),
                rate_budget: g.rate_budget.or(lg.rate_budget),
                division: g.division.or(lg.division),
                delete_mode: g.delete_mode.or(lg.delete_mode),
                timeout: g.timeout.or(lg.timeout),
            },
            origins: self.origins.over(lower.origins),
        }
    }
}

/// Everything wrong with a configuration, one problem per entry, each saying how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => f.write_str(one),
            many => {
                write!(f, "{} problems in the configuration:", many.len())?;
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// The environment variable of a configuration key (`genesys.client_id` →
/// `SCIM_BRIDGE_GENESYS_CLIENT_ID`), for messages that say what to set.
pub fn env_name(key: &str) -> String {
    match key {
        "genesys.delete_mode" => "SCIM_BRIDGE_GENESYS_DELETE".into(),
        _ => format!("SCIM_BRIDGE_{}", key.replace('.', "_").to_ascii_uppercase()),
    }
}

/// The configuration key an environment variable sets (`SCIM_BRIDGE_GENESYS_CLIENT_ID` →
/// `genesys.client_id`): the inverse of [`env_name`]. `None` for other variables.
pub fn key_of_env(var: &str) -> Option<String> {
    let rest = var.strip_prefix("SCIM_BRIDGE_")?.to_ascii_lowercase();
    if rest == "genesys_delete" {
        return Some("genesys.delete_mode".into());
    }
    for table in ["genesys", "jwt", "admin", "metrics"] {
        if let Some(name) = rest.strip_prefix(table).and_then(|r| r.strip_prefix('_')) {
            return Some(format!("{table}.{name}"));
        }
    }
    Some(rest)
}

/// `key (ENV_NAME)`, how messages name an option that is not set but should be.
fn named(key: &str) -> String {
    format!("`{key}` ({})", env_name(key))
}

/// An allowed-values list (`"scim, platform"`) as a sentence: `scim or platform`, `one of a, b or c`.
fn either(allowed: &str) -> String {
    let items: Vec<&str> = allowed.split(", ").collect();
    match items.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [two @ .., last] if two.len() == 1 => format!("{} or {last}", two[0]),
        [init @ .., last] => format!("one of {} or {last}", init.join(", ")),
    }
}

/// Shortest bearer and admin token accepted (a guessable token is refused, not warned about).
pub const MIN_TOKEN_LEN: usize = 16;
/// Shortest HS256 secret: RFC 7518 §3.2 wants a key at least as long as the hash (256 bits).
pub const MIN_HS256_SECRET_LEN: usize = 32;
/// Smallest `max_body_bytes` accepted (a SCIM user is a few hundred bytes).
pub const MIN_BODY_BYTES: usize = 1024;
/// Most `bulk_max_operations` accepted: one Bulk request is one batch of writes held in memory.
pub const MAX_BULK_OPERATIONS: usize = 100_000;

/// The problems found while resolving, each naming the option, where its value came from and
/// what to set instead.
struct Problems {
    origins: Origins,
    list: Vec<String>,
}

impl Problems {
    fn new(origins: Origins) -> Problems {
        Problems { origins, list: Vec::new() }
    }

    /// `` `key` (from ORIGIN) ``, or `` `key` `` when the origin was not recorded.
    fn option(&self, key: &str) -> String {
        match self.origins.of(key) {
            Some(o) => format!("`{key}` (from {o})"),
            None => format!("`{key}`"),
        }
    }

    /// A value that cannot be used: `` `key` = "value" (from ORIGIN): fix ``.
    fn bad(&mut self, key: &str, value: &str, fix: impl fmt::Display) {
        let from = self.origins.of(key).map(|o| format!(" (from {o})")).unwrap_or_default();
        self.list.push(format!("`{key}` = {value:?}{from}: {fix}"));
    }

    fn push(&mut self, problem: String) {
        self.list.push(problem);
    }

    /// The value of `key` parsed by `parse` (whose error says what to use), `None` when unset
    /// or bad (then reported).
    fn value<T>(&mut self, key: &str, raw: Option<&str>, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let raw = raw?;
        match parse(raw.trim()) {
            Ok(v) => Some(v),
            Err(fix) => {
                self.bad(key, raw, fix);
                None
            }
        }
    }

    /// A secret given directly or read from its `*_file` (trailing newline removed), with the
    /// key that gave it.
    fn secret(&mut self, key: &str, direct: Option<Secret>, file: Option<PathBuf>) -> Option<(Secret, String)> {
        if let Some(s) = direct {
            return Some((s, key.to_string()));
        }
        let path = file?;
        let file_key = format!("{key}_file");
        match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().is_empty() => {
                self.bad(&file_key, &path.display().to_string(), "the file is empty; put the secret in it");
                None
            }
            Ok(text) => Some((Secret::new(text.trim_end_matches(['\r', '\n']).trim()), file_key)),
            Err(e) => {
                self.bad(&file_key, &path.display().to_string(), format!("the file cannot be read: {e}"));
                None
            }
        }
    }

    /// Refuse a secret shorter than `min` (naming the key that gave it, never the value).
    fn min_len(&mut self, given: &Option<(Secret, String)>, min: usize) {
        if let Some((s, key)) = given
            && s.expose().len() < min
        {
            let problem = format!(
                "{}: the secret is {} characters long; use at least {min} random characters (e.g. `openssl rand -hex 32`)",
                self.option(key),
                s.expose().len()
            );
            self.push(problem);
        }
    }

    fn finish<T>(self, value: T) -> Result<T, ConfigError> {
        if self.list.is_empty() { Ok(value) } else { Err(ConfigError(self.list)) }
    }
}

fn enum_value<T: std::str::FromStr>(allowed: &'static str) -> impl FnOnce(&str) -> Result<T, String> {
    move |text| text.parse::<T>().map_err(|_| format!("use {}", either(allowed)))
}

/// clap's boolish words, so `SCIM_BRIDGE_DRY_RUN=1` and `dry_run = true` both work.
fn boolish(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Ok(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Ok(false),
        _ => Err("use true or false".into()),
    }
}

fn http_url(example: &'static str) -> impl Fn(&str) -> Result<String, String> {
    move |text| {
        let url = text.trim_end_matches('/');
        if (url.starts_with("https://") || url.starts_with("http://")) && url.len() > "https://".len() {
            Ok(url.to_string())
        } else {
            Err(format!("use an http:// or https:// URL, e.g. {example}"))
        }
    }
}

/// A value that is there only when it is not blank.
fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl Global {
    /// The log format and the database of a stacked layer, validated.
    pub fn resolve(layer: &Layer) -> Result<Global, ConfigError> {
        let mut problems = Problems::new(layer.origins.clone());
        let global = Global::check(layer, &mut problems);
        problems.finish(global)
    }

    fn check(layer: &Layer, p: &mut Problems) -> Global {
        let log_format =
            p.value("log_format", layer.log_format.as_deref(), enum_value(LogFormat::ALLOWED)).unwrap_or_default();
        let database_url = layer.database_url.clone().unwrap_or_else(|| DEFAULT_DATABASE.into());
        Global { log_format, database_url }
    }
}

impl Config {
    /// Apply the defaults to a stacked layer, read the secret files and the JWT key, and parse
    /// every value, reporting every problem at once.
    pub fn resolve(layer: Layer) -> Result<Config, ConfigError> {
        let d = Config::default();
        let mut p = Problems::new(layer.origins.clone());
        let Global { log_format, database_url } = Global::check(&layer, &mut p);
        let listen = p
            .value("listen", layer.listen.as_deref(), |t| {
                t.parse::<SocketAddr>()
                    .map_err(|_| "use an address and port such as 127.0.0.1:8080 or [::]:8080".into())
            })
            .unwrap_or(d.listen);
        let max_body_bytes = p
            .value("max_body_bytes", layer.max_body_bytes.as_deref(), |t| match t.parse::<usize>() {
                Ok(n) if n >= MIN_BODY_BYTES => Ok(n),
                _ => Err(format!(
                    "use a number of bytes of at least {MIN_BODY_BYTES}; the default is {}",
                    d.max_body_bytes
                )),
            })
            .unwrap_or(d.max_body_bytes);
        let bulk_max_operations = p
            .value("bulk_max_operations", layer.bulk_max_operations.as_deref(), |t| match t.parse::<usize>() {
                Ok(n) if (1..=MAX_BULK_OPERATIONS).contains(&n) => Ok(n),
                _ => Err(format!(
                    "use a number of operations from 1 to {MAX_BULK_OPERATIONS}; the default is {}",
                    d.bulk_max_operations
                )),
            })
            .unwrap_or(d.bulk_max_operations);
        let bulk_max_payload_bytes = p
            .value("bulk_max_payload_bytes", layer.bulk_max_payload_bytes.as_deref(), |t| match t.parse::<usize>() {
                Ok(n) if n >= MIN_BODY_BYTES => Ok(n),
                _ => Err(format!(
                    "use a number of bytes of at least {MIN_BODY_BYTES}; the default is {}",
                    d.bulk_max_payload_bytes
                )),
            })
            .unwrap_or(d.bulk_max_payload_bytes);
        let workers = p
            .value("workers", layer.workers.as_deref(), |t| {
                t.parse::<usize>().map_err(|_| "use a whole number of threads, or 0 for one per core".into())
            })
            .unwrap_or(d.workers);
        let seconds = |t: &str| match t.trim().trim_end_matches('s').parse::<u64>() {
            Ok(n) if (1..=3600).contains(&n) => Ok(Duration::from_secs(n)),
            _ => Err("use a whole number of seconds from 1 to 3600".to_string()),
        };
        let header_timeout =
            p.value("header_timeout", layer.header_timeout.as_deref(), seconds).unwrap_or(d.header_timeout);
        let body_timeout = p.value("body_timeout", layer.body_timeout.as_deref(), seconds).unwrap_or(d.body_timeout);
        let max_connections = p
            .value("max_connections", layer.max_connections.as_deref(), |t| match t.parse::<usize>() {
                Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
                _ => {
                    Err(format!("use a number of connections from 1 to 1000000; the default is {}", d.max_connections))
                }
            })
            .unwrap_or(d.max_connections);
        let per = |unit: &'static str| {
            move |t: &str| match t.parse::<u32>() {
                Ok(n) if n <= 1_000_000 => Ok(n),
                _ => Err(format!("use a whole number of requests per {unit} from 0 (no limit) to 1000000")),
            }
        };
        let auth_failure_limit = p
            .value("auth_failure_limit", layer.auth_failure_limit.as_deref(), per("minute"))
            .unwrap_or(d.auth_failure_limit);
        let token_rate_limit =
            p.value("token_rate_limit", layer.token_rate_limit.as_deref(), per("second")).unwrap_or(d.token_rate_limit);
        let tls = match (layer.tls_cert, layer.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (cert, _) => {
                let (given, missing) = if cert.is_some() { ("tls_cert", "tls_key") } else { ("tls_key", "tls_cert") };
                p.push(format!(
                    "{} is set but {} is not: TLS needs both the certificate chain and its private key (PEM files)",
                    named(given),
                    named(missing)
                ));
                None
            }
        };
        let dry_run = p.value("dry_run", layer.dry_run.as_deref(), boolish).unwrap_or(d.dry_run);
        let public_url =
            p.value("public_url", layer.public_url.as_deref(), http_url("https://scim.example.com/scim/v2"));

        let bootstrap_token = p
            .secret("bootstrap_token", layer.bootstrap_token, layer.bootstrap_token_file)
            .filter(|(t, _)| !t.expose().trim().is_empty());
        p.min_len(&bootstrap_token, MIN_TOKEN_LEN);
        let admin_token = p.secret("admin.token", layer.admin.token, layer.admin.token_file);
        p.min_len(&admin_token, MIN_TOKEN_LEN);
        let metrics_token = p.secret("metrics.token", layer.metrics.token, layer.metrics.token_file);
        p.min_len(&metrics_token, MIN_TOKEN_LEN);

        let jwt = Config::resolve_jwt(layer.jwt, &mut p);
        let genesys = Config::resolve_genesys(layer.genesys, &mut p);

        let config = Config {
            log_format,
            dry_run,
            admin_token: admin_token.map(|(s, _)| s),
            metrics_token: metrics_token.map(|(s, _)| s),
            listen,
            database_url,
            max_body_bytes,
            bulk_max_operations,
            bulk_max_payload_bytes,
            bootstrap_token: bootstrap_token.map(|(s, _)| s),
            jwt,
            public_url,
            workers,
            tls,
            header_timeout,
            body_timeout,
            max_connections,
            auth_failure_limit,
            token_rate_limit,
            genesys,
        };
        p.finish(config)
    }

    fn resolve_jwt(j: JwtLayer, p: &mut Problems) -> Option<JwtConfig> {
        let hs256 = p.secret("jwt.hs256_secret", j.hs256_secret, j.hs256_secret_file);
        p.min_len(&hs256, MIN_HS256_SECRET_LEN);
        let enabled = hs256.is_some() || j.public_key_file.is_some();
        // A public key wins over a shared secret: it is what an IdP's signing key is.
        let key = match (&j.public_key_file, hs256) {
            (Some(path), _) => match JwtKey::from_pem_file(path) {
                Ok(k) => Some(k),
                Err(why) => {
                    p.bad("jwt.public_key_file", &path.display().to_string(), why);
                    None
                }
            },
            (None, Some((secret, _))) => Some(JwtKey::Hs256(secret)),
            (None, None) => None,
        };
        match (key, j.issuer, j.audience) {
            (Some(key), Some(issuer), Some(audience)) => Some(JwtConfig { key, issuer, audience }),
            (_, issuer, audience) => {
                if enabled && (issuer.is_none() || audience.is_none()) {
                    p.push(format!(
                        "JWT bearer tokens are enabled without {} and {}: set both to the values your IdP puts in \
                         `iss` and `aud`, or any token it signs for another application would be accepted",
                        named("jwt.issuer"),
                        named("jwt.audience")
                    ));
                }
                None
            }
        }
    }

    fn resolve_genesys(g: GenesysLayer, p: &mut Problems) -> GenesysSettings {
        let d = GenesysSettings::default();
        let client_secret = p.secret("genesys.client_secret", g.client_secret, g.client_secret_file);
        let client_id = non_blank(g.client_id);
        let (region, api_url, login_url) = (non_blank(g.region), non_blank(g.api_url), non_blank(g.login_url));
        let place_set = region.is_some() || api_url.is_some() || login_url.is_some();
        let shape = (region.is_some(), api_url.is_some(), login_url.is_some());
        let api_url = p.value("genesys.api_url", api_url.as_deref(), http_url("https://api.mypurecloud.com"));
        let login_url = p.value("genesys.login_url", login_url.as_deref(), http_url("https://login.mypurecloud.com"));
        let endpoints = match shape {
            (true, false, false) => {
                let region = region.unwrap_or_default();
                p.value("genesys.region", Some(&region), |name| {
                    Endpoints::for_region(name).map_err(|_| {
                        format!(
                            "use an SDK region name ({}) or its domain, e.g. mypurecloud.de",
                            Endpoints::region_names().join(", ")
                        )
                    })
                })
                .map(|e| (e, Some(region.trim().to_string())))
            }
            (false, true, true) => match (api_url, login_url) {
                (Some(api), Some(login)) => Some((Endpoints::explicit(&api, &login), None)),
                // A bad URL, reported above.
                _ => None,
            },
            (false, false, false) => None,
            (true, has_api, _) => {
                let url = if has_api { "genesys.api_url" } else { "genesys.login_url" };
                let problem = format!(
                    "{} and {} are both set: give either the region or both URLs",
                    p.option("genesys.region"),
                    p.option(url)
                );
                p.push(problem);
                None
            }
            (false, has_api, _) => {
                let (set, unset) = if has_api {
                    ("genesys.api_url", "genesys.login_url")
                } else {
                    ("genesys.login_url", "genesys.api_url")
                };
                let problem =
                    format!("{} is set without {}: set both URLs, or a region instead", p.option(set), named(unset));
                p.push(problem);
                None
            }
        };
        let target = match (client_id, client_secret) {
            (Some(client_id), Some((client_secret, _))) => match endpoints {
                Some((endpoints, region)) => {
                    GenesysTarget::Cloud(GenesysCloud { endpoints, region, client_id, client_secret })
                }
                None => {
                    if !place_set {
                        p.push(format!(
                            "Genesys credentials are set but not where Genesys is: set {} (e.g. us_east_1), or {} \
                             and {}",
                            named("genesys.region"),
                            named("genesys.api_url"),
                            named("genesys.login_url")
                        ));
                    }
                    GenesysTarget::Simulator
                }
            },
            (Some(_), None) => {
                let problem = format!(
                    "{} is set without its secret: set {} (or {})",
                    p.option("genesys.client_id"),
                    named("genesys.client_secret"),
                    env_name("genesys.client_secret_file")
                );
                p.push(problem);
                GenesysTarget::Simulator
            }
            (None, Some((_, given))) => {
                let problem = format!("{} is set without {}", p.option(&given), named("genesys.client_id"));
                p.push(problem);
                GenesysTarget::Simulator
            }
            (None, None) => {
                if place_set {
                    p.push(format!(
                        "where Genesys is is set but no OAuth client: set {} and {} to forward to Genesys Cloud, or \
                         remove the region and URLs to use the built-in simulator",
                        named("genesys.client_id"),
                        named("genesys.client_secret")
                    ));
                }
                GenesysTarget::Simulator
            }
        };
        GenesysSettings {
            target,
            api: p.value("genesys.api", g.api.as_deref(), enum_value(ApiMode::ALLOWED)).unwrap_or(d.api),
            number_source: p
                .value("genesys.number_source", g.number_source.as_deref(), |t| {
                    t.parse::<NumberSource>().map_err(|e| e.to_string())
                })
                .unwrap_or(d.number_source),
            default_country: p.value("genesys.default_country", g.default_country.as_deref(), |t| {
                t.parse::<Country>().map_err(|e| e.to_string())
            }),
            division: g.division,
            delete_mode: p
                .value("genesys.delete_mode", g.delete_mode.as_deref(), enum_value(DeleteMode::ALLOWED))
                .unwrap_or(d.delete_mode),
            number_primary: p
                .value("genesys.number_primary", g.number_primary.as_deref(), enum_value(NumberPrimary::ALLOWED))
                .unwrap_or(d.number_primary),
            adopt: p.value("genesys.adopt", g.adopt.as_deref(), enum_value(AdoptPolicy::ALLOWED)).unwrap_or(d.adopt),
            roles: p.value("genesys.roles", g.roles.as_deref(), RoleSpec::parse_list).unwrap_or_default(),
            rate_budget: p
                .value("genesys.rate_budget", g.rate_budget.as_deref(), enum_value(BudgetScope::ALLOWED))
                .unwrap_or_default(),
            timeout: p.value("genesys.timeout", g.timeout.as_deref(), |t| {
                match t.trim().trim_end_matches('s').parse() {
                    Ok(n @ 1..=300) => Ok(Duration::from_secs(n)),
                    _ => Err("use a whole number of seconds from 1 to 300; the default is 30".to_string()),
                }
            }),
        }
    }
}

/// Every kind of bad value of each option, for the table tests here (file, environment) and in
/// `cli` (flags): the key, the value, and words of what the message must say to use instead.
/// `{dir}` stands for a directory holding `empty` (an empty file) and `not-a-key.pem`.
#[cfg(test)]
pub(crate) const BAD_VALUES: &[(&str, &str, &str)] = &[
    ("listen", "everywhere", "an address and port such as 127.0.0.1:8080"),
    ("listen", "127.0.0.1", "an address and port such as 127.0.0.1:8080"),
    ("log_format", "xml", "use text or json"),
    ("max_body_bytes", "big", "at least 1024"),
    ("max_body_bytes", "100", "at least 1024"),
    ("max_body_bytes", "-1", "at least 1024"),
    ("header_timeout", "0", "seconds from 1 to 3600"),
    ("body_timeout", "forever", "seconds from 1 to 3600"),
    ("max_connections", "0", "from 1 to 1000000"),
    ("auth_failure_limit", "-1", "per minute from 0"),
    ("token_rate_limit", "fast", "per second from 0"),
    ("bulk_max_operations", "0", "from 1 to 100000"),
    ("bulk_max_operations", "many", "from 1 to 100000"),
    ("bulk_max_payload_bytes", "10", "at least 1024"),
    ("workers", "many", "a whole number of threads"),
    ("workers", "-2", "a whole number of threads"),
    ("dry_run", "maybe", "use true or false"),
    ("public_url", "scim.example.com", "https://scim.example.com/scim/v2"),
    ("bootstrap_token", "short", "at least 16"),
    ("bootstrap_token_file", "{dir}/missing", "cannot be read"),
    ("bootstrap_token_file", "{dir}/empty", "the file is empty"),
    ("admin.token", "short", "at least 16"),
    ("admin.token_file", "{dir}/missing", "cannot be read"),
    ("admin.token_file", "{dir}/empty", "the file is empty"),
    ("metrics.token", "short", "at least 16"),
    ("metrics.token_file", "{dir}/missing", "cannot be read"),
    ("jwt.hs256_secret", "too-short", "at least 32"),
    ("jwt.hs256_secret_file", "{dir}/missing", "cannot be read"),
    ("jwt.public_key_file", "{dir}/missing", "cannot be read"),
    ("jwt.public_key_file", "{dir}/not-a-key.pem", "neither an RSA nor an EC public key in PEM form"),
    ("genesys.region", "mars_north_1", "us_east_1, "),
    ("genesys.api_url", "api.mypurecloud.com", "https://api.mypurecloud.com"),
    ("genesys.login_url", "login.mypurecloud.com", "https://login.mypurecloud.com"),
    ("genesys.client_secret_file", "{dir}/missing", "cannot be read"),
    ("genesys.client_secret_file", "{dir}/empty", "the file is empty"),
    ("genesys.api", "soap", "use scim or platform"),
    ("genesys.number_source", "phoneNumbers", "phoneNumbers[type eq \"work\"].value"),
    ("genesys.number_source", "name[", "Expected a SCIM attribute path"),
    ("genesys.number_source", "", "the default is"),
    ("genesys.default_country", "XX", "use one of US, "),
    ("genesys.delete_mode", "shred", "use delete or deactivate"),
    ("genesys.number_primary", "sometimes", "use always or as-sent"),
    ("genesys.adopt", "always", "use never or by-username"),
    ("genesys.roles", "employee, permission:integration", "permission:<domain>:<entity>:<action>"),
    ("genesys.rate_budget", "everyone", "use shared or per-replica"),
    ("genesys.timeout", "0", "seconds from 1 to 300"),
    ("genesys.timeout", "a minute", "seconds from 1 to 300"),
];

/// A directory with the files `BAD_VALUES` names.
#[cfg(test)]
pub(crate) fn bad_value_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let write = |name: &str, text: &str| {
        std::fs::write(dir.path().join(name), text).unwrap_or_else(|e| panic!("{e}"));
    };
    write("empty", "\n");
    write("not-a-key.pem", "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n");
    dir
}

/// Assert that one of `problems` names `key` with `origin` and says `allowed`.
#[cfg(test)]
pub(crate) fn assert_refused(problems: &[String], key: &str, value: &str, origin: &str, allowed: &str) {
    let named = format!("`{key}`");
    let from = format!("(from {origin})");
    assert!(
        problems.iter().any(|p| p.contains(&named) && p.contains(&from) && p.contains(allowed)),
        "{key} = {value:?} from {origin}: no problem names the option, its origin and {allowed:?}:\n{}",
        problems.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(toml_text: &str) -> Layer {
        toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A layer as the environment would give it: each key's origin is its variable.
    fn env_layer(toml_text: &str) -> Layer {
        Layer::from_toml(toml_text, &|key| Origin::Env(env_name(key))).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `key = value` as TOML (in its table when the key is dotted).
    fn toml_setting(key: &str, value: &str) -> String {
        // A JSON string is a TOML basic string (same quotes and escapes).
        let quoted = serde_json::Value::String(value.to_string()).to_string();
        match key.split_once('.') {
            Some((table, name)) => format!("[{table}]\n{name} = {quoted}\n"),
            None => format!("{key} = {quoted}\n"),
        }
    }

    fn problems(l: Layer) -> Vec<String> {
        Config::resolve(l).expect_err("should be refused").0
    }

    #[test]
    fn the_example_file_loads_and_resolves() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scim-bridge.example.toml");
        let mut l = Layer::from_file(&path).expect("the example parses");
        assert_eq!(l.genesys.client_secret_file.as_deref(), Some(Path::new("/etc/scim-bridge/genesys-client-secret")));
        // Its secret files live in /etc on a real machine: point them at temporary ones.
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "genesys-client-secret-value\n").unwrap();
        let admin = dir.path().join("admin");
        std::fs::write(&admin, "an-admin-token-long-enough\n").unwrap();
        l.genesys.client_secret_file = Some(secret);
        l.admin.token_file = Some(admin);
        let c = Config::resolve(l).expect("the example is valid");
        assert_eq!(c.public_url.as_deref(), Some("https://scim.example.com/scim/v2"));
        let GenesysTarget::Cloud(cloud) = &c.genesys.target else { panic!("Genesys Cloud: {:?}", c.genesys) };
        assert_eq!(cloud.client_secret.expose(), "genesys-client-secret-value");
        assert_eq!(c.admin_token.as_ref().map(Secret::expose), Some("an-admin-token-long-enough"));
        assert_eq!((c.log_format, c.dry_run, cloud.region.as_deref()), (LogFormat::Json, false, Some("us_east_1")));
        assert_eq!(cloud.endpoints, Endpoints::for_region("us_east_1").unwrap());
        assert_eq!((c.genesys.api, c.genesys.delete_mode), (ApiMode::Scim, DeleteMode::Deactivate));
        assert_eq!(c.genesys.default_country.map(Country::iso), Some("US"));
        assert_eq!(c.genesys.number_source.as_str(), NumberSource::DEFAULT);
        assert_eq!(c.genesys.timeout, Some(Duration::from_secs(30)));
    }

    #[test]
    fn roles_are_a_toml_list_or_a_comma_separated_string() {
        let want = vec![
            RoleSpec::Name("employee".into()),
            RoleSpec::Permission("integration:unifiedCommunications:view".into()),
        ];
        for text in [
            "[genesys]\nroles = [\"employee\", \"permission:integration:unifiedCommunications:view\"]",
            "[genesys]\nroles = \"employee, permission:integration:unifiedCommunications:view\"",
        ] {
            let c = Config::resolve(layer(text)).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(c.genesys.roles, want, "{text}");
        }
        assert!(Config::resolve(layer("")).expect("no roles").genesys.roles.is_empty(), "none by default");
    }

    #[test]
    fn unknown_keys_are_refused_with_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[genesys]\nclient_secrt = \"x\"\n").unwrap();
        let e = Layer::from_file(&path).unwrap_err().to_string();
        assert!(e.contains("bad.toml") && e.contains("client_secrt"), "{e}");
    }

    #[test]
    fn a_higher_layer_secret_replaces_a_lower_secret_file() {
        let lower =
            layer("[genesys]\nclient_id = \"id\"\nclient_secret_file = \"/nonexistent\"\nregion = \"us_east_1\"");
        let upper = Layer {
            genesys: GenesysLayer { client_secret: Some(Secret::new("from-the-environment")), ..Default::default() },
            ..Default::default()
        };
        let c = Config::resolve(upper.over(lower)).expect("the unreadable file is not consulted");
        let GenesysTarget::Cloud(cloud) = c.genesys.target else { panic!("Genesys Cloud") };
        assert_eq!(cloud.client_secret.expose(), "from-the-environment");
    }

    #[test]
    fn every_problem_is_reported_at_once_with_what_to_set() {
        let p = problems(env_layer(
            "listen = \"everywhere\"\nbootstrap_token = \"short\"\n[genesys]\nclient_id = \"id\"\ndelete_mode = \"shred\"\n[jwt]\nhs256_secret = \"x\"",
        ));
        let all = p.join("\n");
        assert_eq!(p.len(), 6, "{all}");
        for needle in [
            "SCIM_BRIDGE_LISTEN",
            "SCIM_BRIDGE_BOOTSTRAP_TOKEN",
            "SCIM_BRIDGE_GENESYS_CLIENT_SECRET",
            "SCIM_BRIDGE_GENESYS_DELETE",
            "SCIM_BRIDGE_JWT_HS256_SECRET",
            "SCIM_BRIDGE_JWT_ISSUER",
        ] {
            assert!(all.contains(needle), "{needle} missing from:\n{all}");
        }
        let shown = ConfigError(p).to_string();
        assert!(shown.starts_with("6 problems in the configuration:"), "{shown}");
    }

    #[test]
    fn a_region_without_credentials_is_refused_rather_than_silently_simulated() {
        let p = problems(layer("[genesys]\nregion = \"eu_central_1\""));
        assert!(p[0].contains("built-in simulator"), "{p:?}");
    }

    #[test]
    fn secret_files_are_read_and_must_not_be_empty() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let p = problems(env_layer(&toml_setting("bootstrap_token_file", &empty.display().to_string())));
        assert!(p[0].contains("SCIM_BRIDGE_BOOTSTRAP_TOKEN_FILE") && p[0].contains("empty"), "{p:?}");
        let missing = dir.path().join("missing");
        let p = problems(env_layer(&toml_setting("bootstrap_token_file", &missing.display().to_string())));
        assert!(p[0].contains("cannot be read"), "{p:?}");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = Config::resolve(layer(
            "bootstrap_token = \"bootstrap-token-value-1234\"\n[genesys]\nclient_id = \"id\"\nclient_secret = \"client-secret-value\"\nregion = \"us_east_1\"\n[jwt]\nhs256_secret = \"jwt-secret-value-of-thirty-two-bytes\"\nissuer = \"i\"\naudience = \"a\"",
        ))
        .unwrap();
        let shown = format!("{c:?}");
        for secret in ["bootstrap-token-value", "client-secret-value", "jwt-secret-value"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn every_bad_value_from_the_file_names_the_option_the_file_and_what_to_use() {
        let files = bad_value_files();
        let dir = files.path().display().to_string();
        for (key, value, allowed) in BAD_VALUES {
            let value = value.replace("{dir}", &dir);
            let path = files.path().join("scim-bridge.toml");
            std::fs::write(&path, toml_setting(key, &value)).unwrap();
            let p = problems(Layer::from_file(&path).unwrap());
            assert_refused(&p, key, &value, &path.display().to_string(), allowed);
        }
    }

    #[test]
    fn every_bad_value_from_the_environment_names_the_option_the_variable_and_what_to_use() {
        let files = bad_value_files();
        let dir = files.path().display().to_string();
        for (key, value, allowed) in BAD_VALUES {
            let value = value.replace("{dir}", &dir);
            let p = problems(env_layer(&toml_setting(key, &value)));
            assert_refused(&p, key, &value, &env_name(key), allowed);
        }
    }

    #[test]
    fn a_bad_value_is_quoted_but_a_bad_secret_is_not() {
        let p = problems(env_layer("[genesys]\napi = \"soap\"\n[admin]\ntoken = \"tiny-secret\""));
        assert!(
            p.contains(&"`genesys.api` = \"soap\" (from SCIM_BRIDGE_GENESYS_API): use scim or platform".to_string())
        );
        assert!(p.iter().all(|m| !m.contains("tiny-secret")), "{p:?}");
    }

    #[test]
    fn values_are_parsed_into_their_types_once() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let c = Config::resolve(layer(&format!(
            "log_format = \"JSON\"\nworkers = 4\nmax_body_bytes = \"2048\"\ndry_run = \"yes\"\nlisten = \" [::1]:9000 \"\n\
             public_url = \"https://scim.example.com/scim/v2/\"\n\
             [jwt]\npublic_key_file = \"{}\"\nissuer = \"i\"\naudience = \"a\"\n\
             [genesys]\napi = \"Platform\"\ndelete_mode = \"deactivate\"\nregion = \"eu-central-1\"\nclient_id = \"id\"\n\
             client_secret = \"s\"\ndefault_country = \"gb\"\nnumber_source = 'phoneNumbers[type eq \"work\"].value'",
            fixtures.join("jwt-es256-public.pem").display()
        )))
        .unwrap();
        assert_eq!((c.log_format, c.workers, c.max_body_bytes, c.dry_run), (LogFormat::Json, 4, 2048, true));
        assert_eq!(c.listen, "[::1]:9000".parse::<SocketAddr>().unwrap());
        assert_eq!(c.public_url.as_deref(), Some("https://scim.example.com/scim/v2"));
        let jwt = c.jwt.expect("JWT");
        assert!(matches!(jwt.key, JwtKey::Ec { .. }), "{jwt:?}");
        assert_eq!(jwt.key.algorithms(), vec![Algorithm::ES256, Algorithm::ES384]);
        let g = c.genesys;
        assert_eq!((g.api, g.delete_mode), (ApiMode::Platform, DeleteMode::Deactivate));
        assert_eq!(g.default_country.map(Country::iso), Some("GB"));
        assert_eq!(g.number_source.as_str(), "phoneNumbers[type eq \"work\"].value");
        let GenesysTarget::Cloud(cloud) = g.target else { panic!("Genesys Cloud") };
        assert_eq!(cloud.endpoints.api_base, "https://api.mypurecloud.de");
        assert_eq!(cloud.region.as_deref(), Some("eu-central-1"));

        let c = Config::resolve(layer(
            "[genesys]\napi_url = \"http://127.0.0.1:9/\"\nlogin_url = \"http://127.0.0.1:9\"\nclient_id = \"id\"\nclient_secret = \"s\"",
        ))
        .unwrap();
        let GenesysTarget::Cloud(cloud) = c.genesys.target else { panic!("Genesys Cloud") };
        assert_eq!(
            (cloud.endpoints, cloud.region),
            (Endpoints::explicit("http://127.0.0.1:9", "http://127.0.0.1:9"), None)
        );

        let c = Config::resolve(Layer::default()).unwrap();
        assert!(matches!(c.genesys.target, GenesysTarget::Simulator) && c.jwt.is_none());
    }

    #[test]
    fn where_genesys_is_must_be_one_region_or_both_urls() {
        let creds = "client_id = \"id\"\nclient_secret = \"s\"\n";
        let cases = [
            ("region = \"us_east_1\"\napi_url = \"https://api.mypurecloud.com\"", "are both set"),
            ("api_url = \"https://api.mypurecloud.com\"", "is set without `genesys.login_url`"),
            ("login_url = \"https://login.mypurecloud.com\"", "is set without `genesys.api_url`"),
            ("", "not where Genesys is"),
        ];
        for (place, needle) in cases {
            let p = problems(env_layer(&format!("[genesys]\n{creds}{place}")));
            assert!(p.len() == 1 && p[0].contains(needle), "{place}: {p:?}");
        }
        let p = problems(env_layer("[genesys]\nclient_secret = \"s\"\nregion = \"us_east_1\""));
        assert!(
            p[0].contains("`genesys.client_secret` (from SCIM_BRIDGE_GENESYS_CLIENT_SECRET) is set without"),
            "{p:?}"
        );
    }

    #[test]
    fn a_jwt_key_is_loaded_at_start_and_never_printed() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let rsa = JwtKey::from_pem_file(&fixtures.join("jwt-rs256-public.pem")).unwrap();
        assert_eq!(rsa.algorithms(), vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512]);
        assert!(format!("{rsa:?}").contains("jwt-rs256-public.pem"));
        let shown = format!("{:?}", JwtKey::Hs256(Secret::new("a-shared-secret")));
        assert!(!shown.contains("a-shared-secret"), "{shown}");
    }

    #[test]
    fn the_global_options_are_checked_for_every_command() {
        let g = Global::resolve(&Layer::default()).unwrap();
        assert_eq!(g, Global { log_format: LogFormat::Text, database_url: DEFAULT_DATABASE.into() });
        let e = Global::resolve(&env_layer("log_format = \"xml\"")).unwrap_err();
        assert_eq!(e.0, vec!["`log_format` = \"xml\" (from SCIM_BRIDGE_LOG_FORMAT): use text or json".to_string()]);
    }

    #[test]
    fn origins_follow_the_winning_layer() {
        let file =
            Layer::from_toml("listen = \"127.0.0.1:1\"\nworkers = 2", &|_| Origin::File("f.toml".into())).unwrap();
        let env = Layer::from_toml("listen = \"x\"", &|k| Origin::Env(env_name(k))).unwrap();
        let l = env.over(file);
        assert_eq!(l.origins.of("listen"), Some(&Origin::Env("SCIM_BRIDGE_LISTEN".into())));
        assert_eq!(l.origins.of("workers"), Some(&Origin::File("f.toml".into())));
        assert_eq!(l.workers.as_deref(), Some("2"));
    }

    #[test]
    fn allowed_values_read_as_a_sentence() {
        assert_eq!(either("scim, platform"), "scim or platform");
        assert_eq!(either("a, b, c"), "one of a, b or c");
        assert_eq!(either(LogFormat::ALLOWED), "text or json");
        assert_eq!(either(DeleteMode::ALLOWED), "delete or deactivate");
    }

    #[test]
    fn variables_and_keys_correspond() {
        for key in ["listen", "genesys.client_secret_file", "jwt.hs256_secret", "admin.token", "genesys.delete_mode"] {
            assert_eq!(key_of_env(&env_name(key)).as_deref(), Some(key));
        }
        assert_eq!(key_of_env("PATH"), None);
    }
}
