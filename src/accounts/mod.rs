//! Accounts outside HTTP: password hashing, session and token secrets, and log-in throttling.
//!
//! Passwords are hashed with Argon2id (the crate's defaults: 19 MiB, 2 passes) on the blocking
//! pool, a few at a time, so a burst of log-ins cannot starve the async runtime or the memory.
//! Sessions and API tokens are random 256-bit secrets; the database keeps only their SHA-256,
//! which is enough for secrets this long (nothing to brute-force, so no slow hash is needed).

pub mod throttle;

use std::sync::{Arc, OnceLock};

use anyhow::Context;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// Prefixes that say what a secret is when one turns up in a log or a paste.
pub const SESSION_PREFIX: &str = "qms_";
pub const API_TOKEN_PREFIX: &str = "qmt_";

fn hashing_slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Semaphore::new(cores.max(2)))
    })
}

/// Runs one Argon2 computation on the blocking pool, waiting for a free slot first.
async fn with_hashing_slot<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _slot = hashing_slots()
        .clone()
        .acquire_owned()
        .await
        .context("the password hashing pool is closed")?;
    tokio::task::spawn_blocking(work)
        .await
        .context("password hashing panicked")
}

/// Hashes a password to an Argon2id PHC string with a fresh random salt.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    with_hashing_slot(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|err| anyhow::anyhow!("Failed to hash a password: {err}"))
    })
    .await?
}

/// A hash of a password nobody knows, verified when the email is unknown so that a wrong
/// email costs as much time as a wrong password and the two cannot be told apart.
async fn dummy_hash() -> anyhow::Result<&'static str> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| hash_password(new_secret("dummy_")))
        .await
        .map(String::as_str)
}

/// Whether `password` matches `stored` (a PHC string). With no stored hash (unknown email) it
/// still does the same work and answers `false`.
pub async fn verify_password(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    let known = stored.is_some();
    let stored = match stored {
        Some(hash) => hash,
        None => dummy_hash().await?.to_string(),
    };
    let matches = with_hashing_slot(move || {
        PasswordHash::new(&stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await?;
    Ok(known && matches)
}

/// A new random secret: `prefix` and 32 random bytes in URL-safe base64 (43 characters).
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing is not something a server can go on without.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What the database stores of a secret: its SHA-256, in hex.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery".into())
            .await
            .expect("hashes");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(
            verify_password("correct horse battery".into(), Some(hash.clone()))
                .await
                .expect("verifies")
        );
        assert!(!verify_password("wrong horse battery".into(), Some(hash))
            .await
            .expect("verifies"));
        assert!(!verify_password("anything".into(), None)
            .await
            .expect("verifies"));
        assert!(
            !verify_password("x".into(), Some("not a phc string".into()))
                .await
                .expect("verifies")
        );
    }

    #[test]
    fn secrets_are_long_random_and_hashed_stably() {
        let a = new_secret(API_TOKEN_PREFIX);
        let b = new_secret(API_TOKEN_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with("qmt_") && a.len() == 4 + 43, "{a}");
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert_eq!(hash_secret(&a).len(), 64);
    }
}
