//! The web UI: server-rendered HTML pages (askama, auto-escaped), one stylesheet and a few
//! plain JavaScript modules embedded in the binary. Every page works without JavaScript: the
//! forms post and redirect; the scripts only make the pages live.
//!
//! Security: every response here carries a strict Content-Security-Policy (no inline scripts
//! or styles anywhere, so nothing injected can run), and state-changing form posts must come
//! from this origin.

mod assets;
mod error;
mod forms;
mod pages;
mod views;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::app::AppState;

pub use error::UiError;

/// The policy of the contract: everything from this origin only, no inline code, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The HTML pages, their form posts and the static assets.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/topics", get(pages::topics).post(pages::create_topic))
        .route("/topics/{topic_id}", get(pages::topic))
        .route(
            "/topics/{topic_id}/blueprints/generate",
            get(pages::generate_page).post(pages::start_generation),
        )
        .route(
            "/topics/{topic_id}/blueprints/generate-status",
            get(pages::status_page),
        )
        .route(
            "/topics/{topic_id}/blueprints/{blueprint_id}",
            get(pages::blueprint_page),
        )
        .route(
            "/topics/{topic_id}/blueprints/{blueprint_id}/cancel",
            post(pages::cancel),
        )
        .route("/jobs", get(pages::jobs))
        .route("/static/{*path}", get(assets::serve))
        .layer(middleware::from_fn(same_origin_posts))
        .layer(middleware::from_fn(security_headers))
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Refuses form posts that a browser says come from another site, so a foreign page cannot
/// make a visitor's browser start or cancel generations. Browsers send `Sec-Fetch-Site`; older
/// ones send `Origin`, which must then name this host. Clients that send neither (curl,
/// scripts) are not browsers acting for someone else and pass.
async fn same_origin_posts(request: Request, next: Next) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let headers = request.headers();
        let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let allowed = match (header_str("sec-fetch-site"), header_str("origin")) {
            (Some(site), _) => site == "same-origin" || site == "none",
            (None, Some(origin)) => {
                let host = header_str("host").unwrap_or("");
                origin
                    .split_once("://")
                    .is_some_and(|(_, rest)| !host.is_empty() && rest == host)
            }
            (None, None) => true,
        };
        if !allowed {
            return UiError::Status(
                StatusCode::FORBIDDEN,
                "This form was sent from another site, so it was refused.".into(),
            )
            .into_response();
        }
    }
    next.run(request).await
}
