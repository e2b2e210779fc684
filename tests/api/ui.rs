//! The web UI's HTTP side without a browser: security headers, form posts and their redirects,
//! validation re-renders, the 409 → running job redirect, assets, and HTML 404s. (The browser
//! tests in e2e/ drive the same pages in Chromium.)

use reqwest::{redirect, Client, Method, Response};

use crate::helpers::*;

/// A client that shows redirects instead of following them.
fn no_redirects() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .expect("client")
}

async fn post_form(app: &TestApp, path: &str, body: &str) -> Response {
    no_redirects()
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .expect("post")
}

fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location")
        .to_string()
}

async fn pages_send_a_strict_content_security_policy(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/topics").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().expect("ascii");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    let html = response.text().await.expect("html");
    assert!(html.contains("Create topic"));
    assert!(
        !html.contains("<script>") && !html.contains(" style="),
        "no inline script or style"
    );
    app.stop().await;
}

async fn a_topic_form_creates_and_redirects_and_errors_rerender_with_what_was_typed(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let created = post_form(
        &app,
        "/topics",
        "title=+Cells+&description=&source_text=Mitochondria+make+ATP.",
    )
    .await;
    assert_eq!(created.status(), 303);
    let page = location(&created);
    let id = page.trim_start_matches("/topics/");
    let topic: serde_json::Value = app
        .get(&format!("/api/topics/{id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(topic["title"], "Cells");
    assert_eq!(topic["description"], serde_json::Value::Null);
    assert_eq!(topic["source_text"], "Mitochondria make ATP.");

    let rejected = post_form(
        &app,
        "/topics",
        "title=+++&description=%3Cb%3Ekept%3C%2Fb%3E",
    )
    .await;
    assert_eq!(rejected.status(), 422);
    let html = rejected.text().await.expect("html");
    assert!(html.contains("Title must not be empty."));
    // What was typed comes back, escaped (askama writes `<` as `&lt;` or `&#60;`).
    assert!(html.contains("kept"), "what was typed comes back");
    assert!(!html.contains("<b>kept</b>"), "and is escaped");
    app.stop().await;
}

async fn an_uploaded_file_becomes_the_source_material(backend: Backend) {
    let app = spawn_app(backend).await;
    let boundary = "XBOUNDARYX";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nRivers\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"source_text\"\r\n\r\n\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"source_file\"; filename=\"rivers.md\"\r\n\
         Content-Type: text/markdown\r\n\r\n# Erosion\nWater wears rock away.\r\n--{boundary}--\r\n"
    );
    let response = no_redirects()
        .post(app.url("/topics"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 303);
    let id = location(&response)
        .trim_start_matches("/topics/")
        .to_string();
    let topic: serde_json::Value = app
        .get(&format!("/api/topics/{id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(topic["source_text"], "# Erosion\nWater wears rock away.");

    let wrong = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nSlides\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"source_file\"; filename=\"slides.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n%PDF-1.7\r\n--{boundary}--\r\n"
    );
    let response = no_redirects()
        .post(app.url("/topics"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(wrong)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 422);
    assert!(response
        .text()
        .await
        .expect("html")
        .contains("Upload a text file ending in .txt or .md."));
    app.stop().await;
}

async fn starting_twice_leads_to_the_running_job_and_cancel_redirects_back(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 200,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Gravity").await;
    let topic_id = str_of(&topic, "id");
    let path = format!("/topics/{topic_id}/blueprints/generate");

    let form = app.get(&path).await;
    assert_eq!(form.status(), 200);
    assert_eq!(
        form.headers()["cache-control"],
        "no-store",
        "a fresh key each time"
    );

    let bad = post_form(&app, &path, "target_terminal_objectives=99").await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.expect("html").contains("from 1 to 30"));

    let started = post_form(&app, &path, "target_terminal_objectives=30").await;
    assert_eq!(started.status(), 303);
    let status_page = location(&started);
    let prefix = format!("/topics/{topic_id}/blueprints/generate-status?blueprint=");
    assert!(status_page.starts_with(&prefix), "{status_page}");
    let blueprint_id = status_page.trim_start_matches(&prefix).to_string();

    // A second start while it runs is no error: it leads to the running job.
    let again = post_form(&app, &path, "target_terminal_objectives=5").await;
    assert_eq!(again.status(), 303);
    assert_eq!(
        location(&again),
        format!("{status_page}&notice=already-running")
    );

    let page = app.get(&status_page).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("role=\"progressbar\"") && html.contains("aria-valuenow="));
    assert!(html.contains("Cancel generation"));

    let cancelled = post_form(
        &app,
        &format!("/topics/{topic_id}/blueprints/{blueprint_id}/cancel"),
        "return_to=jobs",
    )
    .await;
    assert_eq!(cancelled.status(), 303);
    assert_eq!(location(&cancelled), "/jobs");
    assert_eq!(
        app.status(topic_id, &blueprint_id).await["status"],
        "cancelled"
    );
    let html = app.get(&status_page).await.text().await.expect("html");
    assert!(html.contains("This generation was cancelled."));
    assert!(!html.contains(">Cancel generation<"));
    app.stop().await;
}

/// The form's one-time key: the same page sent twice, at once or one after the other, starts
/// one generation and leads both sends to its status page (no "already running" notice).
async fn a_form_sent_twice_starts_one_generation(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 200,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Gravity").await;
    let topic_id = str_of(&topic, "id");
    let path = format!("/topics/{topic_id}/blueprints/generate");
    let html = app.get(&path).await.text().await.expect("html");
    let marker = "name=\"idempotency_key\" value=\"";
    let start = html.find(marker).expect("the form's key") + marker.len();
    let key = &html[start..start + html[start..].find('"').expect("the key's end")];
    assert!(key.starts_with("web-form-"), "{key}");
    let body = format!("target_terminal_objectives=30&idempotency_key={key}");

    // Sent twice at once: one of the two waits for the other.
    let (first, second) =
        tokio::join!(post_form(&app, &path, &body), post_form(&app, &path, &body));
    assert_eq!(first.status(), 303);
    assert_eq!(second.status(), 303);
    let status_page = location(&first);
    assert_eq!(location(&second), status_page);
    assert!(!status_page.contains("notice"), "{status_page}");
    // And once more later (a resubmit after a lost answer).
    let third = post_form(&app, &path, &body).await;
    assert_eq!(third.status(), 303);
    assert_eq!(location(&third), status_page);

    assert_eq!(app.blueprint_count(topic_id).await, 1, "one generation");
    // A fresh page has a fresh key.
    let html = app.get(&path).await.text().await.expect("html");
    assert!(!html.contains(key), "each page gets its own key");
    app.stop().await;
}

async fn cross_site_form_posts_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = no_redirects()
        .post(app.url("/topics"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .body("title=Injected")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 403);
    let response = no_redirects()
        .post(app.url("/topics"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "http://evil.example")
        .body("title=Injected")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 403);
    let list: serde_json::Value = app.get("/api/topics").await.json().await.expect("json");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    app.stop().await;
}

async fn assets_are_embedded_typed_and_revalidated(backend: Backend) {
    let app = spawn_app(backend).await;
    let script = app.get("/static/js/follower.mjs").await;
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = script.headers()["etag"].to_str().expect("etag").to_string();
    let again = app
        .request(Method::GET, "/static/js/follower.mjs")
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(again.status(), 304);
    let css = app.get("/static/app.css").await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(app.get("/static/nope.js").await.status(), 404);
    app.stop().await;
}

async fn unknown_topics_get_an_html_404_and_unknown_routes_stay_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let missing = app
        .get("/topics/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(missing.status(), 404);
    assert!(missing.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/html"));
    assert_eq!(app.get("/topics/not-a-uuid").await.status(), 404);
    assert_error(app.get("/nothing-here").await, 404, "not_found").await;
    let jobs = app.get("/jobs").await;
    assert_eq!(jobs.status(), 200);
    assert!(jobs.text().await.expect("html").contains("Generation jobs"));
    app.stop().await;
}

crate::on_both_backends!(
    pages_send_a_strict_content_security_policy,
    a_topic_form_creates_and_redirects_and_errors_rerender_with_what_was_typed,
    an_uploaded_file_becomes_the_source_material,
    starting_twice_leads_to_the_running_job_and_cancel_redirects_back,
    a_form_sent_twice_starts_one_generation,
    cross_site_form_posts_are_refused,
    assets_are_embedded_typed_and_revalidated,
    unknown_topics_get_an_html_404_and_unknown_routes_stay_json
);
