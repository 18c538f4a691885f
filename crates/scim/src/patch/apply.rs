//! Applying PATCH operations to a stored document, atomically (RFC 7644 §3.5.2.1 add,
//! §3.5.2.2 remove, §3.5.2.3 replace): whole attributes, sub-attributes of single-valued complex
//! attributes, value-filtered elements of multi-valued ones (created from the filter when none
//! matches, `docs/idp-notes.md` §5), and whole extension objects. Attribute names are written in
//! the schema's spelling; values as the client sent them.

use serde_json::{Map, Value};

use super::members::{MemberChange, member_change};
use super::parse::{OpKind, Operation, PatchRequest};
use super::path::{AttrName, PatchNamespace, PatchTarget, Step, check_step, is_unassigned, steps};
use super::quirks::{
    quirk_entra_scalar_for_complex, quirk_entra_single_value_in_array, quirk_okta_own_id, quirk_remove_listed_values,
};
use crate::error::ScimError;
use crate::filter::{self, AttrExp, CompValue, CompareOp, ValFilter};
use crate::schema::{AttributeDef, Mutability, ResourceType, get_ci, key_ci};

/// The result of [`apply_patch`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// Whether the document differs from before.
    pub changed: bool,
    /// Member operations, in request order (Groups only).
    pub member_changes: Vec<MemberChange>,
}

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
pub(super) fn slot_mut<'c>(container: &'c mut Map<String, Value>, attr: &AttrName) -> Option<&'c mut Value> {
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

pub(super) fn remove_attr(container: &mut Map<String, Value>, name: &str) {
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
pub(super) fn canonical_names(def: Option<&AttributeDef>, value: &Value) -> Value {
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
