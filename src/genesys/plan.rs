//! What to send Genesys for one change: a pure function from (the stored resource, what is
//! known of the Genesys side, the settings) to the list of Genesys requests still to make.
//!
//! One plan, two uses. The outbox worker sends the first request of the plan, learns from the
//! answer ([`Known::learn`]), plans again, and stops when the plan is [`Plan::Done`] (or says
//! to park or wait). The dry run and `reconcile` print the whole first plan without sending it.
//! Because the worker re-plans from what it learnt, and the plan already lists every request
//! the happy path needs, the dry run shows the requests the worker then sends, request for
//! request; where only Genesys's answer can tell a value, the plan holds a placeholder in
//! braces (`{genesys id of ana@corp.example}`, `{current version}`, `{home division id}`), and
//! where a body depends on what a read returns it is [`Body::AfterRead`]: the desired values,
//! of which only those that differ from Genesys's are sent; such a write is not sent at all
//! when nothing differs.
//!
//! Pure: no IO, no clock. Must not import `store`, `client`, `http`, tokio or reqwest.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::api::roles::{self as api_roles, RoleSpec};
use super::api::{ApiMode, ApiRequest, wire};
use super::mapping::{self, DeleteMode, MappedUser, MembershipUpdate, Written};

/// What a planned request is for; the worker learns from its answer by this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    FindUser,
    CreateUser,
    ReadUser,
    ChangeUserState,
    UpdateUser,
    DeleteUser,
    DeactivateUser,
    /// Find the id of the division of this name.
    FindDivision(String),
    HomeDivision,
    FindGroup,
    ReadGroup,
    /// Add and remove these Genesys user ids (the removes are members the bridge added).
    UpdateGroupMembers {
        add: Vec<String>,
        remove: Vec<String>,
    },
    /// Find the Genesys role this setting names.
    FindRole(RoleSpec),
    /// Read the user's grants; these are the grants the plan wants (those present count as granted).
    ReadGrants(Vec<Grant>),
    /// Grant these roles (by their setting), in addition to what the user holds.
    GrantRoles(Vec<String>),
}

/// A role grant the bridge wants a user to hold: the role (by its setting, `RoleSpec::key`)
/// and the ids Genesys grants it by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub role: String,
    pub role_id: String,
    pub division_id: String,
}

/// A planned request's body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    None,
    /// Sent as it is (placeholders aside).
    Exact(Value),
    /// Depends on a read that comes first in the plan: these are the values the bridge wants;
    /// the request sends those that differ from what the read returns (for a Platform user
    /// with the version it returns; for a group, the members wanted that are missing and the
    /// members the bridge added that are no longer wanted), and is not sent when nothing differs.
    AfterRead(Value),
}

impl Body {
    /// The JSON to show or send.
    pub fn json(&self) -> Option<&Value> {
        match self {
            Body::None => None,
            Body::Exact(v) | Body::AfterRead(v) => Some(v),
        }
    }
}

/// One request of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub purpose: Purpose,
    pub request: ApiRequest,
    /// Overrides `request.body` for display when the body depends on a read.
    #[serde(skip_serializing_if = "is_exact")]
    pub body: Body,
}

fn is_exact(b: &Body) -> bool {
    !matches!(b, Body::AfterRead(_))
}

impl Step {
    /// Read the Platform user `g` (as delivery does before it writes to a user).
    pub fn read_platform_user(g: &str) -> Step {
        Step::exact(Purpose::ReadUser, ApiRequest::platform_user_get(g))
    }

    fn exact(purpose: Purpose, request: ApiRequest) -> Step {
        let body = request.body.clone().map_or(Body::None, Body::Exact);
        Step { purpose, request, body }
    }

    fn after_read(purpose: Purpose, request: ApiRequest) -> Step {
        let body = request.body.clone().map_or(Body::None, Body::AfterRead);
        Step { purpose, request, body }
    }
}

/// The decision for one change, given what is known.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Nothing (more) to send: Genesys is as the bridge wants it.
    Done,
    /// Send these, in order (never empty).
    Send(Vec<Step>),
    /// Genesys will refuse this until a person acts: park the change with this reason.
    Park(String),
    /// Not yet (for example, group members still on their way): try again after this delay.
    Wait(Duration, String),
}

/// The settings a plan depends on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    pub api: ApiMode,
    pub delete_mode: DeleteMode,
}

/// A change to bring about in Genesys.
#[derive(Debug, Clone)]
pub enum Change<'a> {
    /// Make the Genesys user what the mapped user says (create it when needed).
    SyncUser(&'a MappedUser),
    /// The bridge's user was deleted: delete or deactivate the Genesys user. `user_name` finds
    /// it when no link is stored.
    DeleteUser { user_name: Option<&'a str> },
    /// Make the Genesys group of the same name hold these user members.
    SyncGroup { group: &'a Map<String, Value>, members: &'a [Member], attempts: i64 },
}

/// A user member of a group: the bridge's id, and the Genesys id once the user is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub bridge_id: String,
    pub genesys_id: Option<String>,
}

/// The placeholder of a member user not delivered yet.
pub fn member_placeholder(bridge_id: &str) -> String {
    format!("{{genesys id of user {bridge_id}}}")
}

/// What is known of the Genesys side of one resource: stored before the delivery (the link),
/// or learnt from Genesys's answers during it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Known {
    /// The Genesys id of the user or group.
    pub genesys_id: Option<String>,
    /// A lookup by name was made and found nothing.
    pub absent: bool,
    /// Look the user up before creating it (a retry: an earlier create may have worked with its
    /// answer lost; or a create answered 409).
    pub look_up_first: bool,
    /// Platform: the user as Genesys last returned it (with its `version`).
    pub current: Option<Value>,
    /// Platform create: the id of the user's division (or of the home division).
    pub division_id: Option<String>,
    /// The user's division was looked up and Genesys has none of that name.
    pub division_absent: bool,
    /// The user's fields were written (created in SCIM mode, or updated).
    pub written: bool,
    /// The user was deleted or deactivated.
    pub deleted: bool,
    /// The group's members in Genesys, once read.
    pub group_members: Option<BTreeSet<String>>,
    /// The group's members were updated.
    pub group_written: bool,
    /// The members the bridge itself added to this Genesys group: the only ones it removes.
    pub bridge_added: BTreeSet<String>,
    /// The dry run: members not delivered yet are shown as placeholders instead of waited for.
    pub assume_members_delivered: bool,
    /// The fields of the user the bridge wrote last time: only those are cleared when the IdP
    /// drops them.
    pub fields_written: Written,
    /// The roles (`RoleSpec::key`) the bridge granted the user, or found it holding, since it
    /// was last created or (re)activated: Genesys drops direct roles when a user is set inactive.
    pub roles_granted: BTreeSet<String>,
    /// Role ids by `RoleSpec::key`, as found.
    pub role_ids: std::collections::BTreeMap<String, String>,
    /// Roles Genesys does not have (or not unambiguously), with what to do: the grant is parked.
    pub roles_absent: std::collections::BTreeMap<String, String>,
    /// The home division's id (grants are made there).
    pub home_division: Option<String>,
    /// The user's grants (role id, division id), once read.
    pub grants: Option<BTreeSet<(String, String)>>,
}

/// The placeholder for a Genesys user id only Genesys's answer can tell.
pub fn user_id_placeholder(user_name: &str) -> String {
    format!("{{genesys id of {user_name}}}")
}

/// The placeholder for the id of a Genesys group found by name.
pub fn group_id_placeholder(display_name: &str) -> String {
    format!("{{genesys id of group {display_name}}}")
}

/// The placeholder of the home division's id.
pub const HOME_DIVISION_PLACEHOLDER: &str = "{home division id}";

/// The placeholder of a Platform user's `version`.
pub const VERSION_PLACEHOLDER: &str = "{current version}";

/// The placeholder of the id of the role a setting names.
pub fn role_placeholder(spec: &RoleSpec) -> String {
    format!("{{id of role {spec}}}")
}

/// The placeholder of the id of the division of this name.
pub fn division_placeholder(name: &str) -> String {
    format!("{{id of division {name}}}")
}

/// What to send for `change`, given what is known.
pub fn plan(change: &Change<'_>, known: &Known, settings: Settings) -> Plan {
    let steps = match change {
        Change::SyncUser(m) => return sync_user(m, known, settings),
        Change::DeleteUser { user_name } => delete_user(*user_name, known, settings),
        Change::SyncGroup { group, members, attempts } => return sync_group(group, members, *attempts, known),
    };
    if steps.is_empty() { Plan::Done } else { Plan::Send(steps) }
}

fn sync_user(m: &MappedUser, known: &Known, settings: Settings) -> Plan {
    let mut steps = match user_writes(m, known, settings) {
        Plan::Done => Vec::new(),
        Plan::Send(steps) => steps,
        other => return other,
    };
    let g = known.genesys_id.clone().unwrap_or_else(|| user_id_placeholder(m.user_name()));
    let home_planned = steps.iter().any(|s| s.purpose == Purpose::HomeDivision);
    match grant_steps(m, known, &g, home_planned) {
        Ok(grants) => steps.extend(grants),
        // A role Genesys lacks: once the fields are written, park the change saying so.
        Err(why) if steps.is_empty() => return Plan::Park(why),
        Err(_) => {}
    }
    if steps.is_empty() { Plan::Done } else { Plan::Send(steps) }
}

/// The writes of the user's fields (its create, its updates).
fn user_writes(m: &MappedUser, known: &Known, settings: Settings) -> Plan {
    if known.written {
        return Plan::Done;
    }
    let mut steps = Vec::new();
    let id = match (&known.genesys_id, known.look_up_first && !known.absent) {
        (Some(g), _) => g.clone(),
        (None, true) => {
            // A retry: find the user first; the happy path has found it, so update it.
            steps.push(Step::exact(Purpose::FindUser, ApiRequest::scim_user_by_user_name(m.user_name())));
            let g = user_id_placeholder(m.user_name());
            steps.extend(update_user(m, &g, None, &known.fields_written, settings.api));
            return Plan::Send(steps);
        }
        (None, false) => return create_user(m, known, settings.api),
    };
    steps.extend(update_user(m, &id, known.current.as_ref(), &known.fields_written, settings.api));
    if steps.is_empty() { Plan::Done } else { Plan::Send(steps) }
}

/// The roles the user must hold and does not yet (genesys-api-notes §12): find each role not
/// found yet and the home division, read the user's grants, and add the missing ones. Additive:
/// nothing is ever removed. `Err`: a role Genesys does not have, with what to do.
/// `home_planned`: the writes look the home division up already.
fn grant_steps(m: &MappedUser, known: &Known, g: &str, home_planned: bool) -> Result<Vec<Step>, String> {
    if !m.active() {
        return Ok(Vec::new());
    }
    let pending: Vec<&RoleSpec> = m.roles().iter().filter(|r| !known.roles_granted.contains(&r.key())).collect();
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(why) = pending.iter().find_map(|r| known.roles_absent.get(&r.key())) {
        return Err(why.clone());
    }
    let mut steps = Vec::new();
    let mut roles = Vec::new();
    for r in &pending {
        let id = match known.role_ids.get(&r.key()) {
            Some(id) => id.clone(),
            None => {
                steps.push(Step::exact(Purpose::FindRole((*r).clone()), r.lookup()));
                role_placeholder(r)
            }
        };
        roles.push((r.key(), id));
    }
    let division_id = match &known.home_division {
        Some(d) => d.clone(),
        None if home_planned => HOME_DIVISION_PLACEHOLDER.to_string(),
        None => {
            steps.push(Step::exact(Purpose::HomeDivision, ApiRequest::home_division()));
            HOME_DIVISION_PLACEHOLDER.to_string()
        }
    };
    let wanted: Vec<Grant> =
        roles.into_iter().map(|(role, role_id)| Grant { role, role_id, division_id: division_id.clone() }).collect();
    let body = |grants: &[Grant]| json!({"grants": grants.iter().map(|g| json!({"roleId": g.role_id, "divisionId": g.division_id})).collect::<Vec<_>>()});
    let specs = |grants: &[Grant]| grants.iter().map(|g| g.role.clone()).collect::<Vec<_>>();
    match &known.grants {
        None => {
            steps.push(Step::exact(Purpose::ReadGrants(wanted.clone()), ApiRequest::subject_grants(g)));
            steps
                .push(Step::after_read(Purpose::GrantRoles(specs(&wanted)), ApiRequest::grant_roles(g, body(&wanted))));
        }
        Some(have) => {
            let missing: Vec<Grant> =
                wanted.into_iter().filter(|w| !have.contains(&(w.role_id.clone(), w.division_id.clone()))).collect();
            if !missing.is_empty() {
                steps.push(Step::exact(
                    Purpose::GrantRoles(specs(&missing)),
                    ApiRequest::grant_roles(g, body(&missing)),
                ));
            }
        }
    }
    Ok(steps)
}

fn create_user(m: &MappedUser, known: &Known, api: ApiMode) -> Plan {
    match api {
        ApiMode::Scim => {
            // The create body carries everything in SCIM mode.
            Plan::Send(vec![Step::exact(
                Purpose::CreateUser,
                ApiRequest::scim_user_create(mapping::scim_create_body(m)),
            )])
        }
        ApiMode::Platform => {
            let mut steps = Vec::new();
            let division = match (&known.division_id, m.division()) {
                (Some(d), _) => d.clone(),
                (None, Some(name)) if known.division_absent => {
                    return Plan::Park(format!(
                        "Genesys has no division named '{name}': create it in Genesys, or correct the user's \
                         division (or SCIM_BRIDGE_GENESYS_DIVISION)"
                    ));
                }
                (None, Some(name)) => {
                    steps
                        .push(Step::exact(Purpose::FindDivision(name.to_string()), ApiRequest::division_by_name(name)));
                    division_placeholder(name)
                }
                (None, None) => {
                    steps.push(Step::exact(Purpose::HomeDivision, ApiRequest::home_division()));
                    HOME_DIVISION_PLACEHOLDER.to_string()
                }
            };
            let body = mapping::platform_create_body(m, &division);
            // CreateUser has no manager or employer info: read the new user and update it.
            let created = assumed_after_create(&body);
            steps.push(Step::exact(Purpose::CreateUser, ApiRequest::platform_user_create(body)));
            let g = user_id_placeholder(m.user_name());
            steps.push(Step::exact(Purpose::ReadUser, ApiRequest::platform_user_get(&g)));
            steps.extend(platform_writes(m, &g, &created, &Written::of(m)));
            Plan::Send(steps)
        }
    }
}

/// The update of an existing Genesys user `g`; `current` is the Platform user as read, if it was.
fn update_user(m: &MappedUser, g: &str, current: Option<&Value>, written: &Written, api: ApiMode) -> Vec<Step> {
    match (api, current) {
        (ApiMode::Scim, _) => {
            vec![Step::exact(Purpose::UpdateUser, ApiRequest::scim_user_patch(g, mapping::scim_patch_body(m, written)))]
        }
        (ApiMode::Platform, Some(current)) => platform_writes(m, g, current, written),
        (ApiMode::Platform, None) => {
            // Not read yet: read it, then change the state if Genesys's differs, then send the
            // fields that differ. Both writes depend on the read: the plan shows the desired
            // values, and either write is skipped when nothing differs.
            let desired_state = json!({"version": VERSION_PLACEHOLDER, "state": state_of(m)});
            let unknown = json!({"version": 0, "state": state_of(m)});
            let mut steps = vec![
                Step::exact(Purpose::ReadUser, ApiRequest::platform_user_get(g)),
                Step::after_read(Purpose::ChangeUserState, ApiRequest::platform_user_patch(g, desired_state)),
            ];
            if let Ok(Some(mut body)) = mapping::platform_patch_body(m, &unknown, written) {
                set_version_placeholder(&mut body);
                steps.push(Step::after_read(Purpose::UpdateUser, ApiRequest::platform_user_patch(g, body)));
            }
            steps
        }
    }
}

/// The Platform `state` the bridge wants for `m`.
fn state_of(m: &MappedUser) -> &'static str {
    if m.active() { "active" } else { "inactive" }
}

/// Platform writes over `current` (the user as read, or as assumed with a placeholder
/// version): the state change alone first when needed (UpdateUser allows nothing else beside
/// `state`), then the other fields that differ.
fn platform_writes(m: &MappedUser, g: &str, current: &Value, written: &Written) -> Vec<Step> {
    let assumed = is_placeholder_version(current);
    let mut current = current.clone();
    if assumed && let Some(obj) = current.as_object_mut() {
        obj.insert("version".into(), json!(0));
    }
    let mut steps = Vec::new();
    if let Ok(Some(mut body)) = mapping::platform_state_body(m, &current) {
        if let (Some(obj), Some(state)) = (current.as_object_mut(), body.get("state")) {
            obj.insert("state".into(), state.clone());
        }
        if assumed {
            set_version_placeholder(&mut body);
        }
        steps.push(Step::exact(Purpose::ChangeUserState, ApiRequest::platform_user_patch(g, body)));
    }
    if let Ok(Some(mut body)) = mapping::platform_patch_body(m, &current, written) {
        // After a state change the version has moved on: Genesys's answer tells the new one.
        if assumed || !steps.is_empty() {
            set_version_placeholder(&mut body);
        }
        steps.push(Step::exact(Purpose::UpdateUser, ApiRequest::platform_user_patch(g, body)));
    }
    steps
}

/// What Genesys holds right after a Platform create with `body`: its fields, at an unknown version.
fn assumed_after_create(body: &Value) -> Value {
    let mut user = body.clone();
    if let Some(obj) = user.as_object_mut() {
        obj.remove("divisionId");
        obj.insert("version".into(), json!(VERSION_PLACEHOLDER));
    }
    user
}

fn is_placeholder_version(current: &Value) -> bool {
    current.get("version").and_then(Value::as_str) == Some(VERSION_PLACEHOLDER)
}

fn set_version_placeholder(body: &mut Value) {
    if let Some(obj) = body.as_object_mut()
        && obj.contains_key("version")
    {
        obj.insert("version".into(), json!(VERSION_PLACEHOLDER));
    }
}

fn delete_user(user_name: Option<&str>, known: &Known, settings: Settings) -> Vec<Step> {
    if known.deleted {
        return Vec::new();
    }
    let mut steps = Vec::new();
    let g = match (&known.genesys_id, user_name) {
        (Some(g), _) => g.clone(),
        (None, Some(name)) if !known.absent => {
            steps.push(Step::exact(Purpose::FindUser, ApiRequest::scim_user_by_user_name(name)));
            user_id_placeholder(name)
        }
        // Never in Genesys, or no longer: nothing to delete.
        (None, _) => return Vec::new(),
    };
    steps.push(match (settings.delete_mode, settings.api) {
        (DeleteMode::Delete, ApiMode::Scim) => Step::exact(Purpose::DeleteUser, ApiRequest::scim_user_delete(&g)),
        (DeleteMode::Delete, ApiMode::Platform) => {
            Step::exact(Purpose::DeleteUser, ApiRequest::platform_user_delete(&g))
        }
        (DeleteMode::Deactivate, _) => {
            Step::exact(Purpose::DeactivateUser, ApiRequest::scim_user_patch(&g, mapping::scim_deactivate_body()))
        }
    });
    steps
}

/// How long a group change waits for members still being delivered, and how many times.
const MEMBER_WAIT: Duration = Duration::from_secs(2);
const MEMBER_WAITS: i64 = 10;

fn sync_group(group: &Map<String, Value>, members: &[Member], attempts: i64, known: &Known) -> Plan {
    if known.group_written {
        return Plan::Done;
    }
    let missing = members.iter().filter(|m| m.genesys_id.is_none()).count();
    if missing > 0 && attempts < MEMBER_WAITS && !known.assume_members_delivered {
        return Plan::Wait(MEMBER_WAIT, format!("{missing} member(s) not in Genesys yet; waiting for their delivery"));
    }
    // Members still missing after the waits are left out (their own delivery failed).
    let desired: BTreeSet<String> = members
        .iter()
        .filter_map(|m| match (&m.genesys_id, known.assume_members_delivered) {
            (Some(g), _) => Some(g.clone()),
            (None, true) => Some(member_placeholder(&m.bridge_id)),
            (None, false) => None,
        })
        .collect();
    let name = group.get("displayName").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut steps = Vec::new();
    let g = match &known.genesys_id {
        Some(g) => g.clone(),
        None if known.absent => {
            return Plan::Park(format!(
                "Genesys has no group named '{name}': create it in Genesys (groups are not created through SCIM)"
            ));
        }
        None => {
            steps.push(Step::exact(Purpose::FindGroup, ApiRequest::scim_group_by_display_name(&name)));
            group_id_placeholder(&name)
        }
    };
    // Only members the bridge added are ever removed: one an administrator added in Genesys
    // stays, whatever the bridge's group says.
    let (add, remove, after_read): (Vec<String>, Vec<String>, bool) = match &known.group_members {
        Some(have) => (
            desired.difference(have).cloned().collect(),
            known.bridge_added.intersection(have).filter(|m| !desired.contains(*m)).cloned().collect(),
            false,
        ),
        None => {
            steps.push(Step::exact(Purpose::ReadGroup, ApiRequest::scim_group_get(&g)));
            // Before the read: every member wanted (those present are not sent again) and every
            // member the bridge added that is no longer wanted (those gone are not sent).
            (desired.iter().cloned().collect(), known.bridge_added.difference(&desired).cloned().collect(), true)
        }
    };
    let request = match mapping::map_group_membership(group, MembershipUpdate::Delta { add: &add, remove: &remove }) {
        Ok(r) => r,
        Err(e) => return Plan::Park(e.to_string()),
    };
    let purpose = Purpose::UpdateGroupMembers { add, remove };
    match request.patch {
        Some(body) if after_read => steps.push(Step::after_read(purpose, ApiRequest::scim_group_patch(&g, body))),
        Some(body) => steps.push(Step::exact(purpose, ApiRequest::scim_group_patch(&g, body))),
        None if steps.is_empty() => return Plan::Done,
        None => {}
    }
    Plan::Send(steps)
}

/// What an answer taught, or why the delivery cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learnt {
    /// Plan again with what is known now.
    Continue,
    /// Genesys answered without what the bridge needs (an id): try the change again later.
    Incomplete(String),
}

impl Known {
    /// The user's direct grants are unknown again and none counts as the bridge's (a new user,
    /// or a state change).
    fn forget_grants(&mut self) {
        self.roles_granted.clear();
        self.grants = None;
    }

    /// Fold a successful answer to `step` into what is known.
    pub fn learn(&mut self, step: &Step, body: &Value, api: ApiMode) -> Learnt {
        match &step.purpose {
            Purpose::FindUser | Purpose::FindGroup => match wire::first_id(body) {
                Some(g) => self.genesys_id = Some(g),
                None => self.absent = true,
            },
            Purpose::CreateUser => {
                let Some(g) = wire::resource_id(body) else {
                    return Learnt::Incomplete("Genesys created the user but sent no id".into());
                };
                self.genesys_id = Some(g);
                self.current = None;
                // A new Genesys user holds only what Genesys gives every user.
                self.forget_grants();
                // The SCIM create carries every field; a Platform create is followed by an update.
                self.written = api == ApiMode::Scim;
            }
            Purpose::ReadUser => self.current = Some(body.clone()),
            Purpose::ChangeUserState => {
                self.current = Some(body.clone());
                // Set inactive, Genesys dropped the user's direct roles; set active again, it
                // restored none (genesys-api-notes §12): grant them again.
                self.forget_grants();
            }
            Purpose::UpdateUser => {
                self.written = true;
                if step.request.body.as_ref().is_some_and(wire::scim_patch_deactivates) {
                    self.forget_grants();
                }
            }
            Purpose::DeleteUser | Purpose::DeactivateUser => {
                self.deleted = true;
                self.forget_grants();
            }
            Purpose::FindDivision(name) => match wire::division_id_named(body, name) {
                Some(d) => self.division_id = Some(d),
                None => self.division_absent = true,
            },
            Purpose::HomeDivision => match wire::resource_id(body) {
                Some(d) => {
                    self.division_id.get_or_insert_with(|| d.clone());
                    self.home_division = Some(d);
                }
                None => return Learnt::Incomplete("Genesys sent no home division id".into()),
            },
            Purpose::FindRole(spec) => {
                let found = api_roles::match_role(body, spec);
                match api_roles::problem(spec, &found) {
                    Some(why) => {
                        self.roles_absent.insert(spec.key(), why);
                    }
                    None => {
                        if let api_roles::RoleMatch::Found(role) = found {
                            self.role_ids.insert(spec.key(), role.id);
                        }
                    }
                }
            }
            Purpose::ReadGrants(wanted) => {
                let have = api_roles::subject_grants(body);
                for w in wanted {
                    if have.contains(&(w.role_id.clone(), w.division_id.clone())) {
                        self.roles_granted.insert(w.role.clone());
                    }
                }
                self.grants = Some(have);
            }
            Purpose::GrantRoles(specs) => {
                self.roles_granted.extend(specs.iter().cloned());
                if let Some(grants) = &mut self.grants {
                    // The request added what it asked for.
                    if let Some(sent) = step.request.body.as_ref() {
                        for g in sent.get("grants").and_then(Value::as_array).into_iter().flatten() {
                            let id = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                            grants.insert((id("roleId"), id("divisionId")));
                        }
                    }
                }
            }
            Purpose::ReadGroup => self.group_members = Some(wire::group_member_ids(body).into_iter().collect()),
            Purpose::UpdateGroupMembers { .. } => self.group_written = true,
        }
        Learnt::Continue
    }
}

#[cfg(test)]
mod tests;
