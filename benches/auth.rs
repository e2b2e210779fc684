//! What accounts cost a status poll, and how fast log-in is.
//!
//! `cargo bench --bench auth` starts two in-process servers on fresh SQLite files, one with
//! `QUIZMASTER_AUTH=off` (the baseline) and one with accounts on, and sends the same status
//! polls of a completed blueprint to each over loopback HTTP (8 at a time): without a
//! credential to the baseline, then with a bearer token and with a session cookie. It prints
//! polls per second and the ratio to the baseline measured in the same run, then the time of a
//! log-in (one Argon2id verification) and of a failed one (unknown email: the same work). The
//! run fails if a token poll is slower than half the baseline or an unknown email answers in
//! under half the time of a wrong password (the two must not be told apart by timing).

use std::time::{Duration, Instant};

use quizmaster::cli::serve::Server;
use quizmaster::config::{
    AccountsConfig, DatabaseConfig, GeneratorConfig, JobConfig, OpsConfig, ServeConfig,
};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

struct Target {
    base: String,
    client: reqwest::Client,
    status_path: String,
    _server: Server,
    _dir: tempfile::TempDir,
}

async fn start(accounts: AccountsConfig) -> Target {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ServeConfig {
        bind: "127.0.0.1:0".parse().expect("address"),
        database: DatabaseConfig::new(format!(
            "sqlite://{}",
            dir.path().join("bench.db").display()
        )),
        jobs: JobConfig {
            workers: 2,
            generation_timeout_secs: 600,
            lease_secs: 30,
            max_attempts: 3,
            shutdown_grace_secs: 0,
        },
        generator: GeneratorConfig::default(),
        ops: OpsConfig::default(),
        accounts,
    };
    let server = Server::start(config).await.expect("server starts");
    Target {
        base: format!("http://{}", server.address),
        client: reqwest::Client::new(),
        status_path: String::new(),
        _server: server,
        _dir: dir,
    }
}

impl Target {
    fn request(&self, method: reqwest::Method, path: &str, auth: &Auth) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Cookie(cookie) => request.header("cookie", cookie),
        }
    }

    async fn json(&self, method: reqwest::Method, path: &str, auth: &Auth, body: Value) -> Value {
        let response = self
            .request(method, path, auth)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    /// A topic with a completed blueprint, whose status URL the polls read.
    async fn prepare(&mut self, auth: &Auth) {
        let topic = self
            .json(
                reqwest::Method::POST,
                "/api/topics",
                auth,
                json!({"title": "Bench"}),
            )
            .await;
        let topic_id = topic["id"].as_str().expect("id").to_string();
        let view = self
            .json(
                reqwest::Method::POST,
                &format!("/api/topics/{topic_id}/blueprints/generate"),
                auth,
                json!({"target_terminal_objectives": 3}),
            )
            .await;
        let blueprint_id = view["id"].as_str().expect("id");
        self.status_path = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/status");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = self
                .request(reqwest::Method::GET, &self.status_path, auth)
                .send()
                .await
                .expect("status")
                .json::<Value>()
                .await
                .expect("json");
            if status["status"] == "completed" {
                break;
            }
            assert!(Instant::now() < deadline, "the blueprint completes");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls per second over `total` polls, `concurrency` at a time.
    async fn polls_per_second(&self, auth: &Auth, total: usize, concurrency: usize) -> f64 {
        let started = Instant::now();
        let per_task = total / concurrency;
        let tasks = (0..concurrency).map(|_| async {
            for _ in 0..per_task {
                let response = self
                    .request(reqwest::Method::GET, &self.status_path, auth)
                    .send()
                    .await
                    .expect("poll");
                assert_eq!(response.status(), 200);
                let _ = response.bytes().await.expect("body");
            }
        });
        futures::future::join_all(tasks).await;
        (per_task * concurrency) as f64 / started.elapsed().as_secs_f64()
    }
}

#[derive(Clone)]
enum Auth {
    None,
    Bearer(String),
    Cookie(String),
}

async fn sign_up(target: &Target) -> (Auth, Auth) {
    let response = target
        .request(reqwest::Method::POST, "/api/auth/signup", &Auth::None)
        .json(&json!({"email": "bench@example.org", "password": PASSWORD}))
        .send()
        .await
        .expect("sign-up");
    assert_eq!(response.status(), 201);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("cookie")
        .to_string();
    let cookie = Auth::Cookie(cookie);
    let token = target
        .json(
            reqwest::Method::POST,
            "/api/auth/tokens",
            &cookie,
            json!({"name": "bench"}),
        )
        .await;
    let token = Auth::Bearer(token["token"].as_str().expect("token").to_string());
    (token, cookie)
}

/// The median time of `runs` log-in attempts with this email and password.
async fn login_time(target: &Target, email: &str, password: &str, runs: usize) -> Duration {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let response = target
            .request(reqwest::Method::POST, "/api/auth/login", &Auth::None)
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("log-in");
        assert!(response.status() == 200 || response.status() == 401);
        times.push(started.elapsed());
    }
    times.sort();
    times[runs / 2]
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs this too, in a debug build and without `--bench`: then
    // it only checks that it runs, with a few requests, and judges no figure.
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let (total, runs) = if smoke { (80, 3) } else { (8_000, 9) };

    let mut off = start(AccountsConfig::local_unlimited()).await;
    off.prepare(&Auth::None).await;
    let mut on = start(AccountsConfig {
        generate_per_minute: Some(0),
        max_active_per_user: Some(0),
        ..AccountsConfig::default()
    })
    .await;
    let (token, cookie) = sign_up(&on).await;
    on.prepare(&token).await;

    // Warm up connections and caches on both.
    off.polls_per_second(&Auth::None, total / 4, 8).await;
    on.polls_per_second(&token, total / 4, 8).await;

    let baseline = off.polls_per_second(&Auth::None, total, 8).await;
    let with_token = on.polls_per_second(&token, total, 8).await;
    let with_cookie = on.polls_per_second(&cookie, total, 8).await;
    let baseline_again = off.polls_per_second(&Auth::None, total, 8).await;
    // The baseline is measured before and after, so drift on a shared machine shows.
    let baseline = (baseline + baseline_again) / 2.0;

    // Log-in throttling would refuse repeated failures of one account; these are spread
    // over fresh unknown emails and one wrong-password run kept under the limit.
    let right = login_time(&on, "bench@example.org", PASSWORD, runs).await;
    let wrong = login_time(&on, "bench@example.org", "not the password", runs.min(4)).await;
    let mut unknown_times = Vec::new();
    for n in 0..runs {
        unknown_times.push(login_time(&on, &format!("nobody{n}@example.org"), PASSWORD, 1).await);
    }
    unknown_times.sort();
    let unknown = unknown_times[runs / 2];

    if smoke {
        println!(
            "smoke run (debug build, not a benchmark): {baseline:.0} / {with_token:.0} / {with_cookie:.0} polls/s, log-in {right:?}"
        );
        return;
    }
    println!("status polls of a completed blueprint, {total} per row, 8 at a time, SQLite");
    println!("{:<28} {:>10} {:>8}", "", "polls/s", "ratio");
    println!(
        "{:<28} {:>10.0} {:>7.2}x",
        "QUIZMASTER_AUTH=off (base)", baseline, 1.0
    );
    println!(
        "{:<28} {:>10.0} {:>7.2}x",
        "bearer token",
        with_token,
        with_token / baseline
    );
    println!(
        "{:<28} {:>10.0} {:>7.2}x",
        "session cookie",
        with_cookie,
        with_cookie / baseline
    );
    println!("log-in, median of {runs}: right password {right:?}, wrong password {wrong:?}, unknown email {unknown:?} ({:.2}x of wrong)",
        unknown.as_secs_f64() / wrong.as_secs_f64());
    assert!(
        with_token >= baseline * 0.5,
        "a token poll is slower than half the baseline"
    );
    assert!(
        unknown.as_secs_f64() >= wrong.as_secs_f64() * 0.5,
        "an unknown email answers much faster than a wrong password: it can be told apart"
    );
}
