//! The benchmark: each section starts its own QuizMaster processes, measures one thing and
//! adds rows to the table.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use futures::{stream, StreamExt};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::api::{self, is_terminal, ms_of, objective_faults, Api};
use crate::proc::{pg_available, Launcher, PgDb, Proc};
use crate::wrk;
use crate::{Row, Table};

pub struct Sizes {
    pub poll_secs: u64,
    pub gens_sqlite: usize,
    pub gens_pg: usize,
    pub notice_jobs: usize,
    pub sse_streams: usize,
    pub recovery_jobs: usize,
}

impl Sizes {
    pub fn full() -> Self {
        Self {
            poll_secs: 10,
            gens_sqlite: 3000,
            gens_pg: 1500,
            notice_jobs: 300,
            sse_streams: 10_000,
            recovery_jobs: 32,
        }
    }
    pub fn quick() -> Self {
        Self {
            poll_secs: 4,
            gens_sqlite: 600,
            gens_pg: 300,
            notice_jobs: 80,
            sse_streams: 10_000,
            recovery_jobs: 8,
        }
    }
}

pub struct Bench {
    pub launcher: Launcher,
    pub sizes: Sizes,
    pub pg_admin: String,
    pub dir: std::path::PathBuf,
    pub only: Option<Vec<String>>,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sqlite_url(dir: &std::path::Path, name: &str) -> String {
    let path = dir.join(format!("{name}.db"));
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(dir.join(format!("{name}.db-wal")));
    let _ = std::fs::remove_file(dir.join(format!("{name}.db-shm")));
    format!("sqlite://{}", path.display())
}

fn env(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

impl Bench {
    fn wants(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|s| s == section))
    }

    pub async fn run(&self, table: &mut Table) -> Result<()> {
        if self.wants("polls") {
            self.polls(table).await?;
        }
        if self.wants("gens") {
            self.gens_sqlite(table).await?;
            if pg_available(&self.pg_admin) {
                self.gens_pg(table, 1).await?;
                self.gens_pg(table, 2).await?;
            } else {
                eprintln!(
                    "!! PostgreSQL not reachable at {}: PostgreSQL rows skipped",
                    self.pg_admin
                );
            }
        }
        if self.wants("notice") {
            self.notice(table).await?;
        }
        if self.wants("sse") {
            self.sse_memory(table).await?;
        }
        if self.wants("recovery") {
            if pg_available(&self.pg_admin) {
                self.recovery(table).await?;
            } else {
                eprintln!("!! PostgreSQL not reachable: recovery row skipped");
            }
        }
        Ok(())
    }

    /// Status polls against `/healthz` in the same run: wrk, 2 threads, 64 and 1,024 connections.
    async fn polls(&self, table: &mut Table) -> Result<()> {
        eprintln!(
            "== status polls vs /healthz (wrk, {} s each)",
            self.sizes.poll_secs
        );
        let db = sqlite_url(&self.dir, "polls");
        let server = self.launcher.serve(&db, "127.0.0.1:0", &[])?;
        let api = Api::new(&server.base);
        let topic = api.create_topic("Polling").await?;
        let bp = api.start(&topic, 10).await?;
        let view = api
            .wait_terminal(&topic, &bp, Instant::now() + Duration::from_secs(30))
            .await?;
        if view["status"] != "completed" {
            bail!("setup generation did not complete: {view}");
        }
        let status_url = api.status_url(&topic, &bp);
        let health_url = format!("{}/healthz", server.base);
        for conns in [64usize, 1024] {
            let h = wrk::run(&health_url, conns, self.sizes.poll_secs)?;
            let s = wrk::run(&status_url, conns, self.sizes.poll_secs)?;
            let ratio = s.rps / h.rps;
            table.push(Row::new(
                format!("/healthz, {conns} conns"),
                format!(
                    "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                    h.rps, h.p50_ms, h.p99_ms
                ),
                "ceiling of the HTTP stack".into(),
                None,
                format!("errors {}", h.errors),
            ));
            let (target, met) = if conns == 64 {
                (
                    "≥ 0.5 × /healthz, p99 < 5 ms, ≥ 30,000 req/s".to_string(),
                    Some(ratio >= 0.5 && s.p99_ms < 5.0 && s.rps >= 30_000.0),
                )
            } else {
                ("(figure only)".to_string(), None)
            };
            table.push(Row::new(
                format!("status poll, {conns} conns"),
                format!(
                    "{:.0} req/s ({:.2} × /healthz), p50 {:.2} ms, p99 {:.2} ms",
                    s.rps, ratio, s.p50_ms, s.p99_ms
                ),
                target,
                met,
                format!("errors {}", s.errors),
            ));
        }
        drop(server);
        if pg_available(&self.pg_admin) {
            self.polls_pg(table).await?;
        } else {
            eprintln!("!! PostgreSQL not reachable: the PostgreSQL status poll row is skipped");
        }
        Ok(())
    }

    /// Status polls on PostgreSQL (the view cache kept by the change feed) against `/healthz`
    /// of the same server in the same run, at 64 connections.
    async fn polls_pg(&self, table: &mut Table) -> Result<()> {
        let db = PgDb::create(&self.pg_admin, "polls")?;
        let server = self.launcher.serve(&db.url, "127.0.0.1:0", &[])?;
        let api = Api::new(&server.base);
        let topic = api.create_topic("Polling").await?;
        let bp = api.start(&topic, 10).await?;
        let view = api
            .wait_terminal(&topic, &bp, Instant::now() + Duration::from_secs(30))
            .await?;
        if view["status"] != "completed" {
            bail!("setup generation did not complete: {view}");
        }
        let status_url = api.status_url(&topic, &bp);
        let health_url = format!("{}/healthz", server.base);
        let h = wrk::run(&health_url, 64, self.sizes.poll_secs)?;
        let s = wrk::run(&status_url, 64, self.sizes.poll_secs)?;
        let ratio = s.rps / h.rps;
        table.push(Row::new(
            "status poll, PostgreSQL, 64 conns".into(),
            format!(
                "{:.0} req/s ({ratio:.2} × /healthz at {:.0} req/s), p50 {:.2} ms, p99 {:.2} ms",
                s.rps, h.rps, s.p50_ms, s.p99_ms
            ),
            "≥ 0.7 × /healthz".into(),
            Some(ratio >= 0.7),
            format!("errors {} (/healthz {})", s.errors, h.errors),
        ));
        drop(server);
        Ok(())
    }

    /// Creates `n` topics, then starts `n` generations as fast as 64 clients can and waits for
    /// all of them: generations per second = n / (last finished_at − first request).
    async fn generations(&self, base: &str, n: usize, label: &str) -> Result<(f64, usize)> {
        self.generations_from(base, n, label, &[api::LECTURE.to_string()])
            .await
    }

    /// Generations of `n` topics whose sources are `sources` in turn.
    async fn generations_from(
        &self,
        base: &str,
        n: usize,
        label: &str,
        sources: &[String],
    ) -> Result<(f64, usize)> {
        let api = Api::new(base);
        let topics: Vec<String> = stream::iter(0..n)
            .map(|i| {
                let api = api.clone();
                let source = &sources[i % sources.len()];
                async move {
                    api.create_topic_from(&format!("{label} topic {i}"), source)
                        .await
                }
            })
            .buffer_unordered(64)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_>>()?;
        let start_ms = api::now_ms();
        let started = Instant::now();
        let bps: Vec<(String, String)> = stream::iter(topics)
            .map(|t| {
                let api = api.clone();
                async move {
                    let bp = api.start(&t, 10).await?;
                    Ok::<_, anyhow::Error>((t, bp))
                }
            })
            .buffer_unordered(64)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_>>()?;
        let submitted = started.elapsed();
        // Wait in submission order (jobs are claimed oldest first), one light request at a time.
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut last_finish = start_ms;
        let mut bad = 0usize;
        for (t, bp) in &bps {
            let view = loop {
                let v = api.status(t, bp).await?;
                if is_terminal(&v) {
                    break v;
                }
                if Instant::now() > deadline {
                    bail!("{label}: generation {bp} not done after 600 s: {v}");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            if view["status"] != "completed" {
                bad += 1;
            }
            last_finish = last_finish.max(ms_of(&view["finished_at"]).unwrap_or(start_ms));
        }
        // Spot-check the stored objectives of a few.
        for (t, bp) in bps.iter().step_by((n / 10).max(1)) {
            let doc = api.document(t, bp).await?;
            let mut faults = objective_faults(&doc);
            if sources.len() > 1 {
                // A shorter text supports fewer terminal objectives than asked for, and the
                // generator writes only those (its quality notes say so).
                faults.retain(|f| !f.starts_with("completed with"));
            }
            if !faults.is_empty() {
                bail!("{label}: blueprint {bp}: {faults:?}");
            }
        }
        let secs = (last_finish - start_ms).max(1) as f64 / 1000.0;
        eprintln!(
            "   {label}: {n} generations in {secs:.2} s (all submitted after {:.2} s), {bad} not completed",
            submitted.as_secs_f64()
        );
        Ok((n as f64 / secs, bad))
    }

    async fn gens_sqlite(&self, table: &mut Table) -> Result<()> {
        eprintln!(
            "== generations/s, SQLite, one process ({} jobs)",
            self.sizes.gens_sqlite
        );
        let db = sqlite_url(&self.dir, "gens");
        let server = self.launcher.serve(&db, "127.0.0.1:0", &[])?;
        let (rate, bad) = self
            .generations(&server.base, self.sizes.gens_sqlite, "sqlite")
            .await?;
        table.push(Row::new(
            "generations/s, SQLite, 1 process (4 workers)".into(),
            format!("{rate:.0}/s ({:.0} × the seed's 14/s)", rate / 14.0),
            "≥ 1,500/s".into(),
            Some(rate >= 1500.0 && bad == 0),
            format!(
                "{} jobs of 10 terminal objectives, {bad} failed",
                self.sizes.gens_sqlite
            ),
        ));
        // The lecture's server is done; only one server may use the cores.
        drop(server);
        // Teachers' notes differ: the same lecture for every topic flatters the generator's
        // caches (harper's linter remembers the objectives it has seen).
        let sources = corpus_sources()?;
        let n = self.sizes.gens_sqlite / 2;
        eprintln!(
            "== generations/s, SQLite, one process, the {} corpus texts in turn ({n} jobs)",
            sources.len()
        );
        let db = sqlite_url(&self.dir, "gens-corpus");
        let server = self.launcher.serve(&db, "127.0.0.1:0", &[])?;
        let (rate, bad) = self
            .generations_from(&server.base, n, "sqlite-corpus", &sources)
            .await?;
        table.push(Row::new(
            "generations/s, SQLite, 1 process (4 workers), distinct sources".into(),
            format!("{rate:.0}/s"),
            "–".into(),
            None,
            format!(
                "{n} jobs over the {} texts of tests/corpus in turn, {bad} failed",
                sources.len()
            ),
        ));
        Ok(())
    }

    async fn gens_pg(&self, table: &mut Table, workers: usize) -> Result<()> {
        eprintln!(
            "== generations/s, PostgreSQL, API server + {workers} worker process(es) ({} jobs)",
            self.sizes.gens_pg
        );
        let db = PgDb::create(&self.pg_admin, &format!("gens{workers}"))?;
        let api_env = env(&[
            ("QUIZMASTER_WORKERS", "0"),
            ("QUIZMASTER_DB_MAX_CONNECTIONS", "16"),
        ]);
        let server = self.launcher.serve(&db.url, "127.0.0.1:0", &api_env)?;
        let worker_env = env(&[
            ("QUIZMASTER_WORKERS", "8"),
            ("QUIZMASTER_DB_MAX_CONNECTIONS", "12"),
        ]);
        let procs: Vec<Proc> = (0..workers)
            .map(|_| self.launcher.worker(&db.url, &worker_env))
            .collect::<Result<_>>()?;
        let (rate, bad) = self
            .generations(&server.base, self.sizes.gens_pg, &format!("pg{workers}"))
            .await?;
        table.push(Row::new(
            format!("generations/s, PostgreSQL, {workers} worker process(es) × 8"),
            format!("{rate:.0}/s ({:.0} × the seed's 14/s)", rate / 14.0),
            "(figure only; all must complete)".into(),
            (bad > 0).then_some(false),
            format!(
                "{} jobs, API in its own process, {bad} failed",
                self.sizes.gens_pg
            ),
        ));
        drop(procs);
        drop(server);
        Ok(())
    }

    /// Completion → client notice, SSE and long polling: the client's clock at the arrival of
    /// the terminal state minus the server's `finished_at` (same machine, same clock).
    async fn notice(&self, table: &mut Table) -> Result<()> {
        let n = self.sizes.notice_jobs;
        eprintln!("== completion → notice ({n} jobs each for SSE and long polling)");
        let db = sqlite_url(&self.dir, "notice");
        // Paced so that every follower is waiting when its job ends.
        let server = self.launcher.serve(
            &db,
            "127.0.0.1:0",
            &env(&[("QUIZMASTER_OFFLINE_PACE_MS", "20")]),
        )?;
        let api = Api::new(&server.base);
        for mode in ["SSE", "long poll"] {
            let topics: Vec<String> = stream::iter(0..n)
                .map(|i| {
                    let api = api.clone();
                    async move { api.create_topic(&format!("notice {mode} {i}")).await }
                })
                .buffer_unordered(32)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_>>()?;
            let lat: Vec<Result<f64>> = stream::iter(topics)
                .map(|t| {
                    let api = api.clone();
                    async move {
                        let bp = api.start(&t, 4).await?;
                        let view = if mode == "SSE" {
                            let mut s = crate::sse::SseStream::open(
                                &api.http,
                                &format!("{}/api/topics/{t}/blueprints/{bp}/events", api.base),
                            )
                            .await?;
                            loop {
                                match s.next_data().await? {
                                    Some(v) if is_terminal(&v) => break v,
                                    Some(_) => {}
                                    None => bail!("stream ended before a terminal state"),
                                }
                            }
                        } else {
                            api.wait_terminal(&t, &bp, Instant::now() + Duration::from_secs(120))
                                .await?
                        };
                        let seen = api::now_ms();
                        let finished = ms_of(&view["finished_at"])
                            .ok_or_else(|| anyhow::anyhow!("no finished_at: {view}"))?;
                        Ok((seen - finished) as f64)
                    }
                })
                .buffer_unordered(16)
                .collect()
                .await;
            let mut lat: Vec<f64> = lat.into_iter().collect::<Result<_>>()?;
            lat.sort_by(|a, b| a.total_cmp(b));
            let (p50, p99) = (pct(&lat, 0.5), pct(&lat, 0.99));
            let (target, met) = if mode == "SSE" {
                ("p99 < 50 ms".to_string(), Some(p99 < 50.0))
            } else {
                ("(figure only)".to_string(), None)
            };
            table.push(Row::new(
                format!("completion → notice, {mode}"),
                format!("p50 {p50:.0} ms, p99 {p99:.0} ms"),
                target,
                met,
                format!("{n} jobs, 16 followed at once; ms resolution"),
            ));
        }
        drop(server);
        Ok(())
    }

    /// Server RSS with `sse_streams` open SSE streams (spread over 100 queued blueprints).
    async fn sse_memory(&self, table: &mut Table) -> Result<()> {
        let n = self.sizes.sse_streams;
        eprintln!("== memory with {n} open SSE streams");
        let db = sqlite_url(&self.dir, "sse");
        // No workers: every job stays queued, so every stream stays open.
        let server =
            self.launcher
                .serve(&db, "127.0.0.1:0", &env(&[("QUIZMASTER_WORKERS", "0")]))?;
        let api = Api::new(&server.base);
        let mut urls = Vec::new();
        for i in 0..100 {
            let t = api.create_topic(&format!("sse {i}")).await?;
            let bp = api.start(&t, 10).await?;
            urls.push(format!(
                "{}/api/topics/{t}/blueprints/{bp}/events",
                api.base
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = server.rss_bytes();
        let opened = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(tokio::sync::Notify::new());
        let gate = Arc::new(Semaphore::new(256));
        let mut tasks = Vec::with_capacity(n);
        // One client per 1,000 streams: a pool cannot share connections between open streams anyway.
        let clients: Vec<reqwest::Client> = (0..n.div_ceil(1000)).map(|_| api::client()).collect();
        let started = Instant::now();
        for i in 0..n {
            let url = urls[i % urls.len()].clone();
            let http = clients[i / 1000].clone();
            let opened = opened.clone();
            let release = release.clone();
            let gate = gate.clone();
            tasks.push(tokio::spawn(async move {
                let permit = gate.acquire_owned().await;
                let mut s = crate::sse::SseStream::open(&http, &url).await?;
                let first = s.next_data().await?;
                drop(permit);
                if first.is_none() {
                    bail!("no first event");
                }
                let released = release.notified();
                opened.fetch_add(1, Ordering::SeqCst);
                released.await;
                drop(s);
                Ok::<_, anyhow::Error>(())
            }));
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while opened.load(Ordering::SeqCst) < n {
            if Instant::now() > deadline {
                bail!(
                    "only {} of {n} streams opened",
                    opened.load(Ordering::SeqCst)
                );
            }
            if let Some(t) = tasks.iter().find(|t| t.is_finished()) {
                let _ = t;
                // A task ended early: an error opening its stream.
                for t in tasks.drain(..) {
                    if t.is_finished() {
                        t.await??;
                    }
                }
                bail!("a stream ended early");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let open_secs = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let during = server.rss_bytes();
        release.notify_waiters();
        for t in tasks {
            let _ = t.await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = server.rss_bytes();
        let mb = |b: u64| b as f64 / 1_048_576.0;
        table.push(Row::new(
            format!("server RSS, {n} open SSE streams"),
            format!(
                "{:.1} MB ({:.1} MB before, {:.1} KB per stream)",
                mb(during),
                mb(before),
                (during.saturating_sub(before)) as f64 / 1024.0 / n as f64
            ),
            "< 120 MB, ≤ 11 KB per stream".into(),
            Some(during < 120 * 1_048_576 && during.saturating_sub(before) <= 11 * 1024 * n as u64),
            format!(
                "opened in {open_secs:.1} s; {:.1} MB after all closed",
                mb(after)
            ),
        ));
        drop(server);
        Ok(())
    }

    /// PostgreSQL: a worker holding N running jobs is killed with SIGKILL; a second worker
    /// takes them over once their leases lapse. Time from the kill until all are completed,
    /// and objectives stored twice (must be 0).
    async fn recovery(&self, table: &mut Table) -> Result<()> {
        let n = self.sizes.recovery_jobs;
        let lease = 3;
        eprintln!("== recovery after kill -9 of a worker holding {n} jobs (lease {lease} s)");
        let db = PgDb::create(&self.pg_admin, "recovery")?;
        let server =
            self.launcher
                .serve(&db.url, "127.0.0.1:0", &env(&[("QUIZMASTER_WORKERS", "0")]))?;
        let n_str = n.to_string();
        let lease_str = lease.to_string();
        let worker_env = env(&[
            ("QUIZMASTER_WORKERS", &n_str),
            ("QUIZMASTER_DB_MAX_CONNECTIONS", "40"),
            ("QUIZMASTER_OFFLINE_PACE_MS", "100"),
            ("QUIZMASTER_LEASE_SECS", &lease_str),
        ]);
        let mut victim = self.launcher.worker(&db.url, &worker_env)?;
        let api = Api::new(&server.base);
        let mut jobs = Vec::new();
        for i in 0..n {
            let t = api.create_topic(&format!("recovery {i}")).await?;
            let bp = api.start(&t, 10).await?;
            jobs.push((t, bp));
        }
        // Kill it once every job is under way with some objectives stored.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut ready = 0;
            for (t, bp) in &jobs {
                let v = api.status(t, bp).await?;
                if v["status"] == "generating" && v["terminal_objectives_count"].as_i64() >= Some(2)
                {
                    ready += 1;
                }
            }
            if ready == n {
                break;
            }
            if Instant::now() > deadline {
                bail!("jobs did not all start: {ready} of {n}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        victim.kill_9();
        let killed = Instant::now();
        let killed_ms = api::now_ms();
        let rescuer = self.launcher.worker(&db.url, &worker_env)?;
        let mut last = killed_ms;
        let mut dups = 0usize;
        let mut not_done = 0usize;
        let deadline = Instant::now() + Duration::from_secs(120);
        for (t, bp) in &jobs {
            let v = api.wait_terminal(t, bp, deadline).await?;
            if v["status"] != "completed" {
                not_done += 1;
            }
            last = last.max(ms_of(&v["finished_at"]).unwrap_or(killed_ms));
            let doc = api.document(t, bp).await?;
            let faults = objective_faults(&doc);
            if !faults.is_empty() {
                eprintln!("   {bp}: {faults:?}");
                dups += faults.len();
            }
        }
        let secs = (last - killed_ms) as f64 / 1000.0;
        let _ = killed;
        table.push(Row::new(
            format!("recovery after kill -9 of a worker with {n} jobs (PostgreSQL)"),
            format!("all done {secs:.1} s after the kill; {dups} duplicates"),
            "0 duplicates, all done".into(),
            Some(dups == 0 && not_done == 0),
            format!("lease {lease} s (the wait is mostly the lease); {not_done} not completed"),
        ));
        drop(rescuer);
        drop(server);
        Ok(())
    }
}

#[allow(dead_code)]
fn _unused(_: Value) {}

/// The source texts of `tests/corpus` (run from the repository's root, as `bench/run.sh` does).
fn corpus_sources() -> Result<Vec<String>> {
    let mut sources = Vec::new();
    let dir = std::path::Path::new("tests/corpus");
    let entries = std::fs::read_dir(dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {e} (run from the repository's root)",
            dir.display()
        )
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("source.txt"))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for path in paths {
        sources.push(std::fs::read_to_string(&path)?);
    }
    if sources.is_empty() {
        bail!("no tests/corpus/*/source.txt found (run from the repository's root)");
    }
    Ok(sources)
}
