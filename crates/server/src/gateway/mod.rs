//! etcd's JSON gateway on the client port (`--enable-grpc-gateway`, on by default): `POST
//! /v3/kv/range` and the other routes of `methods.rs` take a request in JSON, make it a gRPC call
//! to this member's own services (in process, through the same layers as a gRPC client's call:
//! leader gate, metrics, auth from the `Authorization` header, size limits) and answer in JSON as
//! etcd 3.5's gateway does. `/v3beta/...` is the same route, as in etcd 3.5; streams (`watch`,
//! `lease/keepalive`, `maintenance/snapshot`, `election/observe`) answer one JSON object a line.

mod framing;
mod json_stream;
mod methods;
mod reply;

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, Method as HttpMethod, StatusCode, Version, header};
use axum::response::Response;
use axum::routing::any;
use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tower::ServiceExt;

use self::framing::{Deframer, frame};
use self::json_stream::JsonValues;
use self::methods::{Method, Shape};
use crate::grpc::ClientIdentity;

/// Headers a client sets to pass gRPC metadata through the gateway, as grpc-gateway reads them.
const METADATA_PREFIX: &str = "grpc-metadata-";

/// Request messages of a two-way stream in flight to the call at once.
const STREAM_BUFFER: usize = 16;

/// The gateway's routes, calling into `grpc` (the client port's gRPC services with their
/// layers). A JSON request body may be `max_body` bytes.
pub(crate) fn routes(grpc: Router, max_body: usize) -> Router {
    let gateway = Gateway { grpc, max_body };
    Router::new()
        .route("/v3/{*method}", any(serve))
        .route("/v3beta/{*method}", any(serve))
        .with_state(gateway)
}

#[derive(Clone)]
struct Gateway {
    grpc: Router,
    max_body: usize,
}

/// What of the HTTP request goes with its gRPC call.
struct CallContext {
    metadata: HeaderMap,
    identity: Option<ClientIdentity>,
}

impl CallContext {
    /// The `Authorization` header (which etcd reads as the auth token) and `Grpc-Metadata-*`
    /// headers become the call's metadata; the TLS client's identity goes along.
    fn of(request: &Request) -> CallContext {
        let mut metadata = HeaderMap::new();
        for (name, value) in request.headers() {
            if name == header::AUTHORIZATION {
                metadata.append(name.clone(), value.clone());
            } else if let Some(key) = name.as_str().strip_prefix(METADATA_PREFIX)
                && let Ok(key) = HeaderName::try_from(key)
            {
                metadata.append(key, value.clone());
            }
        }
        CallContext {
            metadata,
            identity: request.extensions().get::<ClientIdentity>().cloned(),
        }
    }
}

async fn serve(
    State(gateway): State<Gateway>,
    Path(path): Path<String>,
    request: Request,
) -> Response {
    let Some(method) = methods::find(&path) else {
        return reply::plain(StatusCode::NOT_FOUND);
    };
    if request.method() != HttpMethod::POST {
        return reply::plain(StatusCode::METHOD_NOT_ALLOWED);
    }
    let context = CallContext::of(&request);
    let mut requests = JsonValues::new(request.into_body(), gateway.max_body);
    let first = requests.next().await;
    if method.shape == Shape::BothStreams {
        return both_streams(&gateway, method, context, first, requests).await;
    }
    // One request: a body without one is the empty request, as grpc-gateway decodes it.
    let json = match first {
        Ok(json) => json.unwrap_or_else(|| serde_json::Value::Object(Default::default())),
        Err(e) => return reply::error(e.code, &e.message),
    };
    let framed = match (method.request)(json) {
        Ok(proto) => frame(&proto),
        Err(e) => return reply::error(Code::InvalidArgument, &e.to_string()),
    };
    let framed = match framed {
        Ok(framed) => framed,
        Err(_) => return reply::error(Code::ResourceExhausted, "request message too large"),
    };
    let response = gateway.call(method, context, Body::from(framed)).await;
    match method.shape {
        Shape::Unary => unary_answer(method, response).await,
        Shape::ResponseStream | Shape::BothStreams => stream_answer(method, response).await,
    }
}

/// A call whose requests stream too: the first is decoded before the call starts (a broken one
/// fails the request, as in grpc-gateway, with code Unknown); the rest are sent as they arrive,
/// and a broken one ends the requests (the client's half of the stream closes).
async fn both_streams(
    gateway: &Gateway,
    method: &'static Method,
    context: CallContext,
    first: Result<Option<serde_json::Value>, json_stream::BodyError>,
    mut requests: JsonValues,
) -> Response {
    let first = match first.map(|json| json.map(method.request)) {
        Ok(Some(Ok(proto))) => Some(proto),
        Ok(Some(Err(e))) => return reply::error(Code::Unknown, &e.to_string()),
        Ok(None) => None,
        Err(e) => return reply::error(Code::Unknown, &e.message),
    };
    let (sender, receiver) = mpsc::channel::<Result<Bytes, Infallible>>(STREAM_BUFFER);
    // Without a first request the client's half of the stream closes at once.
    if let Some(proto) = first {
        let Ok(framed) = frame(&proto) else {
            return reply::error(Code::ResourceExhausted, "request message too large");
        };
        let _ = sender.send(Ok(framed)).await;
        tokio::spawn(async move {
            while let Ok(Some(json)) = requests.next().await {
                let Some(framed) = (method.request)(json).ok().and_then(|p| frame(&p).ok()) else {
                    return;
                };
                if sender.send(Ok(framed)).await.is_err() {
                    return;
                }
            }
        });
    } else {
        drop(sender);
    }
    let body = Body::from_stream(ReceiverStream::new(receiver));
    let response = gateway.call(method, context, body).await;
    stream_answer(method, response).await
}

impl Gateway {
    /// Makes the gRPC call in process and returns its raw response.
    async fn call(
        &self,
        method: &'static Method,
        context: CallContext,
        body: Body,
    ) -> Response<Body> {
        let mut request = Request::new(body);
        *request.method_mut() = HttpMethod::POST;
        *request.uri_mut() = axum::http::Uri::from_static(method.grpc);
        *request.version_mut() = Version::HTTP_2;
        let headers = request.headers_mut();
        *headers = context.metadata;
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/grpc"),
        );
        headers.insert(header::TE, header::HeaderValue::from_static("trailers"));
        if let Some(identity) = context.identity {
            request.extensions_mut().insert(identity);
        }
        match self.grpc.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// What comes next out of a call's response body.
enum Event {
    Message(Bytes),
    /// The call ended, with its status (`None`: the body ended without one).
    End(Option<tonic::Status>),
}

/// Reads the next message or the end of the call.
async fn next_event(body: &mut Body, deframer: &mut Deframer) -> Event {
    loop {
        match deframer.next_message() {
            Ok(Some(message)) => return Event::Message(message),
            Ok(None) => {}
            Err(e) => return Event::End(Some(tonic::Status::internal(e))),
        }
        match body.frame().await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => deframer.push(&data),
                Err(frame) => {
                    let status = frame
                        .trailers_ref()
                        .and_then(tonic::Status::from_header_map);
                    return Event::End(status);
                }
            },
            Some(Err(e)) => return Event::End(Some(tonic::Status::internal(e.to_string()))),
            None if deframer.has_partial() => {
                return Event::End(Some(tonic::Status::internal(
                    "the call's response ended inside a message",
                )));
            }
            None => return Event::End(None),
        }
    }
}

/// The status a trailers-only response carries in its headers (a call refused outright).
fn refusal(headers: &HeaderMap) -> Option<tonic::Status> {
    tonic::Status::from_header_map(headers)
}

fn failed(status: &tonic::Status) -> bool {
    status.code() != Code::Ok
}

async fn unary_answer(method: &'static Method, response: Response<Body>) -> Response {
    let (parts, mut body) = response.into_parts();
    if let Some(status) = refusal(&parts.headers).filter(failed) {
        return reply::error(status.code(), status.message());
    }
    let mut deframer = Deframer::default();
    let mut answer = None;
    loop {
        match next_event(&mut body, &mut deframer).await {
            Event::Message(message) => {
                answer.get_or_insert(message);
            }
            Event::End(Some(status)) if failed(&status) => {
                return reply::error(status.code(), status.message());
            }
            Event::End(_) => break,
        }
    }
    let Some(answer) = answer else {
        return reply::error(Code::Internal, "the call ended without a response");
    };
    match (method.response)(&answer) {
        Ok(json) => reply::result(json),
        Err(e) => reply::error(Code::Internal, &e),
    }
}

/// A streamed answer: nothing is sent before the first message (so a stream that fails first
/// answers with the failure's HTTP status, as grpc-gateway does); then one chunk a message, and
/// a failure's chunk if the call ends with one.
async fn stream_answer(method: &'static Method, response: Response<Body>) -> Response {
    let (parts, mut body) = response.into_parts();
    if let Some(status) = refusal(&parts.headers) {
        if failed(&status) {
            return reply::error(status.code(), status.message());
        }
        return reply::stream(Body::empty());
    }
    let mut deframer = Deframer::default();
    let first = match next_event(&mut body, &mut deframer).await {
        Event::Message(message) => message,
        Event::End(Some(status)) if failed(&status) => {
            return reply::stream_failed(status.code(), status.message());
        }
        Event::End(_) => return reply::stream(Body::empty()),
    };
    let (sender, receiver) = mpsc::channel::<Result<Bytes, Infallible>>(STREAM_BUFFER);
    tokio::spawn(async move {
        let mut message = first;
        loop {
            let chunk = match (method.response)(&message) {
                Ok(json) => reply::stream_chunk(&json),
                Err(e) => reply::stream_error_chunk(Code::Internal, &e),
            };
            // A client that went away drops the receiver; returning drops `body`, which cancels
            // the call.
            if sender.send(Ok(chunk)).await.is_err() {
                return;
            }
            // An idle stream (a watch with no events) notices the client leaving too.
            let event = tokio::select! {
                event = next_event(&mut body, &mut deframer) => event,
                () = sender.closed() => return,
            };
            message = match event {
                Event::Message(message) => message,
                Event::End(Some(status)) if failed(&status) => {
                    let chunk = reply::stream_error_chunk(status.code(), status.message());
                    let _ = sender.send(Ok(chunk)).await;
                    return;
                }
                Event::End(_) => return,
            };
        }
    });
    reply::stream(Body::from_stream(ReceiverStream::new(receiver)))
}
