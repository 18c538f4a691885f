//! Schema definitions (RFC 7643 §2, §7, §8.7) and the resource types built from them.
//!
//! The schema documents in `schemas/` are the single source: `/Schemas` serves them as they
//! are, and every rule of the core (attribute names, types, mutability, `returned`,
//! `caseExact`) is read from them here. Attribute names match case-insensitively
//! (RFC 7643 §2.1). The common attributes `id`, `externalId` and `meta` (RFC 7643 §3.1)
//! are not part of any schema document and are defined here.
//!
//! Must not import: actix, diesel, reqwest, tokio.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
pub const SPC_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

const USER_SCHEMA_DOC: &str = include_str!("../../../schemas/user.json");
const GROUP_SCHEMA_DOC: &str = include_str!("../../../schemas/group.json");
const ENTERPRISE_SCHEMA_DOC: &str = include_str!("../../../schemas/enterprise_user.json");

/// RFC 7643 §2.3 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// RFC 7643 §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// RFC 7643 §7 `uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute (or sub-attribute) definition, read from a schema document.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeDef {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttrType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default = "default_mutability")]
    pub mutability: Mutability,
    #[serde(default = "default_returned")]
    pub returned: Returned,
    #[serde(default = "default_uniqueness")]
    pub uniqueness: Uniqueness,
    #[serde(default)]
    pub canonical_values: Vec<String>,
    #[serde(default)]
    pub sub_attributes: Vec<AttributeDef>,
}

fn default_mutability() -> Mutability {
    Mutability::ReadWrite
}
fn default_returned() -> Returned {
    Returned::Default
}
fn default_uniqueness() -> Uniqueness {
    Uniqueness::None
}

impl AttributeDef {
    /// The sub-attribute called `name`, matched case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn is_complex(&self) -> bool {
        self.kind == AttrType::Complex
    }

    /// Whether a client may write this attribute at all (PATCH paths, PUT values).
    pub fn is_writable(&self) -> bool {
        !matches!(self.mutability, Mutability::ReadOnly)
    }

    fn simple(name: &str, kind: AttrType, case_exact: bool, mutability: Mutability, returned: Returned) -> Self {
        AttributeDef {
            name: name.to_string(),
            kind,
            multi_valued: false,
            required: false,
            case_exact,
            mutability,
            returned,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }
}

/// A schema document: its id, the attribute definitions, and the document served by `/Schemas`.
#[derive(Debug)]
pub struct Schema {
    pub id: String,
    pub name: String,
    pub attributes: Vec<AttributeDef>,
    pub document: Value,
}

impl Schema {
    fn parse(text: &str) -> Schema {
        #[derive(Deserialize)]
        struct Doc {
            id: String,
            name: String,
            attributes: Vec<AttributeDef>,
        }
        // The documents are compiled in and covered by tests; a broken one is a build defect.
        #[allow(clippy::expect_used)]
        let document: Value = serde_json::from_str(text).expect("schema document is valid JSON");
        #[allow(clippy::expect_used)]
        let doc: Doc = serde_json::from_value(document.clone()).expect("schema document matches RFC 7643 §7");
        Schema { id: doc.id, name: doc.name, attributes: doc.attributes, document }
    }

    /// The attribute called `name`, matched case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// The resource types this server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }

    pub fn resource_type(self) -> &'static ResourceType {
        let r = registry();
        match self {
            ResourceKind::User => &r.user,
            ResourceKind::Group => &r.group,
        }
    }
}

/// A schema extension of a resource type (RFC 7643 §6 `schemaExtensions`).
#[derive(Debug)]
pub struct Extension {
    pub schema: &'static Schema,
    pub required: bool,
}

/// A resource type (RFC 7643 §6): its core schema, extensions, and the common attributes.
#[derive(Debug)]
pub struct ResourceType {
    pub kind: ResourceKind,
    pub description: &'static str,
    pub core: &'static Schema,
    pub extensions: Vec<Extension>,
    pub common: &'static [AttributeDef],
}

/// Where a resolved attribute lives in a resource document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// A top-level member: core schema or common attribute.
    Core,
    /// A member of the extension object keyed by this schema URN.
    Extension(&'static str),
}

/// An attribute path resolved against a resource type's schemas.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    pub namespace: Namespace,
    pub attr: &'static AttributeDef,
    pub sub: Option<&'static AttributeDef>,
}

impl Resolved {
    /// The definition the path ends at: the sub-attribute if there is one.
    pub fn leaf(&self) -> &'static AttributeDef {
        self.sub.unwrap_or(self.attr)
    }

    /// `name.sub` or `urn:...:name.sub`, with canonical names, for messages and keys.
    pub fn display(&self) -> String {
        let mut s = match self.namespace {
            Namespace::Core => String::new(),
            Namespace::Extension(urn) => format!("{urn}:"),
        };
        s.push_str(&self.attr.name);
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(&sub.name);
        }
        s
    }
}

/// What an attribute path names, when it may also name a whole extension (PATCH paths).
#[derive(Debug, Clone, Copy)]
pub enum Target {
    Attribute(Resolved),
    /// The whole extension object, e.g. path `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    Extension(&'static Schema),
}

impl ResourceType {
    pub fn id(&self) -> &'static str {
        self.kind.as_str()
    }

    pub fn endpoint(&self) -> &'static str {
        self.kind.endpoint()
    }

    /// The extension with this URN (case-insensitive).
    pub fn extension(&self, urn: &str) -> Option<&'static Schema> {
        self.extensions.iter().find(|e| e.schema.id.eq_ignore_ascii_case(urn)).map(|e| e.schema)
    }

    /// Whether `urn` is the core schema or one of the extensions of this type.
    pub fn knows_schema(&self, urn: &str) -> bool {
        self.core.id.eq_ignore_ascii_case(urn) || self.extension(urn).is_some()
    }

    /// A top-level (core or common) attribute, case-insensitively.
    pub fn core_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        self.core.attribute(name).or_else(|| self.common.iter().find(|a| a.name.eq_ignore_ascii_case(name)))
    }

    /// Resolve `[uri:]name[.sub]` (the parts of a filter or PATCH attribute path).
    ///
    /// Without a URN the name is looked up in the core schema and the common attributes first,
    /// then, leniently, in the extensions when exactly one of them defines it. `Ok(None)` means
    /// the path names nothing this resource type models; callers decide whether that is an
    /// error. An unknown sub-attribute of a known complex attribute is always `Ok(None)`.
    pub fn resolve(&self, uri: Option<&str>, name: &str, sub: Option<&str>) -> Option<Resolved> {
        let (namespace, attr) = match uri {
            Some(u) if self.core.id.eq_ignore_ascii_case(u) => (Namespace::Core, self.core_attribute(name)?),
            Some(u) => {
                let ext = self.extension(u)?;
                (Namespace::Extension(static_id(ext)), ext.attribute(name)?)
            }
            None => match self.core_attribute(name) {
                Some(a) => (Namespace::Core, a),
                None => {
                    let mut found = self.extensions.iter().filter_map(|e| {
                        e.schema.attribute(name).map(|a| (Namespace::Extension(static_id(e.schema)), a))
                    });
                    let first = found.next()?;
                    if found.next().is_some() {
                        return None;
                    }
                    first
                }
            },
        };
        let sub = match sub {
            Some(s) => Some(attr.sub(s)?),
            None => None,
        };
        Some(Resolved { namespace, attr, sub })
    }

    /// Resolve a full textual path such as `name.givenName`,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`,
    /// or an extension URN alone.
    pub fn resolve_text(&self, path: &str) -> Option<Target> {
        let path = path.trim();
        if let Some(ext) = self.extension(path) {
            return Some(Target::Extension(ext));
        }
        let (uri, rest) = split_urn(path, self);
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        self.resolve(uri, name, sub).map(Target::Attribute)
    }

    /// All attribute definitions with their namespace, in document order (core, common, extensions).
    pub fn all_attributes(&self) -> impl Iterator<Item = (Namespace, &'static AttributeDef)> + '_ {
        self.core.attributes.iter().chain(self.common.iter()).map(|a| (Namespace::Core, a)).chain(
            self.extensions.iter().flat_map(|e| {
                let urn = static_id(e.schema);
                e.schema.attributes.iter().map(move |a| (Namespace::Extension(urn), a))
            }),
        )
    }

    /// The schema URNs of this resource type: core first.
    pub fn schema_urns(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(static_id(self.core)).chain(self.extensions.iter().map(|e| static_id(e.schema)))
    }
}

fn static_id(schema: &'static Schema) -> &'static str {
    schema.id.as_str()
}

/// Split a leading schema URN (one this resource type knows) off an attribute path.
/// `urn:...:enterprise:2.0:User:manager.value` gives `(Some(urn), "manager.value")`.
fn split_urn<'p>(path: &'p str, rt: &ResourceType) -> (Option<&'p str>, &'p str) {
    if !path.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        return (None, path);
    }
    for urn in rt.schema_urns() {
        if path.len() > urn.len() + 1
            && path.is_char_boundary(urn.len())
            && path[..urn.len()].eq_ignore_ascii_case(urn)
            && path.as_bytes()[urn.len()] == b':'
        {
            return (Some(&path[..urn.len()]), &path[urn.len() + 1..]);
        }
    }
    match path.rfind(':') {
        Some(i) => (Some(&path[..i]), &path[i + 1..]),
        None => (None, path),
    }
}

/// Every schema and resource type this server knows. Built once from the compiled-in documents.
#[derive(Debug)]
pub struct Registry {
    pub user: ResourceType,
    pub group: ResourceType,
}

impl Registry {
    /// The schemas served by `/Schemas`.
    pub fn schemas(&self) -> impl Iterator<Item = &'static Schema> {
        let s = schemas();
        [&s.user, &s.group, &s.enterprise].into_iter()
    }

    pub fn schema(&self, id: &str) -> Option<&'static Schema> {
        self.schemas().find(|s| s.id.eq_ignore_ascii_case(id))
    }

    pub fn resource_types(&self) -> [&ResourceType; 2] {
        [&self.user, &self.group]
    }
}

struct Schemas {
    user: Schema,
    group: Schema,
    enterprise: Schema,
    common: Vec<AttributeDef>,
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| Schemas {
        user: Schema::parse(USER_SCHEMA_DOC),
        group: Schema::parse(GROUP_SCHEMA_DOC),
        enterprise: Schema::parse(ENTERPRISE_SCHEMA_DOC),
        common: common_attributes(),
    })
}

/// The process-wide registry (immutable protocol constants, not configuration).
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let s = schemas();
        Registry {
            user: ResourceType {
                kind: ResourceKind::User,
                description: "User Account",
                core: &s.user,
                extensions: vec![Extension { schema: &s.enterprise, required: false }],
                common: &s.common,
            },
            group: ResourceType {
                kind: ResourceKind::Group,
                description: "Group",
                core: &s.group,
                extensions: Vec::new(),
                common: &s.common,
            },
        }
    })
}

/// RFC 7643 §3.1 common attributes.
fn common_attributes() -> Vec<AttributeDef> {
    use AttrType::*;
    use Mutability::*;
    let mut meta = AttributeDef::simple("meta", Complex, false, ReadOnly, Returned::Default);
    meta.sub_attributes = vec![
        AttributeDef::simple("resourceType", String, true, ReadOnly, Returned::Default),
        AttributeDef::simple("created", DateTime, false, ReadOnly, Returned::Default),
        AttributeDef::simple("lastModified", DateTime, false, ReadOnly, Returned::Default),
        AttributeDef::simple("location", Reference, true, ReadOnly, Returned::Default),
        AttributeDef::simple("version", String, true, ReadOnly, Returned::Default),
    ];
    vec![
        AttributeDef::simple("id", String, true, ReadOnly, Returned::Always),
        AttributeDef::simple("externalId", String, true, ReadWrite, Returned::Default),
        meta,
    ]
}

/// Find a member of a JSON object by attribute name, case-insensitively (RFC 7643 §2.1).
/// An exact match wins, so canonical documents cost one hash lookup.
pub fn get_ci<'m>(map: &'m Map<String, Value>, name: &str) -> Option<(&'m String, &'m Value)> {
    map.get_key_value(name).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
}

/// The key under which `name` is stored in `map`, case-insensitively.
pub fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
    get_ci(map, name).map(|(k, _)| k.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_load_and_phone_types_include_eightbyeight() {
        let user = &registry().user;
        let phones = user.core_attribute("PHONENUMBERS").map(|a| a.sub("type").map(|t| t.canonical_values.clone()));
        assert!(phones.flatten().is_some_and(|v| v.iter().any(|t| t == "eightbyeight")));
        assert_eq!(registry().schemas().count(), 3);
    }

    #[test]
    fn resolves_paths_case_insensitively_with_urns() {
        let user = &registry().user;
        let r = user.resolve(None, "name", Some("GIVENNAME")).map(|r| r.display());
        assert_eq!(r.as_deref(), Some("name.givenName"));
        let r = user.resolve(Some(ENTERPRISE_USER_URN), "manager", Some("value")).map(|r| r.display());
        assert_eq!(r.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"));
        let r = user.resolve(Some(USER_URN), "userName", None).map(|r| r.namespace);
        assert_eq!(r, Some(Namespace::Core));
        assert!(user.resolve(None, "meta", Some("lastModified")).is_some());
        // An unqualified extension attribute resolves when only one extension defines it.
        let r = user.resolve(None, "employeeNumber", None).map(|r| r.namespace);
        assert_eq!(r, Some(Namespace::Extension(ENTERPRISE_USER_URN)));
        assert!(user.resolve(None, "nosuch", None).is_none());
        assert!(user.resolve(None, "name", Some("nosuch")).is_none());
    }

    #[test]
    fn resolves_text_paths_and_whole_extensions() {
        let user = &registry().user;
        assert!(matches!(user.resolve_text(ENTERPRISE_USER_URN), Some(Target::Extension(_))));
        let t = user.resolve_text("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department");
        assert!(matches!(t, Some(Target::Attribute(r)) if r.attr.name == "department"));
        let t = user.resolve_text("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName");
        assert!(matches!(t, Some(Target::Attribute(r)) if r.leaf().name == "familyName"));
    }
}
