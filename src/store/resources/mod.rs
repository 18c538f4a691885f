//! The repository of Users and Groups: one transaction per write, documents plus index columns.

use std::collections::HashMap;

use crate::store::db::DbConn;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::{Map, Value, json};

use super::audit::{self, Audit, AuditContext, AuditOp, Change};
use super::outbox::{self, OutboxOp};
use super::schema::{group_members, page_counts, resource_values, resources};
use super::{Personal, Store, StoreError, format_millis, now_millis};
use scim::filter::Filter;
use scim::list::ListParams;
use scim::patch::{self, MemberChange, PatchRequest};
use scim::resource::{self, Member, Prepared};
use scim::schema::{ResourceKind, ResourceType};

/// Rows per page-count bucket (`seq >> BUCKET_BITS`).
const BUCKET_BITS: u32 = 10;

/// Rows counting each bucket (`page_counts.bucket` is `bucket * COUNT_SHARDS + shard`, the shard
/// the low bits of `seq`): concurrent creates take consecutive seqs and so update different
/// rows, where one row per bucket had every create wait for the one before to commit
/// (PostgreSQL locks an updated row until its transaction ends).
const COUNT_SHARDS: i64 = 16;

/// The `page_counts` key counting row `seq`.
fn count_key(seq: i64) -> i64 {
    (seq >> BUCKET_BITS) * COUNT_SHARDS + (seq & (COUNT_SHARDS - 1))
}

/// The first seq of the bucket a `page_counts` key counts for.
fn bucket_start(key: i64) -> i64 {
    (key / COUNT_SHARDS) << BUCKET_BITS
}

/// A stored resource: its document (without `id`/`meta`) and bookkeeping columns.
#[derive(Debug, Clone)]
pub struct StoredResource {
    pub kind: ResourceKind,
    pub seq: i64,
    pub id: String,
    pub created: i64,
    pub last_modified: i64,
    pub version: i64,
    pub doc: Doc,
}

/// A stored document: as read from the database, its JSON text, parsed into a map on first
/// use (a [`Deref`](std::ops::Deref) to the map). A GET or a page that returns documents as
/// stored never parses them: the response is spliced from the text ([`Doc::text`]), which
/// was a third of a GET's instructions and half a page's (docs/benchmarks.md, issue 14).
#[derive(Clone)]
pub struct Doc {
    /// The text as stored; `None` once the map was changed (it is then the map).
    text: Option<Box<str>>,
    parsed: std::sync::OnceLock<Map<String, Value>>,
}

impl Doc {
    /// A document read from the database. Checked here to be one JSON object (without
    /// building it), so that parsing it later cannot fail.
    pub fn from_stored(text: String) -> Option<Doc> {
        let object = text.trim_start().starts_with('{');
        if !object || serde_json::from_str::<serde::de::IgnoredAny>(&text).is_err() {
            return None;
        }
        Some(Doc { text: Some(text.into_boxed_str()), parsed: std::sync::OnceLock::new() })
    }

    /// The document's JSON text as stored, while the document is unchanged.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The document as a map (parsed now when it was not yet).
    pub fn into_map(mut self) -> Map<String, Value> {
        self.parse();
        self.parsed.take().unwrap_or_default()
    }

    fn parse(&self) -> &Map<String, Value> {
        self.parsed.get_or_init(|| match self.text.as_deref().map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Object(m))) => m,
            // `from_stored` checked the text is one JSON object.
            _ => Map::new(),
        })
    }
}

impl Doc {
    /// A document just written: the map and the JSON text it was stored as (`serde_json` wrote
    /// it from this map, so it is one JSON object), rendered from the text like one read back.
    fn written(map: Map<String, Value>, text: String) -> Doc {
        Doc { text: Some(text.into_boxed_str()), parsed: std::sync::OnceLock::from(map) }
    }
}

impl From<Map<String, Value>> for Doc {
    fn from(map: Map<String, Value>) -> Doc {
        Doc { text: None, parsed: std::sync::OnceLock::from(map) }
    }
}

impl std::ops::Deref for Doc {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Map<String, Value> {
        self.parse()
    }
}

impl std::ops::DerefMut for Doc {
    // `parse` has just filled the cell: `get_mut` cannot be `None`.
    #[allow(clippy::expect_used)]
    fn deref_mut(&mut self) -> &mut Map<String, Value> {
        self.parse();
        self.text = None;
        self.parsed.get_mut().expect("parsed just above")
    }
}

impl std::fmt::Debug for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl StoredResource {
    /// The weak ETag of this version (RFC 7644 §3.14); `meta.version` carries the same value.
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }

    /// The document with `id` and `meta` (without `location`, which depends on the base URL).
    pub fn full_document(&self) -> Map<String, Value> {
        self.clone().into_full_document()
    }

    /// [`full_document`](Self::full_document) without copying the document.
    pub fn into_full_document(self) -> Map<String, Value> {
        let meta = json!({
            "resourceType": self.kind.as_str(),
            "created": format_millis(self.created),
            "lastModified": format_millis(self.last_modified),
            "version": self.etag(),
        });
        let mut out = Map::with_capacity(self.doc.len() + 2);
        let mut rest = self.doc.into_map();
        if let Some(s) = rest.shift_remove("schemas") {
            out.insert("schemas".into(), s);
        }
        out.insert("id".into(), Value::String(self.id));
        out.extend(rest);
        out.insert("meta".into(), meta);
        out
    }
}

/// A member of a group as rendered: its id, its kind, and its display name.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    pub id: String,
    pub kind: MemberKind,
    pub display: Option<String>,
}

/// What a group member is (`members.type`, RFC 7643 §4.2: "User" or "Group").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    User,
    Group,
}

impl MemberKind {
    /// The canonical `members.type`, as stored in `group_members.member_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::User => "User",
            MemberKind::Group => "Group",
        }
    }

    /// A `type` as a client or an older row spells it, case-insensitively; `None` for anything else.
    fn parse(text: &str) -> Option<MemberKind> {
        match text.trim() {
            t if t.eq_ignore_ascii_case("User") => Some(MemberKind::User),
            t if t.eq_ignore_ascii_case("Group") => Some(MemberKind::Group),
            _ => None,
        }
    }

    /// A stored `member_type`. A row holding neither word (older versions kept the type a
    /// PATCH sent) reads as a User, the kind a member of unknown type is given when stored.
    fn of_row(text: &str) -> MemberKind {
        MemberKind::parse(text).unwrap_or(MemberKind::User)
    }
}

impl From<ResourceKind> for MemberKind {
    fn from(kind: ResourceKind) -> Self {
        match kind {
            ResourceKind::User => MemberKind::User,
            ResourceKind::Group => MemberKind::Group,
        }
    }
}

impl From<MemberKind> for ResourceKind {
    fn from(kind: MemberKind) -> Self {
        match kind {
            MemberKind::User => ResourceKind::User,
            MemberKind::Group => ResourceKind::Group,
        }
    }
}

/// A group a user belongs to (the derived, read-only `groups` attribute).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRef {
    pub id: String,
    pub display: Option<String>,
}

/// One page of a list: the whole match count, the resources of the page, and whether more
/// rows follow it.
#[derive(Debug)]
pub struct Page {
    pub total: u64,
    pub resources: Vec<StoredResource>,
    pub more: bool,
}

/// What a write did: the resource as stored afterwards, and whether anything changed.
#[derive(Debug)]
pub struct WriteOutcome {
    pub resource: StoredResource,
    pub changed: bool,
}

#[derive(Debug, Queryable, QueryableByName)]
struct ResourceRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = BigInt)]
    created: i64,
    #[diesel(sql_type = BigInt)]
    last_modified: i64,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    doc: String,
}

/// What a write does to a Group's member rows.
#[derive(Clone)]
enum MemberPlan {
    Keep,
    Replace(Vec<Member>),
    Changes(Vec<MemberChange>),
}

/// A rewrite computed from a current resource, with what the audit trail records of it.
struct Plan {
    doc: Map<String, Value>,
    members: MemberPlan,
    rewrite: Rewrite,
}

/// A rewrite as the audit trail records it: PUT, or PATCH with the attribute paths it named (a
/// JSON array, worked out once per request).
#[derive(Clone)]
enum Rewrite {
    Replace,
    Patch(std::sync::Arc<str>),
}

/// The columns a rewrite sets; `None` leaves a column as it is.
#[derive(AsChangeset)]
#[diesel(table_name = resources)]
struct Changes<'a> {
    user_name: Option<Option<&'a str>>,
    external_id: Option<Option<&'a str>>,
    display_name: Option<Option<&'a str>>,
    active: Option<Option<bool>>,
    last_modified: i64,
    version: i64,
    doc: Option<&'a str>,
}

/// `UPDATE resources SET <changes> WHERE seq = ? [AND version = ?]`. When only the document
/// changed (a changed phone number, title, …: no index column), with a statement of fixed
/// columns, prepared once per connection; diesel prepares an update of optional columns on
/// every execution (its text depends on which are set).
fn update_row(conn: &mut DbConn, seq: i64, expect_version: Option<i64>, changes: &Changes) -> QueryResult<usize> {
    let row = resources::table.filter(resources::seq.eq(seq));
    let doc_only = changes.user_name.is_none()
        && changes.external_id.is_none()
        && changes.display_name.is_none()
        && changes.active.is_none();
    let fixed = |doc| {
        (
            resources::last_modified.eq(changes.last_modified),
            resources::version.eq(changes.version),
            resources::doc.eq(doc),
        )
    };
    match (expect_version, changes.doc.filter(|_| doc_only)) {
        (Some(v), Some(doc)) => crate::store::db::each!(conn, |c| diesel::update(row.filter(resources::version.eq(v)))
            .set(fixed(doc))
            .execute(c)),
        (None, Some(doc)) => crate::store::db::each!(conn, |c| diesel::update(row).set(fixed(doc)).execute(c)),
        (Some(v), None) => diesel::update(row.filter(resources::version.eq(v))).set(changes).execute(conn),
        (None, None) => diesel::update(row).set(changes).execute(conn),
    }
}

/// A plan with its storable document, index columns and JSON text worked out.
#[derive(Clone)]
struct Ready {
    kind: ResourceKind,
    doc: Map<String, Value>,
    cols: Columns,
    text: String,
    members: MemberPlan,
    rewrite: Rewrite,
}

impl Ready {
    fn of(kind: ResourceKind, plan: Plan) -> Result<Ready, StoreError> {
        let doc = storable(plan.doc);
        let cols = columns(kind, &doc);
        let text = serde_json::to_string(&doc).map_err(StoreError::corrupt)?;
        Ok(Ready { kind, doc, cols, text, members: plan.members, rewrite: plan.rewrite })
    }

    fn is_noop(&self, current: &StoredResource) -> bool {
        self.doc == *current.doc && matches!(self.members, MemberPlan::Keep)
    }

    /// Write the plan over `current`, with its audit row. With `check_version`, `None` means
    /// another write changed the resource since `current` was read.
    fn execute(
        self,
        conn: &mut DbConn,
        current: StoredResource,
        check_version: bool,
        audit: Audit<'_>,
    ) -> Result<Option<WriteOutcome>, StoreError> {
        let Ready { kind, doc, cols, text, members, rewrite } = self;
        let seq = current.seq;
        let doc_changed = doc != *current.doc;
        let now = now_millis().max(current.last_modified);
        let version = current.version + 1;
        let user_name = doc.get("userName").and_then(Value::as_str);
        // Only changed columns are set: SQLite rewrites the entries of every index whose column
        // is in the SET list, changed or not.
        let old = columns(kind, &current.doc);
        let changes = Changes {
            user_name: (old.user_name != cols.user_name).then_some(cols.user_name.as_deref()),
            external_id: (old.external_id != cols.external_id).then_some(cols.external_id.as_deref()),
            display_name: (old.display_name != cols.display_name).then_some(cols.display_name.as_deref()),
            active: (old.active != cols.active).then_some(cols.active),
            last_modified: now,
            version,
            doc: doc_changed.then_some(text.as_str()),
        };
        if check_version && doc_changed {
            // Compare-and-swap in the write itself (on PostgreSQL the update locks the row and
            // re-reads the version after any wait): one statement, one round trip, where
            // reading the version first took two. No row: another write came first (or the
            // resource is gone), and the caller plans again.
            let updated =
                update_row(conn, seq, Some(current.version), &changes).map_err(|e| map_unique(e, user_name))?;
            if updated == 0 {
                return Ok(None);
            }
            apply_member_plan(conn, kind, seq, members)?;
        } else {
            if check_version {
                match locked_version(conn, seq)? {
                    None => return Err(not_found(kind, &current.id)),
                    Some(v) if v != current.version => return Ok(None),
                    Some(_) => {}
                }
            }
            let members_changed = apply_member_plan(conn, kind, seq, members)?;
            if !doc_changed && !members_changed {
                return Ok(Some(WriteOutcome { resource: current, changed: false }));
            }
            update_row(conn, seq, None, &changes).map_err(|e| map_unique(e, user_name))?;
        }
        let removed: Vec<_> = old.values.iter().filter(|v| !cols.values.contains(v)).cloned().collect();
        let added: Vec<_> = cols.values.iter().filter(|v| !old.values.contains(v)).cloned().collect();
        replace_values(conn, seq, &removed, &added)?;
        outbox::enqueue(conn, kind, &current.id, OutboxOp::Sync, None, now)?;
        let (op, paths) = match &rewrite {
            Rewrite::Replace => (AuditOp::Replace, None),
            Rewrite::Patch(paths) => (AuditOp::Patch, Some(&**paths)),
        };
        let name = known_as(kind, &doc);
        audit::record(conn, audit, Change { op, kind, id: &current.id, name, version: Some(version), paths }, now)?;
        Ok(Some(WriteOutcome {
            resource: StoredResource { last_modified: now, version, doc: Doc::written(doc, text), ..current },
            changed: true,
        }))
    }
}

impl Ready {
    /// Whether [`execute_pg`](Self::execute_pg) can write this plan: group member rows are
    /// written by [`execute`](Self::execute) alone.
    fn is_single_statement(&self) -> bool {
        matches!(self.members, MemberPlan::Keep)
    }

    /// [`execute`](Self::execute) with `check_version` on PostgreSQL, for a plan without member
    /// changes, as one statement ([`PG_REWRITE`], prepared once per connection) outside any
    /// transaction: a single statement is atomic by itself, and BEGIN, the update, the value
    /// rows, the outbox row, the audit row and COMMIT took six round trips. `None`: another
    /// write changed the resource since `current` was read (or deleted it), nothing was written.
    fn execute_pg(
        self,
        pg: &mut diesel::PgConnection,
        current: StoredResource,
        audit: Audit<'_>,
    ) -> Result<Option<WriteOutcome>, StoreError> {
        use crate::store::db::{PgBind, PgStatement};
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let Ready { kind, doc, cols, text, members: _, rewrite } = self;
        let now = now_millis().max(current.last_modified);
        let version = current.version + 1;
        let user_name = doc.get("userName").and_then(Value::as_str);
        let old = columns(kind, &current.doc);
        let removed: Vec<_> = old.values.iter().filter(|v| !cols.values.contains(v)).collect();
        let added: Vec<_> = cols.values.iter().filter(|v| !old.values.contains(v)).collect();
        fn attrs<'a>(v: &[&'a (&'static str, String)]) -> PgBind<'a> {
            PgBind::TextArray(v.iter().map(|(a, _)| *a).collect())
        }
        fn values<'a>(v: &[&'a (&'static str, String)]) -> PgBind<'a> {
            PgBind::TextArray(v.iter().map(|(_, x)| x.as_str()).collect())
        }
        let (op, paths) = match &rewrite {
            Rewrite::Replace => (AuditOp::Replace, None),
            Rewrite::Patch(paths) => (AuditOp::Patch, Some(&**paths)),
        };
        let name = known_as(kind, &doc);
        let change = Change { op, kind, id: &current.id, name, version: Some(version), paths };
        let mut binds = vec![
            PgBind::OptText(cols.user_name.as_deref()),
            PgBind::OptText(cols.external_id.as_deref()),
            PgBind::OptText(cols.display_name.as_deref()),
            PgBind::OptBool(cols.active),
            PgBind::Int(now),
            PgBind::Int(version),
            PgBind::Text(&text),
            PgBind::Int(current.seq),
            PgBind::Int(current.version),
            attrs(&removed),
            values(&removed),
            attrs(&added),
            values(&added),
            PgBind::Text(kind.as_str()),
            PgBind::Text(&current.id),
            PgBind::Text(kind.as_str()),
            PgBind::Text(&current.id),
            PgBind::Text(OutboxOp::Sync.as_str()),
            PgBind::Int(now),
            PgBind::Int(now),
            PgBind::Int(now),
        ];
        binds.extend(audit::pg_binds(audit, change, now));
        let rows: Vec<Count> = PgStatement::new(PG_REWRITE, binds).load(pg).map_err(|e| map_unique(e, user_name))?;
        if rows.first().is_none_or(|r| r.n == 0) {
            return Ok(None);
        }
        Ok(Some(WriteOutcome {
            resource: StoredResource { last_modified: now, version, doc: Doc::written(doc, text), ..current },
            changed: true,
        }))
    }
}

/// The whole compare-and-swap rewrite of [`Ready::execute_pg`] in one statement: the resource
/// (only if still at the version planned from), its value rows, its outbox row (and the removal
/// of a parked change) and its audit row. Every part but the update reads `upd`, so when the
/// version moved on nothing is written, and `n` is 0.
const PG_REWRITE: &str = "WITH upd AS (UPDATE resources SET user_name = ?, external_id = ?, display_name = ?, \
     active = ?, last_modified = ?, version = ?, doc = ? WHERE seq = ? AND version = ? RETURNING seq), \
     gone AS (DELETE FROM resource_values v USING upd WHERE v.seq = upd.seq \
     AND (v.attr, v.value) IN (SELECT * FROM unnest(?::text[], ?::text[]))), \
     added AS (INSERT INTO resource_values (seq, attr, value) \
     SELECT upd.seq, t.a, t.v FROM upd, unnest(?::text[], ?::text[]) AS t(a, v)), \
     parked AS (DELETE FROM outbox_dead WHERE kind = ? AND resource_id = ? AND EXISTS (SELECT 1 FROM upd)), \
     queued AS (INSERT INTO outbox (kind, resource_id, op, user_name, revision, attempts, not_before, created, updated) \
     SELECT ?, ?, ?, NULL, 1, 0, ?, ?, ? FROM upd \
     ON CONFLICT (kind, resource_id) DO UPDATE SET op = excluded.op, user_name = excluded.user_name, \
     revision = outbox.revision + 1, updated = excluded.updated), \
     audited AS (INSERT INTO audit_log (at, op, bulk, kind, resource_id, name, version, paths, actor_type, actor, \
     issuer, address, request_id) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM upd) \
     SELECT count(*) AS n FROM upd";

/// Apply a member plan; returns whether any row changed.
fn apply_member_plan(conn: &mut DbConn, kind: ResourceKind, seq: i64, plan: MemberPlan) -> Result<bool, StoreError> {
    let rt = kind.resource_type();
    Ok(match plan {
        MemberPlan::Keep => false,
        MemberPlan::Replace(members) => {
            let removed =
                diesel::delete(group_members::table.filter(group_members::group_seq.eq(seq))).execute(conn)?;
            let added = add_members(conn, seq, &members)?;
            removed > 0 || added > 0
        }
        MemberPlan::Changes(changes) => {
            let mut changed = false;
            for change in &changes {
                changed |= apply_member_change(conn, rt, seq, change)?;
            }
            changed
        }
    })
}

/// The columns of a [`ResourceRow`], for diesel queries.
const ROW_SELECT: (
    resources::seq,
    resources::kind,
    resources::id,
    resources::created,
    resources::last_modified,
    resources::version,
    resources::doc,
) = (
    resources::seq,
    resources::kind,
    resources::id,
    resources::created,
    resources::last_modified,
    resources::version,
    resources::doc,
);

/// The same columns in hand-written SQL.
const ROW_COLUMNS: &str = "r.seq, r.kind, r.id, r.created, r.last_modified, r.version, r.doc";

impl ResourceRow {
    fn into_resource(self) -> Result<StoredResource, StoreError> {
        let kind = match self.kind.as_str() {
            "User" => ResourceKind::User,
            "Group" => ResourceKind::Group,
            other => {
                return Err(StoreError::corrupt(format!("unknown kind {other} for {}", self.id)));
            }
        };
        let Some(doc) = Doc::from_stored(self.doc) else {
            return Err(StoreError::corrupt(format!("document of {} is not a JSON object", self.id)));
        };
        Ok(StoredResource {
            kind,
            seq: self.seq,
            id: self.id,
            created: self.created,
            last_modified: self.last_modified,
            version: self.version,
            doc,
        })
    }
}

/// The index columns of a document.
#[derive(Clone)]
struct Columns {
    user_name: Option<String>,
    external_id: Option<String>,
    display_name: Option<String>,
    active: Option<bool>,
    values: Vec<(&'static str, String)>,
}

fn columns(kind: ResourceKind, doc: &Map<String, Value>) -> Columns {
    let text = |k: &str| doc.get(k).and_then(Value::as_str);
    let mut values = Vec::new();
    if kind == ResourceKind::User {
        for attr in ["emails", "phoneNumbers"] {
            for el in doc.get(attr).and_then(Value::as_array).into_iter().flatten() {
                if let Some(v) = el.get("value").and_then(Value::as_str) {
                    let v = v.to_lowercase();
                    if !values.iter().any(|(a, x)| *a == attr && *x == v) {
                        values.push((attr, v));
                    }
                }
            }
        }
    }
    Columns {
        user_name: (kind == ResourceKind::User).then(|| text("userName").map(str::to_lowercase)).flatten(),
        external_id: text("externalId").map(str::to_string),
        display_name: text("displayName").map(str::to_lowercase),
        active: doc.get("active").and_then(Value::as_bool),
        values,
    }
}

/// The id of a new resource: a UUID of version 7 (RFC 9562 §5.7), random but for its leading
/// milliseconds, so that ids created one after another sort one after another. Every index
/// keyed by a resource id (the resources, the outbox, the audit trail) then grows at its right
/// edge, in pages already cached, where random ids spread each insert over the whole tree: at
/// 100,000 users creates kept 0.65 of their speed at 10,000 with random ids (docs/benchmarks.md,
/// issue 14). Clients see an opaque id either way (RFC 7643 §3.1).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Strip what the store keeps in columns rather than in the document.
fn storable(mut doc: Map<String, Value>) -> Map<String, Value> {
    doc.shift_remove("id");
    doc.shift_remove("meta");
    doc.shift_remove("members");
    doc.shift_remove("groups");
    doc
}

/// What a resource is known by besides its id: a user's userName, a group's displayName.
fn known_as(kind: ResourceKind, doc: &Map<String, Value>) -> Option<&str> {
    let key = if kind == ResourceKind::User { "userName" } else { "displayName" };
    doc.get(key).and_then(Value::as_str)
}

fn not_found(kind: ResourceKind, id: &str) -> StoreError {
    StoreError::NotFound { kind, id: id.to_string() }
}

/// The one unique attribute: `userName` (case-insensitively, RFC 7643 §4.1.1).
fn user_name_taken(user_name: Option<&str>) -> StoreError {
    StoreError::Conflict {
        kind: ResourceKind::User,
        key: "userName",
        value: Personal(user_name.unwrap_or_default().to_string()),
    }
}

fn map_unique(e: diesel::result::Error, user_name: Option<&str>) -> StoreError {
    match e {
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
            user_name_taken(user_name)
        }
        other => other.into(),
    }
}

/// Check `If-Match` (RFC 7644 §3.14): `*` matches anything; otherwise one of the listed tags.
fn check_if_match(current: &StoredResource, if_match: Option<&str>) -> Result<(), StoreError> {
    let Some(header) = if_match else {
        return Ok(());
    };
    let etag = current.etag();
    let strong = &etag[2..];
    let ok = header.split(',').map(str::trim).any(|t| t == "*" || t == etag || t == strong);
    if ok {
        Ok(())
    } else {
        Err(StoreError::PreconditionFailed {
            kind: current.kind,
            id: current.id.clone(),
            expected: header.to_string(),
            actual: etag,
        })
    }
}

/// The stored version of row `seq`, locked until the transaction ends on PostgreSQL (where
/// writes run concurrently: a second writer waits, then sees the new version). SQLite's single
/// writer needs no lock.
fn locked_version(conn: &mut DbConn, seq: i64) -> Result<Option<i64>, StoreError> {
    let q = resources::table.filter(resources::seq.eq(seq)).select(resources::version);
    Ok(match conn {
        DbConn::Pg(c) => q.for_update().first(c).optional()?,
        DbConn::Sqlite(c) => q.first(c).optional()?,
    })
}

/// [`load_row`], the row locked until the transaction ends on PostgreSQL (see [`locked_version`]).
fn load_row_locked(conn: &mut DbConn, kind: ResourceKind, id: &str) -> Result<Option<StoredResource>, StoreError> {
    if !could_be_stored(id) {
        return Ok(None);
    }
    let q = resources::table.filter(resources::id.eq(id)).filter(resources::kind.eq(kind.as_str())).select(ROW_SELECT);
    let row = match conn {
        DbConn::Pg(c) => q.for_update().first::<ResourceRow>(c).optional()?,
        DbConn::Sqlite(c) => q.first::<ResourceRow>(c).optional()?,
    };
    row.map(ResourceRow::into_resource).transpose()
}

/// Whether an id from a request could name a stored row: ids never hold U+0000 (which
/// PostgreSQL's text cannot even be compared with; the query would fail).
fn could_be_stored(id: &str) -> bool {
    !id.contains('\0')
}

fn load_row(conn: &mut DbConn, kind: ResourceKind, id: &str) -> Result<Option<StoredResource>, StoreError> {
    if !could_be_stored(id) {
        return Ok(None);
    }
    // On the connection's own type: through `DbConn` (diesel's MultiConnection) every execution
    // builds the statement's SQL text again just to collect its binds. No `LIMIT` either
    // (`id` is unique): nothing to bind but the id and the kind.
    let q = resources::table.filter(resources::id.eq(id)).filter(resources::kind.eq(kind.as_str())).select(ROW_SELECT);
    let rows: Vec<ResourceRow> = crate::store::db::each!(conn, |c| q.load(c))?;
    rows.into_iter().next().map(ResourceRow::into_resource).transpose()
}

/// The page-count changes of a transaction, written together at its end: in key order, so
/// concurrent PostgreSQL transactions take the row locks in one order (no deadlock between two
/// Bulk batches), for as short a time as possible, and once per row however many rows a batch
/// adds (the upsert is also a statement diesel cannot keep prepared).
#[derive(Default)]
pub(super) struct CountDeltas(std::collections::BTreeMap<(&'static str, i64), i64>);

impl CountDeltas {
    fn add(&mut self, kind: ResourceKind, seq: i64, delta: i64) {
        *self.0.entry((kind.as_str(), count_key(seq))).or_default() += delta;
    }

    fn merge(&mut self, other: CountDeltas) {
        for (key, delta) in other.0 {
            *self.0.entry(key).or_default() += delta;
        }
    }

    fn apply(self, conn: &mut DbConn) -> Result<(), StoreError> {
        for ((kind, bucket), delta) in self.0.into_iter().filter(|(_, d)| *d != 0) {
            if let DbConn::Sqlite(lite) = &mut *conn {
                // In the writer's transaction (nothing else writes meanwhile): an update, else an
                // insert, each prepared once per connection (diesel prepares an upsert each time).
                let row = page_counts::table.filter(page_counts::kind.eq(kind)).filter(page_counts::bucket.eq(bucket));
                if diesel::update(row).set(page_counts::n.eq(page_counts::n + delta)).execute(lite)? == 0 {
                    diesel::insert_into(page_counts::table)
                        .values((page_counts::kind.eq(kind), page_counts::bucket.eq(bucket), page_counts::n.eq(delta)))
                        .execute(lite)?;
                }
                continue;
            }
            crate::store::db::each!(conn, |conn| diesel::insert_into(page_counts::table)
                .values((page_counts::kind.eq(kind), page_counts::bucket.eq(bucket), page_counts::n.eq(delta)))
                .on_conflict((page_counts::kind, page_counts::bucket))
                .do_update()
                .set(page_counts::n.eq(page_counts::n + delta))
                .execute(conn))?;
        }
        Ok(())
    }
}

/// Insert the value rows of a new resource. SQLite: one single-row statement per value, which
/// diesel prepares once per connection (a multi-row insert is parsed each time). PostgreSQL:
/// one multi-row statement, as each statement is a round trip to the server.
fn insert_values(conn: &mut DbConn, seq: i64, values: &[(&'static str, String)]) -> Result<(), StoreError> {
    if let (DbConn::Pg(pg), [_, _, ..]) = (&mut *conn, values) {
        let rows: Vec<_> = values
            .iter()
            .map(|(attr, value)| {
                (resource_values::seq.eq(seq), resource_values::attr.eq(*attr), resource_values::value.eq(value))
            })
            .collect();
        diesel::insert_into(resource_values::table).values(&rows).execute(pg)?;
        return Ok(());
    }
    for (attr, value) in values {
        crate::store::db::each!(&mut *conn, |conn| diesel::insert_into(resource_values::table)
            .values((resource_values::seq.eq(seq), resource_values::attr.eq(*attr), resource_values::value.eq(value)))
            .execute(conn))?;
    }
    Ok(())
}

/// Remove and add value rows of resource `seq`. PostgreSQL: in one statement (each statement is a
/// round trip; a changed 8x8 number is one of each).
fn replace_values(
    conn: &mut DbConn,
    seq: i64,
    removed: &[(&'static str, String)],
    added: &[(&'static str, String)],
) -> Result<(), StoreError> {
    if let (DbConn::Pg(pg), false) = (&mut *conn, removed.is_empty() || added.is_empty()) {
        use diesel::sql_types::Array;
        let attrs = |v: &[(&'static str, String)]| v.iter().map(|(a, _)| a.to_string()).collect::<Vec<_>>();
        let values = |v: &[(&'static str, String)]| v.iter().map(|(_, x)| x.clone()).collect::<Vec<_>>();
        diesel::sql_query(
            "WITH gone AS (DELETE FROM resource_values WHERE seq = $1 \
             AND (attr, value) IN (SELECT * FROM unnest($2::text[], $3::text[]))) \
             INSERT INTO resource_values (seq, attr, value) SELECT $1, a, v FROM unnest($4::text[], $5::text[]) AS t(a, v)",
        )
        .bind::<BigInt, _>(seq)
        .bind::<Array<Text>, _>(attrs(removed))
        .bind::<Array<Text>, _>(values(removed))
        .bind::<Array<Text>, _>(attrs(added))
        .bind::<Array<Text>, _>(values(added))
        .execute(pg)?;
        return Ok(());
    }
    for (attr, value) in removed {
        diesel::delete(
            resource_values::table
                .filter(resource_values::attr.eq(*attr))
                .filter(resource_values::value.eq(value))
                .filter(resource_values::seq.eq(seq)),
        )
        .execute(conn)?;
    }
    insert_values(conn, seq, added)
}

/// A plan for a rewrite, from the current resource.
type PlanFn = dyn Fn(&StoredResource) -> Result<Plan, StoreError> + Send + Sync;

/// PUT's plan (RFC 7644 §3.5.1).
fn replace_plan(kind: ResourceKind, body: Value) -> impl Fn(&StoredResource) -> Result<Plan, StoreError> + Send + Sync {
    let rt = kind.resource_type();
    move |current| {
        let prepared =
            resource::prepare_replace(rt, body.clone(), &current.full_document()).map_err(StoreError::Invalid)?;
        let members = match prepared.members {
            Some(m) => MemberPlan::Replace(m),
            None => MemberPlan::Keep,
        };
        Ok(Plan { doc: prepared.doc, members, rewrite: Rewrite::Replace })
    }
}

/// PATCH's plan (RFC 7644 §3.5.2): every operation applies or none does.
fn patch_plan(
    kind: ResourceKind,
    req: PatchRequest,
) -> impl Fn(&StoredResource) -> Result<Plan, StoreError> + Send + Sync {
    let rt = kind.resource_type();
    let paths = serde_json::to_string(&patch::touched_paths(rt, &req)).unwrap_or_else(|_| "[]".into());
    let rewrite = Rewrite::Patch(paths.into());
    move |current| {
        let full = current.full_document();
        let mut doc = full.clone();
        let outcome = patch::apply_patch(rt, &mut doc, &req).map_err(StoreError::Invalid)?;
        let prepared = resource::prepare_patched(rt, doc, &full).map_err(StoreError::Invalid)?;
        let members = if outcome.member_changes.is_empty() {
            MemberPlan::Keep
        } else {
            MemberPlan::Changes(outcome.member_changes)
        };
        Ok(Plan { doc: prepared.doc, members, rewrite: rewrite.clone() })
    }
}

/// A resource to insert, worked out before the write.
struct NewResource {
    kind: ResourceKind,
    id: String,
    cols: Columns,
    text: String,
    members: Option<Vec<Member>>,
    user_name: Option<String>,
    /// What the audit trail names it by: userName or displayName, as sent.
    name: Option<String>,
}

diesel::define_sql_function! {
    /// SQLite's rowid of the last insert on this connection.
    fn last_insert_rowid() -> BigInt;
}

/// Insert a new resource with its values, members, outbox and audit rows, its page count in
/// `counts`; its `seq`.
fn insert_new(
    conn: &mut DbConn,
    new: &NewResource,
    now: i64,
    counts: &mut CountDeltas,
    audit: Audit<'_>,
) -> Result<i64, StoreError> {
    let NewResource { kind, id, cols, text, members, user_name, name } = new;
    let kind = *kind;
    let row = (
        resources::kind.eq(kind.as_str()),
        resources::id.eq(id),
        resources::user_name.eq(&cols.user_name),
        resources::external_id.eq(&cols.external_id),
        resources::display_name.eq(&cols.display_name),
        resources::active.eq(cols.active),
        resources::created.eq(now),
        resources::last_modified.eq(now),
        resources::version.eq(1i64),
        resources::doc.eq(text),
    );
    let insert = diesel::insert_into(resources::table).values(row);
    let seq: i64 = match conn {
        // PostgreSQL: one round trip. SQLite: no RETURNING, which makes the insert a statement
        // that keeps a statement journal, whose release cost a fifth of a create's CPU in a
        // profile; the rowid is read back instead.
        DbConn::Pg(pg) => insert.returning(resources::seq).get_result(pg),
        DbConn::Sqlite(lite) => insert.execute(lite).and_then(|_| diesel::select(last_insert_rowid()).get_result(lite)),
    }
    .map_err(|e| map_unique(e, user_name.as_deref()))?;
    insert_values(conn, seq, &cols.values)?;
    if let Some(members) = members {
        add_members(conn, seq, members)?;
    }
    outbox::enqueue_created(conn, kind, id, now)?;
    let change = Change { op: AuditOp::Create, kind, id, name: name.as_deref(), version: Some(1), paths: None };
    audit::record(conn, audit, change, now)?;
    counts.add(kind, seq, 1);
    Ok(seq)
}

/// [`insert_new`] on PostgreSQL in one statement, prepared once per connection, outside any
/// transaction (atomic by itself): the resource, its value rows, its outbox row, its audit row
/// and its page count, where BEGIN, five statements and COMMIT took seven round trips. The
/// count shard (`count_key`) is worked out by the server from the new `seq`.
const PG_CREATE: &str = "WITH ins AS (INSERT INTO resources (kind, id, user_name, external_id, display_name, active, \
     created, last_modified, version, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?) RETURNING seq), \
     vals AS (INSERT INTO resource_values (seq, attr, value) \
     SELECT ins.seq, t.a, t.v FROM ins, unnest(?::text[], ?::text[]) AS t(a, v)), \
     queued AS (INSERT INTO outbox (kind, resource_id, op, user_name, revision, attempts, not_before, created, updated) \
     SELECT ?, ?, ?, NULL, 1, 0, ?, ?, ? FROM ins), \
     audited AS (INSERT INTO audit_log (at, op, bulk, kind, resource_id, name, version, paths, actor_type, actor, \
     issuer, address, request_id) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM ins), \
     counted AS (INSERT INTO page_counts (kind, bucket, n) SELECT ?, (ins.seq >> 10) * 16 + (ins.seq & 15), 1 FROM ins \
     ON CONFLICT (kind, bucket) DO UPDATE SET n = page_counts.n + 1) \
     SELECT seq FROM ins";
const _: () = assert!(COUNT_SHARDS == 16 && BUCKET_BITS == 10, "PG_CREATE spells them out");

/// [`PG_CREATE`] for a resource without members (a group's member rows take statements of their
/// own); its `seq`.
fn insert_new_pg(
    pg: &mut diesel::PgConnection,
    new: &NewResource,
    now: i64,
    audit: Audit<'_>,
) -> Result<i64, StoreError> {
    use crate::store::db::{PgBind, PgStatement};
    #[derive(QueryableByName)]
    struct Seq {
        #[diesel(sql_type = BigInt)]
        seq: i64,
    }
    let NewResource { kind, id, cols, text, members: _, user_name, name } = new;
    let kind = *kind;
    let change = Change { op: AuditOp::Create, kind, id, name: name.as_deref(), version: Some(1), paths: None };
    let mut binds = vec![
        PgBind::Text(kind.as_str()),
        PgBind::Text(id),
        PgBind::OptText(cols.user_name.as_deref()),
        PgBind::OptText(cols.external_id.as_deref()),
        PgBind::OptText(cols.display_name.as_deref()),
        PgBind::OptBool(cols.active),
        PgBind::Int(now),
        PgBind::Int(now),
        PgBind::Text(text),
        PgBind::TextArray(cols.values.iter().map(|(a, _)| *a).collect()),
        PgBind::TextArray(cols.values.iter().map(|(_, v)| v.as_str()).collect()),
        PgBind::Text(kind.as_str()),
        PgBind::Text(id),
        PgBind::Text(OutboxOp::Sync.as_str()),
        PgBind::Int(now),
        PgBind::Int(now),
        PgBind::Int(now),
    ];
    binds.extend(audit::pg_binds(audit, change, now));
    binds.push(PgBind::Text(kind.as_str()));
    let rows: Vec<Seq> =
        PgStatement::new(PG_CREATE, binds).load(pg).map_err(|e| map_unique(e, user_name.as_deref()))?;
    rows.first().map(|r| r.seq).ok_or_else(|| StoreError::Internal("an insert returned no seq".into()))
}

/// Rewrite a resource inside the writer, where nothing changes underneath: read it (locked on
/// PostgreSQL), check `If-Match`, plan, write.
fn rewrite_locked(
    conn: &mut DbConn,
    kind: ResourceKind,
    id: &str,
    if_match: Option<&str>,
    plan: &PlanFn,
    audit: Audit<'_>,
) -> Result<WriteOutcome, StoreError> {
    let current = load_row_locked(conn, kind, id)?.ok_or_else(|| not_found(kind, id))?;
    check_if_match(&current, if_match)?;
    let ready = Ready::of(kind, plan(&current)?)?;
    let written = ready.execute(conn, current, false, audit)?;
    written.ok_or_else(|| StoreError::Internal("an unchecked rewrite reported a version race".into()))
}

/// DELETE: the resource, its rows, and its memberships in groups (which get a new version).
fn delete_in(
    conn: &mut DbConn,
    kind: ResourceKind,
    id: &str,
    if_match: Option<&str>,
    audit: Audit<'_>,
) -> Result<(), StoreError> {
    let current = load_row(conn, kind, id)?.ok_or_else(|| not_found(kind, id))?;
    check_if_match(&current, if_match)?;
    let mut counts = CountDeltas::default();
    delete_rows(conn, kind, id, &current, &mut counts, audit)?;
    counts.apply(conn)
}

/// The writes of a DELETE whose resource was read and checked, its audit row among them; its
/// page count in `counts`.
fn delete_rows(
    conn: &mut DbConn,
    kind: ResourceKind,
    id: &str,
    current: &StoredResource,
    counts: &mut CountDeltas,
    audit: Audit<'_>,
) -> Result<(), StoreError> {
    let now = now_millis();
    // The row goes first: on PostgreSQL this waits for a write that is adding it to a group
    // (which share-locks it, see `member_kinds`), so the memberships removed below include
    // that one; a write adding it afterwards finds it gone.
    diesel::delete(resources::table.filter(resources::seq.eq(current.seq))).execute(conn)?;
    // The groups that held it change too: Genesys hears about them.
    for group in outbox::groups_holding(conn, id)? {
        outbox::enqueue(conn, ResourceKind::Group, &group, OutboxOp::Sync, None, now)?;
    }
    let name = known_as(kind, &current.doc);
    outbox::enqueue(conn, kind, id, OutboxOp::Delete, name, now)?;
    let change = Change { op: AuditOp::Delete, kind, id, name, version: None, paths: None };
    audit::record(conn, audit, change, now)?;
    let holders = group_members::table.filter(group_members::member_id.eq(id)).select(group_members::group_seq);
    diesel::update(resources::table.filter(resources::seq.eq_any(holders)))
        .set((resources::version.eq(resources::version + 1), resources::last_modified.eq(now)))
        .execute(conn)?;
    diesel::delete(group_members::table.filter(group_members::member_id.eq(id))).execute(conn)?;
    counts.add(kind, current.seq, -1);
    Ok(())
}

mod bulk;
#[cfg(test)]
mod filter_props;
mod members;
mod paging;
#[cfg(test)]
mod tests;

pub use bulk::{BulkDone, BulkItem, BulkWrite};
use members::*;
pub use paging::position_of;
use paging::*;

impl Store {
    /// POST: store a new resource from a validated body, recorded in the audit trail under `ctx`.
    pub fn create(
        &self,
        rt: &ResourceType,
        prepared: Prepared,
        ctx: &AuditContext,
    ) -> Result<StoredResource, StoreError> {
        let (new, doc) = self.new_resource(rt.kind, new_id(), prepared)?;
        let now = now_millis();
        let (kind, id, text) = (new.kind, new.id.clone(), new.text.clone());
        let ctx = ctx.clone();
        let seq = if self.is_postgres() && new.members.as_ref().is_none_or(Vec::is_empty) {
            self.write_statement(move |pg| insert_new_pg(pg, &new, now, Audit { ctx: &ctx, bulk: false }))?
        } else {
            self.write(move |conn| {
                let mut counts = CountDeltas::default();
                let seq = insert_new(conn, &new, now, &mut counts, Audit { ctx: &ctx, bulk: false })?;
                counts.apply(conn)?;
                Ok(seq)
            })?
        };
        Ok(StoredResource { kind, seq, id, created: now, last_modified: now, version: 1, doc: Doc::written(doc, text) })
    }

    /// Work out what a create writes, outside the writer: the storable document (returned apart,
    /// for the caller), its index columns and JSON text; users pass the [`UserCheck`] first.
    fn new_resource(
        &self,
        kind: ResourceKind,
        id: String,
        prepared: Prepared,
    ) -> Result<(NewResource, Map<String, Value>), StoreError> {
        let doc = storable(prepared.doc);
        if let (ResourceKind::User, Some(check)) = (kind, self.user_check.get()) {
            check(&doc, None).map_err(StoreError::Invalid)?;
        }
        let cols = columns(kind, &doc);
        let text = serde_json::to_string(&doc).map_err(StoreError::corrupt)?;
        let user_name = doc.get("userName").and_then(Value::as_str).map(str::to_string);
        let name = known_as(kind, &doc).map(str::to_string);
        Ok((NewResource { kind, id, cols, text, members: prepared.members, user_name, name }, doc))
    }

    pub fn get(&self, kind: ResourceKind, id: &str) -> Result<StoredResource, StoreError> {
        let mut conn = self.reader()?;
        load_row(&mut conn, kind, id)?.ok_or_else(|| not_found(kind, id))
    }

    /// Rewrite a stored resource. `plan` computes the new document from the current resource.
    /// First optimistically, outside the writer (so the CPU work of PATCH and PUT runs in
    /// parallel), with the writer checking that the version is still the one planned from
    /// (compare-and-swap). A write that lost that race is planned again inside the writer, where
    /// nothing can change underneath: at most two attempts, and every write makes progress.
    fn rewrite(
        &self,
        rt: &ResourceType,
        id: &str,
        if_match: Option<&str>,
        plan: impl Fn(&StoredResource) -> Result<Plan, StoreError> + Send + Sync + 'static,
        ctx: &AuditContext,
    ) -> Result<WriteOutcome, StoreError> {
        let kind = rt.kind;
        let plan = self.checked(kind, plan);
        let current = self.get(kind, id)?;
        check_if_match(&current, if_match)?;
        let ready = Ready::of(kind, plan(&current)?)?;
        if ready.is_noop(&current) {
            return Ok(WriteOutcome { resource: current, changed: false });
        }
        let ctx = std::sync::Arc::new(ctx.clone());
        let first = ctx.clone();
        let done = if self.is_postgres() && ready.is_single_statement() {
            self.write_statement(move |pg| {
                ready.clone().execute_pg(pg, current.clone(), Audit { ctx: &first, bulk: false })
            })?
        } else {
            // SQLite's writer runs a job once: the plan moves into it. PostgreSQL may run it
            // again (after a deadlock or a serialisation failure), each time from a copy.
            let spare = self.writer.is_none().then(|| (ready.clone(), current.clone()));
            let once = std::sync::Mutex::new(Some((ready, current)));
            self.write(move |conn: &mut DbConn| {
                let taken = once.lock().unwrap_or_else(|p| p.into_inner()).take();
                let Some((ready, current)) = taken.or_else(|| spare.clone()) else {
                    return Err(StoreError::Unavailable("a write was attempted twice on SQLite".into()));
                };
                ready.execute(conn, current, true, Audit { ctx: &first, bulk: false })
            })?
        };
        if let Some(done) = done {
            return Ok(done);
        }
        let (id, if_match) = (id.to_string(), if_match.map(str::to_string));
        self.write(move |conn| {
            rewrite_locked(conn, kind, &id, if_match.as_deref(), &*plan, Audit { ctx: &ctx, bulk: false })
        })
    }

    /// `plan`, followed by the [`UserCheck`] for users.
    fn checked(
        &self,
        kind: ResourceKind,
        plan: impl Fn(&StoredResource) -> Result<Plan, StoreError> + Send + Sync + 'static,
    ) -> std::sync::Arc<PlanFn> {
        let check = self.user_check.get().filter(|_| kind == ResourceKind::User).cloned();
        std::sync::Arc::new(move |current: &StoredResource| -> Result<Plan, StoreError> {
            let planned = plan(current)?;
            if let Some(check) = &check {
                check(&planned.doc, Some(&current.doc)).map_err(StoreError::Invalid)?;
            }
            Ok(planned)
        })
    }

    /// PUT (RFC 7644 §3.5.1).
    pub fn replace(
        &self,
        rt: &ResourceType,
        id: &str,
        if_match: Option<&str>,
        body: Value,
        ctx: &AuditContext,
    ) -> Result<WriteOutcome, StoreError> {
        self.rewrite(rt, id, if_match, replace_plan(rt.kind, body), ctx)
    }

    /// PATCH (RFC 7644 §3.5.2): every operation applies or none does.
    pub fn patch(
        &self,
        rt: &ResourceType,
        id: &str,
        if_match: Option<&str>,
        req: &PatchRequest,
        ctx: &AuditContext,
    ) -> Result<WriteOutcome, StoreError> {
        self.rewrite(rt, id, if_match, patch_plan(rt.kind, req.clone()), ctx)
    }

    /// DELETE: the resource, its rows, and its memberships in groups (which get a new version).
    pub fn delete(
        &self,
        kind: ResourceKind,
        id: &str,
        if_match: Option<&str>,
        ctx: &AuditContext,
    ) -> Result<(), StoreError> {
        let (id, if_match, ctx) = (id.to_string(), if_match.map(str::to_string), ctx.clone());
        self.write(move |conn| delete_in(conn, kind, &id, if_match.as_deref(), Audit { ctx: &ctx, bulk: false }))
    }

    /// Members of a group: (id, type, display).
    pub fn members(&self, group: &StoredResource) -> Result<Vec<MemberRow>, StoreError> {
        let mut conn = self.reader()?;
        load_members(&mut conn, group.seq)
    }

    /// The groups each of `user_ids` belongs to: user id -> [(group id, group displayName)].
    pub fn groups_of(&self, user_ids: &[&str]) -> Result<HashMap<String, Vec<GroupRef>>, StoreError> {
        let mut conn = self.reader()?;
        let mut out: HashMap<String, Vec<GroupRef>> = HashMap::new();
        let by_member = group_members::table
            .inner_join(resources::table.on(resources::seq.eq(group_members::group_seq)))
            .select((group_members::member_id, resources::id, resources::doc));
        for chunk in user_ids.chunks(500) {
            // One id (every GET of a user) takes a statement diesel prepares once; `IN (...)`
            // with a varying number of ids is parsed each time.
            let rows: Vec<(String, String, String)> = match chunk {
                [one] => crate::store::db::each!(&mut *conn, |c| by_member
                    .filter(group_members::member_id.eq(*one))
                    .load(c))?,
                many => by_member.filter(group_members::member_id.eq_any(many)).load(&mut conn)?,
            };
            for (member, group_id, doc) in rows {
                let display = serde_json::from_str::<Value>(&doc)
                    .ok()
                    .and_then(|d| d.get("displayName").and_then(Value::as_str).map(str::to_string));
                out.entry(member).or_default().push(GroupRef { id: group_id, display });
            }
        }
        Ok(out)
    }

    /// A list query (RFC 7644 §3.4.2): filter, sort, page.
    /// SQLite: in one read transaction, so the page and its total come from one snapshot.
    /// PostgreSQL: without one (BEGIN and COMMIT would be two more round trips for nothing):
    /// under read committed every statement takes its own snapshot, in a transaction or not.
    pub fn list(&self, rt: &ResourceType, params: &ListParams, filter: Option<&Filter>) -> Result<Page, StoreError> {
        let mut conn = self.reader()?;
        if conn.is_postgres() {
            return list_in(&mut conn, rt, params, filter);
        }
        if let Some(page) = list_in_one_statement(&mut conn, rt, params, filter)? {
            return Ok(page);
        }
        conn.transaction::<_, StoreError, _>(|conn| list_in(conn, rt, params, filter))
    }
}
