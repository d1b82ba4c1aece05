//! A watcher that never reads must not hurt anyone else: one stream watches every key with
//! prev_kv and is never read, while 1,000 healthy watchers (10 streams × 100) follow a prefix
//! and writers put both small values (which the healthy watchers follow) and large ones
//! (hundreds of MB in total, all of it owed to the stalled watcher).
//!
//! The same load runs twice, on two fresh members: once without the stalled watcher (the
//! baseline: the raft log, caches and allocator grow with the data written) and once with it.
//! Asserted: every healthy watcher receives every one of its events, in order, in both runs;
//! with the stalled watcher the member's memory grows by far less more than in the baseline
//! than what the stalled watcher is owed (so its events are not buffered); and once the
//! stalled stream is finally read, it delivers every event it was owed, in order — nothing was
//! dropped while it stalled. Latencies are reported, not asserted.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use oxcd_api::etcdserverpb::{PutRequest, WatchCreateRequest};
use oxcd_tests::watch_stream::WatchSession as Session;
use oxcd_tests::{Cluster, ClusterSpec, Server};

const HEALTHY_STREAMS: usize = 10;
const WATCHERS_PER_STREAM: usize = 100;
const SMALL_WRITES: usize = 600;
const LARGE_WRITES: usize = 600;
const LARGE_VALUE: usize = 256 * 1024;
const WRITERS: usize = 4;

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The stalled watcher's stream and the first revision it is owed.
struct Stalled {
    session: Session,
    start_revision: i64,
}

/// Runs the load on a fresh member, with a stalled watcher if `stalled`; returns the member's
/// RSS growth and the stalled watcher (still unread), keeping the member alive with it.
async fn run_load(stalled: bool) -> (u64, Option<(Stalled, Cluster)>) {
    let cluster = Cluster::start(ClusterSpec::new(Server::from_env().unwrap(), 1))
        .await
        .unwrap();
    let pid = cluster.member(0).pid().unwrap();
    let mut clients = cluster.client(0).await.unwrap();
    // The stalled watcher is another client with its own connection: on a shared HTTP/2
    // connection, the Rust client (h2) returns connection-level flow-control credit only as
    // the application reads, so an unread stream would stall its sibling streams client-side.
    let stalled = if stalled {
        let mut stalled_client = cluster.client(0).await.unwrap();
        let mut session = Session::open(&mut stalled_client.watch).await.unwrap();
        session
            .create(WatchCreateRequest {
                key: vec![0],
                range_end: vec![0],
                prev_kv: true,
                ..Default::default()
            })
            .await
            .unwrap();
        let created = session
            .next(Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        assert!(created.created);
        Some(Stalled {
            session,
            start_revision: created.header.unwrap().revision + 1,
        })
    } else {
        None
    };

    let mut healthy = Vec::new();
    for _ in 0..HEALTHY_STREAMS {
        let session = Session::open(&mut clients.watch).await.unwrap();
        for _ in 0..WATCHERS_PER_STREAM {
            session
                .create(WatchCreateRequest {
                    key: b"small/".to_vec(),
                    range_end: b"small0".to_vec(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        healthy.push(session);
    }
    // Writes start only once every watcher exists, so each one is owed every small write.
    for session in &mut healthy {
        let mut created = 0;
        while created < WATCHERS_PER_STREAM {
            let r = session
                .next(Duration::from_secs(30))
                .await
                .unwrap()
                .unwrap();
            assert!(r.created && !r.canceled, "{r:?}");
            created += 1;
        }
    }
    let readers: Vec<_> = healthy
        .into_iter()
        .map(|mut session| {
            tokio::spawn(async move {
                let mut last_rev: BTreeMap<i64, i64> = BTreeMap::new();
                let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
                let mut done_at = None;
                while done_at.is_none() {
                    let Some(r) = session.next(Duration::from_secs(60)).await? else {
                        let total: usize = counts.values().sum();
                        anyhow::bail!(
                            "a healthy stream went silent for a minute with {} watchers reporting, {total} events, last revisions {:?}",
                            counts.len(),
                            last_rev.values().collect::<std::collections::BTreeSet<_>>()
                        );
                    };
                    for e in &r.events {
                        let rev = e.kv.as_ref().map_or(0, |kv| kv.mod_revision);
                        let last = last_rev.entry(r.watch_id).or_insert(0);
                        anyhow::ensure!(rev > *last, "watch {} went from {last} to {rev}", r.watch_id);
                        *last = rev;
                        *counts.entry(r.watch_id).or_insert(0) += 1;
                    }
                    if counts.len() == WATCHERS_PER_STREAM
                        && counts.values().all(|n| *n == SMALL_WRITES)
                    {
                        done_at = Some(Instant::now());
                    }
                }
                Ok(done_at.unwrap())
            })
        })
        .collect();

    let rss_before = rss_bytes(pid);
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut kv = clients.kv.clone();
            tokio::spawn(async move {
                let mut slowest = Duration::ZERO;
                for i in (w..SMALL_WRITES.max(LARGE_WRITES)).step_by(WRITERS) {
                    for (key, value, due) in [
                        (
                            format!("small/{}", i % 50),
                            vec![b's'; 64],
                            i < SMALL_WRITES,
                        ),
                        (
                            format!("large/{}", i % 50),
                            vec![b'L'; LARGE_VALUE],
                            i < LARGE_WRITES,
                        ),
                    ] {
                        if !due {
                            continue;
                        }
                        let put = Instant::now();
                        kv.put(PutRequest {
                            key: key.into_bytes(),
                            value,
                            ..Default::default()
                        })
                        .await?;
                        slowest = slowest.max(put.elapsed());
                    }
                }
                anyhow::Ok(slowest)
            })
        })
        .collect();
    let mut slowest_put = Duration::ZERO;
    for writer in writers {
        slowest_put = slowest_put.max(writer.await.unwrap().unwrap());
    }
    let writes_done = Instant::now();
    let mut last_caught_up = writes_done;
    for reader in readers {
        last_caught_up = last_caught_up.max(reader.await.unwrap().unwrap());
    }
    let rss_after = rss_bytes(pid);
    eprintln!(
        "stalled watcher: {}; writes took {:?} (slowest put {slowest_put:?}); healthy watchers caught up {:?} \
         after the last write; RSS {} MiB -> {} MiB",
        stalled.is_some(),
        writes_done - started,
        last_caught_up - writes_done,
        rss_before >> 20,
        rss_after >> 20,
    );
    let growth = rss_after.saturating_sub(rss_before);
    (growth, stalled.map(|s| (s, cluster)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_watcher_neither_delays_others_nor_pins_memory() {
    let (baseline, _) = run_load(false).await;
    let (growth, stalled) = run_load(true).await;
    let (stalled, _cluster) = stalled.unwrap();
    let Stalled {
        session: mut stalled,
        start_revision,
    } = stalled;
    let owed = (LARGE_WRITES * LARGE_VALUE * 2) as u64;
    assert!(
        growth < baseline + owed / 4,
        "memory grew by {} MiB with a stalled watcher owed {} MiB, {} MiB without it: its events are being buffered",
        growth >> 20,
        owed >> 20,
        baseline >> 20
    );

    let expected = SMALL_WRITES + LARGE_WRITES;
    let mut received = 0;
    let mut next_rev = start_revision;
    while received < expected {
        let r = stalled
            .next(Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap_or_else(|| {
                panic!("the stalled stream stopped after {received} of {expected} events")
            });
        assert!(!r.canceled, "stalled watcher cancelled: {r:?}");
        for e in r.events {
            let kv = e.kv.unwrap();
            assert_eq!(
                kv.mod_revision, next_rev,
                "event {received} of the stalled watcher"
            );
            if kv.version > 1 {
                let prev = e.prev_kv.expect("prev_kv of an update");
                assert_eq!(prev.key, kv.key);
                assert!(prev.mod_revision < kv.mod_revision);
            }
            next_rev += 1;
            received += 1;
        }
    }
}

/// A progress request is answered while writes keep coming (a Kubernetes-style cache waits on
/// it), with a revision that is a true bookmark: no event at or below it arrives afterwards.
/// (etcd 3.5.1 answers at once with its current revision and can fail this: etcd-io/etcd#15220.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_requests_are_answered_under_steady_writes() {
    let cluster = Cluster::start(ClusterSpec::new(Server::from_env().unwrap(), 1))
        .await
        .unwrap();
    let mut clients = cluster.client(0).await.unwrap();
    let mut session = Session::open(&mut clients.watch).await.unwrap();
    for _ in 0..50 {
        session
            .create(WatchCreateRequest {
                key: b"busy/".to_vec(),
                range_end: b"busy0".to_vec(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (mut kv, stop) = (clients.kv.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let _ = kv
                        .put(PutRequest {
                            key: format!("busy/{w}-{}", i % 10).into_bytes(),
                            value: vec![b'x'; 32],
                            ..Default::default()
                        })
                        .await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut answered = 0;
    let mut bookmark = 0;
    let mut last_event = 0;
    for _ in 0..5 {
        session.request_progress().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(
                Instant::now() < deadline,
                "a progress request went unanswered for 10 s"
            );
            let Some(r) = session.next(Duration::from_secs(10)).await.unwrap() else {
                continue;
            };
            if let Some(e) = r.events.first() {
                let rev = e.kv.as_ref().unwrap().mod_revision;
                assert!(
                    rev > bookmark,
                    "event at {rev} after a bookmark at {bookmark}"
                );
            }
            if let Some(e) = r.events.last() {
                last_event = last_event.max(e.kv.as_ref().unwrap().mod_revision);
            }
            if r.watch_id == -1 && !r.created {
                let revision = r.header.unwrap().revision;
                assert!(
                    revision >= last_event,
                    "bookmark {revision} below a delivered event {last_event}"
                );
                bookmark = revision;
                answered += 1;
                break;
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(answered, 5);
}
