//! Just enough of an SSE reader: `status` events' data as JSON, as they arrive.

use anyhow::{bail, Result};
use futures::StreamExt;
use serde_json::Value;

pub struct SseStream {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl SseStream {
    pub async fn open(http: &reqwest::Client, url: &str) -> Result<Self> {
        let r = http
            .get(url)
            .header("accept", "text/event-stream")
            .timeout(std::time::Duration::from_secs(3600))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("events: {}", r.status());
        }
        Ok(Self {
            body: r.bytes_stream().boxed(),
            buf: String::new(),
        })
    }

    /// The next event's data, parsed; `None` when the stream ends.
    pub async fn next_data(&mut self) -> Result<Option<Value>> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let event: String = self.buf.drain(..end + 2).collect();
                let data: String = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect::<Vec<_>>()
                    .join("\n");
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Ok(Some(serde_json::from_str(&data)?));
            }
            match self.body.next().await {
                Some(chunk) => self.buf.push_str(&String::from_utf8_lossy(&chunk?)),
                None => return Ok(None),
            }
        }
    }
}
