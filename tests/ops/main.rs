//! Operating QuizMaster: Prometheus metrics after a scripted run (completed, cancelled, timed
//! out and rescued generations each move their counters), request ids, and `/metrics` access.

#[path = "../support/child.rs"]
mod child;
#[path = "../api/helpers.rs"]
#[macro_use]
#[allow(dead_code)]
mod helpers;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use child::ChildProcess;
use helpers::{poll_until, Backend, TestDatabase};

/// Parses Prometheus text into `name{labels}` → value.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_string(), value.parse().ok()?))
        })
        .collect()
}

async fn wait_status(
    client: &reqwest::Client,
    base: &str,
    job: &(String, String),
    done: impl Fn(&Value) -> bool,
) -> Value {
    let url = format!("{base}/api/topics/{}/blueprints/{}/status", job.0, job.1);
    poll_until(
        Duration::from_secs(40),
        || async {
            client
                .get(&url)
                .send()
                .await
                .expect("status")
                .json::<Value>()
                .await
                .expect("json")
        },
        done,
    )
    .await
    .unwrap_or_else(|last| panic!("condition not met: {last}"))
}

#[tokio::test]
async fn metrics_count_completed_cancelled_timed_out_and_rescued_generations() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let client = reqwest::Client::new();

    // A first server takes a job and dies holding it.
    let mut first = ChildProcess::serve(
        &database.url,
        &[
            ("QUIZMASTER_LEASE_SECS", "1"),
            ("QUIZMASTER_OFFLINE_PACE_MS", "300"),
        ],
    );
    let rescued = child::start_generation(&client, &first.base, "Rescued", 5).await;
    wait_status(&client, &first.base, &rescued, |s| {
        s["terminal_objectives_count"].as_i64() >= Some(1)
    })
    .await;
    first.kill_9();

    // The rescued job (4 objectives left at 600 ms, plus planning and scoring a lecture in a
    // debug build on a busy machine: seconds) ends well inside the timeout; "Too long" (30 at
    // 600 ms) cannot. This server's own leases are longer than the dead one's, so that a
    // heartbeat delayed on a loaded machine cannot count as a second rescue.
    let env = [
        ("QUIZMASTER_LEASE_SECS", "3"),
        ("QUIZMASTER_OFFLINE_PACE_MS", "600"),
        ("QUIZMASTER_GENERATION_TIMEOUT_SECS", "15"),
    ];
    let server = ChildProcess::serve(&database.url, &env);
    let base = server.base.clone();
    let done = wait_status(&client, &base, &rescued, |s| s["status"] == "completed").await;
    assert_eq!(done["attempt"], 2);

    let timed_out = child::start_generation(&client, &base, "Too long", 30).await;
    let cancelled = child::start_generation(&client, &base, "Cancelled", 30).await;
    wait_status(&client, &base, &cancelled, |s| {
        s["terminal_objectives_count"].as_i64() >= Some(1)
    })
    .await;
    let response = client
        .post(format!(
            "{base}/api/topics/{}/blueprints/{}/cancel",
            cancelled.0, cancelled.1
        ))
        .send()
        .await
        .expect("cancel");
    assert_eq!(response.status(), 200);
    let ended = wait_status(&client, &base, &timed_out, |s| s["status"] == "error").await;
    assert_eq!(ended["error_code"], "timeout");

    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let metrics = parse_metrics(&text);
    let value = |key: &str| {
        metrics
            .get(key)
            .copied()
            .unwrap_or_else(|| panic!("{key} missing from:\n{text}"))
    };
    assert_eq!(
        value("quizmaster_generations_started_total"),
        2.0,
        "two started on this server"
    );
    assert_eq!(value("quizmaster_generations_completed_total"), 1.0);
    assert_eq!(value("quizmaster_generations_cancelled_total"), 1.0);
    assert_eq!(
        value("quizmaster_generations_failed_total{error_code=\"timeout\"}"),
        1.0
    );
    assert_eq!(
        value("quizmaster_job_rescues_total"),
        1.0,
        "the lost job was rescued once"
    );
    assert_eq!(value("quizmaster_job_claims_total"), 3.0);
    assert_eq!(value("quizmaster_job_attempts_count"), 1.0);
    assert_eq!(
        value("quizmaster_job_attempts_sum"),
        2.0,
        "the completed job took two attempts"
    );
    assert!(metrics.contains_key("quizmaster_queue_depth"));
    assert!(metrics.contains_key("quizmaster_jobs_running"));
    assert!(metrics
        .contains_key("quizmaster_generator_call_duration_seconds_count{generator=\"offline\"}"));
    assert!(
        value("quizmaster_http_requests_total{method=\"POST\",route=\"/api/topics/{topic_id}/blueprints/generate\",status=\"202\"}") >= 2.0,
        "requests are labelled by route template"
    );
    assert!(!text.contains(&cancelled.1), "no ids in labels");
    drop(server);
}

#[tokio::test]
async fn request_ids_round_trip_and_are_made_when_missing() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let server = ChildProcess::serve(&database.url, &[]);
    let client = reqwest::Client::new();
    let given = client
        .get(format!("{}/api/topics", server.base))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .expect("send");
    assert_eq!(given.headers()["x-request-id"], "trace-me-42");
    let made = client
        .get(format!("{}/api/nope", server.base))
        .send()
        .await
        .expect("send");
    let id = made.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "a fresh UUID: {id}");
    let logged = poll_until(
        Duration::from_secs(5),
        || async { server.log_count("trace-me-42") },
        |n| *n >= 1,
    )
    .await;
    assert!(logged.is_ok(), "the request id is on the log lines");
}

/// The first non-loopback IPv4 address of this machine, if it has one.
fn non_loopback_address() -> Option<String> {
    let output = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .find(|a| {
            a.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| !ip.is_loopback())
        })
        .map(str::to_string)
}

#[tokio::test]
async fn metrics_need_a_token_outside_loopback() {
    let Some(address) = non_loopback_address() else {
        eprintln!("SKIPPED: this machine has no non-loopback address");
        return;
    };
    let database = TestDatabase::create(Backend::Sqlite).await;
    let server = ChildProcess::serve(
        &database.url,
        &[
            ("QUIZMASTER_BIND", "0.0.0.0:0"),
            ("QUIZMASTER_METRICS_TOKEN", "s3cret-token"),
        ],
    );
    let port = server.base.rsplit(':').next().expect("port").to_string();
    let client = reqwest::Client::new();
    let loopback = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("send");
    assert_eq!(loopback.status(), 200);
    let remote = format!("http://{address}:{port}/metrics");
    let refused = client.get(&remote).send().await.expect("send");
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["www-authenticate"], "Bearer");
    let wrong = client
        .get(&remote)
        .bearer_auth("nope")
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), 401);
    let allowed = client
        .get(&remote)
        .bearer_auth("s3cret-token")
        .send()
        .await
        .expect("send");
    assert_eq!(allowed.status(), 200);
    assert!(
        server.log_count("s3cret-token") == 0,
        "the token is never logged"
    );
}
