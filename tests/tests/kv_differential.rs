//! Differential test of the KV service: a seeded stream of Range, Put, DeleteRange, Txn and
//! Compact requests (valid, invalid and oversized) goes to a single-member real etcd 3.5.1
//! cluster and to a single-member cluster of the server under test; every answer must be
//! identical — the whole response with member-specific header fields zeroed, or the gRPC
//! status code and message.
//!
//! The server under test is the one every cluster test uses (`OXT_SERVER`, default
//! [`Server::DEFAULT`]), unless `OXT_DIFF_TARGET=etcd|oxcd` picks another. With etcd on both
//! sides the test is a self-check of the generator and of etcd's determinism. `OXT_SEED` and
//! `OXT_DIFF_OPS` override the seed and the number of operations (default 10,000).

use oxcd_api::etcdserverpb::PutRequest;
use oxcd_testkit::kv_generator::ops_from_env;
use oxcd_testkit::rng::seed_from_env;
use oxcd_tests::differential::runner::{self, Side};
use oxcd_tests::{Cluster, ClusterSpec, Server};

/// Selects the server compared against real etcd, overriding `OXT_SERVER`.
const TARGET_ENV: &str = "OXT_DIFF_TARGET";
/// The seed when `OXT_SEED` is unset.
const DEFAULT_SEED: u64 = 0x0dd5_eed5;
/// Below this many operations the stream is too short to promise it met every error.
const COVERAGE_MIN_OPS: usize = 5_000;

/// Every error the stream must provoke (and therefore compare) in a full-length run.
const EXPECTED_ERRORS: &[&str] = &[
    "InvalidArgument: etcdserver: key is not provided",
    "InvalidArgument: etcdserver: key not found",
    "InvalidArgument: etcdserver: value is provided",
    "InvalidArgument: etcdserver: lease is provided",
    "InvalidArgument: etcdserver: too many operations in txn request",
    "InvalidArgument: etcdserver: duplicate key given in txn request",
    "InvalidArgument: etcdserver: request is too large",
    "NotFound: etcdserver: requested lease not found",
    "OutOfRange: etcdserver: mvcc: required revision has been compacted",
    "OutOfRange: etcdserver: mvcc: required revision is a future revision",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_answers_match_real_etcd() {
    let target = Server::from_env_var(TARGET_ENV, Server::from_env().unwrap()).unwrap();
    let seed = seed_from_env(DEFAULT_SEED).unwrap();
    let ops = ops_from_env(runner::DEFAULT_OPS).unwrap();
    eprintln!("comparing etcd with {target}: seed {seed}, {ops} operations");
    let (oracle, subject) = tokio::join!(
        Cluster::start(ClusterSpec::new(Server::Etcd, 1).token("oxt-diff-a")),
        Cluster::start(ClusterSpec::new(target, 1).token("oxt-diff-b")),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let mut oracle_kv = oracle.client(0).await.unwrap().kv;
    let mut subject_kv = subject.client(0).await.unwrap().kv;

    let started = std::time::Instant::now();
    let summary = runner::run(
        seed,
        ops,
        Side {
            label: "etcd".into(),
            kv: &mut oracle_kv,
        },
        Side {
            label: format!("{target} (under test)"),
            kv: &mut subject_kv,
        },
    )
    .await
    .unwrap_or_else(|mismatch| panic!("{mismatch:#}"));
    eprintln!(
        "{ops} operations agreed in {:.1?}\n{summary}",
        started.elapsed()
    );

    if ops >= COVERAGE_MIN_OPS {
        for kind in ["range", "put", "delete_range", "txn", "compact"] {
            assert!(summary.count(kind, true) > 0, "no successful {kind}");
            assert!(summary.count(kind, false) > 0, "no failed {kind}");
        }
        for error in EXPECTED_ERRORS {
            assert!(summary.errors_with(error) > 0, "never provoked {error:?}");
        }
        assert!(
            summary.errors.keys().any(|message| message
                .starts_with("ResourceExhausted: grpc: received message larger than max")),
            "never hit gRPC's message size limit"
        );
        assert!(summary.view.compact_revision > 0, "never compacted");
    }
}

/// Operations of the run in which oxcd sends every range in pieces.
const PIECES_OPS: usize = 3_000;

/// With `--range-buffer-bytes=0` every plain range that finds a key is encoded from a snapshot
/// in pieces (`grpc/range_in_pieces.rs`); etcd must still see no difference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_answers_match_real_etcd_with_every_range_sent_in_pieces() {
    let seed = seed_from_env(DEFAULT_SEED ^ 0x9ec0).unwrap();
    let (oracle, subject) = tokio::join!(
        Cluster::start(ClusterSpec::new(Server::Etcd, 1).token("oxt-diff-a")),
        Cluster::start(
            ClusterSpec::new(Server::Oxcd, 1)
                .token("oxt-diff-b")
                .args(["--range-buffer-bytes=0"])
        ),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let mut oracle_kv = oracle.client(0).await.unwrap().kv;
    let mut subject_kv = subject.client(0).await.unwrap().kv;
    let summary = runner::run(
        seed,
        PIECES_OPS,
        Side {
            label: "etcd".into(),
            kv: &mut oracle_kv,
        },
        Side {
            label: "oxcd, every range in pieces".into(),
            kv: &mut subject_kv,
        },
    )
    .await
    .unwrap_or_else(|mismatch| panic!("{mismatch:#}"));
    assert!(
        summary.count("range", true) > 100,
        "too few ranges:\n{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_difference_is_reported_with_seed_op_and_both_answers() {
    let (a, b) = tokio::join!(
        Cluster::start(ClusterSpec::new(Server::Etcd, 1)),
        Cluster::start(ClusterSpec::new(Server::Etcd, 1)),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut a_kv = a.client(0).await.unwrap().kv;
    let mut b_kv = b.client(0).await.unwrap().kv;
    // One extra write puts b a revision ahead, so the very first answer differs.
    b_kv.put(PutRequest {
        key: b"extra".to_vec(),
        ..PutRequest::default()
    })
    .await
    .unwrap();
    let error = runner::run(
        77,
        100,
        Side {
            label: "left".into(),
            kv: &mut a_kv,
        },
        Side {
            label: "right".into(),
            kv: &mut b_kv,
        },
    )
    .await
    .expect_err("diverged stores must not agree");
    let report = format!("{error:#}");
    for needle in [
        "left and right differ at op #0 of seed 77",
        "OXT_SEED=77",
        "request:",
        "left answered:",
        "right answered:",
    ] {
        assert!(
            report.contains(needle),
            "{needle:?} missing from:\n{report}"
        );
    }
}
