//! Test double of the integration tests: an in-process KV server that records every request
//! it receives (and the connection it came on).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use oxcd_api::etcdserverpb::kv_server::{Kv, KvServer};
use oxcd_api::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, TxnRequest, TxnResponse,
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// Everything the fake server has received.
#[derive(Default, Debug)]
pub struct Received {
    pub puts: Vec<PutRequest>,
    pub ranges: Vec<RangeRequest>,
    pub txns: Vec<TxnRequest>,
    pub peers: HashSet<SocketAddr>,
}

/// A KV service that answers every request with an empty success, except that it fails
/// every `fail_every`-th request (counting from 1) with `Unavailable` when that is non-zero.
#[derive(Clone, Default)]
pub struct RecordingKv {
    pub received: Arc<Mutex<Received>>,
    fail_every: u64,
}

impl RecordingKv {
    /// Records the request's peer and decides whether it fails.
    fn admit<T>(
        &self,
        request: &Request<T>,
        store: impl FnOnce(&mut Received),
    ) -> Result<(), Status> {
        let mut received = self.received.lock().unwrap();
        if let Some(peer) = request.remote_addr() {
            received.peers.insert(peer);
        }
        store(&mut received);
        let seen = (received.puts.len() + received.ranges.len() + received.txns.len()) as u64;
        if self.fail_every > 0 && seen.is_multiple_of(self.fail_every) {
            return Err(Status::unavailable("injected failure"));
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl Kv for RecordingKv {
    async fn range(
        &self,
        request: Request<RangeRequest>,
    ) -> Result<Response<RangeResponse>, Status> {
        let body = request.get_ref().clone();
        self.admit(&request, |r| r.ranges.push(body))?;
        Ok(Response::new(RangeResponse::default()))
    }

    async fn put(&self, request: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let body = request.get_ref().clone();
        self.admit(&request, |r| r.puts.push(body))?;
        Ok(Response::new(PutResponse::default()))
    }

    async fn delete_range(
        &self,
        _request: Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        Err(Status::unimplemented("oxbench never deletes"))
    }

    async fn txn(&self, request: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        let body = request.get_ref().clone();
        self.admit(&request, |r| r.txns.push(body))?;
        Ok(Response::new(TxnResponse::default()))
    }

    async fn compact(
        &self,
        _request: Request<CompactionRequest>,
    ) -> Result<Response<CompactionResponse>, Status> {
        Err(Status::unimplemented("oxbench never compacts"))
    }
}

/// Starts a recording KV server on a free loopback port; returns its `host:port` and the log.
pub async fn start_recording_kv(fail_every: u64) -> (String, Arc<Mutex<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let kv = RecordingKv {
        fail_every,
        ..RecordingKv::default()
    };
    let received = Arc::clone(&kv.received);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(KvServer::new(kv))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    (address, received)
}
