//! The Maintenance service: member status (everything `etcdctl endpoint status` shows), Hash
//! and HashKV for cross-member consistency checks, alarms, leader transfer and backend
//! snapshots (`backend_snapshot.rs`), online defragmentation. Downgrades answer "not
//! supported" until they land.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tonic::{Request, Response, Status};

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::alarm_request::AlarmAction;
use oxcd_api::etcdserverpb::maintenance_server::Maintenance;
use oxcd_api::etcdserverpb::{
    AlarmRequest, AlarmResponse, AlarmType, DefragmentRequest, DefragmentResponse,
    DowngradeRequest, DowngradeResponse, HashKvRequest, HashKvResponse, HashRequest, HashResponse,
    MoveLeaderRequest, MoveLeaderResponse, SnapshotRequest, SnapshotResponse, StatusRequest,
    StatusResponse,
};

use super::backend_snapshot;
use super::caller::{admin, caller};
use crate::alarms::{Alarms, alarm_name};
use crate::membership::Membership;
use crate::server::EtcdServer;
use crate::version::SERVER_VERSION;

/// `etcdserverpb.Maintenance`.
pub(super) struct MaintenanceService {
    server: Arc<EtcdServer>,
}

impl MaintenanceService {
    /// The service for `server`.
    pub(super) fn new(server: Arc<EtcdServer>) -> Self {
        MaintenanceService { server }
    }
}

fn unsupported(what: &str) -> Status {
    Status::unimplemented(format!("oxcd: {what} is not supported yet"))
}

/// `StatusResponse.errors` as etcd fills it: "no leader" when the member knows none, then each
/// active alarm in protobuf's compact text form.
fn status_errors(leader: u64, alarms: &Alarms) -> Vec<String> {
    let no_leader = (leader == 0).then(|| EtcdError::NoLeader.message().to_string());
    let raised = alarms
        .get(AlarmType::None as i32)
        .into_iter()
        .map(|m| format!("memberID:{} alarm:{} ", m.member_id, alarm_name(m.alarm)));
    no_leader.into_iter().chain(raised).collect()
}

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<SnapshotResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(
        &self,
        request: Request<AlarmRequest>,
    ) -> Result<Response<AlarmResponse>, Status> {
        // Raising and clearing alarms is for roots only (etcd 3.5 lets anyone); listing them
        // is not.
        let request_caller =
            caller(&self.server, request.metadata(), request.extensions().get()).await?;
        let request = request.into_inner();
        if request.action != AlarmAction::Get as i32 {
            self.server
                .state()
                .auth()
                .check_admin(&request_caller.user)?;
        }
        // Listing goes through raft as well, as in etcd: the answer is the alarms as of a
        // point of the log no earlier than the call.
        let mut resp = self.server.propose(&request_caller, request).await?;
        self.server.finish_header(&mut resp.header);
        Ok(Response::new(resp))
    }

    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let raft = self.server.raft().status();
        let backend = self.server.state().backend();
        Ok(Response::new(StatusResponse {
            header: Some(self.server.current_header()),
            version: SERVER_VERSION.to_string(),
            db_size: backend.size() as i64,
            leader: raft.leader,
            raft_index: raft.commit,
            raft_term: raft.term,
            raft_applied_index: self.server.state().applied_index(),
            errors: status_errors(raft.leader, self.server.state().alarms()),
            db_size_in_use: backend.size_in_use() as i64,
            is_learner: raft.is_learner,
        }))
    }

    async fn defragment(
        &self,
        request: Request<DefragmentRequest>,
    ) -> Result<Response<DefragmentResponse>, Status> {
        admin(&self.server, request.metadata(), request.extensions().get()).await?;
        tracing::info!("starting defragment");
        let server = self.server.clone();
        let report = tokio::task::spawn_blocking(move || {
            let store = server.metrics().store();
            let _running = store.defrag_running();
            let started = std::time::Instant::now();
            let report = server.state().defragment();
            store.record_defrag(started.elapsed());
            report
        })
        .await
        .map_err(|_| Status::from(EtcdError::Stopped))?;
        match report {
            Ok(report) => {
                tracing::info!(
                    current_db_size_bytes = report.size_after,
                    db_size_bytes_before = report.size_before,
                    writes_held = ?report.writes_held,
                    took = ?report.took,
                    "finished defragment"
                );
                // etcd answers an empty message, header included.
                Ok(Response::new(DefragmentResponse { header: None }))
            }
            Err(e) => {
                tracing::warn!(error = %e.0, "failed to defragment");
                Err(Status::unknown(e.0))
            }
        }
    }

    async fn hash(&self, request: Request<HashRequest>) -> Result<Response<HashResponse>, Status> {
        admin(&self.server, request.metadata(), request.extensions().get()).await?;
        let kv = self.server.state().kv();
        let started = std::time::Instant::now();
        let (hash, revision) =
            tokio::task::spawn_blocking(move || kv.hash(&Membership::is_member_local))
                .await
                .map_err(|_| Status::from(EtcdError::Stopped))??;
        self.server.metrics().store().record_hash(started.elapsed());
        Ok(Response::new(HashResponse {
            header: Some(self.server.header(revision)),
            hash,
        }))
    }

    async fn hash_kv(
        &self,
        request: Request<HashKvRequest>,
    ) -> Result<Response<HashKvResponse>, Status> {
        admin(&self.server, request.metadata(), request.extensions().get()).await?;
        let revision = request.into_inner().revision;
        let kv = self.server.state().kv();
        let started = std::time::Instant::now();
        let (hash, current, compact_revision) =
            tokio::task::spawn_blocking(move || kv.hash_kv(revision))
                .await
                .map_err(|_| Status::from(EtcdError::Stopped))??;
        self.server
            .metrics()
            .store()
            .record_hash_rev(started.elapsed());
        Ok(Response::new(HashKvResponse {
            header: Some(self.server.header(current)),
            hash,
            compact_revision,
        }))
    }

    type SnapshotStream = SnapshotStream;

    async fn snapshot(
        &self,
        request: Request<SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        admin(&self.server, request.metadata(), request.extensions().get()).await?;
        let chunks = backend_snapshot::stream(&self.server).await?;
        Ok(Response::new(Box::pin(chunks)))
    }

    async fn move_leader(
        &self,
        request: Request<MoveLeaderRequest>,
    ) -> Result<Response<MoveLeaderResponse>, Status> {
        admin(&self.server, request.metadata(), request.extensions().get()).await?;
        let target = request.into_inner().target_id;
        let raft = self.server.raft();
        let status = raft.status();
        if status.leader != status.id {
            return Err(EtcdError::NotLeader.into());
        }
        if self.server.state().membership().member(target).is_none() {
            return Err(EtcdError::BadLeaderTransferee.into());
        }
        let timeout = self
            .server
            .settings()
            .request_timeout
            .max(Duration::from_secs(1));
        raft.transfer_leader(target, timeout)
            .await
            .map_err(|_| Status::from(EtcdError::Timeout))?;
        // etcd 3.5.1 answers a transfer with an empty message, header included.
        Ok(Response::new(MoveLeaderResponse { header: None }))
    }

    async fn downgrade(
        &self,
        _request: Request<DowngradeRequest>,
    ) -> Result<Response<DowngradeResponse>, Status> {
        Err(unsupported("downgrade"))
    }
}
