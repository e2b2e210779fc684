//! The PostgreSQL backend, for several `serve` and `worker` processes on one database. What
//! differs from SQLite (the operations themselves are shared, see `shared.rs`): native UUIDs,
//! row and advisory locks where SQLite's single writer needs none (many writers at once), claims
//! with `FOR UPDATE SKIP LOCKED`, and LISTEN/NOTIFY (fed by triggers, see the migration) so
//! that every process hears every change.

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

    async fn lock_user(&mut self, user_id: UserId) -> StoreResult<()> {
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(db_id(user_id))
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
});

/// The topic's row lock makes one topic's admissions take turns.
const LOCK_OWNED_TOPIC: &str = "SELECT id FROM topics WHERE id = $1 AND owner_id = $2 FOR UPDATE";

type DbQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;
type DbTx = Transaction<'static, Postgres>;
type DbRow = PgRow;

/// Ids are stored as `uuid`.
fn db_id(id: impl Into<Uuid>) -> Uuid {
    id.into()
}

fn uuid_col(row: &PgRow, col: &str) -> Result<Uuid, sqlx::Error> {
    row.try_get(col)
}

fn opt_uuid_col(row: &PgRow, col: &str) -> Result<Option<Uuid>, sqlx::Error> {
    row.try_get(col)
}

shared_rows!();

/// Concurrent workers each take a different job (`SKIP LOCKED`) instead of queueing on one.
/// The blueprint's row is locked too, and first by every other writer (an ending locks the
/// blueprint, then its job): a claim that held only the job would wait for the blueprint while
/// a cancel holding the blueprint waited for the job, a deadlock. Locking both and skipping
/// what is taken, a claim never waits.
const CLAIM_CANDIDATE: &str = concat!(claimable_job!(), " FOR UPDATE OF j, b SKIP LOCKED");

const DELETE_ONE_THROTTLE_EVENT: &str = "DELETE FROM throttle_events WHERE ctid IN \
     (SELECT ctid FROM throttle_events WHERE key = $1 AND at = $2 LIMIT 1)";

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
