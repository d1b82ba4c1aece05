//! Multi-node behaviour in one process: three RaftNodes on loopback listeners with an
//! in-memory state machine that records what it applied.

mod common;

use std::time::Duration;

use common::{Cluster, wait_until};
use oxcd_raft::{MemberChange, RaftError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_read_fail_over_and_recover_from_the_wal() {
    let mut cluster = Cluster::start(3, 1_000_000, 5_000).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;

    // 1,000 proposals, spread over every member (followers forward to the leader).
    let mut tasks = Vec::new();
    for (n, id) in [1u64, 2, 3].into_iter().enumerate() {
        let handle = cluster.handle(id);
        tasks.push(tokio::spawn(async move {
            for i in 0..334 {
                let k = n * 334 + i;
                if k >= 1000 {
                    break;
                }
                propose_retrying(&handle, format!("v{k}").into_bytes()).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("proposer");
    }
    cluster.wait_applied_count(&[1, 2, 3], 1000).await;
    cluster.assert_same_sequence(&[1, 2, 3]);
    let values = cluster.node(1).sm.values();
    let mut sorted = values.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 1000, "every proposal applied exactly once");

    // A read barrier covers everything committed before it was requested.
    for id in [1u64, 2, 3] {
        let committed = cluster.handle(leader).status().commit;
        let index = cluster.handle(id).read_index().await.expect("read index");
        assert!(
            index >= committed,
            "read index {index} < committed {committed}"
        );
    }
    // Concurrent readers share rounds and all get an answer.
    let readers: Vec<_> = (0..50)
        .map(|i| {
            let h = cluster.handle([1u64, 2, 3][i % 3]);
            tokio::spawn(async move { h.read_index().await })
        })
        .collect();
    for r in readers {
        r.await.expect("reader").expect("read index");
    }

    // Losing the leader: the others elect a new one and keep committing.
    cluster.stop(leader).await;
    let survivors: Vec<u64> = [1u64, 2, 3]
        .into_iter()
        .filter(|&id| id != leader)
        .collect();
    let new_leader = cluster.wait_for_leader(&survivors).await;
    assert_ne!(new_leader, leader);
    for k in 1000..1100 {
        propose_retrying(
            &cluster.handle(survivors[k % 2]),
            format!("v{k}").into_bytes(),
        )
        .await;
    }
    cluster.wait_applied_count(&survivors, 1100).await;

    // The old leader restarts from its WAL with an empty state machine, replays its log and
    // catches up with what it missed.
    cluster.restart(leader, true).await;
    cluster.wait_applied_count(&[1, 2, 3], 1100).await;
    cluster.assert_same_sequence(&[1, 2, 3]);
    propose_retrying(&cluster.handle(leader), b"after-restart".to_vec()).await;
    cluster.wait_applied_count(&[1, 2, 3], 1101).await;
    cluster.assert_same_sequence(&[1, 2, 3]);
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_missed_compacted_entries_catches_up_from_a_snapshot() {
    let mut cluster = Cluster::start(3, 40, 10).await;
    cluster.wait_for_leader(&[1, 2, 3]).await;
    for k in 0..20 {
        propose_retrying(&cluster.handle(1), format!("a{k}").into_bytes()).await;
    }
    cluster.wait_applied_count(&[1, 2, 3], 20).await;

    let lagging = 3;
    cluster.stop(lagging).await;
    cluster.wait_for_leader(&[1, 2]).await;
    for k in 0..300 {
        propose_retrying(&cluster.handle(1 + (k % 2)), format!("b{k}").into_bytes()).await;
    }
    cluster.wait_applied_count(&[1, 2], 320).await;
    // The survivors compacted their logs well past what the lagging member has.
    wait_until("survivors to compact", || {
        [1u64, 2]
            .iter()
            .all(|&id| cluster.node(id).wal_segments_snapshot_index() > 100)
    })
    .await;

    cluster.restart(lagging, false).await;
    cluster.wait_applied_count(&[1, 2, 3], 320).await;
    assert!(
        cluster.node(lagging).sm.snapshots_installed() >= 1,
        "the lagging member must have been sent a snapshot"
    );
    cluster.assert_same_sequence(&[1, 2, 3]);

    // And it keeps up afterwards, through ordinary replication.
    for k in 0..10 {
        propose_retrying(&cluster.handle(lagging), format!("c{k}").into_bytes()).await;
    }
    cluster.wait_applied_count(&[1, 2, 3], 330).await;
    cluster.assert_same_sequence(&[1, 2, 3]);

    // A restart after installing the snapshot replays from the snapshot, not from scratch.
    cluster.restart(lagging, false).await;
    propose_retrying(&cluster.handle(1), b"final".to_vec()).await;
    cluster.wait_applied_count(&[1, 2, 3], 331).await;
    cluster.assert_same_sequence(&[1, 2, 3]);

    // If the state machine lost what it applied (it is behind the snapshot), the received
    // database is handed to it again before any entry.
    cluster.restart(lagging, true).await;
    cluster.wait_applied_count(&[lagging], 331).await;
    assert_eq!(cluster.node(lagging).sm.snapshots_installed(), 1);
    cluster.assert_same_sequence(&[1, 2, 3]);
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_member_cluster_commits_reads_and_restarts() {
    let mut cluster = Cluster::start(1, 1_000_000, 5_000).await;
    assert_eq!(cluster.wait_for_leader(&[1]).await, 1);
    for k in 0..100 {
        propose_retrying(&cluster.handle(1), format!("s{k}").into_bytes()).await;
    }
    cluster.wait_applied_count(&[1], 100).await;
    let committed = cluster.handle(1).status().commit;
    assert!(cluster.handle(1).read_index().await.expect("read index") >= committed);
    cluster.restart(1, true).await;
    cluster.wait_applied_count(&[1], 100).await;
    propose_retrying(&cluster.handle(1), b"after".to_vec()).await;
    cluster.wait_applied_count(&[1], 101).await;
    let status = cluster.handle(1).status();
    assert_eq!((status.id, status.leader), (1, 1));
    assert!(status.term >= 2, "a restart starts a new term");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_different_clusters_never_form_a_quorum() {
    let mut cluster =
        Cluster::start_with_cluster_ids(&[(1, 0xaaaa), (2, 0xbbbb)], 1_000_000, 5_000).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    for id in [1u64, 2] {
        assert_eq!(
            cluster.handle(id).status().leader,
            0,
            "member {id} must not see a leader"
        );
        assert!(matches!(
            common::propose(&cluster.handle(id), b"x".to_vec()).await,
            Err(RaftError::NoLeader)
        ));
    }
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_peer_port_does_not_disturb_the_member() {
    use tokio::io::AsyncWriteExt;
    let mut cluster = Cluster::start(3, 1_000_000, 5_000).await;
    cluster.wait_for_leader(&[1, 2, 3]).await;
    for id in [1u64, 2, 3] {
        let mut conn = tokio::net::TcpStream::connect(cluster.node(id).addr)
            .await
            .expect("connect");
        let _ = conn
            .write_all(b"GET / HTTP/1.1\r\n\r\n\x00\x01garbage\xff\xfe")
            .await;
        let mut conn = tokio::net::TcpStream::connect(cluster.node(id).addr)
            .await
            .expect("connect");
        let mut junk = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        junk.extend_from_slice(&[0xff; 512]);
        let _ = conn.write_all(&junk).await;
    }
    for k in 0..50 {
        propose_retrying(&cluster.handle(1 + k % 3), format!("g{k}").into_bytes()).await;
    }
    cluster.wait_applied_count(&[1, 2, 3], 50).await;
    cluster.assert_same_sequence(&[1, 2, 3]);
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadership_transfers_on_request() {
    let mut cluster = Cluster::start(3, 1_000_000, 5_000).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    propose_retrying(&cluster.handle(leader), b"x".to_vec()).await;
    cluster.wait_applied_count(&[1, 2, 3], 1).await;
    let target = if leader == 1 { 2 } else { 1 };
    cluster
        .handle(leader)
        .transfer_leader(target, Duration::from_secs(5))
        .await
        .expect("transfer");
    assert_eq!(cluster.handle(leader).status().leader, target);
    wait_until("the target to act as leader", || {
        cluster.handle(target).status().role == oxcd_raft::Role::Leader
    })
    .await;
    // A transfer to the current leader is a no-op.
    cluster
        .handle(target)
        .transfer_leader(target, Duration::from_secs(1))
        .await
        .expect("no-op transfer");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_are_replicated_applied_and_survive_restarts() {
    async fn propose_cc(handle: &oxcd_raft::RaftHandle, change: MemberChange) {
        for _ in 0..200 {
            match handle.propose_conf_change(Vec::new(), change).await {
                Ok(()) => return,
                Err(RaftError::NoLeader | RaftError::ProposalDropped) => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(e) => panic!("conf change failed: {e}"),
            }
        }
        panic!("conf change never accepted");
    }

    let mut cluster = Cluster::start(3, 1_000_000, 5_000).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    for k in 0..10 {
        propose_retrying(&cluster.handle(leader), format!("m{k}").into_bytes()).await;
    }
    // A new member joins as a learner, catches up, and is promoted to voter.
    cluster.add_joining_member(4);
    propose_cc(&cluster.handle(leader), MemberChange::AddLearner(4)).await;
    cluster.wait_applied_count(&[1, 2, 3, 4], 10).await;
    wait_until("member 4 to know it is a learner", || {
        cluster.handle(4).status().is_learner
    })
    .await;
    propose_cc(&cluster.handle(leader), MemberChange::AddVoter(4)).await;
    wait_until("member 4 to become a voter", || {
        !cluster.handle(4).status().is_learner
    })
    .await;
    for k in 10..20 {
        propose_retrying(&cluster.handle(4), format!("m{k}").into_bytes()).await;
    }
    cluster.wait_applied_count(&[1, 2, 3, 4], 20).await;
    cluster.assert_same_sequence(&[1, 2, 3, 4]);

    // Restarted members rebuild the 4-voter membership from their WAL (applied index kept:
    // the conf changes are below it and are replayed by the node itself).
    cluster.restart(1, false).await;
    cluster.restart(3, false).await;
    // With 4 voters, members 1 and 3 alone are not a quorum: nothing may commit.
    cluster.stop(2).await;
    cluster.stop(4).await;
    let before = cluster
        .handle(1)
        .status()
        .commit
        .max(cluster.handle(3).status().commit);
    for id in [1u64, 3] {
        let _ = common::propose(&cluster.handle(id), b"must-not-commit".to_vec()).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for id in [1u64, 3] {
        assert!(
            cluster.handle(id).status().commit <= before,
            "member {id} committed without a quorum of the 4-voter configuration"
        );
        assert_eq!(cluster.node(id).sm.values().len(), 20);
    }
    // Bringing member 4 back restores the quorum.
    cluster.restart(4, false).await;
    cluster.wait_for_leader(&[1, 3, 4]).await;
    propose_retrying(&cluster.handle(1), b"quorum-again".to_vec()).await;
    wait_until("a commit with 3 of 4 voters", || {
        cluster
            .node(1)
            .sm
            .values()
            .iter()
            .any(|v| v == b"quorum-again")
    })
    .await;
    cluster.stop_all().await;
}

async fn propose_retrying(handle: &oxcd_raft::RaftHandle, data: Vec<u8>) {
    for _ in 0..200 {
        match common::propose(handle, data.clone()).await {
            Ok(()) => return,
            Err(RaftError::NoLeader) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("propose failed: {e}"),
        }
    }
    panic!("no leader to propose to");
}

/// A member whose apply loop stalls stops persisting and acknowledging once its backlog of
/// committed entries passes the bound (its apply queue stops growing), while the other two go
/// on committing; once it applies again it catches up with everything, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_apply_loop_holds_raft_back_instead_of_queueing_without_bound() {
    const BACKLOG: u64 = 1024 * 1024;
    const ENTRIES: usize = 80;
    const ENTRY_BYTES: usize = 256 * 1024;
    let cluster = Cluster::start_with_apply_backlog(3, BACKLOG).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let stalled = (1..=3).find(|&id| id != leader).expect("a follower");
    let other = (1..=3)
        .find(|&id| id != leader && id != stalled)
        .expect("another");
    cluster.node(stalled).sm.stall(true);

    let handle = cluster.handle(leader);
    let mut written = Vec::new();
    for round in 0..2 {
        for n in round * ENTRIES..(round + 1) * ENTRIES {
            let mut data = vec![b'x'; ENTRY_BYTES];
            data[..8].copy_from_slice(&(n as u64).to_be_bytes());
            common::propose(&handle, data).await.expect("propose");
        }
        cluster
            .wait_applied_count(&[leader, other], (round + 1) * ENTRIES)
            .await;
        written.push(settled_wal_bytes(&cluster, stalled).await);
    }
    // By the end of the first round the stalled member is past its bound: the second round's
    // 20 MiB never reach its WAL (a few hard-state records may). Without the bound it would
    // write them all once they arrive.
    let second_round = written[1] - written[0];
    assert!(
        second_round < BACKLOG,
        "the stalled member went on writing its WAL: {written:?}"
    );

    cluster.node(stalled).sm.stall(false);
    cluster.wait_applied_count(&[stalled], 2 * ENTRIES).await;
    cluster.assert_same_sequence(&[1, 2, 3]);
}

/// Member `id`'s WAL bytes once they stopped changing for half a second (it wrote what it
/// was going to write of what it received), or after ten seconds.
async fn settled_wal_bytes(cluster: &Cluster, id: u64) -> u64 {
    let read = || cluster.handle(id).metrics().wal_write_bytes();
    let mut last = read();
    let mut unchanged = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = read();
        unchanged = if now == last { unchanged + 1 } else { 0 };
        last = now;
        if unchanged >= 5 {
            break;
        }
    }
    last
}
