//! PostgreSQL restarted in the middle of a batch: requests meanwhile get 200 or a clean 503
//! (never a 500), and every job still finishes, with no objective lost or stored twice.
//! A binary of its own, because restarting the server would disturb tests running beside it
//! (cargo runs test binaries one after another).

#[path = "../support/child.rs"]
mod child;
#[path = "../api/helpers.rs"]
#[macro_use]
#[allow(dead_code)]
mod helpers;

use std::collections::{BTreeMap, HashSet};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use child::ChildProcess;
use helpers::{poll_until, postgres_available, str_of, Backend, TestDatabase};

fn pg_ctlcluster(action: &str) -> std::io::Result<std::process::ExitStatus> {
    let version = std::fs::read_dir("/etc/postgresql")?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .max()
        .ok_or_else(|| std::io::Error::other("no cluster under /etc/postgresql"))?;
    Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", action])
        .status()
}

#[tokio::test]
async fn every_job_finishes_across_a_postgres_restart() {
    if !postgres_available().await {
        return;
    }
    let can_restart = std::path::Path::new("/etc/postgresql").exists();
    if !can_restart {
        assert!(
            std::env::var("CI").is_err(),
            "CI must be able to restart PostgreSQL for this test"
        );
        eprintln!("SKIPPED: no local PostgreSQL cluster to restart");
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let server = ChildProcess::serve(
        &database.url,
        &[
            ("QUIZMASTER_OFFLINE_PACE_MS", "150"),
            ("QUIZMASTER_LEASE_SECS", "2"),
            ("QUIZMASTER_DB_ACQUIRE_TIMEOUT_SECS", "1"),
        ],
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut jobs = Vec::new();
    for n in 0..6 {
        let title = format!("Restart {n}");
        jobs.push(child::start_generation(&client, &server.base, &title, 8).await);
    }
    let first_status = format!(
        "{}/api/topics/{}/blueprints/{}/status",
        server.base, jobs[0].0, jobs[0].1
    );
    poll_until(
        Duration::from_secs(10),
        || async {
            client
                .get(&first_status)
                .send()
                .await
                .expect("status")
                .json::<Value>()
                .await
                .expect("json")
        },
        |s| s["terminal_objectives_count"].as_i64() >= Some(2),
    )
    .await
    .unwrap_or_else(|last| panic!("no progress before the restart: {last}"));

    let restart = std::thread::spawn(|| pg_ctlcluster("restart"));
    let mut codes: BTreeMap<u16, usize> = BTreeMap::new();
    let mut missing_retry_after = 0;
    while !restart.is_finished() {
        for url in [
            format!("{}/api/topics", server.base),
            first_status.clone(),
            format!("{}/readyz", server.base),
        ] {
            if let Ok(response) = client.get(&url).send().await {
                let code = response.status().as_u16();
                if code == 503 && response.headers().get("retry-after").is_none() {
                    missing_retry_after += 1;
                }
                *codes.entry(code).or_default() += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let restarted = restart.join().expect("restart thread");
    assert!(
        restarted.is_ok_and(|s| s.success()),
        "pg_ctlcluster restart failed"
    );
    assert!(
        codes.keys().all(|c| *c == 200 || *c == 503),
        "only 200 or 503 during the restart: {codes:?}"
    );
    assert_eq!(missing_retry_after, 0, "every 503 says when to retry");

    // Now a real outage: while the database is down, the API answers a clean JSON 503.
    let stopped = pg_ctlcluster("stop");
    let outage = poll_until(
        Duration::from_secs(15),
        || async {
            match client
                .get(format!("{}/api/topics", server.base))
                .send()
                .await
            {
                Ok(response) => {
                    let code = response.status().as_u16();
                    let retry_after = response.headers().get("retry-after").is_some();
                    let body = response.json::<Value>().await.unwrap_or(Value::Null);
                    (code, retry_after, body)
                }
                Err(_) => (0, false, Value::Null),
            }
        },
        |(code, _, _)| *code != 200,
    )
    .await;
    let started = pg_ctlcluster("start");
    assert!(
        stopped.is_ok_and(|s| s.success()) && started.is_ok_and(|s| s.success()),
        "pg_ctlcluster stop/start"
    );
    let (code, retry_after, body) =
        outage.unwrap_or_else(|last| panic!("no 503 while down: {last:?}"));
    assert_eq!(code, 503, "{body}");
    assert!(retry_after, "a 503 says when to retry");
    assert_eq!(body["error"]["code"], "service_unavailable");

    for (topic_id, blueprint_id) in &jobs {
        let url = format!(
            "{}/api/topics/{topic_id}/blueprints/{blueprint_id}",
            server.base
        );
        let whole = poll_until(
            Duration::from_secs(60),
            || async {
                match client.get(&url).send().await {
                    Ok(response) => response.json::<Value>().await.unwrap_or(Value::Null),
                    Err(_) => Value::Null,
                }
            },
            |b| {
                matches!(
                    b["status"].as_str(),
                    Some("completed" | "error" | "cancelled")
                )
            },
        )
        .await
        .unwrap_or_else(|last| panic!("stuck after the restart: {last}"));
        assert_eq!(whole["status"], "completed", "{whole}");
        let terminals = whole["terminal_objectives"].as_array().expect("objectives");
        let positions: Vec<i64> = terminals
            .iter()
            .map(|t| t["position"].as_i64().unwrap_or(0))
            .collect();
        assert_eq!(positions, (1..=8).collect::<Vec<i64>>(), "nothing lost");
        let texts: HashSet<&str> = terminals.iter().map(|t| str_of(t, "text")).collect();
        assert_eq!(texts.len(), 8, "nothing stored twice");
    }
    eprintln!("responses during the restart: {codes:?}");
    drop(server);
    database.drop_database().await;
}
