//! The one error type of the HTTP API. Every variant maps to the contract's JSON error
//! `{"error": {"code", "message", ...}}`; unexpected failures are logged and answered with a
//! generic 500 that never echoes internals.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::core::CoreError;
use crate::db::StoreError;
use crate::domain::{BlueprintStatus, FieldError};
use crate::http::streams::{StreamRefusal, STREAM_RETRY_AFTER_SECS};

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
    /// 401: no session cookie and no bearer token (or an expired session).
    #[error("Log in first: send the session cookie or Authorization: Bearer <API token>")]
    Unauthenticated,
    /// 401: the bearer token is not one this server knows (mistyped or revoked).
    #[error(
        "The API token is not valid (mistyped or revoked); create a new one at /account/tokens"
    )]
    InvalidToken,
    /// 401: the same answer for an unknown email and a wrong password.
    #[error("The email or password is not right")]
    InvalidCredentials,
    /// 429: too many failed log-ins for this account or from this address.
    #[error("Too many failed log-in attempts; wait {0} seconds before trying again")]
    TooManyAttempts(u64),
    /// 429: too many sign-ups from this address.
    #[error("Too many accounts were created from this address; wait {0} seconds")]
    TooManySignups(u64),
    /// 409
    #[error("An account with this email already exists; log in instead")]
    EmailTaken,
    /// 403: `QUIZMASTER_SIGNUP=closed`.
    #[error("Sign-up is closed on this server; ask its administrator for an account")]
    SignupClosed,
    /// 409: account calls while `QUIZMASTER_AUTH=off`.
    #[error("Accounts are off on this server (QUIZMASTER_AUTH=off): everything belongs to the local user and no log-in is needed")]
    AuthDisabled,
    /// 404
    #[error("API token not found")]
    TokenNotFound,
    /// 403: a state-changing request a browser sent from another site.
    #[error("This request came from another site and was refused; send it from this site's pages or with an API token")]
    CrossSiteRequest,
    /// 429: the per-user limit on starting generations.
    #[error("You started too many generations in the last minute; wait {0} seconds")]
    RateLimited(u64),
    /// 429: the per-user limit on generations running at once.
    #[error(
        "You already have {0} generations queued or running; wait for one to end or cancel one"
    )]
    ActiveLimitReached(u32),
    /// 429: the caller (or their address) holds its cap of SSE streams and long polls.
    #[error("{}", too_many_streams_message(.0))]
    TooManyStreams(StreamRefusal),
    /// 403: creating API tokens needs a log-in session, not a token.
    #[error("API tokens can only be created from a log-in session, not with another API token")]
    SessionRequired,
    /// 404
    #[error("Session not found")]
    SessionNotFound,
    /// 422: the Idempotency-Key was used before with another body.
    #[error("This Idempotency-Key was already used with a different request body; use a new key for a new request")]
    IdempotencyKeyReused,
    /// 409: the first request with this Idempotency-Key is still being processed.
    #[error("The first request with this Idempotency-Key is still being processed; retry shortly")]
    IdempotencyKeyInFlight,
    /// 503: the database cannot be reached right now.
    #[error("The database is unavailable right now; retry shortly")]
    Unavailable,
    /// 500
    #[error("Internal server error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated | ApiError::InvalidToken | ApiError::InvalidCredentials => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::TooManyAttempts(_)
            | ApiError::TooManySignups(_)
            | ApiError::RateLimited(_)
            | ApiError::TooManyStreams(_)
            | ApiError::ActiveLimitReached(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::EmailTaken | ApiError::AuthDisabled => StatusCode::CONFLICT,
            ApiError::SignupClosed | ApiError::CrossSiteRequest | ApiError::SessionRequired => {
                StatusCode::FORBIDDEN
            }
            ApiError::TokenNotFound | ApiError::SessionNotFound => StatusCode::NOT_FOUND,
            ApiError::InvalidId(_) | ApiError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) | ApiError::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::IdempotencyKeyInFlight => StatusCode::CONFLICT,
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
            ApiError::Unauthenticated | ApiError::InvalidToken => "unauthenticated",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::TooManyAttempts(_) => "too_many_attempts",
            ApiError::TooManySignups(_) => "too_many_signups",
            ApiError::EmailTaken => "email_taken",
            ApiError::SignupClosed => "signup_closed",
            ApiError::AuthDisabled => "auth_disabled",
            ApiError::TokenNotFound => "token_not_found",
            ApiError::SessionRequired => "session_required",
            ApiError::SessionNotFound => "session_not_found",
            ApiError::CrossSiteRequest => "cross_site_request",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::ActiveLimitReached(_) => "too_many_active_generations",
            ApiError::TooManyStreams(_) => "too_many_streams",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::IdempotencyKeyInFlight => "idempotency_key_in_flight",
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
            StoreError::InvalidText(source) => {
                tracing::warn!(error = %source, "the database refused a text");
                ApiError::validation(
                    "body",
                    "a text field holds a character that cannot be stored (such as NUL)",
                )
            }
            StoreError::Other(source) => ApiError::Internal(source),
        }
    }
}

/// The core's refusals as the contract words them.
impl From<CoreError> for ApiError {
    fn from(err: CoreError) -> Self {
        match err {
            CoreError::TopicNotFound => ApiError::TopicNotFound,
            CoreError::BlueprintNotFound => ApiError::BlueprintNotFound,
            CoreError::GenerationInProgress {
                topic_id,
                blueprint_id,
            } => ApiError::GenerationInProgress {
                topic_id,
                blueprint_id,
            },
            CoreError::NotCancellable(status) => ApiError::NotCancellable(status),
            CoreError::NotCompleted(status) => ApiError::NotCompleted(status),
            CoreError::RateLimited { retry_after_ms } => {
                ApiError::RateLimited(retry_after_secs(retry_after_ms))
            }
            CoreError::ActiveLimitReached { limit } => ApiError::ActiveLimitReached(limit),
            CoreError::IdempotencyKeyReused => ApiError::IdempotencyKeyReused,
            CoreError::IdempotencyKeyInFlight => ApiError::IdempotencyKeyInFlight,
            CoreError::AuthDisabled => ApiError::AuthDisabled,
            CoreError::SignupClosed => ApiError::SignupClosed,
            CoreError::TooManySignups { wait_secs } => ApiError::TooManySignups(wait_secs),
            CoreError::EmailTaken => ApiError::EmailTaken,
            CoreError::TooManyAttempts { wait_secs } => ApiError::TooManyAttempts(wait_secs),
            CoreError::InvalidCredentials => ApiError::InvalidCredentials,
            CoreError::SessionRequired => ApiError::SessionRequired,
            CoreError::TokenNotFound => ApiError::TokenNotFound,
            CoreError::SessionNotFound => ApiError::SessionNotFound,
            CoreError::Store(err) => err.into(),
            CoreError::Internal(err) => ApiError::Internal(err),
        }
    }
}

/// Whole seconds to wait, at least one, for a wait in milliseconds.
pub fn retry_after_secs(wait_ms: i64) -> u64 {
    (wait_ms.max(1) as u64).div_ceil(1000)
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
            self.status_code(),
            axum::Json(json!({ "error": Value::Object(body) })),
        )
            .into_response();
        let headers = response.headers_mut();
        if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, location);
        }
        match &self {
            ApiError::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            // The first request answers within a second or two.
            ApiError::IdempotencyKeyInFlight => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::TooManyAttempts(secs)
            | ApiError::TooManySignups(secs)
            | ApiError::RateLimited(secs) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*secs));
            }
            ApiError::TooManyStreams(_) => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(STREAM_RETRY_AFTER_SECS),
                );
            }
            // A slot frees when one of the running generations ends: look again soon.
            ApiError::ActiveLimitReached(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
            }
            ApiError::Unauthenticated | ApiError::InvalidToken => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn too_many_streams_message(refusal: &StreamRefusal) -> String {
    match refusal {
        StreamRefusal::PerUser(cap) => format!(
            "You already have {cap} live event streams or long polls open; close one, or poll the status URL without wait, and retry"
        ),
        StreamRefusal::PerClient(cap) => format!(
            "Your address already has {cap} live event streams or long polls open; close one, or poll the status URL without wait, and retry"
        ),
    }
}
