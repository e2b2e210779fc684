//! Learning objectives and Bloom's revised taxonomy.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Bloom's revised taxonomy, lowest to highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BloomLevel {
    Remember,
    Understand,
    Apply,
    Analyze,
    Evaluate,
    Create,
}

impl BloomLevel {
    pub const ALL: [BloomLevel; 6] = [
        BloomLevel::Remember,
        BloomLevel::Understand,
        BloomLevel::Apply,
        BloomLevel::Analyze,
        BloomLevel::Evaluate,
        BloomLevel::Create,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BloomLevel::Remember => "remember",
            BloomLevel::Understand => "understand",
            BloomLevel::Apply => "apply",
            BloomLevel::Analyze => "analyze",
            BloomLevel::Evaluate => "evaluate",
            BloomLevel::Create => "create",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|level| level.as_str() == s)
    }
}

/// An objective as a generator proposes it, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectiveDraft {
    pub text: String,
    pub verb: String,
    pub bloom_level: BloomLevel,
    pub condition: Option<String>,
    pub criterion: Option<String>,
}

/// A terminal objective with the enabling objectives that lead to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalDraft {
    pub objective: ObjectiveDraft,
    pub enabling: Vec<ObjectiveDraft>,
}

impl ObjectiveDraft {
    /// The rules every stored objective keeps: a measurable verb that starts the text.
    pub fn check(&self) -> Result<(), String> {
        let verb = self.verb.trim();
        if verb.is_empty() || verb.contains(char::is_whitespace) {
            return Err(format!("verb {:?} must be a single word", self.verb));
        }
        let first = self.text.split_whitespace().next().unwrap_or("");
        if !first.eq_ignore_ascii_case(verb) {
            return Err(format!(
                "objective {:?} does not start with its verb {:?}",
                self.text, self.verb
            ));
        }
        if BANNED_VERBS.contains(&verb.to_ascii_lowercase().as_str()) {
            return Err(format!("{verb:?} is not a measurable verb"));
        }
        Ok(())
    }
}

/// Verbs that name no observable behaviour; an objective must not start with them.
pub const BANNED_VERBS: &[&str] = &[
    "understand",
    "know",
    "learn",
    "appreciate",
    "realize",
    "grasp",
    "comprehend",
    "believe",
    "familiarize",
    "internalize",
];

/// A stored objective, as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Objective {
    pub id: Uuid,
    pub position: i64,
    pub text: String,
    pub bloom_level: BloomLevel,
    pub verb: String,
    pub condition: Option<String>,
    pub criterion: Option<String>,
}

/// A stored terminal objective with its enabling objectives.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TerminalObjective {
    #[serde(flatten)]
    pub objective: Objective,
    pub enabling_objectives: Vec<Objective>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(text: &str, verb: &str) -> ObjectiveDraft {
        ObjectiveDraft {
            text: text.into(),
            verb: verb.into(),
            bloom_level: BloomLevel::Apply,
            condition: None,
            criterion: None,
        }
    }

    #[test]
    fn text_must_start_with_a_measurable_verb() {
        assert!(draft("Compute the mean of a sample", "compute")
            .check()
            .is_ok());
        assert!(draft("The mean is computed", "compute").check().is_err());
        assert!(draft("Understand means", "understand").check().is_err());
    }

    #[test]
    fn levels_round_trip_and_order() {
        for level in BloomLevel::ALL {
            assert_eq!(BloomLevel::parse(level.as_str()), Some(level));
        }
        assert!(BloomLevel::Remember < BloomLevel::Create);
        assert_eq!(BloomLevel::parse("synthesize"), None);
    }
}
