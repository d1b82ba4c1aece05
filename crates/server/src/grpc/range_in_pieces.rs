//! Sending a range answered in pieces ([`RangePieces`]). tonic encodes a unary response whole,
//! so the KV handler answers such a range with an empty placeholder that carries the pieces in
//! its extensions ([`placeholder`]), and [`KvWithPieces`], the KV service as served, replaces
//! the placeholder's body with the gRPC message encoded from the store's snapshot: the next
//! [`PIECES_IN_FLIGHT`] pieces are encoded at once on blocking threads while the one before is
//! sent (a piece's rows cost a B-tree lookup each when the keys were written in another order
//! than their revisions, so one thread alone would leave the range waiting on it). A member
//! holds about three pieces per such response, however large it is, and no thread waits on a
//! slow client: a client that goes away drops the body, and with it the encoder and its
//! snapshot, once the pieces under way are done.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::body::Bytes;
use axum::http;
use http_body::Frame;
use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{RangeResponse, ResponseHeader};
use oxcd_mvcc::{RangeEncoder, RangePieces};

/// Bytes per piece: large enough that the blocking-thread hop per piece costs little, small
/// enough that two of them are nothing next to the response.
const PIECE_BYTES: usize = 256 * 1024;

/// Pieces encoded at once, ahead of the one being sent: enough to use a second core when one is
/// free, few enough to leave the others to the member's other clients.
const PIECES_IN_FLIGHT: usize = 2;

/// The largest message grpc-go (and so etcd) sends: `math.MaxInt32`.
const MAX_SEND_MESSAGE: usize = i32::MAX as usize;

/// The encoder of a range to send in pieces, in the placeholder response's extensions (which
/// must be `Clone`; the first taker gets it).
#[derive(Clone)]
struct PendingPieces(Arc<Mutex<Option<RangeEncoder>>>);

/// The response to a range answered in pieces, with `header`: an empty message that
/// [`KvWithPieces`] replaces with the encoded pieces. A response too large for a gRPC message
/// is refused as grpc-go refuses it.
pub(super) fn placeholder(
    pieces: RangePieces,
    header: ResponseHeader,
) -> Result<tonic::Response<RangeResponse>, Status> {
    let encoder = pieces.encoder(header, PIECE_BYTES);
    let len = encoder.total_len();
    if len > MAX_SEND_MESSAGE {
        return Err(Status::resource_exhausted(format!(
            "grpc: trying to send message larger than max ({len} vs. {MAX_SEND_MESSAGE})"
        )));
    }
    let mut response = tonic::Response::new(RangeResponse::default());
    response
        .extensions_mut()
        .insert(PendingPieces(Arc::new(Mutex::new(Some(encoder)))));
    Ok(response)
}

/// The KV service (`S`), with the body of a range answered in pieces replaced by the pieces.
#[derive(Clone)]
pub(super) struct KvWithPieces<S>(pub(super) S);

impl<S: NamedService> NamedService for KvWithPieces<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower::Service<http::Request<Body>> for KvWithPieces<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = WithPieces<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        WithPieces {
            call: self.0.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// A KV call's response, with the placeholder's body replaced once it is ready (unboxed:
    /// every KV call goes through it).
    pub(super) struct WithPieces<F> {
        #[pin]
        call: F,
    }
}

impl<F> Future for WithPieces<F>
where
    F: Future<Output = Result<http::Response<Body>, Infallible>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut response = ready!(self.project().call.poll(cx))?;
        let pending = response.extensions_mut().remove::<PendingPieces>();
        if let Some(encoder) = pending.and_then(|p| p.0.lock().take()) {
            *response.body_mut() = Body::new(PiecesBody::new(encoder));
        }
        Poll::Ready(Ok(response))
    }
}

/// The gRPC body of a range sent in pieces: the message's length prefix, the pieces in order,
/// then the status in the trailers (an error if the encoding failed part way).
struct PiecesBody {
    /// The length prefix, until sent.
    prefix: Option<Bytes>,
    encoder: Arc<RangeEncoder>,
    /// The next piece to start encoding.
    next: usize,
    /// The pieces being encoded, in order.
    encoding: VecDeque<JoinHandle<Result<Vec<u8>, EtcdError>>>,
    /// Whether the trailers are sent.
    ended: bool,
}

impl PiecesBody {
    fn new(encoder: RangeEncoder) -> PiecesBody {
        let len = u32::try_from(encoder.total_len()).unwrap_or(u32::MAX);
        let mut prefix = Vec::with_capacity(5);
        prefix.push(0);
        prefix.extend_from_slice(&len.to_be_bytes());
        let mut body = PiecesBody {
            prefix: Some(Bytes::from(prefix)),
            encoder: Arc::new(encoder),
            next: 0,
            encoding: VecDeque::with_capacity(PIECES_IN_FLIGHT),
            ended: false,
        };
        body.start_encoding();
        body
    }

    /// Starts encoding pieces until [`PIECES_IN_FLIGHT`] are under way or none is left.
    fn start_encoding(&mut self) {
        while self.encoding.len() < PIECES_IN_FLIGHT && self.next < self.encoder.piece_count() {
            let encoder = self.encoder.clone();
            let index = self.next;
            self.encoding
                .push_back(tokio::task::spawn_blocking(move || encoder.piece(index)));
            self.next += 1;
        }
    }
}

fn trailers(status: &Status) -> Frame<Bytes> {
    let mut map = http::HeaderMap::new();
    if status.add_header(&mut map).is_err() {
        // Only undecodable details fail; the code alone still tells the client.
        map.insert("grpc-status", http::HeaderValue::from(status.code() as i32));
    }
    Frame::trailers(map)
}

impl http_body::Body for PiecesBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        if self.ended {
            return Poll::Ready(None);
        }
        let Some(encoding) = self.encoding.front_mut() else {
            self.ended = true;
            return Poll::Ready(Some(Ok(trailers(&Status::ok("")))));
        };
        let status = match ready!(Pin::new(encoding).poll(cx)) {
            Ok(Ok(piece)) => {
                self.encoding.pop_front();
                self.start_encoding();
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(piece)))));
            }
            Ok(Err(e)) => Status::from(e),
            Err(e) => {
                tracing::error!(error = %e, "encoding a range in pieces failed");
                Status::internal("encoding the range response failed")
            }
        };
        // The pieces after a failed one are not sent; their tasks finish unobserved.
        self.encoding.clear();
        self.ended = true;
        Poll::Ready(Some(Ok(trailers(&status))))
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.ended
    }
}
