//! The Cluster service: the member list. Membership changes (add, remove, update, promote) are
//! answered with a clear "not supported" status until reconfiguration lands.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use oxcd_api::etcdserverpb::cluster_server::Cluster;
use oxcd_api::etcdserverpb::{
    MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse,
    MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse,
    MemberUpdateRequest, MemberUpdateResponse,
};

use crate::server::EtcdServer;

/// `etcdserverpb.Cluster`.
pub(super) struct ClusterService {
    server: Arc<EtcdServer>,
}

impl ClusterService {
    /// The service for `server`.
    pub(super) fn new(server: Arc<EtcdServer>) -> Self {
        ClusterService { server }
    }
}

fn reconfiguration_unsupported(what: &str) -> Status {
    Status::unimplemented(format!(
        "oxcd: {what} is not supported yet (cluster membership is fixed at bootstrap)"
    ))
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        _request: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        Err(reconfiguration_unsupported("member add"))
    }

    async fn member_remove(
        &self,
        _request: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        Err(reconfiguration_unsupported("member remove"))
    }

    async fn member_update(
        &self,
        _request: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        Err(reconfiguration_unsupported("member update"))
    }

    async fn member_list(
        &self,
        request: Request<MemberListRequest>,
    ) -> Result<Response<MemberListResponse>, Status> {
        if request.into_inner().linearizable {
            self.server.read_barrier().await?;
        }
        // etcd's cluster service leaves the revision out of its headers.
        Ok(Response::new(MemberListResponse {
            header: Some(self.server.header(0)),
            members: self.server.state().membership().members(),
        }))
    }

    async fn member_promote(
        &self,
        _request: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        Err(reconfiguration_unsupported("member promote"))
    }
}
