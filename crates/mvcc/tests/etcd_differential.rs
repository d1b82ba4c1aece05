//! Differential test against real etcd 3.5.1: the same seeded KV requests (valid and invalid;
//! `oxcd_testkit::kv_generator`'s stream without the oversized ones, which etcd's gRPC layer
//! refuses before its store sees them) go to an etcd process (over gRPC, on loopback) and to the
//! store (through the checks etcd's gRPC layer makes, then an apply batch or the read path, as
//! oxcd's server uses them); responses, errors and HashKV must be identical. Fails when etcd is
//! missing. `OXT_DIFF_OPS` sets the number of requests (default 2000), `OXT_SEED` the seed.

use std::sync::Arc;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::kv_client::KvClient;
use oxcd_api::etcdserverpb::lease_client::LeaseClient;
use oxcd_api::etcdserverpb::maintenance_client::MaintenanceClient;
use oxcd_api::etcdserverpb::{CompactionRequest, HashKvRequest, LeaseGrantRequest, ResponseHeader};
use oxcd_mvcc::{Backend, KvStore, is_txn_read_only, validate};
use oxcd_testkit::etcd_cluster::Cluster;
use oxcd_testkit::kv_generator::{KvGenerator, LEASE_IDS, StoreView, ops_from_env};
use oxcd_testkit::kv_op::KvOp;
use oxcd_testkit::rng::seed_from_env;
use tonic::transport::Channel;

/// Requests per run unless `OXT_DIFF_OPS` says otherwise.
const DEFAULT_OPS: usize = 2000;
/// Keys of the wide key space: enough keys that sorted ranges go through every branch of the
/// sort (insertion sort up to 12 elements, median-of-three pivots, ninther pivots above 40).
const WIDE_KEYS: usize = 90;

/// Whether the lease `id` exists: every other ID of the generator's range is granted.
fn granted(id: i64) -> bool {
    LEASE_IDS.contains(&id) && id % 2 == 0
}

/// An outcome both sides can be compared by: the response bytes with the top-level header
/// reduced to its revision, or the error's code and message.
type Outcome = Result<String, (tonic::Code, String)>;

fn normalize_header(h: &mut Option<ResponseHeader>) {
    if let Some(h) = h {
        *h = ResponseHeader {
            revision: h.revision,
            ..Default::default()
        };
    }
}

fn etcd_error(e: EtcdError) -> (tonic::Code, String) {
    (e.code(), e.message().to_string())
}

async fn run_etcd(ch: &Channel, op: &KvOp) -> Outcome {
    let mut kv = KvClient::new(ch.clone());
    let status = |s: tonic::Status| (s.code(), s.message().to_string());
    match op.clone() {
        KvOp::Range(r) => kv.range(r).await.map(|r| {
            let mut r = r.into_inner();
            normalize_header(&mut r.header);
            format!("{r:?}")
        }),
        KvOp::Put(r) => kv.put(r).await.map(|r| {
            let mut r = r.into_inner();
            normalize_header(&mut r.header);
            format!("{r:?}")
        }),
        KvOp::DeleteRange(r) => kv.delete_range(r).await.map(|r| {
            let mut r = r.into_inner();
            normalize_header(&mut r.header);
            format!("{r:?}")
        }),
        KvOp::Txn(r) => kv.txn(r).await.map(|r| {
            let mut r = r.into_inner();
            normalize_header(&mut r.header);
            format!("{r:?}")
        }),
        // Always physical: etcd answers the same either way, but a HashKV taken while its
        // compaction still runs depends on how far that got.
        KvOp::Compact(r) => kv
            .compact(CompactionRequest {
                physical: true,
                ..r
            })
            .await
            .map(|_| "compacted".to_string()),
    }
    .map_err(status)
}

fn run_store(store: &KvStore, op: &KvOp) -> Outcome {
    let leases = granted;
    let outcome: Result<String, EtcdError> = match op {
        KvOp::Range(r) => validate::validate_range(r)
            .and_then(|_| store.range(r))
            .map(|r| format!("{r:?}")),
        KvOp::Put(r) => validate::validate_put(r).and_then(|_| {
            let mut batch = store.begin_apply().unwrap();
            let resp = batch.put(r, &leases);
            batch.commit(false).unwrap();
            resp.map(|r| format!("{r:?}"))
        }),
        KvOp::DeleteRange(r) => validate::validate_delete_range(r).and_then(|_| {
            let mut batch = store.begin_apply().unwrap();
            let resp = batch.delete_range(r);
            batch.commit(false).unwrap();
            resp.map(|r| format!("{r:?}"))
        }),
        KvOp::Txn(r) => validate::validate_txn(r, 128).and_then(|_| {
            if is_txn_read_only(r) {
                return store.txn_read_only(r).unwrap().map(|r| format!("{r:?}"));
            }
            let mut batch = store.begin_apply().unwrap();
            let resp = batch.txn(r, &leases);
            batch.commit(false).unwrap();
            resp.map(|r| format!("{r:?}"))
        }),
        KvOp::Compact(r) => {
            let mut batch = store.begin_apply().unwrap();
            let done = batch.compact(r.revision);
            batch.commit(false).unwrap();
            done.map(|d| {
                d.wait_blocking().unwrap();
                "compacted".to_string()
            })
        }
    };
    outcome.map_err(etcd_error)
}

async fn differential_run(keys: Option<Vec<Vec<u8>>>) {
    let ops = ops_from_env(DEFAULT_OPS).unwrap();
    let seed = seed_from_env(1).unwrap();
    let etcd = Cluster::start_with_args(1, &["--unsafe-no-fsync", "--log-level=error"]);
    let ch = Channel::from_shared(etcd.members[0].client_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut lessor = LeaseClient::new(ch.clone());
    for id in LEASE_IDS.filter(|&id| granted(id)) {
        lessor
            .lease_grant(LeaseGrantRequest { ttl: 3600, id })
            .await
            .unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(Backend::open(&dir.path().join("db")).unwrap());
    let store = KvStore::open(backend).unwrap();
    let mut generator = KvGenerator::new(seed).without_oversized();
    if let Some(keys) = keys {
        generator = generator.with_keys(keys);
    }
    let mut maintenance = MaintenanceClient::new(ch.clone());
    for i in 0..ops {
        let view = StoreView {
            revision: store.current_revision(),
            compact_revision: store.compact_revision(),
        };
        let op = generator.next_op(&view);
        let want = run_etcd(&ch, &op).await;
        let got = run_store(&store, &op);
        assert_eq!(got, want, "request #{i} of seed {seed} differs: {op}");
        if matches!(op, KvOp::Compact(_)) || i % 200 == 199 || i + 1 == ops {
            let theirs = maintenance
                .hash_kv(HashKvRequest { revision: 0 })
                .await
                .unwrap()
                .into_inner();
            let ours = store.hash_kv(0).unwrap();
            assert_eq!(
                (ours.0, ours.2),
                (theirs.hash, theirs.compact_revision),
                "HashKV differs after request #{i}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_requests_match_real_etcd() {
    differential_run(None).await;
}

/// Many keys with few distinct values and versions: sorted ranges full of ties, where only
/// the same unstable sort gives the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorted_ranges_over_many_keys_match_real_etcd() {
    let keys = (0..WIDE_KEYS)
        .map(|i| format!("w{i:02}").into_bytes())
        .collect();
    differential_run(Some(keys)).await;
}
