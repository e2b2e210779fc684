//! Real `quizmaster serve` child processes, killed with SIGKILL mid-generation.

use std::time::Duration;

use serde_json::Value;

use crate::child::{start_generation, ChildProcess};
use crate::helpers::*;

async fn status(client: &reqwest::Client, url: &str) -> Value {
    client
        .get(url)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json")
}

async fn a_killed_server_restarts_and_the_same_blueprint_finishes_without_duplicates(
    backend: Backend,
) {
    let database = TestDatabase::create(backend).await;
    let database_url = database.url.clone();
    let env = [
        ("QUIZMASTER_LEASE_SECS", "1"),
        ("QUIZMASTER_OFFLINE_PACE_MS", "150"),
    ];
    let client = reqwest::Client::new();
    let mut first = ChildProcess::serve(&database_url, &env);

    let (topic_id, blueprint_id) = start_generation(&client, &first.base, "Crash course", 12).await;
    let path = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}");

    let status_url = format!("{}{path}/status", first.base);
    let reached = poll_until(
        Duration::from_secs(10),
        || status(&client, &status_url),
        |s| s["terminal_objectives_count"].as_i64() >= Some(3),
    )
    .await;
    assert!(reached.is_ok(), "progress before the kill: {reached:?}");
    first.kill_9();

    let second = ChildProcess::serve(&database_url, &env);
    let status_url = format!("{}{path}/status", second.base);
    let done = poll_until(
        Duration::from_secs(20),
        || status(&client, &status_url),
        |s| s["status"] == "completed",
    )
    .await
    .unwrap_or_else(|last| panic!("not finished after the restart: {last}"));
    assert_eq!(done["attempt"], 2, "a new attempt took over");

    let whole: Value = client
        .get(format!("{}{path}", second.base))
        .send()
        .await
        .expect("blueprint")
        .json()
        .await
        .expect("json");
    crate::generation::assert_well_formed(&whole);
    let texts: Vec<&str> = whole["terminal_objectives"]
        .as_array()
        .expect("array")
        .iter()
        .map(|t| str_of(t, "text"))
        .collect();
    assert_eq!(texts.len(), 12);
    let mut unique = texts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 12, "no objective stored twice");
    drop(second);
    database.drop_database().await;
}

async fn a_job_whose_worker_keeps_dying_ends_in_worker_lost(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let database_url = database.url.clone();
    let env = [
        ("QUIZMASTER_LEASE_SECS", "1"),
        ("QUIZMASTER_OFFLINE_PACE_MS", "300"),
        ("QUIZMASTER_MAX_ATTEMPTS", "1"),
    ];
    let client = reqwest::Client::new();
    let mut first = ChildProcess::serve(&database_url, &env);
    let (topic_id, blueprint_id) = start_generation(&client, &first.base, "Unlucky", 20).await;
    let status_path = format!("/api/topics/{topic_id}/blueprints/{}/status", blueprint_id);
    let url = format!("{}{status_path}", first.base);
    let running = poll_until(
        Duration::from_secs(10),
        || status(&client, &url),
        |s| s["terminal_objectives_count"].as_i64() >= Some(1),
    )
    .await;
    assert!(running.is_ok(), "{running:?}");
    first.kill_9();

    let second = ChildProcess::serve(&database_url, &env);
    let url = format!("{}{status_path}", second.base);
    let last = poll_until(
        Duration::from_secs(10),
        || status(&client, &url),
        |s| s["status"] == "error",
    )
    .await
    .unwrap_or_else(|last| panic!("not ended: {last}"));
    assert_eq!(last["error_code"], "worker_lost");
    assert!(last["error"].as_str().is_some_and(|m| !m.is_empty()));
    drop(second);
    database.drop_database().await;
}

async fn sigterm_hands_running_jobs_back_and_a_restart_resumes_them_at_once(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    // A long lease: if the job were not handed back, the restart would wait 60 s for it.
    let env = [
        ("QUIZMASTER_LEASE_SECS", "60"),
        ("QUIZMASTER_OFFLINE_PACE_MS", "200"),
        ("QUIZMASTER_SHUTDOWN_GRACE_SECS", "0"),
    ];
    let client = reqwest::Client::new();
    let mut first = ChildProcess::serve(&database.url, &env);
    let (topic_id, blueprint_id) = start_generation(&client, &first.base, "Graceful", 10).await;
    let path = format!("/api/topics/{topic_id}/blueprints/{}/status", blueprint_id);
    let url = format!("{}{path}", first.base);
    poll_until(
        Duration::from_secs(10),
        || status(&client, &url),
        |s| s["terminal_objectives_count"].as_i64() >= Some(2),
    )
    .await
    .unwrap_or_else(|last| panic!("no progress: {last}"));
    let exit = first.terminate();
    assert!(exit.success(), "a clean exit on SIGTERM: {exit:?}");
    assert!(
        first.log_count("job handed back") >= 1,
        "the running job was handed back"
    );

    let second = ChildProcess::serve(&database.url, &env);
    let url = format!("{}{path}", second.base);
    let done = poll_until(
        Duration::from_secs(15),
        || status(&client, &url),
        |s| s["status"] == "completed",
    )
    .await
    .unwrap_or_else(|last| panic!("not resumed at once: {last}"));
    assert_eq!(done["attempt"], 2);
    assert_eq!(done["terminal_objectives_count"], 10);
    drop(second);
    database.drop_database().await;
}

crate::on_both_backends!(
    a_killed_server_restarts_and_the_same_blueprint_finishes_without_duplicates,
    a_job_whose_worker_keeps_dying_ends_in_worker_lost,
    sigterm_hands_running_jobs_back_and_a_restart_resumes_them_at_once
);
