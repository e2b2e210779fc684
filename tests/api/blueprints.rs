use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

async fn list_filters_by_status_and_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let topic = app.create_topic("Listing").await;
    let topic_id = str_of(&topic, "id");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let started = app.start_generation(topic_id, 1).await;
        let id = str_of(&started, "id").to_string();
        app.wait_terminal(topic_id, &id).await;
        ids.push(id);
    }
    let first: Value = app
        .get(&format!("/api/topics/{topic_id}/blueprints?limit=2"))
        .await
        .json()
        .await
        .expect("json");
    let items = first["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], ids[2].as_str(), "newest first");
    assert!(items[0]["progress"].is_i64(), "items are status views");
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second: Value = app
        .get(&format!(
            "/api/topics/{topic_id}/blueprints?limit=2&cursor={cursor}"
        ))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(second["items"][0]["id"], ids[0].as_str());
    assert_eq!(second["next_cursor"], Value::Null);

    let completed: Value = app
        .get(&format!(
            "/api/topics/{topic_id}/blueprints?status=completed"
        ))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(completed["items"].as_array().map(Vec::len), Some(3));
    let queued: Value = app
        .get(&format!("/api/topics/{topic_id}/blueprints?status=queued"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(queued["items"].as_array().map(Vec::len), Some(0));
    assert_error(
        app.get(&format!("/api/topics/{}/blueprints", uuid::Uuid::new_v4()))
            .await,
        404,
        "topic_not_found",
    )
    .await;
    app.stop().await;
}

async fn an_active_blueprint_cannot_be_deleted_an_ended_one_can(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 100,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Deleting").await;
    let topic_id = str_of(&topic, "id");
    let started = app.start_generation(topic_id, 5).await;
    let blueprint_id = str_of(&started, "id");
    let path = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}");
    let body = assert_error(
        app.request(Method::DELETE, &path)
            .send()
            .await
            .expect("send"),
        409,
        "generation_in_progress",
    )
    .await;
    assert_eq!(body["error"]["blueprint_id"], blueprint_id);

    app.wait_terminal(topic_id, blueprint_id).await;
    // Polled above, so a cached status view (SQLite) exists: it must not answer for another
    // topic, nor outlive the deletion.
    let other = app.create_topic("Someone else's").await;
    assert_error(
        app.get(&format!(
            "/api/topics/{}/blueprints/{blueprint_id}/status",
            str_of(&other, "id")
        ))
        .await,
        404,
        "blueprint_not_found",
    )
    .await;
    let deleted = app
        .request(Method::DELETE, &path)
        .send()
        .await
        .expect("send");
    assert_eq!(deleted.status(), 204);
    assert_error(app.get(&path).await, 404, "blueprint_not_found").await;
    assert_error(
        app.get(&format!("{path}/status")).await,
        404,
        "blueprint_not_found",
    )
    .await;
    assert_error(
        app.request(Method::DELETE, &path)
            .send()
            .await
            .expect("send"),
        404,
        "blueprint_not_found",
    )
    .await;
    app.stop().await;
}

async fn deleting_a_topic_cancels_its_generation_and_removes_its_blueprints(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 100,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Doomed").await;
    let topic_id = str_of(&topic, "id").to_string();
    let started = app.start_generation(&topic_id, 30).await;
    let blueprint_id = str_of(&started, "id").to_string();
    app.wait_for_status(&topic_id, &blueprint_id, Duration::from_secs(5), |s| {
        s["terminal_objectives_count"].as_i64() >= Some(1)
    })
    .await;
    let events = app
        .get(&format!(
            "/api/topics/{topic_id}/blueprints/{blueprint_id}/events"
        ))
        .await;
    let reader = tokio::spawn(crate::following::read_events(
        events,
        Duration::from_secs(10),
    ));

    let deleted = app
        .request(Method::DELETE, &format!("/api/topics/{topic_id}"))
        .send()
        .await
        .expect("send");
    assert_eq!(deleted.status(), 204);
    let events = reader.await.expect("reader");
    assert_eq!(
        events.last().map(|e| e.data["status"].clone()),
        Some(Value::from("cancelled"))
    );
    assert_error(
        app.get(&format!("/api/topics/{topic_id}/blueprints/{blueprint_id}"))
            .await,
        404,
        "topic_not_found",
    )
    .await;
    // Its status was polled while it ran (a cached view, with SQLite): gone too.
    assert_error(
        app.get(&format!(
            "/api/topics/{topic_id}/blueprints/{blueprint_id}/status"
        ))
        .await,
        404,
        "topic_not_found",
    )
    .await;
    // The worker is free again: another topic's generation completes.
    let other = app.create_topic("Survivor").await;
    let other_id = str_of(&other, "id");
    let next = app.start_generation(other_id, 1).await;
    assert_eq!(
        app.wait_terminal(other_id, str_of(&next, "id")).await["status"],
        "completed"
    );
    app.stop().await;
}

async fn exports_in_three_formats_only_when_completed(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 150,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Exporting, with \"quotes\"").await;
    let topic_id = str_of(&topic, "id");
    let started = app.start_generation(topic_id, 3).await;
    let blueprint_id = str_of(&started, "id");
    let base = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/export");
    let body = assert_error(
        app.get(&format!("{base}?format=json")).await,
        409,
        "not_completed",
    )
    .await;
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("completed")));

    app.wait_terminal(topic_id, blueprint_id).await;
    let whole: Value = app
        .get(&format!("/api/topics/{topic_id}/blueprints/{blueprint_id}"))
        .await
        .json()
        .await
        .expect("json");
    let first_text = whole["terminal_objectives"][0]["text"]
        .as_str()
        .expect("text")
        .to_string();

    let markdown = app.get(&format!("{base}?format=markdown")).await;
    assert_eq!(markdown.status(), 200);
    assert!(markdown.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/markdown"));
    assert!(markdown.headers()["content-disposition"]
        .to_str()
        .expect("cd")
        .contains("attachment"));
    let markdown = markdown.text().await.expect("text");
    assert!(markdown.starts_with("# "));
    assert!(markdown.contains(&first_text));

    let csv = app.get(&format!("{base}?format=csv")).await;
    assert!(csv.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/csv"));
    let csv = csv.text().await.expect("text");
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("terminal_position,enabling_position,kind"));
    let expected_rows =
        1 + 3 + whole["enabling_objectives_count"].as_i64().expect("count") as usize;
    assert_eq!(rows.len(), expected_rows);

    let json = app.get(&format!("{base}?format=json")).await;
    assert!(json.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("application/json"));
    let exported: Value = json.json().await.expect("json");
    assert_eq!(
        exported["terminal_objectives"],
        whole["terminal_objectives"]
    );

    assert_error(
        app.get(&format!("{base}?format=pdf")).await,
        422,
        "validation_failed",
    )
    .await;
    app.stop().await;
}

crate::on_both_backends!(
    list_filters_by_status_and_pages,
    an_active_blueprint_cannot_be_deleted_an_ended_one_can,
    deleting_a_topic_cancels_its_generation_and_removes_its_blueprints,
    exports_in_three_formats_only_when_completed
);
