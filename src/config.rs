//! Configuration of `serve`: built from defaults, then `SCIM_BRIDGE_*` environment variables,
//! then flags (clap reads both). Secrets live in [`Secret`], whose `Debug` is redacted.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A secret string: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
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

/// How JWT bearer tokens are verified (for IdPs that send OAuth access tokens).
#[derive(Debug, Clone, Default)]
pub struct JwtConfig {
    /// HS256 shared secret.
    pub hs256_secret: Option<Secret>,
    /// PEM file with an RSA or EC public key (RS256 / ES256).
    pub public_key_file: Option<PathBuf>,
    /// Required `iss` claim.
    pub issuer: Option<String>,
    /// Required `aud` claim.
    pub audience: Option<String>,
}

impl JwtConfig {
    pub fn enabled(&self) -> bool {
        self.hs256_secret.is_some() || self.public_key_file.is_some()
    }
}

/// How to reach Genesys Cloud and what to send it. No credentials: the built-in simulator.
#[derive(Debug, Clone, Default)]
pub struct GenesysSettings {
    /// A region of the SDK table (`us_east_1`, `eu_central_1`, or a domain such as `mypurecloud.de`).
    pub region: Option<String>,
    /// Explicit API base URL (instead of a region), e.g. `https://api.mypurecloud.com`.
    pub api_url: Option<String>,
    /// Explicit login (OAuth) base URL, e.g. `https://login.mypurecloud.com`.
    pub login_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// `scim` (default) or `platform`.
    pub api: String,
    /// SCIM attribute path of the 8x8 number (default `phoneNumbers[type eq "eightbyeight"].value`).
    pub number_source: Option<String>,
    /// ISO country for national-format numbers (e.g. `US`).
    pub default_country: Option<String>,
    /// Division name for users that carry none.
    pub division: Option<String>,
    /// What a SCIM DELETE does in Genesys: `delete` (default) or `deactivate`.
    pub delete_mode: String,
}

impl GenesysSettings {
    /// Whether real Genesys credentials are configured (otherwise the simulator stands in).
    pub fn has_credentials(&self) -> bool {
        self.client_id.is_some() || self.client_secret.is_some()
    }
}

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// A token accepted besides the stored ones (containers, CI).
    pub bootstrap_token: Option<Secret>,
    pub jwt: JwtConfig,
    /// The externally visible base URL of the SCIM root (for `meta.location` and `Location`);
    /// derived from each request's Host when unset.
    pub public_url: Option<String>,
    /// HTTP worker threads (0 = one per core).
    pub workers: usize,
    pub genesys: GenesysSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "scim-bridge.db".into(),
            max_body_bytes: 1024 * 1024,
            bootstrap_token: None,
            jwt: JwtConfig::default(),
            public_url: None,
            workers: 0,
            genesys: GenesysSettings { api: "scim".into(), delete_mode: "delete".into(), ..GenesysSettings::default() },
        }
    }
}
