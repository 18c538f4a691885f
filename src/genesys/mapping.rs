//! From a stored SCIM user or group to the Genesys Cloud request (pure: values in, values out).
//!
//! Owns: the SCIM → Genesys attribute mapping in both API modes ([`ApiMode`]) — Genesys's SCIM v2
//! API (`/api/v2/scim/v2/users`, the default) and the Platform API (`/api/v2/users`); where the 8x8
//! number comes from ([`NumberSource`]); phone-number normalisation to E.164 or an RFC 3966 tel URI
//! ([`normalise_number`]); and the group membership PATCH ([`map_group_membership`]).
//! `docs/genesys-mapping.md` has the mapping table, what is dropped and why, and what is
//! unverified. Genesys facts come from `/work/shared/genesys/FACTS.md`, cited as FACTS §n.
//!
//! The rule the bridge exists for: the user's 8x8 number ends up as the Genesys *Other Phone*
//! (`UserProfile.contactInfo.[0].phone_other.[0].value.number`): SCIM phone type `eightbyeight`,
//! Platform contact `{mediaType: PHONE, type: OTHER}` (FACTS §0.2–0.3, §2.2). Genesys puts `other`,
//! `eightbyeight`, `microsoftteams`, `zoomphone` and `ringcentral` all into that one field (FACTS
//! §1.4–1.5), so at most one phone of those types is sent: the 8x8 one.
//!
//! Flow for the caller (the outbox): [`map_user`] once per change gives a [`MappedUser`] (the
//! desired Genesys state, or a per-user [`MappingError`]); then, by mode, [`scim_create_body`] /
//! [`scim_patch_body`], or [`platform_create_body`] / [`platform_state_body`] /
//! [`platform_patch_body`] (the last two read the user as Genesys has it, for `version`).
//!
//! Pure: no IO, no clock, no logging. Errors and notes never hold a phone number or an e-mail
//! address (STYLE.md, Telemetry): they say what is wrong and name the user by the bridge's `id`.
//!
//! Must not import: actix, diesel, reqwest, tokio, `crate::store`, `crate::http`, `crate::cli`.
//! Documents are read through `crate::scim` only (path parser, value filters, schema).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;

use serde_json::{Map, Value, json};

use crate::scim::filter::{AttrExp, AttrPath, CompareOp, ValFilter, as_bool_lenient, is_primary, matches_element};
use crate::scim::patch::{AttrName, PatchNamespace, PatchTarget, resolve_target};
use crate::scim::schema::{AttrType, ENTERPRISE_USER_URN, PATCH_OP_URN, ResourceKind, USER_URN, get_ci};

// ---------------------------------------------------------------------------------------------
// Configuration (parsed and validated at startup)
// ---------------------------------------------------------------------------------------------

/// A configuration value that cannot be used; the message says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

/// Which Genesys API users are written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiMode {
    /// Genesys's SCIM v2 API, `/api/v2/scim/v2/users` (FACTS §1; the recommendation of FACTS §2.5).
    #[default]
    Scim,
    /// The Platform API, `/api/v2/users` (FACTS §2.1): the 8x8 number is the PHONE/OTHER contact.
    Platform,
}

impl ApiMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiMode::Scim => "scim",
            ApiMode::Platform => "platform",
        }
    }
}

impl fmt::Display for ApiMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiMode {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim() {
            t if t.eq_ignore_ascii_case("scim") => Ok(ApiMode::Scim),
            t if t.eq_ignore_ascii_case("platform") => Ok(ApiMode::Platform),
            t => Err(ConfigError(format!(
                "unknown Genesys API mode `{t}`: use `scim` (Genesys's SCIM v2 API, the default) or `platform` \
                 (the Platform users API)"
            ))),
        }
    }
}

/// The numbering plan of a country, as far as normalising a national number needs it.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    iso: &'static str,
    calling_code: &'static str,
    /// Dialled before a national number and not part of the E.164 number (`0` in the UK).
    trunk_prefix: Option<&'static str>,
    /// Dialled before an international number (`00`, `011` in North America).
    international_prefix: &'static str,
    /// North American Numbering Plan: ten national digits, area code not starting with 0 or 1.
    nanp: bool,
}

impl Plan {
    const fn nanp(iso: &'static str) -> Plan {
        Plan { iso, calling_code: "1", trunk_prefix: Some("1"), international_prefix: "011", nanp: true }
    }

    const fn new(iso: &'static str, calling_code: &'static str, trunk_prefix: Option<&'static str>) -> Plan {
        Plan { iso, calling_code, trunk_prefix, international_prefix: "00", nanp: false }
    }

    const fn with_international_prefix(mut self, prefix: &'static str) -> Plan {
        self.international_prefix = prefix;
        self
    }
}

/// The countries whose national numbers can be normalised. A small table on purpose (no
/// libphonenumber here): trunk and international prefixes from the ITU national numbering plans.
/// Italy keeps its leading 0 (no trunk prefix); Norway, Denmark, Spain, Portugal, Poland, the Czech
/// Republic, Luxembourg, Singapore, Hong Kong and Mexico have none.
static PLANS: [Plan; 32] = [
    Plan::nanp("US"),
    Plan::nanp("CA"),
    Plan::new("GB", "44", Some("0")),
    Plan::new("IE", "353", Some("0")),
    Plan::new("DE", "49", Some("0")),
    Plan::new("FR", "33", Some("0")),
    Plan::new("NL", "31", Some("0")),
    Plan::new("BE", "32", Some("0")),
    Plan::new("LU", "352", None),
    Plan::new("CH", "41", Some("0")),
    Plan::new("AT", "43", Some("0")),
    Plan::new("SE", "46", Some("0")),
    Plan::new("NO", "47", None),
    Plan::new("DK", "45", None),
    Plan::new("FI", "358", Some("0")),
    Plan::new("ES", "34", None),
    Plan::new("PT", "351", None),
    Plan::new("IT", "39", None),
    Plan::new("PL", "48", None),
    Plan::new("CZ", "420", None),
    Plan::new("AU", "61", Some("0")).with_international_prefix("0011"),
    Plan::new("NZ", "64", Some("0")),
    Plan::new("JP", "81", Some("0")).with_international_prefix("010"),
    Plan::new("IN", "91", Some("0")),
    Plan::new("SG", "65", None),
    Plan::new("HK", "852", None),
    Plan::new("ZA", "27", Some("0")),
    Plan::new("IL", "972", Some("0")),
    Plan::new("AE", "971", Some("0")),
    Plan::new("MX", "52", None),
    Plan::new("GR", "30", None),
    Plan::new("IS", "354", None),
];

/// The country whose national numbers are completed to E.164 (`"US"`: `(415) 555-0123` →
/// `+14155550123`). Parsed from an ISO 3166 alpha-2 code at startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country(&'static Plan);

impl Country {
    /// The ISO 3166 alpha-2 code, upper case.
    pub fn iso(self) -> &'static str {
        self.0.iso
    }

    /// The E.164 country calling code, without `+`.
    pub fn calling_code(self) -> &'static str {
        self.0.calling_code
    }
}

impl FromStr for Country {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let code = s.trim();
        PLANS.iter().find(|p| p.iso.eq_ignore_ascii_case(code)).map(Country).ok_or_else(|| {
            let known: Vec<&str> = PLANS.iter().map(|p| p.iso).collect();
            ConfigError(format!(
                "unsupported default country `{code}`: use one of {} (ISO 3166 alpha-2), or leave it unset and have \
                 the identity provider send international numbers (+ and country code)",
                known.join(", ")
            ))
        })
    }
}

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
    text: String,
    target: PatchTarget,
}

impl NumberSource {
    pub const DEFAULT: &'static str = r#"phoneNumbers[type eq "eightbyeight"].value"#;

    /// The path as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the path selects an element of the core `phoneNumbers`: that element is the 8x8
    /// number and is not sent a second time under its own type.
    fn selects_phone_element(&self) -> bool {
        self.target.namespace == PatchNamespace::Core
            && self.target.filter.is_some()
            && self.target.attr.as_ref().is_some_and(|a| a.name == "phoneNumbers")
    }

    /// The top-level key of the document the path reads under, when it is an extension we do
    /// not model (so that key is not reported as dropped).
    fn unmodelled_urn(&self) -> Option<&str> {
        match &self.target.namespace {
            PatchNamespace::Unmodelled(urn) => Some(urn),
            _ => None,
        }
    }

    /// The value at this path in `user`, and the index of the `phoneNumbers` element it came
    /// from when [`Self::selects_phone_element`].
    fn select<'d>(&self, user: &'d Map<String, Value>) -> Option<(&'d Value, Option<usize>)> {
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

/// Everything the mapping is configured with. Build it at startup (each field parses from a
/// string with a fixable error) and pass it by reference.
#[derive(Debug, Clone, Default)]
pub struct MappingConfig {
    /// Which Genesys API to write to; the caller chooses the body functions by it.
    pub api: ApiMode,
    /// Where the 8x8 number comes from.
    pub number_source: NumberSource,
    /// Completes national numbers (`(415) 555-0123`) to E.164; None: numbers must be international.
    pub default_country: Option<Country>,
    /// Division name for users whose enterprise extension carries none; None: Genesys's default
    /// (the home division, FACTS §0.4 [unverified for SCIM create without division]).
    pub division: Option<String>,
}

/// Bridge id → Genesys user id, supplied by the caller (for `manager`, which Genesys wants as
/// its own user id). Implemented for the standard maps.
pub trait GenesysIds {
    fn genesys_id(&self, bridge_id: &str) -> Option<&str>;
}

impl<S: BuildHasher> GenesysIds for HashMap<String, String, S> {
    fn genesys_id(&self, bridge_id: &str) -> Option<&str> {
        self.get(bridge_id).map(String::as_str)
    }
}

impl GenesysIds for BTreeMap<String, String> {
    fn genesys_id(&self, bridge_id: &str) -> Option<&str> {
        self.get(bridge_id).map(String::as_str)
    }
}

// ---------------------------------------------------------------------------------------------
// The mapped user
// ---------------------------------------------------------------------------------------------

/// The phone types Genesys keeps, in the order they are sent. `EightByEight` is the Other Phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhoneKind {
    Work,
    Work2,
    Work3,
    Work4,
    Home,
    Mobile,
    /// The 8x8 number: SCIM type `eightbyeight`, Platform contact type `OTHER`.
    EightByEight,
}

impl PhoneKind {
    /// A SCIM type that passes through unchanged (not the UC/Other types, see [`is_other_phone_type`]).
    fn from_scim_type(t: &str) -> Option<PhoneKind> {
        Some(match t.to_ascii_lowercase().as_str() {
            "work" => PhoneKind::Work,
            "work2" => PhoneKind::Work2,
            "work3" => PhoneKind::Work3,
            "work4" => PhoneKind::Work4,
            "home" => PhoneKind::Home,
            "mobile" => PhoneKind::Mobile,
            _ => return None,
        })
    }

    /// `ScimPhoneNumber.type` (FACTS §1.3, §1.5).
    pub fn scim_type(self) -> &'static str {
        match self {
            PhoneKind::Work => "work",
            PhoneKind::Work2 => "work2",
            PhoneKind::Work3 => "work3",
            PhoneKind::Work4 => "work4",
            PhoneKind::Home => "home",
            PhoneKind::Mobile => "mobile",
            PhoneKind::EightByEight => "eightbyeight",
        }
    }

    /// `Contact.type` of the Platform API (FACTS §2.1, §1.4).
    pub fn platform_type(self) -> &'static str {
        match self {
            PhoneKind::Work => "WORK",
            PhoneKind::Work2 => "WORK2",
            PhoneKind::Work3 => "WORK3",
            PhoneKind::Work4 => "WORK4",
            PhoneKind::Home => "HOME",
            PhoneKind::Mobile => "MOBILE",
            PhoneKind::EightByEight => "OTHER",
        }
    }
}

/// SCIM phone types that Genesys stores in the single Other Phone field (FACTS §1.4–1.5),
/// including the swagger's `eighbyeight` typo of 2022–2025. Only the 8x8 number is sent there.
const OTHER_PHONE_TYPES: [&str; 6] =
    ["other", "eightbyeight", "eighbyeight", "microsoftteams", "zoomphone", "ringcentral"];

fn is_other_phone_type(t: &str) -> bool {
    OTHER_PHONE_TYPES.iter().any(|o| o.eq_ignore_ascii_case(t))
}

/// Platform contact types the bridge owns: replaced by the user's SCIM phones on every write.
const MANAGED_PLATFORM_TYPES: [&str; 7] = ["WORK", "WORK2", "WORK3", "WORK4", "HOME", "MOBILE", "OTHER"];

/// One phone to send: its Genesys type, the normalised number (E.164 or tel URI), whether primary.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone {
    pub kind: PhoneKind,
    pub number: String,
    pub primary: bool,
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Phone")
            .field("kind", &self.kind)
            .field("number", &"<redacted>")
            .field("primary", &self.primary)
            .finish()
    }
}

/// The user's manager, as Genesys needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// The SCIM user has no manager: cleared in Genesys.
    None,
    /// The manager's Genesys user id.
    Genesys(String),
    /// The SCIM user names a manager that has no Genesys user (yet): left as it is in Genesys.
    Unresolved,
}

/// What the bridge wants the Genesys user to be; built only by [`map_user`]. Mode-neutral: the
/// body functions render it for the SCIM or the Platform API.
#[derive(Clone, PartialEq, Eq)]
pub struct MappedUser {
    bridge_id: Option<String>,
    user_name: String,
    display_name: String,
    active: bool,
    title: Option<String>,
    external_id: Option<String>,
    work_email: Option<WorkEmail>,
    phones: Vec<Phone>,
    division: Option<String>,
    department: Option<String>,
    manager: Manager,
    employee_number: Option<String>,
    notes: Vec<MappingNote>,
}

#[derive(Clone, PartialEq, Eq)]
struct WorkEmail {
    value: String,
    primary: bool,
}

impl MappedUser {
    /// The bridge's `id` of the user (None only for documents that were never stored).
    pub fn bridge_id(&self) -> Option<&str> {
        self.bridge_id.as_deref()
    }

    /// The Genesys login e-mail (SCIM `userName`). Do not log it.
    pub fn user_name(&self) -> &str {
        &self.user_name
    }

    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    pub fn active(&self) -> bool {
        self.active
    }

    /// The IdP's `externalId`. Sent as SCIM `externalId`; in Platform mode it is not in the
    /// user body (Genesys keeps it through `/api/v2/users/{id}/externalid`, FACTS §2.3).
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    pub fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }

    /// The division *name*. Platform mode needs its id: resolve it before [`platform_create_body`].
    pub fn division(&self) -> Option<&str> {
        self.division.as_deref()
    }

    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// Every phone to send, in [`PhoneKind`] order; the 8x8 number, if any, is last.
    pub fn phones(&self) -> &[Phone] {
        &self.phones
    }

    /// The normalised 8x8 number, if the user has one.
    pub fn eight_by_eight_number(&self) -> Option<&str> {
        self.phones.iter().find(|p| p.kind == PhoneKind::EightByEight).map(|p| p.number.as_str())
    }

    /// What was dropped or derived, for the caller to log (they hold no phone numbers or e-mails).
    pub fn notes(&self) -> &[MappingNote] {
        &self.notes
    }
}

impl fmt::Debug for MappedUser {
    /// Redacts the e-mails, names and numbers (STYLE.md, Telemetry).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedUser")
            .field("bridge_id", &self.bridge_id)
            .field("user_name", &"<redacted>")
            .field("display_name", &"<redacted>")
            .field("active", &self.active)
            .field("work_email", &self.work_email.as_ref().map(|_| "<redacted>"))
            .field("phones", &self.phones)
            .field("division", &self.division)
            .field("department", &self.department)
            .field("manager", &self.manager)
            .field("notes", &self.notes)
            .finish_non_exhaustive()
    }
}

/// Where a missing `displayName` was taken from (Genesys requires one, FACTS §0.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayNameSource {
    NameFormatted,
    GivenAndFamilyName,
    UserName,
}

/// Why a phone of the SCIM user is not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneDrop {
    /// An Other-Phone type (`other`, a UC type, or an `eightbyeight` that is not the configured
    /// source): it would overwrite the 8x8 number.
    OtherPhoneReserved,
    /// A type Genesys does not have (`fax`, `pager`, none).
    NotAGenesysType,
    /// A second phone of a type already sent (Genesys keeps one per type).
    Duplicate,
    /// The number cannot be normalised.
    Unusable(NumberError),
}

/// Why an e-mail of the SCIM user is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailDrop {
    /// Genesys takes `work` and `other`, and `other` is its own copy of `userName` (FACTS §1.3–1.4).
    NotWork,
    Duplicate,
    NoValue,
}

/// Why an attribute of the SCIM user is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotForwarded {
    /// Genesys's SCIM user has no such attribute (FACTS §1.3: `name`, `nickName`, `addresses`,
    /// `locale`, `timezone`, `userType`, `ims`, `photos`, `x509Certificates`, ...).
    NotInGenesys,
    /// Genesys has it, and keeps its own value: `roles` (Genesys role names, assigned in
    /// Genesys), the Genesys extension (routing skills, languages, external ids), `dateHire`.
    KeptByGenesys,
}

/// Something the mapping dropped or derived for one user: not an error, worth a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingNote {
    DisplayNameFrom(DisplayNameSource),
    /// The number source is empty for this user: no Other Phone is sent (and an existing one is
    /// removed, since the bridge owns that field).
    NoEightByEightNumber,
    PhoneDropped {
        phone_type: Option<String>,
        reason: PhoneDrop,
    },
    EmailDropped {
        email_type: Option<String>,
        reason: EmailDrop,
    },
    /// The manager has no Genesys user yet; the next sync after it is created sends it.
    ManagerUnresolved,
    /// An attribute of the SCIM user that is not sent; see `docs/genesys-mapping.md`.
    NotForwarded {
        attribute: String,
        reason: NotForwarded,
    },
}

impl fmt::Display for MappingNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let typed = |t: &Option<String>| t.as_deref().map_or("without type".to_string(), |t| format!("of type `{t}`"));
        match self {
            MappingNote::DisplayNameFrom(source) => {
                let from = match source {
                    DisplayNameSource::NameFormatted => "name.formatted",
                    DisplayNameSource::GivenAndFamilyName => "name.givenName and name.familyName",
                    DisplayNameSource::UserName => "userName",
                };
                write!(f, "displayName is missing; Genesys requires one, so it is taken from {from}")
            }
            MappingNote::NoEightByEightNumber => {
                f.write_str("no 8x8 number at the configured source: no Other Phone is sent")
            }
            MappingNote::PhoneDropped { phone_type, reason } => {
                write!(f, "phone {} not sent: ", typed(phone_type))?;
                match reason {
                    PhoneDrop::OtherPhoneReserved => {
                        f.write_str("Genesys stores it in the Other Phone field, which holds only the 8x8 number")
                    }
                    PhoneDrop::NotAGenesysType => f.write_str(
                        "Genesys takes the types work, work2, work3, work4, home, mobile (and the 8x8 number)",
                    ),
                    PhoneDrop::Duplicate => f.write_str("Genesys keeps one phone per type and an earlier one was sent"),
                    PhoneDrop::Unusable(problem) => write!(f, "the number {problem}"),
                }
            }
            MappingNote::EmailDropped { email_type, reason } => {
                write!(f, "e-mail {} not sent: ", typed(email_type))?;
                f.write_str(match reason {
                    EmailDrop::NotWork => "Genesys takes the work e-mail only (its `other` e-mail is the userName)",
                    EmailDrop::Duplicate => "Genesys keeps one work e-mail and an earlier one was sent",
                    EmailDrop::NoValue => "it has no value",
                })
            }
            MappingNote::ManagerUnresolved => f.write_str(
                "manager not sent: the manager has no Genesys user yet (sent once it has; Genesys's current manager is \
                 left as it is)",
            ),
            MappingNote::NotForwarded { attribute, reason: NotForwarded::NotInGenesys } => {
                write!(f, "`{attribute}` not sent: Genesys's user has no such attribute")
            }
            MappingNote::NotForwarded { attribute, reason: NotForwarded::KeptByGenesys } => {
                write!(f, "`{attribute}` not sent: the bridge leaves it as Genesys has it")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// The resource a [`MappingError`] is about, by the bridge's id (never by name or e-mail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(Option<String>),
    Group(Option<String>),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, id) = match self {
            Subject::User(id) => ("user", id),
            Subject::Group(id) => ("group", id),
        };
        match id {
            Some(id) => write!(f, "{kind} {id}"),
            None => write!(f, "{kind} (without id)"),
        }
    }
}

/// A user or group that cannot be sent to Genesys as it is. Per resource and actionable: fixing
/// the data at the identity provider (or the configuration) fixes it; retrying does not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{subject}: {kind}")]
pub struct MappingError {
    pub subject: Subject,
    pub kind: MappingErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingErrorKind {
    #[error("`userName` is missing; Genesys requires it (it is the user's Genesys login e-mail)")]
    MissingUserName,
    #[error("`userName` is not an e-mail address; Genesys uses it as the user's login e-mail (FACTS §1.3)")]
    UserNameNotEmail,
    #[error("`{attribute}` must be {expected}")]
    WrongType { attribute: String, expected: &'static str },
    #[error("the 8x8 number at `{path}` is neither a string nor a whole number")]
    NumberSourceNotText { path: String },
    #[error("the 8x8 number at `{path}` {problem}")]
    EightByEightNumber { path: String, problem: NumberError },
    #[error("the Genesys user has no integer `version`; PATCH needs the user as GET /api/v2/users/{{id}} returns it")]
    CurrentWithoutVersion,
    #[error("`displayName` is missing; Genesys matches groups by it (FACTS §1.11)")]
    GroupWithoutDisplayName,
}

/// Why a phone number cannot be normalised. Never holds the number: it says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("is empty")]
    Empty,
    #[error("is longer than {max} characters")]
    TooManyCharacters { max: usize },
    #[error(
        "contains letters; a number may hold only digits, `+`, spaces, `-`, `.`, `(`, `)`, `/` and an extension such \
         as `x42`, `ext. 42` or `;ext=42` (vanity numbers cannot be dialled)"
    )]
    Letters,
    #[error("contains the character {0:?}, which a phone number cannot hold")]
    UnexpectedCharacter(char),
    #[error("has a `+` that does not start the number")]
    MisplacedPlus,
    #[error("has no digits")]
    NoDigits,
    #[error("starts its country code with 0, which no country code does")]
    CountryCodeZero,
    #[error("has {digits} digits; an international number has at least 7, country code included")]
    TooShort { digits: usize },
    #[error("has {digits} digits; E.164 allows at most 15, country code included")]
    TooLong { digits: usize },
    #[error("is a +1 (North American) number with {digits} digits after the country code; it needs 10")]
    NanpLength { digits: usize },
    #[error("has a North American area code starting with 0 or 1, which no area code does")]
    NanpAreaCode,
    #[error(
        "is in national format (no `+` and country code) and no default country is configured: have the identity \
         provider send international numbers, or configure the default country"
    )]
    NationalWithoutCountry,
    #[error("is a national {country} number with {digits} digits; {country} numbers have 10 (area code included)")]
    NationalLength { country: &'static str, digits: usize },
    #[error("has an extension that is not 1 to 10 digits")]
    BadExtension,
}

// ---------------------------------------------------------------------------------------------
// map_user
// ---------------------------------------------------------------------------------------------

/// Map a stored SCIM user (the canonical document of `docs/architecture.md`) to what Genesys
/// should hold. `ids` resolves the manager's bridge id to its Genesys user id.
///
/// Errors (the user is not sent): no `userName` or one that is not an e-mail, an 8x8 number that
/// cannot be normalised, a value of the wrong JSON type. Anything else that Genesys cannot take
/// is dropped and reported in [`MappedUser::notes`].
pub fn map_user<I: GenesysIds + ?Sized>(
    user: &Map<String, Value>,
    cfg: &MappingConfig,
    ids: &I,
) -> Result<MappedUser, MappingError> {
    let bridge_id = get_ci(user, "id").and_then(|(_, v)| v.as_str()).map(str::to_string);
    map_user_fields(user, cfg, ids, bridge_id.clone())
        .map_err(|kind| MappingError { subject: Subject::User(bridge_id), kind })
}

fn map_user_fields<I: GenesysIds + ?Sized>(
    user: &Map<String, Value>,
    cfg: &MappingConfig,
    ids: &I,
    bridge_id: Option<String>,
) -> Result<MappedUser, MappingErrorKind> {
    let mut notes = Vec::new();
    let user_name = text(user, "userName")?.ok_or(MappingErrorKind::MissingUserName)?;
    if !looks_like_email(&user_name) {
        return Err(MappingErrorKind::UserNameNotEmail);
    }
    let display_name = match text(user, "displayName")? {
        Some(d) => d,
        None => {
            let (name, source) = fallback_display_name(user, &user_name)?;
            notes.push(MappingNote::DisplayNameFrom(source));
            name
        }
    };
    let active = match get_ci(user, "active").map(|(_, v)| v) {
        None | Some(Value::Null) => true,
        Some(v) => as_bool_lenient(v)
            .ok_or(MappingErrorKind::WrongType { attribute: "active".into(), expected: "a boolean" })?,
    };
    let work_email = map_emails(user, &mut notes)?;
    let phones = map_phones(user, cfg, &mut notes)?;

    let enterprise = object(user, ENTERPRISE_USER_URN)?;
    let ent_text = |name: &str| match enterprise {
        Some(e) => text(e, name).map_err(|k| qualify(k, ENTERPRISE_USER_URN)),
        None => Ok(None),
    };
    let default_division = cfg.division.as_deref().map(str::trim).filter(|d| !d.is_empty()).map(str::to_string);
    let division = ent_text("division")?.or(default_division);
    let department = ent_text("department")?;
    let employee_number = ent_text("employeeNumber")?;
    let manager = map_manager(enterprise, ids, &mut notes)?;

    note_unforwarded(user, enterprise, cfg, &mut notes);
    Ok(MappedUser {
        bridge_id,
        user_name,
        display_name,
        active,
        title: text(user, "title")?,
        external_id: text(user, "externalId")?,
        work_email,
        phones,
        division,
        department,
        manager,
        employee_number,
        notes,
    })
}

/// Genesys requires `displayName` (FACTS §0.4); IdPs do not always send it. Falls back to
/// `name.formatted`, then `name.givenName` + `name.familyName` (either alone), then `userName`.
fn fallback_display_name(
    user: &Map<String, Value>,
    user_name: &str,
) -> Result<(String, DisplayNameSource), MappingErrorKind> {
    if let Some(name) = object(user, "name")? {
        let part = |sub: &str| text(name, sub).map_err(|k| qualify(k, "name"));
        if let Some(formatted) = part("formatted")? {
            return Ok((formatted, DisplayNameSource::NameFormatted));
        }
        let joined: Vec<String> = [part("givenName")?, part("familyName")?].into_iter().flatten().collect();
        if !joined.is_empty() {
            return Ok((joined.join(" "), DisplayNameSource::GivenAndFamilyName));
        }
    }
    Ok((user_name.to_string(), DisplayNameSource::UserName))
}

/// The one `work` e-mail (primary first). Genesys's e-mail types are `work` and `other`, and
/// `other` is Genesys's read-only copy of `userName` (FACTS §1.3–1.4), so only `work` is sent.
fn map_emails(user: &Map<String, Value>, notes: &mut Vec<MappingNote>) -> Result<Option<WorkEmail>, MappingErrorKind> {
    let mut chosen: Option<WorkEmail> = None;
    for (_, element) in primary_first(array(user, "emails")?) {
        let Some(obj) = element.as_object() else {
            notes.push(MappingNote::EmailDropped { email_type: None, reason: EmailDrop::NoValue });
            continue;
        };
        let email_type = text(obj, "type").map_err(|k| qualify(k, "emails"))?;
        let value = text(obj, "value").map_err(|k| qualify(k, "emails"))?;
        let is_work = email_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("work"));
        let reason = match value {
            Some(value) if is_work && chosen.is_none() => {
                chosen = Some(WorkEmail { value, primary: is_primary(element) });
                continue;
            }
            None => EmailDrop::NoValue,
            Some(_) if is_work => EmailDrop::Duplicate,
            Some(_) => EmailDrop::NotWork,
        };
        notes.push(MappingNote::EmailDropped { email_type: email_type.as_deref().map(for_note), reason });
    }
    Ok(chosen)
}

/// The phone set: the 8x8 number from the configured source (an error if it cannot be
/// normalised: it is the point of the bridge), plus the phones of the types Genesys keeps apart
/// from the Other Phone, normalised (dropped with a note when they cannot be). No Other-Phone
/// type other than the 8x8 number is sent. When there is an 8x8 number it is the primary phone
/// ("The Genesys Cloud Other Phone field must be the user's primary phone", FACTS §1.5).
fn map_phones(
    user: &Map<String, Value>,
    cfg: &MappingConfig,
    notes: &mut Vec<MappingNote>,
) -> Result<Vec<Phone>, MappingErrorKind> {
    let source = &cfg.number_source;
    let (raw, consumed) = match source.select(user) {
        Some((value, index)) => (number_text(value, source)?, index),
        None => (None, None),
    };
    let eight =
        match raw {
            Some(raw) => Some(normalise_number(&raw, cfg.default_country).map_err(|problem| {
                MappingErrorKind::EightByEightNumber { path: source.as_str().to_string(), problem }
            })?),
            None => {
                notes.push(MappingNote::NoEightByEightNumber);
                None
            }
        };

    let mut phones: Vec<Phone> = Vec::new();
    for (index, element) in primary_first(array(user, "phoneNumbers")?) {
        if Some(index) == consumed {
            continue;
        }
        let (phone_type, value) = match element.as_object() {
            Some(obj) => (
                text(obj, "type").map_err(|k| qualify(k, "phoneNumbers"))?,
                get_ci(obj, "value").and_then(|(_, v)| v.as_str()).unwrap_or(""),
            ),
            None => (None, ""),
        };
        let dropped = |reason| MappingNote::PhoneDropped { phone_type: phone_type.as_deref().map(for_note), reason };
        let Some(kind) = phone_type.as_deref().and_then(PhoneKind::from_scim_type) else {
            let reason = match phone_type.as_deref() {
                Some(t) if is_other_phone_type(t) => PhoneDrop::OtherPhoneReserved,
                _ => PhoneDrop::NotAGenesysType,
            };
            notes.push(dropped(reason));
            continue;
        };
        if phones.iter().any(|p| p.kind == kind) {
            notes.push(dropped(PhoneDrop::Duplicate));
            continue;
        }
        match normalise_number(value, cfg.default_country) {
            Ok(number) => phones.push(Phone { kind, number, primary: is_primary(element) }),
            Err(problem) => notes.push(dropped(PhoneDrop::Unusable(problem))),
        }
    }
    phones.sort_by_key(|p| p.kind);
    if let Some(number) = eight {
        phones.iter_mut().for_each(|p| p.primary = false);
        phones.push(Phone { kind: PhoneKind::EightByEight, number, primary: true });
    }
    Ok(phones)
}

/// The value at the number source as text: a string, or (leniently, for extension attributes
/// typed as numbers) a whole number. Empty means absent.
fn number_text(value: &Value, source: &NumberSource) -> Result<Option<String>, MappingErrorKind> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Value::Number(n) if n.is_u64() => Ok(Some(n.to_string())),
        _ => Err(MappingErrorKind::NumberSourceNotText { path: source.as_str().to_string() }),
    }
}

/// `manager.value` is the manager's id in the bridge (RFC 7643 §4.3); Genesys wants its own user
/// id. Entra's plain-string manager has already become `{value}` in the store.
fn map_manager<I: GenesysIds + ?Sized>(
    enterprise: Option<&Map<String, Value>>,
    ids: &I,
    notes: &mut Vec<MappingNote>,
) -> Result<Manager, MappingErrorKind> {
    let wrong = || MappingErrorKind::WrongType {
        attribute: format!("{ENTERPRISE_USER_URN}:manager"),
        expected: "an object with a string `value`",
    };
    let bridge_id = match enterprise.and_then(|e| get_ci(e, "manager")).map(|(_, v)| v) {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => text(o, "value").map_err(|_| wrong())?,
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Some(_) => return Err(wrong()),
    };
    Ok(match bridge_id {
        None => Manager::None,
        Some(id) => match ids.genesys_id(&id) {
            Some(genesys_id) => Manager::Genesys(genesys_id.to_string()),
            None => {
                notes.push(MappingNote::ManagerUnresolved);
                Manager::Unresolved
            }
        },
    })
}

/// Attributes Genesys's SCIM user has and the mapping sends (FACTS §1.3).
const FORWARDED: [&str; 7] = ["userName", "displayName", "active", "title", "externalId", "emails", "phoneNumbers"];
/// Server-side bookkeeping, never sent: ids and meta are Genesys's own, `groups` is read-only,
/// `password` is never stored.
const BOOKKEEPING: [&str; 5] = ["schemas", "id", "meta", "groups", "password"];
const FORWARDED_ENTERPRISE: [&str; 4] = ["division", "department", "manager", "employeeNumber"];
/// Attributes Genesys has that the bridge does not send (see [`NotForwarded::KeptByGenesys`]).
const KEPT_BY_GENESYS: [&str; 2] = ["roles", GENESYS_USER_URN];
const KEPT_BY_GENESYS_ENTERPRISE: [&str; 1] = ["dateHire"];
/// Genesys's own user extension (FACTS §1.2).
const GENESYS_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User";

fn note_unforwarded(
    user: &Map<String, Value>,
    enterprise: Option<&Map<String, Value>>,
    cfg: &MappingConfig,
    notes: &mut Vec<MappingNote>,
) {
    let source_urn = cfg.number_source.unmodelled_urn();
    let is_source = |key: &str| {
        source_urn.is_some_and(|urn| {
            key.eq_ignore_ascii_case(urn)
                || (key.get(..urn.len()).is_some_and(|p| p.eq_ignore_ascii_case(urn))
                    && key[urn.len()..].starts_with(':'))
        })
    };
    for key in user.keys() {
        let listed = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(key));
        if listed(&FORWARDED) || listed(&BOOKKEEPING) || is_source(key) {
            continue;
        }
        if key.eq_ignore_ascii_case(ENTERPRISE_USER_URN) {
            for sub in enterprise.into_iter().flat_map(Map::keys) {
                if FORWARDED_ENTERPRISE.iter().any(|n| n.eq_ignore_ascii_case(sub)) {
                    continue;
                }
                let kept = KEPT_BY_GENESYS_ENTERPRISE.iter().any(|n| n.eq_ignore_ascii_case(sub));
                notes.push(MappingNote::NotForwarded {
                    attribute: format!("{ENTERPRISE_USER_URN}:{}", for_note(sub)),
                    reason: if kept { NotForwarded::KeptByGenesys } else { NotForwarded::NotInGenesys },
                });
            }
            continue;
        }
        let reason = if listed(&KEPT_BY_GENESYS) { NotForwarded::KeptByGenesys } else { NotForwarded::NotInGenesys };
        notes.push(MappingNote::NotForwarded { attribute: for_note(key), reason });
    }
}

// ---------------------------------------------------------------------------------------------
// SCIM mode bodies (FACTS §1.3, §7.1)
// ---------------------------------------------------------------------------------------------

/// The `POST /api/v2/scim/v2/users` body (ScimV2CreateUser; shape of FACTS §7.1). No `password`
/// (Genesys generates one; users sign in through their IdP), no `roles` and no Genesys extension
/// (Genesys keeps those; see `docs/genesys-mapping.md`).
pub fn scim_create_body(m: &MappedUser) -> Value {
    let enterprise = scim_enterprise(m);
    let mut schemas = vec![json!(USER_URN)];
    if !enterprise.is_empty() {
        schemas.push(json!(ENTERPRISE_USER_URN));
    }
    let mut body = Map::new();
    body.insert("schemas".into(), Value::Array(schemas));
    body.insert("userName".into(), json!(m.user_name));
    body.insert("displayName".into(), json!(m.display_name));
    body.insert("active".into(), json!(m.active));
    if let Some(title) = &m.title {
        body.insert("title".into(), json!(title));
    }
    if let Some(external_id) = &m.external_id {
        body.insert("externalId".into(), json!(external_id));
    }
    if let Some(email) = &m.work_email {
        let mut e = Map::new();
        e.insert("type".into(), json!("work"));
        e.insert("value".into(), json!(email.value));
        if email.primary {
            e.insert("primary".into(), json!(true));
        }
        body.insert("emails".into(), json!([e]));
    }
    if !m.phones.is_empty() {
        body.insert("phoneNumbers".into(), scim_phones(m));
    }
    if !enterprise.is_empty() {
        body.insert(ENTERPRISE_USER_URN.into(), Value::Object(enterprise));
    }
    Value::Object(body)
}

/// The path that updates the work e-mail without touching Genesys's read-only `other` e-mail.
const WORK_EMAIL_PATH: &str = r#"emails[type eq "work"].value"#;

/// The bridge id of a stored user's manager (`enterprise.manager.value`), which the caller
/// resolves to a Genesys id for [`map_user`].
pub fn manager_bridge_id(doc: &Map<String, Value>) -> Option<&str> {
    doc.get(ENTERPRISE_USER_URN)?.get("manager")?.get("value")?.as_str()
}

/// The SCIM PATCH that deactivates a Genesys user (a SCIM DELETE in `deactivate` mode).
pub fn scim_deactivate_body() -> Value {
    json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "replace", "path": "active", "value": false}]})
}

/// The `PATCH /api/v2/scim/v2/users/{id}` body that makes the Genesys user what `m` says: one
/// operation per attribute the bridge owns, in the forms Entra (Genesys's gallery IdP) sends
/// (FACTS §1.6, §7.2). A PATCH rather than a PUT because a PUT replaces the whole resource, and
/// would clear what Genesys keeps and the bridge does not send: `roles`, routing skills and
/// languages, external ids (FACTS §1.3). `If-Match` is optional for it (FACTS §1.1).
///
/// Owned attributes absent from `m` are removed (`title`, `externalId`, `phoneNumbers`,
/// department, manager, employee number), except: the work e-mail (a filtered remove that
/// matches nothing is RFC 7644 `noTarget`), the division (a user always has one), and a manager
/// that is not resolved yet (left as it is).
pub fn scim_patch_body(m: &MappedUser) -> Value {
    let replace = |path: &str, value: Value| json!({"op": "replace", "path": path, "value": value});
    let remove = |path: &str| json!({"op": "remove", "path": path});
    let set = |path: &str, value: Option<&String>| match value {
        Some(v) => replace(path, json!(v)),
        None => remove(path),
    };
    let ent = |attr: &str| format!("{ENTERPRISE_USER_URN}:{attr}");

    let mut ops = vec![
        replace("userName", json!(m.user_name)),
        replace("displayName", json!(m.display_name)),
        replace("active", json!(m.active)),
        set("title", m.title.as_ref()),
        set("externalId", m.external_id.as_ref()),
    ];
    if let Some(email) = &m.work_email {
        ops.push(replace(WORK_EMAIL_PATH, json!(email.value)));
    }
    ops.push(if m.phones.is_empty() { remove("phoneNumbers") } else { replace("phoneNumbers", scim_phones(m)) });
    if let Some(division) = &m.division {
        ops.push(replace(&ent("division"), json!(division)));
    }
    ops.push(set(&ent("department"), m.department.as_ref()));
    match &m.manager {
        Manager::Genesys(id) => ops.push(replace(&ent("manager"), json!({"value": id}))),
        Manager::None => ops.push(remove(&ent("manager"))),
        Manager::Unresolved => {}
    }
    ops.push(set(&ent("employeeNumber"), m.employee_number.as_ref()));
    json!({"schemas": [PATCH_OP_URN], "Operations": ops})
}

fn scim_phones(m: &MappedUser) -> Value {
    let phones = m.phones.iter().map(|p| {
        let mut e = Map::new();
        e.insert("type".into(), json!(p.kind.scim_type()));
        e.insert("value".into(), json!(p.number));
        if p.primary {
            e.insert("primary".into(), json!(true));
        }
        Value::Object(e)
    });
    Value::Array(phones.collect())
}

fn scim_enterprise(m: &MappedUser) -> Map<String, Value> {
    let mut e = Map::new();
    if let Some(division) = &m.division {
        e.insert("division".into(), json!(division));
    }
    if let Some(department) = &m.department {
        e.insert("department".into(), json!(department));
    }
    if let Manager::Genesys(id) = &m.manager {
        e.insert("manager".into(), json!({"value": id}));
    }
    if let Some(number) = &m.employee_number {
        e.insert("employeeNumber".into(), json!(number));
    }
    e
}

// ---------------------------------------------------------------------------------------------
// Platform mode bodies (FACTS §2.1–2.2, §7.3)
// ---------------------------------------------------------------------------------------------

/// The `POST /api/v2/users` body (CreateUser: `name`, `email`, `divisionId` required). The
/// caller resolves [`MappedUser::division`] (or the home division,
/// `GET /api/v2/authorization/divisions/home`) to `division_id`. CreateUser has no manager and
/// no employer info: follow the create with [`platform_patch_body`] over the created user.
pub fn platform_create_body(m: &MappedUser, division_id: &str) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), json!(m.display_name));
    body.insert("email".into(), json!(m.user_name));
    body.insert("divisionId".into(), json!(division_id));
    if let Some(department) = &m.department {
        body.insert("department".into(), json!(department));
    }
    if let Some(title) = &m.title {
        body.insert("title".into(), json!(title));
    }
    if !m.phones.is_empty() {
        body.insert("addresses".into(), Value::Array(m.phones.iter().map(platform_contact).collect()));
    }
    body.insert("state".into(), json!(platform_state(m)));
    Value::Object(body)
}

/// The `PATCH /api/v2/users/{id}` body that changes a user's state (active/inactive), or None
/// when `current` already has it. UpdateUser says a `state` PATCH may change nothing else, so
/// this is a request of its own: send it first, then [`platform_patch_body`] over its response
/// (the user with the new `version`).
pub fn platform_state_body(m: &MappedUser, current: &Value) -> Result<Option<Value>, MappingError> {
    let version = current_version(m, current)?;
    let want = platform_state(m);
    let have = current.get("state").and_then(Value::as_str).unwrap_or("");
    Ok((!have.eq_ignore_ascii_case(want)).then(|| json!({"version": version, "state": want})))
}

/// The `PATCH /api/v2/users/{id}` body that makes `current` (the user as
/// `GET /api/v2/users/{id}?expand=employerInfo` returns it) what `m` says, or None when nothing
/// differs. Carries `current.version` (required; a mismatch is 409, FACTS §0.5).
///
/// Fields are sent only when they differ. `addresses` (when any PHONE or SMS contact differs):
/// Genesys replaces the PHONE and SMS contacts wholesale and keeps EMAIL ones (FACTS §2.1), so
/// the list is the user's phones (the 8x8 number as `OTHER`) plus every contact of `current` the
/// bridge does not own, copied without the server's `display`: SMS contacts, PHONE contacts of
/// other types (`MAIN`, `PRIMARY`), and extension-only PHONE contacts of a type the user's phones
/// do not use. EMAIL contacts are neither sent nor touched. Division changes are not made here
/// (UpdateUser has no division; see `docs/genesys-mapping.md`).
pub fn platform_patch_body(m: &MappedUser, current: &Value) -> Result<Option<Value>, MappingError> {
    let version = current_version(m, current)?;
    let have = |key: &str| current.get(key).and_then(Value::as_str).unwrap_or("");
    let mut changes = Map::new();
    if have("name") != m.display_name {
        changes.insert("name".into(), json!(m.display_name));
    }
    if !have("email").eq_ignore_ascii_case(&m.user_name) {
        changes.insert("email".into(), json!(m.user_name));
    }
    // An empty string clears a field [unverified: Terraform sends the same].
    for (key, want) in [("department", &m.department), ("title", &m.title)] {
        let want = want.as_deref().unwrap_or("");
        if have(key) != want {
            changes.insert(key.into(), json!(want));
        }
    }
    let manager =
        current.get("manager").map_or("", |v| v.get("id").and_then(Value::as_str).or(v.as_str()).unwrap_or(""));
    match &m.manager {
        Manager::Genesys(id) if id != manager => {
            changes.insert("manager".into(), json!(id));
        }
        Manager::None if !manager.is_empty() => {
            changes.insert("manager".into(), json!(""));
        }
        _ => {}
    }
    let info = current.get("employerInfo").and_then(Value::as_object);
    let employee_id = info.and_then(|i| i.get("employeeId")).and_then(Value::as_str).unwrap_or("");
    let want_employee_id = m.employee_number.as_deref().unwrap_or("");
    if employee_id != want_employee_id {
        // employerInfo is one object: keep its other members (officialName, dateHire, ...).
        let mut info = info.cloned().unwrap_or_default();
        info.insert("employeeId".into(), json!(want_employee_id));
        changes.insert("employerInfo".into(), Value::Object(info));
    }
    if let Some(addresses) = platform_addresses(m, current) {
        changes.insert("addresses".into(), Value::Array(addresses));
    }
    if changes.is_empty() {
        return Ok(None);
    }
    let mut body = Map::new();
    body.insert("version".into(), json!(version));
    body.extend(changes);
    Ok(Some(Value::Object(body)))
}

/// The new `addresses` list, or None when the PHONE/SMS contacts would not change.
fn platform_addresses(m: &MappedUser, current: &Value) -> Option<Vec<Value>> {
    let existing: &[Value] = current.get("addresses").and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let used: Vec<&str> = m.phones.iter().map(|p| p.kind.platform_type()).collect();
    let kept = existing.iter().filter(|c| {
        let kind = contact_field(c, "type").to_ascii_uppercase();
        match contact_field(c, "mediaType").to_ascii_uppercase().as_str() {
            "EMAIL" => false,
            "PHONE" if MANAGED_PLATFORM_TYPES.contains(&kind.as_str()) => {
                contact_field(c, "address").is_empty()
                    && !contact_field(c, "extension").is_empty()
                    && !used.contains(&kind.as_str())
            }
            _ => true,
        }
    });
    // A phone Genesys already has with the same number goes back as Genesys has it (keeping
    // what Genesys added, such as `countryCode` or an `integration` tag [unverified values]).
    let phone = |p: &Phone| {
        existing
            .iter()
            .find(|c| {
                contact_field(c, "mediaType").eq_ignore_ascii_case("PHONE")
                    && contact_field(c, "type").eq_ignore_ascii_case(p.kind.platform_type())
                    && contact_field(c, "address") == p.number
            })
            .map_or_else(|| platform_contact(p), without_display)
    };
    let wanted: Vec<Value> = m.phones.iter().map(phone).chain(kept.map(without_display)).collect();

    let key = |c: &Value| {
        [
            contact_field(c, "mediaType").to_ascii_uppercase(),
            contact_field(c, "type").to_ascii_uppercase(),
            contact_field(c, "address"),
            contact_field(c, "extension"),
        ]
    };
    let mut before: Vec<[String; 4]> =
        existing.iter().filter(|c| !contact_field(c, "mediaType").eq_ignore_ascii_case("EMAIL")).map(key).collect();
    let mut after: Vec<[String; 4]> = wanted.iter().map(key).collect();
    before.sort();
    after.sort();
    (before != after).then_some(wanted)
}

fn contact_field(contact: &Value, key: &str) -> String {
    contact.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// A contact of the current user as it is sent back: without `display`, which the server derives.
fn without_display(contact: &Value) -> Value {
    match contact {
        Value::Object(o) => {
            Value::Object(o.iter().filter(|(k, _)| *k != "display").map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        other => other.clone(),
    }
}

/// A phone as a Platform `Contact` (FACTS §2.2, §7.3). A number with an extension is sent as
/// the same tel URI as in SCIM mode [unverified for the Platform API: `Contact.extension` is a
/// Genesys internal extension, "mutually exclusive with the address field"].
fn platform_contact(p: &Phone) -> Value {
    json!({"address": p.number, "mediaType": "PHONE", "type": p.kind.platform_type()})
}

fn platform_state(m: &MappedUser) -> &'static str {
    if m.active { "active" } else { "inactive" }
}

fn current_version(m: &MappedUser, current: &Value) -> Result<i64, MappingError> {
    current.get("version").and_then(Value::as_i64).ok_or_else(|| MappingError {
        subject: Subject::User(m.bridge_id.clone()),
        kind: MappingErrorKind::CurrentWithoutVersion,
    })
}

// ---------------------------------------------------------------------------------------------
// Groups (FACTS §1.1, §1.11)
// ---------------------------------------------------------------------------------------------

/// How a group's members change, in Genesys user ids (the caller resolves bridge ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipUpdate<'a> {
    /// These are all the members: replaces Genesys's member list (members added in Genesys by
    /// hand are removed).
    Replace(&'a [String]),
    /// Remove these, then add these; other members are left alone.
    Delta { add: &'a [String], remove: &'a [String] },
}

/// What the caller sends for a group: find it with `GET /api/v2/scim/v2/groups?filter=` +
/// `lookup_filter` (Genesys groups are not created by SCIM and are matched by name), then
/// `PATCH /api/v2/scim/v2/groups/{id}` with `patch` (None: nothing to send).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRequest {
    pub lookup_filter: String,
    pub patch: Option<Value>,
}

/// `displayName eq "<name>"`, the name as a JSON string (quotes and backslashes escaped).
pub fn group_lookup_filter(display_name: &str) -> String {
    format!("displayName eq {}", Value::String(display_name.to_string()))
}

/// The lookup filter and the members PATCH for a stored group (only its `displayName` is read).
/// Removes are `members[value eq "<id>"]` (RFC 7644 §3.5.2.2); adds are one `add` of
/// `[{"value": id}]`, the form Entra sends (idp-requests.md §4.1 item 10). Duplicate ids are
/// sent once.
pub fn map_group_membership(
    group: &Map<String, Value>,
    update: MembershipUpdate<'_>,
) -> Result<GroupRequest, MappingError> {
    let fail = |kind| MappingError {
        subject: Subject::Group(get_ci(group, "id").and_then(|(_, v)| v.as_str()).map(str::to_string)),
        kind,
    };
    let name =
        text(group, "displayName").map_err(fail)?.ok_or_else(|| fail(MappingErrorKind::GroupWithoutDisplayName))?;
    let members = |ids: &[String]| Value::Array(unique(ids).into_iter().map(|id| json!({"value": id})).collect());
    let ops = match update {
        MembershipUpdate::Replace(ids) => vec![json!({"op": "replace", "path": "members", "value": members(ids)})],
        MembershipUpdate::Delta { add, remove } => {
            let mut ops: Vec<Value> = unique(remove)
                .into_iter()
                .map(|id| json!({"op": "remove", "path": format!("members[value eq {}]", Value::String(id.to_string()))}))
                .collect();
            if !add.is_empty() {
                ops.push(json!({"op": "add", "path": "members", "value": members(add)}));
            }
            ops
        }
    };
    let patch = (!ops.is_empty()).then(|| json!({"schemas": [PATCH_OP_URN], "Operations": ops}));
    Ok(GroupRequest { lookup_filter: group_lookup_filter(&name), patch })
}

fn unique(ids: &[String]) -> Vec<&str> {
    let mut seen: Vec<&str> = Vec::with_capacity(ids.len());
    for id in ids {
        if !seen.contains(&id.as_str()) {
            seen.push(id);
        }
    }
    seen
}

// ---------------------------------------------------------------------------------------------
// Phone numbers
// ---------------------------------------------------------------------------------------------

/// Longest input looked at; phone numbers with extensions are far shorter.
const MAX_NUMBER_CHARS: usize = 64;
/// E.164: at most 15 digits, country code included.
const E164_MAX_DIGITS: usize = 15;
/// The shortest numbers in use (Niue, Saint Helena: 3-digit country code + 4 digits).
const E164_MIN_DIGITS: usize = 7;
const MAX_EXTENSION_DIGITS: usize = 10;

/// Normalise a phone number as an IdP stores it to what Genesys's `ScimPhoneNumber.value` takes:
/// "E.164 or tel URI format" (FACTS §1.3). `+1 (415) 555-0123` → `+14155550123`; with an
/// extension (`x42`, `ext. 42`, `extension 42`, `#42`, `;ext=42`, or a tel URI's `ext`
/// parameter) → `tel:+14155550123;ext=42`.
///
/// The tel URI is RFC 3966's (`;ext=` with no space). Genesys's own description shows
/// `tel:+nnnnnnnn; ext=xxxxx` with a space, which is not a valid tel URI; parsers built on
/// RFC 3966 (libphonenumber among them) read the form without the space [unverified which one
/// Genesys prefers; both are accepted as input here].
///
/// Accepted: a leading `+` (or the international prefix `00`, `011` in North America, `0011` in
/// Australia, `010` in Japan when that is the default country; `00` without a default country);
/// visual separators (spaces, `-`, `.`, `(`, `)`, `/`); a tel URI (`tel:+1-415-555-0123`, or a
/// local number with `phone-context=+1`); `+44 (0)20 …` (the bracketed trunk 0 is dropped).
/// A national number (no `+`) is completed with `default_country` (its trunk prefix `0`/`1`
/// dropped), and is an error without one. Rejected with a [`NumberError`] naming the problem
/// (never the number): letters, other characters, a misplaced `+`, fewer than 7 or more than 15
/// digits, a country code starting with 0, a +1 number without 10 national digits, an extension
/// that is not 1–10 digits.
pub fn normalise_number(raw: &str, default_country: Option<Country>) -> Result<String, NumberError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(NumberError::Empty);
    }
    if raw.chars().count() > MAX_NUMBER_CHARS {
        return Err(NumberError::TooManyCharacters { max: MAX_NUMBER_CHARS });
    }
    let parts = match strip_prefix_ci(raw, "tel:") {
        Some(uri) => split_tel_uri(uri)?,
        None => split_extension(raw)?,
    };
    let (global, digits) = digits_of(&without_bracketed_trunk_zero(parts.number))?;
    let international = if global {
        digits
    } else if let Some(context) = parts.context {
        format!("{context}{digits}")
    } else {
        match default_country {
            Some(country) => match digits.strip_prefix(country.0.international_prefix) {
                Some(rest) => rest.to_string(),
                None => national_to_international(country, &digits)?,
            },
            None => match digits.strip_prefix("00") {
                Some(rest) => rest.to_string(),
                None => return Err(NumberError::NationalWithoutCountry),
            },
        }
    };
    check_international(&international)?;
    Ok(match parts.extension {
        Some(ext) => format!("tel:+{international};ext={ext}"),
        None => format!("+{international}"),
    })
}

/// A number split into its dialable part, its extension and (tel URIs) a `+` phone context.
struct NumberParts<'a> {
    number: &'a str,
    extension: Option<String>,
    context: Option<String>,
}

/// `tel:` URI (RFC 3966): `global-number` or `local-number;phone-context=…`, then parameters;
/// `ext` is the extension, a `+digits` phone context completes a local number, others are
/// ignored. Spaces around `;` are tolerated (Genesys documents `tel:+nnnnnnnn; ext=xxxxx`).
fn split_tel_uri(uri: &str) -> Result<NumberParts<'_>, NumberError> {
    let mut pieces = uri.split(';');
    let number = pieces.next().unwrap_or("").trim();
    let mut extension = None;
    let mut context = None;
    for param in pieces {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        let name = name.trim();
        let value = value.trim();
        if name.eq_ignore_ascii_case("ext") {
            let digits: String = value.chars().filter(|c| !is_visual_separator(*c)).collect();
            extension = Some(check_extension(&digits)?);
        } else if name.eq_ignore_ascii_case("phone-context") && value.starts_with('+') {
            let (_, digits) = digits_of(value)?;
            context = Some(digits);
        }
    }
    Ok(NumberParts { number, extension, context })
}

/// Free-form numbers with a trailing extension: `x42`, `ext42`, `ext. 42`, `ext: 42`,
/// `extension 42`, `#42`, `;ext=42` (the forms libphonenumber also reads), any case.
fn split_extension(raw: &str) -> Result<NumberParts<'_>, NumberError> {
    let lower = raw.to_ascii_lowercase();
    for marker in ["extension", "ext", "x", "#"] {
        let Some(at) = lower.rfind(marker) else { continue };
        let rest = lower[at + marker.len()..].trim_start_matches(['.', ':', '=', ' ', '\t']).trim_end();
        if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()) {
            let number = raw[..at].trim_end_matches([' ', '\t', ',', ';']);
            return Ok(NumberParts { number, extension: Some(check_extension(rest)?), context: None });
        }
    }
    Ok(NumberParts { number: raw, extension: None, context: None })
}

/// `+44 (0)20 7946 0958`: directories in the UK and much of Europe write the trunk prefix in
/// brackets after the country code; it is not dialled from abroad and not part of E.164. Kept,
/// it would silently give a wrong number, so a `(0)` in an international number is dropped.
fn without_bracketed_trunk_zero(number: &str) -> Cow<'_, str> {
    if number.trim_start().starts_with('+') {
        let compact: String = number.split_whitespace().collect::<Vec<_>>().join(" ");
        for form in ["(0)", "( 0 )", "(0 )", "( 0)"] {
            if compact.contains(form) {
                return Cow::Owned(compact.replacen(form, " ", 1));
            }
        }
    }
    Cow::Borrowed(number)
}

fn check_extension(digits: &str) -> Result<String, NumberError> {
    let ok = (1..=MAX_EXTENSION_DIGITS).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
    if ok { Ok(digits.to_string()) } else { Err(NumberError::BadExtension) }
}

/// Whether the number starts with `+`, and its digits. Visual separators are skipped; `+` may
/// only come first.
fn digits_of(number: &str) -> Result<(bool, String), NumberError> {
    let mut global = false;
    let mut digits = String::with_capacity(number.len());
    for c in number.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if !global && digits.is_empty() => global = true,
            '+' => return Err(NumberError::MisplacedPlus),
            c if is_visual_separator(c) => {}
            c if c.is_alphabetic() => return Err(NumberError::Letters),
            c => return Err(NumberError::UnexpectedCharacter(c)),
        }
    }
    if digits.is_empty() {
        return Err(NumberError::NoDigits);
    }
    Ok((global, digits))
}

fn is_visual_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// A national number of `country` as international digits (country code first).
fn national_to_international(country: Country, digits: &str) -> Result<String, NumberError> {
    let plan = country.0;
    if plan.nanp {
        let national = match digits.strip_prefix('1') {
            Some(rest) if digits.len() == 11 => rest,
            _ => digits,
        };
        if national.len() != 10 {
            return Err(NumberError::NationalLength { country: plan.iso, digits: national.len() });
        }
        return Ok(format!("1{national}"));
    }
    let national = plan.trunk_prefix.and_then(|p| digits.strip_prefix(p)).unwrap_or(digits);
    Ok(format!("{}{national}", plan.calling_code))
}

/// E.164 rules that hold for every number: no country code starts with 0, 7–15 digits, and a
/// +1 number has 10 national digits with an area code not starting with 0 or 1.
fn check_international(digits: &str) -> Result<(), NumberError> {
    if digits.starts_with('0') {
        return Err(NumberError::CountryCodeZero);
    }
    if digits.len() > E164_MAX_DIGITS {
        return Err(NumberError::TooLong { digits: digits.len() });
    }
    if digits.len() < E164_MIN_DIGITS {
        return Err(NumberError::TooShort { digits: digits.len() });
    }
    if let Some(national) = digits.strip_prefix('1') {
        if national.len() != 10 {
            return Err(NumberError::NanpLength { digits: national.len() });
        }
        if national.starts_with(['0', '1']) {
            return Err(NumberError::NanpAreaCode);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Document helpers
// ---------------------------------------------------------------------------------------------

/// A string attribute, trimmed; absent, null and blank are None.
fn text(map: &Map<String, Value>, name: &str) -> Result<Option<String>, MappingErrorKind> {
    match get_ci(map, name).map(|(_, v)| v) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(_) => Err(MappingErrorKind::WrongType { attribute: name.to_string(), expected: "a string" }),
    }
}

fn object<'d>(map: &'d Map<String, Value>, name: &str) -> Result<Option<&'d Map<String, Value>>, MappingErrorKind> {
    match get_ci(map, name).map(|(_, v)| v) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(MappingErrorKind::WrongType { attribute: name.to_string(), expected: "an object" }),
    }
}

fn array<'d>(map: &'d Map<String, Value>, name: &str) -> Result<&'d [Value], MappingErrorKind> {
    match get_ci(map, name).map(|(_, v)| v) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(MappingErrorKind::WrongType { attribute: name.to_string(), expected: "an array" }),
    }
}

fn object_member<'d>(map: &'d Map<String, Value>, name: &str) -> Option<&'d Map<String, Value>> {
    get_ci(map, name).and_then(|(_, v)| v.as_object())
}

/// Prefix a [`MappingErrorKind::WrongType`] attribute with its parent (`emails.type`).
fn qualify(kind: MappingErrorKind, parent: &str) -> MappingErrorKind {
    match kind {
        MappingErrorKind::WrongType { attribute, expected } => {
            let sep = if parent.starts_with("urn:") { ':' } else { '.' };
            MappingErrorKind::WrongType { attribute: format!("{parent}{sep}{attribute}"), expected }
        }
        other => other,
    }
}

/// The elements of a multi-valued attribute with their indexes, `primary` ones first (stable).
fn primary_first(items: &[Value]) -> impl Iterator<Item = (usize, &Value)> {
    let (primary, rest): (Vec<_>, Vec<_>) = items.iter().enumerate().partition(|(_, e)| is_primary(e));
    primary.into_iter().chain(rest)
}

/// Genesys's `userName` is the login e-mail (FACTS §1.3): one `@` with something on each side and
/// no whitespace. Genesys checks the rest.
fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// IdP-chosen names (attribute names, type values) as they go into notes: bounded, printable.
fn for_note(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(100).collect()
}

fn strip_prefix_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    s.get(..prefix.len()).filter(|p| p.eq_ignore_ascii_case(prefix)).map(|_| &s[prefix.len()..])
}

/// Entra sends extension attributes as flattened `urn:…:User:attr` keys (idp-requests.md §4.1
/// items 5–6). The store folds them into the object under the URN for the extensions it models;
/// for one it does not model the key stays as sent, so the number source looks there too.
fn quirk_flattened_unmodelled_extension<'d>(
    user: &'d Map<String, Value>,
    namespace: &PatchNamespace,
    name: &str,
) -> Option<&'d Value> {
    let PatchNamespace::Unmodelled(urn) = namespace else {
        return None;
    };
    get_ci(user, &format!("{urn}:{name}")).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::{Map, Value, json};

    use super::*;

    const ENT: &str = ENTERPRISE_USER_URN;
    const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
    const USER_ID: &str = "2819c223-7f76-453a-919d-413861904646";

    /// A stored user as Entra provisions it (canonical form, values as sent): an 8x8 phone, a
    /// primary work phone and a mobile, enterprise data, and attributes Genesys does not have.
    fn entra_user() -> Value {
        json!({
            "schemas": [USER_URN, ENT],
            "id": USER_ID,
            "externalId": "jyoung",
            "userName": "jyoung@contoso.com",
            "name": {"formatted": "Joy Young", "familyName": "Young", "givenName": "Joy"},
            "displayName": "Joy Young",
            "title": "Account Manager",
            "preferredLanguage": "en-US",
            "active": true,
            "emails": [{"value": "jyoung@contoso.com", "type": "work", "primary": true}],
            "phoneNumbers": [
                {"value": "+1 (415) 555-0100", "type": "mobile"},
                {"value": "+1 415 555 0123", "type": "eightbyeight"},
                {"value": "+1-415-555-0111", "type": "work", "primary": true}
            ],
            ENT: {"employeeNumber": "1234", "department": "Sales", "manager": {"value": "mgr-bridge-1"}},
            "meta": {
                "resourceType": "User",
                "created": "2026-11-24T10:00:00Z",
                "lastModified": "2026-11-24T10:00:00Z",
                "version": "W/\"3\""
            }
        })
    }

    /// A minimal user: `userName` plus the given members.
    fn user(extra: Value) -> Value {
        let mut u = json!({"schemas": [USER_URN], "id": USER_ID, "userName": "ada@example.com", "displayName": "Ada"});
        if let (Some(u), Value::Object(extra)) = (u.as_object_mut(), extra) {
            u.extend(extra);
        }
        u
    }

    fn with_eight(number: &str) -> Value {
        user(json!({"phoneNumbers": [{"type": "eightbyeight", "value": number}]}))
    }

    /// Entra's user as Genesys's Platform API returns it after an earlier sync: other title, an
    /// old 8x8 number, and contacts the bridge does not own (EMAIL, SMS, MAIN, an extension-only WORK2).
    fn genesys_current() -> Value {
        json!({
            "id": "genesys-user-1",
            "name": "Joy Young",
            "email": "jyoung@contoso.com",
            "username": "jyoung@contoso.com",
            "division": {"id": "division-1", "name": "Home"},
            "state": "active",
            "version": 7,
            "department": "Sales",
            "title": "Sales Representative",
            "manager": {"id": "genesys-mgr-1", "selfUri": "/api/v2/users/genesys-mgr-1"},
            "employerInfo": {"employeeId": "1234", "dateHire": "2020-01-01"},
            "addresses": [
                {"address": "jyoung@contoso.com", "mediaType": "EMAIL", "type": "WORK"},
                {"address": "+14155550111", "display": "(415) 555-0111", "mediaType": "PHONE", "type": "WORK"},
                {"address": "+14155550199", "display": "(415) 555-0199", "mediaType": "PHONE", "type": "OTHER"},
                {"address": "+14155550177", "mediaType": "SMS", "type": "MOBILE"},
                {"address": "+14155550188", "mediaType": "PHONE", "type": "MAIN"},
                {"extension": "4321", "mediaType": "PHONE", "type": "WORK2"}
            ],
            "selfUri": "/api/v2/users/genesys-user-1"
        })
    }

    /// The same user once Genesys has everything the bridge wants.
    fn genesys_in_sync() -> Value {
        let mut current = genesys_current();
        current["title"] = json!("Account Manager");
        current["addresses"] = json!([
            {"address": "jyoung@contoso.com", "mediaType": "EMAIL", "type": "WORK"},
            {"address": "+14155550111", "display": "(415) 555-0111", "mediaType": "PHONE", "type": "WORK"},
            {"address": "+14155550100", "mediaType": "PHONE", "type": "MOBILE"},
            {"address": "+14155550123", "mediaType": "PHONE", "type": "OTHER"}
        ]);
        current
    }

    fn scim() -> MappingConfig {
        MappingConfig::default()
    }

    fn platform() -> MappingConfig {
        MappingConfig { api: ApiMode::Platform, ..MappingConfig::default() }
    }

    fn source(cfg: MappingConfig, path: &str) -> MappingConfig {
        match path.parse() {
            Ok(number_source) => MappingConfig { number_source, ..cfg },
            Err(e) => panic!("test source `{path}`: {e}"),
        }
    }

    fn country(cfg: MappingConfig, iso: &str) -> MappingConfig {
        MappingConfig { default_country: iso.parse().ok(), ..cfg }
    }

    fn ids() -> HashMap<String, String> {
        HashMap::from([("mgr-bridge-1".to_string(), "genesys-mgr-1".to_string())])
    }

    fn leak(s: String) -> &'static str {
        s.leak()
    }

    fn strings(ids: &[&str]) -> &'static [String] {
        Vec::leak(ids.iter().map(|s| s.to_string()).collect())
    }

    enum Input {
        User(Value),
        Number(&'static str),
        Source(&'static str),
        Group(Value, MembershipUpdate<'static>),
    }

    enum Expected {
        /// The create body of the configured mode (Platform: division id `division-1`).
        Create(Value),
        /// The update of the configured mode: the SCIM PATCH (`current` unused), or the Platform
        /// PATCH over `current` (None: nothing to send).
        Update {
            current: Value,
            body: Option<Value>,
        },
        /// The Platform state PATCH over `current`.
        State {
            current: Value,
            body: Option<Value>,
        },
        /// `phoneNumbers` of the SCIM create body (null when there are none).
        Phones(Value),
        /// The member at this JSON pointer of the SCIM create body (null when absent).
        Pointer(&'static str, Value),
        /// The notes, each containing its fragment, in order.
        Notes(Vec<&'static str>),
        Number(&'static str),
        /// The error message contains every fragment (and never a phone number).
        Fails(Vec<&'static str>),
        /// [`Expected::Fails`] for the Platform PATCH over `current`.
        UpdateFails {
            current: Value,
            fragments: Vec<&'static str>,
        },
        SourceOk,
        Group(GroupRequest),
    }

    /// The one table helper: runs `input` through the module with `cfg` and compares.
    fn check(name: &str, input: Input, cfg: &MappingConfig, expected: Expected) {
        let outcome: Result<Value, String> = match (&input, &expected) {
            (Input::Number(raw), _) => {
                normalise_number(raw, cfg.default_country).map(Value::String).map_err(|e| e.to_string())
            }
            (Input::Source(text), _) => text.parse::<NumberSource>().map(|_| Value::Null).map_err(|e| e.to_string()),
            (Input::Group(group, update), _) => match group.as_object() {
                Some(g) => map_group_membership(g, *update)
                    .map(|r| json!({"lookup_filter": r.lookup_filter, "patch": r.patch}))
                    .map_err(|e| e.to_string()),
                None => panic!("{name}: the group fixture is not an object"),
            },
            (Input::User(doc), _) => {
                let Some(doc) = doc.as_object() else { panic!("{name}: the user fixture is not an object") };
                map_user(doc, cfg, &ids()).map_err(|e| e.to_string()).and_then(|m| render(name, &m, cfg, &expected))
            }
        };
        match expected {
            Expected::Fails(fragments) | Expected::UpdateFails { fragments, .. } => {
                let Err(message) = outcome else { panic!("{name}: expected an error, got {outcome:?}") };
                for fragment in fragments {
                    assert!(message.contains(fragment), "{name}: `{message}` lacks `{fragment}`");
                }
                assert_no_phone_number(name, &message);
                if let Input::Number(raw) = input
                    && raw.trim().len() > 3
                {
                    assert!(!message.contains(raw.trim()), "{name}: the error repeats the number");
                }
            }
            Expected::SourceOk => assert_eq!(outcome, Ok(Value::Null), "{name}"),
            Expected::Number(want) => assert_eq!(outcome, Ok(json!(want)), "{name}"),
            Expected::Group(want) => {
                assert_eq!(outcome, Ok(json!({"lookup_filter": want.lookup_filter, "patch": want.patch})), "{name}")
            }
            Expected::Create(want) | Expected::Phones(want) | Expected::Pointer(_, want) => {
                assert_eq!(outcome, Ok(want), "{name}")
            }
            Expected::Update { body, .. } | Expected::State { body, .. } => {
                assert_eq!(outcome, Ok(body.unwrap_or(Value::Null)), "{name}")
            }
            Expected::Notes(fragments) => {
                let Ok(Value::Array(notes)) = outcome else { panic!("{name}: expected notes, got {outcome:?}") };
                assert_eq!(notes.len(), fragments.len(), "{name}: notes {notes:?}");
                for (note, fragment) in notes.iter().zip(fragments) {
                    let note = note.as_str().unwrap_or_default();
                    assert!(note.contains(fragment), "{name}: note `{note}` lacks `{fragment}`");
                    assert_no_phone_number(name, note);
                }
            }
        }
    }

    /// What `expected` looks at, from a mapped user.
    fn render(name: &str, m: &MappedUser, cfg: &MappingConfig, expected: &Expected) -> Result<Value, String> {
        let platform = cfg.api == ApiMode::Platform;
        Ok(match expected {
            Expected::Create(_) if platform => platform_create_body(m, "division-1"),
            Expected::Create(_) => scim_create_body(m),
            Expected::Update { current, .. } if platform => {
                platform_patch_body(m, current).map_err(|e| e.to_string())?.unwrap_or(Value::Null)
            }
            Expected::Update { .. } => scim_patch_body(m),
            Expected::UpdateFails { current, .. } => {
                platform_patch_body(m, current).map_err(|e| e.to_string())?.unwrap_or(Value::Null)
            }
            Expected::State { current, .. } => {
                platform_state_body(m, current).map_err(|e| e.to_string())?.unwrap_or(Value::Null)
            }
            Expected::Phones(_) => scim_create_body(m).get("phoneNumbers").cloned().unwrap_or(Value::Null),
            Expected::Pointer(pointer, _) => scim_create_body(m).pointer(pointer).cloned().unwrap_or(Value::Null),
            Expected::Notes(_) => Value::Array(m.notes().iter().map(|n| Value::String(n.to_string())).collect()),
            _ => panic!("{name}: a user input needs a user expectation"),
        })
    }

    /// Errors and notes may be logged: they must not carry a phone number (7+ digits in a row).
    /// The user's id is allowed (a UUID can have long runs of digits).
    fn assert_no_phone_number(name: &str, text: &str) {
        let text = text.replace(USER_ID, "<id>");
        let longest = text.split(|c: char| !c.is_ascii_digit()).map(str::len).max().unwrap_or(0);
        assert!(longest < 7, "{name}: `{text}` seems to hold a phone number");
    }

    #[test]
    fn users() {
        let cases: Vec<(&str, Input, MappingConfig, Expected)> = vec![
            (
                "Entra user with an 8x8 phone, SCIM mode",
                Input::User(entra_user()),
                scim(),
                Expected::Create(json!({
                    "schemas": [USER_URN, ENT],
                    "userName": "jyoung@contoso.com",
                    "displayName": "Joy Young",
                    "active": true,
                    "title": "Account Manager",
                    "externalId": "jyoung",
                    "emails": [{"type": "work", "value": "jyoung@contoso.com", "primary": true}],
                    "phoneNumbers": [
                        {"type": "work", "value": "+14155550111"},
                        {"type": "mobile", "value": "+14155550100"},
                        {"type": "eightbyeight", "value": "+14155550123", "primary": true}
                    ],
                    ENT: {"department": "Sales", "manager": {"value": "genesys-mgr-1"}, "employeeNumber": "1234"}
                })),
            ),
            (
                "Entra user with an 8x8 phone, Platform mode",
                Input::User(entra_user()),
                platform(),
                Expected::Create(json!({
                    "name": "Joy Young",
                    "email": "jyoung@contoso.com",
                    "divisionId": "division-1",
                    "department": "Sales",
                    "title": "Account Manager",
                    "addresses": [
                        {"address": "+14155550111", "mediaType": "PHONE", "type": "WORK"},
                        {"address": "+14155550100", "mediaType": "PHONE", "type": "MOBILE"},
                        {"address": "+14155550123", "mediaType": "PHONE", "type": "OTHER"}
                    ],
                    "state": "active"
                })),
            ),
            (
                "Entra user: the attributes Genesys lacks are reported",
                Input::User(entra_user()),
                scim(),
                Expected::Notes(vec!["`name` not sent", "`preferredLanguage` not sent"]),
            ),
            (
                "roles, the Genesys extension and dateHire are left to Genesys",
                Input::User(user(json!({
                    "roles": [{"value": "Supervisor"}],
                    ENT: {"dateHire": "2020-01-01"},
                    "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User": {"routingSkills": [{"name": "Sales"}]},
                    "nickName": "Ace"
                }))),
                scim(),
                Expected::Notes(vec![
                    "no 8x8",
                    "`roles` not sent: the bridge leaves it as Genesys has it",
                    "`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:dateHire` not sent: the bridge leaves it",
                    "`urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User` not sent: the bridge leaves it",
                    "`nickName` not sent: Genesys's user has no such attribute",
                ]),
            ),
            (
                "SCIM update is a PATCH of every owned attribute",
                Input::User(entra_user()),
                scim(),
                Expected::Update {
                    current: Value::Null,
                    body: Some(json!({
                        "schemas": [PATCH_OP_URN],
                        "Operations": [
                            {"op": "replace", "path": "userName", "value": "jyoung@contoso.com"},
                            {"op": "replace", "path": "displayName", "value": "Joy Young"},
                            {"op": "replace", "path": "active", "value": true},
                            {"op": "replace", "path": "title", "value": "Account Manager"},
                            {"op": "replace", "path": "externalId", "value": "jyoung"},
                            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "jyoung@contoso.com"},
                            {"op": "replace", "path": "phoneNumbers", "value": [
                                {"type": "work", "value": "+14155550111"},
                                {"type": "mobile", "value": "+14155550100"},
                                {"type": "eightbyeight", "value": "+14155550123", "primary": true}
                            ]},
                            {"op": "replace", "path": format!("{ENT}:department"), "value": "Sales"},
                            {"op": "replace", "path": format!("{ENT}:manager"), "value": {"value": "genesys-mgr-1"}},
                            {"op": "replace", "path": format!("{ENT}:employeeNumber"), "value": "1234"}
                        ]
                    })),
                },
            ),
            (
                "SCIM update of a sparse user removes what it lacks, never the division or work e-mail",
                Input::User(user(json!({}))),
                scim(),
                Expected::Update {
                    current: Value::Null,
                    body: Some(json!({
                        "schemas": [PATCH_OP_URN],
                        "Operations": [
                            {"op": "replace", "path": "userName", "value": "ada@example.com"},
                            {"op": "replace", "path": "displayName", "value": "Ada"},
                            {"op": "replace", "path": "active", "value": true},
                            {"op": "remove", "path": "title"},
                            {"op": "remove", "path": "externalId"},
                            {"op": "remove", "path": "phoneNumbers"},
                            {"op": "remove", "path": format!("{ENT}:department")},
                            {"op": "remove", "path": format!("{ENT}:manager")},
                            {"op": "remove", "path": format!("{ENT}:employeeNumber")}
                        ]
                    })),
                },
            ),
            (
                "Platform PATCH keeps version and the contacts the bridge does not own, replaces the OTHER phone",
                Input::User(entra_user()),
                platform(),
                Expected::Update {
                    current: genesys_current(),
                    body: Some(json!({
                        "version": 7,
                        "title": "Account Manager",
                        "addresses": [
                            {"address": "+14155550111", "mediaType": "PHONE", "type": "WORK"},
                            {"address": "+14155550100", "mediaType": "PHONE", "type": "MOBILE"},
                            {"address": "+14155550123", "mediaType": "PHONE", "type": "OTHER"},
                            {"address": "+14155550177", "mediaType": "SMS", "type": "MOBILE"},
                            {"address": "+14155550188", "mediaType": "PHONE", "type": "MAIN"},
                            {"extension": "4321", "mediaType": "PHONE", "type": "WORK2"}
                        ]
                    })),
                },
            ),
            (
                "Platform PATCH sends an unchanged phone back as Genesys has it, without `display`",
                Input::User(user(json!({"phoneNumbers": [
                    {"type": "eightbyeight", "value": "+1 415 555 0123"},
                    {"type": "mobile", "value": "+1 415 555 0100"}
                ]}))),
                platform(),
                Expected::Update {
                    current: json!({
                        "name": "Ada", "email": "ada@example.com", "version": 5,
                        "addresses": [{"address": "+14155550123", "display": "(415) 555-0123", "mediaType": "PHONE",
                            "type": "OTHER", "countryCode": "US", "integration": "eightbyeight"}]
                    }),
                    body: Some(json!({
                        "version": 5,
                        "addresses": [
                            {"address": "+14155550100", "mediaType": "PHONE", "type": "MOBILE"},
                            {"address": "+14155550123", "mediaType": "PHONE", "type": "OTHER", "countryCode": "US",
                                "integration": "eightbyeight"}
                        ]
                    })),
                },
            ),
            (
                "Platform PATCH of a user already in sync: nothing to send (EMAIL contacts do not count)",
                Input::User(entra_user()),
                platform(),
                Expected::Update { current: genesys_in_sync(), body: None },
            ),
            (
                "Platform PATCH without an 8x8 number removes the OTHER phone, keeps EMAIL untouched",
                Input::User(user(json!({"phoneNumbers": [{"type": "work", "value": "+14155550111"}]}))),
                platform(),
                Expected::Update {
                    current: json!({
                        "name": "Ada", "email": "ada@example.com", "version": 3,
                        "addresses": [
                            {"address": "ada@example.com", "mediaType": "EMAIL", "type": "WORK"},
                            {"address": "+14155550111", "mediaType": "PHONE", "type": "WORK"},
                            {"address": "+14155550123", "mediaType": "PHONE", "type": "OTHER"}
                        ]
                    }),
                    body: Some(json!({
                        "version": 3,
                        "addresses": [{"address": "+14155550111", "mediaType": "PHONE", "type": "WORK"}]
                    })),
                },
            ),
            (
                "Platform PATCH clears department, title, manager and employee id the user no longer has",
                Input::User(user(json!({}))),
                platform(),
                Expected::Update {
                    current: json!({
                        "name": "Ada", "email": "ada@example.com", "version": 4, "department": "Ops", "title": "Lead",
                        "manager": {"id": "genesys-mgr-1"}, "employerInfo": {"employeeId": "77", "dateHire": "2020-01-01"}
                    }),
                    body: Some(json!({
                        "version": 4, "department": "", "title": "", "manager": "",
                        "employerInfo": {"employeeId": "", "dateHire": "2020-01-01"}
                    })),
                },
            ),
            (
                "Platform PATCH sets manager and employee id, keeping the rest of employerInfo",
                Input::User(entra_user()),
                platform(),
                Expected::Update {
                    current: {
                        let mut c = genesys_in_sync();
                        c["manager"] = Value::Null;
                        c["employerInfo"] = json!({"dateHire": "2020-01-01"});
                        c
                    },
                    body: Some(json!({
                        "version": 7, "manager": "genesys-mgr-1",
                        "employerInfo": {"dateHire": "2020-01-01", "employeeId": "1234"}
                    })),
                },
            ),
            (
                "Platform PATCH needs the current version",
                Input::User(entra_user()),
                platform(),
                Expected::UpdateFails {
                    current: json!({"name": "Joy Young", "version": "7"}),
                    fragments: vec![USER_ID, "no integer `version`"],
                },
            ),
            (
                "Platform state change is a PATCH of its own",
                Input::User(user(json!({"active": false}))),
                platform(),
                Expected::State {
                    current: json!({"version": 9, "state": "active"}),
                    body: Some(json!({"version": 9, "state": "inactive"})),
                },
            ),
            (
                "Platform state already right",
                Input::User(user(json!({"active": "True"}))),
                platform(),
                Expected::State { current: json!({"version": 9, "state": "active"}), body: None },
            ),
            (
                "number source = the work phone: it becomes the 8x8 number and is not sent as work",
                Input::User(user(json!({"phoneNumbers": [
                    {"type": "work", "value": "+1 415 555 0111"},
                    {"type": "mobile", "value": "+1 415 555 0100", "primary": true}
                ]}))),
                source(scim(), r#"phoneNumbers[type eq "work"].value"#),
                Expected::Phones(json!([
                    {"type": "mobile", "value": "+14155550100"},
                    {"type": "eightbyeight", "value": "+14155550111", "primary": true}
                ])),
            ),
            (
                "number source = the work phone in Platform mode",
                Input::User(user(json!({"phoneNumbers": [{"type": "Work", "value": "+1 415 555 0111"}]}))),
                source(platform(), r#"phoneNumbers[type eq "work"].value"#),
                Expected::Create(json!({
                    "name": "Ada", "email": "ada@example.com", "divisionId": "division-1",
                    "addresses": [{"address": "+14155550111", "mediaType": "PHONE", "type": "OTHER"}],
                    "state": "active"
                })),
            ),
            (
                "number source = the work phone, and an eightbyeight phone too: only the source is sent",
                Input::User(user(json!({"phoneNumbers": [
                    {"type": "eightbyeight", "value": "+1 415 555 0199"},
                    {"type": "work", "value": "+1 415 555 0111"}
                ]}))),
                source(scim(), r#"phoneNumbers[type eq "work"].value"#),
                Expected::Phones(json!([{"type": "eightbyeight", "value": "+14155550111", "primary": true}])),
            ),
            (
                "number source = a custom extension attribute",
                Input::User(user(json!({ACME: {"eightByEightNumber": "+44 20 7946 0958"}}))),
                source(scim(), &format!("{ACME}:eightByEightNumber")),
                Expected::Phones(json!([{"type": "eightbyeight", "value": "+442079460958", "primary": true}])),
            ),
            (
                "number source = a custom extension attribute: its extension is not reported as dropped",
                Input::User(user(json!({ACME: {"eightByEightNumber": "+44 20 7946 0958"}}))),
                source(scim(), &format!("{ACME}:eightByEightNumber")),
                Expected::Notes(vec![]),
            ),
            (
                "number source = a custom extension attribute sent as a flattened key (Entra)",
                Input::User(user(json!({format!("{ACME}:eightByEightNumber"): "+44 20 7946 0958"}))),
                source(scim(), &format!("{ACME}:eightByEightNumber")),
                Expected::Phones(json!([{"type": "eightbyeight", "value": "+442079460958", "primary": true}])),
            ),
            (
                "number source = an enterprise attribute",
                Input::User(user(json!({ENT: {"employeeNumber": "tel:+1-415-555-0123"}}))),
                source(scim(), &format!("{ENT}:employeeNumber")),
                Expected::Phones(json!([{"type": "eightbyeight", "value": "+14155550123", "primary": true}])),
            ),
            (
                "number source holding a whole number",
                Input::User(user(json!({ACME: {"eightByEightNumber": 14155550123u64}}))),
                country(source(scim(), &format!("{ACME}:eightByEightNumber")), "US"),
                Expected::Phones(json!([{"type": "eightbyeight", "value": "+14155550123", "primary": true}])),
            ),
            (
                "number source holding an object",
                Input::User(user(json!({ACME: {"eightByEightNumber": {"n": 1}}}))),
                source(scim(), &format!("{ACME}:eightByEightNumber")),
                Expected::Fails(vec![USER_ID, "eightByEightNumber` is neither a string nor a whole number"]),
            ),
            (
                "national 8x8 number with a default country",
                Input::User(with_eight("(415) 555-0123")),
                country(scim(), "US"),
                Expected::Phones(json!([{"type": "eightbyeight", "value": "+14155550123", "primary": true}])),
            ),
            (
                "national 8x8 number without a default country is a per-user error",
                Input::User(with_eight("(415) 555-0123")),
                scim(),
                Expected::Fails(vec![
                    leak(format!("user {USER_ID}: the 8x8 number at `phoneNumbers[type eq \"eightbyeight\"].value`")),
                    "national format",
                    "configure the default country",
                ]),
            ),
            (
                "tel URI with extension",
                Input::User(with_eight("tel:+1-415-555-0123;ext=42")),
                scim(),
                Expected::Phones(
                    json!([{"type": "eightbyeight", "value": "tel:+14155550123;ext=42", "primary": true}]),
                ),
            ),
            (
                "garbage 8x8 number is an error naming the user and the problem, not the number",
                Input::User(with_eight("+1 415 CALL NOW")),
                scim(),
                Expected::Fails(vec![USER_ID, "contains letters"]),
            ),
            (
                "8x8 number too long",
                Input::User(with_eight("+1 415 555 0123 4567 89")),
                scim(),
                Expected::Fails(vec![USER_ID, "has 17 digits; E.164 allows at most 15"]),
            ),
            (
                "two UC phones and an `other` one: only the 8x8 one is sent",
                Input::User(user(json!({"phoneNumbers": [
                    {"type": "microsoftteams", "value": "+1 415 555 0144", "primary": true},
                    {"type": "other", "value": "+1 415 555 0155"},
                    {"type": "eightbyeight", "value": "+1 415 555 0123"},
                    {"type": "zoomphone", "value": "+1 415 555 0166"}
                ]}))),
                scim(),
                Expected::Phones(json!([{"type": "eightbyeight", "value": "+14155550123", "primary": true}])),
            ),
            (
                "two UC phones: the others are reported",
                Input::User(user(json!({"phoneNumbers": [
                    {"type": "microsoftteams", "value": "+1 415 555 0144", "primary": true},
                    {"type": "eightbyeight", "value": "+1 415 555 0123"},
                    {"type": "ringcentral", "value": "+1 415 555 0166"}
                ]}))),
                scim(),
                Expected::Notes(vec![
                    "phone of type `microsoftteams` not sent: Genesys stores it in the Other Phone field",
                    "phone of type `ringcentral` not sent: Genesys stores it in the Other Phone field",
                ]),
            ),
            (
                "two eightbyeight phones: the primary one wins",
                Input::User(user(json!({"phoneNumbers": [
                    {"type": "eightbyeight", "value": "+1 415 555 0199"},
                    {"type": "eightbyeight", "value": "+1 415 555 0123", "primary": true}
                ]}))),
                scim(),
                Expected::Phones(json!([{"type": "eightbyeight", "value": "+14155550123", "primary": true}])),
            ),
            (
                "UC phone without an 8x8 number is still not sent",
                Input::User(user(json!({"phoneNumbers": [{"type": "microsoftteams", "value": "+1 415 555 0144"}]}))),
                platform(),
                Expected::Create(json!({
                    "name": "Ada", "email": "ada@example.com", "divisionId": "division-1", "state": "active"
                })),
            ),
            (
                "phones without an 8x8 number keep their primary flag",
                Input::User(user(json!({"phoneNumbers": [
                    {"type": "home", "value": "+44 20 7946 0000"},
                    {"type": "work", "value": "+44 20 7946 0958", "primary": true}
                ]}))),
                scim(),
                Expected::Phones(json!([
                    {"type": "work", "value": "+442079460958", "primary": true},
                    {"type": "home", "value": "+442079460000"}
                ])),
            ),
            (
                "unusable, unknown and duplicate other phones are dropped with notes, the user is sent",
                Input::User(user(json!({"phoneNumbers": [
                    {"type": "home", "value": "call my mobile"},
                    {"type": "fax", "value": "+1 415 555 0100"},
                    {"value": "+1 415 555 0101"},
                    {"type": "work", "value": "+1 415 555 0111"},
                    {"type": "work", "value": "+1 415 555 0112"},
                    {"type": "eightbyeight", "value": "+1 415 555 0123"}
                ]}))),
                scim(),
                Expected::Notes(vec![
                    "phone of type `home` not sent: the number contains letters",
                    "phone of type `fax` not sent: Genesys takes the types work",
                    "phone without type not sent",
                    "phone of type `work` not sent: Genesys keeps one phone per type",
                ]),
            ),
            (
                "no 8x8 number is a note",
                Input::User(user(json!({}))),
                scim(),
                Expected::Notes(vec!["no 8x8 number at the configured source"]),
            ),
            (
                "displayName falls back to name.formatted",
                Input::User(
                    json!({"id": USER_ID, "userName": "ada@example.com", "name": {"formatted": "Ada Lovelace"}}),
                ),
                scim(),
                Expected::Pointer("/displayName", json!("Ada Lovelace")),
            ),
            (
                "displayName falls back to givenName and familyName",
                Input::User(json!({"id": USER_ID, "userName": "ada@example.com", "displayName": "  ",
                    "name": {"givenName": "Ada", "familyName": "Lovelace"}})),
                platform(),
                Expected::Create(json!({
                    "name": "Ada Lovelace", "email": "ada@example.com", "divisionId": "division-1", "state": "active"
                })),
            ),
            (
                "displayName falls back to familyName alone",
                Input::User(json!({"id": USER_ID, "userName": "ada@example.com", "name": {"familyName": "Lovelace"}})),
                scim(),
                Expected::Pointer("/displayName", json!("Lovelace")),
            ),
            (
                "displayName falls back to userName, with a note",
                Input::User(json!({"id": USER_ID, "userName": "ada@example.com"})),
                scim(),
                Expected::Notes(vec![
                    "displayName is missing; Genesys requires one, so it is taken from userName",
                    "no 8x8",
                ]),
            ),
            (
                "missing userName",
                Input::User(json!({"id": USER_ID, "displayName": "Ada"})),
                scim(),
                Expected::Fails(vec![leak(format!("user {USER_ID}: `userName` is missing"))]),
            ),
            (
                "userName that is not an e-mail",
                Input::User(json!({"id": USER_ID, "userName": "ada"})),
                scim(),
                Expected::Fails(vec!["`userName` is not an e-mail address"]),
            ),
            (
                "active of the wrong type",
                Input::User(user(json!({"active": "yes"}))),
                scim(),
                Expected::Fails(vec!["`active` must be a boolean"]),
            ),
            (
                "inactive user",
                Input::User(user(json!({"active": false}))),
                scim(),
                Expected::Pointer("/active", json!(false)),
            ),
            (
                "only the work e-mail is sent",
                Input::User(user(json!({"emails": [
                    {"type": "home", "value": "ada@home.example", "primary": true},
                    {"type": "Work", "value": "ada@example.com"},
                    {"type": "work", "value": "ada.l@example.com"}
                ]}))),
                scim(),
                Expected::Pointer("/emails", json!([{"type": "work", "value": "ada@example.com"}])),
            ),
            (
                "other e-mails are reported",
                Input::User(user(json!({"emails": [
                    {"type": "home", "value": "ada@home.example", "primary": true},
                    {"type": "work", "value": "ada@example.com"},
                    {"type": "work", "value": "ada.l@example.com"},
                    {"value": "ada@other.example"}
                ]}))),
                scim(),
                Expected::Notes(vec![
                    "e-mail of type `home` not sent: Genesys takes the work e-mail only",
                    "e-mail of type `work` not sent: Genesys keeps one work e-mail",
                    "e-mail without type not sent",
                    "no 8x8",
                ]),
            ),
            (
                "default division when the user has none",
                Input::User(user(json!({ENT: {"department": "Ops"}}))),
                MappingConfig { division: Some("Home".into()), ..scim() },
                Expected::Pointer(leak(format!("/{ENT}")), json!({"division": "Home", "department": "Ops"})),
            ),
            (
                "the user's division wins over the default",
                Input::User(user(json!({ENT: {"division": "EMEA Sales"}}))),
                MappingConfig { division: Some("Home".into()), ..scim() },
                Expected::Pointer(leak(format!("/{ENT}/division")), json!("EMEA Sales")),
            ),
            (
                "unresolved manager is dropped with a note",
                Input::User(user(json!({ENT: {"manager": {"value": "not-in-genesys-yet"}, "costCenter": "4130"}}))),
                scim(),
                Expected::Notes(vec![
                    "no 8x8",
                    "manager not sent: the manager has no Genesys user yet",
                    "`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter` not sent",
                ]),
            ),
            (
                "unresolved manager: the SCIM PATCH leaves Genesys's manager alone",
                Input::User(user(json!({ENT: {"manager": {"value": "not-in-genesys-yet"}}}))),
                scim(),
                Expected::Update {
                    current: Value::Null,
                    body: Some(json!({
                        "schemas": [PATCH_OP_URN],
                        "Operations": [
                            {"op": "replace", "path": "userName", "value": "ada@example.com"},
                            {"op": "replace", "path": "displayName", "value": "Ada"},
                            {"op": "replace", "path": "active", "value": true},
                            {"op": "remove", "path": "title"},
                            {"op": "remove", "path": "externalId"},
                            {"op": "remove", "path": "phoneNumbers"},
                            {"op": "remove", "path": format!("{ENT}:department")},
                            {"op": "remove", "path": format!("{ENT}:employeeNumber")}
                        ]
                    })),
                },
            ),
            (
                "unresolved manager: the Platform PATCH leaves Genesys's manager alone",
                Input::User(user(json!({ENT: {"manager": {"value": "not-in-genesys-yet"}}}))),
                platform(),
                Expected::Update {
                    current: json!({"name": "Ada", "email": "ada@example.com", "version": 2, "manager": {"id": "g-9"}}),
                    body: None,
                },
            ),
            (
                "resolved manager as Entra's plain string",
                Input::User(user(json!({ENT: {"manager": "mgr-bridge-1"}}))),
                scim(),
                Expected::Pointer(leak(format!("/{ENT}/manager")), json!({"value": "genesys-mgr-1"})),
            ),
        ];
        for (name, input, cfg, expected) in cases {
            check(name, input, &cfg, expected);
        }
    }

    #[test]
    fn numbers() {
        let us = country(scim(), "US");
        let gb = country(scim(), "GB");
        let it = country(scim(), "IT");
        let au = country(scim(), "AU");
        let none = scim();
        let cases: Vec<(&str, &'static str, &MappingConfig, Expected)> = vec![
            ("E.164 as is", "+14155550123", &none, Expected::Number("+14155550123")),
            ("visual separators", "+1 (415) 555-0123", &none, Expected::Number("+14155550123")),
            ("dots and slashes", "+49 30/1234.5678", &none, Expected::Number("+493012345678")),
            (
                "non-breaking space and unicode dash",
                "+44\u{a0}20\u{2011}7946\u{2011}0958",
                &none,
                Expected::Number("+442079460958"),
            ),
            (
                "00 international prefix without default country",
                "0044 20 7946 0958",
                &none,
                Expected::Number("+442079460958"),
            ),
            ("tel URI", "tel:+1-415-555-0123", &none, Expected::Number("+14155550123")),
            (
                "tel URI with extension",
                "tel:+1-415-555-0123;ext=42",
                &none,
                Expected::Number("tel:+14155550123;ext=42"),
            ),
            (
                "Genesys's documented tel URI form",
                "tel:+14155550123; ext=42",
                &none,
                Expected::Number("tel:+14155550123;ext=42"),
            ),
            (
                "tel URI, other parameters ignored",
                "TEL:+14155550123;isub=1;ext=4-2",
                &none,
                Expected::Number("tel:+14155550123;ext=42"),
            ),
            (
                "tel URI, local number with phone context",
                "tel:415-555-0123;phone-context=+1",
                &none,
                Expected::Number("+14155550123"),
            ),
            ("extension x42", "+1 415 555 0123 x42", &none, Expected::Number("tel:+14155550123;ext=42")),
            ("extension ext. 42", "+1 415 555 0123 ext. 42", &none, Expected::Number("tel:+14155550123;ext=42")),
            (
                "extension Extension 42",
                "+1 415 555 0123, Extension 42",
                &none,
                Expected::Number("tel:+14155550123;ext=42"),
            ),
            ("extension #42", "+1 415 555 0123#42", &none, Expected::Number("tel:+14155550123;ext=42")),
            (
                "extension ;ext=42 outside a tel URI",
                "+14155550123;ext=42",
                &none,
                Expected::Number("tel:+14155550123;ext=42"),
            ),
            ("US national", "(415) 555-0123", &us, Expected::Number("+14155550123")),
            ("US national with trunk 1", "1-415-555-0123", &us, Expected::Number("+14155550123")),
            ("US international prefix 011", "011 44 20 7946 0958", &us, Expected::Number("+442079460958")),
            ("US national with extension", "415.555.0123 x7", &us, Expected::Number("tel:+14155550123;ext=7")),
            ("US national too short", "555-0123", &us, Expected::Fails(vec!["national US number with 7 digits"])),
            ("UK national drops trunk 0", "020 7946 0958", &gb, Expected::Number("+442079460958")),
            (
                "bracketed trunk 0 after the country code",
                "+44 (0)20 7946 0958",
                &none,
                Expected::Number("+442079460958"),
            ),
            ("bracketed trunk 0 with spaces", "+49 ( 0 ) 30 1234 5678", &none, Expected::Number("+493012345678")),
            ("brackets in a national number are separators", "(020) 7946 0958", &gb, Expected::Number("+442079460958")),
            ("international number with a default country", "+33 1 23 45 67 89", &gb, Expected::Number("+33123456789")),
            ("Italy keeps its leading 0", "06 1234 5678", &it, Expected::Number("+390612345678")),
            ("Australia 0011 prefix", "0011 44 20 7946 0958", &au, Expected::Number("+442079460958")),
            ("Australia national", "(02) 9374 4000", &au, Expected::Number("+61293744000")),
            ("national without default country", "(415) 555-0123", &none, Expected::Fails(vec!["national format"])),
            ("empty", "   ", &none, Expected::Fails(vec!["is empty"])),
            ("letters", "1-800-FLOWERS", &us, Expected::Fails(vec!["contains letters"])),
            ("e-mail in a phone field", "jo@example.com", &none, Expected::Fails(vec!["contains letters"])),
            ("unexpected character", "+1 415 555 0123 !", &none, Expected::Fails(vec!["contains the character '!'"])),
            ("misplaced plus", "1+4155550123", &none, Expected::Fails(vec!["`+` that does not start"])),
            ("two plus signs", "++14155550123", &none, Expected::Fails(vec!["`+` that does not start"])),
            ("no digits", "+ ()", &none, Expected::Fails(vec!["has no digits"])),
            (
                "too short",
                "+44 123",
                &none,
                Expected::Fails(vec!["has 5 digits; an international number has at least 7"]),
            ),
            (
                "too long",
                "+44 2079 4609 5812 345",
                &none,
                Expected::Fails(vec!["has 17 digits; E.164 allows at most 15"]),
            ),
            ("country code 0", "+0 415 555 0123", &none, Expected::Fails(vec!["country code with 0"])),
            (
                "+1 with 9 digits",
                "+1 415 555 012",
                &none,
                Expected::Fails(vec!["+1 (North American) number with 9 digits"]),
            ),
            ("+1 area code 0", "+1 015 555 0123", &none, Expected::Fails(vec!["area code starting with 0 or 1"])),
            (
                "extension too long",
                "+1 415 555 0123 x12345678901",
                &none,
                Expected::Fails(vec!["extension that is not 1 to 10"]),
            ),
            (
                "tel URI with bad extension",
                "tel:+14155550123;ext=abc",
                &none,
                Expected::Fails(vec!["extension that is not 1 to 10"]),
            ),
            (
                "absurdly long input",
                "+1 415 555 0123 ------------------------------------------------------------",
                &none,
                Expected::Fails(vec!["longer than 64 characters"]),
            ),
        ];
        for (name, raw, cfg, expected) in cases {
            check(name, Input::Number(raw), cfg, expected);
        }
    }

    #[test]
    fn number_sources() {
        let cases: Vec<(&str, &'static str, Expected)> = vec![
            ("the default", NumberSource::DEFAULT, Expected::SourceOk),
            ("the work phone", r#"phoneNumbers[type eq "work"].value"#, Expected::SourceOk),
            (
                "the typo'd type too",
                r#"phoneNumbers[type eq "eightbyeight" or type eq "eighbyeight"].value"#,
                Expected::SourceOk,
            ),
            ("value implied", r#"phoneNumbers[type eq "work"]"#, Expected::SourceOk),
            (
                "enterprise attribute",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                Expected::SourceOk,
            ),
            ("enterprise attribute unqualified", "employeeNumber", Expected::SourceOk),
            (
                "custom extension attribute",
                "urn:ietf:params:scim:schemas:extension:acme:2.0:User:eightByEightNumber",
                Expected::SourceOk,
            ),
            ("empty", " ", Expected::Fails(vec!["the 8x8 number source is empty; the default is"])),
            (
                "typo in the attribute",
                r#"phoneNumber[type eq "work"].value"#,
                Expected::Fails(vec![
                    "8x8 number source `phoneNumber[type eq \"work\"].value`",
                    "has no attribute `phoneNumber`",
                    "Expected a SCIM attribute path",
                ]),
            ),
            (
                "bad filter syntax",
                r#"phoneNumbers[type eq ].value"#,
                Expected::Fails(vec!["Expected a SCIM attribute path"]),
            ),
            (
                "multi-valued without filter",
                "phoneNumbers.value",
                Expected::Fails(vec!["`phoneNumbers` is multi-valued: select one element"]),
            ),
            (
                "whole extension",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                Expected::Fails(vec!["names a whole extension"]),
            ),
            (
                "complex attribute",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                Expected::Fails(vec!["`manager` is complex"]),
            ),
            ("boolean attribute", "active", Expected::Fails(vec!["`active` is not a string attribute"])),
            (
                "unknown sub-attribute",
                r#"phoneNumbers[type eq "work"].number"#,
                Expected::Fails(vec!["has no sub-attribute `number`"]),
            ),
        ];
        for (name, text, expected) in cases {
            check(name, Input::Source(text), &scim(), expected);
        }
    }

    #[test]
    fn groups() {
        let sales = json!({"id": "g-1", "displayName": "Sales \"EMEA\""});
        let filter = r#"displayName eq "Sales \"EMEA\"""#.to_string();
        let cases: Vec<(&str, Input, Expected)> = vec![
            (
                "replace all members",
                Input::Group(sales.clone(), MembershipUpdate::Replace(strings(&["u-1", "u-2", "u-1"]))),
                Expected::Group(GroupRequest {
                    lookup_filter: filter.clone(),
                    patch: Some(json!({"schemas": [PATCH_OP_URN], "Operations": [
                        {"op": "replace", "path": "members", "value": [{"value": "u-1"}, {"value": "u-2"}]}
                    ]})),
                }),
            ),
            (
                "replace with no members clears them",
                Input::Group(sales.clone(), MembershipUpdate::Replace(strings(&[]))),
                Expected::Group(GroupRequest {
                    lookup_filter: filter.clone(),
                    patch: Some(json!({"schemas": [PATCH_OP_URN], "Operations": [
                        {"op": "replace", "path": "members", "value": []}
                    ]})),
                }),
            ),
            (
                "delta: removes first, then one add",
                Input::Group(
                    sales.clone(),
                    MembershipUpdate::Delta { add: strings(&["u-3", "u-4"]), remove: strings(&["u-1", "u\"x"]) },
                ),
                Expected::Group(GroupRequest {
                    lookup_filter: filter.clone(),
                    patch: Some(json!({"schemas": [PATCH_OP_URN], "Operations": [
                        {"op": "remove", "path": "members[value eq \"u-1\"]"},
                        {"op": "remove", "path": "members[value eq \"u\\\"x\"]"},
                        {"op": "add", "path": "members", "value": [{"value": "u-3"}, {"value": "u-4"}]}
                    ]})),
                }),
            ),
            (
                "empty delta: nothing to send",
                Input::Group(sales.clone(), MembershipUpdate::Delta { add: strings(&[]), remove: strings(&[]) }),
                Expected::Group(GroupRequest { lookup_filter: filter.clone(), patch: None }),
            ),
            (
                "group without displayName",
                Input::Group(json!({"id": "g-2"}), MembershipUpdate::Replace(strings(&[]))),
                Expected::Fails(vec!["group g-2: `displayName` is missing"]),
            ),
        ];
        for (name, input, expected) in cases {
            check(name, input, &scim(), expected);
        }
    }

    #[test]
    fn config_values_parse_with_fixable_errors() {
        assert_eq!("scim".parse(), Ok(ApiMode::Scim));
        assert_eq!(" Platform ".parse(), Ok(ApiMode::Platform));
        assert_eq!(ApiMode::default(), ApiMode::Scim);
        let Err(e) = "rest".parse::<ApiMode>() else { panic!("`rest` parsed") };
        assert!(e.to_string().contains("use `scim`"), "{e}");

        let us: Result<Country, _> = "us".parse();
        assert_eq!(us.map(|c| (c.iso(), c.calling_code())), Ok(("US", "1")));
        let Err(e) = "XX".parse::<Country>() else { panic!("`XX` parsed") };
        assert!(e.to_string().contains("unsupported default country `XX`: use one of US, CA, GB"), "{e}");
    }

    #[test]
    fn the_default_number_source_is_the_parsed_default() {
        let parsed: Result<NumberSource, _> = NumberSource::DEFAULT.parse();
        let Ok(parsed) = parsed else { panic!("the default does not parse: {parsed:?}") };
        let built = NumberSource::default();
        assert_eq!(built.as_str(), parsed.as_str());
        assert_eq!(format!("{:?}", built.target), format!("{:?}", parsed.target));
    }

    #[test]
    fn debug_output_redacts_numbers_and_addresses() {
        let Some(doc) = entra_user().as_object().cloned() else { panic!("fixture") };
        let Ok(m) = map_user(&doc, &scim(), &ids()) else { panic!("maps") };
        let debug = format!("{m:?}");
        for secret in ["jyoung@contoso.com", "Joy Young", "4155550123", "4155550111"] {
            assert!(!debug.contains(secret), "Debug shows `{secret}`: {debug}");
        }
        assert_eq!(m.eight_by_eight_number(), Some("+14155550123"));
        assert_eq!(m.bridge_id(), Some(USER_ID));
        assert_eq!(m.manager(), &Manager::Genesys("genesys-mgr-1".into()));
    }

    /// The full request bodies of a realistic user in both modes, as the outbox will send them.
    #[test]
    fn snapshots_of_full_request_bodies() {
        let Some(doc) = entra_user().as_object().cloned() else { panic!("fixture") };
        let cfg = MappingConfig { division: Some("Home".into()), ..scim() };
        let Ok(m) = map_user(&doc, &cfg, &ids()) else { panic!("maps") };
        insta::assert_json_snapshot!("scim_create_body", scim_create_body(&m));
        insta::assert_json_snapshot!("scim_patch_body", scim_patch_body(&m));
        insta::assert_json_snapshot!("platform_create_body", platform_create_body(&m, "division-1"));
        insta::assert_json_snapshot!("platform_patch_body", platform_patch_body(&m, &genesys_current()).ok().flatten());
        let group = json!({"id": "g-1", "displayName": "Sales"});
        let Some(group) = group.as_object() else { panic!("fixture") };
        let request = map_group_membership(
            group,
            MembershipUpdate::Delta { add: strings(&["genesys-user-1"]), remove: strings(&["genesys-user-2"]) },
        )
        .ok();
        insta::assert_json_snapshot!("group_members_patch", request.and_then(|r| r.patch));
    }

    #[test]
    fn an_empty_document_is_an_error_not_a_panic() {
        let none: HashMap<String, String> = HashMap::new();
        let outcome = map_user(&Map::new(), &scim(), &none);
        let Err(e) = outcome else { panic!("an empty document mapped: {outcome:?}") };
        assert_eq!(e.subject, Subject::User(None));
        assert_eq!(
            e.to_string(),
            "user (without id): `userName` is missing; Genesys requires it (it is the user's Genesys login e-mail)"
        );
    }
}
