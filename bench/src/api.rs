//! A small client of QuizMaster's HTTP API, for setting up and checking runs.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use reqwest::{header, Client, StatusCode};
use serde_json::{json, Value};

pub fn client() -> Client {
    Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// Milliseconds since the epoch, from an RFC 3339 time in a status view.
pub fn ms_of(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn is_terminal(view: &Value) -> bool {
    matches!(
        view["status"].as_str(),
        Some("completed" | "error" | "cancelled")
    )
}

#[derive(Clone)]
pub struct Api {
    pub http: Client,
    pub base: String,
}

/// The lecture of `tests/fixtures/lecture.md`.
pub const LECTURE: &str = include_str!("../../tests/fixtures/lecture.md");

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            http: client(),
            base: base.to_string(),
        }
    }

    pub async fn create_topic(&self, title: &str) -> Result<String> {
        // A lecture rich enough for thirty terminal objectives (the offline generator writes
        // only as many as its source supports; tests/fixtures/README.md).
        self.create_topic_from(title, LECTURE).await
    }

    /// Creates a topic whose source is `source_text`.
    pub async fn create_topic_from(&self, title: &str, source_text: &str) -> Result<String> {
        let r = self
            .http
            .post(format!("{}/api/topics", self.base))
            .json(&json!({"title": title, "description": "A benchmark topic",
                "source_text": source_text}))
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        if status != StatusCode::CREATED {
            bail!("create topic: {status} {body}");
        }
        body["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no topic id"))
    }

    /// Starts a generation; returns the HTTP status and the body.
    pub async fn generate(&self, topic: &str, target: i64) -> Result<(StatusCode, Value)> {
        let r = self
            .http
            .post(format!(
                "{}/api/topics/{topic}/blueprints/generate",
                self.base
            ))
            .json(&json!({"target_terminal_objectives": target}))
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// Starts a generation that must be accepted; returns the blueprint id.
    pub async fn start(&self, topic: &str, target: i64) -> Result<String> {
        let (status, body) = self.generate(topic, target).await?;
        if status != StatusCode::ACCEPTED {
            bail!("generate: {status} {body}");
        }
        Ok(body["id"].as_str().unwrap_or_default().to_string())
    }

    pub fn status_url(&self, topic: &str, bp: &str) -> String {
        format!("{}/api/topics/{topic}/blueprints/{bp}/status", self.base)
    }

    pub async fn status(&self, topic: &str, bp: &str) -> Result<Value> {
        let r = self.http.get(self.status_url(topic, bp)).send().await?;
        if !r.status().is_success() {
            bail!("status: {}", r.status());
        }
        Ok(r.json().await?)
    }

    /// Long-polls until the blueprint is terminal or `deadline` passes; tolerates a server that
    /// is down for a while (fault runs).
    pub async fn wait_terminal(&self, topic: &str, bp: &str, deadline: Instant) -> Result<Value> {
        let mut etag: Option<String> = None;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let mut req = self
                .http
                .get(format!("{}?wait=5", self.status_url(topic, bp)))
                .timeout(Duration::from_secs(8));
            if let Some(tag) = &etag {
                req = req.header(header::IF_NONE_MATCH, tag);
            }
            match req.send().await {
                Ok(r) if r.status() == StatusCode::OK => {
                    etag = r
                        .headers()
                        .get(header::ETAG)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    last = r.json().await.unwrap_or(Value::Null);
                    if is_terminal(&last) {
                        return Ok(last);
                    }
                }
                Ok(r) if r.status() == StatusCode::NOT_MODIFIED => {}
                Ok(_) | Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        Ok(last)
    }

    pub async fn document(&self, topic: &str, bp: &str) -> Result<Value> {
        let r = self
            .http
            .get(format!("{}/api/topics/{topic}/blueprints/{bp}", self.base))
            .send()
            .await
            .context("get blueprint")?;
        if !r.status().is_success() {
            bail!("get blueprint: {}", r.status());
        }
        Ok(r.json().await?)
    }
}

/// What is wrong with a finished blueprint's objectives: counts that differ from what is
/// stored, positions that repeat or skip, the same text twice. Empty when all is well.
pub fn objective_faults(doc: &Value) -> Vec<String> {
    let mut faults = Vec::new();
    let terminals = doc["terminal_objectives"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let count = doc["terminal_objectives_count"].as_i64().unwrap_or(-1);
    if terminals.len() as i64 != count {
        faults.push(format!(
            "terminal_objectives_count {count} but {} stored",
            terminals.len()
        ));
    }
    if doc["status"] == "completed" && doc["target_terminal_objectives"].as_i64() != Some(count) {
        faults.push(format!(
            "completed with {count} of {} terminal objectives",
            doc["target_terminal_objectives"]
        ));
    }
    let mut enabling_total = 0i64;
    let mut texts = std::collections::HashSet::new();
    for (i, t) in terminals.iter().enumerate() {
        if t["position"].as_i64() != Some(i as i64 + 1) {
            faults.push(format!(
                "terminal #{} has position {}",
                i + 1,
                t["position"]
            ));
        }
        if !texts.insert(t["text"].as_str().unwrap_or_default().to_string()) {
            faults.push(format!("terminal objective text repeated: {}", t["text"]));
        }
        let enabling = t["enabling_objectives"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (j, e) in enabling.iter().enumerate() {
            if e["position"].as_i64() != Some(j as i64 + 1) {
                faults.push(format!(
                    "enabling #{} of terminal #{} has position {}",
                    j + 1,
                    i + 1,
                    e["position"]
                ));
            }
        }
        enabling_total += enabling.len() as i64;
    }
    let enabling_count = doc["enabling_objectives_count"].as_i64().unwrap_or(-1);
    if enabling_total != enabling_count {
        faults.push(format!(
            "enabling_objectives_count {enabling_count} but {enabling_total} stored"
        ));
    }
    faults
}
