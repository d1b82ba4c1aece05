//! A full disk is an ordinary event: a member whose disk fills stops with a fatal line saying
//! so, the other two keep serving, and once space is freed the member restarts, catches up
//! and has every write any member acknowledged. Each member's data directory is its own small
//! tmpfs (root only), filled by the test.

use std::time::Duration;

use oxcd_tests::acked_writers::{AckedWriters, assert_nothing_lost};
use oxcd_tests::wait::{self, Attempt};
use oxcd_tests::{Cluster, ClusterSpec, Server};

/// Each member's disk: room for a WAL segment (64 MiB, preallocated) and a growing backend.
const DISK_BYTES: u64 = 192 * 1024 * 1024;
/// Room left when the disk is filled: a few backend commits' worth.
const LEFT_FREE: u64 = 64 * 1024;
/// Values large enough to use up what is left within seconds.
const VALUE_BYTES: usize = 4 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_whose_disk_fills_stops_and_rejoins_with_nothing_lost() {
    let mut cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 3).small_disks(DISK_BYTES))
        .await
        .unwrap();
    let writers = AckedWriters::start(&cluster.endpoints(), "full", VALUE_BYTES);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let full = 2;
    cluster.disk(full).unwrap().fill(LEFT_FREE).unwrap();
    let (code, fatal) = cluster
        .wait_fatal_exit(full, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(matches!(code, Some(1 | 2)), "exit {code:?}: {fatal}");
    assert!(
        fatal.to_lowercase().contains("no space left on device"),
        "{fatal}"
    );

    // The other two keep a quorum and go on acknowledging writes (after an election, if the
    // member that stopped led).
    let before = writers.acknowledged();
    wait::until(
        "the two members with space to acknowledge writes",
        Duration::from_secs(20),
        || {
            let done = writers.acknowledged() > before + 10;
            async move {
                if done {
                    Attempt::Done(())
                } else {
                    Attempt::Retry("too few writes acknowledged yet".to_owned())
                }
            }
        },
    )
    .await
    .unwrap();

    cluster.disk(full).unwrap().free().unwrap();
    cluster.restart(full).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let acked = writers.stop().await;

    assert_nothing_lost(&cluster, &acked, "full").await;
}
