//! [`RaftHandle`]: the cloneable front door to a running raft node.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use super::event::{Control, Refusal, Request};
use crate::apply::CommittedEntry;
use crate::error::RaftError;
use crate::member_change::MemberChange;
use crate::metrics::RaftMetrics;
use crate::status::{ConfStateSummary, RaftStatus, Replication};
use crate::transport::PeerActivity;

/// What a handle reaches the running node through: its channels and the state it publishes.
pub(super) struct Connections {
    pub(super) requests: mpsc::Sender<Request>,
    pub(super) control: mpsc::UnboundedSender<Control>,
    pub(super) status: watch::Receiver<RaftStatus>,
    pub(super) conf: watch::Receiver<ConfStateSummary>,
    pub(super) read_timeout: Duration,
    pub(super) metrics: Arc<RaftMetrics>,
    pub(super) failure: watch::Receiver<Option<Arc<RaftError>>>,
    pub(super) activity: PeerActivity,
}

struct Inner {
    requests: mpsc::Sender<Request>,
    control: mpsc::UnboundedSender<Control>,
    status: watch::Receiver<RaftStatus>,
    conf: watch::Receiver<ConfStateSummary>,
    /// The highest index reported through this handle, for [`RaftHandle::status`] before the
    /// ready loop has taken the report in (which publishes it in `status`).
    applied: AtomicU64,
    read_timeout: Duration,
    metrics: Arc<RaftMetrics>,
    failure: watch::Receiver<Option<Arc<RaftError>>>,
    activity: PeerActivity,
}

/// Talks to a running [`crate::RaftNode`]; cheap to clone.
#[derive(Clone)]
pub struct RaftHandle {
    inner: Arc<Inner>,
}

impl RaftHandle {
    pub(super) fn new(connections: Connections) -> Self {
        let Connections {
            requests,
            control,
            status,
            conf,
            read_timeout,
            metrics,
            failure,
            activity,
        } = connections;
        RaftHandle {
            inner: Arc::new(Inner {
                requests,
                control,
                status,
                conf,
                applied: AtomicU64::new(0),
                read_timeout,
                metrics,
                failure,
                activity,
            }),
        }
    }

    /// Proposes opaque bytes: Ok once the ready loop has them queued (followers forward
    /// them to the leader); commit is observed on the Apply stream. If raft then refuses the
    /// proposal, `refused` is called with `NoLeader` (no leader, or raft dropped it),
    /// `ProposalRejected` or `Stopped` (shutdown); fails with `Stopped` after shutdown.
    pub async fn propose(&self, data: Vec<u8>, refused: Refusal) -> Result<(), RaftError> {
        self.inner
            .requests
            .send(Request::Propose { data, refused })
            .await
            .map_err(|_| RaftError::Stopped)
    }

    /// Proposes a membership change, with `context` carried along in the entry. Once
    /// committed it arrives on the Apply stream as a `ConfChangeV2` entry, which the apply loop
    /// hands back to [`RaftHandle::apply_conf_change`]. Fails with `ProposalDropped` while
    /// another conf change is pending, `NoLeader` without a leader.
    pub async fn propose_conf_change(
        &self,
        context: Vec<u8>,
        change: MemberChange,
    ) -> Result<(), RaftError> {
        let (reply, answer) = oneshot::channel();
        let mut cc = change.to_raft();
        // In the change itself (not the entry's own context field, which the log keeps but
        // committed entries do not carry), so it reaches the apply loop with the change.
        cc.set_context(context.into());
        self.inner
            .requests
            .send(Request::ProposeConfChange { cc, reply })
            .await
            .map_err(|_| RaftError::Stopped)?;
        answer.await.map_err(|_| RaftError::Stopped)?
    }

    /// Linearizable read barrier (raft ReadIndex, ReadOnlySafe): returns the commit index the
    /// caller must wait to have applied. Concurrent callers share one ReadIndex round.
    /// Fails with `NoLeader`, `Timeout` (no answer within about an election timeout) or
    /// `Stopped`.
    pub async fn read_index(&self) -> Result<u64, RaftError> {
        if self.inner.status.borrow().leader == 0 {
            return Err(RaftError::NoLeader);
        }
        let (reply, answer) = oneshot::channel();
        self.inner
            .requests
            .send(Request::ReadIndex { reply })
            .await
            .map_err(|_| RaftError::Stopped)?;
        match tokio::time::timeout(self.inner.read_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(RaftError::Stopped),
            Err(_) => Err(RaftError::Timeout),
        }
    }

    /// Hands a committed conf change (a `ConfChange` or `ConfChangeV2` entry) to raft, which
    /// applies it before it takes in any later [`RaftHandle::report_applied`] from the same
    /// caller; never waits. The apply loop calls this when it reaches such an entry. Fails
    /// only with `Stopped`, once the node is gone; a change raft cannot apply ends the node
    /// (see [`RaftHandle::failed`]).
    pub fn apply_conf_change(&self, entry: &CommittedEntry) -> Result<(), RaftError> {
        self.inner
            .control
            .send(Control::ConfChange(entry.clone()))
            .map_err(|_| RaftError::Stopped)
    }

    /// Records that the apply loop has applied everything up to `index` (drives snapshots
    /// and compaction, and lets raft take in more work after a backlog).
    pub fn report_applied(&self, index: u64) {
        self.inner.applied.fetch_max(index, Ordering::AcqRel);
        // Once the node is gone there is nothing left to tell.
        let _ = self.inner.control.send(Control::Applied(index));
    }

    /// The current view of the node.
    pub fn status(&self) -> RaftStatus {
        let mut status = *self.inner.status.borrow();
        status.applied = status
            .applied
            .max(self.inner.applied.load(Ordering::Acquire));
        status
    }

    /// The members of the raft configuration as of the last conf change raft applied (or the
    /// snapshot it restored).
    pub fn conf_state(&self) -> ConfStateSummary {
        self.inner.conf.borrow().clone()
    }

    /// The node's counters and histograms (WAL, leader changes), for the metrics endpoint.
    pub fn metrics(&self) -> &Arc<RaftMetrics> {
        &self.inner.metrics
    }

    /// Resolves with the error that ended the ready loop, once an unrecoverable one did (a WAL
    /// write or sync, a snapshot save or install); never while the node runs or after a
    /// clean [`RaftHandle::stop`]. The server must stop the process on it: a member whose
    /// raft has ended cannot vote, replicate or apply, and must not keep serving.
    pub async fn failed(&self) -> Arc<RaftError> {
        let mut failure = self.inner.failure.clone();
        let failed = match failure.wait_for(Option::is_some).await {
            Ok(failed) => failed.clone(),
            // The sender is gone without a failure: the node stopped cleanly.
            Err(_) => None,
        };
        match failed {
            Some(error) => error,
            None => std::future::pending().await,
        }
    }

    /// The leader's replication progress for every member, or `None` when this member is not
    /// the leader. Fails only with `Stopped`.
    pub async fn replication(&self) -> Result<Option<Replication>, RaftError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .control
            .send(Control::Replication(reply))
            .map_err(|_| RaftError::Stopped)?;
        answer.await.map_err(|_| RaftError::Stopped)
    }

    /// Since when messages to member `id` have been getting through (etcd's transport
    /// "active since"); `None` while they do not, or for this member itself.
    pub fn peer_active_since(&self, id: u64) -> Option<Instant> {
        self.inner.activity.since(id)
    }

    /// A receiver notified whenever the status changes (leader changes in particular).
    pub fn subscribe(&self) -> watch::Receiver<RaftStatus> {
        self.inner.status.clone()
    }

    /// Asks raft to hand leadership to `target` and waits until it has (or `timeout`).
    pub async fn transfer_leader(&self, target: u64, timeout: Duration) -> Result<(), RaftError> {
        let mut status = self.subscribe();
        let current = status.borrow_and_update().leader;
        if current == target {
            return Ok(());
        }
        if current == 0 {
            return Err(RaftError::NoLeader);
        }
        self.inner
            .control
            .send(Control::TransferLeader { target })
            .map_err(|_| RaftError::Stopped)?;
        let reached = tokio::time::timeout(timeout, status.wait_for(|s| s.leader == target)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(RaftError::Stopped),
            Err(_) => Err(RaftError::Timeout),
        }
    }

    /// Stops the ready loop and the transport, and closes the WAL. Idempotent.
    pub async fn stop(&self) {
        let (reply, done) = oneshot::channel();
        if self.inner.control.send(Control::Stop(reply)).is_ok() {
            let _ = done.await;
        }
    }
}
