//! The runner against an in-process KV server that records what it receives: request
//! counts, connection sharing, request contents and error accounting.

mod support;

use std::collections::HashSet;

use clap::Parser;
use oxcd_api::etcdserverpb::request_op;
use oxcd_bench::bench::run_benchmark;
use oxcd_bench::cli::Cli;
use oxcd_bench::keys::KeySpace;
use support::start_recording_kv;

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("oxbench").chain(args.iter().copied())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_exactly_total_requests_over_exactly_conns_connections() {
    let (endpoint, received) = start_recording_kv(0).await;
    let summary = run_benchmark(&cli(&[
        "--endpoints",
        &endpoint,
        "--clients",
        "16",
        "--conns",
        "3",
        "--total",
        "500",
        "put",
        "--key-space-size",
        "1000",
        "--sequential-keys",
        "--val-size",
        "32",
    ]))
    .await
    .unwrap();
    assert_eq!(summary.requests, 500);
    assert_eq!(summary.errors, 0);
    let received = received.lock().unwrap();
    assert_eq!(received.puts.len(), 500);
    assert_eq!(received.peers.len(), 3, "one TCP connection per --conns");
    let keys: HashSet<&Vec<u8>> = received.puts.iter().map(|put| &put.key).collect();
    assert_eq!(
        keys.len(),
        500,
        "sequential keys never repeat within the key space"
    );
    let space = KeySpace::new(1000, 8).unwrap();
    let expected: HashSet<Vec<u8>> = (0..500).map(|i| space.key(i)).collect();
    assert_eq!(keys, expected.iter().collect());
    assert!(received.puts.iter().all(|put| put.value.len() == 32));
    let value = &received.puts[0].value;
    assert!(
        received.puts.iter().all(|put| &put.value == value),
        "one shared value"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_round_robin_over_endpoints() {
    let (first, first_received) = start_recording_kv(0).await;
    let (second, second_received) = start_recording_kv(0).await;
    let endpoints = format!("{first},{second}");
    run_benchmark(&cli(&[
        "--endpoints",
        &endpoints,
        "--clients",
        "4",
        "--conns",
        "4",
        "--total",
        "400",
        "put",
    ]))
    .await
    .unwrap();
    let first = first_received.lock().unwrap();
    let second = second_received.lock().unwrap();
    assert_eq!(first.peers.len(), 2);
    assert_eq!(second.peers.len(), 2);
    assert_eq!(first.puts.len() + second.puts.len(), 400);
    assert!(!first.puts.is_empty() && !second.puts.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_requests_carry_range_limit_and_consistency() {
    let (endpoint, received) = start_recording_kv(0).await;
    let summary = run_benchmark(&cli(&[
        "--endpoints",
        &endpoint,
        "--clients",
        "2",
        "--total",
        "20",
        "range",
        "a",
        "z",
        "--consistency",
        "s",
        "--limit",
        "5",
    ]))
    .await
    .unwrap();
    assert_eq!(summary.requests, 20);
    let received = received.lock().unwrap();
    assert_eq!(received.ranges.len(), 20);
    for range in &received.ranges {
        assert_eq!(
            (range.key.as_slice(), range.range_end.as_slice()),
            (&b"a"[..], &b"z"[..])
        );
        assert_eq!(range.limit, 5);
        assert!(range.serializable);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txn_put_sends_txns_of_txn_ops_distinct_puts() {
    let (endpoint, received) = start_recording_kv(0).await;
    run_benchmark(&cli(&[
        "--endpoints",
        &endpoint,
        "--clients",
        "3",
        "--total",
        "30",
        "txn-put",
        "--txn-ops",
        "4",
        "--key-space-size",
        "100",
        "--val-size",
        "16",
    ]))
    .await
    .unwrap();
    let received = received.lock().unwrap();
    assert_eq!(received.txns.len(), 30);
    for txn in &received.txns {
        assert!(txn.compare.is_empty() && txn.failure.is_empty());
        let keys: HashSet<&Vec<u8>> = txn
            .success
            .iter()
            .map(|op| match &op.request {
                Some(request_op::Request::RequestPut(put)) => &put.key,
                other => panic!("expected a put, got {other:?}"),
            })
            .collect();
        assert_eq!(keys.len(), 4);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_requests_are_counted_by_error_and_not_timed() {
    let (endpoint, _received) = start_recording_kv(4).await;
    let summary = run_benchmark(&cli(&[
        "--endpoints",
        &endpoint,
        "--clients",
        "2",
        "--total",
        "100",
        "put",
    ]))
    .await
    .unwrap();
    assert_eq!(summary.requests, 75);
    assert_eq!(summary.errors, 25);
    assert_eq!(
        summary.error_distribution["rpc error: code = Unavailable desc = injected failure"],
        25
    );
    let histogram_total: u64 = summary.histogram.iter().map(|bucket| bucket.count).sum();
    assert_eq!(histogram_total, 75);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_fails_before_the_run() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap().to_string();
    drop(listener);
    let err = run_benchmark(&cli(&[
        "--endpoints",
        &closed,
        "--dial-timeout",
        "2s",
        "put",
    ]))
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("dial http://"), "{err:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_workloads_are_rejected_before_dialling() {
    let err = run_benchmark(&cli(&[
        "--endpoints",
        "127.0.0.1:1",
        "txn-put",
        "--txn-ops",
        "3",
        "--key-space-size",
        "2",
    ]))
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("--txn-ops no larger than"),
        "{err}"
    );
}
