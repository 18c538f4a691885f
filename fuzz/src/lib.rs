//! What the fuzz targets share: stored documents shaped like the ones the server keeps, and the
//! checks that a parsed filter or path means the same after printing and parsing it again.
//!
//! The documents go through `scim::resource::prepare_create` and get `id` and `meta` as
//! `StoredResource::full_document` adds them, so a target sees what the server's PATCH and list
//! code see.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use scim::filter::{self, Filter, PatchPath};
use scim::resource;
use scim::schema::{ENTERPRISE_USER_URN, ResourceType, USER_URN, registry};

pub fn user_rt() -> &'static ResourceType {
    &registry().user
}

pub fn group_rt() -> &'static ResourceType {
    &registry().group
}

/// A user as an IdP provisions it for the Genesys bridge: work and home e-mails, work, mobile
/// and 8x8 numbers, an address, the enterprise extension with a manager, and an attribute of an
/// extension the bridge does not model (kept as sent).
pub fn stored_user() -> &'static Map<String, Value> {
    static USER: LazyLock<Map<String, Value>> = LazyLock::new(build_user);
    &USER
}

fn build_user() -> Map<String, Value> {
    let body = json!({
        "schemas": [USER_URN, ENTERPRISE_USER_URN, "urn:example:custom:1.0:User"],
        "userName": "Barbara.Jensen@Example.com",
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "title": "Tour Guide",
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [
            {"value": "+1 555 555 5555", "type": "work"},
            {"value": "+1 555 555 4444", "type": "mobile"},
            {"value": "+14155550100", "type": "eightbyeight"}
        ],
        "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
                       "region": "CA", "postalCode": "91608", "country": "US", "primary": true}],
        ENTERPRISE_USER_URN: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        },
        "urn:example:custom:1.0:User": {"favouriteColour": "teal"}
    });
    stored(user_rt(), body, "2819c223-7f76-453a-919d-413861904646")
}

/// A group as stored: its members live in rows, not in the document.
pub fn stored_group() -> &'static Map<String, Value> {
    static GROUP: LazyLock<Map<String, Value>> = LazyLock::new(build_group);
    &GROUP
}

fn build_group() -> Map<String, Value> {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Tour Guides",
        "externalId": "tour-guides"
    });
    stored(group_rt(), body, "e9e30dba-f08f-4109-8486-d5c6a331660a")
}

fn stored(rt: &ResourceType, body: Value, id: &str) -> Map<String, Value> {
    let prepared = match resource::prepare_create(rt, body) {
        Ok(p) => p,
        Err(e) => panic!("the seed document is invalid: {}", e.detail),
    };
    with_id_and_meta(rt, prepared.doc, id)
}

/// `id` and `meta` as the store adds them to a stored document.
pub fn with_id_and_meta(rt: &ResourceType, doc: Map<String, Value>, id: &str) -> Map<String, Value> {
    let mut out = Map::new();
    let mut rest = doc;
    if let Some(s) = rest.shift_remove("schemas") {
        out.insert("schemas".into(), s);
    }
    rest.shift_remove("id");
    rest.shift_remove("meta");
    out.insert("id".into(), Value::String(id.to_string()));
    out.extend(rest);
    out.insert(
        "meta".into(),
        json!({"resourceType": rt.id(), "created": "2024-01-01T00:00:00.000Z",
               "lastModified": "2024-05-13T04:42:34.123Z", "version": "W/\"3\""}),
    );
    out
}

/// Documents to evaluate filters against: the stored user and group, and shapes the schema does
/// not promise (numbers and booleans where strings belong, nested arrays, nulls), since `matches`
/// also reads attributes the schema does not model.
pub fn filter_documents() -> &'static [(&'static ResourceType, Map<String, Value>)] {
    static DOCS: LazyLock<Vec<(&'static ResourceType, Map<String, Value>)>> = LazyLock::new(build_documents);
    &DOCS
}

fn build_documents() -> Vec<(&'static ResourceType, Map<String, Value>)> {
    let odd = json!({
        "id": "x", "userName": 7, "active": "True", "emails": [[{"value": "A@B"}], null, "c@d", {"value": 3}],
        "meta": {"created": "not a date", "lastModified": 1.5e300},
        "tags": ["blue", {"value": "GREEN"}], "n": -0.0, "big": 18446744073709551615u64,
        ENTERPRISE_USER_URN: {"manager": "271"}
    });
    let Value::Object(odd) = odd else { unreachable!() };
    vec![
        (user_rt(), stored_user().clone()),
        (group_rt(), stored_group().clone()),
        (user_rt(), odd.clone()),
        (group_rt(), odd),
    ]
}

/// `text` parsed to `first`: its printed form parses, prints the same again, and means the same
/// (validation and evaluation agree on every test document). The trees may differ where
/// printing flattens nesting (`a and (b and c)` prints as `a and b and c`).
pub fn check_filter_round_trip(text: &str, first: &Filter) {
    let printed = first.to_string();
    let second = match filter::parse_filter(&printed) {
        Ok(f) => f,
        Err(e) => panic!("`{text}` parsed, but its printed form `{printed}` does not: {}", e.detail),
    };
    assert_eq!(second.to_string(), printed, "`{text}`: printing is not stable");
    for (rt, doc) in filter_documents() {
        let (a, b) = (filter::validate_filter(rt, first), filter::validate_filter(rt, &second));
        assert_eq!(a.is_ok(), b.is_ok(), "`{text}` and `{printed}` validate differently for {}", rt.id());
        assert_eq!(
            filter::matches(rt, first, doc),
            filter::matches(rt, &second, doc),
            "`{text}` and `{printed}` evaluate differently on {doc:?}"
        );
    }
}

/// The same for a PATCH path: printed, it parses to the same tree (paths have no `and` nesting
/// outside their value filter, so trees are compared through their printed form).
pub fn check_path_round_trip(text: &str, first: &PatchPath) {
    let printed = first.to_string();
    let second = match filter::parse_path(&printed) {
        Ok(p) => p,
        Err(e) => panic!("`{text}` parsed, but its printed form `{printed}` does not: {}", e.detail),
    };
    assert_eq!(second.to_string(), printed, "`{text}`: printing is not stable");
}
