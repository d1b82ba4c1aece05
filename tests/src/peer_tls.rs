//! Peer TLS for a test cluster (`ClusterSpec::peer_tls`): `https://` peer URLs, every member
//! serving and presenting a certificate from the test CA and requiring its peers' to chain to
//! it (`--peer-client-cert-auth`), as a production cluster is set up.

use std::path::PathBuf;

use oxcd_testkit::certs::CertFiles;

/// What every member of a cluster with peer TLS serves, presents and trusts.
#[derive(Clone, Debug)]
pub struct PeerTls {
    /// `--peer-trusted-ca-file`.
    pub ca: PathBuf,
    /// `--peer-cert-file` and `--peer-key-file`; it must name the members' addresses.
    pub member: CertFiles,
}

impl PeerTls {
    /// The members' peer TLS flags.
    pub fn args(&self) -> Vec<String> {
        [
            "--peer-cert-file",
            &self.member.cert.display().to_string(),
            "--peer-key-file",
            &self.member.key.display().to_string(),
            "--peer-trusted-ca-file",
            &self.ca.display().to_string(),
            "--peer-client-cert-auth",
        ]
        .into_iter()
        .map(str::to_string)
        .collect()
    }
}
