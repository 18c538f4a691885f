//! The `scim-bridge` binary as operators' scripts use it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_scim-bridge");

fn run(db: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("--database")
        .arg(db)
        .args(args)
        .env_remove("SCIM_BRIDGE_BOOTSTRAP_TOKEN")
        .output()
        .expect("binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn token_commands_migrate_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let db = scim_bridge::store::test_database(dir.path(), "cli.db").unwrap();
    let (ok, out, err) = run(&db, &["migrate"]);
    assert!(ok, "{err}");
    assert!(err.contains("migration"), "{err}");
    let (ok, out2, _) = run(&db, &["migrate"]);
    assert!(ok && out2.is_empty() && out.is_empty());

    let (ok, token, err) = run(&db, &["token", "create", "--name", "okta"]);
    assert!(ok, "{err}");
    let token = token.strip_suffix('\n').expect("one line");
    assert!(!token.contains('\n') && token.starts_with("scb_"), "stdout holds the token alone: {token:?}");
    let (ok, list, _) = run(&db, &["token", "list"]);
    assert!(ok && list.starts_with("okta\t"), "{list}");
    assert!(!list.contains(token), "list never shows a token");
    let (ok, _, err) = run(&db, &["token", "create", "--name", "okta"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    assert!(run(&db, &["token", "revoke", "okta"]).0);
    assert!(!run(&db, &["token", "revoke", "okta"]).0, "revoking an unknown token fails");

    // The outbox lists what waits for Genesys; nothing is dead, so a retry of an id finds nothing.
    let (ok, out, err) = run(&db, &["outbox", "list", "--json"]);
    assert!(ok && out.is_empty(), "{out}{err}");
    let (ok, _, err) = run(&db, &["outbox", "retry", "no-such-id"]);
    assert!(!ok && err.contains("0 dead change"), "{err}");
    let (ok, out, _) = run(&db, &["outbox", "list"]);
    assert!(ok && out.starts_with("STATE\t"), "{out}");
    {
        let store = scim_bridge::store::Store::open(&db).unwrap();
        let rt = scim_bridge::scim::schema::ResourceKind::User.resource_type();
        let body = crate::helpers::user_body("queued@example.com");
        store
            .create(
                rt,
                scim_bridge::scim::resource::prepare_create(rt, body).unwrap(),
                &crate::helpers::audit_context(),
            )
            .unwrap();
    }
    let (ok, out, err) = run(&db, &["outbox", "list", "--json"]);
    let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out:?} {err}"));
    assert!(ok);
    assert_eq!(
        (line["state"].as_str(), line["op"].as_str(), line["kind"].as_str()),
        (Some("pending"), Some("sync"), Some("User"))
    );

    let (ok, version, _) = run(&db, &["--version"]);
    assert!(ok && version.starts_with("scim-bridge "), "{version}");
}

#[test]
fn serve_prints_a_first_token_once_and_it_works() {
    let dir = tempfile::tempdir().unwrap();
    let db = scim_bridge::store::test_database(dir.path(), "serve.db").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let start = || {
        Command::new(BIN)
            .args(["--database", &db, "serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_remove("SCIM_BRIDGE_BOOTSTRAP_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts")
    };
    let mut first = start();
    let mut line = String::new();
    BufReader::new(first.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let token = line.trim().to_string();
    assert!(token.starts_with("scb_"), "{line:?}");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = rt.block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..50 {
            if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/scim/v2/Users")).bearer_auth(&token).send().await
            {
                return r.status().as_u16();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        0
    });
    assert_eq!(status, 200);
    first.kill().unwrap();
    first.wait().unwrap();

    // A second start finds a token and prints none.
    let mut second = start();
    std::thread::sleep(Duration::from_millis(700));
    second.kill().unwrap();
    let out = second.wait_with_output().unwrap();
    assert!(out.stdout.is_empty(), "{:?}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn serve_takes_a_config_file_under_the_environment_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = scim_bridge::store::test_database(dir.path(), "cfg.db").unwrap();
    let (file_port, env_port) = (free_port(), free_port());
    let config = dir.path().join("scim-bridge.toml");
    std::fs::write(&config, format!("listen = \"127.0.0.1:{file_port}\"\ndatabase_url = \"{db}\"\n")).unwrap();
    let mut child = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("SCIM_BRIDGE_LISTEN", format!("127.0.0.1:{env_port}"))
        .env("SCIM_BRIDGE_BOOTSTRAP_TOKEN", crate::helpers::TOKEN)
        .env("SCIM_BRIDGE_LISTN", "typo")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let up = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        std::net::TcpStream::connect(("127.0.0.1", env_port)).is_ok()
    });
    let file_port_used = std::net::TcpStream::connect(("127.0.0.1", file_port)).is_ok();
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(up && !file_port_used, "the environment's address wins over the file's: {err}");
    let pending = scim_bridge::store::Store::migrate(&db).unwrap();
    assert_eq!(pending, 0, "the file's database was used (and migrated)");
    assert!(err.contains("SCIM_BRIDGE_LISTN") && err.contains("did you mean SCIM_BRIDGE_LISTEN"), "{err}");
    // No Genesys credentials: the built-in simulator stands in, and says so loudly.
    assert!(err.contains("BUILT-IN GENESYS SIMULATOR") && err.contains("/sim/profiles/"), "{err}");
    // Logs into a pipe are plain text: no ANSI colour escapes.
    assert!(err.contains("INFO") && !err.contains('\u{1b}'), "{err:?}");

    std::fs::write(&config, "listen = \"127.0.0.1:1\"\n[genesys]\nclient_id = \"abc\"\napi = \"soap\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env_remove("SCIM_BRIDGE_BOOTSTRAP_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("2 problems in the configuration"), "{err}");
    assert!(err.contains("SCIM_BRIDGE_GENESYS_CLIENT_SECRET") && err.contains("use scim or platform"), "{err}");
}

#[test]
fn bad_values_are_refused_at_once_naming_the_file_the_variable_or_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scim-bridge.toml");
    std::fs::write(&config, "workers = \"many\"\n[genesys]\ndelete_mode = \"shred\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "serve", "--listen", "everywhere"])
        .env("SCIM_BRIDGE_GENESYS_API", "soap")
        .env("SCIM_BRIDGE_DRY_RUN", "maybe")
        .env("SCIM_BRIDGE_LISTEN", "127.0.0.1:1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("5 problems in the configuration"), "{err}");
    let file = config.display();
    for line in [
        format!("`workers` = \"many\" (from {file}): use a whole number of threads"),
        format!("`genesys.delete_mode` = \"shred\" (from {file}): use delete or deactivate"),
        "`genesys.api` = \"soap\" (from SCIM_BRIDGE_GENESYS_API): use scim or platform".to_string(),
        "`dry_run` = \"maybe\" (from SCIM_BRIDGE_DRY_RUN): use true or false".to_string(),
        "`listen` = \"everywhere\" (from --listen): use an address and port such as 127.0.0.1:8080".to_string(),
    ] {
        assert!(err.contains(&line), "{line} missing from:\n{err}");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn an_unreachable_database_url_is_never_printed_with_its_password() {
    // Nothing listens on port 1: the start fails, naming the database without its password.
    let url = "postgres://scim:s3cret-Passw0rd@127.0.0.1:1/scim";
    for args in [&["migrate"][..], &["serve", "--listen", "127.0.0.1:0"][..], &["token", "list"][..]] {
        let out = Command::new(BIN).arg("--database").arg(url).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} cannot work without its database");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!text.contains("s3cret-Passw0rd"), "{args:?} printed the password: {text}");
        assert!(text.contains("postgres://scim:***@127.0.0.1:1/scim"), "{args:?} names the database: {text}");
    }
}
