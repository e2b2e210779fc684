//! The job state machine as workers and the watchdog drive it: claim, renew, hand back,
//! write under the fence of the attempt, finish, time out, give up on lost workers. Every
//! transition is one conditional update in the store; the core announces what it committed.

use super::Core;
use crate::db::{ClaimedJob, Finish, StoreResult};
use crate::domain::blueprint::Blueprint;
use crate::domain::{Attempt, BlueprintId, TerminalDraft};

impl Core {
    /// Claims the oldest claimable job for `worker_id`, raising its attempt (the fence).
    pub async fn claim_job(
        &self,
        worker_id: &str,
        now: i64,
        lease_ms: i64,
        max_attempts: i64,
    ) -> StoreResult<Option<ClaimedJob>> {
        let claimed = self
            .store
            .claim_next_job(worker_id, now, lease_ms, max_attempts)
            .await?;
        if let Some(job) = &claimed {
            self.announce(&job.blueprint);
        }
        Ok(claimed)
    }

    /// Extends the lease; `false` when this attempt no longer holds the job.
    pub async fn renew_lease(
        &self,
        id: BlueprintId,
        attempt: Attempt,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        self.store.renew_lease(id, attempt, now, lease_ms).await
    }

    /// Hands a held job back so that the next claim takes it at once; wakes a worker for it.
    pub async fn release_lease(&self, id: BlueprintId, attempt: Attempt) -> StoreResult<bool> {
        let released = self.store.release_lease(id, attempt).await?;
        if released {
            self.wake_worker();
        }
        Ok(released)
    }

    /// Stores the next terminal objective, fenced by the attempt (see
    /// [`crate::db::Store::append_terminal_objective`]).
    pub async fn append_terminal_objective(
        &self,
        id: BlueprintId,
        attempt: Attempt,
        position: i64,
        draft: &TerminalDraft,
        now: i64,
    ) -> StoreResult<Option<Blueprint>> {
        let stored = self
            .store
            .append_terminal_objective(id, attempt, position, draft, now)
            .await?;
        if let Some(blueprint) = &stored {
            self.announce(blueprint);
        }
        Ok(stored)
    }

    /// Sets the title and description, fenced by the attempt.
    pub async fn set_blueprint_summary(
        &self,
        id: BlueprintId,
        attempt: Attempt,
        title: &str,
        description: &str,
        now: i64,
    ) -> StoreResult<Option<Blueprint>> {
        let stored = self
            .store
            .set_blueprint_summary(id, attempt, title, description, now)
            .await?;
        if let Some(blueprint) = &stored {
            self.announce(blueprint);
        }
        Ok(stored)
    }

    /// Ends a generation this attempt holds; `None` when it ended elsewhere first.
    pub async fn finish_generation(
        &self,
        id: BlueprintId,
        attempt: Attempt,
        finish: &Finish,
        now: i64,
    ) -> StoreResult<Option<Blueprint>> {
        let ended = self
            .store
            .finish_generation(id, attempt, finish, now)
            .await?;
        if let Some(blueprint) = &ended {
            self.announce(blueprint);
        }
        Ok(ended)
    }

    /// Ends in `error`/`timeout` every active generation that began before `started_before`.
    pub async fn time_out_generations(
        &self,
        started_before: i64,
        now: i64,
    ) -> StoreResult<Vec<Blueprint>> {
        let timed_out = self.store.time_out_generations(started_before, now).await?;
        for blueprint in &timed_out {
            self.announce(blueprint);
        }
        Ok(timed_out)
    }

    /// Ends in `error`/`worker_lost` every generation whose lease expired with no attempts left.
    pub async fn fail_lost_jobs(&self, now: i64, max_attempts: i64) -> StoreResult<Vec<Blueprint>> {
        let lost = self.store.fail_lost_jobs(now, max_attempts).await?;
        for blueprint in &lost {
            self.announce(blueprint);
        }
        Ok(lost)
    }

    /// Retention: forgets the job history of generations that ended before `finished_before`
    /// and the keys, sessions and records of limits from before `keys_before`.
    pub async fn purge_history(&self, finished_before: i64, keys_before: i64) -> StoreResult<u64> {
        self.store.purge_history(finished_before, keys_before).await
    }
}
