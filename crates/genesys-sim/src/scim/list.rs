//! What SCIM lists share (genesys-api-notes §1.8): `startIndex`/`count` paging, the
//! `attributes`/`excludedAttributes` projection (also on single reads), the ListResponse body,
//! and the large-page 429.
//!
//! Fidelity decisions (the section of docs/genesys-api-notes.md in brackets):
//! * `count` defaults to 25 (§1.8); `count` over 25 without `attributes`/`excludedAttributes`
//!   is answered 429 unless the fault setting `large_page_429` is off.
//!
//! Must not import: actix, or anything of the bridge.

use serde_json::{Value, json};

use crate::wire::ApiError;
use crate::{Ctx, Inner};

pub(super) const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A ListResponse of `resources` (one page), of `total` matches, from `start`.
pub(super) fn list_body(total: usize, start: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_URN],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// `startIndex` (1-based, default 1) and `count` (default 25).
pub(super) fn paging(ctx: &Ctx) -> Result<(usize, usize), ApiError> {
    let num = |name: &str, default: usize| -> Result<usize, ApiError> {
        match ctx.query_one(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(|n| n.max(0) as usize)
                .map_err(|_| ApiError::invalid_value(v, name, "an integer")),
        }
    };
    Ok((num("startIndex", 1)?.max(1), num("count", 25)?))
}

/// genesys-api-notes §1.8: "A page size over 25 may exceed internal resource limits and return a 429
/// error", unless `attributes`/`excludedAttributes` trim the secondary lookups.
pub(super) fn large_page_check(inner: &Inner, ctx: &Ctx, count: usize) -> Result<(), ApiError> {
    let trimmed = !ctx.query_list("attributes").is_empty() || !ctx.query_list("excludedAttributes").is_empty();
    if inner.faults.large_page_429 && count > 25 && !trimmed {
        let mut e = ApiError::too_many_requests(inner.faults.retry_after.unwrap_or(1));
        e.message = format!(
            "Rate limit exceeded the maximum. Retry the request in [{}] seconds. A page size over 25 may exceed \
             internal resource limits; use attributes or excludedAttributes, or count <= 25",
            e.retry_after.unwrap_or(1)
        );
        return Err(e);
    }
    Ok(())
}

/// `attributes` / `excludedAttributes` (repeated or comma-separated), on top-level attributes
/// and `urn:...:attr` extension attributes. `always` are returned whatever is asked.
pub(super) fn project(doc: Value, ctx: &Ctx, always: &[&str]) -> Value {
    let attributes = ctx.query_list("attributes");
    let excluded = ctx.query_list("excludedAttributes");
    let Value::Object(mut m) = doc else { return doc };
    let is_always = |k: &str| k == "schemas" || always.iter().any(|a| a.eq_ignore_ascii_case(k));
    if !attributes.is_empty() {
        let keys: Vec<String> = m.keys().cloned().collect();
        for k in keys {
            if is_always(&k) {
                continue;
            }
            let whole = attributes.iter().any(|a| a.eq_ignore_ascii_case(&k) || starts_with_ci(a, &format!("{k}.")));
            if whole {
                continue;
            }
            let subs: Vec<String> = attributes
                .iter()
                .filter(|a| starts_with_ci(a, &format!("{k}:")))
                .map(|a| a[k.len() + 1..].split('.').next().unwrap_or_default().to_string())
                .collect();
            match m.get_mut(&k) {
                Some(Value::Object(ext)) if !subs.is_empty() => {
                    ext.retain(|s, _| subs.iter().any(|x| x.eq_ignore_ascii_case(s)))
                }
                _ => {
                    m.remove(&k);
                }
            }
        }
    } else if !excluded.is_empty() {
        let keys: Vec<String> = m.keys().cloned().collect();
        for k in keys {
            if is_always(&k) {
                continue;
            }
            if excluded.iter().any(|e| e.eq_ignore_ascii_case(&k)) {
                m.remove(&k);
                continue;
            }
            let subs: Vec<String> = excluded
                .iter()
                .filter(|e| starts_with_ci(e, &format!("{k}:")))
                .map(|e| e[k.len() + 1..].to_string())
                .collect();
            if let Some(Value::Object(ext)) = m.get_mut(&k) {
                ext.retain(|s, _| !subs.iter().any(|x| x.eq_ignore_ascii_case(s)));
            }
        }
    }
    Value::Object(m)
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}
