//! What the source says about a concept: what kind of thing it is, and the facts an objective
//! can rest on (a definition, kinds, steps, causes and effects, comparisons, rules, dates,
//! return values), each with the sentence it was read from.

use std::collections::BTreeSet;

use crate::generator::source::markup::{is_constant_name, ParagraphKind};
use crate::generator::source::{Analysis, Concept, Sentence};

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
    /// A rule about it: "X must ...", "X is never ...", "if X ..., then ...". A normative rule
    /// (must, never, always, cannot, only) can be applied to a new case; a condition only
    /// explained.
    Rule {
        sentence: usize,
        normative: bool,
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
    /// The text says how to do something with it: "how to use a RegexSet to match multiple
    /// regular expressions", "To obtain better compression, concatenate …". `clause` is the
    /// task as "how to …".
    HowTo {
        sentence: usize,
        clause: String,
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
            | Fact::Rule { sentence, .. }
            | Fact::Date { sentence }
            | Fact::Returns { sentence, .. }
            | Fact::UsedWith { sentence, .. }
            | Fact::Example { sentence }
            | Fact::HowTo { sentence, .. } => *sentence,
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
    // A stretch of time is an event only with a name: "the Year Without a Summer", "the
    // Great Depression", "the Ice Age" (see `weak_head`).
    "summer",
    "winter",
    "year",
    "depression",
    "age",
    "era",
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

// What one carries out on a case. Natural processes ("evaporation", "photosynthesis") and
// mechanisms ("binding", "resolution") are explained, not performed. The named methods come
// first: only those are "performed on a given case" without steps the text numbers.
const METHOD_HEADS: &[&str] = &[
    "procedure",
    "algorithm",
    "test",
    "technique",
    "calculation",
    "computation",
    "conversion",
    "analysis",
    "method",
    "recipe",
    "proof",
    "derivation",
];

// Activities named by their verb ("compression", "installation"): procedures whose steps
// only the text can give.
const ACTIVITY_HEADS: &[&str] = &[
    "compression",
    "decompression",
    "installation",
    "configuration",
    "measurement",
    "sampling",
    "encoding",
    "decoding",
    "parsing",
    "sorting",
    "verification",
    "authentication",
    "estimation",
    "substitution",
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
    "compared",
    "contrast",
    "differs",
    "differ",
    "difference",
    "differences",
    "versus",
    "vs",
    "similar",
    "similarly",
];

const NORMATIVE_CUES: &[&str] = &["must", "never", "always", "cannot", "only"];

const CONDITION_CUES: &[&str] = &["if", "unless", "whenever"];

const RETURN_CUES: &[&str] = &[
    "return", "returns", "returned", "raise", "raises", "raised", "signals",
];

const EXAMPLE_CUES: &[&str] = &["example", "e.g", "instance", "illustrates"];

/// The head noun of a phrase: its last word, or the last before "of" ("storming of
/// bastille" is a storming, "measure of centre" a measure).
fn head(key: &str) -> &str {
    let core = key.split(" of ").next().unwrap_or(key);
    core.rsplit(' ').next().unwrap_or(core)
}

/// Classifies a concept by its form and its words.
pub fn kind_of(concept: &Concept, analysis: &Analysis) -> ConceptKind {
    let name = concept.name.as_str();
    // A file the text names ("sources.list", "server.c") is no type to make objects of: what
    // a reader learns about it is its role.
    if concept.api && (is_file_name(name) || is_feature_flag(concept, analysis)) {
        return ConceptKind::Entity;
    }
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
    // "the eruption of Vesuvius" is an event; a bare "eruption" is a class of them.
    let specific =
        concept.key.contains(' ') || concept.name.chars().next().is_some_and(char::is_uppercase);
    // "change" or "reform" is an event only with a name or a date: "the 1752 calendar change",
    // "the Gregorian reform", not "a price change".
    let named = concept.name.split(' ').any(|w| {
        w.chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
    });
    let weak_head = matches!(
        head,
        "change"
            | "transition"
            | "adoption"
            | "migration"
            | "fall"
            | "reform"
            | "collapse"
            | "summer"
            | "winter"
            | "year"
            | "depression"
            | "age"
            | "era"
    );
    // "Plinian eruptions" is a kind of eruption, not one event.
    let plural = concept
        .name
        .rsplit(' ')
        .next()
        .is_some_and(|last| last.to_lowercase() != head && last.ends_with('s'));
    if EVENT_HEADS.contains(&head) && specific && (named || !weak_head) && !plural {
        return ConceptKind::Event;
    }
    // "measure of centre" names a family of measures (mean, median, mode), not one to compute.
    // "the operation mode", "Unicode mode": a setting, not the statistic. "an outer level",
    // "the top level": a place in a hierarchy, not an amount ("the upper quartile" is one).
    let setting = head == "mode"
        && concept
            .key
            .split(" of ")
            .next()
            .is_some_and(|core| core.contains(' '));
    let place = concept.key.split(' ').next().is_some_and(|w| {
        matches!(
            w,
            "outer" | "inner" | "top" | "next" | "previous" | "same" | "deeper" | "module"
        )
    }) && concept.key.contains(' ');
    if MEASURE_HEADS.contains(&head) && !concept.key.starts_with("measure of") && !setting && !place
    {
        return ConceptKind::Measure;
    }
    if METHOD_HEADS.contains(&head) || ACTIVITY_HEADS.contains(&head) || is_gerund(head) {
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

/// "sources.list", "server.c", "Cargo.toml": a name with a file extension, not a method call
/// ("Regex.new") or a version ("1.5").
fn is_file_name(name: &str) -> bool {
    const EXTENSIONS: &[&str] = &[
        "c", "h", "cc", "cpp", "hpp", "rs", "py", "js", "ts", "go", "java", "rb", "sh", "txt",
        "md", "rst", "conf", "cfg", "ini", "toml", "yaml", "yml", "json", "xml", "html", "css",
        "list", "log", "lock", "gz", "tar", "zip", "deb", "so", "o", "a", "d", "service",
    ];
    let Some((stem, extension)) = name.rsplit_once('.') else {
        return false;
    };
    !stem.is_empty()
        && !name.contains("()")
        && !stem.chars().all(|c| c.is_ascii_digit())
        && EXTENSIONS.contains(&extension)
}

/// A crate feature or build flag (`std`, `serde`, `matrixmultiply-threading`): a lower-case
/// name met only in sections about features, which no program makes objects of.
fn is_feature_flag(concept: &Concept, analysis: &Analysis) -> bool {
    let plain = concept
        .name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    plain
        && !concept.sections.is_empty()
        && concept.sections.iter().all(|&s| {
            analysis
                .document
                .sections
                .get(s)
                .and_then(|section| section.heading.as_deref())
                .is_some_and(|h| h.to_lowercase().contains("feature"))
        })
}

/// "compressing", "sorting": the -ing form of a verb, not a noun such as "ceiling" or
/// "string".
fn is_gerund(word: &str) -> bool {
    const NOUNS: &[&str] = &[
        "ceiling",
        "string",
        "building",
        "evening",
        "morning",
        "spring",
        "offspring",
        "during",
        "nothing",
        "something",
        "anything",
        "everything",
        "thing",
        "pudding",
        "railing",
        "wedding",
        "setting",
        "meaning",
        "feeling",
        "painting",
        "warning",
        "heading",
        "ending",
        "beginning",
        "opening",
    ];
    let Some(stem) = word.strip_suffix("ing") else {
        return false;
    };
    word.len() > 6
        && !NOUNS.contains(&word)
        && [stem.to_string(), format!("{stem}e")]
            .iter()
            .any(|s| crate::generator::source::phrases::can_be_verb(s))
}

/// A procedure one can carry out on a case: "the algorithm", "a hypothesis test", "unit
/// conversion"; not an activity named by its verb ("compression", "the binding",
/// "installation").
pub fn is_named_method(concept: &Concept, analysis: &Analysis) -> bool {
    // A bare "test" is more often a heading ("Test yourself") than a method of the text.
    let specific = concept.key.contains(' ') || concept.determiner.as_deref() == Some("the");
    analysis.language == "en" && specific && METHOD_HEADS.contains(&head(&concept.key))
}

pub fn is_statistic(concept: &Concept) -> bool {
    // "a narrow range", "the whole range" say how far something reaches, not a statistic.
    let extent = concept.key.split(' ').next().is_some_and(|w| {
        matches!(
            w,
            "narrow"
                | "wide"
                | "broad"
                | "large"
                | "small"
                | "whole"
                | "full"
                | "same"
                | "entire"
                | "limited"
                | "certain"
                | "high"
                | "low"
        )
    });
    // A p-value or a test statistic comes from a test, not from a list of values.
    let from_a_test = matches!(concept.key.as_str(), "p-value" | "test statistic");
    STATISTIC_HEADS.contains(&head(&concept.key)) && !extent && !from_a_test
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
            // "Compare the variance with the data": an everyday word is no partner.
            .filter(|o| {
                o.api
                    || o.key.contains(' ')
                    || o.marked
                    || o.in_heading
                    || o.definition.is_some()
                    || analysis.language != "en"
                    || !crate::generator::source::is_common_english(&o.key)
            })
            .collect();
        // A contrast the sentence draws between the two ("unlike X", "X, whereas Y"), or "than"
        // right before the other ("more viscous than basalt"), not "more than 100 km/h".
        let lower = sentence.text.to_lowercase();
        let contrasted = if has(COMPARISON_CUES) {
            partners.first()
        } else {
            partners
                .iter()
                .find(|o| written(sentence, o).is_some_and(|w| follows_cue(&lower, "than ", &w)))
        };
        if let Some(other) = contrasted {
            facts.push(Fact::Comparison {
                sentence: s,
                other: other.key.clone(),
            });
        }
        if has(CAUSE_CUES) {
            if let Some(other) = partners.first() {
                facts.push(Fact::Cause {
                    sentence: s,
                    other: other.key.clone(),
                });
            }
        }
        if concept.api && has(RETURN_CUES) {
            // The constant must be what is returned: "returns Z_STREAM_END", not the
            // "Z_FINISH" passed in the same sentence.
            // And the concept must be what returns it: "If deflate returns Z_OK and with zero
            // avail_out" says nothing of avail_out's return.
            let returner = written(sentence, concept);
            let returned = |o: &&&Concept| {
                written(sentence, o).is_some_and(|w| {
                    RETURN_CUES.iter().any(|cue| {
                        returns_value(&lower, cue, &w)
                            && returner
                                .as_deref()
                                .is_some_and(|r| precedes_cue(&lower, cue, r))
                    })
                })
            };
            if let Some(other) = partners
                .iter()
                .filter(|o| o.api && is_constant_name(&o.name))
                .find(returned)
            {
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
        // A rule is about the concept only where it is the sentence's subject, or where a
        // condition opens on it ("If the p-value is smaller than ..."): "input" in a sentence
        // that happens to contain "if" has no rule.
        if analysis.language == "en" {
            let at = written(sentence, concept).and_then(|w| find_word(&lower, &w));
            let subject = sentence
                .phrases
                .first()
                .is_some_and(|p| p.key == concept.key);
            let normative = subject && has(NORMATIVE_CUES);
            let conditioned = at.is_some_and(|at| {
                CONDITION_CUES
                    .iter()
                    .any(|cue| find_word(&lower[..at], cue).is_some_and(|c| at - c <= 24))
            }) || subject && has(CONDITION_CUES);
            if normative || conditioned {
                facts.push(Fact::Rule {
                    sentence: s,
                    normative,
                });
            }
        }
        if has(EXAMPLE_CUES) {
            facts.push(Fact::Example { sentence: s });
        }
        if analysis.language == "en" {
            if let Some(clause) = how_to_clause(&sentence.text) {
                let named = written(sentence, concept)
                    .is_some_and(|w| find_word(&clause.to_lowercase(), &w).is_some());
                if named {
                    facts.push(Fact::HowTo {
                        sentence: s,
                        clause,
                    });
                }
            }
        }
        if sentence.words.iter().any(|w| is_year(w)) {
            facts.push(Fact::Date { sentence: s });
        }
        // Kinds only where the sentence says so of this concept ("types of X", "X include A,
        // B and C", "X such as A and B"), and only the concepts named after that cue.
        if analysis.language == "en" && partners.len() >= 2 && sentence.text.contains(',') {
            if let Some(cue_end) = written(sentence, concept).and_then(|w| kinds_cue(&lower, &w)) {
                let kinds: Vec<String> = partners
                    .iter()
                    .filter(|o| !o.api || concept.api)
                    .filter(|o| {
                        // Each kind opens an item of the list: "include A, B and C", not the
                        // "X" of "gases such as X".
                        written(sentence, o).is_some_and(|w| {
                            find_word(&lower[cue_end..], &w).is_some_and(|at| {
                                let before = lower[cue_end..cue_end + at].trim_end();
                                before.is_empty()
                                    || before.ends_with([',', ';'])
                                    || before.ends_with(" and")
                                    || before.ends_with(" or")
                            })
                        })
                    })
                    .take(4)
                    .map(|o| o.key.clone())
                    .collect();
                if kinds.len() >= 2 {
                    facts.push(Fact::Kinds { sentence: s, kinds });
                }
            }
        }
    }
    // Kinds: a section headed "Types of X" whose paragraphs or items each open with a term.
    for (index, section) in analysis.document.sections.iter().enumerate() {
        let Some(heading) = section.heading.as_deref() else {
            continue;
        };
        let lower = heading.to_lowercase();
        let Some(rest) = KINDS_BEFORE
            .iter()
            .find_map(|p| lower.find(p).map(|at| &heading[at + p.len()..]))
        else {
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
        // A step is a list item, however many sentences it has.
        let items: BTreeSet<usize> = ordered
            .iter()
            .map(|&i| analysis.sentences[i].paragraph)
            .collect();
        if items.len() >= 2 && heads_section {
            facts.push(Fact::Steps {
                sentence: ordered[0],
                count: items.len(),
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

/// How the sentence writes the concept, in lower case.
fn written(sentence: &Sentence, concept: &Concept) -> Option<String> {
    sentence
        .phrases
        .iter()
        .find(|p| p.key == concept.key)
        .map(|p| p.text.to_lowercase())
}

/// Whether `phrase` stands within two words after `cue` ("returns Z_STREAM_END", "more
/// viscous than basalt").
fn follows_cue(lower: &str, cue: &str, phrase: &str) -> bool {
    lower.match_indices(cue).any(|(at, _)| {
        let rest = &lower[at + cue.len()..];
        find_word(rest, phrase).is_some_and(|d| rest[..d].split_whitespace().count() <= 2)
    })
}

/// Whether `value` is what follows `cue`: "returns Z_OK", "returns with Z_OK", not "returns
/// early when Z_BLOCK is used" (a flush value that makes it return).
fn returns_value(lower: &str, cue: &str, value: &str) -> bool {
    lower.match_indices(cue).any(|(at, _)| {
        let rest = &lower[at + cue.len()..];
        find_word(rest, value).is_some_and(|d| {
            rest[..d]
                .split_whitespace()
                .all(|w| matches!(w, "with" | "either" | "only" | "the" | "value" | "code"))
        })
    })
}

/// Whether `phrase` is the last name before `cue` in its clause ("inflate() will return",
/// "inflate() should be called until it returns"), with no other API name between.
fn precedes_cue(lower: &str, cue: &str, phrase: &str) -> bool {
    lower.match_indices(cue).any(|(at, _)| {
        let before = &lower[..at];
        before.match_indices(phrase).any(|(p, _)| {
            let gap = &before[p + phrase.len()..];
            gap.split_whitespace().count() <= 10 && !gap.contains([',', '.', ';', '(', '_', '-'])
        })
    })
}

/// Byte position of `needle` in `haystack` as whole words.
fn find_word(haystack: &str, needle: &str) -> Option<usize> {
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() && c != '_');
    haystack
        .match_indices(needle)
        .map(|(at, _)| at)
        .find(|&at| {
            boundary(haystack[..at].chars().next_back())
                && boundary(haystack[at + needle.len()..].chars().next())
        })
}

/// Words that point back to something said before ("If it is …", "how to do this", "such a
/// file"): a clause holding one reads badly on its own.
const POINTING_BACK: &[&str] = &["it", "this", "that", "these", "those", "so", "such"];

fn points_back(word: &str) -> bool {
    POINTING_BACK.contains(&word)
}

/// Besides those, the second word of a condition that leaves it empty ("If not", "If
/// necessary", "If present").
const CONDITION_BACK: &[&str] = &[
    "they",
    "not",
    "necessary",
    "possible",
    "present",
    "needed",
    "any",
];

/// Besides those, words of a how-to that point at text around it ("the following", "above").
const HOW_TO_BACK: &[&str] = &["them", "above", "below", "following", "here", "there"];

/// The condition a sentence opens with, when it is about the concept: "If the compressed
/// file name is too long for its file system, gzip truncates it." gives "if the compressed
/// file name is too long for its file system". A question on it ("what happens if …") is
/// what a teacher asks of a rule; "Explain the rule the text gives for X" was too vague.
pub fn opening_condition(sentence: &Sentence, concept: &Concept) -> Option<String> {
    let text = sentence.text.trim();
    let lower = text.to_lowercase();
    let cue = ["if ", "when "]
        .into_iter()
        .find(|c| lower.starts_with(c))?;
    let end = text.find(',')?;
    let clause = text[..end].trim();
    let words: Vec<&str> = clause.split_whitespace().collect();
    // A clause that points back ("If it is …", "If so") or runs long reads badly alone.
    let second = words.get(1).map(|w| w.to_lowercase())?;
    // "If you want to recompress concatenated files …" states a wish, not a condition: the
    // sentence tells how to do something (see `how_to_clause`).
    let wish = matches!(second.as_str(), "you" | "one" | "we")
        && words.get(2).is_some_and(|w| {
            matches!(
                w.to_lowercase().as_str(),
                "want" | "wish" | "need" | "would" | "prefer" | "like"
            )
        });
    if !(4..=16).contains(&words.len())
        || wish
        || points_back(&second)
        || CONDITION_BACK.contains(&second.as_str())
        || clause.contains(['(', ')', ';', ':', '"', '`'])
    {
        return None;
    }
    let named = written(sentence, concept)?;
    find_word(&lower[..end], &named)?;
    Some(format!("{}{}", cue, clause[cue.len()..].trim()))
}

/// The task a sentence teaches, as "how to …": "This demonstrates how to use a RegexSet to
/// match multiple (possibly overlapping) regular expressions in a single scan:" and "To
/// obtain better compression, concatenate all input files" give "how to use a RegexSet to
/// match multiple regular expressions in a single scan" and "how to obtain better
/// compression". A task that points back ("how to do this", "such a file") is left out.
pub fn how_to_clause(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    // "See the rebar documentation for more details on how to …": the text points elsewhere
    // for the way; it does not teach it.
    if lower.starts_with("see ")
        || [
            "more details",
            "more information",
            "further details",
            "documentation for",
        ]
        .iter()
        .any(|p| lower.contains(p))
    {
        return None;
    }
    let task = if let Some(at) = find_word(&lower, "how to") {
        let rest = &text[at + "how to".len()..];
        let end = rest.find([':', ';', '.', '?', '!']).unwrap_or(rest.len());
        rest[..end].to_string()
    } else if let Some(rest) = text.strip_prefix("To ") {
        // "To extract zip files with several members, use unzip": a purpose, then the way.
        let comma = rest.find(',')?;
        let first = rest.split_whitespace().next()?;
        if !first.chars().all(|c| c.is_ascii_lowercase()) {
            return None;
        }
        rest[..comma].to_string()
    } else {
        return None;
    };
    // Without asides: "(possibly overlapping)".
    let mut plain = String::new();
    let mut depth = 0usize;
    for ch in task.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(ch),
            _ => {}
        }
    }
    let words: Vec<&str> = plain.split_whitespace().collect();
    if !(2..=16).contains(&words.len())
        || words.iter().any(|w| {
            let w = w.to_lowercase();
            let w = w.trim_matches(',');
            points_back(w) || HOW_TO_BACK.contains(&w)
        })
        || plain.contains(['"', '`', '[', ']', '{', '}'])
    {
        return None;
    }
    Some(format!("how to {}", words.join(" ")))
}

/// "types of X": words that announce the kinds of what follows them.
const KINDS_BEFORE: &[&str] = &[
    "types of ",
    "kinds of ",
    "forms of ",
    "classes of ",
    "categories of ",
];

/// "X include A, B and C": words after a concept that announce its kinds.
const KINDS_AFTER: &[&str] = &[
    " include",
    " includes",
    ", including",
    " such as",
    " are classified",
];

/// Where the list of a concept's kinds begins, when the sentence announces one.
fn kinds_cue(lower: &str, written: &str) -> Option<usize> {
    KINDS_BEFORE
        .iter()
        .map(|before| format!("{before}{written}"))
        .chain(KINDS_AFTER.iter().map(|after| format!("{written}{after}")))
        .find_map(|cue| find_word(lower, &cue).map(|at| at + cue.len()))
}

fn is_year(word: &str) -> bool {
    word.len() == 4
        && word.chars().all(|c| c.is_ascii_digit())
        && word.starts_with(['1', '2'])
        && (1000..=2100).contains(&word.parse::<u32>().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::{
        how_to_clause, is_file_name, kind_of, opening_condition, precedes_cue, returns_value,
        ConceptKind,
    };
    use crate::domain::Topic;
    use crate::generator::source::analyse;

    #[test]
    fn a_crate_feature_is_no_type_to_make_objects_of() {
        let topic = Topic {
            id: uuid::Uuid::nil(),
            title: "Arrays in Rust".into(),
            description: None,
            source_text: Some(
                "# Arrays\n\nAn `Array` holds elements of one type. Make an `Array` with \
                 `zeros()` and index it with a tuple. The `stack` type joins arrays; a `stack` \
                 keeps them in order.\n\n## Crate features\n\nThe `serde` \
                 feature lets arrays be serialised. The `serde` feature is off by default.\n"
                    .into(),
            ),
            created_at: 0,
            updated_at: 0,
        };
        let analysis = analyse(&topic);
        let kind = |key: &str| {
            let concept = analysis
                .concept(key)
                .unwrap_or_else(|| panic!("{key} is a concept"));
            kind_of(concept, &analysis)
        };
        assert_eq!(kind("serde"), ConceptKind::Entity);
        // A lower-case API name outside the features section is still a type.
        assert_eq!(kind("stack"), ConceptKind::ApiType);
    }

    #[test]
    fn a_setting_or_a_place_in_a_hierarchy_is_no_measure() {
        let topic = Topic {
            id: uuid::Uuid::nil(),
            title: "Handlers".into(),
            description: None,
            source_text: Some(
                "The operation mode decides what tar does. An outer level handles what the \
                 inner handler passes on. The mode of the data is its most frequent value. \
                 The upper quartile splits off the top quarter of the data."
                    .into(),
            ),
            created_at: 0,
            updated_at: 0,
        };
        let analysis = analyse(&topic);
        let kind = |key: &str| {
            let concept = analysis
                .concept(key)
                .unwrap_or_else(|| panic!("{key} is a concept: {:?}", analysis.concepts));
            kind_of(concept, &analysis)
        };
        assert_eq!(kind("operation mode"), ConceptKind::Entity);
        assert_eq!(kind("outer level"), ConceptKind::Entity);
        assert_eq!(kind("mode of data"), ConceptKind::Measure);
        assert_eq!(kind("upper quartile"), ConceptKind::Measure);
    }

    #[test]
    fn file_names_are_told_from_methods_and_versions() {
        for file in ["sources.list", "server.c", "Cargo.toml", "zlib.h"] {
            assert!(is_file_name(file), "{file} is a file");
        }
        for other in [
            "Regex.new",
            "1.5",
            "os.path.join()",
            "deflate()",
            "Lock",
            ".c",
        ] {
            assert!(!is_file_name(other), "{other} is no file");
        }
    }

    #[test]
    fn a_how_to_is_the_task_the_sentence_teaches() {
        assert_eq!(
            how_to_clause(
                "This demonstrates how to use a RegexSet to match multiple (possibly \
                 overlapping) regular expressions in a single scan of the search text:"
            )
            .as_deref(),
            Some("how to use a RegexSet to match multiple regular expressions in a single scan of the search text")
        );
        assert_eq!(
            how_to_clause("To obtain better compression, concatenate all input files first.")
                .as_deref(),
            Some("how to obtain better compression")
        );
        // Pointers elsewhere and tasks that point back teach nothing here.
        assert_eq!(
            how_to_clause(
                "See the rebar documentation for more details on how to compare results."
            ),
            None
        );
        assert_eq!(how_to_clause("To do this, run the script."), None);
        assert_eq!(how_to_clause("To Whom It May Concern, hello."), None);
    }

    #[test]
    fn a_rule_that_opens_with_its_condition_is_asked_as_that_condition() {
        let topic = Topic {
            id: uuid::Uuid::nil(),
            title: "Compressing files".into(),
            description: None,
            source_text: Some(
                "If the compressed file name is too long for its file system, gzip truncates \
                 it. The compressed file name ends with .gz. If it is too long, nothing \
                 happens."
                    .into(),
            ),
            created_at: 0,
            updated_at: 0,
        };
        let analysis = analyse(&topic);
        let concept = analysis
            .concept("compressed file name")
            .unwrap_or_else(|| panic!("{:?}", analysis.concepts));
        assert_eq!(
            opening_condition(&analysis.sentences[0], concept).as_deref(),
            Some("if the compressed file name is too long for its file system")
        );
        // Not the concept's condition, and a condition that points back.
        assert_eq!(opening_condition(&analysis.sentences[1], concept), None);
        assert_eq!(opening_condition(&analysis.sentences[2], concept), None);
    }

    #[test]
    fn a_wish_is_no_condition() {
        let topic = Topic {
            id: uuid::Uuid::nil(),
            title: "Compressing files".into(),
            description: None,
            source_text: Some(
                "If you want the original files back, decompress the original files. If the \
                 original files are large, gzip is slow."
                    .into(),
            ),
            created_at: 0,
            updated_at: 0,
        };
        let analysis = analyse(&topic);
        let concept = analysis
            .concept("file")
            .unwrap_or_else(|| panic!("{:?}", analysis.concepts));
        assert_eq!(opening_condition(&analysis.sentences[0], concept), None);
        assert_eq!(
            opening_condition(&analysis.sentences[1], concept).as_deref(),
            Some("if the original files are large")
        );
    }

    #[test]
    fn what_returns_a_value_is_the_name_right_before_the_verb() {
        let lower = "if deflate() returns z_ok and with zero avail_out, call it again";
        assert!(precedes_cue(lower, "returns", "deflate()"));
        assert!(!precedes_cue(lower, "returns", "avail_out"));
        assert!(precedes_cue(
            "inflate() will return z_buf_error",
            "return",
            "inflate()"
        ));
        assert!(returns_value(lower, "returns", "z_ok"));
        assert!(returns_value("it returns with z_ok", "returns", "z_ok"));
        assert!(!returns_value(
            "inflate() returns early when z_block is used",
            "returns",
            "z_block"
        ));
        assert!(precedes_cue(
            "inflate() should be called until it returns z_stream_end",
            "returns",
            "inflate()"
        ));
        assert!(!precedes_cue(
            "the flush parameter of inflate(), z_block, returns",
            "returns",
            "inflate()"
        ));
    }
}
