//! oxcd's corruption checks on three members, one of which was made to diverge while it was
//! stopped: a put written straight into its backend, which the rest of the cluster never saw,
//! while the others took more writes. With `--experimental-initial-corrupt-check` it refuses to
//! start, saying it found data inconsistency with its peers; with
//! `--experimental-corrupt-check-time` the leader raises CORRUPT for it and the cluster refuses
//! every change (reads still answer). etcd's bbolt files cannot be doctored the same way, so
//! these run on oxcd only; the alarm's effects are compared with etcd in
//! `alarm_differential.rs`.

use std::sync::Arc;
use std::time::Duration;

use oxcd_api::etcdserverpb::alarm_request::AlarmAction;
use oxcd_api::etcdserverpb::{AlarmRequest, AlarmType, PutRequest, RangeRequest};
use oxcd_mvcc::{Backend, KvStore};
use oxcd_tests::data_dir::backend_path;
use oxcd_tests::grpc::connect;
use oxcd_tests::{Cluster, ClusterSpec, Server};

fn put(key: &str) -> PutRequest {
    PutRequest {
        key: key.as_bytes().to_vec(),
        value: b"v".to_vec(),
        ..Default::default()
    }
}

/// Stops a follower, writes a put only it will have into its backend, and lets the others take
/// five more writes. Returns the follower's index and member id.
async fn diverge(cluster: &mut Cluster) -> (usize, u64) {
    let leader = cluster.leader(Duration::from_secs(10)).await.unwrap();
    let i = (leader + 1) % cluster.size();
    let mut c = connect(&cluster.member(i).client_url()).await.unwrap();
    let id = c.member_id().await.unwrap();
    for n in 0..5 {
        c.kv.put(put(&format!("before/{n}"))).await.unwrap();
    }
    cluster.stop(i).unwrap();
    let db = backend_path(&cluster.member(i).config().data_dir);
    {
        let store = KvStore::open(Arc::new(Backend::open(&db).unwrap())).unwrap();
        let mut batch = store.begin_apply().unwrap();
        batch.put(&put("diverged"), &|_| false).unwrap();
        batch.commit(true).unwrap();
    }
    let mut c = connect(&cluster.member(leader).client_url()).await.unwrap();
    for n in 0..5 {
        c.kv.put(put(&format!("after/{n}"))).await.unwrap();
    }
    (i, id)
}

#[tokio::test]
async fn a_member_whose_history_diverged_refuses_to_start() {
    let spec =
        ClusterSpec::new(Server::Oxcd, 3).args(["--experimental-initial-corrupt-check=true"]);
    let mut cluster = Cluster::start(spec).await.unwrap();
    let (i, _) = diverge(&mut cluster).await;
    cluster.start_with_env(i, &[]).unwrap();
    let (code, fatal) = cluster
        .wait_fatal_exit(i, Duration::from_secs(30))
        .await
        .unwrap();
    assert_ne!(code, Some(0));
    assert!(
        fatal.contains("found data inconsistency with peers"),
        "unexpected fatal line: {fatal}"
    );
    // The two others were never affected.
    let other = (i + 1) % cluster.size();
    let mut c = connect(&cluster.member(other).client_url()).await.unwrap();
    c.kv.put(put("still/writable")).await.unwrap();
}

#[tokio::test]
async fn the_leader_raises_corrupt_for_a_member_whose_history_diverged() {
    let spec = ClusterSpec::new(Server::Oxcd, 3).args(["--experimental-corrupt-check-time=500ms"]);
    let mut cluster = Cluster::start(spec).await.unwrap();
    let (i, diverged) = diverge(&mut cluster).await;
    cluster.restart(i).await.unwrap();
    let other = (i + 1) % cluster.size();
    let mut c = connect(&cluster.member(other).client_url()).await.unwrap();
    let list = AlarmRequest {
        action: AlarmAction::Get as i32,
        member_id: 0,
        alarm: AlarmType::None as i32,
    };
    let mut alarms = Vec::new();
    for _ in 0..100 {
        alarms = c.maintenance.alarm(list).await.unwrap().into_inner().alarms;
        if !alarms.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(alarms.len(), 1, "no CORRUPT alarm within 20 s");
    assert_eq!(alarms[0].alarm, AlarmType::Corrupt as i32);
    assert_eq!(
        alarms[0].member_id, diverged,
        "the alarm names another member"
    );
    let refused = c.kv.put(put("refused")).await.unwrap_err();
    assert_eq!(refused.message(), "etcdserver: corrupt cluster");
    let read = RangeRequest {
        key: b"after/0".to_vec(),
        ..Default::default()
    };
    assert_eq!(c.kv.range(read).await.unwrap().into_inner().count, 1);
}
