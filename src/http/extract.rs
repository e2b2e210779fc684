//! Extractors whose rejections are the API's own errors, so that every malformed request gets
//! the contract's JSON answer instead of axum's plain-text one.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use super::auth::CurrentUser;
use super::error::ApiError;
use super::ui::UiError;
use super::AppState;
use crate::domain::{BlueprintId, SessionId, TokenId, TopicId};

/// The body limit of the contract.
pub const BODY_LIMIT_BYTES: usize = 2 * 1024 * 1024;

/// A JSON body, parsed but not yet validated. `None` when the body is empty (for calls whose
/// body is optional); a non-empty body must be `application/json`.
pub struct JsonBody(pub Option<Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::InvalidJson(rejection.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(None));
        }
        if is_json != Some(true) {
            return Err(ApiError::UnsupportedMediaType);
        }
        serde_json::from_slice(&bytes)
            .map(|value| JsonBody(Some(value)))
            .map_err(|err| ApiError::InvalidJson(err.to_string()))
    }
}

impl JsonBody {
    /// The body, which this call requires.
    pub fn required(self) -> Result<Value, ApiError> {
        self.0
            .ok_or_else(|| ApiError::InvalidJson("the request body is empty".into()))
    }
}

/// Query parameters as strings; validation happens in the handler.
pub struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|err| {
            ApiError::validation("query", format!("malformed query string: {err}"))
        })?;
        Ok(QueryParams(pairs.into_iter().collect()))
    }
}

impl QueryParams {
    /// An integer parameter within bounds, or its default.
    pub fn int(&self, name: &str, min: i64, max: i64, default: i64) -> Result<i64, ApiError> {
        match self.0.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::validation(
                        name,
                        format!("{name} must be an integer from {min} to {max}"),
                    )
                }),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// The ids of a route's path, typed: `Ids<TopicId>` for `/topics/{topic_id}`,
/// `Ids<(TopicId, BlueprintId)>` for `.../{topic_id}/blueprints/{blueprint_id}`. A segment
/// that is not a UUID is rejected with the contract's `400 invalid_id`.
///
/// Ownership is part of the extraction: ids under a topic are only handed to a handler once
/// the core has checked that the caller owns that topic (someone else's topic is
/// `404 topic_not_found`, like a missing one). The ids are taken by position, not by the
/// route parameter's name, so renaming a parameter cannot skip the check; and a handler
/// cannot get a `TopicId` from its path without it.
pub struct Ids<T>(pub T);

/// What [`Ids`] can extract: the path's parameters, in order.
pub trait PathIds: Sized {
    /// Whether the first id is the topic everything else sits under, which only its owner
    /// may reach.
    const UNDER_TOPIC: bool;

    fn from_segments(segments: &[String]) -> Result<Self, ApiError>;
}

macro_rules! one_path_id {
    ($($id:ty => $under_topic:expr),*) => {$(
        impl PathIds for $id {
            const UNDER_TOPIC: bool = $under_topic;

            fn from_segments(segments: &[String]) -> Result<Self, ApiError> {
                match segments {
                    [id] => Ok(parse_id(id)?.into()),
                    _ => Err(ApiError::Internal(anyhow::anyhow!("the route has {} ids, not 1", segments.len()))),
                }
            }
        }
    )*};
}

// Tokens and sessions are checked against their owner by the core's operations on them.
one_path_id!(TopicId => true, TokenId => false, SessionId => false);

impl PathIds for (TopicId, BlueprintId) {
    const UNDER_TOPIC: bool = true;

    fn from_segments(segments: &[String]) -> Result<Self, ApiError> {
        match segments {
            [topic_id, blueprint_id] => {
                Ok((parse_id(topic_id)?.into(), parse_id(blueprint_id)?.into()))
            }
            _ => Err(ApiError::Internal(anyhow::anyhow!(
                "the route has {} ids, not 2",
                segments.len()
            ))),
        }
    }
}

impl<S, T> FromRequestParts<S> for Ids<T>
where
    S: Send + Sync,
    T: PathIds,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Segments are taken as text first, so that a malformed one gets the API's own error.
        let Path(segments) = Path::<Vec<String>>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::InvalidId(format!("{:?}", rejection.body_text())))?;
        if T::UNDER_TOPIC {
            // The topic first (as the access layers always did): someone else's topic is
            // "not found" whatever the ids after it look like.
            let topic_id = TopicId(parse_id(segments.first().map_or("", String::as_str))?);
            // The access layers put the caller there; a route outside them fails closed.
            let caller = parts.extensions.get::<CurrentUser>().ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!(
                    "a route under a topic is outside the access layer"
                ))
            })?;
            AppState::from_ref(state)
                .core
                .check_topic_owner(topic_id, caller.user_id())
                .await?;
        }
        T::from_segments(&segments).map(Ids)
    }
}

/// [`Ids`] for the HTML pages: the same typed ids and the same ownership check, but a
/// malformed id, a missing topic and someone else's topic are the pages' "Page not found"
/// (404, HTML), never the API's JSON.
pub struct PageIds<T>(pub T);

impl<S, T> FromRequestParts<S> for PageIds<T>
where
    S: Send + Sync,
    T: PathIds,
    AppState: FromRef<S>,
{
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ids::<T>::from_request_parts(parts, state)
            .await
            .map(|Ids(ids)| PageIds(ids))
            .map_err(UiError::from)
    }
}

/// Parses a path segment as a UUID.
pub fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::InvalidId(format!("{raw:?}")))
}
