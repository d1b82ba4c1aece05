//! The shared, updatable table of every member's peer URLs.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

/// Peer URLs of every member, keyed by member ID. Cloning shares the table, so the server can
/// update it (membership changes) while the transport reads it.
#[derive(Debug, Clone, Default)]
pub struct PeerUrls {
    inner: Arc<RwLock<HashMap<u64, Vec<String>>>>,
}

impl PeerUrls {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// A table holding `members`.
    pub fn from_map(members: HashMap<u64, Vec<String>>) -> Self {
        PeerUrls {
            inner: Arc::new(RwLock::new(members)),
        }
    }

    /// Sets (or replaces) the URLs of member `id`.
    pub fn set(&self, id: u64, urls: Vec<String>) {
        self.inner.write().insert(id, urls);
    }

    /// The URLs of member `id`, if known.
    pub(crate) fn get(&self, id: u64) -> Option<Vec<String>> {
        self.inner.read().get(&id).cloned()
    }
}
