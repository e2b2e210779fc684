//! Learning objectives and Bloom's revised taxonomy.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Bloom's revised taxonomy, lowest to highest.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
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
    /// The passage of the topic's source text the objective rests on, quoted as written;
    /// `None` when the topic has no source text. Stored cut to [`EVIDENCE_MAX_CHARS`].
    #[serde(default)]
    pub evidence: Option<String>,
}

/// The contract allows an objective's evidence at most this many characters (Unicode scalar
/// values, as Rust's `char` counts them).
pub const EVIDENCE_MAX_CHARS: usize = 300;

/// Evidence as it is stored: trimmed, empty as `None`, and cut at a character boundary to at
/// most [`EVIDENCE_MAX_CHARS`] characters.
///
/// The contract says evidence is at most 300 characters. A generator may quote more (a model
/// ignoring its instructions, a long sentence), so the limit is kept here, once for every
/// generator and both databases, rather than failing the objective or the generation over it;
/// a byte-based cut could split a multi-byte character, hence the `char` boundary.
pub fn clip_evidence(evidence: Option<&str>) -> Option<String> {
    let evidence = evidence?.trim();
    if evidence.is_empty() {
        return None;
    }
    let clipped = match evidence.char_indices().nth(EVIDENCE_MAX_CHARS) {
        Some((end, _)) => evidence[..end].trim_end(),
        None => evidence,
    };
    Some(clipped.to_string())
}

/// A terminal objective with the enabling objectives that lead to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalDraft {
    pub objective: ObjectiveDraft,
    pub enabling: Vec<ObjectiveDraft>,
}

impl ObjectiveDraft {
    /// The evidence as it is stored (see [`clip_evidence`]).
    pub fn stored_evidence(&self) -> Option<String> {
        clip_evidence(self.evidence.as_deref())
    }

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

/// The canonical verb table: every measurable verb QuizMaster knows, with the one Bloom level
/// it stands for (after Anderson & Krathwohl's revised taxonomy). The offline generator's
/// templates take their verbs from here, and the quality checks judge any generator's
/// objectives against it. Lower case; British spellings included where they differ.
pub const VERB_LEVELS: &[(&str, BloomLevel)] = &[
    // Remember: retrieve facts from memory.
    ("define", BloomLevel::Remember),
    ("identify", BloomLevel::Remember),
    ("label", BloomLevel::Remember),
    ("list", BloomLevel::Remember),
    ("locate", BloomLevel::Remember),
    ("match", BloomLevel::Remember),
    ("name", BloomLevel::Remember),
    ("recall", BloomLevel::Remember),
    ("recite", BloomLevel::Remember),
    ("recognize", BloomLevel::Remember),
    ("recognise", BloomLevel::Remember),
    ("reproduce", BloomLevel::Remember),
    ("state", BloomLevel::Remember),
    // Understand: construct meaning.
    ("classify", BloomLevel::Understand),
    ("describe", BloomLevel::Understand),
    ("discuss", BloomLevel::Understand),
    ("explain", BloomLevel::Understand),
    ("illustrate", BloomLevel::Understand),
    ("infer", BloomLevel::Understand),
    ("interpret", BloomLevel::Understand),
    ("outline", BloomLevel::Understand),
    ("paraphrase", BloomLevel::Understand),
    ("predict", BloomLevel::Understand),
    ("restate", BloomLevel::Understand),
    ("summarize", BloomLevel::Understand),
    ("summarise", BloomLevel::Understand),
    ("translate", BloomLevel::Understand),
    // Apply: carry out a procedure in a given situation.
    ("apply", BloomLevel::Apply),
    ("calculate", BloomLevel::Apply),
    ("compute", BloomLevel::Apply),
    ("convert", BloomLevel::Apply),
    ("demonstrate", BloomLevel::Apply),
    ("draw", BloomLevel::Apply),
    ("estimate", BloomLevel::Apply),
    ("execute", BloomLevel::Apply),
    ("implement", BloomLevel::Apply),
    ("measure", BloomLevel::Apply),
    ("operate", BloomLevel::Apply),
    ("perform", BloomLevel::Apply),
    ("plot", BloomLevel::Apply),
    ("sketch", BloomLevel::Apply),
    ("solve", BloomLevel::Apply),
    ("trace", BloomLevel::Apply),
    ("use", BloomLevel::Apply),
    // Analyze: break material into parts and see how they relate.
    ("analyze", BloomLevel::Analyze),
    ("analyse", BloomLevel::Analyze),
    ("categorize", BloomLevel::Analyze),
    ("categorise", BloomLevel::Analyze),
    ("compare", BloomLevel::Analyze),
    ("contrast", BloomLevel::Analyze),
    ("debug", BloomLevel::Analyze),
    ("deconstruct", BloomLevel::Analyze),
    ("diagnose", BloomLevel::Analyze),
    ("differentiate", BloomLevel::Analyze),
    ("distinguish", BloomLevel::Analyze),
    ("examine", BloomLevel::Analyze),
    ("investigate", BloomLevel::Analyze),
    ("organize", BloomLevel::Analyze),
    ("organise", BloomLevel::Analyze),
    // Evaluate: judge against criteria.
    ("appraise", BloomLevel::Evaluate),
    ("argue", BloomLevel::Evaluate),
    ("assess", BloomLevel::Evaluate),
    ("critique", BloomLevel::Evaluate),
    ("defend", BloomLevel::Evaluate),
    ("evaluate", BloomLevel::Evaluate),
    ("judge", BloomLevel::Evaluate),
    ("justify", BloomLevel::Evaluate),
    ("prioritize", BloomLevel::Evaluate),
    ("prioritise", BloomLevel::Evaluate),
    ("rank", BloomLevel::Evaluate),
    ("recommend", BloomLevel::Evaluate),
    ("validate", BloomLevel::Evaluate),
    ("verify", BloomLevel::Evaluate),
    // Create: put elements together into something new.
    ("build", BloomLevel::Create),
    ("compose", BloomLevel::Create),
    ("construct", BloomLevel::Create),
    ("create", BloomLevel::Create),
    ("design", BloomLevel::Create),
    ("develop", BloomLevel::Create),
    ("devise", BloomLevel::Create),
    ("formulate", BloomLevel::Create),
    ("generate", BloomLevel::Create),
    ("hypothesize", BloomLevel::Create),
    ("hypothesise", BloomLevel::Create),
    ("invent", BloomLevel::Create),
    ("plan", BloomLevel::Create),
    ("produce", BloomLevel::Create),
    ("propose", BloomLevel::Create),
    ("write", BloomLevel::Create),
];

/// The Bloom level a measurable verb stands for, in any case; `None` for a verb not in the
/// canonical table.
pub fn verb_level(verb: &str) -> Option<BloomLevel> {
    let verb = verb.trim().to_ascii_lowercase();
    VERB_LEVELS
        .iter()
        .find(|(known, _)| *known == verb)
        .map(|(_, level)| *level)
}

/// Phrases that name no observable behaviour anywhere in an objective, beyond the banned
/// first verbs: "be familiar with", "have an awareness of", ...
pub const BANNED_PHRASES: &[&str] = &[
    "understand",
    "understanding of",
    "know",
    "knowledge of",
    "learn",
    "learn about",
    "appreciate",
    "appreciation of",
    "be familiar with",
    "become familiar with",
    "familiarity with",
    "be aware of",
    "awareness of",
    "become acquainted with",
    "grasp",
    "comprehend",
    "realize",
    "believe",
    "internalize",
    "get a feel for",
    "gain insight into",
];

/// A stored objective, as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Objective {
    pub id: Uuid,
    pub position: i64,
    pub text: String,
    pub bloom_level: BloomLevel,
    pub verb: String,
    pub condition: Option<String>,
    pub criterion: Option<String>,
    /// The passage of the topic's source text the objective rests on (at most 300
    /// characters, quoted as written); null when the topic has no source text.
    pub evidence: Option<String>,
}

/// A stored terminal objective with its enabling objectives.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
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
            evidence: None,
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
    fn the_verb_table_has_one_level_per_verb_and_no_banned_verb() {
        for (i, (verb, _)) in VERB_LEVELS.iter().enumerate() {
            assert_eq!(verb.to_ascii_lowercase(), *verb);
            assert!(!BANNED_VERBS.contains(verb), "{verb}");
            assert!(
                VERB_LEVELS[i + 1..].iter().all(|(other, _)| other != verb),
                "{verb} is listed twice"
            );
        }
        assert_eq!(verb_level("Explain"), Some(BloomLevel::Understand));
        assert_eq!(verb_level("understand"), None);
        for level in BloomLevel::ALL {
            assert!(VERB_LEVELS.iter().any(|(_, l)| *l == level), "{level:?}");
        }
    }

    #[test]
    fn evidence_is_cut_to_300_characters_at_a_char_boundary() {
        let long = "ä".repeat(EVIDENCE_MAX_CHARS + 50);
        let clipped = clip_evidence(Some(&long)).expect("kept");
        assert_eq!(clipped.chars().count(), EVIDENCE_MAX_CHARS);
        assert!(long.starts_with(&clipped));
        let exact = "x".repeat(EVIDENCE_MAX_CHARS);
        assert_eq!(clip_evidence(Some(&exact)), Some(exact.clone()));
        assert_eq!(
            clip_evidence(Some("  A block is a unit.\n")),
            Some("A block is a unit.".to_string())
        );
        assert_eq!(clip_evidence(Some(" \n ")), None);
        assert_eq!(clip_evidence(None), None);
        let mut with = draft("Compute the mean", "compute");
        with.evidence = Some(format!("{exact}yz"));
        assert_eq!(with.stored_evidence(), Some(exact));
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
