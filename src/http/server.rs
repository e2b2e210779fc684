//! The accept loop: what stands between the socket and the router.
//!
//! `axum::serve` accepts every connection and keeps it for as long as the client likes, so one
//! client with no account could hold every file descriptor (issue 16). This loop instead
//!
//! - caps connections in total and per client address (IPv6 per /64), answering a connection
//!   over the cap with a canned `503`/`429` and closing it before it costs a task;
//! - drops a client that has not sent a whole request head within the header timeout. Hyper's
//!   timer runs from the moment the connection waits for a head, so it also ends idle
//!   keep-alive connections between requests;
//! - abandons a response the client has stopped reading (no byte written for the idle timeout),
//!   so a stalled reader cannot pin a connection and its handler forever;
//! - speaks HTTP/1.1 only: the server is plain HTTP (browsers use HTTP/2 only over TLS, which a
//!   proxy terminates), and HTTP/2 with prior knowledge would be a way around the header
//!   timeout;
//! - keeps accepting when the process runs out of descriptors, after a short pause, instead of
//!   spinning.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::event_conn::{self, Opening};
use crate::telemetry::{CONNECTIONS_OPEN, CONNECTIONS_REFUSED};

/// How the accept loop treats connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionPolicy {
    /// A client must send a whole request head within this long (also the keep-alive idle time).
    pub header_timeout: Duration,
    /// A response the client does not read from for this long is abandoned; also the longest
    /// pause between two parts of a request body.
    pub idle_timeout: Duration,
    /// Connections open at once, in total.
    pub max_connections: usize,
    /// Connections open at once from one client address; `0` = no cap of its own.
    pub max_per_client: usize,
}

/// Counts open connections, in total and per client address. A slot is held by a
/// [`ConnectionSlot`] and given back when it is dropped.
pub struct ConnectionGate {
    policy: ConnectionPolicy,
    open: Mutex<GateCounts>,
}

#[derive(Default)]
struct GateCounts {
    total: usize,
    /// By `ClientAddr::unit`: the address, or an IPv6 client's /64.
    per_client: HashMap<String, usize>,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds its cap of connections.
    Full,
    /// This client address holds its cap.
    ClientFull,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::Full => "total",
            Refusal::ClientFull => "per_client",
        }
    }

    /// A whole HTTP/1.1 answer, written before the connection is closed, so that a client
    /// sees why instead of a reset.
    fn response(self) -> Vec<u8> {
        let (status, message) = match self {
            Refusal::Full => (
                "503 Service Unavailable",
                "The server has too many open connections; retry shortly",
            ),
            Refusal::ClientFull => (
                "429 Too Many Requests",
                "Too many open connections from your address; close some and retry",
            ),
        };
        let body =
            serde_json::json!({"error": {"code": "too_many_connections", "message": message}})
                .to_string();
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nRetry-After: 5\r\n\
             Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

impl ConnectionGate {
    pub fn new(policy: ConnectionPolicy) -> Arc<Self> {
        Arc::new(Self {
            policy,
            open: Mutex::new(GateCounts::default()),
        })
    }

    pub fn policy(&self) -> ConnectionPolicy {
        self.policy
    }

    /// Takes a slot for a connection from `peer`, or says why not.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<ConnectionSlot, Refusal> {
        let unit = crate::domain::ClientAddr::direct(peer).unit();
        let mut open = self.lock();
        if open.total >= self.policy.max_connections {
            return Err(Refusal::Full);
        }
        let mine = open.per_client.get(&unit).copied().unwrap_or(0);
        if self.policy.max_per_client > 0 && mine >= self.policy.max_per_client {
            return Err(Refusal::ClientFull);
        }
        open.total += 1;
        open.per_client.insert(unit.clone(), mine + 1);
        Ok(ConnectionSlot {
            gate: self.clone(),
            unit,
        })
    }

    /// Connections open now, in total.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateCounts> {
        // Only counters behind it: still right after a panic elsewhere.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One admitted connection's place; dropping it frees the place.
pub struct ConnectionSlot {
    gate: Arc<ConnectionGate>,
    unit: String,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.gate.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_client.get_mut(&self.unit) {
            *count -= 1;
            if *count == 0 {
                open.per_client.remove(&self.unit);
            }
        }
    }
}

/// At most this many refused connections are answered at once; past it they are just closed,
/// so that a flood of refusals costs no more descriptors than this.
const REFUSALS_ANSWERED_AT_ONCE: usize = 64;

/// Serves `app` on `listener` until `shutdown`, then stops accepting, asks every connection to
/// close once its current response is done, and waits for them.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    gate: Arc<ConnectionGate>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let connections = TaskTracker::new();
    let answering = Arc::new(tokio::sync::Semaphore::new(REFUSALS_ANSWERED_AT_ONCE));
    let policy = gate.policy();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(policy.header_timeout)
        .keep_alive(true);
    let builder = Arc::new(builder);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    pause_after_accept_error(&err).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let slot = match gate.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                metrics::counter!(CONNECTIONS_REFUSED, "cap" => refusal.label()).increment(1);
                if let Ok(permit) = answering.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse(stream, refusal).await;
                        drop(permit);
                    });
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let builder = builder.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let _slot = slot;
            let _open = crate::telemetry::GaugeGuard::new(CONNECTIONS_OPEN);
            let io = StallGuard::new(stream, policy.idle_timeout);
            // A connection that opens with an event stream is served without hyper's buffers
            // for as long as the stream lasts (see event_conn).
            let opening = event_conn::open(io, peer, &app, policy.header_timeout, &shutdown).await;
            let io = match opening {
                Opening::Hyper(io) => TokioIo::new(io),
                Opening::Done => return,
            };
            let service = app.map_request(
                move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                },
            );
            let service = TowerToHyperService::new(service);
            let connection = builder.serve_connection(io, service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_connection_end(result),
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    log_connection_end(connection.await);
                }
            }
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

fn log_connection_end(result: Result<(), hyper::Error>) {
    if let Err(err) = result {
        // Timeouts and clients that hang up are the normal end of many connections.
        tracing::debug!(error = %err, "connection ended");
    }
}

/// Out of descriptors (or another transient failure): wait a little so that connections
/// ending meanwhile free some, rather than spin on `accept`.
async fn pause_after_accept_error(err: &io::Error) {
    static LAST_WARNING_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let now = crate::domain::time::now_ms();
    let last = LAST_WARNING_MS.load(std::sync::atomic::Ordering::Relaxed);
    if now - last > 10_000 {
        LAST_WARNING_MS.store(now, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(error = %err, "accept failed; pausing briefly");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Writes the refusal, stops sending and reads what the client still sends for a moment, so
/// that the kernel closes with FIN rather than a reset that would hide the answer.
async fn refuse(mut stream: TcpStream, refusal: Refusal) {
    let answer = async {
        stream.write_all(&refusal.response()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        use tokio::io::AsyncReadExt;
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
}

/// A socket whose writes fail once they have made no progress for `limit`: a client that stops
/// reading is given up on instead of holding its connection for ever.
struct StallGuard<T> {
    inner: T,
    limit: Duration,
    stalled_since: Option<Pin<Box<Sleep>>>,
}

impl<T> StallGuard<T> {
    fn new(inner: T, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            stalled_since: None,
        }
    }

    /// Passes a write's outcome on: progress stops the stall clock, a write that could not
    /// proceed starts it (or fails once it ran out).
    fn watch<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match poll {
            Poll::Pending => match self.check_stall(cx) {
                Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
                _ => Poll::Pending,
            },
            ready => {
                self.stalled_since = None;
                ready
            }
        }
    }

    /// After a write that could not proceed: starts the stall clock, or fails once it ran out.
    fn check_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let limit = self.limit;
        let deadline = self
            .stalled_since
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading the response",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallGuard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => match self.check_stall(cx) {
                Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
                _ => Poll::Pending,
            },
            ready => {
                self.stalled_since = None;
                ready
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Raises this process's soft limit on open files to its hard limit, so that the connection
/// cap, not the operating system, is what turns clients away. Returns the soft limit now in
/// force (`None` where it cannot be read).
pub fn raise_open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
        // rlim_t is u64 on the platforms this runs on.
        #[allow(clippy::useless_conversion)]
        Some(u64::from(limit.rlim_cur))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Descriptors kept back from the connection cap for the database pool, the SQLite files, the
/// log and the model server's connections.
pub const DESCRIPTORS_RESERVED: u64 = 128;

/// The total cap actually used: the configured one, lowered to fit the open-files limit.
pub fn effective_max_connections(configured: usize, open_files: Option<u64>) -> usize {
    match open_files {
        Some(limit) => {
            let fits = limit.saturating_sub(DESCRIPTORS_RESERVED).max(16);
            configured.min(usize::try_from(fits).unwrap_or(usize::MAX))
        }
        None => configured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(total: usize, per_client: usize) -> ConnectionPolicy {
        ConnectionPolicy {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: total,
            max_per_client: per_client,
        }
    }

    #[test]
    fn slots_are_capped_per_client_and_in_total_and_given_back() {
        let gate = ConnectionGate::new(policy(3, 2));
        let a: IpAddr = "203.0.113.1".parse().expect("ip");
        let b: IpAddr = "203.0.113.2".parse().expect("ip");
        let first = gate.admit(a).expect("first");
        let _second = gate.admit(a).expect("second");
        assert_eq!(gate.admit(a).err(), Some(Refusal::ClientFull));
        let _third = gate.admit(b).expect("another client");
        assert_eq!(gate.admit(b).err(), Some(Refusal::Full));
        drop(first);
        assert_eq!(gate.open(), 2);
        assert!(gate.admit(a).is_ok(), "a freed slot is usable again");
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let gate = ConnectionGate::new(policy(10, 1));
        let _one = gate
            .admit("2001:db8:1:2::1".parse().expect("ip"))
            .expect("one");
        assert_eq!(
            gate.admit("2001:db8:1:2:ffff::9".parse().expect("ip"))
                .err(),
            Some(Refusal::ClientFull)
        );
        assert!(gate.admit("2001:db8:1:3::1".parse().expect("ip")).is_ok());
    }

    #[test]
    fn refusals_are_whole_http_answers() {
        for refusal in [Refusal::Full, Refusal::ClientFull] {
            let bytes = refusal.response();
            let text = std::str::from_utf8(&bytes).expect("ascii");
            let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|n| n.parse().ok())
                .expect("a length");
            assert_eq!(length, body.len(), "{head}");
            let json: serde_json::Value = serde_json::from_str(body).expect("json");
            assert_eq!(json["error"]["code"], "too_many_connections");
        }
    }

    #[tokio::test]
    async fn a_write_the_client_does_not_read_fails_after_the_limit() {
        let (server, _client) = tokio::io::duplex(64);
        let mut guarded = StallGuard::new(server, Duration::from_millis(200));
        let started = std::time::Instant::now();
        let written =
            tokio::time::timeout(Duration::from_secs(5), guarded.write_all(&[b'x'; 4096]))
                .await
                .expect("gives up before the test's deadline");
        let err = written.expect_err("a stalled write fails");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_write_that_progresses_is_not_cut_off() {
        use tokio::io::AsyncReadExt;
        let (server, mut client) = tokio::io::duplex(64);
        let mut guarded = StallGuard::new(server, Duration::from_millis(300));
        let reader = tokio::spawn(async move {
            let mut total = 0;
            let mut buf = [0u8; 16];
            while total < 4096 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                total += client.read(&mut buf).await.expect("read");
            }
            total
        });
        guarded
            .write_all(&[b'x'; 4096])
            .await
            .expect("a slow but steady reader is served");
        assert_eq!(reader.await.expect("reader"), 4096);
    }

    #[test]
    fn the_cap_fits_the_open_files_limit() {
        assert_eq!(effective_max_connections(4096, Some(1024)), 1024 - 128);
        assert_eq!(effective_max_connections(100, Some(1024)), 100);
        assert_eq!(effective_max_connections(100, None), 100);
    }
}
