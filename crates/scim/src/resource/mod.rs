//! Parse at the edge: a POST, PUT or patched body (wire JSON) becomes the canonical stored
//! document of `docs/architecture.md` (RFC 7643 §2, §3, §4, §7; RFC 7644 §3.3, §3.5.1).
//!
//! This module owns attribute canonicalisation: names spelled as the schema spells them, values
//! coerced to their schema types, nulls and empty values dropped (RFC 7643 §2.5), extension data
//! gathered under its URN, `schemas` recomputed, group members split off as rows, and the
//! `required`/`mutability` rules. Everything the schemas do not define is kept as sent, so it
//! round-trips. The store assigns `id` and `meta`; this module only carries them over on replace.
//!
//! Identity providers do not all send strict RFC JSON. Each tolerated deviation is one small
//! function in `quirks.rs` whose doc names the IdP and the evidence (see `docs/idp-notes.md`).
//! We accept what IdPs send and store strict RFC form.
//!
//! Where things are:
//! * this file: the entry points and the whole-document pipeline: the body sorted into core,
//!   extension and unknown attributes and group members, then laid out in canonical order.
//! * `values.rs`: [`canonical_value`], one attribute value against its definition (RFC 7643
//!   §2.3 types, §2.4 `primary`, §2.5 unassigned).
//! * `validate.rs`: the rules on the whole document: `schemas`, required attributes (RFC 7643
//!   §7), immutable ones (RFC 7644 §3.5.1).
//! * `quirks.rs`: the IdP deviations we tolerate, one function each.
//! * `tests.rs`: the unit tests.
//!
//! Must not import: actix, diesel, reqwest, tokio, or any module outside `scim`.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::schema::{AttributeDef, Mutability, ResourceKind, ResourceType, Schema, get_ci};

mod quirks;
mod validate;
mod values;

use quirks::{extension_attribute_from_flattened_key, is_discarded, unqualified_extension_attribute};
use validate::{check_immutable, check_required, check_schemas};
use values::{describe, given_twice, is_unassigned, kind_of, refuse_nul};

pub use values::canonical_value;
pub(crate) use values::kind_of as json_kind;

#[cfg(test)]
mod tests;

/// A validated, canonical document ready for the store, plus a Group's members.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The canonical document: `schemas`, `id` (replace/patch only), `externalId`, core
    /// attributes in schema order, extension objects, unknown attributes, `meta` (replace/patch
    /// only). Never holds `members`, `groups` or `password`.
    pub doc: Map<String, Value>,
    /// Groups only: `Some` when the body carried `members` (an empty list clears them), `None`
    /// when it did not (members unchanged). Always `None` for Users.
    pub members: Option<Vec<Member>>,
}

/// One group member as sent by the client (RFC 7643 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The `id` of the member User or Group.
    pub value: String,
    /// `"User"` or `"Group"` when the client said which; the store resolves it otherwise.
    pub kind: Option<String>,
    /// The member's display name as the client sent it (Okta sends the userName); kept as sent.
    pub display: Option<String>,
}

/// Build the canonical document for a POST body (RFC 7644 §3.3). The document has no `id` or
/// `meta`: the store assigns them.
pub fn prepare_create(rt: &ResourceType, body: Value) -> Result<Prepared, ScimError> {
    prepare(rt, body, Base::Create)
}

/// Build the canonical document for a PUT body replacing `existing` (RFC 7644 §3.5.1).
///
/// readWrite attributes come from the body (absent means cleared); readOnly ones (`id`, `meta`,
/// `groups`, `members.display`) are ignored if sent and `id`/`meta` are carried over from
/// `existing`; immutable attributes may not change (400 `mutability`). A Group's members are
/// replaced only when the body carries `members`: RFC 7644 §3.5.1 lets a service provider keep
/// omitted readWrite values, and a PUT that leaves out a 50,000-member list should not empty it.
pub fn prepare_replace(rt: &ResourceType, body: Value, existing: &Map<String, Value>) -> Result<Prepared, ScimError> {
    prepare(rt, body, Base::Replace(existing))
}

/// Re-validate a document produced by PATCH (RFC 7644 §3.5.2), whose values may still be raw
/// (`"False"` for `active`): canonicalised and validated like a PUT body, with `id`/`meta` kept
/// from `existing`.
///
/// Members: when `patched` has `members` they are returned as `Some`; when it has none but
/// `existing` had a `members` member (the caller loaded them before patching), the patch removed
/// them all and `Some(vec![])` is returned; otherwise `None` (members untouched).
pub fn prepare_patched(
    rt: &ResourceType,
    patched: Map<String, Value>,
    existing: &Map<String, Value>,
) -> Result<Prepared, ScimError> {
    prepare(rt, Value::Object(patched), Base::Patched(existing))
}

// ---------------------------------------------------------------------------------------------
// Whole documents.

#[derive(Clone, Copy)]
enum Base<'e> {
    Create,
    Replace(&'e Map<String, Value>),
    Patched(&'e Map<String, Value>),
}

impl<'e> Base<'e> {
    fn existing(self) -> Option<&'e Map<String, Value>> {
        match self {
            Base::Create => None,
            Base::Replace(e) | Base::Patched(e) => Some(e),
        }
    }
}

/// A value sent for one defined attribute, before canonicalisation.
struct Raw {
    def: &'static AttributeDef,
    value: Value,
    /// The key as the client sent it, for "given twice" messages.
    sent_as: String,
}

/// The body sorted by where each member belongs.
#[derive(Default)]
struct Gathered {
    core: Vec<Raw>,
    /// Per extension of the resource type (same index as `rt.extensions`): defined attributes,
    /// then members the extension schema does not define (kept as sent).
    ext: Vec<(Vec<Raw>, Map<String, Value>)>,
    unknown: Map<String, Value>,
    members: Option<Value>,
}

fn prepare(rt: &ResourceType, body: Value, base: Base<'_>) -> Result<Prepared, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "the request body must be a JSON object (a {} resource), got {}",
            rt.id(),
            kind_of(&body)
        )));
    };
    check_schemas(rt, get_ci(&body, "schemas").map(|(_, v)| v))?;
    let gathered = gather(rt, body)?;
    if !matches!(base, Base::Patched(_)) {
        // A whole resource from the client gives each multi-valued attribute as an array. (A
        // PATCH `add` of one value to a multi-valued attribute is the patch engine's matter.)
        let raws = gathered.core.iter().chain(gathered.ext.iter().flat_map(|(raws, _)| raws));
        if let Some(raw) =
            raws.into_iter().find(|r| r.def.multi_valued && !matches!(r.value, Value::Array(_) | Value::Null))
        {
            return Err(ScimError::invalid_value(format!(
                "{} is multi-valued: send an array of values (one value is [ ... ]), not {}",
                raw.sent_as,
                kind_of(&raw.value)
            )));
        }
    }
    let members = match gathered.members {
        Some(v) => Some(members_from(v)?),
        None => match base {
            Base::Patched(existing) if rt.kind == ResourceKind::Group && get_ci(existing, "members").is_some() => {
                Some(Vec::new())
            }
            _ => None,
        },
    };
    let doc = assemble(rt, gathered.core, gathered.ext, gathered.unknown, base.existing())?;
    check_required(rt, &doc)?;
    if let Some(existing) = base.existing() {
        check_immutable(rt, &doc, existing)?;
    }
    Ok(Prepared { doc, members })
}

/// Sort every member of the body into core attributes, extension attributes, members and
/// unknown attributes. Nulls and empty values are dropped here (RFC 7643 §2.5: unassigned).
fn gather(rt: &ResourceType, body: Map<String, Value>) -> Result<Gathered, ScimError> {
    let mut g =
        Gathered { ext: rt.extensions.iter().map(|_| (Vec::new(), Map::new())).collect(), ..Gathered::default() };
    for (key, value) in body {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        // An extension object under its URN, any case.
        if let Some(i) = rt.extensions.iter().position(|e| e.schema.id.eq_ignore_ascii_case(key.trim())) {
            if is_unassigned(&value) {
                continue;
            }
            let urn = &rt.extensions[i].schema.id;
            let Value::Object(obj) = value else {
                return Err(ScimError::invalid_value(format!(
                    "{urn} must be an object holding the extension's attributes, got {}",
                    kind_of(&value)
                )));
            };
            for (k, v) in obj {
                let sent_as = format!("{key}.{k}");
                place_extension(&mut g, rt, i, &k, v, sent_as)?;
            }
            continue;
        }
        if let Some((i, rest)) = extension_attribute_from_flattened_key(rt, &key) {
            let rest = rest.to_string();
            place_extension(&mut g, rt, i, &rest, value, key)?;
            continue;
        }
        // A core attribute qualified with the core schema URN (the "fully qualified" form
        // RFC 7644 §3.10 allows in paths).
        let name = strip_urn_prefix(&key, &rt.core.id).unwrap_or(&key).to_string();
        if let Some((attr, sub)) = split_sub(&name).and_then(|(a, s)| rt.core_attribute(a).map(|d| (d, s))) {
            if rt.kind == ResourceKind::Group && attr.name == "members" {
                if sub.is_some() {
                    return Err(ScimError::invalid_value(format!(
                        "`{key}`: send members as \"members\": [{{\"value\": \"<id>\"}}], not one sub-attribute"
                    )));
                }
                if value.is_null() {
                    continue;
                }
                if g.members.is_some() {
                    return Err(given_twice("members", "members", &key));
                }
                g.members = Some(value);
                continue;
            }
            if attr.mutability == Mutability::ReadOnly || is_discarded(attr) {
                // id, meta, groups: the server owns them (RFC 7644 §3.5.1: "SHALL be ignored").
                continue;
            }
            let value = wrap_sub(attr, sub, value);
            if !left_out(attr, &value) {
                push_raw(&mut g.core, Raw { def: attr, value, sent_as: key })?;
            }
            continue;
        }
        if let Some((i, attr)) = unqualified_extension_attribute(rt, &key) {
            if !left_out(attr, &value) && attr.mutability != Mutability::ReadOnly {
                push_raw(&mut g.ext[i].0, Raw { def: attr, value, sent_as: key })?;
            }
            continue;
        }
        if !is_unassigned(&value) {
            g.unknown.insert(key, value);
        }
    }
    Ok(g)
}

/// Place `name` (`department` or `manager.value`) of extension `i`.
/// Whether a value stands for "no value" and is left out: null, `{}`, and `[]` for a multi-valued
/// attribute. An empty array for a single-valued one goes on, to be refused as an array.
fn left_out(def: &AttributeDef, value: &Value) -> bool {
    is_unassigned(value) && (def.multi_valued || !value.is_array())
}

fn place_extension(
    g: &mut Gathered,
    rt: &ResourceType,
    i: usize,
    name: &str,
    value: Value,
    sent_as: String,
) -> Result<(), ScimError> {
    if is_unassigned(&value) {
        return Ok(());
    }
    let schema: &'static Schema = rt.extensions[i].schema;
    let (ext_raw, ext_unknown) = &mut g.ext[i];
    match split_sub(name).and_then(|(a, s)| schema.attribute(a).map(|d| (d, s))) {
        Some((attr, _)) if attr.mutability == Mutability::ReadOnly || is_discarded(attr) => Ok(()),
        Some((attr, sub)) => push_raw(ext_raw, Raw { def: attr, value: wrap_sub(attr, sub, value), sent_as }),
        None => {
            ext_unknown.insert(name.to_string(), value);
            Ok(())
        }
    }
}

/// `name.sub` → `("name", Some("sub"))`; `name` → `("name", None)`. `None` for an empty name.
fn split_sub(path: &str) -> Option<(&str, Option<&str>)> {
    let path = path.trim();
    let (name, sub) = match path.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (path, None),
    };
    (!name.is_empty()).then_some((name, sub))
}

/// A flattened `name.sub` key becomes `{"sub": value}` under `name`.
fn wrap_sub(attr: &AttributeDef, sub: Option<&str>, value: Value) -> Value {
    match sub {
        None => value,
        Some(s) => {
            let key = attr.sub(s).map_or_else(|| s.to_string(), |d| d.name.clone());
            let mut obj = Map::new();
            obj.insert(key, value);
            Value::Object(obj)
        }
    }
}

/// Add a raw value; the same attribute given twice (`userName` and `USERNAME`, or an extension
/// attribute in both object and flattened form) is an error unless both are objects whose
/// sub-attributes do not collide, which are merged.
fn push_raw(list: &mut Vec<Raw>, raw: Raw) -> Result<(), ScimError> {
    let Some(prev) = list.iter_mut().find(|r| std::ptr::eq(r.def, raw.def)) else {
        list.push(raw);
        return Ok(());
    };
    match (&mut prev.value, raw.value) {
        (Value::Object(into), Value::Object(from)) if !raw.def.multi_valued => {
            for (k, v) in from {
                if let Some((k0, v0)) = get_ci(into, &k) {
                    if *v0 != v {
                        return Err(given_twice(&format!("{}.{k}", raw.def.name), k0, &raw.sent_as));
                    }
                    continue;
                }
                into.insert(k, v);
            }
            Ok(())
        }
        _ => Err(given_twice(&raw.def.name, &prev.sent_as, &raw.sent_as)),
    }
}

/// Canonicalise everything gathered and lay the document out in canonical key order:
/// `schemas`, `id`, `externalId`, core attributes in schema order, extensions, unknown
/// attributes, `meta`.
fn assemble(
    rt: &ResourceType,
    core: Vec<Raw>,
    ext: Vec<(Vec<Raw>, Map<String, Value>)>,
    unknown: Map<String, Value>,
    existing: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, ScimError> {
    let mut core_values: Vec<(&'static AttributeDef, Value)> = Vec::with_capacity(core.len());
    for raw in core {
        if let Some(v) = canonical_value(raw.def, raw.value, &raw.def.name)? {
            core_values.push((raw.def, v));
        }
    }

    let mut doc = Map::new();
    let mut schemas = vec![Value::String(rt.core.id.clone())];
    // Placeholder so `schemas` keeps the first position; filled in at the end.
    doc.insert("schemas".into(), Value::Null);
    if let Some(id) = existing.and_then(|e| get_ci(e, "id")).map(|(_, v)| v.clone()) {
        doc.insert("id".into(), id);
    }
    let order = std::iter::once("externalId")
        .chain(rt.core.attributes.iter().map(|a| a.name.as_str()))
        .chain(rt.common.iter().map(|a| a.name.as_str()).filter(|n| !matches!(*n, "id" | "externalId" | "meta")));
    for name in order {
        if let Some(i) = core_values.iter().position(|(d, _)| d.name == name) {
            let (def, v) = core_values.swap_remove(i);
            doc.insert(def.name.clone(), v);
        }
    }

    for (extension, (raws, unknown_members)) in rt.extensions.iter().zip(ext) {
        let schema = extension.schema;
        let mut values: Vec<(&'static AttributeDef, Value)> = Vec::with_capacity(raws.len());
        for raw in raws {
            let path = format!("{}:{}", schema.id, raw.def.name);
            if let Some(v) = canonical_value(raw.def, raw.value, &path)? {
                values.push((raw.def, v));
            }
        }
        let mut obj = Map::new();
        for attr in &schema.attributes {
            if let Some(i) = values.iter().position(|(d, _)| std::ptr::eq(*d, attr)) {
                let (def, v) = values.swap_remove(i);
                obj.insert(def.name.clone(), v);
            }
        }
        obj.extend(unknown_members);
        if !obj.is_empty() {
            schemas.push(Value::String(schema.id.clone()));
            doc.insert(schema.id.clone(), Value::Object(obj));
        }
    }

    for (key, value) in unknown {
        if is_unknown_extension(&key, &value) && !doc.contains_key(&key) {
            schemas.push(Value::String(key.clone()));
        }
        doc.insert(key, value);
    }

    if let Some(meta) = existing.and_then(|e| get_ci(e, "meta")).map(|(_, v)| v.clone()) {
        doc.insert("meta".into(), meta);
    }
    doc.insert("schemas".into(), Value::Array(schemas));
    Ok(doc)
}

/// A whole extension we do not model: an object under a URN key. It is kept and its URN stays
/// listed in `schemas`. Standard SCIM core schemas and message URNs are never extensions: such
/// data round-trips, but is not advertised as a schema of the resource.
fn is_unknown_extension(key: &str, value: &Value) -> bool {
    value.is_object()
        && starts_with_ci(key, "urn:")
        && !starts_with_ci(key, "urn:ietf:params:scim:schemas:core:")
        && !starts_with_ci(key, "urn:ietf:params:scim:api:")
}

/// Group `members` (RFC 7643 §4.2): each needs a `value` (the member's id); `type` is optional
/// and `User` or `Group` in any case; `$ref` and `display` are ignored on input (the store knows
/// both). A member listed twice is kept once.
fn members_from(value: Value) -> Result<Vec<Member>, ScimError> {
    let items = match value {
        Value::Array(items) => items,
        Value::Object(_) => vec![value],
        other => {
            return Err(ScimError::invalid_value(format!(
                "members must be an array of objects such as {{\"value\": \"<user id>\"}}, got {}",
                kind_of(&other)
            )));
        }
    };
    let mut members: Vec<Member> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        refuse_nul(&item, &format!("members[{i}]"))?;
        let obj = match item {
            Value::Null => continue,
            Value::Object(obj) => obj,
            other => {
                return Err(ScimError::invalid_value(format!(
                    "members[{i}] must be an object such as {{\"value\": \"<user id>\"}}, got {}",
                    kind_of(&other)
                )));
            }
        };
        let value = match get_ci(&obj, "value").map(|(_, v)| v) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::String(_)) | Some(Value::Null) | None => {
                return Err(ScimError::invalid_value(format!(
                    "members[{i}].value is required: the id of the member User or Group"
                )));
            }
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "members[{i}].value must be a string (the member's id), got {}",
                    kind_of(other)
                )));
            }
        };
        let kind = match get_ci(&obj, "type").map(|(_, v)| v) {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if t.trim().eq_ignore_ascii_case("User") => Some("User".to_string()),
            Some(Value::String(t)) if t.trim().eq_ignore_ascii_case("Group") => Some("Group".to_string()),
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "members[{i}].type must be \"User\" or \"Group\" (or left out), got {}",
                    describe(other)
                )));
            }
        };
        let display = match get_ci(&obj, "display").map(|(_, v)| v) {
            Some(Value::String(d)) if !d.is_empty() => Some(d.clone()),
            _ => None,
        };
        if !members.iter().any(|m| m.value == value) {
            members.push(Member { value, kind, display });
        }
    }
    Ok(members)
}

/// `key` without a leading `urn` and `:`, compared case-insensitively.
fn strip_urn_prefix<'k>(key: &'k str, urn: &str) -> Option<&'k str> {
    let head = key.get(..urn.len())?;
    let rest = key.get(urn.len()..)?;
    if head.eq_ignore_ascii_case(urn) { rest.strip_prefix(':').filter(|r| !r.is_empty()) } else { None }
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len()).is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}
