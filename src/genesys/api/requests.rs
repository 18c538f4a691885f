//! Every request the bridge makes of Genesys's API, built by name: the endpoint paths, their
//! query parameters and their content types live here and nowhere else
//! (genesys-api-notes §1.1 for SCIM, §2.1 for Platform users, §0.4 for divisions, §3 for OAuth).
//!
//! An [`ApiRequest`] is a value: the plan builds them, the dry run prints them, the client sends
//! them. A path may hold a placeholder in braces (`{genesys id of ana@corp.example}`) where
//! only Genesys's answer to an earlier request can tell the value; [`ApiRequest::is_concrete`]
//! tells a request that can be sent.

use serde::Serialize;
use serde_json::Value;

/// The OAuth token endpoint, on the login host (genesys-api-notes §3).
pub const OAUTH_TOKEN: &str = "/oauth/token";

const SCIM_USERS: &str = "/api/v2/scim/v2/users";
const SCIM_GROUPS: &str = "/api/v2/scim/v2/groups";
const PLATFORM_USERS: &str = "/api/v2/users";
const DIVISIONS: &str = "/api/v2/authorization/divisions";
const HOME_DIVISION: &str = "/api/v2/authorization/divisions/home";
const ROLES: &str = "/api/v2/authorization/roles";
const SUBJECTS: &str = "/api/v2/authorization/subjects";

/// Page size of SCIM user lists: Genesys may answer a larger page without `attributes` with
/// 429 (genesys-api-notes §1.8).
pub const SCIM_PAGE_SIZE: u64 = 25;

/// An HTTP method of the Genesys API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verb {
    Get,
    Post,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }
}

/// One request to the Genesys API; `path` is relative to the API base.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiRequest {
    pub verb: Verb,
    pub path: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl ApiRequest {
    fn new(verb: Verb, path: impl Into<String>) -> Self {
        ApiRequest { verb, path: path.into(), query: Vec::new(), body: None }
    }

    fn with_query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_string(), value.into()));
        self
    }

    fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Whether the body is sent as `application/scim+json` (SCIM routes) rather than
    /// `application/json` (genesys-api-notes §1.2).
    pub fn is_scim(&self) -> bool {
        self.path.starts_with("/api/v2/scim/")
    }

    /// The path with its query string, as logs and the dry run show it (values unencoded).
    pub fn target(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}?{}", self.path, q.join("&"))
    }

    /// Whether nothing in the path is a placeholder, so the request can be sent.
    pub fn is_concrete(&self) -> bool {
        !self.path.contains('{')
    }

    // --- SCIM users (genesys-api-notes §1.1, §1.3, §1.6) ---

    /// `GET /api/v2/scim/v2/users?filter=userName eq "…"`: the Genesys user of a userName (the
    /// same user store serves both APIs).
    pub fn scim_user_by_user_name(user_name: &str) -> Self {
        let filter = format!("userName eq {}", Value::String(user_name.to_string()));
        ApiRequest::new(Verb::Get, SCIM_USERS).with_query("filter", filter)
    }

    /// One page of SCIM users, `SCIM_PAGE_SIZE` at a time.
    pub fn scim_users_page(start_index: u64) -> Self {
        ApiRequest::new(Verb::Get, SCIM_USERS)
            .with_query("startIndex", start_index.to_string())
            .with_query("count", SCIM_PAGE_SIZE.to_string())
    }

    pub fn scim_user_create(body: Value) -> Self {
        ApiRequest::new(Verb::Post, SCIM_USERS).with_body(body)
    }

    pub fn scim_user_patch(genesys_id: &str, body: Value) -> Self {
        ApiRequest::new(Verb::Patch, format!("{SCIM_USERS}/{genesys_id}")).with_body(body)
    }

    pub fn scim_user_delete(genesys_id: &str) -> Self {
        ApiRequest::new(Verb::Delete, format!("{SCIM_USERS}/{genesys_id}"))
    }

    // --- SCIM groups (genesys-api-notes §1.11: groups are found by name, never created) ---

    pub fn scim_group_by_display_name(display_name: &str) -> Self {
        ApiRequest::new(Verb::Get, SCIM_GROUPS).with_query("filter", Self::display_name_filter(display_name))
    }

    /// `displayName eq "<name>"`, the name as a JSON string (quotes and backslashes escaped).
    pub fn display_name_filter(display_name: &str) -> String {
        format!("displayName eq {}", Value::String(display_name.to_string()))
    }

    pub fn scim_group_get(genesys_id: &str) -> Self {
        ApiRequest::new(Verb::Get, format!("{SCIM_GROUPS}/{genesys_id}"))
    }

    pub fn scim_group_patch(genesys_id: &str, body: Value) -> Self {
        ApiRequest::new(Verb::Patch, format!("{SCIM_GROUPS}/{genesys_id}")).with_body(body)
    }

    // --- Platform users (genesys-api-notes §2.1–2.3) ---

    /// The user with its `version` and employer info (a PATCH must carry the current version).
    pub fn platform_user_get(genesys_id: &str) -> Self {
        ApiRequest::new(Verb::Get, format!("{PLATFORM_USERS}/{genesys_id}")).with_query("expand", "employerInfo")
    }

    pub fn platform_user_create(body: Value) -> Self {
        ApiRequest::new(Verb::Post, PLATFORM_USERS).with_body(body)
    }

    pub fn platform_user_patch(genesys_id: &str, body: Value) -> Self {
        ApiRequest::new(Verb::Patch, format!("{PLATFORM_USERS}/{genesys_id}")).with_body(body)
    }

    pub fn platform_user_delete(genesys_id: &str) -> Self {
        ApiRequest::new(Verb::Delete, format!("{PLATFORM_USERS}/{genesys_id}"))
    }

    // --- Divisions (genesys-api-notes §0.4: a Platform create names a division id) ---

    pub fn division_by_name(name: &str) -> Self {
        ApiRequest::new(Verb::Get, DIVISIONS).with_query("name", name).with_query("pageSize", "100")
    }

    pub fn home_division() -> Self {
        ApiRequest::new(Verb::Get, HOME_DIVISION)
    }

    // --- Roles and grants (genesys-api-notes §12) ---

    /// `GET /api/v2/authorization/roles?name=…`: Genesys's `name` filter is not documented as
    /// exact; the answer is matched by `api::roles::match_role`.
    pub fn roles_by_name(name: &str) -> Self {
        ApiRequest::new(Verb::Get, ROLES).with_query("name", name).with_query("pageSize", "100")
    }

    /// `GET /api/v2/authorization/roles?permission=…`: the roles carrying a permission.
    pub fn roles_by_permission(permission: &str) -> Self {
        ApiRequest::new(Verb::Get, ROLES).with_query("permission", permission).with_query("pageSize", "100")
    }

    /// `GET /api/v2/authorization/subjects/{userId}`: the user's grants (`AuthzSubject`).
    pub fn subject_grants(genesys_id: &str) -> Self {
        ApiRequest::new(Verb::Get, format!("{SUBJECTS}/{genesys_id}"))
    }

    /// `POST /api/v2/authorization/subjects/{userId}/bulkadd?subjectType=PC_USER` with
    /// `{"grants":[{"roleId","divisionId"}]}`: adds grants, removing none (204).
    pub fn grant_roles(genesys_id: &str, body: Value) -> Self {
        ApiRequest::new(Verb::Post, format!("{SUBJECTS}/{genesys_id}/bulkadd"))
            .with_query("subjectType", "PC_USER")
            .with_body(body)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_carry_their_path_query_and_content_type() {
        let r = ApiRequest::scim_user_by_user_name("ana@corp.example");
        assert_eq!(r.target(), r#"/api/v2/scim/v2/users?filter=userName eq "ana@corp.example""#);
        assert!(r.is_scim() && r.is_concrete());
        let r = ApiRequest::platform_user_patch("{genesys id of ana@corp.example}", json!({}));
        assert_eq!(r.path, "/api/v2/users/{genesys id of ana@corp.example}");
        assert!(!r.is_scim() && !r.is_concrete());
        assert_eq!(ApiRequest::platform_user_get("g1").target(), "/api/v2/users/g1?expand=employerInfo");
        assert_eq!(ApiRequest::scim_users_page(26).target(), "/api/v2/scim/v2/users?startIndex=26&count=25");
    }
}
