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

/// No read is served stale after a write (issue 14): each write goes through one HTTP
/// connection and is read at once through eight others, in parallel (so through different
/// reader connections of the store), by id, by `userName eq` and in a page; each read sees the
/// write and its new ETag. (Across replicas: tests/it/replicas.rs.)
#[tokio::test]
async fn a_write_through_one_connection_is_read_at_once_through_others() {
    let app = TestApp::spawn().await;
    let client = || reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
    let (writer, readers) = (client(), (0..8).map(|_| client()).collect::<Vec<_>>());
    let name = "fresh@example.com";
    let mut body = user_body(name);
    body["phoneNumbers"] = json!([{"type": "eightbyeight", "value": "+1 415 555 9999"}]);
    let created = app.post("/Users", body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let get = |c: &reqwest::Client, path: String| {
        let rb = c.get(format!("{}{path}", app.base)).bearer_auth(crate::helpers::TOKEN);
        async move {
            let r = rb.send().await.unwrap();
            let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
            (etag, r.json::<Value>().await.unwrap())
        }
    };
    let filter = format!("/Users?filter={}", q(&format!("userName eq \"{name}\"")));
    for i in 0..40 {
        let number = format!("+1 415 555 {i:04}");
        let body = crate::helpers::patch_body(json!([
            {"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": number}
        ]));
        let r = writer
            .patch(format!("{}/Users/{id}", app.base))
            .bearer_auth(crate::helpers::TOKEN)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let written = r.headers().get("etag").unwrap().to_str().unwrap().to_string();
        let eight = |doc: &Value| {
            doc["phoneNumbers"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["type"] == "eightbyeight")
                .map(|p| p["value"].clone())
        };
        let reads = readers.iter().enumerate().map(|(k, c)| {
            let path = match k % 3 {
                0 => format!("/Users/{id}"),
                1 => filter.clone(),
                _ => "/Users?startIndex=1&count=10".to_string(),
            };
            get(c, path)
        });
        for (k, (etag, body)) in futures_util::future::join_all(reads).await.into_iter().enumerate() {
            let doc = match k % 3 {
                0 => {
                    assert_eq!(etag.as_deref(), Some(written.as_str()), "{i}/{k}: the new ETag at once");
                    body
                }
                _ => body["Resources"].as_array().unwrap().iter().find(|r| r["id"] == id.as_str()).unwrap().clone(),
            };
            assert_eq!(eight(&doc), Some(json!(number)), "{i}/{k}: read before the write was visible: {doc}");
            assert_eq!(doc["meta"]["version"], written, "{i}/{k}");
        }
    }
}
