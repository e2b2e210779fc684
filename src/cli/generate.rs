//! `quizmaster generate`: one blueprint, in-process (on a temporary SQLite database unless
//! `--database` names one), with a progress bar on stderr when it is a terminal and the
//! blueprint on stdout.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::progress::Progress;
use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::app::build_generator;
use crate::config::{DatabaseConfig, GeneratorConfig, JobConfig, Secret};
use crate::core::hub::StatusHub;
use crate::core::{Core, CoreError};
use crate::db::{self, GenerationLimits};
use crate::domain::blueprint::{BlueprintDocument, TARGET_MAX, TARGET_MIN};
use crate::domain::export::{self, ExportFormat};
use crate::domain::requests::{CreateTopicRequest, Field, GenerateRequest, RequestBody};
use crate::domain::{BlueprintId, BlueprintStatus, TopicId, TopicInput, UserId, LOCAL_USER_ID};
use crate::generator::Generator;
use crate::jobs::JobEngine;

pub use super::exit::{EXIT_INTERRUPTED, EXIT_JOB_FAILED, EXIT_OK, EXIT_USAGE};

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
    let target = GenerateRequest {
        target_terminal_objectives: Field::Given(args.target),
    };
    if target.into_domain().is_err() {
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
    let input = match CreateTopicRequest::from_text(
        &args.title,
        args.description.as_deref(),
        source_text.as_deref(),
    )
    .into_domain()
    {
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
    let interrupt = async {
        // Without a signal handler there is no interrupt to wait for.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await
        }
    };
    match run(args, &database_url, input, generator, interrupt).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            EXIT_JOB_FAILED
        }
    }
}

/// Generates in this process; `interrupt` (Ctrl-C) cancels the generation.
async fn run(
    args: GenerateArgs,
    database_url: &str,
    input: TopicInput,
    generator: Arc<dyn Generator>,
    interrupt: impl std::future::Future<Output = ()>,
) -> anyhow::Result<i32> {
    tokio::pin!(interrupt);
    let database = DatabaseConfig::new(database_url);
    let store = db::connect(&database.database_url, database.pool()).await?;
    store.migrate().await?;
    // The same rules and announcements as the API's: the generation and its end are counted
    // in this process's metrics; no limits apply to the local user.
    let hub = StatusHub::new();
    let core = Core::new(store.clone(), hub.clone(), GenerationLimits::default());
    // In-process, on the local database: no account, the built-in local user owns the topic.
    let topic = core.create_topic(UserId(LOCAL_USER_ID), &input).await?;
    let mut blueprint = core
        .start_generation(UserId(LOCAL_USER_ID), TopicId(topic.id), args.target)
        .await
        .context("the generation could not be started")?;
    let mut subscription = hub.subscribe(blueprint.id);
    let mut settings = args.jobs.settings();
    settings.workers = settings.workers.max(1);
    settings.shutdown_grace = Duration::ZERO;
    let engine = JobEngine::start(core.clone(), generator, settings);

    let bar = Progress::new(args.target as u64);

    let mut interrupted = false;
    while !blueprint.status.is_terminal() {
        tokio::select! {
            newer = subscription.newer_than(blueprint.version) => {
                let Some(newer) = newer else { break };
                blueprint = (*newer).clone();
                bar.update(blueprint.status.as_str(), blueprint.terminal_objectives_count);
            }
            _ = &mut interrupt, if !interrupted => {
                interrupted = true;
                match core
                    .cancel_generation(TopicId(topic.id), BlueprintId(blueprint.id))
                    .await
                {
                    // It ended first: the loop sees how.
                    Ok(_) | Err(CoreError::NotCancellable(_)) => {}
                    Err(err) => return Err(err.into()),
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
                terminal_objectives: store.get_objectives(BlueprintId(blueprint.id)).await?,
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::telemetry::{GENERATIONS_CANCELLED, GENERATIONS_COMPLETED, GENERATIONS_STARTED};

    /// A counter's value in the process's Prometheus text (0 before its first increment).
    fn counter(name: &str) -> f64 {
        crate::telemetry::prometheus()
            .render()
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    fn args(database_url: &str, title: &str, pace_ms: &str) -> GenerateArgs {
        let cli = Cli::try_parse_from([
            "quizmaster",
            "generate",
            "--title",
            title,
            "--target",
            "3",
            "--database",
            database_url,
            "--workers",
            "1",
            "--offline-pace-ms",
            pace_ms,
        ])
        .expect("valid arguments");
        match cli.command {
            Command::Generate(args) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    fn input(title: &str) -> TopicInput {
        CreateTopicRequest::from_text(title, None, None)
            .into_domain()
            .expect("a valid topic")
    }

    /// The in-process generations of `quizmaster generate` and their cancels go through the
    /// core like the API's, so the metrics count them the same way. One test, because the
    /// counters are the process's: two tests in parallel would count each other's runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_process_generations_and_cancels_are_counted_in_the_metrics() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("cli.db").display());
        crate::telemetry::prometheus();
        let started = counter(GENERATIONS_STARTED);
        let completed = counter(GENERATIONS_COMPLETED);
        let cancelled = counter(GENERATIONS_CANCELLED);

        let args_done = args(&url, "Photosynthesis", "0");
        let generator = build_generator(&args_done.generator).expect("offline generator");
        let code = run(
            args_done,
            &url,
            input("Photosynthesis"),
            generator,
            std::future::pending(),
        )
        .await
        .expect("generated");
        assert_eq!(code, EXIT_OK);
        assert_eq!(counter(GENERATIONS_STARTED), started + 1.0);
        assert_eq!(counter(GENERATIONS_COMPLETED), completed + 1.0);

        // A slow generation interrupted at once ends in `cancelled`, counted as such.
        let args_slow = args(&url, "Volcanoes", "60000");
        let generator = build_generator(&args_slow.generator).expect("offline generator");
        let code = run(args_slow, &url, input("Volcanoes"), generator, async {})
            .await
            .expect("cancelled cleanly");
        assert_eq!(code, EXIT_INTERRUPTED);
        assert_eq!(counter(GENERATIONS_STARTED), started + 2.0);
        assert_eq!(counter(GENERATIONS_CANCELLED), cancelled + 1.0);
        assert_eq!(counter(GENERATIONS_COMPLETED), completed + 1.0);
    }
}
