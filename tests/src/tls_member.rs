//! A one-member server (etcd or oxcd) with TLS flags, for the TLS tests: its client URLs are
//! chosen by the test (`https://`, `http://`, both), so readiness is taken from its log
//! ("ready to serve client requests") rather than from a gRPC call the harness would have to
//! make over TLS. Also an HTTPS GET with rustls (the test's own trust and client certificate)
//! for `/health`, `/version` and `/metrics`.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use oxcd_testkit::certs::CertFiles;
use oxcd_testkit::ports::free_port;
use tempfile::TempDir;

use crate::member::READY_LOG_LINE;
use crate::server::Server;
use crate::spawner;

/// Bound on a member becoming ready, or exiting when it must refuse to start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running one-member server; killed (and its data removed) when dropped.
pub struct TlsMember {
    child: Child,
    log: PathBuf,
    dir: TempDir,
}

/// `--name m1` with a data dir in `dir`, a free peer port, `client_urls` listened on and
/// advertised, then `extra`.
fn command(
    server: Server,
    dir: &Path,
    client_urls: &[String],
    extra: &[String],
) -> Result<Command> {
    let peer = format!("http://127.0.0.1:{}", free_port());
    let clients = client_urls.join(",");
    let log = File::create(dir.join("member.log"))?;
    let mut command = Command::new(server.binary()?);
    command
        .current_dir(dir)
        .args(["--name", "m1", "--data-dir"])
        .arg(dir.join("m1"))
        .args(["--listen-client-urls", &clients])
        .args(["--advertise-client-urls", &clients])
        .args(["--listen-peer-urls", &peer])
        .args(["--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", &format!("m1={peer}")])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ETCD_") {
            command.env_remove(key);
        }
    }
    Ok(command)
}

impl TlsMember {
    /// Starts `server` and waits until it serves clients.
    pub fn start(server: Server, client_urls: &[String], extra: &[String]) -> Result<TlsMember> {
        let dir = tempfile::Builder::new().prefix("oxt-tls-").tempdir()?;
        let child = spawner::spawn(command(server, dir.path(), client_urls, extra)?)
            .with_context(|| format!("starting {server}"))?;
        let mut member = TlsMember {
            child,
            log: dir.path().join("member.log"),
            dir,
        };
        let started = Instant::now();
        loop {
            if member.log().contains(READY_LOG_LINE) {
                return Ok(member);
            }
            if let Some(status) = member.child.try_wait()? {
                bail!("{server} exited with {status}:\n{}", member.log());
            }
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "{server} not ready after {START_TIMEOUT:?}:\n{}",
                    member.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts `server` where it must refuse to start; returns its exit code and log.
    pub fn refused(
        server: Server,
        client_urls: &[String],
        extra: &[String],
    ) -> Result<(Option<i32>, String)> {
        let dir = tempfile::Builder::new().prefix("oxt-tls-").tempdir()?;
        let mut child = spawner::spawn(command(server, dir.path(), client_urls, extra)?)?;
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{server} still running after {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = std::fs::read_to_string(dir.path().join("member.log")).unwrap_or_default();
        Ok((status.code(), log))
    }

    /// Everything the member logged so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// The member's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("m1")
    }
}

impl Drop for TlsMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` over HTTPS/1.1 to `127.0.0.1:port`, trusting `ca` and presenting `client` if
/// given; the whole response, or the TLS or I/O error.
pub fn https_get(port: u16, path: &str, ca: &Path, client: Option<&CertFiles>) -> Result<String> {
    let roots = oxcd_tls::root_store(ca)?;
    let builder = rustls::ClientConfig::builder_with_provider(oxcd_tls::crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut config = match client {
        Some(files) => builder.with_client_auth_cert(
            oxcd_tls::certificates(&files.cert)?,
            oxcd_tls::private_key(&files.key)?,
        )?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1")?;
    let session = rustls::ClientConnection::new(Arc::new(config), name)?;
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut tls = rustls::StreamOwned::new(session, tcp);
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    match tls.read_to_end(&mut response) {
        Ok(_) => {}
        // Servers may close without close_notify once the response is complete.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => {}
        Err(e) => return Err(e.into()),
    }
    Ok(String::from_utf8_lossy(&response).into_owned())
}
