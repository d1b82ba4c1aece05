//! Workload clients: concurrent tasks that each send one request at a time (puts, reads,
//! deletes, compare-and-swap and multi-key txns on a small key space, so they contend) to
//! the cluster's members, and record every request in the history.
//!
//! Each client has its own connection, to member `client mod members`, and moves to the
//! next member when a request fails, as an etcd client balancing over endpoints would. Every
//! value written is unique (`c{client}-{sequence}`), so a read names the write it saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use oxcd_api::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, compare,
    request_op, response_op,
};
use oxcd_testkit::rng::SeededRng;
use tonic::Code;

use super::history::{Completion, Observed, Op, Outcome, Record};
use crate::grpc::{self, Clients};

/// How the clients behave.
#[derive(Debug, Clone)]
pub struct WorkloadSpec {
    /// Concurrent clients.
    pub clients: usize,
    /// Keys they share.
    pub keys: usize,
    /// Client endpoints (`http://ip:port`), one per member.
    pub endpoints: Vec<String>,
    /// Seed of the clients' choices (client `i` uses `seed + i`).
    pub seed: u64,
    /// Whether clients also send serializable reads.
    pub serializable_reads: bool,
    /// How long one request may take before it counts as indeterminate.
    pub request_timeout: Duration,
    /// Pause between a client's requests.
    pub think_time: Duration,
}

/// A running workload; [`Workload::stop`] ends it and returns the history.
pub struct Workload {
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<Vec<Record>>>,
}

impl Workload {
    /// Starts every client; `epoch` is time zero of the history.
    pub fn start(spec: &WorkloadSpec, epoch: Instant) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..spec.clients)
            .map(|client| {
                let (spec, stop) = (spec.clone(), stop.clone());
                tokio::spawn(async move { run_client(client, &spec, epoch, &stop).await })
            })
            .collect();
        Workload { stop, clients }
    }

    /// Lets every client finish its current request and collects their records.
    pub async fn stop(self) -> Vec<Record> {
        self.stop.store(true, Ordering::Relaxed);
        let mut records = Vec::new();
        for client in self.clients {
            records.extend(client.await.unwrap_or_default());
        }
        records.sort_by_key(|r| r.invoked_ns);
        records
    }
}

/// The key names of a workload.
pub fn key_name(i: usize) -> Vec<u8> {
    format!("robust/{i}").into_bytes()
}

fn since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

async fn run_client(
    client: usize,
    spec: &WorkloadSpec,
    epoch: Instant,
    stop: &AtomicBool,
) -> Vec<Record> {
    let mut rng = SeededRng::new(spec.seed.wrapping_add(client as u64));
    let mut records = Vec::new();
    let mut endpoint = client % spec.endpoints.len();
    let mut connection: Option<Clients> = None;
    let mut sequence = 0u64;
    // The last modification revision this client saw per key, for compare-and-swap.
    let mut known_mod_revision = vec![0i64; spec.keys];
    while !stop.load(Ordering::Relaxed) {
        let clients = match &connection {
            Some(c) => c.clone(),
            None => {
                match grpc::connect_with_timeout(&spec.endpoints[endpoint], spec.request_timeout)
                    .await
                {
                    Ok(c) => {
                        connection = Some(c.clone());
                        c
                    }
                    Err(_) => {
                        endpoint = (endpoint + 1) % spec.endpoints.len();
                        tokio::time::sleep(spec.think_time.max(Duration::from_millis(50))).await;
                        continue;
                    }
                }
            }
        };
        sequence += 1;
        let op = choose(&mut rng, client, sequence, spec, &known_mod_revision);
        let invoked_ns = since(epoch);
        let completion = send(clients, &op).await;
        let completed_ns = since(epoch);
        if let Completion::Ok(outcome) = &completion {
            remember(&op, outcome, spec.keys, &mut known_mod_revision);
        } else {
            connection = None;
            endpoint = (endpoint + 1) % spec.endpoints.len();
        }
        records.push(Record {
            client,
            op,
            invoked_ns,
            completed_ns,
            completion,
        });
        if !spec.think_time.is_zero() {
            tokio::time::sleep(spec.think_time).await;
        }
    }
    records
}

fn choose(
    rng: &mut SeededRng,
    client: usize,
    sequence: u64,
    spec: &WorkloadSpec,
    known: &[i64],
) -> Op {
    let k = rng.index(spec.keys);
    let key = key_name(k);
    let value = format!("c{client}-{sequence}").into_bytes();
    match rng.below(100) {
        0..30 => Op::Put { key, value },
        30..55 => Op::Get {
            key,
            serializable: false,
        },
        55..65 if spec.serializable_reads => Op::Get {
            key,
            serializable: true,
        },
        55..65 => Op::Get {
            key,
            serializable: false,
        },
        65..72 => Op::Delete { key },
        72..90 => Op::CompareAndSwap {
            key,
            expected_mod_revision: known[k],
            value,
        },
        _ => {
            let second = (k + 1 + rng.index(spec.keys - 1)) % spec.keys;
            let mut second_value = value.clone();
            second_value.extend_from_slice(b"+");
            Op::MultiPut {
                pairs: vec![(key, value), (key_name(second), second_value)],
            }
        }
    }
}

fn remember(op: &Op, outcome: &Outcome, keys: usize, known: &mut [i64]) {
    let index = |key: &[u8]| (0..keys).find(|&i| key_name(i) == key);
    let mut set = |key: &[u8], revision: i64| {
        if let Some(i) = index(key) {
            known[i] = revision;
        }
    };
    match (op, outcome) {
        (Op::Put { key, .. }, Outcome::Put { revision }) => set(key, *revision),
        (Op::Get { key, .. }, Outcome::Get { kv, .. }) => {
            set(key, kv.as_ref().map_or(0, |o| o.mod_revision))
        }
        (Op::Delete { key }, Outcome::Delete { .. }) => set(key, 0),
        (
            Op::CompareAndSwap { key, .. },
            Outcome::CompareAndSwap {
                revision,
                swapped,
                current,
            },
        ) => {
            let now = if *swapped {
                *revision
            } else {
                current.as_ref().map_or(0, |o| o.mod_revision)
            };
            set(key, now);
        }
        (Op::MultiPut { pairs }, Outcome::MultiPut { revision }) => {
            for (key, _) in pairs {
                set(key, *revision);
            }
        }
        _ => {}
    }
}

/// Sends one request as `client` to the first endpoint of `spec` on a fresh connection, and
/// records it.
pub async fn send_once(client: usize, spec: &WorkloadSpec, op: &Op, epoch: Instant) -> Record {
    let invoked_ns = since(epoch);
    let completion =
        match grpc::connect_with_timeout(&spec.endpoints[0], spec.request_timeout).await {
            Ok(clients) => send(clients, op).await,
            // Nothing was sent.
            Err(error) => Completion::Failed(format!("{error:#}")),
        };
    Record {
        client,
        op: op.clone(),
        invoked_ns,
        completed_ns: since(epoch),
        completion,
    }
}

/// Sends `op` and classifies the answer.
async fn send(mut clients: Clients, op: &Op) -> Completion {
    let answer = match op {
        Op::Put { key, value } => clients
            .kv
            .put(PutRequest {
                key: key.clone(),
                value: value.clone(),
                ..Default::default()
            })
            .await
            .map(|r| Outcome::Put {
                revision: revision(r.get_ref().header.as_ref()),
            }),
        Op::Get { key, serializable } => clients
            .kv
            .range(RangeRequest {
                key: key.clone(),
                serializable: *serializable,
                ..Default::default()
            })
            .await
            .map(|r| {
                let r = r.into_inner();
                Outcome::Get {
                    revision: revision(r.header.as_ref()),
                    kv: r.kvs.first().map(|kv| Observed {
                        value: kv.value.clone(),
                        mod_revision: kv.mod_revision,
                    }),
                }
            }),
        Op::Delete { key } => clients
            .kv
            .delete_range(DeleteRangeRequest {
                key: key.clone(),
                ..Default::default()
            })
            .await
            .map(|r| {
                let r = r.into_inner();
                Outcome::Delete {
                    revision: revision(r.header.as_ref()),
                    deleted: r.deleted,
                }
            }),
        Op::CompareAndSwap {
            key,
            expected_mod_revision,
            value,
        } => clients
            .kv
            .txn(TxnRequest {
                compare: vec![Compare {
                    result: compare::CompareResult::Equal as i32,
                    target: compare::CompareTarget::Mod as i32,
                    key: key.clone(),
                    target_union: Some(compare::TargetUnion::ModRevision(*expected_mod_revision)),
                    ..Default::default()
                }],
                success: vec![put_op(key, value)],
                failure: vec![RequestOp {
                    request: Some(request_op::Request::RequestRange(RangeRequest {
                        key: key.clone(),
                        ..Default::default()
                    })),
                }],
            })
            .await
            .map(|r| {
                let r = r.into_inner();
                let current = r.responses.first().and_then(|op| match &op.response {
                    Some(response_op::Response::ResponseRange(range)) => {
                        range.kvs.first().map(|kv| Observed {
                            value: kv.value.clone(),
                            mod_revision: kv.mod_revision,
                        })
                    }
                    _ => None,
                });
                Outcome::CompareAndSwap {
                    revision: revision(r.header.as_ref()),
                    swapped: r.succeeded,
                    current,
                }
            }),
        Op::MultiPut { pairs } => clients
            .kv
            .txn(TxnRequest {
                success: pairs.iter().map(|(k, v)| put_op(k, v)).collect(),
                ..Default::default()
            })
            .await
            .map(|r| Outcome::MultiPut {
                revision: revision(r.get_ref().header.as_ref()),
            }),
    };
    match answer {
        Ok(outcome) => Completion::Ok(outcome),
        Err(status) => classify(op, &status),
    }
}

fn put_op(key: &[u8], value: &[u8]) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.to_vec(),
            value: value.to_vec(),
            ..Default::default()
        })),
    }
}

fn revision(header: Option<&oxcd_api::etcdserverpb::ResponseHeader>) -> i64 {
    header.map_or(0, |h| h.revision)
}

/// A failed write took effect or not; only a refusal before anything was proposed (an
/// invalid request, "too many requests") guarantees it did not. Everything else — timeouts,
/// lost connections, leader changes, even "no leader" from a member that may have forwarded
/// the proposal before losing its leader — is indeterminate.
fn classify(op: &Op, status: &tonic::Status) -> Completion {
    let why = format!("{:?}: {}", status.code(), status.message());
    let refused_before_proposal = matches!(status.code(), Code::InvalidArgument)
        || status.message() == "etcdserver: too many requests";
    if op.is_write() && !refused_before_proposal {
        Completion::Indeterminate(why)
    } else {
        Completion::Failed(why)
    }
}
