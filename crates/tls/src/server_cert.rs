//! The certificate a listener serves, read again whenever its files change: etcd reads the
//! certificate and key files at every handshake, so a renewed certificate reaches new
//! connections without a restart. Here each handshake only compares the files' modification
//! times and sizes, and reads them again when either differs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::pem_files::{TlsError, certificates, private_key};

/// What identifies one version of a file: its modification time and size.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The served certificate and the file versions it was read from.
#[derive(Debug)]
struct Loaded {
    stamps: (Stamp, Stamp),
    key: Arc<CertifiedKey>,
}

/// A certificate resolver reading `cert_file` and `key_file` again when they change.
#[derive(Debug)]
pub(crate) struct ReloadingCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    loaded: Mutex<Loaded>,
}

impl ReloadingCert {
    /// Reads the files once, so that a member with unusable files does not start.
    pub(crate) fn load(
        cert_file: PathBuf,
        key_file: PathBuf,
        provider: Arc<CryptoProvider>,
    ) -> Result<ReloadingCert, TlsError> {
        let loaded = read(&cert_file, &key_file, &provider)?;
        Ok(ReloadingCert {
            cert_file,
            key_file,
            provider,
            loaded: Mutex::new(loaded),
        })
    }

    pub(crate) fn current(&self) -> Result<Arc<CertifiedKey>, TlsError> {
        let mut loaded = self.loaded.lock();
        let stamps = (stamp(&self.cert_file), stamp(&self.key_file));
        if stamps != loaded.stamps {
            *loaded = read(&self.cert_file, &self.key_file, &self.provider)?;
        }
        Ok(loaded.key.clone())
    }
}

fn read(cert_file: &Path, key_file: &Path, provider: &CryptoProvider) -> Result<Loaded, TlsError> {
    // Stamped before reading: a change while reading is seen at the next handshake.
    let stamps = (stamp(cert_file), stamp(key_file));
    let chain = certificates(cert_file)?;
    let key = private_key(key_file)?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Invalid {
            path: key_file.to_path_buf(),
            what: format!("unusable private key: {e}"),
        })?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|_| TlsError::Invalid {
        path: key_file.to_path_buf(),
        what: format!(
            "tls: private key does not match public key in {}",
            cert_file.display()
        ),
    })?;
    Ok(Loaded {
        stamps,
        key: Arc::new(certified),
    })
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match self.current() {
            Ok(key) => Some(key),
            Err(e) => {
                // As etcd: the handshake fails, and the next one tries the files again.
                tracing::warn!(
                    cert_file = %self.cert_file.display(),
                    key_file = %self.key_file.display(),
                    error = %e,
                    "failed to create peer certificate"
                );
                None
            }
        }
    }
}
