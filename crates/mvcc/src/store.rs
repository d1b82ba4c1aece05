//! The multi-version key-value store: the in-memory index, the published current and compacted
//! revisions, and the read path. One apply loop writes through `ApplyBatch`; any number of
//! readers answer ranges against the published state meanwhile, holding the index lock only
//! briefly (in chunks) and reading values from a backend snapshot.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{
    DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse,
    ResponseHeader, TxnRequest, TxnResponse,
};
use oxcd_api::mvccpb::{Event, KeyValue};
use parking_lot::RwLock;
use redb::{ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable};

use crate::apply::ApplyBatch;
use crate::backend::{
    Backend, BackendError, FINISHED_COMPACT_REV, KEY_TABLE, META_TABLE, SCHEDULED_COMPACT_REV,
};
use crate::compaction::{Compactor, completion};
use crate::history::ChunkLimit;
use crate::index::{KeySpan, TreeIndex};
use crate::key_index::{KeyAt, KeyIndex};
use crate::revision::Revision;
use crate::view::{ReadError, StoreView, decode_kv};
use crate::{kv_header, range, txn};

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
}

impl Shared {
    /// Makes `rev` (just committed) the revision readers see, with `compacted` if the batch
    /// compacted. The current revision moves first: a reader that sees the new compacted
    /// revision then also sees the revision it belongs to.
    pub(crate) fn publish(&self, rev: i64, compacted: Option<i64>) {
        let compact = compacted.unwrap_or_else(|| self.compact.load(Ordering::Acquire));
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
    fn current_snapshot(&self) -> Result<Arc<Snapshot>, BackendError> {
        if let Some(s) = self.snapshot.read().as_ref() {
            return Ok(s.clone());
        }
        // Revisions are read before the snapshot opens, so the snapshot holds all of them.
        let compact = self.compact.load(Ordering::Acquire);
        let rev = self.current.load(Ordering::Acquire);
        Ok(Arc::new(Snapshot::open(&self.backend, rev, compact)?))
    }
}

/// The key table as committed at revision `rev`, compacted up to `compact`.
pub(crate) struct Snapshot {
    rev: i64,
    compact: i64,
    pub table: ReadOnlyTable<&'static [u8], &'static [u8]>,
    _tx: ReadTransaction,
}

impl Snapshot {
    fn open(backend: &Backend, rev: i64, compact: i64) -> Result<Snapshot, BackendError> {
        let tx = backend
            .database()
            .begin_read()
            .map_err(BackendError::with("opening read transaction"))?;
        let table = tx
            .open_table(KEY_TABLE)
            .map_err(BackendError::with("opening key table"))?;
        Ok(Snapshot {
            rev,
            compact,
            table,
            _tx: tx,
        })
    }
}

/// The multi-version key-value store. `Send + Sync`: share it between the apply loop (the only
/// writer, through `begin_apply`) and any number of readers.
pub struct KvStore {
    shared: Arc<Shared>,
    compactor: Compactor,
}

impl KvStore {
    /// Loads the store from the backend: rebuilds the index (all generations, tombstones
    /// included), the current and compacted revisions, and resumes an unfinished compaction.
    pub fn open(backend: Arc<Backend>) -> Result<KvStore, BackendError> {
        let (index, current, compacted, scheduled) = restore(&backend)?;
        let shared = Arc::new(Shared {
            backend,
            index: RwLock::new(index),
            current: AtomicI64::new(current),
            compact: AtomicI64::new(compacted),
            index_floor: AtomicI64::new(i64::MIN),
            snapshot: RwLock::new(None),
        });
        shared.refresh_snapshot();
        let compactor = Compactor::start(shared.clone())?;
        if let Some(rev) = scheduled {
            if rev > current {
                tracing::warn!(
                    scheduled = rev,
                    current,
                    "not resuming compaction: revision is in the future"
                );
            } else {
                tracing::info!(revision = rev, "resuming scheduled compaction");
                shared.compact.store(rev, Ordering::Release);
                shared.refresh_snapshot();
                let (_, done) = completion();
                compactor.schedule(rev, done);
            }
        }
        Ok(KvStore { shared, compactor })
    }

    /// The backend the store lives in.
    pub fn backend(&self) -> &Arc<Backend> {
        &self.shared.backend
    }

    /// The newest revision visible to readers (1 for an empty store, as in etcd).
    pub fn current_revision(&self) -> i64 {
        self.shared.current.load(Ordering::Acquire)
    }

    /// The revision compacted up to, or -1 if the store was never compacted (etcd's value).
    pub fn compact_revision(&self) -> i64 {
        self.shared.compact.load(Ordering::Acquire)
    }

    /// Number of keys with history in the index (live or deleted but not yet compacted).
    pub fn indexed_keys(&self) -> usize {
        self.shared.index.read().len()
    }

    /// Answers a range request against the published state. The header carries only the
    /// revision the read was served at; the server fills in the rest. Errors: `Compacted`,
    /// `FutureRev` as etcd returns them, `Corrupt` if the backend fails (logged).
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse, EtcdError> {
        let mut view = self.snapshot().map_err(read_failure)?;
        range::range(&mut view, req).map_err(read_failure)
    }

    /// Runs a txn that only reads (see [`txn::is_txn_read_only`](crate::is_txn_read_only))
    /// against the published state, as etcd does without consensus. `None` if the txn writes.
    pub fn txn_read_only(&self, req: &TxnRequest) -> Option<Result<TxnResponse, EtcdError>> {
        if !txn::is_txn_read_only(req) {
            return None;
        }
        let run = || -> Result<TxnResponse, ReadError> {
            let mut view = self.snapshot()?;
            let path = txn::choose_path(&mut view, req)?;
            txn::check_ranges(&mut view, req, &path)?;
            let mut resp = txn::execute(&mut view, req, &path)?;
            resp.header = Some(ResponseHeader {
                revision: view.current,
                ..Default::default()
            });
            Ok(resp)
        };
        Some(run().map_err(read_failure))
    }

    /// etcd's HashKV: a CRC-32C over the key table up to `rev` (0: current), skipping
    /// revisions at or below the compacted revision that compaction drops. Returns the hash,
    /// the current revision and the compacted revision.
    pub fn hash_kv(&self, rev: i64) -> Result<(u32, i64, i64), EtcdError> {
        crate::hash::hash_kv(&self.shared, rev).map_err(read_failure)
    }

    /// The changes of revisions `from` onwards (up to the current revision) as watch events,
    /// oldest first, within `limit` (never a revision split in two). Returns them with the revision to continue from. `Compacted` if
    /// `from` is below the compacted revision. Delete events carry the key and the deletion
    /// revision; `prev_kv` is left empty (read it with a range at `mod_revision - 1`).
    pub fn events(&self, from: i64, limit: ChunkLimit) -> Result<(Vec<Event>, i64), EtcdError> {
        let view = self.snapshot().map_err(read_failure)?;
        crate::history::events(&view, from, limit).map_err(read_failure)
    }

    /// Every live key with a lease, as `(key, lease)`: what a lessor needs to rebuild its
    /// attachments after a restart.
    pub fn leased_keys(&self) -> Result<Vec<(Vec<u8>, i64)>, EtcdError> {
        let run = || -> Result<Vec<(Vec<u8>, i64)>, ReadError> {
            let mut view = self.snapshot()?;
            let mut found = Vec::new();
            let at = view.current;
            view.scan(KeySpan::From(&[]), at, usize::MAX, &mut found)?;
            let mut leased = Vec::new();
            for chunk in found.chunks(READ_CHUNK) {
                let revs: Vec<_> = chunk.iter().map(|k| k.modified).collect();
                let mut kvs = Vec::with_capacity(revs.len());
                view.load(&revs, &mut kvs)?;
                leased.extend(
                    kvs.into_iter()
                        .filter(|kv| kv.lease != 0)
                        .map(|kv| (kv.key, kv.lease)),
                );
            }
            Ok(leased)
        };
        run().map_err(read_failure)
    }

    /// Starts applying a batch of raft entries in one backend write transaction. Waits while
    /// the compactor holds the write transaction for one of its (short) steps.
    pub fn begin_apply(&self) -> Result<ApplyBatch<'_>, BackendError> {
        ApplyBatch::begin(&self.shared, &self.compactor)
    }

    fn snapshot(&self) -> Result<SnapshotView<'_>, ReadError> {
        SnapshotView::open(&self.shared)
    }
}

/// Logs a backend failure on the read path and reports it to the client as etcd would report
/// a broken member.
fn read_failure(e: ReadError) -> EtcdError {
    match e {
        ReadError::Etcd(e) => e,
        ReadError::Backend(e) => {
            tracing::error!(error = %e, "backend read failed");
            EtcdError::Corrupt
        }
    }
}

/// The published state as of one moment: the revisions, a backend snapshot for values, and the
/// shared index (read in chunks; revisions newer than `current` are invisible to it).
pub(crate) struct SnapshotView<'s> {
    shared: &'s Shared,
    pub current: i64,
    pub compact: i64,
    pub snapshot: Arc<Snapshot>,
}

impl<'s> SnapshotView<'s> {
    pub(crate) fn open(shared: &'s Shared) -> Result<SnapshotView<'s>, ReadError> {
        let snapshot = shared.current_snapshot()?;
        Ok(SnapshotView {
            shared,
            current: snapshot.rev,
            compact: snapshot.compact,
            snapshot,
        })
    }
}

impl StoreView for SnapshotView<'_> {
    fn current_rev(&self) -> i64 {
        self.current
    }

    fn compact_rev(&self) -> i64 {
        self.compact
    }

    fn scan(
        &mut self,
        span: KeySpan<'_>,
        at: i64,
        collect: usize,
        out: &mut Vec<KeyAt>,
    ) -> Result<i64, ReadError> {
        let mut total = 0i64;
        let mut cursor = None;
        loop {
            let index = self.shared.index.read();
            if self.shared.index_floor.load(Ordering::Acquire) > at {
                // A compaction past `at` started since this read began.
                return Err(EtcdError::Compacted.into());
            }
            cursor = index.scan_live(span, cursor.as_deref(), at, READ_CHUNK, |_, found| {
                if out.len() < collect {
                    out.push(found);
                }
                total += 1;
            });
            drop(index);
            if cursor.is_none() {
                return Ok(total);
            }
        }
    }

    fn load(&mut self, revs: &[Revision], out: &mut Vec<KeyValue>) -> Result<(), ReadError> {
        for rev in revs {
            let value = self
                .snapshot
                .table
                .get(rev.to_key(false).as_bytes())
                .map_err(BackendError::with("reading key table"))?
                .ok_or_else(|| {
                    BackendError::new("reading key table", format!("revision {rev:?} is missing"))
                })?;
            out.push(decode_kv(value.value())?);
        }
        Ok(())
    }
}

impl txn::TxnOps for SnapshotView<'_> {
    fn put(&mut self, _req: &PutRequest) -> Result<PutResponse, ReadError> {
        Err(EtcdError::NotCapable.into())
    }

    fn delete_range(
        &mut self,
        _req: &DeleteRangeRequest,
    ) -> Result<DeleteRangeResponse, ReadError> {
        Err(EtcdError::NotCapable.into())
    }
}

/// Rebuilds the index from the key table. Returns it with the current revision, the finished
/// compaction revision (-1 if none) and a scheduled compaction still to do.
fn restore(backend: &Backend) -> Result<(TreeIndex, i64, i64, Option<i64>), BackendError> {
    let tx = backend
        .database()
        .begin_read()
        .map_err(BackendError::with("opening restore transaction"))?;
    let meta = tx
        .open_table(META_TABLE)
        .map_err(BackendError::with("opening meta table"))?;
    let read_rev = |name: &[u8]| -> Result<Option<i64>, BackendError> {
        let Some(v) = meta
            .get(name)
            .map_err(BackendError::with("reading compaction revision"))?
        else {
            return Ok(None);
        };
        crate::backend::decode_u64(v.value())
            .map(|r| Some(r as i64))
            .ok_or_else(|| BackendError::new("decoding compaction revision", "not 8 bytes"))
    };
    let compacted = read_rev(FINISHED_COMPACT_REV)?.unwrap_or(-1);
    let scheduled = read_rev(SCHEDULED_COMPACT_REV)?.filter(|s| *s > compacted);

    let table = tx
        .open_table(KEY_TABLE)
        .map_err(BackendError::with("opening key table"))?;
    let mut index = TreeIndex::default();
    let mut current = 1;
    let mut stored = 0u64;
    for row in table
        .iter()
        .map_err(BackendError::with("scanning key table"))?
    {
        let (k, v) = row.map_err(BackendError::with("scanning key table"))?;
        let (rev, tombstone) = Revision::from_key(k.value()).ok_or_else(|| {
            BackendError::new(
                "scanning key table",
                format!("malformed revision key {:?}", k.value()),
            )
        })?;
        let kv = kv_header::parse(v.value())?;
        current = rev.main;
        stored += (k.value().len() + v.value().len()) as u64;
        match (index.key_index_mut(kv.key), tombstone) {
            (Some(ki), true) => {
                if !ki.tombstone(rev) {
                    tracing::warn!(revision = ?rev, "tombstone of a key that is not live; ignored");
                }
            }
            (Some(ki), false) => ki.put(rev),
            (None, false) => index.insert_restored(
                kv.key,
                KeyIndex::restored(Revision::new(kv.create_revision, 0), rev, kv.version),
            ),
            (None, true) => {}
        }
    }
    backend.add_stored_bytes(stored as i64);
    Ok((index, current.max(compacted), compacted, scheduled))
}
