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
//! function below whose doc names the IdP and the evidence (see `docs/idp-notes.md`).
//! We accept what IdPs send and store strict RFC form.
//!
//! Must not import: actix, diesel, reqwest, tokio, or any module outside `scim`.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::ScimError;
use super::schema::{AttrType, AttributeDef, Mutability, Namespace, ResourceKind, ResourceType, Schema, get_ci};

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

/// Canonicalise one attribute value against its definition.
///
/// Sub-attribute names take their schema spelling (matched case-insensitively); values are
/// checked against the schema type (booleans also from Entra's `"True"`/`"false"`, dateTime as
/// RFC 3339, binary as base64); nulls, empty arrays and empty objects are removed (`Ok(None)`
/// when nothing is left). Unknown sub-attributes of a known complex attribute are kept as sent;
/// readOnly sub-attributes (`manager.displayName`) are ignored, as RFC 7644 §3.5.1 says for
/// readOnly values a client sends. A multi-valued attribute may carry at most one
/// `primary: true` (RFC 7643 §2.4). `path` names the attribute in error details.
pub fn canonical_value(def: &AttributeDef, value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    if is_unassigned(&value) {
        return Ok(None);
    }
    if !def.multi_valued {
        let value = match value {
            Value::Array(items) => single_value_from_one_element_array(items, path)?,
            other => other,
        };
        return canonical_single(def, value, path);
    }
    let items = match value {
        Value::Array(items) => items,
        other => multi_valued_from_single_value(def, other, path)?,
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        if item.is_array() {
            return Err(ScimError::invalid_value(format!(
                "{item_path}: a multi-valued attribute holds values, not nested arrays"
            )));
        }
        if let Some(v) = canonical_single(def, item, &item_path)? {
            out.push(v);
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    check_one_primary(&out, path)?;
    Ok(Some(Value::Array(out)))
}

// ---------------------------------------------------------------------------------------------
// IdP quirks: each one small, named, with its evidence.

/// Entra sends booleans as strings: `"active": "False"` by default and `"primary": "true"` in
/// sub-attribute PATCH values (docs/idp-notes.md §4.1 item 2: Microsoft Learn "Known issues ... SCIM
/// 2.0 protocol compliance"; SimpleIdServer#376). Accepts `true`/`false` in any case, trimmed.
fn boolean_from_string(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Entra sends the enterprise `manager` as a plain string holding the manager's id
/// (`"value": "271"` on path `...:manager`; docs/idp-notes.md §4.1 item 7, SCIM-SDK#541 and #686).
/// A string given for a single-valued complex attribute that has a `value` sub-attribute becomes
/// `{"value": "..."}`; an empty string means no value.
fn complex_from_value_string(def: &AttributeDef, s: &str) -> Option<Option<Value>> {
    let sub = def.sub("value")?;
    if def.multi_valued {
        return None;
    }
    if s.trim().is_empty() {
        return Some(None);
    }
    let mut obj = Map::new();
    obj.insert(sub.name.clone(), Value::String(s.to_string()));
    Some(Some(Value::Object(obj)))
}

/// Entra's tutorial sends `manager` (single-valued) as a one-element array
/// `[{"$ref": "...", "value": "<id>"}]` (Microsoft Learn "Tutorial: Develop and plan provisioning
/// for a SCIM endpoint", Example 5). One element is unwrapped; more are an error because we
/// cannot choose among them.
fn single_value_from_one_element_array(mut items: Vec<Value>, path: &str) -> Result<Value, ScimError> {
    items.retain(|v| !is_unassigned(v));
    match items.len() {
        0 => Ok(Value::Null),
        1 => Ok(items.remove(0)),
        n => Err(ScimError::invalid_value(format!(
            "{path} is single-valued but {n} values were sent; send one value, not an array"
        ))),
    }
}

/// A multi-valued attribute given one bare value (`"emails": {"value": "a@example.com"}`) is
/// taken as a one-element array. Evidence is thin: hand-written JSON templates such as
/// OneLogin's "SCIM JSON Template" (docs/idp-notes.md §4.3), and PATCH values the patch module
/// passes through; no captured request shows it. The meaning is unambiguous, so we accept it.
/// A bare string for a multi-valued *complex* attribute is still refused: its sub-attribute is
/// not obvious.
fn multi_valued_from_single_value(def: &AttributeDef, value: Value, path: &str) -> Result<Vec<Value>, ScimError> {
    if def.is_complex() && !value.is_object() {
        return Err(ScimError::invalid_value(format!(
            "{path} must be an array of objects ({}), got {}",
            sub_names(def),
            kind_of(&value)
        )));
    }
    Ok(vec![value])
}

/// Entra sends enterprise attributes as flattened top-level keys,
/// `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "x"` (docs/idp-notes.md
/// §4.1 item 6; limosa-io/laravel-scim-server#34). Returns the extension index and the rest of the
/// key (`department`, or `manager.value`) when `key` starts with a known extension URN and `:`.
fn extension_attribute_from_flattened_key<'k>(rt: &ResourceType, key: &'k str) -> Option<(usize, &'k str)> {
    rt.extensions.iter().enumerate().find_map(|(i, e)| strip_urn_prefix(key, &e.schema.id).map(|rest| (i, rest)))
}

/// Entra's tutorial create body (Example 2; docs/idp-notes.md §4.1 item 13) sends enterprise
/// attributes unqualified at the top level (`"department": null, "manager": null`). A top-level
/// name that no core attribute has but exactly one extension defines goes into that extension,
/// as an unqualified PATCH path does (`ResourceType::resolve`).
fn unqualified_extension_attribute(rt: &ResourceType, key: &str) -> Option<(usize, &'static AttributeDef)> {
    let mut found = rt.extensions.iter().enumerate().filter_map(|(i, e)| e.schema.attribute(key).map(|a| (i, a)));
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// `password` (the only writeOnly attribute) is accepted and discarded, never stored: the bridge
/// authenticates nobody (users sign in at their IdP), `returned: never` means we could not give it
/// back anyway, and a stored plaintext password (Okta sends one on create, docs/idp-notes.md §4.2
/// item 4) would only be a liability.
fn is_discarded(def: &AttributeDef) -> bool {
    def.mutability == Mutability::WriteOnly
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

/// `schemas` must be an array of URNs. We are lenient when it is absent or names only URNs we do
/// not know (IdPs always send it, but a missing list does not make the body ambiguous: the
/// endpoint says what it is); we refuse a list that names standard SCIM URNs of which none is
/// ours, such as a Group on `/Users` or a PatchOp sent to PUT, because then the client meant
/// something else.
fn check_schemas(rt: &ResourceType, schemas: Option<&Value>) -> Result<(), ScimError> {
    let urns: Vec<&str> = match schemas {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => {
            let mut urns = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => urns.push(s.as_str()),
                    other => {
                        return Err(ScimError::invalid_syntax(format!(
                            "schemas must be an array of schema URN strings, but it holds {}",
                            kind_of(other)
                        )));
                    }
                }
            }
            urns
        }
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must be an array of schema URN strings, got {}",
                kind_of(other)
            )));
        }
    };
    if urns.iter().any(|u| rt.knows_schema(u.trim())) {
        return Ok(());
    }
    let foreign: Vec<&str> = urns.into_iter().filter(|u| starts_with_ci(u.trim(), "urn:ietf:params:scim:")).collect();
    if foreign.is_empty() {
        return Ok(());
    }
    Err(ScimError::invalid_value(format!(
        "schemas lists {} but not {}: {} takes {} resources",
        foreign.join(", "),
        rt.core.id,
        rt.endpoint(),
        rt.id()
    )))
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
            if !is_unassigned(&value) {
                push_raw(&mut g.core, Raw { def: attr, value, sent_as: key })?;
            }
            continue;
        }
        if let Some((i, attr)) = unqualified_extension_attribute(rt, &key) {
            if !is_unassigned(&value) && attr.mutability != Mutability::ReadOnly {
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

fn given_twice(name: &str, a: &str, b: &str) -> ScimError {
    ScimError::invalid_value(format!("{name} is given more than once (as `{a}` and as `{b}`); send it once"))
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

/// Required attributes (RFC 7643 §7 `required`), plus a Group's `displayName`: RFC 7643 §4.2
/// calls it REQUIRED in prose although the §8.7.1 schema representation (and our
/// `schemas/group.json`) says `required: false`. We follow the prose: a nameless group cannot be
/// matched by Entra (its default matching attribute, docs/idp-notes.md §4.1 item 14) nor pushed on.
fn is_required(rt: &ResourceType, def: &AttributeDef) -> bool {
    def.required || (rt.kind == ResourceKind::Group && def.name == "displayName")
}

fn check_required(rt: &ResourceType, doc: &Map<String, Value>) -> Result<(), ScimError> {
    for def in rt.core.attributes.iter().filter(|d| is_required(rt, d)) {
        check_required_value(doc.get(&def.name), &def.name, rt)?;
    }
    for extension in &rt.extensions {
        let obj = doc.get(&extension.schema.id).and_then(Value::as_object);
        let Some(obj) = obj else {
            if extension.required {
                return Err(ScimError::invalid_value(format!(
                    "the extension {} is required for {} resources",
                    extension.schema.id,
                    rt.id()
                )));
            }
            continue;
        };
        for def in extension.schema.attributes.iter().filter(|d| d.required) {
            check_required_value(obj.get(&def.name), &format!("{}:{}", extension.schema.id, def.name), rt)?;
        }
    }
    Ok(())
}

fn check_required_value(value: Option<&Value>, path: &str, rt: &ResourceType) -> Result<(), ScimError> {
    match value {
        None => {
            Err(ScimError::invalid_value(format!("{path} is required: every {} must have a non-empty {path}", rt.id())))
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(ScimError::invalid_value(format!("{path} must not be empty or blank")))
        }
        Some(_) => Ok(()),
    }
}

/// Immutable attributes (RFC 7643 §7) may be set once; afterwards a replace or patch must leave
/// them as they are (RFC 7644 §3.5.1: "the input value(s) MUST match"), including not removing
/// them. Checked for top-level attributes and the sub-attributes of single-valued complex ones;
/// the immutable sub-attributes of `members` describe each member, not the list, and members are
/// rows anyway.
fn check_immutable(
    rt: &ResourceType,
    doc: &Map<String, Value>,
    existing: &Map<String, Value>,
) -> Result<(), ScimError> {
    for (namespace, def) in rt.all_attributes() {
        let (new_obj, old_obj, prefix) = match namespace {
            Namespace::Core => (Some(doc), Some(existing), String::new()),
            Namespace::Extension(urn) => (
                doc.get(urn).and_then(Value::as_object),
                get_ci(existing, urn).and_then(|(_, v)| v.as_object()),
                format!("{urn}:"),
            ),
        };
        let new = new_obj.and_then(|o| o.get(&def.name));
        let Some(old) = old_obj.and_then(|o| get_ci(o, &def.name)).map(|(_, v)| v) else {
            continue;
        };
        if def.mutability == Mutability::Immutable {
            if new != Some(old) {
                return Err(ScimError::mutability(format!(
                    "{prefix}{} is immutable: it was set when the resource was created and cannot be changed or removed",
                    def.name
                )));
            }
            continue;
        }
        if def.is_complex() && !def.multi_valued {
            for sub in def.sub_attributes.iter().filter(|s| s.mutability == Mutability::Immutable) {
                let Some(old_sub) = old.as_object().and_then(|o| get_ci(o, &sub.name)).map(|(_, v)| v) else {
                    continue;
                };
                if new.and_then(Value::as_object).and_then(|o| o.get(&sub.name)) != Some(old_sub) {
                    return Err(ScimError::mutability(format!(
                        "{prefix}{}.{} is immutable: it cannot be changed or removed once set",
                        def.name, sub.name
                    )));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Values.

/// One value of an attribute (an element, for a multi-valued one).
fn canonical_single(def: &AttributeDef, value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    if is_unassigned(&value) {
        return Ok(None);
    }
    let ok = |v: Value| Ok(Some(v));
    match (def.kind, value) {
        (AttrType::Complex, Value::Object(obj)) => canonical_complex(def, obj, path),
        (AttrType::Complex, Value::String(s)) => match complex_from_value_string(def, &s) {
            Some(v) => Ok(v),
            None => Err(type_error(path, &format!("an object ({})", sub_names(def)), &Value::String(s))),
        },
        (AttrType::Complex, other) => Err(type_error(path, &format!("an object ({})", sub_names(def)), &other)),
        (AttrType::String | AttrType::Reference, Value::String(s)) => ok(Value::String(s)),
        (AttrType::String, other) => Err(type_error(path, "a string", &other)),
        (AttrType::Reference, other) => Err(type_error(path, "a string holding a URI or resource id", &other)),
        (AttrType::Boolean, Value::Bool(b)) => ok(Value::Bool(b)),
        (AttrType::Boolean, Value::String(s)) => match boolean_from_string(&s) {
            Some(b) => ok(Value::Bool(b)),
            None => Err(type_error(path, "a boolean (true or false)", &Value::String(s))),
        },
        (AttrType::Boolean, other) => Err(type_error(path, "a boolean (true or false)", &other)),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => ok(Value::Number(n)),
        (AttrType::Integer, other) => Err(type_error(path, "an integer", &other)),
        (AttrType::Decimal, Value::Number(n)) => ok(Value::Number(n)),
        (AttrType::Decimal, other) => Err(type_error(path, "a number", &other)),
        (AttrType::DateTime, Value::String(s)) if OffsetDateTime::parse(s.trim(), &Rfc3339).is_ok() => {
            ok(Value::String(s))
        }
        (AttrType::DateTime, other) => {
            Err(type_error(path, "an RFC 3339 date-time such as \"2024-05-01T12:00:00Z\"", &other))
        }
        (AttrType::Binary, Value::String(s)) if is_base64(&s) => ok(Value::String(s)),
        (AttrType::Binary, other) => Err(type_error(path, "base64 text (RFC 4648 §4)", &other)),
    }
}

/// Sub-attributes in schema order with schema spelling, then unknown ones as sent.
fn canonical_complex(def: &AttributeDef, obj: Map<String, Value>, path: &str) -> Result<Option<Value>, ScimError> {
    let mut known: Vec<Option<(String, Value)>> = def.sub_attributes.iter().map(|_| None).collect();
    let mut unknown = Map::new();
    for (key, value) in obj {
        let Some(i) = def.sub_attributes.iter().position(|s| s.name.eq_ignore_ascii_case(&key)) else {
            if !is_unassigned(&value) {
                unknown.insert(key, value);
            }
            continue;
        };
        let sub = &def.sub_attributes[i];
        if sub.mutability == Mutability::ReadOnly || is_discarded(sub) {
            continue;
        }
        let sub_path = format!("{path}.{}", sub.name);
        let Some(v) = canonical_value(sub, value, &sub_path)? else {
            continue;
        };
        if let Some((first, _)) = &known[i] {
            return Err(given_twice(&sub_path, first, &key));
        }
        known[i] = Some((key, v));
    }
    let mut out = Map::new();
    for (sub, slot) in def.sub_attributes.iter().zip(known) {
        if let Some((_, v)) = slot {
            out.insert(sub.name.clone(), v);
        }
    }
    out.extend(unknown);
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

/// RFC 7643 §2.4: "The primary attribute value 'true' MUST appear no more than once."
fn check_one_primary(values: &[Value], path: &str) -> Result<(), ScimError> {
    let primaries: Vec<usize> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.get("primary") == Some(&Value::Bool(true)))
        .map(|(i, _)| i)
        .collect();
    if primaries.len() > 1 {
        return Err(ScimError::invalid_value(format!(
            "{path}: {} values have primary: true (at positions {}); at most one may be primary",
            primaries.len(),
            primaries.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

/// RFC 7643 §2.5: null, `[]` and `{}` mean "unassigned".
fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Base64 as RFC 7643 §2.3.6 asks (RFC 4648 §4 alphabet). Line breaks and other ASCII whitespace
/// are allowed (certificates are often wrapped); padding may be omitted.
fn is_base64(s: &str) -> bool {
    let bytes: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let pad = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &bytes[..bytes.len() - pad];
    if pad > 2 || !body.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/') {
        return false;
    }
    if pad > 0 { bytes.len().is_multiple_of(4) } else { body.len() % 4 != 1 }
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

fn sub_names(def: &AttributeDef) -> String {
    let names: Vec<&str> = def.sub_attributes.iter().map(|s| s.name.as_str()).collect();
    format!("sub-attributes {}", names.join(", "))
}

fn type_error(path: &str, expected: &str, got: &Value) -> ScimError {
    ScimError::invalid_value(format!("{path} must be {expected}, got {}", describe(got)))
}

/// The JSON type of a value, for error details.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for an error detail: short scalars are quoted so the sender can find them; longer
/// strings are only named by type (they may be personal data, and details reach logs).
fn describe(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().count() <= 24 => format!("the string {v}"),
        Value::Bool(_) | Value::Number(_) => format!("{} ({v})", kind_of(v)),
        other => kind_of(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ScimType;
    use crate::schema::{ENTERPRISE_USER_URN, GROUP_URN, USER_URN, registry};

    const ENT: &str = ENTERPRISE_USER_URN;

    /// What to run.
    enum Input {
        /// `canonical_value` on an attribute path of the User type (`emails`, `name.givenName`,
        /// `urn:...:manager`).
        Attr(&'static str, serde_json::Value),
        Create(ResourceKind, serde_json::Value),
        /// Body, existing document.
        Replace(ResourceKind, serde_json::Value, serde_json::Value),
        /// Patched document, existing document.
        Patched(ResourceKind, serde_json::Value, serde_json::Value),
    }

    /// What to expect.
    enum Expected {
        /// The value or document; for groups, `members` absent.
        Is(serde_json::Value),
        /// A group document and its members as `(value, type)`.
        Group(serde_json::Value, Option<Vec<(&'static str, Option<&'static str>)>>),
        /// 400 with this scimType and a detail containing this text.
        Error(ScimType, &'static str),
    }
    use Expected::*;
    use Input::*;

    fn check(name: &str, input: Input, expected: Expected) {
        let result: Result<(Value, Option<Vec<Member>>), ScimError> = match input {
            Attr(path, v) => {
                let def = match registry().user.resolve_text(path) {
                    Some(crate::schema::Target::Attribute(r)) => r.leaf(),
                    _ => panic!("{name}: no attribute {path}"),
                };
                canonical_value(def, v, path).map(|v| (v.unwrap_or(serde_json::Value::Null), None))
            }
            Create(kind, body) => prepare_create(kind.resource_type(), body).map(|p| (p.doc.into(), p.members)),
            Replace(kind, body, existing) => {
                let existing = existing.as_object().cloned().unwrap_or_default();
                prepare_replace(kind.resource_type(), body, &existing).map(|p| (p.doc.into(), p.members))
            }
            Patched(kind, patched, existing) => {
                let existing = existing.as_object().cloned().unwrap_or_default();
                let patched = patched.as_object().cloned().unwrap_or_default();
                prepare_patched(kind.resource_type(), patched, &existing).map(|p| (p.doc.into(), p.members))
            }
        };
        match (result, expected) {
            (Ok((doc, members)), Is(want)) => {
                // Compared as text: key order is part of the canonical form.
                assert_eq!(doc.to_string(), want.to_string(), "{name}: document");
                assert_eq!(members, None, "{name}: members");
            }
            (Ok((doc, members)), Group(want, want_members)) => {
                assert_eq!(doc.to_string(), want.to_string(), "{name}: document");
                let got: Option<Vec<(String, Option<String>)>> =
                    members.map(|ms| ms.into_iter().map(|m| (m.value, m.kind)).collect());
                let want_members: Option<Vec<(String, Option<String>)>> = want_members
                    .map(|ms| ms.into_iter().map(|(v, k)| (v.to_string(), k.map(str::to_string))).collect());
                assert_eq!(got, want_members, "{name}: members");
            }
            (Err(e), Error(scim_type, detail)) => {
                assert_eq!((e.status, e.scim_type), (400, Some(scim_type)), "{name}: {e}");
                assert!(e.detail.contains(detail), "{name}: detail {:?} lacks {detail:?}", e.detail);
            }
            (Ok((doc, _)), Error(..)) => panic!("{name}: expected an error, got {doc}"),
            (Err(e), _) => panic!("{name}: unexpected error {e}"),
        }
    }

    /// RFC 7643 §8.2, the full User representation (x509 value shortened, still base64).
    fn rfc_full_user() -> serde_json::Value {
        json!({
          "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
          "id": "2819c223-7f76-453a-919d-413861904646",
          "externalId": "701984",
          "userName": "bjensen@example.com",
          "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": "Jane",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "III"
          },
          "displayName": "Babs Jensen",
          "nickName": "Babs",
          "profileUrl": "https://login.example.com/bjensen",
          "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
          ],
          "addresses": [
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
             "region": "CA", "postalCode": "91608", "country": "USA",
             "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "primary": true},
            {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood",
             "region": "CA", "postalCode": "91608", "country": "USA",
             "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA"}
          ],
          "phoneNumbers": [
            {"value": "555-555-5555", "type": "work"},
            {"value": "555-555-4444", "type": "mobile"}
          ],
          "ims": [{"value": "someaimhandle", "type": "aim"}],
          "photos": [
            {"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"},
            {"value": "https://photos.example.com/profilephoto/72930000000Ccne/T", "type": "thumbnail"}
          ],
          "userType": "Employee",
          "title": "Tour Guide",
          "preferredLanguage": "en-US",
          "locale": "en-US",
          "timezone": "America/Los_Angeles",
          "active": true,
          "password": "t1meMa$heen",
          "groups": [
            {"value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
             "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
             "display": "Tour Guides"}
          ],
          "x509Certificates": [
            {"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx\nEzARBgNVBAgMCkNhbGlmb3JuaWExFDASBgNVBAoMC2V4YW1wbGUuY29tMRQwEgYD"}
          ],
          "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"a330bc54f0671c9\"",
            "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
          }
        })
    }

    /// What `rfc_full_user` is stored as: no id/meta/password/groups; `addresses[].primary` is
    /// not in our schema (RFC 7643 §8.7.1 omits it) and round-trips as an unknown sub-attribute.
    fn rfc_full_user_stored() -> serde_json::Value {
        let mut v = rfc_full_user();
        if let Some(o) = v.as_object_mut() {
            for k in ["id", "meta", "password", "groups"] {
                o.remove(k);
            }
            // Canonical order: emails, phoneNumbers, ims, photos, addresses (schema order),
            // and core attributes in schema order before that.
            let mut ordered = Map::new();
            let order = [
                "schemas",
                "externalId",
                "userName",
                "name",
                "displayName",
                "nickName",
                "profileUrl",
                "title",
                "userType",
                "preferredLanguage",
                "locale",
                "timezone",
                "active",
                "emails",
                "phoneNumbers",
                "ims",
                "photos",
                "addresses",
                "x509Certificates",
            ];
            for k in order {
                if let Some(x) = o.remove(k) {
                    ordered.insert(k.to_string(), x);
                }
            }
            // Address sub-attributes take schema order; the unknown `primary` goes last.
            if let Some(addrs) = ordered.get_mut("addresses").and_then(|a| a.as_array_mut()) {
                for a in addrs {
                    let mut out = Map::new();
                    for k in
                        ["formatted", "streetAddress", "locality", "region", "postalCode", "country", "type", "primary"]
                    {
                        if let Some(x) = a.get(k) {
                            out.insert(k.to_string(), x.clone());
                        }
                    }
                    *a = serde_json::Value::Object(out);
                }
            }
            return serde_json::Value::Object(ordered);
        }
        v
    }

    /// RFC 7643 §8.3, the enterprise User (abridged core part).
    fn rfc_enterprise_user() -> serde_json::Value {
        json!({
          "schemas": [USER_URN, ENT],
          "id": "2819c223-7f76-453a-919d-413861904646",
          "externalId": "701984",
          "userName": "bjensen@example.com",
          "active": true,
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {
              "value": "26118915-6090-4610-87e4-49d8ca9f808d",
              "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
              "displayName": "John Smith"
            }
          },
          "meta": {"resourceType": "User", "version": "W/\"3694e05e9dff591\""}
        })
    }

    /// RFC 7643 §8.4, the Group.
    fn rfc_group() -> serde_json::Value {
        json!({
          "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
          "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
          "displayName": "Tour Guides",
          "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646",
             "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
             "display": "Babs Jensen"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a",
             "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a",
             "display": "Mandy Pepperidge"}
          ],
          "meta": {"resourceType": "Group", "version": "W/\"3694e05e9dff592\""}
        })
    }

    /// Entra's create body (Microsoft Learn tutorial, Example 2; docs/idp-notes.md §4.1 item 13):
    /// the `enterprise:2.0User` typo, nulls, `roles: []`, `meta.resourceType`, here with
    /// capitalised keys, string booleans and a flattened enterprise attribute added.
    fn entra_create() -> serde_json::Value {
        json!({
          "schemas": [USER_URN, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
          "externalId": "jyoung",
          "UserName": "jyoung@testuser.com",
          "Active": "True",
          "addresses": null,
          "displayName": "Joy Young",
          "Emails": [{"Type": "work", "Value": "jyoung@Contoso.com", "Primary": "true"}],
          "meta": {"resourceType": "User"},
          "name": {"formatted": "Joy Young", "FamilyName": "Young", "givenName": "Joy"},
          "phoneNumbers": null,
          "preferredLanguage": null,
          "roles": [],
          "title": null,
          "department": null,
          "manager": null,
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "1234",
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "271"
        })
    }

    fn okta_existing() -> serde_json::Value {
        json!({
          "schemas": [USER_URN],
          "id": "u-1",
          "externalId": "00u1",
          "userName": "isaac@example.com",
          "name": {"givenName": "Isaac", "familyName": "Brock"},
          "active": true,
          "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-01T00:00:00Z", "version": "W/\"1\""}
        })
    }

    #[test]
    fn canonical_values() {
        let cases: Vec<(&str, Input, Expected)> = vec![
            ("string boolean True", Attr("active", json!("True")), Is(json!(true))),
            ("string boolean false", Attr("active", json!(" false ")), Is(json!(false))),
            ("bad boolean", Attr("active", json!("yes")), Error(ScimType::InvalidValue, "active must be a boolean")),
            ("number for boolean", Attr("active", json!(1)), Error(ScimType::InvalidValue, "a number (1)")),
            ("null is unassigned", Attr("title", json!(null)), Is(json!(null))),
            ("number for string", Attr("title", json!(7)), Error(ScimType::InvalidValue, "title must be a string")),
            (
                "sub-attribute names canonicalised",
                Attr("name", json!({"GIVENNAME": "B", "familyname": "J"})),
                Is(json!({"familyName": "J", "givenName": "B"})),
            ),
            (
                "unknown sub kept, nulls dropped",
                Attr("name", json!({"givenName": "B", "nickname2": "x", "middleName": null})),
                Is(json!({"givenName": "B", "nickname2": "x"})),
            ),
            ("empty object dropped", Attr("name", json!({"givenName": null})), Is(json!(null))),
            ("complex must be object", Attr("name", json!(3)), Error(ScimType::InvalidValue, "name must be an object")),
            (
                "single object for multi-valued",
                Attr("emails", json!({"value": "a@example.com"})),
                Is(json!([{"value": "a@example.com"}])),
            ),
            (
                "string for multi-valued complex",
                Attr("emails", json!("a@example.com")),
                Error(ScimType::InvalidValue, "emails must be an array of objects"),
            ),
            (
                "two primaries",
                Attr("emails", json!([{"value": "a", "primary": true}, {"value": "b", "primary": "True"}])),
                Error(ScimType::InvalidValue, "at most one may be primary"),
            ),
            (
                "one primary, string",
                Attr("emails", json!([{"value": "a", "primary": "true"}, {"value": "b", "primary": false}])),
                Is(json!([{"value": "a", "primary": true}, {"value": "b", "primary": false}])),
            ),
            (
                "non-canonical type kept",
                Attr(
                    "phoneNumbers",
                    json!([{"value": "+1 555", "type": "eightbyeight"}, {"value": "x", "type": "microsoftteams"}]),
                ),
                Is(json!([{"value": "+1 555", "type": "eightbyeight"}, {"value": "x", "type": "microsoftteams"}])),
            ),
            ("null elements dropped", Attr("emails", json!([null, {"value": "a"}, {}])), Is(json!([{"value": "a"}]))),
            (
                "wrong sub type named by path",
                Attr("emails", json!([{"value": "a"}, {"value": 5}])),
                Error(ScimType::InvalidValue, "emails[1].value must be a string"),
            ),
            (
                "base64 binary",
                Attr("x509Certificates", json!([{"value": "TUlJRA=="}])),
                Is(json!([{"value": "TUlJRA=="}])),
            ),
            (
                "not base64",
                Attr("x509Certificates", json!([{"value": "not base64!"}])),
                Error(ScimType::InvalidValue, "x509Certificates[0].value must be base64"),
            ),
            (
                "array for single-valued",
                Attr("profileUrl", json!(["a", "b"])),
                Error(ScimType::InvalidValue, "profileUrl is single-valued but 2 values"),
            ),
            ("one-element array for single value", Attr("profileUrl", json!(["https://x"])), Is(json!("https://x"))),
            (
                "dateTime valid",
                Attr("meta.lastModified", json!("2011-05-13T04:42:34.000Z")),
                Is(json!("2011-05-13T04:42:34.000Z")),
            ),
            (
                "dateTime invalid",
                Attr("meta.lastModified", json!("13/05/2011")),
                Error(ScimType::InvalidValue, "RFC 3339"),
            ),
            (
                "manager as string",
                Attr("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", json!("271")),
                Is(json!({"value": "271"})),
            ),
            (
                "manager displayName is readOnly",
                Attr(
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                    json!([{"$ref": "../Users/9", "value": "9", "displayName": "Boss"}]),
                ),
                Is(json!({"value": "9", "$ref": "../Users/9"})),
            ),
        ];
        for (name, input, expected) in cases {
            check(name, input, expected);
        }
    }

    #[test]
    fn create_bodies() {
        let cases: Vec<(&str, Input, Expected)> = vec![
            ("RFC 7643 §8.2 full user", Create(ResourceKind::User, rfc_full_user()), Is(rfc_full_user_stored())),
            (
                "RFC 7643 §8.3 enterprise user",
                Create(ResourceKind::User, rfc_enterprise_user()),
                Is(json!({
                    "schemas": [USER_URN, ENT],
                    "externalId": "701984",
                    "userName": "bjensen@example.com",
                    "active": true,
                    ENT: {
                        "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
                        "division": "Theme Park", "department": "Tour Operations",
                        "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d"}
                    }
                })),
            ),
            (
                "Entra create: nulls, capitals, string booleans, flattened extension, manager string",
                Create(ResourceKind::User, entra_create()),
                Is(json!({
                    "schemas": [USER_URN, ENT],
                    "externalId": "jyoung",
                    "userName": "jyoung@testuser.com",
                    "name": {"formatted": "Joy Young", "familyName": "Young", "givenName": "Joy"},
                    "displayName": "Joy Young",
                    "active": true,
                    "emails": [{"value": "jyoung@Contoso.com", "type": "work", "primary": true}],
                    ENT: {"employeeNumber": "1234", "manager": {"value": "271"}}
                })),
            ),
            (
                "extension object under a differently-cased URN, plus unqualified attribute",
                Create(
                    ResourceKind::User,
                    json!({
                        "userName": "a", "department": "Sales",
                        "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"Division": "North", "badge": 7}
                    }),
                ),
                Is(
                    json!({"schemas": [USER_URN, ENT], "userName": "a", ENT: {"division": "North", "department": "Sales", "badge": 7}}),
                ),
            ),
            (
                "unknown attributes and unknown extensions round-trip",
                Create(
                    ResourceKind::User,
                    json!({
                        "schemas": [USER_URN, "urn:example:acme:2.0:User"],
                        "userName": "a", "favouriteColour": "green", "nested": {"a": [1, null]},
                        "urn:example:acme:2.0:User": {"badge": "B-7"}
                    }),
                ),
                Is(json!({
                    "schemas": [USER_URN, "urn:example:acme:2.0:User"],
                    "userName": "a", "favouriteColour": "green", "nested": {"a": [1, null]},
                    "urn:example:acme:2.0:User": {"badge": "B-7"}
                })),
            ),
            (
                "a core schema URN as a key is not listed as an extension",
                Create(
                    ResourceKind::User,
                    json!({"userName": "a", "urn:ietf:params:scim:schemas:core:2.0:Group": {"x": 1}}),
                ),
                Is(
                    json!({"schemas": [USER_URN], "userName": "a", "urn:ietf:params:scim:schemas:core:2.0:Group": {"x": 1}}),
                ),
            ),
            (
                "core-URN-qualified attribute",
                Create(
                    ResourceKind::User,
                    json!({"urn:ietf:params:scim:schemas:core:2.0:User:userName": "a", "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName": "B"}),
                ),
                Is(json!({"schemas": [USER_URN], "userName": "a", "name": {"givenName": "B"}})),
            ),
            (
                "flattened extension sub-attribute merges with the object form",
                Create(
                    ResourceKind::User,
                    json!({"userName": "a",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "9",
                    ENT: {"manager": {"$ref": "../Users/9"}, "department": "x"}}),
                ),
                Is(
                    json!({"schemas": [USER_URN, ENT], "userName": "a", ENT: {"department": "x", "manager": {"value": "9", "$ref": "../Users/9"}}}),
                ),
            ),
            (
                "absent schemas is accepted",
                Create(ResourceKind::User, json!({"userName": "a"})),
                Is(json!({"schemas": [USER_URN], "userName": "a"})),
            ),
            (
                "foreign extension URNs without data are dropped",
                Create(
                    ResourceKind::Group,
                    json!({
                        "schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                        "externalId": "g-1", "displayName": "Sales", "meta": {"resourceType": "Group"}
                    }),
                ),
                Group(json!({"schemas": [GROUP_URN], "externalId": "g-1", "displayName": "Sales"}), None),
            ),
            (
                "Group URN on /Users",
                Create(ResourceKind::User, json!({"schemas": [GROUP_URN], "userName": "a"})),
                Error(ScimType::InvalidValue, "/Users takes User resources"),
            ),
            (
                "PatchOp sent as a resource",
                Create(
                    ResourceKind::User,
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []}),
                ),
                Error(ScimType::InvalidValue, "schemas lists urn:ietf:params:scim:api:messages:2.0:PatchOp"),
            ),
            (
                "schemas not an array of strings",
                Create(ResourceKind::User, json!({"schemas": [1], "userName": "a"})),
                Error(ScimType::InvalidSyntax, "schemas must be an array"),
            ),
            (
                "body not an object",
                Create(ResourceKind::User, json!(["userName"])),
                Error(ScimType::InvalidSyntax, "must be a JSON object"),
            ),
            (
                "userName missing",
                Create(ResourceKind::User, json!({"schemas": [USER_URN], "displayName": "x"})),
                Error(ScimType::InvalidValue, "userName is required"),
            ),
            (
                "userName blank",
                Create(ResourceKind::User, json!({"userName": "  "})),
                Error(ScimType::InvalidValue, "userName must not be empty"),
            ),
            (
                "userName null",
                Create(ResourceKind::User, json!({"userName": null})),
                Error(ScimType::InvalidValue, "userName is required"),
            ),
            (
                "userName a number",
                Create(ResourceKind::User, json!({"userName": 42})),
                Error(ScimType::InvalidValue, "userName must be a string"),
            ),
            (
                "userName twice",
                Create(ResourceKind::User, json!({"userName": "a", "USERNAME": "b"})),
                Error(ScimType::InvalidValue, "userName is given more than once"),
            ),
            (
                "password never stored",
                Create(ResourceKind::User, json!({"userName": "a", "password": "hunter2"})),
                Is(json!({"schemas": [USER_URN], "userName": "a"})),
            ),
            (
                "Okta create: groups [] and password",
                Create(
                    ResourceKind::User,
                    json!({
                        "schemas": [USER_URN], "userName": "isaac@example.com", "name": {"givenName": "Isaac", "familyName": "Brock"},
                        "emails": [{"primary": true, "value": "isaac@example.com", "type": "work"}],
                        "displayName": "Isaac Brock", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
                        "groups": [], "password": "1mz050nq", "active": true
                    }),
                ),
                Is(json!({
                    "schemas": [USER_URN], "externalId": "00ujl29u0le5T6Aj10h7", "userName": "isaac@example.com",
                    "name": {"familyName": "Brock", "givenName": "Isaac"}, "displayName": "Isaac Brock", "locale": "en-US",
                    "active": true, "emails": [{"value": "isaac@example.com", "type": "work", "primary": true}]
                })),
            ),
            (
                "extension given twice with different values",
                Create(
                    ResourceKind::User,
                    json!({
                        "userName": "a", ENT: {"department": "A"}, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "B"
                    }),
                ),
                Error(ScimType::InvalidValue, "department is given more than once"),
            ),
            (
                "extension must be an object",
                Create(ResourceKind::User, json!({"userName": "a", ENT: "Sales"})),
                Error(ScimType::InvalidValue, "must be an object holding the extension's attributes"),
            ),
            (
                "RFC 7643 §8.4 group",
                Create(ResourceKind::Group, rfc_group()),
                Group(
                    json!({"schemas": [GROUP_URN], "displayName": "Tour Guides"}),
                    Some(vec![
                        ("2819c223-7f76-453a-919d-413861904646", None),
                        ("902c246b-6245-4190-8e05-00816be7344a", None),
                    ]),
                ),
            ),
            (
                "Okta group push with empty members",
                Create(ResourceKind::Group, json!({"schemas": [GROUP_URN], "displayName": "Eng", "members": []})),
                Group(json!({"schemas": [GROUP_URN], "displayName": "Eng"}), Some(vec![])),
            ),
            (
                "member type any case, duplicates once",
                Create(
                    ResourceKind::Group,
                    json!({"displayName": "Eng",
                "Members": [{"value": "u1", "type": "user"}, {"Value": "g2", "Type": "GROUP", "display": "x", "$ref": null}, {"value": "u1"}]}),
                ),
                Group(
                    json!({"schemas": [GROUP_URN], "displayName": "Eng"}),
                    Some(vec![("u1", Some("User")), ("g2", Some("Group"))]),
                ),
            ),
            (
                "member without value",
                Create(ResourceKind::Group, json!({"displayName": "Eng", "members": [{"display": "Babs"}]})),
                Error(ScimType::InvalidValue, "members[0].value is required"),
            ),
            (
                "member with odd type",
                Create(
                    ResourceKind::Group,
                    json!({"displayName": "Eng", "members": [{"value": "u", "type": "direct"}]}),
                ),
                Error(ScimType::InvalidValue, "members[0].type must be \"User\" or \"Group\""),
            ),
            (
                "group displayName required",
                Create(ResourceKind::Group, json!({"schemas": [GROUP_URN], "members": []})),
                Error(ScimType::InvalidValue, "displayName is required"),
            ),
        ];
        for (name, input, expected) in cases {
            check(name, input, expected);
        }
    }

    #[test]
    fn replace_and_patched_bodies() {
        let cases: Vec<(&str, Input, Expected)> = vec![
            (
                "Okta PUT with id, meta, groups: id/meta kept from existing, absent attributes cleared",
                Replace(
                    ResourceKind::User,
                    json!({
                        "schemas": [USER_URN], "id": "someone-else", "userName": "isaac@example.com",
                        "name": {"givenName": "Isaac", "familyName": "Brock"}, "active": "false", "groups": [{"value": "g"}],
                        "meta": {"resourceType": "User", "version": "W/\"0\""}, "password": "x"
                    }),
                    okta_existing(),
                ),
                Is(json!({
                    "schemas": [USER_URN], "id": "u-1", "userName": "isaac@example.com",
                    "name": {"familyName": "Brock", "givenName": "Isaac"}, "active": false,
                    "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-01T00:00:00Z", "version": "W/\"1\""}
                })),
            ),
            (
                "PUT changes externalId (readWrite)",
                Replace(
                    ResourceKind::User,
                    json!({"userName": "a", "externalId": "new"}),
                    json!({"id": "u-1", "externalId": "old", "userName": "a"}),
                ),
                Is(json!({"schemas": [USER_URN], "id": "u-1", "externalId": "new", "userName": "a"})),
            ),
            (
                "PUT without userName",
                Replace(ResourceKind::User, json!({"displayName": "x"}), okta_existing()),
                Error(ScimType::InvalidValue, "userName is required"),
            ),
            (
                "PUT group without members leaves them",
                Replace(ResourceKind::Group, json!({"displayName": "Eng"}), json!({"id": "g-1", "displayName": "Old"})),
                Group(json!({"schemas": [GROUP_URN], "id": "g-1", "displayName": "Eng"}), None),
            ),
            (
                "PUT group members null leaves them",
                Replace(
                    ResourceKind::Group,
                    json!({"displayName": "Eng", "members": null}),
                    json!({"id": "g-1", "displayName": "Old"}),
                ),
                Group(json!({"schemas": [GROUP_URN], "id": "g-1", "displayName": "Eng"}), None),
            ),
            (
                "PUT group with members replaces them",
                Replace(
                    ResourceKind::Group,
                    json!({"displayName": "Eng", "members": [{"value": "u2", "display": "ignored"}]}),
                    json!({"id": "g-1", "displayName": "Old"}),
                ),
                Group(json!({"schemas": [GROUP_URN], "id": "g-1", "displayName": "Eng"}), Some(vec![("u2", None)])),
            ),
            (
                "patched document with raw values is canonicalised",
                Patched(
                    ResourceKind::User,
                    json!({
                        "schemas": [USER_URN], "id": "u-1", "userName": "isaac@example.com", "active": "False",
                        "emails": [{"type": "work", "value": "i@example.com", "primary": "true"}],
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "271",
                        "meta": {"resourceType": "User"}
                    }),
                    okta_existing(),
                ),
                Is(json!({
                    "schemas": [USER_URN, ENT], "id": "u-1", "userName": "isaac@example.com", "active": false,
                    "emails": [{"value": "i@example.com", "type": "work", "primary": true}],
                    ENT: {"manager": {"value": "271"}},
                    "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-01T00:00:00Z", "version": "W/\"1\""}
                })),
            ),
            (
                "patch that empties the extension drops its URN",
                Patched(
                    ResourceKind::User,
                    json!({
                        "schemas": [USER_URN, ENT], "id": "u-1", "userName": "a", ENT: {}
                    }),
                    json!({"id": "u-1", "userName": "a", ENT: {"department": "x"}}),
                ),
                Is(json!({"schemas": [USER_URN], "id": "u-1", "userName": "a"})),
            ),
            (
                "patch removing all members",
                Patched(
                    ResourceKind::Group,
                    json!({"id": "g-1", "displayName": "Eng"}),
                    json!({"id": "g-1", "displayName": "Eng", "members": [{"value": "u1"}]}),
                ),
                Group(json!({"schemas": [GROUP_URN], "id": "g-1", "displayName": "Eng"}), Some(vec![])),
            ),
            (
                "patch not touching unloaded members",
                Patched(
                    ResourceKind::Group,
                    json!({"id": "g-1", "displayName": "Eng2"}),
                    json!({"id": "g-1", "displayName": "Eng"}),
                ),
                Group(json!({"schemas": [GROUP_URN], "id": "g-1", "displayName": "Eng2"}), None),
            ),
            (
                "patched wrong type",
                Patched(ResourceKind::User, json!({"userName": "a", "active": "maybe"}), okta_existing()),
                Error(ScimType::InvalidValue, "active must be a boolean"),
            ),
        ];
        for (name, input, expected) in cases {
            check(name, input, expected);
        }
    }

    /// A stored document with the `id` and `meta` the store would add, in canonical positions.
    fn stored(doc: Map<String, serde_json::Value>) -> serde_json::Value {
        let mut out = Map::new();
        for (k, v) in doc {
            out.insert(k.clone(), v);
            if k == "schemas" {
                out.insert("id".into(), json!("r-1"));
            }
        }
        out.insert("meta".into(), json!({"resourceType": "User", "version": "W/\"1\""}));
        serde_json::Value::Object(out)
    }

    /// The canonical form is a fixed point: replacing or re-validating a stored document with
    /// itself gives it back unchanged, so GET-then-PUT (Okta) writes nothing new.
    #[test]
    fn canonical_documents_are_fixed_points() {
        let fixtures = [
            (ResourceKind::User, rfc_full_user()),
            (ResourceKind::User, rfc_enterprise_user()),
            (ResourceKind::User, entra_create()),
            // RFC 7643 §8.1, the minimal User.
            (
                ResourceKind::User,
                json!({"schemas": [USER_URN], "id": "2819c223-7f76-453a-919d-413861904646", "userName": "bjensen@example.com", "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"3694e05e9dff590\"", "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"}}),
            ),
            (ResourceKind::Group, rfc_group()),
            (
                ResourceKind::User,
                json!({"userName": "a", "urn:example:acme:2.0:User": {"badge": "B-7"}, "extra": [1, 2]}),
            ),
        ];
        for (kind, body) in fixtures {
            let name = format!("fixed point of {body}");
            let created = prepare_create(kind.resource_type(), body);
            let Ok(created) = created else {
                panic!("{name}: {created:?}");
            };
            let doc = stored(created.doc);
            check(&name, Replace(kind, doc.clone(), doc.clone()), Group(doc.clone(), None));
            check(&name, Patched(kind, doc.clone(), doc.clone()), Group(doc, None));
        }
    }

    /// No attribute of the RFC schemas is immutable at the top level, so a test type defines one.
    #[test]
    fn immutable_attributes_may_not_change() {
        let schema: &'static Schema = Box::leak(Box::new(Schema {
            id: "urn:example:Badge".into(),
            name: "Badge".into(),
            attributes: serde_json::from_value(json!([
                {"name": "serial", "type": "string", "mutability": "immutable"},
                {"name": "label", "type": "string", "required": true}
            ]))
            .unwrap_or_default(),
            document: json!({}),
        }));
        let rt = ResourceType {
            kind: ResourceKind::User,
            description: "test",
            core: schema,
            extensions: Vec::new(),
            common: registry().user.common,
        };
        let existing = json!({"id": "b-1", "serial": "S1", "label": "x"});
        let existing = existing.as_object().cloned().unwrap_or_default();
        let same = prepare_replace(&rt, json!({"serial": "S1", "label": "y"}), &existing).map(|p| p.doc);
        assert_eq!(
            same.ok().map(serde_json::Value::Object),
            Some(json!({"schemas": ["urn:example:Badge"], "id": "b-1", "serial": "S1", "label": "y"}))
        );
        for body in [json!({"serial": "S2", "label": "y"}), json!({"label": "y"})] {
            let err = prepare_replace(&rt, body, &existing).err();
            assert_eq!(
                err.map(|e| (e.scim_type, e.detail.contains("serial is immutable"))),
                Some((Some(ScimType::Mutability), true))
            );
        }
        let fresh = json!({"id": "b-1", "label": "x"});
        let fresh = fresh.as_object().cloned().unwrap_or_default();
        assert!(prepare_replace(&rt, json!({"serial": "S2", "label": "y"}), &fresh).is_ok(), "set once when unset");
    }

    #[test]
    fn base64() {
        for (s, ok) in [
            ("", true),
            ("TQ==", true),
            ("TQ", true),
            ("TWE=", true),
            ("TWFu", true),
            ("T", false),
            ("TQ===", false),
            ("TQ=a", false),
            ("T-_A", false),
            ("TW\nFu", true),
        ] {
            assert_eq!(is_base64(s), ok, "{s:?}");
        }
    }
}
