//! Jobs: how a generation runs durably. Workers claim jobs with a conditional update, hold a
//! lease renewed by a heartbeat, write only while their attempt number still matches (fencing),
//! and hand jobs back on shutdown. A watchdog ends generations that ran out of time or whose
//! workers were lost too often. Every change is published on the [`hub::StatusHub`].

mod feed;
/// The status hub lives with the core, which publishes every change on it.
pub use crate::core::hub;
mod retention;
mod watchdog;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::core::Core;
use crate::db::Store;
use crate::generator::Generator;
use hub::StatusHub;

/// How jobs run in this process.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub workers: usize,
    pub lease: Duration,
    pub generation_timeout: Duration,
    pub max_attempts: i64,
    /// How often an idle worker looks for work it was not woken for (expired leases, jobs
    /// enqueued by another process).
    pub idle_poll: Duration,
    /// How long running jobs may go on after shutdown begins before their leases are handed back.
    pub shutdown_grace: Duration,
    /// Job history older than this is purged.
    pub retention: Duration,
}

impl JobSettings {
    fn lease_ms(&self) -> i64 {
        self.lease.as_millis() as i64
    }

    fn timeout_ms(&self) -> i64 {
        self.generation_timeout.as_millis() as i64
    }
}

/// The workers and the watchdog of this process.
pub struct JobEngine {
    /// Every job transition goes through the core, which announces it.
    core: Arc<Core>,
    /// For reads only.
    store: Arc<dyn Store>,
    hub: Arc<StatusHub>,
    generator: Arc<dyn Generator>,
    settings: JobSettings,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    instance: String,
}

impl JobEngine {
    /// Starts `settings.workers` workers and the watchdog.
    pub fn start(
        core: Arc<Core>,
        generator: Arc<dyn Generator>,
        settings: JobSettings,
    ) -> Arc<Self> {
        let instance = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let engine = Arc::new(Self {
            store: core.store().clone(),
            hub: core.hub().clone(),
            core,
            generator,
            settings,
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            instance,
        });
        for n in 0..engine.settings.workers {
            let worker = engine.clone();
            engine
                .tracker
                .spawn(async move { worker.worker_loop(n).await });
        }
        let watchdog = engine.clone();
        engine
            .tracker
            .spawn(async move { watchdog.watchdog_loop().await });
        let feed = engine.clone();
        engine.tracker.spawn(async move { feed.feed_loop().await });
        let retention = engine.clone();
        engine
            .tracker
            .spawn(async move { retention.retention_loop().await });
        engine
    }

    /// Stops claiming, lets running jobs go on for the grace period, then hands their leases
    /// back so that the next process to start picks them up at once.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }

    pub fn generator_name(&self) -> &'static str {
        self.generator.name()
    }
}
