//! Throttling of log-ins and sign-ups.
//!
//! Log-in attempts are counted per account and per client address in a sliding window; past
//! the limit, log-in answers `429 too_many_attempts` with `Retry-After` until the attempt that
//! filled the window has aged out. Per account stops guessing one teacher's password from many
//! addresses; per address stops one client trying many accounts.
//!
//! An attempt is *reserved* before any password work, in one step that counts and notes it
//! atomically (see `Store::reserve_throttle_events`), and given back only when the password was
//! right. Checking first and noting the failure after the Argon2 work would let a burst of
//! parallel attempts all pass the check before any failure is noted (issue 16): 60 at once
//! would all be tried. Reserved, at most the limit are.
//!
//! Sign-ups are counted per client address (an hour's window) the same way, before the email is
//! looked up or the password hashed, and whatever the outcome: so one client can neither make
//! accounts by the hundred (to multiply the per-user limits) nor find out without limit which
//! emails have accounts (`409 email_taken`). Only the machine itself (a direct loopback
//! connection: scripts, tests) is exempt; a client a trusted proxy forwards never is.
//!
//! The events live in the database, so every process sharing it counts the same: behind a load
//! balancer an attacker gets one budget, not one per process.

use crate::db::{Reservation, Store, StoreResult, ThrottleClaim};
use crate::domain::account::fold_email;
use crate::domain::ClientAddr;

/// How many events a key may have in its window before it is refused.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// The window of failed log-ins.
    pub window_ms: i64,
    pub per_account: i64,
    pub per_address: i64,
    /// Sign-ups one (non-loopback) address may make per hour; 0 turns the limit off.
    pub signups_per_hour: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window_ms: 15 * 60 * 1000,
            per_account: 5,
            per_address: 20,
            signups_per_hour: 20,
        }
    }
}

const HOUR_MS: i64 = 3600 * 1000;

pub struct Throttle {
    policy: ThrottlePolicy,
}

fn account_key(email: &str) -> String {
    format!("account:{}", fold_email(email))
}

fn address_key(client: ClientAddr) -> String {
    format!("ip:{}", client.unit())
}

fn signup_key(client: ClientAddr) -> String {
    format!("signup:{}", client.unit())
}

/// Seconds until a key whose `limit`-th newest event happened at `filling` has room again.
fn wait_secs(filling: i64, window_ms: i64, now: i64) -> u64 {
    let wait_ms = (filling + window_ms - now).clamp(1000, window_ms);
    (wait_ms as u64).div_ceil(1000)
}

/// A reserved log-in attempt: what to give back if the password turns out right.
#[must_use = "a log-in attempt is given back only through `log_in_succeeded`"]
pub struct LoginAttempt {
    account: String,
    keys: Vec<String>,
    at: i64,
}

impl Throttle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self { policy }
    }

    /// Reserves one log-in attempt for the account and the address, before any password work.
    /// `Err(seconds)` to wait when either has used its window's attempts (nothing is noted).
    pub async fn reserve_log_in(
        &self,
        store: &dyn Store,
        email: &str,
        client: ClientAddr,
        now: i64,
    ) -> StoreResult<Result<LoginAttempt, u64>> {
        let since = now - self.policy.window_ms;
        let claims = [
            ThrottleClaim {
                key: account_key(email),
                since,
                limit: self.policy.per_account,
            },
            ThrottleClaim {
                key: address_key(client),
                since,
                limit: self.policy.per_address,
            },
        ];
        Ok(match store.reserve_throttle_events(&claims, now).await? {
            Reservation::Reserved => Ok(LoginAttempt {
                account: claims[0].key.clone(),
                keys: claims.into_iter().map(|c| c.key).collect(),
                at: now,
            }),
            Reservation::Refused { filling_at, .. } => {
                Err(wait_secs(filling_at, self.policy.window_ms, now))
            }
        })
    }

    /// The password was right: the attempt is given back and the account's failures are
    /// forgotten (not the address's).
    pub async fn log_in_succeeded(
        &self,
        store: &dyn Store,
        attempt: LoginAttempt,
    ) -> StoreResult<()> {
        store
            .release_throttle_events(&attempt.keys, attempt.at)
            .await?;
        store.clear_throttle_events(&attempt.account).await
    }

    /// The attempt could not be judged (a failure of ours, not a wrong password): given back.
    pub async fn log_in_abandoned(
        &self,
        store: &dyn Store,
        attempt: LoginAttempt,
    ) -> StoreResult<()> {
        store
            .release_throttle_events(&attempt.keys, attempt.at)
            .await
    }

    fn counts_signups(&self, client: ClientAddr) -> bool {
        self.policy.signups_per_hour > 0 && !client.is_loopback()
    }

    /// Counts one sign-up attempt from the address, before anything else is done with it.
    /// `Err(seconds)` to wait when the address made its hour's attempts.
    pub async fn reserve_sign_up(
        &self,
        store: &dyn Store,
        client: ClientAddr,
        now: i64,
    ) -> StoreResult<Result<(), u64>> {
        if !self.counts_signups(client) {
            return Ok(Ok(()));
        }
        let claim = ThrottleClaim {
            key: signup_key(client),
            since: now - HOUR_MS,
            limit: self.policy.signups_per_hour,
        };
        Ok(match store.reserve_throttle_events(&[claim], now).await? {
            Reservation::Reserved => Ok(()),
            Reservation::Refused { filling_at, .. } => Err(wait_secs(filling_at, HOUR_MS, now)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_lasts_until_the_filling_failure_ages_out() {
        assert_eq!(wait_secs(1_000, 60_000, 2_000), 59);
        // Never less than a second, never more than the window (clocks of racing requests).
        assert_eq!(wait_secs(1_000, 60_000, 70_000), 1);
        assert_eq!(wait_secs(9_000, 60_000, 1_000), 60);
    }

    fn client(ip: &str) -> ClientAddr {
        ClientAddr::direct(ip.parse().expect("ip"))
    }

    #[test]
    fn keys_ignore_case_and_count_ipv6_per_64() {
        assert_eq!(account_key(" Ada@B.co"), account_key("ada@b.co"));
        assert_eq!(
            address_key(client("2001:db8:1:2::1")),
            address_key(client("2001:db8:1:2:ffff::9"))
        );
        assert_eq!(address_key(client("::ffff:10.0.0.1")), "ip:10.0.0.1");
        assert_eq!(signup_key(client("::ffff:10.0.0.1")), "signup:10.0.0.1");
    }

    #[test]
    fn only_a_direct_loopback_client_is_exempt_from_the_sign_up_limit() {
        let throttle = Throttle::new(ThrottlePolicy::default());
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(!throttle.counts_signups(client(ip)), "{ip}");
            let forwarded = ClientAddr::forwarded(ip.parse().expect("ip"));
            assert!(throttle.counts_signups(forwarded), "forwarded {ip}");
        }
        assert!(throttle.counts_signups(client("203.0.113.5")));
        let off = Throttle::new(ThrottlePolicy {
            signups_per_hour: 0,
            ..ThrottlePolicy::default()
        });
        assert!(!off.counts_signups(client("203.0.113.5")));
    }
}
