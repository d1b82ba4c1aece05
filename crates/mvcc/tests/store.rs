//! Store behaviour through the public API: revisions and versions, flags and their errors,
//! deletes, txns, batch abort and visibility, compaction, restart, events, concurrent readers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use oxcd_api::etcdserverpb::request_op::Request;
use oxcd_api::etcdserverpb::response_op::Response;
use oxcd_api::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RangeResponse, RequestOp, TxnRequest,
};
use oxcd_api::mvccpb::event::EventType;
use oxcd_mvcc::ChunkLimit;
use oxcd_mvcc::{Backend, KvStore};

struct Fixture {
    dir: tempfile::TempDir,
    store: KvStore,
}

fn open_at(dir: tempfile::TempDir) -> Fixture {
    let backend = Arc::new(Backend::open(&dir.path().join("db")).unwrap());
    let store = KvStore::open(backend).unwrap();
    Fixture { dir, store }
}

fn fixture() -> Fixture {
    open_at(tempfile::tempdir().unwrap())
}

fn reopen(f: Fixture) -> Fixture {
    let Fixture { dir, store } = f;
    drop(store);
    open_at(dir)
}

fn no_leases(_: i64) -> bool {
    false
}

fn put_req(key: &str, value: &str) -> PutRequest {
    PutRequest {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    }
}

fn put(store: &KvStore, key: &str, value: &str) -> i64 {
    let mut b = store.begin_apply().unwrap();
    let resp = b.put(&put_req(key, value), &no_leases).unwrap();
    b.commit(false).unwrap();
    resp.header.unwrap().revision
}

fn delete(store: &KvStore, key: &str, end: &str) -> (i64, i64) {
    let mut b = store.begin_apply().unwrap();
    let resp = b
        .delete_range(&DeleteRangeRequest {
            key: key.into(),
            range_end: end.into(),
            prev_kv: false,
        })
        .unwrap();
    b.commit(false).unwrap();
    (resp.deleted, resp.header.unwrap().revision)
}

fn get(store: &KvStore, key: &str, end: &str) -> RangeResponse {
    store
        .range(&RangeRequest {
            key: key.into(),
            range_end: end.into(),
            ..Default::default()
        })
        .unwrap()
}

fn keys(resp: &RangeResponse) -> Vec<String> {
    resp.kvs
        .iter()
        .map(|kv| String::from_utf8(kv.key.clone()).unwrap())
        .collect()
}

fn compact(store: &KvStore, rev: i64) -> Result<(), EtcdError> {
    let mut b = store.begin_apply().unwrap();
    let done = b.compact(rev);
    b.commit(false).unwrap();
    done.map(|d| d.wait_blocking().unwrap())
}

#[test]
fn empty_store_starts_at_revision_one() {
    let f = fixture();
    assert_eq!(f.store.current_revision(), 1);
    assert_eq!(f.store.compact_revision(), -1);
    let resp = get(&f.store, "a", "");
    assert_eq!((resp.count, resp.kvs.len()), (0, 0));
    assert_eq!(resp.header.unwrap().revision, 1);
}

#[test]
fn puts_track_create_mod_and_version() {
    let f = fixture();
    assert_eq!(put(&f.store, "a", "1"), 2);
    assert_eq!(put(&f.store, "a", "2"), 3);
    let kv = &get(&f.store, "a", "").kvs[0];
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 3, 2));
    assert_eq!(kv.value, b"2");

    let mut b = f.store.begin_apply().unwrap();
    let mut req = put_req("a", "3");
    req.prev_kv = true;
    let resp = b.put(&req, &no_leases).unwrap();
    assert_eq!(resp.prev_kv.unwrap().value, b"2");
    b.commit(false).unwrap();
    let old = f
        .store
        .range(&RangeRequest {
            key: "a".into(),
            revision: 2,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(old.kvs[0].value, b"1");
}

#[test]
fn flag_and_lease_errors_change_nothing() {
    let f = fixture();
    let mut b = f.store.begin_apply().unwrap();
    let mut ignore = put_req("missing", "");
    ignore.ignore_value = true;
    assert_eq!(b.put(&ignore, &no_leases), Err(EtcdError::KeyNotFound));
    let mut leased = put_req("k", "v");
    leased.lease = 77;
    assert_eq!(b.put(&leased, &no_leases), Err(EtcdError::LeaseNotFound));
    assert_eq!(b.revision(), 1);
    b.put(&leased, &|id| id == 77).unwrap();
    let mut keep_lease = put_req("k", "w");
    keep_lease.ignore_lease = true;
    b.put(&keep_lease, &no_leases).unwrap();
    b.commit(false).unwrap();
    let kv = &get(&f.store, "k", "").kvs[0];
    assert_eq!(
        (kv.lease, kv.value.as_slice(), kv.version),
        (77, &b"w"[..], 2)
    );
}

#[test]
fn deleting_nothing_keeps_the_revision() {
    let f = fixture();
    put(&f.store, "a", "1");
    put(&f.store, "b", "1");
    assert_eq!(delete(&f.store, "x", ""), (0, 3));
    assert_eq!(f.store.current_revision(), 3);
    assert_eq!(delete(&f.store, "a", "\0"), (2, 4));
    assert_eq!(get(&f.store, "\0", "\0").count, 0);
    assert_eq!(put(&f.store, "a", "again"), 5);
    let kv = &get(&f.store, "a", "").kvs[0];
    assert_eq!((kv.create_revision, kv.version), (5, 1));
}

#[test]
fn ranges_limit_sort_and_filter_like_etcd() {
    let f = fixture();
    for (k, v) in [("a", "3"), ("b", "1"), ("c", "2"), ("d", "0")] {
        put(&f.store, k, v);
    }
    put(&f.store, "b", "9");
    let r = f
        .store
        .range(&RangeRequest {
            key: "a".into(),
            range_end: "d".into(),
            limit: 2,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        (keys(&r), r.more, r.count),
        (vec!["a".into(), "b".into()], true, 3)
    );
    let r = f
        .store
        .range(&RangeRequest {
            key: "a".into(),
            range_end: "\0".into(),
            sort_target: 4, // VALUE, ascending by default
            limit: 3,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(keys(&r), ["d", "c", "a"]);
    assert!(r.more);
    let r = f
        .store
        .range(&RangeRequest {
            key: "a".into(),
            range_end: "\0".into(),
            min_mod_revision: 4,
            keys_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(keys(&r), ["b", "c", "d"]);
    assert_eq!(r.count, 4);
    assert!(r.kvs.iter().all(|kv| kv.value.is_empty()));
    let r = f
        .store
        .range(&RangeRequest {
            key: "a".into(),
            range_end: "\0".into(),
            count_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!((r.kvs.len(), r.count), (0, 4));
    let future = f.store.range(&RangeRequest {
        key: "a".into(),
        revision: 100,
        ..Default::default()
    });
    assert_eq!(future, Err(EtcdError::FutureRev));
}

#[test]
fn txn_writes_share_one_revision_and_see_their_own_writes() {
    let f = fixture();
    put(&f.store, "a", "1");
    let req = TxnRequest {
        compare: vec![Compare {
            result: CompareResult::Equal as i32,
            target: CompareTarget::Version as i32,
            key: "missing".into(),
            range_end: Vec::new(),
            target_union: Some(TargetUnion::Version(0)),
        }],
        success: vec![
            op(Request::RequestPut(put_req("b", "2"))),
            op(Request::RequestDeleteRange(DeleteRangeRequest {
                key: "a".into(),
                ..Default::default()
            })),
            op(Request::RequestRange(RangeRequest {
                key: "\0".into(),
                range_end: "\0".into(),
                ..Default::default()
            })),
        ],
        failure: Vec::new(),
    };
    let mut b = f.store.begin_apply().unwrap();
    let resp = b.txn(&req, &no_leases).unwrap();
    let events = b.commit(false).unwrap();
    assert!(resp.succeeded);
    assert_eq!(resp.header.unwrap().revision, 3);
    let Some(Response::ResponseRange(seen)) = &resp.responses[2].response else {
        panic!("expected a range response");
    };
    assert_eq!(keys(seen), ["b"]);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].r#type, EventType::Delete as i32);
    assert_eq!(events[1].kv.as_ref().unwrap().mod_revision, 3);
    assert_eq!(f.store.current_revision(), 3);

    // A read-only txn does not move the revision.
    let mut b = f.store.begin_apply().unwrap();
    let resp = b
        .txn(
            &TxnRequest {
                success: vec![op(Request::RequestRange(RangeRequest {
                    key: "b".into(),
                    ..Default::default()
                }))],
                ..Default::default()
            },
            &no_leases,
        )
        .unwrap();
    assert_eq!(resp.header.unwrap().revision, 3);
    assert_eq!(b.revision(), 3);
}

fn op(request: Request) -> RequestOp {
    RequestOp {
        request: Some(request),
    }
}

#[test]
fn a_failing_txn_has_no_effect() {
    let f = fixture();
    let mut leased = put_req("c", "v");
    leased.lease = 5;
    let req = TxnRequest {
        success: vec![
            op(Request::RequestPut(put_req("a", "1"))),
            op(Request::RequestTxn(TxnRequest {
                success: vec![op(Request::RequestPut(leased))],
                ..Default::default()
            })),
        ],
        ..Default::default()
    };
    let mut b = f.store.begin_apply().unwrap();
    assert_eq!(b.txn(&req, &no_leases), Err(EtcdError::LeaseNotFound));
    assert_eq!(b.revision(), 1);
    let events = b.commit(false).unwrap();
    assert!(events.is_empty());
    assert_eq!(get(&f.store, "a", "").count, 0);
}

#[test]
fn a_dropped_batch_leaves_no_trace() {
    let f = fixture();
    put(&f.store, "a", "1");
    {
        let mut b = f.store.begin_apply().unwrap();
        b.put(&put_req("a", "2"), &no_leases).unwrap();
        b.put(&put_req("new", "x"), &no_leases).unwrap();
        b.delete_range(&DeleteRangeRequest {
            key: "a".into(),
            ..Default::default()
        })
        .unwrap();
        b.put(&put_req("a", "3"), &no_leases).unwrap();
        assert_eq!(b.revision(), 6);
    }
    assert_eq!(f.store.current_revision(), 2);
    assert_eq!(f.store.indexed_keys(), 1);
    assert_eq!(put(&f.store, "a", "4"), 3);
    let kv = &get(&f.store, "a", "").kvs[0];
    assert_eq!(
        (kv.create_revision, kv.version, kv.value.as_slice()),
        (2, 2, &b"4"[..])
    );
    assert_eq!(get(&f.store, "new", "").count, 0);
}

#[test]
fn readers_see_a_batch_only_after_commit() {
    let f = fixture();
    let mut b = f.store.begin_apply().unwrap();
    b.put(&put_req("a", "1"), &no_leases).unwrap();
    let inside = b
        .range(&RangeRequest {
            key: "a".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(inside.count, 1);
    assert_eq!(get(&f.store, "a", "").count, 0);
    b.set_consistent_index(10, 2).unwrap();
    b.commit(true).unwrap();
    assert_eq!(get(&f.store, "a", "").count, 1);
    assert_eq!(f.store.backend().consistent_index().unwrap(), (10, 2));
}

#[test]
fn compaction_bounds_reads_and_survives_restart() {
    let f = fixture();
    for i in 0..10 {
        put(&f.store, "k", &i.to_string());
    }
    put(&f.store, "gone", "x");
    delete(&f.store, "gone", "");
    let current = f.store.current_revision();
    assert_eq!(compact(&f.store, current + 1), Err(EtcdError::FutureRev));
    compact(&f.store, 6).unwrap();
    assert_eq!(compact(&f.store, 6), Err(EtcdError::Compacted));
    assert_eq!(compact(&f.store, 5), Err(EtcdError::Compacted));
    let at = |rev| {
        f.store.range(&RangeRequest {
            key: "k".into(),
            revision: rev,
            ..Default::default()
        })
    };
    assert_eq!(at(5), Err(EtcdError::Compacted));
    assert_eq!(at(6).unwrap().kvs[0].value, b"4");
    assert_eq!(f.store.hash_kv(6), Err(EtcdError::Compacted));
    let hash = f.store.hash_kv(0).unwrap();
    assert_eq!((hash.1, hash.2), (current, 6));

    compact(&f.store, current).unwrap();
    assert_eq!(f.store.indexed_keys(), 1);
    let hash = f.store.hash_kv(0).unwrap();
    let f = reopen(f);
    assert_eq!(f.store.compact_revision(), current);
    assert_eq!(f.store.current_revision(), current);
    assert_eq!(f.store.hash_kv(0).unwrap(), hash);
    let kv = &get(&f.store, "k", "").kvs[0];
    assert_eq!((kv.version, kv.value.as_slice()), (10, &b"9"[..]));
    assert_eq!(put(&f.store, "k", "10"), current + 1);
    assert_eq!(get(&f.store, "k", "").kvs[0].version, 11);
}

#[test]
fn restart_rebuilds_generations_and_tombstones() {
    let f = fixture();
    put(&f.store, "a", "1");
    put(&f.store, "a", "2");
    delete(&f.store, "a", "");
    put(&f.store, "a", "3");
    put(&f.store, "b", "1");
    delete(&f.store, "b", "");
    let hash = f.store.hash_kv(0).unwrap();
    let f = reopen(f);
    assert_eq!(f.store.current_revision(), 7);
    assert_eq!(f.store.hash_kv(0).unwrap(), hash);
    let kv = &get(&f.store, "a", "").kvs[0];
    assert_eq!((kv.create_revision, kv.version), (5, 1));
    let old = f
        .store
        .range(&RangeRequest {
            key: "a".into(),
            revision: 3,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(old.kvs[0].version, 2);
    assert_eq!(get(&f.store, "b", "").count, 0);
    assert_eq!(put(&f.store, "b", "again"), 8);
    assert_eq!(get(&f.store, "b", "").kvs[0].create_revision, 8);
}

#[test]
fn an_interrupted_compaction_resumes_on_open() {
    let f = fixture();
    for i in 0..3000 {
        put_many(&f.store, i);
    }
    let current = f.store.current_revision();
    let mut b = f.store.begin_apply().unwrap();
    let done = b.compact(current).unwrap();
    b.commit(true).unwrap();
    // Closing the store stops the compactor wherever it is.
    let f = reopen(f);
    let _ = done.outcome();
    assert_eq!(f.store.compact_revision(), current);
    let f = reopen(f);
    assert_eq!(f.store.compact_revision(), current);
    assert_eq!(get(&f.store, "\0", "\0").count, 3000);
    assert!(f.store.hash_kv(0).is_ok());
}

fn put_many(store: &KvStore, i: usize) {
    let mut b = store.begin_apply().unwrap();
    b.put(&put_req(&format!("key{i:05}"), "v"), &no_leases)
        .unwrap();
    b.put(&put_req(&format!("key{i:05}"), "w"), &no_leases)
        .unwrap();
    b.commit(false).unwrap();
}

#[test]
fn concurrent_readers_see_consistent_states() {
    let f = Arc::new(fixture());
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let f = f.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut last = 0;
                while !stop.load(Ordering::Relaxed) {
                    let r = get(&f.store, "\0", "\0");
                    let rev = r.header.unwrap().revision;
                    assert!(rev >= last);
                    last = rev;
                    // Every batch writes both keys with the same value: a reader sees both or neither.
                    if r.count > 0 {
                        assert_eq!(r.count, 2);
                        assert_eq!(r.kvs[0].value, r.kvs[1].value);
                        assert_eq!(r.kvs[1].mod_revision, rev);
                    }
                }
            })
        })
        .collect();
    for i in 0..300 {
        let mut b = f.store.begin_apply().unwrap();
        let v = i.to_string();
        b.txn(
            &TxnRequest {
                success: vec![
                    op(Request::RequestPut(put_req("x", &v))),
                    op(Request::RequestPut(put_req("y", &v))),
                ],
                ..Default::default()
            },
            &no_leases,
        )
        .unwrap();
        if i % 3 == 0 {
            drop(b);
        } else {
            b.commit(false).unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn history_reads_back_as_events() {
    let f = fixture();
    put(&f.store, "a", "1");
    put(&f.store, "b", "1");
    let mut b = f.store.begin_apply().unwrap();
    b.txn(
        &TxnRequest {
            success: vec![
                op(Request::RequestPut(put_req("c", "1"))),
                op(Request::RequestDeleteRange(DeleteRangeRequest {
                    key: "a".into(),
                    ..Default::default()
                })),
            ],
            ..Default::default()
        },
        &no_leases,
    )
    .unwrap();
    let committed = b.commit(false).unwrap();

    let (all, next) = f.store.events(1, ChunkLimit::events(100)).unwrap();
    assert_eq!(next, 5);
    assert_eq!(all.len(), 4);
    assert_eq!(&all[2..], &committed[..]);
    assert_eq!(all[3].r#type, EventType::Delete as i32);
    // A limit never splits a revision.
    let (first, next) = f.store.events(3, ChunkLimit::events(1)).unwrap();
    assert_eq!((first.len(), next), (1, 4));
    let (rest, next) = f.store.events(next, ChunkLimit::events(1)).unwrap();
    assert_eq!((rest.len(), next), (2, 5));
    compact(&f.store, 3).unwrap();
    assert_eq!(
        f.store.events(2, ChunkLimit::events(10)).unwrap_err(),
        EtcdError::Compacted
    );
    assert_eq!(
        f.store.events(3, ChunkLimit::events(10)).unwrap().0.len(),
        3
    );
}

#[test]
fn the_keys_attached_to_leases_at_open_are_the_live_keys_with_a_lease_now() {
    let f = fixture();
    let mut b = f.store.begin_apply().unwrap();
    let puts = [
        ("a", 7),
        ("b", 0),
        ("c", 9),
        ("d", 5),
        ("e", 0),
        ("a", 8),
        ("d", 0),
        ("e", 4),
    ];
    for (key, lease) in puts {
        let mut req = put_req(key, "v");
        req.lease = lease;
        b.put(&req, &|_| true).unwrap();
    }
    b.commit(false).unwrap();
    delete(&f.store, "c", "");
    let Fixture { dir, store } = f;
    drop(store);
    let backend = Arc::new(Backend::open(&dir.path().join("db")).unwrap());
    let (_store, mut leased) = KvStore::open_with_leased_keys(backend).unwrap();
    leased.sort();
    assert_eq!(leased, vec![(b"a".to_vec(), 8), (b"e".to_vec(), 4)]);
}

#[test]
fn open_read_transactions_are_counted_while_held() {
    let f = fixture();
    let backend = f.store.backend().clone();
    let before = backend.open_read_transactions();
    assert!(before >= 1, "the published snapshot is one");
    let reader = backend.read().unwrap();
    assert_eq!(backend.open_read_transactions(), before + 1);
    drop(reader);
    assert_eq!(backend.open_read_transactions(), before);
}

#[test]
fn a_compaction_reuses_the_pages_it_frees() {
    // Keys written in another order than their names, so that the rows one compaction step
    // removes (a few thousand keys, in key order) are spread over the whole table.
    const KEYS: usize = 30_000;
    let f = fixture();
    let name = |i: usize| format!("k{:05}", (i * 7919) % KEYS);
    let value = "v".repeat(200);
    for batch in (0..KEYS).collect::<Vec<_>>().chunks(500) {
        let mut b = f.store.begin_apply().unwrap();
        for &i in batch {
            b.put(&put_req(&name(i), &value), &no_leases).unwrap();
        }
        b.commit(false).unwrap();
    }
    let mut b = f.store.begin_apply().unwrap();
    for i in (0..KEYS).step_by(2) {
        b.delete_range(&DeleteRangeRequest {
            key: format!("k{i:05}").into_bytes(),
            ..Default::default()
        })
        .unwrap();
    }
    b.commit(true).unwrap();
    let file = f.dir.path().join("db");
    let before = std::fs::metadata(&file).unwrap().len();
    compact(&f.store, f.store.current_revision()).unwrap();
    let after = std::fs::metadata(&file).unwrap().len();
    // redb doubles a small file when it runs out of room, so one step's copies may double it
    // once; when it reused no page before the compaction's end, the file grew eightfold.
    assert!(
        after <= 2 * before,
        "the file grew from {before} to {after} bytes while compacting away half of the rows"
    );
    assert_eq!(get(&f.store, "\0", "\0").count, KEYS as i64 / 2);
}
