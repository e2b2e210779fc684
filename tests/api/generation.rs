use std::collections::HashSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// Positions 1..n, counts equal to what is stored, every text starting with its verb.
pub fn assert_well_formed(document: &Value) {
    let terminals = document["terminal_objectives"]
        .as_array()
        .expect("terminal objectives");
    assert_eq!(
        document["terminal_objectives_count"],
        terminals.len() as i64
    );
    let mut enabling_total = 0;
    for (index, terminal) in terminals.iter().enumerate() {
        assert_eq!(terminal["position"], index as i64 + 1);
        let verb = str_of(terminal, "verb").to_lowercase();
        assert!(
            str_of(terminal, "text").to_lowercase().starts_with(&verb),
            "{terminal}"
        );
        let enabling = terminal["enabling_objectives"]
            .as_array()
            .expect("enabling");
        for (e_index, objective) in enabling.iter().enumerate() {
            assert_eq!(objective["position"], e_index as i64 + 1);
            assert!([
                "remember",
                "understand",
                "apply",
                "analyze",
                "evaluate",
                "create"
            ]
            .contains(&str_of(objective, "bloom_level")));
        }
        enabling_total += enabling.len() as i64;
    }
    assert_eq!(document["enabling_objectives_count"], enabling_total);
}

async fn a_generation_runs_to_completed(backend: Backend) {
    let app = spawn_app(backend).await;
    let topic = app.create_topic("Photosynthesis").await;
    let topic_id = str_of(&topic, "id");
    let response = app
        .post_json(
            &format!("/api/topics/{topic_id}/blueprints/generate"),
            json!({"target_terminal_objectives": 6}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("retry-after")
        .parse()
        .expect("seconds");
    assert!((1..=10).contains(&retry_after));
    let started: Value = response.json().await.expect("json");
    assert_eq!(started["status"], "queued");
    assert_eq!(started["progress"], 0);
    assert_eq!(started["target_terminal_objectives"], 6);
    let blueprint_id = str_of(&started, "id");
    assert_eq!(
        location,
        format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/status")
    );

    let done = app.wait_terminal(topic_id, blueprint_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"], 100);
    assert_eq!(done["terminal_objectives_count"], 6);
    assert_eq!(done["attempt"], 1);
    assert!(done["finished_at"].is_string() && done["generation_started_at"].is_string());
    assert!(done["title"].is_string());

    let whole: Value = app
        .get(&format!("/api/topics/{topic_id}/blueprints/{blueprint_id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_well_formed(&whole);
    assert_eq!(
        whole["terminal_objectives"].as_array().map(Vec::len),
        Some(6)
    );

    // Without a body the target is 10.
    let second = app
        .request(
            Method::POST,
            &format!("/api/topics/{topic_id}/blueprints/generate"),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(second.status(), 202);
    let second: Value = second.json().await.expect("json");
    assert_eq!(second["target_terminal_objectives"], 10);
    app.stop().await;
}

async fn fifty_concurrent_generate_requests_start_exactly_one(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 200,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Race").await;
    let path = format!("/api/topics/{}/blueprints/generate", str_of(&topic, "id"));
    let requests = (0..50).map(|_| {
        let request = app
            .request(Method::POST, &path)
            .json(&json!({"target_terminal_objectives": 3}));
        async move {
            let response = request.send().await.expect("send");
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body: Value = response.json().await.expect("json");
            (status, location, body)
        }
    });
    let results = futures::future::join_all(requests).await;
    let winners: Vec<_> = results.iter().filter(|(s, _, _)| *s == 202).collect();
    assert_eq!(winners.len(), 1, "exactly one 202");
    let winner_id = str_of(&winners[0].2, "id");
    for (status, location, body) in results.iter().filter(|(s, _, _)| *s != 202) {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body["error"]["code"], "generation_in_progress");
        assert_eq!(body["error"]["blueprint_id"], winner_id);
        assert!(location
            .as_deref()
            .is_some_and(|l| l.ends_with(&format!("{winner_id}/status"))));
    }
    app.stop().await;
}

async fn the_same_idempotency_key_replays_the_same_202(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 100,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Idempotent").await;
    let topic_id = str_of(&topic, "id");
    let path = format!("/api/topics/{topic_id}/blueprints/generate");
    let send = |key: &'static str| {
        app.request(Method::POST, &path)
            .header("Idempotency-Key", key)
            .json(&json!({"target_terminal_objectives": 3}))
            .send()
    };
    let first = send("key-1").await.expect("send");
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.expect("json");
    let again = send("key-1").await.expect("send");
    assert_eq!(again.status(), 202, "a replay is never a 409");
    assert!(again.headers().get("location").is_some());
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["id"], first["id"]);

    // A different key while the first is active is a real second request: 409.
    assert_error(
        send("key-2").await.expect("send"),
        409,
        "generation_in_progress",
    )
    .await;

    let blueprint_id = str_of(&first, "id");
    app.wait_terminal(topic_id, blueprint_id).await;
    let after = send("key-1").await.expect("send");
    assert_eq!(after.status(), 202);
    let after: Value = after.json().await.expect("json");
    // The IETF draft replays the first answer itself, not the blueprint's state today.
    assert_eq!(
        after, first,
        "still the first answer after the generation finished"
    );

    assert_eq!(
        app.blueprint_count(topic_id).await,
        1,
        "never a second generation"
    );
    app.stop().await;
}

async fn cancel_stops_the_work_and_nothing_more_is_stored(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 150,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Cancel me").await;
    let topic_id = str_of(&topic, "id");
    let started = app.start_generation(topic_id, 30).await;
    let blueprint_id = str_of(&started, "id");
    app.wait_for_status(topic_id, blueprint_id, Duration::from_secs(10), |s| {
        s["terminal_objectives_count"].as_i64() >= Some(2)
    })
    .await;

    let cancelled = app
        .request(
            Method::POST,
            &format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/cancel"),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(cancelled.status(), 200);
    let cancelled: Value = cancelled.json().await.expect("json");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["error_code"], "cancelled");
    let count_at_cancel = cancelled["terminal_objectives_count"].clone();

    // Several paces later nothing has grown and what is stored matches the counts.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let whole: Value = app
        .get(&format!("/api/topics/{topic_id}/blueprints/{blueprint_id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(whole["status"], "cancelled");
    assert_eq!(whole["terminal_objectives_count"], count_at_cancel);
    assert_well_formed(&whole);

    assert_error(
        app.request(
            Method::POST,
            &format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/cancel"),
        )
        .send()
        .await
        .expect("send"),
        409,
        "not_cancellable",
    )
    .await;
    // The topic is free for a new generation.
    app.start_generation(topic_id, 1).await;
    app.stop().await;
}

async fn a_queued_generation_can_be_cancelled(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            workers: 0,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Never claimed").await;
    let topic_id = str_of(&topic, "id");
    let started = app.start_generation(topic_id, 3).await;
    let blueprint_id = str_of(&started, "id");
    let cancelled = app
        .request(
            Method::POST,
            &format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/cancel"),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(cancelled.status(), 200);
    let cancelled: Value = cancelled.json().await.expect("json");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["progress"], 0);
    app.stop().await;
}

async fn a_generation_times_out_with_nobody_polling(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 300,
            timeout_secs: 1,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Slow").await;
    let topic_id = str_of(&topic, "id");
    let started = app.start_generation(topic_id, 30).await;
    let blueprint_id = str_of(&started, "id");
    // Nobody polls: the first look comes after the deadline has passed.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let status = app.status(topic_id, blueprint_id).await;
    assert_eq!(status["status"], "error", "{status}");
    assert_eq!(status["error_code"], "timeout");
    assert_eq!(status["error"], "Generation timed out");
    assert!(status["finished_at"].is_string());

    // The work itself stopped: nothing grows afterwards.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let whole: Value = app
        .get(&format!("/api/topics/{topic_id}/blueprints/{blueprint_id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        whole["terminal_objectives_count"],
        status["terminal_objectives_count"]
    );
    assert!(whole["terminal_objectives_count"].as_i64() < Some(30));
    assert_well_formed(&whole);
    app.stop().await;
}

async fn a_queued_generation_with_no_workers_times_out_too(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            workers: 0,
            timeout_secs: 1,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Nobody works").await;
    let topic_id = str_of(&topic, "id");
    let started = app.start_generation(topic_id, 3).await;
    let status = app
        .wait_for_status(
            topic_id,
            str_of(&started, "id"),
            Duration::from_secs(5),
            |s| s["status"] != "queued",
        )
        .await;
    assert_eq!(status["error_code"], "timeout");
    app.stop().await;
}

async fn many_topics_generate_in_parallel_without_duplicates(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut started = Vec::new();
    for n in 0..12 {
        let topic = app.create_topic(&format!("Parallel {n}")).await;
        let topic_id = str_of(&topic, "id").to_string();
        let status = app.start_generation(&topic_id, 5).await;
        started.push((topic_id, str_of(&status, "id").to_string()));
    }
    let mut ids = HashSet::new();
    for (topic_id, blueprint_id) in &started {
        let done = app.wait_terminal(topic_id, blueprint_id).await;
        assert_eq!(done["status"], "completed");
        let whole: Value = app
            .get(&format!("/api/topics/{topic_id}/blueprints/{blueprint_id}"))
            .await
            .json()
            .await
            .expect("json");
        assert_well_formed(&whole);
        for terminal in whole["terminal_objectives"].as_array().expect("array") {
            assert!(
                ids.insert(str_of(terminal, "id").to_string()),
                "objective ids are unique"
            );
        }
    }
    app.stop().await;
}

crate::on_both_backends!(
    a_generation_runs_to_completed,
    fifty_concurrent_generate_requests_start_exactly_one,
    the_same_idempotency_key_replays_the_same_202,
    cancel_stops_the_work_and_nothing_more_is_stored,
    a_queued_generation_can_be_cancelled,
    a_generation_times_out_with_nobody_polling,
    a_queued_generation_with_no_workers_times_out_too,
    many_topics_generate_in_parallel_without_duplicates
);
