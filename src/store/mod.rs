//! Storage: diesel over SQLite (bundled, the embedded default) or PostgreSQL (several replicas),
//! embedded migrations for each, one transaction per write.
//!
//! Owns the tables, the SQL that filters and sorts on indexed columns, bearer-token hashes, and
//! the audit trail every write of a resource adds to in its own transaction.
//! The same queries serve both databases (`db`: one connection type, placeholders numbered for
//! PostgreSQL, per-backend statements where diesel needs them).
//! Calls into `scim` for the protocol rules; must not import actix, reqwest, `http` or `cli`.
//! Every function here blocks: callers on an async runtime run them on a blocking thread.

mod audit;
pub mod db;
mod journal;
mod outbox;
mod query;
mod resources;
pub mod schema;
mod tokens;

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use db::{Backend, DbConn, redact_url};

use scim::ScimError;
use scim::schema::ResourceKind;

pub use audit::{Actor, AuditContext, AuditEntry, AuditOp, AuditQuery};
pub use journal::DryRunRequest;
pub use outbox::{OutboxDepth, OutboxEntry, OutboxOp, OwnedUser, Ownership};
pub use resources::{
    BulkDone, BulkItem, BulkWrite, Doc, GroupRef, MemberKind, MemberRow, Page, StoredResource, WriteOutcome, new_id,
    position_of,
};
pub use tokens::{TokenInfo, hash_token};

/// The schema of each database: the same versions, in each database's own SQL.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Errors of the storage layer, in the store's own words; `http::error` alone turns them into
/// SCIM errors and statuses, and callers match on the variants.
///
/// Messages (`Display`) never hold a resource's data: a `userName` is often an e-mail address,
/// so a [`Conflict`](StoreError::Conflict) keeps the value for the client's answer only, in a
/// [`Personal`] that `Debug` does not print either.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// No resource of this kind has this id.
    #[error("{} {id} not found", kind.as_str())]
    NotFound { kind: ResourceKind, id: String },
    /// Another resource has this value of a unique attribute (`key`, e.g. `userName`).
    #[error("another {} has the same {key}", kind.as_str())]
    Conflict { kind: ResourceKind, key: &'static str, value: Personal },
    /// The write was based on a version (`If-Match`) that is not the stored one.
    #[error("{} {id} is at version {actual}; the write expected {expected}", kind.as_str())]
    PreconditionFailed { kind: ResourceKind, id: String, expected: String, actual: String },
    /// A token with this name exists already (`token create`).
    #[error("a token named '{name}' already exists; revoke it first or pick another name")]
    TokenExists { name: String },
    /// A token needs a name (`token create`).
    #[error("a token name must not be empty")]
    TokenNameEmpty,
    /// The input breaks a SCIM rule the store checks on the caller's behalf: PUT and PATCH are
    /// planned against the stored version inside the store (again in the writer when another
    /// write won the race), so their validation errors surface here.
    #[error(transparent)]
    Invalid(ScimError),
    /// The database cannot be reached now (pool exhausted, busy or locked, writer stopped, the
    /// commit failed): retry later; nothing was written.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Our fault: a stored document that does not parse, a failed migration, an unexpected
    /// database error.
    #[error("internal storage error: {0}")]
    Internal(String),
}

/// A value that may be personal data (a `userName` is often an e-mail address): kept for the
/// client's answer, never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Personal(pub String);

impl std::fmt::Debug for Personal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Personal(<redacted>)")
    }
}

/// SQLite's answers when another connection holds the lock longer than `busy_timeout`.
fn is_busy(message: &str) -> bool {
    message.contains("locked") || message.contains("busy")
}

/// How a write refused because the database cannot be written now begins its message:
/// PostgreSQL in read-only mode (`default_transaction_read_only`, a hot standby after a
/// failover), or a SQLite file that is read-only to this process.
pub const READ_ONLY: &str = "the database is read-only";

/// How a write refused for lack of space begins its message (SQLite `SQLITE_FULL`, PostgreSQL
/// `disk_full`).
pub const FULL: &str = "the database's disk is full";

/// SQLite's and PostgreSQL's words for a database that cannot be written (read-only).
fn is_read_only(message: &str) -> bool {
    message.contains("readonly database") || message.contains("read-only transaction")
}

/// SQLite's and PostgreSQL's words for a full disk or database.
fn is_full(message: &str) -> bool {
    message.contains("database or disk is full") || message.contains("No space left on device")
}

/// How a PostgreSQL write that collided with a concurrent one (serialization failure,
/// deadlock) begins its message: such a write is tried again (`Store::write`).
const CONTENTION: &str = "concurrent writes collided";

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &e {
            Error::DatabaseError(DatabaseErrorKind::Unknown, info) if is_busy(info.message()) => {
                StoreError::Unavailable(format!("the database is busy: {}", info.message()))
            }
            // Not our fault and not the caller's: the operator makes it writable (or frees
            // space) and the same write then succeeds, so it is a 503 to retry, not a 500.
            // A PostgreSQL session keeps the read-only default it started with (a database set
            // `default_transaction_read_only`, a standby before its promotion): the connection
            // is replaced, so that writes succeed again by themselves once the database does.
            Error::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, info) => {
                CONNECTION_LOST.set(true);
                StoreError::Unavailable(format!("{READ_ONLY}: {}", info.message()))
            }
            Error::DatabaseError(_, info) if is_read_only(info.message()) => {
                StoreError::Unavailable(format!("{READ_ONLY}: {}", info.message()))
            }
            Error::DatabaseError(_, info) if is_full(info.message()) => {
                StoreError::Unavailable(format!("{FULL}: {}", info.message()))
            }
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
                StoreError::Unavailable(format!("{CONTENTION}: {}", info.message()))
            }
            Error::DatabaseError(DatabaseErrorKind::Unknown, info) if info.message().contains("deadlock detected") => {
                StoreError::Unavailable(format!("{CONTENTION}: {}", info.message()))
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                CONNECTION_LOST.set(true);
                StoreError::Unavailable(format!("the database connection was lost: {e}"))
            }
            // The server went away mid-query (restart, failover): the pool replaces the connection.
            Error::DatabaseError(DatabaseErrorKind::Unknown, info)
                if info.message().contains("server closed the connection")
                    || info.message().contains("terminating connection")
                    || info.message().contains("no connection to the server") =>
            {
                CONNECTION_LOST.set(true);
                StoreError::Unavailable(format!("the database connection was lost: {}", info.message()))
            }
            _ => StoreError::Internal(format!("database error: {e}")),
        }
    }
}

impl StoreError {
    /// A PostgreSQL write that lost to a concurrent one: trying it again is safe.
    fn is_contention(&self) -> bool {
        matches!(self, StoreError::Unavailable(m) if m.starts_with(CONTENTION))
    }
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        StoreError::Unavailable(format!("no database connection: {e}"))
    }
}

impl StoreError {
    /// A stored row or document this code cannot read.
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
        StoreError::Internal(format!("stored data is corrupt: {what}"))
    }
}

/// WAL with `synchronous = NORMAL`: a commit survives a crash of the process (the WAL is written
/// before COMMIT returns) and a power loss can lose only the last commits, never corrupt the file.
/// No memory map: every connection would map the whole file and count it in the process's
/// resident size again; reads go through the kernel's page cache and a small private cache.
/// `busy_timeout` comes first: the statements after it may need a lock another process (the
/// CLI beside `serve`) holds for a moment.
const PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA cache_size = -2000; PRAGMA mmap_size = 0; PRAGMA temp_store = MEMORY;";

/// The writer keeps a larger cache: index pages it updates stay hot across batches. The
/// checkpointer thread copies committed WAL pages into the database file in the background; the
/// writer's own checkpoint (every 4000 pages, ~16 MiB) then finds little left to copy and lets
/// the WAL start over, and `journal_size_limit` trims the file afterwards.
const WRITER_PRAGMAS: &str =
    "PRAGMA cache_size = -16000; PRAGMA wal_autocheckpoint = 4000; PRAGMA journal_size_limit = 67108864;";

/// How often the checkpointer copies committed WAL pages into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

thread_local! {
    /// Set when a query on this thread found its connection lost (the server restarted, failed
    /// over or went away). A pooled connection is used and given back on one thread, so when it
    /// comes back the pool learns from this that it is dead ([`Manager::has_broken`]). Diesel
    /// alone only sees a connection as broken when a transaction could not be closed.
    static CONNECTION_LOST: Cell<bool> = const { Cell::new(false) };
}

/// How long a pooled PostgreSQL connection may sit idle before it is tested (`SELECT 1`) when
/// taken: a connection in steady use is not (the test is a round trip per request), and one
/// that waited through an outage is.
const IDLE_BEFORE_TEST: Duration = Duration::from_secs(1);

/// What the pool keeps beside each PostgreSQL connection: when it was last taken, and the
/// number of lost connections seen before then ([`Manager::losses`]).
#[derive(Clone, Copy)]
struct Checkout {
    at: Instant,
    losses: u64,
}

/// Opens connections for the pool: SQLite with its pragmas, or PostgreSQL.
#[derive(Debug)]
struct Manager {
    backend: Backend,
    /// Connections found lost so far: when it grows, every other idle connection is suspect
    /// (one server went away for all of them) and is tested before its next use.
    losses: Arc<AtomicU64>,
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, diesel::r2d2::Error> {
        match &self.backend {
            Backend::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path).map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.batch_execute(PRAGMAS).map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
            Backend::Postgres(url) => PgConnection::establish(&db::libpq_url(url))
                .map(DbConn::Pg)
                .map_err(diesel::r2d2::Error::ConnectionError),
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        if CONNECTION_LOST.replace(false) {
            self.losses.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        db::each!(conn, |c| diesel::r2d2::R2D2Connection::is_broken(c))
    }
}

/// The database: a pool of connections, and for SQLite one writer thread.
///
/// PostgreSQL: every write runs on a pooled connection in its own transaction (read committed;
/// a rewrite locks its row first, counters are updated in place, uniqueness is the indexes'),
/// tried again when it deadlocks with a concurrent write (of this process or another replica).
///
/// SQLite admits one writer at a time. Writes are jobs sent to a thread that owns the write
/// connection; it runs every job waiting in the queue inside one `BEGIN IMMEDIATE` transaction,
/// each job in its own savepoint (a failed job rolls back alone), commits once, and only then
/// answers each caller. So an answer means committed, and a burst of writes costs one commit
/// (group commit). The busy timeout covers other processes (the CLI) writing at the same time.
pub struct Store {
    backend: Backend,
    readers: Pool<Manager>,
    /// The pool manager's count of lost connections ([`Manager::losses`]).
    losses: Arc<AtomicU64>,
    /// SQLite's writer thread; `None` for PostgreSQL (writes use the pool).
    writer: Option<mpsc::Sender<Job>>,
    /// SQLite: why the writer last dropped a batch without running it.
    last_failure: LastFailure,
    /// What a user must satisfy beyond its schema before it is stored ([`Store::set_user_check`]).
    user_check: std::sync::OnceLock<UserCheck>,
    /// Dropping it stops SQLite's checkpointer thread.
    _checkpointer: Option<mpsc::Sender<()>>,
}

/// A rule a user must satisfy before it is stored, beyond its schema: called with the user as it
/// would be stored and as it was (`None` on create). The forwarding sets one so that a value it
/// could never send to Genesys is refused to the identity provider at once (the store does not
/// know which values those are).
pub type UserCheck = std::sync::Arc<
    dyn Fn(
            &serde_json::Map<String, serde_json::Value>,
            Option<&serde_json::Map<String, serde_json::Value>>,
        ) -> Result<(), ScimError>
        + Send
        + Sync,
>;

/// Run passive WAL checkpoints from their own connection: they never block the writer or readers.
fn spawn_checkpointer(path: &str) -> Result<mpsc::Sender<()>, StoreError> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| StoreError::Unavailable(format!("{path}: {e}")))?;
    conn.batch_execute(PRAGMAS)?;
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(CHECKPOINT_EVERY) {
                if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::warn!(error.cause = %e, "WAL checkpoint failed; retrying later");
                }
            }
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start the WAL checkpointer: {e}")))?;
    Ok(tx)
}

/// Tells a job's caller how the batch's COMMIT went.
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A write: runs on the writer thread inside the batch transaction.
type Job = Box<dyn FnOnce(&mut DbConn) -> Completion + Send>;

/// Most jobs one transaction takes: bounds how long the first caller of a batch waits.
const MAX_BATCH: usize = 128;

fn open_writer(path: &str) -> Result<DbConn, StoreError> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| StoreError::Unavailable(format!("{path}: {e}")))?;
    conn.batch_execute(PRAGMAS)?;
    conn.batch_execute(WRITER_PRAGMAS)?;
    Ok(DbConn::Sqlite(conn))
}

/// Why the last batch whose jobs never ran failed (BEGIN was refused: busy, read-only).
type LastFailure = Arc<std::sync::Mutex<String>>;

fn spawn_writer(mut conn: DbConn, path: String, last_failure: LastFailure) -> Result<mpsc::Sender<Job>, StoreError> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let mut done: Vec<Completion> = Vec::with_capacity(batch.len());
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_batch(&mut conn, &mut batch, &mut done)
                }));
                let outcome = match run {
                    // Classified as the callers' errors are (busy, read-only, full), so the
                    // answer to the IdP can say which.
                    Ok(r) => r.map_err(|e| match StoreError::from(e) {
                        StoreError::Unavailable(m) => m,
                        other => other.to_string(),
                    }),
                    Err(_) => {
                        // A job panicked mid-transaction: drop the connection (SQLite rolls the
                        // open transaction back) and start afresh; every job of the batch fails.
                        tracing::error!("a database write panicked; its batch was rolled back");
                        match open_writer(&path) {
                            Ok(fresh) => conn = fresh,
                            Err(e) => tracing::error!(error.cause = %e, "cannot reopen the database writer"),
                        }
                        Err("internal error during the write".to_string())
                    }
                };
                if let Err(e) = &outcome {
                    tracing::warn!(error.cause = %e, jobs = done.len(), "database write batch failed");
                    if !batch.is_empty() {
                        *last_failure.lock().unwrap_or_else(|p| p.into_inner()) = e.clone();
                    }
                }
                // Jobs that never ran (BEGIN failed) are dropped: their callers see the channel
                // close, and answer with `last_failure`.
                drop(batch);
                for complete in done {
                    complete(outcome.clone());
                }
            }
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start the database writer: {e}")))?;
    Ok(tx)
}

/// Run a batch of jobs in one `BEGIN IMMEDIATE` transaction (the write lock at once: another
/// process may write), each job in its own savepoint (`Store::write`), and commit.
fn run_batch(conn: &mut DbConn, batch: &mut Vec<Job>, done: &mut Vec<Completion>) -> Result<(), diesel::result::Error> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConn::Sqlite(sqlite) = conn else { return Err(diesel::result::Error::BrokenTransactionManager) };
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    for job in batch.drain(..) {
        done.push(job(conn));
    }
    let DbConn::Sqlite(sqlite) = conn else { return Err(diesel::result::Error::BrokenTransactionManager) };
    match AnsiTransactionManager::commit_transaction(sqlite) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = AnsiTransactionManager::rollback_transaction(sqlite);
            Err(e)
        }
    }
}

impl Store {
    /// Open (creating the SQLite file if needed) and bring the schema up to date: `url` is a
    /// file path (or `sqlite://path`) or `postgres://USER:PASS@HOST:PORT/DB`.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let backend = Backend::of(url);
        match &backend {
            Backend::Sqlite(path) => {
                let mut writer = open_writer(path)?;
                run_migrations(&mut writer)?;
                let losses = Arc::new(AtomicU64::new(0));
                let readers = Pool::builder()
                    .max_size(8)
                    // A checkout test is a `SELECT 1` per request; a broken SQLite file connection
                    // shows up as the next query's error anyway.
                    .test_on_check_out(false)
                    .min_idle(Some(2))
                    .connection_timeout(Duration::from_secs(10))
                    .build(Manager { backend: backend.clone(), losses: losses.clone() })?;
                let last_failure = LastFailure::default();
                Ok(Store {
                    writer: Some(spawn_writer(writer, path.clone(), last_failure.clone())?),
                    last_failure,
                    losses,
                    _checkpointer: Some(spawn_checkpointer(path)?),
                    readers,
                    backend,
                    user_check: std::sync::OnceLock::new(),
                })
            }
            Backend::Postgres(_) => {
                let mut conn = connect_postgres(&backend)?;
                run_migrations(&mut conn)?;
                drop(conn);
                let losses = Arc::new(AtomicU64::new(0));
                let readers = Pool::builder()
                    .max_size(16)
                    // Not r2d2's test of every checkout (a `SELECT 1` round trip per request):
                    // `reader` tests a connection only when it sat idle or another was lost, and
                    // a connection found lost while in use is dropped when given back.
                    .test_on_check_out(false)
                    // No idle minimum: a pool thread replenishing it could still be in the middle
                    // of a connection's handshake when a short-lived command exits, and libpq's
                    // OpenSSL is torn down at exit under it (a crash). Connections are made when
                    // needed and kept while used.
                    .min_idle(Some(0))
                    .connection_timeout(Duration::from_secs(3))
                    .build(Manager { backend: backend.clone(), losses: losses.clone() })?;
                Ok(Store {
                    readers,
                    losses,
                    writer: None,
                    last_failure: LastFailure::default(),
                    _checkpointer: None,
                    backend,
                    user_check: std::sync::OnceLock::new(),
                })
            }
        }
    }

    /// Which database this is, for logs: a path, or a URL without its password.
    pub fn describe(&self) -> String {
        self.backend.display()
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Set the rule every created or rewritten user must satisfy ([`UserCheck`]); once, at start.
    /// A second call is ignored.
    pub fn set_user_check(&self, check: UserCheck) {
        let _ = self.user_check.set(check);
    }

    /// Apply pending migrations and report how many ran.
    pub fn migrate(url: &str) -> Result<usize, StoreError> {
        let backend = Backend::of(url);
        let mut conn = match &backend {
            Backend::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(path).map_err(|e| StoreError::Unavailable(format!("{path}: {e}")))?;
                conn.batch_execute(PRAGMAS)?;
                DbConn::Sqlite(conn)
            }
            Backend::Postgres(_) => connect_postgres(&backend)?,
        };
        run_migrations(&mut conn)
    }

    /// A pooled connection. A PostgreSQL connection that sat idle for a while, or that was idle
    /// when another was found lost, is tested first and replaced if the server dropped it (a
    /// restart, a failover): the first request after an outage does not fail on it.
    fn reader(&self) -> Result<PooledConnection<Manager>, StoreError> {
        CONNECTION_LOST.set(false);
        if !self.is_postgres() {
            return Ok(self.readers.get()?);
        }
        // Each dead connection tested is dropped; past as many as the pool holds, a new one.
        for _ in 0..=self.readers.max_size() {
            let mut conn = self.readers.get()?;
            let losses = self.losses.load(Ordering::Relaxed);
            let now = Instant::now();
            let last = PooledConnection::extensions_mut(&mut conn).insert(Checkout { at: now, losses });
            let suspect = last.is_some_and(|c| c.losses != losses || now.duration_since(c.at) >= IDLE_BEFORE_TEST);
            if !suspect || conn.batch_execute("SELECT 1").is_ok() {
                return Ok(conn);
            }
            // Given back as broken: the pool drops it and counts the loss.
            CONNECTION_LOST.set(true);
        }
        Ok(self.readers.get()?)
    }

    /// Run `f` in a transaction and return its result once committed. SQLite: on the writer
    /// thread, in its own savepoint of the current batch. PostgreSQL: on a pooled connection, in
    /// its own transaction, run again (a few times, after a short pause) when it deadlocks with
    /// a concurrent write; so `f` may run more than once and must only touch the database.
    pub(crate) fn write<T: Send + 'static>(
        &self,
        f: impl Fn(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let Some(writer) = &self.writer else { return self.write_postgres(f) };
        let (tx, rx) = mpsc::sync_channel::<Result<T, StoreError>>(1);
        let job: Job = Box::new(move |conn| {
            let result = conn.transaction(|c| f(c));
            Box::new(move |commit: Result<(), String>| {
                let _ = tx.send(match commit {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Unavailable(format!("the transaction did not commit: {e}"))),
                });
            })
        });
        writer.send(job).map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        rx.recv().map_err(|_| {
            let why = self.last_failure.lock().unwrap_or_else(|p| p.into_inner()).clone();
            StoreError::Unavailable(format!("nothing was written: {why}"))
        })?
    }

    fn write_postgres<T>(&self, f: impl Fn(&mut DbConn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.retry_postgres(|conn| conn.transaction(|c| f(c)))
    }

    /// PostgreSQL: run `f`, which writes with a single statement (atomic by itself), on a pooled
    /// connection outside a transaction (BEGIN and COMMIT would be two more round trips); run
    /// again like [`write`](Self::write) when it collides with a concurrent write.
    pub(crate) fn write_statement<T>(
        &self,
        f: impl Fn(&mut PgConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.retry_postgres(|conn| match conn {
            DbConn::Pg(pg) => f(pg),
            DbConn::Sqlite(_) => Err(StoreError::Internal("a PostgreSQL statement on SQLite".into())),
        })
    }

    /// Run `f` on a pooled PostgreSQL connection, again (a few times, after a short pause) when
    /// it deadlocks or fails to serialize with a concurrent write.
    fn retry_postgres<T>(&self, f: impl Fn(&mut DbConn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        const ATTEMPTS: u32 = 12;
        let mut conn = self.reader()?;
        let mut attempt = 0;
        loop {
            let result = f(&mut conn);
            match result {
                Err(e) if e.is_contention() && attempt + 1 < ATTEMPTS => {
                    attempt += 1;
                    // Back off a little, more each time, with jitter, so colliders part ways.
                    let ms = rand::random_range(1..=(2u64 << attempt.min(6)));
                    std::thread::sleep(Duration::from_millis(ms));
                }
                other => return other,
            }
        }
    }

    /// A cheap query that proves the database answers (readiness).
    pub fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.reader()?;
        diesel::sql_query("SELECT 1").execute(&mut conn)?;
        Ok(())
    }
}

/// A lone PostgreSQL connection (migrations, before the pool exists).
fn connect_postgres(backend: &Backend) -> Result<DbConn, StoreError> {
    let Backend::Postgres(url) = backend else { return Err(StoreError::Internal("not PostgreSQL".into())) };
    PgConnection::establish(&db::libpq_url(url))
        .map(DbConn::Pg)
        .map_err(|e| StoreError::Unavailable(format!("{}: {e}", backend.display())))
}

/// Any number: the key of the advisory lock replicas take around migrations.
const MIGRATION_LOCK: i64 = 0x5c1b_0001;

/// Bring the schema up to date, refusing a database whose schema is newer than this binary
/// knows (a newer replica migrated it: this one would misread it). On PostgreSQL under an
/// advisory lock, so replicas starting together migrate once.
fn run_migrations(conn: &mut DbConn) -> Result<usize, StoreError> {
    let postgres = conn.is_postgres();
    let source = if postgres { POSTGRES_MIGRATIONS } else { SQLITE_MIGRATIONS };
    if postgres {
        conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
    }
    let result = migrate_locked(conn, source);
    if postgres {
        let _ = conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
    }
    result
}

fn migrate_locked(conn: &mut DbConn, source: EmbeddedMigrations) -> Result<usize, StoreError> {
    fn failed<T>(r: diesel::migration::Result<T>) -> Result<T, StoreError> {
        r.map_err(|e| StoreError::Internal(format!("migration failed: {e}")))
    }
    let known: Vec<String> = failed(
        MigrationSource::<diesel::pg::Pg>::migrations(&source)
            .map(|m| m.iter().map(|m| m.name().version().to_string()).collect()),
    )?;
    let applied: Vec<String> =
        db::each!(conn, |c| failed(c.applied_migrations().map(|a| a.iter().map(ToString::to_string).collect())))?;
    if let Some(newer) = applied.iter().find(|v| !known.contains(v)) {
        return Err(StoreError::Internal(format!(
            "the database's schema is newer than this scim-bridge knows (it has migration {newer}): a newer \
             version migrated it; run that version here too"
        )));
    }
    let ran = db::each!(conn, |c| failed(c.run_pending_migrations(source).map(|r| r.len())))?;
    Ok(ran)
}

/// The variable naming a PostgreSQL server for the tests (a URL of a database to connect to,
/// such as `postgres://scim:…@127.0.0.1:55432/scim_bridge`): set, every test database is a new
/// database on it; unset, a SQLite file.
pub const TEST_POSTGRES_VAR: &str = "TEST_POSTGRES_URL";

/// A fresh, empty database for a test: the file `name` in `dir`, or a new PostgreSQL database
/// when [`TEST_POSTGRES_VAR`] is set (the throwaway server is deleted after the run).
pub fn test_database(dir: &std::path::Path, name: &str) -> Result<String, StoreError> {
    let Ok(server) = std::env::var(TEST_POSTGRES_VAR) else {
        return Ok(dir.join(name).to_string_lossy().into_owned());
    };
    let db = format!("scim_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = connect_postgres(&Backend::of(&server))?;
    admin.batch_execute(&format!("CREATE DATABASE {db}"))?;
    Ok(db::with_database(&server, &db))
}

/// The audit context of the store's own tests: a stored token called `test`.
#[cfg(test)]
pub(crate) fn test_audit() -> AuditContext {
    AuditContext { actor: Actor::Token("test".into()), address: None, request_id: None }
}

/// Milliseconds since the Unix epoch, the unit of `created`/`last_modified`.
pub fn now_millis() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// RFC 3339 rendering of a millisecond timestamp, as `meta.created`/`meta.lastModified` show it.
pub fn format_millis(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    // Written digit by digit: `time`'s formatting machinery was 5 % of a GET (two stamps each).
    if (0..=9999).contains(&t.year()) {
        let mut out = String::with_capacity(24);
        let mut num = |n: u32, width: u32, sep: char| {
            for p in (0..width).rev() {
                out.push(char::from(b'0' + ((n / 10u32.pow(p)) % 10) as u8));
            }
            out.push(sep);
        };
        num(t.year() as u32, 4, '-');
        num(u32::from(u8::from(t.month())), 2, '-');
        num(u32::from(t.day()), 2, 'T');
        num(u32::from(t.hour()), 2, ':');
        num(u32::from(t.minute()), 2, ':');
        num(u32::from(t.second()), 2, '.');
        num(u32::from(t.millisecond()), 3, 'Z');
        return out;
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_with_milliseconds() {
        for (ms, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
            (951_782_400_009, "2000-02-29T00:00:00.009Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(format_millis(ms), text);
            let fmt = time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            );
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
            assert_eq!(format_millis(ms), t.format(&fmt).unwrap(), "as `time` formats it");
        }
    }

    #[test]
    fn a_schema_newer_than_this_binary_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let url = test_database(dir.path(), "newer.db").unwrap();
        {
            let store = Store::open(&url).unwrap();
            let mut conn = store.reader().unwrap();
            // A later version of scim-bridge applied a migration this one does not have.
            diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES ('20990101000001')")
                .execute(&mut *conn)
                .unwrap();
        }
        let Err(e) = Store::open(&url) else { panic!("opened a database with a newer schema") };
        let text = e.to_string();
        assert!(text.contains("newer than this scim-bridge knows") && text.contains("20990101000001"), "{text}");
        let Err(e) = Store::migrate(&url) else { panic!("migrated a database with a newer schema") };
        assert!(e.to_string().contains("newer"), "{e}");
    }

    #[test]
    fn database_errors_are_unavailable_when_busy_and_internal_otherwise() {
        struct Info(&'static str);
        impl diesel::result::DatabaseErrorInformation for Info {
            fn message(&self) -> &str {
                self.0
            }
            fn details(&self) -> Option<&str> {
                None
            }
            fn hint(&self) -> Option<&str> {
                None
            }
            fn table_name(&self) -> Option<&str> {
                None
            }
            fn column_name(&self) -> Option<&str> {
                None
            }
            fn constraint_name(&self) -> Option<&str> {
                None
            }
            fn statement_position(&self) -> Option<i32> {
                None
            }
        }
        let db = |kind, message| StoreError::from(diesel::result::Error::DatabaseError(kind, Box::new(Info(message))));
        use diesel::result::DatabaseErrorKind::{ClosedConnection, ReadOnlyTransaction, Unknown};
        assert!(matches!(db(Unknown, "database is locked"), StoreError::Unavailable(_)));
        let says = |e: StoreError, what: &str| matches!(&e, StoreError::Unavailable(m) if m.starts_with(what));
        assert!(says(db(ReadOnlyTransaction, "cannot execute INSERT in a read-only transaction"), READ_ONLY));
        assert!(says(db(Unknown, "attempt to write a readonly database"), READ_ONLY));
        assert!(says(db(Unknown, "database or disk is full"), FULL));
        assert!(says(db(Unknown, "could not extend file: No space left on device"), FULL));
        assert!(matches!(db(Unknown, "database is busy"), StoreError::Unavailable(_)));
        assert!(matches!(db(ClosedConnection, "gone"), StoreError::Unavailable(_)));
        assert!(matches!(db(Unknown, "no such table: resources"), StoreError::Internal(_)));
        assert!(matches!(StoreError::from(diesel::result::Error::NotFound), StoreError::Internal(_)));
    }
}
