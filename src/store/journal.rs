//! What the operator side keeps: the requests a dry run would have sent, and reconcile reports.

use diesel::prelude::*;

use super::outbox::enqueue;
use super::schema::{dry_run_requests, reconcile_reports};
use super::{OutboxEntry, OutboxOp, Store, StoreError, now_millis};
use scim::schema::ResourceKind;

/// One request a dry run would have sent to Genesys.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRunRequest {
    pub at: i64,
    pub kind: String,
    pub resource_id: String,
    pub method: String,
    /// Path and query, relative to the Genesys API base.
    pub path: String,
    pub body: Option<serde_json::Value>,
    /// The body depends on a read made first: these are the desired values, of which only those
    /// that differ from what Genesys holds are sent.
    pub body_after_read: bool,
    /// What the dry run found out beyond the request (an adoption, what it could not check);
    /// on a row with an empty `method`, why nothing would be sent (a collision: the change
    /// would be parked).
    pub note: Option<String>,
}

/// A `dry_run_requests` row: at, kind, resource id, method, path, body, body after read, note.
type DryRunRow = (i64, String, String, String, String, Option<String>, bool, Option<String>);

/// How many dry-run requests are kept (the oldest are dropped beyond).
const DRY_RUN_KEPT: i64 = 100_000;

impl Store {
    /// Record what a dry run would have sent for `entry`, and take the change as handled (the
    /// row is removed unless a newer change arrived meanwhile), in one transaction.
    pub fn dry_run_record(&self, entry: &OutboxEntry, requests: Vec<DryRunRequest>) -> Result<(), StoreError> {
        let done = entry.clone();
        self.write(move |conn| {
            for r in &requests {
                diesel::insert_into(dry_run_requests::table)
                    .values((
                        dry_run_requests::at.eq(r.at),
                        dry_run_requests::kind.eq(&r.kind),
                        dry_run_requests::resource_id.eq(&r.resource_id),
                        dry_run_requests::method.eq(&r.method),
                        dry_run_requests::path.eq(&r.path),
                        dry_run_requests::body.eq(r.body.as_ref().map(|b| b.to_string())),
                        dry_run_requests::body_after_read.eq(r.body_after_read),
                        dry_run_requests::note.eq(&r.note),
                    ))
                    .execute(conn)?;
            }
            let newest: Option<i64> =
                dry_run_requests::table.select(diesel::dsl::max(dry_run_requests::seq)).first(conn)?;
            if let Some(newest) = newest {
                diesel::delete(dry_run_requests::table.filter(dry_run_requests::seq.le(newest - DRY_RUN_KEPT)))
                    .execute(conn)?;
            }
            super::outbox::complete_in(conn, &done)?;
            Ok(())
        })
    }

    /// The recorded dry-run requests, oldest first (the last `limit`).
    pub fn dry_run_requests(&self, limit: i64) -> Result<Vec<DryRunRequest>, StoreError> {
        let mut conn = self.reader()?;
        let mut rows: Vec<DryRunRow> = dry_run_requests::table
            .select((
                dry_run_requests::at,
                dry_run_requests::kind,
                dry_run_requests::resource_id,
                dry_run_requests::method,
                dry_run_requests::path,
                dry_run_requests::body,
                dry_run_requests::body_after_read,
                dry_run_requests::note,
            ))
            .order(dry_run_requests::seq.desc())
            .limit(limit)
            .load(&mut conn)?;
        rows.reverse();
        Ok(rows
            .into_iter()
            .map(|(at, kind, resource_id, method, path, body, body_after_read, note)| DryRunRequest {
                at,
                kind,
                resource_id,
                method,
                path,
                body: body.and_then(|b| serde_json::from_str(&b).ok()),
                body_after_read,
                note,
            })
            .collect())
    }

    /// Whether a dry run already recorded requests for this resource (then, had they been
    /// sent, Genesys would hold it: the next change is an update).
    pub fn dry_run_seen(&self, resource_id: &str) -> Result<bool, StoreError> {
        let mut conn = self.reader()?;
        let n: i64 = dry_run_requests::table
            .filter(dry_run_requests::resource_id.eq(resource_id))
            .filter(dry_run_requests::method.eq("POST"))
            .count()
            .get_result(&mut conn)?;
        Ok(n > 0)
    }

    /// Keep a reconcile report (JSON).
    pub fn save_reconcile_report(&self, report: &serde_json::Value) -> Result<(), StoreError> {
        let text = report.to_string();
        self.write(move |conn| {
            diesel::insert_into(reconcile_reports::table)
                .values((reconcile_reports::at.eq(now_millis()), reconcile_reports::report.eq(&text)))
                .execute(conn)?;
            // Keep the last 50.
            let newest: Option<i64> =
                reconcile_reports::table.select(diesel::dsl::max(reconcile_reports::seq)).first(conn)?;
            if let Some(newest) = newest {
                diesel::delete(reconcile_reports::table.filter(reconcile_reports::seq.le(newest - 50)))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// The last reconcile report and when it was made.
    pub fn last_reconcile_report(&self) -> Result<Option<(i64, serde_json::Value)>, StoreError> {
        let mut conn = self.reader()?;
        let row: Option<(i64, String)> = reconcile_reports::table
            .select((reconcile_reports::at, reconcile_reports::report))
            .order(reconcile_reports::seq.desc())
            .first(&mut conn)
            .optional()?;
        Ok(row.and_then(|(at, r)| serde_json::from_str(&r).ok().map(|v| (at, v))))
    }

    /// Queue a sync of existing resources (reconcile `--apply`): each gets a pending change as
    /// if the IdP had just written it. Returns how many were queued.
    pub fn outbox_sync(&self, kind: ResourceKind, ids: Vec<String>) -> Result<usize, StoreError> {
        self.write(move |conn| {
            let now = now_millis();
            for id in &ids {
                enqueue(conn, kind, id, OutboxOp::Sync, None, now)?;
            }
            Ok(ids.len())
        })
    }
}
