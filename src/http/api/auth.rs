//! `/api/auth/...`: sign-up, log-in, log-out, who am I, and personal API tokens.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use uuid::Uuid;

use crate::accounts::{self, hash_secret, new_secret, API_TOKEN_PREFIX, SESSION_PREFIX};
use crate::app::AppState;
use crate::config::SignupMode;
use crate::db::{NewUser, SignupOutcome};
use crate::domain::account::parse_token_name;
use crate::domain::time::now_ms;
use crate::domain::{ApiTokenInfo, Credentials, User};
use crate::http::auth::{
    authenticate, clear_session_cookie, session_cookie, session_cookie_header, CurrentUser,
};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{parse_id, JsonBody};
use crate::http::openapi::ErrorBody;
use crate::telemetry::LOGINS;

/// A session just started: the user and the secret for the cookie.
pub struct NewSession {
    pub user: User,
    pub secret: String,
}

async fn start_session(state: &AppState, user: User) -> ApiResult<NewSession> {
    let secret = new_secret(SESSION_PREFIX);
    let now = now_ms();
    state
        .store
        .create_session(
            &hash_secret(&secret),
            user.id,
            now,
            now + state.auth.session_ttl_ms,
        )
        .await?;
    Ok(NewSession { user, secret })
}

/// Creates an account and starts its session. Shared by the JSON API and the sign-up page.
/// Throttled per client address (`QUIZMASTER_SIGNUPS_PER_HOUR`; loopback is exempt).
pub async fn sign_up(
    state: &AppState,
    credentials: Credentials,
    client: IpAddr,
) -> ApiResult<NewSession> {
    if !state.auth.enabled() {
        return Err(ApiError::AuthDisabled);
    }
    if state.auth.signup == SignupMode::Closed {
        return Err(ApiError::SignupClosed);
    }
    let store = state.store.as_ref();
    if let Some(wait) = state
        .auth
        .throttle
        .signup_retry_after(store, client, now_ms())
        .await?
    {
        return Err(ApiError::TooManySignups(wait));
    }
    let password_hash = accounts::hash_password(credentials.password)
        .await
        .map_err(ApiError::Internal)?;
    let new = NewUser {
        id: Uuid::now_v7(),
        email: credentials.email,
        password_hash,
        now: now_ms(),
    };
    match state.store.create_user(&new).await? {
        SignupOutcome::Created(user) => {
            tracing::info!(user_id = %user.id, admin = user.is_admin, "account created");
            state
                .auth
                .throttle
                .record_signup(store, client, now_ms())
                .await?;
            start_session(state, user).await
        }
        SignupOutcome::EmailTaken => Err(ApiError::EmailTaken),
    }
}

/// Checks a password and starts a session; throttled per account and per client address.
/// An unknown email costs the same Argon2 work as a wrong password and gets the same answer.
pub async fn log_in(
    state: &AppState,
    credentials: Credentials,
    client: IpAddr,
) -> ApiResult<NewSession> {
    if !state.auth.enabled() {
        return Err(ApiError::AuthDisabled);
    }
    let throttle = &state.auth.throttle;
    let store = state.store.as_ref();
    if let Some(wait) = throttle
        .retry_after(store, &credentials.email, client, now_ms())
        .await?
    {
        metrics::counter!(LOGINS, "outcome" => "throttled").increment(1);
        return Err(ApiError::TooManyAttempts(wait));
    }
    let found = state.store.user_credentials(&credentials.email).await?;
    let (user, stored) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let matches = accounts::verify_password(credentials.password, stored)
        .await
        .map_err(ApiError::Internal)?;
    match user.filter(|_| matches) {
        Some(user) => {
            throttle.record_success(store, &credentials.email).await?;
            metrics::counter!(LOGINS, "outcome" => "success").increment(1);
            start_session(state, user).await
        }
        None => {
            // A failure that cannot be noted (a full disk) still gets its 401.
            if let Err(err) = throttle
                .record_failure(store, &credentials.email, client, now_ms())
                .await
            {
                tracing::warn!(error = %err, "could not note a failed log-in");
            }
            metrics::counter!(LOGINS, "outcome" => "invalid_credentials").increment(1);
            tracing::info!(client = %client, "failed log-in");
            Err(ApiError::InvalidCredentials)
        }
    }
}

/// Ends the session a request carries, if any.
pub async fn log_out(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    if let Some(secret) = session_cookie(headers) {
        state.store.delete_session(&hash_secret(secret)).await?;
        state.auth.forget_credentials();
    }
    Ok(())
}

/// The address log-in throttling counts: the peer's, or with `QUIZMASTER_TRUST_PROXY=on` the
/// last `X-Forwarded-For` entry (the one the nearest proxy added; earlier ones are the
/// client's to make up). Loopback when the server was built without connection info.
/// (Also used by the log-in page.)
pub fn client_ip(
    state: &AppState,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
) -> IpAddr {
    let forwarded = || {
        // The last header line, its last entry: what the nearest proxy wrote.
        let last_line = headers.get_all("x-forwarded-for").iter().next_back()?;
        let entry = last_line.to_str().ok()?.rsplit(',').next()?;
        entry.trim().parse::<IpAddr>().ok()
    };
    let peer = connect.map_or(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        |Extension(ConnectInfo(addr))| addr.ip(),
    );
    if state.auth.trust_proxy {
        forwarded().unwrap_or(peer)
    } else {
        peer
    }
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
    request_body(content = crate::http::openapi::CredentialsRequest, content_type = "application/json"),
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
    let credentials = Credentials::parse_signup(&body.required()?).map_err(ApiError::Validation)?;
    let client = client_ip(&state, connect, &headers);
    let session = sign_up(&state, credentials, client).await?;
    Ok(with_session(&state, &headers, StatusCode::CREATED, session))
}

#[utoipa::path(post, path = "/api/auth/login", tag = "accounts",
    request_body(content = crate::http::openapi::CredentialsRequest, content_type = "application/json"),
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
    let credentials = Credentials::parse_login(&body.required()?).map_err(ApiError::Validation)?;
    let session = log_in(&state, credentials, client_ip(&state, connect, &headers)).await?;
    Ok(with_session(&state, &headers, StatusCode::OK, session))
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "accounts",
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
    responses(
        (status = 200, description = "The caller (the built-in local user with QUIZMASTER_AUTH=off)", body = User),
        (status = 401, description = "unauthenticated", body = ErrorBody),
    ))]
/// `GET /api/auth/me`
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<User>> {
    authenticate(&state, &headers)
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
}

/// Creates an API token for the caller. Shared by the JSON API and the token page.
pub async fn create_token(state: &AppState, owner: Uuid, name: &str) -> ApiResult<CreatedToken> {
    let secret = new_secret(API_TOKEN_PREFIX);
    let info = state
        .store
        .create_api_token(owner, Uuid::now_v7(), name, &hash_secret(&secret), now_ms())
        .await?;
    Ok(CreatedToken {
        id: info.id,
        name: info.name,
        token: secret,
        created_at: info.created_at,
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub items: Vec<ApiTokenInfo>,
    /// Always null: every token is on the one page (the shape of the other listings).
    pub next_cursor: Option<String>,
}

#[utoipa::path(post, path = "/api/auth/tokens", tag = "accounts",
    request_body(content = crate::http::openapi::TokenRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The token, with its secret shown this once", body = CreatedToken),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "name missing, empty or over 100 characters", body = ErrorBody),
    ))]
/// `POST /api/auth/tokens`
pub async fn create_api_token(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    body: JsonBody,
) -> ApiResult<Response> {
    let name = parse_token_name(&body.required()?).map_err(ApiError::Validation)?;
    let created = create_token(&state, caller.id(), &name).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(get, path = "/api/auth/tokens", tag = "accounts",
    responses(
        (status = 200, description = "The caller's tokens, oldest first, without secrets", body = TokenList),
        (status = 401, description = "unauthenticated", body = ErrorBody),
    ))]
/// `GET /api/auth/tokens`
pub async fn list_api_tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
) -> ApiResult<Json<TokenList>> {
    let items = state.store.list_api_tokens(caller.id()).await?;
    Ok(Json(TokenList {
        items,
        next_cursor: None,
    }))
}

#[utoipa::path(delete, path = "/api/auth/tokens/{token_id}", tag = "accounts",
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
    Path(token_id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&token_id)?;
    revoke_token(&state, caller.id(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes one of the owner's tokens; it is refused from the next request on. Shared by the
/// JSON API and the token page.
pub async fn revoke_token(state: &AppState, owner: Uuid, id: Uuid) -> ApiResult<()> {
    if state.store.delete_api_token(owner, id).await? {
        // Drop what the credential cache believes, so this process refuses the token at once.
        state.auth.forget_credentials();
        Ok(())
    } else {
        Err(ApiError::TokenNotFound)
    }
}
