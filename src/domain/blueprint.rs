//! Blueprints and the status machine of their generation.

use serde::Serialize;
use uuid::Uuid;

use super::objective::TerminalObjective;
use super::quality::BlueprintQuality;
use super::time::{ms_as_rfc3339, opt_ms_as_rfc3339};

pub const TARGET_MIN: i64 = 1;
pub const TARGET_MAX: i64 = 30;
pub const TARGET_DEFAULT: i64 = 10;
pub const TIMEOUT_MESSAGE: &str = "Generation timed out";
pub const CANCELLED_MESSAGE: &str = "Generation cancelled";
pub const WORKER_LOST_MESSAGE: &str =
    "The worker running this generation was lost too many times; start a new generation";

/// `queued` → `generating` → one of `completed`, `error`, `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlueprintStatus {
    Queued,
    Generating,
    Completed,
    Error,
    Cancelled,
}

impl BlueprintStatus {
    pub const ALL: [BlueprintStatus; 5] = [
        BlueprintStatus::Queued,
        BlueprintStatus::Generating,
        BlueprintStatus::Completed,
        BlueprintStatus::Error,
        BlueprintStatus::Cancelled,
    ];

    /// The statuses of an active generation: queued or running, not yet ended. A topic has at
    /// most one blueprint in them; the owner's limits count them.
    pub const ACTIVE: [BlueprintStatus; 2] = [BlueprintStatus::Queued, BlueprintStatus::Generating];

    pub fn as_str(self) -> &'static str {
        match self {
            BlueprintStatus::Queued => "queued",
            BlueprintStatus::Generating => "generating",
            BlueprintStatus::Completed => "completed",
            BlueprintStatus::Error => "error",
            BlueprintStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Terminal states never change again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            BlueprintStatus::Completed | BlueprintStatus::Error | BlueprintStatus::Cancelled
        )
    }

    /// Only a completed blueprint is exported: the others are partial or empty.
    pub fn is_exportable(self) -> bool {
        self == BlueprintStatus::Completed
    }

    /// The transitions the status machine allows. Storage makes each one as a conditional
    /// update from the state it expects; this is the single list of which ones exist.
    pub fn can_become(self, next: BlueprintStatus) -> bool {
        use BlueprintStatus::*;
        matches!(
            (self, next),
            (Queued, Generating)
                | (Queued, Error)
                | (Queued, Cancelled)
                | (Generating, Generating) // a new attempt after a lost lease
                | (Generating, Completed)
                | (Generating, Error)
                | (Generating, Cancelled)
        )
    }
}

/// Why a generation ended in `error` (or `cancelled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Timeout,
    WorkerLost,
    GeneratorFailed,
    Cancelled,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Timeout => "timeout",
            ErrorCode::WorkerLost => "worker_lost",
            ErrorCode::GeneratorFailed => "generator_failed",
            ErrorCode::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ErrorCode::Timeout,
            ErrorCode::WorkerLost,
            ErrorCode::GeneratorFailed,
            ErrorCode::Cancelled,
        ]
        .into_iter()
        .find(|code| code.as_str() == s)
    }
}

/// A blueprint's stored state, without its objectives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blueprint {
    pub id: Uuid,
    pub topic_id: Uuid,
    pub status: BlueprintStatus,
    pub title: Option<String>,
    pub description: Option<String>,
    pub terminal_objectives_count: i64,
    pub enabling_objectives_count: i64,
    pub target_terminal_objectives: i64,
    pub error: Option<String>,
    pub error_code: Option<ErrorCode>,
    pub attempt: i64,
    pub created_at: i64,
    pub generation_started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Grows by one at every stored change; the ETag and the SSE event id.
    pub version: i64,
    pub updated_at: i64,
    /// How the stored objectives score on the quality checks; set when it completes. Boxed:
    /// a `Blueprint` is passed around and published at every change, mostly without it.
    pub quality: Option<Box<BlueprintQuality>>,
}

/// The status view of the contract.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct StatusView {
    pub id: Uuid,
    pub topic_id: Uuid,
    pub status: BlueprintStatus,
    pub title: Option<String>,
    pub description: Option<String>,
    pub terminal_objectives_count: i64,
    pub enabling_objectives_count: i64,
    pub target_terminal_objectives: i64,
    /// Percent done, 0–100, computed by the server.
    #[schema(minimum = 0, maximum = 100)]
    pub progress: i64,
    pub error: Option<String>,
    pub error_code: Option<ErrorCode>,
    pub attempt: i64,
    #[serde(with = "ms_as_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "opt_ms_as_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub generation_started_at: Option<i64>,
    #[serde(with = "opt_ms_as_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<i64>,
}

/// The whole blueprint: the status view and its objectives.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct BlueprintDocument {
    #[serde(flatten)]
    pub status: StatusView,
    pub terminal_objectives: Vec<TerminalObjective>,
    /// The quality checks' verdict; null until the blueprint is completed.
    pub quality: Option<BlueprintQuality>,
}

impl Blueprint {
    /// Percent done: 0 while queued, 100 when completed, and in between the share of terminal
    /// objectives stored (never 100 before completion, so 100 always means done).
    pub fn progress(&self) -> i64 {
        match self.status {
            BlueprintStatus::Queued => 0,
            BlueprintStatus::Completed => 100,
            _ => {
                let target = self.target_terminal_objectives.max(1);
                (self.terminal_objectives_count * 100 / target).clamp(0, 99)
            }
        }
    }

    pub fn status_view(&self) -> StatusView {
        StatusView {
            id: self.id,
            topic_id: self.topic_id,
            status: self.status,
            title: self.title.clone(),
            description: self.description.clone(),
            terminal_objectives_count: self.terminal_objectives_count,
            enabling_objectives_count: self.enabling_objectives_count,
            target_terminal_objectives: self.target_terminal_objectives,
            progress: self.progress(),
            error: self.error.clone(),
            error_code: self.error_code,
            // The stored attempt is the fencing token and is 0 until the first claim; to a
            // client a queued generation is already on its first attempt.
            attempt: self.attempt.max(1),
            created_at: self.created_at,
            generation_started_at: self.generation_started_at,
            finished_at: self.finished_at,
        }
    }

    /// A strong validator that changes exactly when the stored state does.
    pub fn etag(&self) -> String {
        format!("\"{}-{}\"", self.id.simple(), self.version)
    }

    /// The server's hint, in whole seconds between 1 and 10, of when the next change is due:
    /// the observed time per terminal objective so far, or 1 s before there is a pace to go by.
    /// `None` once terminal: nothing will change again.
    pub fn retry_after_secs(&self, now_ms: i64) -> Option<u64> {
        match self.status {
            s if s.is_terminal() => None,
            BlueprintStatus::Generating if self.terminal_objectives_count > 0 => {
                let started = self.generation_started_at.unwrap_or(self.created_at);
                let per_objective_ms =
                    (now_ms - started).max(0) / self.terminal_objectives_count.max(1);
                let secs = (per_objective_ms + 999) / 1000;
                Some(secs.clamp(1, 10) as u64)
            }
            _ => Some(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blueprint(status: BlueprintStatus, count: i64, target: i64) -> Blueprint {
        Blueprint {
            id: Uuid::nil(),
            topic_id: Uuid::nil(),
            status,
            title: None,
            description: None,
            terminal_objectives_count: count,
            enabling_objectives_count: 0,
            target_terminal_objectives: target,
            error: None,
            error_code: None,
            attempt: 1,
            created_at: 0,
            generation_started_at: Some(0),
            finished_at: None,
            version: 1,
            updated_at: 0,
            quality: None,
        }
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for from in BlueprintStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in BlueprintStatus::ALL {
                assert!(!from.can_become(to), "{from:?} -> {to:?}");
            }
        }
        assert!(BlueprintStatus::Queued.can_become(BlueprintStatus::Generating));
        assert!(!BlueprintStatus::Generating.can_become(BlueprintStatus::Queued));
    }

    #[test]
    fn progress_grows_and_reaches_100_only_when_completed() {
        assert_eq!(blueprint(BlueprintStatus::Queued, 0, 10).progress(), 0);
        assert_eq!(blueprint(BlueprintStatus::Generating, 3, 10).progress(), 30);
        assert_eq!(
            blueprint(BlueprintStatus::Generating, 10, 10).progress(),
            99
        );
        assert_eq!(
            blueprint(BlueprintStatus::Completed, 10, 10).progress(),
            100
        );
    }

    #[test]
    fn retry_after_follows_the_pace_within_bounds() {
        let mut b = blueprint(BlueprintStatus::Generating, 2, 10);
        assert_eq!(b.retry_after_secs(4_000), Some(2));
        assert_eq!(b.retry_after_secs(400_000), Some(10));
        assert_eq!(b.retry_after_secs(10), Some(1));
        b.status = BlueprintStatus::Completed;
        assert_eq!(b.retry_after_secs(10), None);
    }
}
