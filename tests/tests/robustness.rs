//! The reliability harness in the default suite: short seeded runs of concurrent clients
//! against real clusters while members are killed, paused, partitioned and restarted, each
//! checked for linearizability, revision invariants and agreeing `HashKV` (also while members
//! are removed and added again, and over slow,
//! lossy and blackholed peer links, through fault-injecting proxies); and the proof that
//! the checker finds real violations, from stale serializable reads of an isolated member
//! counted as linearizable. Longer runs: `oxrobust` (see README).

use std::time::{Duration, Instant};

use oxcd_testkit::rng::seed_from_env;
use oxcd_tests::robustness::checker::{self, ReadPolicy};
use oxcd_tests::robustness::faults::FaultKind;
use oxcd_tests::robustness::history::{Completion, Op};
use oxcd_tests::robustness::runner::{self, RunSpec};
use oxcd_tests::robustness::workload::{WorkloadSpec, send_once};
use oxcd_tests::{Cluster, ClusterSpec, NetnsLab, Placement, Server};

/// The seed when `OXT_SEED` is unset.
const DEFAULT_SEED: u64 = 0x5eed_0ffa;

async fn short_run(members: usize, duration: Duration, faults: &[FaultKind]) {
    let server = Server::from_env().unwrap();
    let seed = seed_from_env(DEFAULT_SEED).unwrap();
    let mut spec = RunSpec::new(server, members, duration, seed);
    spec.faults = faults.to_vec();
    let summary = runner::run(spec).await.unwrap();
    eprintln!("{}", summary.render());
    assert!(summary.passed(), "{}", summary.render());
    assert!(
        summary.injected.values().sum::<usize>() >= 3,
        "too few faults were injected: {}",
        summary.render()
    );
    assert!(summary.checked > 500, "too few operations were checked");
    assert!(
        summary.watched > 500,
        "the watch clients received too few changes: {}",
        summary.render()
    );
    assert!(
        summary.leases.1 > 5,
        "the lease clients confirmed too few renewals: {}",
        summary.render()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_members_stay_linearizable_under_kills_pauses_and_partitions() {
    short_run(
        3,
        Duration::from_secs(60),
        &[
            FaultKind::Kill,
            FaultKind::Pause,
            FaultKind::IsolateLeader,
            FaultKind::SplitMinority,
            FaultKind::RollingRestart,
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_members_stay_linearizable_while_members_are_replaced() {
    short_run(
        3,
        Duration::from_secs(40),
        &[
            FaultKind::Replace,
            FaultKind::ReplaceWithLearner,
            FaultKind::Kill,
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_members_stay_linearizable_with_a_bridge_and_split_minorities() {
    short_run(
        5,
        Duration::from_secs(40),
        &[FaultKind::Bridge, FaultKind::SplitMinority, FaultKind::Kill],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_members_stay_linearizable_over_slow_lossy_and_blackholed_links() {
    short_run(
        3,
        Duration::from_secs(40),
        &[
            FaultKind::SlowPeers,
            FaultKind::LossyPeers,
            FaultKind::BlackholePeer,
            FaultKind::Kill,
        ],
    )
    .await;
}

/// Members crash at oxcd's named crash points (WAL write and release, message sends, snapshot
/// save and install, the apply commit) and run out of disk space, then restart; with snapshots
/// every 300 entries, the snapshot points are reached too. Nothing acknowledged may be lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_members_stay_linearizable_when_crashing_at_crash_points_and_on_full_disks() {
    let seed = seed_from_env(DEFAULT_SEED).unwrap();
    let mut spec = RunSpec::new(Server::Oxcd, 3, Duration::from_secs(60), seed);
    spec.faults = vec![FaultKind::CrashPoint, FaultKind::DiskFull, FaultKind::Kill];
    spec.server_args = vec!["--snapshot-count".into(), "300".into()];
    let summary = runner::run(spec).await.unwrap();
    eprintln!("{}", summary.render());
    assert!(summary.passed(), "{}", summary.render());
    let hit: usize = summary.stops.values().map(|(hit, _)| hit).sum();
    assert!(hit >= 3, "too few members stopped: {}", summary.render());
    assert!(summary.checked > 500, "too few operations were checked");
}

/// The unsafe mode: serializable reads from a member cut off from the others are stale once
/// the majority moves on. Counted as linearizable, the checker must flag them; counted as
/// what etcd promises (not linearizable), the same history passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_catches_stale_reads_counted_as_linearizable() {
    let server = Server::from_env().unwrap();
    let lab = NetnsLab::create(3).unwrap();
    let cluster = Cluster::start(
        ClusterSpec::new(server, 3).placement(Placement::Hosts(lab.hosts().to_vec())),
    )
    .await
    .unwrap();
    let leader = cluster.leader(Duration::from_secs(10)).await.unwrap();
    let isolated = (leader + 1) % 3;
    let majority = (leader + 2) % 3;
    let spec = |member: usize| WorkloadSpec {
        clients: 1,
        keys: 1,
        endpoints: vec![cluster.endpoint(member)],
        seed: 0,
        serializable_reads: true,
        request_timeout: Duration::from_secs(5),
        think_time: Duration::ZERO,
    };
    let key = b"robust/0".to_vec();
    let put = |value: &str| Op::Put {
        key: key.clone(),
        value: value.as_bytes().to_vec(),
    };
    let stale_read = Op::Get {
        key: key.clone(),
        serializable: true,
    };
    let epoch = Instant::now();
    let mut history = vec![send_once(0, &spec(leader), &put("before"), epoch).await];
    // Let the isolated member apply the first write, so its stale read has a value.
    oxcd_tests::wait::until_ok(
        "the first write to reach every member",
        Duration::from_secs(10),
        || {
            let spec = spec(isolated);
            let stale_read = stale_read.clone();
            async move {
                let record = send_once(1, &spec, &stale_read, epoch).await;
                match &record.completion {
                    Completion::Ok(outcome) if outcome.revision() >= 2 => Ok(()),
                    _ => anyhow::bail!("not yet: {record}"),
                }
            }
        },
    )
    .await
    .unwrap();
    lab.isolate(isolated).unwrap();
    history.push(send_once(0, &spec(majority), &put("after"), epoch).await);
    history.push(send_once(1, &spec(isolated), &stale_read, epoch).await);
    lab.heal().unwrap();
    for record in &history {
        eprintln!("{record}");
        assert!(matches!(record.completion, Completion::Ok(_)), "{record}");
    }

    let unsafe_report = checker::check(&history, ReadPolicy::IncludeSerializable);
    assert_eq!(
        unsafe_report.violations.len(),
        1,
        "the stale read must be reported"
    );
    let minimal = &unsafe_report.violations[0].history;
    assert!(
        minimal.iter().any(|r| matches!(
            r.op,
            Op::Get {
                serializable: true,
                ..
            }
        )),
        "the minimal history names the stale read: {minimal:#?}"
    );
    let safe_report = checker::check(&history, ReadPolicy::LinearizableOnly);
    assert!(safe_report.violations.is_empty());
}
