//! The etcd v3 gRPC services, each in its own file, and the router that serves them all.

mod cluster;
mod kv;
mod lease;
mod maintenance;
mod watch;

use std::sync::Arc;

use oxcd_api::etcdserverpb::cluster_server::ClusterServer;
use oxcd_api::etcdserverpb::kv_server::KvServer;
use oxcd_api::etcdserverpb::lease_server::LeaseServer;
use oxcd_api::etcdserverpb::maintenance_server::MaintenanceServer;
use oxcd_api::etcdserverpb::watch_server::WatchServer;

use crate::server::EtcdServer;

pub use cluster::ClusterService;
pub use kv::KvService;
pub use lease::LeaseService;
pub use maintenance::MaintenanceService;
pub use watch::WatchService;

/// gRPC's own overhead on top of `--max-request-bytes` (etcd allows the same slack).
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// How far past the limit tonic still decodes a message, so that the handler can reject it
/// with grpc-go's exact status (clients match on it) instead of tonic's wording. Anything
/// larger is refused by tonic itself, which bounds the memory a hostile client can pin.
const DECODE_SLACK_FACTOR: usize = 8;

/// The largest request message a client may send.
pub(crate) fn max_request_message(server: &EtcdServer) -> usize {
    server.settings().max_request_bytes + GRPC_OVERHEAD_BYTES
}

/// Rejects a message over `limit` the way grpc-go does in etcd: `ResourceExhausted`,
/// "grpc: received message larger than max (N vs. M)".
pub(crate) fn check_message_size<M: prost::Message>(
    message: &M,
    limit: usize,
) -> Result<(), tonic::Status> {
    let size = message.encoded_len();
    if size > limit {
        return Err(tonic::Status::resource_exhausted(format!(
            "grpc: received message larger than max ({size} vs. {limit})"
        )));
    }
    Ok(())
}

/// Whether a streaming call asked for a leader (clientv3's `WithRequireLeader` metadata):
/// such a call is refused with "etcdserver: no leader" while there is none, and its stream is
/// ended when the leader is lost.
pub(crate) fn leader_required<T>(
    server: &EtcdServer,
    request: &tonic::Request<T>,
) -> Result<bool, tonic::Status> {
    let required = request
        .metadata()
        .get("hasleader")
        .is_some_and(|v| v.as_bytes() == b"true");
    if required && !server.has_leader() {
        return Err(oxcd_api::EtcdError::NoLeader.into());
    }
    Ok(required)
}

/// All gRPC services of a member, ready to be served on a client listener.
pub fn routes(server: Arc<EtcdServer>) -> tonic::service::Routes {
    let max_recv = max_request_message(&server);
    let max_decode = max_recv * DECODE_SLACK_FACTOR;
    let (health_reporter, health) = tonic_health::server::health_reporter();
    drop(health_reporter);
    tonic::service::Routes::new(health)
        .add_service(
            KvServer::new(KvService::new(server.clone()))
                .max_decoding_message_size(max_decode)
                .max_encoding_message_size(usize::MAX),
        )
        .add_service(
            ClusterServer::new(ClusterService::new(server.clone()))
                .max_decoding_message_size(max_recv),
        )
        .add_service(
            LeaseServer::new(LeaseService::new(server.clone())).max_decoding_message_size(max_recv),
        )
        .add_service(
            WatchServer::new(WatchService::new(server.clone()))
                .max_decoding_message_size(max_recv)
                .max_encoding_message_size(usize::MAX),
        )
        .add_service(
            MaintenanceServer::new(MaintenanceService::new(server))
                .max_decoding_message_size(max_recv)
                .max_encoding_message_size(usize::MAX),
        )
}
