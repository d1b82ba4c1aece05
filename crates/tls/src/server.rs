//! The rustls configuration a member's listener (client or peer) serves, built from one side's
//! TLS settings as etcd's `TLSInfo.ServerConfig` builds Go's: TLS 1.2 at least, the served
//! certificate read again when its files change (etcd reads them at every handshake), a client
//! certificate required once a CA bundle or client-certificate auth is configured, and etcd's
//! extra checks on it (allowed common name or host name, revocation list; see
//! `server_verify.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{ServerConfig, SupportedCipherSuite};

use crate::cipher_suites::provider_with;
use crate::pem_files::{TlsError, root_store};
use crate::server_cert::ReloadingCert;
use crate::server_verify::{Allowed, EtcdClientVerifier, Revocations};

/// One listener side's TLS settings, as etcd's flags give them.
#[derive(Clone, Debug, Default)]
pub struct ServerTlsSettings {
    /// The served certificate chain (`--cert-file`, `--peer-cert-file`).
    pub cert_file: PathBuf,
    /// Its private key (`--key-file`, `--peer-key-file`).
    pub key_file: PathBuf,
    /// The CA bundle connecting parties' certificates must chain to (`--trusted-ca-file`).
    pub trusted_ca_file: Option<PathBuf>,
    /// `--client-cert-auth` / `--peer-client-cert-auth`.
    pub client_cert_auth: bool,
    /// `--client-crl-file` / `--peer-crl-file`.
    pub crl_file: Option<PathBuf>,
    /// The one common name accepted (`--peer-cert-allowed-cn`, `allowed-cn` in the file).
    pub allowed_cn: Option<String>,
    /// The host name accepted certificates must be valid for (`--*-cert-allowed-hostname`).
    pub allowed_hostname: Option<String>,
    /// TLS 1.2 suites allowed, resolved from `--cipher-suites` by
    /// [`cipher_suites`](crate::cipher_suites); `None` allows all.
    pub cipher_suites: Option<Vec<SupportedCipherSuite>>,
}

/// Why a TLS server configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    /// A file could not be used.
    #[error(transparent)]
    File(#[from] TlsError),
    /// The settings contradict each other or cannot be honoured.
    #[error("{0}")]
    Settings(String),
}

/// The protocols offered in ALPN: gRPC needs HTTP/2, and `/health`, `/metrics` and `/version`
/// are also asked for over HTTP/1.1 (a client offering only that must not be refused).
pub const ALPN_H2_AND_HTTP1: &[&[u8]] = &[b"h2", b"http/1.1"];

/// The rustls configuration for a listener with `settings`, offering `alpn`.
pub fn server_config(
    settings: &ServerTlsSettings,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, ServerTlsError> {
    let provider = Arc::new(provider_with(settings.cipher_suites.as_deref()));
    let resolver = ReloadingCert::load(
        settings.cert_file.clone(),
        settings.key_file.clone(),
        provider.clone(),
    )?;
    let allowed = match (&settings.allowed_cn, &settings.allowed_hostname) {
        (Some(cn), Some(host)) => {
            return Err(ServerTlsError::Settings(format!(
                "AllowedCN and AllowedHostname are mutually exclusive (cn={cn:?}, hostname={host:?})"
            )));
        }
        (Some(cn), None) => Some(Allowed::CommonName(cn.clone())),
        (None, Some(host)) => Some(Allowed::host_name(host).map_err(ServerTlsError::Settings)?),
        (None, None) => None,
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ServerTlsError::Settings(e.to_string()))?;
    let verifies_clients = settings.client_cert_auth || settings.trusted_ca_file.is_some();
    let mut config = if verifies_clients {
        let ca_file = settings.trusted_ca_file.as_ref().ok_or_else(|| {
            ServerTlsError::Settings(
                "client certificate auth needs a trusted CA file: oxcd does not verify client certificates against the system's CA pool"
                    .to_string(),
            )
        })?;
        let roots = Arc::new(root_store(ca_file)?);
        let webpki = WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| ServerTlsError::Settings(format!("{}: {e}", ca_file.display())))?;
        let revocations = match &settings.crl_file {
            Some(path) => Some(Revocations::load(path.clone())?),
            None => None,
        };
        let verifier: Arc<dyn ClientCertVerifier> =
            Arc::new(EtcdClientVerifier::new(webpki, allowed, revocations));
        builder
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(resolver))
    } else {
        // Without a CA nothing is verified, so the common name and revocation checks, which
        // look at verified chains, never run (as in etcd).
        builder
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver))
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests;
