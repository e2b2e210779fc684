use clap::Parser;
use tracing_subscriber::EnvFilter;

use quizmaster::cli::{run, Cli, Command};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // `generate` prints the blueprint on stdout and a progress bar on stderr: keep logs quiet.
    let default_filter = match cli.command {
        Command::Generate(_) => "warn,sqlx=warn",
        _ => "info,sqlx=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let code = run(cli).await;
    std::process::exit(code);
}
