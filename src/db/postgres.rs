//! The PostgreSQL backend, for several `serve` and `worker` processes on one database.
//! Dialect differences from SQLite: `$n` placeholders, native UUIDs, claims with
//! `FOR UPDATE SKIP LOCKED` (many writers at once, unlike SQLite's single writer), unique
//! violations of racing inserts turned into clean outcomes, and LISTEN/NOTIFY (fed by triggers,
//! see the migration) so that every process hears every change.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::sql;
use super::*;
use crate::domain::blueprint::{CANCELLED_MESSAGE, TIMEOUT_MESSAGE, WORKER_LOST_MESSAGE};
use crate::domain::objective::{Objective, TerminalObjective};
use crate::domain::{Attempt, BloomLevel, ObjectiveDraft, LOCAL_USER_ID};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const STATUS_CHANNEL: &str = "quizmaster_status";
const JOBS_CHANNEL: &str = "quizmaster_jobs";

/// Closes the query that ends generations in a CTE named `$cte`: their job rows are finished in
/// the same statement (`$now` is the placeholder holding the time), and the ended blueprints
/// are what the statement returns.
macro_rules! finish_jobs_of {
    ($cte:literal, $now:literal) => {
        concat!(
            "), finished AS ( \
               UPDATE generation_jobs SET finished_at = ",
            $now,
            ", worker_id = NULL, lease_expires_at = NULL \
               WHERE blueprint_id IN (SELECT id FROM ",
            $cte,
            ") AND finished_at IS NULL) SELECT * FROM ",
            $cte
        )
    };
}

/// Connection pool settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

pub struct PostgresStore {
    pool: PgPool,
    url: String,
}

impl PostgresStore {
    pub async fn connect(url: &str, settings: PoolSettings) -> anyhow::Result<Self> {
        let options: PgConnectOptions =
            url.parse().context("Failed to parse the PostgreSQL URL")?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            // Fail fast while the database is down, so requests get a 503 instead of hanging.
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(true)
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            url: redact_url(url),
        })
    }

    async fn write_tx(&self) -> Result<DbTx, sqlx::Error> {
        self.pool.begin().await
    }

    /// Runs one write; a statement commits (and reports a failed commit) by itself.
    async fn write_optional(&self, query: DbQuery<'_>) -> Result<Option<PgRow>, sqlx::Error> {
        query.fetch_optional(&self.pool).await
    }

    /// [`Self::write_optional`] for a statement without `RETURNING`: the rows it changed.
    async fn write_execute(&self, query: DbQuery<'_>) -> Result<u64, sqlx::Error> {
        Ok(query.execute(&self.pool).await?.rows_affected())
    }
}

/// A write transaction. PostgreSQL runs many at once, so the rules that count rows (one active
/// generation per topic, the limits, the first account) take row locks through
/// [`WriteTx::lock_owned_topic`] and [`WriteTx::lock_user`] to take turns.
struct PgTx(Transaction<'static, Postgres>);

write_tx_impl!(PgTx {
    async fn lock_throttle_key(&mut self, key: &str) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 16))")
            .bind(key.to_string())
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        Ok(self.0.commit().await?)
    }

    async fn lock_user(&mut self, user_id: Uuid) -> StoreResult<()> {
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn lock_owned_topic(&mut self, topic_id: Uuid, owner_id: Uuid) -> StoreResult<bool> {
        let found = sqlx::query("SELECT id FROM topics WHERE id = $1 AND owner_id = $2 FOR UPDATE")
            .bind(topic_id)
            .bind(owner_id)
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(found.is_some())
    }
});

fn decode_err(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("invalid {what} {value:?} in the database").into())
}

type DbQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;
type DbTx = Transaction<'static, Postgres>;
type DbRow = PgRow;

/// Ids are stored as `uuid`.
fn db_id(id: Uuid) -> Uuid {
    id
}

fn uuid_col(row: &PgRow, col: &str) -> Result<Uuid, sqlx::Error> {
    row.try_get(col)
}

fn opt_uuid_col(row: &PgRow, col: &str) -> Result<Option<Uuid>, sqlx::Error> {
    row.try_get(col)
}

shared_rows!();

fn blueprints_from_rows(rows: &[PgRow]) -> Result<Vec<Blueprint>, sqlx::Error> {
    rows.iter().map(blueprint_from_row).collect()
}

store_impl!(PostgresStore {
    async fn migrate(&self) -> StoreResult<()> {
        // sqlx takes an advisory lock around migrations, so processes starting at once apply
        // them one after another.
        MIGRATOR
            .run(&self.pool)
            .await
            .context("Failed to apply the PostgreSQL migrations")?;
        Ok(())
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    async fn change_feed(&self) -> StoreResult<Option<mpsc::Receiver<Change>>> {
        let (tx, rx) = mpsc::channel(1024);
        let pool = self.pool.clone();
        tokio::spawn(async move { listen(pool, tx).await });
        Ok(Some(rx))
    }

    async fn begin_write(&self) -> StoreResult<Box<dyn WriteTx>> {
        Ok(Box::new(PgTx(self.pool.begin().await?)))
    }

    async fn delete_other_sessions(&self, user_id: Uuid, keep: Option<Uuid>) -> StoreResult<u64> {
        let deleted =
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2")
                .bind(user_id)
                .bind(keep)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(deleted)
    }

    async fn release_throttle_events(&self, keys: &[String], at: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for key in keys {
            sqlx::query(
                "DELETE FROM throttle_events WHERE ctid IN \
                 (SELECT ctid FROM throttle_events WHERE key = $1 AND at = $2 LIMIT 1)",
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
        owner_id: Uuid,
        id: Uuid,
        input: &TopicInput,
        now: i64,
    ) -> StoreResult<Topic> {
        let row = sqlx::query(
            "INSERT INTO topics (id, owner_id, title, description, source_text, created_at, \
             updated_at) VALUES ($1, $6, $2, $3, $4, $5, $5) \
             RETURNING id, title, description, source_text, created_at, updated_at",
        )
        .bind(id)
        .bind(input.title.clone())
        .bind(input.description.clone())
        .bind(input.source_text.clone())
        .bind(now)
        .bind(owner_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(topic_from_row(&row)?)
    }

    async fn delete_topic(&self, id: Uuid, now: i64) -> StoreResult<Option<Vec<Blueprint>>> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(concat!(
            "WITH cancelled AS ( \
               UPDATE blueprints SET status = 'cancelled', error = $1, error_code = 'cancelled', \
               finished_at = $2, version = version + 1, updated_at = $2 \
               WHERE topic_id = $3 AND status IN ('queued', 'generating')",
            returning_blueprint!(),
            finish_jobs_of!("cancelled", "$2")
        ))
        .bind(CANCELLED_MESSAGE)
        .bind(now)
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let cancelled = blueprints_from_rows(&rows)?;
        let deleted = sqlx::query("DELETE FROM topics WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((deleted > 0).then_some(cancelled))
    }

    async fn list_blueprints(
        &self,
        topic_id: Uuid,
        status: Option<BlueprintStatus>,
        limit: i64,
        after: Option<Cursor>,
    ) -> StoreResult<Option<Vec<Blueprint>>> {
        if self.get_topic(topic_id).await?.is_none() {
            return Ok(None);
        }
        let (after_ms, after_id) = match after {
            Some(c) => (c.created_at, c.id),
            None => (i64::MAX, Uuid::max()),
        };
        let rows = sqlx::query(concat!(
            "SELECT ",
            blueprint_columns!(),
            " FROM blueprints b WHERE b.topic_id = $1 AND ($2::text IS NULL OR b.status = $2) \
             AND (b.created_at, b.id) < ($3, $4) \
             ORDER BY b.created_at DESC, b.id DESC LIMIT $5"
        ))
        .bind(topic_id)
        .bind(status.map(|s| s.as_str()))
        .bind(after_ms)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(blueprints_from_rows(&rows)?))
    }

    async fn delete_blueprint(&self, topic_id: Uuid, id: Uuid) -> StoreResult<DeleteOutcome> {
        let deleted = sqlx::query(
            "DELETE FROM blueprints WHERE id = $1 AND topic_id = $2 \
             AND status NOT IN ('queued', 'generating')",
        )
        .bind(id)
        .bind(topic_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if deleted > 0 {
            return Ok(DeleteOutcome::Deleted);
        }
        Ok(match self.get_blueprint(topic_id, id).await? {
            BlueprintLookup::TopicNotFound => DeleteOutcome::TopicNotFound,
            BlueprintLookup::BlueprintNotFound => DeleteOutcome::BlueprintNotFound,
            BlueprintLookup::Found(_) => DeleteOutcome::Active,
        })
    }

    async fn cancel_generation(
        &self,
        topic_id: Uuid,
        id: Uuid,
        now: i64,
    ) -> StoreResult<CancelOutcome> {
        let row = sqlx::query(concat!(
            "WITH cancelled AS ( \
               UPDATE blueprints SET status = 'cancelled', error = $1, error_code = 'cancelled', \
               finished_at = $2, version = version + 1, updated_at = $2 \
               WHERE id = $3 AND topic_id = $4 AND status IN ('queued', 'generating')",
            returning_blueprint!(),
            finish_jobs_of!("cancelled", "$2")
        ))
        .bind(CANCELLED_MESSAGE)
        .bind(now)
        .bind(id)
        .bind(topic_id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = row {
            return Ok(CancelOutcome::Cancelled(blueprint_from_row(&row)?));
        }
        Ok(match self.get_blueprint(topic_id, id).await? {
            BlueprintLookup::TopicNotFound => CancelOutcome::TopicNotFound,
            BlueprintLookup::BlueprintNotFound => CancelOutcome::BlueprintNotFound,
            BlueprintLookup::Found(blueprint) => CancelOutcome::AlreadyTerminal(blueprint),
        })
    }

    async fn list_jobs(
        &self,
        owner_id: Option<Uuid>,
        ended_since: i64,
        limit: i64,
    ) -> StoreResult<Vec<JobListing>> {
        let rows = sqlx::query(concat!(
            "SELECT t.title AS topic_title, t.owner_id, u.email AS owner_email, ",
            blueprint_columns!(),
            " FROM blueprints b JOIN topics t ON t.id = b.topic_id \
             JOIN users u ON u.id = t.owner_id \
             WHERE ($3::uuid IS NULL OR t.owner_id = $3) \
               AND (b.status IN ('queued', 'generating') OR b.finished_at >= $1) \
             ORDER BY b.created_at DESC, b.id DESC LIMIT $2"
        ))
        .bind(ended_since)
        .bind(limit)
        .bind(owner_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                Ok(JobListing {
                    blueprint: blueprint_from_row(row)?,
                    topic_title: row.try_get("topic_title")?,
                    owner_id: row.try_get("owner_id")?,
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
        let mut tx = self.pool.begin().await?;
        // SKIP LOCKED: concurrent workers each take a different job instead of queueing on one.
        let candidate = sqlx::query(
            "SELECT j.blueprint_id, j.worker_id, b.attempt FROM generation_jobs j \
             JOIN blueprints b ON b.id = j.blueprint_id \
             WHERE j.finished_at IS NULL AND b.status IN ('queued', 'generating') \
               AND (j.worker_id IS NULL OR (j.lease_expires_at < $1 AND b.attempt < $2)) \
             ORDER BY j.enqueued_at LIMIT 1 \
             FOR UPDATE OF j SKIP LOCKED",
        )
        .bind(now)
        .bind(max_attempts)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(candidate) = candidate else {
            tx.commit().await?;
            return Ok(None);
        };
        let blueprint_id: Uuid = candidate.try_get("blueprint_id")?;
        let previous_worker: Option<String> = candidate.try_get("worker_id")?;
        let attempt: i64 = candidate.try_get("attempt")?;
        let row = sqlx::query(concat!(
            "UPDATE blueprints SET status = 'generating', attempt = attempt + 1, \
             generation_started_at = COALESCE(generation_started_at, $1), \
             version = version + 1, updated_at = $1 \
             WHERE id = $2 AND attempt = $3 AND status IN ('queued', 'generating')",
            returning_blueprint!()
        ))
        .bind(now)
        .bind(blueprint_id)
        .bind(attempt)
        .fetch_optional(&mut *tx)
        .await?;
        // Cancelled or timed out between the select and the update: nothing to claim now.
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let blueprint = blueprint_from_row(&row)?;
        sqlx::query(
            "UPDATE generation_jobs SET worker_id = $1, lease_expires_at = $2, heartbeat_at = $3 \
             WHERE blueprint_id = $4",
        )
        .bind(worker_id.to_string())
        .bind(now + lease_ms)
        .bind(now)
        .bind(blueprint_id)
        .execute(&mut *tx)
        .await?;
        let topic_row = sqlx::query(
            "SELECT id, title, description, source_text, created_at, updated_at \
             FROM topics WHERE id = $1",
        )
        .bind(blueprint.topic_id)
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
        id: Uuid,
        attempt: Attempt,
        finish: &Finish,
        now: i64,
    ) -> StoreResult<Option<Blueprint>> {
        let values = finish.values()?;
        let row = sqlx::query(concat!(
            "WITH ended AS ( \
               UPDATE blueprints SET status = $1, error_code = $2, error = $3, finished_at = $4, \
               quality_score = $7, quality_json = $8, version = version + 1, updated_at = $4 \
               WHERE id = $5 AND attempt = $6 AND status = 'generating'",
            returning_blueprint!(),
            finish_jobs_of!("ended", "$4")
        ))
        .bind(values.status)
        .bind(values.error_code)
        .bind(values.error)
        .bind(now)
        .bind(id)
        .bind(attempt.0)
        .bind(values.quality_score)
        .bind(values.quality_json)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(blueprint_from_row).transpose()?)
    }

    async fn time_out_generations(
        &self,
        started_before: i64,
        now: i64,
    ) -> StoreResult<Vec<Blueprint>> {
        let rows = sqlx::query(concat!(
            "WITH ended AS ( \
               UPDATE blueprints SET status = 'error', error_code = 'timeout', error = $1, \
               finished_at = $2, version = version + 1, updated_at = $2 \
               WHERE status IN ('queued', 'generating') \
                 AND COALESCE(generation_started_at, created_at) < $3",
            returning_blueprint!(),
            finish_jobs_of!("ended", "$2")
        ))
        .bind(TIMEOUT_MESSAGE)
        .bind(now)
        .bind(started_before)
        .fetch_all(&self.pool)
        .await?;
        Ok(blueprints_from_rows(&rows)?)
    }

    async fn fail_lost_jobs(&self, now: i64, max_attempts: i64) -> StoreResult<Vec<Blueprint>> {
        let rows = sqlx::query(concat!(
            "WITH ended AS ( \
               UPDATE blueprints SET status = 'error', error_code = 'worker_lost', error = $1, \
               finished_at = $2, version = version + 1, updated_at = $2 \
               WHERE status = 'generating' AND attempt >= $3 AND id IN ( \
                 SELECT blueprint_id FROM generation_jobs \
                 WHERE finished_at IS NULL AND worker_id IS NOT NULL AND lease_expires_at < $2)",
            returning_blueprint!(),
            finish_jobs_of!("ended", "$2")
        ))
        .bind(WORKER_LOST_MESSAGE)
        .bind(now)
        .bind(max_attempts)
        .fetch_all(&self.pool)
        .await?;
        Ok(blueprints_from_rows(&rows)?)
    }
});

/// Forwards NOTIFYs to the change feed until its receiver is dropped. Reconnects by itself
/// after the database restarts; since notifications sent meanwhile are lost, every reconnect
/// is reported as a `Resync`.
async fn listen(pool: PgPool, feed: mpsc::Sender<Change>) {
    let mut failures: u32 = 0;
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                failures = failures.saturating_add(1);
                if failures == 1 || failures.is_multiple_of(20) {
                    tracing::warn!(error = %err, "change feed: cannot connect; retrying");
                }
                if feed.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(250 * u64::from(failures.min(8)))).await;
                continue;
            }
        };
        if let Err(err) = listener.listen_all([STATUS_CHANNEL, JOBS_CHANNEL]).await {
            tracing::warn!(error = %err, "change feed: LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        if failures > 0 {
            tracing::info!("change feed: connected again");
        }
        // Anything may have changed while we were not listening.
        if feed.send(Change::Resync).await.is_err() {
            return;
        }
        loop {
            let change = match listener.try_recv().await {
                Ok(Some(notification)) => match notification.channel() {
                    STATUS_CHANNEL => match Uuid::parse_str(notification.payload()) {
                        Ok(id) => Change::Blueprint(id),
                        Err(_) => continue,
                    },
                    _ => Change::JobsAvailable,
                },
                // The connection was lost; the next call would reconnect, but we resync too.
                Ok(None) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "change feed: connection lost");
                    break;
                }
            };
            if feed.send(change).await.is_err() {
                return;
            }
        }
        // Until the next `Resync`, nobody may rely on having heard of every change.
        if feed.send(Change::Lost).await.is_err() {
            return;
        }
        // Counts as a failure for the reconnect log above.
        failures = 1;
    }
}
