//! Unit tests of PATCH (RFC 7644 §3.5.2): the request shapes IdPs send (`docs/idp-notes.md` §4),
//! group members, the RFC's own examples, the add/remove/replace rules and body shapes.

use serde_json::{Map, Value, json};

use super::*;
use crate::ScimType;
use crate::filter::{self, PatchPath};
use crate::schema::{ENTERPRISE_USER_URN, PATCH_OP_URN, ResourceType, USER_URN, registry};

const ENT: &str = ENTERPRISE_USER_URN;

fn user_rt() -> &'static ResourceType {
    &registry().user
}

fn group_rt() -> &'static ResourceType {
    &registry().group
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn base_user() -> Value {
    json!({
        "schemas": [USER_URN],
        "id": "u1",
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "555-0100", "type": "work"}],
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z",
                 "lastModified": "2024-01-01T00:00:00Z", "version": "W/\"1\""}
    })
}

fn base_group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "displayName": "Tour Guides",
        "meta": {"resourceType": "Group", "version": "W/\"1\""}
    })
}

/// RFC 7386 merge patch, to write expected documents as "base plus these changes".
fn merged(base: Value, delta: Value) -> Value {
    match (base, delta) {
        (Value::Object(mut b), Value::Object(d)) => {
            for (k, v) in d {
                if v.is_null() {
                    b.shift_remove(&k);
                } else {
                    let old = b.shift_remove(&k).unwrap_or(Value::Null);
                    b.insert(k, merged(old, v));
                }
            }
            Value::Object(b)
        }
        (_, d) => d,
    }
}

fn patch_op(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_URN], "Operations": ops})
}

/// Parse and apply `body` to `before`; `want` is the document after, or the error's
/// scimType (and then the document must be unchanged). Returns the member changes.
fn check(rt: &ResourceType, before: Value, body: Value, want: Result<Value, ScimType>) -> Vec<MemberChange> {
    let mut doc = object(before.clone());
    let got = parse_patch(rt, &body).and_then(|req| apply_patch(rt, &mut doc, &req));
    match (got, want) {
        (Ok(outcome), Ok(want)) => {
            assert_eq!(Value::Object(doc), want, "body: {body}");
            assert_eq!(outcome.changed, want != before, "changed flag, body: {body}");
            outcome.member_changes
        }
        (Err(e), Err(want)) => {
            assert_eq!(e.scim_type, Some(want), "body: {body}: {e}");
            assert_eq!(e.status, 400);
            assert_eq!(Value::Object(doc), before, "a failed PATCH changes nothing");
            Vec::new()
        }
        (got, want) => panic!("body: {body}\n got: {got:?}\nwant: {want:?}"),
    }
}

#[test]
fn entra_id_shapes() {
    let u = base_user;
    let rt = user_rt();
    let cases: Vec<(Value, Result<Value, ScimType>)> = vec![
        // 1. Capitalised op values.
        (
            json!([{"op": "Replace", "path": "displayName", "value": "Babs"}]),
            Ok(merged(u(), json!({"displayName": "Babs"}))),
        ),
        // 2. Booleans as strings are stored as sent (coerced later by scim::resource).
        (json!([{"op": "Replace", "path": "active", "value": "False"}]), Ok(merged(u(), json!({"active": "False"})))),
        (
            json!([{"op": "Add", "path": "emails[type eq \"work\"].primary", "value": "true"}]),
            Ok(merged(u(), json!({"emails": [{"value": "bjensen@example.com", "type": "work", "primary": "true"}]}))),
        ),
        // 3. Filtered sub-attribute paths, existing and not (4: created from the filter).
        (
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"}]),
            Ok(merged(u(), json!({"emails": [{"value": "babs@example.com", "type": "work", "primary": true}]}))),
        ),
        (
            json!([{"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0101"}]),
            Ok(merged(
                u(),
                json!({"phoneNumbers": [
                {"value": "555-0100", "type": "work"},
                {"type": "mobile", "value": "+1 555 0101"}]}),
            )),
        ),
        (
            json!([{"op": "Replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+1555"}]),
            Ok(merged(
                u(),
                json!({"phoneNumbers": [
                {"value": "555-0100", "type": "work"},
                {"type": "eightbyeight", "value": "+1555"}]}),
            )),
        ),
        (
            json!([{"op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "91608"},
                   {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"}]),
            Ok(merged(
                u(),
                json!({"addresses": [{"type": "work", "postalCode": "91608", "streetAddress": "1 Main St"}]}),
            )),
        ),
        (
            json!([{"op": "Add", "path": "emails[type eq \"other\"].Value", "value": "b@other.org"}]),
            Ok(merged(
                u(),
                json!({"emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"type": "other", "value": "b@other.org"}]}),
            )),
        ),
        // 5. Multi-attribute PATCH, one op per attribute.
        (
            json!([
                {"op": "Replace", "path": "displayName", "value": "Babs Jensen"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"},
                {"op": "Replace", "path": "name.givenName", "value": "Babs"},
                {"op": "Replace", "path": "name.familyName", "value": "Jensen-Smith"},
                {"op": "Replace", "path": "externalId", "value": "ext-1"},
                {"op": "Replace", "path": format!("{ENT}:employeeNumber"), "value": "701984"}
            ]),
            Ok(merged(
                u(),
                json!({
                    "displayName": "Babs Jensen",
                    "emails": [{"value": "babs@example.com", "type": "work", "primary": true}],
                    "name": {"givenName": "Babs", "familyName": "Jensen-Smith"},
                    "externalId": "ext-1",
                    ENT: {"employeeNumber": "701984"}
                }),
            )),
        ),
        // 6. Enterprise attributes by colon-joined URN path, with a filtered address.
        (
            json!([
                {"op": "Replace", "path": format!("{ENT}:department"), "value": "Tours"},
                {"op": "Replace", "path": "addresses[type eq \"work\"].formatted", "value": "1 Main St\nHollywood"}
            ]),
            Ok(merged(
                u(),
                json!({
                    ENT: {"department": "Tours"},
                    "addresses": [{"type": "work", "formatted": "1 Main St\nHollywood"}]
                }),
            )),
        ),
        // 7. Manager as a plain string; and as a one-element array (older doc example).
        (
            json!([{"op": "Add", "path": format!("{ENT}:manager"), "value": "271"}]),
            Ok(merged(u(), json!({ENT: {"manager": {"value": "271"}}}))),
        ),
        (
            json!([{"op": "Add", "path": "manager", "value": [{"$ref": "https://x/Users/271", "Value": "271"}]}]),
            Ok(merged(u(), json!({ENT: {"manager": {"$ref": "https://x/Users/271", "value": "271"}}}))),
        ),
        // 8. Path-less replace with dotted keys and a URN-qualified key.
        (
            json!([{"op": "replace", "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                format!("{ENT}:employeeNumber"): "Aklq"
            }}]),
            Ok(merged(
                u(),
                json!({
                    "displayName": "Bjfe",
                    "name": {"givenName": "Kkom", "familyName": "Unua"},
                    ENT: {"employeeNumber": "Aklq"}
                }),
            )),
        ),
        // 9. "value" without path.
        (json!([{"op": "Add", "value": {"externalId": "aqwer"}}]), Ok(merged(u(), json!({"externalId": "aqwer"})))),
        (
            json!([{"op": "Replace", "value": {"EXTERNALID": "aqwer", "Active": "False"}}]),
            Ok(merged(u(), json!({"externalId": "aqwer", "active": "False"}))),
        ),
    ];
    for (ops, want) in cases {
        check(rt, u(), patch_op(ops), want);
    }
}

#[test]
fn group_members() {
    let g = base_group;
    let rt = group_rt();
    let cases: Vec<(Value, Vec<MemberChange>)> = vec![
        // Entra 10: add with "$ref": null, remove with a value list, remove by filter.
        (
            json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u1"}]}]),
            vec![MemberChange::Add(vec![json!({"value": "u1"})])],
        ),
        (
            json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]),
            vec![MemberChange::RemoveValues(vec!["u1".into(), "u2".into()])],
        ),
        (
            json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]),
            vec![MemberChange::RemoveValues(vec!["u1".into()])],
        ),
        (
            json!([{"op": "remove", "path": "members[value eq \"u1\" or value eq \"u2\"]"}]),
            vec![MemberChange::RemoveValues(vec!["u1".into(), "u2".into()])],
        ),
        (
            json!([{"op": "remove", "path": "members[type eq \"Group\"]"}]),
            vec![MemberChange::RemoveMatching(match filter::parse_path("members[type eq \"Group\"]") {
                Ok(PatchPath::Value(vp)) => vp.filter,
                other => panic!("{other:?}"),
            })],
        ),
        // Okta 8: membership update (remove by filter, add with display), full push.
        (
            json!([
                {"op": "remove", "path": "members[value eq \"u1\"]"},
                {"op": "add", "path": "members", "value": [{"value": "u2", "display": "jsmith"}]}
            ]),
            vec![
                MemberChange::RemoveValues(vec!["u1".into()]),
                MemberChange::Add(vec![json!({"value": "u2", "display": "jsmith"})]),
            ],
        ),
        (
            json!([{"op": "replace", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]),
            vec![MemberChange::ReplaceAll(vec![json!({"value": "u1"}), json!({"value": "u2"})])],
        ),
        (json!([{"op": "replace", "path": "members", "value": []}]), vec![MemberChange::ReplaceAll(vec![])]),
        // RFC 7644 §3.5.2.1: add a member.
        (
            json!([{"op": "add", "path": "members", "value": [{
                "display": "Babs Jensen",
                "$ref": "https://example.com/v2/Users/2819c223...413861904646",
                "value": "2819c223-7f76-453a-919d-413861904646"}]}]),
            vec![MemberChange::Add(vec![json!({
                "display": "Babs Jensen",
                "$ref": "https://example.com/v2/Users/2819c223...413861904646",
                "value": "2819c223-7f76-453a-919d-413861904646"})])],
        ),
        // RFC 7644 §3.5.2.2: remove one member (the RFC's own `eq\"...\"`), remove all,
        // remove and add.
        (
            json!([{"op": "remove", "path": "members[value eq\"2819c223...919d-413861904646\"]"}]),
            vec![MemberChange::RemoveValues(vec!["2819c223...919d-413861904646".into()])],
        ),
        (json!([{"op": "remove", "path": "members"}]), vec![MemberChange::RemoveAll]),
        (
            json!([
                {"op": "remove", "path": "members"},
                {"op": "add", "path": "members", "value": [
                    {"display": "Babs Jensen", "value": "2819c223-7f76-453a-919d-413861904646"},
                    {"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}]}
            ]),
            vec![
                MemberChange::RemoveAll,
                MemberChange::Add(vec![
                    json!({"display": "Babs Jensen", "value": "2819c223-7f76-453a-919d-413861904646"}),
                    json!({"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}),
                ]),
            ],
        ),
        // Path-less value carrying members.
        (
            json!([{"op": "add", "value": {"members": [{"value": "u3"}]}}]),
            vec![MemberChange::Add(vec![json!({"value": "u3"})])],
        ),
    ];
    for (ops, want) in cases {
        let got = check(rt, g(), patch_op(ops.clone()), Ok(g()));
        assert_eq!(got, want, "ops: {ops}");
    }
}

#[test]
fn group_rename_and_member_errors() {
    let g = base_group;
    let rt = group_rt();
    // Okta 8: rename carries the group's own id.
    let changes = check(
        rt,
        g(),
        patch_op(json!([{"op": "replace", "value": {"id": "g1", "displayName": "Guides"}}])),
        Ok(merged(g(), json!({"displayName": "Guides"}))),
    );
    assert!(changes.is_empty());
    let cases: Vec<(Value, ScimType)> = vec![
        (json!([{"op": "replace", "value": {"id": "other", "displayName": "X"}}]), ScimType::Mutability),
        (json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}]), ScimType::InvalidValue),
        (json!([{"op": "add", "path": "members", "value": ["u1"]}]), ScimType::InvalidValue),
        (json!([{"op": "remove", "path": "members", "value": [{"display": "x"}]}]), ScimType::InvalidValue),
        (json!([{"op": "replace", "path": "members[value eq \"u1\"].display", "value": "x"}]), ScimType::Mutability),
        (
            json!([{"op": "replace", "path": "members[value eq \"u1\"]", "value": {"value": "u2"}}]),
            ScimType::Mutability,
        ),
        (json!([{"op": "remove", "path": "members.value"}]), ScimType::Mutability),
        (json!([{"op": "add", "path": "emails", "value": [{"value": "x@y"}]}]), ScimType::InvalidPath),
    ];
    for (ops, want) in cases {
        check(rt, g(), patch_op(ops), Err(want));
    }
}

#[test]
fn rfc7644_user_examples() {
    let rt = user_rt();
    let u = base_user;
    // §3.5.2.1: add attributes without a path ("nickname" is spelled as the schema spells it).
    check(
        rt,
        u(),
        patch_op(json!([{"op": "add", "value": {
            "emails": [{"value": "babs@jensen.org", "type": "home"}],
            "nickname": "Babs"}}])),
        Ok(merged(
            u(),
            json!({
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}],
            "nickName": "Babs"}),
        )),
    );
    // §3.5.2.2: remove a value from a complex multi-valued attribute.
    let two = merged(
        u(),
        json!({"emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": true},
        {"value": "babs@jensen.org", "type": "home"}]}),
    );
    check(
        rt,
        two.clone(),
        patch_op(json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}])),
        Ok(merged(u(), json!({"emails": [{"value": "babs@jensen.org", "type": "home"}]}))),
    );
    // §3.5.2.3: replace multiple attributes without a path (the array is replaced whole).
    check(
        rt,
        two,
        patch_op(json!([{"op": "replace", "value": {
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}],
            "nickname": "Babs"}}])),
        Ok(merged(
            u(),
            json!({
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}],
            "nickName": "Babs"}),
        )),
    );
    // §3.5.2.3: replace the work address via a filter, then its streetAddress.
    let addresses = merged(
        u(),
        json!({"addresses": [
        {"type": "work", "streetAddress": "100 Old St", "primary": true},
        {"type": "home", "streetAddress": "5 Home Rd", "primary": true}]}),
    );
    check(
        rt,
        addresses,
        patch_op(json!([
            {"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
                "type": "work",
                "streetAddress": "911 Universal City Plaza",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "US",
                "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                "primary": true}},
            {"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}
        ])),
        Ok(merged(
            u(),
            json!({"addresses": [
            {
                "type": "work",
                "streetAddress": "1010 Broadway Ave",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "US",
                "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                "primary": true
            },
            {"type": "home", "streetAddress": "5 Home Rd", "primary": false}]}),
        )),
    );
}

#[test]
fn add_remove_replace_rules() {
    let rt = user_rt();
    let u = base_user;
    let enterprise =
        merged(u(), json!({ENT: {"department": "Tours", "manager": {"value": "m1", "displayName": "Boss"}}}));
    let cases: Vec<(Value, Value, Result<Value, ScimType>)> = vec![
        // Add to a multi-valued attribute appends, without exact duplicates.
        (
            u(),
            json!([{"op": "add", "path": "emails", "value": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "b@home.org", "type": "home"}]}]),
            Ok(merged(
                u(),
                json!({"emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "b@home.org", "type": "home"}]}),
            )),
        ),
        // A single object for a multi-valued attribute is one more value; a new primary
        // demotes the old one.
        (
            u(),
            json!([{"op": "add", "path": "emails", "value": {"Value": "b@home.org", "Primary": true}}]),
            Ok(merged(
                u(),
                json!({"emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": false},
                {"value": "b@home.org", "primary": true}]}),
            )),
        ),
        // Replace of a multi-valued attribute without filter replaces the array.
        (
            u(),
            json!([{"op": "replace", "path": "phoneNumbers", "value": [{"value": "1", "type": "home"}]}]),
            Ok(merged(u(), json!({"phoneNumbers": [{"value": "1", "type": "home"}]}))),
        ),
        // add on attr[filter] merges into the matching element; replace with no match
        // creates the element from the filter's eq terms.
        (
            u(),
            json!([{"op": "add", "path": "emails[type eq \"work\"]", "value": {"Display": "Work"}}]),
            Ok(merged(
                u(),
                json!({"emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true, "display": "Work"}]}),
            )),
        ),
        (
            u(),
            json!([{"op": "replace", "path": "emails[type eq \"home\" and primary eq false]", "value": {"value": "b@home.org"}}]),
            Ok(merged(
                u(),
                json!({"emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"type": "home", "primary": false, "value": "b@home.org"}]}),
            )),
        ),
        // Removing the last element removes the attribute; no match is no change.
        (
            u(),
            json!([{"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}]),
            Ok(merged(u(), json!({"phoneNumbers": null}))),
        ),
        (u(), json!([{"op": "remove", "path": "phoneNumbers[type eq \"fax\"]"}]), Ok(u())),
        (u(), json!([{"op": "remove", "path": "phoneNumbers"}]), Ok(merged(u(), json!({"phoneNumbers": null})))),
        // Removing a sub-attribute of filtered elements; an emptied element goes.
        (
            u(),
            json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
            Ok(merged(u(), json!({"emails": [{"value": "bjensen@example.com", "type": "work"}]}))),
        ),
        // Remove with a value list on a multi-valued attribute removes those values.
        (
            u(),
            json!([{"op": "remove", "path": "emails", "value": [{"value": "BJENSEN@example.com"}]}]),
            Ok(merged(u(), json!({"emails": null}))),
        ),
        // Add to a complex attribute merges sub-attributes; replace likewise.
        (
            u(),
            json!([{"op": "add", "path": "name", "value": {"middleName": "J", "GivenName": "Babs"}}]),
            Ok(merged(u(), json!({"name": {"givenName": "Babs", "familyName": "Jensen", "middleName": "J"}}))),
        ),
        (
            u(),
            json!([{"op": "replace", "path": "name", "value": {"familyName": null, "formatted": "Babs"}}]),
            Ok(merged(u(), json!({"name": {"familyName": null, "formatted": "Babs"}}))),
        ),
        // Removing the last sub-attributes removes the complex attribute.
        (
            u(),
            json!([{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "name.familyName"}]),
            Ok(merged(u(), json!({"name": null}))),
        ),
        // null: replace unassigns, add ignores.
        (u(), json!([{"op": "replace", "path": "active", "value": null}]), Ok(merged(u(), json!({"active": null})))),
        (u(), json!([{"op": "add", "path": "title", "value": null}]), Ok(u())),
        // The whole extension as path: add merges, remove drops it.
        (
            enterprise.clone(),
            json!([{"op": "add", "path": ENT, "value": {"division": "West", "Department": "Travel"}}]),
            Ok(merged(enterprise.clone(), json!({ENT: {"department": "Travel", "division": "West"}}))),
        ),
        (enterprise.clone(), json!([{"op": "remove", "path": ENT}]), Ok(u())),
        (
            enterprise.clone(),
            json!([{"op": "replace", "path": format!("{ENT}:manager.value"), "value": "m2"}]),
            Ok(merged(enterprise.clone(), json!({ENT: {"manager": {"value": "m2"}}}))),
        ),
        (
            enterprise.clone(),
            json!([{"op": "remove", "path": format!("{ENT}:department")}, {"op": "remove", "path": "manager"}]),
            Ok(u()),
        ),
        // Path-less value with the extension object keyed by its URN.
        (
            u(),
            json!([{"op": "add", "value": {ENT: {"costCenter": "42"}}}]),
            Ok(merged(u(), json!({ENT: {"costCenter": "42"}}))),
        ),
        // Unmodelled extensions are schemaless.
        (
            u(),
            json!([{"op": "add", "path": "urn:example:ext:1.0:User:favouriteColour", "value": "Teal"}]),
            Ok(merged(u(), json!({"urn:example:ext:1.0:User": {"favouriteColour": "Teal"}}))),
        ),
        (
            u(),
            json!([{"op": "replace", "value": {"urn:example:ext:1.0:User": {"a": 1}}}]),
            Ok(merged(u(), json!({"urn:example:ext:1.0:User": {"a": 1}}))),
        ),
        // Okta 6: deactivate without path.
        (u(), json!([{"op": "replace", "value": {"active": false}}]), Ok(merged(u(), json!({"active": false})))),
        // password is accepted and discarded.
        (u(), json!([{"op": "replace", "path": "password", "value": "s3cret"}]), Ok(u())),
        // Adding a value already there changes nothing.
        (
            u(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "bjensen@example.com", "type": "work", "primary": true}]}]),
            Ok(u()),
        ),
        // Errors.
        (u(), json!([{"op": "remove"}]), Err(ScimType::NoTarget)),
        (u(), json!([{"op": "move", "path": "title"}]), Err(ScimType::InvalidSyntax)),
        (u(), json!([{"path": "title", "value": "x"}]), Err(ScimType::InvalidSyntax)),
        (u(), json!([{"op": "add", "path": "title"}]), Err(ScimType::InvalidSyntax)),
        (u(), json!([{"op": "add", "value": "x"}]), Err(ScimType::InvalidSyntax)),
        (u(), json!([{"op": "add", "path": "emails[type eq", "value": "x"}]), Err(ScimType::InvalidPath)),
        (u(), json!([{"op": "add", "path": "nosuch", "value": "x"}]), Err(ScimType::InvalidPath)),
        (u(), json!([{"op": "add", "value": {"nosuch": "x"}}]), Err(ScimType::InvalidPath)),
        (u(), json!([{"op": "add", "path": "name.nosuch", "value": "x"}]), Err(ScimType::InvalidPath)),
        (u(), json!([{"op": "add", "path": format!("{ENT}:nosuch"), "value": "x"}]), Err(ScimType::InvalidPath)),
        (u(), json!([{"op": "add", "path": "userName[value eq \"x\"]", "value": "x"}]), Err(ScimType::InvalidPath)),
        (u(), json!([{"op": "add", "path": 5, "value": "x"}]), Err(ScimType::InvalidPath)),
        (
            u(),
            json!([{"op": "replace", "path": "emails[primary gt true].value", "value": "x"}]),
            Err(ScimType::InvalidFilter),
        ),
        (u(), json!([{"op": "replace", "path": "id", "value": "x"}]), Err(ScimType::Mutability)),
        (u(), json!([{"op": "replace", "path": "meta.created", "value": "x"}]), Err(ScimType::Mutability)),
        (u(), json!([{"op": "add", "path": "groups", "value": [{"value": "g1"}]}]), Err(ScimType::Mutability)),
        (u(), json!([{"op": "replace", "path": "schemas", "value": [USER_URN]}]), Err(ScimType::Mutability)),
        (
            u(),
            json!([{"op": "replace", "path": format!("{ENT}:manager.displayName"), "value": "x"}]),
            Err(ScimType::Mutability),
        ),
        (u(), json!([{"op": "remove", "path": "userName"}]), Err(ScimType::Mutability)),
        (u(), json!([{"op": "replace", "value": {"userName": null}}]), Err(ScimType::Mutability)),
        (u(), json!([{"op": "add", "path": ENT, "value": "x"}]), Err(ScimType::InvalidValue)),
        (
            u(),
            json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": "x"}]),
            Err(ScimType::InvalidValue),
        ),
        // A filter that matches nothing and cannot describe an element: noTarget.
        (
            u(),
            json!([{"op": "replace", "path": "emails[value co \"nowhere\"].type", "value": "home"}]),
            Err(ScimType::NoTarget),
        ),
        // Atomicity: the first operation succeeded, the second fails, nothing changes.
        (
            u(),
            json!([{"op": "replace", "path": "displayName", "value": "X"}, {"op": "replace", "path": "id", "value": "x"}]),
            Err(ScimType::Mutability),
        ),
        (
            u(),
            json!([
                {"op": "replace", "path": "displayName", "value": "X"},
                {"op": "replace", "path": "phoneNumbers[type ne \"work\"].value", "value": "1"}
            ]),
            Err(ScimType::NoTarget),
        ),
    ];
    for (before, ops, want) in cases {
        check(rt, before, patch_op(ops), want);
    }
}

#[test]
fn body_shape() {
    let rt = user_rt();
    let u = base_user;
    let op = json!([{"op": "replace", "path": "title", "value": "Guide"}]);
    let titled = merged(u(), json!({"title": "Guide"}));
    // `schemas` absent is tolerated; `operations` in any case.
    check(rt, u(), json!({"Operations": op}), Ok(titled.clone()));
    check(rt, u(), json!({"schemas": [PATCH_OP_URN], "operations": op}), Ok(titled));
    let bad: Vec<Value> = vec![
        json!([]),
        json!({"schemas": [USER_URN], "Operations": op}),
        json!({"schemas": [PATCH_OP_URN]}),
        json!({"schemas": [PATCH_OP_URN], "Operations": []}),
        json!({"schemas": [PATCH_OP_URN], "Operations": {"op": "add"}}),
        json!({"schemas": [PATCH_OP_URN], "Operations": ["add"]}),
    ];
    for body in bad {
        check(rt, u(), body, Err(ScimType::InvalidSyntax));
    }
    // Errors say which operation failed.
    let e = parse_patch(rt, &patch_op(json!([op[0].clone(), {"op": "remove", "path": "id"}]))).err();
    assert!(e.is_some_and(|e| e.detail.starts_with("Operations[1]: ")));
}

#[test]
fn canonical_names_are_written() {
    let rt = user_rt();
    let before = json!({"id": "u1", "userName": "b", "EMAILS": [{"VALUE": "a@x", "TYPE": "work"}], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "x"}});
    check(
        rt,
        before,
        patch_op(json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x"},
            {"op": "replace", "path": "department", "value": "y"}
        ])),
        Ok(
            json!({"id": "u1", "userName": "b", "emails": [{"TYPE": "work", "value": "b@x"}], ENT: {"department": "y"}}),
        ),
    );
}

/// The audit trail records the attributes a PATCH named, never the values it sent or filtered on.
#[test]
fn touched_paths_name_attributes_without_values() {
    let body = patch_op(json!([
        {"op": "replace", "path": "emails[value eq \"jane@example.com\"].type", "value": "home"},
        {"op": "Replace", "value": {"name.givenName": "Jane", "active": false, "phoneNumbers": [{"value": "+15551234567"}]}},
        {"op": "add", "path": ENTERPRISE_USER_URN, "value": {"department": "Sales", "manager": {"value": "m-1"}}},
        {"op": "remove", "path": "phoneNumbers[type eq \"work\"]"},
        {"op": "add", "path": "urn:example:ext:1.0:User:badge", "value": "B-7"},
        {"op": "replace", "path": "NAME.familyName", "value": "Doe"},
    ]));
    let req = parse_patch(user_rt(), &body).unwrap();
    assert_eq!(
        touched_paths(user_rt(), &req),
        vec![
            "emails.type".to_string(),
            "name.givenName".into(),
            "active".into(),
            "phoneNumbers".into(),
            format!("{ENTERPRISE_USER_URN}:department"),
            format!("{ENTERPRISE_USER_URN}:manager"),
            "urn:example:ext:1.0:User:badge".into(),
            "name.familyName".into(),
        ]
    );
    let members = patch_op(json!([
        {"op": "add", "path": "members", "value": [{"value": "u-1"}]},
        {"op": "remove", "path": "members[value eq \"u-2\"]"},
    ]));
    let req = parse_patch(group_rt(), &members).unwrap();
    assert_eq!(touched_paths(group_rt(), &req), vec!["members".to_string()]);
}
