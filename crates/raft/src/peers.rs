//! The shared, updatable table of every member's peer URLs, and of the ids removed from the
//! cluster (whose messages are refused).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::RwLock;

/// Peer URLs of every member, keyed by member ID. Cloning shares the table, so the server can
/// update it (membership changes) while the transport reads it.
#[derive(Debug, Clone, Default)]
pub struct PeerUrls {
    inner: Arc<RwLock<HashMap<u64, Vec<String>>>>,
    removed: Arc<RwLock<HashSet<u64>>>,
}

impl PeerUrls {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) the URLs of member `id`.
    pub fn set(&self, id: u64, urls: Vec<String>) {
        self.inner.write().insert(id, urls);
    }

    /// Forgets member `id`, removed from the cluster: its messages are refused from now on.
    pub fn remove(&self, id: u64) {
        self.inner.write().remove(&id);
        self.removed.write().insert(id);
    }

    /// Replaces the whole table and the removed ids (after a snapshot brought another
    /// membership).
    pub fn replace(&self, members: HashMap<u64, Vec<String>>, removed: HashSet<u64>) {
        *self.inner.write() = members;
        *self.removed.write() = removed;
    }

    /// Whether member `id` was removed from the cluster.
    pub fn is_removed(&self, id: u64) -> bool {
        self.removed.read().contains(&id)
    }

    /// Every member's URLs, ordered by id.
    pub fn all(&self) -> Vec<(u64, Vec<String>)> {
        let mut all: Vec<_> = self
            .inner
            .read()
            .iter()
            .map(|(id, urls)| (*id, urls.clone()))
            .collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all
    }

    /// The URLs of member `id`, if known.
    pub(crate) fn get(&self, id: u64) -> Option<Vec<String>> {
        self.inner.read().get(&id).cloned()
    }
}
