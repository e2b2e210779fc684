//! The `openai` generator: any OpenAI-compatible chat-completions server (OpenAI, Ollama,
//! vLLM, llama.cpp's `llama-server`, llama-cpp-python). One streamed call asks for the
//! blueprint under a JSON schema; an incremental scanner picks each terminal objective out of
//! the stream the moment its closing brace arrives, repairs what can be repaired locally,
//! and stores it when it passes the rules, so progress moves while the model writes.
//!
//! Asking in a way the server takes. The first call asks with `response_format` `json_schema`;
//! a server that refuses it (a 4xx, or a 5xx whose body is a validation error about
//! `response_format`) is asked again at once with `json_object` and a `schema`, then with no
//! `response_format` and the shape shown in the prompt. The mode that works is remembered per
//! base URL (`server.rs`). A request the server calls invalid for any other reason is never
//! sent again unchanged: the generation ends with the server's message.
//!
//! Salvage, don't discard. Every terminal objective that passes is stored; one that breaks a
//! rule is dropped on its own (`salvage.rs`), and the next call asks only for what is still
//! missing, naming each broken rule once with an example. When the model cannot do better
//! within the attempts, the blueprint completes with what passed and its notes say what was
//! dropped and why; with nothing stored it ends in one line saying why.
//!
//! Budget. `max_tokens` follows the number of objectives asked for, and the prompt is kept
//! inside the server's context when the server says how large it is (`/props` on llama.cpp,
//! `/api/show` on Ollama); a small context gets a shorter source excerpt and fewer objectives
//! per call (`request::plan`).
//!
//! Failures and retries. A call fails on a connection error, a timeout, an HTTP 408/409/429/
//! 5xx, an error event in the stream, a cut-off answer (`finish_reason: "length"`, or the
//! stream ends without `[DONE]`), a refusal, or an answer with nothing usable in it. A call
//! that stored nothing new counts against `max_attempts`; it is retried after an exponential
//! backoff with jitter, or after exactly what `retry-after-ms` / `Retry-After` asks. Other
//! HTTP errors (400, 401, 403, 404, ...) end the generation at once: retrying cannot fix a
//! wrong key, URL or model.
//!
//! No duplicates on retry. The sink stores whole terminal objectives only, so a failed call
//! leaves complete objectives behind and never half of one. The next call tells the model
//! which terminal objectives are already stored and asks for the rest, and any objective that
//! is a near-duplicate of a stored one is skipped rather than stored. The same holds across
//! worker attempts: `GenerationRequest::stored_terminal_texts`.
//!
//! Secrets. The API key goes only into the `Authorization` header; it is never logged, never
//! part of an error, and any echo of it in a server's error message is masked.

mod request;
mod salvage;
mod server;
mod stream;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use request::{
    blueprint_schema, plan, Budget, Ordered, ResponseMode, SchemaDialect, SOURCE_PROMPT_CHARS,
};
pub use salvage::Rule;

use super::quality::{similarity, NEAR_DUPLICATE_SIMILARITY};
use super::{GenerateError, GenerationRequest, Generator, ObjectiveSink, SinkError};
use crate::telemetry::{LLM_OBJECTIVES_DROPPED, LLM_OBJECTIVES_REPAIRED};
use eventsource_stream::EventStreamError;
use request::{ChatMessage, ChatRequest, SHAPE_EXAMPLE, SYSTEM_PROMPT};
use salvage::Verdict;
use stream::{json_document, sse_events, Chunk, ScanEvent, Scanner, SseEvent};

/// At most this much of an error body is read.
const ERROR_BODY_BYTES: usize = 16 * 1024;
/// The longest wait a `Retry-After` may impose.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);
/// Sampling temperature for local servers (see `ChatRequest::temperature`).
const LOCAL_TEMPERATURE: f32 = 0.2;
/// A CPU-only model's pace, for the hint in a timeout's message.
const SLOW_MODEL_TOKENS_PER_SEC: u32 = 10;

/// How to reach the model and how patiently.
#[derive(Clone)]
pub struct OpenAiSettings {
    /// Like `http://127.0.0.1:11434/v1`; the call is `POST {base_url}/chat/completions`.
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer ...` when set.
    pub api_key: Option<String>,
    /// The longest one call may take, from sending the request to the end of the stream
    /// (`QUIZMASTER_LLM_TIMEOUT_SECS`).
    pub request_timeout: Duration,
    /// Calls that store nothing new before the generation gives up, the first included. Calls
    /// that store objectives do not count (each stores at least one, so they are bounded by
    /// the target).
    pub max_attempts: u32,
    /// The first backoff; each further one doubles, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("request_timeout", &self.request_timeout)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

pub struct OpenAiGenerator {
    settings: OpenAiSettings,
    client: reqwest::Client,
    endpoint: String,
    /// The endpoint without any password in it, for logs and messages.
    shown_endpoint: String,
    /// The base URL without any password in it, for the metric's label.
    shown_base: String,
    dialect: SchemaDialect,
    /// The `response_format` that works with this server, and its context.
    server: server::ServerMemory,
}

impl OpenAiGenerator {
    pub fn new(settings: OpenAiSettings) -> anyhow::Result<Self> {
        let endpoint = format!(
            "{}/chat/completions",
            settings.base_url.trim_end_matches('/')
        );
        let mut url = reqwest::Url::parse(&endpoint).map_err(|err| {
            anyhow::anyhow!(
                "QUIZMASTER_LLM_BASE_URL {:?} is not a valid URL ({err}); use one like http://127.0.0.1:11434/v1",
                settings.base_url
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            anyhow::bail!(
                "QUIZMASTER_LLM_BASE_URL {:?} must start with http:// or https://",
                settings.base_url
            );
        }
        // No read timeout: a CPU model reading a long prompt sends nothing for minutes, and a
        // read timeout as long as the call's own deadline would race it and end the call with
        // a vaguer message than the deadline's (which names the setting that raises it).
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| anyhow::anyhow!("Failed to build the HTTP client: {err}"))?;
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        let shown_endpoint = url.to_string();
        let shown_base = shown_endpoint
            .strip_suffix("/chat/completions")
            .unwrap_or(&shown_endpoint)
            .to_string();
        Ok(Self {
            dialect: SchemaDialect::for_base_url(&settings.base_url),
            settings,
            client,
            endpoint,
            shown_endpoint,
            shown_base,
            server: server::ServerMemory::default(),
        })
    }

    /// Masks the API key wherever a server echoed it back.
    fn redact(&self, text: &str) -> String {
        match &self.settings.api_key {
            Some(key) if !key.is_empty() => text.replace(key.as_str(), "***"),
            _ => text.to_string(),
        }
    }
}

/// Why one call did not give a complete answer.
#[derive(Debug)]
enum CallError {
    /// Worth another call. `model_fault`: the model wrote something unusable (as opposed to
    /// the server or the network failing), so `message` also goes into the next prompt.
    Retry {
        message: String,
        retry_after: Option<Duration>,
        model_fault: bool,
    },
    /// The server refused the request's `response_format`: ask in the next mode.
    FormatRefused(String),
    /// Retrying cannot help (wrong key, URL, model, request).
    Fatal(String),
    /// Stopped, or storage failed: pass it on.
    Generate(GenerateError),
}

impl CallError {
    fn retry(message: impl Into<String>) -> Self {
        CallError::Retry {
            message: message.into(),
            retry_after: None,
            model_fault: false,
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        CallError::Retry {
            message: message.into(),
            retry_after: None,
            model_fault: true,
        }
    }
}

impl From<SinkError> for CallError {
    fn from(err: SinkError) -> Self {
        match err {
            SinkError::Invalid(message) => CallError::invalid(message),
            other => CallError::Generate(other.into()),
        }
    }
}

/// What the generation has stored and dropped so far, across calls.
struct Progress {
    target: usize,
    stored_texts: Vec<String>,
    summary_set: bool,
    /// The topic's source, read once: where an objective the model wrote finds its evidence.
    source: std::sync::Arc<super::source::Analysis>,
    /// Terminal objectives dropped in all, by the rules they broke.
    dropped: BTreeMap<Rule, usize>,
    dropped_count: usize,
    /// The rules broken in the last call, for the next prompt.
    last_call_rules: BTreeSet<Rule>,
    last_call_dropped: usize,
}

impl Progress {
    fn stored(&self) -> usize {
        self.stored_texts.len()
    }

    fn is_duplicate(&self, text: &str) -> bool {
        self.stored_texts
            .iter()
            .any(|stored| similarity(stored, text) >= NEAR_DUPLICATE_SIMILARITY)
    }

    /// "3 had more than 30 words, 1 did not start with their verb".
    fn dropped_summary(&self) -> String {
        let mut by_count: Vec<(&Rule, &usize)> = self.dropped.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        by_count
            .iter()
            .map(|(rule, n)| format!("{n} {}", rule.label()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One line: servers' messages may hold newlines, the blueprint's error must not.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[async_trait]
impl Generator for OpenAiGenerator {
    fn name(&self) -> &'static str {
        "openai"
    }

    async fn generate(
        &self,
        request: &GenerationRequest,
        sink: &mut dyn ObjectiveSink,
        cancel: &CancellationToken,
    ) -> Result<(), GenerateError> {
        // Reading the source (to ground objectives the model leaves without evidence) is CPU
        // work, done off the runtime.
        let topic = request.topic.clone();
        let source = super::cpu::run(move || super::source::analyse_shared(&topic))
            .await
            .map_err(|err| GenerateError::Failed(format!("reading the source failed: {err}")))?;
        let mut progress = Progress {
            target: request.target_terminal_objectives.max(1),
            stored_texts: request.stored_terminal_texts.clone(),
            summary_set: request.already_stored > 0,
            source,
            dropped: BTreeMap::new(),
            dropped_count: 0,
            last_call_rules: BTreeSet::new(),
            last_call_dropped: 0,
        };
        // Objectives stored by an earlier attempt whose texts we were not given still count.
        while progress.stored_texts.len() < request.already_stored {
            progress.stored_texts.push(String::new());
        }
        let context = tokio::select! {
            _ = cancel.cancelled() => return Err(GenerateError::Stopped),
            context = self.server.context_tokens(&self.client, &self.settings.base_url, &self.settings.model) => context,
        };
        let max_attempts = self.settings.max_attempts.max(1);
        let mut failures = 0u32;
        let mut calls = 0u32;
        let mut mode = self.server.response_mode();
        let mut feedback: Option<String> = None;
        // The last failure, and whether it was the model's (rather than the server's).
        let mut last_problem: Option<(String, bool)> = None;
        while progress.stored() < progress.target && failures < max_attempts {
            let before = progress.stored();
            let (body, budget) =
                self.request_body(request, &progress, feedback.as_deref(), mode, context);
            calls += 1;
            self.server.use_mode(&self.shown_base, mode);
            tracing::info!(
                call = calls,
                failures,
                max_attempts,
                model = %self.settings.model,
                endpoint = %self.shown_endpoint,
                mode = mode.as_str(),
                asked = budget.terminals,
                max_tokens = budget.max_tokens,
                context = ?context,
                stored = before,
                "calling the model"
            );
            progress.last_call_rules.clear();
            progress.last_call_dropped = 0;
            let call = tokio::time::timeout(
                self.settings.request_timeout,
                self.call(body, request, &mut progress, sink),
            );
            // Dropping the call closes the connection to the model at once.
            let outcome = tokio::select! {
                _ = cancel.cancelled() => return Err(GenerateError::Stopped),
                outcome = call => outcome,
            };
            let progressed = progress.stored() > before;
            let error = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(error),
                Err(_) => Some(CallError::retry(self.timeout_message(budget))),
            };
            let rules_feedback = self.rules_feedback(&progress);
            match error {
                None => {
                    if progress.stored() >= progress.target {
                        break;
                    }
                    if progress.last_call_dropped > 0 {
                        let problem = format!(
                            "{} terminal objectives broke the rules ({})",
                            progress.last_call_dropped,
                            progress
                                .last_call_rules
                                .iter()
                                .map(|r| r.label())
                                .collect::<Vec<_>>()
                                .join("; ")
                        );
                        last_problem = Some((problem, true));
                        feedback = rules_feedback;
                        if !progressed {
                            failures += 1;
                        }
                        continue;
                    }
                    if !progressed {
                        // A valid answer with nothing new: asking again will not help.
                        last_problem = Some((
                            "the model wrote only objectives that are already stored".into(),
                            true,
                        ));
                        break;
                    }
                    feedback = None;
                    last_problem = None;
                }
                Some(CallError::Generate(err)) => return Err(err),
                Some(CallError::Fatal(message)) => {
                    return Err(GenerateError::Failed(one_line(&self.redact(&message))))
                }
                Some(CallError::FormatRefused(message)) => {
                    let message = self.redact(&message);
                    match mode.fallback() {
                        Some(next) => {
                            tracing::info!(
                                refused = mode.as_str(),
                                next = next.as_str(),
                                problem = %message,
                                "the model server refused the response_format; asking again without it"
                            );
                            mode = next;
                            self.server.use_mode(&self.shown_base, mode);
                            // Not the model's failure, and the next request differs: no wait,
                            // no attempt spent. At most two such steps.
                            continue;
                        }
                        None => return Err(GenerateError::Failed(one_line(&message))),
                    }
                }
                Some(CallError::Retry {
                    message,
                    retry_after,
                    model_fault,
                }) => {
                    let message = self.redact(&message);
                    tracing::warn!(call = calls, failures, max_attempts, problem = %message, "model call failed");
                    feedback = match (model_fault, rules_feedback) {
                        (true, Some(rules)) => {
                            Some(format!("{}. {rules}", truncate(&message, 300)))
                        }
                        (true, None) => Some(truncate(&message, 300)),
                        (false, rules) => rules,
                    };
                    last_problem = Some((message, model_fault || progress.last_call_dropped > 0));
                    if !progressed {
                        failures += 1;
                    }
                    if failures < max_attempts {
                        let wait = retry_after
                            .map(|w| w.min(RETRY_AFTER_CAP))
                            .unwrap_or_else(|| self.backoff(failures.max(1)));
                        tokio::select! {
                            _ = cancel.cancelled() => return Err(GenerateError::Stopped),
                            _ = tokio::time::sleep(wait) => {}
                        }
                    }
                }
            }
        }
        if !progress.summary_set {
            let title = format!("{}: quiz blueprint", request.topic.title.trim());
            sink.set_summary(&title, "").await?;
        }
        let stored = progress.stored();
        if stored >= progress.target {
            return Ok(());
        }
        match last_problem {
            _ if stored == 0 => {
                let problem = last_problem
                    .map(|(p, _)| p)
                    .unwrap_or_else(|| "the answer held no terminal objective".into());
                let dropped = if progress.dropped_count > 0 {
                    format!(
                        " The model wrote {} terminal objectives, all of which broke the rules: {}.",
                        progress.dropped_count,
                        progress.dropped_summary()
                    )
                } else {
                    String::new()
                };
                Err(GenerateError::Failed(one_line(&format!(
                    "The model {:?} at {} did not give a valid blueprint in {calls} calls \
                     (0 of {} terminal objectives stored). Last problem: {problem}.{dropped} \
                     Check that the server is up and that the model can write JSON, try a \
                     larger model, or use QUIZMASTER_GENERATOR=offline.",
                    self.settings.model, self.shown_endpoint, progress.target
                ))))
            }
            // The server or the network failed, not the model: a later attempt may do better.
            Some((problem, false)) => Err(GenerateError::Failed(one_line(&format!(
                "The model {:?} at {} did not finish the blueprint in {calls} calls ({stored} of \
                 {} terminal objectives stored). Last problem: {problem}.",
                self.settings.model, self.shown_endpoint, progress.target
            )))),
            _ => {
                let why = if progress.dropped_count > 0 {
                    let (were, they) = if progress.dropped_count == 1 {
                        ("was", "it")
                    } else {
                        ("were", "they")
                    };
                    format!(
                        "{} more {were} left out because {they} broke the rules: {}",
                        progress.dropped_count,
                        progress.dropped_summary()
                    )
                } else {
                    "it wrote no further objectives that were not already there".to_string()
                };
                let note = format!(
                    "The model {} wrote {stored} of the {} terminal objectives asked for that \
                     pass the quality checks, in {calls} calls; {why}.",
                    self.settings.model, progress.target
                );
                tracing::info!(stored, target = progress.target, %note, "completing with what passed");
                sink.add_note(&note).await?;
                Ok(())
            }
        }
    }
}

impl OpenAiGenerator {
    /// Exponential backoff with "equal jitter": half the delay fixed, half random.
    fn backoff(&self, failed_attempt: u32) -> Duration {
        let exp = self
            .settings
            .backoff_base
            .saturating_mul(2u32.saturating_pow(failed_attempt.saturating_sub(1)))
            .min(self.settings.backoff_max);
        let half = exp / 2;
        half + half.mul_f64(jitter_fraction())
    }

    fn timeout_message(&self, budget: Budget) -> String {
        let limit = self.settings.request_timeout;
        let limit = if limit >= Duration::from_secs(1) {
            format!("{} s", limit.as_secs())
        } else {
            format!("{} ms", limit.as_millis())
        };
        let slow = budget.max_tokens / SLOW_MODEL_TOKENS_PER_SEC;
        format!(
            "the model did not finish its answer within {limit}, the limit for one call; a \
             model on a CPU writing {SLOW_MODEL_TOKENS_PER_SEC} tokens/s may need up to {slow} s \
             for this one: raise QUIZMASTER_LLM_TIMEOUT_SECS (and QUIZMASTER_GENERATION_TIMEOUT_SECS \
             for the whole job) for slow local models"
        )
    }

    /// The repair instructions for the rules the last call broke: each once, with an example.
    fn rules_feedback(&self, progress: &Progress) -> Option<String> {
        if progress.last_call_rules.is_empty() {
            return None;
        }
        let rules: Vec<&str> = progress
            .last_call_rules
            .iter()
            .map(|r| r.instruction())
            .collect();
        Some(format!(
            "{} of its terminal objectives broke these rules and were left out:\n- {}",
            progress.last_call_dropped,
            rules.join("\n- ")
        ))
    }

    /// The request for one call, serialised in the order the schema is written, and the
    /// budget it was planned with.
    fn request_body(
        &self,
        request: &GenerationRequest,
        progress: &Progress,
        feedback: Option<&str>,
        mode: ResponseMode,
        context: Option<u32>,
    ) -> (Vec<u8>, Budget) {
        let topic = &request.topic;
        let mut head = format!("Topic: {}\n", topic.title.trim());
        if let Some(description) = topic
            .description
            .as_deref()
            .filter(|d| !d.trim().is_empty())
        {
            head.push_str(&format!("Description: {}\n", description.trim()));
        }
        let source = topic
            .source_text
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let remaining = progress.target.saturating_sub(progress.stored()).max(1);
        let stored: Vec<&str> = progress
            .stored_texts
            .iter()
            .filter(|t| !t.is_empty())
            .map(String::as_str)
            .collect();
        let system = match mode {
            ResponseMode::Instruction => format!("{SYSTEM_PROMPT} {SHAPE_EXAMPLE}"),
            _ => SYSTEM_PROMPT.to_string(),
        };
        let ask = |n: usize| {
            let mut ask = if progress.stored() == 0 {
                format!("\nWrite a blueprint with exactly {n} terminal objectives.")
            } else {
                format!(
                    "\n{} terminal objectives are already in the blueprint{}\nWrite exactly {n} \
                     NEW terminal objectives that do not repeat them.",
                    progress.stored(),
                    if stored.is_empty() {
                        ".".to_string()
                    } else {
                        format!(":\n- {}", stored.join("\n- "))
                    }
                )
            };
            if let Some(problem) = feedback {
                ask.push_str(&format!(
                    "\nYour previous answer was rejected: {problem}\nFollow every rule exactly."
                ));
            }
            ask
        };
        // The fixed part, measured with the longest ask, and then the source in what is left.
        let fixed_chars = system.chars().count()
            + head.chars().count()
            + ask(remaining).chars().count()
            + "Source material:\n<<<\n\n>>>\n".len();
        let source_chars = source.map_or(0, |s| s.chars().count());
        let budget = plan(context, fixed_chars, source_chars, remaining);
        let mut user = head;
        if let Some(source) = source.filter(|_| budget.source_chars > 0) {
            let shown = truncate(source, budget.source_chars);
            user.push_str(&format!("Source material:\n<<<\n{shown}\n>>>\n"));
        }
        user.push_str(&ask(budget.terminals));
        let schema = request::blueprint_schema(self.dialect, budget.terminals);
        let body = ChatRequest {
            model: &self.settings.model,
            stream: true,
            max_tokens: budget.max_tokens,
            temperature: (self.dialect == SchemaDialect::Constrained).then_some(LOCAL_TEMPERATURE),
            messages: vec![
                ChatMessage {
                    role: "system",
                    content: system,
                },
                ChatMessage {
                    role: "user",
                    content: user,
                },
            ],
            response_format: request::response_format(mode, schema),
        };
        // Serialising plain strings, numbers and ordered maps cannot fail.
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        (bytes, budget)
    }

    /// One streamed call: sends the request, reads the stream, stores each complete terminal
    /// objective that passes. `Ok` when the answer arrived whole.
    async fn call(
        &self,
        body: Vec<u8>,
        request: &GenerationRequest,
        progress: &mut Progress,
        sink: &mut dyn ObjectiveSink,
    ) -> Result<(), CallError> {
        let mut builder = self
            .client
            .post(&self.endpoint)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(key) = self.settings.api_key.as_deref().filter(|k| !k.is_empty()) {
            builder = builder.bearer_auth(key);
        }
        let response = builder.send().await.map_err(|err| {
            CallError::retry(format!(
                "could not reach the model server at {}: {}",
                self.shown_endpoint,
                describe_reqwest_error(&err)
            ))
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.http_error(response).await);
        }
        let is_stream = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.contains("event-stream"));

        let mut answer = AnswerState::default();
        if is_stream {
            let mut events = std::pin::pin!(sse_events(response.bytes_stream()));
            while let Some(event) = events.next().await {
                let event = event.map_err(|err| match err {
                    EventStreamError::Transport(err) => CallError::retry(format!(
                        "the connection to the model broke mid-answer: {}",
                        describe_reqwest_error(&err)
                    )),
                    malformed => CallError::retry(format!(
                        "the server's event stream is malformed: {malformed}"
                    )),
                })?;
                if let Flow::Done = self
                    .handle_event(event, &mut answer, request, progress, sink)
                    .await?
                {
                    break;
                }
            }
        } else {
            // A server that ignored `stream: true` and answered with one JSON document.
            let text = response.text().await.map_err(|err| {
                CallError::retry(format!(
                    "the connection to the model broke mid-answer: {}",
                    describe_reqwest_error(&err)
                ))
            })?;
            let value: Value = serde_json::from_str(&text).map_err(|err| {
                CallError::invalid(format!("the server's answer is not JSON ({err})"))
            })?;
            if let Some(message) = error_message(&value) {
                return Err(CallError::retry(format!(
                    "the model server reported: {message}"
                )));
            }
            let chunk: Chunk = serde_json::from_value(value).unwrap_or_default();
            answer.done = true;
            self.apply_chunk(chunk, &mut answer, request, progress, sink)
                .await?;
        }
        self.finish_answer(&answer, request, progress, sink).await
    }

    async fn handle_event(
        &self,
        event: SseEvent,
        answer: &mut AnswerState,
        request: &GenerationRequest,
        progress: &mut Progress,
        sink: &mut dyn ObjectiveSink,
    ) -> Result<Flow, CallError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            answer.done = true;
            return Ok(Flow::Done);
        }
        if data.is_empty() {
            return Ok(Flow::Continue);
        }
        let value: Value = match serde_json::from_str(data) {
            Ok(value) => value,
            Err(_) if event.name.as_deref() == Some("error") => {
                return Err(CallError::retry(format!(
                    "the model server reported an error mid-stream: {}",
                    truncate(data, 500)
                )))
            }
            Err(err) => {
                return Err(CallError::retry(format!(
                    "the server sent a stream chunk that is not JSON ({err}): {}",
                    truncate(data, 200)
                )))
            }
        };
        if event.name.as_deref() == Some("error")
            || value.get("error").is_some_and(|e| !e.is_null())
            || value.get("object").and_then(Value::as_str) == Some("error")
        {
            let message = error_message(&value).unwrap_or_else(|| truncate(data, 500));
            return Err(CallError::retry(format!(
                "the model server reported an error mid-stream: {message}"
            )));
        }
        let chunk: Chunk = serde_json::from_value(value).unwrap_or_default();
        self.apply_chunk(chunk, answer, request, progress, sink)
            .await
    }

    async fn apply_chunk(
        &self,
        chunk: Chunk,
        answer: &mut AnswerState,
        request: &GenerationRequest,
        progress: &mut Progress,
        sink: &mut dyn ObjectiveSink,
    ) -> Result<Flow, CallError> {
        let Some(choice) = chunk.choices.into_iter().next() else {
            return Ok(Flow::Continue);
        };
        if let Some(reason) = choice.finish_reason {
            answer.finish_reason = Some(reason);
        }
        let part = choice.delta.or(choice.message).unwrap_or_default();
        if let Some(refusal) = part.refusal {
            answer.refusal.push_str(&refusal);
        }
        let Some(content) = part.content else {
            return Ok(Flow::Continue);
        };
        for event in answer.scanner.push(&content) {
            match event {
                ScanEvent::Field(name, value) => {
                    match name.as_str() {
                        "title" => answer.title = Some(value),
                        "description" => answer.description = Some(value),
                        _ => {}
                    }
                    if let (Some(title), Some(description), false) =
                        (&answer.title, &answer.description, progress.summary_set)
                    {
                        sink.set_summary(title, description).await?;
                        progress.summary_set = true;
                    }
                }
                ScanEvent::Terminal(raw) => {
                    answer.terminals_seen += 1;
                    if self.take_terminal(&raw, request, progress, sink).await? {
                        // The target is reached: no need to read (or pay for) the rest.
                        answer.done = true;
                        answer.target_reached = true;
                        return Ok(Flow::Done);
                    }
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// Repairs, checks and stores one terminal objective from the stream; one that breaks the
    /// rules is dropped on its own. `true` once the target is reached.
    async fn take_terminal(
        &self,
        raw: &str,
        request: &GenerationRequest,
        progress: &mut Progress,
        sink: &mut dyn ObjectiveSink,
    ) -> Result<bool, CallError> {
        let (mut draft, repairs) = match salvage::salvage_terminal(raw) {
            Verdict::Keep(draft, repairs) => (draft, repairs),
            Verdict::Drop(rules) => {
                tracing::info!(
                    rules = ?rules,
                    objective = %truncate(raw, 300),
                    "dropping a terminal objective that breaks the rules"
                );
                for rule in &rules {
                    *progress.dropped.entry(*rule).or_default() += 1;
                    metrics::counter!(LLM_OBJECTIVES_DROPPED, "rule" => format!("{rule:?}"))
                        .increment(1);
                }
                progress.dropped_count += 1;
                progress.last_call_dropped += 1;
                progress.last_call_rules.extend(rules);
                return Ok(false);
            }
        };
        if progress.is_duplicate(&draft.objective.text) {
            tracing::info!(text = %draft.objective.text, "skipping an objective already stored");
            return Ok(false);
        }
        if progress.stored() >= progress.target {
            return Ok(true);
        }
        for repair in &repairs {
            metrics::counter!(LLM_OBJECTIVES_REPAIRED, "repair" => repair.as_str()).increment(1);
        }
        if !repairs.is_empty() {
            tracing::debug!(repairs = ?repairs, text = %draft.objective.text, "repaired locally");
        }
        if !progress.summary_set {
            // The model wrote objectives before its title: use a plain one.
            let title = format!("{}: quiz blueprint", request.topic.title.trim());
            sink.set_summary(&title, "").await?;
            progress.summary_set = true;
        }
        super::source::ground(&progress.source, &mut draft);
        let text = draft.objective.text.clone();
        sink.store_terminal(draft).await?;
        progress.stored_texts.push(text);
        Ok(progress.stored() >= progress.target)
    }

    /// After the stream: was the answer whole?
    async fn finish_answer(
        &self,
        answer: &AnswerState,
        request: &GenerationRequest,
        progress: &mut Progress,
        sink: &mut dyn ObjectiveSink,
    ) -> Result<(), CallError> {
        if answer.target_reached {
            return Ok(());
        }
        if !answer.refusal.trim().is_empty() {
            return Err(CallError::invalid(format!(
                "the model refused: {}",
                truncate(answer.refusal.trim(), 300)
            )));
        }
        match answer.finish_reason.as_deref() {
            Some("length") => {
                return Err(CallError::invalid(format!(
                    "the answer was cut off at its token limit (finish_reason \"length\") after \
                     {} terminal objectives; keep every objective short",
                    answer.terminals_seen
                )))
            }
            Some("content_filter") => return Err(CallError::retry(
                "the server's content filter stopped the answer (finish_reason \"content_filter\")",
            )),
            _ => {}
        }
        if !answer.done && answer.finish_reason.is_none() {
            return Err(CallError::retry(format!(
                "the stream ended before the answer was complete (no [DONE]) after {} terminal objectives",
                answer.terminals_seen
            )));
        }
        let content = answer.scanner.text();
        let document = json_document(content).ok_or_else(|| {
            CallError::invalid(format!(
                "the answer is not a JSON object: {}",
                truncate(content.trim(), 200)
            ))
        })?;
        let parsed: Value = serde_json::from_str(document).map_err(|err| {
            CallError::invalid(format!(
                "the answer is not valid JSON of the blueprint schema ({err})"
            ))
        })?;
        if !progress.summary_set {
            let title = parsed["title"]
                .as_str()
                .filter(|t| !t.trim().is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}: quiz blueprint", request.topic.title.trim()));
            sink.set_summary(&title, parsed["description"].as_str().unwrap_or(""))
                .await?;
            progress.summary_set = true;
        }
        if answer.terminals_seen == 0 {
            return Err(CallError::invalid(
                "the answer has no terminal objectives (\"terminal_objectives\" is empty or missing)",
            ));
        }
        Ok(())
    }

    /// Turns a non-2xx answer into a retry, a change of `response_format`, or a fatal error,
    /// with the server's own message.
    async fn http_error(&self, response: reqwest::Response) -> CallError {
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(Ok(chunk)) = stream.next().await {
            body.extend_from_slice(&chunk);
            if body.len() >= ERROR_BODY_BYTES {
                break;
            }
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_BYTES)]).to_string();
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| error_message(&v))
            .unwrap_or_else(|| truncate(text.trim(), 300));
        let detail = self.redact(&detail);
        let what = format!("the model server answered {status}: {detail}");
        let code = status.as_u16();
        match classify_refusal(code, &text) {
            Refusal::ResponseFormat => return CallError::FormatRefused(what),
            Refusal::Invalid if code >= 500 => {
                return CallError::Fatal(format!(
                    "{what}. The server called the request invalid; sending it again unchanged \
                     cannot help."
                ))
            }
            _ => {}
        }
        match code {
            408 | 409 | 429 | 500..=599 => CallError::Retry {
                message: what,
                retry_after,
                model_fault: false,
            },
            401 | 403 => CallError::Fatal(format!(
                "{what}. Check QUIZMASTER_LLM_API_KEY (it is sent as a Bearer token only when set)."
            )),
            404 => CallError::Fatal(format!(
                "{what}. Check QUIZMASTER_LLM_BASE_URL (calls go to {}) and QUIZMASTER_LLM_MODEL ({:?}).",
                self.shown_endpoint, self.settings.model
            )),
            _ => CallError::Fatal(format!(
                "{what}. The server rejected the request; check that the model {:?} supports \
                 streaming chat completions.",
                self.settings.model
            )),
        }
    }
}

/// What an error answer says about the request.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// The server does not take this `response_format`.
    ResponseFormat,
    /// The request is invalid for another reason.
    Invalid,
    /// Nothing that says the request was at fault.
    Other,
}

/// A refusal of the `response_format` is a 4xx, or a 5xx whose body is a validation error
/// (llama-cpp-python answers a request it cannot parse with a 500), that names it.
fn classify_refusal(status: u16, body: &str) -> Refusal {
    let lower = body.to_ascii_lowercase();
    let names_format = ["response_format", "json_schema", "response format"]
        .iter()
        .any(|w| lower.contains(w));
    let validation = [
        "validation",
        "input should be",
        "invalid_request",
        "unprocessable",
        "not supported",
        "unsupported",
    ]
    .iter()
    .any(|w| lower.contains(w));
    let client_error =
        (400..500).contains(&status) && !matches!(status, 401 | 403 | 404 | 408 | 409 | 429);
    if names_format && (client_error || (status >= 500 && validation)) {
        Refusal::ResponseFormat
    } else if client_error || (status >= 500 && validation) {
        Refusal::Invalid
    } else {
        Refusal::Other
    }
}

enum Flow {
    Continue,
    Done,
}

/// What one call's answer has shown so far.
#[derive(Default)]
struct AnswerState {
    scanner: Scanner,
    title: Option<String>,
    description: Option<String>,
    refusal: String,
    finish_reason: Option<String>,
    /// `[DONE]` arrived (or the whole answer came as one document).
    done: bool,
    target_reached: bool,
    terminals_seen: usize,
}

/// `retry-after-ms` (OpenAI) first, then `Retry-After` in seconds. An HTTP-date falls back to
/// the backoff.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    header("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The message of an error body in any of the shapes servers use: OpenAI's nested
/// `{"error": {"message"}}`, `{"error": "text"}`, and the flat `{"message"}` /
/// `{"object": "error", "message"}` of vLLM and others.
pub fn error_message(value: &Value) -> Option<String> {
    let error = value.get("error");
    error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .or_else(|| error.and_then(Value::as_str))
        .or_else(|| value.get("message").and_then(Value::as_str))
        .or_else(|| value.get("detail").and_then(Value::as_str))
        .map(|m| truncate(m.trim(), 500))
}

/// What went wrong, from the error's kind and its sources; never its top-level text, which
/// holds the URL (and so any password in it).
fn describe_reqwest_error(err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_body() || err.is_decode() {
        "reading the answer failed"
    } else {
        "the request failed"
    }
    .to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A value in [0, 1) for jitter; no need for a cryptographic source.
fn jitter_fraction() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ nanos;
    // splitmix64
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_messages_in_every_shape() {
        for body in [
            json!({"error": {"message": "nested", "type": "x"}}),
            json!({"error": "nested"}),
            json!({"message": "nested"}),
            json!({"object": "error", "message": "nested", "code": 400}),
        ] {
            assert_eq!(error_message(&body).as_deref(), Some("nested"), "{body}");
        }
        assert_eq!(error_message(&json!({"choices": []})), None);
    }

    #[test]
    fn refusals_of_the_response_format_are_told_from_other_errors() {
        let llama_cpp_python = r#"{"error":{"message":"[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}]","type":"internal_server_error"}}"#;
        assert_eq!(
            classify_refusal(500, llama_cpp_python),
            Refusal::ResponseFormat
        );
        assert_eq!(
            classify_refusal(
                400,
                r#"{"error": {"message": "response_format json_schema is not supported by this model"}}"#
            ),
            Refusal::ResponseFormat
        );
        assert_eq!(
            classify_refusal(
                422,
                r#"{"detail": [{"loc": ["body", "messages"], "msg": "Field required"}]}"#
            ),
            Refusal::Invalid
        );
        assert_eq!(
            classify_refusal(
                500,
                r#"{"error": {"message": "1 validation error: messages.0.role"}}"#
            ),
            Refusal::Invalid
        );
        assert_eq!(
            classify_refusal(500, r#"{"error": "upstream overloaded"}"#),
            Refusal::Other
        );
        assert_eq!(classify_refusal(503, "busy"), Refusal::Other);
        assert_eq!(
            classify_refusal(401, "bad key for response_format"),
            Refusal::Other,
            "a wrong key is reported as one"
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_capped() {
        let generator = OpenAiGenerator::new(OpenAiSettings {
            base_url: "http://127.0.0.1:9/v1".into(),
            model: "m".into(),
            api_key: Some("sk-secret".into()),
            request_timeout: Duration::from_secs(5),
            max_attempts: 4,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
        })
        .expect("generator");
        for attempt in 1..=6 {
            let wait = generator.backoff(attempt);
            let full = Duration::from_millis((100u64 << (attempt - 1)).min(1000));
            assert!(wait >= full / 2 && wait <= full, "{attempt}: {wait:?}");
        }
        assert!(!format!("{:?}", generator.settings).contains("sk-secret"));
        assert_eq!(generator.redact("bad key sk-secret"), "bad key ***");
    }

    #[test]
    fn a_timeout_names_the_limit_and_the_setting_that_raises_it() {
        let generator = OpenAiGenerator::new(OpenAiSettings {
            base_url: "http://127.0.0.1:9/v1".into(),
            model: "m".into(),
            api_key: None,
            request_timeout: Duration::from_secs(300),
            max_attempts: 4,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
        })
        .expect("generator");
        let message = generator.timeout_message(plan(None, 0, 0, 6));
        assert!(message.contains("within 300 s"), "{message}");
        assert!(message.contains("QUIZMASTER_LLM_TIMEOUT_SECS"), "{message}");
        assert!(message.contains("312 s"), "{message}");
    }
}
