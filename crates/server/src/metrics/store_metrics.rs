//! What the store and the apply loop do, under etcd's names: apply latency by request kind and
//! outcome, hash latencies, defragmentation (latency, whether one runs), backend snapshots
//! sent, physical compaction (keys deleted, when it last finished, how long it held writers
//! and the index), the bytes of the pairs put, and snapshots being applied.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oxcd_mvcc::CompactionReport;
use oxcd_raft::metrics::{Histogram, exponential_buckets};

use super::gauge_guard::GaugeGuard;
use super::text::{Exposition, Kind};

static APPLY_BUCKETS: [f64; 20] = exponential_buckets(0.0001, 2.0);
static HASH_BUCKETS: [f64; 15] = exponential_buckets(0.01, 2.0);
static DEFRAG_BUCKETS: [f64; 13] = exponential_buckets(0.1, 2.0);
static BACKEND_SNAPSHOT_BUCKETS: [f64; 17] = exponential_buckets(0.01, 2.0);
static COMPACTION_PAUSE_MS_BUCKETS: [f64; 13] = exponential_buckets(1.0, 2.0);
static COMPACTION_TOTAL_MS_BUCKETS: [f64; 14] = exponential_buckets(100.0, 2.0);
static INDEX_COMPACTION_PAUSE_MS_BUCKETS: [f64; 14] = exponential_buckets(0.5, 2.0);

/// The kinds of applied requests, as etcd names them in `etcd_server_apply_duration_seconds`
/// (`MemberUpdate` is oxcd's: etcd applies a member update as a raft configuration change).
pub(crate) const APPLY_OPS: [&str; 27] = [
    "Put",
    "DeleteRange",
    "Txn",
    "Compaction",
    "LeaseGrant",
    "LeaseRevoke",
    "LeaseCheckpoint",
    "Alarm",
    "Authenticate",
    "AuthEnable",
    "AuthDisable",
    "AuthStatus",
    "AuthUserAdd",
    "AuthUserDelete",
    "AuthUserChangePassword",
    "AuthUserGrantRole",
    "AuthUserGet",
    "AuthUserRevokeRole",
    "AuthRoleAdd",
    "AuthRoleGrantPermission",
    "AuthRoleGet",
    "AuthRoleRevokePermission",
    "AuthRoleDelete",
    "AuthUserList",
    "AuthRoleList",
    "ClusterMemberAttrSet",
    "MemberUpdate",
];

/// The store's and the apply loop's measurements.
pub(crate) struct StoreMetrics {
    /// By `APPLY_OPS` index, then failed (0) or succeeded (1).
    apply: Box<[[Histogram; 2]]>,
    hash: Histogram,
    hash_rev: Histogram,
    defrag: Histogram,
    defrags_running: AtomicI64,
    backend_snapshot: Histogram,
    compaction_keys: AtomicU64,
    compaction_last: AtomicI64,
    compaction_pause: Histogram,
    compaction_total: Histogram,
    index_compaction_pause: Histogram,
    put_bytes: AtomicU64,
    snapshots_applying: AtomicI64,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            apply: APPLY_OPS
                .iter()
                .map(|_| {
                    [
                        Histogram::new(&APPLY_BUCKETS),
                        Histogram::new(&APPLY_BUCKETS),
                    ]
                })
                .collect(),
            hash: Histogram::new(&HASH_BUCKETS),
            hash_rev: Histogram::new(&HASH_BUCKETS),
            defrag: Histogram::new(&DEFRAG_BUCKETS),
            defrags_running: AtomicI64::new(0),
            backend_snapshot: Histogram::new(&BACKEND_SNAPSHOT_BUCKETS),
            compaction_keys: AtomicU64::new(0),
            compaction_last: AtomicI64::new(0),
            compaction_pause: Histogram::new(&COMPACTION_PAUSE_MS_BUCKETS),
            compaction_total: Histogram::new(&COMPACTION_TOTAL_MS_BUCKETS),
            index_compaction_pause: Histogram::new(&INDEX_COMPACTION_PAUSE_MS_BUCKETS),
            put_bytes: AtomicU64::new(0),
            snapshots_applying: AtomicI64::new(0),
        }
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl StoreMetrics {
    /// One applied request of kind `op` (one of [`APPLY_OPS`]).
    pub(crate) fn record_apply(&self, op: &str, succeeded: bool, took: Duration) {
        if let Some(slot) = APPLY_OPS.iter().position(|o| *o == op) {
            self.apply[slot][usize::from(succeeded)].observe(took);
        }
    }

    /// A `Hash` of the whole store.
    pub(crate) fn record_hash(&self, took: Duration) {
        self.hash.observe(took);
    }

    /// A hash of the store up to a revision (`HashKV`, corruption checks).
    pub(crate) fn record_hash_rev(&self, took: Duration) {
        self.hash_rev.observe(took);
    }

    /// A defragmentation starts; it is counted as running until the guard drops.
    pub(crate) fn defrag_running(&self) -> GaugeGuard<'_> {
        GaugeGuard::raise(&self.defrags_running)
    }

    /// A defragmentation that finished.
    pub(crate) fn record_defrag(&self, took: Duration) {
        self.defrag.observe(took);
    }

    /// A backend snapshot sent to a client.
    pub(crate) fn record_backend_snapshot(&self, took: Duration) {
        self.backend_snapshot.observe(took);
    }

    /// The pairs a committed apply batch put.
    pub(crate) fn add_put_bytes(&self, bytes: u64) {
        self.put_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A snapshot from the leader is being applied until the guard drops.
    pub(crate) fn snapshot_applying(&self) -> GaugeGuard<'_> {
        GaugeGuard::raise(&self.snapshots_applying)
    }

    /// A physical compaction that finished.
    pub(crate) fn record_compaction(&self, report: &CompactionReport) {
        self.compaction_keys
            .fetch_add(report.keys, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.compaction_last.store(now, Ordering::Relaxed);
        for pause in &report.pauses {
            self.compaction_pause.observe_value(millis(*pause));
        }
        for pause in &report.index_pauses {
            self.index_compaction_pause.observe_value(millis(*pause));
        }
        self.compaction_total.observe_value(millis(report.total));
    }

    /// Writes every family.
    pub(crate) fn write(&self, out: &mut Exposition) {
        let mut applied = Vec::new();
        for (op, by_outcome) in APPLY_OPS.iter().zip(self.apply.iter()) {
            for (succeeded, histogram) in ["false", "true"].iter().zip(by_outcome) {
                let snapshot = histogram.snapshot();
                // Go's client shows a label set once it was observed.
                if snapshot.count > 0 {
                    applied.push((
                        vec![("op", *op), ("success", *succeeded), ("version", "v3")],
                        snapshot,
                    ));
                }
            }
        }
        if !applied.is_empty() {
            out.labelled_histograms(
                "etcd_server_apply_duration_seconds",
                "The latency distributions of v2 apply called by backend.",
                applied,
            );
        }
        out.histogram(
            "etcd_mvcc_hash_duration_seconds",
            "The latency distribution of storage hash operation.",
            &self.hash.snapshot(),
        );
        out.histogram(
            "etcd_mvcc_hash_rev_duration_seconds",
            "The latency distribution of storage hash by revision operation.",
            &self.hash_rev.snapshot(),
        );
        out.histogram(
            "etcd_disk_backend_defrag_duration_seconds",
            "The latency distribution of backend defragmentation.",
            &self.defrag.snapshot(),
        );
        out.single(
            "etcd_disk_defrag_inflight",
            "Whether or not defrag is active on the member. 1 means active, 0 means not.",
            Kind::Gauge,
            (self.defrags_running.load(Ordering::Relaxed) > 0) as u8 as f64,
        );
        out.histogram(
            "etcd_disk_backend_snapshot_duration_seconds",
            "The latency distribution of backend snapshots.",
            &self.backend_snapshot.snapshot(),
        );
        out.single(
            "etcd_debugging_mvcc_db_compaction_keys_total",
            "Total number of db keys compacted.",
            Kind::Counter,
            self.compaction_keys.load(Ordering::Relaxed) as f64,
        );
        out.single(
            "etcd_debugging_mvcc_db_compaction_last",
            "The unix time of the last db compaction. Resets to 0 on start.",
            Kind::Gauge,
            self.compaction_last.load(Ordering::Relaxed) as f64,
        );
        out.histogram(
            "etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds",
            "Bucketed histogram of db compaction pause duration.",
            &self.compaction_pause.snapshot(),
        );
        out.histogram(
            "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds",
            "Bucketed histogram of db compaction total duration.",
            &self.compaction_total.snapshot(),
        );
        out.histogram(
            "etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds",
            "Bucketed histogram of index compaction pause duration.",
            &self.index_compaction_pause.snapshot(),
        );
        out.single(
            "etcd_debugging_mvcc_total_put_size_in_bytes",
            "The total size of put kv pairs seen by this member.",
            Kind::Gauge,
            self.put_bytes.load(Ordering::Relaxed) as f64,
        );
        out.single(
            "etcd_server_snapshot_apply_in_progress_total",
            "1 if the server is applying the incoming snapshot. 0 if none.",
            Kind::Gauge,
            self.snapshots_applying.load(Ordering::Relaxed) as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_etcds() {
        assert_eq!(APPLY_BUCKETS[19], 52.4288);
        assert_eq!(BACKEND_SNAPSHOT_BUCKETS[16], 655.36);
        assert_eq!(COMPACTION_TOTAL_MS_BUCKETS[13], 819_200.0);
        assert_eq!(INDEX_COMPACTION_PAUSE_MS_BUCKETS[0], 0.5);
    }

    #[test]
    fn applies_show_by_kind_and_outcome_once_seen() {
        let m = StoreMetrics::default();
        m.record_apply("Put", true, Duration::from_micros(150));
        m.record_apply("Txn", false, Duration::from_millis(3));
        let mut out = Exposition::default();
        m.write(&mut out);
        let text = out.render();
        assert!(text.contains(
            "etcd_server_apply_duration_seconds_count{op=\"Put\",success=\"true\",version=\"v3\"} 1"
        ));
        assert!(text.contains(
            "etcd_server_apply_duration_seconds_bucket{op=\"Txn\",success=\"false\",version=\"v3\",le=\"0.0032\"} 1"
        ));
        assert!(!text.contains("op=\"Range\""));
    }
}
