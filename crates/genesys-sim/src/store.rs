//! The simulator's one in-memory user store, shared by the SCIM and the Platform routes.
//!
//! Owns: the Genesys user as one record (genesys-api-notes §1.4's "UserProfile": name, state, version,
//! title, department, division, manager, HR fields, e-mails and the phone fields of the profile),
//! groups (which exist only when seeded, genesys-api-notes §1.11), divisions, the role catalogue
//! and each user's role grants (`crate::roles`), and the invariants both APIs share: `userName`
//! unique among non-deleted users (case-insensitive), `version` +1 per write that changes the
//! user, soft delete, and a user that becomes inactive or deleted loses its direct grants
//! (genesys-api-notes §16: "All roles assigned to the user are removed"; reactivating or
//! restoring it grants nothing back).
//!
//! Grants are not part of the user's record: they have their own version (`AuthzSubject`), and
//! granting or removing a role never moves the user's `version` (Genesys keeps grants in its
//! authorization service, apart from the directory; whether a role change moves the user's
//! version there is **[unknown]**).
//!
//! The phone model is the profile's, not SCIM's: one field per Genesys phone type
//! ([`PhoneSlot`]). Every UC type SCIM knows (`other`, `eightbyeight`, `microsoftteams`,
//! `zoomphone`, `ringcentral`) writes the single Other Phone (genesys-api-notes §1.4, §1.5), which is also
//! Platform `addresses[{mediaType: PHONE, type: OTHER}]` (genesys-api-notes §2.2).
//!
//! Must not import: actix, or anything of the bridge.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::roles::{self, Grant, PermissionPolicy, Role, Subject};

/// Genesys user states (Platform `User.state`; SCIM `active` true/false, DELETE → deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserState {
    Active,
    Inactive,
    Deleted,
}

impl UserState {
    pub fn as_str(self) -> &'static str {
        match self {
            UserState::Active => "active",
            UserState::Inactive => "inactive",
            UserState::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<UserState> {
        match s.to_ascii_lowercase().as_str() {
            "active" => Some(UserState::Active),
            "inactive" => Some(UserState::Inactive),
            "deleted" => Some(UserState::Deleted),
            _ => None,
        }
    }
}

/// The phone fields of a Genesys profile, in the order the profile and Platform list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PhoneSlot {
    Work,
    Work2,
    Work3,
    Work4,
    Home,
    Mobile,
    Other,
}

/// SCIM `phoneNumbers.type` values that land in the Other Phone (genesys-api-notes §1.4, §1.5).
pub(crate) const OTHER_PHONE_TYPES: [&str; 5] = ["other", "eightbyeight", "microsoftteams", "zoomphone", "ringcentral"];

/// The 11 values of `ScimPhoneNumber.type` today (genesys-api-notes §1.5).
pub(crate) const SCIM_PHONE_TYPES: [&str; 11] = [
    "work",
    "work2",
    "work3",
    "work4",
    "home",
    "mobile",
    "other",
    "microsoftteams",
    "zoomphone",
    "eightbyeight",
    "ringcentral",
];

impl PhoneSlot {
    pub const ALL: [PhoneSlot; 7] = [
        PhoneSlot::Work,
        PhoneSlot::Work2,
        PhoneSlot::Work3,
        PhoneSlot::Work4,
        PhoneSlot::Home,
        PhoneSlot::Mobile,
        PhoneSlot::Other,
    ];

    /// The slot a SCIM phone type writes (case-insensitive), with the type in canonical
    /// spelling; `None` for a type outside the 11 values.
    pub fn from_scim_type(t: &str) -> Option<(PhoneSlot, &'static str)> {
        let canonical = SCIM_PHONE_TYPES.iter().find(|c| c.eq_ignore_ascii_case(t))?;
        let slot = match *canonical {
            "work" => PhoneSlot::Work,
            "work2" => PhoneSlot::Work2,
            "work3" => PhoneSlot::Work3,
            "work4" => PhoneSlot::Work4,
            "home" => PhoneSlot::Home,
            "mobile" => PhoneSlot::Mobile,
            _ => PhoneSlot::Other,
        };
        Some((slot, canonical))
    }

    /// The SCIM type a slot reads back as (the Other Phone reads back as written; see
    /// [`SimUser::other_written_as`]).
    pub fn scim_type(self) -> &'static str {
        match self {
            PhoneSlot::Work => "work",
            PhoneSlot::Work2 => "work2",
            PhoneSlot::Work3 => "work3",
            PhoneSlot::Work4 => "work4",
            PhoneSlot::Home => "home",
            PhoneSlot::Mobile => "mobile",
            PhoneSlot::Other => "other",
        }
    }

    /// Platform `Contact.type` for `mediaType: PHONE`.
    pub fn platform_type(self) -> &'static str {
        match self {
            PhoneSlot::Work => "WORK",
            PhoneSlot::Work2 => "WORK2",
            PhoneSlot::Work3 => "WORK3",
            PhoneSlot::Work4 => "WORK4",
            PhoneSlot::Home => "HOME",
            PhoneSlot::Mobile => "MOBILE",
            PhoneSlot::Other => "OTHER",
        }
    }

    pub fn from_platform_type(t: &str) -> Option<PhoneSlot> {
        PhoneSlot::ALL.into_iter().find(|s| s.platform_type().eq_ignore_ascii_case(t))
    }

    /// The key of the field in the internal profile notation (`contactInfo.phone_other`, HELP-MAP).
    pub fn profile_key(self) -> &'static str {
        match self {
            PhoneSlot::Work => "phone_work",
            PhoneSlot::Work2 => "phone_work_2",
            PhoneSlot::Work3 => "phone_work_3",
            PhoneSlot::Work4 => "phone_work_4",
            PhoneSlot::Home => "phone_home",
            PhoneSlot::Mobile => "phone_mobile",
            PhoneSlot::Other => "phone_other",
        }
    }
}

/// One phone field's content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Phone {
    /// The number as written (E.164 or a tel URI; not normalised).
    pub number: Option<String>,
    pub extension: Option<String>,
    pub country_code: Option<String>,
    /// Platform `Contact.integration`, kept as written (values unverified, genesys-api-notes §2.1).
    pub integration: Option<String>,
}

impl Phone {
    pub fn number(n: impl Into<String>) -> Phone {
        Phone { number: Some(n.into()), ..Phone::default() }
    }
}

/// A Genesys user.
#[derive(Debug, Clone)]
pub(crate) struct SimUser {
    pub id: String,
    pub user_name: String,
    pub display_name: String,
    pub state: UserState,
    pub version: u64,
    pub title: Option<String>,
    pub department: Option<String>,
    pub division_id: String,
    pub manager: Option<String>,
    pub employee_number: Option<String>,
    pub date_hire: Option<String>,
    pub external_id: Option<String>,
    pub work_email: Option<String>,
    pub work_email_primary: bool,
    pub phones: BTreeMap<PhoneSlot, Phone>,
    /// The SCIM type the Other Phone reads back as: the type it was last written as through
    /// SCIM (`eightbyeight`, ...). A Platform write of `OTHER` keeps it, or sets `other` when
    /// there was no Other Phone before.
    pub other_written_as: &'static str,
    /// A phone explicitly marked primary; see [`SimUser::primary_phone`].
    pub primary_slot: Option<PhoneSlot>,
    /// Platform SMS contacts: (type, address), replaced wholesale like phones.
    pub sms: Vec<(String, String)>,
    pub routing_skills: Vec<Value>,
    pub routing_languages: Vec<Value>,
    /// Genesys-extension `externalIds` other than the SCIM authority's.
    pub external_ids: Vec<Value>,
    pub modified: OffsetDateTime,
}

impl SimUser {
    pub fn new(user_name: String, display_name: String, division_id: String) -> SimUser {
        let now = OffsetDateTime::now_utc();
        SimUser {
            id: Uuid::new_v4().to_string(),
            user_name,
            display_name,
            state: UserState::Active,
            version: 1,
            title: None,
            department: None,
            division_id,
            manager: None,
            employee_number: None,
            date_hire: None,
            external_id: None,
            work_email: None,
            work_email_primary: false,
            phones: BTreeMap::new(),
            other_written_as: "other",
            primary_slot: None,
            sms: Vec::new(),
            routing_skills: Vec::new(),
            routing_languages: Vec::new(),
            external_ids: Vec::new(),
            modified: now,
        }
    }

    /// The primary phone: the one marked primary, or the only phone when there is one
    /// ("If no other numbers are populated through SCIM, the Other Phone field is set as
    /// primary automatically", genesys-api-notes §1.5 [quirk]).
    pub fn primary_phone(&self) -> Option<PhoneSlot> {
        match self.primary_slot {
            Some(s) if self.phones.contains_key(&s) => Some(s),
            _ if self.phones.len() == 1 => self.phones.keys().next().copied(),
            _ => None,
        }
    }

    /// The field the SCIM and Platform APIs compare for "did this write change anything".
    fn content(&self) -> impl PartialEq + '_ {
        (
            (&self.user_name, &self.display_name, self.state, &self.title, &self.department, &self.division_id),
            (&self.manager, &self.employee_number, &self.date_hire, &self.external_id),
            (&self.work_email, self.work_email_primary, &self.phones, self.other_written_as, self.primary_slot),
            (&self.sms, &self.routing_skills, &self.routing_languages, &self.external_ids),
        )
    }

    pub fn same_content(&self, other: &SimUser) -> bool {
        self.content() == other.content()
    }
}

/// A Genesys group (only as far as SCIM sees it: name, external id, members).
#[derive(Debug, Clone)]
pub(crate) struct SimGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    /// User ids, in the order they were added.
    pub members: Vec<String>,
    pub version: u64,
    pub modified: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub(crate) struct Division {
    pub id: String,
    pub name: String,
}

/// Why a store write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// Another non-deleted user has this userName.
    UserNameTaken,
    /// No user with this id.
    NoSuchUser,
}

/// Users, groups, divisions, roles and grants. `Clone` so that a seed is applied to a copy and
/// swapped in whole, or not at all.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    users: HashMap<String, SimUser>,
    /// User ids in creation order (listing order).
    order: Vec<String>,
    /// Lower-cased userName → id, for non-deleted users.
    by_name: HashMap<String, String>,
    groups: Vec<SimGroup>,
    divisions: Vec<Division>,
    /// The role catalogue, in creation order.
    roles: Vec<Role>,
    /// User id → its direct grants.
    subjects: HashMap<String, Subject>,
}

/// The id of the Home division every org has.
pub(crate) const HOME_DIVISION_ID: &str = "7a4e3d0e-5e5c-4b5a-9a4e-000000000001";

impl Store {
    pub fn new() -> Store {
        Store {
            users: HashMap::new(),
            order: Vec::new(),
            by_name: HashMap::new(),
            groups: Vec::new(),
            divisions: vec![Division { id: HOME_DIVISION_ID.to_string(), name: "Home".to_string() }],
            roles: roles::default_catalogue(),
            subjects: HashMap::new(),
        }
    }

    /// Forget every user, membership and grant (groups, divisions and roles stay).
    pub fn clear_users(&mut self) {
        self.users.clear();
        self.order.clear();
        self.by_name.clear();
        self.subjects.clear();
        for g in &mut self.groups {
            g.members.clear();
        }
    }

    pub fn user(&self, id: &str) -> Option<&SimUser> {
        self.users.get(id)
    }

    /// Users in creation order.
    pub fn users(&self) -> impl Iterator<Item = &SimUser> {
        self.order.iter().filter_map(|id| self.users.get(id))
    }

    /// The non-deleted user with this userName (case-insensitive).
    pub fn user_by_name(&self, user_name: &str) -> Option<&SimUser> {
        self.by_name.get(&user_name.to_lowercase()).and_then(|id| self.users.get(id))
    }

    /// The non-deleted user with this userName, or else the last deleted one.
    pub fn user_by_name_any(&self, user_name: &str) -> Option<&SimUser> {
        self.user_by_name(user_name).or_else(|| {
            self.order
                .iter()
                .rev()
                .filter_map(|id| self.users.get(id))
                .find(|u| u.user_name.eq_ignore_ascii_case(user_name))
        })
    }

    fn name_free(&self, user_name: &str, except: Option<&str>) -> bool {
        match self.by_name.get(&user_name.to_lowercase()) {
            None => true,
            Some(id) => Some(id.as_str()) == except,
        }
    }

    /// Add a new user (id, version 1 and timestamps already set by [`SimUser::new`]).
    pub fn insert_user(&mut self, user: SimUser) -> Result<&SimUser, StoreError> {
        if user.state != UserState::Deleted && !self.name_free(&user.user_name, None) {
            return Err(StoreError::UserNameTaken);
        }
        let id = user.id.clone();
        if user.state != UserState::Deleted {
            self.by_name.insert(user.user_name.to_lowercase(), id.clone());
        }
        self.order.push(id.clone());
        self.users.insert(id.clone(), user);
        self.users.get(&id).ok_or(StoreError::NoSuchUser)
    }

    /// Replace a user's record with `next` (same id). Bumps the version and `modified` when
    /// anything changed; returns whether it did. A user becoming deleted leaves its groups; a
    /// user becoming inactive or deleted loses its direct grants.
    pub fn update_user(&mut self, mut next: SimUser) -> Result<bool, StoreError> {
        let Some(current) = self.users.get(&next.id) else {
            return Err(StoreError::NoSuchUser);
        };
        if next.state != UserState::Deleted && !self.name_free(&next.user_name, Some(&next.id)) {
            return Err(StoreError::UserNameTaken);
        }
        if current.same_content(&next) {
            return Ok(false);
        }
        let old_key = current.user_name.to_lowercase();
        let was_deleted = current.state == UserState::Deleted;
        let lost_grants = next.state != current.state && next.state != UserState::Active;
        next.version = current.version + 1;
        next.modified = OffsetDateTime::now_utc();
        if !was_deleted && self.by_name.get(&old_key) == Some(&next.id) {
            self.by_name.remove(&old_key);
        }
        if next.state == UserState::Deleted {
            for g in &mut self.groups {
                if g.members.contains(&next.id) {
                    g.members.retain(|m| m != &next.id);
                    g.version += 1;
                    g.modified = next.modified;
                }
            }
        } else {
            self.by_name.insert(next.user_name.to_lowercase(), next.id.clone());
        }
        if lost_grants && let Some(subject) = self.subjects.get_mut(&next.id) {
            subject.clear();
        }
        self.users.insert(next.id.clone(), next);
        Ok(true)
    }

    /// A user to change without a version bump: only for seeding (`crate::seed`), before any
    /// client has seen the user. Must not change the userName or the state.
    pub fn user_mut_unversioned(&mut self, id: &str) -> Option<&mut SimUser> {
        self.users.get_mut(id)
    }

    /// A group to change without a version bump: only for seeding a group created by the same
    /// seed.
    pub fn group_mut_unversioned(&mut self, id: &str) -> Option<&mut SimGroup> {
        self.groups.iter_mut().find(|g| g.id == id)
    }

    pub fn groups(&self) -> &[SimGroup] {
        &self.groups
    }

    pub fn group(&self, id: &str) -> Option<&SimGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The groups a user is a member of.
    pub fn groups_of(&self, user_id: &str) -> impl Iterator<Item = &SimGroup> {
        self.groups.iter().filter(move |g| g.members.iter().any(|m| m == user_id))
    }

    /// Seed a group (idempotent by name, case-insensitive): the existing or new group.
    pub fn seed_group(&mut self, name: &str) -> &SimGroup {
        let idx = match self.groups.iter().position(|g| g.display_name.eq_ignore_ascii_case(name)) {
            Some(i) => i,
            None => {
                let now = OffsetDateTime::now_utc();
                self.groups.push(SimGroup {
                    id: Uuid::new_v4().to_string(),
                    display_name: name.to_string(),
                    external_id: None,
                    members: Vec::new(),
                    version: 1,
                    modified: now,
                });
                self.groups.len() - 1
            }
        };
        &self.groups[idx]
    }

    /// Replace a group's record (same id); bumps the version when anything changed.
    pub fn update_group(&mut self, mut next: SimGroup) -> bool {
        let Some(current) = self.groups.iter_mut().find(|g| g.id == next.id) else {
            return false;
        };
        let same = (&current.display_name, &current.external_id, &current.members)
            == (&next.display_name, &next.external_id, &next.members);
        if same {
            return false;
        }
        next.version = current.version + 1;
        next.modified = OffsetDateTime::now_utc();
        *current = next;
        true
    }

    pub fn divisions(&self) -> &[Division] {
        &self.divisions
    }

    pub fn division(&self, id: &str) -> Option<&Division> {
        self.divisions.iter().find(|d| d.id == id)
    }

    /// The id of the division called `name` (case-insensitive), created on first use.
    ///
    /// Leniency: a real org refuses a division it does not have (**[unverified]** how); the
    /// simulator creates it, so bridge tests need not seed divisions.
    pub fn division_by_name(&mut self, name: &str) -> String {
        if let Some(d) = self.divisions.iter().find(|d| d.name.eq_ignore_ascii_case(name)) {
            return d.id.clone();
        }
        let id = Uuid::new_v4().to_string();
        self.divisions.push(Division { id: id.clone(), name: name.to_string() });
        id
    }

    pub fn division_name(&self, id: &str) -> &str {
        self.division(id).map_or("Home", |d| d.name.as_str())
    }

    /// The role catalogue, in creation order.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    pub fn role(&self, id: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// The role called exactly `name`, case-insensitively (how SCIM `roles` values are matched).
    pub fn role_by_name(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name.eq_ignore_ascii_case(name))
    }

    /// Add a role, or redefine the one with that name (case-insensitive): it keeps its id and its
    /// grants. Its id, and whether it is new.
    pub fn put_role(&mut self, name: &str, description: &str, policies: Vec<PermissionPolicy>) -> (String, bool) {
        if let Some(r) = self.roles.iter_mut().find(|r| r.name.eq_ignore_ascii_case(name)) {
            r.name = name.to_string();
            r.description = description.to_string();
            r.policies = policies;
            return (r.id.clone(), false);
        }
        let role = Role::new(name, description, policies);
        let id = role.id.clone();
        self.roles.push(role);
        (id, true)
    }

    /// A user's direct grants, oldest first (none for an unknown id).
    pub fn grants(&self, user_id: &str) -> &[Grant] {
        self.subjects.get(user_id).map_or(&[], |s| s.grants.as_slice())
    }

    /// The version of a user's grants (`AuthzSubject.version`): 0 before the first grant.
    pub fn grants_version(&self, user_id: &str) -> u64 {
        self.subjects.get(user_id).map_or(0, |s| s.version)
    }

    /// The names of the roles a user holds directly, each once, in the order first granted (what
    /// SCIM `roles` shows).
    pub fn role_names(&self, user_id: &str) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for g in self.grants(user_id) {
            if let Some(r) = self.role(&g.role_id)
                && !names.contains(&r.name.as_str())
            {
                names.push(&r.name);
            }
        }
        names
    }

    /// How many users hold a role directly (`userCount`).
    pub fn user_count(&self, role_id: &str) -> usize {
        self.subjects.values().filter(|s| s.grants.iter().any(|g| g.role_id == role_id)).count()
    }

    /// The grants of a user, to change (`crate::roles::Subject` bumps its version). The caller
    /// has checked that the user exists and that the role and division ids do.
    pub fn subject_mut(&mut self, user_id: &str) -> &mut Subject {
        self.subjects.entry(user_id.to_string()).or_default()
    }

    /// Grant a new user the `employee` role in the home division, as Genesys does for every new
    /// user (genesys-api-notes §12 [community]).
    pub fn grant_default_role(&mut self, user_id: &str) {
        if let Some(id) = self.role_by_name(roles::EMPLOYEE).map(|r| r.id.clone()) {
            let pair = (id, HOME_DIVISION_ID.to_string());
            self.subject_mut(user_id).add(&[pair], OffsetDateTime::now_utc());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> SimUser {
        SimUser::new(name.to_string(), format!("D {name}"), HOME_DIVISION_ID.to_string())
    }

    #[test]
    fn user_names_are_unique_among_non_deleted_users_case_insensitively() {
        let mut s = Store::new();
        let id = s.insert_user(user("a@x.org")).map(|u| u.id.clone()).expect("insert");
        assert_eq!(s.insert_user(user("A@X.org")).err(), Some(StoreError::UserNameTaken));
        let mut deleted = s.user(&id).cloned().expect("user");
        deleted.state = UserState::Deleted;
        assert_eq!(s.update_user(deleted), Ok(true));
        assert_eq!(s.user(&id).map(|u| u.version), Some(2));
        assert!(s.user_by_name("a@x.org").is_none());
        assert_eq!(s.user_by_name_any("a@x.org").map(|u| u.id.as_str()), Some(id.as_str()));
        let again = s.insert_user(user("a@x.org")).map(|u| u.id.clone()).expect("reuse");
        assert_ne!(again, id);
        // Restoring the deleted one now collides.
        let mut restored = s.user(&id).cloned().expect("user");
        restored.state = UserState::Active;
        assert_eq!(s.update_user(restored), Err(StoreError::UserNameTaken));
    }

    #[test]
    fn versions_move_only_when_something_changes() {
        let mut s = Store::new();
        let id = s.insert_user(user("b@x.org")).map(|u| u.id.clone()).expect("insert");
        let same = s.user(&id).cloned().expect("user");
        assert_eq!(s.update_user(same), Ok(false));
        let mut next = s.user(&id).cloned().expect("user");
        next.title = Some("T".into());
        assert_eq!(s.update_user(next), Ok(true));
        assert_eq!(s.user(&id).map(|u| u.version), Some(2));
    }

    #[test]
    fn becoming_inactive_or_deleted_drops_the_grants_and_coming_back_restores_none() {
        let mut s = Store::new();
        let id = s.insert_user(user("g@x.org")).map(|u| u.id.clone()).expect("insert");
        s.grant_default_role(&id);
        assert_eq!(s.role_names(&id), ["employee"]);
        let with_state = |s: &Store, state: UserState| {
            let mut next = s.user(&id).cloned().expect("user");
            next.state = state;
            next
        };
        for (state, left) in [(UserState::Inactive, 0), (UserState::Active, 0), (UserState::Deleted, 0)] {
            let next = with_state(&s, state);
            assert_eq!(s.update_user(next), Ok(true));
            assert_eq!(s.grants(&id).len(), left, "{state:?}");
        }
        assert_eq!(s.grants_version(&id), 2, "granted once, dropped once");
        // A title change keeps them.
        let other = s.insert_user(user("h@x.org")).map(|u| u.id.clone()).expect("insert");
        s.grant_default_role(&other);
        let mut next = s.user(&other).cloned().expect("user");
        next.title = Some("T".into());
        assert_eq!(s.update_user(next), Ok(true));
        assert_eq!(s.role_names(&other), ["employee"]);
        assert_eq!(s.user_count(&s.role_by_name("EMPLOYEE").map(|r| r.id.clone()).expect("role")), 1);
    }

    #[test]
    fn phone_types_map_to_profile_slots() {
        for t in OTHER_PHONE_TYPES {
            assert_eq!(PhoneSlot::from_scim_type(t).map(|p| p.0), Some(PhoneSlot::Other), "{t}");
        }
        assert_eq!(PhoneSlot::from_scim_type("EightByEight"), Some((PhoneSlot::Other, "eightbyeight")));
        assert_eq!(PhoneSlot::from_scim_type("eighbyeight"), None);
        assert_eq!(PhoneSlot::from_scim_type("work2"), Some((PhoneSlot::Work2, "work2")));
        assert_eq!(PhoneSlot::from_platform_type("other"), Some(PhoneSlot::Other));
    }

    #[test]
    fn the_only_phone_is_primary() {
        let mut u = user("c@x.org");
        assert_eq!(u.primary_phone(), None);
        u.phones.insert(PhoneSlot::Other, Phone::number("+14155550123"));
        assert_eq!(u.primary_phone(), Some(PhoneSlot::Other));
        u.phones.insert(PhoneSlot::Work, Phone::number("+14155550100"));
        assert_eq!(u.primary_phone(), None);
        u.primary_slot = Some(PhoneSlot::Work);
        assert_eq!(u.primary_phone(), Some(PhoneSlot::Work));
    }
}
