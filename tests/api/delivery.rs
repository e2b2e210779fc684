//! How answers are delivered: gzip and brotli for pages, JSON and assets but never for SSE;
//! fingerprinted asset URLs cached for a year; and the partial objectives of a cancelled
//! generation, which stay readable.

use std::io::Read;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn get_encoded(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    app.request(Method::GET, path)
        .header("accept-encoding", accept)
        .send()
        .await
        .expect("get")
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("valid gzip");
    text
}

async fn json_pages_and_assets_are_compressed_when_asked(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_topic("Compressed").await;

    let plain = app.get("/api/topics").await;
    assert_eq!(
        header(&plain, "content-encoding"),
        None,
        "not asked: not compressed"
    );
    let expected: Value = plain.json().await.expect("json");

    let gzip = get_encoded(&app, "/api/topics", "gzip").await;
    assert_eq!(gzip.status(), 200);
    assert_eq!(header(&gzip, "content-encoding"), Some("gzip"));
    assert!(
        header(&gzip, "vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding"))
    );
    let body = gunzip(&gzip.bytes().await.expect("body"));
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("JSON"),
        expected
    );

    let brotli = get_encoded(&app, "/api/topics", "br;q=1.0, gzip;q=0.5").await;
    assert_eq!(header(&brotli, "content-encoding"), Some("br"));

    for path in [
        "/topics",
        "/static/app.css",
        "/static/js/follower.mjs",
        "/api/openapi.json",
    ] {
        let response = get_encoded(&app, path, "gzip").await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            header(&response, "content-encoding"),
            Some("gzip"),
            "{path}"
        );
        assert!(
            !gunzip(&response.bytes().await.expect("body")).is_empty(),
            "{path}"
        );
    }
    app.stop().await;
}

async fn sse_streams_are_never_compressed(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 50,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Streamed").await;
    let topic_id = str_of(&topic, "id");
    let started = app.start_generation(topic_id, 3).await;
    let blueprint_id = str_of(&started, "id");
    let path = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/events");
    let response = get_encoded(&app, &path, "gzip, br, deflate").await;
    assert_eq!(response.status(), 200);
    assert!(header(&response, "content-type").is_some_and(|t| t.starts_with("text/event-stream")));
    assert_eq!(header(&response, "content-encoding"), None);
    // Plain text events, all the way to the terminal one.
    let body = tokio::time::timeout(Duration::from_secs(20), response.text())
        .await
        .expect("the stream ends after the terminal event")
        .expect("text");
    assert!(body.contains("event: status"), "{body}");
    assert!(body.contains("\"status\":\"completed\""), "{body}");
    app.stop().await;
}

/// The `/static/...` URLs a page names.
fn asset_urls(html: &str) -> Vec<String> {
    html.split('"')
        .filter(|part| part.starts_with("/static/"))
        .map(str::to_string)
        .collect()
}

async fn pages_name_fingerprinted_assets_that_are_cached_for_a_year(backend: Backend) {
    let app = spawn_app(backend).await;
    let html = app.get("/topics").await.text().await.expect("html");
    let urls = asset_urls(&html);
    assert!(urls.len() >= 3, "{urls:?}");
    let fingerprint = urls[0]
        .split('/')
        .nth(2)
        .expect("a fingerprint")
        .to_string();
    assert_eq!(fingerprint.len(), 16, "{urls:?}");
    for url in &urls {
        assert!(url.starts_with(&format!("/static/{fingerprint}/")), "{url}");
        let response = app.get(url).await;
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(
            header(&response, "cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{url}"
        );
    }
    // A module's relative import stays under the same fingerprint, and is immutable too.
    let imported = app
        .get(&format!("/static/{fingerprint}/js/follower.mjs"))
        .await;
    assert_eq!(
        header(&imported, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    // Plain URLs and outdated fingerprints still answer, revalidated instead of kept.
    for url in ["/static/app.css", "/static/0123456789abcdef/app.css"] {
        let response = app.get(url).await;
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(
            header(&response, "cache-control"),
            Some("no-cache"),
            "{url}"
        );
        assert!(header(&response, "etag").is_some(), "{url}");
    }
    assert_eq!(
        app.get(&format!("/static/{fingerprint}/nope.js"))
            .await
            .status(),
        404
    );
    // The page's policy still allows the assets: same origin.
    let page = app.get("/topics").await;
    assert!(
        header(&page, "content-security-policy").is_some_and(|p| p.contains("script-src 'self'"))
    );
    app.stop().await;
}

async fn the_objectives_of_a_cancelled_generation_can_be_opened(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            pace_ms: 300,
            ..Settings::default()
        },
    )
    .await;
    let topic = app.create_topic("Cut short").await;
    let topic_id = str_of(&topic, "id");
    let started = app.start_generation(topic_id, 30).await;
    let blueprint_id = str_of(&started, "id");
    app.wait_for_status(topic_id, blueprint_id, Duration::from_secs(20), |s| {
        s["terminal_objectives_count"].as_i64() >= Some(1)
    })
    .await;
    let cancel = app
        .post_json(
            &format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/cancel"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(cancel.status(), 200);

    let document: Value = app
        .get(&format!("/api/topics/{topic_id}/blueprints/{blueprint_id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(document["status"], "cancelled", "{document}");
    let objectives = document["terminal_objectives"]
        .as_array()
        .expect("objectives");
    assert!(!objectives.is_empty(), "the stored objectives are kept");

    let blueprint_page = format!("/topics/{topic_id}/blueprints/{blueprint_id}");
    let status_page = app
        .get(&format!(
            "/topics/{topic_id}/blueprints/generate-status?blueprint={blueprint_id}"
        ))
        .await
        .text()
        .await
        .expect("html");
    assert!(
        status_page.contains(&format!("href=\"{blueprint_page}\">See them</a>")),
        "the cancelled notice links to the objectives"
    );
    let page = app.get(&blueprint_page).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    let verb = objectives[0]["verb"].as_str().expect("verb");
    assert!(html.contains(verb), "the page shows the stored objectives");
    app.stop().await;
}

/// The text of every `<time ...>...</time>` in a page.
fn time_texts(html: &str) -> Vec<String> {
    html.split("<time")
        .skip(1)
        .filter_map(|rest| {
            let (_, after) = rest.split_once('>')?;
            Some(after.split_once("</time>")?.0.to_string())
        })
        .collect()
}

/// `2 Dec 2026, 21:15 UTC`: the one way the pages write a date.
fn is_the_one_date_format(text: &str) -> bool {
    let parts: Vec<&str> = text.split(' ').collect();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    parts.len() == 5
        && parts[0].parse::<u8>().is_ok_and(|d| (1..=31).contains(&d))
        && months.contains(&parts[1])
        && parts[2].len() == 5
        && parts[2].ends_with(',')
        && parts[3].len() == 5
        && parts[3].as_bytes()[2] == b':'
        && parts[4] == "UTC"
}

async fn dates_read_one_way_on_every_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let topic = app.create_topic("Dated").await;
    let topic_id = str_of(&topic, "id");
    let started = app.start_generation(topic_id, 1).await;
    let blueprint_id = str_of(&started, "id");
    app.wait_terminal(topic_id, blueprint_id).await;
    let mut seen = 0;
    for path in [
        "/topics".to_string(),
        format!("/topics/{topic_id}"),
        format!("/topics/{topic_id}/blueprints/{blueprint_id}"),
        "/jobs".to_string(),
    ] {
        let html = app.get(&path).await.text().await.expect("html");
        let times = time_texts(&html);
        assert!(!times.is_empty(), "{path} shows a date");
        for text in times {
            assert!(is_the_one_date_format(&text), "{path}: {text:?}");
            seen += 1;
        }
    }
    assert!(seen >= 4);
    assert!(!is_the_one_date_format("Dec 2, 2026, 9:15 PM"));
    app.stop().await;
}

crate::on_both_backends!(
    dates_read_one_way_on_every_page,
    json_pages_and_assets_are_compressed_when_asked,
    sse_streams_are_never_compressed,
    pages_name_fingerprinted_assets_that_are_cached_for_a_year,
    the_objectives_of_a_cancelled_generation_can_be_opened
);
