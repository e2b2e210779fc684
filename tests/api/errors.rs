use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

async fn malformed_requests_get_the_contracts_json_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let topic = app.create_topic("Errors").await;
    let topic_id = str_of(&topic, "id");

    assert_error(app.get("/api/topics/not-a-uuid").await, 400, "invalid_id").await;
    assert_error(
        app.get(&format!("/api/topics/{topic_id}/blueprints/123/status"))
            .await,
        400,
        "invalid_id",
    )
    .await;

    let bad_json = app
        .request(Method::POST, "/api/topics")
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .expect("send");
    assert_error(bad_json, 400, "invalid_json").await;

    let wrong_type = app
        .request(Method::POST, "/api/topics")
        .header("content-type", "text/plain")
        .body("{\"title\": \"x\"}")
        .send()
        .await
        .expect("send");
    assert_eq!(wrong_type.status(), 415);
    let body: serde_json::Value = wrong_type.json().await.expect("json");
    assert!(body["error"]["code"].is_string());

    let huge = app
        .request(Method::POST, "/api/topics")
        .header("content-type", "application/json")
        .body(format!(
            "{{\"title\": \"x\", \"source_text\": \"{}\"}}",
            "a".repeat(3 * 1024 * 1024)
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(huge.status(), 413);
    let body: serde_json::Value = huge.json().await.expect("json");
    assert!(body["error"]["code"].is_string());

    assert_error(app.get("/api/nothing-here").await, 404, "not_found").await;
    assert_error(app.get("/nothing-here").await, 404, "not_found").await;
    let wrong_method = app
        .request(Method::PUT, "/api/topics")
        .send()
        .await
        .expect("send");
    assert_eq!(wrong_method.status(), 405);
    let body: serde_json::Value = wrong_method.json().await.expect("json");
    assert!(body["error"]["code"].is_string());

    assert_error(
        app.get("/api/topics?limit=0").await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        app.get("/api/topics?limit=101").await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        app.get("/api/topics?cursor=garbage").await,
        422,
        "validation_failed",
    )
    .await;

    let missing = uuid::Uuid::new_v4();
    assert_error(
        app.get(&format!("/api/topics/{missing}")).await,
        404,
        "topic_not_found",
    )
    .await;
    assert_error(
        app.post_json(
            &format!("/api/topics/{missing}/blueprints/generate"),
            json!({}),
        )
        .await,
        404,
        "topic_not_found",
    )
    .await;
    assert_error(
        app.get(&format!(
            "/api/topics/{missing}/blueprints/{missing}/status"
        ))
        .await,
        404,
        "topic_not_found",
    )
    .await;
    assert_error(
        app.get(&format!(
            "/api/topics/{topic_id}/blueprints/{missing}/status"
        ))
        .await,
        404,
        "blueprint_not_found",
    )
    .await;
    for target in [json!(0), json!(31), json!("ten"), json!(2.5)] {
        assert_error(
            app.post_json(
                &format!("/api/topics/{topic_id}/blueprints/generate"),
                json!({"target_terminal_objectives": target}),
            )
            .await,
            422,
            "validation_failed",
        )
        .await;
    }
    assert_error(
        app.get(&format!("/api/topics/{topic_id}/blueprints?status=bogus"))
            .await,
        422,
        "validation_failed",
    )
    .await;
    app.stop().await;
}

async fn a_blueprint_is_not_found_under_another_topic(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.create_topic("First").await;
    let second = app.create_topic("Second").await;
    let started = app.start_generation(str_of(&first, "id"), 2).await;
    let blueprint_id = str_of(&started, "id");
    let second_id = str_of(&second, "id");
    for suffix in ["", "/status", "/events", "/export?format=json"] {
        assert_error(
            app.get(&format!(
                "/api/topics/{second_id}/blueprints/{blueprint_id}{suffix}"
            ))
            .await,
            404,
            "blueprint_not_found",
        )
        .await;
    }
    assert_error(
        app.request(
            Method::POST,
            &format!("/api/topics/{second_id}/blueprints/{blueprint_id}/cancel"),
        )
        .send()
        .await
        .expect("send"),
        404,
        "blueprint_not_found",
    )
    .await;
    app.stop().await;
}

crate::on_both_backends!(
    malformed_requests_get_the_contracts_json_errors,
    a_blueprint_is_not_found_under_another_topic
);
