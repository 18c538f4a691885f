use serde_json::json;

use crate::helpers::{TestApp, q};

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

/// The userNames of a list page.
fn user_names(body: &serde_json::Value) -> Vec<String> {
    body["Resources"].as_array().unwrap().iter().map(|r| r["userName"].as_str().unwrap().to_string()).collect()
}

/// RFC 9865 over HTTP: an empty `cursor` starts cursor paging, each `nextCursor` leads on, the
/// last page has none; GET and POST `.search` walk the same pages; rows created between pages
/// do not repeat earlier ones.
#[tokio::test]
async fn cursor_paging_walks_a_collection_by_get_and_search() {
    let app = TestApp::spawn().await;
    for i in 0..11 {
        app.create_user(&format!("c{:02}@example.com", (i * 7) % 11)).await;
    }
    app.create_group("NotAUser", &[]).await;
    let filter = q(r#"userName sw "c""#);
    let mut names = Vec::new();
    let mut url = format!("/Users?filter={filter}&sortBy=userName&sortOrder=descending&count=4&cursor");
    let mut pages = 0;
    loop {
        let page = app.get(&url).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.body["totalResults"], 11 + pages, "{}", page.body);
        assert!(page.body.get("startIndex").is_none(), "no startIndex in cursor mode: {}", page.body);
        assert!(page.body.get("previousCursor").is_none());
        names.extend(user_names(&page.body));
        pages += 1;
        let Some(next) = page.body["nextCursor"].as_str() else { break };
        assert_eq!(page.body["itemsPerPage"], 4);
        assert!(next.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{next}");
        url = format!("/Users?filter={filter}&sortBy=userName&sortOrder=descending&count=4&cursor={next}");
        // A user that sorts before the cursor: not on a later page, and nothing repeats.
        app.create_user(&format!("c99-{pages}@example.com")).await;
    }
    assert_eq!(pages, 3);
    let want: Vec<String> = (0..11).rev().map(|i| format!("c{i:02}@example.com")).collect();
    assert_eq!(names, want);

    // POST /Users/.search with the cursor in the body, and the root /.search across types.
    let search = |cursor: &str| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName sw \"c0\"",
               "sortBy": "userName", "count": 6, "cursor": cursor, "attributes": ["userName"]})
    };
    let first = app.post("/Users/.search", search("")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(user_names(&first.body).len(), 6);
    let next = first.body["nextCursor"].as_str().unwrap().to_string();
    let second = app.post("/Users/.search", search(&next)).await;
    assert_eq!(user_names(&second.body), ["c06@example.com", "c07@example.com", "c08@example.com", "c09@example.com"]);
    assert!(second.body.get("nextCursor").is_none(), "the last page has no nextCursor: {}", second.body);

    let root = |cursor: &str| json!({"cursor": cursor, "count": 10});
    let (mut ids, mut cursor, mut totals) = (Vec::new(), String::new(), Vec::new());
    loop {
        let page = app.post("/.search", root(&cursor)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        totals.push(page.body["totalResults"].as_u64().unwrap());
        ids.extend(page.body["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match page.body["nextCursor"].as_str() {
            Some(n) => cursor = n.to_string(),
            None => break,
        }
    }
    // 11 users, 2 created while paging, 1 group.
    assert_eq!(ids.len(), 14, "users then the group, each once");
    assert!(totals.iter().all(|t| *t == 14), "{totals:?}");
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());

    // count=0 asks for totalResults only: no page, so no nextCursor.
    let zero = app.get("/Users?cursor=&count=0").await;
    assert_eq!((zero.body["totalResults"].as_u64(), zero.body["itemsPerPage"].as_u64()), (Some(13), Some(0)));
    assert!(zero.body.get("nextCursor").is_none());
    // Without a cursor parameter the default stays index paging.
    let index = app.get("/Users?count=2").await;
    assert_eq!(index.body["startIndex"], 1);
    assert!(index.body.get("nextCursor").is_none());
}

/// RFC 9865 §2.1 errors: 400 with `invalidCursor` or `invalidCount`; mixing methods is 400
/// `invalidValue`.
#[tokio::test]
async fn cursor_errors_are_rfc_9865_400s() {
    let app = TestApp::spawn().await;
    for i in 0..3 {
        app.create_user(&format!("e{i}@example.com")).await;
    }
    let first = app.get("/Users?sortBy=userName&count=1&cursor=").await;
    let next = first.body["nextCursor"].as_str().unwrap().to_string();
    let mut tampered = next.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let cases = [
        (format!("/Users?sortBy=userName&count=1&cursor={tampered}"), "invalidCursor"),
        ("/Users?count=1&cursor=bm90LWEtY3Vyc29y".to_string(), "invalidCursor"),
        ("/Users?count=1&cursor=%7Bjson%7D".to_string(), "invalidCursor"),
        (format!("/Users?sortBy=displayName&count=1&cursor={next}"), "invalidCursor"),
        (format!("/Groups?sortBy=userName&count=1&cursor={next}"), "invalidCursor"),
        (format!("/Users?sortBy=userName&count=2&cursor={next}"), "invalidCount"),
        ("/Users?count=1001&cursor=".to_string(), "invalidCount"),
        ("/Users?startIndex=1&cursor=".to_string(), "invalidValue"),
        (format!("/Users?startIndex=2&sortBy=userName&count=1&cursor={next}"), "invalidValue"),
    ];
    for (url, scim_type) in cases {
        app.get(&url).await.assert_error(400, Some(scim_type));
    }
    let body = json!({"cursor": next, "startIndex": 1, "sortBy": "userName", "count": 1});
    app.post("/Users/.search", body).await.assert_error(400, Some("invalidValue"));
    let body = json!({"cursor": next, "sortBy": "userName", "count": 1});
    app.post("/.search", body).await.assert_error(400, Some("invalidCursor"));
    // The untouched cursor still works after all that.
    let again = app.get(&format!("/Users?sortBy=userName&count=1&cursor={next}")).await;
    assert_eq!(user_names(&again.body), ["e1@example.com"]);
}
