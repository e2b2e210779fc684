//! Errors of the HTML pages: a friendly page with the right status, never internals.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::db::StoreError;

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
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    title: String,
    nav: &'static str,
    heading: String,
    message: String,
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
            UiError::Store(StoreError::Other(source)) => {
                tracing::error!(error = ?source, "page failed");
                internal()
            }
            UiError::Render(source) => {
                tracing::error!(error = %source, "template failed");
                internal()
            }
        };
        let page = ErrorPage {
            title: heading.to_string(),
            nav: "",
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
