//! The offline generator's quality gate. The thresholds are published in the README.

use quizmaster::generator::offline::plan_blueprint;
use quizmaster::generator::quality;

use crate::corpus::CORPUS;

/// Every corpus topic must reach this overall score, and pass every check but one.
const MIN_SCORE: i64 = 90;
/// `specific_tasks` judges vague wordings ("Describe X in your own words", "Examine the role
/// of X in …"). The offline generator still falls back on them where a thin source says
/// little about a concept, and these six topics are thin (The French Revolution's one
/// terminal objective is "Examine the role of the revolution in the French Revolution"): the
/// check may fail here, but a topic with source text keeps at least this share of its
/// objectives specific. A topic with
/// a title only gets the title's fallback objectives, vague by nature, and a note asking for
/// source text; the check says so and fails.
const MIN_SPECIFIC_SCORE: i64 = 30;

#[test]
fn every_corpus_topic_passes_the_quality_gate() {
    let mut report = String::new();
    let mut failures = Vec::new();
    for sample in CORPUS {
        for target in [3, 10, 30] {
            let topic = sample.topic();
            let plan = plan_blueprint(&topic, target);
            assert_eq!(plan, plan_blueprint(&topic, target), "deterministic");
            let verdict = quality::assess(&topic, &plan.terminals);
            report.push_str(&format!(
                "{} (target {target}): score {} failed {:?}\n",
                sample.title, verdict.score, verdict.failed
            ));
            let other_failures = verdict.failed.iter().any(|f| f != "specific_tasks");
            let specific = verdict
                .checks
                .iter()
                .find(|c| c.name == "specific_tasks")
                .map_or(0, |c| c.score);
            let too_vague = topic.source_text.is_some() && specific < MIN_SPECIFIC_SCORE;
            if verdict.score < MIN_SCORE || other_failures || too_vague {
                failures.push(format!("{} (target {target}): {verdict:#?}", sample.title));
            }
        }
    }
    println!("{report}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The description lists the blueprint's concepts, each once, even where two terminal
/// objectives rest on the same concept (the sample notes' "load factor" does).
#[test]
fn the_description_names_each_concept_once() {
    let topic = quizmaster::domain::Topic {
        id: uuid::Uuid::nil(),
        title: "Hash tables".into(),
        description: None,
        source_text: Some(include_str!("../../examples/notes/hash-tables.md").into()),
        created_at: 0,
        updated_at: 0,
    };
    let plan = plan_blueprint(&topic, 6);
    let listed = plan
        .description
        .split_once(", covering ")
        .map(|(_, list)| list.trim_end_matches('.'))
        .expect("the description lists concepts");
    let names: Vec<String> = listed.split(", ").map(str::to_lowercase).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(names.len(), unique.len(), "{}", plan.description);
}
