//! The SQLite backend: the embedded default. One file, WAL, and write transactions that take
//! the write lock up front (`BEGIN IMMEDIATE`) so that two writers never deadlock upgrading a
//! read lock. SQLite serializes writers, so a claim in a write transaction is already exclusive.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use super::sql;
use super::*;
use crate::domain::blueprint::{CANCELLED_MESSAGE, TIMEOUT_MESSAGE, WORKER_LOST_MESSAGE};
use crate::domain::objective::{Objective, TerminalObjective};
use crate::domain::{Attempt, BloomLevel, ObjectiveDraft, LOCAL_USER_ID};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    url: String,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .context("Failed to parse the SQLite URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across process crashes in WAL mode; only an OS crash can lose
            // the last transactions, and the job lease protocol recovers from that.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            // A COMMIT that fails (SQLITE_FULL on a full disk) leaves sqlx believing the
            // connection is still inside a transaction, and every later `BEGIN` on it fails
            // ("non-zero transaction depth"). Such a connection is closed instead of reused;
            // a healthy one whose rollback is still queued may be closed too, which is harmless.
            .before_acquire(|conn, _| {
                Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
            })
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            url: url.to_string(),
        })
    }

    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Runs one write in an explicit transaction: in autocommit mode the commit runs when the
    /// statement is finished, after `RETURNING` already handed out its row, and a failed commit
    /// (SQLITE_FULL) would go unreported while the row is rolled back.
    async fn write_optional(&self, query: DbQuery<'_>) -> Result<Option<SqliteRow>, sqlx::Error> {
        let mut tx = self.write_tx().await?;
        let row = query.fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// [`Self::write_optional`] for a statement without `RETURNING`: the rows it changed.
    async fn write_execute(&self, query: DbQuery<'_>) -> Result<u64, sqlx::Error> {
        let mut tx = self.write_tx().await?;
        let changed = query.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(changed)
    }
}

/// A write transaction. `BEGIN IMMEDIATE` took SQLite's write lock: until it ends, no other
/// writer (in this process or another) runs, so counts read in it stay true until commit.
struct SqliteTx(Transaction<'static, Sqlite>);

write_tx_impl!(SqliteTx {
    async fn lock_throttle_key(&mut self, _key: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        Ok(self.0.commit().await?)
    }

    async fn lock_user(&mut self, _user_id: UserId) -> StoreResult<()> {
        Ok(())
    }

    async fn lock_owned_topic(&mut self, topic_id: TopicId, owner_id: UserId) -> StoreResult<bool> {
        let found = sqlx::query("SELECT 1 FROM topics WHERE id = $1 AND owner_id = $2")
            .bind(db_id(topic_id))
            .bind(db_id(owner_id))
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(found.is_some())
    }
});

fn decode_err(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("invalid {what} {value:?} in the database").into())
}

type DbQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>;
type DbTx = Transaction<'static, Sqlite>;
type DbRow = SqliteRow;

/// Ids are stored as text.
fn db_id(id: impl Into<Uuid>) -> String {
    id.into().to_string()
}

fn opt_uuid_col(row: &SqliteRow, col: &str) -> Result<Option<Uuid>, sqlx::Error> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|text| Uuid::parse_str(&text).map_err(|_| decode_err("uuid", &text)))
        .transpose()
}

shared_rows!();

fn uuid_col(row: &SqliteRow, col: &str) -> Result<Uuid, sqlx::Error> {
    let text: String = row.try_get(col)?;
    Uuid::parse_str(&text).map_err(|_| decode_err("uuid", &text))
}

/// Ends every active generation of a topic in `cancelled`, inside the caller's transaction.
async fn cancel_active_of_topic(
    tx: &mut Transaction<'static, Sqlite>,
    topic_id: TopicId,
    now: i64,
) -> Result<Vec<Blueprint>, sqlx::Error> {
    let rows = sqlx::query(concat!(
        "UPDATE blueprints SET status = 'cancelled', error = ?, error_code = 'cancelled', \
         finished_at = ?, version = version + 1, updated_at = ? \
         WHERE topic_id = ? AND status IN ",
        active_statuses!(),
        returning_blueprint!()
    ))
    .bind(CANCELLED_MESSAGE)
    .bind(now)
    .bind(now)
    .bind(db_id(topic_id))
    .fetch_all(&mut **tx)
    .await?;
    let cancelled = rows
        .iter()
        .map(blueprint_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    for blueprint in &cancelled {
        finish_job(tx, BlueprintId(blueprint.id), now).await?;
    }
    Ok(cancelled)
}

async fn finish_job(
    tx: &mut Transaction<'static, Sqlite>,
    blueprint_id: BlueprintId,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE generation_jobs SET finished_at = ?, worker_id = NULL, lease_expires_at = NULL \
         WHERE blueprint_id = ? AND finished_at IS NULL",
    )
    .bind(now)
    .bind(db_id(blueprint_id))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

store_impl!(SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .context("Failed to apply the SQLite migrations")?;
        Ok(())
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    async fn begin_write(&self) -> StoreResult<Box<dyn WriteTx>> {
        Ok(Box::new(SqliteTx(self.write_tx().await?)))
    }

    async fn delete_other_sessions(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
    ) -> StoreResult<u64> {
        // `IS NOT` is SQLite's null-safe comparison: with nothing to keep, every session ends.
        let deleted = sqlx::query("DELETE FROM sessions WHERE user_id = ? AND id IS NOT ?")
            .bind(db_id(user_id))
            .bind(keep.map(db_id))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted)
    }

    async fn release_throttle_events(&self, keys: &[String], at: i64) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        for key in keys {
            sqlx::query(
                "DELETE FROM throttle_events WHERE rowid IN \
                 (SELECT rowid FROM throttle_events WHERE key = ? AND at = ? LIMIT 1)",
            )
            .bind(key.clone())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_topic(
        &self,
        owner_id: UserId,
        id: TopicId,
        input: &TopicInput,
        now: i64,
    ) -> StoreResult<Topic> {
        // An explicit transaction, as for every write with RETURNING: in autocommit mode the
        // commit runs when the statement is finished, after `fetch_one` already has its row,
        // and a failed commit (SQLITE_FULL) would go unreported while the row is rolled back.
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "INSERT INTO topics (id, owner_id, title, description, source_text, created_at, \
             updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
             RETURNING id, title, description, source_text, created_at, updated_at",
        )
        .bind(db_id(id))
        .bind(db_id(owner_id))
        .bind(input.title.clone())
        .bind(input.description.clone())
        .bind(input.source_text.clone())
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let topic = topic_from_row(&row)?;
        tx.commit().await?;
        Ok(topic)
    }

    async fn delete_topic(&self, id: TopicId, now: i64) -> StoreResult<Option<Vec<Blueprint>>> {
        let mut tx = self.write_tx().await?;
        let cancelled = cancel_active_of_topic(&mut tx, id, now).await?;
        let deleted = sqlx::query("DELETE FROM topics WHERE id = ?")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((deleted > 0).then_some(cancelled))
    }

    async fn list_blueprints(
        &self,
        topic_id: TopicId,
        status: Option<BlueprintStatus>,
        limit: i64,
        after: Option<Cursor>,
    ) -> StoreResult<Option<Vec<Blueprint>>> {
        if self.get_topic(topic_id).await?.is_none() {
            return Ok(None);
        }
        let (after_ms, after_id) = match after {
            Some(c) => (c.created_at, db_id(c.id)),
            None => (i64::MAX, String::new()),
        };
        let rows = sqlx::query(concat!(
            "SELECT ",
            blueprint_columns!(),
            " FROM blueprints b WHERE b.topic_id = ? AND (? IS NULL OR b.status = ?) \
             AND (b.created_at < ? OR (b.created_at = ? AND b.id < ?)) \
             ORDER BY b.created_at DESC, b.id DESC LIMIT ?"
        ))
        .bind(db_id(topic_id))
        .bind(status.map(|s| s.as_str()))
        .bind(status.map(|s| s.as_str()))
        .bind(after_ms)
        .bind(after_ms)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(
            rows.iter()
                .map(blueprint_from_row)
                .collect::<Result<_, _>>()?,
        ))
    }

    async fn delete_blueprint(&self, topic_id: TopicId, id: BlueprintId) -> StoreResult<DeleteOutcome> {
        let mut tx = self.write_tx().await?;
        let deleted = sqlx::query(concat!(
            "DELETE FROM blueprints WHERE id = ? AND topic_id = ? AND status NOT IN ",
            active_statuses!()
        ))
        .bind(db_id(id))
        .bind(db_id(topic_id))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let outcome = if deleted > 0 {
            DeleteOutcome::Deleted
        } else {
            let row = sqlx::query(
                "SELECT b.id AS blueprint_id FROM topics t \
                 LEFT JOIN blueprints b ON b.id = ? AND b.topic_id = t.id WHERE t.id = ?",
            )
            .bind(db_id(id))
            .bind(db_id(topic_id))
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                None => DeleteOutcome::TopicNotFound,
                Some(row) => match row.try_get::<Option<String>, _>("blueprint_id")? {
                    None => DeleteOutcome::BlueprintNotFound,
                    Some(_) => DeleteOutcome::Active,
                },
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn cancel_generation(
        &self,
        topic_id: TopicId,
        id: BlueprintId,
        now: i64,
    ) -> StoreResult<CancelOutcome> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(concat!(
            "UPDATE blueprints SET status = 'cancelled', error = ?, error_code = 'cancelled', \
             finished_at = ?, version = version + 1, updated_at = ? \
             WHERE id = ? AND topic_id = ? AND status IN ",
            active_statuses!(),
            returning_blueprint!()
        ))
        .bind(CANCELLED_MESSAGE)
        .bind(now)
        .bind(now)
        .bind(db_id(id))
        .bind(db_id(topic_id))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            let blueprint = blueprint_from_row(&row)?;
            finish_job(&mut tx, id, now).await?;
            tx.commit().await?;
            return Ok(CancelOutcome::Cancelled(blueprint));
        }
        tx.commit().await?;
        Ok(match self.get_blueprint(topic_id, id).await? {
            BlueprintLookup::TopicNotFound => CancelOutcome::TopicNotFound,
            BlueprintLookup::BlueprintNotFound => CancelOutcome::BlueprintNotFound,
            BlueprintLookup::Found(blueprint) => CancelOutcome::AlreadyTerminal(blueprint),
        })
    }

    async fn list_jobs(
        &self,
        owner_id: Option<UserId>,
        ended_since: i64,
        limit: i64,
    ) -> StoreResult<Vec<JobListing>> {
        let rows = sqlx::query(concat!(
            "SELECT t.title AS topic_title, t.owner_id, u.email AS owner_email, ",
            blueprint_columns!(),
            " FROM blueprints b JOIN topics t ON t.id = b.topic_id \
             JOIN users u ON u.id = t.owner_id \
             WHERE (? IS NULL OR t.owner_id = ?) \
               AND (b.status IN ",
            active_statuses!(),
            " OR b.finished_at >= ?) \
             ORDER BY b.created_at DESC, b.id DESC LIMIT ?"
        ))
        .bind(owner_id.map(db_id))
        .bind(owner_id.map(db_id))
        .bind(ended_since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                Ok(JobListing {
                    blueprint: blueprint_from_row(row)?,
                    topic_title: row.try_get("topic_title")?,
                    owner_id: UserId(uuid_col(row, "owner_id")?),
                    owner_email: row.try_get("owner_email")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn claim_next_job(
        &self,
        worker_id: &str,
        now: i64,
        lease_ms: i64,
        max_attempts: i64,
    ) -> StoreResult<Option<ClaimedJob>> {
        let mut tx = self.write_tx().await?;
        // Claimable: never held or handed back (worker_id NULL), or held by a worker whose
        // lease has run out while attempts remain. The watchdog ends the rest as worker_lost.
        let candidate = sqlx::query(concat!(
            "SELECT j.blueprint_id, j.worker_id, b.attempt FROM generation_jobs j \
             JOIN blueprints b ON b.id = j.blueprint_id \
             WHERE j.finished_at IS NULL AND b.status IN ",
            active_statuses!(),
            " AND (j.worker_id IS NULL OR (j.lease_expires_at < ? AND b.attempt < ?)) \
             ORDER BY j.enqueued_at LIMIT 1"
        ))
        .bind(now)
        .bind(max_attempts)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(candidate) = candidate else {
            tx.commit().await?;
            return Ok(None);
        };
        let blueprint_id = uuid_col(&candidate, "blueprint_id")?;
        let previous_worker: Option<String> = candidate.try_get("worker_id")?;
        let attempt: i64 = candidate.try_get("attempt")?;
        let row = sqlx::query(concat!(
            "UPDATE blueprints SET status = 'generating', attempt = attempt + 1, \
             generation_started_at = COALESCE(generation_started_at, ?), \
             version = version + 1, updated_at = ? \
             WHERE id = ? AND attempt = ? AND status IN ",
            active_statuses!(),
            returning_blueprint!()
        ))
        .bind(now)
        .bind(now)
        .bind(db_id(blueprint_id))
        .bind(attempt)
        .fetch_one(&mut *tx)
        .await?;
        let blueprint = blueprint_from_row(&row)?;
        sqlx::query(
            "UPDATE generation_jobs SET worker_id = ?, lease_expires_at = ?, heartbeat_at = ? \
             WHERE blueprint_id = ?",
        )
        .bind(worker_id.to_string())
        .bind(now + lease_ms)
        .bind(now)
        .bind(db_id(blueprint_id))
        .execute(&mut *tx)
        .await?;
        let topic_row = sqlx::query(
            "SELECT id, title, description, source_text, created_at, updated_at \
             FROM topics WHERE id = ?",
        )
        .bind(db_id(blueprint.topic_id))
        .fetch_one(&mut *tx)
        .await?;
        let topic = topic_from_row(&topic_row)?;
        tx.commit().await?;
        Ok(Some(ClaimedJob {
            blueprint,
            topic,
            rescued: previous_worker.is_some(),
        }))
    }

    async fn finish_generation(
        &self,
        id: BlueprintId,
        attempt: Attempt,
        finish: &Finish,
        now: i64,
    ) -> StoreResult<Option<Blueprint>> {
        let values = finish.values()?;
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(concat!(
            "UPDATE blueprints SET status = ?, error_code = ?, error = ?, finished_at = ?, \
             quality_score = ?, quality_json = ?, version = version + 1, updated_at = ? \
             WHERE id = ? AND attempt = ? AND status = 'generating'",
            returning_blueprint!()
        ))
        .bind(values.status)
        .bind(values.error_code)
        .bind(values.error)
        .bind(now)
        .bind(values.quality_score)
        .bind(values.quality_json)
        .bind(now)
        .bind(db_id(id))
        .bind(attempt.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        finish_job(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(Some(blueprint_from_row(&row)?))
    }

    async fn time_out_generations(
        &self,
        started_before: i64,
        now: i64,
    ) -> StoreResult<Vec<Blueprint>> {
        let mut tx = self.write_tx().await?;
        // A queued generation counts from its creation, so none waits forever either.
        let rows = sqlx::query(concat!(
            "UPDATE blueprints SET status = 'error', error_code = 'timeout', error = ?, \
             finished_at = ?, version = version + 1, updated_at = ? \
             WHERE status IN ",
            active_statuses!(),
            " AND COALESCE(generation_started_at, created_at) < ?",
            returning_blueprint!()
        ))
        .bind(TIMEOUT_MESSAGE)
        .bind(now)
        .bind(now)
        .bind(started_before)
        .fetch_all(&mut *tx)
        .await?;
        let timed_out = rows
            .iter()
            .map(blueprint_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        for blueprint in &timed_out {
            finish_job(&mut tx, BlueprintId(blueprint.id), now).await?;
        }
        tx.commit().await?;
        Ok(timed_out)
    }

    async fn fail_lost_jobs(&self, now: i64, max_attempts: i64) -> StoreResult<Vec<Blueprint>> {
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(concat!(
            "UPDATE blueprints SET status = 'error', error_code = 'worker_lost', error = ?, \
             finished_at = ?, version = version + 1, updated_at = ? \
             WHERE status = 'generating' AND attempt >= ? AND id IN ( \
               SELECT blueprint_id FROM generation_jobs \
               WHERE finished_at IS NULL AND worker_id IS NOT NULL AND lease_expires_at < ?)",
            returning_blueprint!()
        ))
        .bind(WORKER_LOST_MESSAGE)
        .bind(now)
        .bind(now)
        .bind(max_attempts)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let lost = rows
            .iter()
            .map(blueprint_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        for blueprint in &lost {
            finish_job(&mut tx, BlueprintId(blueprint.id), now).await?;
        }
        tx.commit().await?;
        Ok(lost)
    }
});
