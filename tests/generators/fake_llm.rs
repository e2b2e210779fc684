//! A fake OpenAI-compatible server on 127.0.0.1: it answers each call with the next scripted
//! behaviour (streaming slowly, failing, cutting the stream), records every request, and
//! notes when the client closed a stream.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures::StreamExt;
use serde_json::{json, Value};

/// What the server does on one call.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Streams `answer` in small pieces, pausing `pause_after_terminal` after each terminal
    /// objective closes. `cut_after` ends the stream (no `[DONE]`) after that many terminals;
    /// `finish_reason` goes on the last chunk.
    Stream {
        answer: Value,
        piece_delay: Duration,
        pause_after_terminal: Duration,
        cut_after: Option<usize>,
        finish_reason: &'static str,
    },
    /// Streams raw content (e.g. garbage), then `[DONE]`.
    Content(String),
    /// A refusal delta, then `[DONE]`.
    Refusal(String),
    /// An error event in the middle of the stream, after one piece of content.
    ErrorEvent(Value),
    /// A plain HTTP answer.
    Status {
        code: u16,
        headers: Vec<(&'static str, String)>,
        body: Value,
    },
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    script: Vec<Behaviour>,
    calls: Vec<Recorded>,
    /// When each response stream was dropped (the client went away, or it ended).
    stream_closed: Vec<Instant>,
}

#[derive(Clone)]
pub struct FakeLlm {
    shared: Arc<Mutex<Shared>>,
    pub base_url: String,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

impl FakeLlm {
    /// Starts the server; call `n` gets `script[n]`, and the last entry repeats.
    pub async fn start(script: Vec<Behaviour>) -> Self {
        let shared = Arc::new(Mutex::new(Shared {
            script,
            ..Shared::default()
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake server");
        let address = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            shared,
            base_url: format!("http://{address}/v1"),
            task: Arc::new(task),
        }
    }

    pub fn calls(&self) -> Vec<Recorded> {
        self.shared.lock().expect("lock").calls.clone()
    }

    pub fn closed(&self) -> Vec<Instant> {
        self.shared.lock().expect("lock").stream_closed.clone()
    }
}

/// Notes when the response body is dropped: hyper drops it when the client closes.
struct CloseGuard(Arc<Mutex<Shared>>);

impl Drop for CloseGuard {
    fn drop(&mut self) {
        if let Ok(mut shared) = self.0.lock() {
            shared.stream_closed.push(Instant::now());
        }
    }
}

async fn completions(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let behaviour = {
        let mut guard = shared.lock().expect("lock");
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        guard.calls.push(Recorded {
            at: Instant::now(),
            headers,
            body,
        });
        let n = guard.calls.len() - 1;
        guard.script[n.min(guard.script.len() - 1)].clone()
    };
    let events: Vec<(String, Duration)> = match behaviour {
        Behaviour::Status {
            code,
            headers,
            body,
        } => {
            let mut response = (
                StatusCode::from_u16(code).expect("status"),
                [("content-type", "application/json")],
                body.to_string(),
            )
                .into_response();
            for (name, value) in headers {
                response
                    .headers_mut()
                    .insert(name, value.parse().expect("header value"));
            }
            return response;
        }
        Behaviour::Content(text) => vec![
            (content_event(&text, None), Duration::ZERO),
            ("data: [DONE]\n\n".into(), Duration::ZERO),
        ],
        Behaviour::Refusal(text) => vec![
            (
                format!(
                    "data: {}\n\n",
                    json!({"choices": [{"index": 0, "delta": {"refusal": text}}]})
                ),
                Duration::ZERO,
            ),
            (
                format!(
                    "data: {}\n\n",
                    json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                ),
                Duration::ZERO,
            ),
            ("data: [DONE]\n\n".into(), Duration::ZERO),
        ],
        Behaviour::ErrorEvent(error) => vec![
            (content_event("{\"title\": \"T", None), Duration::ZERO),
            (format!("data: {error}\n\n"), Duration::from_millis(10)),
        ],
        Behaviour::Stream {
            answer,
            piece_delay,
            pause_after_terminal,
            cut_after,
            finish_reason,
        } => stream_events(
            &answer,
            piece_delay,
            pause_after_terminal,
            cut_after,
            finish_reason,
        ),
    };
    let guard = CloseGuard(shared.clone());
    let stream = futures::stream::iter(events).then(move |(event, delay)| {
        let _keep = &guard;
        async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok::<Bytes, Infallible>(Bytes::from(event))
        }
    });
    // `then` keeps the closure (and the guard) alive exactly as long as the stream.
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .expect("response")
}

fn content_event(content: &str, finish_reason: Option<&str>) -> String {
    format!(
        "data: {}\n\n",
        json!({
            "id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "fake",
            "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish_reason}],
        })
    )
}

/// The answer as the pieces a model would stream, with pauses after each terminal.
fn stream_events(
    answer: &Value,
    piece_delay: Duration,
    pause_after_terminal: Duration,
    cut_after: Option<usize>,
    finish_reason: &str,
) -> Vec<(String, Duration)> {
    // Serialise the head, each terminal, and the tail separately to know where they end.
    let terminals = answer["terminal_objectives"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let head = format!(
        "{{\"title\": {}, \"description\": {}, \"terminal_objectives\": [",
        answer["title"], answer["description"]
    );
    let mut events: Vec<(String, Duration)> = Vec::new();
    let push_text = |text: &str, events: &mut Vec<(String, Duration)>| {
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(40) {
            let piece: String = piece.iter().collect();
            events.push((content_event(&piece, None), piece_delay));
        }
    };
    push_text(&head, &mut events);
    for (i, terminal) in terminals.iter().enumerate() {
        if cut_after == Some(i) {
            return events;
        }
        let text = if i == 0 {
            terminal.to_string()
        } else {
            format!(", {terminal}")
        };
        push_text(&text, &mut events);
        events.push((String::new(), pause_after_terminal));
    }
    push_text("]}", &mut events);
    events.push((content_event("", Some(finish_reason)), piece_delay));
    if finish_reason == "stop" {
        events.push(("data: [DONE]\n\n".into(), Duration::ZERO));
    }
    events
}

/// Distinct words for distinct objectives.
const SUBJECTS: &[&str] = &[
    "osmosis",
    "diffusion",
    "mitosis",
    "meiosis",
    "respiration",
    "transpiration",
    "fermentation",
    "germination",
    "pollination",
    "digestion",
];

/// A valid terminal objective (with three enabling objectives) about subject `i`.
pub fn terminal(i: usize) -> Value {
    let s = SUBJECTS[i % SUBJECTS.len()];
    json!({
        "text": format!("Apply the principles of {s} to an unfamiliar laboratory problem"),
        "verb": "Apply",
        "bloom_level": "apply",
        "condition": "given a short case description",
        "criterion": "with a correct, fully worked solution",
        "enabling_objectives": [
            {"text": format!("Define {s} in precise scientific terms"), "verb": "Define",
             "bloom_level": "remember", "condition": null, "criterion": "matching the textbook"},
            {"text": format!("Explain the role of {s} in living cells"), "verb": "Explain",
             "bloom_level": "understand", "condition": null, "criterion": null},
            {"text": format!("Describe one experiment that demonstrates {s}"), "verb": "Describe",
             "bloom_level": "understand", "condition": "given a lab manual", "criterion": null},
        ],
    })
}

/// A whole valid answer with `n` terminal objectives.
pub fn answer(n: usize) -> Value {
    json!({
        "title": "Cell processes",
        "description": "How cells move, split and use matter",
        "terminal_objectives": (0..n).map(terminal).collect::<Vec<_>>(),
    })
}

/// The answer streamed at a modest pace.
pub fn happy(n: usize) -> Behaviour {
    Behaviour::Stream {
        answer: answer(n),
        piece_delay: Duration::from_millis(1),
        pause_after_terminal: Duration::ZERO,
        cut_after: None,
        finish_reason: "stop",
    }
}
