//! Turning what a model wrote into objectives that pass the rules, or naming the rules that
//! it broke.
//!
//! Small local models break rules in small ways: a `verb` field that repeats the whole text, a
//! full stop at the end, a level that contradicts the verb, one stray enabling objective. Those
//! are repaired here, without another (slow) call. What cannot be repaired is dropped on its
//! own, never with the rest of the answer, and the rules it broke are named once each in the
//! next prompt ([`Rule::instruction`]) and in the blueprint's notes ([`Rule::label`]).

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;

use crate::domain::objective::{verb_level, BANNED_VERBS};
use crate::domain::{BloomLevel, ObjectiveDraft, TerminalDraft};
use crate::generator::quality::{
    banned_phrase, objective_problems, second_behaviour, similarity, terminal_problems,
    MAX_ENABLING, MAX_WORDS, MIN_ENABLING, MIN_WORDS, NEAR_DUPLICATE_SIMILARITY,
};

/// A rule an objective broke, as the model is told about it and the teacher reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    NotAnObject,
    EmptyText,
    UnknownLevel,
    VerbNotFirst,
    NotMeasurable,
    BannedPhrase,
    TwoBehaviours,
    TooFewWords,
    TooManyWords,
    EnablingCount,
    EnablingAbove,
    /// An enabling objective repeats its terminal objective or another enabling objective.
    Repeated,
    Other,
}

impl Rule {
    /// For the teacher's notes: "N terminal objectives ..." follows.
    pub fn label(self) -> &'static str {
        match self {
            Rule::NotAnObject => "were not objects of the schema",
            Rule::EmptyText => "had an empty text",
            Rule::UnknownLevel => "had an unknown Bloom level",
            Rule::VerbNotFirst => "did not start with their verb",
            Rule::NotMeasurable => "had no measurable verb",
            Rule::BannedPhrase => "used a phrase like \"understand\" or \"be familiar with\"",
            Rule::TwoBehaviours => "asked for two behaviours at once",
            Rule::TooFewWords => "had fewer than 5 words",
            Rule::TooManyWords => "had more than 30 words",
            Rule::EnablingCount => "had too few or too many enabling objectives",
            Rule::EnablingAbove => "had an enabling objective above their level",
            Rule::Repeated => "had enabling objectives that repeated them or each other",
            Rule::Other => "broke another rule",
        }
    }

    /// For the repair prompt: the rule, with an example, in a line.
    pub fn instruction(self) -> &'static str {
        match self {
            Rule::NotAnObject => {
                "Write each terminal objective as a JSON object with text, verb, bloom_level, \
                 condition, criterion and enabling_objectives."
            }
            Rule::EmptyText => "Every objective has a text.",
            Rule::UnknownLevel => {
                "bloom_level is one of remember, understand, apply, analyze, evaluate, create."
            }
            Rule::VerbNotFirst => {
                "The text starts with its verb and \"verb\" is that one word: text \"Compare two \
                 methods of sterilisation\", verb \"compare\"."
            }
            Rule::NotMeasurable => {
                "Start every objective with a measurable verb such as define, explain, \
                 calculate, compare or design; never understand, know or learn."
            }
            Rule::BannedPhrase => {
                "Never use understand, know, learn, be familiar with or be aware of anywhere in \
                 an objective."
            }
            Rule::TwoBehaviours => {
                "One behaviour per objective: \"Calculate the density of a solid\", not \
                 \"Calculate the density and explain it\"."
            }
            Rule::TooFewWords => {
                "Each objective has 5 to 30 words: \"Define osmosis in terms of water \
                 potential\", not \"Define osmosis\"."
            }
            Rule::TooManyWords => "Each objective is one sentence of at most 30 words.",
            Rule::EnablingCount => "Give each terminal objective 2 or 3 enabling objectives.",
            Rule::EnablingAbove => {
                "The verb sets the level: start each terminal objective with a verb such as \
                 calculate, predict or compare, and keep define, describe and explain for its \
                 enabling objectives."
            }
            Rule::Repeated => {
                "Each enabling objective names a smaller step of its own, never the terminal \
                 objective again."
            }
            Rule::Other => "Follow every rule of the system message.",
        }
    }
}

/// What was done to an answer to make it pass, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// The `verb` field disagreed with the text's first word (often it repeated the text).
    VerbFromText,
    /// The text lacked its verb; the `verb` field's verb was put in front.
    VerbPrepended,
    /// A full stop (or other trailing punctuation), quotes or a list marker removed.
    Punctuation,
    /// The level was unknown or contradicted the verb: the verb table's level was taken.
    LevelFromVerb,
    /// Enabling objectives that broke a rule were left out; enough good ones remain.
    EnablingDropped,
}

impl Repair {
    pub fn as_str(self) -> &'static str {
        match self {
            Repair::VerbFromText => "verb_from_text",
            Repair::VerbPrepended => "verb_prepended",
            Repair::Punctuation => "punctuation",
            Repair::LevelFromVerb => "level_from_verb",
            Repair::EnablingDropped => "enabling_dropped",
        }
    }
}

/// The verdict on one terminal objective from the stream.
#[derive(Debug)]
pub enum Verdict {
    Keep(TerminalDraft, Vec<Repair>),
    Drop(BTreeSet<Rule>),
}

/// Any JSON value as text: models put numbers, `null` or nothing where a string belongs.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Lenient: every field may be missing or of the wrong type.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ObjectiveOut {
    text: Value,
    verb: Value,
    bloom_level: Value,
    condition: Value,
    criterion: Value,
    /// Not in the schema: taken when a model sends it anyway.
    evidence: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TerminalOut {
    #[serde(flatten)]
    objective: ObjectiveOut,
    enabling_objectives: Vec<ObjectiveOut>,
}

fn first_word(text: &str) -> &str {
    text.split_whitespace()
        .next()
        .unwrap_or("")
        .trim_matches(|c: char| !c.is_alphanumeric())
}

/// The text without list markers, wrapping quotes or trailing punctuation.
fn clean_text(raw: &str) -> String {
    let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut text = text.as_str();
    // "1. Define ...", "- Define ...", "a) Define ..."
    loop {
        let before = text;
        text = text.trim_start_matches(['-', '*', '•', ' ']);
        if let Some((marker, rest)) = text.split_once(' ') {
            let body = marker.trim_end_matches(['.', ')', ':']);
            if marker.len() > body.len()
                && body.len() <= 3
                && body.chars().all(|c| c.is_ascii_alphanumeric())
                && (body.chars().all(|c| c.is_ascii_digit()) || body.len() == 1)
            {
                text = rest;
            }
        }
        if text == before {
            break;
        }
    }
    text.trim_matches(|c: char| c == '"' || c == '\'' || c == '“' || c == '”')
        .trim_end_matches(|c: char| matches!(c, '.' | ';' | ':' | ',' | '!') || c.is_whitespace())
        .trim()
        .to_string()
}

fn parse_level(raw: &str) -> Option<BloomLevel> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "analyse" | "analysis" | "analyzing" | "analysing" => Some(BloomLevel::Analyze),
        "remembering" => Some(BloomLevel::Remember),
        "understanding" => Some(BloomLevel::Understand),
        "applying" => Some(BloomLevel::Apply),
        "evaluating" => Some(BloomLevel::Evaluate),
        "creating" => Some(BloomLevel::Create),
        other => BloomLevel::parse(other),
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn optional(value: &Value) -> Option<String> {
    let text = text_of(value).trim().to_string();
    match text.to_ascii_lowercase().as_str() {
        "" | "null" | "none" | "n/a" | "-" => None,
        _ => Some(text),
    }
}

/// One objective with its local repairs, or the rule that makes it unusable.
fn salvage_objective(
    out: &ObjectiveOut,
    repairs: &mut Vec<Repair>,
) -> Result<ObjectiveDraft, Rule> {
    let raw_text = text_of(&out.text);
    let mut text = clean_text(&raw_text);
    if text.is_empty() {
        return Err(Rule::EmptyText);
    }
    if text != raw_text.split_whitespace().collect::<Vec<_>>().join(" ") {
        repairs.push(Repair::Punctuation);
    }
    let verb_field = text_of(&out.verb);
    let field_verb = first_word(&verb_field).to_ascii_lowercase();
    let text_verb = first_word(&text).to_ascii_lowercase();
    let verb = if verb_level(&text_verb).is_some() {
        if verb_field.trim().to_ascii_lowercase() != text_verb {
            repairs.push(Repair::VerbFromText);
        }
        first_word(&text).to_string()
    } else if verb_level(&field_verb).is_some()
        && text.starts_with(|c: char| c.is_lowercase())
        && !BANNED_VERBS.contains(&text_verb.as_str())
    {
        // "the stages of mitosis in order" with verb "List": the model left the verb out.
        text = format!("{} {text}", capitalised(&field_verb));
        repairs.push(Repair::VerbPrepended);
        capitalised(&field_verb)
    } else {
        verb_field.trim().to_string()
    };
    let stated = parse_level(&text_of(&out.bloom_level));
    let bloom_level = match (verb_level(&verb), stated) {
        (Some(from_verb), stated) => {
            if stated != Some(from_verb) {
                repairs.push(Repair::LevelFromVerb);
            }
            from_verb
        }
        (None, Some(stated)) => stated,
        (None, None) => return Err(Rule::UnknownLevel),
    };
    Ok(ObjectiveDraft {
        text,
        verb,
        bloom_level,
        condition: optional(&out.condition),
        criterion: optional(&out.criterion),
        // Cut to the contract's length when stored (`ObjectiveDraft::stored_evidence`).
        evidence: optional(&out.evidence),
    })
}

/// The rules an objective breaks, mirroring [`objective_problems`] rule by rule.
fn objective_rules(draft: &ObjectiveDraft, rules: &mut BTreeSet<Rule>) {
    let verb = draft.verb.trim();
    if verb.is_empty()
        || verb.contains(char::is_whitespace)
        || !first_word(&draft.text).eq_ignore_ascii_case(verb)
    {
        rules.insert(Rule::VerbNotFirst);
    } else if BANNED_VERBS.contains(&verb.to_ascii_lowercase().as_str())
        || verb_level(verb).is_none()
    {
        rules.insert(Rule::NotMeasurable);
    }
    if banned_phrase(&draft.text).is_some() {
        rules.insert(Rule::BannedPhrase);
    }
    if second_behaviour(&draft.text).is_some() {
        rules.insert(Rule::TwoBehaviours);
    }
    let words = draft.text.split_whitespace().count();
    if words < MIN_WORDS {
        rules.insert(Rule::TooFewWords);
    } else if words > MAX_WORDS {
        rules.insert(Rule::TooManyWords);
    }
}

/// The rules a terminal objective breaks; never empty when [`terminal_problems`] is not.
pub fn broken_rules(terminal: &TerminalDraft) -> BTreeSet<Rule> {
    let mut rules = BTreeSet::new();
    objective_rules(&terminal.objective, &mut rules);
    for enabling in &terminal.enabling {
        objective_rules(enabling, &mut rules);
        if enabling.bloom_level > terminal.objective.bloom_level {
            rules.insert(Rule::EnablingAbove);
        }
    }
    if !(MIN_ENABLING..=MAX_ENABLING).contains(&terminal.enabling.len()) {
        rules.insert(Rule::EnablingCount);
    }
    if rules.is_empty() && !terminal_problems(terminal).is_empty() {
        rules.insert(Rule::Other);
    }
    rules
}

/// Judges one terminal objective as the scanner handed it out (its raw JSON): repaired and
/// kept when it then passes every rule, dropped with the rules it breaks otherwise.
pub fn salvage_terminal(raw: &str) -> Verdict {
    let Ok(out) = serde_json::from_str::<TerminalOut>(raw) else {
        return Verdict::Drop(BTreeSet::from([Rule::NotAnObject]));
    };
    let mut repairs = Vec::new();
    let objective = match salvage_objective(&out.objective, &mut repairs) {
        Ok(objective) => objective,
        Err(rule) => return Verdict::Drop(BTreeSet::from([rule])),
    };
    let mut usable = Vec::new();
    let mut unusable = BTreeSet::new();
    for enabling in &out.enabling_objectives {
        match salvage_objective(enabling, &mut repairs) {
            Ok(draft) => usable.push(draft),
            Err(rule) => {
                unusable.insert(rule);
            }
        }
    }
    // Enabling objectives that pass on their own, sit at or below the terminal's level, and
    // repeat neither the terminal nor each other.
    let mut good: Vec<ObjectiveDraft> = Vec::new();
    for draft in &usable {
        let fine = objective_problems(draft).is_empty()
            && draft.bloom_level <= objective.bloom_level
            && similarity(&draft.text, &objective.text) < NEAR_DUPLICATE_SIMILARITY
            && good
                .iter()
                .all(|g| similarity(&g.text, &draft.text) < NEAR_DUPLICATE_SIMILARITY);
        if fine {
            good.push(draft.clone());
        }
    }
    // Near-duplicates are a blueprint-level check, but an enabling objective that repeats its
    // terminal objective (or a sibling) is no step towards it: without two distinct ones the
    // terminal objective is not kept.
    let distinct = usable
        .iter()
        .enumerate()
        .filter(|(i, draft)| {
            similarity(&draft.text, &objective.text) < NEAR_DUPLICATE_SIMILARITY
                && usable[..*i].iter().all(|earlier| {
                    similarity(&earlier.text, &draft.text) < NEAR_DUPLICATE_SIMILARITY
                })
        })
        .count();
    if distinct < usable.len() && distinct < MIN_ENABLING {
        unusable.insert(Rule::Repeated);
    }
    let enabling = if good.len() >= MIN_ENABLING {
        if good.len() < out.enabling_objectives.len() || good.len() > MAX_ENABLING {
            repairs.push(Repair::EnablingDropped);
        }
        good.truncate(MAX_ENABLING);
        good
    } else {
        usable
    };
    let mut draft = TerminalDraft {
        objective,
        enabling,
    };
    // Lowest level first, as the prompt asks; the stable sort keeps the model's order within
    // a level.
    draft.enabling.sort_by_key(|e| e.bloom_level);
    if terminal_problems(&draft).is_empty() && unusable.is_empty() {
        repairs.dedup();
        return Verdict::Keep(draft, repairs);
    }
    let mut rules = broken_rules(&draft);
    rules.extend(unusable);
    if draft.enabling.len() < MIN_ENABLING {
        rules.insert(Rule::EnablingCount);
    }
    Verdict::Drop(rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enabling() -> Value {
        json!([
            {"text": "Define chlorophyll as the green pigment of plants", "verb": "Define",
             "bloom_level": "remember", "condition": null, "criterion": null},
            {"text": "Explain how chlorophyll absorbs red and blue light", "verb": "Explain",
             "bloom_level": "understand", "condition": null, "criterion": null},
        ])
    }

    fn verdict(value: Value) -> Verdict {
        salvage_terminal(&value.to_string())
    }

    #[test]
    fn a_verb_field_that_repeats_the_text_and_a_full_stop_are_repaired() {
        let Verdict::Keep(draft, repairs) = verdict(json!({
            "text": "Predict the rate of photosynthesis under changing light intensity.",
            "verb": "Predict the rate of photosynthesis under changing light intensity",
            "bloom_level": "apply", "condition": "given a graph", "criterion": "null",
            "enabling_objectives": enabling(),
        })) else {
            panic!("kept");
        };
        assert_eq!(
            draft.objective.text,
            "Predict the rate of photosynthesis under changing light intensity"
        );
        assert_eq!(draft.objective.verb, "Predict");
        assert_eq!(draft.objective.criterion, None);
        assert!(repairs.contains(&Repair::VerbFromText), "{repairs:?}");
        assert!(repairs.contains(&Repair::Punctuation), "{repairs:?}");
    }

    #[test]
    fn a_level_that_contradicts_the_verb_takes_the_verbs_level() {
        let Verdict::Keep(draft, repairs) = verdict(json!({
            "text": "Calculate the energy stored by photosynthesis in one day",
            "verb": "calculate", "bloom_level": "remember",
            "condition": null, "criterion": null, "enabling_objectives": enabling(),
        })) else {
            panic!("kept");
        };
        assert_eq!(draft.objective.bloom_level, BloomLevel::Apply);
        assert_eq!(repairs, vec![Repair::LevelFromVerb]);
    }

    #[test]
    fn a_missing_verb_is_put_in_front_of_a_fragment() {
        let Verdict::Keep(draft, _) = verdict(json!({
            "text": "the stages of the light reactions in their order",
            "verb": "list", "bloom_level": "remember",
            "condition": null, "criterion": null,
            "enabling_objectives": [
                {"text": "Name the pigment that absorbs light in plants", "verb": "name", "bloom_level": "remember"},
                {"text": "Identify the thylakoid membrane on a diagram", "verb": "identify", "bloom_level": "remember"},
            ],
        })) else {
            panic!("kept");
        };
        assert_eq!(
            draft.objective.text,
            "List the stages of the light reactions in their order"
        );
        assert_eq!(draft.objective.verb, "List");
    }

    #[test]
    fn a_bad_enabling_objective_is_left_out_when_enough_good_ones_remain() {
        let mut list = enabling();
        list.as_array_mut().expect("list").push(json!(
            {"text": "Design a greenhouse that doubles the yield of tomatoes", "verb": "design",
             "bloom_level": "create", "condition": null, "criterion": null}
        ));
        let Verdict::Keep(draft, repairs) = verdict(json!({
            "text": "Apply the light equation to predict oxygen output of a leaf",
            "verb": "apply", "bloom_level": "apply", "condition": null, "criterion": null,
            "enabling_objectives": list,
        })) else {
            panic!("kept");
        };
        assert_eq!(draft.enabling.len(), 2);
        assert!(repairs.contains(&Repair::EnablingDropped));
    }

    #[test]
    fn what_cannot_be_repaired_is_dropped_with_each_broken_rule_once() {
        let Verdict::Drop(rules) = verdict(json!({
            "text": "Define chlorophyll", "verb": "define", "bloom_level": "remember",
            "condition": null, "criterion": null,
            "enabling_objectives": [{"text": "Define the word", "verb": "define", "bloom_level": "remember"}],
        })) else {
            panic!("dropped");
        };
        assert_eq!(
            rules,
            BTreeSet::from([Rule::TooFewWords, Rule::EnablingCount])
        );
        let Verdict::Drop(rules) = verdict(json!({
            "text": "Understand osmosis in living cells well", "verb": "Understand",
            "bloom_level": "understand", "condition": null, "criterion": null,
            "enabling_objectives": enabling(),
        })) else {
            panic!("dropped");
        };
        assert!(rules.contains(&Rule::NotMeasurable), "{rules:?}");
        let long = "Explain ".to_string() + &"the very long clause ".repeat(10);
        let Verdict::Drop(rules) = verdict(json!({
            "text": long, "verb": "explain", "bloom_level": "understand",
            "condition": null, "criterion": null, "enabling_objectives": enabling(),
        })) else {
            panic!("dropped");
        };
        assert!(rules.contains(&Rule::TooManyWords), "{rules:?}");
        assert!(
            matches!(salvage_terminal("[1, 2]"), Verdict::Drop(r) if r.contains(&Rule::NotAnObject))
        );
    }

    #[test]
    fn enabling_objectives_that_only_repeat_the_terminal_one_do_not_pass() {
        let text = "Examine the importance of chlorophyll in photosynthesis";
        let Verdict::Drop(rules) = verdict(json!({
            "text": text, "verb": "examine", "bloom_level": "analyze",
            "condition": null, "criterion": null,
            "enabling_objectives": [
                {"text": text, "verb": "examine", "bloom_level": "analyze"},
                {"text": text, "verb": "examine", "bloom_level": "analyze"},
            ],
        })) else {
            panic!("dropped");
        };
        assert!(rules.contains(&Rule::Repeated), "{rules:?}");
        // One repeat among enough distinct ones is simply left out.
        let mut list = enabling();
        list.as_array_mut().expect("list").push(json!(
            {"text": "Define chlorophyll as the green pigment of plants", "verb": "define",
             "bloom_level": "remember"}
        ));
        let Verdict::Keep(draft, _) = verdict(json!({
            "text": "Predict how a lack of chlorophyll changes the rate of photosynthesis",
            "verb": "predict", "bloom_level": "apply", "condition": null, "criterion": null,
            "enabling_objectives": list,
        })) else {
            panic!("kept");
        };
        assert_eq!(draft.enabling.len(), 2);
    }

    #[test]
    fn every_rule_reads_as_one_short_line_without_any_objective_in_it() {
        for rule in [
            Rule::NotAnObject,
            Rule::EmptyText,
            Rule::UnknownLevel,
            Rule::VerbNotFirst,
            Rule::NotMeasurable,
            Rule::BannedPhrase,
            Rule::TwoBehaviours,
            Rule::TooFewWords,
            Rule::TooManyWords,
            Rule::EnablingCount,
            Rule::EnablingAbove,
            Rule::Repeated,
            Rule::Other,
        ] {
            assert!(rule.instruction().len() < 200, "{rule:?}");
            assert!(!rule.instruction().contains('\n'));
            assert!(!rule.label().is_empty());
        }
    }

    #[test]
    fn list_markers_and_quotes_come_off() {
        assert_eq!(
            clean_text("1. Define osmosis clearly."),
            "Define osmosis clearly"
        );
        assert_eq!(
            clean_text("- \"Define osmosis clearly\""),
            "Define osmosis clearly"
        );
        assert_eq!(clean_text("a) Define osmosis"), "Define osmosis");
        assert_eq!(clean_text("A cell divides"), "A cell divides");
    }
}
