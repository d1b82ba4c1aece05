//! The Lease service: grants and revocations go through raft; keep-alives and TTL queries are
//! answered by the leader, which alone times leases (a follower forwards them); the lease list
//! is served locally.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;
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

use super::{check_message_size, max_request_message, requires_leader};
use crate::apply::Applied;
use crate::lease::forward::{LeaderForwarder, is_forwarded};
use crate::lease::{NotPrimary, Renewal};
use crate::proposal::Request as Proposal;
use crate::server::EtcdServer;

/// Keep-alive responses queued per stream before the task waits for the client to read.
const SEND_QUEUE: usize = 16;
/// How long a forwarded keep-alive waits for the leader to apply what it committed (etcd's
/// leader HTTP handler waits the same), so a lease revoked in the log is not renewed.
const APPLY_WAIT: Duration = Duration::from_secs(1);

/// `etcdserverpb.Lease`.
pub struct LeaseService {
    server: Arc<EtcdServer>,
    forwarder: Arc<LeaderForwarder>,
    max_message: usize,
}

impl LeaseService {
    /// The service for `server`.
    pub fn new(server: Arc<EtcdServer>) -> Self {
        let max_message = max_request_message(&server);
        LeaseService {
            server,
            forwarder: Arc::new(LeaderForwarder::default()),
            max_message,
        }
    }
}

fn unexpected() -> Status {
    Status::internal("unexpected result for a lease request")
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
    loop {
        match lessor.renew(id) {
            Renewal::Renewed {
                ttl,
                clear_checkpoint,
            } => {
                if clear_checkpoint {
                    let clear = Proposal::LeaseCheckpoint(LeaseCheckpointRequest {
                        checkpoints: vec![LeaseCheckpoint {
                            id,
                            remaining_ttl: 0,
                        }],
                    });
                    server.propose(clear).await?;
                }
                server.metrics().watch_lease().record_renewed();
                return Ok(ttl);
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
        let mut req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        let lessor = self.server.state().lessor();
        while req.id == 0 {
            let id = self.server.new_lease_id();
            if !lessor.contains(id) {
                req.id = id;
            }
        }
        match self.server.propose(Proposal::LeaseGrant(req)).await? {
            Applied::LeaseGrant(mut resp) => {
                let revision = resp.header.as_ref().map_or(0, |h| h.revision);
                resp.header = Some(self.server.header(revision));
                Ok(Response::new(resp))
            }
            _ => Err(unexpected()),
        }
    }

    async fn lease_revoke(
        &self,
        request: Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        match self.server.propose(Proposal::LeaseRevoke(req)).await? {
            Applied::LeaseRevoke(mut resp) => {
                let revision = resp.header.as_ref().map_or(0, |h| h.revision);
                resp.header = Some(self.server.header(revision));
                Ok(Response::new(resp))
            }
            _ => Err(unexpected()),
        }
    }

    type LeaseKeepAliveStream = KeepAliveResponses;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let forwarded = is_forwarded(&request);
        let require_leader = requires_leader(&request);
        if require_leader && !self.server.has_leader() {
            return Err(EtcdError::NoLeader.into());
        }
        let mut requests = request.into_inner();
        let (tx, rx) = mpsc::channel(SEND_QUEUE);
        let server = self.server.clone();
        let forwarder = self.forwarder.clone();
        tokio::spawn(async move {
            let leader_lost = server.leader_lost();
            tokio::pin!(leader_lost);
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
                // etcd fills the header before renewing.
                let header = server.header(server.state().kv().current_revision());
                let ttl = match renew(&server, &forwarder, req.id, forwarded).await {
                    Ok(ttl) => ttl,
                    Err(EtcdError::LeaseNotFound) => 0,
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(e))).await;
                        return;
                    }
                };
                let response = LeaseKeepAliveResponse {
                    header: Some(header),
                    id: req.id,
                    ttl,
                };
                if tx.send(Ok(response)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        let forwarded = is_forwarded(&request);
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        let header = self
            .server
            .header(self.server.state().kv().current_revision());
        let lessor = self.server.state().lessor();
        let mut resp = match lessor.status(req.id, req.keys) {
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
        resp.header = Some(header);
        Ok(Response::new(resp))
    }

    async fn lease_leases(
        &self,
        _request: Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        let leases = self
            .server
            .state()
            .lessor()
            .ids()
            .into_iter()
            .map(|id| LeaseStatus { id })
            .collect();
        Ok(Response::new(LeaseLeasesResponse {
            header: Some(
                self.server
                    .header(self.server.state().kv().current_revision()),
            ),
            leases,
        }))
    }
}
