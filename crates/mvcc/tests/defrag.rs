//! Online defragmentation through the public API: the file shrinks after most keys are deleted
//! and compacted, every revision a reader could see before is still there with the same
//! HashKV, writes made while the copy runs land in the new file, the store keeps working on
//! it, and it survives a restart (which removes the copy a crash would leave).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use oxcd_api::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest};
use oxcd_mvcc::{Backend, KvStore};

fn no_leases(_: i64) -> bool {
    false
}

fn put(store: &KvStore, key: String, size: usize) -> i64 {
    let mut b = store.begin_apply().unwrap();
    let req = PutRequest {
        key: key.into_bytes(),
        value: vec![b'v'; size],
        ..Default::default()
    };
    let resp = b.put(&req, &no_leases).unwrap();
    b.commit(false).unwrap();
    resp.header.unwrap().revision
}

fn count(store: &KvStore, prefix: &str) -> i64 {
    let mut end = prefix.as_bytes().to_vec();
    *end.last_mut().unwrap() += 1;
    store
        .range(&RangeRequest {
            key: prefix.into(),
            range_end: end,
            count_only: true,
            ..Default::default()
        })
        .unwrap()
        .count
}

#[test]
fn defragmenting_shrinks_the_file_and_loses_no_write_made_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Arc::new(KvStore::open(Arc::new(Backend::open(&path).unwrap())).unwrap());
    for n in 0..3000 {
        put(&store, format!("bulk/{n:05}"), 1000);
    }
    let mut b = store.begin_apply().unwrap();
    b.delete_range(&DeleteRangeRequest {
        key: b"bulk/".to_vec(),
        range_end: b"bulk0".to_vec(),
        ..Default::default()
    })
    .unwrap();
    let keep = b.revision();
    let done = b.compact(keep).unwrap();
    b.commit(true).unwrap();
    done.wait_blocking().unwrap();
    let marked = put(&store, "marker".to_string(), 10);
    let hash_before = store.hash_kv(marked).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicI64::new(0));
    let writer = {
        let (store, stop, written) = (store.clone(), stop.clone(), written.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                put(&store, format!("during/{n:06}"), 100);
                n += 1;
                written.store(n, Ordering::Relaxed);
            }
            n
        })
    };
    while written.load(Ordering::Relaxed) < 20 {
        std::thread::yield_now();
    }
    let report = store.defragment().unwrap();
    let after_defrag = written.load(Ordering::Relaxed);
    while written.load(Ordering::Relaxed) < after_defrag + 20 {
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    let writes = writer.join().unwrap();

    assert!(
        report.size_after * 2 < report.size_before,
        "the file did not shrink: {report:?}"
    );
    assert!(std::fs::metadata(&path).unwrap().len() < report.size_before);
    let hash_after = store.hash_kv(marked).unwrap();
    assert_eq!((hash_after.0, hash_after.2), (hash_before.0, hash_before.2));
    assert_eq!(count(&store, "during/"), writes);
    assert_eq!(count(&store, "bulk/"), 0);
    assert!(!dir.path().join("db.defrag").exists());

    let current = store.current_revision();
    let hash_now = store.hash_kv(current).unwrap();
    drop(store);
    std::fs::write(dir.path().join("db.defrag"), b"left by a crash").unwrap();
    let reopened = KvStore::open(Arc::new(Backend::open(&path).unwrap())).unwrap();
    assert!(
        !dir.path().join("db.defrag").exists(),
        "an unfinished copy stays"
    );
    assert_eq!(reopened.current_revision(), current);
    assert_eq!(reopened.hash_kv(current).unwrap(), hash_now);
    assert_eq!(count(&reopened, "during/"), writes);
}
