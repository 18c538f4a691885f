//! The `/admin` status page in a real browser: Debian's Chromium, headless, driven over WebDriver
//! (chromedriver's HTTP protocol, with the reqwest client the tests already use). The page is
//! loaded, signed in to, a dead change is retried with its button, and seen delivered.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::TestApp;
use scim_bridge::config::Secret;

const ADMIN_TOKEN: &str = "admin-token-for-the-browser-test";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver, killed on drop.
struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
    /// Paths (`/session/{id}`) of the sessions not closed yet.
    sessions: std::sync::Mutex<Vec<String>>,
}

impl Drop for Driver {
    /// Close the sessions still open (a failed test never reached `close`), so that chromedriver
    /// quits the Chromium it started, then stop chromedriver.
    fn drop(&mut self) {
        let open: Vec<String> = std::mem::take(&mut *self.sessions.lock().unwrap_or_else(|p| p.into_inner()));
        for path in open {
            delete_blocking(&self.base, &path);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `DELETE path` to chromedriver without an async runtime (drop may run during a panic).
fn delete_blocking(base: &str, path: &str) {
    use std::io::{Read, Write};
    let Some(addr) = base.strip_prefix("http://") else { return };
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else { return };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!("DELETE {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_ok() {
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }
}

struct Session<'d> {
    driver: &'d Driver,
    url: String,
}

impl Driver {
    async fn start() -> Driver {
        let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        assert!(
            std::path::Path::new(&bin).exists(),
            "{bin} is missing: install Debian's chromium and chromium-driver (scripts/prerequisites.sh does)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            sessions: std::sync::Mutex::default(),
        };
        let started = Instant::now();
        loop {
            if let Ok(r) = driver.http.get(format!("{}/status", driver.base)).send().await
                && r.json::<Value>().await.is_ok_and(|v| v["value"]["ready"] == true)
            {
                return driver;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver never became ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn session(&self) -> Session<'_> {
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": binary,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
        }}}});
        let r: Value =
            self.http.post(format!("{}/session", self.base)).json(&caps).send().await.unwrap().json().await.unwrap();
        let id = r["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no browser session: {r}"));
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).push(format!("/session/{id}"));
        Session { driver: self, url: format!("{}/session/{id}", self.base) }
    }
}

impl Session<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.driver.http.request(method, format!("{}{path}", self.url));
        rb = rb.json(&body.unwrap_or_else(|| json!({})));
        let r: Value = rb.send().await.unwrap().json().await.unwrap();
        assert!(r["value"].get("error").is_none(), "WebDriver {path}: {r}");
        r["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    async fn find(&self, css: &str) -> String {
        let v =
            self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        v[ELEMENT].as_str().unwrap().to_string()
    }

    async fn exists(&self, css: &str) -> bool {
        let body = json!({"using": "css selector", "value": css});
        let r: Value = self
            .driver
            .http
            .post(format!("{}/elements", self.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["value"].as_array().is_some_and(|a| !a.is_empty())
    }

    /// Click, and when the click submits a form, wait for the next page (navigating away
    /// before it arrives would cancel the submission).
    async fn click(&self, css: &str) {
        let before = self.find("body").await;
        let e = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{e}/click"), None).await;
        let started = Instant::now();
        loop {
            let r: Value = self
                .driver
                .http
                .get(format!("{}/element/{before}/name", self.url))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if r["value"].get("error").is_some() {
                return; // the old page is gone
            }
            assert!(started.elapsed() < Duration::from_secs(10), "clicking {css} loaded no page");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{e}/value"), Some(json!({"text": text}))).await;
    }

    async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn current_url(&self) -> String {
        self.driver.http.get(format!("{}/url", self.url)).send().await.unwrap().json::<Value>().await.unwrap()["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn close(self) {
        let _ = self.driver.http.delete(&self.url).send().await;
        let path = self.url.trim_start_matches(&self.driver.base).to_string();
        self.driver.sessions.lock().unwrap_or_else(|p| p.into_inner()).retain(|s| *s != path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_in_a_browser_retries_a_dead_change_and_shows_it_delivered() {
    let app = TestApp::spawn_with(|c| c.admin_token = Some(Secret::new(ADMIN_TOKEN))).await;
    // A group Genesys does not have yet: its change is parked as dead.
    let user = app.create_user("browser@example.com").await;
    let group = app.create_group("Support", &[&user]).await;
    let store = scim_bridge::store::Store::open(&app.db_path()).unwrap();
    let started = Instant::now();
    while !store.outbox_dead().unwrap().iter().any(|d| d.resource_id == group) {
        assert!(started.elapsed() < Duration::from_secs(20), "the group change was never parked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let driver = Driver::start().await;
    let browser = driver.session().await;
    let admin = format!("http://{}/admin", app.addr);
    browser.go(&admin).await;
    assert!(browser.current_url().await.ends_with("/admin/login"), "unauthenticated: sent to sign in");
    browser.type_into("#token", "not-the-token").await;
    browser.click("#sign-in").await;
    assert!(browser.exists("#token").await, "a wrong token stays on the sign-in form");
    browser.type_into("#token", ADMIN_TOKEN).await;
    browser.click("#sign-in").await;
    assert!(browser.current_url().await.ends_with("/admin"));
    let components = browser.text("#components").await;
    assert!(components.contains("database") && components.contains("Genesys") && components.contains("outbox"));
    let dead = browser.text("#dead").await;
    assert!(dead.contains(&group) && dead.contains("create it in Genesys"), "the dead change with its error: {dead}");
    assert_eq!(browser.text("#dead-count").await, "1");

    // The operator fixes the cause (the group now exists in Genesys) and presses Retry.
    app.sim_admin(reqwest::Method::POST, "/sim/groups", Some(json!({"displayName": "Support"}))).await;
    browser.click(&format!("button.retry[data-id=\"{group}\"]")).await;
    let started = Instant::now();
    loop {
        browser.go(&admin).await;
        if browser.exists("#no-dead").await {
            let recent = browser.text("#recent").await;
            if recent.lines().any(|l| l.contains(&group) && l.contains("delivered")) {
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            let page = browser.call(reqwest::Method::GET, "/source", None).await;
            panic!("never shown delivered; the page: {}", page.as_str().unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    browser.close().await;
}

#[tokio::test]
async fn the_status_page_is_off_without_a_token_and_refuses_a_wrong_bearer() {
    let off = TestApp::spawn().await;
    let r = off.client.get(format!("http://{}/admin", off.addr)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("SCIM_BRIDGE_ADMIN_TOKEN"));

    let app = TestApp::spawn_with(|c| c.admin_token = Some(Secret::new(ADMIN_TOKEN))).await;
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = format!("http://{}/admin", app.addr);
    let r = no_redirect.get(&page).bearer_auth("wrong-token-of-some-length").send().await.unwrap();
    assert_eq!(r.status(), 303, "to the sign-in form");
    let r = no_redirect.get(&page).bearer_auth(crate::helpers::TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 303, "a SCIM token is not the admin token");
    let r = no_redirect.get(&page).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = no_redirect.post(format!("{page}/retry")).form(&[("resource_id", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 303, "a retry needs the token");
    assert_eq!(r.headers()["location"], "/admin/login");
}
