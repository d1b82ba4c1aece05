//! The certificates of a cluster that runs with TLS (`up --tls`), made by oxadm itself: a
//! certificate authority and a client certificate kept beside the cluster file (`pki/ca.pem`,
//! `ca-key.pem`, `client.pem`, `client-key.pem`, as the file's `tls:` section names them), and
//! for each member a server and a peer certificate naming its host, made when the member is
//! started or its certificates are renewed. Members' keys go straight to their hosts and are
//! never kept here.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use serde::{Deserialize, Serialize};

/// How long the certificate authority is valid: members trust it for this long.
const AUTHORITY_DAYS: i64 = 10 * 365;
/// How long member and client certificates are valid; `oxadm certs renew` makes new ones.
pub const CERTIFICATE_DAYS: i64 = 365;
/// The client certificate's common name. With authentication enabled, oxcd (like etcd) takes
/// a client certificate's common name as the user, and oxadm's membership and leadership
/// changes need `root`.
const CLIENT_USER: &str = "root";

/// The files of the cluster's certificate authority and of oxadm's client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TlsFiles {
    /// The authority's certificate: members trust clients and peers it signed, clients trust
    /// members it signed (`--cacert`).
    pub ca_cert: PathBuf,
    /// The authority's private key, which signs member certificates.
    pub ca_key: PathBuf,
    /// The client certificate oxadm (and oxctl or etcdctl, as `--cert`) presents.
    pub client_cert: PathBuf,
    /// Its private key (`--key`).
    pub client_key: PathBuf,
}

/// A member's certificates and keys, as PEM text to install on its host.
pub struct MemberCerts {
    /// The authority's certificate.
    pub ca_cert: String,
    /// The certificate it serves clients with.
    pub server_cert: String,
    /// Its key.
    pub server_key: String,
    /// The certificate it serves and dials peers with.
    pub peer_cert: String,
    /// Its key.
    pub peer_key: String,
}

impl TlsFiles {
    /// The files under `dir`, by their usual names.
    pub fn in_dir(dir: &Path) -> TlsFiles {
        TlsFiles {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca-key.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client-key.pem"),
        }
    }

    /// Makes relative paths start at `base` (the cluster file's directory).
    pub fn resolve(&mut self, base: &Path) {
        for path in [
            &mut self.ca_cert,
            &mut self.ca_key,
            &mut self.client_cert,
            &mut self.client_key,
        ] {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }

    /// Creates the authority and the client certificate unless both exist already; says
    /// whether it created them.
    pub fn create_unless_present(&self, cluster_token: &str) -> Result<bool> {
        let present = [&self.ca_cert, &self.ca_key].map(|path| path.exists());
        match present {
            [true, true] => {
                self.issuer()?;
                if !self.client_cert.exists() || !self.client_key.exists() {
                    self.renew_client()?;
                }
                return Ok(false);
            }
            [false, false] => {}
            _ => bail!(
                "only one of {} and {} exists: restore the other, or remove both to make a new authority",
                self.ca_cert.display(),
                self.ca_key.display()
            ),
        }
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(
            DnType::CommonName,
            format!("oxcd cluster {cluster_token} CA"),
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        valid_for(&mut params, AUTHORITY_DAYS);
        let authority = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        write_private(&self.ca_key, &authority.key().serialize_pem())?;
        write_public(&self.ca_cert, &authority.pem())?;
        self.renew_client()?;
        Ok(true)
    }

    /// Makes a new client certificate (and key) signed by the authority.
    pub fn renew_client(&self) -> Result<()> {
        let issuer = self.issuer()?;
        let (cert, key) = issue(
            &issuer,
            CLIENT_USER,
            &[],
            &[ExtendedKeyUsagePurpose::ClientAuth],
        )?;
        write_private(&self.client_key, &key)?;
        write_public(&self.client_cert, &cert)
    }

    /// A member's new server and peer certificates for `host`, the address clients and peers
    /// reach it at.
    pub fn member_certs(&self, name: &str, host: &str) -> Result<MemberCerts> {
        let issuer = self.issuer()?;
        let ca_cert = read(&self.ca_cert)?;
        // Both usages on both, as etcd's security guide issues them: a peer certificate
        // authenticates both ends of a peer connection.
        let both = [
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let (server_cert, server_key) = issue(&issuer, name, &[host], &both)?;
        let (peer_cert, peer_key) = issue(&issuer, name, &[host], &both)?;
        Ok(MemberCerts {
            ca_cert,
            server_cert,
            server_key,
            peer_cert,
            peer_key,
        })
    }

    /// The TLS options of a client presenting the client certificate.
    pub fn client_options(&self) -> oxcd_client::TlsOptions {
        oxcd_client::TlsOptions {
            ca_file: Some(self.ca_cert.clone()),
            cert_file: Some(self.client_cert.clone()),
            key_file: Some(self.client_key.clone()),
            ..oxcd_client::TlsOptions::default()
        }
    }

    /// oxctl's (and etcdctl's) flags for the same.
    pub fn ctl_flags(&self) -> Vec<String> {
        vec![
            format!("--cacert={}", self.ca_cert.display()),
            format!("--cert={}", self.client_cert.display()),
            format!("--key={}", self.client_key.display()),
        ]
    }

    fn issuer(&self) -> Result<Issuer<'static, KeyPair>> {
        let key = KeyPair::from_pem(&read(&self.ca_key)?)
            .with_context(|| format!("{} is not a private key", self.ca_key.display()))?;
        let issuer = Issuer::from_ca_cert_pem(&read(&self.ca_cert)?, key)
            .with_context(|| format!("{} is not a certificate", self.ca_cert.display()))?;
        Ok(issuer)
    }
}

/// Signs a certificate for `common_name` naming `hosts` (addresses or DNS names); returns the
/// certificate and its new key as PEM.
fn issue(
    issuer: &Issuer<'static, KeyPair>,
    common_name: &str,
    hosts: &[&str],
    usages: &[ExtendedKeyUsagePurpose],
) -> Result<(String, String)> {
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
    params.extended_key_usages = usages.to_vec();
    params.serial_number = Some(random_serial()?.into());
    valid_for(&mut params, CERTIFICATE_DAYS);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Valid from an hour ago (hosts' clocks differ a little) for `days`.
fn valid_for(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(days);
}

/// A positive random serial number, as RFC 5280 asks of an authority.
fn random_serial() -> Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = vec![0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .context("reading /dev/urandom for a serial number")?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(bytes)
}

/// When certificate `der` stops being valid.
pub fn not_after(der: &[u8]) -> Result<time::OffsetDateTime> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| anyhow::anyhow!("not a certificate: {e}"))?;
    Ok(cert.validity().not_after.to_datetime())
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn write_public(path: &Path, text: &str) -> Result<()> {
    write(path, text, 0o644)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    write(path, text, 0o600)
}

/// Writes the whole file or nothing, with `mode` from the start (a key is never readable by
/// others, even briefly).
fn write(path: &Path, text: &str, mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&partial)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&partial, path));
    written.with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_is_made_once_and_signs_member_and_client_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles::in_dir(&dir.path().join("pki"));
        assert!(files.create_unless_present("t1").unwrap());
        let ca = std::fs::read_to_string(&files.ca_cert).unwrap();
        assert!(!files.create_unless_present("t1").unwrap());
        assert_eq!(std::fs::read_to_string(&files.ca_cert).unwrap(), ca);

        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files.ca_key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let certs = files.member_certs("m1", "10.0.0.1").unwrap();
        assert_eq!(certs.ca_cert, ca);
        let (_, pem) = x509_parser::pem::parse_x509_pem(certs.server_cert.as_bytes()).unwrap();
        let cert = pem.parse_x509().unwrap();
        let ca_pem = x509_parser::pem::parse_x509_pem(ca.as_bytes()).unwrap().1;
        let ca_cert = ca_pem.parse_x509().unwrap();
        cert.verify_signature(Some(ca_cert.public_key())).unwrap();
        let names = cert.subject_alternative_name().unwrap().unwrap();
        assert_eq!(names.value.general_names.len(), 1);
        let peer = x509_parser::pem::parse_x509_pem(certs.peer_cert.as_bytes())
            .unwrap()
            .1;
        let days =
            (not_after(&peer.contents).unwrap() - time::OffsetDateTime::now_utc()).whole_days();
        assert!(
            (CERTIFICATE_DAYS - 1..=CERTIFICATE_DAYS).contains(&days),
            "{days}"
        );
    }

    #[test]
    fn a_lone_authority_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles::in_dir(dir.path());
        std::fs::write(&files.ca_cert, "x").unwrap();
        let error = files.create_unless_present("t1").unwrap_err().to_string();
        assert!(error.contains("only one of"), "{error}");
    }
}
