//! `quizmaster generate`: one blueprint, in-process (on a temporary SQLite database unless
//! `--database` names one), with a progress bar on stderr when it is a terminal and the
//! blueprint on stdout.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::progress::Progress;
use clap::{Args, ValueEnum};
use serde_json::json;
use uuid::Uuid;

use crate::app::build_generator;
use crate::config::{DatabaseConfig, GeneratorConfig, JobConfig, Secret};
use crate::db::{self, CancelOutcome, GenerateOutcome, GenerationLimits, NewGeneration};
use crate::domain::blueprint::{BlueprintDocument, TARGET_MAX, TARGET_MIN};
use crate::domain::export::{self, ExportFormat};
use crate::domain::time::now_ms;
use crate::domain::{BlueprintStatus, TopicInput, LOCAL_USER_ID};
use crate::generator::Generator;
use crate::jobs::hub::StatusHub;
use crate::jobs::JobEngine;

pub const EXIT_OK: i32 = 0;
pub const EXIT_JOB_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
/// The server could not be reached, or answered something a QuizMaster server never would.
pub const EXIT_UNREACHABLE: i32 = 3;
pub const EXIT_INTERRUPTED: i32 = 130;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Markdown,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The topic's title.
    #[arg(long)]
    pub title: String,
    /// What the topic is about.
    #[arg(long)]
    pub description: Option<String>,
    /// A file of source material (lecture notes, a chapter); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub source: Option<PathBuf>,
    /// Terminal objectives to aim for.
    #[arg(long, default_value_t = 10)]
    pub target: i64,
    /// How to print the blueprint.
    #[arg(long, value_enum, default_value_t = OutputFormat::Markdown)]
    pub format: OutputFormat,
    /// Use this running server's API (e.g. http://127.0.0.1:8080) instead of generating
    /// in-process.
    #[arg(long)]
    pub server: Option<String>,
    /// With --server: the API token to send as `Authorization: Bearer ...` (create one at
    /// /account/tokens or with POST /api/auth/tokens). Not needed when the server runs with
    /// QUIZMASTER_AUTH=off, nor without --server. Never printed or logged.
    #[arg(long, env = "QUIZMASTER_TOKEN", hide_env_values = true)]
    pub token: Option<Secret>,
    /// In-process only: keep the topic and blueprint in this database (`sqlite://FILE`,
    /// `postgres://...`). Without it a temporary SQLite database is used and deleted
    /// afterwards. Deliberately not read from QUIZMASTER_DATABASE_URL, so that a shell set up
    /// for a server never writes into that server's database by accident.
    #[arg(long, value_name = "URL", conflicts_with = "server")]
    pub database: Option<String>,
    #[command(flatten)]
    pub jobs: JobConfig,
    #[command(flatten)]
    pub generator: GeneratorConfig,
}

fn usage_error(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    EXIT_USAGE
}

pub async fn generate(args: GenerateArgs) -> i32 {
    if !(TARGET_MIN..=TARGET_MAX).contains(&args.target) {
        return usage_error(format!(
            "--target must be from {TARGET_MIN} to {TARGET_MAX}"
        ));
    }
    let source_text = match &args.source {
        None => None,
        Some(path) if path.as_os_str() == "-" => {
            let mut text = String::new();
            match std::io::stdin().read_to_string(&mut text) {
                Ok(_) => Some(text),
                Err(err) => return usage_error(format!("cannot read standard input: {err}")),
            }
        }
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(err) => return usage_error(format!("cannot read {}: {err}", path.display())),
        },
    };
    let body =
        json!({"title": args.title, "description": args.description, "source_text": source_text});
    let input = match TopicInput::parse(&body) {
        Ok(input) => input,
        Err(errors) => {
            let reasons: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
            return usage_error(reasons.join("; "));
        }
    };
    if let Some(server) = &args.server {
        let format = match args.format {
            OutputFormat::Markdown => "markdown",
            OutputFormat::Json => "json",
            OutputFormat::Csv => "csv",
        };
        let token = args
            .token
            .as_ref()
            .map(|t| t.0.trim())
            .filter(|t| !t.is_empty());
        return super::client::generate_remote(server, token, &input, args.target, format).await;
    }
    // A missing or bad generator setting is bad usage, found before anything is stored.
    let generator = match build_generator(&args.generator) {
        Ok(generator) => generator,
        Err(err) => return usage_error(format!("{err:#}")),
    };
    // The temporary directory lives until this function returns, so it is removed before the
    // process exits (`main` calls `process::exit`, which runs no destructors).
    let (database_url, _temporary) = match &args.database {
        Some(url) => (url.clone(), None),
        None => match tempfile::Builder::new()
            .prefix("quizmaster-generate-")
            .tempdir()
        {
            Ok(dir) => (
                format!("sqlite://{}", dir.path().join("generate.db").display()),
                Some(dir),
            ),
            Err(err) => {
                eprintln!("error: cannot create a temporary database: {err}");
                return EXIT_JOB_FAILED;
            }
        },
    };
    match run(args, &database_url, input, generator).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            EXIT_JOB_FAILED
        }
    }
}

async fn run(
    args: GenerateArgs,
    database_url: &str,
    input: TopicInput,
    generator: Arc<dyn Generator>,
) -> anyhow::Result<i32> {
    let database = DatabaseConfig::new(database_url);
    let store = db::connect(&database.database_url, database.pool()).await?;
    store.migrate().await?;
    // In-process, on the local database: no account, the built-in local user owns the topic.
    let topic = store
        .create_topic(LOCAL_USER_ID, Uuid::now_v7(), &input, now_ms())
        .await?;
    let now = now_ms();
    let new = NewGeneration {
        blueprint_id: Uuid::now_v7(),
        topic_id: topic.id,
        owner_id: LOCAL_USER_ID,
        limits: GenerationLimits::default(),
        target_terminal_objectives: args.target,
        idempotency_key: None,
        now,
        idempotency_cutoff: now,
    };
    let GenerateOutcome::Created(mut blueprint) = store.create_generation(&new).await? else {
        anyhow::bail!("the generation could not be started");
    };
    let hub = StatusHub::new();
    let mut subscription = hub.subscribe(blueprint.id);
    let mut settings = args.jobs.settings();
    settings.workers = settings.workers.max(1);
    settings.shutdown_grace = Duration::ZERO;
    let engine = JobEngine::start(store.clone(), hub.clone(), generator, settings);

    let bar = Progress::new(args.target as u64);

    let mut interrupted = false;
    while !blueprint.status.is_terminal() {
        tokio::select! {
            newer = subscription.newer_than(blueprint.version) => {
                let Some(newer) = newer else { break };
                blueprint = (*newer).clone();
                bar.update(blueprint.status.as_str(), blueprint.terminal_objectives_count);
            }
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                if let CancelOutcome::Cancelled(cancelled) =
                    store.cancel_generation(topic.id, blueprint.id, now_ms()).await?
                {
                    hub.publish(&cancelled);
                }
            }
        }
    }
    bar.finish();
    engine.shutdown().await;

    match blueprint.status {
        BlueprintStatus::Completed => {
            let document = BlueprintDocument {
                status: blueprint.status_view(),
                terminal_objectives: store.get_objectives(blueprint.id).await?,
                quality: blueprint.quality.as_deref().cloned(),
            };
            let format = match args.format {
                OutputFormat::Markdown => ExportFormat::Markdown,
                OutputFormat::Json => ExportFormat::Json,
                OutputFormat::Csv => ExportFormat::Csv,
            };
            print!("{}", export::render(&document, format));
            Ok(EXIT_OK)
        }
        BlueprintStatus::Cancelled => {
            eprintln!("cancelled");
            Ok(EXIT_INTERRUPTED)
        }
        _ => {
            eprintln!(
                "error: generation failed ({}): {}",
                blueprint
                    .error_code
                    .map(|c| c.as_str())
                    .unwrap_or("unknown"),
                blueprint.error.as_deref().unwrap_or("no message")
            );
            Ok(EXIT_JOB_FAILED)
        }
    }
}
