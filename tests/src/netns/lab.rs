//! A lab of network namespaces joined by a bridge.
//!
//! Layout for lab `oxt-<pid>-<n>` on subnet 198.18.X.0/24 (the benchmark-testing range):
//! namespace `<lab>-hub` holds bridge `br0`; each host namespace `<lab>-h<i>` has `eth0` with
//! 198.18.X.i, wired to port `v<i>` of the bridge. The test's own namespace reaches the bridge
//! through veth `oxtl<X>` with 198.18.X.254, so the test process and real `etcdctl` talk to
//! members directly. Creating that uniquely named veth is what claims subnet X, so concurrent
//! labs (threads or processes) never share a subnet. Traffic never leaves these namespaces.
//! Deleting the hub namespace destroys the bridge and every veth with it.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};

use super::command::{kill_processes_in, run, run_in};
use crate::stale;

/// Last octet of the test namespace's address on every lab subnet.
const GATEWAY_OCTET: u8 = 254;

/// Labs created by this process so far; numbers the names.
static LABS: AtomicUsize = AtomicUsize::new(0);

/// One simulated machine: a namespace with its own address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The host's address on the lab subnet.
    pub ip: Ipv4Addr,
    /// The namespace processes of this host run in.
    pub netns: String,
}

/// Namespaces, bridge and veths of one lab; all removed on drop.
pub struct NetnsLab {
    name: String,
    subnet: u8,
    hub: String,
    hosts: Vec<Host>,
    /// Namespaces created so far, deleted on drop even if creation failed half way.
    created: Vec<String>,
    /// The uplink veth once created.
    uplink: Option<String>,
}

impl NetnsLab {
    /// Creates a lab with `hosts` hosts. Needs root, `ip` and `iptables`.
    pub fn create(hosts: usize) -> Result<NetnsLab> {
        if hosts == 0 || hosts >= usize::from(GATEWAY_OCTET) {
            bail!("a lab has 1..{GATEWAY_OCTET} hosts, not {hosts}");
        }
        stale::sweep_once();
        let name = format!(
            "{}{}-{}",
            stale::PREFIX,
            std::process::id(),
            LABS.fetch_add(1, Ordering::Relaxed)
        );
        let mut lab = NetnsLab {
            hub: format!("{name}-hub"),
            name,
            subnet: 0,
            hosts: Vec::new(),
            created: Vec::new(),
            uplink: None,
        };
        lab.build(hosts)
            .with_context(|| format!("building network lab {} (needs root)", lab.name))?;
        Ok(lab)
    }

    fn build(&mut self, hosts: usize) -> Result<()> {
        let hub = self.hub.clone();
        self.add_namespace(&hub)?;
        self.subnet = claim_subnet(&hub)?;
        let uplink = root_link(self.subnet);
        self.uplink = Some(uplink.clone());
        let gateway = format!("{}/24", self.address(GATEWAY_OCTET));
        run("ip", &["addr", "add", &gateway, "dev", &uplink])?;
        run("ip", &["link", "set", &uplink, "up"])?;
        run("ip", &["-n", &hub, "link", "set", "lo", "up"])?;
        run("ip", &["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        run("ip", &["-n", &hub, "link", "set", "br0", "up"])?;
        run(
            "ip",
            &["-n", &hub, "link", "set", "uplink", "master", "br0"],
        )?;
        run("ip", &["-n", &hub, "link", "set", "uplink", "up"])?;
        for i in 1..=hosts {
            let netns = format!("{}-h{i}", self.name);
            self.add_namespace(&netns)?;
            let port = format!("v{i}");
            let octet = u8::try_from(i).context("host number exceeds an octet")?;
            let ip = self.address(octet);
            let cidr = format!("{ip}/24");
            run(
                "ip",
                &[
                    "-n", &hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                    "netns", &netns,
                ],
            )?;
            run("ip", &["-n", &hub, "link", "set", &port, "master", "br0"])?;
            run("ip", &["-n", &hub, "link", "set", &port, "up"])?;
            run("ip", &["-n", &netns, "link", "set", "lo", "up"])?;
            run("ip", &["-n", &netns, "addr", "add", &cidr, "dev", "eth0"])?;
            run("ip", &["-n", &netns, "link", "set", "eth0", "up"])?;
            self.hosts.push(Host { ip, netns });
        }
        Ok(())
    }

    fn add_namespace(&mut self, netns: &str) -> Result<()> {
        run("ip", &["netns", "add", netns])?;
        self.created.push(netns.to_owned());
        Ok(())
    }

    fn address(&self, octet: u8) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.subnet, octet)
    }

    /// `oxt-<pid>-<n>`; every namespace of the lab starts with it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The hosts, in order (host `i` has address 198.18.X.`i+1`).
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Host `i`.
    pub fn host(&self, i: usize) -> &Host {
        &self.hosts[i]
    }

    /// The test namespace's own address on the lab subnet (198.18.X.254).
    pub fn gateway_ip(&self) -> Ipv4Addr {
        self.address(GATEWAY_OCTET)
    }

    /// A command that runs `program` inside host `i`'s namespace.
    pub fn command(&self, i: usize, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.hosts[i].netns, program]);
        command
    }

    /// Silently drops all traffic between hosts `a` and `b`, both ways (iptables DROP on
    /// input in both namespaces: packets vanish, as on a broken network).
    pub fn cut(&self, a: usize, b: usize) -> Result<()> {
        self.drop_from(a, b)?;
        self.drop_from(b, a)
    }

    fn drop_from(&self, at: usize, from: usize) -> Result<()> {
        let source = self.hosts[from].ip.to_string();
        run_in(
            &self.hosts[at].netns,
            "iptables",
            &["-w", "-A", "INPUT", "-s", &source, "-j", "DROP"],
        )?;
        Ok(())
    }

    /// Cuts host `a` off from every other host; the test namespace still reaches it.
    pub fn isolate(&self, a: usize) -> Result<()> {
        for b in (0..self.hosts.len()).filter(|&b| b != a) {
            self.cut(a, b)?;
        }
        Ok(())
    }

    /// Takes host `a`'s bridge port down: nobody, not even the test, reaches it.
    pub fn disconnect(&self, a: usize) -> Result<()> {
        let port = format!("v{}", a + 1);
        run("ip", &["-n", &self.hub, "link", "set", &port, "down"])?;
        Ok(())
    }

    /// Brings host `a`'s bridge port back up.
    pub fn reconnect(&self, a: usize) -> Result<()> {
        let port = format!("v{}", a + 1);
        run("ip", &["-n", &self.hub, "link", "set", &port, "up"])?;
        Ok(())
    }

    /// Removes every cut and brings every port up.
    pub fn heal(&self) -> Result<()> {
        for (i, host) in self.hosts.iter().enumerate() {
            run_in(&host.netns, "iptables", &["-w", "-F", "INPUT"])?;
            self.reconnect(i)?;
        }
        Ok(())
    }
}

impl Drop for NetnsLab {
    fn drop(&mut self) {
        // The kernel destroys a deleted namespace's devices asynchronously; the uplink is the
        // one device visible outside the lab, so it goes synchronously (taking its peer).
        if let Some(uplink) = &self.uplink
            && let Err(error) = run("ip", &["link", "del", uplink])
        {
            eprintln!("oxt: removing {uplink}: {error:#}");
        }
        // Hosts first: their processes die with their namespace, then the hub takes the
        // bridge and all veths with it.
        for netns in self.created.iter().rev() {
            kill_processes_in(netns);
            if let Err(error) = run("ip", &["netns", "del", netns]) {
                eprintln!("oxt: removing namespace {netns}: {error:#}");
            }
        }
    }
}

/// The veth in the test's namespace that connects to the bridge of subnet `subnet`.
fn root_link(subnet: u8) -> String {
    format!("oxtl{subnet}")
}

/// Claims the first free subnet by creating its uniquely named uplink veth (the other end
/// lands in `hub` as `uplink`); link creation is atomic, so two labs never get the same one.
fn claim_subnet(hub: &str) -> Result<u8> {
    let start = (std::process::id() % 256) as u8;
    for offset in 0..=255u8 {
        let subnet = start.wrapping_add(offset);
        let link = root_link(subnet);
        let created = Command::new("ip")
            .args([
                "link", "add", &link, "type", "veth", "peer", "name", "uplink", "netns", hub,
            ])
            .output()
            .context("running ip")?;
        if created.status.success() {
            return Ok(subnet);
        }
        let stderr = String::from_utf8_lossy(&created.stderr);
        if !stderr.contains("File exists") {
            bail!("creating veth {link}: {}", stderr.trim());
        }
    }
    bail!("all 256 lab subnets 198.18.0-255.0/24 are in use")
}
