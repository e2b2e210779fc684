//! Changes made by other processes (a shared PostgreSQL database) reach this process's hub
//! here: one database notification is one read, however many clients follow the blueprint.
//! The notifications also keep the hub's status cache exact: each one drops the blueprint's
//! cached state, and the cache is trusted only while the feed is connected.

use crate::db::Change;
use crate::domain::BlueprintId;

use super::JobEngine;

impl JobEngine {
    pub(super) async fn feed_loop(&self) {
        let mut feed = match self.store.change_feed().await {
            Ok(Some(feed)) => feed,
            // The embedded database has no other writers: nothing to hear.
            Ok(None) => return,
            Err(err) => {
                tracing::error!(error = %err, "cannot follow database changes; other processes' updates will only be seen by heartbeats");
                return;
            }
        };
        loop {
            let change = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                change = feed.recv() => match change {
                    Some(change) => change,
                    None => {
                        self.hub.feed_lost();
                        return;
                    }
                },
            };
            match change {
                Change::Blueprint(id) => {
                    self.hub.invalidate(id);
                    if self.hub.is_watched(id) {
                        self.refresh(id).await;
                    }
                }
                Change::JobsAvailable => self.core.wake_worker(),
                Change::Resync => {
                    self.hub.feed_connected();
                    for id in self.hub.watched_ids() {
                        self.refresh(id).await;
                    }
                    self.core.wake_all_workers();
                }
                Change::Lost => {
                    tracing::warn!(
                        "change feed lost; status polls read the database until it is back"
                    );
                    self.hub.feed_lost();
                }
            }
        }
    }

    async fn refresh(&self, id: uuid::Uuid) {
        let epoch = self.hub.view_epoch();
        match self.store.get_blueprint_by_id(BlueprintId(id)).await {
            // Another process committed (and counted) it; this process only tells its followers.
            Ok(Some(blueprint)) => {
                self.hub.remember(&blueprint, epoch);
                self.hub.publish(&blueprint);
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, blueprint_id = %id, "cannot read a changed blueprint")
            }
        }
    }
}
