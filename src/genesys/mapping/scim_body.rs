//! Request bodies of Genesys's SCIM API for a mapped user (genesys-api-notes §1.3, §1.6, §7.1–7.2).

use serde_json::{Map, Value, json};

use scim::schema::{ENTERPRISE_USER_URN, PATCH_OP_URN, USER_URN};

use super::*;

/// The `POST /api/v2/scim/v2/users` body (ScimV2CreateUser; shape of genesys-api-notes §7.1). No `password`
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
pub(super) const WORK_EMAIL_PATH: &str = r#"emails[type eq "work"].value"#;

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
/// (genesys-api-notes §1.6, §7.2). A PATCH rather than a PUT because a PUT replaces the whole resource, and
/// would clear what Genesys keeps and the bridge does not send: `roles`, routing skills and
/// languages, external ids (genesys-api-notes §1.3). `If-Match` is optional for it (genesys-api-notes §1.1).
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

pub(super) fn scim_phones(m: &MappedUser) -> Value {
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

pub(super) fn scim_enterprise(m: &MappedUser) -> Map<String, Value> {
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
