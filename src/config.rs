//! Configuration: one [`Config`] built from defaults, then an optional TOML file (`--config`),
//! then `SCIM_BRIDGE_*` environment variables, then flags. Each source is a [`Layer`] (every
//! field optional); [`Layer::over`] stacks them and [`Config::resolve`] applies the defaults,
//! reads secret files and validates, reporting every problem at once with how to fix it.
//! Secrets live in [`Secret`], whose `Debug` is redacted. `docs/configuration.md` documents
//! every option; `docs/scim-bridge.example.toml` is loaded by the tests.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// `text` (human-readable) or `json` logs.
    pub log_format: String,
    /// Accept and store everything, send nothing to Genesys, record what would have been sent.
    pub dry_run: bool,
    /// The token of the `/admin` status page (none: the page is off).
    pub admin_token: Option<Secret>,
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
            log_format: "text".into(),
            dry_run: false,
            admin_token: None,
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

/// One source of configuration (the TOML file, or the environment and flags): every field is
/// optional; what a higher layer sets wins. A secret may be given directly or as a `*_file`
/// holding it; a layer that sets one of the pair overrides both of a lower layer.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub log_format: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub workers: Option<usize>,
    pub dry_run: Option<bool>,
    pub bootstrap_token: Option<Secret>,
    pub bootstrap_token_file: Option<PathBuf>,
    #[serde(default)]
    pub jwt: JwtLayer,
    #[serde(default)]
    pub admin: AdminLayer,
    #[serde(default)]
    pub genesys: GenesysLayer,
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
    pub division: Option<String>,
    pub delete_mode: Option<String>,
}

/// A secret pair from one layer: the higher layer's pair wins if it sets either half.
fn pair<T, U>(upper: (Option<T>, Option<U>), lower: (Option<T>, Option<U>)) -> (Option<T>, Option<U>) {
    if upper.0.is_some() || upper.1.is_some() { upper } else { lower }
}

impl Layer {
    /// Read a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<Layer, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(vec![format!("cannot read the configuration file {}: {e}", path.display())]))?;
        toml::from_str(&text).map_err(|e| {
            ConfigError(vec![format!(
                "{}: {} (see docs/configuration.md for the keys)",
                path.display(),
                e.to_string().trim_end()
            )])
        })
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
        let (g, lg) = (self.genesys, lower.genesys);
        let (client_secret, client_secret_file) =
            pair((g.client_secret, g.client_secret_file), (lg.client_secret, lg.client_secret_file));
        Layer {
            listen: self.listen.or(lower.listen),
            database_url: self.database_url.or(lower.database_url),
            public_url: self.public_url.or(lower.public_url),
            log_format: self.log_format.or(lower.log_format),
            max_body_bytes: self.max_body_bytes.or(lower.max_body_bytes),
            workers: self.workers.or(lower.workers),
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
                division: g.division.or(lg.division),
                delete_mode: g.delete_mode.or(lg.delete_mode),
            },
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

/// `key (ENV_NAME)`, how messages name an option.
fn named(key: &str) -> String {
    format!("`{key}` ({})", env_name(key))
}

/// Shortest bearer and admin token accepted (a guessable token is refused, not warned about).
pub const MIN_TOKEN_LEN: usize = 16;
/// Shortest HS256 secret: RFC 7518 §3.2 wants a key at least as long as the hash (256 bits).
pub const MIN_HS256_SECRET_LEN: usize = 32;

/// A secret given directly or read from a file (trailing newline removed).
fn secret(key: &str, direct: Option<Secret>, file: Option<PathBuf>, problems: &mut Vec<String>) -> Option<Secret> {
    if let Some(s) = direct {
        return Some(s);
    }
    let path = file?;
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().is_empty() => {
            problems.push(format!("{} names {}, which is empty", named(&format!("{key}_file")), path.display()));
            None
        }
        Ok(text) => Some(Secret::new(text.trim_end_matches(['\r', '\n']).trim())),
        Err(e) => {
            problems.push(format!(
                "{} names {}, which cannot be read: {e}",
                named(&format!("{key}_file")),
                path.display()
            ));
            None
        }
    }
}

fn min_len(key: &str, s: &Option<Secret>, min: usize, problems: &mut Vec<String>) {
    if let Some(s) = s
        && s.expose().len() < min
    {
        problems.push(format!(
            "{} is {} characters long; use at least {min} random characters (e.g. `openssl rand -hex 32`)",
            named(key),
            s.expose().len()
        ));
    }
}

impl Config {
    /// Apply the defaults to a stacked layer, read the secret files and validate.
    pub fn resolve(layer: Layer) -> Result<Config, ConfigError> {
        let d = Config::default();
        let mut problems = Vec::new();
        let listen = match layer.listen.as_deref().map(str::trim) {
            None => d.listen,
            Some(text) => text.parse().unwrap_or_else(|_| {
                problems
                    .push(format!("{} = {text:?} is not an address and port such as 127.0.0.1:8080", named("listen")));
                d.listen
            }),
        };
        let log_format = layer.log_format.unwrap_or(d.log_format);
        if !matches!(log_format.as_str(), "text" | "json") {
            problems.push(format!("{} = {log_format:?}: use text or json", named("log_format")));
        }
        let max_body_bytes = layer.max_body_bytes.unwrap_or(d.max_body_bytes);
        if max_body_bytes < 1024 {
            problems
                .push(format!("{} = {max_body_bytes} is too small; the default is 1048576", named("max_body_bytes")));
        }
        let public_url = layer.public_url.map(|u| u.trim().trim_end_matches('/').to_string());
        if let Some(u) = &public_url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            problems.push(format!(
                "{} = {u:?} is not a URL; give the SCIM base URL as IdPs see it, e.g. https://scim.example.com/scim/v2",
                named("public_url")
            ));
        }
        let bootstrap_token =
            secret("bootstrap_token", layer.bootstrap_token, layer.bootstrap_token_file, &mut problems)
                .filter(|t| !t.expose().trim().is_empty());
        min_len("bootstrap_token", &bootstrap_token, MIN_TOKEN_LEN, &mut problems);
        let admin_token = secret("admin.token", layer.admin.token, layer.admin.token_file, &mut problems);
        min_len("admin.token", &admin_token, MIN_TOKEN_LEN, &mut problems);

        let j = layer.jwt;
        let jwt = JwtConfig {
            hs256_secret: secret("jwt.hs256_secret", j.hs256_secret, j.hs256_secret_file, &mut problems),
            public_key_file: j.public_key_file,
            issuer: j.issuer,
            audience: j.audience,
        };
        min_len("jwt.hs256_secret", &jwt.hs256_secret, MIN_HS256_SECRET_LEN, &mut problems);
        if let Some(path) = &jwt.public_key_file
            && let Err(e) = std::fs::metadata(path)
        {
            problems.push(format!(
                "{} names {}, which cannot be read: {e}",
                named("jwt.public_key_file"),
                path.display()
            ));
        }
        if jwt.enabled() && (jwt.issuer.is_none() || jwt.audience.is_none()) {
            problems.push(format!(
                "JWT bearer tokens are enabled without {} and {}: set both to the values your IdP puts in `iss` and \
                 `aud`, or any token it signs for another application would be accepted",
                named("jwt.issuer"),
                named("jwt.audience")
            ));
        }

        let g = layer.genesys;
        let client_secret = secret("genesys.client_secret", g.client_secret, g.client_secret_file, &mut problems);
        let genesys = GenesysSettings {
            region: g.region.filter(|r| !r.trim().is_empty()),
            api_url: g.api_url.filter(|u| !u.trim().is_empty()),
            login_url: g.login_url.filter(|u| !u.trim().is_empty()),
            client_id: g.client_id.filter(|c| !c.trim().is_empty()),
            client_secret,
            api: g.api.unwrap_or(d.genesys.api),
            number_source: g.number_source,
            default_country: g.default_country,
            division: g.division,
            delete_mode: g.delete_mode.unwrap_or(d.genesys.delete_mode),
        };
        match (&genesys.client_id, &genesys.client_secret) {
            (Some(_), None) => problems.push(format!(
                "{} is set without its secret: set {} (or {})",
                named("genesys.client_id"),
                named("genesys.client_secret"),
                env_name("genesys.client_secret_file")
            )),
            (None, Some(_)) => {
                problems.push(format!("a Genesys client secret is set without {}", named("genesys.client_id")))
            }
            (None, None) if genesys.region.is_some() || genesys.api_url.is_some() || genesys.login_url.is_some() => {
                problems.push(format!(
                    "where Genesys is is set but no OAuth client: set {} and {} to forward to Genesys Cloud, or \
                     remove the region and URLs to use the built-in simulator",
                    named("genesys.client_id"),
                    named("genesys.client_secret")
                ))
            }
            _ => {}
        }
        if !matches!(genesys.api.as_str(), "scim" | "platform") {
            problems.push(format!("{} = {:?}: use scim or platform", named("genesys.api"), genesys.api));
        }
        if !matches!(genesys.delete_mode.as_str(), "delete" | "deactivate") {
            problems.push(format!(
                "{} = {:?}: use delete or deactivate",
                named("genesys.delete_mode"),
                genesys.delete_mode
            ));
        }

        let config = Config {
            log_format,
            dry_run: layer.dry_run.unwrap_or(d.dry_run),
            admin_token,
            listen,
            database_url: layer.database_url.unwrap_or(d.database_url),
            max_body_bytes,
            bootstrap_token,
            jwt,
            public_url,
            workers: layer.workers.unwrap_or(d.workers),
            genesys,
        };
        if problems.is_empty() { Ok(config) } else { Err(ConfigError(problems)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(toml_text: &str) -> Layer {
        toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}"))
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
        assert_eq!(c.genesys.client_secret.as_ref().map(Secret::expose), Some("genesys-client-secret-value"));
        assert_eq!(c.admin_token.as_ref().map(Secret::expose), Some("an-admin-token-long-enough"));
        assert_eq!((c.log_format.as_str(), c.dry_run, c.genesys.region.as_deref()), ("json", false, Some("us_east_1")));
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
        let lower = layer("[genesys]\nclient_id = \"id\"\nclient_secret_file = \"/nonexistent\"");
        let upper = Layer {
            genesys: GenesysLayer { client_secret: Some(Secret::new("from-the-environment")), ..Default::default() },
            ..Default::default()
        };
        let c = Config::resolve(upper.over(lower)).expect("the unreadable file is not consulted");
        assert_eq!(c.genesys.client_secret.unwrap().expose(), "from-the-environment");
    }

    #[test]
    fn every_problem_is_reported_at_once_with_what_to_set() {
        let p = problems(layer(
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
        let p = problems(Layer { bootstrap_token_file: Some(empty), ..Default::default() });
        assert!(p[0].contains("SCIM_BRIDGE_BOOTSTRAP_TOKEN_FILE") && p[0].contains("empty"), "{p:?}");
        let p = problems(Layer { bootstrap_token_file: Some(dir.path().join("missing")), ..Default::default() });
        assert!(p[0].contains("cannot be read"), "{p:?}");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = Config::resolve(layer(
            "bootstrap_token = \"bootstrap-token-value-1234\"\n[genesys]\nclient_id = \"id\"\nclient_secret = \"client-secret-value\"\nregion = \"us_east_1\"",
        ))
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("bootstrap-token-value") && !shown.contains("client-secret-value"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
