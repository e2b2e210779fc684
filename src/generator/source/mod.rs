//! Reading a topic's source: clean input ([`markup`]), its language ([`language`]), its
//! sentences and noun phrases ([`phrases`]), and from those the ranked candidate concepts and an
//! independent reference of the terms the author marked (headings, emphasis, definitions).
//! Both the offline generator and the quality checks read a topic through here, so the checks
//! judge a blueprint against the text, not against the generator's own choices.

pub mod language;
pub mod markup;
pub mod phrases;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use crate::domain::Topic;
use markup::{Document, ParagraphKind};
use phrases::Phrase;

/// The most characters an evidence passage may have (the contract's limit).
pub const EVIDENCE_MAX_CHARS: usize = 300;

/// One sentence of the source's prose.
#[derive(Debug, Clone)]
pub struct Sentence {
    /// As written (markup removed).
    pub text: String,
    pub section: usize,
    pub kind: ParagraphKind,
    /// Position of its paragraph in the whole text (for "the same passage").
    pub paragraph: usize,
    /// The noun phrases found in it.
    pub phrases: Vec<Phrase>,
    /// The lower-case words, for cue-word matching.
    pub words: Vec<String>,
    /// The same words as concept keys (plurals folded, an article empty), computed once:
    /// the checks look up every concept an objective names in every sentence.
    pub word_keys: Vec<String>,
    /// The reference entry (a man page's option) this sentence opens the description of.
    pub entry: Vec<String>,
}

/// A candidate concept: a noun phrase of the prose with what the text does with it.
#[derive(Debug, Clone)]
pub struct Concept {
    /// As it reads inside an English sentence ("day of the week", "Julian calendar", "Lock").
    pub name: String,
    pub key: String,
    pub api: bool,
    /// The determiner the text most often writes before it ("the", "a"), or none.
    pub determiner: Option<String>,
    /// Indexes of the sentences it occurs in, in order.
    pub sentences: Vec<usize>,
    pub sections: BTreeSet<usize>,
    pub in_heading: bool,
    pub marked: bool,
    pub in_title: bool,
    /// The sentence that defines it ("A caldera is a ..."), when there is one.
    pub definition: Option<usize>,
    pub score: f64,
}

/// Everything the generator and the checks know about a topic's text.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// ISO 639-1 code of the source (of the title and description when there is none).
    pub language: &'static str,
    pub has_source: bool,
    pub document: Document,
    pub sentences: Vec<Sentence>,
    /// Ranked, best first.
    pub concepts: Vec<Concept>,
    /// Terms the author marked as important, found independently of the ranking: section
    /// headings, emphasised and defined terms, API names the prose discusses. Keys.
    pub reference: Vec<String>,
    /// Length of the source's prose, in characters.
    pub prose_chars: usize,
    /// The prose in lower case, for "does the source say it this way".
    pub prose_lower: String,
    /// Keys of the title's phrases: the whole topic, the context of every objective.
    pub title_keys: Vec<String>,
    /// [`Analysis::source_words`], worked out on first use.
    source_words: OnceLock<BTreeSet<String>>,
}

impl Analysis {
    /// The source's own spellings an objective may copy: API names, and the words of its
    /// prose that harper's dictionary does not know or knows only capitalised.
    pub fn source_words(&self) -> &BTreeSet<String> {
        self.source_words.get_or_init(|| {
            use harper_core::spell::Dictionary;
            let dictionary = harper_core::spell::FstDictionary::curated();
            let written: BTreeSet<&str> = self
                .sentences
                .iter()
                .flat_map(|s| &s.phrases)
                .flat_map(|p| p.text.split_whitespace())
                .collect();
            let mut words: BTreeSet<String> = self.document.api_names.clone();
            for word in written {
                let chars: Vec<char> = word.chars().collect();
                if word.contains(['-', '.', '_']) || !dictionary.contains_exact_word(&chars) {
                    words.insert(word.to_string());
                }
            }
            words
        })
    }

    /// Whether a concept key is (part of) the title: the topic itself, context not content.
    pub fn is_title_part(&self, key: &str) -> bool {
        self.title_keys
            .iter()
            .any(|t| t == key || contains_phrase(t, key))
    }

    pub fn concept(&self, key: &str) -> Option<&Concept> {
        self.concepts.iter().find(|c| c.key == key)
    }

    /// Whether two concepts occur in one sentence of the source.
    pub fn co_occur(&self, a: &str, b: &str) -> Option<usize> {
        self.sentences.iter().position(|s| {
            s.phrases.iter().any(|p| p.key == a) && s.phrases.iter().any(|p| p.key == b)
        })
    }

    /// The sentence that best supports a piece of text: the one sharing most content words
    /// with it, the earliest among equals. `None` without source text.
    pub fn best_passage(&self, text: &str) -> Option<usize> {
        if !self.has_source || self.sentences.is_empty() {
            return None;
        }
        let wanted: BTreeSet<String> = crate::generator::text::content_tokens(text)
            .into_iter()
            .collect();
        let mut best = (0usize, 0usize);
        for (i, sentence) in self.sentences.iter().enumerate() {
            let shared = wanted
                .iter()
                .filter(|w| sentence.word_keys.contains(w))
                .count();
            if shared > best.1 {
                best = (i, shared);
            }
        }
        Some(best.0)
    }

    /// A sentence as evidence: at most [`EVIDENCE_MAX_CHARS`], cut at a word with "…".
    pub fn evidence(&self, sentence: usize) -> Option<String> {
        self.sentences.get(sentence).map(|s| clip_evidence(&s.text))
    }
}

/// Gives every objective of a terminal objective that has no evidence the source sentence
/// that best supports it (a model's objectives come without one). Without source text,
/// evidence stays empty, as the contract says.
pub fn ground(analysis: &Analysis, terminal: &mut crate::domain::TerminalDraft) {
    for objective in std::iter::once(&mut terminal.objective).chain(terminal.enabling.iter_mut()) {
        if objective.evidence.is_none() {
            objective.evidence = analysis
                .best_passage(&objective.text)
                .and_then(|s| analysis.evidence(s));
        }
    }
}

/// Cuts a passage to the contract's 300 characters at a word boundary.
pub fn clip_evidence(text: &str) -> String {
    if text.chars().count() <= EVIDENCE_MAX_CHARS {
        return text.to_string();
    }
    let mut out = String::new();
    for word in text.split_whitespace() {
        if out.chars().count() + word.chars().count() + 2 > EVIDENCE_MAX_CHARS {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.push('…');
    out
}

/// Headings that name a part of any document, not a concept of this one.
const GENERIC_HEADINGS: &[&str] = &[
    "description",
    "terminology",
    "glossary",
    "definitions",
    "key terms",
    "vocabulary",
    "options",
    "introduction",
    "overview",
    "summary",
    "examples",
    "example",
    "notes",
    "note",
    "usage",
    "installation",
    "install",
    "license",
    "licence",
    "name",
    "synopsis",
    "contents",
    "table of contents",
    "background",
    "conclusion",
    "references",
    "see also",
    "features",
    "getting started",
    "quick start",
    "quickstart",
    "contributing",
    "changelog",
    "faq",
    "bugs",
    "history",
    "environment",
    "files",
    "exit status",
    "return value",
    "author",
    "beschreibung",
    "optionen",
    "beispiele",
    "hinweise",
    "exemples",
    "exemple",
    "remarques",
    "introducción",
    "ejemplos",
    "classes",
    "functions",
    "data",
    "methods",
    "diagnostics",
    "requirements",
    "motivation",
    "goals",
    "status",
    "documentation",
    "api",
    "tests",
    "testing",
    "vocabulary",
    "glossary",
    "activities",
    "exercises",
    "questions",
    "vocabulario",
    "actividades",
    "ejercicios",
    "preguntas",
    "vocabulaire",
    "exercices",
    "activités",
    "übungen",
    "aufgaben",
    "wortschatz",
    "traducteurs",
    "traduction",
    "übersetzung",
    "autoren",
    "auteurs",
    "licence",
    "lizenz",
    "licencia",
    "highlights",
    "key features",
    "news",
    "about",
    "links",
    "support",
    "credits",
    "acknowledgements",
    "acknowledgments",
    "prerequisites",
    "dependencies",
    "recent changes",
    "release notes",
    "getting help",
    "lookout",
    "causes",
    "effects",
    "consequences",
    "results",
    "outcomes",
    "legacy",
    "aftermath",
    "origins",
    "timeline",
    "key events",
    "key terms",
    "definitions",
    "properties",
    "advantages",
    "disadvantages",
    "limitations",
    "applications",
];

/// Words that make a phrase about the document rather than its subject.
const META_WORDS: &[&str] = &[
    "sheet",
    "handout",
    "worksheet",
    "revision",
    "lecture",
    "apuntes",
    "tema",
    "chapter",
    "encyclopedia",
    "manual",
    "readme",
    "page",
    "vocabulario",
    "actividades",
    "thumb",
];

/// Words that alone name how software is packaged, documented or measured, not what it
/// teaches: "Compare crate with regex", "Use APIs objects", "regex and milliseconds". In a
/// phrase they may be a term ("crate features", "public API").
const LONE_META_WORDS: &[&str] = &[
    "crate",
    "crates",
    "api",
    "apis",
    "library",
    "libraries",
    "package",
    "packages",
    "project",
    "documentation",
    "docs",
    "repository",
    "bytes",
    "kilobytes",
    "megabytes",
    "milliseconds",
    "seconds",
    "microseconds",
    "nanoseconds",
];

/// How many recently read topics [`analyse_shared`] keeps.
const RECENT_READS: usize = 8;

/// A topic's text as read, with the text it was read from.
struct RecentRead {
    title: String,
    description: Option<String>,
    source_text: Option<String>,
    analysis: Arc<Analysis>,
}

static RECENT: LazyLock<Mutex<VecDeque<RecentRead>>> = LazyLock::new(Mutex::default);

/// [`analyse`], shared by the steps of one generation: a job plans a blueprint and then scores
/// it against the same text, and reading the text is most of a generation's work. Keyed by the
/// text itself, so an edited topic is read anew.
pub fn analyse_shared(topic: &Topic) -> Arc<Analysis> {
    let same = |r: &RecentRead| {
        r.title == topic.title
            && r.description == topic.description
            && r.source_text == topic.source_text
    };
    let recent = || {
        RECENT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    if let Some(hit) = recent().iter().find(|r| same(r)) {
        return hit.analysis.clone();
    }
    let analysis = Arc::new(analyse(topic));
    let mut reads = recent();
    if !reads.iter().any(same) {
        reads.push_front(RecentRead {
            title: topic.title.clone(),
            description: topic.description.clone(),
            source_text: topic.source_text.clone(),
            analysis: analysis.clone(),
        });
        reads.truncate(RECENT_READS);
    }
    analysis
}

/// Reads a topic: its source text when it has one, else its title and description.
pub fn analyse(topic: &Topic) -> Analysis {
    let source = topic
        .source_text
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let has_source = source.is_some();
    let mut document = markup::parse(source.unwrap_or(""));
    let introduced = introduced_terms(&document);
    document.marked_terms.extend(introduced);
    let mut sentences = Vec::new();
    let mut paragraph_index = 0;
    let mut prose = String::new();
    for (section_index, section) in document.sections.iter().enumerate() {
        for paragraph in &section.paragraphs {
            for (n, sentence) in phrases::sentences(&paragraph.text).into_iter().enumerate() {
                prose.push_str(&sentence);
                prose.push(' ');
                sentences.push(Sentence {
                    text: sentence,
                    section: section_index,
                    kind: paragraph.kind,
                    paragraph: paragraph_index,
                    phrases: Vec::new(),
                    words: Vec::new(),
                    word_keys: Vec::new(),
                    entry: if n == 0 {
                        paragraph.entry.clone()
                    } else {
                        Vec::new()
                    },
                });
            }
            paragraph_index += 1;
        }
    }
    let title_and_description = format!(
        "{}. {}",
        topic.title.trim(),
        topic.description.as_deref().unwrap_or("").trim()
    );
    let language = if has_source && prose.split_whitespace().count() >= 12 {
        language::detect(&prose)
    } else {
        language::detect(&title_and_description)
    };
    let stop = language::stop_words(language);
    let author_terms = author_terms(&document, &stop);
    for sentence in &mut sentences {
        let (mut found, words) = phrases_of(&sentence.text, &document.api_names, language, &stop);
        let lower = sentence.text.to_lowercase();
        phrases::add_author_terms(
            &sentence.text,
            &lower,
            &mut found,
            &author_terms,
            &document.api_names,
        );
        sentence.phrases = found;
        sentence.word_keys = words
            .iter()
            .map(|w| phrases::phrase_key(std::iter::once(w.as_str())))
            .collect();
        sentence.words = words;
    }
    let (title_phrases, _) = phrases_of(&topic.title, &document.api_names, language, &stop);
    let (description_phrases, _) = phrases_of(
        topic.description.as_deref().unwrap_or(""),
        &document.api_names,
        language,
        &stop,
    );
    let headings: Vec<&str> = document
        .sections
        .iter()
        .filter_map(|s| s.heading.as_deref())
        .collect();
    let prose_lower = format!("{} {}", prose, headings.join(" ")).to_lowercase();
    let mut analysis = Analysis {
        language,
        has_source,
        document,
        sentences,
        concepts: Vec::new(),
        reference: Vec::new(),
        prose_chars: prose.chars().count(),
        prose_lower,
        // The whole title too: objectives on a non-English source quote it whole.
        title_keys: title_phrases
            .iter()
            .map(|p| p.key.clone())
            .chain(std::iter::once(phrases::phrase_key(
                topic.title.split_whitespace(),
            )))
            .collect(),
        source_words: OnceLock::new(),
    };
    analysis.concepts = rank_concepts(&analysis, &title_phrases, &description_phrases, &stop);
    analysis.reference = reference_terms(&analysis, &stop);
    analysis
}

/// Terms the prose introduces in its own way, even without markup: a name with its
/// acronym after it ("Volcanic Explosivity Index (VEI)", "interquartile range (IQR)") and a
/// short phrase set in quotes ("the \"Year Without a Summer\""). As written.
fn introduced_terms(document: &Document) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for paragraph in document.sections.iter().flat_map(|s| &s.paragraphs) {
        let text = paragraph.text.as_str();
        // "... Explosivity Index (VEI)": the words before it whose initials spell it.
        for (at, _) in text.match_indices('(') {
            let Some(close) = text[at..].find(')') else {
                continue;
            };
            let acronym = &text[at + 1..at + close];
            let letters = acronym.chars().count();
            if !(2..=6).contains(&letters) || !acronym.chars().all(|c| c.is_ascii_uppercase()) {
                continue;
            }
            let before: Vec<&str> = text[..at].split_whitespace().collect();
            // Joining words ("of", "and") may stand between the spelled ones.
            let mut words: Vec<&str> = Vec::new();
            let mut wanted = acronym.chars().rev().peekable();
            for word in before.iter().rev() {
                let Some(initial) = word.chars().next() else {
                    break;
                };
                match wanted.peek() {
                    Some(w) if initial.to_ascii_uppercase() == *w => {
                        wanted.next();
                        words.push(word);
                    }
                    Some(_)
                        if matches!(*word, "of" | "and" | "for" | "the") && !words.is_empty() =>
                    {
                        words.push(word);
                    }
                    _ => break,
                }
                if wanted.peek().is_none() {
                    break;
                }
            }
            if wanted.peek().is_none() && words.len() >= 2 {
                words.reverse();
                let term = words
                    .join(" ")
                    .trim_matches(|c: char| !c.is_alphanumeric())
                    .to_string();
                found.push(term);
            }
        }
        // A short phrase in quotes, capitalised or not, of two to five words, that names
        // something: not a quoted message ("I searched 0 directories") or a fragment of one
        // ("in any directories").
        for (i, part) in text.split(['"', '“', '”']).enumerate() {
            let words = part.split_whitespace().count();
            let first = part.split_whitespace().next().unwrap_or("");
            let fragment = matches!(
                first,
                "I" | "you"
                    | "we"
                    | "in"
                    | "on"
                    | "at"
                    | "of"
                    | "to"
                    | "for"
                    | "with"
                    | "by"
                    | "from"
                    | "and"
                    | "or"
            );
            if i % 2 == 1
                && (2..=5).contains(&words)
                && part
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == ' ' || c == '-')
                && !fragment
                && !phrases::has_verb(part)
            {
                found.push(part.trim().to_string());
            }
        }
    }
    found
}

/// The author's own terms: what it marks (bold, emphasis, definition-list terms) and the
/// headings that are a noun phrase ("Measures of spread"; not "How volcanoes form"), at most
/// five words each.
fn author_terms(document: &Document, stop: &BTreeSet<String>) -> Vec<phrases::AuthorTerm> {
    let headings = document.sections.iter().filter_map(|s| {
        let heading = s.heading.as_deref()?;
        let words: Vec<&str> = heading
            .split_whitespace()
            .skip_while(|w| w.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .collect();
        // "Check yourself", "Test yourself": an exercise, not a term.
        let reflexive = words
            .last()
            .is_some_and(|w| w.to_lowercase().ends_with("self") || w.ends_with("selves"));
        let plain = words.len() <= 4
            && !reflexive
            && words.iter().all(|w| {
                let lower = w.to_lowercase();
                lower == "of"
                    || !stop.contains(&lower)
                        && !crate::generator::text::is_stop_word(&lower)
                        && w.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let joined = words.join(" ");
        (plain && !GENERIC_HEADINGS.contains(&joined.to_lowercase().as_str())).then_some(joined)
    });
    let mut seen = BTreeSet::new();
    document
        .marked_terms
        .iter()
        .filter(|t| t.split_whitespace().count() <= 5)
        .cloned()
        .chain(headings)
        .filter_map(|t| phrases::AuthorTerm::new(&t, &document.api_names))
        .filter(|t| t.words.len() >= 2 && seen.insert(t.key.clone()))
        .collect()
}

fn phrases_of(
    text: &str,
    api_names: &BTreeSet<String>,
    language: &str,
    stop: &BTreeSet<String>,
) -> (Vec<Phrase>, Vec<String>) {
    let mut tokens = phrases::tokenize(text, api_names);
    let words = tokens
        .iter()
        .filter(|t| t.word)
        .map(|t| t.lower.clone())
        .collect();
    let found = if language == "en" {
        let np = phrases::tag(&mut tokens);
        phrases::english_phrases(&tokens, &np)
    } else {
        phrases::stop_word_phrases(&tokens, stop, language)
    };
    (found, words)
}

/// Whether a phrase may be a concept at all: not a function word, not generic, not a number,
/// not boilerplate.
pub fn is_concept_phrase(key: &str, text: &str, api: bool, stop: &BTreeSet<String>) -> bool {
    let words: Vec<&str> = key.split(' ').filter(|w| !w.is_empty()).collect();
    if api {
        // Placeholder names ("foo.gz", "bar()") stand for any name, not for a concept.
        let placeholder = ["foo", "bar", "baz", "example", "xyz"]
            .iter()
            .any(|p| text.to_lowercase().contains(p));
        return text.chars().filter(|c| c.is_alphabetic()).count() >= 2
            && !placeholder
            && !LONE_META_WORDS.contains(&text.to_lowercase().as_str())
            && !matches!(
                text,
                "self" | "cls" | "args" | "kwargs" | "None" | "True" | "False"
            );
    }
    // Contractions of function words ("that's", "it's") are no nouns.
    if words.iter().any(|w| {
        w.split(['\'', '’']).next().is_some_and(|base| {
            (w.contains('\'') || w.contains('’'))
                && (crate::generator::text::is_stop_word(base)
                    || stop.contains(base)
                    || base.len() <= 2)
        })
    }) {
        return false;
    }
    let Some(head) = words.last() else {
        return false;
    };
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    // A generic head needs a modifier that says something: "interquartile range" is a
    // concept, "first step" and "range" are not.
    let generic_head = phrases::is_generic_head(head)
        && words[..words.len() - 1].iter().all(|w| {
            phrases::is_generic_modifier(w)
                || phrases::ORDINALS.contains(w)
                || w.chars().all(|c| c.is_ascii_digit())
                || *w == "of"
        });
    // Short lower-case words ("sep", "irc") are abbreviations or fragments, not concepts;
    // short acronyms in capitals ("DNA", "SI") are.
    let short_fragment = words.len() == 1
        && text.chars().count() <= 3
        && !text.chars().all(|c| c.is_uppercase() || c.is_ascii_digit());
    let meta = words.iter().any(|w| META_WORDS.contains(w))
        || words.len() == 1 && LONE_META_WORDS.contains(&text.to_lowercase().as_str());
    // Words in capitals beside others ("ZEXTERN int ZEXPORT", "SATURDAY value") are macros
    // and constants of code the prose quotes, not a concept named in words.
    // Acronyms ("HTTP request", "ASCII characters") stay.
    const C_KEYWORDS: &[&str] = &[
        "int", "void", "char", "unsigned", "const", "extern", "struct", "typedef", "long",
    ];
    let shouted = text.split(' ').count() > 1
        && text.split(' ').any(|w| {
            w.chars().filter(|c| c.is_alphabetic()).count() >= 4
                && w.chars().all(|c| c.is_uppercase() || !c.is_alphabetic())
                && (is_dictionary_word(&w.to_lowercase())
                    || text.split(' ').any(|k| C_KEYWORDS.contains(&k)))
        });
    letters >= 3
        && !meta
        && !shouted
        && !short_fragment
        && !generic_head
        && !phrases::is_generic_head(&text.to_lowercase())
        && !words
            .iter()
            .all(|w| stop.contains(*w) || crate::generator::text::is_stop_word(w))
        && !crate::generator::text::is_stop_word(head)
        && !stop.contains(*head)
        // "version 1.5", "step 2": a number names an instance, not a concept.
        && !head.chars().any(|c| c.is_ascii_digit())
        && !text.contains("://")
}

struct Tally {
    forms: BTreeMap<String, usize>,
    determiners: BTreeMap<String, usize>,
    sentences: Vec<usize>,
    sections: BTreeSet<usize>,
    api: bool,
    starts: usize,
    lower_case_seen: bool,
}

fn rank_concepts(
    analysis: &Analysis,
    title: &[Phrase],
    description: &[Phrase],
    stop: &BTreeSet<String>,
) -> Vec<Concept> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let author_terms = author_terms(&analysis.document, stop);
    fn add(
        tallies: &mut BTreeMap<String, Tally>,
        phrase: &Phrase,
        sentence: Option<(usize, usize)>,
    ) {
        let tally = tallies.entry(phrase.key.clone()).or_insert_with(|| Tally {
            forms: BTreeMap::new(),
            determiners: BTreeMap::new(),
            sentences: Vec::new(),
            sections: BTreeSet::new(),
            api: phrase.api,
            starts: 0,
            lower_case_seen: false,
        });
        *tally.forms.entry(phrase.text.clone()).or_default() += 1;
        *tally
            .determiners
            .entry(phrase.determiner.clone().unwrap_or_default())
            .or_default() += 1;
        if phrase.at_start {
            tally.starts += 1;
        } else if phrase.text.chars().next().is_some_and(char::is_lowercase) {
            tally.lower_case_seen = true;
        }
        if let Some((index, section)) = sentence {
            if tally.sentences.last() != Some(&index) {
                tally.sentences.push(index);
            }
            tally.sections.insert(section);
        }
    }
    for (index, sentence) in analysis.sentences.iter().enumerate() {
        for phrase in &sentence.phrases {
            add(&mut tallies, phrase, Some((index, sentence.section)));
        }
    }
    // A heading names what its section is about even where the prose never repeats it
    // ("Measures of spread"): its phrases occur once, at the section's first sentence.
    for (index, section) in analysis.document.sections.iter().enumerate() {
        let Some(heading) = section.heading.as_deref() else {
            continue;
        };
        let Some(first) = analysis.sentences.iter().position(|s| s.section == index) else {
            continue;
        };
        if GENERIC_HEADINGS.contains(&heading.trim().to_lowercase().as_str()) {
            continue;
        }
        let (mut found, _) = phrases_of(
            heading,
            &analysis.document.api_names,
            analysis.language,
            stop,
        );
        phrases::add_author_terms(
            heading,
            &heading.to_lowercase(),
            &mut found,
            &author_terms,
            &analysis.document.api_names,
        );
        for phrase in maximal(found) {
            if !tallies
                .get(&phrase.key)
                .is_some_and(|t| t.sentences.contains(&first))
            {
                add(&mut tallies, &phrase, Some((first, index)));
            }
        }
    }
    // German plurals ("Zeichenketten", "Versionsnummern") are the singular's concept: the
    // shared word list knows only English endings.
    if analysis.language == "de" {
        let keys: Vec<String> = tallies
            .keys()
            .filter(|k| !k.contains(' '))
            .cloned()
            .collect();
        for singular in &keys {
            for ending in ["n", "en", "e", "er", "s"] {
                let plural = format!("{singular}{ending}");
                if singular.chars().count() < 4 || !tallies.contains_key(singular) {
                    continue;
                }
                let Some(merged) = tallies.remove(&plural) else {
                    continue;
                };
                if let Some(tally) = tallies.get_mut(singular) {
                    for (form, n) in merged.forms {
                        *tally.forms.entry(form).or_default() += n;
                    }
                    for (determiner, n) in merged.determiners {
                        *tally.determiners.entry(determiner).or_default() += n;
                    }
                    tally.sentences.extend(merged.sentences);
                    tally.sentences.sort_unstable();
                    tally.sentences.dedup();
                    tally.sections.extend(merged.sections);
                    tally.starts += merged.starts;
                    tally.lower_case_seen |= merged.lower_case_seen;
                }
            }
        }
    }
    // Where a concept occurs inside a longer phrase ("signature" in "vérification de
    // signature", "CRC" in "32-bit CRC"): the text keeps coming back to it even where it never
    // stands alone, which counts, at half weight, towards its score.
    let mut inside: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (index, sentence) in analysis.sentences.iter().enumerate() {
        for phrase in sentence.phrases.iter().filter(|p| p.key.contains(' ')) {
            for word in phrase.key.split(' ').filter(|w| *w != "of") {
                if tallies.contains_key(word) {
                    inside.entry(word.to_string()).or_default().insert(index);
                }
            }
        }
    }
    let in_text: BTreeSet<String> = tallies.keys().cloned().collect();
    for phrase in title.iter().chain(description) {
        if !analysis.has_source || in_text.contains(&phrase.key) {
            add(&mut tallies, phrase, None);
        }
    }
    let title_keys: BTreeSet<&str> = title.iter().map(|p| p.key.as_str()).collect();
    let description_keys: BTreeSet<&str> = description.iter().map(|p| p.key.as_str()).collect();
    // A concept is "in a heading" when it is the heading or one of its whole phrases:
    // "measures of centre" is, "centre" is not.
    let headings: Vec<String> = analysis
        .document
        .sections
        .iter()
        .filter_map(|s| s.heading.as_deref())
        .flat_map(|h| {
            let (mut found, _) =
                phrases_of(h, &analysis.document.api_names, analysis.language, stop);
            phrases::add_author_terms(
                h,
                &h.to_lowercase(),
                &mut found,
                &author_terms,
                &analysis.document.api_names,
            );
            // "2. Measures of spread": the number is the heading's, not the concept's.
            let unnumbered = h
                .split_whitespace()
                .skip_while(|w| w.chars().all(|c| c.is_ascii_digit() || c == '.'));
            std::iter::once(phrases::phrase_key(unnumbered))
                .chain(maximal(found).into_iter().map(|p| p.key))
                .collect::<Vec<_>>()
        })
        .collect();
    let marked: BTreeSet<String> = analysis
        .document
        .marked_terms
        .iter()
        .map(|t| phrases::phrase_key(t.split_whitespace()))
        .collect();
    let title_stems: BTreeSet<String> = title
        .iter()
        .flat_map(|p| p.key.split(' '))
        .filter(|w| *w != "of")
        .map(word_stem)
        .collect();
    let total_sentences = analysis.sentences.len().max(1) as f64;
    let mut concepts: Vec<Concept> = Vec::new();
    for (key, tally) in &tallies {
        let name = shown_form(tally, analysis.language);
        // A phrase the author marks or heads a section with is a term even where its head
        // is a word that alone is no concept ("base units", "derived units").
        let authors_term = key.contains(' ')
            && (marked.contains(key) || headings.iter().any(|h| h == key))
            && key.split(' ').any(|w| {
                w != "of" && !stop.contains(w) && !crate::generator::text::is_stop_word(w)
            })
            && !key.chars().any(|c| c.is_ascii_digit())
            && !key.split(' ').any(|w| META_WORDS.contains(&w));
        if !is_concept_phrase(key, &name, tally.api, stop) && !authors_term {
            continue;
        }
        let count = tally.sentences.len();
        // A variable of the text's code ("strm", "buf") named in its prose is code, not a
        // concept.
        if !tally.api
            && !key.contains(' ')
            && analysis.document.code_identifiers.contains(&name)
            && !is_dictionary_word(&name)
        {
            continue;
        }
        // German capitalises every noun: a single word seen capitalised only where a sentence
        // starts is another part of speech ("Normalerweise").
        if analysis.language == "de"
            && !key.contains(' ')
            && tally.starts > 0
            && tally.starts == tally.forms.values().sum::<usize>()
        {
            continue;
        }
        // In other languages (whose objectives quote the term), an everyday word alone is no
        // concept: "exemple", "Teile", "falls".
        if analysis.language != "en"
            && !key.contains(' ')
            && !tally.api
            && is_common_word(analysis.language, &name)
        {
            continue;
        }
        // A French phrase that ends on a past participle is a clause cut short ("informations
        // contenues"), not a term.
        if analysis.language == "fr"
            && key.contains(' ')
            && name.rsplit(' ').next().is_some_and(|last| {
                ["ée", "ées", "és", "ues", "ue", "us"]
                    .iter()
                    .any(|end| last.ends_with(end))
                    && last.chars().count() > 4
            })
        {
            continue;
        }
        let in_heading = headings.iter().any(|h| h == key);
        let is_marked = marked.contains(key);
        let in_title = title_keys.contains(key.as_str());
        let in_description = description_keys.contains(key.as_str());
        let definition = tally
            .sentences
            .iter()
            .copied()
            .find(|&s| defines(&analysis.sentences[s], key))
            .or_else(|| {
                // A run-in term standing alone ("Evaporación.") is defined by what follows.
                tally
                    .sentences
                    .iter()
                    .copied()
                    .find(|&s| {
                        let sentence = &analysis.sentences[s];
                        sentence.phrases.len() == 1
                            && sentence.phrases[0].key == *key
                            && sentence.words.len() <= 4
                            && analysis
                                .sentences
                                .get(s + 1)
                                .is_some_and(|n| n.paragraph == sentence.paragraph)
                    })
                    .map(|s| s + 1)
            });
        // A section headed by the concept ("Hazards", "Configuration utilisateur") is not its
        // definition: teachers read "Define hazards" resting on the section's first sentence
        // as a misreading.
        if analysis.has_source && count == 0 {
            continue;
        }
        // One mention is enough only when the author stressed it or the text is short.
        let stressed = in_heading || is_marked || definition.is_some() || in_title;
        // One mention of an everyday word is noise; one mention of a technical term
        // ("subduction zone", "viscosity") is often the very thing the text teaches.
        let technical = key.contains(' ') || tally.api || !is_common_english(key);
        if analysis.has_source
            && count < 2
            && !stressed
            && !technical
            && analysis.sentences.len() > 25
        {
            continue;
        }
        let words = key.split(' ').count();
        let mut score: f64 = tally
            .sentences
            .iter()
            .map(|&s| match analysis.sentences[s].kind {
                ParagraphKind::Prose => 1.0,
                ParagraphKind::ListItem { .. } => 0.9,
                ParagraphKind::TableRow => 0.5,
            })
            .sum();
        if let Some(within) = inside.get(key) {
            let own: BTreeSet<usize> = tally.sentences.iter().copied().collect();
            score += 0.5 * within.difference(&own).count() as f64;
        }
        // Mentions count with diminishing returns: a term the text introduces once and
        // stresses can outrank a word it merely repeats.
        score = 1.0 + 2.0 * (1.0 + score).ln();
        // Specificity (YAKE's insight, with harper's dictionary for a corpus): every word
        // that is not everyday English makes the phrase more a term of the field.
        if analysis.language == "en" && !tally.api {
            let rare = key
                .split(' ')
                .filter(|w| *w != "of" && !is_common_english(w))
                .count();
            score *= 1.0 + 0.4 * rare.min(2) as f64;
        }
        if in_heading {
            score += 3.0;
        }
        if is_marked {
            score += 2.0;
        }
        if definition.is_some() {
            score += 3.0;
        }
        if in_title {
            score += 4.0;
        }
        if in_description {
            score += 1.5;
        }
        score *= 1.0 + 0.5 * (tally.sections.len().max(1) as f64).ln();
        score *= match words {
            1 if !tally.api && is_common_english(key) => 0.35,
            1 => 1.0,
            2 => 1.35,
            3 => 1.25,
            _ => 1.0,
        };
        if let Some(first) = tally.sentences.first() {
            score *= 1.0 + 0.3 * (1.0 - *first as f64 / total_sentences);
        }
        // One word of a longer title ("compressing", "files" of "Compressing files with
        // gzip") is the topic itself, which every objective already has as its context.
        // (A German title word carries its plural ending: "Debian-Paketen".)
        let stem = word_stem(key);
        let title_word = title_stems
            .iter()
            .any(|t| *t == stem || t.starts_with(key.as_str()) && t.len() - key.len() <= 2);
        if !tally.api
            && words == 1
            && !is_marked
            && definition.is_none()
            && title_stems.len() >= 2
            && title_word
        {
            score *= 0.4;
        }
        let determiner = tally
            .determiners
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(d, _)| d.clone())
            .filter(|d| !d.is_empty());
        concepts.push(Concept {
            name,
            key: key.clone(),
            api: tally.api,
            determiner,
            sentences: tally.sentences.clone(),
            sections: tally.sections.clone(),
            in_heading,
            marked: is_marked,
            in_title,
            definition,
            score,
        });
    }
    absorb_subphrases(&mut concepts);
    concepts.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.key.cmp(&b.key)));
    concepts
}

/// A word without its inflection or "-ion"/"-ing" ending, so that "compressing",
/// "compression" and "compressed" meet: good enough to compare a word with the title's.
fn word_stem(word: &str) -> String {
    let lower = word.to_lowercase();
    for ending in ["ions", "ing", "ion", "ed", "es", "s"] {
        if let Some(stem) = lower.strip_suffix(ending) {
            if stem.chars().count() >= 4 {
                return stem.to_string();
            }
        }
    }
    lower
}

/// A phrase that occurs mostly inside a longer one ("week" inside "day of the week") is not
/// a concept of its own; a longer phrase met once beside a frequent shorter one gives way.
fn absorb_subphrases(concepts: &mut Vec<Concept>) {
    // For every phrase, each shorter run of its words points back at it: the most frequent
    // longer phrase containing it, and whether any such phrase is stressed. Linear in the
    // number of phrases (a phrase has at most 21 runs of words).
    let mut longer: BTreeMap<String, (usize, bool)> = BTreeMap::new();
    for c in concepts.iter() {
        let words: Vec<&str> = c.key.split(' ').collect();
        let stressed = c.in_heading || c.marked || c.definition.is_some();
        for len in 1..words.len() {
            for start in 0..=words.len() - len {
                let sub = words[start..start + len].join(" ");
                let entry = longer.entry(sub).or_insert((0, false));
                entry.0 = entry.0.max(c.sentences.len());
                entry.1 |= stressed;
            }
        }
    }
    // `own` counts only the sentences where the shorter phrase stands alone.
    concepts.retain(|c| {
        let Some(&(count, stressed)) = longer.get(&c.key) else {
            return true;
        };
        let own = c.sentences.len();
        let stressed_itself = c.in_heading || c.marked || c.definition.is_some();
        let everyday = !c.key.contains(' ') && !c.api && is_common_english(&c.key);
        !(!stressed_itself && (own < 2 && count >= 2 || own * 3 < count)
            // "week" inside "day of the week", which the author stresses.
            || everyday && (stressed || count * 2 >= own))
    });
}

/// The phrases not inside another of the same text: "measures of centre", not "centre".
fn maximal(found: Vec<Phrase>) -> Vec<Phrase> {
    let keys: Vec<String> = found.iter().map(|p| p.key.clone()).collect();
    found
        .into_iter()
        .filter(|p| !keys.iter().any(|k| contains_phrase(k, &p.key)))
        .collect()
}

/// Whether `outer` contains `inner` as whole words.
pub fn contains_phrase(outer: &str, inner: &str) -> bool {
    if outer == inner || inner.is_empty() || inner.starts_with(' ') || inner.ends_with(' ') {
        // (The word-boundary search below assumes a trimmed phrase.)
        return outer != inner && format!(" {outer} ").contains(&format!(" {inner} "));
    }
    // Without allocating: the checks call this for every phrase of every sentence.
    // Every match, overlapping ones too ("a a" in "ba a a": the first is inside a word).
    let bytes = outer.as_bytes();
    let step = inner.chars().next().map_or(1, char::len_utf8);
    let mut from = 0;
    while let Some(found) = outer[from..].find(inner) {
        let at = from + found;
        let end = at + inner.len();
        if (at == 0 || bytes[at - 1] == b' ') && (end == bytes.len() || bytes[end] == b' ') {
            return true;
        }
        from = at + step;
    }
    false
}

/// The form a concept is shown in: the most frequent, in lower case unless the text writes
/// it capitalised even mid-sentence (a name, an acronym, an API).
fn shown_form(tally: &Tally, language: &str) -> String {
    let form = tally
        .forms
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(f, _)| f.clone())
        .unwrap_or_default();
    if tally.api || tally.lower_case_seen {
        // Prefer a lower-case form when the text also writes one.
        if !tally.api {
            if let Some((lower, _)) = tally
                .forms
                .iter()
                .filter(|(f, _)| f.chars().next().is_some_and(char::is_lowercase))
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            {
                return lower.clone();
            }
        }
        return form;
    }
    // Only ever seen at sentence starts: lower-case it unless it is an acronym or a name
    // ("Type I error", "Mount Tambora": a later word in capitals too).
    let first_word = form.split(' ').next().unwrap_or("");
    let later_capital = form
        .split(' ')
        .skip(1)
        .any(|w| w.chars().next().is_some_and(char::is_uppercase));
    let is_acronym = first_word.chars().filter(|c| c.is_uppercase()).count() >= 2;
    if tally.starts > 0
        && tally.starts == tally.forms.values().sum::<usize>()
        && !is_acronym
        && !later_capital
        && language != "de"
        && (language != "en"
            || is_dictionary_word(first_word)
            || is_dictionary_word(&crate::generator::text::normalise_word(first_word))
            // "One-sample t-test", "Two-sided p-value": words of the dictionary joined.
            || first_word.contains('-')
                && first_word
                    .split('-')
                    .all(|part| !part.is_empty() && is_dictionary_word(part)))
        && !is_common_name(first_word)
    {
        let mut chars = form.chars();
        match chars.next() {
            Some(c) => c.to_lowercase().chain(chars).collect(),
            None => form,
        }
    } else {
        form
    }
}

/// A word of the dictionary that is no name: it may be written in lower case mid-sentence.
pub fn is_plain_word(word: &str) -> bool {
    is_dictionary_word(word) && !is_common_name(word)
}

/// Whether harper's dictionary knows the word (in lower case).
fn is_dictionary_word(word: &str) -> bool {
    use harper_core::spell::Dictionary;
    let chars: Vec<char> = word.to_lowercase().chars().collect();
    harper_core::spell::FstDictionary::curated().contains_word(&chars)
}

fn is_common_name(word: &str) -> bool {
    // Without a mid-sentence use, a capitalised single word is taken for a common noun
    // unless the dictionary knows it as a proper noun.
    use harper_core::spell::Dictionary;
    let chars: Vec<char> = word.chars().collect();
    harper_core::spell::FstDictionary::curated()
        .get_word_metadata(&chars)
        .is_some_and(|m| m.noun.as_ref().is_some_and(|n| n.is_proper == Some(true)))
}

fn word_list(text: &'static str) -> BTreeSet<&'static str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect()
}

/// The most frequent words of each language we detect stop words for (`data/`, from
/// wordfreq): 5,000 of English, 2,000 of French, German and Spanish.
static COMMON_WORDS: LazyLock<BTreeMap<&'static str, BTreeSet<&'static str>>> =
    LazyLock::new(|| {
        BTreeMap::from([
            (
                "en",
                word_list(include_str!("../../../data/common-english.txt")),
            ),
            ("fr", word_list(include_str!("../../../data/common-fr.txt"))),
            ("de", word_list(include_str!("../../../data/common-de.txt"))),
            ("es", word_list(include_str!("../../../data/common-es.txt"))),
        ])
    });

/// Whether a word is among the most frequent of its language ("exemple", "Teile", "falls"):
/// alone, such a word is no concept of a text in that language.
pub fn is_common_word(language: &str, word: &str) -> bool {
    let lower = word.to_lowercase();
    COMMON_WORDS
        .get(language)
        .is_some_and(|words| words.contains(lower.as_str()))
}

/// Whether a word is among the 5,000 most frequent in general English: such words alone are
/// weak concepts ("space", "method", "value"), while "magma" or "semaphore" are terms of a
/// field (YAKE's insight, with a frequency list for a corpus). Harper's dictionary marks
/// nearly every word "common", so it cannot tell these apart.
pub fn is_common_english(word: &str) -> bool {
    is_common_word("en", word)
        || word
            .strip_suffix('s')
            .is_some_and(|singular| is_common_word("en", singular))
}

/// Definition cues after a subject: "X is a ...", "X refers to ...", "X means ...".
const DEFINING_VERBS: &[&str] = &[
    "is",
    "are",
    "refers",
    "refer",
    "means",
    "denotes",
    "describes",
    "represents",
    "ist",
    "sind",
    "bezeichnet",
    "est",
    "sont",
    "désigne",
    "es",
    "son",
];

/// Whether a sentence defines a phrase: it is the subject of a defining verb, or the sentence
/// names it ("is called X", "known as X").
pub fn defines(sentence: &Sentence, key: &str) -> bool {
    let Some(first) = sentence.phrases.first() else {
        return false;
    };
    if first.key == key && first.at_start {
        let after: Vec<&str> = sentence
            .words
            .iter()
            .map(String::as_str)
            .skip_while(|w| !DEFINING_VERBS.contains(w))
            .take(2)
            .collect();
        let before_verb = sentence
            .words
            .iter()
            .position(|w| DEFINING_VERBS.contains(&w.as_str()))
            .unwrap_or(usize::MAX);
        // The verb must follow the subject closely, and a copula must lead to what the thing
        // is ("A block is a piece of ..."), not to "as follows" or an adjective.
        let copula = matches!(
            after.first().copied(),
            Some("is" | "are" | "ist" | "sind" | "est" | "sont" | "es" | "son")
        );
        let names_a_kind = after.get(1).is_some_and(|w| {
            matches!(
                *w,
                "a" | "an"
                    | "the"
                    | "one"
                    | "any"
                    | "ein"
                    | "eine"
                    | "der"
                    | "die"
                    | "das"
                    | "un"
                    | "une"
                    | "le"
                    | "la"
                    | "les"
                    | "el"
                    | "los"
                    | "las"
                    | "una"
            )
        });
        // "Magma is molten or partly molten rock": a copula, a few modifiers, then the noun
        // phrase that says what it is. Not a negation ("Exception messages are not part of
        // the Python API"): that says what it is not.
        let states_what_it_is = after.get(1).is_none_or(|w| {
            !matches!(
                *w,
                "not" | "never" | "no" | "nicht" | "kein" | "keine" | "pas"
            )
        });
        let names_a_thing = copula
            && states_what_it_is
            && sentence.phrases.get(1).is_some_and(|what| {
                let lower = sentence.text.to_lowercase();
                let what = what.text.to_lowercase();
                let subject_end = first.text.len();
                lower.get(subject_end..).is_some_and(|rest| {
                    rest.find(&what).is_some_and(|at| {
                        let between = &rest[..at];
                        // Modifiers may be listed ("broad, gently sloping volcanoes"), a
                        // clause may not.
                        !between.contains([';', ':', '(', '.'])
                            && !between.split_whitespace().any(|w| {
                                matches!(
                                    w.trim_matches(','),
                                    "which" | "that" | "when" | "if" | "because" | "unless"
                                )
                            })
                            && between.split_whitespace().count() <= 5
                    })
                })
            });
        if before_verb <= first.text.split_whitespace().count() + 2
            && !after.is_empty()
            && (!copula || names_a_kind || names_a_thing)
        {
            return true;
        }
    }
    // "... is called lava", "known as the Ring of Fire": the phrase right after the cue.
    let lower = sentence.text.to_lowercase();
    [
        "called ",
        "known as ",
        "termed ",
        "referred to as ",
        "heißt ",
        "appelé ",
        "appelée ",
    ]
    .iter()
    .any(|cue| {
        lower.match_indices(cue).any(|(at, _)| {
            let after = lower[at + cue.len()..].trim_start();
            let after = after
                .strip_prefix("the ")
                .or_else(|| after.strip_prefix("a "))
                .or_else(|| after.strip_prefix("an "))
                .unwrap_or(after);
            sentence
                .phrases
                .iter()
                .any(|p| p.key == key && after.starts_with(&p.text.to_lowercase()))
        })
    })
}

/// The independent reference of what the text is about: concept-like headings, marked and
/// defined terms, and API names the prose mentions at least twice; at most twelve, in text
/// order.
fn reference_terms(analysis: &Analysis, stop: &BTreeSet<String>) -> Vec<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut first_seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, sentence) in analysis.sentences.iter().enumerate() {
        for phrase in &sentence.phrases {
            *counts.entry(phrase.key.clone()).or_default() += 1;
            first_seen.entry(phrase.key.clone()).or_insert(i);
        }
    }
    let mut terms: Vec<(usize, String)> = Vec::new();
    let mut push = |key: String, text: &str, api: bool| {
        if counts.get(&key).copied().unwrap_or(0) == 0 || !is_concept_phrase(&key, text, api, stop)
        {
            return;
        }
        if !terms.iter().any(|(_, k)| *k == key) {
            terms.push((first_seen.get(&key).copied().unwrap_or(usize::MAX), key));
        }
    };
    for section in &analysis.document.sections {
        let Some(heading) = section.heading.as_deref() else {
            continue;
        };
        let heading =
            heading.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ' ');
        if heading.split_whitespace().count() > 5
            || GENERIC_HEADINGS.contains(&heading.to_lowercase().as_str())
        {
            continue;
        }
        let (found, _) = phrases_of(
            heading,
            &analysis.document.api_names,
            analysis.language,
            stop,
        );
        for phrase in found {
            push(phrase.key.clone(), &phrase.text, phrase.api);
        }
    }
    for term in &analysis.document.marked_terms {
        let (found, _) = phrases_of(term, &analysis.document.api_names, analysis.language, stop);
        if let [phrase] = found.as_slice() {
            push(phrase.key.clone(), &phrase.text, phrase.api);
        }
    }
    for sentence in &analysis.sentences {
        if let Some(first) = sentence.phrases.first() {
            if defines(sentence, &first.key) {
                push(first.key.clone(), &first.text, first.api);
            }
        }
    }
    for name in &analysis.document.api_names {
        let key = phrases::phrase_key(std::iter::once(name.as_str()));
        if counts.get(&key).copied().unwrap_or(0) >= 2 {
            push(key, name, true);
        }
    }
    // The most discussed first, then text order: a reference a 10-objective blueprint can
    // reasonably cover.
    terms.sort_by_key(|(first, key)| {
        (
            std::cmp::Reverse(counts.get(key).copied().unwrap_or(0).min(6)),
            *first,
        )
    });
    terms.truncate(12);
    terms.sort_by_key(|(first, _)| *first);
    terms.into_iter().map(|(_, key)| key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BloomLevel, ObjectiveDraft, TerminalDraft};

    #[test]
    fn a_phrase_contains_another_only_as_whole_words() {
        assert!(contains_phrase("julian calendar", "calendar"));
        assert!(contains_phrase("calendar reform", "calendar"));
        assert!(contains_phrase(
            "the julian calendar reform",
            "julian calendar"
        ));
        // Repeated: the first occurrence is inside a word, the second is whole.
        assert!(contains_phrase("calendars and calendar", "calendar"));
        // Overlapping: the first match starts inside a word, the whole one overlaps it.
        assert!(contains_phrase("ba a a", "a a"));
        assert!(contains_phrase("über straße", "straße"));
        assert!(!contains_phrase("calendar", "calendar"));
        assert!(!contains_phrase("calendars", "calendar"));
        assert!(!contains_phrase("lunar calendars", "calendar"));
        assert!(!contains_phrase("backup", "up"));
        assert!(!contains_phrase("julian calendar", ""));
    }

    #[test]
    fn a_negation_after_the_copula_is_no_definition() {
        let analysis = analyse(&topic(Some(
            "Magma is molten or partly molten rock below the surface. Exception messages are \
             not part of the Python API. A caldera is defined as a large hollow left after an \
             eruption.",
        )));
        let defined = |key: &str| {
            analysis
                .concept(key)
                .unwrap_or_else(|| panic!("{key} is a concept: {:?}", analysis.concepts))
                .definition
                .is_some()
        };
        assert!(defined("magma"));
        assert!(defined("caldera"));
        assert!(!defined("exception message"));
    }

    fn topic(source: Option<&str>) -> Topic {
        Topic {
            id: uuid::Uuid::nil(),
            title: "Volcanoes".into(),
            description: None,
            source_text: source.map(Into::into),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_german_plural_is_its_singulars_concept_and_title_words_are_context() {
        let topic = Topic {
            title: "Versionsnummern von Debian-Paketen".into(),
            source_text: Some(
                "Die Zeichenkette beschreibt die Version. Jede Zeichenkette enthält Ziffern. \
                 Zeichenketten werden von links nach rechts verglichen. Die Versionsnummer \
                 eines Debian-Pakets hat drei Teile. Die Versionsnummer beginnt mit der Epoche."
                    .into(),
            ),
            ..topic(None)
        };
        let analysis = analyse(&topic);
        let keys: Vec<&str> = analysis.concepts.iter().map(|c| c.key.as_str()).collect();
        assert!(keys.contains(&"zeichenkette"), "{keys:?}");
        assert!(!keys.contains(&"zeichenketten"), "{keys:?}");
        let score = |key: &str| {
            analysis
                .concept(key)
                .map(|c| c.score)
                .unwrap_or_else(|| panic!("{key} is a concept: {keys:?}"))
        };
        // As often in the text as "Zeichenkette", but a word of the title.
        assert!(score("versionsnummer") < score("zeichenkette"), "{keys:?}");
    }

    fn draft(text: &str) -> ObjectiveDraft {
        ObjectiveDraft {
            text: text.into(),
            verb: text.split(' ').next().unwrap_or("").into(),
            bloom_level: BloomLevel::Understand,
            condition: None,
            criterion: None,
            evidence: None,
        }
    }

    #[test]
    fn a_shared_reading_follows_edits_of_the_topic() {
        let before = topic(Some("A caldera is a large crater left after an eruption."));
        let first = analyse_shared(&before);
        assert!(first.prose_lower.contains("caldera"));
        assert_eq!(analyse_shared(&before).prose_lower, first.prose_lower);
        // Edited: the shared reading must not serve the old text.
        let after = topic(Some("A lahar is a mudflow of volcanic debris and water."));
        let second = analyse_shared(&after);
        assert!(
            second.prose_lower.contains("lahar"),
            "{}",
            second.prose_lower
        );
        assert!(!second.prose_lower.contains("caldera"));
    }

    #[test]
    fn a_models_objectives_get_the_sentence_that_supports_them() {
        let analysis = analyse(&topic(Some(
            "Magma rises through a conduit. A caldera is a large crater left after an eruption empties the magma chamber.",
        )));
        let mut terminal = TerminalDraft {
            objective: draft("Explain how a caldera forms"),
            enabling: vec![draft("Describe the path of magma through a conduit")],
        };
        ground(&analysis, &mut terminal);
        assert_eq!(
            terminal.objective.evidence.as_deref(),
            Some("A caldera is a large crater left after an eruption empties the magma chamber.")
        );
        assert_eq!(
            terminal.enabling[0].evidence.as_deref(),
            Some("Magma rises through a conduit.")
        );
        let mut without = terminal.clone();
        without.objective.evidence = None;
        ground(&analyse(&topic(None)), &mut without);
        assert_eq!(without.objective.evidence, None, "no source, no evidence");
    }

    #[test]
    fn long_passages_are_cut_at_a_word_within_the_limit() {
        let long = "word ".repeat(100);
        let clipped = clip_evidence(&long);
        assert!(clipped.chars().count() <= EVIDENCE_MAX_CHARS);
        assert!(clipped.ends_with('…'));
    }
}

#[cfg(test)]
mod author_term_tests {
    use super::analyse;
    use crate::domain::Topic;

    fn analysis_of(source: &str) -> super::Analysis {
        analyse(&Topic {
            id: uuid::Uuid::nil(),
            title: "Measuring".into(),
            description: None,
            source_text: Some(source.into()),
            created_at: 0,
            updated_at: 0,
        })
    }

    #[test]
    fn marked_terms_headings_and_acronym_names_are_whole_concepts() {
        let analysis = analysis_of(
            "# Measuring\n\n## Base units\n\nEvery quantity is built from base units. \
             A **Type B error** is a wrong reading of a gauge. \
             Gauges are checked against the Reference Gauge Standard (RGS) every year. \
             Each base unit is kept by a national laboratory.\n",
        );
        for key in ["type b error", "reference gauge standard", "base unit"] {
            assert!(
                analysis.concept(key).is_some(),
                "{key} is a concept: {:?}",
                analysis.concepts.iter().map(|c| &c.key).collect::<Vec<_>>()
            );
        }
        // The heading's number or an exercise heading is no concept.
        assert!(analysis.concept("check yourself").is_none());
    }
}
