//! Operational HTTP concerns: request ids, request metrics and logs, and `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::request_id::RequestId;
use tracing::Span;

use crate::telemetry::{prometheus, HTTP_DURATION, HTTP_REQUESTS};

/// The route template a request matched, carried from the inner router to the outer layer.
#[derive(Clone)]
struct RouteLabel(Arc<str>);

/// Inside the router: remembers which route template matched (e.g. `/api/topics/{topic_id}`),
/// so metrics are labelled by route, not by every distinct id.
pub async fn tag_route(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let label = matched.map(|m| Arc::<str>::from(m.as_str()));
    let mut response = next.run(request).await;
    if let Some(label) = label {
        response.extensions_mut().insert(RouteLabel(label));
    }
    response
}

/// The method as a metric label: one of the standard methods, else `other`. The raw method is
/// the client's to make up, and every distinct label value is a new series kept for ever, so a
/// label taken from it would let anyone grow `/metrics` (and memory) without bound.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Outside the router: counts every request and its latency by method, route and status.
pub async fn record_request(request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map(|l| l.0.to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The log span of a request: its `x-request-id` (set by the outer layer, taken from the
/// request or made), method and path, so that every line logged while serving it carries them.
/// Headers (Authorization, cookies) are never logged.
pub fn request_span(request: &Request) -> Span {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
    )
}

/// `GET /metrics`: Prometheus text. Free to the machine itself (a client that is loopback by
/// the same rule as the throttles: behind a trusted proxy nobody is); everyone else needs the
/// configured token.
pub async fn metrics(token: Option<Arc<str>>, trust_proxy: bool, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    // Without connection info (a router driven in-process) nobody is known to be local.
    let on_loopback = peer.is_some()
        && crate::http::client::client_addr(trust_proxy, peer, request.headers()).is_loopback();
    if !on_loopback {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let allowed = match (&token, presented) {
            (Some(expected), Some(given)) => {
                constant_time_eq(expected.as_bytes(), given.as_bytes())
            }
            _ => false,
        };
        if !allowed {
            let mut response = (
                StatusCode::UNAUTHORIZED,
                axum::Json(serde_json::json!({"error": {
                    "code": "unauthenticated",
                    "message": "Metrics need `Authorization: Bearer <QUIZMASTER_METRICS_TOKEN>` from outside loopback"
                }})),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        prometheus().render(),
    )
        .into_response()
}

/// Compares secrets in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
