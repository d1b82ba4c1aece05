//! `Maintenance.Snapshot` on oxcd: real etcdctl 3.5.1 `snapshot save` gets a consistent copy of
//! the backend while writes go on, framed as etcd frames it (the SHA-256 of the database as the
//! last 32 bytes); the copy holds exactly the live member's history up to its revision (equal
//! HashKV); and no temporary copy outlives its stream, whether the client reads it to the end,
//! leaves in the middle, or the member stops while sending it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use oxcd_api::etcdserverpb::{HashKvRequest, PutRequest, SnapshotRequest};
use oxcd_mvcc::{Backend, KvStore};
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, Server, data_dir};
use sha2::{Digest, Sha256};

/// Where a member keeps its backend and the temporary copies made for snapshots.
fn snap_dir(cluster: &Cluster) -> PathBuf {
    data_dir::snap_dir(&cluster.member(0).config().data_dir)
}

fn leftover_copies(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("maintenance-snapshot-"))
        .collect()
}

async fn wait_no_leftovers(dir: &Path) {
    for _ in 0..100 {
        if leftover_copies(dir).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "temporary snapshot copies left behind: {:?}",
        leftover_copies(dir)
    );
}

/// Puts `count` keys with values of `value_bytes`, so the database spans many 32 KiB snapshot
/// messages.
async fn fill(cluster: &Cluster, count: usize, value_bytes: usize) {
    let mut kv = cluster.client(0).await.unwrap().kv;
    for n in 0..count {
        kv.put(PutRequest {
            key: format!("fill/{n:05}").into_bytes(),
            value: vec![b'x'; value_bytes],
            ..Default::default()
        })
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn etcdctl_snapshot_save_is_a_consistent_copy_taken_while_writes_go_on() {
    let cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 1))
        .await
        .unwrap();
    fill(&cluster, 1500, 1024).await;

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicI64::new(0));
    let writer = {
        let mut kv = cluster.client(0).await.unwrap().kv;
        let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let resp = kv
                    .put(PutRequest {
                        key: format!("during/{}", n % 50).into_bytes(),
                        value: n.to_string().into_bytes(),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner();
                acknowledged.store(resp.header.unwrap().revision, Ordering::Relaxed);
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = acknowledged.load(Ordering::Relaxed);
    assert!(before > 1500, "the writer made no progress before the save");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("saved.db");
    let file_arg = file.to_str().unwrap();
    let saved = Etcdctl::new([cluster.endpoint(0)])
        .run(&["snapshot", "save", file_arg])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(saved.stdout, format!("Snapshot saved at {file_arg}\n"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let writes = writer.await.unwrap();
    assert!(
        acknowledged.load(Ordering::Relaxed) > before,
        "writes stalled while the snapshot was taken ({writes} in all)"
    );

    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(
        bytes.len() % 512,
        32,
        "etcdutl finds the digest by this rule"
    );
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    assert_eq!(Sha256::digest(body).as_slice(), digest);

    let copy = dir.path().join("body.db");
    std::fs::write(&copy, body).unwrap();
    let store = KvStore::open(Arc::new(Backend::open(&copy).unwrap())).unwrap();
    let revision = store.current_revision();
    assert!(
        revision >= before,
        "the snapshot (revision {revision}) misses writes acknowledged before it was asked for (revision {before})"
    );
    let (hash, _, _) = store.hash_kv(revision).unwrap();
    let live = cluster
        .client(0)
        .await
        .unwrap()
        .maintenance
        .hash_kv(HashKvRequest { revision })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        hash, live.hash,
        "snapshot and member differ at revision {revision}"
    );
    wait_no_leftovers(&snap_dir(&cluster)).await;
}

#[tokio::test]
async fn a_client_leaving_mid_stream_leaves_no_copy_behind() {
    let cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 1))
        .await
        .unwrap();
    // Far more than the HTTP/2 windows and queues hold, so that the stream is still reading
    // the copy when the client reads its first message, however slow the client is.
    fill(&cluster, 1000, 16 * 1024).await;
    let mut maintenance = cluster.client(0).await.unwrap().maintenance;
    let mut stream = maintenance
        .snapshot(SnapshotRequest {})
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    assert!(first.remaining_bytes > 0, "the database fits one message");
    assert_eq!(
        leftover_copies(&snap_dir(&cluster)).len(),
        1,
        "the copy being streamed is not where copies are kept"
    );
    drop(stream);
    drop(maintenance);
    wait_no_leftovers(&snap_dir(&cluster)).await;
}

#[tokio::test]
async fn copies_left_by_a_stopped_member_are_removed_at_start() {
    let mut cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 1))
        .await
        .unwrap();
    cluster.stop(0).unwrap();
    let leftover = snap_dir(&cluster).join("maintenance-snapshot-left.db");
    std::fs::write(&leftover, b"a copy a crash left").unwrap();
    cluster.restart(0).await.unwrap();
    assert!(!leftover.exists(), "the leftover copy is still there");
}
