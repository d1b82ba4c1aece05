//! The Lease service: grants and revocations go through raft; keep-alives and TTL queries are
//! answered by the leader, which alone times leases (a follower forwards them); the lease list
//! is served locally.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::lease_server::Lease;
use oxcd_api::etcdserverpb::{
    LeaseCheckpoint, LeaseCheckpointRequest, LeaseGrantRequest, LeaseGrantResponse,
    LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseLeasesRequest, LeaseLeasesResponse,
    LeaseRevokeRequest, LeaseRevokeResponse, LeaseStatus, LeaseTimeToLiveRequest,
    LeaseTimeToLiveResponse,
};

use super::caller::{caller, require_user, still_current};
use super::request::{check_message_size, leader_required, max_request_message};
use crate::auth::{Caller, RequestCheck};
use crate::lease::{NotPrimary, Renewal};
use crate::lease_leader::forward::{LeaderForwarder, is_forwarded};
use crate::quota;
use crate::server::EtcdServer;

/// Keep-alive responses queued per stream before the task waits for the client to read.
const SEND_QUEUE: usize = 16;
/// Keep-alives of one stream being answered at once.
const KEEP_ALIVES_IN_FLIGHT: usize = 64;
/// How long a forwarded keep-alive waits for the leader to apply what it committed (etcd's
/// leader HTTP handler waits the same), so a lease revoked in the log is not renewed.
const APPLY_WAIT: Duration = Duration::from_secs(1);

/// `etcdserverpb.Lease`.
pub(super) struct LeaseService {
    server: Arc<EtcdServer>,
    forwarder: Arc<LeaderForwarder>,
    max_message: usize,
}

impl LeaseService {
    /// The service for `server`.
    pub(super) fn new(server: Arc<EtcdServer>) -> Self {
        let max_message = max_request_message(&server);
        LeaseService {
            server,
            forwarder: Arc::new(LeaderForwarder::default()),
            max_message,
        }
    }

    /// Whether `caller` may read every key attached to the leases `ids` (a root may; anyone
    /// while authentication is off). A client without credentials may not.
    fn readable_keys(&self, caller: &Caller, ids: &[i64]) -> Result<(), EtcdError> {
        let state = self.server.state();
        let auth = state.auth();
        if !auth.status().0 {
            return Ok(());
        }
        require_user(&self.server, caller)?;
        if auth.check_admin(&caller.user).is_ok() {
            return Ok(());
        }
        let check = RequestCheck::new(auth, state.lessor(), caller);
        ids.iter()
            .filter_map(|id| state.lessor().attached_keys(*id))
            .flatten()
            .try_for_each(|key| check.range(&key, &[]))
    }
}

/// Renews lease `id` where it can be: here if this member is the leader, else on the leader.
/// A keep-alive of an expired lease waits for its revocation (then: not found).
async fn renew(
    server: &EtcdServer,
    forwarder: &LeaderForwarder,
    id: i64,
    forwarded: bool,
) -> Result<i64, EtcdError> {
    let lessor = server.state().lessor();
    let deadline = tokio::time::Instant::now() + server.settings().request_timeout;
    if forwarded {
        server.wait_applied_commit(APPLY_WAIT).await;
    }
    let mut waited_for_apply = forwarded;
    loop {
        match lessor.renew(id) {
            Renewal::Renewed {
                ttl,
                clear_checkpoint,
            } => {
                if clear_checkpoint {
                    let clear = LeaseCheckpointRequest {
                        checkpoints: vec![LeaseCheckpoint {
                            id,
                            remaining_ttl: 0,
                        }],
                    };
                    server.propose(&Caller::member(), clear).await?;
                }
                server.metrics().watch_lease().record_renewed();
                return Ok(ttl);
            }
            // A leader that has just taken over may not have applied the grant yet: look
            // again once it has applied what it knows to be committed.
            Renewal::NotFound if !waited_for_apply => {
                waited_for_apply = true;
                server.wait_applied_commit(APPLY_WAIT).await;
            }
            Renewal::NotFound => return Err(EtcdError::LeaseNotFound),
            Renewal::Expired => {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    return Err(EtcdError::Timeout);
                }
                lessor
                    .wait_revocation(left.min(Duration::from_millis(500)))
                    .await;
            }
            Renewal::NotPrimary if forwarded => return Err(EtcdError::NotLeader),
            Renewal::NotPrimary => return forwarder.keep_alive(server, id).await,
        }
    }
}

type KeepAliveResponses =
    Pin<Box<dyn Stream<Item = Result<LeaseKeepAliveResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(
        &self,
        request: Request<LeaseGrantRequest>,
    ) -> Result<Response<LeaseGrantResponse>, Status> {
        let caller = caller(&self.server, request.metadata(), request.extensions().get()).await?;
        require_user(&self.server, &caller)?;
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        self.server.check_quota(quota::LEASE_OVERHEAD).await?;
        Ok(Response::new(self.server.grant_lease(&caller, req).await?))
    }

    async fn lease_revoke(
        &self,
        request: Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        let caller = caller(&self.server, request.metadata(), request.extensions().get()).await?;
        require_user(&self.server, &caller)?;
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        let mut resp = self.server.propose(&caller, req).await?;
        self.server.finish_header(&mut resp.header);
        Ok(Response::new(resp))
    }

    type LeaseKeepAliveStream = KeepAliveResponses;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let caller = caller(&self.server, request.metadata(), request.extensions().get()).await?;
        require_user(&self.server, &caller)?;
        let forwarded = is_forwarded(&request);
        let require_leader = leader_required(&request);
        let mut requests = request.into_inner();
        let (tx, rx) = mpsc::channel(SEND_QUEUE);
        let server = self.server.clone();
        let forwarder = self.forwarder.clone();
        tokio::spawn(async move {
            let leader_lost = server.leader_lost();
            tokio::pin!(leader_lost);
            // Each keep-alive is answered on its own, so one lease whose expiry is being
            // revoked does not hold up the others multiplexed on the stream.
            let in_flight = Arc::new(Semaphore::new(KEEP_ALIVES_IN_FLIGHT));
            loop {
                let req = tokio::select! {
                    next = requests.message() => match next {
                        Ok(Some(req)) => req,
                        Ok(None) | Err(_) => return,
                    },
                    () = tx.closed() => return,
                    () = &mut leader_lost, if require_leader => {
                        let _ = tx.send(Err(EtcdError::NoLeader.into())).await;
                        return;
                    }
                };
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    return;
                };
                let (server, forwarder, tx) = (server.clone(), forwarder.clone(), tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    // etcd fills the header before renewing.
                    let header = server.current_header();
                    let answer = match renew(&server, &forwarder, req.id, forwarded).await {
                        Ok(ttl) => Ok(ttl),
                        Err(EtcdError::LeaseNotFound) => Ok(0),
                        Err(e) => Err(Status::from(e)),
                    };
                    let response = answer.map(|ttl| LeaseKeepAliveResponse {
                        header: Some(header),
                        id: req.id,
                        ttl,
                    });
                    let _ = tx.send(response).await;
                });
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        let caller = caller(&self.server, request.metadata(), request.extensions().get()).await?;
        require_user(&self.server, &caller)?;
        let forwarded = is_forwarded(&request);
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        if req.keys {
            // The attached keys are shown only to a caller who may read every one of them.
            self.readable_keys(&caller, &[req.id])?;
        }
        let header = self.server.current_header();
        let lessor = self.server.state().lessor();
        let mut status = lessor.status(req.id, req.keys);
        if matches!(status, Ok(None)) {
            // As for keep-alives: a new leader may not have applied the grant yet.
            self.server.wait_applied_commit(APPLY_WAIT).await;
            status = lessor.status(req.id, req.keys);
        }
        let mut resp = match status {
            Ok(Some(status)) => LeaseTimeToLiveResponse {
                header: None,
                id: req.id,
                ttl: status.remaining,
                granted_ttl: status.granted,
                keys: status.keys,
            },
            Ok(None) => LeaseTimeToLiveResponse {
                header: None,
                id: req.id,
                ttl: -1,
                granted_ttl: 0,
                keys: Vec::new(),
            },
            Err(NotPrimary) if forwarded => return Err(EtcdError::NotLeader.into()),
            Err(NotPrimary) => self.forwarder.time_to_live(&self.server, req).await?,
        };
        if req.keys {
            still_current(&self.server, &caller)?;
        }
        resp.header = Some(header);
        Ok(Response::new(resp))
    }

    async fn lease_leases(
        &self,
        request: Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        let caller = caller(&self.server, request.metadata(), request.extensions().get()).await?;
        let ids = self.server.state().lessor().ids();
        // Only a caller who may read every leased key learns which leases exist.
        self.readable_keys(&caller, &ids)?;
        let leases = ids.into_iter().map(|id| LeaseStatus { id }).collect();
        Ok(Response::new(LeaseLeasesResponse {
            header: Some(self.server.current_header()),
            leases,
        }))
    }
}
