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
use crate::domain::{BloomLevel, ObjectiveDraft, LOCAL_USER_ID};

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

    async fn touch(&self, statement: &'static str, id: Uuid, now: i64) -> StoreResult<()> {
        sqlx::query(statement)
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// A write transaction. PostgreSQL runs many at once, so the rules that count rows (one active
/// generation per topic, the limits, the first account) take row locks through
/// [`WriteTx::lock_owned_topic`] and [`WriteTx::lock_user`] to take turns.
struct PgTx(Transaction<'static, Postgres>);

#[async_trait]
impl WriteTx for PgTx {
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

    async fn forget_idempotency_key(
        &mut self,
        topic_id: Uuid,
        key: &str,
        cutoff: i64,
    ) -> StoreResult<()> {
        sqlx::query(sql::FORGET_IDEMPOTENCY_KEY)
            .bind(topic_id)
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
            .bind(topic_id)
            .bind(key.to_string())
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(row.as_ref().map(blueprint_from_row).transpose()?)
    }

    async fn active_generation_of_topic(&mut self, topic_id: Uuid) -> StoreResult<Option<Uuid>> {
        Ok(sqlx::query_scalar(sql::ACTIVE_GENERATION_OF_TOPIC)
            .bind(topic_id)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn count_active_generations(&mut self, owner_id: Uuid) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(sql::COUNT_ACTIVE_GENERATIONS)
            .bind(owner_id)
            .fetch_one(&mut *self.0)
            .await?)
    }

    async fn generation_starts_since(
        &mut self,
        user_id: Uuid,
        since: i64,
    ) -> StoreResult<(i64, Option<i64>)> {
        let row = sqlx::query(sql::GENERATION_STARTS_SINCE)
            .bind(user_id)
            .bind(since)
            .fetch_one(&mut *self.0)
            .await?;
        Ok((row.try_get("started")?, row.try_get("oldest")?))
    }

    async fn note_generation_start(&mut self, user_id: Uuid, at: i64) -> StoreResult<()> {
        sqlx::query(sql::NOTE_GENERATION_START)
            .bind(user_id)
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
            .bind(blueprint_id)
            .bind(topic_id)
            .bind(target_terminal_objectives)
            .bind(now)
            .fetch_one(&mut *self.0)
            .await?;
        sqlx::query(sql::INSERT_JOB)
            .bind(blueprint_id)
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
            .bind(topic_id)
            .bind(key.to_string())
            .bind(blueprint_id)
            .bind(now)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn count_accounts(&mut self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(sql::COUNT_ACCOUNTS)
            .bind(LOCAL_USER_ID)
            .fetch_one(&mut *self.0)
            .await?)
    }

    async fn insert_user(&mut self, new: &NewUser, is_admin: bool) -> StoreResult<Option<User>> {
        let row = sqlx::query(sql::INSERT_USER)
            .bind(new.id)
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
            .bind(from)
            .bind(to)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}

fn decode_err(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("invalid {what} {value:?} in the database").into())
}

fn topic_from_row(row: &PgRow) -> Result<Topic, sqlx::Error> {
    Ok(Topic {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        source_text: row.try_get("source_text")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn user_from_row(row: &PgRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        is_admin: row.try_get("is_admin")?,
        created_at: row.try_get("created_at")?,
    })
}

fn api_token_from_row(row: &PgRow) -> Result<ApiTokenInfo, sqlx::Error> {
    Ok(ApiTokenInfo {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn credential_from_row(row: &PgRow) -> Result<Credential, sqlx::Error> {
    Ok(Credential {
        user: user_from_row(row)?,
        id: row.try_get("credential_id")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

fn blueprint_from_row(row: &PgRow) -> Result<Blueprint, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let error_code: Option<String> = row.try_get("error_code")?;
    let quality_json: Option<String> = row.try_get("quality_json")?;
    Ok(Blueprint {
        id: row.try_get("id")?,
        topic_id: row.try_get("topic_id")?,
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

fn blueprints_from_rows(rows: &[PgRow]) -> Result<Vec<Blueprint>, sqlx::Error> {
    rows.iter().map(blueprint_from_row).collect()
}

fn objective_from_row(row: &PgRow) -> Result<Objective, sqlx::Error> {
    let level: String = row.try_get("bloom_level")?;
    Ok(Objective {
        id: row.try_get("id")?,
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

async fn insert_objective(
    tx: &mut Transaction<'static, Postgres>,
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(blueprint_id),
        Some(terminal_id) => sqlx::query(
            "INSERT INTO enabling_objectives \
             (id, terminal_objective_id, blueprint_id, position, text, bloom_level, verb, \
              condition, criterion, evidence) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(id)
        .bind(terminal_id)
        .bind(blueprint_id),
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
impl Store for PostgresStore {
    async fn migrate(&self) -> StoreResult<()> {
        // sqlx takes an advisory lock around migrations, so processes starting at once apply
        // them one after another.
        MIGRATOR
            .run(&self.pool)
            .await
            .context("Failed to apply the PostgreSQL migrations")?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
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
             WHERE email = $1 AND password_hash IS NOT NULL",
        )
        .bind(email.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|row| Ok::<_, sqlx::Error>((user_from_row(&row)?, row.try_get("password_hash")?)))
            .transpose()?)
    }

    async fn create_session(&self, new: &NewSessionRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, client) \
             VALUES ($1, $2, $3, $4, $4, $5, $6)",
        )
        .bind(new.id)
        .bind(new.token_hash.clone())
        .bind(new.user_id)
        .bind(new.now)
        .bind(new.expires_at)
        .bind(new.client.clone())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_sessions(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT id, created_at, last_seen_at, expires_at, client FROM sessions \
             WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                Ok::<_, sqlx::Error>(SessionInfo {
                    id: row.try_get("id")?,
                    created_at: row.try_get("created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    expires_at: row.try_get("expires_at")?,
                    client: row.try_get("client")?,
                    current: false,
                })
            })
            .collect::<Result<_, _>>()?)
    }

    async fn delete_user_session(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted > 0)
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

    async fn create_api_token(&self, new: &NewApiToken) -> StoreResult<ApiTokenInfo> {
        let row = sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id, name, created_at, last_used_at, expires_at",
        )
        .bind(new.id)
        .bind(new.user_id)
        .bind(new.name.clone())
        .bind(new.token_hash.clone())
        .bind(new.now)
        .bind(new.expires_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(api_token_from_row(&row)?)
    }

    async fn list_api_tokens(&self, user_id: Uuid) -> StoreResult<Vec<ApiTokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_used_at, expires_at FROM api_tokens \
             WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(api_token_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn delete_api_token(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
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
        // A transaction-scoped advisory lock per key serialises reservations of that key in
        // every process sharing the database (rows cannot be locked before they exist). Keys
        // are locked in sorted order so that two reservations never wait on each other.
        let mut tx = self.pool.begin().await?;
        let mut keys: Vec<&str> = claims.iter().map(|c| c.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 16))")
                .bind(key.to_string())
                .execute(&mut *tx)
                .await?;
        }
        for (index, claim) in claims.iter().enumerate() {
            let filling: Option<i64> = sqlx::query_scalar(
                "SELECT at FROM throttle_events WHERE key = $1 AND at > $2 \
                 ORDER BY at DESC LIMIT 1 OFFSET $3",
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
            sqlx::query("INSERT INTO throttle_events (key, at) VALUES ($1, $2)")
                .bind(claim.key.clone())
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Reservation::Reserved)
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

    async fn email_registered(&self, email: &str) -> StoreResult<bool> {
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM users WHERE email = $1")
            .bind(email.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn clear_throttle_events(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM throttle_events WHERE key = $1")
            .bind(key.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn topic_owner(&self, topic_id: Uuid) -> StoreResult<Option<Uuid>> {
        Ok(
            sqlx::query_scalar("SELECT owner_id FROM topics WHERE id = $1")
                .bind(topic_id)
                .fetch_optional(&self.pool)
                .await?,
        )
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

    async fn list_topics(
        &self,
        owner_id: Uuid,
        limit: i64,
        after: Option<Cursor>,
    ) -> StoreResult<Vec<Topic>> {
        let (after_ms, after_id) = match after {
            Some(c) => (c.created_at, c.id),
            None => (i64::MAX, Uuid::max()),
        };
        let rows = sqlx::query(
            "SELECT id, title, description, source_text, created_at, updated_at FROM topics \
             WHERE owner_id = $4 AND (created_at, id) < ($1, $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3",
        )
        .bind(after_ms)
        .bind(after_id)
        .bind(limit)
        .bind(owner_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(topic_from_row).collect::<Result<_, _>>()?)
    }

    async fn get_topic(&self, id: Uuid) -> StoreResult<Option<Topic>> {
        let row = sqlx::query(
            "SELECT id, title, description, source_text, created_at, updated_at \
             FROM topics WHERE id = $1",
        )
        .bind(id)
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
        let row = sqlx::query(
            "UPDATE topics SET \
               title = CASE WHEN $1 THEN $2 ELSE title END, \
               description = CASE WHEN $3 THEN $4 ELSE description END, \
               source_text = CASE WHEN $5 THEN $6 ELSE source_text END, \
               updated_at = $7 \
             WHERE id = $8 \
             RETURNING id, title, description, source_text, created_at, updated_at",
        )
        .bind(patch.title.is_some())
        .bind(patch.title.clone())
        .bind(patch.description.is_some())
        .bind(patch.description.clone().flatten())
        .bind(patch.source_text.is_some())
        .bind(patch.source_text.clone().flatten())
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(topic_from_row).transpose()?)
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

    async fn get_blueprint(&self, topic_id: Uuid, id: Uuid) -> StoreResult<BlueprintLookup> {
        let row = sqlx::query(concat!(
            "SELECT t.id AS topic_exists, ",
            blueprint_columns!(),
            " FROM topics t LEFT JOIN blueprints b ON b.id = $1 AND b.topic_id = t.id \
             WHERE t.id = $2"
        ))
        .bind(id)
        .bind(topic_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(BlueprintLookup::TopicNotFound);
        };
        let found: Option<Uuid> = row.try_get("id")?;
        if found.is_none() {
            return Ok(BlueprintLookup::BlueprintNotFound);
        }
        Ok(BlueprintLookup::Found(blueprint_from_row(&row)?))
    }

    async fn get_blueprint_by_id(&self, id: Uuid) -> StoreResult<Option<Blueprint>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            blueprint_columns!(),
            " FROM blueprints b WHERE b.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(blueprint_from_row).transpose()?)
    }

    async fn get_objectives(&self, blueprint_id: Uuid) -> StoreResult<Vec<TerminalObjective>> {
        let terminal_rows = sqlx::query(
            "SELECT id, position, text, bloom_level, verb, condition, criterion, evidence \
             FROM terminal_objectives WHERE blueprint_id = $1 ORDER BY position",
        )
        .bind(blueprint_id)
        .fetch_all(&self.pool)
        .await?;
        let enabling_rows = sqlx::query(
            "SELECT terminal_objective_id, id, position, text, bloom_level, verb, condition, \
             criterion, evidence FROM enabling_objectives WHERE blueprint_id = $1 \
             ORDER BY terminal_objective_id, position",
        )
        .bind(blueprint_id)
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
            let parent: Uuid = row.try_get("terminal_objective_id")?;
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

    async fn renew_lease(
        &self,
        id: Uuid,
        attempt: i64,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let renewed = sqlx::query(
            "UPDATE generation_jobs j SET lease_expires_at = $1, heartbeat_at = $2 \
             FROM blueprints b \
             WHERE j.blueprint_id = $3 AND b.id = j.blueprint_id AND j.finished_at IS NULL \
               AND j.worker_id IS NOT NULL AND b.attempt = $4 AND b.status = 'generating'",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(id)
        .bind(attempt)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(renewed > 0)
    }

    async fn release_lease(&self, id: Uuid, attempt: i64) -> StoreResult<bool> {
        let released = sqlx::query(
            "UPDATE generation_jobs j SET worker_id = NULL, lease_expires_at = NULL \
             FROM blueprints b \
             WHERE j.blueprint_id = $1 AND b.id = j.blueprint_id AND j.finished_at IS NULL \
               AND b.attempt = $2 AND b.status = 'generating'",
        )
        .bind(id)
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
        let mut tx = self.pool.begin().await?;
        // The fence (see the SQLite backend); the row lock taken by this update also orders
        // it against a concurrent cancel or claim.
        let row = sqlx::query(concat!(
            "UPDATE blueprints SET terminal_objectives_count = terminal_objectives_count + 1, \
             enabling_objectives_count = enabling_objectives_count + $1, \
             version = version + 1, updated_at = $2 \
             WHERE id = $3 AND attempt = $4 AND status = 'generating' \
               AND terminal_objectives_count = $5",
            returning_blueprint!()
        ))
        .bind(draft.enabling.len() as i64)
        .bind(now)
        .bind(id)
        .bind(attempt)
        .bind(position - 1)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
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
        let row = sqlx::query(concat!(
            "UPDATE blueprints SET title = $1, description = $2, version = version + 1, \
             updated_at = $3 WHERE id = $4 AND attempt = $5 AND status = 'generating'",
            returning_blueprint!()
        ))
        .bind(title.to_string())
        .bind(description.to_string())
        .bind(now)
        .bind(id)
        .bind(attempt)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(blueprint_from_row).transpose()?)
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
        let row = sqlx::query(concat!(
            "WITH ended AS ( \
               UPDATE blueprints SET status = $1, error_code = $2, error = $3, finished_at = $4, \
               quality_score = $7, quality_json = $8, version = version + 1, updated_at = $4 \
               WHERE id = $5 AND attempt = $6 AND status = 'generating'",
            returning_blueprint!(),
            finish_jobs_of!("ended", "$4")
        ))
        .bind(status)
        .bind(code)
        .bind(message)
        .bind(now)
        .bind(id)
        .bind(attempt)
        .bind(quality.map(|q| q.score))
        .bind(quality_json)
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
            "DELETE FROM generation_jobs WHERE finished_at IS NOT NULL AND finished_at < $1",
        )
        .bind(finished_before)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let keys = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(keys_before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(keys_before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let starts = sqlx::query("DELETE FROM generation_starts WHERE started_at < $1")
            .bind(keys_before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let failures = sqlx::query("DELETE FROM throttle_events WHERE at < $1")
            .bind(keys_before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(jobs + keys + sessions + starts + failures)
    }
}

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
        // Counts as a failure for the reconnect log above.
        failures = 1;
    }
}
