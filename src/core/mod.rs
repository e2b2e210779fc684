//! The core: every rule of the product, once (admission of a generation, cancel, delete, the
//! job transitions, the first admin, noting the use of credentials), over the storage primitives of [`crate::db`].
//! The JSON API, the web UI, the CLI and the job engine call it; none of them stores a change
//! by itself. After each change it commits, the core announces it (the status hub, the
//! Prometheus counters, the wake-up of idle workers), so no caller has to remember to.
//!
//! It knows nothing of HTTP: its failures are [`CoreError`], which `http::error` maps to the
//! contract's JSON errors and the CLI to messages and exit codes.

mod access;
mod accounts;
mod generations;
pub mod hub;
mod idempotency;
mod jobs;

use std::sync::Arc;

use tokio::sync::Notify;
use uuid::Uuid;

use crate::db::{GenerationLimits, Store, StoreError};
use crate::domain::blueprint::Blueprint;
use crate::domain::BlueprintStatus;
use crate::telemetry::count_ended;
use hub::StatusHub;

pub use accounts::{AccountRules, CredentialKind, NewSession, NewToken, TOUCH_INTERVAL_MS};
pub use idempotency::{
    fingerprint, form_generate_request, Claimed, IdempotentRequest, KeyClaim, FORM_GENERATE_ROUTE,
    IDEMPOTENCY_KEY_TTL_MS,
};

/// Why the core refused or could not do something.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("topic not found")]
    TopicNotFound,
    #[error("blueprint not found")]
    BlueprintNotFound,
    /// Another generation of the topic is queued or running (starting one, deleting one).
    #[error("generation {blueprint_id} of topic {topic_id} is in progress")]
    GenerationInProgress { topic_id: Uuid, blueprint_id: Uuid },
    /// The generation has already ended in this status.
    #[error("the generation has already ended ({})", .0.as_str())]
    NotCancellable(BlueprintStatus),
    /// Only a completed blueprint is exported; this one is in this status.
    #[error("the blueprint is not completed ({})", .0.as_str())]
    NotCompleted(BlueprintStatus),
    /// The owner started `GenerationLimits::per_minute` generations in the last minute; the
    /// oldest of them leaves the window in `retry_after_ms`.
    #[error("too many generations started in the last minute")]
    RateLimited { retry_after_ms: i64 },
    /// The owner already has `limit` generations queued or running.
    #[error("{limit} generations are already queued or running")]
    ActiveLimitReached { limit: u32 },
    /// The idempotency key was used before with another request body.
    #[error("the idempotency key was used with another request body")]
    IdempotencyKeyReused,
    /// The first request with this idempotency key is still being processed.
    #[error("the first request with this idempotency key is still being processed")]
    IdempotencyKeyInFlight,
    /// Accounts are off (`QUIZMASTER_AUTH=off`): there is nobody to sign up or log in.
    #[error("accounts are turned off")]
    AuthDisabled,
    /// Sign-up is closed (`QUIZMASTER_SIGNUP=closed`).
    #[error("sign-up is closed")]
    SignupClosed,
    /// The client's address started too many sign-ups in the last hour.
    #[error("too many sign-ups from this address")]
    TooManySignups { wait_secs: u64 },
    #[error("an account with this email exists")]
    EmailTaken,
    /// Too many failed log-ins for the account or from the address.
    #[error("too many log-in attempts")]
    TooManyAttempts { wait_secs: u64 },
    /// A wrong email or password (which of the two is not told).
    #[error("wrong email or password")]
    InvalidCredentials,
    /// Creating an API token takes a log-in session, not another token.
    #[error("a log-in session is required")]
    SessionRequired,
    #[error("API token not found")]
    TokenNotFound,
    #[error("session not found")]
    SessionNotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure of ours that is not the database's (hashing a password).
    #[error(transparent)]
    Internal(anyhow::Error),
}

pub type CoreResult<T> = Result<T, CoreError>;

/// The rules and what they announce. One per process; cheap to share.
pub struct Core {
    store: Arc<dyn Store>,
    hub: Arc<StatusHub>,
    /// Idle workers wait on this; a new or handed-back job wakes one.
    work: Notify,
    /// Requests waiting for the first request with their idempotency key wait on this; the
    /// end of any claimed request (answer stored or key released) wakes them to look again.
    idempotency_settled: Arc<Notify>,
    limits: GenerationLimits,
    /// The owners of topics checked before (see [`Core::check_topic_owner`]).
    owners: access::OwnerCache,
}

impl Core {
    pub fn new(store: Arc<dyn Store>, hub: Arc<StatusHub>, limits: GenerationLimits) -> Arc<Self> {
        Arc::new(Self {
            store,
            hub,
            work: Notify::new(),
            idempotency_settled: Arc::new(Notify::new()),
            limits,
            owners: access::OwnerCache::default(),
        })
    }

    /// The storage, for reads (writes go through the core's operations).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn hub(&self) -> &Arc<StatusHub> {
        &self.hub
    }

    /// Waits until a job may have become claimable (see [`Core::wake_worker`]).
    pub async fn work_available(&self) {
        self.work.notified().await
    }

    /// Wakes one idle worker: a job became claimable.
    pub fn wake_worker(&self) {
        self.work.notify_one();
    }

    /// Wakes every idle worker: changes may have been missed (a reconnected change feed).
    pub fn wake_all_workers(&self) {
        self.work.notify_waiters();
    }

    /// Announces a blueprint change this process committed: counts the end of a generation
    /// and tells every follower (and the worker running it).
    fn announce(&self, blueprint: &Blueprint) {
        count_ended(blueprint);
        self.hub.publish(blueprint);
    }

    /// Announces deleted blueprints; after their last publish, so that a late publish by a
    /// worker cannot bring them back into the view cache.
    fn announce_deleted(&self, ids: &[Uuid]) {
        self.hub.forget_deleted(ids);
    }
}
