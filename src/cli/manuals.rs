//! `quizmaster completions SHELL` and `quizmaster man`: generated from the clap definitions, so
//! they always match the binary they come with. Packagers run the built binary to produce them
//! (see packaging/build-deb.sh); nothing is generated at build time, which keeps `cargo build`
//! free of files written outside `target/`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::{CommandFactory, ValueEnum};

use super::Cli;

/// The shells `quizmaster completions` writes scripts for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

pub fn completions(shell: CompletionShell) -> anyhow::Result<()> {
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, "quizmaster", &mut out);
    out.flush().context("Failed to write the completion script")
}

pub fn man(out_dir: Option<&Path>) -> anyhow::Result<()> {
    let command = Cli::command();
    match out_dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command)
                .render(&mut out)
                .context("Failed to write the manual page")?;
            out.flush().context("Failed to write the manual page")
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("Failed to create {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("Failed to write manual pages into {}", dir.display()))
        }
    }
}
