use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn service_provider_config_resource_types_and_schemas() {
    let app = TestApp::spawn().await;
    let spc = app.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200);
    assert!(spc.header("content-type").unwrap().starts_with("application/scim+json"));
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["etag"]["supported"], true);
    assert_eq!(spc.body["sort"]["supported"], true);
    assert_eq!(spc.body["filter"]["supported"], true);
    // RFC 9865 §4: both paging methods, index the default, no cursor timeout (cursors are
    // keyset positions and never expire).
    assert_eq!(
        spc.body["pagination"],
        json!({"cursor": true, "index": true, "defaultPaginationMethod": "index",
               "defaultPageSize": 100, "maxPageSize": 1000})
    );
    assert_eq!(spc.body["filter"]["maxResults"], spc.body["pagination"]["maxPageSize"]);

    let rts = app.get("/ResourceTypes").await;
    assert_eq!(rts.body["totalResults"], 2);
    let user = app.get("/ResourceTypes/User").await;
    assert_eq!(user.body["endpoint"], "/Users");
    assert_eq!(
        user.body["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    app.get("/ResourceTypes/Nope").await.assert_error(404, None);

    let schemas = app.get("/Schemas").await;
    assert_eq!(schemas.body["totalResults"], 3);
    let user = app.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").await;
    assert_eq!(user.status, 200);
    let phones = user.body["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "phoneNumbers").unwrap();
    let types = phones["subAttributes"].as_array().unwrap().iter().find(|a| a["name"] == "type").unwrap();
    assert!(types["canonicalValues"].as_array().unwrap().contains(&json!("eightbyeight")));
    assert!(
        user.body["meta"]["location"]
            .as_str()
            .unwrap()
            .ends_with("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
    );
}

#[tokio::test]
async fn discovery_endpoints_refuse_writes_with_405() {
    let app = TestApp::spawn().await;
    for path in
        ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"]
    {
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let r = app.req(m.clone(), path, Some(json!({})), &[]).await;
            r.assert_error(405, None);
        }
    }
}

#[tokio::test]
async fn unknown_routes_are_scim_404s() {
    let app = TestApp::spawn().await;
    app.get("/Nope").await.assert_error(404, None);
    let r = app.req(Method::GET, &format!("http://{}/nowhere", app.addr), None, &[]).await;
    r.assert_error(404, None);
}
