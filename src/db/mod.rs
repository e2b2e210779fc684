//! Storage: one operation-shaped interface over every backend. All SQL lives in the backend
//! modules; each operation is one transaction, and every state change is a conditional update
//! from the state it expects (never read-then-write).
//!
//! Job state (a blueprint's `status`, `attempt` and its `generation_jobs` row with the lease) is
//! written only through the core ([`crate::core::Core`]): the operations here that change it
//! (admission, claim, lease, append, finish, cancel, the sweeps) are its primitives, each
//! keeping the pair consistent in one transaction, and nothing else calls them to change state.
//! (`copy-data` alone writes rows around the core, into a target no server uses yet: see
//! [`copy`].)
//! Which statuses are active is the domain's ([`BlueprintStatus::ACTIVE`]); the SQL spells them
//! once (`active_statuses!` in `sql.rs`).

pub mod copy;
#[macro_use]
mod sql;
#[macro_use]
mod shared;
mod postgres;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use uuid::Uuid;

use crate::domain::account::SessionInfo;
use crate::domain::blueprint::Blueprint;
use crate::domain::objective::TerminalObjective;
use crate::domain::{
    ApiTokenInfo, Attempt, BlueprintId, BlueprintQuality, BlueprintStatus, ErrorCode, SessionId,
    TerminalDraft, TokenId, Topic, TopicId, TopicInput, TopicPatch, User, UserId,
};

pub use postgres::{PoolSettings, PostgresStore};
pub use sqlite::SqliteStore;
use tokio::sync::mpsc;

/// A failure of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is too busy right now; retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The database refused a text it cannot store (PostgreSQL and NUL). Validation refuses
    /// such text first; this is the second lock, so it is a client's error, never a 500.
    #[error("the database cannot store this text: {0}")]
    InvalidText(#[source] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err),
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("22021" | "22P05")) =>
            {
                StoreError::InvalidText(err)
            }
            sqlx::Error::Database(db)
                if is_busy_or_full(db.code().as_deref())
                    || is_connection_lost(db.code().as_deref()) =>
            {
                StoreError::Unavailable(err)
            }
            _ => StoreError::Other(anyhow::Error::new(err)),
        }
    }
}

/// SQLite's BUSY/LOCKED/FULL and friends: the database is there but cannot take the write now.
fn is_busy_or_full(code: Option<&str>) -> bool {
    matches!(code, Some("5" | "6" | "13" | "261" | "517"))
}

/// PostgreSQL's "the server is going away or not there yet" and connection-exception codes.
fn is_connection_lost(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03" | "53300"))
}

impl StoreError {
    /// A unique index refused the write: a racing transaction stored the same thing first.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Other(err)
            if matches!(err.downcast_ref::<sqlx::Error>(),
                Some(sqlx::Error::Database(db)) if db.is_unique_violation()))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A position in a newest-first listing: the last item's creation time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: i64,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.created_at, self.id.simple())
    }

    pub fn decode(s: &str) -> Option<Self> {
        let (ms, id) = s.split_once('_')?;
        Some(Self {
            created_at: ms.parse().ok()?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// What an admission (`Core::admit`) did.
#[derive(Debug, Clone)]
pub enum GenerateOutcome {
    /// A new blueprint and its job were stored.
    Created(Blueprint),
    /// Another generation of this topic is active.
    InProgress {
        active_blueprint_id: BlueprintId,
    },
    /// The owner started `GenerationLimits::per_minute` generations in the last minute; the
    /// oldest of them leaves the window in `retry_after_ms`.
    RateLimited {
        retry_after_ms: i64,
    },
    /// The owner already has `GenerationLimits::max_active` generations queued or running.
    ActiveLimitReached {
        limit: u32,
    },
    TopicNotFound,
}

/// One `Idempotency-Key` as the store keeps it: the user's, for one route and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyScope {
    pub user_id: UserId,
    /// The operation, e.g. `create_topic`.
    pub route: &'static str,
    /// What else the key is scoped to (the topic for generate), or empty.
    pub scope: String,
    pub key: String,
}

/// A stored answer, replayed for a retry with the same key and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// What the store holds for a key that another request claimed first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub fingerprint: String,
    /// `None` while the first request is still being processed.
    pub answer: Option<StoredAnswer>,
}

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key is this request's: it runs, then completes or releases the key.
    Claimed,
    /// Another request claimed the key first.
    Taken(IdempotencyRecord),
    /// Another request held the key but released it in between: claim again.
    Released,
}

/// Per-user limits on starting generations, checked inside the transaction that creates the
/// job, so that parallel requests cannot slip past them. `0` turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenerationLimits {
    /// Generations one user may start in any 60 seconds.
    pub per_minute: u32,
    /// Generations one user may have queued or running at once.
    pub max_active: u32,
}

/// The sliding window of `GenerationLimits::per_minute`.
pub const RATE_WINDOW_MS: i64 = 60_000;

#[derive(Debug, Clone)]
pub struct NewGeneration {
    pub blueprint_id: BlueprintId,
    pub topic_id: TopicId,
    /// The topic's owner: the generation counts against this user's limits.
    pub owner_id: UserId,
    pub limits: GenerationLimits,
    pub target_terminal_objectives: i64,
    pub now: i64,
}

/// Looking a blueprint up under a topic.
// One short-lived value per request; boxing the blueprint would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum BlueprintLookup {
    TopicNotFound,
    BlueprintNotFound,
    Found(Blueprint),
}

#[derive(Debug, Clone)]
pub enum CancelOutcome {
    Cancelled(Blueprint),
    AlreadyTerminal(Blueprint),
    TopicNotFound,
    BlueprintNotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    Active,
    TopicNotFound,
    BlueprintNotFound,
}

/// A job a worker has just claimed.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub blueprint: Blueprint,
    pub topic: Topic,
    /// The previous holder's lease had expired: this claim rescues a lost job.
    pub rescued: bool,
}

/// How a worker ends a generation it holds.
#[derive(Debug, Clone)]
pub enum Finish {
    /// Completed, with the quality of what was stored (`None` when it could not be scored).
    Completed {
        quality: Option<BlueprintQuality>,
    },
    Failed {
        code: ErrorCode,
        message: String,
    },
}

/// The columns ending a generation sets, as both drivers store them.
pub(crate) struct FinishValues {
    pub status: &'static str,
    pub error_code: Option<&'static str>,
    pub error: Option<String>,
    pub quality_score: Option<i64>,
    pub quality_json: Option<String>,
}

impl Finish {
    pub(crate) fn values(&self) -> StoreResult<FinishValues> {
        Ok(match self {
            Finish::Completed { quality } => FinishValues {
                status: "completed",
                error_code: None,
                error: None,
                quality_score: quality.as_ref().map(|q| q.score),
                quality_json: quality
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()
                    .context("Failed to encode the blueprint quality")?,
            },
            Finish::Failed { code, message } => FinishValues {
                status: "error",
                error_code: Some(code.as_str()),
                error: Some(message.clone()),
                quality_score: None,
                quality_json: None,
            },
        })
    }
}

/// A queued or running generation, or one that ended recently, for the jobs dashboard.
#[derive(Debug, Clone)]
pub struct JobListing {
    pub blueprint: Blueprint,
    pub topic_title: String,
    pub owner_id: UserId,
    pub owner_email: String,
}

/// A new account. The first one (besides the built-in local user) becomes an admin.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: String,
    /// An Argon2id PHC string.
    pub password_hash: String,
    pub now: i64,
}

/// A session to store: only the hash of its secret.
#[derive(Debug, Clone)]
pub struct NewSessionRow {
    pub id: SessionId,
    pub token_hash: String,
    pub user_id: UserId,
    pub now: i64,
    pub expires_at: i64,
    /// The client that started it, as the sessions list shows it (user agent, address).
    pub client: Option<String>,
}

/// An API token to store: only the hash of its secret.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub token_hash: String,
    pub now: i64,
    /// `None`: never expires.
    pub expires_at: Option<i64>,
}

/// What `Core::create_user` did.
#[derive(Debug, Clone)]
pub enum SignupOutcome {
    Created(User),
    EmailTaken,
}

/// One limit a throttled attempt must fit under: at most `limit` events of `key` after `since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleClaim {
    pub key: String,
    pub since: i64,
    pub limit: i64,
}

/// What `reserve_throttle_events` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// An event was noted under every key.
    Reserved,
    /// The claim at this index is full; the event that filled it (the `limit`-th newest)
    /// happened at `filling_at`. Nothing was noted.
    Refused { claim: usize, filling_at: i64 },
}

/// A session or API token found by the hash of its secret.
#[derive(Debug, Clone)]
pub struct Credential {
    pub user: User,
    /// The session's or token's id.
    pub id: Uuid,
    /// When it was last noted as seen or used.
    pub last_used_at: Option<i64>,
}

/// One write transaction of a driver, with the primitives the core composes its rules from
/// (admission of a generation, the first account). Each primitive is one statement; which
/// rows they read and in what order is the core's business. Dropped without [`Self::commit`],
/// the transaction rolls back.
#[async_trait]
pub trait WriteTx: Send {
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    /// Makes every transaction that calls this for the same user take turns, until commit:
    /// a row lock on PostgreSQL; nothing on SQLite, whose write transactions already do.
    async fn lock_user(&mut self, user_id: UserId) -> StoreResult<()>;
    /// Whether the topic exists and belongs to `owner_id`; with the topic's row locked (as
    /// [`Self::lock_user`] locks a user's), so that one topic's admissions take turns.
    async fn lock_owned_topic(&mut self, topic_id: TopicId, owner_id: UserId) -> StoreResult<bool>;
    /// The topic's queued or running generation.
    async fn active_generation_of_topic(
        &mut self,
        topic_id: TopicId,
    ) -> StoreResult<Option<BlueprintId>>;
    /// How many generations of the owner's topics are queued or running.
    async fn count_active_generations(&mut self, owner_id: UserId) -> StoreResult<i64>;
    /// How many generations the user started after `since`, and when the oldest of them was.
    async fn generation_starts_since(
        &mut self,
        user_id: UserId,
        since: i64,
    ) -> StoreResult<(i64, Option<i64>)>;
    async fn note_generation_start(&mut self, user_id: UserId, at: i64) -> StoreResult<()>;
    /// Stores a queued blueprint and its job. The partial unique index on active blueprints
    /// refuses a second active one of the topic (a unique violation).
    async fn insert_generation(
        &mut self,
        blueprint_id: BlueprintId,
        topic_id: TopicId,
        target_terminal_objectives: i64,
        now: i64,
    ) -> StoreResult<Blueprint>;

    /// Makes every transaction that calls this for the same throttling key take turns, until
    /// commit, in every process sharing the database (an advisory lock on PostgreSQL, as rows
    /// cannot be locked before they exist; nothing on SQLite, whose write transactions
    /// already take turns).
    async fn lock_throttle_key(&mut self, key: &str) -> StoreResult<()>;
    /// The `limit`-th newest event of `key` after `since`, when there is one: the key is full.
    async fn throttle_event_filling(
        &mut self,
        key: &str,
        since: i64,
        limit: i64,
    ) -> StoreResult<Option<i64>>;
    async fn note_throttle_event(&mut self, key: &str, at: i64) -> StoreResult<()>;

    /// How many accounts there are besides the built-in local user.
    async fn count_accounts(&mut self) -> StoreResult<i64>;
    /// Stores an account; `None` when the email is taken.
    async fn insert_user(&mut self, new: &NewUser, is_admin: bool) -> StoreResult<Option<User>>;
    /// Gives every topic of `from` to `to`.
    async fn hand_over_topics(&mut self, from: UserId, to: UserId) -> StoreResult<()>;
}

/// A change announced by the database, for processes that share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// This blueprint's stored state changed.
    Blueprint(Uuid),
    /// A job became claimable.
    JobsAvailable,
    /// The feed (re)connected: changes may have been missed, so re-read what matters.
    Resync,
    /// The feed's connection was lost: changes go unannounced until the next `Resync`.
    Lost,
}

/// Every storage operation QuizMaster performs.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Brings the schema up to date.
    async fn migrate(&self) -> StoreResult<()>;
    /// Succeeds when the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// A human description (without credentials) for logs.
    fn describe(&self) -> String;
    /// Changes made by other processes, for backends that several processes share.
    /// `None` for the embedded database, whose only writer is this process.
    async fn change_feed(&self) -> StoreResult<Option<mpsc::Receiver<Change>>> {
        Ok(None)
    }

    /// Begins a write transaction for the core to compose primitives in (see [`WriteTx`]).
    async fn begin_write(&self) -> StoreResult<Box<dyn WriteTx>>;

    /// The user with this (normalized) email and their password hash, if they have one.
    async fn user_credentials(&self, email: &str) -> StoreResult<Option<(User, String)>>;
    async fn create_session(&self, new: &NewSessionRow) -> StoreResult<()>;
    /// The user of an unexpired session, with the session's id and when it was last seen.
    async fn session_by_hash(&self, token_hash: &str, now: i64) -> StoreResult<Option<Credential>>;
    /// Notes that the session was seen at `now`.
    async fn touch_session(&self, id: SessionId, now: i64) -> StoreResult<()>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// The user's unexpired sessions, newest first.
    async fn list_sessions(&self, user_id: UserId, now: i64) -> StoreResult<Vec<SessionInfo>>;
    /// Ends one of the user's sessions; `false` when the user has no such session.
    async fn delete_user_session(&self, user_id: UserId, id: SessionId) -> StoreResult<bool>;
    /// Ends every session of the user but `keep`; returns how many ended.
    async fn delete_other_sessions(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
    ) -> StoreResult<u64>;
    async fn create_api_token(&self, new: &NewApiToken) -> StoreResult<ApiTokenInfo>;
    async fn list_api_tokens(&self, user_id: UserId) -> StoreResult<Vec<ApiTokenInfo>>;
    /// `false` when the user has no such token.
    async fn delete_api_token(&self, user_id: UserId, id: TokenId) -> StoreResult<bool>;
    /// The user of an unexpired API token, with the token's id and when it was last used.
    async fn api_token_by_hash(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<Credential>>;
    /// Notes that the API token was used at `now`.
    async fn touch_api_token(&self, id: TokenId, now: i64) -> StoreResult<()>;
    /// Reserves one attempt under every claim's key, atomically and across processes: when
    /// each key has fewer than its `limit` events since its `since`, one event is noted under
    /// each (at `at`) and the answer is `Reserved`; otherwise nothing is noted. Parallel
    /// reservations of one key are serialised, so a burst cannot slip past the limit.
    async fn reserve_throttle_events(
        &self,
        claims: &[ThrottleClaim],
        at: i64,
    ) -> StoreResult<Reservation> {
        let mut tx = self.begin_write().await?;
        // Keys are locked in sorted order, so that two reservations never wait on each other.
        let mut keys: Vec<&str> = claims.iter().map(|c| c.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            tx.lock_throttle_key(key).await?;
        }
        for (index, claim) in claims.iter().enumerate() {
            let filling = tx
                .throttle_event_filling(&claim.key, claim.since, claim.limit)
                .await?;
            if let Some(filling_at) = filling {
                return Ok(Reservation::Refused {
                    claim: index,
                    filling_at,
                });
            }
        }
        for claim in claims {
            tx.note_throttle_event(&claim.key, at).await?;
        }
        tx.commit().await?;
        Ok(Reservation::Reserved)
    }
    /// Gives back reserved attempts: removes one event noted at `at` under each key.
    async fn release_throttle_events(&self, keys: &[String], at: i64) -> StoreResult<()>;
    /// Whether an account (including the built-in local user) has this (normalized) email.
    async fn email_registered(&self, email: &str) -> StoreResult<bool>;
    /// Forgets a key's events (a successful log-in of that account).
    async fn clear_throttle_events(&self, key: &str) -> StoreResult<()>;
    /// Who owns a topic. Owners never change, so callers may cache the answer.
    async fn topic_owner(&self, topic_id: TopicId) -> StoreResult<Option<UserId>>;

    async fn create_topic(
        &self,
        owner_id: UserId,
        id: TopicId,
        input: &TopicInput,
        now: i64,
    ) -> StoreResult<Topic>;
    /// The owner's topics, newest first.
    async fn list_topics(
        &self,
        owner_id: UserId,
        limit: i64,
        after: Option<Cursor>,
    ) -> StoreResult<Vec<Topic>>;
    async fn get_topic(&self, id: TopicId) -> StoreResult<Option<Topic>>;
    async fn update_topic(
        &self,
        id: TopicId,
        patch: &TopicPatch,
        now: i64,
    ) -> StoreResult<Option<Topic>>;
    /// Deletes a topic and its blueprints, cancelling its active generation first.
    /// `None` when there was no such topic; otherwise the generations it cancelled.
    async fn delete_topic(&self, id: TopicId, now: i64) -> StoreResult<Option<Vec<Blueprint>>>;

    async fn get_blueprint(
        &self,
        topic_id: TopicId,
        id: BlueprintId,
    ) -> StoreResult<BlueprintLookup>;
    async fn get_blueprint_by_id(&self, id: BlueprintId) -> StoreResult<Option<Blueprint>>;
    async fn get_objectives(
        &self,
        blueprint_id: BlueprintId,
    ) -> StoreResult<Vec<TerminalObjective>>;
    /// `None` when the topic does not exist.
    async fn list_blueprints(
        &self,
        topic_id: TopicId,
        status: Option<BlueprintStatus>,
        limit: i64,
        after: Option<Cursor>,
    ) -> StoreResult<Option<Vec<Blueprint>>>;
    async fn delete_blueprint(
        &self,
        topic_id: TopicId,
        id: BlueprintId,
    ) -> StoreResult<DeleteOutcome>;
    async fn cancel_generation(
        &self,
        topic_id: TopicId,
        id: BlueprintId,
        now: i64,
    ) -> StoreResult<CancelOutcome>;
    /// Active generations and those that ended after `ended_since`, newest first: of one
    /// owner's topics, or of everyone's with `None`.
    async fn list_jobs(
        &self,
        owner_id: Option<UserId>,
        ended_since: i64,
        limit: i64,
    ) -> StoreResult<Vec<JobListing>>;

    /// Claims the oldest claimable job: queued, released, or holding an expired lease with
    /// attempts left. The claim raises the attempt (the fencing token) by one.
    async fn claim_next_job(
        &self,
        worker_id: &str,
        now: i64,
        lease_ms: i64,
        max_attempts: i64,
    ) -> StoreResult<Option<ClaimedJob>>;
    /// Extends the lease; `false` when the worker no longer holds the job.
    async fn renew_lease(
        &self,
        id: BlueprintId,
        attempt: Attempt,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool>;
    /// Hands a job back (graceful shutdown) so that the next claim takes it at once.
    async fn release_lease(&self, id: BlueprintId, attempt: Attempt) -> StoreResult<bool>;
    /// Stores one terminal objective with its enabling objectives at `position`, which must be
    /// the next one. `None` when nothing was written: the writer is fenced off (lease lost,
    /// cancelled, timed out) or that position is already stored (a retried write whose first
    /// try committed) — the caller tells which by reading the blueprint.
    async fn append_terminal_objective(
        &self,
        id: BlueprintId,
        attempt: Attempt,
        position: i64,
        draft: &TerminalDraft,
        now: i64,
    ) -> StoreResult<Option<Blueprint>>;
    /// Sets the blueprint's title and description; `None` when fenced off.
    async fn set_blueprint_summary(
        &self,
        id: BlueprintId,
        attempt: Attempt,
        title: &str,
        description: &str,
        now: i64,
    ) -> StoreResult<Option<Blueprint>>;
    /// Ends a generation the worker holds; `None` when fenced off. A completed one stores its
    /// quality (`quality_score`, `quality_json`) in the same update.
    async fn finish_generation(
        &self,
        id: BlueprintId,
        attempt: Attempt,
        finish: &Finish,
        now: i64,
    ) -> StoreResult<Option<Blueprint>>;
    /// Ends in `error`/`timeout` every active generation that began before `started_before`.
    async fn time_out_generations(
        &self,
        started_before: i64,
        now: i64,
    ) -> StoreResult<Vec<Blueprint>>;
    /// Ends in `error`/`worker_lost` every generation whose lease expired with no attempts left.
    async fn fail_lost_jobs(&self, now: i64, max_attempts: i64) -> StoreResult<Vec<Blueprint>>;

    /// Claims an idempotency key for a first request: forgets the key's record if it was
    /// stored before `expired_before` (or is still in flight since before `abandoned_before`:
    /// its request died), then inserts it in flight.
    async fn claim_idempotency_key(
        &self,
        scope: &IdempotencyScope,
        fingerprint: &str,
        now: i64,
        expired_before: i64,
        abandoned_before: i64,
    ) -> StoreResult<IdempotencyClaim>;
    /// Stores the answer of the request that claimed the key.
    async fn complete_idempotency_key(
        &self,
        scope: &IdempotencyScope,
        answer: &StoredAnswer,
    ) -> StoreResult<()>;
    /// Forgets a claim whose request ended without an answer worth replaying.
    async fn release_idempotency_key(&self, scope: &IdempotencyScope) -> StoreResult<()>;

    /// How many generations wait for a worker, and when the oldest of them was created.
    async fn queue_stats(&self) -> StoreResult<QueueStats>;
    /// Retention: removes the job history of generations that ended before `finished_before`,
    /// and idempotency records, sessions that expired, rate-limit records and throttling events
    /// from before `keys_before`. Blueprints and topics (the users' data) are never purged. Returns the rows
    /// removed.
    async fn purge_history(&self, finished_before: i64, keys_before: i64) -> StoreResult<u64>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub queued: i64,
    pub oldest_queued_at: Option<i64>,
}

/// Opens the store a database URL names.
pub async fn connect(database_url: &str, pool: PoolSettings) -> anyhow::Result<Arc<dyn Store>> {
    if database_url.starts_with("sqlite:") {
        let store = SqliteStore::connect(database_url)
            .await
            .with_context(|| format!("Failed to open the SQLite database {database_url}"))?;
        Ok(Arc::new(store))
    } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
        let store = PostgresStore::connect(database_url, pool)
            .await
            .with_context(|| {
                format!(
                    "Failed to connect to PostgreSQL at {}; is it running and reachable?",
                    redact_url(database_url)
                )
            })?;
        Ok(Arc::new(store))
    } else {
        anyhow::bail!(
            "unsupported database URL {:?}: use sqlite://FILE or postgres://USER@HOST/DB",
            redact_url(database_url)
        )
    }
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// A database URL with any password replaced, safe to log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        // Only a userinfo with a password (`user:secret@`) has anything to hide.
        (Some(scheme_end), Some(at))
            if at > scheme_end && url[scheme_end + 3..at].contains(':') =>
        {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = Cursor {
            created_at: 1_700_000_000_123,
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("nope"), None);
        assert_eq!(Cursor::decode("12_notauuid"), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/db"),
            "postgres://postgres@127.0.0.1/db"
        );
    }
}
