//! Faults injected into a running cluster, on a schedule drawn from a seed so that a failing
//! run can be replayed: kill -9 and restart, SIGSTOP and SIGCONT, network partitions between
//! the members' namespaces (the leader isolated, a minority split off, a "bridge" member that
//! sees both halves of a split), rolling restarts, and — through the [`PeerProxy`] in front of
//! each member's peer port — slow links with jitter, lossy links whose connections break at
//! random, and a member that receives nothing while it can still send; and, on oxcd built
//! with crash points, a member crashing at one of its named crash points; and a member whose
//! disk fills up (each member's data directory on its own small tmpfs); and a member replaced
//! as an operator replaces one (removed, its data wiped, added again and started anew).
//!
//! Faults come one at a time: a quiet gap, the fault held for a while, then healed.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result};
use oxcd_testkit::rng::SeededRng;

use oxcd_api::etcdserverpb::{
    MemberAddRequest, MemberListRequest, MemberPromoteRequest, MemberRemoveRequest, StatusRequest,
};

use crate::cluster::Cluster;
use crate::crash_points;
use crate::grpc;
use crate::netns::NetnsLab;
use crate::proxy::{LinkFaults, PeerProxy};

/// The kinds of fault a run may draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// SIGKILL a member, restart it when healed.
    Kill,
    /// SIGSTOP a member, SIGCONT it when healed.
    Pause,
    /// Cut the leader off from every other member.
    IsolateLeader,
    /// Cut a minority (one of three, two of five) off from the rest.
    SplitMinority,
    /// Split five members in two halves that only one member in the middle still joins.
    Bridge,
    /// Stop and restart every member in turn.
    RollingRestart,
    /// Add 20–120 ms to every chunk of peer traffic, each way.
    SlowPeers,
    /// Break 3 % of peer connections at each chunk of data.
    LossyPeers,
    /// Refuse every connection to one member's peer port.
    BlackholePeer,
    /// Arm one of oxcd's named crash points on a member (it panics there, the process ends),
    /// then restart it. Needs oxcd built with the `failpoints` feature.
    CrashPoint,
    /// Fill a member's disk until it stops, then free the space and restart it.
    DiskFull,
    /// Remove a member from the cluster (it stops by itself), then add it again with an
    /// empty data dir: a membership change in each direction while the workload runs.
    Replace,
    /// As [`FaultKind::Replace`], but the member comes back as a learner, promoted once it has
    /// caught up (the change etcd's documentation recommends).
    ReplaceWithLearner,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 13] = [
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::IsolateLeader,
        FaultKind::SplitMinority,
        FaultKind::Bridge,
        FaultKind::RollingRestart,
        FaultKind::SlowPeers,
        FaultKind::LossyPeers,
        FaultKind::BlackholePeer,
        FaultKind::CrashPoint,
        FaultKind::DiskFull,
        FaultKind::Replace,
        FaultKind::ReplaceWithLearner,
    ];

    /// Whether the fault needs members in their own network namespaces.
    pub fn needs_network(self) -> bool {
        matches!(
            self,
            FaultKind::IsolateLeader | FaultKind::SplitMinority | FaultKind::Bridge
        )
    }

    /// Whether the fault needs peer traffic routed through proxies (which, on loopback, cannot
    /// be combined with namespaces).
    pub fn needs_proxies(self) -> bool {
        matches!(
            self,
            FaultKind::SlowPeers | FaultKind::LossyPeers | FaultKind::BlackholePeer
        )
    }

    /// Whether the fault needs oxcd's crash points (a test build of oxcd, not etcd).
    pub fn needs_crash_points(self) -> bool {
        self == FaultKind::CrashPoint
    }

    /// Whether the fault needs every member's data directory on a small disk of its own.
    pub fn needs_small_disks(self) -> bool {
        self == FaultKind::DiskFull
    }

    /// Whether a cluster of `members` can have this fault.
    pub fn applies_to(self, members: usize) -> bool {
        self != FaultKind::Bridge || members >= 5
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::IsolateLeader => "isolate-leader",
            FaultKind::SplitMinority => "split-minority",
            FaultKind::Bridge => "bridge",
            FaultKind::RollingRestart => "rolling-restart",
            FaultKind::SlowPeers => "slow-peers",
            FaultKind::LossyPeers => "lossy-peers",
            FaultKind::BlackholePeer => "blackhole-peer",
            FaultKind::CrashPoint => "crash-point",
            FaultKind::DiskFull => "disk-full",
            FaultKind::Replace => "replace",
            FaultKind::ReplaceWithLearner => "replace-learner",
        };
        f.write_str(name)
    }
}

impl std::str::FromStr for FaultKind {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<FaultKind> {
        FaultKind::ALL
            .into_iter()
            .find(|kind| kind.to_string() == text)
            .with_context(|| {
                let names: Vec<String> = FaultKind::ALL.iter().map(ToString::to_string).collect();
                format!("unknown fault {text:?} (known: {})", names.join(", "))
            })
    }
}

/// One scheduled fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Quiet time before it.
    pub after: Duration,
    /// What happens.
    pub kind: FaultKind,
    /// The member it hits (for partitions: the member that anchors the minority).
    pub member: usize,
    /// How long it lasts before it is healed (for a crash point: how long the crash may take
    /// to come).
    pub hold: Duration,
    /// The crash point a [`FaultKind::CrashPoint`] arms.
    pub crash_point: Option<&'static str>,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "after {:.1}s: {} m{} for {:.1}s",
            self.after.as_secs_f64(),
            self.kind,
            self.member + 1,
            self.hold.as_secs_f64()
        )?;
        match self.crash_point {
            Some(point) => write!(f, " at {point}"),
            None => Ok(()),
        }
    }
}

/// Time a member may take to reach an armed crash point beyond the fault's hold.
const CRASH_POINT_GRACE: Duration = Duration::from_secs(3);
/// Time a member may take to run out of space once its disk is full, beyond the fault's hold.
const DISK_FULL_GRACE: Duration = Duration::from_secs(10);

/// Draws faults from `kinds` until they fill `duration`.
pub fn schedule(seed: u64, duration: Duration, kinds: &[FaultKind], members: usize) -> Vec<Fault> {
    let kinds: Vec<FaultKind> = kinds
        .iter()
        .copied()
        .filter(|k| k.applies_to(members))
        .collect();
    let mut rng = SeededRng::new(seed);
    let mut faults = Vec::new();
    let mut total = Duration::ZERO;
    if kinds.is_empty() {
        return faults;
    }
    loop {
        let kind = *rng.pick(&kinds);
        let fault = Fault {
            after: Duration::from_millis(rng.range_i64(500, 2_000) as u64),
            kind,
            member: rng.index(members),
            hold: Duration::from_millis(rng.range_i64(1_000, 4_000) as u64),
            // Drawn only for crash points, so other schedules replay as before.
            crash_point: (kind == FaultKind::CrashPoint)
                .then(|| *rng.pick(&crash_points::WORKLOAD)),
        };
        total += fault.after + fault.hold;
        if total > duration {
            return faults;
        }
        faults.push(fault);
    }
}

/// The proxy in front of each member.
fn proxies(cluster: &Cluster) -> Result<Vec<&PeerProxy>> {
    (0..cluster.size())
        .map(|i| {
            cluster
                .peer_proxy(i)
                .context("link faults need a cluster with peer proxies")
        })
        .collect()
}

/// What became of an injected fault, where it can miss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The fault happened as scheduled.
    Injected,
    /// The member stopped by itself (at this crash point, or `disk-full`) and was restarted.
    Stopped(&'static str),
    /// The member did not get there within the fault's time (a crash point not reached, a
    /// full disk not written to); the fault was healed.
    NotReached(&'static str),
}

/// Injects `fault` into `cluster`, holds it, and heals it. Partitions need `lab`, link faults
/// a cluster started with peer proxies, crash points an oxcd built with them.
pub async fn inject(
    cluster: &mut Cluster,
    lab: Option<&NetnsLab>,
    fault: &Fault,
) -> Result<Outcome> {
    let size = cluster.size();
    let m = fault.member;
    let network = || lab.context("network faults need the members in namespaces");

    match fault.kind {
        FaultKind::Kill => {
            cluster.kill9(m)?;
            tokio::time::sleep(fault.hold).await;
            cluster.restart(m).await?;
        }
        FaultKind::Pause => {
            cluster.pause(m)?;
            tokio::time::sleep(fault.hold).await;
            cluster.resume(m)?;
        }
        FaultKind::IsolateLeader => {
            let lab = network()?;
            let leader = cluster.leader(Duration::from_secs(5)).await.unwrap_or(m);
            lab.isolate(leader)?;
            tokio::time::sleep(fault.hold).await;
            lab.heal()?;
        }
        FaultKind::SplitMinority => {
            let lab = network()?;
            let minority: Vec<usize> = (0..(size - 1) / 2).map(|i| (m + i) % size).collect();
            for &a in &minority {
                for b in (0..size).filter(|b| !minority.contains(b)) {
                    lab.cut(a, b)?;
                }
            }
            tokio::time::sleep(fault.hold).await;
            lab.heal()?;
        }
        FaultKind::Bridge => {
            let lab = network()?;
            // m is the bridge; the others, in ring order, form two halves it joins.
            let others: Vec<usize> = (1..size).map(|i| (m + i) % size).collect();
            let (left, right) = others.split_at(others.len() / 2);
            for &a in left {
                for &b in right {
                    lab.cut(a, b)?;
                }
            }
            tokio::time::sleep(fault.hold).await;
            lab.heal()?;
        }
        FaultKind::RollingRestart => {
            for i in 0..size {
                cluster.stop(i)?;
                cluster.restart(i).await?;
            }
        }
        FaultKind::SlowPeers | FaultKind::LossyPeers => {
            let faults = if fault.kind == FaultKind::SlowPeers {
                LinkFaults {
                    delay: Duration::from_millis(20),
                    jitter: Duration::from_millis(100),
                    ..LinkFaults::default()
                }
            } else {
                LinkFaults {
                    reset_percent: 3,
                    ..LinkFaults::default()
                }
            };
            let all = proxies(cluster)?;
            all.iter().for_each(|p| p.set(faults));
            tokio::time::sleep(fault.hold).await;
            all.iter().for_each(|p| p.heal());
        }
        FaultKind::BlackholePeer => {
            let proxy = proxies(cluster)?[m];
            proxy.set(LinkFaults {
                blackhole: true,
                ..LinkFaults::default()
            });
            tokio::time::sleep(fault.hold).await;
            proxy.heal();
        }
        FaultKind::CrashPoint => {
            let point = fault
                .crash_point
                .context("a crash-point fault names its point")?;
            return crash_at(cluster, m, point, fault.hold).await;
        }
        FaultKind::DiskFull => return fill_disk(cluster, m, fault.hold).await,
        FaultKind::Replace => replace(cluster, m, fault.hold, false).await?,
        FaultKind::ReplaceWithLearner => replace(cluster, m, fault.hold, true).await?,
    }
    Ok(Outcome::Injected)
}

/// Arms `point` on member `m` to panic, waits up to `hold` (plus time to get there) for the
/// crash, and restarts the member.
async fn crash_at(
    cluster: &mut Cluster,
    m: usize,
    point: &'static str,
    hold: Duration,
) -> Result<Outcome> {
    let url = cluster.member(m).client_url();
    crash_points::arm(&url, point, "panic").await?;
    match cluster.wait_exit(m, hold + CRASH_POINT_GRACE).await {
        Ok(code) => {
            anyhow::ensure!(
                code == Some(2),
                "member {} crashed at {point} with {code:?}, not a panic's exit status 2",
                m + 1
            );
            cluster.restart(m).await?;
            Ok(Outcome::Stopped(point))
        }
        Err(_) => {
            crash_points::disarm(&url, point).await?;
            Ok(Outcome::NotReached(point))
        }
    }
}

/// Fills member `m`'s disk, waits up to `hold` (plus time to get there) for it to stop, frees
/// the space and restarts it.
async fn fill_disk(cluster: &mut Cluster, m: usize, hold: Duration) -> Result<Outcome> {
    let disk = cluster
        .disk(m)
        .context("a disk-full fault needs members on small disks")?;
    disk.fill(0)?;
    let stopped = cluster.wait_exit(m, hold + DISK_FULL_GRACE).await;
    let disk = cluster.disk(m).context("the member's disk")?;
    disk.free()?;
    match stopped {
        Ok(code) => {
            anyhow::ensure!(
                matches!(code, Some(1 | 2)),
                "member {} stopped on a full disk with {code:?}, not a fatal exit",
                m + 1
            );
            cluster.restart(m).await?;
            Ok(Outcome::Stopped("disk-full"))
        }
        Err(_) => Ok(Outcome::NotReached("disk-full")),
    }
}

/// Bound on a membership change getting past etcd's strict checks (members reachable for five
/// seconds) after an earlier fault.
const RECONFIG_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on a removed member's process ending by itself.
const REMOVED_EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// Replaces member `m` as an operator replaces a member: removes it through another member
/// (it stops by itself), waits `hold`, adds it again (a new id, the same URLs; a `learner`
/// first when asked) and starts it with an empty data dir and `--initial-cluster-state
/// existing`; a learner is then promoted as soon as the leader finds it caught up.
async fn replace(cluster: &mut Cluster, m: usize, hold: Duration, learner: bool) -> Result<()> {
    let size = cluster.size();
    let via = cluster.endpoint((m + 1) % size);
    let mut target = grpc::connect(&cluster.endpoint(m)).await?;
    let id = target
        .maintenance
        .status(StatusRequest {})
        .await?
        .into_inner()
        .header
        .context("status header")?
        .member_id;
    let client = grpc::connect(&via).await?;
    reconfigure(|| {
        let mut cluster_client = client.cluster.clone();
        async move {
            cluster_client
                .member_remove(MemberRemoveRequest { id })
                .await
                .map(drop)
        }
    })
    .await
    .with_context(|| format!("removing member {}", m + 1))?;
    let code = cluster.wait_exit(m, REMOVED_EXIT_TIMEOUT).await?;
    anyhow::ensure!(
        code == Some(0),
        "member {} stopped with {code:?} after its removal, not 0",
        m + 1
    );
    tokio::time::sleep(hold).await;
    let peer_url = cluster.member(m).config().peer_url();
    let added = reconfigure(|| {
        let mut cluster_client = client.cluster.clone();
        let peer_ur_ls = vec![peer_url.clone()];
        async move {
            cluster_client
                .member_add(MemberAddRequest {
                    peer_ur_ls,
                    is_learner: learner,
                })
                .await
                .map(|response| response.into_inner().member.map_or(0, |member| member.id))
        }
    })
    .await
    .with_context(|| format!("adding member {} again", m + 1))?;
    wait_listed_everywhere(cluster, m, added).await?;
    let initial_cluster = cluster
        .members()
        .iter()
        .map(|member| format!("{}={}", member.name(), member.config().peer_url()))
        .collect::<Vec<_>>()
        .join(",");
    cluster.join(m, &initial_cluster).await?;
    if learner {
        reconfigure(|| {
            let mut cluster_client = client.cluster.clone();
            async move {
                cluster_client
                    .member_promote(MemberPromoteRequest { id: added })
                    .await
                    .map(drop)
            }
        })
        .await
        .with_context(|| format!("promoting member {}", m + 1))?;
    }
    Ok(())
}

/// Waits until every running member but `m` lists the member `added`: the joining member takes
/// the membership from whichever peer answers first, and one that has not applied the addition
/// yet would refuse it as one member too many (etcd's joiners behave the same).
async fn wait_listed_everywhere(cluster: &Cluster, m: usize, added: u64) -> Result<()> {
    let deadline = tokio::time::Instant::now() + RECONFIG_TIMEOUT;
    for i in cluster.up().into_iter().filter(|&i| i != m) {
        let endpoint = cluster.endpoint(i);
        let what = format!("member {} to list the member added for {}", i + 1, m + 1);
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        crate::wait::until_ok(&what, left, || async {
            let members = grpc::connect(&endpoint)
                .await?
                .cluster
                .member_list(MemberListRequest {
                    linearizable: false,
                })
                .await?
                .into_inner()
                .members;
            anyhow::ensure!(members.iter().any(|x| x.id == added), "not listed yet");
            Ok(())
        })
        .await?;
    }
    Ok(())
}

/// Runs a membership change again while the strict checks refuse it as unsafe for now
/// (`unhealthy cluster`, `not enough started members`), a learner has not caught up yet, or
/// there is no leader; what the change answered.
async fn reconfigure<F, Fut, T>(mut change: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let deadline = tokio::time::Instant::now() + RECONFIG_TIMEOUT;
    loop {
        match change().await {
            Ok(answer) => return Ok(answer),
            Err(status) if tokio::time::Instant::now() < deadline && retryable(&status) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(status) => anyhow::bail!("{}: {}", status.code(), status.message()),
        }
    }
}

fn retryable(status: &tonic::Status) -> bool {
    let message = status.message();
    message.contains("unhealthy cluster")
        || message.contains("not enough started members")
        || message.contains("in sync with leader")
        || message.contains("no leader")
        || message.contains("timed out")
        || status.code() == tonic::Code::Unavailable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_replay_from_their_seed_and_fit_the_duration() {
        let kinds = [FaultKind::Kill, FaultKind::Pause, FaultKind::Bridge];
        let a = schedule(7, Duration::from_secs(60), &kinds, 3);
        assert_eq!(a, schedule(7, Duration::from_secs(60), &kinds, 3));
        assert_ne!(a, schedule(8, Duration::from_secs(60), &kinds, 3));
        let total: Duration = a.iter().map(|f| f.after + f.hold).sum();
        assert!(total <= Duration::from_secs(60));
        assert!(a.len() >= 10, "{a:?}");
        assert!(
            a.iter().all(|f| f.kind != FaultKind::Bridge),
            "a bridge needs five members"
        );
    }

    #[test]
    fn fault_names_round_trip() {
        for kind in FaultKind::ALL {
            assert_eq!(kind.to_string().parse::<FaultKind>().unwrap(), kind);
        }
        assert!("flood".parse::<FaultKind>().is_err());
    }
}
