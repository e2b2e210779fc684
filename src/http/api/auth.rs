//! `/api/auth/...`: sign-up, log-in, log-out, who am I, and personal API tokens.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::account::SessionInfo;
use crate::domain::requests::{CreateTokenRequest, LoginRequest, RequestBody, SignupRequest};
use crate::domain::time::now_ms;
use crate::domain::{ApiTokenInfo, ClientAddr, Credentials, SessionId, TokenId, User, UserId};
use crate::http::auth::{
    authenticate, clear_session_cookie, session_cookie, session_cookie_header, Credential,
    CurrentUser,
};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Ids, JsonBody};
use crate::http::openapi::ErrorBody;
use crate::http::AppState;

pub use crate::core::NewSession;

/// The `User-Agent` of a request, for the sessions list.
pub fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

/// Creates an account and starts its session ([`crate::core::Core::sign_up`]). Shared by the
/// JSON API and the sign-up page.
pub async fn sign_up(
    state: &AppState,
    credentials: Credentials,
    client: ClientAddr,
    user_agent: Option<&str>,
) -> ApiResult<NewSession> {
    Ok(state
        .core
        .sign_up(&state.auth.rules(), credentials, client, user_agent)
        .await?)
}

/// Checks a password and starts a session ([`crate::core::Core::log_in`]). Shared by the JSON
/// API and the log-in page.
pub async fn log_in(
    state: &AppState,
    credentials: Credentials,
    client: ClientAddr,
    user_agent: Option<&str>,
) -> ApiResult<NewSession> {
    Ok(state
        .core
        .log_in(&state.auth.rules(), credentials, client, user_agent)
        .await?)
}

/// Ends the session a request carries, if any.
pub async fn log_out(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    if let Some(secret) = session_cookie(headers) {
        state.core.log_out(secret).await?;
        state.auth.forget_credentials();
    }
    Ok(())
}

/// The client throttling counts: see [`crate::http::client::client_addr`]. (Also used by the
/// log-in and sign-up pages.)
pub fn client_ip(
    state: &AppState,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
) -> ClientAddr {
    let peer = connect.map(|Extension(ConnectInfo(addr))| addr);
    crate::http::client::client_addr(state.auth.trust_proxy, peer, headers)
}

fn with_session(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    session: NewSession,
) -> Response {
    let cookie = session_cookie_header(headers, &session.secret, state.auth.session_ttl_ms);
    (status, [(header::SET_COOKIE, cookie)], Json(session.user)).into_response()
}

#[utoipa::path(post, path = "/api/auth/signup", tag = "accounts",
    operation_id = "sign_up", summary = "Create an account and start a log-in session",
    request_body(content = SignupRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The new user, with a session cookie; the first user is an admin", body = User,
         headers(("Set-Cookie" = String, description = "qm_session: HttpOnly, SameSite=Lax"))),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 403, description = "signup_closed (QUIZMASTER_SIGNUP=closed), or cross_site_request", body = ErrorBody),
        (status = 409, description = "email_taken, or auth_disabled (QUIZMASTER_AUTH=off)", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A bad email or a password under 10 characters", body = ErrorBody),
        (status = 429, description = "too_many_signups from this address (QUIZMASTER_SIGNUPS_PER_HOUR), with Retry-After", body = ErrorBody,
         headers(("Retry-After" = i64, description = "Seconds until this address may sign up again"))),
    ))]
/// `POST /api/auth/signup`
pub async fn signup(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: JsonBody,
) -> ApiResult<Response> {
    let credentials =
        SignupRequest::validate_json(&body.required()?).map_err(ApiError::Validation)?;
    let client = client_ip(&state, connect, &headers);
    let session = sign_up(&state, credentials, client, user_agent(&headers)).await?;
    Ok(with_session(&state, &headers, StatusCode::CREATED, session))
}

#[utoipa::path(post, path = "/api/auth/login", tag = "accounts",
    operation_id = "log_in", summary = "Log in with email and password",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The user, with a session cookie", body = User,
         headers(("Set-Cookie" = String, description = "qm_session: HttpOnly, SameSite=Lax"))),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "invalid_credentials (the same for an unknown email and a wrong password)", body = ErrorBody),
        (status = 409, description = "auth_disabled (QUIZMASTER_AUTH=off)", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "email or password missing", body = ErrorBody),
        (status = 429, description = "too_many_attempts, with Retry-After", body = ErrorBody,
         headers(("Retry-After" = i64, description = "Seconds until the next attempt is allowed"))),
    ))]
/// `POST /api/auth/login`
pub async fn login(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: JsonBody,
) -> ApiResult<Response> {
    let credentials =
        LoginRequest::validate_json(&body.required()?).map_err(ApiError::Validation)?;
    let client = client_ip(&state, connect, &headers);
    let session = log_in(&state, credentials, client, user_agent(&headers)).await?;
    Ok(with_session(&state, &headers, StatusCode::OK, session))
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "accounts",
    operation_id = "log_out", summary = "End the current log-in session",
    responses((status = 204, description = "The session (if any) ended and its cookie cleared")))]
/// `POST /api/auth/logout`
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    log_out(&state, &headers).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_session_cookie(&headers))],
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/auth/me", tag = "accounts",
    operation_id = "get_current_user", summary = "The user this request is authenticated as",
    responses(
        (status = 200, description = "The caller (the built-in local user with QUIZMASTER_AUTH=off)", body = User),
        (status = 401, description = "unauthenticated", body = ErrorBody),
    ))]
/// `GET /api/auth/me`
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<User>> {
    authenticate(&state, &headers, false)
        .await?
        .map(|caller| Json(caller.user))
        .ok_or(ApiError::Unauthenticated)
}

/// A token just created: the only time its secret is shown.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub id: Uuid,
    pub name: String,
    /// Send as `Authorization: Bearer <token>`. Shown this once; only its hash is stored.
    pub token: String,
    #[serde(with = "crate::domain::time::ms_as_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// When the token stops working; null: never.
    #[serde(with = "crate::domain::time::opt_ms_as_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<i64>,
}

/// Creates an API token for the caller ([`crate::core::Core::create_api_token`]). Shared by
/// the JSON API and the token page.
pub async fn create_token(
    state: &AppState,
    caller: &CurrentUser,
    name: &str,
    expires_in_days: Option<i64>,
) -> ApiResult<CreatedToken> {
    let by_api_token = matches!(caller.credential, Credential::Token(_));
    let created = state
        .core
        .create_api_token(caller.user_id(), by_api_token, name, expires_in_days)
        .await?;
    Ok(CreatedToken {
        id: created.info.id,
        name: created.info.name,
        token: created.secret,
        created_at: created.info.created_at,
        expires_at: created.info.expires_at,
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub items: Vec<ApiTokenInfo>,
    /// Always null: every token is on the one page (the shape of the other listings).
    pub next_cursor: Option<String>,
}

#[utoipa::path(post, path = "/api/auth/tokens", tag = "accounts",
    operation_id = "create_api_token", summary = "Create an API token (from a log-in session)",
    request_body(content = CreateTokenRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The token, with its secret shown this once", body = CreatedToken),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "session_required: the request was authenticated by an API token", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "name missing, empty, over 100 characters or with control characters; expires_in_days not 1 to 3650 or null", body = ErrorBody),
    ))]
/// `POST /api/auth/tokens`
pub async fn create_api_token(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    body: JsonBody,
) -> ApiResult<Response> {
    if matches!(caller.credential, Credential::Token(_)) {
        // Before the body is read: the core refuses it too.
        return Err(ApiError::SessionRequired);
    }
    let token =
        CreateTokenRequest::validate_json(&body.required()?).map_err(ApiError::Validation)?;
    let created = create_token(&state, &caller, &token.name, token.expires_in_days).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(get, path = "/api/auth/tokens", tag = "accounts",
    operation_id = "list_api_tokens", summary = "List your API tokens",
    responses(
        (status = 200, description = "The caller's tokens, oldest first, without secrets", body = TokenList),
        (status = 401, description = "unauthenticated", body = ErrorBody),
    ))]
/// `GET /api/auth/tokens`
pub async fn list_api_tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
) -> ApiResult<Json<TokenList>> {
    let items = state.store.list_api_tokens(caller.user_id()).await?;
    Ok(Json(TokenList {
        items,
        next_cursor: None,
    }))
}

#[utoipa::path(delete, path = "/api/auth/tokens/{token_id}", tag = "accounts",
    operation_id = "revoke_api_token", summary = "Revoke one of your API tokens",
    params(("token_id" = String, Path, description = "A UUID")),
    responses(
        (status = 204, description = "Revoked: the token is refused from now on"),
        (status = 400, description = "Not a UUID", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 404, description = "token_not_found", body = ErrorBody),
    ))]
/// `DELETE /api/auth/tokens/{token_id}`
pub async fn revoke_api_token(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    Ids(id): Ids<TokenId>,
) -> ApiResult<StatusCode> {
    revoke_token(&state, caller.user_id(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes one of the owner's tokens; it is refused from the next request on. Shared by the
/// JSON API and the token page.
pub async fn revoke_token(state: &AppState, owner: UserId, id: TokenId) -> ApiResult<()> {
    state.core.revoke_api_token(owner, id).await?;
    // Drop what the credential cache believes, so this process refuses the token at once.
    state.auth.forget_credentials();
    Ok(())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionList {
    /// Newest first.
    pub items: Vec<SessionInfo>,
    /// Always null: every session is on the one page (the shape of the other listings).
    pub next_cursor: Option<String>,
}

/// The caller's unexpired sessions, the current one marked. Shared with the sessions page.
pub async fn sessions_of(state: &AppState, caller: &CurrentUser) -> ApiResult<Vec<SessionInfo>> {
    let mut items = state
        .store
        .list_sessions(caller.user_id(), now_ms())
        .await?;
    if let Credential::Session(current) = caller.credential {
        for item in &mut items {
            item.current = item.id == current;
        }
    }
    Ok(items)
}

/// Ends one of the caller's sessions; from now on it is refused in every process.
pub async fn end_session(state: &AppState, caller: &CurrentUser, id: SessionId) -> ApiResult<()> {
    state.core.end_session(caller.user_id(), id).await?;
    state.auth.forget_credentials();
    Ok(())
}

/// Ends every session of the caller's but the current one ("log out everywhere else"); with
/// an API token, every session. Returns how many ended.
pub async fn end_other_sessions(state: &AppState, caller: &CurrentUser) -> ApiResult<u64> {
    let keep = match caller.credential {
        Credential::Session(id) => Some(SessionId(id)),
        Credential::Token(_) | Credential::Local => None,
    };
    let ended = state
        .core
        .end_other_sessions(caller.user_id(), keep)
        .await?;
    state.auth.forget_credentials();
    Ok(ended)
}

#[utoipa::path(get, path = "/api/auth/sessions", tag = "accounts",
    operation_id = "list_sessions", summary = "List your log-in sessions",
    responses(
        (status = 200, description = "The caller's sessions, newest first; `current` marks the one of this request", body = SessionList),
        (status = 401, description = "unauthenticated", body = ErrorBody),
    ))]
/// `GET /api/auth/sessions`
pub async fn list_sessions(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
) -> ApiResult<Json<SessionList>> {
    Ok(Json(SessionList {
        items: sessions_of(&state, &caller).await?,
        next_cursor: None,
    }))
}

#[utoipa::path(delete, path = "/api/auth/sessions", tag = "accounts",
    operation_id = "end_sessions", summary = "End your log-in sessions",
    responses(
        (status = 204, description = "Every session but the current one ended (log out everywhere else); with an API token, every session"),
        (status = 401, description = "unauthenticated", body = ErrorBody),
    ))]
/// `DELETE /api/auth/sessions`
pub async fn end_sessions(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
) -> ApiResult<StatusCode> {
    end_other_sessions(&state, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/auth/sessions/{session_id}", tag = "accounts",
    operation_id = "end_session", summary = "End one of your log-in sessions",
    params(("session_id" = String, Path, description = "A UUID")),
    responses(
        (status = 204, description = "Ended: the session is refused from now on, in every process"),
        (status = 400, description = "Not a UUID", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 404, description = "session_not_found", body = ErrorBody),
    ))]
/// `DELETE /api/auth/sessions/{session_id}`
pub async fn end_one_session(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    Ids(id): Ids<SessionId>,
) -> ApiResult<StatusCode> {
    end_session(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
