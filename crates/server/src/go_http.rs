//! Plain-text answers as Go's `net/http` writes them, which etcd's HTTP endpoints and its
//! gateway's router use and clients may match: `text/plain; charset=utf-8`, and for errors
//! (`http.Error`) the message with a newline, marked not to be sniffed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

/// `body` as plain text with `status`.
pub(crate) fn text(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Go's `http.Error(w, message, status)`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    let mut response = text(status, format!("{message}\n"));
    response.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}
