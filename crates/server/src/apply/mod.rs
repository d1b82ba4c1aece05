//! The apply loop: takes committed raft entries in order and applies each batch in ONE backend
//! transaction (KV changes, leases, membership and the consistent index together), then hands
//! every outcome to the proposer waiting for it and publishes the new applied index.
//!
//! The loop knows the order of things, not the request kinds: each kind's apply step lives with
//! its domain (`kv.rs`, `lease.rs`, `membership.rs`, `alarm.rs`, `auth.rs`) behind the
//! [`step::Apply`] trait, and its outcome has the kind's own type. A request the cluster's
//! active alarms forbid (`alarms.rs`) is refused here, before its step, as etcd swaps in a
//! refusing applier while an alarm is raised; then one its caller may not make
//! (`authorization.rs`).
//!
//! It runs on a dedicated thread because every step is blocking storage work. Entries at or below
//! the backend's consistent index are skipped: after a crash the WAL is replayed from there, and a
//! snapshot database may already contain entries the log delivers again. The applied index only
//! grows, and an outcome reaches its proposer only after the batch holding it is committed.

mod alarm;
mod auth;
mod authorization;
mod kv;
mod lease;
mod membership;
mod step;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use tokio::sync::{mpsc, watch};

use oxcd_mvcc::ApplyBatch;
use oxcd_raft::{Apply as RaftApply, CommittedEntry, EntryKind, RaftHandle};

use crate::auth::Caller;
use crate::membership::Removal;
use crate::metrics::{SLOW_APPLY, ServerMetrics};
use crate::proposal::{InternalRequest, Request, Waiters};
use crate::state::ServerState;

pub(crate) use step::ApplyError;
use step::{Apply, ApplyContext};

/// Backend commits are made durable (fsync) at least this often, bounding how much of the WAL a
/// restart replays and letting raft compact its log.
const DURABLE_EVERY_ENTRIES: u64 = 10_000;
const DURABLE_EVERY: Duration = Duration::from_secs(5);

/// An outcome ready for its proposer, sent once the batch that produced it is committed.
type Handover = Box<dyn FnOnce()>;

/// One request's place in the batch: its proposal id, the alarm refusing it if any, and where
/// its outcome waits for the commit.
/// A normal entry's envelope, as dispatch needs it.
struct Entry<'a> {
    id: u64,
    index: u64,
    caller: Option<&'a Caller>,
}

struct Step<'a> {
    id: u64,
    index: u64,
    /// The request's kind, for the apply latency metric.
    kind: &'static str,
    refused: Option<oxcd_api::EtcdError>,
    handovers: &'a mut Vec<Handover>,
}

/// Why the apply loop ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Raft closed the channel (the member is stopping).
    RaftStopped,
    /// A conf change removed this member from the cluster, durably: it must stop.
    Removed,
}

/// Drives the state machine from raft's committed entries.
pub(crate) struct ApplyLoop {
    state: Arc<ServerState>,
    waiters: Arc<Waiters>,
    raft: RaftHandle,
    applied_tx: watch::Sender<u64>,
    metrics: Arc<ServerMetrics>,
    applied_index: u64,
    durable_index: u64,
    last_durable_at: Instant,
}

impl ApplyLoop {
    /// Creates the loop; `applied_tx` is where readers learn the applied index.
    pub(crate) fn new(
        state: Arc<ServerState>,
        waiters: Arc<Waiters>,
        raft: RaftHandle,
        applied_tx: watch::Sender<u64>,
        metrics: Arc<ServerMetrics>,
    ) -> Self {
        let applied_index = state.applied_index();
        ApplyLoop {
            state,
            waiters,
            raft,
            applied_tx,
            metrics,
            applied_index,
            durable_index: applied_index,
            last_durable_at: Instant::now(),
        }
    }

    /// Runs until raft closes the channel, then makes what it applied durable. A storage
    /// failure is fatal: continuing would let this member diverge from the others, so the
    /// error is returned and the process exits.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<RaftApply>) -> Result<Ended, ApplyError> {
        while let Some(apply) = rx.blocking_recv() {
            match apply {
                RaftApply::Entries(entries) => {
                    if self.apply_entries(entries)? == Removal::Local {
                        return Ok(Ended::Removed);
                    }
                }
                RaftApply::Snapshot {
                    index,
                    term,
                    db_path,
                } => self.restore_snapshot(index, term, db_path)?,
            }
        }
        // A stopping member keeps what it applied: without this, the batches since the last
        // durable one vanish at exit and the restart applies them again from the WAL.
        if self.applied_index > self.durable_index {
            self.state.backend().sync().map_err(ApplyError::storage)?;
            self.durable_index = self.applied_index;
            self.state.set_durable_applied_index(self.applied_index);
        }
        Ok(Ended::RaftStopped)
    }

    /// Applies one batch; tells whether it removed this member.
    fn apply_entries(&mut self, entries: Vec<CommittedEntry>) -> Result<Removal, ApplyError> {
        let Some(last) = entries.last() else {
            return Ok(Removal::NotLocal);
        };
        debug_assert!(
            entries.windows(2).all(|w| w[0].index < w[1].index),
            "committed entries arrive in log order"
        );
        let (last_index, last_term) = (last.index, last.term);
        if last_index <= self.applied_index {
            // Applied already (raft starts from the WAL's commit, the backend may be ahead):
            // raft must still hear it, or it counts the batch as waiting to be applied.
            self.raft.report_applied(self.applied_index);
            return Ok(Removal::NotLocal);
        }
        let kv = self.state.kv();
        let mut batch = kv.begin_apply().map_err(ApplyError::storage)?;
        let mut handovers = Vec::new();
        let mut removal = Removal::NotLocal;
        for entry in entries.iter().filter(|e| e.index > self.applied_index) {
            match entry.kind {
                EntryKind::Normal if entry.data.is_empty() => {}
                EntryKind::Normal => match InternalRequest::decode(entry.data.as_slice()) {
                    Ok(InternalRequest {
                        id,
                        request: Some(request),
                        caller,
                    }) => {
                        let entry = Entry {
                            id,
                            index: entry.index,
                            caller: caller.as_ref(),
                        };
                        self.dispatch(&mut batch, entry, &request, &mut handovers)?
                    }
                    Ok(InternalRequest { request: None, .. }) => {
                        tracing::warn!(
                            index = entry.index,
                            "skipping raft entry without a request"
                        );
                    }
                    Err(e) => {
                        tracing::error!(index = entry.index, error = %e, "skipping undecodable raft entry");
                    }
                },
                EntryKind::ConfChange | EntryKind::ConfChangeV2 => {
                    // Raft applies it in order with the applied index reported after it.
                    if self.apply_member_change(&mut batch, entry, &mut handovers)?
                        == Removal::Local
                    {
                        removal = Removal::Local;
                    }
                }
            }
        }
        batch
            .set_consistent_index(last_index, last_term)
            .map_err(ApplyError::storage)?;
        // A member that was just removed stops after this batch: it must be on disk, or a
        // restart would take the member back into a cluster that no longer has it.
        let durable = last_index - self.durable_index >= DURABLE_EVERY_ENTRIES
            || self.last_durable_at.elapsed() >= DURABLE_EVERY
            || removal == Removal::Local;
        let committing = Instant::now();
        let revision = batch.revision();
        let put_bytes = batch.put_bytes();
        let changes = batch.commit(durable).map_err(ApplyError::storage)?;
        self.metrics.backend_commit().observe(committing.elapsed());
        self.metrics.store().add_put_bytes(put_bytes);
        self.state.key_deletes().deleted(&changes);
        self.state.watch_hub().publish(revision, changes);
        if durable {
            self.durable_index = last_index;
            self.last_durable_at = Instant::now();
            self.state.set_durable_applied_index(last_index);
        }
        debug_assert!(
            last_index > self.applied_index,
            "the applied index only grows"
        );
        self.applied_index = last_index;
        self.state.set_applied_index(last_index);
        for handover in handovers {
            handover();
        }
        self.raft.report_applied(last_index);
        self.applied_tx.send_replace(last_index);
        Ok(removal)
    }

    /// Applies one request with its kind's apply step.
    fn dispatch(
        &self,
        batch: &mut ApplyBatch<'_>,
        entry: Entry<'_>,
        request: &Request,
        handovers: &mut Vec<Handover>,
    ) -> Result<(), ApplyError> {
        let refused = self.state.alarms().refusal(request).or_else(|| {
            authorization::refusal(
                self.state.auth(),
                self.state.lessor(),
                entry.caller,
                request,
            )
        });
        let step = Step {
            id: entry.id,
            index: entry.index,
            kind: request.kind_name(),
            refused,
            handovers,
        };
        match request {
            Request::Put(req) => self.apply_one(batch, step, req),
            Request::DeleteRange(req) => self.apply_one(batch, step, req),
            Request::Txn(req) => self.apply_one(batch, step, req),
            Request::Compaction(req) => self.apply_one(batch, step, req),
            Request::MemberAttributes(req) => self.apply_one(batch, step, req),
            Request::LeaseGrant(req) => self.apply_one(batch, step, req),
            Request::LeaseRevoke(req) => self.apply_one(batch, step, req),
            Request::LeaseCheckpoint(req) => self.apply_one(batch, step, req),
            Request::Alarm(req) => self.apply_one(batch, step, req),
            Request::MemberUpdate(req) => self.apply_one(batch, step, req),
            Request::Auth(req) => self.apply_one(batch, step, req),
        }
    }

    /// Applies `request` (unless an alarm refuses it), lets the lessor follow the keys it
    /// changed, and keeps its outcome for the proposer if that waits on this member.
    fn apply_one<R: Apply>(
        &self,
        batch: &mut ApplyBatch<'_>,
        step: Step<'_>,
        request: &R,
    ) -> Result<(), ApplyError> {
        let Step {
            id,
            index,
            kind,
            refused,
            handovers,
        } = step;
        let started = Instant::now();
        let before = batch.changes().len();
        let outcome = match refused {
            Some(e) => Err(e),
            None => request.apply(&mut ApplyContext {
                batch: &mut *batch,
                index,
                state: &self.state,
                metrics: &self.metrics,
            })?,
        };
        self.state.lessor().track(&batch.changes()[before..]);
        let took = started.elapsed();
        if took >= SLOW_APPLY {
            self.metrics.record_slow_apply();
        }
        self.metrics
            .store()
            .record_apply(kind, outcome.is_ok(), took);
        if let Some(proposer) = self.waiters.take::<R>(id) {
            handovers.push(Box::new(move || {
                let _ = proposer.send(outcome);
            }));
        }
        Ok(())
    }

    fn restore_snapshot(
        &mut self,
        index: u64,
        term: u64,
        db_path: PathBuf,
    ) -> Result<(), ApplyError> {
        tracing::info!(snapshot_index = index, snapshot_term = term, path = %db_path.display(), "applying snapshot");
        let _applying = self.metrics.store().snapshot_applying();
        let restored = self
            .state
            .restore_backend(&db_path, index)
            .map_err(ApplyError::storage)?;
        debug_assert!(
            restored >= self.applied_index,
            "a snapshot never takes the applied index back"
        );
        self.applied_index = restored;
        self.durable_index = restored;
        self.state.set_applied_index(restored);
        self.state.set_durable_applied_index(restored);
        self.raft.report_applied(restored);
        self.applied_tx.send_replace(restored);
        tracing::info!(applied_index = restored, "applied snapshot");
        Ok(())
    }
}
