//! The progress bar of `quizmaster generate`: on stderr, and only when stderr is a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress(ProgressBar);

impl Progress {
    pub fn new(target: u64) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(target);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg:12} [{bar:30}] {pos}/{len} objectives {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message("queued");
        Self(bar)
    }

    pub fn update(&self, status: &str, terminal_objectives: i64) {
        self.0.set_position(terminal_objectives.max(0) as u64);
        self.0.set_message(status.to_string());
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}
