//! The bad-input table: hostile and malformed requests, each answered with the right status
//! (a SCIM error with the right `scimType` for every 4xx a SCIM handler gives), none a 5xx, and
//! the stored data unchanged afterwards, compared resource by resource.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TOKEN, TestApp, user_body};
use scim_bridge::config::{JwtConfig, JwtKey, Secret};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const JWT_SECRET: &str = "hostile-test-jwt-secret-of-length";

/// What a case expects back.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// A SCIM error with this status and, when given, this `scimType`.
    Scim(u16, Option<&'static str>),
    /// A success with this status: the hostile part is data (an injection inside a quoted
    /// filter value is a value like any other, matching nothing).
    Ok(u16),
}

struct Case {
    name: String,
    method: Method,
    path: String,
    body: Option<Vec<u8>>,
    content_type: Option<&'static str>,
    /// `None`: the test token.
    authorization: Option<String>,
    headers: Vec<(&'static str, String)>,
    want: Want,
}

impl Case {
    fn new(name: impl Into<String>, method: Method, path: impl Into<String>, want: Want) -> Case {
        Case {
            name: name.into(),
            method,
            path: path.into(),
            body: None,
            content_type: None,
            authorization: None,
            headers: Vec::new(),
            want,
        }
    }
    fn body(mut self, bytes: impl Into<Vec<u8>>) -> Case {
        self.body = Some(bytes.into());
        self.content_type.get_or_insert("application/scim+json");
        self
    }
    fn json(self, v: Value) -> Case {
        self.body(v.to_string())
    }
    fn typed(mut self, ct: &'static str) -> Case {
        self.content_type = Some(ct);
        self
    }
    fn auth(mut self, value: impl Into<String>) -> Case {
        self.authorization = Some(value.into());
        self
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.headers.push((name, value.into()));
        self
    }
}

fn post(name: &str, path: &str, want: Want) -> Case {
    Case::new(name, Method::POST, path, want)
}
fn get(name: &str, path: impl Into<String>, want: Want) -> Case {
    Case::new(name, Method::GET, path, want)
}
fn patch(name: &str, path: &str, operations: Value, want: Want) -> Case {
    Case::new(name, Method::PATCH, path, want).json(json!({"schemas": [PATCH], "Operations": operations}))
}

fn syntax() -> Want {
    Want::Scim(400, Some("invalidSyntax"))
}
fn value() -> Want {
    Want::Scim(400, Some("invalidValue"))
}
fn filter() -> Want {
    Want::Scim(400, Some("invalidFilter"))
}
fn bad_path() -> Want {
    Want::Scim(400, Some("invalidPath"))
}
fn unauthorized() -> Want {
    Want::Scim(401, None)
}

/// A user body with one attribute replaced.
fn user_with(attribute: &str, v: Value) -> Value {
    let mut u = user_body("hostile-new@example.com");
    u[attribute] = v;
    u
}

fn b64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

fn jwt(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn cases(user: &str, group: &str, revoked: &str) -> Vec<Case> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let claims = |extra: Value| {
        let mut c = json!({"iss": "https://idp.example.com", "aud": "scim-bridge", "exp": now + 300});
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        c
    };
    let user_path = format!("/Users/{user}");
    let group_path = format!("/Groups/{group}");
    let mut v = Vec::new();

    // Broken JSON.
    for (name, body) in [
        ("unterminated object", &b"{"[..]),
        ("missing value", b"{\"userName\": }"),
        ("trailing comma", b"{\"userName\": \"a@example.com\",}"),
        ("single quotes", b"{'userName': 'a@example.com'}"),
        ("empty body", b""),
        ("trailing garbage", b"{\"userName\": \"a@example.com\"} x"),
        ("NaN", b"{\"userName\": \"a@example.com\", \"x\": NaN}"),
        ("raw control character in a string", b"{\"userName\": \"a\x01b@example.com\"}"),
        ("invalid UTF-8", b"{\"userName\": \"\xff\xfe@example.com\"}"),
        ("lone surrogate escape", b"{\"userName\": \"\\ud800@example.com\"}"),
        ("bad escape", b"{\"userName\": \"\\q@example.com\"}"),
        ("comment", b"{\"userName\": \"a@example.com\" /* hi */}"),
        ("two documents", b"{\"userName\": \"a@example.com\"}{\"userName\": \"b@example.com\"}"),
    ] {
        v.push(post(&format!("broken JSON: {name}"), "/Users", syntax()).body(body));
    }
    for (name, body) in [("a list", json!([1, 2])), ("a string", json!("user")), ("null", Value::Null)] {
        v.push(post(&format!("not an object: {name}"), "/Users", syntax()).json(body));
    }
    v.push(patch("PATCH body is a list", &user_path, json!([]), Want::Scim(400, None)).json(json!([])));

    // Deep nesting (serde_json stops at 128 levels) and nested filters.
    let deep = |depth: usize| {
        format!("{{\"userName\": \"d@example.com\", \"x\": {}1{}}}", "[".repeat(depth), "]".repeat(depth))
    };
    v.push(post("nesting 200 deep", "/Users", syntax()).body(deep(200)));
    v.push(post("nesting 600000 deep, over the size limit", "/Users", Want::Scim(413, None)).body(deep(600_000)));
    let objects = format!("{{\"userName\": \"d@example.com\", \"x\": {}1{}}}", "{\"a\":".repeat(300), "}".repeat(300));
    v.push(post("objects nested 300 deep", "/Users", syntax()).body(objects));
    let parens = format!("{}userName eq \"a\"{}", "(".repeat(2000), ")".repeat(2000));
    v.push(Case::new("filter nested 2000 parentheses", Method::POST, "/Users/.search", filter()).json(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": parens})));
    let nots = format!("{}userName eq \"a\"{}", "not (".repeat(2000), ")".repeat(2000));
    v.push(Case::new("filter nested 2000 nots", Method::POST, "/Users/.search", filter()).json(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": nots})));
    for (terms, want) in [(1000, Want::Ok(200)), (5000, filter())] {
        let ors = vec!["userName eq \"a\""; terms].join(" or ");
        v.push(
            Case::new(format!("filter of {terms} ors (1024 terms at most)"), Method::POST, "/Users/.search", want)
                .json(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": ors})),
        );
    }

    // Huge strings and arrays.
    v.push(
        post("body over the size limit", "/Users", Want::Scim(413, None))
            .json(user_with("title", json!("x".repeat(2 << 20)))),
    );
    let emails: Vec<Value> = (0..20_000).map(|i| json!({"value": format!("{i}@x.io")})).collect();
    v.push(post("20000 e-mail addresses", "/Users", value()).json(user_with("emails", json!(emails))));
    let phones: Vec<Value> = (0..5000).map(|i| json!({"type": "work", "value": format!("+1415555{i:04}")})).collect();
    v.push(post("5000 phone numbers", "/Users", value()).json(user_with("phoneNumbers", json!(phones))));
    v.push(get(
        "query string of 40 KB",
        format!("/Users?filter=userName+eq+%22{}%22", "a".repeat(40_000)),
        Want::Ok(200),
    ));
    v.push(get(
        "filter value of 20 KB",
        format!("/Users?filter=userName+eq+%22{}%22", "a".repeat(20_000)),
        Want::Ok(200),
    ));

    // Wrong types, attribute type by attribute type.
    for (attribute, bad, want) in [
        ("userName", json!(5), value()),
        ("userName", json!(""), value()),
        ("userName", json!(null), value()),
        ("userName", json!({"value": "a"}), value()),
        ("active", json!("maybe"), value()),
        ("active", json!(1), value()),
        ("active", json!([]), value()),
        ("name", json!("Jane Doe"), value()),
        ("name", json!({"givenName": 5}), value()),
        ("name", json!({"givenName": ["Jane"]}), value()),
        ("emails", json!("a@example.com"), value()),
        ("emails", json!({"value": "a@example.com"}), value()),
        ("emails", json!(["a@example.com"]), value()),
        ("emails", json!([{"value": "a@example.com", "primary": "maybe"}]), value()),
        ("emails", json!([{"value": 5}]), value()),
        ("phoneNumbers", json!([{"type": "eightbyeight", "value": true}]), value()),
        ("externalId", json!(true), value()),
        ("displayName", json!(["x"]), value()),
        ("profileUrl", json!(5), value()),
        ("x509Certificates", json!([{"value": "not base64 !!"}]), value()),
        ("schemas", json!([5]), syntax()),
        ("schemas", json!([GROUP]), value()),
        ("schemas", json!(["urn:ietf:params:scim:schemas:core:2.0:Robot"]), value()),
        ("schemas", json!([PATCH]), value()),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", json!("x"), value()),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", json!({"employeeNumber": 5}), value()),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", json!({"manager": {"value": 5}}), value()),
    ] {
        v.push(post(&format!("{attribute} = {bad}"), "/Users", want).json(user_with(attribute, bad)));
    }
    for (name, body) in [
        ("group without displayName", json!({"schemas": [GROUP]})),
        ("group displayName a number", json!({"schemas": [GROUP], "displayName": 5})),
        ("group members a string", json!({"schemas": [GROUP], "displayName": "g", "members": "x"})),
        ("group member value a number", json!({"schemas": [GROUP], "displayName": "g", "members": [{"value": 5}]})),
        (
            "group member naming nothing",
            json!({"schemas": [GROUP], "displayName": "g", "members": [{"value": "nobody"}]}),
        ),
        ("group posted as a user", json!({"schemas": [USER], "displayName": "g"})),
    ] {
        v.push(post(name, "/Groups", value()).json(body));
    }
    v.push(post("NUL in userName", "/Users", value()).json(user_with("userName", json!("a\u{0}b@example.com"))));
    v.push(post("NUL in a title", "/Users", value()).json(user_with("title", json!("boss\u{0}"))));
    v.push(post("NUL in an attribute name", "/Users", value()).json(user_with("ti\u{0}tle", json!("boss"))));
    v.push(post("duplicate key", "/Users", syntax()).body(
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"], \"userName\": \"dup1@example.com\", \"userName\": \"dup2@example.com\"}",
    ));
    v.push(post("duplicate key differing in case", "/Users", value()).body(
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"], \"userName\": \"dup1@example.com\", \"USERNAME\": \"dup2@example.com\"}",
    ));
    v.push(patch("duplicate key in a PATCH operation", &user_path, json!([]), syntax()).body(format!(
        "{{\"schemas\": [\"{PATCH}\"], \"Operations\": [{{\"op\": \"replace\", \"path\": \"title\", \"value\": \"a\", \"value\": \"b\"}}]}}"
    )));
    v.push(
        post("userName taken", "/Users", Want::Scim(409, Some("uniqueness"))).json(user_body("hostile@example.com")),
    );
    v.push(
        post("userName taken, other case", "/Users", Want::Scim(409, Some("uniqueness")))
            .json(user_body("HOSTILE@example.COM")),
    );

    // Content types and methods.
    v.push(
        post("text/plain body", "/Users", Want::Scim(415, None)).json(user_body("ct@example.com")).typed("text/plain"),
    );
    v.push(post("XML body", "/Users", Want::Scim(415, None)).body("<user/>").typed("application/xml"));
    v.push(Case::new("DELETE the collection", Method::DELETE, "/Users", Want::Scim(405, None)));
    v.push(Case::new("PUT discovery", Method::PUT, "/ServiceProviderConfig", Want::Scim(405, None)).json(json!({})));
    v.push(post("POST to a resource", &user_path, Want::Scim(405, None)).json(user_body("x@example.com")));
    v.push(get("unknown endpoint", "/Robots", Want::Scim(404, None)));
    v.push(get("/Me", "/Me", Want::Scim(501, None)));

    // Filters: syntax, injection, values of the wrong type.
    for (f, want) in [
        ("userName zz \"a\"", filter()),
        ("userName eq", filter()),
        ("userName eq \"a", filter()),
        ("emails[value eq \"a\"", filter()),
        ("userName eq \"a\" or", filter()),
        ("(userName eq \"a\"", filter()),
        ("userName eq \"a\" OR 1=1", filter()),
        ("userName eq \"a\"; DROP TABLE resources; --", filter()),
        ("userName eq a' OR '1'='1", filter()),
        ("userName) or (1 eq 1", filter()),
        ("meta.lastModified gt \"yesterday\"", filter()),
        ("active eq \"maybe\"", filter()),
        ("userName eq \"x\\\" OR \\\"1\\\"=\\\"1\"", Want::Ok(200)),
        ("userName eq \"a' OR '1'='1\"", Want::Ok(200)),
        ("userName eq \"'; DROP TABLE resources; --\"", Want::Ok(200)),
        ("userName co \"%\"", Want::Ok(200)),
        ("userName sw \"_\"", Want::Ok(200)),
        ("userName eq \"a\u{0}b\"", filter()),
        ("displayName eq \"\\u0000\"", filter()),
        ("emails[value eq \"a\" or value pr]", Want::Ok(200)),
    ] {
        let q: String = url_encode(f);
        v.push(get(&format!("filter {f:?}"), format!("/Users?filter={q}"), want));
    }
    for (params, want) in [
        ("count=-1", Want::Ok(200)),
        ("count=abc", Want::Scim(400, Some("invalidValue"))),
        ("count=99999999999999999999999", Want::Ok(200)),
        ("startIndex=0", Want::Ok(200)),
        ("startIndex=-99", Want::Ok(200)),
        ("startIndex=99999999999999999999999", Want::Ok(200)),
        ("startIndex=1.5", Want::Scim(400, Some("invalidValue"))),
        ("sortBy=userName%3B%20DROP%20TABLE%20resources", Want::Scim(400, Some("invalidPath"))),
        ("sortOrder=sideways", Want::Scim(400, Some("invalidValue"))),
        ("attributes=..%2F..%2Fetc", Want::Ok(200)),
        ("cursor=%27%20OR%201%3D1", Want::Scim(400, Some("invalidCursor"))),
        ("cursor&startIndex=2", Want::Scim(400, None)),
    ] {
        v.push(get(&format!("list with {params}"), format!("/Users?{params}"), want));
    }
    v.push(get("resource id with a NUL", "/Users/a%00b", Want::Scim(404, None)));
    v.push(get("resource id of invalid UTF-8", "/Users/%FF%FE", Want::Scim(404, None)));
    v.push(get("resource id with SQL", "/Users/1'%20OR%20'1'%3D'1", Want::Scim(404, None)));
    v.push(get("resource id with a path traversal", "/Users/..%2F..%2Fetc%2Fpasswd", Want::Scim(404, None)));

    // PATCH paths and operations.
    for (ops, want) in [
        (json!([{"op": "replace", "path": "/userName", "value": "x"}]), bad_path()),
        (json!([{"op": "replace", "path": "/name/givenName", "value": "x"}]), bad_path()),
        (json!([{"op": "replace", "path": "name..givenName", "value": "x"}]), bad_path()),
        (json!([{"op": "replace", "path": "emails[value eq \"x\"", "value": "x"}]), bad_path()),
        (json!([{"op": "replace", "path": "emails[value eq \"x\"].value.deeper", "value": "x"}]), bad_path()),
        (json!([{"op": "replace", "path": "userName; DROP TABLE resources", "value": "x"}]), bad_path()),
        (json!([{"op": "replace", "path": "../meta", "value": "x"}]), bad_path()),
        (json!([{"op": "replace", "path": "x".repeat(50_000), "value": "x"}]), bad_path()),
        (json!([{"op": "replace", "path": "meta.version", "value": "W/\"9\""}]), Want::Scim(400, Some("mutability"))),
        (json!([{"op": "replace", "path": "id", "value": "other"}]), Want::Scim(400, Some("mutability"))),
        (json!([{"op": "replace", "path": "groups", "value": []}]), Want::Scim(400, Some("mutability"))),
        (json!([{"op": "move", "path": "title", "value": "x"}]), Want::Scim(400, None)),
        (json!([{"path": "title", "value": "x"}]), Want::Scim(400, None)),
        (json!([{"op": "add", "path": "title"}]), Want::Scim(400, None)),
        (json!([{"op": "replace", "path": "active", "value": "perhaps"}]), value()),
        (json!([{"op": "replace", "path": "userName", "value": 5}]), value()),
        (json!([{"op": "replace", "path": "userName", "value": ""}]), value()),
        (json!([{"op": "replace", "path": "emails", "value": "a@example.com"}]), value()),
        (json!([{"op": "remove", "path": "userName"}]), Want::Scim(400, None)),
        (json!([{"op": "replace", "value": "not an object"}]), Want::Scim(400, None)),
        (
            json!([{"op": "replace", "path": "title", "value": "x"}, {"op": "replace", "path": "nosuch", "value": "y"}]),
            bad_path(),
        ),
        (json!("Operations as a string"), Want::Scim(400, None)),
    ] {
        v.push(patch(&format!("PATCH {}", truncate(&ops.to_string())), &user_path, ops, want));
    }
    v.push(patch("PATCH without schemas", &user_path, json!([]), Want::Scim(400, None)).json(json!({
        "Operations": [{"op": "replace", "path": "title", "value": "x"}], "schemas": ["urn:evil"]})));
    v.push(patch("PATCH with no operations", &user_path, json!([]), Want::Scim(400, None)));
    v.push(patch(
        "PATCH a group with a member naming nothing",
        &group_path,
        json!([{"op": "add", "path": "members", "value": [{"value": "nobody"}]}]),
        value(),
    ));
    v.push(patch(
        "PATCH a group's members by a filter injection",
        &group_path,
        json!([{"op": "remove", "path": "members[value eq \"x\" or 1 eq 1]"}]),
        Want::Scim(400, None),
    ));

    // Versions.
    v.push(
        patch(
            "PATCH with a stale If-Match",
            &user_path,
            json!([{"op": "replace", "path": "title", "value": "x"}]),
            Want::Scim(412, None),
        )
        .header("if-match", "W/\"999\""),
    );
    v.push(
        Case::new("PUT with a stale If-Match", Method::PUT, user_path.clone(), Want::Scim(412, None))
            .json(user_body("hostile@example.com"))
            .header("if-match", "W/\"999\""),
    );
    v.push(
        Case::new("DELETE with a stale If-Match", Method::DELETE, user_path.clone(), Want::Scim(412, None))
            .header("if-match", "W/\"0\""),
    );
    v.push(
        Case::new("DELETE with a garbage If-Match", Method::DELETE, group_path.clone(), Want::Scim(412, None))
            .header("if-match", "\"; DROP TABLE"),
    );

    // Bulk.
    let op = |i: usize| json!({"method": "POST", "bulkId": format!("b{i}"), "path": "/Users", "data": user_body(&format!("bulk{i}@example.com"))});
    let many: Vec<Value> = (0..1001).map(op).collect();
    v.push(
        post("Bulk over maxOperations", "/Bulk", Want::Scim(413, None))
            .json(json!({"schemas": [BULK], "Operations": many})),
    );
    let fat =
        vec![json!({"method": "POST", "path": "/Users", "data": user_with("title", json!("x".repeat(900_000)))}); 5];
    v.push(
        post("Bulk over maxPayloadSize", "/Bulk", Want::Scim(413, None))
            .json(json!({"schemas": [BULK], "Operations": fat})),
    );
    v.push(post("Bulk without Operations", "/Bulk", Want::Scim(400, None)).json(json!({"schemas": [BULK]})));
    v.push(
        post("Bulk failOnErrors a string", "/Bulk", Want::Scim(400, None))
            .json(json!({"schemas": [BULK], "failOnErrors": "x", "Operations": [op(1)]})),
    );
    v.push(post("Bulk of broken JSON", "/Bulk", syntax()).body("{\"schemas\": [\"x\"], \"Operations\": [{"));
    // Bulk answers 200 with each operation's own error (RFC 7644 §3.7.3).
    // (The first of two POSTs with one bulkId runs, here refused as a taken userName; the
    // second is refused for the duplicate.)
    let mut taken = op(1);
    taken["data"] = user_body("hostile@example.com");
    v.push(
        post("Bulk with a duplicate bulkId", "/Bulk", Want::Ok(200))
            .json(json!({"schemas": [BULK], "Operations": [taken, op(1)]})),
    );
    v.push(post("Bulk with an unresolvable reference", "/Bulk", Want::Ok(200)).json(json!({"schemas": [BULK], "failOnErrors": 1, "Operations": [
        {"method": "POST", "bulkId": "g", "path": "/Groups", "data": {"schemas": [GROUP], "displayName": "G", "members": [{"value": "bulkId:nobody"}]}}]})));

    // Authentication.
    let none_header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64url(claims(json!({})).to_string().as_bytes());
    for (name, authorization) in [
        ("no Authorization", String::new()),
        ("Basic credentials", "Basic dXNlcjpwYXNz".to_string()),
        ("empty bearer", "Bearer ".to_string()),
        ("wrong token", "Bearer not-the-token".to_string()),
        ("token of 16 KB", format!("Bearer {}", "t".repeat(16_000))),
        ("revoked token", format!("Bearer {revoked}")),
        ("JWT with alg none", format!("Bearer {none_header}.{payload}.")),
        ("JWT with alg none and a signature", format!("Bearer {none_header}.{payload}.c2ln")),
        (
            "JWT signed with a wrong key",
            format!("Bearer {}", jwt(claims(json!({})), "a-wrong-key-of-sufficient-length!")),
        ),
        ("expired JWT", format!("Bearer {}", jwt(claims(json!({"exp": now - 600})), JWT_SECRET))),
        ("JWT not valid yet", format!("Bearer {}", jwt(claims(json!({"nbf": now + 3600})), JWT_SECRET))),
        ("JWT for another audience", format!("Bearer {}", jwt(claims(json!({"aud": "other"})), JWT_SECRET))),
        (
            "JWT from another issuer",
            format!("Bearer {}", jwt(claims(json!({"iss": "https://evil.example.com"})), JWT_SECRET)),
        ),
        (
            "JWT without exp",
            format!("Bearer {}", jwt(json!({"iss": "https://idp.example.com", "aud": "scim-bridge"}), JWT_SECRET)),
        ),
        ("JWT with a tampered payload", {
            let good = jwt(claims(json!({})), JWT_SECRET);
            let parts: Vec<&str> = good.split('.').collect();
            format!(
                "Bearer {}.{}.{}",
                parts[0],
                b64url(claims(json!({"sub": "admin"})).to_string().as_bytes()),
                parts[2]
            )
        }),
        ("three dots of garbage", "Bearer a.b.c".to_string()),
    ] {
        v.push(
            post(&format!("auth: {name}"), "/Users", unauthorized())
                .json(user_body("auth@example.com"))
                .auth(authorization),
        );
    }
    v
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Everything stored, as the API shows it.
async fn snapshot(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    for kind in ["Users", "Groups"] {
        let r = app.get(&format!("/{kind}?count=1000")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        all.extend(r.body["Resources"].as_array().unwrap().iter().cloned());
    }
    all
}

#[tokio::test]
async fn hostile_and_malformed_requests_get_the_right_error_and_change_nothing() {
    let app = TestApp::spawn_with(|c| {
        c.jwt = Some(JwtConfig {
            key: JwtKey::Hs256(Secret::new(JWT_SECRET)),
            issuer: "https://idp.example.com".into(),
            audience: "scim-bridge".into(),
        });
    })
    .await;
    let mut body = user_body("hostile@example.com");
    body["emails"] = json!([{"value": "hostile@example.com", "type": "work", "primary": true}]);
    body["phoneNumbers"] = json!([{"type": "eightbyeight", "value": "+14155550100"}]);
    let r = app.post("/Users", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let user = r.body["id"].as_str().unwrap().to_string();
    let group = app.create_group("Hostile", &[user.as_str()]).await;
    let store = scim_bridge::store::Store::open(&app.db_path()).unwrap();
    let revoked = store.create_token("revoked").unwrap();
    assert!(store.revoke_token("revoked").unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let before = snapshot(&app).await;

    let cases = cases(&user, &group, &revoked);
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for case in &cases {
        let mut rb = app.client.request(case.method.clone(), format!("{}{}", app.base, case.path));
        match &case.authorization {
            None => rb = rb.bearer_auth(TOKEN),
            Some(a) if a.is_empty() => {}
            Some(a) => rb = rb.header("authorization", a),
        }
        if let Some(ct) = case.content_type {
            rb = rb.header("content-type", ct);
        }
        for (k, val) in &case.headers {
            rb = rb.header(*k, val);
        }
        if let Some(b) = &case.body {
            rb = rb.body(b.clone());
        }
        let r = rb.send().await.unwrap_or_else(|e| panic!("{}: no answer: {}", case.name, truncate(&e.to_string())));
        let status = r.status().as_u16();
        let ctype = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let text = r.text().await.unwrap_or_default();
        let got: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let problem = match case.want {
            // 501 is the one 5xx a case asks for (`/Me`, RFC 7644 §3.11).
            Want::Scim(501, _) if status == 501 => None,
            _ if status >= 500 => Some(format!("a server error {status}")),
            Want::Ok(want) if status != want => Some(format!("status {status}, want {want}")),
            Want::Ok(_) => None,
            Want::Scim(want, _) if status != want => Some(format!("status {status}, want {want}")),
            Want::Scim(want, scim_type) => {
                let typed = scim_type.is_none_or(|t| got["scimType"] == t);
                let detail = got["detail"].as_str().is_some_and(|d| d.len() > 10);
                if got["schemas"][0] != ERROR
                    || got["status"].as_str() != Some(want.to_string().as_str())
                    || !ctype.starts_with("application/scim+json")
                {
                    Some("not a SCIM error".into())
                } else if !typed {
                    Some(format!("scimType {}, want {scim_type:?}", got["scimType"]))
                } else if !detail {
                    Some("no helpful detail".into())
                } else {
                    None
                }
            }
        };
        if let Some(p) = problem {
            wrong.push(format!("{}: {p}: {}", case.name, text.chars().take(400).collect::<String>()));
        }
    }
    assert!(wrong.is_empty(), "{} of {} cases answered wrongly:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
    let after = snapshot(&app).await;
    let names = |all: &[Value]| {
        all.iter()
            .map(|r| r["userName"].as_str().or(r["displayName"].as_str()).unwrap_or("?").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&before), names(&after), "resources were added or removed");
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a, "a resource changed");
    }
    assert_eq!(app.get("/Users?count=0").await.body["totalResults"], 1, "counts unchanged");
    println!("{} hostile requests answered as they should, the data unchanged", cases.len());
}
