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
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been",
    "before", "being", "between", "both", "but", "by", "can", "could", "did", "do", "does",
    "each", "either", "for", "from", "had", "has", "have", "how", "however", "i", "if", "in",
    "into", "is", "it", "its", "itself", "just", "may", "might", "more", "most", "much", "must",
    "no", "not", "of", "on", "one", "only", "or", "other", "our", "over", "same", "should",
    "so", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these",
    "they", "this", "those", "through", "to", "too", "two", "under", "up", "use", "used",
    "using", "very", "was", "we", "were", "what", "when", "where", "whether", "which", "while",
    "who", "why", "will", "with", "would", "you", "your", "introduction", "chapter", "lecture",
    "notes", "example", "examples", "e.g", "i.e", "etc", "many", "often", "usually", "called",
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

/// Splits text into candidate phrases at stop words and punctuation.
fn candidate_phrases(text: &str) -> Vec<Vec<String>> {
    let mut phrases = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let flush = |current: &mut Vec<String>, phrases: &mut Vec<Vec<String>>| {
        if !current.is_empty() && current.len() <= 4 {
            phrases.push(std::mem::take(current));
        } else {
            current.clear();
        }
    };
    for token in text.split_inclusive(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\'')) {
        let word: String = token
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '\'')
            .collect();
        let word = word.trim_matches(|c| c == '-' || c == '\'');
        let boundary = token
            .chars()
            .last()
            .is_some_and(|c| !(c.is_alphanumeric() || c == '-' || c == '\'' || c == ' '));
        if word.is_empty() {
            flush(&mut current, &mut phrases);
        } else if STOP_WORDS.contains(&word.to_lowercase().as_str())
            || word.chars().all(|c| c.is_ascii_digit())
            || word.chars().count() < 3
        {
            flush(&mut current, &mut phrases);
        } else {
            current.push(normalise_word(word));
        }
        if boundary {
            flush(&mut current, &mut phrases);
        }
    }
    flush(&mut current, &mut phrases);
    phrases
}

/// The topic's key concepts, best first (RAKE scores; title and headings weigh more).
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

    // RAKE: a word's score is its degree (co-occurrence within phrases) over its frequency.
    let mut frequency: BTreeMap<String, f64> = BTreeMap::new();
    let mut degree: BTreeMap<String, f64> = BTreeMap::new();
    let mut phrase_weight: BTreeMap<Vec<String>, f64> = BTreeMap::new();
    for (text, weight) in &weighted {
        for phrase in candidate_phrases(text) {
            for word in &phrase {
                *frequency.entry(word.clone()).or_default() += 1.0;
                *degree.entry(word.clone()).or_default() += phrase.len() as f64;
            }
            *phrase_weight.entry(phrase).or_default() += weight;
        }
    }
    let mut scored: Vec<(Vec<String>, f64)> = phrase_weight
        .into_iter()
        .map(|(phrase, weight)| {
            let rake: f64 = phrase
                .iter()
                .map(|w| degree.get(w).copied().unwrap_or(0.0) / frequency.get(w).copied().unwrap_or(1.0))
                .sum();
            (phrase, rake * weight.sqrt() * (1.0 + weight.ln_1p()))
        })
        .collect();
    // Highest score first; ties broken by the phrase itself, never by map order.
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let mut concepts: Vec<String> = Vec::new();
    for (phrase, _) in scored {
        let text = phrase.join(" ");
        // Skip a phrase contained in one already chosen (or containing it), to avoid near-duplicates.
        let overlaps = concepts
            .iter()
            .any(|c| c.contains(text.as_str()) || text.contains(c.as_str()));
        if !overlaps {
            concepts.push(text);
        }
        if concepts.len() >= limit {
            break;
        }
    }
    concepts
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
        assert!(concepts.contains(&"hash function".to_string()), "{concepts:?}");
        assert!(!concepts.contains(&"hash functions".to_string()));
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
            terminal.objective.check().expect("terminal objective follows the rules");
            assert!(terminal.objective.bloom_level >= BloomLevel::Apply);
            assert!((2..=4).contains(&terminal.enabling.len()), "{terminal:?}");
            for enabling in &terminal.enabling {
                enabling.check().expect("enabling objective follows the rules");
                assert!(enabling.bloom_level <= terminal.objective.bloom_level);
            }
        }
    }

    #[test]
    fn a_title_alone_still_gives_distinct_objectives() {
        let plan = plan_blueprint(&topic("Photosynthesis", None, None), 8);
        let mut texts: Vec<_> = plan.terminals.iter().map(|t| t.objective.text.clone()).collect();
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), 8);
    }
}
