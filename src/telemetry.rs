//! Logs and metrics. Metric names are constants here so that the code that counts and the
//! documentation agree; the Prometheus recorder is process-wide, installed once.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

pub const HTTP_REQUESTS: &str = "quizmaster_http_requests_total";
pub const HTTP_DURATION: &str = "quizmaster_http_request_duration_seconds";
pub const GENERATIONS_STARTED: &str = "quizmaster_generations_started_total";
pub const GENERATIONS_COMPLETED: &str = "quizmaster_generations_completed_total";
pub const GENERATIONS_FAILED: &str = "quizmaster_generations_failed_total";
pub const GENERATIONS_CANCELLED: &str = "quizmaster_generations_cancelled_total";
pub const JOB_CLAIMS: &str = "quizmaster_job_claims_total";
pub const JOB_RESCUES: &str = "quizmaster_job_rescues_total";
pub const JOB_ATTEMPTS: &str = "quizmaster_job_attempts";
pub const JOBS_RUNNING: &str = "quizmaster_jobs_running";
pub const QUEUE_DEPTH: &str = "quizmaster_queue_depth";
pub const QUEUE_OLDEST_AGE: &str = "quizmaster_queue_oldest_age_seconds";
pub const SSE_STREAMS_OPEN: &str = "quizmaster_sse_streams_open";
pub const LONG_POLLS_OPEN: &str = "quizmaster_long_polls_open";
pub const GENERATOR_DURATION: &str = "quizmaster_generator_call_duration_seconds";
pub const GENERATOR_ERRORS: &str = "quizmaster_generator_errors_total";
pub const HISTORY_PURGED: &str = "quizmaster_history_purged_total";
pub const LLM_RESPONSE_FORMAT: &str = "quizmaster_llm_response_format";
pub const LLM_OBJECTIVES_DROPPED: &str = "quizmaster_llm_objectives_dropped_total";
pub const LLM_OBJECTIVES_REPAIRED: &str = "quizmaster_llm_objectives_repaired_total";
pub const LOGINS: &str = "quizmaster_logins_total";
pub const GENERATIONS_REFUSED: &str = "quizmaster_generations_refused_total";
pub const CONNECTIONS_OPEN: &str = "quizmaster_connections_open";
pub const CONNECTIONS_REFUSED: &str = "quizmaster_connections_refused_total";
pub const STREAMS_REFUSED: &str = "quizmaster_streams_refused_total";
pub const BUILD_INFO: &str = "quizmaster_build_info";
pub const CHANGE_FEED_CONNECTED: &str = "quizmaster_change_feed_connected";
pub const STATUS_POLLS: &str = "quizmaster_status_polls_total";

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logs go to stderr; `RUST_LOG` overrides the default filter.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}

/// The process-wide Prometheus recorder (installed on first use).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("duration_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0, 60.0, 300.0,
                ],
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(JOB_ATTEMPTS.into()),
                    &[1.0, 2.0, 3.0, 4.0, 5.0, 10.0],
                )
            });
        let recorder = match builder {
            Ok(builder) => builder.build_recorder(),
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        // Another recorder may already be installed (tests embedding the library); then this
        // handle simply renders nothing of what others record.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        metrics::gauge!(BUILD_INFO, "version" => crate::VERSION, "revision" => crate::GIT_REVISION)
            .set(1.0);
        // Histograms are drained into their buckets by upkeep; a plain thread keeps doing it
        // whatever runtime (or none) the process has.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                upkeep.run_upkeep();
            });
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by method, matched route and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency by method and matched route"
    );
    describe_counter!(
        GENERATIONS_STARTED,
        "Generations accepted (202, not replays)"
    );
    describe_counter!(GENERATIONS_COMPLETED, "Generations that ended in completed");
    describe_counter!(
        GENERATIONS_FAILED,
        "Generations that ended in error, by error_code"
    );
    describe_counter!(GENERATIONS_CANCELLED, "Generations that ended in cancelled");
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the labels say which version and git revision this process runs"
    );
    describe_gauge!(CONNECTIONS_OPEN, "HTTP connections open now");
    describe_counter!(
        CONNECTIONS_REFUSED,
        "Connections turned away by cap: total, per_client"
    );
    describe_counter!(
        STREAMS_REFUSED,
        "SSE streams and long polls refused by cap: per_user, per_client"
    );
    describe_counter!(
        LOGINS,
        "Log-in attempts by outcome: success, invalid_credentials, throttled"
    );
    describe_counter!(
        GENERATIONS_REFUSED,
        "Generate calls refused by a per-user limit: rate_limited, too_many_active_generations"
    );
    describe_counter!(
        JOB_CLAIMS,
        "Jobs claimed by a worker of this process (every attempt)"
    );
    describe_counter!(
        JOB_RESCUES,
        "Claims that took over the expired lease of a lost worker"
    );
    describe_histogram!(
        JOB_ATTEMPTS,
        "Attempts a generation took, observed when it completes"
    );
    describe_gauge!(JOBS_RUNNING, "Generations running in this process now");
    describe_gauge!(
        QUEUE_DEPTH,
        "Generations waiting for a worker (all processes)"
    );
    describe_gauge!(
        QUEUE_OLDEST_AGE,
        Unit::Seconds,
        "Age of the oldest queued generation"
    );
    describe_gauge!(SSE_STREAMS_OPEN, "Open SSE event streams in this process");
    describe_gauge!(LONG_POLLS_OPEN, "Long polls waiting in this process");
    describe_gauge!(
        CHANGE_FEED_CONNECTED,
        "1 while this process hears the shared database's changes (its status cache is trusted), else 0"
    );
    describe_counter!(
        STATUS_POLLS,
        "Status polls by where the state came from (source = cache or database)"
    );
    describe_histogram!(
        GENERATOR_DURATION,
        Unit::Seconds,
        "Time a generator call took, by generator"
    );
    describe_counter!(
        GENERATOR_ERRORS,
        "Generator calls that failed, by generator"
    );
    describe_counter!(HISTORY_PURGED, "Job history rows removed by retention");
    describe_gauge!(
        LLM_RESPONSE_FORMAT,
        "The response_format the openai generator uses with each model server (1 = in use)"
    );
    describe_counter!(
        LLM_OBJECTIVES_DROPPED,
        "Terminal objectives from a model left out for breaking a rule, by rule"
    );
    describe_counter!(
        LLM_OBJECTIVES_REPAIRED,
        "Local repairs made to objectives from a model, by repair"
    );
}

/// Counts one terminal transition this process made.
pub fn count_ended(blueprint: &crate::domain::blueprint::Blueprint) {
    use crate::domain::BlueprintStatus;
    match blueprint.status {
        BlueprintStatus::Completed => {
            metrics::counter!(GENERATIONS_COMPLETED).increment(1);
            metrics::histogram!(JOB_ATTEMPTS).record(blueprint.attempt.max(1) as f64);
        }
        BlueprintStatus::Error => {
            let code = blueprint
                .error_code
                .map(|c| c.as_str())
                .unwrap_or("unknown");
            metrics::counter!(GENERATIONS_FAILED, "error_code" => code).increment(1);
        }
        BlueprintStatus::Cancelled => metrics::counter!(GENERATIONS_CANCELLED).increment(1),
        BlueprintStatus::Queued | BlueprintStatus::Generating => {}
    }
}

/// Raises a gauge while alive (an open stream, a waiting long poll, a running job).
pub struct GaugeGuard(&'static str);

impl GaugeGuard {
    pub fn new(name: &'static str) -> Self {
        metrics::gauge!(name).increment(1.0);
        Self(name)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}
