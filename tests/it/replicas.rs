//! Three bridge replicas on one PostgreSQL share one outbox and one Genesys rate limit: changes
//! sent to all three in turn reach Genesys exactly once and in order per user, though one
//! replica is killed (SIGKILL) while it holds claims, and the three together stay within the
//! limit of the one OAuth client they share (the simulator counts that client's tokens together).
//! Runs on PostgreSQL only (`TEST_POSTGRES_URL`, as `scripts/test.sh` sets it).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::crash::{Proc, free_port, genesys_sim, number, serve, sim_json, wait_up};
use crate::helpers::{TOKEN, patch_body, user_body};
use scim_bridge::store::{Store, TEST_POSTGRES_VAR, test_database};

const USERS: usize = 90;
const DELETED_EVERY: usize = 6;
/// Requests per minute the simulator allows the one OAuth client: low, so draining takes a while.
const LIMIT: usize = 90;

fn user_name(i: usize) -> String {
    format!("replica{i:03}@example.com")
}

/// The 8x8 numbers a Genesys write sets (a create's phones, a PATCH's 8x8 operations), and
/// whether it deactivates.
fn written_numbers(body: &Value) -> (Vec<String>, bool) {
    let mut numbers = Vec::new();
    let mut deactivates = false;
    for p in body["phoneNumbers"].as_array().into_iter().flatten() {
        if p["type"] == "eightbyeight" {
            numbers.extend(p["value"].as_str().map(str::to_string));
        }
    }
    for op in body["Operations"].as_array().into_iter().flatten() {
        let path = op["path"].as_str().unwrap_or_default();
        if path.starts_with("phoneNumbers[type eq \"eightbyeight\"]") && path.ends_with(".value") {
            numbers.extend(op["value"].as_str().map(str::to_string));
        }
        if path.eq_ignore_ascii_case("active") && op["value"] == json!(false) {
            deactivates = true;
        }
    }
    (numbers, deactivates)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_one_killed_deliver_every_change_once_and_in_order_within_one_rate_limit() {
    if std::env::var(TEST_POSTGRES_VAR).is_err() {
        eprintln!("replicas: needs PostgreSQL ({TEST_POSTGRES_VAR}); scripts/test.sh runs it there");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = test_database(dir.path(), "unused").unwrap();
    let client = reqwest::Client::new();
    let limit = LIMIT.to_string();
    let (_sim, sim) = genesys_sim(&client, &["--rate-limit-per-minute", &limit, "--rate-limit-scope", "client"]).await;

    // Three replicas start together on an empty database (they migrate it once, under a lock).
    let ports = [free_port(), free_port(), free_port()];
    let mut replicas: Vec<Option<Proc>> = ports.iter().map(|p| Some(serve(&db, *p, &sim))).collect();
    let bases: Vec<String> = ports.iter().map(|p| format!("http://127.0.0.1:{p}/scim/v2")).collect();
    for b in &bases {
        wait_up(&client, &format!("{b}/ServiceProviderConfig")).await;
    }
    let started = Instant::now();
    let victim = 1;
    let victim_pid = replicas[victim].as_ref().map(|p| p.0.id()).unwrap();
    let mut alive = vec![0, 1, 2];
    let mut turn = 0usize;
    let mut next_base = |alive: &[usize]| {
        turn += 1;
        bases[alive[turn % alive.len()]].clone()
    };

    // Creates, in turn on each replica.
    let mut ids = Vec::new();
    for i in 0..USERS {
        let mut body = user_body(&user_name(i));
        body["phoneNumbers"] = json!([{"type": "eightbyeight", "value": number(i, 0)}]);
        let r =
            client.post(format!("{}/Users", next_base(&alive))).bearer_auth(TOKEN).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201);
        ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string());
    }
    // Two rounds of number changes; the victim is killed during the first, while it holds claims.
    let store = Store::open(&db).unwrap();
    let mut killed_holding = 0;
    let mut takeover = None;
    for round in 1..=2 {
        for (i, id) in ids.iter().enumerate() {
            if round == 1 && i == USERS / 2 {
                let prefix = format!("{victim_pid}-");
                let waited = Instant::now();
                loop {
                    let held: i64 = store
                        .outbox_lease_holders()
                        .unwrap()
                        .iter()
                        .filter(|(o, _)| o.starts_with(&prefix))
                        .map(|(_, n)| n)
                        .sum();
                    if held > 0 {
                        killed_holding = held;
                        break;
                    }
                    assert!(waited.elapsed() < Duration::from_secs(60), "the victim never held a claim");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                drop(replicas[victim].take()); // SIGKILL
                alive.retain(|r| *r != victim);
                // How long until the survivors hold every change the victim held.
                let (db, prefix) = (db.clone(), prefix.clone());
                takeover = Some(tokio::task::spawn_blocking(move || {
                    let store = Store::open(&db).unwrap();
                    let killed = Instant::now();
                    while store.outbox_lease_holders().unwrap().iter().any(|(o, _)| o.starts_with(&prefix)) {
                        assert!(
                            killed.elapsed() < Duration::from_secs(120),
                            "the victim's claims were never taken over"
                        );
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    killed.elapsed()
                }));
            }
            let patch = patch_body(
                json!([{"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": number(i, round)}]),
            );
            let r = client
                .patch(format!("{}/Users/{id}", next_base(&alive)))
                .bearer_auth(TOKEN)
                .json(&patch)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        }
    }
    // Some users leave.
    let deleted: BTreeSet<usize> = (0..USERS).step_by(DELETED_EVERY).collect();
    for i in &deleted {
        let r =
            client.delete(format!("{}/Users/{}", next_base(&alive), ids[*i])).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 204);
    }
    let accepted_at = started.elapsed();

    // The two survivors drain everything, the victim's claims included once its lease ran out.
    let drained = loop {
        let depth = store.outbox_depth().unwrap();
        assert_eq!(depth.dead, 0, "parked: {:?}", store.outbox_dead().unwrap());
        if depth.pending == 0 {
            break started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(300), "{} changes still pending", depth.pending);
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    let takeover = takeover.expect("the victim was killed").await.unwrap();
    assert!(takeover <= Duration::from_secs(30), "the victim's claims passed on after {takeover:?}");

    // Exactly once: every user created once, holding its last number (or deactivated).
    let stats = sim_json(&client, &sim, Method::GET, "/sim/stats", None).await;
    let mut never_sent = 0;
    for i in 0..USERS {
        let creates = &stats["creates_by_user_name"][user_name(i)];
        if deleted.contains(&i) && creates.is_null() {
            // Deleted before its create was delivered: the delete superseded it, nothing to send.
            never_sent += 1;
            continue;
        }
        assert_eq!(creates, 1, "{}: {stats}", user_name(i));
        let p = sim_json(&client, &sim, Method::GET, &format!("/sim/profiles/{}", user_name(i)), None).await;
        if deleted.contains(&i) {
            assert_eq!(p["state"], "inactive", "{p}");
        } else {
            assert_eq!(p["state"], "active", "{p}");
            assert_eq!(p.pointer("/contactInfo/0/phone_other/0/value/number"), Some(&json!(number(i, 2))), "{p}");
        }
    }
    // In order: per user, the numbers Genesys was given follow the rounds (coalescing may skip
    // one, never go back), and nothing follows a deactivation.
    let journal = sim_json(&client, &sim, Method::GET, "/sim/requests", None).await;
    let journal = journal.as_array().cloned().unwrap_or_default();
    let mut genesys_ids = BTreeMap::new();
    for i in 0..USERS {
        let r = client.get(format!("{sim}/sim/profiles/{}", user_name(i))).send().await.unwrap();
        if r.status().is_success() {
            let p: Value = r.json().await.unwrap();
            genesys_ids.insert(p["id"].as_str().unwrap().to_string(), i);
        }
    }
    let mut writes: BTreeMap<usize, Vec<(Vec<String>, bool)>> = BTreeMap::new();
    for e in journal.iter().filter(|e| e["method"] != "GET" && e["status"].as_str().is_some_and(|s| s.starts_with('2')))
    {
        let path = e["path"].as_str().unwrap_or_default();
        let user = if path.ends_with("/scim/v2/users") {
            e["body"]["userName"].as_str().and_then(|n| (0..USERS).find(|i| user_name(*i) == n))
        } else {
            path.rsplit('/').next().and_then(|g| genesys_ids.get(g).copied())
        };
        if let Some(i) = user {
            writes.entry(i).or_default().push(written_numbers(&e["body"]));
        }
    }
    let mut resent = 0;
    for (i, seq) in &writes {
        let rounds: Vec<usize> = seq
            .iter()
            .flat_map(|(ns, _)| {
                ns.iter().map(|n| (0..=2).find(|r| number(*i, *r) == *n).expect("a number the IdP sent"))
            })
            .collect();
        assert!(rounds.windows(2).all(|w| w[0] <= w[1]), "user {i}: numbers out of order: {rounds:?}");
        let dups = rounds.windows(2).filter(|w| w[0] == w[1]).count();
        if dups > 0 && std::env::var("REPLICAS_DEBUG").is_ok() {
            eprintln!("user {i}: rounds {rounds:?} writes {seq:?}");
        }
        resent += dups;
        if let Some(off) = seq.iter().position(|(_, d)| *d) {
            assert!(
                seq[off + 1..].iter().all(|(ns, _)| ns.is_empty()),
                "user {i}: a number sent after the deactivation"
            );
        }
    }
    // Within the limit: the three replicas' Genesys requests in any 60 s never exceed it.
    let times: Vec<u64> = journal
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.starts_with("/api/")))
        .filter_map(|e| e["at_ms"].as_u64())
        .collect();
    let busiest =
        times.iter().map(|t| times.iter().filter(|u| **u >= *t && **u < t + 60_000).count()).max().unwrap_or(0);
    let refused = journal.iter().filter(|e| e["status"] == "429").count();
    let span_s =
        (times.last().copied().unwrap_or(0).saturating_sub(times.first().copied().unwrap_or(0))) as f64 / 1000.0;
    eprintln!(
        "replicas: {USERS} users, {} changes accepted in {:.1} s; victim killed holding {killed_holding} claim(s), taken over {:.1} s later; drained after {:.1} s; \
         {} Genesys requests over {span_s:.1} s ({:.0}/min), busiest 60 s: {busiest} of {LIMIT} allowed; {refused} answered 429; \
         {resent} number(s) sent twice (a change resent after the kill); {never_sent} deleted user(s) deleted before their create was sent",
        USERS * 3 + deleted.len(),
        accepted_at.as_secs_f64(),
        takeover.as_secs_f64(),
        drained.as_secs_f64(),
        times.len(),
        times.len() as f64 * 60.0 / span_s.max(1.0),
    );
    assert!(busiest <= LIMIT, "the replicas together exceeded the limit: {busiest} requests in 60 s");
    assert_eq!(refused, 0, "the replicas met the limit");
}

#[tokio::test]
async fn a_write_through_one_replica_is_read_at_once_through_another() {
    if std::env::var(TEST_POSTGRES_VAR).is_err() {
        eprintln!("replicas: needs PostgreSQL ({TEST_POSTGRES_VAR}); scripts/test.sh runs it there");
        return;
    }
    let a = crate::helpers::TestApp::spawn().await;
    let shared = a.db.clone();
    let b = crate::helpers::TestApp::spawn_with(move |c| c.database_url = shared).await;
    for i in 0..20 {
        let name = format!("fresh{i}@example.com");
        let (writer, reader) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        // Created through one, found at once through the other: by id, by filter, in the list.
        let created = writer.post("/Users", user_body(&name)).await;
        assert_eq!(created.status, 201);
        let id = created.body["id"].as_str().unwrap().to_string();
        let got = reader.get(&format!("/Users/{id}")).await;
        assert_eq!(got.status, 200, "{i}: {}", got.body);
        let etag = got.header("etag").unwrap_or_default().to_string();
        let found =
            reader.get(&format!("/Users?filter={}", crate::helpers::q(&format!("userName eq \"{name}\"")))).await;
        assert_eq!(found.body["totalResults"], 1, "{}", found.body);
        // Changed through the other, the first sees the change and its new version at once.
        let patch = patch_body(json!([{"op": "replace", "path": "title", "value": format!("Title {i}")}]));
        let patched = reader.patch(&format!("/Users/{id}"), patch).await;
        assert_eq!(patched.status, 200);
        let again = writer.get(&format!("/Users/{id}")).await;
        assert_eq!(again.body["title"], format!("Title {i}"));
        assert_ne!(again.header("etag").unwrap_or_default(), etag, "a new version");
        // A write against the old version is refused whichever replica it goes to.
        let stale = writer
            .req(reqwest::Method::PUT, &format!("/Users/{id}"), Some(user_body(&name)), &[("if-match", &etag)])
            .await;
        assert_eq!(stale.status, 412, "{}", stale.body);
        // Deleted through one, gone through the other.
        assert_eq!(writer.delete(&format!("/Users/{id}")).await.status, 204);
        assert_eq!(reader.get(&format!("/Users/{id}")).await.status, 404);
    }
}

#[tokio::test]
async fn losing_the_database_answers_503_and_recovers_by_itself() {
    if std::env::var(TEST_POSTGRES_VAR).is_err() {
        eprintln!("replicas: needs PostgreSQL ({TEST_POSTGRES_VAR}); scripts/test.sh runs it there");
        return;
    }
    // A PostgreSQL of this test's own, to stop and start.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres.sh");
    let port = free_port().to_string();
    let pg = |cmd: &str| {
        let out = std::process::Command::new("bash").args([script, cmd, &port]).output().unwrap();
        assert!(out.status.success(), "postgres.sh {cmd}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    struct Stop<F: Fn(&str) -> String>(F);
    impl<F: Fn(&str) -> String> Drop for Stop<F> {
        fn drop(&mut self) {
            (self.0)("stop");
        }
    }
    let url = pg("start");
    let _stop = Stop(&pg);
    let db = url.clone();
    let app = crate::helpers::TestApp::spawn_with(move |c| c.database_url = db).await;
    let id = app.create_user("before@example.com").await;

    pg("pause");
    // While it is gone: a SCIM error saying to retry (503), never a 500; /readyz says why.
    let r = app.get(&format!("/Users/{id}")).await;
    r.assert_error(503, None);
    let r = app.post("/Users", user_body("during@example.com")).await;
    r.assert_error(503, None);
    let ready = app.client.get(format!("http://{}/readyz", app.addr)).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"]["database"]["ok"], false, "{ready}");

    // Back: the bridge recovers by itself, no restart.
    let again = pg("start");
    assert_eq!(again, url, "the same database");
    let started = Instant::now();
    loop {
        let r = app.get(&format!("/Users/{id}")).await;
        if r.status == 200 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "not recovered: {} {}", r.status, r.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.post("/Users", user_body("after@example.com")).await.status, 201);
    let ready = app.client.get(format!("http://{}/readyz", app.addr)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}
