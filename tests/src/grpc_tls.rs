//! gRPC connections to a member's `https://` client URL, for clusters started with client TLS
//! (`ClusterSpec::client_tls`): the harness trusts the test CA and presents a client
//! certificate when the members require one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use oxcd_testkit::certs::CertFiles;
use tonic::transport::{Endpoint, Uri};

use crate::grpc::{self, CONNECT_TIMEOUT, Clients};

/// The client TLS of a test cluster: what its members serve and require, and what the
/// harness trusts and presents.
#[derive(Clone, Debug)]
pub struct ClusterTls {
    /// The CA bundle (`--trusted-ca-file` of the members when `client_cert_auth`, `--cacert`
    /// of the clients).
    pub ca: PathBuf,
    /// The members' certificate (`--cert-file`, `--key-file`); it must name 127.0.0.1.
    pub server: CertFiles,
    /// `--client-cert-auth` with `--trusted-ca-file`.
    pub client_cert_auth: bool,
    /// The certificate the harness presents (needed with `client_cert_auth`).
    pub harness_client: Option<CertFiles>,
}

impl ClusterTls {
    /// The members' TLS flags.
    pub fn server_args(&self) -> Vec<String> {
        let mut args = vec![
            "--cert-file".to_string(),
            self.server.cert.display().to_string(),
            "--key-file".to_string(),
            self.server.key.display().to_string(),
        ];
        if self.client_cert_auth {
            args.push("--client-cert-auth".to_string());
            args.push("--trusted-ca-file".to_string());
            args.push(self.ca.display().to_string());
        }
        args
    }
}

/// Connects to `endpoint` (`https://ip:port`) as the harness; every request fails after
/// `request_timeout`.
pub async fn connect(
    endpoint: &str,
    request_timeout: Duration,
    tls: &ClusterTls,
) -> Result<Clients> {
    let addr: SocketAddr = endpoint
        .trim_start_matches("https://")
        .parse()
        .with_context(|| format!("invalid endpoint {endpoint:?}"))?;
    let builder = rustls::ClientConfig::builder_with_provider(oxcd_tls::crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(oxcd_tls::root_store(&tls.ca)?);
    let mut config = match &tls.harness_client {
        Some(files) => builder.with_client_auth_cert(
            oxcd_tls::certificates(&files.cert)?,
            oxcd_tls::private_key(&files.key)?,
        )?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let config = Arc::new(config);
    let connector = tower::service_fn(move |_: Uri| {
        let config = config.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let name = rustls_pki_types::ServerName::from(addr.ip());
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
        }
    });
    // The URI only names the authority; the connector makes the TLS connection.
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(request_timeout)
        .connect_with_connector(connector)
        .await
        .with_context(|| format!("connecting to {endpoint}"))?;
    Ok(grpc::clients(channel))
}
