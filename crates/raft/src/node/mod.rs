//! [`RaftNode`]: starts raft for one member — restores the log, and spawns the ready loop
//! (with its ticker) and the peer transport on the caller's tokio runtime.

mod bootstrap;
mod conf_history;
pub(crate) mod event;
mod handle;
mod read_index;
mod ready_loop;
mod standalone;
mod storage;
mod wal_writer;

use std::collections::VecDeque;
use std::sync::Arc;

use protobuf::Message as _;
use raft::prelude::{ConfChange, ConfChangeV2, EntryType};
use raft::{RawNode, ReadOnlyOption};
use tokio::sync::{mpsc, watch};

pub use bootstrap::has_durable_state;
pub use event::Refusal;
pub use handle::RaftHandle;

use crate::apply::Apply;
use crate::config::RaftConfig;
use crate::error::RaftError;
use crate::logger::raft_logger;
use crate::metrics::RaftMetrics;
use crate::peers::PeerUrls;
use crate::state_machine::StateMachine;
use crate::status::{ConfStateSummary, RaftStatus, Role};
use crate::transport::{self, PeerActivity, PeerContext, Transport};
use read_index::ReadIndexBatcher;
use ready_loop::ReadyLoop;

/// Client requests buffered before `propose`/`read_index` callers wait.
const REQUEST_QUEUE: usize = 8192;
/// Peer message batches buffered before the peer streams are slowed down.
const INBOX_QUEUE: usize = 1024;
/// Apply batches buffered in the channel to the apply loop.
const APPLY_QUEUE: usize = 256;

/// A raft member: the owner of raft-rs's `RawNode` and its ready loop.
#[derive(Debug)]
pub struct RaftNode;

impl RaftNode {
    /// Opens (or creates) the WAL and snapshots, restores the log, and starts the ready loop,
    /// the ticker and the peer transport (a server on `cfg.peer_listeners` and a client
    /// stream per peer). Must be called from within a tokio runtime, which runs the
    /// transport. Returns the handle and the stream of work for the apply loop.
    pub fn start(
        mut cfg: RaftConfig,
        peers: PeerUrls,
        sm: Arc<dyn StateMachine>,
    ) -> Result<(RaftHandle, mpsc::Receiver<Apply>), RaftError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            RaftError::InvalidConfig("RaftNode::start must run inside a tokio runtime".into())
        })?;
        if cfg.election_ticks < 2 {
            return Err(RaftError::InvalidConfig(format!(
                "election timeout must be at least 2 heartbeat intervals, got {}",
                cfg.election_ticks
            )));
        }
        let restored = bootstrap::restore(&cfg, &sm, runtime.clone())?;
        let raft_cfg = raw_config(&cfg, restored.applied);
        raft_cfg.validate().map_err(RaftError::raft)?;
        let logger = raft_logger();
        let mut raw =
            RawNode::new(&raft_cfg, restored.storage.clone(), &logger).map_err(RaftError::raft)?;
        for entry in &restored.conf_changes {
            let cs = match entry.get_entry_type() {
                EntryType::EntryConfChange => {
                    let cc = ConfChange::parse_from_bytes(&entry.data).map_err(|e| {
                        RaftError::InvalidConfig(format!("WAL ConfChange at {}: {e}", entry.index))
                    })?;
                    raw.apply_conf_change(&cc).map_err(RaftError::raft)?
                }
                _ => {
                    let cc = ConfChangeV2::parse_from_bytes(&entry.data).map_err(|e| {
                        RaftError::InvalidConfig(format!(
                            "WAL ConfChangeV2 at {}: {e}",
                            entry.index
                        ))
                    })?;
                    raw.apply_conf_change(&cc).map_err(RaftError::raft)?
                }
            };
            restored.storage.record_conf_state(entry.index, cs);
        }
        restored.storage.conf_complete_through(restored.applied);
        let (_, conf) = restored.storage.latest_conf_state();
        let is_learner = conf.learners.contains(&cfg.id);
        if restored.snapshot_index == 0
            && raw.raft.raft_log.last_index() == 0
            && ready_loop::members(&conf).is_empty()
        {
            // A member joining an existing cluster: the log's first entries assume the
            // initial membership, which only the members bootstrapped with it hold (in their
            // first snapshot's metadata), so it asks the leader for a snapshot instead of
            // replaying the log from its start.
            raw.raft.pending_request_snapshot = 1;
            tracing::info!(
                member_id = %format!("{:x}", cfg.id),
                "joining an existing cluster; waiting for a snapshot from the leader"
            );
        }

        let (req_tx, req_rx) = mpsc::channel(REQUEST_QUEUE);
        let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
        let (inbox_tx, inbox_rx) = mpsc::channel(INBOX_QUEUE);
        let (apply_tx, apply_rx) = mpsc::channel(APPLY_QUEUE);
        let initial = RaftStatus {
            id: cfg.id,
            leader: 0,
            term: raw.raft.term,
            commit: raw.raft.raft_log.committed,
            last_index: raw.raft.raft_log.last_index(),
            applied: restored.applied,
            is_learner,
            role: Role::Follower,
        };
        let (status_tx, status_rx) = watch::channel(initial);
        let (failure_tx, failure_rx) = watch::channel(None);
        let (conf_tx, conf_rx) = watch::channel(ConfStateSummary::from_raft(&conf));

        let metrics = Arc::new(RaftMetrics::default());
        let activity = PeerActivity::default();
        let ctx = Arc::new(PeerContext {
            id: cfg.id,
            cluster_id: cfg.cluster_id,
            peers,
            activity: activity.clone(),
            snaps: restored.snaps.clone(),
            feedback: ctl_tx.clone(),
            tls: cfg.peer_tls.take(),
            metrics: metrics.clone(),
        });
        let listeners = std::mem::take(&mut cfg.peer_listeners);
        let server_tasks = transport::serve(listeners, ctx.clone(), inbox_tx, &runtime)?;
        let mut transport = Transport::new(ctx, runtime.clone());
        transport.retain_members(&ready_loop::members(&conf));

        let (writer, persisted) =
            wal_writer::WalWriter::spawn(restored.wal, cfg.id, metrics.clone())?;
        let election_ticks = cfg.election_ticks;
        // A little more than the batcher's own timeout, so its Timeout answer normally wins.
        let read_timeout = cfg.election_timeout() + cfg.tick_interval * 2;
        let ready_loop = ReadyLoop {
            id: cfg.id,
            raw,
            storage: restored.storage,
            writer,
            persisted,
            inflight_writes: 0,
            unapplied: VecDeque::new(),
            unapplied_bytes: 0,
            purge_snapshots_to: None,
            max_apply_backlog_bytes: cfg.max_apply_backlog_bytes,
            snapshot_to_apply: None,
            snaps: restored.snaps,
            sm,
            transport,
            server_tasks,
            requests: req_rx,
            control: ctl_rx,
            inbox: inbox_rx,
            apply_tx,
            apply_queue: VecDeque::from_iter(restored.pending_snapshot),
            reads: ReadIndexBatcher::new(cfg.id, (election_ticks / 2).max(1), election_ticks),
            status: status_tx,
            failure: failure_tx,
            conf: conf_tx,
            applied: restored.applied,
            snapshot_index: restored.snapshot_index,
            snapshot_count: cfg.snapshot_count,
            catchup_entries: cfg.snapshot_catchup_entries,
            max_snapshots: cfg.max_snapshots,
            tick_interval: cfg.tick_interval,
            is_learner,
            metrics: metrics.clone(),
        };
        // A task, not a thread of its own: a peer message or a client request then reaches
        // the loop on the worker that received it, without waking another thread (one
        // linearizable read: 21.5 context switches across three members, now 14.5; put-1000:
        // member CPU per put 116 -> 94 us, medians of three; docs/benchmarks.md).
        runtime.spawn(ready_loop.run());

        let handle = RaftHandle::new(handle::Connections {
            requests: req_tx,
            control: ctl_tx,
            status: status_rx,
            conf: conf_rx,
            read_timeout,
            metrics,
            failure: failure_rx,
            activity,
        });
        Ok((handle, apply_rx))
    }
}

/// raft-rs's settings for this member; `applied` is the index the state machine restored.
fn raw_config(cfg: &RaftConfig, applied: u64) -> raft::Config {
    raft::Config {
        id: cfg.id,
        election_tick: cfg.election_ticks,
        heartbeat_tick: 1,
        applied,
        max_size_per_msg: cfg.max_size_per_msg,
        max_inflight_msgs: cfg.max_inflight_msgs,
        check_quorum: true,
        pre_vote: cfg.pre_vote,
        read_only_option: ReadOnlyOption::Safe,
        batch_append: true,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn pre_vote_follows_the_configuration() {
        let mut cfg = RaftConfig::new(1, 2, PathBuf::from("w"), PathBuf::from("s"));
        assert!(raw_config(&cfg, 0).pre_vote, "on by default, as in etcd");
        cfg.pre_vote = false;
        let raw = raw_config(&cfg, 7);
        assert!(!raw.pre_vote);
        assert_eq!(raw.applied, 7);
        assert!(raw.check_quorum);
    }
}
