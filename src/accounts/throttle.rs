//! Throttling of log-ins and sign-ups.
//!
//! Failed log-ins are counted per account and per client address in a sliding window; past
//! the limit, log-in answers `429 too_many_attempts` with `Retry-After` until the failure that
//! filled the window has aged out. Per account stops guessing one teacher's password from many
//! addresses; per address stops one client trying many accounts.
//!
//! Sign-ups are counted per client address (an hour's window), so that one client cannot make
//! accounts by the hundred to multiply the per-user generation limits. Loopback is exempt: it
//! is the machine itself (scripts, tests, a proxy on the same host, which should then set
//! `QUIZMASTER_TRUST_PROXY=on` so that the real client is counted).
//!
//! The events live in the database, so every process sharing it counts the same: behind a load
//! balancer an attacker gets one budget, not one per process.

use std::net::IpAddr;

use crate::db::{Store, StoreResult};

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
    format!("account:{}", email.trim().to_lowercase())
}

/// IPv6 clients usually hold a whole /64, so that is the unit counted.
fn address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

fn address_key(ip: IpAddr) -> String {
    format!("ip:{}", address(ip))
}

fn signup_key(ip: IpAddr) -> String {
    format!("signup:{}", address(ip))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        IpAddr::V4(v4) => v4.is_loopback(),
    }
}

/// Seconds until a key whose `limit`-th newest failure happened at `filling` has room again.
fn wait_secs(filling: i64, window_ms: i64, now: i64) -> u64 {
    let wait_ms = (filling + window_ms - now).clamp(1000, window_ms);
    (wait_ms as u64).div_ceil(1000)
}

impl Throttle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self { policy }
    }

    /// `Some(seconds)` to wait when the account or the address is over its limit.
    pub async fn retry_after(
        &self,
        store: &dyn Store,
        email: &str,
        ip: IpAddr,
        now: i64,
    ) -> StoreResult<Option<u64>> {
        let since = now - self.policy.window_ms;
        let mut wait = None;
        for (key, limit) in [
            (account_key(email), self.policy.per_account),
            (address_key(ip), self.policy.per_address),
        ] {
            if let Some(filling) = store.nth_newest_throttle_event(&key, since, limit).await? {
                let secs = wait_secs(filling, self.policy.window_ms, now);
                wait = Some(wait.map_or(secs, |w: u64| w.max(secs)));
            }
        }
        Ok(wait)
    }

    pub async fn record_failure(
        &self,
        store: &dyn Store,
        email: &str,
        ip: IpAddr,
        now: i64,
    ) -> StoreResult<()> {
        store
            .record_throttle_event(&[account_key(email), address_key(ip)], now)
            .await
    }

    /// A successful log-in forgets the account's failures (not the address's).
    pub async fn record_success(&self, store: &dyn Store, email: &str) -> StoreResult<()> {
        store.clear_throttle_events(&account_key(email)).await
    }

    fn counts_signups(&self, ip: IpAddr) -> bool {
        self.policy.signups_per_hour > 0 && !is_loopback(ip)
    }

    /// `Some(seconds)` to wait when the address made its hour's sign-ups.
    pub async fn signup_retry_after(
        &self,
        store: &dyn Store,
        ip: IpAddr,
        now: i64,
    ) -> StoreResult<Option<u64>> {
        if !self.counts_signups(ip) {
            return Ok(None);
        }
        let filling = store
            .nth_newest_throttle_event(&signup_key(ip), now - HOUR_MS, self.policy.signups_per_hour)
            .await?;
        Ok(filling.map(|at| wait_secs(at, HOUR_MS, now)))
    }

    pub async fn record_signup(&self, store: &dyn Store, ip: IpAddr, now: i64) -> StoreResult<()> {
        if !self.counts_signups(ip) {
            return Ok(());
        }
        store.record_throttle_event(&[signup_key(ip)], now).await
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

    #[test]
    fn keys_ignore_case_and_count_ipv6_per_64() {
        assert_eq!(account_key(" Ada@B.co"), account_key("ada@b.co"));
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        assert_eq!(address_key(a), address_key(b));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("ip");
        assert_eq!(address_key(mapped), "ip:10.0.0.1");
        assert_eq!(signup_key(mapped), "signup:10.0.0.1");
    }

    #[test]
    fn loopback_is_exempt_from_the_sign_up_limit() {
        let throttle = Throttle::new(ThrottlePolicy::default());
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(!throttle.counts_signups(ip.parse().expect("ip")), "{ip}");
        }
        assert!(throttle.counts_signups("203.0.113.5".parse().expect("ip")));
        let off = Throttle::new(ThrottlePolicy {
            signups_per_hour: 0,
            ..ThrottlePolicy::default()
        });
        assert!(!off.counts_signups("203.0.113.5".parse().expect("ip")));
    }
}
