//! Who may see what: a topic, and everything under it, is its owner's alone (to anyone else it
//! does not exist); the jobs dashboard shows an admin everyone's generations and anyone else
//! their own; only a completed blueprint is exported.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{Core, CoreError, CoreResult};
use crate::db::{JobListing, StoreResult};
use crate::domain::blueprint::Blueprint;
use crate::domain::{BlueprintId, TopicId, User, UserId};

/// Topic owners remembered at most; past that the cache starts again. An owner changes only
/// when the first account takes over the local user's topics, which forgets the cache; a
/// deleted topic is caught by the query that follows the check.
const OWNER_CACHE_MAX: usize = 65_536;

/// The owners of topics looked up before.
#[derive(Default)]
pub(super) struct OwnerCache(Mutex<HashMap<TopicId, UserId>>);

impl OwnerCache {
    /// A panic while holding the lock leaves only a cache behind, which is still usable.
    fn lock(&self) -> MutexGuard<'_, HashMap<TopicId, UserId>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, topic_id: TopicId) -> Option<UserId> {
        self.lock().get(&topic_id).copied()
    }

    fn insert(&self, topic_id: TopicId, owner: UserId) {
        let mut owners = self.lock();
        if owners.len() >= OWNER_CACHE_MAX {
            owners.clear();
        }
        owners.insert(topic_id, owner);
    }

    pub(super) fn clear(&self) {
        self.lock().clear();
    }
}

impl Core {
    /// `Ok` when `caller` owns the topic. Someone else's topic is [`CoreError::TopicNotFound`],
    /// like a missing one, so that nobody can probe for others' topics.
    pub async fn check_topic_owner(&self, topic_id: TopicId, caller: UserId) -> CoreResult<()> {
        let owner = match self.owners.get(topic_id) {
            Some(owner) => owner,
            None => {
                let owner = self
                    .store
                    .topic_owner(topic_id)
                    .await?
                    .ok_or(CoreError::TopicNotFound)?;
                self.owners.insert(topic_id, owner);
                owner
            }
        };
        if owner == caller {
            Ok(())
        } else {
            Err(CoreError::TopicNotFound)
        }
    }

    /// The generations `viewer` may follow on the jobs dashboard: active ones and those that
    /// ended after `ended_since`, newest first. An admin sees everyone's, anyone else their own.
    pub async fn jobs_visible_to(
        &self,
        viewer: &User,
        ended_since: i64,
        limit: i64,
    ) -> StoreResult<Vec<JobListing>> {
        let owner = (!viewer.is_admin).then_some(UserId(viewer.id));
        self.store.list_jobs(owner, ended_since, limit).await
    }

    /// A blueprint to export: only a completed one ([`CoreError::NotCompleted`] otherwise).
    pub async fn exportable_blueprint(
        &self,
        topic_id: TopicId,
        id: BlueprintId,
    ) -> CoreResult<Blueprint> {
        let blueprint = self.blueprint(topic_id, id).await?;
        if !blueprint.status.is_exportable() {
            return Err(CoreError::NotCompleted(blueprint.status));
        }
        Ok(blueprint)
    }
}
