//! `oxadm restore BACKUP`: a new cluster made from a backup, on the hosts of a cluster file —
//! the hosts the backup came from or others — as etcd's disaster-recovery guide makes one. The
//! backup is checked against its `.sha256` first; every host is checked as `up` checks it and
//! no member may be running. Then, on each host, the member's old files are set aside (never
//! deleted), the backup is uploaded, the `oxutl` installed beside `oxcd` turns it into the
//! member's data dir (`snapshot restore`, which checks the snapshot's own digest), and the
//! member starts; oxadm waits until the new cluster is healthy.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use futures::future::join_all;
use sha2::{Digest, Sha256};

use crate::backup::checksum_file;
use crate::cluster_file::{ClusterFile, MemberEntry};
use crate::health::wait_started;
use crate::host::{Host, quote};
use crate::preflight::HostFacts;
use crate::up::{Binaries, check_hosts, install_binaries, start_member};
use crate::verify;

/// Bound on the restored cluster becoming healthy.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(90);

/// Makes `file`'s cluster anew from the snapshot at `backup`.
pub async fn restore(
    file: &ClusterFile,
    file_dir: &Path,
    backup: &Path,
    binary: Option<PathBuf>,
) -> Result<()> {
    let started = Instant::now();
    let snapshot = read_checked(backup)?;
    let snapshot = snapshot.as_slice();
    let binaries = Binaries::choose(file, binary)?;
    let (hosts, facts) = check_hosts(file, file_dir, &binaries).await?;
    let running: Vec<String> = file
        .members
        .iter()
        .zip(&facts)
        .filter(|(_, found)| found.running.is_some())
        .map(|(member, _)| member.name.clone())
        .collect();
    if !running.is_empty() {
        bail!(
            "{} still running: stop the cluster with `oxadm down` first (restore sets the members' files aside, it does not delete them); nothing was changed",
            running.join(", ")
        );
    }
    if let Some(tls) = &file.tls {
        tls.create_unless_present(&file.token)?;
    }
    install_binaries(&hosts, &facts, &binaries).await?;
    let restores = join_all(file.members.iter().zip(&hosts).zip(&facts).map(
        |((member, host), found)| async move {
            restore_member(file, member, host, found, snapshot)
                .await
                .with_context(|| format!("restoring {} on {}", member.name, host.describe()))
        },
    ))
    .await;
    restores.into_iter().collect::<Result<Vec<()>>>()?;

    let members: Vec<&MemberEntry> = file.members.iter().collect();
    let report = wait_started(file, file_dir, &members, HEALTHY_TIMEOUT).await?;
    verify::announce_healthy(file, &report, started)
}

/// The backup's bytes, checked against `BACKUP.sha256` when there is one.
fn read_checked(backup: &Path) -> Result<Vec<u8>> {
    let content = std::fs::read(backup)
        .with_context(|| format!("reading the backup {}", backup.display()))?;
    let sum_file = checksum_file(backup);
    match std::fs::read_to_string(&sum_file) {
        Ok(text) => {
            let expected = text.split_whitespace().next().unwrap_or_default();
            let actual = format!("{:x}", Sha256::digest(&content));
            if expected != actual {
                bail!(
                    "{} does not match its checksum in {} (sha256 {actual}, not {expected}): the backup is damaged; nothing was changed",
                    backup.display(),
                    sum_file.display()
                );
            }
            println!("{}: matches {}", backup.display(), sum_file.display());
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => println!(
            "{}: no {} beside it; relying on the snapshot's own digest",
            backup.display(),
            sum_file.display()
        ),
        Err(error) => {
            return Err(error).with_context(|| format!("reading {}", sum_file.display()));
        }
    }
    Ok(content)
}

/// Sets `member`'s old files aside, restores its data dir from `snapshot` and starts it.
async fn restore_member(
    file: &ClusterFile,
    member: &MemberEntry,
    host: &Host,
    found: &HostFacts,
    snapshot: &[u8],
) -> Result<()> {
    let dir = &found.member_dir;
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let aside = format!("{dir}.before-restore-{seconds}");
    let set_aside = format!(
        "if [ -e {dir_q} ]; then mv {dir_q} {aside_q} && echo {aside_q}; fi",
        dir_q = quote(dir),
        aside_q = quote(&aside),
    );
    let moved = host.run(&set_aside, b"").await?;
    if !moved.trim().is_empty() {
        println!(
            "{}: its old files are kept in {} on {}",
            member.name,
            moved.trim(),
            host.describe()
        );
    }
    let uploaded = format!("{dir}/restore.snapshot");
    host.upload(snapshot, &uploaded, 0o600).await?;
    let script = format!(
        "set -e; {oxutl} snapshot restore {snapshot} --name {name} --data-dir {data} --initial-cluster {cluster} --initial-cluster-token {token} --initial-advertise-peer-urls {peer} 2>&1; rm -f {snapshot}",
        oxutl = quote(&format!("{}/oxutl", found.bin_dir)),
        snapshot = quote(&uploaded),
        name = quote(&member.name),
        data = quote(&format!("{dir}/data")),
        cluster = quote(&file.initial_cluster()),
        token = quote(&file.token),
        peer = quote(&file.peer_url(member)),
    );
    host.run(&script, b"").await?;
    start_member(file, member, host, found, "new").await?;
    println!(
        "{}: restored and started on {}",
        member.name,
        host.describe()
    );
    Ok(())
}
