//! gRPC request counters under go-grpc-prometheus's names (`grpc_server_started_total`,
//! `grpc_server_handled_total`, `grpc_server_msg_received_total`, `grpc_server_msg_sent_total`)
//! and etcd's (`etcd_network_client_grpc_received_bytes_total` and `_sent_bytes_total`: the
//! messages' bytes, as etcd's codec counts them; `etcd_server_client_requests_total`), kept by
//! a tower layer on the gRPC routes (the client requests by `LeaderGate`, where etcd's
//! interceptors count them).
//!
//! Every method etcd serves has a fixed slot (found by binary search on the request path), so
//! counting a call is two relaxed atomic adds and no allocation. The status code of a call is
//! read from the response headers when the call failed before replying (trailers-only), and
//! otherwise from the trailers as the response body ends; a body dropped before its trailers
//! (the client went away) counts as `Canceled`. Messages are counted from gRPC's 5-byte
//! prefixes as the bodies pass (`MessageTally`), without copying them.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response};
use http_body::{Frame, SizeHint};
use oxcd_raft::metrics::{Histogram, HistogramSnapshot};
use tower::{Layer, Service};

/// How a method streams, as go-grpc-prometheus labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrpcType {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStream,
    /// Streams both ways.
    BidiStream,
}

impl GrpcType {
    fn label(self) -> &'static str {
        match self {
            GrpcType::Unary => "unary",
            GrpcType::ServerStream => "server_stream",
            GrpcType::BidiStream => "bidi_stream",
        }
    }
}

/// A method etcd serves: its path, type, and whether etcd reports it before its first call.
struct Method {
    path: &'static str,
    kind: GrpcType,
    /// etcd registers its client services with go-grpc-prometheus up front, so they show with
    /// zero counts; the lock and election services are added later and show once called.
    preregistered: bool,
}

const fn method(path: &'static str, kind: GrpcType) -> Method {
    Method {
        path,
        kind,
        preregistered: true,
    }
}

const fn late(path: &'static str, kind: GrpcType) -> Method {
    Method {
        path,
        kind,
        preregistered: false,
    }
}

use GrpcType::{BidiStream, ServerStream, Unary};

/// Sorted by path (the lookup binary-searches it).
const METHODS: &[Method] = &[
    method("/etcdserverpb.Auth/AuthDisable", Unary),
    method("/etcdserverpb.Auth/AuthEnable", Unary),
    method("/etcdserverpb.Auth/AuthStatus", Unary),
    method("/etcdserverpb.Auth/Authenticate", Unary),
    method("/etcdserverpb.Auth/RoleAdd", Unary),
    method("/etcdserverpb.Auth/RoleDelete", Unary),
    method("/etcdserverpb.Auth/RoleGet", Unary),
    method("/etcdserverpb.Auth/RoleGrantPermission", Unary),
    method("/etcdserverpb.Auth/RoleList", Unary),
    method("/etcdserverpb.Auth/RoleRevokePermission", Unary),
    method("/etcdserverpb.Auth/UserAdd", Unary),
    method("/etcdserverpb.Auth/UserChangePassword", Unary),
    method("/etcdserverpb.Auth/UserDelete", Unary),
    method("/etcdserverpb.Auth/UserGet", Unary),
    method("/etcdserverpb.Auth/UserGrantRole", Unary),
    method("/etcdserverpb.Auth/UserList", Unary),
    method("/etcdserverpb.Auth/UserRevokeRole", Unary),
    method("/etcdserverpb.Cluster/MemberAdd", Unary),
    method("/etcdserverpb.Cluster/MemberList", Unary),
    method("/etcdserverpb.Cluster/MemberPromote", Unary),
    method("/etcdserverpb.Cluster/MemberRemove", Unary),
    method("/etcdserverpb.Cluster/MemberUpdate", Unary),
    method("/etcdserverpb.KV/Compact", Unary),
    method("/etcdserverpb.KV/DeleteRange", Unary),
    method("/etcdserverpb.KV/Put", Unary),
    method("/etcdserverpb.KV/Range", Unary),
    method("/etcdserverpb.KV/Txn", Unary),
    method("/etcdserverpb.Lease/LeaseGrant", Unary),
    method("/etcdserverpb.Lease/LeaseKeepAlive", BidiStream),
    method("/etcdserverpb.Lease/LeaseLeases", Unary),
    method("/etcdserverpb.Lease/LeaseRevoke", Unary),
    method("/etcdserverpb.Lease/LeaseTimeToLive", Unary),
    method("/etcdserverpb.Maintenance/Alarm", Unary),
    method("/etcdserverpb.Maintenance/Defragment", Unary),
    method("/etcdserverpb.Maintenance/Downgrade", Unary),
    method("/etcdserverpb.Maintenance/Hash", Unary),
    method("/etcdserverpb.Maintenance/HashKV", Unary),
    method("/etcdserverpb.Maintenance/MoveLeader", Unary),
    method("/etcdserverpb.Maintenance/Snapshot", ServerStream),
    method("/etcdserverpb.Maintenance/Status", Unary),
    method("/etcdserverpb.Watch/Watch", BidiStream),
    method("/grpc.health.v1.Health/Check", Unary),
    method("/grpc.health.v1.Health/Watch", ServerStream),
    late("/v3electionpb.Election/Campaign", Unary),
    late("/v3electionpb.Election/Leader", Unary),
    late("/v3electionpb.Election/Observe", ServerStream),
    late("/v3electionpb.Election/Proclaim", Unary),
    late("/v3electionpb.Election/Resign", Unary),
    late("/v3lockpb.Lock/Lock", Unary),
    late("/v3lockpb.Lock/Unlock", Unary),
];

/// gRPC status code names, indexed by code number (grpc-go's `codes.Code.String()`).
const CODE_NAMES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];
const CANCELED: usize = 1;
const UNKNOWN: usize = 2;

struct MethodCounters {
    started: AtomicU64,
    handled: [AtomicU64; CODE_NAMES.len()],
    messages_received: AtomicU64,
    messages_sent: AtomicU64,
    /// From the call to its status, kept with `--metrics=extensive`.
    handling: Histogram,
}

impl Default for MethodCounters {
    fn default() -> Self {
        MethodCounters {
            started: AtomicU64::new(0),
            handled: Default::default(),
            messages_received: AtomicU64::new(0),
            messages_sent: AtomicU64::new(0),
            handling: Histogram::new(&HANDLING_BUCKETS),
        }
    }
}

/// The Prometheus client's default buckets, which go-grpc-prometheus's handling histogram uses.
static HANDLING_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One method's counts at scrape time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MethodCounts {
    /// e.g. `etcdserverpb.KV`.
    pub(crate) service: &'static str,
    /// e.g. `Range`.
    pub(crate) method: &'static str,
    /// `unary`, `server_stream` or `bidi_stream`.
    pub(crate) grpc_type: &'static str,
    /// Calls started.
    pub(crate) started: u64,
    /// Calls finished, by status code name.
    pub(crate) handled: Vec<(&'static str, u64)>,
    /// Request messages received.
    pub(crate) messages_received: u64,
    /// Response messages sent.
    pub(crate) messages_sent: u64,
    /// Handling latency (kept with `--metrics=extensive` only).
    pub(crate) handling: HistogramSnapshot,
}

/// Client requests by kind (`unary` or `stream`) and the `client-api-version` the client sent
/// (`unknown` without one), as `etcd_server_client_requests_total` labels them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientRequests {
    pub(crate) kind: &'static str,
    pub(crate) client_api_version: String,
    pub(crate) count: u64,
}

/// The per-method gRPC counters of a member.
pub(crate) struct GrpcMetrics {
    methods: Box<[MethodCounters]>,
    /// `--metrics=extensive`: handling latencies are kept.
    extensive: AtomicBool,
    received_bytes: AtomicU64,
    sent_bytes: AtomicU64,
    /// Requests without a client version, unary and streams: most clients send none, so
    /// these take no lock.
    unversioned_requests: [AtomicU64; 2],
    /// The others: a few rows (one per kind and client version seen), where a scan beats a
    /// map.
    client_requests: parking_lot::Mutex<Vec<ClientRequests>>,
}

impl Default for GrpcMetrics {
    fn default() -> Self {
        GrpcMetrics {
            methods: METHODS.iter().map(|_| MethodCounters::default()).collect(),
            extensive: AtomicBool::new(false),
            received_bytes: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            unversioned_requests: Default::default(),
            client_requests: parking_lot::Mutex::default(),
        }
    }
}

impl GrpcMetrics {
    fn slot(path: &str) -> Option<usize> {
        METHODS.binary_search_by(|m| m.path.cmp(path)).ok()
    }

    fn started(&self, slot: usize) {
        self.methods[slot].started.fetch_add(1, Ordering::Relaxed);
    }

    fn handled(&self, slot: usize, code: usize) {
        self.methods[slot].handled[code.min(CODE_NAMES.len() - 1)].fetch_add(1, Ordering::Relaxed);
    }

    /// A call that began at `started` ended with `code`.
    fn finished(&self, slot: usize, code: usize, started: Instant) {
        self.handled(slot, code);
        if self.is_extensive() {
            self.methods[slot].handling.observe(started.elapsed());
        }
    }

    /// Keeps handling latencies from now on (`--metrics=extensive`).
    pub(crate) fn enable_handling_histograms(&self) {
        self.extensive.store(true, Ordering::Relaxed);
    }

    /// Whether handling latencies are kept.
    pub(crate) fn is_extensive(&self) -> bool {
        self.extensive.load(Ordering::Relaxed)
    }

    /// A call of `path` admitted by the interceptors, from a client that sent
    /// `client_api_version` (if any).
    pub(crate) fn record_client_request(&self, path: &str, client_api_version: Option<&str>) {
        let (kind, slot) = match Self::slot(path).map(|slot| METHODS[slot].kind) {
            Some(GrpcType::Unary) => (UNARY, 0),
            Some(GrpcType::ServerStream | GrpcType::BidiStream) => (STREAM, 1),
            None => return,
        };
        let Some(version) = client_api_version else {
            self.unversioned_requests[slot].fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut rows = self.client_requests.lock();
        match rows
            .iter_mut()
            .find(|r| r.kind == kind && r.client_api_version == version)
        {
            Some(row) => row.count += 1,
            None => rows.push(ClientRequests {
                kind,
                client_api_version: version.to_owned(),
                count: 1,
            }),
        }
    }

    /// Client requests so far, by kind and client version.
    pub(crate) fn client_requests(&self) -> Vec<ClientRequests> {
        let mut rows = self.client_requests.lock().clone();
        for (kind, counter) in [UNARY, STREAM].into_iter().zip(&self.unversioned_requests) {
            let count = counter.load(Ordering::Relaxed);
            if count > 0 {
                rows.push(ClientRequests {
                    kind,
                    client_api_version: UNKNOWN_VERSION.to_owned(),
                    count,
                });
            }
        }
        rows
    }

    /// Bytes of the request messages received (prefixes aside), as etcd's codec counts them.
    pub(crate) fn received_bytes(&self) -> u64 {
        self.received_bytes.load(Ordering::Relaxed)
    }

    /// Bytes of the response messages sent (prefixes aside).
    pub(crate) fn sent_bytes(&self) -> u64 {
        self.sent_bytes.load(Ordering::Relaxed)
    }

    fn tally(&self, slot: usize, direction: Direction, messages: u64, bytes: u64) {
        let (counter, total) = match direction {
            Direction::Received => (&self.methods[slot].messages_received, &self.received_bytes),
            Direction::Sent => (&self.methods[slot].messages_sent, &self.sent_bytes),
        };
        if messages > 0 {
            counter.fetch_add(messages, Ordering::Relaxed);
        }
        if bytes > 0 {
            total.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Calls of `path` (`/service/Method`) that finished with `OK`.
    pub(crate) fn ok_count(&self, path: &str) -> u64 {
        Self::slot(path).map_or(0, |slot| {
            self.methods[slot].handled[0].load(Ordering::Relaxed)
        })
    }

    /// Counts of every method etcd reports: the preregistered ones always, the others once
    /// called.
    pub(crate) fn snapshot(&self) -> Vec<MethodCounts> {
        METHODS
            .iter()
            .zip(self.methods.iter())
            .filter_map(|(m, c)| {
                let started = c.started.load(Ordering::Relaxed);
                if !m.preregistered && started == 0 {
                    return None;
                }
                let (service, method) = m.path.trim_start_matches('/').split_once('/')?;
                Some(MethodCounts {
                    service,
                    method,
                    grpc_type: m.kind.label(),
                    started,
                    handled: CODE_NAMES
                        .iter()
                        .zip(c.handled.iter())
                        .map(|(name, n)| (*name, n.load(Ordering::Relaxed)))
                        .collect(),
                    messages_received: c.messages_received.load(Ordering::Relaxed),
                    messages_sent: c.messages_sent.load(Ordering::Relaxed),
                    handling: c.handling.snapshot(),
                })
            })
            .collect()
    }
}

/// The status code a response carries in `grpc-status`, if any.
fn status_code(headers: &HeaderMap) -> Option<usize> {
    let value = headers.get("grpc-status")?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(UNKNOWN),
    )
}

/// The tower layer counting calls on the gRPC routes.
#[derive(Clone)]
pub(crate) struct GrpcMetricsLayer {
    metrics: Arc<GrpcMetrics>,
}

impl GrpcMetricsLayer {
    /// Counts into `metrics`.
    pub(crate) fn new(metrics: Arc<GrpcMetrics>) -> Self {
        GrpcMetricsLayer { metrics }
    }
}

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service made by [`GrpcMetricsLayer`].
#[derive(Clone)]
pub(crate) struct GrpcMetricsService<S> {
    inner: S,
    metrics: Arc<GrpcMetrics>,
}

impl<S> Service<Request<Body>> for GrpcMetricsService<S>
where
    S: Service<Request<Body>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let tracked = GrpcMetrics::slot(request.uri().path()).map(|slot| {
            self.metrics.started(slot);
            (self.metrics.clone(), slot, Instant::now())
        });
        let request = match &tracked {
            Some((metrics, slot, _)) => {
                let tally = MessageTally::new(metrics.clone(), *slot, Direction::Received);
                request.map(|inner| {
                    Body::new(MeteredBody {
                        inner,
                        tally,
                        pending: None,
                    })
                })
            }
            None => request,
        };
        ResponseFuture {
            inner: self.inner.call(request),
            tracked,
        }
    }
}

pin_project_lite::pin_project! {
    /// Resolves to the response, its body wrapped to observe the final status.
    pub(crate) struct ResponseFuture<F> {
        #[pin]
        inner: F,
        tracked: Option<Tracked>,
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(response)) => response,
        };
        let Some((metrics, slot, started)) = this.tracked.take() else {
            return Poll::Ready(Ok(response));
        };
        if let Some(code) = status_code(response.headers()) {
            metrics.finished(slot, code, started);
            return Poll::Ready(Ok(response));
        }
        let tally = MessageTally::new(metrics.clone(), slot, Direction::Sent);
        Poll::Ready(Ok(response.map(|inner| {
            Body::new(MeteredBody {
                inner,
                tally,
                pending: Some((metrics, slot, started)),
            })
        })))
    }
}

/// `etcd_server_client_requests_total`'s kinds, and its version label for clients that name
/// none.
const UNARY: &str = "unary";
const STREAM: &str = "stream";
const UNKNOWN_VERSION: &str = "unknown";

/// A call being counted: where, which method, since when.
type Tracked = (Arc<GrpcMetrics>, usize, Instant);

/// Which way messages go.
#[derive(Clone, Copy)]
enum Direction {
    Received,
    Sent,
}

/// Counts the messages of one body (and their bytes) from their 5-byte prefixes, however the
/// body's frames split them.
struct MessageTally {
    metrics: Arc<GrpcMetrics>,
    slot: usize,
    direction: Direction,
    /// The prefix of the next message, as far as it has arrived.
    prefix: [u8; 5],
    prefix_len: usize,
    /// Bytes of the current message still to pass.
    remaining: u64,
}

impl MessageTally {
    fn new(metrics: Arc<GrpcMetrics>, slot: usize, direction: Direction) -> MessageTally {
        MessageTally {
            metrics,
            slot,
            direction,
            prefix: [0; 5],
            prefix_len: 0,
            remaining: 0,
        }
    }

    fn observe(&mut self, mut data: &[u8]) {
        let (mut messages, mut bytes) = (0, 0);
        while !data.is_empty() {
            if self.remaining > 0 {
                let skipped = self.remaining.min(data.len() as u64);
                self.remaining -= skipped;
                data = &data[skipped as usize..];
                continue;
            }
            let wanted = (5 - self.prefix_len).min(data.len());
            self.prefix[self.prefix_len..self.prefix_len + wanted].copy_from_slice(&data[..wanted]);
            self.prefix_len += wanted;
            data = &data[wanted..];
            if self.prefix_len == 5 {
                let len = u32::from_be_bytes([
                    self.prefix[1],
                    self.prefix[2],
                    self.prefix[3],
                    self.prefix[4],
                ]);
                messages += 1;
                bytes += u64::from(len);
                self.remaining = u64::from(len);
                self.prefix_len = 0;
            }
        }
        self.metrics
            .tally(self.slot, self.direction, messages, bytes);
    }
}

/// A body whose messages are counted as they pass. A response body also records the call's
/// status when its trailers pass by, or as unknown when it ends without them, or as canceled
/// when it is dropped before either.
struct MeteredBody {
    inner: Body,
    tally: MessageTally,
    /// Where a response records the call's status; `None` for a request, and once recorded.
    pending: Option<Tracked>,
}

impl MeteredBody {
    fn record(&mut self, code: usize) {
        if let Some((metrics, slot, started)) = self.pending.take() {
            metrics.finished(slot, code, started);
        }
    }
}

impl http_body::Body for MeteredBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.tally.observe(data);
                }
                if let Some(trailers) = frame.trailers_ref() {
                    let code = status_code(trailers).unwrap_or(UNKNOWN);
                    self.record(code);
                }
            }
            Poll::Ready(Some(Err(_))) => self.record(UNKNOWN),
            Poll::Ready(None) => self.record(UNKNOWN),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        self.record(CANCELED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_table_is_sorted_and_lookups_find_every_method() {
        for pair in METHODS.windows(2) {
            assert!(pair[0].path < pair[1].path, "{} out of order", pair[1].path);
        }
        for (i, m) in METHODS.iter().enumerate() {
            assert_eq!(GrpcMetrics::slot(m.path), Some(i));
        }
        assert_eq!(GrpcMetrics::slot("/etcdserverpb.KV/Nope"), None);
        // etcd 3.5.1 reports 43 methods before any call.
        assert_eq!(METHODS.iter().filter(|m| m.preregistered).count(), 43);
    }

    #[test]
    fn messages_are_counted_however_frames_split_them() {
        let metrics = Arc::new(GrpcMetrics::default());
        let put = GrpcMetrics::slot("/etcdserverpb.KV/Put").expect("Put is listed");
        let mut body = Vec::new();
        for len in [3u32, 0, 300] {
            body.push(0);
            body.extend_from_slice(&len.to_be_bytes());
            body.extend(std::iter::repeat_n(7, len as usize));
        }
        for split in [1, 2, 5, 7, 100, body.len()] {
            let mut tally = MessageTally::new(metrics.clone(), put, Direction::Sent);
            for chunk in body.chunks(split) {
                tally.observe(chunk);
            }
        }
        let row = put_row(&metrics);
        assert_eq!(row.messages_sent, 18);
        assert_eq!(metrics.sent_bytes(), 6 * 303);
        metrics.record_client_request("/etcdserverpb.KV/Put", None);
        metrics.record_client_request("/etcdserverpb.Watch/Watch", Some("3.5"));
        metrics.record_client_request("/etcdserverpb.KV/Range", None);
        let mut rows: Vec<_> = metrics
            .client_requests()
            .into_iter()
            .map(|r| (r.kind, r.client_api_version, r.count))
            .collect();
        rows.sort();
        assert_eq!(
            rows,
            [
                ("stream", "3.5".to_string(), 1),
                ("unary", "unknown".to_string(), 2)
            ]
        );
    }

    /// A body of `frames` metered for `Put`; `responding` gives it a call to record.
    fn metered(
        metrics: &Arc<GrpcMetrics>,
        frames: Vec<Frame<axum::body::Bytes>>,
        responding: bool,
    ) -> MeteredBody {
        let put = GrpcMetrics::slot("/etcdserverpb.KV/Put").unwrap();
        let direction = if responding {
            Direction::Sent
        } else {
            Direction::Received
        };
        let frames = futures::stream::iter(frames.into_iter().map(Ok::<_, axum::Error>));
        MeteredBody {
            inner: Body::new(http_body_util::StreamBody::new(frames)),
            tally: MessageTally::new(metrics.clone(), put, direction),
            pending: responding.then(|| (metrics.clone(), put, Instant::now())),
        }
    }

    fn put_row(metrics: &GrpcMetrics) -> MethodCounts {
        metrics
            .snapshot()
            .into_iter()
            .find(|m| m.method == "Put")
            .unwrap()
    }

    #[tokio::test]
    async fn metered_bodies_count_messages_and_record_how_the_call_ended() {
        use http_body_util::BodyExt;
        let metrics = Arc::new(GrpcMetrics::default());
        let message = || Frame::data(axum::body::Bytes::from_static(&[0, 0, 0, 0, 2, 8, 1]));
        let mut status = HeaderMap::new();
        status.insert("grpc-status", "5".parse().unwrap());

        let request = metered(&metrics, vec![message(), message()], false);
        request.collect().await.unwrap();
        let answered = metered(&metrics, vec![message(), Frame::trailers(status)], true);
        answered.collect().await.unwrap();
        let ended_bare = metered(&metrics, vec![message()], true);
        ended_bare.collect().await.unwrap();
        let mut abandoned = metered(&metrics, vec![message(), message()], true);
        abandoned.frame().await.unwrap().unwrap();
        drop(abandoned);

        let row = put_row(&metrics);
        assert_eq!(row.messages_received, 2);
        assert_eq!(row.messages_sent, 3);
        assert!(row.handled.contains(&("NotFound", 1)), "{:?}", row.handled);
        assert!(row.handled.contains(&("Unknown", 1)), "{:?}", row.handled);
        assert!(row.handled.contains(&("Canceled", 1)), "{:?}", row.handled);
        let recorded: u64 = row.handled.iter().map(|(_, n)| n).sum();
        assert_eq!(recorded, 3, "the request body records no status");
    }

    #[test]
    fn counts_by_code_and_hides_late_methods_until_called() {
        let g = GrpcMetrics::default();
        let put = GrpcMetrics::slot("/etcdserverpb.KV/Put").expect("Put is listed");
        g.started(put);
        g.handled(put, 0);
        g.started(put);
        g.handled(put, 14);
        assert_eq!(g.ok_count("/etcdserverpb.KV/Put"), 1);
        let snap = g.snapshot();
        assert_eq!(snap.len(), 43);
        let row = snap
            .iter()
            .find(|m| m.method == "Put")
            .expect("Put is reported");
        assert_eq!(row.service, "etcdserverpb.KV");
        assert_eq!(row.grpc_type, "unary");
        assert_eq!(row.started, 2);
        assert!(row.handled.contains(&("OK", 1)));
        assert!(row.handled.contains(&("Unavailable", 1)));
        let lock = GrpcMetrics::slot("/v3lockpb.Lock/Lock").expect("Lock is listed");
        g.started(lock);
        assert_eq!(g.snapshot().len(), 44);
    }
}
