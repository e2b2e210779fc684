//! The built-in offline generator: no network, no model. It finds the key concepts of the
//! topic (a RAKE-style key-phrase extractor that favours the title and headings), plans the
//! blueprint over Bloom's revised taxonomy, and writes objectives from templates that start
//! with a measurable verb. Deterministic: the same topic always gives the same blueprint.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{GenerateError, GenerationRequest, Generator, ObjectiveSink};
use crate::domain::{BloomLevel, ObjectiveDraft, TerminalDraft, Topic};

pub struct OfflineGenerator {
    /// Pause after each stored terminal objective (demos and tests of progress).
    pub pace: Duration,
}

#[async_trait]
impl Generator for OfflineGenerator {
    fn name(&self) -> &'static str {
        "offline"
    }

    async fn generate(
        &self,
        request: &GenerationRequest,
        sink: &mut dyn ObjectiveSink,
        cancel: &CancellationToken,
    ) -> Result<(), GenerateError> {
        let plan = plan_blueprint(&request.topic, request.target_terminal_objectives);
        sink.set_summary(&plan.title, &plan.description).await?;
        for terminal in plan.terminals.into_iter().skip(request.already_stored) {
            if cancel.is_cancelled() {
                return Err(GenerateError::Stopped);
            }
            sink.store_terminal(terminal).await?;
            if !self.pace.is_zero() {
                tokio::select! {
                    _ = cancel.cancelled() => return Err(GenerateError::Stopped),
                    _ = tokio::time::sleep(self.pace) => {}
                }
            }
        }
        Ok(())
    }
}

/// A whole blueprint, planned before anything is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlueprintPlan {
    pub title: String,
    pub description: String,
    pub terminals: Vec<TerminalDraft>,
}

/// Plans the blueprint for a topic. Pure and deterministic.
pub fn plan_blueprint(topic: &Topic, target: usize) -> BlueprintPlan {
    let concepts = key_concepts(topic, target.max(1) * 2);
    let subject = topic.title.trim().to_string();
    let mut terminals = Vec::with_capacity(target);
    for index in 0..target {
        let concept = pick_concept(&concepts, &subject, index);
        let related = pick_concept(&concepts, &subject, index + 1);
        terminals.push(terminal_objective(index, &concept, &related, &subject));
    }
    let listed: Vec<&str> = concepts.iter().take(5).map(String::as_str).collect();
    let description = if listed.is_empty() {
        format!("{target} terminal objectives on {subject}.")
    } else {
        format!(
            "{target} terminal objectives on {subject}, covering {}.",
            listed.join(", ")
        )
    };
    BlueprintPlan {
        title: format!("{subject}: quiz blueprint"),
        description,
        terminals,
    }
}

/// Uses the extracted concepts first; when they run out, the subject itself seen from
/// different angles, so every objective still names something distinct.
fn pick_concept(concepts: &[String], subject: &str, index: usize) -> String {
    const ANGLES: [&str; 6] = [
        "the core principles of",
        "the key terms of",
        "common misconceptions about",
        "real-world applications of",
        "the limitations of",
        "the historical development of",
    ];
    if index < concepts.len() {
        concepts[index].clone()
    } else {
        let angle = ANGLES[(index - concepts.len()) % ANGLES.len()];
        format!("{angle} {}", subject.to_lowercase())
    }
}

struct Template {
    verb: &'static str,
    level: BloomLevel,
    text: &'static str,
    condition: Option<&'static str>,
    criterion: Option<&'static str>,
}

/// Terminal objectives sit at Apply or above; the cycle spreads them over four levels.
const TERMINAL_TEMPLATES: &[Template] = &[
    Template {
        verb: "Apply",
        level: BloomLevel::Apply,
        text: "Apply {c} to solve a realistic problem in {s}",
        condition: Some("given a short case description"),
        criterion: Some("with a correct, fully worked solution"),
    },
    Template {
        verb: "Analyze",
        level: BloomLevel::Analyze,
        text: "Analyze how {c} relates to {r}",
        condition: Some("given a worked example"),
        criterion: Some("identifying at least two connections"),
    },
    Template {
        verb: "Evaluate",
        level: BloomLevel::Evaluate,
        text: "Evaluate the strengths and limitations of {c}",
        condition: Some("given two competing claims"),
        criterion: Some("supporting the judgement with evidence"),
    },
    Template {
        verb: "Design",
        level: BloomLevel::Create,
        text: "Design a short activity that uses {c}",
        condition: None,
        criterion: Some("meeting every stated requirement"),
    },
    Template {
        verb: "Demonstrate",
        level: BloomLevel::Apply,
        text: "Demonstrate the use of {c} in a new situation",
        condition: Some("given an unfamiliar scenario"),
        criterion: Some("with no more than one error"),
    },
    Template {
        verb: "Compare",
        level: BloomLevel::Analyze,
        text: "Compare {c} with {r}",
        condition: None,
        criterion: Some("naming at least two similarities and two differences"),
    },
    Template {
        verb: "Justify",
        level: BloomLevel::Evaluate,
        text: "Justify a decision that depends on {c}",
        condition: Some("given a realistic scenario"),
        criterion: Some("citing at least two relevant facts"),
    },
    Template {
        verb: "Construct",
        level: BloomLevel::Create,
        text: "Construct an original example that illustrates {c}",
        condition: None,
        criterion: Some("that a peer can verify"),
    },
];

/// Enabling objectives, lowest level first; each terminal takes those at or below its level.
const ENABLING_TEMPLATES: &[Template] = &[
    Template {
        verb: "Define",
        level: BloomLevel::Remember,
        text: "Define {c} in precise terms",
        condition: None,
        criterion: Some("matching the course definition"),
    },
    Template {
        verb: "Explain",
        level: BloomLevel::Understand,
        text: "Explain the role of {c} in {s}",
        condition: None,
        criterion: Some("in two or three sentences"),
    },
    Template {
        verb: "Classify",
        level: BloomLevel::Understand,
        text: "Classify examples as instances of {c} or not",
        condition: Some("given a list of examples"),
        criterion: Some("with at least 80% accuracy"),
    },
    Template {
        verb: "Calculate",
        level: BloomLevel::Apply,
        text: "Calculate or trace the outcome of {c} in a simple case",
        condition: Some("given the necessary data"),
        criterion: Some("with a correct result"),
    },
    Template {
        verb: "Distinguish",
        level: BloomLevel::Analyze,
        text: "Distinguish {c} from {r}",
        condition: None,
        criterion: Some("naming one decisive difference"),
    },
];

fn fill(template: &Template, concept: &str, related: &str, subject: &str) -> ObjectiveDraft {
    let text = template
        .text
        .replace("{c}", concept)
        .replace("{r}", related)
        .replace("{s}", subject);
    ObjectiveDraft {
        text,
        verb: template.verb.to_string(),
        bloom_level: template.level,
        condition: template.condition.map(str::to_string),
        criterion: template.criterion.map(str::to_string),
    }
}

fn terminal_objective(index: usize, concept: &str, related: &str, subject: &str) -> TerminalDraft {
    let template = &TERMINAL_TEMPLATES[index % TERMINAL_TEMPLATES.len()];
    let objective = fill(template, concept, related, subject);
    let enabling: Vec<ObjectiveDraft> = ENABLING_TEMPLATES
        .iter()
        .filter(|e| e.level < template.level)
        .enumerate()
        // Two to four enabling objectives, rotating which middle ones are used.
        .filter(|(i, _)| *i == 0 || (i + index) % 2 == 1 || *i == 1)
        .take(4)
        .map(|(_, e)| fill(e, concept, related, subject))
        .collect();
    TerminalDraft {
        objective,
        enabling,
    }
}

/// Words that separate key phrases. Deliberately small and free of domain words such as
/// "system", "state" or "value", which general stop-word lists wrongly drop.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "all",
    "also",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "being",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "each",
    "either",
    "for",
    "from",
    "had",
    "has",
    "have",
    "how",
    "however",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "may",
    "might",
    "more",
    "most",
    "much",
    "must",
    "no",
    "not",
    "of",
    "on",
    "one",
    "only",
    "or",
    "other",
    "our",
    "over",
    "same",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "two",
    "under",
    "up",
    "use",
    "used",
    "using",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "introduction",
    "chapter",
    "lecture",
    "notes",
    "example",
    "examples",
    "e.g",
    "i.e",
    "etc",
    "many",
    "often",
    "usually",
    "called",
];

/// Folds simple English plurals so "hash function" and "hash functions" are one concept.
fn normalise_word(word: &str) -> String {
    let lower = word.to_lowercase();
    if lower.len() > 4 && lower.ends_with("ies") {
        format!("{}y", &lower[..lower.len() - 3])
    } else if lower.len() > 3
        && lower.ends_with('s')
        && !lower.ends_with("ss")
        && !lower.ends_with("us")
        && !lower.ends_with("is")
    {
        lower[..lower.len() - 1].to_string()
    } else {
        lower
    }
}

/// A word as it is shown: lower case, unless it is an acronym or mixed case ("DNA", "RuBisCO").
fn display_word(word: &str) -> String {
    if word.chars().skip(1).any(char::is_uppercase) {
        word.to_string()
    } else {
        word.to_lowercase()
    }
}

/// Splits text into candidate chunks at stop words, numbers and punctuation. Each word is
/// `(normalised, shown)`.
fn candidate_chunks(text: &str) -> Vec<Vec<(String, String)>> {
    let mut chunks = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    let is_word_char = |c: char| c.is_alphanumeric() || c == '-' || c == '\'';
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest.find(is_word_char).unwrap_or(rest.len());
        // Punctuation other than spaces between words ends a chunk.
        if rest[..start].chars().any(|c| !c.is_whitespace()) && !current.is_empty() {
            chunks.push(std::mem::take(&mut current));
        }
        rest = &rest[start..];
        let end = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        let word = rest[..end].trim_matches(|c| c == '-' || c == '\'');
        rest = &rest[end..];
        if word.is_empty() {
            continue;
        }
        let lower = word.to_lowercase();
        if STOP_WORDS.contains(&lower.as_str())
            || word.chars().all(|c| c.is_ascii_digit())
            || word.chars().count() < 3
        {
            if !current.is_empty() {
                chunks.push(std::mem::take(&mut current));
            }
        } else {
            current.push((normalise_word(word), display_word(word)));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[derive(Default)]
struct Gram {
    weight: f64,
    shown: String,
    first_seen: usize,
}

/// The topic's key concepts, best first. Every 1- to 3-word n-gram inside a chunk is a
/// candidate, scored by how often it recurs (weighted: the title and headings count more)
/// with a bonus for longer phrases, so "hash function", seen three times, beats both "hash"
/// and a one-off "hash function map".
pub fn key_concepts(topic: &Topic, limit: usize) -> Vec<String> {
    let mut weighted: Vec<(String, f64)> = vec![(topic.title.clone(), 3.0)];
    if let Some(description) = &topic.description {
        weighted.push((description.clone(), 1.5));
    }
    if let Some(source) = &topic.source_text {
        for line in source.lines() {
            let trimmed = line.trim_start();
            let heading = trimmed.starts_with('#');
            weighted.push((
                trimmed.trim_start_matches('#').to_string(),
                if heading { 2.5 } else { 1.0 },
            ));
        }
    }

    let mut grams: BTreeMap<String, Gram> = BTreeMap::new();
    let mut order = 0;
    for (text, weight) in &weighted {
        for chunk in candidate_chunks(text) {
            for n in 1..=3.min(chunk.len()) {
                for window in chunk.windows(n) {
                    let key = window
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .collect::<Vec<_>>()
                        .join(" ");
                    let gram = grams.entry(key).or_insert_with(|| {
                        order += 1;
                        Gram {
                            weight: 0.0,
                            // Singular forms, except acronyms and mixed case, kept as written.
                            shown: window
                                .iter()
                                .map(|(k, s)| {
                                    if s.chars().any(char::is_uppercase) {
                                        s.as_str()
                                    } else {
                                        k.as_str()
                                    }
                                })
                                .collect::<Vec<_>>()
                                .join(" "),
                            first_seen: order,
                        }
                    });
                    gram.weight += weight;
                }
            }
        }
    }
    let mut scored: Vec<(f64, usize, &Gram)> = grams
        .iter()
        .map(|(key, gram)| {
            let words = key.split(' ').count();
            let bonus = match words {
                1 => 1.0,
                2 => 2.2,
                _ => 2.8,
            };
            // A single short word seen once is rarely a concept.
            let single_penalty = if words == 1 && (gram.weight < 2.0 || key.len() < 4) {
                0.3
            } else {
                1.0
            };
            (gram.weight * bonus * single_penalty, gram.first_seen, gram)
        })
        .collect();
    // Highest score first; ties go to what appeared first in the text, never to map order.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));

    let mut concepts: Vec<String> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for (_, _, gram) in scored {
        let key = gram.shown.to_lowercase();
        // A phrase inside one already chosen (or around it) would be a near-duplicate.
        let overlaps = keys
            .iter()
            .any(|k| contains_words(k, &key) || contains_words(&key, k));
        if !overlaps {
            keys.push(key);
            concepts.push(gram.shown.clone());
        }
        if concepts.len() >= limit {
            break;
        }
    }
    concepts
}

/// Whether `needle`'s words appear, in order and whole, inside `haystack`.
fn contains_words(haystack: &str, needle: &str) -> bool {
    format!(" {haystack} ").contains(&format!(" {needle} "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn topic(title: &str, description: Option<&str>, source: Option<&str>) -> Topic {
        Topic {
            id: Uuid::nil(),
            title: title.into(),
            description: description.map(Into::into),
            source_text: source.map(Into::into),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn plurals_fold_into_one_concept() {
        let t = topic(
            "Hashing",
            None,
            Some("Hash functions map keys. A hash function must be fast. Hash functions collide."),
        );
        let concepts = key_concepts(&t, 10);
        assert_eq!(concepts[0], "hash function", "{concepts:?}");
        assert!(!concepts.iter().any(|c| c == "hash functions"));
    }

    #[test]
    fn plan_is_deterministic_valid_and_hierarchical() {
        let t = topic(
            "Photosynthesis",
            Some("How plants turn light into chemical energy"),
            Some("# Light reactions\nChlorophyll absorbs light.\n# Calvin cycle\nCarbon fixation builds sugar."),
        );
        let first = plan_blueprint(&t, 12);
        assert_eq!(first, plan_blueprint(&t, 12));
        assert_eq!(first.terminals.len(), 12);
        for terminal in &first.terminals {
            terminal
                .objective
                .check()
                .expect("terminal objective follows the rules");
            assert!(terminal.objective.bloom_level >= BloomLevel::Apply);
            assert!((2..=4).contains(&terminal.enabling.len()), "{terminal:?}");
            for enabling in &terminal.enabling {
                enabling
                    .check()
                    .expect("enabling objective follows the rules");
                assert!(enabling.bloom_level <= terminal.objective.bloom_level);
            }
        }
    }

    #[test]
    fn a_title_alone_still_gives_distinct_objectives() {
        let plan = plan_blueprint(&topic("Photosynthesis", None, None), 8);
        let mut texts: Vec<_> = plan
            .terminals
            .iter()
            .map(|t| t.objective.text.clone())
            .collect();
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), 8);
    }
}
