//! The outbox: what must still reach Genesys Cloud, written in the same transaction as the change.
//!
//! One pending row per resource: every accepted change upserts it, so changes made before
//! delivery coalesce (a create and five patches become one "bring Genesys to the stored state";
//! a delete replaces a pending sync). `revision` counts the changes a row stands for; the worker
//! removes a delivered row only if its revision is unchanged, so a change that arrives during a
//! delivery is delivered next. Rows Genesys refuses for good move to `outbox_dead` until an
//! operator retries them; a newer change of the same resource supersedes a dead one.

use super::db::DbConn;
use diesel::prelude::*;
use diesel::upsert::excluded;

use super::schema::{genesys_links, outbox, outbox_dead};
use super::{Store, StoreError, now_millis};
use scim::schema::ResourceKind;

/// What a pending change asks of Genesys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxOp {
    /// Bring Genesys to the resource's stored state (create or update).
    Sync,
    /// The resource was deleted here.
    Delete,
}

impl OutboxOp {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxOp::Sync => "sync",
            OutboxOp::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Result<OutboxOp, StoreError> {
        match s {
            "sync" => Ok(OutboxOp::Sync),
            "delete" => Ok(OutboxOp::Delete),
            other => Err(StoreError::corrupt(format!("unknown outbox op {other}"))),
        }
    }
}

fn parse_kind(s: &str) -> Result<ResourceKind, StoreError> {
    match s {
        "User" => Ok(ResourceKind::User),
        "Group" => Ok(ResourceKind::Group),
        other => Err(StoreError::corrupt(format!("unknown outbox kind {other}"))),
    }
}

/// A pending (or dead) change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub kind: ResourceKind,
    pub resource_id: String,
    pub op: OutboxOp,
    /// For deletes: the userName (or group displayName) Genesys knows the resource by.
    pub user_name: Option<String>,
    /// How many accepted changes this entry stands for, cumulatively.
    pub revision: i64,
    pub attempts: i64,
    /// Milliseconds since the epoch before which the worker leaves it alone.
    pub not_before: i64,
    pub last_error: Option<String>,
    pub created: i64,
    /// The replica holding the change (claimed by [`Store::outbox_claim`]); its outcome is
    /// recorded only while that replica still holds it.
    pub lease_owner: Option<String>,
}

type PendingRow = (String, String, String, Option<String>, i64, i64, i64, Option<String>, i64);

fn entry(row: PendingRow) -> Result<OutboxEntry, StoreError> {
    let (kind, resource_id, op, user_name, revision, attempts, not_before, last_error, created) = row;
    Ok(OutboxEntry {
        kind: parse_kind(&kind)?,
        resource_id,
        op: OutboxOp::parse(&op)?,
        user_name,
        revision,
        attempts,
        not_before,
        last_error,
        created,
        lease_owner: None,
    })
}

/// Record a change inside the caller's write transaction.
pub(crate) fn enqueue(
    conn: &mut DbConn,
    kind: ResourceKind,
    resource_id: &str,
    op: OutboxOp,
    user_name: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let lite = match conn {
        DbConn::Sqlite(lite) => lite,
        DbConn::Pg(pg) => {
            // One statement, one round trip: the upsert below and the removal of a parked change.
            diesel::sql_query(
                "WITH parked AS (DELETE FROM outbox_dead WHERE kind = $1 AND resource_id = $2) \
             INSERT INTO outbox (kind, resource_id, op, user_name, revision, attempts, not_before, created, updated) \
             VALUES ($1, $2, $3, $4, 1, 0, $5, $5, $5) \
             ON CONFLICT (kind, resource_id) DO UPDATE SET op = excluded.op, user_name = excluded.user_name, \
             revision = outbox.revision + 1, updated = $5",
            )
            .bind::<diesel::sql_types::Text, _>(kind.as_str())
            .bind::<diesel::sql_types::Text, _>(resource_id)
            .bind::<diesel::sql_types::Text, _>(op.as_str())
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(user_name)
            .bind::<diesel::sql_types::BigInt, _>(now)
            .execute(pg)?;
            return Ok(());
        }
    };
    // SQLite, inside the writer's transaction (nothing else writes meanwhile): an update of the
    // pending row, else an insert. Each statement is prepared once per connection, where
    // diesel prepares an `INSERT ... ON CONFLICT DO UPDATE` on every execution.
    let pending = outbox::table.filter(outbox::kind.eq(kind.as_str())).filter(outbox::resource_id.eq(resource_id));
    // A backing-off row keeps its `not_before`: a new change does not cut a Genesys outage short.
    let updated = diesel::update(pending)
        .set((
            outbox::op.eq(op.as_str()),
            outbox::user_name.eq(user_name),
            outbox::revision.eq(outbox::revision + 1),
            outbox::updated.eq(now),
        ))
        .execute(lite)?;
    if updated == 0 {
        diesel::insert_into(outbox::table)
            .values((
                outbox::kind.eq(kind.as_str()),
                outbox::resource_id.eq(resource_id),
                outbox::op.eq(op.as_str()),
                outbox::user_name.eq(user_name),
                outbox::revision.eq(1i64),
                outbox::attempts.eq(0i64),
                outbox::not_before.eq(now),
                outbox::created.eq(now),
                outbox::updated.eq(now),
            ))
            .execute(lite)?;
    }
    // The newer change carries the whole state: it supersedes a change Genesys refused.
    diesel::delete(
        outbox_dead::table.filter(outbox_dead::kind.eq(kind.as_str())).filter(outbox_dead::resource_id.eq(resource_id)),
    )
    .execute(lite)?;
    Ok(())
}

/// [`enqueue`] for a resource created in this transaction: its id is new, so no change of it
/// is pending or parked, and a plain insert (prepared once per connection) does.
pub(crate) fn enqueue_created(
    conn: &mut DbConn,
    kind: ResourceKind,
    resource_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    // On the backend's own connection: through the multi-backend connection diesel rebuilds
    // the SQL text of every statement to find its prepared statement.
    crate::store::db::each!(conn, |conn| diesel::insert_into(outbox::table)
        .values((
            outbox::kind.eq(kind.as_str()),
            outbox::resource_id.eq(resource_id),
            outbox::op.eq(OutboxOp::Sync.as_str()),
            outbox::user_name.eq(None::<&str>),
            outbox::revision.eq(1i64),
            outbox::attempts.eq(0i64),
            outbox::not_before.eq(now),
            outbox::created.eq(now),
            outbox::updated.eq(now),
        ))
        .execute(conn))?;
    Ok(())
}

/// Remove a delivered row inside a write transaction, unless its revision moved on (then the
/// row stays, released, and the newer change is delivered next) or another replica holds it now.
pub(crate) fn complete_in(conn: &mut DbConn, e: &OutboxEntry) -> Result<bool, StoreError> {
    let row = outbox::table.filter(outbox::kind.eq(e.kind.as_str())).filter(outbox::resource_id.eq(&e.resource_id));
    let n = match &e.lease_owner {
        Some(owner) => {
            diesel::delete(row.filter(outbox::revision.eq(e.revision)).filter(outbox::lease_owner.eq(owner)))
                .execute(conn)?
        }
        None => diesel::delete(row.filter(outbox::revision.eq(e.revision))).execute(conn)?,
    };
    if n == 0
        && let Some(owner) = &e.lease_owner
    {
        release_in(conn, e, owner)?;
    }
    Ok(n > 0)
}

/// Give up this replica's lease on the row of `e`.
fn release_in(conn: &mut DbConn, e: &OutboxEntry, owner: &str) -> Result<(), StoreError> {
    diesel::update(
        outbox::table
            .filter(outbox::kind.eq(e.kind.as_str()))
            .filter(outbox::resource_id.eq(&e.resource_id))
            .filter(outbox::lease_owner.eq(owner)),
    )
    .set((outbox::lease_owner.eq(None::<String>), outbox::lease_until.eq(None::<i64>)))
    .execute(conn)?;
    Ok(())
}

/// A row `UPDATE … RETURNING` gives back when claiming.
#[derive(diesel::QueryableByName)]
struct ClaimedRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    resource_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    op: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    user_name: Option<String>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    revision: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    attempts: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    not_before: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    created: i64,
}

const PENDING_COLUMNS: (
    outbox::kind,
    outbox::resource_id,
    outbox::op,
    outbox::user_name,
    outbox::revision,
    outbox::attempts,
    outbox::not_before,
    outbox::last_error,
    outbox::created,
) = (
    outbox::kind,
    outbox::resource_id,
    outbox::op,
    outbox::user_name,
    outbox::revision,
    outbox::attempts,
    outbox::not_before,
    outbox::last_error,
    outbox::created,
);

/// How much is waiting: pending rows, the oldest one's creation time, dead rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxDepth {
    pub pending: i64,
    pub oldest_pending: Option<i64>,
    pub dead: i64,
    /// Pending changes held back until a later time (a long `Retry-After`, a backoff).
    pub waiting: i64,
}

impl Store {
    /// Claim up to `limit` changes due at `now` for `owner` (a replica's name) until
    /// `lease_until`, oldest first: rows no replica holds, rows whose lease ran out (their
    /// holder died), and rows `owner` holds already. On PostgreSQL rows another replica is
    /// claiming at the same moment are skipped (`FOR UPDATE SKIP LOCKED`), so claims never wait
    /// on each other.
    pub fn outbox_claim(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.claim(owner, now, lease_until, limit, false)
    }

    /// Take over the changes whose holder's lease ran out (it died), due or not, for `owner`
    /// until `lease_until`, so that they are held again within a heartbeat of the lease's end,
    /// however busy `owner` is; it delivers them when it has room. Returns how many.
    pub fn outbox_take_over(&self, owner: &str, now: i64, lease_until: i64) -> Result<usize, StoreError> {
        Ok(self.claim(owner, now, lease_until, 1_000, true)?.len())
    }

    fn claim(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
        expired_only: bool,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        use diesel::sql_types::{BigInt, Text};
        let owner = owner.to_string();
        let mut claimed = self.write(move |conn| {
            let lock = if conn.is_postgres() { "FOR UPDATE SKIP LOCKED" } else { "" };
            let which = match (expired_only, conn.is_postgres()) {
                (true, _) => "? >= 0 AND lease_owner IS NOT NULL AND lease_until < ? AND lease_owner <> ?",
                (false, true) => "not_before <= ? AND (lease_owner IS NULL OR lease_until < ? OR lease_owner = ?)",
                // SQLite's planner (no statistics) would range-scan `outbox_due` and sort every
                // due row; the unary `+` makes it walk `outbox_claim_order` and stop at the limit.
                (false, false) => "+not_before <= ? AND (lease_owner IS NULL OR lease_until < ? OR lease_owner = ?)",
            };
            let sql = format!(
                "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE (kind, resource_id) IN (\
                 SELECT kind, resource_id FROM outbox WHERE {which} \
                 ORDER BY created, kind, resource_id LIMIT ? {lock}) \
                 RETURNING kind, resource_id, op, user_name, revision, attempts, not_before, last_error, created"
            );
            let sql = conn.sql(&sql).into_owned();
            let rows: Vec<ClaimedRow> = diesel::sql_query(sql)
                .bind::<Text, _>(&owner)
                .bind::<BigInt, _>(lease_until)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(now)
                .bind::<Text, _>(&owner)
                .bind::<BigInt, _>(limit)
                .load(conn)?;
            rows.into_iter()
                .map(|r| {
                    let row = (
                        r.kind,
                        r.resource_id,
                        r.op,
                        r.user_name,
                        r.revision,
                        r.attempts,
                        r.not_before,
                        r.last_error,
                        r.created,
                    );
                    entry(row).map(|e| OutboxEntry { lease_owner: Some(owner.clone()), ..e })
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        claimed.sort_by(|a, b| {
            (a.created, a.kind.as_str(), &a.resource_id).cmp(&(b.created, b.kind.as_str(), &b.resource_id))
        });
        Ok(claimed)
    }

    /// Extend every lease `owner` holds to `lease_until` (the holder's heartbeat). Returns how
    /// many rows it holds.
    pub fn outbox_renew(&self, owner: &str, lease_until: i64) -> Result<usize, StoreError> {
        let owner = owner.to_string();
        self.write(move |conn| {
            Ok(diesel::update(outbox::table.filter(outbox::lease_owner.eq(&owner)))
                .set(outbox::lease_until.eq(lease_until))
                .execute(conn)?)
        })
    }

    /// The change of `e` as it stands now (a newer change may have been folded into its row
    /// since it was claimed), still held by the same replica; `None` when it is gone or another
    /// replica holds it. Read before the resource, so the revision delivered is never newer
    /// than the state sent: a delivery then completes the changes folded in before it began.
    pub fn outbox_reload(&self, e: &OutboxEntry) -> Result<Option<OutboxEntry>, StoreError> {
        let mut conn = self.reader()?;
        let row: Option<(PendingRow, Option<String>)> = outbox::table
            .filter(outbox::kind.eq(e.kind.as_str()))
            .filter(outbox::resource_id.eq(&e.resource_id))
            .select((PENDING_COLUMNS, outbox::lease_owner))
            .first(&mut conn)
            .optional()?;
        let Some((row, owner)) = row else { return Ok(None) };
        if e.lease_owner.is_some() && owner != e.lease_owner {
            return Ok(None);
        }
        Ok(Some(OutboxEntry { lease_owner: e.lease_owner.clone(), ..entry(row)? }))
    }

    /// Who holds outbox leases now, with how many changes each (operators; tests).
    pub fn outbox_lease_holders(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut conn = self.reader()?;
        let rows: Vec<(Option<String>, i64)> = outbox::table
            .filter(outbox::lease_owner.is_not_null())
            .group_by(outbox::lease_owner)
            .select((outbox::lease_owner, diesel::dsl::count_star()))
            .load(&mut conn)?;
        Ok(rows.into_iter().filter_map(|(o, n)| o.map(|o| (o, n))).collect())
    }

    /// Give up the leases of `owner` (a replica stopping), or every lease (`None`: a SQLite
    /// bridge starting, the only process that delivers from its file).
    pub fn outbox_release(&self, owner: Option<&str>) -> Result<usize, StoreError> {
        let owner = owner.map(str::to_string);
        self.write(move |conn| {
            let clear = (outbox::lease_owner.eq(None::<String>), outbox::lease_until.eq(None::<i64>));
            Ok(match &owner {
                Some(o) => diesel::update(outbox::table.filter(outbox::lease_owner.eq(o))).set(clear).execute(conn)?,
                None => {
                    diesel::update(outbox::table.filter(outbox::lease_owner.is_not_null())).set(clear).execute(conn)?
                }
            })
        })
    }

    /// Take one request from the token bucket `name` (shared by every replica on this database),
    /// holding at most `burst` and refilled per minute at the rate last `observed` by any replica
    /// (Genesys's headers), else at `default`: `Ok(None)` taken, `Ok(Some(ms))` empty, refilled
    /// enough in about that many milliseconds. A replica's clock running behind refills nothing
    /// rather than draining the bucket.
    pub fn rate_take(
        &self,
        name: &str,
        now: i64,
        observed: Option<f64>,
        default: f64,
        burst: f64,
    ) -> Result<Option<i64>, StoreError> {
        use super::schema::rate_budget as b;
        let name = name.to_string();
        self.write(move |conn| {
            super::db::each!(conn, |conn| diesel::insert_into(b::table)
                .values((b::name.eq(&name), b::tokens.eq(burst), b::updated.eq(now)))
                .on_conflict_do_nothing()
                .execute(conn))?;
            let row = b::table.filter(b::name.eq(&name)).select((b::tokens, b::updated, b::per_minute));
            let (tokens, updated, known): (f64, i64, Option<f64>) = match conn {
                DbConn::Pg(c) => row.for_update().first(c)?,
                DbConn::Sqlite(c) => row.first(c)?,
            };
            let per_minute = observed.or(known).unwrap_or(default).max(1.0);
            let elapsed = (now - updated).max(0) as f64;
            let available = (tokens + elapsed * per_minute / 60_000.0).min(burst);
            let (left, wait) = if available >= 1.0 {
                (available - 1.0, None)
            } else {
                (available, Some(((1.0 - available) * 60_000.0 / per_minute).ceil().max(1.0) as i64))
            };
            diesel::update(b::table.filter(b::name.eq(&name)))
                .set((b::tokens.eq(left), b::updated.eq(now.max(updated)), b::per_minute.eq(Some(per_minute))))
                .execute(conn)?;
            Ok(wait)
        })
    }

    /// Pending changes due now, oldest first.
    pub fn outbox_due(&self, now: i64, limit: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut conn = self.reader()?;
        let rows: Vec<PendingRow> = outbox::table
            .filter(outbox::not_before.le(now))
            .order((outbox::created, outbox::kind, outbox::resource_id))
            .limit(limit)
            .select(PENDING_COLUMNS)
            .load(&mut conn)?;
        rows.into_iter().map(entry).collect()
    }

    /// Every pending change, oldest first.
    pub fn outbox_pending(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.outbox_due(i64::MAX, i64::MAX)
    }

    /// Every dead change, most recent first.
    pub fn outbox_dead(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut conn = self.reader()?;
        let rows: Vec<PendingRow> = outbox_dead::table
            .order(outbox_dead::died.desc())
            .select((
                outbox_dead::kind,
                outbox_dead::resource_id,
                outbox_dead::op,
                outbox_dead::user_name,
                outbox_dead::revision,
                outbox_dead::attempts,
                outbox_dead::died,
                outbox_dead::last_error.nullable(),
                outbox_dead::created,
            ))
            .load(&mut conn)?;
        rows.into_iter().map(entry).collect()
    }

    pub fn outbox_depth(&self) -> Result<OutboxDepth, StoreError> {
        let mut conn = self.reader()?;
        let (pending, oldest): (i64, Option<i64>) =
            outbox::table.select((diesel::dsl::count_star(), diesel::dsl::min(outbox::created))).first(&mut conn)?;
        let dead: i64 = outbox_dead::table.count().get_result(&mut conn)?;
        let waiting: i64 =
            outbox::table.filter(outbox::not_before.gt(super::now_millis())).count().get_result(&mut conn)?;
        Ok(OutboxDepth { pending, oldest_pending: oldest, dead, waiting })
    }

    /// The change was delivered: remove it, unless a newer change arrived meanwhile (then it stays
    /// pending and is delivered again). Returns whether it was removed.
    pub fn outbox_complete(&self, e: &OutboxEntry) -> Result<bool, StoreError> {
        let e = e.clone();
        self.write(move |conn| complete_in(conn, &e))
    }

    /// Try again at `not_before` (milliseconds since the epoch), recording why it failed; the
    /// lease is given up (any replica may take the change then).
    pub fn outbox_defer(&self, e: &OutboxEntry, not_before: i64, error: &str) -> Result<(), StoreError> {
        let (kind, id, error, owner) = (e.kind, e.resource_id.clone(), error.to_string(), e.lease_owner.clone());
        self.write(move |conn| {
            let row = outbox::table.filter(outbox::kind.eq(kind.as_str())).filter(outbox::resource_id.eq(&id));
            let changes = (
                outbox::attempts.eq(outbox::attempts + 1),
                outbox::not_before.eq(not_before),
                outbox::last_error.eq(&error),
                outbox::updated.eq(now_millis()),
                outbox::lease_owner.eq(None::<String>),
                outbox::lease_until.eq(None::<i64>),
            );
            match &owner {
                Some(o) => diesel::update(row.filter(outbox::lease_owner.eq(o))).set(changes).execute(conn)?,
                None => diesel::update(row).set(changes).execute(conn)?,
            };
            Ok(())
        })
    }

    /// Make every pending change held back until later (a long `Retry-After`, a backoff) and
    /// held by no replica due at `now`; returns how many. The worker calls it when Genesys
    /// accepts again after telling it to wait.
    pub fn outbox_release_held(&self, now: i64) -> Result<usize, StoreError> {
        self.write(move |conn| {
            let held = outbox::table.filter(outbox::not_before.gt(now)).filter(outbox::lease_owner.is_null());
            Ok(diesel::update(held).set(outbox::not_before.eq(now)).execute(conn)?)
        })
    }

    /// Genesys refused the change for good: park it as dead, unless a newer change arrived
    /// meanwhile (that one is tried instead). Returns whether it was parked.
    pub fn outbox_park(&self, e: &OutboxEntry, error: &str) -> Result<bool, StoreError> {
        let (kind, id, revision, error) = (e.kind, e.resource_id.clone(), e.revision, error.to_string());
        let held = e.clone();
        self.write(move |conn| {
            let pending = outbox::table
                .filter(outbox::kind.eq(kind.as_str()))
                .filter(outbox::resource_id.eq(&id))
                .filter(outbox::revision.eq(revision));
            let row = match &held.lease_owner {
                Some(o) => pending.filter(outbox::lease_owner.eq(o)).select(PENDING_COLUMNS).first::<PendingRow>(conn),
                None => pending.select(PENDING_COLUMNS).first::<PendingRow>(conn),
            };
            let Some(row) = row.optional()? else {
                // A newer change arrived meanwhile: it is tried instead.
                if let Some(o) = &held.lease_owner {
                    release_in(conn, &held, o)?;
                }
                return Ok(false);
            };
            let entry = entry(row)?;
            super::db::each!(conn, |conn| diesel::insert_into(outbox_dead::table)
                .values((
                    outbox_dead::kind.eq(kind.as_str()),
                    outbox_dead::resource_id.eq(&id),
                    outbox_dead::op.eq(entry.op.as_str()),
                    outbox_dead::user_name.eq(&entry.user_name),
                    outbox_dead::revision.eq(entry.revision),
                    outbox_dead::attempts.eq(entry.attempts + 1),
                    outbox_dead::last_error.eq(&error),
                    outbox_dead::created.eq(entry.created),
                    outbox_dead::died.eq(now_millis()),
                ))
                .on_conflict((outbox_dead::kind, outbox_dead::resource_id))
                .do_update()
                .set((
                    outbox_dead::op.eq(excluded(outbox_dead::op)),
                    outbox_dead::last_error.eq(excluded(outbox_dead::last_error)),
                    outbox_dead::died.eq(excluded(outbox_dead::died)),
                ))
                .execute(conn))?;
            diesel::delete(pending).execute(conn)?;
            Ok(true)
        })
    }

    /// An operator's retry: dead changes (all, or of one resource) become pending again.
    /// Returns how many were revived.
    pub fn outbox_retry(&self, resource_id: Option<&str>) -> Result<usize, StoreError> {
        let only = resource_id.map(str::to_string);
        self.write(move |conn| {
            let mut dead = outbox_dead::table.into_boxed();
            if let Some(id) = &only {
                dead = dead.filter(outbox_dead::resource_id.eq(id));
            }
            let rows: Vec<(String, String, String, Option<String>)> = dead
                .select((outbox_dead::kind, outbox_dead::resource_id, outbox_dead::op, outbox_dead::user_name))
                .load(conn)?;
            let now = now_millis();
            for (kind, id, op, user_name) in &rows {
                enqueue(conn, parse_kind(kind)?, id, OutboxOp::parse(op)?, user_name.as_deref(), now)?;
            }
            Ok(rows.len())
        })
    }

    /// The Genesys id of a delivered resource.
    pub fn genesys_link(&self, kind: ResourceKind, resource_id: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.reader()?;
        Ok(genesys_links::table
            .filter(genesys_links::kind.eq(kind.as_str()))
            .filter(genesys_links::resource_id.eq(resource_id))
            .select(genesys_links::genesys_id)
            .first(&mut conn)
            .optional()?)
    }

    /// Record (or, with `None`, forget) the Genesys id of a resource.
    pub fn set_genesys_link(
        &self,
        kind: ResourceKind,
        resource_id: &str,
        genesys_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let (id, gid) = (resource_id.to_string(), genesys_id.map(str::to_string));
        self.write(move |conn| {
            let this = genesys_links::table
                .filter(genesys_links::kind.eq(kind.as_str()))
                .filter(genesys_links::resource_id.eq(&id));
            match &gid {
                Some(g) => {
                    super::db::each!(conn, |conn| diesel::insert_into(genesys_links::table)
                        .values((
                            genesys_links::kind.eq(kind.as_str()),
                            genesys_links::resource_id.eq(&id),
                            genesys_links::genesys_id.eq(g),
                        ))
                        .on_conflict((genesys_links::kind, genesys_links::resource_id))
                        .do_update()
                        .set(genesys_links::genesys_id.eq(g))
                        .execute(conn))?;
                }
                None => {
                    diesel::delete(this).execute(conn)?;
                }
            }
            Ok(())
        })
    }
}

impl Store {
    /// The Genesys user ids the bridge added to a Genesys group for the bridge group `group_id`,
    /// by Genesys group id.
    pub fn genesys_group_added(
        &self,
        group_id: &str,
    ) -> Result<std::collections::BTreeMap<String, std::collections::BTreeSet<String>>, StoreError> {
        use super::schema::genesys_group_members as m;
        let mut conn = self.reader()?;
        let rows: Vec<(String, String)> = m::table
            .filter(m::group_id.eq(group_id))
            .select((m::genesys_group_id, m::genesys_user_id))
            .load(&mut conn)?;
        let mut by_group: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
        for (g, u) in rows {
            by_group.entry(g).or_default().insert(u);
        }
        Ok(by_group)
    }

    /// Record what a group sync did to the Genesys group: the members it added (now the
    /// bridge's) and the ones it removed (no longer anyone's concern).
    pub fn record_genesys_group_members(
        &self,
        group_id: &str,
        genesys_group_id: &str,
        added: &[String],
        removed: &[String],
    ) -> Result<(), StoreError> {
        use super::schema::genesys_group_members as m;
        let (group, genesys_group) = (group_id.to_string(), genesys_group_id.to_string());
        let (added, removed) = (added.to_vec(), removed.to_vec());
        self.write(move |conn| {
            for u in &added {
                super::db::each!(conn, |conn| diesel::insert_into(m::table)
                    .values((m::group_id.eq(&group), m::genesys_group_id.eq(&genesys_group), m::genesys_user_id.eq(u)))
                    .on_conflict_do_nothing()
                    .execute(conn))?;
            }
            for u in &removed {
                diesel::delete(
                    m::table
                        .filter(m::group_id.eq(&group))
                        .filter(m::genesys_group_id.eq(&genesys_group))
                        .filter(m::genesys_user_id.eq(u)),
                )
                .execute(conn)?;
            }
            Ok(())
        })
    }
}

/// How the bridge came to own a Genesys user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// A create was sent (its answer may be lost): a user found with this userName is ours.
    Creating,
    /// Genesys answered the create with this user.
    Created,
    /// Adopted: by the `by-username` setting or an operator's `outbox adopt`.
    Adopted,
    /// An operator allowed adopting this resource's userName once (`scim-bridge outbox adopt`).
    AdoptAllowed,
}

impl Ownership {
    pub fn as_str(self) -> &'static str {
        match self {
            Ownership::Creating => "creating",
            Ownership::Created => "created",
            Ownership::Adopted => "adopted",
            Ownership::AdoptAllowed => "adopt",
        }
    }

    fn parse(s: &str) -> Option<Ownership> {
        [Ownership::Creating, Ownership::Created, Ownership::Adopted, Ownership::AdoptAllowed]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// What the bridge knows of its ownership of one Genesys user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedUser {
    pub resource_id: String,
    pub user_name: String,
    pub genesys_id: Option<String>,
    pub how: Ownership,
    /// The fields the bridge last wrote to the user (JSON, as the caller stored it).
    pub written: Option<String>,
    /// The roles the bridge granted since the user was last (re)activated (JSON, as stored).
    pub roles_granted: Option<String>,
}

impl Store {
    /// The ownership row of a bridge user.
    pub fn owned_user(&self, resource_id: &str) -> Result<Option<OwnedUser>, StoreError> {
        use super::schema::genesys_owned_users as o;
        let mut conn = self.reader()?;
        type Row = (String, String, Option<String>, String, Option<String>, Option<String>);
        let row: Option<Row> = o::table
            .filter(o::resource_id.eq(resource_id))
            .select((o::resource_id, o::user_name, o::genesys_id, o::how, o::written, o::roles_granted))
            .first(&mut conn)
            .optional()?;
        Ok(row.and_then(|(resource_id, user_name, genesys_id, how, written, roles_granted)| {
            Ownership::parse(&how).map(|how| OwnedUser {
                resource_id,
                user_name,
                genesys_id,
                how,
                written,
                roles_granted,
            })
        }))
    }

    /// Whether the bridge owns the Genesys user `genesys_id` (created or adopted it, for any
    /// bridge user, the deleted ones included).
    pub fn owns_genesys_user(&self, genesys_id: &str) -> Result<bool, StoreError> {
        use super::schema::genesys_owned_users as o;
        let mut conn = self.reader()?;
        let n: i64 = o::table
            .filter(o::genesys_id.eq(genesys_id))
            .filter(o::how.eq_any([Ownership::Created.as_str(), Ownership::Adopted.as_str()]))
            .count()
            .get_result(&mut conn)?;
        Ok(n > 0)
    }

    /// The Genesys ids of every user the bridge created or adopted (for any bridge user, the
    /// deleted ones included).
    pub fn owned_genesys_ids(&self) -> Result<Vec<String>, StoreError> {
        use super::schema::genesys_owned_users as o;
        let mut conn = self.reader()?;
        let ids: Vec<Option<String>> = o::table
            .filter(o::how.eq_any([Ownership::Created.as_str(), Ownership::Adopted.as_str()]))
            .select(o::genesys_id)
            .load(&mut conn)?;
        Ok(ids.into_iter().flatten().collect())
    }

    /// Record the fields the bridge just wrote to the Genesys user of `resource_id`.
    pub fn set_written_fields(&self, resource_id: &str, written: &str) -> Result<(), StoreError> {
        use super::schema::genesys_owned_users as o;
        let (id, w) = (resource_id.to_string(), written.to_string());
        self.write(move |conn| {
            diesel::update(o::table.filter(o::resource_id.eq(&id))).set(o::written.eq(&w)).execute(conn)?;
            Ok(())
        })
    }

    /// Record the roles the bridge granted the Genesys user of `resource_id` since it was last
    /// (re)activated (`None`: none).
    pub fn set_roles_granted(&self, resource_id: &str, roles: Option<&str>) -> Result<(), StoreError> {
        use super::schema::genesys_owned_users as o;
        let (id, r) = (resource_id.to_string(), roles.map(str::to_string));
        self.write(move |conn| {
            diesel::update(o::table.filter(o::resource_id.eq(&id))).set(o::roles_granted.eq(&r)).execute(conn)?;
            Ok(())
        })
    }

    /// Record how the bridge owns (or is about to own) a Genesys user for `resource_id`.
    pub fn set_owned_user(
        &self,
        resource_id: &str,
        user_name: &str,
        genesys_id: Option<&str>,
        how: Ownership,
    ) -> Result<(), StoreError> {
        use super::schema::genesys_owned_users as o;
        let (id, name, gid) = (resource_id.to_string(), user_name.to_string(), genesys_id.map(str::to_string));
        let at = super::now_millis();
        self.write(move |conn| {
            super::db::each!(conn, |conn| diesel::insert_into(o::table)
                .values((
                    o::resource_id.eq(&id),
                    o::user_name.eq(&name),
                    o::genesys_id.eq(&gid),
                    o::how.eq(how.as_str()),
                    o::at.eq(at),
                ))
                .on_conflict(o::resource_id)
                .do_update()
                .set((o::user_name.eq(&name), o::genesys_id.eq(&gid), o::how.eq(how.as_str()), o::at.eq(at)))
                .execute(conn))?;
            Ok(())
        })
    }
}

impl Store {
    /// Put the ownership record of `resource_id` back to `prior` (none: remove it), undoing the
    /// "creating" record of a create Genesys refused.
    pub fn restore_owned_user(
        &self,
        resource_id: &str,
        user_name: &str,
        prior: Option<Ownership>,
    ) -> Result<(), StoreError> {
        use super::schema::genesys_owned_users as o;
        match prior {
            Some(how) => self.set_owned_user(resource_id, user_name, None, how),
            None => {
                let id = resource_id.to_string();
                self.write(move |conn| {
                    diesel::delete(
                        o::table.filter(o::resource_id.eq(&id)).filter(o::how.eq(Ownership::Creating.as_str())),
                    )
                    .execute(conn)?;
                    Ok(())
                })
            }
        }
    }
}

/// The Group resources whose member rows name `member_id` (they change when it is deleted).
pub(crate) fn groups_holding(conn: &mut DbConn, member_id: &str) -> Result<Vec<String>, StoreError> {
    use super::schema::{group_members, resources};
    Ok(group_members::table
        .inner_join(resources::table.on(resources::seq.eq(group_members::group_seq)))
        .filter(group_members::member_id.eq(member_id))
        .select(resources::id)
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use scim::schema::registry;
    use scim::{patch, resource};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&crate::store::test_database(dir.path(), "o.db").unwrap()).unwrap();
        (dir, store)
    }

    fn create_user(store: &Store, name: &str) -> String {
        let rt = &registry().user;
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
                          "phoneNumbers": [{"type": "eightbyeight", "value": "+14155550100"}]});
        store.create(rt, resource::prepare_create(rt, body).unwrap(), &crate::store::test_audit()).unwrap().id
    }

    fn set_phone(store: &Store, id: &str, number: &str) {
        let rt = &registry().user;
        let req = patch::parse_patch(
            rt,
            &json!({"Operations": [{"op": "replace", "path": "phoneNumbers[type eq \"eightbyeight\"].value", "value": number}]}),
        )
        .unwrap();
        store.patch(rt, id, None, &req, &crate::store::test_audit()).unwrap();
    }

    #[test]
    fn a_create_and_five_patches_coalesce_into_one_change() {
        let (_d, store) = store();
        let id = create_user(&store, "c@example.com");
        for i in 0..5 {
            set_phone(&store, &id, &format!("+1415555020{i}"));
        }
        let pending = store.outbox_pending().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(
            (pending[0].op, pending[0].revision, pending[0].resource_id.as_str()),
            (OutboxOp::Sync, 6, id.as_str())
        );
        // A PATCH that changes nothing is not a change.
        set_phone(&store, &id, "+14155550204");
        assert_eq!(store.outbox_pending().unwrap()[0].revision, 6);
    }

    #[test]
    fn a_delete_replaces_a_pending_sync_and_keeps_the_user_name() {
        let (_d, store) = store();
        let id = create_user(&store, "gone@example.com");
        store.delete(ResourceKind::User, &id, None, &crate::store::test_audit()).unwrap();
        let pending = store.outbox_pending().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].op, OutboxOp::Delete);
        assert_eq!(pending[0].user_name.as_deref(), Some("gone@example.com"));
    }

    #[test]
    fn a_change_during_delivery_stays_pending() {
        let (_d, store) = store();
        let id = create_user(&store, "busy@example.com");
        let delivering = store.outbox_due(now_millis(), 10).unwrap().remove(0);
        set_phone(&store, &id, "+14155550999");
        assert!(!store.outbox_complete(&delivering).unwrap(), "a newer change arrived");
        let again = store.outbox_due(now_millis(), 10).unwrap().remove(0);
        assert_eq!(again.revision, 2);
        assert!(store.outbox_complete(&again).unwrap());
        assert!(store.outbox_pending().unwrap().is_empty());
    }

    #[test]
    fn replicas_claim_each_change_once_and_take_over_a_dead_replicas_after_its_lease() {
        let (_d, store) = store();
        let ids: Vec<String> = (0..5).map(|i| create_user(&store, &format!("lease{i}@example.com"))).collect();
        let now = now_millis();
        // Two replicas claim at once: every change goes to one of them, none to both.
        let a = store.outbox_claim("a", now, now + 25_000, 3).unwrap();
        let b = store.outbox_claim("b", now, now + 25_000, 10).unwrap();
        assert_eq!((a.len(), b.len()), (3, 2));
        let mut all: Vec<&str> = a.iter().chain(&b).map(|e| e.resource_id.as_str()).collect();
        all.sort_unstable();
        let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(all, want);
        // Oldest first (creates in one millisecond tie; the id then decides).
        let newest_of_a = a.iter().map(|e| (e.created, e.resource_id.clone())).max().unwrap();
        assert!(b.iter().all(|e| (e.created, e.resource_id.clone()) > newest_of_a), "oldest first");
        assert!(store.outbox_claim("c", now, now + 25_000, 10).unwrap().is_empty(), "all held");
        // A renews; B stops renewing (it died): after its lease ends, C takes B's changes.
        assert_eq!(store.outbox_renew("a", now + 60_000).unwrap(), 3);
        let later = now + 30_000;
        let c = store.outbox_claim("c", later, later + 25_000, 10).unwrap();
        let taken: Vec<&str> = c.iter().map(|e| e.resource_id.as_str()).collect();
        let from_b: Vec<&str> = b.iter().map(|e| e.resource_id.as_str()).collect();
        assert_eq!(taken, from_b);
        // B wakes up late: its outcome no longer counts, the change stays with C.
        assert!(!store.outbox_complete(&b[0]).unwrap());
        store.outbox_defer(&b[1], later, "late").unwrap();
        assert_eq!(
            store.outbox_pending().unwrap().iter().find(|e| e.resource_id == b[1].resource_id).unwrap().attempts,
            0
        );
        assert!(store.outbox_complete(&c[0]).unwrap());
        // A change arriving during A's delivery: A's completion leaves it, released, for anyone.
        set_phone(&store, &a[0].resource_id, "+14155550998");
        assert!(!store.outbox_complete(&a[0]).unwrap());
        let next = store.outbox_claim("c", later, later + 25_000, 10).unwrap();
        assert!(next.iter().any(|e| e.resource_id == a[0].resource_id && e.revision == 2), "{next:?}");
        // A stopping gives up what it holds at once.
        assert_eq!(store.outbox_release(Some("a")).unwrap(), 2);
        // A replica's heartbeat takes over leases that ran out, due or not, whoever held them.
        let t = later + 30_000;
        let e = store.outbox_claim("e", t, t + 1_000, 10).unwrap();
        assert!(!e.is_empty());
        assert_eq!(store.outbox_take_over("f", t + 500, t + 20_000).unwrap(), 0, "still held");
        assert_eq!(store.outbox_take_over("f", t + 2_000, t + 20_000).unwrap(), e.len());
        assert!(store.outbox_lease_holders().unwrap().iter().all(|(o, _)| o != "e"));
        assert_eq!(store.outbox_release(Some("f")).unwrap(), e.len());
    }

    #[test]
    fn refused_changes_park_until_retried_or_superseded() {
        let (_d, store) = store();
        let id = create_user(&store, "refused@example.com");
        let e = store.outbox_due(now_millis(), 10).unwrap().remove(0);
        store.outbox_defer(&e, now_millis() + 60_000, "HTTP 503").unwrap();
        assert!(store.outbox_due(now_millis(), 10).unwrap().is_empty(), "backing off");
        let e = store.outbox_pending().unwrap().remove(0);
        assert_eq!((e.attempts, e.last_error.as_deref()), (1, Some("HTTP 503")));
        assert!(store.outbox_park(&e, "HTTP 400 bad.request: invalid phone").unwrap());
        assert!(store.outbox_pending().unwrap().is_empty());
        let dead = store.outbox_dead().unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 400 bad.request: invalid phone"));
        assert_eq!(
            store.outbox_depth().unwrap(),
            OutboxDepth { pending: 0, oldest_pending: None, dead: 1, waiting: 0 }
        );
        assert_eq!(store.outbox_retry(None).unwrap(), 1);
        assert_eq!(store.outbox_pending().unwrap().len(), 1);
        assert!(store.outbox_dead().unwrap().is_empty());
        // A newer change of a dead resource supersedes the dead change.
        let e = store.outbox_pending().unwrap().remove(0);
        store.outbox_park(&e, "refused").unwrap();
        set_phone(&store, &id, "+14155550777");
        assert!(store.outbox_dead().unwrap().is_empty());
        assert_eq!(store.outbox_pending().unwrap().len(), 1);
    }

    #[test]
    fn failed_writes_leave_no_outbox_row_and_deleting_a_member_resyncs_its_groups() {
        let (_d, store) = store();
        let id = create_user(&store, "member@example.com");
        let rt = &registry().user;
        let dup = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "MEMBER@example.com"});
        assert!(store.create(rt, resource::prepare_create(rt, dup).unwrap(), &crate::store::test_audit()).is_err());
        let bad =
            patch::parse_patch(rt, &json!({"Operations": [{"op": "replace", "path": "active", "value": "maybe"}]}))
                .unwrap();
        assert!(store.patch(rt, &id, None, &bad, &crate::store::test_audit()).is_err());
        assert_eq!(store.outbox_pending().unwrap().len(), 1);
        for e in store.outbox_pending().unwrap() {
            store.outbox_complete(&e).unwrap();
        }
        let grt = &registry().group;
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales", "members": [{"value": id}]});
        let gid =
            store.create(grt, resource::prepare_create(grt, body).unwrap(), &crate::store::test_audit()).unwrap().id;
        for e in store.outbox_pending().unwrap() {
            store.outbox_complete(&e).unwrap();
        }
        store.delete(ResourceKind::User, &id, None, &crate::store::test_audit()).unwrap();
        let mut pending: Vec<(ResourceKind, String, OutboxOp)> =
            store.outbox_pending().unwrap().into_iter().map(|e| (e.kind, e.resource_id, e.op)).collect();
        pending.sort_by_key(|p| p.0 == ResourceKind::Group);
        assert_eq!(
            pending,
            vec![(ResourceKind::User, id, OutboxOp::Delete), (ResourceKind::Group, gid, OutboxOp::Sync)]
        );
    }

    #[test]
    fn links_are_recorded_and_forgotten() {
        let (_d, store) = store();
        assert_eq!(store.genesys_link(ResourceKind::User, "u1").unwrap(), None);
        store.set_genesys_link(ResourceKind::User, "u1", Some("g1")).unwrap();
        store.set_genesys_link(ResourceKind::User, "u1", Some("g2")).unwrap();
        assert_eq!(store.genesys_link(ResourceKind::User, "u1").unwrap().as_deref(), Some("g2"));
        store.set_genesys_link(ResourceKind::User, "u1", None).unwrap();
        assert_eq!(store.genesys_link(ResourceKind::User, "u1").unwrap(), None);
    }
}
