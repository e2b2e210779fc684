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
use crate::domain::{BloomLevel, ObjectiveDraft, LOCAL_USER_ID};

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

    async fn touch(&self, statement: &'static str, id: Uuid, now: i64) -> StoreResult<()> {
        sqlx::query(statement)
            .bind(id.to_string())
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// A write transaction. `BEGIN IMMEDIATE` took SQLite's write lock: until it ends, no other
/// writer (in this process or another) runs, so counts read in it stay true until commit.
struct SqliteTx(Transaction<'static, Sqlite>);

#[async_trait]
impl WriteTx for SqliteTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        Ok(self.0.commit().await?)
    }

    async fn lock_user(&mut self, _user_id: Uuid) -> StoreResult<()> {
        Ok(())
    }

    async fn lock_owned_topic(&mut self, topic_id: Uuid, owner_id: Uuid) -> StoreResult<bool> {
        let found = sqlx::query("SELECT 1 FROM topics WHERE id = $1 AND owner_id = $2")
            .bind(topic_id.to_string())
            .bind(owner_id.to_string())
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(found.is_some())
    }

    async fn forget_idempotency_key(
        &mut self,
        topic_id: Uuid,
        key: &str,
        cutoff: i64,
    ) -> StoreResult<()> {
        sqlx::query(sql::FORGET_IDEMPOTENCY_KEY)
            .bind(topic_id.to_string())
            .bind(key.to_string())
            .bind(cutoff)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn idempotent_blueprint(
        &mut self,
        topic_id: Uuid,
        key: &str,
    ) -> StoreResult<Option<Blueprint>> {
        let row = sqlx::query(sql::IDEMPOTENT_BLUEPRINT)
            .bind(topic_id.to_string())
            .bind(key.to_string())
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(row.as_ref().map(blueprint_from_row).transpose()?)
    }

    async fn active_generation_of_topic(&mut self, topic_id: Uuid) -> StoreResult<Option<Uuid>> {
        let row = sqlx::query(sql::ACTIVE_GENERATION_OF_TOPIC)
            .bind(topic_id.to_string())
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(row.map(|row| uuid_col(&row, "id")).transpose()?)
    }

    async fn count_active_generations(&mut self, owner_id: Uuid) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(sql::COUNT_ACTIVE_GENERATIONS)
            .bind(owner_id.to_string())
            .fetch_one(&mut *self.0)
            .await?)
    }

    async fn generation_starts_since(
        &mut self,
        user_id: Uuid,
        since: i64,
    ) -> StoreResult<(i64, Option<i64>)> {
        let row = sqlx::query(sql::GENERATION_STARTS_SINCE)
            .bind(user_id.to_string())
            .bind(since)
            .fetch_one(&mut *self.0)
            .await?;
        Ok((row.try_get("started")?, row.try_get("oldest")?))
    }

    async fn note_generation_start(&mut self, user_id: Uuid, at: i64) -> StoreResult<()> {
        sqlx::query(sql::NOTE_GENERATION_START)
            .bind(user_id.to_string())
            .bind(at)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn insert_generation(
        &mut self,
        blueprint_id: Uuid,
        topic_id: Uuid,
        target_terminal_objectives: i64,
        now: i64,
    ) -> StoreResult<Blueprint> {
        let row = sqlx::query(sql::INSERT_BLUEPRINT)
            .bind(blueprint_id.to_string())
            .bind(topic_id.to_string())
            .bind(target_terminal_objectives)
            .bind(now)
            .fetch_one(&mut *self.0)
            .await?;
        sqlx::query(sql::INSERT_JOB)
            .bind(blueprint_id.to_string())
            .bind(now)
            .execute(&mut *self.0)
            .await?;
        Ok(blueprint_from_row(&row)?)
    }

    async fn insert_idempotency_key(
        &mut self,
        topic_id: Uuid,
        key: &str,
        blueprint_id: Uuid,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(sql::INSERT_IDEMPOTENCY_KEY)
            .bind(topic_id.to_string())
            .bind(key.to_string())
            .bind(blueprint_id.to_string())
            .bind(now)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn count_accounts(&mut self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(sql::COUNT_ACCOUNTS)
            .bind(LOCAL_USER_ID.to_string())
            .fetch_one(&mut *self.0)
            .await?)
    }

    async fn insert_user(&mut self, new: &NewUser, is_admin: bool) -> StoreResult<Option<User>> {
        let row = sqlx::query(sql::INSERT_USER)
            .bind(new.id.to_string())
            .bind(new.email.clone())
            .bind(new.password_hash.clone())
            .bind(is_admin)
            .bind(new.now)
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn hand_over_topics(&mut self, from: Uuid, to: Uuid) -> StoreResult<()> {
        sqlx::query(sql::HAND_OVER_TOPICS)
            .bind(from.to_string())
            .bind(to.to_string())
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}

fn decode_err(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("invalid {what} {value:?} in the database").into())
}

fn uuid_col(row: &SqliteRow, col: &str) -> Result<Uuid, sqlx::Error> {
    let text: String = row.try_get(col)?;
    Uuid::parse_str(&text).map_err(|_| decode_err("uuid", &text))
}

fn topic_from_row(row: &SqliteRow) -> Result<Topic, sqlx::Error> {
    Ok(Topic {
        id: uuid_col(row, "id")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        source_text: row.try_get("source_text")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn user_from_row(row: &SqliteRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: uuid_col(row, "id")?,
        email: row.try_get("email")?,
        is_admin: row.try_get("is_admin")?,
        created_at: row.try_get("created_at")?,
    })
}

fn credential_from_row(row: &SqliteRow) -> Result<Credential, sqlx::Error> {
    Ok(Credential {
        user: user_from_row(row)?,
        id: uuid_col(row, "credential_id")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

fn api_token_from_row(row: &SqliteRow) -> Result<ApiTokenInfo, sqlx::Error> {
    Ok(ApiTokenInfo {
        id: uuid_col(row, "id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn blueprint_from_row(row: &SqliteRow) -> Result<Blueprint, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let error_code: Option<String> = row.try_get("error_code")?;
    let quality_json: Option<String> = row.try_get("quality_json")?;
    Ok(Blueprint {
        id: uuid_col(row, "id")?,
        topic_id: uuid_col(row, "topic_id")?,
        status: BlueprintStatus::parse(&status).ok_or_else(|| decode_err("status", &status))?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        terminal_objectives_count: row.try_get("terminal_objectives_count")?,
        enabling_objectives_count: row.try_get("enabling_objectives_count")?,
        target_terminal_objectives: row.try_get("target_terminal_objectives")?,
        error: row.try_get("error")?,
        error_code: match error_code {
            Some(code) => Some(ErrorCode::parse(&code).ok_or_else(|| decode_err("code", &code))?),
            None => None,
        },
        attempt: row.try_get("attempt")?,
        created_at: row.try_get("created_at")?,
        generation_started_at: row.try_get("generation_started_at")?,
        finished_at: row.try_get("finished_at")?,
        version: row.try_get("version")?,
        updated_at: row.try_get("updated_at")?,
        quality: match quality_json {
            // Unreadable quality is shown as none rather than failing the whole blueprint.
            Some(json) => serde_json::from_str(&json).ok().map(Box::new),
            None => None,
        },
    })
}

fn objective_from_row(row: &SqliteRow) -> Result<Objective, sqlx::Error> {
    let level: String = row.try_get("bloom_level")?;
    Ok(Objective {
        id: uuid_col(row, "id")?,
        position: row.try_get("position")?,
        text: row.try_get("text")?,
        bloom_level: BloomLevel::parse(&level).ok_or_else(|| decode_err("level", &level))?,
        verb: row.try_get("verb")?,
        condition: row.try_get("condition")?,
        criterion: row.try_get("criterion")?,
        // NULL for objectives stored before migration 0004.
        evidence: row.try_get("evidence")?,
    })
}

/// Ends every active generation of a topic in `cancelled`, inside the caller's transaction.
async fn cancel_active_of_topic(
    tx: &mut Transaction<'static, Sqlite>,
    topic_id: Uuid,
    now: i64,
) -> Result<Vec<Blueprint>, sqlx::Error> {
    let rows = sqlx::query(concat!(
        "UPDATE blueprints SET status = 'cancelled', error = ?, error_code = 'cancelled', \
         finished_at = ?, version = version + 1, updated_at = ? \
         WHERE topic_id = ? AND status IN ('queued', 'generating')",
        returning_blueprint!()
    ))
    .bind(CANCELLED_MESSAGE)
    .bind(now)
    .bind(now)
    .bind(topic_id.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let cancelled = rows
        .iter()
        .map(blueprint_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    for blueprint in &cancelled {
        finish_job(tx, blueprint.id, now).await?;
    }
    Ok(cancelled)
}

async fn finish_job(
    tx: &mut Transaction<'static, Sqlite>,
    blueprint_id: Uuid,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE generation_jobs SET finished_at = ?, worker_id = NULL, lease_expires_at = NULL \
         WHERE blueprint_id = ? AND finished_at IS NULL",
    )
    .bind(now)
    .bind(blueprint_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_objective(
    tx: &mut Transaction<'static, Sqlite>,
    blueprint_id: Uuid,
    terminal_id: Option<Uuid>,
    position: i64,
    draft: &ObjectiveDraft,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    let query = match terminal_id {
        None => sqlx::query(
            "INSERT INTO terminal_objectives \
             (id, blueprint_id, position, text, bloom_level, verb, condition, criterion, \
              evidence) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(blueprint_id.to_string()),
        Some(terminal_id) => sqlx::query(
            "INSERT INTO enabling_objectives \
             (id, terminal_objective_id, blueprint_id, position, text, bloom_level, verb, \
              condition, criterion, evidence) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(terminal_id.to_string())
        .bind(blueprint_id.to_string()),
    };
    query
        .bind(position)
        .bind(draft.text.clone())
        .bind(draft.bloom_level.as_str())
        .bind(draft.verb.clone())
        .bind(draft.condition.clone())
        .bind(draft.criterion.clone())
        // Cut to the contract's limit by the domain before it reaches the database.
        .bind(draft.stored_evidence())
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .context("Failed to apply the SQLite migrations")?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    async fn begin_write(&self) -> StoreResult<Box<dyn WriteTx>> {
        Ok(Box::new(SqliteTx(self.write_tx().await?)))
    }

    async fn session_by_hash(&self, token_hash: &str, now: i64) -> StoreResult<Option<Credential>> {
        let row = sqlx::query(sql::SESSION_BY_HASH)
            .bind(token_hash.to_string())
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(credential_from_row).transpose()?)
    }

    async fn touch_session(&self, id: Uuid, now: i64) -> StoreResult<()> {
        self.touch(sql::TOUCH_SESSION, id, now).await
    }

    async fn api_token_by_hash(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<Credential>> {
        let row = sqlx::query(sql::API_TOKEN_BY_HASH)
            .bind(token_hash.to_string())
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(credential_from_row).transpose()?)
    }

    async fn touch_api_token(&self, id: Uuid, now: i64) -> StoreResult<()> {
        self.touch(sql::TOUCH_API_TOKEN, id, now).await
    }

    async fn user_credentials(&self, email: &str) -> StoreResult<Option<(User, String)>> {
        let row = sqlx::query(
            "SELECT id, email, is_admin, created_at, password_hash FROM users \
             WHERE email = ? AND password_hash IS NOT NULL",
        )
        .bind(email.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|row| Ok::<_, sqlx::Error>((user_from_row(&row)?, row.try_get("password_hash")?)))
            .transpose()?)
    }

    async fn create_session(&self, new: &NewSessionRow) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, client) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.id.to_string())
        .bind(new.token_hash.clone())
        .bind(new.user_id.to_string())
        .bind(new.now)
        .bind(new.now)
        .bind(new.expires_at)
        .bind(new.client.clone())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_sessions(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT id, created_at, last_seen_at, expires_at, client FROM sessions \
             WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, id DESC",
        )
        .bind(user_id.to_string())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let created_at: i64 = row.try_get("created_at")?;
                let last_seen_at: Option<i64> = row.try_get("last_seen_at")?;
                Ok::<_, sqlx::Error>(SessionInfo {
                    id: uuid_col(row, "id")?,
                    created_at,
                    last_seen_at: last_seen_at.unwrap_or(created_at),
                    expires_at: row.try_get("expires_at")?,
                    client: row.try_get("client")?,
                    current: false,
                })
            })
            .collect::<Result<_, _>>()?)
    }

    async fn delete_user_session(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE id = ? AND user_id = ?")
            .bind(id.to_string())
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn delete_other_sessions(&self, user_id: Uuid, keep: Option<Uuid>) -> StoreResult<u64> {
        // `IS NOT` is SQLite's null-safe comparison: with nothing to keep, every session ends.
        let deleted = sqlx::query("DELETE FROM sessions WHERE user_id = ? AND id IS NOT ?")
            .bind(user_id.to_string())
            .bind(keep.map(|id| id.to_string()))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted)
    }

    async fn create_api_token(&self, new: &NewApiToken) -> StoreResult<ApiTokenInfo> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id, name, created_at, last_used_at, expires_at",
        )
        .bind(new.id.to_string())
        .bind(new.user_id.to_string())
        .bind(new.name.clone())
        .bind(new.token_hash.clone())
        .bind(new.now)
        .bind(new.expires_at)
        .fetch_one(&mut *tx)
        .await?;
        let token = api_token_from_row(&row)?;
        tx.commit().await?;
        Ok(token)
    }

    async fn list_api_tokens(&self, user_id: Uuid) -> StoreResult<Vec<ApiTokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_used_at, expires_at FROM api_tokens \
             WHERE user_id = ? ORDER BY created_at, id",
        )
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(api_token_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn delete_api_token(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM api_tokens WHERE id = ? AND user_id = ?")
            .bind(id.to_string())
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn reserve_throttle_events(
        &self,
        claims: &[ThrottleClaim],
        at: i64,
    ) -> StoreResult<Reservation> {
        // BEGIN IMMEDIATE takes SQLite's write lock first, which every process opening the
        // file respects: the counting and the noting below cannot interleave with another's.
        let mut tx = self.write_tx().await?;
        for (index, claim) in claims.iter().enumerate() {
            let filling: Option<i64> = sqlx::query_scalar(
                "SELECT at FROM throttle_events WHERE key = ? AND at > ? \
                 ORDER BY at DESC LIMIT 1 OFFSET ?",
            )
            .bind(claim.key.clone())
            .bind(claim.since)
            .bind((claim.limit - 1).max(0))
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(filling_at) = filling {
                return Ok(Reservation::Refused {
                    claim: index,
                    filling_at,
                });
            }
        }
        for claim in claims {
            sqlx::query("INSERT INTO throttle_events (key, at) VALUES (?, ?)")
                .bind(claim.key.clone())
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Reservation::Reserved)
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

    async fn email_registered(&self, email: &str) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE email = ?")
            .bind(email.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn clear_throttle_events(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM throttle_events WHERE key = ?")
            .bind(key.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn topic_owner(&self, topic_id: Uuid) -> StoreResult<Option<Uuid>> {
        let row = sqlx::query("SELECT owner_id FROM topics WHERE id = ?")
            .bind(topic_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| uuid_col(&row, "owner_id")).transpose()?)
    }

    async fn create_topic(
        &self,
        owner_id: Uuid,
        id: Uuid,
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
        .bind(id.to_string())
        .bind(owner_id.to_string())
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

    async fn list_topics(
        &self,
        owner_id: Uuid,
        limit: i64,
        after: Option<Cursor>,
    ) -> StoreResult<Vec<Topic>> {
        // Without a cursor, start after the largest possible key.
        let (after_ms, after_id) = match after {
            Some(c) => (c.created_at, c.id.to_string()),
            None => (i64::MAX, String::new()),
        };
        let rows = sqlx::query(
            "SELECT id, title, description, source_text, created_at, updated_at FROM topics \
             WHERE owner_id = ? AND (created_at < ? OR (created_at = ? AND id < ?)) \
             ORDER BY created_at DESC, id DESC LIMIT ?",
        )
        .bind(owner_id.to_string())
        .bind(after_ms)
        .bind(after_ms)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(topic_from_row).collect::<Result<_, _>>()?)
    }

    async fn get_topic(&self, id: Uuid) -> StoreResult<Option<Topic>> {
        let row = sqlx::query(
            "SELECT id, title, description, source_text, created_at, updated_at \
             FROM topics WHERE id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(topic_from_row).transpose()?)
    }

    async fn update_topic(
        &self,
        id: Uuid,
        patch: &TopicPatch,
        now: i64,
    ) -> StoreResult<Option<Topic>> {
        // One statement: each column keeps its value unless the patch names it. In an explicit
        // transaction so that a failed commit is reported (see `create_topic`).
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "UPDATE topics SET \
               title = CASE WHEN ? THEN ? ELSE title END, \
               description = CASE WHEN ? THEN ? ELSE description END, \
               source_text = CASE WHEN ? THEN ? ELSE source_text END, \
               updated_at = ? \
             WHERE id = ? \
             RETURNING id, title, description, source_text, created_at, updated_at",
        )
        .bind(patch.title.is_some())
        .bind(patch.title.clone())
        .bind(patch.description.is_some())
        .bind(patch.description.clone().flatten())
        .bind(patch.source_text.is_some())
        .bind(patch.source_text.clone().flatten())
        .bind(now)
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let topic = row.as_ref().map(topic_from_row).transpose()?;
        tx.commit().await?;
        Ok(topic)
    }

    async fn delete_topic(&self, id: Uuid, now: i64) -> StoreResult<Option<Vec<Blueprint>>> {
        let mut tx = self.write_tx().await?;
        let cancelled = cancel_active_of_topic(&mut tx, id, now).await?;
        let deleted = sqlx::query("DELETE FROM topics WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((deleted > 0).then_some(cancelled))
    }

    async fn get_blueprint(&self, topic_id: Uuid, id: Uuid) -> StoreResult<BlueprintLookup> {
        let row = sqlx::query(concat!(
            "SELECT t.id AS topic_exists, ",
            blueprint_columns!(),
            " FROM topics t LEFT JOIN blueprints b ON b.id = ? AND b.topic_id = t.id \
             WHERE t.id = ?"
        ))
        .bind(id.to_string())
        .bind(topic_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(BlueprintLookup::TopicNotFound);
        };
        let found: Option<String> = row.try_get("id")?;
        if found.is_none() {
            return Ok(BlueprintLookup::BlueprintNotFound);
        }
        Ok(BlueprintLookup::Found(blueprint_from_row(&row)?))
    }

    async fn get_blueprint_by_id(&self, id: Uuid) -> StoreResult<Option<Blueprint>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            blueprint_columns!(),
            " FROM blueprints b WHERE b.id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(blueprint_from_row).transpose()?)
    }

    async fn get_objectives(&self, blueprint_id: Uuid) -> StoreResult<Vec<TerminalObjective>> {
        let id = blueprint_id.to_string();
        let terminal_rows = sqlx::query(
            "SELECT id, position, text, bloom_level, verb, condition, criterion, evidence \
             FROM terminal_objectives WHERE blueprint_id = ? ORDER BY position",
        )
        .bind(id.clone())
        .fetch_all(&self.pool)
        .await?;
        let enabling_rows = sqlx::query(
            "SELECT terminal_objective_id, id, position, text, bloom_level, verb, condition, \
             criterion, evidence FROM enabling_objectives WHERE blueprint_id = ? \
             ORDER BY terminal_objective_id, position",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut terminals = terminal_rows
            .iter()
            .map(|row| {
                Ok(TerminalObjective {
                    objective: objective_from_row(row)?,
                    enabling_objectives: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        for row in &enabling_rows {
            let parent = uuid_col(row, "terminal_objective_id")?;
            let objective = objective_from_row(row)?;
            if let Some(terminal) = terminals.iter_mut().find(|t| t.objective.id == parent) {
                terminal.enabling_objectives.push(objective);
            }
        }
        Ok(terminals)
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
            Some(c) => (c.created_at, c.id.to_string()),
            None => (i64::MAX, String::new()),
        };
        let rows = sqlx::query(concat!(
            "SELECT ",
            blueprint_columns!(),
            " FROM blueprints b WHERE b.topic_id = ? AND (? IS NULL OR b.status = ?) \
             AND (b.created_at < ? OR (b.created_at = ? AND b.id < ?)) \
             ORDER BY b.created_at DESC, b.id DESC LIMIT ?"
        ))
        .bind(topic_id.to_string())
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

    async fn delete_blueprint(&self, topic_id: Uuid, id: Uuid) -> StoreResult<DeleteOutcome> {
        let mut tx = self.write_tx().await?;
        let deleted = sqlx::query(
            "DELETE FROM blueprints WHERE id = ? AND topic_id = ? \
             AND status NOT IN ('queued', 'generating')",
        )
        .bind(id.to_string())
        .bind(topic_id.to_string())
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
            .bind(id.to_string())
            .bind(topic_id.to_string())
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
        topic_id: Uuid,
        id: Uuid,
        now: i64,
    ) -> StoreResult<CancelOutcome> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(concat!(
            "UPDATE blueprints SET status = 'cancelled', error = ?, error_code = 'cancelled', \
             finished_at = ?, version = version + 1, updated_at = ? \
             WHERE id = ? AND topic_id = ? AND status IN ('queued', 'generating')",
            returning_blueprint!()
        ))
        .bind(CANCELLED_MESSAGE)
        .bind(now)
        .bind(now)
        .bind(id.to_string())
        .bind(topic_id.to_string())
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
        owner_id: Option<Uuid>,
        ended_since: i64,
        limit: i64,
    ) -> StoreResult<Vec<JobListing>> {
        let rows = sqlx::query(concat!(
            "SELECT t.title AS topic_title, t.owner_id, u.email AS owner_email, ",
            blueprint_columns!(),
            " FROM blueprints b JOIN topics t ON t.id = b.topic_id \
             JOIN users u ON u.id = t.owner_id \
             WHERE (? IS NULL OR t.owner_id = ?) \
               AND (b.status IN ('queued', 'generating') OR b.finished_at >= ?) \
             ORDER BY b.created_at DESC, b.id DESC LIMIT ?"
        ))
        .bind(owner_id.map(|id| id.to_string()))
        .bind(owner_id.map(|id| id.to_string()))
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
                    owner_id: uuid_col(row, "owner_id")?,
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
        let candidate = sqlx::query(
            "SELECT j.blueprint_id, j.worker_id, b.attempt FROM generation_jobs j \
             JOIN blueprints b ON b.id = j.blueprint_id \
             WHERE j.finished_at IS NULL AND b.status IN ('queued', 'generating') \
               AND (j.worker_id IS NULL OR (j.lease_expires_at < ? AND b.attempt < ?)) \
             ORDER BY j.enqueued_at LIMIT 1",
        )
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
             WHERE id = ? AND attempt = ? AND status IN ('queued', 'generating')",
            returning_blueprint!()
        ))
        .bind(now)
        .bind(now)
        .bind(blueprint_id.to_string())
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
        .bind(blueprint_id.to_string())
        .execute(&mut *tx)
        .await?;
        let topic_row = sqlx::query(
            "SELECT id, title, description, source_text, created_at, updated_at \
             FROM topics WHERE id = ?",
        )
        .bind(blueprint.topic_id.to_string())
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

    async fn renew_lease(
        &self,
        id: Uuid,
        attempt: i64,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let renewed = sqlx::query(
            "UPDATE generation_jobs SET lease_expires_at = ?, heartbeat_at = ? \
             WHERE blueprint_id = ? AND finished_at IS NULL AND worker_id IS NOT NULL \
               AND EXISTS (SELECT 1 FROM blueprints b WHERE b.id = ? AND b.attempt = ? \
                           AND b.status = 'generating')",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(id.to_string())
        .bind(id.to_string())
        .bind(attempt)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(renewed > 0)
    }

    async fn release_lease(&self, id: Uuid, attempt: i64) -> StoreResult<bool> {
        let released = sqlx::query(
            "UPDATE generation_jobs SET worker_id = NULL, lease_expires_at = NULL \
             WHERE blueprint_id = ? AND finished_at IS NULL \
               AND EXISTS (SELECT 1 FROM blueprints b WHERE b.id = ? AND b.attempt = ? \
                           AND b.status = 'generating')",
        )
        .bind(id.to_string())
        .bind(id.to_string())
        .bind(attempt)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(released > 0)
    }

    async fn append_terminal_objective(
        &self,
        id: Uuid,
        attempt: i64,
        position: i64,
        draft: &TerminalDraft,
        now: i64,
    ) -> StoreResult<Option<Blueprint>> {
        let mut tx = self.write_tx().await?;
        // The fence: only the current attempt of a generating blueprint may write, and the
        // count it raises gives the position, so a retry cannot store a position twice.
        let row = sqlx::query(concat!(
            "UPDATE blueprints SET terminal_objectives_count = terminal_objectives_count + 1, \
             enabling_objectives_count = enabling_objectives_count + ?, \
             version = version + 1, updated_at = ? \
             WHERE id = ? AND attempt = ? AND status = 'generating' \
               AND terminal_objectives_count = ?",
            returning_blueprint!()
        ))
        .bind(draft.enabling.len() as i64)
        .bind(now)
        .bind(id.to_string())
        .bind(attempt)
        .bind(position - 1)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let blueprint = blueprint_from_row(&row)?;
        let terminal_id = insert_objective(
            &mut tx,
            id,
            None,
            blueprint.terminal_objectives_count,
            &draft.objective,
        )
        .await?;
        for (index, enabling) in draft.enabling.iter().enumerate() {
            insert_objective(&mut tx, id, Some(terminal_id), index as i64 + 1, enabling).await?;
        }
        tx.commit().await?;
        Ok(Some(blueprint))
    }

    async fn set_blueprint_summary(
        &self,
        id: Uuid,
        attempt: i64,
        title: &str,
        description: &str,
        now: i64,
    ) -> StoreResult<Option<Blueprint>> {
        // An explicit transaction so that a failed commit is reported (see `create_topic`).
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(concat!(
            "UPDATE blueprints SET title = ?, description = ?, version = version + 1, \
             updated_at = ? WHERE id = ? AND attempt = ? AND status = 'generating'",
            returning_blueprint!()
        ))
        .bind(title.to_string())
        .bind(description.to_string())
        .bind(now)
        .bind(id.to_string())
        .bind(attempt)
        .fetch_optional(&mut *tx)
        .await?;
        let blueprint = row.as_ref().map(blueprint_from_row).transpose()?;
        tx.commit().await?;
        Ok(blueprint)
    }

    async fn finish_generation(
        &self,
        id: Uuid,
        attempt: i64,
        finish: &Finish,
        now: i64,
    ) -> StoreResult<Option<Blueprint>> {
        let (status, code, message, quality) = match finish {
            Finish::Completed { quality } => ("completed", None, None, quality.as_ref()),
            Finish::Failed { code, message } => {
                ("error", Some(code.as_str()), Some(message.clone()), None)
            }
        };
        let quality_json = quality
            .map(serde_json::to_string)
            .transpose()
            .context("Failed to encode the blueprint quality")?;
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(concat!(
            "UPDATE blueprints SET status = ?, error_code = ?, error = ?, finished_at = ?, \
             quality_score = ?, quality_json = ?, version = version + 1, updated_at = ? \
             WHERE id = ? AND attempt = ? AND status = 'generating'",
            returning_blueprint!()
        ))
        .bind(status)
        .bind(code)
        .bind(message)
        .bind(now)
        .bind(quality.map(|q| q.score))
        .bind(quality_json)
        .bind(now)
        .bind(id.to_string())
        .bind(attempt)
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
             WHERE status IN ('queued', 'generating') \
               AND COALESCE(generation_started_at, created_at) < ?",
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
            finish_job(&mut tx, blueprint.id, now).await?;
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
            finish_job(&mut tx, blueprint.id, now).await?;
        }
        tx.commit().await?;
        Ok(lost)
    }

    async fn queue_stats(&self) -> StoreResult<QueueStats> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS queued, MIN(created_at) AS oldest FROM blueprints \
             WHERE status = 'queued'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueStats {
            queued: row.try_get("queued")?,
            oldest_queued_at: row.try_get("oldest")?,
        })
    }

    async fn purge_history(&self, finished_before: i64, keys_before: i64) -> StoreResult<u64> {
        // Plain conditional deletes: running them in several processes at once is harmless.
        let jobs = sqlx::query(
            "DELETE FROM generation_jobs WHERE finished_at IS NOT NULL AND finished_at < ?",
        )
        .bind(finished_before)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let keys = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < ?")
            .bind(keys_before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
            .bind(keys_before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let starts = sqlx::query("DELETE FROM generation_starts WHERE started_at < ?")
            .bind(keys_before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let failures = sqlx::query("DELETE FROM throttle_events WHERE at < ?")
            .bind(keys_before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(jobs + keys + sessions + starts + failures)
    }
}
