//! Prometheus metrics: every family `/metrics` exports, its name, help, labels and buckets.
//!
//! [`Metrics`] owns the registry, registered once at start: the HTTP families (recorded by the
//! request middleware), the outbox gauges (set from the store when a scrape arrives), and the
//! counters the Genesys client ([`GenesysStats`]) and the outbox worker ([`OutboxStats`]) keep:
//! those are cheap clones sharing the same atomics, so the client and the worker count without
//! knowing about the registry. Encoding is `prometheus-client`'s (OpenMetrics text, or the
//! Prometheus text format 0.0.4); nothing here formats the exposition by hand.
//!
//! Labels never carry ids, userNames or other personal data: a route label is the route's
//! pattern (`/scim/v2/Users/{id}`), a method outside the standard ones is `other`, a Genesys
//! status is a status code. A leaf module, like `telemetry`: imports nothing of this crate.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Every name starts with this (`scim_bridge_http_requests_total`).
const PREFIX: &str = "scim_bridge";

/// Upper bounds (seconds) of the request-duration buckets: a SCIM read takes about a
/// millisecond, a write waits for its group commit, a large list or a busy writer takes longer.
const DURATION_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The `route` of a request no route matched (its raw path would make one series per path).
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// What the Genesys client counts. The client owns one; [`Metrics::new`] registers it.
#[derive(Clone, Debug, Default)]
pub struct GenesysStats {
    requests: Family<StatusLabels, Counter>,
    rate_limited: Counter,
    token_renewals: Counter,
    paced_waits: Counter,
    /// Totals by class for the status page (not exported: `requests` has them by status).
    summary: [Counter; 4],
}

/// Genesys calls by outcome class, for the status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenesysSummary {
    pub calls: u64,
    pub ok: u64,
    pub rate_limited: u64,
    pub server_errors: u64,
    pub network_errors: u64,
    pub token_renewals: u64,
}

impl GenesysStats {
    /// An API call was answered with this status (429s are also counted as rate limited).
    pub fn response(&self, status: u16) {
        self.requests.get_or_create(&StatusLabels { status: status.to_string() }).inc();
        if status == 429 {
            self.rate_limited.inc();
        }
        self.summary[3].inc();
        match status {
            200..=299 => self.summary[0].inc(),
            500..=599 => self.summary[1].inc(),
            _ => 0,
        };
    }

    /// An API call got no (complete) answer: connection refused or dropped, timeout.
    pub fn network_error(&self) {
        self.requests.get_or_create(&StatusLabels { status: "network_error".into() }).inc();
        self.summary[2].inc();
        self.summary[3].inc();
    }

    /// The totals the status page shows.
    pub fn summary(&self) -> GenesysSummary {
        let calls: u64 = self.summary[3].get();
        GenesysSummary {
            calls,
            ok: self.summary[0].get(),
            rate_limited: self.rate_limited.get(),
            server_errors: self.summary[1].get(),
            network_errors: self.summary[2].get(),
            token_renewals: self.token_renewals.get(),
        }
    }

    /// A new access token was issued.
    pub fn token_renewed(&self) {
        self.token_renewals.inc();
    }

    /// The client waited for the rate-limit window to reset instead of meeting a 429.
    pub fn paced_wait(&self) {
        self.paced_waits.inc();
    }
}

/// How a delivery attempt of the outbox worker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Genesys has the change.
    Delivered,
    /// Kept for a later attempt (transient failure).
    Deferred,
    /// Refused for good and parked in `outbox_dead`.
    Dead,
    /// Dry run: the requests were recorded, not sent.
    DryRun,
}

impl DeliveryOutcome {
    fn label(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::DryRun => "dry_run",
            DeliveryOutcome::Deferred => "deferred",
            DeliveryOutcome::Dead => "dead",
        }
    }
}

/// What the outbox worker reports. The worker owns one; [`Metrics::new`] registers it.
#[derive(Clone, Debug, Default)]
pub struct OutboxStats {
    deliveries: Family<OutcomeLabels, Counter>,
    /// Unix time (seconds) the worker started or last settled a change (delivered or dead).
    last_progress: Gauge<f64, AtomicU64>,
}

impl OutboxStats {
    /// The worker started: a backlog left from before counts as waiting from now.
    pub fn started(&self, now_millis: i64) {
        self.last_progress.set(now_millis as f64 / 1000.0);
    }

    /// A delivery attempt ended (and its outcome was recorded in the store).
    pub fn attempted(&self, outcome: DeliveryOutcome, now_millis: i64) {
        self.deliveries.get_or_create(&OutcomeLabels { outcome: outcome.label() }).inc();
        if outcome != DeliveryOutcome::Deferred {
            self.last_progress.set(now_millis as f64 / 1000.0);
        }
    }

    /// When the worker started or last settled a change (ms since the epoch); `None` before it ran.
    pub fn last_progress_millis(&self) -> Option<i64> {
        let seconds = self.last_progress.get();
        (seconds > 0.0).then_some((seconds * 1000.0) as i64)
    }
}

/// An exposition format `prometheus-client` encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text: what Prometheus asks for first.
    OpenMetrics,
    /// The Prometheus text format 0.0.4: for anything that does not ask for OpenMetrics.
    PrometheusText,
}

impl Format {
    /// The format an `Accept` header asks for (OpenMetrics only when named).
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.to_ascii_lowercase().contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::PrometheusText,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::PrometheusText => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        }
    }
}

/// The registry and the families recorded outside the client and the worker.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    outbox_pending: Gauge,
    outbox_oldest_age: Gauge<f64, AtomicU64>,
    outbox_dead: Gauge,
    database_up: Gauge,
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

impl Metrics {
    /// Register every family, with the client's and the worker's counters.
    pub fn new(genesys: &GenesysStats, outbox: &OutboxStats) -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        let http_requests = Family::<RequestLabels, Counter>::default();
        let http_duration: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        let (outbox_pending, outbox_dead, database_up) = (Gauge::default(), Gauge::default(), Gauge::default());
        let outbox_oldest_age = Gauge::<f64, AtomicU64>::default();
        // Counter names get their `_total` from the encoder; units are appended as `_seconds`.
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            http_requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response head, by method and route pattern",
            Unit::Seconds,
            http_duration.clone(),
        );
        registry.register(
            "outbox_pending",
            "Changes waiting for delivery to Genesys (one per resource), read at scrape time",
            outbox_pending.clone(),
        );
        registry.register_with_unit(
            "outbox_oldest_pending_age",
            "Age of the oldest change waiting for delivery (0 when none waits), read at scrape time",
            Unit::Seconds,
            outbox_oldest_age.clone(),
        );
        registry.register(
            "outbox_dead",
            "Changes Genesys refused for good, parked until an operator retries them, read at scrape time",
            outbox_dead.clone(),
        );
        registry.register(
            "database_up",
            "1 when the database answered this scrape's outbox query; 0 when not (the outbox gauges keep their last values)",
            database_up.clone(),
        );
        // Every outcome exists from the start, so `increase(...[5m])` sees its first attempt.
        for outcome in [DeliveryOutcome::Delivered, DeliveryOutcome::Deferred, DeliveryOutcome::Dead] {
            outbox.deliveries.get_or_create_owned(&OutcomeLabels { outcome: outcome.label() });
        }
        registry.register(
            "outbox_deliveries",
            "Delivery attempts of the outbox worker, by outcome (delivered, deferred, dead)",
            outbox.deliveries.clone(),
        );
        registry.register_with_unit(
            "outbox_last_progress_timestamp",
            "Unix time the outbox worker started or last settled a change (delivered or dead)",
            Unit::Seconds,
            outbox.last_progress.clone(),
        );
        registry.register(
            "genesys_requests",
            "Genesys API calls by response status code, or network_error when no answer came",
            genesys.requests.clone(),
        );
        registry.register(
            "genesys_rate_limited",
            "Genesys API calls answered with 429 Too Many Requests",
            genesys.rate_limited.clone(),
        );
        registry.register(
            "genesys_token_renewals",
            "Access tokens obtained from Genesys",
            genesys.token_renewals.clone(),
        );
        registry.register(
            "genesys_paced_waits",
            "Times the client waited for Genesys's rate-limit window to reset instead of meeting a 429",
            genesys.paced_waits.clone(),
        );
        Metrics { registry, http_requests, http_duration, outbox_pending, outbox_oldest_age, outbox_dead, database_up }
    }

    /// Count an answered request. `route` is the matched route's pattern, `None` when no
    /// route matched; never the raw path.
    pub fn observe_request(&self, method: &str, route: Option<&str>, status: u16, elapsed: Duration) {
        let method = method_label(method);
        let route = route.unwrap_or(UNMATCHED_ROUTE).to_string();
        self.http_duration.get_or_create(&RouteLabels { method, route: route.clone() }).observe(elapsed.as_secs_f64());
        self.http_requests.get_or_create(&RequestLabels { method, route, status }).inc();
    }

    /// The outbox as the store reported it for this scrape.
    pub fn set_outbox(&self, pending: i64, oldest_pending_age: Duration, dead: i64) {
        self.outbox_pending.set(pending);
        self.outbox_oldest_age.set(oldest_pending_age.as_secs_f64());
        self.outbox_dead.set(dead);
        self.database_up.set(1);
    }

    /// The store did not answer this scrape's outbox query.
    pub fn set_outbox_unreadable(&self) {
        self.database_up.set(0);
    }

    /// The whole exposition in `format`.
    pub fn encode(&self, format: Format) -> Result<String, fmt::Error> {
        let mut out = String::new();
        match format {
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &self.registry)?,
            Format::PrometheusText => prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?,
        }
        Ok(out)
    }
}

/// The standard methods by name; anything else is `other` (a client may send any token).
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> (Metrics, GenesysStats, OutboxStats) {
        let (g, o) = (GenesysStats::default(), OutboxStats::default());
        (Metrics::new(&g, &o), g, o)
    }

    #[test]
    fn names_carry_the_prefix_and_units() {
        let (m, g, o) = metrics();
        m.observe_request("POST", Some("/scim/v2/Users"), 201, Duration::from_millis(3));
        m.set_outbox(2, Duration::from_secs(90), 1);
        g.response(200);
        g.response(429);
        g.network_error();
        g.token_renewed();
        o.attempted(DeliveryOutcome::Delivered, 1_700_000_000_000);
        let text = m.encode(Format::PrometheusText).unwrap();
        for line in [
            "scim_bridge_http_requests_total{method=\"POST\",route=\"/scim/v2/Users\",status=\"201\"} 1",
            "scim_bridge_http_request_duration_seconds_count{method=\"POST\",route=\"/scim/v2/Users\"} 1",
            "scim_bridge_outbox_pending 2",
            "scim_bridge_outbox_oldest_pending_age_seconds 90.0",
            "scim_bridge_outbox_dead 1",
            "scim_bridge_database_up 1",
            "scim_bridge_genesys_requests_total{status=\"200\"} 1",
            "scim_bridge_genesys_requests_total{status=\"429\"} 1",
            "scim_bridge_genesys_requests_total{status=\"network_error\"} 1",
            "scim_bridge_genesys_rate_limited_total 1",
            "scim_bridge_genesys_token_renewals_total 1",
            "scim_bridge_outbox_deliveries_total{outcome=\"delivered\"} 1",
            "scim_bridge_outbox_deliveries_total{outcome=\"dead\"} 0",
            "scim_bridge_outbox_last_progress_timestamp_seconds 1700000000.0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        let open = m.encode(Format::OpenMetrics).unwrap();
        assert!(open.ends_with("# EOF\n"), "{open}");
    }

    #[test]
    fn odd_methods_and_unmatched_routes_do_not_make_new_series() {
        let (m, _, _) = metrics();
        m.observe_request("BREW", None, 404, Duration::ZERO);
        let text = m.encode(Format::PrometheusText).unwrap();
        assert!(text.contains("method=\"other\",route=\"unmatched\",status=\"404\""), "{text}");
        assert!(!text.contains("BREW"));
    }

    #[test]
    fn progress_moves_on_settled_changes_only() {
        let o = OutboxStats::default();
        assert_eq!(o.last_progress_millis(), None);
        o.started(1_000_000);
        o.attempted(DeliveryOutcome::Deferred, 2_000_000);
        assert_eq!(o.last_progress_millis(), Some(1_000_000));
        o.attempted(DeliveryOutcome::Dead, 3_000_000);
        assert_eq!(o.last_progress_millis(), Some(3_000_000));
    }

    #[test]
    fn openmetrics_is_chosen_only_when_asked_for() {
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;q=0.4")),
            Format::OpenMetrics
        );
        assert_eq!(Format::negotiate(Some("*/*")), Format::PrometheusText);
        assert_eq!(Format::negotiate(None), Format::PrometheusText);
    }
}
