//! CORS on the client port's HTTP answers, as etcd's default `--cors=*` gives them: every plain
//! HTTP answer (gateway, `/health`, `/version`, `/metrics`, unknown paths) allows any origin, and
//! a preflight (`OPTIONS`) to any path is answered at once. gRPC calls are left alone.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;

/// Adds etcd's CORS headers to a plain HTTP answer; answers a preflight itself.
pub(crate) async fn allow_any_origin(request: Request, next: Next) -> Response {
    let is_grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    if is_grpc {
        return next.run(request).await;
    }
    let mut response = if request.method() == Method::OPTIONS {
        Response::default()
    } else {
        next.run(request).await
    };
    add_headers(&mut response);
    response
}

/// Adds etcd's CORS headers to `response`.
pub(crate) fn add_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, GET, OPTIONS, PUT, DELETE"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("accept, content-type, authorization"),
    );
}
