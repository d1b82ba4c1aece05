//! The ready loop: the one place that drives raft-rs, one task on the member's runtime. It
//! receives requests, peer messages and control events, and processes each raft `Ready` in the
//! persistence order raft requires (using raft-rs's asynchronous-persistence API):
//!
//! 1. install an incoming snapshot (metadata file saved, in-memory log replaced);
//! 2. send `messages()` right away (a leader replicates before its own fsync);
//! 3. queue committed entries for the apply loop (raft only hands out durable ones);
//! 4. hand entries, hard state and `persisted_messages()` to the WAL writer thread, which
//!    writes every Ready that queued up meanwhile with one `fdatasync` (group commit) — or,
//!    when nothing else is waiting, write them right here;
//! 5. when the Ready is durable, send its held-back messages (votes, append
//!    acknowledgements) and tell raft (`on_persist_ready`), which may commit more.
//!
//! The apply loop's progress comes back on the control channel: its applied index, and each
//! committed conf change as it reaches one, in that order, so raft's membership (and every
//! snapshot's record of it) changes exactly where the log does. A conf change raft cannot
//! apply ends the loop like a failed write.
//!
//! Nothing here waits on a peer or the apply loop, and on the disk (telling the runtime) only
//! for an inline write when nothing else is waiting or a snapshot's metadata file: peers have
//! bounded queues, and unwritten Readies and undelivered committed work are counted, holding
//! back new client requests once too many pile up (backpressure).

use std::collections::VecDeque;
use std::sync::Arc;

use protobuf::Message as _;
use raft::prelude::{
    ConfChange, ConfChangeV2, ConfState, Entry, Message, MessageType, Snapshot, SnapshotMetadata,
};
use raft::{RawNode, SnapshotStatus, StateRole, Storage};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::event::{Control, Inbox, Refusal, Request};
use super::read_index::ReadIndexBatcher;
use super::storage::NodeStorage;
use super::wal_writer::{Persisted, WalWriter, WriteTask};
use crate::apply::{Apply, CommittedEntry, EntryKind};
use crate::error::RaftError;
use crate::fsutil::waiting_on_disk;
use crate::metrics::RaftMetrics;
use crate::snap::SnapStore;
use crate::state_machine::StateMachine;
use crate::status::{ConfStateSummary, PeerProgress, RaftStatus, Replication, Role};
use crate::transport::Transport;
use crate::wal::SnapshotMarker;

/// Apply batches held locally before client requests are no longer taken in.
const MAX_APPLY_BACKLOG: usize = 64;
/// Writes handed to the WAL writer and not yet durable before client requests are no longer
/// taken in.
const MAX_INFLIGHT_WRITES: usize = 256;
/// Most requests or message batches taken from a channel per iteration.
const MAX_DRAIN: usize = 4096;
/// Most Readies handled per iteration before the channels are looked at again.
const MAX_READIES_PER_ITERATION: usize = 4;

/// Everything the loop owns.
pub(super) struct ReadyLoop {
    pub id: u64,
    pub raw: RawNode<NodeStorage>,
    pub storage: NodeStorage,
    pub writer: WalWriter,
    pub persisted: mpsc::UnboundedReceiver<Result<Persisted, RaftError>>,
    pub inflight_writes: usize,
    /// Committed batches handed towards the apply loop and not reported applied yet: (last
    /// index, data bytes), oldest first, and their total.
    pub unapplied: VecDeque<(u64, u64)>,
    pub unapplied_bytes: u64,
    /// Bound on `unapplied_bytes` before raft is held back (backpressure).
    pub max_apply_backlog_bytes: u64,
    /// (Ready number, index) of an installed snapshot raft must count as applied once that
    /// Ready is durable.
    pub snapshot_to_apply: Option<(u64, u64)>,
    pub snaps: SnapStore,
    pub sm: Arc<dyn StateMachine>,
    pub transport: Transport,
    pub server_tasks: Vec<JoinHandle<()>>,
    pub requests: mpsc::Receiver<Request>,
    pub control: mpsc::UnboundedReceiver<Control>,
    pub inbox: mpsc::Receiver<Inbox>,
    pub apply_tx: mpsc::Sender<Apply>,
    pub apply_queue: VecDeque<Apply>,
    pub reads: ReadIndexBatcher,
    pub status: watch::Sender<RaftStatus>,
    /// Set once, to the error that ended the loop (see [`super::RaftHandle::failed`]).
    pub failure: watch::Sender<Option<Arc<RaftError>>>,
    /// The membership raft works with, for [`super::RaftHandle::conf_state`].
    pub conf: watch::Sender<ConfStateSummary>,
    /// The highest index the apply loop reported applied, taken in the order it made
    /// progress (see [`Control`]).
    pub applied: u64,
    pub snapshot_index: u64,
    pub snapshot_count: u64,
    pub catchup_entries: u64,
    /// Set when a snapshot marker became durable: purge snapshot files older than it.
    pub purge_snapshots_to: Option<u64>,
    /// Snapshot files kept by each purge (`RaftConfig::max_snapshots`; 0 keeps all).
    pub max_snapshots: usize,
    pub tick_interval: std::time::Duration,
    pub is_learner: bool,
    pub metrics: Arc<RaftMetrics>,
}

/// A proposal's bytes and what to call if raft refuses it.
type Proposal = (Vec<u8>, Refusal);

/// What woke the loop up.
enum Woke {
    Control(Control),
    Persisted(Result<Persisted, RaftError>),
    Tick,
    Inbox(Inbox),
    Request(Request),
    ApplyRoom,
    /// Raft still has a Ready from the last iteration.
    ReadyPending,
}

/// Why the loop ended.
enum Exit {
    Stopped(oneshot::Sender<()>),
    Failed(RaftError),
}

impl ReadyLoop {
    /// Runs until stopped (or a persistence failure), then shuts the transport down and
    /// answers the stop request once the WAL is closed.
    pub(super) async fn run(mut self) {
        let exit = self.serve().await;
        let stop_reply = match exit {
            Exit::Stopped(reply) => Some(reply),
            Exit::Failed(e) => {
                // Published before the orderly teardown below, which may itself wait on a
                // broken disk: the server stops the process on it.
                tracing::error!(member_id = %format!("{:x}", self.id), error = %e, "raft node failed");
                self.failure.send_replace(Some(Arc::new(e)));
                None
            }
        };
        self.reads.fail_all(|| RaftError::Stopped);
        self.requests.close();
        while let Ok(req) = self.requests.try_recv() {
            match req {
                Request::Propose { refused, .. } => refused(RaftError::Stopped),
                Request::ProposeConfChange { reply, .. } => {
                    drop(reply.send(Err(RaftError::Stopped)))
                }
                Request::ReadIndex { reply } => drop(reply.send(Err(RaftError::Stopped))),
            }
        }
        self.writer.close();
        self.transport.shutdown();
        for task in &self.server_tasks {
            task.abort();
        }
        let server_tasks = std::mem::take(&mut self.server_tasks);
        let id = self.id;
        drop(self);
        for task in server_tasks {
            let _ = task.await;
        }
        if let Some(reply) = stop_reply {
            tracing::info!(member_id = %format!("{id:x}"), "raft node stopped");
            let _ = reply.send(());
        }
    }

    async fn serve(&mut self) -> Exit {
        let mut ticker = tokio::time::interval(self.tick_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.forget_applied();
            // Past the bound, no new Ready is taken: nothing more is persisted or acknowledged
            // (the leader's flow control then holds back what it sends here), as etcd's raft
            // loop blocks on a busy apply. Ticks, peer messages and durable writes go on.
            let apply_backlogged = self.apply_backlogged();
            let accepting = self.apply_queue.len() < MAX_APPLY_BACKLOG
                && self.inflight_writes < MAX_INFLIGHT_WRITES
                && !apply_backlogged;
            let mut proposals: Vec<Proposal> = Vec::new();
            let woke = tokio::select! {
                biased;
                Some(ctl) = self.control.recv() => Woke::Control(ctl),
                Some(done) = self.persisted.recv() => Woke::Persisted(done),
                _ = ticker.tick() => Woke::Tick,
                Some(msgs) = self.inbox.recv() => Woke::Inbox(msgs),
                Some(req) = self.requests.recv(), if accepting => Woke::Request(req),
                Ok(permit) = self.apply_tx.reserve(), if self.next_apply_ready() => {
                    if let Some(apply) = take_apply(&mut self.apply_queue, self.snapshot_to_apply) {
                        permit.send(apply);
                    }
                    Woke::ApplyRoom
                }
                () = std::future::ready(()), if !apply_backlogged && self.raw.has_ready() => Woke::ReadyPending,
            };
            match woke {
                Woke::Control(ctl) => {
                    if let Some(exit) = self.on_control(ctl) {
                        return exit;
                    }
                }
                Woke::Persisted(Ok(done)) => self.on_persisted(done),
                Woke::Persisted(Err(e)) => return Exit::Failed(e),
                Woke::Tick => self.on_tick(),
                Woke::Inbox(msgs) => self.step_all(msgs),
                Woke::Request(req) => self.on_request(req, &mut proposals),
                Woke::ApplyRoom | Woke::ReadyPending => {}
            }
            while let Ok(ctl) = self.control.try_recv() {
                if let Some(exit) = self.on_control(ctl) {
                    return exit;
                }
            }
            while let Ok(done) = self.persisted.try_recv() {
                match done {
                    Ok(done) => self.on_persisted(done),
                    Err(e) => return Exit::Failed(e),
                }
            }
            for _ in 0..MAX_DRAIN {
                let Ok(msgs) = self.inbox.try_recv() else {
                    break;
                };
                self.step_all(msgs);
            }
            if accepting {
                for _ in 0..MAX_DRAIN {
                    let Ok(req) = self.requests.try_recv() else {
                        break;
                    };
                    self.on_request(req, &mut proposals);
                }
            }
            self.propose_all(proposals);
            self.start_read_round();
            // A Ready can lead to another: completing a read round may start the next one, and
            // an inline write may commit entries.
            for _ in 0..MAX_READIES_PER_ITERATION {
                if self.apply_backlogged() {
                    break;
                }
                if let Err(e) = self.handle_ready() {
                    return Exit::Failed(e);
                }
                self.start_read_round();
                if !self.raw.has_ready() {
                    break;
                }
            }
            if let Err(e) = self.maybe_snapshot() {
                return Exit::Failed(e);
            }
            if let Some(marker) = self.purge_snapshots_to.take() {
                let durable = self.sm.durable_applied_index();
                let purge = || self.snaps.purge(self.max_snapshots, marker, durable);
                if let Err(e) = waiting_on_disk(purge) {
                    return Exit::Failed(e);
                }
            }
            self.flush_applies();
            self.publish_status();
        }
    }

    fn on_control(&mut self, ctl: Control) -> Option<Exit> {
        match ctl {
            Control::ConfChange(entry) => {
                if let Err(e) = self.apply_conf_change(&entry) {
                    return Some(Exit::Failed(e));
                }
            }
            Control::Applied(index) => {
                if index > self.applied {
                    self.applied = index;
                    self.storage.conf_complete_through(index);
                }
            }
            Control::Replication(reply) => {
                let _ = reply.send(self.replication());
            }
            Control::TransferLeader { target } => self.raw.transfer_leader(target),
            Control::Unreachable(id) => self.raw.report_unreachable(id),
            Control::SnapshotStatus { to, ok } => {
                let status = if ok {
                    SnapshotStatus::Finish
                } else {
                    SnapshotStatus::Failure
                };
                self.raw.report_snapshot(to, status);
            }
            Control::Removed => return Some(Exit::Failed(RaftError::Removed)),
            Control::Stop(reply) => return Some(Exit::Stopped(reply)),
        }
        None
    }

    fn on_tick(&mut self) {
        self.raw.tick();
        if let Some(ctx) = self.reads.tick() {
            self.raw.read_index(ctx);
        }
    }

    fn step_all(&mut self, msgs: Vec<Message>) {
        for msg in msgs {
            if let Err(e) = self.raw.step(msg) {
                tracing::debug!(error = %e, "raft rejected a peer message");
            }
        }
    }

    fn on_request(&mut self, req: Request, proposals: &mut Vec<Proposal>) {
        match req {
            Request::Propose { data, refused } => proposals.push((data, refused)),
            Request::ProposeConfChange { cc, reply } => {
                let outcome = match self.raw.propose_conf_change(Vec::new(), cc) {
                    Ok(()) => Ok(()),
                    Err(raft::Error::ProposalDropped) if self.raw.raft.leader_id == 0 => {
                        Err(RaftError::NoLeader)
                    }
                    Err(raft::Error::ProposalDropped) => Err(RaftError::ProposalDropped),
                    Err(e) => Err(RaftError::raft(e)),
                };
                let _ = reply.send(outcome);
            }
            Request::ReadIndex { reply } => {
                if self.raw.raft.leader_id == 0 {
                    let _ = reply.send(Err(RaftError::NoLeader));
                } else {
                    self.reads.push(reply);
                }
            }
        }
    }

    /// Steps all drained proposals as one MsgPropose: one log append and one broadcast.
    fn propose_all(&mut self, proposals: Vec<Proposal>) {
        if proposals.is_empty() {
            return;
        }
        let mut refusals = Vec::with_capacity(proposals.len());
        let mut entries = Vec::with_capacity(proposals.len());
        for (data, refused) in proposals {
            entries.push(Entry {
                data: data.into(),
                ..Default::default()
            });
            refusals.push(refused);
        }
        let mut msg = Message::default();
        msg.set_msg_type(MessageType::MsgPropose);
        msg.from = self.id;
        msg.set_entries(entries.into());
        // Why raft refused them: no leader (`None`), or this reason.
        let rejected = match self.raw.step(msg) {
            Ok(()) => return,
            Err(raft::Error::ProposalDropped) => None,
            Err(e) => Some(RaftError::raft(e).to_string()),
        };
        for refused in refusals {
            refused(match &rejected {
                None => RaftError::NoLeader,
                Some(reason) => RaftError::ProposalRejected(reason.clone()),
            });
        }
    }

    /// Starts a ReadIndex round if callers wait and none is in flight.
    fn start_read_round(&mut self) -> bool {
        if self.raw.raft.leader_id == 0 {
            self.reads.fail_all(|| RaftError::NoLeader);
            return false;
        }
        match self.reads.start_round() {
            Some(ctx) => {
                self.raw.read_index(ctx);
                true
            }
            None => false,
        }
    }

    fn send(&mut self, msgs: Vec<Message>) {
        if msgs.is_empty() {
            return;
        }
        #[cfg(feature = "failpoints")]
        if self.raw.raft.state == StateRole::Leader {
            fail::fail_point!("raftBeforeLeaderSend");
        } else {
            fail::fail_point!("raftBeforeFollowerSend");
        }
        let mut unreachable = Vec::new();
        self.transport.send(msgs, |id| {
            if !unreachable.contains(&id) {
                unreachable.push(id);
            }
        });
        for id in unreachable {
            self.raw.report_unreachable(id);
        }
    }

    fn handle_ready(&mut self) -> Result<(), RaftError> {
        if !self.raw.has_ready() {
            return Ok(());
        }
        let mut rd = self.raw.ready();
        let mut leader_changed = false;
        if let Some(ss) = rd.ss() {
            leader_changed = ss.leader_id != self.status.borrow().leader;
            if leader_changed {
                self.log_leader_change(ss.leader_id, ss.raft_state);
                if ss.leader_id != 0 {
                    self.metrics.record_leader_change();
                }
            }
        }
        for rs in rd.take_read_states() {
            self.reads.on_read_state(&rs.request_ctx, rs.index);
        }
        let mut task = WriteTask {
            number: rd.number(),
            must_sync: rd.must_sync(),
            ..Default::default()
        };
        if !rd.snapshot().is_empty() {
            let marker = self.install_snapshot(rd.snapshot().clone())?;
            // Set before anything is flushed to the apply loop: the snapshot is held back
            // until this Ready (with its WAL marker) is durable.
            self.snapshot_to_apply = Some((task.number, marker.index));
            task.marker = Some(marker);
        }
        // A leader's appends go out before its own fsync (raft thesis 10.2.1).
        self.send(rd.take_messages());
        let committed = rd.take_committed_entries();
        let last_committed = committed.last().map(|e| e.index);
        self.queue_entries(committed);
        task.entries = rd.take_entries();
        if !task.entries.is_empty() {
            // raft reads new entries back from storage before they are durable.
            self.storage
                .mem()
                .wl()
                .append(&task.entries)
                .map_err(RaftError::raft)?;
        }
        if let Some(hs) = rd.hs() {
            self.storage.mem().wl().set_hardstate(hs.clone());
            task.hard_state = Some(hs.clone());
        }
        task.messages = rd.take_persisted_messages();
        // With nothing else waiting, writing here saves the two thread wake-ups of a hand-off;
        // otherwise the writer thread persists while this loop goes on stepping.
        let write_inline =
            self.inflight_writes == 0 && self.inbox.is_empty() && self.requests.is_empty();
        let written = if write_inline {
            // Entries committed already must not wait for this fsync.
            self.flush_applies();
            Some(self.writer.write_now(task)?)
        } else if self.writer.submit(task) {
            None
        } else {
            return Err(RaftError::Stopped);
        };
        self.inflight_writes += 1;
        self.raw.advance_append_async(rd);
        // Committed entries count as applied once queued for the apply loop.
        if let Some(index) = last_committed {
            debug_assert!(index <= self.raw.raft.raft_log.committed);
            self.raw.advance_apply_to(index);
        }
        if let Some(persisted) = written {
            self.on_persisted(persisted);
        }
        if leader_changed {
            if self.raw.raft.leader_id == 0 {
                self.reads.fail_all(|| RaftError::NoLeader);
            } else if let Some(ctx) = self.reads.resend() {
                self.raw.read_index(ctx);
            }
        }
        Ok(())
    }

    /// The WAL writer made some Readies durable: release the messages that waited for that
    /// and let raft count the entries as persisted (which may commit them).
    fn on_persisted(&mut self, persisted: Persisted) {
        self.inflight_writes = self.inflight_writes.saturating_sub(persisted.tasks);
        if let Some(index) = persisted.released {
            self.purge_snapshots_to = Some(index);
        }
        self.send(persisted.messages);
        if persisted.number > 0 {
            self.raw.on_persist_ready(persisted.number);
            if let Some((number, index)) = self.snapshot_to_apply
                && number <= persisted.number
            {
                self.snapshot_to_apply = None;
                self.raw.advance_apply_to(index);
            }
        }
    }

    fn log_leader_change(&self, leader: u64, role: StateRole) {
        let term = self.raw.raft.term;
        let id = format!("{:x}", self.id);
        if leader == 0 {
            tracing::info!(member_id = %id, term, "raft.node: {id} lost leader at term {term}");
        } else {
            tracing::info!(
                member_id = %id,
                term,
                role = ?role,
                "raft.node: {id} elected leader {leader:x} at term {term}"
            );
        }
    }

    /// Persists a snapshot received from the leader and queues the database for the apply
    /// loop ahead of any later entries; returns the marker the WAL must record.
    fn install_snapshot(&mut self, snap: Snapshot) -> Result<SnapshotMarker, RaftError> {
        let meta = snap.get_metadata().clone();
        let (index, term) = (meta.index, meta.term);
        let db_path = self.snaps.received_db_path(index);
        if !db_path.exists() {
            return Err(RaftError::corrupt(
                &db_path,
                0,
                "raft installed a snapshot whose database was never received",
            ));
        }
        fail::fail_point!("raftBeforeApplySnap");
        let saved = waiting_on_disk(|| self.snaps.save(&meta))?;
        self.metrics.record_snap_save(saved);
        self.storage.apply_snapshot(snap).map_err(RaftError::raft)?;
        fail::fail_point!("raftAfterApplySnap");
        self.snapshot_index = index;
        self.on_conf_state(meta.get_conf_state());
        self.conf
            .send_replace(ConfStateSummary::from_raft(meta.get_conf_state()));
        tracing::info!(index, term, db = %db_path.display(), "applying snapshot received from the leader");
        self.apply_queue.push_back(Apply::Snapshot {
            index,
            term,
            db_path,
        });
        Ok(SnapshotMarker { index, term })
    }

    fn queue_entries(&mut self, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        let bytes: u64 = entries.iter().map(|e| e.data.len() as u64).sum();
        let last = entries.last().map_or(0, |e| e.index);
        let log = &self.raw.raft.raft_log;
        debug_assert!(
            last <= log.committed && last <= log.persisted,
            "entry {last} handed to the apply loop before it is committed ({}) and durable ({})",
            log.committed,
            log.persisted
        );
        debug_assert!(
            entries.windows(2).all(|w| w[1].index == w[0].index + 1),
            "committed entries must be consecutive"
        );
        self.unapplied.push_back((last, bytes));
        self.unapplied_bytes += bytes;
        let batch = entries.into_iter().map(CommittedEntry::from_raft).collect();
        self.apply_queue.push_back(Apply::Entries(batch));
    }

    /// Whether more committed bytes wait to be applied than the bound allows.
    fn apply_backlogged(&self) -> bool {
        self.unapplied_bytes > self.max_apply_backlog_bytes
    }

    /// Stops counting the committed batches the apply loop reported applied.
    fn forget_applied(&mut self) {
        let applied = self.applied;
        while let Some(&(last, bytes)) = self.unapplied.front() {
            if last > applied {
                break;
            }
            self.unapplied.pop_front();
            self.unapplied_bytes -= bytes;
        }
    }

    /// Whether the head of the apply queue may go to the apply loop: anything but a received
    /// snapshot whose WAL marker is not durable yet (a crash before it would leave a backend
    /// ahead of a WAL that knows nothing of the snapshot).
    fn next_apply_ready(&self) -> bool {
        match self.apply_queue.front() {
            None => false,
            Some(Apply::Snapshot { .. }) => self.snapshot_to_apply.is_none(),
            Some(Apply::Entries(_)) => true,
        }
    }

    /// Hands queued work to the apply loop as far as its channel has room.
    fn flush_applies(&mut self) {
        if self.apply_tx.is_closed() {
            self.apply_queue.clear();
            return;
        }
        while self.next_apply_ready() {
            let Ok(permit) = self.apply_tx.try_reserve() else {
                break;
            };
            if let Some(apply) = take_apply(&mut self.apply_queue, self.snapshot_to_apply) {
                permit.send(apply);
            }
        }
    }

    /// Applies a committed conf change the apply loop handed over; a change raft cannot
    /// apply is an error that ends the loop.
    fn apply_conf_change(&mut self, entry: &CommittedEntry) -> Result<(), RaftError> {
        let (conf_index, _) = self.storage.latest_conf_state();
        if entry.index <= conf_index {
            // Queued for the apply loop before a snapshot from the leader replaced the log:
            // the snapshot's membership already includes it.
            tracing::debug!(
                index = entry.index,
                conf_index,
                "skipping a conf change a snapshot covers"
            );
            return Ok(());
        }
        let cs = match entry.kind {
            EntryKind::ConfChange => {
                let cc = ConfChange::parse_from_bytes(&entry.data).map_err(|e| {
                    RaftError::InvalidConfig(format!(
                        "malformed ConfChange at {}: {e}",
                        entry.index
                    ))
                })?;
                self.raw.apply_conf_change(&cc).map_err(RaftError::raft)?
            }
            EntryKind::ConfChangeV2 => {
                let cc = ConfChangeV2::parse_from_bytes(&entry.data).map_err(|e| {
                    RaftError::InvalidConfig(format!(
                        "malformed ConfChangeV2 at {}: {e}",
                        entry.index
                    ))
                })?;
                self.raw.apply_conf_change(&cc).map_err(RaftError::raft)?
            }
            EntryKind::Normal => {
                return Err(RaftError::InvalidConfig(format!(
                    "entry {} is not a conf change",
                    entry.index
                )));
            }
        };
        self.storage.record_conf_state(entry.index, cs.clone());
        if self.raw.raft.state == raft::StateRole::Leader && !cs.voters.contains(&self.id) {
            // A leader that removed itself (or became a learner) must not lead on: raft-rs
            // would trip over the progress it no longer tracks for itself. The others elect
            // a new leader, as they do when a removed leader stops.
            let term = self.raw.raft.term;
            self.raw.raft.become_follower(term, raft::INVALID_ID);
            tracing::info!(
                index = entry.index,
                "stepped down: this member no longer votes"
            );
        }
        self.on_conf_state(&cs);
        let summary = ConfStateSummary::from_raft(&cs);
        tracing::info!(index = entry.index, conf_state = ?summary, "applied raft configuration change");
        self.conf.send_replace(summary);
        Ok(())
    }

    /// The leader's progress for every member; `None` on a follower.
    fn replication(&self) -> Option<Replication> {
        if self.raw.raft.state != raft::StateRole::Leader {
            return None;
        }
        let mut peers: Vec<PeerProgress> = self
            .raw
            .raft
            .prs()
            .iter()
            .map(|(id, pr)| PeerProgress {
                id: *id,
                matched: pr.matched,
                recently_active: *id == self.id || pr.recent_active,
            })
            .collect();
        peers.sort_by_key(|p| p.id);
        Some(Replication { peers })
    }

    /// Follows a new membership: this member's role, and whom the transport talks to.
    fn on_conf_state(&mut self, cs: &ConfState) {
        self.is_learner = cs.learners.contains(&self.id);
        self.transport.retain_members(&members(cs));
    }

    /// Takes a snapshot once enough entries were applied since the last one, at the highest
    /// index the state machine has made durable; then compacts the in-memory log (keeping
    /// some entries for slow followers) and releases old WAL segments and snapshot files.
    fn maybe_snapshot(&mut self) -> Result<(), RaftError> {
        let applied = self.applied;
        if applied <= self.snapshot_index.saturating_add(self.snapshot_count) {
            return Ok(());
        }
        let durable = self.sm.durable_applied_index();
        let index = durable.min(applied).min(self.raw.raft.raft_log.committed);
        if index <= self.snapshot_index.saturating_add(self.snapshot_count) {
            return Ok(());
        }
        let term = self.storage.term(index).map_err(RaftError::raft)?;
        let mut meta = SnapshotMetadata {
            index,
            term,
            ..Default::default()
        };
        meta.set_conf_state(self.storage.conf_state_at(index));
        fail::fail_point!("raftBeforeSaveSnap");
        let saved = waiting_on_disk(|| self.snaps.save(&meta))?;
        self.metrics.record_snap_save(saved);
        fail::fail_point!("raftAfterSaveSnap");
        let task = WriteTask {
            marker: Some(SnapshotMarker { index, term }),
            must_sync: true,
            release_to: Some(index),
            ..Default::default()
        };
        if !self.writer.submit(task) {
            return Err(RaftError::Stopped);
        }
        self.inflight_writes += 1;
        let compact_to = index.saturating_sub(self.catchup_entries).max(1);
        self.storage
            .compact(compact_to, index)
            .map_err(RaftError::raft)?;
        tracing::info!(
            snapshot_index = index,
            snapshot_term = term,
            compact_index = compact_to,
            "saved snapshot and compacted raft log"
        );
        self.snapshot_index = index;
        Ok(())
    }

    fn publish_status(&mut self) {
        let raft = &self.raw.raft;
        let next = RaftStatus {
            id: self.id,
            leader: raft.leader_id,
            term: raft.term,
            commit: raft.raft_log.committed,
            last_index: raft.raft_log.last_index(),
            applied: self.applied,
            is_learner: self.is_learner,
            role: Role::from_raft(raft.state),
        };
        self.status.send_if_modified(|current| {
            if *current == next {
                false
            } else {
                *current = next;
                true
            }
        });
    }
}

/// Takes the head of the apply queue, which [`ReadyLoop::next_apply_ready`] allowed; a free
/// function so the loop can call it while it holds a permit of its apply channel.
fn take_apply(queue: &mut VecDeque<Apply>, snapshot_to_apply: Option<(u64, u64)>) -> Option<Apply> {
    let apply = queue.pop_front();
    debug_assert!(
        !matches!(apply, Some(Apply::Snapshot { .. })) || snapshot_to_apply.is_none(),
        "a received snapshot went to the apply loop before its WAL marker was durable"
    );
    apply
}

/// Every member of a configuration (voters in both halves of a joint config and learners).
pub(super) fn members(cs: &raft::prelude::ConfState) -> Vec<u64> {
    let mut all: Vec<u64> = cs
        .voters
        .iter()
        .chain(&cs.voters_outgoing)
        .chain(&cs.learners)
        .chain(&cs.learners_next)
        .copied()
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}
