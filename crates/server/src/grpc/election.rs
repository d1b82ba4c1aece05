//! The Election service (`v3electionpb.Election`): checks the call as etcd's gRPC layer does
//! and hands it to `coordination`; errors go out as etcd's do (see `lock.rs`). An Observe
//! stream is its own task, ended when the client goes away or — for a client that requires a
//! leader — when the cluster has had none for a while, as etcd ends such streams.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use oxcd_api::EtcdError;
use oxcd_api::v3electionpb::election_server::Election;
use oxcd_api::v3electionpb::{
    CampaignRequest, CampaignResponse, LeaderRequest, LeaderResponse, ProclaimRequest,
    ProclaimResponse, ResignRequest, ResignResponse,
};

use super::caller::caller;
use super::lock::{coordination_status, may_read_queue};
use super::request::{check_message_size, leader_required, max_request_message};
use crate::auth::Caller;
use crate::coordination;
use crate::server::EtcdServer;

/// Leader responses queued per Observe stream before its task waits for the client to read.
const SEND_QUEUE: usize = 8;

/// `v3electionpb.Election`.
pub(super) struct ElectionService {
    server: Arc<EtcdServer>,
    max_message: usize,
}

impl ElectionService {
    /// The service for `server`.
    pub(super) fn new(server: Arc<EtcdServer>) -> Self {
        let max_message = max_request_message(&server);
        ElectionService {
            server,
            max_message,
        }
    }

    /// The checks every call gets: its caller and the message size; answers the request, its
    /// caller and whether the client requires a leader.
    async fn admit<T: prost::Message>(
        &self,
        request: Request<T>,
    ) -> Result<(T, Caller, bool), Status> {
        let caller = caller(&self.server, request.metadata(), request.extensions().get())
            .await
            .map_err(|e| coordination_status(e.into()))?;
        let require_leader = leader_required(&request);
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        Ok((req, caller, require_leader))
    }
}

type LeaderResponses = Pin<Box<dyn Stream<Item = Result<LeaderResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Election for ElectionService {
    async fn campaign(
        &self,
        request: Request<CampaignRequest>,
    ) -> Result<Response<CampaignResponse>, Status> {
        let (req, caller, _) = self.admit(request).await?;
        may_read_queue(&self.server, &caller, &req.name)?;
        let (leader, header) =
            coordination::campaign(&self.server, &caller, &req.name, req.lease, &req.value)
                .await
                .map_err(coordination_status)?;
        Ok(Response::new(CampaignResponse {
            header: Some(header),
            leader: Some(leader),
        }))
    }

    async fn proclaim(
        &self,
        request: Request<ProclaimRequest>,
    ) -> Result<Response<ProclaimResponse>, Status> {
        let (req, caller, _) = self.admit(request).await?;
        let header = coordination::proclaim(&self.server, &caller, req.leader.as_ref(), &req.value)
            .await
            .map_err(coordination_status)?;
        Ok(Response::new(ProclaimResponse {
            header: Some(header),
        }))
    }

    async fn leader(
        &self,
        request: Request<LeaderRequest>,
    ) -> Result<Response<LeaderResponse>, Status> {
        let (req, caller, _) = self.admit(request).await?;
        may_read_queue(&self.server, &caller, &req.name)?;
        let resp = coordination::leader(&self.server, &req.name)
            .await
            .map_err(coordination_status)?;
        Ok(Response::new(LeaderResponse {
            header: resp.header,
            kv: resp.kvs.into_iter().next(),
        }))
    }

    type ObserveStream = LeaderResponses;

    async fn observe(
        &self,
        request: Request<LeaderRequest>,
    ) -> Result<Response<Self::ObserveStream>, Status> {
        let (req, caller, require_leader) = self.admit(request).await?;
        may_read_queue(&self.server, &caller, &req.name)?;
        let (tx, rx) = mpsc::channel(SEND_QUEUE);
        let server = self.server.clone();
        tokio::spawn(async move {
            let leader_lost = async {
                if require_leader {
                    server.leader_lost().await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = coordination::observe(&server, &req.name, &tx) => {}
                () = leader_lost => {
                    let _ = tx.send(Err(EtcdError::NoLeader.into())).await;
                }
                () = tx.closed() => {}
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn resign(
        &self,
        request: Request<ResignRequest>,
    ) -> Result<Response<ResignResponse>, Status> {
        let (req, caller, _) = self.admit(request).await?;
        let header = coordination::resign(&self.server, &caller, req.leader.as_ref())
            .await
            .map_err(coordination_status)?;
        Ok(Response::new(ResignResponse {
            header: Some(header),
        }))
    }
}
