//! The watchdog: ends generations that ran past the timeout and those whose lease expired with
//! no attempts left. It runs in every process; each sweep is one conditional update, so two
//! processes sweeping at once cannot end a generation twice.

use std::time::Duration;

use super::JobEngine;
use crate::domain::time::now_ms;
use crate::telemetry::{QUEUE_DEPTH, QUEUE_OLDEST_AGE};

impl JobEngine {
    pub(super) async fn watchdog_loop(&self) {
        // Sweep often enough that a timeout is noticed within a quarter of its length, at most
        // once a second: the sweeps are indexed and cheap.
        let tick = (self.settings.generation_timeout / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(1));
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = interval.tick() => {}
            }
            self.sweep().await;
        }
    }

    async fn sweep(&self) {
        let now = now_ms();
        match self
            .core
            .time_out_generations(now - self.settings.timeout_ms(), now)
            .await
        {
            Ok(timed_out) => {
                for blueprint in &timed_out {
                    tracing::warn!(blueprint_id = %blueprint.id, attempt = blueprint.attempt, "generation timed out");
                }
            }
            Err(err) => tracing::warn!(error = %err, "watchdog: timeout sweep failed"),
        }
        match self
            .core
            .fail_lost_jobs(now, self.settings.max_attempts)
            .await
        {
            Ok(lost) => {
                for blueprint in &lost {
                    tracing::warn!(blueprint_id = %blueprint.id, attempt = blueprint.attempt, "worker lost too many times");
                }
            }
            Err(err) => tracing::warn!(error = %err, "watchdog: lost-worker sweep failed"),
        }
        if let Ok(stats) = self.store.queue_stats().await {
            metrics::gauge!(QUEUE_DEPTH).set(stats.queued as f64);
            let age = stats
                .oldest_queued_at
                .map(|created| (now - created).max(0) as f64 / 1000.0)
                .unwrap_or(0.0);
            metrics::gauge!(QUEUE_OLDEST_AGE).set(age);
        }
    }
}
