//! One long lock/election run for `oxrobust --workload locks`: a cluster with one member per
//! network namespace, `oxlocker` holders (each on a host of its own) contending for a lock and
//! campaigners for an election, while a seeded schedule kills, pauses or cuts off the current
//! holder, kills the leader member or the leading campaigner. Every fault must be followed by a
//! new holder (or leader) within the failover bound, a victim must learn it lost and write
//! nothing after; at the end the guarded writes must not interleave and the observer must have
//! seen the leaders in order.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use oxcd_client::{Client, ConnectOptions};
use oxcd_testkit::rng::SeededRng;

use super::holders::{HolderSpec, Holders, Mode};
use super::steps::{
    Observer, SESSION_TTL, SETTLE, acquired, check_observed, failover_bound, leading, timing_args,
};
use super::tenures::{self, TenureReport};
use crate::cluster::{Cluster, ClusterSpec, Placement};
use crate::netns::NetnsLab;
use crate::server::Server;

/// The lock the holders contend for.
const LOCK_NAME: &str = "oxrobust-lock";
/// The election the campaigners contend for.
const ELECTION_NAME: &str = "oxrobust-election";

/// A fault of the lock workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockFault {
    /// SIGKILL the holder that just acquired; start it again once the lock moved on.
    KillHolder,
    /// SIGSTOP the holder that just acquired until the lock moved on and was written under.
    PauseHolder,
    /// Cut the holder that just acquired off from every member until the lock moved on.
    IsolateHolder,
    /// SIGKILL the cluster's leader member; restart it once the lock moved on.
    KillLeader,
    /// SIGKILL the campaigner that just became leader; start it again once another leads.
    KillCampaigner,
}

impl LockFault {
    /// Every lock fault.
    pub const ALL: [LockFault; 5] = [
        LockFault::KillHolder,
        LockFault::PauseHolder,
        LockFault::IsolateHolder,
        LockFault::KillLeader,
        LockFault::KillCampaigner,
    ];

    fn name(self) -> &'static str {
        match self {
            LockFault::KillHolder => "kill-holder",
            LockFault::PauseHolder => "pause-holder",
            LockFault::IsolateHolder => "isolate-holder",
            LockFault::KillLeader => "kill-leader",
            LockFault::KillCampaigner => "kill-campaigner",
        }
    }
}

impl fmt::Display for LockFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LockFault {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<LockFault> {
        match LockFault::ALL
            .into_iter()
            .find(|fault| fault.name() == text)
        {
            Some(fault) => Ok(fault),
            None => bail!(
                "unknown lock fault {text:?} (known: {})",
                LockFault::ALL.map(LockFault::name).join(", ")
            ),
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LockRunSpec {
    /// The server under test.
    pub server: Server,
    /// Cluster size.
    pub members: usize,
    /// How long faults are injected.
    pub duration: Duration,
    /// Seed of the fault schedule.
    pub seed: u64,
    /// The faults to draw from.
    pub faults: Vec<LockFault>,
    /// Lock holder processes.
    pub holders: usize,
    /// Election campaigner processes.
    pub campaigners: usize,
    /// Holders write without the guard (`oxrobust --unsafe`), to see the checks catch it.
    pub unguarded: bool,
}

impl LockRunSpec {
    /// A run with every lock fault, four holders and three campaigners.
    pub fn new(server: Server, members: usize, duration: Duration, seed: u64) -> LockRunSpec {
        LockRunSpec {
            server,
            members,
            duration,
            seed,
            faults: LockFault::ALL.to_vec(),
            holders: 4,
            campaigners: 3,
            unguarded: false,
        }
    }
}

/// Everything a lock run found.
#[derive(Debug, Clone)]
pub struct LockRunSummary {
    /// The run's parameters.
    pub spec: LockRunSpec,
    /// Faults injected, by kind.
    pub injected: BTreeMap<LockFault, usize>,
    /// Time from each fault to the next grant (or leader), by kind.
    pub failovers: BTreeMap<LockFault, Vec<Duration>>,
    /// The check of the guarded writes.
    pub tenures: TenureReport,
    /// Leaders and proclamations the observer saw.
    pub observed: usize,
    /// Faults not followed by a new holder in time, victims that kept writing, leaders
    /// observed out of order.
    pub problems: Vec<String>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl LockRunSummary {
    /// No interleaved writes and no problem.
    pub fn passed(&self) -> bool {
        self.tenures.passed() && self.problems.is_empty()
    }

    /// A human-readable report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let spec = &self.spec;
        let _ = writeln!(
            out,
            "lock run on {} x{}: seed {}, {:.0}s of faults ({} {}holders, {} campaigners), {:.0}s in all",
            spec.server,
            spec.members,
            spec.seed,
            spec.duration.as_secs_f64(),
            spec.holders,
            if spec.unguarded { "unguarded " } else { "" },
            spec.campaigners,
            self.elapsed.as_secs_f64()
        );
        let faults: Vec<String> = self
            .injected
            .iter()
            .map(|(fault, n)| format!("{fault} {n}"))
            .collect();
        let _ = writeln!(out, "faults injected: {}", faults.join(", "));
        for (fault, delays) in &self.failovers {
            let max = delays.iter().max().copied().unwrap_or_default();
            let mean = delays.iter().sum::<Duration>() / delays.len().max(1) as u32;
            let _ = writeln!(
                out,
                "{fault}: successor after {mean:.2?} on average, {max:.2?} at most (bound {:?})",
                failover_bound()
            );
        }
        let _ = writeln!(out, "lock: {}", self.tenures);
        let _ = writeln!(
            out,
            "election: {} leaders and proclamations observed",
            self.observed
        );
        let _ = writeln!(out, "problems: {}", self.problems.len());
        for problem in &self.problems {
            let _ = writeln!(out, "  {problem}");
        }
        out
    }
}

/// What a fault acts on.
struct Rig<'a> {
    lab: &'a NetnsLab,
    cluster: &'a mut Cluster,
    holders: &'a mut Holders,
    campaigners: &'a mut Holders,
    /// Leaders that replaced a killed one; the observer must see each.
    successors: Vec<i64>,
}

/// Carries out one lock run.
pub async fn run(spec: LockRunSpec) -> Result<LockRunSummary> {
    let started = Instant::now();
    let members = spec.members;
    let lab = NetnsLab::create(members + spec.holders)?;
    let mut cluster = Cluster::start(
        ClusterSpec::new(spec.server, members)
            .token("oxrobust-locks")
            .placement(Placement::Hosts(lab.hosts()[..members].to_vec()))
            .args(timing_args()),
    )
    .await?;
    let endpoints = cluster.endpoints();
    let holder_spec = |mode, name: &str| HolderSpec {
        mode,
        endpoints: endpoints.clone(),
        name: name.to_owned(),
        ttl: SESSION_TTL,
        rounds: 4,
        interval: Duration::from_millis(200),
        unguarded: spec.unguarded && mode == Mode::Lock,
    };
    let netns: Vec<String> = lab.hosts()[members..]
        .iter()
        .map(|host| host.netns.clone())
        .collect();
    let mut holders = Holders::start(&holder_spec(Mode::Lock, LOCK_NAME), spec.holders, &netns)?;
    let client = Client::connect(&endpoints, ConnectOptions::default()).await?;
    let observer = Observer::start(&client, ELECTION_NAME);
    let mut campaigners = Holders::start(
        &holder_spec(Mode::Elect, ELECTION_NAME),
        spec.campaigners,
        &[],
    )?;
    let mut rng = SeededRng::new(spec.seed);
    let mut injected = BTreeMap::new();
    let mut failovers: BTreeMap<LockFault, Vec<Duration>> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut rig = Rig {
        lab: &lab,
        cluster: &mut cluster,
        holders: &mut holders,
        campaigners: &mut campaigners,
        successors: Vec::new(),
    };
    let deadline = Instant::now() + spec.duration;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(rng.range_i64(200, 1_500) as u64)).await;
        let fault = *rng.pick(&spec.faults);
        *injected.entry(fault).or_insert(0) += 1;
        match inject(fault, &mut rig).await {
            Ok(delay) => failovers.entry(fault).or_default().push(delay),
            Err(error) => problems.push(format!("{fault}: {error:#}")),
        }
    }
    if let Err(error) = rig.holders.more(spec.holders, SETTLE, acquired).await {
        problems.push(format!("after the faults: {error:#}"));
    }
    let successors = std::mem::take(&mut rig.successors);
    drop(holders);
    drop(campaigners);
    let tenures = tenures::read_and_check(&client, LOCK_NAME).await?;
    let seen = observer.seen();
    problems.extend(check_observed(&seen, &successors));
    Ok(LockRunSummary {
        spec,
        injected,
        failovers,
        tenures,
        observed: seen.iter().map(Vec::len).sum(),
        problems,
        elapsed: started.elapsed(),
    })
}

/// Injects `fault`, repairs it, and returns the time from the fault to the next grant (or
/// leader). The repair runs whatever the checks in between found.
async fn inject(fault: LockFault, rig: &mut Rig<'_>) -> Result<Duration> {
    let bound = failover_bound();
    match fault {
        LockFault::KillHolder => {
            let grant = rig.holders.fresh(SETTLE, acquired).await?;
            rig.holders.get_mut(grant.index).kill9()?;
            let killed = Instant::now();
            let next = rig
                .holders
                .successor(grant.index, grant.value, killed, bound, acquired)
                .await;
            rig.holders.restart(grant.index)?;
            Ok(next?.at - killed)
        }
        LockFault::PauseHolder | LockFault::IsolateHolder => {
            let pause = fault == LockFault::PauseHolder;
            let grant = rig.holders.fresh(SETTLE, acquired).await?;
            let host = rig.cluster.size() + grant.index;
            if pause {
                rig.holders.get_mut(grant.index).pause()?;
            } else {
                rig.lab.isolate(host)?;
            }
            let faulted = Instant::now();
            let next = rig
                .holders
                .successor(grant.index, grant.value, faulted, bound, acquired)
                .await;
            let written = match &next {
                Ok(next) => rig.holders.first_write(next, SETTLE).await,
                Err(_) => Ok(()),
            };
            if pause {
                rig.holders.get_mut(grant.index).resume()?;
            } else {
                rig.lab.heal()?;
            }
            let next = next?;
            written?;
            rig.holders
                .victim_learns_it_lost(grant.index, grant.value, next.value, faulted, pause, SETTLE)
                .await?;
            Ok(next.at - faulted)
        }
        LockFault::KillLeader => {
            let leader = rig.cluster.leader(SETTLE).await?;
            rig.cluster.kill9(leader)?;
            let killed = Instant::now();
            let moved = rig
                .holders
                .wait_for(
                    "a grant after the leader died",
                    killed,
                    |_| true,
                    bound,
                    acquired,
                )
                .await;
            rig.cluster.restart(leader).await?;
            Ok(moved?.at - killed)
        }
        LockFault::KillCampaigner => {
            let leader = rig.campaigners.fresh(SETTLE, leading).await?;
            rig.campaigners.get_mut(leader.index).kill9()?;
            let killed = Instant::now();
            let next = rig
                .campaigners
                .successor(leader.index, leader.value, killed, bound, leading)
                .await;
            rig.campaigners.restart(leader.index)?;
            let next = next?;
            rig.successors.push(next.value);
            Ok(next.at - killed)
        }
    }
}
