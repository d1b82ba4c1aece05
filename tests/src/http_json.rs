//! A small HTTP/1.1 client for the JSON gateway: a POST answered whole, or a streamed answer
//! read line by line (watch, lease keep-alive), each with a deadline. One connection per
//! request, closed when the answer is dropped.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// Bound on connecting and on each read.
const TIMEOUT: Duration = Duration::from_secs(10);

/// An answer read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    /// `Access-Control-Allow-Origin`, if the answer has it.
    pub allowed_origin: Option<String>,
    pub body: String,
}

/// A request to `http://127.0.0.1:{port}{path}`.
pub struct Post<'a> {
    pub port: u16,
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a str,
    /// Extra headers, e.g. `("authorization", token)`.
    pub headers: Vec<(&'a str, String)>,
}

impl<'a> Post<'a> {
    /// `POST path` with `body`.
    pub fn new(port: u16, path: &'a str, body: &'a str) -> Post<'a> {
        Post {
            port,
            method: "POST",
            path,
            body,
            headers: Vec::new(),
        }
    }

    /// With `Authorization: token`.
    pub fn token(mut self, token: &str) -> Post<'a> {
        self.headers.push(("authorization", token.to_owned()));
        self
    }

    async fn send(&self) -> Result<hyper::Response<Incoming>> {
        let stream = tokio::time::timeout(
            TIMEOUT,
            tokio::net::TcpStream::connect(("127.0.0.1", self.port)),
        )
        .await
        .context("connecting")??;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let mut request = hyper::Request::builder()
            .method(self.method)
            .uri(self.path)
            .header("host", format!("127.0.0.1:{}", self.port));
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        let request = request.body(Full::new(Bytes::copy_from_slice(self.body.as_bytes())))?;
        Ok(tokio::time::timeout(TIMEOUT, sender.send_request(request))
            .await
            .context("waiting for the answer")??)
    }

    /// Sends the request and reads the whole answer.
    pub async fn answer(&self) -> Result<Answer> {
        let response = self.send().await?;
        let status = response.status().as_u16();
        let content_type = content_type(&response);
        let allowed_origin = response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = tokio::time::timeout(TIMEOUT, response.into_body().collect())
            .await
            .context("reading the answer")??
            .to_bytes();
        Ok(Answer {
            status,
            content_type,
            allowed_origin,
            body: String::from_utf8(body.to_vec())?,
        })
    }

    /// Sends the request and returns the answer's status with its body to read line by line.
    pub async fn stream(&self) -> Result<(u16, Lines)> {
        let response = self.send().await?;
        Ok((
            response.status().as_u16(),
            Lines {
                body: response.into_body(),
                pending: Vec::new(),
            },
        ))
    }
}

fn content_type(response: &hyper::Response<Incoming>) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The lines of a streamed answer.
pub struct Lines {
    body: Incoming,
    pending: Vec<u8>,
}

impl Lines {
    /// The next line, `None` at the end of the answer; an error if none comes within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<String>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                return Ok(Some(String::from_utf8(line[..end].to_vec())?));
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .map_err(|_| anyhow!("no line within {wait:?}"))?;
            match frame {
                Some(frame) => {
                    if let Ok(data) = frame?.into_data() {
                        self.pending.extend_from_slice(&data);
                    }
                }
                None if self.pending.is_empty() => return Ok(None),
                None => return Ok(Some(String::from_utf8(std::mem::take(&mut self.pending))?)),
            }
        }
    }
}
