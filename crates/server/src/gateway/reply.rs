//! What the gateway answers, byte for byte as etcd 3.5's (grpc-gateway v1 with etcd's JSON
//! settings; the CORS headers are `cors.rs`'s): a result in JSON, an error object with the gRPC code and the HTTP status
//! grpc-gateway gives that code, and the chunks of a streamed answer.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use tonic::Code;

/// A JSON answer with `status`.
fn json(status: StatusCode, body: Body, from_grpc: bool) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if from_grpc {
        // grpc-gateway passes the call's response headers on under this prefix.
        headers.insert(
            "grpc-metadata-content-type",
            HeaderValue::from_static("application/grpc"),
        );
    }
    response
}

/// A successful call's result (the response message in JSON).
pub(super) fn result(message: String) -> Response {
    json(StatusCode::OK, Body::from(message), true)
}

/// The start of a streamed answer, whose chunks `body` carries.
pub(super) fn stream(body: Body) -> Response {
    json(StatusCode::OK, body, true)
}

/// One message of a streamed answer (the response message in JSON): `{"result":…}` and a
/// newline.
pub(super) fn stream_chunk(message: &str) -> Bytes {
    Bytes::from(format!("{{\"result\":{message}}}\n"))
}

/// The error object of a failed call, its fields in grpc-gateway's order.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    code: i32,
    message: &'a str,
}

/// A call that failed, or a request that never became one: `{"error","code","message"}`.
pub(super) fn error(code: Code, message: &str) -> Response {
    let body = ErrorBody {
        error: message,
        code: code as i32,
        message,
    };
    let body = serde_json::to_string(&body).unwrap_or_default();
    json(http_status(code), Body::from(body), false)
}

/// grpc-gateway's `StreamError`, in the `{"error":…}` chunk that ends a failed stream.
#[derive(Serialize)]
struct StreamError<'a> {
    grpc_code: i32,
    http_code: u16,
    message: &'a str,
    http_status: &'a str,
}

#[derive(Serialize)]
struct StreamErrorChunk<'a> {
    error: StreamError<'a>,
}

/// A stream that failed after it started: grpc-gateway's stream error object, and a newline.
pub(super) fn stream_error_chunk(code: Code, message: &str) -> Bytes {
    let status = http_status(code);
    let chunk = StreamErrorChunk {
        error: StreamError {
            grpc_code: code as i32,
            http_code: status.as_u16(),
            message,
            http_status: status.canonical_reason().unwrap_or_default(),
        },
    };
    let mut line = serde_json::to_string(&chunk).unwrap_or_default();
    line.push('\n');
    Bytes::from(line)
}

/// The status of a stream that failed before its first message.
pub(super) fn stream_failed(code: Code, message: &str) -> Response {
    json(
        http_status(code),
        Body::from(stream_error_chunk(code, message)),
        true,
    )
}

/// The plain-text answers of grpc-gateway's router: unknown path, wrong method.
pub(super) fn plain(status: StatusCode) -> Response {
    crate::go_http::error(status, status.canonical_reason().unwrap_or_default())
}

/// The HTTP status grpc-gateway v1 gives a gRPC code.
fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::REQUEST_TIMEOUT,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_grpc_gateways_statuses() {
        assert_eq!(
            http_status(Code::FailedPrecondition),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(http_status(Code::OutOfRange), StatusCode::BAD_REQUEST);
        assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            http_status(Code::Unavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            http_status(Code::Unknown),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn chunks_are_one_json_object_a_line() {
        let chunk = stream_chunk("{\"created\":true}");
        assert_eq!(chunk, "{\"result\":{\"created\":true}}\n");
        let failed = stream_error_chunk(Code::Unavailable, "etcdserver: no leader");
        let value: serde_json::Value = serde_json::from_slice(&failed).unwrap();
        assert_eq!(value["error"]["http_code"], 503);
        assert_eq!(value["error"]["http_status"], "Service Unavailable");
    }
}
