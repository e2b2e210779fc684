//! Real `quizmaster` child processes for multi-process and crash tests.
// Each test binary uses a different part of this shared module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What every child starts with unless a test says otherwise (a test's own `env` is applied
/// after these, so it wins). These children test the job machinery, not accounts: one
/// built-in local user and no login (`QUIZMASTER_AUTH=off`), and no per-user generation limits,
/// because the batches here start more generations, faster, than one user may by default.
pub const JOB_MACHINERY_ENV: &[(&str, &str)] = &[
    ("QUIZMASTER_AUTH", "off"),
    ("QUIZMASTER_GENERATE_PER_MINUTE", "0"),
    ("QUIZMASTER_MAX_ACTIVE_PER_USER", "0"),
];

pub struct ChildProcess {
    child: Child,
    /// `http://ADDRESS` for `serve`; empty for `worker`.
    pub base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ChildProcess {
    /// Starts `quizmaster serve` on a free port and waits until it listens.
    pub fn serve(database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::start("serve", database_url, env, "listening on http://")
    }

    /// Starts `quizmaster worker` and waits until its workers run.
    pub fn worker(database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::start("worker", database_url, env, "worker started")
    }

    fn start(command: &str, database_url: &str, env: &[(&str, &str)], ready: &str) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_quizmaster"));
        cmd.arg(command)
            .env("QUIZMASTER_DATABASE_URL", database_url)
            .env("QUIZMASTER_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in JOB_MACHINERY_ENV.iter().chain(env) {
            cmd.env(key, value);
        }
        let mut child = cmd.spawn().expect("spawn quizmaster");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let ready = ready.to_string();
        let collected = lines.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && line.contains(&ready) {
                    let address = line
                        .split("listening on http://")
                        .nth(1)
                        .map(|rest| {
                            rest.chars()
                                .take_while(|c| !c.is_whitespace())
                                .collect::<String>()
                        })
                        .unwrap_or_default();
                    let _ = tx.send(address);
                    sent = true;
                }
                if let Ok(mut lines) = collected.lock() {
                    lines.push(line);
                }
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "quizmaster {command} did not start; its log: {:?}",
                    lines.lock().map(|l| l.clone())
                )
            });
        let base = if address.is_empty() {
            String::new()
        } else {
            format!("http://{address}")
        };
        Self { child, base, lines }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM, then waits for the process to exit (at most 20 s).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        assert!(sent.success(), "kill -TERM {pid}");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit within 20 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGINT (Ctrl-C).
    pub fn interrupt(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill -INT");
        assert!(sent.success(), "kill -INT {pid}");
    }

    /// How many log lines contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.lines
            .lock()
            .map(|lines| lines.iter().filter(|l| l.contains(needle)).count())
            .unwrap_or(0)
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates a topic and starts its generation through a server's API; returns the topic id and
/// the blueprint id.
pub async fn start_generation(
    client: &reqwest::Client,
    base: &str,
    title: &str,
    target: i64,
) -> (String, String) {
    let topic: serde_json::Value = client
        .post(format!("{base}/api/topics"))
        .json(&serde_json::json!({"title": title, "source_text": include_str!("../fixtures/lecture.md")}))
        .send()
        .await
        .expect("topic")
        .json()
        .await
        .expect("json");
    let topic_id = topic["id"].as_str().expect("topic id").to_string();
    let started: serde_json::Value = client
        .post(format!("{base}/api/topics/{topic_id}/blueprints/generate"))
        .json(&serde_json::json!({"target_terminal_objectives": target}))
        .send()
        .await
        .expect("generate")
        .json()
        .await
        .expect("json");
    let blueprint_id = started["id"].as_str().expect("blueprint id").to_string();
    (topic_id, blueprint_id)
}

/// Signs up on a server running with `QUIZMASTER_AUTH=on`; returns the `Cookie` header value
/// of the new session (`qm_session=...`).
pub async fn sign_up(client: &reqwest::Client, base: &str, email: &str) -> String {
    let response = client
        .post(format!("{base}/api/auth/signup"))
        .json(&serde_json::json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .expect("signup");
    assert_eq!(response.status().as_u16(), 201, "signup of {email}");
    let cookie = response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string();
    assert!(cookie.starts_with("qm_session="), "{cookie}");
    cookie
}

/// Creates an API token with a session cookie; returns its secret.
pub async fn create_token(client: &reqwest::Client, base: &str, cookie: &str) -> String {
    let response = client
        .post(format!("{base}/api/auth/tokens"))
        .header(reqwest::header::COOKIE, cookie)
        .json(&serde_json::json!({"name": "tests"}))
        .send()
        .await
        .expect("create token");
    assert_eq!(response.status().as_u16(), 201, "token created");
    let created: serde_json::Value = response.json().await.expect("json");
    created["token"].as_str().expect("token secret").to_string()
}
