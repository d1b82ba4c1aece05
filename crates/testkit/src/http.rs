//! Plain HTTP/1.1 GETs to a member's client port (`/health`, `/metrics`), without an HTTP
//! client library: tests only read short bodies from loopback.

use std::io::{Read, Write};
use std::time::Duration;

/// The whole response (status line, headers and body) to `GET path` on `127.0.0.1:port`, or
/// `None` if the member could not be reached.
pub fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    Some(response)
}
