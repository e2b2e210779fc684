//! `qm-bench`: QuizMaster's benchmarks and fault campaign, against real `quizmaster` processes
//! on loopback.
//!
//! ```text
//! qm-bench bench  [--quick] [--only polls,gens,notice,sse,recovery] [--bin PATH] [--pg URL]
//! qm-bench faults [--short] [--only kills,stampede,sse,disk,pg,connections,logins] [--bin PATH] [--pg URL]
//! ```

mod api;
mod bench;
mod faults;
mod proc;
mod sse;
mod wrk;

use std::path::PathBuf;

use anyhow::{bail, Result};

pub struct Row {
    pub what: String,
    pub figure: String,
    pub target: String,
    pub met: Option<bool>,
    pub note: String,
}

impl Row {
    pub fn new(
        what: String,
        figure: String,
        target: String,
        met: Option<bool>,
        note: String,
    ) -> Self {
        eprintln!("   {what}: {figure} [{note}]");
        Self {
            what,
            figure,
            target,
            met,
            note,
        }
    }
}

#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
}

impl Table {
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    fn print(&self) {
        println!("| what | figure | target | met | notes |");
        println!("|---|---|---|---|---|");
        for r in &self.rows {
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            };
            println!(
                "| {} | {} | {} | {} | {} |",
                r.what, r.figure, r.target, met, r.note
            );
        }
    }

    fn all_met(&self) -> bool {
        self.rows.iter().all(|r| r.met != Some(false))
    }
}

struct Args {
    mode: String,
    quick: bool,
    only: Option<Vec<String>>,
    bin: PathBuf,
    pg: String,
}

fn args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().unwrap_or_default();
    let mut a = Args {
        mode,
        quick: false,
        only: None,
        bin: PathBuf::from("target/release/quizmaster"),
        pg: std::env::var("QM_BENCH_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" | "--short" => a.quick = true,
            "--only" => {
                a.only = it
                    .next()
                    .map(|s| s.split(',').map(str::to_string).collect())
            }
            "--bin" => a.bin = it.next().map(PathBuf::from).unwrap_or(a.bin),
            "--pg" => a.pg = it.next().unwrap_or(a.pg),
            other => bail!("unknown argument {other}"),
        }
    }
    if !matches!(a.mode.as_str(), "bench" | "faults") {
        bail!("usage: qm-bench bench [--quick] [--only polls,gens,notice,sse,recovery] [--bin PATH] [--pg URL]\n       qm-bench faults [--short] [--only kills,stampede,sse,disk,pg,connections,logins] [--bin PATH] [--pg URL]");
    }
    if !a.bin.exists() {
        bail!(
            "{} not found: build quizmaster first (or pass --bin)",
            a.bin.display()
        );
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = args()?;
    let dir = std::env::temp_dir().join(format!("qm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let launcher = proc::Launcher { bin: a.bin.clone() };
    let mut table = Table::default();
    let started = std::time::Instant::now();
    let outcome = if a.mode == "bench" {
        let b = bench::Bench {
            launcher,
            sizes: if a.quick {
                bench::Sizes::quick()
            } else {
                bench::Sizes::full()
            },
            pg_admin: a.pg.clone(),
            dir: dir.clone(),
            only: a.only.clone(),
        };
        b.run(&mut table).await
    } else {
        let f = faults::Faults {
            launcher,
            short: a.quick,
            pg_admin: a.pg.clone(),
            dir: dir.clone(),
            only: a.only.clone(),
        };
        f.run(&mut table).await
    };
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    println!(
        "QuizMaster {} ({}), {} cores, {:.0} s",
        a.mode,
        if a.quick { "short" } else { "full" },
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        started.elapsed().as_secs_f64()
    );
    println!();
    table.print();
    outcome?;
    if a.mode == "faults" && !table.all_met() {
        bail!("the fault campaign found problems (rows marked **no**)");
    }
    Ok(())
}
