//! Checks on every host before `oxadm up` changes anything, run in parallel: the login works,
//! the architecture matches the binary, the member's ports are free (or held by this very
//! member), its data dir is empty or holds this cluster's member, and — as warnings, after
//! etcd's hardware guidance — the disk's fsync latency, the clock's skew and the free space.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};

use crate::cluster_file::{ClusterFile, MemberEntry};
use crate::host::{Host, quote};
use crate::systemd_unit::shell_prelude;

/// etcd's guidance: the WAL's fsync should take under 10 ms.
const SLOW_FSYNC: Duration = Duration::from_millis(10);
/// Members whose clocks differ by more than this are reported by etcd's own prober.
const CLOCK_SKEW: Duration = Duration::from_secs(1);
/// etcd's default backend quota; a disk with less free space fills before the quota does.
const FREE_SPACE_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Writes timed by the fsync probe.
const FSYNC_PROBES: u32 = 25;

/// What one member's host told.
#[derive(Debug)]
pub struct HostFacts {
    /// The member's directory, absolute on its host.
    pub member_dir: String,
    /// The directory of the shared binaries, absolute on its host.
    pub bin_dir: String,
    /// How the member runs there already, if it does (`supervisor pid 123`, `systemd unit
    /// oxcd-peer1.service`).
    pub running: Option<String>,
    /// Whether the member is (to be) a systemd unit: systemd runs there and the login may
    /// manage its units.
    pub systemd: bool,
    /// The login's user name (whom a unit runs as).
    pub user: String,
    /// SHA-256 of the installed `oxcd`, `oxadm` and `oxutl`, if installed.
    pub installed: InstalledSums,
    /// What deserves a look but does not stop `up`.
    pub warnings: Vec<String>,
}

/// The checksums of the binaries on a host.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InstalledSums {
    /// `sha256sum` of `bin/oxcd`.
    pub oxcd: Option<String>,
    /// `sha256sum` of `bin/oxadm`.
    pub oxadm: Option<String>,
    /// `sha256sum` of `bin/oxutl`.
    pub oxutl: Option<String>,
}

/// Checks `member`'s host; the error names everything wrong there.
pub async fn check(
    file: &ClusterFile,
    member: &MemberEntry,
    host: &Host,
    base: &str,
    arch: &str,
) -> Result<HostFacts> {
    let script = facts_script(file, member, base);
    let asked = SystemTime::now();
    let output = host.run(&script, b"").await?;
    let answered = SystemTime::now();
    let fact = |key: &str| {
        output
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_owned)
    };
    let member_dir = fact("member_dir").unwrap_or_default();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let host_arch = fact("arch").unwrap_or_default();
    if host_arch != arch {
        problems.push(format!(
            "the oxcd binary is built for {arch} but the host runs {host_arch}: pass --binary with an oxcd built for {host_arch}"
        ));
    }
    let running = fact("running");
    match (fact("token"), fact("data").is_some()) {
        (Some(token), _) if token != file.token => problems.push(format!(
            "{member_dir} holds a member of another cluster (token {token:?}, not {:?}): remove it, or choose another `home`",
            file.token
        )),
        (None, true) => problems.push(format!(
            "{member_dir}/data holds data oxadm did not write: move it away, or choose another `home`"
        )),
        _ => {}
    }
    let wanted_tls = if file.tls.is_some() { "on" } else { "off" };
    if fact("data").is_some()
        && let Some(tls) = fact("tls")
        && tls != wanted_tls
    {
        problems.push(format!(
            "the member was set up with TLS {tls}, the cluster file has it {wanted_tls}: switching a cluster between TLS and plain connections is not supported yet (its peer URLs would change); keep the file's `tls:` as the cluster was made"
        ));
    }
    if running.is_none() {
        let listening = listening_ports(&output);
        for port in [file.client_port_of(member), file.peer_port_of(member)] {
            if listening.contains(&port) {
                problems.push(format!(
                    "port {port} is taken by another process: free it, or give this member another port in the cluster file"
                ));
            }
        }
    }
    if let Some(nanos) = fact("fsync_ns").and_then(|n| n.parse::<u64>().ok()) {
        let latency = Duration::from_nanos(nanos);
        if latency > SLOW_FSYNC {
            warnings.push(format!(
                "an fsync takes {:.1} ms on its disk; etcd's hardware guidance wants under {} ms (use an SSD for the data dir)",
                latency.as_secs_f64() * 1000.0,
                SLOW_FSYNC.as_millis()
            ));
        }
    }
    if let Some(skew) = fact("now").and_then(|now| clock_skew(&now, asked, answered))
        && skew > CLOCK_SKEW
    {
        warnings.push(format!(
            "its clock is {:.1}s off this machine's: run NTP on every host",
            skew.as_secs_f64()
        ));
    }
    let user = fact("user").unwrap_or_default();
    let systemd = match fact("systemd").as_deref() {
        Some("yes") => true,
        Some(_) => {
            warnings.push(format!(
                "systemd runs there, but {user} may not manage its units (neither root nor passwordless sudo): oxadm supervises the member itself, and it will not start again after a reboot"
            ));
            false
        }
        None => false,
    };
    if let Some(free) = fact("free_kb").and_then(|kb| kb.parse::<u64>().ok())
        && free * 1024 < FREE_SPACE_BYTES
    {
        warnings.push(format!(
            "only {} MiB are free for the data dir, less than etcd's default 2 GiB quota",
            free / 1024
        ));
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n  "));
    }
    Ok(HostFacts {
        bin_dir: fact("bin_dir").unwrap_or_default(),
        member_dir,
        running,
        systemd,
        user,
        installed: InstalledSums {
            oxcd: fact("sum_oxcd"),
            oxadm: fact("sum_oxadm"),
            oxutl: fact("sum_oxutl"),
        },
        warnings,
    })
}

/// The script that reports `key=value` facts about the member's host and directory.
fn facts_script(file: &ClusterFile, member: &MemberEntry, base: &str) -> String {
    let home = quote(&file.home);
    let name = quote(&member.name);
    format!(
        r#"set -e
cd {base}
# Nothing is created here: `up` changes nothing until every host passed.
case {home} in
  /*) home_dir={home} ;;
  *) home_dir="$(pwd)/"{home} ;;
esac
existing=$home_dir
while [ ! -d "$existing" ]; do existing=$(dirname "$existing"); done
echo "member_dir=$home_dir/"{name}
echo "bin_dir=$home_dir/bin"
echo "arch=$(uname -m)"
echo "now=$(date +%s.%N)"
dir=$home_dir/{name}
if [ -f "$dir/cluster-token" ]; then echo "token=$(cat "$dir/cluster-token")"; fi
if [ -d "$dir/data" ] && [ -n "$(ls -A "$dir/data")" ]; then echo "data=present"; fi
if [ -f "$dir/oxcd.yaml" ]; then
  if grep -q '^client-transport-security:' "$dir/oxcd.yaml"; then echo "tls=on"; else echo "tls=off"; fi
fi
if [ -f "$dir/supervisor.pid" ]; then
  pid=$(cat "$dir/supervisor.pid")
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < /proc/$pid/cmdline | grep -q supervise; then echo "running=supervisor pid $pid"; fi
fi
echo "user=$(id -un)"
{prelude}if [ -d /run/systemd/system ]; then
  if [ -z "$S" ] || sudo -n true 2>/dev/null; then echo "systemd=yes"; else echo "systemd=unprivileged"; fi
  if systemctl is-active --quiet "$unit"; then echo "running=systemd unit $unit"; fi
fi
echo "free_kb=$(df -Pk "$existing" | awk 'NR==2 {{print $4}}')"
for tcp in /proc/net/tcp /proc/net/tcp6; do
  if [ -r $tcp ]; then awk 'NR>1 && $4=="0A" {{print "listen=" $2}}' $tcp; fi
done
probe="$existing/.oxadm-fsync-probe.$$"
start=$(date +%s%N)
dd if=/dev/zero of="$probe" bs=2300 count={FSYNC_PROBES} oflag=dsync 2>/dev/null
end=$(date +%s%N)
rm -f "$probe"
echo "fsync_ns=$(( (end - start) / {FSYNC_PROBES} ))"
for binary in oxcd oxadm oxutl; do
  if [ -f "$home_dir/bin/$binary" ]; then echo "sum_$binary=$(sha256sum "$home_dir/bin/$binary" | cut -d' ' -f1)"; fi
done
"#,
        base = quote(base),
        prelude = shell_prelude(&member.name),
    )
}

/// Ports with a listening socket, from `/proc/net/tcp*` lines (`listen=ADDR:PORT`, hex).
fn listening_ports(output: &str) -> BTreeSet<u16> {
    output
        .lines()
        .filter_map(|line| line.strip_prefix("listen="))
        .filter_map(|socket| socket.rsplit_once(':'))
        .filter_map(|(_, port)| u16::from_str_radix(port, 16).ok())
        .collect()
}

/// How far the host's clock (`seconds.nanos` read between `asked` and `answered`) is from
/// this machine's at that moment.
fn clock_skew(now: &str, asked: SystemTime, answered: SystemTime) -> Option<Duration> {
    let remote: f64 = now.parse().ok()?;
    let since = |t: SystemTime| t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).ok();
    let local = (since(asked)? + since(answered)?) / 2.0;
    let round_trip = since(answered)? - since(asked)?;
    let off = ((remote - local).abs() - round_trip / 2.0).max(0.0);
    Some(Duration::from_secs_f64(off))
}

/// The machine a binary is built for, in `uname -m` terms, from its ELF header.
pub fn elf_arch(binary: &[u8]) -> Result<&'static str> {
    if binary.len() < 20 || &binary[..4] != b"\x7fELF" {
        bail!("not an ELF executable");
    }
    let machine = u16::from_le_bytes([binary[18], binary[19]]);
    Ok(match machine {
        0x3e => "x86_64",
        0xb7 => "aarch64",
        0x28 => "armv7l",
        0xf3 => "riscv64",
        0x15 => "ppc64le",
        0x16 => "s390x",
        _ => bail!("an ELF executable for machine type {machine:#x}, which oxadm does not know"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_read_from_proc_lines() {
        let output = "listen=0100007F:0947\nlisten=00000000000000000000000000000000:094B\nnow=1\n";
        assert_eq!(listening_ports(output), BTreeSet::from([2375, 2379]));
    }

    #[test]
    fn this_test_binary_is_of_this_machine() {
        let binary = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(elf_arch(&binary).unwrap(), std::env::consts::ARCH);
        assert!(elf_arch(b"#!/bin/sh\n").is_err());
    }

    #[test]
    fn a_clock_within_the_round_trip_has_no_skew() {
        let asked = UNIX_EPOCH + Duration::from_secs(1000);
        let answered = asked + Duration::from_millis(200);
        assert_eq!(clock_skew("1000.1", asked, answered), Some(Duration::ZERO));
        let skew = clock_skew("1005.1", asked, answered).unwrap();
        assert!(skew > Duration::from_millis(4800), "{skew:?}");
    }
}
