//! The in-process publisher of status changes. Every change this process stores (or, with a
//! shared database, hears about) is published here once; SSE streams, long polls and the
//! worker running the job all wait on it instead of polling the database.
//!
//! With the embedded database the hub can also keep a view cache: the latest state of each
//! blueprint this process has read or published, so that a status poll needs no query. It is
//! only correct where this process makes every change (SQLite: one process owns the file), so
//! it is off unless [`StatusHub::with_view_cache`] is used; with a shared database other
//! processes change blueprints without this process hearing of every change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;
use uuid::Uuid;

use crate::domain::blueprint::Blueprint;

type Slot = watch::Sender<Option<Arc<Blueprint>>>;

/// At most this many blueprints are cached; when full, the cache starts again empty.
const VIEW_CACHE_CAPACITY: usize = 50_000;

#[derive(Default)]
pub struct StatusHub {
    channels: Mutex<HashMap<Uuid, Slot>>,
    views: Option<ViewCache>,
}

#[derive(Default)]
struct ViewCache {
    entries: Mutex<HashMap<Uuid, CachedView>>,
    /// Bumped by every deletion: a read from the database that began before a deletion must
    /// not be cached after it.
    epoch: AtomicU64,
}

enum CachedView {
    Current(Arc<Blueprint>),
    /// Deleted: a late publish of the same id must not bring it back.
    Deleted,
}

impl ViewCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, CachedView>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn offer(&self, blueprint: &Arc<Blueprint>) {
        Self::insert(&mut self.lock(), blueprint);
    }

    /// Stores `blueprint` unless a newer version (or a deletion) is already known.
    fn insert(entries: &mut HashMap<Uuid, CachedView>, blueprint: &Arc<Blueprint>) {
        if entries.len() >= VIEW_CACHE_CAPACITY && !entries.contains_key(&blueprint.id) {
            entries.clear();
        }
        match entries.get(&blueprint.id) {
            Some(CachedView::Deleted) => {}
            Some(CachedView::Current(seen)) if seen.version >= blueprint.version => {}
            _ => {
                entries.insert(blueprint.id, CachedView::Current(blueprint.clone()));
            }
        }
    }
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

    /// A hub that also caches status views, for a process that makes every change itself.
    pub fn with_view_cache() -> Arc<Self> {
        Arc::new(Self {
            channels: Mutex::default(),
            views: Some(ViewCache::default()),
        })
    }

    /// The cached state of a blueprint, if the cache is on and knows it.
    pub fn cached_view(&self, id: Uuid) -> Option<Arc<Blueprint>> {
        match self.views.as_ref()?.lock().get(&id)? {
            CachedView::Current(blueprint) => Some(blueprint.clone()),
            CachedView::Deleted => None,
        }
    }

    /// Take this before reading a blueprint from the database, and hand it to [`Self::remember`].
    pub fn view_epoch(&self) -> u64 {
        self.views
            .as_ref()
            .map_or(0, |v| v.epoch.load(Ordering::SeqCst))
    }

    /// Caches a state just read from the database, unless something was deleted since the
    /// read began (`epoch` from [`Self::view_epoch`]) or a newer state is known.
    pub fn remember(&self, blueprint: &Blueprint, epoch: u64) {
        if let Some(views) = &self.views {
            let blueprint = Arc::new(blueprint.clone());
            // Checked under the lock that deletions also take, so none can slip in between.
            let mut entries = views.lock();
            if views.epoch.load(Ordering::SeqCst) == epoch {
                ViewCache::insert(&mut entries, &blueprint);
            }
        }
    }

    /// Forgets deleted blueprints for good, and everything else cached (a topic's deletion
    /// takes all its blueprints, which the caller need not list).
    pub fn forget_deleted(&self, deleted: &[Uuid]) {
        if let Some(views) = &self.views {
            let mut entries = views.lock();
            views.epoch.fetch_add(1, Ordering::SeqCst);
            entries.retain(|_, v| matches!(v, CachedView::Deleted));
            for id in deleted {
                entries.insert(*id, CachedView::Deleted);
            }
        }
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
        let shared = Arc::new(blueprint.clone());
        if let Some(views) = &self.views {
            views.offer(&shared);
        }
        let channels = self.lock();
        if let Some(slot) = channels.get(&blueprint.id) {
            slot.send_if_modified(|current| {
                let newer = current
                    .as_ref()
                    .is_none_or(|seen| blueprint.version > seen.version);
                if newer {
                    *current = Some(shared);
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

    #[test]
    fn the_view_cache_keeps_the_newest_state_and_forgets_deletions() {
        let hub = StatusHub::with_view_cache();
        let id = Uuid::new_v4();
        assert!(hub.cached_view(id).is_none());
        let epoch = hub.view_epoch();
        hub.remember(&blueprint(id, 2), epoch);
        assert_eq!(hub.cached_view(id).map(|b| b.version), Some(2));
        hub.publish(&blueprint(id, 3));
        hub.remember(&blueprint(id, 1), hub.view_epoch());
        assert_eq!(
            hub.cached_view(id).map(|b| b.version),
            Some(3),
            "never older"
        );

        // A read that began before a deletion is not cached after it.
        let other = Uuid::new_v4();
        let before = hub.view_epoch();
        hub.forget_deleted(&[id]);
        hub.remember(&blueprint(other, 1), before);
        assert!(hub.cached_view(other).is_none());
        // A late publish of a deleted blueprint does not bring it back.
        assert!(hub.cached_view(id).is_none());
        hub.publish(&blueprint(id, 4));
        assert!(hub.cached_view(id).is_none());
    }

    #[test]
    fn without_the_view_cache_nothing_is_cached() {
        let hub = StatusHub::new();
        let id = Uuid::new_v4();
        hub.publish(&blueprint(id, 1));
        hub.remember(&blueprint(id, 1), hub.view_epoch());
        assert!(hub.cached_view(id).is_none());
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
