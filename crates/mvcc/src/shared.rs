//! The state the store, its apply batches, its readers and the compactor thread share: the
//! backend, the in-memory index, the published current and compacted revisions, and the backend
//! snapshot readers share. Both published revisions only grow while a store is open (a store
//! replaced by a snapshot from the leader starts a new `Shared`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::RwLock;
use redb::{Database, ReadOnlyTable, ReadTransaction, ReadableDatabase};

use crate::backend::{Backend, KEY_TABLE};
use crate::error::BackendError;
use crate::index::TreeIndex;
use crate::read_tx::OpenRead;

/// Keys looked at per hold of the index read lock, so readers never stall the writer for long.
pub(crate) const READ_CHUNK: usize = 1024;

/// State shared by the store, its apply batches and the compactor thread.
pub(crate) struct Shared {
    pub backend: Arc<Backend>,
    pub index: RwLock<TreeIndex>,
    /// Newest committed revision visible to readers.
    pub current: AtomicI64,
    /// Revision compacted up to (logically: reads below fail), -1 if never compacted.
    pub compact: AtomicI64,
    /// Revision the in-memory index has started compacting at; index answers below it are gone.
    pub index_floor: AtomicI64,
    /// A backend snapshot of the published state, shared by readers so a read does not have to
    /// open its own transaction. `None` if opening one failed (readers then open their own).
    pub snapshot: RwLock<Option<Arc<Snapshot>>>,
    /// Held by each step of physical compaction, and by a defragmentation for its whole copy,
    /// so no compacted rows disappear from under it.
    pub compaction_pause: parking_lot::Mutex<()>,
    /// Told of every finished physical compaction (the server's metrics).
    pub compaction_observer: RwLock<Option<Arc<crate::compaction_report::CompactionObserver>>>,
}

impl Shared {
    /// Makes `rev` (just committed) the revision readers see, with `compacted` if the batch
    /// compacted. The current revision moves first: a reader that sees the new compacted
    /// revision then also sees the revision it belongs to.
    pub(crate) fn publish(&self, rev: i64, compacted: Option<i64>) {
        let compact = compacted.unwrap_or_else(|| self.compact.load(Ordering::Acquire));
        debug_assert!(
            rev >= self.current.load(Ordering::Acquire),
            "the current revision only grows (publishing {rev})"
        );
        debug_assert!(
            compact >= self.compact.load(Ordering::Acquire) && compact <= rev,
            "the compacted revision only grows and stays at or below the current one \
             (publishing {compact} at {rev})"
        );
        let snapshot = self.open_snapshot(rev, compact);
        let mut slot = self.snapshot.write();
        self.current.store(rev, Ordering::Release);
        self.compact.store(compact, Ordering::Release);
        *slot = snapshot;
    }

    /// Replaces the shared snapshot with a fresh one at the same revision, so pages freed since
    /// (by compaction) can be reused.
    pub(crate) fn refresh_snapshot(&self) {
        let mut slot = self.snapshot.write();
        *slot = self.open_snapshot(
            self.current.load(Ordering::Acquire),
            self.compact.load(Ordering::Acquire),
        );
    }

    fn open_snapshot(&self, rev: i64, compact: i64) -> Option<Arc<Snapshot>> {
        match Snapshot::open(&self.backend, rev, compact) {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                tracing::error!(error = %e, "opening shared read snapshot");
                None
            }
        }
    }

    /// A snapshot of the published state.
    pub(crate) fn current_snapshot(&self) -> Result<Arc<Snapshot>, BackendError> {
        if let Some(s) = self.snapshot.read().as_ref() {
            return Ok(s.clone());
        }
        // Revisions are read before the snapshot opens, so the snapshot holds all of them.
        let compact = self.compact.load(Ordering::Acquire);
        let rev = self.current.load(Ordering::Acquire);
        Ok(Arc::new(Snapshot::open(&self.backend, rev, compact)?))
    }
}

/// The key table as committed at revision `rev`, compacted up to `compact`. It keeps its
/// database open: a defragmentation that replaces the database while a snapshot is still read
/// (a range sent in pieces can take a while) leaves the old one to close when the last
/// snapshot of it goes. Fields drop in order, the database last.
pub(crate) struct Snapshot {
    pub rev: i64,
    pub compact: i64,
    pub table: ReadOnlyTable<&'static [u8], &'static [u8]>,
    tx: ReadTransaction,
    _open: OpenRead,
    _database: Arc<Database>,
}

impl Snapshot {
    pub(crate) fn open(
        backend: &Backend,
        rev: i64,
        compact: i64,
    ) -> Result<Snapshot, BackendError> {
        let database = backend.database();
        let tx = database
            .begin_read()
            .map_err(BackendError::with("opening read transaction"))?;
        let table = tx
            .open_table(KEY_TABLE)
            .map_err(BackendError::with("opening key table"))?;
        Ok(Snapshot {
            rev,
            compact,
            table,
            tx,
            _open: backend.count_read(),
            _database: database,
        })
    }

    /// The read transaction the snapshot was taken in: every table as committed at `rev`.
    pub(crate) fn transaction(&self) -> &ReadTransaction {
        &self.tx
    }
}
