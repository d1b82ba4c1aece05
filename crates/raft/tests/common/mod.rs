//! Test harness: an in-process cluster of RaftNodes on loopback listeners, each feeding an
//! in-memory state machine that records the entries it applied.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use oxcd_raft::{
    Apply, EntryKind, PeerUrls, RaftConfig, RaftError, RaftHandle, RaftNode, StateMachine,
};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Applied entries, in order: (index, data).
#[derive(Default)]
struct SmState {
    applied: u64,
    values: Vec<(u64, Vec<u8>)>,
}

/// A state machine that keeps everything in memory; it counts as durable immediately.
#[derive(Default)]
pub struct MemSm {
    state: Mutex<SmState>,
    snapshots: AtomicU64,
    stalled: AtomicBool,
}

impl MemSm {
    /// Makes the apply loop stop taking work (`true`) or go on (`false`), like a slow disk.
    pub fn stall(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }
    pub fn applied(&self) -> u64 {
        self.state.lock().applied
    }
    pub fn count(&self) -> usize {
        self.state.lock().values.len()
    }
    pub fn values(&self) -> Vec<Vec<u8>> {
        self.state
            .lock()
            .values
            .iter()
            .map(|(_, v)| v.clone())
            .collect()
    }
    pub fn entries(&self) -> Vec<(u64, Vec<u8>)> {
        self.state.lock().values.clone()
    }
    pub fn snapshots_installed(&self) -> u64 {
        self.snapshots.load(Ordering::SeqCst)
    }

    fn restore(&self, path: &Path) -> std::io::Result<()> {
        let bytes = std::fs::read(path)?;
        let mut pos = 0;
        let mut take = |n: usize| {
            let s = bytes
                .get(pos..pos + n)
                .ok_or(std::io::ErrorKind::UnexpectedEof);
            pos += n;
            s
        };
        let u64_at = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        let applied = u64_at(take(8)?);
        let count = u64_at(take(8)?);
        let mut values = Vec::new();
        for _ in 0..count {
            let index = u64_at(take(8)?);
            let len = u64_at(take(8)?) as usize;
            values.push((index, take(len)?.to_vec()));
        }
        *self.state.lock() = SmState { applied, values };
        self.snapshots.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl StateMachine for MemSm {
    fn durable_applied_index(&self) -> u64 {
        self.applied()
    }

    fn write_snapshot(&self, dest: &Path) -> std::io::Result<u64> {
        let state = self.state.lock();
        let mut out = Vec::new();
        out.extend_from_slice(&state.applied.to_le_bytes());
        out.extend_from_slice(&(state.values.len() as u64).to_le_bytes());
        for (index, v) in &state.values {
            out.extend_from_slice(&index.to_le_bytes());
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            out.extend_from_slice(v);
        }
        std::fs::write(dest, out)?;
        Ok(state.applied)
    }
}

async fn apply_loop(handle: RaftHandle, sm: Arc<MemSm>, mut rx: mpsc::Receiver<Apply>) {
    while let Some(apply) = rx.recv().await {
        while sm.stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        match apply {
            Apply::Entries(entries) => {
                for e in entries {
                    if e.index <= sm.applied() {
                        continue;
                    }
                    match e.kind {
                        EntryKind::Normal if !e.data.is_empty() => {
                            sm.state.lock().values.push((e.index, e.data.clone()));
                        }
                        EntryKind::Normal => {}
                        EntryKind::ConfChange | EntryKind::ConfChangeV2 => {
                            if handle.apply_conf_change(&e).is_err() {
                                return;
                            }
                        }
                    }
                    sm.state.lock().applied = e.index;
                }
            }
            Apply::Snapshot { index, db_path, .. } => {
                sm.restore(&db_path).expect("restore snapshot database");
                assert!(
                    sm.applied() >= index,
                    "snapshot database older than its raft index"
                );
            }
        }
        handle.report_applied(sm.applied());
    }
}

pub struct TestNode {
    pub id: u64,
    pub cluster_id: u64,
    pub addr: SocketAddr,
    pub sm: Arc<MemSm>,
    pub wal_dir: PathBuf,
    pub snap_dir: PathBuf,
    handle: Option<RaftHandle>,
    apply_task: Option<JoinHandle<()>>,
}

impl TestNode {
    /// Highest index among the snapshot metadata files on disk.
    pub fn wal_segments_snapshot_index(&self) -> u64 {
        std::fs::read_dir(&self.snap_dir)
            .map(|dir| {
                dir.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let name = e.file_name().into_string().ok()?;
                        let stem = name.strip_suffix(".snap")?;
                        u64::from_str_radix(stem.split_once('-')?.1, 16).ok()
                    })
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }
}

pub struct Cluster {
    nodes: HashMap<u64, TestNode>,
    peers: PeerUrls,
    voters: Vec<u64>,
    snapshot_count: u64,
    catchup: u64,
    /// Overrides [`RaftConfig::max_apply_backlog_bytes`].
    apply_backlog_bytes: Option<u64>,
    _dir: tempfile::TempDir,
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Proposes `data` and waits until the ready loop accepted it (`Ok`: it dropped the refusal)
/// or refused it (the refusal's error).
pub async fn propose(handle: &RaftHandle, data: Vec<u8>) -> Result<(), RaftError> {
    let (refused_tx, refused) = tokio::sync::oneshot::channel();
    handle
        .propose(
            data,
            Box::new(move |error| {
                let _ = refused_tx.send(error);
            }),
        )
        .await?;
    match refused.await {
        Ok(error) => Err(error),
        Err(_accepted) => Ok(()),
    }
}

pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !cond() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl Cluster {
    /// Adds a member that joins the running cluster; like etcd's `--initial-cluster-state
    /// existing`, it starts knowing the cluster's current voters (not itself).
    pub fn add_joining_member(&mut self, id: u64) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        self.peers.set(id, vec![format!("http://{addr}")]);
        let member_dir = self._dir.path().join(format!("m{id}"));
        let cluster_id = self.nodes.values().next().map_or(0x1234, |n| n.cluster_id);
        self.nodes.insert(
            id,
            TestNode {
                id,
                cluster_id,
                addr,
                sm: Arc::new(MemSm::default()),
                wal_dir: member_dir.join("wal"),
                snap_dir: member_dir.join("snap"),
                handle: None,
                apply_task: None,
            },
        );
        self.launch(id, listener);
    }

    pub async fn start(n: u64, snapshot_count: u64, catchup: u64) -> Cluster {
        let ids: Vec<(u64, u64)> = (1..=n).map(|id| (id, 0x1234)).collect();
        Cluster::start_with_cluster_ids(&ids, snapshot_count, catchup).await
    }

    pub async fn start_with_cluster_ids(
        members: &[(u64, u64)],
        snapshot_count: u64,
        catchup: u64,
    ) -> Cluster {
        Cluster::start_members(members, snapshot_count, catchup, None)
    }

    /// `n` members that hold raft back once `bytes` of committed entries await applying.
    pub async fn start_with_apply_backlog(n: u64, bytes: u64) -> Cluster {
        let ids: Vec<(u64, u64)> = (1..=n).map(|id| (id, 0x1234)).collect();
        Cluster::start_members(&ids, 1_000_000, 5_000, Some(bytes))
    }

    fn start_members(
        members: &[(u64, u64)],
        snapshot_count: u64,
        catchup: u64,
        apply_backlog_bytes: Option<u64>,
    ) -> Cluster {
        init_tracing();
        let dir = tempfile::tempdir().expect("tempdir");
        let peers = PeerUrls::new();
        let mut nodes = HashMap::new();
        let mut listeners = HashMap::new();
        for &(id, cluster_id) in members {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("addr");
            peers.set(id, vec![format!("http://{addr}")]);
            let member_dir = dir.path().join(format!("m{id}"));
            nodes.insert(
                id,
                TestNode {
                    id,
                    cluster_id,
                    addr,
                    sm: Arc::new(MemSm::default()),
                    wal_dir: member_dir.join("wal"),
                    snap_dir: member_dir.join("snap"),
                    handle: None,
                    apply_task: None,
                },
            );
            listeners.insert(id, listener);
        }
        let mut cluster = Cluster {
            nodes,
            peers,
            voters: members.iter().map(|m| m.0).collect(),
            snapshot_count,
            catchup,
            apply_backlog_bytes,
            _dir: dir,
        };
        for (id, listener) in listeners {
            cluster.launch(id, listener);
        }
        cluster
    }

    fn launch(&mut self, id: u64, listener: TcpListener) {
        let node = self.nodes.get_mut(&id).expect("node");
        let mut cfg = RaftConfig::new(
            id,
            node.cluster_id,
            node.wal_dir.clone(),
            node.snap_dir.clone(),
        );
        cfg.initial_voters = self.voters.clone();
        cfg.tick_interval = Duration::from_millis(20);
        cfg.election_ticks = 10;
        cfg.snapshot_count = self.snapshot_count;
        cfg.snapshot_catchup_entries = self.catchup;
        cfg.peer_listeners = vec![listener.into()];
        if let Some(bytes) = self.apply_backlog_bytes {
            cfg.max_apply_backlog_bytes = bytes;
        }
        let (handle, rx) =
            RaftNode::start(cfg, self.peers.clone(), node.sm.clone()).expect("start node");
        node.apply_task = Some(tokio::spawn(apply_loop(
            handle.clone(),
            node.sm.clone(),
            rx,
        )));
        node.handle = Some(handle);
    }

    pub fn node(&self, id: u64) -> &TestNode {
        &self.nodes[&id]
    }

    pub fn handle(&self, id: u64) -> RaftHandle {
        self.nodes[&id].handle.clone().expect("node is running")
    }

    pub async fn stop(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("node");
        if let Some(handle) = node.handle.take() {
            handle.stop().await;
        }
        if let Some(task) = node.apply_task.take() {
            task.await.expect("apply loop");
        }
    }

    pub async fn stop_all(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            self.stop(id).await;
        }
    }

    /// Restarts a stopped (or running) member from its WAL; `fresh_state` replaces its state
    /// machine with an empty one (as if its database were lost).
    pub async fn restart(&mut self, id: u64, fresh_state: bool) {
        self.stop(id).await;
        let addr = self.nodes[&id].addr;
        if fresh_state {
            self.nodes.get_mut(&id).expect("node").sm = Arc::new(MemSm::default());
        }
        let mut listener = None;
        for _ in 0..200 {
            match TcpListener::bind(addr) {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        self.launch(id, listener.expect("rebind peer address"));
    }

    pub async fn wait_for_leader(&self, ids: &[u64]) -> u64 {
        let mut leader = 0;
        wait_until("a leader", || {
            let seen: Vec<u64> = ids
                .iter()
                .map(|&id| self.handle(id).status().leader)
                .collect();
            leader = seen[0];
            leader != 0 && ids.contains(&leader) && seen.iter().all(|&l| l == leader)
        })
        .await;
        leader
    }

    pub async fn wait_applied_count(&self, ids: &[u64], n: usize) {
        wait_until(&format!("{n} applied entries on {ids:?}"), || {
            ids.iter().all(|&id| self.nodes[&id].sm.count() >= n)
        })
        .await;
    }

    pub fn assert_same_sequence(&self, ids: &[u64]) {
        let first = self.nodes[&ids[0]].sm.entries();
        for &id in &ids[1..] {
            let other = self.nodes[&id].sm.entries();
            assert_eq!(
                first.len(),
                other.len(),
                "member {id} applied a different count"
            );
            assert!(first == other, "member {id} applied a different sequence");
        }
    }
}
