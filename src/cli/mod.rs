//! The command line: `serve`, `worker`, `migrate`, `generate`, `copy-data`, and for packagers
//! `completions` and `man`.

mod client;
pub mod copy_data;
mod exit;
mod generate;
mod manuals;
mod progress;
pub mod serve;

use clap::{Parser, Subcommand};

use crate::config::{DatabaseConfig, GeneratorConfig, JobConfig, OpsConfig, ServeConfig};

#[derive(Debug, Parser)]
#[command(
    name = "quizmaster",
    version = crate::VERSION_LINE,
    about = "Turn a topic into a quiz blueprint"
)]
pub struct Cli {
    /// `pretty` lines or one JSON object per line.
    #[arg(long, global = true, env = "QUIZMASTER_LOG_FORMAT", value_enum,
          default_value_t = crate::telemetry::LogFormat::Pretty)]
    pub log_format: crate::telemetry::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// API, web UI and workers in one process.
    Serve(ServeConfig),
    /// Workers only, against a shared database.
    Worker {
        /// Optional address for `/healthz` and `/readyz` (e.g. 127.0.0.1:9090); none by default.
        #[arg(long, env = "QUIZMASTER_HEALTH_BIND")]
        health_bind: Option<std::net::SocketAddr>,
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(flatten)]
        jobs: JobConfig,
        #[command(flatten)]
        generator: GeneratorConfig,
        #[command(flatten)]
        ops: OpsConfig,
    },
    /// Bring the database schema up to date and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Generate one blueprint and print it to stdout.
    Generate(generate::GenerateArgs),
    /// Copy users, sessions, tokens, topics, blueprints, objectives and job history from one
    /// database to another (SQLite <-> PostgreSQL); queued and running generations are queued
    /// again on the target.
    CopyData(copy_data::CopyDataArgs),
    /// Print a shell completion script (e.g. `quizmaster completions bash >
    /// /usr/share/bash-completion/completions/quizmaster`).
    Completions {
        #[arg(value_enum)]
        shell: manuals::CompletionShell,
    },
    /// Print the manual page quizmaster(1) in roff; with --out-dir, write it and one page per
    /// subcommand (quizmaster-serve.1, ...) into that directory.
    Man {
        #[arg(long, value_name = "DIR")]
        out_dir: Option<std::path::PathBuf>,
    },
}

/// Runs a command; the returned number is the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Serve(config) => serve::serve(config).await,
        Command::Worker {
            health_bind,
            database,
            jobs,
            generator,
            ops,
        } => serve::worker(health_bind, database, jobs, generator, ops).await,
        Command::Migrate { database } => serve::migrate(database).await,
        Command::Generate(args) => return generate::generate(args).await,
        Command::CopyData(args) => return copy_data::copy_data(args).await,
        Command::Completions { shell } => manuals::completions(shell),
        Command::Man { out_dir } => manuals::man(out_dir.as_deref()),
    };
    match result {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("error: {err:#}");
            1
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
