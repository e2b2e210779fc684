//! Every setting: a command-line flag and an environment variable, with a default that runs
//! with no setup at all.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::jobs::JobSettings;

#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "QUIZMASTER_DATABASE_URL",
        default_value = "sqlite://quizmaster.db"
    )]
    pub database_url: String,
    /// Most connections this process opens to PostgreSQL.
    #[arg(long, env = "QUIZMASTER_DB_MAX_CONNECTIONS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub db_max_connections: u32,
    /// How long a request waits for a database connection before it gets a 503.
    #[arg(long, env = "QUIZMASTER_DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub db_acquire_timeout_secs: u64,
}

impl DatabaseConfig {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            db_max_connections: 10,
            db_acquire_timeout_secs: 5,
        }
    }

    pub fn pool(&self) -> crate::db::PoolSettings {
        crate::db::PoolSettings {
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_secs(self.db_acquire_timeout_secs),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct JobConfig {
    /// Generations run at once in this process; 0 serves the API only.
    #[arg(long, env = "QUIZMASTER_WORKERS", default_value_t = 4)]
    pub workers: usize,
    /// A generation running longer than this ends in `error`/`timeout`.
    #[arg(long, env = "QUIZMASTER_GENERATION_TIMEOUT_SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub generation_timeout_secs: u64,
    /// A worker's lease; renewed while the work runs.
    #[arg(long, env = "QUIZMASTER_LEASE_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub lease_secs: u64,
    /// Attempts before a job whose workers keep dying ends in `error`/`worker_lost`.
    #[arg(long, env = "QUIZMASTER_MAX_ATTEMPTS", default_value_t = 3,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub max_attempts: i64,
    /// Seconds running jobs may go on after a shutdown signal before they are handed back.
    #[arg(long, env = "QUIZMASTER_SHUTDOWN_GRACE_SECS", default_value_t = 5)]
    pub shutdown_grace_secs: u64,
}

impl JobConfig {
    pub fn settings(&self) -> JobSettings {
        JobSettings {
            retention: Duration::from_secs(30 * 24 * 3600),
            workers: self.workers,
            lease: Duration::from_secs(self.lease_secs),
            generation_timeout: Duration::from_secs(self.generation_timeout_secs),
            max_attempts: self.max_attempts,
            // New jobs wake workers at once (in-process, or by NOTIFY); the idle poll only finds
            // leases that expired, so half a lease is soon enough.
            idle_poll: (Duration::from_secs(self.lease_secs) / 2)
                .clamp(Duration::from_millis(250), Duration::from_secs(5)),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GeneratorKind {
    /// Built in, no network.
    Offline,
    /// Any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM, llama.cpp).
    Openai,
}

/// A secret setting: shown as `***` in `Debug`, so logging a config never leaks it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

#[derive(Debug, Clone, Args)]
pub struct GeneratorConfig {
    /// Which generator fills blueprints.
    #[arg(long, env = "QUIZMASTER_GENERATOR", value_enum, default_value_t = GeneratorKind::Offline)]
    pub generator: GeneratorKind,
    /// Pause after each objective the offline generator stores (demos, tests of progress).
    #[arg(long, env = "QUIZMASTER_OFFLINE_PACE_MS", default_value_t = 0)]
    pub offline_pace_ms: u64,
    /// For `openai`: the server's base URL, like `http://127.0.0.1:11434/v1`; the call is
    /// `POST {base}/chat/completions`.
    #[arg(long, env = "QUIZMASTER_LLM_BASE_URL")]
    pub llm_base_url: Option<String>,
    /// For `openai`: the model name, like `gpt-4o-mini` or `llama3.1`.
    #[arg(long, env = "QUIZMASTER_LLM_MODEL")]
    pub llm_model: Option<String>,
    /// For `openai`: sent as `Authorization: Bearer ...` when set; never logged.
    #[arg(long, env = "QUIZMASTER_LLM_API_KEY", hide_env_values = true)]
    pub llm_api_key: Option<Secret>,
    /// For `openai`: the longest one call to the model may take. A model on a CPU writing
    /// 10 tokens/s needs about 45 s per terminal objective; raise this for those.
    #[arg(long, env = "QUIZMASTER_LLM_TIMEOUT_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub llm_timeout_secs: u64,
    /// For `openai`: calls to the model that store nothing new before a generation gives up
    /// (calls that store objectives do not count).
    #[arg(long, env = "QUIZMASTER_LLM_MAX_ATTEMPTS", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=10))]
    pub llm_max_attempts: u32,
}

impl Default for GeneratorConfig {
    /// The offline generator at full speed, the defaults of every `openai` setting.
    fn default() -> Self {
        Self {
            generator: GeneratorKind::Offline,
            offline_pace_ms: 0,
            llm_base_url: None,
            llm_model: None,
            llm_api_key: None,
            llm_timeout_secs: 300,
            llm_max_attempts: 4,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct OpsConfig {
    /// Job history (finished job rows) older than this many days is purged.
    /// Topics and blueprints are never purged.
    #[arg(long, env = "QUIZMASTER_RETENTION_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub retention_days: u64,
    /// Bearer token that `/metrics` requires from non-loopback clients (loopback needs none).
    #[arg(long, env = "QUIZMASTER_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    #[command(flatten)]
    pub connections: ConnectionConfig,
}

impl Default for OpsConfig {
    fn default() -> Self {
        Self {
            retention_days: 30,
            metrics_token: None,
            connections: ConnectionConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Accounts: every `/api/topics...` call needs a session or an API token.
    On,
    /// One built-in local user and no log-in: for a laptop, scripts and the in-process CLI.
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignupMode {
    /// Anyone who reaches the server can create an account.
    Open,
    /// `POST /api/auth/signup` answers `403 signup_closed` (once the accounts you want exist).
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Toggle {
    On,
    Off,
}

#[derive(Debug, Clone, Args)]
pub struct AccountsConfig {
    /// `on`: accounts and log-in; `off`: one built-in local user, no log-in.
    #[arg(long, env = "QUIZMASTER_AUTH", value_enum, default_value_t = AuthMode::On)]
    pub auth: AuthMode,
    /// Whether strangers may sign up (`open`) or not (`closed`).
    #[arg(long, env = "QUIZMASTER_SIGNUP", value_enum, default_value_t = SignupMode::Open)]
    pub signup: SignupMode,
    /// Generations one user may start per minute; 0 turns the limit off. Default 30 with
    /// accounts on, 0 with `QUIZMASTER_AUTH=off` (one local user: nobody to limit).
    #[arg(long, env = "QUIZMASTER_GENERATE_PER_MINUTE")]
    pub generate_per_minute: Option<u32>,
    /// Generations one user may have queued or running at once; 0 turns the limit off.
    /// Default 10 with accounts on, 0 with `QUIZMASTER_AUTH=off`.
    #[arg(long, env = "QUIZMASTER_MAX_ACTIVE_PER_USER")]
    pub max_active_per_user: Option<u32>,
    /// SSE streams and long polls one user may hold open at once (in this process).
    #[arg(long, env = "QUIZMASTER_MAX_STREAMS_PER_USER", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams_per_user: u32,
    /// SSE streams and long polls one client address may hold open at once (in this process);
    /// by default the same as the per-user cap.
    #[arg(long, env = "QUIZMASTER_MAX_STREAMS_PER_CLIENT",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams_per_client: Option<u32>,
    /// Accounts one client address may create per hour (loopback is exempt); 0 turns the limit
    /// off.
    #[arg(long, env = "QUIZMASTER_SIGNUPS_PER_HOUR", default_value_t = 20)]
    pub signups_per_hour: u32,
    /// Days a log-in session lasts.
    #[arg(long, env = "QUIZMASTER_SESSION_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=365))]
    pub session_days: u64,
    /// `on` behind a reverse proxy: log-in throttling counts the address in `X-Forwarded-For`
    /// (the last entry) instead of the proxy's. Leave `off` when clients connect directly, or
    /// they could claim any address.
    #[arg(long, env = "QUIZMASTER_TRUST_PROXY", value_enum, default_value_t = Toggle::Off)]
    pub trust_proxy: Toggle,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            auth: AuthMode::On,
            signup: SignupMode::Open,
            generate_per_minute: None,
            max_active_per_user: None,
            max_streams_per_user: 20,
            max_streams_per_client: None,
            signups_per_hour: 20,
            session_days: 30,
            trust_proxy: Toggle::Off,
        }
    }
}

impl AccountsConfig {
    /// Single-user local use with no limits: what tests of the job machinery run with.
    pub fn local_unlimited() -> Self {
        Self {
            auth: AuthMode::Off,
            generate_per_minute: Some(0),
            max_active_per_user: Some(0),
            ..Self::default()
        }
    }

    /// The per-user generation limits: as set, or the defaults of the auth mode. Without
    /// accounts there is one local user, and limiting it would only get in the way of its
    /// scripts, so both default to off there.
    pub fn generation_limits(&self) -> crate::db::GenerationLimits {
        let (per_minute, max_active) = match self.auth {
            AuthMode::On => (30, 10),
            AuthMode::Off => (0, 0),
        };
        crate::db::GenerationLimits {
            per_minute: self.generate_per_minute.unwrap_or(per_minute),
            max_active: self.max_active_per_user.unwrap_or(max_active),
        }
    }

    /// The caps on SSE streams and long polls: per user, and per client address.
    pub fn stream_caps(&self) -> (u32, u32) {
        (
            self.max_streams_per_user,
            self.max_streams_per_client
                .unwrap_or(self.max_streams_per_user),
        )
    }
}

/// How connections are accepted and kept (see `crate::http::server`).
#[derive(Debug, Clone, Args)]
pub struct ConnectionConfig {
    /// A client that has not sent a whole request head this many seconds after connecting (or
    /// after its previous response, on a kept-alive connection) is dropped.
    #[arg(long, env = "QUIZMASTER_HEADER_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,
    /// A response the client does not read from for this many seconds is abandoned; also the
    /// longest pause allowed inside a request body.
    #[arg(long, env = "QUIZMASTER_IDLE_TIMEOUT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout_secs: u64,
    /// Connections open at once, in total (lowered to fit the open-files limit).
    #[arg(long, env = "QUIZMASTER_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Connections open at once from one client address (IPv6: one /64); 0 = no cap of its
    /// own. Not applied with `QUIZMASTER_TRUST_PROXY=on`, where every connection comes from
    /// the proxy.
    #[arg(
        long,
        env = "QUIZMASTER_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 256
    )]
    pub max_connections_per_client: u64,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            header_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 4096,
            max_connections_per_client: 256,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Listen address; port 0 picks a free one (the log says which).
    #[arg(long, env = "QUIZMASTER_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseConfig,
    #[command(flatten)]
    pub jobs: JobConfig,
    #[command(flatten)]
    pub generator: GeneratorConfig,
    #[command(flatten)]
    pub ops: OpsConfig,
    #[command(flatten)]
    pub accounts: AccountsConfig,
}
