//! Real `quizmaster serve` child processes, killed with SIGKILL mid-generation.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

struct ChildServer {
    child: Child,
    base: String,
}

impl ChildServer {
    fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_quizmaster"));
        command
            .arg("serve")
            .env("QUIZMASTER_DATABASE_URL", database_url)
            .env("QUIZMASTER_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn quizmaster");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        let address: String =
                            rest.chars().take_while(|c| !c.is_whitespace()).collect();
                        let _ = tx.send(address);
                        sent = true;
                    }
                }
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server logs its address");
        Self {
            child,
            base: format!("http://{address}"),
        }
    }

    fn kill_9(&mut self) {
        // Child::kill sends SIGKILL on Unix: no shutdown code runs.
        self.child.kill().expect("kill");
        self.child.wait().expect("reaped");
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn status(client: &reqwest::Client, url: &str) -> Value {
    client
        .get(url)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json")
}

async fn a_killed_server_restarts_and_the_same_blueprint_finishes_without_duplicates(
    backend: Backend,
) {
    let database = TestDatabase::create(backend).await;
    let database_url = database.url.clone();
    let env = [
        ("QUIZMASTER_LEASE_SECS", "1"),
        ("QUIZMASTER_OFFLINE_PACE_MS", "150"),
    ];
    let client = reqwest::Client::new();
    let mut first = ChildServer::start(&database_url, &env);

    let topic: Value = client
        .post(format!("{}/api/topics", first.base))
        .json(&json!({"title": "Crash course"}))
        .send()
        .await
        .expect("topic")
        .json()
        .await
        .expect("json");
    let topic_id = str_of(&topic, "id").to_string();
    let started: Value = client
        .post(format!(
            "{}/api/topics/{topic_id}/blueprints/generate",
            first.base
        ))
        .json(&json!({"target_terminal_objectives": 12}))
        .send()
        .await
        .expect("generate")
        .json()
        .await
        .expect("json");
    let blueprint_id = str_of(&started, "id").to_string();
    let path = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}");

    let status_url = format!("{}{path}/status", first.base);
    let reached = poll_until(
        Duration::from_secs(10),
        || status(&client, &status_url),
        |s| s["terminal_objectives_count"].as_i64() >= Some(3),
    )
    .await;
    assert!(reached.is_ok(), "progress before the kill: {reached:?}");
    first.kill_9();

    let second = ChildServer::start(&database_url, &env);
    let status_url = format!("{}{path}/status", second.base);
    let done = poll_until(
        Duration::from_secs(20),
        || status(&client, &status_url),
        |s| s["status"] == "completed",
    )
    .await
    .unwrap_or_else(|last| panic!("not finished after the restart: {last}"));
    assert_eq!(done["attempt"], 2, "a new attempt took over");

    let whole: Value = client
        .get(format!("{}{path}", second.base))
        .send()
        .await
        .expect("blueprint")
        .json()
        .await
        .expect("json");
    crate::generation::assert_well_formed(&whole);
    let texts: Vec<&str> = whole["terminal_objectives"]
        .as_array()
        .expect("array")
        .iter()
        .map(|t| str_of(t, "text"))
        .collect();
    assert_eq!(texts.len(), 12);
    let mut unique = texts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 12, "no objective stored twice");
    drop(second);
    database.drop_database().await;
}

async fn a_job_whose_worker_keeps_dying_ends_in_worker_lost(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let database_url = database.url.clone();
    let env = [
        ("QUIZMASTER_LEASE_SECS", "1"),
        ("QUIZMASTER_OFFLINE_PACE_MS", "300"),
        ("QUIZMASTER_MAX_ATTEMPTS", "1"),
    ];
    let client = reqwest::Client::new();
    let mut first = ChildServer::start(&database_url, &env);
    let topic: Value = client
        .post(format!("{}/api/topics", first.base))
        .json(&json!({"title": "Unlucky"}))
        .send()
        .await
        .expect("topic")
        .json()
        .await
        .expect("json");
    let topic_id = str_of(&topic, "id").to_string();
    let started: Value = client
        .post(format!(
            "{}/api/topics/{topic_id}/blueprints/generate",
            first.base
        ))
        .json(&json!({"target_terminal_objectives": 20}))
        .send()
        .await
        .expect("generate")
        .json()
        .await
        .expect("json");
    let status_path = format!(
        "/api/topics/{topic_id}/blueprints/{}/status",
        str_of(&started, "id")
    );
    let url = format!("{}{status_path}", first.base);
    let running = poll_until(
        Duration::from_secs(10),
        || status(&client, &url),
        |s| s["terminal_objectives_count"].as_i64() >= Some(1),
    )
    .await;
    assert!(running.is_ok(), "{running:?}");
    first.kill_9();

    let second = ChildServer::start(&database_url, &env);
    let url = format!("{}{status_path}", second.base);
    let last = poll_until(
        Duration::from_secs(10),
        || status(&client, &url),
        |s| s["status"] == "error",
    )
    .await
    .unwrap_or_else(|last| panic!("not ended: {last}"));
    assert_eq!(last["error_code"], "worker_lost");
    assert!(last["error"].as_str().is_some_and(|m| !m.is_empty()));
    drop(second);
    database.drop_database().await;
}

crate::on_both_backends!(
    a_killed_server_restarts_and_the_same_blueprint_finishes_without_duplicates,
    a_job_whose_worker_keeps_dying_ends_in_worker_lost
);
