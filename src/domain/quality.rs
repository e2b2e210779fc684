//! The quality of a blueprint, as scored by `generator::quality` and stored with it.

use serde::{Deserialize, Serialize};

/// A blueprint's quality: an overall score and every check behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlueprintQuality {
    /// 0–100: the weighted mean of the checks' scores.
    pub score: i64,
    /// Every check passed its threshold.
    pub passed: bool,
    /// The names of the checks that did not pass, in check order.
    pub failed: Vec<String>,
    pub checks: Vec<QualityCheck>,
}

/// One check: its score, whether it reached its threshold, and what it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QualityCheck {
    /// A stable snake_case name, e.g. `measurable_verb`.
    pub name: String,
    pub passed: bool,
    /// 0–100.
    pub score: i64,
    /// What was found, in words; names the offending objectives when it failed.
    pub detail: String,
}
