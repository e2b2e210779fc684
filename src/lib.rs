//! QuizMaster: turns a topic into a quiz blueprint. Generating one is a long-running job, and
//! how it runs (durable, single per topic, cancellable, bounded in time, never stuck) is half of
//! the product.
//!
//! - [`domain`]: topics, blueprints, objectives, the status machine (pure).
//! - [`core`]: every rule once (admission, cancel, delete, job transitions), announcing what
//!   it commits (hub, metrics, worker wake-ups); the API, the web UI and the CLI call it.
//! - [`db`]: the storage interface and its backends (all SQL).
//! - [`jobs`]: claiming, leases, heartbeats, fencing, the watchdog, the status hub.
//! - [`generator`]: the `Generator` trait and its implementations.
//! - [`http`]: the router, API handlers, SSE, the JSON errors, and the web UI (`http::ui`).
//! - [`cli`]: the command line.

pub mod accounts;
pub mod app;
pub mod cli;
pub mod config;
pub mod core;
pub mod db;
pub mod domain;
pub mod generator;
pub mod http;
pub mod jobs;
pub mod telemetry;

/// The package version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision the binary was built from (`unknown` outside a git checkout); see `build.rs`.
pub const GIT_REVISION: &str = env!("QUIZMASTER_GIT_REVISION");
/// What `quizmaster --version` prints after the name: `0.1.0 (3f2a9c1d0e)`.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("QUIZMASTER_GIT_REVISION"),
    ")"
);
