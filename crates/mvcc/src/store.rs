//! The multi-version key-value store: opening it (rebuilding the index from the key table), the
//! read path and the way into the write path. One apply loop writes through `ApplyBatch`; any
//! number of readers answer ranges against the published state meanwhile (see `read_view`),
//! holding the index lock only briefly (in chunks) and reading values from a backend snapshot.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{
    RangeRequest, RangeResponse, ResponseHeader, TxnRequest, TxnResponse,
};
use oxcd_api::mvccpb::Event;
use parking_lot::RwLock;
use redb::ReadableTable;

use crate::apply::ApplyBatch;
use crate::backend::{Backend, KEY_TABLE};
use crate::compaction::{Compactor, completion};
use crate::error::BackendError;
use crate::history::ChunkLimit;
use crate::index::TreeIndex;
use crate::key_index::KeyIndex;
use crate::meta::{FINISHED_COMPACT_REV, SCHEDULED_COMPACT_REV, read_compact_rev};
use crate::range_pieces::RangeAnswer;
use crate::read_view::SnapshotView;
use crate::revision::Revision;
use crate::shared::Shared;
use crate::view::{ReadError, read_failure};
use crate::{kv_header, range, range_pieces, txn};

/// Live keys attached to a lease, each with its lease.
pub type LeasedKeys = Vec<(Vec<u8>, i64)>;

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
        Ok(KvStore::open_with_leased_keys(backend)?.0)
    }

    /// [`KvStore::open`], also returning the live keys attached to a lease, with their lease,
    /// which the index rebuild reads on its way: what a lessor needs to rebuild its
    /// attachments.
    pub fn open_with_leased_keys(
        backend: Arc<Backend>,
    ) -> Result<(KvStore, LeasedKeys), BackendError> {
        let started = std::time::Instant::now();
        let Restored {
            index,
            current,
            compacted,
            scheduled,
            leased,
        } = restore(&backend)?;
        tracing::info!(
            keys = index.len(),
            current_revision = current,
            took = ?started.elapsed(),
            "rebuilt the key index from the backend"
        );
        let shared = Arc::new(Shared {
            backend,
            index: RwLock::new(index),
            current: AtomicI64::new(current),
            compact: AtomicI64::new(compacted),
            index_floor: AtomicI64::new(i64::MIN),
            snapshot: RwLock::new(None),
            compaction_pause: parking_lot::Mutex::new(()),
            compaction_observer: RwLock::new(None),
        });
        shared.refresh_snapshot();
        let compactor = Compactor::start(shared.clone())?;
        if let Some(rev) = scheduled {
            tracing::info!(revision = rev, "resuming scheduled compaction");
            shared.compact.store(rev, Ordering::Release);
            shared.refresh_snapshot();
            let (_, done) = completion();
            compactor.schedule(rev, done);
        }
        Ok((KvStore { shared, compactor }, leased.into_iter().collect()))
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

    /// Answers a range request as [`KvStore::range`] does, whole if its key-value pairs encode
    /// within `budget` bytes, otherwise as [`RangePieces`](crate::RangePieces) to encode from a
    /// snapshot piece by piece. Sorted, revision-filtered and count-only ranges are always
    /// whole.
    pub fn range_within(
        &self,
        req: &RangeRequest,
        budget: usize,
    ) -> Result<RangeAnswer, EtcdError> {
        let mut view = self.snapshot().map_err(read_failure)?;
        range_pieces::answer(&mut view, req, budget).map_err(read_failure)
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

    /// etcd's `Hash`: a CRC-32C over every table of the backend at the published revision,
    /// leaving out the rows that describe this member rather than the replicated state (its
    /// applied index and compaction progress, and the rows `skip(table, key)` names). Members
    /// that applied the same entries agree. Returns the hash and the revision.
    pub fn hash(&self, skip: &dyn Fn(&str, &[u8]) -> bool) -> Result<(u32, i64), EtcdError> {
        crate::hash::hash_backend(&self.shared, skip).map_err(|e| read_failure(e.into()))
    }

    /// Rewrites the backend into a compacted file and puts it in place, giving the space of
    /// deleted and compacted rows back to the filesystem, while reads and writes go on (see
    /// `defrag.rs`: writes wait only while the last changes are copied and the files swapped).
    pub fn defragment(&self) -> Result<crate::DefragReport, BackendError> {
        crate::defrag::defragment(&self.shared)
    }

    /// The changes of revisions `from` onwards (up to the current revision) as watch events,
    /// oldest first, within `limit` (never a revision split in two). Returns them with the revision to continue from. `Compacted` if
    /// `from` is below the compacted revision. Delete events carry the key and the deletion
    /// revision; `prev_kv` is left empty (read it with a range at `mod_revision - 1`).
    pub fn events(&self, from: i64, limit: ChunkLimit) -> Result<(Vec<Event>, i64), EtcdError> {
        let view = self.snapshot().map_err(read_failure)?;
        crate::history::events(&view, from, limit).map_err(read_failure)
    }

    /// Has `observer` told of every physical compaction that finishes from now on.
    pub fn observe_compactions(&self, observer: Arc<crate::compaction_report::CompactionObserver>) {
        *self.shared.compaction_observer.write() = Some(observer);
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

/// What the scan of the key table at open finds.
struct Restored {
    index: TreeIndex,
    /// The current revision.
    current: i64,
    /// The finished compaction's revision (-1 if none).
    compacted: i64,
    /// A scheduled compaction still to do.
    scheduled: Option<i64>,
    /// The live keys attached to a lease, by key.
    leased: HashMap<Vec<u8>, i64>,
}

/// Rebuilds the index from the key table.
///
/// The current revision is that of the last row, or the newest compaction if later: a
/// compaction may have removed the last rows (tombstones), and a scheduled compaction above
/// every row is a revision bump (`oxcd_mvcc::offline::bump_revision`, what `oxutl snapshot
/// restore --bump-revision` does), which the store then stands at.
fn restore(backend: &Backend) -> Result<Restored, BackendError> {
    let tx = backend.begin_read()?;
    let compacted = read_compact_rev(&tx, FINISHED_COMPACT_REV)?.unwrap_or(-1);
    let scheduled = read_compact_rev(&tx, SCHEDULED_COMPACT_REV)?.filter(|s| *s > compacted);

    let table = tx
        .open_table(KEY_TABLE)
        .map_err(BackendError::with("opening key table"))?;
    let mut index = TreeIndex::default();
    let mut current = 1;
    let mut stored = 0u64;
    let mut previous = None;
    let mut leased = HashMap::new();
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
        debug_assert!(
            previous < Some(rev),
            "key table rows come in revision order"
        );
        previous = Some(rev);
        let kv = kv_header::parse(v.value())?;
        current = rev.main;
        stored += (k.value().len() + v.value().len()) as u64;
        if kv.lease != 0 && !tombstone {
            leased.insert(kv.key.to_vec(), kv.lease);
        } else if !leased.is_empty() {
            leased.remove(kv.key);
        }
        index.update(kv.key, |history| match (history.as_mut(), tombstone) {
            (Some(ki), true) => {
                if !ki.tombstone(rev) {
                    tracing::warn!(revision = ?rev, "tombstone of a key that is not live; ignored");
                }
            }
            (Some(ki), false) => ki.put(rev),
            (None, false) => {
                *history = Some(KeyIndex::restored(
                    Revision::new(kv.create_revision, 0),
                    rev,
                    kv.version,
                ));
            }
            (None, true) => {}
        });
    }
    backend.add_stored_bytes(stored as i64);
    let current = current.max(compacted).max(scheduled.unwrap_or(compacted));
    Ok(Restored {
        index,
        current,
        compacted,
        scheduled,
        leased,
    })
}
