//! Reference texts: what a teacher asks of a man page's options and messages and of a
//! README's how-to sections. Each gives terminal objectives of its own shape ("Use the gzip
//! option a given task needs: …", "Diagnose the cause of a given gzip message: …", "Use
//! RegexSet to match multiple regular expressions simultaneously"), planned before the
//! concept-by-concept objectives.

use super::facts;
use super::outline;
use super::{option, or_list, Option_, Planner};
use crate::domain::TerminalDraft;
use crate::generator::source::Concept;

impl Planner<'_> {
    /// Terminal objectives on the options a man page documents entry by entry: the ones the
    /// text says most about, in groups of up to four, each option with an enabling objective
    /// on what it does (its entry's first sentence). At most `max` groups.
    pub(super) fn option_terminals(
        &mut self,
        max: usize,
    ) -> (Vec<(usize, TerminalDraft)>, Vec<String>) {
        let analysis = self.analysis;
        // (names, first sentence of the description, how often the prose names it)
        let mut entries: Vec<(&[String], usize, usize)> = Vec::new();
        for (i, sentence) in analysis.sentences.iter().enumerate() {
            let names = sentence.entry.as_slice();
            if !names.first().is_some_and(|n| n.starts_with('-')) {
                continue;
            }
            let lower = sentence.text.to_lowercase();
            // "Display a help screen and quit", "Print the version": about the program, not
            // the task.
            let about_program = ["help", "version", "licence", "license", "usage"]
                .iter()
                .any(|w| lower.contains(w))
                && ["display", "print", "show", "output", "quit", "exit"]
                    .iter()
                    .any(|w| lower.contains(w));
            // "Synonym for the -L option … This option is deprecated": the other entry speaks
            // for it.
            let synonym = [
                "synonym",
                "deprecated",
                "same as",
                "equivalent to",
                "obsolete",
            ]
            .iter()
            .any(|w| {
                analysis
                    .sentences
                    .iter()
                    .skip(i)
                    .take_while(|s| s.paragraph == sentence.paragraph)
                    .any(|s| s.text.to_lowercase().contains(w))
            });
            if about_program || synonym || sentence.words.is_empty() {
                continue;
            }
            let mentions = analysis
                .sentences
                .iter()
                .enumerate()
                .filter(|(j, other)| {
                    *j != i
                        && names.iter().any(|n| {
                            other
                                .text
                                .split(|c: char| c.is_whitespace() || c == ',' || c == '(')
                                .any(|w| w.trim_end_matches(['.', ')', ';', ':']) == n)
                        })
                })
                .count();
            let said = analysis
                .sentences
                .iter()
                .skip(i)
                .take_while(|s| s.paragraph == sentence.paragraph)
                .count();
            entries.push((names, i, mentions * 2 + said.min(2)));
        }
        // Every name of a documented option: the options objectives speak for them all, so
        // no concept objective asks about one of them again ("Use the --best option …").
        let names: Vec<String> = entries
            .iter()
            .flat_map(|(n, _, _)| n.iter())
            .map(|n| crate::generator::source::phrases::phrase_key(std::iter::once(n.as_str())))
            .collect();
        if entries.len() < 2 {
            return (Vec::new(), Vec::new());
        }
        let mut best = entries.clone();
        best.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(&b.1)));
        best.truncate(max * outline::MAX_MEMBERS);
        best.sort_by_key(|e| e.1);
        let parts = best.len().div_ceil(outline::MAX_MEMBERS);
        let size = best.len().div_ceil(parts);
        let command = analysis.document.command.clone();
        let mut out = Vec::new();
        for chunk in best.chunks(size) {
            if chunk.len() < 2 {
                continue;
            }
            let names: Vec<String> = chunk
                .iter()
                .filter_map(|(n, _, _)| option_display_name(n))
                .collect();
            let enabling: Vec<Option_> = chunk
                .iter()
                .filter_map(|(n, sentence, _)| {
                    // One name: "(-a)" beside it reads as an article to a grammar checker.
                    let shown = option_display_name(n)?;
                    Some(option(
                        "State",
                        format!("State what the {shown} option does"),
                        Some(*sentence),
                        format!("purpose:{}", shown.to_lowercase()),
                    ))
                })
                .filter(|o| self.fresh(o))
                .collect();
            if enabling.len() < 2 {
                continue;
            }
            let whose = command
                .as_deref()
                .map_or(String::new(), |c| format!("{c} "));
            let mut terminal = option(
                "Use",
                format!(
                    "Use the {whose}option a given task needs: {}",
                    or_list(&names)
                ),
                Some(chunk[0].1),
                format!("options:{}", names.join("|")),
            );
            terminal.condition = Some("Given tasks described in words".into());
            terminal.criterion =
                Some("Names for each task the option whose description fits it".into());
            if !self.fresh(&terminal) {
                continue;
            }
            out.push((chunk[0].1, self.commit(terminal, enabling)));
        }
        let names = if out.is_empty() { Vec::new() } else { names };
        (out, names)
    }

    /// The terminal objective on the messages a man page explains under DIAGNOSTICS: which
    /// situation a message reports, with an enabling objective on each of up to four.
    pub(super) fn message_terminal(&mut self) -> Option<(usize, TerminalDraft)> {
        let analysis = self.analysis;
        let messages: Vec<(&str, usize)> = analysis
            .sentences
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                // A message in words: "xx.x% Percentage …" or "… -- unchanged" quote badly.
                let m = s.entry.first().filter(|n| {
                    !n.starts_with('-')
                        && n.split_whitespace()
                            .all(|w| w.trim_end_matches(':').chars().all(char::is_alphabetic))
                })?;
                (s.entry.len() == 1 && !s.words.is_empty()).then_some((m.as_str(), i))
            })
            .fold(Vec::new(), |mut kept: Vec<(&str, usize)>, (m, i)| {
                // "gunzip: corrupt input" after "Corrupt input" is the same message.
                let lower = m.to_lowercase();
                if !kept.iter().any(|(k, _)| {
                    let k = k.to_lowercase();
                    k.contains(&lower) || lower.contains(&k)
                }) {
                    kept.push((m, i));
                }
                kept
            })
            .into_iter()
            .take(outline::MAX_MEMBERS)
            .collect();
        if messages.len() < 2 {
            return None;
        }
        let whose = analysis
            .document
            .command
            .as_deref()
            .map_or(String::new(), |c| format!("{c} "));
        let quoted: Vec<String> = messages.iter().map(|(m, _)| format!("\"{m}\"")).collect();
        let mut terminal = option(
            "Diagnose",
            format!(
                "Diagnose the cause of a given {whose}message: {}",
                or_list(&quoted)
            ),
            Some(messages[0].1),
            format!("messages:{}", quoted.join("|")),
        );
        terminal.condition = Some("Given the message and the command that printed it".into());
        terminal.criterion = Some("Names the cause the text gives and what to do".into());
        if !self.fresh(&terminal) || terminal.text.split_whitespace().count() > 30 {
            return None;
        }
        let enabling: Vec<Option_> = messages
            .iter()
            .zip(&quoted)
            .map(|((_, sentence), q)| {
                option(
                    "Explain",
                    format!("Explain the cause of the message {q}"),
                    Some(*sentence),
                    format!("message:{q}"),
                )
            })
            .filter(|o| self.fresh(o))
            .collect();
        if enabling.len() < 2 {
            return None;
        }
        Some((messages[0].1, self.commit(terminal, enabling)))
    }

    /// Terminal objectives on the sections whose heading is a task ("Usage: avoid compiling
    /// the same regex in a loop", "Match multiple regular expressions"): "Use X to <task>",
    /// where X is the API name the section's prose names most, with enabling objectives on X.
    pub(super) fn task_terminals(&mut self) -> Vec<(usize, TerminalDraft, String)> {
        let analysis = self.analysis;
        if analysis.language != "en" {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (index, section) in analysis.document.sections.iter().enumerate() {
            let Some(task) = section.heading.as_deref().and_then(heading_task) else {
                continue;
            };
            // The API name this section names most (the first on a tie), not the topic itself.
            let mut best: Option<(&Concept, usize, usize)> = None;
            for c in self.pool.iter().copied() {
                if !c.api || analysis.is_title_part(&c.key) || self.covered.contains(&c.key) {
                    continue;
                }
                let here: Vec<usize> = c
                    .sentences
                    .iter()
                    .copied()
                    .filter(|s| analysis.sentences[*s].section == index)
                    .collect();
                if let Some(&first) = here.first() {
                    if best.is_none_or(|(_, n, f)| here.len() > n || here.len() == n && first < f) {
                        best = Some((c, here.len(), first));
                    }
                }
            }
            // A name the section names no more often than another is no clear answer.
            let Some((api, count, first)) = best else {
                continue;
            };
            let tied = self.pool.iter().any(|c| {
                c.api
                    && c.key != api.key
                    && !analysis.is_title_part(&c.key)
                    && c.sentences
                        .iter()
                        .filter(|s| analysis.sentences[**s].section == index)
                        .count()
                        == count
            });
            // And the section tells the reader to use it ("how to use a RegexSet", "use the
            // regex::bytes::Regex API"), not only that something uses it.
            let name = api.name.to_lowercase();
            let told = api
                .sentences
                .iter()
                .filter(|s| analysis.sentences[**s].section == index)
                .any(|s| {
                    let lower = analysis.sentences[*s].text.to_lowercase();
                    [
                        "use ",
                        "use a ",
                        "use an ",
                        "use the ",
                        "using ",
                        "using a ",
                        "using the ",
                    ]
                    .iter()
                    .any(|cue| {
                        lower.match_indices(&format!("{cue}{name}")).any(|(at, _)| {
                            at == 0 || !lower[..at].ends_with(|c: char| c.is_alphanumeric())
                        })
                    })
                });
            if tied || !told {
                continue;
            }
            let kind = facts::kind_of(api, analysis);
            let facts = facts::facts_of(api, analysis, self.pool);
            let mut terminal = option(
                "Use",
                format!("Use {} to {task}", self.named(api)),
                Some(first),
                format!("use:{}", api.key),
            );
            terminal.criterion = Some("Follows what the text shows under its heading".into());
            if !self.fresh(&terminal)
                || !(5..=30).contains(&terminal.text.split_whitespace().count())
            {
                continue;
            }
            let candidates = self.enabling_options(api, kind, &facts, &terminal);
            let mut enabling = self.pick_enabling(&terminal, &candidates);
            if enabling.len() < 2 {
                continue;
            }
            enabling.sort_by_key(Option_::level);
            out.push((first, self.commit(terminal, enabling), api.name.clone()));
        }
        out
    }
}

/// The task a section's heading names, in the words that follow "Use X to": "Usage: avoid
/// compiling the same regex in a loop" gives "avoid compiling the same regex in a loop". A
/// heading that names a thing ("Crate features", "Performance") names no task.
fn heading_task(heading: &str) -> Option<String> {
    let mut rest = heading.trim();
    for prefix in [
        "Usage:",
        "Example:",
        "Examples:",
        "Recipe:",
        "How to",
        "How-to:",
    ] {
        if let Some(after) = rest.strip_prefix(prefix) {
            rest = after.trim();
        }
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    if !(2..=10).contains(&words.len()) || rest.contains(['?', '!', '(', '"']) {
        return None;
    }
    let first = words[0].to_lowercase();
    if !TASK_VERBS.contains(&first.as_str()) {
        return None;
    }
    let mut task = first;
    for w in &words[1..] {
        task.push(' ');
        task.push_str(w);
    }
    Some(task.trim_end_matches(['.', ':']).to_string())
}

/// Verbs a how-to heading opens with, in their base form.
const TASK_VERBS: &[&str] = &[
    "add",
    "avoid",
    "build",
    "change",
    "check",
    "choose",
    "compile",
    "compress",
    "configure",
    "convert",
    "count",
    "create",
    "debug",
    "decompress",
    "define",
    "delete",
    "deploy",
    "detect",
    "disable",
    "enable",
    "extract",
    "filter",
    "find",
    "format",
    "handle",
    "install",
    "iterate",
    "join",
    "list",
    "load",
    "match",
    "measure",
    "merge",
    "parse",
    "read",
    "remove",
    "rename",
    "replace",
    "run",
    "save",
    "search",
    "select",
    "send",
    "set",
    "sort",
    "split",
    "start",
    "stop",
    "test",
    "update",
    "use",
    "validate",
    "write",
];

/// How an option reads in an objective: its long name ("--keep"), else its first name.
fn option_display_name(names: &[String]) -> Option<String> {
    names
        .iter()
        .find(|n| n.starts_with("--") && n.len() > 3)
        .or(names.first())
        .filter(|n| n.len() >= 2)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::heading_task;
    use crate::domain::{ObjectiveDraft, Topic};
    use crate::generator::offline::plan_blueprint;

    fn topic(title: &str, source: &str) -> Topic {
        Topic {
            id: uuid::Uuid::nil(),
            title: title.into(),
            description: None,
            source_text: Some(source.into()),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn objectives(topic: &Topic, target: usize) -> Vec<ObjectiveDraft> {
        plan_blueprint(topic, target)
            .terminals
            .into_iter()
            .flat_map(|t| std::iter::once(t.objective).chain(t.enabling))
            .collect()
    }

    const MAN_PAGE: &str = "FROB(1)              General Commands Manual              FROB(1)

NAME
       frob, unfrob - pack or unpack frob archives

DESCRIPTION
       The frob command packs the named files into one frob archive. Each archive starts
       with a frob header that names the packed files. The unfrob command unpacks them
       again and checks the frob header first.

OPTIONS
       -k --keep
              Keep the input files after packing them.

       -c --stdout
              Write the archive on standard output instead of a file. If the
              option
              --keep is also given, the input files stay too.

       -l --list
              List the files a frob archive holds, with their sizes.

       -h --help
              Display a help screen and quit.

DIAGNOSTICS
       file: not a frob archive
              The file given to unfrob was never packed by frob.

       file: damaged header
              The frob header of the archive cannot be read; the archive is damaged.
";

    #[test]
    fn a_man_page_gives_an_objective_on_its_options_and_one_on_its_messages() {
        let all = objectives(&topic("Packing files with frob", MAN_PAGE), 5);
        let texts: Vec<&str> = all.iter().map(|o| o.text.as_str()).collect();
        let options = all
            .iter()
            .find(|o| {
                o.text
                    .starts_with("Use the frob option a given task needs:")
            })
            .unwrap_or_else(|| panic!("no options objective in {texts:#?}"));
        assert!(
            options.text.contains("--keep") && options.text.contains("--list"),
            "{}",
            options.text
        );
        // "--keep is also given" goes on a sentence; it opens no entry of its own, and help
        // is about the program, not a task.
        assert!(!options.text.contains("--help"), "{}", options.text);
        let keep = all
            .iter()
            .find(|o| o.text == "State what the --keep option does")
            .unwrap_or_else(|| panic!("no --keep objective in {texts:#?}"));
        assert_eq!(
            keep.evidence.as_deref(),
            Some("Keep the input files after packing them.")
        );
        let messages = all
            .iter()
            .find(|o| {
                o.text
                    .starts_with("Diagnose the cause of a given frob message:")
            })
            .unwrap_or_else(|| panic!("no messages objective in {texts:#?}"));
        assert!(
            messages.text.contains("\"not a frob archive\""),
            "{}",
            messages.text
        );
        let cause = all
            .iter()
            .find(|o| o.text == "Explain the cause of the message \"damaged header\"")
            .unwrap_or_else(|| panic!("no message cause in {texts:#?}"));
        assert!(cause
            .evidence
            .as_deref()
            .is_some_and(|e| e.starts_with("The frob header of the archive cannot be read")));
    }

    #[test]
    fn a_how_to_heading_with_an_api_name_asks_to_use_it_for_that_task() {
        let source = "# patterns\n\nThe patterns crate matches text against patterns.\n\n\
            ## Usage: match many patterns at once\n\n\
            This shows how to use a `PatternSet` to match many patterns in one scan of the text. \
            A `PatternSet` compiles all of its patterns together. If a `PatternSet` is empty, \
            every search reports no match.\n\n\
            ## Performance\n\nSearches take linear time in the length of the text.\n";
        let all = objectives(&topic("Matching patterns", source), 3);
        let texts: Vec<&str> = all.iter().map(|o| o.text.as_str()).collect();
        assert!(
            texts.contains(&"Use PatternSet to match many patterns at once"),
            "{texts:#?}"
        );
    }

    #[test]
    fn only_headings_that_open_with_a_task_verb_name_a_task() {
        assert_eq!(
            heading_task("Usage: avoid compiling the same regex in a loop").as_deref(),
            Some("avoid compiling the same regex in a loop")
        );
        assert_eq!(
            heading_task("Match multiple patterns").as_deref(),
            Some("match multiple patterns")
        );
        assert_eq!(heading_task("Crate features"), None);
        assert_eq!(heading_task("Performance"), None);
        assert_eq!(heading_task("Use"), None);
    }
}
