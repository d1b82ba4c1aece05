//! A range far larger than `--range-buffer-bytes` is sent in pieces: the serving member's peak
//! memory grows by a small fraction of the response (etcd builds the whole response and grows
//! by about twice its size), and the client gets every pair intact.

use oxcd_api::etcdserverpb::{PutRequest, RangeRequest};
use oxcd_tests::{Cluster, ClusterSpec, Server};

/// Values written, and their size: 256 MiB of response.
const VALUES: usize = 256;
const VALUE_BYTES: usize = 1024 * 1024;

/// The most the member's peak RSS may grow while answering: the redb cache (64 MiB) it may
/// fill reading the values, the pieces under way and slack, against the 512 MiB and more that
/// building the response whole takes.
const MAX_GROWTH_KIB: u64 = 128 * 1024;

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn value(i: usize) -> Vec<u8> {
    vec![(i % 251) as u8; VALUE_BYTES]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_larger_than_memory_budget_is_sent_in_pieces() {
    let cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 1))
        .await
        .unwrap();
    let mut kv = cluster.client(0).await.unwrap().kv;
    for i in 0..VALUES {
        kv.put(PutRequest {
            key: format!("big/{i:04}").into_bytes(),
            value: value(i),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let pid = cluster.member(0).pid().expect("member runs");
    let before = status_kib(pid, "VmRSS:");
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();

    let response = kv
        .range(RangeRequest {
            key: b"big/".to_vec(),
            range_end: b"big0".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let growth = status_kib(pid, "VmHWM:").saturating_sub(before);

    assert_eq!(response.count, VALUES as i64);
    assert!(!response.more);
    assert_eq!(response.kvs.len(), VALUES);
    for (i, pair) in response.kvs.iter().enumerate() {
        assert_eq!(pair.key, format!("big/{i:04}").into_bytes());
        assert!(pair.value == value(i), "value of {i} differs");
    }
    let header = response.header.expect("header");
    assert!(header.cluster_id != 0 && header.member_id != 0 && header.raft_term != 0);
    assert_eq!(header.revision, VALUES as i64 + 1);
    eprintln!(
        "peak RSS grew by {} MiB for a {} MiB response",
        growth / 1024,
        (VALUES * VALUE_BYTES) >> 20
    );
    assert!(
        growth < MAX_GROWTH_KIB,
        "peak RSS grew by {growth} KiB answering the range"
    );
}
