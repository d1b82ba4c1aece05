//! An optional instant that can be read and written without locking, so picking an endpoint
//! on the hot path never blocks.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// An `Option<Instant>` stored as nanoseconds after a process-wide origin; 0 means unset.
#[derive(Debug, Default)]
pub(crate) struct AtomicInstant(AtomicU64);

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

impl AtomicInstant {
    pub(crate) fn set(&self, at: Instant) {
        let nanos = at.saturating_duration_since(origin()).as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX).max(1);
        self.0.store(nanos, Ordering::Relaxed);
    }

    pub(crate) fn clear(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Option<Instant> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(origin() + Duration::from_nanos(nanos)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trips_and_clears() {
        let cell = AtomicInstant::default();
        assert!(cell.get().is_none());
        let at = Instant::now() + Duration::from_millis(30);
        cell.set(at);
        let got = cell.get().unwrap();
        let diff = if got > at { got - at } else { at - got };
        assert!(diff < Duration::from_micros(1));
        cell.clear();
        assert!(cell.get().is_none());
    }
}
