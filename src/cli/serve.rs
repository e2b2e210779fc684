//! `serve`, `worker` and `migrate`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::app::build_generator;
use crate::config::ConnectionConfig;
use crate::config::{DatabaseConfig, GeneratorConfig, JobConfig, OpsConfig, ServeConfig};
use crate::core::hub::StatusHub;
use crate::core::Core;
use crate::db::{self, redact_url, GenerationLimits};
use crate::http::server::{
    effective_max_connections, raise_open_files_limit, ConnectionGate, ConnectionPolicy,
};
use crate::http::AppState;
use crate::jobs::JobEngine;

/// The accept loop's rules from the settings, after raising the open-files limit so that the
/// total cap fits under it. Behind a trusted proxy every connection comes from the proxy, so
/// the per-client cap would only cap the proxy: the proxy limits its clients instead.
fn connection_policy(config: &ConnectionConfig, trust_proxy: bool) -> ConnectionPolicy {
    let open_files = raise_open_files_limit();
    let configured = usize::try_from(config.max_connections).unwrap_or(usize::MAX);
    let max_connections = effective_max_connections(configured, open_files);
    if max_connections < configured {
        tracing::warn!(
            configured,
            open_files = open_files.unwrap_or(0),
            max_connections,
            "the open-files limit is lower than QUIZMASTER_MAX_CONNECTIONS needs; capping connections lower"
        );
    }
    ConnectionPolicy {
        header_timeout: Duration::from_secs(config.header_timeout_secs),
        idle_timeout: Duration::from_secs(config.idle_timeout_secs),
        max_connections,
        max_per_client: if trust_proxy {
            0
        } else {
            usize::try_from(config.max_connections_per_client).unwrap_or(usize::MAX)
        },
    }
}

pub async fn migrate(database: DatabaseConfig) -> anyhow::Result<()> {
    let store = db::connect(&database.database_url, database.pool()).await?;
    store.migrate().await?;
    tracing::info!(database = %redact_url(&database.database_url), "schema is up to date");
    Ok(())
}

/// A running `serve`: the HTTP server, its workers and its watchdog.
pub struct Server {
    pub address: SocketAddr,
    pub state: AppState,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Connects, migrates, starts the workers and listens. Returns once it accepts requests.
    pub async fn start(config: ServeConfig) -> anyhow::Result<Self> {
        let store = db::connect(&config.database.database_url, config.database.pool()).await?;
        store.migrate().await?;
        // With the embedded database this process makes every change, so status polls can be
        // answered from the hub's view cache; with a shared database the cache is kept exact by
        // the database's change feed, and trusted only while the feed is connected.
        let hub = if config.database.database_url.starts_with("sqlite:") {
            StatusHub::with_view_cache()
        } else {
            StatusHub::with_fed_view_cache()
        };
        let generator = build_generator(&config.generator)?;
        crate::telemetry::prometheus();
        let mut settings = config.jobs.settings();
        settings.retention = Duration::from_secs(config.ops.retention_days * 24 * 3600);
        let auth = Arc::new(crate::http::auth::AuthState::new(&config.accounts));
        let core = Core::new(store.clone(), hub.clone(), auth.limits);
        let jobs = JobEngine::start(core.clone(), generator, settings);
        let state = AppState {
            core,
            store,
            hub,
            jobs: jobs.clone(),
            shutdown: CancellationToken::new(),
            metrics_token: config.ops.metrics_token.as_deref().map(Arc::from),
            auth,
        };
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .with_context(|| {
                format!(
                    "Failed to listen on {}; is another server using it?",
                    config.bind
                )
            })?;
        let address = listener.local_addr()?;
        tracing::info!(
            address = %format!("http://{address}"),
            database = %redact_url(&config.database.database_url),
            generator = jobs.generator_name(),
            workers = config.jobs.workers,
            auth = if state.auth.enabled() { "on" } else { "off" },
            "QuizMaster listening on http://{address}"
        );
        let gate = ConnectionGate::new(connection_policy(
            &config.ops.connections,
            state.auth.trust_proxy,
        ));
        let app = crate::http::router(state.clone());
        let http = tokio::spawn(crate::http::server::serve(
            listener,
            app,
            gate,
            state.shutdown.clone(),
        ));
        Ok(Self {
            address,
            state,
            http,
        })
    }

    /// Stops accepting requests, ends SSE streams and long polls, lets running jobs finish
    /// within the grace period and hands the rest back.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.state.shutdown.cancel();
        let served = self.http.await;
        self.state.jobs.shutdown().await;
        served
            .context("the HTTP server task failed")?
            .context("the HTTP server failed")?;
        Ok(())
    }
}

pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let server = Server::start(config).await?;
    crate::cli::shutdown_signal().await;
    tracing::info!("shutting down: no new jobs; running ones get a grace period");
    server.stop().await?;
    tracing::info!("stopped");
    Ok(())
}

pub async fn worker(
    health_bind: Option<SocketAddr>,
    database: DatabaseConfig,
    jobs: JobConfig,
    generator: GeneratorConfig,
    ops: OpsConfig,
) -> anyhow::Result<()> {
    let store = db::connect(&database.database_url, database.pool()).await?;
    store.migrate().await?;
    crate::telemetry::prometheus();
    let mut settings = jobs.settings();
    settings.retention = Duration::from_secs(ops.retention_days * 24 * 3600);
    // A worker starts no generations, so no limits apply to it.
    let core = Core::new(store.clone(), StatusHub::new(), GenerationLimits::default());
    let engine: Arc<JobEngine> = JobEngine::start(core, build_generator(&generator)?, settings);
    let shutdown = CancellationToken::new();
    let health = match health_bind {
        Some(bind) => {
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("Failed to listen on {bind} for health checks"))?;
            let address = listener.local_addr()?;
            tracing::info!("health checks on http://{address}/healthz and /readyz");
            let app =
                crate::http::health_router(store, ops.metrics_token.as_deref().map(Arc::from));
            let gate = ConnectionGate::new(connection_policy(&ops.connections, false));
            Some(tokio::spawn(crate::http::server::serve(
                listener,
                app,
                gate,
                shutdown.clone(),
            )))
        }
        None => None,
    };
    tracing::info!(
        database = %redact_url(&database.database_url),
        generator = engine.generator_name(),
        workers = jobs.workers,
        "QuizMaster worker started"
    );
    crate::cli::shutdown_signal().await;
    tracing::info!("shutting down: no new jobs; running ones get a grace period");
    shutdown.cancel();
    engine.shutdown().await;
    if let Some(health) = health {
        let _ = health.await;
    }
    Ok(())
}
