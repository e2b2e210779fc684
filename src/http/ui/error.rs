//! Errors of the HTML pages: a friendly page with the right status, never internals.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::views::Viewer;
use crate::core::CoreError;
use crate::db::StoreError;
use crate::http::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// 404: the topic or blueprint in the address does not exist (or the id is malformed).
    #[error("not found")]
    NotFound,
    /// Any status with a message meant for the person reading the page.
    #[error("{1}")]
    Status(StatusCode, String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("template failed: {0}")]
    Render(#[from] askama::Error),
    /// 500: a failure inside the server (logged, never shown).
    #[error("internal error: {0}")]
    Internal(anyhow::Error),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    title: String,
    nav: &'static str,
    /// Always `None`: an error page says what went wrong and nothing more.
    viewer: Option<Viewer>,
    heading: String,
    message: String,
}

/// The core's refusals, worded as the API words them, then as a page (below).
impl From<CoreError> for UiError {
    fn from(err: CoreError) -> Self {
        ApiError::from(err).into()
    }
}

/// The shared account and access operations answer in the API's terms; on a page, a missing
/// (or someone else's) thing is "Page not found" and the rest keeps its status and message.
impl From<ApiError> for UiError {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::TopicNotFound
            | ApiError::BlueprintNotFound
            | ApiError::TokenNotFound
            | ApiError::InvalidId(_) => UiError::NotFound,
            ApiError::Unavailable => UiError::Status(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is busy or unreachable right now. Please try again in a moment."
                    .into(),
            ),
            ApiError::Internal(source) => UiError::Internal(source),
            other => UiError::Status(other.status_code(), other.to_string()),
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, heading, message) = match self {
            UiError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is nothing at this address. The topic or blueprint may have been deleted."
                    .to_string(),
            ),
            UiError::Status(status, message) => (status, "Something is not right", message),
            UiError::Store(StoreError::Unavailable(source)) => {
                tracing::warn!(error = %source, "database unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    "The database is busy or unreachable right now. Please try again in a moment."
                        .to_string(),
                )
            }
            UiError::Store(StoreError::InvalidText(source)) => {
                tracing::warn!(error = %source, "the database refused a text");
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Something is not right",
                    "A field holds a character that cannot be stored (such as a control character)."
                        .to_string(),
                )
            }
            UiError::Store(StoreError::Other(source)) => {
                tracing::error!(error = ?source, "page failed");
                internal()
            }
            UiError::Render(source) => {
                tracing::error!(error = %source, "template failed");
                internal()
            }
            UiError::Internal(source) => {
                tracing::error!(error = ?source, "page failed");
                internal()
            }
        };
        let page = ErrorPage {
            title: heading.to_string(),
            nav: "",
            viewer: None,
            heading: heading.to_string(),
            message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            // The error page itself failed: plain text is all that is left.
            Err(_) => (status, heading.to_string()).into_response(),
        }
    }
}

fn internal() -> (StatusCode, &'static str, String) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not show this page. The problem was logged; please try again.".into(),
    )
}
