use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;

use crate::helpers::*;

#[derive(Debug)]
pub struct SseEvent {
    pub event: String,
    pub id: String,
    pub data: Value,
}

/// Reads an SSE stream until it ends (or the deadline passes, which fails the test).
pub async fn read_events(response: reqwest::Response, deadline: Duration) -> Vec<SseEvent> {
    let mut events = Vec::new();
    let mut buffer = String::new();
    let mut stream = response.bytes_stream();
    let end = Instant::now() + deadline;
    loop {
        let next = tokio::time::timeout_at(end.into(), stream.next())
            .await
            .expect("the stream ended in time");
        let Some(chunk) = next else { break };
        buffer.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        while let Some(split) = buffer.find("\n\n") {
            let block: String = buffer.drain(..split + 2).collect();
            let (mut event, mut id, mut data) = (String::new(), String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if !event.is_empty() {
                events.push(SseEvent {
                    event,
                    id,
                    data: serde_json::from_str(&data).expect("data is JSON"),
                });
            }
        }
    }
    events
}

async fn status_has_etag_304_cache_control_and_retry_after(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 200,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Caching").await;
    let topic_id = str_of(&topic, "id");
    let started = app.start_generation(topic_id, 20).await;
    let path = format!(
        "/api/topics/{topic_id}/blueprints/{}/status",
        str_of(&started, "id")
    );

    let first = app.get(&path).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "no-cache");
    let etag = first.headers()["etag"].to_str().expect("etag").to_string();
    let status: Value = first.json().await.expect("json");
    if status["status"] != "completed" {
        let again = app
            .request(reqwest::Method::GET, &path)
            .header("If-None-Match", &etag)
            .send()
            .await
            .expect("send");
        // Either unchanged (304) or already moved on (200 with a new ETag).
        match again.status().as_u16() {
            304 => {
                assert_eq!(again.headers()["etag"], etag.as_str());
                let secs: u64 = again.headers()["retry-after"]
                    .to_str()
                    .expect("ra")
                    .parse()
                    .expect("int");
                assert!((1..=10).contains(&secs));
            }
            200 => assert_ne!(again.headers()["etag"], etag.as_str()),
            other => panic!("unexpected {other}"),
        }
    }
    let done = app.wait_terminal(topic_id, str_of(&started, "id")).await;
    assert_eq!(done["status"], "completed");
    let finished = app.get(&path).await;
    assert!(
        finished.headers().get("retry-after").is_none(),
        "no hint once terminal"
    );
    let etag = finished.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_string();
    let cached = app
        .request(reqwest::Method::GET, &path)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(cached.status(), 304);
    app.stop().await;
}

async fn long_poll_answers_on_change_or_after_the_wait(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 400,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Long poll").await;
    let topic_id = str_of(&topic, "id");
    let started = app.start_generation(topic_id, 10).await;
    let blueprint_id = str_of(&started, "id");
    let path = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/status");
    app.wait_for_status(topic_id, blueprint_id, Duration::from_secs(5), |s| {
        s["status"] == "generating"
    })
    .await;

    let current = app.get(&path).await;
    let etag = current.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_string();
    let begun = Instant::now();
    let changed = app
        .request(reqwest::Method::GET, &format!("{path}?wait=10"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"], etag.as_str());
    assert!(
        begun.elapsed() < Duration::from_secs(3),
        "answered at the change, not after the wait"
    );

    // A mismatching If-None-Match answers at once.
    let at_once = Instant::now();
    let response = app
        .request(reqwest::Method::GET, &format!("{path}?wait=10"))
        .header("If-None-Match", "\"stale\"")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert!(at_once.elapsed() < Duration::from_secs(2));

    // Cancel, then a long poll on the terminal state waits the full time and says 304.
    app.request(
        reqwest::Method::POST,
        &format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/cancel"),
    )
    .send()
    .await
    .expect("cancel");
    let terminal = app.get(&path).await;
    let etag = terminal.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_string();
    let response = app
        .request(reqwest::Method::GET, &format!("{path}?wait=1"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 304);

    assert_error(
        app.get(&format!("{path}?wait=31")).await,
        422,
        "validation_failed",
    )
    .await;
    app.stop().await;
}

async fn sse_streams_every_change_in_order_and_ends_after_a_terminal_event(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 50,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Streaming").await;
    let topic_id = str_of(&topic, "id");
    let started = app.start_generation(topic_id, 5).await;
    let blueprint_id = str_of(&started, "id");
    let response = app
        .get(&format!(
            "/api/topics/{topic_id}/blueprints/{blueprint_id}/events"
        ))
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/event-stream"));
    let events = read_events(response, Duration::from_secs(20)).await;

    assert!(events.len() >= 2, "{events:?}");
    assert!(events.iter().all(|e| e.event == "status"));
    let ids: Vec<i64> = events
        .iter()
        .map(|e| e.id.parse().expect("numeric id"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");
    let counts: Vec<i64> = events
        .iter()
        .map(|e| e.data["terminal_objectives_count"].as_i64().expect("count"))
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]),
        "counts never go back: {counts:?}"
    );
    let last = events.last().expect("last");
    assert_eq!(last.data["status"], "completed");
    assert_eq!(last.data["progress"], 100);
    assert_eq!(
        events
            .iter()
            .filter(|e| e.data["status"] == "completed")
            .count(),
        1,
        "exactly one terminal event, the last"
    );

    // Reconnecting with Last-Event-ID gets the current state at once, then the stream ends.
    let again = app
        .request(
            reqwest::Method::GET,
            &format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/events"),
        )
        .header("Last-Event-ID", &events[0].id)
        .send()
        .await
        .expect("send");
    let replay = read_events(again, Duration::from_secs(5)).await;
    assert_eq!(replay.len(), 1);
    assert_eq!(replay[0].id, last.id);
    assert_eq!(replay[0].data, last.data);
    app.stop().await;
}

async fn sse_reports_a_cancel_and_ends(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 200,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Streaming cancel").await;
    let topic_id = str_of(&topic, "id").to_string();
    let started = app.start_generation(&topic_id, 20).await;
    let blueprint_id = str_of(&started, "id").to_string();
    let response = app
        .get(&format!(
            "/api/topics/{topic_id}/blueprints/{blueprint_id}/events"
        ))
        .await;
    let reader = tokio::spawn(read_events(response, Duration::from_secs(10)));
    app.wait_for_status(&topic_id, &blueprint_id, Duration::from_secs(5), |s| {
        s["terminal_objectives_count"].as_i64() >= Some(1)
    })
    .await;
    app.request(
        reqwest::Method::POST,
        &format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/cancel"),
    )
    .send()
    .await
    .expect("cancel");
    let events = reader.await.expect("reader");
    assert_eq!(
        events.last().map(|e| e.data["status"].clone()),
        Some(Value::from("cancelled"))
    );
    app.stop().await;
}

crate::on_both_backends!(
    status_has_etag_304_cache_control_and_retry_after,
    long_poll_answers_on_change_or_after_the_wait,
    sse_streams_every_change_in_order_and_ends_after_a_terminal_event,
    sse_reports_a_cancel_and_ends
);
