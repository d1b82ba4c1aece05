//! What reading needs from the store: the revisions in play, which keys are live in a span at a
//! revision, and the stored values. Two views implement it: a snapshot of the published state
//! (the read path) and the apply batch (which sees its own uncommitted writes).

use oxcd_api::EtcdError;
use oxcd_api::mvccpb::KeyValue;
use prost::Message;
use redb::ReadableTable;

use crate::error::BackendError;
use crate::index::KeySpan;
use crate::key_index::KeyAt;
use crate::revision::Revision;

/// Why a read failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// An error etcd reports to the client.
    Etcd(EtcdError),
    /// The backend failed.
    Backend(BackendError),
}

impl From<EtcdError> for ReadError {
    fn from(e: EtcdError) -> Self {
        ReadError::Etcd(e)
    }
}

impl From<BackendError> for ReadError {
    fn from(e: BackendError) -> Self {
        ReadError::Backend(e)
    }
}

/// A consistent view of the store.
pub(crate) trait StoreView {
    /// The revision a read without an explicit revision sees (etcd's `curRev`).
    fn current_rev(&self) -> i64;

    /// The revision compacted up to; reads below it fail.
    fn compact_rev(&self) -> i64;

    /// Appends to `out` up to `collect` keys of `span` alive at `at` (in key order) and returns
    /// how many keys are alive there in total.
    fn scan(
        &mut self,
        span: KeySpan<'_>,
        at: i64,
        collect: usize,
        out: &mut Vec<KeyAt>,
    ) -> Result<i64, ReadError>;

    /// Loads the key-value pairs stored at `revs`, in that order.
    fn load(&mut self, revs: &[Revision], out: &mut Vec<KeyValue>) -> Result<(), ReadError>;
}

/// Decodes a stored key-value pair.
pub(crate) fn decode_kv(bytes: &[u8]) -> Result<KeyValue, BackendError> {
    KeyValue::decode(bytes).map_err(BackendError::with("decoding stored key-value"))
}

/// Loads the pair stored at `rev` from the key table. The index named that revision, so a
/// missing row is damage, not an absent key.
pub(crate) fn load_stored(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    rev: &Revision,
) -> Result<KeyValue, BackendError> {
    read_stored(table, rev, decode_kv)?
}

/// Runs `with` on the stored (encoded) row of `rev`, which the index named: a missing row is
/// damage.
pub(crate) fn read_stored<T>(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    rev: &Revision,
    with: impl FnOnce(&[u8]) -> T,
) -> Result<T, BackendError> {
    let value = table
        .get(rev.to_key(false).as_bytes())
        .map_err(BackendError::with("reading key table"))?
        .ok_or_else(|| missing_row(rev))?;
    Ok(with(value.value()))
}

/// The damage of a revision the index names missing from the key table.
pub(crate) fn missing_row(rev: &Revision) -> BackendError {
    BackendError::new("reading key table", format!("revision {rev:?} is missing"))
}

/// Logs a backend failure on the read path and reports it to the client as etcd would report
/// a broken member.
pub(crate) fn read_failure(e: ReadError) -> EtcdError {
    match e {
        ReadError::Etcd(e) => e,
        ReadError::Backend(e) => {
            tracing::error!(error = %e, "backend read failed");
            EtcdError::Corrupt
        }
    }
}
