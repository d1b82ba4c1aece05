//! The Lock service (`v3lockpb.Lock`): checks the call as etcd's gRPC layer does and hands it
//! to `coordination`; its errors go out as etcd's do, code `Unknown` with etcd's message.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use oxcd_api::v3lockpb::lock_server::Lock;
use oxcd_api::v3lockpb::{LockRequest, LockResponse, UnlockRequest, UnlockResponse};

use super::request::{check_message_size, max_request_message};
use crate::coordination::{self, CoordinationError};
use crate::server::EtcdServer;

/// `v3lockpb.Lock`.
pub(super) struct LockService {
    server: Arc<EtcdServer>,
    max_message: usize,
}

impl LockService {
    /// The service for `server`.
    pub(super) fn new(server: Arc<EtcdServer>) -> Self {
        let max_message = max_request_message(&server);
        LockService {
            server,
            max_message,
        }
    }
}

/// etcd's lock and election services return the errors of the requests they make as plain
/// errors, which gRPC sends with code `Unknown`.
pub(super) fn coordination_status(e: CoordinationError) -> Status {
    Status::unknown(e.to_string())
}

#[tonic::async_trait]
impl Lock for LockService {
    async fn lock(&self, request: Request<LockRequest>) -> Result<Response<LockResponse>, Status> {
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        let (key, header) = coordination::lock(&self.server, &req.name, req.lease)
            .await
            .map_err(coordination_status)?;
        Ok(Response::new(LockResponse {
            header: Some(header),
            key,
        }))
    }

    async fn unlock(
        &self,
        request: Request<UnlockRequest>,
    ) -> Result<Response<UnlockResponse>, Status> {
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        let header = coordination::unlock(&self.server, &req.key)
            .await
            .map_err(coordination_status)?;
        Ok(Response::new(UnlockResponse {
            header: Some(header),
        }))
    }
}
