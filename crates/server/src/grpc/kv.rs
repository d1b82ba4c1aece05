//! The KV service: validates requests as etcd's gRPC layer does, serves ranges from local state
//! (after the ReadIndex barrier unless serializable) once the caller's read permission is
//! checked (one over `--range-buffer-bytes` in pieces: `range_in_pieces.rs`), and sends writes
//! through raft with their caller, checked where they are applied.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::kv_server::Kv;
use oxcd_api::etcdserverpb::request_op;
use oxcd_api::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, TxnRequest, TxnResponse,
};
use oxcd_mvcc::{RangeAnswer, is_txn_read_only, validate};

use super::caller::{caller, still_current};
use super::range_in_pieces;
use super::request::{check_message_size, max_request_message};
use crate::auth::RequestCheck;
use crate::quota;
use crate::server::EtcdServer;

/// `etcdserverpb.KV`.
pub(super) struct KvService {
    server: Arc<EtcdServer>,
    max_message: usize,
}

impl KvService {
    /// The service for `server`.
    pub(super) fn new(server: Arc<EtcdServer>) -> Self {
        let max_message = max_request_message(&server);
        KvService {
            server,
            max_message,
        }
    }
}

/// Whether every operation of both branches is a serializable range (etcd's rule: anything
/// else, nested txns included, needs the linearizable barrier).
fn txn_is_serializable(req: &TxnRequest) -> bool {
    req.success.iter().chain(&req.failure).all(
        |op| matches!(&op.request, Some(request_op::Request::RequestRange(r)) if r.serializable),
    )
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(
        &self,
        request: Request<RangeRequest>,
    ) -> Result<Response<RangeResponse>, Status> {
        let caller = caller(&self.server, request.metadata(), request.extensions().get()).await?;
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        validate::validate_range(&req)?;
        if !req.serializable {
            if self.server.state().membership().is_local_learner() {
                return Err(EtcdError::NotSupportedForLearner.into());
            }
            self.server.read_barrier().await?;
        }
        let state = self.server.state();
        RequestCheck::new(state.auth(), state.lessor(), &caller).range(&req.key, &req.range_end)?;
        let budget = self.server.settings().range_buffer_bytes;
        let answer = state.kv().range_within(&req, budget)?;
        still_current(&self.server, &caller)?;
        match answer {
            RangeAnswer::Whole(mut resp) => {
                self.server.finish_header(&mut resp.header);
                Ok(Response::new(resp))
            }
            RangeAnswer::Pieces(pieces) => {
                let header = self.server.header(pieces.revision());
                range_in_pieces::placeholder(pieces, header)
            }
        }
    }

    async fn put(&self, request: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let caller = caller(&self.server, request.metadata(), request.extensions().get()).await?;
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        self.server.check_quota(quota::put_cost(&req)).await?;
        validate::validate_put(&req)?;
        let mut resp = self.server.propose(&caller, req).await?;
        self.server.finish_header(&mut resp.header);
        Ok(Response::new(resp))
    }

    async fn delete_range(
        &self,
        request: Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        let caller = caller(&self.server, request.metadata(), request.extensions().get()).await?;
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        validate::validate_delete_range(&req)?;
        let mut resp = self.server.propose(&caller, req).await?;
        self.server.finish_header(&mut resp.header);
        Ok(Response::new(resp))
    }

    async fn txn(&self, request: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        let caller = caller(&self.server, request.metadata(), request.extensions().get()).await?;
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        self.server.check_quota(quota::txn_cost(&req)).await?;
        validate::validate_txn(&req, self.server.settings().max_txn_ops)?;
        if is_txn_read_only(&req) {
            // Like etcd, a txn that only reads is served locally, behind the ReadIndex barrier
            // unless every range in it asks for serializable reads.
            if !txn_is_serializable(&req) {
                self.server.read_barrier().await?;
            }
            let state = self.server.state();
            RequestCheck::new(state.auth(), state.lessor(), &caller).txn(&req)?;
            if let Some(result) = state.kv().txn_read_only(&req) {
                let mut resp = result?;
                still_current(&self.server, &caller)?;
                self.server.finish_header(&mut resp.header);
                return Ok(Response::new(resp));
            }
        }
        let mut resp = self.server.propose(&caller, req).await?;
        self.server.finish_header(&mut resp.header);
        Ok(Response::new(resp))
    }

    async fn compact(
        &self,
        request: Request<CompactionRequest>,
    ) -> Result<Response<CompactionResponse>, Status> {
        let caller = caller(&self.server, request.metadata(), request.extensions().get()).await?;
        let req = request.into_inner();
        check_message_size(&req, self.max_message)?;
        let physical = req.physical;
        let (mut resp, done) = self.server.propose(&caller, req).await?;
        if physical {
            done.wait()
                .await
                .map_err(|_| Status::from(EtcdError::Stopped))?;
        }
        self.server.finish_header(&mut resp.header);
        Ok(Response::new(resp))
    }
}
