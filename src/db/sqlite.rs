//! The SQLite backend: the embedded default. One file, WAL, and write transactions that take
//! the write lock up front (`BEGIN IMMEDIATE`) so that two writers never deadlock upgrading a
//! read lock. SQLite serializes writers, so a claim in a write transaction is already exclusive.
//!
//! Every write of this process (a [`WriteTx`] or a single statement) runs on one dedicated
//! connection (`write_pool`, one connection), so this process's writers queue in the pool,
//! without sleeping, instead of racing for SQLite's lock and losing in its busy handler (which
//! sleeps in steps of up to 100 ms). Reads use the other pool. Only writers of other processes
//! sharing the file still meet in the busy handler. Consequence: no code may wait for a write
//! while it holds a write transaction (it would wait for its own connection until the acquire
//! timeout); a [`WriteTx`] only runs statements on itself.

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
    /// Reads.
    pool: SqlitePool,
    /// Writes: one connection, so that this process's writers take turns here.
    write_pool: SqlitePool,
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
        let pool_options = |max_connections| {
            SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                // A COMMIT that fails (SQLITE_FULL on a full disk) leaves sqlx believing the
                // connection is still inside a transaction, and every later `BEGIN` on it fails
                // ("non-zero transaction depth"). Such a connection is closed instead of reused;
                // a healthy one whose rollback is still queued may be closed too, which is
                // harmless.
                .before_acquire(|conn, _| {
                    Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
                })
        };
        // The write pool first: it creates the file and switches it to WAL.
        let write_pool = pool_options(1).connect_with(options.clone()).await?;
        let pool = pool_options(8).connect_with(options).await?;
        Ok(Self {
            pool,
            write_pool,
            url: url.to_string(),
        })
    }

    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.write_pool.begin_with("BEGIN IMMEDIATE").await
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

    async fn lock_user(&mut self, _user_id: UserId) -> StoreResult<()> {
        Ok(())
    }
});

/// The write transaction already holds the lock: nothing to add.
const LOCK_OWNED_TOPIC: &str = "SELECT id FROM topics WHERE id = $1 AND owner_id = $2";

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

/// SQLite's write lock (`BEGIN IMMEDIATE`) already makes the claim the transaction's.
const CLAIM_CANDIDATE: &str = claimable_job!();

const DELETE_ONE_THROTTLE_EVENT: &str = "DELETE FROM throttle_events WHERE rowid IN \
     (SELECT rowid FROM throttle_events WHERE key = $1 AND at = $2 LIMIT 1)";

store_impl!(SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.write_pool)
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
});
