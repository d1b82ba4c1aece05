//! etcdctl's `endpointMemoryMetrics`: `process_resident_memory_bytes` read from
//! `<endpoint>/metrics` over plain HTTP on the client URL; every failure is printed on stdout
//! as etcdctl prints it and reads as 0.

use crate::out::Out;
use oxcd_etcd_compat::gotext::io_error::go_io_error_text;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The metric read.
const RESIDENT_MEMORY: &str = "process_resident_memory_bytes";

/// The resident memory of the server behind `endpoint`, or 0 after printing why not.
pub async fn resident_memory_bytes(endpoint: &str, out: &mut Out) -> f64 {
    let host = if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        endpoint.to_string()
    } else {
        format!("http://{endpoint}")
    };
    let url = format!("{host}/metrics");
    let Some(authority) = host.strip_prefix("http://") else {
        out.line("client certificate error: TLS (https endpoints) is not supported by oxctl");
        return 0.0;
    };
    let body = match fetch(authority, &url).await {
        Ok(body) => body,
        Err(message) => {
            out.line(&format!("fetch error: {message}"));
            return 0.0;
        }
    };
    let Some(value) = body
        .lines()
        .find_map(|line| line.strip_prefix(RESIDENT_MEMORY))
        .map(str::trim)
        .filter(|v| !v.is_empty())
    else {
        out.line(&format!("could not find: {RESIDENT_MEMORY}"));
        return 0.0;
    };
    match value.parse::<f64>() {
        Ok(bytes) => bytes,
        Err(_) => {
            out.line(&format!(
                "parse error: strconv.ParseFloat: parsing {}: invalid syntax",
                oxcd_etcd_compat::gotext::quote::quote(value.as_bytes())
            ));
            0.0
        }
    }
}

/// `GET /metrics` as HTTP/1.0, so the server answers with a body that ends with the
/// connection (no chunked encoding to undo).
async fn fetch(authority: &str, url: &str) -> Result<String, String> {
    let authority = authority.trim_end_matches('/');
    let refused = |e: std::io::Error| {
        format!(
            "Get {}: dial tcp {authority}: connect: {}",
            oxcd_etcd_compat::gotext::quote::quote(url.as_bytes()),
            go_io_error_text(&e)
        )
    };
    let mut stream = TcpStream::connect(authority).await.map_err(refused)?;
    let request = format!("GET /metrics HTTP/1.0\r\nHost: {authority}\r\nAccept: */*\r\n\r\n");
    let reading = |e: std::io::Error| format!("reading {url}: {}", go_io_error_text(&e));
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(reading)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.map_err(reading)?;
    let text = String::from_utf8_lossy(&response);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_string());
    Ok(body)
}
