//! Genesys's Platform user API on the same store as SCIM (genesys-api-notes §2.1, §2.2): `GET/POST
//! /api/v2/users`, `GET/PATCH/DELETE /api/v2/users/{id}`, plus the small reads a client needs
//! around them (`GET /api/v2/authorization/divisions[/home]`, `GET /api/v2/tokens/me`).
//!
//! Fidelity decisions (the section of docs/genesys-api-notes.md in brackets):
//! * `User` JSON keys as the SDK models spell them (§2.1): `name` is SCIM `displayName`,
//!   `email`/`username` are the userName, `addresses` hold the phones (`mediaType: PHONE`,
//!   `type` WORK..OTHER), SMS contacts and the work e-mail (`EMAIL`/`WORK`, unverified);
//!   `primaryContactInfo` holds the e-mail and the primary phone (the only phone when alone,
//!   §1.5 [quirk]). `display` is the address as written (no formatting).
//! * `PATCH` needs `version` (400 without); a different version is 409 `general.conflict`
//!   "The version supplied does not match the current version of the user" (2018 swagger), or
//!   400 with that message when the fault setting `version_conflict_status` is 400 (§2.1,
//!   Terraform). `addresses`, when given, replaces every PHONE and SMS contact and keeps the
//!   EMAIL ones ([quirk] §2.1); EMAIL/WORK entries in it set the work e-mail. One entry per
//!   (mediaType, type), else 400. `state`, when given, is the only field changed (UpdateUser
//!   doc) and restores a deleted user (409 if its userName was taken meanwhile). JSON `null`
//!   leaves a field alone; `""` clears it.
//! * `POST` (CreateUser) needs `name`, `email` and a known `divisionId` (§2.1); answers 200 (the
//!   swagger lists no 201); a taken e-mail is 409 `general.conflict`. `state` defaults to
//!   `active` (Genesys: active only if invites are sent; the simulator sends none but
//!   activates). The new user is granted `employee` in the home division (§12 [community]).
//! * `state: inactive` (PATCH) and `DELETE` take every direct grant away; `state: active`
//!   grants nothing back (§16; the store does it for both APIs).
//! * `DELETE` is a soft delete: 200 `{}`; the user is found again only with `state=deleted`
//!   (`GET /users/{id}?state=deleted`, `GET /users?state=deleted`) (§1.10).
//! * `GET /users` pages with `pageSize` (default 25, at most 500) and `pageNumber`, filters by
//!   `state` (active|inactive|deleted|any, default active) and `id` (repeated, at most 100,
//!   `max.user.ids` otherwise), sorted by name (`sortOrder` ascending|descending).
//!
//! Must not import: actix (only `server` speaks HTTP), or anything of the bridge.

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::faults::bump;
use super::patch::get_ci;
use super::scim::{iso, looks_like_email};
use super::store::{HOME_DIVISION_ID, Phone, PhoneSlot, SimUser, Store, StoreError, UserState};
use super::wire::{Answer, ApiError, Reply};
use super::{Ctx, Inner};

/// The simulated organization.
const ORG_ID: &str = "5a3c6d7e-0000-4000-8000-000000000001";
const ORG_NAME: &str = "Genesys Cloud simulator";

fn contact(address: Option<&str>, extension: Option<&str>, media: &str, kind: &str) -> Map<String, Value> {
    let mut c = Map::new();
    if let Some(a) = address {
        c.insert("address".into(), json!(a));
    }
    if let Some(d) = address.or(extension) {
        c.insert("display".into(), json!(d));
    }
    c.insert("mediaType".into(), json!(media));
    c.insert("type".into(), json!(kind));
    if let Some(e) = extension {
        c.insert("extension".into(), json!(e));
    }
    c
}

fn phone_contact(p: &Phone, kind: &str) -> Value {
    let mut c = contact(p.number.as_deref(), p.extension.as_deref(), "PHONE", kind);
    if let Some(cc) = &p.country_code {
        c.insert("countryCode".into(), json!(cc));
    }
    if let Some(i) = &p.integration {
        c.insert("integration".into(), json!(i));
    }
    Value::Object(c)
}

/// A user as the Platform `User` model.
pub(crate) fn render_user(store: &Store, u: &SimUser) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("name".into(), json!(u.display_name));
    m.insert(
        "division".into(),
        json!({
            "id": u.division_id,
            "name": store.division_name(&u.division_id),
            "selfUri": format!("/api/v2/authorization/divisions/{}", u.division_id),
        }),
    );
    m.insert("chat".into(), json!({"jabberId": format!("{}@simulator.orgspan.com", u.id)}));
    if let Some(d) = &u.department {
        m.insert("department".into(), json!(d));
    }
    m.insert("email".into(), json!(u.user_name));
    let mut primary = vec![Value::Object(contact(Some(&u.user_name), None, "EMAIL", "PRIMARY"))];
    if let Some(slot) = u.primary_phone()
        && let Some(p) = u.phones.get(&slot)
    {
        primary.push(phone_contact(p, "PRIMARY"));
    }
    m.insert("primaryContactInfo".into(), Value::Array(primary));
    let mut addresses: Vec<Value> = u.phones.iter().map(|(s, p)| phone_contact(p, s.platform_type())).collect();
    addresses.extend(u.sms.iter().map(|(kind, address)| Value::Object(contact(Some(address), None, "SMS", kind))));
    if let Some(w) = &u.work_email {
        addresses.push(Value::Object(contact(Some(w), None, "EMAIL", "WORK")));
    }
    m.insert("addresses".into(), Value::Array(addresses));
    m.insert("state".into(), json!(u.state.as_str()));
    if let Some(t) = &u.title {
        m.insert("title".into(), json!(t));
    }
    m.insert("username".into(), json!(u.user_name));
    if let Some(id) = &u.manager {
        m.insert("manager".into(), json!({"id": id, "selfUri": format!("/api/v2/users/{id}")}));
    }
    m.insert("images".into(), json!([]));
    m.insert("version".into(), json!(u.version));
    if u.employee_number.is_some() || u.date_hire.is_some() {
        let mut e = Map::new();
        if let Some(n) = &u.employee_number {
            e.insert("employeeId".into(), json!(n));
        }
        if let Some(d) = &u.date_hire {
            e.insert("dateHire".into(), json!(d));
        }
        m.insert("employerInfo".into(), Value::Object(e));
    }
    m.insert("acdAutoAnswer".into(), json!(false));
    m.insert("selfUri".into(), json!(format!("/api/v2/users/{}", u.id)));
    Value::Object(m)
}

/// One element of `addresses` in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ContactIn {
    media: &'static str,
    kind: String,
    address: Option<String>,
    extension: Option<String>,
    country_code: Option<String>,
    integration: Option<String>,
}

fn string_field(o: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match get_ci(o, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::invalid_value(&other.to_string(), name, "a string")),
    }
}

fn read_contacts(v: &Value) -> Result<Vec<ContactIn>, ApiError> {
    let Value::Array(items) = v else {
        return Err(ApiError::invalid_value(&v.to_string(), "addresses", "a list of Contact"));
    };
    let mut out: Vec<ContactIn> = Vec::new();
    for item in items {
        let Some(o) = item.as_object() else {
            return Err(ApiError::invalid_value(&item.to_string(), "addresses", "Contact objects"));
        };
        let media_text = string_field(o, "mediaType")?.unwrap_or_default();
        let media = ["PHONE", "EMAIL", "SMS"]
            .into_iter()
            .find(|m| m.eq_ignore_ascii_case(&media_text))
            .ok_or_else(|| ApiError::invalid_value(&media_text, "mediaType", "PHONE, EMAIL, SMS"))?;
        let kind = string_field(o, "type")?.unwrap_or_default().to_ascii_uppercase();
        let allowed: &[&str] = match media {
            "PHONE" => &["WORK", "WORK2", "WORK3", "WORK4", "HOME", "MOBILE", "OTHER"],
            _ => &["PRIMARY", "WORK", "WORK2", "WORK3", "WORK4", "HOME", "MOBILE", "MAIN", "OTHER"],
        };
        if !allowed.contains(&kind.as_str()) {
            return Err(ApiError::invalid_value(&kind, "type", &allowed.join(", ")));
        }
        let address = string_field(o, "address")?;
        let extension = string_field(o, "extension")?;
        if address.is_none() && extension.is_none() {
            return Err(ApiError::bad_request(format!("A {media} contact needs an address or an extension")));
        }
        if address.is_some() && extension.is_some() && media == "PHONE" {
            return Err(ApiError::bad_request("extension is mutually exclusive with address"));
        }
        if out.iter().any(|c| c.media == media && c.kind == kind) {
            return Err(ApiError::bad_request(format!(
                "Only one {media} contact of type {kind} is allowed (one entry per media type)"
            )));
        }
        out.push(ContactIn {
            media,
            kind,
            address,
            extension,
            country_code: string_field(o, "countryCode")?,
            integration: string_field(o, "integration")?,
        });
    }
    Ok(out)
}

/// `addresses` given: every PHONE and SMS contact is replaced, EMAIL contacts are kept
/// ([quirk], genesys-api-notes §2.1); EMAIL/WORK in the list sets the work e-mail.
fn write_addresses(u: &mut SimUser, contacts: Vec<ContactIn>) {
    let had_other = u.phones.contains_key(&PhoneSlot::Other);
    u.phones.clear();
    u.sms.clear();
    for c in contacts {
        match c.media {
            "PHONE" => {
                if let Some(slot) = PhoneSlot::from_platform_type(&c.kind) {
                    u.phones.insert(
                        slot,
                        Phone {
                            number: c.address,
                            extension: c.extension,
                            country_code: c.country_code,
                            integration: c.integration,
                        },
                    );
                }
            }
            "SMS" => {
                if let Some(a) = c.address {
                    u.sms.push((c.kind, a));
                }
            }
            _ => {
                if c.kind == "WORK" {
                    u.work_email = c.address;
                }
            }
        }
    }
    if !(had_other && u.phones.contains_key(&PhoneSlot::Other)) {
        u.other_written_as = "other";
    }
    if u.primary_slot.is_some_and(|s| !u.phones.contains_key(&s)) {
        u.primary_slot = None;
    }
}

fn json_object(ctx: &Ctx) -> Result<Map<String, Value>, ApiError> {
    match ctx.json_body(false)? {
        Value::Object(o) => Ok(o),
        _ => Err(ApiError::bad_request("The body must be a JSON object")),
    }
}

/// Keys of UpdateUser/CreateUser the simulator accepts and does not model.
const NOT_MODELLED: [&str; 15] = [
    "id",
    "chat",
    "primaryContactInfo",
    "images",
    "selfUri",
    "preferredName",
    "profileSkills",
    "locations",
    "groups",
    "acdAutoAnswer",
    "certifications",
    "biography",
    "password",
    "version",
    "state",
];

fn note_ignored(inner: &mut Inner, o: &Map<String, Value>, modelled: &[&str]) {
    for k in o.keys() {
        let known = modelled.iter().chain(NOT_MODELLED.iter()).any(|m| m.eq_ignore_ascii_case(k));
        if !known {
            *inner.stats.ignored_attributes.entry(format!("platform:{k}")).or_default() += 1;
        }
    }
}

fn conflict_on_name(e: StoreError) -> ApiError {
    match e {
        StoreError::UserNameTaken => ApiError::conflict("The email address is already in use by a non-deleted user"),
        StoreError::NoSuchUser => ApiError::user_not_found(),
    }
}

/// `POST /api/v2/users`.
pub(crate) fn create_user(inner: &mut Inner, ctx: &Ctx) -> Answer {
    let o = json_object(ctx)?;
    note_ignored(inner, &o, &["name", "department", "email", "addresses", "title", "divisionId"]);
    let Some(name) = string_field(&o, "name")? else {
        return Err(ApiError::bad_request("name is required"));
    };
    let Some(email) = string_field(&o, "email")? else {
        return Err(ApiError::bad_request("email is required"));
    };
    if !looks_like_email(&email) {
        return Err(ApiError::invalid_value(&email, "email", "an e-mail address"));
    }
    if inner.faults.hides(&email) {
        return Err(ApiError::conflict("The email address is already in use by a non-deleted user"));
    }
    let Some(division_id) = string_field(&o, "divisionId")? else {
        return Err(ApiError::bad_request("divisionId is required (GET /api/v2/authorization/divisions/home)"));
    };
    if inner.store.division(&division_id).is_none() {
        return Err(ApiError::invalid_value(&division_id, "divisionId", "the id of an existing division"));
    }
    let mut u = SimUser::new(email.clone(), name, division_id);
    u.department = string_field(&o, "department")?;
    u.title = string_field(&o, "title")?;
    match string_field(&o, "state")?.as_deref() {
        None => {}
        Some(s) => match UserState::parse(s) {
            Some(UserState::Deleted) | None => return Err(ApiError::invalid_value(s, "state", "active, inactive")),
            Some(state) => u.state = state,
        },
    }
    if let Some(a) = get_ci(&o, "addresses").filter(|v| !v.is_null()) {
        write_addresses(&mut u, read_contacts(a)?);
    }
    let id = inner.store.insert_user(u).map_err(conflict_on_name)?.id.clone();
    inner.store.grant_default_role(&id);
    let created = inner.store.user(&id).ok_or_else(ApiError::user_not_found)?;
    let body = render_user(&inner.store, created);
    bump(&mut inner.stats.creates_by_user_name, &email);
    Ok(Reply::json(200, body))
}

/// `state` query value of `GET /users/{id}`: active (default: any non-deleted state) or deleted.
fn wanted_state(ctx: &Ctx, allowed: &[&str]) -> Result<String, ApiError> {
    let s = ctx.query_one("state").unwrap_or("active").to_ascii_lowercase();
    if allowed.contains(&s.as_str()) { Ok(s) } else { Err(ApiError::invalid_value(&s, "state", &allowed.join(", "))) }
}

/// `GET /api/v2/users/{id}`.
pub(crate) fn get_user(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let state = wanted_state(ctx, &["active", "deleted"])?;
    let u = inner.store.user(id).ok_or_else(ApiError::user_not_found)?;
    let deleted = u.state == UserState::Deleted;
    if deleted != (state == "deleted") {
        return Err(ApiError::user_not_found());
    }
    let reply = Reply::json(200, render_user(&inner.store, u));
    if !deleted && inner.faults.edit_after_reads > 0 {
        // Someone edits the user in Genesys right after this read: its version moves on.
        inner.faults.edit_after_reads -= 1;
        let mut edited = u.clone();
        edited.title = Some(format!("{} (edited in Genesys)", edited.title.as_deref().unwrap_or("")));
        if inner.store.update_user(edited).is_ok() {
            inner.stats.fault("edit_after_read");
        }
    }
    Ok(reply)
}

/// `GET /api/v2/users`.
pub(crate) fn list_users(inner: &mut Inner, ctx: &Ctx) -> Answer {
    let state = wanted_state(ctx, &["active", "inactive", "deleted", "any"])?;
    let num = |name: &str, default: usize| -> Result<usize, ApiError> {
        match ctx.query_one(name) {
            None => Ok(default),
            Some(v) => v.trim().parse::<usize>().map_err(|_| ApiError::invalid_value(v, name, "a positive integer")),
        }
    };
    let page_size = num("pageSize", 25)?;
    let page_number = num("pageNumber", 1)?.max(1);
    if page_size == 0 || page_size > 500 {
        return Err(ApiError::invalid_value(&page_size.to_string(), "pageSize", "1 to 500"));
    }
    let ids = ctx.query_list("id");
    if ids.len() > 100 {
        return Err(ApiError::new(400, "max.user.ids", "Only 100 users can be requested at a time."));
    }
    let descending = match ctx.query_one("sortOrder").map(str::to_ascii_lowercase).as_deref() {
        None | Some("ascending") | Some("asc") => false,
        Some("descending") | Some("desc") => true,
        Some(other) => return Err(ApiError::invalid_value(other, "sortOrder", "ascending, descending")),
    };
    let mut matching: Vec<&SimUser> = inner
        .store
        .users()
        .filter(|u| state == "any" || u.state.as_str() == state)
        .filter(|u| ids.is_empty() || ids.iter().any(|i| *i == u.id))
        .collect();
    matching.sort_by(|a, b| a.display_name.to_lowercase().cmp(&b.display_name.to_lowercase()).then(a.id.cmp(&b.id)));
    if descending {
        matching.reverse();
    }
    let total = matching.len();
    let page_count = total.div_ceil(page_size);
    let entities: Vec<Value> = matching
        .iter()
        .skip((page_number - 1) * page_size)
        .take(page_size)
        .map(|u| render_user(&inner.store, u))
        .collect();
    let uri = |n: usize| format!("/api/v2/users?pageSize={page_size}&pageNumber={n}&state={state}");
    let mut body = json!({
        "entities": entities,
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "firstUri": uri(1),
        "selfUri": uri(page_number),
        "lastUri": uri(page_count.max(1)),
        "pageCount": page_count,
    });
    if page_number < page_count {
        body["nextUri"] = json!(uri(page_number + 1));
    }
    if page_number > 1 {
        body["previousUri"] = json!(uri(page_number - 1));
    }
    Ok(Reply::json(200, body))
}

/// `PATCH /api/v2/users/{id}` (UpdateUser).
pub(crate) fn patch_user(inner: &mut Inner, ctx: &Ctx, id: &str) -> Answer {
    let o = json_object(ctx)?;
    let version = match get_ci(&o, "version") {
        Some(Value::Number(n)) => {
            n.as_u64().ok_or_else(|| ApiError::invalid_value(&n.to_string(), "version", "an integer"))?
        }
        Some(Value::Null) | None => {
            return Err(ApiError::bad_request(
                "version is required: the current version of the user, from a GET on the user",
            ));
        }
        Some(other) => return Err(ApiError::invalid_value(&other.to_string(), "version", "an integer")),
    };
    let new_state = match string_field(&o, "state")? {
        None => None,
        Some(s) => Some(
            UserState::parse(&s).ok_or_else(|| ApiError::invalid_value(&s, "state", "active, inactive, deleted"))?,
        ),
    };
    let current = inner.store.user(id).ok_or_else(ApiError::user_not_found)?.clone();
    if current.state == UserState::Deleted && new_state.is_none_or(|s| s == UserState::Deleted) {
        return Err(ApiError::user_not_found());
    }
    if version != current.version {
        return Err(ApiError::platform_version_mismatch(inner.faults.version_conflict_status));
    }
    let mut next = current.clone();
    if let Some(state) = new_state {
        // "If specified, it is the only modifiable field." (UpdateUser.state)
        next.state = state;
    } else {
        note_ignored(
            inner,
            &o,
            &["name", "department", "email", "username", "addresses", "title", "manager", "employerInfo"],
        );
        let set = |target: &mut Option<String>, name: &str| -> Result<(), ApiError> {
            match get_ci(&o, name) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) if s.trim().is_empty() => *target = None,
                Some(Value::String(s)) => *target = Some(s.clone()),
                Some(other) => return Err(ApiError::invalid_value(&other.to_string(), name, "a string")),
            }
            Ok(())
        };
        if let Some(name) = string_field(&o, "name")? {
            next.display_name = name;
        }
        for key in ["email", "username"] {
            if let Some(e) = string_field(&o, key)? {
                if !looks_like_email(&e) {
                    return Err(ApiError::invalid_value(&e, key, "an e-mail address"));
                }
                next.user_name = e;
            }
        }
        set(&mut next.department, "department")?;
        set(&mut next.title, "title")?;
        set(&mut next.manager, "manager")?;
        if let Some(Value::Object(e)) = get_ci(&o, "employerInfo") {
            if let Some(v) = get_ci(e, "employeeId").filter(|v| !v.is_null()) {
                next.employee_number = v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
            }
            if let Some(v) = get_ci(e, "dateHire").filter(|v| !v.is_null()) {
                next.date_hire = v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
            }
        }
        if let Some(a) = get_ci(&o, "addresses").filter(|v| !v.is_null()) {
            write_addresses(&mut next, read_contacts(a)?);
        }
    }
    let name = next.user_name.clone();
    let became_deleted = current.state != UserState::Deleted && next.state == UserState::Deleted;
    let changed = inner.store.update_user(next).map_err(conflict_on_name)?;
    if became_deleted {
        bump(&mut inner.stats.deletes_by_user_name, &name);
    } else if changed {
        bump(&mut inner.stats.updates_by_user_name, &name);
    }
    let u = inner.store.user(id).ok_or_else(ApiError::user_not_found)?;
    Ok(Reply::json(200, render_user(&inner.store, u)))
}

/// `DELETE /api/v2/users/{id}`: soft delete, 200 `{}`.
pub(crate) fn delete_user(inner: &mut Inner, id: &str) -> Answer {
    let current =
        inner.store.user(id).filter(|u| u.state != UserState::Deleted).ok_or_else(ApiError::user_not_found)?;
    let name = current.user_name.clone();
    let mut next = current.clone();
    next.state = UserState::Deleted;
    inner.store.update_user(next).map_err(conflict_on_name)?;
    bump(&mut inner.stats.deletes_by_user_name, &name);
    Ok(Reply::json(200, json!({})))
}

fn division_json(store: &Store, id: &str) -> Value {
    json!({
        "id": id,
        "name": store.division_name(id),
        "description": "",
        "homeDivision": id == HOME_DIVISION_ID,
        "selfUri": format!("/api/v2/authorization/divisions/{id}"),
    })
}

/// `GET /api/v2/authorization/divisions`.
pub(crate) fn list_divisions(inner: &Inner) -> Answer {
    let entities: Vec<Value> = inner.store.divisions().iter().map(|d| division_json(&inner.store, &d.id)).collect();
    let total = entities.len();
    Ok(Reply::json(
        200,
        json!({
            "entities": entities,
            "pageSize": total.max(25),
            "pageNumber": 1,
            "total": total,
            "pageCount": 1,
            "firstUri": "/api/v2/authorization/divisions?pageNumber=1",
            "selfUri": "/api/v2/authorization/divisions?pageNumber=1",
            "lastUri": "/api/v2/authorization/divisions?pageNumber=1",
        }),
    ))
}

/// `GET /api/v2/authorization/divisions/home`.
pub(crate) fn home_division(inner: &Inner) -> Answer {
    Ok(Reply::json(200, division_json(&inner.store, HOME_DIVISION_ID)))
}

/// `GET /api/v2/tokens/me` (TokenInfo): a cheap credential check (genesys-api-notes §3).
pub(crate) fn token_info(inner: &Inner, ctx: &Ctx, now: Instant) -> Answer {
    let org = json!({"id": ORG_ID, "name": ORG_NAME});
    let mut body = json!({
        "organization": org,
        "homeOrganization": org,
        "authorizedScope": [],
        "OAuthClient": {
            "id": ctx.config.client_id,
            "name": "scim-bridge (simulated client)",
            "authorizedGrantType": "CLIENT-CREDENTIALS",
            "organization": org,
        },
    });
    if let Some(exp) = ctx.token.and_then(|t| inner.tokens.expires_at(t)) {
        let left = exp.saturating_duration_since(now);
        let at = time::OffsetDateTime::now_utc() + left;
        body["dateTokenIdles"] = json!(iso(at));
    }
    Ok(Reply::json(200, body))
}
