//! The `status` events of a job's SSE stream, their data as JSON, as they arrive.

use anyhow::{bail, Result};
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::stream::BoxStream;
use futures::StreamExt;
use serde_json::Value;

pub struct SseStream {
    events: BoxStream<'static, Result<Event, EventStreamError<reqwest::Error>>>,
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
            events: r.bytes_stream().eventsource().boxed(),
        })
    }

    /// The next event's data, parsed; `None` when the stream ends. Keep-alive comments carry
    /// no data and are not events.
    pub async fn next_data(&mut self) -> Result<Option<Value>> {
        match self.events.next().await {
            Some(event) => Ok(Some(serde_json::from_str(&event?.data)?)),
            None => Ok(None),
        }
    }
}
