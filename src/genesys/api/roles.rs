//! Genesys roles the bridge grants (genesys-api-notes §12): how an operator names one
//! ([`RoleSpec`]: an API role name, or `permission:<wire name>` for a role found by a permission
//! it carries, since the 8x8 role's name differs per org), the lookup request, how a role list
//! answers it ([`match_role`]), and the grants of a user (`AuthzSubject`).
//!
//! Pure: values in, values out.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::requests::ApiRequest;
use super::wire::resource_id;

/// A role to grant, as configured (`genesys.roles`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleSpec {
    /// The role's API `name` (e.g. `employee`; UI labels such as "Employee" may differ).
    Name(String),
    /// The role carrying this permission (`integration:unifiedCommunications:view`); of several,
    /// the one with the fewest permission policies (never a catch-all such as `admin`).
    Permission(String),
}

const PERMISSION_PREFIX: &str = "permission:";

impl RoleSpec {
    /// How the setting spells it: the name, or `permission:<wire name>`. Also the key under
    /// which the bridge records the grant.
    pub fn key(&self) -> String {
        self.to_string()
    }

    /// `GET /api/v2/authorization/roles?name=…` or `?permission=…` (genesys-api-notes §12).
    pub fn lookup(&self) -> ApiRequest {
        match self {
            RoleSpec::Name(n) => ApiRequest::roles_by_name(n),
            RoleSpec::Permission(p) => ApiRequest::roles_by_permission(p),
        }
    }

    /// Parse a comma-separated list (the environment variable and the flag; a TOML list is
    /// joined with commas first). Blank items are skipped; duplicates kept once.
    pub fn parse_list(s: &str) -> Result<Vec<RoleSpec>, String> {
        let mut out: Vec<RoleSpec> = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let spec: RoleSpec = item.parse()?;
            if !out.contains(&spec) {
                out.push(spec);
            }
        }
        Ok(out)
    }
}

impl serde::Serialize for RoleSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for RoleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoleSpec::Name(n) => f.write_str(n),
            RoleSpec::Permission(p) => write!(f, "{PERMISSION_PREFIX}{p}"),
        }
    }
}

impl FromStr for RoleSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err(
                "a role name is empty; list API role names such as employee, or permission:<domain:entity:action>"
                    .into(),
            );
        }
        let rest = match s.get(..PERMISSION_PREFIX.len()) {
            Some(head) if head.eq_ignore_ascii_case(PERMISSION_PREFIX) => &s[PERMISSION_PREFIX.len()..],
            _ => return Ok(RoleSpec::Name(s.to_string())),
        };
        let parts: Vec<&str> = rest.trim().split(':').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.trim().is_empty() || p.contains(char::is_whitespace)) {
            return Err(format!(
                "'{s}' is not a permission: write permission:<domain>:<entity>:<action>, e.g. \
                 permission:integration:unifiedCommunications:view"
            ));
        }
        Ok(RoleSpec::Permission(rest.trim().to_string()))
    }
}

/// A role found in Genesys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub name: String,
}

/// What a role list (`OrganizationRoleEntityListing`) says of one [`RoleSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleMatch {
    Found(Role),
    /// No role has that name (exactly, ignoring case) or carries that permission.
    Absent,
    /// Several roles carry the permission with as few policies each: name one.
    Ambiguous(Vec<String>),
}

/// The role `spec` names in a role list. By name: the entity whose `name` equals it ignoring
/// case (Genesys's `name` filter is not documented as exact, so the list is checked). By
/// permission: of the entities Genesys returned for it, those that carry it in its own domain
/// (a role granting every domain through a wildcard, such as `admin`, is never chosen: the
/// bridge would make every user an administrator), and of those the one with the fewest
/// permission policies, the most specific.
pub fn match_role(list: &Value, spec: &RoleSpec) -> RoleMatch {
    let entities = list.get("entities").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let role = |e: &Value| -> Option<Role> {
        Some(Role { id: resource_id(e)?, name: e.get("name").and_then(Value::as_str)?.to_string() })
    };
    match spec {
        RoleSpec::Name(n) => entities
            .iter()
            .filter_map(role)
            .find(|r| r.name.eq_ignore_ascii_case(n))
            .map_or(RoleMatch::Absent, RoleMatch::Found),
        RoleSpec::Permission(p) => {
            let size = |e: &Value| {
                let count = |k: &str| e.get(k).and_then(Value::as_array).map_or(0, Vec::len);
                count("permissionPolicies").max(count("permissions"))
            };
            let carrying: Vec<&Value> = entities.iter().filter(|e| carries(e, p) && role(e).is_some()).collect();
            let Some(smallest) = carrying.iter().map(|e| size(e)).min() else {
                return RoleMatch::Absent;
            };
            let best: Vec<Role> = carrying.into_iter().filter(|e| size(e) == smallest).filter_map(role).collect();
            match best.as_slice() {
                [one] => RoleMatch::Found(one.clone()),
                _ => RoleMatch::Ambiguous(best.into_iter().map(|r| r.name).collect()),
            }
        }
    }
}

/// Whether a role (`DomainOrganizationRole`) carries `permission` (`domain:entity:action`) in
/// that domain: listed in `permissions`, or a policy of that very domain whose entity and
/// action match (`*` allowed there, not for the domain).
fn carries(role: &Value, permission: &str) -> bool {
    let mut parts = permission.splitn(3, ':');
    let (Some(domain), Some(entity), Some(action)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let listed =
        role.get("permissions").and_then(Value::as_array).into_iter().flatten().any(|p| p.as_str() == Some(permission));
    let by_policy = role.get("permissionPolicies").and_then(Value::as_array).into_iter().flatten().any(|pol| {
        let field = |k: &str| pol.get(k).and_then(Value::as_str).unwrap_or_default();
        let actions = pol.get("actionSet").and_then(Value::as_array);
        field("domain") == domain
            && (field("entityName") == entity || field("entityName") == "*")
            && actions.into_iter().flatten().any(|a| a.as_str() == Some(action) || a.as_str() == Some("*"))
    });
    listed || by_policy
}

/// What is wrong with the role a lookup found for `spec`, in words an operator can act on;
/// `None` when it was found.
pub fn problem(spec: &RoleSpec, found: &RoleMatch) -> Option<String> {
    let what = match spec {
        RoleSpec::Name(n) => format!("no role named '{n}'"),
        RoleSpec::Permission(p) => format!(
            "no role carrying the permission {p} in its own domain (a catch-all role such as admin is never chosen)"
        ),
    };
    match found {
        RoleMatch::Found(_) => None,
        RoleMatch::Absent => Some(format!(
            "Genesys has {what} (genesys.roles / SCIM_BRIDGE_GENESYS_ROLES lists it): create the role in Genesys or              correct the setting (API role names, e.g. employee, not UI labels), then `scim-bridge outbox retry`; the              user's fields were sent, only the grant waits"
        )),
        RoleMatch::Ambiguous(names) => Some(format!(
            "several Genesys roles carry the permission of '{spec}' ({}): list the one to grant by its name in              genesys.roles / SCIM_BRIDGE_GENESYS_ROLES, then `scim-bridge outbox retry`",
            names.join(", ")
        )),
    }
}

/// The (role id, division id) pairs a user holds (`AuthzSubject.grants`).
pub fn subject_grants(subject: &Value) -> BTreeSet<(String, String)> {
    subject
        .get("grants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| {
            let role = g.get("role").and_then(resource_id)?;
            let division = g.get("division").and_then(resource_id)?;
            Some((role, division))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn role_specs_parse_names_and_permissions() {
        assert_eq!("employee".parse(), Ok(RoleSpec::Name("employee".into())));
        assert_eq!(" 8x8 User ".parse(), Ok(RoleSpec::Name("8x8 User".into())));
        assert_eq!(
            "permission:integration:unifiedCommunications:view".parse(),
            Ok(RoleSpec::Permission("integration:unifiedCommunications:view".into()))
        );
        assert_eq!(
            "Permission:integration:unifiedCommunications:view".parse::<RoleSpec>().map(|r| r.key()),
            Ok("permission:integration:unifiedCommunications:view".to_string())
        );
        for bad in ["permission:integration", "permission:a::c", "permission:", "", "permission:a:b:c d"] {
            let err = bad.parse::<RoleSpec>().err().unwrap_or_default();
            assert!(!err.is_empty(), "{bad:?} must be refused");
        }
        assert_eq!(
            RoleSpec::parse_list("employee, 8x8 User,,employee"),
            Ok(vec![RoleSpec::Name("employee".into()), RoleSpec::Name("8x8 User".into())])
        );
    }

    #[test]
    fn a_name_matches_exactly_ignoring_case_never_a_longer_name() {
        let list = json!({"entities": [
            {"id": "r1", "name": "Employee Plus"},
            {"id": "r2", "name": "Employee"},
        ]});
        let found = match_role(&list, &RoleSpec::Name("employee".into()));
        assert_eq!(found, RoleMatch::Found(Role { id: "r2".into(), name: "Employee".into() }));
        assert_eq!(match_role(&list, &RoleSpec::Name("employ".into())), RoleMatch::Absent);
        assert_eq!(match_role(&json!({}), &RoleSpec::Name("employee".into())), RoleMatch::Absent);
    }

    #[test]
    fn a_permission_picks_the_smallest_role_carrying_it_never_the_catch_all() {
        let spec = RoleSpec::Permission("integration:unifiedCommunications:view".into());
        let policy = |d: &str, e: &str, a: &str| json!({"domain": d, "entityName": e, "actionSet": [a]});
        let admin = json!({"id": "a", "name": "admin", "permissionPolicies": [policy("*", "*", "*")]});
        let eight = json!({"id": "e", "name": "8x8 User", "permissionPolicies": [
            policy("integration", "eightByEight", "view"), policy("integration", "unifiedCommunications", "view"),
        ]});
        let broad = json!({"id": "b", "name": "Integrations", "permissionPolicies": [
            policy("integration", "*", "*"), policy("directory", "user", "view"), policy("directory", "group", "view"),
        ]});
        let found = match_role(&json!({"entities": [admin.clone(), broad.clone(), eight.clone()]}), &spec);
        assert_eq!(found, RoleMatch::Found(Role { id: "e".into(), name: "8x8 User".into() }));
        // Only the catch-all carries it: nothing is chosen.
        assert_eq!(match_role(&json!({"entities": [admin.clone()]}), &spec), RoleMatch::Absent);
        // A role listing the permission by its wire name counts too.
        let listed = json!({"id": "l", "name": "UC", "permissions": ["integration:unifiedCommunications:view"]});
        let found = match_role(&json!({"entities": [admin.clone(), listed]}), &spec);
        assert_eq!(found, RoleMatch::Found(Role { id: "l".into(), name: "UC".into() }));
        let twin = json!({"id": "t", "name": "UC viewers", "permissionPolicies": [
            policy("integration", "unifiedCommunications", "view"), policy("presence", "userPresence", "view"),
        ]});
        assert_eq!(
            match_role(&json!({"entities": [admin, eight, twin]}), &spec),
            RoleMatch::Ambiguous(vec!["8x8 User".into(), "UC viewers".into()])
        );
        assert_eq!(match_role(&json!({"entities": []}), &spec), RoleMatch::Absent);
    }

    #[test]
    fn grants_are_read_from_an_authz_subject() {
        let subject = json!({"id": "u", "grants": [
            {"subjectId": "u", "role": {"id": "r1", "name": "employee"}, "division": {"id": "d1", "name": "Home"}},
            {"subjectId": "u", "role": {"id": "r2"}, "division": {"id": "d1"}},
            {"subjectId": "u", "role": {"name": "no id"}},
        ], "version": 3});
        let grants = subject_grants(&subject);
        assert_eq!(grants.len(), 2);
        assert!(grants.contains(&("r1".to_string(), "d1".to_string())));
    }
}
