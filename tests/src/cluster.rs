//! A cluster of real server processes (etcd or oxcd) started with etcd's flags, on loopback or
//! one member per network namespace, with the fault operations tests need: kill -9, graceful
//! stop, restart, SIGSTOP/SIGCONT. Dropping the cluster kills every process and removes its
//! data directories; if the test is panicking it first prints each member's last log lines.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::future::join_all;
use oxcd_api::etcdserverpb::StatusRequest;
use oxcd_testkit::ports::free_ports;
use tempfile::TempDir;

use crate::grpc::{self, Clients};
use crate::grpc_tls::{self, ClusterTls};
use crate::member::{LOG_TAIL_LINES, Member, MemberConfig};
use crate::netns::Host;
use crate::peer_tls::PeerTls;
use crate::proxy::PeerProxy;
use crate::server::Server;
use crate::small_disk::SmallDisk;
use crate::stale;
use crate::wait::{self, Attempt};

/// Set to keep data directories and logs after a test (their path is printed).
pub const KEEP_ENV: &str = "OXT_KEEP";

/// Default bound on a member becoming ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a graceful stop may take before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Where the members run.
#[derive(Debug, Clone)]
pub enum Placement {
    /// Every member on 127.0.0.1 with its own free ports.
    Loopback,
    /// Member `i` on `hosts[i]`: its own namespace and address, with etcd's standard ports
    /// 2379 (clients) and 2380 (peers), as on the seed's separate machines.
    Hosts(Vec<Host>),
}

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// The server implementation.
    pub server: Server,
    /// `--name` of each member; the cluster has as many members as names.
    pub names: Vec<String>,
    /// `--initial-cluster-token`.
    pub token: String,
    /// Where members run.
    pub placement: Placement,
    /// Flags appended after the standard ones, e.g. `["--snapshot-count", "100"]`.
    pub extra_args: Vec<String>,
    /// Bound on each member becoming ready.
    pub ready_timeout: Duration,
    /// Put a fault-injecting [`PeerProxy`] in front of every member's peer port (loopback
    /// placement only): members advertise the proxy, so all traffic to a member crosses it.
    pub peer_proxies: bool,
    /// Give every member's data directory a [`SmallDisk`] of this many bytes (root only).
    pub small_disks: Option<u64>,
    /// Serve clients over TLS only (`https://` client URLs).
    pub client_tls: Option<ClusterTls>,
    /// Peers talk over TLS only (`https://` peer URLs).
    pub peer_tls: Option<PeerTls>,
}

impl ClusterSpec {
    /// `size` members named `m1`..`mN` on loopback.
    pub fn new(server: Server, size: usize) -> ClusterSpec {
        ClusterSpec {
            server,
            names: (1..=size).map(|i| format!("m{i}")).collect(),
            token: "oxt-cluster".to_owned(),
            placement: Placement::Loopback,
            extra_args: Vec::new(),
            ready_timeout: READY_TIMEOUT,
            peer_proxies: false,
            small_disks: None,
            client_tls: None,
            peer_tls: None,
        }
    }

    /// Members talk to each other over TLS with `tls`.
    pub fn peer_tls(mut self, tls: PeerTls) -> ClusterSpec {
        self.peer_tls = Some(tls);
        self
    }

    /// Serves clients over TLS with `tls` (the harness connects with its certificates).
    pub fn client_tls(mut self, tls: ClusterTls) -> ClusterSpec {
        self.client_tls = Some(tls);
        self
    }

    /// Puts each member's data directory on its own tmpfs of `bytes`, which a test can fill.
    pub fn small_disks(mut self, bytes: u64) -> ClusterSpec {
        self.small_disks = Some(bytes);
        self
    }

    /// Routes every member's incoming peer traffic through a [`PeerProxy`].
    pub fn with_peer_proxies(mut self) -> ClusterSpec {
        self.peer_proxies = true;
        self
    }

    /// Renames the members (and sets their number).
    pub fn names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> ClusterSpec {
        self.names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `--initial-cluster-token`.
    pub fn token(mut self, token: &str) -> ClusterSpec {
        self.token = token.to_owned();
        self
    }

    /// Sets where members run.
    pub fn placement(mut self, placement: Placement) -> ClusterSpec {
        self.placement = placement;
        self
    }

    /// Appends flags to every member's command line.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> ClusterSpec {
        self.extra_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets the bound on each member becoming ready.
    pub fn ready_timeout(mut self, timeout: Duration) -> ClusterSpec {
        self.ready_timeout = timeout;
        self
    }
}

/// Running members plus the directory holding their data and logs.
pub struct Cluster {
    server: Server,
    ready_timeout: Duration,
    placement: Placement,
    token: String,
    extra_args: Vec<String>,
    /// Declared before `root` so processes die before their directories are removed.
    members: Vec<Member>,
    /// The proxy in front of each member's peer port, if the spec asked for them.
    proxies: Vec<PeerProxy>,
    /// Each member's own disk, if the spec asked for them; unmounted before `root` goes.
    disks: Vec<SmallDisk>,
    root: Option<TempDir>,
}

impl Cluster {
    /// Starts every member and waits until all serve clients.
    pub async fn start(spec: ClusterSpec) -> Result<Cluster> {
        stale::sweep_once();
        if spec.names.is_empty() {
            bail!("a cluster needs at least one member");
        }
        let binary = spec.server.binary()?;
        let root = tempfile::Builder::new()
            .prefix(&format!("{}{}-", stale::PREFIX, std::process::id()))
            .tempdir()
            .context("creating the cluster's data directory")?;
        let mut configs = member_configs(&spec, root.path())?;
        let proxies = if spec.peer_proxies {
            if !matches!(spec.placement, Placement::Loopback) {
                bail!("peer proxies need loopback placement");
            }
            let ports = free_ports(configs.len());
            route_through_proxies(&mut configs, &ports);
            let mut proxies = Vec::new();
            for (i, (config, port)) in configs.iter().zip(ports).enumerate() {
                proxies.push(PeerProxy::start(port, config.peer_port, i as u64).await?);
            }
            proxies
        } else {
            Vec::new()
        };
        let disks = match spec.small_disks {
            Some(bytes) => configs
                .iter()
                .map(|config| SmallDisk::mount(&config.data_dir, bytes))
                .collect::<Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        let members = configs
            .into_iter()
            .map(|config| Member::new(spec.server, binary.clone(), config))
            .collect();
        let mut cluster = Cluster {
            server: spec.server,
            ready_timeout: spec.ready_timeout,
            placement: spec.placement.clone(),
            token: spec.token.clone(),
            extra_args: spec.extra_args.clone(),
            members,
            proxies,
            disks,
            root: Some(root),
        };
        for member in &mut cluster.members {
            member.start()?;
        }
        cluster.wait_all_ready().await?;
        Ok(cluster)
    }

    async fn wait_all_ready(&mut self) -> Result<()> {
        let timeout = self.ready_timeout;
        let results = join_all(
            self.members
                .iter_mut()
                .filter(|member| member.is_up())
                .map(|member| member.wait_ready(timeout)),
        )
        .await;
        results.into_iter().collect()
    }

    /// The server implementation.
    pub fn server(&self) -> Server {
        self.server
    }

    /// The proxy in front of member `i`'s peer port (clusters started with peer proxies).
    pub fn peer_proxy(&self, i: usize) -> Option<&PeerProxy> {
        self.proxies.get(i)
    }

    /// Member `i`'s own disk (clusters started with [`ClusterSpec::small_disks`]).
    pub fn disk(&self, i: usize) -> Option<&SmallDisk> {
        self.disks.get(i)
    }

    /// Number of members.
    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// Member `i`.
    pub fn member(&self, i: usize) -> &Member {
        &self.members[i]
    }

    /// Every member, in `--initial-cluster` order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Indexes of the members that are started and not paused.
    pub fn up(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].is_up())
            .collect()
    }

    /// Client URL of member `i`.
    pub fn endpoint(&self, i: usize) -> String {
        self.members[i].client_url()
    }

    /// Client URLs of all members.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::client_url).collect()
    }

    /// The directory holding data directories and logs.
    pub fn root_dir(&self) -> Option<&Path> {
        self.root.as_ref().map(TempDir::path)
    }

    /// gRPC clients connected to member `i` (over TLS for a cluster with client TLS).
    pub async fn client(&self, i: usize) -> Result<Clients> {
        match &self.members[i].config().client_tls {
            Some(tls) => grpc_tls::connect(&self.endpoint(i), grpc::REQUEST_TIMEOUT, tls).await,
            None => grpc::connect(&self.endpoint(i)).await,
        }
    }

    /// Kills member `i` with SIGKILL.
    pub fn kill9(&mut self, i: usize) -> Result<()> {
        self.members[i].kill9()
    }

    /// Stops member `i` with SIGTERM (SIGKILL after [`STOP_GRACE`]).
    pub fn stop(&mut self, i: usize) -> Result<()> {
        self.members[i].terminate(STOP_GRACE)
    }

    /// Kills every running member with SIGKILL.
    pub fn kill9_all(&mut self) -> Result<()> {
        for member in &mut self.members {
            if member.pid().is_some() {
                member.kill9()?;
            }
        }
        Ok(())
    }

    /// Stops every member gracefully.
    pub fn stop_all(&mut self) -> Result<()> {
        for member in &mut self.members {
            member.terminate(STOP_GRACE)?;
        }
        Ok(())
    }

    /// Prepares member `name` of a loopback cluster, not part of the cluster yet: fresh
    /// ports, its data dir and log beside the others'. Returns its index; start it with
    /// [`Cluster::join`] once `member add` announced it.
    pub fn new_member(&mut self, name: &str) -> Result<usize> {
        if !matches!(self.placement, Placement::Loopback) {
            bail!("a cluster placed on hosts gets new members with new_member_on");
        }
        let ports = free_ports(2);
        self.add_member(
            name,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            (ports[0], ports[1]),
            None,
        )
    }

    /// Prepares member `name` on `host` (a namespace of the cluster's lab, etcd's ports), not
    /// part of the cluster yet; as [`Cluster::new_member`].
    pub fn new_member_on(&mut self, name: &str, host: &Host) -> Result<usize> {
        if !matches!(self.placement, Placement::Hosts(_)) {
            bail!("a loopback cluster gets new members with new_member");
        }
        self.add_member(
            name,
            IpAddr::V4(host.ip),
            (2379, 2380),
            Some(host.netns.clone()),
        )
    }

    fn add_member(
        &mut self,
        name: &str,
        ip: IpAddr,
        ports: (u16, u16),
        netns: Option<String>,
    ) -> Result<usize> {
        let root = self.root_dir().context("the cluster's root is gone")?;
        let config = MemberConfig::new(root, name, ip, ports, netns);
        let binary = self.server.binary()?;
        self.members.push(Member::new(self.server, binary, config));
        Ok(self.members.len() - 1)
    }

    /// Starts member `i` with an empty data dir (whatever it held is removed) to join the
    /// running cluster: `--initial-cluster-state existing` and `initial_cluster` (what
    /// `member add` printed); waits until it serves.
    pub async fn join(&mut self, i: usize, initial_cluster: &str) -> Result<()> {
        let member = &mut self.members[i];
        let data_dir = member.config().data_dir.clone();
        if data_dir.exists() {
            std::fs::remove_dir_all(&data_dir)
                .with_context(|| format!("removing {}", data_dir.display()))?;
        }
        let args = member
            .config()
            .args_for_state(initial_cluster, &self.token, "existing")
            .into_iter()
            .chain(self.extra_args.iter().cloned())
            .collect();
        member.set_args(args);
        member.start()?;
        member.wait_ready(self.ready_timeout).await
    }

    /// Replaces member `i`'s command line for its next starts.
    pub fn set_args(&mut self, i: usize, args: Vec<String>) {
        self.members[i].set_args(args);
    }

    /// Starts member `i` again with its original command line and waits until it is ready.
    pub async fn restart(&mut self, i: usize) -> Result<()> {
        self.members[i].start()?;
        self.members[i].wait_ready(self.ready_timeout).await
    }

    /// Starts member `i` with extra environment variables (e.g. `FAILPOINTS`), without waiting
    /// for it to serve.
    pub fn start_with_env(&mut self, i: usize, env: &[(&str, &str)]) -> Result<()> {
        self.members[i].start_with_env(env)
    }

    /// Waits until member `i`'s process ends by itself (a crash point, a fatal error) and
    /// returns its exit status code (`None` when a signal ended it); fails after `timeout`.
    pub async fn wait_exit(&mut self, i: usize, timeout: Duration) -> Result<Option<i32>> {
        let member = &mut self.members[i];
        let deadline = tokio::time::Instant::now() + timeout;
        while member.is_running() {
            if tokio::time::Instant::now() >= deadline {
                bail!("member {} still runs after {timeout:?}", member.name());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(member.exit_code())
    }

    /// Waits until member `i` ends by itself and returns its exit status code and the fatal
    /// line it logged; fails, showing its log, after `timeout` or without a fatal line.
    pub async fn wait_fatal_exit(
        &mut self,
        i: usize,
        timeout: Duration,
    ) -> Result<(Option<i32>, String)> {
        let code = self.wait_exit(i, timeout).await;
        let log = self.members[i].current_log();
        let code = code.with_context(|| format!("its log:\n{log}"))?;
        let fatal = log
            .lines()
            .rev()
            .find(|line| line.contains(r#""level":"fatal""#))
            .with_context(|| format!("exited with {code:?} without a fatal line:\n{log}"))?;
        Ok((code, fatal.to_owned()))
    }

    /// Starts every member that is not running, then waits until all are ready. Members of a
    /// stopped cluster must come back together: none is ready before a quorum is.
    pub async fn restart_stopped(&mut self) -> Result<()> {
        for member in &mut self.members {
            if member.pid().is_none() {
                member.start()?;
            }
        }
        self.wait_all_ready().await
    }

    /// Freezes member `i` with SIGSTOP.
    pub fn pause(&mut self, i: usize) -> Result<()> {
        self.members[i].pause()
    }

    /// Thaws member `i` with SIGCONT.
    pub fn resume(&mut self, i: usize) -> Result<()> {
        self.members[i].resume()
    }

    /// Index of the member that every up member reports as leader, once they agree.
    pub async fn leader(&self, timeout: Duration) -> Result<usize> {
        let up = self.up();
        wait::until("the up members to agree on a leader", timeout, || {
            let endpoints: Vec<String> = up.iter().map(|&i| self.endpoint(i)).collect();
            async move {
                let mut leaders = Vec::new();
                for endpoint in &endpoints {
                    match status_leader(endpoint).await {
                        Ok(0) => return Attempt::Retry(format!("{endpoint} has no leader")),
                        Ok(leader) => leaders.push(leader),
                        Err(error) => return Attempt::Retry(format!("{endpoint}: {error:#}")),
                    }
                }
                if leaders.windows(2).any(|pair| pair[0] != pair[1]) {
                    return Attempt::Retry(format!("members disagree: leaders {leaders:x?}"));
                }
                match leaders
                    .first()
                    .and_then(|&id| self.members.iter().position(|m| m.id() == Some(id)))
                {
                    Some(index) if self.members[index].is_up() => Attempt::Done(index),
                    Some(index) => Attempt::Retry(format!("leader m{} is down", index + 1)),
                    None => Attempt::Retry(format!("leader {leaders:x?} is no known member")),
                }
            }
        })
        .await
    }

    /// Prints every member's last log lines to stderr.
    pub fn dump_logs(&self) {
        for member in &self.members {
            eprintln!(
                "----- last {LOG_TAIL_LINES} log lines of {} ({}) -----\n{}",
                member.name(),
                member.config().log_path.display(),
                member.log_tail(LOG_TAIL_LINES)
            );
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
        for member in &mut self.members {
            if member.pid().is_some()
                && let Err(error) = member.kill9()
            {
                eprintln!("oxt: killing {}: {error:#}", member.name());
            }
        }
        if std::env::var_os(KEEP_ENV).is_some()
            && let Some(root) = self.root.take()
        {
            eprintln!("oxt: keeping {}", root.keep().display());
        }
    }
}

/// Each member's configuration and command line, in the seed's flag order.
fn member_configs(spec: &ClusterSpec, root: &Path) -> Result<Vec<MemberConfig>> {
    let addresses: Vec<(IpAddr, u16, u16, Option<String>)> = match &spec.placement {
        Placement::Loopback => {
            let ports = free_ports(2 * spec.names.len());
            ports
                .chunks(2)
                .map(|pair| (IpAddr::V4(Ipv4Addr::LOCALHOST), pair[0], pair[1], None))
                .collect()
        }
        Placement::Hosts(hosts) => {
            if hosts.len() != spec.names.len() {
                bail!("{} hosts for {} members", hosts.len(), spec.names.len());
            }
            hosts
                .iter()
                .map(|host| (IpAddr::V4(host.ip), 2379, 2380, Some(host.netns.clone())))
                .collect()
        }
    };
    let mut configs: Vec<MemberConfig> = spec
        .names
        .iter()
        .zip(addresses)
        .map(|(name, (ip, client_port, peer_port, netns))| {
            let mut config = MemberConfig::new(root, name, ip, (client_port, peer_port), netns);
            config.peer_tls = spec.peer_tls.clone();
            config
        })
        .collect();
    let initial_cluster = configs
        .iter()
        .map(|config| format!("{}={}", config.name, config.peer_url()))
        .collect::<Vec<_>>()
        .join(",");
    for config in &mut configs {
        config.client_tls = spec.client_tls.clone();
        let tls_args = spec
            .client_tls
            .as_ref()
            .map(ClusterTls::server_args)
            .unwrap_or_default()
            .into_iter()
            .chain(
                spec.peer_tls
                    .as_ref()
                    .map(PeerTls::args)
                    .unwrap_or_default(),
            );
        config.args = config
            .seed_args(&initial_cluster, &spec.token)
            .into_iter()
            .chain(tls_args)
            .chain(spec.extra_args.iter().cloned())
            .collect();
    }
    Ok(configs)
}

/// Makes every member advertise `ports[i]` (its proxy) as its peer URL, in
/// `--initial-advertise-peer-urls` and in everyone's `--initial-cluster`, while it keeps
/// listening on its own peer port.
fn route_through_proxies(configs: &mut [MemberConfig], ports: &[u16]) {
    let proxied = |config: &MemberConfig, port: u16| {
        let mut via = config.clone();
        via.peer_port = port;
        via.peer_url()
    };
    let direct: Vec<String> = configs
        .iter()
        .map(|c| format!("{}={}", c.name, c.peer_url()))
        .collect();
    let through: Vec<String> = configs
        .iter()
        .zip(ports)
        .map(|(c, &port)| format!("{}={}", c.name, proxied(c, port)))
        .collect();
    let (direct, through) = (direct.join(","), through.join(","));
    for (config, &port) in configs.iter_mut().zip(ports) {
        let own = config.peer_url();
        let advertised = proxied(config, port);
        let mut args = config.args.iter_mut().peekable();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--initial-advertise-peer-urls" => {
                    if let Some(value) = args.next() {
                        *value = advertised.clone();
                    }
                }
                "--initial-cluster" => {
                    if let Some(value) = args.next() {
                        debug_assert_eq!(*value, direct);
                        *value = through.clone();
                    }
                }
                _ => {}
            }
        }
        debug_assert!(
            config.args.contains(&own),
            "members keep listening directly"
        );
    }
}

/// The leader ID member `endpoint` reports (0 when it knows none).
async fn status_leader(endpoint: &str) -> Result<u64> {
    let mut clients = grpc::connect_with_timeout(endpoint, Duration::from_secs(2)).await?;
    Ok(clients
        .maintenance
        .status(StatusRequest {})
        .await
        .context("Status")?
        .into_inner()
        .leader)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_members_get_the_seed_flags_with_their_own_ports() {
        let spec = ClusterSpec::new(Server::Etcd, 3)
            .token("tok")
            .args(["--snapshot-count", "100"]);
        let configs = member_configs(&spec, Path::new("/data")).unwrap();
        assert_eq!(configs.len(), 3);
        let c = &configs[1];
        let cluster = configs
            .iter()
            .map(|c| format!("{}=http://127.0.0.1:{}", c.name, c.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        let peer = format!("http://127.0.0.1:{}", c.peer_port);
        let client = format!("http://127.0.0.1:{}", c.client_port);
        let expected: Vec<String> = [
            "--name",
            "m2",
            "--data-dir",
            "/data/m2",
            "--initial-advertise-peer-urls",
            &peer,
            "--listen-peer-urls",
            &peer,
            "--advertise-client-urls",
            &client,
            "--listen-client-urls",
            &client,
            "--initial-cluster",
            &cluster,
            "--initial-cluster-state",
            "new",
            "--initial-cluster-token",
            "tok",
            "--snapshot-count",
            "100",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(c.args, expected);
        let mut ports: Vec<u16> = configs
            .iter()
            .flat_map(|c| [c.client_port, c.peer_port])
            .collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 6);
    }

    #[test]
    fn hosts_placement_uses_standard_ports_and_namespaces() {
        let hosts = vec![
            Host {
                ip: Ipv4Addr::new(198, 18, 7, 1),
                netns: "ns1".into(),
            },
            Host {
                ip: Ipv4Addr::new(198, 18, 7, 2),
                netns: "ns2".into(),
            },
        ];
        let spec = ClusterSpec::new(Server::Etcd, 2).placement(Placement::Hosts(hosts));
        let configs = member_configs(&spec, Path::new("/d")).unwrap();
        assert_eq!(configs[1].client_url(), "http://198.18.7.2:2379");
        assert_eq!(configs[1].peer_url(), "http://198.18.7.2:2380");
        assert_eq!(configs[1].netns.as_deref(), Some("ns2"));
        assert!(
            configs[0]
                .args
                .contains(&"m1=http://198.18.7.1:2380,m2=http://198.18.7.2:2380".to_string())
        );
    }

    #[test]
    fn hosts_placement_needs_one_host_per_member() {
        let spec = ClusterSpec::new(Server::Etcd, 3).placement(Placement::Hosts(vec![]));
        assert!(member_configs(&spec, Path::new("/d")).is_err());
    }
}
