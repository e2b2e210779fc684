//! Who is calling, and what they may touch.
//!
//! Every `/api/topics...` route and every page sits behind [`require_user`] (API) or
//! [`require_page_user`] (pages): they authenticate the caller (a bearer token, else the
//! session cookie; with `QUIZMASTER_AUTH=off` always the built-in local user). That the
//! caller owns the topic in the address is part of extracting the ids
//! ([`crate::http::extract::Ids`], [`crate::http::ui`]'s `PageIds`): a handler gets no
//! `TopicId` from its path before the core has checked it, whatever the route's parameter is
//! named. Someone else's topic answers exactly as a missing one does
//! (`404 topic_not_found`), so ids leak nothing.
//!
//! Cross-site requests: [`refuse_cross_site`] turns away state-changing requests that a browser
//! says come from another site, unless they carry a bearer token (which a foreign page cannot
//! make a browser send). Cookies are also `SameSite=Lax`; the check is the second lock.

use crate::core::{AccountRules, CredentialKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use crate::accounts::hash_secret;
use crate::accounts::throttle::{Throttle, ThrottlePolicy};
use crate::config::{AccountsConfig, AuthMode, SignupMode, Toggle};
use crate::db::GenerationLimits;
use crate::domain::time::now_ms;
use crate::domain::{SessionId, TokenId, User, UserId};
use crate::http::error::ApiError;
use crate::http::streams::StreamCaps;
use crate::http::ui::UiError;
use crate::http::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "qm_session";

/// How long a checked session or token is believed without asking the database again. In this
/// process a log-out or a revoke forgets it at once; another process sharing the database may
/// go on accepting a revoked credential for at most this long.
const CREDENTIAL_CACHE_MS: i64 = 5_000;
const CREDENTIAL_CACHE_MAX: usize = 16_384;

/// The accounts settings and the state the checks keep.
pub struct AuthState {
    pub mode: AuthMode,
    pub signup: SignupMode,
    pub limits: GenerationLimits,
    pub session_ttl_ms: i64,
    pub throttle: Throttle,
    /// Take the client's address from `X-Forwarded-For` (behind a reverse proxy).
    pub trust_proxy: bool,
    /// The caps on SSE streams and long polls.
    pub streams: Arc<StreamCaps>,
    /// Secret hash → the caller it proved and until when that answer is believed.
    credentials: Mutex<HashMap<String, (CurrentUser, i64)>>,
}

impl AuthState {
    pub fn new(config: &AccountsConfig) -> Self {
        Self {
            mode: config.auth,
            signup: config.signup,
            limits: config.generation_limits(),
            session_ttl_ms: i64::try_from(config.session_days).unwrap_or(30) * 24 * 3600 * 1000,
            throttle: Throttle::new(ThrottlePolicy {
                signups_per_hour: i64::from(config.signups_per_hour),
                ..ThrottlePolicy::default()
            }),
            trust_proxy: config.trust_proxy == Toggle::On,
            streams: {
                let (per_user, per_client) = config.stream_caps();
                StreamCaps::new(per_user, per_client)
            },
            credentials: Mutex::new(HashMap::new()),
        }
    }

    fn cached_caller(&self, secret_hash: &str, now: i64) -> Option<CurrentUser> {
        let credentials = lock(&self.credentials);
        let (caller, until) = credentials.get(secret_hash)?;
        (*until > now).then(|| caller.clone())
    }

    fn remember_caller(&self, secret_hash: String, caller: &CurrentUser, now: i64) {
        let mut credentials = lock(&self.credentials);
        if credentials.len() >= CREDENTIAL_CACHE_MAX {
            credentials.retain(|_, (_, until)| *until > now);
            if credentials.len() >= CREDENTIAL_CACHE_MAX {
                credentials.clear();
            }
        }
        credentials.insert(secret_hash, (caller.clone(), now + CREDENTIAL_CACHE_MS));
    }

    fn forget_caller(&self, secret_hash: &str) {
        lock(&self.credentials).remove(secret_hash);
    }

    /// After a log-out or a revoke: nothing checked before is believed any more.
    pub fn forget_credentials(&self) {
        lock(&self.credentials).clear();
    }

    pub fn enabled(&self) -> bool {
        self.mode == AuthMode::On
    }

    /// The settings the core's account operations take.
    pub fn rules(&self) -> AccountRules<'_> {
        AccountRules {
            enabled: self.enabled(),
            signup_open: self.signup != SignupMode::Closed,
            session_ttl_ms: self.session_ttl_ms,
            throttle: &self.throttle,
        }
    }
}

/// A panic while holding one of these locks leaves only a cache behind, which is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What proved who the caller is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// `QUIZMASTER_AUTH=off`: the built-in local user, no credential at all.
    Local,
    /// A log-in session (the cookie), by its public id.
    Session(SessionId),
    /// An API token (`Authorization: Bearer`), by its id.
    Token(TokenId),
}

/// The authenticated caller, put in the request's extensions by the access layers.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub credential: Credential,
}

impl CurrentUser {
    pub fn id(&self) -> Uuid {
        self.user.id
    }

    /// [`Self::id`], typed: what the core and the store take.
    pub fn user_id(&self) -> UserId {
        UserId(self.user.id)
    }
}

/// The bearer token of `Authorization`, if the header is there (`Some("")` when malformed).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().unwrap_or("");
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    Some(if scheme.eq_ignore_ascii_case("bearer") {
        token.trim()
    } else {
        ""
    })
}

/// The value of the session cookie, if sent.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Who the request comes from. `Ok(None)` when it carries no valid credential; a bearer token
/// that is not (or no longer) valid is an error of its own, so scripts learn why.
///
/// A credential checked in the last few seconds is believed from the cache, except with
/// `fresh` (every state-changing request): then the database is asked, so that a session ended
/// or a token revoked by any process is refused at once for anything that changes data.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    fresh: bool,
) -> Result<Option<CurrentUser>, ApiError> {
    if !state.auth.enabled() {
        return Ok(Some(CurrentUser {
            user: User::local(),
            credential: Credential::Local,
        }));
    }
    let now = now_ms();
    if let Some(token) = bearer_token(headers) {
        if token.is_empty() {
            return Err(ApiError::InvalidToken);
        }
        let hash = hash_secret(token);
        if !fresh {
            if let Some(caller) = state.auth.cached_caller(&hash, now) {
                return Ok(Some(caller));
            }
        }
        let Some(found) = state
            .core
            .credential(CredentialKind::ApiToken, &hash, now)
            .await?
        else {
            state.auth.forget_caller(&hash);
            return Err(ApiError::InvalidToken);
        };
        let caller = CurrentUser {
            user: found.user,
            credential: Credential::Token(TokenId(found.id)),
        };
        state.auth.remember_caller(hash, &caller, now);
        return Ok(Some(caller));
    }
    let Some(session) = session_cookie(headers) else {
        return Ok(None);
    };
    let hash = hash_secret(session);
    if !fresh {
        if let Some(caller) = state.auth.cached_caller(&hash, now) {
            return Ok(Some(caller));
        }
    }
    let caller = state
        .core
        .credential(CredentialKind::Session, &hash, now)
        .await?
        .map(|found| CurrentUser {
            user: found.user,
            credential: Credential::Session(SessionId(found.id)),
        });
    match &caller {
        Some(caller) => state.auth.remember_caller(hash, caller, now),
        None => state.auth.forget_caller(&hash),
    }
    Ok(caller)
}

/// Whether a request may change state, and so must not be authenticated from the cache.
pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Who the caller is: what both access layers check. Whether the caller owns the topic in the
/// address is checked where the ids are extracted ([`crate::http::extract::Ids`]).
async fn admit(
    method: &Method,
    headers: &HeaderMap,
    state: &AppState,
) -> Result<CurrentUser, ApiError> {
    authenticate(state, headers, changes_state(method))
        .await?
        .ok_or(ApiError::Unauthenticated)
}

/// The API's access layer: `401 unauthenticated` without a valid credential, `404` for a topic
/// of someone else's.
pub async fn require_user(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match admit(request.method(), request.headers(), &state).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(err) => err.into_response(),
    }
}

/// The pages' access layer: without a session, to the log-in page (and back afterwards);
/// someone else's topic is the same "Page not found" as a missing one.
pub async fn require_page_user(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match admit(request.method(), request.headers(), &state).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(ApiError::Unauthenticated | ApiError::InvalidToken) => {
            Redirect::to(&login_url_for(&request)).into_response()
        }
        Err(err) => page_error(err).into_response(),
    }
}

fn page_error(err: ApiError) -> UiError {
    UiError::from(err)
}

/// `/login?next=...` back to this page (a GET page; a form post goes back to the list).
fn login_url_for(request: &Request) -> String {
    let next = if request.method() == Method::GET {
        request
            .uri()
            .path_and_query()
            .map_or("/topics", |pq| pq.as_str())
    } else {
        "/topics"
    };
    format!(
        "/login?{}",
        serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
    )
}

/// Whether a browser says this request comes from another site. Browsers send
/// `Sec-Fetch-Site`; older ones send `Origin`, which must then name this origin: the same
/// scheme (`https` when a proxy says so with `X-Forwarded-Proto`, else `http`) and the same
/// host and port (default ports may be left out). Clients that send neither (curl, scripts)
/// are not a browser acting for someone else.
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match (header_str("sec-fetch-site"), header_str("origin")) {
        (Some(site), _) => site != "same-origin" && site != "none",
        (None, Some(origin)) => {
            let scheme = if is_https(headers) { "https" } else { "http" };
            let host = header_str("host").unwrap_or("");
            !same_origin(origin, scheme, host)
        }
        (None, None) => false,
    }
}

/// Whether `origin` (`scheme://host[:port]`) is `scheme` and `host` (the `Host` header).
fn same_origin(origin: &str, scheme: &str, host: &str) -> bool {
    let Some((origin_scheme, origin_host)) = origin.trim().split_once("://") else {
        return false;
    };
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let bare = |h: &str| {
        let h = h.trim().to_ascii_lowercase();
        match h.strip_suffix(default_port) {
            Some(stripped) => stripped.to_string(),
            None => h,
        }
    };
    !host.is_empty()
        && origin_scheme.eq_ignore_ascii_case(scheme)
        && bare(origin_host) == bare(host)
}

/// Refuses state-changing requests from other sites, except those with a non-empty bearer
/// token (which a foreign page cannot make a browser send; `Basic` credentials, by contrast, a
/// browser adds by itself): JSON `403 cross_site_request` under `/api`, an HTML page elsewhere.
pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let bearer = bearer_token(request.headers()).is_some_and(|token| !token.is_empty());
    if !safe && !bearer && is_cross_site(request.headers()) {
        return if request.uri().path().starts_with("/api/") {
            ApiError::CrossSiteRequest.into_response()
        } else {
            UiError::Status(
                StatusCode::FORBIDDEN,
                "This form was sent from another site, so it was refused.".into(),
            )
            .into_response()
        };
    }
    next.run(request).await
}

/// Whether the request reached us over HTTPS (directly or through a proxy that says so), in
/// which case the session cookie is marked `Secure`.
fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` that starts a session.
pub fn session_cookie_header(headers: &HeaderMap, secret: &str, ttl_ms: i64) -> HeaderValue {
    let secure = if is_https(headers) { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        ttl_ms / 1000
    );
    // The secret is URL-safe base64, so the value is always a valid header.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` that ends a session.
pub fn clear_session_cookie(headers: &HeaderMap) -> HeaderValue {
    let secure = if is_https(headers) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; qm_session=qms_abc ; b=2")]);
        assert_eq!(session_cookie(&h), Some("qms_abc"));
        assert_eq!(session_cookie(&headers(&[("cookie", "qm_session=")])), None);
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        assert_eq!(
            bearer_token(&headers(&[("authorization", "bearer qmt_x")])),
            Some("qmt_x")
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Basic Zm9v")])),
            Some("")
        );
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn cross_site_is_told_by_fetch_metadata_or_origin() {
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!is_cross_site(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(is_cross_site(&headers(&[
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(!is_cross_site(&headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(!is_cross_site(&HeaderMap::new()));
    }

    #[test]
    fn the_origin_must_match_scheme_and_host() {
        let host = ("host", "127.0.0.1:8080");
        assert!(is_cross_site(&headers(&[
            ("origin", "https://127.0.0.1:8080"),
            host
        ])));
        assert!(is_cross_site(&headers(&[
            ("origin", "http://127.0.0.1:8081"),
            host
        ])));
        assert!(is_cross_site(&headers(&[("origin", "null"), host])));
        assert!(!is_cross_site(&headers(&[
            ("origin", "https://quiz.example"),
            ("host", "quiz.example"),
            ("x-forwarded-proto", "https")
        ])));
        assert!(is_cross_site(&headers(&[
            ("origin", "http://quiz.example"),
            ("host", "quiz.example"),
            ("x-forwarded-proto", "https")
        ])));
        assert!(!is_cross_site(&headers(&[
            ("origin", "http://Quiz.Example:80"),
            ("host", "quiz.example")
        ])));
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_behind_https() {
        let plain = session_cookie_header(&HeaderMap::new(), "qms_x", 86_400_000);
        let plain = plain.to_str().expect("ascii");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(plain.contains("Max-Age=86400") && !plain.contains("Secure"));
        let https =
            session_cookie_header(&headers(&[("x-forwarded-proto", "https")]), "qms_x", 1000);
        assert!(https.to_str().expect("ascii").ends_with("; Secure"));
    }
}
