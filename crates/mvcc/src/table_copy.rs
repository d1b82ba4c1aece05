//! Copying a backend's tables into another database file: the whole backend for snapshots
//! (`Backend::copy_to`), and the passes of a defragmentation.
//!
//! The key table (every revision of every key) is nearly all of a backend, so it is written in
//! durable chunks of [`CHUNK_BYTES`] rather than in one transaction: one commit of a
//! gigabyte-sized copy is one gigabyte-sized fsync, which the filesystem may make every other
//! fsync — the raft log's, the live backend's — wait behind, stalling writes for a second or
//! more (measured during defragmentation). Chunks keep the dirty data the copy leaves for the
//! disk small. The other tables are small and copied whole, in one transaction.

use std::path::Path;

use redb::{
    Database, Key, ReadOnlyTable, ReadTransaction, ReadableTable, TableDefinition, TableHandle,
    Value, WriteTransaction,
};

use crate::backend::{Backend, KEY_TABLE, builder};
use crate::error::BackendError;
use crate::untyped_table::{self, TableVisitor};

/// Bytes of key-table rows written per durable transaction of a copy (small in unit tests, so
/// that they copy many chunks).
const CHUNK_BYTES: usize = if cfg!(test) { 4096 } else { 16 * 1024 * 1024 };

impl Backend {
    /// Writes a consistent copy of every table to a new database at `dest` (used to ship raft
    /// snapshots and for `Maintenance.Snapshot`) and returns the consistent index and term the
    /// copy holds. It reads from a snapshot, so writers go on meanwhile.
    pub fn copy_to(&self, dest: &Path) -> Result<(u64, u64), BackendError> {
        let src = self.begin_read()?;
        let out = builder()
            .create(dest)
            .map_err(BackendError::with("creating snapshot database"))?;
        copy_other_tables(&src, &out, false)?;
        copy_key_rows(&src, &out, None)?;
        crate::meta::read_consistent_index(&src)
    }
}

/// What [`copy_key_rows`] copied.
pub(crate) struct KeyRowsCopied {
    /// The last key-table key now in the copy (the `after` it was given if it copied none).
    pub(crate) last: Option<Vec<u8>>,
    /// How many rows it copied.
    pub(crate) rows: u64,
}

/// Copies every table of `src` but the key table into `dest`, in one durable transaction.
/// With `replace`, each table is first emptied of what an earlier copy put there.
pub(crate) fn copy_other_tables(
    src: &ReadTransaction,
    dest: &Database,
    replace: bool,
) -> Result<(), BackendError> {
    let tx = durable_write(dest)?;
    let tables = src
        .list_tables()
        .map_err(BackendError::with("listing tables"))?;
    for handle in tables {
        if handle.name() == KEY_TABLE.name() {
            continue;
        }
        if replace {
            tx.delete_table(handle.clone())
                .map_err(BackendError::with("replacing a table in the copy"))?;
        }
        untyped_table::visit(src, handle.name(), &mut CopyInto(&tx))?;
    }
    tx.commit()
        .map_err(BackendError::with("committing the copy"))
}

/// Copies the key-table rows of `src` after key `after` (all of them for `None`) into
/// `dest`, a durable transaction per [`CHUNK_BYTES`] of rows.
pub(crate) fn copy_key_rows(
    src: &ReadTransaction,
    dest: &Database,
    after: Option<Vec<u8>>,
) -> Result<KeyRowsCopied, BackendError> {
    let table = src
        .open_table(KEY_TABLE)
        .map_err(BackendError::with("opening key table"))?;
    let mut rows = match &after {
        Some(key) => table.range::<&[u8]>((
            std::ops::Bound::Excluded(key.as_slice()),
            std::ops::Bound::Unbounded,
        )),
        None => table.range::<&[u8]>(..),
    }
    .map_err(BackendError::with("reading key table"))?;
    let mut copied = KeyRowsCopied {
        last: after,
        rows: 0,
    };
    loop {
        let tx = durable_write(dest)?;
        let mut chunk_bytes = 0;
        {
            let mut out = tx
                .open_table(KEY_TABLE)
                .map_err(BackendError::with("creating key table in the copy"))?;
            for row in rows.by_ref() {
                let (key, value) = row.map_err(BackendError::with("reading key table"))?;
                out.insert(key.value(), value.value())
                    .map_err(BackendError::with("writing the copy"))?;
                chunk_bytes += key.value().len() + value.value().len();
                copied.rows += 1;
                // One buffer for the last key, not an allocation per row copied.
                let last = copied.last.get_or_insert_with(Vec::new);
                last.clear();
                last.extend_from_slice(key.value());
                if chunk_bytes >= CHUNK_BYTES {
                    break;
                }
            }
        }
        tx.commit()
            .map_err(BackendError::with("committing the copy"))?;
        if chunk_bytes < CHUNK_BYTES {
            return Ok(copied);
        }
    }
}

/// A write transaction on `dest` that is on disk once committed.
fn durable_write(dest: &Database) -> Result<WriteTransaction, BackendError> {
    let mut tx = dest
        .begin_write()
        .map_err(BackendError::with("writing the copy"))?;
    tx.set_durability(redb::Durability::Immediate)
        .map_err(BackendError::with("writing the copy"))?;
    Ok(tx)
}

/// Copies each table it visits, rows and types alike, into a transaction of another database.
struct CopyInto<'tx>(&'tx WriteTransaction);

impl TableVisitor for CopyInto<'_> {
    fn visit<K: Key + 'static, V: Value + 'static>(
        &mut self,
        name: &str,
        table: ReadOnlyTable<K, V>,
    ) -> Result<(), BackendError> {
        let definition: TableDefinition<K, V> = TableDefinition::new(name);
        let mut out = self
            .0
            .open_table(definition)
            .map_err(BackendError::with("creating a table in the copy"))?;
        for entry in table
            .iter()
            .map_err(BackendError::with("reading a table to copy"))?
        {
            let (key, value) = entry.map_err(BackendError::with("reading a table to copy"))?;
            out.insert(key.value(), value.value())
                .map_err(BackendError::with("writing a table to the copy"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use redb::ReadableDatabase;

    use super::*;

    const COLORS: TableDefinition<&str, u64> = TableDefinition::new("colors");

    fn row(n: u32) -> (Vec<u8>, Vec<u8>) {
        (n.to_be_bytes().to_vec(), vec![n as u8; 300])
    }

    fn key_rows(db: &Database) -> Vec<(Vec<u8>, Vec<u8>)> {
        let tx = db.begin_read().unwrap();
        let table = tx.open_table(KEY_TABLE).unwrap();
        table
            .iter()
            .unwrap()
            .map(|entry| {
                let (key, value) = entry.unwrap();
                (key.value().to_vec(), value.value().to_vec())
            })
            .collect()
    }

    #[test]
    fn key_rows_are_copied_in_chunks_and_caught_up_after_the_last_one() {
        let dir = tempfile::tempdir().unwrap();
        let src = builder().create(dir.path().join("src")).unwrap();
        let write = |rows: std::ops::Range<u32>, color: u64| {
            let tx = src.begin_write().unwrap();
            {
                let mut table = tx.open_table(KEY_TABLE).unwrap();
                for n in rows {
                    let (key, value) = row(n);
                    table.insert(key.as_slice(), value.as_slice()).unwrap();
                }
                tx.open_table(COLORS).unwrap().insert("sky", color).unwrap();
            }
            tx.commit().unwrap();
        };
        write(0..100, 1);
        let dest = builder().create(dir.path().join("dest")).unwrap();

        let read = src.begin_read().unwrap();
        copy_other_tables(&read, &dest, false).unwrap();
        let bulk = copy_key_rows(&read, &dest, None).unwrap();
        assert_eq!(bulk.rows, 100);
        assert_eq!(bulk.last, Some(row(99).0));
        drop(read);

        write(100..130, 2);
        let read = src.begin_read().unwrap();
        let caught_up = copy_key_rows(&read, &dest, bulk.last).unwrap();
        assert_eq!((caught_up.rows, &caught_up.last), (30, &Some(row(129).0)));
        let nothing_new = copy_key_rows(&read, &dest, caught_up.last.clone()).unwrap();
        assert_eq!((nothing_new.rows, nothing_new.last), (0, caught_up.last));
        copy_other_tables(&read, &dest, true).unwrap();

        assert_eq!(key_rows(&dest), (0..130).map(row).collect::<Vec<_>>());
        let tx = dest.begin_read().unwrap();
        let colors = tx.open_table(COLORS).unwrap();
        assert_eq!(colors.get("sky").unwrap().unwrap().value(), 2);
        assert_eq!(colors.iter().unwrap().count(), 1);
    }
}
