//! Request bodies of Genesys's SCIM API for a mapped user (genesys-api-notes §1.3, §1.6, §7.1–7.2).

use serde_json::{Map, Value, json};

use scim::schema::ENTERPRISE_USER_URN;

use super::*;
use crate::genesys::api::wire::{
    PatchOperation, PatchRequest, SCIM_ENTERPRISE_URN, SCIM_USER_URN, ScimEnterprise, ScimMultiValue, ScimReference,
    ScimUser, to_json,
};

/// The `POST /api/v2/scim/v2/users` body (ScimV2CreateUser; shape of genesys-api-notes §7.1). No `password`
/// (Genesys generates one; users sign in through their IdP), no `roles` and no Genesys extension
/// (Genesys keeps those; see `docs/genesys-mapping.md`).
pub fn scim_create_body(m: &MappedUser) -> Value {
    let enterprise = scim_enterprise(m);
    let mut schemas = vec![SCIM_USER_URN];
    if !enterprise.is_empty() {
        schemas.push(SCIM_ENTERPRISE_URN);
    }
    let body = ScimUser {
        schemas,
        user_name: m.user_name.clone(),
        display_name: m.display_name.clone(),
        active: m.active,
        title: m.title.clone(),
        external_id: m.external_id.clone(),
        emails: m
            .work_email
            .iter()
            .map(|e| ScimMultiValue { kind: "work", value: e.value.clone(), primary: e.primary })
            .collect(),
        phone_numbers: scim_phones(m),
        enterprise: (!enterprise.is_empty()).then_some(enterprise),
    };
    to_json(&body)
}

/// The path that updates the work e-mail without touching Genesys's read-only `other` e-mail.
pub(super) const WORK_EMAIL_PATH: &str = r#"emails[type eq "work"].value"#;

/// The bridge id of a stored user's manager (`enterprise.manager.value`), which the caller
/// resolves to a Genesys id for [`map_user`].
pub fn manager_bridge_id(doc: &Map<String, Value>) -> Option<&str> {
    doc.get(ENTERPRISE_USER_URN)?.get("manager")?.get("value")?.as_str()
}

/// The SCIM PATCH that deactivates a Genesys user (a SCIM DELETE in `deactivate` mode).
pub fn scim_deactivate_body() -> Value {
    to_json(&PatchRequest::new(vec![PatchOperation::replace("active", json!(false))]))
}

/// The `PATCH /api/v2/scim/v2/users/{id}` body that makes the Genesys user what `m` says: one
/// operation per attribute the bridge owns, in the forms Entra (Genesys's gallery IdP) sends
/// (genesys-api-notes §1.6, §7.2). A PATCH rather than a PUT because a PUT replaces the whole
/// resource, and would clear what Genesys keeps and the bridge does not send: `roles`, routing
/// skills and languages, external ids (genesys-api-notes §1.3, §11). `If-Match` is optional for
/// it (genesys-api-notes §1.1).
///
/// Only what the bridge owns changes. An attribute `m` has is replaced; one it lacks is removed
/// only when `written` says the bridge wrote it (the IdP dropped it), and otherwise left exactly
/// as Genesys holds it (a title an administrator set). Phones go one type at a time through a
/// filtered path (`phoneNumbers[type eq "work"].value`), never as a whole list, so a number of a
/// type the bridge does not send is kept (genesys-api-notes §11). Never removed: the work e-mail
/// (a filtered remove that matches nothing is RFC 7644 `noTarget`), the division (a user always
/// has one), and a manager that is not resolved yet. A display name the bridge derived (the IdP
/// sent none) is sent only if the bridge wrote the display name before.
pub fn scim_patch_body(m: &MappedUser, written: &Written) -> Value {
    let replace = |path: &str, value: Value| PatchOperation::replace(path, value);
    let remove = |path: &str| PatchOperation::remove(path);
    let mut ops = vec![replace("userName", json!(m.user_name))];
    if m.display_name_sent() || written.contains("displayName") {
        ops.push(replace("displayName", json!(m.display_name)));
    }
    ops.push(replace("active", json!(m.active)));
    let set = |ops: &mut Vec<PatchOperation>, key: &str, path: &str, value: Option<&String>| match value {
        Some(v) => ops.push(replace(path, json!(v))),
        None if written.contains(key) => ops.push(remove(path)),
        None => {}
    };
    let ent = |attr: &str| format!("{SCIM_ENTERPRISE_URN}:{attr}");
    set(&mut ops, "title", "title", m.title.as_ref());
    set(&mut ops, "externalId", "externalId", m.external_id.as_ref());
    // Filtered paths go as `add`: it sets the element's value when one matches and creates the
    // element when none does, where a `replace` that matches nothing is RFC 7644 §3.5.2.3's
    // `noTarget` (a user an administrator made has no 8x8 number yet). Entra sends `Add` on
    // such paths for a value that is new (docs/idp-notes.md).
    let add = |path: &str, value: Value| PatchOperation::add(path, value);
    if let Some(email) = &m.work_email {
        ops.push(add(WORK_EMAIL_PATH, json!(email.value)));
    }
    let of_type = |t: &str| format!("phoneNumbers[type eq {}]", Value::String(t.to_string()));
    for p in &m.phones {
        ops.push(add(&format!("{}.value", of_type(p.kind.scim_type())), json!(p.number)));
        if p.primary {
            ops.push(add(&format!("{}.primary", of_type(p.kind.scim_type())), json!(true)));
        }
    }
    for key in written.keys() {
        if let Some(t) = key.strip_prefix("phone:")
            && !m.phones.iter().any(|p| p.kind.scim_type() == t)
        {
            ops.push(remove(&of_type(t)));
        }
    }
    if let Some(division) = &m.division {
        ops.push(replace(&ent("division"), json!(division)));
    }
    set(&mut ops, "department", &ent("department"), m.department.as_ref());
    match &m.manager {
        Manager::Genesys(id) => ops.push(replace(&ent("manager"), to_json(&ScimReference { value: id.clone() }))),
        Manager::None if written.contains("manager") => ops.push(remove(&ent("manager"))),
        Manager::None | Manager::Unresolved => {}
    }
    set(&mut ops, "employeeNumber", &ent("employeeNumber"), m.employee_number.as_ref());
    to_json(&PatchRequest::new(ops))
}

pub(super) fn scim_phones(m: &MappedUser) -> Vec<ScimMultiValue> {
    m.phones
        .iter()
        .map(|p| ScimMultiValue { kind: p.kind.scim_type(), value: p.number.clone(), primary: p.primary })
        .collect()
}

pub(super) fn scim_enterprise(m: &MappedUser) -> ScimEnterprise {
    ScimEnterprise {
        division: m.division.clone(),
        department: m.department.clone(),
        manager: match &m.manager {
            Manager::Genesys(id) => Some(ScimReference { value: id.clone() }),
            Manager::None | Manager::Unresolved => None,
        },
        employee_number: m.employee_number.clone(),
    }
}
