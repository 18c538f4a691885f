//! Where the 8x8 number is read from in a stored SCIM user ([`NumberSource`]): a SCIM
//! attribute path, parsed and validated at startup. Pure.

use std::str::FromStr;

use serde_json::{Map, Value};

use scim::filter::{AttrExp, AttrPath, CompareOp, ValFilter, is_primary, matches_element};
use scim::patch::{AttrName, PatchNamespace, PatchTarget, resolve_target};
use scim::schema::{AttrType, ResourceKind, get_ci};

use super::*;

/// Where the 8x8 number is read from in the stored SCIM user: a SCIM attribute path, parsed
/// with the project's PATCH-path parser (`scim::patch::resolve_target`, over
/// `scim::filter::parse_path`) and validated at startup.
///
/// Examples: `phoneNumbers[type eq "eightbyeight"].value` (the default),
/// `phoneNumbers[type eq "work"].value` (for IdPs that cannot emit the type `eightbyeight`),
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`, or a custom
/// extension attribute `urn:ietf:params:scim:schemas:extension:acme:2.0:User:eightByEightNumber`.
/// When a filter matches several elements the `primary` one wins, else the first.
#[derive(Debug, Clone)]
pub struct NumberSource {
    pub(super) text: String,
    pub(super) target: PatchTarget,
}

impl NumberSource {
    pub const DEFAULT: &'static str = r#"phoneNumbers[type eq "eightbyeight"].value"#;

    /// The path as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the path selects an element of the core `phoneNumbers`: that element is the 8x8
    /// number and is not sent a second time under its own type.
    pub(super) fn selects_phone_element(&self) -> bool {
        self.target.namespace == PatchNamespace::Core
            && self.target.filter.is_some()
            && self.target.attr.as_ref().is_some_and(|a| a.name == "phoneNumbers")
    }

    /// The top-level key of the document the path reads under, when it is an extension we do
    /// not model (so that key is not reported as dropped).
    pub(super) fn unmodelled_urn(&self) -> Option<&str> {
        match &self.target.namespace {
            PatchNamespace::Unmodelled(urn) => Some(urn),
            _ => None,
        }
    }

    /// The value at this path in `user`, and the index of the `phoneNumbers` element it came
    /// from when [`Self::selects_phone_element`].
    pub(super) fn select<'d>(&self, user: &'d Map<String, Value>) -> Option<(&'d Value, Option<usize>)> {
        let attr = self.target.attr.as_ref()?;
        let container = match &self.target.namespace {
            PatchNamespace::Core => Some(user),
            PatchNamespace::Extension(urn) => object_member(user, urn),
            PatchNamespace::Unmodelled(urn) => object_member(user, urn),
        };
        let value = container
            .and_then(|c| get_ci(c, &attr.name))
            .map(|(_, v)| v)
            .or_else(|| quirk_flattened_unmodelled_extension(user, &self.target.namespace, &attr.name))?;
        let Some(filter) = &self.target.filter else {
            return match &self.target.sub {
                None => Some((value, None)),
                Some(sub) => value.as_object().and_then(|o| get_ci(o, &sub.name)).map(|(_, v)| (v, None)),
            };
        };
        let items = value.as_array()?;
        let matching: Vec<(usize, &Value)> =
            items.iter().enumerate().filter(|(_, e)| matches_element(attr.def, filter, e)).collect();
        let (index, element) = matching.iter().find(|(_, e)| is_primary(e)).or_else(|| matching.first()).copied()?;
        let sub = self.target.sub.as_ref().map_or("value", |s| s.name.as_str());
        let leaf = match element {
            Value::Object(o) => get_ci(o, sub).map(|(_, v)| v)?,
            scalar if sub.eq_ignore_ascii_case("value") => scalar,
            _ => return None,
        };
        Some((leaf, self.selects_phone_element().then_some(index)))
    }
}

impl Default for NumberSource {
    /// `phoneNumbers[type eq "eightbyeight"].value`, built without parsing (so without a
    /// fallible step); a test checks it equals the parsed [`NumberSource::DEFAULT`].
    fn default() -> Self {
        let phones = ResourceKind::User.resource_type().core_attribute("phoneNumbers");
        let filter =
            ValFilter::Attr(AttrExp::Comparison(AttrPath::with_name("type"), CompareOp::Eq, "eightbyeight".into()));
        NumberSource {
            text: Self::DEFAULT.to_string(),
            target: PatchTarget {
                namespace: PatchNamespace::Core,
                attr: Some(AttrName { name: "phoneNumbers".into(), def: phones }),
                filter: Some(filter),
                sub: Some(AttrName { name: "value".into(), def: phones.and_then(|p| p.sub("value")) }),
                text: Self::DEFAULT.to_string(),
            },
        }
    }
}

impl FromStr for NumberSource {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let text = s.trim();
        if text.is_empty() {
            return Err(ConfigError(format!("the 8x8 number source is empty; the default is `{}`", Self::DEFAULT)));
        }
        let bad = |why: String| ConfigError(format!("8x8 number source `{text}`: {why}"));
        let target = resolve_target(ResourceKind::User.resource_type(), text).map_err(|e| {
            bad(format!(
                "{}. Expected a SCIM attribute path such as `{}`, `phoneNumbers[type eq \"work\"].value` or, for a \
                 custom attribute, `urn:ietf:params:scim:schemas:extension:acme:2.0:User:eightByEightNumber`",
                e.detail,
                Self::DEFAULT
            ))
        })?;
        let Some(attr) = target.attr.as_ref() else {
            return Err(bad(format!(
                "names a whole extension; name one of its attributes, e.g. `{text}:employeeNumber`"
            )));
        };
        if target.filter.is_none() && attr.def.is_some_and(|d| d.multi_valued) {
            return Err(bad(format!(
                "`{}` is multi-valued: select one element with a filter, e.g. `phoneNumbers[type eq \"work\"].value`",
                attr.name
            )));
        }
        let leaf = match (&target.filter, &target.sub, attr.def) {
            (_, Some(sub), _) => sub.def,
            (Some(_), None, Some(def)) => match def.sub("value") {
                Some(v) => Some(v),
                None => return Err(bad(format!("name the sub-attribute to read, e.g. `{text}.value`"))),
            },
            (Some(_), None, None) => None,
            (None, None, def) => def,
        };
        if let Some(def) = leaf {
            if def.is_complex() {
                return Err(bad(format!("`{}` is complex: name a sub-attribute, e.g. `{text}.value`", def.name)));
            }
            if !matches!(def.kind, AttrType::String | AttrType::Reference) {
                return Err(bad(format!("`{}` is not a string attribute; a phone number is a string", def.name)));
            }
        }
        Ok(NumberSource { text: text.to_string(), target })
    }
}
