//! What every gRPC service checks of an incoming call before serving it: the message size
//! against `--max-request-bytes` (with grpc-go's wording) and, for every call of every service
//! at once (etcd's unary and stream interceptors), whether a learner may serve it and whether
//! the client requires a leader.

use std::sync::Arc;

use axum::extract::State;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use oxcd_api::EtcdError;

use crate::server::EtcdServer;

/// The metadata key a client names its API version under (etcd's
/// `etcd_server_client_requests_total` label).
const CLIENT_API_VERSION_KEY: &str = "client-api-version";

/// gRPC's own overhead on top of `--max-request-bytes` (etcd allows the same slack).
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// The largest request message a client may send.
pub(crate) fn max_request_message(server: &EtcdServer) -> usize {
    server.settings().max_request_bytes + GRPC_OVERHEAD_BYTES
}

/// Rejects a message over `limit` the way grpc-go does in etcd: `ResourceExhausted`,
/// "grpc: received message larger than max (N vs. M)".
pub(super) fn check_message_size<M: prost::Message>(
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

/// The methods a learner serves (`Range` only when serializable).
const LEARNER_METHODS: [&str; 3] = [
    "/etcdserverpb.Maintenance/Status",
    "/etcdserverpb.Maintenance/Snapshot",
    "/etcdserverpb.KV/Range",
];

/// The gRPC metadata by which a client requires a leader (clientv3's `WithRequireLeader`).
const REQUIRE_LEADER_KEY: &str = "hasleader";

/// Put in a call's extensions by [`leader_gate`] when its client requires a leader.
#[derive(Clone, Copy, Debug)]
struct LeaderRequired;

/// etcd's interceptors, in front of every gRPC method: a call whose metadata says
/// `hasleader=true` is refused with "etcdserver: no leader" (`Unavailable`) while this member
/// knows no leader — unary calls and streams alike, before the service sees them. An admitted
/// call is marked so that its stream, if it is one, ends when the leader is lost.
///
/// Before that, a learner refuses what etcd's learners refuse: everything but `Status`,
/// `Snapshot` and serializable `Range` (which `kv.rs` checks, the flag being in the message),
/// with "etcdserver: rpc not supported for learner".
pub(crate) async fn leader_gate(
    State(server): State<Arc<EtcdServer>>,
    mut request: axum::extract::Request,
    next: Next,
) -> Response {
    if server.state().membership().is_local_learner()
        && !LEARNER_METHODS.contains(&request.uri().path())
    {
        return tonic::Status::from(EtcdError::NotSupportedForLearner)
            .into_http::<axum::body::Body>()
            .into_response();
    }
    let client_api_version = request
        .headers()
        .get(CLIENT_API_VERSION_KEY)
        .and_then(|v| v.to_str().ok());
    server
        .metrics()
        .grpc()
        .record_client_request(request.uri().path(), client_api_version);
    // Only the first value counts, as in etcd.
    let required = request
        .headers()
        .get(REQUIRE_LEADER_KEY)
        .is_some_and(|v| v.as_bytes() == b"true");
    if required {
        if !server.has_leader() {
            return tonic::Status::from(EtcdError::NoLeader)
                .into_http::<axum::body::Body>()
                .into_response();
        }
        request.extensions_mut().insert(LeaderRequired);
    }
    next.run(request).await
}

/// Whether the client of a call (admitted by [`leader_gate`]) requires a leader: its stream is
/// then ended with "etcdserver: no leader" once the leader has been lost for a while.
pub(super) fn leader_required<T>(request: &tonic::Request<T>) -> bool {
    request.extensions().get::<LeaderRequired>().is_some()
}
