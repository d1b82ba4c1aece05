//! The counters the server updates ([`ServerMetrics`]): plain atomics, so the request path pays
//! a few relaxed adds. A scrape reads them in `scrape.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::Mutex;

use oxcd_raft::metrics::{DISK_DURATION_BUCKETS, Histogram};

use super::gauge_guard::GaugeGuard;
use super::grpc::GrpcMetrics;
use super::ops::OpCounts;
use super::store_metrics::StoreMetrics;
use super::watch_lease::WatchLeaseMetrics;

/// An apply slower than this counts as slow (etcd's `warnApplyDuration`).
pub(crate) const SLOW_APPLY: std::time::Duration = std::time::Duration::from_millis(100);

/// Counters the server keeps; one per member, shared by the services and the apply loop.
pub(crate) struct ServerMetrics {
    pub(super) proposals_pending: AtomicI64,
    pub(super) proposals_failed: AtomicU64,
    pub(super) slow_applies: AtomicU64,
    pub(super) ranges: AtomicU64,
    pub(super) puts: AtomicU64,
    pub(super) deletes: AtomicU64,
    pub(super) txns: AtomicU64,
    pub(super) learner_promote_successes: AtomicU64,
    /// Failed promotions decided here as leader, by the error's message (etcd's `Reason`).
    pub(super) learner_promote_failures: Mutex<BTreeMap<String, u64>>,
    pub(super) health_successes: AtomicU64,
    pub(super) health_failures: AtomicU64,
    /// `/livez` and `/readyz` checks by (probe, check): the last outcome, and how many passed
    /// and failed.
    pub(super) health_checks: Mutex<BTreeMap<(&'static str, &'static str), HealthCheckCounts>>,
    pub(super) read_indexes_failed: AtomicU64,
    pub(super) slow_read_indexes: AtomicU64,
    backend_commit: Histogram,
    grpc: Arc<GrpcMetrics>,
    store: StoreMetrics,
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
            learner_promote_successes: AtomicU64::new(0),
            learner_promote_failures: Mutex::default(),
            health_successes: AtomicU64::new(0),
            health_failures: AtomicU64::new(0),
            health_checks: Mutex::default(),
            read_indexes_failed: AtomicU64::new(0),
            slow_read_indexes: AtomicU64::new(0),
            backend_commit: Histogram::new(&DISK_DURATION_BUCKETS),
            grpc: Arc::default(),
            store: StoreMetrics::default(),
            watch_lease: WatchLeaseMetrics::default(),
        }
    }
}

/// What a scrape shows of one probe check.
#[derive(Clone, Copy, Default)]
pub(super) struct HealthCheckCounts {
    pub(super) last_ok: bool,
    pub(super) successes: u64,
    pub(super) errors: u64,
}

impl ServerMetrics {
    /// Marks a proposal pending for as long as the returned guard lives (a client that goes
    /// away drops it too).
    pub(crate) fn pending_proposal(&self) -> GaugeGuard<'_> {
        GaugeGuard::raise(&self.proposals_pending)
    }

    /// A proposal raft refused, or that timed out or was lost to a leader change.
    pub(crate) fn record_proposal_failed(&self) {
        self.proposals_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// An apply that took at least [`SLOW_APPLY`].
    pub(crate) fn record_slow_apply(&self) {
        self.slow_applies.fetch_add(1, Ordering::Relaxed);
    }

    /// A learner promotion this member decided as leader: done, or refused for `failure`.
    pub(crate) fn record_learner_promotion(&self, failure: Option<&str>) {
        match failure {
            None => {
                self.learner_promote_successes
                    .fetch_add(1, Ordering::Relaxed);
            }
            Some(reason) => {
                *self
                    .learner_promote_failures
                    .lock()
                    .entry(reason.to_string())
                    .or_insert(0) += 1;
            }
        }
    }

    /// What the store and the apply loop do.
    pub(crate) fn store(&self) -> &StoreMetrics {
        &self.store
    }

    /// A ReadIndex that failed; `timed_out` if it was for want of an answer in time (etcd's
    /// slow read indexes).
    pub(crate) fn record_read_index_failed(&self, timed_out: bool) {
        let counter = if timed_out {
            &self.slow_read_indexes
        } else {
            &self.read_indexes_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A `/health` answer: healthy or not.
    pub(crate) fn record_health(&self, healthy: bool) {
        let counter = if healthy {
            &self.health_successes
        } else {
            &self.health_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// One check of a `/livez` or `/readyz` probe (`kind`) and its outcome.
    pub(crate) fn record_health_check(&self, kind: &'static str, check: &'static str, ok: bool) {
        let mut checks = self.health_checks.lock();
        let counts = checks.entry((kind, check)).or_default();
        counts.last_ok = ok;
        if ok {
            counts.successes += 1;
        } else {
            counts.errors += 1;
        }
    }

    /// Store operations performed by one applied request.
    pub(crate) fn record_ops(&self, ops: OpCounts) {
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
    pub(crate) fn backend_commit(&self) -> &Histogram {
        &self.backend_commit
    }

    /// Per-method gRPC counters.
    pub(crate) fn grpc(&self) -> &Arc<GrpcMetrics> {
        &self.grpc
    }

    /// Watch and lease counters.
    pub(crate) fn watch_lease(&self) -> &WatchLeaseMetrics {
        &self.watch_lease
    }

    /// The store operations counted so far.
    #[cfg(test)]
    pub(crate) fn ops(&self) -> OpCounts {
        OpCounts {
            ranges: self.ranges.load(Ordering::Relaxed),
            puts: self.puts.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
        }
    }

    pub(super) fn load(counter: &AtomicU64) -> f64 {
        counter.load(Ordering::Relaxed) as f64
    }
}
