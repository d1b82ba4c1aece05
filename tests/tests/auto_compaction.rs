//! Periodic auto compaction (`--auto-compaction-mode=periodic --auto-compaction-retention=2s`)
//! behaves as etcd 3.5.1's: a single-member etcd and a single-member server under test take
//! the same steady writes; after a few periods, a revision older than the retention has been
//! compacted on both (reads at it fail with etcd's error), while the revisions written within
//! the retention are still readable. Revision mode compacts every five minutes, too slow for a
//! test; its schedule is unit-tested in `auto_compaction.rs`.

use std::time::{Duration, Instant};

use oxcd_api::etcdserverpb::{PutRequest, RangeRequest};
use oxcd_tests::grpc::connect;
use oxcd_tests::{Cluster, ClusterSpec, Server};

/// What one server did: whether the old revision was compacted, whether a recent one was
/// still readable, and the error a read at the old one got.
async fn script(cluster: &Cluster) -> (bool, bool, String) {
    let mut c = connect(&cluster.member(0).client_url()).await.unwrap();
    let put = |n: u32| PutRequest {
        key: b"ticker".to_vec(),
        value: n.to_string().into_bytes(),
        ..Default::default()
    };
    let first =
        c.kv.put(put(0))
            .await
            .unwrap()
            .into_inner()
            .header
            .unwrap()
            .revision;
    let started = Instant::now();
    let mut n = 1;
    let mut recent = first;
    while started.elapsed() < Duration::from_secs(7) {
        let rev =
            c.kv.put(put(n))
                .await
                .unwrap()
                .into_inner()
                .header
                .unwrap()
                .revision;
        if started.elapsed() > Duration::from_millis(6500) && recent == first {
            recent = rev;
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at = |revision| RangeRequest {
        key: b"ticker".to_vec(),
        revision,
        ..Default::default()
    };
    let old = c.kv.range(at(first)).await;
    let new = c.kv.range(at(recent)).await;
    let error = match &old {
        Ok(_) => String::new(),
        Err(status) => format!("{:?} {}", status.code(), status.message()),
    };
    (old.is_err(), new.is_ok(), error)
}

#[tokio::test]
async fn periodic_auto_compaction_keeps_the_retention_as_etcd_does() {
    let target = Server::from_env().unwrap();
    let spec = |server| {
        ClusterSpec::new(server, 1).args([
            "--auto-compaction-mode=periodic",
            "--auto-compaction-retention=2s",
        ])
    };
    let (oracle, subject) = tokio::join!(
        Cluster::start(spec(Server::Etcd)),
        Cluster::start(spec(target))
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let (expected, actual) = tokio::join!(script(&oracle), script(&subject));
    assert_eq!(
        expected,
        (
            true,
            true,
            "OutOfRange etcdserver: mvcc: required revision has been compacted".into()
        ),
        "etcd 3.5.1 did not behave as this test expects"
    );
    assert_eq!(actual, expected, "left: {target:?}, right: etcd 3.5.1");
}
