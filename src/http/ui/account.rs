//! The account pages: sign-up, log-in, log-out and the API-token page. Sign-up and log-in are
//! for anonymous people, so they sit outside the pages' access layer; all of them act through
//! the same operations as the JSON API (`http::api::auth`). With `QUIZMASTER_AUTH=off` there is
//! nobody to log in as, so these pages send people to their topics.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;

use super::forms::{sentence, FormFields};
use super::pages::{query_get, query_pairs, render, render_fresh, PageResult};
use super::views::{human_time, Viewer};
use super::UiError;
use crate::config::SignupMode;
use crate::core::CoreError;
use crate::domain::account::PASSWORD_MIN_CHARS;
use crate::domain::requests::{
    CreateTokenRequest, Field, LoginRequest, RequestBody, SignupRequest,
};
use crate::domain::time::rfc3339;
use crate::domain::{ApiTokenInfo, FieldError, SessionId, TokenId};
use crate::http::api::auth::{
    client_ip, create_token, end_other_sessions, end_session, log_in, log_out, revoke_token,
    sessions_of, sign_up, user_agent, CreatedToken, NewSession,
};
use crate::http::auth::{authenticate, clear_session_cookie, session_cookie_header, CurrentUser};
use crate::http::extract::PageIds;
use crate::http::AppState;

/// Where people land after logging in when no (acceptable) `next` was given.
const DEFAULT_NEXT: &str = "/topics";
const TOKENS_PAGE: &str = "/account/tokens";

/// Where to go after logging in: `next` if it is a path on this site, else the topics. Only a
/// `/` followed by anything but another `/` is accepted (`//host` is another site), with no
/// backslash (browsers read `/\host` as `//host`) and visible ASCII only (browsers drop tabs and
/// newlines from URLs, so `/<tab>/host` would become `//host`; it also keeps `Location` valid).
pub fn local_next(raw: &str) -> &str {
    let local = raw.starts_with('/')
        && !raw.starts_with("//")
        && !raw.contains('\\')
        && raw.bytes().all(|b| b.is_ascii_graphic());
    if local {
        raw
    } else {
        DEFAULT_NEXT
    }
}

/// `path`, carrying `next` along when it is not the default.
fn with_next(path: &str, next: &str) -> String {
    if next == DEFAULT_NEXT {
        path.to_string()
    } else {
        let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
        format!("{path}?{query}")
    }
}

/// The redirect after a successful sign-up or log-in, with the new session's cookie.
fn into_session(
    state: &AppState,
    headers: &HeaderMap,
    session: NewSession,
    next: &str,
) -> Response {
    let cookie = session_cookie_header(headers, &session.secret, state.auth.session_ttl_ms);
    ([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response()
}

/// Whether the request already carries a valid session (so the log-in form has nothing to do).
async fn logged_in(state: &AppState, headers: &HeaderMap) -> bool {
    matches!(authenticate(state, headers, false).await, Ok(Some(_)))
}

/// Field errors of the email and password boxes.
#[derive(Default)]
pub struct CredentialErrors {
    pub email: Option<String>,
    pub password: Option<String>,
}

impl CredentialErrors {
    fn from_fields(errors: &[FieldError]) -> Self {
        let mut out = Self::default();
        for error in errors {
            let message = Some(sentence(&error.message));
            match error.field.as_str() {
                "password" => out.password = message,
                _ => out.email = message,
            }
        }
        out
    }

    pub fn any(&self) -> bool {
        self.email.is_some() || self.password.is_some()
    }

    pub fn count(&self) -> usize {
        usize::from(self.email.is_some()) + usize::from(self.password.is_some())
    }
}

// ---------------------------------------------------------------------------------------------
// Log in

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    title: String,
    nav: &'static str,
    viewer: Option<Viewer>,
    email: String,
    next: String,
    /// A problem with the form as a whole: wrong credentials, too many attempts.
    problem: Option<String>,
    errors: CredentialErrors,
    signup_url: Option<String>,
}

impl LoginPage {
    fn new(state: &AppState, next: &str) -> Self {
        Self {
            title: "Log in".into(),
            nav: "login",
            viewer: None,
            email: String::new(),
            next: next.to_string(),
            problem: None,
            errors: CredentialErrors::default(),
            signup_url: (state.auth.signup == SignupMode::Open).then(|| with_next("/signup", next)),
        }
    }
}

/// `GET /login?next=/path`: the log-in form (or straight on, for someone already logged in).
pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> PageResult {
    let pairs = query_pairs(query);
    let next = local_next(query_get(&pairs, "next").unwrap_or(""));
    if !state.auth.enabled() || logged_in(&state, &headers).await {
        return Ok(Redirect::to(next).into_response());
    }
    render(&LoginPage::new(&state, next), StatusCode::OK)
}

/// `POST /login`: starts a session and goes on to `next`. Wrong credentials come back as 401
/// with one message for an unknown email and a wrong password alike; too many failures as 429
/// with `Retry-After`.
pub async fn login(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    request: Request,
) -> PageResult {
    let headers = request.headers().clone();
    let form = FormFields::from_request(request, "").await?;
    let next = local_next(form.get("next")).to_string();
    if !state.auth.enabled() {
        return Ok(Redirect::to(&next).into_response());
    }
    let mut page = LoginPage::new(&state, &next);
    page.email = form.get("email").trim().to_string();
    // Empty boxes are a slip, not a guess: say so without counting a failed attempt.
    page.errors = CredentialErrors {
        email: page.email.is_empty().then(|| "Enter your email.".into()),
        password: form
            .get("password")
            .is_empty()
            .then(|| "Enter your password.".into()),
    };
    if page.errors.any() {
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // The same normalization as the API's log-in; it fails only on missing fields, and a form
    // always sends both (checked non-empty above).
    let credentials = LoginRequest {
        email: Field::Given(form.get("email").to_string()),
        password: Field::Given(form.get("password").to_string()),
    }
    .into_domain()
    .map_err(|_| {
        UiError::Status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your email and password.".into(),
        )
    })?;
    let client = client_ip(&state, connect, &headers);
    match log_in(&state, credentials, client, user_agent(&headers)).await {
        Ok(session) => Ok(into_session(&state, &headers, session, &next)),
        Err(CoreError::InvalidCredentials) => {
            page.problem = Some("The email or password is not right.".into());
            render(&page, StatusCode::UNAUTHORIZED)
        }
        Err(CoreError::TooManyAttempts { wait_secs: secs }) => {
            page.problem = Some(format!(
                "Too many failed log-in attempts. Wait {} and try again.",
                wait_text(secs)
            ));
            let mut response = render(&page, StatusCode::TOO_MANY_REQUESTS)?;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            Ok(response)
        }
        Err(CoreError::AuthDisabled) => Ok(Redirect::to(&next).into_response()),
        Err(other) => Err(other.into()),
    }
}

/// "45 seconds", "1 minute", "15 minutes": a wait as people say it (rounded up to minutes
/// past one minute, so the page never promises too short a wait).
fn wait_text(secs: u64) -> String {
    match secs {
        0..=1 => "a second".into(),
        2..=59 => format!("{secs} seconds"),
        _ => match secs.div_ceil(60) {
            1 => "1 minute".into(),
            minutes => format!("{minutes} minutes"),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Sign up

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    title: String,
    nav: &'static str,
    viewer: Option<Viewer>,
    email: String,
    next: String,
    problem: Option<String>,
    errors: CredentialErrors,
    /// `QUIZMASTER_SIGNUP=closed`: the page says so instead of showing the form.
    closed: bool,
    login_url: String,
    password_min: usize,
}

const SIGNUP_CLOSED: &str =
    "Sign-up is closed on this server. Ask its administrator for an account.";

impl SignupPage {
    fn new(state: &AppState, next: &str) -> Self {
        let closed = state.auth.signup == SignupMode::Closed;
        Self {
            title: "Sign up".into(),
            nav: "signup",
            viewer: None,
            email: String::new(),
            next: next.to_string(),
            problem: closed.then(|| SIGNUP_CLOSED.to_string()),
            errors: CredentialErrors::default(),
            closed,
            login_url: with_next("/login", next),
            password_min: PASSWORD_MIN_CHARS,
        }
    }
}

/// `GET /signup`: the sign-up form.
pub async fn signup_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> PageResult {
    let pairs = query_pairs(query);
    let next = local_next(query_get(&pairs, "next").unwrap_or(""));
    if !state.auth.enabled() || logged_in(&state, &headers).await {
        return Ok(Redirect::to(next).into_response());
    }
    render(&SignupPage::new(&state, next), StatusCode::OK)
}

/// `POST /signup`: creates the account, logs it in and goes to the topics. Bad values come back
/// as 422 with a message at each field; a taken email as 409; closed sign-up as 403.
pub async fn signup(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    request: Request,
) -> PageResult {
    let headers = request.headers().clone();
    let form = FormFields::from_request(request, "").await?;
    let next = local_next(form.get("next")).to_string();
    if !state.auth.enabled() {
        return Ok(Redirect::to(&next).into_response());
    }
    let mut page = SignupPage::new(&state, &next);
    page.email = form.get("email").trim().to_string();
    if page.closed {
        return render(&page, StatusCode::FORBIDDEN);
    }
    let credentials = match (SignupRequest {
        email: Field::Given(form.get("email").to_string()),
        password: Field::Given(form.get("password").to_string()),
    })
    .into_domain()
    {
        Ok(credentials) => credentials,
        Err(errors) => {
            page.errors = CredentialErrors::from_fields(&errors);
            return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let client = client_ip(&state, connect, &headers);
    match sign_up(&state, credentials, client, user_agent(&headers)).await {
        Ok(session) => Ok(into_session(&state, &headers, session, &next)),
        Err(CoreError::TooManySignups { wait_secs: wait }) => {
            page.problem = Some(format!(
                "Too many accounts were created from your network. Wait {} and try again.",
                wait_text(wait)
            ));
            let mut response = render(&page, StatusCode::TOO_MANY_REQUESTS)?;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
            Ok(response)
        }
        Err(CoreError::EmailTaken) => {
            page.problem = Some(
                "An account with this email already exists. Log in instead, or use another email."
                    .into(),
            );
            render(&page, StatusCode::CONFLICT)
        }
        Err(CoreError::SignupClosed) => {
            page.closed = true;
            page.problem = Some(SIGNUP_CLOSED.into());
            render(&page, StatusCode::FORBIDDEN)
        }
        Err(CoreError::AuthDisabled) => Ok(Redirect::to(&next).into_response()),
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Log out

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage {
    title: String,
    nav: &'static str,
    viewer: Option<Viewer>,
}

/// `GET /logout`: asks to confirm (logging out is a post, so a link or a prefetch cannot do it).
pub async fn logout_page(viewer: Option<Viewer>) -> PageResult {
    if viewer.is_none() {
        // Accounts are off: there is nothing to log out of.
        return Ok(Redirect::to(DEFAULT_NEXT).into_response());
    }
    let page = LogoutPage {
        title: "Log out".into(),
        nav: "",
        viewer,
    };
    render(&page, StatusCode::OK)
}

/// `POST /logout`: ends the session, clears its cookie and goes to the log-in page.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> PageResult {
    log_out(&state, &headers).await?;
    Ok((
        [(header::SET_COOKIE, clear_session_cookie(&headers))],
        Redirect::to("/login"),
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// API tokens

/// A token in the list: never its secret, which is not stored.
pub struct TokenRow {
    pub name: String,
    pub created: String,
    pub created_iso: String,
    pub last_used: Option<(String, String)>,
    pub expires: Option<(String, String)>,
    pub revoke_action: String,
}

impl TokenRow {
    fn new(info: &ApiTokenInfo) -> Self {
        Self {
            name: info.name.clone(),
            created: human_time(info.created_at),
            created_iso: rfc3339(info.created_at),
            last_used: info.last_used_at.map(|at| (human_time(at), rfc3339(at))),
            expires: info.expires_at.map(|at| (human_time(at), rfc3339(at))),
            revoke_action: format!("{TOKENS_PAGE}/{}/revoke", info.id),
        }
    }
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    title: String,
    nav: &'static str,
    viewer: Option<Viewer>,
    tokens: Vec<TokenRow>,
    /// The token just created, with its secret: shown on this one page only.
    created: Option<CreatedToken>,
    notice: Option<&'static str>,
    name_value: String,
    name_error: Option<String>,
}

async fn tokens_page(
    state: &AppState,
    caller: &CurrentUser,
    viewer: Option<Viewer>,
) -> Result<TokensPage, UiError> {
    let tokens = state.store.list_api_tokens(caller.user_id()).await?;
    Ok(TokensPage {
        title: "API tokens".into(),
        nav: "tokens",
        viewer,
        tokens: tokens.iter().map(TokenRow::new).collect(),
        created: None,
        notice: None,
        name_value: String::new(),
        name_error: None,
    })
}

/// `GET /account/tokens`: the caller's tokens and the form to create one.
pub async fn tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    viewer: Option<Viewer>,
    RawQuery(query): RawQuery,
) -> PageResult {
    // With accounts off every request is the local user's and tokens prove nothing.
    if !state.auth.enabled() {
        return Ok(Redirect::to(DEFAULT_NEXT).into_response());
    }
    let mut page = tokens_page(&state, &caller, viewer).await?;
    page.notice = match query_get(&query_pairs(query), "notice") {
        Some("revoked") => Some("The token was revoked: requests that send it are refused now."),
        _ => None,
    };
    render(&page, StatusCode::OK)
}

/// `POST /account/tokens`: creates a token and shows it this once, on the page this answers
/// with (201, never stored by a cache; a redirect would need the secret in the next request).
pub async fn create_api_token(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    viewer: Option<Viewer>,
    request: Request,
) -> PageResult {
    if !state.auth.enabled() {
        return Ok(Redirect::to(DEFAULT_NEXT).into_response());
    }
    let form = FormFields::from_request(request, "").await?;
    // The form's choice: a number of days, or "never"; anything else is the default.
    let mut request = CreateTokenRequest {
        name: Field::Given(form.get("name").to_string()),
        expires_in_days: match form.get("expires_in_days") {
            "never" => Field::Null,
            days => days.parse::<i64>().map_or(Field::Absent, Field::Given),
        },
    };
    let mut checked = request.clone().into_domain();
    if matches!(&checked, Err(errors) if errors.iter().all(|e| e.field == "expires_in_days")) {
        // A number of days the form does not offer (a tampered value): the default.
        request.expires_in_days = Field::Absent;
        checked = request.into_domain();
    }
    let token = match checked {
        Ok(token) => token,
        Err(errors) => {
            let mut page = tokens_page(&state, &caller, viewer).await?;
            page.name_value = form.get("name").to_string();
            page.name_error = errors.first().map(|e| sentence(&e.message));
            return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let created = create_token(&state, &caller, &token.name, token.expires_in_days).await?;
    let mut page = tokens_page(&state, &caller, viewer).await?;
    page.created = Some(created);
    render_fresh(&page, StatusCode::CREATED)
}

/// `POST /account/tokens/{token_id}/revoke`: revokes one of the caller's tokens and goes back
/// to the list. A token that is already gone (a second click) just shows the list again.
pub async fn revoke_api_token(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    PageIds(id): PageIds<TokenId>,
) -> PageResult {
    let next = match revoke_token(&state, caller.user_id(), id).await {
        Ok(()) => format!("{TOKENS_PAGE}?notice=revoked"),
        // Not theirs, or revoked already: nothing to report either way.
        Err(CoreError::TokenNotFound) => TOKENS_PAGE.to_string(),
        Err(other) => return Err(other.into()),
    };
    Ok(Redirect::to(&next).into_response())
}

const SESSIONS_PAGE: &str = "/account/sessions";

/// One session as the sessions page lists it.
pub struct SessionRow {
    pub client: String,
    pub current: bool,
    pub created: String,
    pub created_iso: String,
    pub last_seen: String,
    pub last_seen_iso: String,
    pub end_action: String,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    title: String,
    nav: &'static str,
    viewer: Option<Viewer>,
    sessions: Vec<SessionRow>,
    notice: Option<&'static str>,
}

/// `GET /account/sessions`: where the caller is logged in, with buttons to end them.
pub async fn sessions(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    viewer: Option<Viewer>,
    RawQuery(query): RawQuery,
) -> PageResult {
    if !state.auth.enabled() {
        return Ok(Redirect::to(DEFAULT_NEXT).into_response());
    }
    let sessions = sessions_of(&state, &caller).await?;
    let page = SessionsPage {
        title: "Sessions".into(),
        nav: "sessions",
        viewer,
        sessions: sessions
            .iter()
            .map(|s| SessionRow {
                client: s.client.clone().unwrap_or_else(|| "Unknown client".into()),
                current: s.current,
                created: human_time(s.created_at),
                created_iso: rfc3339(s.created_at),
                last_seen: human_time(s.last_seen_at),
                last_seen_iso: rfc3339(s.last_seen_at),
                end_action: format!("{SESSIONS_PAGE}/{}/end", s.id),
            })
            .collect(),
        notice: match query_get(&query_pairs(query), "notice") {
            Some("ended") => Some("The session was ended."),
            Some("others-ended") => Some("Every other session was ended."),
            _ => None,
        },
    };
    render(&page, StatusCode::OK)
}

/// `POST /account/sessions/{session_id}/end`: ends one of the caller's sessions. One that is
/// already gone (a second click) just shows the list again.
pub async fn end_one_session(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    PageIds(id): PageIds<SessionId>,
) -> PageResult {
    let next = match end_session(&state, &caller, id).await {
        Ok(()) => format!("{SESSIONS_PAGE}?notice=ended"),
        Err(CoreError::SessionNotFound) => SESSIONS_PAGE.to_string(),
        Err(other) => return Err(other.into()),
    };
    Ok(Redirect::to(&next).into_response())
}

/// `POST /account/sessions/end-others`: log out everywhere else.
pub async fn end_others(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
) -> PageResult {
    end_other_sessions(&state, &caller).await?;
    Ok(Redirect::to(&format!("{SESSIONS_PAGE}?notice=others-ended")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_log_in() {
        for good in ["/topics", "/topics/abc?x=1&y=%2F", "/jobs", "/"] {
            assert_eq!(local_next(good), good);
        }
        for bad in [
            "",
            "topics",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ topics",
            "/tópicos",
        ] {
            assert_eq!(local_next(bad), DEFAULT_NEXT, "{bad:?}");
        }
    }

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(wait_text(1), "a second");
        assert_eq!(wait_text(45), "45 seconds");
        assert_eq!(wait_text(60), "1 minute");
        assert_eq!(wait_text(61), "2 minutes");
        assert_eq!(wait_text(900), "15 minutes");
    }

    #[test]
    fn next_is_carried_only_when_not_the_default() {
        assert_eq!(with_next("/login", "/topics"), "/login");
        assert_eq!(
            with_next("/login", "/jobs?x=1"),
            "/login?next=%2Fjobs%3Fx%3D1"
        );
    }
}
