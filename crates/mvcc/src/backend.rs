//! The backend: one redb database file holding the key table (every revision of every key), the
//! meta table (consistent index, compaction progress) and the typed tables other parts of the
//! server declare (see `table`). It plays the role of etcd's bbolt backend; redb stays behind
//! this crate's API.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::RwLock;
use redb::{Database, DatabaseError, ReadableDatabase, TableDefinition, WriteTransaction};

use crate::error::BackendError;
use crate::meta::META_TABLE;
use crate::read_tx::{OpenRead, ReadTx};
use crate::table::{TableReader, TableWriter};

/// Every revision of every key: revision key → protobuf `mvccpb.KeyValue` (etcd's "key" bucket).
pub(crate) const KEY_TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("key");

const PAGE: u64 = 4096;

/// redb's default cache is 1 GiB; memory use is judged, so keep it modest.
const CACHE_SIZE: usize = 64 * 1024 * 1024;

/// redb's settings for every open of a backend file.
pub(crate) fn builder() -> redb::Builder {
    let mut builder = Database::builder();
    builder.set_cache_size(CACHE_SIZE);
    builder
}

/// The file the compact copy is written to, beside the backend; one left by a crash is
/// removed when the backend is opened (or by the next defragmentation).
pub(crate) fn defrag_copy_path(backend: &Path) -> PathBuf {
    let mut name = backend.as_os_str().to_owned();
    name.push(".defrag");
    PathBuf::from(name)
}

/// An error opening the database file at `path`, naming it.
fn opening(path: &Path, e: impl std::fmt::Display) -> BackendError {
    BackendError::new(
        "opening backend database",
        format!("{}: {e}", path.display()),
    )
}

/// Repairs a copy of the database at `path` and throws the copy away: `Ok(Ok(()))` if the
/// file can be repaired, an error naming the damage (with the original untouched) if not,
/// and `Ok(Err(why))` if no copy could be made.
fn check_repairable(path: &Path) -> Result<Result<(), String>, BackendError> {
    let mut copy = path.as_os_str().to_owned();
    copy.push(".repair-check");
    let copy = PathBuf::from(copy);
    if let Err(e) = std::fs::copy(path, &copy) {
        let _ = std::fs::remove_file(&copy);
        return Ok(Err(format!("copying it to {}: {e}", copy.display())));
    }
    let repaired = builder().create(&copy).map(drop);
    let _ = std::fs::remove_file(&copy);
    repaired.map(Ok).map_err(|e| {
        opening(
            path,
            format!(
                "the file is damaged and cannot be repaired ({e}); it was left as it is: restore \
                 the member from a backup, or remove it from the cluster and add it back with an \
                 empty data directory"
            ),
        )
    })
}

/// The database file. Other parts of the server keep typed tables in it, written in the same
/// transaction as the key-value changes (see `ApplyBatch::tables`).
///
/// The open database can be replaced while the backend is in use (online defragmentation puts
/// a compacted copy in its place): readers keep the database they started on, and writers get
/// their transaction through [`Backend::begin_write`], which always lands on the current one.
pub struct Backend {
    db: RwLock<Arc<Database>>,
    /// Where the file is: it moves when a received snapshot database is installed.
    path: RwLock<PathBuf>,
    /// Bytes of key-value rows stored (kept up to date by the store; redb can only measure
    /// its used pages by walking every page, too slow to do on commits).
    stored_bytes: AtomicU64,
    /// Bytes of the database file, read from the file system after every commit: the quota
    /// check asks for it on every write, and a `statx` of the path each time cost a few
    /// percent of a busy leader's CPU.
    file_size: AtomicU64,
    /// Read transactions open now (each counted by an [`OpenRead`]).
    open_reads: Arc<AtomicI64>,
}

impl Backend {
    /// Opens the database at `path`, creating it (and the store's tables) if missing.
    ///
    /// A file that was not closed cleanly needs redb's repair, which writes to it. The repair
    /// is first tried on a copy: a file whose copy cannot be repaired is damaged, and is
    /// refused as it is instead of being half-rewritten by a repair that fails. Without room
    /// for the copy (a disk that just filled up), the repair runs in place, with a warning.
    pub fn open(path: &Path) -> Result<Backend, BackendError> {
        let unfinished = defrag_copy_path(path);
        if std::fs::remove_file(&unfinished).is_ok() {
            tracing::warn!(path = %unfinished.display(), "removed the copy of an unfinished defragmentation");
        }
        let db = match builder()
            .set_repair_callback(|session| session.abort())
            .create(path)
        {
            Ok(db) => db,
            Err(DatabaseError::RepairAborted) => {
                if let Err(reason) = check_repairable(path)? {
                    tracing::warn!(path = %path.display(), reason = %reason, "cannot check the repair of the backend database on a copy; repairing it in place");
                }
                tracing::warn!(path = %path.display(), "backend database was not closed cleanly; repairing it");
                builder().create(path).map_err(|e| opening(path, e))?
            }
            Err(e) => return Err(opening(path, e)),
        };
        let tx = db
            .begin_write()
            .map_err(BackendError::with("creating store tables"))?;
        tx.open_table(KEY_TABLE)
            .map_err(BackendError::with("creating key table"))?;
        tx.open_table(META_TABLE)
            .map_err(BackendError::with("creating meta table"))?;
        tx.commit()
            .map_err(BackendError::with("creating store tables"))?;
        let backend = Backend {
            db: RwLock::new(Arc::new(db)),
            path: RwLock::new(path.to_path_buf()),
            stored_bytes: AtomicU64::new(0),
            file_size: AtomicU64::new(0),
            open_reads: Arc::default(),
        };
        backend.measure_file();
        Ok(backend)
    }

    /// The database in use now.
    pub(crate) fn database(&self) -> Arc<Database> {
        self.db.read().clone()
    }

    /// A read transaction on the database in use now.
    pub(crate) fn begin_read(&self) -> Result<ReadTx, BackendError> {
        let tx = self
            .database()
            .begin_read()
            .map_err(BackendError::with("opening read transaction"))?;
        Ok(ReadTx::new(tx, self.count_read()))
    }

    /// Counts a read transaction opened elsewhere (a published snapshot) until the guard drops.
    pub(crate) fn count_read(&self) -> OpenRead {
        OpenRead::new(self.open_reads.clone())
    }

    /// Read transactions open now: snapshots readers hold, hashes, copies
    /// (`etcd_mvcc_db_open_read_transactions`).
    pub fn open_read_transactions(&self) -> i64 {
        self.open_reads.load(Ordering::Relaxed)
    }

    /// A write transaction on the database in use when it starts. A writer that waited for
    /// the transaction while the database was being replaced tries again on the new one, so no
    /// write ever lands in a database that was replaced.
    pub(crate) fn begin_write(&self) -> Result<WriteTransaction, BackendError> {
        loop {
            let db = self.database();
            let tx = db
                .begin_write()
                .map_err(BackendError::with("starting write transaction"))?;
            if Arc::ptr_eq(&db, &self.db.read()) {
                return Ok(tx);
            }
            tx.abort()
                .map_err(BackendError::with("leaving a replaced database"))?;
        }
    }

    /// Puts `db` in place of the database in use (the caller has made it hold the same state)
    /// and hands back the one replaced, for the caller to close.
    pub(crate) fn replace_database(&self, db: Database) -> Arc<Database> {
        let replaced = std::mem::replace(&mut *self.db.write(), Arc::new(db));
        self.measure_file();
        replaced
    }

    /// Commits `tx`, a transaction of this backend, and takes note of the file's new size;
    /// `what` names the write in the error.
    pub(crate) fn commit(
        &self,
        tx: WriteTransaction,
        what: &'static str,
    ) -> Result<(), BackendError> {
        let committed = tx.commit().map_err(|e| BackendError::new(what, e));
        self.measure_file();
        committed
    }

    fn measure_file(&self) {
        let size = std::fs::metadata(&*self.path.read()).map_or(0, |m| m.len());
        self.file_size.store(size, Ordering::Relaxed);
    }

    /// A snapshot of the tables as last committed.
    pub fn read(&self) -> Result<TableReader, BackendError> {
        Ok(TableReader::new(self.begin_read()?))
    }

    /// The raft index and term of the last entry applied to the backend (0, 0 for a new
    /// database). They are written in the same transaction as the state they describe.
    pub fn consistent_index(&self) -> Result<(u64, u64), BackendError> {
        self.read()?.consistent_index()
    }

    /// Writes typed tables outside the apply loop (bootstrapping a data dir, stamping a received
    /// snapshot), in one durable transaction that commits if `write` succeeds. Waits for the
    /// write transaction, so it must not be called while this thread holds an apply batch.
    pub fn write<T, E: From<BackendError>>(
        &self,
        write: impl FnOnce(TableWriter<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self.begin_write()?;
        let out = write(TableWriter::new(&tx))?;
        self.commit(tx, "committing write transaction")?;
        Ok(out)
    }

    /// Makes every commit so far durable with one fsync. Commits made without one (apply
    /// batches, which the raft log can replay) are lost when the process exits otherwise.
    pub fn sync(&self) -> Result<(), BackendError> {
        self.write(|_| Ok::<_, BackendError>(()))
    }

    /// Bytes of the database file on disk (`StatusResponse.db_size`).
    pub fn size(&self) -> u64 {
        self.file_size.load(Ordering::Relaxed)
    }

    /// Bytes of the file holding live data (`StatusResponse.db_size_in_use`): the stored
    /// key-value rows plus a page of bookkeeping, at most the file size. An estimate, since
    /// measuring it exactly means reading the whole file.
    pub fn size_in_use(&self) -> u64 {
        let stored = self.stored_bytes.load(Ordering::Relaxed) + PAGE;
        stored.min(self.size())
    }

    /// Where the database file lives.
    pub fn path(&self) -> PathBuf {
        self.path.read().clone()
    }

    /// Records that the database file was renamed to `path` (the open handle still reads
    /// and writes it; sizes and defragmentation then look for it there).
    pub fn moved_to(&self, path: &Path) {
        *self.path.write() = path.to_path_buf();
        self.measure_file();
    }

    /// Accounts for `bytes` of rows written (positive) or removed (negative).
    pub(crate) fn add_stored_bytes(&self, bytes: i64) {
        let _ = self
            .stored_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some(b.saturating_add_signed(bytes))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::write_consistent_index;
    use crate::table::Table;

    /// A copy of a database taken while it is open, as a crash leaves it (not closed cleanly),
    /// holding 300 keys.
    fn crashed_copy(dir: &Path, name: &str) -> PathBuf {
        let live = dir.join(format!("{name}.live"));
        let backend = Backend::open(&live).unwrap();
        for round in 0..3u32 {
            let tx = backend.database().begin_write().unwrap();
            {
                let mut table = tx.open_table(KEY_TABLE).unwrap();
                for n in 0..100u32 {
                    let key = (round * 100 + n).to_be_bytes();
                    table.insert(key.as_slice(), [7u8; 100].as_slice()).unwrap();
                }
            }
            tx.commit().unwrap();
        }
        let copy = dir.join(name);
        std::fs::copy(&live, &copy).unwrap();
        copy
    }

    fn keys(backend: &Backend) -> u64 {
        let tx = backend.database().begin_read().unwrap();
        let table = tx.open_table(KEY_TABLE).unwrap();
        redb::ReadableTableMetadata::len(&table).unwrap()
    }

    #[test]
    fn a_database_left_by_a_crash_is_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let crashed = crashed_copy(dir.path(), "db");
        let backend = Backend::open(&crashed).unwrap();
        assert_eq!(keys(&backend), 300);
    }

    #[test]
    fn a_damaged_database_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let damaged = crashed_copy(dir.path(), "db");
        let mut bytes = std::fs::read(&damaged).unwrap();
        let end = bytes.len();
        bytes[PAGE as usize..end].fill(0xff);
        std::fs::write(&damaged, &bytes).unwrap();

        let error = Backend::open(&damaged)
            .err()
            .expect("a damaged file is refused");
        let text = error.to_string();
        assert!(text.contains(&damaged.display().to_string()), "{text}");
        assert!(text.contains("cannot be repaired"), "{text}");
        assert_eq!(
            std::fs::read(&damaged).unwrap(),
            bytes,
            "the file is untouched"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|name| name.to_string_lossy().contains("repair-check"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn consistent_index_round_trips_and_defaults_to_zero() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::open(&dir.path().join("db")).unwrap();
        assert_eq!(backend.consistent_index().unwrap(), (0, 0));
        let tx = backend.database().begin_write().unwrap();
        write_consistent_index(&tx, 42, 7).unwrap();
        tx.commit().unwrap();
        assert_eq!(backend.consistent_index().unwrap(), (42, 7));
        assert!(backend.size() > 0);
        assert_eq!(backend.size_in_use(), PAGE);
        backend.add_stored_bytes(100);
        backend.add_stored_bytes(-30);
        assert_eq!(backend.size_in_use(), PAGE + 70);
    }

    #[test]
    fn copy_to_carries_every_table() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::open(&dir.path().join("db")).unwrap();
        let members: Table<u64, Vec<u8>> = Table::new("members");
        let cluster: Table<String, u64> = Table::new("cluster");
        let names: Table<Vec<u8>, String> = Table::new("names");
        backend
            .write(|tables| {
                tables.put(&members, &7, &b"m".to_vec())?;
                tables.put(&cluster, &"version".to_owned(), &35)?;
                tables.put(&names, &b"n".to_vec(), &"name".to_owned())
            })
            .unwrap();
        let tx = backend.database().begin_write().unwrap();
        write_consistent_index(&tx, 9, 2).unwrap();
        tx.commit().unwrap();

        let dest = dir.path().join("copy");
        assert_eq!(backend.copy_to(&dest).unwrap(), (9, 2));
        let copy = Backend::open(&dest).unwrap();
        assert_eq!(copy.consistent_index().unwrap(), (9, 2));
        let read = copy.read().unwrap();
        assert_eq!(read.rows(&members).unwrap(), vec![(7, b"m".to_vec())]);
        assert_eq!(read.get(&cluster, &"version".to_owned()).unwrap(), Some(35));
        assert_eq!(read.get(&cluster, &"other".to_owned()).unwrap(), None);
        assert_eq!(
            read.rows(&names).unwrap(),
            vec![(b"n".to_vec(), "name".to_owned())]
        );
    }

    #[test]
    fn typed_tables_keep_the_store_tables_to_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::open(&dir.path().join("db")).unwrap();
        let key: Table<Vec<u8>, Vec<u8>> = Table::new("key");
        let written = backend.write(|tables| tables.put(&key, &vec![1], &vec![2]));
        assert!(written.is_err());
        assert!(backend.read().unwrap().rows(&key).is_err());
    }

    #[test]
    fn a_missing_table_reads_as_empty_and_deletes_remove_rows() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::open(&dir.path().join("db")).unwrap();
        let leases: Table<Vec<u8>, Vec<u8>> = Table::new("lease");
        assert!(backend.read().unwrap().rows(&leases).unwrap().is_empty());
        backend
            .write(|tables| {
                tables.put(&leases, &vec![1], &vec![10])?;
                tables.put(&leases, &vec![2], &vec![20])?;
                tables.delete(&leases, &vec![1])
            })
            .unwrap();
        assert_eq!(
            backend.read().unwrap().rows(&leases).unwrap(),
            vec![(vec![2], vec![20])]
        );
    }
}
