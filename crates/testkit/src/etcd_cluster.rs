//! Real etcd 3.5.1 processes on loopback for tests: one member or a cluster, on free ports
//! with temporary data directories, killed when dropped. Starting one fails the test when
//! etcd is missing (see [`crate::etcd`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::etcd::require_bin_dir;
use crate::ports::free_port;

/// One running etcd member.
pub struct Member {
    /// The name shown in failures (`m0`, `twin-a`, ...).
    pub name: String,
    /// The port serving clients on 127.0.0.1.
    pub client_port: u16,
    /// The port serving peers on 127.0.0.1.
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
    /// The members, in the order they were started.
    pub members: Vec<Member>,
    _data: tempfile::TempDir,
}

impl Cluster {
    /// Starts `size` members and waits until every one answers on its client port.
    pub fn start(size: usize) -> Cluster {
        Cluster::start_with_args(size, &[])
    }

    /// [`Cluster::start`] with `extra` flags for every member.
    pub fn start_with_args(size: usize, extra: &[&str]) -> Cluster {
        let bin = require_bin_dir().to_path_buf();
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
                let mut args = vec![
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
                args.extend(extra.iter().map(|flag| flag.to_string()));
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
    pub fn twins() -> Cluster {
        let bin = require_bin_dir().to_path_buf();
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
