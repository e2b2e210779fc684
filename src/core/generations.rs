//! Topics and generations as their owners see them: creating and changing a topic, starting a
//! generation (admission), cancelling, deleting a blueprint or a whole topic.

use uuid::Uuid;

use super::{Core, CoreError, CoreResult};
use crate::db::{
    BlueprintLookup, CancelOutcome, DeleteOutcome, GenerateOutcome, GenerationLimits,
    NewGeneration, StoreResult, RATE_WINDOW_MS,
};
use crate::domain::blueprint::Blueprint;
use crate::domain::time::now_ms;
use crate::domain::{BlueprintId, Topic, TopicId, TopicInput, TopicPatch, UserId};
use crate::telemetry::{GENERATIONS_REFUSED, GENERATIONS_STARTED};

impl Core {
    /// Starts a generation of `owner_id`'s topic: refuses a second active generation of the
    /// topic and generations over the owner's limits, and otherwise stores the blueprint and
    /// its job in one transaction and wakes a worker. (Idempotency keys are claimed around
    /// it: see [`Core::claim_idempotency_key`] and [`Core::start_generation_once`].)
    pub async fn start_generation(
        &self,
        owner_id: UserId,
        topic_id: TopicId,
        target_terminal_objectives: i64,
    ) -> CoreResult<Blueprint> {
        let new = NewGeneration {
            blueprint_id: BlueprintId(Uuid::now_v7()),
            topic_id,
            owner_id,
            limits: self.limits,
            target_terminal_objectives,
            now: now_ms(),
        };
        match self.admit(&new).await? {
            GenerateOutcome::Created(blueprint) => {
                metrics::counter!(GENERATIONS_STARTED).increment(1);
                self.hub.publish(&blueprint);
                self.wake_worker();
                Ok(blueprint)
            }
            GenerateOutcome::InProgress {
                active_blueprint_id,
            } => Err(CoreError::GenerationInProgress {
                topic_id: topic_id.0,
                blueprint_id: active_blueprint_id.0,
            }),
            GenerateOutcome::RateLimited { retry_after_ms } => {
                metrics::counter!(GENERATIONS_REFUSED, "limit" => "rate_limited").increment(1);
                Err(CoreError::RateLimited { retry_after_ms })
            }
            GenerateOutcome::ActiveLimitReached { limit } => {
                metrics::counter!(GENERATIONS_REFUSED, "limit" => "too_many_active_generations")
                    .increment(1);
                Err(CoreError::ActiveLimitReached { limit })
            }
            GenerateOutcome::TopicNotFound => Err(CoreError::TopicNotFound),
        }
    }

    /// The admission rules, in one write transaction: the topic must be the owner's; one
    /// generation per topic may be active; the owner's active generations and those started
    /// in the last minute must be under the limits. Then the blueprint and its job are stored.
    /// Announces nothing: see [`Core::start_generation`].
    pub async fn admit(&self, new: &NewGeneration) -> StoreResult<GenerateOutcome> {
        // Where transactions run in parallel (PostgreSQL) the row locks make callers take
        // turns, so a unique violation only comes from a race the locks do not cover (the
        // partial unique index on active blueprints is the database's own guard): the honest
        // answer is to look again.
        let mut tries = 0;
        loop {
            tries += 1;
            match self.try_admit(new).await {
                Err(err) if tries < 3 && err.is_unique_violation() => continue,
                other => return other,
            }
        }
    }

    async fn try_admit(&self, new: &NewGeneration) -> StoreResult<GenerateOutcome> {
        let mut tx = self.store.begin_write().await?;
        // Locks the topic: one topic's admissions take turns, so the loser of a race sees the
        // winner's blueprint instead of failing on the unique index.
        if !tx.lock_owned_topic(new.topic_id, new.owner_id).await? {
            return Ok(GenerateOutcome::TopicNotFound);
        }
        if let Some(active_blueprint_id) = tx.active_generation_of_topic(new.topic_id).await? {
            return Ok(GenerateOutcome::InProgress {
                active_blueprint_id,
            });
        }
        let limits = new.limits;
        if limits != GenerationLimits::default() {
            // One user's admissions (on any of their topics) take turns from here, so two
            // parallel requests cannot both count room for one more. Every caller locks the
            // topic first, then the user: one lock order, no deadlock.
            tx.lock_user(new.owner_id).await?;
        }
        if limits.max_active > 0 {
            let active = tx.count_active_generations(new.owner_id).await?;
            if active >= i64::from(limits.max_active) {
                return Ok(GenerateOutcome::ActiveLimitReached {
                    limit: limits.max_active,
                });
            }
        }
        if limits.per_minute > 0 {
            let (started, oldest) = tx
                .generation_starts_since(new.owner_id, new.now - RATE_WINDOW_MS)
                .await?;
            if started >= i64::from(limits.per_minute) {
                // Clamped: a racing request whose clock read came later may hold the oldest slot.
                let wait = oldest.unwrap_or(new.now) + RATE_WINDOW_MS - new.now;
                return Ok(GenerateOutcome::RateLimited {
                    retry_after_ms: wait.clamp(1, RATE_WINDOW_MS),
                });
            }
            tx.note_generation_start(new.owner_id, new.now).await?;
        }
        let blueprint = tx
            .insert_generation(
                new.blueprint_id,
                new.topic_id,
                new.target_terminal_objectives,
                new.now,
            )
            .await?;
        tx.commit().await?;
        Ok(GenerateOutcome::Created(blueprint))
    }

    /// Ends a queued or running generation in `cancelled`; the worker running it hears of it
    /// through the hub and stops.
    pub async fn cancel_generation(
        &self,
        topic_id: TopicId,
        id: BlueprintId,
    ) -> CoreResult<Blueprint> {
        match self.store.cancel_generation(topic_id, id, now_ms()).await? {
            CancelOutcome::Cancelled(blueprint) => {
                self.announce(&blueprint);
                Ok(blueprint)
            }
            CancelOutcome::AlreadyTerminal(blueprint) => {
                Err(CoreError::NotCancellable(blueprint.status))
            }
            CancelOutcome::TopicNotFound => Err(CoreError::TopicNotFound),
            CancelOutcome::BlueprintNotFound => Err(CoreError::BlueprintNotFound),
        }
    }

    /// Deletes a blueprint whose generation has ended.
    pub async fn delete_blueprint(&self, topic_id: TopicId, id: BlueprintId) -> CoreResult<()> {
        match self.store.delete_blueprint(topic_id, id).await? {
            DeleteOutcome::Deleted => {
                self.announce_deleted(&[id.0]);
                Ok(())
            }
            DeleteOutcome::Active => Err(CoreError::GenerationInProgress {
                topic_id: topic_id.0,
                blueprint_id: id.0,
            }),
            DeleteOutcome::TopicNotFound => Err(CoreError::TopicNotFound),
            DeleteOutcome::BlueprintNotFound => Err(CoreError::BlueprintNotFound),
        }
    }

    /// Stores a new topic of `owner_id`.
    pub async fn create_topic(&self, owner_id: UserId, input: &TopicInput) -> CoreResult<Topic> {
        Ok(self
            .store
            .create_topic(owner_id, TopicId(Uuid::now_v7()), input, now_ms())
            .await?)
    }

    /// Changes the fields the patch names.
    pub async fn update_topic(&self, id: TopicId, patch: &TopicPatch) -> CoreResult<Topic> {
        self.store
            .update_topic(id, patch, now_ms())
            .await?
            .ok_or(CoreError::TopicNotFound)
    }

    /// Deletes a topic with its blueprints, cancelling its active generation first.
    pub async fn delete_topic(&self, id: TopicId) -> CoreResult<()> {
        let cancelled = self
            .store
            .delete_topic(id, now_ms())
            .await?
            .ok_or(CoreError::TopicNotFound)?;
        for blueprint in &cancelled {
            self.announce(blueprint);
        }
        let ids: Vec<_> = cancelled.iter().map(|b| b.id).collect();
        self.announce_deleted(&ids);
        Ok(())
    }

    /// A blueprint of a topic.
    pub async fn blueprint(&self, topic_id: TopicId, id: BlueprintId) -> CoreResult<Blueprint> {
        match self.store.get_blueprint(topic_id, id).await? {
            BlueprintLookup::Found(blueprint) => Ok(blueprint),
            BlueprintLookup::TopicNotFound => Err(CoreError::TopicNotFound),
            BlueprintLookup::BlueprintNotFound => Err(CoreError::BlueprintNotFound),
        }
    }
}
