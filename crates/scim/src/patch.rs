//! PATCH (RFC 7644 §3.5.2): parse a PatchOp body for a resource type and apply it to a stored
//! document, atomically.
//!
//! Owns: the PatchOp message, path resolution against the schemas (mutability, required,
//! unknown attributes), the add/remove/replace rules of RFC 7644 §3.5.2.1–3 on every path form,
//! and the IdP quirks of PATCH (one named `quirk_*` function each, with its evidence). A Group's
//! `members` are not in the document (`docs/architecture.md`): operations on them come back as
//! [`MemberChange`]s for the store to apply to the member rows.
//!
//! Not here: type coercion (`"False"` -> `false`) and the final validation of the patched
//! document, which `scim::resource` does afterwards. Values are written as the client sent
//! them; only attribute *names* are normalised to the schema's spelling.
//!
//! Decisions (`docs/idp-notes.md` §5 and below):
//! * add/replace on a value-filtered path that matches no element creates the element from the
//!   filter's `eq` terms (RFC 7644 §3.5.2.3 says `noTarget` for replace; Entra relies on
//!   creation). A filter that cannot describe an element (`or`, `co`, ...) is still `noTarget`.
//! * remove on a value-filtered path that matches nothing succeeds and changes nothing (RFC 7644
//!   §3.5.2.2 asks the same for a member that is not in the group).
//! * replace on `attr[filter]` (no sub-attribute) replaces each matching element whole, as RFC
//!   7644 §3.5.2.3 says; add on it merges the value into each matching element.
//! * `null` as a value unassigns on replace and is ignored on add (RFC 7643 §2.5).
//! * The body's `schemas` may be absent (lenient); if present it must list the PatchOp URN.
//! * writeOnly attributes (`password`) are accepted and discarded: the bridge stores no secret.
//! * After a PATCH that adds or removes extension attributes, the document's `schemas` must be
//!   recomputed; `scim::resource` does that when it normalises the result.
//!
//! Must not import: actix, diesel, reqwest, tokio, or any module of this crate outside `scim`.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::{self, AttrExp, CompValue, CompareOp, PatchPath, ValFilter};
use crate::schema::{AttributeDef, Mutability, Namespace, PATCH_OP_URN, ResourceKind, ResourceType, get_ci, key_ci};

/// The `op` of a PATCH operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        })
    }
}

/// Where the attribute of a PATCH path lives in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchNamespace {
    /// A top-level member: core schema or common attribute.
    Core,
    /// The object under a schema extension this resource type models.
    Extension(&'static str),
    /// The object under an extension URN we do not model: schemaless, names kept as sent.
    Unmodelled(String),
}

/// An attribute or sub-attribute named by a path: the schema's spelling and definition when
/// modelled, the client's spelling otherwise.
#[derive(Debug, Clone)]
pub struct AttrName {
    pub name: String,
    pub def: Option<&'static AttributeDef>,
}

impl AttrName {
    fn known(def: &'static AttributeDef) -> Self {
        AttrName { name: def.name.clone(), def: Some(def) }
    }
}

/// A PATCH path parsed and resolved against a resource type.
#[derive(Debug, Clone)]
pub struct PatchTarget {
    pub namespace: PatchNamespace,
    /// None: the path is the extension URN itself, the target is the whole extension object.
    pub attr: Option<AttrName>,
    /// The value filter of `attr[filter]`, selecting elements of a multi-valued attribute.
    pub filter: Option<ValFilter>,
    /// `name.sub` or `attr[filter].sub`.
    pub sub: Option<AttrName>,
    /// The path as the client sent it, for messages.
    pub text: String,
}

impl PatchTarget {
    fn is_members(&self, rt: &ResourceType) -> bool {
        rt.kind == ResourceKind::Group
            && self.namespace == PatchNamespace::Core
            && self.attr.as_ref().is_some_and(|a| a.name == "members")
    }

    fn whole_extension(namespace: PatchNamespace, text: &str) -> Self {
        PatchTarget { namespace, attr: None, filter: None, sub: None, text: text.to_string() }
    }
}

/// One operation of a PatchOp body.
#[derive(Debug, Clone)]
pub struct Operation {
    pub op: OpKind,
    pub path: Option<PatchTarget>,
    /// As sent; `Some(Value::Null)` when the client sent `"value": null`.
    pub value: Option<Value>,
}

/// A parsed and validated PatchOp body (RFC 7644 §3.5.2).
#[derive(Debug, Clone)]
pub struct PatchRequest {
    pub operations: Vec<Operation>,
}

/// What a group PATCH does to the member rows (members are not in the document).
#[derive(Debug, Clone, PartialEq)]
pub enum MemberChange {
    /// Add these members (objects `{value, type?, display?, $ref?}`, names canonical, nulls dropped).
    Add(Vec<Value>),
    RemoveAll,
    /// Remove the members with these `value`s. `members.value` is caseExact false (RFC 7643
    /// §8.7.1), so the store compares them as [`filter::matches_element`] would.
    RemoveValues(Vec<String>),
    /// Remove the members whose row (as a member object) satisfies this value filter.
    RemoveMatching(ValFilter),
    /// Replace all members with these.
    ReplaceAll(Vec<Value>),
}

/// The result of [`apply_patch`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// Whether the document differs from before.
    pub changed: bool,
    /// Member operations, in request order (Groups only).
    pub member_changes: Vec<MemberChange>,
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parse and validate a PatchOp body (RFC 7644 §3.5.2) for a resource type, tolerating the IdP
/// quirks documented on the `quirk_*` functions. Errors: `invalidSyntax` (not an object, no
/// `Operations`, bad `op`, missing `value`), `invalidPath` (unparseable path, or an attribute this
/// resource type does not define outside an unmodelled extension), `invalidFilter` (meaningless
/// value filter), `mutability` (readOnly target, required attribute removed), `noTarget` (remove
/// without path).
pub fn parse_patch(rt: &ResourceType, body: &Value) -> Result<PatchRequest, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax("a PATCH body must be a PatchOp object"));
    };
    check_schemas(body)?;
    let ops = match get_ci(body, "Operations") {
        Some((_, Value::Array(ops))) if !ops.is_empty() => ops,
        Some((_, Value::Array(_))) => {
            return Err(ScimError::invalid_syntax("`Operations` is empty"));
        }
        Some(_) => return Err(ScimError::invalid_syntax("`Operations` must be an array")),
        None => {
            return Err(ScimError::invalid_syntax("a PatchOp body needs `Operations` (RFC 7644 §3.5.2)"));
        }
    };
    let mut operations = Vec::with_capacity(ops.len());
    for (i, raw) in ops.iter().enumerate() {
        let operation = parse_operation(rt, raw)
            .and_then(|operation| {
                for step in steps(rt, &operation)? {
                    if let Step::Do(target, value) = step {
                        check_step(rt, operation.op, &target, value)?;
                    }
                }
                Ok(operation)
            })
            .map_err(|mut e| {
                e.detail = format!("Operations[{i}]: {}", e.detail);
                e
            })?;
        operations.push(operation);
    }
    Ok(PatchRequest { operations })
}

/// RFC 7644 §3.5.2: "The body of each request MUST contain the "schemas" attribute with the URI
/// value of urn:ietf:params:scim:api:messages:2.0:PatchOp". Lenient: an absent `schemas` is
/// accepted (the operations say what the body is); a `schemas` naming something else is not.
fn check_schemas(body: &Map<String, Value>) -> Result<(), ScimError> {
    match get_ci(body, "schemas") {
        None | Some((_, Value::Null)) => Ok(()),
        Some((_, Value::Array(urns)))
            if urns.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_URN))) =>
        {
            Ok(())
        }
        Some(_) => Err(ScimError::invalid_syntax(format!("`schemas` must list {PATCH_OP_URN}"))),
    }
}

fn parse_operation(rt: &ResourceType, raw: &Value) -> Result<Operation, ScimError> {
    let Value::Object(raw) = raw else {
        return Err(ScimError::invalid_syntax("each operation must be an object with `op`"));
    };
    let op = match get_ci(raw, "op") {
        Some((_, Value::String(s))) => parse_op(s)?,
        _ => {
            return Err(ScimError::invalid_syntax("each operation needs an `op`: add, remove or replace"));
        }
    };
    let path = match get_ci(raw, "path") {
        None | Some((_, Value::Null)) => None,
        Some((_, Value::String(s))) if s.trim().is_empty() => None,
        Some((_, Value::String(s))) => Some(resolve_target(rt, s)?),
        Some(_) => return Err(ScimError::invalid_path("`path` must be a string")),
    };
    let value = get_ci(raw, "value").map(|(_, v)| v.clone());
    if op == OpKind::Remove && path.is_none() {
        return Err(ScimError::no_target("remove needs a `path` (RFC 7644 §3.5.2.2)"));
    }
    if op != OpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_syntax(format!("{op} needs a `value`")));
    }
    Ok(Operation { op, path, value })
}

/// `op` in any case: Entra ID sends `Add`, `Replace`, `Remove` ("Microsoft Entra ID emits the
/// values of op as Add, Replace, and Remove", Microsoft Learn SCIM tutorial;
/// `docs/idp-notes.md` §4.1 item 1).
fn parse_op(s: &str) -> Result<OpKind, ScimError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "add" => Ok(OpKind::Add),
        "remove" => Ok(OpKind::Remove),
        "replace" => Ok(OpKind::Replace),
        _ => Err(ScimError::invalid_syntax(format!("unknown op `{s}`: use add, remove or replace"))),
    }
}

/// Parse a PATCH path and resolve it against `rt`.
///
/// A path that is exactly a modelled extension URN names the whole extension object (the
/// parser would read it as attribute `User` of URI `urn:...:2.0`). Paths under an extension URN
/// we do not model are schemaless; any other unknown attribute is `invalidPath`.
pub fn resolve_target(rt: &ResourceType, text: &str) -> Result<PatchTarget, ScimError> {
    let trimmed = text.trim();
    if let Some(ext) = rt.extension(trimmed) {
        return Ok(PatchTarget::whole_extension(PatchNamespace::Extension(ext.id.as_str()), text));
    }
    let (path, filter, sub) = match filter::parse_path(trimmed)? {
        PatchPath::Attr(a) => {
            let sub = a.sub_attr.clone();
            (a, None, sub)
        }
        PatchPath::Value(vp) => {
            if vp.attr.sub_attr.is_some() {
                return Err(ScimError::invalid_path(format!(
                    "`{text}`: a value filter applies to an attribute, not to a sub-attribute"
                )));
            }
            (vp.attr, Some(vp.filter), vp.sub_attr)
        }
    };
    if path.uri.is_none() && path.name.eq_ignore_ascii_case("schemas") {
        return Err(ScimError::mutability(
            "`schemas` is derived by the server: add or remove the extension's attributes instead",
        ));
    }
    let Some(resolved) = rt.resolve(path.uri.as_deref(), &path.name, None) else {
        return match path.uri {
            Some(uri) if !rt.knows_schema(&uri) => {
                if let Some(f) = &filter {
                    filter::validate_val_filter(None, f)?;
                }
                Ok(PatchTarget {
                    namespace: PatchNamespace::Unmodelled(uri),
                    attr: Some(AttrName { name: path.name, def: None }),
                    filter,
                    sub: sub.map(|name| AttrName { name, def: None }),
                    text: text.to_string(),
                })
            }
            _ => Err(ScimError::invalid_path(format!("`{text}`: a {} has no attribute `{}`", rt.id(), path.name))),
        };
    };
    let attr = resolved.attr;
    if filter.is_some() && !(attr.multi_valued && attr.is_complex()) {
        return Err(ScimError::invalid_path(format!(
            "`{text}`: a value filter applies only to a multi-valued complex attribute"
        )));
    }
    if let Some(f) = &filter {
        filter::validate_val_filter(Some(attr), f)?;
    }
    let sub = match sub {
        None => None,
        Some(s) => match attr.sub(&s) {
            Some(d) => Some(AttrName::known(d)),
            None => {
                return Err(ScimError::invalid_path(format!("`{text}`: `{}` has no sub-attribute `{s}`", attr.name)));
            }
        },
    };
    let namespace = match resolved.namespace {
        Namespace::Core => PatchNamespace::Core,
        Namespace::Extension(urn) => PatchNamespace::Extension(urn),
    };
    Ok(PatchTarget { namespace, attr: Some(AttrName::known(attr)), filter, sub, text: text.to_string() })
}

/// One unit of work: an operation on one target. Path-less operations and whole-extension
/// values become one step per attribute they carry.
enum Step<'v> {
    /// Okta's own `id` inside a path-less value, see [`quirk_okta_own_id`].
    CheckId(&'v Value),
    Do(Box<PatchTarget>, Option<&'v Value>),
}

fn steps<'v>(rt: &ResourceType, operation: &'v Operation) -> Result<Vec<Step<'v>>, ScimError> {
    let value = operation.value.as_ref();
    let mut out = Vec::new();
    match &operation.path {
        Some(t) => expand_target(rt, operation.op, t.clone(), value, &mut out)?,
        None => match value {
            Some(Value::Object(attrs)) => expand_pathless(rt, operation.op, attrs, true, &mut out)?,
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "{} without a `path` needs a `value` that is an object of attributes",
                    operation.op
                )));
            }
        },
    }
    Ok(out)
}

/// A whole-extension target with an object value becomes one step per attribute of the object
/// (replace on a complex target replaces the sub-attributes given, RFC 7644 §3.5.2.3).
fn expand_target<'v>(
    rt: &ResourceType,
    op: OpKind,
    target: PatchTarget,
    value: Option<&'v Value>,
    out: &mut Vec<Step<'v>>,
) -> Result<(), ScimError> {
    let (None, Some(Value::Object(attrs)), OpKind::Add | OpKind::Replace) = (&target.attr, value, op) else {
        out.push(Step::Do(Box::new(target), value));
        return Ok(());
    };
    for (key, v) in attrs {
        if key.trim().eq_ignore_ascii_case("schemas") {
            // An extension object echoed from a typed client model carries its own `schemas`
            // (scim2-tester's EnterpriseUser does); the server derives `schemas`.
            continue;
        }
        let t = match &target.namespace {
            PatchNamespace::Unmodelled(urn) => PatchTarget {
                namespace: target.namespace.clone(),
                attr: Some(AttrName { name: key.clone(), def: None }),
                filter: None,
                sub: None,
                text: format!("{urn}:{key}"),
            },
            PatchNamespace::Extension(urn) => resolve_target(rt, &format!("{urn}:{key}"))?,
            PatchNamespace::Core => resolve_target(rt, key)?,
        };
        out.push(Step::Do(Box::new(t), Some(v)));
    }
    Ok(())
}

/// The attributes of a path-less add/replace value: plain names, dotted sub-attribute paths
/// (`"name.givenName"`, Entra, `docs/idp-notes.md` §4.1 item 8), URN-qualified
/// names, and whole extension objects keyed by their URN.
fn expand_pathless<'v>(
    rt: &ResourceType,
    op: OpKind,
    attrs: &'v Map<String, Value>,
    top: bool,
    out: &mut Vec<Step<'v>>,
) -> Result<(), ScimError> {
    for (key, v) in attrs {
        let k = key.trim();
        if k.eq_ignore_ascii_case("schemas") {
            // The server derives `schemas` (clients echoing a resource send it along).
            continue;
        }
        if k.eq_ignore_ascii_case("id") {
            out.push(Step::CheckId(v));
            continue;
        }
        if let (true, true, Value::Object(core)) = (top, rt.core.id.eq_ignore_ascii_case(k), v) {
            // The core schema URN as a key holds core attributes, like an extension object.
            expand_pathless(rt, op, core, false, out)?;
            continue;
        }
        let target = resolve_target(rt, k)?;
        let target = match (&target.namespace, &target.sub, &target.filter, v) {
            // `"urn:example:ext:1.0:User": {...}` in a path-less value is a whole unmodelled
            // extension (the shape of a resource body), not an attribute `User` of `urn:...:1.0`.
            (PatchNamespace::Unmodelled(_), None, None, Value::Object(_)) => {
                PatchTarget::whole_extension(PatchNamespace::Unmodelled(k.to_string()), k)
            }
            _ => target,
        };
        expand_target(rt, op, target, Some(v), out)?;
    }
    Ok(())
}

/// Checks that need no document: mutability, required attributes, value presence and shape.
fn check_step(rt: &ResourceType, op: OpKind, target: &PatchTarget, value: Option<&Value>) -> Result<(), ScimError> {
    let text = &target.text;
    let Some(attr) = &target.attr else {
        return match (op, value) {
            (OpKind::Remove, _) | (_, Some(Value::Null | Value::Object(_))) => Ok(()),
            _ => Err(ScimError::invalid_value(format!("`{text}` takes an object of the extension's attributes"))),
        };
    };
    for def in [attr.def, target.sub.as_ref().and_then(|s| s.def)].into_iter().flatten() {
        if def.mutability == Mutability::ReadOnly {
            return Err(ScimError::mutability(format!("`{text}`: `{}` is readOnly", def.name)));
        }
    }
    if target.is_members(rt) {
        return check_members_step(op, target, value);
    }
    let whole = target.sub.is_none() && target.filter.is_none();
    let required = attr.def.is_some_and(|d| d.required);
    let unassigns = match op {
        OpKind::Remove => true,
        OpKind::Replace => value.is_none_or(is_unassigned),
        OpKind::Add => false,
    };
    if whole && required && unassigns {
        return Err(ScimError::mutability(format!(
            "`{text}`: `{}` is required and cannot be removed (RFC 7644 §3.5.2.2)",
            attr.name
        )));
    }
    Ok(())
}

fn check_members_step(op: OpKind, target: &PatchTarget, value: Option<&Value>) -> Result<(), ScimError> {
    let text = &target.text;
    match op {
        OpKind::Add | OpKind::Replace => {
            if target.filter.is_some() || target.sub.is_some() {
                return Err(ScimError::mutability(format!(
                    "`{text}`: a member's value, type and $ref are immutable and display is \
                     readOnly; remove the member and add it again"
                )));
            }
            member_list(value).map(|_| ())
        }
        OpKind::Remove => {
            if target.sub.is_some() {
                return Err(ScimError::mutability(format!(
                    "`{text}`: remove members with `members[value eq \"...\"]`, not their sub-attributes"
                )));
            }
            match (value, &target.filter) {
                (None | Some(Value::Null), _) | (_, Some(_)) => Ok(()),
                (Some(v), None) => member_ids(v).map(|_| ()),
            }
        }
    }
}

fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Applying
// ---------------------------------------------------------------------------------------------

/// Apply all operations to `doc` (the canonical stored document; for groups without members)
/// atomically: on any error `doc` is unchanged (RFC 7644 §3.5.2). Operations on a Group's
/// `members` are not applied to the document but returned, in order, as [`MemberChange`]s.
pub fn apply_patch(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    req: &PatchRequest,
) -> Result<PatchOutcome, ScimError> {
    let mut work = doc.clone();
    let mut member_changes = Vec::new();
    for (i, operation) in req.operations.iter().enumerate() {
        apply_operation(rt, &mut work, operation, &mut member_changes).map_err(|mut e| {
            e.detail = format!("Operations[{i}]: {}", e.detail);
            e
        })?;
    }
    let changed = work != *doc;
    if changed {
        *doc = work;
    }
    Ok(PatchOutcome { changed, member_changes })
}

fn apply_operation(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    operation: &Operation,
    member_changes: &mut Vec<MemberChange>,
) -> Result<(), ScimError> {
    for step in steps(rt, operation)? {
        match step {
            Step::CheckId(v) => quirk_okta_own_id(doc, v)?,
            Step::Do(target, value) => {
                check_step(rt, operation.op, &target, value)?;
                if target.is_members(rt) {
                    member_changes.push(member_change(operation.op, &target, value)?);
                } else {
                    apply_step(doc, operation.op, &target, value)?;
                }
            }
        }
    }
    Ok(())
}

/// Okta's group rename carries the group's own id in a path-less replace:
/// `{"op":"replace","value":{"id":"<group id>","displayName":".."}}`, sent with every
/// membership update (Okta "SCIM 2.0 Protocol Reference", Group Push;
/// `docs/idp-notes.md` §4.2 item 8). `id` is readOnly: the same id is accepted and
/// ignored, a different one is a `mutability` error.
fn quirk_okta_own_id(doc: &Map<String, Value>, sent: &Value) -> Result<(), ScimError> {
    match (doc.get("id"), sent) {
        (Some(Value::String(current)), Value::String(s)) if current == s => Ok(()),
        _ => Err(ScimError::mutability("`id` is readOnly")),
    }
}

fn apply_step(
    doc: &mut Map<String, Value>,
    op: OpKind,
    target: &PatchTarget,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(attr) = &target.attr else {
        return apply_whole_extension(doc, op, target, value);
    };
    if attr.def.is_some_and(|d| d.mutability == Mutability::WriteOnly) {
        // Accepted and discarded: the bridge stores no secret (docs/architecture.md).
        return Ok(());
    }
    let create = op != OpKind::Remove;
    let Some(container) = container_mut(doc, &target.namespace, create) else {
        return Ok(());
    };
    let result = match (&target.filter, &target.sub) {
        (None, None) => apply_whole_attribute(container, op, attr, value, target),
        (Some(f), sub) => apply_elements(container, op, attr, Some(f), sub.as_ref(), value, target),
        (None, Some(sub)) => {
            let existing = get_ci(container, &attr.name).map(|(_, v)| v);
            if is_multi(attr.def, existing, value) {
                apply_elements(container, op, attr, None, Some(sub), value, target)
            } else {
                apply_sub_of_single(container, op, attr, sub, value)
            }
        }
    };
    prune_extension(doc, &target.namespace);
    result
}

/// The object holding the target's attribute: the document, or its extension object (created
/// when `create`; its key normalised to the schema URN when modelled).
fn container_mut<'d>(
    doc: &'d mut Map<String, Value>,
    namespace: &PatchNamespace,
    create: bool,
) -> Option<&'d mut Map<String, Value>> {
    let (urn, known) = match namespace {
        PatchNamespace::Core => return Some(doc),
        PatchNamespace::Extension(urn) => (*urn, true),
        PatchNamespace::Unmodelled(urn) => (urn.as_str(), false),
    };
    let key = match key_ci(doc, urn) {
        Some(k) if known && k != urn => {
            let v = doc.shift_remove(&k)?;
            doc.insert(urn.to_string(), v);
            urn.to_string()
        }
        Some(k) => k,
        None if create => {
            doc.insert(urn.to_string(), Value::Object(Map::new()));
            urn.to_string()
        }
        None => return None,
    };
    let slot = doc.get_mut(&key)?;
    if !slot.is_object() {
        if !create {
            return None;
        }
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// An extension object left empty is unassigned (RFC 7643 §2.5).
fn prune_extension(doc: &mut Map<String, Value>, namespace: &PatchNamespace) {
    let urn = match namespace {
        PatchNamespace::Core => return,
        PatchNamespace::Extension(urn) => *urn,
        PatchNamespace::Unmodelled(urn) => urn.as_str(),
    };
    if let Some(key) = key_ci(doc, urn)
        && doc.get(&key).is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
    {
        doc.shift_remove(&key);
    }
}

fn apply_whole_extension(
    doc: &mut Map<String, Value>,
    op: OpKind,
    target: &PatchTarget,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let urn = match &target.namespace {
        PatchNamespace::Core => return Ok(()),
        PatchNamespace::Extension(urn) => *urn,
        PatchNamespace::Unmodelled(urn) => urn.as_str(),
    };
    // Object values were expanded into one step per attribute; what is left is a removal.
    let removes = op == OpKind::Remove || (op == OpKind::Replace && value.is_none_or(Value::is_null));
    if removes && let Some(key) = key_ci(doc, urn) {
        doc.shift_remove(&key);
    }
    Ok(())
}

/// Lookup by attribute name, case-insensitively; a modelled attribute's key is renamed to the
/// schema's spelling first, so that what we write is canonical.
fn slot_mut<'c>(container: &'c mut Map<String, Value>, attr: &AttrName) -> Option<&'c mut Value> {
    let key = key_ci(container, &attr.name)?;
    if attr.def.is_some() && key != attr.name {
        let v = container.shift_remove(&key)?;
        container.insert(attr.name.clone(), v);
        return container.get_mut(&attr.name);
    }
    container.get_mut(&key)
}

fn set_attr(container: &mut Map<String, Value>, attr: &AttrName, value: Value) {
    match slot_mut(container, attr) {
        Some(slot) => *slot = value,
        None => {
            container.insert(attr.name.clone(), value);
        }
    }
}

fn remove_attr(container: &mut Map<String, Value>, name: &str) {
    if let Some(key) = key_ci(container, name) {
        container.shift_remove(&key);
    }
}

fn is_multi(def: Option<&AttributeDef>, existing: Option<&Value>, value: Option<&Value>) -> bool {
    match def {
        Some(d) => d.multi_valued,
        None => existing.is_some_and(Value::is_array) || value.is_some_and(Value::is_array),
    }
}

fn is_complex(def: Option<&AttributeDef>, existing: Option<&Value>, value: &Value) -> bool {
    match def {
        Some(d) => d.is_complex(),
        None => existing.is_some_and(Value::is_object) && value.is_object(),
    }
}

/// RFC 7644 §3.5.2.1 and §3.5.2.3 on `attr` (no filter, no sub-attribute).
fn apply_whole_attribute(
    container: &mut Map<String, Value>,
    op: OpKind,
    attr: &AttrName,
    value: Option<&Value>,
    target: &PatchTarget,
) -> Result<(), ScimError> {
    let def = attr.def;
    let existing = get_ci(container, &attr.name).map(|(_, v)| v);
    let multi = is_multi(def, existing, value);
    let value = match (op, value) {
        (OpKind::Remove, Some(listed)) if multi && !listed.is_null() => {
            quirk_remove_listed_values(container, attr, listed);
            return Ok(());
        }
        (OpKind::Remove, _) => {
            remove_attr(container, &attr.name);
            return Ok(());
        }
        (_, None) => return Ok(()),
        (OpKind::Replace, Some(v)) if is_unassigned(v) => {
            remove_attr(container, &attr.name);
            return Ok(());
        }
        (OpKind::Add, Some(v)) if is_unassigned(v) => return Ok(()),
        (_, Some(v)) => v,
    };
    if multi {
        let items: Vec<Value> = match value {
            Value::Array(items) => items.iter().map(|i| canonical_names(def, i)).collect(),
            single => vec![canonical_names(def, single)],
        };
        let mut elements = match (op, existing) {
            (OpKind::Add, Some(Value::Array(current))) => current.clone(),
            (OpKind::Add, Some(other)) => vec![other.clone()],
            _ => Vec::new(),
        };
        let mut touched = Vec::new();
        for item in items {
            if !elements.contains(&item) {
                touched.push(elements.len());
                elements.push(item);
            }
        }
        single_primary(&mut elements, &touched);
        if elements.is_empty() {
            remove_attr(container, &attr.name);
        } else {
            set_attr(container, attr, Value::Array(elements));
        }
        return Ok(());
    }
    let value = quirk_entra_single_value_in_array(def, value);
    let value = quirk_entra_scalar_for_complex(def, value);
    if let (true, Value::Object(subs)) = (is_complex(def, existing, &value), &value) {
        // Add and replace on a complex attribute set the sub-attributes given (RFC 7644 §3.5.2.3).
        let mut merged = match existing {
            Some(Value::Object(o)) => o.clone(),
            _ => Map::new(),
        };
        merge_sub_attributes(&mut merged, def, subs, op);
        if merged.is_empty() {
            remove_attr(container, &attr.name);
        } else {
            set_attr(container, attr, Value::Object(merged));
        }
        return Ok(());
    }
    check_immutable(def, existing, &value, target)?;
    set_attr(container, attr, value);
    Ok(())
}

/// `name.givenName`, `manager.value`: a sub-attribute of a single-valued complex attribute.
fn apply_sub_of_single(
    container: &mut Map<String, Value>,
    op: OpKind,
    attr: &AttrName,
    sub: &AttrName,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let unassign = match (op, value) {
        (OpKind::Remove, _) | (OpKind::Replace, None | Some(Value::Null)) => true,
        (OpKind::Add, None | Some(Value::Null)) => return Ok(()),
        _ => false,
    };
    if unassign {
        if let Some(Value::Object(o)) = slot_mut(container, attr) {
            remove_attr(o, &sub.name);
            if o.is_empty() {
                remove_attr(container, &attr.name);
            }
        }
        return Ok(());
    }
    let Some(v) = value else {
        return Ok(());
    };
    let mut object = match get_ci(container, &attr.name) {
        Some((_, Value::Object(o))) => o.clone(),
        _ => Map::new(),
    };
    set_attr(&mut object, sub, v.clone());
    set_attr(container, attr, Value::Object(object));
    Ok(())
}

/// Value-filtered paths (`emails[type eq "work"]`, `addresses[type eq "work"].streetAddress`) and
/// sub-attributes of multi-valued attributes without filter (`emails.display`: every element).
fn apply_elements(
    container: &mut Map<String, Value>,
    op: OpKind,
    attr: &AttrName,
    filter: Option<&ValFilter>,
    sub: Option<&AttrName>,
    value: Option<&Value>,
    target: &PatchTarget,
) -> Result<(), ScimError> {
    let def = attr.def;
    let mut elements = match get_ci(container, &attr.name) {
        Some((_, Value::Array(items))) => items.clone(),
        Some((_, Value::Null)) | None => Vec::new(),
        Some((_, other)) => vec![other.clone()],
    };
    let matched: Vec<usize> = elements
        .iter()
        .enumerate()
        .filter(|(_, e)| filter.is_none_or(|f| filter::matches_element(def, f, e)))
        .map(|(i, _)| i)
        .collect();
    let unassign = match (op, value) {
        (OpKind::Remove, _) | (OpKind::Replace, None | Some(Value::Null)) => true,
        (OpKind::Add, None | Some(Value::Null)) => return Ok(()),
        _ => false,
    };
    if unassign {
        if matched.is_empty() {
            return Ok(());
        }
        match sub {
            None => {
                let mut i = 0;
                elements.retain(|_| {
                    i += 1;
                    !matched.contains(&(i - 1))
                });
            }
            Some(s) => {
                for &i in &matched {
                    if let Value::Object(o) = &mut elements[i] {
                        remove_attr(o, &s.name);
                    }
                }
                elements.retain(|e| e.as_object().is_none_or(|o| !o.is_empty()));
            }
        }
    } else {
        let Some(v) = value else {
            return Ok(());
        };
        let touched = if matched.is_empty() {
            let mut element = element_from_filter(def, filter).ok_or_else(|| {
                ScimError::no_target(format!(
                    "`{}` matches no element, and its filter does not describe one to create \
                     (use `eq` terms joined by `and`)",
                    target.text
                ))
            })?;
            match sub {
                Some(s) => set_attr(&mut element, s, v.clone()),
                None => {
                    let given = element_value(def, v, target)?;
                    element.extend(given);
                }
            }
            elements.push(Value::Object(element));
            vec![elements.len() - 1]
        } else {
            for &i in &matched {
                let element = &mut elements[i];
                match (sub, op) {
                    (Some(s), _) => {
                        if !element.is_object() {
                            *element = Value::Object(Map::new());
                        }
                        if let Value::Object(o) = element {
                            set_attr(o, s, v.clone());
                        }
                    }
                    (None, OpKind::Replace) => {
                        *element = Value::Object(element_value(def, v, target)?);
                    }
                    (None, _) => {
                        let given = element_value(def, v, target)?;
                        if let Value::Object(o) = element {
                            merge_sub_attributes(o, def, &given, op);
                        } else {
                            *element = Value::Object(given);
                        }
                    }
                }
            }
            matched
        };
        single_primary(&mut elements, &touched);
    }
    if elements.is_empty() {
        remove_attr(container, &attr.name);
    } else {
        set_attr(container, attr, Value::Array(elements));
    }
    Ok(())
}

/// The value of an `attr[filter]` add/replace: an object of sub-attributes, names canonical.
fn element_value(def: Option<&AttributeDef>, v: &Value, target: &PatchTarget) -> Result<Map<String, Value>, ScimError> {
    match canonical_names(def, v) {
        Value::Object(o) => Ok(o),
        _ => Err(ScimError::invalid_value(format!(
            "`{}` selects elements: its value must be an object of sub-attributes",
            target.text
        ))),
    }
}

/// A new element for a filtered path that matched nothing, built from the filter's `eq` terms
/// (`phoneNumbers[type eq "eightbyeight"]` gives `{"type": "eightbyeight"}`); None when the
/// filter is not a conjunction of `eq` terms. No filter gives an empty element.
fn element_from_filter(def: Option<&AttributeDef>, filter: Option<&ValFilter>) -> Option<Map<String, Value>> {
    fn collect(def: Option<&AttributeDef>, f: &ValFilter, out: &mut Map<String, Value>) -> bool {
        match f {
            ValFilter::Attr(AttrExp::Comparison(path, CompareOp::Eq, value))
                if path.sub_attr.is_none() && path.uri.is_none() =>
            {
                let v = match value {
                    CompValue::Str(s) => Value::String(s.clone()),
                    CompValue::True => Value::Bool(true),
                    CompValue::False => Value::Bool(false),
                    CompValue::Number(n) => Value::Number(n.clone()),
                    CompValue::Null => return false,
                };
                let name = def.and_then(|d| d.sub(&path.name)).map_or(path.name.clone(), |s| s.name.clone());
                out.insert(name, v);
                true
            }
            ValFilter::And(items) => items.iter().all(|i| collect(def, i, out)),
            _ => false,
        }
    }
    let mut element = Map::new();
    match filter {
        None => Some(element),
        Some(f) => collect(def, f, &mut element).then_some(element),
    }
}

/// Set the sub-attributes in `given` on `object`: `null` unassigns on replace and is ignored on
/// add (RFC 7643 §2.5).
fn merge_sub_attributes(
    object: &mut Map<String, Value>,
    def: Option<&'static AttributeDef>,
    given: &Map<String, Value>,
    op: OpKind,
) {
    for (k, v) in given {
        let name = AttrName {
            name: def.and_then(|d| d.sub(k)).map_or(k.clone(), |s| s.name.clone()),
            def: def.and_then(|d| d.sub(k)),
        };
        match (v, op) {
            (Value::Null, OpKind::Add) => {}
            (Value::Null, _) => remove_attr(object, &name.name),
            (v, _) => set_attr(object, &name, v.clone()),
        }
    }
}

/// The value with sub-attribute names spelled as the schema spells them
/// (`{"Value": "x"}` -> `{"value": "x"}`); elements of arrays likewise. Values are untouched.
fn canonical_names(def: Option<&AttributeDef>, value: &Value) -> Value {
    match (def, value) {
        (Some(d), Value::Object(o)) if d.is_complex() => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let name = d.sub(k).map_or(k.clone(), |s| s.name.clone());
                    (name, v.clone())
                })
                .collect(),
        ),
        (Some(_), Value::Array(items)) => Value::Array(items.iter().map(|i| canonical_names(def, i)).collect()),
        (_, v) => v.clone(),
    }
}

/// RFC 7644 §3.5.2: setting `primary` to true on one value sets it false on the others. The
/// first written element (index in `touched`) that is primary wins; `"True"` counts as true.
fn single_primary(elements: &mut [Value], touched: &[usize]) {
    let Some(&winner) = touched.iter().find(|&&i| elements.get(i).is_some_and(filter::is_primary)) else {
        return;
    };
    for (i, element) in elements.iter_mut().enumerate() {
        if i != winner
            && filter::is_primary(element)
            && let Value::Object(o) = element
        {
            let key = key_ci(o, "primary").unwrap_or_else(|| "primary".to_string());
            o.insert(key, Value::Bool(false));
        }
    }
}

/// RFC 7644 §3.5.2: "a client MAY "add" a value to an "immutable" attribute if the attribute
/// had no previous value"; any other change of an immutable value is `mutability`.
fn check_immutable(
    def: Option<&AttributeDef>,
    existing: Option<&Value>,
    value: &Value,
    target: &PatchTarget,
) -> Result<(), ScimError> {
    match (def, existing) {
        (Some(d), Some(current)) if d.mutability == Mutability::Immutable && !current.is_null() && current != value => {
            Err(ScimError::mutability(format!("`{}`: `{}` is immutable", target.text, d.name)))
        }
        _ => Ok(()),
    }
}

/// Entra ID sends the enterprise `manager` (a complex attribute) as a plain string:
/// `{"op":"Add","path":"urn:...:enterprise:2.0:User:manager","value":"271"}`
/// (Captain-P-Goldfish/SCIM-SDK#541 and #686; `docs/idp-notes.md` §4.1 item 7).
/// A scalar given for a single-valued complex attribute that has a `value` sub-attribute
/// becomes `{"value": scalar}`.
fn quirk_entra_scalar_for_complex(def: Option<&AttributeDef>, value: Value) -> Value {
    match (def, value) {
        (Some(d), v @ (Value::String(_) | Value::Number(_)))
            if d.is_complex() && !d.multi_valued && d.sub("value").is_some() =>
        {
            let mut o = Map::new();
            o.insert("value".to_string(), v);
            Value::Object(o)
        }
        (_, v) => v,
    }
}

/// Entra's older documentation adds the single-valued `manager` as a one-element array:
/// `{"op":"Add","path":"manager","value":[{"$ref":"...","value":"<id>"}]}` (Microsoft Learn SCIM
/// tutorial, Example 5; `docs/idp-notes.md` §4.1 item 7). A one-element array given
/// for a single-valued attribute stands for its element.
fn quirk_entra_single_value_in_array(def: Option<&AttributeDef>, value: &Value) -> Value {
    match (def, value) {
        (Some(d), Value::Array(items)) if !d.multi_valued && items.len() == 1 => canonical_names(def, &items[0]),
        (_, v) => canonical_names(def, v),
    }
}

/// Entra ID removes group members with a value list:
/// `{"op":"Remove","path":"members","value":[{"value":"<id>"}]}` (Microsoft Learn "Known issues
/// ... SCIM 2.0 protocol compliance"; `docs/idp-notes.md` §4.1 item 10). Per RFC a
/// remove without filter drops every value; we remove exactly the listed ones (decision §5).
/// For `members` this becomes [`MemberChange::RemoveValues`]; for other multi-valued attributes
/// an element goes when it equals a listed value, or when its `value` sub-attribute equals the
/// listed element's `value` (caseExact as the schema says).
fn quirk_remove_listed_values(container: &mut Map<String, Value>, attr: &AttrName, listed: &Value) {
    let listed: Vec<Value> = match listed {
        Value::Array(items) => items.iter().map(|i| canonical_names(attr.def, i)).collect(),
        single => vec![canonical_names(attr.def, single)],
    };
    let value_def = attr.def.and_then(|d| d.sub("value"));
    let case_exact = value_def.is_some_and(|d| d.case_exact);
    let same_value = |a: &Value, b: &Value| match (a, b) {
        (Value::String(x), Value::String(y)) if !case_exact => x.to_lowercase() == y.to_lowercase(),
        (x, y) => x == y,
    };
    let value_of = |v: &Value| -> Option<Value> {
        match v {
            Value::Object(o) => get_ci(o, "value").map(|(_, v)| v.clone()),
            scalar => Some(scalar.clone()),
        }
    };
    let Some(Value::Array(elements)) = slot_mut(container, attr) else {
        return;
    };
    elements.retain(|e| {
        !listed.iter().any(|l| {
            e == l
                || match (value_of(e), value_of(l)) {
                    (Some(a), Some(b)) => same_value(&a, &b),
                    _ => false,
                }
        })
    });
    if elements.is_empty() {
        remove_attr(container, &attr.name);
    }
}

// ---------------------------------------------------------------------------------------------
// Group members
// ---------------------------------------------------------------------------------------------

fn member_change(op: OpKind, target: &PatchTarget, value: Option<&Value>) -> Result<MemberChange, ScimError> {
    Ok(match op {
        OpKind::Add => MemberChange::Add(member_list(value)?),
        OpKind::Replace => MemberChange::ReplaceAll(member_list(value)?),
        OpKind::Remove => match (&target.filter, value) {
            (Some(f), _) => match member_ids_from_filter(f) {
                Some(ids) => MemberChange::RemoveValues(ids),
                None => MemberChange::RemoveMatching(f.clone()),
            },
            (None, None | Some(Value::Null)) => MemberChange::RemoveAll,
            (None, Some(v)) => MemberChange::RemoveValues(member_ids(v)?),
        },
    })
}

/// Member objects for add/replace: each needs a string `value` (the member's id); names are
/// made canonical and nulls dropped (Entra sends `"$ref": null`). `null` is no members.
fn member_list(value: Option<&Value>) -> Result<Vec<Value>, ScimError> {
    let members_def = crate::schema::registry().group.core_attribute("members");
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single) => vec![single],
    };
    items
        .into_iter()
        .map(|item| {
            let Value::Object(o) = item else {
                return Err(bad_member());
            };
            let mut member = Map::new();
            for (k, v) in o.iter().filter(|(_, v)| !v.is_null()) {
                let name = members_def.and_then(|d| d.sub(k)).map_or(k.clone(), |s| s.name.clone());
                member.insert(name, v.clone());
            }
            match member.get("value") {
                Some(Value::String(id)) if !id.trim().is_empty() => Ok(Value::Object(member)),
                _ => Err(bad_member()),
            }
        })
        .collect()
}

fn bad_member() -> ScimError {
    ScimError::invalid_value("each member must be an object with a string `value`: the member's id")
}

/// The ids of a remove-with-value list: member objects or plain id strings.
fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(id) => Ok(id.clone()),
            Value::Object(o) => match get_ci(o, "value") {
                Some((_, Value::String(id))) => Ok(id.clone()),
                _ => Err(bad_member()),
            },
            _ => Err(bad_member()),
        })
        .collect()
}

/// `value eq "x"` or `value eq "x" or value eq "y"`: the ids, so the store can delete by key.
fn member_ids_from_filter(filter: &ValFilter) -> Option<Vec<String>> {
    match filter {
        ValFilter::Attr(AttrExp::Comparison(path, CompareOp::Eq, CompValue::Str(id)))
            if path.name.eq_ignore_ascii_case("value") && path.sub_attr.is_none() =>
        {
            Some(vec![id.clone()])
        }
        ValFilter::Or(items) => items.iter().try_fold(Vec::new(), |mut ids, f| {
            ids.extend(member_ids_from_filter(f)?);
            Some(ids)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ScimType;
    use crate::schema::{ENTERPRISE_USER_URN, USER_URN, registry};

    const ENT: &str = ENTERPRISE_USER_URN;

    fn user_rt() -> &'static ResourceType {
        &registry().user
    }

    fn group_rt() -> &'static ResourceType {
        &registry().group
    }

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn base_user() -> Value {
        json!({
            "schemas": [USER_URN],
            "id": "u1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "active": true,
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "phoneNumbers": [{"value": "555-0100", "type": "work"}],
            "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z",
                     "lastModified": "2024-01-01T00:00:00Z", "version": "W/\"1\""}
        })
    }

    fn base_group() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "g1",
            "displayName": "Tour Guides",
            "meta": {"resourceType": "Group", "version": "W/\"1\""}
        })
    }

    /// RFC 7386 merge patch, to write expected documents as "base plus these changes".
    fn merged(base: Value, delta: Value) -> Value {
        match (base, delta) {
            (Value::Object(mut b), Value::Object(d)) => {
                for (k, v) in d {
                    if v.is_null() {
                        b.shift_remove(&k);
                    } else {
                        let old = b.shift_remove(&k).unwrap_or(Value::Null);
                        b.insert(k, merged(old, v));
                    }
                }
                Value::Object(b)
            }
            (_, d) => d,
        }
    }

    fn patch_op(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP_URN], "Operations": ops})
    }

    /// Parse and apply `body` to `before`; `want` is the document after, or the error's
    /// scimType (and then the document must be unchanged). Returns the member changes.
    fn check(rt: &ResourceType, before: Value, body: Value, want: Result<Value, ScimType>) -> Vec<MemberChange> {
        let mut doc = object(before.clone());
        let got = parse_patch(rt, &body).and_then(|req| apply_patch(rt, &mut doc, &req));
        match (got, want) {
            (Ok(outcome), Ok(want)) => {
                assert_eq!(Value::Object(doc), want, "body: {body}");
                assert_eq!(outcome.changed, want != before, "changed flag, body: {body}");
                outcome.member_changes
            }
            (Err(e), Err(want)) => {
                assert_eq!(e.scim_type, Some(want), "body: {body}: {e}");
                assert_eq!(e.status, 400);
                assert_eq!(Value::Object(doc), before, "a failed PATCH changes nothing");
                Vec::new()
            }
            (got, want) => panic!("body: {body}\n got: {got:?}\nwant: {want:?}"),
        }
    }

    #[test]
    fn entra_id_shapes() {
        let u = base_user;
        let rt = user_rt();
        let cases: Vec<(Value, Result<Value, ScimType>)> = vec![
            // 1. Capitalised op values.
            (
                json!([{"op": "Replace", "path": "displayName", "value": "Babs"}]),
                Ok(merged(u(), json!({"displayName": "Babs"}))),
            ),
            // 2. Booleans as strings are stored as sent (coerced later by scim::resource).
            (
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
                Ok(merged(u(), json!({"active": "False"}))),
            ),
            (
                json!([{"op": "Add", "path": "emails[type eq \"work\"].primary", "value": "true"}]),
                Ok(merged(
                    u(),
                    json!({"emails": [{"value": "bjensen@example.com", "type": "work", "primary": "true"}]}),
                )),
            ),
            // 3. Filtered sub-attribute paths, existing and not (4: created from the filter).
            (
                json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"}]),
                Ok(merged(u(), json!({"emails": [{"value": "babs@example.com", "type": "work", "primary": true}]}))),
            ),
            (
                json!([{"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0101"}]),
                Ok(merged(
                    u(),
                    json!({"phoneNumbers": [
                    {"value": "555-0100", "type": "work"},
                    {"type": "mobile", "value": "+1 555 0101"}]}),
                )),
            ),
            (
                json!([{"op": "Replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+1555"}]),
                Ok(merged(
                    u(),
                    json!({"phoneNumbers": [
                    {"value": "555-0100", "type": "work"},
                    {"type": "eightbyeight", "value": "+1555"}]}),
                )),
            ),
            (
                json!([{"op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "91608"},
                       {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"}]),
                Ok(merged(
                    u(),
                    json!({"addresses": [{"type": "work", "postalCode": "91608", "streetAddress": "1 Main St"}]}),
                )),
            ),
            (
                json!([{"op": "Add", "path": "emails[type eq \"other\"].Value", "value": "b@other.org"}]),
                Ok(merged(
                    u(),
                    json!({"emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true},
                    {"type": "other", "value": "b@other.org"}]}),
                )),
            ),
            // 5. Multi-attribute PATCH, one op per attribute.
            (
                json!([
                    {"op": "Replace", "path": "displayName", "value": "Babs Jensen"},
                    {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"},
                    {"op": "Replace", "path": "name.givenName", "value": "Babs"},
                    {"op": "Replace", "path": "name.familyName", "value": "Jensen-Smith"},
                    {"op": "Replace", "path": "externalId", "value": "ext-1"},
                    {"op": "Replace", "path": format!("{ENT}:employeeNumber"), "value": "701984"}
                ]),
                Ok(merged(
                    u(),
                    json!({
                        "displayName": "Babs Jensen",
                        "emails": [{"value": "babs@example.com", "type": "work", "primary": true}],
                        "name": {"givenName": "Babs", "familyName": "Jensen-Smith"},
                        "externalId": "ext-1",
                        ENT: {"employeeNumber": "701984"}
                    }),
                )),
            ),
            // 6. Enterprise attributes by colon-joined URN path, with a filtered address.
            (
                json!([
                    {"op": "Replace", "path": format!("{ENT}:department"), "value": "Tours"},
                    {"op": "Replace", "path": "addresses[type eq \"work\"].formatted", "value": "1 Main St\nHollywood"}
                ]),
                Ok(merged(
                    u(),
                    json!({
                        ENT: {"department": "Tours"},
                        "addresses": [{"type": "work", "formatted": "1 Main St\nHollywood"}]
                    }),
                )),
            ),
            // 7. Manager as a plain string; and as a one-element array (older doc example).
            (
                json!([{"op": "Add", "path": format!("{ENT}:manager"), "value": "271"}]),
                Ok(merged(u(), json!({ENT: {"manager": {"value": "271"}}}))),
            ),
            (
                json!([{"op": "Add", "path": "manager", "value": [{"$ref": "https://x/Users/271", "Value": "271"}]}]),
                Ok(merged(u(), json!({ENT: {"manager": {"$ref": "https://x/Users/271", "value": "271"}}}))),
            ),
            // 8. Path-less replace with dotted keys and a URN-qualified key.
            (
                json!([{"op": "replace", "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    "name.familyName": "Unua",
                    format!("{ENT}:employeeNumber"): "Aklq"
                }}]),
                Ok(merged(
                    u(),
                    json!({
                        "displayName": "Bjfe",
                        "name": {"givenName": "Kkom", "familyName": "Unua"},
                        ENT: {"employeeNumber": "Aklq"}
                    }),
                )),
            ),
            // 9. "value" without path.
            (json!([{"op": "Add", "value": {"externalId": "aqwer"}}]), Ok(merged(u(), json!({"externalId": "aqwer"})))),
            (
                json!([{"op": "Replace", "value": {"EXTERNALID": "aqwer", "Active": "False"}}]),
                Ok(merged(u(), json!({"externalId": "aqwer", "active": "False"}))),
            ),
        ];
        for (ops, want) in cases {
            check(rt, u(), patch_op(ops), want);
        }
    }

    #[test]
    fn group_members() {
        let g = base_group;
        let rt = group_rt();
        let cases: Vec<(Value, Vec<MemberChange>)> = vec![
            // Entra 10: add with "$ref": null, remove with a value list, remove by filter.
            (
                json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u1"}]}]),
                vec![MemberChange::Add(vec![json!({"value": "u1"})])],
            ),
            (
                json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]),
                vec![MemberChange::RemoveValues(vec!["u1".into(), "u2".into()])],
            ),
            (
                json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]),
                vec![MemberChange::RemoveValues(vec!["u1".into()])],
            ),
            (
                json!([{"op": "remove", "path": "members[value eq \"u1\" or value eq \"u2\"]"}]),
                vec![MemberChange::RemoveValues(vec!["u1".into(), "u2".into()])],
            ),
            (
                json!([{"op": "remove", "path": "members[type eq \"Group\"]"}]),
                vec![MemberChange::RemoveMatching(match filter::parse_path("members[type eq \"Group\"]") {
                    Ok(PatchPath::Value(vp)) => vp.filter,
                    other => panic!("{other:?}"),
                })],
            ),
            // Okta 8: membership update (remove by filter, add with display), full push.
            (
                json!([
                    {"op": "remove", "path": "members[value eq \"u1\"]"},
                    {"op": "add", "path": "members", "value": [{"value": "u2", "display": "jsmith"}]}
                ]),
                vec![
                    MemberChange::RemoveValues(vec!["u1".into()]),
                    MemberChange::Add(vec![json!({"value": "u2", "display": "jsmith"})]),
                ],
            ),
            (
                json!([{"op": "replace", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]),
                vec![MemberChange::ReplaceAll(vec![json!({"value": "u1"}), json!({"value": "u2"})])],
            ),
            (json!([{"op": "replace", "path": "members", "value": []}]), vec![MemberChange::ReplaceAll(vec![])]),
            // RFC 7644 §3.5.2.1: add a member.
            (
                json!([{"op": "add", "path": "members", "value": [{
                    "display": "Babs Jensen",
                    "$ref": "https://example.com/v2/Users/2819c223...413861904646",
                    "value": "2819c223-7f76-453a-919d-413861904646"}]}]),
                vec![MemberChange::Add(vec![json!({
                    "display": "Babs Jensen",
                    "$ref": "https://example.com/v2/Users/2819c223...413861904646",
                    "value": "2819c223-7f76-453a-919d-413861904646"})])],
            ),
            // RFC 7644 §3.5.2.2: remove one member (the RFC's own `eq\"...\"`), remove all,
            // remove and add.
            (
                json!([{"op": "remove", "path": "members[value eq\"2819c223...919d-413861904646\"]"}]),
                vec![MemberChange::RemoveValues(vec!["2819c223...919d-413861904646".into()])],
            ),
            (json!([{"op": "remove", "path": "members"}]), vec![MemberChange::RemoveAll]),
            (
                json!([
                    {"op": "remove", "path": "members"},
                    {"op": "add", "path": "members", "value": [
                        {"display": "Babs Jensen", "value": "2819c223-7f76-453a-919d-413861904646"},
                        {"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}]}
                ]),
                vec![
                    MemberChange::RemoveAll,
                    MemberChange::Add(vec![
                        json!({"display": "Babs Jensen", "value": "2819c223-7f76-453a-919d-413861904646"}),
                        json!({"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}),
                    ]),
                ],
            ),
            // Path-less value carrying members.
            (
                json!([{"op": "add", "value": {"members": [{"value": "u3"}]}}]),
                vec![MemberChange::Add(vec![json!({"value": "u3"})])],
            ),
        ];
        for (ops, want) in cases {
            let got = check(rt, g(), patch_op(ops.clone()), Ok(g()));
            assert_eq!(got, want, "ops: {ops}");
        }
    }

    #[test]
    fn group_rename_and_member_errors() {
        let g = base_group;
        let rt = group_rt();
        // Okta 8: rename carries the group's own id.
        let changes = check(
            rt,
            g(),
            patch_op(json!([{"op": "replace", "value": {"id": "g1", "displayName": "Guides"}}])),
            Ok(merged(g(), json!({"displayName": "Guides"}))),
        );
        assert!(changes.is_empty());
        let cases: Vec<(Value, ScimType)> = vec![
            (json!([{"op": "replace", "value": {"id": "other", "displayName": "X"}}]), ScimType::Mutability),
            (json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}]), ScimType::InvalidValue),
            (json!([{"op": "add", "path": "members", "value": ["u1"]}]), ScimType::InvalidValue),
            (json!([{"op": "remove", "path": "members", "value": [{"display": "x"}]}]), ScimType::InvalidValue),
            (
                json!([{"op": "replace", "path": "members[value eq \"u1\"].display", "value": "x"}]),
                ScimType::Mutability,
            ),
            (
                json!([{"op": "replace", "path": "members[value eq \"u1\"]", "value": {"value": "u2"}}]),
                ScimType::Mutability,
            ),
            (json!([{"op": "remove", "path": "members.value"}]), ScimType::Mutability),
            (json!([{"op": "add", "path": "emails", "value": [{"value": "x@y"}]}]), ScimType::InvalidPath),
        ];
        for (ops, want) in cases {
            check(rt, g(), patch_op(ops), Err(want));
        }
    }

    #[test]
    fn rfc7644_user_examples() {
        let rt = user_rt();
        let u = base_user;
        // §3.5.2.1: add attributes without a path ("nickname" is spelled as the schema spells it).
        check(
            rt,
            u(),
            patch_op(json!([{"op": "add", "value": {
                "emails": [{"value": "babs@jensen.org", "type": "home"}],
                "nickname": "Babs"}}])),
            Ok(merged(
                u(),
                json!({
                "emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true},
                    {"value": "babs@jensen.org", "type": "home"}],
                "nickName": "Babs"}),
            )),
        );
        // §3.5.2.2: remove a value from a complex multi-valued attribute.
        let two = merged(
            u(),
            json!({"emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}]}),
        );
        check(
            rt,
            two.clone(),
            patch_op(json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}])),
            Ok(merged(u(), json!({"emails": [{"value": "babs@jensen.org", "type": "home"}]}))),
        );
        // §3.5.2.3: replace multiple attributes without a path (the array is replaced whole).
        check(
            rt,
            two,
            patch_op(json!([{"op": "replace", "value": {
                "emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true},
                    {"value": "babs@jensen.org", "type": "home"}],
                "nickname": "Babs"}}])),
            Ok(merged(
                u(),
                json!({
                "emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true},
                    {"value": "babs@jensen.org", "type": "home"}],
                "nickName": "Babs"}),
            )),
        );
        // §3.5.2.3: replace the work address via a filter, then its streetAddress.
        let addresses = merged(
            u(),
            json!({"addresses": [
            {"type": "work", "streetAddress": "100 Old St", "primary": true},
            {"type": "home", "streetAddress": "5 Home Rd", "primary": true}]}),
        );
        check(
            rt,
            addresses,
            patch_op(json!([
                {"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
                    "type": "work",
                    "streetAddress": "911 Universal City Plaza",
                    "locality": "Hollywood",
                    "region": "CA",
                    "postalCode": "91608",
                    "country": "US",
                    "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                    "primary": true}},
                {"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}
            ])),
            Ok(merged(
                u(),
                json!({"addresses": [
                {
                    "type": "work",
                    "streetAddress": "1010 Broadway Ave",
                    "locality": "Hollywood",
                    "region": "CA",
                    "postalCode": "91608",
                    "country": "US",
                    "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                    "primary": true
                },
                {"type": "home", "streetAddress": "5 Home Rd", "primary": false}]}),
            )),
        );
    }

    #[test]
    fn add_remove_replace_rules() {
        let rt = user_rt();
        let u = base_user;
        let enterprise =
            merged(u(), json!({ENT: {"department": "Tours", "manager": {"value": "m1", "displayName": "Boss"}}}));
        let cases: Vec<(Value, Value, Result<Value, ScimType>)> = vec![
            // Add to a multi-valued attribute appends, without exact duplicates.
            (
                u(),
                json!([{"op": "add", "path": "emails", "value": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true},
                    {"value": "b@home.org", "type": "home"}]}]),
                Ok(merged(
                    u(),
                    json!({"emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true},
                    {"value": "b@home.org", "type": "home"}]}),
                )),
            ),
            // A single object for a multi-valued attribute is one more value; a new primary
            // demotes the old one.
            (
                u(),
                json!([{"op": "add", "path": "emails", "value": {"Value": "b@home.org", "Primary": true}}]),
                Ok(merged(
                    u(),
                    json!({"emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": false},
                    {"value": "b@home.org", "primary": true}]}),
                )),
            ),
            // Replace of a multi-valued attribute without filter replaces the array.
            (
                u(),
                json!([{"op": "replace", "path": "phoneNumbers", "value": [{"value": "1", "type": "home"}]}]),
                Ok(merged(u(), json!({"phoneNumbers": [{"value": "1", "type": "home"}]}))),
            ),
            // add on attr[filter] merges into the matching element; replace with no match
            // creates the element from the filter's eq terms.
            (
                u(),
                json!([{"op": "add", "path": "emails[type eq \"work\"]", "value": {"Display": "Work"}}]),
                Ok(merged(
                    u(),
                    json!({"emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true, "display": "Work"}]}),
                )),
            ),
            (
                u(),
                json!([{"op": "replace", "path": "emails[type eq \"home\" and primary eq false]", "value": {"value": "b@home.org"}}]),
                Ok(merged(
                    u(),
                    json!({"emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true},
                    {"type": "home", "primary": false, "value": "b@home.org"}]}),
                )),
            ),
            // Removing the last element removes the attribute; no match is no change.
            (
                u(),
                json!([{"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}]),
                Ok(merged(u(), json!({"phoneNumbers": null}))),
            ),
            (u(), json!([{"op": "remove", "path": "phoneNumbers[type eq \"fax\"]"}]), Ok(u())),
            (u(), json!([{"op": "remove", "path": "phoneNumbers"}]), Ok(merged(u(), json!({"phoneNumbers": null})))),
            // Removing a sub-attribute of filtered elements; an emptied element goes.
            (
                u(),
                json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
                Ok(merged(u(), json!({"emails": [{"value": "bjensen@example.com", "type": "work"}]}))),
            ),
            // Remove with a value list on a multi-valued attribute removes those values.
            (
                u(),
                json!([{"op": "remove", "path": "emails", "value": [{"value": "BJENSEN@example.com"}]}]),
                Ok(merged(u(), json!({"emails": null}))),
            ),
            // Add to a complex attribute merges sub-attributes; replace likewise.
            (
                u(),
                json!([{"op": "add", "path": "name", "value": {"middleName": "J", "GivenName": "Babs"}}]),
                Ok(merged(u(), json!({"name": {"givenName": "Babs", "familyName": "Jensen", "middleName": "J"}}))),
            ),
            (
                u(),
                json!([{"op": "replace", "path": "name", "value": {"familyName": null, "formatted": "Babs"}}]),
                Ok(merged(u(), json!({"name": {"familyName": null, "formatted": "Babs"}}))),
            ),
            // Removing the last sub-attributes removes the complex attribute.
            (
                u(),
                json!([{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "name.familyName"}]),
                Ok(merged(u(), json!({"name": null}))),
            ),
            // null: replace unassigns, add ignores.
            (
                u(),
                json!([{"op": "replace", "path": "active", "value": null}]),
                Ok(merged(u(), json!({"active": null}))),
            ),
            (u(), json!([{"op": "add", "path": "title", "value": null}]), Ok(u())),
            // The whole extension as path: add merges, remove drops it.
            (
                enterprise.clone(),
                json!([{"op": "add", "path": ENT, "value": {"division": "West", "Department": "Travel"}}]),
                Ok(merged(enterprise.clone(), json!({ENT: {"department": "Travel", "division": "West"}}))),
            ),
            (enterprise.clone(), json!([{"op": "remove", "path": ENT}]), Ok(u())),
            (
                enterprise.clone(),
                json!([{"op": "replace", "path": format!("{ENT}:manager.value"), "value": "m2"}]),
                Ok(merged(enterprise.clone(), json!({ENT: {"manager": {"value": "m2"}}}))),
            ),
            (
                enterprise.clone(),
                json!([{"op": "remove", "path": format!("{ENT}:department")}, {"op": "remove", "path": "manager"}]),
                Ok(u()),
            ),
            // Path-less value with the extension object keyed by its URN.
            (
                u(),
                json!([{"op": "add", "value": {ENT: {"costCenter": "42"}}}]),
                Ok(merged(u(), json!({ENT: {"costCenter": "42"}}))),
            ),
            // Unmodelled extensions are schemaless.
            (
                u(),
                json!([{"op": "add", "path": "urn:example:ext:1.0:User:favouriteColour", "value": "Teal"}]),
                Ok(merged(u(), json!({"urn:example:ext:1.0:User": {"favouriteColour": "Teal"}}))),
            ),
            (
                u(),
                json!([{"op": "replace", "value": {"urn:example:ext:1.0:User": {"a": 1}}}]),
                Ok(merged(u(), json!({"urn:example:ext:1.0:User": {"a": 1}}))),
            ),
            // Okta 6: deactivate without path.
            (u(), json!([{"op": "replace", "value": {"active": false}}]), Ok(merged(u(), json!({"active": false})))),
            // password is accepted and discarded.
            (u(), json!([{"op": "replace", "path": "password", "value": "s3cret"}]), Ok(u())),
            // Adding a value already there changes nothing.
            (
                u(),
                json!([{"op": "add", "path": "emails", "value": [{"value": "bjensen@example.com", "type": "work", "primary": true}]}]),
                Ok(u()),
            ),
            // Errors.
            (u(), json!([{"op": "remove"}]), Err(ScimType::NoTarget)),
            (u(), json!([{"op": "move", "path": "title"}]), Err(ScimType::InvalidSyntax)),
            (u(), json!([{"path": "title", "value": "x"}]), Err(ScimType::InvalidSyntax)),
            (u(), json!([{"op": "add", "path": "title"}]), Err(ScimType::InvalidSyntax)),
            (u(), json!([{"op": "add", "value": "x"}]), Err(ScimType::InvalidSyntax)),
            (u(), json!([{"op": "add", "path": "emails[type eq", "value": "x"}]), Err(ScimType::InvalidPath)),
            (u(), json!([{"op": "add", "path": "nosuch", "value": "x"}]), Err(ScimType::InvalidPath)),
            (u(), json!([{"op": "add", "value": {"nosuch": "x"}}]), Err(ScimType::InvalidPath)),
            (u(), json!([{"op": "add", "path": "name.nosuch", "value": "x"}]), Err(ScimType::InvalidPath)),
            (u(), json!([{"op": "add", "path": format!("{ENT}:nosuch"), "value": "x"}]), Err(ScimType::InvalidPath)),
            (u(), json!([{"op": "add", "path": "userName[value eq \"x\"]", "value": "x"}]), Err(ScimType::InvalidPath)),
            (u(), json!([{"op": "add", "path": 5, "value": "x"}]), Err(ScimType::InvalidPath)),
            (
                u(),
                json!([{"op": "replace", "path": "emails[primary gt true].value", "value": "x"}]),
                Err(ScimType::InvalidFilter),
            ),
            (u(), json!([{"op": "replace", "path": "id", "value": "x"}]), Err(ScimType::Mutability)),
            (u(), json!([{"op": "replace", "path": "meta.created", "value": "x"}]), Err(ScimType::Mutability)),
            (u(), json!([{"op": "add", "path": "groups", "value": [{"value": "g1"}]}]), Err(ScimType::Mutability)),
            (u(), json!([{"op": "replace", "path": "schemas", "value": [USER_URN]}]), Err(ScimType::Mutability)),
            (
                u(),
                json!([{"op": "replace", "path": format!("{ENT}:manager.displayName"), "value": "x"}]),
                Err(ScimType::Mutability),
            ),
            (u(), json!([{"op": "remove", "path": "userName"}]), Err(ScimType::Mutability)),
            (u(), json!([{"op": "replace", "value": {"userName": null}}]), Err(ScimType::Mutability)),
            (u(), json!([{"op": "add", "path": ENT, "value": "x"}]), Err(ScimType::InvalidValue)),
            (
                u(),
                json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": "x"}]),
                Err(ScimType::InvalidValue),
            ),
            // A filter that matches nothing and cannot describe an element: noTarget.
            (
                u(),
                json!([{"op": "replace", "path": "emails[value co \"nowhere\"].type", "value": "home"}]),
                Err(ScimType::NoTarget),
            ),
            // Atomicity: the first operation succeeded, the second fails, nothing changes.
            (
                u(),
                json!([{"op": "replace", "path": "displayName", "value": "X"}, {"op": "replace", "path": "id", "value": "x"}]),
                Err(ScimType::Mutability),
            ),
            (
                u(),
                json!([
                    {"op": "replace", "path": "displayName", "value": "X"},
                    {"op": "replace", "path": "phoneNumbers[type ne \"work\"].value", "value": "1"}
                ]),
                Err(ScimType::NoTarget),
            ),
        ];
        for (before, ops, want) in cases {
            check(rt, before, patch_op(ops), want);
        }
    }

    #[test]
    fn body_shape() {
        let rt = user_rt();
        let u = base_user;
        let op = json!([{"op": "replace", "path": "title", "value": "Guide"}]);
        let titled = merged(u(), json!({"title": "Guide"}));
        // `schemas` absent is tolerated; `operations` in any case.
        check(rt, u(), json!({"Operations": op}), Ok(titled.clone()));
        check(rt, u(), json!({"schemas": [PATCH_OP_URN], "operations": op}), Ok(titled));
        let bad: Vec<Value> = vec![
            json!([]),
            json!({"schemas": [USER_URN], "Operations": op}),
            json!({"schemas": [PATCH_OP_URN]}),
            json!({"schemas": [PATCH_OP_URN], "Operations": []}),
            json!({"schemas": [PATCH_OP_URN], "Operations": {"op": "add"}}),
            json!({"schemas": [PATCH_OP_URN], "Operations": ["add"]}),
        ];
        for body in bad {
            check(rt, u(), body, Err(ScimType::InvalidSyntax));
        }
        // Errors say which operation failed.
        let e = parse_patch(rt, &patch_op(json!([op[0].clone(), {"op": "remove", "path": "id"}]))).err();
        assert!(e.is_some_and(|e| e.detail.starts_with("Operations[1]: ")));
    }

    #[test]
    fn canonical_names_are_written() {
        let rt = user_rt();
        let before = json!({"id": "u1", "userName": "b", "EMAILS": [{"VALUE": "a@x", "TYPE": "work"}], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "x"}});
        check(
            rt,
            before,
            patch_op(json!([
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x"},
                {"op": "replace", "path": "department", "value": "y"}
            ])),
            Ok(
                json!({"id": "u1", "userName": "b", "emails": [{"TYPE": "work", "value": "b@x"}], ENT: {"department": "y"}}),
            ),
        );
    }
}
