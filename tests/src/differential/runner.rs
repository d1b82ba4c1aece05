//! Drives a differential run: every generated request goes to both servers (concurrently),
//! their normalized answers must be equal, and the first difference stops the run with a
//! report that is enough to reproduce it (seed, op number, request, both answers).

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Result, bail};
use oxcd_api::etcdserverpb::kv_client::KvClient;
use tonic::transport::Channel;

use super::outcome::KvOutcome;
use oxcd_testkit::kv_generator::{KvGenerator, OPS_ENV, StoreView};
use oxcd_testkit::kv_op::{KvOp, abbreviated};
use oxcd_testkit::rng::SEED_ENV;

/// Default number of operations per run.
pub const DEFAULT_OPS: usize = 10_000;

/// One side of the comparison.
pub struct Side<'a> {
    /// Shown in reports, e.g. "etcd".
    pub label: String,
    /// The KV client of that server.
    pub kv: &'a mut KvClient<Channel>,
}

/// What a run that found no difference did: operations per kind, successful and failed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// `(kind, succeeded) -> count`.
    pub counts: BTreeMap<(&'static str, bool), usize>,
    /// Failure messages seen, with counts.
    pub errors: BTreeMap<String, usize>,
    /// The final store view.
    pub view: StoreView,
}

impl RunSummary {
    /// How many operations of `kind` ended with `succeeded`.
    pub fn count(&self, kind: &str, succeeded: bool) -> usize {
        self.counts
            .iter()
            .filter(|((k, ok), _)| *k == kind && *ok == succeeded)
            .map(|(_, n)| n)
            .sum()
    }

    /// How many operations failed with exactly `message`.
    pub fn errors_with(&self, message: &str) -> usize {
        self.errors.get(message).copied().unwrap_or(0)
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "final revision {}, compacted at {}",
            self.view.revision, self.view.compact_revision
        )?;
        for ((kind, ok), n) in &self.counts {
            writeln!(
                f,
                "  {kind:<12} {:<7} {n}",
                if *ok { "ok" } else { "error" }
            )?;
        }
        for (message, n) in &self.errors {
            writeln!(f, "  error {n:>5} x {message}")?;
        }
        Ok(())
    }
}

/// Sends `ops` generated requests from `seed` to both sides and compares every answer.
pub async fn run(seed: u64, ops: usize, a: Side<'_>, b: Side<'_>) -> Result<RunSummary> {
    let mut generator = KvGenerator::new(seed);
    let mut summary = RunSummary::default();
    for number in 0..ops {
        let op = generator.next_op(&summary.view);
        let (outcome_a, outcome_b) =
            tokio::join!(KvOutcome::of(&op, a.kv), KvOutcome::of(&op, b.kv));
        if outcome_a != outcome_b {
            bail!(
                "{} and {} differ at op #{number} of seed {seed} (rerun with {SEED_ENV}={seed} \
                 {OPS_ENV}={})\nrequest:\n{op}\n{} answered:\n{}\n{} answered:\n{}",
                a.label,
                b.label,
                number + 1,
                a.label,
                abbreviated(&outcome_a),
                b.label,
                abbreviated(&outcome_b)
            );
        }
        record(&mut summary, &op, &outcome_a);
    }
    Ok(summary)
}

fn record(summary: &mut RunSummary, op: &KvOp, outcome: &KvOutcome) {
    let kind = match op {
        KvOp::Range(_) => "range",
        KvOp::Put(_) => "put",
        KvOp::DeleteRange(_) => "delete_range",
        KvOp::Txn(_) => "txn",
        KvOp::Compact(_) => "compact",
    };
    *summary.counts.entry((kind, outcome.is_ok())).or_default() += 1;
    if let KvOutcome::Error { code, message } = outcome {
        *summary
            .errors
            .entry(format!("{code:?}: {message}"))
            .or_default() += 1;
    }
    if let Some(revision) = outcome.revision() {
        summary.view.revision = summary.view.revision.max(revision);
    }
    if let (KvOp::Compact(request), true) = (op, outcome.is_ok()) {
        summary.view.compact_revision = request.revision;
    }
}
