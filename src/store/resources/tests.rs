//! The repository's tests: writes, members, filters in SQL and in memory, paging.

use serde_json::json;

use scim::filter;
use scim::list::{CursorPage, SortOrder};

use super::*;
use crate::store::query::{self, Bind, Cond};
use scim::schema::registry;

fn store_with_users() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::store::test_database(dir.path(), "t.db").unwrap()).unwrap();
    let rt = &registry().user;
    let titles = ["Engineer", "engineer", "Manager", ""];
    for i in 0..60 {
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("{}user{i:02}@Example.{}", if i % 3 == 0 { "A" } else { "b" }, if i % 2 == 0 { "com" } else { "org" }),
            "displayName": format!("User {i}"),
            "active": i % 4 != 0,
            "emails": [{"value": format!("u{i}@work.example.com"), "type": "work", "primary": true},
                       {"value": format!("U{i}@Home.example.net"), "type": "home"}],
            "phoneNumbers": [{"value": format!("+1415555{i:04}"), "type": if i % 5 == 0 { "eightbyeight" } else { "work" }}],
        });
        if i % 3 != 1 {
            body["externalId"] = json!(format!("Ext-{i}"));
        }
        if !titles[i % 4].is_empty() {
            body["title"] = json!(titles[i % 4]);
        }
        store.create(rt, resource::prepare_create(rt, body).unwrap(), &crate::store::test_audit()).unwrap();
    }
    (dir, store)
}

fn params(sort_by: Option<&str>, order: SortOrder) -> ListParams {
    ListParams {
        start_index: 1,
        count: None,
        sort_by: sort_by.map(str::to_string),
        sort_order: order,
        filter: None,
        cursor: None,
    }
}

/// Every filter gives the same answer through SQL (exact or superset) as by evaluating it
/// in memory over every stored resource.
#[test]
fn sql_and_in_memory_filtering_agree() {
    let (_dir, store) = store_with_users();
    let rt = &registry().user;
    let everything = store.list(rt, &params(None, SortOrder::Ascending), None).unwrap();
    assert_eq!(everything.total, 60);
    let filters = [
        r#"userName eq "auser00@example.com""#,
        r#"displayName eq "USER 7""#,
        r#"id eq "no-such-id""#,
        r#"externalId eq "Ext-0" or externalId eq "Ext-2" or externalId eq "Ext-3""#,
        r#"userName eq "AUSER00@EXAMPLE.COM""#,
        r#"userName ne "auser00@example.com""#,
        r#"userName sw "A""#,
        r#"userName ew ".ORG""#,
        r#"userName co "user1""#,
        r#"userName gt "buser30""#,
        r#"userName le "auser30@example.com""#,
        r#"userName sw """#,
        r#"externalId eq "Ext-3""#,
        r#"externalId eq "ext-3""#,
        r#"externalId pr"#,
        r#"not (externalId pr)"#,
        r#"externalId ne "Ext-3""#,
        r#"externalId co "t-1""#,
        r#"displayName eq "user 7""#,
        r#"displayName sw "User 1" and active eq true"#,
        r#"active eq false"#,
        r#"active ne true"#,
        r#"active pr"#,
        r#"emails.value eq "U3@WORK.example.com""#,
        r#"emails eq "u3@work.example.com""#,
        r#"emails co "home.example""#,
        r#"emails[type eq "work"].value eq "u4@work.example.com""#,
        r#"emails[type eq "home"].value eq "u4@work.example.com""#,
        r#"emails[type eq "work" and value ew "5@work.example.com"]"#,
        r#"emails[value sw "u1"]"#,
        r#"emails.value pr"#,
        r#"phoneNumbers.value eq "+14155550010""#,
        r#"phoneNumbers[type eq "eightbyeight"]"#,
        r#"phoneNumbers[type eq "eightbyeight" and value ew "5"]"#,
        r#"title eq "engineer""#,
        r#"title pr or externalId eq "Ext-0""#,
        r#"not (title eq "manager") and userName sw "a""#,
        r#"meta.lastModified gt "2000-01-01T00:00:00Z""#,
        r#"meta.lastModified lt "2000-01-01T00:00:00.5Z""#,
        r#"meta.created ge "2000-01-01T00:00:00+02:00""#,
        r#"meta.resourceType eq "User""#,
        r#"id pr and not (userName eq "buser01@example.org" or userName eq "buser02@example.com")"#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#,
        r#"name.givenName pr"#,
    ];
    let docs: Vec<(String, Map<String, Value>)> =
        everything.resources.iter().map(|r| (r.id.clone(), r.full_document())).collect();
    for text in filters {
        let f = filter::parse_filter(text).unwrap();
        let expected: Vec<&str> =
            docs.iter().filter(|(_, d)| filter::matches(rt, &f, d)).map(|(id, _)| id.as_str()).collect();
        let page = store.list(rt, &params(None, SortOrder::Ascending), Some(&f)).unwrap();
        let got: Vec<&str> = page.resources.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(got, expected, "filter {text}: SQL {:?}", query::lower(rt, &f));
        assert_eq!(page.total as usize, expected.len(), "{text}");
        // A later page: the same rows in the same order, and the whole count.
        let second = ListParams { start_index: 2, count: Some(2), ..params(None, SortOrder::Ascending) };
        let page = store.list(rt, &second, Some(&f)).unwrap();
        let got: Vec<&str> = page.resources.iter().map(|r| r.id.as_str()).collect();
        let want: Vec<&str> = expected.iter().skip(1).take(2).copied().collect();
        assert_eq!((got, page.total as usize), (want, expected.len()), "filter {text}, startIndex=2 count=2");
    }
}

#[test]
fn sorting_in_sql_and_in_memory_agree() {
    let (_dir, store) = store_with_users();
    let rt = &registry().user;
    for order in [SortOrder::Ascending, SortOrder::Descending] {
        for sort_by in ["userName", "externalId", "displayName", "meta.lastModified", "title", "emails.value"] {
            let page = store.list(rt, &params(Some(sort_by), order), None).unwrap();
            let mut expected: Vec<(Map<String, Value>, i64, String)> =
                page.resources.iter().map(|r| (r.full_document(), r.seq, r.id.clone())).collect();
            let def = match rt.resolve_text(sort_by) {
                Some(scim::schema::Target::Attribute(r)) => Some(r.leaf()),
                _ => None,
            };
            expected.sort_by(|(a, sa, _), (b, sb, _)| {
                let o =
                    filter::compare_for_sort(def, filter::sort_key(rt, sort_by, a), filter::sort_key(rt, sort_by, b));
                // Descending is the exact reverse of ascending, ties included.
                let o = o.then(sa.cmp(sb));
                if matches!(order, SortOrder::Descending) { o.reverse() } else { o }
            });
            let got: Vec<&str> = page.resources.iter().map(|r| r.id.as_str()).collect();
            let want: Vec<&str> = expected.iter().map(|(_, _, id)| id.as_str()).collect();
            assert_eq!(got, want, "sortBy={sort_by}");
        }
    }
}

#[test]
fn paging_by_counts_matches_offset_paging() {
    let (_dir, store) = store_with_users();
    let rt = &registry().user;
    let all: Vec<String> = store
        .list(rt, &params(None, SortOrder::Ascending), None)
        .unwrap()
        .resources
        .into_iter()
        .map(|r| r.id)
        .collect();
    // Delete a few to leave holes in the sequence.
    for id in [&all[0], &all[7], &all[31]] {
        store.delete(ResourceKind::User, id, None, &crate::store::test_audit()).unwrap();
    }
    let remaining: Vec<&String> = all.iter().filter(|id| ![&all[0], &all[7], &all[31]].contains(id)).collect();
    for start in [1u64, 2, 7, 30, 56, 57, 58, 100] {
        let p = ListParams { start_index: start, count: Some(5), ..params(None, SortOrder::Ascending) };
        let page = store.list(rt, &p, None).unwrap();
        assert_eq!(page.total, 57);
        let got: Vec<&String> = page.resources.iter().map(|r| &r.id).collect();
        let want: Vec<&String> = remaining.iter().skip(start as usize - 1).take(5).copied().collect();
        assert_eq!(got, want, "startIndex={start}");
    }
}

#[test]
fn page_count_keys_shard_a_bucket_and_keep_buckets_in_order() {
    let bucket = 1i64 << BUCKET_BITS;
    // Consecutive rows count in different shards of one bucket...
    let keys: Vec<i64> = (0..COUNT_SHARDS).map(|i| count_key(3 * bucket + i)).collect();
    assert_eq!(keys.iter().collect::<std::collections::BTreeSet<_>>().len(), COUNT_SHARDS as usize);
    // ...which all lead back to the bucket's first seq, and every key of a later bucket sorts after.
    for seq in [0, 1, 15, 16, bucket - 1, bucket, 3 * bucket + 7, 1_000_000] {
        assert_eq!(bucket_start(count_key(seq)), (seq >> BUCKET_BITS) << BUCKET_BITS, "seq {seq}");
        assert!(count_key(seq) < count_key(((seq >> BUCKET_BITS) + 1) << BUCKET_BITS), "seq {seq}");
    }
}

/// The filters the issue names run in SQL alone, and SQLite answers them from an index.
#[test]
fn indexed_filters_are_exact_and_use_indexes() {
    let (_dir, store) = store_with_users();
    let rt = &registry().user;
    let mut conn = store.reader().unwrap();
    for text in [
        r#"id eq "x""#,
        r#"userName eq "x""#,
        r#"externalId eq "x""#,
        r#"displayName eq "x""#,
        r#"emails.value eq "x""#,
        r#"emails[type eq "work"].value eq "x""#,
        r#"phoneNumbers.value eq "x""#,
        r#"active eq true"#,
        r#"meta.lastModified gt "2026-01-01T00:00:00Z""#,
    ] {
        let f = filter::parse_filter(text).unwrap();
        let lowered = query::lower(rt, &f);
        let cond = lowered.cond.clone().unwrap();
        if !text.contains('[') {
            assert!(lowered.exact, "{text} should be decided in SQL");
        }
        #[derive(QueryableByName)]
        struct Plan {
            #[diesel(sql_type = Text)]
            detail: String,
        }
        #[derive(QueryableByName)]
        struct PgPlan {
            #[diesel(sql_type = Text)]
            #[diesel(column_name = "QUERY PLAN")]
            line: String,
        }
        if conn.is_postgres() {
            // The planner prefers a scan of a small table: forbid scans, and see that an index
            // serves the condition all the same.
            diesel::sql_query("SET enable_seqscan = off").execute(&mut *conn).unwrap();
            let sql = format!("EXPLAIN SELECT r.seq FROM resources r WHERE r.kind = 'User' AND {}", cond.sql);
            let sql = conn.sql(&sql).into_owned();
            let plan: Vec<PgPlan> = bound(diesel::sql_query(sql).into_boxed(), cond.binds).load(&mut *conn).unwrap();
            let plan: Vec<String> = plan.into_iter().map(|p| p.line).collect();
            assert!(plan.iter().any(|l| l.contains("Index")), "{text}: {plan:?}");
            assert!(!plan.iter().any(|l| l.contains("Seq Scan")), "{text}: {plan:?}");
            continue;
        }
        let sql = format!("EXPLAIN QUERY PLAN SELECT r.seq FROM resources r WHERE r.kind = 'User' AND {}", cond.sql);
        let plan: Vec<Plan> = bound(diesel::sql_query(sql).into_boxed(), cond.binds).load(&mut *conn).unwrap();
        let plan: Vec<String> = plan.into_iter().map(|p| p.detail).collect();
        let outer = plan.first().cloned().unwrap_or_default();
        let uses_index = plan.iter().all(|d| !d.starts_with("SCAN") || d.contains("USING"));
        assert!(uses_index, "{text}: {plan:?}");
        assert!(
            outer.contains("INDEX") || outer.contains("PRIMARY KEY") || outer.contains("rowid"),
            "{text}: {plan:?}"
        );
        // A search on `kind` alone would visit every user.
        assert!(!plan.iter().any(|d| d.ends_with("(kind=?)")), "{text}: {plan:?}");
    }
}

/// Writes from many threads share commits; a job that fails (a duplicate userName) rolls
/// back alone, and every other job of its batch is committed.
#[test]
fn batched_writes_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(&crate::store::test_database(dir.path(), "t.db").unwrap()).unwrap());
    let rt = &registry().user;
    let handles: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                // Every fourth thread reuses a name another thread also creates.
                let name = if i % 4 == 0 { "dup@example.com".to_string() } else { format!("u{i}@example.com") };
                let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
                store.create(rt, resource::prepare_create(rt, body).unwrap(), &crate::store::test_audit()).map(|_| ())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results.iter().filter(|r| matches!(r, Err(StoreError::Conflict { .. }))).count();
    assert_eq!((ok, conflicts), (31, 9));
    let all = store.list(rt, &params(None, SortOrder::Ascending), None).unwrap();
    assert_eq!(all.total, 31);
}

/// Concurrent PATCHes of one user all apply: each is planned from a version and re-planned
/// when another write got there first.
#[test]
fn concurrent_patches_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(&crate::store::test_database(dir.path(), "t.db").unwrap()).unwrap());
    let rt = &registry().user;
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "many@example.com"});
    let id = store.create(rt, resource::prepare_create(rt, body).unwrap(), &crate::store::test_audit()).unwrap().id;
    let handles: Vec<_> = (0..24)
        .map(|i| {
            let (store, id) = (store.clone(), id.clone());
            std::thread::spawn(move || {
                let req = patch::parse_patch(
                    rt,
                    &json!({"Operations": [{"op": "add", "path": "emails",
                            "value": [{"value": format!("e{i}@example.com"), "type": "other"}]}]}),
                )
                .unwrap();
                store.patch(rt, &id, None, &req, &crate::store::test_audit()).unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let user = store.get(ResourceKind::User, &id).unwrap();
    assert_eq!(user.doc["emails"].as_array().unwrap().len(), 24);
    assert_eq!(user.version, 25);
}

/// Each failure is reported as what it is, never as an HTTP status (`http::error` maps).
#[test]
fn failures_are_store_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::store::test_database(dir.path(), "t.db").unwrap()).unwrap();
    let rt = &registry().user;
    let body = |name: &str| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
    let user = store
        .create(rt, resource::prepare_create(rt, body("Jane@example.com")).unwrap(), &crate::store::test_audit())
        .unwrap();

    let missing = store.get(ResourceKind::User, "nobody").unwrap_err();
    assert!(matches!(&missing, StoreError::NotFound { kind: ResourceKind::User, id } if id == "nobody"));
    let wrong_kind = store.get(ResourceKind::Group, &user.id).unwrap_err();
    assert!(matches!(wrong_kind, StoreError::NotFound { kind: ResourceKind::Group, .. }));
    assert!(matches!(
        store.delete(ResourceKind::User, "nobody", None, &crate::store::test_audit()),
        Err(StoreError::NotFound { .. })
    ));

    let taken = store
        .create(rt, resource::prepare_create(rt, body("jane@EXAMPLE.com")).unwrap(), &crate::store::test_audit())
        .unwrap_err();
    match &taken {
        StoreError::Conflict { kind: ResourceKind::User, key: "userName", value } => {
            assert_eq!(value.0, "jane@EXAMPLE.com")
        }
        other => panic!("{other:?}"),
    }
    let logged = format!("{taken} {taken:?}");
    assert!(!logged.to_lowercase().contains("jane@example.com"), "{logged}");

    let stale = store
        .replace(rt, &user.id, Some("W/\"7\""), body("jane@example.com"), &crate::store::test_audit())
        .unwrap_err();
    match stale {
        StoreError::PreconditionFailed { kind, id, expected, actual } => {
            assert_eq!(
                (kind, id.as_str(), expected.as_str(), actual.as_str()),
                (ResourceKind::User, user.id.as_str(), "W/\"7\"", "W/\"1\"")
            )
        }
        other => panic!("{other:?}"),
    }

    let bad = patch::parse_patch(rt, &json!({"Operations": [{"op": "replace", "path": "active", "value": "perhaps"}]}))
        .unwrap();
    assert!(
        matches!(store.patch(rt, &user.id, None, &bad, &crate::store::test_audit()), Err(StoreError::Invalid(e)) if e.status == 400)
    );
}

/// Member rows carry a `MemberKind`: the stored resource's kind, whatever type the client
/// sent; a member naming nothing stored is refused and leaves the group as it was; a row from
/// an older version with another word reads as User.
#[test]
fn member_kinds_are_typed_and_members_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::store::test_database(dir.path(), "t.db").unwrap()).unwrap();
    let (users, groups) = (&registry().user, &registry().group);
    let user = store
        .create(
            users,
            resource::prepare_create(
                users,
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "m@example.com"}),
            )
            .unwrap(),
            &crate::store::test_audit(),
        )
        .unwrap();
    let group = |name: &str, members: Value| {
        resource::prepare_create(
            groups,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members}),
        )
        .unwrap()
    };
    let inner = store.create(groups, group("inner", json!([])), &crate::store::test_audit()).unwrap();
    let outer = store
        .create(
            groups,
            group("outer", json!([{"value": user.id, "type": "Group"}, {"value": inner.id}])),
            &crate::store::test_audit(),
        )
        .unwrap();
    let Err(StoreError::Invalid(e)) = store.create(
        groups,
        group("bad", json!([{"value": user.id}, {"value": "later"}])),
        &crate::store::test_audit(),
    ) else {
        panic!("a member naming nothing was stored");
    };
    assert_eq!(e.scim_type, Some(scim::ScimType::InvalidValue));
    assert!(e.detail.contains("\"later\""), "{}", e.detail);
    let req = patch::parse_patch(
        groups,
        &json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": inner.id, "type": "user"}, {"value": "odd", "type": "Robot"}]}]}),
    )
    .unwrap();
    assert!(matches!(
        store.patch(groups, &outer.id, None, &req, &crate::store::test_audit()),
        Err(StoreError::Invalid(_))
    ));
    let kinds: std::collections::BTreeMap<String, MemberKind> =
        store.members(&outer).unwrap().into_iter().map(|m| (m.id, m.kind)).collect();
    let expected =
        std::collections::BTreeMap::from([(user.id.clone(), MemberKind::User), (inner.id.clone(), MemberKind::Group)]);
    assert_eq!(kinds, expected);
    assert_eq!(
        store.get(ResourceKind::Group, &outer.id).unwrap().version,
        outer.version,
        "the refused PATCH wrote nothing"
    );
    assert_eq!(MemberKind::of_row("Robot"), MemberKind::User);
    assert_eq!(ResourceKind::from(MemberKind::Group), ResourceKind::Group);
}

/// PostgreSQL's plans for the filters identity providers send most, over a table of realistic
/// size with fresh statistics (no planner switches): each is served by an index. With
/// `PG_PLANS_OUT=path` the plans are written there (docs/postgres-plans.md shows them).
#[test]
fn postgres_plans_for_the_common_filters_use_indexes_at_scale() {
    if std::env::var(crate::store::TEST_POSTGRES_VAR).is_err() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::store::test_database(dir.path(), "plans.db").unwrap()).unwrap();
    let mut conn = store.reader().unwrap();
    const N: i64 = 100_000;
    // Rows as the store writes them (lower-cased userName and e-mail values), made in bulk.
    diesel::sql_query(format!(
        "INSERT INTO resources (kind, id, user_name, external_id, display_name, active, created, last_modified, version, doc) \
         SELECT 'User', 'id-' || i, 'user' || i || '@example.com', 'ext-' || i, 'user ' || i, TRUE, \
         1700000000000 + i, 1700000000000 + i * 10, 1, '{{}}' FROM generate_series(1, {N}) AS i"
    ))
    .execute(&mut *conn)
    .unwrap();
    diesel::sql_query(
        "INSERT INTO resource_values (seq, attr, value) SELECT seq, 'emails', user_name FROM resources WHERE kind = 'User'",
    )
    .execute(&mut *conn)
    .unwrap();
    diesel::sql_query("ANALYZE").execute(&mut *conn).unwrap();
    let rt = &registry().user;
    let mut out = String::new();
    for text in [
        r#"userName eq "user99999@example.com""#,
        r#"emails[value eq "user99999@example.com"]"#,
        r#"externalId eq "ext-99999""#,
        // An incremental sync: the last 0.1 % changed.
        r#"meta.lastModified gt "2023-11-14T22:29:59Z""#,
        // A broader one: the last 6 %.
        r#"meta.lastModified gt "2023-11-14T22:29:00Z""#,
    ] {
        let f = filter::parse_filter(text).unwrap();
        let cond = query::lower(rt, &f).cond.unwrap();
        // The statement `list` sends for a filtered page of 100 in storage order.
        let sql = format!(
            "EXPLAIN ANALYZE SELECT r.seq FROM resources r WHERE r.kind = ? AND {} ORDER BY r.seq LIMIT 100",
            cond.sql
        );
        let sql = conn.sql(&sql).into_owned();
        let mut binds = vec![query::Bind::Text("User".into())];
        binds.extend(cond.binds.clone());
        #[derive(QueryableByName)]
        struct Line {
            #[diesel(sql_type = Text)]
            #[diesel(column_name = "QUERY PLAN")]
            line: String,
        }
        let plan: Vec<String> = bound(diesel::sql_query(sql.clone()).into_boxed(), binds)
            .load::<Line>(&mut *conn)
            .unwrap()
            .into_iter()
            .map(|l| l.line)
            .collect();
        assert!(plan.iter().any(|l| l.contains("Index")), "{text}: {plan:#?}");
        assert!(!plan.iter().any(|l| l.contains("Seq Scan")), "{text}: {plan:#?}");
        out.push_str(&format!(
            "### `{text}`\n\n```sql\n{}\n```\n\n```\n{}\n```\n\n",
            sql.trim_start_matches("EXPLAIN ANALYZE "),
            plan.join("\n")
        ));
    }
    // Cursor pages (RFC 9865) deep in the collection: a range of a (kind, column, seq) index read
    // in order, with no sort of the remaining rows.
    let cond = Cond { sql: "r.kind = ?".into(), binds: vec![Bind::Text("User".into())] };
    for (title, sort_by, key) in [
        ("sortBy=userName, page after user90000", "userName", Bind::Text("user90000@example.com".into())),
        ("sortBy=meta.lastModified descending, page after the 90,000th", "meta.lastModified", Bind::Int(1700000900000)),
    ] {
        let order = if sort_by == "userName" { SortOrder::Ascending } else { SortOrder::Descending };
        let col = query::sort_column(rt, sort_by).unwrap();
        let (sql, binds) = phase_statement(&cond, col, order, true, Some((Some(key), 90_000)), 101);
        let sql = conn.sql(&format!("EXPLAIN ANALYZE {sql}")).into_owned();
        #[derive(QueryableByName)]
        struct Line {
            #[diesel(sql_type = Text)]
            #[diesel(column_name = "QUERY PLAN")]
            line: String,
        }
        let plan: Vec<String> = bound(diesel::sql_query(sql.clone()).into_boxed(), binds)
            .load::<Line>(&mut *conn)
            .unwrap()
            .into_iter()
            .map(|l| l.line)
            .collect();
        assert!(plan.iter().any(|l| l.contains("Index")), "{title}: {plan:#?}");
        // No sort of the remaining rows: an Incremental Sort over an index already in
        // `column` order only orders rows of equal value, which is cheap.
        let full_sort = |l: &String| l.trim_start().trim_start_matches("->").trim_start().starts_with("Sort  (");
        assert!(!plan.iter().any(|l| l.contains("Seq Scan") || full_sort(l)), "{title}: {plan:#?}");
        // And the index is read from the position on: the scan returns about one page of rows,
        // not the 90,000 before the position.
        for l in plan.iter().filter(|l| l.contains("Index Scan") || l.contains("Index Only Scan")) {
            let actual = l.rsplit("rows=").next().unwrap_or_default();
            let rows: u64 = actual.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap();
            assert!(rows <= 1000, "{title}: {l}");
        }
        out.push_str(&format!(
            "### Cursor page: {title}\n\n```sql\n{}\n```\n\n```\n{}\n```\n\n",
            sql.trim_start_matches("EXPLAIN ANALYZE "),
            plan.join("\n")
        ));
    }
    if let Ok(path) = std::env::var("PG_PLANS_OUT") {
        std::fs::write(path, out).unwrap();
    }
}

/// Every page of a cursor walk (RFC 9865), concatenated; the totals each page reported.
fn walk(
    store: &Store,
    rt: &ResourceType,
    base: &ListParams,
    f: Option<&Filter>,
    count: u64,
) -> (Vec<String>, Vec<u64>) {
    let (mut ids, mut totals, mut page) = (Vec::new(), Vec::new(), CursorPage::First);
    for _ in 0..1000 {
        let p = ListParams { count: Some(count), cursor: Some(page.clone()), ..base.clone() };
        let got = store.list(rt, &p, f).unwrap();
        assert!(got.resources.len() as u64 <= count);
        totals.push(got.total);
        ids.extend(got.resources.iter().map(|r| r.id.clone()));
        if !got.more {
            return (ids, totals);
        }
        let last = got.resources.last().expect("a page with more after it is not empty");
        page = CursorPage::After(position_of(rt, base.sort_by.as_deref(), last));
    }
    panic!("the walk does not end");
}

/// A cursor walk gives the same rows in the same order as one unpaged list, for SQL and
/// in-memory sorts, both directions, sort keys with NULLs (externalId, title), and filters SQL
/// decides alone or only narrows.
#[test]
fn cursor_walks_match_the_unpaged_order() {
    let (_dir, store) = store_with_users();
    let rt = &registry().user;
    let filters = [None, Some(r#"userName sw "b""#), Some(r#"title pr or externalId eq "Ext-0""#)];
    let sorts = [
        None,
        Some("userName"),
        Some("externalId"),
        Some("displayName"),
        Some("meta.lastModified"),
        Some("meta.created"),
        Some("id"),
        Some("active"),
        Some("title"),
        Some("emails.value"),
    ];
    for text in filters {
        let f = text.map(|t| filter::parse_filter(t).unwrap());
        for sort_by in sorts {
            for order in [SortOrder::Ascending, SortOrder::Descending] {
                let base = params(sort_by, order);
                let whole = store.list(rt, &base, f.as_ref()).unwrap();
                let want: Vec<String> = whole.resources.iter().map(|r| r.id.clone()).collect();
                for count in [1, 7, 60] {
                    let (got, totals) = walk(&store, rt, &base, f.as_ref(), count);
                    let label = format!("filter {text:?} sortBy {sort_by:?} {order:?} count {count}");
                    assert_eq!(got, want, "{label}");
                    assert!(totals.iter().all(|t| *t == whole.total), "{label}: {totals:?}");
                }
            }
        }
    }
    // Descending is the exact reverse of ascending, ties (equal titles, no externalId) included.
    for sort_by in [Some("externalId"), Some("title")] {
        let ids = |order| -> Vec<String> {
            store.list(rt, &params(sort_by, order), None).unwrap().resources.into_iter().map(|r| r.id).collect()
        };
        let mut up = ids(SortOrder::Ascending);
        up.reverse();
        assert_eq!(up, ids(SortOrder::Descending), "{sort_by:?}");
    }
}

/// Rows created, changed and deleted between pages: no row comes twice, every row that stayed
/// comes once, and a row deleted before its page never comes.
#[test]
fn cursor_walks_survive_writes_between_pages() {
    let rt = &registry().user;
    let filters = [None, Some(r#"title pr or externalId eq "Ext-0""#)];
    for text in filters {
        for sort_by in [None, Some("userName"), Some("externalId"), Some("title")] {
            for order in [SortOrder::Ascending, SortOrder::Descending] {
                let (_dir, store) = store_with_users();
                let f = text.map(|t| filter::parse_filter(t).unwrap());
                let base = params(sort_by, order);
                let before: Vec<String> =
                    store.list(rt, &base, f.as_ref()).unwrap().resources.into_iter().map(|r| r.id).collect();
                let (mut seen, mut deleted, mut created) = (Vec::<String>::new(), Vec::new(), 0usize);
                let mut page = CursorPage::First;
                loop {
                    let p = ListParams { count: Some(6), cursor: Some(page.clone()), ..base.clone() };
                    let got = store.list(rt, &p, f.as_ref()).unwrap();
                    seen.extend(got.resources.iter().map(|r| r.id.clone()));
                    if !got.more {
                        break;
                    }
                    page = CursorPage::After(position_of(rt, sort_by, got.resources.last().unwrap()));
                    // Delete one row already seen and one still to come; create rows that sort
                    // first, last and in between; rename one still to come (it may move).
                    let unseen: Vec<&String> =
                        before.iter().filter(|id| !seen.contains(id) && !deleted.contains(*id)).collect();
                    if let Some(id) = seen.iter().find(|id| !deleted.contains(*id)).cloned() {
                        store.delete(ResourceKind::User, &id, None, &crate::store::test_audit()).unwrap();
                        deleted.push(id);
                    }
                    if let Some(id) = unseen.last().map(|s| s.to_string()) {
                        store.delete(ResourceKind::User, &id, None, &crate::store::test_audit()).unwrap();
                        deleted.push(id);
                    }
                    for name in ["0first", "mmiddle", "zzlast"] {
                        created += 1;
                        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                            "userName": format!("{name}{created}@example.com"), "title": name, "externalId": format!("{name}{created}")});
                        store
                            .create(rt, resource::prepare_create(rt, body).unwrap(), &crate::store::test_audit())
                            .unwrap();
                    }
                }
                let label = format!("filter {text:?} sortBy {sort_by:?} {order:?}");
                let mut unique = seen.clone();
                unique.sort();
                unique.dedup();
                assert_eq!(unique.len(), seen.len(), "{label}: a row came twice");
                for id in &before {
                    if !deleted.contains(id) {
                        assert!(seen.contains(id), "{label}: {id} stayed but was skipped");
                    }
                }
                let deleted_unseen: Vec<&String> = deleted.iter().filter(|id| !seen.contains(id)).collect();
                assert!(!deleted_unseen.is_empty(), "{label}: the test deleted rows ahead of the cursor");
            }
        }
    }
}

/// A keyset page on SQLite is a range of an index read in order: no sort of the whole match
/// (`USE TEMP B-TREE FOR ORDER BY`), no scan of every row of the kind, for every SQL sort
/// column, both directions, from a cursor among rows with a value and among rows without.
#[test]
fn keyset_pages_read_an_index_range() {
    let (_dir, store) = store_with_users();
    let rt = &registry().user;
    let mut conn = store.reader().unwrap();
    if conn.is_postgres() {
        return; // PostgreSQL: postgres_plans_for_the_common_filters_use_indexes_at_scale.
    }
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = Text)]
        detail: String,
    }
    let cond = Cond { sql: "r.kind = ?".into(), binds: vec![Bind::Text("User".into())] };
    for sort_by in ["userName", "externalId", "displayName", "meta.lastModified", "meta.created", "active", "id"] {
        let col = query::sort_column(rt, sort_by).unwrap();
        let key = match col {
            query::SortColumn::Text(_) => Bind::Text("m".into()),
            query::SortColumn::Int(_) => Bind::Int(1),
            query::SortColumn::Bool(_) => Bind::Bool(true),
        };
        for order in [SortOrder::Ascending, SortOrder::Descending] {
            for (with_value, from) in
                [(true, None), (true, Some((Some(key.clone()), 30))), (false, None), (false, Some((None, 30)))]
            {
                let (sql, binds) = phase_statement(&cond, col, order, with_value, from, 10);
                let explain = format!("EXPLAIN QUERY PLAN {sql}");
                let plan: Vec<String> = bound(diesel::sql_query(explain).into_boxed(), binds)
                    .load::<Plan>(&mut *conn)
                    .unwrap()
                    .into_iter()
                    .map(|p| p.detail)
                    .collect();
                let label = format!("sortBy {sort_by} {order:?} with_value {with_value}: {sql}: {plan:?}");
                assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "{label}");
                assert!(plan.iter().all(|d| !d.starts_with("SCAN") || d.contains("INDEX")), "{label}");
                assert!(plan.iter().any(|d| d.contains("INDEX")), "{label}");
            }
        }
    }
}

/// A PATCH writes the resource, its value rows, its outbox row (removing a parked change) and
/// its audit row together. On PostgreSQL that is one statement, which writes none of them when
/// the version it was planned from has moved on.
#[test]
fn a_rewrite_writes_its_rows_together_and_nothing_from_a_stale_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::store::test_database(dir.path(), "t.db").unwrap()).unwrap();
    let rt = &registry().user;
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "one@example.com",
                      "emails": [{"value": "Old@example.com", "type": "work"}]});
    let user = store.create(rt, resource::prepare_create(rt, body).unwrap(), &crate::store::test_audit()).unwrap();
    let created = store.outbox_pending().unwrap().into_iter().find(|e| e.resource_id == user.id).unwrap();
    assert!(store.outbox_park(&created, "refused").unwrap());
    let stale = store.get(ResourceKind::User, &user.id).unwrap();
    let email = |value: &str| {
        patch::parse_patch(
            rt,
            &json!({"Operations": [{"op": "replace", "path": "emails[type eq \"work\"].value", "value": value}]}),
        )
        .unwrap()
    };
    let out = store.patch(rt, &user.id, None, &email("New@example.com"), &crate::store::test_audit()).unwrap();
    assert!(out.changed);
    assert_eq!(out.resource.version, 2);

    let matching = |value: &str| {
        let f = filter::parse_filter(&format!("emails.value eq \"{value}\"")).unwrap();
        store.list(rt, &params(None, SortOrder::Ascending), Some(&f)).unwrap().total
    };
    let outbox_of = |store: &Store| -> Vec<(OutboxOp, i64)> {
        store
            .outbox_pending()
            .unwrap()
            .into_iter()
            .filter(|e| e.resource_id == user.id)
            .map(|e| (e.op, e.revision))
            .collect()
    };
    let trail = |store: &Store| {
        store
            .audit_entries(&crate::store::AuditQuery {
                resource: Some(user.id.clone()),
                limit: 100,
                ..Default::default()
            })
            .unwrap()
    };
    assert_eq!((matching("new@example.com"), matching("old@example.com")), (1, 0));
    assert!(
        store.outbox_dead().unwrap().iter().all(|e| e.resource_id != user.id),
        "the PATCH removes the parked change"
    );
    assert_eq!(outbox_of(&store), vec![(OutboxOp::Sync, 1)]);
    let rows = trail(&store);
    let patched: Vec<_> = rows.iter().filter(|r| r.op == crate::store::AuditOp::Patch).collect();
    assert_eq!(patched.len(), 1, "{rows:?}");
    assert_eq!((patched[0].version, patched[0].paths.clone()), (Some(2), vec!["emails.value".to_string()]));
    assert_eq!(patched[0].actor, crate::store::test_audit().actor);

    // The single statement itself, planned from version 1 after version 2 was written.
    let mut conn = store.reader().unwrap();
    let DbConn::Pg(pg) = &mut *conn else { return };
    let plan = patch_plan(ResourceKind::User, email("Stale@example.com"))(&stale).unwrap();
    let ready = Ready::of(ResourceKind::User, plan).unwrap();
    assert!(ready.is_single_statement());
    let ctx = crate::store::test_audit();
    let written = ready.execute_pg(pg, stale, Audit { ctx: &ctx, bulk: false }).unwrap();
    assert!(written.is_none(), "a write from a stale version went through");
    drop(conn);
    assert_eq!(store.get(ResourceKind::User, &user.id).unwrap().version, 2);
    assert_eq!((matching("new@example.com"), matching("stale@example.com")), (1, 0));
    assert_eq!(outbox_of(&store), vec![(OutboxOp::Sync, 1)]);
    assert_eq!(trail(&store).len(), rows.len());
}

/// A create writes the resource, its value rows, its outbox row, its audit row and its page
/// count together (on PostgreSQL in one statement); a create refused for a taken userName
/// writes none of them.
#[test]
fn a_create_writes_its_rows_together_and_a_refused_one_none() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(&crate::store::test_database(dir.path(), "t.db").unwrap()).unwrap());
    let rt = &registry().user;
    let handles: Vec<_> = (0..30)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                // Every fifth create takes a name another one also takes.
                let name = if i % 5 == 0 { "Dup@example.com".to_string() } else { format!("u{i}@example.com") };
                let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
                                  "emails": [{"value": format!("E{i}@example.com"), "type": "work"}]});
                store.create(rt, resource::prepare_create(rt, body).unwrap(), &crate::store::test_audit())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let created: Vec<&StoredResource> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(created.len(), 25);
    assert!(results.iter().filter(|r| r.is_err()).all(|r| matches!(r, Err(StoreError::Conflict { .. }))));
    let all = store.list(rt, &params(None, SortOrder::Ascending), None).unwrap();
    assert_eq!(all.total, 25);
    let pending = store.outbox_pending().unwrap();
    let trail =
        store.audit_entries(&crate::store::AuditQuery { limit: 1000, ..crate::store::AuditQuery::default() }).unwrap();
    assert_eq!((pending.len(), trail.len()), (25, 25));
    for user in created {
        let email = user.doc["emails"][0]["value"].as_str().unwrap();
        let f = filter::parse_filter(&format!("emails.value eq \"{email}\"")).unwrap();
        let found = store.list(rt, &params(None, SortOrder::Ascending), Some(&f)).unwrap();
        assert_eq!(found.resources.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec![user.id.as_str()]);
        assert!(pending.iter().any(|e| e.resource_id == user.id && e.op == OutboxOp::Sync && e.revision == 1));
        assert!(trail.iter().any(|e| e.resource_id == user.id
            && e.op == crate::store::AuditOp::Create
            && e.version == Some(1)
            && e.name.as_deref() == user.doc["userName"].as_str()));
    }
    // Each page-count row holds the number of its rows.
    let mut conn = store.reader().unwrap();
    let seqs: Vec<i64> = resources::table.select(resources::seq).load(&mut *conn).unwrap();
    let mut expected = std::collections::BTreeMap::new();
    for seq in seqs {
        *expected.entry(count_key(seq)).or_insert(0i64) += 1;
    }
    let stored: std::collections::BTreeMap<i64, i64> = page_counts::table
        .filter(page_counts::n.ne(0))
        .select((page_counts::bucket, page_counts::n))
        .load::<(i64, i64)>(&mut *conn)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(stored, expected);
}
