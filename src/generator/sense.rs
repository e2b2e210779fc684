//! Quality checks that judge sense rather than form, for any generator's objectives: grammar
//! (harper-core's lints), concepts that are real noun phrases of the source's prose, paired
//! concepts the source relates, coverage of an independent reference (the terms the author
//! marked), enabling objectives that lead to their terminal objective, and evidence that is
//! really in the source.

use std::collections::BTreeSet;
use std::sync::{LazyLock, Mutex};

use harper_core::linting::{LintGroup, LintKind, Linter};
use harper_core::spell::FstDictionary;
use harper_core::{Dialect, Document};

use super::source::{self, contains_phrase, phrases, Analysis};
use super::text::normalise_word;
use crate::domain::{ObjectiveDraft, TerminalDraft};

/// Nouns the templates of any generator use for the setting of a task, not for a concept of
/// the topic; they need not occur in the source.
const TASK_WORDS: &[&str] = &[
    "text",
    "task",
    "message",
    "program",
    "example",
    "case",
    "passage",
    "data set",
    "datum set",
    "word",
    "sentence",
    "caller",
    "command",
    "option",
    "account",
    "rule",
    "statement",
    "answer",
    "scenario",
    "situation",
    "problem",
    "situation",
    "step",
    "event",
    "cause",
    "consequence",
    "idea",
    "behaviour",
    "behavior",
    "purpose",
    "definition",
    "kind",
    "value",
    "link",
    "role",
    "part",
    "similarity",
    "difference",
    "object",
    "call",
    "source",
    "table",
    "list",
    "diagram",
    "summary",
    "essay",
    "report",
    "plan",
    "argument",
    "evidence",
    "criterion",
    "condition",
    "feature",
    "main idea",
    "short program",
    "new example",
    "given case",
    "new case",
    "failing program",
    "own word",
    "short written answer",
    "structured table",
    "way",
    "term",
    "connection",
    "text give",
    "present",
    "own word",
    "consequence",
    "main event",
    "order",
    "list of value",
    "importance",
    "key term",
    "textbook",
    "type",
    "given list of value",
    "new example",
    "given example",
    "short paragraph",
    "paragraph",
    "main event",
];

/// A linter is renewed after this many texts: its result caches keep every text's results
/// for every rule (a map of some hundred rule names each), a lot of memory for objectives
/// that are linted once and never again.
const LINTS_PER_LINTER: usize = 256;

struct PooledLinter {
    linter: LintGroup,
    used: usize,
}

fn curated_linter() -> LintGroup {
    let mut linter = LintGroup::new_curated(FstDictionary::curated(), Dialect::American);
    // Spelling lints are dropped below (technical terms), and the spell checker is the
    // costliest rule: it builds a Levenshtein automaton for every word it does not know.
    linter.config.set_rule_enabled("SpellCheck", false);
    linter
}

/// Idle linters. Linting is most of a generation's CPU work, and a job lints on a core of its
/// own (`generator::cpu`): one shared linter behind a lock would make the other core wait.
/// At most one per core is kept; a new one costs a few milliseconds (the dictionary is shared).
static IDLE_LINTERS: LazyLock<Mutex<Vec<PooledLinter>>> = LazyLock::new(Mutex::default);

fn lint(document: &Document) -> Vec<harper_core::linting::Lint> {
    let idle = || {
        IDLE_LINTERS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    let taken = idle().pop();
    let mut pooled = match taken {
        Some(pooled) if pooled.used < LINTS_PER_LINTER => pooled,
        _ => PooledLinter {
            linter: curated_linter(),
            used: 0,
        },
    };
    pooled.used += 1;
    let lints = pooled.linter.lint(document);
    let mut idle = idle();
    if idle.len() < super::cpu::cores() {
        idle.push(pooled);
    }
    lints
}

/// The grammar problems of one objective: harper's lints, except spelling (technical terms)
/// and style advice, and except anything inside quotes or an API name (the source's own
/// words, not the objective's grammar).
pub fn grammar_problems(text: &str) -> Vec<String> {
    grammar_problems_sparing(text, &BTreeSet::new())
}

/// [`grammar_problems`], also sparing the source's own words: its API names and any word the
/// objective takes from it as written that the dictionary does not know or would capitalise
/// (`gunzip`, `blas-src`, "gregorian" as the source writes it). Those are the teacher's
/// spelling, not the objective's grammar.
pub fn grammar_problems_sparing(text: &str, api_names: &BTreeSet<String>) -> Vec<String> {
    grammar_problems_in(text, api_names, "")
}

/// [`grammar_problems_sparing`], also sparing any wording the source itself uses (a lint on
/// "data set" where the teacher writes "data set" is about the teacher's style).
pub fn grammar_problems_in(
    text: &str,
    api_names: &BTreeSet<String>,
    source_lower: &str,
) -> Vec<String> {
    let document = Document::new_plain_english_curated(text);
    let lints = lint(&document);
    let chars: Vec<char> = text.chars().collect();
    let protected = protected_spans(&chars, api_names);
    lints
        .into_iter()
        .filter(|lint| {
            !matches!(
                lint.lint_kind,
                LintKind::Spelling
                    | LintKind::Style
                    | LintKind::Enhancement
                    | LintKind::Readability
                    | LintKind::Regionalism
            )
        })
        .filter(|lint| {
            !protected
                .iter()
                .any(|(s, e)| lint.span.start < *e && lint.span.end > *s)
        })
        .filter_map(|lint| {
            let found: String = chars
                .get(lint.span.start..lint.span.end.min(chars.len()))
                .map(|c| c.iter().collect())
                .unwrap_or_default();
            let capitalised = found.chars().next().is_some_and(char::is_uppercase);
            let sources_wording = (found.contains(' ') || capitalised)
                && source_lower.contains(&found.to_lowercase());
            (!sources_wording).then(|| format!("{:?}: {} (at {found:?})", text, lint.message))
        })
        .collect()
}

/// Character spans of quoted text and identifier-like words.
fn protected_spans(chars: &[char], api_names: &BTreeSet<String>) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '"' {
            if let Some(len) = chars[i + 1..].iter().position(|c| *c == '"') {
                spans.push((i, i + len + 2));
                i += len + 2;
                continue;
            }
        }
        if !chars[i].is_whitespace() {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let word = word.trim_end_matches([',', '.', ';', ':']);
            let identifier = api_names.contains(word)
                || word.contains('_')
                || word.contains("()")
                || word.starts_with('-')
                || word.contains('.')
                || word.chars().skip(1).any(char::is_uppercase);
            if identifier {
                spans.push((start, i));
            }
            continue;
        }
        i += 1;
    }
    spans
}

/// The concept phrases an objective names: its noun phrases that are concept-like and not
/// task words. Keys.
pub fn named_concepts(analysis: &Analysis, text: &str) -> Vec<String> {
    // Quoted terms (a non-English source's words) are concepts as written.
    let mut keys: Vec<String> = Vec::new();
    // The source's own concepts, found as written, longest first; the rest is read as
    // phrases (the tagger may split a known term in a short objective).
    let mut rest = format!(" {} ", text.to_lowercase());
    let mut known: Vec<&source::Concept> = analysis.concepts.iter().take(300).collect();
    known.sort_by_key(|c| std::cmp::Reverse(c.name.len()));
    for concept in known {
        let needle = format!(" {} ", concept.name.to_lowercase());
        if concept.name.chars().count() >= 3 && rest.contains(&needle) {
            keys.push(concept.key.clone());
            rest = rest.replace(&needle, " , ");
        }
    }
    let text_owned = rest;
    let text = text_owned.as_str();
    for (i, part) in text.split('"').enumerate() {
        if i % 2 == 1 && !part.trim().is_empty() {
            keys.push(phrases::phrase_key(part.split_whitespace()));
        }
    }
    let unquoted: String = text
        .split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, p)| p)
        .collect::<Vec<_>>()
        .join(" ");
    let mut tokens = phrases::tokenize(&unquoted, &analysis.document.api_names);
    let np = phrases::tag(&mut tokens);
    let stop = source::language::stop_words("en");
    for phrase in phrases::english_phrases(&tokens, &np) {
        // "definition of market equilibrium" names market equilibrium.
        let mut key = phrase.key.clone();
        if let Some((first, rest)) = key.split_once(" of ") {
            if TASK_WORDS.contains(&first) || first.ends_with("kind") || first.ends_with("step") {
                key = rest.to_string();
            }
        }
        if key.split(' ').any(|w| w == "text") {
            continue;
        }
        // The verb that starts every objective is no concept, whatever the tagger says.
        let is_verb = tokens
            .first()
            .is_some_and(|t| phrase.text.starts_with(&t.text));
        if is_verb || TASK_WORDS.contains(&key.as_str()) {
            continue;
        }
        let head = key.rsplit(' ').next().unwrap_or("");
        if TASK_WORDS.contains(&head)
            && !analysis
                .sentences
                .iter()
                .any(|s| s.phrases.iter().any(|p| p.key == key))
        {
            continue;
        }
        let shown = if key == phrase.key {
            phrase.text.clone()
        } else {
            key.clone()
        };
        if source::is_concept_phrase(&key, &shown, phrase.api, &stop) && !keys.contains(&key) {
            keys.push(key);
        }
    }
    // Of nested phrases ("Julian calendar" and "calendar") keep the longer.
    let all = keys.clone();
    keys.retain(|k| !all.iter().any(|other| contains_phrase(other, k)));
    keys
}

/// Whether a concept key occurs in the source's prose (as a phrase of some sentence, or as a
/// sequence of its words).
pub fn in_prose(analysis: &Analysis, key: &str) -> bool {
    analysis
        .concept(key)
        .is_some_and(|c| !c.sentences.is_empty())
        // A man page's option is where its entry describes it.
        || analysis.sentences.iter().any(|s| {
            s.entry
                .iter()
                .any(|n| phrases::phrase_key(n.split_whitespace()) == key)
        })
        || analysis.sentences.iter().any(|s| {
            s.phrases
                .iter()
                .any(|p| p.key == key || contains_phrase(&p.key, key))
        })
        || {
            let words: Vec<&str> = key.split(' ').collect();
            analysis.sentences.iter().any(|s| {
                s.word_keys
                    .windows(words.len())
                    .any(|w| w.iter().zip(&words).all(|(a, b)| a == b))
            })
        }
}

/// Sentence indexes where a concept occurs.
pub fn occurrences(analysis: &Analysis, key: &str) -> BTreeSet<usize> {
    let known: BTreeSet<usize> = analysis
        .concept(key)
        .map(|c| c.sentences.iter().copied().collect())
        .unwrap_or_default();
    known
        .into_iter()
        .chain(
            analysis
                .sentences
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.phrases
                        .iter()
                        .any(|p| p.key == key || contains_phrase(&p.key, key))
                        // A man page's option occurs where its entry describes it.
                        || s.entry
                            .iter()
                            .any(|n| phrases::phrase_key(n.split_whitespace()) == key)
                })
                .map(|(i, _)| i),
        )
        .collect()
}

/// Whether two concepts occur in one sentence, or in one section of the source.
pub fn related_in_source(analysis: &Analysis, a: &str, b: &str) -> bool {
    occurrences_related(
        analysis,
        &occurrences(analysis, a),
        &occurrences(analysis, b),
    )
}

/// [`related_in_source`] for two concepts' [`occurrences`], found once for many pairs.
pub fn occurrences_related(
    analysis: &Analysis,
    first: &BTreeSet<usize>,
    second: &BTreeSet<usize>,
) -> bool {
    if first.intersection(second).next().is_some() {
        return true;
    }
    let sections = |set: &BTreeSet<usize>| -> BTreeSet<usize> {
        set.iter().map(|i| analysis.sentences[*i].section).collect()
    };
    sections(first)
        .intersection(&sections(second))
        .next()
        .is_some()
}

/// Whether an objective names a concept (all its words, plurals folded).
pub fn names_concept(text: &str, key: &str) -> bool {
    let words: BTreeSet<String> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '"' | ':' | '?' | '!'))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .map(|w| phrases::phrase_key(std::iter::once(w)))
        .collect();
    key.split(' ')
        .filter(|w| *w != "of")
        .all(|w| words.contains(w) || words.contains(&normalise_word(w)))
}

/// Whether an evidence passage is in the source's prose (a clipped passage by its start).
pub fn evidence_in_source(analysis: &Analysis, evidence: &str) -> bool {
    let wanted = evidence.trim_end_matches('…').trim();
    let wanted: String = wanted.split_whitespace().collect::<Vec<_>>().join(" ");
    !wanted.is_empty()
        && analysis.sentences.iter().any(|s| {
            let sentence: String = s.text.split_whitespace().collect::<Vec<_>>().join(" ");
            sentence.contains(&wanted) || wanted.contains(&sentence) && sentence.len() > 20
        })
}

/// Every objective of a blueprint with its terminal objective.
pub fn objectives_with_terminal(
    terminals: &[TerminalDraft],
) -> Vec<(&ObjectiveDraft, &ObjectiveDraft)> {
    terminals
        .iter()
        .flat_map(|t| {
            std::iter::once((&t.objective, &t.objective))
                .chain(t.enabling.iter().map(move |e| (e, &t.objective)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_lints_find_agreement_errors_and_spare_api_names() {
        assert!(grammar_problems("Explain when deflate() returns Z_BUF_ERROR").is_empty());
        assert!(
            grammar_problems("Describe the behavior of RLock objects that the text documents")
                .is_empty()
        );
        assert!(!grammar_problems("Explain how a objects differs from the the other").is_empty());
    }

    #[test]
    fn objectives_name_concepts_as_whole_phrases() {
        let topic = crate::domain::Topic {
            id: uuid::Uuid::nil(),
            title: "Calendars".into(),
            description: None,
            source_text: Some(
                "The Julian calendar adds a leap day every four years. The day of the week shifts."
                    .into(),
            ),
            created_at: 0,
            updated_at: 0,
        };
        let analysis = source::analyse(&topic);
        let named = named_concepts(
            &analysis,
            "Compute the day of the week for a date in the Julian calendar",
        );
        assert!(named.contains(&"day of week".to_string()), "{named:?}");
        assert!(named.contains(&"julian calendar".to_string()), "{named:?}");
        assert!(in_prose(&analysis, "julian calendar"));
        assert!(!in_prose(&analysis, "volcano"));
        assert!(related_in_source(&analysis, "julian calendar", "leap day"));
    }
}
