//! Reading the PEM files named by etcd's TLS flags: certificate chains, a private key (PKCS#8,
//! PKCS#1 or SEC1, as Go's `tls.X509KeyPair` takes them) and CA bundles. Every error names the
//! file and what was wrong with it, so a member refuses to start with a reason an operator can act
//! on.

use std::path::{Path, PathBuf};

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("open {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds no PEM block of the kind needed, or a malformed one.
    #[error("{}: {what}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What was missing or wrong.
        what: String,
    },
}

/// The certificates of `path`, in file order (a leaf first, then its intermediates).
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(path, format!("failed to parse certificate PEM data: {e}")))?;
    if certs.is_empty() {
        return Err(invalid(
            path,
            "failed to find any PEM data in certificate input",
        ));
    }
    Ok(certs)
}

/// The first private key of `path`.
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        invalid(
            path,
            format!("failed to find any PEM data in key input ({e})"),
        )
    })
}

/// The CA certificates of the bundle `path`, as the roots a peer's certificate must chain to.
pub fn root_store(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path)? {
        roots
            .add(cert)
            .map_err(|e| invalid(path, format!("not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(path: &Path, what: impl Into<String>) -> TlsError {
    TlsError::Invalid {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_testkit::certs::Authority;

    #[test]
    fn issued_files_load() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new(dir.path(), "test").unwrap();
        let files = ca.issue("member", "member", &["127.0.0.1"]).unwrap();
        assert_eq!(certificates(&files.cert).unwrap().len(), 1);
        private_key(&files.key).unwrap();
        assert_eq!(root_store(&ca.ca_file()).unwrap().len(), 1);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = certificates(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("open {}: ", missing.display())),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem").unwrap();
        let err = certificates(&empty).unwrap_err().to_string();
        assert!(err.contains("empty.pem") && err.contains("PEM"), "{err}");
        assert!(private_key(&empty).is_err());
    }
}
