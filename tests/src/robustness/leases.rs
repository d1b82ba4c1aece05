//! Lease clients for robustness runs, registering a "service" the way users do: grant a lease,
//! put a key with it, keep it alive for a while (reading the key between renewals), then stop
//! and watch it go. Afterwards [`check`] asserts what etcd promises:
//! - a key is never deleted before its TTL has run out since the last renewal the client
//!   knows the server made (a read invoked after a renewal was answered, and answered itself
//!   before that renewal's invocation + TTL, must still see the key);
//! - once the keep-alives stop (and the faults are healed), every key goes away.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use oxcd_api::etcdserverpb::{LeaseGrantRequest, LeaseKeepAliveRequest, PutRequest, RangeRequest};
use oxcd_testkit::rng::SeededRng;
use tokio_stream::StreamExt;

use crate::grpc::{self, Clients};

/// The TTL every lease is granted (etcd's minimum with default timeouts is 2 s).
pub const TTL: i64 = 3;
/// The key prefix of the lease clients.
pub const PREFIX: &[u8] = b"lease/";
/// Clock and scheduling slack allowed when comparing a read with a renewal.
const SLACK: Duration = Duration::from_millis(100);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// A read of a lease's key.
#[derive(Debug, Clone)]
pub struct KeyRead {
    /// When it was sent and answered (ns since the run's epoch).
    pub invoked_ns: u64,
    /// When its answer arrived.
    pub completed_ns: u64,
    /// Whether the key was there.
    pub present: bool,
}

/// One registration: a lease, its key, its renewals and the reads of the key.
#[derive(Debug, Clone)]
pub struct LeaseLog {
    /// The key.
    pub key: Vec<u8>,
    /// The lease.
    pub lease: i64,
    /// Renewals the server confirmed: (invoked, answered), the grant-and-put first.
    pub renewals: Vec<(u64, u64)>,
    /// Reads of the key.
    pub reads: Vec<KeyRead>,
}

/// A broken lease promise.
#[derive(Debug, Clone)]
pub struct LeaseBroken {
    /// The key.
    pub key: Vec<u8>,
    /// What happened.
    pub what: String,
}

/// Running lease clients.
pub struct LeaseClients {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<LeaseLog>>>,
}

impl LeaseClients {
    /// Starts `count` lease clients on `endpoints`.
    pub fn start(count: usize, endpoints: &[String], seed: u64, epoch: Instant) -> LeaseClients {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..count)
            .map(|client| {
                let (stop, endpoints) = (stop.clone(), endpoints.to_vec());
                tokio::spawn(async move {
                    let mut rng = SeededRng::new(seed.wrapping_add(1000 + client as u64));
                    run_client(client, &endpoints, &mut rng, epoch, &stop).await
                })
            })
            .collect();
        LeaseClients { stop, tasks }
    }

    /// Stops the clients (they stop renewing) and returns their logs.
    pub async fn stop(self) -> Vec<LeaseLog> {
        self.stop.store(true, Ordering::Relaxed);
        let mut logs = Vec::new();
        for task in self.tasks {
            logs.extend(task.await.unwrap_or_default());
        }
        logs
    }
}

fn since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

async fn connect(endpoints: &[String], at: &mut usize) -> Clients {
    loop {
        if let Ok(c) = grpc::connect_with_timeout(&endpoints[*at], REQUEST_TIMEOUT).await {
            return c;
        }
        *at = (*at + 1) % endpoints.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run_client(
    client: usize,
    endpoints: &[String],
    rng: &mut SeededRng,
    epoch: Instant,
    stop: &AtomicBool,
) -> Vec<LeaseLog> {
    let mut logs = Vec::new();
    let mut at = client % endpoints.len();
    let mut sequence = 0;
    while !stop.load(Ordering::Relaxed) {
        let mut c = connect(endpoints, &mut at).await;
        sequence += 1;
        let key = format!("lease/{client}-{sequence}").into_bytes();
        let invoked = since(epoch);
        let Ok(granted) = c
            .lease
            .lease_grant(LeaseGrantRequest { id: 0, ttl: TTL })
            .await
        else {
            at = (at + 1) % endpoints.len();
            continue;
        };
        let lease = granted.into_inner().id;
        let put = PutRequest {
            key: key.clone(),
            value: b"instance".to_vec(),
            lease,
            ..Default::default()
        };
        if c.kv.put(put).await.is_err() {
            // The key may or may not exist: the lease still expires it, so keep the log for
            // the "goes away" check, without a confirmed renewal.
            logs.push(LeaseLog {
                key,
                lease,
                renewals: Vec::new(),
                reads: Vec::new(),
            });
            at = (at + 1) % endpoints.len();
            continue;
        }
        let mut log = LeaseLog {
            key: key.clone(),
            lease,
            renewals: vec![(invoked, since(epoch))],
            reads: Vec::new(),
        };
        let keep_for = Duration::from_millis(2000 + rng.below(4000));
        let until = Instant::now() + keep_for;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(700)).await;
            let invoked = since(epoch);
            match renew(&mut c, lease).await {
                Some(ttl) if ttl > 0 => log.renewals.push((invoked, since(epoch))),
                Some(_) => break,
                None => {
                    at = (at + 1) % endpoints.len();
                    c = connect(endpoints, &mut at).await;
                }
            }
            if let Some(read) = read_key(&mut c, &key, epoch).await {
                log.reads.push(read);
            }
        }
        // Keep-alives stopped: the key must go within the TTL (plus an election if the leader
        // changes); read it a few times on the way.
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(TTL as u64 * 400)).await;
            if let Some(read) = read_key(&mut c, &key, epoch).await {
                log.reads.push(read);
            }
        }
        logs.push(log);
    }
    logs
}

async fn renew(c: &mut Clients, lease: i64) -> Option<i64> {
    let requests = tokio_stream::iter([LeaseKeepAliveRequest { id: lease }]);
    let call = async {
        let mut answers = c.lease.lease_keep_alive(requests).await.ok()?.into_inner();
        answers.next().await?.ok().map(|a| a.ttl)
    };
    tokio::time::timeout(REQUEST_TIMEOUT, call)
        .await
        .ok()
        .flatten()
}

async fn read_key(c: &mut Clients, key: &[u8], epoch: Instant) -> Option<KeyRead> {
    let invoked_ns = since(epoch);
    let range = RangeRequest {
        key: key.to_vec(),
        ..Default::default()
    };
    let response = c.kv.range(range).await.ok()?.into_inner();
    Some(KeyRead {
        invoked_ns,
        completed_ns: since(epoch),
        present: !response.kvs.is_empty(),
    })
}

/// Checks every log; `remaining` are the lease keys still present at the end of the run,
/// after the keep-alives stopped and the faults were healed long enough for them to expire.
pub fn check(logs: &[LeaseLog], remaining: &[Vec<u8>]) -> Vec<LeaseBroken> {
    let ttl_ns = Duration::from_secs(TTL as u64).as_nanos() as u64;
    let slack_ns = SLACK.as_nanos() as u64;
    let mut found = Vec::new();
    for log in logs {
        for read in log.reads.iter().filter(|r| !r.present) {
            let renewed_before = log
                .renewals
                .iter()
                .filter(|(_, answered)| *answered < read.invoked_ns)
                .map(|(invoked, _)| *invoked)
                .max();
            if let Some(renewed) = renewed_before
                && read.completed_ns + slack_ns < renewed + ttl_ns
            {
                found.push(LeaseBroken {
                    key: log.key.clone(),
                    what: format!(
                        "deleted early: a read answered at {:.3}s found the key gone, though a renewal \
                         sent at {:.3}s had been confirmed (TTL {TTL} s)",
                        read.completed_ns as f64 / 1e9,
                        renewed as f64 / 1e9
                    ),
                });
            }
        }
    }
    for key in remaining {
        found.push(LeaseBroken {
            key: key.clone(),
            what: "never expired after its keep-alives stopped".into(),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn log(renewals: Vec<(u64, u64)>, reads: Vec<(u64, u64, bool)>) -> LeaseLog {
        LeaseLog {
            key: b"lease/0-1".to_vec(),
            lease: 1,
            renewals,
            reads: reads
                .into_iter()
                .map(|(invoked_ns, completed_ns, present)| KeyRead {
                    invoked_ns,
                    completed_ns,
                    present,
                })
                .collect(),
        }
    }

    #[test]
    fn expiry_after_the_ttl_is_fine_and_before_it_is_caught() {
        let on_time = log(
            vec![(0, S / 10), (S, S + S / 10)],
            vec![(S + S / 2, S + S / 2, true), (5 * S, 5 * S, false)],
        );
        assert!(check(&[on_time], &[]).is_empty());
        let early = log(
            vec![(0, S / 10), (S, S + S / 10)],
            vec![(2 * S, 2 * S + S / 10, false)],
        );
        assert_eq!(check(&[early], &[]).len(), 1);
        assert_eq!(
            check(&[], &[b"lease/x".to_vec()]).len(),
            1,
            "a key that never expired"
        );
    }
}
