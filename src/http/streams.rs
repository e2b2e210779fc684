//! Caps on SSE streams and long polls: each holds a connection, a task and a hub subscription
//! for as long as it lasts, so one user (or one address, however many accounts it made) may
//! hold only so many at once (`QUIZMASTER_MAX_STREAMS_PER_USER`,
//! `QUIZMASTER_MAX_STREAMS_PER_CLIENT`). Counted per process: each process guards its own
//! resources.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::domain::ClientAddr;
use crate::telemetry::STREAMS_REFUSED;

/// Seconds a refused follower is told to wait: a slot frees when a stream or poll ends.
pub const STREAM_RETRY_AFTER_SECS: u64 = 5;

#[derive(Default)]
struct Counts {
    per_user: HashMap<Uuid, u32>,
    per_client: HashMap<String, u32>,
}

/// The open streams and long polls, by user and by client address.
pub struct StreamCaps {
    per_user: u32,
    per_client: u32,
    open: Mutex<Counts>,
}

/// Which cap a refused stream hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRefusal {
    PerUser(u32),
    PerClient(u32),
}

impl StreamCaps {
    pub fn new(per_user: u32, per_client: u32) -> Arc<Self> {
        Arc::new(Self {
            per_user,
            per_client,
            open: Mutex::new(Counts::default()),
        })
    }

    /// Takes a place for one stream or long poll, or says which cap is full.
    pub fn open(
        self: &Arc<Self>,
        user: Uuid,
        client: ClientAddr,
    ) -> Result<StreamSlot, StreamRefusal> {
        let unit = client.unit();
        let mut open = self.lock();
        let mine = open.per_user.get(&user).copied().unwrap_or(0);
        if mine >= self.per_user {
            metrics::counter!(STREAMS_REFUSED, "cap" => "per_user").increment(1);
            return Err(StreamRefusal::PerUser(self.per_user));
        }
        let from_there = open.per_client.get(&unit).copied().unwrap_or(0);
        if from_there >= self.per_client {
            metrics::counter!(STREAMS_REFUSED, "cap" => "per_client").increment(1);
            return Err(StreamRefusal::PerClient(self.per_client));
        }
        open.per_user.insert(user, mine + 1);
        open.per_client.insert(unit.clone(), from_there + 1);
        Ok(StreamSlot {
            caps: self.clone(),
            user,
            unit,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // Only counters behind it: still right after a panic elsewhere.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One open stream's place; dropping it (the stream or poll ended) frees it.
pub struct StreamSlot {
    caps: Arc<StreamCaps>,
    user: Uuid,
    unit: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.caps.lock();
        if let Some(n) = open.per_user.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                open.per_user.remove(&self.user);
            }
        }
        if let Some(n) = open.per_client.get_mut(&self.unit) {
            *n -= 1;
            if *n == 0 {
                open.per_client.remove(&self.unit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: &str) -> ClientAddr {
        ClientAddr::direct(ip.parse().expect("ip"))
    }

    #[test]
    fn streams_are_capped_per_user_and_per_address_and_freed_on_drop() {
        let caps = StreamCaps::new(2, 3);
        let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let here = client("203.0.113.1");
        let first = caps.open(ada, here).expect("first");
        let _second = caps.open(ada, here).expect("second");
        assert_eq!(
            caps.open(ada, client("198.51.100.1")).err(),
            Some(StreamRefusal::PerUser(2))
        );
        let _third = caps.open(bob, here).expect("another user, same address");
        assert_eq!(
            caps.open(bob, here).err(),
            Some(StreamRefusal::PerClient(3))
        );
        assert!(caps.open(bob, client("198.51.100.1")).is_ok());
        drop(first);
        assert!(
            caps.open(ada, client("198.51.100.2")).is_ok(),
            "a freed place is usable"
        );
    }
}
