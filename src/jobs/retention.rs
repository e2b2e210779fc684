//! Retention: job history is purged after `QUIZMASTER_RETENTION_DAYS`; idempotency records
//! (the API's keys and the web form's) after their 24 hours. Runs in every process; the deletes are idempotent.

use std::time::Duration;

use super::JobEngine;
use crate::core::IDEMPOTENCY_KEY_TTL_MS;
use crate::domain::time::now_ms;
use crate::telemetry::HISTORY_PURGED;

const EVERY: Duration = Duration::from_secs(3600);

impl JobEngine {
    pub(super) async fn retention_loop(&self) {
        // First pass soon after start, then hourly.
        let mut wait = Duration::from_secs(10);
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = EVERY;
            let now = now_ms();
            let finished_before = now - self.settings.retention.as_millis() as i64;
            match self
                .core
                .purge_history(finished_before, now - IDEMPOTENCY_KEY_TTL_MS)
                .await
            {
                Ok(0) => {}
                Ok(purged) => {
                    metrics::counter!(HISTORY_PURGED).increment(purged);
                    tracing::info!(purged, "retention: old job history purged");
                }
                Err(err) => tracing::warn!(error = %err, "retention: purge failed"),
            }
        }
    }
}
