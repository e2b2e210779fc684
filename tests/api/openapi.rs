//! The OpenAPI document: a snapshot of the whole of it (so every change to the API surface is
//! reviewed), and the served copy is the same document.

use crate::helpers::*;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/openapi.json");

#[test]
fn the_openapi_document_matches_its_snapshot() {
    let document = quizmaster::http::openapi_document();
    let mut current = serde_json::to_string_pretty(&document).expect("serializable");
    current.push('\n');
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(SNAPSHOT, &current).expect("write the snapshot");
        return;
    }
    let stored = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        stored == current,
        "the OpenAPI document changed; review it and run `UPDATE_SNAPSHOTS=1 cargo test --test api openapi` to accept it"
    );
}

async fn the_served_document_is_openapi_3_1_of_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    let served: serde_json::Value = response.json().await.expect("json");
    assert!(served["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1")));
    let expected = serde_json::to_value(quizmaster::http::openapi_document()).expect("value");
    assert_eq!(served, expected);
    for path in [
        "/api/topics",
        "/api/topics/{topic_id}",
        "/api/topics/{topic_id}/blueprints",
        "/api/topics/{topic_id}/blueprints/generate",
        "/api/topics/{topic_id}/blueprints/{blueprint_id}",
        "/api/topics/{topic_id}/blueprints/{blueprint_id}/status",
        "/api/topics/{topic_id}/blueprints/{blueprint_id}/events",
        "/api/topics/{topic_id}/blueprints/{blueprint_id}/cancel",
        "/api/topics/{topic_id}/blueprints/{blueprint_id}/export",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(served["paths"][path].is_object(), "{path} is documented");
    }
    let docs = app.get("/api/docs/").await;
    assert_eq!(
        docs.status(),
        200,
        "the docs page is served from the binary"
    );
    app.stop().await;
}

crate::on_both_backends!(the_served_document_is_openapi_3_1_of_every_route);
