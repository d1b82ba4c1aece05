//! Disaster recovery from one surviving member with `--force-new-cluster`: a three-member
//! oxcd cluster loses two members for good; the survivor, restarted with the flag, forms a
//! cluster of its own with every key and revision, serves writes, stays alone after a normal
//! restart, and grows again with `member add`; the lost members' data dirs never rejoin.

use std::time::Duration;

use oxcd_api::etcdserverpb::{PutRequest, RangeRequest};
use oxcd_tests::grpc::connect;
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, Server};

/// Bound on a removed member's process ending by itself.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

async fn keys_and_revision(endpoint: &str, serializable: bool) -> (i64, i64) {
    let mut client = connect(endpoint).await.unwrap();
    let answer = client
        .kv
        .range(RangeRequest {
            key: b"k".to_vec(),
            range_end: b"l".to_vec(),
            count_only: true,
            serializable,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    (answer.count, answer.header.unwrap().revision)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survivor_forced_into_a_new_cluster_keeps_the_data_and_grows_again() {
    let mut cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 3))
        .await
        .expect("cluster starts");
    let mut client = connect(&cluster.endpoint(0)).await.unwrap();
    for i in 0..50 {
        client
            .kv
            .put(PutRequest {
                key: format!("k{i:02}").into_bytes(),
                value: b"v".to_vec(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let before = keys_and_revision(&cluster.endpoint(0), false).await;

    // Two members are lost; the survivor has no quorum.
    cluster.kill9(1).unwrap();
    cluster.kill9(2).unwrap();
    cluster.stop(0).unwrap();
    let normal = cluster.member(0).args().to_vec();
    let mut forced = normal.clone();
    forced.push("--force-new-cluster".to_string());
    cluster.set_args(0, forced);
    cluster.restart(0).await.expect("the survivor starts alone");

    let after = keys_and_revision(&cluster.endpoint(0), false).await;
    assert_eq!(after.0, before.0, "every key survives");
    assert!(after.1 >= before.1, "revisions never go back");
    let mut client = connect(&cluster.endpoint(0)).await.unwrap();
    let members = client.members().await.unwrap();
    assert_eq!(members.len(), 1, "{members:?}");
    client
        .kv
        .put(PutRequest {
            key: b"k-after".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        })
        .await
        .expect("the new cluster takes writes");

    // A normal restart keeps it a cluster of one.
    cluster.stop(0).unwrap();
    cluster.set_args(0, normal);
    cluster.restart(0).await.expect("restarts without the flag");
    assert_eq!(
        keys_and_revision(&cluster.endpoint(0), false).await.0,
        before.0 + 1
    );

    // It grows again: the lost member's host comes back as a new member.
    let via = Etcdctl::new([cluster.endpoint(0)]);
    let name = cluster.member(1).name().to_string();
    let peer = cluster.member(1).config().peer_url();
    let (_, initial) = via
        .run(&["member", "add", &name, "--peer-urls", &peer])
        .await
        .unwrap()
        .success()
        .unwrap()
        .added_member()
        .expect("member add prints the initial cluster");
    cluster.join(1, &initial).await.expect("a new member joins");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while keys_and_revision(&cluster.endpoint(1), true).await.0 != before.0 + 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new member never caught up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The third member's old data dir belongs to a member the new cluster removed.
    cluster.start_with_env(2, &[]).unwrap();
    let code = cluster.wait_exit(2, EXIT_TIMEOUT).await.unwrap();
    assert_eq!(code, Some(0), "a removed member stops by itself");
}
