//! The apply loop: takes committed raft entries in order and applies each batch in ONE backend
//! transaction (KV changes, membership and the consistent index together), then hands every
//! result to the proposer waiting for it and publishes the new applied index.
//!
//! It runs on a dedicated thread because every step is blocking storage work. Entries at or below
//! the backend's consistent index are skipped: after a crash the WAL is replayed from there, and a
//! snapshot database may already contain entries the log delivers again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use tokio::sync::{mpsc, watch};

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::request_op;
use oxcd_api::etcdserverpb::{
    CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, LeaseGrantResponse,
    LeaseRevokeResponse, PutResponse, RequestOp, ResponseHeader, TxnRequest, TxnResponse,
};
use oxcd_mvcc::{ApplyBatch, CompactionDone};
use oxcd_raft::{Apply, CommittedEntry, EntryKind, RaftHandle};

use crate::lease::table as lease_table;
use crate::metrics::{OpCounts, SLOW_APPLY, ServerMetrics};
use crate::proposal::{InternalRequest, Request};
use crate::state::ServerState;
use crate::wait::WaitRegistry;

/// What applying one request produced, for the member that proposed it.
pub enum Applied {
    /// Result of a put.
    Put(PutResponse),
    /// Result of a delete.
    DeleteRange(DeleteRangeResponse),
    /// Result of a transaction.
    Txn(TxnResponse),
    /// A compaction was scheduled; `done` resolves once it is physically finished.
    Compaction(CompactionResponse, CompactionDone),
    /// A member's attributes were recorded.
    MemberAttributes,
    /// A lease was granted.
    LeaseGrant(LeaseGrantResponse),
    /// A lease was revoked and its keys deleted.
    LeaseRevoke(LeaseRevokeResponse),
    /// Remaining TTLs were recorded.
    LeaseCheckpoint,
}

/// The outcome a proposer receives.
pub type ApplyResult = Result<Applied, EtcdError>;

/// Backend commits are made durable (fsync) at least this often, bounding how much of the WAL a
/// restart replays and letting raft compact its log.
const DURABLE_EVERY_ENTRIES: u64 = 10_000;
const DURABLE_EVERY: Duration = Duration::from_secs(5);

/// Drives the state machine from raft's committed entries.
pub struct ApplyLoop {
    state: Arc<ServerState>,
    waits: Arc<WaitRegistry<ApplyResult>>,
    raft: RaftHandle,
    applied_tx: watch::Sender<u64>,
    #[expect(
        dead_code,
        reason = "conf changes reach raft without block_on now; left for the apply.rs merge"
    )]
    runtime: tokio::runtime::Handle,
    metrics: Arc<ServerMetrics>,
    applied_index: u64,
    durable_index: u64,
    last_durable_at: Instant,
}

impl ApplyLoop {
    /// Creates the loop; `applied_tx` is where readers learn the applied index.
    pub fn new(
        state: Arc<ServerState>,
        waits: Arc<WaitRegistry<ApplyResult>>,
        raft: RaftHandle,
        applied_tx: watch::Sender<u64>,
        runtime: tokio::runtime::Handle,
        metrics: Arc<ServerMetrics>,
    ) -> Self {
        let applied_index = state.applied_index();
        ApplyLoop {
            state,
            waits,
            raft,
            applied_tx,
            runtime,
            metrics,
            applied_index,
            durable_index: applied_index,
            last_durable_at: Instant::now(),
        }
    }

    /// Runs until raft closes the channel. A storage failure is fatal: continuing would let this
    /// member diverge from the others, so the error is returned and the process exits.
    pub fn run(mut self, mut rx: mpsc::Receiver<Apply>) -> Result<(), ApplyError> {
        while let Some(apply) = rx.blocking_recv() {
            match apply {
                Apply::Entries(entries) => self.apply_entries(entries)?,
                Apply::Snapshot {
                    index,
                    term,
                    db_path,
                } => self.restore_snapshot(index, term, db_path)?,
            }
        }
        Ok(())
    }

    fn apply_entries(&mut self, entries: Vec<CommittedEntry>) -> Result<(), ApplyError> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        let (last_index, last_term) = (last.index, last.term);
        if last_index <= self.applied_index {
            // Applied already (raft starts from the WAL's commit, the backend may be ahead):
            // raft must still hear it, or it counts the batch as waiting to be applied.
            self.raft.report_applied(self.applied_index);
            return Ok(());
        }
        let kv = self.state.kv();
        let mut batch = kv.begin_apply().map_err(ApplyError::storage)?;
        let mut results = Vec::new();
        for entry in entries.iter().filter(|e| e.index > self.applied_index) {
            match entry.kind {
                EntryKind::Normal if entry.data.is_empty() => {}
                EntryKind::Normal => match InternalRequest::decode(entry.data.as_slice()) {
                    Ok(req) => {
                        let started = Instant::now();
                        let result = self.apply_request(&mut batch, req.request.as_ref())?;
                        if started.elapsed() >= SLOW_APPLY {
                            self.metrics.record_slow_apply();
                        }
                        self.metrics
                            .record_ops(OpCounts::of(req.request.as_ref(), &result));
                        results.push((req.id, result));
                    }
                    Err(e) => {
                        tracing::error!(index = entry.index, error = %e, "skipping undecodable raft entry");
                    }
                },
                EntryKind::ConfChange | EntryKind::ConfChangeV2 => {
                    self.raft
                        .apply_conf_change(entry)
                        .map_err(ApplyError::raft)?;
                }
            }
        }
        batch
            .set_consistent_index(last_index, last_term)
            .map_err(ApplyError::storage)?;
        let durable = last_index - self.durable_index >= DURABLE_EVERY_ENTRIES
            || self.last_durable_at.elapsed() >= DURABLE_EVERY;
        let committing = Instant::now();
        let revision = batch.revision();
        let changes = batch.commit(durable).map_err(ApplyError::storage)?;
        self.metrics.backend_commit().observe(committing.elapsed());
        self.state.watch_hub().publish(revision, changes);
        if durable {
            self.durable_index = last_index;
            self.last_durable_at = Instant::now();
            self.state.set_durable_applied_index(last_index);
        }
        self.applied_index = last_index;
        self.state.set_applied_index(last_index);
        for (id, result) in results {
            self.waits.trigger(id, result);
        }
        self.raft.report_applied(last_index);
        self.applied_tx.send_replace(last_index);
        Ok(())
    }

    /// Applies one request, then lets the lessor follow the keys it changed.
    fn apply_request(
        &self,
        batch: &mut ApplyBatch<'_>,
        request: Option<&Request>,
    ) -> Result<ApplyResult, ApplyError> {
        let before = batch.changes().len();
        let result = self.apply_one(batch, request)?;
        self.state.lessor().track(&batch.changes()[before..]);
        Ok(result)
    }

    fn apply_one(
        &self,
        batch: &mut ApplyBatch<'_>,
        request: Option<&Request>,
    ) -> Result<ApplyResult, ApplyError> {
        let lessor = self.state.lessor();
        let leases = |lease: i64| lessor.contains(lease);
        Ok(match request {
            Some(Request::Put(req)) => batch.put(req, &leases).map(|mut resp| {
                stamp_revision(&mut resp.header, batch);
                Applied::Put(resp)
            }),
            Some(Request::DeleteRange(req)) => batch.delete_range(req).map(|mut resp| {
                stamp_revision(&mut resp.header, batch);
                Applied::DeleteRange(resp)
            }),
            Some(Request::Txn(req)) => batch.txn(req, &leases).map(|mut resp| {
                stamp_revision(&mut resp.header, batch);
                Applied::Txn(resp)
            }),
            Some(Request::Compaction(req)) => batch.compact(req.revision).map(|done| {
                let header = ResponseHeader {
                    revision: batch.revision(),
                    ..Default::default()
                };
                Applied::Compaction(
                    CompactionResponse {
                        header: Some(header),
                    },
                    done,
                )
            }),
            Some(Request::MemberAttributes(attrs)) => {
                self.state
                    .membership()
                    .apply_attributes(batch.tables(), attrs)
                    .map_err(ApplyError::storage)?;
                Ok(Applied::MemberAttributes)
            }
            Some(Request::LeaseGrant(req)) => match lessor.grant(req.id, req.ttl) {
                Ok(stored) => {
                    lease_table::store(batch.tables(), &stored).map_err(ApplyError::storage)?;
                    self.metrics.watch_lease().record_granted();
                    Ok(Applied::LeaseGrant(LeaseGrantResponse {
                        header: Some(ResponseHeader {
                            revision: batch.revision(),
                            ..Default::default()
                        }),
                        id: stored.id,
                        ttl: stored.ttl,
                        error: String::new(),
                    }))
                }
                Err(e) => Err(e),
            },
            Some(Request::LeaseRevoke(req)) => self.revoke(batch, req.id)?,
            Some(Request::LeaseCheckpoint(req)) => {
                for stored in lessor.checkpoint(&req.checkpoints) {
                    lease_table::store(batch.tables(), &stored).map_err(ApplyError::storage)?;
                }
                Ok(Applied::LeaseCheckpoint)
            }
            None => {
                tracing::warn!("skipping raft entry without a request");
                Err(EtcdError::NotCapable)
            }
        })
    }

    /// Revokes lease `id`: its keys are deleted in one revision (one txn, as etcd does), then
    /// the lease is forgotten.
    fn revoke(&self, batch: &mut ApplyBatch<'_>, id: i64) -> Result<ApplyResult, ApplyError> {
        let lessor = self.state.lessor();
        let Some(keys) = lessor.attached_keys(id) else {
            return Ok(Err(EtcdError::LeaseNotFound));
        };
        if !keys.is_empty() {
            let deletes = TxnRequest {
                success: keys
                    .into_iter()
                    .map(|key| RequestOp {
                        request: Some(request_op::Request::RequestDeleteRange(
                            DeleteRangeRequest {
                                key,
                                ..Default::default()
                            },
                        )),
                    })
                    .collect(),
                ..Default::default()
            };
            // The lessor follows these deletes with the rest of the request's changes.
            if let Err(e) = batch.txn(&deletes, &|_| true) {
                return Ok(Err(e));
            }
        }
        lease_table::remove(batch.tables(), id).map_err(ApplyError::storage)?;
        lessor.remove(id);
        self.metrics.watch_lease().record_revoked();
        Ok(Ok(Applied::LeaseRevoke(LeaseRevokeResponse {
            header: Some(ResponseHeader {
                revision: batch.revision(),
                ..Default::default()
            }),
        })))
    }

    fn restore_snapshot(
        &mut self,
        index: u64,
        term: u64,
        db_path: PathBuf,
    ) -> Result<(), ApplyError> {
        tracing::info!(snapshot_index = index, snapshot_term = term, path = %db_path.display(), "applying snapshot");
        let restored = self
            .state
            .restore_backend(&db_path, index)
            .map_err(ApplyError::storage)?;
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

/// Records the store revision right after the request in its response header, unless the store
/// already did: later requests in the batch move the revision on.
fn stamp_revision(header: &mut Option<ResponseHeader>, batch: &ApplyBatch<'_>) {
    header.get_or_insert_with(|| ResponseHeader {
        revision: batch.revision(),
        ..Default::default()
    });
}

/// A failure that stops the apply loop (and the member).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The backend could not be read or written.
    #[error("backend: {0}")]
    Storage(String),
    /// Raft refused a committed configuration change.
    #[error("raft: {0}")]
    Raft(String),
}

impl ApplyError {
    fn storage<E: std::fmt::Display>(e: E) -> Self {
        ApplyError::Storage(e.to_string())
    }
    fn raft<E: std::fmt::Display>(e: E) -> Self {
        ApplyError::Raft(e.to_string())
    }
}
