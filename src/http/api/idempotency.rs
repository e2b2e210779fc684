//! `Idempotency-Key` on the API's creating POSTs: reads and checks the header, fingerprints
//! the body, and has the core claim the key, then store the answer (or replay an answer stored
//! before). The rules themselves are the core's ([`crate::core::IdempotentRequest`]).

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::core::{fingerprint, Claimed, Core, IdempotentRequest};
use crate::db::{IdempotencyScope, StoredAnswer};
use crate::domain::UserId;
use crate::http::error::{ApiError, ApiResult};

/// A stored answer larger than this is not kept (the API's answers are a few KiB).
const MAX_STORED_ANSWER: usize = 1024 * 1024;

/// The request's `Idempotency-Key`, if it sent one: 1 to 255 visible ASCII characters.
pub fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let raw = std::str::from_utf8(raw.as_bytes()).unwrap_or("\u{0}");
    crate::domain::text::parse_idempotency_key(raw)
        .map(Some)
        .map_err(|error| ApiError::Validation(vec![error]))
}

/// Runs `create` once per `Idempotency-Key` of `user_id` on `route` (and `scope`): without a
/// key it simply runs; with a new key it runs and a success is stored; a retry with the same
/// body is answered with the stored answer; the core refuses another body or a retry while
/// the first request runs.
pub async fn idempotent<F, Fut>(
    core: &Arc<Core>,
    user_id: UserId,
    route: &'static str,
    scope: String,
    headers: &HeaderMap,
    body: &Option<Value>,
    create: F,
) -> ApiResult<Response>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ApiResult<Response>>,
{
    let Some(key) = idempotency_key(headers)? else {
        return create().await;
    };
    // serde_json's objects are sorted maps: this text is the body's canonical form.
    let canonical = serde_json::to_string(body).map_err(|e| ApiError::Internal(e.into()))?;
    let request = IdempotentRequest {
        scope: IdempotencyScope {
            user_id,
            route,
            scope,
            key,
        },
        fingerprint: fingerprint(&canonical),
    };
    let claim = match core.claim_idempotency_key(&request).await? {
        Claimed::Replay(answer) => return Ok(replay(answer)),
        // Dropped on any early return (or if this handler is dropped), it releases the key.
        Claimed::First(claim) => claim,
    };
    let response = match create().await {
        Ok(response) if response.status().is_success() => response,
        failed => {
            // Released before answering, so that the client's retry finds the key free.
            if let Err(err) = claim.release().await {
                tracing::warn!(error = %err, "could not release an idempotency key");
            }
            return failed;
        }
    };
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_STORED_ANSWER)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("reading the answer to store: {e}")))?;
    let answer = StoredAnswer {
        status: parts.status.as_u16(),
        location: parts
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    // The thing is created: a failure to store the answer must not turn the answer into an
    // error. The key stays in flight and is abandoned after a minute.
    if let Err(err) = claim.complete(&answer).await {
        tracing::warn!(error = %err, "could not store an idempotent answer");
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// The stored answer again, marked as a replay.
fn replay(answer: StoredAnswer) -> Response {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(location) = answer.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
