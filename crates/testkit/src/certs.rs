//! Certificates for the TLS tests: a throw-away certificate authority issuing server, peer and
//! client certificates (common name and subject alternative names chosen by the test), written
//! as PEM files for `etcd`, `oxcd`, `etcdctl` and `oxctl` to load. A second authority stands in
//! for "somebody else's CA" (a peer or client that must be refused); an authority can also
//! revoke what it issued (a CRL file for `--client-crl-file`). Also key pairs for JWT signing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams,
    SanType, SerialNumber, date_time_ymd,
};

/// A certificate authority whose certificate is written as `<name>-ca.pem` in `dir`.
pub struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
    name: String,
}

/// The PEM files of one issued certificate and its private key.
#[derive(Clone, Debug)]
pub struct CertFiles {
    /// The certificate (`--cert-file`, `--peer-cert-file`, `--cert`).
    pub cert: PathBuf,
    /// Its unencrypted PKCS#8 private key (`--key-file`, `--peer-key-file`, `--key`).
    pub key: PathBuf,
    /// The certificate's serial number.
    pub serial: u64,
}

/// Serial numbers unique within the process (and, from the clock, across runs).
fn next_serial() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let _ = NEXT.compare_exchange(
        0,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() << 20),
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Authority {
    /// Creates an authority named `name` and writes its certificate into `dir`.
    pub fn new(dir: &Path, name: &str) -> anyhow::Result<Authority> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        valid_for_the_tests(&mut params);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        let authority = Authority {
            issuer,
            dir: dir.to_path_buf(),
            name: name.to_string(),
        };
        write(&authority.ca_file(), &authority.issuer.pem())?;
        Ok(authority)
    }

    /// The authority's certificate (`--trusted-ca-file`, `--cacert`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join(format!("{}-ca.pem", self.name))
    }

    /// Issues a certificate for `common_name`, usable by servers and clients alike (as etcd's
    /// documentation has peer certificates), naming `hosts` (IP addresses or DNS names) as
    /// subject alternative names; written as `<file_stem>.pem` and `<file_stem>-key.pem`.
    pub fn issue(
        &self,
        file_stem: &str,
        common_name: &str,
        hosts: &[&str],
    ) -> anyhow::Result<CertFiles> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.subject_alt_names = hosts
            .iter()
            .map(|host| match host.parse() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName((*host).try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        valid_for_the_tests(&mut params);
        let serial = next_serial();
        params.serial_number = Some(SerialNumber::from(serial));
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let files = CertFiles {
            cert: self.dir.join(format!("{file_stem}.pem")),
            key: self.dir.join(format!("{file_stem}-key.pem")),
            serial,
        };
        write(&files.cert, &cert.pem())?;
        write(&files.key, &key.serialize_pem())?;
        Ok(files)
    }
}

/// Writes a fresh ECDSA P-256 key pair as `<file_stem>.pub` (SPKI PEM) and `<file_stem>.key`
/// (PKCS#8 PEM), as `--auth-token jwt,sign-method=ES256,...` takes them; returns (public,
/// private).
pub fn ec_key_pair(dir: &Path, file_stem: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    let key = KeyPair::generate()?;
    let public = dir.join(format!("{file_stem}.pub"));
    let private = dir.join(format!("{file_stem}.key"));
    write(&public, &key.public_key_pem())?;
    write(&private, &key.serialize_pem())?;
    Ok((public, private))
}

impl Authority {
    /// Writes a revocation list naming `revoked` as `<file_stem>.pem` (PEM, as etcd's
    /// `--client-crl-file` takes it) and returns its path.
    pub fn revocation_list(
        &self,
        file_stem: &str,
        revoked: &[&CertFiles],
    ) -> anyhow::Result<PathBuf> {
        let params = CertificateRevocationListParams {
            this_update: date_time_ymd(2020, 1, 1),
            next_update: date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(next_serial()),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|files| RevokedCertParams {
                    serial_number: SerialNumber::from(files.serial),
                    revocation_time: date_time_ymd(2020, 1, 2),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.issuer)?;
        let path = self.dir.join(format!("{file_stem}.pem"));
        write(&path, &crl.pem()?)?;
        Ok(path)
    }
}

/// From well before any test ran to well after: validity is not what these tests examine.
fn valid_for_the_tests(params: &mut CertificateParams) {
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2099, 1, 1);
}

fn write(path: &Path, pem: &str) -> anyhow::Result<()> {
    std::fs::write(path, pem).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_files_are_pem_and_name_their_subject() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new(dir.path(), "one").unwrap();
        let files = ca
            .issue("server", "alice", &["127.0.0.1", "localhost"])
            .unwrap();
        let ca_pem = std::fs::read_to_string(ca.ca_file()).unwrap();
        assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let cert = std::fs::read_to_string(&files.cert).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(cert, ca_pem);
        let key = std::fs::read_to_string(&files.key).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    }
}
