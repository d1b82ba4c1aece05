//! The Cluster service: listing and changing the members. Additions, removals and promotions
//! are raft conf changes, updates ordinary entries; before proposing one a member applies
//! etcd's `--strict-reconfig-check` rules (`membership/change.rs`), and a promotion is decided
//! by the leader, the only member that knows how far a learner has caught up: a follower
//! forwards it there, as etcd does.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tonic::{Request, Response, Status};

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::cluster_client::ClusterClient;
use oxcd_api::etcdserverpb::cluster_server::Cluster;
use oxcd_api::etcdserverpb::{
    Member, MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse,
    MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse,
    MemberUpdateRequest, MemberUpdateResponse,
};
use oxcd_etcd_compat::config::{Url, added_member_id};
use oxcd_raft::{MemberChange, Replication};

use super::caller::admin;
use crate::learner_promotion;
use crate::membership::{ChangeRequest, PeerLinks};
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

    /// The leader's replication progress if this member leads, for the strict checks.
    async fn replication(&self) -> Result<Option<Replication>, Status> {
        self.server
            .raft()
            .replication()
            .await
            .map_err(|_| Status::from(EtcdError::Stopped))
    }

    /// Since when this member's transport has been reaching each peer.
    fn links(&self) -> PeerLinks<'_> {
        let raft = self.server.raft();
        PeerLinks {
            active_since: Box::new(|id| raft.peer_active_since(id)),
            now: Instant::now(),
        }
    }

    fn strict(&self) -> bool {
        self.server.settings().strict_reconfig_check
    }
}

/// A member's peer URLs checked as etcd's `types.NewURLs` checks them, as text, sorted.
fn peer_urls(raw: &[String]) -> Result<Vec<String>, EtcdError> {
    let mut urls = raw
        .iter()
        .map(|u| Url::parse_etcd(u))
        .collect::<Result<Vec<Url>, String>>()
        .map_err(|_| EtcdError::MemberBadUrls)?;
    urls.sort_by_key(ToString::to_string);
    Ok(urls.iter().map(ToString::to_string).collect())
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        request: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        admin(&self.server, request.metadata(), request.extensions().get()).await?;
        let request = request.into_inner();
        let urls = peer_urls(&request.peer_ur_ls)?;
        let parsed: Vec<Url> = urls.iter().filter_map(|u| Url::parse(u).ok()).collect();
        let member = Member {
            id: added_member_id(&parsed, SystemTime::now()),
            peer_ur_ls: urls,
            is_learner: request.is_learner,
            ..Default::default()
        };
        if self.strict() {
            self.server
                .state()
                .membership()
                .may_add(member.is_learner, &self.links())?;
        }
        let change = if member.is_learner {
            MemberChange::AddLearner(member.id)
        } else {
            MemberChange::AddVoter(member.id)
        };
        let members = self
            .server
            .propose_member_change(change, Some(member.clone()), false)
            .await?;
        Ok(Response::new(MemberAddResponse {
            header: Some(self.server.header(0)),
            member: Some(member),
            members,
        }))
    }

    async fn member_remove(
        &self,
        request: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        admin(&self.server, request.metadata(), request.extensions().get()).await?;
        let id = request.into_inner().id;
        if self.strict() {
            self.server
                .state()
                .membership()
                .may_remove(id, &self.links())?;
        }
        let members = self
            .server
            .propose_member_change(MemberChange::Remove(id), None, false)
            .await?;
        Ok(Response::new(MemberRemoveResponse {
            header: Some(self.server.header(0)),
            members,
        }))
    }

    async fn member_update(
        &self,
        request: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        let caller = admin(&self.server, request.metadata(), request.extensions().get()).await?;
        let request = request.into_inner();
        let members = self.server.propose(&caller, request).await?;
        Ok(Response::new(MemberUpdateResponse {
            header: Some(self.server.header(0)),
            members,
        }))
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
        request: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        admin(&self.server, request.metadata(), request.extensions().get()).await?;
        let id = request.into_inner().id;
        let Some(replication) = self.replication().await? else {
            self.server
                .state()
                .membership()
                .check(&ChangeRequest::Promote(id))?;
            return self.forward_promote(id).await;
        };
        let members = learner_promotion::promote(&self.server, id, &replication).await?;
        Ok(Response::new(MemberPromoteResponse {
            header: Some(self.server.header(0)),
            members,
        }))
    }
}

impl ClusterService {
    /// Asks the leader to promote `id` (through its client URLs), retrying until the request
    /// timeout while there is no leader or it cannot be reached; the leader's refusals are
    /// final.
    async fn forward_promote(&self, id: u64) -> Result<Response<MemberPromoteResponse>, Status> {
        let deadline = tokio::time::Instant::now() + self.server.settings().request_timeout;
        while tokio::time::Instant::now() < deadline {
            let leader = self.server.raft().status().leader;
            let urls = self
                .server
                .state()
                .membership()
                .member(leader)
                .map(|m| m.client_ur_ls)
                .unwrap_or_default();
            for url in urls {
                match promote_at(&url, id).await {
                    Ok(response) => return Ok(Response::new(response)),
                    Err(status) if status.code() != tonic::Code::Unavailable => {
                        return Err(status);
                    }
                    Err(_) => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(EtcdError::Timeout.into())
    }
}

async fn promote_at(url: &str, id: u64) -> Result<MemberPromoteResponse, Status> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())
        .map_err(|e| Status::invalid_argument(e.to_string()))?
        .connect_timeout(Duration::from_secs(1))
        .connect()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    Ok(ClusterClient::new(channel)
        .member_promote(MemberPromoteRequest { id })
        .await?
        .into_inner())
}
