use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, patch_body, q};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[tokio::test]
async fn eightbyeight_filtered_path_replaces_or_creates_the_number() {
    let app = TestApp::spawn().await;
    let id = app.create_user("eight@example.com").await;
    let r = app
        .patch(
            &format!("/Users/{id}"),
            patch_body(json!([{"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+14155550199"}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let phones = r.body["phoneNumbers"].as_array().unwrap();
    assert_eq!(phones.len(), 1);
    assert_eq!(phones[0]["value"], "+14155550199");

    // A user without an 8x8 number gets one (Entra relies on Add/Replace creating the element).
    let mut body = crate::helpers::user_body("no8x8@example.com");
    body["phoneNumbers"] = json!([{"type": "mobile", "value": "+14155550111"}]);
    let other = app.post("/Users", body).await.body["id"].as_str().unwrap().to_string();
    let r = app
        .patch(
            &format!("/Users/{other}"),
            patch_body(
                json!([{"op": "Add", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": "+14155550122"}]),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let phones = r.body["phoneNumbers"].as_array().unwrap();
    assert_eq!(phones.len(), 2);
    assert!(phones.iter().any(|p| p["type"] == "eightbyeight" && p["value"] == "+14155550122"));
    // And the new number is found by filter (its index row was written).
    let found = app.get(&format!("/Users?filter={}", q("phoneNumbers.value eq \"+14155550122\""))).await;
    assert_eq!(found.body["totalResults"], 1);
}

#[tokio::test]
async fn entra_multi_attribute_patch_with_urn_paths_and_string_booleans() {
    let app = TestApp::spawn().await;
    let id = app.create_user("entra@example.com").await;
    let ops = json!([
        {"op": "Replace", "path": "displayName", "value": "New Name"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "entra2@example.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Gina"},
        {"op": "Replace", "path": "name.familyName", "value": "Fam"},
        {"op": "Replace", "path": "externalId", "value": "ext-1"},
        {"op": "Add", "path": format!("{ENT}:employeeNumber"), "value": "E-9"},
        {"op": "Add", "path": format!("{ENT}:department"), "value": "Support"},
        {"op": "Add", "path": format!("{ENT}:manager"), "value": "271"},
        {"op": "Add", "path": "emails[type eq \"work\"].primary", "value": "true"},
        {"op": "Replace", "path": "active", "value": "False"}
    ]);
    let r = app.patch(&format!("/Users/{id}"), patch_body(ops)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["displayName"], "New Name");
    assert_eq!(b["emails"][0]["value"], "entra2@example.com");
    assert_eq!(b["emails"][0]["primary"], true);
    assert_eq!(b["name"]["givenName"], "Gina");
    assert_eq!(b["externalId"], "ext-1");
    assert_eq!(b[ENT]["employeeNumber"], "E-9");
    assert_eq!(b[ENT]["department"], "Support");
    assert_eq!(b[ENT]["manager"]["value"], "271");
    assert_eq!(b["active"], false);
    // The index columns follow: the new e-mail and externalId are found in SQL.
    let found = app
        .get(&format!("/Users?filter={}", q("emails.value eq \"ENTRA2@example.com\" and externalId eq \"ext-1\"")))
        .await;
    assert_eq!(found.body["totalResults"], 1);
    let stale = app.get(&format!("/Users?filter={}", q("emails.value eq \"entra@example.com\""))).await;
    assert_eq!(stale.body["totalResults"], 0, "the replaced e-mail no longer matches");
    let renamed = app.get(&format!("/Users?filter={}", q("displayName eq \"new name\""))).await;
    assert_eq!(renamed.body["totalResults"], 1);
}

#[tokio::test]
async fn pathless_replace_with_dotted_keys_and_okta_activate() {
    let app = TestApp::spawn().await;
    let id = app.create_user("dotted@example.com").await;
    let r = app
        .patch(
            &format!("/Users/{id}"),
            patch_body(json!([{"op": "replace", "value": {
                "displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua", format!("{ENT}:employeeNumber"): "Aklq"
            }}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["displayName"], "Bjfe");
    assert_eq!(r.body["name"]["givenName"], "Kkom");
    assert_eq!(r.body[ENT]["employeeNumber"], "Aklq");
    let r =
        app.patch(&format!("/Users/{id}"), patch_body(json!([{"op": "replace", "value": {"active": false}}]))).await;
    assert_eq!(r.body["active"], false);
}

#[tokio::test]
async fn a_failing_operation_applies_nothing() {
    let app = TestApp::spawn().await;
    let id = app.create_user("atomic@example.com").await;
    let before = app.get(&format!("/Users/{id}")).await;
    let r = app
        .patch(
            &format!("/Users/{id}"),
            patch_body(json!([
                {"op": "replace", "path": "displayName", "value": "Should Not Stick"},
                {"op": "replace", "path": "id", "value": "mine"}
            ])),
        )
        .await;
    r.assert_error(400, Some("mutability"));
    let after = app.get(&format!("/Users/{id}")).await;
    assert_eq!(before.body, after.body);
    assert_eq!(before.header("etag"), after.header("etag"));
}

#[tokio::test]
async fn patch_honours_if_match() {
    let app = TestApp::spawn().await;
    let id = app.create_user("ifmatch@example.com").await;
    let ops = patch_body(json!([{"op": "replace", "path": "title", "value": "Boss"}]));
    let r = app.req(Method::PATCH, &format!("/Users/{id}"), Some(ops.clone()), &[("if-match", "W/\"7\"")]).await;
    r.assert_error(412, None);
    let r = app.req(Method::PATCH, &format!("/Users/{id}"), Some(ops), &[("if-match", "W/\"1\"")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), Some("W/\"2\""));
}
