//! The rustls configuration a client dials TLS servers with, built from the files etcd's client
//! TLS settings name (etcdctl's `--cacert --cert --key --insecure-skip-tls-verify`, a member's
//! `--peer-trusted-ca-file` and peer certificate). Files are checked in the order and with the
//! messages of etcd's `TLSInfo.ClientConfig`, because etcdctl prints those messages verbatim.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::{self, PemObject};

use crate::crypto_provider;

/// The files and switches a TLS client is configured from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTlsSettings {
    /// CA bundle the server's certificate must chain to; without one, the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Certificate presented when the server asks for one.
    pub cert_file: Option<PathBuf>,
    /// Private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Accept any server certificate (etcd's `InsecureSkipVerify`, for tests only).
    pub insecure_skip_verify: bool,
}

/// Why a client TLS configuration could not be built; the message is the one etcd's Go code
/// gives for the same file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClientTlsError(String);

/// The rustls configuration for `settings`, offering HTTP/2 by ALPN as gRPC requires.
pub fn client_config(
    settings: &ClientTlsSettings,
) -> Result<Arc<rustls::ClientConfig>, ClientTlsError> {
    let identity = match (&settings.cert_file, &settings.key_file) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(key_pair(cert, key)?),
        (cert, key) => {
            return Err(ClientTlsError(format!(
                "KeyFile and CertFile must both be present[key: {}, cert: {}]",
                display(key.as_deref()),
                display(cert.as_deref())
            )));
        }
    };
    let provider = crypto_provider();
    let verifier: Arc<dyn ServerCertVerifier> = if settings.insecure_skip_verify {
        Arc::new(FixedVerdict {
            provider: provider.clone(),
            accept: true,
        })
    } else {
        let roots = match &settings.ca_file {
            Some(path) => ca_bundle(path)?,
            None => system_roots(),
        };
        if roots.is_empty() {
            // Go verifies against an empty pool and fails every handshake; rustls refuses to
            // build such a verifier, so the refusal is made explicit.
            Arc::new(FixedVerdict {
                provider: provider.clone(),
                accept: false,
            })
        } else {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| ClientTlsError(e.to_string()))?
        }
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientTlsError(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match identity {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|_| ClientTlsError("tls: private key does not match public key".into()))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

fn display(path: Option<&Path>) -> String {
    path.map(|p| p.display().to_string()).unwrap_or_default()
}

type KeyPair = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// Reads a certificate and its key as Go's `tls.X509KeyPair` does: both files first, then the
/// certificate's PEM, then the key's.
fn key_pair(cert_file: &Path, key_file: &Path) -> Result<KeyPair, ClientTlsError> {
    let cert_pem = read(cert_file)?;
    let key_pem = read(key_file)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(ClientTlsError(
            "tls: failed to find any PEM data in certificate input".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        ClientTlsError(match e {
            pem::Error::NoItemsFound => "tls: failed to find any PEM data in key input".into(),
            other => format!("tls: failed to parse private key: {other}"),
        })
    })?;
    Ok((certs, key))
}

/// The certificates of a CA bundle; like Go's `NewCertPool`, text that is not PEM is skipped.
fn ca_bundle(path: &Path) -> Result<RootCertStore, ClientTlsError> {
    let pem = read(path)?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok) {
        roots
            .add(cert)
            .map_err(|e| ClientTlsError(format!("x509: malformed certificate ({e})")))?;
    }
    Ok(roots)
}

/// The operating system's trusted roots, which Go clients use when no CA bundle is given;
/// read once per process, as Go does, since every connection of a client may ask for them.
fn system_roots() -> RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            roots
        })
        .clone()
}

fn read(path: &Path) -> Result<Vec<u8>, ClientTlsError> {
    std::fs::read(path).map_err(|e| ClientTlsError(go_io_error("open", path, &e)))
}

/// An I/O error worded as Go's `*PathError` prints it (`open FILE: no such file or directory`).
pub(crate) fn go_io_error(op: &str, path: &Path, error: &std::io::Error) -> String {
    let reason = match error.raw_os_error() {
        Some(code) => {
            // Rust appends " (os error N)" to strerror's text; Go prints the text in lower case.
            let text = std::io::Error::from_raw_os_error(code).to_string();
            let text = text
                .split(" (os error")
                .next()
                .unwrap_or_default()
                .to_string();
            lower_first(&text)
        }
        None => error.to_string(),
    };
    format!("{op} {}: {reason}", path.display())
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A server-certificate verifier whose verdict is fixed: accept every certificate (Go's
/// `InsecureSkipVerify`), or refuse every one as signed by an unknown authority (what verifying
/// against a CA bundle without a single certificate amounts to). Either way the handshake
/// signatures are still checked.
#[derive(Debug)]
struct FixedVerdict {
    provider: Arc<CryptoProvider>,
    accept: bool,
}

impl ServerCertVerifier for FixedVerdict {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.accept {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(CertificateError::UnknownIssuer.into())
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_testkit::certs::Authority;

    fn settings(ca: Option<&Path>, cert: Option<&Path>, key: Option<&Path>) -> ClientTlsSettings {
        ClientTlsSettings {
            ca_file: ca.map(Path::to_path_buf),
            cert_file: cert.map(Path::to_path_buf),
            key_file: key.map(Path::to_path_buf),
            insecure_skip_verify: false,
        }
    }

    #[test]
    fn builds_with_and_without_a_client_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new(dir.path(), "test").unwrap();
        let client = ca.issue("client", "root", &[]).unwrap();
        let config = client_config(&settings(Some(&ca.ca_file()), None, None)).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
        assert!(!config.client_auth_cert_resolver.has_certs());
        let config = client_config(&settings(
            Some(&ca.ca_file()),
            Some(&client.cert),
            Some(&client.key),
        ))
        .unwrap();
        assert!(config.client_auth_cert_resolver.has_certs());
        client_config(&ClientTlsSettings::default()).unwrap();
    }

    #[test]
    fn bad_files_get_etcds_messages() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new(dir.path(), "test").unwrap();
        let client = ca.issue("client", "root", &[]).unwrap();
        let other = ca.issue("other", "other", &[]).unwrap();
        let missing = dir.path().join("missing.pem");
        let text = dir.path().join("text.txt");
        std::fs::write(&text, "not pem").unwrap();
        let error = |s: ClientTlsSettings| client_config(&s).unwrap_err().to_string();

        assert_eq!(
            error(settings(Some(&missing), None, None)),
            format!("open {}: no such file or directory", missing.display())
        );
        assert_eq!(
            error(settings(None, Some(&client.cert), None)),
            format!(
                "KeyFile and CertFile must both be present[key: , cert: {}]",
                client.cert.display()
            )
        );
        assert_eq!(
            error(settings(None, Some(&text), Some(&client.key))),
            "tls: failed to find any PEM data in certificate input"
        );
        assert_eq!(
            error(settings(None, Some(&client.cert), Some(&text))),
            "tls: failed to find any PEM data in key input"
        );
        assert_eq!(
            error(settings(None, Some(&client.cert), Some(&other.key))),
            "tls: private key does not match public key"
        );
        // Like Go, a bundle without certificates is accepted (and trusts nobody).
        client_config(&settings(Some(&text), None, None)).unwrap();
    }
}
