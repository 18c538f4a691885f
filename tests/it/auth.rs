use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use crate::helpers::TestApp;
use scim_bridge::config::{JwtConfig, JwtKey, Secret};

async fn status_with(app: &TestApp, auth: Option<&str>) -> (u16, serde_json::Value, Option<String>) {
    let mut rb = app.client.get(format!("{}/Users", app.base));
    if let Some(a) = auth {
        rb = rb.header("authorization", a);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let www = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
    (status, r.json().await.unwrap_or_default(), www)
}

#[tokio::test]
async fn missing_or_wrong_token_is_a_scim_401_with_www_authenticate() {
    let app = TestApp::spawn().await;
    for auth in [None, Some("Bearer wrong"), Some("Basic dXNlcjpwYXNz")] {
        let (status, body, www) = status_with(&app, auth).await;
        assert_eq!(status, 401);
        assert_eq!(body["status"], "401");
        assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
        assert!(www.unwrap().starts_with("Bearer"));
    }
    let (status, _, _) = status_with(&app, Some("Bearer test-bootstrap-token")).await;
    assert_eq!(status, 200);
    // Health needs no token.
    let r = app.client.get(format!("http://{}/healthz", app.addr)).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn stored_tokens_work_and_revocation_takes_effect() {
    let app = TestApp::spawn().await;
    let store = scim_bridge::store::Store::open(&app.db_path()).unwrap();
    let token = store.create_token("okta").unwrap();
    let (status, _, _) = status_with(&app, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, 200, "a token created while the server runs is accepted");
    assert!(store.revoke_token("okta").unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (status, _, _) = status_with(&app, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, 401, "a revoked token is refused within the refresh interval");
}

#[tokio::test]
async fn jwt_bearer_tokens_are_checked_for_signature_issuer_audience_and_expiry() {
    let app = TestApp::spawn_with(|c| {
        c.jwt = Some(JwtConfig {
            key: JwtKey::Hs256(Secret::new("jwt-test-secret-of-decent-length")),
            issuer: "https://idp.example.com".into(),
            audience: "scim-bridge".into(),
        });
    })
    .await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let sign = |claims: serde_json::Value, secret: &str| {
        jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    };
    let good = sign(
        json!({"iss": "https://idp.example.com", "aud": "scim-bridge", "exp": now + 300}),
        "jwt-test-secret-of-decent-length",
    );
    assert_eq!(status_with(&app, Some(&format!("Bearer {good}"))).await.0, 200);
    let cases = [
        json!({"iss": "https://evil.example.com", "aud": "scim-bridge", "exp": now + 300}),
        json!({"iss": "https://idp.example.com", "aud": "other", "exp": now + 300}),
        json!({"iss": "https://idp.example.com", "aud": "scim-bridge", "exp": now - 3600}),
        json!({"iss": "https://idp.example.com", "aud": "scim-bridge"}),
    ];
    for claims in cases {
        let t = sign(claims.clone(), "jwt-test-secret-of-decent-length");
        assert_eq!(status_with(&app, Some(&format!("Bearer {t}"))).await.0, 401, "{claims}");
    }
    let forged =
        sign(json!({"iss": "https://idp.example.com", "aud": "scim-bridge", "exp": now + 300}), "another-secret");
    let (status, body, _) = status_with(&app, Some(&format!("Bearer {forged}"))).await;
    assert_eq!(status, 401);
    assert!(body["detail"].as_str().unwrap().contains("signature"));
}

#[tokio::test]
async fn jwt_with_rs256_and_es256_public_keys() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({"iss": "https://login.example.com", "aud": "scim", "exp": now + 300});
    for (alg, public, private) in [
        (jsonwebtoken::Algorithm::RS256, "jwt-rs256-public.pem", "jwt-rs256-private.pem"),
        (jsonwebtoken::Algorithm::ES256, "jwt-es256-public.pem", "jwt-es256-private.pk8.pem"),
    ] {
        let key_file = fixtures.join(public);
        let app = TestApp::spawn_with(|c| {
            c.jwt = Some(JwtConfig {
                key: JwtKey::from_pem_file(&key_file).unwrap(),
                issuer: "https://login.example.com".into(),
                audience: "scim".into(),
            });
        })
        .await;
        let pem = std::fs::read(fixtures.join(private)).unwrap();
        let key = match alg {
            jsonwebtoken::Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem).unwrap(),
            _ => EncodingKey::from_ec_pem(&pem).unwrap(),
        };
        let token = jsonwebtoken::encode(&Header::new(alg), &claims, &key).unwrap();
        assert_eq!(status_with(&app, Some(&format!("Bearer {token}"))).await.0, 200, "{alg:?}");
        // An HS256 token signed with the public key as secret (algorithm confusion) is refused.
        let confused = jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&std::fs::read(fixtures.join(public)).unwrap()),
        )
        .unwrap();
        assert_eq!(status_with(&app, Some(&format!("Bearer {confused}"))).await.0, 401, "{alg:?}");
    }
}

/// Failed authentications past `auth_failure_limit` in a minute get 429 with `Retry-After` for
/// that address (even with a good token then), and only for it; successes never count.
#[tokio::test]
async fn failed_authentications_are_throttled_per_address() {
    let app = TestApp::spawn_with(|c| c.auth_failure_limit = 5).await;
    // Successes do not count.
    for _ in 0..20 {
        assert_eq!(status_with(&app, Some("Bearer test-bootstrap-token")).await.0, 200);
    }
    for i in 0..5 {
        assert_eq!(status_with(&app, Some("Bearer guess")).await.0, 401, "failure {i}");
    }
    let r = app.client.get(format!("{}/Users", app.base)).bearer_auth("test-bootstrap-token").send().await.unwrap();
    assert_eq!(r.status(), 429, "the address is refused, good token or not");
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "429");
    assert!(body["detail"].as_str().unwrap().contains("failed authentications"), "{body}");
    // Another address is served, and the operator routes stay open.
    let other =
        reqwest::Client::builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let r = other.get(format!("{}/Users", app.base)).bearer_auth("test-bootstrap-token").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.client.get(format!("http://{}/healthz", app.addr)).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// With `token_rate_limit`, a credential gets a second's worth at once, then the rate, then 429
/// with `Retry-After`; other credentials keep their own budget.
#[tokio::test]
async fn the_per_token_rate_limit_answers_429_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.token_rate_limit = 5).await;
    let store = scim_bridge::store::Store::open(&app.db_path()).unwrap();
    let okta = store.create_token("okta").unwrap();
    let mut statuses = Vec::new();
    let mut retry = None;
    let started = std::time::Instant::now();
    for _ in 0..12 {
        let r = app.client.get(format!("{}/Users", app.base)).bearer_auth("test-bootstrap-token").send().await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        }
    }
    let took = started.elapsed();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    // 5 at once, and 5 more a second: in `took` at most 5 + 5 * took.
    let most = 5 + (5.0 * took.as_secs_f64()).ceil() as usize;
    assert!(ok >= 5 && ok <= most, "{statuses:?} in {took:?}");
    assert!(statuses.contains(&429), "{statuses:?} in {took:?}");
    assert_eq!(retry.as_deref(), Some("1"));
    let r = app.client.get(format!("{}/Users", app.base)).bearer_auth(&okta).send().await.unwrap();
    assert_eq!(r.status(), 200, "another token has its own budget");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = app.client.get(format!("{}/Users", app.base)).bearer_auth("test-bootstrap-token").send().await.unwrap();
    assert_eq!(r.status(), 200, "the budget refills");
}
