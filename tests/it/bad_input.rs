use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, patch_body, user_body};

#[tokio::test]
async fn malformed_json_wrong_content_type_and_oversized_bodies() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 4096).await;
    let r = app
        .client
        .post(format!("{}/Users", app.base))
        .bearer_auth(crate::helpers::TOKEN)
        .header("content-type", "application/scim+json")
        .body("{\"userName\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["scimType"], "invalidSyntax");

    let r = app
        .client
        .post(format!("{}/Users", app.base))
        .bearer_auth(crate::helpers::TOKEN)
        .header("content-type", "text/plain")
        .body(user_body("ct@example.com").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    let mut big = user_body("big@example.com");
    big["title"] = json!("x".repeat(5000));
    let r = app.post("/Users", big).await;
    r.assert_error(413, None);
    assert_eq!(app.get("/Users?count=0").await.body["totalResults"], 0);
}

#[tokio::test]
async fn bad_values_paths_and_read_only_writes() {
    let app = TestApp::spawn().await;
    let id = app.create_user("bad@example.com").await;
    app.post("/Users", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}))
        .await
        .assert_error(400, Some("invalidValue"));
    let mut wrong = user_body("wrong@example.com");
    wrong["active"] = json!("maybe");
    app.post("/Users", wrong).await.assert_error(400, Some("invalidValue"));
    let mut wrong = user_body("wrong2@example.com");
    wrong["emails"] = json!("not-a-list-of-objects");
    let r = app.post("/Users", wrong).await;
    assert_eq!(r.status, 400, "{}", r.body);
    app.post("/Users", json!([1, 2])).await.assert_error(400, Some("invalidSyntax"));

    let path = format!("/Users/{id}");
    let p = |ops| app.patch(&path, patch_body(ops));
    p(json!([{"op": "replace", "path": "nosuchattribute", "value": "x"}])).await.assert_error(400, Some("invalidPath"));
    p(json!([{"op": "replace", "path": "name.nosuch", "value": "x"}])).await.assert_error(400, Some("invalidPath"));
    p(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])).await.assert_error(400, Some("invalidPath"));
    p(json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]))
        .await
        .assert_error(400, Some("mutability"));
    p(json!([{"op": "explode", "path": "title", "value": "x"}])).await.assert_error(400, Some("invalidSyntax"));
    p(json!([{"op": "replace", "path": "active", "value": "maybe"}])).await.assert_error(400, Some("invalidValue"));
    let r = app.req(Method::PATCH, &format!("/Users/{id}"), Some(json!({"Operations": "nope"})), &[]).await;
    assert_eq!(r.status, 400);
    let after = app.get(&format!("/Users/{id}")).await;
    assert_eq!(after.header("etag"), Some("W/\"1\""), "no failed request changed anything");
}

/// A single-valued attribute sent as an array is refused, naming it, and nothing is stored; only
/// Entra's one-element `manager` array is unwrapped (docs/scim-behaviour.md).
#[tokio::test]
async fn single_valued_attributes_sent_as_arrays_are_refused() {
    let app = TestApp::spawn().await;
    for (attr, value) in
        [("userName", json!(["a@example.com"])), ("active", json!([])), ("displayName", json!(["A", "B"]))]
    {
        let mut body = user_body("a@example.com");
        body[attr] = value;
        let r = app.post("/Users", body).await;
        r.assert_error(400, Some("invalidValue"));
        assert!(r.body["detail"].as_str().unwrap().contains(attr), "{}", r.body);
    }
    assert_eq!(app.get("/Users?count=0").await.body["totalResults"], 0);
    let boss = app.create_user("boss@example.com").await;
    let mut body = user_body("a@example.com");
    body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = json!({"manager": [{"value": boss}]});
    let r = app.post("/Users", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"], json!(boss));
}
