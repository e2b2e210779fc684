//! The test harness: a real `serve` (router, workers, watchdog) on a fresh SQLite file, over
//! real HTTP on a loopback port, and helpers that wait for conditions with a deadline.

use std::future::Future;
use std::time::{Duration, Instant};

use quizmaster::cli::serve::Server;
use quizmaster::config::{
    AccountsConfig, DatabaseConfig, GeneratorConfig, GeneratorKind, JobConfig, OpsConfig,
    ServeConfig,
};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{json, Value};

/// Which database a test runs on. Every API and jobs test runs on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates, for each named `async fn name(backend: Backend)`, one `#[tokio::test]` per
/// backend: `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if $crate::helpers::postgres_available().await {
                        super::$name($crate::helpers::Backend::Postgres).await
                    }
                }
            )*
        }
    };
}

/// The server the PostgreSQL tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("QUIZMASTER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Whether PostgreSQL is reachable. In CI (`CI=true`) it must be: a missing server fails the
/// test loudly instead of letting it pass without running.
pub async fn postgres_available() -> bool {
    let reachable = sqlx::PgPool::connect(&postgres_admin_url()).await.is_ok();
    if !reachable {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !in_ci,
            "PostgreSQL is not reachable at {} and CI=true: the PostgreSQL tests must run in CI",
            postgres_admin_url()
        );
        eprintln!(
            "SKIPPED: PostgreSQL is not reachable at {}; this test did not run",
            postgres_admin_url()
        );
    }
    reachable
}

/// A fresh, empty database for one test: a SQLite file in a temp dir, or a new PostgreSQL
/// database (dropped again by `drop_database`).
pub struct TestDatabase {
    pub url: String,
    postgres_name: Option<String>,
    _dir: tempfile::TempDir,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}", dir.path().join("test.db").display()),
                postgres_name: None,
                _dir: dir,
            },
            Backend::Postgres => {
                let name = format!("qm_test_{}", uuid::Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(&postgres_admin_url())
                    .await
                    .expect("admin connection");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&admin)
                    .await
                    .expect("create the test database");
                admin.close().await;
                let base = postgres_admin_url();
                let server = base
                    .rsplit_once('/')
                    .map(|(server, _)| server)
                    .unwrap_or(&base);
                Self {
                    url: format!("{server}/{name}"),
                    postgres_name: Some(name),
                    _dir: dir,
                }
            }
        }
    }

    pub async fn drop_database(&self) {
        if let Some(name) = &self.postgres_name {
            if let Ok(admin) = sqlx::PgPool::connect(&postgres_admin_url()).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&admin)
                .await;
                admin.close().await;
            }
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    server: Option<Server>,
    database: TestDatabase,
}

/// Settings a test may change; everything else is the production default.
#[derive(Clone)]
pub struct Settings {
    pub workers: usize,
    pub pace_ms: u64,
    pub timeout_secs: u64,
    pub lease_secs: u64,
    pub max_attempts: i64,
    /// Accounts: off and unlimited unless a test is about accounts.
    pub accounts: AccountsConfig,
    /// Operations: retention, the metrics token, connection limits.
    pub ops: OpsConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            workers: 4,
            pace_ms: 0,
            timeout_secs: 600,
            lease_secs: 30,
            max_attempts: 3,
            accounts: AccountsConfig::local_unlimited(),
            ops: OpsConfig::default(),
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Settings::default()).await
}

pub async fn spawn_app_with(backend: Backend, settings: Settings) -> TestApp {
    spawn_app_on(TestDatabase::create(backend).await, settings).await
}

/// A server on a database the test has already filled (through the store, say); the app
/// drops it again on `stop`.
pub async fn spawn_app_on(database: TestDatabase, settings: Settings) -> TestApp {
    let config = ServeConfig {
        bind: "127.0.0.1:0".parse().expect("address"),
        database: DatabaseConfig::new(database.url.clone()),
        jobs: JobConfig {
            workers: settings.workers,
            generation_timeout_secs: settings.timeout_secs,
            lease_secs: settings.lease_secs,
            max_attempts: settings.max_attempts,
            shutdown_grace_secs: 0,
        },
        generator: GeneratorConfig {
            generator: GeneratorKind::Offline,
            offline_pace_ms: settings.pace_ms,
            ..GeneratorConfig::default()
        },
        ops: settings.ops,
        accounts: settings.accounts,
    };
    let server = Server::start(config).await.expect("server starts");
    TestApp {
        base: format!("http://{}", server.address),
        client: Client::new(),
        server: Some(server),
        database,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn create_topic(&self, title: &str) -> Value {
        // A source rich enough for the offline generator to write up to 30 terminal objectives.
        let response = self
            .post_json(
                "/api/topics",
                json!({"title": title, "description": "About it", "source_text": LECTURE}),
            )
            .await;
        assert_eq!(response.status(), 201);
        response.json().await.expect("topic json")
    }

    /// Starts a generation and returns the status view of the 202.
    pub async fn start_generation(&self, topic_id: &str, target: i64) -> Value {
        let response = self
            .post_json(
                &format!("/api/topics/{topic_id}/blueprints/generate"),
                json!({"target_terminal_objectives": target}),
            )
            .await;
        assert_eq!(response.status(), 202, "generate");
        response.json().await.expect("status json")
    }

    /// How many blueprints the topic has (the first page of its listing).
    pub async fn blueprint_count(&self, topic_id: &str) -> usize {
        let response = self
            .get(&format!("/api/topics/{topic_id}/blueprints"))
            .await;
        assert_eq!(response.status(), 200);
        let list: Value = response.json().await.expect("list json");
        list["items"].as_array().map_or(0, Vec::len)
    }

    pub async fn status(&self, topic_id: &str, blueprint_id: &str) -> Value {
        let response = self
            .get(&format!(
                "/api/topics/{topic_id}/blueprints/{blueprint_id}/status"
            ))
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("status json")
    }

    /// Polls the status until `done` holds, failing after `deadline`.
    pub async fn wait_for_status(
        &self,
        topic_id: &str,
        blueprint_id: &str,
        deadline: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        match poll_until(deadline, || self.status(topic_id, blueprint_id), done).await {
            Ok(last) => last,
            Err(last) => panic!("condition not met within {deadline:?}; last status: {last}"),
        }
    }

    pub async fn wait_terminal(&self, topic_id: &str, blueprint_id: &str) -> Value {
        self.wait_for_status(topic_id, blueprint_id, Duration::from_secs(20), |s| {
            matches!(
                s["status"].as_str(),
                Some("completed" | "error" | "cancelled")
            )
        })
        .await
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("clean stop");
        }
        self.database.drop_database().await;
    }
}

/// Fetches a value until `done` holds for it (`Ok`) or the deadline passes (`Err` with the
/// last value seen), 20 ms between fetches.
pub async fn poll_until<T, F, Fut>(
    deadline: Duration,
    mut fetch: F,
    done: impl Fn(&T) -> bool,
) -> Result<T, T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let start = Instant::now();
    loop {
        let value = fetch().await;
        if done(&value) {
            return Ok(value);
        }
        if start.elapsed() > deadline {
            return Err(value);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts the contract's JSON error shape and returns the body.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "status for {code}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "JSON error, got {content_type}"
    );
    let body: Value = response.json().await.expect("error json");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "a message: {body}"
    );
    body
}

pub fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {value}"))
}

/// The whole `Set-Cookie` line of the session cookie a response sets.
pub fn session_set_cookie(response: &Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("qm_session="))
        .unwrap_or_else(|| panic!("a session cookie in {:?}", response.headers()))
        .to_string()
}

/// The test topics' source text: rich enough for 30 terminal objectives (see
/// `tests/fixtures/README.md`).
pub const LECTURE: &str = include_str!("../fixtures/lecture.md");
