//! The `openai` generator: any OpenAI-compatible chat-completions server (OpenAI, Ollama,
//! vLLM, llama.cpp). One streamed call asks for the whole blueprint under a strict JSON
//! schema; an incremental scanner picks each terminal objective out of the stream the moment
//! its closing brace arrives, checks it, and stores it, so progress moves while the model
//! writes.
//!
//! Failures and retries. A call fails on a connection error, a timeout, an HTTP 408/409/429/
//! 5xx, an error event in the stream, a cut-off answer (`finish_reason: "length"`, or the
//! stream ends without `[DONE]`), a refusal, or invalid output (not JSON of the schema, or an
//! objective that breaks the rules). A failed call is retried, at most `max_attempts` calls in
//! all, after an exponential backoff with jitter, or after exactly what `retry-after-ms` /
//! `Retry-After` asks. Other HTTP errors (400, 401, 403, 404, ...) end the generation at once:
//! retrying cannot fix a wrong key, URL or model.
//!
//! No duplicates on retry. The sink stores whole terminal objectives only, so a failed call
//! leaves complete objectives behind and never half of one. The next call tells the model
//! which terminal objectives are already stored and asks for the rest (the "repair" prompt;
//! after invalid output it also says what was wrong), and, in case the model writes them
//! again anyway, any objective that is a near-duplicate of a stored one is skipped rather than
//! stored. The same holds across worker attempts: `GenerationRequest::stored_terminal_texts`.
//!
//! Secrets. The API key goes only into the `Authorization` header; it is never logged, never
//! part of an error, and any echo of it in a server's error message is masked.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::quality::{similarity, terminal_problems, NEAR_DUPLICATE_SIMILARITY};
use super::{GenerateError, GenerationRequest, Generator, ObjectiveSink, SinkError};
use crate::domain::objective::verb_level;
use crate::domain::{BloomLevel, ObjectiveDraft, TerminalDraft};

/// At most this much source text goes into the prompt (characters), so that a 200,000-char
/// source still fits the context of small local models.
pub const SOURCE_PROMPT_CHARS: usize = 24_000;
/// At most this much of an error body is read.
const ERROR_BODY_BYTES: usize = 16 * 1024;
/// The longest wait a `Retry-After` may impose.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// How to reach the model and how patiently.
#[derive(Clone)]
pub struct OpenAiSettings {
    /// Like `http://127.0.0.1:11434/v1`; the call is `POST {base_url}/chat/completions`.
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer ...` when set.
    pub api_key: Option<String>,
    /// The longest one call may take, from sending the request to the end of the stream.
    pub request_timeout: Duration,
    /// Calls in all, the first included.
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
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // No byte for this long mid-stream counts as a dead connection.
            .read_timeout(settings.request_timeout.min(Duration::from_secs(120)))
            .build()
            .map_err(|err| anyhow::anyhow!("Failed to build the HTTP client: {err}"))?;
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        Ok(Self {
            settings,
            client,
            endpoint,
            shown_endpoint: url.to_string(),
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
    /// Worth another call. `feedback` goes into the next prompt when the model did wrong.
    Retry {
        message: String,
        retry_after: Option<Duration>,
        feedback: Option<String>,
    },
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
            feedback: None,
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        let message = message.into();
        CallError::Retry {
            feedback: Some(message.clone()),
            message,
            retry_after: None,
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

/// What the generation has stored so far, across calls.
struct Progress {
    target: usize,
    stored_texts: Vec<String>,
    summary_set: bool,
    /// The topic's source, read once: where an objective the model wrote finds its evidence.
    source: std::sync::Arc<super::source::Analysis>,
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
        };
        // Objectives stored by an earlier attempt whose texts we were not given still count.
        while progress.stored_texts.len() < request.already_stored {
            progress.stored_texts.push(String::new());
        }
        let max_attempts = self.settings.max_attempts.max(1);
        let mut feedback: Option<String> = None;
        let mut last_problem: Option<String> = None;
        for attempt in 1..=max_attempts {
            if progress.stored() >= progress.target {
                break;
            }
            let before = progress.stored();
            let body = request_body(
                &self.settings.model,
                request,
                &progress,
                feedback.as_deref(),
            );
            tracing::info!(
                attempt,
                max_attempts,
                model = %self.settings.model,
                endpoint = %self.shown_endpoint,
                stored = before,
                "calling the model"
            );
            let call = tokio::time::timeout(
                self.settings.request_timeout,
                self.call(&body, request, &mut progress, sink),
            );
            // Dropping the call closes the connection to the model at once.
            let outcome = tokio::select! {
                _ = cancel.cancelled() => return Err(GenerateError::Stopped),
                outcome = call => outcome,
            };
            let error = match outcome {
                Ok(Ok(())) => {
                    last_problem = None;
                    if progress.stored() >= progress.target {
                        break;
                    }
                    if progress.stored() == before {
                        // A valid answer with nothing new: asking again will not help.
                        break;
                    }
                    feedback = None;
                    continue;
                }
                Ok(Err(error)) => error,
                Err(_) => CallError::retry(format!(
                    "the model did not finish its answer within {} s",
                    self.settings.request_timeout.as_secs()
                )),
            };
            match error {
                CallError::Generate(err) => return Err(err),
                CallError::Fatal(message) => return Err(GenerateError::Failed(message)),
                CallError::Retry {
                    message,
                    retry_after,
                    feedback: next_feedback,
                } => {
                    let message = self.redact(&message);
                    tracing::warn!(attempt, max_attempts, problem = %message, "model call failed");
                    last_problem = Some(message);
                    feedback = next_feedback.map(|f| self.redact(&f));
                    if attempt < max_attempts {
                        let wait = retry_after
                            .map(|w| w.min(RETRY_AFTER_CAP))
                            .unwrap_or_else(|| self.backoff(attempt));
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
        match last_problem {
            Some(problem) if progress.stored() < progress.target => {
                Err(GenerateError::Failed(format!(
                    "The model {:?} at {} did not give a valid blueprint in {max_attempts} calls \
                     ({} of {} terminal objectives stored). Last problem: {problem}. Check that \
                     the server is up and that the model supports structured output \
                     (response_format json_schema), or use QUIZMASTER_GENERATOR=offline.",
                    self.settings.model,
                    self.shown_endpoint,
                    progress.stored(),
                    progress.target
                )))
            }
            _ if progress.stored() == 0 => Err(GenerateError::Failed(format!(
                "The model {:?} at {} answered without any terminal objective.",
                self.settings.model, self.shown_endpoint
            ))),
            _ => Ok(()),
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

    /// One streamed call: sends the request, reads the stream, stores each complete terminal
    /// objective. `Ok` when the answer arrived whole and valid.
    async fn call(
        &self,
        body: &Value,
        request: &GenerationRequest,
        progress: &mut Progress,
        sink: &mut dyn ObjectiveSink,
    ) -> Result<(), CallError> {
        let mut builder = self
            .client
            .post(&self.endpoint)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(body);
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
            let mut lines = SseLines::default();
            let mut bytes = response.bytes_stream();
            'read: while let Some(chunk) = bytes.next().await {
                let chunk = chunk.map_err(|err| {
                    CallError::retry(format!(
                        "the connection to the model broke mid-answer: {}",
                        describe_reqwest_error(&err)
                    ))
                })?;
                for event in lines.push(&chunk) {
                    match self
                        .handle_event(event, &mut answer, request, progress, sink)
                        .await?
                    {
                        Flow::Continue => {}
                        Flow::Done => break 'read,
                    }
                }
            }
            if !answer.done {
                for event in lines.finish() {
                    if let Flow::Done = self
                        .handle_event(event, &mut answer, request, progress, sink)
                        .await?
                    {
                        break;
                    }
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

    /// Checks and stores one terminal objective from the stream. `true` once the target is
    /// reached.
    async fn take_terminal(
        &self,
        raw: &str,
        request: &GenerationRequest,
        progress: &mut Progress,
        sink: &mut dyn ObjectiveSink,
    ) -> Result<bool, CallError> {
        let parsed: TerminalOut = serde_json::from_str(raw).map_err(|err| {
            CallError::invalid(format!(
                "a terminal objective does not match the schema ({err}): {}",
                truncate(raw, 300)
            ))
        })?;
        let draft = parsed.into_draft().map_err(CallError::invalid)?;
        if progress.is_duplicate(&draft.objective.text) {
            tracing::info!(text = %draft.objective.text, "skipping an objective already stored");
            return Ok(false);
        }
        let problems = terminal_problems(&draft);
        if !problems.is_empty() {
            return Err(CallError::invalid(format!(
                "the model wrote an objective that breaks the rules: {}",
                problems.join("; ")
            )));
        }
        if progress.stored() >= progress.target {
            return Ok(true);
        }
        if !progress.summary_set {
            // The model wrote objectives before its title: use a plain one.
            let title = format!("{}: quiz blueprint", request.topic.title.trim());
            sink.set_summary(&title, "").await?;
            progress.summary_set = true;
        }
        let mut draft = draft;
        super::source::ground(&progress.source, &mut draft);
        let text = draft.objective.text.clone();
        sink.store_terminal(draft).await?;
        progress.stored_texts.push(text);
        Ok(progress.stored() >= progress.target)
    }

    /// After the stream: was the answer whole and valid?
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
                return Err(CallError::retry(format!(
                    "the answer was cut off at the model's output limit (finish_reason \"length\") \
                     after {} terminal objectives",
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
        let parsed: AnswerOut = serde_json::from_str(document).map_err(|err| {
            CallError::invalid(format!(
                "the answer is not valid JSON of the blueprint schema ({err})"
            ))
        })?;
        if !progress.summary_set {
            let title = parsed
                .title
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| format!("{}: quiz blueprint", request.topic.title.trim()));
            sink.set_summary(&title, parsed.description.as_deref().unwrap_or(""))
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

    /// Turns a non-2xx answer into a retry or a fatal error, with the server's own message.
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
        match status.as_u16() {
            408 | 409 | 429 | 500..=599 => CallError::Retry {
                message: what,
                retry_after,
                feedback: None,
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
                 streaming and structured output (response_format json_schema).",
                self.settings.model
            )),
        }
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

/// The outermost JSON object in an answer, tolerating code fences or prose around it.
fn json_document(content: &str) -> Option<&str> {
    let start = content.find('{')?;
    let end = content.rfind('}')?;
    (end > start).then(|| &content[start..=end])
}

// ---------------------------------------------------------------------------------------
// The request.

const SYSTEM_PROMPT: &str = "You are an expert instructional designer. You write quiz \
blueprints as learning objectives following Bloom's revised taxonomy and Mager's ABCD model. \
Rules for every objective: the text starts with one measurable verb (for example define, list, \
explain, classify, apply, calculate, solve, analyze, compare, distinguish, evaluate, justify, \
critique, design, construct, propose) and that verb, as written, is the \"verb\" field; \
\"bloom_level\" is the level that verb stands for (remember, understand, apply, analyze, \
evaluate, create); it names exactly one observable behaviour; it has 5 to 30 words; it never \
uses understand, know, learn, appreciate, be familiar with, be aware of or similar; the \
condition (like \"given a data table\") and the criterion (like \"with 80% accuracy\") go in \
their own fields, or null when they make no sense. Terminal objectives sit at apply or above \
where the material allows; each has 2 to 6 enabling objectives, each at or below the \
terminal's level, lowest first. No two objectives may be near-duplicates. Cover the key \
concepts of the material and use several Bloom levels. Answer with JSON only.";

fn request_body(
    model: &str,
    request: &GenerationRequest,
    progress: &Progress,
    feedback: Option<&str>,
) -> Value {
    let topic = &request.topic;
    let mut user = format!("Topic: {}\n", topic.title.trim());
    if let Some(description) = topic
        .description
        .as_deref()
        .filter(|d| !d.trim().is_empty())
    {
        user.push_str(&format!("Description: {}\n", description.trim()));
    }
    if let Some(source) = topic
        .source_text
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        let shown = truncate(source.trim(), SOURCE_PROMPT_CHARS);
        user.push_str(&format!("Source material:\n<<<\n{shown}\n>>>\n"));
    }
    let remaining = progress.target.saturating_sub(progress.stored()).max(1);
    let stored: Vec<&str> = progress
        .stored_texts
        .iter()
        .filter(|t| !t.is_empty())
        .map(String::as_str)
        .collect();
    if progress.stored() == 0 {
        user.push_str(&format!(
            "\nWrite a blueprint with exactly {remaining} terminal objectives."
        ));
    } else {
        user.push_str(&format!(
            "\n{} terminal objectives are already in the blueprint{}\nWrite exactly {remaining} \
             NEW terminal objectives that do not repeat them.",
            progress.stored(),
            if stored.is_empty() {
                ".".to_string()
            } else {
                format!(":\n- {}", stored.join("\n- "))
            }
        ));
    }
    if let Some(problem) = feedback {
        user.push_str(&format!(
            "\nYour previous answer was rejected: {problem}. Follow every rule exactly."
        ));
    }
    json!({
        "model": model,
        "stream": true,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "blueprint", "strict": true, "schema": blueprint_schema()},
        },
    })
}

/// The JSON schema of the model's answer: exactly the contract's document, every field
/// required, no others (what strict structured output demands).
pub fn blueprint_schema() -> Value {
    let objective = |with_enabling: bool| {
        let mut properties = json!({
            "text": {"type": "string"},
            "verb": {"type": "string"},
            "bloom_level": {
                "type": "string",
                "enum": BloomLevel::ALL.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
            },
            "condition": {"type": ["string", "null"]},
            "criterion": {"type": ["string", "null"]},
        });
        let mut required = vec!["text", "verb", "bloom_level", "condition", "criterion"];
        if with_enabling {
            properties["enabling_objectives"] = json!({"type": "array", "items": objective_leaf()});
            required.push("enabling_objectives");
        }
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    };
    json!({
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "description": {"type": "string"},
            "terminal_objectives": {"type": "array", "items": objective(true)},
        },
        "required": ["title", "description", "terminal_objectives"],
        "additionalProperties": false,
    })
}

fn objective_leaf() -> Value {
    json!({
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "verb": {"type": "string"},
            "bloom_level": {
                "type": "string",
                "enum": BloomLevel::ALL.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
            },
            "condition": {"type": ["string", "null"]},
            "criterion": {"type": ["string", "null"]},
        },
        "required": ["text", "verb", "bloom_level", "condition", "criterion"],
        "additionalProperties": false,
    })
}

// ---------------------------------------------------------------------------------------
// Lenient types for what servers send: unknown fields are ignored, missing ones default.

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Chunk {
    choices: Vec<Choice>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Choice {
    delta: Option<Part>,
    message: Option<Part>,
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Part {
    content: Option<String>,
    refusal: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AnswerOut {
    title: Option<String>,
    description: Option<String>,
    terminal_objectives: Vec<TerminalOut>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ObjectiveOut {
    text: String,
    verb: String,
    bloom_level: String,
    condition: Option<String>,
    criterion: Option<String>,
    /// Not in the strict schema (yet): taken when a server's model sends it anyway.
    evidence: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TerminalOut {
    text: String,
    verb: String,
    bloom_level: String,
    condition: Option<String>,
    criterion: Option<String>,
    evidence: Option<String>,
    enabling_objectives: Vec<ObjectiveOut>,
}

impl ObjectiveOut {
    /// The draft, or what is wrong with it in words the model can act on.
    fn into_draft(self) -> Result<ObjectiveDraft, String> {
        let text = self.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            return Err("an objective has an empty \"text\"".into());
        }
        let level_name = self.bloom_level.trim().to_ascii_lowercase();
        let level = match level_name.as_str() {
            "analyse" => Some(BloomLevel::Analyze),
            other => BloomLevel::parse(other),
        }
        .ok_or_else(|| {
            format!(
                "objective {text:?} has the unknown bloom_level {:?}; use one of remember, \
                 understand, apply, analyze, evaluate, create",
                self.bloom_level
            )
        })?;
        // Lenient: when the text starts with a known verb, that word is the verb.
        let first = text
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_string();
        let verb = if verb_level(&first).is_some() {
            first
        } else {
            self.verb.trim().to_string()
        };
        let clean = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(ObjectiveDraft {
            text,
            verb,
            bloom_level: level,
            condition: clean(self.condition),
            criterion: clean(self.criterion),
            // Cut to the contract's length when stored (`ObjectiveDraft::stored_evidence`).
            evidence: clean(self.evidence),
        })
    }
}

impl TerminalOut {
    fn into_draft(self) -> Result<TerminalDraft, String> {
        let objective = ObjectiveOut {
            text: self.text,
            verb: self.verb,
            bloom_level: self.bloom_level,
            condition: self.condition,
            criterion: self.criterion,
            evidence: self.evidence,
        }
        .into_draft()?;
        let enabling = self
            .enabling_objectives
            .into_iter()
            .map(ObjectiveOut::into_draft)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TerminalDraft {
            objective,
            enabling,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Server-sent events: a small line parser.

#[derive(Debug, PartialEq, Eq)]
struct SseEvent {
    name: Option<String>,
    data: String,
}

/// Splits a byte stream into SSE events. Each `data:` line is taken as one event (every
/// OpenAI-compatible server sends one JSON document per line); `event:` names apply until the
/// next blank line; comments (`:`) and other fields are ignored.
#[derive(Default)]
struct SseLines {
    pending: Vec<u8>,
    event_name: Option<String>,
}

impl SseLines {
    fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(newline) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=newline).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(event) = self.line(line) {
                events.push(event);
            }
        }
        events
    }

    /// The last line, when the stream ended without a newline.
    fn finish(&mut self) -> Vec<SseEvent> {
        let rest = std::mem::take(&mut self.pending);
        let line = String::from_utf8_lossy(&rest);
        let line = line.trim_end_matches(['\n', '\r']).to_string();
        self.line(&line).into_iter().collect()
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            self.event_name = None;
            return None;
        }
        if let Some(data) = line.strip_prefix("data:") {
            return Some(SseEvent {
                name: self.event_name.clone(),
                data: data.strip_prefix(' ').unwrap_or(data).to_string(),
            });
        }
        if let Some(name) = line.strip_prefix("event:") {
            self.event_name = Some(name.trim().to_string());
        }
        None
    }
}

// ---------------------------------------------------------------------------------------
// The incremental JSON scanner.

/// What the scanner found in the growing answer.
#[derive(Debug, PartialEq, Eq)]
enum ScanEvent {
    /// A top-level string field is complete (`title`, `description`).
    Field(String, String),
    /// One element of the top-level `terminal_objectives` array is complete: its raw JSON.
    Terminal(String),
}

/// Follows the structure of a JSON document as it arrives, chunk by chunk, without parsing
/// it twice: a stack of open brackets, whether it is inside a string, and the current key of
/// the top-level object. When an object inside the top-level `terminal_objectives` array
/// closes, its text is handed out whole. Only ASCII bytes are structural in JSON, so scanning
/// bytes is safe for any UTF-8 content. Text before the first `{` (a code fence) is skipped.
#[derive(Default)]
struct Scanner {
    buf: String,
    pos: usize,
    stack: Vec<u8>,
    in_string: bool,
    escaped: bool,
    string_start: usize,
    /// In the top-level object: a key is expected next (not a value).
    expect_key: bool,
    top_key: Option<String>,
    element_start: Option<usize>,
}

impl Scanner {
    fn text(&self) -> &str {
        &self.buf
    }

    fn push(&mut self, text: &str) -> Vec<ScanEvent> {
        self.buf.push_str(text);
        let mut events = Vec::new();
        let bytes = self.buf.as_bytes();
        while self.pos < bytes.len() {
            let i = self.pos;
            let b = bytes[i];
            self.pos += 1;
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.stack.len() == 1 {
                        let raw = &self.buf[self.string_start..=i];
                        let value: Option<String> = serde_json::from_str(raw).ok();
                        if self.expect_key {
                            self.top_key = value;
                        } else if let (Some(key), Some(value)) = (&self.top_key, value) {
                            events.push(ScanEvent::Field(key.clone(), value));
                        }
                    }
                }
                continue;
            }
            match b {
                b'"' if !self.stack.is_empty() => {
                    self.in_string = true;
                    self.string_start = i;
                }
                b'{' | b'[' => {
                    if b == b'{'
                        && self.stack.as_slice() == b"{["
                        && self.top_key.as_deref() == Some("terminal_objectives")
                    {
                        self.element_start = Some(i);
                    }
                    self.stack.push(b);
                    if self.stack.len() == 1 {
                        self.expect_key = true;
                    }
                }
                b'}' | b']' => {
                    self.stack.pop();
                    if b == b'}' && self.stack.as_slice() == b"{[" {
                        if let Some(start) = self.element_start.take() {
                            events.push(ScanEvent::Terminal(self.buf[start..=i].to_string()));
                        }
                    }
                }
                b':' if self.stack.len() == 1 => self.expect_key = false,
                b',' if self.stack.len() == 1 => self.expect_key = true,
                _ => {}
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scanner_hands_out_each_terminal_as_soon_as_it_closes() {
        let doc = r#"```json
{"title": "T \"q\"", "description": "D", "terminal_objectives": [
 {"text": "Apply {x} [y]", "enabling_objectives": [{"text": "Define x"}]},
 {"text": "Compare a, b", "enabling_objectives": []}
]}```"#;
        let mut scanner = Scanner::default();
        let mut events = Vec::new();
        // Feed it in awkward pieces, including inside strings and escapes.
        for piece in doc.as_bytes().chunks(3) {
            events.extend(scanner.push(std::str::from_utf8(piece).expect("ascii")));
        }
        assert_eq!(
            events[0],
            ScanEvent::Field("title".into(), "T \"q\"".into())
        );
        assert_eq!(
            events[1],
            ScanEvent::Field("description".into(), "D".into())
        );
        let terminals: Vec<&ScanEvent> = events
            .iter()
            .filter(|e| matches!(e, ScanEvent::Terminal(_)))
            .collect();
        assert_eq!(terminals.len(), 2);
        if let ScanEvent::Terminal(raw) = terminals[0] {
            let value: Value = serde_json::from_str(raw).expect("whole object");
            assert_eq!(value["text"], "Apply {x} [y]");
        }
    }

    #[test]
    fn sse_lines_split_across_chunks() {
        let mut lines = SseLines::default();
        let mut events = lines.push(b"data: {\"a\"");
        assert!(events.is_empty());
        events.extend(lines.push(b":1}\r\n\r\n: comment\nevent: error\ndata: x\n\ndata: [DONE]"));
        events.extend(lines.finish());
        assert_eq!(
            events,
            vec![
                SseEvent {
                    name: None,
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    name: Some("error".into()),
                    data: "x".into()
                },
                SseEvent {
                    name: None,
                    data: "[DONE]".into()
                },
            ]
        );
    }

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
    fn the_schema_requires_every_field_and_allows_no_other() {
        let schema = blueprint_schema();
        assert_eq!(schema["additionalProperties"], false);
        let terminal = &schema["properties"]["terminal_objectives"]["items"];
        assert_eq!(terminal["required"].as_array().map(Vec::len), Some(6));
        let enabling = &terminal["properties"]["enabling_objectives"]["items"];
        assert_eq!(enabling["additionalProperties"], false);
        assert_eq!(enabling["required"].as_array().map(Vec::len), Some(5));
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
}
