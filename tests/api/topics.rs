use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn create_get_patch_delete_a_topic(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .post_json("/api/topics", json!({"title": "  Cell biology  ", "description": "Cells", "source_text": "Mitochondria."}))
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let topic: Value = response.json().await.expect("json");
    assert_eq!(topic["title"], "Cell biology", "stored trimmed");
    assert_eq!(location, format!("/api/topics/{}", str_of(&topic, "id")));
    assert!(str_of(&topic, "created_at").ends_with('Z'));

    let fetched: Value = app.get(&location).await.json().await.expect("json");
    assert_eq!(fetched, topic);

    let patched = app
        .request(Method::PATCH, &location)
        .json(&json!({"title": "Cells", "description": null}))
        .send()
        .await
        .expect("patch");
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.expect("json");
    assert_eq!(patched["title"], "Cells");
    assert_eq!(patched["description"], Value::Null);
    assert_eq!(
        patched["source_text"], "Mitochondria.",
        "untouched fields stay"
    );

    let deleted = app
        .request(Method::DELETE, &location)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    assert_error(app.get(&location).await, 404, "topic_not_found").await;
    app.stop().await;
}

async fn topics_list_newest_first_with_a_cursor(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(app.create_topic(&format!("Topic {n}")).await);
    }
    let mut seen = Vec::new();
    let mut path = "/api/topics?limit=2".to_string();
    loop {
        let page: Value = app.get(&path).await.json().await.expect("json");
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|t| t["title"].as_str().unwrap_or_default().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/topics?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["Topic 4", "Topic 3", "Topic 2", "Topic 1", "Topic 0"]
    );

    let default_page: Value = app.get("/api/topics").await.json().await.expect("json");
    assert_eq!(default_page["items"].as_array().map(Vec::len), Some(5));
    assert_eq!(default_page["next_cursor"], Value::Null);
    app.stop().await;
}

async fn topic_validation_reports_every_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        (json!({}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": 42}), "title"),
        (
            json!({"title": "ok", "description": "d".repeat(5_001)}),
            "description",
        ),
        (json!({"title": "ok", "source_text": 7}), "source_text"),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, field) in cases {
        let response = app.post_json("/api/topics", body.clone()).await;
        let error = assert_error(response, 422, "validation_failed").await;
        let details = error["error"]["details"].as_array().expect("details");
        assert!(
            details
                .iter()
                .any(|d| d["field"] == field && d["message"].is_string()),
            "{body} -> {error}"
        );
    }
    // A source text at the limit is fine.
    let response = app
        .post_json(
            "/api/topics",
            json!({"title": "Big", "source_text": "s".repeat(200_000)}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let listed: Value = app.get("/api/topics").await.json().await.expect("json");
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "nothing invalid was stored"
    );
    // A PATCH follows the same rules; a value of the wrong JSON type is a detail for its field
    // (422), not a malformed body (400), and every bad field is reported.
    let topic_id = listed["items"][0]["id"].as_str().expect("id").to_string();
    let patch_cases = [
        (json!({"title": null}), vec!["title"]),
        (
            json!({"title": false, "description": []}),
            vec!["title", "description"],
        ),
        (
            json!({"source_text": {"x": 1}, "unknown": 1}),
            vec!["source_text"],
        ),
        (json!("a string"), vec!["body"]),
    ];
    for (body, fields) in patch_cases {
        let response = app
            .request(Method::PATCH, &format!("/api/topics/{topic_id}"))
            .json(&body)
            .send()
            .await
            .expect("patch");
        let error = assert_error(response, 422, "validation_failed").await;
        let details = error["error"]["details"].as_array().expect("details");
        let reported: Vec<&str> = details.iter().filter_map(|d| d["field"].as_str()).collect();
        assert_eq!(reported, fields, "{body} -> {error}");
    }
    let unchanged: Value = app
        .get(&format!("/api/topics/{topic_id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(unchanged["title"], "Big", "nothing invalid was stored");
    app.stop().await;
}

crate::on_both_backends!(
    create_get_patch_delete_a_topic,
    topics_list_newest_first_with_a_cursor,
    topic_validation_reports_every_field
);
