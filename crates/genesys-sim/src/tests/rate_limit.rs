//! The rate limiter's scope: each token counted on its own (Genesys, the default) or every token
//! of one OAuth client together (`--rate-limit-scope client`, `POST /sim/faults
//! {"rate_limit_scope": "client"}`), and what the answers and `/sim/stats` say about it.

use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

use super::{BASE, TestSim};
use crate::faults::RateInfo;
use crate::server::{Outcome, handle};
use crate::wire::Reply;
use crate::{Ctx, RateLimitScope, SimArgs};

/// `GET /api/v2/tokens/me` with `token`: the answer and the `inin-ratelimit-*` numbers it
/// carries.
fn get_with(t: &TestSim, token: &str) -> (Reply, RateInfo) {
    let config = t.sim.config();
    let mut inner = t.sim.lock();
    let ctx = Ctx {
        base: BASE.to_string(),
        query: Vec::new(),
        query_error: None,
        if_match: None,
        if_none_match: None,
        content_type: None,
        body: &[],
        token: None,
        config,
    };
    let authorization = format!("Bearer {token}");
    let (outcome, rate) = handle(&mut inner, ctx, "GET", &["api", "v2", "tokens", "me"], Some(&authorization), "test");
    match outcome {
        Outcome::Reply(r) => (r, rate),
        Outcome::Drop => panic!("connection dropped"),
    }
}

/// The status of a request with `token`.
fn status(t: &TestSim, token: &str) -> u16 {
    get_with(t, token).0.status
}

fn header<'r>(r: &'r Reply, name: &str) -> Option<&'r str> {
    r.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// A token issued to another OAuth client than the configured one (the login host knows one
/// client; the limiter counts by whatever client a token names).
fn token_of_other_client(t: &TestSim) -> String {
    t.sim.lock().tokens.issue(Instant::now(), Duration::from_secs(3600), "other-client")
}

#[test]
fn under_client_scope_two_tokens_of_one_client_share_one_window() {
    let t = TestSim::with(|c| {
        c.rate_limit_per_minute = 2;
        c.rate_limit_scope = RateLimitScope::Client;
    });
    let (a, b) = (t.token.clone(), t.sim.issue_token());
    let client = t.sim.config().client_id.clone();

    let (r, rate) = get_with(&t, &a);
    assert_eq!((r.status, rate.allowed, rate.count), (200, 2, 1));
    let (r, rate) = get_with(&t, &b);
    assert_eq!((r.status, rate.count), (200, 2), "the second token's request counts in the client's window");

    // Both tokens are now over the client's limit.
    for token in [&a, &b] {
        let (r, rate) = get_with(&t, token);
        assert_eq!(r.status, 429);
        let retry_after: u64 = header(&r, "retry-after").expect("Retry-After on a 429").parse().expect("seconds");
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert_eq!(retry_after, rate.reset_secs, "Retry-After is the client window's reset");
        assert_eq!(rate.allowed, 2);
        assert!(rate.count > 2, "the client's count: {}", rate.count);
        let body = r.body.expect("ErrorBody");
        assert_eq!(body["code"], "too.many.requests");
        assert_eq!(body["limit"]["value"], 2);
    }

    // Another client's token has a window of its own.
    let other = token_of_other_client(&t);
    let (r, rate) = get_with(&t, &other);
    assert_eq!((r.status, rate.count), (200, 1));

    let stats = t.sim.stats();
    assert_eq!(stats.rate_limit_scope, RateLimitScope::Client);
    assert_eq!(stats.rate_limited, 2);
    assert_eq!(stats.requests_by_client.get(&client), Some(&2), "refused requests are not admitted");
    assert_eq!(stats.requests_by_client.get("other-client"), Some(&1));
    let json = t.ok("GET", "/sim/stats", None, 200);
    assert_eq!(json["rate_limit_scope"], "client");
    assert_eq!(json["requests_by_client"], json!({client: 2, "other-client": 1}));
}

#[test]
fn under_token_scope_each_token_has_its_own_window() {
    let t = TestSim::with(|c| c.rate_limit_per_minute = 2);
    assert_eq!(t.sim.config().rate_limit_scope, RateLimitScope::Token, "the default");
    let (a, b) = (t.token.clone(), t.sim.issue_token());
    assert_eq!([status(&t, &a), status(&t, &a)], [200, 200]);
    let (r, rate) = get_with(&t, &a);
    assert_eq!((r.status, rate.count), (429, 3));
    assert!(header(&r, "retry-after").is_some(), "Retry-After on a 429");
    let (r, rate) = get_with(&t, &b);
    assert_eq!((r.status, rate.count), (200, 1), "the same client's other token is not limited");

    let stats = t.sim.stats();
    assert_eq!(stats.rate_limit_scope, RateLimitScope::Token);
    assert_eq!(stats.requests_by_client.get(&t.sim.config().client_id), Some(&3), "counted per client in any scope");
}

#[test]
fn the_scope_changes_through_sim_faults_and_restarts_the_windows() {
    let t = TestSim::new();
    assert_eq!(t.ok("GET", "/sim/faults", None, 200)["rate_limit_scope"], "token");
    t.ok("POST", "/sim/faults", Some(json!({"rate_limit_per_minute": 1})), 200);
    let (a, b) = (t.token.clone(), t.sim.issue_token());
    assert_eq!([status(&t, &a), status(&t, &b)], [200, 200], "token scope: one request each");
    assert_eq!(status(&t, &a), 429);

    let view = t.ok("POST", "/sim/faults", Some(json!({"rate_limit_scope": "client"})), 200);
    assert_eq!(view["rate_limit_scope"], "client");
    assert_eq!(view["rate_limit_per_minute"], 1, "the other settings stay");
    assert_eq!(t.ok("GET", "/sim/faults", None, 200)["rate_limit_scope"], "client");
    assert_eq!(t.ok("GET", "/sim/stats", None, 200)["rate_limit_scope"], "client");
    // The change cleared the windows: `a` is admitted again, and `b` now shares its window.
    assert_eq!([status(&t, &a), status(&t, &b)], [200, 429]);

    // Setting the scope in force again restarts nothing.
    t.ok("POST", "/sim/faults", Some(json!({"rate_limit_scope": "client"})), 200);
    assert_eq!(status(&t, &b), 429);

    let r = t.call("POST", "/sim/faults", Some(json!({"rate_limit_scope": "org"})));
    assert_eq!(r.status, 400, "{}", r.body);
    let message = r.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("token") && message.contains("client"), "{message}");
    assert_eq!(t.ok("GET", "/sim/faults", None, 200)["rate_limit_scope"], "client", "a refused update changes nothing");

    // Back to the start-up scope, with fresh windows.
    assert_eq!(t.ok("DELETE", "/sim/faults", None, 200)["rate_limit_scope"], "token");
    assert_eq!([status(&t, &a), status(&t, &b)], [200, 200]);

    // A simulator started with the client scope goes back to it.
    let t = TestSim::with(|c| c.rate_limit_scope = RateLimitScope::Client);
    t.ok("POST", "/sim/faults", Some(json!({"rate_limit_scope": "token"})), 200);
    assert_eq!(t.ok("DELETE", "/sim/faults", None, 200)["rate_limit_scope"], "client");
}

#[test]
fn scopes_parse_and_bad_ones_name_the_two_values() {
    assert_eq!("token".parse::<RateLimitScope>(), Ok(RateLimitScope::Token));
    assert_eq!(" Client ".parse::<RateLimitScope>(), Ok(RateLimitScope::Client));
    for bad in ["", "org", "tokens", "client_id"] {
        let e = bad.parse::<RateLimitScope>().expect_err(bad).to_string();
        assert!(e.contains("\"token\"") && e.contains("\"client\""), "{e}");
        assert!(e.contains(&format!("{bad:?}")), "names what was given: {e}");
    }
    for scope in [RateLimitScope::Token, RateLimitScope::Client] {
        assert_eq!(scope.to_string().parse::<RateLimitScope>(), Ok(scope), "Display and FromStr agree");
        assert_eq!(serde_json::to_value(scope).expect("json"), json!(scope.name()));
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }
    let args = ["genesys-sim", "--client-id", "c", "--client-secret", "s"];
    let cli = Cli::try_parse_from(args).expect("parses");
    assert_eq!(cli.sim.sim_config().rate_limit_scope, RateLimitScope::Token, "the default");
    let cli = Cli::try_parse_from(args.iter().copied().chain(["--rate-limit-scope", "client"])).expect("parses");
    assert_eq!(cli.sim.sim_config().rate_limit_scope, RateLimitScope::Client);
    let e = Cli::try_parse_from(args.iter().copied().chain(["--rate-limit-scope", "org"]))
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("--rate-limit-scope") && e.contains("\"token\"") && e.contains("\"client\""), "{e}");
}
