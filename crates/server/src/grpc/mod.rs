//! The etcd v3 gRPC services, each in its own file, and the router that serves them all; what
//! every service checks of an incoming call is in `request.rs` (the leader check as one layer
//! in front of all of them, [`LeaderGateLayer`]).

mod auth;
mod backend_snapshot;
mod caller;
mod cluster;
mod election;
mod identity;
mod kv;
mod lease;
mod lock;
mod maintenance;
mod range_in_pieces;
mod request;
mod watch;

use std::sync::Arc;

use oxcd_api::etcdserverpb::auth_server::AuthServer;
use oxcd_api::etcdserverpb::cluster_server::ClusterServer;
use oxcd_api::etcdserverpb::kv_server::KvServer;
use oxcd_api::etcdserverpb::lease_server::LeaseServer;
use oxcd_api::etcdserverpb::maintenance_server::MaintenanceServer;
use oxcd_api::etcdserverpb::watch_server::WatchServer;
use oxcd_api::v3electionpb::election_server::ElectionServer;
use oxcd_api::v3lockpb::lock_server::LockServer;

use auth::AuthService;
use cluster::ClusterService;
use election::ElectionService;
pub(crate) use identity::ClientIdentity;
use kv::KvService;
use lease::LeaseService;
use lock::LockService;
use maintenance::MaintenanceService;
use range_in_pieces::KvWithPieces;
pub(crate) use request::LeaderGateLayer;
pub(crate) use request::max_request_message;
use watch::WatchService;

use crate::server::EtcdServer;

/// How far past the limit tonic still decodes a message, so that the handler can reject it
/// with grpc-go's exact status (clients match on it) instead of tonic's wording. Anything
/// larger is refused by tonic itself, which bounds the memory a hostile client can pin.
const DECODE_SLACK_FACTOR: usize = 8;

/// All gRPC services of a member, ready to be served on a client listener.
pub(crate) fn routes(server: Arc<EtcdServer>) -> tonic::service::Routes {
    let max_recv = max_request_message(&server);
    let max_decode = max_recv * DECODE_SLACK_FACTOR;
    tonic::service::Routes::new(server.grpc_health().service())
        .add_service(KvWithPieces(
            KvServer::new(KvService::new(server.clone()))
                .max_decoding_message_size(max_decode)
                .max_encoding_message_size(usize::MAX),
        ))
        .add_service(
            ClusterServer::new(ClusterService::new(server.clone()))
                .max_decoding_message_size(max_recv),
        )
        .add_service(
            AuthServer::new(AuthService::new(server.clone())).max_decoding_message_size(max_recv),
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
            LockServer::new(LockService::new(server.clone())).max_decoding_message_size(max_recv),
        )
        .add_service(
            ElectionServer::new(ElectionService::new(server.clone()))
                .max_decoding_message_size(max_recv),
        )
        .add_service(
            MaintenanceServer::new(MaintenanceService::new(server))
                .max_decoding_message_size(max_recv)
                .max_encoding_message_size(usize::MAX),
        )
}
