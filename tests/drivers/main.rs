//! The driver conformance suite: every storage primitive the core builds on, run against a
//! real SQLite file and a real PostgreSQL database, with the same expectations. A driver that
//! passes here behaves as the core assumes (conditional transitions, fencing by attempt, the
//! partial unique index, rollback of an uncommitted transaction), whatever its SQL looks like.

#[path = "../support/child.rs"]
mod child;
#[path = "../api/helpers.rs"]
#[macro_use]
#[allow(dead_code)]
mod helpers;

use std::sync::Arc;

use quizmaster::core::{form_generate_request, Claimed, Core, CoreError, CredentialKind};
use quizmaster::db::{
    self, BlueprintLookup, CancelOutcome, Cursor, DeleteOutcome, Finish, GenerateOutcome,
    GenerationLimits, NewApiToken, NewGeneration, NewSessionRow, NewUser, PoolSettings,
    Reservation, SignupOutcome, Store, StoredAnswer, ThrottleClaim,
};
use quizmaster::domain::{
    Attempt, BloomLevel, BlueprintId, BlueprintStatus, ErrorCode, ObjectiveDraft, SessionId,
    TerminalDraft, TokenId, TopicId, TopicInput, UserId, LOCAL_USER_ID,
};
use quizmaster::jobs::hub::StatusHub;
use uuid::Uuid;

use helpers::{Backend, TestDatabase};

async fn open(backend: Backend) -> (TestDatabase, Arc<dyn Store>) {
    let database = TestDatabase::create(backend).await;
    let store = db::connect(&database.url, PoolSettings::default())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    (database, store)
}

/// The built-in local user, typed.
const LOCAL: UserId = UserId(LOCAL_USER_ID);

async fn topic(store: &Arc<dyn Store>, owner: UserId, title: &str, now: i64) -> TopicId {
    let input = TopicInput {
        title: title.into(),
        description: None,
        source_text: None,
    };
    store
        .create_topic(owner, TopicId(Uuid::now_v7()), &input, now)
        .await
        .expect("topic")
        .id
        .into()
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        id: UserId(Uuid::now_v7()),
        email: email.into(),
        password_hash: "$argon2id$not-a-real-hash".into(),
        now: 1_000,
    }
}

fn draft(text: &str) -> ObjectiveDraft {
    ObjectiveDraft {
        text: text.into(),
        verb: "explain".into(),
        bloom_level: BloomLevel::Understand,
        condition: None,
        criterion: None,
        evidence: None,
    }
}

fn terminal(text: &str, enabling: usize) -> TerminalDraft {
    TerminalDraft {
        objective: draft(text),
        enabling: (0..enabling)
            .map(|n| draft(&format!("{text}, step {n}")))
            .collect(),
    }
}

/// The primitives of a write transaction, and that dropping one without commit keeps nothing.
async fn write_transaction_primitives(backend: Backend) {
    let (database, store) = open(backend).await;
    let owner = LOCAL;
    let topic_id = topic(&store, owner, "Tides", 1_000).await;
    let stranger = UserId(Uuid::now_v7());

    let mut tx = store.begin_write().await.expect("begin");
    assert!(tx.lock_owned_topic(topic_id, owner).await.expect("lock"));
    assert!(!tx.lock_owned_topic(topic_id, stranger).await.expect("lock"));
    assert!(!tx
        .lock_owned_topic(TopicId(Uuid::now_v7()), owner)
        .await
        .expect("lock"));
    tx.lock_user(owner).await.expect("lock user");
    assert_eq!(tx.active_generation_of_topic(topic_id).await.unwrap(), None);
    let blueprint_id = BlueprintId(Uuid::now_v7());
    let blueprint = tx
        .insert_generation(blueprint_id, topic_id, 4, 2_000)
        .await
        .expect("insert");
    assert_eq!(blueprint.id, blueprint_id.0);
    assert_eq!(blueprint.topic_id, topic_id.0);
    assert_eq!(blueprint.status, BlueprintStatus::Queued);
    assert_eq!(blueprint.target_terminal_objectives, 4);
    assert_eq!(blueprint.created_at, 2_000);
    assert_eq!(
        tx.active_generation_of_topic(topic_id).await.unwrap(),
        Some(blueprint_id)
    );
    assert_eq!(tx.count_active_generations(owner).await.unwrap(), 1);
    assert_eq!(tx.count_active_generations(stranger).await.unwrap(), 0);
    assert_eq!(
        tx.generation_starts_since(owner, 0).await.unwrap(),
        (0, None)
    );
    tx.note_generation_start(owner, 2_000).await.unwrap();
    tx.note_generation_start(owner, 2_500).await.unwrap();
    assert_eq!(
        tx.generation_starts_since(owner, 1_999).await.unwrap(),
        (2, Some(2_000))
    );
    assert_eq!(
        tx.generation_starts_since(owner, 2_000).await.unwrap(),
        (1, Some(2_500))
    );
    // Not committed: nothing of it is stored.
    drop(tx);
    assert!(store
        .get_blueprint_by_id(blueprint_id)
        .await
        .unwrap()
        .is_none());

    // Committed, it is.
    let mut tx = store.begin_write().await.expect("begin");
    tx.insert_generation(blueprint_id, topic_id, 4, 2_000)
        .await
        .expect("insert");
    tx.commit().await.expect("commit");
    assert!(store
        .get_blueprint_by_id(blueprint_id)
        .await
        .unwrap()
        .is_some());
    database.drop_database().await;
}

/// The partial unique index: a topic holds at most one queued or running blueprint, whatever
/// the caller checked before.
async fn one_active_blueprint_per_topic_is_the_databases_guarantee(backend: Backend) {
    let (database, store) = open(backend).await;
    let topic_id = topic(&store, LOCAL, "Tides", 1_000).await;
    let mut tx = store.begin_write().await.expect("begin");
    tx.insert_generation(BlueprintId(Uuid::now_v7()), topic_id, 3, 2_000)
        .await
        .expect("first");
    let second = tx
        .insert_generation(BlueprintId(Uuid::now_v7()), topic_id, 3, 2_001)
        .await
        .expect_err("a second active blueprint");
    assert!(second.is_unique_violation(), "{second}");
    database.drop_database().await;
}

/// Accounts: the first account, a taken email, handing topics over, credentials and touches.
async fn accounts_and_credentials(backend: Backend) {
    let (database, store) = open(backend).await;
    let local_topic = topic(&store, LOCAL, "Before accounts", 1_000).await;
    let mut tx = store.begin_write().await.expect("begin");
    assert_eq!(tx.count_accounts().await.unwrap(), 0);
    let user = tx
        .insert_user(&new_user("a@b.co"), true)
        .await
        .unwrap()
        .expect("stored");
    assert!(user.is_admin);
    assert!(tx
        .insert_user(&new_user("a@b.co"), false)
        .await
        .unwrap()
        .is_none());
    assert_eq!(tx.count_accounts().await.unwrap(), 1);
    let user_id = UserId(user.id);
    tx.hand_over_topics(LOCAL, user_id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.topic_owner(local_topic).await.unwrap(), Some(user_id));

    let session_id = SessionId(Uuid::now_v7());
    store
        .create_session(&NewSessionRow {
            id: session_id,
            token_hash: "session-hash".into(),
            user_id,
            now: 10_000,
            expires_at: 20_000,
            client: Some("test".into()),
        })
        .await
        .unwrap();
    let found = store
        .session_by_hash("session-hash", 10_001)
        .await
        .unwrap()
        .expect("found");
    assert_eq!((found.id, found.user.id), (session_id.0, user.id));
    assert_eq!(found.last_used_at, Some(10_000));
    store.touch_session(session_id, 15_000).await.unwrap();
    let found = store.session_by_hash("session-hash", 15_001).await.unwrap();
    assert_eq!(found.and_then(|c| c.last_used_at), Some(15_000));
    assert!(store
        .session_by_hash("session-hash", 20_001)
        .await
        .unwrap()
        .is_none());

    let token = store
        .create_api_token(&NewApiToken {
            id: TokenId(Uuid::now_v7()),
            user_id,
            name: "ci".into(),
            token_hash: "token-hash".into(),
            now: 10_000,
            expires_at: None,
        })
        .await
        .unwrap();
    let found = store
        .api_token_by_hash("token-hash", 99_999)
        .await
        .unwrap()
        .expect("found");
    assert_eq!((found.id, found.last_used_at), (token.id, None));
    let token_id = TokenId(token.id);
    store.touch_api_token(token_id, 50_000).await.unwrap();
    let listed = store.list_api_tokens(user_id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_at, Some(50_000));
    assert!(store.delete_api_token(user_id, token_id).await.unwrap());
    assert!(!store.delete_api_token(user_id, token_id).await.unwrap());
    database.drop_database().await;
}

/// Claims raise the attempt; only the current attempt may renew, write, hand back or finish.
async fn job_transitions_are_fenced_by_the_attempt(backend: Backend) {
    let (database, store) = open(backend).await;
    let core = Core::new(store.clone(), StatusHub::new(), GenerationLimits::default());
    let topic_id = topic(&store, LOCAL, "Tides", 1_000).await;
    let GenerateOutcome::Created(queued) = core.admit(&generation(topic_id, 2_000)).await.unwrap()
    else {
        panic!("created")
    };
    let job = store
        .claim_next_job("w1", 3_000, 1_000, 3)
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(job.blueprint.id, queued.id);
    assert_eq!(job.blueprint.attempt, 1);
    assert_eq!(job.blueprint.status, BlueprintStatus::Generating);
    assert_eq!(job.topic.id, topic_id.0);
    assert!(!job.rescued);
    assert!(store
        .claim_next_job("w2", 3_001, 1_000, 3)
        .await
        .unwrap()
        .is_none());
    let id = BlueprintId(queued.id);
    assert!(store
        .renew_lease(id, Attempt(1), 3_500, 1_000)
        .await
        .unwrap());
    assert!(!store
        .renew_lease(id, Attempt(2), 3_500, 1_000)
        .await
        .unwrap());

    let stored = store
        .append_terminal_objective(id, Attempt(1), 1, &terminal("First", 2), 3_600)
        .await
        .unwrap()
        .expect("written");
    assert_eq!(stored.terminal_objectives_count, 1);
    assert_eq!(stored.enabling_objectives_count, 2);
    // The same position again (a retry) and a wrong attempt write nothing.
    assert!(store
        .append_terminal_objective(id, Attempt(1), 1, &terminal("First", 2), 3_601)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .append_terminal_objective(id, Attempt(2), 2, &terminal("Second", 0), 3_602)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .set_blueprint_summary(id, Attempt(2), "No", "Fenced off", 3_603)
        .await
        .unwrap()
        .is_none());
    let summarised = store
        .set_blueprint_summary(id, Attempt(1), "Tides", "Why the sea moves", 3_604)
        .await
        .unwrap()
        .expect("written");
    assert_eq!(summarised.title.as_deref(), Some("Tides"));
    assert!(summarised.version > stored.version);

    // Handed back, the next claim takes it at once as attempt 2, not as a rescue.
    assert!(!store.release_lease(id, Attempt(2)).await.unwrap());
    assert!(store.release_lease(id, Attempt(1)).await.unwrap());
    let job = store
        .claim_next_job("w2", 3_700, 1_000, 3)
        .await
        .unwrap()
        .expect("claimed again");
    assert_eq!(job.blueprint.attempt, 2);
    assert!(!job.rescued);
    // Its lease runs out: the next claim rescues it as attempt 3.
    let job = store
        .claim_next_job("w3", 5_000, 1_000, 3)
        .await
        .unwrap()
        .expect("rescued");
    assert_eq!(job.blueprint.attempt, 3);
    assert!(job.rescued);
    assert!(store
        .finish_generation(id, Attempt(2), &Finish::Completed { quality: None }, 5_100)
        .await
        .unwrap()
        .is_none());
    let ended = store
        .finish_generation(id, Attempt(3), &Finish::Completed { quality: None }, 5_200)
        .await
        .unwrap()
        .expect("finished");
    assert_eq!(ended.status, BlueprintStatus::Completed);
    assert_eq!(ended.finished_at, Some(5_200));
    assert!(store
        .finish_generation(id, Attempt(3), &Finish::Completed { quality: None }, 5_300)
        .await
        .unwrap()
        .is_none());
    let objectives = store.get_objectives(id).await.unwrap();
    assert_eq!(objectives.len(), 1);
    assert_eq!(objectives[0].enabling_objectives.len(), 2);
    database.drop_database().await;
}

fn generation(topic_id: TopicId, now: i64) -> NewGeneration {
    NewGeneration {
        blueprint_id: BlueprintId(Uuid::now_v7()),
        topic_id,
        owner_id: LOCAL,
        limits: GenerationLimits::default(),
        target_terminal_objectives: 3,
        now,
    }
}

/// The watchdog's sweeps: a generation past its time, and one whose workers kept dying.
async fn sweeps_end_timed_out_and_lost_generations(backend: Backend) {
    let (database, store) = open(backend).await;
    let core = Core::new(store.clone(), StatusHub::new(), GenerationLimits::default());
    let slow = topic(&store, LOCAL, "Slow", 1_000).await;
    let lost = topic(&store, LOCAL, "Lost", 1_000).await;
    // The lost one is enqueued first and claimed at 8 000 with a lease of 100 ms and its one
    // attempt; the slow one stays queued from 2 000 on.
    let GenerateOutcome::Created(lost_one) = core.admit(&generation(lost, 1_500)).await.unwrap()
    else {
        panic!("created")
    };
    let GenerateOutcome::Created(slow_one) = core.admit(&generation(slow, 2_000)).await.unwrap()
    else {
        panic!("created")
    };
    let claimed = store.claim_next_job("w", 8_000, 100, 1).await.unwrap();
    assert_eq!(claimed.map(|j| j.blueprint.id), Some(lost_one.id));
    assert_eq!(store.queue_stats().await.unwrap().queued, 1);

    // A queued generation counts from its creation, a running one from its start.
    let timed_out = store.time_out_generations(5_000, 9_000).await.unwrap();
    assert_eq!(
        timed_out.iter().map(|b| b.id).collect::<Vec<_>>(),
        [slow_one.id]
    );
    assert_eq!(timed_out[0].error_code, Some(ErrorCode::Timeout));
    assert_eq!(timed_out[0].status, BlueprintStatus::Error);
    assert!(store
        .time_out_generations(5_000, 9_001)
        .await
        .unwrap()
        .is_empty());

    // The lease runs out at 8 100, with no attempt left.
    assert!(store.fail_lost_jobs(8_050, 1).await.unwrap().is_empty());
    assert!(store.fail_lost_jobs(8_200, 2).await.unwrap().is_empty());
    let failed = store.fail_lost_jobs(8_200, 1).await.unwrap();
    assert_eq!(
        failed.iter().map(|b| b.id).collect::<Vec<_>>(),
        [lost_one.id]
    );
    assert_eq!(failed[0].error_code, Some(ErrorCode::WorkerLost));
    assert!(store.fail_lost_jobs(8_300, 1).await.unwrap().is_empty());
    assert_eq!(store.queue_stats().await.unwrap().queued, 0);
    database.drop_database().await;
}

/// Cancel, delete and lookups answer each case the way the core maps to the contract.
async fn cancel_delete_and_lookups(backend: Backend) {
    let (database, store) = open(backend).await;
    let core = Core::new(store.clone(), StatusHub::new(), GenerationLimits::default());
    let topic_id = topic(&store, LOCAL, "Tides", 1_000).await;
    let other_topic = topic(&store, LOCAL, "Other", 1_000).await;
    let missing = TopicId(Uuid::now_v7());
    let GenerateOutcome::Created(blueprint) =
        core.admit(&generation(topic_id, 2_000)).await.unwrap()
    else {
        panic!("created")
    };
    let id = BlueprintId(blueprint.id);
    assert!(matches!(
        store.get_blueprint(topic_id, id).await.unwrap(),
        BlueprintLookup::Found(b) if b.id == id.0
    ));
    assert!(matches!(
        store.get_blueprint(other_topic, id).await.unwrap(),
        BlueprintLookup::BlueprintNotFound
    ));
    assert!(matches!(
        store.get_blueprint(missing, id).await.unwrap(),
        BlueprintLookup::TopicNotFound
    ));
    assert_eq!(
        store.delete_blueprint(topic_id, id).await.unwrap(),
        DeleteOutcome::Active
    );
    assert!(matches!(
        store
            .cancel_generation(other_topic, id, 2_100)
            .await
            .unwrap(),
        CancelOutcome::BlueprintNotFound
    ));
    assert!(matches!(
        store.cancel_generation(missing, id, 2_100).await.unwrap(),
        CancelOutcome::TopicNotFound
    ));
    let CancelOutcome::Cancelled(cancelled) =
        store.cancel_generation(topic_id, id, 2_100).await.unwrap()
    else {
        panic!("cancelled")
    };
    assert_eq!(cancelled.status, BlueprintStatus::Cancelled);
    assert!(cancelled.version > blueprint.version);
    assert!(matches!(
        store.cancel_generation(topic_id, id, 2_200).await.unwrap(),
        CancelOutcome::AlreadyTerminal(b) if b.status == BlueprintStatus::Cancelled
    ));
    // A cancelled job is never claimed.
    assert!(store
        .claim_next_job("w", 3_000, 1_000, 3)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.delete_blueprint(missing, id).await.unwrap(),
        DeleteOutcome::TopicNotFound
    );
    assert_eq!(
        store.delete_blueprint(topic_id, id).await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        store.delete_blueprint(topic_id, id).await.unwrap(),
        DeleteOutcome::BlueprintNotFound
    );

    // Deleting a topic cancels its active generation and reports it.
    let GenerateOutcome::Created(active) = core.admit(&generation(topic_id, 4_000)).await.unwrap()
    else {
        panic!("created")
    };
    let ended = store
        .delete_topic(topic_id, 4_100)
        .await
        .unwrap()
        .expect("deleted");
    assert_eq!(ended.iter().map(|b| b.id).collect::<Vec<_>>(), [active.id]);
    assert_eq!(ended[0].status, BlueprintStatus::Cancelled);
    assert!(store.get_topic(topic_id).await.unwrap().is_none());
    assert!(store.delete_topic(topic_id, 4_200).await.unwrap().is_none());
    database.drop_database().await;
}

/// Listings are newest first and page by cursor without gaps or repeats.
async fn listings_page_by_cursor(backend: Backend) {
    let (database, store) = open(backend).await;
    // Two topics share a creation time: the id breaks the tie.
    let mut created = Vec::new();
    for (n, now) in [1_000, 2_000, 2_000, 3_000, 4_000].into_iter().enumerate() {
        created.push((now, topic(&store, LOCAL, &format!("T{n}"), now).await.0));
    }
    created.sort_by(|a, b| b.cmp(a));
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_topics(LOCAL, 2, after).await.unwrap();
        if page.is_empty() {
            break;
        }
        seen.extend(page.iter().map(|t| (t.created_at, t.id)));
        let last = page.last().expect("non-empty");
        after = Some(Cursor {
            created_at: last.created_at,
            id: last.id,
        });
    }
    assert_eq!(seen, created);
    assert!(store
        .list_topics(UserId(Uuid::now_v7()), 10, None)
        .await
        .unwrap()
        .is_empty());
    database.drop_database().await;
}

/// The admission rules as the core composes them from the primitives.
async fn admission_rules(backend: Backend) {
    let (database, store) = open(backend).await;
    let limits = GenerationLimits {
        per_minute: 2,
        max_active: 2,
    };
    let core = Core::new(store.clone(), StatusHub::new(), limits);
    let SignupOutcome::Created(owner) = core.create_user(&new_user("o@b.co")).await.unwrap() else {
        panic!("created")
    };
    assert!(owner.is_admin, "the first account is the admin");
    let SignupOutcome::Created(second) = core.create_user(&new_user("s@b.co")).await.unwrap()
    else {
        panic!("created")
    };
    assert!(!second.is_admin);
    assert!(matches!(
        core.create_user(&new_user("s@b.co")).await.unwrap(),
        SignupOutcome::EmailTaken
    ));
    let topics = [
        topic(&store, UserId(owner.id), "A", 1_000).await,
        topic(&store, UserId(owner.id), "B", 1_000).await,
        topic(&store, UserId(owner.id), "C", 1_000).await,
    ];
    let admit = |topic_id: TopicId, now: i64| {
        let mut new = generation(topic_id, now);
        new.owner_id = UserId(owner.id);
        new.limits = limits;
        new
    };
    let GenerateOutcome::Created(first) = core.admit(&admit(topics[0], 10_000)).await.unwrap()
    else {
        panic!("created")
    };
    assert!(matches!(
        core.admit(&admit(topics[0], 10_002)).await.unwrap(),
        GenerateOutcome::InProgress { active_blueprint_id } if active_blueprint_id.0 == first.id
    ));
    let mut stranger = admit(topics[1], 10_003);
    stranger.owner_id = UserId(second.id);
    assert!(matches!(
        core.admit(&stranger).await.unwrap(),
        GenerateOutcome::TopicNotFound
    ));
    assert!(matches!(
        core.admit(&admit(topics[1], 20_000)).await.unwrap(),
        GenerateOutcome::Created(_)
    ));
    assert!(matches!(
        core.admit(&admit(topics[2], 20_001)).await.unwrap(),
        GenerateOutcome::ActiveLimitReached { limit: 2 }
    ));
    core.cancel_generation(topics[0], BlueprintId(first.id))
        .await
        .unwrap();
    // Room for one more active, but two starts in the last minute: the oldest (10 000)
    // leaves the window at 70 000.
    assert!(matches!(
        core.admit(&admit(topics[2], 30_000)).await.unwrap(),
        GenerateOutcome::RateLimited {
            retry_after_ms: 40_000
        }
    ));
    assert!(matches!(
        core.admit(&admit(topics[2], 70_001)).await.unwrap(),
        GenerateOutcome::Created(_)
    ));

    // Using a credential is noted at most once a minute.
    store
        .create_session(&NewSessionRow {
            id: SessionId(Uuid::now_v7()),
            token_hash: "h".into(),
            user_id: UserId(owner.id),
            now: 100_000,
            expires_at: 1_000_000,
            client: None,
        })
        .await
        .unwrap();
    for (now, noted) in [(100_500, 100_000), (160_001, 160_001), (170_000, 160_001)] {
        let found = core
            .credential(CredentialKind::Session, "h", now)
            .await
            .unwrap()
            .expect("found");
        assert_eq!(found.user.id, owner.id);
        let listed = store.list_sessions(UserId(owner.id), now).await.unwrap();
        assert_eq!(listed[0].last_seen_at, noted, "at {now}");
    }
    database.drop_database().await;
}

/// Throttle reservations: all keys or none, refused once a key holds its limit.
async fn throttle_reservations(backend: Backend) {
    let (database, store) = open(backend).await;
    let claims = |since: i64| {
        vec![
            ThrottleClaim {
                key: "account".into(),
                since,
                limit: 2,
            },
            ThrottleClaim {
                key: "address".into(),
                since,
                limit: 3,
            },
        ]
    };
    for at in [1_000, 2_000] {
        assert_eq!(
            store.reserve_throttle_events(&claims(0), at).await.unwrap(),
            Reservation::Reserved
        );
    }
    // "account" is full: the event that filled it is the 2nd newest, at 1 000.
    assert_eq!(
        store
            .reserve_throttle_events(&claims(0), 3_000)
            .await
            .unwrap(),
        Reservation::Refused {
            claim: 0,
            filling_at: 1_000
        }
    );
    // Nothing was noted under "address" by the refusal: after the window moves past 1 000,
    // one more fits under both.
    assert_eq!(
        store
            .reserve_throttle_events(&claims(1_000), 3_000)
            .await
            .unwrap(),
        Reservation::Reserved
    );
    assert_eq!(
        store
            .reserve_throttle_events(&claims(1_000), 3_500)
            .await
            .unwrap(),
        Reservation::Refused {
            claim: 0,
            filling_at: 2_000
        }
    );
    // Given back, the attempt at 3 000 no longer counts.
    store
        .release_throttle_events(&["account".into(), "address".into()], 3_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .reserve_throttle_events(&claims(1_000), 3_600)
            .await
            .unwrap(),
        Reservation::Reserved
    );
    store.clear_throttle_events("account").await.unwrap();
    assert_eq!(
        store
            .reserve_throttle_events(&claims(0), 3_700)
            .await
            .unwrap(),
        Reservation::Refused {
            claim: 1,
            filling_at: 1_000
        }
    );
    database.drop_database().await;
}

/// The web form's one-time keys are the core's idempotency rule: one generation per key, the
/// key given back when the start fails, and a second submission that arrives while the first
/// is still being admitted waits for it instead of failing.
async fn form_keys_start_one_generation(backend: Backend) {
    let (database, store) = open(backend).await;
    let core = Core::new(store.clone(), StatusHub::new(), GenerationLimits::default());
    let owner = LOCAL;
    let tides = topic(&store, owner, "Tides", 1_000).await;
    let first = core
        .start_generation_once(owner, tides, 3, "form-1".into())
        .await
        .expect("started");
    let again = core
        .start_generation_once(owner, tides, 3, "form-1".into())
        .await
        .expect("replayed");
    assert_eq!(again, first);
    let listed = store
        .list_blueprints(tides, None, 10, None)
        .await
        .unwrap()
        .expect("topic");
    assert_eq!(listed.iter().map(|b| b.id).collect::<Vec<_>>(), [first.0]);
    assert!(matches!(
        core.start_generation_once(owner, tides, 4, "form-1".into())
            .await,
        Err(CoreError::IdempotencyKeyReused)
    ));
    // The same key on another topic is another key.
    let waves = topic(&store, owner, "Waves", 1_000).await;
    let other = core
        .start_generation_once(owner, waves, 3, "form-1".into())
        .await
        .expect("started");
    assert_ne!(other, first);

    // Refused (the topic's generation runs), the key is given back: once the running one is
    // cancelled, the same submission starts a generation.
    assert!(matches!(
        core.start_generation_once(owner, tides, 3, "form-2".into())
            .await,
        Err(CoreError::GenerationInProgress { blueprint_id, .. }) if blueprint_id == first.0
    ));
    core.cancel_generation(tides, first).await.expect("cancel");
    let second = core
        .start_generation_once(owner, tides, 3, "form-2".into())
        .await
        .expect("started after the refusal");
    assert_ne!(second, first);

    // While the first submission holds the key, a second one waits for its answer.
    let request = form_generate_request(owner, waves, 5, "form-3".into());
    let Claimed::First(held) = core.claim_idempotency_key(&request).await.expect("claim") else {
        panic!("the key is new")
    };
    assert!(matches!(
        core.claim_idempotency_key(&request).await,
        Err(CoreError::IdempotencyKeyInFlight)
    ));
    let waiter = {
        let core = core.clone();
        tokio::spawn(async move {
            core.start_generation_once(owner, waves, 5, "form-3".into())
                .await
        })
    };
    let mut waiter = std::pin::pin!(waiter);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), waiter.as_mut())
            .await
            .is_err(),
        "the second submission waits while the first holds the key"
    );
    let answer = StoredAnswer {
        status: 202,
        location: None,
        body: other.to_string(),
    };
    held.complete(&answer).await.expect("complete");
    let waited = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .expect("woken")
        .expect("joined")
        .expect("the first submission's generation");
    assert_eq!(waited, other);
    database.drop_database().await;
}

/// Who may see what, as the core rules it: a topic is its owner's alone, the jobs dashboard
/// shows an admin everyone's generations and anyone else their own, and only a completed
/// blueprint is exported.
async fn access_rules(backend: Backend) {
    let (database, store) = open(backend).await;
    let core = Core::new(store.clone(), StatusHub::new(), GenerationLimits::default());
    let SignupOutcome::Created(admin) = core.create_user(&new_user("a@b.co")).await.unwrap() else {
        panic!("created")
    };
    let SignupOutcome::Created(bob) = core.create_user(&new_user("b@b.co")).await.unwrap() else {
        panic!("created")
    };
    let (admin_id, bob_id) = (UserId(admin.id), UserId(bob.id));
    let bobs = topic(&store, bob_id, "Bob's", 1_000).await;
    core.check_topic_owner(bobs, bob_id).await.expect("his own");
    for _ in 0..2 {
        // Asked twice: the second answer comes from the cache and must say the same.
        assert!(matches!(
            core.check_topic_owner(bobs, admin_id).await,
            Err(CoreError::TopicNotFound)
        ));
    }
    assert!(matches!(
        core.check_topic_owner(TopicId(Uuid::now_v7()), bob_id)
            .await,
        Err(CoreError::TopicNotFound)
    ));

    let mut new = generation(bobs, 2_000);
    new.owner_id = bob_id;
    let GenerateOutcome::Created(running) = core.admit(&new).await.unwrap() else {
        panic!("created")
    };
    let seen = |viewer: &quizmaster::domain::User| {
        let (core, viewer) = (core.clone(), viewer.clone());
        async move {
            core.jobs_visible_to(&viewer, 0, 10)
                .await
                .unwrap()
                .iter()
                .map(|job| job.blueprint.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(seen(&admin).await, [running.id], "an admin sees everyone's");
    assert_eq!(seen(&bob).await, [running.id]);
    let mut carol = bob.clone();
    carol.id = Uuid::now_v7();
    assert!(seen(&carol).await.is_empty(), "anyone else their own");

    assert!(matches!(
        core.exportable_blueprint(bobs, BlueprintId(running.id))
            .await,
        Err(CoreError::NotCompleted(BlueprintStatus::Queued))
    ));
    let job = store
        .claim_next_job("w", 3_000, 60_000, 3)
        .await
        .unwrap()
        .expect("claimed");
    core.finish_generation(
        BlueprintId(running.id),
        Attempt(job.blueprint.attempt),
        &Finish::Completed { quality: None },
        4_000,
    )
    .await
    .unwrap()
    .expect("finished");
    let exported = core
        .exportable_blueprint(bobs, BlueprintId(running.id))
        .await
        .expect("completed");
    assert_eq!(exported.status, BlueprintStatus::Completed);
    database.drop_database().await;
}

on_both_backends!(
    access_rules,
    form_keys_start_one_generation,
    throttle_reservations,
    write_transaction_primitives,
    one_active_blueprint_per_topic_is_the_databases_guarantee,
    accounts_and_credentials,
    job_transitions_are_fenced_by_the_attempt,
    sweeps_end_timed_out_and_lost_generations,
    cancel_delete_and_lookups,
    listings_page_by_cursor,
    admission_rules,
);

/// PostgreSQL runs claims and endings at once: a claim skips a job whose blueprint another
/// transaction holds (a cancel, a finish, which lock the blueprint before its job) instead of
/// waiting for it, so the two can never wait on each other. (SQLite has one writer at a time.)
#[tokio::test]
async fn a_claim_skips_a_job_whose_blueprint_is_held() {
    if !helpers::postgres_available().await {
        return;
    }
    let (database, store) = open(Backend::Postgres).await;
    let core = Core::new(store.clone(), StatusHub::new(), GenerationLimits::default());
    let tides = topic(&store, LOCAL, "Tides", 1_000).await;
    let GenerateOutcome::Created(queued) = core.admit(&generation(tides, 2_000)).await.unwrap()
    else {
        panic!("created")
    };
    let other = sqlx::PgPool::connect(&database.url).await.expect("connect");
    let mut holder = other.begin().await.expect("begin");
    sqlx::query("SELECT id FROM blueprints WHERE id = $1 FOR UPDATE")
        .bind(queued.id)
        .execute(&mut *holder)
        .await
        .expect("lock the blueprint");
    let claimed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        store.claim_next_job("w", 3_000, 1_000, 3),
    )
    .await
    .expect("the claim does not wait for the held blueprint")
    .unwrap();
    assert!(claimed.is_none(), "the held job is skipped");
    holder.rollback().await.expect("release");
    let claimed = store.claim_next_job("w", 3_001, 1_000, 3).await.unwrap();
    assert_eq!(claimed.map(|job| job.blueprint.id), Some(queued.id));
    other.close().await;
    database.drop_database().await;
}
