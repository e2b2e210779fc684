//! Real `quizmaster` processes: start, find their address, measure, kill.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// How to start QuizMaster processes.
#[derive(Clone)]
pub struct Launcher {
    pub bin: PathBuf,
}

pub struct Proc {
    child: Child,
    /// `http://ADDR` for `serve`; empty for `worker`.
    pub base: String,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Launcher {
    /// `quizmaster serve` on `bind` (e.g. `127.0.0.1:0`).
    pub fn serve(&self, db: &str, bind: &str, env: &[(&str, String)]) -> Result<Proc> {
        self.start("serve", db, bind, env, "listening on http://")
    }

    /// `quizmaster worker` (workers only, shared database).
    pub fn worker(&self, db: &str, env: &[(&str, String)]) -> Result<Proc> {
        self.start("worker", db, "127.0.0.1:0", env, "worker started")
    }

    fn start(
        &self,
        cmd: &str,
        db: &str,
        bind: &str,
        env: &[(&str, String)],
        ready: &str,
    ) -> Result<Proc> {
        let mut command = Command::new(&self.bin);
        command
            .arg(cmd)
            .env("QUIZMASTER_DATABASE_URL", db)
            .env("QUIZMASTER_BIND", bind)
            .env("RUST_LOG", "warn,quizmaster=info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // The benchmarks and the fault campaign measure the job machinery, not accounts: one
            // built-in local user and no login. They also start far more generations, far
            // faster (batches, the 1,000-request stampede), than one user may by default, so
            // the per-user limits are off. All their clients share one address, so the caps on
            // connections and streams per client are lifted too (the attacks of the fault
            // campaign set them back). A run's own `env` comes after and wins.
            .env("QUIZMASTER_AUTH", "off")
            .env("QUIZMASTER_GENERATE_PER_MINUTE", "0")
            .env("QUIZMASTER_MAX_ACTIVE_PER_USER", "0")
            .env("QUIZMASTER_MAX_CONNECTIONS", "60000")
            .env("QUIZMASTER_MAX_CONNECTIONS_PER_CLIENT", "0")
            .env("QUIZMASTER_MAX_STREAMS_PER_USER", "1000000");
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.bin.display()))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let ready = ready.to_string();
        let lines = log.clone();
        // Keeps draining the log for the process's whole life: a full pipe would block it.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && line.contains(&ready) {
                    let addr = line
                        .split("listening on http://")
                        .nth(1)
                        .map(|r| r.chars().take_while(|c| !c.is_whitespace()).collect())
                        .unwrap_or_default();
                    let _ = tx.send(addr);
                    sent = true;
                }
                let mut lines = lines.lock().unwrap();
                if lines.len() >= 200 {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        });
        let addr: String = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "quizmaster {cmd} did not start; log:\n{}",
                    log.lock()
                        .unwrap()
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        };
        let base = if addr.is_empty() {
            String::new()
        } else {
            format!("http://{addr}")
        };
        Ok(Proc { child, base, log })
    }
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size in bytes (Linux `/proc`).
    pub fn rss_bytes(&self) -> u64 {
        rss_of(self.pid())
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        let lines = self.log.lock().unwrap();
        let skip = lines.len().saturating_sub(n);
        lines
            .iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill_9();
    }
}

pub fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// A free loopback port (to restart a server on the same address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A fresh PostgreSQL database for one run, dropped by [`PgDb`]'s `Drop`.
pub struct PgDb {
    pub url: String,
    name: String,
    admin: String,
}

impl PgDb {
    /// `admin` is a `postgres://` URL of an existing database (e.g. `.../test`).
    pub fn create(admin: &str, label: &str) -> Result<Self> {
        let name = format!("qmbench_{label}_{}", std::process::id());
        psql(
            admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )?;
        psql(admin, &format!("CREATE DATABASE {name}"))?;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
        Ok(Self {
            url: format!("{base}/{name}"),
            name,
            admin: admin.to_string(),
        })
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let _ = psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

pub fn psql(url: &str, sql: &str) -> Result<String> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql])
        .output()
        .context("psql (the PostgreSQL client) is needed for the PostgreSQL figures")?;
    if !out.status.success() {
        bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Whether PostgreSQL answers at `url`.
pub fn pg_available(url: &str) -> bool {
    psql(url, "SELECT 1").is_ok()
}
