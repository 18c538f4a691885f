//! Cursors for RFC 9865 paging: an opaque, URL-safe text holding a keyset position.
//!
//! A cursor says where the previous page ended: the resource type of its last row (a root
//! `/.search` spans Users then Groups), that row's sort key (the `sortBy` value as the store
//! orders it, or null) and its `seq` (the store's row number, unique and never reused). The next
//! page is every row after that position in the query's order, so rows created or deleted
//! between two pages neither repeat nor hide the rows that stayed. Nothing is kept on the server,
//! so a cursor never expires (RFC 9865 §4: no `cursorTimeout`).
//!
//! A cursor also carries a fingerprint of the query it belongs to (endpoint, `filter`, `sortBy`,
//! `sortOrder`) and the page size: RFC 9865 §2 has the client repeat every parameter but
//! `cursor`, and a cursor sent with another query is refused (`invalidCursor`), with another
//! `count` too (`invalidCount`, §2.1). A checksum catches edited or truncated cursors. It is
//! not a signature: a forged position reads nothing the caller could not page to anyway.
//!
//! Layout: base64url (no padding) of the JSON array
//! `[1, "<fingerprint>", count, "User"|"Group", key, seq]` followed by 8 checksum bytes.
//! Every character is in RFC 3986's unreserved set, as RFC 9865 §2 requires.
//!
//! Must not import: actix, diesel, reqwest, tokio, or any module outside `scim`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::SortOrder;
use crate::error::ScimError;
use crate::schema::ResourceKind;

/// The layout version, first in every cursor.
const VERSION: u64 = 1;
/// Bytes of checksum after the JSON text.
const CHECK_LEN: usize = 8;
/// Longer texts are refused before decoding: a real cursor is a few hundred characters.
const MAX_LEN: usize = 4096;

/// Where a page ended: the last row's resource type, sort key and `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub kind: ResourceKind,
    /// The row's sort key as the store compares it; `Value::Null` without `sortBy` or when the
    /// row has no value.
    pub key: Value,
    pub seq: i64,
}

/// A decoded cursor: the query it belongs to, the page size, and where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub query: String,
    pub count: u64,
    pub after: Position,
}

/// The fingerprint of a query: what decides which rows come in which order. `scope` names the
/// endpoint (`/Users`, `/Groups`, `/` for the root `.search`). `attributes` is left out (it
/// changes what a row shows, not which rows come).
pub fn fingerprint(scope: &str, filter: Option<&str>, sort_by: Option<&str>, order: SortOrder) -> String {
    let mut h = Sha256::new();
    for part in [
        scope,
        filter.unwrap_or(""),
        &sort_by.unwrap_or("").to_ascii_lowercase(),
        match order {
            SortOrder::Ascending => "a",
            SortOrder::Descending => "d",
        },
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    URL_SAFE_NO_PAD.encode(&h.finalize()[..12])
}

fn checksum(bytes: &[u8]) -> [u8; CHECK_LEN] {
    let mut h = Sha256::new();
    h.update(b"scim-bridge cursor");
    h.update(bytes);
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(&h.finalize()[..CHECK_LEN]);
    out
}

impl Cursor {
    /// The cursor as the client sees it.
    pub fn encode(&self) -> String {
        let body = json!([VERSION, self.query, self.count, self.after.kind.as_str(), self.after.key, self.after.seq]);
        let mut bytes = body.to_string().into_bytes();
        let check = checksum(&bytes);
        bytes.extend_from_slice(&check);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Read a cursor a client sent back. Anything that is not a cursor this server made is 400
    /// `invalidCursor`, never a panic.
    pub fn decode(text: &str) -> Result<Cursor, ScimError> {
        let invalid = |why: &str| {
            ScimError::invalid_cursor(format!(
                "the cursor is not one this server issued ({why}); send an empty cursor for the first page, \
                 then each response's nextCursor as it is"
            ))
        };
        if text.len() > MAX_LEN {
            return Err(invalid("too long"));
        }
        if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(invalid("it has characters a cursor never holds"));
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid("it does not decode"))?;
        if bytes.len() <= CHECK_LEN {
            return Err(invalid("too short"));
        }
        let (body, check) = bytes.split_at(bytes.len() - CHECK_LEN);
        if checksum(body) != check {
            return Err(invalid("its checksum does not match: it was changed or cut short"));
        }
        let parts: Vec<Value> = serde_json::from_slice(body).map_err(|_| invalid("its content does not parse"))?;
        let [version, query, count, kind, key, seq] = parts.as_slice() else {
            return Err(invalid("its content has the wrong shape"));
        };
        if version.as_u64() != Some(VERSION) {
            return Err(invalid("it is of another layout version"));
        }
        let kind = match kind.as_str() {
            Some("User") => ResourceKind::User,
            Some("Group") => ResourceKind::Group,
            _ => return Err(invalid("its resource type is unknown")),
        };
        if matches!(key, Value::Array(_) | Value::Object(_)) {
            return Err(invalid("its sort key is not a single value"));
        }
        match (query.as_str(), count.as_u64(), seq.as_i64()) {
            (Some(query), Some(count), Some(seq)) => {
                Ok(Cursor { query: query.to_string(), count, after: Position { kind, key: key.clone(), seq } })
            }
            _ => Err(invalid("its content has the wrong types")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScimType;

    fn sample(key: Value) -> Cursor {
        Cursor {
            query: fingerprint("/Users", Some("userName sw \"a\""), Some("userName"), SortOrder::Descending),
            count: 10,
            after: Position { kind: ResourceKind::Group, key, seq: 4711 },
        }
    }

    #[test]
    fn cursors_round_trip_and_are_url_safe() {
        for key in [Value::Null, json!("bjensen@example.com"), json!(1_700_000_000_123i64), json!(true), json!(2.5)] {
            let c = sample(key);
            let text = c.encode();
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{text}");
            assert_eq!(Cursor::decode(&text).unwrap(), c);
        }
    }

    #[test]
    fn fingerprints_tell_queries_apart() {
        let f = |scope, filter, sort_by, order| fingerprint(scope, filter, sort_by, order);
        let base = f("/Users", Some("a"), Some("userName"), SortOrder::Ascending);
        assert_eq!(base, f("/Users", Some("a"), Some("USERNAME"), SortOrder::Ascending), "attribute names ignore case");
        for other in [
            f("/Groups", Some("a"), Some("userName"), SortOrder::Ascending),
            f("/Users", Some("b"), Some("userName"), SortOrder::Ascending),
            f("/Users", None, Some("userName"), SortOrder::Ascending),
            f("/Users", Some("a"), None, SortOrder::Ascending),
            f("/Users", Some("a"), Some("userName"), SortOrder::Descending),
            // The parts are length-prefixed: moving text from one to the next changes the hash.
            f("/Users", Some("auserName"), Some(""), SortOrder::Ascending),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn damaged_cursors_are_invalid_cursor_errors() {
        let good = sample(json!("x")).encode();
        let mut flipped = good.clone().into_bytes();
        flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        // A well-formed cursor whose content is not ours (right checksum, wrong shape).
        let foreign = {
            let body = b"[1,\"q\",10]".to_vec();
            let mut bytes = body.clone();
            bytes.extend_from_slice(&checksum(&body));
            URL_SAFE_NO_PAD.encode(bytes)
        };
        let cases: Vec<(String, &str)> = vec![
            (flipped, "checksum"),
            (good[..good.len() - 3].to_string(), "checksum"),
            (format!("{good}A"), ""),
            ("not a cursor".into(), "characters"),
            ("abc=".into(), "characters"),
            ("QQ".into(), "too short"),
            ("x".repeat(5000), "too long"),
            (foreign, "shape"),
            ("".into(), "too short"),
        ];
        for (text, why) in cases {
            let e = Cursor::decode(&text).unwrap_err();
            assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidCursor)), "{text}");
            assert!(e.detail.contains(why), "{text}: {}", e.detail);
        }
    }
}
