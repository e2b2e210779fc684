//! A fake OpenAI-compatible server on 127.0.0.1: it answers each call with the next scripted
//! behaviour (streaming slowly, failing, cutting the stream), records every request, and
//! notes when the client closed a stream.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::Uri;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use futures::StreamExt;
use serde::Deserialize;
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
    /// A real server's recorded answer, byte for byte and piece by piece (without its pauses).
    Replay(Exchange),
}

/// One request and answer recorded from a real server by `scripts/record-proxy.py`.
#[derive(Clone, Debug, Deserialize)]
pub struct Exchange {
    pub path: String,
    /// What QuizMaster sent then (the replay answers whatever is sent now).
    #[serde(default)]
    pub request: Value,
    pub status: u16,
    #[serde(default)]
    pub content_type: String,
    /// Pieces after the last one QuizMaster read are not recorded: it closed the stream
    /// (target reached, cancel), as the recording's `client_closed` says.
    pub pieces: Vec<Piece>,
}

/// The bytes the proxy read in one go: as text, or base64 when they end inside a character.
/// (The recording also has each piece's time, `ms`; the replay sends them without pauses.)
#[derive(Clone, Debug, Deserialize)]
pub struct Piece {
    pub text: Option<String>,
    pub base64: Option<String>,
}

impl Piece {
    pub fn bytes(&self) -> Vec<u8> {
        match (&self.text, &self.base64) {
            (Some(text), _) => text.as_bytes().to_vec(),
            (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .expect("a recorded piece is valid base64"),
            (None, None) => Vec::new(),
        }
    }
}

/// A whole recorded session: what the script noted (server, model, versions) and every
/// exchange in order.
#[derive(Clone, Debug, Deserialize)]
pub struct Recording {
    #[serde(default)]
    pub notes: BTreeMap<String, String>,
    pub exchanges: Vec<Exchange>,
}

impl Recording {
    /// Loads `tests/fixtures/llm/{name}.json`.
    pub fn load(name: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/llm")
            .join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
    }

    /// The chat-completion calls, in order, as a script for the fake server.
    pub fn completions(&self) -> Vec<Behaviour> {
        self.exchanges
            .iter()
            .filter(|e| e.path.ends_with("/chat/completions"))
            .cloned()
            .map(Behaviour::Replay)
            .collect()
    }

    /// The answers to the context probes (`/props`, `/api/show`).
    pub fn probes(&self) -> Vec<Exchange> {
        self.exchanges
            .iter()
            .filter(|e| !e.path.ends_with("/chat/completions"))
            .cloned()
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    pub headers: HeaderMap,
    pub body: Value,
    /// The request body exactly as sent.
    pub raw: Bytes,
}

#[derive(Default)]
struct Shared {
    script: Vec<Behaviour>,
    /// Answers to `GET /props` and `POST /api/show`; 404 when there is none.
    probes: Vec<Exchange>,
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
        Self::start_with_probes(script, Vec::new()).await
    }

    /// Replays a recorded session: its completion calls in order, and its probes.
    pub async fn replay(recording: &Recording) -> Self {
        Self::start_with_probes(recording.completions(), recording.probes()).await
    }

    /// Like `start`, and answers the context probes with `probes` (matched by path).
    pub async fn start_with_probes(script: Vec<Behaviour>, probes: Vec<Exchange>) -> Self {
        assert!(
            !script.is_empty(),
            "a fake server needs at least one behaviour"
        );
        let shared = Arc::new(Mutex::new(Shared {
            script,
            probes,
            ..Shared::default()
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/props", get(probe))
            .route("/api/show", post(probe))
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

async fn probe(State(shared): State<Arc<Mutex<Shared>>>, uri: Uri) -> Response {
    let found = {
        let guard = shared.lock().expect("lock");
        guard.probes.iter().find(|p| p.path == uri.path()).cloned()
    };
    match found {
        Some(exchange) => replay(exchange, None),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Sends a recorded answer: its status, content type and each piece as its own body frame.
fn replay(exchange: Exchange, guard: Option<CloseGuard>) -> Response {
    let pieces: Vec<Bytes> = exchange
        .pieces
        .iter()
        .map(|p| Bytes::from(p.bytes()))
        .collect();
    let stream = futures::stream::iter(pieces).then(move |piece| {
        let _keep = &guard;
        async move {
            // Let each piece go out on its own, as the real server sent it.
            tokio::task::yield_now().await;
            Ok::<Bytes, Infallible>(piece)
        }
    });
    let mut response =
        Response::builder().status(StatusCode::from_u16(exchange.status).expect("recorded status"));
    if !exchange.content_type.is_empty() {
        response = response.header("content-type", exchange.content_type.as_str());
    }
    response.body(Body::from_stream(stream)).expect("response")
}

async fn completions(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let behaviour = {
        let mut guard = shared.lock().expect("lock");
        let raw = body.clone();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        guard.calls.push(Recorded {
            at: Instant::now(),
            headers,
            body,
            raw,
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
        Behaviour::Replay(exchange) => return replay(exchange, Some(CloseGuard(shared.clone()))),
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
