//! The domain: topics, blueprints, objectives and the status machine.
//! Pure types and rules; nothing here knows about HTTP or SQL.

pub mod account;
pub mod blueprint;
pub mod client;
pub mod export;
pub mod ids;
pub mod objective;
pub mod quality;
pub mod requests;
pub mod text;
pub mod time;
pub mod topic;

pub use account::{ApiTokenInfo, Credentials, User, LOCAL_USER_ID};
pub use blueprint::{BlueprintStatus, ErrorCode, StatusView};
pub use client::ClientAddr;
pub use ids::{Attempt, BlueprintId, SessionId, TokenId, TopicId, UserId};
pub use objective::{BloomLevel, ObjectiveDraft, TerminalDraft};
pub use quality::{BlueprintQuality, QualityCheck};
pub use topic::{Topic, TopicInput, TopicPatch};

/// One field that failed validation, reported in `422 validation_failed` details.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
