//! The settings a [`crate::RaftNode`] is started with.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A bound peer listener and, for an `https://` peer URL, the TLS it serves.
#[derive(Debug)]
pub struct PeerListener {
    /// The socket.
    pub socket: TcpListener,
    /// The TLS configuration (`--peer-cert-file` and the rest); `None` serves plaintext.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Whether a peer's certificate must name the address it connects from (etcd's check,
    /// off with `--experimental-peer-skip-client-san-verification`).
    pub check_san: bool,
}

impl From<TcpListener> for PeerListener {
    /// A plaintext (`http://`) peer listener.
    fn from(socket: TcpListener) -> PeerListener {
        PeerListener {
            socket,
            tls: None,
            check_san: true,
        }
    }
}

/// Configuration of one raft member, derived from etcd's flags by the server.
#[derive(Debug)]
pub struct RaftConfig {
    /// This member's ID.
    pub id: u64,
    /// The cluster's ID; checked on every peer message, a mismatch is rejected.
    pub cluster_id: u64,
    /// Used only when `wal_dir` holds no WAL yet: the voters of a brand-new cluster, or, for
    /// a member joining an existing cluster, that cluster's current voters (the log it
    /// receives from the leader only carries later membership changes).
    pub initial_voters: Vec<u64>,
    /// Directory of the write-ahead log, e.g. `<data-dir>/member/wal`.
    pub wal_dir: PathBuf,
    /// Directory of snapshots, e.g. `<data-dir>/member/snap`.
    pub snap_dir: PathBuf,
    /// Length of one raft tick (`--heartbeat-interval`, default 100ms).
    pub tick_interval: Duration,
    /// Election timeout in ticks (`--election-timeout / --heartbeat-interval`, default 10).
    pub election_ticks: usize,
    /// Applied entries between two snapshots (`--snapshot-count`, default 100000).
    pub snapshot_count: u64,
    /// Entries kept after compaction so slow followers catch up without a snapshot (5000).
    pub snapshot_catchup_entries: u64,
    /// Largest append message in bytes (1 MiB).
    pub max_size_per_msg: u64,
    /// Most append messages in flight to one follower (512).
    pub max_inflight_msgs: usize,
    /// Whether a member runs raft's pre-vote phase before campaigning (`--pre-vote`, default
    /// true), so a member that was cut off cannot bump the term and depose a healthy leader.
    pub pre_vote: bool,
    /// Snapshot metadata files kept when older ones are purged (`--max-snapshots`, default 5);
    /// 0 keeps them all.
    pub max_snapshots: usize,
    /// Most WAL segment files kept (`--max-wals`, default 5, as etcd counts them): beyond it
    /// the oldest ones a snapshot covers are removed, never one still needed; 0 keeps all.
    pub max_wals: usize,
    /// Skip every fsync of the WAL (`--unsafe-no-fsync`, default false): faster, but a crash
    /// of the machine can lose acknowledged writes. Meant only for tests and benchmarks.
    pub unsafe_no_fsync: bool,
    /// Bytes of committed entries waiting to be applied before raft is held back: no more
    /// entries are persisted or acknowledged until the apply loop catches up.
    pub max_apply_backlog_bytes: u64,
    /// Listeners for the peer transport, already bound by the server.
    pub peer_listeners: Vec<PeerListener>,
    /// `--force-new-cluster`: on restart, continue as the only member of the cluster (the
    /// others are removed through committed conf changes). No effect on a new log.
    pub force_new_cluster: bool,
}

impl RaftConfig {
    /// Default of [`RaftConfig::max_apply_backlog_bytes`].
    pub const DEFAULT_MAX_APPLY_BACKLOG_BYTES: u64 = 64 * 1024 * 1024;

    /// A configuration with etcd's defaults for everything but identity and paths.
    pub fn new(id: u64, cluster_id: u64, wal_dir: PathBuf, snap_dir: PathBuf) -> Self {
        RaftConfig {
            id,
            cluster_id,
            initial_voters: Vec::new(),
            wal_dir,
            snap_dir,
            tick_interval: Duration::from_millis(100),
            election_ticks: 10,
            snapshot_count: 100_000,
            snapshot_catchup_entries: 5_000,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 512,
            pre_vote: true,
            max_snapshots: 5,
            max_wals: crate::wal::DEFAULT_MAX_WALS,
            unsafe_no_fsync: false,
            max_apply_backlog_bytes: Self::DEFAULT_MAX_APPLY_BACKLOG_BYTES,
            peer_listeners: Vec::new(),
            force_new_cluster: false,
        }
    }

    /// The election timeout as a duration.
    pub(crate) fn election_timeout(&self) -> Duration {
        self.tick_interval
            .saturating_mul(self.election_ticks.max(1) as u32)
    }
}
