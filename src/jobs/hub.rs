//! The in-process publisher of status changes. Every change this process stores (or, with a
//! shared database, hears about) is published here once; SSE streams, long polls and the
//! worker running the job all wait on it instead of polling the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;
use uuid::Uuid;

use crate::domain::blueprint::Blueprint;

type Slot = watch::Sender<Option<Arc<Blueprint>>>;

#[derive(Default)]
pub struct StatusHub {
    channels: Mutex<HashMap<Uuid, Slot>>,
}

/// A live interest in one blueprint's changes. Dropping it unregisters the interest.
pub struct Subscription {
    hub: Arc<StatusHub>,
    id: Uuid,
    receiver: watch::Receiver<Option<Arc<Blueprint>>>,
}

impl StatusHub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Slot>> {
        // A panic while holding this lock cannot leave the map inconsistent (every operation
        // is a single insert, get or remove), so a poisoned lock is safe to keep using.
        self.channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers interest in a blueprint. Subscribe *before* reading its current state from
    /// the database: a change published in between is then seen, not lost.
    pub fn subscribe(self: &Arc<Self>, id: Uuid) -> Subscription {
        let receiver = self
            .lock()
            .entry(id)
            .or_insert_with(|| watch::channel(None).0)
            .subscribe();
        Subscription {
            hub: self.clone(),
            id,
            receiver,
        }
    }

    /// Publishes a stored state. Older versions than the one already seen are ignored, so
    /// publishers may race without moving a subscriber backwards.
    pub fn publish(&self, blueprint: &Blueprint) {
        let channels = self.lock();
        if let Some(slot) = channels.get(&blueprint.id) {
            slot.send_if_modified(|current| {
                let newer = current
                    .as_ref()
                    .is_none_or(|seen| blueprint.version > seen.version);
                if newer {
                    *current = Some(Arc::new(blueprint.clone()));
                }
                newer
            });
        }
    }

    /// How many blueprints have live subscribers (for tests and metrics).
    pub fn watched(&self) -> usize {
        self.lock().len()
    }

    /// Whether anybody in this process follows the blueprint.
    pub fn is_watched(&self, id: Uuid) -> bool {
        self.lock().contains_key(&id)
    }

    /// The blueprints somebody in this process follows.
    pub fn watched_ids(&self) -> Vec<Uuid> {
        self.lock().keys().copied().collect()
    }
}

impl Subscription {
    /// Waits until a state newer than `version` is published and returns it.
    /// `None` only if the hub is gone.
    pub async fn newer_than(&mut self, version: i64) -> Option<Arc<Blueprint>> {
        let seen = self
            .receiver
            .wait_for(|b| b.as_ref().is_some_and(|b| b.version > version))
            .await
            .ok()?;
        seen.clone()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut channels = self.hub.lock();
        // This receiver is still alive here, so one left means it was the last.
        if channels
            .get(&self.id)
            .is_some_and(|slot| slot.receiver_count() <= 1)
        {
            channels.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BlueprintStatus;

    fn blueprint(id: Uuid, version: i64) -> Blueprint {
        Blueprint {
            id,
            topic_id: Uuid::nil(),
            status: BlueprintStatus::Generating,
            title: None,
            description: None,
            terminal_objectives_count: version,
            enabling_objectives_count: 0,
            target_terminal_objectives: 10,
            error: None,
            error_code: None,
            attempt: 1,
            created_at: 0,
            generation_started_at: None,
            finished_at: None,
            version,
            updated_at: 0,
            quality: None,
        }
    }

    #[tokio::test]
    async fn subscribers_see_newer_versions_and_never_older_ones() {
        let hub = StatusHub::new();
        let id = Uuid::new_v4();
        let mut sub = hub.subscribe(id);
        hub.publish(&blueprint(id, 3));
        hub.publish(&blueprint(id, 2));
        let seen = sub.newer_than(1).await.expect("published");
        assert_eq!(seen.version, 3);
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), sub.newer_than(3));
        assert!(waiting.await.is_err(), "nothing newer than 3 was published");
    }

    #[tokio::test]
    async fn the_last_subscription_unregisters() {
        let hub = StatusHub::new();
        let id = Uuid::new_v4();
        let first = hub.subscribe(id);
        let second = hub.subscribe(id);
        assert_eq!(hub.watched(), 1);
        drop(first);
        assert_eq!(hub.watched(), 1);
        drop(second);
        assert_eq!(hub.watched(), 0);
    }
}
