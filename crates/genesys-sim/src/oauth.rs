//! The login host's `POST /oauth/token` (client-credentials grant, genesys-api-notes §3) and bearer checks
//! for `/api/v2` (genesys-api-notes §8 item 1).
//!
//! Request: `Authorization: Basic base64(id:secret)`, form body `grant_type=client_credentials`
//! (`client_id`/`client_secret` in the body are accepted too, "undocumented but works", genesys-api-notes
//! §3). Answer: 200 `{"access_token","token_type":"bearer","expires_in"}`; a bad client is 400
//! `{"error":"unauthorized_client","description","error_description"}`. The grant-type errors
//! (`invalid_request`, `unsupported_grant_type`) are RFC 6749 §5.2's words, **[unverified]** for
//! Genesys. Tokens are opaque random strings that expire after the configured lifetime; a new
//! request gets a new token and earlier ones stay valid until they expire. Each token remembers
//! the OAuth client id it was issued to (the rate limiter's `client` scope counts by it).
//!
//! Must not import: actix (only `server` speaks HTTP), or anything of the bridge.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;
use subtle::ConstantTimeEq;

use super::wire::{ApiError, Reply};

/// An issued token: when it expires, and the OAuth client it was issued to.
#[derive(Debug, Clone)]
struct Issued {
    expires: Instant,
    client_id: String,
}

/// Issued tokens.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    issued: HashMap<String, Issued>,
}

impl Tokens {
    /// A fresh token for `client_id`, valid for `lifetime`.
    pub fn issue(&mut self, now: Instant, lifetime: Duration, client_id: &str) -> String {
        if self.issued.len() > 4096 {
            self.issued.retain(|_, i| now < i.expires);
        }
        let token = base64_encode(&rand::random::<[u8; 48]>(), URL_SAFE);
        self.issued.insert(token.clone(), Issued { expires: now + lifetime, client_id: client_id.to_string() });
        token
    }

    /// The bearer check of every `/api/v2` request: 401 `authentication.required` without a
    /// bearer token, 401 `bad.credentials` for an unknown or expired one.
    pub fn check<'h>(&self, authorization: Option<&'h str>, now: Instant) -> Result<&'h str, ApiError> {
        let Some(token) = bearer(authorization) else {
            return Err(ApiError::authentication_required());
        };
        match self.issued.get(token) {
            Some(i) if now < i.expires => Ok(token),
            _ => Err(ApiError::bad_credentials()),
        }
    }

    /// When a token expires (for `GET /api/v2/tokens/me`).
    pub fn expires_at(&self, token: &str) -> Option<Instant> {
        self.issued.get(token).map(|i| i.expires)
    }

    /// The OAuth client id a token was issued to.
    pub fn client_of(&self, token: &str) -> Option<&str> {
        self.issued.get(token).map(|i| i.client_id.as_str())
    }

    /// The tokens still valid (for `GET /sim/tokens`: tests check none leaked into a log).
    pub fn live(&self, now: Instant) -> Vec<String> {
        let mut live: Vec<String> =
            self.issued.iter().filter(|(_, i)| now < i.expires).map(|(k, _)| k.clone()).collect();
        live.sort();
        live
    }

    /// Make every issued token invalid (clients must fetch a new one).
    pub fn expire_all(&mut self) {
        self.issued.clear();
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    let (scheme, rest) = h.split_once(' ')?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// An OAuth error answer (not an ErrorBody: the login host has its own shape, genesys-api-notes §3).
fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(status, json!({"error": error, "description": description, "error_description": description}))
}

/// What the token endpoint decided.
pub(crate) enum TokenOutcome {
    Issued(Reply),
    Refused(Reply),
}

/// The one OAuth client the login host knows.
pub(crate) struct Client<'c> {
    pub id: &'c str,
    pub secret: &'c str,
    pub lifetime: Duration,
}

/// `POST /oauth/token`.
pub(crate) fn token_request(
    tokens: &mut Tokens,
    client: &Client<'_>,
    authorization: Option<&str>,
    content_type: Option<&str>,
    form: &[(String, String)],
    now: Instant,
) -> TokenOutcome {
    let form_typed =
        content_type.is_some_and(|c| c.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !form_typed {
        return TokenOutcome::Refused(oauth_error(
            400,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let credentials =
        basic(authorization).or_else(|| Some((field("client_id")?.to_string(), field("client_secret")?.to_string())));
    let Some((id, secret)) = credentials else {
        return TokenOutcome::Refused(oauth_error(400, "unauthorized_client", "client credentials are missing"));
    };
    let id_ok: bool = id.as_bytes().ct_eq(client.id.as_bytes()).into();
    let secret_ok: bool = secret.as_bytes().ct_eq(client.secret.as_bytes()).into();
    if !(id_ok && secret_ok) {
        return TokenOutcome::Refused(oauth_error(400, "unauthorized_client", "client not authorized"));
    }
    match field("grant_type") {
        None => {
            return TokenOutcome::Refused(oauth_error(400, "invalid_request", "grant_type is required"));
        }
        Some("client_credentials") => {}
        Some(_) => {
            return TokenOutcome::Refused(oauth_error(
                400,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            ));
        }
    }
    let token = tokens.issue(now, client.lifetime, client.id);
    // Genesys answers 86399 for a 86400 s client (genesys-api-notes §3): the seconds left, rounded down.
    let expires_in = client.lifetime.as_secs().saturating_sub(1).max(1);
    TokenOutcome::Issued(Reply::json(
        200,
        json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in}),
    ))
}

/// `(id, secret)` of an `Authorization: Basic` header.
fn basic(header: Option<&str>) -> Option<(String, String)> {
    let h = header?.trim();
    let (scheme, rest) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64_decode(rest.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 without padding in the given alphabet (the crate has no base64 dependency).
pub(crate) fn base64_encode(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Standard base64 (padding optional); `None` when malformed.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let v = STANDARD.iter().position(|a| *a == c)?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    // Leftover bits must be padding zeros, and a single leftover character is malformed.
    (bits < 6).then_some(out)
}

/// Standard base64 with padding (for tests and the CLI).
pub fn basic_credentials(id: &str, secret: &str) -> String {
    let mut s = base64_encode(format!("{id}:{secret}").as_bytes(), STANDARD);
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    format!("Basic {s}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(secs: u64) -> Client<'static> {
        Client { id: "id", secret: "secret", lifetime: Duration::from_secs(secs) }
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "abcd", "client", "éü"] {
            let header = basic_credentials(s, "x");
            let decoded = basic(Some(&header)).expect("decodes");
            assert_eq!(decoded, (s.to_string(), "x".to_string()));
        }
        assert_eq!(base64_decode("Zm9vYmFy"), Some(b"foobar".to_vec()));
        assert_eq!(base64_decode("Zm9vYg=="), Some(b"foob".to_vec()));
        assert_eq!(base64_decode("Z"), None);
        assert_eq!(base64_decode("Zm9v!"), None);
    }

    #[test]
    fn tokens_are_issued_checked_and_expire() {
        let mut t = Tokens::default();
        let now = Instant::now();
        let ct = Some("application/x-www-form-urlencoded");
        let auth = basic_credentials("id", "secret");
        let ok =
            token_request(&mut t, &client(2), Some(&auth), ct, &form(&[("grant_type", "client_credentials")]), now);
        let TokenOutcome::Issued(reply) = ok else { panic!("expected a token") };
        let body = reply.body.expect("body");
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["expires_in"], 1);
        let token = body["access_token"].as_str().expect("token").to_string();
        let header = format!("Bearer {token}");
        assert_eq!(t.check(Some(&header), now), Ok(token.as_str()));
        assert_eq!(t.client_of(&token), Some("id"));
        assert_eq!(t.check(Some(&header), now + Duration::from_secs(2)).map_err(|e| e.code), Err("bad.credentials"));
        assert_eq!(t.check(None, now).map_err(|e| e.code), Err("authentication.required"));
        assert_eq!(t.check(Some("Bearer nope"), now).map_err(|e| e.code), Err("bad.credentials"));
    }

    #[test]
    fn bad_clients_and_grants_are_refused() {
        let mut t = Tokens::default();
        let now = Instant::now();
        let ct = Some("application/x-www-form-urlencoded");
        let grant = form(&[("grant_type", "client_credentials")]);
        type Case<'a> = (Option<String>, Option<&'a str>, Vec<(String, String)>, &'a str);
        let cases: Vec<Case> = vec![
            (Some(basic_credentials("id", "wrong")), ct, grant.clone(), "unauthorized_client"),
            (None, ct, grant.clone(), "unauthorized_client"),
            (
                Some(basic_credentials("id", "secret")),
                ct,
                form(&[("grant_type", "password")]),
                "unsupported_grant_type",
            ),
            (Some(basic_credentials("id", "secret")), Some("application/json"), grant.clone(), "invalid_request"),
        ];
        for (auth, ct, form, error) in cases {
            let out = token_request(&mut t, &client(60), auth.as_deref(), ct, &form, now);
            let TokenOutcome::Refused(r) = out else { panic!("expected a refusal for {error}") };
            assert_eq!((r.status, r.body.as_ref().map(|b| b["error"].clone())), (400, Some(json!(error))));
        }
        // Credentials in the body work too.
        let body_creds =
            form(&[("grant_type", "client_credentials"), ("client_id", "id"), ("client_secret", "secret")]);
        assert!(matches!(token_request(&mut t, &client(60), None, ct, &body_creds, now), TokenOutcome::Issued(_)));
    }
}
