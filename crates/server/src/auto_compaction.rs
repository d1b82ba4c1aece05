//! Automatic compaction (`--auto-compaction-mode`, `--auto-compaction-retention`), run by the
//! leader only, as etcd's compactor is paused on followers. It proposes an ordinary compaction
//! through raft, so every member compacts at the same revision.
//!
//! - **periodic**: keeps the history of the last retention period. The current revision is
//!   sampled every tenth of the period (of an hour at most); once a period has passed since
//!   the last compaction (an hour at most after the first), the store is compacted to the
//!   oldest sample, from one period ago.
//! - **revision**: every five minutes, keeps the last `retention` revisions.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::CompactionRequest;
use oxcd_etcd_compat::config::AutoCompaction;
use oxcd_etcd_compat::gotext::duration;
use oxcd_raft::Role;
use tokio::time::Instant;

use crate::auth::Caller;
use crate::server::EtcdServer;

/// How often revision mode compacts (etcd's `revInterval`).
const REVISION_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// The longest interval between periodic compactions once the first has run.
const LONGEST_INTERVAL: Duration = Duration::from_secs(3600);

/// When periodic mode samples and compacts, for a retention `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PeriodicSchedule {
    /// Between compactions after the first (the period, at most an hour).
    compact_every: Duration,
    /// Between samples of the current revision, and between retries.
    sample_every: Duration,
    /// Samples kept: the oldest is from one period ago.
    samples: usize,
}

impl PeriodicSchedule {
    fn new(period: Duration) -> PeriodicSchedule {
        let compact_every = period.min(LONGEST_INTERVAL);
        let sample_every = (compact_every / 10).max(Duration::from_millis(1));
        let samples = (period.as_nanos() / sample_every.as_nanos()) as usize + 1;
        PeriodicSchedule {
            compact_every,
            sample_every,
            samples,
        }
    }
}

/// Starts the compactor `mode` asks for, if any, for the life of the runtime.
pub(crate) fn spawn(server: Arc<EtcdServer>, mode: AutoCompaction) {
    match mode {
        AutoCompaction::Disabled => {}
        AutoCompaction::Periodic(period) => {
            tokio::spawn(periodic(server, period));
        }
        AutoCompaction::Revision(retention) => {
            tokio::spawn(by_revision(server, retention));
        }
    }
}

fn is_leader(server: &EtcdServer) -> bool {
    server.raft().status().role == Role::Leader
}

/// Proposes a compaction at `revision`; an already compacted revision counts as done.
async fn compact(server: &EtcdServer, revision: i64) -> Result<(), EtcdError> {
    let request = CompactionRequest {
        revision,
        physical: false,
    };
    match server.propose(&Caller::member(), request).await {
        Ok(_) | Err(EtcdError::Compacted) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn periodic(server: Arc<EtcdServer>, period: Duration) {
    let schedule = PeriodicSchedule::new(period);
    let mut samples = VecDeque::with_capacity(schedule.samples + 1);
    let mut last_success = Instant::now();
    let mut wait = period;
    loop {
        samples.push_back(server.state().kv().current_revision());
        if samples.len() > schedule.samples {
            samples.pop_front();
        }
        tokio::time::sleep(schedule.sample_every).await;
        if !is_leader(&server) || last_success.elapsed() < wait {
            continue;
        }
        wait = schedule.compact_every;
        let revision = samples[0];
        let period_text = duration::format(period);
        tracing::info!(revision, compact_period = %period_text, "starting auto periodic compaction");
        let started = Instant::now();
        match compact(&server, revision).await {
            Ok(()) => {
                tracing::info!(
                    revision,
                    compact_period = %period_text,
                    took = %duration::format(started.elapsed()),
                    "completed auto periodic compaction"
                );
                last_success = Instant::now();
            }
            Err(e) => tracing::warn!(
                revision,
                compact_period = %period_text,
                retry_interval = %duration::format(schedule.sample_every),
                error = %e,
                "failed auto periodic compaction"
            ),
        }
    }
}

async fn by_revision(server: Arc<EtcdServer>, retention: u64) {
    let retention = i64::try_from(retention).unwrap_or(i64::MAX);
    let mut previous = 0;
    loop {
        tokio::time::sleep(REVISION_INTERVAL).await;
        if !is_leader(&server) {
            continue;
        }
        let revision = server
            .state()
            .kv()
            .current_revision()
            .saturating_sub(retention);
        if revision <= 0 || revision == previous {
            continue;
        }
        tracing::info!(
            revision,
            revision_compaction_retention = retention,
            "starting auto revision compaction"
        );
        let started = Instant::now();
        match compact(&server, revision).await {
            Ok(()) => {
                previous = revision;
                tracing::info!(
                    revision,
                    revision_compaction_retention = retention,
                    took = %duration::format(started.elapsed()),
                    "completed auto revision compaction"
                );
            }
            Err(e) => tracing::warn!(
                revision,
                revision_compaction_retention = retention,
                retry_interval = %duration::format(REVISION_INTERVAL),
                error = %e,
                "failed auto revision compaction"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_schedules_follow_etcd() {
        let hour = PeriodicSchedule::new(Duration::from_secs(3600));
        assert_eq!(hour.sample_every, Duration::from_secs(360));
        assert_eq!(hour.samples, 11);
        let day = PeriodicSchedule::new(Duration::from_secs(24 * 3600));
        assert_eq!(day.compact_every, Duration::from_secs(3600));
        assert_eq!(day.sample_every, Duration::from_secs(360));
        assert_eq!(day.samples, 241, "the oldest sample is a day old");
        let short = PeriodicSchedule::new(Duration::from_secs(5));
        assert_eq!(short.sample_every, Duration::from_millis(500));
        assert_eq!(short.samples, 11);
    }
}
