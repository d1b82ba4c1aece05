//! The `oxbench` binary against a real etcd 3.5.1 member: what it reports must match what etcd
//! stored.

use std::process::Command;
use std::time::{Duration, Instant};

use oxcd_api::etcdserverpb::kv_client::KvClient;
use oxcd_api::etcdserverpb::{PutRequest, RangeRequest};
use oxcd_testkit::etcd_cluster::Cluster;
use serde_json::Value;
use tonic::transport::Channel;

async fn ready_client(url: &str) -> KvClient<Channel> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut client) = KvClient::connect(url.to_string()).await
            && client
                .range(RangeRequest {
                    key: b"x".to_vec(),
                    ..Default::default()
                })
                .await
                .is_ok()
        {
            return client;
        }
        assert!(
            Instant::now() < deadline,
            "etcd did not become ready at {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn oxbench(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_oxbench"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "oxbench {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

async fn revision_and_count(client: &mut KvClient<Channel>) -> (i64, i64) {
    let all = RangeRequest {
        key: vec![0],
        range_end: vec![0],
        count_only: true,
        ..Default::default()
    };
    let response = client.range(all).await.unwrap().into_inner();
    (response.header.unwrap().revision, response.count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxbench_drives_real_etcd_and_reports_what_it_stored() {
    let etcd = Cluster::start(1);
    let mut client = ready_client(&etcd.members[0].client_url()).await;
    let endpoint = etcd.members[0].endpoint();

    let put = oxbench(&[
        "--endpoints",
        &endpoint,
        "--target-leader",
        "--clients",
        "5",
        "--conns",
        "2",
        "--total",
        "300",
        "--json",
        "put",
        "--sequential-keys",
        "--key-space-size",
        "300",
        "--val-size",
        "256",
    ]);
    let put: Value = serde_json::from_str(put.trim()).unwrap();
    assert_eq!(put["requests"], 300);
    assert_eq!(put["errors"], 0);
    assert!(put["requests_per_sec"].as_f64().unwrap() > 0.0);
    let (revision, count) = revision_and_count(&mut client).await;
    assert_eq!(count, 300, "every sequential key was written once");

    oxbench(&[
        "--endpoints",
        &endpoint,
        "--clients",
        "2",
        "--total",
        "10",
        "--json",
        "txn-put",
        "--txn-ops",
        "3",
        "--key-space-size",
        "30",
    ]);
    let (after_txns, _) = revision_and_count(&mut client).await;
    assert_eq!(after_txns, revision + 10, "one revision per txn");

    client
        .put(PutRequest {
            key: b"bench-key".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    let report = oxbench(&[
        "--endpoints",
        &endpoint,
        "--clients",
        "4",
        "--total",
        "50",
        "range",
        "bench-key",
        "--consistency",
        "l",
    ]);
    assert!(
        report.starts_with("bench with linearizable range\n\nSummary:\n"),
        "{report}"
    );
    assert!(report.contains("\nLatency distribution:\n"), "{report}");
    assert!(!report.contains("Error distribution"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxbench_lock_cycles_through_etcds_lock_service() {
    let etcd = Cluster::start(1);
    let mut client = ready_client(&etcd.members[0].client_url()).await;
    let endpoint = etcd.members[0].endpoint();
    let (before, _) = revision_and_count(&mut client).await;

    for names in ["1", "4"] {
        let report = oxbench(&[
            "--endpoints",
            &endpoint,
            "--clients",
            "4",
            "--conns",
            "4",
            "--total",
            "40",
            "--json",
            "lock",
            "--names",
            names,
        ]);
        let report: Value = serde_json::from_str(report.trim()).unwrap();
        assert_eq!(report["requests"], 40, "{names} names: {report}");
        assert_eq!(report["errors"], 0, "{names} names: {report}");
    }

    let (after, keys_left) = revision_and_count(&mut client).await;
    assert_eq!(
        after,
        before + 2 * 80,
        "every cycle is one lock put and one unlock delete"
    );
    assert_eq!(keys_left, 0, "every lock was released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxbench_defrag_stall_reports_etcds_defragmentation() {
    let etcd = Cluster::start(1);
    ready_client(&etcd.members[0].client_url()).await;
    let endpoint = etcd.members[0].endpoint();
    let shape = ["--key-space-size", "300", "--val-size", "1024"];
    let mut load = vec![
        "--endpoints",
        &endpoint,
        "--clients",
        "5",
        "--total",
        "300",
        "put",
        "--sequential-keys",
    ];
    load.extend(shape);
    oxbench(&load);

    let mut stall = vec![
        "--endpoints",
        &endpoint,
        "--clients",
        "3",
        "--conns",
        "3",
        "--json",
        "defrag-stall",
        "--thin",
        "--settle",
        "300ms",
    ];
    stall.extend(shape);
    let report: Value = serde_json::from_str(&oxbench(&stall)).unwrap();
    // Keys 64..300 whose number modulo 64 is below 32: 64..96, 128..160, 192..224, 256..288.
    assert_eq!(report["deleted_keys"], 128, "{report}");
    assert_eq!(report["member"], "leader");
    assert!(report["defrag_secs"].as_f64().unwrap() > 0.0, "{report}");
    assert!(report["db_size_before"].as_i64().unwrap() > 0, "{report}");
    assert!(report["db_size_after"].as_i64().unwrap() > 0, "{report}");
    let puts = report["puts"].as_u64().unwrap();
    assert!(puts > 0, "{report}");
    assert!(report["puts_during"].as_u64().unwrap() <= puts, "{report}");
    assert!(
        report["max_outside_secs"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert!(
        report["max_outside_secs"].as_f64() >= report["p99_outside_secs"].as_f64(),
        "{report}"
    );
    assert_eq!(report["errors"], 0, "{report}");
}
