//! Reading a SCIM user body (a POST or PUT body, or a user's JSON after a PATCH) into Genesys's
//! user model, and writing it over a user.
//!
//! Fidelity decisions (the section of docs/genesys-api-notes.md in brackets):
//! * The user model is Genesys's (§1.3): no `name`, `addresses`, `nickName`, ...; such
//!   attributes are ignored and counted in `Stats::ignored_attributes` (Genesys's behaviour is
//!   unverified). `userName` (an e-mail address) and `displayName` are required on POST and PUT.
//! * Phones (§1.4, §1.5): `type` must be one of the 11 values (any case; `eighbyeight` is
//!   refused); a phone without `type` is not mapped (HELP-MAP: the filter sub-attribute is
//!   mandatory) and is ignored. `other`/`eightbyeight`/`microsoftteams`/`zoomphone`/
//!   `ringcentral` all write the one Other Phone; it reads back with the type it was last
//!   written as through SCIM. Two phones for one field: the last wins (counted in
//!   `Stats::phone_slot_conflicts`). The only phone is primary.
//! * E-mails (§1.3, §1.4): `work` is the work e-mail; `other` is the userName, read-only, so
//!   writes of it are ignored; it is shown on reads.
//! * A PUT clears the read-write attributes it leaves out, or keeps them with the leniency
//!   `put-keeps-omitted` (§11 [unknown]; see [`Mode`]).
//! * Division by name (§0 item 4), created on first use (a leniency). The Genesys extension's
//!   `externalIds` entries with the SCIM authority `x-pc:scimv2:v1` are the server's and are not
//!   written (§2.3).
//! * Roles (§12): `roles` values are role names, matched to the catalogue exactly and
//!   case-insensitively; an unknown name is 400 ScimError `invalidValue` naming it, and nothing
//!   is written (strict: how Genesys answers is [unknown]). A create without roles (or with `[]`
//!   or `null`) gets `employee` (§12 [community]); with roles, exactly those. A PUT or patched
//!   user carrying `roles` makes them the user's whole set of direct roles (§12 [inferred]): a
//!   role it does not name loses its grants (in every division), a role it names and the user
//!   does not hold is granted in the home division. A PUT without `roles` clears them like the
//!   other read-write attributes, or keeps them with `put-keeps-omitted`. A write that makes the
//!   user inactive drops every grant whatever it carries (§16); see [`RolesWrite`].
//!
//! Must not import: actix, or anything of the bridge.

use serde_json::{Map, Value, json};

use super::{ENTERPRISE, GENESYS, SCIM_AUTHORITY, lenient_bool, looks_like_email, opt_string};
use crate::Inner;
use crate::patch::get_ci;
use crate::roles::EMPLOYEE;
use crate::store::{HOME_DIVISION_ID, Phone, PhoneSlot, SimUser, Store, UserState};
use crate::wire::ApiError;

/// One phone of a SCIM body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PhoneIn {
    slot: PhoneSlot,
    written_as: &'static str,
    number: String,
    primary: bool,
}

/// The Genesys-modelled content of a SCIM user body.
#[derive(Debug, Default)]
pub(super) struct UserInput {
    user_name: Option<String>,
    display_name: Option<String>,
    active: Option<bool>,
    title: Option<String>,
    external_id: Option<String>,
    work_email: Option<(String, bool)>,
    phones: Vec<PhoneIn>,
    roles: Option<Vec<String>>,
    division: Option<String>,
    department: Option<String>,
    manager: Option<String>,
    employee_number: Option<String>,
    date_hire: Option<String>,
    routing_skills: Vec<Value>,
    routing_languages: Vec<Value>,
    external_ids: Vec<Value>,
    ignored: Vec<String>,
    slot_conflicts: u64,
    /// The read-write attributes the body names (even as `null`), for a PUT that keeps what it
    /// leaves out (`Mode::Replace { keep_omitted: true }`).
    present: Vec<Attr>,
}

/// A read-write attribute a PUT may leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attr {
    Title,
    ExternalId,
    Emails,
    PhoneNumbers,
    Department,
    Manager,
    EmployeeNumber,
    DateHire,
    RoutingSkills,
    RoutingLanguages,
    ExternalIds,
}

impl UserInput {
    /// The attributes of the body that Genesys does not model (ignored).
    pub(super) fn ignored(&self) -> &[String] {
        &self.ignored
    }
}

/// Read a SCIM user document (attribute names in any case); what Genesys does not model goes to
/// `ignored`.
pub(super) fn read_user(doc: &Map<String, Value>) -> Result<UserInput, ApiError> {
    let mut input = UserInput::default();
    for (key, value) in doc {
        match key.to_ascii_lowercase().as_str() {
            // readOnly, writeOnly (a password is accepted and not kept) or server-owned.
            "schemas" | "id" | "meta" | "groups" | "password" => {}
            "username" => input.user_name = opt_string(value, "userName")?,
            "displayname" => input.display_name = opt_string(value, "displayName")?,
            "active" => {
                input.active = match value {
                    Value::Null => None,
                    v => Some(
                        lenient_bool(v)
                            .ok_or_else(|| ApiError::invalid_value(&v.to_string(), "active", "true, false"))?,
                    ),
                }
            }
            "title" => {
                input.present.push(Attr::Title);
                input.title = opt_string(value, "title")?;
            }
            "externalid" => {
                input.present.push(Attr::ExternalId);
                input.external_id = opt_string(value, "externalId")?;
            }
            "emails" => {
                input.present.push(Attr::Emails);
                read_emails(value, &mut input)?;
            }
            "phonenumbers" => {
                input.present.push(Attr::PhoneNumbers);
                read_phones(value, &mut input)?;
            }
            "roles" => input.roles = Some(read_roles(value)?),
            k if k == ENTERPRISE.to_ascii_lowercase() => read_enterprise(value, &mut input)?,
            k if k == GENESYS.to_ascii_lowercase() => read_genesys(value, &mut input)?,
            k if k.starts_with(&format!("{}:", ENTERPRISE.to_ascii_lowercase())) => {
                let attr = &key[ENTERPRISE.len() + 1..];
                let mut one = Map::new();
                one.insert(attr.to_string(), value.clone());
                read_enterprise(&Value::Object(one), &mut input)?;
            }
            _ => input.ignored.push(key.clone()),
        }
    }
    Ok(input)
}

fn read_emails(value: &Value, input: &mut UserInput) -> Result<(), ApiError> {
    let items = match value {
        Value::Null => return Ok(()),
        Value::Array(items) => items,
        other => return Err(ApiError::invalid_value(&other.to_string(), "emails", "a list of emails")),
    };
    for e in items {
        let Some(e) = e.as_object() else {
            return Err(ApiError::invalid_value(&e.to_string(), "emails", "objects {value, type, primary}"));
        };
        let Some(kind) = get_ci(e, "type").and_then(Value::as_str) else {
            input.ignored.push("emails (no type)".into());
            continue;
        };
        match kind.to_ascii_lowercase().as_str() {
            "work" => {
                if let Some(v) = get_ci(e, "value").map(|v| opt_string(v, "emails.value")).transpose()?.flatten() {
                    let primary = get_ci(e, "primary").and_then(lenient_bool).unwrap_or(false);
                    input.work_email = Some((v, primary));
                }
            }
            // The userName, read-only (genesys-api-notes §1.4): not written.
            "other" => {}
            other => return Err(ApiError::invalid_value(other, "ScimEmail.type", "work, other")),
        }
    }
    Ok(())
}

fn read_phones(value: &Value, input: &mut UserInput) -> Result<(), ApiError> {
    let items = match value {
        Value::Null => return Ok(()),
        Value::Array(items) => items,
        other => return Err(ApiError::invalid_value(&other.to_string(), "phoneNumbers", "a list of phone numbers")),
    };
    for p in items {
        let Some(p) = p.as_object() else {
            return Err(ApiError::invalid_value(&p.to_string(), "phoneNumbers", "objects {value, type, primary}"));
        };
        let Some(kind) = get_ci(p, "type").and_then(Value::as_str) else {
            input.ignored.push("phoneNumbers (no type)".into());
            continue;
        };
        let Some((slot, written_as)) = PhoneSlot::from_scim_type(kind) else {
            return Err(ApiError::invalid_value(
                kind,
                "ScimPhoneNumber.type",
                "work, work2, work3, work4, home, mobile, other, microsoftteams, zoomphone, eightbyeight, ringcentral",
            ));
        };
        let Some(number) = get_ci(p, "value").map(|v| opt_string(v, "phoneNumbers.value")).transpose()?.flatten()
        else {
            continue;
        };
        if !number.chars().any(|c| c.is_ascii_digit()) {
            return Err(ApiError::invalid_value(&number, "phoneNumbers.value", "an E.164 number or a tel URI"));
        }
        let primary = get_ci(p, "primary").and_then(lenient_bool).unwrap_or(false);
        if let Some(i) = input.phones.iter().position(|x| x.slot == slot) {
            input.phones.remove(i);
            input.slot_conflicts += 1;
        }
        input.phones.push(PhoneIn { slot, written_as, number, primary });
    }
    Ok(())
}

fn read_roles(value: &Value) -> Result<Vec<String>, ApiError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => return Err(ApiError::invalid_value(&other.to_string(), "roles", "a list of {value}")),
    };
    let mut out = Vec::new();
    for r in items {
        let name = match r {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => get_ci(o, "value").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        match name {
            Some(n) if !n.trim().is_empty() => {
                if !out.iter().any(|x: &String| x.eq_ignore_ascii_case(&n)) {
                    out.push(n);
                }
            }
            _ => return Err(ApiError::invalid_value(&r.to_string(), "roles", "objects {value: role name}")),
        }
    }
    Ok(out)
}

fn read_enterprise(value: &Value, input: &mut UserInput) -> Result<(), ApiError> {
    let obj = match value {
        Value::Null => return Ok(()),
        Value::Object(o) => o,
        other => return Err(ApiError::invalid_value(&other.to_string(), ENTERPRISE, "an object")),
    };
    for (k, v) in obj {
        match k.to_ascii_lowercase().as_str() {
            "division" => input.division = opt_string(v, "division")?,
            "department" => {
                input.present.push(Attr::Department);
                input.department = opt_string(v, "department")?;
            }
            "employeenumber" => {
                input.present.push(Attr::EmployeeNumber);
                input.employee_number = opt_string(v, "employeeNumber")?;
            }
            "datehire" => {
                input.present.push(Attr::DateHire);
                input.date_hire = opt_string(v, "dateHire")?;
                if let Some(d) = &input.date_hire
                    && !is_date(d)
                {
                    return Err(ApiError::invalid_value(d, "dateHire", "a date YYYY-MM-DD"));
                }
            }
            "manager" => {
                input.present.push(Attr::Manager);
                input.manager = match v {
                    Value::Object(m) => {
                        get_ci(m, "value").map(|x| opt_string(x, "manager.value")).transpose()?.flatten()
                    }
                    other => opt_string(other, "manager")?,
                }
            }
            _ => input.ignored.push(format!("{ENTERPRISE}:{k}")),
        }
    }
    Ok(())
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn read_genesys(value: &Value, input: &mut UserInput) -> Result<(), ApiError> {
    let obj = match value {
        Value::Null => return Ok(()),
        Value::Object(o) => o,
        other => return Err(ApiError::invalid_value(&other.to_string(), GENESYS, "an object")),
    };
    for (k, v) in obj {
        let list = || -> Result<Vec<Value>, ApiError> {
            match v {
                Value::Null => Ok(Vec::new()),
                Value::Array(items) => Ok(items.clone()),
                other => Err(ApiError::invalid_value(&other.to_string(), k, "a list")),
            }
        };
        match k.to_ascii_lowercase().as_str() {
            "routingskills" | "routinglanguages" => {
                let items = list()?;
                if items.len() > 50 {
                    return Err(ApiError::bad_request(format!("{k}: at most 50 entries are allowed")));
                }
                if let Some(bad) = items.iter().find(|i| !i.get("name").is_some_and(Value::is_string)) {
                    return Err(ApiError::invalid_value(&bad.to_string(), k, "objects {name, proficiency}"));
                }
                if k.eq_ignore_ascii_case("routingSkills") {
                    input.present.push(Attr::RoutingSkills);
                    input.routing_skills = items;
                } else {
                    input.present.push(Attr::RoutingLanguages);
                    input.routing_languages = items;
                }
            }
            "externalids" => {
                let mut ids = Vec::new();
                for i in list()? {
                    let authority = i.get("authority").and_then(Value::as_str);
                    let value = i.get("value").and_then(Value::as_str);
                    match (authority, value) {
                        // The SCIM authority is the server's (immutable): not written here.
                        (Some(a), Some(_)) if a.starts_with(SCIM_AUTHORITY) => {}
                        (Some(a), Some(v)) => ids.push(json!({"authority": a, "value": v})),
                        _ => {
                            return Err(ApiError::invalid_value(
                                &i.to_string(),
                                "externalIds",
                                "objects {authority, value}",
                            ));
                        }
                    }
                }
                input.present.push(Attr::ExternalIds);
                input.external_ids = ids;
            }
            _ => input.ignored.push(format!("{GENESYS}:{k}")),
        }
    }
    Ok(())
}

/// Whether a create or a replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Create,
    /// A PUT body or a patched user. `keep_omitted`: the attributes the body leaves out keep
    /// their values (the leniency `put-keeps-omitted`); otherwise they are cleared (RFC 7644
    /// §3.5.1; genesys-api-notes §11 [unknown]). `roles` follow the same rule. `active` and the
    /// division left out are kept either way: a Genesys user always has a state and a division.
    Replace {
        keep_omitted: bool,
    },
}

/// What a SCIM write does to the user's direct roles; grants are not part of the user's record,
/// so they are written by [`write_roles`] once the user is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RolesWrite {
    /// The roles the user holds stay as they are.
    Keep,
    /// These roles (ids, resolved from the names) become the user's whole set of direct roles.
    Set(Vec<String>),
}

/// The ids of the roles named, or 400 ScimError `invalidValue` naming the first unknown one.
fn resolve_roles(store: &Store, names: &[String]) -> Result<Vec<String>, ApiError> {
    names
        .iter()
        .map(|n| {
            store.role_by_name(n).map(|r| r.id.clone()).ok_or_else(|| {
                ApiError::scim_invalid_value(format!(
                    "The role {n:?} does not exist: roles are matched by their exact name (any case); \
                     GET /api/v2/authorization/roles lists them"
                ))
            })
        })
        .collect()
}

/// Write the roles of a stored SCIM write. `before` is the user's state before the write: a
/// write that made the user inactive has dropped its grants (the store did), and what it
/// carries is not granted again (genesys-api-notes §16).
pub(super) fn write_roles(store: &mut Store, user_id: &str, before: Option<UserState>, roles: RolesWrite) {
    let RolesWrite::Set(ids) = roles else {
        return;
    };
    let Some(now) = store.user(user_id).map(|u| u.state) else {
        return;
    };
    if before.is_some_and(|b| b != now && now != UserState::Active) {
        return;
    }
    store.subject_mut(user_id).set_roles(&ids, HOME_DIVISION_ID, time::OffsetDateTime::now_utc());
}

/// Write `input` over `user` (a new user for create, a copy of the stored one for replace); what
/// to do with its roles once it is stored.
pub(super) fn write_user(
    store: &mut Store,
    user: &mut SimUser,
    input: UserInput,
    mode: Mode,
) -> Result<RolesWrite, ApiError> {
    let Some(user_name) = input.user_name else {
        return Err(ApiError::bad_request("The attribute userName is required"));
    };
    if !looks_like_email(&user_name) {
        return Err(ApiError::invalid_value(&user_name, "userName", "the user's e-mail address"));
    }
    let Some(display_name) = input.display_name else {
        return Err(ApiError::bad_request("The attribute displayName is required"));
    };
    user.user_name = user_name;
    user.display_name = display_name;
    match input.active {
        Some(true) => user.state = UserState::Active,
        Some(false) => user.state = UserState::Inactive,
        None => {}
    }
    let keep_omitted = matches!(mode, Mode::Replace { keep_omitted: true });
    let present = input.present;
    let write = |a: Attr| !keep_omitted || present.contains(&a);
    if write(Attr::Title) {
        user.title = input.title;
    }
    if write(Attr::ExternalId) {
        user.external_id = input.external_id;
    }
    if write(Attr::Emails) {
        user.work_email_primary = input.work_email.as_ref().is_some_and(|(_, p)| *p);
        user.work_email = input.work_email.map(|(e, _)| e);
    }
    if write(Attr::PhoneNumbers) {
        write_phones(user, input.phones);
    }
    let roles = match (input.roles, mode) {
        (Some(names), Mode::Create) if names.is_empty() => RolesWrite::Set(resolve_roles(store, &[EMPLOYEE.into()])?),
        (None, Mode::Create) => RolesWrite::Set(resolve_roles(store, &[EMPLOYEE.into()])?),
        (Some(names), _) => RolesWrite::Set(resolve_roles(store, &names)?),
        (None, Mode::Replace { keep_omitted: true }) => RolesWrite::Keep,
        (None, Mode::Replace { keep_omitted: false }) => RolesWrite::Set(Vec::new()),
    };
    if let Some(d) = input.division {
        user.division_id = store.division_by_name(&d);
    }
    if write(Attr::Department) {
        user.department = input.department;
    }
    if write(Attr::Manager) {
        user.manager = input.manager;
    }
    if write(Attr::EmployeeNumber) {
        user.employee_number = input.employee_number;
    }
    if write(Attr::DateHire) {
        user.date_hire = input.date_hire;
    }
    if write(Attr::RoutingSkills) {
        user.routing_skills = input.routing_skills;
    }
    if write(Attr::RoutingLanguages) {
        user.routing_languages = input.routing_languages;
    }
    if write(Attr::ExternalIds) {
        user.external_ids = input.external_ids;
    }
    Ok(roles)
}

/// SCIM writes the phone fields it knows; Platform-only details (extension, country code,
/// integration tag) of a number that did not change are kept.
fn write_phones(user: &mut SimUser, phones: Vec<PhoneIn>) {
    let old = std::mem::take(&mut user.phones);
    user.primary_slot = None;
    let mut other_as = None;
    for p in phones {
        let mut phone = old.get(&p.slot).cloned().unwrap_or_default();
        if phone.number.as_deref() != Some(p.number.as_str()) {
            phone = Phone::number(p.number);
        }
        user.phones.insert(p.slot, phone);
        if p.primary {
            user.primary_slot = Some(p.slot);
        }
        if p.slot == PhoneSlot::Other {
            other_as = Some(p.written_as);
        }
    }
    user.other_written_as = other_as.unwrap_or("other");
}

/// Count what a body had that Genesys does not keep (`Stats::ignored_attributes`,
/// `Stats::phone_slot_conflicts`).
pub(super) fn record_input_stats(inner: &mut Inner, input: &UserInput) {
    for name in &input.ignored {
        *inner.stats.ignored_attributes.entry(name.clone()).or_default() += 1;
    }
    inner.stats.phone_slot_conflicts += input.slot_conflicts;
}
