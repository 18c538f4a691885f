//! `/admin`: the status page, HTML rendered here (nothing to install), behind the admin token.
//!
//! * `GET /admin/login` a form; `POST /admin/login` checks the token (constant time) and sets
//!   a cookie holding its SHA-256 (`HttpOnly`, `SameSite=Strict`, path `/admin`), so the token
//!   itself is never stored by the browser; scripts may send `Authorization: Bearer <token>`.
//! * `GET /admin` the page: the health of each component, outbox depth and lag, dead changes
//!   with their Genesys error and a retry button, recent deliveries, recent changes from the
//!   audit trail (who changed what, when, from where), the last reconcile report.
//! * `POST /admin/retry` (`resource_id`, or none for all) makes dead changes pending again;
//!   `POST /admin/reconcile` runs a reconcile (report only); `POST /admin/logout`.
//!
//! Without an admin token configured the page is off (404 saying how to turn it on).

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::genesys::client::Client;
use crate::genesys::mapping::MappingConfig;
use crate::genesys::outbox::RecentDeliveries;
use crate::genesys::role_status::{Resolution, RoleStatus};
use crate::metrics::OutboxStats;
use crate::store::{AuditEntry, AuditQuery, Store, format_millis, now_millis};

const COOKIE: &str = "scim_bridge_admin";

/// Audit entries the page shows (`scim-bridge audit` reads them all).
const RECENT_CHANGES: i64 = 50;

/// What the page reads.
pub struct AdminState {
    pub store: Arc<Store>,
    /// SHA-256 of the admin token; `None`: the page is off.
    pub token_hash: Option<[u8; 32]>,
    pub client: Arc<Client>,
    pub recent: Arc<RecentDeliveries>,
    /// The worker's last progress (the outbox is judged as `/readyz` judges it).
    pub outbox: OutboxStats,
    pub mapping: MappingConfig,
    /// What a create meeting a Genesys user the bridge did not create does (reconcile says).
    pub adopt: crate::genesys::mapping::AdoptPolicy,
    /// Where changes go, in words.
    pub target: String,
    pub dry_run: bool,
    /// The roles granted to users with an 8x8 number, and what was found of them.
    pub roles: Arc<RoleStatus>,
}

/// One row per role of `genesys.roles` (none when no role is configured).
fn roles_rows(roles: &RoleStatus) -> String {
    roles
        .report()
        .into_iter()
        .map(|(spec, r)| {
            let (state, detail) = match r {
                Resolution::Found(role) => (
                    "<td class=ok>ok</td>",
                    format!("granted to users with an 8x8 number: Genesys role {} ({})", role.name, role.id),
                ),
                Resolution::Unchecked(why) => ("<td class=warn>unchecked</td>", why),
                Resolution::Missing { why, .. } => ("<td class=bad>error</td>", why),
            };
            format!("<tr class=role><td>role {}</td>{state}<td>{}</td></tr>", esc(&spec), esc(&detail))
        })
        .collect()
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(format!("scim-bridge-admin:{token}").as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl AdminState {
    pub fn token_hash(token: Option<&str>) -> Option<[u8; 32]> {
        token.map(digest)
    }

    fn matches(&self, candidate: &[u8; 32]) -> bool {
        self.token_hash.is_some_and(|h| bool::from(h.ct_eq(candidate)))
    }

    /// The cookie (hex of the digest) or a bearer token.
    fn authorized(&self, req: &HttpRequest) -> bool {
        if let Some(token) = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        {
            return self.matches(&digest(token.trim()));
        }
        let cookie = req.headers().get_all(header::COOKIE).filter_map(|v| v.to_str().ok()).find_map(|all| {
            all.split(';').map(str::trim).find_map(|c| c.strip_prefix(COOKIE).and_then(|r| r.strip_prefix('=')))
        });
        let Some(cookie) = cookie else { return false };
        let mut bytes = [0u8; 32];
        if cookie.len() != 64 {
            return false;
        }
        for (i, b) in bytes.iter_mut().enumerate() {
            match u8::from_str_radix(&cookie[2 * i..2 * i + 2], 16) {
                Ok(v) => *b = v,
                Err(_) => return false,
            }
        }
        self.matches(&bytes)
    }
}

pub fn routes(state: web::Data<AdminState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.service(
            web::scope("/admin")
                .app_data(state)
                .route("", web::get().to(page))
                .route("/", web::get().to(page))
                .route("/login", web::get().to(login_form))
                .route("/login", web::post().to(login))
                .route("/logout", web::post().to(logout))
                .route("/retry", web::post().to(retry))
                .route("/reconcile", web::post().to(reconcile)),
        );
    }
}

/// HTML-escape.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}\
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}\
.ok{color:#186a2e;font-weight:600}.bad{color:#a4161a;font-weight:600}.warn{color:#8a5a00;font-weight:600}\
.banner{padding:.6em 1em;background:#fff3cd;border:1px solid #e0c36c;margin-bottom:1em}pre{background:#f7f7f7;padding:1em;overflow:auto}";

fn html(status: actix_web::http::StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("x-frame-options", "DENY"))
        .insert_header(("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"))
        .body(format!(
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>{} · scim-bridge</title><style>{STYLE}</style></head><body>{body}</body></html>",
            esc(title)
        ))
}

fn off() -> HttpResponse {
    html(
        actix_web::http::StatusCode::NOT_FOUND,
        "Status page off",
        "<h1>The status page is off</h1><p>Set <code>SCIM_BRIDGE_ADMIN_TOKEN</code> (or <code>SCIM_BRIDGE_ADMIN_TOKEN_FILE</code>, \
         or <code>[admin] token_file</code> in the configuration file) and restart to turn it on.</p>",
    )
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish()
}

async fn login_form(state: web::Data<AdminState>) -> HttpResponse {
    if state.token_hash.is_none() {
        return off();
    }
    html(actix_web::http::StatusCode::OK, "Sign in", LOGIN)
}

const LOGIN: &str = "<h1>scim-bridge status</h1><form method=post action=/admin/login>\
<label>Admin token <input type=password name=token id=token autocomplete=current-password autofocus></label> \
<button type=submit id=sign-in>Sign in</button></form>";

#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(state: web::Data<AdminState>, form: web::Form<LoginForm>) -> HttpResponse {
    if state.token_hash.is_none() {
        return off();
    }
    let d = digest(form.token.trim());
    if !state.matches(&d) {
        tracing::info!("admin sign-in refused");
        return html(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "Sign in",
            &format!("<p class=bad>That is not the admin token.</p>{LOGIN}"),
        );
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin"))
        .insert_header((header::SET_COOKIE, format!("{COOKIE}={}; Path=/admin; HttpOnly; SameSite=Strict", hex(&d))))
        .finish()
}

async fn logout() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/login"))
        .insert_header((header::SET_COOKIE, format!("{COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0")))
        .finish()
}

#[derive(serde::Deserialize)]
struct RetryForm {
    resource_id: Option<String>,
}

async fn retry(state: web::Data<AdminState>, req: HttpRequest, form: web::Form<RetryForm>) -> HttpResponse {
    if state.token_hash.is_none() {
        return off();
    }
    if !state.authorized(&req) {
        return see_other("/admin/login");
    }
    let store = state.store.clone();
    let id = form.into_inner().resource_id.filter(|i| !i.trim().is_empty());
    let done = web::block(move || store.outbox_retry(id.as_deref())).await;
    match done {
        Ok(Ok(n)) => tracing::info!(changes = n, "admin: dead changes queued again"),
        Ok(Err(e)) => tracing::warn!(error.cause = %e, "admin: retry failed"),
        Err(_) => tracing::warn!("admin: retry task failed"),
    }
    see_other("/admin")
}

async fn reconcile(state: web::Data<AdminState>, req: HttpRequest) -> HttpResponse {
    if state.token_hash.is_none() {
        return off();
    }
    if !state.authorized(&req) {
        return see_other("/admin/login");
    }
    let run = crate::genesys::reconcile::run(state.store.clone(), &state.client, &state.mapping, state.adopt, false);
    match tokio::time::timeout(Duration::from_secs(600), run).await {
        Ok(Ok(_)) => see_other("/admin"),
        Ok(Err(e)) => html(
            actix_web::http::StatusCode::BAD_GATEWAY,
            "Reconcile failed",
            &format!("<p class=bad>Reconcile failed: {}</p><p><a href=/admin>Back</a></p>", esc(&e.to_string())),
        ),
        Err(_) => html(
            actix_web::http::StatusCode::GATEWAY_TIMEOUT,
            "Reconcile",
            "<p>Reconcile took over 10 minutes; run <code>scim-bridge reconcile</code> instead.</p>",
        ),
    }
}

/// The newest entries of the audit trail, newest first.
fn changes_table(changes: &Result<Vec<AuditEntry>, crate::store::StoreError>) -> String {
    let mut b = String::from("<h2>Recent changes</h2>");
    match changes {
        Ok(changes) if changes.is_empty() => {
            b.push_str("<p id=no-changes>No user or group has been changed yet.</p>");
        }
        Ok(changes) => {
            b.push_str(&format!(
                "<p>The newest {RECENT_CHANGES} writes of the audit trail; <code>scim-bridge audit</code> reads and                  filters all of it.</p><table id=changes><tr><th>when</th><th>op</th><th>type</th><th>resource</th>                 <th>name</th><th>version</th><th>by</th><th>from</th><th>request</th><th>paths</th></tr>"
            ));
            for e in changes {
                let op = if e.bulk { format!("{} (bulk)", e.op.as_str()) } else { e.op.as_str().to_string() };
                b.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>                     <td>{}</td><td>{}</td></tr>",
                    esc(&format_millis(e.at)),
                    op,
                    e.kind.as_str(),
                    esc(&e.resource_id),
                    esc(e.name.as_deref().unwrap_or("")),
                    e.version.map(|v| v.to_string()).unwrap_or_default(),
                    esc(&e.actor.to_string()),
                    esc(e.address.as_deref().unwrap_or("")),
                    esc(e.request_id.as_deref().unwrap_or("")),
                    esc(&e.paths.join(", ")),
                ));
            }
            b.push_str("</table>");
        }
        Err(e) => b.push_str(&format!("<p class=bad>{}</p>", esc(&e.to_string()))),
    }
    b
}

/// Age in words.
fn age(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

async fn page(state: web::Data<AdminState>, req: HttpRequest) -> HttpResponse {
    if state.token_hash.is_none() {
        return off();
    }
    if !state.authorized(&req) {
        return see_other("/admin/login");
    }
    let store = state.store.clone();
    let read = web::block(move || {
        let ping = store.ping();
        let depth = store.outbox_depth();
        let dead = store.outbox_dead();
        let report = store.last_reconcile_report();
        let changes = store.audit_entries(&AuditQuery { limit: RECENT_CHANGES, ..AuditQuery::default() });
        (ping, depth, dead, report, changes)
    })
    .await;
    let Ok((ping, depth, dead, report, changes)) = read else {
        return html(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "Error",
            "<p>The status could not be read.</p>",
        );
    };
    let now = now_millis();
    let mut b = String::new();
    b.push_str(&format!(
        "<h1>scim-bridge {} status</h1><p>Forwarding to {}. <form method=post action=/admin/logout style=display:inline><button>Sign out</button></form></p>",
        env!("CARGO_PKG_VERSION"),
        esc(&state.target)
    ));
    if state.dry_run {
        b.push_str(
            "<p class=banner><b>Dry run</b>: changes are stored but nothing is sent to Genesys; \
             <code>scim-bridge outbox list --dry-run</code> shows what would have been sent.</p>",
        );
    }

    // Components: judged as /readyz judges them.
    let g = state.client.stats.summary();
    let db = match &ping {
        Ok(()) => "<td class=ok>ok</td><td>reachable</td>".to_string(),
        Err(e) => format!("<td class=bad>down</td><td>{}</td>", esc(&e.to_string())),
    };
    let (outbox_state, outbox_text) = match &depth {
        Ok(d) => {
            let check = super::ops::outbox_check(d, state.outbox.last_progress_millis(), now);
            let lag = d.oldest_pending.map(|c| now - c).unwrap_or(0);
            let cls = if !check.ok {
                "<td class=bad>stuck</td>"
            } else if d.dead > 0 {
                "<td class=warn>attention</td>"
            } else {
                "<td class=ok>ok</td>"
            };
            let mut text = format!(
                "<span id=pending>{}</span> pending (oldest waiting {}), <span id=dead-count>{}</span> dead",
                d.pending,
                if d.pending > 0 { age(lag) } else { "-".into() },
                d.dead
            );
            if d.waiting > 0 {
                text.push_str(&format!(
                    "; <span id=waiting>{}</span> waiting to be tried again (Genesys asked to wait, or after \
                     failures): <code>scim-bridge outbox list</code> shows when",
                    d.waiting
                ));
            }
            if let Some(why) = check.detail.filter(|_| !check.ok) {
                text.push_str(&format!("<br>{}", esc(&why)));
            }
            (cls.to_string(), text)
        }
        Err(e) => ("<td class=bad>unknown</td>".into(), esc(&e.to_string())),
    };
    let genesys_state = if state.dry_run {
        "<td class=warn>not used (dry run)</td>"
    } else if g.calls == 0 {
        "<td>idle</td>"
    } else if g.ok == 0 {
        "<td class=bad>failing</td>"
    } else {
        "<td class=ok>ok</td>"
    };
    b.push_str(&format!(
        "<h2>Components</h2><table id=components><tr><th>component</th><th>state</th><th>detail</th></tr>\
         <tr><td>database</td>{db}</tr>\
         <tr><td>Genesys</td>{genesys_state}<td>{} calls: {} 2xx, {} answered 429, {} 5xx, {} network errors; {} token renewals</td></tr>\
         <tr><td>outbox</td>{outbox_state}<td>{outbox_text}</td></tr>{}</table>",
        g.calls, g.ok, g.rate_limited, g.server_errors, g.network_errors, g.token_renewals,
        roles_rows(&state.roles),
    ));

    // Dead changes.
    b.push_str("<h2>Dead changes</h2>");
    match &dead {
        Ok(dead) if dead.is_empty() => b.push_str("<p id=no-dead>None: nothing is waiting for an operator.</p>"),
        Ok(dead) => {
            b.push_str(
                "<form method=post action=/admin/retry><button id=retry-all>Retry all</button></form>\
                 <table id=dead><tr><th>kind</th><th>resource</th><th>since</th><th>attempts</th><th>Genesys error</th><th></th></tr>",
            );
            for d in dead {
                b.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><form method=post action=/admin/retry>\
                     <input type=hidden name=resource_id value=\"{}\"><button class=retry data-id=\"{}\">Retry</button></form></td></tr>",
                    d.kind.as_str(),
                    esc(&d.resource_id),
                    esc(&format_millis(d.created)),
                    d.attempts,
                    esc(d.last_error.as_deref().unwrap_or("")),
                    esc(&d.resource_id),
                    esc(&d.resource_id),
                ));
            }
            b.push_str("</table>");
        }
        Err(e) => b.push_str(&format!("<p class=bad>{}</p>", esc(&e.to_string()))),
    }

    // Recent deliveries.
    b.push_str("<h2>Recent deliveries</h2>");
    let recent = state.recent.list();
    if recent.is_empty() {
        b.push_str("<p>None since the bridge started.</p>");
    } else {
        b.push_str("<table id=recent><tr><th>when</th><th>kind</th><th>resource</th><th>attempt</th><th>outcome</th><th>detail</th></tr>");
        for r in recent {
            let cls = match r.outcome {
                "delivered" => "ok",
                "dead" => "bad",
                _ => "warn",
            };
            b.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class={cls}>{}</td><td>{}</td></tr>",
                esc(&format_millis(r.at)),
                r.kind,
                esc(&r.resource_id),
                r.attempt,
                r.outcome,
                esc(r.detail.as_deref().unwrap_or(""))
            ));
        }
        b.push_str("</table>");
    }

    b.push_str(&changes_table(&changes));

    // Last reconcile report.
    b.push_str("<h2>Last reconcile</h2><form method=post action=/admin/reconcile><button id=run-reconcile>Run a reconcile now</button> (report only; <code>scim-bridge reconcile --apply</code> repairs)</form>");
    match report {
        Ok(Some((at, report))) => {
            let count = |k: &str| report.get(k).and_then(|v| v.as_array()).map_or(0, Vec::len);
            b.push_str(&format!(
                "<p id=reconcile>{}: {} bridge users, {} Genesys users; {} in sync, {} missing in Genesys, {} different, {} only in Genesys, {} collisions, {} cannot be mapped.</p><pre>{}</pre>",
                esc(&format_millis(at)),
                report["bridgeUsers"],
                report["genesysUsers"],
                report["inSync"],
                count("missingInGenesys"),
                count("different"),
                count("onlyInGenesys"),
                count("collisions"),
                count("unmappable"),
                esc(&serde_json::to_string_pretty(&report).unwrap_or_default())
            ));
        }
        Ok(None) => b.push_str("<p id=reconcile>No reconcile has run yet.</p>"),
        Err(e) => b.push_str(&format!("<p class=bad>{}</p>", esc(&e.to_string()))),
    }
    html(actix_web::http::StatusCode::OK, "Status", &b)
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn html_is_escaped() {
        assert_eq!(esc("<b a=\"x\">'&'</b>"), "&lt;b a=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;");
    }
}
