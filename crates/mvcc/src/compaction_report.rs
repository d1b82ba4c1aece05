//! What a finished physical compaction did ([`CompactionReport`]), handed to whoever observes
//! compactions (the server's metrics).

use std::time::Duration;

/// What a finished physical compaction did, for metrics.
#[derive(Debug, Clone, Default)]
pub struct CompactionReport {
    /// Revisions deleted from the key table.
    pub keys: u64,
    /// From the first step to the last.
    pub total: Duration,
    /// How long each step held the write transaction (apply batches waited meanwhile).
    pub pauses: Vec<Duration>,
    /// How long each step held the key index (readers and writers waited meanwhile).
    pub index_pauses: Vec<Duration>,
}

/// Told of each finished compaction ([`crate::KvStore::observe_compactions`]).
pub type CompactionObserver = dyn Fn(&CompactionReport) + Send + Sync;
