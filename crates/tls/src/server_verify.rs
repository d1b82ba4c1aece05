//! Verifying a connecting party's certificate as etcd does: the chain must lead to the trusted
//! CA bundle (rustls' WebPKI verifier), then etcd's own checks, with etcd's error texts: the
//! allowed common name or host name (`AllowedCN`, `AllowedHostname`), and no certificate of
//! the chain revoked by the `--client-crl-file` / `--peer-crl-file` list. Like etcd, the list is
//! matched by serial number and read again when the file changes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, ServerName, UnixTime};

use crate::pem_files::TlsError;

/// etcd's answer when the allowed common name or host name does not match.
const AUTH_FAILED: &str = "client certificate authentication failed";

/// The one identity a verified certificate must carry.
#[derive(Debug)]
pub(crate) enum Allowed {
    /// The subject's common name, exactly.
    CommonName(String),
    /// A host name (or IP address) the certificate is valid for, by its subject alternative
    /// names, as Go's `VerifyHostname`.
    HostName(ServerName<'static>),
}

impl Allowed {
    /// The host-name check for `host`.
    pub(crate) fn host_name(host: &str) -> Result<Allowed, String> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| format!("invalid allowed host name {host:?}: {e}"))?;
        Ok(Allowed::HostName(name))
    }

    fn admits(&self, cert: &CertificateDer<'_>) -> bool {
        match self {
            Allowed::CommonName(cn) => common_name(cert).as_deref() == Some(cn.as_str()),
            Allowed::HostName(name) => webpki::EndEntityCert::try_from(cert)
                .is_ok_and(|ee| ee.verify_is_valid_for_subject_name(name).is_ok()),
        }
    }
}

/// The subject common name of `cert`, if it has one.
pub fn common_name(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = parsed.subject().iter_common_name().next()?;
    cn.as_str().ok().map(ToString::to_string)
}

/// A serial number as Go's `big.Int.Bytes()` has it: without leading zero bytes.
fn serial_key(raw: &[u8]) -> Vec<u8> {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    raw[start..].to_vec()
}

/// The revoked serial numbers of a CRL file, read again when the file changes.
#[derive(Debug)]
pub(crate) struct Revocations {
    path: PathBuf,
    loaded: Mutex<(Option<SystemTime>, HashSet<Vec<u8>>)>,
}

impl Revocations {
    /// Reads the list once, so that a member with an unusable file does not start.
    pub(crate) fn load(path: PathBuf) -> Result<Revocations, TlsError> {
        let serials = read_serials(&path)?;
        Ok(Revocations {
            loaded: Mutex::new((modified(&path), serials)),
            path,
        })
    }

    pub(crate) fn check(&self, certs: &[&CertificateDer<'_>]) -> Result<(), String> {
        let mut loaded = self.loaded.lock();
        let stamp = modified(&self.path);
        if stamp != loaded.0 {
            let serials = read_serials(&self.path).map_err(|e| e.to_string())?;
            *loaded = (stamp, serials);
        }
        for cert in certs {
            let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
                continue;
            };
            let serial = serial_key(parsed.raw_serial());
            if loaded.1.contains(&serial) {
                let hex: String = serial.iter().map(|b| format!("{b:02x}")).collect();
                return Err(format!("transport: certificate serial {hex} revoked"));
            }
        }
        Ok(())
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).ok()?.modified().ok()
}

fn read_serials(path: &Path) -> Result<HashSet<Vec<u8>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |what: String| TlsError::Invalid {
        path: path.to_path_buf(),
        what,
    };
    // Go's `x509.ParseCRL` takes PEM or DER.
    let der = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        CertificateRevocationListDer::from_pem_slice(&bytes)
            .map_err(|e| invalid(format!("failed to parse CRL PEM data: {e}")))?
            .as_ref()
            .to_vec()
    } else {
        bytes
    };
    let (_, crl) = x509_parser::parse_x509_crl(&der)
        .map_err(|e| invalid(format!("failed to parse CRL: {e}")))?;
    Ok(crl
        .iter_revoked_certificates()
        .map(|revoked| serial_key(revoked.raw_serial()))
        .collect())
}

/// rustls' chain verification followed by etcd's checks.
#[derive(Debug)]
pub(crate) struct EtcdClientVerifier {
    chain: Arc<dyn ClientCertVerifier>,
    allowed: Option<Allowed>,
    revocations: Option<Revocations>,
}

impl EtcdClientVerifier {
    pub(crate) fn new(
        chain: Arc<dyn ClientCertVerifier>,
        allowed: Option<Allowed>,
        revocations: Option<Revocations>,
    ) -> EtcdClientVerifier {
        EtcdClientVerifier {
            chain,
            allowed,
            revocations,
        }
    }
}

impl ClientCertVerifier for EtcdClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.chain.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .chain
            .verify_client_cert(end_entity, intermediates, now)?;
        if let Some(revocations) = &self.revocations {
            let all: Vec<&CertificateDer<'_>> =
                std::iter::once(end_entity).chain(intermediates).collect();
            revocations.check(&all).map_err(rustls::Error::General)?;
        }
        if let Some(allowed) = &self.allowed
            && !allowed.admits(end_entity)
        {
            return Err(rustls::Error::General(AUTH_FAILED.to_string()));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}
