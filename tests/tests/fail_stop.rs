//! Fail stop on real oxcd processes: a member whose WAL write fails, or whose apply thread
//! panics, ends its process with a fatal line naming the cause (instead of serving frozen
//! data or voting without applying), and once restarted it has every acknowledged write.
//! The failures are injected at oxcd's named crash points, armed over HTTP on the member.

use std::time::Duration;

use oxcd_api::etcdserverpb::{PutRequest, RangeRequest};
use oxcd_tests::{Cluster, ClusterSpec, Server, crash_points, grpc};

/// How long a member may take to notice the failure and exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

async fn put_keys(cluster: &Cluster, prefix: &str, count: usize) {
    let mut clients = cluster.client(0).await.unwrap();
    for n in 0..count {
        clients
            .kv
            .put(PutRequest {
                key: format!("{prefix}/{n}").into_bytes(),
                value: format!("value-{n}").into_bytes(),
                ..PutRequest::default()
            })
            .await
            .unwrap();
    }
}

async fn count_keys(cluster: &Cluster, prefix: &str) -> i64 {
    let mut clients = cluster.client(0).await.unwrap();
    let mut end = format!("{prefix}/").into_bytes();
    *end.last_mut().unwrap() += 1;
    clients
        .kv
        .range(RangeRequest {
            key: format!("{prefix}/").into_bytes(),
            range_end: end,
            count_only: true,
            ..RangeRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .count
}

/// Arms `point` with `action` on the only member, sends one more write (which cannot be
/// acknowledged), and returns the member's exit code and its fatal line.
async fn crash_single_member(cluster: &mut Cluster, point: &str, action: &str) -> (i32, String) {
    crash_points::arm(&cluster.member(0).client_url(), point, action)
        .await
        .unwrap();
    let endpoint = cluster.endpoint(0);
    let doomed = tokio::spawn(async move {
        let mut clients = grpc::connect_with_timeout(&endpoint, Duration::from_secs(3)).await?;
        clients
            .kv
            .put(PutRequest {
                key: b"doomed".to_vec(),
                value: b"never acknowledged".to_vec(),
                ..PutRequest::default()
            })
            .await?;
        anyhow::Ok(())
    });
    let exited = cluster.wait_fatal_exit(0, EXIT_TIMEOUT).await;
    let _ = doomed.await;
    let (code, fatal) = exited.unwrap_or_else(|e| panic!("{e:#}"));
    (
        code.unwrap_or_else(|| panic!("killed by a signal: {fatal}")),
        fatal,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_wal_write_stops_the_member_and_a_restart_recovers() {
    let mut cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 1))
        .await
        .unwrap();
    put_keys(&cluster, "acked", 20).await;

    let (code, fatal) = crash_single_member(&mut cluster, "raftBeforeSave", "return").await;
    assert_eq!(code, 1, "{fatal}");
    assert!(
        fatal.contains("raft stopped on an unrecoverable error")
            && fatal.contains("injected I/O error"),
        "{fatal}"
    );

    cluster.restart(0).await.unwrap();
    assert_eq!(count_keys(&cluster, "acked").await, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_apply_thread_stops_the_member_and_a_restart_recovers() {
    let mut cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 1))
        .await
        .unwrap();
    put_keys(&cluster, "acked", 20).await;

    let (code, fatal) = crash_single_member(&mut cluster, "beforeCommit", "panic").await;
    assert_eq!(code, 2, "a panic exits as Go's does: {fatal}");
    assert!(
        fatal.contains("panic; stopping the member") && fatal.contains(r#""thread":"apply""#),
        "{fatal}"
    );

    cluster.restart(0).await.unwrap();
    assert_eq!(count_keys(&cluster, "acked").await, 20);
    // The write the crash interrupted was durable in the WAL before the apply thread saw it:
    // the restarted member replays it.
    let mut clients = cluster.client(0).await.unwrap();
    let doomed = clients
        .kv
        .range(RangeRequest {
            key: b"doomed".to_vec(),
            ..RangeRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(doomed.count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_point_actions_the_fail_crate_does_not_know_are_refused() {
    let cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 1))
        .await
        .unwrap();
    let url = cluster.member(0).client_url();
    let refused = crash_points::arm(&url, "raftBeforeSave", "explode").await;
    assert!(refused.is_err(), "an unknown action must be refused");
    crash_points::arm(&url, "raftBeforeSave", "off")
        .await
        .unwrap();
    crash_points::disarm(&url, "raftBeforeSave").await.unwrap();
}
