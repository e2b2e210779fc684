//! Extractors whose rejections are the API's own errors, so that every malformed request gets
//! the contract's JSON answer instead of axum's plain-text one.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use super::error::ApiError;

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

/// Parses a path segment as a UUID.
pub fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::InvalidId(format!("{raw:?}")))
}
