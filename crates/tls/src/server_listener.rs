//! Accepting connections on a member's listener, TLS or plain or both on one port (etcd serves
//! `http://` and `https://` URLs naming the same address on one socket, telling them apart by
//! their first bytes). Handshakes run concurrently, each in its own task, so a slow or silent
//! client holds up nobody; a failed one is logged as etcd logs it ("rejected connection") and
//! dropped, and the listener goes on.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;
use x509_parser::extensions::GeneralName;

use crate::server_verify::common_name;

/// The first byte of every TLS handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// Accepted connections waiting for the server to take them.
const ACCEPTED_QUEUE: usize = 64;

/// What a listener serves.
#[derive(Clone)]
pub struct ListenerMode {
    /// The TLS configuration, for an `https://` URL.
    pub tls: Option<Arc<ServerConfig>>,
    /// Whether plaintext is served too (an `http://` URL for the same address).
    pub plain: bool,
    /// Whether a client certificate naming hosts must name the connecting address (etcd's
    /// check on its peer and metrics listeners, not on the client ones).
    pub check_san: bool,
}

/// One accepted connection.
pub struct Accepted {
    /// The stream, after any TLS handshake.
    pub stream: ServerStream,
    /// The connecting party's address.
    pub remote: SocketAddr,
    /// The subject common name of the verified client certificate, if one was presented.
    pub peer_common_name: Option<String>,
}

/// A connection as served: plain TCP or TLS over TCP.
pub enum ServerStream {
    /// An `http://` connection.
    Plain(TcpStream),
    /// An `https://` connection whose handshake completed.
    Tls(Box<TlsStream<TcpStream>>),
}

/// The accepted connections of one listener, in the order their handshakes completed.
pub struct Incoming {
    accepted: mpsc::Receiver<Accepted>,
    local: SocketAddr,
}

impl Incoming {
    /// Starts accepting on `listener` (which must be non-blocking) as `mode` says.
    pub fn start(listener: std::net::TcpListener, mode: ListenerMode) -> io::Result<Incoming> {
        let listener = TcpListener::from_std(listener)?;
        let local = listener.local_addr()?;
        let (tx, accepted) = mpsc::channel(ACCEPTED_QUEUE);
        tokio::spawn(accept_loop(listener, mode, tx));
        Ok(Incoming { accepted, local })
    }

    /// The next connection; `None` once the accepting task has ended.
    pub async fn next(&mut self) -> Option<Accepted> {
        self.accepted.recv().await
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

async fn accept_loop(listener: TcpListener, mode: ListenerMode, out: mpsc::Sender<Accepted>) {
    let acceptor = mode.tls.clone();
    loop {
        let (tcp, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: wait for some to be released.
                tracing::warn!(error = %e, "failed to accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let out = out.clone();
        if out.is_closed() {
            return;
        }
        let acceptor = acceptor.clone();
        let (plain, check_san) = (mode.plain, mode.check_san);
        tokio::spawn(async move {
            if let Some(accepted) = establish(tcp, remote, acceptor, plain, check_san).await {
                let _ = out.send(accepted).await;
            }
        });
    }
}

async fn establish(
    tcp: TcpStream,
    remote: SocketAddr,
    acceptor: Option<Arc<ServerConfig>>,
    plain: bool,
    check_san: bool,
) -> Option<Accepted> {
    let plain_connection = |tcp| Accepted {
        stream: ServerStream::Plain(tcp),
        remote,
        peer_common_name: None,
    };
    let Some(acceptor) = acceptor else {
        return Some(plain_connection(tcp));
    };
    let mut first = [0u8; 1];
    let is_tls = match tcp.peek(&mut first).await {
        Ok(0) | Err(_) => return None,
        Ok(_) => first[0] == TLS_HANDSHAKE_RECORD,
    };
    if !is_tls {
        if plain {
            return Some(plain_connection(tcp));
        }
        rejected(
            remote,
            "",
            "tls: first record does not look like a TLS handshake",
        );
        return None;
    }
    // The client's hello first, for the server name etcd logs with a failed handshake.
    let start = match LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await {
        Ok(start) => start,
        Err(e) => {
            rejected(remote, "", &handshake_error_text(&e));
            return None;
        }
    };
    let server_name = start
        .client_hello()
        .server_name()
        .unwrap_or_default()
        .to_string();
    match start.into_stream(acceptor).await {
        Ok(tls) => {
            let session = tls.get_ref().1;
            let leaf = session.peer_certificates().and_then(|certs| certs.first());
            if check_san
                && let Some(leaf) = leaf
                && let Err(e) = san_names(leaf, remote.ip()).await
            {
                rejected(remote, &server_name, &e);
                return None;
            }
            let peer_common_name = leaf.and_then(common_name);
            Some(Accepted {
                stream: ServerStream::Tls(Box::new(tls)),
                remote,
                peer_common_name,
            })
        }
        Err(e) => {
            rejected(remote, &server_name, &handshake_error_text(&e));
            None
        }
    }
}

/// etcd's `checkCertSAN`: a certificate naming hosts must name `remote`, by an IP address or
/// by a DNS name resolving to it. (etcd also tries a reverse lookup, which matters only for
/// wildcard names; those are not matched here.)
async fn san_names(cert: &CertificateDer<'_>, remote: IpAddr) -> Result<(), String> {
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return Err("tls: cannot parse the client certificate".to_string());
    };
    let (mut ips, mut dns) = (Vec::new(), Vec::new());
    if let Ok(Some(san)) = parsed.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        ips.push(IpAddr::from(v4));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        ips.push(IpAddr::from(v6));
                    }
                }
                GeneralName::DNSName(name) => dns.push((*name).to_string()),
                _ => {}
            }
        }
    }
    if ips.is_empty() && dns.is_empty() || ips.contains(&remote) {
        return Ok(());
    }
    if dns.is_empty() {
        let valid: Vec<String> = ips.iter().map(ToString::to_string).collect();
        return Err(format!(
            "x509: certificate is valid for {}, not {remote}",
            valid.join(", ")
        ));
    }
    for name in dns.iter().filter(|n| !n.starts_with("*.")) {
        if let Ok(mut addrs) = tokio::net::lookup_host((name.as_str(), 0)).await
            && addrs.any(|a| a.ip() == remote)
        {
            return Ok(());
        }
    }
    let quoted: Vec<String> = dns.iter().map(|n| format!("{n:?}")).collect();
    Err(format!(
        "tls: \"{remote}\" does not match any of DNSNames [{}]",
        quoted.join(" ")
    ))
}

/// A failed handshake in Go's words where etcd's log has them, else rustls' text.
fn handshake_error_text(e: &io::Error) -> String {
    use rustls::{CertificateError, Error};
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
        Some(Error::NoCertificatesPresented) => "tls: client didn't provide a certificate".into(),
        Some(Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
            "tls: failed to verify client certificate: x509: certificate signed by unknown authority"
                .into()
        }
        _ => e.to_string(),
    }
}

/// etcd's warning for a connection whose handshake or certificate checks failed.
fn rejected(remote: SocketAddr, server_name: &str, error: &str) {
    tracing::warn!(
        remote_addr = %remote,
        server_name = %server_name,
        error = %error,
        "rejected connection"
    );
}

impl AsyncRead for ServerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ServerStream::Plain(s) => s.is_write_vectored(),
            ServerStream::Tls(s) => s.is_write_vectored(),
        }
    }
}
