//! Unit tests of resource canonicalisation (RFC 7643; RFC 7644 §3.3, §3.5.1): attribute values,
//! create, replace and patched bodies from the RFCs and the IdPs (`docs/idp-notes.md` §4),
//! canonical documents as fixed points, immutable attributes and base64.

use serde_json::json;

use super::values::is_base64;
use super::*;
use crate::ScimType;
use crate::schema::{ENTERPRISE_USER_URN, GROUP_URN, USER_URN, registry};

const ENT: &str = ENTERPRISE_USER_URN;

/// What to run.
enum Input {
    /// `canonical_value` on an attribute path of the User type (`emails`, `name.givenName`,
    /// `urn:...:manager`).
    Attr(&'static str, serde_json::Value),
    Create(ResourceKind, serde_json::Value),
    /// Body, existing document.
    Replace(ResourceKind, serde_json::Value, serde_json::Value),
    /// Patched document, existing document.
    Patched(ResourceKind, serde_json::Value, serde_json::Value),
}

/// What to expect.
enum Expected {
    /// The value or document; for groups, `members` absent.
    Is(serde_json::Value),
    /// A group document and its members as `(value, type)`.
    Group(serde_json::Value, Option<Vec<(&'static str, Option<&'static str>)>>),
    /// 400 with this scimType and a detail containing this text.
    Error(ScimType, &'static str),
}
use Expected::*;
use Input::*;

fn check(name: &str, input: Input, expected: Expected) {
    let result: Result<(Value, Option<Vec<Member>>), ScimError> = match input {
        Attr(path, v) => {
            let def = match registry().user.resolve_text(path) {
                Some(crate::schema::Target::Attribute(r)) => r.leaf(),
                _ => panic!("{name}: no attribute {path}"),
            };
            canonical_value(def, v, path).map(|v| (v.unwrap_or(serde_json::Value::Null), None))
        }
        Create(kind, body) => prepare_create(kind.resource_type(), body).map(|p| (p.doc.into(), p.members)),
        Replace(kind, body, existing) => {
            let existing = existing.as_object().cloned().unwrap_or_default();
            prepare_replace(kind.resource_type(), body, &existing).map(|p| (p.doc.into(), p.members))
        }
        Patched(kind, patched, existing) => {
            let existing = existing.as_object().cloned().unwrap_or_default();
            let patched = patched.as_object().cloned().unwrap_or_default();
            prepare_patched(kind.resource_type(), patched, &existing).map(|p| (p.doc.into(), p.members))
        }
    };
    match (result, expected) {
        (Ok((doc, members)), Is(want)) => {
            // Compared as text: key order is part of the canonical form.
            assert_eq!(doc.to_string(), want.to_string(), "{name}: document");
            assert_eq!(members, None, "{name}: members");
        }
        (Ok((doc, members)), Group(want, want_members)) => {
            assert_eq!(doc.to_string(), want.to_string(), "{name}: document");
            let got: Option<Vec<(String, Option<String>)>> =
                members.map(|ms| ms.into_iter().map(|m| (m.value, m.kind)).collect());
            let want_members: Option<Vec<(String, Option<String>)>> =
                want_members.map(|ms| ms.into_iter().map(|(v, k)| (v.to_string(), k.map(str::to_string))).collect());
            assert_eq!(got, want_members, "{name}: members");
        }
        (Err(e), Error(scim_type, detail)) => {
            assert_eq!((e.status, e.scim_type), (400, Some(scim_type)), "{name}: {e}");
            assert!(e.detail.contains(detail), "{name}: detail {:?} lacks {detail:?}", e.detail);
        }
        (Ok((doc, _)), Error(..)) => panic!("{name}: expected an error, got {doc}"),
        (Err(e), _) => panic!("{name}: unexpected error {e}"),
    }
}

/// RFC 7643 §8.2, the full User representation (x509 value shortened, still base64).
fn rfc_full_user() -> serde_json::Value {
    json!({
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
      "id": "2819c223-7f76-453a-919d-413861904646",
      "externalId": "701984",
      "userName": "bjensen@example.com",
      "name": {
        "formatted": "Ms. Barbara J Jensen, III",
        "familyName": "Jensen",
        "givenName": "Barbara",
        "middleName": "Jane",
        "honorificPrefix": "Ms.",
        "honorificSuffix": "III"
      },
      "displayName": "Babs Jensen",
      "nickName": "Babs",
      "profileUrl": "https://login.example.com/bjensen",
      "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": true},
        {"value": "babs@jensen.org", "type": "home"}
      ],
      "addresses": [
        {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
         "region": "CA", "postalCode": "91608", "country": "USA",
         "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "primary": true},
        {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood",
         "region": "CA", "postalCode": "91608", "country": "USA",
         "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA"}
      ],
      "phoneNumbers": [
        {"value": "555-555-5555", "type": "work"},
        {"value": "555-555-4444", "type": "mobile"}
      ],
      "ims": [{"value": "someaimhandle", "type": "aim"}],
      "photos": [
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"},
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/T", "type": "thumbnail"}
      ],
      "userType": "Employee",
      "title": "Tour Guide",
      "preferredLanguage": "en-US",
      "locale": "en-US",
      "timezone": "America/Los_Angeles",
      "active": true,
      "password": "t1meMa$heen",
      "groups": [
        {"value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
         "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
         "display": "Tour Guides"}
      ],
      "x509Certificates": [
        {"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx\nEzARBgNVBAgMCkNhbGlmb3JuaWExFDASBgNVBAoMC2V4YW1wbGUuY29tMRQwEgYD"}
      ],
      "meta": {
        "resourceType": "User",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": "W/\"a330bc54f0671c9\"",
        "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
      }
    })
}

/// What `rfc_full_user` is stored as: no id/meta/password/groups; `addresses[].primary` is
/// not in our schema (RFC 7643 §8.7.1 omits it) and round-trips as an unknown sub-attribute.
fn rfc_full_user_stored() -> serde_json::Value {
    let mut v = rfc_full_user();
    if let Some(o) = v.as_object_mut() {
        for k in ["id", "meta", "password", "groups"] {
            o.remove(k);
        }
        // Canonical order: emails, phoneNumbers, ims, photos, addresses (schema order),
        // and core attributes in schema order before that.
        let mut ordered = Map::new();
        let order = [
            "schemas",
            "externalId",
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "x509Certificates",
        ];
        for k in order {
            if let Some(x) = o.remove(k) {
                ordered.insert(k.to_string(), x);
            }
        }
        // Address sub-attributes take schema order; the unknown `primary` goes last.
        if let Some(addrs) = ordered.get_mut("addresses").and_then(|a| a.as_array_mut()) {
            for a in addrs {
                let mut out = Map::new();
                for k in
                    ["formatted", "streetAddress", "locality", "region", "postalCode", "country", "type", "primary"]
                {
                    if let Some(x) = a.get(k) {
                        out.insert(k.to_string(), x.clone());
                    }
                }
                *a = serde_json::Value::Object(out);
            }
        }
        return serde_json::Value::Object(ordered);
    }
    v
}

/// RFC 7643 §8.3, the enterprise User (abridged core part).
fn rfc_enterprise_user() -> serde_json::Value {
    json!({
      "schemas": [USER_URN, ENT],
      "id": "2819c223-7f76-453a-919d-413861904646",
      "externalId": "701984",
      "userName": "bjensen@example.com",
      "active": true,
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {
          "value": "26118915-6090-4610-87e4-49d8ca9f808d",
          "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
          "displayName": "John Smith"
        }
      },
      "meta": {"resourceType": "User", "version": "W/\"3694e05e9dff591\""}
    })
}

/// RFC 7643 §8.4, the Group.
fn rfc_group() -> serde_json::Value {
    json!({
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
      "displayName": "Tour Guides",
      "members": [
        {"value": "2819c223-7f76-453a-919d-413861904646",
         "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
         "display": "Babs Jensen"},
        {"value": "902c246b-6245-4190-8e05-00816be7344a",
         "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a",
         "display": "Mandy Pepperidge"}
      ],
      "meta": {"resourceType": "Group", "version": "W/\"3694e05e9dff592\""}
    })
}

/// Entra's create body (Microsoft Learn tutorial, Example 2; docs/idp-notes.md §4.1 item 13):
/// the `enterprise:2.0User` typo, nulls, `roles: []`, `meta.resourceType`, here with
/// capitalised keys, string booleans and a flattened enterprise attribute added.
fn entra_create() -> serde_json::Value {
    json!({
      "schemas": [USER_URN, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
      "externalId": "jyoung",
      "UserName": "jyoung@testuser.com",
      "Active": "True",
      "addresses": null,
      "displayName": "Joy Young",
      "Emails": [{"Type": "work", "Value": "jyoung@Contoso.com", "Primary": "true"}],
      "meta": {"resourceType": "User"},
      "name": {"formatted": "Joy Young", "FamilyName": "Young", "givenName": "Joy"},
      "phoneNumbers": null,
      "preferredLanguage": null,
      "roles": [],
      "title": null,
      "department": null,
      "manager": null,
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "1234",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "271"
    })
}

fn okta_existing() -> serde_json::Value {
    json!({
      "schemas": [USER_URN],
      "id": "u-1",
      "externalId": "00u1",
      "userName": "isaac@example.com",
      "name": {"givenName": "Isaac", "familyName": "Brock"},
      "active": true,
      "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-01T00:00:00Z", "version": "W/\"1\""}
    })
}

#[test]
fn canonical_values() {
    let cases: Vec<(&str, Input, Expected)> = vec![
        ("string boolean True", Attr("active", json!("True")), Is(json!(true))),
        ("string boolean false", Attr("active", json!(" false ")), Is(json!(false))),
        ("bad boolean", Attr("active", json!("yes")), Error(ScimType::InvalidValue, "active must be a boolean")),
        ("number for boolean", Attr("active", json!(1)), Error(ScimType::InvalidValue, "a number (1)")),
        ("null is unassigned", Attr("title", json!(null)), Is(json!(null))),
        ("number for string", Attr("title", json!(7)), Error(ScimType::InvalidValue, "title must be a string")),
        (
            "sub-attribute names canonicalised",
            Attr("name", json!({"GIVENNAME": "B", "familyname": "J"})),
            Is(json!({"familyName": "J", "givenName": "B"})),
        ),
        (
            "unknown sub kept, nulls dropped",
            Attr("name", json!({"givenName": "B", "nickname2": "x", "middleName": null})),
            Is(json!({"givenName": "B", "nickname2": "x"})),
        ),
        ("empty object dropped", Attr("name", json!({"givenName": null})), Is(json!(null))),
        ("complex must be object", Attr("name", json!(3)), Error(ScimType::InvalidValue, "name must be an object")),
        (
            "single object for multi-valued",
            Attr("emails", json!({"value": "a@example.com"})),
            Is(json!([{"value": "a@example.com"}])),
        ),
        (
            "string for multi-valued complex",
            Attr("emails", json!("a@example.com")),
            Error(ScimType::InvalidValue, "emails must be an array of objects"),
        ),
        (
            "two primaries",
            Attr("emails", json!([{"value": "a", "primary": true}, {"value": "b", "primary": "True"}])),
            Error(ScimType::InvalidValue, "at most one may be primary"),
        ),
        (
            "one primary, string",
            Attr("emails", json!([{"value": "a", "primary": "true"}, {"value": "b", "primary": false}])),
            Is(json!([{"value": "a", "primary": true}, {"value": "b", "primary": false}])),
        ),
        (
            "non-canonical type kept",
            Attr(
                "phoneNumbers",
                json!([{"value": "+1 555", "type": "eightbyeight"}, {"value": "x", "type": "microsoftteams"}]),
            ),
            Is(json!([{"value": "+1 555", "type": "eightbyeight"}, {"value": "x", "type": "microsoftteams"}])),
        ),
        ("null elements dropped", Attr("emails", json!([null, {"value": "a"}, {}])), Is(json!([{"value": "a"}]))),
        (
            "wrong sub type named by path",
            Attr("emails", json!([{"value": "a"}, {"value": 5}])),
            Error(ScimType::InvalidValue, "emails[1].value must be a string"),
        ),
        ("base64 binary", Attr("x509Certificates", json!([{"value": "TUlJRA=="}])), Is(json!([{"value": "TUlJRA=="}]))),
        (
            "not base64",
            Attr("x509Certificates", json!([{"value": "not base64!"}])),
            Error(ScimType::InvalidValue, "x509Certificates[0].value must be base64"),
        ),
        (
            "array for single-valued",
            Attr("profileUrl", json!(["a", "b"])),
            Error(ScimType::InvalidValue, "profileUrl is single-valued: send one value, not an array (2 elements"),
        ),
        (
            "one-element array for single value",
            Attr("userName", json!(["a@example.com"])),
            Error(ScimType::InvalidValue, "userName is single-valued: send one value, not an array (1 element sent)"),
        ),
        (
            "empty array for single value",
            Attr("active", json!([])),
            Error(ScimType::InvalidValue, "active is single-valued: send one value, not an array (0 elements"),
        ),
        (
            "object for a string",
            Attr("userName", json!({"value": "a@example.com"})),
            Error(ScimType::InvalidValue, "userName must be a string"),
        ),
        (
            "Entra's one-element manager array",
            Attr("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", json!([{"value": "9"}])),
            Is(json!({"value": "9"})),
        ),
        (
            "two managers",
            Attr(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                json!([{"value": "9"}, {"value": "8"}]),
            ),
            Error(ScimType::InvalidValue, "is single-valued but 2 values"),
        ),
        (
            "dateTime valid",
            Attr("meta.lastModified", json!("2011-05-13T04:42:34.000Z")),
            Is(json!("2011-05-13T04:42:34.000Z")),
        ),
        ("dateTime invalid", Attr("meta.lastModified", json!("13/05/2011")), Error(ScimType::InvalidValue, "RFC 3339")),
        (
            "manager as string",
            Attr("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", json!("271")),
            Is(json!({"value": "271"})),
        ),
        (
            "manager displayName is readOnly",
            Attr(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                json!([{"$ref": "../Users/9", "value": "9", "displayName": "Boss"}]),
            ),
            Is(json!({"value": "9", "$ref": "../Users/9"})),
        ),
    ];
    for (name, input, expected) in cases {
        check(name, input, expected);
    }
}

#[test]
fn create_bodies() {
    let cases: Vec<(&str, Input, Expected)> = vec![
        ("RFC 7643 §8.2 full user", Create(ResourceKind::User, rfc_full_user()), Is(rfc_full_user_stored())),
        (
            "RFC 7643 §8.3 enterprise user",
            Create(ResourceKind::User, rfc_enterprise_user()),
            Is(json!({
                "schemas": [USER_URN, ENT],
                "externalId": "701984",
                "userName": "bjensen@example.com",
                "active": true,
                ENT: {
                    "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
                    "division": "Theme Park", "department": "Tour Operations",
                    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d"}
                }
            })),
        ),
        (
            "Entra create: nulls, capitals, string booleans, flattened extension, manager string",
            Create(ResourceKind::User, entra_create()),
            Is(json!({
                "schemas": [USER_URN, ENT],
                "externalId": "jyoung",
                "userName": "jyoung@testuser.com",
                "name": {"formatted": "Joy Young", "familyName": "Young", "givenName": "Joy"},
                "displayName": "Joy Young",
                "active": true,
                "emails": [{"value": "jyoung@Contoso.com", "type": "work", "primary": true}],
                ENT: {"employeeNumber": "1234", "manager": {"value": "271"}}
            })),
        ),
        (
            "extension object under a differently-cased URN, plus unqualified attribute",
            Create(
                ResourceKind::User,
                json!({
                    "userName": "a", "department": "Sales",
                    "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"Division": "North", "badge": 7}
                }),
            ),
            Is(
                json!({"schemas": [USER_URN, ENT], "userName": "a", ENT: {"division": "North", "department": "Sales", "badge": 7}}),
            ),
        ),
        (
            "unknown attributes and unknown extensions round-trip",
            Create(
                ResourceKind::User,
                json!({
                    "schemas": [USER_URN, "urn:example:acme:2.0:User"],
                    "userName": "a", "favouriteColour": "green", "nested": {"a": [1, null]},
                    "urn:example:acme:2.0:User": {"badge": "B-7"}
                }),
            ),
            Is(json!({
                "schemas": [USER_URN, "urn:example:acme:2.0:User"],
                "userName": "a", "favouriteColour": "green", "nested": {"a": [1, null]},
                "urn:example:acme:2.0:User": {"badge": "B-7"}
            })),
        ),
        (
            "a core schema URN as a key is not listed as an extension",
            Create(
                ResourceKind::User,
                json!({"userName": "a", "urn:ietf:params:scim:schemas:core:2.0:Group": {"x": 1}}),
            ),
            Is(
                json!({"schemas": [USER_URN], "userName": "a", "urn:ietf:params:scim:schemas:core:2.0:Group": {"x": 1}}),
            ),
        ),
        (
            "core-URN-qualified attribute",
            Create(
                ResourceKind::User,
                json!({"urn:ietf:params:scim:schemas:core:2.0:User:userName": "a", "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName": "B"}),
            ),
            Is(json!({"schemas": [USER_URN], "userName": "a", "name": {"givenName": "B"}})),
        ),
        (
            "flattened extension sub-attribute merges with the object form",
            Create(
                ResourceKind::User,
                json!({"userName": "a",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "9",
                ENT: {"manager": {"$ref": "../Users/9"}, "department": "x"}}),
            ),
            Is(
                json!({"schemas": [USER_URN, ENT], "userName": "a", ENT: {"department": "x", "manager": {"value": "9", "$ref": "../Users/9"}}}),
            ),
        ),
        (
            "absent schemas is accepted",
            Create(ResourceKind::User, json!({"userName": "a"})),
            Is(json!({"schemas": [USER_URN], "userName": "a"})),
        ),
        (
            "foreign extension URNs without data are dropped",
            Create(
                ResourceKind::Group,
                json!({
                    "schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                    "externalId": "g-1", "displayName": "Sales", "meta": {"resourceType": "Group"}
                }),
            ),
            Group(json!({"schemas": [GROUP_URN], "externalId": "g-1", "displayName": "Sales"}), None),
        ),
        (
            "Group URN on /Users",
            Create(ResourceKind::User, json!({"schemas": [GROUP_URN], "userName": "a"})),
            Error(ScimType::InvalidValue, "/Users takes User resources"),
        ),
        (
            "PatchOp sent as a resource",
            Create(
                ResourceKind::User,
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []}),
            ),
            Error(ScimType::InvalidValue, "schemas lists urn:ietf:params:scim:api:messages:2.0:PatchOp"),
        ),
        (
            "schemas not an array of strings",
            Create(ResourceKind::User, json!({"schemas": [1], "userName": "a"})),
            Error(ScimType::InvalidSyntax, "schemas must be an array"),
        ),
        (
            "body not an object",
            Create(ResourceKind::User, json!(["userName"])),
            Error(ScimType::InvalidSyntax, "must be a JSON object"),
        ),
        (
            "userName missing",
            Create(ResourceKind::User, json!({"schemas": [USER_URN], "displayName": "x"})),
            Error(ScimType::InvalidValue, "userName is required"),
        ),
        (
            "userName blank",
            Create(ResourceKind::User, json!({"userName": "  "})),
            Error(ScimType::InvalidValue, "userName must not be empty"),
        ),
        (
            "userName null",
            Create(ResourceKind::User, json!({"userName": null})),
            Error(ScimType::InvalidValue, "userName is required"),
        ),
        (
            "userName a number",
            Create(ResourceKind::User, json!({"userName": 42})),
            Error(ScimType::InvalidValue, "userName must be a string"),
        ),
        (
            "userName twice",
            Create(ResourceKind::User, json!({"userName": "a", "USERNAME": "b"})),
            Error(ScimType::InvalidValue, "userName is given more than once"),
        ),
        // Found by the SQL/in-memory filter property test (docs/fuzzing.md): U+0000 cannot be
        // stored in PostgreSQL text, and SQLite's length() stops at it.
        (
            "NUL in userName",
            Create(ResourceKind::User, json!({"userName": "a\0b"})),
            Error(ScimType::InvalidValue, "userName contains the character U+0000"),
        ),
        (
            "NUL in an e-mail",
            Create(ResourceKind::User, json!({"userName": "a", "emails": [{"value": "x@y\0", "type": "work"}]})),
            Error(ScimType::InvalidValue, "emails[0].value contains the character U+0000"),
        ),
        (
            "NUL in a member id",
            Create(ResourceKind::Group, json!({"displayName": "G", "members": [{"value": "u\0"}]})),
            Error(ScimType::InvalidValue, "members[0].value contains the character U+0000"),
        ),
        (
            "password never stored",
            Create(ResourceKind::User, json!({"userName": "a", "password": "hunter2"})),
            Is(json!({"schemas": [USER_URN], "userName": "a"})),
        ),
        (
            "Okta create: groups [] and password",
            Create(
                ResourceKind::User,
                json!({
                    "schemas": [USER_URN], "userName": "isaac@example.com", "name": {"givenName": "Isaac", "familyName": "Brock"},
                    "emails": [{"primary": true, "value": "isaac@example.com", "type": "work"}],
                    "displayName": "Isaac Brock", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
                    "groups": [], "password": "1mz050nq", "active": true
                }),
            ),
            Is(json!({
                "schemas": [USER_URN], "externalId": "00ujl29u0le5T6Aj10h7", "userName": "isaac@example.com",
                "name": {"familyName": "Brock", "givenName": "Isaac"}, "displayName": "Isaac Brock", "locale": "en-US",
                "active": true, "emails": [{"value": "isaac@example.com", "type": "work", "primary": true}]
            })),
        ),
        (
            "extension given twice with different values",
            Create(
                ResourceKind::User,
                json!({
                    "userName": "a", ENT: {"department": "A"}, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "B"
                }),
            ),
            Error(ScimType::InvalidValue, "department is given more than once"),
        ),
        (
            "extension must be an object",
            Create(ResourceKind::User, json!({"userName": "a", ENT: "Sales"})),
            Error(ScimType::InvalidValue, "must be an object holding the extension's attributes"),
        ),
        (
            "RFC 7643 §8.4 group",
            Create(ResourceKind::Group, rfc_group()),
            Group(
                json!({"schemas": [GROUP_URN], "displayName": "Tour Guides"}),
                Some(vec![
                    ("2819c223-7f76-453a-919d-413861904646", None),
                    ("902c246b-6245-4190-8e05-00816be7344a", None),
                ]),
            ),
        ),
        (
            "Okta group push with empty members",
            Create(ResourceKind::Group, json!({"schemas": [GROUP_URN], "displayName": "Eng", "members": []})),
            Group(json!({"schemas": [GROUP_URN], "displayName": "Eng"}), Some(vec![])),
        ),
        (
            "member type any case, duplicates once",
            Create(
                ResourceKind::Group,
                json!({"displayName": "Eng",
            "Members": [{"value": "u1", "type": "user"}, {"Value": "g2", "Type": "GROUP", "display": "x", "$ref": null}, {"value": "u1"}]}),
            ),
            Group(
                json!({"schemas": [GROUP_URN], "displayName": "Eng"}),
                Some(vec![("u1", Some("User")), ("g2", Some("Group"))]),
            ),
        ),
        (
            "member without value",
            Create(ResourceKind::Group, json!({"displayName": "Eng", "members": [{"display": "Babs"}]})),
            Error(ScimType::InvalidValue, "members[0].value is required"),
        ),
        (
            "member with odd type",
            Create(ResourceKind::Group, json!({"displayName": "Eng", "members": [{"value": "u", "type": "direct"}]})),
            Error(ScimType::InvalidValue, "members[0].type must be \"User\" or \"Group\""),
        ),
        (
            "group displayName required",
            Create(ResourceKind::Group, json!({"schemas": [GROUP_URN], "members": []})),
            Error(ScimType::InvalidValue, "displayName is required"),
        ),
    ];
    for (name, input, expected) in cases {
        check(name, input, expected);
    }
}

#[test]
fn replace_and_patched_bodies() {
    let cases: Vec<(&str, Input, Expected)> = vec![
        (
            "Okta PUT with id, meta, groups: id/meta kept from existing, absent attributes cleared",
            Replace(
                ResourceKind::User,
                json!({
                    "schemas": [USER_URN], "id": "someone-else", "userName": "isaac@example.com",
                    "name": {"givenName": "Isaac", "familyName": "Brock"}, "active": "false", "groups": [{"value": "g"}],
                    "meta": {"resourceType": "User", "version": "W/\"0\""}, "password": "x"
                }),
                okta_existing(),
            ),
            Is(json!({
                "schemas": [USER_URN], "id": "u-1", "userName": "isaac@example.com",
                "name": {"familyName": "Brock", "givenName": "Isaac"}, "active": false,
                "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-01T00:00:00Z", "version": "W/\"1\""}
            })),
        ),
        (
            "PUT changes externalId (readWrite)",
            Replace(
                ResourceKind::User,
                json!({"userName": "a", "externalId": "new"}),
                json!({"id": "u-1", "externalId": "old", "userName": "a"}),
            ),
            Is(json!({"schemas": [USER_URN], "id": "u-1", "externalId": "new", "userName": "a"})),
        ),
        (
            "PUT without userName",
            Replace(ResourceKind::User, json!({"displayName": "x"}), okta_existing()),
            Error(ScimType::InvalidValue, "userName is required"),
        ),
        (
            "PUT group without members leaves them",
            Replace(ResourceKind::Group, json!({"displayName": "Eng"}), json!({"id": "g-1", "displayName": "Old"})),
            Group(json!({"schemas": [GROUP_URN], "id": "g-1", "displayName": "Eng"}), None),
        ),
        (
            "PUT group members null leaves them",
            Replace(
                ResourceKind::Group,
                json!({"displayName": "Eng", "members": null}),
                json!({"id": "g-1", "displayName": "Old"}),
            ),
            Group(json!({"schemas": [GROUP_URN], "id": "g-1", "displayName": "Eng"}), None),
        ),
        (
            "PUT group with members replaces them",
            Replace(
                ResourceKind::Group,
                json!({"displayName": "Eng", "members": [{"value": "u2", "display": "ignored"}]}),
                json!({"id": "g-1", "displayName": "Old"}),
            ),
            Group(json!({"schemas": [GROUP_URN], "id": "g-1", "displayName": "Eng"}), Some(vec![("u2", None)])),
        ),
        (
            "patched document with raw values is canonicalised",
            Patched(
                ResourceKind::User,
                json!({
                    "schemas": [USER_URN], "id": "u-1", "userName": "isaac@example.com", "active": "False",
                    "emails": [{"type": "work", "value": "i@example.com", "primary": "true"}],
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "271",
                    "meta": {"resourceType": "User"}
                }),
                okta_existing(),
            ),
            Is(json!({
                "schemas": [USER_URN, ENT], "id": "u-1", "userName": "isaac@example.com", "active": false,
                "emails": [{"value": "i@example.com", "type": "work", "primary": true}],
                ENT: {"manager": {"value": "271"}},
                "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-01T00:00:00Z", "version": "W/\"1\""}
            })),
        ),
        (
            "patch that empties the extension drops its URN",
            Patched(
                ResourceKind::User,
                json!({
                    "schemas": [USER_URN, ENT], "id": "u-1", "userName": "a", ENT: {}
                }),
                json!({"id": "u-1", "userName": "a", ENT: {"department": "x"}}),
            ),
            Is(json!({"schemas": [USER_URN], "id": "u-1", "userName": "a"})),
        ),
        (
            "patch removing all members",
            Patched(
                ResourceKind::Group,
                json!({"id": "g-1", "displayName": "Eng"}),
                json!({"id": "g-1", "displayName": "Eng", "members": [{"value": "u1"}]}),
            ),
            Group(json!({"schemas": [GROUP_URN], "id": "g-1", "displayName": "Eng"}), Some(vec![])),
        ),
        (
            "patch not touching unloaded members",
            Patched(
                ResourceKind::Group,
                json!({"id": "g-1", "displayName": "Eng2"}),
                json!({"id": "g-1", "displayName": "Eng"}),
            ),
            Group(json!({"schemas": [GROUP_URN], "id": "g-1", "displayName": "Eng2"}), None),
        ),
        (
            "patched wrong type",
            Patched(ResourceKind::User, json!({"userName": "a", "active": "maybe"}), okta_existing()),
            Error(ScimType::InvalidValue, "active must be a boolean"),
        ),
    ];
    for (name, input, expected) in cases {
        check(name, input, expected);
    }
}

/// A stored document with the `id` and `meta` the store would add, in canonical positions.
fn stored(doc: Map<String, serde_json::Value>) -> serde_json::Value {
    let mut out = Map::new();
    for (k, v) in doc {
        out.insert(k.clone(), v);
        if k == "schemas" {
            out.insert("id".into(), json!("r-1"));
        }
    }
    out.insert("meta".into(), json!({"resourceType": "User", "version": "W/\"1\""}));
    serde_json::Value::Object(out)
}

/// The canonical form is a fixed point: replacing or re-validating a stored document with
/// itself gives it back unchanged, so GET-then-PUT (Okta) writes nothing new.
#[test]
fn canonical_documents_are_fixed_points() {
    let fixtures = [
        (ResourceKind::User, rfc_full_user()),
        (ResourceKind::User, rfc_enterprise_user()),
        (ResourceKind::User, entra_create()),
        // RFC 7643 §8.1, the minimal User.
        (
            ResourceKind::User,
            json!({"schemas": [USER_URN], "id": "2819c223-7f76-453a-919d-413861904646", "userName": "bjensen@example.com", "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"3694e05e9dff590\"", "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"}}),
        ),
        (ResourceKind::Group, rfc_group()),
        (ResourceKind::User, json!({"userName": "a", "urn:example:acme:2.0:User": {"badge": "B-7"}, "extra": [1, 2]})),
    ];
    for (kind, body) in fixtures {
        let name = format!("fixed point of {body}");
        let created = prepare_create(kind.resource_type(), body);
        let Ok(created) = created else {
            panic!("{name}: {created:?}");
        };
        let doc = stored(created.doc);
        check(&name, Replace(kind, doc.clone(), doc.clone()), Group(doc.clone(), None));
        check(&name, Patched(kind, doc.clone(), doc.clone()), Group(doc, None));
    }
}

/// No attribute of the RFC schemas is immutable at the top level, so a test type defines one.
#[test]
fn immutable_attributes_may_not_change() {
    let schema: &'static Schema = Box::leak(Box::new(Schema {
        id: "urn:example:Badge".into(),
        name: "Badge".into(),
        attributes: serde_json::from_value(json!([
            {"name": "serial", "type": "string", "mutability": "immutable"},
            {"name": "label", "type": "string", "required": true}
        ]))
        .unwrap_or_default(),
        document: json!({}),
    }));
    let rt = ResourceType {
        kind: ResourceKind::User,
        description: "test",
        core: schema,
        extensions: Vec::new(),
        common: registry().user.common,
    };
    let existing = json!({"id": "b-1", "serial": "S1", "label": "x"});
    let existing = existing.as_object().cloned().unwrap_or_default();
    let same = prepare_replace(&rt, json!({"serial": "S1", "label": "y"}), &existing).map(|p| p.doc);
    assert_eq!(
        same.ok().map(serde_json::Value::Object),
        Some(json!({"schemas": ["urn:example:Badge"], "id": "b-1", "serial": "S1", "label": "y"}))
    );
    for body in [json!({"serial": "S2", "label": "y"}), json!({"label": "y"})] {
        let err = prepare_replace(&rt, body, &existing).err();
        assert_eq!(
            err.map(|e| (e.scim_type, e.detail.contains("serial is immutable"))),
            Some((Some(ScimType::Mutability), true))
        );
    }
    let fresh = json!({"id": "b-1", "label": "x"});
    let fresh = fresh.as_object().cloned().unwrap_or_default();
    assert!(prepare_replace(&rt, json!({"serial": "S2", "label": "y"}), &fresh).is_ok(), "set once when unset");
}

#[test]
fn base64() {
    for (s, ok) in [
        ("", true),
        ("TQ==", true),
        ("TQ", true),
        ("TWE=", true),
        ("TWFu", true),
        ("T", false),
        ("TQ===", false),
        ("TQ=a", false),
        ("T-_A", false),
        ("TW\nFu", true),
    ] {
        assert_eq!(is_base64(s), ok, "{s:?}");
    }
}
