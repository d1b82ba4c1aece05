//! Drives a run: `--clients` requesters on the tokio runtime pull request numbers from one
//! shared counter until `--total` are taken, time each call and record it locally.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::connections::Connections;
use crate::latency::LatencyRecorder;
use crate::workload::{Requester, Workload};

/// What a finished run measured.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// Wall-clock time from the first request sent to the last response received.
    pub elapsed: Duration,
    /// Latencies and errors of every request.
    pub latencies: LatencyRecorder,
}

/// Sends `total` requests of `workload` from `clients` concurrent requesters sharing
/// `connections`, and returns what they measured.
pub async fn run(
    workload: Workload,
    connections: &Connections,
    clients: usize,
    total: u64,
) -> Result<RunOutcome> {
    if clients == 0 {
        bail!("expected positive --clients, got (0)");
    }
    let workload = Arc::new(workload);
    let mut prepared = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut requester = Requester::new(connections.channel(i));
        requester
            .set_up(&workload, i)
            .await
            .with_context(|| format!("setting up requester {i}"))?;
        prepared.push(requester);
    }
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let requesters: Vec<_> = prepared
        .into_iter()
        .map(|client| {
            let workload = Arc::clone(&workload);
            let next = Arc::clone(&next);
            tokio::spawn(requester_loop(client, workload, next, total))
        })
        .collect();
    let mut latencies = LatencyRecorder::new();
    for requester in requesters {
        let recorded = requester.await.context("a requester task failed")?;
        latencies.merge(&recorded)?;
    }
    Ok(RunOutcome {
        elapsed: started.elapsed(),
        latencies,
    })
}

async fn requester_loop(
    mut client: Requester,
    workload: Arc<Workload>,
    next: Arc<AtomicU64>,
    total: u64,
) -> LatencyRecorder {
    let mut recorder = LatencyRecorder::new();
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        if index >= total {
            return recorder;
        }
        let request = workload.prepare(index, &mut rng);
        let sent = Instant::now();
        match request.send(&mut client).await {
            Ok(latency) => recorder.record(latency.unwrap_or_else(|| sent.elapsed())),
            Err(status) => recorder.record_error(format!(
                "rpc error: code = {:?} desc = {}",
                status.code(),
                status.message()
            )),
        }
    }
}
