//! The mapped user: what the bridge wants a Genesys user to be ([`MappedUser`]), built from
//! a stored SCIM user by [`map_user`], mode-neutral (the body modules render it). Pure.

use std::fmt;

use serde_json::{Map, Value};

use scim::filter::{as_bool_lenient, is_primary};
use scim::patch::PatchNamespace;
use scim::schema::{ENTERPRISE_USER_URN, get_ci};

use super::*;

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
    pub(super) bridge_id: Option<String>,
    pub(super) user_name: String,
    pub(super) display_name: String,
    pub(super) active: bool,
    pub(super) title: Option<String>,
    pub(super) external_id: Option<String>,
    pub(super) work_email: Option<WorkEmail>,
    pub(super) phones: Vec<Phone>,
    pub(super) division: Option<String>,
    pub(super) department: Option<String>,
    pub(super) manager: Manager,
    pub(super) employee_number: Option<String>,
    /// The roles to grant (the configured ones, for a user with an 8x8 number).
    pub(super) roles: Vec<RoleSpec>,
    pub(super) notes: Vec<MappingNote>,
}

#[derive(Clone, PartialEq, Eq)]
pub(super) struct WorkEmail {
    pub(super) value: String,
    pub(super) primary: bool,
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
    /// user body (Genesys keeps it through `/api/v2/users/{id}/externalid`, genesys-api-notes §2.3).
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

    /// The Genesys roles the user must hold: those configured (`genesys.roles`) when the user
    /// has an 8x8 number, else none. The bridge adds them and never removes one.
    pub fn roles(&self) -> &[RoleSpec] {
        &self.roles
    }

    /// Whether the IdP sent the display name (rather than the bridge deriving one: Genesys needs
    /// one on create, but a derived one never replaces what Genesys holds).
    pub fn display_name_sent(&self) -> bool {
        !self.notes.iter().any(|n| matches!(n, MappingNote::DisplayNameFrom(_)))
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

/// Where a missing `displayName` was taken from (Genesys requires one, genesys-api-notes §0.4).
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
    /// Genesys takes `work` and `other`, and `other` is its own copy of `userName` (genesys-api-notes §1.3–1.4).
    NotWork,
    Duplicate,
    NoValue,
}

/// Why an attribute of the SCIM user is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotForwarded {
    /// Genesys's SCIM user has no such attribute (genesys-api-notes §1.3: `name`, `nickName`, `addresses`,
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

pub(super) fn map_user_fields<I: GenesysIds + ?Sized>(
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
    let has_number = phones.iter().any(|p| p.kind == PhoneKind::EightByEight);
    let roles = if has_number { cfg.roles.clone() } else { Vec::new() };
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
        roles,
        notes,
    })
}

/// Genesys requires `displayName` (genesys-api-notes §0.4); IdPs do not always send it. Falls back to
/// `name.formatted`, then `name.givenName` + `name.familyName` (either alone), then `userName`.
pub(super) fn fallback_display_name(
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
/// `other` is Genesys's read-only copy of `userName` (genesys-api-notes §1.3–1.4), so only `work` is sent.
pub(super) fn map_emails(
    user: &Map<String, Value>,
    notes: &mut Vec<MappingNote>,
) -> Result<Option<WorkEmail>, MappingErrorKind> {
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
/// ("The Genesys Cloud Other Phone field must be the user's primary phone", genesys-api-notes §1.5).
pub(super) fn map_phones(
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
            Some(raw) => Some(normalise_number_for(&raw, cfg.default_country, cfg.api).map_err(|problem| {
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
        match normalise_number_for(value, cfg.default_country, cfg.api) {
            Ok(number) => phones.push(Phone { kind, number, primary: is_primary(element) }),
            Err(problem) => notes.push(dropped(PhoneDrop::Unusable(problem))),
        }
    }
    phones.sort_by_key(|p| p.kind);
    if let Some(number) = eight {
        let primary = match cfg.number_primary {
            NumberPrimary::Always => true,
            NumberPrimary::AsSent => {
                consumed.and_then(|i| array(user, "phoneNumbers").ok()?.get(i)).is_some_and(is_primary)
            }
        };
        if primary {
            phones.iter_mut().for_each(|p| p.primary = false);
        }
        phones.push(Phone { kind: PhoneKind::EightByEight, number, primary });
    }
    Ok(phones)
}

/// The value at the number source as text: a string, or (leniently, for extension attributes
/// typed as numbers) a whole number. Empty means absent.
pub(super) fn number_text(value: &Value, source: &NumberSource) -> Result<Option<String>, MappingErrorKind> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Value::Number(n) if n.is_u64() => Ok(Some(n.to_string())),
        _ => Err(MappingErrorKind::NumberSourceNotText { path: source.as_str().to_string() }),
    }
}

/// `manager.value` is the manager's id in the bridge (RFC 7643 §4.3); Genesys wants its own user
/// id. Entra's plain-string manager has already become `{value}` in the store.
pub(super) fn map_manager<I: GenesysIds + ?Sized>(
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

/// Attributes Genesys's SCIM user has and the mapping sends (genesys-api-notes §1.3).
pub(super) const FORWARDED: [&str; 7] =
    ["userName", "displayName", "active", "title", "externalId", "emails", "phoneNumbers"];
/// Server-side bookkeeping, never sent: ids and meta are Genesys's own, `groups` is read-only,
/// `password` is never stored.
pub(super) const BOOKKEEPING: [&str; 5] = ["schemas", "id", "meta", "groups", "password"];
pub(super) const FORWARDED_ENTERPRISE: [&str; 4] = ["division", "department", "manager", "employeeNumber"];
/// Attributes Genesys has that the bridge does not send (see [`NotForwarded::KeptByGenesys`]).
pub(super) const KEPT_BY_GENESYS: [&str; 2] = ["roles", GENESYS_USER_URN];
pub(super) const KEPT_BY_GENESYS_ENTERPRISE: [&str; 1] = ["dateHire"];
/// Genesys's own user extension (genesys-api-notes §1.2).
pub(super) const GENESYS_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User";

pub(super) fn note_unforwarded(
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

/// A string attribute, trimmed; absent, null and blank are None.
pub(super) fn text(map: &Map<String, Value>, name: &str) -> Result<Option<String>, MappingErrorKind> {
    match get_ci(map, name).map(|(_, v)| v) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(_) => Err(MappingErrorKind::WrongType { attribute: name.to_string(), expected: "a string" }),
    }
}

pub(super) fn object<'d>(
    map: &'d Map<String, Value>,
    name: &str,
) -> Result<Option<&'d Map<String, Value>>, MappingErrorKind> {
    match get_ci(map, name).map(|(_, v)| v) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(MappingErrorKind::WrongType { attribute: name.to_string(), expected: "an object" }),
    }
}

pub(super) fn array<'d>(map: &'d Map<String, Value>, name: &str) -> Result<&'d [Value], MappingErrorKind> {
    match get_ci(map, name).map(|(_, v)| v) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(MappingErrorKind::WrongType { attribute: name.to_string(), expected: "an array" }),
    }
}

pub(super) fn object_member<'d>(map: &'d Map<String, Value>, name: &str) -> Option<&'d Map<String, Value>> {
    get_ci(map, name).and_then(|(_, v)| v.as_object())
}

/// Prefix a [`MappingErrorKind::WrongType`] attribute with its parent (`emails.type`).
pub(super) fn qualify(kind: MappingErrorKind, parent: &str) -> MappingErrorKind {
    match kind {
        MappingErrorKind::WrongType { attribute, expected } => {
            let sep = if parent.starts_with("urn:") { ':' } else { '.' };
            MappingErrorKind::WrongType { attribute: format!("{parent}{sep}{attribute}"), expected }
        }
        other => other,
    }
}

/// The elements of a multi-valued attribute with their indexes, `primary` ones first (stable).
pub(super) fn primary_first(items: &[Value]) -> impl Iterator<Item = (usize, &Value)> {
    let (primary, rest): (Vec<_>, Vec<_>) = items.iter().enumerate().partition(|(_, e)| is_primary(e));
    primary.into_iter().chain(rest)
}

/// Genesys's `userName` is the login e-mail (genesys-api-notes §1.3): one `@` with something on each side and
/// no whitespace. Genesys checks the rest.
pub(super) fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// IdP-chosen names (attribute names, type values) as they go into notes: bounded, printable.
pub(super) fn for_note(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(100).collect()
}

pub(super) fn strip_prefix_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    s.get(..prefix.len()).filter(|p| p.eq_ignore_ascii_case(prefix)).map(|_| &s[prefix.len()..])
}

/// Entra sends extension attributes as flattened `urn:…:User:attr` keys (docs/idp-notes.md §4.1
/// items 5–6). The store folds them into the object under the URN for the extensions it models;
/// for one it does not model the key stays as sent, so the number source looks there too.
pub(super) fn quirk_flattened_unmodelled_extension<'d>(
    user: &'d Map<String, Value>,
    namespace: &PatchNamespace,
    name: &str,
) -> Option<&'d Value> {
    let PatchNamespace::Unmodelled(urn) = namespace else {
        return None;
    };
    get_ci(user, &format!("{urn}:{name}")).map(|(_, v)| v)
}
