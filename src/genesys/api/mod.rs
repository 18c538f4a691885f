//! Every fact about Genesys Cloud's public API that the bridge relies on, typed, in one place:
//! where Genesys is ([`regions`]), which requests exist ([`requests`]: endpoint paths, query
//! parameters, content types), the phone types and which of them Genesys files as Other Phone
//! ([`phones`]), the roles the bridge may grant ([`roles`]), the wire shapes of SCIM and Platform bodies ([`wire`]), and what each kind of
//! answer means for a change ([`answers`]: retry, wait, park, give up).
//!
//! The mapping, the plan, the client, the outbox worker, the dry run and reconcile all take
//! these facts from here; no endpoint path or phone-type list is written anywhere else in the
//! bridge. Each fact cites `docs/genesys-api-notes.md` (the project's notes, with their public
//! sources). The simulator (`crates/genesys-sim`) keeps its own model on purpose: it is a second
//! opinion about Genesys, not an echo of this module.
//!
//! Pure data and pure functions: no IO. Must not import `store`, `http`, `cli`, or an HTTP client.

pub mod answers;
pub mod phones;
pub mod regions;
pub mod requests;
pub mod roles;
pub mod wire;

pub use answers::AnswerClass;
pub use regions::Endpoints;
pub use requests::{ApiRequest, Verb};
pub use roles::{Role, RoleMatch, RoleSpec};

use std::fmt;
use std::str::FromStr;

/// Which Genesys API users are written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiMode {
    /// Genesys's SCIM v2 API, `/api/v2/scim/v2/users` (genesys-api-notes §1; the recommendation
    /// of §2.5).
    #[default]
    Scim,
    /// The Platform API, `/api/v2/users` (genesys-api-notes §2.1): the 8x8 number is the
    /// PHONE/OTHER contact.
    Platform,
}

impl ApiMode {
    pub const ALLOWED: &'static str = "scim, platform";

    pub fn as_str(self) -> &'static str {
        match self {
            ApiMode::Scim => "scim",
            ApiMode::Platform => "platform",
        }
    }
}

impl fmt::Display for ApiMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            t if t.eq_ignore_ascii_case("scim") => Ok(ApiMode::Scim),
            t if t.eq_ignore_ascii_case("platform") => Ok(ApiMode::Platform),
            t => Err(format!(
                "unknown Genesys API mode `{t}`: use `scim` (Genesys's SCIM v2 API, the default) or `platform` \
                 (the Platform users API)"
            )),
        }
    }
}
