//! The shapes of Genesys's bodies, as far as the bridge reads or writes them: schema URNs,
//! SCIM list responses, error bodies, Platform contacts and division lists
//! (genesys-api-notes §1.3, §1.7, §2.1, §0.4, §4).
//!
//! Request bodies for users and groups are rendered by `genesys::mapping` from these names;
//! answers are read here so that a change of shape is mended in one place.

use serde_json::{Value, json};

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

/// The human message of a Genesys error body (Platform `ErrorBody.message`, SCIM `detail`).
pub fn error_message(body: &Value) -> String {
    body.get("message")
        .or_else(|| body.get("detail"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| "no message".into())
}

/// The machine code of a Platform error body (`ErrorBody.code`, e.g. `general.conflict`).
pub fn error_code(body: &Value) -> String {
    body.get("code").and_then(Value::as_str).unwrap_or_default().to_string()
}

/// A Platform phone contact (`Contact` of `addresses`, genesys-api-notes §2.1).
pub fn platform_phone(number: &str, contact_type: &str) -> Value {
    json!({"address": number, "mediaType": super::phones::PLATFORM_PHONE_MEDIA, "type": contact_type})
}

#[cfg(test)]
mod tests {
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
}
