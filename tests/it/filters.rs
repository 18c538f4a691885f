use serde_json::json;

use crate::helpers::{TestApp, q, user_body};

async fn count(app: &TestApp, filter: &str) -> u64 {
    let r = app.get(&format!("/Users?filter={}", q(filter))).await;
    assert_eq!(r.status, 200, "{filter}: {}", r.body);
    r.body["totalResults"].as_u64().unwrap()
}

#[tokio::test]
async fn filters_over_http_including_idp_forms() {
    let app = TestApp::spawn().await;
    for (i, name) in ["ann@example.com", "ben@example.org", "cat@example.com"].iter().enumerate() {
        let mut b = user_body(name);
        b["externalId"] = json!(format!("ext-{i}"));
        b["title"] = json!(if i == 0 { "Engineer" } else { "Manager" });
        b["emails"] =
            json!([{"value": name, "type": "work"}, {"value": format!("home{i}@example.net"), "type": "home"}]);
        app.post("/Users", b).await;
    }
    assert_eq!(count(&app, "userName eq \"ANN@example.com\"").await, 1);
    assert_eq!(count(&app, "userName Eq \"ann@example.com\"").await, 1);
    assert_eq!(count(&app, "externalId eq \"EXT-0\"").await, 0, "externalId is caseExact");
    assert_eq!(count(&app, "externalId eq \"ext-0\"").await, 1);
    assert_eq!(count(&app, "userName sw \"b\" or userName ew \".com\"").await, 3);
    assert_eq!(count(&app, "emails[type eq \"work\"].value eq \"ben@example.org\"").await, 1, "Entra's form");
    assert_eq!(count(&app, "emails[type eq \"home\"].value eq \"ben@example.org\"").await, 0);
    assert_eq!(count(&app, "emails[type eq \"work\" and value co \"example.com\"]").await, 2);
    assert_eq!(count(&app, "title eq \"manager\" and not (userName sw \"cat\")").await, 1);
    assert_eq!(count(&app, "meta.lastModified gt \"2000-01-01T00:00:00Z\"").await, 3);
    assert_eq!(count(&app, "meta.lastModified lt \"2000-01-01T00:00:00Z\"").await, 0);
    assert_eq!(count(&app, "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"cat@example.com\"").await, 1);
    assert_eq!(count(&app, "active eq true").await, 3);
    assert_eq!(count(&app, "externalId eq \"e2a8b1c4-0000-4000-8000-000000000000\"").await, 0, "Entra test connection");
    // Entra's validator encodes spaces as '+' and leaves quotes raw.
    let r = app.get("/Users?filter=userName+eq+\"ann%40example.com\"").await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
}

#[tokio::test]
async fn bad_filters_are_invalid_filter_errors() {
    let app = TestApp::spawn().await;
    for f in [
        "userName eq",
        "userName zz \"a\"",
        "(userName eq \"a\"",
        "active gt true",
        "meta.lastModified gt \"yesterday\"",
    ] {
        let r = app.get(&format!("/Users?filter={}", q(f))).await;
        r.assert_error(400, Some("invalidFilter"));
    }
}
