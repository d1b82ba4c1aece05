//! The result of a run as numbers (`Summary`), rendered either as etcd benchmark's text
//! report or as one JSON object for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::runner::RunOutcome;

/// Percentiles every report lists, as etcd's benchmark does.
pub const PERCENTILES: [f64; 8] = [10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9];

/// Number of equal-width histogram intervals between the fastest and slowest latency.
const HISTOGRAM_INTERVALS: usize = 10;

/// Width of the longest histogram bar, in characters.
const BAR_WIDTH: u64 = 40;

/// One histogram bucket: successes slower than the previous bound and at most `upper_secs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bucket {
    /// Inclusive upper bound, in seconds.
    pub upper_secs: f64,
    /// Successes in the bucket.
    pub count: u64,
}

/// The latency under which `percentile` percent of the successes completed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Percentile {
    /// Between 0 and 100.
    pub percentile: f64,
    /// Latency, in seconds.
    pub secs: f64,
}

/// Everything a run measured; latencies in seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Wall-clock duration of the run.
    pub total_secs: f64,
    /// Successful requests.
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// Successful requests per second of wall-clock time.
    pub requests_per_sec: f64,
    /// Slowest success.
    pub slowest_secs: f64,
    /// Fastest success.
    pub fastest_secs: f64,
    /// Mean latency of the successes.
    pub average_secs: f64,
    /// Population standard deviation of the success latencies.
    pub stddev_secs: f64,
    /// Latency histogram, fastest bucket first.
    pub histogram: Vec<Bucket>,
    /// Latency at each of `PERCENTILES`.
    pub percentiles: Vec<Percentile>,
    /// Failed requests by error text.
    pub error_distribution: BTreeMap<String, u64>,
}

impl Summary {
    /// Summarizes a finished run.
    pub fn new(outcome: &RunOutcome) -> Self {
        let latencies = &outcome.latencies;
        let total_secs = outcome.elapsed.as_secs_f64();
        let requests = latencies.count();
        let requests_per_sec = if total_secs > 0.0 {
            requests as f64 / total_secs
        } else {
            0.0
        };
        let fastest_secs = latencies.fastest().as_secs_f64();
        let slowest_secs = latencies.slowest().as_secs_f64();
        let (histogram, percentiles) = if requests == 0 {
            (Vec::new(), Vec::new())
        } else {
            let recorded = latencies.recorded().map(|(at, n)| (at.as_secs_f64(), n));
            let percentiles = PERCENTILES
                .iter()
                .map(|&percentile| Percentile {
                    percentile,
                    secs: latencies.percentile_secs(percentile),
                })
                .collect();
            (histogram(fastest_secs, slowest_secs, recorded), percentiles)
        };
        Self {
            total_secs,
            requests,
            errors: latencies.error_count(),
            requests_per_sec,
            slowest_secs,
            fastest_secs,
            average_secs: latencies.average_secs(),
            stddev_secs: latencies.stddev_secs(),
            histogram,
            percentiles,
            error_distribution: latencies.errors().clone(),
        }
    }

    /// The latency at `percentile`, if the summary lists it.
    pub fn percentile_secs(&self, percentile: f64) -> Option<f64> {
        self.percentiles
            .iter()
            .find(|p| p.percentile == percentile)
            .map(|p| p.secs)
    }

    /// The report in the layout of etcd's benchmark tool.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.requests > 0 {
            out.push_str("\nSummary:\n");
            let _ = writeln!(out, "  Total:\t{}.", secs(self.total_secs));
            let _ = writeln!(out, "  Slowest:\t{}.", secs(self.slowest_secs));
            let _ = writeln!(out, "  Fastest:\t{}.", secs(self.fastest_secs));
            let _ = writeln!(out, "  Average:\t{}.", secs(self.average_secs));
            let _ = writeln!(out, "  Stddev:\t{}.", secs(self.stddev_secs));
            let _ = writeln!(out, "  Requests/sec:\t{:.4}", self.requests_per_sec);
            out.push_str("\nResponse time histogram:\n");
            let tallest = self.histogram.iter().map(|b| b.count).max().unwrap_or(0);
            for bucket in &self.histogram {
                let bar = (bucket.count * BAR_WIDTH).checked_div(tallest).unwrap_or(0);
                let _ = writeln!(
                    out,
                    "  {:.4} [{}]\t|{}",
                    bucket.upper_secs,
                    bucket.count,
                    "∎".repeat(bar as usize)
                );
            }
            out.push_str("\nLatency distribution:\n");
            for p in self.percentiles.iter().filter(|p| p.secs > 0.0) {
                let _ = writeln!(out, "  {}% in {}.", p.percentile, secs(p.secs));
            }
        }
        if !self.error_distribution.is_empty() {
            out.push_str("\nError distribution:\n");
            for (error, count) in &self.error_distribution {
                let _ = writeln!(out, "  [{count}]\t{error}");
            }
        }
        out
    }

    /// The summary as one line of JSON.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }
}

fn secs(value: f64) -> String {
    format!("{value:.4} secs")
}

/// Splits `[fastest, slowest]` into equal intervals and counts the `(latency, count)` pairs
/// into them; the last bucket ends exactly at `slowest`.
fn histogram(
    fastest: f64,
    slowest: f64,
    recorded: impl Iterator<Item = (f64, u64)>,
) -> Vec<Bucket> {
    let width = (slowest - fastest) / HISTOGRAM_INTERVALS as f64;
    let mut buckets: Vec<Bucket> = (0..=HISTOGRAM_INTERVALS)
        .map(|i| Bucket {
            upper_secs: if i == HISTOGRAM_INTERVALS {
                slowest
            } else {
                fastest + width * i as f64
            },
            count: 0,
        })
        .collect();
    for (latency, count) in recorded {
        let slot = buckets
            .iter()
            .position(|bucket| latency <= bucket.upper_secs)
            .unwrap_or(HISTOGRAM_INTERVALS);
        buckets[slot].count += count;
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::LatencyRecorder;
    use std::time::Duration;

    fn outcome(latencies_ms: &[u64], errors: &[&str]) -> RunOutcome {
        let mut latencies = LatencyRecorder::new();
        for &ms in latencies_ms {
            latencies.record(Duration::from_millis(ms));
        }
        for &error in errors {
            latencies.record_error(error.to_string());
        }
        RunOutcome {
            elapsed: Duration::from_secs(2),
            latencies,
        }
    }

    #[test]
    fn summary_counts_rate_and_percentiles() {
        let summary = Summary::new(&outcome(&(1..=100).collect::<Vec<_>>(), &["x"]));
        assert_eq!(summary.requests, 100);
        assert_eq!(summary.errors, 1);
        assert_eq!(summary.requests_per_sec, 50.0);
        assert_eq!(summary.fastest_secs, 0.001);
        assert_eq!(summary.slowest_secs, 0.1);
        let p99 = summary.percentile_secs(99.0).unwrap();
        assert!((p99 - 0.099).abs() < 0.0001, "{p99}");
        assert_eq!(summary.percentiles.len(), PERCENTILES.len());
    }

    #[test]
    fn histogram_spans_fastest_to_slowest_and_holds_every_success() {
        let summary = Summary::new(&outcome(&[10, 10, 20, 55, 110], &[]));
        let bounds: Vec<f64> = summary.histogram.iter().map(|b| b.upper_secs).collect();
        assert_eq!(bounds.len(), 11);
        assert_eq!(bounds[0], 0.010);
        assert_eq!(bounds[10], 0.110);
        let counts: Vec<u64> = summary.histogram.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![2, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn text_report_has_etcd_benchmark_sections() {
        let text = Summary::new(&outcome(&[1, 2, 3, 4], &["rpc error: boom"])).to_text();
        assert!(
            text.starts_with("\nSummary:\n  Total:\t2.0000 secs.\n"),
            "{text}"
        );
        assert!(text.contains("  Slowest:\t0.0040 secs.\n"), "{text}");
        assert!(text.contains("  Requests/sec:\t2.0000\n"), "{text}");
        assert!(
            text.contains("\nResponse time histogram:\n  0.0010 [1]\t|"),
            "{text}"
        );
        assert!(
            text.contains("\nLatency distribution:\n  10% in 0.0010 secs.\n"),
            "{text}"
        );
        assert!(text.contains("  99.9% in 0.0040 secs.\n"), "{text}");
        assert!(
            text.ends_with("\nError distribution:\n  [1]\trpc error: boom\n"),
            "{text}"
        );
    }

    #[test]
    fn a_run_without_successes_reports_only_errors() {
        let summary = Summary::new(&outcome(&[], &["down"]));
        assert!(summary.histogram.is_empty());
        assert_eq!(summary.to_text(), "\nError distribution:\n  [1]\tdown\n");
    }

    #[test]
    fn json_summary_carries_the_fields_scripts_read() {
        let json: serde_json::Value =
            serde_json::from_str(&Summary::new(&outcome(&[5, 5], &[])).to_json().unwrap()).unwrap();
        assert_eq!(json["requests"], 2);
        assert_eq!(json["errors"], 0);
        assert_eq!(json["requests_per_sec"], 1.0);
        assert_eq!(json["percentiles"][6]["percentile"], 99.0);
        assert!(json["percentiles"][6]["secs"].as_f64().unwrap() > 0.004);
    }
}
