//! The `openai` generator against recordings of real servers (`scripts/real-llm.sh`, see
//! `tests/fixtures/llm/README.md`): each recorded answer is replayed byte for byte, in the
//! pieces the server sent, so the servers' dialects (llama.cpp's `llama-server`,
//! llama-cpp-python's server) and real small models' mistakes are tested on every change
//! without building or running them.

use std::time::Duration;

use async_trait::async_trait;
use quizmaster::domain::{TerminalDraft, Topic};
use quizmaster::generator::openai::{OpenAiGenerator, OpenAiSettings};
use quizmaster::generator::quality::terminal_problems;
use quizmaster::generator::{
    GenerateError, GenerationRequest, Generator, ObjectiveSink, SinkError,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::fake_llm::{FakeLlm, Recording};

/// The topic `scripts/real-llm.sh` generates from, as it gives it.
fn photosynthesis(target: usize) -> GenerationRequest {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/llm/photosynthesis.md"
    ))
    .expect("the recorded runs' source text");
    GenerationRequest {
        topic: Topic {
            id: Uuid::nil(),
            title: "Photosynthesis".into(),
            description: Some("How plants turn light into chemical energy".into()),
            source_text: Some(source),
            created_at: 0,
            updated_at: 0,
        },
        target_terminal_objectives: target,
        already_stored: 0,
        stored_terminal_texts: Vec::new(),
    }
}

#[derive(Default)]
struct Kept {
    summary: Option<(String, String)>,
    stored: Vec<TerminalDraft>,
    notes: Vec<String>,
}

#[async_trait]
impl ObjectiveSink for Kept {
    async fn set_summary(&mut self, title: &str, description: &str) -> Result<(), SinkError> {
        self.summary = Some((title.into(), description.into()));
        Ok(())
    }
    async fn store_terminal(&mut self, draft: TerminalDraft) -> Result<(), SinkError> {
        self.stored.push(draft);
        Ok(())
    }
    async fn add_note(&mut self, note: &str) -> Result<(), SinkError> {
        self.notes.push(note.into());
        Ok(())
    }
}

struct Replayed {
    result: Result<(), GenerateError>,
    kept: Kept,
    fake: FakeLlm,
    recording: Recording,
}

/// Replays `tests/fixtures/llm/{name}.json` with the settings the script ran with (4 attempts).
async fn replay(name: &str) -> Replayed {
    let recording = Recording::load(name);
    let target: usize = recording
        .notes
        .get("target")
        .and_then(|t| t.parse().ok())
        .unwrap_or(6);
    let fake = FakeLlm::replay(&recording).await;
    let generator = OpenAiGenerator::new(OpenAiSettings {
        base_url: fake.base_url.clone(),
        model: recording.notes.get("model").cloned().unwrap_or_default(),
        api_key: None,
        request_timeout: Duration::from_secs(60),
        max_attempts: 4,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
    })
    .expect("generator");
    let mut kept = Kept::default();
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        generator.generate(
            &photosynthesis(target),
            &mut kept,
            &CancellationToken::new(),
        ),
    )
    .await
    .expect("a replay ends within a minute");
    Replayed {
        result,
        kept,
        fake,
        recording,
    }
}

fn assert_every_stored_objective_passes(kept: &Kept) {
    for terminal in &kept.stored {
        let problems = terminal_problems(terminal);
        assert!(
            problems.is_empty(),
            "{:?}: {problems:?}",
            terminal.objective.text
        );
    }
}

#[tokio::test]
async fn qwen_on_llama_server_completes_with_at_least_four_objectives_that_pass() {
    let run = replay("llama-server-qwen2.5-coder-1.5b").await;
    run.result.expect("the blueprint completes");
    assert!(
        run.kept.stored.len() >= 4,
        "{} terminal objectives: {:?}",
        run.kept.stored.len(),
        run.kept
            .stored
            .iter()
            .map(|t| &t.objective.text)
            .collect::<Vec<_>>()
    );
    assert_every_stored_objective_passes(&run.kept);
    // The model's own title, written first now that the schema asks for it first.
    let (title, _) = run.kept.summary.clone().expect("a summary");
    assert!(!title.ends_with(": quiz blueprint"), "{title}");
    // llama.cpp takes json_schema: no fallback.
    let calls = run.fake.calls();
    assert!(!calls.is_empty());
    assert!(calls
        .iter()
        .all(|c| c.body["response_format"]["type"] == "json_schema"));
    // The replay repeats the last recorded answer when asked again; at most the attempts
    // (4) are spent on such repeats.
    assert!(calls.len() <= run.recording.completions().len() + 4);
}

#[tokio::test]
async fn smollm2_on_llama_server_ends_in_one_line_or_completes_with_what_passed() {
    let run = replay("llama-server-smollm2-135m").await;
    match &run.result {
        Ok(()) => {
            assert!(!run.kept.stored.is_empty());
            assert_every_stored_objective_passes(&run.kept);
        }
        Err(GenerateError::Failed(message)) => {
            assert!(!message.contains('\n'), "{message}");
            assert!(
                message.contains("did not give a valid blueprint"),
                "{message}"
            );
            assert!(message.contains("broke the rules"), "{message}");
        }
        Err(other) => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn llama_cpp_python_works_through_the_json_object_fallback() {
    let run = replay("llama-cpp-python-qwen2.5-coder-1.5b").await;
    // The recording starts with the server refusing json_schema.
    let refusal = run
        .recording
        .exchanges
        .iter()
        .find(|e| e.path.ends_with("/chat/completions"))
        .expect("a call");
    assert_eq!(refusal.request["response_format"]["type"], "json_schema");
    assert!(refusal.status >= 400, "{}", refusal.status);
    run.result.expect("the blueprint completes");
    assert!(!run.kept.stored.is_empty());
    assert_every_stored_objective_passes(&run.kept);
    let calls = run.fake.calls();
    assert_eq!(calls[0].body["response_format"]["type"], "json_schema");
    assert_eq!(calls[1].body["response_format"]["type"], "json_object");
    assert!(calls[1].body["response_format"]["schema"].is_object());
    assert!(calls[1..]
        .iter()
        .all(|c| c.body["response_format"]["type"] == "json_object"));
}
