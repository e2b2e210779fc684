//! Connections that open with an event-stream request, served without hyper.
//!
//! Hyper keeps an 8 KB read buffer and an 8 KB write buffer for every connection for as long
//! as it is open (neither can be made smaller). That is nothing for a request that lasts
//! milliseconds, but an SSE stream lasts minutes, and with 10,000 of them open the two buffers
//! were most of the server's memory. So the accept loop reads the first request head of each
//! connection itself:
//!
//! - a `GET` of an event stream (`/api/.../events`, no body, nothing unusual) is parsed here,
//!   answered by the same router (every layer: request id, tracing, accounts, caps), and its
//!   response is written straight to the socket, with chunked framing, one write per event;
//! - anything else, and the rest of the connection after a stream that ended, goes to hyper
//!   with the bytes already read put back in front ([`Rewind`]).
//!
//! A stream on a connection that already served other requests goes through hyper as before;
//! clients open a stream as the first request of a connection in practice (EventSource, the
//! benchmark, the CLI), and either way the answer is the same.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};
use axum::response::Response;
use axum::Router;
use bytes::{Buf, Bytes, BytesMut};
use http_body::Body as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tower::ServiceExt;

/// The first read of a connection; most request heads fit in it.
const FIRST_READ: usize = 1024;
/// A stream request's head larger than this goes to hyper (which allows more).
const HEAD_LIMIT: usize = 16 * 1024;
/// Headers in a stream request parsed here; more go to hyper.
const MAX_HEADERS: usize = 64;
/// Bytes a client may send while its stream is open (a pipelined request), kept for hyper.
const PIPELINED_LIMIT: usize = 16 * 1024;

/// What became of a connection's first request.
pub enum Opening<T> {
    /// Not an event stream (or the stream ended and the connection goes on): hyper serves it,
    /// starting with these bytes.
    Hyper(Rewind<T>),
    /// Served here and closed.
    Done,
}

/// Whether a request line names an event stream: `GET /api/.../events[?query]`.
fn is_stream_target(method: &str, target: &str) -> bool {
    let path = target.split('?').next().unwrap_or(target);
    method == "GET" && path.starts_with("/api/") && path.ends_with("/events")
}

/// Reads the connection's first request head and, if it opens an event stream, serves it.
/// `header_timeout` bounds the head's arrival as hyper's does.
pub async fn open<T>(
    mut io: T,
    peer: SocketAddr,
    app: &Router,
    header_timeout: Duration,
    shutdown: &tokio_util::sync::CancellationToken,
) -> Opening<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(FIRST_READ);
    let head = tokio::select! {
        head = tokio::time::timeout(header_timeout, read_stream_head(&mut io, &mut buf)) => head,
        // Shutting down: a connection that has not asked for anything yet is closed.
        () = shutdown.cancelled() => return Opening::Done,
    };
    let parsed = match head {
        Ok(Ok(Some(parsed))) => parsed,
        // Not a stream, or something hyper should answer (or a client gone): hyper decides.
        Ok(Ok(None)) | Ok(Err(_)) => return Opening::Hyper(Rewind::new(buf.freeze(), io)),
        // No whole head in time: what hyper does too.
        Err(_) => return Opening::Done,
    };
    let (request, keep_alive) = parsed;
    let head_len = request.1;
    buf.advance(head_len);
    let mut pending = buf;
    let mut request = request.0;
    request.extensions_mut().insert(ConnectInfo(peer));
    let version = request.version();
    let response = match app.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    match write_response(&mut io, response, version, &mut pending).await {
        Ok(true) if keep_alive && !shutdown.is_cancelled() => {
            Opening::Hyper(Rewind::new(pending.freeze(), io))
        }
        Ok(_) | Err(_) => {
            let _ = io.shutdown().await;
            Opening::Done
        }
    }
}

/// A parsed stream request, the length of its head, and whether the connection may go on.
type Parsed = ((Request<Body>, usize), bool);

/// Reads until the first request line tells whether this is a stream request, and for one,
/// until its whole head is read and parsed. `None` hands the connection to hyper.
async fn read_stream_head<T: AsyncRead + Unpin>(
    io: &mut T,
    buf: &mut BytesMut,
) -> io::Result<Option<Parsed>> {
    loop {
        if let Some(line_end) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = &buf[..line_end];
            let mut parts = line.split(|b| *b == b' ');
            let method = parts.next().unwrap_or_default();
            let target = parts.next().unwrap_or_default();
            let (Ok(method), Ok(target)) =
                (std::str::from_utf8(method), std::str::from_utf8(target))
            else {
                return Ok(None);
            };
            if !is_stream_target(method, target) {
                return Ok(None);
            }
            if let Some(parsed) = parse_head(buf) {
                return Ok(parsed);
            }
        } else if !buf.is_empty() && !is_stream_prefix(buf) {
            return Ok(None);
        }
        if buf.len() >= HEAD_LIMIT {
            return Ok(None);
        }
        if buf.capacity() - buf.len() < 256 {
            buf.reserve(FIRST_READ);
        }
        if io.read_buf(buf).await? == 0 {
            return Ok(None);
        }
    }
}

/// Whether a partial first line can still become `GET /api/`: anything else goes to hyper
/// as soon as it shows.
fn is_stream_prefix(buf: &[u8]) -> bool {
    const START: &[u8] = b"GET /api/";
    let n = buf.len().min(START.len());
    buf[..n] == START[..n]
}

/// Parses a whole head. `None`: not complete yet. `Some(None)`: hyper should serve it.
fn parse_head(buf: &[u8]) -> Option<Option<Parsed>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return None,
        Err(_) => return Some(None),
    };
    Some(build_request(&parsed).map(|(request, keep_alive)| ((request, len), keep_alive)))
}

/// The request for the router, or `None` for anything this path leaves to hyper: a body, an
/// upgrade, `Expect`, a header `http` refuses.
fn build_request(parsed: &httparse::Request<'_, '_>) -> Option<(Request<Body>, bool)> {
    if parsed.method != Some("GET") {
        return None;
    }
    let version = match parsed.version? {
        1 => Version::HTTP_11,
        0 => Version::HTTP_10,
        _ => return None,
    };
    let uri: Uri = parsed.path?.parse().ok()?;
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(h.value).ok()?;
        headers.append(name, value);
    }
    let has_body = headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0")
        || headers.contains_key(header::TRANSFER_ENCODING);
    if has_body || headers.contains_key(header::EXPECT) || headers.contains_key(header::UPGRADE) {
        return None;
    }
    let connection_says = |token: &str| {
        headers.get_all(header::CONNECTION).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    let keep_alive = match version {
        Version::HTTP_11 => !connection_says("close"),
        _ => connection_says("keep-alive"),
    };
    let mut request = Request::new(Body::empty());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    Some((request, keep_alive))
}

/// Writes the response and its body as it comes. `Ok(true)`: it ended cleanly and the
/// connection may serve another request (whose first bytes, if the client already sent them,
/// are in `pending`). Stops early when the client hangs up.
async fn write_response<T: AsyncRead + AsyncWrite + Unpin>(
    io: &mut T,
    response: Response,
    version: Version,
    pending: &mut BytesMut,
) -> io::Result<bool> {
    let (parts, mut body) = response.into_parts();
    let exact = body.size_hint().exact();
    // HTTP/1.0 has no chunked framing: such a stream is delimited by closing.
    let framing = match (exact, version) {
        (Some(len), _) => Framing::Length(len),
        (None, Version::HTTP_11) => Framing::Chunked,
        (None, _) => Framing::Close,
    };
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(parts.status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(
        parts
            .status
            .canonical_reason()
            .unwrap_or("Unknown")
            .as_bytes(),
    );
    head.extend_from_slice(b"\r\n");
    for (name, value) in parts.headers.iter() {
        if matches!(
            *name,
            header::CONTENT_LENGTH | header::TRANSFER_ENCODING | header::CONNECTION
        ) {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    if !parts.headers.contains_key(header::DATE) {
        head.extend_from_slice(b"date: ");
        head.extend_from_slice(httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    match framing {
        Framing::Length(len) => {
            head.extend_from_slice(format!("content-length: {len}\r\n").as_bytes());
        }
        Framing::Chunked => head.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Close => head.extend_from_slice(b"connection: close\r\n"),
    }
    head.extend_from_slice(b"\r\n");
    io.write_all(&head).await?;
    drop(head);
    drop(parts);

    let mut written: u64 = 0;
    loop {
        let frame = tokio::select! {
            frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)) => frame,
            gone = client_gone(io, pending) => {
                gone?;
                return Ok(false);
            }
        };
        let data = match frame {
            None => break,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                // Trailers: nothing to send without chunked trailers support.
                Err(_) => continue,
            },
            // The body failed: close without the last chunk, so the client sees it cut short.
            Some(Err(_)) => return Ok(false),
        };
        if data.is_empty() {
            continue;
        }
        written += data.len() as u64;
        match framing {
            Framing::Chunked => {
                let mut chunk = Vec::with_capacity(data.len() + 12);
                chunk.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                chunk.extend_from_slice(&data);
                chunk.extend_from_slice(b"\r\n");
                io.write_all(&chunk).await?;
            }
            Framing::Length(_) | Framing::Close => io.write_all(&data).await?,
        }
        io.flush().await?;
    }
    match framing {
        Framing::Chunked => {
            io.write_all(b"0\r\n\r\n").await?;
            io.flush().await?;
            Ok(true)
        }
        Framing::Length(len) => Ok(written == len),
        Framing::Close => Ok(false),
    }
}

#[derive(Clone, Copy)]
enum Framing {
    Length(u64),
    Chunked,
    Close,
}

/// Resolves when the client closes its side (`Ok`) or the connection fails (`Err`). Bytes it
/// sends meanwhile (a pipelined request) are kept in `pending`, up to a limit.
async fn client_gone<T: AsyncRead + Unpin>(io: &mut T, pending: &mut BytesMut) -> io::Result<()> {
    let mut probe = [0u8; 256];
    loop {
        let n = io.read(&mut probe).await?;
        if n == 0 {
            return Ok(());
        }
        if pending.len() + n > PIPELINED_LIMIT {
            return Err(io::Error::other("too much sent while a stream is open"));
        }
        pending.extend_from_slice(&probe[..n]);
    }
}

/// An IO whose first reads return bytes already read from it.
pub struct Rewind<T> {
    prefix: Bytes,
    inner: T,
}

impl<T> Rewind<T> {
    pub fn new(prefix: Bytes, inner: T) -> Self {
        Self { prefix, inner }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    fn peer() -> SocketAddr {
        "127.0.0.1:9".parse().expect("address")
    }

    fn app() -> Router {
        let events = || async {
            let chunks = futures::stream::iter([
                Ok::<_, std::convert::Infallible>(Bytes::from_static(
                    b"event: status\ndata: 1\n\n",
                )),
                Ok(Bytes::from_static(b"event: status\ndata: 2\n\n")),
            ]);
            (
                [(header::CONTENT_TYPE, "text/event-stream")],
                Body::from_stream(chunks),
            )
        };
        Router::new()
            .route("/api/t/events", get(events))
            .route("/api/other", get(|| async { "other" }))
    }

    async fn read_all(mut client: tokio::io::DuplexStream) -> String {
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.expect("read");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn only_stream_gets_are_taken() {
        assert!(is_stream_target("GET", "/api/topics/a/blueprints/b/events"));
        assert!(is_stream_target("GET", "/api/t/events?x=1"));
        assert!(!is_stream_target("POST", "/api/t/events"));
        assert!(!is_stream_target("GET", "/api/t/status"));
        assert!(!is_stream_target("GET", "/topics/events"));
        assert!(is_stream_prefix(b"GET /a"));
        assert!(!is_stream_prefix(b"POST /api/"));
        assert!(!is_stream_prefix(b"GET /topics"));
    }

    #[test]
    fn heads_with_a_body_or_an_upgrade_go_to_hyper() {
        let parse = |head: &str| parse_head(head.as_bytes());
        assert!(
            parse("GET /api/t/events HTTP/1.1\r\nHost: x\r\n").is_none(),
            "partial"
        );
        assert!(matches!(
            parse("GET /api/t/events HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Some(_))
        ));
        for refused in [
            "GET /api/t/events HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            "GET /api/t/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /api/t/events HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            "GET /api/t/events HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "GET /api/t/events HTTP/1.1\r\nBad Header: x\r\n\r\n",
        ] {
            assert!(matches!(parse(refused), Some(None)), "{refused:?}");
        }
        let keep = |head: &str| match parse(head) {
            Some(Some((_, keep_alive))) => keep_alive,
            other => panic!("not parsed: {}", other.is_some()),
        };
        assert!(keep("GET /api/t/events HTTP/1.1\r\n\r\n"));
        assert!(!keep(
            "GET /api/t/events HTTP/1.1\r\nConnection: close\r\n\r\n"
        ));
        assert!(!keep("GET /api/t/events HTTP/1.0\r\n\r\n"));
    }

    #[tokio::test]
    async fn a_stream_is_written_chunked_and_the_connection_goes_on_with_what_follows() {
        let (server, mut client) = tokio::io::duplex(64 * 1024);
        client
            .write_all(b"GET /api/t/events HTTP/1.1\r\nHost: x\r\n\r\nGET /api/other HTTP/1.1\r\n")
            .await
            .expect("write");
        let shutdown = tokio_util::sync::CancellationToken::new();
        let opening = open(server, peer(), &app(), Duration::from_secs(5), &shutdown).await;
        let Opening::Hyper(mut rest) = opening else {
            panic!("the connection should go on");
        };
        let mut next = vec![0u8; 25];
        rest.read_exact(&mut next)
            .await
            .expect("the pipelined request");
        assert_eq!(&next, b"GET /api/other HTTP/1.1\r\n");
        drop(rest);
        let answer = read_all(client).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(
            answer.contains("transfer-encoding: chunked\r\n"),
            "{answer}"
        );
        assert!(
            answer.contains("content-type: text/event-stream\r\n"),
            "{answer}"
        );
        assert!(answer.contains("date: "), "{answer}");
        assert!(
            answer.ends_with("\r\n\r\n17\r\nevent: status\ndata: 1\n\n\r\n17\r\nevent: status\ndata: 2\n\n\r\n0\r\n\r\n"),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn other_requests_reach_hyper_untouched() {
        let (server, mut client) = tokio::io::duplex(4096);
        let request = b"GET /api/other HTTP/1.1\r\nHost: x\r\n\r\n";
        client.write_all(request).await.expect("write");
        let shutdown = tokio_util::sync::CancellationToken::new();
        let opening = open(server, peer(), &app(), Duration::from_secs(5), &shutdown).await;
        let Opening::Hyper(mut rest) = opening else {
            panic!("hyper serves it");
        };
        let mut seen = vec![0u8; request.len()];
        rest.read_exact(&mut seen).await.expect("read");
        assert_eq!(seen, request);
    }

    #[tokio::test]
    async fn an_http_1_0_stream_is_delimited_by_closing() {
        let (server, mut client) = tokio::io::duplex(64 * 1024);
        client
            .write_all(b"GET /api/t/events HTTP/1.0\r\n\r\n")
            .await
            .expect("write");
        let shutdown = tokio_util::sync::CancellationToken::new();
        let opening = open(server, peer(), &app(), Duration::from_secs(5), &shutdown).await;
        assert!(matches!(opening, Opening::Done));
        let answer = read_all(client).await;
        assert!(answer.contains("connection: close\r\n"), "{answer}");
        assert!(
            answer.ends_with("\r\n\r\nevent: status\ndata: 1\n\nevent: status\ndata: 2\n\n"),
            "{answer}"
        );
    }
}
