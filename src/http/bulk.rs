//! `POST /Bulk` (RFC 7644 §3.7): `scim::bulk` plans the request, the store runs it in batched
//! transactions (each operation in its own savepoint), and the answer lists each operation's
//! outcome. Every write goes through the same store calls, and so the same outbox, as the single
//! request would.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::AppState;
use super::error::{ApiError, SCIM_CONTENT_TYPE, error_response, scim_error_of};
use super::request::{audit_context, base_url, json_body_within};
use crate::store::{AuditContext, BulkDone, BulkItem, BulkWrite};
use scim::ScimError;
use scim::bulk::{self, Action, Ledger, Outcome, Planned};
use scim::patch;
use scim::resource;

/// Steps per transaction: a whole request of the default `maxOperations` (a commit, and the
/// work of handing a batch to the writer, serve all of it: 250 a batch ran 1,000 creates at two
/// thirds of the rate), and small enough that the SQLite writer is held for tens of
/// milliseconds, not seconds, by one request.
const BATCH: usize = 1000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/Bulk").route(web::post().to(post_bulk)).default_service(web::to(|| async {
        let mut resp = error_response(&ScimError::method_not_allowed("/Bulk accepts POST only"));
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        resp
    })));
}

async fn post_bulk(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (max_operations, max_bytes) = (state.config.bulk_max_operations, state.config.bulk_max_payload_bytes);
    let limit_name = format!(
        "ServiceProviderConfig bulk.maxPayloadSize, SCIM_BRIDGE_BULK_MAX_PAYLOAD_BYTES; at most {max_operations} \
         operations per request: split it"
    );
    let body = json_body_within(&req, payload, max_bytes, &limit_name).await?;
    let base = base_url(&req, &state);
    let ctx = audit_context(&req)?;
    let s = state.clone();
    let answer = web::block(move || run(&s, &base, body, max_operations, &ctx)).await??;
    Ok(HttpResponse::Ok().content_type(SCIM_CONTENT_TYPE).body(answer.to_string()))
}

/// What the response needs of a step besides its result.
struct Meta {
    op: usize,
    create: bool,
    completes: bool,
    location: String,
}

fn run(
    state: &AppState,
    base: &str,
    body: Value,
    max_operations: usize,
    ctx: &AuditContext,
) -> Result<Value, ApiError> {
    let plan = bulk::plan_bulk(body, max_operations, crate::store::new_id)?;
    let n = plan.echoes.len();
    let mut ledger = Ledger::new(n, plan.fail_on_errors);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
    let mut steps = plan.steps.into_iter().peekable();
    let (mut created, mut failed) = (0usize, 0usize);
    while steps.peek().is_some() && !ledger.stopped() {
        let mut items = Vec::with_capacity(BATCH);
        let mut metas = Vec::with_capacity(BATCH);
        for planned in steps.by_ref().take(BATCH) {
            let (item, meta) = item_of(base, planned);
            items.push(item);
            metas.push(meta);
        }
        let results = match state.store.bulk(items, &ledger, ctx) {
            Ok(results) => results,
            Err(e) => {
                // Nothing of this batch was committed: each of its operations says so, and
                // nothing more runs (the database is unwell).
                let e = scim_error_of(e);
                for meta in metas {
                    failed += 1;
                    let location = (!meta.create || meta.completes).then(|| meta.location.clone());
                    outcomes[meta.op] =
                        Some(Outcome { status: e.status, location, version: None, error: Some(e.clone()) });
                }
                break;
            }
        };
        for ((op, result), meta) in results.into_iter().zip(metas) {
            debug_assert_eq!(op, meta.op);
            ledger.record(op, result.is_ok());
            let outcome = match result {
                Ok(BulkDone::Stored(res)) => {
                    created += usize::from(meta.create && !meta.completes);
                    let status = if meta.create { 201 } else { 200 };
                    Outcome { status, location: Some(meta.location), version: Some(res.etag()), error: None }
                }
                Ok(BulkDone::Deleted) => {
                    Outcome { status: 204, location: Some(meta.location), version: None, error: None }
                }
                Err(e) => {
                    failed += 1;
                    let e = scim_error_of(e);
                    // A failed POST has no location (§3.7.3), unless it was created and only
                    // the members of a circular reference failed to follow.
                    let location = (!meta.create || meta.completes).then_some(meta.location);
                    Outcome { status: e.status, location, version: None, error: Some(e) }
                }
            };
            outcomes[op] = Some(outcome);
        }
    }
    tracing::info!(bulk.operations = n, bulk.created = created, bulk.failed = failed, "bulk");
    Ok(bulk::bulk_response(&plan.echoes, &outcomes))
}

/// A planned step as the store takes it: its input checked as the single request's would be.
fn item_of(base: &str, planned: Planned) -> (BulkItem, Meta) {
    let step = match planned {
        Planned::Run(step) => step,
        Planned::Fail { op, error } => {
            let meta = Meta { op, create: true, completes: false, location: String::new() };
            return (BulkItem { op, needs: Vec::new(), if_match: None, write: Err(error) }, meta);
        }
    };
    let kind = step.action.kind();
    let rt = kind.resource_type();
    let meta = Meta {
        op: step.op,
        create: matches!(step.action, Action::Create { .. }) || step.completes,
        completes: step.completes,
        location: format!("{base}{}/{}", rt.endpoint(), step.action.id()),
    };
    let write = match step.action {
        Action::Create { id, data, .. } => {
            resource::prepare_create(rt, data).map(|prepared| BulkWrite::Create { kind, id, prepared })
        }
        Action::Replace { id, data, .. } => Ok(BulkWrite::Replace { kind, id, body: data }),
        Action::Patch { id, data, .. } => patch::parse_patch(rt, &data).map(|req| BulkWrite::Patch { kind, id, req }),
        Action::Delete { id, .. } => Ok(BulkWrite::Delete { kind, id }),
    };
    (BulkItem { op: step.op, needs: step.needs, if_match: step.if_match, write }, meta)
}
