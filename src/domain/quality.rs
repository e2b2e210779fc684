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
    /// The ISO 639-1 code of the topic's source text as detected (e.g. `de`); null when there
    /// is no source text or it could not be told. Absent from quality stored before it existed.
    #[serde(default)]
    pub language: Option<String>,
    /// What a teacher should read about this blueprint (e.g. that the objectives are in
    /// English for a German source, or that a thin source gave fewer objectives).
    // Always sent, so required in the schema; defaulted only for reading old stored quality.
    #[serde(default)]
    #[schema(required = true)]
    pub notes: Vec<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_stored_before_language_and_notes_still_reads() {
        let old = r#"{"score": 90, "passed": false, "failed": ["length"],
            "checks": [{"name": "length", "passed": false, "score": 80, "detail": "too long"}]}"#;
        let quality: BlueprintQuality = serde_json::from_str(old).expect("old quality reads");
        assert_eq!(quality.score, 90);
        assert_eq!(quality.failed, vec!["length".to_string()]);
        assert_eq!(quality.language, None);
        assert!(quality.notes.is_empty());
        let new = serde_json::to_value(&quality).expect("serializable");
        assert!(new["language"].is_null());
        assert_eq!(new["notes"], serde_json::json!([]));
    }
}
