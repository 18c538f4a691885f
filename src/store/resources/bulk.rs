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
    /// holds the steps that ran. Every write enqueues what the single request would.
    pub fn bulk(&self, items: Vec<BulkItem>, ledger: &Ledger) -> Result<Vec<BulkResult>, StoreError> {
        let mut prepared = Vec::with_capacity(items.len());
        for item in items {
            let ready = item.write.map_err(StoreError::Invalid).and_then(|w| self.ready(w));
            prepared.push((item.op, item.needs, item.if_match, ready));
        }
        let prepared = Arc::new(prepared);
        let ledger = ledger.clone();
        self.write(move |conn| {
            let mut ledger = ledger.clone();
            let mut out = Vec::with_capacity(prepared.len());
            let now = now_millis();
            for (op, needs, if_match, ready) in prepared.iter() {
                if ledger.stopped() {
                    break;
                }
                let result = match (ready, ledger.blocked(needs)) {
                    (Err(e), _) => Err(e.clone()),
                    (Ok(_), Some(e)) => Err(StoreError::Invalid(e)),
                    (Ok(ready), None) => conn.transaction(|c| run(c, ready, if_match.as_deref(), now)),
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
            Ok(out)
        })
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

fn run(conn: &mut DbConn, ready: &Ready1, if_match: Option<&str>, now: i64) -> Result<BulkDone, StoreError> {
    match ready {
        Ready1::Create(created) => {
            let (new, doc) = &**created;
            let seq = insert_new(conn, new, now)?;
            Ok(BulkDone::Stored(StoredResource {
                kind: new.kind,
                seq,
                id: new.id.clone(),
                created: now,
                last_modified: now,
                version: 1,
                doc: doc.clone(),
            }))
        }
        Ready1::Rewrite { kind, id, plan } => {
            rewrite_locked(conn, *kind, id, if_match, &**plan).map(|o| BulkDone::Stored(o.resource))
        }
        Ready1::Delete { kind, id } => delete_in(conn, *kind, id, if_match).map(|()| BulkDone::Deleted),
    }
}
