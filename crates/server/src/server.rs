//! `EtcdServer`: the member as the services see it. It turns a write into a raft proposal and
//! waits for its applied result, provides the linearizable read barrier (ReadIndex, then wait
//! until applied), and builds response headers.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tokio::sync::watch;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::alarm_request::AlarmAction;
use oxcd_api::etcdserverpb::{
    AlarmRequest, AlarmType, LeaseGrantRequest, LeaseGrantResponse, Member, MemberUpdateRequest,
    ResponseHeader,
};
use oxcd_raft::{MemberChange, RaftError, RaftHandle};

use crate::auth::Caller;
use crate::backup::BACKUP_PEER_URL;
use crate::grpc_health::GrpcHealth;
use crate::membership::Identity;
use crate::metrics::ServerMetrics;
use crate::proposal::{
    Awaited, InternalRequest, MemberAttributes, MemberChangeContext, Proposal, RequestIds, Waiters,
};
use crate::quota::BackendQuota;
use crate::state::ServerState;

/// How long a membership change waits for its outcome before it is proposed again.
const CONF_CHANGE_RETRY: Duration = Duration::from_secs(1);

/// Limits and identity the services need.
#[derive(Debug, Clone)]
pub(crate) struct ServerSettings {
    /// `--name`.
    pub(crate) name: String,
    /// `--advertise-client-urls`, published to the cluster.
    pub(crate) advertise_client_urls: Vec<String>,
    /// `--max-request-bytes`: the largest encoded proposal accepted.
    pub(crate) max_request_bytes: usize,
    /// `--max-txn-ops`.
    pub(crate) max_txn_ops: usize,
    /// `--max-concurrent-streams`: HTTP/2 streams one client connection may hold open.
    pub(crate) max_concurrent_streams: u32,
    /// `--range-buffer-bytes`: the largest range answer built whole; larger ones go in pieces.
    pub(crate) range_buffer_bytes: usize,
    /// `--enable-grpc-gateway`: the JSON gateway is served on the client listeners.
    pub(crate) enable_grpc_gateway: bool,
    /// How long a request may wait for raft before "request timed out" (etcd: 5s + 2 × election timeout).
    pub(crate) request_timeout: Duration,
    /// How long a proposal may still wait after the leader changed before failing with
    /// "leader changed".
    pub(crate) leader_change_grace: Duration,
    /// `--election-timeout`.
    pub(crate) election_timeout: Duration,
    /// `--experimental-watch-progress-notify-interval`: how often watchers that asked for
    /// progress notifications hear the current revision when nothing else was sent.
    pub(crate) watch_progress_notify_interval: Duration,
    /// `--quota-backend-bytes`, resolved.
    pub(crate) quota: BackendQuota,
    /// `--strict-reconfig-check`: refuse membership changes that could cost the quorum.
    pub(crate) strict_reconfig_check: bool,
    /// `--initial-advertise-peer-urls`, as text.
    pub(crate) advertise_peer_urls: Vec<String>,
    /// `--bcrypt-cost`: the cost of the password hashes this member makes.
    pub(crate) bcrypt_cost: u32,
    /// `--client-cert-auth`: a request without a token is made by the common name of its
    /// verified client certificate.
    pub(crate) client_cert_auth: bool,
}

/// The member, shared by every service.
pub(crate) struct EtcdServer {
    settings: ServerSettings,
    state: Arc<ServerState>,
    raft: RaftHandle,
    waiters: Arc<Waiters>,
    ids: RequestIds,
    applied_rx: watch::Receiver<u64>,
    leader_rx: watch::Receiver<u64>,
    metrics: Arc<ServerMetrics>,
    grpc_health: Arc<GrpcHealth>,
}

impl EtcdServer {
    /// Assembles the server around a started raft node and apply loop.
    pub(crate) fn new(
        settings: ServerSettings,
        state: Arc<ServerState>,
        raft: RaftHandle,
        waiters: Arc<Waiters>,
        applied_rx: watch::Receiver<u64>,
        metrics: Arc<ServerMetrics>,
    ) -> Self {
        let ids = RequestIds::new(state.membership().identity().member_id);
        let leader_rx = track_leader(&raft);
        EtcdServer {
            settings,
            state,
            raft,
            waiters,
            ids,
            applied_rx,
            leader_rx,
            metrics,
            grpc_health: Arc::default(),
        }
    }

    /// The gRPC health service's status.
    pub(crate) fn grpc_health(&self) -> &Arc<GrpcHealth> {
        &self.grpc_health
    }

    /// The leader as this member knows it (0: none), as it changes.
    pub(crate) fn leader_changes(&self) -> watch::Receiver<u64> {
        self.leader_rx.clone()
    }

    /// The server's counters, also shared with the apply loop and the gRPC layer.
    pub(crate) fn metrics(&self) -> &Arc<ServerMetrics> {
        &self.metrics
    }

    /// Limits and identity.
    pub(crate) fn settings(&self) -> &ServerSettings {
        &self.settings
    }

    /// The replicated state.
    pub(crate) fn state(&self) -> &ServerState {
        &self.state
    }

    /// The raft node.
    pub(crate) fn raft(&self) -> &RaftHandle {
        &self.raft
    }

    /// Cluster and member id.
    pub(crate) fn identity(&self) -> Identity {
        self.state.membership().identity()
    }

    /// A response header for a response at `revision`.
    pub(crate) fn header(&self, revision: i64) -> ResponseHeader {
        let identity = self.identity();
        ResponseHeader {
            cluster_id: identity.cluster_id,
            member_id: identity.member_id,
            revision,
            raft_term: self.raft.status().term,
        }
    }

    /// A response header at the store's current revision.
    pub(crate) fn current_header(&self) -> ResponseHeader {
        self.header(self.state.kv().current_revision())
    }

    /// Fills in the header fields only the server knows, keeping the revision the apply loop
    /// set (the current revision if it set none).
    pub(crate) fn finish_header(&self, header: &mut Option<ResponseHeader>) {
        *header = Some(match header.as_ref() {
            Some(h) => self.header(h.revision),
            None => self.current_header(),
        });
    }

    /// Checks that a request adding `cost` bytes fits the backend quota. If it does not, the
    /// NOSPACE alarm is raised for this member through raft (as etcd does, whatever comes of
    /// that proposal) and the request is refused with "database space exceeded".
    pub(crate) async fn check_quota(&self, cost: u64) -> Result<(), EtcdError> {
        let size = self.state.backend().size();
        if self.settings.quota.fits(size, cost) {
            return Ok(());
        }
        let raise = AlarmRequest {
            action: AlarmAction::Activate as i32,
            member_id: self.identity().member_id,
            alarm: AlarmType::Nospace as i32,
        };
        if let Err(e) = self.propose(&Caller::member(), raise).await {
            tracing::warn!(error = %e, "failed to raise the NOSPACE alarm");
        }
        Err(EtcdError::NoSpace)
    }

    /// Replicates `proposal`, made by `caller`, through raft and returns what applying it
    /// produced (or the refusal of the caller's permissions there).
    pub(crate) async fn propose<P: Proposal>(
        &self,
        caller: &Caller,
        proposal: P,
    ) -> Result<P::Output, EtcdError> {
        let id = self.ids.next();
        let data = InternalRequest {
            id,
            request: Some(proposal.into_request()),
            caller: Some(caller.clone()),
        }
        .encode_to_vec();
        if data.len() > self.settings.max_request_bytes {
            return Err(EtcdError::RequestTooLarge);
        }
        self.await_applied::<P>(id, data).await
    }

    /// Proposes a raft conf change (`member` is the member added, `promote` marks an
    /// AddVoter that promotes a learner) and waits for the member list after it was applied,
    /// or the refusal of etcd's checks there.
    ///
    /// Raft drops a conf change while another is pending, without telling a follower that
    /// forwarded it, and a new leader has one pending until it applied its log. So the
    /// change is proposed again every [`CONF_CHANGE_RETRY`] until its outcome arrives or the
    /// request times out: a copy applied after the first finds nobody waiting, and etcd's
    /// checks refuse it (the member is already added, removed or promoted). A change that
    /// removes the leader makes a new leader the expected outcome, so unlike other proposals
    /// it is not given up on a leader change.
    pub(crate) async fn propose_member_change(
        &self,
        change: MemberChange,
        member: Option<Member>,
        promote: bool,
    ) -> Result<Vec<Member>, EtcdError> {
        let id = self.ids.next();
        let context = MemberChangeContext {
            id,
            member,
            promote,
        }
        .encode_to_vec();
        let _pending = self.metrics.pending_proposal();
        let mut result = self.waiters.register::<MemberChangeContext>(id);
        let deadline = tokio::time::Instant::now() + self.settings.request_timeout;
        loop {
            match self.raft.propose_conf_change(context.clone(), change).await {
                Ok(()) | Err(RaftError::ProposalDropped | RaftError::NoLeader) => {}
                Err(e) => return Err(self.give_up::<MemberChangeContext>(id, raft_error(e))),
            }
            tokio::select! {
                outcome = &mut result => {
                    return outcome.unwrap_or_else(|_| {
                        self.metrics.record_proposal_failed();
                        Err(EtcdError::Stopped)
                    });
                }
                () = tokio::time::sleep(CONF_CHANGE_RETRY) => {}
                () = tokio::time::sleep_until(deadline) => {
                    return Err(self.give_up::<MemberChangeContext>(id, EtcdError::Timeout));
                }
            }
        }
    }

    /// Proposes `data`, the encoded request `id`, and waits for its outcome: fails if raft
    /// refuses it (the refusal completes the waiter from the ready loop, so an accepted
    /// proposal costs no wake-up before its result), if a new leader takes over and it has
    /// not been applied shortly after, or at the request timeout.
    async fn await_applied<P: Awaited>(
        &self,
        id: u64,
        data: Vec<u8>,
    ) -> Result<P::Output, EtcdError> {
        let _pending = self.metrics.pending_proposal();
        let result = self.waiters.register::<P>(id);
        let mut leader = self.leader_rx.clone();
        let leader_at_proposal = *leader.borrow_and_update();
        let refused = {
            let (waiters, metrics) = (self.waiters.clone(), self.metrics.clone());
            Box::new(move |error: RaftError| {
                if let Some(waiter) = waiters.take::<P>(id) {
                    metrics.record_proposal_failed();
                    let _ = waiter.send(Err(raft_error(error)));
                }
            })
        };
        if let Err(e) = self.raft.propose(data, refused).await {
            return Err(self.give_up::<P>(id, raft_error(e)));
        }
        // A proposal forwarded to a leader that then died is lost without trace; rather than
        // hold the client until the request timeout, give up shortly after a new leader
        // appears (by then a surviving proposal has committed under it).
        let leader_changed = async {
            let _ = leader
                .wait_for(|l| *l != 0 && *l != leader_at_proposal)
                .await;
            tokio::time::sleep(self.settings.leader_change_grace).await;
        };
        tokio::select! {
            result = result => result.unwrap_or_else(|_| {
                self.metrics.record_proposal_failed();
                Err(EtcdError::Stopped)
            }),
            () = leader_changed => Err(self.give_up::<P>(id, EtcdError::LeaderChanged)),
            () = tokio::time::sleep(self.settings.request_timeout) => {
                Err(self.give_up::<P>(id, EtcdError::Timeout))
            }
        }
    }

    /// Stops waiting for request `id`, counts it as a failed proposal, and hands back `error`.
    fn give_up<P: Awaited>(&self, id: u64, error: EtcdError) -> EtcdError {
        self.waiters.cancel::<P>(id);
        self.metrics.record_proposal_failed();
        error
    }

    /// A fresh lease id for a grant that did not choose one: positive, and unique like request
    /// ids (etcd draws it from the same generator).
    fn new_lease_id(&self) -> i64 {
        (self.ids.next() & (i64::MAX as u64)) as i64
    }

    /// Grants a lease through raft for `caller`; a request with id 0 gets a fresh id no lease
    /// holds.
    pub(crate) async fn grant_lease(
        &self,
        caller: &Caller,
        mut req: LeaseGrantRequest,
    ) -> Result<LeaseGrantResponse, EtcdError> {
        let lessor = self.state.lessor();
        while req.id == 0 {
            let id = self.new_lease_id();
            if !lessor.contains(id) {
                req.id = id;
            }
        }
        let mut resp = self.propose(caller, req).await?;
        self.finish_header(&mut resp.header);
        Ok(resp)
    }

    /// Resolves once the cluster has had no leader for three election timeouts: then streams
    /// whose client requires a leader are ended, as etcd's leader monitor does.
    pub(crate) async fn leader_lost(&self) {
        let mut leader = self.leader_rx.clone();
        loop {
            let lost = leader.wait_for(|id| *id == 0).await.is_ok();
            if !lost {
                return std::future::pending().await;
            }
            let gone = tokio::time::sleep(3 * self.settings.election_timeout);
            let back = async { leader.wait_for(|id| *id != 0).await.is_ok() };
            tokio::select! {
                () = gone => return,
                found = back => if !found {
                    return std::future::pending().await;
                },
            }
        }
    }

    /// Whether there is a leader now.
    pub(crate) fn has_leader(&self) -> bool {
        *self.leader_rx.borrow() != 0
    }

    /// The current leader, waiting for one if there is none.
    pub(crate) async fn wait_for_leader(&self) -> Result<u64, EtcdError> {
        let mut leader = self.leader_rx.clone();
        let found = leader
            .wait_for(|id| *id != 0)
            .await
            .map_err(|_| EtcdError::Stopped)?;
        Ok(*found)
    }

    /// Waits (at most `limit`) until this member has applied what it knows to be committed.
    pub(crate) async fn wait_applied_commit(&self, limit: Duration) {
        let commit = self.raft.status().commit;
        let mut applied = self.applied_rx.clone();
        let _ = tokio::time::timeout(limit, applied.wait_for(|a| *a >= commit)).await;
    }

    /// Waits until this member has applied everything committed before the call: after it
    /// returns, a local read is linearizable.
    pub(crate) async fn read_barrier(&self) -> Result<(), EtcdError> {
        let index = match self.raft.read_index().await {
            Ok(index) => index,
            Err(e) => {
                let error = raft_error(e);
                self.metrics
                    .record_read_index_failed(error == EtcdError::Timeout);
                return Err(error);
            }
        };
        self.wait_applied(index).await
    }

    /// Waits (at most the request timeout) until this member has applied entry `index`.
    pub(crate) async fn wait_applied(&self, index: u64) -> Result<(), EtcdError> {
        let mut applied = self.applied_rx.clone();
        match tokio::time::timeout(
            self.settings.request_timeout,
            applied.wait_for(|a| *a >= index),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(EtcdError::Stopped),
            Err(_) => Err(EtcdError::Timeout),
        }
    }

    /// Announces this member's name and client URLs to the cluster through raft, retrying until
    /// it is applied (etcd's "publish"); clients are served only after that.
    pub(crate) async fn publish(&self) {
        let attrs = MemberAttributes {
            id: self.identity().member_id,
            name: self.settings.name.clone(),
            client_urls: self.settings.advertise_client_urls.clone(),
        };
        loop {
            // etcd's proposal waits for a leader rather than failing at once, so a member that
            // starts before the election does not warn; wait the same way.
            let mut leader = self.leader_rx.clone();
            let _ = tokio::time::timeout(
                self.settings.request_timeout,
                leader.wait_for(|id| *id != 0),
            )
            .await;
            match self.propose(&Caller::member(), attrs.clone()).await {
                Ok(_) => {
                    tracing::info!(
                        local_member_id = %format!("{:x}", attrs.id),
                        local_member_attributes = %format!("{{Name:{} ClientURLs:[{}]}}", attrs.name, attrs.client_urls.join(" ")),
                        request_path = %format!("/0/members/{:x}/attributes", attrs.id),
                        cluster_id = %format!("{:x}", self.identity().cluster_id),
                        "published local member to cluster through raft"
                    );
                    self.replace_backup_placeholder().await;
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "failed to publish local member to cluster through raft");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// A member started on an `oxutl backup` carries etcdutl's placeholder peer URL, which no
    /// peer could reach; it takes the peer URLs it was started with instead, so the restored
    /// cluster can grow without a `member update` first.
    async fn replace_backup_placeholder(&self) {
        let id = self.identity().member_id;
        let placeholder = self
            .state()
            .membership()
            .member(id)
            .is_some_and(|me| me.peer_ur_ls == [BACKUP_PEER_URL]);
        if !placeholder {
            return;
        }
        let update = MemberUpdateRequest {
            id,
            peer_ur_ls: self.settings.advertise_peer_urls.clone(),
        };
        match self.propose(&Caller::member(), update).await {
            Ok(_) => tracing::info!(
                peer_urls = ?self.settings.advertise_peer_urls,
                "replaced the backup's placeholder peer URL with this member's"
            ),
            Err(e) => tracing::warn!(
                error = %e,
                "cannot replace the backup's placeholder peer URL; use member update"
            ),
        }
    }
}

/// A channel that changes only when the leader does, so proposals waiting on it are not woken
/// by every commit.
fn track_leader(raft: &RaftHandle) -> watch::Receiver<u64> {
    let mut status = raft.subscribe();
    let (tx, rx) = watch::channel(status.borrow().leader);
    tokio::spawn(async move {
        while status.changed().await.is_ok() {
            let leader = status.borrow_and_update().leader;
            tx.send_if_modified(|current| std::mem::replace(current, leader) != leader);
            if tx.is_closed() {
                return;
            }
        }
    });
    rx
}

fn raft_error(e: RaftError) -> EtcdError {
    match e {
        RaftError::NoLeader => EtcdError::NoLeader,
        RaftError::Timeout => EtcdError::Timeout,
        _ => EtcdError::Stopped,
    }
}
