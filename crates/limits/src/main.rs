//! `scim-limits`: what this machine allows, measured beside scim-bridge in the same benchmark
//! run (`scripts/bench.sh --limits`, docs/benchmarks.md "Close to the machine's limits"), so that
//! each phase of the bridge can be stated as a share of its limit.
//!
//! * `trivial-get`: an actix-web server (as many workers as the bridge's default: one per core)
//!   answering `GET /scim/v2/Users/{id}` with a small JSON user (about the size of the bridge's
//!   answer, `application/scim+json`, serialised per request) and nothing else: no
//!   authentication, no database, no middleware. wrk drives it exactly as the bridge's GET phase.
//! * `sqlite-txn`: in this process, on a fresh SQLite file made by the bridge's own migrations
//!   and opened with the bridge's writer PRAGMAs (and its background WAL checkpointer), the rows
//!   the bridge writes for a create (the user row, its three searchable value rows, its outbox
//!   row, its audit row and its page count), one `BEGIN IMMEDIATE` transaction per user; then
//!   the rows a PATCH of the 8x8 number writes (the user row's version, time and document, the
//!   old phone value row out and the new one in, the outbox upsert, the audit row), one
//!   transaction per PATCH of a random user. Statements are diesel's, prepared once, as the
//!   bridge's are. This is the floor cost of the same writes without HTTP, JSON parsing,
//!   validation or the writer queue: a create of the bridge cannot be cheaper, except that the
//!   bridge's group commit shares one COMMIT between the writes queued at the same moment.
//!
//! Must not import anything of the bridge: it copies the few table definitions it writes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel::upsert::excluded;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The bridge's SQLite schema (its migrations directory, embedded as the bridge embeds it).
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// The bridge's PRAGMAs for every SQLite connection, then those of its writer (src/store).
const PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA cache_size = -4000; PRAGMA mmap_size = 0; PRAGMA temp_store = MEMORY;";
const WRITER_PRAGMAS: &str =
    "PRAGMA cache_size = -16000; PRAGMA wal_autocheckpoint = 4000; PRAGMA journal_size_limit = 67108864;";
/// How often the bridge's checkpointer thread runs a passive WAL checkpoint.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// Rows per page-count key block and shards per block, as the bridge counts them.
const COUNT_SHARDS: i64 = 16;

#[derive(Parser)]
#[command(name = "scim-limits", about = "The machine's limits beside scim-bridge's benchmark (docs/benchmarks.md)")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Serve GET /scim/v2/Users/{id} with a small JSON user until stopped (SIGTERM or SIGINT).
    TrivialGet {
        /// Loopback address to listen on.
        #[arg(long, default_value = "127.0.0.1:8099")]
        listen: std::net::SocketAddr,
        /// Worker threads; 0 = one per core, the bridge's default.
        #[arg(long, default_value_t = 0)]
        workers: usize,
    },
    /// Run the bridge's create and PATCH writes in-process, one transaction each, and print
    /// one line per kind: `LIMIT name=... rps=... count=... seconds=...`.
    SqliteTxn {
        /// A SQLite file to create (it must not exist yet).
        #[arg(long)]
        database: PathBuf,
        /// Users to create, one transaction each.
        #[arg(long, default_value_t = 10_000)]
        users: u64,
        /// PATCHes of the 8x8 number of a random created user, one transaction each.
        #[arg(long, default_value_t = 10_000)]
        patches: u64,
        /// Writes per transaction: 1 (the default) is one transaction per write; N > 1 runs N
        /// writes per transaction, each in its own savepoint, as the bridge's group commit does
        /// with N writes queued at once.
        #[arg(long, default_value_t = 1)]
        batch: u64,
        /// Which rows: `bridge` (the default) writes every row the bridge writes; `user-outbox`
        /// only the user row, its value rows and its outbox row (no audit row, no page count).
        #[arg(long, value_enum, default_value_t = Rows::Bridge)]
        rows: Rows,
        /// Users to create first, untimed (256 to a transaction), so that the timed writes run
        /// against a collection of `prefill + users` users, as the bridge's phases after
        /// `measure.sh --grow-to` do; PATCHes then pick from all of them. Each timed line's
        /// name gets `.<prefill + users>`.
        #[arg(long, default_value_t = 0)]
        prefill: u64,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Rows {
    Bridge,
    UserOutbox,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().mode {
        Mode::TrivialGet { listen, workers } => trivial_get(listen, workers),
        Mode::SqliteTxn { database, users, patches, batch, rows, prefill } => {
            sqlite_txn(&database, Counts { users, patches, prefill }, batch, rows)
        }
    }
}

// ---- trivial-get

async fn user(id: web::Path<String>) -> HttpResponse {
    let id = id.into_inner();
    let body = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id,
        "externalId": "bench-limits-1",
        "userName": "limits000001@example.com",
        "name": {"familyName": "Family1", "givenName": "Given1"},
        "displayName": "Given1 Family1",
        "active": true,
        "emails": [{"value": "limits000001@example.com", "type": "work", "primary": true}],
        "phoneNumbers": [
            {"value": "+14150000001", "type": "eightbyeight"},
            {"value": "+16500000001", "type": "mobile"}
        ],
        "meta": {
            "resourceType": "User",
            "created": "2026-12-06T06:25:55.785Z",
            "lastModified": "2026-12-06T06:25:55.785Z",
            "version": "W/\"1\"",
            "location": format!("http://127.0.0.1/scim/v2/Users/{id}")
        }
    });
    match serde_json::to_vec(&body) {
        Ok(bytes) => HttpResponse::Ok().content_type("application/scim+json").body(bytes),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

fn trivial_get(listen: std::net::SocketAddr, workers: usize) -> anyhow::Result<()> {
    if !listen.ip().is_loopback() {
        bail!("{listen} is not a loopback address");
    }
    let workers = if workers == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { workers };
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| App::new().route("/scim/v2/Users/{id}", web::get().to(user)))
            .workers(workers)
            .bind(listen)
            .with_context(|| format!("binding {listen}"))?
            .run()
            .await
            .context("serving")
    })
}

// ---- sqlite-txn

mod schema {
    diesel::table! {
        resources (seq) {
            seq -> BigInt,
            kind -> Text,
            id -> Text,
            user_name -> Nullable<Text>,
            external_id -> Nullable<Text>,
            display_name -> Nullable<Text>,
            active -> Nullable<Bool>,
            created -> BigInt,
            last_modified -> BigInt,
            version -> BigInt,
            doc -> Text,
        }
    }
    diesel::table! {
        resource_values (attr, value, seq) {
            seq -> BigInt,
            attr -> Text,
            value -> Text,
        }
    }
    diesel::table! {
        page_counts (kind, bucket) {
            kind -> Text,
            bucket -> BigInt,
            n -> BigInt,
        }
    }
    diesel::table! {
        outbox (kind, resource_id) {
            kind -> Text,
            resource_id -> Text,
            op -> Text,
            user_name -> Nullable<Text>,
            revision -> BigInt,
            attempts -> BigInt,
            not_before -> BigInt,
            created -> BigInt,
            updated -> BigInt,
        }
    }
    diesel::table! {
        outbox_dead (kind, resource_id) {
            kind -> Text,
            resource_id -> Text,
        }
    }
    diesel::table! {
        audit_log (seq) {
            seq -> BigInt,
            at -> BigInt,
            op -> Text,
            bulk -> Bool,
            kind -> Text,
            resource_id -> Text,
            name -> Nullable<Text>,
            version -> Nullable<BigInt>,
            paths -> Nullable<Text>,
            actor_type -> Text,
            actor -> Nullable<Text>,
            issuer -> Nullable<Text>,
            address -> Nullable<Text>,
            request_id -> Nullable<Text>,
        }
    }
}
use schema::*;

diesel::define_sql_function! {
    /// SQLite's rowid of the last insert on this connection.
    fn last_insert_rowid() -> BigInt;
}

/// A created user as the PATCH run needs it (no read: the floor is the writes).
struct Created {
    seq: i64,
    id: String,
    i: u64,
    version: i64,
    phone: String,
}

/// xorshift64*: random-looking ids and picks without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A version-7-shaped UUID, as the bridge's ids (`store::new_id`): the milliseconds first,
    /// so that ids written one after another land at the right edge of the id index.
    fn uuid(&mut self) -> String {
        let (ms, a, b) = (now_millis() as u64, self.next(), self.next());
        format!(
            "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
            (ms >> 16) & 0xffff_ffff,
            ms & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn user_name(i: u64) -> String {
    format!("limits{i:06}@example.com")
}

/// The stored document of user `i` (as the bridge stores a seeded user: no id, no meta).
fn doc(i: u64, phone: &str) -> String {
    let name = user_name(i);
    format!(
        "{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"externalId\":\"bench-limits-{i}\",\
         \"userName\":\"{name}\",\"name\":{{\"familyName\":\"Family{i}\",\"givenName\":\"Given{i}\"}},\
         \"displayName\":\"Given{i} Family{i}\",\"active\":true,\
         \"emails\":[{{\"value\":\"{name}\",\"type\":\"work\",\"primary\":true}}],\
         \"phoneNumbers\":[{{\"value\":\"{phone}\",\"type\":\"eightbyeight\"}},{{\"value\":\"+1650{i:07}\",\"type\":\"mobile\"}}]}}"
    )
}

fn open(path: &Path) -> anyhow::Result<SqliteConnection> {
    let url = path.to_str().context("the database path is not UTF-8")?;
    let mut conn = SqliteConnection::establish(url).with_context(|| format!("opening {url}"))?;
    conn.batch_execute(PRAGMAS)?;
    Ok(conn)
}

/// The bridge's audit row: the bootstrap token over loopback, with a request id.
fn audit(
    conn: &mut SqliteConnection,
    op: &str,
    (id, name): (&str, &str),
    version: i64,
    paths: Option<&str>,
    request: u64,
    now: i64,
) -> QueryResult<usize> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(now),
            audit_log::op.eq(op),
            audit_log::bulk.eq(false),
            audit_log::kind.eq("User"),
            audit_log::resource_id.eq(id),
            audit_log::name.eq(Some(name)),
            audit_log::version.eq(Some(version)),
            audit_log::paths.eq(paths),
            audit_log::actor_type.eq("bootstrap"),
            audit_log::actor.eq(None::<&str>),
            audit_log::issuer.eq(None::<&str>),
            audit_log::address.eq(Some("127.0.0.1")),
            audit_log::request_id.eq(Some(format!("{:x}-{request:x}", std::process::id()))),
        ))
        .execute(conn)
}

/// The writes of one create, in the bridge's order (inside the caller's transaction).
fn create(conn: &mut SqliteConnection, rng: &mut Rng, i: u64, all: bool) -> QueryResult<Created> {
    let id = rng.uuid();
    let name = user_name(i);
    let phone = format!("+1415{i:07}");
    let text = doc(i, &phone);
    let now = now_millis();
    {
        diesel::insert_into(resources::table)
            .values((
                resources::kind.eq("User"),
                resources::id.eq(&id),
                resources::user_name.eq(Some(&name)),
                resources::external_id.eq(Some(format!("bench-limits-{i}"))),
                resources::display_name.eq(Some(format!("given{i} family{i}"))),
                resources::active.eq(Some(true)),
                resources::created.eq(now),
                resources::last_modified.eq(now),
                resources::version.eq(1i64),
                resources::doc.eq(&text),
            ))
            .execute(conn)?;
        let seq: i64 = diesel::select(last_insert_rowid()).get_result(conn)?;
        for (attr, value) in
            [("emails", name.clone()), ("phoneNumbers", phone.clone()), ("phoneNumbers", format!("+1650{i:07}"))]
        {
            diesel::insert_into(resource_values::table)
                .values((
                    resource_values::seq.eq(seq),
                    resource_values::attr.eq(attr),
                    resource_values::value.eq(value),
                ))
                .execute(conn)?;
        }
        diesel::insert_into(outbox::table)
            .values((
                outbox::kind.eq("User"),
                outbox::resource_id.eq(&id),
                outbox::op.eq("sync"),
                outbox::user_name.eq(None::<&str>),
                outbox::revision.eq(1i64),
                outbox::attempts.eq(0i64),
                outbox::not_before.eq(now),
                outbox::created.eq(now),
                outbox::updated.eq(now),
            ))
            .execute(conn)?;
        if !all {
            return Ok(Created { seq, id, i, version: 1, phone });
        }
        audit(conn, "create", (&id, &name), 1, None, i, now)?;
        let key = (seq >> 10) * COUNT_SHARDS + (seq & (COUNT_SHARDS - 1));
        diesel::insert_into(page_counts::table)
            .values((page_counts::kind.eq("User"), page_counts::bucket.eq(key), page_counts::n.eq(1i64)))
            .on_conflict((page_counts::kind, page_counts::bucket))
            .do_update()
            .set(page_counts::n.eq(page_counts::n + 1i64))
            .execute(conn)?;
        Ok(Created { seq, id, i, version: 1, phone })
    }
}

const PATCH_PATHS: &str = r#"["phoneNumbers[type eq \"eightbyeight\"].value"]"#;

/// The writes of one PATCH of the 8x8 number, in the bridge's order (inside the caller's
/// transaction).
fn patch(conn: &mut SqliteConnection, user: &mut Created, phone: String, request: u64, all: bool) -> QueryResult<()> {
    let text = doc(user.i, &phone);
    let now = now_millis();
    let version = user.version + 1;
    {
        let row = resources::table.filter(resources::seq.eq(user.seq)).filter(resources::version.eq(user.version));
        let updated = diesel::update(row)
            .set((resources::last_modified.eq(now), resources::version.eq(version), resources::doc.eq(&text)))
            .execute(conn)?;
        if updated != 1 {
            return Err(diesel::result::Error::NotFound);
        }
        diesel::delete(
            resource_values::table
                .filter(resource_values::attr.eq("phoneNumbers"))
                .filter(resource_values::value.eq(&user.phone))
                .filter(resource_values::seq.eq(user.seq)),
        )
        .execute(conn)?;
        diesel::insert_into(resource_values::table)
            .values((
                resource_values::seq.eq(user.seq),
                resource_values::attr.eq("phoneNumbers"),
                resource_values::value.eq(&phone),
            ))
            .execute(conn)?;
        diesel::insert_into(outbox::table)
            .values((
                outbox::kind.eq("User"),
                outbox::resource_id.eq(&user.id),
                outbox::op.eq("sync"),
                outbox::user_name.eq(None::<&str>),
                outbox::revision.eq(1i64),
                outbox::attempts.eq(0i64),
                outbox::not_before.eq(now),
                outbox::created.eq(now),
                outbox::updated.eq(now),
            ))
            .on_conflict((outbox::kind, outbox::resource_id))
            .do_update()
            .set((
                outbox::op.eq(excluded(outbox::op)),
                outbox::user_name.eq(excluded(outbox::user_name)),
                outbox::revision.eq(outbox::revision + 1),
                outbox::updated.eq(now),
            ))
            .execute(conn)?;
        if all {
            diesel::delete(
                outbox_dead::table.filter(outbox_dead::kind.eq("User")).filter(outbox_dead::resource_id.eq(&user.id)),
            )
            .execute(conn)?;
            audit(conn, "patch", (&user.id, &user_name(user.i)), version, Some(PATCH_PATHS), request, now)?;
        }
    }
    user.version = version;
    user.phone = phone;
    Ok(())
}

fn report(name: &str, count: u64, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    let rps = if secs > 0.0 { count as f64 / secs } else { 0.0 };
    println!("LIMIT name={name} rps={rps:.0} count={count} seconds={secs:.3}");
}

/// Run `count` writes, `batch` to a `BEGIN IMMEDIATE` transaction: alone when `batch` is 1 (one
/// transaction per write), otherwise each in its own savepoint, as the bridge's writer runs the
/// writes queued together (group commit).
fn run(
    conn: &mut SqliteConnection,
    count: u64,
    batch: u64,
    mut write: impl FnMut(&mut SqliteConnection, u64) -> QueryResult<()>,
) -> QueryResult<Duration> {
    let started = Instant::now();
    let mut n = 0;
    while n < count {
        let end = count.min(n + batch.max(1));
        conn.immediate_transaction(|conn| {
            for k in n..end {
                if batch <= 1 {
                    write(conn, k)?;
                } else {
                    conn.transaction(|conn| write(conn, k))?;
                }
            }
            QueryResult::Ok(())
        })?;
        n = end;
    }
    Ok(started.elapsed())
}

/// How many writes of each kind `sqlite-txn` runs.
struct Counts {
    users: u64,
    patches: u64,
    prefill: u64,
}

fn sqlite_txn(path: &Path, counts: Counts, batch: u64, rows: Rows) -> anyhow::Result<()> {
    let Counts { users, patches, prefill } = counts;
    if path.exists() {
        bail!("{} exists; sqlite-txn needs a fresh file", path.display());
    }
    if users == 0 || batch == 0 {
        bail!("--users and --batch must be at least 1");
    }
    let mut conn = open(path)?;
    conn.run_pending_migrations(MIGRATIONS).map_err(|e| anyhow::anyhow!("migrating {}: {e}", path.display()))?;
    conn.batch_execute(WRITER_PRAGMAS)?;

    // The bridge's checkpointer: passive checkpoints from their own connection every 500 ms.
    let mut checkpoints = open(path)?;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let checkpointer = std::thread::spawn(move || {
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
            if let Err(e) = checkpoints.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                eprintln!("scim-limits: WAL checkpoint failed: {e}");
            }
        }
    });
    let all = rows == Rows::Bridge;
    let mut suffix = if all { String::new() } else { "-user-outbox".to_string() };
    if batch > 1 {
        suffix.push_str(&format!("-batch{batch}"));
    }
    if prefill > 0 {
        suffix.push_str(&format!(".{}", prefill + users));
    }

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id()));
    let total = prefill + users;
    let mut created = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    run(&mut conn, prefill, 256, |conn, i| {
        created.push(create(conn, &mut rng, i, all)?);
        Ok(())
    })
    .context("a create transaction failed while prefilling")?;
    let elapsed = run(&mut conn, users, batch, |conn, i| {
        created.push(create(conn, &mut rng, prefill + i, all)?);
        Ok(())
    })
    .context("a create transaction failed")?;
    report(&format!("sqlite-create{suffix}"), users, elapsed);

    if patches > 0 {
        let picks: Vec<(usize, String)> = (0..patches)
            .map(|_| {
                let pick = usize::try_from(rng.next() % total).unwrap_or(0);
                (pick, format!("+1415{:07}", rng.next() % 10_000_000))
            })
            .collect();
        let elapsed = run(&mut conn, patches, batch, |conn, n| {
            let (pick, phone) = &picks[usize::try_from(n).unwrap_or(0)];
            match created.get_mut(*pick) {
                Some(user) => patch(conn, user, phone.clone(), total + n, all),
                None => Err(diesel::result::Error::NotFound),
            }
        })
        .context("a PATCH transaction failed")?;
        report(&format!("sqlite-patch{suffix}"), patches, elapsed);
    }
    drop(stop);
    let _ = checkpointer.join();
    Ok(())
}
