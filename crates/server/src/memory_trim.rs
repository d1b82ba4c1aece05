//! Giving freed heap memory back to the system. glibc's allocator keeps the pages of freed
//! memory in its arenas unless they are at an arena's top, so a member that once held 100,000
//! watchers, or answered a burst of large requests, would keep that peak resident for good
//! (etcd's Go runtime hands such memory back in the background). Every ten seconds a task reads
//! how much the arenas hold free (`mallinfo2`); once that has grown by [`TRIM_STEP`] since the
//! last trim, `malloc_trim` returns the free pages, on a blocking thread since it walks every
//! arena. The module is built for glibc only (`lib.rs`); other C libraries have no such API.

use std::time::Duration;

/// How often the allocator's free memory is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(10);

/// Growth of the free memory the allocator holds that is worth a trim: small enough that a
/// member's leftovers stay a fraction of its size, large enough that trims stay rare.
const TRIM_STEP: usize = 32 * 1024 * 1024;

/// Decides when the allocator's free memory is worth trimming.
#[derive(Debug, Default)]
struct TrimPolicy {
    /// The free bytes at the last trim, lowered as free memory is reused: the pages trimmed
    /// stay counted as free, so only growth past them calls for another trim.
    baseline: usize,
}

impl TrimPolicy {
    /// Whether to trim now that the allocator holds `free` bytes free (a trim follows `true`).
    fn should_trim(&mut self, free: usize) -> bool {
        if free >= self.baseline.saturating_add(TRIM_STEP) {
            self.baseline = free;
            true
        } else {
            self.baseline = self.baseline.min(free);
            false
        }
    }
}

/// Starts the periodic trim on the current tokio runtime.
pub(crate) fn spawn() {
    tokio::spawn(async {
        let mut policy = TrimPolicy::default();
        let mut ticks = tokio::time::interval(CHECK_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let trimmed = tokio::task::spawn_blocking(move || {
                if policy.should_trim(glibc::free_bytes()) {
                    glibc::trim();
                }
                policy
            })
            .await;
            match trimmed {
                Ok(kept) => policy = kept,
                Err(e) => {
                    tracing::warn!(error = %e, "trimming freed memory failed; not trying again");
                    return;
                }
            }
        }
    });
}

mod glibc {
    /// Bytes the allocator holds in free chunks of its arenas.
    pub(super) fn free_bytes() -> usize {
        // SAFETY: mallinfo2 only reads the allocator's statistics (glibc 2.33 and later).
        let info = unsafe { libc::mallinfo2() };
        info.fordblks
    }

    /// Returns the whole free pages of every arena to the system.
    pub(super) fn trim() {
        // SAFETY: malloc_trim takes each arena's lock; it is safe to call at any time.
        let released = unsafe { libc::malloc_trim(0) };
        tracing::debug!(
            released = released == 1,
            "trimmed the allocator's free memory"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::process::resident_kib;

    const MIB: usize = 1024 * 1024;

    #[test]
    fn trims_only_after_free_memory_grows_by_a_step() {
        let mut policy = TrimPolicy::default();
        assert!(!policy.should_trim(TRIM_STEP - 1));
        assert!(policy.should_trim(TRIM_STEP + MIB));
        // The trimmed pages stay counted as free: no trim until more is freed.
        assert!(!policy.should_trim(TRIM_STEP + MIB));
        assert!(!policy.should_trim(2 * TRIM_STEP));
        assert!(policy.should_trim(2 * TRIM_STEP + MIB));
        // Free memory reused lowers the mark: freeing it again calls for a trim.
        assert!(!policy.should_trim(4 * MIB));
        assert!(!policy.should_trim(TRIM_STEP + 3 * MIB));
        assert!(policy.should_trim(TRIM_STEP + 4 * MIB));
    }

    fn resident_bytes() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        resident_kib(&status).unwrap() as usize * 1024
    }

    #[test]
    fn a_trim_returns_memory_freed_between_live_allocations() {
        // 64 MiB in 8 KiB blocks, every sixteenth kept, so that nothing freed is at the top
        // of the arena, where glibc would release it by itself.
        let blocks: Vec<Vec<u8>> = (0..8192).map(|i| vec![i as u8 | 1; 8192]).collect();
        let kept: Vec<Vec<u8>> = blocks
            .into_iter()
            .enumerate()
            .filter_map(|(i, block)| (i % 16 == 0).then_some(block))
            .collect();
        let before = resident_bytes();
        assert!(glibc::free_bytes() >= 48 * MIB, "{}", glibc::free_bytes());
        glibc::trim();
        let after = resident_bytes();
        assert!(
            after + 32 * MIB < before,
            "resident {} MiB before the trim, {} MiB after",
            before / MIB,
            after / MIB
        );
        assert_eq!(kept.len(), 512);
        assert!(kept.iter().all(|block| block[0] & 1 == 1));
    }
}
