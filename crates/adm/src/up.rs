//! `oxadm up`: from hosts that have nothing but sshd to a healthy cluster, from one machine.
//! Every host is checked first, in parallel (`preflight.rs`), and nothing changes anywhere
//! unless all pass. Then `oxcd`, `oxadm` and `oxutl` are installed into `<home>/bin/` where missing or
//! different (by SHA-256), each member's configuration is written in etcd's config-file
//! format, and each member not running yet is started under `oxadm supervise`; then oxadm
//! waits until the cluster is healthy and shows the seed's two checks. On a healthy cluster it
//! changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::future::join_all;
use sha2::{Digest, Sha256};

use crate::cluster_file::{ClusterFile, FileUpdate, MemberEntry};
use crate::health::wait_started;
use crate::host::{Host, quote};
use crate::member_files::{MemberFiles, member_config};
use crate::pki::{MemberCerts, TlsFiles};
use crate::preflight::{self, HostFacts, elf_arch};
use crate::systemd_unit::{UNIT_DIR, shell_prelude, unit_file, unit_name};
use crate::verify::{self, beside_oxadm};

/// Bound on a new cluster becoming healthy.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(90);

/// A binary to install, read once.
struct Binary {
    content: Vec<u8>,
    sha256: String,
}

impl Binary {
    fn read(path: &Path) -> Result<Binary> {
        let content = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let sha256 = format!("{:x}", Sha256::digest(&content));
        Ok(Binary { content, sha256 })
    }
}

/// The binaries `up` and `upgrade` install: the chosen `oxcd`, this `oxadm` (which supervises
/// members) and the `oxutl` beside it (which restores backups).
pub struct Binaries {
    oxcd: Binary,
    oxadm: Binary,
    oxutl: Binary,
    /// The machine `oxcd` is built for, in `uname -m` terms.
    arch: &'static str,
}

impl Binaries {
    /// `binary`, else the cluster file's, else the `oxcd` beside `oxadm`; this `oxadm` and the
    /// `oxutl` beside it.
    pub fn choose(file: &ClusterFile, binary: Option<PathBuf>) -> Result<Binaries> {
        let oxcd_path = match binary.or_else(|| file.binary.clone()) {
            Some(path) => path,
            None => beside_oxadm("oxcd")?,
        };
        let oxcd = Binary::read(&oxcd_path)?;
        let oxadm =
            Binary::read(&std::env::current_exe().context("finding the oxadm executable")?)?;
        let oxutl = Binary::read(&beside_oxadm("oxutl")?)?;
        let arch = elf_arch(&oxcd.content).with_context(|| format!("{}", oxcd_path.display()))?;
        Ok(Binaries {
            oxcd,
            oxadm,
            oxutl,
            arch,
        })
    }

    /// The machine `oxcd` is built for, in `uname -m` terms.
    pub fn arch(&self) -> &'static str {
        self.arch
    }
}

/// Checks every member's host in parallel (`preflight.rs`), printing warnings; an error naming
/// every problem unless all passed.
pub async fn check_hosts(
    file: &ClusterFile,
    file_dir: &Path,
    binaries: &Binaries,
) -> Result<(Vec<Host>, Vec<HostFacts>)> {
    let hosts: Vec<Host> = file
        .members
        .iter()
        .map(|m| Host::of(m, &file.ssh_options))
        .collect();
    println!("checking {} hosts", file.members.len());
    let bases: Vec<String> = hosts.iter().map(|host| host.base_dir(file_dir)).collect();
    let checks = join_all(
        file.members
            .iter()
            .zip(&hosts)
            .zip(&bases)
            .map(|((member, host), base)| {
                preflight::check(file, member, host, base, binaries.arch)
            }),
    )
    .await;
    let mut facts = Vec::new();
    let mut problems = Vec::new();
    for ((member, host), check) in file.members.iter().zip(&hosts).zip(checks) {
        match check {
            Ok(found) => {
                for warning in &found.warnings {
                    eprintln!("warning: {} on {}: {warning}", member.name, host.describe());
                }
                facts.push(found);
            }
            Err(error) => {
                problems.push(format!("{} on {}: {error:#}", member.name, host.describe()))
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "nothing was changed; fix these first:\n{}",
            problems.join("\n")
        );
    }
    Ok((hosts, facts))
}

/// Brings up the cluster of `file` (found in `file_dir`, which relative local paths start
/// from), running `binary` (else the file's, else the `oxcd` beside `oxadm`); the cluster file
/// gets `update` once every host passed its checks.
pub async fn up(
    file: &ClusterFile,
    file_dir: &Path,
    binary: Option<PathBuf>,
    update: &FileUpdate,
) -> Result<()> {
    let started = Instant::now();
    let binaries = Binaries::choose(file, binary)?;
    let (hosts, facts) = check_hosts(file, file_dir, &binaries).await?;
    update.apply(file)?;
    if let Some(tls) = &file.tls
        && tls.create_unless_present(&file.token)?
    {
        println!(
            "made a certificate authority ({}) and a client certificate ({}, key {})",
            tls.ca_cert.display(),
            tls.client_cert.display(),
            tls.client_key.display()
        );
    }

    install_binaries(&hosts, &facts, &binaries).await?;
    let starts = join_all(file.members.iter().zip(&hosts).zip(&facts).map(
        |((member, host), found)| async move {
            if let Some(how) = &found.running {
                println!(
                    "{}: already running on {} ({how})",
                    member.name,
                    host.describe()
                );
                return Ok(None);
            }
            start_member(file, member, host, found, "new")
                .await
                .with_context(|| format!("starting {} on {}", member.name, host.describe()))?;
            println!("{}: started on {}", member.name, host.describe());
            Ok::<_, anyhow::Error>(Some(member))
        },
    ))
    .await;
    let started_members: Vec<&MemberEntry> = starts
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();

    let report = wait_started(file, file_dir, &started_members, HEALTHY_TIMEOUT).await?;
    verify::announce_healthy(file, &report, started)
}

/// Which binaries an installation changed on at least one host.
pub struct Installed {
    /// `oxcd` was new or different somewhere.
    pub oxcd: bool,
}

/// Puts `oxcd`, `oxadm` and `oxutl` into each host's `bin/` where they are missing or differ,
/// once per host even when several members share it.
pub async fn install_binaries(
    hosts: &[Host],
    facts: &[HostFacts],
    binaries: &Binaries,
) -> Result<Installed> {
    let mut per_host: BTreeMap<String, (&Host, &HostFacts)> = BTreeMap::new();
    for (host, found) in hosts.iter().zip(facts) {
        per_host
            .entry(format!("{}:{}", host.describe(), found.bin_dir))
            .or_insert((host, found));
    }
    let uploads = per_host.values().map(|(host, found)| async move {
        let mut oxcd_changed = false;
        for (name, binary, installed) in [
            ("oxcd", &binaries.oxcd, &found.installed.oxcd),
            ("oxadm", &binaries.oxadm, &found.installed.oxadm),
            ("oxutl", &binaries.oxutl, &found.installed.oxutl),
        ] {
            if installed.as_deref() == Some(binary.sha256.as_str()) {
                continue;
            }
            let path = format!("{}/{name}", found.bin_dir);
            host.upload(&binary.content, &path, 0o755).await?;
            println!("installed {name} on {} ({})", host.describe(), path);
            oxcd_changed |= name == "oxcd";
        }
        Ok::<bool, anyhow::Error>(oxcd_changed)
    });
    let changed = join_all(uploads)
        .await
        .into_iter()
        .collect::<Result<Vec<bool>>>()?;
    Ok(Installed {
        oxcd: changed.into_iter().any(|c| c),
    })
}

/// Writes the member's configuration and token, then starts it: as a systemd unit where the
/// host allows (`systemd_unit.rs`), else under its supervisor, detached from the login session.
pub async fn start_member(
    file: &ClusterFile,
    member: &MemberEntry,
    host: &Host,
    found: &HostFacts,
    state: &str,
) -> Result<()> {
    let dir = &found.member_dir;
    let files = MemberFiles::at(Path::new(dir));
    if let Some(tls) = &file.tls {
        install_member_certs(tls, member, host, &files).await?;
    }
    let config = member_config(file, member, &files, state)?;
    host.upload(config.as_bytes(), &format!("{dir}/oxcd.yaml"), 0o644)
        .await?;
    host.upload(
        format!("{}\n", file.token).as_bytes(),
        &format!("{dir}/cluster-token"),
        0o644,
    )
    .await?;
    if found.systemd {
        let unit = unit_name(&member.name);
        let text = unit_file(&member.name, &file.token, &found.user, dir, &found.bin_dir);
        host.upload(text.as_bytes(), &format!("{dir}/{unit}"), 0o644)
            .await?;
        let script = format!(
            "set -e\n{prelude}$S install -m 644 {uploaded} {UNIT_DIR}/\"$unit\"\n$S systemctl daemon-reload\n$S systemctl enable --now --quiet \"$unit\"\n",
            prelude = shell_prelude(&member.name),
            uploaded = quote(&format!("{dir}/{unit}")),
        );
        host.run(&script, b"").await?;
        return Ok(());
    }
    let (bin, dir_q) = (&found.bin_dir, quote(dir));
    let script = format!(
        "cd {dir_q} && nohup setsid {oxadm} supervise --pid-file {pid} --log-file {log} -- {oxcd} --config-file {config} > /dev/null 2>&1 < /dev/null &",
        oxadm = quote(&format!("{bin}/oxadm")),
        oxcd = quote(&format!("{bin}/oxcd")),
        pid = quote(&format!("{dir}/supervisor.pid")),
        log = quote(&format!("{dir}/oxcd.log")),
        config = quote(&format!("{dir}/oxcd.yaml")),
    );
    host.run(&script, b"").await?;
    Ok(())
}

/// Makes `member` new server and peer certificates and puts them, with the authority's
/// certificate, into its `tls/` directory on `host` (keys readable by the member's user
/// only); returns them.
pub async fn install_member_certs(
    tls: &TlsFiles,
    member: &MemberEntry,
    host: &Host,
    files: &MemberFiles,
) -> Result<MemberCerts> {
    let certs = tls.member_certs(&member.name, &member.host)?;
    let dir = files.tls_dir();
    for (name, text, mode) in [
        ("ca.pem", &certs.ca_cert, 0o644),
        ("server-key.pem", &certs.server_key, 0o600),
        ("server.pem", &certs.server_cert, 0o644),
        ("peer-key.pem", &certs.peer_key, 0o600),
        ("peer.pem", &certs.peer_cert, 0o644),
    ] {
        let path = dir.join(name);
        host.upload(text.as_bytes(), &path.to_string_lossy(), mode)
            .await?;
    }
    Ok(certs)
}
