//! The `openai` generator against the fake server: streaming progress, retries and their
//! waits, faults, cancellation, and what the request carries.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use quizmaster::app::build_generator;
use quizmaster::cli::serve::Server;
use quizmaster::config::{
    AccountsConfig, DatabaseConfig, GeneratorConfig, GeneratorKind, JobConfig, Secret, ServeConfig,
};
use quizmaster::domain::{TerminalDraft, Topic};
use quizmaster::generator::openai::{OpenAiGenerator, OpenAiSettings};
use quizmaster::generator::{
    GenerateError, GenerationRequest, Generator, ObjectiveSink, SinkError,
};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::fake_llm::{answer, happy, terminal, Behaviour, Exchange, FakeLlm, Piece};

const KEY: &str = "sk-test-very-secret-key";

fn settings(base_url: &str) -> OpenAiSettings {
    OpenAiSettings {
        base_url: base_url.to_string(),
        model: "fake-model".into(),
        api_key: Some(KEY.into()),
        request_timeout: Duration::from_secs(10),
        max_attempts: 4,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
    }
}

fn request(target: usize) -> GenerationRequest {
    GenerationRequest {
        topic: Topic {
            id: Uuid::nil(),
            title: "Cell processes".into(),
            description: Some("How cells move and split".into()),
            source_text: Some("Osmosis and diffusion move water and solutes.".into()),
            created_at: 0,
            updated_at: 0,
        },
        target_terminal_objectives: target,
        already_stored: 0,
        stored_terminal_texts: Vec::new(),
    }
}

/// A sink that keeps what it is given, with the time of each store.
#[derive(Default)]
struct Collect {
    summary: Option<(String, String)>,
    stored: Vec<(Instant, TerminalDraft)>,
    notes: Vec<String>,
    /// Told the number stored after each store.
    progress: Option<tokio::sync::watch::Sender<usize>>,
}

#[async_trait]
impl ObjectiveSink for Collect {
    async fn set_summary(&mut self, title: &str, description: &str) -> Result<(), SinkError> {
        self.summary = Some((title.into(), description.into()));
        Ok(())
    }
    async fn store_terminal(&mut self, draft: TerminalDraft) -> Result<(), SinkError> {
        self.stored.push((Instant::now(), draft));
        if let Some(progress) = &self.progress {
            let _ = progress.send(self.stored.len());
        }
        Ok(())
    }
    async fn add_note(&mut self, note: &str) -> Result<(), SinkError> {
        self.notes.push(note.into());
        Ok(())
    }
}

impl Collect {
    fn texts(&self) -> Vec<String> {
        self.stored
            .iter()
            .map(|(_, d)| d.objective.text.clone())
            .collect()
    }
}

fn expected_texts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| terminal(i)["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn run(fake: &FakeLlm, target: usize) -> (Result<(), GenerateError>, Collect, Duration) {
    let generator = OpenAiGenerator::new(settings(&fake.base_url)).expect("generator");
    let mut sink = Collect::default();
    let started = Instant::now();
    let result = generator
        .generate(&request(target), &mut sink, &CancellationToken::new())
        .await;
    (result, sink, started.elapsed())
}

#[tokio::test]
async fn a_server_error_is_retried_and_then_succeeds() {
    let fake = FakeLlm::start(vec![
        Behaviour::Status {
            code: 500,
            headers: vec![],
            body: json!({"error": {"message": "upstream overloaded", "type": "server_error"}}),
        },
        happy(3),
    ])
    .await;
    let (result, sink, _) = run(&fake, 3).await;
    result.expect("succeeds on the second call");
    assert_eq!(fake.calls().len(), 2);
    assert_eq!(sink.texts(), expected_texts(3));
    assert_eq!(
        sink.summary,
        Some((
            "Cell processes".into(),
            "How cells move, split and use matter".into()
        ))
    );
}

#[tokio::test]
async fn a_429_waits_for_retry_after_before_the_next_call() {
    let fake = FakeLlm::start(vec![
        Behaviour::Status {
            code: 429,
            headers: vec![("retry-after", "1".into())],
            body: json!({"error": {"message": "Rate limit reached", "type": "requests"}}),
        },
        happy(2),
    ])
    .await;
    let (result, sink, _) = run(&fake, 2).await;
    result.expect("succeeds after the wait");
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    let gap = calls[1].at - calls[0].at;
    assert!(gap >= Duration::from_millis(950), "waited only {gap:?}");
    assert!(gap < Duration::from_secs(5), "waited {gap:?}");
    assert_eq!(sink.texts(), expected_texts(2));
}

#[tokio::test]
async fn retry_after_ms_is_honoured_too() {
    let fake = FakeLlm::start(vec![
        Behaviour::Status {
            code: 503,
            headers: vec![("retry-after-ms", "400".into())],
            body: json!({"message": "busy"}),
        },
        happy(1),
    ])
    .await;
    let (result, _, _) = run(&fake, 1).await;
    result.expect("succeeds");
    let calls = fake.calls();
    let gap = calls[1].at - calls[0].at;
    assert!(gap >= Duration::from_millis(380), "waited only {gap:?}");
}

#[tokio::test]
async fn a_call_that_outlives_its_timeout_is_retried() {
    let fake = FakeLlm::start(vec![
        Behaviour::Stream {
            answer: answer(2),
            piece_delay: Duration::ZERO,
            pause_after_terminal: Duration::from_secs(30),
            cut_after: None,
            finish_reason: "stop",
        },
        happy(2),
    ])
    .await;
    let generator = OpenAiGenerator::new(OpenAiSettings {
        request_timeout: Duration::from_millis(500),
        ..settings(&fake.base_url)
    })
    .expect("generator");
    let mut sink = Collect::default();
    let started = Instant::now();
    generator
        .generate(&request(2), &mut sink, &CancellationToken::new())
        .await
        .expect("the second call completes");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.calls().len(), 2);
    assert_eq!(
        sink.texts(),
        expected_texts(2),
        "no duplicate of the first one"
    );
}

#[tokio::test]
async fn a_truncated_stream_is_retried_without_duplicates() {
    let fake = FakeLlm::start(vec![
        Behaviour::Stream {
            answer: answer(4),
            piece_delay: Duration::ZERO,
            pause_after_terminal: Duration::ZERO,
            cut_after: Some(2),
            finish_reason: "stop",
        },
        // A model that writes everything again: the stored ones must be skipped.
        happy(4),
    ])
    .await;
    let (result, sink, _) = run(&fake, 4).await;
    result.expect("completes on the second call");
    assert_eq!(
        sink.texts(),
        expected_texts(4),
        "each objective once, in order"
    );
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    // The retry told the model what is stored and asked for the rest.
    let prompt = calls[1].body["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        prompt.contains("2 terminal objectives are already"),
        "{prompt}"
    );
    assert!(prompt.contains(&expected_texts(1)[0]), "{prompt}");
    assert!(prompt.contains("exactly 2 NEW"), "{prompt}");
}

#[tokio::test]
async fn finish_reason_length_asks_for_the_rest() {
    let fake = FakeLlm::start(vec![
        Behaviour::Stream {
            answer: answer(1),
            piece_delay: Duration::ZERO,
            pause_after_terminal: Duration::ZERO,
            cut_after: None,
            finish_reason: "length",
        },
        happy(3),
    ])
    .await;
    let (result, sink, _) = run(&fake, 3).await;
    result.expect("completes");
    assert_eq!(sink.texts(), expected_texts(3));
    assert_eq!(fake.calls().len(), 2);
}

#[tokio::test]
async fn a_mid_stream_error_event_and_a_refusal_are_retried() {
    let fake = FakeLlm::start(vec![
        Behaviour::ErrorEvent(
            json!({"error": {"message": "The server had an error", "type": "server_error"}}),
        ),
        Behaviour::Refusal("I can't help with that.".into()),
        happy(2),
    ])
    .await;
    let (result, sink, _) = run(&fake, 2).await;
    result.expect("completes on the third call");
    assert_eq!(fake.calls().len(), 3);
    assert_eq!(sink.texts(), expected_texts(2));
    let third = fake.calls()[2].body["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(third.contains("the model refused"), "{third}");
}

#[tokio::test]
async fn an_objective_that_breaks_the_rules_gets_a_repair_call() {
    let mut bad = answer(2);
    bad["terminal_objectives"][0]["text"] = json!("Understand osmosis in living cells well");
    bad["terminal_objectives"][0]["verb"] = json!("Understand");
    let fake = FakeLlm::start(vec![
        Behaviour::Stream {
            answer: bad,
            piece_delay: Duration::ZERO,
            pause_after_terminal: Duration::ZERO,
            cut_after: None,
            finish_reason: "stop",
        },
        happy(2),
    ])
    .await;
    let (result, sink, _) = run(&fake, 2).await;
    result.expect("repaired");
    // The good objective of the first answer is kept; the repair call adds the missing one.
    let expected = expected_texts(2);
    assert_eq!(sink.texts(), vec![expected[1].clone(), expected[0].clone()]);
    assert_eq!(fake.calls().len(), 2);
    let repair = fake.calls()[1].body["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(repair.contains("previous answer was rejected"), "{repair}");
    assert!(repair.contains("measurable verb"), "{repair}");
    assert!(repair.contains("exactly 1 NEW"), "{repair}");
    // The broken objective is not quoted back at the model.
    assert!(!repair.contains("Understand osmosis"), "{repair}");
}

#[tokio::test]
async fn every_objective_that_passes_is_kept_and_the_repair_prompt_names_each_rule_once() {
    let mut mixed = answer(4);
    // Repaired locally: a verb field that repeats the text, a full stop, a wrong level.
    let first = terminal(0)["text"].as_str().unwrap_or_default().to_string();
    mixed["terminal_objectives"][0]["text"] = json!(format!("{first}."));
    mixed["terminal_objectives"][0]["verb"] = json!(first.clone());
    mixed["terminal_objectives"][0]["bloom_level"] = json!("create");
    // Beyond repair: two words; and sixty words.
    mixed["terminal_objectives"][1]["text"] = json!("Define diffusion");
    mixed["terminal_objectives"][1]["verb"] = json!("Define");
    mixed["terminal_objectives"][1]["bloom_level"] = json!("remember");
    mixed["terminal_objectives"][1]["enabling_objectives"] =
        json!([terminal(1)["enabling_objectives"][0].clone()]);
    mixed["terminal_objectives"][3]["text"] =
        json!(format!("Apply {}", "the long words again and ".repeat(12)));
    let fake = FakeLlm::start(vec![
        Behaviour::Stream {
            answer: mixed,
            piece_delay: Duration::ZERO,
            pause_after_terminal: Duration::ZERO,
            cut_after: None,
            finish_reason: "stop",
        },
        happy(4),
    ])
    .await;
    let (result, sink, _) = run(&fake, 4).await;
    result.expect("completes");
    let texts = sink.texts();
    let expected = expected_texts(4);
    assert_eq!(
        texts,
        vec![
            expected[0].clone(),
            expected[2].clone(),
            expected[1].clone(),
            expected[3].clone()
        ],
        "the two that pass are stored from the first call, the two that failed from the repair call"
    );
    assert_eq!(sink.stored[0].1.objective.verb, "Apply");
    assert_eq!(
        sink.stored[0].1.objective.bloom_level,
        quizmaster::domain::BloomLevel::Apply
    );
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    let repair = calls[1].body["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(repair.contains("exactly 2 NEW"), "{repair}");
    assert!(
        repair.contains("2 of its terminal objectives broke"),
        "{repair}"
    );
    assert_eq!(repair.matches("5 to 30 words").count(), 1, "{repair}");
    assert_eq!(repair.matches("at most 30 words").count(), 1, "{repair}");
    assert_eq!(repair.matches("2 or 3 enabling").count(), 1, "{repair}");
    assert!(!repair.contains("Define diffusion"), "{repair}");
    assert!(!repair.contains("long words again"), "{repair}");
    // Short: the stored objectives once each, the rules once each.
    let first_prompt = calls[0].body["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .len();
    assert!(
        repair.len() < first_prompt + 900,
        "{} vs {first_prompt}: {repair}",
        repair.len()
    );
}

#[tokio::test]
async fn a_model_that_cannot_do_better_completes_with_what_passed_and_says_what_was_dropped() {
    let mut stubborn = answer(3);
    stubborn["terminal_objectives"][2]["text"] = json!("Define germination");
    stubborn["terminal_objectives"][2]["verb"] = json!("Define");
    stubborn["terminal_objectives"][2]["bloom_level"] = json!("remember");
    let fake = FakeLlm::start(vec![Behaviour::Stream {
        answer: stubborn,
        piece_delay: Duration::ZERO,
        pause_after_terminal: Duration::ZERO,
        cut_after: None,
        finish_reason: "stop",
    }])
    .await;
    let (result, sink, _) = run(&fake, 3).await;
    result.expect("completes with what passed");
    assert_eq!(sink.texts(), expected_texts(2));
    // The first call stores two; then four calls that add nothing spend the attempts.
    assert_eq!(fake.calls().len(), 5);
    assert_eq!(sink.notes.len(), 1, "{:?}", sink.notes);
    let note = &sink.notes[0];
    assert!(note.contains("2 of the 3 terminal objectives"), "{note}");
    assert!(note.contains("5 more were left out"), "{note}");
    assert!(note.contains("had fewer than 5 words"), "{note}");
    assert!(!note.contains('\n'));
}

#[tokio::test]
async fn a_server_that_refuses_json_schema_is_asked_with_json_object_then_by_instruction() {
    // llama-cpp-python's answer to json_schema: a 500 whose body is a validation error.
    let refused = json!({"error": {"message": "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}]", "type": "internal_server_error"}});
    let fake = FakeLlm::start(vec![
        Behaviour::Status {
            code: 500,
            headers: vec![],
            body: refused,
        },
        Behaviour::Status {
            code: 400,
            headers: vec![],
            body: json!({"error": {"message": "response_format is not supported", "type": "invalid_request_error"}}),
        },
        happy(2),
        happy(1),
    ])
    .await;
    let generator = OpenAiGenerator::new(settings(&fake.base_url)).expect("generator");
    let mut sink = Collect::default();
    let started = Instant::now();
    generator
        .generate(&request(2), &mut sink, &CancellationToken::new())
        .await
        .expect("completes through the fallback");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no backoff for a refusal"
    );
    assert_eq!(sink.texts(), expected_texts(2));
    let calls = fake.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].body["response_format"]["type"], "json_schema");
    assert_eq!(calls[1].body["response_format"]["type"], "json_object");
    assert_eq!(
        calls[1].body["response_format"]["schema"]["required"],
        json!(["title", "description", "terminal_objectives"])
    );
    assert!(calls[2].body.get("response_format").is_none());
    let system = calls[2].body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(system.contains("shaped like this example"), "{system}");
    // Remembered: the next generation asks the way that worked, at once.
    let mut again = Collect::default();
    generator
        .generate(&request(1), &mut again, &CancellationToken::new())
        .await
        .expect("completes");
    let calls = fake.calls();
    assert_eq!(calls.len(), 4);
    assert!(calls[3].body.get("response_format").is_none());
}

#[tokio::test]
async fn a_request_the_server_calls_invalid_is_not_sent_again_unchanged() {
    let fake = FakeLlm::start(vec![Behaviour::Status {
        code: 500,
        headers: vec![],
        body: json!({"error": {"message": "1 validation error for CreateChatCompletionRequest: messages.0.role Input should be 'system', 'user' or 'assistant'", "type": "internal_server_error"}}),
    }])
    .await;
    let (result, sink, _) = run(&fake, 2).await;
    let Err(GenerateError::Failed(message)) = result else {
        panic!("expected a failure, got {result:?}");
    };
    assert_eq!(fake.calls().len(), 1, "not retried unchanged");
    assert!(message.contains("validation error"), "{message}");
    assert!(message.contains("unchanged"), "{message}");
    assert!(sink.stored.is_empty());
}

#[tokio::test]
async fn the_request_bytes_carry_the_schema_keys_in_the_writers_order() {
    let fake = FakeLlm::start(vec![happy(1)]).await;
    let (result, _, _) = run(&fake, 1).await;
    result.expect("succeeds");
    let raw = String::from_utf8(fake.calls()[0].raw.to_vec()).expect("utf-8");
    let at = |needle: &str, from: usize| {
        raw[from..]
            .find(needle)
            .map(|i| i + from)
            .unwrap_or_else(|| panic!("{needle} after {from} in {raw}"))
    };
    let schema = at("\"schema\":", 0);
    let title = at("\"title\"", schema);
    let description = at("\"description\"", schema);
    let terminals = at("\"terminal_objectives\"", schema);
    assert!(title < description && description < terminals, "{raw}");
    let mut last = terminals;
    for key in [
        "\"text\"",
        "\"verb\"",
        "\"bloom_level\"",
        "\"condition\"",
        "\"criterion\"",
        "\"enabling_objectives\"",
    ] {
        let next = at(key, last);
        assert!(next > last, "{key} after the previous key in {raw}");
        last = next;
    }
    let body = &fake.calls()[0].body;
    assert_eq!(body["max_tokens"], 120 + 500);
    assert_eq!(body["temperature"], 0.2);
    let schema = &body["response_format"]["json_schema"]["schema"];
    let terminal = &schema["properties"]["terminal_objectives"];
    assert_eq!(terminal["minItems"], 1);
    assert_eq!(terminal["maxItems"], 1);
    assert_eq!(
        terminal["items"]["properties"]["enabling_objectives"]["minItems"],
        2
    );
    assert!(terminal["items"]["properties"]["verb"]["enum"]
        .as_array()
        .is_some_and(|verbs| verbs.len() > 40));
}

#[tokio::test]
async fn the_prompt_and_max_tokens_fit_the_context_the_server_reports() {
    let props = Exchange {
        path: "/props".into(),
        request: Value::Null,
        status: 200,
        content_type: "application/json".into(),
        pieces: vec![Piece {
            text: Some(json!({"default_generation_settings": {"n_ctx": 4096}}).to_string()),
            base64: None,
        }],
    };
    let fake = FakeLlm::start_with_probes(vec![happy(6)], vec![props]).await;
    let generator = OpenAiGenerator::new(settings(&fake.base_url)).expect("generator");
    let mut long = request(6);
    long.topic.source_text = Some("Osmosis moves water across a membrane. ".repeat(3000));
    let mut sink = Collect::default();
    generator
        .generate(&long, &mut sink, &CancellationToken::new())
        .await
        .expect("completes");
    let body = &fake.calls()[0].body;
    let max_tokens = body["max_tokens"].as_u64().expect("max_tokens");
    let prompt_chars: usize = body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().chars().count())
        .sum();
    // At no fewer than 3 characters a token, prompt and answer stay inside 4096 tokens.
    assert!(
        prompt_chars / 3 + max_tokens as usize <= 4096,
        "{prompt_chars} chars of prompt and {max_tokens} tokens of answer"
    );
    assert!(
        prompt_chars > 2_000,
        "some source is still quoted: {prompt_chars}"
    );
    // Without a context to go by, the source is quoted up to its cap.
    let plain = FakeLlm::start(vec![happy(6)]).await;
    let generator = OpenAiGenerator::new(settings(&plain.base_url)).expect("generator");
    let mut sink = Collect::default();
    generator
        .generate(&long, &mut sink, &CancellationToken::new())
        .await
        .expect("completes");
    let user = plain.calls()[0].body["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .count();
    assert!(
        user > quizmaster::generator::openai::SOURCE_PROMPT_CHARS,
        "{user}"
    );
}

#[tokio::test]
async fn a_timeout_says_it_was_the_limit_and_which_setting_raises_it() {
    let fake = FakeLlm::start(vec![Behaviour::Stream {
        answer: answer(2),
        piece_delay: Duration::ZERO,
        pause_after_terminal: Duration::from_secs(30),
        cut_after: None,
        finish_reason: "stop",
    }])
    .await;
    let generator = OpenAiGenerator::new(OpenAiSettings {
        request_timeout: Duration::from_millis(300),
        max_attempts: 2,
        ..settings(&fake.base_url)
    })
    .expect("generator");
    let mut sink = Collect::default();
    let result = generator
        .generate(&request(2), &mut sink, &CancellationToken::new())
        .await;
    // The first objective of each call arrives before the pause: the blueprint is stored in
    // part, and the timeout (not the model) ends it.
    let Err(GenerateError::Failed(message)) = result else {
        panic!("expected a failure, got {result:?}");
    };
    assert!(
        message.contains("within 300 ms, the limit for one call"),
        "{message}"
    );
    assert!(message.contains("QUIZMASTER_LLM_TIMEOUT_SECS"), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[tokio::test]
async fn evidence_is_taken_from_the_model_or_else_from_the_source() {
    let mut with = answer(2);
    with["terminal_objectives"][0]["evidence"] =
        json!("  Osmosis and diffusion move water and solutes.\n");
    with["terminal_objectives"][0]["enabling_objectives"][0]["evidence"] =
        json!("Osmosis and diffusion");
    with["terminal_objectives"][0]["enabling_objectives"][1]["evidence"] = json!("   ");
    with["terminal_objectives"][1]["evidence"] = Value::Null;
    let fake = FakeLlm::start(vec![Behaviour::Stream {
        answer: with,
        piece_delay: Duration::ZERO,
        pause_after_terminal: Duration::ZERO,
        cut_after: None,
        finish_reason: "stop",
    }])
    .await;
    let (result, sink, _) = run(&fake, 2).await;
    result.expect("succeeds");
    assert_eq!(sink.texts(), expected_texts(2));
    let first = &sink.stored[0].1;
    assert_eq!(
        first.objective.evidence.as_deref(),
        Some("Osmosis and diffusion move water and solutes.")
    );
    assert_eq!(
        first.enabling[0].evidence.as_deref(),
        Some("Osmosis and diffusion")
    );
    // Where the model gives none (blank, absent, null), the source sentence that best supports
    // the objective is its evidence: the topic has source text, so none stays empty.
    let source = "Osmosis and diffusion move water and solutes.";
    assert_eq!(first.enabling[1].evidence.as_deref(), Some(source), "blank");
    assert_eq!(
        first.enabling[2].evidence.as_deref(),
        Some(source),
        "absent"
    );
    assert_eq!(
        sink.stored[1].1.objective.evidence.as_deref(),
        Some(source),
        "null"
    );
    // Not (yet) part of the strict schema the model is given.
    let schema = &fake.calls()[0].body["response_format"]["json_schema"]["schema"];
    assert!(!schema.to_string().contains("evidence"));
}

#[tokio::test]
async fn a_flat_vllm_style_error_ends_the_generation_with_its_message() {
    let fake = FakeLlm::start(vec![Behaviour::Status {
        code: 400,
        headers: vec![],
        body: json!({"object": "error", "message": "This model's maximum context length is 4096 tokens", "type": "BadRequestError", "code": 400}),
    }])
    .await;
    let (result, sink, _) = run(&fake, 2).await;
    let Err(GenerateError::Failed(message)) = result else {
        panic!("expected a failure, got {result:?}");
    };
    assert!(
        message.contains("maximum context length is 4096"),
        "{message}"
    );
    assert!(message.contains("400"), "{message}");
    assert_eq!(fake.calls().len(), 1, "a 400 is not retried");
    assert!(sink.stored.is_empty());
}

#[tokio::test]
async fn a_rejected_key_is_never_echoed() {
    let fake = FakeLlm::start(vec![Behaviour::Status {
        code: 401,
        headers: vec![],
        body: json!({"error": {"message": format!("Incorrect API key provided: {KEY}"), "code": "invalid_api_key"}}),
    }])
    .await;
    let (result, _, _) = run(&fake, 1).await;
    let Err(GenerateError::Failed(message)) = result else {
        panic!("expected a failure, got {result:?}");
    };
    assert!(!message.contains(KEY), "{message}");
    assert!(message.contains("QUIZMASTER_LLM_API_KEY"), "{message}");
}

#[tokio::test]
async fn cancel_mid_stream_closes_the_connection_at_once() {
    let fake = FakeLlm::start(vec![Behaviour::Stream {
        answer: answer(5),
        piece_delay: Duration::from_millis(20),
        pause_after_terminal: Duration::from_secs(30),
        cut_after: None,
        finish_reason: "stop",
    }])
    .await;
    let generator = OpenAiGenerator::new(settings(&fake.base_url)).expect("generator");
    let cancel = CancellationToken::new();
    let (progress, mut stored) = tokio::sync::watch::channel(0);
    let mut sink = Collect {
        progress: Some(progress),
        ..Collect::default()
    };
    let task = {
        let cancel = cancel.clone();
        async move {
            let result = generator.generate(&request(5), &mut sink, &cancel).await;
            (result, sink)
        }
    };
    let handle = tokio::spawn(task);
    // Wait (with a deadline) until the first objective is stored: the model is now pausing
    // mid-stream, then cancel.
    tokio::time::timeout(Duration::from_secs(10), stored.wait_for(|n| *n >= 1))
        .await
        .expect("the first objective arrives")
        .expect("sink alive");
    let cancelled_at = Instant::now();
    cancel.cancel();
    let (result, sink) = tokio::time::timeout(Duration::from_secs(2), handle)
        .await
        .expect("the generator returns within 2 s")
        .expect("task");
    assert!(matches!(result, Err(GenerateError::Stopped)), "{result:?}");
    assert_eq!(
        sink.texts(),
        expected_texts(1),
        "the first objective was stored"
    );
    // The server sees the connection go within 2 s.
    let deadline = cancelled_at + Duration::from_secs(2);
    loop {
        if let Some(closed) = fake.closed().first() {
            assert!(*closed - cancelled_at < Duration::from_secs(2));
            break;
        }
        assert!(Instant::now() < deadline, "the connection stayed open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fake.calls().len(), 1);
}

#[test]
fn openai_without_its_settings_names_the_missing_variable() {
    let mut config = GeneratorConfig {
        generator: GeneratorKind::Openai,
        ..GeneratorConfig::default()
    };
    let err = build_generator(&config).err().expect("fails").to_string();
    assert!(err.contains("QUIZMASTER_LLM_BASE_URL"), "{err}");
    config.llm_base_url = Some("http://127.0.0.1:11434/v1".into());
    let err = build_generator(&config).err().expect("fails").to_string();
    assert!(err.contains("QUIZMASTER_LLM_MODEL"), "{err}");
    config.llm_model = Some("llama3.1".into());
    config.llm_api_key = Some(Secret(KEY.into()));
    assert!(!format!("{config:?}").contains(KEY));
    assert!(build_generator(&config).is_ok());
}

// ---------------------------------------------------------------------------------------
// End to end: a real server whose generator is the fake model.

struct App {
    base: String,
    client: reqwest::Client,
    server: Option<Server>,
    _dir: tempfile::TempDir,
}

impl App {
    async fn start(generator: GeneratorConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = ServeConfig {
            bind: "127.0.0.1:0".parse().expect("address"),
            database: DatabaseConfig::new(format!(
                "sqlite://{}",
                dir.path().join("t.db").display()
            )),
            jobs: JobConfig {
                workers: 2,
                generation_timeout_secs: 60,
                lease_secs: 30,
                max_attempts: 3,
                shutdown_grace_secs: 0,
            },
            generator,
            ops: Default::default(),
            accounts: AccountsConfig::local_unlimited(),
        };
        let server = Server::start(config).await.expect("server starts");
        Self {
            base: format!("http://{}", server.address),
            client: reqwest::Client::new(),
            server: Some(server),
            _dir: dir,
        }
    }

    fn openai(fake: &FakeLlm) -> GeneratorConfig {
        GeneratorConfig {
            generator: GeneratorKind::Openai,
            llm_base_url: Some(fake.base_url.clone()),
            llm_model: Some("fake-model".into()),
            llm_api_key: Some(Secret(KEY.into())),
            llm_timeout_secs: 20,
            ..GeneratorConfig::default()
        }
    }

    async fn json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    /// Creates a topic, starts a generation and returns the status path and the whole path.
    async fn generate(&self, target: i64) -> (String, String) {
        let topic = self
            .json(
                reqwest::Method::POST,
                "/api/topics",
                Some(json!({"title": "Cell processes", "description": "How cells work",
                            "source_text": "Osmosis and diffusion move water. Mitosis splits cells."})),
            )
            .await;
        let topic_id = topic["id"].as_str().expect("id").to_string();
        let status = self
            .json(
                reqwest::Method::POST,
                &format!("/api/topics/{topic_id}/blueprints/generate"),
                Some(json!({"target_terminal_objectives": target})),
            )
            .await;
        let id = status["id"].as_str().expect("id");
        let whole = format!("/api/topics/{topic_id}/blueprints/{id}");
        (format!("{whole}/status"), whole)
    }

    /// Polls the status until it is terminal, keeping every count seen while generating.
    async fn follow(&self, status_path: &str, deadline: Duration) -> (Value, Vec<i64>) {
        let start = Instant::now();
        let mut seen = Vec::new();
        loop {
            let status = self.json(reqwest::Method::GET, status_path, None).await;
            if status["status"] == "generating" {
                seen.push(status["terminal_objectives_count"].as_i64().unwrap_or(-1));
            }
            if matches!(
                status["status"].as_str(),
                Some("completed" | "error" | "cancelled")
            ) {
                return (status, seen);
            }
            assert!(start.elapsed() < deadline, "not terminal in time: {status}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("clean stop");
        }
    }
}

#[tokio::test]
async fn progress_moves_while_the_model_streams_and_the_request_is_as_the_contract_says() {
    let fake = FakeLlm::start(vec![Behaviour::Stream {
        answer: answer(3),
        piece_delay: Duration::from_millis(2),
        pause_after_terminal: Duration::from_millis(400),
        cut_after: None,
        finish_reason: "stop",
    }])
    .await;
    let app = App::start(App::openai(&fake)).await;
    let (status_path, whole_path) = app.generate(3).await;
    let (last, seen) = app.follow(&status_path, Duration::from_secs(20)).await;
    assert_eq!(last["status"], "completed", "{last}");
    assert!(
        seen.iter().any(|c| (1..3).contains(c)),
        "progress moved while streaming: {seen:?}"
    );
    let whole = app.json(reqwest::Method::GET, &whole_path, None).await;
    assert_eq!(whole["title"], "Cell processes");
    let texts: Vec<&str> = whole["terminal_objectives"]
        .as_array()
        .expect("objectives")
        .iter()
        .map(|t| t["text"].as_str().unwrap_or_default())
        .collect();
    let expected = expected_texts(3);
    assert_eq!(
        texts,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let quality = &whole["quality"];
    assert!(quality["score"].as_i64().is_some(), "{whole}");
    assert!(quality["checks"].as_array().is_some_and(|c| c.len() >= 8));

    // The request: model, stream, strict schema, bearer key.
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    let body = &calls[0].body;
    assert_eq!(body["model"], "fake-model");
    assert_eq!(body["stream"], true);
    let format = &body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["name"], "blueprint");
    assert_eq!(format["json_schema"]["strict"], true);
    let schema = &format["json_schema"]["schema"];
    assert_eq!(
        schema["required"],
        json!(["title", "description", "terminal_objectives"])
    );
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(
        calls[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {KEY}").as_str())
    );
    app.stop().await;
}

#[tokio::test]
async fn cancelling_through_the_api_closes_the_model_connection_within_2s() {
    let fake = FakeLlm::start(vec![Behaviour::Stream {
        answer: answer(3),
        piece_delay: Duration::from_millis(2),
        pause_after_terminal: Duration::from_secs(30),
        cut_after: None,
        finish_reason: "stop",
    }])
    .await;
    let app = App::start(App::openai(&fake)).await;
    let (status_path, _) = app.generate(3).await;
    // Wait (with a deadline) for the first objective: the model is now mid-stream.
    let start = Instant::now();
    loop {
        let status = app.json(reqwest::Method::GET, &status_path, None).await;
        if status["terminal_objectives_count"] == 1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancel_path = status_path.replace("/status", "/cancel");
    let cancelled_at = Instant::now();
    let status = app.json(reqwest::Method::POST, &cancel_path, None).await;
    assert_eq!(status["status"], "cancelled");
    loop {
        if let Some(closed) = fake.closed().first() {
            assert!(*closed - cancelled_at < Duration::from_secs(2));
            break;
        }
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(2),
            "the connection to the model stayed open"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn garbage_every_time_ends_in_generator_failed_after_bounded_calls() {
    let fake = FakeLlm::start(vec![Behaviour::Content(
        "Sure! Here is your blueprint: it is about cells.".into(),
    )])
    .await;
    let app = App::start(App::openai(&fake)).await;
    let (status_path, whole_path) = app.generate(2).await;
    let (last, _) = app.follow(&status_path, Duration::from_secs(30)).await;
    assert_eq!(last["status"], "error", "{last}");
    assert_eq!(last["error_code"], "generator_failed");
    let message = last["error"].as_str().unwrap_or_default();
    assert!(message.contains("not a JSON object"), "{message}");
    assert!(message.contains("4 calls"), "{message}");
    assert!(!message.contains(KEY));
    assert_eq!(fake.calls().len(), 4, "bounded attempts");
    let whole = app.json(reqwest::Method::GET, &whole_path, None).await;
    assert_eq!(whole["quality"], Value::Null, "no quality unless completed");
    app.stop().await;
}

#[tokio::test]
async fn an_offline_blueprint_shows_its_quality() {
    let app = App::start(GeneratorConfig::default()).await;
    let (status_path, whole_path) = app.generate(4).await;
    let (last, _) = app.follow(&status_path, Duration::from_secs(20)).await;
    assert_eq!(last["status"], "completed");
    let whole = app.json(reqwest::Method::GET, &whole_path, None).await;
    let quality = &whole["quality"];
    assert!(
        quality["score"].as_i64().is_some_and(|s| s >= 85),
        "{quality}"
    );
    // `failed` names exactly the checks that did not pass, and `passed` says whether any did
    // not. This thin source gets the title's fallback objectives ("Describe … in your own
    // words"), which the specific_tasks check judges vague.
    let failing: Vec<Value> = quality["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .filter(|c| c["passed"] == false)
                .map(|c| c["name"].clone())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        quality["failed"],
        Value::Array(failing.clone()),
        "{quality}"
    );
    assert_eq!(quality["passed"], failing.is_empty(), "{quality}");
    assert!(failing.contains(&json!("specific_tasks")), "{quality}");
    app.stop().await;
}

#[tokio::test]
async fn a_blueprint_completed_with_what_passed_says_so_and_metrics_show_the_fallback() {
    let refused = json!({"error": {"message": "1 validation error: ('body', 'response_format', 'type') Input should be 'text' or 'json_object'", "type": "internal_server_error"}});
    let mut stubborn = answer(3);
    stubborn["terminal_objectives"][2]["text"] = json!("Define germination");
    stubborn["terminal_objectives"][2]["verb"] = json!("Define");
    stubborn["terminal_objectives"][2]["bloom_level"] = json!("remember");
    let fake = FakeLlm::start(vec![
        Behaviour::Status {
            code: 500,
            headers: vec![],
            body: refused,
        },
        Behaviour::Stream {
            answer: stubborn,
            piece_delay: Duration::ZERO,
            pause_after_terminal: Duration::ZERO,
            cut_after: None,
            finish_reason: "stop",
        },
    ])
    .await;
    let app = App::start(App::openai(&fake)).await;
    let (status_path, whole_path) = app.generate(3).await;
    let (last, _) = app.follow(&status_path, Duration::from_secs(30)).await;
    assert_eq!(last["status"], "completed", "{last}");
    let whole = app.json(reqwest::Method::GET, &whole_path, None).await;
    assert_eq!(
        whole["terminal_objectives"].as_array().map(Vec::len),
        Some(2)
    );
    let notes: Vec<&str> = whole["quality"]["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("2 of the 3 terminal objectives")
                && n.contains("fewer than 5 words")),
        "{notes:?}"
    );
    assert!(
        !notes.iter().any(|n| n.starts_with("The source supported")),
        "the model, not the source, is why it is short: {notes:?}"
    );
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let server = fake.base_url.as_str();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("quizmaster_llm_response_format{")
                && l.contains("mode=\"json_object_schema\"")
                && l.contains(server)
        })
        .unwrap_or_else(|| panic!("no response_format gauge for {server} in {metrics}"));
    assert!(line.ends_with(" 1"), "{line}");
    app.stop().await;
}
