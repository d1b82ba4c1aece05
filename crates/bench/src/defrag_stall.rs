//! The `defrag-stall` scenario: how long writes stall while one member defragments its backend.
//!
//! `--clients` requesters put random keys of the key space in a loop on `--conns` connections
//! to the leader, every put's start and latency recorded. After `--settle` of that steady
//! load, `Maintenance.Defragment` is called on one member (the leader, or a follower with
//! `--member=follower`); the load goes on for another `--settle` after it answers. The
//! report splits the puts into those in flight at some moment of the defragmentation and the
//! rest, and gives the longest and the p99 latency of each, with the member's backend size
//! (`Status.db_size`) before and after. A put that failed counts with the time its client waited
//! for the error: a server that gives up on a held write (etcd answers "request timed out"
//! after about 7 s) has stalled it all the same.
//!
//! With `--thin`, half of the loaded keys are deleted and the history compacted first, so that
//! the defragmentation has space to give back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use oxcd_api::etcdserverpb::cluster_client::ClusterClient;
use oxcd_api::etcdserverpb::kv_client::KvClient;
use oxcd_api::etcdserverpb::maintenance_client::MaintenanceClient;
use oxcd_api::etcdserverpb::{
    CompactionRequest, DefragmentRequest, DeleteRangeRequest, MemberListRequest, PutRequest,
    StatusRequest,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tonic::transport::Channel;

use crate::cli::{Cli, DefragStallArgs};
use crate::connections::{BenchChannel, Connections, Dialer};
use crate::keys::{KeySpace, random_value};
use crate::leader::leader_endpoints;

/// What one `defrag-stall` run measured. Latencies are in seconds, sizes in bytes.
#[derive(Clone, Debug, Serialize)]
pub struct StallReport {
    /// `leader` or `follower`: the member that was defragmented.
    pub member: String,
    /// Keys `--thin` deleted before the run (0 without it).
    pub deleted_keys: i64,
    /// How long the `Defragment` call took, as the client saw it.
    pub defrag_secs: f64,
    /// The member's `Status.db_size` before the defragmentation.
    pub db_size_before: i64,
    /// The member's `Status.db_size` after it.
    pub db_size_after: i64,
    /// Puts in all, failed ones included.
    pub puts: u64,
    /// Puts in flight at some moment of the defragmentation.
    pub puts_during: u64,
    /// Failed puts in all.
    pub errors: u64,
    /// Failed puts among those in flight during the defragmentation.
    pub errors_during: u64,
    /// Error text → count, for every failed put.
    pub error_distribution: BTreeMap<String, u64>,
    /// Longest put among those in flight during the defragmentation.
    pub max_during_secs: f64,
    /// p99 of the puts in flight during the defragmentation.
    pub p99_during_secs: f64,
    /// Longest put among the others.
    pub max_outside_secs: f64,
    /// p99 of the others.
    pub p99_outside_secs: f64,
    /// The slowest puts in flight during the defragmentation, slowest first: when each was
    /// sent relative to the `Defragment` call (negative: before it), to tell which phase of the
    /// defragmentation held it.
    pub slowest_during: Vec<SlowPut>,
}

/// One of the slowest puts during a defragmentation.
#[derive(Clone, Debug, Serialize)]
pub struct SlowPut {
    /// When it was sent, in seconds after the `Defragment` call was made.
    pub sent_after_call_secs: f64,
    /// How long it took.
    pub latency_secs: f64,
}

/// How many of the slowest puts during the defragmentation the report lists.
const SLOWEST_LISTED: usize = 5;

impl StallReport {
    /// A short text report.
    pub fn to_text(&self) -> String {
        let ms = |secs: f64| secs * 1e3;
        format!(
            "Defragment of the {} ({} keys deleted before): {:.3} s, db size {} -> {} bytes\n\
             puts: {} ({} during the defragmentation), {} failed ({} during)\n\
             during:  max {:.2} ms, p99 {:.2} ms\n\
             outside: max {:.2} ms, p99 {:.2} ms\n\
             slowest during (sent at s after the call: ms): {}",
            self.member,
            self.deleted_keys,
            self.defrag_secs,
            self.db_size_before,
            self.db_size_after,
            self.puts,
            self.puts_during,
            self.errors,
            self.errors_during,
            ms(self.max_during_secs),
            ms(self.p99_during_secs),
            ms(self.max_outside_secs),
            ms(self.p99_outside_secs),
            self.slowest_during
                .iter()
                .map(|put| format!(
                    "{:.3}: {:.1}",
                    put.sent_after_call_secs,
                    ms(put.latency_secs)
                ))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// One put: when it was sent (since the run began), how long it took, and its error if it
/// failed.
#[derive(Clone, Debug)]
struct Put {
    sent: Duration,
    latency: Duration,
    error: Option<String>,
}

/// Runs the scenario `cli` and `args` describe.
pub async fn run(cli: &Cli, args: &DefragStallArgs) -> Result<StallReport> {
    let keys = KeySpace::new(args.keys.key_space_size, args.keys.key_size)?;
    let follower = match args.member.as_str() {
        "leader" => false,
        "follower" => true,
        other => bail!("expected --member leader or follower, got {other:?}"),
    };
    let dialer = Dialer::from_cli(cli)?;
    let leader = leader_endpoints(&cli.endpoints, &dialer).await?;
    let connections = Connections::dial_all(&leader, cli.conns as usize, &dialer).await?;
    let deleted_keys = if args.thin {
        thin(connections.kv_client(0)).await?
    } else {
        0
    };
    let target = if follower {
        follower_endpoint(connections.channel(0), &leader).await?
    } else {
        leader[0].clone()
    };
    let target = dialer.dial(&target).await?;
    let mut maintenance = MaintenanceClient::new(target);
    let db_size_before = db_size(&mut maintenance).await?;

    let value = random_value(args.keys.val_size);
    let stop = Arc::new(AtomicBool::new(false));
    let begun = Instant::now();
    let requesters: Vec<_> = (0..cli.clients as usize)
        .map(|i| {
            let client = connections.kv_client(i);
            let (value, stop) = (value.clone(), stop.clone());
            tokio::spawn(put_loop(client, keys, value, stop, begun))
        })
        .collect();
    tokio::time::sleep(args.settle).await;
    let started = begun.elapsed();
    let defrag = maintenance.defragment(DefragmentRequest {}).await;
    let ended = begun.elapsed();
    tokio::time::sleep(args.settle).await;
    stop.store(true, Ordering::Relaxed);
    let mut puts = Vec::new();
    for requester in requesters {
        puts.extend(requester.await.context("a put requester failed")?);
    }
    defrag.context("defragment")?;
    let db_size_after = db_size(&mut maintenance).await?;

    let (mut during, mut outside): (Vec<Duration>, Vec<Duration>) = (Vec::new(), Vec::new());
    let (mut errors, mut errors_during) = (0, 0);
    let mut error_distribution = BTreeMap::new();
    let mut slowest_during = Vec::new();
    for put in &puts {
        let in_window = put.sent < ended && put.sent + put.latency > started;
        if in_window {
            during.push(put.latency);
            slowest_during.push(SlowPut {
                sent_after_call_secs: put.sent.as_secs_f64() - started.as_secs_f64(),
                latency_secs: put.latency.as_secs_f64(),
            });
        } else {
            outside.push(put.latency);
        }
        if let Some(error) = &put.error {
            errors += 1;
            errors_during += u64::from(in_window);
            *error_distribution.entry(error.clone()).or_insert(0) += 1;
        }
    }
    slowest_during.sort_by(|a, b| b.latency_secs.total_cmp(&a.latency_secs));
    slowest_during.truncate(SLOWEST_LISTED);
    let (max_during, p99_during) = max_and_p99(&mut during);
    let (max_outside, p99_outside) = max_and_p99(&mut outside);
    Ok(StallReport {
        member: args.member.clone(),
        deleted_keys,
        defrag_secs: (ended - started).as_secs_f64(),
        db_size_before,
        db_size_after,
        puts: puts.len() as u64,
        puts_during: during.len() as u64,
        errors,
        errors_during,
        error_distribution,
        max_during_secs: max_during,
        p99_during_secs: p99_during,
        max_outside_secs: max_outside,
        p99_outside_secs: p99_outside,
        slowest_during,
    })
}

/// Puts random keys until `stop`, returning every put.
async fn put_loop(
    mut client: KvClient<BenchChannel>,
    keys: KeySpace,
    value: Vec<u8>,
    stop: Arc<AtomicBool>,
    begun: Instant,
) -> Vec<Put> {
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    let mut puts = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let request = PutRequest {
            key: keys.key(rng.random_range(0..keys.size())),
            value: value.clone(),
            ..PutRequest::default()
        };
        let sent = Instant::now();
        let error = client
            .put(request)
            .await
            .err()
            .map(|status| format!("{:?}: {}", status.code(), status.message()));
        puts.push(Put {
            sent: sent - begun,
            latency: sent.elapsed(),
            error,
        });
    }
    puts
}

/// Deletes the keys whose encoding starts with a byte in `[0x80, 0xc0)`, that is the keys
/// numbered 64 and up whose number modulo 64 is below 32: half of a loaded key space. They go
/// in 32 ranges so that no single request deletes them all. Then compacts the history at the
/// last deletion's revision and waits for the compaction to be applied, so that the deleted
/// rows are free pages a defragmentation gives back. Returns how many keys were deleted.
async fn thin(mut kv: KvClient<BenchChannel>) -> Result<i64> {
    let (mut deleted, mut revision) = (0, 0);
    for first in (0x80u8..0xc0).step_by(2) {
        let response = kv
            .delete_range(DeleteRangeRequest {
                key: vec![first],
                range_end: vec![first + 2],
                ..DeleteRangeRequest::default()
            })
            .await
            .context("deleting half of the keys")?
            .into_inner();
        deleted += response.deleted;
        revision = response.header.map_or(0, |header| header.revision);
    }
    kv.compact(CompactionRequest {
        revision,
        physical: true,
    })
    .await
    .context("compacting")?;
    Ok(deleted)
}

/// A client URL of a member other than the leader.
async fn follower_endpoint(channel: BenchChannel, leader: &[String]) -> Result<String> {
    let members = ClusterClient::new(channel)
        .member_list(MemberListRequest::default())
        .await
        .context("member list")?
        .into_inner()
        .members;
    members
        .into_iter()
        .filter(|member| member.client_ur_ls.iter().all(|url| !leader.contains(url)))
        .find_map(|member| member.client_ur_ls.into_iter().next())
        .ok_or_else(|| anyhow!("the cluster has no follower with a client URL"))
}

async fn db_size(maintenance: &mut MaintenanceClient<Channel>) -> Result<i64> {
    Ok(maintenance
        .status(StatusRequest {})
        .await
        .context("status")?
        .into_inner()
        .db_size)
}

/// The largest latency and the nearest-rank 99th percentile, in seconds (0 when empty).
fn max_and_p99(latencies: &mut [Duration]) -> (f64, f64) {
    if latencies.is_empty() {
        return (0.0, 0.0);
    }
    latencies.sort_unstable();
    let rank = (latencies.len() * 99).div_ceil(100).max(1);
    (
        latencies[latencies.len() - 1].as_secs_f64(),
        latencies[rank - 1].as_secs_f64(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_is_the_nearest_rank() {
        let mut latencies: Vec<Duration> = (1..=200).rev().map(Duration::from_millis).collect();
        assert_eq!(max_and_p99(&mut latencies), (0.2, 0.198));
        assert_eq!(max_and_p99(&mut []), (0.0, 0.0));
        assert_eq!(max_and_p99(&mut [Duration::from_secs(1)]), (1.0, 1.0));
    }

    #[test]
    fn thinning_ranges_cover_half_of_the_keys_from_64_on() {
        let keys = KeySpace::new(64 * 100, 8).unwrap();
        let thinned = (64..keys.size())
            .filter(|&i| (0x80..0xc0).contains(&keys.key(i)[0]))
            .count();
        assert_eq!(thinned, 32 * 99);
    }
}
