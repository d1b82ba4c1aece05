//! Sending a range answered in pieces ([`RangePieces`]). tonic encodes a unary response whole,
//! so the KV handler answers such a range with an empty placeholder that carries the pieces in
//! its extensions ([`placeholder`]), and [`KvWithPieces`], the KV service as served, replaces
//! the placeholder's body with the gRPC message encoded from the store's snapshot, one piece at
//! a time on a blocking thread, the next piece encoded while the previous one is sent. A member
//! holds about two pieces per such response, however large it is, and no thread waits on a slow
//! client: a client that goes away drops the body, and with it the encoder and its snapshot,
//! once the piece under way is done.

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

use oxcd_api::etcdserverpb::{RangeResponse, ResponseHeader};
use oxcd_mvcc::{RangeEncoder, RangePieces};

/// Bytes per piece: large enough that the blocking-thread hop per piece costs little, small
/// enough that two of them are nothing next to the response.
const PIECE_BYTES: usize = 256 * 1024;

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

/// What a piece's blocking task hands back: the encoder, and the piece (`None` after the last).
type Encoded = (
    Box<RangeEncoder>,
    Option<Result<Vec<u8>, oxcd_api::EtcdError>>,
);

/// The gRPC body of a range sent in pieces: the message's length prefix, the pieces, then the
/// status in the trailers (an error if the encoding failed part way).
struct PiecesBody {
    /// The length prefix, until sent.
    prefix: Option<Bytes>,
    /// The piece being encoded; `None` once the trailers are sent.
    encoding: Option<JoinHandle<Encoded>>,
}

impl PiecesBody {
    fn new(encoder: RangeEncoder) -> PiecesBody {
        let len = u32::try_from(encoder.total_len()).unwrap_or(u32::MAX);
        let mut prefix = Vec::with_capacity(5);
        prefix.push(0);
        prefix.extend_from_slice(&len.to_be_bytes());
        PiecesBody {
            prefix: Some(Bytes::from(prefix)),
            encoding: Some(encode_next(Box::new(encoder))),
        }
    }
}

fn encode_next(mut encoder: Box<RangeEncoder>) -> JoinHandle<Encoded> {
    tokio::task::spawn_blocking(move || {
        let piece = encoder.next();
        (encoder, piece)
    })
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
        let Some(encoding) = self.encoding.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = match ready!(Pin::new(encoding).poll(cx)) {
            Ok((encoder, Some(Ok(piece)))) => {
                self.encoding = Some(encode_next(encoder));
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(piece)))));
            }
            Ok((_, Some(Err(e)))) => trailers(&Status::from(e)),
            Ok((_, None)) => trailers(&Status::ok("")),
            Err(e) => {
                tracing::error!(error = %e, "encoding a range in pieces failed");
                trailers(&Status::internal("encoding the range response failed"))
            }
        };
        self.encoding = None;
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.encoding.is_none()
    }
}
