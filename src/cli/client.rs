//! `quizmaster generate --server URL`: the same job through a running server's API. It
//! creates the topic, starts the generation, follows its SSE stream (falling back to long
//! polling when the stream breaks), cancels on Ctrl-C and prints the export.

use std::time::Duration;

use futures::StreamExt;
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use super::generate::{EXIT_INTERRUPTED, EXIT_JOB_FAILED, EXIT_OK, EXIT_USAGE};
use super::progress::Progress;
use crate::domain::TopicInput;

/// Consecutive failures to reach the server before giving up on a job.
const MAX_FAILURES: u32 = 6;

/// A failure with the exit code it maps to.
struct Failure {
    code: i32,
    message: String,
}

impl Failure {
    fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

struct Api {
    client: Client,
    base: String,
    token: Option<String>,
}

impl Api {
    fn request(&self, builder: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; maps transport errors and error answers to messages a user can act on.
    async fn send(&self, builder: RequestBuilder) -> Result<reqwest::Response, Failure> {
        let response = self.request(builder).send().await.map_err(|err| {
            Failure::new(
                EXIT_JOB_FAILED,
                format!("cannot reach the server at {}: {err}", self.base),
            )
        })?;
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(response);
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("no details")
            .to_string();
        Err(match status {
            StatusCode::UNAUTHORIZED => Failure::new(
                EXIT_USAGE,
                format!(
                    "the server wants a login: set QUIZMASTER_TOKEN to an API token ({message})"
                ),
            ),
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => Failure::new(
                EXIT_USAGE,
                format!("the server refused the input: {message}"),
            ),
            _ => Failure::new(
                EXIT_JOB_FAILED,
                format!("the server answered {status}: {message}"),
            ),
        })
    }
}

pub async fn generate_remote(server: &str, input: &TopicInput, target: i64, format: &str) -> i32 {
    let api = Api {
        client: Client::new(),
        base: server.trim_end_matches('/').to_string(),
        token: std::env::var("QUIZMASTER_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
    };
    match run(&api, input, target, format).await {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            failure.code
        }
    }
}

async fn run(api: &Api, input: &TopicInput, target: i64, format: &str) -> Result<i32, Failure> {
    let topic: Value = api
        .send(api.client.post(api.url("/api/topics")).json(&json!({
            "title": input.title,
            "description": input.description,
            "source_text": input.source_text,
        })))
        .await?
        .json()
        .await
        .map_err(|err| Failure::new(EXIT_JOB_FAILED, format!("unreadable answer: {err}")))?;
    let topic_id = topic["id"].as_str().unwrap_or_default().to_string();
    let generate = api
        .request(
            api.client
                .post(api.url(&format!("/api/topics/{topic_id}/blueprints/generate")))
                .json(&json!({"target_terminal_objectives": target})),
        )
        .send()
        .await
        .map_err(|err| {
            Failure::new(
                EXIT_JOB_FAILED,
                format!("cannot reach the server at {}: {err}", api.base),
            )
        })?;
    // A 409 names the generation already running for this topic: follow that one instead.
    let started: Value = if generate.status() == StatusCode::CONFLICT {
        let body: Value = generate.json().await.unwrap_or(Value::Null);
        json!({"id": body["error"]["blueprint_id"]})
    } else if generate.status().is_success() {
        generate.json().await.unwrap_or(Value::Null)
    } else {
        return Err(Failure::new(
            EXIT_JOB_FAILED,
            format!(
                "the server refused to start the generation ({})",
                generate.status()
            ),
        ));
    };
    let blueprint_id = started["id"].as_str().unwrap_or_default().to_string();
    let base_path = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}");

    let progress = Progress::new(target as u64);
    let followed = tokio::select! {
        end = follow(api, &base_path, &progress) => end,
        _ = tokio::signal::ctrl_c() => {
            progress.finish();
            let _ = api.send(api.client.post(api.url(&format!("{base_path}/cancel")))).await;
            eprintln!("cancelled");
            return Ok(EXIT_INTERRUPTED);
        }
    };
    progress.finish();
    let end = followed?;
    match end["status"].as_str() {
        Some("completed") => {
            let export = api
                .send(
                    api.client
                        .get(api.url(&format!("{base_path}/export?format={format}"))),
                )
                .await?
                .text()
                .await
                .map_err(|err| {
                    Failure::new(EXIT_JOB_FAILED, format!("the export broke off: {err}"))
                })?;
            print!("{export}");
            Ok(EXIT_OK)
        }
        Some("cancelled") => {
            eprintln!("the generation was cancelled");
            Ok(EXIT_JOB_FAILED)
        }
        _ => {
            eprintln!(
                "error: generation failed ({}): {}",
                end["error_code"].as_str().unwrap_or("unknown"),
                end["error"].as_str().unwrap_or("no message")
            );
            Ok(EXIT_JOB_FAILED)
        }
    }
}

fn is_terminal(status: &Value) -> bool {
    matches!(
        status["status"].as_str(),
        Some("completed" | "error" | "cancelled")
    )
}

/// Follows the job to its end: the SSE stream first; if it breaks, a long poll; failures back
/// off exponentially and give up after `MAX_FAILURES` in a row.
async fn follow(api: &Api, base_path: &str, progress: &Progress) -> Result<Value, Failure> {
    let mut failures = 0;
    let mut last = Value::Null;
    loop {
        match stream_events(api, base_path, progress, &mut last).await {
            Ok(()) if is_terminal(&last) => return Ok(last),
            _ => {}
        }
        // The stream broke (or was never there): one long poll, then the stream again.
        let poll = api
            .send(
                api.client
                    .get(api.url(&format!("{base_path}/status?wait=20"))),
            )
            .await;
        match poll {
            Ok(response) => {
                failures = 0;
                if let Ok(status) = response.json::<Value>().await {
                    progress.update(
                        status["status"].as_str().unwrap_or(""),
                        status["terminal_objectives_count"].as_i64().unwrap_or(0),
                    );
                    last = status;
                    if is_terminal(&last) {
                        return Ok(last);
                    }
                }
            }
            Err(failure) => {
                failures += 1;
                if failures >= MAX_FAILURES {
                    return Err(Failure::new(
                        EXIT_JOB_FAILED,
                        format!("lost the server while following the job ({}); the job may still be running there", failure.message),
                    ));
                }
                let backoff = Duration::from_millis((200 * 2u64.pow(failures)).min(2_000));
                let jitter = Duration::from_millis(u64::from(uuid::Uuid::new_v4().as_bytes()[0]));
                tokio::time::sleep(backoff + jitter).await;
            }
        }
    }
}

/// Reads `status` events into `last` until the stream ends.
async fn stream_events(
    api: &Api,
    base_path: &str,
    progress: &Progress,
    last: &mut Value,
) -> Result<(), Failure> {
    let response = api
        .send(api.client.get(api.url(&format!("{base_path}/events"))))
        .await?;
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| Failure::new(EXIT_JOB_FAILED, err.to_string()))?;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let data: String = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            if let Ok(status) = serde_json::from_str::<Value>(&data) {
                progress.update(
                    status["status"].as_str().unwrap_or(""),
                    status["terminal_objectives_count"].as_i64().unwrap_or(0),
                );
                *last = status;
            }
        }
    }
    Ok(())
}
