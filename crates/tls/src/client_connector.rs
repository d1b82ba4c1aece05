//! Dialling a TLS server for tonic: a connector (`Endpoint::connect_with_connector`) that opens
//! the TCP connection and runs the TLS handshake with a [`crate::client_config`], naming the
//! server by the URI's host (IP addresses included) unless told another name. Failures keep
//! the wording of Go's `crypto/tls` and `crypto/x509`, which etcd's clients report.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A tonic connector that dials TCP and then TLS.
#[derive(Clone)]
pub struct TlsConnector {
    inner: tokio_rustls::TlsConnector,
    server_name: Option<ServerName<'static>>,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Why a connection could not be established.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The URI names no host to dial.
    #[error("missing host in address {0:?}")]
    NoHost(String),
    /// The TCP connection failed.
    #[error("{source}")]
    Connect {
        /// The socket error.
        source: std::io::Error,
    },
    /// The TLS handshake failed; the text is Go's for the same failure
    /// (`x509: certificate signed by unknown authority`, `remote error: tls: bad certificate`).
    #[error("{0}")]
    Handshake(String),
}

impl TlsConnector {
    /// A connector using `config`; `server_name` replaces the dialled host as the name the
    /// server's certificate must carry.
    pub fn new(
        config: Arc<rustls::ClientConfig>,
        server_name: Option<&str>,
    ) -> Result<TlsConnector, DialError> {
        let server_name = server_name
            .map(|name| {
                ServerName::try_from(name.to_string())
                    .map_err(|_| DialError::Handshake(format!("invalid server name {name:?}")))
            })
            .transpose()?;
        Ok(TlsConnector {
            inner: tokio_rustls::TlsConnector::from(config),
            server_name,
        })
    }

    async fn dial(self, uri: http::Uri) -> Result<TokioIo<TlsStream<TcpStream>>, DialError> {
        let host = uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .filter(|h| !h.is_empty())
            .ok_or_else(|| DialError::NoHost(uri.to_string()))?
            .to_string();
        let port = uri.port_u16().unwrap_or(443);
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|source| DialError::Connect { source })?;
        // Small gRPC frames must not wait for Nagle's algorithm.
        tcp.set_nodelay(true)
            .map_err(|source| DialError::Connect { source })?;
        let name = match self.server_name {
            Some(name) => name,
            None => ServerName::try_from(host.clone())
                .map_err(|_| DialError::Handshake(format!("invalid server name {host:?}")))?,
        };
        let tls = self
            .inner
            .connect(name, tcp)
            .await
            .map_err(|e| DialError::Handshake(go_handshake_error(&e)))?;
        Ok(TokioIo::new(tls))
    }
}

impl tower_service::Service<http::Uri> for TlsConnector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = DialError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, DialError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), DialError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        Box::pin(self.clone().dial(uri))
    }
}

/// A failed handshake in Go's words.
fn go_handshake_error(error: &std::io::Error) -> String {
    if let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return go_tls_error(tls);
    }
    match error.kind() {
        std::io::ErrorKind::UnexpectedEof => "EOF".to_string(),
        std::io::ErrorKind::ConnectionReset => "connection reset by peer".to_string(),
        _ => error.to_string(),
    }
}

fn go_tls_error(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(cert) => go_x509_error(cert),
        rustls::Error::AlertReceived(alert) => format!("remote error: tls: {}", go_alert(*alert)),
        rustls::Error::InvalidMessage(_) => {
            "tls: first record does not look like a TLS handshake".to_string()
        }
        other => other.to_string(),
    }
}

fn go_x509_error(error: &CertificateError) -> String {
    match error {
        CertificateError::UnknownIssuer => "x509: certificate signed by unknown authority".into(),
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => {
            "x509: certificate has expired or is not yet valid".into()
        }
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => not_valid_for(&expected.to_str(), presented),
        other => format!("x509: {other}"),
    }
}

/// Go's message for a certificate that does not name the host dialled.
fn not_valid_for(expected: &str, presented: &[String]) -> String {
    let wanted_ip = expected.parse::<std::net::IpAddr>().is_ok();
    let names: Vec<&str> = presented
        .iter()
        .filter_map(|name| {
            if wanted_ip {
                name.strip_prefix("IpAddress(")?.strip_suffix(')')
            } else {
                name.strip_prefix("DnsName(\"")?.strip_suffix("\")")
            }
        })
        .collect();
    match (wanted_ip, names.is_empty()) {
        (true, true) => format!(
            "x509: cannot validate certificate for {expected} because it doesn't contain any IP SANs"
        ),
        (false, true) => {
            format!("x509: certificate is not valid for any names, but wanted to match {expected}")
        }
        (_, false) => format!(
            "x509: certificate is valid for {}, not {expected}",
            names.join(", ")
        ),
    }
}

/// The name Go's `crypto/tls` gives an alert.
fn go_alert(alert: AlertDescription) -> String {
    use AlertDescription::*;
    let name = match alert {
        CloseNotify => "close notify",
        UnexpectedMessage => "unexpected message",
        BadRecordMac => "bad record MAC",
        RecordOverflow => "record overflow",
        HandshakeFailure => "handshake failure",
        BadCertificate => "bad certificate",
        UnsupportedCertificate => "unsupported certificate",
        CertificateRevoked => "revoked certificate",
        CertificateExpired => "expired certificate",
        CertificateUnknown => "unknown certificate",
        IllegalParameter => "illegal parameter",
        UnknownCA => "unknown certificate authority",
        AccessDenied => "access denied",
        DecodeError => "error decoding message",
        DecryptError => "error decrypting message",
        ProtocolVersion => "protocol version not supported",
        InsufficientSecurity => "insufficient security level",
        InternalError => "internal error",
        InappropriateFallback => "inappropriate fallback",
        UserCanceled => "user canceled",
        NoRenegotiation => "no renegotiation",
        MissingExtension => "missing extension",
        UnsupportedExtension => "unsupported extension",
        UnrecognisedName => "unrecognized name",
        CertificateRequired => "certificate required",
        NoApplicationProtocol => "no application protocol",
        other => return format!("alert({})", u8::from(other)),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_mismatches_as_go_does() {
        let presented = vec![
            "DnsName(\"localhost\")".to_string(),
            "IpAddress(127.0.0.1)".to_string(),
        ];
        assert_eq!(
            not_valid_for("10.0.0.1", &presented),
            "x509: certificate is valid for 127.0.0.1, not 10.0.0.1"
        );
        assert_eq!(
            not_valid_for("example.com", &presented),
            "x509: certificate is valid for localhost, not example.com"
        );
        assert_eq!(
            not_valid_for("10.0.0.1", &presented[..1]),
            "x509: cannot validate certificate for 10.0.0.1 because it doesn't contain any IP SANs"
        );
    }

    #[test]
    fn alerts_and_issuers_use_gos_words() {
        let alert = rustls::Error::AlertReceived(AlertDescription::BadCertificate);
        assert_eq!(go_tls_error(&alert), "remote error: tls: bad certificate");
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(
            go_tls_error(&unknown),
            "x509: certificate signed by unknown authority"
        );
    }
}

#[cfg(test)]
mod handshake_tests {
    use super::*;
    use crate::{ClientTlsSettings, client_config, crypto_provider};
    use oxcd_testkit::certs::{Authority, CertFiles};
    use rustls::server::WebPkiClientVerifier;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tower_service::Service;

    /// A TLS echo of one byte on loopback, requiring a client certificate from `ca` when
    /// `client_ca` is set; returns its port.
    async fn server(cert: &CertFiles, client_ca: Option<&std::path::Path>) -> u16 {
        let certs = crate::certificates(&cert.cert).unwrap();
        let key = crate::private_key(&cert.key).unwrap();
        let builder = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca {
            Some(ca) => builder.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(
                    Arc::new(crate::root_store(ca).unwrap()),
                    crypto_provider(),
                )
                .build()
                .unwrap(),
            ),
            None => builder.with_no_client_auth(),
        };
        let config = builder.with_single_cert(certs, key).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        let mut byte = [0u8; 1];
                        if tls.read_exact(&mut byte).await.is_ok() {
                            let _ = tls.write_all(&byte).await;
                        }
                    }
                });
            }
        });
        port
    }

    async fn dial(settings: &ClientTlsSettings, port: u16) -> Result<(), String> {
        dial_as(settings, port, None).await
    }

    /// Dials 127.0.0.1:`port`, expecting the certificate to name `server_name` when given.
    async fn dial_as(
        settings: &ClientTlsSettings,
        port: u16,
        server_name: Option<&str>,
    ) -> Result<(), String> {
        let config = client_config(settings).map_err(|e| e.to_string())?;
        let mut connector = TlsConnector::new(config, server_name).map_err(|e| e.to_string())?;
        let uri: http::Uri = format!("https://127.0.0.1:{port}").parse().unwrap();
        let io = connector.call(uri).await.map_err(|e| e.to_string())?;
        let mut tls = io.into_inner();
        tls.write_all(b"x").await.map_err(|e| e.to_string())?;
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte)
            .await
            .map_err(|e| go_handshake_error(&e))?;
        Ok(())
    }

    #[tokio::test]
    async fn verifies_servers_and_presents_client_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new(dir.path(), "ours").unwrap();
        let foreign = Authority::new(dir.path(), "foreign").unwrap();
        let server_cert = ca.issue("server", "server", &["127.0.0.1"]).unwrap();
        let client = ca.issue("client", "root", &[]).unwrap();
        let open = server(&server_cert, None).await;
        let mutual = server(&server_cert, Some(&ca.ca_file())).await;
        let trusting = |ca_file: std::path::PathBuf| ClientTlsSettings {
            ca_file: Some(ca_file),
            ..ClientTlsSettings::default()
        };

        dial(&trusting(ca.ca_file()), open).await.unwrap();
        assert_eq!(
            dial(&trusting(foreign.ca_file()), open).await.unwrap_err(),
            "x509: certificate signed by unknown authority"
        );
        let skip = ClientTlsSettings {
            insecure_skip_verify: true,
            ..ClientTlsSettings::default()
        };
        dial(&skip, open).await.unwrap();

        let with_cert = ClientTlsSettings {
            cert_file: Some(client.cert.clone()),
            key_file: Some(client.key.clone()),
            ..trusting(ca.ca_file())
        };
        dial(&with_cert, mutual).await.unwrap();
        let refused = dial(&trusting(ca.ca_file()), mutual).await.unwrap_err();
        assert!(refused.starts_with("remote error: tls: "), "{refused}");

        // A certificate naming only a DNS name: the dialled IP does not match, the name does.
        let named = ca.issue("named", "named", &["localhost"]).unwrap();
        let named = server(&named, None).await;
        assert_eq!(
            dial(&trusting(ca.ca_file()), named).await.unwrap_err(),
            "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"
        );
        dial_as(&trusting(ca.ca_file()), named, Some("localhost"))
            .await
            .unwrap();
    }
}
