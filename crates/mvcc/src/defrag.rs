//! Online defragmentation: the backend is rewritten into a new, compact file that then takes
//! the old one's place, giving the space of deleted and compacted rows back to the filesystem.
//!
//! etcd's defragmentation holds every write for the whole rewrite (seconds to tens of seconds on
//! large backends, etcd-io/etcd#9222). Here the bulk of the copy is read from one read
//! transaction while writes go on, and written in small durable chunks (`table_copy`);
//! physical compaction waits meanwhile, so no row vanishes from under the copy. Catch-up passes
//! then add the rows written during the copy (key-table rows are keyed by revision, so they are
//! exactly those after the last one copied), still without holding writes. Then the one write
//! transaction is taken — apply batches wait only from here — the last rows are added and the
//! small tables copied again whole, the new file is made durable and renamed over the old one,
//! and the backend switches to it. Readers that started on the old file finish there; writers
//! that waited retry on the new one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::Database;

use crate::backend::{builder, defrag_copy_path};
use crate::error::BackendError;
use crate::shared::Shared;
use crate::table_copy;

/// Catch-up passes at most before writes are held: under a write load heavier than the copy
/// can follow, the held pass takes what is left.
const CATCH_UP_PASSES: usize = 3;

/// A catch-up pass that copied no more rows than this is close enough for the held pass.
const CAUGHT_UP_ROWS: u64 = 1000;

/// How often the closer of a replaced database looks whether it is the last holder.
const CLOSE_POLL: Duration = Duration::from_millis(10);

/// What a defragmentation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefragReport {
    /// Size of the backend file before, in bytes.
    pub size_before: u64,
    /// Size of the backend file after, in bytes.
    pub size_after: u64,
    /// How long writes were held (the final copy and the swap).
    pub writes_held: Duration,
    /// How long the whole defragmentation took.
    pub took: Duration,
}

/// Removes the copy unless it was put in place.
struct Discard(Option<PathBuf>);

impl Drop for Discard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

pub(crate) fn defragment(shared: &Shared) -> Result<DefragReport, BackendError> {
    let started = Instant::now();
    let backend = &shared.backend;
    let _no_compaction = shared.compaction_pause.lock();
    let size_before = backend.size();
    let path = defrag_copy_path(&backend.path());
    let _ = std::fs::remove_file(&path);
    let mut discard = Discard(Some(path.clone()));
    let fresh = builder()
        .create(&path)
        .map_err(BackendError::with("creating the defragmented copy"))?;

    let src = backend.begin_read()?;
    table_copy::copy_other_tables(&src, &fresh, false)?;
    let mut last_copied = table_copy::copy_key_rows(&src, &fresh, None)?.last;
    drop(src);
    // The rows written during the bulk copy are caught up with while writes still go on, so
    // that what is left for the held pass is what arrives in a short catch-up pass.
    for _ in 0..CATCH_UP_PASSES {
        let src = backend.begin_read()?;
        let copied = table_copy::copy_key_rows(&src, &fresh, last_copied)?;
        last_copied = copied.last;
        if copied.rows <= CAUGHT_UP_ROWS {
            break;
        }
    }

    let hold = backend.begin_write()?;
    let held = Instant::now();
    let src = backend.begin_read()?;
    table_copy::copy_other_tables(&src, &fresh, true)?;
    table_copy::copy_key_rows(&src, &fresh, last_copied)?;
    drop(src);
    std::fs::rename(&path, backend.path())
        .map_err(BackendError::with("putting the defragmented copy in place"))?;
    discard.0 = None;
    sync_parent(&backend.path())?;
    let replaced = backend.replace_database(fresh);
    hold.abort()
        .map_err(BackendError::with("releasing the old backend"))?;
    let writes_held = held.elapsed();
    shared.refresh_snapshot();
    close_when_released(replaced);
    Ok(DefragReport {
        size_before,
        size_after: backend.size(),
        writes_held,
        took: started.elapsed(),
    })
}

/// Closes the replaced database on a thread of its own once nothing else holds it. Closing a
/// redb database writes its allocator state and syncs it — on a large backend long enough to be
/// felt — and whoever drops the last handle does it: left to chance, that is a writer that
/// waited for the swap, or the reader of a snapshot of the old database (a range sent in pieces
/// holds one until its client has it all), and the close would stall a write or a runtime
/// worker.
fn close_when_released(replaced: Arc<Database>) {
    let closer = std::thread::Builder::new()
        .name("defrag-close".into())
        .spawn(move || {
            while Arc::strong_count(&replaced) > 1 {
                std::thread::sleep(CLOSE_POLL);
            }
            drop(replaced);
        });
    if let Err(e) = closer {
        tracing::warn!(error = %e, "no thread to close the replaced backend; its last holder will");
    }
}

/// Makes the rename durable: fsyncs the directory holding `path`.
fn sync_parent(path: &Path) -> Result<(), BackendError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(BackendError::with("syncing the backend's directory"))
}
