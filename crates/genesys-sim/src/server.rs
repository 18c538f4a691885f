//! The simulator's HTTP side: one actix listener ([`start`], [`serve_blocking`]) whose one handler
//! reads a request, runs it through the checks below under the state's lock, routes it
//! (`/oauth/token` to `oauth`, `/api/v2/scim/...` to `scim`, `/api/v2/groups/...` to
//! `platform_groups`, `/api/v2/authorization/roles|subjects/...` to `authorization`, the other
//! `/api/v2/...` to `platform`, `/sim/...` to `admin`), journals it, and answers with Genesys's
//! headers. The state
//! it works on ([`crate::SimHandle`], `Inner`, `Ctx`) is the crate root's.
//!
//! Every answer carries `inin-correlation-id` (a uuid, = ErrorBody `contextId`) and
//! `inin-ratelimit-allowed`/`-count`/`-reset` (genesys-api-notes §4). `/api/v2` needs a bearer token from
//! `/oauth/token` and counts against a fixed window (default 300 per 60 s; both settable, so
//! benchmarks and tests need not wait minutes): that token's, as Genesys counts, or under the
//! `client` rate-limit scope the one window of every token of the token's OAuth client. Over
//! the limit is 429 `too.many.requests` with `Retry-After`; the `inin-ratelimit-*` numbers and
//! `Retry-After` are those of the window the request counted in.
//!
//! Order of checks on `/api/v2`: latency, outage (503), queued `fail_next`, dropped connection,
//! error rate, bearer token (401), 429 storm, rate limit (429), the route, and then the
//! "lost response" faults (`lose_next`, `lose_response_rate`: the work is done, the answer is
//! replaced or the connection dropped, to test idempotent retries). `/oauth/token` sees latency
//! and outages only. `/sim/*` sees none of them.
//!
//! A dropped connection is answered with a body stream that fails before its first chunk:
//! actix-http then returns an error from the connection's dispatcher before it has flushed the
//! response head, and closes the socket, so the client sees the connection close with no
//! answer at all (hyper: "connection closed before message completed").
//!
//! Must not import: anything of the bridge.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use futures_util::StreamExt;
use uuid::Uuid;

use crate::authorization::{self, Bulk};
use crate::faults::RateInfo;
use crate::oauth::{self, TokenOutcome};
use crate::wire::{Answer, ApiError, Reply};
use crate::{
    Ctx, Inner, JOURNAL_LEN, JournalEntry, SimConfig, SimHandle, SimRunning, admin, platform, platform_groups, scim,
};

/// Resolves on the first SIGTERM or SIGINT, for [`serve_blocking`].
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Bind and start serving; returns once listening. Call from within an actix system.
pub fn start(config: SimConfig) -> anyhow::Result<SimRunning> {
    let listen = config.listen;
    let workers = config.workers.max(1);
    let handle = SimHandle::new(config)?;
    let data = web::Data::new(handle.clone());
    let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(dispatch)))
        .workers(workers)
        .disable_signals()
        .bind(listen)
        .with_context(|| format!("binding {listen}"))?;
    let addr = server.addrs().first().copied().unwrap_or(listen);
    let server = server.run();
    Ok(SimRunning { addr, server, state: handle })
}

/// `scim-bridge genesys-sim`: run until SIGINT/SIGTERM.
pub fn serve_blocking(config: SimConfig) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let running = start(config)?;
        let c = running.state.config();
        tracing::info!(
            listen = %running.addr,
            rate_limit = c.rate_limit_per_minute,
            window_s = c.rate_window.as_secs(),
            rate_limit_scope = %c.rate_limit_scope,
            "genesys simulator listening"
        );
        eprintln!(
            "genesys-sim: listening on http://{addr} — login base http://{addr} (POST /oauth/token), API base \
             http://{addr}/api/v2, SCIM base http://{addr}/api/v2/scim/v2; admin routes under /sim/ (no auth: keep it on loopback)",
            addr = running.addr
        );
        let handle = running.server.handle();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            handle.stop(true).await;
        });
        running.server.await.context("server")
    })
}

/// Decode `%XX` escapes of a path segment.
fn percent_decode(seg: &str) -> String {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// What to answer.
pub(crate) enum Outcome {
    Reply(Reply),
    Drop,
}

/// The one handler: routes by hand, so paths are case-sensitive and 404/405 are Genesys's.
async fn dispatch(req: HttpRequest, payload: web::Payload, sim: web::Data<SimHandle>) -> HttpResponse {
    let sim = sim.get_ref().clone();
    let correlation = Uuid::new_v4().to_string();
    let segs: Vec<String> = req.path().split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = req.method().as_str().to_string();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let info = req.connection_info().clone();
    let base = format!("{}://{}", info.scheme(), info.host());
    let config = &sim.0.config;

    let body = match read_body(payload, config.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => {
            let rate = RateInfo { allowed: config.rate_limit_per_minute, count: 0, reset_secs: 1 };
            return respond(e.into_reply(&correlation), &correlation, rate);
        }
    };
    let (query, query_error) = match web::Query::<Vec<(String, String)>>::from_query(req.query_string()) {
        Ok(q) => (q.into_inner(), None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };

    if segs.first() == Some(&"sim") {
        let now = Instant::now();
        let mut inner = sim.lock();
        let answer = admin::route(&mut inner, config, &method, &segs[1..], &body, &base, now);
        let rate = inner.limiter.peek("", now, inner.faults.rate_limit, inner.faults.window);
        drop(inner);
        let reply = answer.unwrap_or_else(|e| e.into_reply(&correlation));
        return respond(reply, &correlation, rate);
    }

    let latency = sim.lock().faults.latency;
    if !latency.is_zero() {
        actix_web::rt::time::sleep(latency).await;
    }

    let ctx = Ctx {
        base,
        query,
        query_error,
        if_match: header("if-match"),
        if_none_match: header("if-none-match"),
        content_type: header("content-type"),
        body: &body,
        token: None,
        config,
    };
    let (outcome, rate) = {
        let mut inner = sim.lock();
        handle(&mut inner, ctx, &method, &segs, header("authorization"), &correlation)
    };
    match outcome {
        Outcome::Reply(reply) => respond(reply, &correlation, rate),
        Outcome::Drop => dropped_connection(),
    }
}

/// Everything after the body is read, under the lock.
pub(crate) fn handle<'r>(
    inner: &mut Inner,
    mut ctx: Ctx<'r>,
    method: &str,
    segs: &[&str],
    authorization: Option<&'r str>,
    correlation: &str,
) -> (Outcome, RateInfo) {
    let now = Instant::now();
    let (limit, window, scope) = (inner.faults.rate_limit, inner.faults.window, inner.faults.rate_limit_scope);
    let mut rate = inner.limiter.peek("", now, limit, window);
    let label = route_label(method, segs);
    let (outcome, status) = 'decided: {
        let fail = |inner: &mut Inner, e: ApiError| {
            let status = e.status;
            let e = with_retry_after_override(inner, e);
            (Outcome::Reply(e.into_reply(correlation)), status.to_string())
        };
        if let Some(why) = &ctx.query_error {
            break 'decided fail(inner, ApiError::bad_request(format!("The query string is malformed: {why}")));
        }
        let api = segs.first() == Some(&"api");
        let oauth = segs == ["oauth", "token"];
        if !api && !oauth {
            break 'decided fail(inner, ApiError::not_found());
        }
        if inner.faults.in_outage(now) {
            inner.stats.fault("outage");
            break 'decided fail(inner, ApiError::unavailable());
        }
        if oauth {
            if method != "POST" {
                break 'decided fail(inner, ApiError::method_not_allowed(method));
            }
            let form = web::Query::<Vec<(String, String)>>::from_query(std::str::from_utf8(ctx.body).unwrap_or(""))
                .map(web::Query::into_inner)
                .unwrap_or_default();
            let config = ctx.config;
            let client = oauth::Client {
                id: &config.client_id,
                secret: config.client_secret.expose(),
                lifetime: config.token_lifetime,
            };
            match oauth::token_request(&mut inner.tokens, &client, authorization, ctx.content_type, &form, now) {
                TokenOutcome::Issued(r) => {
                    inner.stats.tokens_issued += 1;
                    break 'decided (Outcome::Reply(r), "200".to_string());
                }
                TokenOutcome::Refused(r) => {
                    inner.stats.token_refusals += 1;
                    let s = r.status.to_string();
                    break 'decided (Outcome::Reply(r), s);
                }
            }
        }
        // Gateway-level faults: before authentication, like a load balancer's.
        if let Some(s) = inner.faults.fail_next.pop_front() {
            if s == 0 {
                inner.stats.fault("fail_next_drop");
                break 'decided (Outcome::Drop, "dropped".to_string());
            }
            inner.stats.fault(&format!("fail_next_{s}"));
            break 'decided fail(inner, ApiError::injected(s));
        }
        if inner.faults.drop_rate > 0.0 && rand::random::<f64>() < inner.faults.drop_rate {
            inner.stats.fault("drop");
            break 'decided (Outcome::Drop, "dropped".to_string());
        }
        if inner.faults.error_rate > 0.0 && rand::random::<f64>() < inner.faults.error_rate {
            let choices = &inner.faults.error_status;
            let s = choices.get(rand::random_range(0..choices.len().max(1))).copied().unwrap_or(503);
            inner.stats.fault(&format!("error_{s}"));
            break 'decided fail(inner, ApiError::injected(s));
        }
        let token = match inner.tokens.check(authorization, now) {
            Ok(t) => t,
            Err(e) => break 'decided fail(inner, e),
        };
        ctx.token = Some(token);
        let client_id = inner.tokens.client_of(token).unwrap_or_default().to_string();
        let key = scope.key(token, &client_id);
        rate = inner.limiter.peek(&key, now, limit, window);
        if let Some(left) = inner.faults.storm_left(now) {
            inner.stats.fault("storm_429");
            break 'decided fail(inner, ApiError::too_many_requests(left));
        }
        inner.limiter.prune(now, window);
        match inner.limiter.admit(&key, now, limit, window) {
            Ok(info) => {
                rate = info;
                *inner.stats.requests_by_client.entry(client_id).or_default() += 1;
            }
            Err(info) => {
                rate = info;
                break 'decided fail(inner, ApiError::rate_limited(info.reset_secs, limit));
            }
        }
        let answer = route_api(inner, &ctx, method, &segs[1..], now);
        // Responses lost after the work is done (the store has changed).
        if let Some(s) = inner.faults.lose_next.pop_front() {
            if s == 0 {
                inner.stats.fault("lose_next_drop");
                break 'decided (Outcome::Drop, "dropped".to_string());
            }
            inner.stats.fault(&format!("lose_next_{s}"));
            break 'decided fail(inner, ApiError::injected(s));
        }
        if inner.faults.lose_rate > 0.0 && rand::random::<f64>() < inner.faults.lose_rate {
            inner.stats.fault("lose_response");
            break 'decided (Outcome::Drop, "dropped".to_string());
        }
        match answer {
            Ok(reply) => {
                let s = reply.status.to_string();
                (Outcome::Reply(reply), s)
            }
            Err(e) => fail(inner, e),
        }
    };
    inner.stats.record(&label, &status);
    if segs.first() == Some(&"api") {
        if inner.journal.len() >= JOURNAL_LEN {
            inner.journal.pop_front();
        }
        inner.journal.push_back(JournalEntry {
            method: method.to_string(),
            path: format!("/{}", segs.join("/")),
            query: ctx.query.clone(),
            body: serde_json::from_slice(ctx.body).ok(),
            status: status.clone(),
            at_ms: u64::try_from(inner.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
    }
    tracing::debug!(http.method = method, route = %label, http.status = %status, "genesys simulator");
    (outcome, rate)
}

/// A configured `Retry-After` replaces the computed one on 429s and is added to 503s.
fn with_retry_after_override(inner: &Inner, mut e: ApiError) -> ApiError {
    if let Some(secs) = inner.faults.retry_after
        && (e.status == 429 || e.status == 503)
    {
        e.retry_after = Some(secs);
        if e.status == 429 {
            e.message = format!("Rate limit exceeded the maximum. Retry the request in [{secs}] seconds");
        }
    }
    e
}

/// The route pattern for stats: the id after `users`/`groups`/`roles`/`subjects` shown as
/// `{id}`, the name after `resourcetypes`/`schemas` as `{name}`.
fn route_label(method: &str, segs: &[&str]) -> String {
    if segs.first() != Some(&"api") && segs != ["oauth", "token"] {
        return format!("{method} /(unknown)");
    }
    let pattern: Vec<&str> = segs
        .iter()
        .enumerate()
        .map(|(i, s)| match (i.checked_sub(1).map(|p| segs[p]), i + 1 == segs.len()) {
            (Some("users" | "groups" | "roles" | "subjects"), _) => "{id}",
            (Some("resourcetypes" | "schemas"), true) => "{name}",
            _ => s,
        })
        .collect();
    format!("{method} /{}", pattern.join("/"))
}

/// `/api/...` routes (`segs` without the leading `api`).
fn route_api(inner: &mut Inner, ctx: &Ctx, method: &str, segs: &[&str], now: Instant) -> Answer {
    let not_allowed = || Err(ApiError::method_not_allowed(method));
    match segs {
        // `/api/v2/scim/v2/...`, and the legacy duplicates `/api/v2/scim/...` (genesys-api-notes §1.1).
        ["v2", "scim", rest @ ..] => scim::route(inner, ctx, method, rest),
        ["v2", "users"] => match method {
            "GET" => platform::list_users(inner, ctx),
            "POST" => platform::create_user(inner, ctx),
            _ => not_allowed(),
        },
        ["v2", "users", id] => match method {
            "GET" => platform::get_user(inner, ctx, id),
            "PATCH" => platform::patch_user(inner, ctx, id),
            "DELETE" => platform::delete_user(inner, id),
            _ => not_allowed(),
        },
        ["v2", "groups", id] => match method {
            "GET" => platform_groups::get_group(inner, id),
            _ => not_allowed(),
        },
        ["v2", "groups", id, "individuals"] => match method {
            "GET" => platform_groups::list_individuals(inner, id),
            _ => not_allowed(),
        },
        ["v2", "groups", id, "members"] => match method {
            "POST" => platform_groups::add_members(inner, ctx, id),
            "DELETE" => platform_groups::remove_members(inner, ctx, id),
            _ => not_allowed(),
        },
        ["v2", "authorization", "roles"] => match method {
            "GET" => authorization::list_roles(inner, ctx),
            _ => not_allowed(),
        },
        ["v2", "authorization", "roles", id] => match method {
            "GET" => authorization::get_role(inner, id),
            _ => not_allowed(),
        },
        ["v2", "authorization", "subjects", id] => match method {
            "GET" => authorization::get_subject(inner, id),
            _ => not_allowed(),
        },
        ["v2", "authorization", "subjects", id, "bulkadd"] => match method {
            "POST" => authorization::bulk(inner, ctx, id, Bulk::Add),
            _ => not_allowed(),
        },
        ["v2", "authorization", "subjects", id, "bulkremove"] => match method {
            "POST" => authorization::bulk(inner, ctx, id, Bulk::Remove),
            _ => not_allowed(),
        },
        ["v2", "authorization", "divisions"] if method == "GET" => platform::list_divisions(inner),
        ["v2", "authorization", "divisions", "home"] if method == "GET" => platform::home_division(inner),
        ["v2", "tokens", "me"] if method == "GET" => platform::token_info(inner, ctx, now),
        _ => Err(ApiError::not_found()),
    }
}

/// The HTTP response with the headers every Genesys answer carries (genesys-api-notes §4).
fn respond(reply: Reply, correlation: &str, rate: RateInfo) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut b = HttpResponse::build(status);
    b.insert_header(("inin-correlation-id", correlation))
        .insert_header(("inin-ratelimit-allowed", rate.allowed.to_string()))
        .insert_header(("inin-ratelimit-count", rate.count.to_string()))
        .insert_header(("inin-ratelimit-reset", rate.reset_secs.to_string()))
        .insert_header(("cache-control", "no-cache, no-store, must-revalidate"))
        .insert_header(("pragma", "no-cache"))
        .insert_header(("expires", "0"));
    for (name, value) in reply.headers {
        b.insert_header((name, value));
    }
    match reply.body {
        Some(v) if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED => {
            b.content_type(reply.content_type).body(v.to_string())
        }
        _ => b.finish(),
    }
}

/// A response whose body fails before its first byte: the connection closes unanswered (see
/// the module doc).
fn dropped_connection() -> HttpResponse {
    let failing = futures_util::stream::once(async {
        Err::<web::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "genesys simulator: connection dropped on purpose",
        ))
    });
    HttpResponse::Ok().streaming(failing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("jane%40example.com"), "jane@example.com");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("plain"), "plain");
    }

    #[test]
    fn route_labels_hide_ids() {
        assert_eq!(route_label("GET", &["api", "v2", "scim", "v2", "users", "x"]), "GET /api/v2/scim/v2/users/{id}");
        assert_eq!(route_label("PATCH", &["api", "v2", "users", "x"]), "PATCH /api/v2/users/{id}");
        assert_eq!(route_label("POST", &["oauth", "token"]), "POST /oauth/token");
        assert_eq!(route_label("GET", &["favicon.ico"]), "GET /(unknown)");
        assert_eq!(route_label("POST", &["api", "v2", "groups", "g", "members"]), "POST /api/v2/groups/{id}/members");
        assert_eq!(route_label("GET", &["api", "v2", "scim", "groups", "g"]), "GET /api/v2/scim/groups/{id}");
        assert_eq!(
            route_label("GET", &["api", "v2", "scim", "v2", "schemas", "urn"]),
            "GET /api/v2/scim/v2/schemas/{name}"
        );
        assert_eq!(route_label("GET", &["api", "v2", "scim", "v2", "users"]), "GET /api/v2/scim/v2/users");
        assert_eq!(route_label("GET", &["api", "v2", "authorization", "roles"]), "GET /api/v2/authorization/roles");
        assert_eq!(
            route_label("GET", &["api", "v2", "authorization", "roles", "r"]),
            "GET /api/v2/authorization/roles/{id}"
        );
        assert_eq!(
            route_label("POST", &["api", "v2", "authorization", "subjects", "u", "bulkadd"]),
            "POST /api/v2/authorization/subjects/{id}/bulkadd"
        );
        assert_eq!(
            route_label("GET", &["api", "v2", "authorization", "subjects", "u"]),
            "GET /api/v2/authorization/subjects/{id}"
        );
    }
}
