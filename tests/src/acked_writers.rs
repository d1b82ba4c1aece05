//! Writers that keep putting unique keys through every member while a test breaks one of
//! them, remembering which puts were acknowledged — the writes that must all be present
//! afterwards, on every member.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use oxcd_api::etcdserverpb::{PutRequest, RangeRequest};
use tokio::task::JoinHandle;

use crate::cluster::Cluster;
use crate::convergence::{current_revision, hashkv_agree};
use crate::grpc;

/// One writer per endpoint, each putting `<prefix>/<writer>/<n>` one at a time.
pub struct AckedWriters {
    acked: Arc<Mutex<BTreeSet<String>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl AckedWriters {
    /// Starts a writer on each of `endpoints`, with values of `value_bytes`.
    pub fn start(endpoints: &[String], prefix: &str, value_bytes: usize) -> AckedWriters {
        let acked = Arc::new(Mutex::new(BTreeSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = endpoints
            .iter()
            .enumerate()
            .map(|(i, endpoint)| {
                let key_prefix = format!("{prefix}/{i}");
                tokio::spawn(write_until_stopped(
                    endpoint.clone(),
                    key_prefix,
                    value_bytes,
                    acked.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        AckedWriters { acked, stop, tasks }
    }

    /// How many puts were acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// The keys whose puts were acknowledged so far.
    pub fn acknowledged_keys(&self) -> BTreeSet<String> {
        self.acked.lock().unwrap().clone()
    }

    /// Stops the writers and returns every acknowledged key.
    pub async fn stop(self) -> BTreeSet<String> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
        self.acked.lock().unwrap().clone()
    }
}

async fn write_until_stopped(
    endpoint: String,
    prefix: String,
    value_bytes: usize,
    acked: Arc<Mutex<BTreeSet<String>>>,
    stop: Arc<AtomicBool>,
) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut clients) = grpc::connect_with_timeout(&endpoint, Duration::from_secs(2)).await
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        while !stop.load(Ordering::Relaxed) {
            let key = format!("{prefix}/{n:06}");
            n += 1;
            let put = clients.kv.put(PutRequest {
                key: key.clone().into_bytes(),
                value: vec![b'v'; value_bytes],
                ..PutRequest::default()
            });
            match put.await {
                Ok(_) => {
                    acked.lock().unwrap().insert(key);
                }
                Err(_) => break,
            }
        }
    }
}

/// The keys under `prefix` that member `i` holds (a serializable read of its own state).
pub async fn keys_on(cluster: &Cluster, i: usize, prefix: &str) -> Result<BTreeSet<String>> {
    let mut clients = cluster.client(i).await?;
    let mut end = format!("{prefix}/").into_bytes();
    *end.last_mut().expect("not empty") += 1;
    let answer = clients
        .kv
        .range(RangeRequest {
            key: format!("{prefix}/").into_bytes(),
            range_end: end,
            keys_only: true,
            serializable: true,
            ..RangeRequest::default()
        })
        .await?
        .into_inner();
    Ok(answer
        .kvs
        .into_iter()
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect())
}

/// Checks that every member holds every key in `acked` (under `prefix`) and that their
/// `HashKV` agree at the current revision.
pub async fn assert_nothing_lost(cluster: &Cluster, acked: &BTreeSet<String>, prefix: &str) {
    let revision = current_revision(cluster, 0).await.unwrap();
    hashkv_agree(cluster, revision, Duration::from_secs(60))
        .await
        .unwrap();
    for i in 0..cluster.size() {
        let present = keys_on(cluster, i, prefix).await.unwrap();
        let missing: Vec<_> = acked.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "member {}: {} acknowledged keys missing, e.g. {:?}",
            i + 1,
            missing.len(),
            &missing[..missing.len().min(5)]
        );
    }
}

/// Checks with real etcdctl that each of `endpoints` holds every key in `acked` (a
/// serializable read of the member's own state), and that there were some to check.
pub async fn assert_endpoints_hold(endpoints: &[String], acked: &BTreeSet<String>, prefix: &str) {
    assert!(
        acked.len() > 10,
        "only {} writes were acknowledged",
        acked.len()
    );
    for endpoint in endpoints {
        let held = crate::Etcdctl::new([endpoint.as_str()])
            .ok(&[
                "get",
                "--prefix",
                &format!("{prefix}/"),
                "--keys-only",
                "--consistency=s",
            ])
            .await
            .unwrap()
            .stdout;
        let held: BTreeSet<String> = held
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        let missing: Vec<_> = acked.difference(&held).take(5).collect();
        assert!(
            missing.is_empty(),
            "{endpoint} lacks acknowledged keys, e.g. {missing:?}"
        );
    }
}
