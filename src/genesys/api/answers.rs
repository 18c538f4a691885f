//! What an answer of Genesys's API means for the change that caused it (genesys-api-notes §4
//! for rate limits and retries, §1.9 and §2.1 for conflicts, §3 for OAuth): the one table the
//! client and the outbox worker act on.

/// The meaning of an HTTP status from the Genesys API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerClass {
    /// 2xx, or 304: done.
    Success,
    /// 401: the access token expired or was revoked; renew it and send again.
    Unauthorized,
    /// 409: a duplicate (the userName is in use) or a version mismatch; the caller resolves it
    /// (adopt the existing user, or read the version again).
    Conflict,
    /// 429, 408 and 5xx gateway or server errors: wait (`Retry-After` when given) and send again.
    /// Genesys's SDKs retry exactly these (genesys-api-notes §4).
    Retry,
    /// Any other 4xx (and other 5xx): Genesys will refuse the same request again; the change is
    /// parked with Genesys's message until an operator acts.
    Refused,
}

/// How a status is handled.
pub fn classify(status: u16) -> AnswerClass {
    match status {
        200..=299 | 304 => AnswerClass::Success,
        401 => AnswerClass::Unauthorized,
        409 => AnswerClass::Conflict,
        408 | 429 | 500 | 502 | 503 | 504 => AnswerClass::Retry,
        _ => AnswerClass::Refused,
    }
}

/// Whether a refused write met a version conflict: the resource changed in Genesys since it was
/// read. Besides 409, Genesys answers a stale Platform `version` with 400 and a message saying
/// the version "does not match the current version", and Genesys's Terraform provider retries
/// those as it retries 409 and 408 (genesys-api-notes §1.9, §2.1, §15).
pub fn is_version_mismatch(status: u16, message: &str) -> bool {
    match status {
        409 | 408 => true,
        400 => message.to_ascii_lowercase().contains("does not match the current version"),
        _ => false,
    }
}

/// Whether a token-endpoint status means the client's credentials were refused (configuration,
/// not a passing fault): 400 `invalid_client`/`invalid_grant` and, as reported, 401 or 403.
pub fn token_refused(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

/// The longest `Retry-After` worth waiting for in place: the SDKs give up beyond 180 s
/// (genesys-api-notes §4); the outbox keeps the change and comes back later instead.
pub const MAX_RETRY_AFTER_SECS: u64 = 180;

/// Response headers that describe the rate-limit window (genesys-api-notes §4).
pub const RATE_LIMIT_ALLOWED: &str = "inin-ratelimit-allowed";
pub const RATE_LIMIT_COUNT: &str = "inin-ratelimit-count";
pub const RATE_LIMIT_RESET: &str = "inin-ratelimit-reset";
/// The id Genesys gives each request, for support cases (genesys-api-notes §4).
pub const CORRELATION_ID: &str = "inin-correlation-id";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_sdks_do() {
        let table = [
            (200, AnswerClass::Success),
            (201, AnswerClass::Success),
            (204, AnswerClass::Success),
            (304, AnswerClass::Success),
            (400, AnswerClass::Refused),
            (401, AnswerClass::Unauthorized),
            (403, AnswerClass::Refused),
            (404, AnswerClass::Refused),
            (408, AnswerClass::Retry),
            (409, AnswerClass::Conflict),
            (429, AnswerClass::Retry),
            (500, AnswerClass::Retry),
            (501, AnswerClass::Refused),
            (502, AnswerClass::Retry),
            (503, AnswerClass::Retry),
            (504, AnswerClass::Retry),
        ];
        for (status, class) in table {
            assert_eq!(classify(status), class, "{status}");
        }
        assert!(token_refused(400) && token_refused(401) && !token_refused(429) && !token_refused(503));
        let stale = "The version supplied does not match the current version of the user";
        assert!(is_version_mismatch(400, stale) && is_version_mismatch(409, "") && is_version_mismatch(408, ""));
        assert!(!is_version_mismatch(400, "name is required") && !is_version_mismatch(404, stale));
    }
}
