//! Gauges of things under way (a proposal waiting, a defragmentation, a snapshot being
//! applied): raised when one starts and lowered when its guard drops, so that an early return,
//! an error or a client going away cannot leave the gauge counting something that ended.

use std::sync::atomic::{AtomicI64, Ordering};

/// Holds `gauge` one higher for as long as it lives.
pub(crate) struct GaugeGuard<'a>(&'a AtomicI64);

impl<'a> GaugeGuard<'a> {
    /// Raises `gauge` by one until the guard drops.
    pub(super) fn raise(gauge: &'a AtomicI64) -> GaugeGuard<'a> {
        gauge.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gauge_counts_live_guards() {
        let gauge = AtomicI64::new(0);
        let first = GaugeGuard::raise(&gauge);
        {
            let _second = GaugeGuard::raise(&gauge);
            assert_eq!(gauge.load(Ordering::Relaxed), 2);
        }
        assert_eq!(gauge.load(Ordering::Relaxed), 1);
        drop(first);
        assert_eq!(gauge.load(Ordering::Relaxed), 0);
    }
}
