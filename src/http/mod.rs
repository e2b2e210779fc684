//! HTTP: the router, the API handlers, and the operational endpoints.

pub mod api;
pub mod error;
pub mod extract;
pub mod ui;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use api::{blueprints, topics};
use error::ApiError;
use extract::BODY_LIMIT_BYTES;

/// The whole HTTP surface of `quizmaster serve`.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/topics", get(topics::list).post(topics::create))
        .route(
            "/topics/{topic_id}",
            get(topics::get)
                .patch(topics::update)
                .delete(topics::delete),
        )
        .route("/topics/{topic_id}/blueprints", get(blueprints::list))
        .route(
            "/topics/{topic_id}/blueprints/generate",
            post(blueprints::generate),
        )
        .route(
            "/topics/{topic_id}/blueprints/{blueprint_id}",
            get(blueprints::get).delete(blueprints::delete),
        )
        .route(
            "/topics/{topic_id}/blueprints/{blueprint_id}/status",
            get(blueprints::status),
        )
        .route(
            "/topics/{topic_id}/blueprints/{blueprint_id}/events",
            get(blueprints::events),
        )
        .route(
            "/topics/{topic_id}/blueprints/{blueprint_id}/cancel",
            post(blueprints::cancel),
        )
        .route(
            "/topics/{topic_id}/blueprints/{blueprint_id}/export",
            get(blueprints::export),
        )
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed);

    Router::new()
        .nest("/api", api)
        .merge(ui::router())
        .route("/", get(|| async { Redirect::to("/topics") }))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn route_not_found() -> ApiError {
    ApiError::RouteNotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The process is alive.
async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// The database answers.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            let mut response = ApiError::Unavailable.into_response();
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            response
        }
    }
}
