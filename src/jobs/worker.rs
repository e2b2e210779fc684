//! A worker: claim a job, run its generation under a lease, and end it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::JobEngine;
use crate::core::hub::StatusHub;
use crate::core::Core;
use crate::db::{ClaimedJob, Finish, Store, StoreError, StoreResult};
use crate::domain::time::now_ms;
use crate::domain::{
    Attempt, BlueprintId, BlueprintQuality, BlueprintStatus, ErrorCode, TerminalDraft,
};
use crate::generator::{quality, GenerateError, GenerationRequest, ObjectiveSink, SinkError};
use crate::telemetry::{
    GaugeGuard, GENERATOR_DURATION, GENERATOR_ERRORS, JOBS_RUNNING, JOB_CLAIMS, JOB_RESCUES,
};

impl JobEngine {
    pub(super) async fn worker_loop(self: Arc<Self>, n: usize) {
        let worker_id = format!("{}-w{n}", self.instance);
        let mut failures: u32 = 0;
        while !self.shutdown.is_cancelled() {
            let claim = self
                .core
                .claim_job(
                    &worker_id,
                    now_ms(),
                    self.settings.lease_ms(),
                    self.settings.max_attempts,
                )
                .await;
            match claim {
                Ok(Some(job)) => {
                    failures = 0;
                    let span = tracing::info_span!(
                        "job",
                        blueprint_id = %job.blueprint.id,
                        attempt = job.blueprint.attempt
                    );
                    self.run_job(job).instrument(span).await;
                }
                Ok(None) => {
                    failures = 0;
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return,
                        _ = self.core.work_available() => {}
                        _ = tokio::time::sleep(self.settings.idle_poll) => {}
                    }
                }
                Err(err) => {
                    // The database is unreachable or busy: back off (capped) and try again.
                    failures = failures.saturating_add(1);
                    let backoff = Duration::from_millis(100 * 2u64.pow(failures.min(6)));
                    tracing::warn!(error = %err, ?backoff, "claiming a job failed");
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                }
            }
        }
    }

    async fn run_job(&self, job: ClaimedJob) {
        let blueprint = job.blueprint;
        let (id, attempt) = (BlueprintId(blueprint.id), Attempt(blueprint.attempt));
        tracing::info!(rescued = job.rescued, "generation started");
        metrics::counter!(JOB_CLAIMS).increment(1);
        if job.rescued {
            metrics::counter!(JOB_RESCUES).increment(1);
        }
        let _running = GaugeGuard::new(JOBS_RUNNING);
        let generator = self.generator.name();

        // `stop` ends the generator: cancel, timeout, a lost lease or the end of shutdown grace.
        let stop = CancellationToken::new();
        // `done` ends the helper tasks once the generator has returned.
        let done = CancellationToken::new();
        let released = Arc::new(AtomicBool::new(false));
        let started = blueprint
            .generation_started_at
            .unwrap_or(blueprint.created_at);
        let deadline_in =
            Duration::from_millis((started + self.settings.timeout_ms() - now_ms()).max(0) as u64);

        let helpers = [
            tokio::spawn(
                watch_for_stop(
                    self.store.clone(),
                    self.hub.clone(),
                    id,
                    attempt,
                    stop.clone(),
                    done.clone(),
                )
                .in_current_span(),
            ),
            tokio::spawn(
                heartbeat(
                    self.core.clone(),
                    id,
                    attempt,
                    self.settings.lease,
                    stop.clone(),
                    done.clone(),
                )
                .in_current_span(),
            ),
            tokio::spawn({
                let (stop, done, released) = (stop.clone(), done.clone(), released.clone());
                let shutdown = self.shutdown.clone();
                let grace = self.settings.shutdown_grace;
                async move {
                    tokio::select! {
                        _ = done.cancelled() => {}
                        _ = tokio::time::sleep(deadline_in) => stop.cancel(),
                        _ = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
                            released.store(true, Ordering::SeqCst);
                            stop.cancel();
                        }
                    }
                }
            }),
        ];

        let already_stored = blueprint.terminal_objectives_count.max(0) as usize;
        let stored_terminal_texts = if already_stored > 0 {
            match self.store.get_objectives(id).await {
                Ok(stored) => stored.into_iter().map(|t| t.objective.text).collect(),
                Err(err) => {
                    tracing::warn!(error = %err, "reading the stored objectives failed");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let request = GenerationRequest {
            topic: job.topic,
            target_terminal_objectives: blueprint.target_terminal_objectives.max(0) as usize,
            already_stored,
            stored_terminal_texts,
        };
        let mut sink = StoreSink {
            core: self.core.clone(),
            id,
            attempt,
            next_position: blueprint.terminal_objectives_count.max(0) + 1,
            stop: stop.clone(),
            notes: Vec::new(),
        };
        let called = std::time::Instant::now();
        let result = self.generator.generate(&request, &mut sink, &stop).await;
        metrics::histogram!(GENERATOR_DURATION, "generator" => generator)
            .record(called.elapsed().as_secs_f64());
        if matches!(result, Err(GenerateError::Failed(_))) {
            metrics::counter!(GENERATOR_ERRORS, "generator" => generator).increment(1);
        }
        // Scoring happens while the heartbeat still renews the lease: on a large source it
        // can take longer than a short lease.
        let quality = match result {
            Ok(()) => self.assess(id, &request, &sink.notes).await,
            Err(_) => None,
        };
        done.cancel();
        for helper in helpers {
            helper.abort();
        }

        let finish = match result {
            Ok(()) => Some(Finish::Completed { quality }),
            Err(GenerateError::Failed(message)) => Some(Finish::Failed {
                code: ErrorCode::GeneratorFailed,
                message,
            }),
            Err(GenerateError::Stopped) if released.load(Ordering::SeqCst) => {
                self.hand_back(id, attempt, "shutting down").await;
                None
            }
            // Whoever stopped it (cancel, watchdog, a newer attempt) already stored why.
            Err(GenerateError::Stopped) => {
                tracing::info!("generation stopped");
                None
            }
            Err(GenerateError::Storage(message)) => {
                tracing::warn!(error = %message, "storage failed mid-generation");
                self.hand_back(id, attempt, "storage failed").await;
                None
            }
        };
        if let Some(finish) = finish {
            match self
                .core
                .finish_generation(id, attempt, &finish, now_ms())
                .await
            {
                Ok(Some(ended)) => {
                    tracing::info!(status = ended.status.as_str(), "generation ended");
                }
                Ok(None) => tracing::info!("generation ended elsewhere first"),
                Err(err) => {
                    // The lease will expire and another attempt will finish the job.
                    tracing::warn!(error = %err, "storing the end of a generation failed")
                }
            }
        }
    }

    /// Scores what was stored. `None` (and a warning) if the objectives cannot be read: the
    /// blueprint still completes, only without a score.
    async fn assess(
        &self,
        id: BlueprintId,
        request: &GenerationRequest,
        generator_notes: &[String],
    ) -> Option<BlueprintQuality> {
        match self.store.get_objectives(id).await {
            Ok(stored) => {
                // Scoring reads the whole source and lints every objective: CPU work that
                // must not hold up this runtime's heartbeats (a missed lease renewal would
                // hand the finished job to another worker).
                let topic = request.topic.clone();
                let drafts = quality::drafts_of(&stored);
                let target = request.target_terminal_objectives;
                let terminals = drafts.len();
                let quality = match crate::generator::cpu::run(move || {
                    quality::assess_against(&topic, &drafts, target)
                })
                .await
                {
                    Ok(mut quality) if !generator_notes.is_empty() => {
                        // The generator says why the blueprint is short (a model's objectives
                        // left out), which the source-based shortfall note would contradict.
                        let shortfall = quality::shortfall_note(terminals, target);
                        quality
                            .notes
                            .retain(|note| Some(note) != shortfall.as_ref());
                        quality.notes.splice(0..0, generator_notes.iter().cloned());
                        quality
                    }
                    Ok(quality) => quality,
                    Err(err) => {
                        tracing::warn!(error = %err, "scoring the blueprint failed");
                        return None;
                    }
                };
                tracing::info!(
                    score = quality.score,
                    failed = ?quality.failed,
                    "blueprint quality assessed"
                );
                Some(quality)
            }
            Err(err) => {
                tracing::warn!(error = %err, "reading the objectives to score them failed");
                None
            }
        }
    }

    /// Releases the lease so the next claim takes the job at once, with a new attempt that
    /// continues after the objectives already stored.
    async fn hand_back(&self, id: BlueprintId, attempt: Attempt, why: &str) {
        match self.core.release_lease(id, attempt).await {
            Ok(true) => tracing::info!(why, "job handed back"),
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(error = %err, "handing a job back failed; its lease will expire")
            }
        }
    }
}

/// Stops the generator as soon as the blueprint leaves this attempt's hands: cancelled, timed
/// out, deleted, or claimed by a newer attempt.
async fn watch_for_stop(
    store: Arc<dyn Store>,
    hub: Arc<StatusHub>,
    id: BlueprintId,
    attempt: Attempt,
    stop: CancellationToken,
    done: CancellationToken,
) {
    let mut subscription = hub.subscribe(id.0);
    // Read after subscribing, so a change published in between is not missed.
    let mut version = match store.get_blueprint_by_id(id).await {
        Ok(Some(current))
            if current.status.is_terminal() || Attempt(current.attempt) != attempt =>
        {
            stop.cancel();
            return;
        }
        Ok(Some(current)) => current.version,
        Ok(None) => {
            stop.cancel();
            return;
        }
        Err(_) => 0,
    };
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            newer = subscription.newer_than(version) => {
                let Some(newer) = newer else { return };
                if newer.status.is_terminal() || Attempt(newer.attempt) != attempt {
                    stop.cancel();
                    return;
                }
                version = newer.version;
            }
        }
    }
}

/// Renews the lease every third of its length; stops the generator if the lease was lost.
async fn heartbeat(
    core: Arc<Core>,
    id: BlueprintId,
    attempt: Attempt,
    lease: Duration,
    stop: CancellationToken,
    done: CancellationToken,
) {
    let every = (lease / 3).max(Duration::from_millis(100));
    let lease_ms = lease.as_millis() as i64;
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match core.renew_lease(id, attempt, now_ms(), lease_ms).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!("lease lost; stopping");
                stop.cancel();
                return;
            }
            // Keep trying: if the lease really runs out, the fence stops every write anyway.
            Err(err) => tracing::warn!(error = %err, "renewing the lease failed"),
        }
    }
}

/// Retries an operation while the database is unavailable (a restart, a dropped connection),
/// for about seven seconds in all, so that a short outage does not cost the job its attempt.
/// Only for operations that are safe to repeat.
async fn retry_while_unavailable<T, F, Fut>(stop: &CancellationToken, mut op: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    let mut delay = Duration::from_millis(100);
    let mut tries = 0;
    loop {
        tries += 1;
        match op().await {
            Err(StoreError::Unavailable(err)) if tries < 8 && !stop.is_cancelled() => {
                tracing::warn!(error = %err, ?delay, "database unavailable; retrying");
                tokio::select! {
                    _ = stop.cancelled() => return Err(StoreError::Unavailable(err)),
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

/// Stores what the generator makes, fenced by the attempt number.
struct StoreSink {
    core: Arc<Core>,
    id: BlueprintId,
    attempt: Attempt,
    /// The position the next terminal objective takes; it makes a retried write idempotent.
    next_position: i64,
    stop: CancellationToken,
    /// The generator's notes for the teacher; they join the quality notes on completion.
    notes: Vec<String>,
}

impl StoreSink {
    fn fenced_off(&self) -> SinkError {
        self.stop.cancel();
        SinkError::Stopped
    }
}

#[async_trait]
impl ObjectiveSink for StoreSink {
    async fn set_summary(&mut self, title: &str, description: &str) -> Result<(), SinkError> {
        if self.stop.is_cancelled() {
            return Err(SinkError::Stopped);
        }
        let stored = retry_while_unavailable(&self.stop, || {
            self.core
                .set_blueprint_summary(self.id, self.attempt, title, description, now_ms())
        })
        .await;
        match stored {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(self.fenced_off()),
            Err(err) => Err(SinkError::Storage(err.to_string())),
        }
    }

    async fn add_note(&mut self, note: &str) -> Result<(), SinkError> {
        self.notes.push(note.to_string());
        Ok(())
    }

    async fn store_terminal(&mut self, draft: TerminalDraft) -> Result<(), SinkError> {
        if self.stop.is_cancelled() {
            return Err(SinkError::Stopped);
        }
        draft.objective.check().map_err(SinkError::Invalid)?;
        for enabling in &draft.enabling {
            enabling.check().map_err(SinkError::Invalid)?;
        }
        let position = self.next_position;
        let stored = retry_while_unavailable(&self.stop, || {
            self.core
                .append_terminal_objective(self.id, self.attempt, position, &draft, now_ms())
        })
        .await;
        match stored {
            Ok(Some(_)) => {
                self.next_position += 1;
                Ok(())
            }
            // Nothing written: either a retried write had already committed (the position is
            // stored and this attempt still holds the job), or this attempt is fenced off.
            Ok(None) => match self.core.store().get_blueprint_by_id(self.id).await {
                Ok(Some(current))
                    if Attempt(current.attempt) == self.attempt
                        && current.status == BlueprintStatus::Generating
                        && current.terminal_objectives_count >= position =>
                {
                    self.next_position = current.terminal_objectives_count + 1;
                    Ok(())
                }
                Ok(_) => Err(self.fenced_off()),
                Err(err) => Err(SinkError::Storage(err.to_string())),
            },
            Err(err) => Err(SinkError::Storage(err.to_string())),
        }
    }
}
