//! The web UI: server-rendered HTML pages (askama, auto-escaped), one stylesheet and a few
//! plain JavaScript modules embedded in the binary. Every page works without JavaScript: the
//! forms post and redirect; the scripts only make the pages live.
//!
//! Security: every response here carries a strict Content-Security-Policy (no inline scripts
//! or styles anywhere, so nothing injected can run); state-changing posts from other sites are
//! refused for the whole server (`http::auth::refuse_cross_site`).

mod account;
mod assets;
mod error;
mod forms;
mod pages;
mod views;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::http::AppState;

pub use error::UiError;

/// The policy of the contract: everything from this origin only, no inline code, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The HTML pages, their form posts and the static assets. Every page but sign-up, log-in and
/// the assets sits behind the pages' access layer (log in first); the handlers read their ids
/// with `PageIds`, which checks the topic's owner (someone else's topic is "not found").
pub fn router(state: &AppState) -> Router<AppState> {
    let pages = Router::new()
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
        .route(
            "/account/tokens",
            get(account::tokens).post(account::create_api_token),
        )
        .route(
            "/account/tokens/{token_id}/revoke",
            post(account::revoke_api_token),
        )
        .route("/account/sessions", get(account::sessions))
        .route("/account/sessions/end-others", post(account::end_others))
        .route(
            "/account/sessions/{session_id}/end",
            post(account::end_one_session),
        )
        .route("/logout", get(account::logout_page).post(account::logout))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::auth::require_page_user,
        ));
    // For anonymous people: the way in.
    let entry = Router::new()
        .route("/signup", get(account::signup_page).post(account::signup))
        .route("/login", get(account::login_page).post(account::login));
    Router::new()
        .merge(pages)
        .merge(entry)
        .route("/static/{*path}", get(assets::serve))
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
