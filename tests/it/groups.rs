use serde_json::json;

use crate::helpers::{TestApp, patch_body, q};

#[tokio::test]
async fn group_members_add_remove_and_derived_user_groups() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let carol = app.create_user("carol@example.com").await;
    let gid = app.create_group("Sales", &[&alice]).await;

    // Okta: remove by filter and add in one request.
    let r = app
        .patch(
            &format!("/Groups/{gid}"),
            patch_body(json!([
                {"op": "remove", "path": format!("members[value eq \"{alice}\"]")},
                {"op": "add", "path": "members", "value": [{"value": bob, "display": "bob@example.com"}, {"value": carol}]}
            ])),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "{}", r.body);
    let g = app.get(&format!("/Groups/{gid}")).await;
    let mut ids: Vec<&str> =
        g.body["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    ids.sort();
    let mut want = vec![bob.as_str(), carol.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert!(g.body["members"][0]["$ref"].as_str().unwrap().contains("/Users/"));
    assert_eq!(g.body["members"][0]["type"], "User");
    let bob_member = g.body["members"].as_array().unwrap().iter().find(|m| m["value"] == bob.as_str()).unwrap();
    assert_eq!(bob_member["display"], "bob@example.com", "display is kept as sent in PATCH");

    // Entra: Remove with a value list removes exactly those.
    let r = app
        .patch(
            &format!("/Groups/{gid}"),
            patch_body(json!([{"op": "Remove", "path": "members", "value": [{"value": bob}]}])),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let g = app.get(&format!("/Groups/{gid}?excludedAttributes=members")).await;
    assert!(g.body.get("members").is_none());
    assert_eq!(g.body["displayName"], "Sales");
    let g = app.get(&format!("/Groups/{gid}")).await;
    assert_eq!(g.body["members"].as_array().unwrap().len(), 1);

    // A user's groups are derived and read-only.
    let u = app.get(&format!("/Users/{carol}")).await;
    assert_eq!(u.body["groups"][0]["value"], gid.as_str());
    assert_eq!(u.body["groups"][0]["display"], "Sales");
    let r = app
        .patch(
            &format!("/Users/{carol}"),
            patch_body(json!([{"op": "add", "path": "groups", "value": [{"value": gid}]}])),
        )
        .await;
    r.assert_error(400, Some("mutability"));

    // Deleting a user removes it from its groups.
    let before = app.get(&format!("/Groups/{gid}")).await;
    assert_eq!(app.delete(&format!("/Users/{carol}")).await.status, 204);
    let g = app.get(&format!("/Groups/{gid}")).await;
    assert!(g.body.get("members").is_none_or(|m| m.as_array().unwrap().is_empty()), "{}", g.body);
    assert_ne!(before.header("etag"), g.header("etag"), "the group's version changes");

    // Members filter in SQL.
    app.patch(
        &format!("/Groups/{gid}"),
        patch_body(json!([{"op": "add", "path": "members", "value": [{"value": alice}]}])),
    )
    .await;
    let found = app
        .get(&format!("/Groups?filter={}&excludedAttributes=members", q(&format!("members.value eq \"{alice}\""))))
        .await;
    assert_eq!(found.body["totalResults"], 1);
    let found = app.get(&format!("/Groups?filter={}", q("displayName eq \"sales\""))).await;
    assert_eq!(found.body["totalResults"], 1);
}

#[tokio::test]
async fn members_keep_display_as_sent_and_must_name_stored_resources() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice@example.com").await;
    let other = app.create_group("Other", &[]).await;
    let schema = "urn:ietf:params:scim:schemas:core:2.0:Group";
    let r = app
        .post(
            "/Groups",
            json!({"schemas": [schema], "displayName": "G",
                   "members": [{"value": alice, "display": "alice@example.com", "type": "Group"}, {"value": other}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let gid = r.body["id"].as_str().unwrap().to_string();
    let members = r.body["members"].as_array().unwrap();
    let a = members.iter().find(|m| m["value"] == alice.as_str()).unwrap();
    assert_eq!(a["display"], "alice@example.com");
    assert_eq!(a["type"], "User", "the stored kind wins over the type sent");
    let o = members.iter().find(|m| m["value"] == other.as_str()).unwrap();
    assert_eq!(o["type"], "Group");
    let before = app.get(&format!("/Groups/{gid}")).await.body;

    // A member naming no stored resource is refused, by create, PATCH and PUT alike, naming it;
    // nothing of the request is written.
    let r = app
        .post(
            "/Groups",
            json!({"schemas": [schema], "displayName": "H",
                   "members": [{"value": alice}, {"value": "not-a-user-id"}]}),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
    assert!(r.body["detail"].as_str().unwrap().contains("\"not-a-user-id\""), "{}", r.body);
    for body in [
        patch_body(json!([{"op": "add", "path": "members", "value": [{"value": "not-a-user-id"}]}])),
        patch_body(json!([{"op": "Add", "value": {"members": [{"value": "not-a-user-id"}]}}])),
        patch_body(json!([{"op": "replace", "path": "members", "value": [{"value": alice}, {"value": "nobody"}]}])),
    ] {
        app.patch(&format!("/Groups/{gid}"), body).await.assert_error(400, Some("invalidValue"));
    }
    let r = app
        .put(
            &format!("/Groups/{gid}"),
            json!({"schemas": [schema], "displayName": "G", "members": [{"value": "nobody"}]}),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
    assert_eq!(app.get(&format!("/Groups/{gid}")).await.body, before, "the refused writes changed nothing");
    assert_eq!(app.get("/Groups?count=0").await.body["totalResults"], 2, "the failed create left nothing behind");
    // Removing a member that is not there is not an error.
    let r = app
        .patch(&format!("/Groups/{gid}"), patch_body(json!([{"op": "remove", "path": "members[value eq \"nobody\"]"}])))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A member without a value is still the caller's mistake.
    let r = app.post("/Groups", json!({"schemas": [schema], "displayName": "H", "members": [{"display": "x"}]})).await;
    r.assert_error(400, Some("invalidValue"));

    // A deleted user and a deleted group disappear from every group, which gets a new version.
    let second = app.create_group("Second", &[alice.as_str()]).await;
    assert_eq!(app.delete(&format!("/Users/{alice}")).await.status, 204);
    assert_eq!(app.delete(&format!("/Groups/{other}")).await.status, 204);
    let g = app.get(&format!("/Groups/{gid}")).await.body;
    assert!(g.get("members").is_none_or(|m| m.as_array().unwrap().is_empty()), "{g}");
    assert_ne!(g["meta"]["version"], before["meta"]["version"]);
    let s = app.get(&format!("/Groups/{second}")).await.body;
    assert!(s.get("members").is_none_or(|m| m.as_array().unwrap().is_empty()), "{s}");
    let found = app.get(&format!("/Groups?filter=members.value%20eq%20%22{alice}%22")).await;
    assert_eq!(found.body["totalResults"], 0, "{}", found.body);
}

#[tokio::test]
async fn a_large_group_takes_one_more_member_without_listing_the_rest() {
    let app = TestApp::spawn().await;
    let gid = app.create_group("Big", &[]).await;
    let store = scim_bridge::store::Store::open(&app.db_path()).unwrap();
    let rt = scim_bridge::scim::schema::ResourceKind::User.resource_type();
    let mut ids = Vec::new();
    for i in 0..2000 {
        let p =
            scim_bridge::scim::resource::prepare_create(rt, crate::helpers::user_body(&format!("m{i}@example.com")))
                .unwrap();
        ids.push(store.create(rt, p, &crate::helpers::audit_context()).unwrap().id);
    }
    let members: Vec<_> = ids.iter().map(|id| json!({"value": id})).collect();
    let r = app
        .patch(
            &format!("/Groups/{gid}?excludedAttributes=members"),
            patch_body(json!([{"op": "add", "path": "members", "value": members}])),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let extra = app.create_user("extra@example.com").await;
    let r = app
        .patch(
            &format!("/Groups/{gid}?excludedAttributes=members"),
            patch_body(json!([{"op": "add", "path": "members", "value": [{"value": extra}]}])),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert!(r.body.get("members").is_none());
    let g = app.get(&format!("/Groups/{gid}")).await;
    assert_eq!(g.body["members"].as_array().unwrap().len(), 2001);
}
