//! Storage: diesel over SQLite (bundled), embedded migrations, one transaction per write.
//!
//! Owns the tables, the SQL that filters and sorts on indexed columns, and bearer-token hashes.
//! Calls into `scim` for the protocol rules; must not import actix, reqwest, `http` or `cli`.
//! Every function here blocks: callers on an async runtime run them on a blocking thread.

mod journal;
mod outbox;
mod query;
mod resources;
pub mod schema;
mod tokens;

use std::sync::mpsc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use scim::ScimError;
use scim::schema::ResourceKind;

pub use journal::DryRunRequest;
pub use outbox::{OutboxDepth, OutboxEntry, OutboxOp, OwnedUser, Ownership};
pub use resources::{GroupRef, MemberKind, MemberRow, Page, StoredResource, WriteOutcome};
pub use tokens::{TokenInfo, hash_token};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Errors of the storage layer, in the store's own words; `http::error` alone turns them into
/// SCIM errors and statuses, and callers match on the variants.
///
/// Messages (`Display`) never hold a resource's data: a `userName` is often an e-mail address,
/// so a [`Conflict`](StoreError::Conflict) keeps the value for the client's answer only, in a
/// [`Personal`] that `Debug` does not print either.
#[derive(Debug, thiserror::Error)]
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

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &e {
            Error::DatabaseError(DatabaseErrorKind::Unknown, info) if is_busy(info.message()) => {
                StoreError::Unavailable(format!("the database is busy: {}", info.message()))
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Internal(format!("database error: {e}")),
        }
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

/// Connection settings applied to every SQLite connection.
#[derive(Debug)]
struct Pragmas;

/// WAL with `synchronous = NORMAL`: a commit survives a crash of the process (the WAL is written
/// before COMMIT returns) and a power loss can lose only the last commits, never corrupt the file.
/// No memory map: every connection would map the whole file and count it in the process's
/// resident size again; reads go through the kernel's page cache and a small private cache.
/// `busy_timeout` comes first: the statements after it may need a lock another process (the
/// CLI beside `serve`) holds for a moment.
const PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA cache_size = -4000; PRAGMA mmap_size = 0; PRAGMA temp_store = MEMORY;";

/// The writer keeps a larger cache: index pages it updates stay hot across batches. The
/// checkpointer thread copies committed WAL pages into the database file in the background; the
/// writer's own checkpoint (every 4000 pages, ~16 MiB) then finds little left to copy and lets
/// the WAL start over, and `journal_size_limit` trims the file afterwards.
const WRITER_PRAGMAS: &str =
    "PRAGMA cache_size = -16000; PRAGMA wal_autocheckpoint = 4000; PRAGMA journal_size_limit = 67108864;";

/// How often the checkpointer copies committed WAL pages into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(PRAGMAS).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The database: a pool of reader connections and one writer thread.
///
/// SQLite admits one writer at a time. Writes are jobs sent to a thread that owns the write
/// connection; it runs every job waiting in the queue inside one `BEGIN IMMEDIATE` transaction,
/// each job in its own savepoint (a failed job rolls back alone), commits once, and only then
/// answers each caller. So an answer means committed, and a burst of writes costs one commit
/// (group commit). The busy timeout covers other processes (the CLI) writing at the same time.
pub struct Store {
    readers: Pool<ConnectionManager<SqliteConnection>>,
    writer: mpsc::Sender<Job>,
    /// What a user must satisfy beyond its schema before it is stored ([`Store::set_user_check`]).
    user_check: std::sync::OnceLock<UserCheck>,
    /// Dropping it stops the checkpointer thread.
    _checkpointer: mpsc::Sender<()>,
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
type Job = Box<dyn FnOnce(&mut SqliteConnection) -> Completion + Send>;

/// Most jobs one transaction takes: bounds how long the first caller of a batch waits.
const MAX_BATCH: usize = 128;

fn open_writer(path: &str) -> Result<SqliteConnection, StoreError> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| StoreError::Unavailable(format!("{path}: {e}")))?;
    conn.batch_execute(PRAGMAS)?;
    conn.batch_execute(WRITER_PRAGMAS)?;
    Ok(conn)
}

fn spawn_writer(mut conn: SqliteConnection, path: String) -> Result<mpsc::Sender<Job>, StoreError> {
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
                    conn.immediate_transaction::<_, diesel::result::Error, _>(|c| {
                        for job in batch.drain(..) {
                            done.push(job(c));
                        }
                        Ok(())
                    })
                }));
                let outcome = match run {
                    Ok(r) => r.map_err(|e| e.to_string()),
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
                }
                // Jobs that never ran (BEGIN failed) are dropped: their callers see the channel close.
                for complete in done {
                    complete(outcome.clone());
                }
            }
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start the database writer: {e}")))?;
    Ok(tx)
}

/// Normalise `sqlite://path` and `sqlite:path` to the path diesel expects.
fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url)
}

impl Store {
    /// Open (creating the file if needed) and bring the schema up to date.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let path = sqlite_path(url);
        let mut writer = open_writer(path)?;
        run_migrations(&mut writer)?;
        let readers = Pool::builder()
            .max_size(8)
            // A checkout test is a `SELECT 1` per request; a broken SQLite file connection
            // shows up as the next query's error anyway.
            .test_on_check_out(false)
            .min_idle(Some(2))
            .connection_timeout(Duration::from_secs(10))
            .connection_customizer(Box::new(Pragmas))
            .build(ConnectionManager::<SqliteConnection>::new(path))?;
        Ok(Store {
            readers,
            writer: spawn_writer(writer, path.to_string())?,
            user_check: std::sync::OnceLock::new(),
            _checkpointer: spawn_checkpointer(path)?,
        })
    }

    /// Set the rule every created or rewritten user must satisfy ([`UserCheck`]); once, at start.
    /// A second call is ignored.
    pub fn set_user_check(&self, check: UserCheck) {
        let _ = self.user_check.set(check);
    }

    /// Apply pending migrations and report how many ran.
    pub fn migrate(url: &str) -> Result<usize, StoreError> {
        let path = sqlite_path(url);
        let mut conn =
            SqliteConnection::establish(path).map_err(|e| StoreError::Unavailable(format!("{path}: {e}")))?;
        conn.batch_execute(PRAGMAS)?;
        run_migrations(&mut conn)
    }

    fn reader(&self) -> Result<PooledConnection<ConnectionManager<SqliteConnection>>, StoreError> {
        Ok(self.readers.get()?)
    }

    /// Run `f` on the writer thread in its own savepoint of the current batch, and return its
    /// result once the batch has committed.
    pub(crate) fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut SqliteConnection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = mpsc::sync_channel::<Result<T, StoreError>>(1);
        let job: Job = Box::new(move |conn| {
            let result = conn.transaction(f);
            Box::new(move |commit: Result<(), String>| {
                let _ = tx.send(match commit {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Unavailable(format!("the transaction did not commit: {e}"))),
                });
            })
        });
        self.writer.send(job).map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        rx.recv()
            .map_err(|_| StoreError::Unavailable("the database is busy or unavailable; nothing was written".into()))?
    }

    /// A cheap query that proves the database answers (readiness).
    pub fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.reader()?;
        diesel::sql_query("SELECT 1").execute(&mut conn)?;
        Ok(())
    }
}

fn run_migrations(conn: &mut SqliteConnection) -> Result<usize, StoreError> {
    let ran =
        conn.run_pending_migrations(MIGRATIONS).map_err(|e| StoreError::Internal(format!("migration failed: {e}")))?;
    Ok(ran.len())
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
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        use diesel::result::DatabaseErrorKind::{ClosedConnection, Unknown};
        assert!(matches!(db(Unknown, "database is locked"), StoreError::Unavailable(_)));
        assert!(matches!(db(Unknown, "database is busy"), StoreError::Unavailable(_)));
        assert!(matches!(db(ClosedConnection, "gone"), StoreError::Unavailable(_)));
        assert!(matches!(db(Unknown, "no such table: resources"), StoreError::Internal(_)));
        assert!(matches!(StoreError::from(diesel::result::Error::NotFound), StoreError::Internal(_)));
    }
}
