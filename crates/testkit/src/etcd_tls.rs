//! Real etcd 3.5.1 serving clients over TLS for the client-side TLS tests (oxctl, the Rust
//! client, oxbench): a set of test certificates ([`Pki`]: our CA with a server and a client
//! certificate, and a foreign CA with a client certificate of its own) and one member
//! ([`TlsEtcd`]) listening on `https://127.0.0.1:PORT` only, requiring client certificates from
//! our CA; killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

use crate::certs::{Authority, CertFiles};
use crate::etcd::{require_etcd, require_etcdctl};
use crate::ports::free_port;

/// The certificates of one test, in a temporary directory.
pub struct Pki {
    dir: tempfile::TempDir,
    /// Our CA (`--trusted-ca-file`, `--cacert`).
    pub ca: PathBuf,
    /// A CA that signed neither the server's certificate nor an accepted client's.
    pub foreign_ca: PathBuf,
    /// The server's certificate, for 127.0.0.1 and localhost.
    pub server: CertFiles,
    /// A client certificate of our CA, for the user "root".
    pub client: CertFiles,
    /// A client certificate of the foreign CA, also for "root".
    pub foreign_client: CertFiles,
}

impl Pki {
    /// Issues the certificates.
    pub fn new() -> Result<Pki> {
        let dir = tempfile::tempdir()?;
        let ours = Authority::new(dir.path(), "ours")?;
        let foreign = Authority::new(dir.path(), "foreign")?;
        let server = ours.issue("server", "server", &["127.0.0.1", "localhost"])?;
        let client = ours.issue("client", "root", &[])?;
        let foreign_client = foreign.issue("foreign-client", "root", &[])?;
        Ok(Pki {
            ca: ours.ca_file(),
            foreign_ca: foreign.ca_file(),
            dir,
            server,
            client,
            foreign_client,
        })
    }

    /// The directory the files are in, for a test's own files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// etcdctl's flags presenting our CA and the client certificate.
    pub fn client_flags(&self) -> Vec<String> {
        vec![
            format!("--cacert={}", self.ca.display()),
            format!("--cert={}", self.client.cert.display()),
            format!("--key={}", self.client.key.display()),
        ]
    }
}

/// One etcd 3.5.1 member serving clients over TLS with client-certificate auth.
pub struct TlsEtcd {
    child: Child,
    /// The client port on 127.0.0.1.
    pub port: u16,
    _data: tempfile::TempDir,
}

impl TlsEtcd {
    /// Starts the member with `pki`'s server certificate and waits until etcdctl, presenting
    /// the client certificate, finds it healthy.
    pub fn start(pki: &Pki) -> Result<TlsEtcd> {
        let data = tempfile::tempdir()?;
        let (port, peer) = (free_port(), free_port());
        let client_url = format!("https://127.0.0.1:{port}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new(require_etcd())
            .args(["--name", "tls", "--data-dir"])
            .arg(data.path())
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("tls={peer_url}")])
            .arg("--cert-file")
            .arg(&pki.server.cert)
            .arg("--key-file")
            .arg(&pki.server.key)
            .arg("--trusted-ca-file")
            .arg(&pki.ca)
            .arg("--client-cert-auth")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start etcd")?;
        let etcd = TlsEtcd {
            child,
            port,
            _data: data,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let health = Command::new(require_etcdctl())
                .env("ETCDCTL_API", "3")
                .arg(format!("--endpoints={}", etcd.url()))
                .args(pki.client_flags())
                .args(["endpoint", "health"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .context("run etcdctl")?;
            if health.success() {
                return Ok(etcd);
            }
            ensure!(
                Instant::now() < deadline,
                "etcd serving TLS did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

impl Drop for TlsEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
