//! Wiring: the shared state every handler sees, and how a process is put together.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{GeneratorConfig, GeneratorKind};
use crate::db::Store;
use crate::generator::offline::OfflineGenerator;
use crate::generator::Generator;
use crate::jobs::hub::StatusHub;
use crate::jobs::JobEngine;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub hub: Arc<StatusHub>,
    pub jobs: Arc<JobEngine>,
    /// Ends SSE streams and long polls when the server shuts down.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// What `/metrics` requires from clients that are not on loopback.
    pub metrics_token: Option<Arc<str>>,
}

/// Builds the configured generator.
pub fn build_generator(config: &GeneratorConfig) -> Arc<dyn Generator> {
    match config.generator {
        GeneratorKind::Offline => Arc::new(OfflineGenerator {
            pace: Duration::from_millis(config.offline_pace_ms),
        }),
    }
}
