//! How a committed conf change reaches raft: the apply side hands it over with
//! `RaftHandle::apply_conf_change`, which never waits (the harness calls it from an async
//! task, where any blocking wait on the ready loop would panic), and raft applies it before
//! any later applied index — so the membership shows in `conf_state`, and a snapshot taken
//! after it records it.

mod common;

use std::time::Duration;

use common::{Cluster, wait_until};
use oxcd_raft::{CommittedEntry, ConfStateSummary, EntryKind, MemberChange, RaftError};

async fn propose_change(cluster: &Cluster, id: u64, change: MemberChange) {
    for _ in 0..200 {
        match cluster
            .handle(id)
            .propose_conf_change(Vec::new(), change)
            .await
        {
            Ok(()) => return,
            Err(RaftError::NoLeader | RaftError::ProposalDropped) => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("conf change failed: {e}"),
        }
    }
    panic!("conf change never accepted");
}

async fn propose_values(cluster: &Cluster, id: u64, n: usize) {
    for k in 0..n {
        common::propose(&cluster.handle(id), format!("v{k}").into_bytes())
            .await
            .expect("propose");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conf_change_is_applied_by_raft_and_recorded_in_the_next_snapshot() {
    // Snapshots every 5 entries, and the log compacted right up to them.
    let mut cluster = Cluster::start(1, 5, 0).await;
    cluster.wait_for_leader(&[1]).await;
    assert_eq!(cluster.handle(1).conf_state().voters, vec![1]);

    // A learner does not count for the quorum, so member 1 goes on committing alone.
    propose_change(&cluster, 1, MemberChange::AddLearner(2)).await;
    let expected = ConfStateSummary {
        voters: vec![1],
        learners: vec![2],
        ..Default::default()
    };
    wait_until("raft to apply the conf change", || {
        cluster.handle(1).conf_state() == expected
    })
    .await;
    let conf_index = cluster.handle(1).status().commit;

    propose_values(&cluster, 1, 20).await;
    cluster.wait_applied_count(&[1], 20).await;
    wait_until("a snapshot past the conf change", || {
        cluster.node(1).wal_segments_snapshot_index() > conf_index
    })
    .await;

    // The WAL now starts after the conf change: only the snapshot knows the learner.
    cluster.restart(1, false).await;
    assert_eq!(cluster.handle(1).conf_state(), expected);
    cluster.wait_for_leader(&[1]).await;
    propose_values(&cluster, 1, 1).await;
    cluster.wait_applied_count(&[1], 21).await;
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conf_change_raft_cannot_apply_ends_the_node_and_a_stopped_node_refuses_one() {
    let mut cluster = Cluster::start(1, 1_000_000, 5_000).await;
    cluster.wait_for_leader(&[1]).await;
    let handle = cluster.handle(1);
    let garbage = CommittedEntry {
        index: handle.status().commit + 1_000,
        term: handle.status().term,
        kind: EntryKind::ConfChangeV2,
        // Field 1 with wire type 7, which protobuf does not have.
        data: vec![0x0f],
    };
    handle
        .apply_conf_change(&garbage)
        .expect("handed over while the node runs");
    let failure = tokio::time::timeout(Duration::from_secs(10), handle.failed())
        .await
        .expect("the node fails on a conf change it cannot apply");
    assert!(
        matches!(*failure, RaftError::InvalidConfig(_)),
        "unexpected failure: {failure}"
    );
    cluster.stop_all().await;
    assert!(matches!(
        handle.apply_conf_change(&garbage),
        Err(RaftError::Stopped)
    ));
}
