//! Idempotency keys (the IETF Idempotency-Key draft) for every request that creates something:
//! a key is the user's, per operation (and per topic for generate), for 24 hours. The first
//! request with a key claims it and runs; its answer is stored. A retry with the same body gets
//! that answer again; another body is refused (`422`), and so is a retry while the first is
//! still running (`409`). A first request that fails (any answer but a success) releases the
//! key, so that the client can retry with it.

use sha2::{Digest, Sha256};

use super::{Core, CoreError, CoreResult};
use crate::db::{IdempotencyClaim, IdempotencyScope, StoredAnswer};
use crate::domain::time::now_ms;

/// How long a key replays its first answer.
pub const IDEMPOTENCY_KEY_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// A key still in flight after this long belongs to a request that died with its process:
/// it may be claimed again. Creating requests answer in well under a second.
const IN_FLIGHT_ABANDONED_MS: i64 = 60 * 1000;

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

impl Core {
    /// Claims the request's key. `Ok(None)`: this request is the first; it runs and then
    /// calls [`Core::finish_idempotent`]. `Ok(Some(answer))`: a retry; answer it with the
    /// first request's answer.
    pub async fn claim_idempotency_key(
        &self,
        request: &IdempotentRequest,
    ) -> CoreResult<Option<StoredAnswer>> {
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
                IdempotencyClaim::Claimed => return Ok(None),
                IdempotencyClaim::Taken(record) if record.fingerprint != request.fingerprint => {
                    return Err(CoreError::IdempotencyKeyReused)
                }
                IdempotencyClaim::Taken(record) => {
                    return record
                        .answer
                        .map(Some)
                        .ok_or(CoreError::IdempotencyKeyInFlight)
                }
                IdempotencyClaim::Released => continue,
            }
        }
        Err(CoreError::IdempotencyKeyInFlight)
    }

    /// Ends a claimed request: a success is stored to be replayed; anything else (`None`)
    /// releases the key.
    pub async fn finish_idempotent(
        &self,
        request: &IdempotentRequest,
        answer: Option<&StoredAnswer>,
    ) -> CoreResult<()> {
        match answer {
            Some(answer) => {
                self.store
                    .complete_idempotency_key(&request.scope, answer)
                    .await?
            }
            None => self.store.release_idempotency_key(&request.scope).await?,
        }
        Ok(())
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
