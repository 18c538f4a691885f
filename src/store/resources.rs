//! The repository of Users and Groups: one transaction per write, documents plus index columns.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::{Sqlite, SqliteConnection};
use serde_json::{Map, Value, json};

use super::outbox::{self, OutboxOp};
use super::query::{self, Bind, Cond};
use super::schema::{group_members, page_counts, resource_values, resources};
use super::{Personal, Store, StoreError, format_millis, now_millis};
use scim::ScimError;
use scim::filter::{self, Filter};
use scim::list::{ListParams, SortOrder};
use scim::patch::{self, MemberChange, PatchRequest};
use scim::resource::{self, Member, Prepared};
use scim::schema::{ResourceKind, ResourceType};

/// Rows per page-count bucket (`seq >> BUCKET_BITS`).
const BUCKET_BITS: u32 = 10;

/// A stored resource: its document (without `id`/`meta`) and bookkeeping columns.
#[derive(Debug, Clone)]
pub struct StoredResource {
    pub kind: ResourceKind,
    pub seq: i64,
    pub id: String,
    pub created: i64,
    pub last_modified: i64,
    pub version: i64,
    pub doc: Map<String, Value>,
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
        let mut rest = self.doc;
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

/// One page of a list: the whole match count and the resources of the page.
#[derive(Debug)]
pub struct Page {
    pub total: u64,
    pub resources: Vec<StoredResource>,
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
enum MemberPlan {
    Keep,
    Replace(Vec<Member>),
    Changes(Vec<MemberChange>),
}

/// A rewrite computed from a current resource.
struct Plan {
    doc: Map<String, Value>,
    members: MemberPlan,
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

/// A plan with its storable document, index columns and JSON text worked out.
struct Ready {
    kind: ResourceKind,
    doc: Map<String, Value>,
    cols: Columns,
    text: String,
    members: MemberPlan,
}

impl Ready {
    fn of(kind: ResourceKind, plan: Plan) -> Result<Ready, StoreError> {
        let doc = storable(plan.doc);
        let cols = columns(kind, &doc);
        let text = serde_json::to_string(&doc).map_err(StoreError::corrupt)?;
        Ok(Ready { kind, doc, cols, text, members: plan.members })
    }

    fn is_noop(&self, current: &StoredResource) -> bool {
        self.doc == current.doc && matches!(self.members, MemberPlan::Keep)
    }

    /// Write the plan over `current`. With `check_version`, `None` means another write changed
    /// the resource since `current` was read.
    fn execute(
        self,
        conn: &mut SqliteConnection,
        current: StoredResource,
        check_version: bool,
    ) -> Result<Option<WriteOutcome>, StoreError> {
        let Ready { kind, doc, cols, text, members } = self;
        let seq = current.seq;
        if check_version {
            let version: Option<i64> =
                resources::table.filter(resources::seq.eq(seq)).select(resources::version).first(conn).optional()?;
            match version {
                None => return Err(not_found(kind, &current.id)),
                Some(v) if v != current.version => return Ok(None),
                Some(_) => {}
            }
        }
        let doc_changed = doc != current.doc;
        let members_changed = apply_member_plan(conn, kind, seq, members)?;
        if !doc_changed && !members_changed {
            return Ok(Some(WriteOutcome { resource: current, changed: false }));
        }
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
        diesel::update(resources::table.filter(resources::seq.eq(seq)))
            .set(&changes)
            .execute(conn)
            .map_err(|e| map_unique(e, user_name))?;
        for (attr, value) in old.values.iter().filter(|v| !cols.values.contains(v)) {
            diesel::delete(
                resource_values::table
                    .filter(resource_values::attr.eq(*attr))
                    .filter(resource_values::value.eq(value))
                    .filter(resource_values::seq.eq(seq)),
            )
            .execute(conn)?;
        }
        let added: Vec<_> = cols.values.iter().filter(|v| !old.values.contains(v)).cloned().collect();
        insert_values(conn, seq, &added)?;
        outbox::enqueue(conn, kind, &current.id, OutboxOp::Sync, None, now)?;
        Ok(Some(WriteOutcome {
            resource: StoredResource { last_modified: now, version, doc, ..current },
            changed: true,
        }))
    }
}

/// Apply a member plan; returns whether any row changed.
fn apply_member_plan(
    conn: &mut SqliteConnection,
    kind: ResourceKind,
    seq: i64,
    plan: MemberPlan,
) -> Result<bool, StoreError> {
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
        let doc = match serde_json::from_str::<Value>(&self.doc) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(StoreError::corrupt(format!("document of {} is not a JSON object", self.id)));
            }
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

/// Strip what the store keeps in columns rather than in the document.
fn storable(mut doc: Map<String, Value>) -> Map<String, Value> {
    doc.shift_remove("id");
    doc.shift_remove("meta");
    doc.shift_remove("members");
    doc.shift_remove("groups");
    doc
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

fn load_row(conn: &mut SqliteConnection, kind: ResourceKind, id: &str) -> Result<Option<StoredResource>, StoreError> {
    let row = resources::table
        .filter(resources::id.eq(id))
        .filter(resources::kind.eq(kind.as_str()))
        .select(ROW_SELECT)
        .first::<ResourceRow>(conn)
        .optional()?;
    row.map(ResourceRow::into_resource).transpose()
}

fn bump_page_count(conn: &mut SqliteConnection, kind: ResourceKind, seq: i64, delta: i64) -> Result<(), StoreError> {
    let bucket = seq >> BUCKET_BITS;
    diesel::insert_into(page_counts::table)
        .values((page_counts::kind.eq(kind.as_str()), page_counts::bucket.eq(bucket), page_counts::n.eq(delta)))
        .on_conflict((page_counts::kind, page_counts::bucket))
        .do_update()
        .set(page_counts::n.eq(page_counts::n + delta))
        .execute(conn)?;
    Ok(())
}

/// Insert the value rows of a new resource. One single-row statement per value: diesel
/// prepares those once per connection, where a multi-row insert is parsed each time.
fn insert_values(conn: &mut SqliteConnection, seq: i64, values: &[(&'static str, String)]) -> Result<(), StoreError> {
    for (attr, value) in values {
        diesel::insert_into(resource_values::table)
            .values((resource_values::seq.eq(seq), resource_values::attr.eq(*attr), resource_values::value.eq(value)))
            .execute(conn)?;
    }
    Ok(())
}

/// The `type` of each member: the kind of the stored resource it names, else the type the
/// client gave, else `User`. An id that names nothing stored is kept (an IdP may send the
/// membership before the user; RFC 7643 §4.2 does not require the provider to refuse it).
fn member_kinds(conn: &mut SqliteConnection, members: &[Member]) -> Result<Vec<MemberKind>, StoreError> {
    let mut out = Vec::with_capacity(members.len());
    for chunk in members.chunks(500) {
        let ids: Vec<&str> = chunk.iter().map(|m| m.value.as_str()).collect();
        let found: HashMap<String, String> = resources::table
            .filter(resources::id.eq_any(&ids))
            .select((resources::id, resources::kind))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect();
        for m in chunk {
            let kind =
                found.get(&m.value).or(m.kind.as_ref()).and_then(|k| MemberKind::parse(k)).unwrap_or(MemberKind::User);
            out.push(kind);
        }
    }
    Ok(out)
}

fn add_members(conn: &mut SqliteConnection, group_seq: i64, members: &[Member]) -> Result<usize, StoreError> {
    let kinds = member_kinds(conn, members)?;
    let mut n = 0;
    for (m, kind) in members.iter().zip(kinds) {
        n += diesel::insert_or_ignore_into(group_members::table)
            .values((
                group_members::group_seq.eq(group_seq),
                group_members::member_id.eq(&m.value),
                group_members::member_type.eq(kind.as_str()),
                group_members::display.eq(&m.display),
            ))
            .execute(conn)?;
    }
    Ok(n)
}

fn member_from_value(v: &Value) -> Option<Member> {
    let value = v.get("value").and_then(Value::as_str)?.to_string();
    Some(Member {
        value,
        kind: v.get("type").and_then(Value::as_str).map(str::to_string),
        display: v.get("display").and_then(Value::as_str).map(str::to_string),
    })
}

fn members_of_values(values: &[Value]) -> Result<Vec<Member>, StoreError> {
    values
        .iter()
        .map(|v| {
            member_from_value(v).ok_or_else(|| {
                StoreError::Invalid(ScimError::invalid_value(
                    "each member needs a string 'value' holding a User or Group id",
                ))
            })
        })
        .collect()
}

/// Apply one member change; returns whether rows changed.
fn apply_member_change(
    conn: &mut SqliteConnection,
    rt: &ResourceType,
    seq: i64,
    change: &MemberChange,
) -> Result<bool, StoreError> {
    let in_group = group_members::table.filter(group_members::group_seq.eq(seq));
    Ok(match change {
        MemberChange::Add(values) => add_members(conn, seq, &members_of_values(values)?)? > 0,
        MemberChange::RemoveAll => diesel::delete(in_group).execute(conn)? > 0,
        MemberChange::RemoveValues(ids) => {
            diesel::delete(in_group.filter(group_members::member_id.eq_any(ids))).execute(conn)? > 0
        }
        MemberChange::RemoveMatching(val_filter) => {
            let parent = rt.core_attribute("members");
            let rows: Vec<(String, String)> =
                in_group.select((group_members::member_id, group_members::member_type)).load(conn)?;
            let doomed: Vec<String> = rows
                .into_iter()
                .filter(|(id, kind)| {
                    let kind = MemberKind::of_row(kind).as_str();
                    filter::matches_element(parent, val_filter, &json!({"value": id, "type": kind}))
                })
                .map(|(id, _)| id)
                .collect();
            let mut n = 0;
            for chunk in doomed.chunks(500) {
                n += diesel::delete(
                    group_members::table
                        .filter(group_members::group_seq.eq(seq))
                        .filter(group_members::member_id.eq_any(chunk)),
                )
                .execute(conn)?;
            }
            n > 0
        }
        MemberChange::ReplaceAll(values) => {
            let members = members_of_values(values)?;
            let removed = diesel::delete(in_group).execute(conn)?;
            let added = add_members(conn, seq, &members)?;
            removed > 0 || added > 0
        }
    })
}

/// Members of a group, as rendered: id, type, display (`$ref` is added by the renderer).
pub(crate) fn load_members(conn: &mut SqliteConnection, group_seq: i64) -> Result<Vec<MemberRow>, StoreError> {
    let rows: Vec<(String, String, Option<String>)> = group_members::table
        .filter(group_members::group_seq.eq(group_seq))
        .select((group_members::member_id, group_members::member_type, group_members::display))
        .load(conn)?;
    Ok(rows.into_iter().map(|(id, kind, display)| MemberRow { id, kind: MemberKind::of_row(&kind), display }).collect())
}

impl Store {
    /// POST: store a new resource from a validated body.
    pub fn create(&self, rt: &ResourceType, prepared: Prepared) -> Result<StoredResource, StoreError> {
        let kind = rt.kind;
        let doc = storable(prepared.doc);
        let cols = columns(kind, &doc);
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_millis();
        let text = serde_json::to_string(&doc).map_err(StoreError::corrupt)?;
        let members = prepared.members;
        let user_name = doc.get("userName").and_then(Value::as_str).map(str::to_string);
        let (seq, id) = self.write(move |conn| {
            let seq: i64 = diesel::insert_into(resources::table)
                .values((
                    resources::kind.eq(kind.as_str()),
                    resources::id.eq(&id),
                    resources::user_name.eq(&cols.user_name),
                    resources::external_id.eq(&cols.external_id),
                    resources::display_name.eq(&cols.display_name),
                    resources::active.eq(cols.active),
                    resources::created.eq(now),
                    resources::last_modified.eq(now),
                    resources::version.eq(1i64),
                    resources::doc.eq(&text),
                ))
                .returning(resources::seq)
                .get_result(conn)
                .map_err(|e| map_unique(e, user_name.as_deref()))?;
            insert_values(conn, seq, &cols.values)?;
            if let Some(members) = &members {
                add_members(conn, seq, members)?;
            }
            bump_page_count(conn, kind, seq, 1)?;
            outbox::enqueue(conn, kind, &id, OutboxOp::Sync, None, now)?;
            Ok((seq, id))
        })?;
        Ok(StoredResource { kind, seq, id, created: now, last_modified: now, version: 1, doc })
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
    ) -> Result<WriteOutcome, StoreError> {
        let kind = rt.kind;
        let plan = std::sync::Arc::new(plan);
        let current = self.get(kind, id)?;
        check_if_match(&current, if_match)?;
        let ready = Ready::of(kind, plan(&current)?)?;
        if ready.is_noop(&current) {
            return Ok(WriteOutcome { resource: current, changed: false });
        }
        if let Some(done) = self.write(move |conn| ready.execute(conn, current, true))? {
            return Ok(done);
        }
        let (id, if_match) = (id.to_string(), if_match.map(str::to_string));
        let written = self.write(move |conn| {
            let current = load_row(conn, kind, &id)?.ok_or_else(|| not_found(kind, &id))?;
            check_if_match(&current, if_match.as_deref())?;
            let ready = Ready::of(kind, plan(&current)?)?;
            ready.execute(conn, current, false)
        })?;
        written.ok_or_else(|| StoreError::Internal("an unchecked rewrite reported a version race".into()))
    }

    /// PUT (RFC 7644 §3.5.1).
    pub fn replace(
        &self,
        rt: &ResourceType,
        id: &str,
        if_match: Option<&str>,
        body: Value,
    ) -> Result<WriteOutcome, StoreError> {
        let rt_static = rt.kind.resource_type();
        self.rewrite(rt, id, if_match, move |current| {
            let prepared = resource::prepare_replace(rt_static, body.clone(), &current.full_document())
                .map_err(StoreError::Invalid)?;
            let members = match prepared.members {
                Some(m) => MemberPlan::Replace(m),
                None => MemberPlan::Keep,
            };
            Ok(Plan { doc: prepared.doc, members })
        })
    }

    /// PATCH (RFC 7644 §3.5.2): every operation applies or none does.
    pub fn patch(
        &self,
        rt: &ResourceType,
        id: &str,
        if_match: Option<&str>,
        req: &PatchRequest,
    ) -> Result<WriteOutcome, StoreError> {
        let rt_static = rt.kind.resource_type();
        let req = req.clone();
        self.rewrite(rt, id, if_match, move |current| {
            let full = current.full_document();
            let mut doc = full.clone();
            let outcome = patch::apply_patch(rt_static, &mut doc, &req).map_err(StoreError::Invalid)?;
            let prepared = resource::prepare_patched(rt_static, doc, &full).map_err(StoreError::Invalid)?;
            let members = if outcome.member_changes.is_empty() {
                MemberPlan::Keep
            } else {
                MemberPlan::Changes(outcome.member_changes)
            };
            Ok(Plan { doc: prepared.doc, members })
        })
    }

    /// DELETE: the resource, its rows, and its memberships in groups (which get a new version).
    pub fn delete(&self, kind: ResourceKind, id: &str, if_match: Option<&str>) -> Result<(), StoreError> {
        let (id, if_match) = (id.to_string(), if_match.map(str::to_string));
        self.write(move |conn| {
            let current = load_row(conn, kind, &id)?.ok_or_else(|| not_found(kind, &id))?;
            check_if_match(&current, if_match.as_deref())?;
            let now = now_millis();
            // The groups that held it change too: Genesys hears about them.
            for group in outbox::groups_holding(conn, &id)? {
                outbox::enqueue(conn, ResourceKind::Group, &group, OutboxOp::Sync, None, now)?;
            }
            let name_key = if kind == ResourceKind::User { "userName" } else { "displayName" };
            let known_as = current.doc.get(name_key).and_then(Value::as_str);
            outbox::enqueue(conn, kind, &id, OutboxOp::Delete, known_as, now)?;
            let holders =
                group_members::table.filter(group_members::member_id.eq(&id)).select(group_members::group_seq);
            diesel::update(resources::table.filter(resources::seq.eq_any(holders)))
                .set((resources::version.eq(resources::version + 1), resources::last_modified.eq(now)))
                .execute(conn)?;
            diesel::delete(group_members::table.filter(group_members::member_id.eq(&id))).execute(conn)?;
            diesel::delete(resources::table.filter(resources::seq.eq(current.seq))).execute(conn)?;
            bump_page_count(conn, kind, current.seq, -1)?;
            Ok(())
        })
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
                [one] => by_member.filter(group_members::member_id.eq(*one)).load(&mut conn)?,
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
    pub fn list(&self, rt: &ResourceType, params: &ListParams, filter: Option<&Filter>) -> Result<Page, StoreError> {
        let mut conn = self.reader()?;
        conn.transaction::<_, StoreError, _>(|conn| list_in(conn, rt, params, filter))
    }
}

fn list_in(
    conn: &mut SqliteConnection,
    rt: &ResourceType,
    params: &ListParams,
    filter: Option<&Filter>,
) -> Result<Page, StoreError> {
    let kind = rt.kind;
    let offset = params.start_index.saturating_sub(1);
    let limit = params.count;
    let lowered = filter.map(|f| query::lower(rt, f));
    let exact = lowered.as_ref().is_none_or(|l| l.exact);
    let sql_sort = params.sort_by.as_deref().map(|s| query::sort_column(rt, s));
    let sort_in_memory = matches!(sql_sort, Some(None));

    // Fast path: the whole collection in storage order; the page counts find the start.
    if filter.is_none() && params.sort_by.is_none() {
        return page_by_counts(conn, kind, offset, limit);
    }

    if let (None, Some((col, value))) = (&params.sort_by, filter.and_then(|f| query::single_eq(rt, f))) {
        return page_eq(conn, kind, col, &value, offset, limit);
    }

    let mut cond = Cond { sql: "r.kind = ?".into(), binds: vec![Bind::Text(kind.as_str().into())] };
    if let Some(c) = lowered.and_then(|l| l.cond) {
        cond.sql = format!("{} AND {}", cond.sql, c.sql);
        cond.binds.extend(c.binds);
    }
    let order = match sql_sort {
        Some(Some(col)) => match params.sort_order {
            SortOrder::Ascending => format!("({col} IS NULL), {col}, r.seq"),
            SortOrder::Descending => format!("({col} IS NULL) DESC, {col} DESC, r.seq"),
        },
        _ => "r.seq".to_string(),
    };

    if exact && !sort_in_memory {
        if limit == Some(0) {
            return Ok(Page { total: count(conn, &cond)?, resources: Vec::new() });
        }
        let sql = format!("SELECT {ROW_COLUMNS} FROM resources r WHERE {} ORDER BY {order} LIMIT ? OFFSET ?", cond.sql);
        let mut binds = cond.binds.clone();
        binds.push(Bind::Int(limit.map_or(-1, |l| l as i64)));
        binds.push(Bind::Int(offset as i64));
        let resources = load_rows(conn, &sql, binds)?;
        let total = match first_page_total(offset, limit, resources.len()) {
            Some(t) => t,
            None => count(conn, &cond)?,
        };
        return Ok(Page { total, resources });
    }

    // In memory: SQL narrows, `scim::filter` decides; sorting by an attribute without a column
    // happens here too.
    let sql = format!("SELECT {ROW_COLUMNS} FROM resources r WHERE {} ORDER BY {order}", cond.sql);
    let candidates = load_rows(conn, &sql, cond.binds)?;
    let needs_members = kind == ResourceKind::Group && filter.is_some_and(|f| query::mentions(f, "members"));
    let mut matched: Vec<(StoredResource, Map<String, Value>)> = Vec::new();
    for res in candidates {
        let mut full = res.full_document();
        if needs_members {
            let members = load_members(conn, res.seq)?;
            full.insert(
                "members".into(),
                Value::Array(members.into_iter().map(|m| json!({"value": m.id, "type": m.kind.as_str()})).collect()),
            );
        }
        if filter.is_none_or(|f| filter::matches(rt, f, &full)) {
            matched.push((res, full));
        }
    }
    if let (true, Some(sort_by)) = (sort_in_memory, params.sort_by.as_deref()) {
        {
            let def = rt.resolve_text(sort_by).and_then(|t| match t {
                scim::schema::Target::Attribute(r) => Some(r.leaf()),
                scim::schema::Target::Extension(_) => None,
            });
            matched.sort_by(|(ra, a), (rb, b)| {
                let o =
                    filter::compare_for_sort(def, filter::sort_key(rt, sort_by, a), filter::sort_key(rt, sort_by, b));
                let o = match params.sort_order {
                    SortOrder::Ascending => o,
                    SortOrder::Descending => o.reverse(),
                };
                o.then(ra.seq.cmp(&rb.seq))
            });
        }
    }
    let total = matched.len() as u64;
    let take = limit.map_or(usize::MAX, |l| l as usize);
    let resources = matched.into_iter().skip(offset as usize).take(take).map(|(r, _)| r).collect();
    Ok(Page { total, resources })
}

/// When the first page is not full it holds every match: no count query is needed.
fn first_page_total(offset: u64, limit: Option<u64>, got: usize) -> Option<u64> {
    let got = got as u64;
    (offset == 0 && limit.is_none_or(|l| got < l)).then_some(got)
}

/// `attr eq "value"` on one indexed column, with statements diesel prepares once per
/// connection (a dynamic SQL text is parsed on every request).
fn page_eq(
    conn: &mut SqliteConnection,
    kind: ResourceKind,
    col: query::EqColumn,
    value: &str,
    offset: u64,
    limit: Option<u64>,
) -> Result<Page, StoreError> {
    let (lim, off) = (limit.map_or(-1, |l| l as i64), offset as i64);
    macro_rules! page {
        ($column:expr) => {{
            let matching = resources::table.filter(resources::kind.eq(kind.as_str())).filter($column.eq(value));
            let rows: Vec<ResourceRow> =
                matching.select(ROW_SELECT).order(resources::seq).limit(lim).offset(off).load(conn)?;
            let total = match first_page_total(offset, limit, rows.len()) {
                Some(t) => t,
                None => matching.count().get_result::<i64>(conn)?.max(0) as u64,
            };
            (rows, total)
        }};
    }
    let (rows, total) = match col {
        query::EqColumn::Id => page!(resources::id),
        query::EqColumn::UserName => page!(resources::user_name),
        query::EqColumn::ExternalId => page!(resources::external_id),
        query::EqColumn::DisplayName => page!(resources::display_name),
    };
    let resources = rows.into_iter().map(ResourceRow::into_resource).collect::<Result<_, _>>()?;
    Ok(Page { total, resources })
}

fn count(conn: &mut SqliteConnection, cond: &Cond) -> Result<u64, StoreError> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let sql = format!("SELECT count(*) AS n FROM resources r WHERE {}", cond.sql);
    let rows: Vec<N> = bound(diesel::sql_query(sql).into_boxed(), cond.binds.clone()).load(conn)?;
    Ok(rows.first().map_or(0, |n| n.n.max(0) as u64))
}

fn bound<'q>(
    mut q: diesel::query_builder::BoxedSqlQuery<'q, Sqlite, diesel::query_builder::SqlQuery>,
    binds: Vec<Bind>,
) -> diesel::query_builder::BoxedSqlQuery<'q, Sqlite, diesel::query_builder::SqlQuery> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind::<Text, _>(s),
            Bind::Int(i) => q.bind::<BigInt, _>(i),
        };
    }
    q
}

fn load_rows(conn: &mut SqliteConnection, sql: &str, binds: Vec<Bind>) -> Result<Vec<StoredResource>, StoreError> {
    let rows: Vec<ResourceRow> = bound(diesel::sql_query(sql).into_boxed(), binds).load(conn)?;
    rows.into_iter().map(ResourceRow::into_resource).collect()
}

/// Unfiltered, unsorted paging: sum the per-bucket counts to find the bucket holding the
/// first row of the page, then step at most one bucket's worth of rows. The cost does not grow
/// with `startIndex`.
fn page_by_counts(
    conn: &mut SqliteConnection,
    kind: ResourceKind,
    offset: u64,
    limit: Option<u64>,
) -> Result<Page, StoreError> {
    let buckets: Vec<(i64, i64)> = page_counts::table
        .filter(page_counts::kind.eq(kind.as_str()))
        .filter(page_counts::n.gt(0))
        .order(page_counts::bucket)
        .select((page_counts::bucket, page_counts::n))
        .load(conn)?;
    let total: u64 = buckets.iter().map(|(_, n)| (*n).max(0) as u64).sum();
    if limit == Some(0) || offset >= total {
        return Ok(Page { total, resources: Vec::new() });
    }
    let mut before = 0u64;
    let mut start_seq = 0i64;
    for (bucket, n) in &buckets {
        let n = (*n).max(0) as u64;
        if before + n > offset {
            start_seq = bucket << BUCKET_BITS;
            break;
        }
        before += n;
    }
    let sql = format!(
        "SELECT {ROW_COLUMNS} FROM resources r WHERE r.kind = ? AND r.seq >= ? ORDER BY r.seq LIMIT ? OFFSET ?"
    );
    let binds = vec![
        Bind::Text(kind.as_str().into()),
        Bind::Int(start_seq),
        Bind::Int(limit.map_or(-1, |l| l as i64)),
        Bind::Int((offset - before) as i64),
    ];
    Ok(Page { total, resources: load_rows(conn, &sql, binds)? })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use scim::schema::registry;

    fn store_with_users() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("t.db").to_str().unwrap()).unwrap();
        let rt = &registry().user;
        let titles = ["Engineer", "engineer", "Manager", ""];
        for i in 0..60 {
            let mut body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("{}user{i:02}@Example.{}", if i % 3 == 0 { "A" } else { "b" }, if i % 2 == 0 { "com" } else { "org" }),
                "displayName": format!("User {i}"),
                "active": i % 4 != 0,
                "emails": [{"value": format!("u{i}@work.example.com"), "type": "work", "primary": true},
                           {"value": format!("U{i}@Home.example.net"), "type": "home"}],
                "phoneNumbers": [{"value": format!("+1415555{i:04}"), "type": if i % 5 == 0 { "eightbyeight" } else { "work" }}],
            });
            if i % 3 != 1 {
                body["externalId"] = json!(format!("Ext-{i}"));
            }
            if !titles[i % 4].is_empty() {
                body["title"] = json!(titles[i % 4]);
            }
            store.create(rt, resource::prepare_create(rt, body).unwrap()).unwrap();
        }
        (dir, store)
    }

    fn params(sort_by: Option<&str>, order: SortOrder) -> ListParams {
        ListParams {
            start_index: 1,
            count: None,
            sort_by: sort_by.map(str::to_string),
            sort_order: order,
            filter: None,
        }
    }

    /// Every filter gives the same answer through SQL (exact or superset) as by evaluating it
    /// in memory over every stored resource.
    #[test]
    fn sql_and_in_memory_filtering_agree() {
        let (_dir, store) = store_with_users();
        let rt = &registry().user;
        let everything = store.list(rt, &params(None, SortOrder::Ascending), None).unwrap();
        assert_eq!(everything.total, 60);
        let filters = [
            r#"userName eq "auser00@example.com""#,
            r#"displayName eq "USER 7""#,
            r#"id eq "no-such-id""#,
            r#"externalId eq "Ext-0" or externalId eq "Ext-2" or externalId eq "Ext-3""#,
            r#"userName eq "AUSER00@EXAMPLE.COM""#,
            r#"userName ne "auser00@example.com""#,
            r#"userName sw "A""#,
            r#"userName ew ".ORG""#,
            r#"userName co "user1""#,
            r#"userName gt "buser30""#,
            r#"userName le "auser30@example.com""#,
            r#"userName sw """#,
            r#"externalId eq "Ext-3""#,
            r#"externalId eq "ext-3""#,
            r#"externalId pr"#,
            r#"not (externalId pr)"#,
            r#"externalId ne "Ext-3""#,
            r#"externalId co "t-1""#,
            r#"displayName eq "user 7""#,
            r#"displayName sw "User 1" and active eq true"#,
            r#"active eq false"#,
            r#"active ne true"#,
            r#"active pr"#,
            r#"emails.value eq "U3@WORK.example.com""#,
            r#"emails eq "u3@work.example.com""#,
            r#"emails co "home.example""#,
            r#"emails[type eq "work"].value eq "u4@work.example.com""#,
            r#"emails[type eq "home"].value eq "u4@work.example.com""#,
            r#"emails[type eq "work" and value ew "5@work.example.com"]"#,
            r#"emails[value sw "u1"]"#,
            r#"emails.value pr"#,
            r#"phoneNumbers.value eq "+14155550010""#,
            r#"phoneNumbers[type eq "eightbyeight"]"#,
            r#"phoneNumbers[type eq "eightbyeight" and value ew "5"]"#,
            r#"title eq "engineer""#,
            r#"title pr or externalId eq "Ext-0""#,
            r#"not (title eq "manager") and userName sw "a""#,
            r#"meta.lastModified gt "2000-01-01T00:00:00Z""#,
            r#"meta.lastModified lt "2000-01-01T00:00:00.5Z""#,
            r#"meta.created ge "2000-01-01T00:00:00+02:00""#,
            r#"meta.resourceType eq "User""#,
            r#"id pr and not (userName eq "buser01@example.org" or userName eq "buser02@example.com")"#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#,
            r#"name.givenName pr"#,
        ];
        let docs: Vec<(String, Map<String, Value>)> =
            everything.resources.iter().map(|r| (r.id.clone(), r.full_document())).collect();
        for text in filters {
            let f = filter::parse_filter(text).unwrap();
            let expected: Vec<&str> =
                docs.iter().filter(|(_, d)| filter::matches(rt, &f, d)).map(|(id, _)| id.as_str()).collect();
            let page = store.list(rt, &params(None, SortOrder::Ascending), Some(&f)).unwrap();
            let got: Vec<&str> = page.resources.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(got, expected, "filter {text}: SQL {:?}", query::lower(rt, &f));
            assert_eq!(page.total as usize, expected.len(), "{text}");
            // A later page: the same rows in the same order, and the whole count.
            let second = ListParams { start_index: 2, count: Some(2), ..params(None, SortOrder::Ascending) };
            let page = store.list(rt, &second, Some(&f)).unwrap();
            let got: Vec<&str> = page.resources.iter().map(|r| r.id.as_str()).collect();
            let want: Vec<&str> = expected.iter().skip(1).take(2).copied().collect();
            assert_eq!((got, page.total as usize), (want, expected.len()), "filter {text}, startIndex=2 count=2");
        }
    }

    #[test]
    fn sorting_in_sql_and_in_memory_agree() {
        let (_dir, store) = store_with_users();
        let rt = &registry().user;
        for order in [SortOrder::Ascending, SortOrder::Descending] {
            for sort_by in ["userName", "externalId", "displayName", "meta.lastModified", "title", "emails.value"] {
                let page = store.list(rt, &params(Some(sort_by), order), None).unwrap();
                let mut expected: Vec<(Map<String, Value>, i64, String)> =
                    page.resources.iter().map(|r| (r.full_document(), r.seq, r.id.clone())).collect();
                let def = match rt.resolve_text(sort_by) {
                    Some(scim::schema::Target::Attribute(r)) => Some(r.leaf()),
                    _ => None,
                };
                expected.sort_by(|(a, sa, _), (b, sb, _)| {
                    let o = filter::compare_for_sort(
                        def,
                        filter::sort_key(rt, sort_by, a),
                        filter::sort_key(rt, sort_by, b),
                    );
                    let o = if matches!(order, SortOrder::Descending) { o.reverse() } else { o };
                    o.then(sa.cmp(sb))
                });
                let got: Vec<&str> = page.resources.iter().map(|r| r.id.as_str()).collect();
                let want: Vec<&str> = expected.iter().map(|(_, _, id)| id.as_str()).collect();
                assert_eq!(got, want, "sortBy={sort_by}");
            }
        }
    }

    #[test]
    fn paging_by_counts_matches_offset_paging() {
        let (_dir, store) = store_with_users();
        let rt = &registry().user;
        let all: Vec<String> = store
            .list(rt, &params(None, SortOrder::Ascending), None)
            .unwrap()
            .resources
            .into_iter()
            .map(|r| r.id)
            .collect();
        // Delete a few to leave holes in the sequence.
        for id in [&all[0], &all[7], &all[31]] {
            store.delete(ResourceKind::User, id, None).unwrap();
        }
        let remaining: Vec<&String> = all.iter().filter(|id| ![&all[0], &all[7], &all[31]].contains(id)).collect();
        for start in [1u64, 2, 7, 30, 56, 57, 58, 100] {
            let p = ListParams { start_index: start, count: Some(5), ..params(None, SortOrder::Ascending) };
            let page = store.list(rt, &p, None).unwrap();
            assert_eq!(page.total, 57);
            let got: Vec<&String> = page.resources.iter().map(|r| &r.id).collect();
            let want: Vec<&String> = remaining.iter().skip(start as usize - 1).take(5).copied().collect();
            assert_eq!(got, want, "startIndex={start}");
        }
    }

    /// The filters the issue names run in SQL alone, and SQLite answers them from an index.
    #[test]
    fn indexed_filters_are_exact_and_use_indexes() {
        let (_dir, store) = store_with_users();
        let rt = &registry().user;
        let mut conn = store.reader().unwrap();
        for text in [
            r#"id eq "x""#,
            r#"userName eq "x""#,
            r#"externalId eq "x""#,
            r#"displayName eq "x""#,
            r#"emails.value eq "x""#,
            r#"emails[type eq "work"].value eq "x""#,
            r#"phoneNumbers.value eq "x""#,
            r#"active eq true"#,
            r#"meta.lastModified gt "2026-01-01T00:00:00Z""#,
        ] {
            let f = filter::parse_filter(text).unwrap();
            let lowered = query::lower(rt, &f);
            let cond = lowered.cond.clone().unwrap();
            if !text.contains('[') {
                assert!(lowered.exact, "{text} should be decided in SQL");
            }
            #[derive(QueryableByName)]
            struct Plan {
                #[diesel(sql_type = Text)]
                detail: String,
            }
            let sql =
                format!("EXPLAIN QUERY PLAN SELECT r.seq FROM resources r WHERE r.kind = 'User' AND {}", cond.sql);
            let plan: Vec<Plan> = bound(diesel::sql_query(sql).into_boxed(), cond.binds).load(&mut *conn).unwrap();
            let plan: Vec<String> = plan.into_iter().map(|p| p.detail).collect();
            let outer = plan.first().cloned().unwrap_or_default();
            let uses_index = plan.iter().all(|d| !d.starts_with("SCAN") || d.contains("USING"));
            assert!(uses_index, "{text}: {plan:?}");
            assert!(
                outer.contains("INDEX") || outer.contains("PRIMARY KEY") || outer.contains("rowid"),
                "{text}: {plan:?}"
            );
            // A search on `kind` alone would visit every user.
            assert!(!plan.iter().any(|d| d.ends_with("(kind=?)")), "{text}: {plan:?}");
        }
    }

    /// Writes from many threads share commits; a job that fails (a duplicate userName) rolls
    /// back alone, and every other job of its batch is committed.
    #[test]
    fn batched_writes_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path().join("t.db").to_str().unwrap()).unwrap());
        let rt = &registry().user;
        let handles: Vec<_> = (0..40)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    // Every fourth thread reuses a name another thread also creates.
                    let name = if i % 4 == 0 { "dup@example.com".to_string() } else { format!("u{i}@example.com") };
                    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
                    store.create(rt, resource::prepare_create(rt, body).unwrap()).map(|_| ())
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let conflicts = results.iter().filter(|r| matches!(r, Err(StoreError::Conflict { .. }))).count();
        assert_eq!((ok, conflicts), (31, 9));
        let all = store.list(rt, &params(None, SortOrder::Ascending), None).unwrap();
        assert_eq!(all.total, 31);
    }

    /// Concurrent PATCHes of one user all apply: each is planned from a version and re-planned
    /// when another write got there first.
    #[test]
    fn concurrent_patches_lose_no_update() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path().join("t.db").to_str().unwrap()).unwrap());
        let rt = &registry().user;
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "many@example.com"});
        let id = store.create(rt, resource::prepare_create(rt, body).unwrap()).unwrap().id;
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let (store, id) = (store.clone(), id.clone());
                std::thread::spawn(move || {
                    let req = patch::parse_patch(
                        rt,
                        &json!({"Operations": [{"op": "add", "path": "emails",
                                "value": [{"value": format!("e{i}@example.com"), "type": "other"}]}]}),
                    )
                    .unwrap();
                    store.patch(rt, &id, None, &req).unwrap();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let user = store.get(ResourceKind::User, &id).unwrap();
        assert_eq!(user.doc["emails"].as_array().unwrap().len(), 24);
        assert_eq!(user.version, 25);
    }

    /// Each failure is reported as what it is, never as an HTTP status (`http::error` maps).
    #[test]
    fn failures_are_store_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("t.db").to_str().unwrap()).unwrap();
        let rt = &registry().user;
        let body = |name: &str| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
        let user = store.create(rt, resource::prepare_create(rt, body("Jane@example.com")).unwrap()).unwrap();

        let missing = store.get(ResourceKind::User, "nobody").unwrap_err();
        assert!(matches!(&missing, StoreError::NotFound { kind: ResourceKind::User, id } if id == "nobody"));
        let wrong_kind = store.get(ResourceKind::Group, &user.id).unwrap_err();
        assert!(matches!(wrong_kind, StoreError::NotFound { kind: ResourceKind::Group, .. }));
        assert!(matches!(store.delete(ResourceKind::User, "nobody", None), Err(StoreError::NotFound { .. })));

        let taken = store.create(rt, resource::prepare_create(rt, body("jane@EXAMPLE.com")).unwrap()).unwrap_err();
        match &taken {
            StoreError::Conflict { kind: ResourceKind::User, key: "userName", value } => {
                assert_eq!(value.0, "jane@EXAMPLE.com")
            }
            other => panic!("{other:?}"),
        }
        let logged = format!("{taken} {taken:?}");
        assert!(!logged.to_lowercase().contains("jane@example.com"), "{logged}");

        let stale = store.replace(rt, &user.id, Some("W/\"7\""), body("jane@example.com")).unwrap_err();
        match stale {
            StoreError::PreconditionFailed { kind, id, expected, actual } => {
                assert_eq!(
                    (kind, id.as_str(), expected.as_str(), actual.as_str()),
                    (ResourceKind::User, user.id.as_str(), "W/\"7\"", "W/\"1\"")
                )
            }
            other => panic!("{other:?}"),
        }

        let bad =
            patch::parse_patch(rt, &json!({"Operations": [{"op": "replace", "path": "active", "value": "perhaps"}]}))
                .unwrap();
        assert!(matches!(store.patch(rt, &user.id, None, &bad), Err(StoreError::Invalid(e)) if e.status == 400));
    }

    /// Member rows carry a `MemberKind`: the stored resource's kind, else the type the client
    /// sent (any case), else User; a row from an older version with another word reads as User.
    #[test]
    fn member_kinds_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("t.db").to_str().unwrap()).unwrap();
        let (users, groups) = (&registry().user, &registry().group);
        let user = store
            .create(
                users,
                resource::prepare_create(
                    users,
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "m@example.com"}),
                )
                .unwrap(),
            )
            .unwrap();
        let inner = store
            .create(
                groups,
                resource::prepare_create(
                    groups,
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "inner"}),
                )
                .unwrap(),
            )
            .unwrap();
        let outer = store
            .create(
                groups,
                resource::prepare_create(
                    groups,
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "outer",
                           "members": [{"value": user.id}, {"value": inner.id}, {"value": "later-group", "type": "Group"}, {"value": "later"}]}),
                )
                .unwrap(),
            )
            .unwrap();
        let req = patch::parse_patch(
            groups,
            &json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": "patched", "type": "group"}, {"value": "odd", "type": "Robot"}]}]}),
        )
        .unwrap();
        store.patch(groups, &outer.id, None, &req).unwrap();
        let kinds: std::collections::BTreeMap<String, MemberKind> =
            store.members(&outer).unwrap().into_iter().map(|m| (m.id, m.kind)).collect();
        let expected = [
            (user.id.as_str(), MemberKind::User),
            (inner.id.as_str(), MemberKind::Group),
            ("later-group", MemberKind::Group),
            ("later", MemberKind::User),
            ("patched", MemberKind::Group),
            ("odd", MemberKind::User),
        ];
        for (id, kind) in expected {
            assert_eq!(kinds.get(id), Some(&kind), "{id}: {kinds:?}");
        }
        assert_eq!(MemberKind::of_row("Robot"), MemberKind::User);
        assert_eq!(ResourceKind::from(MemberKind::Group), ResourceKind::Group);
    }
}
