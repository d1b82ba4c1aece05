//! `--auto-tls` / `--peer-auto-tls`: a self-signed certificate for the listeners' hosts, made
//! once and kept where etcd keeps it (`cert.pem` and `key.pem` in `<data-dir>/fixtures/client`
//! or `.../peer`), so a restarted member serves the same certificate. Like etcd's, it is
//! issued to the organisation "etcd", for server authentication (and client authentication on
//! the peer side, where members dial each other with it), valid for the given number of years.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose, SanType,
};

use crate::pem_files::TlsError;

/// The certificate and key files of a self-signed certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfSigned {
    /// `<dir>/cert.pem`.
    pub cert_file: PathBuf,
    /// `<dir>/key.pem`.
    pub key_file: PathBuf,
}

/// The self-signed certificate in `dir`, made for `hosts` (`host:port` as in the listen URLs)
/// unless both files are already there. `for_clients_too` adds client authentication to its
/// uses (peers present it when dialling).
pub fn self_signed_cert(
    dir: &Path,
    hosts: &[String],
    validity_years: u64,
    for_clients_too: bool,
) -> Result<SelfSigned, TlsError> {
    if validity_years == 0 {
        return Err(invalid(
            dir,
            "selfSignedCertValidity is invalid,it should be greater than 0",
        ));
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| TlsError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
    let dir = std::path::absolute(dir).map_err(|source| TlsError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let files = SelfSigned {
        cert_file: dir.join("cert.pem"),
        key_file: dir.join("key.pem"),
    };
    if files.cert_file.exists() && files.key_file.exists() {
        return Ok(files);
    }
    let (cert, key) = generate(hosts, validity_years, for_clients_too)
        .map_err(|e| invalid(&dir, &format!("cannot generate cert: {e}")))?;
    tracing::warn!(validity_years, "automatically generate certificates");
    write(&files.cert_file, cert.as_bytes(), 0o644)?;
    write(&files.key_file, key.as_bytes(), 0o600)?;
    Ok(files)
}

fn generate(
    hosts: &[String],
    validity_years: u64,
    for_clients_too: bool,
) -> Result<(String, String), rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "etcd");
    let now = time::OffsetDateTime::now_utc();
    let days = i64::try_from(validity_years.saturating_mul(365)).unwrap_or(i64::MAX / 2);
    params.not_before = now;
    params.not_after = now.saturating_add(time::Duration::days(days));
    params.key_usages = vec![
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if for_clients_too {
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    for host in hosts {
        let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        params.subject_alt_names.push(match name.parse() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(name.to_string().try_into()?),
        });
    }
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn write(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| f.write_all(contents));
    result.map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(path: &Path, what: &str) -> TlsError {
    TlsError::Invalid {
        path: path.to_path_buf(),
        what: what.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_for_the_listen_hosts_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = dir.path().join("data").join("fixtures").join("client");
        let hosts = ["127.0.0.1:2379".to_string(), "localhost:2379".to_string()];
        let files = self_signed_cert(&fixtures, &hosts, 2, false).unwrap();
        assert_eq!(files.cert_file, fixtures.join("cert.pem"));
        let pem = std::fs::read(&files.cert_file).unwrap();
        let der = crate::certificates(&files.cert_file).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(der[0].as_ref()).unwrap();
        let organization = cert.subject().iter_organization().next().unwrap();
        assert_eq!(organization.as_str().unwrap(), "etcd");
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert_eq!(san.value.general_names.len(), 2);
        let years = cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
        assert_eq!(years, 2 * 365 * 24 * 3600);
        crate::private_key(&files.key_file).unwrap();

        let again = self_signed_cert(&fixtures, &hosts, 2, false).unwrap();
        assert_eq!(again, files);
        assert_eq!(
            std::fs::read(&again.cert_file).unwrap(),
            pem,
            "kept, not made again"
        );

        let err = self_signed_cert(&dir.path().join("other"), &hosts, 0, false).unwrap_err();
        assert!(
            err.to_string()
                .contains("selfSignedCertValidity is invalid"),
            "{err}"
        );
    }
}
