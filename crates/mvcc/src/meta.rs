//! The meta table (etcd's "meta" bucket): the raft index and term the backend holds the state of
//! (the consistent index), and the compaction revisions. Each value is an 8-byte big-endian
//! number, as etcd stores it.

use redb::{ReadTransaction, ReadableTable, TableDefinition, TableError, WriteTransaction};

use crate::error::BackendError;

/// Store bookkeeping: consistent index, term and compaction revisions (etcd's "meta" bucket).
pub(crate) const META_TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");

const CONSISTENT_INDEX: &[u8] = b"consistent_index";
const TERM: &[u8] = b"term";
/// The newest compaction a batch has committed (it may not be finished yet).
pub(crate) const SCHEDULED_COMPACT_REV: &[u8] = b"scheduledCompactRev";
/// The newest compaction whose revisions are gone from the key table.
pub(crate) const FINISHED_COMPACT_REV: &[u8] = b"finishedCompactRev";

/// Whether meta row `key` describes this member's progress rather than the replicated state
/// (how far it applied, how far its compaction got), so hashes compared across members skip it.
pub(crate) fn is_member_local(key: &[u8]) -> bool {
    [CONSISTENT_INDEX, TERM, FINISHED_COMPACT_REV].contains(&key)
}

/// The raft index and term of the last entry applied to the backend (0, 0 for a new database).
pub(crate) fn read_consistent_index(tx: &ReadTransaction) -> Result<(u64, u64), BackendError> {
    let table = match tx.open_table(META_TABLE) {
        Ok(table) => table,
        Err(TableError::TableDoesNotExist(_)) => return Ok((0, 0)),
        Err(e) => return Err(BackendError::new("opening meta table", e)),
    };
    let index = read_u64(&table, CONSISTENT_INDEX, "consistent index")?.unwrap_or(0);
    let term = read_u64(&table, TERM, "consistent index")?.unwrap_or(0);
    Ok((index, term))
}

/// Writes the consistent index and term into `tx`, the transaction holding the state they
/// describe. The consistent index only grows: raft never applies an entry twice.
pub(crate) fn write_consistent_index(
    tx: &WriteTransaction,
    index: u64,
    term: u64,
) -> Result<(), BackendError> {
    let mut meta = tx
        .open_table(META_TABLE)
        .map_err(BackendError::with("opening meta table"))?;
    debug_assert!(
        read_u64(&meta, CONSISTENT_INDEX, "consistent index")
            .ok()
            .flatten()
            .is_none_or(|old| index >= old),
        "the consistent index only grows (writing {index})"
    );
    meta.insert(CONSISTENT_INDEX, index.to_be_bytes().as_slice())
        .map_err(BackendError::with("writing consistent index"))?;
    meta.insert(TERM, term.to_be_bytes().as_slice())
        .map_err(BackendError::with("writing term"))?;
    Ok(())
}

/// Removes the consistent index and term from `tx`: the backend then reads as applied up to
/// (0, 0), ready for a brand-new raft log (a snapshot restored into a new cluster).
pub(crate) fn clear_consistent_index(tx: &WriteTransaction) -> Result<(), BackendError> {
    let mut meta = tx
        .open_table(META_TABLE)
        .map_err(BackendError::with("opening meta table"))?;
    for key in [CONSISTENT_INDEX, TERM] {
        meta.remove(key)
            .map_err(BackendError::with("clearing the consistent index"))?;
    }
    Ok(())
}

/// A compaction revision (`SCHEDULED_COMPACT_REV` or `FINISHED_COMPACT_REV`), if recorded.
pub(crate) fn read_compact_rev(
    tx: &ReadTransaction,
    name: &'static [u8],
) -> Result<Option<i64>, BackendError> {
    let meta = tx
        .open_table(META_TABLE)
        .map_err(BackendError::with("opening meta table"))?;
    Ok(read_u64(&meta, name, "compaction revision")?.map(|rev| rev as i64))
}

/// Records a compaction revision in `tx`.
pub(crate) fn write_compact_rev(
    tx: &WriteTransaction,
    name: &'static [u8],
    rev: i64,
) -> Result<(), BackendError> {
    let mut meta = tx
        .open_table(META_TABLE)
        .map_err(BackendError::with("opening meta table"))?;
    meta.insert(name, (rev as u64).to_be_bytes().as_slice())
        .map_err(BackendError::with("recording compaction revision"))?;
    Ok(())
}

fn read_u64(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    name: &[u8],
    what: &'static str,
) -> Result<Option<u64>, BackendError> {
    let Some(value) = table.get(name).map_err(BackendError::with(what))? else {
        return Ok(None);
    };
    let bytes: [u8; 8] = value
        .value()
        .try_into()
        .map_err(|_| BackendError::new(what, "not 8 bytes"))?;
    Ok(Some(u64::from_be_bytes(bytes)))
}
