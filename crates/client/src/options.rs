//! Connection options, with clientv3's and etcdctl's defaults.

use std::path::PathBuf;
use std::time::Duration;

/// How a [`crate::Client`] connects and calls.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Time allowed to establish a connection to one endpoint (etcdctl: 2s).
    pub dial_timeout: Duration,
    /// Interval of HTTP/2 keepalive pings; `None` disables them (etcdctl: 2s). Like grpc-go,
    /// intervals under 10s are raised to 10s so servers do not drop the connection for
    /// pinging too often.
    pub keepalive_time: Option<Duration>,
    /// How long to wait for a ping acknowledgement before the connection is closed
    /// (etcdctl: 6s).
    pub keepalive_timeout: Duration,
    /// Also ping while no call is active (clientv3 `PermitWithoutStream`).
    pub keepalive_without_calls: bool,
    /// Deadline applied to every unary call that carries none of its own; `None` lets calls
    /// wait as long as their own deadline allows (clientv3 behaviour).
    pub request_timeout: Option<Duration>,
    /// Largest request the client sends, in bytes (clientv3: 2 MiB).
    pub max_send_msg_size: usize,
    /// Largest response the client accepts, in bytes (clientv3: `i32::MAX`, because range
    /// responses easily exceed request limits).
    pub max_recv_msg_size: usize,
    /// TLS settings; required for `https://` endpoints.
    pub tls: Option<TlsOptions>,
    /// User and password for etcd authentication.
    pub credentials: Option<Credentials>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            dial_timeout: Duration::from_secs(2),
            keepalive_time: Some(Duration::from_secs(2)),
            keepalive_timeout: Duration::from_secs(6),
            keepalive_without_calls: false,
            request_timeout: None,
            max_send_msg_size: 2 * 1024 * 1024,
            max_recv_msg_size: i32::MAX as usize,
            tls: None,
            credentials: None,
        }
    }
}

/// TLS material, as etcdctl's `--cacert`, `--cert`, `--key`, `--insecure-skip-tls-verify`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// CA bundle used to verify servers.
    pub ca_file: Option<PathBuf>,
    /// Client certificate.
    pub cert_file: Option<PathBuf>,
    /// Client private key.
    pub key_file: Option<PathBuf>,
    /// Server name to verify instead of the endpoint's host.
    pub server_name: Option<String>,
    /// Skip server certificate verification (testing only).
    pub insecure_skip_verify: bool,
}

/// A user name and password for etcd authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password must not end up in logs.
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}
