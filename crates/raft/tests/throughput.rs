//! Throughput measurement (not an assertion): a 3-member cluster on loopback, many concurrent
//! proposers, time until every member applied everything. Run with
//! `cargo test -p oxcd-raft --test throughput -- --ignored --nocapture`; `OXT_RAFT_BENCH_ENTRIES`
//! and `OXT_RAFT_BENCH_CLIENTS` change its size.

mod common;

use std::time::{Duration, Instant};

use common::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, run on demand"]
async fn measure_proposal_throughput() {
    let total: usize = std::env::var("OXT_RAFT_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let clients: usize = std::env::var("OXT_RAFT_BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let mut cluster = Cluster::start(3, 1_000_000, 5_000).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let handle = cluster.handle(leader);
    let payload = vec![b'x'; 256];
    let started = Instant::now();
    let per_client = total / clients;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let h = handle.clone();
            let p = payload.clone();
            tokio::spawn(async move {
                for _ in 0..per_client {
                    common::propose(&h, p.clone()).await.expect("propose");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("proposer");
    }
    let proposed = started.elapsed();
    cluster
        .wait_applied_count(&[1, 2, 3], per_client * clients)
        .await;
    let applied = started.elapsed();
    let n = (per_client * clients) as f64;
    println!(
        "{} entries of {} B from {clients} proposers: accepted in {proposed:?}, applied on all \
         members in {applied:?} ({:.0} entries/s)",
        per_client * clients,
        payload.len(),
        n / applied.as_secs_f64()
    );

    let reads = 20_000;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let h = handle.clone();
            tokio::spawn(async move {
                for _ in 0..reads / clients {
                    h.read_index().await.expect("read index");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("reader");
    }
    let took = started.elapsed();
    println!(
        "{} read_index calls from {clients} callers in {took:?} ({:.0} reads/s)",
        reads / clients * clients,
        (reads / clients * clients) as f64 / took.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    cluster.stop_all().await;
}
