//! The rules of accounts: who becomes the first admin, how often using a credential is noted,
//! signing up and logging in (with their limits), sessions and API tokens.

use uuid::Uuid;

use super::{Core, CoreError, CoreResult};
use crate::accounts::throttle::Throttle;
use crate::accounts::{self, hash_secret, new_secret, API_TOKEN_PREFIX, SESSION_PREFIX};
use crate::db::{Credential, NewApiToken, NewSessionRow, NewUser, SignupOutcome, StoreResult};
use crate::domain::account::describe_client;
use crate::domain::time::now_ms;
use crate::domain::{
    ApiTokenInfo, ClientAddr, Credentials, SessionId, TokenId, User, UserId, LOCAL_USER_ID,
};
use crate::telemetry::LOGINS;

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

/// What the account operations take from the settings.
pub struct AccountRules<'a> {
    /// `QUIZMASTER_AUTH=on`: there are accounts (off: everyone is the local user).
    pub enabled: bool,
    /// `QUIZMASTER_SIGNUP=open`.
    pub signup_open: bool,
    /// How long a log-in session lasts.
    pub session_ttl_ms: i64,
    /// The log-in and sign-up limits.
    pub throttle: &'a Throttle,
}

/// A session just started: the user and the secret for the cookie (only its hash is stored).
pub struct NewSession {
    pub user: User,
    pub secret: String,
}

/// An API token just created: what is stored of it, and its secret, shown this once.
pub struct NewToken {
    pub info: ApiTokenInfo,
    pub secret: String,
}

impl Core {
    /// Creates an account and starts its session. Every attempt from a client address counts
    /// against the sign-up limit before the email is looked up or the password hashed (only
    /// the machine itself is exempt), so a taken email costs no hashing and cannot be probed
    /// for without limit.
    pub async fn sign_up(
        &self,
        rules: &AccountRules<'_>,
        credentials: Credentials,
        client: ClientAddr,
        user_agent: Option<&str>,
    ) -> CoreResult<NewSession> {
        if !rules.enabled {
            return Err(CoreError::AuthDisabled);
        }
        if !rules.signup_open {
            return Err(CoreError::SignupClosed);
        }
        let store = self.store.as_ref();
        if let Err(wait_secs) = rules
            .throttle
            .reserve_sign_up(store, client, now_ms())
            .await?
        {
            return Err(CoreError::TooManySignups { wait_secs });
        }
        if store.email_registered(&credentials.email).await? {
            return Err(CoreError::EmailTaken);
        }
        let password_hash = accounts::hash_password(credentials.password)
            .await
            .map_err(CoreError::Internal)?;
        let new = NewUser {
            id: UserId(Uuid::now_v7()),
            email: credentials.email,
            password_hash,
            now: now_ms(),
        };
        match self.create_user(&new).await? {
            SignupOutcome::Created(user) => {
                tracing::info!(user_id = %user.id, admin = user.is_admin, "account created");
                self.start_session(rules, user, client, user_agent).await
            }
            SignupOutcome::EmailTaken => Err(CoreError::EmailTaken),
        }
    }

    /// Checks a password and starts a session; throttled per account and per client address.
    /// The attempt is reserved before the password is checked, so parallel attempts cannot
    /// pass the limit together. An unknown email costs the same Argon2 work as a wrong
    /// password and gets the same answer.
    pub async fn log_in(
        &self,
        rules: &AccountRules<'_>,
        credentials: Credentials,
        client: ClientAddr,
        user_agent: Option<&str>,
    ) -> CoreResult<NewSession> {
        if !rules.enabled {
            return Err(CoreError::AuthDisabled);
        }
        let (throttle, store) = (rules.throttle, self.store.as_ref());
        let attempt = match throttle
            .reserve_log_in(store, &credentials.email, client, now_ms())
            .await?
        {
            Ok(attempt) => attempt,
            Err(wait_secs) => {
                metrics::counter!(LOGINS, "outcome" => "throttled").increment(1);
                return Err(CoreError::TooManyAttempts { wait_secs });
            }
        };
        let checked = async {
            let (user, stored) = match store.user_credentials(&credentials.email).await? {
                Some((user, hash)) => (Some(user), Some(hash)),
                None => (None, None),
            };
            let matches = accounts::verify_password(credentials.password, stored)
                .await
                .map_err(CoreError::Internal)?;
            Ok::<_, CoreError>(user.filter(|_| matches))
        }
        .await;
        match checked {
            Ok(Some(user)) => {
                throttle.log_in_succeeded(store, attempt).await?;
                metrics::counter!(LOGINS, "outcome" => "success").increment(1);
                self.start_session(rules, user, client, user_agent).await
            }
            Ok(None) => {
                metrics::counter!(LOGINS, "outcome" => "invalid_credentials").increment(1);
                tracing::info!(client = %client, "failed log-in");
                Err(CoreError::InvalidCredentials)
            }
            Err(err) => {
                if let Err(release) = throttle.log_in_abandoned(store, attempt).await {
                    tracing::warn!(error = %release, "could not give back a log-in attempt");
                }
                Err(err)
            }
        }
    }

    async fn start_session(
        &self,
        rules: &AccountRules<'_>,
        user: User,
        client: ClientAddr,
        user_agent: Option<&str>,
    ) -> CoreResult<NewSession> {
        let secret = new_secret(SESSION_PREFIX);
        let now = now_ms();
        self.store
            .create_session(&NewSessionRow {
                id: SessionId(Uuid::new_v4()),
                token_hash: hash_secret(&secret),
                user_id: UserId(user.id),
                now,
                expires_at: now + rules.session_ttl_ms,
                client: Some(describe_client(user_agent, &client.ip.to_string())),
            })
            .await?;
        Ok(NewSession { user, secret })
    }

    /// Ends the session whose secret this is, if there is one.
    pub async fn log_out(&self, session_secret: &str) -> CoreResult<()> {
        Ok(self
            .store
            .delete_session(&hash_secret(session_secret))
            .await?)
    }

    /// Creates an API token for `user`, lasting `expires_in_days` (`None`: for ever). Only a
    /// log-in session (or the local user) may: a token that could mint tokens would outlive
    /// its own revocation, so a caller authenticated by a token is refused.
    pub async fn create_api_token(
        &self,
        user: UserId,
        by_api_token: bool,
        name: &str,
        expires_in_days: Option<i64>,
    ) -> CoreResult<NewToken> {
        if by_api_token {
            return Err(CoreError::SessionRequired);
        }
        let secret = new_secret(API_TOKEN_PREFIX);
        let now = now_ms();
        let info = self
            .store
            .create_api_token(&NewApiToken {
                id: TokenId(Uuid::now_v7()),
                user_id: user,
                name: name.to_string(),
                token_hash: hash_secret(&secret),
                now,
                expires_at: expires_in_days.map(|days| now + days * 24 * 3600 * 1000),
            })
            .await?;
        Ok(NewToken { info, secret })
    }

    /// Revokes one of the user's tokens; someone else's is [`CoreError::TokenNotFound`].
    pub async fn revoke_api_token(&self, user: UserId, id: TokenId) -> CoreResult<()> {
        if self.store.delete_api_token(user, id).await? {
            Ok(())
        } else {
            Err(CoreError::TokenNotFound)
        }
    }

    /// Ends one of the user's sessions; someone else's is [`CoreError::SessionNotFound`].
    pub async fn end_session(&self, user: UserId, id: SessionId) -> CoreResult<()> {
        if !self.store.delete_user_session(user, id).await? {
            return Err(CoreError::SessionNotFound);
        }
        tracing::info!(user_id = %user, session_id = %id, "session ended");
        Ok(())
    }

    /// Ends every session of the user but `keep`; returns how many ended.
    pub async fn end_other_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
    ) -> CoreResult<u64> {
        let ended = self.store.delete_other_sessions(user, keep).await?;
        tracing::info!(user_id = %user, ended, "other sessions ended");
        Ok(ended)
    }
}
