//! The roles the bridge grants (`genesys.roles`) and what it found of each in Genesys: shared
//! by the outbox worker, which looks them up at start and at a grant, and the operator pages
//! (`/readyz`, `/admin`), which show a role Genesys lacks as an error.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::api::{Role, RoleSpec};

/// How long a role found missing is taken as missing before a grant looks it up again (an
/// administrator may have created it meanwhile).
pub const RECHECK_MISSING_AFTER: Duration = Duration::from_secs(60);

/// What the bridge knows of one configured role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Not looked up (yet): why. Looked up at the first grant.
    Unchecked(String),
    Found(Role),
    /// Genesys has no such role (or several match): what to do.
    Missing {
        why: String,
        at: Instant,
    },
}

/// The configured roles, with what was found of each.
#[derive(Debug, Default)]
pub struct RoleStatus {
    specs: Vec<RoleSpec>,
    state: Mutex<BTreeMap<String, Resolution>>,
}

impl RoleStatus {
    pub fn new(specs: Vec<RoleSpec>) -> RoleStatus {
        let state = specs.iter().map(|s| (s.key(), Resolution::Unchecked("not looked up yet".into()))).collect();
        RoleStatus { specs, state: Mutex::new(state) }
    }

    /// The roles configured, in the setting's order.
    pub fn specs(&self) -> &[RoleSpec] {
        &self.specs
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Resolution>> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn record(&self, spec: &RoleSpec, resolution: Resolution) {
        self.lock().insert(spec.key(), resolution);
    }

    /// The role ids found, and the roles found missing less than [`RECHECK_MISSING_AFTER`] ago
    /// (with what to do), by `RoleSpec::key`: what a plan may take as known.
    pub fn known(&self, now: Instant) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let (mut ids, mut missing) = (BTreeMap::new(), BTreeMap::new());
        for (key, r) in self.lock().iter() {
            match r {
                Resolution::Found(role) => {
                    ids.insert(key.clone(), role.id.clone());
                }
                Resolution::Missing { why, at } if now.duration_since(*at) < RECHECK_MISSING_AFTER => {
                    missing.insert(key.clone(), why.clone());
                }
                _ => {}
            }
        }
        (ids, missing)
    }

    /// Every configured role with what is known of it, in the setting's order.
    pub fn report(&self) -> Vec<(String, Resolution)> {
        let state = self.lock();
        self.specs
            .iter()
            .map(|s| {
                let key = s.key();
                let r = state.get(&key).cloned().unwrap_or(Resolution::Unchecked("not looked up yet".into()));
                (key, r)
            })
            .collect()
    }

    /// What is wrong with the configured roles (for `/readyz`); empty when nothing is known wrong.
    pub fn problems(&self) -> Vec<String> {
        self.report()
            .into_iter()
            .filter_map(|(_, r)| match r {
                Resolution::Missing { why, .. } => Some(why),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_role_is_a_problem_and_taken_as_missing_only_for_a_while() {
        let specs = RoleSpec::parse_list("employee, 8x8 User").unwrap_or_default();
        let status = RoleStatus::new(specs.clone());
        assert!(status.problems().is_empty());
        let t0 = Instant::now();
        status.record(&specs[0], Resolution::Found(Role { id: "r1".into(), name: "employee".into() }));
        status.record(&specs[1], Resolution::Missing { why: "no role".into(), at: t0 });
        assert_eq!(status.problems(), vec!["no role".to_string()]);
        let (ids, missing) = status.known(t0);
        assert_eq!(ids.get("employee").map(String::as_str), Some("r1"));
        assert!(missing.contains_key("8x8 User"));
        let (_, later) = status.known(t0 + RECHECK_MISSING_AFTER + Duration::from_secs(1));
        assert!(later.is_empty(), "looked up again after a while");
        let keys: Vec<String> = status.report().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["employee", "8x8 User"]);
    }
}
