//! `oxadm backup FILE`: a snapshot of the cluster's data saved to a local file — taken from
//! the leader with the `oxctl snapshot save` beside `oxadm` (which checks the snapshot's own
//! SHA-256 trailer) — and its checksum written beside it as `FILE.sha256`, in `sha256sum`'s
//! format, so a copy can be checked anywhere with `sha256sum -c`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::cluster_file::ClusterFile;
use crate::health::ClusterReport;
use crate::verify::beside_oxadm;

/// Saves a snapshot of `file`'s cluster to `target`.
pub async fn backup(file: &ClusterFile, target: &Path) -> Result<()> {
    let report = ClusterReport::collect(file).await;
    let endpoint = match (report.leader(), report.leader_member()) {
        (None, _) => bail!("the cluster has no leader to take a snapshot from"),
        (Some(_), None) => bail!("the leader does not answer"),
        (Some(_), Some(leader)) => leader.endpoint.clone(),
    };
    let output = Command::new(beside_oxadm("oxctl")?)
        .arg(format!("--endpoints={endpoint}"))
        .args(file.ctl_flags())
        .args(["snapshot", "save"])
        .arg(target)
        .output()
        .context("running oxctl snapshot save")?;
    if !output.status.success() {
        bail!(
            "saving the snapshot from {endpoint} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let content = std::fs::read(target).with_context(|| format!("reading {}", target.display()))?;
    let sum = format!("{:x}", Sha256::digest(&content));
    let name = target
        .file_name()
        .context("the backup file has a name")?
        .to_string_lossy();
    let sum_file = checksum_file(target);
    std::fs::write(&sum_file, format!("{sum}  {name}\n"))
        .with_context(|| format!("writing {}", sum_file.display()))?;
    println!(
        "saved a snapshot of {} bytes from {endpoint} to {} (sha256 {sum}, in {})",
        content.len(),
        target.display(),
        sum_file.display()
    );
    Ok(())
}

/// Where the checksum of the backup at `backup` is: `BACKUP.sha256`.
pub fn checksum_file(backup: &Path) -> PathBuf {
    let mut name = backup.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}
