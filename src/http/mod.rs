//! HTTP: the router, the API handlers, and the operational endpoints.

pub mod api;
pub mod error;
pub mod extract;
mod ops;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

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
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn(ops::tag_route));

    let metrics_token = state.metrics_token.clone();
    Router::new()
        .nest("/api", api)
        .route("/", get(|| async { Redirect::to("/topics") }))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(move |request: axum::extract::Request| {
                ops::metrics(metrics_token.clone(), request)
            }),
        )
        .route_layer(middleware::from_fn(ops::tag_route))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn(ops::record_request))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(ops::request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// `/healthz`, `/readyz` and `/metrics`: what `quizmaster worker` serves on its optional port.
pub fn health_router(
    store: std::sync::Arc<dyn crate::db::Store>,
    metrics_token: Option<std::sync::Arc<str>>,
) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move |request: axum::extract::Request| {
                ops::metrics(metrics_token.clone(), request)
            }),
        )
        .route("/healthz", get(healthz))
        .route(
            "/readyz",
            get(move || {
                let store = store.clone();
                async move { ready_response(store.as_ref()).await }
            }),
        )
        .fallback(route_not_found)
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
async fn readyz(State(state): State<AppState>) -> axum::response::Response {
    ready_response(state.store.as_ref()).await
}

async fn ready_response(store: &dyn crate::db::Store) -> axum::response::Response {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            let mut response = ApiError::Unavailable.into_response();
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            response
        }
    }
}
