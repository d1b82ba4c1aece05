//! The etcd v3 gRPC services, each in its own file, and the router that serves them all.

mod cluster;
mod kv;
mod maintenance;

use std::sync::Arc;

use oxcd_api::etcdserverpb::cluster_server::ClusterServer;
use oxcd_api::etcdserverpb::kv_server::KvServer;
use oxcd_api::etcdserverpb::maintenance_server::MaintenanceServer;

use crate::server::EtcdServer;

pub use cluster::ClusterService;
pub use kv::KvService;
pub use maintenance::MaintenanceService;

/// gRPC's own overhead on top of `--max-request-bytes` (etcd allows the same slack).
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// All gRPC services of a member, ready to be served on a client listener.
pub fn routes(server: Arc<EtcdServer>) -> tonic::service::Routes {
    let max_recv = server.settings().max_request_bytes + GRPC_OVERHEAD_BYTES;
    let (health_reporter, health) = tonic_health::server::health_reporter();
    drop(health_reporter);
    tonic::service::Routes::new(health)
        .add_service(
            KvServer::new(KvService::new(server.clone()))
                .max_decoding_message_size(max_recv)
                .max_encoding_message_size(usize::MAX),
        )
        .add_service(
            ClusterServer::new(ClusterService::new(server.clone()))
                .max_decoding_message_size(max_recv),
        )
        .add_service(
            MaintenanceServer::new(MaintenanceService::new(server))
                .max_decoding_message_size(max_recv)
                .max_encoding_message_size(usize::MAX),
        )
}
