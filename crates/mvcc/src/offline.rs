//! Work on a backend file that no member has open, for `oxutl`: whether a member holds it, the
//! status of a snapshot (etcdutl's hash, revision and row count), and preparing a snapshot's
//! database to seed a new cluster (a fresh consistent index, an optional revision bump).
//!
//! The status hash is etcdutl's definition carried over to redb: a CRC-32C over every table in
//! name order, each table's name and then each row's key and value bytes in key order. Unlike
//! the hash members compare (`KvStore::hash`), it covers every row, so it identifies the file's
//! whole content and is the same for every copy of it.

use std::path::Path;

use redb::{DatabaseError, ReadOnlyDatabase, ReadableTable, TableHandle};

use crate::backend::{Backend, KEY_TABLE};
use crate::crc32c::Crc32c;
use crate::error::BackendError;
use crate::meta::{
    self, FINISHED_COMPACT_REV, SCHEDULED_COMPACT_REV, read_compact_rev, write_compact_rev,
};
use crate::revision::Revision;
use crate::untyped_table::{self, Walked};

/// What `oxutl snapshot status` reports of a backend file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendStatus {
    /// CRC-32C over every table's name and rows (see the module doc).
    pub hash: u32,
    /// The store's revision: the newest in the key table, or the newest compaction if later
    /// (the same rule the store opens with).
    pub revision: i64,
    /// Rows in all tables together, as etcdutl counts keys in all buckets.
    pub total_keys: u64,
}

/// The revisions before and after [`bump_revision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevisionBump {
    /// The store's revision before.
    pub latest: i64,
    /// The store's revision after, also its compaction revision.
    pub bumped: i64,
}

/// Whether a running process (a member, another `oxutl`) has the database at `path` open;
/// the storage engine locks the file while it is open. Any other failure to open it is left
/// for [`Backend::open`] to report (or repair).
pub fn in_use(path: &Path) -> bool {
    matches!(
        ReadOnlyDatabase::open(path),
        Err(DatabaseError::DatabaseAlreadyOpen)
    )
}

/// Hash, revision and row count of the backend (see [`BackendStatus`]).
pub fn status(backend: &Backend) -> Result<BackendStatus, BackendError> {
    let tx = backend.begin_read()?;
    let mut crc = Crc32c::new();
    let (mut rows, mut last_revision) = (0, 0);
    untyped_table::walk(&tx, &mut |walked| match walked {
        Walked::Table(name) => crc.update(name.as_bytes()),
        Walked::Row { table, key, value } => {
            crc.update(key);
            crc.update(value);
            if table == KEY_TABLE.name()
                && let Some((rev, _)) = Revision::from_key(key)
            {
                last_revision = rev.main;
            }
            rows += 1;
        }
    })?;
    Ok(BackendStatus {
        hash: crc.finish(),
        revision: store_revision(backend, last_revision)?,
        total_keys: rows,
    })
}

/// The store's revision given the last key-table revision: the newest of it and the
/// compactions (finished or scheduled).
fn store_revision(backend: &Backend, last_row: i64) -> Result<i64, BackendError> {
    let tx = backend.begin_read()?;
    let finished = read_compact_rev(&tx, FINISHED_COMPACT_REV)?.unwrap_or(0);
    let scheduled = read_compact_rev(&tx, SCHEDULED_COMPACT_REV)?.unwrap_or(0);
    Ok(last_row.max(finished).max(scheduled))
}

/// Forgets the raft index and term the backend was applied up to, so a member started on it
/// with a brand-new raft log applies that log from its first entry.
pub fn reset_consistent_index(backend: &Backend) -> Result<(), BackendError> {
    let tx = backend.begin_write()?;
    meta::clear_consistent_index(&tx)?;
    backend.commit(tx, "resetting the consistent index")
}

/// Raises the store's revision by `amount` and schedules a compaction at the raised revision
/// (etcdutl's `--bump-revision` with `--mark-compacted`): a member started on it continues
/// numbering after the raised revision, and a watcher resuming from any older revision is told
/// it was compacted instead of missing the changes made after the snapshot was taken.
pub fn bump_revision(backend: &Backend, amount: u64) -> Result<RevisionBump, BackendError> {
    let tx = backend.begin_read()?;
    let last_row = {
        let table = tx
            .open_table(KEY_TABLE)
            .map_err(BackendError::with("opening key table"))?;
        match table
            .last()
            .map_err(BackendError::with("reading key table"))?
        {
            Some((key, _)) => Revision::from_key(key.value()).map_or(0, |(rev, _)| rev.main),
            None => 0,
        }
    };
    drop(tx);
    let latest = store_revision(backend, last_row)?;
    let bumped = i64::try_from(amount)
        .ok()
        .and_then(|amount| latest.checked_add(amount))
        .ok_or_else(|| {
            BackendError::new(
                "bumping the revision",
                format!("revision {latest} + {amount} overflows"),
            )
        })?;
    let tx = backend.begin_write()?;
    write_compact_rev(&tx, SCHEDULED_COMPACT_REV, bumped)?;
    backend.commit(tx, "bumping the revision")?;
    Ok(RevisionBump { latest, bumped })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use oxcd_api::etcdserverpb::{PutRequest, RangeRequest};

    use super::*;
    use crate::KvStore;

    fn put(store: &KvStore, key: &str) {
        let mut batch = store.begin_apply().unwrap();
        batch
            .put(
                &PutRequest {
                    key: key.as_bytes().to_vec(),
                    value: b"v".to_vec(),
                    ..Default::default()
                },
                &|_| false,
            )
            .unwrap();
        batch.set_consistent_index(batch_index(store), 1).unwrap();
        batch.commit(true).unwrap();
    }

    fn batch_index(store: &KvStore) -> u64 {
        store.backend().consistent_index().unwrap().0 + 1
    }

    #[test]
    fn status_counts_rows_and_is_stable_across_copies() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(Backend::open(&dir.path().join("db")).unwrap());
        let store = KvStore::open(backend.clone()).unwrap();
        put(&store, "a");
        put(&store, "b");
        put(&store, "a");
        let first = status(&backend).unwrap();
        assert_eq!(first.revision, 4);
        // Three key rows, consistent index and term in meta.
        assert_eq!(first.total_keys, 5);
        let copy = dir.path().join("copy");
        backend.copy_to(&copy).unwrap();
        assert_eq!(status(&Backend::open(&copy).unwrap()).unwrap(), first);
        put(&store, "c");
        assert_ne!(status(&backend).unwrap().hash, first.hash);
    }

    #[test]
    fn bump_and_reset_give_a_fresh_compacted_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let backend = Arc::new(Backend::open(&path).unwrap());
            let store = KvStore::open(backend.clone()).unwrap();
            put(&store, "a");
            put(&store, "b");
            reset_consistent_index(&backend).unwrap();
            let bump = bump_revision(&backend, 1000).unwrap();
            assert_eq!(
                bump,
                RevisionBump {
                    latest: 3,
                    bumped: 1003
                }
            );
            assert_eq!(backend.consistent_index().unwrap(), (0, 0));
            assert_eq!(status(&backend).unwrap().revision, 1003);
        }
        let store = KvStore::open(Arc::new(Backend::open(&path).unwrap())).unwrap();
        assert_eq!(store.current_revision(), 1003);
        assert_eq!(store.compact_revision(), 1003);
        let all = store
            .range(&RangeRequest {
                key: b"a".to_vec(),
                range_end: b"c".to_vec(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(all.kvs.len(), 2);
        assert_eq!(all.header.unwrap().revision, 1003);
        assert!(
            store
                .range(&RangeRequest {
                    key: b"a".to_vec(),
                    revision: 2,
                    ..Default::default()
                })
                .is_err()
        );
        put(&store, "c");
        assert_eq!(store.current_revision(), 1004);
    }

    #[test]
    fn in_use_sees_an_open_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let backend = Backend::open(&path).unwrap();
        assert!(in_use(&path));
        drop(backend);
        assert!(!in_use(&path));
    }
}
