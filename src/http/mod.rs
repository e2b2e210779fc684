//! HTTP: the router, the API handlers, and the operational endpoints.

pub mod api;
pub mod auth;
pub mod client;
mod compress;
pub mod error;
mod event_conn;
pub mod extract;
pub mod openapi;
mod ops;
pub mod server;
mod state;
pub mod streams;
pub mod ui;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use std::sync::Arc;

use axum::routing::get;
use axum::{middleware, Json, Router};
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::SwaggerUi;

pub use state::AppState;

use api::{auth as accounts_api, blueprints, topics};
use error::ApiError;
use extract::BODY_LIMIT_BYTES;

/// The whole HTTP surface of `quizmaster serve`. The API routes and the OpenAPI document are
/// built together from the handlers' `#[utoipa::path]` annotations, so they cannot drift.
pub fn router(state: AppState) -> Router {
    let (routes, mut document) = api_routes(Some(&state)).split_for_parts();
    openapi::add_security(&mut document);
    let document = Arc::new(document);
    let served = document.clone();
    Router::new()
        .merge(routes)
        .route(
            "/api/openapi.json",
            get(move || async move { Json(served.as_ref().clone()) }),
        )
        .merge(
            SwaggerUi::new("/api/docs")
                .config(utoipa_swagger_ui::Config::from("/api/openapi.json")),
        )
        .merge(ui::router(&state))
        .route("/", get(|| async { Redirect::to("/topics") }))
        .route_layer(middleware::from_fn(ops::tag_route))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(auth::refuse_cross_site))
        .layer(middleware::from_fn(baseline_security_headers))
        .layer(compress::CompressExceptStreamsLayer::new(compression()))
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

/// Every route the OpenAPI document describes. The routes of topics, blueprints and tokens sit
/// behind the access layer (`auth::require_user`); it needs the state, so the router built
/// without one (`openapi_document`) is only ever used for its document.
fn api_routes(state: Option<&AppState>) -> OpenApiRouter<AppState> {
    let mut protected = OpenApiRouter::new()
        .routes(routes!(topics::list, topics::create))
        .routes(routes!(topics::get, topics::update, topics::delete))
        .routes(routes!(blueprints::list))
        .routes(routes!(blueprints::generate))
        .routes(routes!(blueprints::get, blueprints::delete))
        .routes(routes!(blueprints::status))
        .routes(routes!(blueprints::events))
        .routes(routes!(blueprints::cancel))
        .routes(routes!(blueprints::export))
        .routes(routes!(
            accounts_api::create_api_token,
            accounts_api::list_api_tokens
        ))
        .routes(routes!(accounts_api::revoke_api_token))
        .routes(routes!(
            accounts_api::list_sessions,
            accounts_api::end_sessions
        ))
        .routes(routes!(accounts_api::end_one_session));
    if let Some(state) = state {
        protected = protected.route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_user,
        ));
    }
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(protected)
        .routes(routes!(accounts_api::signup))
        .routes(routes!(accounts_api::login))
        .routes(routes!(accounts_api::logout))
        .routes(routes!(accounts_api::me))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The OpenAPI document, as `/api/openapi.json` serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut document = api_routes(None).split_for_parts().1;
    openapi::add_security(&mut document);
    document
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
                ops::metrics(metrics_token.clone(), false, request)
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

/// Prometheus text; free to a direct loopback client (never behind `QUIZMASTER_TRUST_PROXY=on`),
/// elsewhere `Authorization: Bearer <QUIZMASTER_METRICS_TOKEN>`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    operation_id = "get_metrics", summary = "Prometheus metrics", description = "Prometheus text; free to a direct loopback client (never behind `QUIZMASTER_TRUST_PROXY=on`), elsewhere `Authorization: Bearer <QUIZMASTER_METRICS_TOKEN>`.",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 401, description = "Outside loopback without the token", body = openapi::ErrorBody),
    ))]
async fn metrics(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> axum::response::Response {
    ops::metrics(state.metrics_token.clone(), state.auth.trust_proxy, request).await
}

/// Headers every response carries, whatever produced it (the pages set a fuller policy of
/// their own, which is kept): no MIME sniffing, no referrer to other sites, no framing. JSON and
/// other non-HTML answers also get a policy that lets them run nothing; the Swagger UI under
/// `/api/docs` gets one that lets it run only its own files. Behind HTTPS (as a proxy says with
/// `X-Forwarded-Proto`), HSTS. JSON and HTML that set no caching of their own are `no-store`:
/// they are someone's data, and a shared or back-button cache must not keep them.
async fn baseline_security_headers(
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let docs = request.uri().path().starts_with("/api/docs");
    let https = request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
    headers
        .entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(if docs {
            DOCS_CONTENT_SECURITY_POLICY
        } else {
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
        }));
    if https {
        headers
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static("max-age=31536000"));
    }
    let personal = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html"));
    if personal && !docs {
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    response
}

/// gzip or brotli, as the client's `Accept-Encoding` prefers, for pages, JSON, metrics and
/// assets. Never for `text/event-stream`: a compressor holds bytes back until it has enough to
/// compress, which would delay every SSE event (and the keep-alive comments) indefinitely. Nor
/// for tiny bodies or raster images, where it only costs CPU. Level 4 for both: answers are
/// compressed as they are sent, and brotli's default (11) is meant for files compressed once,
/// many times slower; at 4 brotli is about as fast as gzip and still smaller.
fn compression(
) -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
    use tower_http::compression::CompressionLevel;
    tower_http::compression::CompressionLayer::new()
        .gzip(true)
        .br(true)
        .quality(CompressionLevel::Precise(4))
        .compress_when(
            SizeAbove::new(256)
                .and(NotForContentType::const_new("text/event-stream"))
                .and(NotForContentType::IMAGES)
                .and(NotForContentType::GRPC),
        )
}

/// The Swagger UI's policy: its own scripts and styles (it sets inline styles), images of its
/// own or inline, requests to this origin only (for the document and "Try it out").
const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

async fn route_not_found() -> ApiError {
    ApiError::RouteNotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    operation_id = "check_health", summary = "Liveness: the process is alive",
    responses((status = 200, description = "Alive", body = serde_json::Value)))]
async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    operation_id = "check_readiness", summary = "Readiness: the database answers",
    responses(
        (status = 200, description = "Ready", body = serde_json::Value),
        (status = 503, description = "The database is unreachable", body = openapi::ErrorBody),
    ))]
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
