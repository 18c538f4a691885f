//! Bearer authentication: static tokens (compared by SHA-256 hash, in constant time) and JWTs
//! (HS256 secret or RS256/ES256 public key, issuer and audience checked).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::{DecodingKey, Validation};
use subtle::ConstantTimeEq;

use crate::config::JwtConfig;
use crate::store::{Store, hash_token};
use scim::ScimError;

/// Stored token hashes are re-read at least this often, so a revoked token stops working
/// within this delay without a database read per request.
pub const TOKEN_REFRESH: Duration = Duration::from_secs(1);

struct Cache {
    hashes: Vec<[u8; 32]>,
}

/// Decides whether a bearer token is good.
pub struct Authenticator {
    store: Arc<Store>,
    bootstrap: Option<[u8; 32]>,
    cache: RwLock<Cache>,
    jwt: Option<(DecodingKey, Validation)>,
}

impl Authenticator {
    pub fn new(store: Arc<Store>, bootstrap: Option<&str>, jwt: Option<&JwtConfig>) -> anyhow::Result<Self> {
        let jwt = jwt.map(jwt_verifier);
        let auth = Authenticator {
            store,
            bootstrap: bootstrap.map(hash_token),
            cache: RwLock::new(Cache { hashes: Vec::new() }),
            jwt,
        };
        auth.refresh()?;
        Ok(auth)
    }

    /// Re-read the stored hashes (blocking: call from a blocking thread).
    pub fn refresh(&self) -> anyhow::Result<()> {
        let hashes = self.store.token_hashes()?.into_iter().map(|(_, h)| h).collect();
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        *cache = Cache { hashes };
        Ok(())
    }

    /// Whether any way to authenticate exists (a stored token, the bootstrap token, or JWT).
    pub fn has_any_credential(&self) -> bool {
        self.bootstrap.is_some()
            || self.jwt.is_some()
            || self.cache.read().map(|c| !c.hashes.is_empty()).unwrap_or(false)
    }

    /// Check a static token against the bootstrap token and the cached hashes, comparing every
    /// candidate in constant time.
    pub fn check_static(&self, token: &str) -> bool {
        let presented = hash_token(token);
        let mut ok = subtle::Choice::from(0u8);
        if let Some(b) = &self.bootstrap {
            ok |= presented.ct_eq(b);
        }
        if let Ok(cache) = self.cache.read() {
            for h in &cache.hashes {
                ok |= presented.ct_eq(h);
            }
        }
        ok.into()
    }

    /// Check a JWT, when JWT verification is configured.
    pub fn check_jwt(&self, token: &str) -> Result<(), ScimError> {
        let Some((key, validation)) = &self.jwt else {
            return Err(ScimError::unauthorized("the bearer token is not valid"));
        };
        jsonwebtoken::decode::<serde_json::Value>(token, key, validation)
            .map(|_| ())
            .map_err(|e| ScimError::unauthorized(format!("the bearer JWT was refused: {}", jwt_reason(&e))))
    }

    pub fn jwt_enabled(&self) -> bool {
        self.jwt.is_some()
    }
}

fn jwt_reason(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind::*;
    match e.kind() {
        ExpiredSignature => "it has expired",
        InvalidIssuer => "wrong issuer (iss)",
        InvalidAudience => "wrong audience (aud)",
        InvalidSignature => "bad signature",
        InvalidAlgorithm => "unexpected algorithm",
        ImmatureSignature => "not valid yet (nbf)",
        MissingRequiredClaim(_) => "a required claim is missing",
        _ => "malformed token",
    }
}

/// The key and the checks of every JWT: signed with the configured key by one of its
/// algorithms, from the configured issuer for the configured audience, not expired.
fn jwt_verifier(cfg: &JwtConfig) -> (DecodingKey, Validation) {
    let mut validation = Validation::default();
    validation.algorithms = cfg.key.algorithms();
    validation.set_issuer(&[&cfg.issuer]);
    validation.set_audience(&[&cfg.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    // A token not valid yet (`nbf` in the future) is refused like an expired one.
    validation.validate_nbf = true;
    (cfg.key.decoding_key(), validation)
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    let (scheme, token) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Whether the bearer token of an `Authorization` header is `expected`, compared by hash in
/// constant time (the operator routes' own tokens).
pub fn bearer_is(header: Option<&str>, expected: &str) -> bool {
    bearer(header).is_some_and(|t| bool::from(hash_token(t).ct_eq(&hash_token(expected))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer   abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}
