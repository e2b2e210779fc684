//! The built-in offline generator: no network, no model. It reads the topic's source
//! ([`crate::generator::source`]: clean input, noun phrases, ranked concepts), finds what the
//! text says about each concept ([`facts`]), and writes objectives whose behaviour fits what
//! the concept is and whose evidence is the sentence they rest on. A concept the text says
//! nothing usable about gets no objective: a thin source gives fewer objectives, and the
//! blueprint's notes say so. Deterministic: the same topic always gives the same blueprint.

pub mod facts;
pub mod outline;
mod reference;

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::quality::{similarity, NEAR_DUPLICATE_SIMILARITY};
use super::source::{self, Analysis, Concept};
use super::{GenerateError, GenerationRequest, Generator, ObjectiveSink};
use crate::domain::objective::verb_level;
use crate::domain::{BloomLevel, ObjectiveDraft, TerminalDraft, Topic};
use facts::{ConceptKind, Fact};
use harper_brill::UPOS;

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
        // Planning reads the whole source (up to 200,000 characters): CPU work.
        let topic = request.topic.clone();
        let target = request.target_terminal_objectives;
        let plan = crate::generator::cpu::run(move || plan_blueprint(&topic, target))
            .await
            .map_err(|err| {
                GenerateError::Failed(format!("planning the blueprint failed: {err}"))
            })?;
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
    /// The concepts the terminal objectives are about, as shown, in order.
    pub concepts: Vec<String>,
}

/// Without source text, at most this many terminal objectives: the title alone supports no
/// more honest ones.
pub const TITLE_ONLY_MAX_TERMINALS: usize = 3;

/// The most tokens between the ends of two phrases that one sentence is taken to connect.
const MAX_CONNECTED_DISTANCE: usize = 10;
/// The longest predicate between two concepts that an objective quotes.
const MAX_RELATION_WORDS: usize = 6;
/// The longest sentence an objective quotes as a statement to explain.
const MAX_STATEMENT_WORDS: usize = 20;

/// Plans the blueprint for a topic. Pure and deterministic.
pub fn plan_blueprint(topic: &Topic, target: usize) -> BlueprintPlan {
    let analysis = source::analyse_shared(topic);
    plan_from(&analysis, topic, target)
}

/// Plans from an analysis already made (the quality checks share it).
pub fn plan_from(analysis: &Analysis, topic: &Topic, target: usize) -> BlueprintPlan {
    let subject = if analysis.language == "en" {
        subject_phrase(&topic.title)
    } else {
        format!("\"{}\"", topic.title.trim())
    };
    let limit = if analysis.has_source {
        target
    } else {
        target.min(TITLE_ONLY_MAX_TERMINALS)
    };
    // The whole title ("Volcanoes") is the context of every objective, not a concept to set
    // beside the others ("Compare volcanoes with the hotspot").
    let whole_title = crate::generator::source::phrases::phrase_key(topic.title.split_whitespace());
    // "El ciclo del agua" is the topic "ciclo del agua" with its article.
    const ARTICLES: &[&str] = &[
        "the", "a", "an", "el", "la", "los", "las", "le", "les", "der", "die", "das", "un", "une",
        "ein", "eine",
    ];
    let title_without_article = crate::generator::source::phrases::phrase_key(
        topic
            .title
            .split_whitespace()
            .skip_while(|w| ARTICLES.contains(&w.to_lowercase().as_str())),
    );
    let pool: Vec<&Concept> = analysis
        .concepts
        .iter()
        .filter(|c| {
            !(analysis.has_source && (c.key == whole_title || c.key == title_without_article))
        })
        // Enough candidates for a long blueprint: four per terminal objective asked.
        .take((target * 4).max(80))
        .collect();
    let mut planner = Planner {
        analysis,
        subject: &subject,
        pool: &pool,
        tasks: BTreeSet::new(),
        texts: Vec::new(),
        covered: BTreeSet::new(),
        verb_uses: Default::default(),
        rule_sentences: BTreeSet::new(),
        defined_sentences: BTreeSet::new(),
        role_fallback: false,
    };
    // Each terminal objective with its place in the text, so the blueprint follows the text.
    let mut terminals: Vec<(usize, TerminalDraft)> = Vec::new();
    let mut concepts: Vec<(usize, String)> = Vec::new();
    let mut mains: BTreeSet<&str> = BTreeSet::new();
    let mut sections_used: BTreeSet<usize> = BTreeSet::new();
    // First the text's own outline: a terminal objective per section that introduces terms
    // (defines, marks or lists them), whose enabling objectives are on those terms; the
    // sections that introduce the strongest terms first.
    let language = analysis.language;
    let groups = outline::section_groups(analysis, &pool, |c| {
        !is_weak_main(c, language) && !is_weak_partner(c, language) && !is_proper_name(c, language)
    });
    let mut by_weight: Vec<&outline::SectionGroup> = groups.iter().collect();
    by_weight.sort_by(|a, b| {
        b.weight()
            .total_cmp(&a.weight())
            .then(a.section.cmp(&b.section))
    });
    for group in by_weight {
        if terminals.len() >= limit {
            break;
        }
        if let Some((terminal, main)) = planner.group_terminal(group) {
            sections_used.insert(group.section);
            if let Some(head) = group.head {
                mains.insert(head.key.as_str());
            }
            concepts.push((group.first_sentence(), main));
            terminals.push((group.first_sentence(), terminal));
        }
    }
    // A reference that documents a command's options one by one (a man page): which option
    // a task needs is what a teacher asks of it.
    let (option_terminals, option_names) = planner.option_terminals(2);
    for key in &option_names {
        mains.insert(key.as_str());
    }
    for (place, terminal) in option_terminals {
        if terminals.len() >= limit {
            break;
        }
        if let Some(section) = analysis.sentences.get(place).map(|s| s.section) {
            sections_used.insert(section);
        }
        terminals.push((place, terminal));
    }
    // The messages a man page explains: what each reports.
    if terminals.len() < limit {
        if let Some((place, terminal)) = planner.message_terminal() {
            terminals.push((place, terminal));
        }
    }
    // A section headed by a task ("Usage: match multiple regular expressions simultaneously")
    // that shows an API name doing it: using that name for the task.
    for (place, terminal, main) in planner.task_terminals() {
        if terminals.len() >= limit {
            break;
        }
        if let Some(section) = analysis.sentences.get(place).map(|s| s.section) {
            sections_used.insert(section);
        }
        concepts.push((place, main));
        terminals.push((place, terminal));
    }
    // Then one terminal objective per section of the text not yet used, best concept first,
    // so the blueprint spans the whole text; then the best of what is left.
    // A concept an earlier objective already teaches gives way to one not yet taught: only
    // the last pass takes those.
    // The terms the author stresses (headings, marked and defined terms, API names the prose
    // discusses) before the rest: they are what a teacher would test first.
    let mut stressed_first: Vec<&Concept> = pool.clone();
    stressed_first.sort_by_key(|c| !analysis.reference.contains(&c.key));
    // A last pass, only where the source gave nothing more specific to ask about anything
    // (a few sentences of notes): the roles of the concepts it stresses.
    for (spread, untaught, role_fallback) in [
        (true, true, false),
        (false, true, false),
        (false, false, false),
        (false, false, true),
    ] {
        if role_fallback {
            if !terminals.is_empty() {
                break;
            }
            planner.role_fallback = true;
        }
        // The spreading pass looks only at the strongest concepts.
        let considered = if spread {
            (limit * 2).min(pool.len())
        } else {
            pool.len()
        };
        let candidates = if spread {
            &pool[..considered]
        } else {
            &stressed_first[..]
        };
        for concept in candidates {
            // The fallback gives one objective: more would be more of the same vague task.
            if terminals.len() >= limit || role_fallback && !terminals.is_empty() {
                break;
            }
            if mains.contains(concept.key.as_str())
                || untaught && planner.covered.contains(&concept.key)
            {
                continue;
            }
            if is_weak_main(concept, analysis.language) {
                continue;
            }
            let section = concept
                .definition
                .or(concept.sentences.first().copied())
                .and_then(|s| analysis.sentences.get(s))
                .map(|s| s.section);
            if spread && section.is_some_and(|s| sections_used.contains(&s)) {
                continue;
            }
            if let Some((terminal, place)) = planner.terminal_for(concept) {
                mains.insert(concept.key.as_str());
                if let Some(section) = section {
                    sections_used.insert(section);
                }
                concepts.push((place, concept.name.clone()));
                terminals.push((place, terminal));
            }
        }
    }
    // A title-only topic whose title yields no concept still gets one honest objective on it.
    if terminals.is_empty() && target > 0 {
        if let Some(terminal) = planner.title_terminal(&subject) {
            concepts.push((0, subject.clone()));
            terminals.push((0, terminal));
        }
    }
    // In the text's order (stable: equal places keep the order they were chosen in).
    terminals.sort_by_key(|(place, _)| *place);
    concepts.sort_by_key(|(place, _)| *place);
    let terminals: Vec<TerminalDraft> = terminals.into_iter().map(|(_, t)| t).collect();
    let concepts: Vec<String> = concepts.into_iter().map(|(_, c)| c).collect();
    // Two terminal objectives may rest on one concept; the description names each once.
    let mut listed: Vec<&str> = Vec::new();
    for concept in &concepts {
        if listed.len() == 5 {
            break;
        }
        if !listed.iter().any(|l| l.eq_ignore_ascii_case(concept)) {
            listed.push(concept);
        }
    }
    let count = terminals.len();
    let description = if listed.is_empty() {
        format!("{count} terminal objectives on {}.", topic.title.trim())
    } else {
        format!(
            "{count} terminal {} on {}, covering {}.",
            if count == 1 {
                "objective"
            } else {
                "objectives"
            },
            topic.title.trim(),
            listed.join(", ")
        )
    };
    BlueprintPlan {
        title: format!("{}: quiz blueprint", topic.title.trim()),
        description,
        terminals,
        concepts,
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
    // "The French Revolution" reads "the French Revolution" inside a sentence.
    if matches!(first, "The" | "A" | "An") && other_capitals {
        return format!("{}{}", first.to_lowercase(), &title[first.len()..]);
    }
    // "Photosynthesis" reads "photosynthesis"; "Python ..." keeps its capital (a name).
    let first_is_plain =
        first.chars().skip(1).all(|c| !c.is_uppercase()) && source::is_plain_word(first);
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

/// An objective before it is chosen: what it asks, the sentence it rests on, and the task it
/// stands for (so no two slots ask the same thing at different levels).
#[derive(Debug, Clone)]
struct Option_ {
    verb: &'static str,
    text: String,
    condition: Option<String>,
    criterion: Option<String>,
    sentence: Option<usize>,
    /// A second sentence the evidence needs: the one next to `sentence` that names the
    /// other concept of a connection.
    also: Option<usize>,
    task: String,
    /// Asked only where the terminal objective would otherwise have too few enabling
    /// objectives: readers dropped most of these.
    filler: bool,
}

impl Option_ {
    fn level(&self) -> BloomLevel {
        verb_level(self.verb).unwrap_or(BloomLevel::Remember)
    }
}

fn option(verb: &'static str, text: String, sentence: Option<usize>, task: String) -> Option_ {
    Option_ {
        verb,
        text,
        condition: None,
        criterion: None,
        sentence,
        also: None,
        task,
        filler: false,
    }
}

struct Planner<'a> {
    analysis: &'a Analysis,
    subject: &'a str,
    pool: &'a [&'a Concept],
    /// Tasks already asked, e.g. "define:standard deviation".
    tasks: BTreeSet<String>,
    /// Every objective text planned so far (near-duplicate guard).
    texts: Vec<String>,
    /// Keys of the concepts some planned objective names already.
    covered: BTreeSet<String>,
    /// How often each verb starts a terminal objective so far.
    verb_uses: std::collections::BTreeMap<&'static str, usize>,
    /// Sentences a rule objective already rests on: one rule ("If the p-value is smaller than
    /// the significance level, reject H0") is asked once, not once per concept it names.
    rule_sentences: BTreeSet<usize>,
    /// Sentences a "Define X in the words of the text" already rests on: quoting one again
    /// as a statement asks the definition twice.
    defined_sentences: BTreeSet<usize>,
    /// Whether "Examine the role of X" may be asked although there is a source: only when
    /// the source gave nothing more specific for any objective.
    role_fallback: bool,
}

impl Planner<'_> {
    fn concept(&self, key: &str) -> Option<&Concept> {
        self.pool.iter().copied().find(|c| c.key == key)
    }

    /// How a concept reads in a sentence: with the determiner the text gives it, and quoted
    /// when the source is not English (the templates are).
    fn named(&self, concept: &Concept) -> String {
        if self.analysis.language != "en" && !concept.api {
            return format!("\"{}\"", concept.name);
        }
        // An acronym reads bare: "the GNU" and "the POSIX" were "the GNU project" and "the
        // POSIX standard" in the text.
        let acronym = is_acronym(&concept.name);
        match concept.determiner.as_deref() {
            Some("the") if !concept.api && !acronym => format!("the {}", concept.name),
            // The text may say "an exception handler" once and "exception handlers" most.
            Some("a") | Some("an") if !concept.api && looks_plural(&concept.name) => {
                concept.name.clone()
            }
            Some("a") | Some("an") if !concept.api => {
                format!("{} {}", indefinite_article(&concept.name), concept.name)
            }
            _ => concept.name.clone(),
        }
    }

    /// How a term of a section's group reads: a count noun phrase the text writes bare (a
    /// list item: "two-sample t-test") takes "the" in a sentence ("Define the two-sample
    /// t-test").
    fn named_member(&self, concept: &Concept) -> String {
        let english = self.analysis.language == "en";
        if english
            && !concept.api
            && concept.determiner.is_none()
            && is_bare_count_phrase(&concept.name)
        {
            return format!("the {}", concept.name);
        }
        self.named(concept)
    }

    /// How a partner concept reads, or `None` when it is too plain to pair with.
    fn named_key(&self, key: &str) -> Option<String> {
        self.concept(key)
            .filter(|c| !is_weak_partner(c, self.analysis.language))
            .map(|c| self.named(c))
    }

    /// How a partner concept reads where the pair must be two terms of the field (a cause, a
    /// comparison), or `None` when either is not one.
    fn named_term_pair(&self, concept: &Concept, key: &str) -> Option<String> {
        let language = self.analysis.language;
        self.concept(key)
            .filter(|other| is_term(concept, language) && is_term(other, language))
            .map(|other| self.named(other))
    }

    /// A pair to compare: two terms of one sort. Readers dropped "Compare a fixed-size heap
    /// with heappop()" and "Compare a generator with iterable" (a thing with a function, a
    /// thing with a property).
    fn comparable_pair(&self, concept: &Concept, key: &str) -> Option<String> {
        let other = self.concept(key)?;
        (other.api == concept.api)
            .then(|| self.named_term_pair(concept, key))
            .flatten()
    }

    /// The first rule about a concept that opens with its condition, with that condition
    /// ("if the parameter flush is set to Z_SYNC_FLUSH").
    fn conditioned_rule(&self, concept: &Concept, facts: &[Fact]) -> Option<(usize, String)> {
        facts.iter().find_map(|f| match f {
            Fact::Rule { sentence, .. } => {
                facts::opening_condition(&self.analysis.sentences[*sentence], concept)
                    .map(|clause| (*sentence, clause))
            }
            _ => None,
        })
    }

    /// Whether one sentence connects two concepts: written near each other (within one
    /// clause, roughly) with a word that relates them in between, not merely both somewhere in
    /// it, side by side in a list ("gas, ash and rock") or in its section's heading.
    fn close_in(&self, sentence: usize, a: &str, b: &str) -> bool {
        let Some(sentence) = self.analysis.sentences.get(sentence) else {
            return false;
        };
        let api_names = &self.analysis.document.api_names;
        let tokens = source::phrases::tokenize(&sentence.text, api_names);
        let spans = |key: &str| -> Vec<(usize, usize)> {
            sentence
                .phrases
                .iter()
                .filter(|p| p.key == key)
                .map(|p| {
                    let length = source::phrases::tokenize(&p.text, api_names).len();
                    (p.end.saturating_sub(length), p.end)
                })
                .collect()
        };
        let (spans_a, spans_b) = (spans(a), spans(b));
        spans_a.iter().any(|x| {
            spans_b.iter().any(|y| {
                let (first, second) = if x.1 <= y.0 { (x, y) } else { (y, x) };
                if first.1 > second.0 || second.0 - first.1 > MAX_CONNECTED_DISTANCE {
                    return false;
                }
                let between = tokens.get(first.1..second.0).unwrap_or_default();
                !between.iter().all(|t| {
                    !t.word
                        || matches!(
                            t.lower.as_str(),
                            "and"
                                | "or"
                                | "nor"
                                | "the"
                                | "a"
                                | "an"
                                | "as"
                                | "well"
                                | "both"
                                | "either"
                                | "y"
                                | "e"
                                | "o"
                                | "et"
                                | "ou"
                                | "und"
                                | "oder"
                        )
                })
            })
        })
    }

    /// What one sentence says one concept does to another, in its own words, where the
    /// first is the sentence's subject and a short predicate leads to the second: "the
    /// Python interpreter raises an exception" (from "The Python interpreter raises an
    /// exception when it detects a run-time error"). Readers dropped "Explain the connection
    /// between X and Y" for its vagueness; the text's own verb says which connection.
    fn relation_clause(&self, sentence: usize, a: &str, b: &str) -> Option<(&'static str, String)> {
        if self.analysis.language != "en" {
            return None;
        }
        let sentence = self.analysis.sentences.get(sentence)?;
        let api_names = &self.analysis.document.api_names;
        let mut tokens = source::phrases::tokenize(&sentence.text, api_names);
        source::phrases::tag(&mut tokens);
        let width =
            |p: &source::phrases::Phrase| source::phrases::tokenize(&p.text, api_names).len();
        let [subject, object] = [a, b].map(|k| self.concept(k));
        let (subject, object) = (subject?, object?);
        for (s, o) in [(subject, object), (object, subject)] {
            let Some(head) = sentence
                .phrases
                .iter()
                .find(|p| p.key == s.key && p.at_start)
            else {
                continue;
            };
            let Some(tail) = sentence
                .phrases
                .iter()
                .find(|p| p.key == o.key && p.end.saturating_sub(width(p)) >= head.end)
            else {
                continue;
            };
            let start = tail.end.saturating_sub(width(tail));
            let between = tokens.get(head.end..start)?;
            if between.is_empty() || between.len() > MAX_RELATION_WORDS {
                continue;
            }
            let verb = |t: &source::phrases::Token| matches!(t.tag, Some(UPOS::VERB | UPOS::AUX));
            // The predicate starts right after the subject with its verb, and stays in
            // one clause: no punctuation, no relative word or conjunction opening another.
            // Not a participle ("a boolean value indicating whether …"): that is still the
            // subject's noun phrase.
            let first_verb = between.iter().find(|t| verb(t));
            let opens_with_verb = between
                .first()
                .is_some_and(|t| verb(t) || matches!(t.tag, Some(UPOS::ADV)))
                && first_verb.is_some_and(|t| !t.lower.ends_with("ing"));
            let one_clause = between.iter().all(|t| {
                t.word
                    && !t.api
                    && !matches!(
                        t.lower.as_str(),
                        "which"
                            | "that"
                            | "who"
                            | "whom"
                            | "whose"
                            | "where"
                            | "when"
                            | "if"
                            | "whether"
                            | "because"
                            | "and"
                            | "or"
                            | "but"
                            | "while"
                            | "although"
                            | "unless"
                            | "since"
                            | "so"
                            | "than"
                            | "it"
                            | "they"
                    )
            });
            // A copula alone ("X is a Y") is a definition, asked as one elsewhere.
            let has_verb = between.iter().any(|t| {
                matches!(t.tag, Some(UPOS::VERB))
                    && !matches!(
                        t.lower.as_str(),
                        "is" | "are" | "was" | "were" | "be" | "been"
                    )
            });
            // A lone uninflected verb after a singular subject is no predicate: "the GNU
            // find -print0 option" is one noun phrase.
            let agrees = match between {
                [only] => {
                    only.lower.ends_with('s') || only.lower.ends_with("ed") || s.name.ends_with('s')
                }
                _ => true,
            };
            if !(opens_with_verb && one_clause && has_verb && agrees) {
                continue;
            }
            let predicate = source_span(&sentence.text, &tokens, head.end, tail.end)?;
            // What follows says which question the sentence answers: "… raises an exception
            // when it detects a run-time error" tells when, not how.
            let question = match tokens.get(tail.end).map(|t| t.lower.as_str()) {
                Some("when" | "whenever" | "if" | "once" | "after" | "before" | "until") => "when",
                Some("because" | "since" | "so") => "why",
                _ => "how",
            };
            return Some((question, format!("{} {predicate}", self.named(s))));
        }
        None
    }

    /// A short sentence that relates two concepts, as a clause to explain ("the namespace of
    /// the class definition becomes the attribute dictionary of the class"): a statement
    /// with its subject first, one clause long, naming both.
    fn statement_clause(&self, sentence: usize, a: &str, b: &str) -> Option<String> {
        self.statement(sentence, &[a, b], false)
    }

    /// A sentence to quote as a statement (see `statement_clause`) naming every one of
    /// `keys`; `conditional` lets it open with its condition ("if a name is bound in a
    /// block, it is a local variable of that block").
    fn statement(&self, sentence: usize, keys: &[&str], conditional: bool) -> Option<String> {
        let sentence = self.analysis.sentences.get(sentence)?;
        if matches!(sentence.kind, source::markup::ParagraphKind::TableRow) {
            return None;
        }
        // An exercise ("Explica por qué la lluvia es agua dulce …") asks; it states nothing.
        let exercise = self
            .analysis
            .document
            .sections
            .get(sentence.section)
            .and_then(|s| s.heading.as_deref())
            .is_some_and(is_exercise_heading);
        if exercise {
            return None;
        }
        if self.analysis.language != "en" {
            return foreign_statement(&sentence.text, keys);
        }
        let whole = without_parentheses(&sentence.text);
        let whole = whole.trim().trim_end_matches('.').trim();
        // A sentence of several clauses gives the one that names them all: "… is the zlib
        // format, which is a zlib wrapper …; it is wrapped around a deflate stream".
        // (A colon in a path, "regex::Regex", divides nothing.)
        let clauses = whole
            .split("; ")
            .flat_map(|part| part.split(": "))
            .flat_map(|part| {
                part.split(", but ")
                    .flat_map(|p| p.split(", while "))
                    .flat_map(|p| p.split(", whereas "))
                    .flat_map(|p| p.split(", and "))
                    .flat_map(|p| p.split(", so "))
            })
            .map(str::trim);
        std::iter::once(whole)
            .chain(clauses)
            .find_map(|text| self.quotable(text, keys, conditional))
    }

    /// One clause as a statement to quote, if it is one (see `statement`).
    fn quotable(&self, text: &str, keys: &[&str], conditional: bool) -> Option<String> {
        // Straight quotes in pairs mark keywords ("nonlocal"); anything else breaks the
        // sentence into parts a clause cannot hold.
        // Nor does code ("strm->next_out").
        if text.contains([
            ':', ';', '?', '!', '\'', '“', '”', '(', ')', '[', '&', '<', '>', '=', '{', '`', '|',
            '\\',
        ]) || text.matches('"').count() % 2 == 1
            // A man page's NAME line ("xargs - build and execute command lines …").
            || text.contains(" - ")
            || text.contains(" -- ")
        {
            return None;
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        if !(5..=MAX_STATEMENT_WORDS).contains(&words.len()) {
            return None;
        }
        // Out of its passage a sentence that points elsewhere ("does this for you", "as
        // described above") says nothing.
        let points_away = words.iter().any(|w| {
            let w = w
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase();
            matches!(
                w.as_str(),
                "it" | "they"
                    | "them"
                    | "this"
                    | "these"
                    | "those"
                    | "such"
                    | "above"
                    | "below"
                    | "here"
            )
        });
        if points_away {
            return None;
        }
        let api_names = &self.analysis.document.api_names;
        let mut tokens = source::phrases::tokenize(text, api_names);
        let chunks = source::phrases::tag(&mut tokens);
        let phrases = source::phrases::english_phrases(&tokens, &chunks);
        let named = |k: &str| phrases.iter().any(|p| p.key == k);
        let condition =
            conditional && matches!(tokens.first()?.lower.as_str(), "if" | "when" | "unless");
        // Its subject first: a determiner or a term, not a condition ("If …"), an
        // instruction ("Use …") or a pronoun.
        let first = tokens.first()?;
        // (Or a setting for it: "in a right-skewed distribution the mean is larger …".)
        let setting = matches!(first.lower.as_str(), "in" | "for" | "with" | "during")
            && tokens
                .get(1)
                .is_some_and(|t| matches!(t.lower.as_str(), "the" | "a" | "an"));
        let opens = matches!(first.lower.as_str(), "the" | "a" | "an" | "each" | "every")
            || setting
            || first.api
            || condition
            || phrases
                .first()
                .is_some_and(|p| p.at_start && keys.contains(&p.key.as_str()));
        // Its main verb comes before any clause it opens: not "a boolean value indicating
        // whether this thread is a daemon thread".
        // (After its condition, where it opens with one.)
        let main = match condition {
            true => tokens
                .iter()
                .position(|t| t.text == ",")
                .map_or(&tokens[..0], |i| &tokens[i + 1..]),
            false => &tokens[..],
        };
        let finite = main
            .iter()
            .take_while(|t| {
                !matches!(
                    t.lower.as_str(),
                    "whether"
                        | "which"
                        | "who"
                        | "that"
                        | "if"
                        | "when"
                        | "unless"
                        | "because"
                        | "until"
                        | "while"
                )
            })
            .any(|t| matches!(t.tag, Some(UPOS::VERB | UPOS::AUX)) && !t.lower.ends_with("ing"));
        if !(opens && finite && keys.iter().all(|k| named(k))) {
            return None;
        }
        let lead = match first.lower.as_str() {
            "the" | "a" | "an" | "each" | "every" | "if" | "when" | "unless" | "in" | "for"
            | "with" | "during" => {
                format!("{}{}", first.lower, &text[first.text.len()..])
            }
            // A term opening the sentence ("Magma is …") reads as it does inside one.
            _ => {
                let inside = phrases
                    .first()
                    .filter(|p| p.at_start)
                    .and_then(|p| self.concept(&p.key))
                    .and_then(|c| c.name.split(' ').next())
                    .filter(|w| w.eq_ignore_ascii_case(&first.text));
                match inside {
                    Some(word) => format!("{word}{}", &text[first.text.len()..]),
                    None => text.to_string(),
                }
            }
        };
        Some(lead)
    }

    /// Whether the text says enough about a concept to describe it "as the text presents
    /// it": readers kept that for API names and the terms the author stresses or keeps
    /// coming back to, and dropped it for a phrase met in passing ("the offending piece",
    /// "a byte boundary").
    fn presents(&self, c: &Concept) -> bool {
        c.api || c.in_heading || c.marked || c.definition.is_some() || c.sentences.len() >= 3
    }

    /// What the text states about a concept in one clear sentence with the concept as its
    /// subject, other than its definition and the sentences in `taken`.
    fn stated(&self, c: &Concept, taken: &[usize]) -> Option<(usize, String)> {
        self.stated_in(c, taken, true)
    }

    /// What the text states about a concept in one clear sentence, with the concept as its
    /// subject or not (`as_subject`), other than its definition and the sentences in `taken`.
    fn stated_in(&self, c: &Concept, taken: &[usize], as_subject: bool) -> Option<(usize, String)> {
        c.sentences
            .iter()
            .copied()
            .filter(|s| Some(*s) != c.definition && !taken.contains(s))
            .find_map(|s| {
                let subject = self
                    .analysis
                    .sentences
                    .get(s)?
                    .phrases
                    .iter()
                    .any(|p| p.key == c.key && p.at_start);
                let statement = self.statement(s, &[c.key.as_str()], false)?;
                let quoted = self
                    .texts
                    .iter()
                    .any(|t| quoted_statement(t) == Some(statement.as_str()));
                ((subject || !as_subject) && !quoted).then_some((s, statement))
            })
    }

    /// "Describe X as the text presents it", or what the text states about X where it
    /// states something in a sentence of its own: readers kept the statement two times in
    /// three and the description half the time.
    fn describe_as_presented(&self, c: &Concept, taken: &[usize]) -> Option_ {
        let r = self.named(c);
        match self.stated(c, taken) {
            Some((sentence, statement)) => option(
                "Explain",
                format!("Explain the statement that {statement}"),
                Some(sentence),
                format!("describe:{}", c.key),
            ),
            None => {
                let evidence = c.definition.or(c.sentences.first().copied());
                // An API name is asked what it is for (readers kept "State what Z_OK
                // signals …" and "State the purpose of …" three times in four, "Describe
                // heappush() as the text presents it" under half the time).
                let api = match facts::kind_of(c, self.analysis) {
                    ConceptKind::ApiConstant => {
                        Some(format!("State what {r} signals to the caller"))
                    }
                    ConceptKind::ApiFunction | ConceptKind::ApiType | ConceptKind::ApiOption => {
                        Some(format!("State the purpose of {r} in one sentence"))
                    }
                    _ => None,
                };
                let purpose = format!("purpose:{}", c.key);
                if let Some(text) = api.filter(|_| !self.tasks.contains(&purpose)) {
                    return option("State", text, evidence, purpose);
                }
                let mut o = option(
                    "Describe",
                    format!("Describe {r} as the text presents it"),
                    evidence,
                    format!("describe:{}", c.key),
                );
                o.filler = !self.presents(c);
                o
            }
        }
    }

    /// An enabling objective on what a sentence says of two concepts: in the text's own
    /// words where it has them, else as their connection.
    fn connection(&self, sentence: usize, c: &Concept, other: &str, r: &str) -> Option_ {
        let text = match self.relation_clause(sentence, &c.key, other) {
            Some((_, clause))
                if clause
                    .split(' ')
                    .any(|w| matches!(w, "not" | "never" | "cannot")) =>
            {
                format!("Explain why {clause}")
            }
            Some((question, clause)) => format!("Explain {question} {clause}"),
            None => match self.statement_clause(sentence, &c.key, other) {
                Some(statement) => format!("Explain the statement that {statement}"),
                None => {
                    let text = format!("Explain the connection between {} and {r}", self.named(c));
                    let mut o = option("Explain", text, Some(sentence), pair_task(&c.key, other));
                    // Readers kept a bare connection 7 times in 80 (the thirteenth read); it
                    // only fills, unless it tells where an API name belongs ("release() and a
                    // semaphore" in the section on semaphores).
                    let partner = self.concept(other);
                    let belongs = c.api && partner.is_some_and(|p| p.in_heading)
                        || c.in_heading && partner.is_some_and(|p| p.api);
                    o.filler = !belongs;
                    return o;
                }
            },
        };
        option("Explain", text, Some(sentence), pair_task(&c.key, other))
    }

    fn fresh(&self, option: &Option_) -> bool {
        // "Describe the median as the text presents it" after "Define the median …" asks the
        // same again.
        if let Some(key) = option.task.strip_prefix("describe:") {
            if self.tasks.contains(&format!("define:{key}")) {
                return false;
            }
        }
        // Without source text there is no "text" for an objective to point at.
        let fits = self.analysis.has_source || !option.text.contains("the text");
        let rule_asked = is_rule_task(&option.task)
            && option
                .sentence
                .is_some_and(|s| self.rule_sentences.contains(&s));
        // One sentence is quoted once: "Explain the rule that compression is always
        // performed …" after "Explain the statement that compression is always performed …"
        // asks it again.
        let quoted_again = quoted_statement(&option.text).is_some_and(|q| {
            self.texts.iter().any(|t| quoted_statement(t) == Some(q))
                || option
                    .sentence
                    .is_some_and(|s| self.defined_sentences.contains(&s))
        });
        fits && !rule_asked
            && !quoted_again
            && !self.tasks.contains(&option.task)
            && self
                .texts
                .iter()
                .all(|t| similarity(t, &option.text) < NEAR_DUPLICATE_SIMILARITY)
    }

    fn terminal_for(&mut self, concept: &Concept) -> Option<(TerminalDraft, usize)> {
        let kind = facts::kind_of(concept, self.analysis);
        let facts = facts::facts_of(concept, self.analysis, self.pool);
        // A concept the source only mentions once, with nothing said about it, teaches
        // nothing an objective could rest on.
        let short_source = self.analysis.sentences.len() < 12;
        if self.analysis.has_source
            && facts.is_empty()
            && concept.sentences.len() < 2
            && !short_source
        {
            return None;
        }
        // Of the fitting terminal objectives, the one whose verb the blueprint has used least
        // (so ten concepts do not get ten "Judge whether ..."), the text's best first.
        let terminal = self
            .terminal_options(concept, kind, &facts)
            .into_iter()
            .enumerate()
            .filter(|(_, o)| o.level() >= BloomLevel::Apply && self.fresh(o))
            .min_by_key(|(i, o)| (self.verb_uses.get(o.verb).copied().unwrap_or(0), *i))
            .map(|(_, o)| o)?;
        let candidates = self.enabling_options(concept, kind, &facts, &terminal);
        let mut enabling = self.pick_enabling(&terminal, &candidates);
        if enabling.len() < 2 {
            return None;
        }
        enabling.sort_by_key(Option_::level);
        let place = terminal
            .sentence
            .or(concept.sentences.first().copied())
            .unwrap_or(0);
        Some((self.commit(terminal, enabling), place))
    }

    /// The terminal objective of a section that introduces terms: the section's concept (or
    /// the terms side by side) at Apply or above, with an enabling objective on each term.
    /// Returns the terminal objective and the concept it is shown as.
    fn group_terminal(&mut self, group: &outline::SectionGroup) -> Option<(TerminalDraft, String)> {
        let members: Vec<(&Concept, usize)> = group
            .members
            .iter()
            .copied()
            .filter(|(c, _)| !self.covered.contains(&c.key))
            .collect();
        if members.len() < 2 {
            return None;
        }
        let head = group.head.filter(|h| !self.covered.contains(&h.key));
        let kinds: Vec<ConceptKind> = members
            .iter()
            .map(|(c, _)| facts::kind_of(c, self.analysis))
            .collect();
        let api = kinds.iter().all(|k| {
            matches!(
                k,
                ConceptKind::ApiFunction | ConceptKind::ApiType | ConceptKind::ApiOption
            )
        });
        let choosable = kinds.iter().all(|k| {
            matches!(
                k,
                ConceptKind::Measure | ConceptKind::Procedure | ConceptKind::ApiOption
            )
        });
        // The enabling objectives first: a group whose terms the text says too little about
        // is no group.
        let mut enabling: Vec<Option_> = Vec::new();
        let mut used_sentences: BTreeSet<usize> = BTreeSet::new();
        let mut named_members: Vec<&Concept> = Vec::new();
        for ((c, introduced), kind) in members.iter().zip(&kinds) {
            if enabling.len() >= 4 {
                break;
            }
            let n = self.named_member(c);
            let key = &c.key;
            let definition = c
                .definition
                .filter(|_| !is_proper_name(c, self.analysis.language));
            let candidate = match kind {
                ConceptKind::ApiFunction | ConceptKind::ApiType | ConceptKind::ApiOption => option(
                    "State",
                    format!("State the purpose of {n} in one sentence"),
                    Some(definition.unwrap_or(*introduced)),
                    format!("purpose:{key}"),
                ),
                ConceptKind::ApiConstant => option(
                    "State",
                    format!("State what {n} signals to the caller"),
                    Some(definition.unwrap_or(*introduced)),
                    format!("purpose:{key}"),
                ),
                _ => match (definition, head.filter(|_| group.steps)) {
                    (_, Some(h)) => option(
                        "Explain",
                        format!("Explain the role of {n} in {}", self.named(h)),
                        Some(*introduced),
                        format!("role:{key}"),
                    ),
                    (Some(sentence), None) => option(
                        "Define",
                        format!("Define {n} in the words of the text"),
                        Some(sentence),
                        format!("define:{key}"),
                    ),
                    (None, None) => option(
                        "Describe",
                        format!("Describe {n} as the text presents it"),
                        Some(*introduced),
                        format!("describe:{key}"),
                    ),
                },
            };
            let fallback = option(
                "Describe",
                format!("Describe {n} as the text presents it"),
                Some(*introduced),
                format!("describe:{key}"),
            );
            let acceptable = |o: &Option_| {
                let sentence_free = o.sentence.is_none_or(|s| !used_sentences.contains(&s));
                // "Define Type I error" beside "Define Type II error" reads as one objective
                // twice.
                let distinct = enabling
                    .iter()
                    .all(|e| similarity(&e.text, &o.text) < NEAR_DUPLICATE_SIMILARITY);
                sentence_free && distinct && self.fresh(o)
            };
            let Some(chosen) = [candidate, fallback].into_iter().find(|o| acceptable(o)) else {
                continue;
            };
            used_sentences.extend(chosen.sentence);
            named_members.push(c);
            enabling.push(chosen);
        }
        if named_members.len() < 2 {
            return None;
        }
        let names: Vec<String> = named_members.iter().map(|c| self.named_member(c)).collect();
        let bare: Vec<String> = named_members
            .iter()
            .map(|c| {
                if self.analysis.language == "en" || c.api {
                    c.name.clone()
                } else {
                    format!("\"{}\"", c.name)
                }
            })
            .collect();
        let first = enabling.iter().find_map(|o| o.sentence);
        let task = format!(
            "group:{}",
            named_members
                .iter()
                .map(|c| c.key.as_str())
                .collect::<Vec<_>>()
                .join("|")
        );
        // "as measures of centre": the heading's words, when it names the family in the plural.
        let family = head
            .filter(|_| !group.steps)
            .and_then(|_| {
                self.analysis.document.sections[group.section]
                    .heading
                    .as_deref()
            })
            .map(|h| {
                let words: Vec<&str> = h
                    .split_whitespace()
                    .skip_while(|w| w.chars().all(|c| c.is_ascii_digit() || c == '.'))
                    .collect();
                words.join(" ")
            })
            .filter(|h| {
                let core = h.split(" of ").next().unwrap_or(h);
                self.analysis.language == "en" && core.ends_with('s') && !core.ends_with("ss")
            })
            .map(|h| lower_first(&h));
        let mut options: Vec<Option_> = Vec::new();
        if let Some(h) = head.filter(|_| group.steps) {
            let mut o = option(
                "Perform",
                format!(
                    "Perform {} on a new example, with its {}",
                    self.named(h),
                    and_list(&bare)
                ),
                first,
                task.clone(),
            );
            o.criterion = Some("Follows the steps in the order the text gives".into());
            options.push(o);
        }
        if api {
            let mut o = option(
                "Use",
                format!("Use {} together in a short program", and_list(&names)),
                first,
                task.clone(),
            );
            o.criterion = Some("The program follows what the text states for each".into());
            options.push(o);
        }
        if choosable {
            let text = match &family {
                Some(f) => format!(
                    "Recommend which of the {f} ({}) suits a given case",
                    or_list(&names)
                ),
                None => format!("Recommend which of {} suits a given case", and_list(&names)),
            };
            let mut o = option("Recommend", text, first, task.clone());
            o.criterion = Some("The reason rests on what the text says about each".into());
            options.push(o);
        }
        let mut compare = option(
            "Compare",
            match &family {
                Some(f) => format!("Compare {} as {f}", and_list(&names)),
                None => format!("Compare {}", and_list(&names)),
            },
            first,
            task.clone(),
        );
        compare.criterion = Some("Names a difference between each two that the text gives".into());
        options.push(compare);
        if !api && !choosable {
            if let Some(f) = &family {
                options.push(option(
                    "Categorize",
                    format!("Categorize given examples of {f} as {}", or_list(&names)),
                    first,
                    task.clone(),
                ));
            } else {
                options.push(option(
                    "Distinguish",
                    format!("Distinguish between {}", and_list(&names)),
                    first,
                    task.clone(),
                ));
            }
        }
        let terminal = options
            .into_iter()
            .enumerate()
            .filter(|(_, o)| {
                o.level() >= BloomLevel::Apply
                    && self.fresh(o)
                    && (5..=30).contains(&o.text.split_whitespace().count())
            })
            .min_by_key(|(i, o)| (self.verb_uses.get(o.verb).copied().unwrap_or(0), *i))
            .map(|(_, o)| o)?;
        // The section's concept defined, before its terms.
        if let Some(h) = head {
            if let Some(sentence) = h
                .definition
                .filter(|s| !used_sentences.contains(s) && enabling.len() < 5)
            {
                let o = option(
                    "Define",
                    format!("Define {} in the words of the text", self.named(h)),
                    Some(sentence),
                    format!("define:{}", h.key),
                );
                if self.fresh(&o) {
                    enabling.insert(0, o);
                }
            }
        }
        enabling.sort_by_key(Option_::level);
        let shown = head.map_or_else(|| named_members[0].name.clone(), |h| h.name.clone());
        Some((self.commit(terminal, enabling), shown))
    }

    /// The enabling objectives of a terminal objective, relaxing in steps until there are
    /// two. Two that rest on one sentence have one answer ("Explain the connection between
    /// release() and the semaphore" and "... release() and acquire()" on the same line); only
    /// where the text gives too little for two otherwise may they share it, and only then is
    /// a filler asked.
    fn pick_enabling(&self, terminal: &Option_, candidates: &[Option_]) -> Vec<Option_> {
        let mut enabling = Vec::new();
        for one_per_sentence in [true, false] {
            enabling = self.choose_enabling(terminal, candidates, one_per_sentence, false);
            if enabling.len() >= 2 {
                return enabling;
            }
        }
        // Fillers only up to the two a terminal objective needs, after the rest.
        let with_fillers = self.choose_enabling(terminal, candidates, false, true);
        for filler in with_fillers.into_iter().filter(|o| o.filler) {
            if enabling.len() >= 2 {
                break;
            }
            if !enabling.iter().any(|e| e.task == filler.task) {
                enabling.push(filler);
            }
        }
        enabling
    }

    fn choose_enabling(
        &self,
        terminal: &Option_,
        candidates: &[Option_],
        one_per_sentence: bool,
        fillers: bool,
    ) -> Vec<Option_> {
        let mut enabling: Vec<Option_> = Vec::new();
        for candidate in candidates {
            if enabling.len() >= 5 {
                break;
            }
            // "Explain the rule …" under "Apply the rule …" on the same sentence asks the
            // same thing twice.
            let same_rule = is_rule_task(&candidate.task)
                && is_rule_task(&terminal.task)
                && candidate.sentence == terminal.sentence;
            if candidate.level() >= terminal.level()
                || candidate.filler && !fillers
                || same_rule
                || candidate.task == terminal.task
                || !self.fresh(candidate)
                || enabling.iter().any(|e| e.task == candidate.task)
                || quoted_statement(&candidate.text).is_some_and(|q| {
                    std::iter::once(terminal)
                        .chain(enabling.iter())
                        .any(|e| quoted_statement(&e.text) == Some(q))
                })
                || one_per_sentence
                    && candidate.sentence.is_some()
                    && enabling.iter().any(|e| e.sentence == candidate.sentence)
                || similarity(&candidate.text, &terminal.text) >= NEAR_DUPLICATE_SIMILARITY
                || enabling
                    .iter()
                    .any(|e| similarity(&e.text, &candidate.text) >= NEAR_DUPLICATE_SIMILARITY)
            {
                continue;
            }
            enabling.push(candidate.clone());
        }
        enabling
    }

    /// The one objective a topic without usable concepts gets: on its title.
    fn title_terminal(&mut self, subject: &str) -> Option<TerminalDraft> {
        let terminal = option(
            "Analyze",
            format!("Analyze the main ideas of {subject} in a short written answer"),
            None,
            "title:analyze".into(),
        );
        let enabling = vec![
            option(
                "Describe",
                format!("Describe {subject} in your own words"),
                None,
                "title:describe".into(),
            ),
            option(
                "Explain",
                format!("Explain the importance of {subject}, with one example"),
                None,
                "title:explain".into(),
            ),
            option(
                "Name",
                format!("Name three key terms of {subject}"),
                None,
                "title:name".into(),
            ),
        ];
        Some(self.commit(terminal, enabling))
    }

    fn commit(&mut self, terminal: Option_, enabling: Vec<Option_>) -> TerminalDraft {
        *self.verb_uses.entry(terminal.verb).or_default() += 1;
        let draft = |o: &Option_| ObjectiveDraft {
            text: o.text.clone(),
            verb: o.verb.to_string(),
            bloom_level: o.level(),
            condition: o.condition.clone(),
            criterion: o.criterion.clone(),
            evidence: self.evidence(o),
        };
        let result = TerminalDraft {
            objective: draft(&terminal),
            enabling: enabling.iter().map(draft).collect(),
        };
        for o in std::iter::once(&terminal).chain(enabling.iter()) {
            self.tasks.insert(o.task.clone());
            if is_rule_task(&o.task) {
                self.rule_sentences.extend(o.sentence);
            }
            if o.task.starts_with("define:") {
                self.defined_sentences.extend(o.sentence);
            }
            self.texts.push(o.text.clone());
            for c in self.pool {
                if super::sense::names_concept(&o.text, &c.key) {
                    self.covered.insert(c.key.clone());
                }
            }
        }
        result
    }

    fn evidence(&self, option: &Option_) -> Option<String> {
        if !self.analysis.has_source {
            return None;
        }
        let sentence = option
            .sentence
            .or_else(|| self.analysis.best_passage(&option.text))?;
        match option.also.and_then(|s| self.analysis.sentences.get(s)) {
            Some(next) => {
                let first = self.analysis.sentences.get(sentence)?;
                Some(source::clip_evidence(&format!(
                    "{} {}",
                    first.text, next.text
                )))
            }
            None => self.analysis.evidence(sentence),
        }
    }

    /// Terminal objectives that fit the concept's kind and the facts the text gives, best
    /// first. All at Apply or above.
    fn terminal_options(&self, c: &Concept, kind: ConceptKind, facts: &[Fact]) -> Vec<Option_> {
        let n = self.named(c);
        let key = &c.key;
        let first = c.sentences.first().copied();
        let mut out = Vec::new();
        let pair_task = |_verb: &str, a: &str, b: &str| pair_task(a, b);
        for fact in facts {
            match fact {
                Fact::Returns { sentence, other } if kind == ConceptKind::ApiFunction => {
                    if let Some(r) = self.named_key(other) {
                        let mut o = option(
                            "Diagnose",
                            format!("Diagnose why a call to {n} returns {r}"),
                            Some(*sentence),
                            pair_task("returns", key, other),
                        );
                        o.condition = Some(format!("Given a short program that calls {n}"));
                        out.push(o);
                    }
                }
                Fact::UsedWith { sentence, other }
                    if kind == ConceptKind::ApiFunction || kind == ConceptKind::ApiType =>
                {
                    if let Some(r) = self.named_key(other) {
                        let mut o = option(
                            "Use",
                            format!("Use {n} together with {r} in a short program"),
                            Some(*sentence),
                            pair_task("use", key, other),
                        );
                        o.criterion =
                            Some("The program follows the rules the text states for both".into());
                        out.push(o);
                    }
                }
                Fact::Comparison { sentence, other } => {
                    if let Some(r) = self.comparable_pair(c, other) {
                        let mut o = option(
                            "Compare",
                            format!("Compare {n} with {r}, using the account the text gives"),
                            Some(*sentence),
                            pair_task("compare", key, other),
                        );
                        o.criterion =
                            Some("Names at least one difference and one similarity".into());
                        out.push(o);
                    }
                }
                Fact::Kinds { sentence, kinds } => {
                    let names: Vec<String> =
                        kinds.iter().filter_map(|k| self.named_key(k)).collect();
                    if names.len() >= 2 {
                        out.push(option(
                            "Categorize",
                            format!("Categorize given examples of {n} as {}", or_list(&names)),
                            Some(*sentence),
                            format!("kinds:{key}"),
                        ));
                    }
                }
                Fact::Cause { sentence, other } if kind != ConceptKind::Event => {
                    if let Some(r) = self.named_term_pair(c, other) {
                        let text = match self.relation_clause(*sentence, key, other) {
                            Some((_, clause)) => format!("Examine why {clause}"),
                            // The link itself where one clause states it: readers edited
                            // "Examine the link …" to say which.
                            None => match self.statement(*sentence, &[key, other], false) {
                                Some(statement) => format!("Examine why {statement}"),
                                None => format!(
                                    "Examine the link the text describes between {n} and {r}"
                                ),
                            },
                        };
                        out.push(option(
                            "Examine",
                            text,
                            Some(*sentence),
                            pair_task("link", key, other),
                        ));
                    }
                }
                Fact::HowTo { sentence, clause } => {
                    let mut o = option(
                        "Demonstrate",
                        format!("Demonstrate {clause}"),
                        Some(*sentence),
                        format!("how:{clause}"),
                    );
                    o.criterion = Some("Follows the way the text gives".into());
                    out.push(o);
                }
                // "Perform test" on the numbered questions under "Test yourself": a bare
                // everyday word is no procedure to carry out.
                Fact::Steps { sentence, count }
                    if c.key.contains(' ') || !source::is_common_english(&c.key) =>
                {
                    let mut o = option(
                        "Perform",
                        format!("Perform {n} on a new example"),
                        Some(*sentence),
                        format!("perform:{key}"),
                    );
                    o.criterion = Some(format!(
                        "Follows all {count} steps in the order the text gives"
                    ));
                    out.push(o);
                }
                _ => {}
            }
        }
        let has = |f: fn(&Fact) -> bool| facts.iter().find(|x| f(x)).map(Fact::sentence);
        let definition = has(|f| matches!(f, Fact::Definition { .. }));
        let rule = has(|f| matches!(f, Fact::Rule { .. }));
        let normative_rule = has(|f| {
            matches!(
                f,
                Fact::Rule {
                    normative: true,
                    ..
                }
            )
        });
        let cause = has(|f| matches!(f, Fact::Cause { .. }));
        match kind {
            ConceptKind::ApiFunction => {
                let mut o = option(
                    "Use",
                    format!("Use {n} correctly in a short program"),
                    rule.or(definition).or(first),
                    format!("use:{key}"),
                );
                if rule.is_some() {
                    o.criterion = Some(format!(
                        "The program keeps the rules the text states for {n}"
                    ));
                }
                out.push(o);
            }
            ConceptKind::ApiConstant => {
                out.push(option(
                    "Diagnose",
                    format!("Diagnose what leads to {n} in a failing program"),
                    rule.or(first),
                    format!("diagnose:{key}"),
                ));
            }
            ConceptKind::ApiType => {
                out.push(option(
                    "Use",
                    format!("Use {n} objects correctly in a short program"),
                    definition.or(first),
                    format!("use:{key}"),
                ));
            }
            ConceptKind::ApiOption => {
                out.push(option(
                    "Use",
                    format!("Use the {n} option in a command that needs it"),
                    definition.or(first),
                    format!("use:{key}"),
                ));
            }
            // "Perform compression", "Perform the binding": only a named method is performed.
            // Only where the text says what it is or how it goes: "Perform lzh compression
            // method" on a name the text only mentions asks for what it never taught.
            ConceptKind::Procedure
                if facts::is_named_method(c, self.analysis) && rule.or(definition).is_some() =>
            {
                out.push(option(
                    "Perform",
                    format!("Perform {n} on a given case"),
                    rule.or(definition).or(first),
                    format!("perform:{key}"),
                ));
            }
            // A size or a level is read off or chosen, not calculated from values: only a
            // statistic is.
            ConceptKind::Measure if facts::is_statistic(c) => {
                out.push(option(
                    "Calculate",
                    format!("Calculate {n} of a given list of values"),
                    definition.or(first),
                    format!("calculate:{key}"),
                ));
            }
            ConceptKind::Event => {
                out.push(option(
                    "Analyze",
                    format!("Analyze the causes of {n}"),
                    cause.or(first),
                    format!("causes:{key}"),
                ));
                out.push(option(
                    "Evaluate",
                    format!("Evaluate the consequences of {n}"),
                    cause.or(first),
                    format!("consequences:{key}"),
                ));
            }
            // A scale or an index ("the Volcanic Explosivity Index") places cases on it.
            ConceptKind::Measure if matches!(c.key.rsplit(' ').next(), Some("index" | "scale")) => {
                out.push(option(
                    "Rank",
                    format!("Rank given examples on {n}"),
                    definition.or(first),
                    format!("rank:{key}"),
                ));
            }
            ConceptKind::Procedure | ConceptKind::Measure => {}
            ConceptKind::Person => {
                out.push(option(
                    "Assess",
                    format!("Assess the part {n} played in {}", self.subject),
                    first,
                    format!("role:{key}"),
                ));
            }
            ConceptKind::Relation => {
                out.push(option(
                    "Analyze",
                    format!("Analyze {n} in a case the text describes"),
                    definition.or(first),
                    format!("analyze:{key}"),
                ));
            }
            ConceptKind::Entity => {
                // Only a category has examples to judge: readers kept it for "Epoche" and
                // "Plinian eruptions", dropped it for a program ("GNU tar"), a discipline
                // ("volcanology") and a bare plural ("directories").
                if let Some(sentence) = definition
                    .filter(|_| !is_proper_name(c, self.analysis.language) && is_category(&c.name))
                {
                    out.push(option(
                        "Judge",
                        format!("Judge whether a given example fits the definition of {n}"),
                        Some(sentence),
                        format!("judge:{key}"),
                    ));
                }
                // A rule that opens with its condition ("If the parameter flush is set to
                // Z_SYNC_FLUSH, …") is applied as that condition: tracing its outcome in a new
                // case, which says what to do where "the rule the text gives" does not.
                if let Some((sentence, clause)) = self.conditioned_rule(c, facts) {
                    let mut o = option(
                        "Trace",
                        format!("Trace what happens {clause}"),
                        Some(sentence),
                        format!("rule:{key}"),
                    );
                    o.condition = Some("Given a new case".into());
                    o.criterion = Some("Follows the rule the text states".into());
                    out.push(o);
                } else if let Some(sentence) = normative_rule {
                    // Readers edited "Apply the rule the text gives for X" to say which rule
                    // (84 %): it is quoted where it is one clear sentence.
                    let text = match self.statement(sentence, &[key], true) {
                        Some(statement) => format!("Apply the rule that {statement} to a new case"),
                        None => format!("Apply the rule the text gives for {n} to a new case"),
                    };
                    out.push(option("Apply", text, normative_rule, format!("rule:{key}")));
                }
                // Its role, for an English text only where there is no source: no reader in
                // eight blind reads kept "Examine the role of X in <topic>" where the text was
                // there to ask something more specific (0 of 36 in the eighth); such a concept
                // gives way to one the text says more about, or to a shorter blueprint. Other
                // languages have few cue words to find facts by, so there it is most of what
                // their sources support: for a concept the author stresses or keeps coming
                // back to.
                let stressed = c.in_heading || c.marked || c.definition.is_some();
                // German writes its compounds as one word ("Versionsnummer", "Epoche" not).
                let phrase = c.key.contains(' ')
                    || self.analysis.language == "de" && c.name.chars().count() >= 9;
                let other_language = self.analysis.language != "en"
                    && (stressed || phrase)
                    && c.sentences.len() >= 2;
                if !self.analysis.has_source || other_language || self.role_fallback {
                    out.push(option(
                        "Examine",
                        format!("Examine the role of {n} in {}", self.subject),
                        first,
                        format!("role:{key}"),
                    ));
                }
            }
        }
        out
    }

    /// Enabling objectives that name the concept (so they lead to its terminal objective),
    /// lower levels first.
    fn enabling_options(
        &self,
        c: &Concept,
        kind: ConceptKind,
        facts: &[Fact],
        terminal: &Option_,
    ) -> Vec<Option_> {
        let n = self.named(c);
        let key = &c.key;
        let first = c.sentences.first().copied();
        let mut out = Vec::new();
        let has = |f: fn(&Fact) -> bool| facts.iter().find(|x| f(x)).map(Fact::sentence);
        let definition = has(|f| matches!(f, Fact::Definition { .. }));
        let rule = has(|f| matches!(f, Fact::Rule { .. }));
        let date = has(|f| matches!(f, Fact::Date { .. }));
        // The partner of a paired terminal objective gets an objective of its own, so both
        // halves of the comparison are taught.
        let partner = terminal
            .task
            .split_once(':')
            .and_then(|(_, pair)| pair.split_once('|'))
            .map(|(a, b)| if a == key { b } else { a })
            .and_then(|k| self.concept(k));
        match kind {
            ConceptKind::ApiFunction | ConceptKind::ApiType | ConceptKind::ApiOption => {
                out.push(option(
                    "State",
                    format!("State the purpose of {n} in one sentence"),
                    definition.or(first),
                    format!("purpose:{key}"),
                ));
            }
            ConceptKind::ApiConstant => {
                out.push(option(
                    "State",
                    format!("State what {n} signals to the caller"),
                    definition.or(first),
                    format!("purpose:{key}"),
                ));
            }
            _ => {
                if let Some(sentence) =
                    definition.filter(|_| !is_proper_name(c, self.analysis.language))
                {
                    out.push(option(
                        "Define",
                        format!("Define {n} in the words of the text"),
                        Some(sentence),
                        format!("define:{key}"),
                    ));
                }
            }
        }
        for fact in facts {
            match fact {
                Fact::Kinds { sentence, .. } => out.push(option(
                    "List",
                    format!("List the kinds of {n} that the text names"),
                    Some(*sentence),
                    format!("list-kinds:{key}"),
                )),
                Fact::Steps { sentence, .. } => out.push(option(
                    "List",
                    format!("List the steps of {n} in order"),
                    Some(*sentence),
                    format!("list-steps:{key}"),
                )),
                Fact::Returns { sentence, other } => {
                    if let Some(r) = self.named_key(other) {
                        out.push(option(
                            "Explain",
                            format!("Explain when {n} returns {r}"),
                            Some(*sentence),
                            format!("when-returns:{key}|{other}"),
                        ));
                    }
                }
                // Under "Analyze the causes of X" a cause connected to X is its answer.
                Fact::Cause { sentence, other } if terminal.task != format!("causes:{key}") => {
                    if let Some(r) = self.named_term_pair(c, other) {
                        out.push(self.connection(*sentence, c, other, &r));
                    }
                }
                Fact::HowTo { sentence, clause } => out.push(option(
                    "Explain",
                    format!("Explain {clause}"),
                    Some(*sentence),
                    format!("how:{clause}"),
                )),
                Fact::Comparison { sentence, other } => {
                    if let Some(r) = self.comparable_pair(c, other) {
                        out.push(option(
                            "Distinguish",
                            format!("Distinguish {n} from {r}"),
                            Some(*sentence),
                            pair_task(key, other),
                        ));
                    }
                }
                _ => {}
            }
        }
        if kind == ConceptKind::Event {
            if let Some(sentence) = date {
                out.push(option(
                    "State",
                    format!("State when {n} took place"),
                    Some(sentence),
                    format!("when:{key}"),
                ));
            }
            // A source that tells the event in a sentence or two gives no sequence to list or
            // summarise; readers dropped both there. Without a source they are what is left.
            let told_at_length = c.sentences.len() >= 3 || c.in_title;
            if told_at_length || !self.analysis.has_source {
                out.push(option(
                    "List",
                    format!("List the main events of {n} in order"),
                    first,
                    format!("events:{key}"),
                ));
            }
            if !self.analysis.has_source {
                out.push(option(
                    "Summarize",
                    format!("Summarize {n} in a short paragraph"),
                    first,
                    format!("describe:{key}"),
                ));
            }
        }
        // Tracing a rule's outcome needs the terms its condition names ("a free variable", "a
        // global statement"): what each is.
        if terminal.verb == "Trace" {
            if let Some(rule_sentence) = terminal.sentence {
                let named_there = self.pool.iter().filter(|o| {
                    o.key != *key
                        && !o.key.contains(key.as_str())
                        && !key.contains(o.key.as_str())
                        && o.sentences.contains(&rule_sentence)
                        && is_term(o, self.analysis.language)
                        && !is_weak_partner(o, self.analysis.language)
                });
                for other in named_there.take(2) {
                    let r = self.named(other);
                    out.push(match other.definition {
                        Some(d) if !is_proper_name(other, self.analysis.language) => option(
                            "Define",
                            format!("Define {r} in the words of the text"),
                            Some(d),
                            format!("define:{}", other.key),
                        ),
                        _ => self.describe_as_presented(other, &[rule_sentence]),
                    });
                }
            }
        }
        if let Some(p) = partner {
            let taken: Vec<usize> = out
                .iter()
                .filter_map(|o| o.sentence)
                .chain(terminal.sentence)
                .collect();
            out.push(self.describe_as_presented(p, &taken));
        }
        // The concepts the text discusses with this one (in its sentences, else its
        // sections), the ones it stresses and not yet taught first: an enabling objective
        // each connects them to this one.
        let mut partners: Vec<(u8, usize, &Concept, usize, Option<usize>)> = Vec::new();
        for (rank, other) in self.pool.iter().enumerate() {
            if other.key == *key
                || self.covered.contains(&other.key)
                || other.key.contains(key.as_str())
                || key.contains(other.key.as_str())
                || partner.is_some_and(|p| p.key == other.key)
                || is_weak_partner(other, self.analysis.language)
            {
                continue;
            }
            // Two terms at the two ends of a long sentence are not what it connects.
            let same_sentence = c
                .sentences
                .iter()
                .copied()
                .find(|s| other.sentences.contains(s) && self.close_in(*s, key, &other.key));
            // A sentence that relates the two, or two sentences side by side in one
            // paragraph ("… sulfur dioxide … . The cooling … Year Without a Summer"): readers
            // dropped connections drawn from anywhere in a section, whose evidence named only
            // one of the pair.
            let next_to = || {
                c.sentences.iter().copied().find_map(|m| {
                    other
                        .sentences
                        .iter()
                        .copied()
                        .find(|s| {
                            s.abs_diff(m) == 1
                                && self.analysis.sentences[*s].paragraph
                                    == self.analysis.sentences[m].paragraph
                        })
                        .map(|s| (m.min(s), m.max(s)))
                })
            };
            let stressed =
                other.in_heading || other.marked || other.definition.is_some() || other.api;
            let (sentence, also) = match same_sentence {
                Some(s) => (s, None),
                None => match next_to().filter(|_| stressed) {
                    Some((a, b)) => (a, Some(b)),
                    None => continue,
                },
            };
            let closeness = u8::from(!stressed) + 2 * u8::from(also.is_some());
            partners.push((closeness, rank, other, sentence, also));
        }
        partners.sort_by_key(|(closeness, rank, ..)| (*closeness, *rank));
        // Only partners the text stresses or that are terms of the field: "the connection
        // between nonlocal and rules" teaches nothing.
        // Nor a fragment: "we use 0-based indexing", "instructs tar", "2048 bytes", the same
        // name in other letters ("regex" and "Regex"), a lone adjective ("non-optional").
        partners.retain(|(_, _, other, ..)| {
            let first = other.name.split(' ').next().unwrap_or("").to_lowercase();
            let fragment = matches!(
                first.as_str(),
                "we" | "you" | "it" | "they" | "i" | "he" | "she" | "this" | "these" | "those"
            ) || other
                .name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
                || other.name.eq_ignore_ascii_case(&c.name)
                || self.analysis.language == "en"
                    && !other.api
                    && !other.key.contains(' ')
                    && !source::phrases::can_be_noun(&other.key);
            !fragment
        });
        partners.retain(|(_, _, other, ..)| is_term(other, self.analysis.language));
        // One connection per terminal objective: a second read as padding to teachers.
        // The best partner one sentence says something specific about, else the best at all
        // (a filler). Not a term from the next sentence: that one deserves its own terminal
        // objective more than a mention here ("carbon fixation" beside "the Calvin cycle").
        // Each partner costs a tagged sentence, so the search stops at the first that serves.
        let mut connection: Option<Option_> = None;
        for (_, _, other, sentence, also) in partners {
            let r = self.named(other);
            let mut o = self.connection(sentence, c, &other.key, &r);
            o.also = also;
            let specific = !o.filler && o.also.is_none();
            if specific {
                connection = Some(o);
                break;
            }
            connection.get_or_insert(o);
        }
        out.extend(connection);
        // What the text states about the concept, with the concept as its subject, in a
        // sentence no other objective here rests on: readers kept "Explain the statement
        // that …" (60 %) far more often than "Describe X …" (38 %) or "Interpret a given
        // value of X" (none of 11).
        let taken: Vec<usize> = out
            .iter()
            .filter_map(|o| o.sentence)
            .chain(terminal.sentence)
            .collect();
        // Where nothing else specific is asked yet, a statement that names the concept
        // though not as its subject ("Exception handlers are specified with the try … except
        // statement" for "the except clause"): readers kept a bare connection in its place
        // one time in eleven.
        let specific = out.iter().filter(|o| !o.filler).count();
        let stated = self.stated(c, &taken).or_else(|| {
            (specific < 2)
                .then(|| self.stated_in(c, &taken, false))
                .flatten()
        });
        if let Some((sentence, statement)) = stated {
            out.push(option(
                "Explain",
                format!("Explain the statement that {statement}"),
                Some(sentence),
                format!("statement:{key}"),
            ));
        }
        match kind {
            ConceptKind::ApiFunction
            | ConceptKind::ApiType
            | ConceptKind::ApiConstant
            | ConceptKind::ApiOption => {}
            // Only a statistic has values to interpret: readers dropped "Interpret a given
            // value of a boolean value" and "… of an outer level" (0 of 5 kept). They dropped
            // it for statistics too (0 of 6 in the tenth and eleventh reads): beside a
            // statement the text makes about one, it only fills.
            ConceptKind::Measure if facts::is_statistic(c) => {
                let mut o = option(
                    "Interpret",
                    format!("Interpret a given value of {n}"),
                    definition.or(first),
                    format!("interpret:{key}"),
                );
                o.filler = out.iter().any(|o| quoted_statement(&o.text).is_some());
                out.push(o);
            }
            _ => {
                // "Define X" already asks for what X is; describing it again is padding, and
                // teachers found "Describe X in your own words" vague wherever the text gave
                // anything more specific to ask.
                // Where there is an English source it only fills the second place beside a
                // specific one (readers dropped it, but kept what it stood beside: "State when
                // the Year Without a Summer took place"); a concept with nothing specific to
                // ask gives way. Other languages have few cues to find more by.
                let defined = out.iter().any(|o| o.task == format!("define:{key}"));
                let filler = out.len() == 1
                    || out.is_empty()
                        && (!self.analysis.has_source
                            || self.analysis.language != "en"
                            || self.role_fallback);
                if !defined && filler {
                    let mut o = option(
                        "Describe",
                        format!("Describe {n} in your own words"),
                        definition.or(first),
                        format!("describe:{key}"),
                    );
                    // Readers kept none of these beside an English text (0 of 15 in the
                    // tenth read): only where nothing else is left.
                    o.filler = self.analysis.has_source
                        && self.analysis.language == "en"
                        && !self.role_fallback;
                    out.push(o);
                }
            }
        }
        // A rule that opens with its condition is asked as that condition; another is
        // only named.
        if let Some((sentence, clause)) = self.conditioned_rule(c, facts) {
            out.push(option(
                "Predict",
                format!("Predict what happens {clause}"),
                Some(sentence),
                format!("explain-rule:{key}"),
            ));
        } else if let Some(sentence) = rule {
            // The rule itself where it is one clear sentence: "the rule the text gives"
            // left readers asking which.
            let text = match self.statement(sentence, &[key], true) {
                Some(statement) => format!("Explain the rule that {statement}"),
                None => format!("Explain the rule the text gives for {n}"),
            };
            out.push(option(
                "Explain",
                text,
                Some(sentence),
                format!("explain-rule:{key}"),
            ));
        }
        out
    }
}

/// A concept too plain to carry a terminal objective: one everyday word ("space", "symbol",
/// "feature") or a place name the text only mentions, unless the author stressed it.
fn is_weak_main(c: &Concept, language: &str) -> bool {
    let stressed = c.marked || c.definition.is_some() || c.in_heading || c.in_title;
    if c.api || stressed {
        return false;
    }
    let single = !c.key.contains(' ');
    let everyday = if language == "en" {
        source::is_common_english(&c.key)
            // A word the text uses twice at most that can be a verb was likely one ("slopes").
            || c.sentences.len() < 3 && source::phrases::can_be_verb(&c.name.to_lowercase())
    } else {
        c.key.chars().count() < 7 && c.sentences.len() < 3
    };
    single && everyday || is_proper_name(c, language) && c.sentences.len() < 5
}

/// A sentence of a source in another language to quote whole, in quotation marks, where it
/// is one short clean sentence that names every one of `keys`: objectives in English have no
/// words of their own to ask what it says ("Explain the statement that \"Die Epoche ist eine
/// einzelne vorzeichenlose Ganzzahl\""). Readers dropped most of "Describe X in your own
/// words" and "Explain the connection between X and Y" for such sources (the thirteenth read).
fn foreign_statement(text: &str, keys: &[&str]) -> Option<String> {
    let text = without_parentheses(text);
    let text = text.trim().trim_end_matches(['.', ':']).trim();
    let words: Vec<&str> = text.split_whitespace().collect();
    let code = text.contains([
        ';', ':', '?', '!', '"', '“', '”', '«', '»', '„', '[', '&', '<', '>', '=', '{', '`', '|',
        '\\', '/',
    ]) || text.contains(" - ")
        || text.contains(" -- ");
    // A definition list's term run into its body ("Upstream-Version Dies ist der Hauptteil
    // …") is no sentence.
    let run_in = words.get(1).is_some_and(|w| {
        matches!(
            *w,
            "Dies"
                | "Dieser"
                | "Diese"
                | "Dieses"
                | "Der"
                | "Die"
                | "Das"
                | "Ce"
                | "Cette"
                | "Le"
                | "La"
                | "Les"
                | "El"
                | "Los"
                | "Las"
                | "Este"
                | "Esta"
                | "Il"
                | "Elle"
        )
    });
    let starts_as_sentence = !run_in && text.chars().next().is_some_and(char::is_uppercase);
    // Out of its passage a sentence that points elsewhere ("wird nachfolgend beschrieben")
    // says nothing.
    let lower = text.to_lowercase();
    let points_away = [
        "nachfolgend",
        "unten",
        "oben",
        "ci-dessous",
        "ci-dessus",
        "a continuación",
        "más abajo",
    ]
    .iter()
    .any(|w| lower.split_whitespace().any(|x| x == *w) || w.contains(' ') && lower.contains(w));
    if points_away {
        return None;
    }
    if code || !starts_as_sentence || !(5..=MAX_STATEMENT_WORDS).contains(&words.len()) {
        return None;
    }
    let key = source::phrases::phrase_key(
        words
            .iter()
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '-'))
            .filter(|w| !w.is_empty()),
    );
    let names = |k: &str| {
        let k = k.to_lowercase();
        key.split(' ')
            .collect::<Vec<_>>()
            .windows(k.split(' ').count())
            .any(|w| w.join(" ") == k)
    };
    keys.iter().all(|k| names(k)).then(|| format!("\"{text}\""))
}

/// The sentence an objective quotes ("Explain the rule that …"), if it quotes one.
fn quoted_statement(text: &str) -> Option<&str> {
    [
        "Explain the statement that ",
        "Explain the rule that ",
        "Apply the rule that ",
    ]
    .iter()
    .find_map(|p| text.strip_prefix(p))
    .map(|q| q.strip_suffix(" to a new case").unwrap_or(q))
}

/// A section of exercises: "Exercises", "Actividades", "Übungen", "Questions" …
fn is_exercise_heading(heading: &str) -> bool {
    let first = heading
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_lowercase();
    [
        "exercise",
        "activit",
        "question",
        "actividad",
        "ejercicio",
        "pregunta",
        "übung",
        "aufgabe",
        "frage",
        "exercice",
    ]
    .iter()
    .any(|stem| first.starts_with(stem))
}

/// Whether a term names a category a given example may or may not belong to: not a
/// discipline ("volcanology", "statistics"), not a name with an acronym in it ("GNU tar"), not
/// one bare plural ("directories").
fn is_category(name: &str) -> bool {
    let lower = name.to_lowercase();
    let discipline = ["ology", "ography", "onomy", "ics"]
        .iter()
        .any(|end| lower.ends_with(end));
    let named = name.split(' ').any(is_acronym);
    let bare_plural = !name.contains(' ') && looks_plural(name);
    !(discipline || named || bare_plural)
}

/// One word in capitals ("GNU", "POSIX", "UTF8").
fn is_acronym(name: &str) -> bool {
    !name.contains(' ')
        && name.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Whether a noun phrase reads as a plural ("exception handlers", not "analysis" or "bus").
fn looks_plural(name: &str) -> bool {
    let last = name.rsplit(' ').next().unwrap_or(name).to_lowercase();
    last.chars().count() > 3
        && last.ends_with('s')
        && !["ss", "us", "is", "ics"].iter().any(|e| last.ends_with(e))
        && (last
            .strip_suffix('s')
            .is_some_and(source::phrases::can_be_noun)
            || last
                .strip_suffix("ies")
                .is_some_and(|stem| source::phrases::can_be_noun(&format!("{stem}y")))
            || last
                .strip_suffix("es")
                .is_some_and(source::phrases::can_be_noun))
}

/// A sentence without its parenthetical remarks ("(such as division by zero)").
fn without_parentheses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for ch in text.chars() {
        match ch {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(ch),
            _ => {}
        }
    }
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" ,", ",")
        .replace(" .", ".")
}

/// The text of tokens `from..to` of a sentence as written (with its possessives and
/// hyphens), found by walking the tokens through it in order.
fn source_span(
    text: &str,
    tokens: &[source::phrases::Token],
    from: usize,
    to: usize,
) -> Option<String> {
    let mut cursor = 0;
    let (mut start, mut end) = (None, None);
    for (i, token) in tokens.iter().enumerate().take(to) {
        let at = cursor + text.get(cursor..)?.find(token.text.as_str())?;
        cursor = at + token.text.len();
        if i == from {
            start = Some(at);
        }
        end = Some(cursor);
    }
    text.get(start?..end?).map(str::to_string)
}

/// A term of the field, which a connection may name: one the author stresses, an API name,
/// or words that are not all everyday English ("an outer level", "the offending piece" and
/// "statement" are not; "reference cycle" with "garbage collection" are, by their rarer word).
fn is_term(c: &Concept, language: &str) -> bool {
    // A verb's -ing form met in passing ("re-entering") names an action, not a term.
    let stressed = c.in_heading || c.marked || c.definition.is_some() || c.api;
    if language == "en" && !stressed && !c.key.contains(' ') && c.key.ends_with("ing") {
        return false;
    }
    c.in_heading
        || c.marked
        || c.definition.is_some()
        || c.api
        || language == "en" && c.key.split(' ').any(|w| !source::is_common_english(w))
        || language != "en" && (c.key.contains(' ') || c.name.chars().count() >= 6)
}

/// A concept too plain to pair another with: an everyday word, or a word that is mostly a
/// verb ("rises").
fn is_weak_partner(c: &Concept, language: &str) -> bool {
    let stressed = c.marked || c.definition.is_some() || c.in_heading;
    !c.api
        && !stressed
        && !c.key.contains(' ')
        && language == "en"
        && (source::is_common_english(&c.key)
            || source::phrases::can_be_verb(&c.name.to_lowercase()))
}

/// A name ("Mauna Loa", "Iceland"): capitalised words that are not an acronym or an API.
fn is_proper_name(c: &Concept, language: &str) -> bool {
    language == "en"
        && !c.api
        && c.name
            .split(' ')
            // "Pompeii and Herculaneum", "Year Without a Summer": the small words stay small.
            .filter(|w| !matches!(*w, "and" | "of" | "the" | "a" | "an" | "on" | "in" | "de"))
            .all(|w| w.chars().next().is_some_and(char::is_uppercase))
        && !c
            .name
            .chars()
            .all(|ch| ch.is_uppercase() || !ch.is_alphabetic())
}

/// Whether a task applies or explains a rule the text states.
fn is_rule_task(task: &str) -> bool {
    task.starts_with("rule:") || task.starts_with("explain-rule:")
}

/// The task of any objective about two concepts: one pair is taught once, at one level.
fn pair_task(a: &str, b: &str) -> String {
    let (x, y) = if a < b { (a, b) } else { (b, a) };
    format!("pair:{x}|{y}")
}

/// "a" or "an" by the sound of the next word (letters of acronyms are spelled out).
fn indefinite_article(word: &str) -> &'static str {
    let first_word = word.split_whitespace().next().unwrap_or("");
    let lower = first_word.to_lowercase();
    // Short acronyms are spelled out ("an SQL"); longer ones are read as words ("a SIGSEGV").
    let acronym =
        (2..=4).contains(&first_word.len()) && first_word.chars().all(|c| c.is_ascii_uppercase());
    if acronym {
        return if first_word
            .starts_with(['A', 'E', 'F', 'H', 'I', 'L', 'M', 'N', 'O', 'R', 'S', 'X'])
        {
            "an"
        } else {
            "a"
        };
    }
    let vowel_sound = lower.starts_with(['a', 'e', 'i', 'o'])
        || lower.starts_with('u')
            && !lower.starts_with("uni")
            && !lower.starts_with("use")
            && !lower.starts_with("usu")
        || lower.starts_with("hour")
        || lower.starts_with("honest");
    if vowel_sound && !lower.starts_with("one") && !lower.starts_with("eu") {
        "an"
    } else {
        "a"
    }
}

/// A phrase of two or more lower-case words ending on a singular noun ("two-sample t-test",
/// "function definition"); not a plural, not a name, not "data".
fn is_bare_count_phrase(name: &str) -> bool {
    let words: Vec<&str> = name.split_whitespace().collect();
    let Some(last) = words.last() else {
        return false;
    };
    // Nouns of a process or a quality ("resolution", "input", "management") are mostly
    // uncountable in general statements.
    let process = [
        "tion", "sion", "ment", "ance", "ence", "ing", "ity", "put", "time",
    ]
    .iter()
    .any(|end| last.ends_with(end));
    words.len() >= 2
        && words
            .iter()
            .all(|w| w.chars().all(|c| !c.is_uppercase()) && w.chars().any(char::is_alphabetic))
        && !last.ends_with('s')
        && !process
        && !matches!(
            *last,
            "data" | "information" | "software" | "hardware" | "media"
        )
}

/// "A, B and C".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "Measures of centre" as it reads inside a sentence; names and acronyms keep their capitals.
/// A heading in title case ("Crate Feature Flags") reads in lower case throughout.
fn lower_first(text: &str) -> String {
    let title_case = text.split_whitespace().count() > 1
        && text
            .split_whitespace()
            .filter(|w| w.chars().count() > 3)
            .all(|w| w.chars().next().is_some_and(char::is_uppercase));
    if title_case {
        return text
            .split_whitespace()
            .map(|w| {
                let plain = w.chars().skip(1).all(|c| !c.is_uppercase())
                    && source::is_plain_word(&w.to_lowercase());
                if plain {
                    w.to_lowercase()
                } else {
                    w.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    let first = text.split_whitespace().next().unwrap_or("");
    let plain = first.chars().skip(1).all(|c| !c.is_uppercase())
        && source::is_plain_word(&first.to_lowercase());
    if !plain {
        return text.to_string();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "A, B or C".
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::{
        foreign_statement, is_acronym, is_category, is_exercise_heading, looks_plural,
        plan_blueprint, quoted_statement, without_parentheses,
    };
    use crate::domain::Topic;

    fn texts(title: &str, source: &str, target: usize) -> Vec<String> {
        let topic = Topic {
            id: uuid::Uuid::nil(),
            title: title.into(),
            description: None,
            source_text: Some(source.into()),
            created_at: 0,
            updated_at: 0,
        };
        plan_blueprint(&topic, target)
            .terminals
            .into_iter()
            .flat_map(|t| std::iter::once(t.objective).chain(t.enabling))
            .map(|o| o.text)
            .collect()
    }

    #[test]
    fn a_connection_says_what_the_sentence_says() {
        let source = "Exceptions\n\nAn *exception* is a signal that an error occurred while a \
            program runs. The Python interpreter raises an exception when it detects a run-time \
            error (such as division by zero).\n";
        let all = texts("Error handling", source, 6);
        // The subject, its verb and the other term, asked as the question the rest of the
        // sentence answers ("when it detects a run-time error").
        assert!(
            all.iter()
                .any(|t| t == "Explain when the Python interpreter raises an exception"),
            "{all:#?}"
        );
        assert!(
            !all.iter().any(|t| t.contains("connection between")),
            "{all:#?}"
        );
    }

    #[test]
    fn a_statement_is_quoted_once_and_only_when_it_stands_alone() {
        let source = "gzip\n\nThe gzip command reduces the size of the named files. \
            *Compression* is always performed, even if the compressed file is slightly larger \
            than the original. The *compressed file* keeps the name of the original file. If \
            that program is GNU tar, the compressed file does this for you.\n";
        let all = texts("Compressing files", source, 4);
        let quoting = |part: &str| {
            all.iter()
                .filter(|t| quoted_statement(t).is_some_and(|q| q.contains(part)))
                .count()
        };
        assert_eq!(quoting("compression is always performed"), 1, "{all:#?}");
        // A sentence that points elsewhere ("does this for you") means nothing alone.
        assert!(!all.iter().any(|t| t.contains("does this")), "{all:#?}");
    }

    #[test]
    fn quoted_statements_are_recognised_and_parentheses_dropped() {
        assert_eq!(
            quoted_statement("Apply the rule that the mean is the sum divided by n to a new case"),
            Some("the mean is the sum divided by n")
        );
        assert_eq!(
            quoted_statement("Explain the connection between a and b"),
            None
        );
        assert_eq!(
            without_parentheses("It raises an exception (such as division by zero)."),
            "It raises an exception."
        );
    }

    #[test]
    fn an_exercise_section_is_told_by_its_heading() {
        for heading in [
            "Actividades",
            "Exercises",
            "Übungen",
            "Questions for review",
        ] {
            assert!(is_exercise_heading(heading), "{heading}");
        }
        for heading in ["Evaporación", "Binding of names", "Exceptions"] {
            assert!(!is_exercise_heading(heading), "{heading}");
        }
    }

    #[test]
    fn only_a_category_has_examples_to_judge() {
        for category in [
            "Plinian eruptions",
            "Epoche",
            "a caldera",
            "exception handler",
        ] {
            assert!(is_category(category), "{category}");
        }
        for other in ["volcanology", "statistics", "GNU tar", "directories"] {
            assert!(!is_category(other), "{other}");
        }
    }

    #[test]
    fn an_acronym_is_one_word_in_capitals() {
        for acronym in ["GNU", "POSIX", "UTF8"] {
            assert!(is_acronym(acronym), "{acronym}");
        }
        for other in ["Lock", "GNU tar", "A", "Z_OK2x"] {
            assert!(!is_acronym(other), "{other}");
        }
    }

    #[test]
    fn a_plural_takes_no_indefinite_article() {
        assert!(looks_plural("exception handlers"));
        for singular in ["analysis", "bus", "process", "statistics", "gas"] {
            assert!(!looks_plural(singular), "{singular}");
        }
    }

    #[test]
    fn what_the_text_states_about_a_concept_is_asked_as_it_states_it() {
        let source = "# Measures of centre\n\nA measure of centre summarises where the data \
            lie.\n\n- The **mean** is the sum of all values divided by the number of values. \
            It uses every value, so a single extreme value can pull it far away.\n- The \
            **median** is the middle value once the data are sorted. The median is resistant \
            to outliers.\n- The **mode** is the most frequent value.\n";
        let all = texts("Descriptive statistics", source, 4);
        assert!(
            all.iter()
                .any(|t| t == "Explain the statement that the median is resistant to outliers"),
            "{all:#?}"
        );
    }

    #[test]
    fn a_sentence_in_another_language_is_quoted_whole_where_it_names_the_concept() {
        assert_eq!(
            foreign_statement(
                "Für diesen Zweck zählt die leere Zeichenkette als Null.",
                &["zeichenkette"]
            )
            .as_deref(),
            Some("\"Für diesen Zweck zählt die leere Zeichenkette als Null\"")
        );
        // Not where it does not name it, is code, or is a fragment.
        assert_eq!(
            foreign_statement(
                "Für diesen Zweck zählt die leere Kette als Null.",
                &["zeichenkette"]
            ),
            None
        );
        assert_eq!(
            foreign_statement(
                "Die Epoche wird mit epoch=1 gesetzt und ist klein.",
                &["epoche"]
            ),
            None
        );
        assert_eq!(
            foreign_statement("und die Epoche ist eine kleine Zahl.", &["epoche"]),
            None
        );
        assert_eq!(
            foreign_statement(
                "Epoche Dies ist eine einzelne vorzeichenlose Ganzzahl.",
                &["epoche"]
            ),
            None
        );
        assert_eq!(
            foreign_statement(
                "Das Verhalten der Epoche wird nachfolgend beschrieben.",
                &["epoche"]
            ),
            None
        );
    }
}
