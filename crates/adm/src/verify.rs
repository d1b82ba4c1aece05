//! The seed's verification, run and shown after a cluster comes up: `member list` and
//! `endpoint status -w table` against every member, with the `oxctl` installed beside
//! `oxadm` (the same commands work with real etcdctl).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cluster_file::ClusterFile;
use crate::health::ClusterReport;

/// Says the cluster of `file` is healthy (`report`), how long since `started` it took, and
/// shows the seed's checks.
pub fn announce_healthy(
    file: &ClusterFile,
    report: &ClusterReport,
    started: Instant,
) -> Result<()> {
    println!(
        "cluster of {} members is healthy ({:.1}s): {}",
        file.members.len(),
        started.elapsed().as_secs_f64(),
        report.summary()
    );
    show(file)
}

/// Prints each command and its output; an error if a command fails.
fn show(file: &ClusterFile) -> Result<()> {
    let oxctl = beside_oxadm("oxctl")?;
    let endpoints = format!("--endpoints={}", file.client_urls().join(","));
    let mut flags = vec![endpoints];
    flags.extend(file.ctl_flags());
    for arguments in [
        vec!["member", "list"],
        vec!["endpoint", "status", "-w", "table"],
    ] {
        println!("$ oxctl {} {}", flags.join(" "), arguments.join(" "));
        let output = Command::new(&oxctl)
            .args(&flags)
            .args(&arguments)
            .output()
            .with_context(|| format!("running {}", oxctl.display()))?;
        print!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        if !output.status.success() {
            bail!("`oxctl {}` failed", arguments.join(" "));
        }
    }
    Ok(())
}

/// The program `name` in the directory `oxadm` runs from (where the release puts all four).
pub fn beside_oxadm(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the oxadm executable")?;
    let path = exe
        .parent()
        .context("the oxadm executable has a directory")?
        .join(name);
    if !path.is_file() {
        bail!(
            "no {name} beside oxadm ({}): install the oxcd binaries together",
            path.display()
        );
    }
    Ok(path)
}
