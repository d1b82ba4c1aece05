//! Differential test of the Watch service: a seeded script of writes (puts, deletes, range
//! deletes, multi-key txns, compactions) and watch requests (creates of every kind — one key,
//! prefix, range, open range, empty and reversed ranges, past / compacted / future start revision, filters, prev_kv,
//! fragments, client-chosen and duplicate ids — cancels of known and unknown ids, progress
//! requests) on two streams goes to a single-member real etcd 3.5.1 and to the server under
//! test. After every step both streams are drained; each watcher's sequence of responses must
//! be identical on both servers, member-specific header fields aside.
//!
//! `OXT_SEED` overrides the seed, `OXT_WATCH_STEPS` the number of steps.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use oxcd_api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use oxcd_api::etcdserverpb::request_op::Request as Op;
use oxcd_api::etcdserverpb::watch_create_request::FilterType;
use oxcd_api::etcdserverpb::{
    CompactionRequest, Compare, DeleteRangeRequest, PutRequest, RequestOp, TxnRequest,
    WatchCreateRequest, WatchResponse,
};
use oxcd_testkit::rng::{SeededRng, seed_from_env};
use oxcd_tests::grpc::Clients;
use oxcd_tests::watch_stream::WatchSession;
use oxcd_tests::{Cluster, ClusterSpec, Server};

const DEFAULT_SEED: u64 = 0x3a7c_4e11;
const DEFAULT_STEPS: usize = 220;
/// Small enough that a range delete of every key with prev_kv needs fragments.
const MAX_REQUEST_BYTES: &str = "8192";
/// How long a stream must stay silent before a step counts as fully answered. etcd moves
/// watchers that start in the past every 100 ms, so this is comfortably more.
const QUIET: Duration = Duration::from_millis(250);
const QUIET_AFTER_WRITE: Duration = Duration::from_millis(60);
const STREAMS: usize = 2;
const KEYS: &[&str] = &["w/a", "w/b", "w/c", "w/d", "w/e", "w/f", "x"];

/// One step of the script; both servers run the same steps.
#[derive(Debug, Clone)]
enum Step {
    Write(Op),
    Compact(i64),
    Create(usize, WatchCreateRequest),
    Cancel(usize, i64),
    Progress(usize),
}

struct Script {
    rng: SeededRng,
    revision: i64,
    compacted: i64,
    live: Vec<bool>,
}

impl Script {
    fn key(&mut self) -> Vec<u8> {
        self.rng.pick(KEYS).as_bytes().to_vec()
    }

    fn value(&mut self) -> Vec<u8> {
        let len = if self.rng.percent(10) {
            700
        } else {
            1 + self.rng.index(40)
        };
        self.rng.bytes(len)
    }

    fn step(&mut self) -> Step {
        let roll = self.rng.below(100);
        match roll {
            0..=39 => {
                let key = self.key();
                let value = self.value();
                self.record_put(&key);
                Step::Write(Op::RequestPut(PutRequest {
                    key,
                    value,
                    ..Default::default()
                }))
            }
            40..=47 => {
                let key = self.key();
                let index = KEYS.iter().position(|k| k.as_bytes() == key.as_slice());
                if let Some(i) = index
                    && std::mem::take(&mut self.live[i])
                {
                    self.revision += 1;
                }
                Step::Write(Op::RequestDeleteRange(DeleteRangeRequest {
                    key,
                    ..Default::default()
                }))
            }
            48..=50 => {
                let any = self.live[..6].iter().any(|l| *l);
                self.live[..6].iter_mut().for_each(|l| *l = false);
                self.revision += i64::from(any);
                Step::Write(Op::RequestDeleteRange(DeleteRangeRequest {
                    key: b"w/".to_vec(),
                    range_end: b"w0".to_vec(),
                    prev_kv: self.rng.percent(50),
                }))
            }
            51..=56 => {
                let mut ops = Vec::new();
                let mut keys: Vec<Vec<u8>> = Vec::new();
                for _ in 0..3 {
                    let key = self.key();
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
                for key in keys {
                    let index = KEYS.iter().position(|k| k.as_bytes() == key.as_slice());
                    if let Some(i) = index {
                        self.live[i] = true;
                    }
                    let value = self.value();
                    ops.push(RequestOp {
                        request: Some(Op::RequestPut(PutRequest {
                            key,
                            value,
                            ..Default::default()
                        })),
                    });
                }
                self.revision += 1;
                Step::Write(Op::RequestTxn(TxnRequest {
                    compare: vec![Compare {
                        result: CompareResult::Greater as i32,
                        target: CompareTarget::Version as i32,
                        key: b"never".to_vec(),
                        target_union: Some(TargetUnion::Version(-1)),
                        ..Default::default()
                    }],
                    success: ops,
                    failure: Vec::new(),
                }))
            }
            57..=59 if self.revision > self.compacted + 1 => {
                let rev = self.rng.range_i64(self.compacted + 1, self.revision);
                self.compacted = rev;
                Step::Compact(rev)
            }
            57..=84 => Step::Create(self.rng.index(STREAMS), self.create()),
            85..=94 => Step::Cancel(self.rng.index(STREAMS), self.rng.range_i64(0, 12)),
            _ => Step::Progress(self.rng.index(STREAMS)),
        }
    }

    fn record_put(&mut self, key: &[u8]) {
        if let Some(i) = KEYS.iter().position(|k| k.as_bytes() == key) {
            self.live[i] = true;
        }
        self.revision += 1;
    }

    fn create(&mut self) -> WatchCreateRequest {
        let (key, range_end): (&[u8], &[u8]) = match self.rng.below(14) {
            0..=4 => (self.rng.pick(KEYS).as_bytes(), b""),
            5 | 6 => (b"w/", b"w0"),
            7 | 8 => (b"w/b", b"w/e"),
            9 | 10 => (b"w/c", b"\0"),
            11 => (b"\0", b"\0"),
            12 => (b"", b""),
            _ => (b"w/e", b"w/b"),
        };
        let start_revision = if self.rng.percent(55) {
            0
        } else {
            self.rng.range_i64(1, self.revision + 3)
        };
        let mut filters = Vec::new();
        if self.rng.percent(15) {
            filters.push(FilterType::Noput as i32);
        }
        if self.rng.percent(15) {
            filters.push(FilterType::Nodelete as i32);
        }
        WatchCreateRequest {
            key: key.to_vec(),
            range_end: range_end.to_vec(),
            start_revision,
            filters,
            prev_kv: self.rng.percent(40),
            fragment: self.rng.percent(40),
            watch_id: if self.rng.percent(30) {
                self.rng.range_i64(1, 8)
            } else {
                0
            },
            progress_notify: false,
        }
    }
}

/// Each watcher's responses on each stream, in order: `(stream, watch_id)` → responses.
type Transcript = BTreeMap<(usize, i64), Vec<WatchResponse>>;

struct Subject {
    clients: Clients,
    streams: Vec<WatchSession>,
    transcript: Transcript,
}

impl Subject {
    async fn open(cluster: &Cluster) -> Result<Subject> {
        let mut clients = cluster.client(0).await?;
        let mut streams = Vec::new();
        for _ in 0..STREAMS {
            streams.push(WatchSession::open(&mut clients.watch).await?);
        }
        Ok(Subject {
            clients,
            streams,
            transcript: Transcript::new(),
        })
    }

    async fn run(&mut self, step: &Step) -> Result<()> {
        let quiet = match step {
            Step::Write(op) => {
                let kv = &mut self.clients.kv;
                match op.clone() {
                    Op::RequestPut(put) => drop(kv.put(put).await?),
                    Op::RequestDeleteRange(delete) => drop(kv.delete_range(delete).await?),
                    Op::RequestTxn(txn) => drop(kv.txn(txn).await?),
                    Op::RequestRange(range) => drop(kv.range(range).await?),
                }
                QUIET_AFTER_WRITE
            }
            Step::Compact(revision) => {
                self.clients
                    .kv
                    .compact(CompactionRequest {
                        revision: *revision,
                        physical: true,
                    })
                    .await?;
                QUIET
            }
            Step::Create(stream, create) => {
                self.streams[*stream].create(create.clone()).await?;
                QUIET
            }
            Step::Cancel(stream, id) => {
                self.streams[*stream].cancel(*id).await?;
                QUIET
            }
            Step::Progress(stream) => {
                self.streams[*stream].request_progress().await?;
                QUIET
            }
        };
        for (i, stream) in self.streams.iter_mut().enumerate() {
            for mut response in stream.drain(quiet).await? {
                if let Some(header) = &mut response.header {
                    header.cluster_id = 0;
                    header.member_id = 0;
                    header.raft_term = 0;
                }
                self.transcript
                    .entry((i, response.watch_id))
                    .or_default()
                    .push(response);
            }
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_answers_match_real_etcd() {
    let target = Server::from_env().unwrap();
    let seed = seed_from_env(DEFAULT_SEED).unwrap();
    let steps: usize = std::env::var("OXT_WATCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_STEPS);
    eprintln!("comparing etcd with {target}: seed {seed}, {steps} steps");
    let args = ["--max-request-bytes", MAX_REQUEST_BYTES];
    let (oracle, subject) = tokio::join!(
        Cluster::start(
            ClusterSpec::new(Server::Etcd, 1)
                .token("oxt-watch-a")
                .args(args)
        ),
        Cluster::start(ClusterSpec::new(target, 1).token("oxt-watch-b").args(args)),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let mut etcd = Subject::open(&oracle).await.unwrap();
    let mut other = Subject::open(&subject).await.unwrap();

    // Both stores start at the same revision (etcd and oxcd both begin at 1).
    let mut script = Script {
        rng: SeededRng::new(seed),
        revision: 1,
        compacted: 0,
        live: vec![false; KEYS.len()],
    };
    for i in 0..steps {
        let step = script.step();
        let (a, b) = tokio::join!(etcd.run(&step), other.run(&step));
        if let Err(e) = a.and(b) {
            panic!("step {i} ({step:?}) failed: {e:#}");
        }
    }
    // Responses that came late (a loaded machine) still count: they are per watcher, in order.
    let (a, b) = tokio::join!(etcd.run(&Step::Progress(0)), other.run(&Step::Progress(0)));
    a.and(b).unwrap();

    let mut differences = Vec::new();
    let keys: std::collections::BTreeSet<_> = etcd
        .transcript
        .keys()
        .chain(other.transcript.keys())
        .copied()
        .collect();
    for key in keys {
        let (a, b) = (etcd.transcript.get(&key), other.transcript.get(&key));
        let (a, b) = (
            a.map_or(&[][..], Vec::as_slice),
            b.map_or(&[][..], Vec::as_slice),
        );
        if a != b {
            let at = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            differences.push(format!(
                "stream {} watch {} differs at response {at} of {}/{}:\n  etcd:    {:?}\n  {target}: {:?}",
                key.0,
                key.1,
                a.len(),
                b.len(),
                a.get(at),
                b.get(at)
            ));
        }
    }
    let responses: usize = etcd.transcript.values().map(Vec::len).sum();
    let events: usize = etcd
        .transcript
        .values()
        .flatten()
        .map(|r| r.events.len())
        .sum();
    eprintln!(
        "{} watchers, {responses} responses, {events} events compared",
        etcd.transcript.len()
    );
    assert!(
        differences.is_empty(),
        "{} of {} watchers answered differently (seed {seed}):\n{}",
        differences.len(),
        etcd.transcript.len().max(other.transcript.len()),
        differences.join("\n")
    );
    assert!(
        events > 200,
        "the script produced too few events ({events})"
    );
}

/// Watchers that ask for progress notifications hear the current revision periodically while
/// nothing happens, and not right after they were sent events; compared with etcd, both
/// started with a short notification interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_notifications_match_real_etcd() {
    let target = Server::from_env().unwrap();
    let args = ["--experimental-watch-progress-notify-interval", "400ms"];
    let (oracle, subject) = tokio::join!(
        Cluster::start(
            ClusterSpec::new(Server::Etcd, 1)
                .token("oxt-progress-a")
                .args(args)
        ),
        Cluster::start(
            ClusterSpec::new(target, 1)
                .token("oxt-progress-b")
                .args(args)
        ),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let (etcd, other) = tokio::join!(progress_script(&oracle), progress_script(&subject));
    let (etcd, other) = (etcd.unwrap(), other.unwrap());
    eprintln!("etcd: {etcd:?}");
    assert_eq!(etcd, other, "progress notifications differ (etcd first)");
}

/// What a progress-notify watcher and a plain one see over a quiet period, a write and a quiet
/// period again: per watcher, the kinds of responses and their revisions (repeated progress
/// notifications of one revision counted once, since their number depends on timing).
async fn progress_script(cluster: &Cluster) -> Result<Vec<String>> {
    let mut clients = cluster.client(0).await?;
    let mut stream = WatchSession::open(&mut clients.watch).await?;
    for progress_notify in [true, false] {
        stream
            .create(WatchCreateRequest {
                key: b"p".to_vec(),
                progress_notify,
                ..Default::default()
            })
            .await?;
    }
    let mut seen = Vec::new();
    let mut record = |responses: Vec<WatchResponse>| {
        for r in responses {
            let kind = match (r.created, r.events.len()) {
                (true, _) => "created".to_string(),
                (false, 0) => "progress".to_string(),
                (false, n) => format!("{n} events"),
            };
            let line = format!(
                "watch {}: {kind} at {}",
                r.watch_id,
                r.header.map_or(0, |h| h.revision)
            );
            if seen.last() != Some(&line) {
                seen.push(line);
            }
        }
    };
    record(stream.collect_for(Duration::from_millis(1500)).await?);
    clients
        .kv
        .put(PutRequest {
            key: b"p".to_vec(),
            value: b"1".to_vec(),
            ..Default::default()
        })
        .await?;
    record(stream.collect_for(Duration::from_millis(1500)).await?);
    seen.sort();
    seen.dedup();
    Ok(seen)
}
