//! Quick throughput and memory measurement of the store, without the server: puts through
//! apply batches (100 per batch, non-durable commits as the apply loop does between fsyncs),
//! single-key and 100-key ranges from concurrent readers, compaction, and the resident memory
//! with the keys loaded.
//!
//! `cargo run --release -p oxcd-mvcc --example bench -- [KEYS] [VALUE_BYTES]`

use std::sync::Arc;
use std::time::Instant;

use oxcd_api::etcdserverpb::{PutRequest, RangeRequest};
use oxcd_mvcc::{Backend, KvStore};

const PER_BATCH: usize = 100;
/// The server fsyncs the backend every 10,000 entries; in between, commits are not durable.
const DURABLE_EVERY_BATCHES: usize = 100;
const READERS: usize = 2;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn key(i: usize) -> Vec<u8> {
    // Spread keys over the key space like a hashed workload.
    format!(
        "key{:012}",
        (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) % 1_000_000_000_000
    )
    .into_bytes()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let keys: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let value_len: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(256);
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = Arc::new(Backend::open(&dir.path().join("db")).expect("backend"));
    let store = Arc::new(KvStore::open(backend.clone()).expect("store"));
    let value = vec![b'x'; value_len];
    let no_leases = |_: i64| false;
    println!("rss at start: {:.1} MiB", rss_mib());

    let start = Instant::now();
    let mut req = PutRequest {
        value: value.clone(),
        ..Default::default()
    };
    for (n, batch_start) in (0..keys).step_by(PER_BATCH).enumerate() {
        let mut batch = store.begin_apply().expect("begin");
        for i in batch_start..(batch_start + PER_BATCH).min(keys) {
            req.key = key(i);
            batch.put(&req, &no_leases).expect("put");
        }
        batch
            .commit(n % DURABLE_EVERY_BATCHES == DURABLE_EVERY_BATCHES - 1)
            .expect("commit");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "put: {keys} keys x {value_len} B, {PER_BATCH}/batch: {:.0} puts/s ({secs:.2} s)",
        keys as f64 / secs
    );
    println!(
        "rss with {keys} keys: {:.1} MiB; db file {:.1} MiB",
        rss_mib(),
        backend.size() as f64 / 1048576.0
    );

    let start = Instant::now();
    let mut batch = store.begin_apply().expect("begin");
    for i in 0..keys.min(100_000) {
        req.key = key(i);
        batch.put(&req, &no_leases).expect("put");
    }
    batch.commit(true).expect("commit");
    println!(
        "update 100k existing keys in one batch: {:.2} s",
        start.elapsed().as_secs_f64()
    );

    let mut sorted: Vec<Vec<u8>> = (0..keys).map(key).collect();
    sorted.sort();
    let sorted = Arc::new(sorted);
    for (name, span) in [("get 1 key", 0usize), ("range 100 keys", 100)] {
        let per_reader = if span == 0 { 200_000 } else { 20_000 };
        let start = Instant::now();
        let handles: Vec<_> = (0..READERS)
            .map(|r| {
                let store = store.clone();
                let sorted = sorted.clone();
                std::thread::spawn(move || {
                    for n in 0..per_reader {
                        let i = (n * 7919 + r * 104_729) % keys;
                        let req = if span == 0 {
                            RangeRequest {
                                key: key(i),
                                ..Default::default()
                            }
                        } else {
                            let start = i.min(keys.saturating_sub(span + 1));
                            RangeRequest {
                                key: sorted[start].clone(),
                                range_end: sorted[start + span].clone(),
                                ..Default::default()
                            }
                        };
                        store.range(&req).expect("range");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("reader");
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name}: {:.0} ranges/s with {READERS} readers",
            (per_reader * READERS) as f64 / secs
        );
    }

    let start = Instant::now();
    let hash = store.hash_kv(0).expect("hash");
    println!(
        "hash_kv over {} revisions: {:.2} s",
        hash.1,
        start.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let mut batch = store.begin_apply().expect("begin");
    let done = batch.compact(store.current_revision()).expect("compact");
    let scheduled = start.elapsed();
    batch.commit(false).expect("commit");
    done.wait_blocking().expect("compaction");
    println!(
        "compaction: scheduled in {:.1} ms, physically done in {:.2} s",
        scheduled.as_secs_f64() * 1000.0,
        start.elapsed().as_secs_f64()
    );
    println!("rss at end: {:.1} MiB", rss_mib());

    drop(store);
    let start = Instant::now();
    let store = KvStore::open(backend).expect("reopen");
    println!(
        "reopen (rebuild index of {} keys): {:.2} s",
        store.indexed_keys(),
        start.elapsed().as_secs_f64()
    );
}
