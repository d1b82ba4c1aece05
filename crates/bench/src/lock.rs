//! The `lock` workload: acquire/release cycles of etcd's Lock service (`v3lockpb.Lock`). Every
//! requester is one contender with its own lease, granted before the clock starts; a cycle is a
//! `Lock` of the contender's lock name with that lease, then an `Unlock` of the key it returned.
//! Contenders share `--names` lock names round-robin, so one name makes them all queue for the
//! same lock and as many names as clients gives each its own.

use oxcd_api::etcdserverpb::LeaseGrantRequest;
use oxcd_api::etcdserverpb::lease_client::LeaseClient;
use oxcd_api::v3lockpb::lock_client::LockClient;
use oxcd_api::v3lockpb::{LockRequest, UnlockRequest};
use tokio::time::Instant;

use crate::connections::BenchChannel;

/// Prefix of the lock names the run contends for.
pub const LOCK_NAME_PREFIX: &str = "oxbench-lock";

/// The options of a `lock` run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockWorkload {
    /// Lock names shared round-robin by the contenders.
    pub names: u64,
    /// TTL of each contender's lease, in seconds.
    pub ttl: i64,
}

impl LockWorkload {
    /// Contending for `names` locks with leases of `ttl` seconds; both must be positive.
    pub fn new(names: u64, ttl: i64) -> anyhow::Result<Self> {
        anyhow::ensure!(names > 0, "expected positive --names, got ({names})");
        anyhow::ensure!(ttl > 0, "expected positive --ttl, got ({ttl})");
        Ok(Self { names, ttl })
    }

    /// The lock name of requester number `requester`.
    pub fn name(&self, requester: usize) -> Vec<u8> {
        if self.names == 1 {
            return LOCK_NAME_PREFIX.as_bytes().to_vec();
        }
        format!("{LOCK_NAME_PREFIX}-{}", requester as u64 % self.names).into_bytes()
    }
}

/// One contender: its lease, its lock name and its Lock client.
pub struct Contender {
    lock: LockClient<BenchChannel>,
    name: Vec<u8>,
    lease: i64,
}

impl Contender {
    /// Grants the lease of requester number `requester` and returns it ready to contend.
    pub async fn set_up(
        channel: BenchChannel,
        workload: &LockWorkload,
        requester: usize,
    ) -> Result<Self, tonic::Status> {
        let lease = LeaseClient::new(channel.clone())
            .lease_grant(LeaseGrantRequest {
                ttl: workload.ttl,
                id: 0,
            })
            .await?
            .into_inner()
            .id;
        Ok(Self {
            lock: LockClient::new(channel),
            name: workload.name(requester),
            lease,
        })
    }

    /// One acquire/release cycle; answers how long the acquire took (the wait in the queue
    /// included), which is the latency a lock user feels.
    pub async fn cycle(&mut self) -> Result<std::time::Duration, tonic::Status> {
        let started = Instant::now();
        let key = self
            .lock
            .lock(LockRequest {
                name: self.name.clone(),
                lease: self.lease,
            })
            .await?
            .into_inner()
            .key;
        let acquired = started.elapsed();
        self.lock.unlock(UnlockRequest { key }).await?;
        Ok(acquired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_is_shared_and_many_names_are_spread() {
        let shared = LockWorkload::new(1, 60).unwrap();
        assert_eq!(shared.name(0), shared.name(7));
        let own = LockWorkload::new(3, 60).unwrap();
        assert_eq!(own.name(0), b"oxbench-lock-0");
        assert_eq!(own.name(4), b"oxbench-lock-1");
        assert_ne!(own.name(1), own.name(2));
    }

    #[test]
    fn zero_names_or_ttl_are_refused() {
        assert!(LockWorkload::new(0, 60).is_err());
        assert!(LockWorkload::new(1, 0).is_err());
    }
}
