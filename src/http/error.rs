//! The one error type of the HTTP API. Every variant maps to the contract's JSON error
//! `{"error": {"code", "message", ...}}`; unexpected failures are logged and answered with a
//! generic 500 that never echoes internals.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::db::StoreError;
use crate::domain::{BlueprintStatus, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a path id is not a UUID.
    #[error("{0} is not a valid id; ids are UUIDs")]
    InvalidId(String),
    /// 400: the body is not valid JSON.
    #[error("The request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// 415: the body is not `application/json`.
    #[error("Send the request body as JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// 413: the body is over the limit.
    #[error("The request body is larger than the limit of 2 MiB")]
    PayloadTooLarge,
    /// 422: a well-formed request with bad values.
    #[error("The request has invalid values; see details")]
    Validation(Vec<FieldError>),
    /// 404: no such route.
    #[error("There is no such route; see /api/openapi.json for the API")]
    RouteNotFound,
    /// 405: the route exists but not with this method.
    #[error("This method is not allowed on this route")]
    MethodNotAllowed,
    /// 404
    #[error("Topic not found")]
    TopicNotFound,
    /// 404
    #[error("Blueprint not found")]
    BlueprintNotFound,
    /// 409: another generation of the topic is active.
    #[error("A generation is already in progress for this topic; follow it at the Location given")]
    GenerationInProgress { topic_id: Uuid, blueprint_id: Uuid },
    /// 409
    #[error("The generation has already ended ({}) and cannot be cancelled", .0.as_str())]
    NotCancellable(BlueprintStatus),
    /// 409
    #[error("The blueprint is not completed yet ({}); export it once its status is completed", .0.as_str())]
    NotCompleted(BlueprintStatus),
    /// 503: the database cannot be reached right now.
    #[error("The database is unavailable right now; retry shortly")]
    Unavailable,
    /// 500
    #[error("Internal server error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidId(_) | ApiError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RouteNotFound | ApiError::TopicNotFound | ApiError::BlueprintNotFound => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::GenerationInProgress { .. }
            | ApiError::NotCancellable(_)
            | ApiError::NotCompleted(_) => StatusCode::CONFLICT,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidId(_) => "invalid_id",
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::Validation(_) => "validation_failed",
            ApiError::RouteNotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::TopicNotFound => "topic_not_found",
            ApiError::BlueprintNotFound => "blueprint_not_found",
            ApiError::GenerationInProgress { .. } => "generation_in_progress",
            ApiError::NotCancellable(_) => "not_cancellable",
            ApiError::NotCompleted(_) => "not_completed",
            ApiError::Unavailable => "service_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
                ApiError::Unavailable
            }
            StoreError::Other(source) => ApiError::Internal(source),
        }
    }
}

/// The status URL of a blueprint: where a client follows its generation.
pub fn status_url(topic_id: Uuid, blueprint_id: Uuid) -> String {
    format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/status")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(source) = &self {
            tracing::error!(error = ?source, "request failed");
        }
        let mut body = Map::new();
        body.insert("code".into(), json!(self.code()));
        body.insert("message".into(), json!(self.to_string()));
        let mut location = None;
        match &self {
            ApiError::Validation(details) => {
                body.insert("details".into(), json!(details));
            }
            ApiError::GenerationInProgress {
                topic_id,
                blueprint_id,
            } => {
                body.insert("blueprint_id".into(), json!(blueprint_id));
                location = Some(status_url(*topic_id, *blueprint_id));
            }
            ApiError::NotCancellable(status) | ApiError::NotCompleted(status) => {
                body.insert("status".into(), json!(status));
            }
            _ => {}
        }
        let mut response = (
            self.status(),
            axum::Json(json!({ "error": Value::Object(body) })),
        )
            .into_response();
        let headers = response.headers_mut();
        if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, location);
        }
        if matches!(self, ApiError::Unavailable) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
