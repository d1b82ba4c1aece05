//! The Lock service (`v3lockpb.Lock`): checks the call as etcd's gRPC layer does and hands it
//! to `coordination`; its errors go out as etcd's do, code `Unknown` with etcd's message.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use oxcd_api::v3lockpb::lock_server::Lock;
use oxcd_api::v3lockpb::{LockRequest, LockResponse, UnlockRequest, UnlockResponse};

use oxcd_api::key_range::prefix_end;
use oxcd_api::queue::queue_prefix;

use super::caller::caller;
use super::request::{check_message_size, max_request_message};
use crate::auth::{Caller, RequestCheck};
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

/// Whether `caller` may read the queue of lock or election `name`: etcd's recipes read it
/// (every key under `name/`) to find who is ahead; the writes are checked when applied.
pub(super) fn may_read_queue(
    server: &EtcdServer,
    caller: &Caller,
    name: &[u8],
) -> Result<(), Status> {
    let prefix = queue_prefix(name);
    let state = server.state();
    RequestCheck::new(state.auth(), state.lessor(), caller)
        .range(&prefix, &prefix_end(&prefix))
        .map_err(|e| coordination_status(e.into()))
}

/// etcd's lock and election services return the errors of the requests they make as plain
/// errors, which gRPC sends with code `Unknown`.
pub(super) fn coordination_status(e: CoordinationError) -> Status {
    Status::unknown(e.to_string())
}

#[tonic::async_trait]
impl Lock for LockService {
    async fn lock(&self, request: Request<LockRequest>) -> Result<Response<LockResponse>, Status> {
        let caller = caller(&self.server, request.metadata(), request.extensions().get())
            .await
            .map_err(|e| coordination_status(e.into()))?;
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        may_read_queue(&self.server, &caller, &req.name)?;
        let (key, header) = coordination::lock(&self.server, &caller, &req.name, req.lease)
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
        let caller = caller(&self.server, request.metadata(), request.extensions().get())
            .await
            .map_err(|e| coordination_status(e.into()))?;
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        let header = coordination::unlock(&self.server, &caller, &req.key)
            .await
            .map_err(coordination_status)?;
        Ok(Response::new(UnlockResponse {
            header: Some(header),
        }))
    }
}
