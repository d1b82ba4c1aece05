//! An in-process watch of one key or range: the same [`Watcher`] a client's watch stream uses,
//! woken by the hub's published revision, so an Observe stream costs nothing
//! until something is committed.

use std::sync::Arc;

use tokio::sync::watch;

use oxcd_api::EtcdError;
use oxcd_mvcc::watch::{EventFilter, WatchChunk, WatchHub, WatchProgress, Watcher};
use oxcd_mvcc::{ChunkLimit, KvStore};

use crate::server::EtcdServer;

/// What one step gathers at most (whole revisions).
const CHUNK: ChunkLimit = ChunkLimit {
    events: 1000,
    bytes: 1024 * 1024,
};

/// A watch over `key` / `range_end` from a start revision on.
pub(super) struct KeyWatch {
    watcher: Watcher,
    hub: Arc<WatchHub>,
    store: Arc<KvStore>,
    published: watch::Receiver<i64>,
}

impl KeyWatch {
    /// Watches `key` / `range_end` (etcd's encoding) from revision `start` on.
    pub(super) fn new(server: &EtcdServer, key: &[u8], range_end: &[u8], start: i64) -> KeyWatch {
        let hub = server.state().watch_hub().clone();
        let published = hub.subscribe();
        KeyWatch {
            watcher: Watcher::new(
                key.to_vec(),
                range_end.to_vec(),
                EventFilter::default(),
                start,
            ),
            hub,
            store: server.state().kv(),
            published,
        }
    }

    /// The next committed events of the watched keys, oldest first, waiting until there are
    /// some. Fails with `Compacted` when compaction overtook the watch.
    pub(super) async fn next(&mut self) -> Result<WatchChunk, EtcdError> {
        loop {
            // Marked seen before the step: a publish after it wakes the wait below.
            self.published.borrow_and_update();
            let progress = if self.hub.holds(self.watcher.next_revision()) {
                self.watcher.step(&self.hub, &self.store, CHUNK, i64::MAX)
            } else {
                // Behind the ring: the backend read blocks.
                tokio::task::block_in_place(|| {
                    self.watcher.step(&self.hub, &self.store, CHUNK, i64::MAX)
                })
            };
            match progress {
                WatchProgress::UpToDate => self
                    .published
                    .changed()
                    .await
                    .map_err(|_| EtcdError::Stopped)?,
                WatchProgress::Chunk(chunk) if chunk.events.is_empty() => {}
                WatchProgress::Chunk(chunk) => return Ok(chunk),
                WatchProgress::Compacted(_) => return Err(EtcdError::Compacted),
                WatchProgress::Failed(e) => return Err(e),
            }
        }
    }
}
