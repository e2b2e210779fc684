//! Generators: what fills a blueprint. Each one streams terminal objectives into a sink as
//! soon as they are ready, and stops when its cancellation token fires.

pub mod cpu;
pub mod offline;
pub mod openai;
pub mod quality;
pub mod sense;
pub mod source;
pub mod text;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::domain::{TerminalDraft, Topic};

/// What a generator is asked to do.
#[derive(Debug, Clone)]
pub struct GenerationRequest {
    pub topic: Topic,
    pub target_terminal_objectives: usize,
    /// Terminal objectives an earlier attempt already stored; generation continues after them.
    pub already_stored: usize,
    /// The texts of those terminal objectives, in order (so a model can be told what not to
    /// repeat). May be empty even when `already_stored` is not.
    pub stored_terminal_texts: Vec<String>,
}

/// Why a sink refused a write.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The job was cancelled, timed out or taken over: stop and write nothing more.
    #[error("the generation was stopped")]
    Stopped,
    /// The draft breaks the objective rules.
    #[error("invalid objective: {0}")]
    Invalid(String),
    /// Storage failed; the lease protocol will retry the job.
    #[error("storage failed: {0}")]
    Storage(String),
}

/// Where a generator puts what it makes. Each call is stored durably before it returns.
#[async_trait]
pub trait ObjectiveSink: Send {
    async fn set_summary(&mut self, title: &str, description: &str) -> Result<(), SinkError>;
    async fn store_terminal(&mut self, draft: TerminalDraft) -> Result<(), SinkError>;
    /// A note for the teacher about how the blueprint came about (e.g. what a model wrote
    /// that was left out, and why); it joins the blueprint's quality notes when it completes.
    async fn add_note(&mut self, note: &str) -> Result<(), SinkError> {
        let _ = note;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Cancelled, timed out, fenced off or shutting down; the caller knows which.
    #[error("stopped")]
    Stopped,
    /// The generator could not produce a valid blueprint; the message says why.
    #[error("{0}")]
    Failed(String),
    /// Storage failed mid-generation.
    #[error("storage failed: {0}")]
    Storage(String),
}

impl From<SinkError> for GenerateError {
    fn from(err: SinkError) -> Self {
        match err {
            SinkError::Stopped => GenerateError::Stopped,
            SinkError::Invalid(message) => GenerateError::Failed(message),
            SinkError::Storage(message) => GenerateError::Storage(message),
        }
    }
}

#[async_trait]
pub trait Generator: Send + Sync + 'static {
    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;

    async fn generate(
        &self,
        request: &GenerationRequest,
        sink: &mut dyn ObjectiveSink,
        cancel: &CancellationToken,
    ) -> Result<(), GenerateError>;
}
