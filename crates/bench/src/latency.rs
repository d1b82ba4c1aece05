//! Per-requester record of what happened to each request: latencies of the successes in an
//! HDR histogram (plus exact count, sum, extremes), failures counted by error text.
//!
//! Every requester owns one recorder, so recording never contends; the runner merges them
//! once the run is over.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;

/// Longest latency the histogram resolves exactly (slower requests are clamped to it).
const MAX_TRACKED: Duration = Duration::from_secs(600);

/// Latencies and errors seen by one or more requesters.
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    histogram: Histogram<u64>,
    count: u64,
    sum_nanos: u128,
    sum_squares_secs: f64,
    fastest: Duration,
    slowest: Duration,
    errors: BTreeMap<String, u64>,
}

impl LatencyRecorder {
    /// An empty recorder: nanosecond resolution, three significant digits.
    pub fn new() -> Self {
        let histogram = Histogram::new_with_bounds(1, MAX_TRACKED.as_nanos() as u64, 3)
            .expect("constant histogram bounds are valid");
        Self {
            histogram,
            count: 0,
            sum_nanos: 0,
            sum_squares_secs: 0.0,
            fastest: Duration::MAX,
            slowest: Duration::ZERO,
            errors: BTreeMap::new(),
        }
    }

    /// Records one successful request that took `latency`.
    pub fn record(&mut self, latency: Duration) {
        let nanos = latency.as_nanos();
        self.histogram
            .saturating_record(u64::try_from(nanos).unwrap_or(u64::MAX).max(1));
        self.count += 1;
        self.sum_nanos += nanos;
        let secs = latency.as_secs_f64();
        self.sum_squares_secs += secs * secs;
        self.fastest = self.fastest.min(latency);
        self.slowest = self.slowest.max(latency);
    }

    /// Records one failed request, keyed by its error text.
    pub fn record_error(&mut self, error: String) {
        *self.errors.entry(error).or_insert(0) += 1;
    }

    /// Folds `other` into this recorder.
    pub fn merge(&mut self, other: &LatencyRecorder) -> Result<()> {
        self.histogram
            .add(&other.histogram)
            .context("merging latency histograms")?;
        self.count += other.count;
        self.sum_nanos += other.sum_nanos;
        self.sum_squares_secs += other.sum_squares_secs;
        self.fastest = self.fastest.min(other.fastest);
        self.slowest = self.slowest.max(other.slowest);
        for (error, count) in &other.errors {
            *self.errors.entry(error.clone()).or_insert(0) += count;
        }
        Ok(())
    }

    /// Number of successful requests.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Number of failed requests.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Failed requests by error text.
    pub fn errors(&self) -> &BTreeMap<String, u64> {
        &self.errors
    }

    /// The fastest success, or zero when there was none.
    pub fn fastest(&self) -> Duration {
        if self.count == 0 {
            Duration::ZERO
        } else {
            self.fastest
        }
    }

    /// The slowest success, or zero when there was none.
    pub fn slowest(&self) -> Duration {
        self.slowest
    }

    /// Mean latency of the successes, in seconds.
    pub fn average_secs(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.sum_nanos as f64 / 1e9 / self.count as f64
    }

    /// Population standard deviation of the success latencies, in seconds.
    pub fn stddev_secs(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let mean = self.average_secs();
        let variance = self.sum_squares_secs / self.count as f64 - mean * mean;
        variance.max(0.0).sqrt()
    }

    /// Latency at `percentile` (0–100) of the successes, in seconds, clamped to the exact
    /// extremes so rounding of the histogram never reports beyond what was seen.
    pub fn percentile_secs(&self, percentile: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let nanos = self.histogram.value_at_percentile(percentile);
        Duration::from_nanos(nanos)
            .clamp(self.fastest, self.slowest)
            .as_secs_f64()
    }

    /// Every distinct recorded latency with its count, fastest first. Each latency is the
    /// lowest value of its histogram cell, so it never lies above what was measured.
    pub fn recorded(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.histogram.iter_recorded().map(|cell| {
            let lowest = self.histogram.lowest_equivalent(cell.value_iterated_to());
            (Duration::from_nanos(lowest), cell.count_at_value())
        })
    }
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn summary_statistics_are_exact() {
        let mut recorder = LatencyRecorder::new();
        for n in [2, 4, 4, 4, 5, 5, 7, 9] {
            recorder.record(ms(n));
        }
        assert_eq!(recorder.count(), 8);
        assert_eq!(recorder.fastest(), ms(2));
        assert_eq!(recorder.slowest(), ms(9));
        assert!((recorder.average_secs() - 0.005).abs() < 1e-12);
        assert!((recorder.stddev_secs() - 0.002).abs() < 1e-9);
    }

    #[test]
    fn percentiles_follow_the_distribution() {
        let mut recorder = LatencyRecorder::new();
        for n in 1..=1000 {
            recorder.record(Duration::from_micros(n));
        }
        let p50 = recorder.percentile_secs(50.0);
        let p99 = recorder.percentile_secs(99.0);
        assert!((p50 - 500e-6).abs() < 1e-6, "{p50}");
        assert!((p99 - 990e-6).abs() < 1e-6, "{p99}");
        assert_eq!(recorder.percentile_secs(100.0), 1000e-6);
    }

    #[test]
    fn merging_adds_counts_errors_and_extremes() {
        let mut a = LatencyRecorder::new();
        a.record(ms(3));
        a.record_error("boom".into());
        let mut b = LatencyRecorder::new();
        b.record(ms(1));
        b.record(ms(8));
        b.record_error("boom".into());
        b.record_error("bang".into());
        a.merge(&b).unwrap();
        assert_eq!(a.count(), 3);
        assert_eq!(a.error_count(), 3);
        assert_eq!(a.errors()["boom"], 2);
        assert_eq!(a.fastest(), ms(1));
        assert_eq!(a.slowest(), ms(8));
        assert_eq!(a.recorded().map(|(_, n)| n).sum::<u64>(), 3);
    }

    #[test]
    fn an_empty_recorder_reports_zeroes() {
        let recorder = LatencyRecorder::new();
        assert_eq!(recorder.fastest(), Duration::ZERO);
        assert_eq!(recorder.average_secs(), 0.0);
        assert_eq!(recorder.stddev_secs(), 0.0);
        assert_eq!(recorder.percentile_secs(99.0), 0.0);
    }
}
