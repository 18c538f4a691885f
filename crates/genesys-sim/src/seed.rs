//! Seeding: an existing Genesys organisation to test against, from `--seed-file` at start or
//! `POST /sim/seed` at any time (the same JSON), applied whole or not at all.
//!
//! The format (docs/genesys-api-notes.md §8, "Seeding the simulator"):
//!
//! ```json
//! {
//!   "divisions": ["East", {"name": "West"}],
//!   "roles": [{"name": "Employee Plus", "description": "Employee and UC",
//!              "permissions": ["directory:user:view", "integration:unifiedCommunications:view"]}],
//!   "users": [
//!     {"userName": "boss@example.com", "displayName": "The Boss", "roles": ["admin", "employee"]},
//!     {"userName": "jane@example.com", "displayName": "Jane", "active": false, "title": "Agent",
//!      "externalId": "e-1", "emails": [{"type": "work", "value": "jane.work@example.com"}],
//!      "phoneNumbers": [{"type": "mobile", "value": "+14155550101"},
//!                       {"type": "eightbyeight", "value": "+14155550123"}],
//!      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
//!        "division": "East", "department": "Sales", "employeeNumber": "42",
//!        "manager": {"value": "boss@example.com"}}}
//!   ],
//!   "groups": ["Support", {"displayName": "Sales", "members": ["jane@example.com"]}]
//! }
//! ```
//!
//! or just a list of group names (`["Sales", "Support"]`, the old form). Every key is optional;
//! unknown keys are refused.
//! * `users`: SCIM user objects, read as a SCIM `POST /users` body is (so every field the
//!   simulator keeps, with the same checks), except that an attribute the simulator does not keep
//!   is an error rather than ignored. `active: false` makes an inactive user. The enterprise
//!   `manager.value` names the manager by **userName** (a user of this seed or one that exists),
//!   or by the id of an existing user. `roles` (names, or SCIM `{"value": name}`) are granted
//!   directly in the home division instead of `employee`, as a SCIM create with `roles` is;
//!   without it the user gets `employee`.
//! * `roles`: `{"name", "permissions": ["domain:entityName:action", ...], "description"?}`, added
//!   to the catalogue before the users are created; a role of the same name (any case) is
//!   redefined (it keeps its id and grants). The permissions become one policy per (domain,
//!   entityName); `*` is a wildcard.
//! * `groups`: a name, or `{"displayName", "members"}` with members by userName (or id). A group
//!   that exists is reused and the members are added to it (as an administrator adding them by
//!   hand would: its version goes up); a new group starts at version 1 with its members.
//! * `divisions`: names, or `{"name"}`.
//!
//! The answer names what was created: `{"users": [{"userName", "id"}], "groups": [{"displayName",
//! "id"}], "divisions": [{"name", "id"}], "roles": [{"name", "id"}]}`. Seeding counts nothing in
//! the stats.
//!
//! Must not import: actix, or anything of the bridge.

use serde_json::{Map, Value, json};

use super::patch::get_ci;
use super::roles::policies_from_permissions;
use super::scim::{self, ENTERPRISE};
use super::store::{Store, UserState};

/// Apply `seed` to `store` (callers pass a copy, and keep it only on success); the report of
/// what was created, or a message saying what is wrong with the seed.
pub(crate) fn apply(store: &mut Store, seed: &Value) -> Result<Value, String> {
    let empty = Vec::new();
    let (groups, divisions, users, roles) = match seed {
        Value::Array(groups) => (groups, &empty, &empty, &empty),
        Value::Object(o) => {
            if let Some(k) = o.keys().find(|k| !["groups", "divisions", "users", "roles"].contains(&k.as_str())) {
                return Err(format!("unknown key {k:?} (expected groups, divisions, roles, users)"));
            }
            let list = |k: &str| match o.get(k) {
                None | Some(Value::Null) => Ok(&empty),
                Some(Value::Array(a)) => Ok(a),
                Some(_) => Err(format!("{k} must be a list")),
            };
            (list("groups")?, list("divisions")?, list("users")?, list("roles")?)
        }
        _ => return Err("expected a list of group names or an object {divisions, roles, users, groups}".into()),
    };
    let mut report_divisions = Vec::new();
    for (i, d) in divisions.iter().enumerate() {
        let Some(name) = d.as_str().or_else(|| d.get("name").and_then(Value::as_str)).filter(|n| !n.trim().is_empty())
        else {
            return Err(format!("divisions[{i}]: a division is a name or {{\"name\": ...}}, not {d}"));
        };
        let id = store.division_by_name(name.trim());
        report_divisions.push(json!({"name": name.trim(), "id": id}));
    }
    let report_roles = seed_roles(store, roles)?;
    let report_users = seed_users(store, users)?;
    let report_groups = seed_groups(store, groups)?;
    Ok(json!({"users": report_users, "groups": report_groups, "divisions": report_divisions, "roles": report_roles}))
}

/// Add the roles to the catalogue, or redefine those of the same name.
fn seed_roles(store: &mut Store, roles: &[Value]) -> Result<Vec<Value>, String> {
    let mut report = Vec::new();
    for (i, r) in roles.iter().enumerate() {
        let Some(o) = r.as_object() else {
            return Err(format!("roles[{i}]: a role is {{\"name\", \"permissions\", \"description\"?}}, not {r}"));
        };
        if let Some(k) = o.keys().find(|k| !["name", "permissions", "description"].contains(&k.as_str())) {
            return Err(format!("roles[{i}]: unknown key {k:?} (expected name, permissions, description)"));
        }
        let Some(name) = o.get("name").and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty()) else {
            return Err(format!("roles[{i}]: the role has no name"));
        };
        let description = match o.get("description") {
            None | Some(Value::Null) => "",
            Some(Value::String(d)) => d.as_str(),
            Some(other) => return Err(format!("roles[{i}] ({name}): description must be a string, not {other}")),
        };
        let permissions: Vec<String> = match o.get("permissions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|p| {
                    p.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("roles[{i}] ({name}): {p} is not a permission string"))
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("roles[{i}] ({name}): permissions must be a list, not {other}")),
        };
        let policies = policies_from_permissions(&permissions).map_err(|e| format!("roles[{i}] ({name}): {e}"))?;
        let (id, _) = store.put_role(name, description, policies);
        report.push(json!({"name": name, "id": id}));
    }
    Ok(report)
}

/// Create the users, then point each at its manager (who may come later in the list).
fn seed_users(store: &mut Store, users: &[Value]) -> Result<Vec<Value>, String> {
    let mut report = Vec::new();
    let mut managers: Vec<(usize, String, String)> = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let Some(doc) = u.as_object() else {
            return Err(format!("users[{i}]: a user is a SCIM user object, not {u}"));
        };
        let mut doc = doc.clone();
        let manager = take_manager(&mut doc).map_err(|e| format!("users[{i}]: {e}"))?;
        let id = scim::seed_user(store, &doc).map_err(|e| {
            let name = get_ci(&doc, "userName").and_then(Value::as_str).unwrap_or("?");
            format!("users[{i}] ({name}): {}", e.message)
        })?;
        let name = store.user(&id).map(|u| u.user_name.clone()).unwrap_or_default();
        if let Some(m) = manager {
            managers.push((i, id.clone(), m));
        }
        report.push(json!({"userName": name, "id": id}));
    }
    for (i, id, reference) in managers {
        let manager = user_ref(store, &reference)
            .ok_or_else(|| format!("users[{i}]: the manager {reference:?} is neither a userName nor a user id"))?;
        if let Some(u) = store.user_mut_unversioned(&id) {
            u.manager = Some(manager);
        }
    }
    Ok(report)
}

/// Take the enterprise `manager` out of a seed user (it names a userName, which the SCIM reader
/// would store as an id): `{"<enterprise URN>": {"manager": {"value": X}}}` or
/// `{"<enterprise URN>:manager": {"value": X}}`, `X` or `{"value": X}`.
fn take_manager(doc: &mut Map<String, Value>) -> Result<Option<String>, String> {
    let mut found = None;
    let flat = format!("{ENTERPRISE}:manager");
    if let Some(k) = doc.keys().find(|k| k.eq_ignore_ascii_case(&flat)).cloned() {
        found = doc.remove(&k);
    }
    if let Some(Value::Object(ent)) = doc.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(ENTERPRISE)).map(|(_, v)| v)
        && let Some(k) = ent.keys().find(|k| k.eq_ignore_ascii_case("manager")).cloned()
    {
        found = ent.remove(&k);
    }
    match found {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(Value::Object(m)) => match get_ci(&m, "value") {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            _ => Err("manager must be {\"value\": \"<userName or id>\"}".into()),
        },
        Some(other) => Err(format!("manager must be {{\"value\": \"<userName or id>\"}}, not {other}")),
    }
}

/// The id of the non-deleted user with this userName, or of the non-deleted user with this id.
fn user_ref(store: &Store, reference: &str) -> Option<String> {
    store
        .user_by_name(reference)
        .or_else(|| store.user(reference).filter(|u| u.state != UserState::Deleted))
        .map(|u| u.id.clone())
}

fn seed_groups(store: &mut Store, groups: &[Value]) -> Result<Vec<Value>, String> {
    let mut report = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let (name, members) = match g {
            Value::String(name) => (name.as_str(), &[][..]),
            Value::Object(o) => {
                if let Some(k) = o.keys().find(|k| !["displayName", "members"].contains(&k.as_str())) {
                    return Err(format!("groups[{i}]: unknown key {k:?} (expected displayName, members)"));
                }
                let name = o.get("displayName").and_then(Value::as_str).unwrap_or_default();
                let members = match o.get("members") {
                    None | Some(Value::Null) => &[][..],
                    Some(Value::Array(m)) => m.as_slice(),
                    Some(other) => {
                        return Err(format!("groups[{i}]: members must be a list of userNames, not {other}"));
                    }
                };
                (name, members)
            }
            other => {
                return Err(format!("groups[{i}]: a group is a name or {{\"displayName\", \"members\"}}, not {other}"));
            }
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("groups[{i}]: the group has no displayName"));
        }
        let mut ids = Vec::new();
        for m in members {
            let reference = m.as_str().unwrap_or_default();
            let Some(id) = user_ref(store, reference) else {
                return Err(format!("groups[{i}] ({name}): the member {m} is neither a userName nor a user id"));
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let existed = store.groups().iter().any(|g| g.display_name.eq_ignore_ascii_case(name));
        let group = store.seed_group(name).clone();
        let mut next = group.clone();
        for id in ids {
            if !next.members.contains(&id) {
                next.members.push(id);
            }
        }
        if existed {
            store.update_group(next);
        } else if let Some(g) = store.group_mut_unversioned(&group.id) {
            g.members = next.members;
        }
        report.push(json!({"displayName": group.display_name, "id": group.id}));
    }
    Ok(report)
}
