//! Request bodies of Genesys's Platform API for a mapped user (genesys-api-notes §2.1–2.2, §7.3).

use serde_json::{Value, json};

use super::*;
use crate::genesys::api::phones::{PLATFORM_EMAIL_MEDIA, PLATFORM_PHONE_MEDIA};
use crate::genesys::api::wire::{PlatformContact, PlatformCreateUser, PlatformUserPatch, to_json};

/// The `POST /api/v2/users` body (CreateUser: `name`, `email`, `divisionId` required). The
/// caller resolves [`MappedUser::division`] (or the home division,
/// `GET /api/v2/authorization/divisions/home`) to `division_id`. CreateUser has no manager and
/// no employer info: follow the create with [`platform_patch_body`] over the created user.
pub fn platform_create_body(m: &MappedUser, division_id: &str) -> Value {
    to_json(&PlatformCreateUser {
        name: m.display_name.clone(),
        email: m.user_name.clone(),
        division_id: division_id.to_string(),
        department: m.department.clone(),
        title: m.title.clone(),
        addresses: m.phones.iter().map(platform_contact).collect(),
        state: platform_state(m),
    })
}

/// The `PATCH /api/v2/users/{id}` body that changes a user's state (active/inactive), or None
/// when `current` already has it. UpdateUser says a `state` PATCH may change nothing else, so
/// this is a request of its own: send it first, then [`platform_patch_body`] over its response
/// (the user with the new `version`).
pub fn platform_state_body(m: &MappedUser, current: &Value) -> Result<Option<Value>, MappingError> {
    let version = current_version(m, current)?;
    let want = platform_state(m);
    let have = current.get("state").and_then(Value::as_str).unwrap_or("");
    Ok((!have.eq_ignore_ascii_case(want))
        .then(|| to_json(&PlatformUserPatch { version, state: Some(want), ..PlatformUserPatch::default() })))
}

/// The `PATCH /api/v2/users/{id}` body that makes `current` (the user as
/// `GET /api/v2/users/{id}?expand=employerInfo` returns it) what `m` says, or None when nothing
/// differs. Carries `current.version` (required; a mismatch is 409, genesys-api-notes §0.5).
///
/// Fields are sent only when they differ. `addresses` (when any PHONE or SMS contact differs):
/// Genesys replaces the PHONE and SMS contacts wholesale and keeps EMAIL ones (genesys-api-notes §2.1), so
/// the list is the user's phones (the 8x8 number as `OTHER`) plus every contact of `current` the
/// bridge does not own, copied without the server's `display`: SMS contacts, PHONE contacts of
/// other types (`MAIN`, `PRIMARY`), and extension-only PHONE contacts of a type the user's phones
/// do not use. EMAIL contacts are neither sent nor touched. Division changes are not made here
/// (UpdateUser has no division; see `docs/genesys-mapping.md`).
///
/// Only what the bridge owns changes: a field `m` lacks is cleared only when `written` says the
/// bridge wrote it, and a PHONE contact of a type the bridge never wrote and the user does not
/// send is kept (an administrator's mobile number); a derived display name replaces Genesys's
/// only if the bridge wrote the name before.
pub fn platform_patch_body(m: &MappedUser, current: &Value, written: &Written) -> Result<Option<Value>, MappingError> {
    let version = current_version(m, current)?;
    let have = |key: &str| current.get(key).and_then(Value::as_str).unwrap_or("");
    let differs = |key: &str, want: &str| (have(key) != want).then(|| want.to_string());
    // What the bridge wants of an optional field: its value, "" to clear one it wrote, or
    // nothing (leave Genesys's) for one it never wrote.
    let owned = |key: &str, value: &Option<String>| match value {
        Some(v) => Some(v.clone()),
        None if written.contains(key) => Some(String::new()),
        None => None,
    };
    let mut patch = PlatformUserPatch { version, ..PlatformUserPatch::default() };
    if m.display_name_sent() || written.contains("displayName") {
        patch.name = differs("name", &m.display_name);
    }
    patch.email = (!have("email").eq_ignore_ascii_case(&m.user_name)).then(|| m.user_name.clone());
    // An empty string clears a field [unverified: Terraform sends the same].
    patch.department = owned("department", &m.department).and_then(|want| differs("department", &want));
    patch.title = owned("title", &m.title).and_then(|want| differs("title", &want));
    let manager =
        current.get("manager").map_or("", |v| v.get("id").and_then(Value::as_str).or(v.as_str()).unwrap_or(""));
    patch.manager = match &m.manager {
        Manager::Genesys(id) if id != manager => Some(id.clone()),
        Manager::None if !manager.is_empty() && written.contains("manager") => Some(String::new()),
        _ => None,
    };
    let info = current.get("employerInfo").and_then(Value::as_object);
    let employee_id = info.and_then(|i| i.get("employeeId")).and_then(Value::as_str).unwrap_or("");
    let want_employee_id = owned("employeeNumber", &m.employee_number);
    if let Some(want_employee_id) = want_employee_id.as_deref()
        && employee_id != want_employee_id
    {
        // employerInfo is one object: keep its other members (officialName, dateHire, ...).
        let mut info = info.cloned().unwrap_or_default();
        info.insert("employeeId".into(), json!(want_employee_id));
        patch.employer_info = Some(Value::Object(info));
    }
    patch.addresses = platform_addresses(m, current, written);
    Ok((!patch.changes_nothing()).then(|| to_json(&patch)))
}

/// The new `addresses` list, or None when the PHONE/SMS contacts would not change.
pub(super) fn platform_addresses(m: &MappedUser, current: &Value, written: &Written) -> Option<Vec<Value>> {
    let existing: &[Value] = current.get("addresses").and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let used: Vec<&str> = m.phones.iter().map(|p| p.kind.platform_type()).collect();
    // The Platform contact types the bridge wrote (the 8x8 number is OTHER).
    let wrote = |platform_type: &str| {
        PhoneKind::ALL
            .into_iter()
            .any(|k| k.platform_type() == platform_type && written.contains(&Written::phone_key(k)))
    };
    let kept = existing.iter().filter(|c| {
        let kind = contact_field(c, "type").to_ascii_uppercase();
        match contact_field(c, "mediaType").to_ascii_uppercase().as_str() {
            PLATFORM_EMAIL_MEDIA => false,
            PLATFORM_PHONE_MEDIA if MANAGED_PLATFORM_TYPES.contains(&kind.as_str()) => {
                !used.contains(&kind.as_str())
                    && (!wrote(&kind)
                        || (contact_field(c, "address").is_empty() && !contact_field(c, "extension").is_empty()))
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
                contact_field(c, "mediaType").eq_ignore_ascii_case(PLATFORM_PHONE_MEDIA)
                    && contact_field(c, "type").eq_ignore_ascii_case(p.kind.platform_type())
                    && contact_field(c, "address") == p.number
            })
            .map_or_else(|| to_json(&platform_contact(p)), without_display)
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
    let mut before: Vec<[String; 4]> = existing
        .iter()
        .filter(|c| !contact_field(c, "mediaType").eq_ignore_ascii_case(PLATFORM_EMAIL_MEDIA))
        .map(key)
        .collect();
    let mut after: Vec<[String; 4]> = wanted.iter().map(key).collect();
    before.sort();
    after.sort();
    (before != after).then_some(wanted)
}

pub(super) fn contact_field(contact: &Value, key: &str) -> String {
    contact.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// A contact of the current user as it is sent back: without `display`, which the server derives.
pub(super) fn without_display(contact: &Value) -> Value {
    match contact {
        Value::Object(o) => {
            Value::Object(o.iter().filter(|(k, _)| *k != "display").map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        other => other.clone(),
    }
}

/// A phone as a Platform `Contact` (genesys-api-notes §2.2, §7.3): always a plain E.164 `address`.
/// Numbers with an extension never get here in Platform mode ([`normalise_number_for`] refuses
/// them: `Contact.extension` is a Genesys internal extension, "mutually exclusive with the
/// address field", genesys-api-notes §14).
pub(super) fn platform_contact(p: &Phone) -> PlatformContact {
    PlatformContact { address: p.number.clone(), media_type: PLATFORM_PHONE_MEDIA, kind: p.kind.platform_type() }
}

pub(super) fn platform_state(m: &MappedUser) -> &'static str {
    if m.active { "active" } else { "inactive" }
}

pub(super) fn current_version(m: &MappedUser, current: &Value) -> Result<i64, MappingError> {
    current.get("version").and_then(Value::as_i64).ok_or_else(|| MappingError {
        subject: Subject::User(m.bridge_id.clone()),
        kind: MappingErrorKind::CurrentWithoutVersion,
    })
}
