//! Bearer authentication: static tokens (compared by SHA-256 hash, in constant time) and JWTs
//! (HS256 secret or RS256/ES256 public key, issuer and audience checked). A good token names its
//! [`Actor`] (the stored token's name, the bootstrap token, or the JWT's subject and issuer)
//! for the audit trail.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::{DecodingKey, Validation};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::config::JwtConfig;
use crate::store::{Actor, Store, hash_token};
use scim::ScimError;

/// Stored token hashes are re-read at least this often, so a revoked token stops working
/// within this delay without a database read per request.
pub const TOKEN_REFRESH: Duration = Duration::from_secs(1);

/// The stored tokens: names and hashes.
struct Cache {
    tokens: Vec<(String, [u8; 32])>,
}

/// [`Authenticator::check_static`]'s index of the bootstrap token, and of no match.
const BOOTSTRAP: u32 = u32::MAX - 1;
const NO_MATCH: u32 = u32::MAX;

/// The longest JWT `sub` or `iss` recorded; longer ones are cut (the issuer signed them, but
/// an audit row is no place for kilobytes).
const MAX_CLAIM: usize = 256;

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
            cache: RwLock::new(Cache { tokens: Vec::new() }),
            jwt,
        };
        auth.refresh()?;
        Ok(auth)
    }

    /// Re-read the stored hashes (blocking: call from a blocking thread).
    pub fn refresh(&self) -> anyhow::Result<()> {
        let tokens = self.store.token_hashes()?;
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        *cache = Cache { tokens };
        Ok(())
    }

    /// Whether any way to authenticate exists (a stored token, the bootstrap token, or JWT).
    pub fn has_any_credential(&self) -> bool {
        self.bootstrap.is_some()
            || self.jwt.is_some()
            || self.cache.read().map(|c| !c.tokens.is_empty()).unwrap_or(false)
    }

    /// Check a static token against the bootstrap token and the cached hashes: which one it is,
    /// if any. Every candidate is compared, in constant time, and the match is picked without a
    /// branch, so the time taken says nothing of which candidate matched or how close another came.
    pub fn check_static(&self, token: &str) -> Option<Actor> {
        let presented = hash_token(token);
        let mut which = NO_MATCH;
        if let Some(b) = &self.bootstrap {
            which.conditional_assign(&BOOTSTRAP, presented.ct_eq(b));
        }
        let cache = self.cache.read().ok()?;
        for (i, (_, h)) in cache.tokens.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(NO_MATCH);
            which.conditional_assign(&i, presented.ct_eq(h));
        }
        match which {
            NO_MATCH => None,
            BOOTSTRAP => Some(Actor::Bootstrap),
            i => cache.tokens.get(i as usize).map(|(name, _)| Actor::Token(name.clone())),
        }
    }

    /// Check a JWT, when JWT verification is configured: its subject and issuer.
    pub fn check_jwt(&self, token: &str) -> Result<Actor, ScimError> {
        let Some((key, validation)) = &self.jwt else {
            return Err(ScimError::unauthorized("the bearer token is not valid"));
        };
        let data = jsonwebtoken::decode::<serde_json::Value>(token, key, validation)
            .map_err(|e| ScimError::unauthorized(format!("the bearer JWT was refused: {}", jwt_reason(&e))))?;
        let claim = |name: &str| {
            data.claims
                .get(name)
                .and_then(serde_json::Value::as_str)
                // Control characters (a NUL, which PostgreSQL cannot store, a newline that
                // would forge a line of the audit table) are dropped.
                .map(|s| s.chars().filter(|c| !c.is_control()).take(MAX_CLAIM).collect::<String>())
        };
        // The validation required `iss` (and checked it against the configured issuer).
        Ok(Actor::Jwt { subject: claim("sub"), issuer: claim("iss").unwrap_or_default() })
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

    #[test]
    fn a_static_token_names_the_credential_it_matched() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&crate::store::test_database(dir.path(), "t.db").unwrap()).unwrap());
        let okta = store.create_token("okta").unwrap();
        let entra = store.create_token("entra").unwrap();
        let auth = Authenticator::new(store, Some("boot-strap"), None).unwrap();
        assert_eq!(auth.check_static(&okta), Some(Actor::Token("okta".into())));
        assert_eq!(auth.check_static(&entra), Some(Actor::Token("entra".into())));
        assert_eq!(auth.check_static("boot-strap"), Some(Actor::Bootstrap));
        assert_eq!(auth.check_static("scb_nope"), None);
        assert_eq!(auth.check_static(""), None);
    }
}
