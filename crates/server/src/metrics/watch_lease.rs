//! Watch and lease counters under etcd's metric names (`etcd_debugging_mvcc_watcher_total`,
//! `etcd_debugging_mvcc_watch_stream_total`, `etcd_debugging_mvcc_events_total`,
//! `etcd_debugging_lease_{granted,revoked,renewed}_total`), so dashboards built for etcd
//! keep working.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use oxcd_raft::metrics::{Histogram, exponential_buckets};

use super::text::{Exposition, Kind};

/// etcd's lease TTL buckets: 1 s doubling up to 2^23 s.
static LEASE_TTL_BUCKETS: [f64; 24] = exponential_buckets(1.0, 2.0);

/// The counters; kept by the Watch service, the Lease service and the apply loop.
pub(crate) struct WatchLeaseMetrics {
    watchers: AtomicI64,
    streams: AtomicI64,
    slow_watchers: AtomicI64,
    pending_events: AtomicI64,
    events: AtomicU64,
    granted: AtomicU64,
    revoked: AtomicU64,
    renewed: AtomicU64,
    expired: AtomicU64,
    granted_ttls: Histogram,
}

impl Default for WatchLeaseMetrics {
    fn default() -> Self {
        WatchLeaseMetrics {
            watchers: AtomicI64::new(0),
            streams: AtomicI64::new(0),
            slow_watchers: AtomicI64::new(0),
            pending_events: AtomicI64::new(0),
            events: AtomicU64::new(0),
            granted: AtomicU64::new(0),
            revoked: AtomicU64::new(0),
            renewed: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            granted_ttls: Histogram::new(&LEASE_TTL_BUCKETS),
        }
    }
}

impl WatchLeaseMetrics {
    /// A watch stream opened (`+1`) or closed (`-1`).
    pub(crate) fn add_streams(&self, delta: i64) {
        self.streams.fetch_add(delta, Ordering::Relaxed);
    }

    /// Watchers created (positive) or removed (negative).
    pub(crate) fn add_watchers(&self, delta: i64) {
        self.watchers.fetch_add(delta, Ordering::Relaxed);
    }

    /// Watchers that fell behind the change ring and read the backend (etcd's unsynced, slow
    /// watchers): one more (`+1`) or one fewer.
    pub(crate) fn add_slow_watchers(&self, delta: i64) {
        self.slow_watchers.fetch_add(delta, Ordering::Relaxed);
    }

    /// Events in responses queued for their streams' clients, not yet taken by the
    /// connection: more (positive) or fewer.
    pub(crate) fn add_pending_events(&self, delta: i64) {
        self.pending_events.fetch_add(delta, Ordering::Relaxed);
    }

    /// Events sent to watchers.
    pub(crate) fn add_events(&self, events: usize) {
        self.events.fetch_add(events as u64, Ordering::Relaxed);
    }

    /// A lease granted with `ttl` seconds (applied on this member).
    pub(crate) fn record_granted(&self, ttl: i64) {
        self.granted.fetch_add(1, Ordering::Relaxed);
        self.granted_ttls.observe_value(ttl as f64);
    }

    /// An expired lease this member, as leader, revoked.
    pub(crate) fn record_expired(&self) {
        self.expired.fetch_add(1, Ordering::Relaxed);
    }

    /// A lease revoked (applied on this member).
    pub(crate) fn record_revoked(&self) {
        self.revoked.fetch_add(1, Ordering::Relaxed);
    }

    /// A lease renewed by this member as the primary.
    pub(crate) fn record_renewed(&self) {
        self.renewed.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes every counter.
    pub(crate) fn write(&self, out: &mut Exposition) {
        let get = |v: &AtomicU64| v.load(Ordering::Relaxed) as f64;
        out.single(
            "etcd_debugging_mvcc_watcher_total",
            "Total number of watchers.",
            Kind::Gauge,
            self.watchers.load(Ordering::Relaxed) as f64,
        );
        out.single(
            "etcd_debugging_mvcc_watch_stream_total",
            "Total number of watch streams.",
            Kind::Gauge,
            self.streams.load(Ordering::Relaxed) as f64,
        );
        out.single(
            "etcd_debugging_mvcc_slow_watcher_total",
            "Total number of unsynced slow watchers.",
            Kind::Gauge,
            self.slow_watchers.load(Ordering::Relaxed) as f64,
        );
        out.single(
            "etcd_debugging_mvcc_pending_events_total",
            "Total number of pending events to be sent.",
            Kind::Gauge,
            self.pending_events.load(Ordering::Relaxed) as f64,
        );
        out.single(
            "etcd_debugging_mvcc_events_total",
            "Total number of events sent by this member.",
            Kind::Counter,
            get(&self.events),
        );
        out.single(
            "etcd_debugging_lease_granted_total",
            "The total number of granted leases.",
            Kind::Counter,
            get(&self.granted),
        );
        out.single(
            "etcd_debugging_lease_revoked_total",
            "The total number of revoked leases.",
            Kind::Counter,
            get(&self.revoked),
        );
        out.single(
            "etcd_debugging_lease_renewed_total",
            "The number of renewed leases seen by the leader.",
            Kind::Counter,
            get(&self.renewed),
        );
        out.single(
            "etcd_debugging_server_lease_expired_total",
            "The total number of expired leases.",
            Kind::Counter,
            get(&self.expired),
        );
        out.histogram(
            "etcd_debugging_lease_ttl_total",
            "Bucketed histogram of lease TTLs.",
            &self.granted_ttls.snapshot(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_under_etcds_names() {
        let m = WatchLeaseMetrics::default();
        m.add_streams(2);
        m.add_streams(-1);
        m.add_watchers(5);
        m.add_watchers(-2);
        m.add_events(7);
        m.record_granted(60);
        m.record_granted(5);
        m.record_revoked();
        m.record_renewed();
        let mut out = Exposition::default();
        m.write(&mut out);
        let text = out.render();
        for line in [
            "etcd_debugging_mvcc_watch_stream_total 1",
            "etcd_debugging_mvcc_watcher_total 3",
            "etcd_debugging_mvcc_events_total 7",
            "etcd_debugging_lease_granted_total 2",
            "etcd_debugging_lease_revoked_total 1",
            "etcd_debugging_lease_renewed_total 1",
            "etcd_debugging_lease_ttl_total_bucket{le=\"8\"} 1",
            "etcd_debugging_lease_ttl_total_bucket{le=\"64\"} 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
    }
}
