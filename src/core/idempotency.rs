//! Idempotency keys (the IETF Idempotency-Key draft) for every request that creates something:
//! a key is the user's, per operation (and per topic for generate), for 24 hours. The first
//! request with a key claims it and runs; its answer is stored. A retry with the same body gets
//! that answer again; another body is refused (`422`), and so is a retry while the first is
//! still running (`409`) — unless the caller chose to wait for it (the web form). A first
//! request that fails (any answer but a success) releases the key, so that the client can
//! retry with it.
//!
//! The JSON API's `Idempotency-Key` and the web form's one-time key are both this one rule,
//! on the one table of records (`idempotency_requests`).

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::{Core, CoreError, CoreResult};
use crate::db::{IdempotencyClaim, IdempotencyScope, Store, StoreError, StoredAnswer};
use crate::domain::time::now_ms;
use crate::domain::{BlueprintId, TopicId, UserId};

/// How long a key replays its first answer.
pub const IDEMPOTENCY_KEY_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// A key still in flight after this long belongs to a request that died with its process:
/// it may be claimed again. Creating requests answer in well under a second.
const IN_FLIGHT_ABANDONED_MS: i64 = 60 * 1000;
/// A waiting claim looks at the key again this often even when this process heard nothing:
/// the first request may run in another process sharing the database.
const WAIT_RECHECK: Duration = Duration::from_millis(100);
/// How long a submitted form waits for the same form's first submission to end.
const FORM_PATIENCE: Duration = Duration::from_secs(10);
/// The operation the web form's generate keys are scoped to. Not the API's
/// `generate_blueprint`: the two store different answers (a blueprint id, an HTTP answer).
pub const FORM_GENERATE_ROUTE: &str = "generate_blueprint_form";

/// A request with an idempotency key: where the key is scoped, and what the body was.
#[derive(Debug, Clone)]
pub struct IdempotentRequest {
    pub scope: IdempotencyScope,
    /// SHA-256 (hex) of the canonical body; see [`fingerprint`].
    pub fingerprint: String,
}

/// The fingerprint of a request body: SHA-256 of its canonical form (the JSON with its object
/// keys sorted and no insignificant white space, so that a client re-serialising the same
/// value does not change it), in hex.
pub fn fingerprint(canonical_body: &str) -> String {
    let digest = Sha256::digest(canonical_body.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// What claiming a request's key found.
#[derive(Debug)]
pub enum Claimed {
    /// This request is the first with the key: it runs, then stores its answer with
    /// [`KeyClaim::complete`] or gives the key back with [`KeyClaim::release`].
    First(KeyClaim),
    /// A retry: the first request's answer, to be given again.
    Replay(StoredAnswer),
}

/// A claimed key whose request has not ended. Dropped without an answer (the request failed,
/// or its client went away and the handler was dropped), the key is released, so that a retry
/// may run.
pub struct KeyClaim {
    store: Arc<dyn Store>,
    settled: Arc<Notify>,
    request: Option<IdempotentRequest>,
}

impl std::fmt::Debug for KeyClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyClaim")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl KeyClaim {
    /// Stores the first request's answer, to be replayed to retries.
    pub async fn complete(mut self, answer: &StoredAnswer) -> CoreResult<()> {
        let Some(request) = self.request.take() else {
            return Ok(());
        };
        let stored = self
            .store
            .complete_idempotency_key(&request.scope, answer)
            .await;
        self.settled.notify_waiters();
        Ok(stored?)
    }

    /// Gives the key back: the request ended without an answer worth replaying.
    pub async fn release(mut self) -> CoreResult<()> {
        let Some(request) = self.request.take() else {
            return Ok(());
        };
        let released = self.store.release_idempotency_key(&request.scope).await;
        self.settled.notify_waiters();
        Ok(released?)
    }
}

impl Drop for KeyClaim {
    fn drop(&mut self) {
        let Some(request) = self.request.take() else {
            return;
        };
        let (store, settled) = (Arc::clone(&self.store), Arc::clone(&self.settled));
        // Outside a runtime (a process shutting down) the key is abandoned instead, and
        // claimed again after `IN_FLIGHT_ABANDONED_MS`.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = store.release_idempotency_key(&request.scope).await {
                    tracing::warn!(error = %err, "could not release an idempotency key");
                }
                settled.notify_waiters();
            });
        }
    }
}

impl Core {
    /// Claims the request's key: [`Claimed::First`] when this request is the first (it runs),
    /// [`Claimed::Replay`] for a retry of a request that ended. Refuses another body
    /// ([`CoreError::IdempotencyKeyReused`]) and a retry while the first request still runs
    /// ([`CoreError::IdempotencyKeyInFlight`]).
    pub async fn claim_idempotency_key(&self, request: &IdempotentRequest) -> CoreResult<Claimed> {
        // A claim released between our insert and our look is claimed again; a few turns
        // settle any race.
        for _ in 0..5 {
            let now = now_ms();
            let claim = self
                .store
                .claim_idempotency_key(
                    &request.scope,
                    &request.fingerprint,
                    now,
                    now - IDEMPOTENCY_KEY_TTL_MS,
                    now - IN_FLIGHT_ABANDONED_MS,
                )
                .await?;
            match claim {
                IdempotencyClaim::Claimed => {
                    return Ok(Claimed::First(KeyClaim {
                        store: Arc::clone(&self.store),
                        settled: Arc::clone(&self.idempotency_settled),
                        request: Some(request.clone()),
                    }))
                }
                IdempotencyClaim::Taken(record) if record.fingerprint != request.fingerprint => {
                    return Err(CoreError::IdempotencyKeyReused)
                }
                IdempotencyClaim::Taken(record) => {
                    return record
                        .answer
                        .map(Claimed::Replay)
                        .ok_or(CoreError::IdempotencyKeyInFlight)
                }
                IdempotencyClaim::Released => continue,
            }
        }
        Err(CoreError::IdempotencyKeyInFlight)
    }

    /// [`Core::claim_idempotency_key`], but a retry that finds the first request still running
    /// waits for it to end (up to `patience`) and then takes its answer, or the key when the
    /// first request failed.
    pub async fn claim_idempotency_key_waiting(
        &self,
        request: &IdempotentRequest,
        patience: Duration,
    ) -> CoreResult<Claimed> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            // Listening before looking: an end announced in between is not missed.
            let settled = self.idempotency_settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            match self.claim_idempotency_key(request).await {
                Err(CoreError::IdempotencyKeyInFlight) => {}
                other => return other,
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(CoreError::IdempotencyKeyInFlight);
            }
            // Woken by an end in this process, or after a while to look again for one in another.
            let _ = tokio::time::timeout(WAIT_RECHECK.min(deadline - now), settled).await;
        }
    }

    /// Starts a generation from the web form, once per the form's one-time `key`: the page
    /// carries a fresh key, so a double submit (or a resubmit after a lost answer) leads to the
    /// generation the first submit started instead of a second one. A submit that arrives while
    /// the first is still being admitted waits for it. The generation's id is the answer
    /// stored under the key; the rest is [`Core::start_generation`].
    pub async fn start_generation_once(
        &self,
        owner_id: UserId,
        topic_id: TopicId,
        target_terminal_objectives: i64,
        key: String,
    ) -> CoreResult<BlueprintId> {
        let request = form_generate_request(owner_id, topic_id, target_terminal_objectives, key);
        let claim = match self
            .claim_idempotency_key_waiting(&request, FORM_PATIENCE)
            .await?
        {
            Claimed::Replay(answer) => {
                return answer.body.parse().map_err(|_| {
                    CoreError::Store(StoreError::Other(anyhow::anyhow!(
                        "the stored answer of a form key is not a blueprint id: {:?}",
                        answer.body
                    )))
                })
            }
            Claimed::First(claim) => claim,
        };
        // On an error the claim is dropped, which gives the key back.
        let blueprint = self
            .start_generation(owner_id, topic_id, target_terminal_objectives)
            .await?;
        let answer = StoredAnswer {
            status: 202,
            location: None,
            body: blueprint.id.to_string(),
        };
        // The generation is started: a failure to store the answer must not turn it into an
        // error. The key stays in flight and is abandoned after a minute.
        if let Err(err) = claim.complete(&answer).await {
            tracing::warn!(error = %err, "could not store a form key's generation");
        }
        Ok(BlueprintId(blueprint.id))
    }
}

/// The web form's generate request under its one-time key: scoped to the user, the form's
/// route and the topic; the fingerprint is the request's canonical JSON, as the API's would be.
pub fn form_generate_request(
    owner_id: UserId,
    topic_id: TopicId,
    target_terminal_objectives: i64,
    key: String,
) -> IdempotentRequest {
    let body = serde_json::json!({ "target_terminal_objectives": target_terminal_objectives });
    IdempotentRequest {
        scope: IdempotencyScope {
            user_id: owner_id,
            route: FORM_GENERATE_ROUTE,
            scope: topic_id.to_string(),
            key,
        },
        fingerprint: fingerprint(&body.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn fingerprints_are_sha256_hex() {
        assert_eq!(
            fingerprint(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(fingerprint("{\"a\":1}"), fingerprint("{\"a\":2}"));
    }
}
