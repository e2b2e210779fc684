//! Accounts and access over real HTTP (issue 6): sign-up, log-in, sessions, API tokens,
//! ownership on every route, log-in throttling, cross-site refusal and the generation limits.

use std::time::Duration;

use quizmaster::config::AccountsConfig;
use quizmaster::core::Core;
use quizmaster::db::{self, GenerationLimits, NewUser, PoolSettings, SignupOutcome};
use quizmaster::domain::{TopicId, TopicInput, UserId, LOCAL_USER_ID};
use quizmaster::jobs::hub::StatusHub;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

const PASSWORD: &str = "correct horse battery";

/// How a test client proves who it is.
#[derive(Clone)]
enum Caller {
    Anonymous,
    Cookie(String),
    Bearer(String),
}

impl Caller {
    fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Caller::Anonymous => request,
            Caller::Cookie(cookie) => request.header("cookie", cookie),
            Caller::Bearer(token) => request.bearer_auth(token),
        }
    }
}

async fn send(
    app: &TestApp,
    caller: &Caller,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let mut request = caller.apply(app.request(method, path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

/// The `name=value` of the session cookie a response sets, and the whole `Set-Cookie` line.
fn session_cookie(response: &Response) -> (String, String) {
    let line = session_set_cookie(response);
    let pair = line.split(';').next().unwrap_or_default().to_string();
    (pair, line)
}

fn accounts_on() -> Settings {
    Settings {
        accounts: AccountsConfig::default(),
        ..Settings::default()
    }
}

/// Signs up and returns the session cookie and the user.
async fn sign_up(app: &TestApp, email: &str) -> (Caller, Value) {
    let response = app
        .post_json(
            "/api/auth/signup",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 201, "sign-up of {email}");
    let (cookie, _) = session_cookie(&response);
    let user: Value = response.json().await.expect("user json");
    (Caller::Cookie(cookie), user)
}

async fn new_token(app: &TestApp, caller: &Caller, name: &str) -> (String, String) {
    let response = send(
        app,
        caller,
        Method::POST,
        "/api/auth/tokens",
        Some(json!({"name": name})),
    )
    .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("token json");
    (
        str_of(&body, "id").to_string(),
        str_of(&body, "token").to_string(),
    )
}

async fn create_topic_as(app: &TestApp, caller: &Caller, title: &str) -> String {
    let response = send(
        app,
        caller,
        Method::POST,
        "/api/topics",
        Some(json!({"title": title})),
    )
    .await;
    assert_eq!(response.status(), 201, "create {title}");
    let topic: Value = response.json().await.expect("topic json");
    str_of(&topic, "id").to_string()
}

async fn generate_as(app: &TestApp, caller: &Caller, topic_id: &str, target: i64) -> Response {
    send(
        app,
        caller,
        Method::POST,
        &format!("/api/topics/{topic_id}/blueprints/generate"),
        Some(json!({"target_terminal_objectives": target})),
    )
    .await
}

async fn wait_completed(app: &TestApp, caller: &Caller, topic_id: &str, blueprint_id: &str) {
    let path = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/status");
    let last = poll_until(
        Duration::from_secs(20),
        || async {
            let response = send(app, caller, Method::GET, &path, None).await;
            response.json::<Value>().await.expect("status json")
        },
        |s| s["status"] == "completed",
    )
    .await;
    assert!(last.is_ok(), "completed: {last:?}");
}

/// Every route under one topic (and one blueprint of it), with a body where it takes one.
fn topic_routes(topic: &str, blueprint: &str) -> Vec<(Method, String, Option<Value>)> {
    let t = format!("/api/topics/{topic}");
    let b = format!("{t}/blueprints/{blueprint}");
    vec![
        (Method::GET, t.clone(), None),
        (
            Method::PATCH,
            t.clone(),
            Some(json!({"title": "Taken over"})),
        ),
        (Method::GET, format!("{t}/blueprints"), None),
        (
            Method::POST,
            format!("{t}/blueprints/generate"),
            Some(json!({})),
        ),
        (Method::GET, format!("{b}/status"), None),
        (Method::GET, format!("{b}/status?wait=1"), None),
        (Method::GET, format!("{b}/events"), None),
        (Method::POST, format!("{b}/cancel"), None),
        (Method::GET, b.clone(), None),
        (Method::GET, format!("{b}/export?format=markdown"), None),
        (Method::DELETE, b.clone(), None),
        (Method::DELETE, t.clone(), None),
    ]
}

async fn anonymous_requests_are_refused_with_www_authenticate(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    let topic = Uuid::now_v7().to_string();
    let blueprint = Uuid::now_v7().to_string();
    let mut routes = topic_routes(&topic, &blueprint);
    routes.push((Method::GET, "/api/topics".into(), None));
    routes.push((
        Method::POST,
        "/api/topics".into(),
        Some(json!({"title": "x"})),
    ));
    routes.push((Method::GET, "/api/auth/tokens".into(), None));
    routes.push((
        Method::POST,
        "/api/auth/tokens".into(),
        Some(json!({"name": "x"})),
    ));
    routes.push((Method::GET, "/api/auth/me".into(), None));
    routes.push((
        Method::GET,
        "/api/topics/not-a-uuid/blueprints".into(),
        None,
    ));
    for (method, path, body) in routes {
        let response = send(&app, &Caller::Anonymous, method.clone(), &path, body).await;
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert_error(response, 401, "unauthenticated").await;
        assert!(
            challenge.starts_with("Bearer"),
            "{method} {path}: {challenge:?}"
        );
    }
    // A made-up or malformed token is refused the same way.
    for token in ["qmt_made_up", ""] {
        let response = send(
            &app,
            &Caller::Bearer(token.into()),
            Method::GET,
            "/api/topics",
            None,
        )
        .await;
        assert_error(response, 401, "unauthenticated").await;
    }
    // What needs no log-in; every answer carries the baseline security headers.
    for path in [
        "/healthz",
        "/readyz",
        "/api/openapi.json",
        "/metrics",
        "/api/topics",
    ] {
        let response = app.get(path).await;
        if path != "/api/topics" {
            assert_eq!(response.status(), 200, "{path}");
        }
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        let policy = headers["content-security-policy"].to_str().expect("ascii");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
    }
    app.stop().await;
}

async fn sign_up_log_in_and_log_out(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    let response = app
        .post_json(
            "/api/auth/signup",
            json!({"email": "  Ada@Example.org ", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let (first_cookie, line) = session_cookie(&response);
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Lax"),
        "{line}"
    );
    assert!(
        !line.contains("Secure"),
        "plain HTTP: no Secure flag: {line}"
    );
    let ada: Value = response.json().await.expect("user");
    assert_eq!(ada["email"], "ada@example.org");
    assert_eq!(ada["is_admin"], true, "the first user is an admin");
    assert!(ada.get("password_hash").is_none() && ada.get("password").is_none());

    let (_, bob) = sign_up(&app, "bob@example.org").await;
    assert_eq!(bob["is_admin"], false);

    // The same email in other letters is taken; bad input is a 422 naming the field.
    let taken = app
        .post_json(
            "/api/auth/signup",
            json!({"email": "ADA@example.org", "password": PASSWORD}),
        )
        .await;
    assert_error(taken, 409, "email_taken").await;
    let short = app
        .post_json(
            "/api/auth/signup",
            json!({"email": "cy@example.org", "password": "123456789"}),
        )
        .await;
    let body = assert_error(short, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"][0]["field"], "password");
    let bad_email = app
        .post_json(
            "/api/auth/signup",
            json!({"email": "not-an-email", "password": PASSWORD}),
        )
        .await;
    let body = assert_error(bad_email, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"][0]["field"], "email");
    // Values of the wrong JSON type are field details (422), not a malformed body (400).
    for (path, body) in [
        ("/api/auth/signup", json!({"email": 3, "password": true})),
        ("/api/auth/login", json!({"email": ["ada"], "password": {}})),
    ] {
        let response = app.post_json(path, body).await;
        let body = assert_error(response, 422, "validation_failed").await;
        let details = &body["error"]["details"];
        assert_eq!(details[0]["field"], "email", "{body}");
        assert_eq!(details[0]["message"], "email must be a string", "{body}");
        assert_eq!(details[1]["field"], "password", "{body}");
    }
    let malformed = app
        .request(Method::POST, "/api/auth/signup")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .expect("request");
    assert_error(malformed, 400, "invalid_json").await;

    // A wrong password and an unknown email get the very same answer.
    let wrong = app
        .post_json(
            "/api/auth/login",
            json!({"email": "ada@example.org", "password": "not the password"}),
        )
        .await;
    let wrong = assert_error(wrong, 401, "invalid_credentials").await;
    let unknown = app
        .post_json(
            "/api/auth/login",
            json!({"email": "nobody@example.org", "password": "not the password"}),
        )
        .await;
    let unknown = assert_error(unknown, 401, "invalid_credentials").await;
    assert_eq!(wrong, unknown);

    let login = app
        .post_json(
            "/api/auth/login",
            json!({"email": "Ada@example.org", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 200);
    let (second_cookie, _) = session_cookie(&login);
    assert_ne!(first_cookie, second_cookie, "every log-in is a new session");
    let second = Caller::Cookie(second_cookie);
    let me = send(&app, &second, Method::GET, "/api/auth/me", None).await;
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<Value>().await.expect("me")["id"], ada["id"]);

    // Logging out ends that session only; the cookie is cleared.
    let out = send(&app, &second, Method::POST, "/api/auth/logout", None).await;
    assert_eq!(out.status(), 204);
    let (cleared, line) = session_cookie(&out);
    assert_eq!(cleared, "qm_session=");
    assert!(line.contains("Max-Age=0"), "{line}");
    let after = send(&app, &second, Method::GET, "/api/auth/me", None).await;
    assert_error(after, 401, "unauthenticated").await;
    let first = Caller::Cookie(first_cookie);
    let still = send(&app, &first, Method::GET, "/api/topics", None).await;
    assert_eq!(still.status(), 200, "the other session goes on");
    app.stop().await;
}

async fn nobody_sees_or_touches_anybody_elses_work(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    let (ada, _) = sign_up(&app, "ada@example.org").await;
    let (bob_session, _) = sign_up(&app, "bob@example.org").await;
    let (_, bob_token) = new_token(&app, &bob_session, "bob's script").await;
    let bob_by_token = Caller::Bearer(bob_token);

    let topic = create_topic_as(&app, &ada, "Ada's topic").await;
    let started = generate_as(&app, &ada, &topic, 2).await;
    assert_eq!(started.status(), 202);
    let blueprint = str_of(&started.json::<Value>().await.expect("view"), "id").to_string();
    wait_completed(&app, &ada, &topic, &blueprint).await;

    for bob in [&bob_session, &bob_by_token] {
        let list = send(&app, bob, Method::GET, "/api/topics", None).await;
        assert_eq!(
            list.json::<Value>().await.expect("list")["items"],
            json!([])
        );
        for (method, path, body) in topic_routes(&topic, &blueprint) {
            let response = send(&app, bob, method.clone(), &path, body).await;
            assert_error(response, 404, "topic_not_found").await;
        }
    }
    // The topic is checked before the ids after it, so a malformed one tells Bob nothing.
    let probe = send(
        &app,
        &bob_session,
        Method::DELETE,
        &format!("/api/topics/{topic}/blueprints/not-a-uuid"),
        None,
    )
    .await;
    assert_error(probe, 404, "topic_not_found").await;
    // Ada's blueprint under Bob's own topic is simply not there either.
    let bobs_topic = create_topic_as(&app, &bob_session, "Bob's topic").await;
    let cross = send(
        &app,
        &bob_session,
        Method::GET,
        &format!("/api/topics/{bobs_topic}/blueprints/{blueprint}/status"),
        None,
    )
    .await;
    assert_error(cross, 404, "blueprint_not_found").await;

    // Nothing of Ada's changed.
    let ada_topic = send(
        &app,
        &ada,
        Method::GET,
        &format!("/api/topics/{topic}"),
        None,
    )
    .await;
    assert_eq!(ada_topic.status(), 200);
    assert_eq!(
        ada_topic.json::<Value>().await.expect("topic")["title"],
        "Ada's topic"
    );
    let export = send(
        &app,
        &ada,
        Method::GET,
        &format!("/api/topics/{topic}/blueprints/{blueprint}/export?format=json"),
        None,
    )
    .await;
    assert_eq!(export.status(), 200);
    let ada_list = send(&app, &ada, Method::GET, "/api/topics", None).await;
    let items = ada_list.json::<Value>().await.expect("list")["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    app.stop().await;
}

async fn api_tokens_are_shown_once_listed_without_secret_and_revocable(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    let (ada, _) = sign_up(&app, "ada@example.org").await;
    let (bob, _) = sign_up(&app, "bob@example.org").await;
    let (id, token) = new_token(&app, &ada, "  grading script ").await;
    assert!(token.starts_with("qmt_") && token.len() > 40, "{token}");

    let listing = send(&app, &ada, Method::GET, "/api/auth/tokens", None).await;
    assert_eq!(listing.status(), 200);
    let text = listing.text().await.expect("body");
    assert!(!text.contains(&token), "the secret is never listed: {text}");
    let listed: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(listed["items"][0]["id"], id.as_str());
    assert_eq!(listed["next_cursor"], Value::Null);
    assert_eq!(listed["items"][0]["name"], "grading script");
    assert!(listed["items"][0].get("token").is_none());
    let bobs = send(&app, &bob, Method::GET, "/api/auth/tokens", None).await;
    assert_eq!(
        bobs.json::<Value>().await.expect("list")["items"],
        json!([])
    );

    // The token works on its own, and says whose it is.
    let by_token = Caller::Bearer(token.clone());
    let topic = create_topic_as(&app, &by_token, "Scripted").await;
    let seen = send(
        &app,
        &ada,
        Method::GET,
        &format!("/api/topics/{topic}"),
        None,
    )
    .await;
    assert_eq!(seen.status(), 200, "a token acts as its owner");
    let used = send(&app, &ada, Method::GET, "/api/auth/tokens", None).await;
    let used: Value = used.json().await.expect("list");
    assert!(used["items"][0]["last_used_at"].is_string(), "{used}");
    let invalid = send(
        &app,
        &ada,
        Method::POST,
        "/api/auth/tokens",
        Some(json!({"name": " "})),
    )
    .await;
    assert_error(invalid, 422, "validation_failed").await;
    let wrong_types = send(
        &app,
        &ada,
        Method::POST,
        "/api/auth/tokens",
        Some(json!({"name": 5, "expires_in_days": "7"})),
    )
    .await;
    let body = assert_error(wrong_types, 422, "validation_failed").await;
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert_eq!(fields, ["name", "expires_in_days"], "{body}");

    // Bob cannot revoke it; Ada can, and then it is refused.
    let path = format!("/api/auth/tokens/{id}");
    let foreign = send(&app, &bob, Method::DELETE, &path, None).await;
    assert_error(foreign, 404, "token_not_found").await;
    let revoked = send(&app, &ada, Method::DELETE, &path, None).await;
    assert_eq!(revoked.status(), 204);
    let refused = send(&app, &by_token, Method::GET, "/api/topics", None).await;
    assert_error(refused, 401, "unauthenticated").await;
    let again = send(&app, &ada, Method::DELETE, &path, None).await;
    assert_error(again, 404, "token_not_found").await;
    let bad_id = send(&app, &ada, Method::DELETE, "/api/auth/tokens/nope", None).await;
    assert_error(bad_id, 400, "invalid_id").await;
    app.stop().await;
}

async fn repeated_failed_log_ins_are_throttled(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    sign_up(&app, "ada@example.org").await;
    let attempt = |password: &'static str| {
        app.post_json(
            "/api/auth/login",
            json!({"email": "ada@example.org", "password": password}),
        )
    };
    let mut refused_after = None;
    for n in 1..=10 {
        let response = attempt("guess guess guess").await;
        if response.status() == 429 {
            refused_after = Some(n);
            let wait: u64 = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("Retry-After in seconds");
            assert!((1..=15 * 60).contains(&wait), "{wait}");
            assert_error(response, 429, "too_many_attempts").await;
            break;
        }
        assert_error(response, 401, "invalid_credentials").await;
    }
    assert_eq!(
        refused_after,
        Some(6),
        "five failures are allowed, the sixth is refused"
    );
    // While throttled, even the right password is refused: guessing gains nothing.
    let right = attempt(PASSWORD).await;
    assert_error(right, 429, "too_many_attempts").await;
    app.stop().await;
}

async fn cookie_requests_from_another_site_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    let (ada, _) = sign_up(&app, "ada@example.org").await;
    let (_, token) = new_token(&app, &ada, "script").await;
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = ada
            .apply(app.request(Method::POST, "/api/topics"))
            .header(name, value)
            .json(&json!({"title": "Planted"}))
            .send()
            .await
            .expect("request");
        assert_error(response, 403, "cross_site_request").await;
    }
    let listed = send(&app, &ada, Method::GET, "/api/topics", None).await;
    assert_eq!(
        listed.json::<Value>().await.expect("list")["items"],
        json!([]),
        "nothing was created"
    );
    // The same request from this origin, or with a token (which a foreign page cannot make a
    // browser send), goes through.
    let host = app.base.trim_start_matches("http://").to_string();
    let same = ada
        .apply(app.request(Method::POST, "/api/topics"))
        .header("origin", format!("http://{host}"))
        .json(&json!({"title": "Mine"}))
        .send()
        .await
        .expect("request");
    assert_eq!(same.status(), 201);
    let scripted = app
        .request(Method::POST, "/api/topics")
        .bearer_auth(&token)
        .header("origin", "http://elsewhere.example")
        .json(&json!({"title": "Scripted"}))
        .send()
        .await
        .expect("request");
    assert_eq!(scripted.status(), 201);
    // Log-in from a foreign page is refused too (no logging a visitor into another account).
    let planted = app
        .request(Method::POST, "/api/auth/login")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"email": "ada@example.org", "password": PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_error(planted, 403, "cross_site_request").await;
    app.stop().await;
}

async fn generation_starts_are_rate_limited_per_user(backend: Backend) {
    let mut settings = accounts_on();
    settings.accounts.generate_per_minute = Some(3);
    settings.accounts.max_active_per_user = Some(0);
    let app = spawn_app_with(backend, settings).await;
    let (ada, _) = sign_up(&app, "ada@example.org").await;
    let (bob, _) = sign_up(&app, "bob@example.org").await;
    let mut topics = Vec::new();
    for n in 0..6 {
        topics.push(create_topic_as(&app, &ada, &format!("Topic {n}")).await);
    }
    // Six at once: the limit is checked where the job is created, so exactly three get in.
    let (replayed_topic, key) = (topics[0].clone(), "first-try");
    let requests = topics.iter().map(|topic| {
        let mut request = ada.apply(app.request(
            Method::POST,
            &format!("/api/topics/{topic}/blueprints/generate"),
        ));
        if *topic == replayed_topic {
            request = request.header("idempotency-key", key);
        }
        async move { request.send().await.expect("request") }
    });
    let responses = futures::future::join_all(requests).await;
    let accepted = responses.iter().filter(|r| r.status() == 202).count();
    let limited: Vec<_> = responses
        .into_iter()
        .filter(|r| r.status() != 202)
        .collect();
    assert_eq!(accepted, 3, "exactly the limit");
    assert_eq!(limited.len(), 3);
    for response in limited {
        let wait: u64 = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After");
        assert!((1..=60).contains(&wait), "{wait}");
        assert_error(response, 429, "rate_limited").await;
    }
    // Another user has a budget of their own.
    let bobs = create_topic_as(&app, &bob, "Bob's").await;
    assert_eq!(generate_as(&app, &bob, &bobs, 1).await.status(), 202);
    app.stop().await;
}

async fn active_generations_are_limited_per_user(backend: Backend) {
    let mut settings = accounts_on();
    settings.accounts.generate_per_minute = Some(0);
    settings.accounts.max_active_per_user = Some(2);
    settings.pace_ms = 2_000;
    let app = spawn_app_with(backend, settings).await;
    let (ada, _) = sign_up(&app, "ada@example.org").await;
    let mut active = Vec::new();
    for n in 0..2 {
        let topic = create_topic_as(&app, &ada, &format!("Slow {n}")).await;
        let started = generate_as(&app, &ada, &topic, 30).await;
        assert_eq!(started.status(), 202);
        let view: Value = started.json().await.expect("view");
        active.push((topic, str_of(&view, "id").to_string()));
    }
    let third = create_topic_as(&app, &ada, "One too many").await;
    let refused = generate_as(&app, &ada, &third, 30).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_error(refused, 429, "too_many_active_generations").await;
    // Cancelling one frees its place.
    let (topic, blueprint) = &active[0];
    let cancel = send(
        &app,
        &ada,
        Method::POST,
        &format!("/api/topics/{topic}/blueprints/{blueprint}/cancel"),
        None,
    )
    .await;
    assert_eq!(cancel.status(), 200);
    assert_eq!(generate_as(&app, &ada, &third, 30).await.status(), 202);
    app.stop().await;
}

async fn with_accounts_off_the_local_user_needs_no_log_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let me = app.get("/api/auth/me").await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.expect("me");
    assert_eq!(me["id"], LOCAL_USER_ID.to_string());
    let signup = app
        .post_json(
            "/api/auth/signup",
            json!({"email": "ada@example.org", "password": PASSWORD}),
        )
        .await;
    assert_error(signup, 409, "auth_disabled").await;
    let topic = app.create_topic("No account needed").await;
    assert_eq!(
        app.get(&format!("/api/topics/{}", str_of(&topic, "id")))
            .await
            .status(),
        200
    );
    app.stop().await;
}

/// Data stored while accounts were off belongs to the first account made afterwards.
async fn the_first_account_takes_over_the_local_users_topics(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let store = db::connect(&database.url, PoolSettings::default())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let core = Core::new(store.clone(), StatusHub::new(), GenerationLimits::default());
    let input = TopicInput {
        title: "From the laptop days".into(),
        description: None,
        source_text: None,
    };
    let topic = store
        .create_topic(
            UserId(LOCAL_USER_ID),
            TopicId(Uuid::now_v7()),
            &input,
            1_000,
        )
        .await
        .expect("topic");
    let new_user = |email: &str| NewUser {
        id: UserId(Uuid::now_v7()),
        email: email.into(),
        password_hash: "$argon2id$placeholder".into(),
        now: 2_000,
    };
    let SignupOutcome::Created(first) = core.create_user(&new_user("a@b.co")).await.expect("a")
    else {
        panic!("created");
    };
    assert!(first.is_admin);
    assert_eq!(
        store.topic_owner(TopicId(topic.id)).await.expect("owner"),
        Some(UserId(first.id))
    );
    let SignupOutcome::Created(second) = core.create_user(&new_user("c@d.co")).await.expect("c")
    else {
        panic!("created");
    };
    assert!(!second.is_admin);
    let theirs = store
        .list_topics(UserId(second.id), 10, None)
        .await
        .expect("list");
    assert!(theirs.is_empty());
    assert!(matches!(
        core.create_user(&new_user("a@b.co")).await.expect("dup"),
        SignupOutcome::EmailTaken
    ));
    database.drop_database().await;
}

/// Failed log-ins for different accounts, each as a request a proxy forwarded for `forwarded`.
async fn fail_from(app: &TestApp, forwarded: &str, attempts: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for n in 0..attempts {
        let response = app
            .request(Method::POST, "/api/auth/login")
            .header("x-forwarded-for", format!("198.51.100.7, {forwarded}"))
            .json(
                &json!({"email": format!("user{n}@example.org"), "password": "wrong wrong wrong"}),
            )
            .send()
            .await
            .expect("request");
        statuses.push(response.status().as_u16());
    }
    statuses
}

/// One address may fail 20 times in the window. Behind a proxy (`QUIZMASTER_TRUST_PROXY=on`)
/// the address is the one the proxy put last in `X-Forwarded-For`; otherwise the header is
/// ignored, so a client cannot dodge the limit by making up addresses.
#[tokio::test]
async fn log_in_throttling_counts_the_forwarded_address_only_behind_a_trusted_proxy() {
    let mut trusting = accounts_on();
    trusting.accounts.trust_proxy = quizmaster::config::Toggle::On;
    let app = spawn_app_with(Backend::Sqlite, trusting).await;
    let statuses = fail_from(&app, "203.0.113.9", 21).await;
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(
        statuses[20], 429,
        "the 21st failure from one address is refused"
    );
    assert_eq!(
        fail_from(&app, "203.0.113.10", 1).await,
        vec![401],
        "another client is not"
    );
    app.stop().await;

    let app = spawn_app_with(Backend::Sqlite, accounts_on()).await;
    let statuses = fail_from(&app, "203.0.113.9", 20).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(
        fail_from(&app, "203.0.113.10", 1).await,
        vec![429],
        "a made-up X-Forwarded-For does not make a new client"
    );
    app.stop().await;
}

/// One address may create `QUIZMASTER_SIGNUPS_PER_HOUR` accounts an hour (here 2, behind a
/// trusted proxy so that the test can speak for other addresses); loopback itself is exempt.
async fn sign_ups_are_limited_per_address(backend: Backend) {
    let mut settings = accounts_on();
    settings.accounts.trust_proxy = quizmaster::config::Toggle::On;
    settings.accounts.signups_per_hour = 2;
    let app = spawn_app_with(backend, settings).await;
    let sign_up_from = |n: usize, forwarded: &'static str| {
        app.request(Method::POST, "/api/auth/signup")
            .header("x-forwarded-for", forwarded)
            .json(&json!({"email": format!("user{n}@example.org"), "password": PASSWORD}))
            .send()
    };
    for n in 0..2 {
        let response = sign_up_from(n, "203.0.113.9").await.expect("request");
        assert_eq!(response.status(), 201, "sign-up {n}");
    }
    let refused = sign_up_from(2, "203.0.113.9").await.expect("request");
    let wait: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=3600).contains(&wait), "{wait}");
    assert_error(refused, 429, "too_many_signups").await;
    let elsewhere = sign_up_from(3, "203.0.113.10").await.expect("request");
    assert_eq!(
        elsewhere.status(),
        201,
        "another address has its own budget"
    );
    // The refused email was not taken: it can sign up from another address.
    let retried = sign_up_from(2, "198.51.100.20").await.expect("request");
    assert_eq!(retried.status(), 201);
    // Loopback (the machine itself: scripts, tests) is not counted.
    for n in 10..14 {
        sign_up(&app, &format!("local{n}@example.org")).await;
    }
    app.stop().await;
}

on_both_backends!(
    sign_ups_are_limited_per_address,
    anonymous_requests_are_refused_with_www_authenticate,
    sign_up_log_in_and_log_out,
    nobody_sees_or_touches_anybody_elses_work,
    api_tokens_are_shown_once_listed_without_secret_and_revocable,
    repeated_failed_log_ins_are_throttled,
    cookie_requests_from_another_site_are_refused,
    generation_starts_are_rate_limited_per_user,
    active_generations_are_limited_per_user,
    with_accounts_off_the_local_user_needs_no_log_in,
    the_first_account_takes_over_the_local_users_topics,
);
