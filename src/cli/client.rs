//! `quizmaster generate --server URL`: the same job through a running server's API. It
//! creates the topic, starts the generation, follows its SSE stream (falling back to long
//! polling when the stream breaks), cancels on Ctrl-C and prints the export.

use eventsource_stream::Eventsource;
use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{self, HeaderValue};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use super::exit::{EXIT_INTERRUPTED, EXIT_JOB_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE};
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
    /// `Bearer <token>`, marked sensitive so that it is never shown in debug output.
    authorization: Option<HeaderValue>,
}

/// One line of a server's error text, whatever the server sent.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Api {
    fn request(&self, builder: RequestBuilder) -> RequestBuilder {
        match &self.authorization {
            Some(value) => builder.header(header::AUTHORIZATION, value.clone()),
            None => builder,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, err: &reqwest::Error) -> Failure {
        Failure::new(
            EXIT_UNREACHABLE,
            format!("cannot reach the server at {}: {err}", self.base),
        )
    }

    /// Sends a request; maps transport errors and error answers to messages a user can act on.
    async fn send(&self, builder: RequestBuilder) -> Result<reqwest::Response, Failure> {
        let response = self
            .request(builder)
            .send()
            .await
            .map_err(|err| self.unreachable(&err))?;
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(response);
        }
        Err(self.refusal(response).await)
    }

    /// What an error answer means for the user, with the exit code it maps to.
    async fn refusal(&self, response: reqwest::Response) -> Failure {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str().unwrap_or("").to_string();
        let message = one_line(body["error"]["message"].as_str().unwrap_or("no details"));
        let wait = retry_after.map_or_else(|| "later".to_string(), |s| format!("in {s} s"));
        match status {
            StatusCode::UNAUTHORIZED => {
                let what = if self.authorization.is_some() {
                    "refused the API token (mistyped or revoked)"
                } else {
                    "needs an API token"
                };
                Failure::new(
                    EXIT_USAGE,
                    format!(
                        "the server at {} {what}: pass --token or set QUIZMASTER_TOKEN to a \
                         valid token (create one at {}/account/tokens or with POST /api/auth/tokens)",
                        self.base, self.base
                    ),
                )
            }
            StatusCode::TOO_MANY_REQUESTS if code == "too_many_active_generations" => Failure::new(
                EXIT_JOB_FAILED,
                format!(
                    "too many of your generations are queued or running on the server \
                         (too_many_active_generations): try again {wait}, when one has ended"
                ),
            ),
            StatusCode::TOO_MANY_REQUESTS => Failure::new(
                EXIT_JOB_FAILED,
                format!(
                    "the server's limit on starting generations is reached ({}): try again {wait}",
                    if code.is_empty() { "429" } else { &code }
                ),
            ),
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => Failure::new(
                EXIT_USAGE,
                format!("the server refused the input: {message}"),
            ),
            // Anything else is not an answer this client expects from a QuizMaster server (a
            // proxy's error page, a 5xx, another service on that port).
            _ => Failure::new(
                EXIT_UNREACHABLE,
                format!("the server answered {status}: {message}"),
            ),
        }
    }
}

/// `token` (from `--token` or `QUIZMASTER_TOKEN`) is sent as `Authorization: Bearer ...` on
/// every request; it is never printed.
pub async fn generate_remote(
    server: &str,
    token: Option<&str>,
    input: &TopicInput,
    target: i64,
    format: &str,
) -> i32 {
    let authorization = match token.map(|t| HeaderValue::from_str(&format!("Bearer {t}"))) {
        None => None,
        Some(Ok(mut value)) => {
            value.set_sensitive(true);
            Some(value)
        }
        Some(Err(_)) => {
            eprintln!(
                "error: the token of --token / QUIZMASTER_TOKEN is not an API token (it has characters a token never has)"
            );
            return EXIT_USAGE;
        }
    };
    let api = Api {
        client: Client::new(),
        base: server.trim_end_matches('/').to_string(),
        authorization,
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
        .map_err(|err| {
            Failure::new(
                EXIT_UNREACHABLE,
                format!(
                    "the server at {} answered something that is not QuizMaster's JSON: {err}",
                    api.base
                ),
            )
        })?;
    let topic_id = topic["id"]
        .as_str()
        .ok_or_else(|| Failure::new(EXIT_UNREACHABLE, "the server's topic has no id"))?
        .to_string();
    let generate = api
        .request(
            api.client
                .post(api.url(&format!("/api/topics/{topic_id}/blueprints/generate")))
                .json(&json!({"target_terminal_objectives": target})),
        )
        .send()
        .await
        .map_err(|err| api.unreachable(&err))?;
    // A 409 names the generation already running for this topic: follow that one instead.
    let started: Value = if generate.status() == StatusCode::CONFLICT {
        let body: Value = generate.json().await.unwrap_or(Value::Null);
        json!({"id": body["error"]["blueprint_id"]})
    } else if generate.status().is_success() {
        generate.json().await.unwrap_or(Value::Null)
    } else {
        return Err(api.refusal(generate).await);
    };
    let blueprint_id = started["id"]
        .as_str()
        .ok_or_else(|| Failure::new(EXIT_UNREACHABLE, "the server did not say which job started"))?
        .to_string();
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
                    Failure::new(EXIT_UNREACHABLE, format!("the export broke off: {err}"))
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
                one_line(end["error"].as_str().unwrap_or("no message"))
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
            // A refused token does not get better by asking again.
            Err(failure) if failure.code == EXIT_USAGE => return Err(failure),
            Err(failure) => {
                failures += 1;
                if failures >= MAX_FAILURES {
                    return Err(Failure::new(
                        EXIT_UNREACHABLE,
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
    // The SSE parser joins multi-line `data:` fields and decodes UTF-8 across chunk borders.
    let mut events = response.bytes_stream().eventsource();
    while let Some(event) = events.next().await {
        let event = event.map_err(|err| Failure::new(EXIT_JOB_FAILED, err.to_string()))?;
        if let Ok(status) = serde_json::from_str::<Value>(&event.data) {
            progress.update(
                status["status"].as_str().unwrap_or(""),
                status["terminal_objectives_count"].as_i64().unwrap_or(0),
            );
            *last = status;
        }
    }
    Ok(())
}
