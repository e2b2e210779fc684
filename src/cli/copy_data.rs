//! `quizmaster copy-data --from URL --to URL [--force]`: moves everything worth keeping from one
//! database to another (SQLite ↔ PostgreSQL), with a progress bar on stderr when it is a
//! terminal.
//!
//! - Copied: users, sessions, API tokens, topics, blueprints, their objectives, and the job rows
//!   (finished job history, and the jobs still to run). Not copied: idempotency records (of the
//!   API's keys and the web form's), the generation-start log and throttling events, which only matter for minutes to a day.
//! - Resumable: every table is read in batches ordered by its primary key and written with
//!   "insert unless already there", so running the same command again (with `--force`, the
//!   target is no longer empty) continues an interrupted copy and never duplicates a row.
//! - Active generations are queued again on the target: status `queued`, the lease and the
//!   worker cleared, so the target's workers pick them up and resume after the objectives
//!   already stored. Stop the servers on the source first, or a generation may go on there.
//! - At the end the row counts of every table are compared: equal when the target started
//!   empty, at least the source's when `--force` copied into a database that had rows.

use std::io::IsTerminal;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::generate::{EXIT_JOB_FAILED, EXIT_OK, EXIT_USAGE};
use crate::config::DatabaseConfig;
use crate::db::copy::{Cell, CopyDatabase, Kind, Row, Table};
use crate::db::{self, redact_url};
use crate::domain::BlueprintStatus;

#[derive(Debug, Args)]
pub struct CopyDataArgs {
    /// The database to copy from (`sqlite://FILE` or `postgres://...`); it is only read (and
    /// its schema brought up to date).
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The database to copy into; created (SQLite) and migrated if needed. Must be empty
    /// unless --force.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Copy into a target that already holds rows: rows already there are kept, the rest are
    /// added. This is also how an interrupted copy is continued.
    #[arg(long)]
    pub force: bool,
    /// Rows per batch (one transaction each).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(i64).range(1..=2000))]
    pub batch_size: i64,
}

use Kind::{Bool, Int, Text, Uuid};

/// The tables copied, parents before children (foreign keys hold after every batch).
pub const TABLES: &[Table] = &[
    Table {
        name: "users",
        columns: &[
            ("id", Uuid),
            ("email", Text),
            ("password_hash", Text),
            ("is_admin", Bool),
            ("created_at", Int),
        ],
    },
    Table {
        name: "sessions",
        columns: &[
            ("token_hash", Text),
            ("id", Uuid),
            ("user_id", Uuid),
            ("created_at", Int),
            ("expires_at", Int),
            ("last_seen_at", Int),
            ("client", Text),
        ],
    },
    Table {
        name: "api_tokens",
        columns: &[
            ("id", Uuid),
            ("user_id", Uuid),
            ("name", Text),
            ("token_hash", Text),
            ("created_at", Int),
            ("last_used_at", Int),
            ("expires_at", Int),
        ],
    },
    Table {
        name: "topics",
        columns: &[
            ("id", Uuid),
            ("owner_id", Uuid),
            ("title", Text),
            ("description", Text),
            ("source_text", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    },
    Table {
        name: "blueprints",
        columns: &[
            ("id", Uuid),
            ("topic_id", Uuid),
            ("status", Text),
            ("title", Text),
            ("description", Text),
            ("terminal_objectives_count", Int),
            ("enabling_objectives_count", Int),
            ("target_terminal_objectives", Int),
            ("error", Text),
            ("error_code", Text),
            ("attempt", Int),
            ("created_at", Int),
            ("generation_started_at", Int),
            ("finished_at", Int),
            ("version", Int),
            ("updated_at", Int),
            ("quality_score", Int),
            ("quality_json", Text),
        ],
    },
    Table {
        name: "terminal_objectives",
        columns: &[
            ("id", Uuid),
            ("blueprint_id", Uuid),
            ("position", Int),
            ("text", Text),
            ("bloom_level", Text),
            ("verb", Text),
            ("condition", Text),
            ("criterion", Text),
            ("evidence", Text),
        ],
    },
    Table {
        name: "enabling_objectives",
        columns: &[
            ("id", Uuid),
            ("terminal_objective_id", Uuid),
            ("blueprint_id", Uuid),
            ("position", Int),
            ("text", Text),
            ("bloom_level", Text),
            ("verb", Text),
            ("condition", Text),
            ("criterion", Text),
            ("evidence", Text),
        ],
    },
    Table {
        name: "generation_jobs",
        columns: &[
            ("blueprint_id", Uuid),
            ("worker_id", Text),
            ("lease_expires_at", Int),
            ("heartbeat_at", Int),
            ("enqueued_at", Int),
            ("finished_at", Int),
        ],
    },
];

/// Tables of the schema that are deliberately left behind (short-lived records).
pub const NOT_COPIED: &[&str] = &[
    "generation_starts",
    "idempotency_requests",
    "throttle_events",
];

/// An active generation is queued again on the target, its lease and worker cleared: the
/// process that ran it is not connected to the target, and its lease means nothing there.
/// Returns whether the row was changed.
fn requeue_if_active(table: &Table, row: &mut Row) -> bool {
    match table.name {
        "blueprints" => {
            let status = &mut row[table.column("status")];
            let active = matches!(status, Cell::Text(s)
                if BlueprintStatus::parse(s).is_some_and(|s| BlueprintStatus::ACTIVE.contains(&s)));
            if active {
                *status = Cell::Text(BlueprintStatus::Queued.as_str().into());
            }
            active
        }
        "generation_jobs" => {
            let active = row[table.column("finished_at")] == Cell::Null;
            if active {
                for column in ["worker_id", "lease_expires_at", "heartbeat_at"] {
                    row[table.column(column)] = Cell::Null;
                }
            }
            active
        }
        _ => false,
    }
}

fn usage_error(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    EXIT_USAGE
}

pub async fn copy_data(args: CopyDataArgs) -> i32 {
    if args.from.trim_end_matches('/') == args.to.trim_end_matches('/') {
        return usage_error("--from and --to name the same database");
    }
    for url in [&args.from, &args.to] {
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return usage_error(format!(
                "{} is not a database URL (sqlite://FILE or postgres://USER@HOST/DB)",
                redact_url(url)
            ));
        }
    }
    // A SQLite source that does not exist would be created empty: refuse instead.
    if let Some(path) = sqlite_path(&args.from) {
        if !std::path::Path::new(&path).exists() {
            return usage_error(format!("there is no SQLite database at {path}"));
        }
    }
    match run(&args).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            EXIT_JOB_FAILED
        }
    }
}

/// The file of a `sqlite://FILE[?options]` URL.
fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

/// Connects with the store (which migrates the schema), then opens the copier's own pool.
async fn open(url: &str, role: &str) -> anyhow::Result<CopyDatabase> {
    use anyhow::Context;
    let store = db::connect(url, DatabaseConfig::new(url).pool())
        .await
        .with_context(|| format!("Failed to open the {role} database {}", redact_url(url)))?;
    store
        .migrate()
        .await
        .with_context(|| format!("Failed to bring the {role} database's schema up to date"))?;
    drop(store);
    CopyDatabase::open(url).await
}

async fn run(args: &CopyDataArgs) -> anyhow::Result<i32> {
    let source = open(&args.from, "source").await?;
    let target = open(&args.to, "target").await?;

    let mut source_counts = Vec::new();
    let mut target_before = Vec::new();
    for table in TABLES {
        source_counts.push(source.count(table).await?);
        target_before.push(target.count(table).await?);
    }
    // Both schemas hold the built-in local user from the start: one user is "empty".
    let held: Vec<String> = TABLES
        .iter()
        .zip(&target_before)
        .filter(|(table, count)| **count > i64::from(table.name == "users"))
        .map(|(table, count)| format!("{count} {}", table.name))
        .collect();
    let target_was_empty = held.is_empty();
    if !target_was_empty && !args.force {
        eprintln!(
            "error: the target database {} is not empty ({}): copy into an empty database, or \
             pass --force to add to it (rows already there are kept; this is also how an \
             interrupted copy continues)",
            redact_url(&args.to),
            held.join(", ")
        );
        source.close().await;
        target.close().await;
        return Ok(EXIT_USAGE);
    }

    let total: i64 = source_counts.iter().sum();
    let bar = progress_bar(total.max(0) as u64);
    let mut requeued = 0u64;
    for table in TABLES {
        bar.set_message(table.name);
        let key = table.column(table.key().0);
        let mut after: Option<Cell> = None;
        loop {
            let mut rows = source
                .read_batch(table, after.as_ref(), args.batch_size)
                .await?;
            let Some(last) = rows.last() else { break };
            after = Some(last[key].clone());
            for row in &mut rows {
                if requeue_if_active(table, row) && table.name == "blueprints" {
                    requeued += 1;
                }
            }
            target.insert_batch(table, &rows).await?;
            bar.inc(rows.len() as u64);
            if (rows.len() as i64) < args.batch_size {
                break;
            }
        }
    }
    bar.finish_and_clear();

    // Verify: every table's count on the target against the source's.
    let mut mismatches = Vec::new();
    eprintln!(
        "copied {} → {}:",
        redact_url(&args.from),
        redact_url(&args.to)
    );
    for (table, expected) in TABLES.iter().zip(&source_counts) {
        let found = target.count(table).await?;
        let fine = if target_was_empty {
            found == *expected
        } else {
            found >= *expected
        };
        eprintln!(
            "  {:<22} {expected:>8} in the source, {found:>8} in the target{}",
            table.name,
            if fine { "" } else { "  MISMATCH" }
        );
        if !fine {
            mismatches.push(table.name);
        }
    }
    source.close().await;
    target.close().await;
    if !mismatches.is_empty() {
        eprintln!(
            "error: the counts differ for {} (did something write to either database during \
             the copy?); run the same command with --force to continue",
            mismatches.join(", ")
        );
        return Ok(EXIT_JOB_FAILED);
    }
    if requeued > 0 {
        eprintln!("{requeued} generation(s) that were queued or running are queued on the target");
    }
    Ok(EXIT_OK)
}

fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg:20} [{bar:30}] {pos}/{len} rows {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_generations_are_queued_again_and_their_leases_cleared() {
        let blueprints = &TABLES[4];
        let mut row: Row = blueprints
            .columns
            .iter()
            .map(|(name, _)| match *name {
                "status" => Cell::Text("generating".into()),
                _ => Cell::Int(1),
            })
            .collect();
        assert!(requeue_if_active(blueprints, &mut row));
        assert_eq!(
            row[blueprints.column("status")],
            Cell::Text("queued".into())
        );
        row[blueprints.column("status")] = Cell::Text("completed".into());
        assert!(!requeue_if_active(blueprints, &mut row));

        let jobs = &TABLES[7];
        let mut job: Row = vec![
            Cell::Text("b".into()),
            Cell::Text("worker-1".into()),
            Cell::Int(5),
            Cell::Int(4),
            Cell::Int(1),
            Cell::Null,
        ];
        assert!(requeue_if_active(jobs, &mut job));
        assert_eq!(job[1..4], [Cell::Null, Cell::Null, Cell::Null]);
        let mut finished = vec![
            Cell::Text("b".into()),
            Cell::Text("w".into()),
            Cell::Int(5),
            Cell::Int(4),
            Cell::Int(1),
            Cell::Int(9),
        ];
        assert!(!requeue_if_active(jobs, &mut finished));
        assert_eq!(finished[1], Cell::Text("w".into()));
    }

    #[test]
    fn sqlite_paths_are_read_from_urls() {
        assert_eq!(
            sqlite_path("sqlite://data/q.db?mode=rwc").as_deref(),
            Some("data/q.db")
        );
        assert_eq!(sqlite_path("sqlite:q.db").as_deref(), Some("q.db"));
        assert_eq!(sqlite_path("postgres://x/y"), None);
    }

    /// Every table of the schema is either copied, with every one of its columns, or named as
    /// deliberately left behind: a new migration cannot silently drop data from a copy.
    #[tokio::test]
    async fn the_copy_covers_the_whole_schema() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}", dir.path().join("schema.db").display());
        let database = open(&url, "test").await.expect("open");
        let mut expected: Vec<String> = TABLES
            .iter()
            .map(|t| t.name.to_string())
            .chain(NOT_COPIED.iter().map(|t| t.to_string()))
            .collect();
        expected.sort();
        assert_eq!(database.table_names().await.expect("tables"), expected);
        for table in TABLES {
            let mut columns: Vec<String> =
                table.columns.iter().map(|(c, _)| c.to_string()).collect();
            columns.sort();
            assert_eq!(
                database.column_names(table.name).await.expect("columns"),
                columns,
                "{}",
                table.name
            );
        }
        database.close().await;
    }
}
