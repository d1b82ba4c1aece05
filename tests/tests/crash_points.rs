//! Every named crash point, one after another, on a three-member oxcd cluster under steady
//! writes: the member crashes there (a panic, the process ends with status 2), restarts, and
//! in the end every acknowledged write is on every member and their `HashKV` agree. The
//! snapshot-install points are reached by a member that fell too far behind for the log, the
//! compaction points by compacting.
//! (The robustness harness draws the same points at random, with its linearizability checks.)

use std::time::Duration;

use oxcd_api::etcdserverpb::CompactionRequest;
use oxcd_tests::acked_writers::{AckedWriters, assert_nothing_lost};
use oxcd_tests::convergence::current_revision;
use oxcd_tests::{Cluster, ClusterSpec, Server, crash_points};

/// How long a member may take to reach an armed crash point.
const CRASH_TIMEOUT: Duration = Duration::from_secs(30);

fn spec() -> ClusterSpec {
    // Small snapshots, so the snapshot save and WAL release points come every few seconds.
    ClusterSpec::new(Server::Oxcd, 3).args(["--snapshot-count", "100"])
}

/// Waits for member `i` to crash at `point` and checks it did so by the crash point's panic.
async fn expect_crash(cluster: &mut Cluster, i: usize, point: &str) {
    let (code, fatal) = cluster
        .wait_fatal_exit(i, CRASH_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{point}: {e:#}"));
    assert_eq!(code, Some(2), "{point}: a panic's exit status: {fatal}");
    assert!(fatal.contains(point), "{fatal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crashing_at_each_write_path_crash_point_loses_nothing() {
    let mut cluster = Cluster::start(spec()).await.unwrap();
    let writers = AckedWriters::start(&cluster.endpoints(), "crash", 512);
    let points = crash_points::WORKLOAD
        .into_iter()
        .filter(|point| !point.contains("ApplySnap"));
    for (n, point) in points.enumerate() {
        let leader = cluster.leader(Duration::from_secs(10)).await.unwrap();
        let follower = (leader + 1) % cluster.size();
        let target = match point {
            "raftBeforeLeaderSend" => leader,
            "raftBeforeFollowerSend" => follower,
            _ if n % 2 == 0 => leader,
            _ => follower,
        };
        crash_points::arm(&cluster.member(target).client_url(), point, "panic")
            .await
            .unwrap();
        expect_crash(&mut cluster, target, point).await;
        cluster.restart(target).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let acked = writers.stop().await;
    assert!(acked.len() > 100, "too few writes: {}", acked.len());
    assert_nothing_lost(&cluster, &acked, "crash").await;
}

/// Bound on the members compacting their logs under the writers' load.
const COMPACTION_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether a member's log says it compacted its raft log to beyond `index`.
fn compacted_past(log: &str, index: u64) -> bool {
    log.lines()
        .filter(|l| l.contains("compacted raft log"))
        .filter_map(|l| l.split("\"compact-index\":").nth(1))
        .filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .any(|compacted| compacted > index)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_crashing_while_installing_a_snapshot_recovers_on_restart() {
    let mut cluster = Cluster::start(spec()).await.unwrap();
    let behind = 2;
    cluster.stop(behind).unwrap();
    // More than the 5,000 entries kept after a snapshot for slow followers: the member that
    // was away can only catch up from a snapshot.
    let endpoints = [cluster.endpoint(0), cluster.endpoint(1)];
    let writers = AckedWriters::start(&endpoints, "snap", 64);
    // Snapshots are taken at what the backend made durable (every 5 s while writes go on), so
    // the writes go on until both members compacted their logs past what the member that was
    // away holds, however fast they were.
    let deadline = tokio::time::Instant::now() + COMPACTION_TIMEOUT;
    while writers.acknowledged() < 5_600
        || !(0..2).all(|i| compacted_past(&cluster.member(i).log(), 100))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the logs were never compacted past the stopped member"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let acked = writers.stop().await;

    for point in ["raftBeforeApplySnap", "raftAfterApplySnap"] {
        let failpoints = format!("{point}=panic");
        cluster
            .start_with_env(behind, &[("FAILPOINTS", failpoints.as_str())])
            .unwrap();
        expect_crash(&mut cluster, behind, point).await;
    }
    cluster.restart(behind).await.unwrap();
    assert_nothing_lost(&cluster, &acked, "snap").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_in_the_middle_of_a_compaction_resumes_after_the_restart() {
    let mut cluster = Cluster::start(spec()).await.unwrap();
    let writers = AckedWriters::start(&cluster.endpoints(), "compact", 64);
    let crashing = 1;
    for point in crash_points::COMPACTION {
        let enough = writers.acknowledged() + 300;
        while writers.acknowledged() < enough {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let revision = current_revision(&cluster, 0).await.unwrap();
        crash_points::arm(&cluster.member(crashing).client_url(), point, "panic")
            .await
            .unwrap();
        let mut clients = cluster.client(0).await.unwrap();
        clients
            .kv
            .compact(CompactionRequest {
                revision: revision - 50,
                physical: false,
            })
            .await
            .unwrap();
        expect_crash(&mut cluster, crashing, point).await;
        cluster.restart(crashing).await.unwrap();
    }
    let acked = writers.stop().await;
    assert_nothing_lost(&cluster, &acked, "compact").await;
}
