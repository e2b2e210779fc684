//! The text's own outline: what each section is about (its heading's concept) and the terms
//! it introduces (the ones it defines, marks, or opens a list item or a run-in paragraph
//! with). A teacher builds a blueprint the way the author structured the text: a terminal
//! objective per section, and enabling objectives on the terms the section introduces.

use std::collections::BTreeSet;

use crate::generator::source::markup::ParagraphKind;
use crate::generator::source::phrases::phrase_key;
use crate::generator::source::{Analysis, Concept};

/// The most terms one terminal objective groups: more reads as a list, not an objective.
pub const MAX_MEMBERS: usize = 4;

/// One section of the text as an outline sees it.
#[derive(Debug, Clone)]
pub struct SectionGroup<'a> {
    pub section: usize,
    /// The concept the heading names, when it is one of the candidates.
    pub head: Option<&'a Concept>,
    /// The terms the section introduces, each with the sentence that introduces it, in the
    /// text's order.
    pub members: Vec<(&'a Concept, usize)>,
    /// The members open the items of a numbered list: steps of the head, not kinds of it.
    pub steps: bool,
}

impl SectionGroup<'_> {
    /// How much the section weighs: the strength of what it introduces.
    pub fn weight(&self) -> f64 {
        self.members.iter().map(|(c, _)| c.score).sum::<f64>() + self.head.map_or(0.0, |h| h.score)
    }

    /// The first sentence a member is introduced by (the group's place in the text).
    pub fn first_sentence(&self) -> usize {
        self.members.first().map_or(usize::MAX, |(_, s)| *s)
    }
}

/// Words a list item or a run-in paragraph writes right after the term it introduces
/// ("**mean** is", "One-sample t-test: ...", "Hotspots. A hotspot ...").
fn introduces_term(after: &str) -> bool {
    let after = after.trim_start();
    after.is_empty()
        || after.starts_with([':', '(', '—', '–', ','])
        || after.starts_with("- ")
        || ["is ", "are ", "was ", "were ", "means ", "refers "]
            .iter()
            .any(|w| after.starts_with(w))
}

/// The outline of the text: every section that introduces at least two terms, in text order.
/// `usable` says whether a concept may be a member at all (specific enough to teach).
pub fn section_groups<'a>(
    analysis: &Analysis,
    pool: &[&'a Concept],
    usable: impl Fn(&Concept) -> bool,
) -> Vec<SectionGroup<'a>> {
    let find = |key: &str| pool.iter().copied().find(|c| c.key == key);
    let mut groups = Vec::new();
    for (index, section) in analysis.document.sections.iter().enumerate() {
        let sentences: Vec<usize> = analysis
            .sentences
            .iter()
            .enumerate()
            .filter(|(_, s)| s.section == index)
            .map(|(i, _)| i)
            .collect();
        if sentences.is_empty() {
            continue;
        }
        // The heading's concept: the heading itself, or what "Types of X" is about.
        let head = section.heading.as_deref().and_then(|heading| {
            let lower = heading.to_lowercase();
            let rest = ["types of ", "kinds of ", "forms of ", "classes of "]
                .iter()
                .find_map(|p| lower.find(p).map(|at| &heading[at + p.len()..]))
                .unwrap_or(heading);
            let words: Vec<&str> = rest
                .split_whitespace()
                // "1. Measures of centre": the number is the heading's, not the concept's.
                .skip_while(|w| w.chars().all(|c| c.is_ascii_digit() || c == '.'))
                .collect();
            find(&phrase_key(words.iter().copied()))
        });
        let mut members: Vec<(&Concept, usize)> = Vec::new();
        // Terms the prose defines without marking them: members only beside another term the
        // section introduces (in the same or the next paragraph): definitions scattered over a
        // long section are no set of related terms.
        let mut defined: Vec<(&Concept, usize)> = Vec::new();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut last_paragraph = None;
        for &i in &sentences {
            let sentence = &analysis.sentences[i];
            let opens_paragraph = last_paragraph != Some(sentence.paragraph);
            last_paragraph = Some(sentence.paragraph);
            let mut add = |c: &'a Concept, members: &mut Vec<(&'a Concept, usize)>| {
                let is_head = head.is_some_and(|h| h.key == c.key);
                if !is_head && usable(c) && seen.insert(c.key.as_str()) {
                    members.push((c, i));
                }
            };
            // A list item or a paragraph that opens with a term and says what it is.
            let item = matches!(sentence.kind, ParagraphKind::ListItem { .. });
            let run_in = sentence.words.len() <= 4
                && sentence.phrases.len() == 1
                && analysis
                    .sentences
                    .get(i + 1)
                    .is_some_and(|n| n.paragraph == sentence.paragraph);
            if opens_paragraph && (item || run_in) {
                if let Some(first) = sentence.phrases.first().filter(|p| p.at_start) {
                    let after = sentence
                        .text
                        .find(first.text.as_str())
                        .map(|at| &sentence.text[at + first.text.len()..])
                        .unwrap_or("");
                    let marked_after = after.trim_start_matches(['*', '_', '`']);
                    if let Some(c) = find(&first.key) {
                        let defined_here = c.definition == Some(i);
                        if run_in || introduces_term(marked_after) || defined_here {
                            add(c, &mut members);
                        }
                    }
                }
            }
            // A term the sentence defines, or one the author marks where it first occurs;
            // not in an item that already opened with its term ("std: Rust standard library"
            // is one term explained, not two).
            let led = members.last().is_some_and(|(_, at)| *at == i);
            for phrase in sentence.phrases.iter().filter(|_| !led) {
                if let Some(c) = find(&phrase.key) {
                    let defined_here = c.definition == Some(i);
                    let first_marked = c.marked && c.sentences.first() == Some(&i);
                    if first_marked {
                        add(c, &mut members);
                    } else if defined_here {
                        add(c, &mut defined);
                    }
                }
            }
        }
        let paragraph = |i: usize| analysis.sentences[i].paragraph;
        let near = |i: usize, others: &[(&Concept, usize)]| {
            others
                .iter()
                .any(|(_, j)| *j != i && paragraph(i).abs_diff(paragraph(*j)) <= 1)
        };
        let all: Vec<(&Concept, usize)> = members.iter().chain(&defined).copied().collect();
        members.extend(defined.iter().copied().filter(|(_, i)| near(*i, &all)));
        members.sort_by_key(|(_, i)| *i);
        if members.len() < 2 {
            continue;
        }
        let in_ordered_items = members
            .iter()
            .filter(|(_, i)| {
                matches!(
                    analysis.sentences[*i].kind,
                    ParagraphKind::ListItem { ordered: true }
                )
            })
            .count();
        let steps = in_ordered_items * 2 > members.len();
        // A section that introduces many terms gives several groups of about equal size,
        // in the text's order (seven stages: four and three).
        let parts = members.len().div_ceil(MAX_MEMBERS);
        let size = members.len().div_ceil(parts);
        for chunk in members.chunks(size) {
            if chunk.len() >= 2 {
                groups.push(SectionGroup {
                    section: index,
                    head,
                    members: chunk.to_vec(),
                    steps,
                });
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::section_groups;
    use crate::domain::Topic;
    use crate::generator::source::analyse;

    fn topic(source: &str) -> Topic {
        Topic {
            id: uuid::Uuid::nil(),
            title: "Sorting".into(),
            description: None,
            source_text: Some(source.into()),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_section_listing_marked_terms_is_a_group_under_its_heading() {
        let analysis = analyse(&topic(
            "# Sorting\n\nSorting puts items in order.\n\n## Comparison sorts\n\n\
             Comparison sorts order items by comparing pairs of them.\n\n\
             - The **merge sort** splits the list in halves and merges the sorted halves.\n\
             - The **heap sort** builds a binary heap and takes its largest item each time.\n\
             - The **insertion sort** inserts each item into the sorted prefix of the list.\n\n\
             ## Stability\n\nA stable sort keeps equal items in their original order.\n",
        ));
        let pool: Vec<_> = analysis.concepts.iter().collect();
        let groups = section_groups(&analysis, &pool, |_| true);
        let group = groups
            .iter()
            .find(|g| g.members.len() >= 3)
            .unwrap_or_else(|| panic!("a group of the three sorts: {groups:#?}"));
        let members: Vec<&str> = group.members.iter().map(|(c, _)| c.key.as_str()).collect();
        assert_eq!(members, ["merge sort", "heap sort", "insertion sort"]);
        assert_eq!(group.head.map(|h| h.key.as_str()), Some("comparison sort"));
        assert!(!group.steps);
    }

    #[test]
    fn the_plan_asks_about_the_group_and_each_of_its_terms() {
        let topic = topic(
            "# Sorting\n\nSorting puts items in order.\n\n## Comparison sorts\n\n\
             Comparison sorts order items by comparing pairs of them.\n\n\
             - The **merge sort** splits the list in halves and merges the sorted halves.\n\
             - The **heap sort** builds a binary heap and takes its largest item each time.\n\
             - The **insertion sort** inserts each item into the sorted prefix of the list.\n",
        );
        let plan = crate::generator::offline::plan_blueprint(&topic, 3);
        let terminal = plan
            .terminals
            .iter()
            .find(|t| t.objective.text.contains("merge sort"))
            .unwrap_or_else(|| panic!("a terminal objective on the sorts: {plan:#?}"));
        for sort in ["merge sort", "heap sort", "insertion sort"] {
            assert!(terminal.objective.text.contains(sort), "{plan:#?}");
            assert!(
                terminal.enabling.iter().any(|e| e.text.contains(sort)),
                "an enabling objective on {sort}: {plan:#?}"
            );
        }
        assert!(terminal.objective.bloom_level >= crate::domain::BloomLevel::Apply);
    }

    #[test]
    fn definitions_far_apart_in_a_long_section_are_no_group() {
        let analysis = analyse(&topic(
            "# Sorting\n\nA merge sort is a divide-and-conquer algorithm that merges halves.\n\n\
             Many libraries use it for linked lists because it needs no random access.\n\n\
             Its running time does not depend on the order of the input.\n\n\
             In practice quick sorts run faster on arrays held in memory.\n\n\
             A binary heap is a tree kept in an array where each parent outranks its children.\n",
        ));
        let pool: Vec<_> = analysis.concepts.iter().collect();
        let groups = section_groups(&analysis, &pool, |_| true);
        assert!(groups.is_empty(), "{groups:#?}");
    }
}
