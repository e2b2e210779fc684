use clap::Parser;

use quizmaster::cli::{run, Cli, Command};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // `generate` prints the blueprint on stdout and a progress bar on stderr: keep logs quiet.
    let default_filter = match cli.command {
        Command::Generate(_)
        | Command::CopyData(_)
        | Command::Completions { .. }
        | Command::Man { .. } => "warn,sqlx=warn",
        _ => "info,sqlx=warn",
    };
    quizmaster::telemetry::init_logging(cli.log_format, default_filter);
    let code = run(cli).await;
    std::process::exit(code);
}
