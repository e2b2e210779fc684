//! Sentences, words and noun phrases. English prose is tagged with harper-brill's Brill tagger
//! and chunked with its noun-phrase chunker; a candidate concept is a whole noun phrase,
//! trimmed of determiners and generic modifiers, that ends on a noun ("day of the week",
//! "virtual instruction set"). Other languages fall back to runs of words between that
//! language's stop words.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use harper_brill::{Chunker, Tagger, UPOS};

use crate::generator::text::{is_stop_word, normalise_word};

/// A word or punctuation mark of a sentence.
#[derive(Debug, Clone)]
pub struct Token {
    pub text: String,
    pub lower: String,
    pub tag: Option<UPOS>,
    /// An API name (`deflate()`, `Z_BUF_ERROR`, `--create`, `RLock`): kept whole, never split.
    pub api: bool,
    pub word: bool,
}

/// One noun phrase found in a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase {
    /// As written, without a leading determiner ("day of the week", "deflate()").
    pub text: String,
    /// Normalised content words joined by spaces: the phrase's identity ("day of week").
    pub key: String,
    /// The determiner written before it, lower case ("the", "a", "an"), if any.
    pub determiner: Option<String>,
    pub api: bool,
    /// Whether the phrase begins the sentence (its subject position).
    pub at_start: bool,
    /// Index of the token after the phrase.
    pub end: usize,
}

/// Words that head no concept by themselves: quantities, generic nouns, boilerplate.
const GENERIC_HEADS: &[&str] = &[
    "thing",
    "things",
    "way",
    "ways",
    "lot",
    "lots",
    "part",
    "parts",
    "kind",
    "kinds",
    "type",
    "types",
    "sort",
    "sorts",
    "example",
    "examples",
    "case",
    "cases",
    "number",
    "numbers",
    "set",
    "list",
    "following",
    "one",
    "ones",
    "other",
    "others",
    "end",
    "rest",
    "fact",
    "facts",
    "bit",
    "item",
    "items",
    "detail",
    "details",
    "usage",
    "use",
    "uses",
    "default",
    "defaults",
    "option",
    "options",
    "argument",
    "arguments",
    "self",
    "cls",
    "args",
    "kwargs",
    "none",
    "true",
    "false",
    "null",
    "foo",
    "bar",
    "baz",
    "etc",
    "e.g",
    "i.e",
    "note",
    "notes",
    "see",
    "also",
    "section",
    "sections",
    "chapter",
    "page",
    "pages",
    "line",
    "lines",
    "word",
    "words",
    "value",
    "values",
    "time",
    "times",
    "place",
    "result",
    "results",
    "reason",
    "reasons",
    "problem",
    "problems",
    "question",
    "questions",
    "idea",
    "ideas",
    "point",
    "points",
    "aspect",
    "aspects",
    "form",
    "forms",
    "level",
    "term",
    "terms",
    "name",
    "names",
    "https",
    "http",
    "www",
    "com",
    "org",
    "html",
    "version",
    "versions",
    "description",
    "synopsis",
    "summary",
    "overview",
    "introduction",
    "method",
    "methods",
    "object",
    "objects",
    "function",
    "functions",
    "class",
    "classes",
    "attribute",
    "attributes",
    "parameter",
    "parameters",
    "information",
    "something",
    "anything",
    "everything",
    "nothing",
    "someone",
    "anyone",
    "everyone",
    "people",
    "person",
    "year",
    "years",
    "day",
    "days",
    "moment",
    "step",
    "steps",
    "side",
    "sides",
    "amount",
    "couple",
    "variety",
    "range",
    "group",
    "groups",
    "order",
    "manner",
    "means",
    "extent",
    "degree",
    "sense",
    "matter",
    "state",
    "behavior",
    "behaviour",
    "effect",
    "effects",
    "work",
    "lecture",
    "notes",
    "text",
    "default",
    "unit",
    "units",
    "sheet",
    "handout",
    "worksheet",
    "revision",
];

/// Heads that name a part of what follows "of" ("a piece of code", "the end of the file").
const PARTITIVE_HEADS: &[&str] = &[
    "piece",
    "pieces",
    "part",
    "parts",
    "portion",
    "portions",
    "end",
    "beginning",
    "middle",
    "top",
    "bottom",
    "half",
    "fraction",
];

/// Heads that only count, sort or point at what follows "of" ("a number of", "kinds of").
const OF_QUANTIFIERS: &[&str] = &[
    "number",
    "numbers",
    "kind",
    "kinds",
    "type",
    "types",
    "sort",
    "sorts",
    "lot",
    "lots",
    "set",
    "sets",
    "list",
    "lists",
    "example",
    "examples",
    "most",
    "some",
    "rest",
    "use",
    "one",
    "all",
    "each",
    "part",
    "parts",
    "couple",
    "variety",
    "range",
    "group",
    "amount",
    "bit",
    "piece",
    "member",
    "members",
    "instance",
    "instances",
    "form",
    "forms",
    "class",
    "classes",
    "category",
    "categories",
    "end",
    "side",
    "top",
    "bottom",
    "beginning",
    "middle",
    "result",
    "results",
    "version",
    "versions",
    "case",
    "cases",
    "way",
    "ways",
    "name",
    "names",
    "value",
    "values",
];

/// Modifiers that say nothing about the concept ("other", "following", "main").
const GENERIC_MODIFIERS: &[&str] = &[
    "other",
    "following",
    "given",
    "same",
    "such",
    "various",
    "certain",
    "new",
    "main",
    "several",
    "specific",
    "particular",
    "respective",
    "possible",
    "additional",
    "actual",
    "current",
    "usual",
    "previous",
    "last",
    "next",
    "only",
    "own",
    "above",
    "below",
    "many",
    "much",
    "more",
    "most",
    "less",
    "least",
    "few",
    "fewer",
    "different",
    "similar",
    "important",
    "good",
    "bad",
    "whole",
    "entire",
    "further",
    "latter",
    "former",
    "corresponding",
    "appropriate",
    "necessary",
    "typical",
    "each",
    "every",
    "any",
    "all",
    "some",
    "no",
    "both",
    "either",
    "neither",
    "enough",
    "overall",
    "optional",
    "original",
    "existing",
    "present",
    "specified",
    "desired",
    "related",
    "relevant",
    "above-mentioned",
    "aforementioned",
    "latest",
    "recent",
    "major",
    "minor",
    "extra",
    "like",
    "whatever",
    "notable",
    "famous",
    "well-known",
    "useful",
    "easy",
    "hard",
    "difficult",
    "nice",
    "great",
    "best",
    "better",
];

/// Ordinals: meaningful before some heads ("first quartile"), never enough before a generic one
/// ("first step").
pub const ORDINALS: &[&str] = &[
    "first", "second", "third", "fourth", "fifth", "final", "initial", "early", "late",
];

/// Abbreviations after which a full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "etc", "vs", "cf", "dr", "mr", "mrs", "ms", "prof", "no", "fig", "approx", "ca",
    "st", "jr", "sr", "z.b", "bzw", "usw", "vgl", "ggf", "d.h", "u.a", "resp", "p",
];

pub fn is_generic_head(lower: &str) -> bool {
    GENERIC_HEADS.contains(&lower)
}

pub fn is_generic_modifier(lower: &str) -> bool {
    GENERIC_MODIFIERS.contains(&lower)
}

/// Splits clean prose into sentences, keeping each as written.
pub fn sentences(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '.' | '!' | '?') {
            let next = chars.get(i + 1).copied();
            let after = chars.get(i + 2).copied();
            let ends = match next {
                None => true,
                Some(n) if n.is_whitespace() => after.is_none_or(|a| {
                    a.is_uppercase()
                        || a.is_ascii_digit()
                        || matches!(a, '"' | '\'' | '(' | '“' | '«')
                }),
                Some('"' | '\'' | ')' | '”' | '»') => {
                    chars.get(i + 2).is_none_or(|a| a.is_whitespace())
                }
                _ => false,
            };
            if ends && c == '.' && is_abbreviation_before(&chars, i) {
                i += 1;
                continue;
            }
            if ends {
                let mut end = i + 1;
                if matches!(next, Some('"' | '\'' | ')' | '”' | '»')) {
                    end += 1;
                }
                let sentence: String = chars[start..end].iter().collect();
                let sentence = sentence.trim();
                if !sentence.is_empty() {
                    out.push(sentence.to_string());
                }
                start = end;
            }
        }
        i += 1;
    }
    let rest: String = chars[start.min(chars.len())..].iter().collect();
    let rest = rest.trim();
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

fn is_abbreviation_before(chars: &[char], dot: usize) -> bool {
    let mut j = dot;
    while j > 0 && (chars[j - 1].is_alphanumeric() || chars[j - 1] == '.') {
        j -= 1;
    }
    let word: String = chars[j..dot].iter().collect::<String>().to_lowercase();
    // Single initials ("J. S. Bach") and known abbreviations.
    word.chars().count() == 1 && word.chars().all(char::is_alphabetic)
        || ABBREVIATIONS.contains(&word.as_str())
}

/// Splits a sentence into words and punctuation. Identifiers stay whole: `os.path`,
/// `Z_BUF_ERROR`, `deflate()`, `--create`, `12-14`.
pub fn tokenize(sentence: &str, api_names: &BTreeSet<String>) -> Vec<Token> {
    let chars: Vec<char> = sentence.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let option_start = c == '-'
            && (i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '(')
            && chars
                .get(i + 1)
                .is_some_and(|n| n.is_alphanumeric() || *n == '-');
        if c.is_alphanumeric() || c == '_' || option_start {
            let start = i;
            if option_start {
                while i < chars.len() && chars[i] == '-' {
                    i += 1;
                }
            }
            while i < chars.len() {
                let ch = chars[i];
                let next_is_word = chars
                    .get(i + 1)
                    .is_some_and(|n| n.is_alphanumeric() || *n == '_');
                if ch.is_alphanumeric() || ch == '_' {
                    i += 1;
                } else if matches!(ch, '-' | '\'' | '’' | '.' | ':') && next_is_word && i > start
                {
                    // "." and "::" only join identifiers ("os.path", "std::fs"), not sentences.
                    if ch == '.' || ch == ':' {
                        let before: String = chars[start..i].iter().collect();
                        let joins = ch == ':' && chars.get(i + 1) == Some(&':')
                            || ch == '.'
                                && (before
                                    .chars()
                                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
                                    || before.chars().all(|c| c.is_ascii_digit() || c == '.'));
                        if !joins {
                            break;
                        }
                        if ch == ':' {
                            i += 1;
                        }
                    }
                    i += 1;
                } else {
                    break;
                }
            }
            // A call: "deflate()" or "deflate(strm, flush)" names the function `deflate()`.
            if chars.get(i) == Some(&'(') && chars.get(i + 1) == Some(&')') {
                i += 2;
            }
            let text: String = chars[start..i].iter().collect();
            let text = text.trim_end_matches(['.', ':', '-']);
            // A possessive is its noun: "the crate's" → "crate".
            let text = text
                .strip_suffix("'s")
                .or_else(|| text.strip_suffix("’s"))
                .filter(|t| !t.is_empty())
                .unwrap_or(text)
                .to_string();
            let api = api_names.contains(&text) || reads_as_identifier(&text);
            // A printf conversion ("in %g directories") is a placeholder, no word; nor is a
            // dash ("foolproof -- which"), which trims to nothing.
            // A program's own variable ("$directory_count is 0") names no concept of the
            // text; an environment variable ("$PATH") does.
            let variable =
                start > 0 && chars[start - 1] == '$' && text.chars().any(|c| c.is_lowercase());
            let placeholder = start > 0 && chars[start - 1] == '%' || text.is_empty() || variable;
            let text = if text.is_empty() {
                chars[start..i].iter().collect()
            } else {
                text
            };
            tokens.push(Token {
                lower: text.to_lowercase(),
                text,
                tag: None,
                api: api && !placeholder,
                word: !placeholder,
            });
        } else {
            tokens.push(Token {
                text: c.to_string(),
                lower: c.to_string(),
                tag: None,
                api: false,
                word: false,
            });
            i += 1;
        }
    }
    tokens
}

/// Words that are identifiers whatever the prose around them says.
fn reads_as_identifier(word: &str) -> bool {
    if ABBREVIATIONS.contains(&word.to_lowercase().trim_end_matches('.')) {
        return false;
    }
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    letters > 0
        && (word.ends_with("()")
            || word.contains('_') && !word.starts_with('_')
            || word.contains("::")
            || word.starts_with("--")
            || word.contains('.') && word.chars().any(|c| c.is_alphabetic()) && !word.ends_with('.')
            // camelCase and PascalCase with an inner capital after a lower-case letter: RLock,
            // getValue; not "McDonald" style names (checked loosely: an upper-case run inside).
            || inner_capital(word))
}

fn inner_capital(word: &str) -> bool {
    let chars: Vec<char> = word.chars().collect();
    chars.len() >= 4
        && chars.iter().skip(1).any(|c| c.is_uppercase())
        && chars.iter().any(|c| c.is_lowercase())
        && !chars.contains(&'-')
        && !chars.contains(&'\'')
        && (chars[0].is_lowercase()
            || chars.len() >= 2 && chars[0].is_uppercase() && chars[1].is_uppercase())
}

static TAGGER: LazyLock<std::sync::Arc<harper_brill::BrillTagger<harper_brill::FreqDict>>> =
    LazyLock::new(harper_brill::brill_tagger);
static CHUNKER: LazyLock<std::sync::Arc<harper_brill::BrillChunker>> =
    LazyLock::new(harper_brill::brill_chunker);

/// Whether a short line says something rather than names something ("Names refer to objects"
/// is a sentence, "Divergent plate boundaries" a run-in heading).
pub fn has_verb(text: &str) -> bool {
    let mut tokens = tokenize(text, &BTreeSet::new());
    tag(&mut tokens);
    tokens
        .iter()
        .any(|t| t.word && matches!(t.tag, Some(UPOS::VERB | UPOS::AUX)))
}

/// Tags English tokens with their part of speech (API names count as proper nouns).
pub fn tag(tokens: &mut [Token]) -> Vec<bool> {
    let strings: Vec<String> = tokens.iter().map(|t| t.text.clone()).collect();
    let tags = TAGGER.tag_sentence(&strings);
    for (token, tag) in tokens.iter_mut().zip(tags) {
        token.tag = if token.api {
            Some(UPOS::PROPN)
        } else if !token.word {
            Some(UPOS::PUNCT)
        } else {
            // The tagger's lexicon is small: words it does not know ("magma", "tectonic")
            // take their part of speech from harper's dictionary.
            tag.or_else(|| Some(dictionary_tag(&token.text)))
        };
    }
    // The tagger's commonest misreadings of nouns: after a determiner or a number ("the
    // mean is", "seven base units") and before another noun, a word that can be a noun is one.
    for i in 0..tokens.len() {
        let misread = matches!(tokens[i].tag, Some(UPOS::VERB | UPOS::ADJ | UPOS::ADV));
        if !misread || tokens[i].api || !tokens[i].word {
            continue;
        }
        let after_determiner = i > 0
            && matches!(tokens[i - 1].tag, Some(UPOS::DET | UPOS::NUM))
            && matches!(
                tokens[i - 1].lower.as_str(),
                "the" | "a" | "an" | "this" | "each" | "every" | "its" | "their"
            )
            || i > 0 && tokens[i - 1].tag == Some(UPOS::NUM);
        let next = tokens.get(i + 1);
        let before_noun = next.is_some_and(|n| matches!(n.tag, Some(UPOS::NOUN)) && n.word);
        let before_verb_or_end = next.is_none_or(|n| {
            !n.word
                || matches!(
                    n.tag,
                    Some(UPOS::AUX | UPOS::VERB | UPOS::ADP | UPOS::CCONJ)
                )
        });
        let adjective_reading = tokens[i].tag == Some(UPOS::ADJ) && before_noun;
        let noun_after_determiner =
            after_determiner && (before_noun && !adjective_reading || before_verb_or_end);
        let compound_modifier = tokens[i].tag == Some(UPOS::VERB)
            && before_noun
            && i > 0
            && matches!(tokens[i - 1].tag, Some(UPOS::NUM | UPOS::ADJ));
        if (noun_after_determiner || compound_modifier) && can_be_noun(&tokens[i].lower) {
            tokens[i].tag = Some(UPOS::NOUN);
        }
    }
    for i in 1..tokens.len() {
        let next = tokens.get(i + 1);
        let (previous, word) = (&tokens[i - 1], &tokens[i]);
        if word.api || !word.word || previous.api {
            continue;
        }
        // "Pyroclastic flows are …": an adjective and a plural before a copula is the
        // subject, not an adjective before a verb.
        let before_copula =
            next.is_some_and(|n| matches!(n.lower.as_str(), "are" | "is" | "was" | "were"));
        if word.tag == Some(UPOS::VERB)
            && matches!(previous.tag, Some(UPOS::ADJ | UPOS::PROPN))
            && word.lower.ends_with('s')
            && before_copula
            && can_be_noun(&word.lower)
        {
            tokens[i].tag = Some(UPOS::NOUN);
            continue;
        }
        if word.tag == Some(UPOS::NOUN) && is_verb_of_clause(tokens, i) {
            tokens[i].tag = Some(UPOS::VERB);
        }
    }
    let tags: Vec<Option<UPOS>> = tokens.iter().map(|t| t.tag).collect();
    CHUNKER.chunk_sentence(&strings, &tags)
}

fn is_nominal(token: &Token) -> bool {
    token.api || matches!(token.tag, Some(UPOS::NOUN | UPOS::PROPN))
}

/// Whether a token may stand inside an English noun phrase.
fn may_continue(token: &Token) -> bool {
    token.word
        && (token.api
            || matches!(
                token.tag,
                Some(UPOS::NOUN | UPOS::PROPN | UPOS::ADJ | UPOS::NUM) | None
            )
            || token.tag == Some(UPOS::VERB)
                && (token.lower.ends_with("ing") || token.lower.ends_with("ed")))
        && !is_stop_word(&token.lower)
}

/// The noun phrases of a tagged English sentence.
pub fn english_phrases(tokens: &[Token], np: &[bool]) -> Vec<Phrase> {
    let mut simple: Vec<(usize, usize, Option<String>)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].api {
            simple.push((i, i + 1, determiner_before(tokens, i)));
            i += 1;
            continue;
        }
        let participle = tokens[i].tag == Some(UPOS::VERB)
            && (tokens[i].lower.ends_with("ed") || tokens[i].lower.ends_with("ing"))
            && tokens.get(i + 1).is_some_and(is_nominal);
        let in_np = np.get(i).copied().unwrap_or(false)
            || is_nominal(&tokens[i])
            || tokens[i].tag == Some(UPOS::ADJ)
            || participle;
        if !in_np || !may_continue(&tokens[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < tokens.len()
            && !tokens[i].api
            && may_continue(&tokens[i])
            && (np.get(i).copied().unwrap_or(false)
                || is_nominal(&tokens[i])
                || tokens[i].tag == Some(UPOS::ADJ))
        {
            i += 1;
        }
        // The tagger reads a final noun that is also a verb as a verb ("instruction set."):
        // with nothing after it but punctuation or a preposition, it is the phrase's head.
        if i < tokens.len()
            && i > start
            && !is_verb_of_clause(tokens, i)
            && tokens[i].word
            && !tokens[i].api
            && matches!(tokens[i].tag, Some(UPOS::VERB | UPOS::ADJ))
            && can_be_noun(&tokens[i].lower)
            && tokens.get(i + 1).is_none_or(|n| {
                !n.word || matches!(n.tag, Some(UPOS::ADP | UPOS::CCONJ | UPOS::SCONJ))
            })
        {
            i += 1;
        }
        // "Volcanoes form where ...", "the mantle melts as ...": a noun-or-verb word after its
        // subject, before an adverb, a preposition or a clause, is the verb.
        if i >= start + 2 && is_verb_after_subject(&tokens[i - 2], &tokens[i - 1], tokens.get(i)) {
            i -= 1;
        }
        // Leading modifiers that say nothing, and trailing words that are not nouns, go.
        let mut s = start;
        while s < i && (is_generic_modifier(&tokens[s].lower) || tokens[s].tag == Some(UPOS::NUM)) {
            s += 1;
        }
        let mut e = i;
        while e > s
            && !is_nominal(&tokens[e - 1])
            && !(e == i
                && e - s >= 2
                && can_be_noun(&tokens[e - 1].lower)
                && matches!(tokens[e - 1].tag, Some(UPOS::VERB | UPOS::ADJ))
                && tokens.get(e).is_none_or(|n| !n.word))
        {
            e -= 1;
        }
        if e > s && e - s <= 5 {
            simple.push((s, e, determiner_before(tokens, s)));
        }
        if i == start {
            i += 1;
        }
    }
    // A head that is only part of what follows "of" ("the offending piece of code", "the top
    // of the stack") is no concept without it: readers dropped "the offending piece".
    let partial = |e: usize| {
        e > 0
            && PARTITIVE_HEADS.contains(&tokens[e - 1].lower.as_str())
            && tokens.get(e).is_some_and(|t| t.lower == "of")
    };
    let mut phrases: Vec<Phrase> = simple
        .iter()
        .filter(|(_, e, _)| !partial(*e))
        .map(|(s, e, det)| make_phrase(tokens, *s, *e, det.clone()))
        .collect();
    phrases.extend(capitalised_names(tokens));
    // "day" + "of" + "the week": one phrase, unless the first part only counts or sorts
    // ("number of", "kinds of"), which says what the text does with the second.
    for pair in simple.windows(2) {
        let (s1, e1, det) = &pair[0];
        let (s2, e2, _) = &pair[1];
        if tokens.get(*e1).is_some_and(|t| t.lower == "of")
            && (*s2 == e1 + 1
                || *s2 == e1 + 2
                    && tokens[e1 + 1].tag == Some(UPOS::DET)
                    && tokens[e1 + 1].lower == "the")
            && !OF_QUANTIFIERS.contains(&tokens[e1 - 1].lower.as_str())
            && !tokens[e1 - 1].api
            && !tokens[*s2].api
            && e2 - s1 <= 6
        {
            phrases.push(make_phrase(tokens, *s1, *e2, det.clone()));
        }
    }
    phrases
}

/// A word's likeliest part of speech by harper's dictionary; a word it does not know either is
/// a term of the field, so a noun.
fn dictionary_tag(word: &str) -> UPOS {
    use harper_core::spell::Dictionary;
    let lower: Vec<char> = word.to_lowercase().chars().collect();
    let dictionary = harper_core::spell::FstDictionary::curated();
    let Some(meta) = dictionary.get_word_metadata(&lower) else {
        return if word.ends_with("ly") {
            UPOS::ADV
        } else if word.chars().next().is_some_and(char::is_uppercase) {
            UPOS::PROPN
        } else {
            UPOS::NOUN
        };
    };
    if meta.noun.is_some() {
        UPOS::NOUN
    } else if meta.adjective.is_some() {
        UPOS::ADJ
    } else if meta.verb.is_some() {
        UPOS::VERB
    } else if meta.adverb.is_some() {
        UPOS::ADV
    } else if meta.determiner.is_some() {
        UPOS::DET
    } else if meta.preposition {
        UPOS::ADP
    } else if meta.pronoun.is_some() {
        UPOS::PRON
    } else if meta.conjunction.is_some() {
        UPOS::CCONJ
    } else {
        UPOS::NOUN
    }
}

fn is_verb_after_subject(subject: &Token, word: &Token, next: Option<&Token>) -> bool {
    use harper_core::spell::Dictionary;
    let Some(next) = next else {
        return false;
    };
    let clause_follows = !next.word && next.text != "-"
        || matches!(
            next.tag,
            Some(UPOS::ADP | UPOS::ADV | UPOS::SCONJ | UPOS::DET | UPOS::PRON | UPOS::AUX)
        )
        || matches!(
            next.lower.as_str(),
            "where" | "when" | "if" | "because" | "as" | "into" | "through"
        );
    // "Pyroclastic flows are …": no verb is followed by a copula.
    let copula = matches!(next.lower.as_str(), "are" | "is" | "was" | "were");
    if !clause_follows || copula || word.api || subject.api {
        return false;
    }
    let chars: Vec<char> = word.lower.chars().collect();
    let dictionary = harper_core::spell::FstDictionary::curated();
    let can_be_verb = dictionary
        .get_word_metadata(&chars)
        .is_some_and(|m| m.verb.is_some());
    let plural_subject = subject.lower.ends_with('s') && !subject.lower.ends_with("ss");
    can_be_verb
        && (plural_subject && !word.lower.ends_with('s')
            || !plural_subject && word.lower.ends_with('s') && !word.lower.ends_with("ss"))
}

/// "How volcanoes form", "where the plates meet": in a clause opened by a subordinator, a
/// bare word after a plural noun that ends the phrase is its verb (English compounds rarely
/// have a plural first part).
fn is_verb_of_clause(tokens: &[Token], i: usize) -> bool {
    if i == 0 {
        return false;
    }
    let next = tokens.get(i + 1);
    let ends_phrase = next
        .is_none_or(|n| !n.word || !matches!(n.tag, Some(UPOS::NOUN | UPOS::PROPN | UPOS::ADJ)));
    let mut before = i - 1;
    while before > 0 && tokens[before - 1].tag == Some(UPOS::DET) {
        before -= 1;
    }
    let clause_opens = before > 0
        && matches!(
            tokens[before - 1].lower.as_str(),
            "how" | "where" | "when" | "why" | "as" | "because" | "if" | "until" | "unless"
        );
    clause_opens
        && is_plural_noun(&tokens[i - 1])
        && !tokens[i].lower.ends_with('s')
        && ends_phrase
        && can_be_verb(&tokens[i].lower)
}

/// "volcanoes", "plates": a plural noun, not "gas", "status" or "physics".
fn is_plural_noun(token: &Token) -> bool {
    let lower = &token.lower;
    matches!(token.tag, Some(UPOS::NOUN))
        && lower.chars().count() > 3
        && lower.ends_with('s')
        && !["ss", "us", "is", "ics"].iter().any(|e| lower.ends_with(e))
}

/// Whether harper's dictionary knows the word as a verb.
pub fn can_be_verb(lower: &str) -> bool {
    use harper_core::spell::Dictionary;
    let chars: Vec<char> = lower.chars().collect();
    harper_core::spell::FstDictionary::curated()
        .get_word_metadata(&chars)
        .is_some_and(|m| m.verb.is_some())
}

/// Whether harper's dictionary knows the word as a noun.
pub fn can_be_noun(lower: &str) -> bool {
    use harper_core::spell::Dictionary;
    let chars: Vec<char> = lower.chars().collect();
    harper_core::spell::FstDictionary::curated()
        .get_word_metadata(&chars)
        .is_some_and(|m| m.noun.is_some())
}

/// Names written in capitals across small words: "Pliny the Younger", "Year Without a
/// Summer", "International Prototype of the Kilogram".
fn capitalised_names(tokens: &[Token]) -> Vec<Phrase> {
    const JOINERS: &[&str] = &[
        "the", "of", "a", "an", "without", "de", "von", "van", "du", "la", "le", "and",
    ];
    let capital =
        |t: &Token| t.word && !t.api && t.text.chars().next().is_some_and(char::is_uppercase);
    let mut out = Vec::new();
    let mut i = 1; // a sentence's first word is capitalised anyway
    while i < tokens.len() {
        if !capital(&tokens[i]) || tokens[i - 1].word && capital(&tokens[i - 1]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i + 1;
        let mut capitals = 1;
        loop {
            if end < tokens.len() && capital(&tokens[end]) {
                end += 1;
                capitals += 1;
            } else if end + 1 < tokens.len()
                && JOINERS.contains(&tokens[end].lower.as_str())
                && (capital(&tokens[end + 1])
                    || end + 2 < tokens.len()
                        && JOINERS.contains(&tokens[end + 1].lower.as_str())
                        && capital(&tokens[end + 2]))
            {
                end += if capital(&tokens[end + 1]) { 2 } else { 3 };
                capitals += 1;
            } else {
                break;
            }
        }
        let joined = end - start > capitals;
        if capitals >= 2 && joined && end - start <= 6 {
            out.push(make_phrase(
                tokens,
                start,
                end,
                determiner_before(tokens, start),
            ));
        }
        i = end;
    }
    out
}

/// One of the author's own terms (a marked term, a heading that is a noun phrase): its key
/// and its words in lower case as [`tokenize`] reads them.
#[derive(Debug, Clone)]
pub struct AuthorTerm {
    pub key: String,
    pub words: Vec<String>,
}

impl AuthorTerm {
    pub fn new(term: &str, api_names: &BTreeSet<String>) -> Option<AuthorTerm> {
        let tokens = tokenize(term, api_names);
        let words: Vec<String> = tokens
            .iter()
            .filter(|t| t.word)
            .map(|t| t.lower.clone())
            .collect();
        let key = phrase_key(tokens.iter().filter(|t| t.word).map(|t| t.text.as_str()));
        (!words.is_empty() && !key.is_empty()).then_some(AuthorTerm { key, words })
    }
}

/// Adds the author's terms where a sentence writes them but tagging split them ("Type I
/// error" read as "Type" and "error"): a term the author marks is one phrase as marked. The
/// pieces it replaces go.
pub fn add_author_terms(
    text: &str,
    lower: &str,
    phrases: &mut Vec<Phrase>,
    terms: &[AuthorTerm],
    api_names: &BTreeSet<String>,
) {
    let mut tokens: Option<Vec<Token>> = None;
    for term in terms {
        if phrases.iter().any(|p| p.key == term.key) || !lower.contains(term.words[0].as_str()) {
            continue;
        }
        let tokens = tokens.get_or_insert_with(|| tokenize(text, api_names));
        let len = term.words.len();
        let Some(start) = (0..tokens.len().saturating_sub(len - 1)).find(|&start| {
            tokens[start..start + len]
                .iter()
                .zip(&term.words)
                .all(|(t, w)| t.word && t.lower == *w)
        }) else {
            continue;
        };
        let end = start + len;
        let mut phrase = make_phrase(tokens, start, end, determiner_before(tokens, start));
        phrase.key = term.key.clone();
        phrases.retain(|p| {
            let length = tokenize(&p.text, api_names).len();
            let p_start = p.end.saturating_sub(length);
            p.end <= start || p_start >= end
        });
        let at = phrases
            .iter()
            .position(|p| p.end > end)
            .unwrap_or(phrases.len());
        phrases.insert(at, phrase);
    }
}

fn determiner_before(tokens: &[Token], start: usize) -> Option<String> {
    let before = start.checked_sub(1).map(|i| &tokens[i])?;
    matches!(before.lower.as_str(), "the" | "a" | "an").then(|| before.lower.clone())
}

fn make_phrase(tokens: &[Token], start: usize, end: usize, determiner: Option<String>) -> Phrase {
    let words = &tokens[start..end];
    let text = words
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    // An API name is itself: `Thread` the class is not "thread" the word.
    let key = if words.len() == 1 && words[0].api {
        words[0].text.clone()
    } else {
        phrase_key(words.iter().map(|t| t.text.as_str()))
    };
    let at_start = start == 0 || start == 1 && determiner.is_some();
    Phrase {
        text,
        key,
        determiner,
        api: words.len() == 1 && words[0].api,
        at_start,
        end,
    }
}

/// A phrase's identity: normalised words without determiners.
pub fn phrase_key<'a>(words: impl Iterator<Item = &'a str>) -> String {
    words
        .filter(|w| !matches!(w.to_lowercase().as_str(), "the" | "a" | "an"))
        .map(|w| {
            if w.ends_with("()") {
                w.to_lowercase()
            } else {
                normalise_word(w)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Phrases of a sentence in a language without a tagger: runs of words between the
/// language's stop words and punctuation, up to three words. German nouns are capitalised,
/// so German phrases must end on a capitalised word.
pub fn stop_word_phrases(tokens: &[Token], stop: &BTreeSet<String>, language: &str) -> Vec<Phrase> {
    let mut phrases = Vec::new();
    let joiners: &[&str] = match language {
        "fr" => &[
            "de", "du", "des", "d'un", "d'une", "au", "aux", "la", "le", "les", "l'",
        ],
        "es" | "pt" => &["de", "del", "da", "do", "la", "los", "las", "el"],
        "it" => &["di", "del", "della"],
        _ => &[],
    };
    let mut i = 0;
    while i < tokens.len() {
        // French verb forms and adjectives by their endings ("veuillez", "malveillant",
        // "signé"): without a tagger, these are what most often passes the stop words.
        let french_non_noun = |t: &Token| {
            let long = t.lower.chars().count() > 4;
            let participle = ["é", "ée", "és", "ées"]
                .iter()
                .any(|e| t.lower.ends_with(e))
                && !t.lower.ends_with("té")
                && !t.lower.ends_with("tés");
            language == "fr"
                && ([
                    "ez", "ant", "ante", "ants", "antes", "euse", "ait", "aient", "ible", "ibles",
                    "able", "ables",
                ]
                .iter()
                .any(|e| t.lower.ends_with(e) && long)
                    || participle && long
                    || french_verb_or_adverb(&t.lower)
                    || ["s'", "n'", "qu'", "j'", "m'", "t'"]
                        .iter()
                        .any(|p| t.lower.starts_with(p)))
        };
        let is_content = |t: &Token| {
            t.word
                && (t.api
                    || !stop.contains(&t.lower)
                        && !french_non_noun(t)
                        && t.text.chars().count() > 2
                        && !t.text.chars().all(|c| c.is_ascii_digit()))
        };
        if !is_content(&tokens[i]) {
            i += 1;
            continue;
        }
        if tokens[i].api {
            phrases.push(make_phrase(tokens, i, i + 1, None));
            i += 1;
            continue;
        }
        let start = i;
        // Straight after a noun, a French lower-case word that does not read as an adjective
        // is the verb of the clause: "l'archive possède", "apt exige".
        let verb_after_noun = |start: usize, i: usize| {
            language == "fr"
                && i > start
                && !joiners.contains(&tokens[i - 1].lower.as_str())
                && !french_may_follow_noun(&tokens[i])
        };
        while i < tokens.len()
            && !tokens[i].api
            && (is_content(&tokens[i]) && !verb_after_noun(start, i)
                || i > start
                    && joiners.contains(&tokens[i].lower.as_str())
                    && (tokens.get(i + 1).is_some_and(|n| is_content(n) && !n.api)
                        || tokens
                            .get(i + 1)
                            .is_some_and(|n| joiners.contains(&n.lower.as_str()))
                            && tokens.get(i + 2).is_some_and(|n| is_content(n) && !n.api)))
        {
            i += 1;
        }
        let mut end = i;
        // The verb that ended the run starts no phrase of its own ("possède la clé").
        let verb_ended = i < tokens.len() && is_content(&tokens[i]) && verb_after_noun(start, i);
        if language == "de" {
            while end > start
                && !tokens[end - 1]
                    .text
                    .chars()
                    .next()
                    .is_some_and(char::is_uppercase)
            {
                end -= 1;
            }
            // A capitalised word at the sentence start may be any word; alone it is no noun.
        }
        let mut s = start;
        if language == "de" {
            while s < end
                && !tokens[s]
                    .text
                    .chars()
                    .next()
                    .is_some_and(char::is_uppercase)
                && end - s > 1
            {
                // Lower-case words before a German noun are adjectives, often inflected
                // ("gleichen"): the noun alone is the concept.
                s += 1;
            }
        }
        let most = if joiners.is_empty() { 3 } else { 5 };
        // A long run ("trousseau de clés de l'archive fournies") keeps its head up to the
        // second joiner: "trousseau de clés".
        if end - s > most {
            let second_joiner = tokens[s..end]
                .iter()
                .enumerate()
                .filter(|(_, t)| joiners.contains(&t.lower.as_str()))
                .nth(1)
                .map(|(k, _)| s + k);
            if let Some(k) = second_joiner {
                end = k;
            }
            while end > s && joiners.contains(&tokens[end - 1].lower.as_str()) {
                end -= 1;
            }
        }
        if end > s
            && end - s <= most
            && !(s == 0
                && end == 1
                && language == "de"
                && tokens.len() > 1
                && is_probably_sentence_initial_non_noun(&tokens[0]))
        {
            phrases.push(make_phrase(tokens, s, end, None));
        }
        if verb_ended {
            i += 1;
        }
    }
    phrases
}

/// A French infinitive ("télécharger", "vérifier", "comprendre") or adverb ("simplement",
/// "automatiquement") by its ending: without a French tagger, the forms that most often pass
/// the stop words and end up in a phrase.
fn french_verb_or_adverb(lower: &str) -> bool {
    const ER_NOUNS: &[&str] = &[
        "fichier",
        "dossier",
        "papier",
        "clavier",
        "premier",
        "dernier",
        "entier",
        "quartier",
        "métier",
        "cahier",
        "calendrier",
        "courrier",
        "escalier",
        "palier",
        "sentier",
        "millier",
        "chantier",
        "particulier",
        "mer",
        "hiver",
        "fer",
        "enfer",
        "cancer",
        "laser",
        "cluster",
        "serveur",
        "server",
        "poster",
        "master",
        "filter",
        "parser",
        "docker",
        "router",
        "manager",
        "buffer",
        "header",
        "user",
        "super",
        "hier",
        "cher",
        "fier",
        "amer",
    ];
    const IR_NOUNS: &[&str] = &[
        "plaisir", "désir", "loisir", "avenir", "souvenir", "élixir", "saphir", "tir", "nadir",
    ];
    let long = lower.chars().count() > 4;
    let infinitive_er = lower.ends_with("er") && !ER_NOUNS.contains(&lower);
    let infinitive_ir =
        lower.ends_with("ir") && !lower.ends_with("oir") && !IR_NOUNS.contains(&lower);
    let infinitive_re = [
        "endre", "ondre", "indre", "ettre", "aître", "uire", "crire", "ivre",
    ]
    .iter()
    .any(|e| lower.ends_with(e))
        && !matches!(lower, "livre" | "cuivre" | "givre");
    let adverb = [
        "iquement", "lement", "ivement", "amment", "emment", "ctement", "ètement", "citement",
        "ément",
    ]
    .iter()
    .any(|e| lower.ends_with(e))
        && !matches!(
            lower,
            "élément" | "règlement" | "déroulement" | "renouvellement"
        );
    long && (infinitive_er || infinitive_ir || infinitive_re || adverb)
}

/// Whether a French word may follow a noun inside its phrase: an adjective or participle
/// ("dépôts individuels", "confirmation explicite", "procédures préétablies"), a name or an
/// identifier ("fichier Release", "paquets debsig-verify"). A conjugated verb ("exige",
/// "possède", "disposent") may not.
fn french_may_follow_noun(token: &Token) -> bool {
    let lower = token.lower.as_str();
    let capital = token.text.chars().next().is_some_and(char::is_uppercase);
    let identifier = token.text.contains(['-', '_', '.', '/']);
    let stem = lower.trim_end_matches('s');
    const ADJECTIVE_ENDINGS: &[&str] = &[
        "el", "elle", "al", "ale", "aux", "if", "ive", "ique", "eux", "euse", "aire", "ier",
        "ière", "ien", "ienne", "é", "ée", "i", "ie", "u", "ue", "it", "ite", "ant", "ante", "ent",
        "ente", "able", "ible", "eur", "eure", "in", "ine", "ais", "aise", "ois", "oise", "ain",
        "aine", "ile", "iste", "ome", "ide", "ble", "re", "nel", "nelle", "ral", "rale", "é", "x",
        "f", "l",
    ];
    capital
        || identifier
        || ADJECTIVE_ENDINGS.iter().any(|e| stem.ends_with(e))
            && !lower.ends_with("oie")
            // "-ent" is an adjective ("récent") unless it is a third-person plural ("disposent").
            && !(lower.ends_with("ent") && !lower.ends_with("ment") && lower.chars().count() > 6
                && !lower.ends_with("ient") && !lower.ends_with("dent"))
}

fn is_probably_sentence_initial_non_noun(token: &Token) -> bool {
    // Capitalised only because it starts the sentence: German verbs and adverbs end this way
    // often enough that a sentence-initial word alone is not trusted as a noun.
    let l = &token.lower;
    l.ends_with("en") && l.len() > 5 || l.ends_with("ig") || l.ends_with("lich")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn english(sentence: &str) -> Vec<String> {
        let mut tokens = tokenize(sentence, &BTreeSet::new());
        let np = tag(&mut tokens);
        english_phrases(&tokens, &np)
            .into_iter()
            .map(|p| p.text)
            .collect()
    }

    #[test]
    fn a_part_is_no_concept_without_what_it_is_part_of() {
        let phrases = english(
            "An exception handler cannot repair the cause of the error and retry the failing \
             operation (except by re-entering the offending piece of code from the top).",
        );
        assert!(!phrases.iter().any(|p| p.ends_with("piece")), "{phrases:?}");
        assert!(phrases.contains(&"code".to_string()), "{phrases:?}");
        // Not every head before "of" is a part: "the cause of the error" stays.
        assert!(phrases.contains(&"cause".to_string()), "{phrases:?}");
    }

    #[test]
    fn sentences_split_at_full_stops_not_abbreviations() {
        assert_eq!(
            sentences("Use a lock, e.g. a mutex. It protects data. Call os.path.join() first."),
            vec![
                "Use a lock, e.g. a mutex.",
                "It protects data.",
                "Call os.path.join() first."
            ]
        );
    }

    /// The words of a sentence as the tokenizer finds them.
    fn words(sentence: &str) -> Vec<String> {
        tokenize(sentence, &BTreeSet::new())
            .into_iter()
            .filter(|t| t.word)
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn identifiers_stay_whole() {
        let words = words("If deflate() returns Z_BUF_ERROR, pass --create to os.path.");
        assert_eq!(
            words,
            vec![
                "If",
                "deflate()",
                "returns",
                "Z_BUF_ERROR",
                "pass",
                "--create",
                "to",
                "os.path"
            ]
        );
        let tokens = tokenize(
            "If deflate() returns Z_BUF_ERROR, pass --create to os.path.",
            &BTreeSet::new(),
        );
        assert!(tokens.iter().filter(|t| t.api).count() >= 3);
    }

    #[test]
    fn noun_phrases_are_whole_and_end_on_nouns() {
        let phrases = english("Compute the day of the week for any date in the Julian calendar.");
        assert!(
            phrases.contains(&"day of the week".to_string()),
            "{phrases:?}"
        );
        assert!(
            phrases.contains(&"Julian calendar".to_string()),
            "{phrases:?}"
        );
        let phrases = english(
            "Python compiles source code to a language-independent virtual instruction set.",
        );
        assert!(
            phrases
                .iter()
                .any(|p| p.ends_with("virtual instruction set")),
            "{phrases:?}"
        );
        let phrases = english("The standard deviation is one of the measures of spread.");
        assert!(
            phrases.contains(&"standard deviation".to_string()),
            "{phrases:?}"
        );
        assert!(
            phrases.contains(&"measures of spread".to_string()),
            "{phrases:?}"
        );
    }

    fn french(sentence: &str) -> Vec<String> {
        let tokens = tokenize(sentence, &BTreeSet::new());
        let stop = crate::generator::source::language::stop_words("fr");
        stop_word_phrases(&tokens, &stop, "fr")
            .into_iter()
            .map(|p| p.text)
            .collect()
    }

    #[test]
    fn french_verbs_and_adverbs_end_a_phrase() {
        let phrases = french("Si une archive possède un fichier Release, apt exige la signature.");
        assert!(phrases.contains(&"archive".to_string()), "{phrases:?}");
        assert!(
            phrases.contains(&"fichier Release".to_string()),
            "{phrases:?}"
        );
        assert!(
            !phrases
                .iter()
                .any(|p| p.contains("possède") || p.contains("exige")),
            "{phrases:?}"
        );
        let phrases = french("Il faut télécharger automatiquement les dépôts individuels.");
        assert!(
            phrases.contains(&"dépôts individuels".to_string()),
            "{phrases:?}"
        );
        assert!(!phrases
            .iter()
            .any(|p| p.contains("télécharger") || p.contains("automatiquement")));
    }

    #[test]
    fn a_plural_in_a_clause_ends_on_its_verb() {
        assert_eq!(english("How volcanoes form"), vec!["volcanoes"]);
        assert_eq!(
            english("Pyroclastic flows are fast-moving currents."),
            vec!["Pyroclastic flows", "fast-moving currents"]
        );
        assert!(english("The instruction set.").contains(&"instruction set".to_string()));
    }

    #[test]
    fn a_dash_and_a_printf_conversion_are_no_words() {
        let sentence =
            "it is foolproof -- which is good, in %g directories if $dir_count is 0 and $PATH set";
        assert_eq!(
            words(sentence),
            [
                "it",
                "is",
                "foolproof",
                "which",
                "is",
                "good",
                "in",
                "directories",
                "if",
                "is",
                "0",
                "and",
                "PATH",
                "set"
            ]
        );
        let tokens = tokenize(sentence, &BTreeSet::new());
        assert!(tokens.iter().all(|t| !t.text.is_empty()));
        assert!(tokens.iter().all(|t| t.text != "dir_count" || !t.api));
    }
}
