//! The channel every generated client of a [`crate::Client`] runs on: a tower service that
//! spreads calls round-robin over the endpoints and fails over like clientv3's balancer and
//! retry interceptor.
//!
//! Unary request bodies are buffered so a call can be resent. A call is resent on the next
//! endpoint when it never reached a server (the connection could not be established), and,
//! for repeatable calls only, also when the outcome was `Unavailable`. Writes that may have
//! reached a server are never resent, preserving etcd's at-most-once semantics.

use crate::atomic_instant::AtomicInstant;
use crate::auth_token::{AUTHENTICATE_PATH, AuthToken, TOKEN_HEADER};
use crate::endpoint::Endpoint;
use crate::error::{DEADLINE_MESSAGE, GoStatus};
use crate::rpc_kind::RpcKind;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::AuthenticateRequest;
use oxcd_api::etcdserverpb::auth_client::AuthClient;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tonic::body::Body;
use tower::ServiceExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ResponseFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

/// Attempts a call gets when it carries no deadline (clientv3's `defaultUnaryMaxRetries`).
const MAX_ATTEMPTS_WITHOUT_DEADLINE: u32 = 100;

/// Pause after each round over a quorum of endpoints (clientv3's `defaultBackoffWaitBetween`).
const BACKOFF_BETWEEN_ROUNDS: Duration = Duration::from_millis(25);

/// First and longest time an unreachable endpoint is skipped before it is dialed again.
const FIRST_SKIP: Duration = Duration::from_millis(50);
const LONGEST_SKIP: Duration = Duration::from_secs(1);

/// One endpoint and its lazily connected HTTP/2 channel.
#[derive(Debug)]
pub(crate) struct Member {
    endpoint: Endpoint,
    channel: tonic::transport::Channel,
    consecutive_failures: AtomicU32,
    skip_until: AtomicInstant,
}

impl Member {
    pub(crate) fn new(endpoint: Endpoint, channel: tonic::transport::Channel) -> Member {
        Member {
            endpoint,
            channel,
            consecutive_failures: AtomicU32::new(0),
            skip_until: AtomicInstant::default(),
        }
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn mark_up(&self) {
        self.consecutive_failures.store(0, Ordering::Relaxed);
        self.skip_until.clear();
    }

    fn mark_down(&self) {
        let failures = self.consecutive_failures.fetch_add(1, Ordering::Relaxed);
        let skip = FIRST_SKIP
            .saturating_mul(1u32 << failures.min(10))
            .min(LONGEST_SKIP);
        self.skip_until.set(Instant::now() + skip);
    }
}

/// State shared by all clones of one channel.
#[derive(Debug)]
struct Shared {
    members: Vec<Arc<Member>>,
    next: AtomicUsize,
    request_timeout: Option<Duration>,
    auth: AuthToken,
    /// The endpoint named in retry warnings: the first endpoint of the client the channel
    /// belongs to, as clientv3's dial target names it.
    log_target: String,
}

/// A cloneable gRPC channel over a set of endpoints with clientv3-style failover.
#[derive(Debug, Clone)]
pub struct BalancedChannel {
    shared: Arc<Shared>,
}

impl BalancedChannel {
    pub(crate) fn new(
        members: Vec<Arc<Member>>,
        request_timeout: Option<Duration>,
        auth: AuthToken,
        log_target: Option<String>,
    ) -> BalancedChannel {
        let log_target = log_target.unwrap_or_else(|| {
            members
                .first()
                .map(|m| m.endpoint.authority().to_string())
                .unwrap_or_default()
        });
        BalancedChannel {
            shared: Arc::new(Shared {
                members,
                next: AtomicUsize::new(0),
                request_timeout,
                auth,
                log_target,
            }),
        }
    }

    /// The endpoint retry warnings name.
    pub(crate) fn log_target(&self) -> &str {
        &self.shared.log_target
    }

    pub(crate) fn members(&self) -> &[Arc<Member>] {
        &self.shared.members
    }

    pub(crate) fn auth(&self) -> &AuthToken {
        &self.shared.auth
    }

    /// Obtains a fresh token with the configured credentials; a server without auth enabled
    /// is not an error (clientv3 `getToken`).
    pub(crate) async fn authenticate(&self) -> Result<(), tonic::Status> {
        let Some(credentials) = self.shared.auth.credentials().cloned() else {
            return Ok(());
        };
        let mut auth = AuthClient::new(self.clone());
        let request = AuthenticateRequest {
            name: credentials.user,
            password: credentials.password,
        };
        match auth.authenticate(request).await {
            Ok(response) => {
                self.shared.auth.set(&response.into_inner().token);
                Ok(())
            }
            Err(status) if status.message() == EtcdError::AuthNotEnabled.message() => Ok(()),
            Err(status) => Err(status),
        }
    }
}

impl tower::Service<http::Request<Body>> for BalancedChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is decided per call, when an endpoint is picked.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let channel = self.clone();
        Box::pin(async move { channel.dispatch(request).await })
    }
}

/// How far a call got, for the report when its deadline passes.
#[derive(Debug, Clone, Default)]
struct Progress {
    attempt: u32,
    last_connect_error: Option<String>,
}

/// What one attempt on one endpoint produced.
enum Outcome {
    Done(http::Response<Body>),
    Retry(Failure),
    Fail(Failure),
}

/// A failed attempt, kept so the last one can be reported.
enum Failure {
    Response(http::Response<Body>),
    /// A transport failure, surfaced as `Unavailable` like grpc-go does.
    Transport(tonic::Status),
}

impl BalancedChannel {
    async fn dispatch(
        &self,
        request: http::Request<Body>,
    ) -> Result<http::Response<Body>, BoxError> {
        let kind = RpcKind::of_path(request.uri().path());
        let deadline = grpc_timeout(request.headers())
            .or(self.shared.request_timeout)
            .map(|timeout| Instant::now() + timeout);
        let progress = Mutex::new(Progress::default());
        let work = async {
            match kind {
                RpcKind::ClientStream => self.send_stream(request, deadline).await,
                RpcKind::Repeatable | RpcKind::NonRepeatable => {
                    self.send_unary(request, kind, deadline, &progress).await
                }
            }
        };
        match deadline {
            Some(at) => match tokio::time::timeout_at(at, work).await {
                Ok(result) => result,
                Err(_) => {
                    let progress = progress.lock().map(|p| p.clone()).unwrap_or_default();
                    // Like grpc-go, a call that never got an answer reports the deadline with
                    // the last connection error it saw.
                    let detail = match &progress.last_connect_error {
                        Some(error) => {
                            format!("latest balancer error: last connection error: {error}")
                        }
                        None => DEADLINE_MESSAGE.to_string(),
                    };
                    self.log_failure(progress.attempt, &tonic::Status::deadline_exceeded(detail));
                    Err(Box::new(tonic::Status::deadline_exceeded(DEADLINE_MESSAGE)))
                }
            },
            None => work.await,
        }
    }

    /// Sends a call whose request is a stream; it cannot be replayed, so it gets one attempt.
    async fn send_stream(
        &self,
        mut request: http::Request<Body>,
        deadline: Option<Instant>,
    ) -> Result<http::Response<Body>, BoxError> {
        let member = self.pick(deadline).await;
        if let Some(token) = self.shared.auth.current() {
            request.headers_mut().insert(TOKEN_HEADER, token);
        }
        match member.channel.clone().oneshot(request).await {
            Ok(response) => Ok(response),
            Err(error) => {
                member.mark_down();
                Err(error.into())
            }
        }
    }

    async fn send_unary(
        &self,
        request: http::Request<Body>,
        kind: RpcKind,
        deadline: Option<Instant>,
        progress: &Mutex<Progress>,
    ) -> Result<http::Response<Body>, BoxError> {
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| -> BoxError { format!("reading request body: {e}").into() })?
            .to_bytes();
        let path = parts.uri.path().to_string();
        let quorum = self.shared.members.len() / 2 + 1;
        let mut refreshed_token = false;
        // `attempt` counts answers from servers (what clientv3 logs); `rounds` counts every
        // try, including those that never connected.
        let mut attempt: u32 = 0;
        let mut rounds: u32 = 0;
        loop {
            let member = self.pick(deadline).await;
            let request = self.rebuild(&parts, body.clone(), &path);
            let outcome = match member.channel.clone().oneshot(request).await {
                Ok(response) => match failed_status(&response) {
                    None => {
                        member.mark_up();
                        Outcome::Done(response)
                    }
                    Some(status) => {
                        self.log_failure(attempt, &status);
                        // clientv3's rule: a token the server no longer takes, one issued
                        // before an auth change, or none at all is replaced by authenticating
                        // again, once per call.
                        let stale = [
                            EtcdError::InvalidAuthToken,
                            EtcdError::AuthOldRevision,
                            EtcdError::UserEmpty,
                        ]
                        .iter()
                        .any(|e| status.message() == e.message());
                        if stale
                            && self.shared.auth.credentials().is_some()
                            && !refreshed_token
                            && path != AUTHENTICATE_PATH
                        {
                            refreshed_token = true;
                            self.shared.auth.set("");
                            match self.authenticate().await {
                                Ok(()) => Outcome::Retry(Failure::Response(response)),
                                Err(_) => Outcome::Fail(Failure::Response(response)),
                            }
                        } else if kind == RpcKind::Repeatable
                            && status.code() == tonic::Code::Unavailable
                        {
                            member.mark_down();
                            Outcome::Retry(Failure::Response(response))
                        } else {
                            member.mark_up();
                            Outcome::Fail(Failure::Response(response))
                        }
                    }
                },
                Err(error) => {
                    member.mark_down();
                    let status = transport_status(&error);
                    let sent = !never_sent(&error);
                    if sent {
                        self.log_failure(attempt, &status);
                    } else if let Ok(mut progress) = progress.lock() {
                        progress.last_connect_error =
                            Some(dial_error(member.endpoint().authority(), &error));
                    }
                    if !sent || kind == RpcKind::Repeatable {
                        Outcome::Retry(Failure::Transport(status))
                    } else {
                        Outcome::Fail(Failure::Transport(status))
                    }
                }
            };
            let failure = match outcome {
                Outcome::Done(response) => return Ok(response),
                Outcome::Fail(failure) => return failure.into_result(),
                Outcome::Retry(failure) => failure,
            };
            if matches!(failure, Failure::Response(_)) {
                attempt += 1;
                if let Ok(mut progress) = progress.lock() {
                    progress.attempt = attempt;
                }
            }
            rounds += 1;
            if deadline.is_none() && rounds >= MAX_ATTEMPTS_WITHOUT_DEADLINE {
                return failure.into_result();
            }
            if (rounds as usize).is_multiple_of(quorum) {
                let jitter = 1.0 + rand::random::<f64>() * 0.1;
                tokio::time::sleep(BACKOFF_BETWEEN_ROUNDS.mul_f64(jitter)).await;
            }
        }
    }

    /// Rebuilds a buffered request for one attempt, with the current auth token.
    fn rebuild(
        &self,
        parts: &http::request::Parts,
        body: Bytes,
        path: &str,
    ) -> http::Request<Body> {
        let mut request = http::Request::new(Body::new(Full::new(body)));
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.version_mut() = parts.version;
        *request.headers_mut() = parts.headers.clone();
        if path != AUTHENTICATE_PATH
            && let Some(token) = self.shared.auth.current()
        {
            request.headers_mut().insert(TOKEN_HEADER, token);
        }
        request
    }

    /// The next endpoint in round-robin order that is not being skipped; when all are, waits
    /// for the first to become eligible again (but not past the deadline, which the caller
    /// enforces).
    async fn pick(&self, deadline: Option<Instant>) -> Arc<Member> {
        let members = &self.shared.members;
        let start = self.shared.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut soonest: Option<(Instant, &Arc<Member>)> = None;
        for offset in 0..members.len() {
            let member = &members[(start + offset) % members.len()];
            match member.skip_until.get() {
                Some(until) if until > now => {
                    if soonest.is_none_or(|(at, _)| until < at) {
                        soonest = Some((until, member));
                    }
                }
                _ => return member.clone(),
            }
        }
        match soonest {
            Some((until, member)) => {
                let wake = deadline.map_or(until, |d| d.min(until));
                tokio::time::sleep_until(wake).await;
                member.clone()
            }
            None => members[start % members.len()].clone(),
        }
    }

    fn log_failure(&self, attempt: u32, status: &tonic::Status) {
        tracing::warn!(
            target: "etcd_client",
            attempt,
            endpoints = %self.shared.log_target,
            error = %GoStatus(status),
            "retrying of unary invoker failed"
        );
    }
}

impl Failure {
    fn into_result(self) -> Result<http::Response<Body>, BoxError> {
        match self {
            Failure::Response(response) => Ok(response),
            Failure::Transport(status) => Err(Box::new(status)),
        }
    }
}

/// The error status of a trailers-only response, which is how servers answer failed calls.
fn failed_status(response: &http::Response<Body>) -> Option<tonic::Status> {
    tonic::Status::from_header_map(response.headers()).filter(|s| s.code() != tonic::Code::Ok)
}

/// The status a transport error will surface as.
fn transport_status(error: &tonic::transport::Error) -> tonic::Status {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    tonic::Status::unavailable(message)
}

/// Describes a failed connection the way grpc-go's balancer does: a failed dial as Go's net
/// package words it (`dial tcp ADDR: connect: ...`), a failed TLS handshake as Go's TLS does.
fn dial_error(authority: &str, error: &tonic::transport::Error) -> String {
    let described = |desc: String| format!("connection error: desc = \"transport: {desc}\"");
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(oxcd_tls::DialError::Handshake(reason)) = cause.downcast_ref() {
            return described(format!("authentication handshake failed: {reason}"));
        }
        source = cause.source();
    }
    described(format!(
        "Error while dialing {}",
        tcp_dial_error(authority, error)
    ))
}

/// A failed TCP dial in the words of Go's net package.
fn tcp_dial_error(authority: &str, error: &tonic::transport::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            let reason = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                std::io::ErrorKind::TimedOut => "i/o timeout".to_string(),
                _ => io.to_string(),
            };
            return format!("dial tcp {authority}: connect: {reason}");
        }
        source = cause.source();
    }
    format!("dial tcp {authority}: {error}")
}

/// True when the failure happened while connecting, so no byte of the call left the client.
fn never_sent(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(cause) = source {
        if cause.downcast_ref::<tonic::ConnectError>().is_some() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Parses a `grpc-timeout` header (`<digits><unit>`, unit one of H M S m u n).
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let text = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_units() {
        let mut headers = http::HeaderMap::new();
        for (text, expected) in [
            ("5S", Duration::from_secs(5)),
            ("250m", Duration::from_millis(250)),
            ("2M", Duration::from_secs(120)),
            ("1H", Duration::from_secs(3600)),
            ("7u", Duration::from_micros(7)),
            ("9n", Duration::from_nanos(9)),
        ] {
            headers.insert("grpc-timeout", text.parse().unwrap());
            assert_eq!(grpc_timeout(&headers), Some(expected), "{text}");
        }
        headers.insert("grpc-timeout", "5x".parse().unwrap());
        assert_eq!(grpc_timeout(&headers), None);
        headers.insert("grpc-timeout", "S".parse().unwrap());
        assert_eq!(grpc_timeout(&headers), None);
    }

    #[test]
    fn connect_errors_mean_never_sent() {
        let connect = tonic::ConnectError("refused".into());
        assert!(never_sent(&connect));
        let other = std::io::Error::other("reset");
        assert!(!never_sent(&other));
    }

    #[tokio::test]
    async fn skipped_members_backoff_grows_and_resets() {
        let endpoint = Endpoint::parse("127.0.0.1:1").unwrap();
        let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
        let member = Member::new(endpoint, channel);
        member.mark_down();
        let first = member.skip_until.get().unwrap();
        member.mark_down();
        let second = member.skip_until.get().unwrap();
        assert!(second > first);
        member.mark_up();
        assert!(member.skip_until.get().is_none());
    }
}
