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
    fn start(
        bin: &Path,
        name: String,
        client_port: u16,
        peer_port: u16,
        args: Vec<String>,
    ) -> Member {
        Member {
            name,
            client_port,
            peer_port,
            child: Some(spawn(bin, &args)),
            args,
            bin: bin.to_path_buf(),
        }
    }

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

/// Where one member listens, what it advertises, and the cluster it starts in.
struct Flags<'a> {
    name: &'a str,
    data_dir: &'a Path,
    client_port: u16,
    advertised_client: &'a str,
    peer_port: u16,
    advertised_peer: &'a str,
    initial_cluster: &'a str,
    token: &'a str,
}

/// etcd's command line for `member`, on 127.0.0.1.
fn flags(member: Flags<'_>) -> Vec<String> {
    vec![
        "--name".into(),
        member.name.into(),
        "--data-dir".into(),
        member.data_dir.display().to_string(),
        "--listen-client-urls".into(),
        format!("http://127.0.0.1:{}", member.client_port),
        "--advertise-client-urls".into(),
        member.advertised_client.into(),
        "--listen-peer-urls".into(),
        format!("http://127.0.0.1:{}", member.peer_port),
        "--initial-advertise-peer-urls".into(),
        member.advertised_peer.into(),
        "--initial-cluster".into(),
        member.initial_cluster.into(),
        "--initial-cluster-token".into(),
        member.token.into(),
    ]
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
                let mut args = flags(Flags {
                    name: &name,
                    data_dir: &data.path().join(&name),
                    client_port,
                    advertised_client: &format!("http://127.0.0.1:{client_port}"),
                    peer_port,
                    advertised_peer: &format!("http://127.0.0.1:{peer_port}"),
                    initial_cluster: &initial,
                    token: &token,
                });
                args.extend(extra.iter().map(|flag| flag.to_string()));
                Member::start(&bin, name, client_port, peer_port, args)
            })
            .collect();
        Cluster::ready(members, data)
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
                let args = flags(Flags {
                    name: "twin",
                    data_dir: &data.path().join(dir),
                    client_port,
                    advertised_client: &format!("http://127.0.0.1:{first_client}"),
                    peer_port,
                    advertised_peer: &shared_peer,
                    initial_cluster: &format!("twin={shared_peer}"),
                    token: &token,
                });
                Member::start(&bin, format!("twin-{dir}"), client_port, peer_port, args)
            })
            .collect();
        Cluster::ready(members, data)
    }

    /// The cluster of `members`, once every one is ready.
    fn ready(members: Vec<Member>, data: tempfile::TempDir) -> Cluster {
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

/// GET /health, true when etcd reports `"health":"true"`.
fn health_ok(port: u16) -> bool {
    crate::http::get(port, "/health")
        .is_some_and(|response| response.contains("\"health\":\"true\""))
}
