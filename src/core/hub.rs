//! The in-process publisher of status changes. Every change this process stores (or, with a
//! shared database, hears about) is published here once; SSE streams, long polls and the
//! worker running the job all wait on it instead of polling the database.
//!
//! The hub can also keep a view cache: the latest state of each blueprint this process has
//! read, so that a status poll needs no query. It must never answer with a state older than
//! one the database held before the poll arrived and this process heard of, so it comes in two
//! kinds:
//!
//! - [`StatusHub::with_view_cache`], for the embedded database, where this process makes every
//!   change: what it publishes is the newest state, and deletions are announced by the core.
//! - [`StatusHub::with_fed_view_cache`], for a shared database, where other processes change
//!   blueprints too. Only states read from the database are cached; every change announced by
//!   the database's change feed (LISTEN/NOTIFY) drops the blueprint's entry and keeps reads
//!   that began before it from being cached. The cache is trusted only while the feed is
//!   connected: it starts untrusted, stops being trusted (and is emptied) when the feed is lost,
//!   and is trusted again, empty, once the feed has subscribed again ([`StatusHub::feed_connected`]),
//!   so that every state it then holds was read after the subscription.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;
use uuid::Uuid;

use crate::domain::blueprint::Blueprint;
use crate::telemetry::CHANGE_FEED_CONNECTED;

type Slot = watch::Sender<Option<Arc<Blueprint>>>;

/// At most this many blueprints are cached; when full, the cache starts again empty.
const VIEW_CACHE_CAPACITY: usize = 50_000;

/// Invalidations are remembered per bucket of blueprint ids, not per id, so that remembering
/// them costs a fixed amount of memory; two ids sharing a bucket only cost an extra read.
const INVALIDATION_BUCKETS: usize = 4096;

#[derive(Default)]
pub struct StatusHub {
    channels: Mutex<HashMap<Uuid, Slot>>,
    views: Option<ViewCache>,
}

/// Where the view cache learns of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// This process makes every change and publishes it.
    OwnChanges,
    /// A database's change feed, shared with other processes.
    ChangeFeed,
}

struct ViewCache {
    source: Source,
    state: Mutex<CacheState>,
    /// Ticks once per invalidation, deletion, reset and resubscription. A read takes the tick
    /// before it starts ([`StatusHub::view_epoch`]); what it read is cached only if nothing it
    /// may have missed happened since.
    clock: AtomicU64,
}

struct CacheState {
    entries: HashMap<Uuid, CachedView>,
    /// Reads that began before this tick are never cached.
    floor: u64,
    /// For each bucket of ids, the tick of the latest change the feed announced in it.
    invalidated: Box<[u64]>,
    /// Whether the entries may be used: always for [`Source::OwnChanges`], and while the feed
    /// is connected for [`Source::ChangeFeed`].
    trusted: bool,
}

enum CachedView {
    Current(Arc<Blueprint>),
    /// Deleted: a late publish of the same id must not bring it back.
    Deleted,
}

fn bucket(id: Uuid) -> usize {
    let bits = id.as_u128();
    ((bits ^ (bits >> 64)) as usize) % INVALIDATION_BUCKETS
}

impl ViewCache {
    fn new(source: Source) -> Self {
        Self {
            source,
            state: Mutex::new(CacheState {
                entries: HashMap::new(),
                floor: 0,
                invalidated: vec![0; INVALIDATION_BUCKETS].into_boxed_slice(),
                trusted: source == Source::OwnChanges,
            }),
            clock: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, CacheState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next tick; taken under the state's lock, so that a read that took the tick before
    /// is told apart from one that took it after.
    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Starts again empty: reads that began before now are not cached either.
    fn reset(&self, state: &mut CacheState) {
        state.floor = self.tick();
        state.entries.clear();
    }

    /// Stores `blueprint` unless a newer version (or a deletion) is already known.
    fn insert(&self, state: &mut CacheState, blueprint: &Arc<Blueprint>) {
        if state.entries.len() >= VIEW_CACHE_CAPACITY && !state.entries.contains_key(&blueprint.id)
        {
            // Deletion marks go too: reads from before now are kept out by the floor instead.
            self.reset(state);
        }
        match state.entries.get(&blueprint.id) {
            Some(CachedView::Deleted) => {}
            Some(CachedView::Current(seen)) if seen.version >= blueprint.version => {}
            _ => {
                state
                    .entries
                    .insert(blueprint.id, CachedView::Current(blueprint.clone()));
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
        Self::with_cache(Source::OwnChanges)
    }

    /// A hub that caches status views kept exact by a database's change feed: untrusted until
    /// [`Self::feed_connected`], and again after [`Self::feed_lost`].
    pub fn with_fed_view_cache() -> Arc<Self> {
        metrics::gauge!(CHANGE_FEED_CONNECTED).set(0.0);
        Self::with_cache(Source::ChangeFeed)
    }

    fn with_cache(source: Source) -> Arc<Self> {
        Arc::new(Self {
            channels: Mutex::default(),
            views: Some(ViewCache::new(source)),
        })
    }

    /// The cached state of a blueprint, if the cache is on, trusted and knows it.
    pub fn cached_view(&self, id: Uuid) -> Option<Arc<Blueprint>> {
        let state = self.views.as_ref()?.lock();
        if !state.trusted {
            return None;
        }
        match state.entries.get(&id)? {
            CachedView::Current(blueprint) => Some(blueprint.clone()),
            CachedView::Deleted => None,
        }
    }

    /// Take this before reading a blueprint from the database, and hand it to [`Self::remember`].
    pub fn view_epoch(&self) -> u64 {
        self.views
            .as_ref()
            .map_or(0, |v| v.clock.load(Ordering::SeqCst))
    }

    /// Caches a state just read from the database, unless the cache is untrusted, something
    /// was deleted or announced as changed since the read began (`epoch` from
    /// [`Self::view_epoch`]), or a newer state is known.
    pub fn remember(&self, blueprint: &Blueprint, epoch: u64) {
        if let Some(views) = &self.views {
            // Checked under the lock that deletions and invalidations also take, so none can
            // slip in between.
            let mut state = views.lock();
            if !state.trusted
                || epoch < state.floor
                || epoch < state.invalidated[bucket(blueprint.id)]
            {
                return;
            }
            views.insert(&mut state, &Arc::new(blueprint.clone()));
        }
    }

    /// Forgets deleted blueprints for good, and everything else cached (a topic's deletion
    /// takes all its blueprints, which the caller need not list).
    pub fn forget_deleted(&self, deleted: &[Uuid]) {
        if let Some(views) = &self.views {
            let mut state = views.lock();
            state.floor = views.tick();
            state
                .entries
                .retain(|_, v| matches!(v, CachedView::Deleted));
            for id in deleted {
                state.entries.insert(*id, CachedView::Deleted);
            }
        }
    }

    /// The change feed announced a change of `id` (or its deletion): drops what is cached of
    /// it and keeps reads that began before from being cached.
    pub fn invalidate(&self, id: Uuid) {
        if let Some(views) = &self.views {
            let mut state = views.lock();
            state.invalidated[bucket(id)] = views.tick();
            if matches!(state.entries.get(&id), Some(CachedView::Current(_))) {
                state.entries.remove(&id);
            }
        }
    }

    /// The change feed is subscribed (again): changes from now on will be announced, so the
    /// cache is trusted again, starting empty; reads that began before are not cached.
    pub fn feed_connected(&self) {
        if let Some(views) = self
            .views
            .as_ref()
            .filter(|v| v.source == Source::ChangeFeed)
        {
            let mut state = views.lock();
            views.reset(&mut state);
            state.trusted = true;
            metrics::gauge!(CHANGE_FEED_CONNECTED).set(1.0);
        }
    }

    /// The change feed is lost: changes may go unannounced, so nothing cached is used (or
    /// cached) until [`Self::feed_connected`].
    pub fn feed_lost(&self) {
        if let Some(views) = self
            .views
            .as_ref()
            .filter(|v| v.source == Source::ChangeFeed)
        {
            let mut state = views.lock();
            state.trusted = false;
            views.reset(&mut state);
            metrics::gauge!(CHANGE_FEED_CONNECTED).set(0.0);
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
        if let Some(views) = self.views.as_ref() {
            let mut state = views.lock();
            match views.source {
                Source::OwnChanges => views.insert(&mut state, &shared),
                // With a shared database a published state carries no tick: it may be older
                // than a change another process made and the feed already announced (which
                // dropped the entry). So it only moves an entry forward that is still there,
                // and, like an announcement, keeps reads that began before it out.
                Source::ChangeFeed => {
                    state.invalidated[bucket(blueprint.id)] = views.tick();
                    if matches!(
                        state.entries.get(&blueprint.id),
                        Some(CachedView::Current(seen)) if seen.version < blueprint.version
                    ) {
                        state
                            .entries
                            .insert(blueprint.id, CachedView::Current(shared.clone()));
                    }
                }
            }
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
    fn a_fed_cache_is_trusted_only_while_the_feed_is_connected() {
        let hub = StatusHub::with_fed_view_cache();
        let id = Uuid::new_v4();
        hub.remember(&blueprint(id, 1), hub.view_epoch());
        assert!(
            hub.cached_view(id).is_none(),
            "untrusted before the feed connects"
        );

        hub.feed_connected();
        hub.remember(&blueprint(id, 1), hub.view_epoch());
        assert_eq!(hub.cached_view(id).map(|b| b.version), Some(1));

        hub.feed_lost();
        assert!(
            hub.cached_view(id).is_none(),
            "nothing is used once the feed is lost"
        );
        hub.remember(&blueprint(id, 2), hub.view_epoch());
        assert!(hub.cached_view(id).is_none(), "nor cached");

        // A read that began while the feed was lost is not cached after it came back: it may
        // have missed a change nobody announced.
        let during = hub.view_epoch();
        hub.feed_connected();
        hub.remember(&blueprint(id, 2), during);
        assert!(hub.cached_view(id).is_none());
        hub.remember(&blueprint(id, 3), hub.view_epoch());
        assert_eq!(hub.cached_view(id).map(|b| b.version), Some(3));
    }

    #[test]
    fn a_fed_cache_drops_announced_changes_and_reads_that_began_before_them() {
        let hub = StatusHub::with_fed_view_cache();
        hub.feed_connected();
        let id = Uuid::new_v4();
        hub.remember(&blueprint(id, 1), hub.view_epoch());

        let before = hub.view_epoch();
        hub.invalidate(id);
        assert!(
            hub.cached_view(id).is_none(),
            "an announced change drops the entry"
        );
        hub.remember(&blueprint(id, 1), before);
        assert!(
            hub.cached_view(id).is_none(),
            "a read that began before the announcement may hold the old state"
        );
        hub.remember(&blueprint(id, 2), hub.view_epoch());
        assert_eq!(hub.cached_view(id).map(|b| b.version), Some(2));

        // Reads of blueprints in other buckets are not held back by it.
        let (changed, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_ne!(bucket(changed), bucket(other));
        let before_other = hub.view_epoch();
        hub.invalidate(changed);
        hub.remember(&blueprint(other, 5), before_other);
        assert_eq!(hub.cached_view(other).map(|b| b.version), Some(5));

        // A state this process published moves a cached entry forward (a poll right after
        // this process's own change sees it), but carries no tick, so it starts no entry.
        let published = Uuid::new_v4();
        hub.publish(&blueprint(published, 1));
        assert!(hub.cached_view(published).is_none());
        hub.publish(&blueprint(id, 3));
        assert_eq!(hub.cached_view(id).map(|b| b.version), Some(3));
        hub.publish(&blueprint(id, 2));
        assert_eq!(
            hub.cached_view(id).map(|b| b.version),
            Some(3),
            "never older"
        );
        // A read that began before this process's change is not cached after it.
        let reading = hub.view_epoch();
        hub.publish(&blueprint(published, 2));
        hub.remember(&blueprint(published, 1), reading);
        assert!(hub.cached_view(published).is_none());
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
