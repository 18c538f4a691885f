//! Genesys's SCIM 2.0 server as genesys-api-notes §1 describes it, under `/api/v2/scim/v2` (lower-case
//! segments only): users, groups (no POST/DELETE), `/serviceproviderconfig`, `/resourcetypes`,
//! `/schemas`.
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
//! * Division by name (§0 item 4), created on first use (a leniency). Roles default to
//!   `employee` (§1.11). The Genesys extension's `externalIds` always shows the SCIM authority
//!   `x-pc:scimv2:v1` with the `externalId` (the exact authority string is unverified, §2.3).
//! * Lists (§1.7, §1.8): no filter lists active users only; a filter lists matching non-deleted
//!   users. Filters: `attr eq value` terms joined by `and`, values quoted or bare (Genesys's own
//!   examples are bare, `userName eq search@sample.org`), on `id`, `userName`, `externalId`,
//!   `active`, `email`, `division`, `manager`, `employeeNumber`, `displayName`, `title`,
//!   `department`, and `urn:...:genesys:purecloud:2.0:User:externalIds[authority eq "a" and
//!   value eq "v"]`; anything else is 400 (other operators are unverified). `count` over 25
//!   without `attributes`/`excludedAttributes` is answered 429 unless the fault setting
//!   `large_page_429` is off. Groups require `filter` (400 without).
//! * Versions (§1.9): `meta.version` is the integer as a string, `ETag: "N"`; `If-Match`
//!   accepts `"N"`, `W/"N"`, `N` and `*`; a mismatch is 409 ScimError (or 400 `invalidVers`, a
//!   fault setting); `If-None-Match` equal to the version is 304.
//! * DELETE is a soft delete (§1.10): 204; the user leaves its groups, is hidden from SCIM, and
//!   its userName is free again.
//! * Errors (§1.12): ErrorBody except the 409s (ScimError).
//!
//! Must not import: actix, `crate::store`, `crate::http`.

use serde_json::{Map, Value, json};

use super::faults::bump;
use super::patch::{self, get_ci};
use super::store::{PhoneSlot, SimGroup, SimUser, Store, StoreError, UserState};
use super::wire::{Answer, ApiError, Reply};
use super::{Ctx, Inner};

pub(crate) const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(crate) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub(crate) const GENESYS: &str = "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User";
const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The authority Genesys puts in front of the SCIM `externalId` (genesys-api-notes §1.3; exact string unverified).
const SCIM_AUTHORITY: &str = "x-pc:scimv2:v1";
/// The SCIM base path.
pub(crate) const BASE: &str = "/api/v2/scim/v2";

/// Timestamps as Genesys writes them: `yyyy-MM-ddTHH:mm:ss.SSSZ`.
/// A boolean as Genesys reads it: JSON `true`/`false`, or the strings `"true"`/`"false"` in
/// any case (Entra sends `"True"`; Genesys's SCIM API accepts it).
fn lenient_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

pub(crate) fn iso(t: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(time::UtcOffset::UTC).format(&fmt).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/// A user as `ScimV2User`.
pub(crate) fn render_user(store: &Store, u: &SimUser, base: &str) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("schemas".into(), json!([CORE_USER, ENTERPRISE, GENESYS]));
    m.insert("active".into(), json!(u.state == UserState::Active));
    m.insert("userName".into(), json!(u.user_name));
    m.insert("displayName".into(), json!(u.display_name));
    if let Some(t) = &u.title {
        m.insert("title".into(), json!(t));
    }
    let primary = u.primary_phone();
    let phones: Vec<Value> = u
        .phones
        .iter()
        .filter_map(|(slot, p)| {
            let kind = if *slot == PhoneSlot::Other { u.other_written_as } else { slot.scim_type() };
            let value = match (&p.number, &p.extension) {
                (Some(n), _) => n.clone(),
                (None, Some(e)) => format!("tel:;ext={e}"),
                (None, None) => return None,
            };
            let mut phone = json!({"type": kind, "value": value});
            if primary == Some(*slot) {
                phone["primary"] = json!(true);
            }
            Some(phone)
        })
        .collect();
    if !phones.is_empty() {
        m.insert("phoneNumbers".into(), Value::Array(phones));
    }
    let mut emails = Vec::new();
    if let Some(w) = &u.work_email {
        let mut e = json!({"type": "work", "value": w});
        if u.work_email_primary {
            e["primary"] = json!(true);
        }
        emails.push(e);
    }
    emails.push(json!({"type": "other", "value": u.user_name}));
    m.insert("emails".into(), Value::Array(emails));
    if let Some(x) = &u.external_id {
        m.insert("externalId".into(), json!(x));
    }
    let groups: Vec<Value> = store
        .groups_of(&u.id)
        .map(|g| json!({"type": "Group", "value": g.id, "$ref": format!("{base}{BASE}/groups/{}", g.id)}))
        .collect();
    if !groups.is_empty() {
        m.insert("groups".into(), Value::Array(groups));
    }
    m.insert("roles".into(), Value::Array(u.roles.iter().map(|r| json!({"value": r})).collect()));
    let mut ent = Map::new();
    ent.insert("division".into(), json!(store.division_name(&u.division_id)));
    if let Some(d) = &u.department {
        ent.insert("department".into(), json!(d));
    }
    if let Some(id) = &u.manager {
        ent.insert("manager".into(), json!({"value": id, "$ref": format!("{base}{BASE}/users/{id}")}));
    }
    if let Some(n) = &u.employee_number {
        ent.insert("employeeNumber".into(), json!(n));
    }
    if let Some(d) = &u.date_hire {
        ent.insert("dateHire".into(), json!(d));
    }
    m.insert(ENTERPRISE.into(), Value::Object(ent));
    let mut gen_ext = Map::new();
    if !u.routing_skills.is_empty() {
        gen_ext.insert("routingSkills".into(), Value::Array(u.routing_skills.clone()));
    }
    if !u.routing_languages.is_empty() {
        gen_ext.insert("routingLanguages".into(), Value::Array(u.routing_languages.clone()));
    }
    let mut ids = Vec::new();
    if let Some(x) = &u.external_id {
        ids.push(json!({"authority": SCIM_AUTHORITY, "value": x}));
    }
    ids.extend(u.external_ids.iter().cloned());
    if !ids.is_empty() {
        gen_ext.insert("externalIds".into(), Value::Array(ids));
    }
    if !gen_ext.is_empty() {
        m.insert(GENESYS.into(), Value::Object(gen_ext));
    }
    m.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "lastModified": iso(u.modified),
            "location": format!("{base}{BASE}/users/{}", u.id),
            "version": u.version.to_string(),
        }),
    );
    Value::Object(m)
}

/// A group as `ScimV2Group`.
pub(crate) fn render_group(g: &SimGroup, base: &str) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(g.id));
    m.insert("schemas".into(), json!([CORE_GROUP]));
    m.insert("displayName".into(), json!(g.display_name));
    if let Some(x) = &g.external_id {
        m.insert("externalId".into(), json!(x));
    }
    let members: Vec<Value> = g
        .members
        .iter()
        .map(|id| json!({"type": "User", "value": id, "$ref": format!("{base}{BASE}/users/{id}")}))
        .collect();
    m.insert("members".into(), Value::Array(members));
    m.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "lastModified": iso(g.modified),
            "location": format!("{base}{BASE}/groups/{}", g.id),
            "version": g.version.to_string(),
        }),
    );
    Value::Object(m)
}

// ---------------------------------------------------------------------------------------------
// Reading a SCIM user body
// ---------------------------------------------------------------------------------------------

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
struct UserInput {
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
}

/// A string attribute: `null` and `""` are unassigned; numbers and booleans are written as text.
fn opt_string(v: &Value, field: &str) -> Result<Option<String>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(ApiError::invalid_value(&other.to_string(), field, "a string")),
    }
}

fn read_user(doc: &Map<String, Value>) -> Result<UserInput, ApiError> {
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
            "title" => input.title = opt_string(value, "title")?,
            "externalid" => input.external_id = opt_string(value, "externalId")?,
            "emails" => read_emails(value, &mut input)?,
            "phonenumbers" => read_phones(value, &mut input)?,
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
            "department" => input.department = opt_string(v, "department")?,
            "employeenumber" => input.employee_number = opt_string(v, "employeeNumber")?,
            "datehire" => {
                input.date_hire = opt_string(v, "dateHire")?;
                if let Some(d) = &input.date_hire
                    && !is_date(d)
                {
                    return Err(ApiError::invalid_value(d, "dateHire", "a date YYYY-MM-DD"));
                }
            }
            "manager" => {
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
                    input.routing_skills = items;
                } else {
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
                input.external_ids = ids;
            }
            _ => input.ignored.push(format!("{GENESYS}:{k}")),
        }
    }
    Ok(())
}

/// Whether a create or a replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Replace,
}

/// Write `input` over `user` (a new user for create, a copy of the stored one for replace).
fn write_user(store: &mut Store, user: &mut SimUser, input: UserInput, mode: Mode) -> Result<(), ApiError> {
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
    user.title = input.title;
    user.external_id = input.external_id;
    user.work_email_primary = input.work_email.as_ref().is_some_and(|(_, p)| *p);
    user.work_email = input.work_email.map(|(e, _)| e);
    // SCIM writes the phone fields it knows; Platform-only details (extension, country code,
    // integration tag) of a number that did not change are kept.
    let old = std::mem::take(&mut user.phones);
    user.primary_slot = None;
    let mut other_as = None;
    for p in input.phones {
        let mut phone = old.get(&p.slot).cloned().unwrap_or_default();
        if phone.number.as_deref() != Some(p.number.as_str()) {
            phone = super::store::Phone::number(p.number);
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
    match (input.roles, mode) {
        (Some(r), _) => user.roles = r,
        (None, Mode::Create) => user.roles = vec!["employee".to_string()],
        (None, Mode::Replace) => {}
    }
    if let Some(d) = input.division {
        user.division_id = store.division_by_name(&d);
    }
    user.department = input.department;
    user.manager = input.manager;
    user.employee_number = input.employee_number;
    user.date_hire = input.date_hire;
    user.routing_skills = input.routing_skills;
    user.routing_languages = input.routing_languages;
    user.external_ids = input.external_ids;
    Ok(())
}

/// Genesys userNames are e-mail addresses (genesys-api-notes §1.3).
pub(crate) fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !s.chars().any(char::is_whitespace),
        None => false,
    }
}

fn record_input_stats(inner: &mut Inner, input: &UserInput) {
    for name in &input.ignored {
        *inner.stats.ignored_attributes.entry(name.clone()).or_default() += 1;
    }
    inner.stats.phone_slot_conflicts += input.slot_conflicts;
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

/// The version in an `If-Match`/`If-None-Match` value: `"3"`, `W/"3"`, `3`; `*` is any.
fn etag_matches(header: &str, version: u64) -> bool {
    header.split(',').any(|tag| {
        let t = tag.trim();
        if t == "*" {
            return true;
        }
        let t = t.strip_prefix("W/").unwrap_or(t);
        t.trim_matches('"').trim() == version.to_string()
    })
}

fn check_if_match(inner: &Inner, ctx: &Ctx, version: u64) -> Result<(), ApiError> {
    match ctx.if_match {
        Some(h) if !etag_matches(h, version) => {
            Err(ApiError::scim_version_mismatch(inner.faults.version_conflict_status))
        }
        _ => Ok(()),
    }
}

/// A live (non-deleted) user by id, or 404.
fn live_user<'s>(store: &'s Store, id: &str) -> Result<&'s SimUser, ApiError> {
    store.user(id).filter(|u| u.state != UserState::Deleted).ok_or_else(ApiError::not_found)
}

fn user_reply(store: &Store, u: &SimUser, base: &str, status: u16) -> Reply {
    Reply::scim(status, render_user(store, u, base)).etag(u.version)
}

/// Create a user from a SCIM body (POST, and seed files); the stored user's id.
pub(crate) fn insert_user(inner: &mut Inner, doc: &Map<String, Value>) -> Result<String, ApiError> {
    let input = read_user(doc)?;
    record_input_stats(inner, &input);
    let mut user = SimUser::new(String::new(), String::new(), super::store::HOME_DIVISION_ID.to_string());
    write_user(&mut inner.store, &mut user, input, Mode::Create)?;
    let name = user.user_name.clone();
    let id = inner.store.insert_user(user).map_err(|_| ApiError::scim_user_name_taken())?.id.clone();
    bump(&mut inner.stats.creates_by_user_name, &name);
    Ok(id)
}

/// `POST /users`.
pub(crate) fn create_user(inner: &mut Inner, ctx: &Ctx) -> Answer {
    let body = ctx.json_body(true)?;
    let Some(doc) = body.as_object() else {
        return Err(ApiError::bad_request("The body must be a JSON object"));
    };
    let id = insert_user(inner, doc)?;
    let created = live_user(&inner.store, &id)?;
    Ok(user_reply(&inner.store, created, &ctx.base, 201).header("location", format!("{}{BASE}/users/{id}", ctx.base)))
}

/// `GET /users/{id}`.
pub(crate) fn get_user(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let u = live_user(&inner.store, id)?;
    if ctx.if_none_match.is_some_and(|h| etag_matches(h, u.version)) {
        return Ok(Reply::empty(304).etag(u.version));
    }
    let doc = project(render_user(&inner.store, u, &ctx.base), ctx, &["id", "userName", "active", "meta"]);
    Ok(Reply::scim(200, doc).etag(u.version))
}

/// Write a new state of a user through the store (409 on a userName collision) and count it.
fn commit_user(inner: &mut Inner, next: SimUser) -> Result<(), ApiError> {
    let name = next.user_name.clone();
    match inner.store.update_user(next) {
        Ok(true) => {
            bump(&mut inner.stats.updates_by_user_name, &name);
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(StoreError::UserNameTaken) => Err(ApiError::scim_user_name_taken()),
        Err(StoreError::NoSuchUser) => Err(ApiError::not_found()),
    }
}

/// `PUT /users/{id}`.
pub(crate) fn replace_user(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let current = live_user(&inner.store, id)?.clone();
    check_if_match(inner, ctx, current.version)?;
    let body = ctx.json_body(true)?;
    let Some(doc) = body.as_object() else {
        return Err(ApiError::bad_request("The body must be a JSON object"));
    };
    let input = read_user(doc)?;
    record_input_stats(inner, &input);
    let mut next = current;
    write_user(&mut inner.store, &mut next, input, Mode::Replace)?;
    commit_user(inner, next)?;
    let u = live_user(&inner.store, id)?;
    Ok(user_reply(&inner.store, u, &ctx.base, 200))
}

/// `PATCH /users/{id}`: the operations are applied to the user's SCIM JSON, which is then read
/// like a PUT body.
pub(crate) fn patch_user(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let current = live_user(&inner.store, id)?.clone();
    check_if_match(inner, ctx, current.version)?;
    let ops = patch::parse_request(&ctx.json_body(true)?)?;
    let Value::Object(mut doc) = render_user(&inner.store, &current, &ctx.base) else {
        return Err(ApiError::injected(500));
    };
    patch::apply(&mut doc, &ops, CORE_USER, &[ENTERPRISE, GENESYS])?;
    let input = read_user(&doc)?;
    record_input_stats(inner, &input);
    let mut next = current;
    write_user(&mut inner.store, &mut next, input, Mode::Replace)?;
    commit_user(inner, next)?;
    let u = live_user(&inner.store, id)?;
    Ok(user_reply(&inner.store, u, &ctx.base, 200))
}

/// `DELETE /users/{id}`: soft delete, 204.
pub(crate) fn delete_user(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let current = live_user(&inner.store, id)?.clone();
    check_if_match(inner, ctx, current.version)?;
    let name = current.user_name.clone();
    let mut next = current;
    next.state = UserState::Deleted;
    inner.store.update_user(next).map_err(|_| ApiError::not_found())?;
    bump(&mut inner.stats.deletes_by_user_name, &name);
    Ok(Reply::empty(204))
}

/// `GET /users`.
pub(crate) fn list_users(inner: &mut Inner, ctx: &Ctx) -> Answer {
    let (start, count) = paging(ctx)?;
    large_page_check(inner, ctx, count)?;
    let filter = match ctx.query_one("filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => Some(parse_filter(f)?),
        None => None,
    };
    if let Some(terms) = &filter {
        for t in terms {
            check_user_term(t)?;
        }
    }
    let store = &inner.store;
    let matching: Vec<&SimUser> = store
        .users()
        .filter(|u| u.state != UserState::Deleted)
        .filter(|u| match &filter {
            None => u.state == UserState::Active,
            Some(terms) => terms.iter().all(|t| user_matches(store, u, t)),
        })
        .collect();
    let always = ["id", "userName", "active", "meta"];
    let resources: Vec<Value> = matching
        .iter()
        .skip(start - 1)
        .take(count)
        .map(|u| project(render_user(store, u, &ctx.base), ctx, &always))
        .collect();
    Ok(Reply::scim(200, list_body(matching.len(), start, resources)))
}

fn list_body(total: usize, start: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_URN],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// `startIndex` (1-based, default 1) and `count` (default 25).
fn paging(ctx: &Ctx) -> Result<(usize, usize), ApiError> {
    let num = |name: &str, default: usize| -> Result<usize, ApiError> {
        match ctx.query_one(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(|n| n.max(0) as usize)
                .map_err(|_| ApiError::invalid_value(v, name, "an integer")),
        }
    };
    Ok((num("startIndex", 1)?.max(1), num("count", 25)?))
}

/// genesys-api-notes §1.8: "A page size over 25 may exceed internal resource limits and return a 429
/// error", unless `attributes`/`excludedAttributes` trim the secondary lookups.
fn large_page_check(inner: &Inner, ctx: &Ctx, count: usize) -> Result<(), ApiError> {
    let trimmed = !ctx.query_list("attributes").is_empty() || !ctx.query_list("excludedAttributes").is_empty();
    if inner.faults.large_page_429 && count > 25 && !trimmed {
        let mut e = ApiError::too_many_requests(inner.faults.retry_after.unwrap_or(1));
        e.message = format!(
            "Rate limit exceeded the maximum. Retry the request in [{}] seconds. A page size over 25 may exceed \
             internal resource limits; use attributes or excludedAttributes, or count <= 25",
            e.retry_after.unwrap_or(1)
        );
        return Err(e);
    }
    Ok(())
}

/// `attributes` / `excludedAttributes` (repeated or comma-separated), on top-level attributes
/// and `urn:...:attr` extension attributes. `always` are returned whatever is asked.
fn project(doc: Value, ctx: &Ctx, always: &[&str]) -> Value {
    let attributes = ctx.query_list("attributes");
    let excluded = ctx.query_list("excludedAttributes");
    let Value::Object(mut m) = doc else { return doc };
    let is_always = |k: &str| k == "schemas" || always.iter().any(|a| a.eq_ignore_ascii_case(k));
    if !attributes.is_empty() {
        let keys: Vec<String> = m.keys().cloned().collect();
        for k in keys {
            if is_always(&k) {
                continue;
            }
            let whole = attributes.iter().any(|a| a.eq_ignore_ascii_case(&k) || starts_with_ci(a, &format!("{k}.")));
            if whole {
                continue;
            }
            let subs: Vec<String> = attributes
                .iter()
                .filter(|a| starts_with_ci(a, &format!("{k}:")))
                .map(|a| a[k.len() + 1..].split('.').next().unwrap_or_default().to_string())
                .collect();
            match m.get_mut(&k) {
                Some(Value::Object(ext)) if !subs.is_empty() => {
                    ext.retain(|s, _| subs.iter().any(|x| x.eq_ignore_ascii_case(s)))
                }
                _ => {
                    m.remove(&k);
                }
            }
        }
    } else if !excluded.is_empty() {
        let keys: Vec<String> = m.keys().cloned().collect();
        for k in keys {
            if is_always(&k) {
                continue;
            }
            if excluded.iter().any(|e| e.eq_ignore_ascii_case(&k)) {
                m.remove(&k);
                continue;
            }
            let subs: Vec<String> = excluded
                .iter()
                .filter(|e| starts_with_ci(e, &format!("{k}:")))
                .map(|e| e[k.len() + 1..].to_string())
                .collect();
            if let Some(Value::Object(ext)) = m.get_mut(&k) {
                ext.retain(|s, _| !subs.iter().any(|x| x.eq_ignore_ascii_case(s)));
            }
        }
    }
    Value::Object(m)
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

/// One term of a list filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Term {
    /// `attr eq value`; `attr` lower-cased, without a schema URN.
    Eq(String, String),
    /// `...:externalIds[authority eq "a" and value eq "v"]`.
    ExternalIds { authority: Option<String>, value: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
}

fn lex(text: &str) -> Result<Vec<Tok>, ApiError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '[' => out.push(Tok::Open),
            ']' => out.push(Tok::Close),
            '(' | ')' => return Err(invalid_filter(text, "parentheses are not supported")),
            '"' => {
                let mut s = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                s.push(n);
                            }
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err(invalid_filter(text, "an unterminated string"));
                }
                out.push(Tok::Str(s));
            }
            c => {
                let mut s = String::from(c);
                while let Some(n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, '[' | ']' | '(' | ')' | '"') {
                        break;
                    }
                    s.push(*n);
                    chars.next();
                }
                out.push(Tok::Word(s));
            }
        }
    }
    Ok(out)
}

fn invalid_filter(text: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid filter [{text}]: {why}"))
}

/// The attribute name of a filter term: lower case, without a schema URN prefix.
fn attr_name(word: &str) -> String {
    let name =
        if word.to_ascii_lowercase().starts_with("urn:") { word.rsplit(':').next().unwrap_or(word) } else { word };
    // `emails.value` filters on `emails`.
    name.split('.').next().unwrap_or(name).to_ascii_lowercase()
}

/// Parse `term (and term)*`; see the module doc for what a term may be.
pub(crate) fn parse_filter(text: &str) -> Result<Vec<Term>, ApiError> {
    let toks = lex(text)?;
    let mut terms = Vec::new();
    let mut i = 0;
    let word = |t: Option<&Tok>| match t {
        Some(Tok::Word(w)) => Some(w.clone()),
        _ => None,
    };
    let value = |t: Option<&Tok>| match t {
        Some(Tok::Word(w)) | Some(Tok::Str(w)) => Some(w.clone()),
        _ => None,
    };
    loop {
        let Some(attr) = word(toks.get(i)) else {
            return Err(invalid_filter(text, "expected an attribute name"));
        };
        if toks.get(i + 1) == Some(&Tok::Open) {
            if attr_name(&attr) != "externalids" {
                return Err(invalid_filter(text, "only externalIds[...] takes a value filter"));
            }
            let close = toks[i + 2..].iter().position(|t| *t == Tok::Close).map(|p| p + i + 2);
            let Some(close) = close else {
                return Err(invalid_filter(text, "a value filter is not closed with ]"));
            };
            let inner_text: Vec<String> = toks[i + 2..close]
                .iter()
                .map(|t| match t {
                    Tok::Word(w) => w.clone(),
                    Tok::Str(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
                    Tok::Open => "[".into(),
                    Tok::Close => "]".into(),
                })
                .collect();
            let mut authority = None;
            let mut val = None;
            for t in parse_filter(&inner_text.join(" "))? {
                match t {
                    Term::Eq(a, v) if a == "authority" => authority = Some(v),
                    Term::Eq(a, v) if a == "value" => val = Some(v),
                    _ => return Err(invalid_filter(text, "externalIds[...] takes authority and value")),
                }
            }
            terms.push(Term::ExternalIds { authority, value: val });
            i = close + 1;
        } else {
            let op = word(toks.get(i + 1)).unwrap_or_default();
            if !op.eq_ignore_ascii_case("eq") {
                return Err(invalid_filter(text, "only the eq operator is supported"));
            }
            let Some(v) = value(toks.get(i + 2)) else {
                return Err(invalid_filter(text, "expected a value after eq"));
            };
            terms.push(Term::Eq(attr_name(&attr), v));
            i += 3;
        }
        match toks.get(i) {
            None => break,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("and") => i += 1,
            Some(_) => return Err(invalid_filter(text, "terms can only be joined with and")),
        }
    }
    Ok(terms)
}

const USER_FILTER_ATTRS: [&str; 12] = [
    "id",
    "username",
    "externalid",
    "active",
    "email",
    "emails",
    "division",
    "manager",
    "employeenumber",
    "displayname",
    "title",
    "department",
];

fn check_user_term(t: &Term) -> Result<(), ApiError> {
    match t {
        Term::Eq(a, v) if a == "active" && lenient_bool(&Value::String(v.clone())).is_none() => {
            Err(ApiError::invalid_value(v, "active", "true, false"))
        }
        Term::Eq(a, _) if !USER_FILTER_ATTRS.contains(&a.as_str()) => {
            Err(ApiError::bad_request(format!("Filtering on [{a}] is not supported")))
        }
        _ => Ok(()),
    }
}

fn user_matches(store: &Store, u: &SimUser, t: &Term) -> bool {
    let ci = |a: Option<&String>, b: &str| a.is_some_and(|a| a.eq_ignore_ascii_case(b));
    match t {
        Term::Eq(a, v) => match a.as_str() {
            "id" => u.id.eq_ignore_ascii_case(v),
            "username" => u.user_name.eq_ignore_ascii_case(v),
            "externalid" => u.external_id.as_deref() == Some(v.as_str()),
            "active" => lenient_bool(&Value::String(v.clone())) == Some(u.state == UserState::Active),
            "email" | "emails" => u.user_name.eq_ignore_ascii_case(v) || ci(u.work_email.as_ref(), v),
            "division" => store.division_name(&u.division_id).eq_ignore_ascii_case(v),
            "manager" => ci(u.manager.as_ref(), v),
            "employeenumber" => u.employee_number.as_deref() == Some(v.as_str()),
            "displayname" => u.display_name.eq_ignore_ascii_case(v),
            "title" => ci(u.title.as_ref(), v),
            "department" => ci(u.department.as_ref(), v),
            _ => false,
        },
        Term::ExternalIds { authority, value } => {
            let scim = u.external_id.as_ref().map(|x| json!({"authority": SCIM_AUTHORITY, "value": x}));
            u.external_ids.iter().chain(scim.as_ref()).any(|e| {
                let a_ok =
                    authority.as_ref().is_none_or(|a| e.get("authority").and_then(Value::as_str) == Some(a.as_str()));
                let v_ok = value.as_ref().is_none_or(|v| e.get("value").and_then(Value::as_str) == Some(v.as_str()));
                a_ok && v_ok
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------------

fn group_of<'s>(store: &'s Store, id: &str) -> Result<&'s SimGroup, ApiError> {
    store.group(id).ok_or_else(ApiError::not_found)
}

/// `GET /groups`: `filter` is required (genesys-api-notes §1.1).
pub(crate) fn list_groups(inner: &mut Inner, ctx: &Ctx) -> Answer {
    let Some(filter) = ctx.query_one("filter").filter(|f| !f.trim().is_empty()) else {
        return Err(ApiError::bad_request(
            "The filter parameter is required, for example filter=displayName eq \"Sales\"",
        ));
    };
    let terms = parse_filter(filter)?;
    for t in &terms {
        match t {
            Term::Eq(a, _) if ["id", "displayname", "externalid"].contains(&a.as_str()) => {}
            Term::Eq(a, _) => return Err(ApiError::bad_request(format!("Filtering groups on [{a}] is not supported"))),
            Term::ExternalIds { .. } => return Err(ApiError::bad_request("Groups have no externalIds")),
        }
    }
    let (start, count) = paging(ctx)?;
    large_page_check(inner, ctx, count)?;
    let matching: Vec<&SimGroup> = inner
        .store
        .groups()
        .iter()
        .filter(|g| {
            terms.iter().all(|t| match t {
                Term::Eq(a, v) if a == "id" => g.id.eq_ignore_ascii_case(v),
                Term::Eq(a, v) if a == "displayname" => g.display_name.eq_ignore_ascii_case(v),
                Term::Eq(_, v) => g.external_id.as_deref() == Some(v.as_str()),
                Term::ExternalIds { .. } => false,
            })
        })
        .collect();
    let resources: Vec<Value> = matching
        .iter()
        .skip(start - 1)
        .take(count)
        .map(|g| project(render_group(g, &ctx.base), ctx, &["id", "meta"]))
        .collect();
    Ok(Reply::scim(200, list_body(matching.len(), start, resources)))
}

/// `GET /groups/{id}`.
pub(crate) fn get_group(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let g = group_of(&inner.store, id)?;
    if ctx.if_none_match.is_some_and(|h| etag_matches(h, g.version)) {
        return Ok(Reply::empty(304).etag(g.version));
    }
    Ok(Reply::scim(200, project(render_group(g, &ctx.base), ctx, &["id", "meta"])).etag(g.version))
}

/// Read a group document (PUT body or patched JSON) over `current`.
fn write_group(store: &Store, current: &SimGroup, doc: &Map<String, Value>) -> Result<SimGroup, ApiError> {
    let mut next = current.clone();
    let Some(name) = get_ci(doc, "displayName").map(|v| opt_string(v, "displayName")).transpose()?.flatten() else {
        return Err(ApiError::bad_request("The attribute displayName is required"));
    };
    next.display_name = name;
    next.external_id = get_ci(doc, "externalId").map(|v| opt_string(v, "externalId")).transpose()?.flatten();
    let mut members: Vec<String> = Vec::new();
    match get_ci(doc, "members") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for m in items {
                let id = match m {
                    Value::Object(o) => get_ci(o, "value").and_then(Value::as_str).map(str::to_string),
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                };
                let Some(id) = id else {
                    return Err(ApiError::invalid_value(&m.to_string(), "members", "objects {value: user id}"));
                };
                if !store.user(&id).is_some_and(|u| u.state != UserState::Deleted) {
                    return Err(ApiError::bad_request(format!("The member [{id}] is not an existing user")));
                }
                if !members.contains(&id) {
                    members.push(id);
                }
            }
        }
        Some(other) => return Err(ApiError::invalid_value(&other.to_string(), "members", "a list")),
    }
    next.members = members;
    Ok(next)
}

/// `PUT /groups/{id}`.
pub(crate) fn replace_group(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let current = group_of(&inner.store, id)?.clone();
    check_if_match(inner, ctx, current.version)?;
    let body = ctx.json_body(true)?;
    let Some(doc) = body.as_object() else {
        return Err(ApiError::bad_request("The body must be a JSON object"));
    };
    let next = write_group(&inner.store, &current, doc)?;
    inner.store.update_group(next);
    let g = group_of(&inner.store, id)?;
    Ok(Reply::scim(200, render_group(g, &ctx.base)).etag(g.version))
}

/// `PATCH /groups/{id}`: members add/remove, displayName, externalId.
pub(crate) fn patch_group(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let current = group_of(&inner.store, id)?.clone();
    check_if_match(inner, ctx, current.version)?;
    let ops = patch::parse_request(&ctx.json_body(true)?)?;
    let Value::Object(mut doc) = render_group(&current, &ctx.base) else {
        return Err(ApiError::injected(500));
    };
    patch::apply(&mut doc, &ops, CORE_GROUP, &[])?;
    let next = write_group(&inner.store, &current, &doc)?;
    inner.store.update_group(next);
    let g = group_of(&inner.store, id)?;
    Ok(Reply::scim(200, render_group(g, &ctx.base)).etag(g.version))
}

// ---------------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------------

/// `GET /serviceproviderconfig`. The live values are unverified (genesys-api-notes §9); these describe the
/// simulator.
pub(crate) fn service_provider_config(ctx: &Ctx) -> Answer {
    Ok(Reply::scim(
        200,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://developer.genesys.cloud/useragentmanagement/scim/scim-documentation",
            "patch": {"supported": true},
            "filter": {"supported": true, "maxResults": 25},
            "etag": {"supported": true},
            "sort": {"supported": false},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "changePassword": {"supported": true},
            "authenticationSchemes": [{
                "name": "OAuth Bearer Token",
                "description": "Authentication scheme using the OAuth Bearer Token Standard",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "type": "oauthbearertoken",
                "primary": true
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}{BASE}/serviceproviderconfig", ctx.base),
                "version": "1"
            }
        }),
    ))
}

fn resource_type(name: &str, base: &str) -> Option<Value> {
    let (endpoint, schema, extensions): (&str, &str, Vec<Value>) = match name {
        "User" => (
            "/Users",
            CORE_USER,
            vec![json!({"schema": ENTERPRISE, "required": false}), json!({"schema": GENESYS, "required": false})],
        ),
        "Group" => ("/Groups", CORE_GROUP, vec![]),
        "ServiceProviderConfig" => {
            ("/ServiceProviderConfig", "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig", vec![])
        }
        "ResourceType" => ("/ResourceTypes", "urn:ietf:params:scim:schemas:core:2.0:ResourceType", vec![]),
        "Schema" => ("/Schemas", "urn:ietf:params:scim:schemas:core:2.0:Schema", vec![]),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": name,
        "name": name,
        "description": name,
        "endpoint": endpoint,
        "schema": schema,
        "schemaExtensions": extensions,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}{BASE}/resourcetypes/{name}")}
    }))
}

const RESOURCE_TYPES: [&str; 5] = ["User", "Group", "ServiceProviderConfig", "ResourceType", "Schema"];

/// `GET /resourcetypes[/{type}]`.
pub(crate) fn resource_types(ctx: &Ctx, which: Option<&str>) -> Answer {
    match which {
        Some(name) => resource_type(name, &ctx.base).map(|v| Reply::scim(200, v)).ok_or_else(ApiError::not_found),
        None => {
            let all: Vec<Value> = RESOURCE_TYPES.iter().filter_map(|n| resource_type(n, &ctx.base)).collect();
            Ok(Reply::scim(200, list_body(all.len(), 1, all)))
        }
    }
}

fn attr(name: &str, kind: &str, multi: bool, required: bool, mutability: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": multi, "required": required, "caseExact": false,
        "mutability": mutability, "returned": "default", "uniqueness": if name == "userName" { "server" } else { "none" }
    })
}

/// `value`, `type` (with these canonical values) and `primary`.
fn multi_subs(types: &[&str]) -> Value {
    let mut t = attr("type", "string", false, false, "readWrite");
    t["canonicalValues"] = json!(types);
    Value::Array(vec![
        attr("value", "string", false, false, "readWrite"),
        t,
        attr("primary", "boolean", false, false, "readWrite"),
    ])
}

fn schema(id: &str, base: &str) -> Option<Value> {
    let (name, attributes) = match id {
        CORE_USER => (
            "User",
            vec![
                attr("userName", "string", false, true, "readWrite"),
                attr("displayName", "string", false, true, "readWrite"),
                attr("active", "boolean", false, false, "readWrite"),
                attr("title", "string", false, false, "readWrite"),
                attr("password", "string", false, false, "writeOnly"),
                {
                    let mut p = attr("phoneNumbers", "complex", true, false, "readWrite");
                    p["subAttributes"] = multi_subs(&super::store::SCIM_PHONE_TYPES);
                    p
                },
                {
                    let mut e = attr("emails", "complex", true, false, "readWrite");
                    e["subAttributes"] = multi_subs(&["work", "other"]);
                    e
                },
                attr("externalId", "string", false, false, "readWrite"),
                attr("groups", "complex", true, false, "readOnly"),
                attr("roles", "complex", true, false, "readWrite"),
            ],
        ),
        CORE_GROUP => (
            "Group",
            vec![
                attr("displayName", "string", false, true, "readWrite"),
                attr("externalId", "string", false, false, "readWrite"),
                attr("members", "complex", true, false, "readWrite"),
            ],
        ),
        ENTERPRISE => (
            "EnterpriseUser",
            vec![
                attr("division", "string", false, false, "readWrite"),
                attr("department", "string", false, false, "readWrite"),
                attr("manager", "complex", false, false, "readWrite"),
                attr("employeeNumber", "string", false, false, "readWrite"),
                attr("dateHire", "string", false, false, "readWrite"),
            ],
        ),
        GENESYS => (
            "GenesysUser",
            vec![
                attr("routingSkills", "complex", true, false, "readWrite"),
                attr("routingLanguages", "complex", true, false, "readWrite"),
                attr("externalIds", "complex", true, false, "readWrite"),
            ],
        ),
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig" => ("ServiceProviderConfig", vec![]),
        "urn:ietf:params:scim:schemas:core:2.0:ResourceType" => ("ResourceType", vec![]),
        "urn:ietf:params:scim:schemas:core:2.0:Schema" => ("Schema", vec![]),
        _ => return None,
    };
    Some(json!({
        "id": id,
        "name": name,
        "description": name,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base}{BASE}/schemas/{id}")}
    }))
}

const SCHEMA_IDS: [&str; 7] = [
    CORE_USER,
    CORE_GROUP,
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
    "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
    "urn:ietf:params:scim:schemas:core:2.0:Schema",
    ENTERPRISE,
    GENESYS,
];

/// `GET /schemas[/{id}]`; a `filter` on the list is 403 (genesys-api-notes §1.1 [quirk]).
pub(crate) fn schemas(ctx: &Ctx, which: Option<&str>) -> Answer {
    match which {
        Some(id) => schema(id, &ctx.base).map(|v| Reply::scim(200, v)).ok_or_else(ApiError::not_found),
        None => {
            if ctx.query_one("filter").is_some() {
                return Err(ApiError::not_authorized("Filtered results are invalid"));
            }
            let all: Vec<Value> = SCHEMA_IDS.iter().filter_map(|id| schema(id, &ctx.base)).collect();
            let mut body = list_body(all.len(), 1, all);
            body["schemas"] = json!([LIST_URN]);
            Ok(Reply::scim(200, body))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_quoted_and_bare_values() {
        assert_eq!(parse_filter("userName eq \"a@x.org\""), Ok(vec![Term::Eq("username".into(), "a@x.org".into())]));
        assert_eq!(
            parse_filter("userName eq search@sample.org"),
            Ok(vec![Term::Eq("username".into(), "search@sample.org".into())])
        );
        assert_eq!(
            parse_filter(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq 9876 and active EQ false"
            ),
            Ok(vec![Term::Eq("employeenumber".into(), "9876".into()), Term::Eq("active".into(), "false".into())])
        );
        assert_eq!(
            parse_filter(&format!("{GENESYS}:externalIds[authority eq \"matchAuthName\" and value eq \"k 1\"]")),
            Ok(vec![Term::ExternalIds { authority: Some("matchAuthName".into()), value: Some("k 1".into()) }])
        );
        for bad in
            ["userName co \"a\"", "userName eq", "a eq b or c eq d", "(a eq b)", "title[x eq y]", "userName eq \"x"]
        {
            assert_eq!(parse_filter(bad).map_err(|e| e.status), Err(400), "{bad}");
        }
    }

    #[test]
    fn etags_accept_the_usual_spellings() {
        for h in ["\"3\"", "W/\"3\"", "3", "*", "\"2\", \"3\""] {
            assert!(etag_matches(h, 3), "{h}");
        }
        assert!(!etag_matches("\"4\"", 3));
    }

    #[test]
    fn emails_are_user_names() {
        assert!(looks_like_email("jane.doe@example.com"));
        for bad in ["jane", "@x", "a@", "a b@x"] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }
}
