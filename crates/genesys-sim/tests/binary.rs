//! The simulator as a program of its own: `genesys-sim` takes the flags of
//! `scim-bridge genesys-sim`, prints where it listens, and serves the OAuth token endpoint and
//! the admin routes. Plain TCP here: the crate has no HTTP client, and needs none.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// One HTTP/1.1 request; the status code and the body.
fn http(addr: &str, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[test]
fn the_genesys_sim_binary_serves_tokens_and_its_admin_routes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_genesys-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--client-id",
            "bin-id",
            "--seed-groups",
            "Sales",
            "--lenient",
            "put-keeps-omitted",
        ])
        .env("SCIM_BRIDGE_SIM_CLIENT_SECRET", "bin-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("genesys-sim starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().map(str::to_string));
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).ok().flatten().expect("the listening address is printed");

    // Basic base64("bin-id:bin-secret").
    let form = "grant_type=client_credentials";
    let (status, body) = http(
        &addr,
        &format!(
            "POST /oauth/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic YmluLWlkOmJpbi1zZWNyZXQ=\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("access_token"), "{body}");
    let (status, body) = http(&addr, &format!("GET /sim/groups HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"));
    assert_eq!(status, 200);
    assert!(body.contains("\"Sales\""), "the seeded group: {body}");
    let (status, body) = http(&addr, &format!("GET /sim/faults HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"));
    assert_eq!(status, 200);
    assert!(body.contains(r#""lenient":["put-keeps-omitted"]"#), "{body}");
    let seed = r#"{"users":[{"userName":"a@example.com","displayName":"A"}],"groups":[{"displayName":"Sales","members":["a@example.com"]}]}"#;
    let (status, body) = http(
        &addr,
        &format!(
            "POST /sim/seed HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{seed}",
            seed.len()
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""userName":"a@example.com""#), "{body}");
    let (status, _) = http(
        &addr,
        &format!(
            "POST /oauth/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic eDp5\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    );
    assert_eq!(status, 400, "a wrong client is refused");
    let _ = child.kill();
    let _ = child.wait();
}
