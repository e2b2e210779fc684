//! The state every request handler sees.

use std::sync::Arc;

use crate::core::hub::StatusHub;
use crate::core::Core;
use crate::db::Store;
use crate::jobs::JobEngine;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The rules: every change a request makes goes through it.
    pub core: Arc<Core>,
    /// For reads.
    pub store: Arc<dyn Store>,
    pub hub: Arc<StatusHub>,
    pub jobs: Arc<JobEngine>,
    /// Ends SSE streams and long polls when the server shuts down.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// What `/metrics` requires from clients that are not on loopback.
    pub metrics_token: Option<Arc<str>>,
    /// Accounts settings, log-in throttling and the topic-owner cache.
    pub auth: Arc<crate::http::auth::AuthState>,
}
