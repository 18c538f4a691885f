//! The diff: export rows and what the server holds in, a [`Plan`] of the requests that make the
//! server match out. Pure, no I/O: the dry run prints the same plan the client sends.
//!
//! Paths are resolved and applied by the protocol core (`scim::patch`): a create body is an empty
//! user with one `add` per column applied to it, and the current value at a path is read through
//! the same resolution (attribute, value filter, sub-attribute). A changed value becomes one
//! PATCH operation on exactly that path (RFC 7644 §3.5.2): `replace` when the server has a value,
//! `add` when it has none (a missing multi-valued element is added whole, from its filter, which
//! every server understands), `remove` when the cell is empty.
//!
//! Must not import: reqwest, tokio, or the client module.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use crate::source::{Row, RowError, WORK_EMAIL};
use scim::filter;
use scim::patch::{PatchNamespace, PatchTarget, apply_patch, parse_patch, resolve_target};
use scim::schema::{ENTERPRISE_USER_URN, PATCH_OP_URN, ResourceKind, USER_URN, get_ci};

/// A user the plan refers to: one the server has, or one this run creates (index into
/// [`Plan::creates`]), whose id is known only once it is created.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserRef {
    Existing(String),
    New(usize),
}

#[derive(Debug, Clone)]
pub struct Create {
    pub line: u64,
    pub user_name: String,
    pub body: Value,
}

/// One changed path, for the dry run and `-v`.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub path: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Update {
    pub line: u64,
    pub user_name: String,
    pub id: String,
    /// PatchOp `Operations`.
    pub ops: Vec<Value>,
    pub changes: Vec<Change>,
}

/// A manager that this run creates, set once its id is known (second phase).
#[derive(Debug, Clone)]
pub struct LaterManager {
    pub line: u64,
    pub user_name: String,
    pub subject: UserRef,
    pub manager: usize,
}

#[derive(Debug, Clone)]
pub struct Deactivate {
    pub id: String,
    pub user_name: String,
}

#[derive(Debug, Clone)]
pub struct GroupCreate {
    pub display_name: String,
    pub members: Vec<(UserRef, String)>,
}

#[derive(Debug, Clone)]
pub struct GroupUpdate {
    pub id: String,
    pub display_name: String,
    pub add: Vec<(UserRef, String)>,
    /// Server ids and userNames.
    pub remove: Vec<(String, String)>,
}

/// What to send. Phase one: creates, updates, deactivations. Phase two, when the ids of the
/// users created are known: managers created in this run, group creates and member changes.
#[derive(Debug, Default)]
pub struct Plan {
    pub creates: Vec<Create>,
    pub updates: Vec<Update>,
    pub later_managers: Vec<LaterManager>,
    pub deactivations: Vec<Deactivate>,
    pub group_creates: Vec<GroupCreate>,
    pub group_updates: Vec<GroupUpdate>,
    /// Rows whose user needs nothing.
    pub unchanged: usize,
    /// Rows that cannot be applied (found while planning), skipped whole.
    pub skipped: Vec<RowError>,
    pub warnings: Vec<String>,
    /// Users the server holds.
    pub server_users: usize,
}

impl Plan {
    /// Users changed: updates, plus existing users whose only change is a manager created now.
    pub fn updated_users(&self) -> usize {
        let updated: HashSet<&str> = self.updates.iter().map(|u| u.id.as_str()).collect();
        self.updates.len()
            + self
                .later_managers
                .iter()
                .filter(|m| matches!(&m.subject, UserRef::Existing(id) if !updated.contains(id.as_str())))
                .count()
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    pub deactivate_missing: bool,
}

/// The server's users, indexed the ways rows are matched.
struct ServerUsers<'a> {
    docs: &'a [Map<String, Value>],
    by_external_id: HashMap<&'a str, usize>,
    by_user_name: HashMap<String, usize>,
    by_id: HashMap<&'a str, usize>,
}

impl<'a> ServerUsers<'a> {
    fn new(docs: &'a [Map<String, Value>]) -> Self {
        let mut s =
            ServerUsers { docs, by_external_id: HashMap::new(), by_user_name: HashMap::new(), by_id: HashMap::new() };
        for (i, d) in docs.iter().enumerate() {
            if let Some(e) = str_at(d, "externalId") {
                s.by_external_id.entry(e).or_insert(i);
            }
            if let Some(u) = str_at(d, "userName") {
                s.by_user_name.entry(u.to_lowercase()).or_insert(i);
            }
            if let Some(id) = str_at(d, "id") {
                s.by_id.insert(id, i);
            }
        }
        s
    }

    /// By externalId when given; else (or when no server user has it) by userName,
    /// case-insensitively, provided that user has no other externalId.
    fn find(&self, user_name: &str, external_id: Option<&str>) -> Option<usize> {
        if let Some(e) = external_id {
            if let Some(&i) = self.by_external_id.get(e) {
                return Some(i);
            }
            let i = *self.by_user_name.get(&user_name.to_lowercase())?;
            return match str_at(&self.docs[i], "externalId") {
                Some(other) if other != e => None,
                _ => Some(i),
            };
        }
        self.by_user_name.get(&user_name.to_lowercase()).copied()
    }

    /// A manager cell: an externalId, else a userName.
    fn find_reference(&self, key: &str) -> Option<usize> {
        self.by_external_id.get(key).or_else(|| self.by_user_name.get(&key.to_lowercase())).copied()
    }
}

fn str_at<'m>(doc: &'m Map<String, Value>, name: &str) -> Option<&'m str> {
    get_ci(doc, name).and_then(|(_, v)| v.as_str())
}

thread_local! {
    /// Paths resolved so far: an export has a dozen paths and tens of thousands of rows.
    static RESOLVED: std::cell::RefCell<HashMap<String, Result<PatchTarget, String>>> =
        std::cell::RefCell::new(HashMap::new());
}

/// A User path resolved by the protocol core, memoised.
fn resolve(path: &str) -> Result<PatchTarget, String> {
    RESOLVED.with(|cache| {
        if let Some(r) = cache.borrow().get(path) {
            return r.clone();
        }
        let r = resolve_target(ResourceKind::User.resource_type(), path).map_err(|e| e.detail);
        cache.borrow_mut().insert(path.to_string(), r.clone());
        r
    })
}

/// The value at a SCIM path in a document (`None` when unassigned), resolved as PATCH resolves
/// it: case-insensitive names, the first element a value filter matches.
pub fn value_at(doc: &Map<String, Value>, path: &str) -> Option<Value> {
    value_at_target(doc, &resolve(path).ok()?)
}

fn value_at_target(doc: &Map<String, Value>, target: &PatchTarget) -> Option<Value> {
    let container = match &target.namespace {
        PatchNamespace::Core => doc,
        PatchNamespace::Extension(urn) => get_ci(doc, urn)?.1.as_object()?,
        PatchNamespace::Unmodelled(urn) => get_ci(doc, urn)?.1.as_object()?,
    };
    let attr = target.attr.as_ref()?;
    let value = get_ci(container, &attr.name)?.1;
    let value = match &target.filter {
        Some(f) => value.as_array()?.iter().find(|e| filter::matches_element(attr.def, f, e))?,
        None => match value {
            Value::Array(items) if target.sub.is_some() => items.first()?,
            v => v,
        },
    };
    let value = match &target.sub {
        Some(sub) => get_ci(value.as_object()?, &sub.name)?.1,
        None => value,
    };
    (!value.is_null()).then(|| value.clone())
}

/// Apply `add` operations to a document through the protocol core.
fn apply_ops(doc: &mut Map<String, Value>, ops: Vec<Value>) -> Result<(), String> {
    if ops.is_empty() {
        return Ok(());
    }
    let rt = ResourceKind::User.resource_type();
    let body = json!({"schemas": [PATCH_OP_URN], "Operations": ops});
    let req = parse_patch(rt, &body).map_err(|e| e.detail)?;
    apply_patch(rt, doc, &req).map_err(|e| e.detail)?;
    Ok(())
}

fn op(kind: &str, path: &str, value: Option<Value>) -> Value {
    match value {
        Some(v) => json!({"op": kind, "path": path, "value": v}),
        None => json!({"op": kind, "path": path}),
    }
}

fn manager_path() -> String {
    format!("{ENTERPRISE_USER_URN}:manager")
}

fn same(path: &str, old: &Value, new: &Value) -> bool {
    match (old, new) {
        // userName is caseExact=false (RFC 7643 §4.1.1).
        (Value::String(a), Value::String(b)) if path == "userName" => a.eq_ignore_ascii_case(b),
        (Value::String(a), Value::String(b)) => a == b,
        (a, b) => a == b,
    }
}

/// The operations that take `old` (the server's value at `path`) to `new`. Empty when equal.
fn ops_for(doc: &Map<String, Value>, path: &str, new: Option<&Value>) -> Result<Vec<Value>, String> {
    let target = resolve(path)?;
    let old = value_at_target(doc, &target);
    Ok(match (old, new) {
        (None, None) => vec![],
        (Some(o), Some(n)) if same(path, &o, n) => vec![],
        (Some(_), Some(n)) => vec![op("replace", path, Some(n.clone()))],
        (Some(_), None) => {
            // `emails[type eq "work"].value` emptied: the element goes, not just its value.
            let whole = match (&target.filter, &target.sub, path.rfind(']')) {
                (Some(_), Some(_), Some(end)) => &path[..=end],
                _ => path,
            };
            vec![op("remove", whole, None)]
        }
        (None, Some(n)) => match (&target.filter, &target.attr) {
            (Some(_), Some(attr)) => {
                // A new element: built from the filter by the core, sent whole with `add`.
                let mut scratch = Map::new();
                let mut adds = vec![op("add", path, Some(n.clone()))];
                if path == WORK_EMAIL && !has_primary(doc, "emails") {
                    adds.push(op("add", "emails[type eq \"work\"].primary", Some(Value::Bool(true))));
                }
                apply_ops(&mut scratch, adds)?;
                let container = match &target.namespace {
                    PatchNamespace::Core => Some(&scratch),
                    PatchNamespace::Extension(u) => get_ci(&scratch, u).and_then(|(_, v)| v.as_object()),
                    PatchNamespace::Unmodelled(u) => get_ci(&scratch, u).and_then(|(_, v)| v.as_object()),
                };
                let element = container.and_then(|c| get_ci(c, &attr.name)).map(|(_, v)| v.clone());
                let whole = match (&target.namespace, element) {
                    (_, None) => return Err(format!("{path}: cannot build the element from the filter")),
                    (PatchNamespace::Core, Some(e)) => (attr.name.clone(), e),
                    (PatchNamespace::Extension(u), Some(e)) => (format!("{u}:{}", attr.name), e),
                    (PatchNamespace::Unmodelled(u), Some(e)) => (format!("{u}:{}", attr.name), e),
                };
                vec![op("add", &whole.0, Some(whole.1))]
            }
            _ => vec![op("add", path, Some(n.clone()))],
        },
    })
}

fn has_primary(doc: &Map<String, Value>, attr: &str) -> bool {
    get_ci(doc, attr)
        .and_then(|(_, v)| v.as_array())
        .is_some_and(|items| items.iter().any(|i| i.get("primary").and_then(Value::as_bool) == Some(true)))
}

/// How a manager cell resolves.
enum ManagerRef {
    None,
    Id(String),
    Later(usize),
    Unknown,
}

/// Compute the plan. `users` and `groups` are the server's documents as listed.
pub fn plan(rows: &[Row], users: &[Map<String, Value>], groups: &[Map<String, Value>], opts: PlanOptions) -> Plan {
    let server = ServerUsers::new(users);
    let mut plan = Plan { server_users: users.len(), ..Plan::default() };

    // Match first, so that managers and groups can refer to any row.
    let matched: Vec<Option<usize>> =
        rows.iter().map(|r| server.find(&r.user_name, r.external_id.as_deref())).collect();
    let mut claimed: HashMap<usize, u64> = HashMap::new();
    let mut ok = vec![true; rows.len()];
    for (i, (row, m)) in rows.iter().zip(&matched).enumerate() {
        if let Some(s) = m
            && let Some(first) = claimed.insert(*s, row.line)
        {
            ok[i] = false;
            plan.skipped.push(RowError {
                line: row.line,
                user_name: Some(row.user_name.clone()),
                external_id: row.external_id.clone(),
                reason: format!("matches the same server user as line {first}"),
            });
        }
    }
    // Creates get their index before any reference is resolved.
    let mut create_index: HashMap<usize, usize> = HashMap::new();
    let mut bodies: Vec<(usize, Map<String, Value>)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if !ok[i] || matched[i].is_some() {
            continue;
        }
        match create_body(row) {
            Ok(body) => {
                create_index.insert(i, bodies.len());
                bodies.push((i, body));
            }
            Err(reason) => {
                ok[i] = false;
                plan.skipped.push(skip(row, reason));
            }
        }
    }
    let mut row_keys: HashMap<String, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate().rev() {
        row_keys.insert(r.user_name.to_lowercase(), i);
    }
    for (i, r) in rows.iter().enumerate().rev() {
        if let Some(e) = &r.external_id {
            row_keys.insert(format!("\0{e}"), i);
        }
    }
    let resolve_manager = |cell: &Option<String>| -> ManagerRef {
        let Some(key) = cell else { return ManagerRef::None };
        let in_export = row_keys.get(&format!("\0{key}")).or_else(|| row_keys.get(&key.to_lowercase())).copied();
        if let Some(r) = in_export {
            if let Some(s) = matched[r] {
                return str_at(&users[s], "id").map_or(ManagerRef::Unknown, |id| ManagerRef::Id(id.to_string()));
            }
            if let Some(&c) = create_index.get(&r) {
                return ManagerRef::Later(c);
            }
            return ManagerRef::Unknown;
        }
        match server.find_reference(key).and_then(|s| str_at(&users[s], "id")) {
            Some(id) => ManagerRef::Id(id.to_string()),
            None => ManagerRef::Unknown,
        }
    };

    // Phase one: creates.
    for (c, (i, mut body)) in bodies.into_iter().enumerate() {
        let row = &rows[i];
        if let Some(cell) = &row.manager {
            match resolve_manager(cell) {
                ManagerRef::Id(id) => {
                    let _ = apply_ops(&mut body, vec![op("add", &manager_path(), Some(json!({"value": id})))]);
                }
                ManagerRef::Later(m) => plan.later_managers.push(LaterManager {
                    line: row.line,
                    user_name: row.user_name.clone(),
                    subject: UserRef::New(c),
                    manager: m,
                }),
                ManagerRef::None => {}
                ManagerRef::Unknown => plan.warnings.push(unknown_manager(row, cell)),
            }
        }
        finish_schemas(&mut body);
        plan.creates.push(Create { line: row.line, user_name: row.user_name.clone(), body: Value::Object(body) });
    }

    // Phase one: updates of matched users.
    for (i, row) in rows.iter().enumerate() {
        let (true, Some(s)) = (ok[i], matched[i]) else { continue };
        let doc = &users[s];
        let Some(id) = str_at(doc, "id") else {
            plan.skipped.push(skip(row, "the server's user has no id".into()));
            continue;
        };
        match update_ops(row, doc, &resolve_manager) {
            Ok((ops, changes, later)) => {
                if let Some(m) = later {
                    plan.later_managers.push(LaterManager {
                        line: row.line,
                        user_name: row.user_name.clone(),
                        subject: UserRef::Existing(id.to_string()),
                        manager: m,
                    });
                }
                if ops.is_empty() {
                    if later.is_none() {
                        plan.unchanged += 1;
                    }
                } else {
                    plan.updates.push(Update {
                        line: row.line,
                        user_name: row.user_name.clone(),
                        id: id.to_string(),
                        ops,
                        changes,
                    });
                }
            }
            Err(UpdateError::Skip(reason)) => plan.skipped.push(skip(row, reason)),
            Err(UpdateError::UnknownManager(w)) => plan.warnings.push(w),
        }
    }

    // Deactivation of server users no row names. Users named by skipped rows are not "missing".
    if opts.deactivate_missing {
        let named: HashSet<usize> = matched.iter().flatten().copied().collect();
        for (s, doc) in users.iter().enumerate() {
            if named.contains(&s) || doc.get("active").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            if let Some(id) = str_at(doc, "id") {
                plan.deactivations.push(Deactivate {
                    id: id.to_string(),
                    user_name: str_at(doc, "userName").unwrap_or_default().to_string(),
                });
            }
        }
    }

    plan_groups(&mut plan, rows, &ok, &matched, &create_index, users, groups);
    plan
}

/// Rows skipped while reading still protect their server user from deactivation: the caller
/// passes them in as rows whose `ok` flag is false. See [`plan_with_skipped`].
pub fn plan_with_skipped(
    rows: &[Row],
    skipped: &[RowError],
    users: &[Map<String, Value>],
    groups: &[Map<String, Value>],
    opts: PlanOptions,
) -> Plan {
    let mut p = plan(rows, users, groups, opts);
    if !p.deactivations.is_empty() && !skipped.is_empty() {
        let server = ServerUsers::new(users);
        let protected: HashSet<String> = skipped
            .iter()
            .filter_map(|e| {
                let by_id = e.external_id.as_deref().and_then(|x| server.by_external_id.get(x).copied());
                let by_name = e.user_name.as_deref().and_then(|n| server.by_user_name.get(&n.to_lowercase()).copied());
                by_id.or(by_name).and_then(|s| str_at(&users[s], "id")).map(str::to_string)
            })
            .collect();
        p.deactivations.retain(|d| !protected.contains(&d.id));
    }
    p
}

fn skip(row: &Row, reason: String) -> RowError {
    RowError { line: row.line, user_name: Some(row.user_name.clone()), external_id: row.external_id.clone(), reason }
}

fn unknown_manager(row: &Row, cell: &Option<String>) -> String {
    format!(
        "line {}: {}: manager `{}` is neither in the export nor on the server; manager left as it is",
        row.line,
        row.user_name,
        cell.as_deref().unwrap_or_default()
    )
}

/// The create body of a row: an empty user with one `add` per non-empty column.
fn create_body(row: &Row) -> Result<Map<String, Value>, String> {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([USER_URN]));
    doc.insert("userName".into(), Value::String(row.user_name.clone()));
    if let Some(e) = &row.external_id {
        doc.insert("externalId".into(), Value::String(e.clone()));
    }
    doc.insert("active".into(), Value::Bool(row.active.unwrap_or(true)));
    let mut ops: Vec<Value> =
        row.fields.iter().filter_map(|(p, v)| v.as_ref().map(|v| op("add", p, Some(v.clone())))).collect();
    if row.fields.iter().any(|(p, v)| p == WORK_EMAIL && v.is_some()) {
        ops.push(op("add", "emails[type eq \"work\"].primary", Some(Value::Bool(true))));
    }
    apply_ops(&mut doc, ops)?;
    Ok(doc)
}

/// `schemas` lists the extensions the body uses (RFC 7643 §3).
fn finish_schemas(doc: &mut Map<String, Value>) {
    let urns: Vec<Value> = std::iter::once(Value::String(USER_URN.into()))
        .chain(doc.keys().filter(|k| k.starts_with("urn:")).map(|k| Value::String(k.clone())))
        .collect();
    doc.insert("schemas".into(), Value::Array(urns));
}

enum UpdateError {
    Skip(String),
    UnknownManager(String),
}

type UpdateOps = (Vec<Value>, Vec<Change>, Option<usize>);

fn update_ops(
    row: &Row,
    doc: &Map<String, Value>,
    resolve_manager: &dyn Fn(&Option<String>) -> ManagerRef,
) -> Result<UpdateOps, UpdateError> {
    let mut ops = Vec::new();
    let mut changes = Vec::new();
    if let Some(active) = row.active {
        // An absent `active` is read as true.
        let current = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
        if current != active {
            changes.push(Change { path: "active".into(), old: doc.get("active").cloned(), new: Some(active.into()) });
            ops.push(op("replace", "active", Some(Value::Bool(active))));
        }
    }
    let mut push = |path: &str, new: Option<Value>| -> Result<(), UpdateError> {
        let found = ops_for(doc, path, new.as_ref()).map_err(UpdateError::Skip)?;
        if !found.is_empty() {
            changes.push(Change { path: path.to_string(), old: value_at(doc, path), new });
            ops.extend(found);
        }
        Ok(())
    };
    push("userName", Some(Value::String(row.user_name.clone())))?;
    if let Some(e) = &row.external_id {
        push("externalId", Some(Value::String(e.clone())))?;
    }
    for (path, value) in &row.fields {
        push(path, value.clone())?;
    }
    let mut later = None;
    let mut warning = None;
    if let Some(cell) = &row.manager {
        let current = value_at(doc, &format!("{}.value", manager_path()));
        let path = manager_path();
        match resolve_manager(cell) {
            ManagerRef::None if current.is_some() => {
                changes.push(Change { path: path.clone(), old: current, new: None });
                ops.push(op("remove", &path, None));
            }
            ManagerRef::Id(id) if current.as_ref().and_then(Value::as_str) != Some(id.as_str()) => {
                changes.push(Change { path: path.clone(), old: current.clone(), new: Some(Value::String(id.clone())) });
                let kind = if current.is_some() { "replace" } else { "add" };
                ops.push(op(kind, &path, Some(json!({"value": id}))));
            }
            ManagerRef::Later(m) => later = Some(m),
            ManagerRef::Unknown => warning = Some(unknown_manager(row, cell)),
            _ => {}
        }
    }
    if let (Some(w), true) = (warning, ops.is_empty()) {
        return Err(UpdateError::UnknownManager(w));
    }
    Ok((ops, changes, later))
}

fn plan_groups(
    plan: &mut Plan,
    rows: &[Row],
    ok: &[bool],
    matched: &[Option<usize>],
    create_index: &HashMap<usize, usize>,
    users: &[Map<String, Value>],
    groups: &[Map<String, Value>],
) {
    // Groups named in the export, in order of first mention, and who lists each.
    let mut named: Vec<String> = Vec::new();
    let mut wanted: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        for g in row.groups.iter().flatten() {
            let key = g.to_lowercase();
            if !wanted.contains_key(&key) {
                named.push(g.clone());
            }
            let list = wanted.entry(key).or_default();
            if ok[i] {
                list.push(i);
            }
        }
    }
    if named.is_empty() {
        return;
    }
    let user_ref = |i: usize| -> Option<(UserRef, String)> {
        let r = match matched[i] {
            Some(s) => UserRef::Existing(str_at(&users[s], "id")?.to_string()),
            None => UserRef::New(*create_index.get(&i)?),
        };
        Some((r, rows[i].user_name.clone()))
    };
    // Server ids of export users whose membership the export states (a groups cell).
    let managed: HashMap<String, String> = rows
        .iter()
        .enumerate()
        .filter(|(i, r)| ok[*i] && r.groups.is_some())
        .filter_map(|(i, r)| {
            let s = matched[i]?;
            Some((str_at(&users[s], "id")?.to_string(), r.user_name.clone()))
        })
        .collect();
    let by_name: HashMap<String, &Map<String, Value>> =
        groups.iter().filter_map(|g| Some((str_at(g, "displayName")?.to_lowercase(), g))).collect();
    for name in named {
        let key = name.to_lowercase();
        let members: Vec<(UserRef, String)> =
            wanted.get(&key).into_iter().flatten().filter_map(|&i| user_ref(i)).collect();
        let Some(group) = by_name.get(&key) else {
            plan.group_creates.push(GroupCreate { display_name: name, members });
            continue;
        };
        let Some(id) = str_at(group, "id") else { continue };
        let current: HashSet<&str> = get_ci(group, "members")
            .and_then(|(_, v)| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("value").and_then(Value::as_str))
            .collect();
        let want_ids: HashSet<&str> = members
            .iter()
            .filter_map(|(r, _)| match r {
                UserRef::Existing(id) => Some(id.as_str()),
                UserRef::New(_) => None,
            })
            .collect();
        let add: Vec<(UserRef, String)> = members
            .iter()
            .filter(|(r, _)| match r {
                UserRef::Existing(id) => !current.contains(id.as_str()),
                UserRef::New(_) => true,
            })
            .cloned()
            .collect();
        let mut remove: Vec<(String, String)> = current
            .iter()
            .filter(|m| !want_ids.contains(**m))
            .filter_map(|m| managed.get(*m).map(|n| (m.to_string(), n.clone())))
            .collect();
        remove.sort();
        if !add.is_empty() || !remove.is_empty() {
            plan.group_updates.push(GroupUpdate {
                id: id.to_string(),
                display_name: str_at(group, "displayName").unwrap_or(&name).to_string(),
                add,
                remove,
            });
        }
    }
}

/// The PatchOp body of a group's member changes.
pub fn group_patch(add_ids: &[String], remove_ids: &[String]) -> Value {
    let mut ops = Vec::new();
    if !add_ids.is_empty() {
        let members: Vec<Value> = add_ids.iter().map(|id| json!({"value": id})).collect();
        ops.push(json!({"op": "add", "path": "members", "value": members}));
    }
    for id in remove_ids {
        ops.push(json!({"op": "remove", "path": format!("members[value eq \"{}\"]", id.replace('"', "\\\""))}));
    }
    json!({"schemas": [PATCH_OP_URN], "Operations": ops})
}

/// The PatchOp body of a user's operations.
pub fn user_patch(ops: &[Value]) -> Value {
    json!({"schemas": [PATCH_OP_URN], "Operations": ops})
}

/// The PatchOp that sets a manager.
pub fn manager_patch(id: &str) -> Value {
    user_patch(&[op("add", &manager_path(), Some(json!({"value": id})))])
}

/// The PatchOp that deactivates.
pub fn deactivate_patch() -> Value {
    user_patch(&[op("replace", "active", Some(Value::Bool(false)))])
}

#[cfg(test)]
mod tests;
