//! A full disk is an ordinary event: a member whose disk fills stops with a fatal line saying
//! so, the other two keep serving, and once space is freed the member restarts, catches up
//! and has every write any member acknowledged. Each member's data directory is its own small
//! tmpfs (root only), filled by the test.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxcd_api::etcdserverpb::{PutRequest, RangeRequest};
use oxcd_tests::convergence::{current_revision, hashkv_agree};
use oxcd_tests::{Cluster, ClusterSpec, Server, grpc};

/// Each member's disk: room for a WAL segment (64 MiB, preallocated) and a growing backend.
const DISK_BYTES: u64 = 192 * 1024 * 1024;
/// Room left when the disk is filled: a few backend commits' worth.
const LEFT_FREE: u64 = 256 * 1024;
/// Values large enough to use up what is left within seconds.
const VALUE_BYTES: usize = 16 * 1024;

/// Keys whose put was acknowledged, by any member.
type Acked = Mutex<BTreeSet<String>>;

/// Writes through `endpoint` until `stop`, recording every acknowledged key.
async fn writer(endpoint: String, tag: usize, acked: Arc<Acked>, stop: Arc<AtomicBool>) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut clients) = grpc::connect_with_timeout(&endpoint, Duration::from_secs(2)).await
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        while !stop.load(Ordering::Relaxed) {
            let key = format!("full/{tag}/{n:06}");
            n += 1;
            let put = clients.kv.put(PutRequest {
                key: key.clone().into_bytes(),
                value: vec![b'v'; VALUE_BYTES],
                ..PutRequest::default()
            });
            match put.await {
                Ok(_) => {
                    acked.lock().unwrap().insert(key);
                }
                Err(_) => break,
            }
        }
    }
}

async fn keys_on(cluster: &Cluster, i: usize) -> BTreeSet<String> {
    let mut clients = cluster.client(i).await.unwrap();
    let answer = clients
        .kv
        .range(RangeRequest {
            key: b"full/".to_vec(),
            range_end: b"full0".to_vec(),
            keys_only: true,
            serializable: true,
            ..RangeRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    answer
        .kvs
        .into_iter()
        .map(|kv| String::from_utf8(kv.key).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_whose_disk_fills_stops_and_rejoins_with_nothing_lost() {
    let mut cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 3).small_disks(DISK_BYTES))
        .await
        .unwrap();
    let acked = Arc::new(Acked::default());
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|i| tokio::spawn(writer(cluster.endpoint(i), i, acked.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let full = 2;
    cluster.disk(full).unwrap().fill(LEFT_FREE).unwrap();
    let code = cluster.wait_exit(full, Duration::from_secs(60)).await;
    let log = cluster.member(full).current_log();
    let code = code.unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert!(matches!(code, Some(1 | 2)), "exit {code:?}\n{log}");
    let fatal = log
        .lines()
        .find(|line| line.contains(r#""level":"fatal""#))
        .unwrap_or_else(|| panic!("no fatal line:\n{log}"));
    assert!(
        fatal.to_lowercase().contains("no space left on device"),
        "{fatal}"
    );

    // The other two keep a quorum and go on acknowledging writes.
    let before = acked.lock().unwrap().clone().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        acked.lock().unwrap().clone().len() > before + 10,
        "the two members with space stopped serving"
    );

    cluster.disk(full).unwrap().free().unwrap();
    cluster.restart(full).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }

    let revision = current_revision(&cluster, 0).await.unwrap();
    hashkv_agree(&cluster, revision, Duration::from_secs(60))
        .await
        .unwrap();
    let present = keys_on(&cluster, full).await;
    let missing: Vec<_> = acked
        .lock()
        .unwrap()
        .clone()
        .difference(&present)
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged keys missing on the member whose disk filled, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}
