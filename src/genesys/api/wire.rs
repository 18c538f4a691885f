//! The shapes of Genesys's bodies, as far as the bridge reads or writes them: schema URNs,
//! SCIM list responses, error bodies, Platform contacts and division lists
//! (genesys-api-notes §1.3, §1.7, §2.1, §0.4, §4).
//!
//! Request bodies are typed here ([`ScimUser`], [`PatchRequest`], [`PlatformCreateUser`],
//! [`PlatformUserPatch`], [`PlatformContact`]) and filled in by `genesys::mapping`; answers are
//! read here, so that a change of shape is mended in one place. Field order is the order sent.

use serde::Serialize;
use serde_json::Value;

pub use scim::schema::USER_URN as SCIM_USER_URN;
/// The SCIM schema URNs Genesys's SCIM API speaks (RFC 7643 §4.1, §4.3; RFC 7644 §3.5.2); Genesys
/// reads division, department, manager and employee number from the enterprise extension
/// (genesys-api-notes §1.3).
pub use scim::schema::{ENTERPRISE_USER_URN as SCIM_ENTERPRISE_URN, PATCH_OP_URN as SCIM_PATCH_OP_URN};

/// The body of `POST /api/v2/scim/v2/users` (`ScimV2CreateUser`, genesys-api-notes §1.3, §7.1).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimUser {
    pub schemas: Vec<&'static str>,
    pub user_name: String,
    pub display_name: String,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<ScimMultiValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<ScimMultiValue>,
    #[serde(
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        skip_serializing_if = "Option::is_none"
    )]
    pub enterprise: Option<ScimEnterprise>,
}

/// An e-mail or phone of a SCIM user: `{type, value, primary?}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScimMultiValue {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub primary: bool,
}

/// The enterprise extension as Genesys reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimEnterprise {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// `{"value": <Genesys user id>}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<ScimReference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
}

impl ScimEnterprise {
    pub fn is_empty(&self) -> bool {
        *self == ScimEnterprise::default()
    }
}

/// `{"value": id}`: a manager or a group member.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScimReference {
    pub value: String,
}

/// A SCIM PATCH request (`ScimV2PatchRequest`, genesys-api-notes §1.6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchRequest {
    pub schemas: [&'static str; 1],
    #[serde(rename = "Operations")]
    pub operations: Vec<PatchOperation>,
}

impl PatchRequest {
    pub fn new(operations: Vec<PatchOperation>) -> Self {
        PatchRequest { schemas: [SCIM_PATCH_OP_URN], operations }
    }
}

/// One PATCH operation, lower-case `op` as RFC 7644 spells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOperation {
    pub op: &'static str,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl PatchOperation {
    pub fn replace(path: impl Into<String>, value: Value) -> Self {
        PatchOperation { op: "replace", path: path.into(), value: Some(value) }
    }

    pub fn add(path: impl Into<String>, value: Value) -> Self {
        PatchOperation { op: "add", path: path.into(), value: Some(value) }
    }

    pub fn remove(path: impl Into<String>) -> Self {
        PatchOperation { op: "remove", path: path.into(), value: None }
    }
}

/// The body of `POST /api/v2/users` (`CreateUser`: `name`, `email`, `divisionId` required;
/// genesys-api-notes §2.1, §7.3).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformCreateUser {
    pub name: String,
    pub email: String,
    pub division_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<PlatformContact>,
    pub state: &'static str,
}

/// A Platform `Contact` of `addresses` (genesys-api-notes §2.1–2.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformContact {
    pub address: String,
    pub media_type: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// The body of `PATCH /api/v2/users/{id}` (`UpdateUser`): the current `version` and the
/// fields that change (genesys-api-notes §2.1). A `state` change goes alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformUserPatch {
    pub version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The manager's Genesys user id; `""` clears it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// The whole `employerInfo` object (Genesys replaces it as one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub employer_info: Option<Value>,
    /// The whole PHONE/SMS contact list (Genesys replaces it as one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<Value>>,
}

impl PlatformUserPatch {
    /// Whether anything besides the version would be sent.
    pub fn changes_nothing(&self) -> bool {
        *self == PlatformUserPatch { version: self.version, ..PlatformUserPatch::default() }
    }
}

/// A typed body as the JSON sent. Every body here is made of strings, numbers, booleans and
/// JSON values, which always serialise: the fallback is never taken.
pub fn to_json<T: Serialize>(body: &T) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

/// Genesys's own SCIM extension of the user (routing skills, languages, external ids); kept by
/// Genesys and never written by the bridge (genesys-api-notes §1.3).
pub const GENESYS_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User";

/// The id of a created or fetched resource.
pub fn resource_id(body: &Value) -> Option<String> {
    body.get("id")?.as_str().map(str::to_string)
}

/// The resources of a SCIM ListResponse page.
pub fn list_resources(page: &Value) -> &[Value] {
    page.get("Resources").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// `totalResults` of a SCIM ListResponse.
pub fn list_total(page: &Value) -> u64 {
    page.get("totalResults").and_then(Value::as_u64).unwrap_or(0)
}

/// The id of the first resource of a SCIM ListResponse (a lookup by a unique attribute).
pub fn first_id(page: &Value) -> Option<String> {
    list_resources(page).first().and_then(resource_id)
}

/// The Genesys user ids of a SCIM group's `members`.
pub fn group_member_ids(group: &Value) -> Vec<String> {
    group
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// The id of the division of this name (case-insensitive) in a division list
/// (`GET /api/v2/authorization/divisions?name=`, whose `name` matches loosely).
pub fn division_id_named(list: &Value, name: &str) -> Option<String> {
    list.get("entities").and_then(Value::as_array).into_iter().flatten().find_map(|d| {
        let n = d.get("name").and_then(Value::as_str)?;
        if n.eq_ignore_ascii_case(name) { resource_id(d) } else { None }
    })
}

/// Whether a SCIM PATCH body sets the user inactive (`{"op":"replace","path":"active","value":false}`).
pub fn scim_patch_deactivates(body: &Value) -> bool {
    body.get("Operations").and_then(Value::as_array).into_iter().flatten().any(|op| {
        op.get("path").and_then(Value::as_str).is_some_and(|p| p.eq_ignore_ascii_case("active"))
            && op.get("value") == Some(&Value::Bool(false))
    })
}

/// The human message of a Genesys error body (Platform `ErrorBody.message`, SCIM `detail`).
pub fn error_message(body: &Value) -> String {
    body.get("message")
        .or_else(|| body.get("detail"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| "no message".into())
}

/// The machine code of a Platform error body (`ErrorBody.code`, e.g. `general.conflict`).
/// The error's code: an ErrorBody's `code`, or a SCIM error's `scimType` (`noTarget`).
pub fn error_code(body: &Value) -> String {
    body.get("code").or_else(|| body.get("scimType")).and_then(Value::as_str).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn answers_are_read_as_genesys_shapes_them() {
        let page = json!({"totalResults": 2, "Resources": [{"id": "a"}, {"id": "b"}]});
        assert_eq!((first_id(&page), list_total(&page), list_resources(&page).len()), (Some("a".into()), 2, 2));
        assert_eq!(first_id(&json!({"totalResults": 0})), None);
        let divisions = json!({"entities": [{"id": "d1", "name": "Home"}, {"id": "d2", "name": "Support"}]});
        assert_eq!(division_id_named(&divisions, "support"), Some("d2".into()));
        assert_eq!(division_id_named(&divisions, "Sup"), None);
        assert_eq!(group_member_ids(&json!({"members": [{"value": "u1"}, {"value": "u2"}]})), ["u1", "u2"]);
        assert_eq!(error_message(&json!({"message": "m", "code": "c"})), "m");
        assert_eq!(error_message(&json!({"detail": "d"})), "d");
        assert_eq!(error_code(&json!({"code": "general.conflict"})), "general.conflict");
    }

    #[test]
    fn bodies_serialise_in_genesys_field_names_and_order() {
        let user = ScimUser {
            schemas: vec![SCIM_USER_URN],
            user_name: "a@b.c".into(),
            display_name: "A".into(),
            active: true,
            title: None,
            external_id: None,
            emails: vec![],
            phone_numbers: vec![ScimMultiValue { kind: "eightbyeight", value: "+1".into(), primary: false }],
            enterprise: Some(ScimEnterprise { department: Some("D".into()), ..ScimEnterprise::default() }),
        };
        assert_eq!(
            to_json(&user).to_string(),
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@b.c","displayName":"A","active":true,"phoneNumbers":[{"type":"eightbyeight","value":"+1"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D"}}"#
        );
        let patch = PatchRequest::new(vec![PatchOperation::remove("title")]);
        assert_eq!(
            to_json(&patch),
            json!({"schemas": [SCIM_PATCH_OP_URN], "Operations": [{"op": "remove", "path": "title"}]})
        );
        assert!(PlatformUserPatch { version: 3, ..PlatformUserPatch::default() }.changes_nothing());
        assert_eq!(
            to_json(&PlatformUserPatch { version: 3, title: Some("T".into()), ..PlatformUserPatch::default() }),
            json!({"version": 3, "title": "T"})
        );
    }
}
