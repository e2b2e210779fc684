//! `quizmaster generate`, run as a real process on a fresh SQLite file.

#[path = "../support/child.rs"]
mod child;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn generate(dir: &tempfile::TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quizmaster"))
        .arg("generate")
        .args(args)
        .env(
            "QUIZMASTER_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("cli.db").display()),
        )
        .output()
        .expect("run quizmaster generate")
}

#[test]
fn generate_prints_the_blueprint_in_each_format() {
    let dir = tempfile::tempdir().expect("dir");
    let notes = dir.path().join("notes.md");
    std::fs::write(&notes, include_str!("../fixtures/lecture.md")).expect("notes");
    let notes = notes.to_string_lossy().to_string();

    let json = generate(
        &dir,
        &[
            "--title",
            "Hash tables",
            "--source",
            &notes,
            "--target",
            "3",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        json.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let document: Value =
        serde_json::from_slice(&json.stdout).expect("stdout is the JSON blueprint");
    assert_eq!(document["status"], "completed");
    assert_eq!(
        document["terminal_objectives"].as_array().map(Vec::len),
        Some(3)
    );
    assert!(
        json.stderr.is_empty() || !String::from_utf8_lossy(&json.stderr).contains('\r'),
        "no progress bar when stderr is not a terminal"
    );

    let csv = generate(
        &dir,
        &["--title", "Hash tables", "--target", "2", "--format", "csv"],
    );
    assert_eq!(csv.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("terminal_position,"));

    let markdown = generate(&dir, &["--title", "Hash tables", "--target", "2"]);
    assert_eq!(markdown.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&markdown.stdout).starts_with("# "));
}

#[test]
fn bad_usage_exits_2_with_a_one_line_reason() {
    let dir = tempfile::tempdir().expect("dir");
    for args in [
        vec!["--title", "T", "--target", "0"],
        vec!["--title", "T", "--target", "31"],
        vec!["--title", "   "],
        vec!["--title", "T", "--source", "/definitely/not/here.md"],
        vec!["--title", "T", "--format", "pdf"],
        vec!["--description", "no title"],
    ] {
        let output = generate(&dir, &args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.to_lowercase().contains("error"),
            "{args:?}: {stderr}"
        );
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn ctrl_c_cancels_the_job_and_exits_130() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("cli.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_quizmaster"))
        .args(["generate", "--title", "Slow topic", "--target", "30"])
        .env(
            "QUIZMASTER_DATABASE_URL",
            format!("sqlite://{}", db.display()),
        )
        .env("QUIZMASTER_OFFLINE_PACE_MS", "300")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");

    // Wait until the generation is running (read the same SQLite file), then press Ctrl-C.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let running = runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(pool) = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await
            {
                let count: Option<i64> = sqlx::query_scalar(
                    "SELECT terminal_objectives_count FROM blueprints WHERE status = 'generating'",
                )
                .fetch_optional(&pool)
                .await
                .unwrap_or(None);
                pool.close().await;
                if count >= Some(1) {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    });
    assert!(running, "the generation started");
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill")
        .success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "exited within 5 s of Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));

    let state: String = runtime.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .expect("open");
        sqlx::query_scalar("SELECT status FROM blueprints")
            .fetch_one(&pool)
            .await
            .expect("status")
    });
    assert_eq!(state, "cancelled");
}

fn client(server: &str, args: &[&str]) -> std::process::Child {
    client_with_token(server, None, args)
}

/// `quizmaster generate --server ...` with `QUIZMASTER_TOKEN` set to `token` (or unset).
fn client_with_token(server: &str, token: Option<&str>, args: &[&str]) -> std::process::Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quizmaster"));
    command
        .args(["generate", "--server", server])
        .args(args)
        .env_remove("QUIZMASTER_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.env("QUIZMASTER_TOKEN", token);
    }
    command.spawn().expect("spawn client")
}

fn wait_exit(child: &mut std::process::Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the client exited within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn server_db(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("server.db").display())
}

/// Polls the server until one blueprint has stored at least one objective.
fn wait_for_progress(base: &str) -> (String, String) {
    wait_for_progress_as(base, None)
}

/// The same, as the owner of `token` on a server with accounts.
fn wait_for_progress_as(base: &str, token: Option<&str>) -> (String, String) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = token {
            headers.insert(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {token}").parse().expect("header"),
            );
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("client");
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let topics: Value = http
                .get(format!("{base}/api/topics"))
                .send()
                .await
                .expect("topics")
                .json()
                .await
                .expect("json");
            if let Some(topic_id) = topics["items"][0]["id"].as_str() {
                let list: Value = http
                    .get(format!("{base}/api/topics/{topic_id}/blueprints"))
                    .send()
                    .await
                    .expect("list")
                    .json()
                    .await
                    .expect("json");
                if list["items"][0]["terminal_objectives_count"].as_i64() >= Some(1) {
                    let id = list["items"][0]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    return (topic_id.to_string(), id);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no progress on the server");
    })
}

#[test]
fn client_mode_generates_through_a_running_server() {
    let dir = tempfile::tempdir().expect("dir");
    let server =
        child::ChildProcess::serve(&server_db(&dir), &[("QUIZMASTER_OFFLINE_PACE_MS", "20")]);
    let mut run = client(
        &server.base,
        &[
            "--title",
            "Remote topic",
            "--source",
            LECTURE_PATH,
            "--target",
            "4",
            "--format",
            "json",
        ],
    );
    let status = wait_exit(&mut run, Duration::from_secs(30));
    let output = run.wait_with_output().expect("output");
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: Value = serde_json::from_slice(&output.stdout).expect("the JSON export");
    assert_eq!(document["status"], "completed");
    assert_eq!(
        document["terminal_objectives"].as_array().map(Vec::len),
        Some(4)
    );
}

#[test]
fn client_mode_ctrl_c_cancels_the_job_on_the_server() {
    let dir = tempfile::tempdir().expect("dir");
    let server =
        child::ChildProcess::serve(&server_db(&dir), &[("QUIZMASTER_OFFLINE_PACE_MS", "300")]);
    let mut run = client(
        &server.base,
        &["--title", "Cancel remotely", "--target", "30"],
    );
    let (topic_id, blueprint_id) = wait_for_progress(&server.base);
    let pid = run.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill")
        .success());
    assert_eq!(
        wait_exit(&mut run, Duration::from_secs(5)).code(),
        Some(130)
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let status: Value = runtime.block_on(async {
        reqwest::get(format!(
            "{}/api/topics/{topic_id}/blueprints/{blueprint_id}/status",
            server.base
        ))
        .await
        .expect("status")
        .json()
        .await
        .expect("json")
    });
    assert_eq!(status["status"], "cancelled");
}

#[test]
fn client_mode_reports_a_server_that_goes_away_or_was_never_there() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server =
        child::ChildProcess::serve(&server_db(&dir), &[("QUIZMASTER_OFFLINE_PACE_MS", "300")]);
    let mut run = client(&server.base, &["--title", "Abandoned", "--target", "30"]);
    wait_for_progress(&server.base);
    server.kill_9();
    let status = wait_exit(&mut run, Duration::from_secs(20));
    let output = run.wait_with_output().expect("output");
    assert_eq!(status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("lost the server"), "{stderr}");

    let mut nowhere = client("http://127.0.0.1:9", &["--title", "Nowhere"]);
    let status = wait_exit(&mut nowhere, Duration::from_secs(10));
    let output = nowhere.wait_with_output().expect("output");
    assert_eq!(status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach"));
}

/// A server with accounts (`QUIZMASTER_AUTH=on`) and an API token of a user signed up on it.
fn server_with_accounts(
    dir: &tempfile::TempDir,
    env: &[(&str, &str)],
) -> (child::ChildProcess, String) {
    let mut all = vec![("QUIZMASTER_AUTH", "on")];
    all.extend_from_slice(env);
    let server = child::ChildProcess::serve(&server_db(dir), &all);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let token = runtime.block_on(async {
        let http = reqwest::Client::new();
        let cookie = child::sign_up(&http, &server.base, "teacher@example.com").await;
        child::create_token(&http, &server.base, &cookie).await
    });
    (server, token)
}

#[test]
fn client_mode_without_a_valid_token_exits_2_and_says_how_to_get_one() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, _token) = server_with_accounts(&dir, &[]);
    for token in [None, Some("qmt_not-a-real-token")] {
        let mut run = client_with_token(&server.base, token, &["--title", "Locked out"]);
        let status = wait_exit(&mut run, Duration::from_secs(20));
        let output = run.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(status.code(), Some(2), "{token:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains("QUIZMASTER_TOKEN"), "{stderr}");
        assert!(
            stderr.contains("/account/tokens") && stderr.contains("POST /api/auth/tokens"),
            "{stderr}"
        );
        if let Some(token) = token {
            assert!(!stderr.contains(token), "the token is never printed");
        }
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn client_mode_with_a_token_generates_as_its_user() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, token) = server_with_accounts(&dir, &[("QUIZMASTER_OFFLINE_PACE_MS", "20")]);
    let mut run = client_with_token(
        &server.base,
        Some(&token),
        &[
            "--title",
            "Mine",
            "--source",
            LECTURE_PATH,
            "--target",
            "3",
            "--format",
            "json",
        ],
    );
    let status = wait_exit(&mut run, Duration::from_secs(30));
    let output = run.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(status.code(), Some(0), "{stderr}");
    let document: Value = serde_json::from_slice(&output.stdout).expect("the JSON export");
    assert_eq!(document["status"], "completed");
    assert_eq!(
        document["terminal_objectives"].as_array().map(Vec::len),
        Some(3)
    );
    assert!(
        !stderr.contains(&token),
        "the client never prints the token"
    );
    assert_eq!(
        server.log_count(&token),
        0,
        "the server never logs the token"
    );

    // The topic belongs to the token's user: another user does not see it.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (mine, theirs) = runtime.block_on(async {
        let http = reqwest::Client::new();
        let list = |token: String| {
            let http = http.clone();
            let url = format!("{}/api/topics", server.base);
            async move {
                let topics: Value = http
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("topics")
                    .json()
                    .await
                    .expect("json");
                topics["items"].as_array().map(Vec::len)
            }
        };
        let cookie = child::sign_up(&http, &server.base, "someone.else@example.com").await;
        let other = child::create_token(&http, &server.base, &cookie).await;
        (list(token.clone()).await, list(other).await)
    });
    assert_eq!((mine, theirs), (Some(1), Some(0)));
}

#[test]
fn client_mode_ctrl_c_cancels_with_the_token() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, token) = server_with_accounts(&dir, &[("QUIZMASTER_OFFLINE_PACE_MS", "300")]);
    let mut run = client_with_token(
        &server.base,
        Some(&token),
        &["--title", "Cancel with a token", "--target", "30"],
    );
    let (topic_id, blueprint_id) = wait_for_progress_as(&server.base, Some(&token));
    let pid = run.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill")
        .success());
    assert_eq!(
        wait_exit(&mut run, Duration::from_secs(5)).code(),
        Some(130)
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let status: Value = runtime.block_on(async {
        reqwest::Client::new()
            .get(format!(
                "{}/api/topics/{topic_id}/blueprints/{blueprint_id}/status",
                server.base
            ))
            .bearer_auth(&token)
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json")
    });
    assert_eq!(
        status["status"], "cancelled",
        "the cancel carried the token"
    );
}

#[test]
fn client_mode_reports_the_generation_rate_limit_in_one_line() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, token) = server_with_accounts(&dir, &[("QUIZMASTER_GENERATE_PER_MINUTE", "1")]);
    let args = ["--title", "Limited", "--target", "1"];
    let mut first = client_with_token(&server.base, Some(&token), &args);
    let status = wait_exit(&mut first, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "the first generation of the minute");
    let mut second = client_with_token(&server.base, Some(&token), &args);
    let status = wait_exit(&mut second, Duration::from_secs(30));
    let output = second.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("rate_limited"), "{stderr}");
    assert!(stderr.contains("try again in "), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// A source rich enough for the offline generator's largest target (tests/fixtures/README.md).
const LECTURE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lecture.md");
