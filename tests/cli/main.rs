//! The command line, run as real processes: `generate` (in-process on a fresh SQLite file, and
//! against a server), `copy-data` between SQLite and PostgreSQL, `completions`, `man` and
//! `--version`.

#[path = "../support/child.rs"]
mod child;
#[path = "../api/helpers.rs"]
#[macro_use]
#[allow(dead_code)]
mod helpers;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn generate(dir: &tempfile::TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quizmaster"))
        .arg("generate")
        .args(args)
        .arg("--database")
        .arg(format!("sqlite://{}", dir.path().join("cli.db").display()))
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
        .arg("--database")
        .arg(format!("sqlite://{}", db.display()))
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
    assert_eq!(status.code(), Some(3), "exit 3: the server went away");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("lost the server"), "{stderr}");

    let mut nowhere = client("http://127.0.0.1:9", &["--title", "Nowhere"]);
    let status = wait_exit(&mut nowhere, Duration::from_secs(10));
    let output = nowhere.wait_with_output().expect("output");
    assert_eq!(status.code(), Some(3), "exit 3: nothing listens there");
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach"));
}

/// Something that answers HTTP but is not QuizMaster (a proxy's page, another service).
fn not_quizmaster(status_line: &'static str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let body = "<html><body>Welcome to nginx!</body></html>";
            let _ = write!(
                stream,
                "{status_line}\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{address}")
}

#[test]
fn client_mode_exits_3_when_the_server_answers_unexpectedly() {
    for status_line in [
        "HTTP/1.1 200 OK",
        "HTTP/1.1 502 Bad Gateway",
        "HTTP/1.1 404 Not Found",
    ] {
        let base = not_quizmaster(status_line);
        let mut run = client(&base, &["--title", "Not here"]);
        let status = wait_exit(&mut run, Duration::from_secs(10));
        let output = run.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(status.code(), Some(3), "{status_line}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(output.stdout.is_empty());
    }
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
        assert!(
            stderr.contains("--token") && stderr.contains("QUIZMASTER_TOKEN"),
            "both ways to give a token are named: {stderr}"
        );
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

fn quizmaster(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quizmaster"))
        .args(args)
        .output()
        .expect("run quizmaster")
}

#[test]
fn generate_without_database_leaves_nothing_behind() {
    let work = tempfile::tempdir().expect("dir");
    let temp = tempfile::tempdir().expect("temp");
    let output = Command::new(env!("CARGO_BIN_EXE_quizmaster"))
        .args(["generate", "--title", "Hash tables", "--target", "2"])
        .arg("--source")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/notes/hash-tables.md"
        ))
        // A database URL in the environment is for servers; generate does not read it.
        .env(
            "QUIZMASTER_DATABASE_URL",
            "sqlite://from-the-environment.db",
        )
        .env("TMPDIR", temp.path())
        .current_dir(work.path())
        .output()
        .expect("run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("# "));
    let left = |dir: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(
        left(work.path()),
        Vec::<String>::new(),
        "nothing in the working directory"
    );
    assert_eq!(
        left(temp.path()),
        Vec::<String>::new(),
        "the temporary database is gone"
    );
}

#[test]
fn generate_with_database_keeps_the_topic_there() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("kept.db");
    let url = format!("sqlite://{}", db.display());
    let output = quizmaster(&[
        "generate",
        "--title",
        "Kept",
        "--target",
        "1",
        "--database",
        &url,
    ]);
    assert_eq!(output.status.code(), Some(0));
    let titles: Vec<String> = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let pool = sqlx::SqlitePool::connect(&url).await.expect("open");
            sqlx::query_scalar("SELECT title FROM topics")
                .fetch_all(&pool)
                .await
                .expect("topics")
        });
    assert_eq!(titles, ["Kept"]);
    // --database is for in-process generation only.
    let both = quizmaster(&[
        "generate",
        "--title",
        "T",
        "--database",
        &url,
        "--server",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn generate_reads_the_source_from_standard_input() {
    use std::io::Write;
    let notes = include_str!("../../examples/notes/volcanoes.md");
    let mut child = Command::new(env!("CARGO_BIN_EXE_quizmaster"))
        .args([
            "generate",
            "--title",
            "Volcanoes",
            "--source",
            "-",
            "--target",
            "3",
        ])
        .args(["--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(notes.as_bytes())
        .expect("write the notes");
    let output = child.wait_with_output().expect("output");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let objectives = document["terminal_objectives"]
        .as_array()
        .expect("objectives");
    assert_eq!(objectives.len(), 3);
    // Evidence is quoted as written, without the Markdown emphasis.
    let flat = notes
        .replace('*', "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for objective in objectives {
        let evidence = objective["evidence"]
            .as_str()
            .expect("evidence from the notes");
        let start: String = evidence
            .split_whitespace()
            .take(6)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(flat.contains(&start), "{evidence:?} is not from the notes");
    }
}

#[test]
fn completions_and_manual_pages_come_from_the_binary() {
    let bash = quizmaster(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0));
    let script = String::from_utf8_lossy(&bash.stdout).to_string();
    assert!(
        script.contains("complete -F") && script.contains("copy-data"),
        "{script}"
    );
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("quizmaster.bash");
    std::fs::write(&file, &script).expect("write");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&file)
        .status()
        .expect("bash -n");
    assert!(syntax.success(), "bash parses the completion script");

    let zsh = String::from_utf8_lossy(&quizmaster(&["completions", "zsh"]).stdout).to_string();
    assert!(
        zsh.starts_with("#compdef quizmaster") && zsh.contains("generate"),
        "{zsh}"
    );
    let fish = String::from_utf8_lossy(&quizmaster(&["completions", "fish"]).stdout).to_string();
    assert!(
        fish.contains("complete -c quizmaster") && fish.contains("completions"),
        "{fish}"
    );
    assert_eq!(quizmaster(&["completions", "tcsh"]).status.code(), Some(2));

    let man = quizmaster(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(
        page.contains(".TH quizmaster 1") && page.contains("copy\\-data"),
        "{page}"
    );
    let pages = dir.path().join("man1");
    let written = quizmaster(&["man", "--out-dir", pages.to_str().expect("utf-8")]);
    assert_eq!(written.status.code(), Some(0));
    for name in [
        "quizmaster.1",
        "quizmaster-serve.1",
        "quizmaster-generate.1",
        "quizmaster-copy-data.1",
    ] {
        assert!(pages.join(name).is_file(), "{name} written");
    }
}

/// What `--version` and `quizmaster_build_info` should name: the checkout's HEAD, or
/// `unknown` outside a git checkout.
fn expected_revision() -> String {
    if let Ok(revision) = std::env::var("QUIZMASTER_GIT_REVISION") {
        return revision;
    }
    Command::new("git")
        .args(["rev-parse", "--short=10", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

#[test]
fn version_and_build_info_name_the_version_and_the_revision() {
    let revision = expected_revision();
    let version = quizmaster(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("quizmaster {} ({revision})", env!("CARGO_PKG_VERSION"))
    );

    let dir = tempfile::tempdir().expect("dir");
    let server = child::ChildProcess::serve(&server_db(&dir), &[]);
    let metrics = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            reqwest::get(format!("{}/metrics", server.base))
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text")
        });
    let line = format!(
        "quizmaster_build_info{{version=\"{}\",revision=\"{revision}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
}

#[test]
fn copy_data_refuses_what_it_cannot_copy() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = format!("sqlite://{}", dir.path().join("missing.db").display());
    let target = format!("sqlite://{}", dir.path().join("target.db").display());
    for (args, says) in [
        (
            vec!["--from", missing.as_str(), "--to", target.as_str()],
            "no SQLite database",
        ),
        (
            vec!["--from", target.as_str(), "--to", target.as_str()],
            "same database",
        ),
        (
            vec!["--from", "mysql://x/y", "--to", target.as_str()],
            "not a database URL",
        ),
    ] {
        let output = quizmaster(&[&["copy-data"], args.as_slice()].concat());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert!(
        !dir.path().join("missing.db").exists(),
        "no empty source was created"
    );
}

/// GET with a bearer token, as JSON.
async fn get_json(base: &str, token: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

async fn get_text(base: &str, token: &str, path: &str) -> String {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text")
}

/// The (topic id, blueprint id) of the one blueprint of the topic with this title.
async fn find_blueprint(base: &str, token: &str, title: &str) -> (String, String) {
    let topics = get_json(base, token, "/api/topics").await;
    let topic = topics["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["title"] == title)
        .unwrap_or_else(|| panic!("no topic {title}: {topics}"));
    let topic_id = topic["id"].as_str().expect("id").to_string();
    let list = get_json(base, token, &format!("/api/topics/{topic_id}/blueprints")).await;
    let blueprint_id = list["items"][0]["id"]
        .as_str()
        .expect("a blueprint")
        .to_string();
    (topic_id, blueprint_id)
}

fn copy_data(from: &str, to: &str, extra: &[&str]) -> Output {
    quizmaster(&[&["copy-data", "--from", from, "--to", to], extra].concat())
}

/// SQLite → PostgreSQL → SQLite with a user, a token, a completed blueprint and a generation
/// that was running when its server died: everything arrives, the token works on the target,
/// the running generation is queued again there and completes, the export is the same; a
/// non-empty target is refused; a copy missing rows is completed by a rerun with --force.
#[test]
fn copy_data_moves_everything_to_postgres_and_back() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    if !runtime.block_on(helpers::postgres_available()) {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let source = server_db(&dir);
    let (mut server, token) = server_with_accounts(&dir, &[("QUIZMASTER_OFFLINE_PACE_MS", "200")]);
    let mut done = client_with_token(
        &server.base,
        Some(&token),
        &[
            "--title",
            "Done",
            "--source",
            LECTURE_PATH,
            "--target",
            "2",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        wait_exit(&mut done, Duration::from_secs(30)).code(),
        Some(0)
    );
    let expected_export = runtime.block_on(async {
        let (topic, blueprint) = find_blueprint(&server.base, &token, "Done").await;
        let path = format!("/api/topics/{topic}/blueprints/{blueprint}/export?format=json");
        get_text(&server.base, &token, &path).await
    });
    // A generation that is running when its server is killed.
    let mut running = client_with_token(
        &server.base,
        Some(&token),
        &[
            "--title",
            "Running",
            "--source",
            LECTURE_PATH,
            "--target",
            "8",
        ],
    );
    runtime.block_on(async {
        helpers::poll_until(
            Duration::from_secs(20),
            || async {
                let topics = get_json(&server.base, &token, "/api/topics").await;
                let Some(topic) = topics["items"]
                    .as_array()
                    .and_then(|items| items.iter().find(|t| t["title"] == "Running"))
                else {
                    return Value::Null;
                };
                let path = format!(
                    "/api/topics/{}/blueprints",
                    topic["id"].as_str().unwrap_or("")
                );
                get_json(&server.base, &token, &path).await["items"][0].clone()
            },
            |b| b["terminal_objectives_count"].as_i64() >= Some(1),
        )
        .await
        .unwrap_or_else(|last| panic!("the second generation made no progress: {last}"));
    });
    // A second user, logged in on the source: still logged in on the target.
    let cookie = runtime.block_on(child::sign_up(
        &reqwest::Client::new(),
        &server.base,
        "second@example.com",
    ));
    server.kill_9();
    let _ = running.kill();
    let _ = running.wait();

    let postgres = runtime.block_on(helpers::TestDatabase::create(helpers::Backend::Postgres));
    let copied = copy_data(&source, &postgres.url, &[]);
    let stderr = String::from_utf8_lossy(&copied.stderr);
    assert_eq!(copied.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("1 generation(s)"), "{stderr}");

    let target = child::ChildProcess::serve(
        &postgres.url,
        &[
            ("QUIZMASTER_AUTH", "on"),
            ("QUIZMASTER_OFFLINE_PACE_MS", "20"),
        ],
    );
    runtime.block_on(async {
        let (topic, blueprint) = find_blueprint(&target.base, &token, "Done").await;
        let path = format!("/api/topics/{topic}/blueprints/{blueprint}/export?format=json");
        assert_eq!(get_text(&target.base, &token, &path).await, expected_export);
        // The running generation was queued again; the target's workers finish it.
        let (topic, blueprint) = find_blueprint(&target.base, &token, "Running").await;
        let path = format!("/api/topics/{topic}/blueprints/{blueprint}/status");
        let status = helpers::poll_until(
            Duration::from_secs(30),
            || get_json(&target.base, &token, &path),
            |s| s["status"] == "completed",
        )
        .await
        .unwrap_or_else(|last| panic!("the re-queued generation did not complete: {last}"));
        assert_eq!(status["terminal_objectives_count"], 8);
        let me: Value = reqwest::Client::new()
            .get(format!("{}/api/auth/me", target.base))
            .header(reqwest::header::COOKIE, &cookie)
            .send()
            .await
            .expect("me")
            .json()
            .await
            .expect("json");
        assert_eq!(
            me["email"], "second@example.com",
            "the session was copied: {me}"
        );
    });

    // Back to a new SQLite file; the export there is the same too.
    let back = format!("sqlite://{}", dir.path().join("back.db").display());
    let returned = copy_data(&postgres.url, &back, &[]);
    assert_eq!(
        returned.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&returned.stderr)
    );
    let home = child::ChildProcess::serve(&back, &[("QUIZMASTER_AUTH", "on")]);
    runtime.block_on(async {
        let (topic, blueprint) = find_blueprint(&home.base, &token, "Done").await;
        let path = format!("/api/topics/{topic}/blueprints/{blueprint}/export?format=json");
        assert_eq!(get_text(&home.base, &token, &path).await, expected_export);
    });

    // The PostgreSQL database now holds data: refused without --force.
    let refused = copy_data(&source, &postgres.url, &[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not empty") && stderr.contains("--force"),
        "{stderr}"
    );

    // A copy that stopped half-way (rows missing on the target) is completed by a rerun.
    let (full, after) = runtime.block_on(async {
        let pool = sqlx::PgPool::connect(&postgres.url).await.expect("connect");
        let count = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM enabling_objectives")
                .fetch_one(&pool)
                .await
                .expect("count")
        };
        let full = count().await;
        sqlx::query(
            "DELETE FROM enabling_objectives WHERE id IN \
             (SELECT id FROM enabling_objectives ORDER BY id DESC LIMIT 3)",
        )
        .execute(&pool)
        .await
        .expect("delete");
        assert_eq!(count().await, full - 3);
        let rerun = copy_data(&back, &postgres.url, &["--force", "--batch-size", "2"]);
        assert_eq!(
            rerun.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&rerun.stderr)
        );
        let after = count().await;
        pool.close().await;
        (full, after)
    });
    assert_eq!(after, full, "the rerun restored the missing rows");
    drop(target);
    runtime.block_on(postgres.drop_database());
}
