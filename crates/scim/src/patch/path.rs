//! PATCH paths (RFC 7644 §3.5.2, attribute notation of §3.10): a path resolved against a
//! resource type's schemas into a [`PatchTarget`] (core, modelled or unmodelled extension;
//! attribute, value filter, sub-attribute); an operation split into one step per target
//! (path-less values and whole-extension objects carry several attributes); and the checks a
//! step needs no document for (readOnly, required, the shape of group members).

use serde_json::{Map, Value};

use super::members::{member_ids, member_list};
use super::parse::{OpKind, Operation};
use crate::error::ScimError;
use crate::filter::{self, PatchPath, ValFilter};
use crate::schema::{AttributeDef, Mutability, Namespace, ResourceKind, ResourceType};

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
    pub(super) fn known(def: &'static AttributeDef) -> Self {
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
    pub(super) fn is_members(&self, rt: &ResourceType) -> bool {
        rt.kind == ResourceKind::Group
            && self.namespace == PatchNamespace::Core
            && self.attr.as_ref().is_some_and(|a| a.name == "members")
    }

    pub(super) fn whole_extension(namespace: PatchNamespace, text: &str) -> Self {
        PatchTarget { namespace, attr: None, filter: None, sub: None, text: text.to_string() }
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
pub(super) enum Step<'v> {
    /// Okta's own `id` inside a path-less value, see [`super::quirks::quirk_okta_own_id`].
    CheckId(&'v Value),
    Do(Box<PatchTarget>, Option<&'v Value>),
}

pub(super) fn steps<'v>(rt: &ResourceType, operation: &'v Operation) -> Result<Vec<Step<'v>>, ScimError> {
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

/// The attributes a PATCH names, for an audit trail: one path per target (path-less values and
/// whole-extension objects name each attribute they carry), in order, without repeats; in the
/// schema's spelling, URN-qualified outside the core schema, and without value filters, whose
/// values may be personal data (`emails[value eq "jane@example.com"].type` is `emails.type`).
pub fn touched_paths(rt: &ResourceType, req: &super::PatchRequest) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for operation in &req.operations {
        // The request was parsed against `rt`, so its steps resolve; a step that would not is
        // left out rather than recorded as sent.
        for step in steps(rt, operation).unwrap_or_default() {
            let Step::Do(target, _) = step else { continue };
            let path = target_path(&target);
            if !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

/// A target as [`touched_paths`] names it.
fn target_path(target: &PatchTarget) -> String {
    let urn = match &target.namespace {
        PatchNamespace::Core => None,
        PatchNamespace::Extension(urn) => Some(*urn),
        PatchNamespace::Unmodelled(urn) => Some(urn.as_str()),
    };
    let mut path = match (urn, &target.attr) {
        (Some(urn), Some(attr)) => format!("{urn}:{}", attr.name),
        (Some(urn), None) => urn.to_string(),
        (None, Some(attr)) => attr.name.clone(),
        (None, None) => String::new(),
    };
    if let Some(sub) = &target.sub {
        path.push('.');
        path.push_str(&sub.name);
    }
    path
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
pub(super) fn check_step(
    rt: &ResourceType,
    op: OpKind,
    target: &PatchTarget,
    value: Option<&Value>,
) -> Result<(), ScimError> {
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

pub(super) fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}
