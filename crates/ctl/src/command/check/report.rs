//! The statistics `etcdctl check` judges by (etcd's `pkg/report` `Stats`): latencies of the
//! requests that succeeded, requests per second over the whole run, slowest, average and
//! standard deviation, and how many requests failed with each error.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Results gathered while a check runs.
#[derive(Debug)]
pub struct Report {
    started: Instant,
    latencies: Vec<f64>,
    errors: BTreeMap<String, u64>,
}

/// What the results add up to.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Successful requests per second over the run.
    pub rps: f64,
    /// Slowest successful request, in seconds.
    pub slowest: f64,
    /// Mean latency, in seconds.
    pub average: f64,
    /// Population standard deviation of the latencies, in seconds.
    pub stddev: f64,
    /// Failed requests by error message.
    pub errors: BTreeMap<String, u64>,
}

impl Report {
    /// A report whose run starts now.
    pub fn start() -> Report {
        Report {
            started: Instant::now(),
            latencies: Vec::new(),
            errors: BTreeMap::new(),
        }
    }

    /// Records one request: its latency, or the message it failed with.
    pub fn record(&mut self, result: Result<Duration, String>) {
        match result {
            Ok(latency) => self.latencies.push(latency.as_secs_f64()),
            Err(message) => *self.errors.entry(message).or_default() += 1,
        }
    }

    /// The statistics, the run ending now.
    pub fn finish(self) -> Stats {
        let total = self.started.elapsed().as_secs_f64();
        summarize(self.latencies, self.errors, total)
    }
}

fn summarize(latencies: Vec<f64>, errors: BTreeMap<String, u64>, total: f64) -> Stats {
    let n = latencies.len() as f64;
    let average = latencies.iter().sum::<f64>() / n;
    let variance = latencies
        .iter()
        .map(|l| (l - average) * (l - average))
        .sum::<f64>()
        / n;
    Stats {
        rps: n / total,
        slowest: latencies.iter().copied().fold(0.0, f64::max),
        average,
        stddev: variance.sqrt(),
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarizes_like_pkg_report() {
        let stats = summarize(vec![0.1, 0.3], BTreeMap::new(), 2.0);
        assert_eq!(stats.rps, 1.0);
        assert!((stats.average - 0.2).abs() < 1e-12);
        assert!((stats.stddev - 0.1).abs() < 1e-12);
        assert_eq!(stats.slowest, 0.3);
    }

    #[test]
    fn errors_are_counted_by_message() {
        let mut report = Report::start();
        report.record(Err("boom".into()));
        report.record(Err("boom".into()));
        report.record(Ok(Duration::from_millis(5)));
        let stats = report.finish();
        assert_eq!(stats.errors.get("boom"), Some(&2));
        assert_eq!(stats.slowest, 0.005);
    }
}
