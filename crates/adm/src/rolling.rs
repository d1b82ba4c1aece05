//! `oxadm restart` and `oxadm upgrade`: every member restarted in turn, one at a time, only
//! while the whole cluster is healthy, followers first and the leader last after its
//! leadership moved to a follower, waiting for the cluster to be healthy again after each —
//! so quorum is never lost and clients see at most one leader change. `upgrade` first installs
//! the new binary on every host (by checksum) and restarts nothing when no host needed it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use oxcd_api::etcdserverpb::MoveLeaderRequest;

use crate::cluster_file::ClusterFile;
use crate::health::{ClusterReport, MemberReport, change_client, wait_healthy};
use crate::member_control::MemberOnHost;
use crate::up::{Binaries, check_hosts, install_binaries};

/// Bound on the cluster becoming healthy again after one member's restart.
const HEALTHY_AGAIN: Duration = Duration::from_secs(60);

/// Restarts every member of `file` in turn.
pub async fn restart(file: &ClusterFile, file_dir: &Path) -> Result<()> {
    let started = Instant::now();
    let report = ClusterReport::require_healthy(
        file,
        "restarting a member now could cost the quorum; bring every member up first (`oxadm up`)",
    )
    .await?;
    let is_leader =
        |report: &ClusterReport, name: &str| report.leader_member().is_some_and(|m| m.name == name);
    // Followers first, the leader last.
    let mut order: Vec<_> = file.members.iter().collect();
    order.sort_by_key(|m| is_leader(&report, &m.name));
    for member in order {
        let member_started = Instant::now();
        let current = ClusterReport::collect(file).await;
        if is_leader(&current, &member.name) && file.members.len() > 1 {
            move_leadership_away(file, &current, &member.name).await?;
        }
        MemberOnHost::new(file, member, file_dir).restart().await?;
        wait_healthy(file, HEALTHY_AGAIN)
            .await
            .with_context(|| format!("after restarting {}", member.name))?;
        println!(
            "{}: restarted, cluster healthy again ({:.1}s)",
            member.name,
            member_started.elapsed().as_secs_f64()
        );
    }
    println!(
        "restarted {} members in {:.1}s",
        file.members.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Installs `binary` (else the file's, else the `oxcd` beside `oxadm`) on every host and, if
/// any host got a new one, restarts every member in turn.
pub async fn upgrade(file: &ClusterFile, file_dir: &Path, binary: Option<PathBuf>) -> Result<()> {
    let binaries = Binaries::choose(file, binary)?;
    let (hosts, facts) = check_hosts(file, file_dir, &binaries).await?;
    if facts.iter().any(|found| found.running.is_none()) {
        bail!("not every member runs: start them with `oxadm up` before upgrading");
    }
    let installed = install_binaries(&hosts, &facts, &binaries).await?;
    if !installed.oxcd {
        println!("every host already has this oxcd; nothing to restart");
        return Ok(());
    }
    restart(file, file_dir).await
}

/// Moves leadership from member `name` (the leader) to the first other member that answers,
/// and waits until the cluster is healthy under the new leader.
pub async fn move_leadership_away(
    file: &ClusterFile,
    report: &ClusterReport,
    name: &str,
) -> Result<()> {
    let leader = report
        .members
        .iter()
        .find(|m| m.name == name)
        .context("the leader's report")?;
    let target = report
        .members
        .iter()
        .filter(|m| m.name != name)
        .find_map(MemberReport::id)
        .context("no other member answers to take over leadership")?;
    let client = change_client(file, std::slice::from_ref(&leader.endpoint)).await?;
    client
        .maintenance()
        .move_leader(MoveLeaderRequest { target_id: target })
        .await
        .with_context(|| format!("moving leadership away from {name}"))?;
    let moved = wait_healthy(file, HEALTHY_AGAIN).await?;
    println!(
        "{name}: leadership moved to {:x}",
        moved.leader().unwrap_or(target)
    );
    Ok(())
}
