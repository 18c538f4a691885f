//! Users and groups as Genesys's SCIM server writes them (`ScimV2User`, `ScimV2Group`,
//! genesys-api-notes §1.3): what GET answers, what PUT and PATCH answer, and the document a PATCH
//! is applied to.
//!
//! Fidelity decisions (the section of docs/genesys-api-notes.md in brackets):
//! * Phones (§1.4, §1.5): the one Other Phone reads back with the type it was last written as
//!   through SCIM; the only phone is primary.
//! * E-mails (§1.3, §1.4): the `work` e-mail, then the userName as `other` (read-only, shown on
//!   reads).
//! * The Genesys extension's `externalIds` always shows the SCIM authority `x-pc:scimv2:v1` with
//!   the `externalId` (the exact authority string is unverified, §2.3).
//! * `meta.version` is the integer as a string (§1.9); `meta.lastModified` as Genesys writes
//!   timestamps.
//! * `roles` (§12): the names of the roles the user holds directly, each once, in any division.
//!
//! Must not import: actix, or anything of the bridge.

use serde_json::{Map, Value, json};

use super::{BASE, CORE_GROUP, CORE_USER, ENTERPRISE, GENESYS, SCIM_AUTHORITY, iso};
use crate::store::{PhoneSlot, SimGroup, SimUser, Store, UserState};

/// A user as `ScimV2User`.
pub(super) fn render_user(store: &Store, u: &SimUser, base: &str) -> Value {
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
    // The roles held directly, by name (genesys-api-notes §12); group-inherited roles are not
    // modelled.
    let roles: Vec<Value> = store.role_names(&u.id).into_iter().map(|r| json!({"value": r})).collect();
    m.insert("roles".into(), Value::Array(roles));
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
