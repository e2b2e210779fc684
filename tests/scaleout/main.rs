//! Scale-out on PostgreSQL with real processes: API servers with workers off, and separate
//! `quizmaster worker` processes, all on one database.

#[path = "../support/child.rs"]
mod child;
#[path = "../api/helpers.rs"]
#[macro_use]
#[allow(dead_code)]
mod helpers;

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};

use child::ChildProcess;
use helpers::{poll_until, postgres_available, str_of, Backend, TestDatabase};

const API_ONLY: &[(&str, &str)] = &[("QUIZMASTER_WORKERS", "0")];

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

async fn get(client: &reqwest::Client, url: String) -> Value {
    client
        .get(url)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

async fn create_topic(client: &reqwest::Client, base: &str, title: &str) -> String {
    let (status, topic) = post(
        client,
        format!("{base}/api/topics"),
        json!({"title": title, "source_text": LECTURE}),
    )
    .await;
    assert_eq!(status, 201);
    str_of(&topic, "id").to_string()
}

/// Reads `status` events until the stream ends.
async fn read_statuses(response: reqwest::Response, deadline: Duration) -> Vec<Value> {
    let mut statuses = Vec::new();
    let mut buffer = String::new();
    let mut stream = response.bytes_stream();
    let end = tokio::time::Instant::now() + deadline;
    while let Some(chunk) = tokio::time::timeout_at(end, stream.next())
        .await
        .expect("stream ended in time")
    {
        buffer.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        while let Some(split) = buffer.find("\n\n") {
            let block: String = buffer.drain(..split + 2).collect();
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                statuses.push(serde_json::from_str(data.trim()).expect("json data"));
            }
        }
    }
    statuses
}

#[tokio::test]
async fn a_job_started_on_one_server_streams_its_events_through_the_other() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let a = ChildProcess::serve(&database.url, API_ONLY);
    let b = ChildProcess::serve(&database.url, API_ONLY);
    let _worker = ChildProcess::worker(&database.url, &[("QUIZMASTER_OFFLINE_PACE_MS", "100")]);
    let client = reqwest::Client::new();

    let topic_id = create_topic(&client, &a.base, "Across servers").await;
    let (status, started) = post(
        &client,
        format!("{}/api/topics/{topic_id}/blueprints/generate", a.base),
        json!({"target_terminal_objectives": 6}),
    )
    .await;
    assert_eq!(status, 202);
    let blueprint_id = str_of(&started, "id");
    let events = client
        .get(format!(
            "{}/api/topics/{topic_id}/blueprints/{blueprint_id}/events",
            b.base
        ))
        .send()
        .await
        .expect("events");
    let statuses = read_statuses(events, Duration::from_secs(20)).await;
    let counts: Vec<i64> = statuses
        .iter()
        .map(|s| s["terminal_objectives_count"].as_i64().unwrap_or(-1))
        .collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(
        statuses.len() >= 4,
        "progress streamed through the other server: {counts:?}"
    );
    assert_eq!(
        statuses.last().map(|s| s["status"].clone()),
        Some(json!("completed"))
    );
    drop((a, b));
    database.drop_database().await;
}

#[tokio::test]
async fn forty_concurrent_generates_over_two_servers_start_exactly_one() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let a = ChildProcess::serve(&database.url, API_ONLY);
    let b = ChildProcess::serve(&database.url, API_ONLY);
    let client = reqwest::Client::new();
    let topic_id = create_topic(&client, &a.base, "Contended").await;
    let requests = (0..40).map(|n| {
        let base = if n % 2 == 0 { &a.base } else { &b.base };
        post(
            &client,
            format!("{base}/api/topics/{topic_id}/blueprints/generate"),
            json!({"target_terminal_objectives": 2}),
        )
    });
    let results = futures::future::join_all(requests).await;
    let accepted: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 202)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(accepted.len(), 1, "{results:?}");
    let winner = str_of(accepted[0], "id");
    for (status, body) in results.iter().filter(|(s, _)| *s != 202) {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body["error"]["blueprint_id"], winner);
    }
    drop((a, b));
    database.drop_database().await;
}

#[tokio::test]
async fn a_worker_killed_mid_job_is_replaced_by_another_without_duplicates() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let worker_env = [
        ("QUIZMASTER_OFFLINE_PACE_MS", "150"),
        ("QUIZMASTER_LEASE_SECS", "1"),
    ];
    let api = ChildProcess::serve(&database.url, API_ONLY);
    let mut first = ChildProcess::worker(&database.url, &worker_env);
    let client = reqwest::Client::new();
    let topic_id = create_topic(&client, &api.base, "Worker crash").await;
    let (_, started) = post(
        &client,
        format!("{}/api/topics/{topic_id}/blueprints/generate", api.base),
        json!({"target_terminal_objectives": 10}),
    )
    .await;
    let blueprint_id = str_of(&started, "id");
    let status_url = format!(
        "{}/api/topics/{topic_id}/blueprints/{blueprint_id}/status",
        api.base
    );
    poll_until(
        Duration::from_secs(10),
        || get(&client, status_url.clone()),
        |s| s["terminal_objectives_count"].as_i64() >= Some(3),
    )
    .await
    .unwrap_or_else(|last| panic!("no progress before the kill: {last}"));
    first.kill_9();

    let second = ChildProcess::worker(&database.url, &worker_env);
    let done = poll_until(
        Duration::from_secs(20),
        || get(&client, status_url.clone()),
        |s| s["status"] == "completed",
    )
    .await
    .unwrap_or_else(|last| panic!("not completed by the second worker: {last}"));
    assert_eq!(done["attempt"], 2);
    assert!(
        second.log_count("generation started") >= 1,
        "the second worker took the job over"
    );
    let whole = get(
        &client,
        format!(
            "{}/api/topics/{topic_id}/blueprints/{blueprint_id}",
            api.base
        ),
    )
    .await;
    let terminals = whole["terminal_objectives"].as_array().expect("objectives");
    let positions: Vec<i64> = terminals
        .iter()
        .map(|t| t["position"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(positions, (1..=10).collect::<Vec<i64>>());
    let texts: HashSet<&str> = terminals.iter().map(|t| str_of(t, "text")).collect();
    assert_eq!(texts.len(), 10, "no objective stored twice");
    assert_eq!(whole["terminal_objectives_count"], 10);
    drop((api, second));
    database.drop_database().await;
}

#[tokio::test]
async fn two_hundred_jobs_over_two_worker_processes_all_complete() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let api = ChildProcess::serve(&database.url, API_ONLY);
    let worker_env = [("QUIZMASTER_WORKERS", "4")];
    let first = ChildProcess::worker(&database.url, &worker_env);
    let second = ChildProcess::worker(&database.url, &worker_env);
    let client = reqwest::Client::new();
    let mut jobs = Vec::new();
    for n in 0..200 {
        let topic_id = create_topic(&client, &api.base, &format!("Batch {n}")).await;
        let (status, started) = post(
            &client,
            format!("{}/api/topics/{topic_id}/blueprints/generate", api.base),
            json!({"target_terminal_objectives": 3}),
        )
        .await;
        assert_eq!(status, 202);
        jobs.push((topic_id, str_of(&started, "id").to_string()));
    }
    for (topic_id, blueprint_id) in &jobs {
        let url = format!(
            "{}/api/topics/{topic_id}/blueprints/{blueprint_id}/status",
            api.base
        );
        let done = poll_until(
            Duration::from_secs(60),
            || get(&client, url.clone()),
            |s| {
                matches!(
                    s["status"].as_str(),
                    Some("completed" | "error" | "cancelled")
                )
            },
        )
        .await
        .unwrap_or_else(|last| panic!("stuck: {last}"));
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["terminal_objectives_count"], 3);
    }
    // A worker writes its log line just after the status it logs is visible: wait (with a
    // deadline) for the lines to catch up before counting.
    let counts = || {
        (
            first.log_count("generation ended status"),
            second.log_count("generation ended status"),
        )
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while {
        let (a, b) = counts();
        a + b < 200
    } && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (by_first, by_second) = counts();
    assert_eq!(by_first + by_second, 200, "every job ended exactly once");
    assert!(
        by_first > 0 && by_second > 0,
        "both workers took jobs: {by_first} + {by_second}"
    );
    drop((api, first, second));
    database.drop_database().await;
}

#[tokio::test]
async fn processes_starting_at_once_on_an_empty_database_migrate_safely() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let url = database.url.clone();
    // Three processes race to apply the migrations to the same empty database.
    let starters: Vec<_> = (0..3)
        .map(|n| {
            let url = url.clone();
            std::thread::spawn(move || {
                if n == 0 {
                    ChildProcess::worker(&url, &[])
                } else {
                    ChildProcess::serve(&url, API_ONLY)
                }
            })
        })
        .collect();
    let processes: Vec<ChildProcess> = starters
        .into_iter()
        .map(|s| s.join().expect("started"))
        .collect();
    let client = reqwest::Client::new();
    let topic_id = create_topic(&client, &processes[1].base, "After the race").await;
    let (status, started) = post(
        &client,
        format!(
            "{}/api/topics/{topic_id}/blueprints/generate",
            processes[2].base
        ),
        json!({"target_terminal_objectives": 2}),
    )
    .await;
    assert_eq!(status, 202);
    let url = format!(
        "{}/api/topics/{topic_id}/blueprints/{}/status",
        processes[1].base,
        str_of(&started, "id")
    );
    poll_until(
        Duration::from_secs(15),
        || get(&client, url.clone()),
        |s| s["status"] == "completed",
    )
    .await
    .unwrap_or_else(|last| panic!("not completed: {last}"));
    drop(processes);
    database.drop_database().await;
}

/// With accounts on, the processes share everything that matters through the database: a
/// session started on one is accepted by the other, a token made on the other by the first, and
/// the per-user limit on starting generations and log-in throttling count every process's
/// requests together.
#[tokio::test]
async fn accounts_and_the_generation_rate_limit_hold_across_processes() {
    if !postgres_available().await {
        return;
    }
    const LIMIT: usize = 5;
    const REQUESTS: usize = 14;
    let database = TestDatabase::create(Backend::Postgres).await;
    let limit = LIMIT.to_string();
    // Accounts on, only the per-minute limit (no cap on active generations, so that cap cannot
    // answer for it), and no workers: the jobs stay queued, which changes nothing here.
    let env = [
        ("QUIZMASTER_AUTH", "on"),
        ("QUIZMASTER_WORKERS", "0"),
        ("QUIZMASTER_GENERATE_PER_MINUTE", limit.as_str()),
        ("QUIZMASTER_MAX_ACTIVE_PER_USER", "0"),
    ];
    let a = ChildProcess::serve(&database.url, &env);
    let b = ChildProcess::serve(&database.url, &env);
    let client = reqwest::Client::new();

    // A session started on A is accepted by B; a token created on B is accepted by A.
    let cookie = child::sign_up(&client, &a.base, "across@example.com").await;
    let me_by_session = client
        .get(format!("{}/api/auth/me", b.base))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .expect("me");
    assert_eq!(me_by_session.status(), 200, "B accepts A's session");
    let me: Value = me_by_session.json().await.expect("json");
    assert_eq!(me["email"], "across@example.com");
    let token = child::create_token(&client, &b.base, &cookie).await;
    let me_by_token: Value = client
        .get(format!("{}/api/auth/me", a.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me_by_token["id"], me["id"], "A accepts B's token");
    let anonymous = client
        .get(format!("{}/api/topics", b.base))
        .send()
        .await
        .expect("topics");
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );

    // One topic per request (one topic has at most one active generation), half made on each.
    let mut topics = Vec::new();
    for n in 0..REQUESTS {
        let base = if n % 2 == 0 { &a.base } else { &b.base };
        let response = client
            .post(format!("{base}/api/topics"))
            .bearer_auth(&token)
            .json(&json!({"title": format!("Limited {n}"), "source_text": LECTURE}))
            .send()
            .await
            .expect("topic");
        assert_eq!(response.status(), 201);
        let topic: Value = response.json().await.expect("json");
        topics.push(str_of(&topic, "id").to_string());
    }

    // All generate requests at once, alternating between the two processes.
    let requests = topics.iter().enumerate().map(|(n, topic_id)| {
        let base = if n % 2 == 0 { &a.base } else { &b.base };
        let request = client
            .post(format!("{base}/api/topics/{topic_id}/blueprints/generate"))
            .bearer_auth(&token)
            .json(&json!({"target_terminal_objectives": 2}))
            .send();
        async move {
            let response = request.await.expect("generate");
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let body: Value = response.json().await.expect("json");
            (status, retry_after, body)
        }
    });
    let results = futures::future::join_all(requests).await;
    let accepted = results.iter().filter(|(s, _, _)| *s == 202).count();
    assert_eq!(accepted, LIMIT, "exactly the limit started: {results:?}");
    for (status, retry_after, body) in results.iter().filter(|(s, _, _)| *s != 202) {
        assert_eq!(*status, 429, "{body}");
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        // The rest of the minute at most, even for a request that read the clock before it
        // waited its turn on the user's row lock behind a later one.
        assert!(
            retry_after.is_some_and(|s| (1..=60).contains(&s)),
            "Retry-After within the minute: {retry_after:?}"
        );
    }
    let refused = results.iter().filter(|(s, _, _)| *s == 429).count();
    assert_eq!(refused, REQUESTS - LIMIT);

    // The limit is this user's: someone else still starts a generation at once, and does not
    // see the first user's topics.
    let other_cookie = child::sign_up(&client, &b.base, "someone.else@example.com").await;
    let other_token = child::create_token(&client, &a.base, &other_cookie).await;
    let hidden = client
        .get(format!("{}/api/topics/{}", b.base, topics[0]))
        .bearer_auth(&other_token)
        .send()
        .await
        .expect("topic");
    assert_eq!(hidden.status(), 404, "another user's topic does not exist");
    let (status, topic) = {
        let response = client
            .post(format!("{}/api/topics", a.base))
            .bearer_auth(&other_token)
            .json(&json!({"title": "Not limited", "source_text": LECTURE}))
            .send()
            .await
            .expect("topic");
        (
            response.status(),
            response.json::<Value>().await.expect("json"),
        )
    };
    assert_eq!(status, 201);
    let started = client
        .post(format!(
            "{}/api/topics/{}/blueprints/generate",
            b.base,
            str_of(&topic, "id")
        ))
        .bearer_auth(&other_token)
        .send()
        .await
        .expect("generate");
    assert_eq!(started.status(), 202, "the limit is per user");

    // Failed log-ins are counted in the database too: five wrong passwords spread over both
    // processes, and the sixth try is refused by either.
    let log_in = |base: &str, password: &str| {
        client
            .post(format!("{base}/api/auth/login"))
            .json(&json!({"email": "across@example.com", "password": password}))
            .send()
    };
    for n in 0..5 {
        let base = if n % 2 == 0 { &a.base } else { &b.base };
        let response = log_in(base, "not the password").await.expect("log-in");
        assert_eq!(response.status(), 401, "failure {n}");
    }
    for base in [&a.base, &b.base] {
        let response = log_in(base, "correct horse battery").await.expect("log-in");
        assert_eq!(response.status(), 429, "throttled on {base} as well");
    }
    assert_eq!(
        a.log_count(&token) + b.log_count(&token),
        0,
        "no token in any log"
    );
    drop((a, b));
    database.drop_database().await;
}

/// A source rich enough for the offline generator to write up to 30 terminal objectives.
const LECTURE: &str = include_str!("../fixtures/lecture.md");

/// A value from the server's Prometheus text: the first line that starts with `series `.
async fn metric(client: &reqwest::Client, base: &str, series: &str) -> Option<f64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

const FEED_CONNECTED: &str = "quizmaster_change_feed_connected";
const POLLS_FROM_CACHE: &str = "quizmaster_status_polls_total{source=\"cache\"}";

/// Runs SQL on the admin database (for what a database cannot do to itself).
async fn admin_sql(sql: String) {
    let admin = sqlx::PgPool::connect(&helpers::postgres_admin_url())
        .await
        .expect("admin connection");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&admin)
        .await
        .expect("admin statement");
    admin.close().await;
}

#[tokio::test]
async fn status_polls_come_from_a_cache_the_change_feed_keeps_exact_and_not_while_it_is_lost() {
    use sqlx::Connection;
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let name = database
        .url
        .rsplit('/')
        .next()
        .expect("a database name")
        .to_string();
    let server = ChildProcess::serve(
        &database.url,
        &[
            ("QUIZMASTER_WORKERS", "0"),
            ("QUIZMASTER_DB_ACQUIRE_TIMEOUT_SECS", "1"),
        ],
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let base = server.base.clone();
    let topic_id = create_topic(&client, &base, "Cached").await;
    let (status, started) = post(
        &client,
        format!("{base}/api/topics/{topic_id}/blueprints/generate"),
        json!({"target_terminal_objectives": 3}),
    )
    .await;
    assert_eq!(status, 202);
    let blueprint_id = str_of(&started, "id").to_string();
    let status_url = format!("{base}/api/topics/{topic_id}/blueprints/{blueprint_id}/status");
    let title = |client: reqwest::Client, url: String| async move {
        match client.get(url).send().await {
            Ok(response) if response.status() == 200 => {
                let view: Value = response.json().await.unwrap_or_default();
                Some(view["title"].as_str().unwrap_or_default().to_string())
            }
            _ => None,
        }
    };
    let wait = Duration::from_secs(15);
    poll_until(
        wait,
        || metric(&client, &base, FEED_CONNECTED),
        |v| *v == Some(1.0),
    )
    .await
    .expect("the change feed connects");

    // Polls are answered from the cache once it knows the blueprint.
    title(client.clone(), status_url.clone()).await;
    let hits = metric(&client, &base, POLLS_FROM_CACHE)
        .await
        .unwrap_or(0.0);
    for _ in 0..5 {
        title(client.clone(), status_url.clone()).await;
    }
    let later = metric(&client, &base, POLLS_FROM_CACHE)
        .await
        .unwrap_or(0.0);
    assert!(later >= hits + 5.0, "from the cache: {hits} then {later}");

    // A change made by another process (here the test, in SQL) reaches the cache through
    // the feed: this server publishes nothing of it.
    let mut other = sqlx::PgConnection::connect(&database.url)
        .await
        .expect("another connection");
    let rename = |title: &'static str| {
        sqlx::query("UPDATE blueprints SET title = $1, version = version + 1 WHERE id = $2::uuid")
            .bind(title)
            .bind(blueprint_id.clone())
    };
    rename("changed once")
        .execute(&mut other)
        .await
        .expect("update");
    poll_until(
        wait,
        || title(client.clone(), status_url.clone()),
        |t| t.as_deref() == Some("changed once"),
    )
    .await
    .expect("the announced change is served");

    // The feed is lost and cannot come back (nothing may connect to the database): a change
    // made meanwhile is announced to nobody, so the cache must not answer any more.
    admin_sql(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut other)
    .await
    .expect("terminate the server's connections");
    poll_until(
        wait,
        || metric(&client, &base, FEED_CONNECTED),
        |v| *v == Some(0.0),
    )
    .await
    .expect("the server notices the lost feed");
    rename("changed unheard")
        .execute(&mut other)
        .await
        .expect("update");
    let during = title(client.clone(), status_url.clone()).await;
    assert_ne!(
        during.as_deref(),
        Some("changed once"),
        "a stale state from the cache while the feed was lost"
    );

    // Back: the feed subscribes again, and the cache starts again from what it reads.
    admin_sql(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    poll_until(
        wait,
        || metric(&client, &base, FEED_CONNECTED),
        |v| *v == Some(1.0),
    )
    .await
    .expect("the change feed connects again");
    let after = title(client.clone(), status_url.clone()).await;
    assert_eq!(after.as_deref(), Some("changed unheard"));
    let hits = metric(&client, &base, POLLS_FROM_CACHE)
        .await
        .unwrap_or(0.0);
    for _ in 0..5 {
        assert_eq!(
            title(client.clone(), status_url.clone()).await.as_deref(),
            Some("changed unheard")
        );
    }
    let later = metric(&client, &base, POLLS_FROM_CACHE)
        .await
        .unwrap_or(0.0);
    assert!(
        later >= hits + 5.0,
        "the cache is used again: {hits} then {later}"
    );
    drop(other);
    drop(server);
    database.drop_database().await;
}
