//! `scim-soak`: a bounded soak of scim-bridge, on loopback only, that stops by itself.
//!
//! It starts `scim-bridge genesys-sim` (injecting a moderate mix of faults all along, plus a
//! short outage, 429 storm, latency beyond the bridge's Genesys timeout or burst of 5xx in
//! turn) and `scim-bridge serve` forwarding to it, then drives the bridge from many connections
//! for the given time, as IdPs do: creates, PATCHes of the 8x8 number
//! (`phoneNumbers[type eq "eightbyeight"].value`) and of other attributes, reads, filters, pages,
//! Bulk requests and deletes. Each connection owns the users it created, so it knows what each
//! must look like. Afterwards the faults stop, the outbox drains, and the Genesys side must
//! match the bridge's store: every live user present and active with its 8x8 number, every
//! deleted one deactivated (the default delete mode) or never created, none created twice.
//!
//! Reported: requests served, answers by kind (method, route, status), failures (any 5xx, any
//! status an operation does not expect, transport errors), the bridge's resident memory at the
//! start, the end and its peak (`VmRSS`, `VmHWM` of /proc/PID/status), checked against bounds.
//! Exits non-zero when any check fails. `scripts/soak.sh` builds the binaries and runs it.
//!
//! Must not import anything of the bridge: it talks to it over HTTP only, as an IdP does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};

const TOKEN: &str = "scim-soak-bootstrap-token";
const CLIENT_ID: &str = "scim-soak";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const EIGHT_BY_EIGHT: &str = "phoneNumbers[type eq \"eightbyeight\"].value";
/// Where the simulator's profile keeps the Other Phone, the 8x8 number's home in Genesys.
const OTHER_PHONE: &str = "/contactInfo/0/phone_other/0/value/number";
const MIB: u64 = 1024 * 1024;

#[derive(Debug, Parser)]
#[command(version, about = "A bounded soak of scim-bridge against a faulty Genesys simulator")]
struct Args {
    /// The scim-bridge binary (it also runs the simulator, `scim-bridge genesys-sim`).
    #[arg(long)]
    bin: PathBuf,
    /// How long the load runs, in minutes (fractions allowed: 0.5 is 30 s).
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// `sqlite` (a fresh file in the work directory) or an empty PostgreSQL database's URL.
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// Concurrent IdP connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Requests per second over all connections (0: as fast as the bridge answers).
    #[arg(long, default_value_t = 150)]
    rate: u32,
    /// Where the database file and the logs go (default: a new directory under the system's
    /// temporary directory, removed after a run that passed).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Largest resident size the bridge may reach (VmHWM), in MiB.
    #[arg(long, default_value_t = 200)]
    max_rss_mib: u64,
    /// Most the bridge's resident size may grow from the start to the end of the run, in MiB.
    #[arg(long, default_value_t = 64)]
    max_rss_growth_mib: u64,
    /// How long the outbox may take to drain once the faults stop, in seconds.
    #[arg(long, default_value_t = 300)]
    drain_timeout: u64,
}

/// The processes started here, killed (by their own pid) when dropped.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What the connections saw, shared.
#[derive(Default)]
struct Tally {
    /// `"POST /Users 201"` → count.
    by_kind: BTreeMap<String, u64>,
    /// Failures by kind, and a few samples of each with the answer's body.
    failures: BTreeMap<String, u64>,
    samples: Vec<String>,
    served: u64,
}

impl Tally {
    fn answer(&mut self, kind: &str, status: u16) {
        self.served += 1;
        *self.by_kind.entry(format!("{kind} {status}")).or_default() += 1;
    }

    fn fail(&mut self, kind: String, sample: String) {
        *self.failures.entry(kind).or_default() += 1;
        if self.samples.len() < 20 {
            self.samples.push(sample);
        }
    }
}

/// A user a connection created and still has.
#[derive(Clone)]
struct Owned {
    id: String,
    user_name: String,
    number: String,
}

/// What one connection leaves behind.
#[derive(Default)]
struct Outcome {
    live: Vec<Owned>,
    deleted: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("scim-soak: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn log_file(dir: &Path, name: &str) -> anyhow::Result<Stdio> {
    Ok(Stdio::from(std::fs::File::create(dir.join(name)).with_context(|| format!("creating {name}"))?))
}

async fn wait_up(http: &reqwest::Client, url: &str, procs: &mut Procs) -> anyhow::Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        if procs.0.iter_mut().any(|c| c.try_wait().ok().flatten().is_some()) {
            bail!("a process exited while starting; see the logs in the work directory");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{url} did not answer within 30 s")
}

/// `VmRSS` and `VmHWM` of a process, in bytes.
fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
    };
    Some((field("VmRSS:")? * 1024, field("VmHWM:")? * 1024))
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let duration = Duration::from_secs_f64(args.minutes.max(0.05) * 60.0);
    let dir = match &args.work_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("scim-soak-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let database = if args.database == "sqlite" {
        dir.join("soak.db").to_string_lossy().into_owned()
    } else {
        args.database.clone()
    };
    let shown_database = if args.database == "sqlite" { "SQLite".to_string() } else { "PostgreSQL".to_string() };
    let (sim_port, bridge_port) = (free_port()?, free_port()?);
    let sim = format!("http://127.0.0.1:{sim_port}");
    let bridge = format!("http://127.0.0.1:{bridge_port}");
    let secret = format!("soak-secret-{}", rand::random::<u64>());
    let mut procs = Procs(Vec::new());

    procs.0.push(
        Command::new(&args.bin)
            .args(["genesys-sim", "--listen", &format!("127.0.0.1:{sim_port}"), "--client-id", CLIENT_ID])
            // Ample for the load: the faults, not the quota, are what is soaked.
            .args(["--rate-limit-per-minute", "30000", "--workers", "2"])
            .env("SCIM_BRIDGE_SIM_CLIENT_SECRET", &secret)
            .env("RUST_LOG", "warn")
            .stdout(log_file(&dir, "genesys-sim.log")?)
            .stderr(log_file(&dir, "genesys-sim.log.err")?)
            .spawn()
            .context("starting scim-bridge genesys-sim")?,
    );
    // Idle connections are dropped before the bridge's 5 s keep-alive closes them, as an IdP's
    // client should: otherwise a request may go out on a connection the server is closing at
    // that moment and fail in transport (the tests' client does the same, tests/it/helpers.rs).
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_idle_timeout(Duration::from_secs(3))
        .pool_max_idle_per_host(64)
        .build()?;
    wait_up(&http, &format!("{sim}/sim/stats"), &mut procs).await?;
    procs.0.push(
        Command::new(&args.bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{bridge_port}")])
            .env("SCIM_BRIDGE_DATABASE_URL", &database)
            .env("SCIM_BRIDGE_BOOTSTRAP_TOKEN", TOKEN)
            .env("SCIM_BRIDGE_GENESYS_API_URL", &sim)
            .env("SCIM_BRIDGE_GENESYS_LOGIN_URL", &sim)
            .env("SCIM_BRIDGE_GENESYS_CLIENT_ID", CLIENT_ID)
            .env("SCIM_BRIDGE_GENESYS_CLIENT_SECRET", &secret)
            // Short, so that the latency episodes below are timeouts.
            .env("SCIM_BRIDGE_GENESYS_TIMEOUT", "3")
            .env_remove("SCIM_BRIDGE_GENESYS_REGION")
            .env("RUST_LOG", "warn")
            .stdout(log_file(&dir, "bridge.log")?)
            .stderr(log_file(&dir, "bridge.log.err")?)
            .spawn()
            .context("starting scim-bridge serve")?,
    );
    let bridge_pid = procs.0[1].id();
    wait_up(&http, &format!("{bridge}/healthz"), &mut procs).await?;
    let scim = format!("{bridge}/scim/v2");
    let existing = get_json(&http, &format!("{scim}/Users?count=0")).await?;
    if existing["totalResults"].as_u64() != Some(0) {
        bail!("the database already holds users; the soak needs an empty one to compare with Genesys");
    }
    let (rss_start, _) = memory(bridge_pid).context("reading the bridge's memory in /proc")?;

    println!(
        "soak: {:.1} min, {} connections at {} req/s, {shown_database}, bridge pid {bridge_pid}, logs in {}",
        duration.as_secs_f64() / 60.0,
        args.connections,
        if args.rate == 0 { "as many".to_string() } else { args.rate.to_string() },
        dir.display()
    );

    // Memory, sampled every second while the soak runs; one sample each tenth of the run is
    // kept for the report, to tell a plateau from a leak.
    let peak = Arc::new(Mutex::new(rss_start));
    let timeline = Arc::new(Mutex::new(Vec::<(u64, u64)>::new()));
    let sampler = {
        let (peak, timeline) = (peak.clone(), timeline.clone());
        let every = (duration / 10).max(Duration::from_secs(1));
        tokio::spawn(async move {
            let begun = Instant::now();
            let mut next = every;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Some((rss, _)) = memory(bridge_pid) {
                    let mut p = peak.lock().unwrap_or_else(|p| p.into_inner());
                    *p = (*p).max(rss);
                    if begun.elapsed() >= next {
                        timeline.lock().unwrap_or_else(|p| p.into_inner()).push((begun.elapsed().as_secs(), rss));
                        next += every;
                    }
                }
            }
        })
    };

    let started = Instant::now();
    let deadline = started + duration;
    let faults = tokio::spawn(inject_faults(http.clone(), sim.clone(), deadline, duration));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let interval = (args.rate > 0).then(|| Duration::from_secs_f64(args.connections as f64 / f64::from(args.rate)));
    let outcomes: Vec<Outcome> = futures_util::stream::iter(0..args.connections)
        .map(|n| connection(n, http.clone(), scim.clone(), deadline, interval, tally.clone()))
        .buffer_unordered(args.connections)
        .collect()
        .await;
    let load_time = started.elapsed();
    let fault_log = faults.await.unwrap_or_default();

    // The faults stop; the outbox drains.
    send(&http, Method::DELETE, &format!("{sim}/sim/faults"), None).await?;
    let drain_started = Instant::now();
    let mut drained = None;
    let mut last = Value::Null;
    while drain_started.elapsed() < Duration::from_secs(args.drain_timeout) {
        last = get_json(&http, &format!("{bridge}/readyz")).await.unwrap_or(Value::Null);
        let outbox = &last["checks"]["outbox"];
        if outbox["pending"].as_i64() == Some(0) {
            drained = Some(drain_started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    sampler.abort();
    let (rss_end, hwm) = memory(bridge_pid).context("reading the bridge's memory in /proc")?;
    let rss_peak = (*peak.lock().unwrap_or_else(|p| p.into_inner())).max(hwm);

    // What the bridge holds, what the connections believe, what Genesys shows.
    let mut model: BTreeMap<String, String> = BTreeMap::new();
    let mut deleted: Vec<String> = Vec::new();
    for o in &outcomes {
        model.extend(o.live.iter().map(|u| (u.user_name.to_lowercase(), u.number.clone())));
        deleted.extend(o.deleted.iter().map(|n| n.to_lowercase()));
    }
    let store = store_users(&http, &scim).await?;
    let mut mismatches: Vec<String> = Vec::new();
    for (name, number) in &model {
        match store.get(name) {
            None => mismatches.push(format!("{name}: accepted, missing from the bridge's store")),
            Some(n) if n.as_deref() != Some(number.as_str()) => {
                mismatches.push(format!("{name}: the store has 8x8 {n:?}, the IdP sent {number}"))
            }
            Some(_) => {}
        }
    }
    for name in store.keys().filter(|n| !model.contains_key(*n)) {
        mismatches.push(format!("{name}: in the store, but the IdP never created it or deleted it"));
    }
    let checks: Vec<(String, Option<String>, bool)> = futures_util::stream::iter(store.iter())
        .map(|(name, number)| {
            let (http, sim) = (http.clone(), sim.clone());
            async move {
                let p = profile(&http, &sim, name).await;
                let ok = p.as_ref().is_some_and(|p| {
                    p["state"] == "active" && p.pointer(OTHER_PHONE).and_then(Value::as_str) == number.as_deref()
                });
                (name.clone(), p.map(|p| p.to_string()), ok)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut genesys_bad: Vec<String> = checks
        .into_iter()
        .filter(|(_, _, ok)| !ok)
        .map(|(name, p, _)| format!("{name}: Genesys shows {}", p.unwrap_or_else(|| "no such user".into())))
        .collect();
    let gone: Vec<(String, Option<Value>)> = futures_util::stream::iter(deleted.iter())
        .map(|name| {
            let (http, sim) = (http.clone(), sim.clone());
            async move { (name.clone(), profile(&http, &sim, name).await) }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    for (name, p) in &gone {
        // Deleted before its create went out: never created in Genesys, which is as good.
        if let Some(p) = p.as_ref().filter(|p| p["state"] != "inactive") {
            genesys_bad.push(format!("{name}: deleted in the bridge, Genesys shows it {}", p["state"]));
        }
    }
    let stats = get_json(&http, &format!("{sim}/sim/stats")).await?;
    let twice: Vec<String> = stats["creates_by_user_name"]
        .as_object()
        .map(|m| m.iter().filter(|(_, n)| n.as_u64() > Some(1)).map(|(k, n)| format!("{k} ×{n}")).collect())
        .unwrap_or_default();

    // The report.
    let t = tally.lock().unwrap_or_else(|p| p.into_inner());
    println!(
        "requests: {} served in {:.0} s ({:.0}/s) from {} connections",
        t.served,
        load_time.as_secs_f64(),
        t.served as f64 / load_time.as_secs_f64(),
        args.connections
    );
    println!("answers by kind:");
    for (kind, n) in &t.by_kind {
        println!("  {kind:<28} {n}");
    }
    let failed: u64 = t.failures.values().sum();
    println!("failures: {failed}");
    for (kind, n) in &t.failures {
        println!("  {kind:<28} {n}");
    }
    for s in &t.samples {
        println!("  e.g. {s}");
    }
    println!("faults injected by the simulator: {}", stats["faults_injected"]);
    println!(
        "  episodes: {}; Genesys calls {}, of them 429 {}, dropped connections {}",
        fault_log.join(", "),
        stats["requests"],
        stats["rate_limited"],
        stats["dropped_connections"]
    );
    let growth_ok = rss_end <= rss_start + args.max_rss_growth_mib * MIB;
    let peak_ok = rss_peak <= args.max_rss_mib * MIB;
    println!(
        "bridge RSS: start {:.1} MiB, end {:.1} MiB, peak {:.1} MiB (bounds: end <= start + {} MiB: {}; peak <= {} MiB: {})",
        rss_start as f64 / MIB as f64,
        rss_end as f64 / MIB as f64,
        rss_peak as f64 / MIB as f64,
        args.max_rss_growth_mib,
        verdict(growth_ok),
        args.max_rss_mib,
        verdict(peak_ok)
    );
    let samples: Vec<String> = timeline
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(at, rss)| format!("{at} s {:.1}", *rss as f64 / MIB as f64))
        .collect();
    println!("  RSS during the run (MiB): {}", samples.join(", "));
    let dead = last["checks"]["outbox"]["dead"].as_i64().unwrap_or(0);
    match drained {
        Some(d) => println!("outbox: drained {:.1} s after the faults stopped; {dead} dead", d.as_secs_f64()),
        None => println!(
            "outbox: NOT drained within {} s: {}",
            args.drain_timeout,
            last.get("checks").map(|c| c["outbox"].to_string()).unwrap_or_default()
        ),
    }
    let matched = mismatches.is_empty() && genesys_bad.is_empty() && twice.is_empty();
    println!("store vs IdP: {} live users, {} deleted; {} mismatches", store.len(), deleted.len(), mismatches.len());
    println!(
        "Genesys vs store: {} live users checked (present, active, same 8x8 number), {} deleted checked (deactivated or never created); {} wrong, {} created twice",
        store.len(),
        deleted.len(),
        genesys_bad.len(),
        twice.len()
    );
    for m in mismatches.iter().chain(&genesys_bad).chain(&twice).take(20) {
        println!("  {m}");
    }
    let pass = failed == 0 && growth_ok && peak_ok && drained.is_some() && dead == 0 && matched && t.served > 0;
    println!("RESULT: {}", if pass { "PASS" } else { "FAIL" });
    drop(procs);
    // A directory of our own making goes when it passed; one that failed is kept for its logs.
    if pass && args.work_dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(pass)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "EXCEEDED" }
}

/// The fault episodes, one every `period`, on top of a moderate mix all along; returns what
/// was injected.
async fn inject_faults(http: reqwest::Client, sim: String, deadline: Instant, duration: Duration) -> Vec<String> {
    let url = format!("{sim}/sim/faults");
    let baseline = json!({
        "error_rate": 0.02, "error_status": [500, 502, 503, 504],
        "drop_connection_rate": 0.01, "lose_response_rate": 0.01,
    });
    let mut log = vec!["2 % 5xx, 1 % dropped, 1 % answers lost throughout".to_string()];
    if send(&http, Method::POST, &url, Some(baseline.clone())).await.is_err() {
        return log;
    }
    // Five episodes over a short run, one a minute over a long one.
    let period = (duration / 6).clamp(Duration::from_secs(10), Duration::from_secs(60));
    let episode = Duration::from_secs(8).min(period / 2);
    let secs = episode.as_secs().max(1);
    let episodes = [
        ("outage", json!({"outage_for_seconds": secs})),
        ("429 storm", json!({"storm_429_for_seconds": secs, "retry_after_seconds": 2})),
        ("latency 5 s (over the 3 s timeout)", json!({"latency_ms": 5000})),
        ("30 % 5xx", json!({"error_rate": 0.3})),
    ];
    let mut i = 0;
    loop {
        tokio::time::sleep(period.min(deadline.saturating_duration_since(Instant::now()))).await;
        if Instant::now() + episode >= deadline {
            return log;
        }
        let (name, body) = &episodes[i % episodes.len()];
        if send(&http, Method::POST, &url, Some(body.clone())).await.is_err() {
            return log;
        }
        log.push(format!("{name} {secs} s"));
        tokio::time::sleep(episode).await;
        // Back to the baseline (latency and error rates stay until changed; the storm and the
        // outage end by themselves).
        let mut back = baseline.clone();
        back["latency_ms"] = json!(0);
        back["retry_after_seconds"] = json!(0);
        let _ = send(&http, Method::POST, &url, Some(back)).await;
        i += 1;
    }
}

/// One IdP connection until `deadline`: a mix of writes and reads on the users it created.
async fn connection(
    n: usize,
    http: reqwest::Client,
    scim: String,
    deadline: Instant,
    interval: Option<Duration>,
    tally: Arc<Mutex<Tally>>,
) -> Outcome {
    let mut rng = StdRng::seed_from_u64(rand::random::<u64>() ^ n as u64);
    let mut out = Outcome::default();
    let mut seq = 0u64;
    let mut tick = interval.map(|i| {
        let mut t = tokio::time::interval(i);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let c = Conn { http: &http, scim: &scim, tally: &tally };
    while Instant::now() < deadline {
        if let Some(t) = &mut tick {
            t.tick().await;
        }
        let roll = rng.random_range(0..100u32);
        let pick = (!out.live.is_empty()).then(|| rng.random_range(0..out.live.len()));
        match (roll, pick) {
            (_, None) | (0..25, _) => {
                seq += 1;
                let user_name = format!("soak-{n}-{seq}@example.com");
                let number = phone(&mut rng);
                let body = user_body(&user_name, &number);
                if let Some(v) = c.call(Method::POST, "/Users", "POST /Users", Some(body), &[201]).await
                    && let Some(id) = v["id"].as_str()
                {
                    out.live.push(Owned { id: id.to_string(), user_name, number });
                }
            }
            (25..45, Some(i)) => {
                let number = phone(&mut rng);
                let body = patch(json!([{"op": "replace", "path": EIGHT_BY_EIGHT, "value": number}]));
                let path = format!("/Users/{}", out.live[i].id);
                if c.call(Method::PATCH, &path, "PATCH /Users 8x8", Some(body), &[200]).await.is_some() {
                    out.live[i].number = number;
                }
            }
            (45..50, Some(i)) => {
                let body = patch(
                    json!([{"op": "replace", "path": "title", "value": format!("Title {}", rng.random_range(0..1000))}]),
                );
                let path = format!("/Users/{}", out.live[i].id);
                c.call(Method::PATCH, &path, "PATCH /Users title", Some(body), &[200]).await;
            }
            (50..60, Some(i)) => {
                let path = format!("/Users/{}", out.live[i].id);
                c.call(Method::GET, &path, "GET /Users/{id}", None, &[200]).await;
            }
            (60..75, Some(i)) => {
                let filter = encode(&format!("userName eq \"{}\"", out.live[i].user_name));
                let path = format!("/Users?filter={filter}");
                if let Some(v) = c.call(Method::GET, &path, "GET /Users?filter", None, &[200]).await
                    && v["totalResults"].as_u64() != Some(1)
                {
                    c.fail("filter missed a live user", format!("{path}: {v}"));
                }
            }
            (75..85, _) => {
                let start = rng.random_range(1..=200);
                let path = format!("/Users?startIndex={start}&count=50");
                c.call(Method::GET, &path, "GET /Users page", None, &[200]).await;
            }
            (85..90, Some(i)) => {
                let mut ops = Vec::new();
                let mut made = Vec::new();
                for b in 0..2 {
                    seq += 1;
                    let user_name = format!("soak-{n}-{seq}@example.com");
                    let number = phone(&mut rng);
                    ops.push(json!({"method": "POST", "path": "/Users", "bulkId": format!("b{b}"), "data": user_body(&user_name, &number)}));
                    made.push((user_name, number));
                }
                let number = phone(&mut rng);
                ops.push(json!({"method": "PATCH", "path": format!("/Users/{}", out.live[i].id),
                    "data": patch(json!([{"op": "replace", "path": EIGHT_BY_EIGHT, "value": number}]))}));
                let body = json!({"schemas": [BULK_REQUEST], "Operations": ops});
                if let Some(v) = c.call(Method::POST, "/Bulk", "POST /Bulk", Some(body), &[200]).await {
                    let answers = v["Operations"].as_array().cloned().unwrap_or_default();
                    let status =
                        |k: usize| answers.get(k).and_then(|o| o["status"].as_str()).unwrap_or("none").to_string();
                    for (k, (user_name, number)) in made.into_iter().enumerate() {
                        let id = answers.get(k).and_then(|o| o["location"].as_str()).and_then(|l| l.rsplit('/').next());
                        match (status(k).as_str(), id) {
                            ("201", Some(id)) => out.live.push(Owned { id: id.to_string(), user_name, number }),
                            (s, _) => c.fail(format!("Bulk POST {s}"), format!("{v}")),
                        }
                    }
                    match status(2).as_str() {
                        "200" => out.live[i].number = number,
                        s => c.fail(format!("Bulk PATCH {s}"), format!("{v}")),
                    }
                }
            }
            (_, Some(i)) => {
                let path = format!("/Users/{}", out.live[i].id);
                if c.call(Method::DELETE, &path, "DELETE /Users", None, &[204]).await.is_some() {
                    let gone = out.live.swap_remove(i);
                    out.deleted.push(gone.user_name);
                }
            }
        }
    }
    out
}

struct Conn<'a> {
    http: &'a reqwest::Client,
    scim: &'a str,
    tally: &'a Mutex<Tally>,
}

impl Conn<'_> {
    fn fail(&self, kind: impl Into<String>, sample: String) {
        let sample: String = sample.chars().take(400).collect();
        self.tally.lock().unwrap_or_else(|p| p.into_inner()).fail(kind.into(), sample);
    }

    /// One request; the answer's body when its status is one of `expect`, else `None` and a
    /// failure recorded (a 429 the bridge throttled with is counted, waited out, and not a
    /// failure: the change was not made and the connection knows it).
    async fn call(&self, method: Method, path: &str, kind: &str, body: Option<Value>, expect: &[u16]) -> Option<Value> {
        let url = format!("{}{path}", self.scim);
        match send(self.http, method, &url, body).await {
            Ok((status, v, retry_after)) => {
                self.tally.lock().unwrap_or_else(|p| p.into_inner()).answer(kind, status);
                if expect.contains(&status) {
                    return Some(v);
                }
                if status == 429 && retry_after.is_some() {
                    tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1).min(5))).await;
                    return None;
                }
                self.fail(format!("{kind} {status}"), format!("{kind} {path} -> {status}: {v}"));
                None
            }
            Err(e) => {
                self.fail(format!("{kind} transport error"), format!("{kind} {path}: {e:#}"));
                None
            }
        }
    }
}

/// Send with the bridge's token; the status, the JSON body (or `Null`), and `Retry-After`.
async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value, Option<u64>)> {
    let mut rb = http.request(method, url).bearer_auth(TOKEN);
    if let Some(b) = body {
        rb = rb.header("content-type", "application/scim+json").body(b.to_string());
    }
    let resp = rb.send().await?;
    let status = resp.status().as_u16();
    let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()?.trim().parse().ok());
    let text = resp.text().await?;
    let v = serde_json::from_str(&text).unwrap_or(if text.is_empty() { Value::Null } else { Value::String(text) });
    Ok((status, v, retry_after))
}

async fn get_json(http: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    Ok(send(http, Method::GET, url, None).await?.1)
}

/// The simulator's profile of a user (`None` when Genesys has no such user).
async fn profile(http: &reqwest::Client, sim: &str, user_name: &str) -> Option<Value> {
    for _ in 0..3 {
        match send(http, Method::GET, &format!("{sim}/sim/profiles/{}", encode(user_name)), None).await {
            Ok((200, v, _)) => return Some(v),
            Ok((404, ..)) => return None,
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    None
}

/// Every user the bridge holds: lower-cased userName → its 8x8 number.
async fn store_users(http: &reqwest::Client, scim: &str) -> anyhow::Result<BTreeMap<String, Option<String>>> {
    let mut users = BTreeMap::new();
    let mut start = 1;
    loop {
        let url = format!("{scim}/Users?startIndex={start}&count=1000&attributes=userName,phoneNumbers");
        let (status, page, _) = send(http, Method::GET, &url, None).await?;
        if status != 200 {
            bail!("listing the bridge's users: {status} {page}");
        }
        let resources = page["Resources"].as_array().cloned().unwrap_or_default();
        for u in &resources {
            let name = u["userName"].as_str().unwrap_or_default().to_lowercase();
            let number = u["phoneNumbers"].as_array().and_then(|ps| {
                ps.iter().find(|p| p["type"] == "eightbyeight").and_then(|p| p["value"].as_str()).map(str::to_string)
            });
            users.insert(name, number);
        }
        let total = page["totalResults"].as_u64().unwrap_or(0) as usize;
        start += resources.len();
        if resources.is_empty() || start > total {
            return Ok(users);
        }
    }
}

fn user_body(user_name: &str, number: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Soak", "familyName": "Test"},
        "displayName": format!("Soak {user_name}"),
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "phoneNumbers": [{"value": number, "type": "eightbyeight"}],
        "active": true
    })
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// A US number in E.164 (as Genesys stores it, so the comparison is exact).
fn phone(rng: &mut StdRng) -> String {
    format!("+1415{:07}", rng.random_range(2_000_000..10_000_000u32))
}

/// Percent-encoding for a query value or path segment.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
