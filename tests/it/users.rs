use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, q, user_body};

#[tokio::test]
async fn user_lifecycle_with_versions() {
    let app = TestApp::spawn().await;
    let created = app.post("/Users", user_body("bjensen@example.com")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let location = created.header("location").unwrap().to_string();
    assert_eq!(location, format!("{}/Users/{id}", app.base));
    assert_eq!(created.body["meta"]["location"], location.as_str());
    assert_eq!(created.body["meta"]["resourceType"], "User");
    let etag = created.header("etag").unwrap().to_string();
    assert_eq!(created.body["meta"]["version"], etag.as_str());
    assert!(created.body.get("password").is_none());

    let got = app.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["userName"], "bjensen@example.com");
    assert_eq!(got.header("etag"), Some(etag.as_str()));

    // If-None-Match with the current version: 304.
    let nm = app.req(Method::GET, &format!("/Users/{id}"), None, &[("if-none-match", &etag)]).await;
    assert_eq!(nm.status, 304);

    // PUT with a stale If-Match: 412, nothing changes.
    let mut body = user_body("bjensen@example.com");
    body["displayName"] = json!("Babs");
    let stale = app.req(Method::PUT, &format!("/Users/{id}"), Some(body.clone()), &[("if-match", "W/\"99\"")]).await;
    stale.assert_error(412, None);
    let put = app.req(Method::PUT, &format!("/Users/{id}"), Some(body), &[("if-match", &etag)]).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["displayName"], "Babs");
    let etag2 = put.header("etag").unwrap().to_string();
    assert_ne!(etag, etag2);
    assert!(
        put.body["meta"]["lastModified"].as_str().unwrap() >= created.body["meta"]["lastModified"].as_str().unwrap()
    );

    // The old version no longer matches for DELETE.
    app.req(Method::DELETE, &format!("/Users/{id}"), None, &[("if-match", &etag)]).await.assert_error(412, None);
    let del = app.req(Method::DELETE, &format!("/Users/{id}"), None, &[("if-match", &etag2)]).await;
    assert_eq!(del.status, 204);
    app.get(&format!("/Users/{id}")).await.assert_error(404, None);
    app.delete(&format!("/Users/{id}")).await.assert_error(404, None);
}

#[tokio::test]
async fn user_name_is_unique_case_insensitively() {
    let app = TestApp::spawn().await;
    app.create_user("Alice@Example.com").await;
    app.post("/Users", user_body("alice@example.COM")).await.assert_error(409, Some("uniqueness"));
    // A rename onto a taken name is refused too.
    let other = app.create_user("bob@example.com").await;
    let r = app
        .patch(
            &format!("/Users/{other}"),
            crate::helpers::patch_body(json!([{"op": "replace", "path": "userName", "value": "ALICE@example.com"}])),
        )
        .await;
    r.assert_error(409, Some("uniqueness"));
}

#[tokio::test]
async fn entra_create_body_is_accepted_and_stored_canonically() {
    let app = TestApp::spawn().await;
    // Microsoft's tutorial example 2 shape: both schemas, meta.resourceType, roles [], nulls, capitalised keys.
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "UserName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": "True",
        "displayName": "Test User",
        "emails": [{"Primary": "true", "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "phoneNumbers": [{"type": "eightbyeight", "value": "+1 415 555 0100"}],
        "roles": [],
        "title": null,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales", "manager": "271"}
    });
    let r = app.post("/Users", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["userName"], "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["emails"][0]["primary"], true);
    assert!(r.body.get("title").is_none());
    assert_eq!(r.body["phoneNumbers"][0]["type"], "eightbyeight");
    assert_eq!(r.body["phoneNumbers"][0]["value"], "+1 415 555 0100", "values are stored as sent");
    let ent = &r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(ent["department"], "Sales");
    assert_eq!(ent["manager"]["value"], "271");
}

#[tokio::test]
async fn unknown_attributes_and_extensions_round_trip() {
    let app = TestApp::spawn().await;
    let mut body = user_body("roundtrip@example.com");
    body["schemas"].as_array_mut().unwrap().push(json!("urn:example:params:scim:schemas:extension:acme:2.0:User"));
    body["urn:example:params:scim:schemas:extension:acme:2.0:User"] = json!({"badge": "A-17", "floors": [3, 4]});
    body["nickName"] = json!("Rt");
    let r = app.post("/Users", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let got = app.get(&format!("/Users/{id}")).await;
    assert_eq!(
        got.body["urn:example:params:scim:schemas:extension:acme:2.0:User"],
        json!({"badge": "A-17", "floors": [3, 4]})
    );
    assert!(
        got.body["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!("urn:example:params:scim:schemas:extension:acme:2.0:User"))
    );
}

#[tokio::test]
async fn okta_put_with_id_meta_and_groups_is_accepted() {
    let app = TestApp::spawn().await;
    let id = app.create_user("okta.user@example.com").await;
    let mut current = app.get(&format!("/Users/{id}")).await.body;
    current["name"]["givenName"] = json!("Changed");
    current["groups"] = json!([]);
    current["password"] = json!("plaintext-from-okta");
    let r = app.put(&format!("/Users/{id}"), current).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"]["givenName"], "Changed");
    assert_eq!(r.body["id"], id.as_str());
    assert!(r.body.get("password").is_none(), "password is never returned");
}

#[tokio::test]
async fn deactivated_users_are_still_found_and_then_deleted() {
    let app = TestApp::spawn().await;
    let id = app.create_user("leaver@example.com").await;
    let r = app
        .patch(
            &format!("/Users/{id}"),
            crate::helpers::patch_body(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["active"], false);
    let found = app.get(&format!("/Users?filter={}", q("userName eq \"leaver@example.com\""))).await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["active"], false);
    assert_eq!(app.delete(&format!("/Users/{id}")).await.status, 204);
    let found = app.get(&format!("/Users?filter={}", q("userName eq \"leaver@example.com\""))).await;
    assert_eq!(found.body["totalResults"], 0);
    assert_eq!(found.body["Resources"], Value::Array(vec![]));
}
