use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn paging_sorting_counting_and_attribute_selection() {
    let app = TestApp::spawn().await;
    for i in 0..25 {
        app.create_user(&format!("user{:02}@example.com", 24 - i)).await;
    }
    let page = app.get("/Users?startIndex=1&count=10").await;
    assert_eq!(page.body["totalResults"], 25);
    assert_eq!(page.body["itemsPerPage"], 10);
    assert_eq!(page.body["startIndex"], 1);
    assert_eq!(page.body["Resources"].as_array().unwrap().len(), 10);
    let last = app.get("/Users?startIndex=21&count=10").await;
    assert_eq!(last.body["Resources"].as_array().unwrap().len(), 5);
    assert_eq!(last.body["totalResults"], 25);
    let beyond = app.get("/Users?startIndex=100&count=10").await;
    assert_eq!(beyond.body["Resources"], json!([]));
    let zero = app.get("/Users?count=0").await;
    assert_eq!(zero.body["totalResults"], 25);
    assert_eq!(zero.body["itemsPerPage"], 0);

    // Pages are stable and disjoint.
    let mut seen = std::collections::HashSet::new();
    for start in [1, 11, 21] {
        let p = app.get(&format!("/Users?startIndex={start}&count=10")).await;
        for r in p.body["Resources"].as_array().unwrap() {
            assert!(seen.insert(r["id"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(seen.len(), 25);

    let sorted = app.get("/Users?sortBy=userName&count=3").await;
    let names: Vec<&str> =
        sorted.body["Resources"].as_array().unwrap().iter().map(|r| r["userName"].as_str().unwrap()).collect();
    assert_eq!(names, ["user00@example.com", "user01@example.com", "user02@example.com"]);
    let desc = app.get("/Users?sortBy=userName&sortOrder=descending&count=1").await;
    assert_eq!(desc.body["Resources"][0]["userName"], "user24@example.com");
    let by_title = app.get("/Users?sortBy=name.givenName&count=2").await;
    assert_eq!(by_title.status, 200, "sorting by an attribute without a column works in memory");

    let only = app.get("/Users?attributes=userName&count=1").await;
    let r = &only.body["Resources"][0];
    assert!(r.get("userName").is_some() && r.get("id").is_some());
    assert!(r.get("emails").is_none() && r.get("name").is_none());
    let without = app.get("/Users?excludedAttributes=emails,phoneNumbers&count=1").await;
    let r = &without.body["Resources"][0];
    assert!(r.get("emails").is_none() && r.get("phoneNumbers").is_none() && r.get("userName").is_some());
}

#[tokio::test]
async fn search_endpoints() {
    let app = TestApp::spawn().await;
    app.create_user("s1@example.com").await;
    app.create_user("s2@example.com").await;
    app.create_group("SearchGroup", &[]).await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName sw \"s\"", "startIndex": 1, "count": 10, "attributes": ["userName"]
    });
    let r = app.post("/Users/.search", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 2);
    assert!(r.body["Resources"][0].get("emails").is_none());
    let all = app
        .post("/.search", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 10}))
        .await;
    assert_eq!(all.body["totalResults"], 3);
}
