//! What every gRPC service checks of an incoming call before serving it: the message size
//! against `--max-request-bytes` (with grpc-go's wording) and whether the client requires a
//! leader.

use crate::server::EtcdServer;

/// gRPC's own overhead on top of `--max-request-bytes` (etcd allows the same slack).
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// The largest request message a client may send.
pub(super) fn max_request_message(server: &EtcdServer) -> usize {
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

/// Whether a streaming call asked for a leader (clientv3's `WithRequireLeader` metadata):
/// such a call is refused with "etcdserver: no leader" while there is none, and its stream is
/// ended when the leader is lost.
pub(super) fn leader_required<T>(
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
