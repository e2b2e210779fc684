//! Holding under attack (issue 16), each test written as the attack: slow-header and idle
//! clients over raw TCP, connections and streams past their caps, made-up methods, forwarded
//! addresses, cross-site tricks, control characters, parallel log-in and sign-up bursts (across
//! two processes on PostgreSQL), and taking access back.

use std::time::{Duration, Instant};

use quizmaster::config::{AccountsConfig, AuthMode, Toggle};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::child::ChildProcess;
use crate::helpers::*;

const PASSWORD: &str = "correct horse battery";

fn accounts_on() -> Settings {
    Settings {
        accounts: AccountsConfig::default(),
        ..Settings::default()
    }
}

fn behind_proxy() -> Settings {
    let mut settings = accounts_on();
    settings.accounts.trust_proxy = Toggle::On;
    settings
}

fn address(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

/// A connection from a chosen loopback address (127.0.0.2 plays another client).
async fn connect_from(source: &str, target: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("source"))
        .expect("bind the source address");
    socket
        .connect(target.parse().expect("target"))
        .await
        .expect("connect")
}

/// Reads until the server closes the connection, failing after `deadline`. Returns what was
/// read and how long it took.
async fn read_until_closed(stream: &mut TcpStream, deadline: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline
            .checked_sub(started.elapsed())
            .unwrap_or_else(|| panic!("still open after {deadline:?}; read {seen:?}"));
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "still open after {deadline:?}; read {:?}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
    (
        String::from_utf8_lossy(&seen).into_owned(),
        started.elapsed(),
    )
}

/// A client that never reuses a connection, so each request is a new one.
fn fresh_client(source: &str) -> Client {
    Client::builder()
        .local_address(source.parse::<std::net::IpAddr>().ok())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn healthz_from(app: &TestApp, source: &str) -> Result<u16, String> {
    fresh_client(source)
        .get(app.url("/healthz"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

// ---- 1. connections -------------------------------------------------------------------------

/// Half a request, then a header every 400 ms: the connection is dropped once the header
/// timeout (2 s here) has passed since the head began, however busy the trickle.
#[tokio::test]
async fn a_client_that_trickles_its_headers_is_dropped() {
    let mut settings = Settings::default();
    settings.ops.connections.header_timeout_secs = 2;
    let app = spawn_app_with(Backend::Sqlite, settings).await;
    let mut stream = TcpStream::connect(address(&app)).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("half a request");
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let closed_after = loop {
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "a trickling client was kept for 8 s"
        );
        match tokio::time::timeout(Duration::from_millis(400), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break started.elapsed(),
            Ok(Ok(_)) => {} // an error answer before the close is fine
            Err(_) => {
                if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    break started.elapsed();
                }
            }
        }
    };
    assert!(
        closed_after >= Duration::from_millis(1500),
        "dropped too early: {closed_after:?}"
    );
    assert_eq!(healthz_from(&app, "127.0.0.1").await, Ok(200));
    app.stop().await;
}

/// A kept-alive connection that sends nothing after its response is closed by the same timer.
#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let mut settings = Settings::default();
    settings.ops.connections.header_timeout_secs = 2;
    let app = spawn_app_with(Backend::Sqlite, settings).await;
    let mut stream = TcpStream::connect(address(&app)).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request");
    let (answer, took) = read_until_closed(&mut stream, Duration::from_secs(8)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        took >= Duration::from_millis(1500),
        "closed at once: {took:?}"
    );
    app.stop().await;
}

/// One address holding its cap of connections gets a `429 too_many_connections` for the
/// next; another address is still served; a freed place is usable again.
#[tokio::test]
async fn connections_past_the_per_client_cap_are_refused_and_others_still_served() {
    let mut settings = Settings::default();
    settings.ops.connections.max_connections_per_client = 4;
    settings.ops.connections.header_timeout_secs = 60;
    let app = spawn_app_with(Backend::Sqlite, settings).await;
    let target = address(&app);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from("127.0.0.1", &target).await);
    }
    let mut refused = connect_from("127.0.0.1", &target).await;
    let (answer, _) = read_until_closed(&mut refused, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    assert!(answer.contains("Retry-After: 5"), "{answer}");

    assert_eq!(
        healthz_from(&app, "127.0.0.2").await,
        Ok(200),
        "another client is served while the attacker holds its cap"
    );
    drop(held.pop());
    let served = poll_until(
        Duration::from_secs(5),
        || healthz_from(&app, "127.0.0.1"),
        |r| *r == Ok(200),
    )
    .await;
    assert!(served.is_ok(), "a freed place is usable: {served:?}");
    drop(held);
    app.stop().await;
}

/// Past the total cap every new connection gets `503 too_many_connections`.
#[tokio::test]
async fn connections_past_the_total_cap_get_503() {
    let mut settings = Settings::default();
    settings.ops.connections.max_connections = 3;
    settings.ops.connections.max_connections_per_client = 0;
    settings.ops.connections.header_timeout_secs = 60;
    let app = spawn_app_with(Backend::Sqlite, settings).await;
    let target = address(&app);
    let mut held = Vec::new();
    for source in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
        held.push(connect_from(source, &target).await);
    }
    let mut refused = connect_from("127.0.0.4", &target).await;
    let (answer, _) = read_until_closed(&mut refused, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    drop(held);
    let served = poll_until(
        Duration::from_secs(5),
        || healthz_from(&app, "127.0.0.1"),
        |r| *r == Ok(200),
    )
    .await;
    assert!(served.is_ok(), "{served:?}");
    app.stop().await;
}

// ---- 4. bounded metrics ---------------------------------------------------------------------

#[tokio::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let app = spawn_app(Backend::Sqlite).await;
    for n in 0..40 {
        let method = Method::from_bytes(format!("XQZMETHOD{n}").as_bytes()).expect("method");
        let response = app
            .request(method, "/healthz")
            .send()
            .await
            .expect("request");
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    let long = Method::from_bytes("Y".repeat(5000).as_bytes()).expect("method");
    let _ = app.request(long, "/api/topics").send().await;
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(
        !metrics.contains("XQZMETHOD"),
        "a made-up method became a label"
    );
    assert!(
        !metrics.contains("YYYYYYYY"),
        "a made-up method became a label"
    );
    assert!(metrics.contains("method=\"other\""), "{metrics}");
    app.stop().await;
}

/// Behind a trusted proxy a forwarded request is never loopback, so `/metrics` through the
/// proxy (on the same host) needs the token, whatever `X-Forwarded-For` claims; the machine
/// itself, connecting directly, does not.
#[tokio::test]
async fn metrics_behind_a_trusted_proxy_need_the_token() {
    let mut settings = behind_proxy();
    settings.ops.metrics_token = Some("metrics-secret".into());
    let app = spawn_app_with(Backend::Sqlite, settings).await;
    for forwarded in ["127.0.0.1", "::1", "203.0.113.5", "unknown"] {
        let response = app
            .request(Method::GET, "/metrics")
            .header("x-forwarded-for", forwarded)
            .send()
            .await
            .expect("request");
        assert_error(response, 401, "unauthenticated").await;
    }
    assert_eq!(
        app.get("/metrics").await.status(),
        200,
        "directly on loopback"
    );
    let allowed = app
        .request(Method::GET, "/metrics")
        .bearer_auth("metrics-secret")
        .send()
        .await
        .expect("request");
    assert_eq!(allowed.status(), 200);
    app.stop().await;

    let app = spawn_app(Backend::Sqlite).await;
    assert_eq!(app.get("/metrics").await.status(), 200, "direct loopback");
    app.stop().await;
}

// ---- 5. stream caps -------------------------------------------------------------------------

async fn queued_generation(app: &TestApp) -> (String, String) {
    let topic = app.create_topic("Streams").await;
    let topic_id = str_of(&topic, "id").to_string();
    let status = app.start_generation(&topic_id, 3).await;
    (topic_id, str_of(&status, "id").to_string())
}

/// The default cap, 20 streams and long polls per user: the 21st SSE stream and a long poll
/// past it get `429 too_many_streams` with `Retry-After`; closing one frees a place.
async fn streams_past_the_cap_get_429(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            workers: 0,
            ..Settings::default()
        },
    )
    .await;
    let (topic_id, blueprint_id) = queued_generation(&app).await;
    let events = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/events");
    let mut open = Vec::new();
    for n in 0..20 {
        let response = app.get(&events).await;
        assert_eq!(response.status(), 200, "stream {n}");
        open.push(response);
    }
    let refused = app.get(&events).await;
    let retry: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!(retry >= 1);
    assert_error(refused, 429, "too_many_streams").await;

    let status_path = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/status");
    let etag = app
        .get(&status_path)
        .await
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("etag")
        .to_string();
    let poll = app
        .request(Method::GET, &format!("{status_path}?wait=5"))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("long poll");
    assert_error(poll, 429, "too_many_streams").await;
    assert_eq!(
        app.get(&status_path).await.status(),
        200,
        "a plain poll is fine"
    );

    drop(open.pop());
    let reopened = poll_until(
        Duration::from_secs(20),
        || async { app.get(&events).await.status().as_u16() },
        |s| *s == 200,
    )
    .await;
    assert!(reopened.is_ok(), "a closed stream frees its place");
    drop(open);
    app.stop().await;
}

/// Per user and per address: many accounts from one address do not multiply the streams.
#[tokio::test]
async fn streams_are_capped_per_user_and_per_address() {
    let mut settings = accounts_on();
    settings.workers = 0;
    settings.accounts.max_streams_per_user = 2;
    settings.accounts.max_streams_per_client = Some(3);
    let app = spawn_app_with(Backend::Sqlite, settings).await;
    let mut followed = Vec::new();
    for email in ["ada@example.org", "bob@example.org"] {
        let cookie = sign_up_cookie(&app, email).await;
        let topic = send(
            &app,
            &cookie,
            Method::POST,
            "/api/topics",
            Some(json!({"title": "T"})),
        )
        .await
        .json::<Value>()
        .await
        .expect("topic");
        let topic_id = str_of(&topic, "id").to_string();
        let started = send(
            &app,
            &cookie,
            Method::POST,
            &format!("/api/topics/{topic_id}/blueprints/generate"),
            Some(json!({})),
        )
        .await
        .json::<Value>()
        .await
        .expect("status");
        let blueprint_id = str_of(&started, "id").to_string();
        followed.push((
            cookie,
            format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/events"),
        ));
    }
    let (ada, ada_events) = &followed[0];
    let (bob, bob_events) = &followed[1];
    let mut open = Vec::new();
    for _ in 0..2 {
        let response = send(&app, ada, Method::GET, ada_events, None).await;
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    let body = assert_error(
        send(&app, ada, Method::GET, ada_events, None).await,
        429,
        "too_many_streams",
    )
    .await;
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("You")));
    let bobs = send(&app, bob, Method::GET, bob_events, None).await;
    assert_eq!(bobs.status(), 200, "another user has places of their own");
    open.push(bobs);
    let body = assert_error(
        send(&app, bob, Method::GET, bob_events, None).await,
        429,
        "too_many_streams",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("address")),
        "the address's cap: {body}"
    );
    drop(open);
    app.stop().await;
}

// ---- 6. control characters ------------------------------------------------------------------

/// NUL and other control characters in every text field answer `422`, never a 500, on both
/// backends (PostgreSQL cannot store NUL at all).
async fn control_characters_get_422_everywhere(backend: Backend) {
    let app = spawn_app(backend).await;
    let nul = "a\u{0}b";
    for body in [
        json!({"title": nul}),
        json!({"title": "T", "description": nul}),
        json!({"title": "T", "source_text": nul}),
        json!({"title": "T", "source_text": "a\u{1b}[2J"}),
        json!({"title": "T", "description": "bell\u{7}"}),
    ] {
        let response = app.post_json("/api/topics", body.clone()).await;
        assert_error(response, 422, "validation_failed").await;
    }
    let ok = app
        .post_json(
            "/api/topics",
            json!({"title": "T", "description": "a\tb\nc", "source_text": "x\r\ny\tz\n"}),
        )
        .await;
    assert_eq!(ok.status(), 201, "tab and newline are fine");
    let topic: Value = ok.json().await.expect("topic");
    assert_eq!(
        topic["source_text"], "x\ny\tz\n",
        "CR LF is read as a newline"
    );
    let topic_id = str_of(&topic, "id");
    for body in [
        json!({"description": nul}),
        json!({"source_text": nul}),
        json!({"title": nul}),
    ] {
        let response = app
            .request(Method::PATCH, &format!("/api/topics/{topic_id}"))
            .json(&body)
            .send()
            .await
            .expect("patch");
        assert_error(response, 422, "validation_failed").await;
    }
    let token = app
        .post_json("/api/auth/tokens", json!({"name": nul}))
        .await;
    assert_error(token, 422, "validation_failed").await;
    for path in ["/api/auth/signup", "/api/auth/login"] {
        let response = app
            .post_json(
                path,
                json!({"email": "a\u{0}@example.org", "password": PASSWORD}),
            )
            .await;
        assert_error(response, 422, "validation_failed").await;
    }
    let keyed = app
        .request(
            Method::POST,
            &format!("/api/topics/{topic_id}/blueprints/generate"),
        )
        .header("idempotency-key", "a\tb")
        .json(&json!({}))
        .send()
        .await
        .expect("generate");
    assert_error(keyed, 422, "validation_failed").await;

    // The web forms: the topic form answers its own 422 page, and the generate form's hidden
    // key, tampered with, is not used (the generation still starts).
    let form = app
        .request(Method::POST, "/topics")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("title=T&description=a%00b")
        .send()
        .await
        .expect("form");
    assert_eq!(form.status(), 422);
    let generate = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(app.url(&format!("/topics/{topic_id}/blueprints/generate")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("target_terminal_objectives=3&idempotency_key=k%00ey")
        .send()
        .await
        .expect("form");
    assert_eq!(generate.status(), 303, "{:?}", generate.text().await);
    app.stop().await;
}

// ---- 7. forwarded addresses -----------------------------------------------------------------

/// Behind a trusted proxy, an `X-Forwarded-For` entry with a port or brackets names its client,
/// and a forwarded `127.0.0.1` is a client like any other: each gets the sign-up limit (2).
async fn forwarded_clients_with_ports_brackets_or_loopback_are_limited(backend: Backend) {
    let mut settings = behind_proxy();
    settings.accounts.signups_per_hour = 2;
    let app = spawn_app_with(backend, settings).await;
    for (n, forwarded) in [
        "203.0.113.77:4711",
        "[2001:db8:0:7::1]",
        "[2001:db8:0:8::1]:4711",
        "127.0.0.1",
        "::1",
    ]
    .iter()
    .enumerate()
    {
        let mut statuses = Vec::new();
        for i in 0..3 {
            let response = app
                .request(Method::POST, "/api/auth/signup")
                .header("x-forwarded-for", *forwarded)
                .json(&json!({"email": format!("u{n}-{i}@example.org"), "password": PASSWORD}))
                .send()
                .await
                .expect("sign-up");
            statuses.push(response.status().as_u16());
        }
        assert_eq!(statuses, [201, 201, 429], "{forwarded}");
    }
    app.stop().await;
}

// ---- 8. cross-site --------------------------------------------------------------------------

#[tokio::test]
async fn only_a_non_empty_bearer_token_exempts_the_cross_site_check() {
    let app = spawn_app_with(Backend::Sqlite, accounts_on()).await;
    let login = |authorization: &'static str| {
        app.request(Method::POST, "/api/auth/login")
            .header("origin", "http://evil.example")
            .header("authorization", authorization)
            .json(&json!({"email": "a@example.org", "password": PASSWORD}))
    };
    for authorization in ["Basic YWxpY2U6c2VjcmV0", "Bearer ", "Digest x"] {
        let response = login(authorization).send().await.expect("request");
        assert_error(response, 403, "cross_site_request").await;
    }
    let bearer = login("Bearer qmt_not_a_real_token")
        .send()
        .await
        .expect("request");
    assert_eq!(bearer.status(), 401, "a bearer token is no browser's doing");
    app.stop().await;
}

#[tokio::test]
async fn the_origin_check_compares_the_scheme_too() {
    let app = spawn_app(Backend::Sqlite).await;
    let with_origin = |origin: String| {
        app.request(Method::POST, "/api/topics")
            .header("origin", origin)
            .json(&json!({"title": "T"}))
    };
    let https = with_origin(format!("https://{}", address(&app)))
        .send()
        .await
        .expect("request");
    assert_error(https, 403, "cross_site_request").await;
    let same = with_origin(app.base.clone()).send().await.expect("request");
    assert_eq!(same.status(), 201);
    app.stop().await;
}

// ---- 11. auth-off defaults ------------------------------------------------------------------

/// Without accounts there is nobody to limit: 12 generations at once (past the accounts'
/// default of 10) all start. Set explicitly, a limit applies anyway.
#[tokio::test]
async fn with_accounts_off_generation_limits_default_to_off() {
    let settings = Settings {
        workers: 0,
        accounts: AccountsConfig {
            auth: AuthMode::Off,
            ..AccountsConfig::default()
        },
        ..Settings::default()
    };
    let app = spawn_app_with(Backend::Sqlite, settings.clone()).await;
    for n in 0..12 {
        let topic = app.create_topic(&format!("T{n}")).await;
        app.start_generation(str_of(&topic, "id"), 3).await;
    }
    app.stop().await;

    let mut limited = settings;
    limited.accounts.generate_per_minute = Some(2);
    let app = spawn_app_with(Backend::Sqlite, limited).await;
    for n in 0..2 {
        let topic = app.create_topic(&format!("T{n}")).await;
        app.start_generation(str_of(&topic, "id"), 3).await;
    }
    let topic = app.create_topic("T2").await;
    let refused = app
        .post_json(
            &format!("/api/topics/{}/blueprints/generate", str_of(&topic, "id")),
            json!({}),
        )
        .await;
    assert_error(refused, 429, "rate_limited").await;
    app.stop().await;
}

// ---- 2, 3. race-free throttles ---------------------------------------------------------------

async fn sign_up_cookie(app: &TestApp, email: &str) -> String {
    let response = app
        .post_json(
            "/api/auth/signup",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 201, "sign-up of {email}");
    cookie_of(&response)
}

fn cookie_of(response: &Response) -> String {
    session_set_cookie(response)
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string()
}

async fn send(
    app: &TestApp,
    cookie: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let mut request: RequestBuilder = app.request(method, path).header("cookie", cookie);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

async fn burst(requests: Vec<RequestBuilder>) -> Vec<u16> {
    let sent = requests.into_iter().map(|r| async move {
        r.send()
            .await
            .map(|r| r.status().as_u16())
            .expect("request")
    });
    futures::future::join_all(sent).await
}

/// 60 log-ins for one account at once, 59 wrong and the right one among them: at most the
/// limit (5) are tried, the rest are refused before any password work.
async fn parallel_log_ins_cannot_beat_the_limit(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    sign_up_cookie(&app, "ada@example.org").await;
    let requests = (0..60)
        .map(|n| {
            let password = if n == 30 {
                PASSWORD
            } else {
                "wrong wrong wrong"
            };
            app.request(Method::POST, "/api/auth/login")
                .json(&json!({"email": "ada@example.org", "password": password}))
        })
        .collect();
    let statuses = burst(requests).await;
    let tried = count(&statuses, 401) + count(&statuses, 200);
    assert!(tried <= 5, "{tried} attempts were tried: {statuses:?}");
    assert_eq!(count(&statuses, 429), 60 - tried, "{statuses:?}");
    app.stop().await;
}

/// 40 sign-ups at once from one forwarded address create exactly the hour's 20 accounts.
async fn parallel_sign_ups_cannot_beat_the_limit(backend: Backend) {
    let app = spawn_app_with(backend, behind_proxy()).await;
    let requests = (0..40)
        .map(|n| {
            app.request(Method::POST, "/api/auth/signup")
                .header("x-forwarded-for", "203.0.113.9")
                .json(&json!({"email": format!("u{n}@example.org"), "password": PASSWORD}))
        })
        .collect();
    let statuses = burst(requests).await;
    assert_eq!(count(&statuses, 201), 20, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 20, "{statuses:?}");
    app.stop().await;
}

/// Sign-ups for an email that has an account count too, so which emails exist cannot be
/// probed without limit: 19 more `409`s fill the hour, then `429`.
async fn sign_ups_for_a_taken_email_are_counted(backend: Backend) {
    let app = spawn_app_with(backend, behind_proxy()).await;
    let first = app
        .request(Method::POST, "/api/auth/signup")
        .header("x-forwarded-for", "203.0.113.10")
        .json(&json!({"email": "ada@example.org", "password": PASSWORD}))
        .send()
        .await
        .expect("sign-up");
    assert_eq!(first.status(), 201);
    let requests = (0..25)
        .map(|_| {
            app.request(Method::POST, "/api/auth/signup")
                .header("x-forwarded-for", "203.0.113.10")
                .json(&json!({"email": "ada@example.org", "password": "another password"}))
        })
        .collect();
    let statuses = burst(requests).await;
    assert_eq!(count(&statuses, 409), 19, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 6, "{statuses:?}");
    app.stop().await;
}

/// Two `serve` processes on one PostgreSQL database, 40 wrong log-ins for one account split
/// between them at once: exactly the limit (5) are tried in all.
#[tokio::test]
async fn log_in_bursts_across_two_processes_share_one_limit() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let env = [("QUIZMASTER_AUTH", "on")];
    let a = ChildProcess::serve(&database.url, &env);
    let b = ChildProcess::serve(&database.url, &env);
    let client = Client::new();
    let signed_up = client
        .post(format!("{}/api/auth/signup", a.base))
        .json(&json!({"email": "ada@example.org", "password": PASSWORD}))
        .send()
        .await
        .expect("sign-up");
    assert_eq!(signed_up.status(), 201);
    let requests = (0..40)
        .map(|n| {
            let base = if n % 2 == 0 { &a.base } else { &b.base };
            client
                .post(format!("{base}/api/auth/login"))
                .json(&json!({"email": "ada@example.org", "password": "wrong wrong wrong"}))
        })
        .collect();
    let statuses = burst(requests).await;
    assert_eq!(count(&statuses, 401), 5, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 35, "{statuses:?}");
    drop((a, b));
    database.drop_database().await;
}

// ---- 10. hygiene ----------------------------------------------------------------------------

async fn weak_passwords_and_look_alike_emails_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    for weak in [" ".repeat(12), "a".repeat(12), "1212121212".into()] {
        let response = app
            .post_json(
                "/api/auth/signup",
                json!({"email": "w@example.org", "password": weak}),
            )
            .await;
        let body = assert_error(response, 422, "validation_failed").await;
        assert_eq!(body["error"]["details"][0]["field"], "password", "{body}");
    }
    sign_up_cookie(&app, "jos\u{e9}@example.org").await;
    let decomposed = app
        .post_json(
            "/api/auth/signup",
            json!({"email": "jose\u{301}@example.org", "password": PASSWORD}),
        )
        .await;
    assert_error(decomposed, 409, "email_taken").await;
    let login = app
        .post_json(
            "/api/auth/login",
            json!({"email": "JOSE\u{301}@example.org", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        login.status(),
        200,
        "the same account, however it is written"
    );
    sign_up_cookie(&app, "ada@example.org").await;
    let full_width = app
        .post_json(
            "/api/auth/signup",
            json!({"email": "\u{ff41}da@example.org", "password": PASSWORD}),
        )
        .await;
    assert_error(full_width, 409, "email_taken").await;
    app.stop().await;
}

#[tokio::test]
async fn titles_refuse_invisible_tricks_and_responses_carry_safe_headers() {
    let app = spawn_app(Backend::Sqlite).await;
    for title in ["Cells\u{200b}", "abc\u{202e}txt.exe", "\u{feff}T"] {
        let response = app.post_json("/api/topics", json!({"title": title})).await;
        assert_error(response, 422, "validation_failed").await;
    }
    let me = app.get("/api/auth/me").await;
    assert_eq!(
        me.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert!(me.headers().get("strict-transport-security").is_none());
    let https = app
        .request(Method::GET, "/healthz")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("request");
    assert!(https
        .headers()
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("max-age=")));
    let docs = app.get("/api/docs/").await;
    assert_eq!(docs.status(), 200);
    let policy = docs
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-eval"), "{policy}");
    app.stop().await;
}

// ---- 9. taking access back ------------------------------------------------------------------

async fn log_in_as(app: &TestApp, email: &str, agent: &str) -> String {
    let response = app
        .request(Method::POST, "/api/auth/login")
        .header("user-agent", agent)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("log-in");
    assert_eq!(response.status(), 200);
    cookie_of(&response)
}

async fn sessions_are_listed_and_ended_one_or_all_but_the_current(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    let first = sign_up_cookie(&app, "ada@example.org").await;
    let laptop = log_in_as(&app, "ada@example.org", "LaptopBrowser/1.0").await;
    let phone = log_in_as(&app, "ada@example.org", "PhoneBrowser/2.0").await;
    let other = sign_up_cookie(&app, "bob@example.org").await;

    let list: Value = send(&app, &first, Method::GET, "/api/auth/sessions", None)
        .await
        .json()
        .await
        .expect("list");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{list}");
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    for field in ["id", "created_at", "last_seen_at", "client"] {
        assert!(
            items.iter().all(|s| s[field].is_string()),
            "{field}: {list}"
        );
    }
    let laptop_id = items
        .iter()
        .find(|s| {
            s["client"]
                .as_str()
                .is_some_and(|c| c.contains("LaptopBrowser"))
        })
        .and_then(|s| s["id"].as_str())
        .expect("the laptop's session")
        .to_string();

    let foreign = send(
        &app,
        &other,
        Method::DELETE,
        &format!("/api/auth/sessions/{laptop_id}"),
        None,
    )
    .await;
    assert_error(foreign, 404, "session_not_found").await;
    let ended = send(
        &app,
        &first,
        Method::DELETE,
        &format!("/api/auth/sessions/{laptop_id}"),
        None,
    )
    .await;
    assert_eq!(ended.status(), 204);
    let gone = send(&app, &laptop, Method::GET, "/api/auth/me", None).await;
    assert_error(gone, 401, "unauthenticated").await;
    assert_eq!(
        send(&app, &phone, Method::GET, "/api/auth/me", None)
            .await
            .status(),
        200
    );

    let everywhere = send(&app, &first, Method::DELETE, "/api/auth/sessions", None).await;
    assert_eq!(everywhere.status(), 204);
    let gone = send(
        &app,
        &phone,
        Method::POST,
        "/api/topics",
        Some(json!({"title": "T"})),
    )
    .await;
    assert_error(gone, 401, "unauthenticated").await;
    assert_eq!(
        send(&app, &first, Method::GET, "/api/auth/me", None)
            .await
            .status(),
        200
    );
    assert_eq!(
        send(&app, &other, Method::GET, "/api/auth/me", None)
            .await
            .status(),
        200,
        "another user's sessions are theirs"
    );
    let list: Value = send(&app, &first, Method::GET, "/api/auth/sessions", None)
        .await
        .json()
        .await
        .expect("list");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0]["current"], true);
    app.stop().await;
}

/// The sessions page lists where one is logged in and logs out everywhere else.
#[tokio::test]
async fn the_sessions_page_ends_the_other_sessions() {
    let app = spawn_app_with(Backend::Sqlite, accounts_on()).await;
    let here = sign_up_cookie(&app, "ada@example.org").await;
    let there = log_in_as(&app, "ada@example.org", "OtherBrowser/3.0").await;
    let page = send(&app, &here, Method::GET, "/account/sessions", None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("OtherBrowser/3.0 from 127.0.0.1"), "{html}");
    assert_eq!(html.matches("(this browser)").count(), 1, "{html}");
    assert!(html.contains("Log out everywhere else"));
    let no_redirects = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let ended = no_redirects
        .post(app.url("/account/sessions/end-others"))
        .header("cookie", &here)
        .send()
        .await
        .expect("post");
    assert_eq!(ended.status(), 303);
    let gone = send(&app, &there, Method::GET, "/api/auth/me", None).await;
    assert_error(gone, 401, "unauthenticated").await;
    assert_eq!(
        send(&app, &here, Method::GET, "/api/auth/me", None)
            .await
            .status(),
        200
    );
    let foreign = no_redirects
        .post(app.url("/account/sessions/end-others"))
        .header("cookie", &here)
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("post");
    assert_eq!(foreign.status(), 403, "a cross-site form is refused");
    app.stop().await;
}

fn days_from_now(value: &Value) -> i64 {
    let at =
        chrono::DateTime::parse_from_rfc3339(value.as_str().expect("a time")).expect("RFC 3339");
    (at.timestamp() - chrono::Utc::now().timestamp()) / 86_400
}

async fn tokens_expire_and_cannot_mint_tokens(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let url = database.url.clone();
    let app = spawn_app_on(database, accounts_on()).await;
    let cookie = sign_up_cookie(&app, "ada@example.org").await;
    let create = |body: Value| send(&app, &cookie, Method::POST, "/api/auth/tokens", Some(body));

    let default: Value = create(json!({"name": "ci"}))
        .await
        .json()
        .await
        .expect("token");
    assert!(
        (89..=90).contains(&days_from_now(&default["expires_at"])),
        "{default}"
    );
    let week: Value = create(json!({"name": "w", "expires_in_days": 7}))
        .await
        .json()
        .await
        .expect("token");
    assert!(
        (6..=7).contains(&days_from_now(&week["expires_at"])),
        "{week}"
    );
    let never = create(json!({"name": "forever", "expires_in_days": null})).await;
    assert_eq!(never.status(), 201);
    let never: Value = never.json().await.expect("token");
    assert!(never["expires_at"].is_null(), "{never}");
    for bad in [json!(0), json!(3651), json!("7")] {
        let response = create(json!({"name": "x", "expires_in_days": bad})).await;
        assert_error(response, 422, "validation_failed").await;
    }
    let list: Value = send(&app, &cookie, Method::GET, "/api/auth/tokens", None)
        .await
        .json()
        .await
        .expect("list");
    assert!(list["items"].as_array().is_some_and(|items| items
        .iter()
        .all(|t| t.as_object().is_some_and(|o| o.contains_key("expires_at")))));

    let token = str_of(&never, "token");
    let minted = app
        .request(Method::POST, "/api/auth/tokens")
        .bearer_auth(token)
        .json(&json!({"name": "child"}))
        .send()
        .await
        .expect("request");
    assert_error(minted, 403, "session_required").await;

    // A token whose time has passed is refused.
    let store = quizmaster::db::connect(
        &url,
        quizmaster::db::PoolSettings {
            max_connections: 2,
            acquire_timeout: Duration::from_secs(5),
        },
    )
    .await
    .expect("store");
    let me: Value = send(&app, &cookie, Method::GET, "/api/auth/me", None)
        .await
        .json()
        .await
        .expect("me");
    let owner = uuid::Uuid::parse_str(str_of(&me, "id")).expect("uuid");
    let secret = "qmt_expired_token_for_the_test";
    let now = chrono::Utc::now().timestamp_millis();
    store
        .create_api_token(&quizmaster::db::NewApiToken {
            id: quizmaster::domain::TokenId(uuid::Uuid::now_v7()),
            user_id: quizmaster::domain::UserId(owner),
            name: "old".into(),
            token_hash: quizmaster::accounts::hash_secret(secret),
            now: now - 10_000,
            expires_at: Some(now - 1_000),
        })
        .await
        .expect("stored");
    let expired = app
        .request(Method::GET, "/api/topics")
        .bearer_auth(secret)
        .send()
        .await
        .expect("request");
    assert_error(expired, 401, "unauthenticated").await;
    app.stop().await;
}

/// A token revoked (or a session ended) in one process is refused at once by another for any
/// state-changing request, even though that process had just checked and cached it.
#[tokio::test]
async fn a_revoke_is_believed_at_once_for_writes_in_another_process() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let env = [("QUIZMASTER_AUTH", "on")];
    let a = ChildProcess::serve(&database.url, &env);
    let b = ChildProcess::serve(&database.url, &env);
    let client = Client::new();
    let signed_up = client
        .post(format!("{}/api/auth/signup", a.base))
        .json(&json!({"email": "ada@example.org", "password": PASSWORD}))
        .send()
        .await
        .expect("sign-up");
    assert_eq!(signed_up.status(), 201);
    let cookie = cookie_of(&signed_up);
    let created: Value = client
        .post(format!("{}/api/auth/tokens", a.base))
        .header("cookie", &cookie)
        .json(&json!({"name": "script"}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = str_of(&created, "token").to_string();
    let other = client
        .post(format!("{}/api/auth/login", a.base))
        .json(&json!({"email": "ada@example.org", "password": PASSWORD}))
        .send()
        .await
        .expect("log-in");
    let other_cookie = cookie_of(&other);

    // B checks both credentials and would believe them for a few seconds.
    for request in [
        client
            .get(format!("{}/api/topics", b.base))
            .bearer_auth(&token),
        client
            .get(format!("{}/api/topics", b.base))
            .header("cookie", &other_cookie),
    ] {
        assert_eq!(request.send().await.expect("read").status(), 200);
    }
    let revoked = client
        .delete(format!(
            "{}/api/auth/tokens/{}",
            a.base,
            str_of(&created, "id")
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 204);
    let ended = client
        .delete(format!("{}/api/auth/sessions", a.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("end the others");
    assert_eq!(ended.status(), 204);
    for request in [
        client
            .post(format!("{}/api/topics", b.base))
            .bearer_auth(&token),
        client
            .post(format!("{}/api/topics", b.base))
            .header("cookie", &other_cookie),
    ] {
        let response = request
            .json(&json!({"title": "T"}))
            .send()
            .await
            .expect("write");
        assert_error(response, 401, "unauthenticated").await;
    }
    drop((a, b));
    database.drop_database().await;
}

on_both_backends!(
    streams_past_the_cap_get_429,
    control_characters_get_422_everywhere,
    forwarded_clients_with_ports_brackets_or_loopback_are_limited,
    parallel_log_ins_cannot_beat_the_limit,
    parallel_sign_ups_cannot_beat_the_limit,
    sign_ups_for_a_taken_email_are_counted,
    weak_passwords_and_look_alike_emails_are_refused,
    sessions_are_listed_and_ended_one_or_all_but_the_current,
    tokens_expire_and_cannot_mint_tokens,
);
