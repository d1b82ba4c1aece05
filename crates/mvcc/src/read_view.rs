//! The read path's view of the store: the published state as of one moment (its revisions, the
//! shared backend snapshot for values, and the index, read in chunks so the writer is never held
//! up for long). Ranges, read-only txns and the change history read through it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse};
use oxcd_api::mvccpb::KeyValue;

use crate::index::KeySpan;
use crate::key_index::KeyAt;
use crate::revision::Revision;
use crate::shared::{READ_CHUNK, Shared, Snapshot};
use crate::txn::TxnOps;
use crate::view::{ReadError, StoreView, load_stored};

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
            out.push(load_stored(&self.snapshot.table, rev)?);
        }
        Ok(())
    }
}

impl TxnOps for SnapshotView<'_> {
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
