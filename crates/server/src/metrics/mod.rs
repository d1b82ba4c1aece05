//! Prometheus metrics under etcd 3.5's names, types, help strings and labels, served as
//! `GET /metrics` on every client listener and on `--listen-metrics-urls`.
//!
//! Counters the server updates live in [`ServerMetrics`] (plain atomics, so the request path
//! pays a few relaxed adds); raft keeps its own in [`oxcd_raft::RaftMetrics`]; everything that
//! is a view of existing state (leadership, indexes, revisions, database size, process stats)
//! is computed when scraped. The registry is our own rather than the `prometheus` crate: the
//! set of metrics is fixed, so slots resolved at compile time keep the hot path lock-free and
//! allocation-free (the crate looks label values up in a locked map), and owning the writer lets
//! the text match Go's byte for byte.

mod endpoint;
mod grpc;
mod ops;
mod process;
mod scrape;
mod text;
mod watch_lease;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use oxcd_raft::metrics::{DISK_DURATION_BUCKETS, Histogram};

pub use endpoint::{routes, serve_metrics};
pub use grpc::{GrpcMetrics, GrpcMetricsLayer, GrpcMetricsService, GrpcType, MethodCounts};
pub use ops::OpCounts;
pub use scrape::render;
pub use text::{CONTENT_TYPE, Exposition, Kind, go_float};
pub use watch_lease::WatchLeaseMetrics;

/// An apply slower than this counts as slow (etcd's `warnApplyDuration`).
pub const SLOW_APPLY: std::time::Duration = std::time::Duration::from_millis(100);

/// Counters the server keeps; one per member, shared by the services and the apply loop.
pub struct ServerMetrics {
    proposals_pending: AtomicI64,
    proposals_failed: AtomicU64,
    slow_applies: AtomicU64,
    ranges: AtomicU64,
    puts: AtomicU64,
    deletes: AtomicU64,
    txns: AtomicU64,
    backend_commit: Histogram,
    grpc: GrpcMetrics,
    watch_lease: WatchLeaseMetrics,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        ServerMetrics {
            proposals_pending: AtomicI64::new(0),
            proposals_failed: AtomicU64::new(0),
            slow_applies: AtomicU64::new(0),
            ranges: AtomicU64::new(0),
            puts: AtomicU64::new(0),
            deletes: AtomicU64::new(0),
            txns: AtomicU64::new(0),
            backend_commit: Histogram::new(&DISK_DURATION_BUCKETS),
            grpc: GrpcMetrics::default(),
            watch_lease: WatchLeaseMetrics::default(),
        }
    }
}

/// Counts a proposal as pending until dropped.
pub struct PendingProposal<'a> {
    metrics: &'a ServerMetrics,
}

impl Drop for PendingProposal<'_> {
    fn drop(&mut self) {
        self.metrics
            .proposals_pending
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl ServerMetrics {
    /// Marks a proposal pending for as long as the returned guard lives (a client that goes
    /// away drops it too).
    pub fn pending_proposal(&self) -> PendingProposal<'_> {
        self.proposals_pending.fetch_add(1, Ordering::Relaxed);
        PendingProposal { metrics: self }
    }

    /// A proposal raft refused, or that timed out or was lost to a leader change.
    pub fn record_proposal_failed(&self) {
        self.proposals_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// An apply that took at least [`SLOW_APPLY`].
    pub fn record_slow_apply(&self) {
        self.slow_applies.fetch_add(1, Ordering::Relaxed);
    }

    /// Store operations performed by one applied request.
    pub fn record_ops(&self, ops: OpCounts) {
        if ops.ranges > 0 {
            self.ranges.fetch_add(ops.ranges, Ordering::Relaxed);
        }
        if ops.puts > 0 {
            self.puts.fetch_add(ops.puts, Ordering::Relaxed);
        }
        if ops.deletes > 0 {
            self.deletes.fetch_add(ops.deletes, Ordering::Relaxed);
        }
        if ops.is_txn() {
            self.txns.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Latency of backend commits (one per applied batch).
    pub fn backend_commit(&self) -> &Histogram {
        &self.backend_commit
    }

    /// Per-method gRPC counters.
    pub fn grpc(&self) -> &GrpcMetrics {
        &self.grpc
    }

    /// Watch and lease counters.
    pub fn watch_lease(&self) -> &WatchLeaseMetrics {
        &self.watch_lease
    }

    fn load(counter: &AtomicU64) -> f64 {
        counter.load(Ordering::Relaxed) as f64
    }
}
