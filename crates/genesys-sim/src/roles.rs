//! Genesys's roles and role grants as data: the role catalogue (`DomainOrganizationRole`: a
//! name, a description, permission policies), the catalogue every simulated org starts with,
//! permission matching, and one user's grants (role, division) with the version of its
//! `AuthzSubject`. The store keeps the catalogue and the grants (and drops a user's grants when
//! it becomes inactive or deleted); the routes are `authorization`'s (Platform) and `scim`'s
//! (`roles` on a SCIM user).
//!
//! Fidelity decisions (docs/genesys-api-notes.md §12, §16, and §8 "Behaviours and their
//! evidence"):
//! * A permission is `domain:entityName:action`. A policy `{domain, entityName, actionSet}`
//!   grants each action of its set on that entity; `*` in any part of a policy matches anything
//!   (the `admin` role). A role's `permissions` list is its policies spelled out, so the two
//!   always agree. Matching is case-sensitive [unknown].
//! * The default catalogue: `admin` (the UI's "Master Admin"; Genesys's Terraform provider looks
//!   it up by that name), `employee` (the role a new user gets, §12 [community]; its policies
//!   here are illustrative only), and `8x8 User` with `integration:eightByEight:view` (a wire
//!   name we invented: no public text gives it) and `integration:unifiedCommunications:view`
//!   (confirmed, §12). Role ids are fresh uuids in every simulator, as they differ per org:
//!   clients look roles up by name or permission.
//! * A grant is a (role, division) pair; a user holds each pair once.
//!
//! Must not import: actix, or anything of the bridge.

use time::OffsetDateTime;
use uuid::Uuid;

/// The API name of the role every new user is granted (the UI's "Employee").
pub(crate) const EMPLOYEE: &str = "employee";

/// `DomainPermissionPolicy`, as far as the simulator keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PermissionPolicy {
    pub domain: String,
    pub entity_name: String,
    pub action_set: Vec<String>,
}

impl PermissionPolicy {
    fn new(domain: &str, entity_name: &str, actions: &[&str]) -> PermissionPolicy {
        PermissionPolicy {
            domain: domain.to_string(),
            entity_name: entity_name.to_string(),
            action_set: actions.iter().map(|a| (*a).to_string()).collect(),
        }
    }

    /// Whether the policy grants `domain:entity:action` (`*` in the policy matches any part).
    fn grants(&self, domain: &str, entity: &str, action: &str) -> bool {
        let part = |have: &str, want: &str| have == "*" || have == want;
        part(&self.domain, domain) && part(&self.entity_name, entity) && self.action_set.iter().any(|a| part(a, action))
    }
}

/// A role of the organisation's catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Role {
    pub id: String,
    pub name: String,
    pub description: String,
    pub policies: Vec<PermissionPolicy>,
}

impl Role {
    pub fn new(name: &str, description: &str, policies: Vec<PermissionPolicy>) -> Role {
        Role { id: Uuid::new_v4().to_string(), name: name.to_string(), description: description.to_string(), policies }
    }

    /// `permissions`: one `domain:entityName:action` per action of each policy, in order.
    pub fn permissions(&self) -> Vec<String> {
        self.policies
            .iter()
            .flat_map(|p| p.action_set.iter().map(move |a| format!("{}:{}:{a}", p.domain, p.entity_name)))
            .collect()
    }

    /// Whether one of the role's policies grants `permission` (`domain:entityName:action`); a
    /// string not of that form matches no role.
    pub fn grants(&self, permission: &str) -> bool {
        let Some((d, e, a)) = split_permission(permission) else {
            return false;
        };
        self.policies.iter().any(|p| p.grants(d, e, a))
    }
}

/// `domain:entityName:action`, each part non-empty.
fn split_permission(p: &str) -> Option<(&str, &str, &str)> {
    let mut parts = p.split(':');
    let (d, e, a) = (parts.next()?, parts.next()?, parts.next()?);
    let well_formed = parts.next().is_none() && [d, e, a].iter().all(|s| !s.trim().is_empty());
    well_formed.then_some((d, e, a))
}

/// Policies for a list of permissions (a seed's `permissions`): one policy per (domain, entity),
/// in the order they first appear, each action once. The error names the malformed permission.
pub(crate) fn policies_from_permissions(permissions: &[String]) -> Result<Vec<PermissionPolicy>, String> {
    let mut policies: Vec<PermissionPolicy> = Vec::new();
    for p in permissions {
        let Some((d, e, a)) = split_permission(p) else {
            return Err(format!("the permission {p:?} is not domain:entityName:action"));
        };
        match policies.iter_mut().find(|x| x.domain == d && x.entity_name == e) {
            Some(policy) => {
                if !policy.action_set.iter().any(|x| x == a) {
                    policy.action_set.push(a.to_string());
                }
            }
            None => policies.push(PermissionPolicy::new(d, e, &[a])),
        }
    }
    Ok(policies)
}

/// The roles every simulated organisation starts with (see the module doc).
pub(crate) fn default_catalogue() -> Vec<Role> {
    vec![
        Role::new("admin", "Master Admin: every permission", vec![PermissionPolicy::new("*", "*", &["*"])]),
        Role::new(
            EMPLOYEE,
            "Employee: the role every new user gets (illustrative permissions)",
            vec![
                PermissionPolicy::new("directory", "user", &["view"]),
                PermissionPolicy::new("directory", "group", &["view"]),
                PermissionPolicy::new("presence", "userPresence", &["view", "edit"]),
            ],
        ),
        Role::new(
            "8x8 User",
            "8x8 User: sees the 8x8 integration",
            vec![
                PermissionPolicy::new("integration", "eightByEight", &["view"]),
                PermissionPolicy::new("integration", "unifiedCommunications", &["view"]),
            ],
        ),
    ]
}

/// One grant: a role in a division, and when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    pub role_id: String,
    pub division_id: String,
    pub made_at: OffsetDateTime,
}

/// A user's direct grants (`AuthzSubject`): `version` moves with every change of them, and is
/// apart from the user's own version (the directory's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Subject {
    pub grants: Vec<Grant>,
    pub version: u64,
}

impl Subject {
    fn holds(&self, role_id: &str, division_id: &str) -> bool {
        self.grants.iter().any(|g| g.role_id == role_id && g.division_id == division_id)
    }

    fn changed(&mut self, changed: bool) -> bool {
        if changed {
            self.version += 1;
        }
        changed
    }

    /// Add the pairs not held yet (a pair held already stays as it is); whether any was added.
    pub fn add(&mut self, pairs: &[(String, String)], now: OffsetDateTime) -> bool {
        let mut added = false;
        for (role_id, division_id) in pairs {
            if !self.holds(role_id, division_id) {
                self.grants.push(Grant { role_id: role_id.clone(), division_id: division_id.clone(), made_at: now });
                added = true;
            }
        }
        self.changed(added)
    }

    /// Remove the pairs held; whether any was.
    pub fn remove(&mut self, pairs: &[(String, String)]) -> bool {
        let before = self.grants.len();
        self.grants.retain(|g| !pairs.iter().any(|(r, d)| *r == g.role_id && *d == g.division_id));
        let removed = self.grants.len() != before;
        self.changed(removed)
    }

    /// Make `role_ids` the set of roles held (SCIM `roles`): grants of other roles go, a role
    /// held in any division stays as it is, a role not held is granted in `division_id`.
    pub fn set_roles(&mut self, role_ids: &[String], division_id: &str, now: OffsetDateTime) -> bool {
        let before = self.grants.len();
        self.grants.retain(|g| role_ids.contains(&g.role_id));
        let mut changed = self.grants.len() != before;
        for role_id in role_ids {
            if !self.grants.iter().any(|g| g.role_id == *role_id) {
                self.grants.push(Grant {
                    role_id: role_id.clone(),
                    division_id: division_id.to_string(),
                    made_at: now,
                });
                changed = true;
            }
        }
        self.changed(changed)
    }

    /// Drop every grant (the user became inactive or deleted); whether there was any.
    pub fn clear(&mut self) -> bool {
        let had = !self.grants.is_empty();
        self.grants.clear();
        self.changed(had)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> Role {
        default_catalogue().into_iter().find(|r| r.name == name).expect("default role")
    }

    #[test]
    fn wildcards_and_action_sets_grant_permissions() {
        let admin = role("admin");
        for p in ["integration:eightByEight:view", "directory:user:edit", "a:b:c"] {
            assert!(admin.grants(p), "{p}");
        }
        let uc = role("8x8 User");
        assert!(uc.grants("integration:unifiedCommunications:view"));
        assert!(uc.grants("integration:eightByEight:view"));
        assert!(!uc.grants("integration:eightByEight:edit"));
        assert!(!uc.grants("integration:unifiedcommunications:view"), "case-sensitive");
        for malformed in ["integration:eightByEight", "a:b:c:d", "a::c", ""] {
            assert!(!admin.grants(malformed), "{malformed}");
        }
        assert_eq!(
            role(EMPLOYEE).permissions(),
            ["directory:user:view", "directory:group:view", "presence:userPresence:view", "presence:userPresence:edit"]
        );
        assert_eq!(role("admin").permissions(), ["*:*:*"]);
    }

    #[test]
    fn permissions_group_into_policies() {
        let list: Vec<String> =
            ["a:b:view", "a:c:view", "a:b:edit", "a:b:view"].iter().map(|s| (*s).to_string()).collect();
        assert_eq!(
            policies_from_permissions(&list),
            Ok(vec![PermissionPolicy::new("a", "b", &["view", "edit"]), PermissionPolicy::new("a", "c", &["view"])])
        );
        assert!(policies_from_permissions(&["a:b".to_string()]).is_err_and(|e| e.contains("\"a:b\"")));
    }

    #[test]
    fn grants_are_held_once_and_versioned() {
        let now = OffsetDateTime::now_utc();
        let mut s = Subject::default();
        let pair = |r: &str, d: &str| (r.to_string(), d.to_string());
        assert!(s.add(&[pair("r1", "d1"), pair("r1", "d1"), pair("r2", "d1")], now));
        assert_eq!((s.grants.len(), s.version), (2, 1));
        assert!(!s.add(&[pair("r1", "d1")], now), "held already: no change");
        assert_eq!(s.version, 1);
        assert!(s.add(&[pair("r1", "d2")], now), "the same role in another division is another grant");
        assert!(!s.set_roles(&["r1".into(), "r2".into()], "d1", now), "every role held: nothing to do");
        assert!(s.set_roles(&["r1".into(), "r3".into()], "home", now));
        let held: Vec<(&str, &str)> = s.grants.iter().map(|g| (g.role_id.as_str(), g.division_id.as_str())).collect();
        assert_eq!(held, [("r1", "d1"), ("r1", "d2"), ("r3", "home")]);
        assert!(s.remove(&[pair("r1", "d2"), pair("r9", "d1")]));
        assert!(!s.remove(&[pair("r9", "d1")]));
        assert!(s.clear());
        assert!(!s.clear());
        assert_eq!(s.version, 5);
    }
}
