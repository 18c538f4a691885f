//! Operator routes: `/healthz` (the process serves), `/readyz` (it can do its work: database,
//! Genesys token, outbox moving) and `/metrics` (Prometheus exposition). See
//! `docs/operations.md`.
//!
//! No bearer token (`/metrics` asks for one when `metrics.token` is set): probes and Prometheus
//! often send none. So the answers carry only counts, ages,
//! route patterns and fixed wording: never resource ids, userNames, tokens or secrets, and a
//! database error's cause goes to the log, not the body. Handlers are thin: the store is read on
//! a blocking thread, the token check is `genesys::client`'s, the families are `crate::metrics`.

use std::time::Duration;

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::AppState;
use crate::genesys::role_status::RoleStatus;
use crate::metrics::Format;
use crate::store::{OutboxDepth, now_millis};

/// The outbox is stuck when its oldest pending change has waited longer than this **and** the
/// worker has settled (delivered or parked as dead) no change for as long. Either alone is
/// normal: during a large first sync old changes wait while deliveries flow at Genesys's rate
/// limit, and an idle outbox settles nothing. Fifteen minutes is several times the longest wait
/// the bridge imposes on itself (a `Retry-After` of up to 180 s, a backoff of up to 5 minutes), so
/// a stuck outbox means Genesys has been unreachable or refusing for that long.
pub const OUTBOX_STUCK_AFTER: Duration = Duration::from_secs(15 * 60);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}

/// Alive: answers while the process serves; checks nothing else.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().insert_header(no_store()).json(serde_json::json!({"status": "ok"}))
}

#[derive(Debug, Serialize)]
struct Check {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl Check {
    fn passed() -> Check {
        Check { ok: true, detail: None }
    }

    fn failed(detail: impl Into<String>) -> Check {
        Check { ok: false, detail: Some(detail.into()) }
    }
}

/// The outbox check, with the numbers it looked at (`None` when the database did not answer).
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(super) struct OutboxCheck {
    pub ok: bool,
    pending: Option<i64>,
    oldest_pending_age_seconds: Option<i64>,
    dead: Option<i64>,
    /// Pending changes held back until later (a `Retry-After`, a backoff): not a failure.
    waiting: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Serialize)]
struct Checks {
    database: Check,
    genesys: Check,
    outbox: OutboxCheck,
    /// The roles of `genesys.roles` (only when some are configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<Check>,
}

#[derive(Debug, Serialize)]
struct Readiness {
    status: &'static str,
    checks: Checks,
}

const DATABASE_DOWN: &str = "the database did not answer a query; the bridge's log has the cause";

/// Ready: the database answers, a Genesys token is at hand, the outbox is not stuck, and Genesys
/// has every role of `genesys.roles` (as far as it was asked). 200 or 503, each check with its
/// own verdict. A dead change does not make the bridge unready (it waits for an operator, and
/// other changes flow); `/metrics` and alerts report it. A missing role does, as a configuration
/// error: a rollout with a mistyped role name stops there.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let read = web::block(move || store.ping().and_then(|()| store.outbox_depth()));
    let dry_run = state.config.dry_run;
    let token = async {
        // A dry run sends nothing to Genesys: its token is not needed to do the work.
        if dry_run { Ok(()) } else { state.genesys.check_token().await }
    };
    let (read, token) = tokio::join!(read, token);
    let (database, outbox) = match read {
        Ok(Ok(depth)) => (Check::passed(), outbox_check(&depth, state.outbox.last_progress_millis(), now_millis())),
        Ok(Err(e)) => {
            tracing::warn!(error.cause = %e, "readiness: the database did not answer");
            (Check::failed(DATABASE_DOWN), outbox_unknown())
        }
        Err(_) => {
            tracing::warn!("readiness: the database task failed");
            (Check::failed(DATABASE_DOWN), outbox_unknown())
        }
    };
    let genesys = match token {
        Ok(()) if dry_run => Check { ok: true, detail: Some("dry run: nothing is sent to Genesys".into()) },
        Ok(()) => Check::passed(),
        Err(why) => Check::failed(why),
    };
    let roles = roles_check(&state.roles);
    let ready = database.ok && genesys.ok && outbox.ok && roles.as_ref().is_none_or(|r| r.ok);
    let checks = Checks { database, genesys, outbox, roles };
    if ready {
        HttpResponse::Ok().insert_header(no_store()).json(Readiness { status: "ready", checks })
    } else {
        let failing: Vec<&str> = [
            ("database", checks.database.ok),
            ("genesys", checks.genesys.ok),
            ("outbox", checks.outbox.ok),
            ("roles", checks.roles.as_ref().is_none_or(|r| r.ok)),
        ]
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| name)
        .collect();
        tracing::warn!(readyz.failing = %failing.join(","), "not ready");
        HttpResponse::ServiceUnavailable().insert_header(no_store()).json(Readiness { status: "not_ready", checks })
    }
}

/// The roles check: `None` when no role is configured; failed when Genesys lacks one.
fn roles_check(roles: &RoleStatus) -> Option<Check> {
    if roles.specs().is_empty() {
        return None;
    }
    let problems = roles.problems();
    Some(if problems.is_empty() { Check::passed() } else { Check::failed(problems.join("; ")) })
}

fn outbox_unknown() -> OutboxCheck {
    OutboxCheck {
        ok: false,
        pending: None,
        oldest_pending_age_seconds: None,
        dead: None,
        waiting: None,
        detail: Some("the outbox could not be read: the database did not answer".into()),
    }
}

/// Judge the outbox (see [`OUTBOX_STUCK_AFTER`]). `last_progress` is when the worker started or
/// last settled a change; times are milliseconds since the epoch.
pub(super) fn outbox_check(depth: &OutboxDepth, last_progress: Option<i64>, now: i64) -> OutboxCheck {
    let limit = i64::try_from(OUTBOX_STUCK_AFTER.as_millis()).unwrap_or(i64::MAX);
    let waited = depth.oldest_pending.map_or(0, |created| (now - created).max(0));
    let idle = last_progress.map_or(i64::MAX, |t| (now - t).max(0));
    let stuck = waited > limit && idle > limit;
    let detail = stuck.then(|| {
        let idle = match last_progress {
            Some(_) => format!("has settled no change for {} s", idle / 1000),
            None => "has not run".to_string(),
        };
        format!(
            "the oldest of {} pending change(s) has waited {} s and the outbox worker {idle} (limit {} s each): \
             Genesys is unreachable or refusing; see the log and 'scim-bridge outbox list'",
            depth.pending,
            waited / 1000,
            OUTBOX_STUCK_AFTER.as_secs()
        )
    });
    // Held-back changes are said, not failed: Genesys asked for the wait (a long `Retry-After`)
    // or a backoff runs; the worker comes back to them by itself.
    let detail = detail.or_else(|| {
        (depth.waiting > 0).then(|| {
            format!(
                "{} change(s) held back: Genesys asked the bridge to wait (Retry-After) or a retry backs off; \
                 each is tried again within {} s, and at once when a later delivery succeeds",
                depth.waiting,
                crate::genesys::outbox::HOLD_LIMIT.as_secs()
            )
        })
    });
    OutboxCheck {
        ok: !stuck,
        pending: Some(depth.pending),
        oldest_pending_age_seconds: Some(waited / 1000),
        dead: Some(depth.dead),
        waiting: Some(depth.waiting),
        detail,
    }
}

/// The Prometheus exposition. The outbox gauges are read from the store now, on a blocking
/// thread; the rest are live counters.
async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Some(token) = &state.config.metrics_token {
        let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if !super::auth::bearer_is(header, token.expose()) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
                .insert_header(no_store())
                .content_type("text/plain")
                .body("/metrics needs 'Authorization: Bearer <token>' with the token set as metrics.token (SCIM_BRIDGE_METRICS_TOKEN)\n");
        }
    }
    let store = state.store.clone();
    match web::block(move || store.outbox_depth()).await {
        Ok(Ok(depth)) => {
            let waited = depth.oldest_pending.map_or(0, |created| now_millis() - created);
            let waited = Duration::from_millis(u64::try_from(waited).unwrap_or(0));
            state.metrics.set_outbox(depth.pending, waited, depth.dead);
        }
        Ok(Err(e)) => {
            tracing::warn!(error.cause = %e, "metrics: cannot read the outbox depth");
            state.metrics.set_outbox_unreadable();
        }
        Err(_) => {
            tracing::warn!("metrics: the outbox depth task failed");
            state.metrics.set_outbox_unreadable();
        }
    }
    let format = Format::negotiate(req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    match state.metrics.encode(format) {
        Ok(body) => HttpResponse::Ok().insert_header(no_store()).content_type(format.content_type()).body(body),
        Err(e) => {
            tracing::error!(error.cause = %e, "metrics: encoding failed");
            HttpResponse::InternalServerError().content_type("text/plain").body("the metrics could not be encoded\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const NOW: i64 = 1_700_000_000_000;

    fn check(pending: i64, oldest_min_ago: Option<i64>, progress_min_ago: Option<i64>) -> OutboxCheck {
        let depth = OutboxDepth { pending, oldest_pending: oldest_min_ago.map(|m| NOW - m * MIN), dead: 2, waiting: 0 };
        outbox_check(&depth, progress_min_ago.map(|m| NOW - m * MIN), NOW)
    }

    #[test]
    fn the_outbox_is_stuck_only_when_old_changes_wait_and_nothing_moves() {
        // (pending, oldest waited, last progress) -> ok
        let table = [
            ((0, None, Some(60)), true),       // idle: nothing waits
            ((5, Some(1), Some(60)), true),    // fresh changes after a quiet hour
            ((900, Some(120), Some(0)), true), // a long first sync, still delivering
            ((5, Some(16), Some(16)), false),  // nothing settled while changes waited
            ((5, Some(16), None), false),      // the worker never ran
            ((5, Some(16), Some(14)), true),   // a delivery 14 minutes ago
            ((5, Some(14), Some(16)), true),   // the oldest is younger than the limit
        ];
        for ((pending, oldest, progress), ok) in table {
            let got = check(pending, oldest, progress);
            assert_eq!(got.ok, ok, "{pending} pending, oldest {oldest:?} min, progress {progress:?} min: {got:?}");
            assert_eq!(got.detail.is_some(), !ok, "{got:?}");
            assert_eq!(got.oldest_pending_age_seconds, Some(oldest.unwrap_or(0) * 60));
            assert_eq!((got.pending, got.dead), (Some(pending), Some(2)));
        }
        let detail = check(5, Some(20), Some(16)).detail.unwrap();
        assert!(detail.contains("1200 s") && detail.contains("960 s") && detail.contains("900 s"), "{detail}");
        // Changes held back by a Retry-After are said, and the bridge stays ready.
        let depth = OutboxDepth { pending: 3, oldest_pending: Some(NOW - MIN), dead: 0, waiting: 2 };
        let held = outbox_check(&depth, Some(NOW - MIN), NOW);
        assert!(held.ok && held.waiting == Some(2), "{held:?}");
        assert!(held.detail.as_deref().is_some_and(|d| d.contains("2 change(s) held back")), "{held:?}");
    }
}
