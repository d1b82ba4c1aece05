//! Raft-side measurements ([`RaftMetrics`]): WAL fsync latency and bytes, leader changes, and
//! each peer's traffic ([`PeerTraffic`]: bytes each way, failures, whether its stream is up).
//! They are plain atomics updated by the ready loop, the WAL writer thread and the transport,
//! so recording costs a few relaxed atomic adds; the server reads them when it is scraped and
//! renders them under etcd's metric names. Also owns [`Histogram`], the lock-free latency
//! histogram they use.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;

/// `COUNT` bucket bounds from `start`, each `factor` times the last (Go's
/// `prometheus.ExponentialBuckets`, whose repeated multiplication this repeats, so that the
/// bounds print as etcd's do).
pub const fn exponential_buckets<const COUNT: usize>(start: f64, factor: f64) -> [f64; COUNT] {
    let mut bounds = [0.0; COUNT];
    let mut next = start;
    let mut i = 0;
    while i < COUNT {
        bounds[i] = next;
        next *= factor;
        i += 1;
    }
    bounds
}

/// etcd's bucket bounds (seconds) for disk latencies: 1 ms doubling up to 8.192 s.
pub const DISK_DURATION_BUCKETS: [f64; 14] = exponential_buckets(0.001, 2.0);

/// etcd's bounds for saving a received snapshot database: 100 ms doubling up to 51.2 s.
pub const SNAPSHOT_DB_SAVE_BUCKETS: [f64; 10] = exponential_buckets(0.1, 2.0);

/// A histogram with fixed bucket bounds (of latencies in seconds, or of any value), recorded
/// without locks.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One counter per bound, plus the overflow (`+Inf`) bucket; not cumulative.
    buckets: Box<[AtomicU64]>,
    /// The sum of the observations, as the bits of an `f64`.
    sum_bits: AtomicU64,
}

/// A histogram's values at one moment, in Prometheus form.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound, cumulative count)` for every finite bound, in increasing order.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of every observation, in seconds.
    pub sum: f64,
    /// Number of observations (the `+Inf` bucket).
    pub count: u64,
}

impl Histogram {
    /// A histogram with the given increasing upper bounds (in seconds).
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_bits: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Records one latency, in seconds.
    pub fn observe(&self, elapsed: Duration) {
        self.observe_value(elapsed.as_secs_f64());
    }

    /// Records one value (in the unit of the bounds).
    pub fn observe_value(&self, value: f64) {
        let slot = self
            .bounds
            .iter()
            .position(|&bound| value <= bound)
            .unwrap_or(self.bounds.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    /// The current values, with cumulative bucket counts.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let mut buckets = Vec::with_capacity(self.bounds.len());
        for (bound, bucket) in self.bounds.iter().zip(self.buckets.iter()) {
            running += bucket.load(Ordering::Relaxed);
            buckets.push((*bound, running));
        }
        let overflow = self.buckets[self.bounds.len()].load(Ordering::Relaxed);
        HistogramSnapshot {
            buckets,
            sum: f64::from_bits(self.sum_bits.load(Ordering::Relaxed)),
            count: running + overflow,
        }
    }
}

/// Counters and histograms kept by a raft node; shared with the server through
/// [`crate::RaftHandle::metrics`].
#[derive(Debug)]
pub struct RaftMetrics {
    wal_fsync: Histogram,
    wal_write_bytes: AtomicU64,
    leader_changes: AtomicU64,
    heartbeat_send_failures: AtomicU64,
    peers: RwLock<BTreeMap<u64, Arc<PeerTraffic>>>,
    snap_fsync: Histogram,
    snap_save: Histogram,
    snap_db_fsync: Histogram,
    snap_db_save: Histogram,
}

impl Default for RaftMetrics {
    fn default() -> Self {
        RaftMetrics {
            wal_fsync: Histogram::new(&DISK_DURATION_BUCKETS),
            wal_write_bytes: AtomicU64::new(0),
            leader_changes: AtomicU64::new(0),
            heartbeat_send_failures: AtomicU64::new(0),
            peers: RwLock::default(),
            snap_fsync: Histogram::new(&DISK_DURATION_BUCKETS),
            snap_save: Histogram::new(&DISK_DURATION_BUCKETS),
            snap_db_fsync: Histogram::new(&DISK_DURATION_BUCKETS),
            snap_db_save: Histogram::new(&SNAPSHOT_DB_SAVE_BUCKETS),
        }
    }
}

/// One peer's traffic, as etcd's `etcd_network_peer_*` families count it: the bytes of the
/// raft messages sent to it and received from it, the streams that failed each way, and
/// whether the stream to it is up (with how often it went down).
#[derive(Debug)]
pub struct PeerTraffic {
    sent_bytes: AtomicU64,
    received_bytes: AtomicU64,
    sent_failures: AtomicU64,
    received_failures: AtomicU64,
    active: AtomicBool,
    disconnects: AtomicU64,
    round_trip: Histogram,
    snapshots_sent: SnapshotTransfers,
    snapshots_received: SnapshotTransfers,
}

/// Snapshot transfers one way with one peer: done, failed, under way, and how long the done
/// ones took.
#[derive(Debug)]
struct SnapshotTransfers {
    succeeded: AtomicU64,
    failed: AtomicU64,
    in_flight: std::sync::atomic::AtomicI64,
    /// Whether any transfer started (etcd shows a peer's rows from then on).
    started: AtomicBool,
    took: Histogram,
}

impl Default for SnapshotTransfers {
    fn default() -> Self {
        SnapshotTransfers {
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            in_flight: std::sync::atomic::AtomicI64::new(0),
            started: AtomicBool::new(false),
            took: Histogram::new(&SNAPSHOT_DB_SAVE_BUCKETS),
        }
    }
}

impl SnapshotTransfers {
    fn start(&self) {
        self.started.store(true, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    fn finish(&self, took: Option<Duration>) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        match took {
            Some(took) => {
                self.succeeded.fetch_add(1, Ordering::Relaxed);
                self.took.observe(took);
            }
            None => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn counts(&self) -> Option<SnapshotTransferCounts> {
        self.started
            .load(Ordering::Relaxed)
            .then(|| SnapshotTransferCounts {
                succeeded: self.succeeded.load(Ordering::Relaxed),
                failed: self.failed.load(Ordering::Relaxed),
                in_flight: self.in_flight.load(Ordering::Relaxed),
                took: self.took.snapshot(),
            })
    }
}

/// Snapshot transfers one way with a peer at scrape time.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotTransferCounts {
    pub succeeded: u64,
    pub failed: u64,
    pub in_flight: i64,
    /// Latency of the transfers that succeeded.
    pub took: HistogramSnapshot,
}

impl Default for PeerTraffic {
    fn default() -> Self {
        PeerTraffic {
            sent_bytes: AtomicU64::new(0),
            received_bytes: AtomicU64::new(0),
            sent_failures: AtomicU64::new(0),
            received_failures: AtomicU64::new(0),
            active: AtomicBool::new(false),
            disconnects: AtomicU64::new(0),
            round_trip: Histogram::new(&ROUND_TRIP_BUCKETS),
            snapshots_sent: SnapshotTransfers::default(),
            snapshots_received: SnapshotTransfers::default(),
        }
    }
}

/// etcd's bounds for peer round trips: 0.1 ms doubling up to 3.2768 s.
pub const ROUND_TRIP_BUCKETS: [f64; 16] = exponential_buckets(0.0001, 2.0);

/// A peer's traffic at scrape time.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerTrafficCounts {
    pub sent_bytes: u64,
    pub received_bytes: u64,
    pub sent_failures: u64,
    pub received_failures: u64,
    /// Whether the outgoing stream is up.
    pub active: bool,
    /// How many times it went down after being up.
    pub disconnects: u64,
    /// Round trips measured by the prober.
    pub round_trip: HistogramSnapshot,
    /// Snapshots sent to the peer, once one was.
    pub snapshots_sent: Option<SnapshotTransferCounts>,
    /// Snapshots received from the peer, once one was.
    pub snapshots_received: Option<SnapshotTransferCounts>,
}

impl PeerTraffic {
    pub(crate) fn add_sent(&self, bytes: usize) {
        self.sent_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_received(&self, bytes: usize) {
        self.received_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn sent_failed(&self) {
        self.sent_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot transfer to the peer starts.
    pub(crate) fn snapshot_send_started(&self) {
        self.snapshots_sent.start();
    }

    /// A snapshot transfer to the peer ended: after `took` if it succeeded.
    pub(crate) fn snapshot_send_finished(&self, took: Option<Duration>) {
        self.snapshots_sent.finish(took);
    }

    /// A snapshot transfer from the peer starts.
    pub(crate) fn snapshot_receive_started(&self) {
        self.snapshots_received.start();
    }

    /// A snapshot transfer from the peer ended: after `took` if it succeeded.
    pub(crate) fn snapshot_receive_finished(&self, took: Option<Duration>) {
        self.snapshots_received.finish(took);
    }

    pub(crate) fn record_round_trip(&self, took: Duration) {
        self.round_trip.observe(took);
    }

    pub(crate) fn received_failed(&self) {
        self.received_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The outgoing stream is up (`true`) or went down.
    pub(crate) fn set_active(&self, up: bool) {
        let was = self.active.swap(up, Ordering::Relaxed);
        if was && !up {
            self.disconnects.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn counts(&self) -> PeerTrafficCounts {
        PeerTrafficCounts {
            sent_bytes: self.sent_bytes.load(Ordering::Relaxed),
            received_bytes: self.received_bytes.load(Ordering::Relaxed),
            sent_failures: self.sent_failures.load(Ordering::Relaxed),
            received_failures: self.received_failures.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            disconnects: self.disconnects.load(Ordering::Relaxed),
            round_trip: self.round_trip.snapshot(),
            snapshots_sent: self.snapshots_sent.counts(),
            snapshots_received: self.snapshots_received.counts(),
        }
    }
}

impl RaftMetrics {
    /// Latency of each durable WAL write (the write of the batch plus its `fdatasync`).
    pub fn wal_fsync(&self) -> &Histogram {
        &self.wal_fsync
    }

    /// Bytes written to the WAL since start.
    pub fn wal_write_bytes(&self) -> u64 {
        self.wal_write_bytes.load(Ordering::Relaxed)
    }

    /// How many times this member saw a new leader elected (as etcd counts: every change to a
    /// different, known leader).
    pub fn leader_changes(&self) -> u64 {
        self.leader_changes.load(Ordering::Relaxed)
    }

    /// Syncs of saved snapshot metadata files.
    pub fn snap_fsync(&self) -> &Histogram {
        &self.snap_fsync
    }

    /// Whole saves of snapshot metadata.
    pub fn snap_save(&self) -> &Histogram {
        &self.snap_save
    }

    /// Syncs of snapshot databases received from the leader.
    pub fn snap_db_fsync(&self) -> &Histogram {
        &self.snap_db_fsync
    }

    /// Whole receptions of snapshot databases, from the first chunk to the saved file.
    pub fn snap_db_save(&self) -> &Histogram {
        &self.snap_db_save
    }

    pub(crate) fn record_snap_save(&self, times: crate::snap::SaveTimes) {
        self.snap_fsync.observe(times.fsync);
        self.snap_save.observe(times.total);
    }

    /// Heartbeats this member, as leader, could not hand to a peer's stream (its queue was
    /// full: the peer or the link is too slow).
    pub fn heartbeat_send_failures(&self) -> u64 {
        self.heartbeat_send_failures.load(Ordering::Relaxed)
    }

    pub(crate) fn record_heartbeat_send_failure(&self) {
        self.heartbeat_send_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Every peer this member has exchanged messages with, by id.
    pub fn peer_traffic(&self) -> Vec<(u64, PeerTrafficCounts)> {
        self.peers
            .read()
            .iter()
            .map(|(id, traffic)| (*id, traffic.counts()))
            .collect()
    }

    /// The traffic counters of peer `id`.
    pub(crate) fn peer(&self, id: u64) -> Arc<PeerTraffic> {
        if let Some(traffic) = self.peers.read().get(&id) {
            return traffic.clone();
        }
        self.peers.write().entry(id).or_default().clone()
    }

    pub(crate) fn add_wal_write_bytes(&self, bytes: usize) {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        self.wal_write_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn record_leader_change(&self) {
        self.leader_changes.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_traffic_counts_disconnects_of_active_streams_only() {
        let m = RaftMetrics::default();
        let peer = m.peer(7);
        peer.set_active(false);
        peer.set_active(true);
        peer.add_sent(10);
        peer.set_active(false);
        m.peer(7).add_received(4);
        let traffic = m.peer_traffic();
        assert_eq!(traffic.len(), 1);
        let (id, counts) = traffic[0].clone();
        assert_eq!(id, 7);
        assert_eq!((counts.sent_bytes, counts.received_bytes), (10, 4));
        assert_eq!((counts.active, counts.disconnects), (false, 1));
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_bounds_inclusive() {
        let h = Histogram::new(&DISK_DURATION_BUCKETS);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(1));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(10));
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(s.buckets.len(), DISK_DURATION_BUCKETS.len());
        assert_eq!(s.buckets[0], (0.001, 2));
        assert_eq!(s.buckets[1], (0.002, 2));
        assert_eq!(s.buckets[2], (0.004, 3));
        assert_eq!(s.buckets[13], (8.192, 3));
        assert!((s.sum - 10.0045).abs() < 1e-9, "sum {}", s.sum);
    }

    #[test]
    fn exponential_bounds_are_the_ones_etcd_prints() {
        assert_eq!(DISK_DURATION_BUCKETS[..3], [0.001, 0.002, 0.004]);
        assert_eq!(DISK_DURATION_BUCKETS[13], 8.192);
        assert_eq!(SNAPSHOT_DB_SAVE_BUCKETS[9], 51.2);
        assert_eq!(ROUND_TRIP_BUCKETS[15], 3.2768);
        assert_eq!(exponential_buckets::<24>(1.0, 2.0)[23], 8_388_608.0);
    }

    #[test]
    fn counters_accumulate() {
        let m = RaftMetrics::default();
        m.add_wal_write_bytes(100);
        m.add_wal_write_bytes(28);
        m.record_leader_change();
        assert_eq!(m.wal_write_bytes(), 128);
        assert_eq!(m.leader_changes(), 1);
    }
}
