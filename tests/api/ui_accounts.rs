//! The web UI with accounts on, over real HTTP and without a browser: the sign-up, log-in,
//! log-out and API-token pages, where log-in sends people (and where it refuses to), what one
//! user's pages show of another's work, cross-site form posts, escaping, and the jobs page of
//! an admin and of anyone else. The session cookie is handled by hand, as a browser would.

use std::time::Duration;

use quizmaster::config::{AccountsConfig, SignupMode};
use reqwest::{redirect, Client, Response};
use serde_json::{json, Value};

use crate::helpers::*;

const PASSWORD: &str = "correct horse battery";
const STRICT_CSP: [&str; 4] = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "frame-ancestors 'none'",
];

fn accounts_on() -> Settings {
    Settings {
        accounts: AccountsConfig::default(),
        ..Settings::default()
    }
}

/// A browser of one person: no automatic redirects, and the session cookie sent when it has one.
struct Visitor<'a> {
    app: &'a TestApp,
    client: Client,
    cookie: Option<String>,
}

impl<'a> Visitor<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .expect("client"),
            cookie: None,
        }
    }

    fn with_cookie(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }

    async fn get(&self, path: &str) -> Response {
        self.with_cookie(self.client.get(self.app.url(path)))
            .send()
            .await
            .expect("get")
    }

    async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.post_form_with(path, fields, None).await
    }

    async fn post_form_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Response {
        let body = serde_urlencoded::to_string(fields).expect("form");
        let mut request = self
            .with_cookie(self.client.post(self.app.url(path)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send().await.expect("post")
    }

    async fn post_json(&self, path: &str, body: Value) -> Response {
        self.with_cookie(self.client.post(self.app.url(path)))
            .json(&body)
            .send()
            .await
            .expect("post")
    }

    async fn html(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.expect("html")
    }

    /// Signs up through the page and keeps the session cookie it sets.
    async fn sign_up(&mut self, email: &str) {
        let response = self
            .post_form("/signup", &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(response.status(), 303, "sign-up of {email}");
        assert_eq!(location(&response), "/topics");
        self.cookie = Some(session_pair(&response));
    }

    async fn create_topic(&self, title: &str) -> String {
        let response = self.post_json("/api/topics", json!({"title": title})).await;
        assert_eq!(response.status(), 201, "create {title}");
        let topic: Value = response.json().await.expect("topic");
        str_of(&topic, "id").to_string()
    }

    async fn start_generation(&self, topic_id: &str, target: i64) -> String {
        let response = self
            .post_json(
                &format!("/api/topics/{topic_id}/blueprints/generate"),
                json!({"target_terminal_objectives": target}),
            )
            .await;
        assert_eq!(response.status(), 202, "generate");
        let status: Value = response.json().await.expect("status");
        str_of(&status, "id").to_string()
    }

    async fn wait_terminal(&self, topic_id: &str, blueprint_id: &str) {
        let path = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/status");
        let ended = poll_until(
            Duration::from_secs(20),
            || async { self.get(&path).await.json::<Value>().await.expect("status") },
            |s| {
                matches!(
                    s["status"].as_str(),
                    Some("completed" | "cancelled" | "error")
                )
            },
        )
        .await;
        assert!(ended.is_ok(), "ended: {ended:?}");
    }
}

fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location")
        .to_string()
}

/// `qm_session=...`, as a browser sends it back.
fn session_pair(response: &Response) -> String {
    session_set_cookie(response)
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn pages_need_a_log_in_and_sign_up_sets_a_safe_cookie(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    let mut ada = Visitor::new(&app);
    for (path, next) in [
        ("/topics", "/login?next=%2Ftopics"),
        ("/jobs", "/login?next=%2Fjobs"),
        ("/account/tokens", "/login?next=%2Faccount%2Ftokens"),
    ] {
        let response = ada.get(path).await;
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(location(&response), next, "{path}");
    }

    let page = ada.get("/signup").await;
    assert_eq!(page.status(), 200);
    let csp = header(&page, "content-security-policy");
    assert!(STRICT_CSP.iter().all(|d| csp.contains(d)), "{csp}");
    let html = page.text().await.expect("html");
    assert!(html.contains("action=\"/signup\"") && html.contains("type=\"password\""));
    assert!(
        !html.contains("Log out"),
        "no user menu for anonymous people"
    );

    // Bad values come back at their fields, with the email typed kept.
    let bad = ada
        .post_form(
            "/signup",
            &[("email", "ada@example"), ("password", "short")],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.expect("html");
    assert!(
        html.contains("Email must look like name@example.org."),
        "{html}"
    );
    assert!(html.contains("Password must be at least 10 characters."));
    assert!(html.contains("value=\"ada@example\""));

    let response = ada
        .post_form(
            "/signup",
            &[("email", " Ada@Example.org "), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/topics");
    let line = session_set_cookie(&response);
    assert!(line.contains("HttpOnly"), "{line}");
    assert!(line.contains("SameSite=Lax"), "{line}");
    assert!(line.contains("Path=/"), "{line}");
    ada.cookie = Some(session_pair(&response));

    // The header shows who is logged in, the tokens link and the log-out button.
    let html = ada.html("/topics").await;
    assert!(html.contains("ada@example.org"));
    assert!(html.contains("href=\"/account/tokens\""));
    assert!(html.contains("action=\"/logout\"") && html.contains("Log out"));

    // The same email again, from another browser: 409 and a clear message.
    let taken = Visitor::new(&app)
        .post_form(
            "/signup",
            &[("email", "ada@example.org"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(taken.status(), 409);
    assert!(taken
        .text()
        .await
        .expect("html")
        .contains("An account with this email already exists."));

    // Someone already logged in has nothing to do on the log-in and sign-up pages.
    for path in ["/login", "/signup"] {
        let response = ada.get(path).await;
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(location(&response), "/topics");
    }
    app.stop().await;
}

async fn log_in_goes_to_next_only_on_this_site_and_log_out_ends_the_session(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    let mut ada = Visitor::new(&app);
    ada.sign_up("ada@example.org").await;
    let first_session = ada.cookie.clone();

    let anonymous = Visitor::new(&app);
    // The log-in page carries `next` in its form.
    let html = anonymous.html("/login?next=%2Fjobs").await;
    assert!(html.contains("name=\"next\" value=\"/jobs\""), "{html}");
    // A foreign `next` is not even put in the form.
    let html = anonymous.html("/login?next=%2F%2Fevil.example").await;
    assert!(html.contains("name=\"next\" value=\"/topics\""));
    assert!(!html.contains("evil.example"));

    // A wrong password and an unknown email get the same 401 and the same words.
    for (email, password) in [
        ("ada@example.org", "wrong password!"),
        ("nobody@example.org", PASSWORD),
    ] {
        let response = anonymous
            .post_form("/login", &[("email", email), ("password", password)])
            .await;
        assert_eq!(response.status(), 401, "{email}");
        assert!(response.headers().get("set-cookie").is_none());
        let html = response.text().await.expect("html");
        assert!(html.contains("The email or password is not right."));
        assert!(
            html.contains(&format!("value=\"{email}\"")),
            "the email is kept"
        );
        assert!(!html.contains(password), "the password is not");
    }
    let empty = anonymous
        .post_form("/login", &[("email", ""), ("password", "")])
        .await;
    assert_eq!(empty.status(), 422);
    assert!(empty
        .text()
        .await
        .expect("html")
        .contains("Enter your email."));

    let login = |next: &'static str| {
        let anonymous = &anonymous;
        async move {
            anonymous
                .post_form(
                    "/login",
                    &[
                        ("email", "ada@example.org"),
                        ("password", PASSWORD),
                        ("next", next),
                    ],
                )
                .await
        }
    };
    let response = login("/jobs").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/jobs");
    assert!(session_set_cookie(&response).contains("HttpOnly"));
    // Anything that would leave this site goes to the topics instead.
    for hostile in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "http:evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "",
    ] {
        let response = login(hostile).await;
        assert_eq!(response.status(), 303, "{hostile:?}");
        assert_eq!(location(&response), "/topics", "{hostile:?}");
    }
    // Already logged in, GET /login goes straight on, and still not to another site.
    for (path, to) in [
        ("/login?next=%2Fjobs", "/jobs"),
        ("/login?next=https%3A%2F%2Fevil.example", "/topics"),
        ("/login?next=%2F%2Fevil.example", "/topics"),
    ] {
        let response = ada.get(path).await;
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(location(&response), to, "{path}");
    }

    // The log-out page only asks: a GET (a link, a prefetch) changes nothing.
    let confirm = ada.get("/logout").await;
    assert_eq!(confirm.status(), 200);
    let html = confirm.text().await.expect("html");
    assert!(html.contains(r#"<form class="card form auth-card" method="post" action="/logout">"#));
    assert_eq!(ada.get("/topics").await.status(), 200, "still logged in");

    // Log out: the session ends on the server, the cookie is cleared, and the log-in page is next.
    let out = ada.post_form("/logout", &[]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), "/login");
    let cleared = session_set_cookie(&out);
    assert!(
        cleared.starts_with("qm_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    ada.cookie = first_session;
    let after = ada.get("/topics").await;
    assert_eq!(after.status(), 303, "the old cookie no longer works");
    assert_eq!(location(&after), "/login?next=%2Ftopics");
    app.stop().await;
}

async fn repeated_failed_log_ins_get_429_with_retry_after(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    let mut ada = Visitor::new(&app);
    ada.sign_up("ada@example.org").await;
    let anonymous = Visitor::new(&app);
    let attempt = |password: &'static str| {
        let anonymous = &anonymous;
        async move {
            anonymous
                .post_form(
                    "/login",
                    &[("email", "ada@example.org"), ("password", password)],
                )
                .await
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(attempt("not the password").await.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    let throttled = attempt(PASSWORD).await;
    assert_eq!(throttled.status(), 429, "even the right password waits");
    let wait: u64 = header(&throttled, "retry-after").parse().expect("seconds");
    assert!((1..=900).contains(&wait), "{wait}");
    let html = throttled.text().await.expect("html");
    assert!(
        html.contains("Too many failed log-in attempts. Wait"),
        "{html}"
    );
    assert!(html.contains("minute") || html.contains("second"));
    app.stop().await;
}

async fn nobody_sees_anybody_elses_pages(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    let mut ada = Visitor::new(&app);
    ada.sign_up("ada@example.org").await;
    let mut bob = Visitor::new(&app);
    bob.sign_up("bob@example.org").await;

    let topic = ada.create_topic("Ada secret topic").await;
    let blueprint = ada.start_generation(&topic, 2).await;
    ada.wait_terminal(&topic, &blueprint).await;
    let pages = [
        format!("/topics/{topic}"),
        format!("/topics/{topic}/blueprints/generate"),
        format!("/topics/{topic}/blueprints/generate-status?blueprint={blueprint}"),
        format!("/topics/{topic}/blueprints/{blueprint}"),
    ];
    for page in &pages {
        assert_eq!(ada.get(page).await.status(), 200, "Ada sees {page}");
        let response = bob.get(page).await;
        assert_eq!(response.status(), 404, "Bob gets 404 for {page}");
        let html = response.text().await.expect("html");
        assert!(html.contains("Page not found"));
        assert!(!html.contains("secret topic"));
    }
    // Nor can Bob act on it through the forms.
    let start = bob
        .post_form(
            &format!("/topics/{topic}/blueprints/generate"),
            &[("target_terminal_objectives", "3")],
        )
        .await;
    assert_eq!(start.status(), 404);
    let cancel = bob
        .post_form(
            &format!("/topics/{topic}/blueprints/{blueprint}/cancel"),
            &[],
        )
        .await;
    assert_eq!(cancel.status(), 404);
    assert!(cancel
        .text()
        .await
        .expect("html")
        .contains("Page not found"));
    // Ada's generation is as it was (not cancelled, not gone).
    let status = ada
        .get(&format!(
            "/api/topics/{topic}/blueprints/{blueprint}/status"
        ))
        .await;
    assert_eq!(status.status(), 200);
    assert_ne!(
        status.json::<Value>().await.expect("status")["status"],
        "cancelled"
    );

    // A malformed id in a page's address is the same HTML "Page not found", never the API's
    // JSON error, for the owner too.
    let malformed = [
        "/topics/not-a-uuid".to_string(),
        "/topics/not-a-uuid/blueprints/generate".to_string(),
        format!("/topics/{topic}/blueprints/not-a-uuid"),
        format!("/topics/not-a-uuid/blueprints/{blueprint}"),
        format!("/topics/{topic}/blueprints/generate-status?blueprint=not-a-uuid"),
    ];
    for page in &malformed {
        let response = ada.get(page).await;
        assert_eq!(response.status(), 404, "{page}");
        assert!(
            header(&response, "content-type").starts_with("text/html"),
            "{page}"
        );
        assert!(response
            .text()
            .await
            .expect("html")
            .contains("Page not found"));
    }
    for post in [
        format!("/topics/{topic}/blueprints/not-a-uuid/cancel"),
        "/topics/not-a-uuid/blueprints/generate".to_string(),
        "/account/tokens/not-a-uuid/revoke".to_string(),
        "/account/sessions/not-a-uuid/end".to_string(),
    ] {
        let response = ada.post_form(&post, &[]).await;
        assert_eq!(response.status(), 404, "{post}");
        assert!(response
            .text()
            .await
            .expect("html")
            .contains("Page not found"));
    }

    assert!(ada.html("/topics").await.contains("Ada secret topic"));
    let bobs = bob.html("/topics").await;
    assert!(!bobs.contains("secret topic"), "not in Bob's list");
    assert!(bobs.contains("No topics yet"));
    app.stop().await;
}

async fn a_foreign_origin_cannot_post_with_the_cookie(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    let mut ada = Visitor::new(&app);
    ada.sign_up("ada@example.org").await;
    let fields = [("title", "Planted")];
    for path in ["/topics", "/logout", "/account/tokens"] {
        let response = ada
            .post_form_with(path, &fields, Some("http://evil.example"))
            .await;
        assert_eq!(response.status(), 403, "{path}");
        assert!(response
            .text()
            .await
            .expect("html")
            .contains("sent from another site"));
    }
    let list: Value = ada.get("/api/topics").await.json().await.expect("list");
    assert_eq!(list["items"], json!([]), "nothing was created");
    assert_eq!(ada.get("/topics").await.status(), 200, "still logged in");
    // The same form from this site's own origin goes through.
    let own = ada
        .post_form_with("/topics", &fields, Some(&app.base))
        .await;
    assert_eq!(own.status(), 303);
    app.stop().await;
}

async fn a_hostile_title_is_escaped_under_a_strict_policy(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    let mut ada = Visitor::new(&app);
    ada.sign_up("ada@example.org").await;
    let hostile = "<script>alert(1)</script><img src=x onerror=alert(1)>";
    let created = ada.post_form("/topics", &[("title", hostile)]).await;
    assert_eq!(created.status(), 303);
    let topic_page = location(&created);
    for path in [topic_page.as_str(), "/topics"] {
        let response = ada.get(path).await;
        assert_eq!(response.status(), 200);
        let csp = header(&response, "content-security-policy");
        assert!(STRICT_CSP.iter().all(|d| csp.contains(d)), "{csp}");
        let html = response.text().await.expect("html");
        assert!(!html.contains("<script>"), "no raw script tag in {path}");
        assert!(!html.contains("<img src=x"), "no raw img tag in {path}");
        assert!(html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"));
    }
    app.stop().await;
}

async fn api_tokens_are_shown_once_listed_without_secret_and_revocable(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    let mut ada = Visitor::new(&app);
    ada.sign_up("ada@example.org").await;
    let empty = ada.html("/account/tokens").await;
    assert!(empty.contains("No tokens yet"));

    let invalid = ada.post_form("/account/tokens", &[("name", "   ")]).await;
    assert_eq!(invalid.status(), 422);
    assert!(invalid
        .text()
        .await
        .expect("html")
        .contains("Name must not be empty."));

    let created = ada
        .post_form("/account/tokens", &[("name", "backup script <1>")])
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "cache-control"), "no-store");
    let html = created.text().await.expect("html");
    let start = html.find("qmt_").expect("the token on the page");
    let token: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    assert_eq!(token.len(), 4 + 43, "{token}");
    assert!(html.contains("the only time it is shown"));
    assert!(html.contains("backup script &lt;1&gt;") || html.contains("backup script &#60;1&#62;"));

    // The token works on the API.
    let me = app
        .request(reqwest::Method::GET, "/api/auth/me")
        .bearer_auth(&token)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);

    // Listed afterwards, with its use, but never the secret again.
    let listed = ada.html("/account/tokens").await;
    assert!(
        listed.contains("backup script &lt;1&gt;") || listed.contains("backup script &#60;1&#62;")
    );
    assert!(!listed.contains(&token) && !listed.contains("qmt_"));
    assert!(!listed.contains(">Never<"), "last used is shown");

    // Someone else cannot revoke it.
    let tokens: Value = ada
        .get("/api/auth/tokens")
        .await
        .json()
        .await
        .expect("tokens");
    let id = tokens["items"][0]["id"].as_str().expect("id").to_string();
    let mut bob = Visitor::new(&app);
    bob.sign_up("bob@example.org").await;
    let foreign = bob
        .post_form(&format!("/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(foreign.status(), 303);
    assert_eq!(
        location(&foreign),
        "/account/tokens",
        "no claim it was revoked"
    );
    assert!(!bob.html("/account/tokens").await.contains("backup script"));

    let revoked = ada
        .post_form(&format!("/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(location(&revoked), "/account/tokens?notice=revoked");
    let after = ada.html("/account/tokens?notice=revoked").await;
    assert!(after.contains("The token was revoked"));
    assert!(!after.contains("backup script"));
    let refused = app
        .request(reqwest::Method::GET, "/api/auth/me")
        .bearer_auth(&token)
        .send()
        .await
        .expect("me");
    assert_eq!(refused.status(), 401);
    assert_eq!(
        ada.post_form("/account/tokens/not-a-uuid/revoke", &[])
            .await
            .status(),
        404
    );
    app.stop().await;
}

async fn jobs_show_an_admin_everyone_and_anyone_else_their_own(backend: Backend) {
    let app = spawn_app_with(backend, accounts_on()).await;
    // The first account is the admin.
    let mut admin = Visitor::new(&app);
    admin.sign_up("admin@example.org").await;
    let mut bob = Visitor::new(&app);
    bob.sign_up("bob@example.org").await;

    let admins_topic = admin.create_topic("Admin algebra").await;
    let admins_job = admin.start_generation(&admins_topic, 2).await;
    let bobs_topic = bob.create_topic("Bob botany").await;
    let bobs_job = bob.start_generation(&bobs_topic, 2).await;
    admin.wait_terminal(&admins_topic, &admins_job).await;
    bob.wait_terminal(&bobs_topic, &bobs_job).await;

    for path in ["/jobs", "/jobs?fragment=table"] {
        let own = bob.html(path).await;
        assert!(own.contains("Bob botany"), "{path}");
        assert!(
            !own.contains("Admin algebra"),
            "{path}: only Bob's own jobs"
        );
        assert!(!own.contains(">Owner<"), "{path}: no owner column");
        assert!(own.contains(&format!("href=\"/topics/{bobs_topic}\"")));

        let all = admin.html(path).await;
        assert!(
            all.contains("Bob botany") && all.contains("Admin algebra"),
            "{path}"
        );
        assert!(all.contains(">Owner<"), "{path}: an owner column");
        assert!(all.contains("bob@example.org") && all.contains("admin@example.org"));
        // Only the admin's own topic is linked: Bob's pages are "not found" for the admin too.
        assert!(all.contains(&format!("href=\"/topics/{admins_topic}\"")));
        assert!(!all.contains(&format!("/topics/{bobs_topic}")), "{path}");
    }
    assert_eq!(
        admin.get(&format!("/topics/{bobs_topic}")).await.status(),
        404
    );
    app.stop().await;
}

async fn closed_sign_up_says_so(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            accounts: AccountsConfig {
                signup: SignupMode::Closed,
                ..AccountsConfig::default()
            },
            ..Settings::default()
        },
    )
    .await;
    let visitor = Visitor::new(&app);
    let page = visitor.html("/signup").await;
    assert!(page.contains("Sign-up is closed on this server."));
    assert!(
        !page.contains("type=\"password\""),
        "no form to fill in for nothing"
    );
    let login = visitor.html("/login").await;
    assert!(
        !login.contains("href=\"/signup"),
        "no invitation to sign up"
    );
    let refused = visitor
        .post_form(
            "/signup",
            &[("email", "eve@example.org"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert!(refused.headers().get("set-cookie").is_none());
    assert!(refused
        .text()
        .await
        .expect("html")
        .contains("Sign-up is closed on this server."));
    app.stop().await;
}

/// The sign-up page past its address's hourly limit: a 429 page that says how long to wait.
async fn too_many_sign_ups_from_one_address_get_a_page_that_says_so(backend: Backend) {
    let mut accounts = AccountsConfig {
        signups_per_hour: 1,
        ..AccountsConfig::default()
    };
    // The proxy's word decides the address, so the test can speak for a distant client.
    accounts.trust_proxy = quizmaster::config::Toggle::On;
    let app = spawn_app_with(
        backend,
        Settings {
            accounts,
            ..Settings::default()
        },
    )
    .await;
    let visitor = Visitor::new(&app);
    let sign_up = |email: &'static str| {
        let body =
            serde_urlencoded::to_string([("email", email), ("password", PASSWORD)]).expect("form");
        visitor
            .client
            .post(app.url("/signup"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-for", "203.0.113.77")
            .body(body)
            .send()
    };
    assert_eq!(
        sign_up("first@example.org").await.expect("post").status(),
        303
    );
    let refused = sign_up("second@example.org").await.expect("post");
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(refused.headers().get("set-cookie").is_none());
    let html = refused.text().await.expect("html");
    assert!(
        html.contains("Too many accounts were created from your network"),
        "{html}"
    );
    app.stop().await;
}

async fn with_accounts_off_there_is_no_log_in_and_no_user_menu(backend: Backend) {
    let app = spawn_app(backend).await;
    let visitor = Visitor::new(&app);
    for path in ["/login", "/signup", "/account/tokens"] {
        let response = visitor.get(path).await;
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(location(&response), "/topics", "{path}");
    }
    let html = visitor.html("/topics").await;
    assert!(!html.contains("Log out") && !html.contains("/account/tokens"));
    assert!(!html.contains("local@localhost"));
    let jobs = visitor.html("/jobs").await;
    assert!(!jobs.contains(">Owner<"), "one user: no owner column");
    app.stop().await;
}

crate::on_both_backends!(
    pages_need_a_log_in_and_sign_up_sets_a_safe_cookie,
    log_in_goes_to_next_only_on_this_site_and_log_out_ends_the_session,
    repeated_failed_log_ins_get_429_with_retry_after,
    nobody_sees_anybody_elses_pages,
    a_foreign_origin_cannot_post_with_the_cookie,
    a_hostile_title_is_escaped_under_a_strict_policy,
    api_tokens_are_shown_once_listed_without_secret_and_revocable,
    jobs_show_an_admin_everyone_and_anyone_else_their_own,
    closed_sign_up_says_so,
    too_many_sign_ups_from_one_address_get_a_page_that_says_so,
    with_accounts_off_there_is_no_log_in_and_no_user_menu
);
