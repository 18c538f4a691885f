//! `scim-bridge sync`: a generic SCIM 2.0 directory sync client (issue 12). It reads an HR
//! export (CSV or JSON lines, [`source`]), reads what the server holds ([`client`]), computes
//! the differences ([`plan`], pure) and sends only them, as Bulk requests when the server offers
//! Bulk; then reports ([`report`]). docs/sync.md is the operator's guide.
//!
//! Must not import: the bridge (`scim-bridge`), diesel or actix. It talks to any SCIM server.

pub mod client;
pub mod plan;
pub mod progress;
pub mod report;
pub mod source;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use reqwest::Method;
use serde_json::{Value, json};

use client::{Client, Outcome, Request};
use plan::{Plan, PlanOptions, UserRef};
use progress::Progress;
use report::{Failure, Summary};
use scim::schema::GROUP_URN;
use source::Format;

/// Why a sync could not run at all (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("the export: {0}")]
    BadSource(String),
    #[error("--map {0}")]
    BadMap(String),
    #[error("{0}")]
    BadArgs(String),
    #[error("the SCIM server cannot be reached: {0}")]
    Unreachable(String),
    #[error("the SCIM server refused the token ({0}): check --token-file")]
    Auth(u16),
    #[error("the SCIM server: {0}")]
    Server(String),
    #[error(
        "refusing to deactivate {count} of {total} users (more than --max-deactivate {limit}); nothing was sent. Check the export, or pass --force-deactivate"
    )]
    TooManyDeactivations { count: usize, total: usize, limit: String },
}

/// `scim-bridge sync`: make a SCIM server's users and groups match a directory export.
#[derive(Debug, Clone, clap::Args)]
pub struct SyncArgs {
    /// The export: CSV with a header row, or JSON lines of SCIM users (.jsonl).
    #[arg(long)]
    pub source: PathBuf,
    /// The SCIM base URL, e.g. https://scim.example.com/scim/v2.
    #[arg(long)]
    pub url: String,
    /// A file holding the bearer token.
    #[arg(long)]
    pub token_file: PathBuf,
    /// CSV column to SCIM path, e.g. mobile='phoneNumbers[type eq "mobile"].value' (repeatable).
    #[arg(long = "map", value_name = "COLUMN=SCIMPATH")]
    pub map: Vec<String>,
    /// The export's format [default: by extension, .jsonl is JSON lines, else CSV].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Deactivate (active=false) server users the export does not have.
    #[arg(long)]
    pub deactivate_missing: bool,
    /// Refuse to deactivate more than this share of the server's users: 10% or 0.1.
    #[arg(long, default_value = "10%")]
    pub max_deactivate: String,
    /// Deactivate even above --max-deactivate.
    #[arg(long = "force-deactivate", alias = "force")]
    pub force_deactivate: bool,
    /// Print the plan and send nothing but GETs.
    #[arg(long)]
    pub dry_run: bool,
    /// Print each change (path old -> new).
    #[arg(short, long)]
    pub verbose: bool,
    /// Print exactly one JSON object on stdout: counts, failures, skipped rows.
    #[arg(long)]
    pub json: bool,
}

/// `15%` or `0.15` -> 0.15.
pub fn parse_share(s: &str) -> Result<f64, SyncError> {
    let t = s.trim();
    let (num, scale) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (t, 1.0),
    };
    let v = num.parse::<f64>().map(|v| v / scale).ok().filter(|v| (0.0..=1.0).contains(v));
    v.ok_or_else(|| SyncError::BadArgs(format!("--max-deactivate `{s}`: a share such as 10% or 0.1")))
}

/// Run a sync; the exit status is 0 (all applied), 1 (some writes failed or rows were skipped)
/// or 2 (could not run).
pub async fn run(args: SyncArgs) -> u8 {
    let started = Instant::now();
    match run_inner(&args, started).await {
        Ok(summary) => {
            if args.json {
                println!("{}", summary.to_json());
            } else {
                print!("{}", summary.text());
            }
            summary.exit_code()
        }
        Err(e) => {
            if args.json {
                println!("{}", json!({"error": e.to_string(), "dry_run": args.dry_run}));
            }
            eprintln!("scim-bridge sync: {e}");
            2
        }
    }
}

async fn run_inner(args: &SyncArgs, started: Instant) -> Result<Summary, SyncError> {
    let share = parse_share(&args.max_deactivate)?;
    let token = std::fs::read_to_string(&args.token_file).map_err(|e| SyncError::Read(args.token_file.clone(), e))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(SyncError::BadArgs(format!("{} is empty", args.token_file.display())));
    }
    let maps = source::parse_maps(&args.map)?;
    let bytes = std::fs::read(&args.source).map_err(|e| SyncError::Read(args.source.clone(), e))?;
    let format = args.format.unwrap_or_else(|| Format::from_path(&args.source));
    let export = source::read_export(&bytes, format, &maps)?;
    for w in &export.warnings {
        eprintln!("warning: {w}");
    }
    let (client, warnings) = Client::connect(&args.url, token).await?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let users = client.list_all("/Users").await?;
    let mut groups = client.list_all("/Groups").await?;
    complete_members(&client, &export.rows, &mut groups).await?;
    eprintln!(
        "read {} users and {} groups from the server in {:.1} s",
        users.len(),
        groups.len(),
        started.elapsed().as_secs_f64()
    );
    let plan = plan::plan_with_skipped(
        &export.rows,
        &export.errors,
        &users,
        &groups,
        PlanOptions { deactivate_missing: args.deactivate_missing },
    );
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    let count = plan.deactivations.len();
    if count > 0 && !args.force_deactivate && (count as f64) > share * plan.server_users as f64 {
        return Err(SyncError::TooManyDeactivations {
            count,
            total: plan.server_users,
            limit: args.max_deactivate.clone(),
        });
    }
    let mut summary = Summary::planned(&plan);
    summary.skipped = export.errors.iter().chain(&plan.skipped).cloned().collect();
    summary.skipped.sort_by_key(|s| s.line);
    summary.warnings = export.warnings.iter().chain(&warnings).chain(&plan.warnings).cloned().collect();
    summary.dry_run = args.dry_run;
    if args.dry_run || args.verbose {
        let text = report::plan_text(&plan, args.verbose);
        if args.json { eprint!("{text}") } else { print!("{text}") }
    }
    if !args.dry_run {
        apply(&client, &plan, &mut summary).await;
    }
    summary.requests = client.stats.requests.load(Ordering::Relaxed);
    summary.retries = client.stats.retries.load(Ordering::Relaxed);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Some servers leave `members` out of `GET /Groups` (RFC 7644 lets `returned` be `request`
/// for it in practice): read the groups the export names that came without it one by one, so
/// that their members are not taken to be none.
async fn complete_members(
    client: &Client,
    rows: &[source::Row],
    groups: &mut [serde_json::Map<String, Value>],
) -> Result<(), SyncError> {
    let named: std::collections::HashSet<String> =
        rows.iter().flat_map(|r| r.groups.iter().flatten()).map(|g| g.to_lowercase()).collect();
    for group in groups.iter_mut() {
        let name = group.get("displayName").and_then(Value::as_str).map(str::to_lowercase);
        if group.contains_key("members") || !name.is_some_and(|n| named.contains(&n)) {
            continue;
        }
        let Some(id) = group.get("id").and_then(Value::as_str) else { continue };
        let full = client.get_one(&format!("/Groups/{}", client::encode(id))).await?;
        *group = full;
    }
    Ok(())
}

/// Send the plan: phase one (creates, updates, deactivations), then phase two (managers created
/// in this run, groups). Counts become what was applied.
async fn apply(client: &Client, plan: &Plan, summary: &mut Summary) {
    let mut requests = Vec::new();
    for c in &plan.creates {
        requests.push(Request { method: Method::POST, path: "/Users".into(), body: c.body.clone() });
    }
    for u in &plan.updates {
        requests.push(Request { method: Method::PATCH, path: user_path(&u.id), body: plan::user_patch(&u.ops) });
    }
    for d in &plan.deactivations {
        requests.push(Request { method: Method::PATCH, path: user_path(&d.id), body: plan::deactivate_patch() });
    }
    let progress = Arc::new(Progress::new("users", requests.len(), false));
    let outcomes = client.send_all(requests, &progress).await;
    progress.finish();
    let (creates, rest) = outcomes.split_at(plan.creates.len().min(outcomes.len()));
    let (updates, deactivations) = rest.split_at(plan.updates.len().min(rest.len()));
    let mut created_ids: HashMap<usize, String> = HashMap::new();
    summary.created = 0;
    for (i, (c, o)) in plan.creates.iter().zip(creates).enumerate() {
        match (o.ok(), &o.id) {
            (true, Some(id)) => {
                summary.created += 1;
                created_ids.insert(i, id.clone());
            }
            (true, None) => {
                summary.created += 1;
                summary.warnings.push(format!("line {}: {} created, but the server gave no id", c.line, c.user_name));
            }
            _ => summary.failures.push(failure(Some(c.line), Some(&c.user_name), o)),
        }
    }
    let mut updated: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (u, o) in plan.updates.iter().zip(updates) {
        if o.ok() {
            updated.insert(u.id.clone());
        } else {
            summary.failures.push(failure(Some(u.line), Some(&u.user_name), o));
        }
    }
    summary.deactivated = 0;
    for (d, o) in plan.deactivations.iter().zip(deactivations) {
        if o.ok() {
            summary.deactivated += 1;
        } else {
            summary.failures.push(failure(None, Some(&d.user_name), o));
        }
    }

    // Phase two.
    let id_of = |r: &UserRef| match r {
        UserRef::Existing(id) => Some(id.clone()),
        UserRef::New(c) => created_ids.get(c).cloned(),
    };
    let mut requests = Vec::new();
    let mut what: Vec<(Option<u64>, Option<String>, Kind)> = Vec::new();
    for m in &plan.later_managers {
        match (id_of(&m.subject), created_ids.get(&m.manager)) {
            (Some(subject), Some(manager)) => {
                requests.push(Request {
                    method: Method::PATCH,
                    path: user_path(&subject),
                    body: plan::manager_patch(manager),
                });
                what.push((Some(m.line), Some(m.user_name.clone()), Kind::Manager(subject)));
            }
            _ => summary.failures.push(Failure {
                line: Some(m.line),
                user_name: Some(m.user_name.clone()),
                status: 0,
                detail: "manager not set: the user or the manager was not created".into(),
            }),
        }
    }
    for g in &plan.group_creates {
        let members: Vec<Value> =
            g.members.iter().filter_map(|(r, _)| id_of(r)).map(|id| json!({"value": id})).collect();
        requests.push(Request {
            method: Method::POST,
            path: "/Groups".into(),
            body: json!({"schemas": [GROUP_URN], "displayName": g.display_name, "members": members}),
        });
        what.push((None, None, Kind::GroupCreate(g.display_name.clone())));
    }
    for g in &plan.group_updates {
        let add: Vec<String> = g.add.iter().filter_map(|(r, _)| id_of(r)).collect();
        let remove: Vec<String> = g.remove.iter().map(|(id, _)| id.clone()).collect();
        if add.is_empty() && remove.is_empty() {
            continue;
        }
        requests.push(Request {
            method: Method::PATCH,
            path: format!("/Groups/{}", client::encode(&g.id)),
            body: plan::group_patch(&add, &remove),
        });
        what.push((None, None, Kind::GroupUpdate(g.display_name.clone())));
    }
    summary.groups_created = 0;
    summary.groups_updated = 0;
    if !requests.is_empty() {
        let progress = Arc::new(Progress::new("groups and managers", requests.len(), false));
        let outcomes = client.send_all(requests, &progress).await;
        progress.finish();
        for ((line, user, kind), o) in what.into_iter().zip(outcomes) {
            match (kind, o.ok()) {
                (Kind::Manager(id), true) => {
                    updated.insert(id);
                }
                (Kind::GroupCreate(_), true) => summary.groups_created += 1,
                (Kind::GroupUpdate(_), true) => summary.groups_updated += 1,
                (Kind::Manager(_), false) => summary.failures.push(failure(line, user.as_deref(), &o)),
                (Kind::GroupCreate(name) | Kind::GroupUpdate(name), false) => {
                    let mut f = failure(None, None, &o);
                    f.detail = format!("group {name}: {}", f.detail);
                    summary.failures.push(f);
                }
            }
        }
    }
    // Users created in this run whose manager was set afterwards are created, not updated.
    let new_ids: std::collections::HashSet<&String> = created_ids.values().collect();
    summary.updated = updated.iter().filter(|id| !new_ids.contains(id)).count();
}

enum Kind {
    Manager(String),
    GroupCreate(String),
    GroupUpdate(String),
}

fn failure(line: Option<u64>, user_name: Option<&str>, o: &Outcome) -> Failure {
    Failure { line, user_name: user_name.map(str::to_string), status: o.status, detail: o.detail.clone() }
}

fn user_path(id: &str) -> String {
    format!("/Users/{}", client::encode(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_as_percent_or_fraction() {
        assert_eq!(parse_share("10%").unwrap(), 0.1);
        assert_eq!(parse_share("15 %").unwrap(), 0.15);
        assert_eq!(parse_share("0.15").unwrap(), 0.15);
        assert_eq!(parse_share("0").unwrap(), 0.0);
        assert!(parse_share("15").is_err());
        assert!(parse_share("ten").is_err());
        assert!(parse_share("150%").is_err());
    }
}
