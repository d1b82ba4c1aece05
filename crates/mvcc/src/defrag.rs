//! Online defragmentation: the backend is rewritten into a new, compact file that then takes
//! the old one's place, giving the space of deleted and compacted rows back to the filesystem.
//!
//! etcd's defragmentation holds every write for the whole rewrite (seconds to tens of seconds on
//! large backends, etcd-io/etcd#9222). Here the bulk of the copy is read from one read
//! transaction while writes go on; physical compaction waits meanwhile, so no row vanishes from
//! under the copy. Then the one write transaction is taken — apply batches wait only from here —
//! the rows written since are added (key-table rows are keyed by revision, so they are exactly
//! those after the last one copied; the small tables are copied again whole), the new file is
//! made durable and renamed over the old one, and the backend switches to it. Readers that
//! started on the old file finish there; writers that waited retry on the new one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{Database, ReadTransaction, TableHandle, WriteTransaction};

use crate::backend::{CopyInto, KEY_TABLE, builder, defrag_copy_path};
use crate::error::BackendError;
use crate::shared::Shared;
use crate::untyped_table;

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
    let last_copied = copy(&src, &fresh, None)?;
    drop(src);

    let hold = backend.begin_write()?;
    let held = Instant::now();
    let src = backend.begin_read()?;
    copy(&src, &fresh, Some(last_copied))?;
    drop(src);
    std::fs::rename(&path, backend.path())
        .map_err(BackendError::with("putting the defragmented copy in place"))?;
    discard.0 = None;
    sync_parent(&backend.path())?;
    backend.replace_database(fresh);
    hold.abort()
        .map_err(BackendError::with("releasing the old backend"))?;
    let writes_held = held.elapsed();
    shared.refresh_snapshot();
    Ok(DefragReport {
        size_before,
        size_after: backend.size(),
        writes_held,
        took: started.elapsed(),
    })
}

/// Copies `src` into `dest` in one durable transaction and returns the last key-table key
/// copied. Without `after`, every table whole; with it, the key-table rows after that key and
/// every other table whole again (replacing what an earlier pass copied).
fn copy(
    src: &ReadTransaction,
    dest: &Database,
    after: Option<Option<Vec<u8>>>,
) -> Result<Option<Vec<u8>>, BackendError> {
    let mut tx = dest
        .begin_write()
        .map_err(BackendError::with("writing the defragmented copy"))?;
    tx.set_durability(redb::Durability::Immediate)
        .map_err(BackendError::with("writing the defragmented copy"))?;
    let tables = src
        .list_tables()
        .map_err(BackendError::with("listing tables"))?;
    for handle in tables {
        if handle.name() == KEY_TABLE.name() {
            continue;
        }
        if after.is_some() {
            tx.delete_table(handle.clone()).map_err(BackendError::with(
                "replacing a table in the defragmented copy",
            ))?;
        }
        untyped_table::visit(src, handle.name(), &mut CopyInto(&tx))?;
    }
    let last = copy_key_rows(src, &tx, after.flatten())?;
    tx.commit()
        .map_err(BackendError::with("committing the defragmented copy"))?;
    Ok(last)
}

/// Copies the key-table rows after `after` (all of them for `None`); returns the last key
/// copied, or `after` if there was none.
fn copy_key_rows(
    src: &ReadTransaction,
    tx: &WriteTransaction,
    after: Option<Vec<u8>>,
) -> Result<Option<Vec<u8>>, BackendError> {
    let table = src
        .open_table(KEY_TABLE)
        .map_err(BackendError::with("opening key table"))?;
    let mut out = tx.open_table(KEY_TABLE).map_err(BackendError::with(
        "creating key table in the defragmented copy",
    ))?;
    let rows = match &after {
        Some(key) => table.range::<&[u8]>((
            std::ops::Bound::Excluded(key.as_slice()),
            std::ops::Bound::Unbounded,
        )),
        None => table.range::<&[u8]>(..),
    }
    .map_err(BackendError::with("reading key table"))?;
    let mut last = after;
    for row in rows {
        let (key, value) = row.map_err(BackendError::with("reading key table"))?;
        out.insert(key.value(), value.value())
            .map_err(BackendError::with("writing the defragmented copy"))?;
        last = Some(key.value().to_vec());
    }
    Ok(last)
}

/// Makes the rename durable: fsyncs the directory holding `path`.
fn sync_parent(path: &Path) -> Result<(), BackendError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(BackendError::with("syncing the backend's directory"))
}
