//! Log-in throttling: failed attempts are counted per account and per client address in a
//! sliding window; past the limit, log-in answers `429 too_many_attempts` with `Retry-After`
//! until the oldest failure in the window has aged out. Per account stops guessing one
//! teacher's password from many addresses; per address stops one client trying many accounts.
//!
//! The counts live in this process's memory: several processes behind one address each count
//! on their own, which multiplies an attacker's budget by the number of processes, not more.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

/// How many failures a key may have in the window before it is refused.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub window_ms: i64,
    pub per_account: usize,
    pub per_address: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window_ms: 15 * 60 * 1000,
            per_account: 5,
            per_address: 20,
        }
    }
}

/// Keys are kept until this many exist; then those with no failure in the window are dropped.
const MAX_KEYS: usize = 100_000;

pub struct LoginThrottle {
    policy: ThrottlePolicy,
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

fn account_key(email: &str) -> String {
    format!("account:{}", email.trim().to_lowercase())
}

/// IPv6 clients usually hold a whole /64, so that is the unit counted.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds)` to wait when the account or the address is over its limit.
    pub fn retry_after(&self, email: &str, ip: IpAddr, now: i64) -> Option<u64> {
        let mut failures = self.lock();
        let limits = [
            (account_key(email), self.policy.per_account),
            (address_key(ip), self.policy.per_address),
        ];
        limits
            .into_iter()
            .filter_map(|(key, limit)| {
                let times = failures.get_mut(&key)?;
                Self::expire(times, now - self.policy.window_ms);
                if times.len() < limit {
                    return None;
                }
                // The window frees a slot when the failure `len - limit` from the oldest ages out.
                let freeing = times[times.len() - limit];
                let wait_ms = freeing + self.policy.window_ms - now;
                Some((wait_ms.clamp(1000, self.policy.window_ms) as u64).div_ceil(1000))
            })
            .max()
    }

    pub fn record_failure(&self, email: &str, ip: IpAddr, now: i64) {
        let mut failures = self.lock();
        if failures.len() >= MAX_KEYS {
            let cutoff = now - self.policy.window_ms;
            failures.retain(|_, times| times.back().is_some_and(|&t| t > cutoff));
        }
        for key in [account_key(email), address_key(ip)] {
            let times = failures.entry(key).or_default();
            times.push_back(now);
            // Only the newest `limit` failures matter; keep the queue from growing without end.
            let keep = self.policy.per_account.max(self.policy.per_address);
            while times.len() > keep {
                times.pop_front();
            }
        }
    }

    /// A successful log-in forgets the account's failures (not the address's).
    pub fn record_success(&self, email: &str) {
        self.lock().remove(&account_key(email));
    }

    fn expire(times: &mut VecDeque<i64>, cutoff: i64) {
        while times.front().is_some_and(|&t| t <= cutoff) {
            times.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<i64>>> {
        // A panic while holding the lock leaves only counters behind; they are still usable.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            window_ms: 60_000,
            per_account: 3,
            per_address: 5,
        }
    }

    #[test]
    fn an_account_is_refused_after_its_limit_until_the_window_passes() {
        let throttle = LoginThrottle::new(policy());
        for n in 0..3 {
            assert_eq!(throttle.retry_after("a@b.co", IP, 1_000 + n), None);
            throttle.record_failure("A@B.co", IP, 1_000 + n);
        }
        assert_eq!(throttle.retry_after("a@b.co", IP, 2_000), Some(59));
        assert_eq!(throttle.retry_after("a@b.co", IP, 61_001), None);
    }

    #[test]
    fn an_address_is_refused_across_accounts_and_success_clears_only_the_account() {
        let throttle = LoginThrottle::new(policy());
        for n in 0..5 {
            throttle.record_failure(&format!("user{n}@b.co"), IP, 1_000);
        }
        assert!(throttle.retry_after("fresh@b.co", IP, 1_500).is_some());
        let other = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(throttle.retry_after("fresh@b.co", other, 1_500), None);
        throttle.record_success("user0@b.co");
        assert!(throttle.retry_after("user0@b.co", IP, 1_500).is_some());
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        assert_eq!(address_key(a), address_key(b));
    }
}
