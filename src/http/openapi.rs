//! The OpenAPI document. Paths come from the `#[utoipa::path]` on each handler, collected by
//! the same `OpenApiRouter` that routes requests (see `http::router`), so the document cannot
//! drift from the code. This module adds the shared parts: info, tags and the schemas that
//! exist only on the wire (request bodies, the error envelope).

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::domain::{BlueprintStatus, FieldError};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "QuizMaster",
        description = "Turns a topic into a quiz blueprint. Generating one is a durable, \
                       observable job: start it (202), follow it by polling, long polling or \
                       SSE, cancel it.",
        license(name = "MIT")
    ),
    tags(
        (name = "topics", description = "What a teacher wants a quiz on"),
        (name = "blueprints", description = "Blueprints and their generation jobs"),
        (name = "operations", description = "Health, readiness and metrics")
    ),
    components(schemas(ErrorBody, ErrorDetail, FieldError, TopicRequest, TopicPatchRequest, GenerateRequest))
)]
pub struct ApiDoc;

/// Every error: `{"error": {...}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code, e.g. `topic_not_found`.
    pub code: String,
    /// What happened and what to do, for people.
    pub message: String,
    /// On `422 validation_failed`: each field that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<FieldError>>,
    /// On `409 generation_in_progress`: the active generation to follow instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blueprint_id: Option<Uuid>,
    /// On `409 not_cancellable` and `409 not_completed`: the current status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<BlueprintStatus>,
}

/// `POST /api/topics`.
#[derive(Serialize, ToSchema)]
pub struct TopicRequest {
    /// 1–200 characters, stored trimmed.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Lecture notes or a chapter the objectives are derived from.
    #[schema(max_length = 200000)]
    pub source_text: Option<String>,
}

/// `PATCH /api/topics/{topic_id}`: the fields to change (null clears an optional one).
#[derive(Serialize, ToSchema)]
pub struct TopicPatchRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    #[schema(max_length = 200000)]
    pub source_text: Option<String>,
}

/// `POST .../blueprints/generate` (the body is optional).
#[derive(Serialize, ToSchema)]
pub struct GenerateRequest {
    /// How many terminal objectives to aim for (default 10).
    #[schema(minimum = 1, maximum = 30)]
    pub target_terminal_objectives: Option<i64>,
}
