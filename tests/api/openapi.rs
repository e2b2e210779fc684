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

/// Client generators name their functions after operationIds and document them with the
/// summaries: every operation has a unique id, a one-line summary that is not its path, and a
/// tag the document declares.
#[test]
fn every_operation_has_a_unique_id_a_summary_and_a_declared_tag() {
    let document = serde_json::to_value(quizmaster::http::openapi_document()).expect("value");
    let declared: std::collections::HashSet<&str> = document["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|tag| tag["name"].as_str())
        .collect();
    let mut ids = std::collections::HashSet::new();
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            operations += 1;
            let at = format!("{method} {path}");
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                !id.is_empty() && id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{at}: operationId {id:?} is snake_case"
            );
            assert!(
                ids.insert(id.to_string()),
                "{at}: operationId {id} is taken"
            );
            let summary = operation["summary"].as_str().unwrap_or_default();
            assert!(!summary.is_empty(), "{at}: a summary");
            assert!(!summary.contains('\n'), "{at}: one line: {summary:?}");
            assert!(
                !summary.contains('`') && !summary.contains("/api/"),
                "{at}: says what it does, not its path: {summary:?}"
            );
            let tags = operation["tags"].as_array().expect("tags");
            assert!(!tags.is_empty(), "{at}: a tag");
            for tag in tags {
                let tag = tag.as_str().unwrap_or_default();
                assert!(declared.contains(tag), "{at}: tag {tag} is declared");
            }
        }
    }
    assert!(operations >= 26, "{operations} operations");
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
