//! Applying committed requests: one `ApplyBatch` covers a batch of raft entries in one backend
//! write transaction. Each mutating request gets the next main revision (a txn's changes share
//! one, numbered by sub revision). New rows are buffered and written at commit; the index is
//! updated at once but readers ignore revisions above the published one, which is only moved
//! after the backend commit. A batch dropped without commit leaves no trace.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{
    DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse,
    ResponseHeader, TxnRequest, TxnResponse,
};
use oxcd_api::mvccpb::event::EventType;
use oxcd_api::mvccpb::{Event, KeyValue};
use prost::Message;
use redb::{Durability, WriteTransaction};

use crate::backend::KEY_TABLE;
use crate::compaction::{CompactionDone, CompactionError, Compactor, Completion, completion};
use crate::error::BackendError;
use crate::index::KeySpan;
use crate::key_index::KeyAt;
use crate::meta::{SCHEDULED_COMPACT_REV, write_compact_rev, write_consistent_index};
use crate::revision::{Revision, RevisionKey};
use crate::shared::Shared;
use crate::table::TableWriter;
use crate::txn::TxnOps;
use crate::view::{ReadError, StoreView, decode_kv, load_stored};
use crate::{range, txn};

/// One backend write transaction applying many requests.
pub struct ApplyBatch<'a> {
    /// Declared first so an aborted batch reverts the index while it still holds the write
    /// transaction (which keeps the compactor out).
    undo: Undo<'a>,
    shared: &'a Shared,
    compactor: &'a Compactor,
    tx: WriteTransaction,
    /// Revision of the last request applied so far in this batch.
    rev: i64,
    /// Compacted revision as requests in this batch see it.
    compact_rev: i64,
    /// Key-table rows written by this batch, in revision order.
    rows: Vec<Row>,
    /// Where the request being applied started.
    request: RequestStart,
    /// First backend failure; the batch can then only be dropped.
    failure: Option<BackendError>,
}

struct Row {
    rev: Revision,
    key: RevisionKey,
    value: Vec<u8>,
}

#[derive(Clone, Copy)]
struct RequestStart {
    rev: i64,
    changes: usize,
    rows: usize,
}

/// The batch's changes, and the undo of their index updates unless the batch commits.
struct Undo<'a> {
    shared: &'a Shared,
    /// Revision published when the batch began; everything above it is this batch's.
    base_rev: i64,
    changes: Vec<Event>,
    compactions: Vec<(i64, Arc<Completion>)>,
    committed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if !self.changes.is_empty() {
            let mut index = self.shared.index.write();
            for change in &self.changes {
                if let Some(kv) = &change.kv {
                    index.revert_after(&kv.key, self.base_rev);
                }
            }
        }
        for (_, done) in self.compactions.drain(..) {
            done.finish(Err(CompactionError::NotCommitted));
        }
    }
}

impl<'a> ApplyBatch<'a> {
    pub(crate) fn begin(
        shared: &'a Shared,
        compactor: &'a Compactor,
    ) -> Result<ApplyBatch<'a>, BackendError> {
        let tx = shared.backend.begin_write()?;
        let rev = shared.current.load(Ordering::Acquire);
        Ok(ApplyBatch {
            shared,
            compactor,
            tx,
            rev,
            compact_rev: shared.compact.load(Ordering::Acquire),
            rows: Vec::new(),
            request: RequestStart {
                rev,
                changes: 0,
                rows: 0,
            },
            failure: None,
            undo: Undo {
                shared,
                base_rev: rev,
                changes: Vec::new(),
                compactions: Vec::new(),
                committed: false,
            },
        })
    }

    /// Applies a put. A non-zero lease must exist (`lease_exists`), else `LeaseNotFound`;
    /// ignore_value / ignore_lease need the key to exist, else `KeyNotFound`. Nothing changes
    /// on error.
    pub fn put(
        &mut self,
        req: &PutRequest,
        lease_exists: &dyn Fn(i64) -> bool,
    ) -> Result<PutResponse, EtcdError> {
        self.guard()?;
        if req.lease != 0 && !lease_exists(req.lease) {
            return Err(EtcdError::LeaseNotFound);
        }
        self.run_request(|b| TxnOps::put(b, req))
    }

    /// Applies a delete. Deleting nothing does not move the revision.
    pub fn delete_range(
        &mut self,
        req: &DeleteRangeRequest,
    ) -> Result<DeleteRangeResponse, EtcdError> {
        self.guard()?;
        self.run_request(|b| TxnOps::delete_range(b, req))
    }

    /// Applies a txn with etcd's semantics; on any error nothing changes. The response header
    /// carries the revision after the txn (moved only if the txn wrote something).
    pub fn txn(
        &mut self,
        req: &TxnRequest,
        lease_exists: &dyn Fn(i64) -> bool,
    ) -> Result<TxnResponse, EtcdError> {
        self.guard()?;
        self.run_request(|b| {
            let path = txn::choose_path(b, req)?;
            txn::check(b, req, &path, lease_exists)?;
            let mut resp = txn::execute(b, req, &path)?;
            resp.header = Some(ResponseHeader {
                revision: b.view_rev(),
                ..Default::default()
            });
            Ok(resp)
        })
    }

    /// Answers a range inside the apply path (it sees this batch's writes).
    pub fn range(&mut self, req: &RangeRequest) -> Result<RangeResponse, EtcdError> {
        self.guard()?;
        self.run_request(|b| range::range(b, req))
    }

    /// Schedules a compaction at `rev`: `Compacted` if `rev` is not above the compacted
    /// revision, `FutureRev` if it is above the current one. Once the batch commits, reads
    /// below `rev` fail and the old revisions are removed in the background; the returned
    /// handle resolves when that is done.
    pub fn compact(&mut self, rev: i64) -> Result<CompactionDone, EtcdError> {
        self.guard()?;
        if rev <= self.compact_rev {
            return Err(EtcdError::Compacted);
        }
        if rev > self.rev {
            return Err(EtcdError::FutureRev);
        }
        if let Err(e) = write_compact_rev(&self.tx, SCHEDULED_COMPACT_REV, rev) {
            return Err(self.fail(e));
        }
        self.compact_rev = rev;
        let (done, completion) = completion();
        self.undo.compactions.push((rev, completion));
        Ok(done)
    }

    /// The changes made by the requests applied so far, in order (a delete's event carries the
    /// key and its deletion revision).
    pub fn changes(&self) -> &[Event] {
        &self.undo.changes
    }

    /// The store revision after the requests applied so far (for response headers).
    pub fn revision(&self) -> i64 {
        self.rev
    }

    /// The encoded size of the key-value pairs the batch puts (etcd's
    /// `etcd_debugging_mvcc_total_put_size_in_bytes` adds them up).
    pub fn put_bytes(&self) -> u64 {
        self.undo
            .changes
            .iter()
            .filter(|e| e.r#type == EventType::Put as i32)
            .filter_map(|e| e.kv.as_ref())
            .map(|kv| kv.encoded_len() as u64)
            .sum()
    }

    /// Writes to the server's typed tables, committed atomically with the key-value changes.
    pub fn tables(&self) -> TableWriter<'_> {
        TableWriter::new(&self.tx)
    }

    /// Records the raft index and term this batch applies up to, in the same transaction.
    pub fn set_consistent_index(&mut self, index: u64, term: u64) -> Result<(), BackendError> {
        write_consistent_index(&self.tx, index, term)
    }

    /// Commits the batch (`durable`: fsync; otherwise redb's `Durability::None`, since the raft
    /// log can replay it) and only then makes its revisions visible to readers. Returns the
    /// changes as watch events, in order; a delete's event carries the key and the deletion
    /// revision, as in etcd; `prev_kv` is not filled.
    pub fn commit(self, durable: bool) -> Result<Vec<Event>, BackendError> {
        let ApplyBatch {
            shared,
            compactor,
            mut tx,
            rev,
            rows,
            failure,
            mut undo,
            ..
        } = self;
        if let Some(e) = failure {
            return Err(e);
        }
        debug_assert!(
            rows.last().is_none_or(|last| last.rev.main == rev),
            "the batch's revision is that of its newest row"
        );
        {
            let mut table = tx
                .open_table(KEY_TABLE)
                .map_err(BackendError::with("opening key table"))?;
            for row in &rows {
                table
                    .insert(row.key.as_bytes(), row.value.as_slice())
                    .map_err(BackendError::with("writing key table"))?;
            }
        }
        tx.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })
        .map_err(BackendError::with("setting commit durability"))?;
        fail::fail_point!("beforeCommit");
        shared.backend.commit(tx, "committing apply transaction")?;
        fail::fail_point!("afterCommit");

        undo.committed = true;
        let written: usize = rows
            .iter()
            .map(|r| r.key.as_bytes().len() + r.value.len())
            .sum();
        shared.backend.add_stored_bytes(written as i64);
        shared.publish(rev, undo.compactions.last().map(|(c, _)| *c));
        for (rev, done) in undo.compactions.drain(..) {
            compactor.schedule(rev, done);
        }
        Ok(std::mem::take(&mut undo.changes))
    }

    fn guard(&self) -> Result<(), EtcdError> {
        match self.failure {
            Some(_) => Err(EtcdError::Corrupt),
            None => Ok(()),
        }
    }

    /// Records a backend failure (the batch is then unusable) and reports it to the client.
    fn fail(&mut self, e: BackendError) -> EtcdError {
        tracing::error!(error = %e, "backend failure while applying");
        self.failure.get_or_insert(e);
        EtcdError::Corrupt
    }

    /// Runs one request: on success its changes take the next revision; on error they are
    /// undone.
    fn run_request<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, ReadError>,
    ) -> Result<T, EtcdError> {
        self.request = RequestStart {
            rev: self.rev,
            changes: self.undo.changes.len(),
            rows: self.rows.len(),
        };
        match f(self) {
            Ok(resp) => {
                if self.undo.changes.len() > self.request.changes {
                    self.rev += 1;
                }
                Ok(resp)
            }
            Err(e) => {
                self.rollback_request();
                match e {
                    ReadError::Etcd(e) => Err(e),
                    ReadError::Backend(e) => Err(self.fail(e)),
                }
            }
        }
    }

    fn rollback_request(&mut self) {
        let start = self.request;
        if self.undo.changes.len() > start.changes {
            let mut index = self.shared.index.write();
            for change in &self.undo.changes[start.changes..] {
                if let Some(kv) = &change.kv {
                    index.revert_after(&kv.key, start.rev);
                }
            }
        }
        self.undo.changes.truncate(start.changes);
        self.rows.truncate(start.rows);
    }

    /// Whether the request being applied has changed anything yet.
    fn request_changed(&self) -> bool {
        self.undo.changes.len() > self.request.changes
    }

    /// The revision reads inside the current request see (etcd's write-txn range revision).
    fn view_rev(&self) -> i64 {
        self.request.rev + i64::from(self.request_changed())
    }

    fn next_revision(&self) -> Revision {
        Revision::new(
            self.request.rev + 1,
            (self.undo.changes.len() - self.request.changes) as i64,
        )
    }

    fn write_put(&mut self, key: &[u8], value: Vec<u8>, lease: i64) -> i64 {
        let rev = self.next_revision();
        let before = self.shared.index.write().put(key, rev);
        let (created, version) = match before {
            Some(found) => (found.created.main, found.version + 1),
            None => (rev.main, 1),
        };
        let kv = KeyValue {
            key: key.to_vec(),
            create_revision: created,
            mod_revision: rev.main,
            version,
            value,
            lease,
        };
        self.push_row(rev, false, kv.encode_to_vec());
        self.undo.changes.push(Event {
            r#type: EventType::Put as i32,
            kv: Some(kv),
            prev_kv: None,
        });
        rev.main
    }

    fn write_delete(&mut self, span: KeySpan<'_>) -> i64 {
        let at = self.view_rev();
        let mut keys = Vec::new();
        {
            let index = self.shared.index.read();
            index.scan_live(span, None, at, usize::MAX, |key, _| keys.push(key.to_vec()));
        }
        let deleted = keys.len() as i64;
        for key in keys {
            let rev = self.next_revision();
            if !self.shared.index.write().tombstone(&key, rev) {
                continue;
            }
            let mut kv = KeyValue {
                key,
                ..Default::default()
            };
            self.push_row(rev, true, kv.encode_to_vec());
            kv.mod_revision = rev.main;
            self.undo.changes.push(Event {
                r#type: EventType::Delete as i32,
                kv: Some(kv),
                prev_kv: None,
            });
        }
        deleted
    }

    /// Buffers a key-table row; rows stay in revision order (reads of the batch search them).
    fn push_row(&mut self, rev: Revision, tombstone: bool, value: Vec<u8>) {
        debug_assert!(
            self.rows.last().is_none_or(|last| last.rev < rev) && rev.main > self.undo.base_rev,
            "a batch writes new revisions in order ({rev:?})"
        );
        self.rows.push(Row {
            rev,
            key: rev.to_key(tombstone),
            value,
        });
    }

    fn single(&mut self, key: &[u8]) -> Result<Option<KeyValue>, ReadError> {
        let rr = range::range_keys(self, KeySpan::Single(key), 0, 0, false)?;
        Ok(rr.kvs.into_iter().next())
    }
}

impl StoreView for ApplyBatch<'_> {
    fn current_rev(&self) -> i64 {
        self.view_rev()
    }

    fn compact_rev(&self) -> i64 {
        self.compact_rev
    }

    fn scan(
        &mut self,
        span: KeySpan<'_>,
        at: i64,
        collect: usize,
        out: &mut Vec<KeyAt>,
    ) -> Result<i64, ReadError> {
        let mut total = 0;
        let index = self.shared.index.read();
        index.scan_live(span, None, at, usize::MAX, |_, found| {
            if out.len() < collect {
                out.push(found);
            }
            total += 1;
        });
        Ok(total)
    }

    fn load(&mut self, revs: &[Revision], out: &mut Vec<KeyValue>) -> Result<(), ReadError> {
        let base = self.undo.base_rev;
        let mut table = None;
        for rev in revs {
            if rev.main > base {
                let row = self
                    .rows
                    .binary_search_by_key(rev, |r| r.rev)
                    .map(|i| &self.rows[i])
                    .map_err(|_| {
                        BackendError::new("reading batch", format!("revision {rev:?} is missing"))
                    })?;
                out.push(decode_kv(&row.value)?);
                continue;
            }
            if table.is_none() {
                table = Some(
                    self.tx
                        .open_table(KEY_TABLE)
                        .map_err(BackendError::with("opening key table"))?,
                );
            }
            let Some(t) = &table else { continue };
            out.push(load_stored(t, rev)?);
        }
        Ok(())
    }
}

impl TxnOps for ApplyBatch<'_> {
    fn put(&mut self, req: &PutRequest) -> Result<PutResponse, ReadError> {
        let needs_prev = req.ignore_value || req.ignore_lease || req.prev_kv;
        let prev = if needs_prev {
            self.single(&req.key)?
        } else {
            None
        };
        if (req.ignore_value || req.ignore_lease) && prev.is_none() {
            return Err(EtcdError::KeyNotFound.into());
        }
        let value = match (&prev, req.ignore_value) {
            (Some(p), true) => p.value.clone(),
            _ => req.value.clone(),
        };
        let lease = match (&prev, req.ignore_lease) {
            (Some(p), true) => p.lease,
            _ => req.lease,
        };
        let revision = self.write_put(&req.key, value, lease);
        Ok(PutResponse {
            header: Some(ResponseHeader {
                revision,
                ..Default::default()
            }),
            prev_kv: if req.prev_kv { prev } else { None },
        })
    }

    fn delete_range(&mut self, req: &DeleteRangeRequest) -> Result<DeleteRangeResponse, ReadError> {
        let span = KeySpan::new(&req.key, &req.range_end);
        let prev_kvs = if req.prev_kv {
            range::range_keys(self, span, 0, 0, false)?.kvs
        } else {
            Vec::new()
        };
        let deleted = self.write_delete(span);
        let revision = if deleted != 0 || self.request_changed() {
            self.request.rev + 1
        } else {
            self.request.rev
        };
        Ok(DeleteRangeResponse {
            header: Some(ResponseHeader {
                revision,
                ..Default::default()
            }),
            deleted,
            prev_kvs,
        })
    }
}
