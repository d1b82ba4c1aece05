//! One scrape: gathers the member's counters and current state into etcd's metric families.

use oxcd_raft::metrics::{PeerTrafficCounts, SnapshotTransferCounts};
use oxcd_raft::{RaftMetrics, RaftStatus, Role};

use super::counters::ServerMetrics;
use super::process;
use super::text::{Exposition, Kind};
use crate::version::{CLUSTER_VERSION, SERVER_VERSION};

/// The path whose successful calls are the ranges served outside the apply loop.
const RANGE_PATH: &str = "/etcdserverpb.KV/Range";

/// Everything a scrape reads of the member, gathered first so rendering is a pure function.
pub(crate) struct Snapshot<'a> {
    /// Raft's view: role, leader, term, indexes.
    pub(crate) status: RaftStatus,
    /// This member's id.
    pub(crate) member_id: u64,
    /// Raft's own counters.
    pub(crate) raft: &'a RaftMetrics,
    /// The server's counters.
    pub(crate) server: &'a ServerMetrics,
    /// Backend file size.
    pub(crate) db_size: u64,
    /// Backend bytes in use.
    pub(crate) db_size_in_use: u64,
    /// Keys in the key index.
    pub(crate) keys: usize,
    /// The store's current revision.
    pub(crate) current_revision: i64,
    /// The store's compacted revision.
    pub(crate) compact_revision: i64,
    /// `--quota-backend-bytes` as etcd reports it.
    pub(crate) quota_backend_bytes: i64,
    /// The auth store's revision.
    pub(crate) auth_revision: u64,
    /// Backend read transactions open.
    pub(crate) open_read_transactions: i64,
}

/// The text of `GET /metrics` for the member described by `snapshot`, with this process's
/// statistics.
pub(crate) fn render(snapshot: &Snapshot<'_>) -> String {
    let mut out = Exposition::default();
    snapshot.write(&mut out);
    process::collect(&mut out);
    out.render()
}

/// Where a peer's snapshot transfers one way are.
type TransfersOf = fn(&PeerTrafficCounts) -> Option<&SnapshotTransferCounts>;

/// Snapshot transfers with each peer, both ways, for the peers that had one.
fn write_snapshot_transfers(out: &mut Exposition, peers: &[(String, PeerTrafficCounts)]) {
    let ways: [(&str, &str, TransfersOf); 2] = [
        ("send", "To", |c| c.snapshots_sent.as_ref()),
        ("receive", "From", |c| c.snapshots_received.as_ref()),
    ];
    for (way, label, of) in ways {
        let rows: Vec<(&str, &SnapshotTransferCounts)> = peers
            .iter()
            .filter_map(|(id, c)| of(c).map(|t| (id.as_str(), t)))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let (sends, verb) = if way == "send" {
            ("sends", "send")
        } else {
            ("receives", "receive")
        };
        let counter = |value: fn(&SnapshotTransferCounts) -> f64| {
            rows.iter()
                .map(|(id, t)| (vec![(label, *id)], value(t)))
                .collect::<Vec<_>>()
        };
        out.labelled(
            if way == "send" {
                "etcd_network_snapshot_send_success"
            } else {
                "etcd_network_snapshot_receive_success"
            },
            &format!("Total number of successful snapshot {sends}"),
            Kind::Counter,
            counter(|t| t.succeeded as f64),
        );
        out.labelled(
            if way == "send" {
                "etcd_network_snapshot_send_failures"
            } else {
                "etcd_network_snapshot_receive_failures"
            },
            &format!("Total number of snapshot {verb} failures"),
            Kind::Counter,
            counter(|t| t.failed as f64),
        );
        out.labelled(
            if way == "send" {
                "etcd_network_snapshot_send_inflights_total"
            } else {
                "etcd_network_snapshot_receive_inflights_total"
            },
            &format!("Total number of inflight snapshot {sends}"),
            Kind::Gauge,
            counter(|t| t.in_flight as f64),
        );
        out.labelled_histograms(
            if way == "send" {
                "etcd_network_snapshot_send_total_duration_seconds"
            } else {
                "etcd_network_snapshot_receive_total_duration_seconds"
            },
            &format!("Total latency distributions of v3 snapshot {sends}"),
            rows.iter()
                .map(|(id, t)| (vec![(label, *id)], t.took.clone()))
                .collect(),
        );
    }
}

/// A per-peer counter family: name, help, the peer's label, and its value.
type PeerFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&PeerTrafficCounts) -> u64,
);

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// "3.5.0" → "3.5": etcd labels the cluster version by major.minor.
fn major_minor(version: &str) -> &str {
    match version.match_indices('.').nth(1) {
        Some((i, _)) => &version[..i],
        None => version,
    }
}

impl Snapshot<'_> {
    pub(super) fn write(&self, out: &mut Exposition) {
        self.write_server(out);
        self.write_mvcc(out);
        self.server.watch_lease().write(out);
        self.write_disk(out);
        self.write_grpc(out);
        self.write_network(out);
    }

    /// Each peer's traffic, labelled by hex member ids as etcd's transport does.
    fn write_network(&self, out: &mut Exposition) {
        let peers: Vec<(String, PeerTrafficCounts)> = self
            .raft
            .peer_traffic()
            .into_iter()
            .map(|(id, counts)| (format!("{id:x}"), counts))
            .collect();
        if peers.is_empty() {
            return;
        }
        let local = format!("{:x}", self.member_id);
        let by_peer = |label: &'static str, value: fn(&PeerTrafficCounts) -> u64| {
            peers
                .iter()
                .filter(|(_, c)| value(c) > 0)
                .map(|(id, c)| (vec![(label, id.as_str())], value(c) as f64))
                .collect::<Vec<_>>()
        };
        let pairs = |value: fn(&PeerTrafficCounts) -> f64| {
            peers
                .iter()
                .map(|(id, c)| {
                    (
                        vec![("Local", local.as_str()), ("Remote", id.as_str())],
                        value(c),
                    )
                })
                .collect::<Vec<_>>()
        };
        out.labelled(
            "etcd_network_active_peers",
            "The current number of active peer connections.",
            Kind::Gauge,
            pairs(|c| flag(c.active)),
        );
        // Families of events that have not happened yet stay out, as Go's client leaves them.
        let families: [PeerFamily; 4] = [
            (
                "etcd_network_peer_sent_bytes_total",
                "The total number of bytes sent to peers.",
                "To",
                |c| c.sent_bytes,
            ),
            (
                "etcd_network_peer_received_bytes_total",
                "The total number of bytes received from peers.",
                "From",
                |c| c.received_bytes,
            ),
            (
                "etcd_network_peer_sent_failures_total",
                "The total number of send failures from peers.",
                "To",
                |c| c.sent_failures,
            ),
            (
                "etcd_network_peer_received_failures_total",
                "The total number of receive failures from peers.",
                "From",
                |c| c.received_failures,
            ),
        ];
        for (name, help, label, value) in families {
            let samples = by_peer(label, value);
            if !samples.is_empty() {
                out.labelled(name, help, Kind::Counter, samples);
            }
        }
        let round_trips: Vec<_> = peers
            .iter()
            .filter(|(_, c)| c.round_trip.count > 0)
            .map(|(id, c)| (vec![("To", id.as_str())], c.round_trip.clone()))
            .collect();
        if !round_trips.is_empty() {
            out.labelled_histograms(
                "etcd_network_peer_round_trip_time_seconds",
                "Round-Trip-Time histogram between peers",
                round_trips,
            );
        }
        write_snapshot_transfers(out, &peers);
        if peers.iter().any(|(_, c)| c.disconnects > 0) {
            out.labelled(
                "etcd_network_disconnected_peers_total",
                "The total number of disconnected peers.",
                Kind::Counter,
                pairs(|c| c.disconnects as f64),
            );
        }
    }

    fn write_health(&self, out: &mut Exposition) {
        let m = self.server;
        out.single(
            "etcd_server_health_success",
            "The total number of successful health checks",
            Kind::Counter,
            ServerMetrics::load(&m.health_successes),
        );
        out.single(
            "etcd_server_health_failures",
            "The total number of failed health checks",
            Kind::Counter,
            ServerMetrics::load(&m.health_failures),
        );
        let checks = m.health_checks.lock().clone();
        // Go's client leaves out a labelled family that has no sample yet, and writes labels
        // in name order.
        if checks.is_empty() {
            return;
        }
        out.labelled(
            "etcd_server_healthcheck",
            "The result of each kind of healthcheck.",
            Kind::Gauge,
            checks
                .iter()
                .map(|((kind, name), c)| (vec![("name", *name), ("type", *kind)], flag(c.last_ok)))
                .collect(),
        );
        let mut totals = Vec::new();
        for ((kind, name), c) in &checks {
            for (status, count) in [("success", c.successes), ("error", c.errors)] {
                if count > 0 {
                    totals.push((
                        vec![("name", *name), ("status", status), ("type", *kind)],
                        count as f64,
                    ));
                }
            }
        }
        out.labelled(
            "etcd_server_healthchecks_total",
            "The total number of each kind of healthcheck.",
            Kind::Counter,
            totals,
        );
    }

    fn write_server(&self, out: &mut Exposition) {
        let s = &self.status;
        let m = self.server;
        out.single(
            "etcd_server_has_leader",
            "Whether or not a leader exists. 1 is existence, 0 is not.",
            Kind::Gauge,
            flag(s.leader != 0),
        );
        out.single(
            "etcd_server_is_leader",
            "Whether or not this member is a leader. 1 if is, 0 otherwise.",
            Kind::Gauge,
            flag(s.role == Role::Leader),
        );
        out.single(
            "etcd_server_is_learner",
            "Whether or not this member is a learner. 1 if is, 0 otherwise.",
            Kind::Gauge,
            flag(s.is_learner),
        );
        out.single(
            "etcd_server_learner_promote_successes",
            "The total number of successful learner promotions while this member is leader.",
            Kind::Counter,
            ServerMetrics::load(&m.learner_promote_successes),
        );
        let failures = m.learner_promote_failures.lock().clone();
        // Go's client leaves out a labelled family that has no sample yet.
        if !failures.is_empty() {
            out.labelled(
                "etcd_server_learner_promote_failures",
                "The total number of failed learner promotions (likely learner not ready) while this member is leader.",
                Kind::Counter,
                failures
                    .iter()
                    .map(|(reason, count)| (vec![("Reason", reason.as_str())], *count as f64))
                    .collect(),
            );
        }
        self.write_health(out);
        out.single(
            "etcd_server_read_indexes_failed_total",
            "The total number of failed read indexes seen.",
            Kind::Counter,
            ServerMetrics::load(&m.read_indexes_failed),
        );
        out.single(
            "etcd_server_slow_read_indexes_total",
            "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
            Kind::Counter,
            ServerMetrics::load(&m.slow_read_indexes),
        );
        out.single(
            "etcd_server_heartbeat_send_failures_total",
            "The total number of leader heartbeat send failures (likely overloaded from slow disk).",
            Kind::Counter,
            self.raft.heartbeat_send_failures() as f64,
        );
        out.single(
            "etcd_debugging_auth_revision",
            "The current revision of auth store.",
            Kind::Gauge,
            self.auth_revision as f64,
        );
        m.store().write(out);
        out.single(
            "etcd_server_leader_changes_seen_total",
            "The number of leader changes seen.",
            Kind::Counter,
            self.raft.leader_changes() as f64,
        );
        out.single(
            "etcd_server_proposals_committed_total",
            "The total number of consensus proposals committed.",
            Kind::Gauge,
            s.commit as f64,
        );
        out.single(
            "etcd_server_proposals_applied_total",
            "The total number of consensus proposals applied.",
            Kind::Gauge,
            s.applied as f64,
        );
        out.single(
            "etcd_server_proposals_pending",
            "The current number of pending proposals to commit.",
            Kind::Gauge,
            m.proposals_pending
                .load(std::sync::atomic::Ordering::Relaxed)
                .max(0) as f64,
        );
        out.single(
            "etcd_server_proposals_failed_total",
            "The total number of failed proposals seen.",
            Kind::Counter,
            ServerMetrics::load(&m.proposals_failed),
        );
        out.single(
            "etcd_server_slow_apply_total",
            "The total number of slow apply requests (likely overloaded from slow disk).",
            Kind::Counter,
            ServerMetrics::load(&m.slow_applies),
        );
        let id = format!("{:x}", self.member_id);
        out.labelled(
            "etcd_server_id",
            "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
            Kind::Gauge,
            vec![(vec![("server_id", id.as_str())], 1.0)],
        );
        out.labelled(
            "etcd_server_version",
            "Which version is running. 1 for 'server_version' label with current version.",
            Kind::Gauge,
            vec![(vec![("server_version", SERVER_VERSION)], 1.0)],
        );
        out.single(
            "etcd_server_quota_backend_bytes",
            "Current backend storage quota size in bytes.",
            Kind::Gauge,
            self.quota_backend_bytes as f64,
        );
        out.labelled(
            "etcd_cluster_version",
            "Which version is running. 1 for 'cluster_version' label with current cluster version",
            Kind::Gauge,
            vec![(vec![("cluster_version", major_minor(CLUSTER_VERSION))], 1.0)],
        );
    }

    fn write_mvcc(&self, out: &mut Exposition) {
        let m = self.server;
        out.single(
            "etcd_mvcc_db_total_size_in_bytes",
            "Total size of the underlying database physically allocated in bytes.",
            Kind::Gauge,
            self.db_size as f64,
        );
        out.single(
            "etcd_mvcc_db_total_size_in_use_in_bytes",
            "Total size of the underlying database logically in use in bytes.",
            Kind::Gauge,
            self.db_size_in_use as f64,
        );
        out.single(
            "etcd_mvcc_db_open_read_transactions",
            "The number of currently open read transactions",
            Kind::Gauge,
            self.open_read_transactions as f64,
        );
        out.single(
            "etcd_debugging_mvcc_keys_total",
            "Total number of keys.",
            Kind::Gauge,
            self.keys as f64,
        );
        out.single(
            "etcd_debugging_mvcc_current_revision",
            "The current revision of store.",
            Kind::Gauge,
            self.current_revision as f64,
        );
        out.single(
            "etcd_debugging_mvcc_compact_revision",
            "The revision of the last compaction in store.",
            Kind::Gauge,
            self.compact_revision as f64,
        );
        let served_ranges = m.grpc().ok_count(RANGE_PATH);
        let ranges = ServerMetrics::load(&m.ranges) + served_ranges as f64;
        out.single(
            "etcd_mvcc_range_total",
            "Total number of ranges seen by this member.",
            Kind::Counter,
            ranges,
        );
        // etcd 3.5 still counts them under the old name too.
        out.single(
            "etcd_debugging_mvcc_range_total",
            "Total number of ranges seen by this member.",
            Kind::Counter,
            ranges,
        );
        out.single(
            "etcd_mvcc_put_total",
            "Total number of puts seen by this member.",
            Kind::Counter,
            ServerMetrics::load(&m.puts),
        );
        out.single(
            "etcd_mvcc_delete_total",
            "Total number of deletes seen by this member.",
            Kind::Counter,
            ServerMetrics::load(&m.deletes),
        );
        out.single(
            "etcd_mvcc_txn_total",
            "Total number of txns seen by this member.",
            Kind::Counter,
            ServerMetrics::load(&m.txns),
        );
    }

    fn write_disk(&self, out: &mut Exposition) {
        out.histogram(
            "etcd_disk_wal_fsync_duration_seconds",
            "The latency distributions of fsync called by WAL.",
            &self.raft.wal_fsync().snapshot(),
        );
        out.single(
            "etcd_disk_wal_write_bytes_total",
            "Total number of bytes written in WAL.",
            Kind::Gauge,
            self.raft.wal_write_bytes() as f64,
        );
        out.histogram(
            "etcd_disk_backend_commit_duration_seconds",
            "The latency distributions of commit called by backend.",
            &self.server.backend_commit().snapshot(),
        );
        out.histogram(
            "etcd_snap_fsync_duration_seconds",
            "The latency distributions of fsync called by snap.",
            &self.raft.snap_fsync().snapshot(),
        );
        out.histogram(
            "etcd_debugging_snap_save_total_duration_seconds",
            "The total latency distributions of save called by snapshot.",
            &self.raft.snap_save().snapshot(),
        );
        out.histogram(
            "etcd_snap_db_fsync_duration_seconds",
            "The latency distributions of fsyncing .snap.db file",
            &self.raft.snap_db_fsync().snapshot(),
        );
        out.histogram(
            "etcd_snap_db_save_total_duration_seconds",
            "The total latency distributions of v3 snapshot save",
            &self.raft.snap_db_save().snapshot(),
        );
    }

    fn write_grpc(&self, out: &mut Exposition) {
        let methods = self.server.grpc().snapshot();
        let mut started = Vec::with_capacity(methods.len());
        let mut handled = Vec::with_capacity(methods.len() * 17);
        for m in &methods {
            let labels = vec![
                ("grpc_method", m.method),
                ("grpc_service", m.service),
                ("grpc_type", m.grpc_type),
            ];
            started.push((labels, m.started as f64));
            for (code, count) in &m.handled {
                let labels = vec![
                    ("grpc_code", *code),
                    ("grpc_method", m.method),
                    ("grpc_service", m.service),
                    ("grpc_type", m.grpc_type),
                ];
                handled.push((labels, *count as f64));
            }
        }
        let labels = |m: &super::grpc::MethodCounts| {
            vec![
                ("grpc_method", m.method),
                ("grpc_service", m.service),
                ("grpc_type", m.grpc_type),
            ]
        };
        out.labelled(
            "grpc_server_msg_received_total",
            "Total number of RPC stream messages received on the server.",
            Kind::Counter,
            methods
                .iter()
                .map(|m| (labels(m), m.messages_received as f64))
                .collect(),
        );
        out.labelled(
            "grpc_server_msg_sent_total",
            "Total number of gRPC stream messages sent by the server.",
            Kind::Counter,
            methods
                .iter()
                .map(|m| (labels(m), m.messages_sent as f64))
                .collect(),
        );
        let grpc = self.server.grpc();
        if grpc.is_extensive() {
            out.labelled_histograms(
                "grpc_server_handling_seconds",
                "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
                methods
                    .iter()
                    .map(|m| (labels(m), m.handling.clone()))
                    .collect(),
            );
        }
        out.single(
            "etcd_network_client_grpc_received_bytes_total",
            "The total number of bytes received from grpc clients.",
            Kind::Counter,
            grpc.received_bytes() as f64,
        );
        out.single(
            "etcd_network_client_grpc_sent_bytes_total",
            "The total number of bytes sent to grpc clients.",
            Kind::Counter,
            grpc.sent_bytes() as f64,
        );
        let requests = grpc.client_requests();
        // Go's client leaves out a labelled family that has no sample yet.
        if !requests.is_empty() {
            out.labelled(
                "etcd_server_client_requests_total",
                "The total number of client requests per client version.",
                Kind::Counter,
                requests
                    .iter()
                    .map(|r| {
                        (
                            vec![
                                ("client_api_version", r.client_api_version.as_str()),
                                ("type", r.kind),
                            ],
                            r.count as f64,
                        )
                    })
                    .collect(),
            );
        }
        out.labelled(
            "grpc_server_started_total",
            "Total number of RPCs started on the server.",
            Kind::Counter,
            started,
        );
        out.labelled(
            "grpc_server_handled_total",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            Kind::Counter,
            handled,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::OpCounts;

    fn line_value(text: &str, prefix: &str) -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix).and_then(|r| r.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no sample {prefix} in:\n{text}"))
            .to_string()
    }

    #[test]
    fn renders_etcd_names_types_and_values() {
        let raft = RaftMetrics::default();
        raft.wal_fsync().observe(Duration::from_millis(3));
        let server = ServerMetrics::default();
        server.record_ops(OpCounts {
            puts: 1,
            ..Default::default()
        });
        server.record_ops(OpCounts {
            ranges: 2,
            puts: 1,
            deletes: 1,
        });
        server.record_proposal_failed();
        let _pending = server.pending_proposal();
        let snapshot = Snapshot {
            status: RaftStatus {
                id: 0x886b03c4ae679a15,
                leader: 0x886b03c4ae679a15,
                term: 2,
                commit: 6,
                last_index: 6,
                applied: 5,
                is_learner: false,
                role: Role::Leader,
            },
            member_id: 0x886b03c4ae679a15,
            raft: &raft,
            server: &server,
            db_size: 20480,
            db_size_in_use: 16384,
            quota_backend_bytes: 2147483648,
            keys: 2,
            current_revision: 3,
            compact_revision: -1,
            auth_revision: 1,
            open_read_transactions: 1,
        };
        let mut out = Exposition::default();
        snapshot.write(&mut out);
        let text = out.render();

        assert!(text.contains(
            "# HELP etcd_server_has_leader Whether or not a leader exists. 1 is existence, 0 is not.\n\
             # TYPE etcd_server_has_leader gauge\n\
             etcd_server_has_leader 1\n"
        ));
        assert!(text.contains(
            "# TYPE etcd_server_proposals_committed_total gauge\netcd_server_proposals_committed_total 6\n"
        ));
        for (sample, value) in [
            ("etcd_server_is_leader", "1"),
            ("etcd_server_is_learner", "0"),
            ("etcd_server_proposals_applied_total", "5"),
            ("etcd_server_proposals_pending", "1"),
            ("etcd_server_proposals_failed_total", "1"),
            ("etcd_server_id{server_id=\"886b03c4ae679a15\"}", "1"),
            ("etcd_server_version{server_version=\"3.5.1\"}", "1"),
            ("etcd_cluster_version{cluster_version=\"3.5\"}", "1"),
            ("etcd_mvcc_db_total_size_in_bytes", "20480"),
            ("etcd_mvcc_db_total_size_in_use_in_bytes", "16384"),
            ("etcd_debugging_mvcc_keys_total", "2"),
            ("etcd_debugging_mvcc_current_revision", "3"),
            ("etcd_debugging_mvcc_compact_revision", "-1"),
            ("etcd_mvcc_put_total", "2"),
            ("etcd_mvcc_range_total", "2"),
            ("etcd_mvcc_delete_total", "1"),
            ("etcd_mvcc_txn_total", "1"),
            (
                "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.002\"}",
                "0",
            ),
            (
                "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.004\"}",
                "1",
            ),
            (
                "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"}",
                "1",
            ),
            ("etcd_disk_wal_fsync_duration_seconds_count", "1"),
            ("etcd_disk_backend_commit_duration_seconds_count", "0"),
            ("etcd_disk_wal_write_bytes_total", "0"),
            (
                "grpc_server_started_total{grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}",
                "0",
            ),
            (
                "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Watch\",grpc_service=\"etcdserverpb.Watch\",grpc_type=\"bidi_stream\"}",
                "0",
            ),
        ] {
            assert_eq!(line_value(&text, sample), value, "{sample}");
        }
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("grpc_server_handled_total{"))
                .count(),
            43 * 17,
            "etcd lists every method with every code"
        );
        let first_handled = text
            .lines()
            .find(|l| l.starts_with("grpc_server_handled_total{"))
            .expect("handled samples");
        assert_eq!(
            first_handled,
            "grpc_server_handled_total{grpc_code=\"Aborted\",grpc_method=\"Alarm\",grpc_service=\"etcdserverpb.Maintenance\",grpc_type=\"unary\"} 0"
        );
    }

    #[test]
    fn cluster_version_label_is_major_minor() {
        assert_eq!(major_minor("3.5.0"), "3.5");
        assert_eq!(major_minor("3.5"), "3.5");
    }
}
