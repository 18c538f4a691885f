//! Connections: raw characters in a request line, slow clients cut off while others are
//! served, the cap on connections, and TLS with a certificate replaced while serving.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TOKEN, TestApp};
use scim_bridge::config::TlsFiles;

/// Send `request` on a new connection and read until the server closes it.
async fn raw_exchange(app: &TestApp, request: &[u8]) -> String {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await.expect("answered").unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn raw_quotes_and_other_unencoded_bytes_in_a_request_line_are_understood() {
    let app = TestApp::spawn().await;
    app.create_user("x@example.com").await;
    // As Microsoft's SCIM validator has been seen to send it: the quotes unencoded.
    let answer = raw_exchange(
        &app,
        format!(
            "GET /scim/v2/Users?filter=userName+eq+\"x%40example.com\" HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"totalResults\":1") && answer.contains("x@example.com"), "{answer}");
    // Raw UTF-8 in a filter value.
    let answer = raw_exchange(
        &app,
        format!(
            "GET /scim/v2/Users?filter=displayName+eq+\"Zo\u{eb}\" HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("\"totalResults\":0"), "{answer}");
    // A control character in a filter and a raw non-ASCII id: SCIM errors with a body, not a
    // bare 400 from the HTTP parser.
    for (line, status, scim_type) in [
        ("GET /scim/v2/Users?filter=userName\x01eq+\"a\"", "400", Some("invalidFilter")),
        ("GET /scim/v2/Users/Zo\u{eb}", "404", None),
    ] {
        let answer = raw_exchange(
            &app,
            format!("{line} HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{line}: {answer}");
        assert!(answer.contains("urn:ietf:params:scim:api:messages:2.0:Error"), "{line}: {answer}");
        if let Some(t) = scim_type {
            assert!(answer.contains(&format!("\"scimType\":\"{t}\"")), "{line}: {answer}");
        }
    }
}

/// Send `head` then `trickle` a byte every 250 ms until the server closes the connection;
/// how long after the last byte of `head` that took (`None`: still open after `give_up`).
async fn trickle_until_closed(app: &TestApp, head: &str, trickle: u8, give_up: Duration) -> Option<Duration> {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    while started.elapsed() < give_up {
        if s.write_all(&[trickle]).await.is_err() {
            return Some(started.elapsed());
        }
        match tokio::time::timeout(Duration::from_millis(250), s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            // A 408 from actix-http before it closes is fine too.
            Ok(Ok(_)) => {}
            Err(_) => {}
        }
    }
    None
}

#[tokio::test]
async fn slow_heads_and_bodies_are_cut_off_while_others_are_served() {
    let app = TestApp::spawn_with(|c| {
        c.header_timeout = Duration::from_secs(2);
        c.body_timeout = Duration::from_secs(3);
    })
    .await;
    let head = format!("GET /scim/v2/Users HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {TOKEN}\r\nX-Slow: ");
    let slow_head = trickle_until_closed(&app, &head, b'a', Duration::from_secs(20));
    let head_of_body = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n"
    );
    let slow_body = trickle_until_closed(&app, &head_of_body, b' ', Duration::from_secs(20));
    let others = async {
        let mut slowest = Duration::ZERO;
        let deadline = Instant::now() + Duration::from_secs(4);
        let mut served = 0;
        while Instant::now() < deadline {
            let t = Instant::now();
            assert_eq!(app.get("/Users?count=1").await.status, 200);
            slowest = slowest.max(t.elapsed());
            served += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (served, slowest)
    };
    let (head_cut, body_cut, (served, slowest)) = tokio::join!(slow_head, slow_body, others);
    println!(
        "slow head cut after {head_cut:?}, slow body after {body_cut:?}; meanwhile {served} requests, slowest {slowest:?}"
    );
    let head_cut = head_cut.expect("a trickled head is cut off");
    let body_cut = body_cut.expect("a trickled body is cut off");
    // The head's clock starts at its first byte, a little before `head` was fully written.
    assert!(head_cut >= Duration::from_millis(1500) && head_cut < Duration::from_secs(5), "{head_cut:?}");
    assert!(body_cut >= Duration::from_millis(2500) && body_cut < Duration::from_secs(6), "{body_cut:?}");
    assert!(served >= 10 && slowest < Duration::from_secs(1), "{served} served, slowest {slowest:?}");
    assert_eq!(app.get("/Users?count=0").await.body["totalResults"], 0, "the cut-off create stored nothing");
}

/// Open a keep-alive connection and have one request answered on it.
async fn held_connection(app: &TestApp) -> TcpStream {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await.expect("answered").unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    s
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let app = TestApp::spawn_with(|c| {
        c.workers = 1;
        c.max_connections = 2;
    })
    .await;
    let first = held_connection(&app).await;
    let _second = held_connection(&app).await;
    let started = Instant::now();
    let third = tokio::spawn({
        let url = format!("http://{}/healthz", app.addr);
        async move {
            let r = reqwest::Client::new().get(url).send().await.unwrap();
            (r.status(), Instant::now())
        }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!third.is_finished(), "a third connection was served while two were open");
    let closed = Instant::now();
    drop(first);
    let (status, answered) = tokio::time::timeout(Duration::from_secs(3), third).await.expect("served").unwrap();
    assert_eq!(status, 200);
    println!("the third connection waited {:?}; served {:?} after one closed", answered - started, answered - closed);
    assert!(answered - closed < Duration::from_secs(1), "{:?}", answered - closed);
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

/// The DER of the first certificate in a PEM file.
fn der_of(pem: &Path) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_file(pem).unwrap().to_vec()
}

/// A client trusting both test certificates, reporting the certificate each connection got.
fn tls_client() -> reqwest::Client {
    let mut b = reqwest::Client::builder().tls_info(true).pool_idle_timeout(Duration::from_secs(60));
    for n in ["a.crt", "b.crt"] {
        b = b.add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(fixture(n)).unwrap()).unwrap());
    }
    b.build().unwrap()
}

/// Which test certificate (`a` or `b`) the server showed for this response's connection.
fn served_certificate(r: &reqwest::Response) -> &'static str {
    let der = r.extensions().get::<reqwest::tls::TlsInfo>().and_then(|i| i.peer_certificate()).expect("TLS info");
    ["a", "b"].into_iter().find(|n| der_of(&fixture(&format!("{n}.crt"))) == der).unwrap_or("another")
}

/// Put certificate `name` (`a` or `b`) in place as `cert`/`key`, each file padded with blank
/// lines after its PEM block to one length for both names (so only its content changes).
fn install(name: &str, cert: &Path, key: &Path) {
    for (path, ext) in [(cert, "crt"), (key, "key")] {
        let mut text = std::fs::read(fixture(&format!("{name}.{ext}"))).unwrap();
        text.resize(1024, b'\n');
        std::fs::write(path, text).unwrap();
    }
}

#[tokio::test]
async fn tls_serves_and_a_changed_certificate_reaches_new_connections_without_dropping_open_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    install("a", &cert, &key);
    let files = TlsFiles { cert: cert.clone(), key: key.clone() };
    let app = TestApp::spawn_with(|c| c.tls = Some(files)).await;
    let url = format!("https://localhost:{}/scim/v2/Users", app.addr.port());

    let old = tls_client();
    let r = old.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(served_certificate(&r), "a");
    let r = old
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(crate::helpers::user_body("tls@example.com").to_string())
        .send()
        .await
        .unwrap();
    let created: serde_json::Value = r.json().await.unwrap();
    assert!(
        created["meta"]["location"].as_str().unwrap().starts_with("https://localhost:"),
        "locations name the TLS scheme: {created}"
    );
    // Plain HTTP to the TLS port is not served.
    let plain =
        reqwest::Client::new().get(format!("http://{}/scim/v2/Users", app.addr)).bearer_auth(TOKEN).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    install("b", &cert, &key);
    // The old client keeps using its connection (a request every 300 ms keeps it alive) and
    // keeps seeing certificate a; a new client sees b within the 5 s the files are looked at.
    let started = Instant::now();
    loop {
        let r = old.get(&url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(served_certificate(&r), "a", "the open connection was dropped and remade");
        let fresh = tls_client().get(&url).bearer_auth(TOKEN).send().await.unwrap();
        if served_certificate(&fresh) == "b" {
            println!("new connections got the new certificate after {:?}", started.elapsed());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(12), "the new certificate was not picked up");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // A broken replacement keeps the certificate in use.
    std::fs::write(&key, "not a key\n").unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let fresh = tls_client().get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(served_certificate(&fresh), "b");
}

/// `serve --tls-cert --tls-key` in its own process: SIGHUP reloads the files even when their
/// modification time and size did not change (so the periodic look would not notice).
#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_certificate_of_a_running_server() {
    const BIN: &str = env!("CARGO_BIN_EXE_scim-bridge");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    install("a", &cert, &key);
    let db = scim_bridge::store::test_database(dir.path(), "tls.db").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new(BIN)
        .args(["--database", &db, "serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--tls-cert")
        .arg(&cert)
        .env("SCIM_BRIDGE_TLS_KEY", &key)
        .env("SCIM_BRIDGE_BOOTSTRAP_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("https://localhost:{port}/scim/v2/ServiceProviderConfig");
    let mut up = None;
    for _ in 0..100 {
        if let Ok(r) = tls_client().get(&url).bearer_auth(TOKEN).send().await {
            up = Some(served_certificate(&r));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(up, Some("a"), "serving TLS with certificate a");

    // The same sizes, and the old modification times put back: only the signal can tell.
    let stamps = [&cert, &key].map(|p| std::fs::metadata(p).unwrap().modified().unwrap());
    install("b", &cert, &key);
    for (p, t) in [&cert, &key].into_iter().zip(stamps) {
        std::fs::File::options().write(true).open(p).unwrap().set_modified(t).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    let r = tls_client().get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(served_certificate(&r), "a", "nothing reloaded without the signal");
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let mut reloaded = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = tls_client().get(&url).bearer_auth(TOKEN).send().await.unwrap();
        if served_certificate(&r) == "b" {
            reloaded = true;
            break;
        }
    }
    let alive = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(alive, "SIGHUP ended the process: {log}");
    assert!(reloaded, "SIGHUP did not reload the certificate: {log}");
    assert!(log.contains("TLS certificate reloaded") && log.contains("https://127.0.0.1"), "{log}");
}
