//! Network partition of a three-member cluster, each member on its own host (namespace): the
//! leader is cut off from its peers (clients still reach every member). The majority must
//! elect a new leader and keep accepting writes, the isolated member must neither serve a
//! linearizable read nor make a write take effect, and after healing all members must agree.

use std::time::{Duration, Instant};

use oxcd_api::etcdserverpb::{PutRequest, RangeRequest};
use oxcd_tests::convergence::{current_revision, hashkv_agree};
use oxcd_tests::{Cluster, ClusterSpec, NetnsLab, Placement, Server, grpc};

/// Bound on a request to a member that may have no quorum.
const MINORITY_TIMEOUT: Duration = Duration::from_secs(3);

async fn put(endpoint: &str, key: &str, value: &str) -> anyhow::Result<()> {
    let mut clients = grpc::connect_with_timeout(endpoint, MINORITY_TIMEOUT).await?;
    clients
        .kv
        .put(PutRequest {
            key: key.into(),
            value: value.into(),
            ..PutRequest::default()
        })
        .await?;
    Ok(())
}

async fn get(endpoint: &str, key: &str, serializable: bool) -> anyhow::Result<Option<Vec<u8>>> {
    let mut clients = grpc::connect_with_timeout(endpoint, MINORITY_TIMEOUT).await?;
    let response = clients
        .kv
        .range(RangeRequest {
            key: key.into(),
            serializable,
            ..RangeRequest::default()
        })
        .await?
        .into_inner();
    Ok(response.kvs.into_iter().next().map(|kv| kv.value))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_leader_loses_its_role_and_rejoins_consistently() {
    let lab = NetnsLab::create(3).unwrap();
    let spec = ClusterSpec::new(Server::from_env().unwrap(), 3)
        .placement(Placement::Hosts(lab.hosts().to_vec()))
        .args(["--heartbeat-interval", "100", "--election-timeout", "1000"]);
    let cluster = Cluster::start(spec).await.unwrap();
    let leader = cluster.leader(Duration::from_secs(30)).await.unwrap();
    let endpoints = cluster.endpoints();
    put(&endpoints[leader], "before", "1").await.unwrap();

    lab.isolate(leader).unwrap();
    let cut = Instant::now();
    let majority: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let mut attempts = 0;
    loop {
        let endpoint = &endpoints[majority[attempts % 2]];
        match put(endpoint, "during", "majority").await {
            Ok(()) => break,
            Err(error) => assert!(
                cut.elapsed() < Duration::from_secs(60),
                "the majority never accepted a write: {error:#}"
            ),
        }
        attempts += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "the majority accepted writes {:?} after the cut",
        cut.elapsed()
    );

    assert!(
        get(&endpoints[leader], "during", false).await.is_err(),
        "the isolated member served a linearizable read"
    );
    assert!(
        put(&endpoints[leader], "minority", "lost").await.is_err(),
        "the isolated member acknowledged a write"
    );
    assert_eq!(
        get(&endpoints[leader], "during", true).await.unwrap(),
        None,
        "the isolated member cannot know the majority's write"
    );

    lab.heal().unwrap();
    let revision = current_revision(&cluster, majority[0]).await.unwrap();
    hashkv_agree(&cluster, revision, Duration::from_secs(60))
        .await
        .unwrap();
    for endpoint in &endpoints {
        assert_eq!(
            get(endpoint, "during", false).await.unwrap().as_deref(),
            Some(&b"majority"[..])
        );
        assert_eq!(
            get(endpoint, "minority", false).await.unwrap(),
            None,
            "a write without quorum took effect"
        );
    }
    let new_leader = cluster.leader(Duration::from_secs(30)).await.unwrap();
    eprintln!(
        "leader m{} -> m{} across the partition",
        leader + 1,
        new_leader + 1
    );
}
