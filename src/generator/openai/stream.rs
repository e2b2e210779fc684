//! Reading the answer: the lenient chunk types servers send, a small SSE line parser, and
//! the incremental JSON scanner that hands out each terminal objective as soon as it closes.

use eventsource_stream::{EventStreamError, Eventsource};
use futures::{stream, Stream, StreamExt, TryStreamExt};
use serde::Deserialize;

// Lenient types for what servers send: unknown fields are ignored, missing ones default.

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Chunk {
    pub(super) choices: Vec<Choice>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Choice {
    pub(super) delta: Option<Part>,
    pub(super) message: Option<Part>,
    pub(super) finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Part {
    pub(super) content: Option<String>,
    pub(super) refusal: Option<String>,
}

/// The outermost JSON object in an answer, tolerating code fences or prose around it.
pub(super) fn json_document(content: &str) -> Option<&str> {
    let start = content.find('{')?;
    let end = content.rfind('}')?;
    (end > start).then(|| &content[start..=end])
}

// ---------------------------------------------------------------------------------------
// Server-sent events, parsed by eventsource-stream.

#[derive(Debug, PartialEq, Eq)]
pub(super) struct SseEvent {
    /// The `event:` name, when the server gave one.
    pub(super) name: Option<String>,
    pub(super) data: String,
}

/// A piece of the answer's bytes, or the blank line added after the last one.
enum Piece<B> {
    Chunk(B),
    End,
}

impl<B: AsRef<[u8]>> AsRef<[u8]> for Piece<B> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Piece::Chunk(bytes) => bytes.as_ref(),
            Piece::End => b"\n\n",
        }
    }
}

/// The answer's bytes as SSE events: multi-line `data:` joined, UTF-8 decoded across chunk
/// borders, comments skipped. A blank line is added after the last chunk, so that a last
/// event the server did not close (a bare `data: [DONE]` at the end) still counts.
pub(super) fn sse_events<S, B, E>(
    bytes: S,
) -> impl Stream<Item = Result<SseEvent, EventStreamError<E>>>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    bytes
        .map_ok(Piece::Chunk)
        .chain(stream::once(async { Ok(Piece::End) }))
        .eventsource()
        .map_ok(|event| SseEvent {
            name: Some(event.event).filter(|name| name != "message"),
            data: event.data,
        })
}

// ---------------------------------------------------------------------------------------
// The incremental JSON scanner.

/// What the scanner found in the growing answer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ScanEvent {
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
pub(super) struct Scanner {
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
    pub(super) fn text(&self) -> &str {
        &self.buf
    }

    pub(super) fn push(&mut self, text: &str) -> Vec<ScanEvent> {
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
    use serde_json::Value;

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

    #[tokio::test]
    async fn sse_events_across_chunks() {
        // "é" split between two chunks; a comment; a named event; an unclosed last event.
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
            Ok(b"data: {\"a\":\"\xc3".to_vec()),
            Ok(b"\xa9\"}\r\n\r\n: comment\nevent: error\ndata: x\n\ndata: [DONE]".to_vec()),
        ];
        let events: Vec<SseEvent> = sse_events(stream::iter(chunks))
            .map(|event| event.expect("well-formed"))
            .collect()
            .await;
        assert_eq!(
            events,
            vec![
                SseEvent {
                    name: None,
                    data: "{\"a\":\"\u{e9}\"}".into()
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
}
