//! The built-in offline generator: no network, no model. It finds the key concepts of the
//! topic (a RAKE-style key-phrase extractor that favours the title and headings), plans the
//! blueprint over Bloom's revised taxonomy, and writes objectives from templates that start
//! with a measurable verb. Deterministic: the same topic always gives the same blueprint.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::quality::{similarity, NEAR_DUPLICATE_SIMILARITY};
use super::text::{is_breaking_verb, is_stop_word, normalise_word};
use super::{GenerateError, GenerationRequest, Generator, ObjectiveSink};
use crate::domain::objective::verb_level;
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
    let subject = subject_phrase(&topic.title);
    let concepts = key_concepts(topic, target.max(1) * 2);
    let pool = concept_pool(&concepts, &subject, target);
    let mut terminals = Vec::with_capacity(target);
    // Every objective planned so far, so that none is a near-duplicate of another.
    let mut planned: Vec<String> = Vec::new();
    for index in 0..target {
        let concept = &pool[index];
        // The related concept is another real one when there is one, else the subject.
        let related = if concepts.len() > 1 {
            let mut r = &concepts[(index + 1) % concepts.len()];
            if r == concept {
                r = &concepts[(index + 2) % concepts.len()];
            }
            r.clone()
        } else {
            format!("other ideas in {subject}")
        };
        let terminal = terminal_objective(index, concept, &related, &subject, &planned);
        planned.push(terminal.objective.text.clone());
        planned.extend(terminal.enabling.iter().map(|e| e.text.clone()));
        terminals.push(terminal);
    }
    let listed: Vec<&str> = concepts.iter().take(5).map(String::as_str).collect();
    let description = if listed.is_empty() {
        format!("{target} terminal objectives on {}.", topic.title.trim())
    } else {
        format!(
            "{target} terminal objectives on {}, covering {}.",
            topic.title.trim(),
            listed.join(", ")
        )
    };
    BlueprintPlan {
        title: format!("{}: quiz blueprint", topic.title.trim()),
        description,
        terminals,
    }
}

/// The title as it reads inside a sentence: "Photosynthesis" → "photosynthesis", while
/// "World War II" or "DNA replication" keep their capitals.
fn subject_phrase(title: &str) -> String {
    let title = title.trim();
    let mut words = title.split_whitespace();
    let Some(first) = words.next() else {
        return "the topic".to_string();
    };
    let other_capitals = words.any(|w| w.chars().next().is_some_and(char::is_uppercase));
    let first_is_plain = first.chars().skip(1).all(|c| !c.is_uppercase());
    if first_is_plain && !other_capitals {
        let mut chars = title.chars();
        match chars.next() {
            Some(c) => c.to_lowercase().chain(chars).collect(),
            None => String::new(),
        }
    } else {
        title.to_string()
    }
}

/// One concept per terminal objective: the extracted ones first, then the subject, then the
/// subject and the concepts seen from different angles, so every objective still names
/// something distinct however small the topic.
fn concept_pool(concepts: &[String], subject: &str, target: usize) -> Vec<String> {
    const ANGLES: [&str; 16] = [
        "the core principles of",
        "the key terms of",
        "real-world applications of",
        "common misconceptions about",
        "the limitations of",
        "the historical development of",
        "the main methods used in",
        "the central questions of",
        "the evidence behind",
        "notable examples of",
        "the structure of",
        "current debates about",
        "the basic vocabulary of",
        "the practical uses of",
        "the underlying assumptions of",
        "recent developments in",
    ];
    let mut pool: Vec<String> = concepts.to_vec();
    let subject_lower = subject.to_lowercase();
    let same_as_subject = |c: &str| {
        let c = c.to_lowercase();
        c == subject_lower || normalise_word(&c) == normalise_word(&subject_lower)
    };
    if !pool.iter().any(|c| same_as_subject(c)) {
        pool.push(subject.to_string());
    }
    let bases: Vec<&str> = std::iter::once(subject)
        .chain(
            concepts
                .iter()
                .map(String::as_str)
                .filter(|c| !same_as_subject(c)),
        )
        .collect();
    'fill: for angle in ANGLES {
        for base in &bases {
            if pool.len() >= target {
                break 'fill;
            }
            pool.push(format!("{angle} {base}"));
        }
    }
    // A tiny topic and a large target: number further sets of the same angles.
    let mut round = 2;
    while pool.len() < target {
        for angle in ANGLES {
            if pool.len() >= target {
                break;
            }
            pool.push(format!("{angle} {subject}, set {round}"));
        }
        round += 1;
    }
    pool
}

/// One objective template. `{c}` is the concept, `{r}` a related concept, `{s}` the subject.
struct Template {
    verb: &'static str,
    text: &'static str,
    condition: Option<&'static str>,
    criterion: Option<&'static str>,
}

impl Template {
    /// The level comes from the one canonical verb table, never from the template.
    fn level(&self) -> BloomLevel {
        verb_level(self.verb).unwrap_or(BloomLevel::Remember)
    }
}

const fn t(
    verb: &'static str,
    text: &'static str,
    condition: Option<&'static str>,
    criterion: Option<&'static str>,
) -> Template {
    Template {
        verb,
        text,
        condition,
        criterion,
    }
}

/// Terminal objectives, all at Apply or above; the cycle walks Apply → Analyze → Evaluate →
/// Create three times with different verbs, so a blueprint spreads over four levels.
const TERMINAL_TEMPLATES: &[Template] = &[
    t(
        "Apply",
        "Apply {c} to solve an unfamiliar problem",
        Some("given a short case description"),
        Some("reaching a correct, fully worked solution"),
    ),
    t(
        "Analyze",
        "Analyze the relationship between {c} and {r}",
        Some("given a worked example"),
        Some("identifying at least two connections"),
    ),
    t(
        "Evaluate",
        "Evaluate the strengths and limitations of {c}",
        Some("given two competing claims"),
        Some("supporting the judgement with evidence"),
    ),
    t(
        "Design",
        "Design a short task that makes use of {c}",
        None,
        Some("meeting every stated requirement"),
    ),
    t(
        "Demonstrate",
        "Demonstrate the use of {c} in a new situation",
        Some("given an unfamiliar scenario"),
        Some("with no more than one error"),
    ),
    t(
        "Compare",
        "Compare {c} with {r} in a structured table",
        None,
        Some("naming at least two similarities and two differences"),
    ),
    t(
        "Justify",
        "Justify a decision about {c} with evidence",
        Some("given a realistic scenario"),
        Some("citing at least two relevant facts"),
    ),
    t(
        "Construct",
        "Construct an original example that illustrates {c}",
        None,
        Some("that a peer can verify"),
    ),
    t(
        "Solve",
        "Solve a typical problem that involves {c}",
        Some("given the necessary data"),
        Some("with a correct result"),
    ),
    t(
        "Examine",
        "Examine the assumptions behind {c} in a short text",
        Some("given a short source text"),
        Some("naming each assumption it relies on"),
    ),
    t(
        "Critique",
        "Critique a flawed account of {c}",
        Some("given a sample answer with errors"),
        Some("correcting every error found"),
    ),
    t(
        "Propose",
        "Propose an investigation into an open question about {c}",
        None,
        Some("stating a testable question and a method"),
    ),
];

/// Enabling objectives by level, with variants so neighbouring terminals read differently.
const REMEMBER_TEMPLATES: &[Template] = &[
    t(
        "Define",
        "Define {c} in precise terms",
        None,
        Some("matching the course definition"),
    ),
    t(
        "State",
        "State the defining features of {c}",
        None,
        Some("naming at least two features"),
    ),
    t(
        "Identify",
        "Identify {c} in a described situation",
        Some("given a short description"),
        Some("with no more than one error"),
    ),
];
const UNDERSTAND_TEMPLATES: &[Template] = &[
    t(
        "Explain",
        "Explain the role of {c} in {s}",
        None,
        Some("in two or three sentences"),
    ),
    t(
        "Illustrate",
        "Illustrate {c} with an example of your own",
        None,
        Some("that is correct in every detail"),
    ),
    t(
        "Summarize",
        "Summarize the main ideas behind {c}",
        None,
        Some("in no more than five sentences"),
    ),
];
const APPLY_TEMPLATES: &[Template] = &[
    t(
        "Use",
        "Use {c} to work through a simple case",
        Some("given a guided exercise"),
        Some("with a correct result"),
    ),
    t(
        "Trace",
        "Trace the effect of {c} in a simple case",
        Some("given a step-by-step example"),
        Some("with every step correct"),
    ),
];
const ANALYZE_TEMPLATES: &[Template] = &[
    t(
        "Distinguish",
        "Distinguish {c} from the related idea of {r}",
        None,
        Some("naming one decisive difference"),
    ),
    t(
        "Differentiate",
        "Differentiate between correct and incorrect uses of {c}",
        Some("given several short cases"),
        Some("with at least 80% accuracy"),
    ),
];

/// Replaces the placeholders. "Explain the role of photosynthesis in photosynthesis" would
/// read badly, so `{s}` becomes a neutral phrase when the concept already is the subject.
fn fill(template: &Template, concept: &str, related: &str, subject: &str) -> ObjectiveDraft {
    let concept_lower = concept.to_lowercase();
    let subject_lower = subject.to_lowercase();
    let context =
        if concept_lower.contains(&subject_lower) || subject_lower.contains(&concept_lower) {
            "its field".to_string()
        } else {
            subject.to_string()
        };
    let text = template
        .text
        .replace("{c}", concept)
        .replace("{r}", related)
        .replace("{s}", &context);
    ObjectiveDraft {
        text,
        verb: template.verb.to_string(),
        bloom_level: template.level(),
        condition: template.condition.map(str::to_string),
        criterion: template.criterion.map(str::to_string),
        evidence: None,
    }
}

/// A terminal objective and its enabling objectives: one at Remember, one at Understand, and
/// one at each further level strictly below the terminal's (so 2–4), lowest first.
fn terminal_objective(
    index: usize,
    concept: &str,
    related: &str,
    subject: &str,
    planned: &[String],
) -> TerminalDraft {
    // The template in turn, or else the first one (same level first) that repeats nothing.
    let n = TERMINAL_TEMPLATES.len();
    let objective = [0, 4, 8, 1, 2, 3, 5, 6, 7, 9, 10, 11]
        .iter()
        .map(|k| {
            fill(
                &TERMINAL_TEMPLATES[(index + k) % n],
                concept,
                related,
                subject,
            )
        })
        .find(|draft| {
            planned
                .iter()
                .all(|p| similarity(p, &draft.text) < NEAR_DUPLICATE_SIMILARITY)
        })
        .unwrap_or_else(|| fill(&TERMINAL_TEMPLATES[index % n], concept, related, subject));
    let level = objective.bloom_level;
    let mut enabling = Vec::new();
    for (tier, templates) in [
        (BloomLevel::Remember, REMEMBER_TEMPLATES),
        (BloomLevel::Understand, UNDERSTAND_TEMPLATES),
        (BloomLevel::Apply, APPLY_TEMPLATES),
        (BloomLevel::Analyze, ANALYZE_TEMPLATES),
    ] {
        if tier < level {
            // The rotating variant, or the next one that repeats nothing planned so far.
            let first = index / TERMINAL_TEMPLATES.len() + index;
            let fresh = (0..templates.len())
                .map(|k| {
                    fill(
                        &templates[(first + k) % templates.len()],
                        concept,
                        related,
                        subject,
                    )
                })
                .find(|draft| {
                    planned
                        .iter()
                        .all(|p| similarity(p, &draft.text) < NEAR_DUPLICATE_SIMILARITY)
                });
            if let Some(draft) = fresh {
                enabling.push(draft);
            }
        }
    }
    TerminalDraft {
        objective,
        enabling,
    }
}

/// A word as found in the text: what identifies it (`key`, singular lower case) and how it
/// was written (`surface`: lower case unless an acronym or mixed case like "DNA", "RuBisCO").
struct Word {
    key: String,
    surface: String,
}

/// A run of content words, and whether "the" came right before it.
struct Chunk {
    words: Vec<Word>,
    after_the: bool,
    after_a: bool,
}

/// Splits text into candidate chunks: runs of content words between stop words, verbs,
/// adverbs, numbers and punctuation. Also counts, for each word key, how often it was
/// capitalised inside a sentence and how often not (to keep proper nouns).
fn candidate_chunks(text: &str, capitals: &mut BTreeMap<String, (u32, u32)>) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut current: Vec<Word> = Vec::new();
    let mut current_after_the = false;
    let mut current_after_a = false;
    let mut previous_was_the = false;
    let mut previous_token = String::new();
    let is_word_char = |c: char| c.is_alphanumeric() || c == '-' || c == '\'';
    let mut rest = text;
    let mut sentence_start = true;
    let flush =
        |current: &mut Vec<Word>, (after_the, after_a): (bool, bool), chunks: &mut Vec<Chunk>| {
            if !current.is_empty() {
                chunks.push(Chunk {
                    words: std::mem::take(current),
                    after_the,
                    after_a,
                });
            }
        };
    while !rest.is_empty() {
        let start = rest.find(is_word_char).unwrap_or(rest.len());
        let gap = &rest[..start];
        // Punctuation other than spaces between words ends a chunk.
        if gap.chars().any(|c| !c.is_whitespace()) {
            flush(
                &mut current,
                (current_after_the, current_after_a),
                &mut chunks,
            );
            previous_was_the = false;
            previous_token.clear();
        }
        if gap.contains(['.', '!', '?', ':', '\n']) {
            sentence_start = true;
        }
        rest = &rest[start..];
        let end = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        let word = rest[..end].trim_matches(|c| c == '-' || c == '\'');
        rest = &rest[end..];
        if word.is_empty() {
            continue;
        }
        let lower = word.to_lowercase();
        let acronym = word.len() >= 2 && word.chars().all(|c| c.is_ascii_uppercase());
        let breaks = is_stop_word(&lower)
            || is_breaking_verb(&lower)
            || (lower.len() > 4 && lower.ends_with("ly"))
            || word.chars().all(|c| c.is_ascii_digit())
            || (word.chars().count() < 3 && !acronym)
            || lower.contains('\'');
        let was_sentence_start = sentence_start;
        sentence_start = false;
        // A past form is a verb unless a determiner or preposition comes right before it:
        // "Bonaparte seized power" and "and shaped nationalism", but "a linked list".
        const BEFORE_ADJECTIVE: &[&str] = &[
            "the", "a", "an", "of", "in", "on", "for", "with", "to", "by", "from", "into", "this",
            "these", "those", "its", "their", "each", "every", "any", "some", "no", "as",
        ];
        let past = lower.len() > 4 && lower.ends_with("ed") && !lower.ends_with("eed");
        let past_verb =
            past && (!current.is_empty() || !BEFORE_ADJECTIVE.contains(&previous_token.as_str()));
        let after_article = matches!(previous_token.as_str(), "a" | "an" | "each" | "every");
        previous_token.clone_from(&lower);
        if breaks || past_verb {
            flush(
                &mut current,
                (current_after_the, current_after_a),
                &mut chunks,
            );
            previous_was_the = lower == "the";
            continue;
        }
        let key = normalise_word(word);
        if !was_sentence_start {
            let entry = capitals.entry(key.clone()).or_default();
            if word.chars().next().is_some_and(char::is_uppercase) {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
        let surface = if word.chars().skip(1).any(char::is_uppercase) {
            word.to_string()
        } else {
            lower.clone()
        };
        if current.is_empty() {
            current_after_the = previous_was_the;
            current_after_a = after_article;
        }
        previous_was_the = false;
        // A plural rarely modifies the next noun ("hash functions map keys", "plates shape
        // mountains"): it ends the phrase.
        let plural = key != lower && !acronym;
        current.push(Word { key, surface });
        if plural {
            flush(
                &mut current,
                (current_after_the, current_after_a),
                &mut chunks,
            );
        }
    }
    flush(
        &mut current,
        (current_after_the, current_after_a),
        &mut chunks,
    );
    // A participle after a noun ends the phrase rather than belonging to it: "energy stored".
    for chunk in &mut chunks {
        while chunk.words.len() > 1
            && chunk.words.last().is_some_and(|w| {
                w.key.len() > 4 && w.key.ends_with("ed") && !w.key.ends_with("eed")
            })
        {
            chunk.words.pop();
        }
    }
    chunks
}

/// One candidate phrase: its weight, the ways it was written, and how often "the" came first.
struct Gram {
    weight: f64,
    words: usize,
    /// Written forms in order of first appearance, with their counts.
    surfaces: Vec<(String, u32)>,
    seen: u32,
    after_the: u32,
    /// Times "a", "an", "each" or "every" came right before it: a countable noun.
    after_a: u32,
    first_seen: usize,
    /// The phrase is a whole chunk of the title.
    in_title: bool,
}

/// The weighted pieces of a topic: the title counts most, then headings, the description,
/// and the body of the source text.
fn weighted_texts(topic: &Topic) -> Vec<(&str, f64)> {
    let mut weighted: Vec<(&str, f64)> = vec![(topic.title.as_str(), 3.0)];
    if let Some(description) = &topic.description {
        weighted.push((description.as_str(), 1.5));
    }
    if let Some(source) = &topic.source_text {
        for line in source.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            let heading = trimmed.starts_with('#')
                || (trimmed.ends_with(':') && trimmed.split_whitespace().count() <= 6);
            let text = trimmed.trim_start_matches('#');
            weighted.push((text, if heading { 2.5 } else { 1.0 }));
        }
    }
    weighted
}

/// The topic's key concepts, best first, each as it is best written in a sentence ("the
/// Calvin cycle", "hash functions", "carbon dioxide"). Every 1- to 3-word n-gram inside a
/// chunk is a candidate, scored by how often it recurs (weighted: the title and headings
/// count more) with a bonus for longer phrases, so "hash function", seen three times, beats
/// both "hash" and a one-off "hash function map"; a phrase seen only once in running text
/// scores little. A phrase inside (or around) a better one is a near-duplicate and dropped.
/// Linear in the length of the text.
pub fn key_concepts(topic: &Topic, limit: usize) -> Vec<String> {
    let mut grams: BTreeMap<String, Gram> = BTreeMap::new();
    let mut capitals: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut order = 0;
    for (part, (text, weight)) in weighted_texts(topic).into_iter().enumerate() {
        for chunk in candidate_chunks(text, &mut capitals) {
            let words = &chunk.words;
            for n in 1..=3.min(words.len()) {
                for (offset, window) in words.windows(n).enumerate() {
                    let mut key = String::new();
                    let mut surface = String::new();
                    for (i, word) in window.iter().enumerate() {
                        if i > 0 {
                            key.push(' ');
                            surface.push(' ');
                        }
                        key.push_str(&word.key);
                        surface.push_str(&word.surface);
                    }
                    let gram = grams.entry(key).or_insert_with(|| {
                        order += 1;
                        Gram {
                            weight: 0.0,
                            words: n,
                            surfaces: Vec::new(),
                            seen: 0,
                            after_the: 0,
                            after_a: 0,
                            first_seen: order,
                            in_title: false,
                        }
                    });
                    // A word inside a longer phrase counts half: "call" in "call stack" is
                    // evidence for the phrase more than for the word (as in RAKE, where
                    // words that live in long phrases favour those phrases).
                    gram.weight += if n < words.len() && n == 1 {
                        weight * 0.5
                    } else {
                        weight
                    };
                    gram.seen += 1;
                    if offset == 0 && chunk.after_the {
                        gram.after_the += 1;
                    }
                    if offset == 0 && chunk.after_a {
                        gram.after_a += 1;
                    }
                    if part == 0 && n == words.len() {
                        gram.in_title = true;
                    }
                    match gram.surfaces.iter_mut().find(|(s, _)| *s == surface) {
                        Some((_, count)) => *count += 1,
                        None => gram.surfaces.push((surface, 1)),
                    }
                }
            }
        }
    }
    let mut scored: Vec<(f64, bool, usize, &str, &Gram)> = grams
        .iter()
        .map(|(key, gram)| {
            let bonus = match gram.words {
                1 => 1.0,
                2 => 2.2,
                _ => 2.8,
            };
            // Seen once in running text (or a short single word): rarely a concept.
            let rare =
                gram.weight < 2.0 || (gram.words == 1 && (gram.weight < 3.0 || key.len() < 4));
            // A rare phrase gets a smaller length bonus, and none for a third word, so
            // "separate chaining" wins over "separate chaining stores" (which runs into a
            // verb) while "lithospheric plates" still beats "lithospheric".
            let rare_bonus = match gram.words {
                1 => 1.0,
                2 => 1.3,
                _ => 1.1,
            };
            let (rarity, bonus) = if rare {
                (0.3, rare_bonus)
            } else {
                (1.0, bonus)
            };
            let title = if gram.in_title { 1.5 } else { 1.0 };
            (
                gram.weight * bonus * rarity * title,
                rare,
                gram.first_seen,
                key.as_str(),
                gram,
            )
        })
        .collect();
    // Highest score first; ties go to what appeared first in the text, never to map order.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)));

    let mut concepts: Vec<String> = Vec::new();
    let mut keys: Vec<&str> = Vec::new();
    for (_, rare, _, key, gram) in scored {
        if concepts.len() >= limit {
            break;
        }
        // A rare single word is mostly noise ("higher", "shapes"); a rare phrase of two or
        // three content words usually names something ("Reign of Terror" gives "Terror",
        // but "popular sovereignty" stays).
        if rare && gram.words == 1 && concepts.len() >= 3 {
            continue;
        }
        let overlaps = keys
            .iter()
            .any(|k| contains_words(k, key) || contains_words(key, k));
        if overlaps {
            continue;
        }
        keys.push(key);
        concepts.push(shown_form(key, gram, &capitals));
    }
    concepts
}

/// How a concept reads in a sentence: its most frequent written form, proper nouns
/// capitalised, and "the" in front when the text mostly put it there.
fn shown_form(key: &str, gram: &Gram, capitals: &BTreeMap<String, (u32, u32)>) -> String {
    let mut best: (&str, u32) = (key, 0);
    for (surface, count) in &gram.surfaces {
        if *count > best.1 {
            best = (surface, *count);
        }
    }
    let words: Vec<String> = best
        .0
        .split(' ')
        .zip(key.split(' '))
        .map(|(surface, word_key)| match capitals.get(word_key) {
            // Capitalised inside sentences more often than not: a proper noun.
            Some((upper, lower)) if upper > lower && surface.chars().all(|c| !c.is_uppercase()) => {
                let mut chars = surface.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            }
            _ => surface.to_string(),
        })
        .collect();
    let phrase = words.join(" ");
    if gram.after_the * 2 > gram.seen {
        format!("the {phrase}")
    } else if gram.after_a > 0 && gram.after_a >= gram.after_the && best.0 == key {
        // A countable noun, seen as "a recursive function": "recursive functions" reads
        // naturally where a bare singular would not.
        pluralise(&phrase)
    } else {
        phrase
    }
}

/// The plural of a phrase's last word, by the regular rules.
fn pluralise(phrase: &str) -> String {
    let (head, last) = match phrase.rsplit_once(' ') {
        Some((head, last)) => (format!("{head} "), last),
        None => (String::new(), phrase),
    };
    let plural = if last.ends_with(['s', 'x', 'z']) || last.ends_with("ch") || last.ends_with("sh")
    {
        format!("{last}es")
    } else if last.len() > 2
        && last.ends_with('y')
        && !last[..last.len() - 1].ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{}ies", &last[..last.len() - 1])
    } else if last.chars().all(|c| c.is_uppercase() || c.is_ascii_digit()) {
        return phrase.to_string();
    } else {
        format!("{last}s")
    };
    format!("{head}{plural}")
}

/// Whether `needle`'s words appear, in order and whole, inside `haystack`.
fn contains_words(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return false;
    }
    (0..=h.len() - n.len()).any(|i| {
        &h[i..i + n.len()] == n
            && (i == 0 || h[i - 1] == b' ')
            && (i + n.len() == h.len() || h[i + n.len()] == b' ')
    })
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
        assert_eq!(concepts[0], "hash functions", "{concepts:?}");
        let folded: Vec<_> = concepts
            .iter()
            .filter(|c| c.starts_with("hash function"))
            .collect();
        assert_eq!(folded.len(), 1, "{concepts:?}");
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
    fn templates_take_their_levels_from_the_verb_table() {
        assert_eq!(TERMINAL_TEMPLATES.len(), 12, "the variant order assumes 12");
        for (i, template) in TERMINAL_TEMPLATES.iter().enumerate() {
            let level = verb_level(template.verb).expect("a table verb");
            assert!(level >= BloomLevel::Apply, "{}", template.verb);
            // Apply, Analyze, Evaluate, Create, again and again.
            assert_eq!(level, BloomLevel::ALL[2 + i % 4], "{}", template.verb);
            assert!(template.text.starts_with(template.verb));
        }
        for (level, templates) in [
            (BloomLevel::Remember, REMEMBER_TEMPLATES),
            (BloomLevel::Understand, UNDERSTAND_TEMPLATES),
            (BloomLevel::Apply, APPLY_TEMPLATES),
            (BloomLevel::Analyze, ANALYZE_TEMPLATES),
        ] {
            for template in templates {
                assert_eq!(verb_level(template.verb), Some(level), "{}", template.verb);
                assert!(template.text.starts_with(template.verb));
            }
        }
    }

    #[test]
    fn verbs_do_not_end_up_inside_concepts() {
        let t = topic(
            "Photosynthesis",
            None,
            Some("Chlorophyll absorbs light energy. Chlorophyll absorbs light energy again."),
        );
        let concepts = key_concepts(&t, 10);
        assert!(concepts.iter().any(|c| c == "light energy"), "{concepts:?}");
        assert!(
            !concepts.iter().any(|c| c.contains("absorb")),
            "{concepts:?}"
        );
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
