//! What the source says about a concept: what kind of thing it is, and the facts an objective
//! can rest on (a definition, kinds, steps, causes and effects, comparisons, rules, dates,
//! return values), each with the sentence it was read from.

use crate::generator::source::markup::{is_constant_name, ParagraphKind};
use crate::generator::source::{Analysis, Concept};

use crate::generator::text::normalise_word;

/// What a concept is, so that an objective's behaviour fits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConceptKind {
    /// `deflate()`, `join()`.
    ApiFunction,
    /// `Z_BUF_ERROR`.
    ApiConstant,
    /// `--create`.
    ApiOption,
    /// `Lock`, `Barrier`, `os.path`.
    ApiType,
    /// A way of doing something: "hypothesis test", "compression".
    Procedure,
    /// Something computed or measured: "standard deviation", "p-value".
    Measure,
    /// Something that happened: "the 1752 calendar change", "the eruption of Vesuvius".
    Event,
    /// A person.
    Person,
    /// A relation between things: "correlation".
    Relation,
    /// Any other thing, structure or idea.
    Entity,
}

/// A fact about a concept and the sentence that states it.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    Definition {
        sentence: usize,
    },
    /// The kinds the text lists for it (keys of other concepts).
    Kinds {
        sentence: usize,
        kinds: Vec<String>,
    },
    /// Ordered list items in its section.
    Steps {
        sentence: usize,
        count: usize,
    },
    /// It causes or affects another concept, or is caused by it.
    Cause {
        sentence: usize,
        other: String,
    },
    /// The text contrasts it with another concept.
    Comparison {
        sentence: usize,
        other: String,
    },
    /// A rule with a condition ("if", "when", "must").
    Rule {
        sentence: usize,
    },
    /// A year or date stands beside it.
    Date {
        sentence: usize,
    },
    /// It returns, raises or signals another API name.
    Returns {
        sentence: usize,
        other: String,
    },
    /// Another API name is used with it in one sentence.
    UsedWith {
        sentence: usize,
        other: String,
    },
    /// An example is given of it.
    Example {
        sentence: usize,
    },
}

impl Fact {
    pub fn sentence(&self) -> usize {
        match self {
            Fact::Definition { sentence }
            | Fact::Kinds { sentence, .. }
            | Fact::Steps { sentence, .. }
            | Fact::Cause { sentence, .. }
            | Fact::Comparison { sentence, .. }
            | Fact::Rule { sentence }
            | Fact::Date { sentence }
            | Fact::Returns { sentence, .. }
            | Fact::UsedWith { sentence, .. }
            | Fact::Example { sentence } => *sentence,
        }
    }
}

const MEASURE_HEADS: &[&str] = &[
    "mean",
    "median",
    "mode",
    "average",
    "variance",
    "deviation",
    "range",
    "ratio",
    "rate",
    "percentage",
    "proportion",
    "percentile",
    "quartile",
    "score",
    "index",
    "coefficient",
    "frequency",
    "probability",
    "p-value",
    "speed",
    "velocity",
    "density",
    "temperature",
    "pressure",
    "mass",
    "weight",
    "length",
    "distance",
    "volume",
    "size",
    "count",
    "total",
    "sum",
    "checksum",
    "interval",
    "level",
    "magnitude",
    "intensity",
    "error",
    "margin",
    "statistic",
    "percent",
    "value",
];

/// Heads of measures computed from data (they take "for a given data set").
const STATISTIC_HEADS: &[&str] = &[
    "mean",
    "median",
    "mode",
    "average",
    "variance",
    "deviation",
    "range",
    "percentile",
    "quartile",
    "p-value",
    "statistic",
    "score",
    "coefficient",
];

const EVENT_HEADS: &[&str] = &[
    "war",
    "revolution",
    "eruption",
    "battle",
    "crisis",
    "reform",
    "election",
    "treaty",
    "reign",
    "fall",
    "storming",
    "collapse",
    "invasion",
    "uprising",
    "revolt",
    "rebellion",
    "coup",
    "massacre",
    "earthquake",
    "flood",
    "famine",
    "conquest",
    "siege",
    "change",
    "transition",
    "adoption",
    "disaster",
    "explosion",
    "outbreak",
    "pandemic",
    "epidemic",
    "migration",
];

const PROCEDURE_HEADS: &[&str] = &[
    "procedure",
    "process",
    "algorithm",
    "test",
    "technique",
    "calculation",
    "computation",
    "conversion",
    "compression",
    "decompression",
    "installation",
    "configuration",
    "analysis",
    "measurement",
    "sampling",
    "binding",
    "resolution",
    "encoding",
    "decoding",
    "parsing",
    "matching",
    "search",
    "sorting",
    "verification",
    "authentication",
    "method",
    "cycle",
    "evaporation",
    "condensation",
    "precipitation",
    "photosynthesis",
    "respiration",
    "transpiration",
    "infiltration",
    "estimation",
    "derivation",
    "substitution",
    "iteration",
    "recursion",
    "translation",
    "compilation",
    "execution",
    "evaluation",
    "flush",
    "comparison",
];

const RELATION_HEADS: &[&str] = &[
    "relationship",
    "correlation",
    "relation",
    "dependency",
    "association",
    "interaction",
    "trade-off",
    "tradeoff",
    "link",
    "connection",
];

const PERSON_CUES: &[&str] = &[
    "born",
    "died",
    "king",
    "queen",
    "emperor",
    "he",
    "she",
    "his",
    "her",
    "wrote",
    "led",
    "proposed",
    "discovered",
    "invented",
    "ruled",
    "reigned",
    "general",
    "leader",
    "minister",
];

const CAUSE_CUES: &[&str] = &[
    "cause",
    "causes",
    "caused",
    "lead",
    "leads",
    "led",
    "result",
    "results",
    "resulted",
    "because",
    "due",
    "therefore",
    "trigger",
    "triggers",
    "triggered",
    "produce",
    "produces",
    "produced",
    "form",
    "forms",
    "formed",
    "makes",
    "prevent",
    "prevents",
    "reduce",
    "reduces",
    "increase",
    "increases",
    "affect",
    "affects",
    "allows",
    "drives",
    "drive",
    "creates",
];

const COMPARISON_CUES: &[&str] = &[
    "unlike",
    "whereas",
    "than",
    "compared",
    "contrast",
    "differs",
    "difference",
    "instead",
    "rather",
    "versus",
    "vs",
    "while",
    "but",
    "however",
    "similar",
    "like",
];

const RULE_CUES: &[&str] = &[
    "if", "unless", "must", "never", "always", "cannot", "whenever",
];

const KINDS_CUES: &[&str] = &[
    "types",
    "kinds",
    "forms",
    "classes",
    "categories",
    "include",
    "includes",
    "including",
    "such",
    "are",
];

const RETURN_CUES: &[&str] = &[
    "return", "returns", "returned", "raise", "raises", "raised", "signals",
];

const EXAMPLE_CUES: &[&str] = &["example", "e.g", "instance", "illustrates"];

fn head(key: &str) -> &str {
    key.rsplit(' ').next().unwrap_or(key)
}

/// Classifies a concept by its form and its words.
pub fn kind_of(concept: &Concept, analysis: &Analysis) -> ConceptKind {
    let name = concept.name.as_str();
    if concept.api {
        return if name.ends_with("()") {
            ConceptKind::ApiFunction
        } else if is_constant_name(name) {
            ConceptKind::ApiConstant
        } else if name.starts_with('-') {
            ConceptKind::ApiOption
        } else {
            ConceptKind::ApiType
        };
    }
    let head = head(&concept.key);
    if RELATION_HEADS.contains(&head) {
        return ConceptKind::Relation;
    }
    if EVENT_HEADS.contains(&head) {
        return ConceptKind::Event;
    }
    if MEASURE_HEADS.contains(&head) || concept.key.starts_with("measure of") {
        return ConceptKind::Measure;
    }
    if PROCEDURE_HEADS.contains(&head)
        || head.ends_with("ing") && head.len() > 6 && !head.ends_with("thing")
    {
        return ConceptKind::Procedure;
    }
    let capitalised = name
        .split(' ')
        .all(|w| w.chars().next().is_some_and(char::is_uppercase));
    if capitalised && name.contains(' ') && analysis.language == "en" {
        let cued = concept.sentences.iter().any(|&s| {
            let words = &analysis.sentences[s].words;
            words.iter().any(|w| PERSON_CUES.contains(&w.as_str()))
        });
        if cued {
            return ConceptKind::Person;
        }
    }
    ConceptKind::Entity
}

pub fn is_statistic(concept: &Concept) -> bool {
    STATISTIC_HEADS.contains(&head(&concept.key))
}

/// The facts the text states about a concept, in text order, at most a few of each kind.
pub fn facts_of(concept: &Concept, analysis: &Analysis, others: &[&Concept]) -> Vec<Fact> {
    let mut facts = Vec::new();
    if let Some(sentence) = concept.definition {
        facts.push(Fact::Definition { sentence });
    }
    for &s in concept.sentences.iter().take(40) {
        let sentence = &analysis.sentences[s];
        let has = |cues: &[&str]| sentence.words.iter().any(|w| cues.contains(&w.as_str()));
        let partners: Vec<&Concept> = others
            .iter()
            .copied()
            .filter(|o| o.key != concept.key && sentence.phrases.iter().any(|p| p.key == o.key))
            .filter(|o| !o.key.contains(&concept.key) && !concept.key.contains(&o.key))
            .collect();
        if has(COMPARISON_CUES) {
            if let Some(other) = partners.first() {
                facts.push(Fact::Comparison {
                    sentence: s,
                    other: other.key.clone(),
                });
            }
        }
        if has(CAUSE_CUES) {
            if let Some(other) = partners.first() {
                facts.push(Fact::Cause {
                    sentence: s,
                    other: other.key.clone(),
                });
            }
        }
        if has(RETURN_CUES) {
            if let Some(other) = partners.iter().find(|o| o.api && is_constant_name(&o.name)) {
                facts.push(Fact::Returns {
                    sentence: s,
                    other: other.key.clone(),
                });
            }
        }
        if concept.api {
            if let Some(other) = partners
                .iter()
                .find(|o| o.api && !is_constant_name(&o.name))
            {
                facts.push(Fact::UsedWith {
                    sentence: s,
                    other: other.key.clone(),
                });
            }
        }
        if has(RULE_CUES) {
            facts.push(Fact::Rule { sentence: s });
        }
        if has(EXAMPLE_CUES) {
            facts.push(Fact::Example { sentence: s });
        }
        if sentence.words.iter().any(|w| is_year(w)) {
            facts.push(Fact::Date { sentence: s });
        }
        if has(KINDS_CUES) && partners.len() >= 2 && sentence.text.matches(',').count() >= 1 {
            let kinds: Vec<String> = partners
                .iter()
                .filter(|o| !o.api || concept.api)
                .take(4)
                .map(|o| o.key.clone())
                .collect();
            let names_kinds = sentence.words.iter().any(|w| {
                matches!(
                    w.as_str(),
                    "types"
                        | "kinds"
                        | "classes"
                        | "categories"
                        | "include"
                        | "includes"
                        | "including"
                )
            });
            if kinds.len() >= 2 && names_kinds {
                facts.push(Fact::Kinds { sentence: s, kinds });
            }
        }
    }
    // Kinds: a section headed "Types of X" whose paragraphs or items each open with a term.
    for (index, section) in analysis.document.sections.iter().enumerate() {
        let Some(heading) = section.heading.as_deref() else {
            continue;
        };
        let lower = heading.to_lowercase();
        let Some(rest) = [
            "types of ",
            "kinds of ",
            "forms of ",
            "classes of ",
            "categories of ",
        ]
        .iter()
        .find_map(|p| lower.find(p).map(|at| &heading[at + p.len()..])) else {
            continue;
        };
        let heading_key = crate::generator::source::phrases::phrase_key(rest.split_whitespace());
        if heading_key != concept.key {
            continue;
        }
        let mut kinds: Vec<String> = Vec::new();
        let mut first_sentence = None;
        let mut last_paragraph = None;
        for (i, sentence) in analysis.sentences.iter().enumerate() {
            if sentence.section != index || last_paragraph == Some(sentence.paragraph) {
                continue;
            }
            last_paragraph = Some(sentence.paragraph);
            let opens_with_term = sentence.words.len() <= 4
                || matches!(sentence.kind, ParagraphKind::ListItem { .. });
            if let Some(phrase) = sentence.phrases.first().filter(|_| opens_with_term) {
                if others.iter().any(|o| o.key == phrase.key)
                    && !kinds.contains(&phrase.key)
                    && phrase.key != concept.key
                {
                    first_sentence.get_or_insert(i);
                    kinds.push(phrase.key.clone());
                }
            }
        }
        if kinds.len() >= 2 {
            kinds.truncate(4);
            facts.insert(
                0,
                Fact::Kinds {
                    sentence: first_sentence.unwrap_or(0),
                    kinds,
                },
            );
        }
    }
    // Steps: an ordered list in a section the concept heads or opens.
    for &section in &concept.sections {
        let ordered: Vec<usize> = analysis
            .sentences
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.section == section && matches!(s.kind, ParagraphKind::ListItem { ordered: true })
            })
            .map(|(i, _)| i)
            .collect();
        let heads_section = analysis
            .document
            .sections
            .get(section)
            .and_then(|s| s.heading.as_deref())
            .is_some_and(|h| {
                let words: Vec<String> = h.split_whitespace().map(normalise_word).collect();
                concept.key.split(' ').all(|k| words.iter().any(|w| w == k))
            });
        if ordered.len() >= 2 && heads_section {
            facts.push(Fact::Steps {
                sentence: ordered[0],
                count: ordered.len(),
            });
            break;
        }
    }
    // Keep the first two of each kind: enough to choose from, in text order.
    let mut kept: Vec<Fact> = Vec::new();
    for fact in facts {
        let same = kept
            .iter()
            .filter(|k| std::mem::discriminant(*k) == std::mem::discriminant(&fact))
            .count();
        if same < 2 {
            kept.push(fact);
        }
    }
    kept
}

fn is_year(word: &str) -> bool {
    word.len() == 4
        && word.chars().all(|c| c.is_ascii_digit())
        && word.starts_with(['1', '2'])
        && (1000..=2100).contains(&word.parse::<u32>().unwrap_or(0))
}
