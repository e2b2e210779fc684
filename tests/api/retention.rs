//! Retention removes old job history and expired idempotency keys, never users' data.

use quizmaster::core::Core;
use quizmaster::db::{
    self, Finish, GenerateOutcome, GenerationLimits, IdempotencyClaim, IdempotencyRecord,
    IdempotencyScope, NewGeneration, PoolSettings, StoredAnswer,
};
use quizmaster::domain::{Attempt, BlueprintId, TopicId, TopicInput, UserId, LOCAL_USER_ID};
use quizmaster::jobs::hub::StatusHub;
use uuid::Uuid;

use crate::helpers::*;

async fn retention_removes_only_what_it_should(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let store = db::connect(&database.url, PoolSettings::default())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let core = Core::new(store.clone(), StatusHub::new(), GenerationLimits::default());
    let input = TopicInput {
        title: "Kept".into(),
        description: None,
        source_text: None,
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
    let day_ms = 24 * 3600 * 1000;
    let mut ended = Vec::new();
    // An old generation that ended long ago, and a recent one.
    for now in [1_000, 100 * day_ms] {
        let new = NewGeneration {
            blueprint_id: BlueprintId(Uuid::now_v7()),
            topic_id: TopicId(topic.id),
            owner_id: UserId(LOCAL_USER_ID),
            limits: GenerationLimits::default(),
            target_terminal_objectives: 1,
            now,
        };
        let GenerateOutcome::Created(blueprint) = core.admit(&new).await.expect("create") else {
            panic!("created");
        };
        let claimed = store
            .claim_next_job("w", now, 60_000, 3)
            .await
            .expect("claim")
            .expect("a job");
        assert_eq!(claimed.blueprint.id, blueprint.id);
        store
            .finish_generation(
                BlueprintId(blueprint.id),
                Attempt(claimed.blueprint.attempt),
                &Finish::Completed { quality: None },
                now + 10,
            )
            .await
            .expect("finish")
            .expect("held");
        ended.push(BlueprintId(blueprint.id));
    }
    // Two Idempotency-Key records of the API, answered on day 5 and just before day 100.
    let request_key = |key: &str| IdempotencyScope {
        user_id: UserId(LOCAL_USER_ID),
        route: "create_topic",
        scope: String::new(),
        key: key.into(),
    };
    let answer = StoredAnswer {
        status: 201,
        location: None,
        body: "{}".into(),
    };
    for (key, at) in [
        ("old-request", 5 * day_ms),
        ("new-request", 99 * day_ms + 1),
    ] {
        let claim = store
            .claim_idempotency_key(&request_key(key), "body", at, 0, 0)
            .await
            .expect("claim");
        assert_eq!(claim, IdempotencyClaim::Claimed);
        store
            .complete_idempotency_key(&request_key(key), &answer)
            .await
            .expect("complete");
    }
    // 30 days before "now" (day 100): the first job's history goes, the second's stays.
    let purged = store
        .purge_history(70 * day_ms, 99 * day_ms)
        .await
        .expect("purge");
    assert_eq!(
        purged, 2,
        "one finished job row and one expired request record"
    );
    // The purged record is gone (its key is free again); the recent one still answers.
    let now = 100 * day_ms;
    let claim = |key: &'static str| {
        let store = store.clone();
        async move {
            store
                .claim_idempotency_key(&request_key(key), "other body", now, 0, 0)
                .await
                .expect("claim")
        }
    };
    assert_eq!(claim("old-request").await, IdempotencyClaim::Claimed);
    assert_eq!(
        claim("new-request").await,
        IdempotencyClaim::Taken(IdempotencyRecord {
            fingerprint: "body".into(),
            answer: Some(answer.clone()),
        })
    );
    assert_eq!(
        store
            .purge_history(70 * day_ms, 99 * day_ms)
            .await
            .expect("again"),
        0,
        "idempotent"
    );
    for id in &ended {
        let blueprint = store
            .get_blueprint_by_id(*id)
            .await
            .expect("read")
            .expect("blueprints are kept");
        assert_eq!(blueprint.status.as_str(), "completed");
    }
    assert!(
        store
            .get_topic(TopicId(topic.id))
            .await
            .expect("read")
            .is_some(),
        "topics are kept"
    );
    // A record left in flight (its request died with its process) is taken over once it is
    // older than `abandoned_before`, and not before.
    let stuck = request_key("stuck");
    let claim_stuck = |abandoned_before: i64| {
        let (store, stuck) = (store.clone(), stuck.clone());
        async move {
            store
                .claim_idempotency_key(&stuck, "body", now, 0, abandoned_before)
                .await
                .expect("claim")
        }
    };
    assert_eq!(claim_stuck(0).await, IdempotencyClaim::Claimed);
    assert_eq!(
        claim_stuck(now).await,
        IdempotencyClaim::Taken(IdempotencyRecord {
            fingerprint: "body".into(),
            answer: None,
        }),
        "still in flight"
    );
    assert_eq!(claim_stuck(now + 1).await, IdempotencyClaim::Claimed);
    database.drop_database().await;
}

crate::on_both_backends!(retention_removes_only_what_it_should);
