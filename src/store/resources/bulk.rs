//! Bulk writes (RFC 7644 §3.7): many operations in one transaction, each in its own savepoint,
//! so each keeps its own outcome and one commit serves them all.

use std::sync::Arc;

use crate::store::db::DbConn;
use diesel::Connection;

use crate::store::{Store, StoreError, now_millis};
use scim::ScimError;
use scim::bulk::Ledger;
use scim::patch::PatchRequest;
use scim::resource::Prepared;
use scim::schema::ResourceKind;

use super::*;

/// One write of a Bulk request, its input already validated as the single request's would be.
pub enum BulkWrite {
    /// POST, with the id the plan assigned.
    Create {
        kind: ResourceKind,
        id: String,
        prepared: Prepared,
    },
    Replace {
        kind: ResourceKind,
        id: String,
        body: Value,
    },
    Patch {
        kind: ResourceKind,
        id: String,
        req: PatchRequest,
    },
    Delete {
        kind: ResourceKind,
        id: String,
    },
}

/// A step to run: the operation it belongs to, the POSTs it needs, its If-Match, and the write
/// (or why its input was refused before it could run).
pub struct BulkItem {
    pub op: usize,
    pub needs: Vec<(usize, String)>,
    pub if_match: Option<String>,
    pub write: Result<BulkWrite, ScimError>,
}

/// A step's operation and what it did.
pub type BulkResult = (usize, Result<BulkDone, StoreError>);

/// What a step did.
#[derive(Debug)]
pub enum BulkDone {
    /// Created or rewritten: the resource as stored afterwards.
    Stored(StoredResource),
    Deleted,
}

/// A write ready for the writer: creates are worked out before (as single creates are).
enum Ready1 {
    Create(Box<(NewResource, Map<String, Value>)>),
    Rewrite { kind: ResourceKind, id: String, plan: Arc<PlanFn> },
    Delete { kind: ResourceKind, id: String },
}

impl Store {
    /// Run `items` in order, in one transaction (a batch of the writer's, on SQLite), each in a
    /// savepoint of its own: a failed step leaves no trace and does not fail the others. A step
    /// whose needed POST failed fails with 409 without running; after `failOnErrors` failures
    /// (counted in `ledger`, which holds the earlier batches) nothing more runs, and the result
    /// holds the steps that ran. Every write enqueues what the single request would, and records
    /// its audit row under `ctx`, marked as a Bulk operation.
    pub fn bulk(
        &self,
        items: Vec<BulkItem>,
        ledger: &Ledger,
        ctx: &AuditContext,
    ) -> Result<Vec<BulkResult>, StoreError> {
        let mut prepared = Vec::with_capacity(items.len());
        for item in items {
            let ready = item.write.map_err(StoreError::Invalid).and_then(|w| self.ready(w));
            prepared.push((item.op, item.needs, item.if_match, ready));
        }
        let prepared = Arc::new(prepared);
        let ctx = Arc::new(ctx.clone());
        // First without a savepoint per step (SQLite's savepoints cost more than the writes):
        // every way a step can fail is checked before it writes. Should a step still fail once
        // it started writing, the batch is rolled back and run again, a savepoint per step.
        match self.run_batch(&prepared, ledger, &ctx, false) {
            Err(Late) => self
                .run_batch(&prepared, ledger, &ctx, true)
                .map_err(|Late| StoreError::Internal("a bulk batch failed part-way with savepoints".into()))?,
            Ok(done) => done,
        }
    }

    fn run_batch(
        &self,
        prepared: &Arc<Vec<Prepared1>>,
        ledger: &Ledger,
        ctx: &Arc<AuditContext>,
        savepoints: bool,
    ) -> Result<Result<Vec<BulkResult>, StoreError>, Late> {
        let (prepared, ledger, ctx) = (prepared.clone(), ledger.clone(), ctx.clone());
        let late = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = late.clone();
        let result = self.write(move |conn| {
            let mut ledger = ledger.clone();
            let mut out = Vec::with_capacity(prepared.len());
            let mut counts = CountDeltas::default();
            let now = now_millis();
            let audit = Audit { ctx: &ctx, bulk: true };
            for (op, needs, if_match, ready) in prepared.iter() {
                if ledger.stopped() {
                    break;
                }
                let result = match (ready, ledger.blocked(needs)) {
                    (Err(e), _) => Err(e.clone()),
                    (Ok(_), Some(e)) => Err(StoreError::Invalid(e)),
                    (Ok(ready), None) if savepoints => conn
                        .transaction(|c| run(c, ready, if_match.as_deref(), now, audit).map_err(Failure::into_error))
                        .map(|(done, step_counts)| {
                            counts.merge(step_counts);
                            done
                        }),
                    (Ok(ready), None) => match run(conn, ready, if_match.as_deref(), now, audit) {
                        Ok((done, step_counts)) => {
                            counts.merge(step_counts);
                            Ok(done)
                        }
                        Err(Failure::Early(e)) => Err(e),
                        Err(Failure::Late(e)) => {
                            seen.store(true, std::sync::atomic::Ordering::Relaxed);
                            return Err(e);
                        }
                    },
                };
                // A deadlock or serialization failure (PostgreSQL) is the whole batch's: it runs again.
                if let Err(e) = &result
                    && e.is_contention()
                {
                    return Err(e.clone());
                }
                ledger.record(*op, result.is_ok());
                out.push((*op, result));
            }
            counts.apply(conn)?;
            Ok(out)
        });
        match result {
            Err(e) if late.load(std::sync::atomic::Ordering::Relaxed) && !e.is_contention() => Err(Late),
            other => Ok(other),
        }
    }

    fn ready(&self, write: BulkWrite) -> Result<Ready1, StoreError> {
        Ok(match write {
            BulkWrite::Create { kind, id, prepared } => {
                let (new, doc) = self.new_resource(kind, id, prepared)?;
                Ready1::Create(Box::new((new, doc)))
            }
            BulkWrite::Replace { kind, id, body } => {
                Ready1::Rewrite { kind, id, plan: self.checked(kind, replace_plan(kind, body)) }
            }
            BulkWrite::Patch { kind, id, req } => {
                Ready1::Rewrite { kind, id, plan: self.checked(kind, patch_plan(kind, req)) }
            }
            BulkWrite::Delete { kind, id } => Ready1::Delete { kind, id },
        })
    }
}

/// A prepared step: its operation, the POSTs it needs, its If-Match, and the write.
type Prepared1 = (usize, Vec<(usize, String)>, Option<String>, Result<Ready1, StoreError>);

/// A batch that must run again with a savepoint per step.
struct Late;

/// How a step failed: before it wrote anything (its own outcome), or after (the batch's).
enum Failure {
    Early(StoreError),
    Late(StoreError),
}

impl Failure {
    fn into_error(self) -> StoreError {
        match self {
            Failure::Early(e) | Failure::Late(e) => e,
        }
    }

    /// A check's error: the caller's (early), or the database's (late: on PostgreSQL a failed
    /// statement spoils the transaction).
    fn check(e: StoreError) -> Failure {
        match e {
            StoreError::Invalid(_)
            | StoreError::NotFound { .. }
            | StoreError::Conflict { .. }
            | StoreError::PreconditionFailed { .. } => Failure::Early(e),
            other => Failure::Late(other),
        }
    }
}

/// Whether another user than `seq` holds this (lower-cased) userName.
fn user_name_held(conn: &mut DbConn, user_name: &str, except: Option<i64>) -> Result<bool, StoreError> {
    let q = resources::table
        .filter(resources::kind.eq(ResourceKind::User.as_str()))
        .filter(resources::user_name.eq(user_name))
        .select(resources::seq);
    let held: Option<i64> = crate::store::db::each!(conn, |conn| q.first(conn).optional())?;
    Ok(held.is_some_and(|s| Some(s) != except))
}

/// Run one step: what it did, and the page-count changes it makes.
fn run(
    conn: &mut DbConn,
    ready: &Ready1,
    if_match: Option<&str>,
    now: i64,
    audit: Audit<'_>,
) -> Result<(BulkDone, CountDeltas), Failure> {
    let mut counts = CountDeltas::default();
    let done = match ready {
        Ready1::Create(created) => {
            let (new, doc) = &**created;
            // PostgreSQL: a failed statement spoils the transaction, so a taken userName is
            // looked for first. SQLite backs out the failed statement alone, and the insert of
            // the resource row (where the only Conflict comes from) is the create's first write.
            let sqlite = !conn.is_postgres();
            if !sqlite
                && let Some(name) = &new.cols.user_name
                && user_name_held(conn, name, None).map_err(Failure::check)?
            {
                return Err(Failure::Early(user_name_taken(new.user_name.as_deref())));
            }
            let seq = insert_new(conn, new, now, &mut counts, audit).map_err(|e| match e {
                StoreError::Conflict { .. } if sqlite => Failure::Early(e),
                e => Failure::Late(e),
            })?;
            BulkDone::Stored(StoredResource {
                kind: new.kind,
                seq,
                id: new.id.clone(),
                created: now,
                last_modified: now,
                version: 1,
                doc: doc.clone().into(),
            })
        }
        Ready1::Rewrite { kind, id, plan } => {
            let current = load_row_locked(conn, *kind, id)
                .map_err(Failure::check)?
                .ok_or_else(|| Failure::Early(not_found(*kind, id)))?;
            check_if_match(&current, if_match).map_err(Failure::Early)?;
            let ready = plan(&current).and_then(|p| Ready::of(*kind, p)).map_err(Failure::check)?;
            if let Some(name) = &ready.cols.user_name
                && columns(*kind, &current.doc).user_name.as_ref() != Some(name)
                && user_name_held(conn, name, Some(current.seq)).map_err(Failure::check)?
            {
                return Err(Failure::Early(user_name_taken(ready.doc.get("userName").and_then(Value::as_str))));
            }
            let written = ready.execute(conn, current, false, audit).map_err(Failure::Late)?;
            written.map(|o| BulkDone::Stored(o.resource)).ok_or_else(|| {
                Failure::Late(StoreError::Internal("an unchecked rewrite reported a version race".into()))
            })?
        }
        Ready1::Delete { kind, id } => {
            let current = load_row(conn, *kind, id)
                .map_err(Failure::check)?
                .ok_or_else(|| Failure::Early(not_found(*kind, id)))?;
            check_if_match(&current, if_match).map_err(Failure::Early)?;
            delete_rows(conn, *kind, id, &current, &mut counts, audit).map_err(Failure::Late)?;
            BulkDone::Deleted
        }
    };
    Ok((done, counts))
}
