//! Bulk requests (RFC 7644 §3.7): reading the request, resolving `bulkId` references, putting
//! the operations in an order that can run, keeping the tally that `failOnErrors` stops on, and
//! the response body.
//!
//! Decisions:
//! * Every POST gets its resource id before anything runs (`new_id`), so a `bulkId:x` reference
//!   is replaced by the id of the resource that POST will create, wherever it appears in an
//!   operation's `data` or `path` (§3.7.2). The operations then run in request order, except that
//!   a POST runs before the first operation that references it.
//! * Circular references (§3.7.1): when following references comes back to an operation still
//!   waiting for its own references, the group members that point back along the cycle are left
//!   out of that POST and added by a second step once every POST has run ("create first, then
//!   fill in the references"). Other attributes take the id directly (a manager or any other
//!   value does not need its target to exist first).
//! * Only references that cannot be resolved fail, with 409 (the status §3.7.1 names): a
//!   `bulkId` no POST of the request declares, or one whose POST failed.
//! * `failOnErrors` (§3.7): processing stops once that many operations have failed; the response
//!   lists the operations that ran. Absent, or 0, means no limit.
//! * `bulkId` is required on POST by the RFC; a POST without one still runs (nothing can
//!   reference it), since refusing it would help no one.
//! * The limits (`maxOperations`, `maxPayloadSize`) are the caller's; more operations than allowed
//!   is 413 for the whole request, with the limits in the detail (§3.7.4).
//!
//! Must not import: actix, diesel, reqwest, tokio, or any module outside `scim`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::error::ScimError;
use crate::resource::json_kind;
use crate::schema::{BULK_REQUEST_URN, BULK_RESPONSE_URN, PATCH_OP_URN, ResourceKind, get_ci};

/// The prefix of a value naming a resource by the `bulkId` of the POST that creates it.
pub const REFERENCE_PREFIX: &str = "bulkId:";

/// The HTTP method of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    fn parse(text: &str) -> Option<Method> {
        [Method::Post, Method::Put, Method::Patch, Method::Delete]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// What one step does, its references replaced by ids.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// POST: create a resource with this id (assigned before anything ran).
    Create {
        kind: ResourceKind,
        id: String,
        data: Value,
    },
    /// PUT.
    Replace {
        kind: ResourceKind,
        id: String,
        data: Value,
    },
    /// PATCH: `data` is the PatchOp body.
    Patch {
        kind: ResourceKind,
        id: String,
        data: Value,
    },
    Delete {
        kind: ResourceKind,
        id: String,
    },
}

impl Action {
    pub fn kind(&self) -> ResourceKind {
        match self {
            Action::Create { kind, .. }
            | Action::Replace { kind, .. }
            | Action::Patch { kind, .. }
            | Action::Delete { kind, .. } => *kind,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Action::Create { id, .. }
            | Action::Replace { id, .. }
            | Action::Patch { id, .. }
            | Action::Delete { id, .. } => id,
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The operation's index in the request.
    pub op: usize,
    pub action: Action,
    /// The operation's `version`: the write's If-Match.
    pub if_match: Option<String>,
    /// The POSTs this step needs to have succeeded (index and `bulkId`).
    pub needs: Vec<(usize, String)>,
    /// Finishes the POST of `op`: adds the members it left out along a circular reference.
    pub completes: bool,
}

/// A step to run, or an operation that failed before running.
#[derive(Debug, Clone, PartialEq)]
pub enum Planned {
    Run(Step),
    Fail { op: usize, error: ScimError },
}

/// What the response repeats of each operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Echo {
    pub method: Option<String>,
    pub bulk_id: Option<String>,
}

/// A Bulk request made ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkPlan {
    pub fail_on_errors: Option<u64>,
    /// One per operation of the request, in its order.
    pub echoes: Vec<Echo>,
    /// Steps in the order they must run.
    pub steps: Vec<Planned>,
}

/// One operation as read, before ordering.
struct Read {
    method: Method,
    kind: ResourceKind,
    /// PUT, PATCH, DELETE: the id in the path (maybe a reference).
    target: Option<String>,
    bulk_id: Option<String>,
    version: Option<String>,
}

/// Read a Bulk request and plan it. `new_id` gives the id of each POST's resource. Errors are
/// the request's as a whole (not an object, no `Operations`, too many operations); an operation
/// that is malformed becomes a [`Planned::Fail`] of its own.
pub fn plan_bulk(
    body: Value,
    max_operations: usize,
    mut new_id: impl FnMut() -> String,
) -> Result<BulkPlan, ScimError> {
    let Value::Object(mut obj) = body else {
        return Err(ScimError::invalid_syntax(format!("a Bulk request must be a JSON object ({BULK_REQUEST_URN})")));
    };
    check_schemas(get_ci(&obj, "schemas").map(|(_, v)| v))?;
    let fail_on_errors = fail_on_errors(get_ci(&obj, "failOnErrors").map(|(_, v)| v))?;
    let ops_key = get_ci(&obj, "Operations").map(|(k, _)| k.to_string());
    let ops = match ops_key.and_then(|k| obj.remove(&k)) {
        Some(Value::Array(ops)) => ops,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations must be an array of operations, got {}",
                json_kind(&other)
            )));
        }
        None => return Err(ScimError::invalid_syntax("a Bulk request needs an \"Operations\" array")),
    };
    if ops.len() > max_operations {
        return Err(ScimError::payload_too_large(format!(
            "the request holds {} operations; this server accepts at most {max_operations} per Bulk request \
             (ServiceProviderConfig bulk.maxOperations): split it",
            ops.len()
        )));
    }

    let echoes: Vec<Echo> = ops.iter().map(echo).collect();
    let n = ops.len();
    // Each operation's data moves into its step: a thousand users are not copied.
    let (read, data): (Vec<Result<Read, ScimError>>, Vec<Option<Value>>) = ops
        .into_iter()
        .map(|op| match read_operation(op) {
            Ok((r, data)) => (Ok(r), data),
            Err(e) => (Err(e), None),
        })
        .unzip();
    // The POSTs by bulkId (the first wins when one is declared twice), with their ids.
    let mut declared: HashMap<String, usize> = HashMap::new();
    let mut ids: Vec<Option<String>> = vec![None; n];
    let mut duplicate: Vec<Option<String>> = vec![None; n];
    for (i, r) in read.iter().enumerate() {
        let Ok(r) = r else { continue };
        if r.method != Method::Post {
            continue;
        }
        ids[i] = Some(new_id());
        if let Some(b) = &r.bulk_id {
            if declared.contains_key(b) {
                duplicate[i] = Some(b.clone());
            } else {
                declared.insert(b.clone(), i);
            }
        }
    }

    let mut planner = Planner {
        read: &read,
        data,
        declared: &declared,
        ids: &ids,
        state: vec![State::New; n],
        steps: Vec::new(),
        completions: Vec::new(),
    };
    for (i, dup) in duplicate.iter().enumerate() {
        if let Some(b) = dup {
            planner.state[i] = State::Done;
            planner.steps.push(Planned::Fail {
                op: i,
                error: ScimError::invalid_value(format!(
                    "bulkId \"{b}\" is declared by an earlier POST of this request; each bulkId must be unique within the request"
                )),
            });
        }
    }
    for i in 0..n {
        planner.visit(i);
    }
    let Planner { mut steps, completions, .. } = planner;
    steps.extend(completions.into_iter().map(Planned::Run));
    Ok(BulkPlan { fail_on_errors, echoes, steps })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    /// Its references are being followed.
    Open,
    Done,
}

struct Planner<'a> {
    read: &'a [Result<Read, ScimError>],
    /// Each operation's data, until its step takes it.
    data: Vec<Option<Value>>,
    declared: &'a HashMap<String, usize>,
    ids: &'a [Option<String>],
    state: Vec<State>,
    steps: Vec<Planned>,
    completions: Vec<Step>,
}

impl Planner<'_> {
    fn visit(&mut self, i: usize) {
        if self.state[i] != State::New {
            return;
        }
        self.state[i] = State::Open;
        let r = match &self.read[i] {
            Ok(r) => r,
            Err(e) => {
                self.state[i] = State::Done;
                self.steps.push(Planned::Fail { op: i, error: e.clone() });
                return;
            }
        };
        let mut refs = Vec::new();
        if let Some(t) = &r.target {
            refs.extend(reference(t));
        }
        if let Some(d) = &self.data[i] {
            collect_references(d, &mut refs);
        }
        let mut unresolved = Vec::new();
        let mut cyclic: Vec<String> = Vec::new();
        for name in refs {
            match self.declared.get(&name) {
                None => unresolved.push(name),
                Some(&j) if j == i => cyclic.push(name),
                Some(&j) => match self.state[j] {
                    State::New => self.visit(j),
                    State::Open => cyclic.push(name),
                    State::Done => {}
                },
            }
        }
        self.state[i] = State::Done;
        if let Some(name) = unresolved.first() {
            self.steps.push(Planned::Fail {
                op: i,
                error: ScimError::new(
                    409,
                    None,
                    format!("\"{REFERENCE_PREFIX}{name}\" names no POST of this request (no operation has bulkId \"{name}\"), so it cannot be resolved"),
                ),
            });
            return;
        }
        let data = self.data[i].take();
        match self.step(i, r, data, &cyclic) {
            Ok((step, completion)) => {
                self.steps.push(Planned::Run(step));
                self.completions.extend(completion);
            }
            Err(error) => self.steps.push(Planned::Fail { op: i, error }),
        }
    }

    /// The step of operation `i`, and for a group POST on a cycle, the step that adds the members
    /// left out.
    fn step(
        &self,
        i: usize,
        r: &Read,
        mut data: Option<Value>,
        cyclic: &[String],
    ) -> Result<(Step, Option<Step>), ScimError> {
        let resolve = |name: &str| self.declared.get(name).and_then(|&j| self.ids[j].clone().map(|id| (j, id)));
        let mut needs: Vec<(usize, String)> = Vec::new();
        let need = |name: &str, needs: &mut Vec<(usize, String)>| {
            if let Some(&j) = self.declared.get(name)
                && j != i
                && !needs.iter().any(|(k, _)| *k == j)
            {
                needs.push((j, name.to_string()));
            }
        };
        let mut left_out = Vec::new();
        if let (Method::Post, ResourceKind::Group, Some(Value::Object(obj))) = (r.method, r.kind, data.as_mut())
            && let Some(key) = obj.keys().find(|k| k.eq_ignore_ascii_case("members")).cloned()
            && let Some(Value::Array(members)) = obj.get_mut(&key)
        {
            members.retain(|m| {
                let back = m
                    .get("value")
                    .and_then(Value::as_str)
                    .and_then(reference)
                    .is_some_and(|name| cyclic.contains(&name));
                if back {
                    left_out.push(m.clone());
                }
                !back
            });
        }
        if let Some(d) = data.as_mut() {
            let mut names = Vec::new();
            collect_references(d, &mut names);
            for name in &names {
                if !cyclic.contains(name) {
                    need(name, &mut needs);
                }
            }
            replace_references(d, &resolve);
        }
        let target = match &r.target {
            Some(t) => match reference(t) {
                Some(name) => {
                    need(&name, &mut needs);
                    resolve(&name).map(|(_, id)| id).unwrap_or_else(|| t.clone())
                }
                None => t.clone(),
            },
            None => String::new(),
        };
        let kind = r.kind;
        let action = match r.method {
            Method::Post => {
                let id = self.ids[i].clone().unwrap_or_default();
                Action::Create { kind, id, data: data.unwrap_or(Value::Null) }
            }
            Method::Put => Action::Replace { kind, id: target, data: data.unwrap_or(Value::Null) },
            Method::Patch => Action::Patch { kind, id: target, data: data.unwrap_or(Value::Null) },
            Method::Delete => Action::Delete { kind, id: target },
        };
        let completion = if left_out.is_empty() {
            None
        } else {
            let mut value = Value::Array(left_out);
            let mut names = Vec::new();
            collect_references(&value, &mut names);
            let mut completion_needs = vec![(i, r.bulk_id.clone().unwrap_or_default())];
            for name in &names {
                need(name, &mut completion_needs);
            }
            replace_references(&mut value, &resolve);
            Some(Step {
                op: i,
                action: Action::Patch {
                    kind,
                    id: action.id().to_string(),
                    data: json!({
                        "schemas": [PATCH_OP_URN],
                        "Operations": [{"op": "add", "path": "members", "value": value}],
                    }),
                },
                if_match: None,
                needs: completion_needs,
                completes: true,
            })
        };
        Ok((Step { op: i, action, if_match: r.version.clone(), needs, completes: false }, completion))
    }
}

fn echo(op: &Value) -> Echo {
    let text =
        |name: &str| op.as_object().and_then(|o| get_ci(o, name)).and_then(|(_, v)| v.as_str()).map(str::to_string);
    Echo {
        method: text("method").map(|m| Method::parse(&m).map_or(m, |m| m.as_str().to_string())),
        bulk_id: text("bulkId"),
    }
}

/// An operation's method, path, bulkId and version, and its data.
fn read_operation(op: Value) -> Result<(Read, Option<Value>), ScimError> {
    let Value::Object(mut op) = op else {
        return Err(ScimError::invalid_syntax(format!(
            "each Bulk operation must be a JSON object, got {}",
            json_kind(&op)
        )));
    };
    let data_key = get_ci(&op, "data").map(|(k, _)| k.to_string());
    let data = data_key.and_then(|k| op.remove(&k)).filter(|v| !v.is_null());
    let op = &op;
    let member = |name: &str| get_ci(op, name).map(|(_, v)| v).filter(|v| !v.is_null());
    let text = |name: &str| -> Result<Option<String>, ScimError> {
        match member(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => Err(ScimError::invalid_value(format!("{name} must be a string, got {}", json_kind(other)))),
        }
    };
    let method_text = text("method")?.ok_or_else(|| {
        ScimError::invalid_value("each Bulk operation needs a \"method\": POST, PUT, PATCH or DELETE")
    })?;
    let method = Method::parse(&method_text).ok_or_else(|| {
        ScimError::invalid_value(format!("method \"{method_text}\" is not one of POST, PUT, PATCH, DELETE"))
    })?;
    let path = text("path")?.ok_or_else(|| {
        ScimError::invalid_value(format!("a {} operation needs a \"path\", such as /Users", method.as_str()))
    })?;
    let (kind, target) = split_path(&path)?;
    match (method, &target) {
        (Method::Post, Some(_)) => {
            return Err(ScimError::invalid_path(format!(
                "a POST's path names a resource type endpoint such as /Users, not a resource: \"{path}\""
            )));
        }
        (Method::Put | Method::Patch | Method::Delete, None) => {
            return Err(ScimError::invalid_path(format!(
                "a {} operation's path names one resource, such as /Users/{{id}}: \"{path}\"",
                method.as_str()
            )));
        }
        _ => {}
    }
    match (method, &data) {
        (Method::Delete, _) | (_, Some(Value::Object(_))) => {}
        (_, None) => {
            return Err(ScimError::invalid_syntax(format!(
                "a {} operation needs \"data\": the body the single request would carry",
                method.as_str()
            )));
        }
        (_, Some(other)) => {
            return Err(ScimError::invalid_syntax(format!("data must be a JSON object, got {}", json_kind(other))));
        }
    }
    let read = Read {
        method,
        kind,
        target,
        bulk_id: text("bulkId")?.filter(|b| !b.is_empty()),
        version: text("version")?.filter(|v| !v.is_empty()),
    };
    Ok((read, if method == Method::Delete { None } else { data }))
}

/// `/Users`, `/Groups/{id}` (the leading slash may be missing; a trailing one is ignored).
fn split_path(path: &str) -> Result<(ResourceKind, Option<String>), ScimError> {
    let trimmed = path.trim().trim_start_matches('/').trim_end_matches('/');
    let (endpoint, rest) = match trimmed.split_once('/') {
        Some((e, r)) => (e, Some(r)),
        None => (trimmed, None),
    };
    let kind = [ResourceKind::User, ResourceKind::Group]
        .into_iter()
        .find(|k| k.endpoint().trim_start_matches('/').eq_ignore_ascii_case(endpoint))
        .ok_or_else(|| {
            ScimError::new(
                404,
                None,
                format!(
                    "path \"{path}\" names no resource type of this server: Bulk operations act on /Users and /Groups"
                ),
            )
        })?;
    match rest {
        None => Ok((kind, None)),
        Some(id) if !id.is_empty() && !id.contains('/') => Ok((kind, Some(id.to_string()))),
        Some(_) => {
            Err(ScimError::invalid_path(format!("path \"{path}\" is not /Users, /Groups or one resource under them")))
        }
    }
}

fn check_schemas(schemas: Option<&Value>) -> Result<(), ScimError> {
    let urns: Vec<&str> = match schemas {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(_) => {
            return Err(ScimError::invalid_syntax(format!("schemas must be an array holding \"{BULK_REQUEST_URN}\"")));
        }
    };
    if urns.is_empty() || urns.iter().any(|u| u.trim().eq_ignore_ascii_case(BULK_REQUEST_URN)) {
        return Ok(());
    }
    Err(ScimError::invalid_value(format!(
        "schemas lists {} but not {BULK_REQUEST_URN}: POST /Bulk takes a BulkRequest",
        urns.join(", ")
    )))
}

fn fail_on_errors(v: Option<&Value>) -> Result<Option<u64>, ScimError> {
    let bad = |v: &Value| ScimError::invalid_value(format!("failOnErrors must be a whole number of errors, got {v}"));
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            n.as_u64().map(|n| (n > 0).then_some(n)).ok_or_else(|| bad(v.unwrap_or(&Value::Null)))
        }
        // Sent as text by clients that stringify every scalar.
        Some(Value::String(s)) => {
            s.trim().parse::<u64>().map(|n| (n > 0).then_some(n)).map_err(|_| bad(v.unwrap_or(&Value::Null)))
        }
        Some(other) => Err(bad(other)),
    }
}

/// The `bulkId` a value names, if it is a reference.
fn reference(value: &str) -> Option<String> {
    let head = value.get(..REFERENCE_PREFIX.len())?;
    head.eq_ignore_ascii_case(REFERENCE_PREFIX).then(|| value[REFERENCE_PREFIX.len()..].trim().to_string())
}

fn collect_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.extend(reference(s)),
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, out)),
        Value::Object(obj) => obj.values().for_each(|i| collect_references(i, out)),
        _ => {}
    }
}

fn replace_references(v: &mut Value, resolve: &impl Fn(&str) -> Option<(usize, String)>) {
    match v {
        Value::String(s) => {
            if let Some((_, id)) = reference(s).and_then(|name| resolve(&name)) {
                *s = id;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| replace_references(i, resolve)),
        Value::Object(obj) => obj.values_mut().for_each(|i| replace_references(i, resolve)),
        _ => {}
    }
}

/// The tally of a running Bulk request: whether each operation succeeded, and the failures so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    succeeded: Vec<Option<bool>>,
    failures: u64,
    fail_on_errors: Option<u64>,
}

impl Ledger {
    pub fn new(operations: usize, fail_on_errors: Option<u64>) -> Ledger {
        Ledger { succeeded: vec![None; operations], failures: 0, fail_on_errors }
    }

    /// `failOnErrors` failures happened: nothing more runs.
    pub fn stopped(&self) -> bool {
        self.fail_on_errors.is_some_and(|limit| self.failures >= limit)
    }

    /// Why a step needing these POSTs (a [`Step`]'s `needs`) cannot run: one of them failed or
    /// did not run. 409, as RFC 7644 §3.7.1 answers a reference it cannot resolve.
    pub fn blocked(&self, needs: &[(usize, String)]) -> Option<ScimError> {
        needs.iter().find_map(|(j, name)| {
            let why = match self.succeeded.get(*j).copied().flatten() {
                Some(true) => return None,
                Some(false) => "failed (see its own result)",
                None => "did not run",
            };
            Some(ScimError::new(
                409,
                None,
                format!("\"{REFERENCE_PREFIX}{name}\" cannot be resolved: the POST with that bulkId {why}"),
            ))
        })
    }

    /// Record how an operation ended (a completion step overwrites its POST's).
    pub fn record(&mut self, op: usize, succeeded: bool) {
        if !succeeded {
            self.failures += 1;
        }
        if let Some(s) = self.succeeded.get_mut(op) {
            *s = Some(succeeded);
        }
    }
}

/// How one operation ended, for the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: u16,
    /// The resource's URL (every operation but a failed POST, §3.7.3).
    pub location: Option<String>,
    /// The resource's ETag after the write.
    pub version: Option<String>,
    pub error: Option<ScimError>,
}

/// The BulkResponse (RFC 7644 §3.7.3): the operations that ran, in request order; `status` is the
/// HTTP status as text, as in the RFC's examples.
pub fn bulk_response(echoes: &[Echo], outcomes: &[Option<Outcome>]) -> Value {
    let ops: Vec<Value> = echoes
        .iter()
        .zip(outcomes)
        .filter_map(|(echo, outcome)| {
            let outcome = outcome.as_ref()?;
            let mut o = Map::new();
            if let Some(m) = &echo.method {
                o.insert("method".into(), Value::String(m.clone()));
            }
            if let Some(b) = &echo.bulk_id {
                o.insert("bulkId".into(), Value::String(b.clone()));
            }
            if let Some(l) = &outcome.location {
                o.insert("location".into(), Value::String(l.clone()));
            }
            if let Some(v) = &outcome.version {
                o.insert("version".into(), Value::String(v.clone()));
            }
            o.insert("status".into(), Value::String(outcome.status.to_string()));
            if let Some(e) = &outcome.error {
                o.insert("response".into(), e.to_json());
            }
            Some(Value::Object(o))
        })
        .collect();
    json!({"schemas": [BULK_RESPONSE_URN], "Operations": ops})
}

#[cfg(test)]
mod tests;
