//! `/api/topics`: create, list, read, update and delete topics.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;

use super::idempotency::idempotent;
use crate::db::Cursor;
use crate::domain::requests::{CreateTopicRequest, RequestBody, UpdateTopicRequest};
use crate::domain::Topic;
use crate::domain::TopicId;
use crate::http::auth::CurrentUser;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Ids, JsonBody, QueryParams};
use crate::http::AppState;

/// A page of a newest-first listing.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Reads `limit` and `cursor` from the query.
pub fn page_params(query: &QueryParams) -> ApiResult<(i64, Option<Cursor>)> {
    let limit = query.int("limit", 1, 100, 20)?;
    let cursor = match query.get("cursor") {
        None | Some("") => None,
        Some(raw) => Some(Cursor::decode(raw).ok_or_else(|| {
            ApiError::validation(
                "cursor",
                "cursor is not one this server gave out; start again without it",
            )
        })?),
    };
    Ok((limit, cursor))
}

/// Builds a page from `limit + 1` rows: the extra row only says that there is a next page.
pub fn page_of<T, V>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> Cursor,
    view: impl Fn(&T) -> V,
) -> Page<V> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| key(r).encode())
    } else {
        None
    };
    Page {
        items: rows.iter().map(view).collect(),
        next_cursor,
    }
}

#[utoipa::path(post, path = "/api/topics", tag = "topics",
    operation_id = "create_topic", summary = "Create a topic",
    params(("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters. The same key (yours, 24 h) with the same body replays the first 201; with another body 422 idempotency_key_reused; while the first is still processed 409 idempotency_key_in_flight")),
    request_body(content = CreateTopicRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The topic", body = Topic, headers(("Location" = String, description = "The topic's URL"))),
        (status = 400, description = "Malformed JSON", body = crate::http::openapi::ErrorBody),
        (status = 413, description = "Body over 2 MiB", body = crate::http::openapi::ErrorBody),
        (status = 415, description = "Not application/json", body = crate::http::openapi::ErrorBody),
        (status = 409, description = "idempotency_key_in_flight, with Retry-After", body = crate::http::openapi::ErrorBody),
        (status = 422, description = "Invalid values, or idempotency_key_reused", body = crate::http::openapi::ErrorBody),
    ))]
/// `POST /api/topics`
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    headers: HeaderMap,
    body: JsonBody,
) -> ApiResult<Response> {
    let value = body.required()?;
    let input = CreateTopicRequest::validate_json(&value).map_err(ApiError::Validation)?;
    let body = Some(value);
    let create = || async {
        let topic = state.core.create_topic(caller.user_id(), &input).await?;
        let location = format!("/api/topics/{}", topic.id);
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(topic),
        )
            .into_response())
    };
    idempotent(
        &state.core,
        caller.user_id(),
        "create_topic",
        String::new(),
        &headers,
        &body,
        create,
    )
    .await
}

#[utoipa::path(get, path = "/api/topics", tag = "topics",
    operation_id = "list_topics", summary = "List your topics, newest first",
    params(
        ("limit" = Option<i64>, Query, description = "1–100, default 20", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses(
        (status = 200, description = "Newest first", body = Page<Topic>),
        (status = 422, description = "Invalid limit or cursor", body = crate::http::openapi::ErrorBody),
    ))]
/// `GET /api/topics?limit=&cursor=`
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    query: QueryParams,
) -> ApiResult<Json<Page<Topic>>> {
    let (limit, cursor) = page_params(&query)?;
    let rows = state
        .store
        .list_topics(caller.user_id(), limit + 1, cursor)
        .await?;
    Ok(Json(page_of(
        rows,
        limit,
        |t| Cursor {
            created_at: t.created_at,
            id: t.id,
        },
        Topic::clone,
    )))
}

#[utoipa::path(get, path = "/api/topics/{topic_id}", tag = "topics",
    operation_id = "get_topic", summary = "Get a topic",
    params(("topic_id" = String, Path, description = "A UUID")),
    responses(
        (status = 200, description = "The topic", body = Topic),
        (status = 400, description = "Not a UUID", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "topic_not_found", body = crate::http::openapi::ErrorBody),
    ))]
/// `GET /api/topics/{topic_id}`
pub async fn get(State(state): State<AppState>, Ids(id): Ids<TopicId>) -> ApiResult<Json<Topic>> {
    let topic = state
        .store
        .get_topic(id)
        .await?
        .ok_or(ApiError::TopicNotFound)?;
    Ok(Json(topic))
}

#[utoipa::path(patch, path = "/api/topics/{topic_id}", tag = "topics",
    operation_id = "update_topic", summary = "Change a topic's title, description or source text",
    params(("topic_id" = String, Path, description = "A UUID")),
    request_body(content = UpdateTopicRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The topic", body = Topic),
        (status = 400, description = "Not a UUID, or malformed JSON", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "topic_not_found", body = crate::http::openapi::ErrorBody),
        (status = 413, description = "Body over 2 MiB", body = crate::http::openapi::ErrorBody),
        (status = 415, description = "Not application/json", body = crate::http::openapi::ErrorBody),
        (status = 422, description = "Invalid values", body = crate::http::openapi::ErrorBody),
    ))]
/// `PATCH /api/topics/{topic_id}`
pub async fn update(
    State(state): State<AppState>,
    Ids(id): Ids<TopicId>,
    body: JsonBody,
) -> ApiResult<Json<Topic>> {
    let patch =
        UpdateTopicRequest::validate_json(&body.required()?).map_err(ApiError::Validation)?;
    let topic = state.core.update_topic(id, &patch).await?;
    Ok(Json(topic))
}

#[utoipa::path(delete, path = "/api/topics/{topic_id}", tag = "topics",
    operation_id = "delete_topic", summary = "Delete a topic and its blueprints", description = "Cancels its active generation, then deletes the topic and its blueprints.",
    params(("topic_id" = String, Path, description = "A UUID")),
    responses(
        (status = 204, description = "Deleted, with its blueprints; its active generation cancelled"),
        (status = 400, description = "Not a UUID", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "topic_not_found", body = crate::http::openapi::ErrorBody),
    ))]
/// `DELETE /api/topics/{topic_id}`: cancels its active generation, deletes its blueprints.
pub async fn delete(State(state): State<AppState>, Ids(id): Ids<TopicId>) -> ApiResult<StatusCode> {
    state.core.delete_topic(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
