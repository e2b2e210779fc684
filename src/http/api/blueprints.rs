//! `/api/topics/{topic_id}/blueprints...`: start a generation, follow it (status, long poll,
//! SSE), cancel it, and read, list, delete and export blueprints.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use futures::stream;
use serde_json::Value;

use super::idempotency::idempotent;
use super::topics::{page_of, page_params, Page};
use crate::core::hub::Subscription;
use crate::db::Cursor;
use crate::domain::blueprint::{Blueprint, BlueprintDocument};
use crate::domain::export::{self, ExportFormat};
use crate::domain::requests::{GenerateRequest, RequestBody};
use crate::domain::time::now_ms;
use crate::domain::{BlueprintId, BlueprintStatus, StatusView, TopicId};
use crate::http::auth::CurrentUser;
use crate::http::client::Client;
use crate::http::error::{status_url, ApiError, ApiResult};
use crate::http::extract::{Ids, JsonBody, QueryParams};
use crate::http::streams::StreamSlot;
use crate::http::AppState;
use crate::telemetry::{GaugeGuard, LONG_POLLS_OPEN, SSE_STREAMS_OPEN, STATUS_POLLS};

const LONG_POLL_MAX_SECS: i64 = 30;

/// A status view with the headers a follower relies on.
fn status_response(blueprint: &Blueprint, status: StatusCode) -> Response {
    let mut response = (status, Json(blueprint.status_view())).into_response();
    set_follow_headers(response.headers_mut(), blueprint);
    response
}

fn set_follow_headers(headers: &mut HeaderMap, blueprint: &Blueprint) {
    if let Ok(etag) = HeaderValue::from_str(&blueprint.etag()) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(secs) = blueprint.retry_after_secs(now_ms()) {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
}

fn not_modified(blueprint: &Blueprint) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    set_follow_headers(response.headers_mut(), blueprint);
    response
}

/// Whether `If-None-Match` names the blueprint's current ETag (weak comparison, lists, `*`).
fn matches_if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

async fn find(state: &AppState, topic_id: TopicId, id: BlueprintId) -> ApiResult<Blueprint> {
    Ok(state.core.blueprint(topic_id, id).await?)
}

/// The blueprint's current state for a status poll: from the hub's view cache when it has it
/// (no query; see `StatusHub::with_view_cache` and, for PostgreSQL, `with_fed_view_cache`),
/// otherwise from the database, and then cached. A cached blueprint of another topic is looked
/// up in the database, which tells `topic_not_found` from `blueprint_not_found`.
async fn current(
    state: &AppState,
    topic_id: TopicId,
    id: BlueprintId,
) -> ApiResult<Arc<Blueprint>> {
    if let Some(cached) = state.hub.cached_view(id.0) {
        if cached.topic_id == topic_id.0 {
            metrics::counter!(STATUS_POLLS, "source" => "cache").increment(1);
            return Ok(cached);
        }
    }
    metrics::counter!(STATUS_POLLS, "source" => "database").increment(1);
    let epoch = state.hub.view_epoch();
    let blueprint = find(state, topic_id, id).await?;
    state.hub.remember(&blueprint, epoch);
    Ok(Arc::new(blueprint))
}

/// The target of a generation: an absent body asks for the default.
fn parse_target(body: Option<&Value>) -> ApiResult<i64> {
    let request = match body {
        Some(body) => GenerateRequest::from_json(body).map_err(ApiError::Validation)?,
        None => GenerateRequest::default(),
    };
    request.into_domain().map_err(ApiError::Validation)
}

#[utoipa::path(post, path = "/api/topics/{topic_id}/blueprints/generate", tag = "blueprints",
    operation_id = "generate_blueprint", summary = "Start generating a blueprint of a topic", description = "Stores the blueprint and its job in one transaction and answers 202 at once; a worker picks the job up. Follow it at the Location.",
    params(("topic_id" = String, Path, description = "A UUID"),
           ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters. The same key (yours, per topic, 24 h) with the same body replays the first 202; with another body 422 idempotency_key_reused; while the first is still processed 409 idempotency_key_in_flight")),
    request_body(content = Option<GenerateRequest>, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted: follow it at Location", body = StatusView,
         headers(("Location" = String, description = "The status URL"), ("Retry-After" = i64, description = "Seconds until the next look"))),
        (status = 400, description = "Not a UUID, or malformed JSON", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "topic_not_found", body = crate::http::openapi::ErrorBody),
        (status = 409, description = "generation_in_progress: blueprint_id and Location name the active one; or idempotency_key_in_flight, with Retry-After", body = crate::http::openapi::ErrorBody),
        (status = 429, description = "rate_limited (QUIZMASTER_GENERATE_PER_MINUTE) or too_many_active_generations, with Retry-After", body = crate::http::openapi::ErrorBody,
         headers(("Retry-After" = i64, description = "Seconds until a generation may start"))),
        (status = 413, description = "Body over 2 MiB", body = crate::http::openapi::ErrorBody),
        (status = 415, description = "Not application/json", body = crate::http::openapi::ErrorBody),
        (status = 422, description = "Invalid values, or idempotency_key_reused", body = crate::http::openapi::ErrorBody),
    ))]
/// `POST /api/topics/{topic_id}/blueprints/generate`: stores the blueprint and its job in one
/// transaction and answers at once; a worker picks the job up.
pub async fn generate(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    Ids(topic_id): Ids<TopicId>,
    headers: HeaderMap,
    body: JsonBody,
) -> ApiResult<Response> {
    let target = parse_target(body.0.as_ref())?;
    let start = || async {
        let blueprint = state
            .core
            .start_generation(caller.user_id(), topic_id, target)
            .await?;
        let mut response = status_response(&blueprint, StatusCode::ACCEPTED);
        if let Ok(location) = HeaderValue::from_str(&status_url(topic_id.0, blueprint.id)) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        Ok(response)
    };
    let scope = topic_id.to_string();
    let mut response = idempotent(
        &state.core,
        caller.user_id(),
        "generate_blueprint",
        scope,
        &headers,
        &body.0,
        start,
    )
    .await?;
    // Even a replay of a finished generation says when to look: now.
    response
        .headers_mut()
        .entry(header::RETRY_AFTER)
        .or_insert(HeaderValue::from_static("1"));
    Ok(response)
}

#[utoipa::path(get, path = "/api/topics/{topic_id}/blueprints/{blueprint_id}/status", tag = "blueprints",
    operation_id = "get_generation_status", summary = "Get the status of a generation, or long-poll it", description = "The status view; with `wait`, a long poll that answers as soon as the state differs from `If-None-Match`, or after `wait` seconds.",
    params(("topic_id" = String, Path, description = "A UUID"), ("blueprint_id" = String, Path, description = "A UUID"),
           ("wait" = Option<i64>, Query, description = "Long poll: up to this many seconds (≤ 30) for a change from If-None-Match", minimum = 0, maximum = 30),
           ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer")),
    responses(
        (status = 200, description = "The status view", body = StatusView,
         headers(("ETag" = String), ("Cache-Control" = String), ("Retry-After" = i64, description = "While not terminal"))),
        (status = 304, description = "Unchanged since If-None-Match"),
        (status = 400, description = "Not a UUID", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "topic_not_found or blueprint_not_found", body = crate::http::openapi::ErrorBody),
        (status = 422, description = "Invalid wait", body = crate::http::openapi::ErrorBody),
        (status = 429, description = "too_many_streams: a long poll past the caller's or the address's cap (QUIZMASTER_MAX_STREAMS_PER_USER), with Retry-After", body = crate::http::openapi::ErrorBody,
         headers(("Retry-After" = i64, description = "Seconds until a stream may have ended"))),
    ))]
/// `GET .../status[?wait=S]`: the status view; with `wait`, a long poll that answers as soon
/// as the state differs from `If-None-Match`, or after S seconds.
pub async fn status(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    Client(client): Client,
    Ids((topic_id, id)): Ids<(TopicId, BlueprintId)>,
    query: QueryParams,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let wait = query.int("wait", 0, LONG_POLL_MAX_SECS, 0)?;
    // Subscribe before reading, so that a change in between is not missed.
    let subscription = (wait > 0).then(|| state.hub.subscribe(id.0));
    let blueprint = current(&state, topic_id, id).await?;
    if !matches_if_none_match(&headers, &blueprint.etag()) {
        return Ok(status_response(&blueprint, StatusCode::OK));
    }
    let Some(mut subscription) = subscription.filter(|_| !blueprint.status.is_terminal()) else {
        return Ok(not_modified(&blueprint));
    };
    let _place = state
        .auth
        .streams
        .open(caller.id(), client)
        .map_err(ApiError::TooManyStreams)?;
    let _waiting = GaugeGuard::new(LONG_POLLS_OPEN);
    tokio::select! {
        newer = subscription.newer_than(blueprint.version) => match newer {
            Some(newer) => Ok(status_response(&newer, StatusCode::OK)),
            None => Ok(not_modified(&blueprint)),
        },
        _ = tokio::time::sleep(Duration::from_secs(wait as u64)) => Ok(not_modified(&blueprint)),
        _ = state.shutdown.cancelled() => Ok(not_modified(&blueprint)),
    }
}

fn status_event(blueprint: &Blueprint) -> Event {
    Event::default()
        .event("status")
        .id(blueprint.version.to_string())
        .json_data(blueprint.status_view())
        .unwrap_or_else(|_| Event::default().event("status"))
}

struct EventStream {
    _open: GaugeGuard,
    _place: StreamSlot,
    subscription: Subscription,
    last: Option<Arc<Blueprint>>,
    first: Option<Blueprint>,
    shutdown: tokio_util::sync::CancellationToken,
}

#[utoipa::path(get, path = "/api/topics/{topic_id}/blueprints/{blueprint_id}/events", tag = "blueprints",
    operation_id = "stream_generation_events", summary = "Follow a generation as a stream of server-sent events", description = "An SSE stream of `status` events, the current state first and then every change; it ends after a terminal one. A reconnect (with or without `Last-Event-ID`) starts again from the current state, so a client never misses where the job is.",
    params(("topic_id" = String, Path, description = "A UUID"), ("blueprint_id" = String, Path, description = "A UUID"), ("Last-Event-ID" = Option<String>, Header, description = "Resume: the current state is sent at once")),
    responses(
        (status = 200, description = "text/event-stream of `status` events (data = status view, id = version); ends after a terminal one",
         content_type = "text/event-stream", body = String),
        (status = 400, description = "Not a UUID", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "topic_not_found or blueprint_not_found", body = crate::http::openapi::ErrorBody),
        (status = 429, description = "too_many_streams: past the caller's or the address's cap of streams and long polls (QUIZMASTER_MAX_STREAMS_PER_USER), with Retry-After", body = crate::http::openapi::ErrorBody,
         headers(("Retry-After" = i64, description = "Seconds until a stream may have ended"))),
    ))]
/// `GET .../events`: an SSE stream of `status` events, the current state first and then every
/// change; it ends after a terminal one. A reconnect (with or without `Last-Event-ID`) starts
/// again from the current state, so a client never misses where the job is.
pub async fn events(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    Client(client): Client,
    Ids((topic_id, id)): Ids<(TopicId, BlueprintId)>,
) -> ApiResult<impl IntoResponse> {
    let place = state
        .auth
        .streams
        .open(caller.id(), client)
        .map_err(ApiError::TooManyStreams)?;
    let subscription = state.hub.subscribe(id.0);
    let blueprint = find(&state, topic_id, id).await?;
    let start = EventStream {
        _open: GaugeGuard::new(SSE_STREAMS_OPEN),
        _place: place,
        subscription,
        last: None,
        first: Some(blueprint),
        shutdown: state.shutdown.clone(),
    };
    let stream = stream::unfold(start, next_event);
    Ok((
        [
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    ))
}

async fn next_event(mut s: EventStream) -> Option<(Result<Event, Infallible>, EventStream)> {
    if let Some(first) = s.first.take() {
        let event = status_event(&first);
        s.last = Some(Arc::new(first));
        return Some((Ok(event), s));
    }
    let last = s.last.clone()?;
    if last.status.is_terminal() {
        return None;
    }
    let newer = tokio::select! {
        newer = s.subscription.newer_than(last.version) => newer?,
        _ = s.shutdown.cancelled() => return None,
    };
    let event = status_event(&newer);
    s.last = Some(newer);
    Some((Ok(event), s))
}

#[utoipa::path(post, path = "/api/topics/{topic_id}/blueprints/{blueprint_id}/cancel", tag = "blueprints",
    operation_id = "cancel_generation", summary = "Cancel a queued or running generation", description = "Ends a queued or running generation in `cancelled`; the worker running it stops.",
    params(("topic_id" = String, Path, description = "A UUID"), ("blueprint_id" = String, Path, description = "A UUID")),
    responses(
        (status = 200, description = "Cancelled; the running work stops within 2 s", body = StatusView),
        (status = 400, description = "Not a UUID", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "topic_not_found or blueprint_not_found", body = crate::http::openapi::ErrorBody),
        (status = 409, description = "not_cancellable: already ended", body = crate::http::openapi::ErrorBody),
    ))]
/// `POST .../cancel`: ends a queued or running generation in `cancelled`; the worker running it
/// hears of it through the hub and stops.
pub async fn cancel(
    State(state): State<AppState>,
    Ids((topic_id, id)): Ids<(TopicId, BlueprintId)>,
) -> ApiResult<Response> {
    let blueprint = state.core.cancel_generation(topic_id, id).await?;
    Ok(status_response(&blueprint, StatusCode::OK))
}

async fn document(state: &AppState, blueprint: &Blueprint) -> ApiResult<BlueprintDocument> {
    Ok(BlueprintDocument {
        status: blueprint.status_view(),
        terminal_objectives: state
            .store
            .get_objectives(BlueprintId(blueprint.id))
            .await?,
        quality: blueprint.quality.as_deref().cloned(),
    })
}

#[utoipa::path(get, path = "/api/topics/{topic_id}/blueprints/{blueprint_id}", tag = "blueprints",
    operation_id = "get_blueprint", summary = "Get a whole blueprint with its objectives",
    params(("topic_id" = String, Path, description = "A UUID"), ("blueprint_id" = String, Path, description = "A UUID")),
    responses(
        (status = 200, description = "The whole blueprint", body = BlueprintDocument),
        (status = 400, description = "Not a UUID", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "topic_not_found or blueprint_not_found", body = crate::http::openapi::ErrorBody),
    ))]
/// `GET .../{blueprint_id}`: the whole blueprint.
pub async fn get(
    State(state): State<AppState>,
    Ids((topic_id, id)): Ids<(TopicId, BlueprintId)>,
) -> ApiResult<Json<BlueprintDocument>> {
    let blueprint = find(&state, topic_id, id).await?;
    Ok(Json(document(&state, &blueprint).await?))
}

#[utoipa::path(get, path = "/api/topics/{topic_id}/blueprints", tag = "blueprints",
    operation_id = "list_blueprints", summary = "List a topic's blueprints, newest first",
    params(("topic_id" = String, Path, description = "A UUID"),
           ("status" = Option<BlueprintStatus>, Query, description = "Only this status"),
           ("limit" = Option<i64>, Query, description = "1–100, default 20", minimum = 1, maximum = 100),
           ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses(
        (status = 200, description = "Status views, newest first", body = Page<StatusView>),
        (status = 400, description = "Not a UUID", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "topic_not_found", body = crate::http::openapi::ErrorBody),
        (status = 422, description = "Invalid status, limit or cursor", body = crate::http::openapi::ErrorBody),
    ))]
/// `GET /api/topics/{topic_id}/blueprints?status=&limit=&cursor=`
pub async fn list(
    State(state): State<AppState>,
    Ids(topic_id): Ids<TopicId>,
    query: QueryParams,
) -> ApiResult<Json<Page<StatusView>>> {
    let (limit, cursor) = page_params(&query)?;
    let status = match query.get("status") {
        None | Some("") => None,
        Some(raw) => Some(BlueprintStatus::parse(raw).ok_or_else(|| {
            ApiError::validation(
                "status",
                "status must be one of queued, generating, completed, error, cancelled",
            )
        })?),
    };
    let rows = state
        .store
        .list_blueprints(topic_id, status, limit + 1, cursor)
        .await?
        .ok_or(ApiError::TopicNotFound)?;
    Ok(Json(page_of(
        rows,
        limit,
        |b| Cursor {
            created_at: b.created_at,
            id: b.id,
        },
        Blueprint::status_view,
    )))
}

#[utoipa::path(delete, path = "/api/topics/{topic_id}/blueprints/{blueprint_id}", tag = "blueprints",
    operation_id = "delete_blueprint", summary = "Delete a blueprint whose generation has ended",
    params(("topic_id" = String, Path, description = "A UUID"), ("blueprint_id" = String, Path, description = "A UUID")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not a UUID", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "topic_not_found or blueprint_not_found", body = crate::http::openapi::ErrorBody),
        (status = 409, description = "generation_in_progress: cancel it first", body = crate::http::openapi::ErrorBody),
    ))]
/// `DELETE .../{blueprint_id}`: only once its generation has ended.
pub async fn delete(
    State(state): State<AppState>,
    Ids((topic_id, id)): Ids<(TopicId, BlueprintId)>,
) -> ApiResult<StatusCode> {
    state.core.delete_blueprint(topic_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/topics/{topic_id}/blueprints/{blueprint_id}/export", tag = "blueprints",
    operation_id = "export_blueprint", summary = "Download a completed blueprint as Markdown, CSV or JSON",
    params(("topic_id" = String, Path, description = "A UUID"), ("blueprint_id" = String, Path, description = "A UUID"), ("format" = Option<String>, Query, description = "markdown (default), csv or json")),
    responses(
        (status = 200, description = "A download (Content-Disposition: attachment)",
         content((String = "text/markdown"), (String = "text/csv"), (BlueprintDocument = "application/json"))),
        (status = 400, description = "Not a UUID", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "topic_not_found or blueprint_not_found", body = crate::http::openapi::ErrorBody),
        (status = 409, description = "not_completed", body = crate::http::openapi::ErrorBody),
        (status = 422, description = "Unknown format", body = crate::http::openapi::ErrorBody),
    ))]
/// `GET .../{blueprint_id}/export?format=markdown|csv|json`: a download of a completed blueprint.
pub async fn export(
    State(state): State<AppState>,
    Ids((topic_id, id)): Ids<(TopicId, BlueprintId)>,
    query: QueryParams,
) -> ApiResult<Response> {
    let format = match query.get("format") {
        None | Some("") => ExportFormat::Markdown,
        Some(raw) => ExportFormat::parse(raw).ok_or_else(|| {
            ApiError::validation("format", "format must be one of markdown, csv, json")
        })?,
    };
    let blueprint = state.core.exportable_blueprint(topic_id, id).await?;
    let body = export::render(&document(&state, &blueprint).await?, format);
    let disposition = format!(
        "attachment; filename=\"blueprint-{id}.{}\"",
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
