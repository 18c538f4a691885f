//! From a stored SCIM user or group to the Genesys Cloud request (pure: values in, values out).
//!
//! Owns: the SCIM → Genesys attribute mapping in both API modes ([`ApiMode`]) — Genesys's SCIM v2
//! API (`/api/v2/scim/v2/users`, the default) and the Platform API (`/api/v2/users`); where the 8x8
//! number comes from ([`NumberSource`]); phone-number normalisation to E.164 or an RFC 3966 tel URI
//! ([`normalise_number`]); and the group membership PATCH ([`map_group_membership`]).
//! `docs/genesys-mapping.md` has the mapping table, what is dropped and why, and what is
//! unverified. Genesys facts come from `docs/genesys-api-notes.md`, cited as genesys-api-notes §n.
//!
//! The rule the bridge exists for: the user's 8x8 number ends up as the Genesys *Other Phone*
//! (`UserProfile.contactInfo.[0].phone_other.[0].value.number`): SCIM phone type `eightbyeight`,
//! Platform contact `{mediaType: PHONE, type: OTHER}` (genesys-api-notes §0.2–0.3, §2.2). Genesys puts `other`,
//! `eightbyeight`, `microsoftteams`, `zoomphone` and `ringcentral` all into that one field (genesys-api-notes
//! §1.4–1.5), so at most one phone of those types is sent: the 8x8 one.
//!
//! Flow for the caller (the outbox): [`map_user`] once per change gives a [`MappedUser`] (the
//! desired Genesys state, or a per-user [`MappingError`]); then, by mode, [`scim_create_body`] /
//! [`scim_patch_body`], or [`platform_create_body`] / [`platform_state_body`] /
//! [`platform_patch_body`] (the last two read the user as Genesys has it, for `version`).
//!
//! Pure: no IO, no clock, no logging. Errors and notes never hold a phone number or an e-mail
//! address (STYLE.md, Telemetry): they say what is wrong and name the user by the bridge's `id`.
//!
//! Must not import: actix, diesel, reqwest, tokio, `crate::store`, `crate::http`, `crate::cli`.
//! Documents are read through `scim` only (path parser, value filters, schema).
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

mod error;
mod groups;
mod number;
mod platform_body;
mod scim_body;
mod source;
mod user;

#[cfg(test)]
mod tests;

pub use self::error::*;
pub use self::groups::*;
pub use self::number::*;
pub use self::platform_body::*;
pub use self::scim_body::*;
pub use self::source::*;
pub use self::user::*;
pub use super::api::ApiMode;
pub use super::api::RoleSpec;
pub use super::api::phones::PhoneKind;
use super::api::phones::{MANAGED_PLATFORM_TYPES, is_other_phone_type};

/// A configuration value that cannot be used; the message says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub(crate) String);

/// What a SCIM DELETE does in Genesys. Deactivating is the default because it can be undone: a
/// deleted Genesys user loses its history and cannot be brought back by the IdP, an inactive one
/// is reactivated by the next `active: true` (genesys-api-notes §16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteMode {
    /// Delete the Genesys user (opt-in).
    Delete,
    /// Deactivate it (`active: false`) and keep it, with its history (the default).
    #[default]
    Deactivate,
}

impl DeleteMode {
    pub const ALLOWED: &'static str = "delete, deactivate";

    pub fn as_str(self) -> &'static str {
        match self {
            DeleteMode::Delete => "delete",
            DeleteMode::Deactivate => "deactivate",
        }
    }
}

impl std::str::FromStr for DeleteMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "delete" => Ok(DeleteMode::Delete),
            "deactivate" => Ok(DeleteMode::Deactivate),
            other => Err(format!("'{other}' is not a delete mode; use delete or deactivate")),
        }
    }
}

/// Everything the mapping is configured with. Build it at startup (each field parses from a
/// string with a fixable error) and pass it by reference.
#[derive(Debug, Clone, Default)]
pub struct MappingConfig {
    /// Which Genesys API to write to; the caller chooses the body functions by it.
    pub api: ApiMode,
    /// Where the 8x8 number comes from.
    pub number_source: NumberSource,
    /// Completes national numbers (`(415) 555-0123`) to E.164; None: numbers must be international.
    pub default_country: Option<Country>,
    /// Division name for users whose enterprise extension carries none; None: Genesys's default
    /// (the home division, genesys-api-notes §0.4 [unverified for SCIM create without division]).
    pub division: Option<String>,
    /// Whether the 8x8 number is sent as the user's primary phone.
    pub number_primary: NumberPrimary,
    /// Roles granted to every user with an 8x8 number (opt-in; genesys-api-notes §12).
    pub roles: Vec<RoleSpec>,
}

/// What the bridge does when the IdP creates a user whose userName a Genesys user the bridge did
/// not create already has (Genesys answers the create with 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdoptPolicy {
    /// Park the change with what to do (the default): the Genesys user is left as it is until an
    /// operator adopts it (`scim-bridge outbox adopt <id>`) or changes the setting.
    #[default]
    Never,
    /// Adopt the Genesys user with the same userName: from then on the bridge owns it.
    ByUserName,
}

impl AdoptPolicy {
    pub const ALLOWED: &'static str = "never, by-username";

    pub fn as_str(self) -> &'static str {
        match self {
            AdoptPolicy::Never => "never",
            AdoptPolicy::ByUserName => "by-username",
        }
    }
}

impl std::str::FromStr for AdoptPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "never" => Ok(AdoptPolicy::Never),
            "by-username" | "by_username" => Ok(AdoptPolicy::ByUserName),
            other => Err(format!("'{other}' is not an adopt setting; use never or by-username")),
        }
    }
}

/// The fields of a Genesys user the bridge wrote last time. An update clears a field the IdP no
/// longer sends only when the bridge wrote it; a field it never wrote is left exactly as Genesys
/// holds it (a title or a mobile number an administrator set). Keys: `displayName`, `title`,
/// `externalId`, `department`, `division`, `manager`, `employeeNumber`, and `phone:<scim type>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Written(std::collections::BTreeSet<String>);

impl Written {
    /// Every field the bridge can own: an update clears whatever the user lacks.
    pub fn all() -> Written {
        let mut keys: std::collections::BTreeSet<String> =
            ["displayName", "title", "externalId", "department", "division", "manager", "employeeNumber"]
                .into_iter()
                .map(str::to_string)
                .collect();
        for kind in PhoneKind::ALL {
            keys.insert(Written::phone_key(kind));
        }
        Written(keys)
    }

    /// The fields a write of `m` sets: what the bridge owns once it is sent (fields `m` lacks
    /// were cleared if written, or left alone if not: either way no longer the bridge's).
    pub fn of(m: &MappedUser) -> Written {
        let mut keys = std::collections::BTreeSet::new();
        let mut add = |k: &str, present: bool| {
            if present {
                keys.insert(k.to_string());
            }
        };
        add("displayName", m.display_name_sent());
        add("title", m.title.is_some());
        add("externalId", m.external_id.is_some());
        add("department", m.department.is_some());
        add("division", m.division.is_some());
        add("manager", matches!(m.manager, Manager::Genesys(_)));
        add("employeeNumber", m.employee_number.is_some());
        for p in &m.phones {
            keys.insert(Written::phone_key(p.kind));
        }
        Written(keys)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains(key)
    }

    pub fn phone_key(kind: PhoneKind) -> String {
        format!("phone:{}", kind.scim_type())
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// Whether the 8x8 number is the user's primary phone in Genesys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NumberPrimary {
    /// Always (the default): Genesys's UC integrations want the Other Phone to be the user's
    /// primary phone (genesys-api-notes §1.5), and every other phone is sent as not primary.
    #[default]
    Always,
    /// As the identity provider marked it: primary only when the element the 8x8 number is read
    /// from says `primary: true` (never for a number read from an extension attribute); the
    /// other phones keep their own flags.
    AsSent,
}

impl NumberPrimary {
    pub const ALLOWED: &'static str = "always, as-sent";

    pub fn as_str(self) -> &'static str {
        match self {
            NumberPrimary::Always => "always",
            NumberPrimary::AsSent => "as-sent",
        }
    }
}

impl std::str::FromStr for NumberPrimary {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "always" => Ok(NumberPrimary::Always),
            "as-sent" | "as_sent" => Ok(NumberPrimary::AsSent),
            other => Err(format!("'{other}' is not a primary setting; use always or as-sent")),
        }
    }
}

/// Bridge id → Genesys user id, supplied by the caller (for `manager`, which Genesys wants as
/// its own user id). Implemented for the standard maps.
pub trait GenesysIds {
    fn genesys_id(&self, bridge_id: &str) -> Option<&str>;
}

impl<S: BuildHasher> GenesysIds for HashMap<String, String, S> {
    fn genesys_id(&self, bridge_id: &str) -> Option<&str> {
        self.get(bridge_id).map(String::as_str)
    }
}

impl GenesysIds for BTreeMap<String, String> {
    fn genesys_id(&self, bridge_id: &str) -> Option<&str> {
        self.get(bridge_id).map(String::as_str)
    }
}
