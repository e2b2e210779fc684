//! Shows what the offline generator reads in a source, for tuning it by eye:
//! `cargo run --example inspect_source -- tests/corpus/09-notes-statistics [concepts|sentences|facts|blueprint]`.
//! The folder holds `topic.json` (title, description) and `source.txt`, as in `tests/corpus/`.

use std::path::PathBuf;
use std::process::ExitCode;

use quizmaster::domain::Topic;
use quizmaster::generator::source;
use uuid::Uuid;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: inspect_source <corpus folder> [concepts|sentences|facts|blueprint]");
        return ExitCode::from(2);
    };
    let view = args.next().unwrap_or_else(|| "concepts".into());
    let meta: serde_json::Value = match std::fs::read_to_string(dir.join("topic.json"))
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
    {
        Ok(meta) => meta,
        Err(e) => {
            eprintln!("cannot read {}/topic.json: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    let field = |k: &str| {
        meta[k]
            .as_str()
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    let topic = Topic {
        id: Uuid::nil(),
        title: field("title").unwrap_or_else(|| "Untitled".into()),
        description: field("description"),
        source_text: std::fs::read_to_string(dir.join("source.txt")).ok(),
        created_at: 0,
        updated_at: 0,
    };
    let analysis = source::analyse(&topic);
    match view.as_str() {
        "blueprint" => {
            let plan = quizmaster::generator::offline::plan_from(
                &analysis,
                &topic,
                std::env::var("TARGET")
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(10),
            );
            for t in &plan.terminals {
                println!(
                    "[{}] {}",
                    t.objective.bloom_level.as_str(),
                    t.objective.text
                );
                for e in &t.enabling {
                    println!("    [{}] {}", e.bloom_level.as_str(), e.text);
                }
            }
        }
        "facts" => {
            let pool: Vec<&source::Concept> = analysis.concepts.iter().take(80).collect();
            for c in &pool {
                let kind = quizmaster::generator::offline::facts::kind_of(c, &analysis);
                let facts = quizmaster::generator::offline::facts::facts_of(c, &analysis, &pool);
                println!("{:<36} {kind:?} {facts:?}", c.name);
            }
        }
        "sentences" => {
            for (i, s) in analysis.sentences.iter().enumerate() {
                let heading = analysis.document.sections[s.section]
                    .heading
                    .clone()
                    .unwrap_or_default();
                let phrases: Vec<&str> = s.phrases.iter().map(|p| p.text.as_str()).collect();
                println!("{i:>3} [{heading}] {}\n      {phrases:?}", s.text);
            }
        }
        _ => {
            println!(
                "language {}, reference terms {:?}\nmarked terms {:?}",
                analysis.language, analysis.reference, analysis.document.marked_terms
            );
            for c in analysis.concepts.iter().take(400) {
                println!(
                    "{:>6.2} {:<40} mentions={} api={} heading={} definition={}",
                    c.score,
                    c.name,
                    c.sentences.len(),
                    c.api,
                    c.in_heading,
                    c.definition.is_some(),
                );
            }
        }
    }
    ExitCode::SUCCESS
}
