//! Static bearer tokens: created by `scim-bridge token create`, stored as SHA-256 hashes.
//!
//! Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force, and a
//! slow password hash would cost every request. The plaintext exists only on the creator's stdout.

use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::schema::tokens;
use super::{Store, StoreError, now_millis};

/// A token as `token list` shows it: never the secret.
#[derive(Debug, Clone, Queryable)]
pub struct TokenInfo {
    pub name: String,
    pub hash: String,
    pub created: i64,
}

/// Hex SHA-256 of a presented token.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random token: `scb_` and 43 characters of URL-safe base64-like alphabet.
fn generate_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 43];
    rand::rng().fill_bytes(&mut bytes);
    // 43 symbols of a 62-letter alphabet carry ~256 bits; the modulo bias (256 % 62) is
    // negligible at this length.
    let body: String = bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    format!("scb_{body}")
}

impl Store {
    /// Create a token called `name` and return its plaintext (the only time it exists).
    pub fn create_token(&self, name: &str) -> Result<String, StoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::TokenNameEmpty);
        }
        let token = generate_token();
        let (name, hash) = (name.to_string(), hex(&hash_token(&token)));
        self.write(move |conn| {
            let inserted = diesel::insert_into(tokens::table)
                .values((tokens::name.eq(&name), tokens::hash.eq(&hash), tokens::created.eq(now_millis())))
                .execute(conn);
            match inserted {
                Ok(_) => Ok(()),
                Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                    Err(StoreError::TokenExists { name: name.clone() })
                }
                Err(e) => Err(e.into()),
            }
        })?;
        Ok(token)
    }

    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let mut conn = self.reader()?;
        Ok(tokens::table
            .select((tokens::name, tokens::hash, tokens::created))
            .order(tokens::created)
            .load(&mut conn)?)
    }

    /// Revoke the token called `name`; false when there was none.
    pub fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.write(move |conn| Ok(diesel::delete(tokens::table.filter(tokens::name.eq(&name))).execute(conn)? > 0))
    }

    /// The stored hashes (decoded), for the authenticator's cache.
    pub fn token_hashes(&self) -> Result<Vec<(String, [u8; 32])>, StoreError> {
        let rows = self.list_tokens()?;
        Ok(rows
            .into_iter()
            .filter_map(|t| {
                let mut out = [0u8; 32];
                for (i, chunk) in t.hash.as_bytes().chunks(2).enumerate() {
                    let s = std::str::from_utf8(chunk).ok()?;
                    *out.get_mut(i)? = u8::from_str_radix(s, 16).ok()?;
                }
                Some((t.name, out))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_hashed_and_revocable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&crate::store::test_database(dir.path(), "t.db").unwrap()).unwrap();
        let token = store.create_token("okta").unwrap();
        assert!(token.starts_with("scb_") && token.len() == 47);
        let listed = store.list_tokens().unwrap();
        assert_eq!(listed.len(), 1);
        assert_ne!(listed[0].hash, token, "the plaintext is never stored");
        assert_eq!(store.token_hashes().unwrap()[0].1, hash_token(&token));
        assert!(matches!(store.create_token("okta"), Err(StoreError::TokenExists { name }) if name == "okta"));
        assert!(matches!(store.create_token("  "), Err(StoreError::TokenNameEmpty)));
        assert!(store.revoke_token("okta").unwrap());
        assert!(!store.revoke_token("okta").unwrap());
    }
}
