//! Two request budgets, kept in this process's memory (each replica keeps its own):
//!
//! * [`FailureThrottle`]: failed authentications per client address. Past the limit in one
//!   minute the address is answered 429 with `Retry-After` until the minute ends, without its
//!   token being looked at: guessing tokens costs the guesser a minute per few dozen tries, and
//!   the server at most that many token-table reads. Only failures count; a client whose token
//!   is good is never slowed.
//! * [`RateLimit`]: requests per credential (stored token, bootstrap token, or JWT subject and
//!   issuer), a token bucket refilled at the configured rate and holding one second's worth;
//!   off unless configured.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The budgets of one server, as configured.
pub struct Limits {
    pub failures: FailureThrottle,
    pub rate: Option<RateLimit>,
}

impl Limits {
    pub fn of(config: &crate::config::Config) -> Limits {
        Limits {
            failures: FailureThrottle::new(config.auth_failure_limit),
            rate: (config.token_rate_limit > 0).then(|| RateLimit::new(config.token_rate_limit)),
        }
    }
}

/// The budget key of a credential: a stored token by name, the bootstrap token, a JWT by
/// issuer and subject.
pub fn budget_key(actor: &crate::store::Actor) -> String {
    match actor {
        crate::store::Actor::Token(name) => format!("token:{name}"),
        crate::store::Actor::Bootstrap => "bootstrap".into(),
        crate::store::Actor::Jwt { subject, issuer } => format!("jwt:{issuer}:{}", subject.as_deref().unwrap_or("")),
    }
}

/// Addresses (or credentials) tracked at most; beyond this, finished windows are dropped first
/// and then the map is cleared (an attacker cycling addresses then only resets counts).
const MAX_TRACKED: usize = 100_000;

/// The failure window.
const WINDOW: Duration = Duration::from_secs(60);

/// Failed authentications per client address and minute.
pub struct FailureThrottle {
    limit: u32,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl FailureThrottle {
    /// `limit` failures a minute per address; 0 turns the throttle off.
    pub fn new(limit: u32) -> Self {
        FailureThrottle { limit, seen: Mutex::new(HashMap::new()) }
    }

    /// How long `addr` must wait, when it has used up its failures this minute.
    pub fn blocked(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let (start, failures) = *seen.get(&addr)?;
        let ends = start + WINDOW;
        (failures >= self.limit && now < ends).then(|| ends - now)
    }

    /// Count a failed authentication from `addr`.
    pub fn failed(&self, addr: IpAddr, now: Instant) {
        if self.limit == 0 {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_TRACKED && !seen.contains_key(&addr) {
            seen.retain(|_, (start, _)| now < *start + WINDOW);
            if seen.len() >= MAX_TRACKED {
                seen.clear();
            }
        }
        let entry = seen.entry(addr).or_insert((now, 0));
        if now >= entry.0 + WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// Requests per second per credential.
pub struct RateLimit {
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimit {
    /// `per_second` requests a second per credential (a second's worth may come at once).
    pub fn new(per_second: u32) -> Self {
        RateLimit { per_second: f64::from(per_second), buckets: Mutex::new(HashMap::new()) }
    }

    /// Take one request from `key`'s budget, or say how long until one is available.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let capacity = self.per_second.max(1.0);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(key) {
            buckets.clear();
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((capacity, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.per_second).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

/// A wait as `Retry-After` seconds (at least 1).
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_limit_block_the_address_until_the_minute_ends() {
        let t = FailureThrottle::new(3);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let start = Instant::now();
        for i in 0..3 {
            assert_eq!(t.blocked(a, start), None, "after {i} failures");
            t.failed(a, start + Duration::from_secs(i));
        }
        let wait = t.blocked(a, start + Duration::from_secs(10)).expect("blocked after 3 failures");
        assert_eq!(wait, Duration::from_secs(50));
        assert_eq!(t.blocked(b, start + Duration::from_secs(10)), None, "another address is not");
        assert_eq!(t.blocked(a, start + WINDOW), None, "the next minute starts afresh");
        t.failed(a, start + WINDOW);
        assert_eq!(t.blocked(a, start + WINDOW), None, "one failure in the new minute");
        assert_eq!(FailureThrottle::new(0).blocked(a, start), None);
    }

    #[test]
    fn the_rate_limit_allows_a_second_of_burst_then_the_rate() {
        let r = RateLimit::new(10);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(r.take("token:okta", t0).is_ok());
        }
        let wait = r.take("token:okta", t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        assert!(r.take("token:entra", t0).is_ok(), "each credential has its own budget");
        assert!(r.take("token:okta", t0 + Duration::from_millis(100)).is_ok());
        assert!(r.take("token:okta", t0 + Duration::from_millis(100)).is_err());
        // An idle credential gets back at most one second's worth.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| r.take("token:okta", later).is_ok()).count(), 10);
        assert_eq!(retry_after_secs(Duration::from_millis(100)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(50)), 50);
        assert_eq!(retry_after_secs(Duration::from_millis(50_100)), 51);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
