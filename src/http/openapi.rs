//! The OpenAPI document. Paths come from the `#[utoipa::path]` on each handler, collected by
//! the same `OpenApiRouter` that routes requests (see `http::router`), so the document cannot
//! drift from the code; the request bodies' schemas are derived from the structs that parse
//! them (`domain::requests`). This module adds the shared parts: info, tags and the error
//! envelope.

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
        (name = "accounts", description = "Sign-up, log-in, sessions and API tokens"),
        (name = "operations", description = "Health, readiness and metrics")
    ),
    components(schemas(ErrorBody, ErrorDetail, FieldError))
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

/// Operations anyone may call; every other one needs a session or an API token.
const OPEN_OPERATIONS: [&str; 7] = [
    "/api/auth/signup",
    "/api/auth/login",
    "/api/auth/logout",
    "/api/auth/me",
    "/healthz",
    "/readyz",
    "/metrics",
];

/// Declares the two ways to authenticate (with `QUIZMASTER_AUTH=off`, neither is needed) and
/// marks the open operations as needing none. Runs on the finished document, once the
/// handlers' paths are in it.
pub fn add_security(openapi: &mut utoipa::openapi::OpenApi) {
    {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A personal API token from POST /api/auth/tokens"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("qm_session"))),
        );
        openapi.security = Some(vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("session", Vec::<String>::new()),
        ]);
        // Every protected operation may answer 401 (no or a bad credential), and every one that
        // changes state 403 (a browser request from another site).
        let unauthenticated =
            error_response("unauthenticated: log in, or send Authorization: Bearer <API token>");
        let cross_site =
            error_response("cross_site_request: a cookie request a browser sent from another site");
        for (path, item) in openapi.paths.paths.iter_mut() {
            let open = OPEN_OPERATIONS.contains(&path.as_str());
            let operations = [
                (&mut item.get, false),
                (&mut item.post, true),
                (&mut item.put, true),
                (&mut item.patch, true),
                (&mut item.delete, true),
            ];
            for (operation, changes_state) in operations {
                let Some(operation) = operation else { continue };
                if open {
                    // An empty list (not `[{}]`) is the OpenAPI way to say "no credentials":
                    // client generators then let a client without a token call it.
                    operation.security = Some(Vec::new());
                }
                let responses = &mut operation.responses.responses;
                if !open {
                    responses
                        .entry("401".to_string())
                        .or_insert_with(|| unauthenticated.clone().into());
                }
                // Health and metrics take no state-changing calls; every other POST may be
                // refused as cross-site, log-in and sign-up included.
                if changes_state {
                    responses
                        .entry("403".to_string())
                        .or_insert_with(|| cross_site.clone().into());
                }
            }
        }
    }
}

/// A response whose body is the contract's JSON error.
fn error_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}
