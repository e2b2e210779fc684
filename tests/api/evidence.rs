//! Evidence and the quality's language and notes (contract, "Additions (December 2026)"):
//! stored through the store layer, read back through the API, the exports and the web UI.

use quizmaster::core::Core;
use quizmaster::jobs::hub::StatusHub;
use std::sync::Arc;

use quizmaster::db::Store;
use quizmaster::db::{
    self, Finish, GenerateOutcome, GenerationLimits, NewGeneration, PoolSettings,
};
use quizmaster::domain::{
    Attempt, BloomLevel, BlueprintId, BlueprintQuality, ObjectiveDraft, QualityCheck,
    TerminalDraft, TopicId, TopicInput, UserId, LOCAL_USER_ID,
};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::*;

/// A passage a page must escape.
const MARKUP: &str = "A <b>block</b> & its \"header\" hold\nthe data.";

fn draft(text: &str, evidence: Option<String>) -> ObjectiveDraft {
    ObjectiveDraft {
        text: text.into(),
        verb: text.split_whitespace().next().unwrap_or("").to_lowercase(),
        bloom_level: BloomLevel::Remember,
        condition: None,
        criterion: None,
        evidence,
    }
}

/// Stores one completed blueprint of one terminal objective and its enabling objectives,
/// as a worker would; returns its id.
async fn store_blueprint(
    store: &Arc<dyn Store>,
    topic_id: Uuid,
    now: i64,
    terminal: TerminalDraft,
    quality: Option<BlueprintQuality>,
) -> Uuid {
    let new = NewGeneration {
        blueprint_id: BlueprintId(Uuid::now_v7()),
        topic_id: TopicId(topic_id),
        owner_id: UserId(LOCAL_USER_ID),
        limits: GenerationLimits::default(),
        target_terminal_objectives: 1,
        now,
    };
    let core = Core::new(store.clone(), StatusHub::new(), GenerationLimits::default());
    let GenerateOutcome::Created(blueprint) = core.admit(&new).await.expect("create") else {
        panic!("created");
    };
    let claimed = store
        .claim_next_job("w", now, 60_000, 3)
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(claimed.blueprint.id, blueprint.id);
    let attempt = Attempt(claimed.blueprint.attempt);
    store
        .append_terminal_objective(BlueprintId(blueprint.id), attempt, 1, &terminal, now + 1)
        .await
        .expect("append")
        .expect("held");
    store
        .finish_generation(
            BlueprintId(blueprint.id),
            attempt,
            &Finish::Completed { quality },
            now + 2,
        )
        .await
        .expect("finish")
        .expect("held");
    blueprint.id
}

/// Writes quality JSON as it was stored before `language` and `notes` existed.
async fn store_old_quality_json(database: &TestDatabase, backend: Backend, blueprint_id: Uuid) {
    let old = r#"{"score":77,"passed":false,"failed":["length"],"checks":[{"name":"length","passed":false,"score":50,"detail":"too short"}]}"#;
    // Test-owned constants only: a UUID and a literal.
    let sql = format!("UPDATE blueprints SET quality_json = '{old}' WHERE id = '{blueprint_id}'");
    let updated = match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&database.url)
                .await
                .expect("sqlite");
            let result = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .expect("update");
            pool.close().await;
            result.rows_affected()
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&database.url).await.expect("pg");
            let result = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .expect("update");
            pool.close().await;
            result.rows_affected()
        }
    };
    assert_eq!(updated, 1);
}

async fn evidence_round_trips_is_cut_to_300_and_shows_escaped(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let store = db::connect(&database.url, PoolSettings::default())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let input = TopicInput {
        title: "Blocks".into(),
        description: None,
        source_text: Some(format!("{MARKUP}\n\nMore text.")),
    };
    let topic = store
        .create_topic(
            UserId(LOCAL_USER_ID),
            TopicId(Uuid::now_v7()),
            &input,
            1_000,
        )
        .await
        .expect("topic");
    // 350 characters of two bytes each: the cut must count characters, not bytes.
    let long = "ä".repeat(350);
    let quality = BlueprintQuality {
        score: 80,
        passed: true,
        failed: Vec::new(),
        checks: vec![QualityCheck {
            name: "length".into(),
            passed: true,
            score: 100,
            detail: "fine".into(),
        }],
        language: Some("de".into()),
        notes: vec!["The objectives are in English; the source is in <German>.".into()],
    };
    let with_evidence = store_blueprint(
        &store,
        topic.id,
        2_000,
        TerminalDraft {
            objective: draft("Define a block and its header", Some(MARKUP.into())),
            enabling: vec![
                draft("List the parts of a block", Some(long.clone())),
                draft("Name the header of a block", None),
            ],
        },
        Some(quality),
    )
    .await;
    let old_quality = store_blueprint(
        &store,
        topic.id,
        3_000,
        TerminalDraft {
            objective: draft("Define a block in one sentence", None),
            enabling: Vec::new(),
        },
        None,
    )
    .await;
    store_old_quality_json(&database, backend, old_quality).await;

    let app = spawn_app_on(database, Settings::default()).await;
    let base = format!("/api/topics/{}/blueprints", topic.id);

    // The API: the passage as written, the long one cut to 300 characters, null kept as null.
    let whole: Value = app
        .get(&format!("{base}/{with_evidence}"))
        .await
        .json()
        .await
        .expect("json");
    let terminal = &whole["terminal_objectives"][0];
    assert_eq!(terminal["evidence"], MARKUP);
    let enabling = terminal["enabling_objectives"]
        .as_array()
        .expect("enabling");
    let cut = enabling[0]["evidence"].as_str().expect("evidence");
    assert_eq!(cut.chars().count(), 300);
    assert!(long.starts_with(cut));
    assert!(enabling[1]["evidence"].is_null());
    assert!(enabling[1]
        .as_object()
        .is_some_and(|o| o.contains_key("evidence")));
    assert_eq!(whole["quality"]["language"], "de");
    assert_eq!(
        whole["quality"]["notes"][0],
        "The objectives are in English; the source is in <German>."
    );

    // Quality stored before language and notes existed still reads.
    let old: Value = app
        .get(&format!("{base}/{old_quality}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(old["quality"]["score"], 77, "{old}");
    assert!(old["quality"]["language"].is_null());
    assert_eq!(old["quality"]["notes"], serde_json::json!([]));
    assert!(old["terminal_objectives"][0]["evidence"].is_null());

    // The exports.
    let markdown = app
        .get(&format!("{base}/{with_evidence}/export?format=markdown"))
        .await
        .text()
        .await
        .expect("markdown");
    assert!(
        // Markdown passes raw HTML through, so the export escapes it (issue 16).
        markdown.contains(
            "\n> Evidence: A &lt;b&gt;block&lt;/b&gt; &amp; its \"header\" hold\n> the data.\n"
        ),
        "{markdown}"
    );
    assert!(markdown.contains(&format!("  > Evidence: {cut}\n")));
    assert_eq!(markdown.matches("Evidence:").count(), 2, "none for a null");
    let exported: Value = app
        .get(&format!("{base}/{with_evidence}/export?format=json"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        exported["terminal_objectives"],
        whole["terminal_objectives"]
    );

    // The web page: the passage quoted under its objective, escaped; the language and notes.
    let page = app
        .get(&format!("/topics/{}/blueprints/{with_evidence}", topic.id))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert_eq!(html.matches("<blockquote class=\"evidence\">").count(), 2);
    // askama writes `<` as `&#60;` (or `&lt;`, as other tests allow); either way, escaped.
    let unnumbered = html
        .replace("&#60;", "&lt;")
        .replace("&#62;", "&gt;")
        .replace("&#38;", "&amp;")
        .replace("&#34;", "&quot;");
    assert!(
        unnumbered.contains(
            "<blockquote class=\"evidence\"><p>A &lt;b&gt;block&lt;/b&gt; &amp; its \
             &quot;header&quot; hold\nthe data.</p></blockquote>"
        ),
        "the passage, escaped: {html}"
    );
    assert!(!html.contains("<b>block</b>"), "never as markup");
    assert!(html.contains("German (de)"));
    assert!(unnumbered
        .contains("<li>The objectives are in English; the source is in &lt;German&gt;.</li>"));
    let old_page = app
        .get(&format!("/topics/{}/blueprints/{old_quality}", topic.id))
        .await
        .text()
        .await
        .expect("html");
    assert!(!old_page.contains("class=\"evidence\""));
    assert!(!old_page.contains("quality-notes"));
    assert!(old_page.contains("Quality: 77 / 100"));
    app.stop().await;
}

crate::on_both_backends!(evidence_round_trips_is_cut_to_300_and_shows_escaped);
