//! One robustness run from start to verdict: a cluster of real members (each in its own
//! network namespace when partitions are among the faults), workload clients recording a
//! history while the seeded fault schedule plays, then the end-of-run checks — a final
//! linearizable read of every key (so every acknowledged write must still be there), the
//! members' `HashKV` at one revision, the linearizability check and the revision invariants.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::auth_churn::{AuthChurn, auth_agree};
use super::checker::{self, ReadPolicy, Violation};
use super::faults::{self, Fault, FaultKind, Outcome};
use super::history::{Completion, Op, Record};
use super::invariants::{self, Broken};
use super::leases::{self, LeaseBroken, LeaseClients};
use super::watch_checker::{self, WatchBroken};
use super::watchers::{WatchEntry, Watchers, read_history};
use super::workload::{Workload, WorkloadSpec, key_name};
use crate::cluster::{Cluster, ClusterSpec, Placement};
use crate::convergence::{self, AgreedHash};
use crate::netns::NetnsLab;
use crate::server::Server;

/// How long the watch clients get to catch up once the faults are healed.
const WATCH_CATCH_UP: Duration = Duration::from_secs(8);

/// What to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The server under test.
    pub server: Server,
    /// Cluster size.
    pub members: usize,
    /// How long the workload runs under faults.
    pub duration: Duration,
    /// Seed of the fault schedule and of the clients.
    pub seed: u64,
    /// The faults to draw from (partitions and link faults cannot be mixed in one run).
    pub faults: Vec<FaultKind>,
    /// Concurrent workload clients.
    pub clients: usize,
    /// Keys they share.
    pub keys: usize,
    /// [`ReadPolicy::IncludeSerializable`] is the deliberately unsafe mode: clients also send
    /// serializable reads and the checker counts them as linearizable.
    pub reads: ReadPolicy,
    /// Watch clients following the workload's keys.
    pub watchers: usize,
    /// Lease clients registering keys with leases.
    pub lease_clients: usize,
    /// Flags every member gets besides the seed's (e.g. a small `--snapshot-count`).
    pub server_args: Vec<String>,
}

impl RunSpec {
    /// A run of `duration` on a cluster of `members` with process faults and partitions.
    pub fn new(server: Server, members: usize, duration: Duration, seed: u64) -> RunSpec {
        RunSpec {
            server,
            members,
            duration,
            seed,
            faults: FaultKind::ALL
                .into_iter()
                .filter(|k| !k.needs_proxies() && !k.needs_crash_points() && !k.needs_small_disks())
                .collect(),
            clients: 8,
            keys: 6,
            reads: ReadPolicy::LinearizableOnly,
            watchers: 3,
            lease_clients: 2,
            server_args: Vec::new(),
        }
    }
}

/// Each member's disk in runs with `disk-full` faults: a preallocated WAL segment (64 MiB)
/// and the backend fit; the fault then takes what is left.
const SMALL_DISK_BYTES: u64 = 160 * 1024 * 1024;

/// Everything a run found.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The run's parameters.
    pub spec: RunSpec,
    /// The faults as scheduled.
    pub schedule: Vec<Fault>,
    /// Faults injected and healed, by kind.
    pub injected: BTreeMap<FaultKind, usize>,
    /// Faults where a member must stop by itself (each crash point by name, `disk-full`):
    /// (times it stopped and was restarted, times it did not get there).
    pub stops: BTreeMap<&'static str, (usize, usize)>,
    /// Requests recorded, by how they ended: ok, failed, indeterminate.
    pub requests: (usize, usize, usize),
    /// Operations the linearizability check covered.
    pub checked: usize,
    /// Keys it covered.
    pub keys: usize,
    /// Keys whose history is not linearizable.
    pub violations: Vec<Violation>,
    /// Keys the checker could not decide within its budget.
    pub inconclusive: Vec<Vec<u8>>,
    /// Broken revision invariants.
    pub broken: Vec<Broken>,
    /// Changes the watch clients received, in all.
    pub watched: usize,
    /// Broken watch guarantees.
    pub watch_broken: Vec<WatchBroken>,
    /// Leases registered, and renewals the server confirmed.
    pub leases: (usize, usize),
    /// Broken lease promises.
    pub lease_broken: Vec<LeaseBroken>,
    /// The members' agreed `HashKV` at the end.
    pub hash: AgreedHash,
    /// Auth changes acknowledged during the run, and the auth state every member agreed on.
    pub auth: (usize, String),
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl RunSummary {
    /// Whether the history is linearizable, no invariant is broken, and auth changes were
    /// made (so the members' agreement on the auth state says something).
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
            && self.broken.is_empty()
            && self.inconclusive.is_empty()
            && self.watch_broken.is_empty()
            && self.lease_broken.is_empty()
            && self.auth.0 > 0
    }

    /// A human-readable report: the parameters, the counts, and every violation with its
    /// minimal failing history.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let spec = &self.spec;
        let _ = writeln!(
            out,
            "robustness run on {} x{}: seed {}, {:.0}s of workload ({} clients, {} keys), {:.0}s in all",
            spec.server,
            spec.members,
            spec.seed,
            spec.duration.as_secs_f64(),
            spec.clients,
            spec.keys,
            self.elapsed.as_secs_f64()
        );
        let (ok, failed, indeterminate) = self.requests;
        let _ = writeln!(
            out,
            "requests: {ok} ok, {failed} failed, {indeterminate} indeterminate; {} operations on {} keys checked",
            self.checked, self.keys
        );
        let faults: Vec<String> = self
            .injected
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        let _ = writeln!(out, "faults injected: {}", faults.join(", "));
        if !self.stops.is_empty() {
            let stops: Vec<String> = self
                .stops
                .iter()
                .map(|(what, (hit, missed))| format!("{what} {hit} stopped/{missed} not reached"))
                .collect();
            let _ = writeln!(out, "members stopped by: {}", stops.join(", "));
        }
        let _ = writeln!(
            out,
            "HashKV agreed at revision {}: {:#x}",
            self.hash.revision, self.hash.hash
        );
        let _ = writeln!(
            out,
            "auth: {} changes acknowledged; every member agreed: {}",
            self.auth.0, self.auth.1
        );
        let _ = writeln!(
            out,
            "watch: {} clients received {} changes",
            spec.watchers, self.watched
        );
        let _ = writeln!(
            out,
            "leases: {} registered, {} renewals confirmed",
            self.leases.0, self.leases.1
        );
        let _ = writeln!(
            out,
            "violations: {} linearizability, {} invariants, {} watch, {} lease",
            self.violations.len(),
            self.broken.len(),
            self.watch_broken.len(),
            self.lease_broken.len()
        );
        for broken in &self.lease_broken {
            let _ = writeln!(
                out,
                "lease promise broken on {}: {}",
                String::from_utf8_lossy(&broken.key),
                broken.what
            );
        }
        for broken in &self.watch_broken {
            match broken.client {
                Some(client) => {
                    let _ = writeln!(
                        out,
                        "watch guarantee broken (watch client {client}): {}",
                        broken.what
                    );
                }
                None => {
                    let _ = writeln!(out, "watch history broken: {}", broken.what);
                }
            }
        }
        for key in &self.inconclusive {
            let _ = writeln!(
                out,
                "undecided (search budget exhausted) on key {}",
                String::from_utf8_lossy(key)
            );
        }
        for violation in &self.violations {
            let _ = writeln!(
                out,
                "not linearizable on key {} (minimal history):",
                String::from_utf8_lossy(&violation.key)
            );
            for record in &violation.history {
                let _ = writeln!(out, "  {record}");
            }
        }
        for broken in &self.broken {
            let _ = writeln!(out, "invariant broken: {}", broken.what);
            for record in &broken.records {
                let _ = writeln!(out, "  {record}");
            }
        }
        out
    }
}

/// Runs `spec` to its verdict. Errors are failures of the run itself (a member that does not
/// come back, members that never agree), not findings of the checker.
pub async fn run(spec: RunSpec) -> Result<RunSummary> {
    let started = Instant::now();
    anyhow::ensure!(
        !(spec.faults.iter().any(|f| f.needs_network())
            && spec.faults.iter().any(|f| f.needs_proxies())),
        "partitions (namespaces) and link faults (proxies on loopback) cannot share a run"
    );
    let schedule = faults::schedule(spec.seed, spec.duration, &spec.faults, spec.members);
    eprintln!(
        "robustness: {} x{}, seed {} (replay with OXT_SEED={}), {} faults scheduled:",
        spec.server,
        spec.members,
        spec.seed,
        spec.seed,
        schedule.len()
    );
    for fault in &schedule {
        eprintln!("  {fault}");
    }
    let needs_network = schedule.iter().any(|f| f.kind.needs_network());
    let needs_proxies = schedule.iter().any(|f| f.kind.needs_proxies());
    let lab = if needs_network {
        Some(NetnsLab::create(spec.members)?)
    } else {
        None
    };
    let mut cluster_spec =
        ClusterSpec::new(spec.server, spec.members).token(&format!("robustness-{}", spec.seed));
    if let Some(lab) = &lab {
        cluster_spec = cluster_spec.placement(Placement::Hosts(lab.hosts().to_vec()));
    }
    cluster_spec = cluster_spec.args(spec.server_args.iter().cloned());
    if schedule.iter().any(|f| f.kind.needs_small_disks()) {
        cluster_spec = cluster_spec.small_disks(SMALL_DISK_BYTES);
    }
    if needs_proxies {
        cluster_spec = cluster_spec.with_peer_proxies();
    }
    let mut cluster = Cluster::start(cluster_spec).await?;

    let workload_spec = WorkloadSpec {
        clients: spec.clients,
        keys: spec.keys,
        endpoints: cluster.endpoints(),
        seed: spec.seed,
        serializable_reads: spec.reads == ReadPolicy::IncludeSerializable,
        request_timeout: Duration::from_secs(3),
        think_time: Duration::from_millis(2),
    };
    let (prefix, prefix_end) = (b"robust/".as_slice(), b"robust0".as_slice());
    let watchers = Watchers::start(spec.watchers, &cluster.endpoints(), prefix, prefix_end);
    let epoch = Instant::now();
    let workload = Workload::start(&workload_spec, epoch);
    let lease_clients =
        LeaseClients::start(spec.lease_clients, &cluster.endpoints(), spec.seed, epoch);
    let auth_churn = AuthChurn::start(&cluster.endpoints(), spec.seed);
    let mut injected = BTreeMap::new();
    let mut stops: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let mut fault_error = None;
    for fault in &schedule {
        tokio::time::sleep(fault.after).await;
        match faults::inject(&mut cluster, lab.as_ref(), fault).await {
            Ok(Outcome::Injected) => {}
            Ok(Outcome::Stopped(what)) => stops.entry(what).or_default().0 += 1,
            Ok(Outcome::NotReached(what)) => stops.entry(what).or_default().1 += 1,
            Err(error) => {
                fault_error = Some(error.context(format!("injecting {fault}")));
                break;
            }
        }
        *injected.entry(fault.kind).or_insert(0) += 1;
    }
    let remaining = spec.duration.saturating_sub(epoch.elapsed());
    if fault_error.is_none() {
        tokio::time::sleep(remaining).await;
    }
    let mut records = workload.stop().await;
    if let Some(lab) = &lab {
        lab.heal()?;
    }
    let lease_logs = lease_clients.stop().await;
    let auth_changes = auth_churn.stop().await;
    let logs = watchers.stop(WATCH_CATCH_UP).await;
    if let Some(error) = fault_error {
        return Err(error);
    }

    records.extend(final_reads(&cluster, &workload_spec, epoch).await?);
    let revision = records
        .iter()
        .filter_map(|r| match &r.completion {
            Completion::Ok(outcome) => Some(outcome.revision()),
            _ => None,
        })
        .max()
        .unwrap_or(1);
    let hash = convergence::hashkv_agree(&cluster, revision, Duration::from_secs(60)).await?;
    let auth = auth_agree(&cluster, Duration::from_secs(60)).await?;
    let reference = read_history(&cluster.endpoint(0), prefix, prefix_end).await?;
    let watch_broken = watch_checker::check(&logs, &reference, &records);
    let watched = logs
        .iter()
        .flat_map(|l| &l.entries)
        .map(|e| match e {
            WatchEntry::Events { changes, .. } => changes.len(),
            _ => 0,
        })
        .sum();
    let remaining = leased_keys_left(&cluster).await?;
    let lease_broken = leases::check(&lease_logs, &remaining);
    let leases = (
        lease_logs.len(),
        lease_logs.iter().map(|l| l.renewals.len()).sum(),
    );
    let report = checker::check(&records, spec.reads);
    let broken = invariants::check(&records);
    let count = |f: fn(&Completion) -> bool| records.iter().filter(|r| f(&r.completion)).count();
    let requests = (
        count(|c| matches!(c, Completion::Ok(_))),
        count(|c| matches!(c, Completion::Failed(_))),
        count(|c| matches!(c, Completion::Indeterminate(_))),
    );
    Ok(RunSummary {
        spec,
        schedule,
        injected,
        stops,
        requests,
        checked: report.operations_checked,
        keys: report.keys,
        violations: report.violations,
        inconclusive: report.inconclusive,
        broken,
        watched,
        watch_broken,
        leases,
        lease_broken,
        hash,
        auth: (auth_changes, auth),
        elapsed: started.elapsed(),
    })
}

/// The lease clients' keys still there once every lease had time to expire: the keep-alives
/// stopped and the faults were healed at least [`WATCH_CATCH_UP`] ago; a few more TTLs are
/// allowed for a leader change on the way.
async fn leased_keys_left(cluster: &Cluster) -> Result<Vec<Vec<u8>>> {
    let expired = crate::wait::until_ok(
        "the let-go leases to expire",
        Duration::from_secs(4 * leases::TTL as u64),
        || async {
            let keys = lease_keys(cluster).await?;
            anyhow::ensure!(keys.is_empty(), "{} lease keys left", keys.len());
            Ok(())
        },
    )
    .await;
    match expired {
        Ok(()) => Ok(Vec::new()),
        Err(_) => lease_keys(cluster)
            .await
            .map_err(|e| e.context("reading the lease keys")),
    }
}

/// The lease clients' keys present now (a linearizable read on the first member).
async fn lease_keys(cluster: &Cluster) -> Result<Vec<Vec<u8>>> {
    let mut end = leases::PREFIX.to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    let mut clients =
        crate::grpc::connect_with_timeout(&cluster.endpoint(0), Duration::from_secs(3)).await?;
    let response = clients
        .kv
        .range(oxcd_api::etcdserverpb::RangeRequest {
            key: leases::PREFIX.to_vec(),
            range_end: end,
            keys_only: true,
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(response.kvs.into_iter().map(|kv| kv.key).collect())
}

/// Reads every key linearizably once the faults are healed, retrying each until it is
/// answered: these reads close the history, so a lost acknowledged write shows up as a
/// violation.
async fn final_reads(
    cluster: &Cluster,
    spec: &WorkloadSpec,
    epoch: Instant,
) -> Result<Vec<Record>> {
    let reader = spec.clients;
    let mut records = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for k in 0..spec.keys {
        let op = Op::Get {
            key: key_name(k),
            serializable: false,
        };
        loop {
            let single = WorkloadSpec {
                endpoints: vec![cluster.endpoint(k % cluster.size())],
                ..spec.clone()
            };
            let record = super::workload::send_once(reader, &single, &op, epoch).await;
            if matches!(record.completion, Completion::Ok(_)) {
                records.push(record);
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the final read of {} never succeeded: {record}",
                String::from_utf8_lossy(&key_name(k))
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(records)
}
