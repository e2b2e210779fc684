//! The rules of accounts the storage used to keep: who becomes the first admin, and how often
//! using a credential is noted.

use super::Core;
use crate::db::{Credential, NewUser, SignupOutcome, StoreResult};
use crate::domain::{SessionId, TokenId, UserId, LOCAL_USER_ID};

/// Using a session or API token is noted at most this often, so that reading with one is not
/// a write per request.
pub const TOUCH_INTERVAL_MS: i64 = 60_000;

/// Which kind of credential a secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    Session,
    ApiToken,
}

impl Core {
    /// Stores an account. The first account besides the built-in local user is made an admin
    /// and takes over the local user's topics (data stored while `QUIZMASTER_AUTH` was off).
    pub async fn create_user(&self, new: &NewUser) -> StoreResult<SignupOutcome> {
        let mut tx = self.store.begin_write().await?;
        // Sign-ups take turns on the local user: two at once on an empty database cannot both
        // become the first admin.
        tx.lock_user(UserId(LOCAL_USER_ID)).await?;
        let first = tx.count_accounts().await? == 0;
        let Some(user) = tx.insert_user(new, first).await? else {
            return Ok(SignupOutcome::EmailTaken);
        };
        if first {
            tx.hand_over_topics(UserId(LOCAL_USER_ID), UserId(user.id))
                .await?;
        }
        tx.commit().await?;
        if first {
            // The local user's topics changed hands.
            self.owners.clear();
        }
        Ok(SignupOutcome::Created(user))
    }

    /// The unexpired credential whose secret hashes to `token_hash`; notes its use at most
    /// once per [`TOUCH_INTERVAL_MS`].
    pub async fn credential(
        &self,
        kind: CredentialKind,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<Credential>> {
        let found = match kind {
            CredentialKind::Session => self.store.session_by_hash(token_hash, now).await?,
            CredentialKind::ApiToken => self.store.api_token_by_hash(token_hash, now).await?,
        };
        let Some(credential) = found else {
            return Ok(None);
        };
        if credential
            .last_used_at
            .is_none_or(|at| at < now - TOUCH_INTERVAL_MS)
        {
            let touched = match kind {
                CredentialKind::Session => {
                    self.store
                        .touch_session(SessionId(credential.id), now)
                        .await
                }
                CredentialKind::ApiToken => {
                    self.store
                        .touch_api_token(TokenId(credential.id), now)
                        .await
                }
            };
            // Only a note for the sessions and tokens lists: a failed write must not refuse
            // the request.
            if let Err(err) = touched {
                tracing::warn!(error = %err, ?kind, "could not note the use of a credential");
            }
        }
        Ok(Some(credential))
    }
}
