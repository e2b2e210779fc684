//! `Idempotency-Key` on the creating POSTs (the IETF draft): a retry replays the first answer,
//! another body is refused, a retry during the first request is refused, never a second thing.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::*;

const TOPIC: &str =
    r#"{"title": "Cells", "description": "About cells", "source_text": "Cells divide."}"#;

async fn create_topic_with_key(app: &TestApp, key: &str, body: &str) -> Response {
    app.request(Method::POST, "/api/topics")
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

async fn topic_count(app: &TestApp) -> usize {
    let list: Value = app
        .get("/api/topics?limit=100")
        .await
        .json()
        .await
        .expect("json");
    list["items"].as_array().map_or(0, Vec::len)
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn a_retried_topic_creation_replays_the_first_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = create_topic_with_key(&app, "topic-1", TOPIC).await;
    assert_eq!(first.status(), 201);
    let location = header(&first, "location").expect("Location").to_string();
    assert_eq!(header(&first, "idempotent-replayed"), None);
    let first: Value = first.json().await.expect("json");

    // The same value written differently (keys reordered, other spacing) is the same body.
    let reordered =
        r#"{"source_text":"Cells divide.","title":"Cells","description":"About cells"}"#;
    let again = create_topic_with_key(&app, "topic-1", reordered).await;
    assert_eq!(again.status(), 201);
    assert_eq!(header(&again, "location"), Some(location.as_str()));
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    let again: Value = again.json().await.expect("json");
    assert_eq!(again, first);
    assert_eq!(topic_count(&app).await, 1, "never a second topic");

    // Another body with the same key is refused, and creates nothing.
    let other = r#"{"title": "Atoms"}"#;
    assert_error(
        create_topic_with_key(&app, "topic-1", other).await,
        422,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(topic_count(&app).await, 1);

    // A new key is a new request.
    let second = create_topic_with_key(&app, "topic-2", TOPIC).await;
    assert_eq!(second.status(), 201);
    let second: Value = second.json().await.expect("json");
    assert_ne!(second["id"], first["id"]);
    assert_eq!(topic_count(&app).await, 2);
    app.stop().await;
}

async fn keys_that_are_empty_or_too_long_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    for bad in ["", "   ", &"k".repeat(256), "tab\there"] {
        let body = assert_error(
            create_topic_with_key(&app, bad, TOPIC).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(
            body["error"]["details"][0]["field"], "Idempotency-Key",
            "{body}"
        );
    }
    assert_eq!(topic_count(&app).await, 0, "a refused key creates nothing");
    let longest = create_topic_with_key(&app, &"k".repeat(255), TOPIC).await;
    assert_eq!(longest.status(), 201);
    app.stop().await;
}

async fn parallel_requests_with_one_key_create_one_topic(backend: Backend) {
    let app = spawn_app(backend).await;
    let requests = (0..16).map(|_| create_topic_with_key(&app, "burst", TOPIC));
    let responses = futures::future::join_all(requests).await;
    let mut created_ids = Vec::new();
    let mut in_flight = 0;
    for response in responses {
        match response.status().as_u16() {
            201 => {
                let topic: Value = response.json().await.expect("json");
                created_ids.push(topic["id"].clone());
            }
            409 => {
                assert!(header(&response, "retry-after").is_some());
                assert_error(response, 409, "idempotency_key_in_flight").await;
                in_flight += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        !created_ids.is_empty(),
        "{in_flight} in flight, none created"
    );
    assert!(
        created_ids.iter().all(|id| *id == created_ids[0]),
        "one topic, replayed: {created_ids:?}"
    );
    assert_eq!(topic_count(&app).await, 1, "exactly one topic");
    // Once the first has answered, every retry is a replay.
    let after = create_topic_with_key(&app, "burst", TOPIC).await;
    assert_eq!(after.status(), 201);
    let after: Value = after.json().await.expect("json");
    assert_eq!(after["id"], created_ids[0]);
    app.stop().await;
}

async fn generate_keys_are_per_topic_and_a_failed_first_request_frees_the_key(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 100,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Generated").await;
    let topic_id = str_of(&topic, "id").to_string();
    let other = app.create_topic("Other").await;
    let other_id = str_of(&other, "id").to_string();
    let generate = |topic_id: &str, key: &str, target: i64| {
        app.request(
            Method::POST,
            &format!("/api/topics/{topic_id}/blueprints/generate"),
        )
        .header("idempotency-key", key)
        .json(&json!({"target_terminal_objectives": target}))
        .send()
    };
    // A generation without a key is running: the keyed request fails with 409, and its key is
    // not kept (only a success is replayed).
    let running = app.start_generation(&topic_id, 30).await;
    assert_error(
        generate(&topic_id, "gen-1", 3).await.expect("send"),
        409,
        "generation_in_progress",
    )
    .await;
    // The same key on another topic is another request.
    let elsewhere = generate(&other_id, "gen-1", 3).await.expect("send");
    assert_eq!(elsewhere.status(), 202);
    assert_error(
        generate(&other_id, "gen-1", 4).await.expect("send"),
        422,
        "idempotency_key_reused",
    )
    .await;

    app.wait_terminal(&topic_id, str_of(&running, "id")).await;
    let first = generate(&topic_id, "gen-1", 3).await.expect("send");
    assert_eq!(first.status(), 202, "the key was freed by the failure");
    assert_eq!(header(&first, "idempotent-replayed"), None);
    let first: Value = first.json().await.expect("json");
    assert_ne!(first["id"], running["id"]);
    let replay = generate(&topic_id, "gen-1", 3).await.expect("send");
    assert_eq!(replay.status(), 202);
    assert_eq!(header(&replay, "idempotent-replayed"), Some("true"));
    assert!(header(&replay, "location").is_some_and(|l| l.contains(str_of(&first, "id"))));
    let replay: Value = replay.json().await.expect("json");
    assert_eq!(replay["id"], first["id"]);
    app.stop().await;
}

crate::on_both_backends!(
    a_retried_topic_creation_replays_the_first_answer,
    keys_that_are_empty_or_too_long_are_refused,
    parallel_requests_with_one_key_create_one_topic,
    generate_keys_are_per_topic_and_a_failed_first_request_frees_the_key,
);
