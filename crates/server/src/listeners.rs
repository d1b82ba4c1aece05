//! Setting up the member's sockets before anything else starts, so that a port in use or an
//! unusable certificate fails fast: binding each listen URL, and each side's TLS (client and
//! peer) as etcd configures its listeners (its checks and messages: an `https://` URL needs
//! `--cert-file`/`--key-file` or `--auto-tls`, cipher suite names are checked even when no URL
//! is secure, and cert files given with only `http://` URLs are ignored with a warning). One
//! address named by both an `http://` and an `https://` URL is one socket serving both, as in
//! etcd.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;

use oxcd_etcd_compat::config::{ServerConfig, TlsConfig, Url};
use oxcd_etcd_compat::gotext::io_error::go_io_error_text;
use oxcd_raft::PeerListener;
use oxcd_tls::{ListenerMode, ServerTlsError, ServerTlsSettings, TlsError};

/// Why a listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ListenerError {
    /// A socket could not be bound (`listen tcp 127.0.0.1:2379: bind: address already in use`).
    #[error("listen tcp {address}: {reason}")]
    Listen {
        /// The address.
        address: String,
        /// Go-style text of the failure.
        reason: String,
    },
    /// The TLS settings are incomplete, contradictory, or name unusable files.
    #[error("{0}")]
    Tls(String),
}

/// One bound socket and what it serves.
pub(crate) struct Bound {
    /// The socket.
    pub(crate) socket: TcpListener,
    /// Plaintext, TLS, or both.
    pub(crate) mode: ListenerMode,
    /// `host:port` as the URLs name it.
    pub(crate) address: String,
}

fn bind(address: &str) -> Result<TcpListener, ListenerError> {
    let listen_error = |reason: String| ListenerError::Listen {
        address: address.to_string(),
        reason,
    };
    let addrs: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| listen_error(format!("lookup: {}", go_io_error_text(&e))))?
        .collect();
    let addr = addrs
        .first()
        .ok_or_else(|| listen_error("no address".to_string()))?;
    TcpListener::bind(addr).map_err(|e| listen_error(format!("bind: {}", go_io_error_text(&e))))
}

/// Binds the client (or metrics) URLs, one socket per address, TLS where the scheme is
/// `https`; `tls` is the client side's configuration, `None` when no certificate is set up.
/// `check_san`: client certificates naming hosts must name the connecting address (etcd checks
/// this on its metrics listeners, not on its client ones).
pub(crate) fn bind_serving(
    urls: &[Url],
    tls: Option<&Arc<rustls::ServerConfig>>,
    check_san: bool,
) -> Result<Vec<Bound>, ListenerError> {
    let mut bound: Vec<(String, bool, bool)> = Vec::new();
    for url in urls {
        let host = url.host().to_string();
        let index = match bound.iter().position(|(h, _, _)| *h == host) {
            Some(i) => i,
            None => {
                bound.push((host, false, false));
                bound.len() - 1
            }
        };
        if url.is_tls() {
            bound[index].2 = true;
        } else {
            bound[index].1 = true;
        }
    }
    bound
        .into_iter()
        .map(|(address, plain, secure)| {
            let tls = if secure {
                Some(tls.cloned().ok_or_else(|| {
                    ListenerError::Tls(format!(
                        "cannot listen on TLS for {address}: KeyFile and CertFile are not presented"
                    ))
                })?)
            } else {
                None
            };
            Ok(Bound {
                socket: bind(&address)?,
                mode: ListenerMode {
                    tls,
                    plain,
                    check_san,
                },
                address,
            })
        })
        .collect()
}

/// Which listeners a TLS configuration is for; etcd words its messages by side.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Peer,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Peer => "peer",
        }
    }
}

/// The client side's TLS configuration, checked as etcd checks it when it sets up its client
/// listeners; `None` when no certificate is configured (then no URL may be `https://`).
pub(crate) fn client_tls(
    cfg: &ServerConfig,
) -> Result<Option<Arc<rustls::ServerConfig>>, ListenerError> {
    side_tls(cfg, Side::Client)
}

/// Binds the peer URLs, TLS where the scheme is `https`, with the `--peer-*` settings.
pub(crate) fn bind_peers(cfg: &ServerConfig) -> Result<Vec<PeerListener>, ListenerError> {
    let tls = side_tls(cfg, Side::Peer)?;
    cfg.listen_peer_urls
        .iter()
        .map(|url| {
            let tls = if url.is_tls() {
                Some(tls.clone().ok_or_else(|| {
                    ListenerError::Tls(format!(
                        "cannot listen on TLS for {}: KeyFile and CertFile are not presented",
                        url.host()
                    ))
                })?)
            } else {
                None
            };
            Ok(PeerListener {
                socket: bind(url.host())?,
                tls,
                check_san: !cfg.peer_tls.skip_client_san_verification,
            })
        })
        .collect()
}

fn side_tls(
    cfg: &ServerConfig,
    side: Side,
) -> Result<Option<Arc<rustls::ServerConfig>>, ListenerError> {
    let cipher_suites = oxcd_tls::cipher_suites(&cfg.cipher_suites).map_err(ListenerError::Tls)?;
    let urls = match side {
        Side::Client => &cfg.listen_client_urls,
        Side::Peer => &cfg.listen_peer_urls,
    };
    let tls = with_self_signed(cfg, side)?;
    for url in urls.iter().filter(|u| !u.is_tls()) {
        warn_plain_url(side, url, &tls);
    }
    if tls.is_empty() {
        if side == Side::Client
            && let Some(url) = urls.iter().find(|u| u.is_tls())
        {
            return Err(ListenerError::Tls(format!(
                "TLS key/cert (--cert-file, --key-file) must be provided for client url {url} with HTTPS scheme"
            )));
        }
        return Ok(None);
    }
    let (Some(cert_file), Some(key_file)) = (&tls.cert_file, &tls.key_file) else {
        return Err(ListenerError::Tls(format!(
            "KeyFile and CertFile must both be present[key: {}, cert: {}]",
            shown(&tls.key_file),
            shown(&tls.cert_file)
        )));
    };
    check_client_pair(&tls)?;
    tracing::info!(
        cert_file = %cert_file.display(),
        key_file = %key_file.display(),
        client_cert_auth = tls.client_cert_auth,
        trusted_ca_file = %shown(&tls.trusted_ca_file),
        "starting with {} TLS",
        side.name()
    );
    let settings = ServerTlsSettings {
        cert_file: cert_file.clone(),
        key_file: key_file.clone(),
        trusted_ca_file: tls.trusted_ca_file.clone(),
        client_cert_auth: tls.client_cert_auth,
        crl_file: tls.crl_file.clone(),
        allowed_cn: tls.allowed_cn.clone(),
        allowed_hostname: tls.allowed_hostname.clone(),
        cipher_suites,
    };
    // Peers speak gRPC only.
    let alpn = match side {
        Side::Client => oxcd_tls::ALPN_H2_AND_HTTP1,
        Side::Peer => &[b"h2".as_slice()],
    };
    oxcd_tls::server_config(&settings, alpn)
        .map(Some)
        .map_err(|e| ListenerError::Tls(tls_error_text(&e)))
}

/// etcd's warnings for an `http://` URL while TLS settings are given (with its field name,
/// `client-url` or `peer-url`).
fn warn_plain_url(side: Side, url: &Url, tls: &TlsConfig) {
    const IGNORED_FILES: &str =
        "scheme is HTTP while key and cert files are present; ignoring key and cert files";
    match side {
        Side::Client => {
            if !tls.is_empty() {
                tracing::warn!(client_url = %url, "{IGNORED_FILES}");
            }
            if tls.client_cert_auth {
                tracing::warn!(client_url = %url, "scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL");
            }
        }
        Side::Peer => {
            if !tls.is_empty() {
                tracing::warn!(peer_url = %url, "{IGNORED_FILES}");
            }
            if tls.client_cert_auth {
                tracing::warn!(peer_url = %url, "scheme is HTTP while --peer-client-cert-auth is enabled; ignoring client cert auth for this URL");
            }
        }
    }
}

fn shown(path: &Option<std::path::PathBuf>) -> String {
    path.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// `--auto-tls` / `--peer-auto-tls`: the side's settings with a self-signed certificate when
/// none is given. Unlike etcd, which then drops every other TLS setting of the side, the CA
/// bundle and client-certificate auth stay in force: a flag asking for certificates is never
/// silently dropped.
fn with_self_signed(cfg: &ServerConfig, side: Side) -> Result<TlsConfig, ListenerError> {
    let (mut tls, urls) = match side {
        Side::Client => (cfg.client_tls.clone(), &cfg.listen_client_urls),
        Side::Peer => (cfg.peer_tls.clone(), &cfg.listen_peer_urls),
    };
    if !tls.auto_tls {
        return Ok(tls);
    }
    if !tls.is_empty() {
        tracing::warn!("ignoring {} auto TLS since certs given", side.name());
        return Ok(tls);
    }
    let hosts: Vec<String> = urls.iter().map(|u| u.host().to_string()).collect();
    let files = oxcd_tls::self_signed_cert(
        &cfg.data_dir.join("fixtures").join(side.name()),
        &hosts,
        cfg.self_signed_cert_validity_years,
        // Members present the peer certificate when they dial each other.
        side == Side::Peer,
    )
    .map_err(|e| ListenerError::Tls(file_error_text(&e)))?;
    tls.cert_file = Some(files.cert_file);
    tls.key_file = Some(files.key_file);
    Ok(tls)
}

/// `--client-cert-file`/`--client-key-file`: what the member would present when it dials as a
/// client; checked as etcd checks them, both or neither, and readable.
fn check_client_pair(tls: &TlsConfig) -> Result<(), ListenerError> {
    match (&tls.client_cert_file, &tls.client_key_file) {
        (None, None) => Ok(()),
        (Some(cert), Some(key)) => {
            oxcd_tls::certificates(cert).map_err(|e| ListenerError::Tls(file_error_text(&e)))?;
            oxcd_tls::private_key(key).map_err(|e| ListenerError::Tls(file_error_text(&e)))?;
            Ok(())
        }
        (cert, key) => Err(ListenerError::Tls(format!(
            "ClientKeyFile and ClientCertFile must both be present or both absent: key: {}, cert: {}]",
            shown(key),
            shown(cert)
        ))),
    }
}

fn tls_error_text(e: &ServerTlsError) -> String {
    match e {
        ServerTlsError::File(file) => file_error_text(file),
        ServerTlsError::Settings(text) => text.clone(),
    }
}

/// A file error in Go's words (`open /x.pem: no such file or directory`).
fn file_error_text(e: &TlsError) -> String {
    match e {
        TlsError::Read { path, source } => {
            format!("open {}: {}", path.display(), go_io_error_text(source))
        }
        TlsError::Invalid { .. } => e.to_string(),
    }
}
