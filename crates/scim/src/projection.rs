//! Which attributes a response carries: the `attributes` and `excludedAttributes` parameters
//! (RFC 7644 §3.4.2.5, §3.9) combined with each attribute's `returned` characteristic
//! (RFC 7643 §7).
//!
//! This module owns that decision and nothing else: it takes a full rendered document (with
//! `members`/`groups` when wanted and `meta.location` already set) and removes what the client
//! did not ask for. It also tells the store, before loading, whether a projection needs a costly
//! attribute at all ([`Projection::wants`]: `excludedAttributes=members` reads no member rows).
//!
//! Decisions:
//! * Both parameters given: `attributes` wins and `excludedAttributes` is ignored. RFC 7644
//!   §3.4.2.5 defines `excludedAttributes` as removing attributes "that would be returned by
//!   default", and `attributes` replaces that default set, so the two do not compose; no IdP sends
//!   both, and refusing would help nobody.
//! * Paths are matched case-insensitively, with or without their schema URN; paths naming nothing
//!   the schemas define are kept as names and matched against the document's unknown attributes
//!   (which round-trip), otherwise ignored. A path that is not an attribute path at all (a filter
//!   such as `emails[type eq "work"]`) is refused with 400 `invalidPath`.
//! * `returned: always` (`id`, and `schemas`) are always kept, `never` (`password`) never appear,
//!   `request` only when named in `attributes`, `default` unless excluded or not selected.
//!   Unknown attributes follow the `default` rule. An extension object left empty is removed and
//!   its URN dropped from `schemas`.
//! * `attributes=name.givenName` keeps only that sub-attribute; naming a whole extension URN
//!   selects (or excludes) all of its attributes.
//!
//! Must not import: actix, diesel, reqwest, tokio, or any module outside `scim`.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::schema::{AttributeDef, Namespace, ResourceType, Returned, Target, get_ci};

/// A parsed `attributes` / `excludedAttributes` pair. `Projection::default()` is the plain
/// default representation.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    mode: Mode,
}

#[derive(Debug, Clone, Default)]
enum Mode {
    /// Neither parameter: every `default` and `always` attribute.
    #[default]
    Default,
    /// `attributes`: these, plus `always`.
    Only(Vec<Selector>),
    /// `excludedAttributes`: the default set minus these.
    Except(Vec<Selector>),
}

/// One comma-separated path of a parameter.
#[derive(Debug, Clone)]
enum Selector {
    /// A whole extension, named by its URN.
    Extension(&'static str),
    /// An attribute (`sub: None`) or one of its sub-attributes, with canonical names.
    Attribute { namespace: Namespace, attr: &'static str, sub: Option<&'static str> },
    /// A path the schemas do not define, as sent; matched against unknown attributes.
    Unknown(String),
}

impl Selector {
    /// Names the whole attribute `def` (directly, or as part of a named extension).
    fn names_whole(&self, namespace: Namespace, def: &AttributeDef) -> bool {
        match self {
            Selector::Attribute { namespace: ns, attr, sub: None } => *ns == namespace && *attr == def.name,
            Selector::Extension(urn) => namespace == Namespace::Extension(urn),
            _ => false,
        }
    }

    /// The sub-attribute of `def` this selector names, if any.
    fn names_sub(&self, namespace: Namespace, def: &AttributeDef) -> Option<&'static str> {
        match self {
            Selector::Attribute { namespace: ns, attr, sub: Some(sub) } if *ns == namespace && *attr == def.name => {
                Some(sub)
            }
            _ => None,
        }
    }

    /// Names an unknown attribute called `name` (top-level key, or member of an extension object
    /// whose URN is `urn`; either form, qualified or not, matches the latter).
    fn names_unknown(&self, urn: Option<&str>, name: &str) -> bool {
        let Selector::Unknown(text) = self else {
            return false;
        };
        text.eq_ignore_ascii_case(name)
            || urn.is_some_and(|u| {
                text.len() == u.len() + 1 + name.len()
                    && starts_with_ci(text, u)
                    && text.as_bytes().get(u.len()) == Some(&b':')
                    && text.get(u.len() + 1..).is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
    }
}

/// Parse the `attributes` and `excludedAttributes` parameters (comma-separated attribute paths,
/// URN-qualified or not, any case). Empty parameters count as absent. Paths naming nothing are
/// ignored; malformed ones (filters, quotes, spaces inside a path) are 400 `invalidPath`.
pub fn parse_projection(
    rt: &ResourceType,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> Result<Projection, ScimError> {
    let mode = match (non_empty(attributes), non_empty(excluded)) {
        (Some(a), _) => Mode::Only(parse_paths(rt, a, "attributes")?),
        (None, Some(e)) => Mode::Except(parse_paths(rt, e, "excludedAttributes")?),
        (None, None) => Mode::Default,
    };
    Ok(Projection { mode })
}

impl Projection {
    /// When this projection only leaves out top-level core attributes (neither parameter given,
    /// and the schema hides no sub-attribute and no extension attribute): their names. A
    /// document can then be written member by member as stored, skipping these, with the same
    /// result as [`apply`](Self::apply). `None` when it needs the full walk.
    pub fn hidden_top_level(&self, rt: &ResourceType) -> Option<Vec<&'static str>> {
        if !matches!(self.mode, Mode::Default) || has_hidden_sub_attributes(rt) {
            return None;
        }
        let mut names = Vec::new();
        for (ns, def) in rt.all_attributes() {
            if matches!(def.returned, Returned::Never | Returned::Request) {
                match ns {
                    Namespace::Core => names.push(def.name.as_str()),
                    Namespace::Extension(_) => return None,
                }
            }
        }
        Some(names)
    }
}

/// Whether any sub-attribute of this resource type is `returned: never` or `request`.
fn has_hidden_sub_attributes(rt: &ResourceType) -> bool {
    rt.all_attributes()
        .any(|(_, def)| def.sub_attributes.iter().any(|s| matches!(s.returned, Returned::Never | Returned::Request)))
}

fn non_empty(p: Option<&str>) -> Option<&str> {
    p.filter(|s| !s.trim().is_empty())
}

fn parse_paths(rt: &ResourceType, text: &str, param: &str) -> Result<Vec<Selector>, ScimError> {
    let mut selectors = Vec::new();
    for path in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if path.contains(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | '"' | '(' | ')')) {
            return Err(ScimError::invalid_path(format!(
                "{param}: `{path}` is not an attribute path; {param} takes comma-separated \
                 attribute names such as userName,name.givenName (filters are not allowed)"
            )));
        }
        selectors.push(match rt.resolve_text(path) {
            Some(Target::Extension(schema)) => Selector::Extension(schema.id.as_str()),
            Some(Target::Attribute(r)) => Selector::Attribute {
                namespace: r.namespace,
                attr: r.attr.name.as_str(),
                sub: r.sub.map(|s| s.name.as_str()),
            },
            None => Selector::Unknown(path.to_string()),
        });
    }
    Ok(selectors)
}

impl Projection {
    /// Whether a rendered response needs `attribute` at all, so the store can skip loading it:
    /// `wants(group, "members")` is false for `excludedAttributes=members` or
    /// `attributes=displayName`. Sub-attribute paths answer for their parent attribute.
    pub fn wants(&self, rt: &ResourceType, attribute: &str) -> bool {
        match rt.resolve_text(attribute) {
            Some(Target::Attribute(r)) => self.emits(r.namespace, r.attr),
            Some(Target::Extension(schema)) => {
                let ns = Namespace::Extension(schema.id.as_str());
                schema.attributes.iter().any(|a| self.emits(ns, a))
            }
            None => self.keeps_unknown(None, attribute.trim()),
        }
    }

    /// Apply to a full document: see the module documentation for the rules.
    pub fn apply(&self, rt: &ResourceType, mut doc: Map<String, Value>) -> Map<String, Value> {
        // The default representation of a canonical document is the document itself, minus any
        // top-level `never`/`request` attribute; only a schema with such sub-attributes needs the
        // full walk. Every plain GET takes this path.
        if matches!(self.mode, Mode::Default) && !has_hidden_sub_attributes(rt) {
            for (ns, def) in rt.all_attributes() {
                if matches!(def.returned, Returned::Never | Returned::Request) {
                    match ns {
                        Namespace::Core => {
                            doc.shift_remove(&def.name);
                        }
                        Namespace::Extension(urn) => {
                            if let Some(Value::Object(ext)) = doc.get_mut(urn) {
                                ext.shift_remove(&def.name);
                            }
                        }
                    }
                }
            }
            return doc;
        }
        let mut out = Map::new();
        let mut schemas = None;
        // Placeholder so `schemas` keeps the first position.
        out.insert("schemas".into(), Value::Null);
        for (key, value) in doc {
            if key.eq_ignore_ascii_case("schemas") {
                schemas = Some(value);
                continue;
            }
            if let Some(ext) = rt.extension(&key) {
                let urn = ext.id.as_str();
                if let Value::Object(obj) = value {
                    let kept = self.apply_extension(urn, ext.attributes.as_slice(), obj);
                    if !kept.is_empty() {
                        out.insert(key, Value::Object(kept));
                    }
                    continue;
                }
                // Not an object: not canonical; treated as unknown below.
                if let Some(v) = self.apply_unknown(&key, value) {
                    out.insert(key, v);
                }
                continue;
            }
            let kept = match rt.core_attribute(&key) {
                Some(def) => self.apply_attribute(Namespace::Core, def, value),
                None => self.apply_unknown(&key, value),
            };
            if let Some(v) = kept {
                out.insert(key, v);
            }
        }
        let schemas = present_schemas(rt, schemas, &out);
        out.insert("schemas".into(), schemas);
        out
    }

    fn apply_extension(
        &self,
        urn: &'static str,
        attributes: &'static [AttributeDef],
        obj: Map<String, Value>,
    ) -> Map<String, Value> {
        let ns = Namespace::Extension(urn);
        let mut kept = Map::new();
        for (key, value) in obj {
            let v = match attributes.iter().find(|a| a.name.eq_ignore_ascii_case(&key)) {
                Some(def) => self.apply_attribute(ns, def, value),
                None if self.keeps_unknown(Some(urn), &key) => Some(value),
                None => None,
            };
            if let Some(v) = v {
                kept.insert(key, v);
            }
        }
        kept
    }

    /// Whether the top-level attribute `def` appears at all (ignoring which sub-attributes).
    fn emits(&self, namespace: Namespace, def: &AttributeDef) -> bool {
        match def.returned {
            Returned::Always => return true,
            Returned::Never => return false,
            Returned::Default | Returned::Request => {}
        }
        match &self.mode {
            Mode::Default => def.returned == Returned::Default,
            Mode::Only(selectors) => selectors.iter().any(|s| {
                // A whole extension selects its `default` attributes; `request` ones only
                // when named themselves.
                let by_extension = matches!(s, Selector::Extension(_)) && def.returned == Returned::Request;
                (s.names_whole(namespace, def) && !by_extension) || s.names_sub(namespace, def).is_some()
            }),
            Mode::Except(selectors) => {
                def.returned == Returned::Default && !selectors.iter().any(|s| s.names_whole(namespace, def))
            }
        }
    }

    fn apply_attribute(&self, namespace: Namespace, def: &AttributeDef, value: Value) -> Option<Value> {
        if def.returned == Returned::Always {
            return Some(value);
        }
        if !self.emits(namespace, def) {
            return None;
        }
        match &self.mode {
            Mode::Only(selectors) if !selectors.iter().any(|s| s.names_whole(namespace, def)) => {
                let named: Vec<&str> = selectors.iter().filter_map(|s| s.names_sub(namespace, def)).collect();
                retain_subs(def, value, &|sub, _| match sub {
                    Some(s) => {
                        s.returned == Returned::Always
                            || (s.returned != Returned::Never && named.contains(&s.name.as_str()))
                    }
                    None => false,
                })
            }
            Mode::Except(selectors) => {
                let excluded: Vec<&str> = selectors.iter().filter_map(|s| s.names_sub(namespace, def)).collect();
                retain_subs(def, value, &|sub, _| match sub {
                    Some(s) => {
                        s.returned == Returned::Always
                            || (s.returned == Returned::Default && !excluded.contains(&s.name.as_str()))
                    }
                    None => true,
                })
            }
            _ => retain_subs(def, value, &default_sub_rule),
        }
    }

    /// An attribute the schemas do not define follows the `default` rule. A URN-keyed unknown
    /// extension object may be narrowed by `urn:...:member` paths.
    fn apply_unknown(&self, key: &str, value: Value) -> Option<Value> {
        if let Value::Object(obj) = value {
            if !starts_with_ci(key, "urn:") || self.keeps_unknown(None, key) {
                return self.keeps_unknown(None, key).then_some(Value::Object(obj));
            }
            // Members of an unknown extension, selected or excluded one by one.
            let kept: Map<String, Value> =
                obj.into_iter().filter(|(member, _)| self.keeps_unknown(Some(key), member)).collect();
            return (!kept.is_empty()).then_some(Value::Object(kept));
        }
        self.keeps_unknown(None, key).then_some(value)
    }

    /// The `default` rule for an unknown attribute `name` (inside the extension `urn`, if any).
    fn keeps_unknown(&self, urn: Option<&str>, name: &str) -> bool {
        match &self.mode {
            Mode::Default => true,
            Mode::Only(selectors) => selectors.iter().any(|s| {
                s.names_unknown(urn, name)
                    || urn.is_some_and(|u| {
                        matches!(s, Selector::Extension(e) if e.eq_ignore_ascii_case(u))
                            || matches!(s, Selector::Unknown(t) if t.eq_ignore_ascii_case(u))
                    })
            }),
            Mode::Except(selectors) => !selectors.iter().any(|s| {
                s.names_unknown(urn, name)
                    || urn.is_some_and(|u| {
                        matches!(s, Selector::Extension(e) if e.eq_ignore_ascii_case(u))
                            || matches!(s, Selector::Unknown(t) if t.eq_ignore_ascii_case(u))
                    })
            }),
        }
    }
}

/// Sub-attributes returned by default: `always` and `default` ones, and unknown ones.
fn default_sub_rule(sub: Option<&AttributeDef>, _name: &str) -> bool {
    sub.is_none_or(|s| matches!(s.returned, Returned::Always | Returned::Default))
}

/// Keep the sub-attributes `keep` accepts, in a complex value or in each element of a
/// multi-valued one. Elements left empty are removed; `None` when nothing is left.
fn retain_subs(def: &AttributeDef, value: Value, keep: &dyn Fn(Option<&AttributeDef>, &str) -> bool) -> Option<Value> {
    if !def.is_complex() {
        return Some(value);
    }
    let filter = |v: Value| -> Option<Value> {
        match v {
            Value::Object(obj) => {
                let kept: Map<String, Value> = obj.into_iter().filter(|(k, _)| keep(def.sub(k), k)).collect();
                (!kept.is_empty()).then_some(Value::Object(kept))
            }
            other => Some(other),
        }
    };
    match value {
        Value::Array(items) => {
            let kept: Vec<Value> = items.into_iter().filter_map(filter).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => filter(other),
    }
}

/// `schemas` listing only what is present: the core schema, and each extension whose object
/// survived the projection.
fn present_schemas(rt: &ResourceType, schemas: Option<Value>, out: &Map<String, Value>) -> Value {
    let is_present = |urn: &str| rt.core.id.eq_ignore_ascii_case(urn) || get_ci(out, urn).is_some();
    match schemas {
        Some(Value::Array(urns)) => {
            Value::Array(urns.into_iter().filter(|u| u.as_str().is_some_and(is_present)).collect())
        }
        _ => Value::Array(rt.schema_urns().filter(|u| is_present(u)).map(|u| Value::String(u.to_string())).collect()),
    }
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len()).is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ScimType;
    use crate::schema::{ENTERPRISE_USER_URN, GROUP_URN, ResourceKind, USER_URN};

    const ENT: &str = ENTERPRISE_USER_URN;

    /// `(resource type, attributes, excludedAttributes)`.
    type Input = (ResourceKind, Option<&'static str>, Option<&'static str>);

    enum Expected {
        /// `apply` to this fixture document gives this document (compared as text: key order).
        Renders(Value, Value),
        /// `wants(attribute)` answers this.
        Wants(&'static str, bool),
        /// `parse_projection` fails with 400 and this scimType, the detail containing the text.
        Error(ScimType, &'static str),
    }
    use Expected::*;

    fn check(input: Input, expected: Expected) {
        let (kind, attributes, excluded) = input;
        let rt = kind.resource_type();
        let name = format!("attributes={attributes:?} excludedAttributes={excluded:?}");
        let parsed = parse_projection(rt, attributes, excluded);
        match (parsed, expected) {
            (Ok(p), Renders(doc, want)) => {
                let doc = doc.as_object().cloned().unwrap_or_default();
                let got = Value::Object(p.apply(rt, doc));
                assert_eq!(got.to_string(), want.to_string(), "{name}");
            }
            (Ok(p), Wants(attribute, want)) => {
                assert_eq!(p.wants(rt, attribute), want, "{name}: wants({attribute})");
            }
            (Err(e), Error(scim_type, detail)) => {
                assert_eq!((e.status, e.scim_type), (400, Some(scim_type)), "{name}: {e}");
                assert!(e.detail.contains(detail), "{name}: {:?} lacks {detail:?}", e.detail);
            }
            (Ok(_), Error(..)) => panic!("{name}: expected an error"),
            (Err(e), _) => panic!("{name}: unexpected error {e}"),
        }
    }

    /// A rendered enterprise user (RFC 7643 §8.3, abridged) with groups, meta, an unknown
    /// attribute, an unknown extension and — defensively — a password that must never show.
    fn user() -> Value {
        json!({
            "schemas": [USER_URN, ENT, "urn:example:acme:2.0:User"],
            "id": "2819c223",
            "externalId": "701984",
            "userName": "bjensen@example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "active": true,
            "password": "t1meMa$heen",
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "groups": [{"value": "e9e30dba", "display": "Tour Guides"}],
            ENT: {
                "employeeNumber": "701984",
                "department": "Tour Operations",
                "manager": {"value": "26118915", "$ref": "../Users/26118915"},
                "badge": "B-7"
            },
            "favouriteColour": "green",
            "urn:example:acme:2.0:User": {"desk": "4F", "floor": 4},
            "meta": {"resourceType": "User", "version": "W/\"3\"", "location": "https://example.com/v2/Users/2819c223"}
        })
    }

    /// `user()` as the default representation renders it: everything but the password.
    fn user_default() -> Value {
        let mut u = user();
        if let Some(o) = u.as_object_mut() {
            o.shift_remove("password");
        }
        u
    }

    /// RFC 7643 §8.4 group, rendered.
    fn group() -> Value {
        json!({
            "schemas": [GROUP_URN],
            "id": "e9e30dba",
            "displayName": "Tour Guides",
            "members": [
                {"value": "2819c223", "$ref": "https://example.com/v2/Users/2819c223", "display": "Babs Jensen", "type": "User"},
                {"value": "902c246b", "$ref": "https://example.com/v2/Users/902c246b", "display": "Mandy Pepperidge", "type": "User"}
            ],
            "meta": {"resourceType": "Group", "version": "W/\"3\""}
        })
    }

    #[test]
    fn projections() {
        use ResourceKind::{Group, User};
        let cases: Vec<(Input, Expected)> = vec![
            ((User, None, None), Renders(user(), user_default())),
            ((User, Some(""), Some(" ")), Renders(user(), user_default())),
            (
                (User, Some("userName"), None),
                Renders(user(), json!({"schemas": [USER_URN], "id": "2819c223", "userName": "bjensen@example.com"})),
            ),
            (
                (User, Some("USERNAME, password"), None),
                Renders(user(), json!({"schemas": [USER_URN], "id": "2819c223", "userName": "bjensen@example.com"})),
            ),
            (
                (User, Some("urn:ietf:params:scim:schemas:core:2.0:User:userName"), None),
                Renders(user(), json!({"schemas": [USER_URN], "id": "2819c223", "userName": "bjensen@example.com"})),
            ),
            (
                (User, Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"), None),
                Renders(
                    user(),
                    json!({"schemas": [USER_URN, ENT], "id": "2819c223", ENT: {"department": "Tour Operations"}}),
                ),
            ),
            (
                (User, Some("manager.value,name.givenName"), None),
                Renders(
                    user(),
                    json!({"schemas": [USER_URN, ENT], "id": "2819c223", "name": {"givenName": "Barbara"}, ENT: {"manager": {"value": "26118915"}}}),
                ),
            ),
            (
                (User, Some(ENT), None),
                Renders(
                    user(),
                    json!({"schemas": [USER_URN, ENT], "id": "2819c223", ENT: {
                    "employeeNumber": "701984", "department": "Tour Operations",
                    "manager": {"value": "26118915", "$ref": "../Users/26118915"}, "badge": "B-7"}}),
                ),
            ),
            (
                (User, Some("emails.value,meta.location"), None),
                Renders(
                    user(),
                    json!({"schemas": [USER_URN], "id": "2819c223",
                    "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}],
                    "meta": {"location": "https://example.com/v2/Users/2819c223"}}),
                ),
            ),
            (
                (User, Some("nosuch,name.nosuch"), None),
                Renders(user(), json!({"schemas": [USER_URN], "id": "2819c223"})),
            ),
            (
                (User, Some("favouriteColour,urn:example:acme:2.0:User:desk"), None),
                Renders(
                    user(),
                    json!({"schemas": [USER_URN, "urn:example:acme:2.0:User"], "id": "2819c223",
                    "favouriteColour": "green", "urn:example:acme:2.0:User": {"desk": "4F"}}),
                ),
            ),
            (
                (User, Some("userName"), Some("userName")),
                Renders(user(), json!({"schemas": [USER_URN], "id": "2819c223", "userName": "bjensen@example.com"})),
            ),
            (
                (User, None, Some("emails")),
                Renders(user(), {
                    let mut u = user_default();
                    if let Some(o) = u.as_object_mut() {
                        o.shift_remove("emails");
                    }
                    u
                }),
            ),
            (
                (
                    User,
                    None,
                    Some(
                        "id,password,name.familyName,emails.type,groups,meta,favouriteColour,urn:example:acme:2.0:User,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                    ),
                ),
                Renders(
                    user(),
                    json!({"schemas": [USER_URN], "id": "2819c223", "externalId": "701984",
                    "userName": "bjensen@example.com", "name": {"givenName": "Barbara"}, "active": true,
                    "emails": [{"value": "bjensen@example.com", "primary": true}, {"value": "babs@jensen.org"}]}),
                ),
            ),
            (
                (
                    User,
                    None,
                    Some(
                        "department,manager,employeeNumber,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:badge",
                    ),
                ),
                Renders(user(), {
                    let mut u = user_default();
                    if let Some(o) = u.as_object_mut() {
                        o.shift_remove(ENT);
                        o.insert("schemas".into(), json!([USER_URN, "urn:example:acme:2.0:User"]));
                    }
                    u
                }),
            ),
            (
                (User, Some("emails[type eq \"work\"].value"), None),
                Error(ScimType::InvalidPath, "not an attribute path"),
            ),
            ((User, None, Some("user name")), Error(ScimType::InvalidPath, "excludedAttributes")),
            (
                (Group, None, Some("members")),
                Renders(
                    group(),
                    json!({"schemas": [GROUP_URN], "id": "e9e30dba", "displayName": "Tour Guides", "meta": {"resourceType": "Group", "version": "W/\"3\""}}),
                ),
            ),
            (
                (Group, Some("members.value"), None),
                Renders(
                    group(),
                    json!({"schemas": [GROUP_URN], "id": "e9e30dba", "members": [{"value": "2819c223"}, {"value": "902c246b"}]}),
                ),
            ),
            ((Group, None, Some("members")), Wants("members", false)),
            ((Group, None, Some("MEMBERS")), Wants("members", false)),
            ((Group, Some("displayName"), None), Wants("members", false)),
            ((Group, Some("displayName"), None), Wants("displayName", true)),
            ((Group, Some("members.display"), None), Wants("members", true)),
            ((Group, None, Some("members.display")), Wants("members", true)),
            ((Group, None, None), Wants("members", true)),
            ((User, Some("userName"), None), Wants("groups", false)),
            ((User, Some("userName"), None), Wants("id", true)),
            ((User, None, None), Wants("password", false)),
            ((User, Some("password"), None), Wants("password", false)),
            ((User, None, None), Wants("groups", true)),
            ((User, Some(ENT), None), Wants(ENT, true)),
            (
                (User, Some(ENT), None),
                Wants("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", true),
            ),
            ((User, None, Some(ENT)), Wants("manager", false)),
        ];
        for (input, expected) in cases {
            check(input, expected);
        }
    }
}
