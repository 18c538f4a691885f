//! The audit trail (`audit_log`, docs/audit.md): who changed which User or Group, how, when,
//! from which address and under which request id.
//!
//! A row is inserted by the write it records, in the same transaction (`resources`:
//! `insert_new`, `Ready::execute`, `delete_rows`; so also each operation of a Bulk request): a
//! change is never without its row, and a write that failed leaves none. Reads, and writes that
//! change nothing, are not recorded. A row holds no attribute value besides the resource's id and
//! its userName or displayName: a PATCH is recorded by the attribute paths it named, without
//! their value filters (`emails[value eq "…"]` is `emails`).

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use super::db::{DbConn, PgBind};
use super::schema::audit_log;
use super::{Store, StoreError};
use scim::schema::ResourceKind;

/// Who made a request: the credential the bearer authentication matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A stored token (`scim-bridge token create --name NAME`), by its name.
    Token(String),
    /// The configured bootstrap token (`SCIM_BRIDGE_BOOTSTRAP_TOKEN`).
    Bootstrap,
    /// A JWT, by its subject (`sub`; a token without one has none) and issuer (`iss`).
    Jwt { subject: Option<String>, issuer: String },
}

impl Actor {
    /// `token`, `bootstrap` or `jwt`, as `audit_log.actor_type` holds it.
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Token(_) => "token",
            Actor::Bootstrap => "bootstrap",
            Actor::Jwt { .. } => "jwt",
        }
    }

    /// The token's name or the JWT's subject.
    pub fn name(&self) -> Option<&str> {
        match self {
            Actor::Token(name) => Some(name),
            Actor::Bootstrap => None,
            Actor::Jwt { subject, .. } => subject.as_deref(),
        }
    }

    fn issuer(&self) -> Option<&str> {
        match self {
            Actor::Jwt { issuer, .. } => Some(issuer),
            _ => None,
        }
    }

    fn of_row(kind: &str, name: Option<String>, issuer: Option<String>) -> Result<Actor, StoreError> {
        match (kind, name) {
            ("token", Some(name)) => Ok(Actor::Token(name)),
            ("bootstrap", _) => Ok(Actor::Bootstrap),
            ("jwt", subject) => Ok(Actor::Jwt { subject, issuer: issuer.unwrap_or_default() }),
            (other, _) => Err(StoreError::corrupt(format!("audit actor of type {other:?}"))),
        }
    }
}

impl std::fmt::Display for Actor {
    /// `token okta`, `bootstrap`, `jwt 0oa1… (https://issuer)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Token(name) => write!(f, "token {name}"),
            Actor::Bootstrap => f.write_str("bootstrap"),
            Actor::Jwt { subject, issuer } => write!(f, "jwt {} ({issuer})", subject.as_deref().unwrap_or("-")),
        }
    }
}

/// What the trail records of a request beside each of its writes: who, from which address,
/// under which request id (`X-Request-Id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    pub actor: Actor,
    /// The peer's IP address.
    pub address: Option<String>,
    pub request_id: Option<String>,
}

/// A write as the trail names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOp {
    Create,
    Replace,
    Patch,
    Delete,
}

impl AuditOp {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOp::Create => "create",
            AuditOp::Replace => "replace",
            AuditOp::Patch => "patch",
            AuditOp::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Result<AuditOp, StoreError> {
        match s {
            "create" => Ok(AuditOp::Create),
            "replace" => Ok(AuditOp::Replace),
            "patch" => Ok(AuditOp::Patch),
            "delete" => Ok(AuditOp::Delete),
            other => Err(StoreError::corrupt(format!("audit op {other:?}"))),
        }
    }
}

/// The request a write belongs to, as the write functions take it: its context, and whether
/// the write is an operation of a Bulk request.
#[derive(Clone, Copy)]
pub(crate) struct Audit<'a> {
    pub ctx: &'a AuditContext,
    pub bulk: bool,
}

/// What one write did to one resource, for its row.
pub(crate) struct Change<'a> {
    pub op: AuditOp,
    pub kind: ResourceKind,
    pub id: &'a str,
    /// userName (users) or displayName (groups).
    pub name: Option<&'a str>,
    /// The version after the write (none after a delete).
    pub version: Option<i64>,
    /// PATCH: the attribute paths, as a JSON array.
    pub paths: Option<&'a str>,
}

/// Insert the row of `change` inside the caller's write transaction: one statement.
pub(crate) fn record(conn: &mut DbConn, audit: Audit<'_>, change: Change<'_>, now: i64) -> Result<(), StoreError> {
    let ctx = audit.ctx;
    let row = (
        audit_log::at.eq(now),
        audit_log::op.eq(change.op.as_str()),
        audit_log::bulk.eq(audit.bulk),
        audit_log::kind.eq(change.kind.as_str()),
        audit_log::resource_id.eq(change.id),
        audit_log::name.eq(change.name),
        audit_log::version.eq(change.version),
        audit_log::paths.eq(change.paths),
        audit_log::actor_type.eq(ctx.actor.kind()),
        audit_log::actor.eq(ctx.actor.name()),
        audit_log::issuer.eq(ctx.actor.issuer()),
        audit_log::address.eq(ctx.address.as_deref()),
        audit_log::request_id.eq(ctx.request_id.as_deref()),
    );
    // On the backend's own connection, as `outbox::enqueue_created`: the statement is prepared
    // once per connection.
    super::db::each!(conn, |conn| diesel::insert_into(audit_log::table).values(row).execute(conn))?;
    Ok(())
}

/// The values of [`record`]'s row, for PostgreSQL statements that insert it together with the
/// write it records, in this column order: `at, op, bulk, kind, resource_id, name, version,
/// paths, actor_type, actor, issuer, address, request_id`.
pub(crate) fn pg_binds<'a>(audit: Audit<'a>, change: Change<'a>, now: i64) -> [PgBind<'a>; 13] {
    let ctx = audit.ctx;
    [
        PgBind::Int(now),
        PgBind::Text(change.op.as_str()),
        PgBind::Bool(audit.bulk),
        PgBind::Text(change.kind.as_str()),
        PgBind::Text(change.id),
        PgBind::OptText(change.name),
        PgBind::OptInt(change.version),
        PgBind::OptText(change.paths),
        PgBind::Text(ctx.actor.kind()),
        PgBind::OptText(ctx.actor.name()),
        PgBind::OptText(ctx.actor.issuer()),
        PgBind::OptText(ctx.address.as_deref()),
        PgBind::OptText(ctx.request_id.as_deref()),
    ]
}

/// A row of the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    pub op: AuditOp,
    pub bulk: bool,
    pub kind: ResourceKind,
    pub resource_id: String,
    pub name: Option<String>,
    pub version: Option<i64>,
    pub paths: Vec<String>,
    pub actor: Actor,
    pub address: Option<String>,
    pub request_id: Option<String>,
}

/// Which rows to read: each filter given must match; the newest `limit` rows that do.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// A resource id, or a userName or displayName (case-insensitively).
    pub resource: Option<String>,
    /// A token name or JWT subject; `bootstrap` also finds the bootstrap token.
    pub actor: Option<String>,
    /// At or after (milliseconds since the epoch).
    pub since: Option<i64>,
    /// Before (milliseconds since the epoch).
    pub until: Option<i64>,
    pub limit: i64,
}

type AuditRow = (
    i64,
    i64,
    String,
    bool,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

diesel::define_sql_function! {
    /// Lower-case (both databases have it; both sides of a comparison go through it).
    fn lower(x: Nullable<Text>) -> Nullable<Text>;
}

fn entry(row: AuditRow) -> Result<AuditEntry, StoreError> {
    let (seq, at, op, bulk, kind, resource_id, name, version, paths, actor_type, actor, issuer, address, request_id) =
        row;
    let kind = match kind.as_str() {
        "User" => ResourceKind::User,
        "Group" => ResourceKind::Group,
        other => return Err(StoreError::corrupt(format!("audit kind {other:?}"))),
    };
    let paths = match paths {
        Some(text) => serde_json::from_str(&text).map_err(StoreError::corrupt)?,
        None => Vec::new(),
    };
    Ok(AuditEntry {
        seq,
        at,
        op: AuditOp::parse(&op)?,
        bulk,
        kind,
        resource_id,
        name,
        version,
        paths,
        actor: Actor::of_row(&actor_type, actor, issuer)?,
        address,
        request_id,
    })
}

impl Store {
    /// The newest rows of the trail matching `query`, newest first.
    pub fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut conn = self.reader()?;
        let mut q = audit_log::table.into_boxed();
        if let Some(resource) = &query.resource {
            q = q.filter(
                audit_log::resource_id
                    .eq(resource.clone())
                    .or(lower(audit_log::name).eq(lower(Some(resource.clone()))).assume_not_null()),
            );
        }
        if let Some(actor) = &query.actor {
            q = if actor == "bootstrap" {
                q.filter(audit_log::actor.eq(actor.clone()).or(audit_log::actor_type.eq("bootstrap")))
            } else {
                q.filter(audit_log::actor.eq(actor.clone()))
            };
        }
        if let Some(since) = query.since {
            q = q.filter(audit_log::at.ge(since));
        }
        if let Some(until) = query.until {
            q = q.filter(audit_log::at.lt(until));
        }
        let rows: Vec<AuditRow> = q
            .select((
                audit_log::seq,
                audit_log::at,
                audit_log::op,
                audit_log::bulk,
                audit_log::kind,
                audit_log::resource_id,
                audit_log::name,
                audit_log::version,
                audit_log::paths,
                audit_log::actor_type,
                audit_log::actor,
                audit_log::issuer,
                audit_log::address,
                audit_log::request_id,
            ))
            .order(audit_log::seq.desc())
            .limit(query.limit.max(0))
            .load(&mut conn)?;
        rows.into_iter().map(entry).collect()
    }

    /// Delete the rows older than `before` (milliseconds since the epoch); how many went.
    pub fn audit_prune(&self, before: i64) -> Result<usize, StoreError> {
        self.write(move |conn| Ok(diesel::delete(audit_log::table.filter(audit_log::at.lt(before))).execute(conn)?))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{BulkDone, BulkItem, BulkWrite, test_database};
    use scim::bulk::Ledger;
    use scim::patch;
    use scim::resource;
    use scim::schema::registry;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&test_database(dir.path(), "audit.db").unwrap()).unwrap();
        (dir, store)
    }

    fn ctx() -> AuditContext {
        AuditContext {
            actor: Actor::Jwt { subject: Some("client-1".into()), issuer: "https://idp.example.com".into() },
            address: Some("192.0.2.7".into()),
            request_id: Some("req-1".into()),
        }
    }

    fn user(name: &str) -> serde_json::Value {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
               "emails": [{"value": name}], "phoneNumbers": [{"value": "+14155550100", "type": "work"}]})
    }

    fn all(store: &Store) -> Vec<AuditEntry> {
        let mut rows = store.audit_entries(&AuditQuery { limit: 1000, ..AuditQuery::default() }).unwrap();
        rows.reverse();
        rows
    }

    #[test]
    fn each_write_leaves_one_row_and_a_failed_or_empty_write_none() {
        let (_d, store) = store();
        let rt = &registry().user;
        let jane = store.create(rt, resource::prepare_create(rt, user("jane@example.com")).unwrap(), &ctx()).unwrap();
        let rows = all(&store);
        assert_eq!(rows.len(), 1);
        let first = &rows[0];
        assert_eq!((first.op, first.bulk, first.kind), (AuditOp::Create, false, ResourceKind::User));
        assert_eq!(
            (first.resource_id.as_str(), first.name.as_deref(), first.version),
            (jane.id.as_str(), Some("jane@example.com"), Some(1))
        );
        assert_eq!(first.actor, ctx().actor);
        assert_eq!((first.address.as_deref(), first.request_id.as_deref()), (Some("192.0.2.7"), Some("req-1")));

        // Refused writes: a taken userName, a bad PATCH value, a stale If-Match, an unknown id.
        let taken = resource::prepare_create(rt, user("JANE@example.com")).unwrap();
        assert!(matches!(store.create(rt, taken, &ctx()), Err(StoreError::Conflict { .. })));
        let bad =
            patch::parse_patch(rt, &json!({"Operations": [{"op": "replace", "path": "active", "value": "maybe"}]}))
                .unwrap();
        assert!(store.patch(rt, &jane.id, None, &bad, &ctx()).is_err());
        let stale = store.replace(rt, &jane.id, Some("W/\"9\""), user("jane@example.com"), &ctx());
        assert!(matches!(stale, Err(StoreError::PreconditionFailed { .. })));
        assert!(store.delete(ResourceKind::User, "nobody", None, &ctx()).is_err());
        // A PATCH that changes nothing writes nothing.
        let same = patch::parse_patch(
            rt,
            &json!({"Operations": [{"op": "replace", "path": "userName", "value": "jane@example.com"}]}),
        )
        .unwrap();
        assert!(!store.patch(rt, &jane.id, None, &same, &ctx()).unwrap().changed);
        assert_eq!(all(&store).len(), 1, "no row for a write that failed or changed nothing");

        let req = patch::parse_patch(
            rt,
            &json!({"Operations": [{"op": "replace", "path": "emails[value eq \"jane@example.com\"].value", "value": "j@example.org"},
                                   {"op": "replace", "value": {"phoneNumbers": [{"value": "+14155550199"}], "active": false}}]}),
        )
        .unwrap();
        store.patch(rt, &jane.id, None, &req, &ctx()).unwrap();
        store.replace(rt, &jane.id, None, user("jane.doe@example.com"), &ctx()).unwrap();
        store.delete(ResourceKind::User, &jane.id, None, &ctx()).unwrap();
        let rows = all(&store);
        let ops: Vec<_> = rows.iter().map(|r| (r.op, r.version, r.name.clone().unwrap_or_default())).collect();
        assert_eq!(
            ops,
            vec![
                (AuditOp::Create, Some(1), "jane@example.com".into()),
                (AuditOp::Patch, Some(2), "jane@example.com".into()),
                (AuditOp::Replace, Some(3), "jane.doe@example.com".into()),
                (AuditOp::Delete, None, "jane.doe@example.com".into()),
            ]
        );
        assert_eq!(rows[1].paths, vec!["emails.value", "phoneNumbers", "active"]);
        assert!(rows[0].paths.is_empty() && rows[2].paths.is_empty());
        // Filters: by id, by name in any case, by actor, by time.
        let find = |q: AuditQuery| store.audit_entries(&AuditQuery { limit: 100, ..q }).unwrap().len();
        assert_eq!(find(AuditQuery { resource: Some(jane.id.clone()), ..AuditQuery::default() }), 4);
        assert_eq!(find(AuditQuery { resource: Some("JANE.DOE@example.com".into()), ..AuditQuery::default() }), 2);
        assert_eq!(find(AuditQuery { actor: Some("client-1".into()), ..AuditQuery::default() }), 4);
        assert_eq!(find(AuditQuery { actor: Some("bootstrap".into()), ..AuditQuery::default() }), 0);
        assert_eq!(find(AuditQuery { since: Some(rows[3].at + 1), ..AuditQuery::default() }), 0);
        assert_eq!(find(AuditQuery { until: Some(rows[0].at), ..AuditQuery::default() }), 0);
        let newest = store.audit_entries(&AuditQuery { limit: 2, ..AuditQuery::default() }).unwrap();
        assert_eq!(newest.iter().map(|r| r.op).collect::<Vec<_>>(), [AuditOp::Delete, AuditOp::Replace]);
        assert_eq!(store.audit_prune(rows[3].at + 1).unwrap(), 4);
        assert!(all(&store).is_empty());
    }

    #[test]
    fn bulk_operations_are_recorded_each_and_failed_ones_not() {
        let (_d, store) = store();
        let rt = &registry().user;
        let create = |op: usize, name: &str| BulkItem {
            op,
            needs: Vec::new(),
            if_match: None,
            write: Ok(BulkWrite::Create {
                kind: ResourceKind::User,
                id: format!("id-{op}"),
                prepared: resource::prepare_create(rt, user(name)).unwrap(),
            }),
        };
        let items = vec![create(0, "a@example.com"), create(1, "A@example.com"), create(2, "b@example.com")];
        let results = store.bulk(items, &Ledger::new(3, None), &ctx()).unwrap();
        assert!(matches!(results[1].1, Err(StoreError::Conflict { .. })));
        let rows = all(&store);
        let recorded: Vec<_> = rows.iter().map(|r| (r.op, r.bulk, r.resource_id.as_str())).collect();
        assert_eq!(recorded, vec![(AuditOp::Create, true, "id-0"), (AuditOp::Create, true, "id-2")]);
        let items = vec![BulkItem {
            op: 0,
            needs: Vec::new(),
            if_match: None,
            write: Ok(BulkWrite::Delete { kind: ResourceKind::User, id: "id-0".into() }),
        }];
        let results = store.bulk(items, &Ledger::new(1, None), &ctx()).unwrap();
        assert!(matches!(results[0].1, Ok(BulkDone::Deleted)));
        assert_eq!(all(&store).last().map(|r| (r.op, r.bulk)), Some((AuditOp::Delete, true)));
    }

    /// The row is written in the write's own transaction: when it cannot be written, nothing of
    /// the write is kept (no resource, no outbox change), alone or in a Bulk request.
    #[test]
    fn a_write_whose_row_cannot_be_written_is_not_made() {
        let (_d, store) = store();
        let rt = &registry().user;
        let kept = store.create(rt, resource::prepare_create(rt, user("kept@example.com")).unwrap(), &ctx()).unwrap();
        let before = store.outbox_pending().unwrap().len();
        {
            let mut conn = store.reader().unwrap();
            diesel::sql_query("DROP TABLE audit_log").execute(&mut *conn).unwrap();
        }
        let lost = store.create(rt, resource::prepare_create(rt, user("lost@example.com")).unwrap(), &ctx());
        assert!(matches!(lost, Err(StoreError::Internal(_))), "{lost:?}");
        let req = patch::parse_patch(rt, &json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}))
            .unwrap();
        assert!(store.patch(rt, &kept.id, None, &req, &ctx()).is_err());
        assert!(store.delete(ResourceKind::User, &kept.id, None, &ctx()).is_err());
        let item = BulkItem {
            op: 0,
            needs: Vec::new(),
            if_match: None,
            write: Ok(BulkWrite::Create {
                kind: ResourceKind::User,
                id: "bulk-lost".into(),
                prepared: resource::prepare_create(rt, user("bulk@example.com")).unwrap(),
            }),
        };
        let results = store.bulk(vec![item], &Ledger::new(1, None), &ctx()).unwrap();
        assert!(results[0].1.is_err());
        let mut conn = store.reader().unwrap();
        let users: i64 = crate::store::schema::resources::table.count().get_result(&mut *conn).unwrap();
        assert_eq!(users, 1, "only the user created before");
        let current = store.get(ResourceKind::User, &kept.id).unwrap();
        assert_eq!((current.version, current.doc.get("active")), (1, None), "the PATCH was not made");
        assert_eq!(store.outbox_pending().unwrap().len(), before, "no change queued for Genesys");
    }
}
