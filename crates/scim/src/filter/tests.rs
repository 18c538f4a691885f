//! Unit tests of filters and sorting (RFC 7644 §3.4.2.2, §3.4.2.3): the parse fast paths against
//! the parser, quirk rewrites and error positions, evaluation semantics, validation, element
//! filters for PATCH and members, and sort order.

#[test]
fn the_simple_comparison_shortcut_agrees_with_the_parser() {
    let taken = [
        r#"userName eq "jane@example.com""#,
        r#"userName EQ "Jane@Example.com""#,
        r#"  userName   eq   "x"  "#,
        r#"name.familyName co "O'Malley""#,
        r#"emails.value sw "j""#,
        r#"displayName eq "Jane Doe""#,
        r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"userName ne """#,
        r#"title le "Zoë""#,
        r#"x_y-z ge "1""#,
        "userName\teq\t\"tab\"",
    ];
    for text in taken {
        let fast = super::parse::simple_comparison(text).unwrap_or_else(|| panic!("not taken: {text}"));
        let parsed: super::Filter = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(fast, parsed, "{text}");
    }
    let left_to_the_parser = [
        r#"userName eq "a\"b""#,
        r#"userName eq "a\\b""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#,
        r#"userName eq "x" and active eq true"#,
        r#"active eq true"#,
        r#"userName pr"#,
        r#"emails[type eq "work"]"#,
        r#"and eq "x""#,
        r#"a.b.c eq "x""#,
        r#"1abc eq "x""#,
        r#"userName eq x"#,
        r#"userName xx "x""#,
    ];
    for text in left_to_the_parser {
        assert!(super::parse::simple_comparison(text).is_none(), "taken: {text}");
    }
}

#[test]
fn the_simple_path_shortcut_agrees_with_the_parser() {
    let taken = [
        "active",
        "name.familyName",
        r#"phoneNumbers[type eq "eightbyeight"].value"#,
        r#"phoneNumbers[type EQ "work"]"#,
        r#"emails[ type eq "work" ].value"#,
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
        r#"addresses[type eq "work"].streetAddress"#,
        r#"members[value eq "a]b"]"#,
    ];
    for text in taken {
        let fast = super::parse::simple_path(text).unwrap_or_else(|| panic!("not taken: {text}"));
        let parsed: super::PatchPath = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(fast, parsed, "{text}");
    }
    let left_to_the_parser = [
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        r#"emails[type eq "work" and primary eq true].value"#,
        r#"emails[primary eq true]"#,
        r#"emails[type eq "work"].value.x"#,
        r#"emails[type eq "work"]x"#,
        "a.b.c",
        "not",
        "",
    ];
    for text in left_to_the_parser {
        assert!(super::parse::simple_path(text).is_none(), "taken: {text}");
    }
}

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::*;
use crate::ScimType;
use crate::schema::{ENTERPRISE_USER_URN, ResourceType, registry};

fn user() -> &'static ResourceType {
    &registry().user
}

fn bjensen() -> Map<String, Value> {
    let v = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_URN],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "BJensen-Ext",
        "userName": "bjensen@example.com",
        "name": {"familyName": "O'Malley", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
        "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3\""
        },
        ENTERPRISE_USER_URN: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        },
        "Nickname2": "Babsie",
        "tags": ["Blue", "green"],
        "score": 42,
        "flag": true,
        "urn:example:custom:1.0:User": {"favouriteColour": "Teal"}
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Parse, validate and evaluate `filter` against `doc`; `expected` is the match, or the
/// parse/validation error's `scimType`.
fn check(filter: &str, doc: &Map<String, Value>, expected: Result<bool, ScimType>) {
    let got = parse_filter(filter)
        .and_then(|f| validate_filter(user(), &f).map(|()| f))
        .map(|f| matches(user(), &f, doc))
        .map_err(|e| {
            assert_eq!(e.status, 400, "{filter}: {e}");
            e.scim_type
        });
    assert_eq!(got, expected.map_err(Some), "filter: {filter}");
}

#[test]
fn rfc7644_example_filters() {
    let doc = bjensen();
    let cases: &[(&str, bool)] = &[
        (r#"userName eq "bjensen""#, false),
        (r#"userName eq "bjensen@example.com""#, true),
        (r#"name.familyName co "O'Malley""#, true),
        (r#"userName sw "J""#, false),
        (r#"userName sw "B""#, true),
        (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#, false),
        (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bJ""#, true),
        ("title pr", true),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
        (r#"title pr and userType eq "Employee""#, true),
        (r#"title pr or userType eq "Intern""#, true),
        (r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, true),
        (r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, true),
        (r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#, false),
        (r#"userType eq "Employee" and (emails.type eq "work")"#, true),
        (r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#, true),
        (r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#, true),
    ];
    for (f, want) in cases {
        check(f, &doc, Ok(*want));
    }
}

#[test]
fn semantics() {
    let doc = bjensen();
    let cases: &[(&str, bool)] = &[
        // Operators and names are case-insensitive.
        (r#"USERNAME EQ "bjensen@example.com""#, true),
        (r#"username Eq "BJENSEN@EXAMPLE.COM""#, true),
        // caseExact: id and externalId; userName and emails.value are not.
        (r#"externalId eq "bjensen-ext""#, false),
        (r#"externalId eq "BJensen-Ext""#, true),
        (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
        (r#"emails.value eq "BJENSEN@example.com""#, true),
        (r#"emails eq "babs@JENSEN.org""#, true),
        // A value path needs one element to satisfy the whole inner filter.
        (r#"emails[type eq "home" and value co "@example.com"]"#, false),
        (r#"emails[type eq "home" or value co "@nowhere"]"#, true),
        (r#"emails[not (type eq "work")]"#, true),
        (r#"emails[primary eq true and type eq "work"]"#, true),
        // Entra's form, rewritten to the RFC form.
        (r#"emails[type eq "work"].value eq "bjensen@example.com""#, true),
        (r#"emails[type eq "home"].value eq "bjensen@example.com""#, false),
        (r#"emails[type eq "work" or type eq "home"].value eq "babs@jensen.org""#, true),
        (r#"emails[type eq "work"].value pr"#, true),
        (
            r#"emails[type eq "work"].value eq "bjensen@example.com" and phoneNumbers[type eq "work"].value sw "555""#,
            true,
        ),
        (r#"(emails[type eq "home"].value eq "x") or not(phoneNumbers[type eq "work"].value ew "0")"#, true),
        (r#"userName pr and (emails[type eq "work"].value sw "bjensen")"#, true),
        (r#"emails[type eq "a]b\"c"].value eq "x""#, false),
        // Capitalised literals.
        ("active eq True", true),
        ("active eq FALSE", false),
        ("title eq Null", false),
        ("nickName eq NULL", true),
        (r#"active eq "True""#, true),
        // ne is not(eq); eq null is not(pr).
        (r#"nickName ne "x""#, true),
        (r#"emails.value ne "babs@jensen.org""#, false),
        ("nickName eq null", true),
        ("title ne null", true),
        ("emails pr", true),
        ("phoneNumbers.display pr", false),
        ("name pr", true),
        ("addresses pr", false),
        // dateTime compares instants.
        (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
        (r#"meta.lastModified gt "2011-05-13T06:42:33+02:00""#, true),
        (r#"meta.lastModified lt "2011-05-13T04:42:34.001Z""#, true),
        (r#"meta.lastModified eq "2011-05-13T04:42:34""#, true),
        (r#"meta.created sw "2010-01""#, true),
        (r#"meta.resourceType eq "User""#, true),
        (r#"meta.version eq "W/\"3\"""#, true),
        // Strings order lexicographically, case-folded when not caseExact.
        (r#"userName gt "BJENSEN""#, true),
        (r#"userName lt "a""#, false),
        // Extension attributes: qualified, unqualified, complex with value.
        (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#, true),
        (r#"employeeNumber eq "701984""#, true),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
            true,
        ),
        (r#"manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#, true),
        (r#"department co "tour""#, true),
        // Unknown attributes: raw document, keys and strings case-insensitive, any element.
        (r#"nickname2 eq "BABSIE""#, true),
        (r#"tags eq "blue""#, true),
        (r#"tags[value eq "GREEN"]"#, true),
        ("score gt 41", true),
        ("score le 41", false),
        ("flag eq true", true),
        (r#"urn:example:custom:1.0:User:favouriteColour eq "teal""#, true),
        (r#"nosuch eq "x""#, false),
        ("nosuch pr", false),
        // $ref in a path parses.
        (r#"members.$ref eq "x""#, false),
        // RFC-valid `not(` and the RFC's own `eq"..."`.
        ("not(title pr)", false),
        (r#"userName eq"bjensen@example.com""#, true),
    ];
    for (f, want) in cases {
        check(f, &doc, Ok(*want));
    }
}

#[test]
fn invalid_filters() {
    let doc = bjensen();
    let cases: &[&str] = &[
        "",
        "userName",
        r#"userName eq"#,
        r#"userName xx "a""#,
        r#"userName eq "a" )"#,
        r#"(userName eq "a""#,
        r#"userName eq "unterminated"#,
        "active gt true",
        "active le false",
        r#"active co "t""#,
        r#"active eq "x""#,
        r#"active eq 1"#,
        r#"meta.lastModified gt "not a date""#,
        "meta.lastModified gt 5",
        "userName eq 5",
        "userName gt null",
        "title co 5",
        r#"x509Certificates.value gt "abc""#,
        r#"name eq "Babs""#,
        r#"addresses co "x""#,
        r#"userName[value eq "x"]"#,
        r#"name[givenName eq "x"]"#,
        r#"emails[value.foo eq "x"]"#,
        r#"emails[primary gt true]"#,
    ];
    for f in cases {
        check(f, &doc, Err(ScimType::InvalidFilter));
    }
}

#[test]
fn parse_errors_name_the_position_in_the_original_text() {
    let e = parse_filter(r#"userName xx "a""#).err().map(|e| e.detail).unwrap_or_default();
    assert!(e.contains("`xx` at position 9"), "{e}");
    // Positions survive the rewrites.
    let e = parse_filter(r#"members.$ref eq"x" and ) "#).err().map(|e| e.detail).unwrap_or_default();
    assert!(e.contains("`)` at position 23"), "{e}");
    let e = parse_filter("userName eq ").err().map(|e| e.detail).unwrap_or_default();
    assert!(e.contains("nothing follows `eq` at position 9"), "{e}");
}

#[test]
fn element_filters_for_patch_and_members() {
    let members = registry().group.core_attribute("members");
    let filter = |t: &str| match parse_path(&format!("members[{t}]")) {
        Ok(PatchPath::Value(vp)) => vp.filter,
        other => panic!("{other:?}"),
    };
    let m = json!({"value": "abc", "$ref": "https://x/Users/abc", "type": "User"});
    assert!(matches_element(members, &filter(r#"value eq "abc""#), &m));
    // members.value holds an id: our schema declares it caseExact (ids are, RFC 7643 §3.1),
    // while members.type keeps RFC 7643 §8.7.1's caseExact false.
    assert!(!matches_element(members, &filter(r#"value eq "ABC""#), &m));
    assert!(matches_element(members, &filter(r#"$ref ew "/abc""#), &m));
    assert!(matches_element(members, &filter(r#"type eq "user" and not (display pr)"#), &m));
    assert!(!matches_element(members, &filter(r#"value eq "abd""#), &m));
    assert!(matches_element(None, &filter(r#"value eq "x""#), &json!("X")));
}

#[test]
fn paths() {
    let p = parse_path(r#"emails[type eq "other"].Value"#);
    assert!(matches!(&p, Ok(PatchPath::Value(vp)) if vp.sub_attr.as_deref() == Some("Value")));
    let p = parse_path("members.$ref");
    assert!(matches!(&p, Ok(PatchPath::Attr(a)) if a.sub_attr.as_deref() == Some("$ref")));
    let p = parse_path(r#"members[value eq"2819c223...919d-413861904646"]"#);
    assert!(p.is_ok(), "{p:?}");
    let e = parse_path("emails[type eq").err().map(|e| e.scim_type);
    assert_eq!(e, Some(Some(ScimType::InvalidPath)));
}

#[test]
fn sorting() {
    let doc = bjensen();
    let rt = user();
    assert_eq!(sort_key(rt, "userName", &doc), Some(&json!("bjensen@example.com")));
    assert_eq!(sort_key(rt, "emails", &doc), Some(&json!("bjensen@example.com")));
    assert_eq!(sort_key(rt, "emails.type", &doc), Some(&json!("work")));
    assert_eq!(sort_key(rt, "phoneNumbers.value", &doc), Some(&json!("555-555-8377")));
    assert_eq!(sort_key(rt, "name.familyName", &doc), Some(&json!("O'Malley")));
    let manager = sort_key(rt, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", &doc);
    assert_eq!(manager, Some(&json!("26118915-6090-4610-87e4-49d8ca9f808d")));
    assert_eq!(sort_key(rt, "nickName", &doc), None);
    assert_eq!(sort_key(rt, "tags", &doc), Some(&json!("Blue")));

    let name = sort_def(rt, "userName");
    let s = |v: &str| Some(json!(v));
    assert_eq!(compare_for_sort(name, s("alice").as_ref(), s("Bob").as_ref()), Ordering::Less);
    assert_eq!(compare_for_sort(name, s("ALICE").as_ref(), s("alice").as_ref()), Ordering::Equal);
    let id = sort_def(rt, "id");
    assert_eq!(compare_for_sort(id, s("B").as_ref(), s("a").as_ref()), Ordering::Less);
    let lm = sort_def(rt, "meta.lastModified");
    let later = s("2011-05-13T05:00:00+02:00");
    let earlier = s("2011-05-13T04:42:34Z");
    assert_eq!(compare_for_sort(lm, later.as_ref(), earlier.as_ref()), Ordering::Less);
    assert_eq!(compare_for_sort(None, Some(&json!(10)), Some(&json!(9))), Ordering::Greater);
    assert_eq!(compare_for_sort(name, None, s("a").as_ref()), Ordering::Greater);
    assert_eq!(compare_for_sort(name, s("a").as_ref(), Some(&Value::Null)), Ordering::Less);
    assert_eq!(compare_for_sort(sort_def(rt, "emails"), s("B@x").as_ref(), s("a@x").as_ref()), Ordering::Greater);
}

/// Found by the `filter` fuzz target (docs/fuzzing.md): a number too long for an f64 was read
/// to the nearest f64 only approximately, so a filter printed and parsed again compared with a
/// different number. serde_json's `float_roundtrip` reads every number exactly rounded.
#[test]
fn numbers_in_filters_survive_printing_and_parsing() {
    for text in ["employeeN eq 1111111111111111111113992", "x gt 1.1111111111111112e+24", "x lt 0.30000000000000004"] {
        let first = super::parse_filter(text).unwrap();
        let printed = first.to_string();
        let second = super::parse_filter(&printed).unwrap();
        assert_eq!(second, first, "{text} printed as {printed}");
        assert_eq!(second.to_string(), printed, "{text}");
    }
}
