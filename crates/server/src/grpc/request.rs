//! What every gRPC service checks of an incoming call before serving it: the message size
//! against `--max-request-bytes` (with grpc-go's wording) and, for every call of every service
//! at once (etcd's unary and stream interceptors), whether a learner may serve it and whether
//! the client requires a leader.

use std::future::Ready;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use futures::future::Either;
use tower::{Layer, Service};

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

/// Put in a call's extensions by [`LeaderGate`] when its client requires a leader.
#[derive(Clone, Copy, Debug)]
struct LeaderRequired;

/// etcd's interceptors as a tower layer in front of every gRPC method: a call whose metadata says
/// `hasleader=true` is refused with "etcdserver: no leader" (`Unavailable`) while this member
/// knows no leader — unary calls and streams alike, before the service sees them. An admitted
/// call is marked so that its stream, if it is one, ends when the leader is lost.
///
/// Before that, a learner refuses what etcd's learners refuse: everything but `Status`,
/// `Snapshot` and serializable `Range` (which `kv.rs` checks, the flag being in the message),
/// with "etcdserver: rpc not supported for learner".
#[derive(Clone)]
pub(crate) struct LeaderGateLayer {
    server: Arc<EtcdServer>,
}

impl LeaderGateLayer {
    /// Gates calls by the state of `server`.
    pub(crate) fn new(server: Arc<EtcdServer>) -> Self {
        LeaderGateLayer { server }
    }
}

impl<S> Layer<S> for LeaderGateLayer {
    type Service = LeaderGate<S>;

    fn layer(&self, inner: S) -> LeaderGate<S> {
        LeaderGate {
            inner,
            server: self.server.clone(),
        }
    }
}

/// The service made by [`LeaderGateLayer`]. A hand-written service rather than axum's
/// `from_fn`, which clones the inner service and boxes a future on every call.
#[derive(Clone)]
pub(crate) struct LeaderGate<S> {
    inner: S,
    server: Arc<EtcdServer>,
}

impl<S> Service<Request<Body>> for LeaderGate<S>
where
    S: Service<Request<Body>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        match refusal(&self.server, &mut request) {
            Some(refused) => Either::Left(std::future::ready(Ok(refused))),
            None => Either::Right(self.inner.call(request)),
        }
    }
}

/// The answer to a call the gate refuses; `None` admits it, marked if it requires a leader.
fn refusal(server: &EtcdServer, request: &mut Request<Body>) -> Option<Response> {
    if server.state().membership().is_local_learner()
        && !LEARNER_METHODS.contains(&request.uri().path())
    {
        return Some(refused(EtcdError::NotSupportedForLearner));
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
            return Some(refused(EtcdError::NoLeader));
        }
        request.extensions_mut().insert(LeaderRequired);
    }
    None
}

fn refused(error: EtcdError) -> Response {
    tonic::Status::from(error)
        .into_http::<Body>()
        .into_response()
}

/// Whether the client of a call (admitted by [`LeaderGate`]) requires a leader: its stream is
/// then ended with "etcdserver: no leader" once the leader has been lost for a while.
pub(super) fn leader_required<T>(request: &tonic::Request<T>) -> bool {
    request.extensions().get::<LeaderRequired>().is_some()
}
