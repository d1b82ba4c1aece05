//! Since when each peer's outgoing stream has been connected: what etcd's
//! `--strict-reconfig-check` asks of the transport ("active since"), shared between the peer
//! tasks that observe it and the handle that reports it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;

/// Peer id → when its stream became active; absent while it is not.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerActivity {
    since: Arc<RwLock<HashMap<u64, Instant>>>,
}

impl PeerActivity {
    /// Records that `peer` is connected, from now on unless it already was.
    pub(crate) fn connected(&self, peer: u64) {
        self.since.write().entry(peer).or_insert_with(Instant::now);
    }

    /// Records that the stream to `peer` failed.
    pub(crate) fn inactive(&self, peer: u64) {
        self.since.write().remove(&peer);
    }

    /// Since when the stream to `peer` has been active, if it is.
    pub(crate) fn since(&self, peer: u64) -> Option<Instant> {
        self.since.read().get(&peer).copied()
    }
}
