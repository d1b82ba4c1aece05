//! Typed tables beside the key table: the rows the rest of the server keeps in the backend
//! (leases, members, the cluster identity, and later auth and alarms), written in the same
//! transaction as the key-value changes of an apply batch and read back from a snapshot of the
//! backend when it opens or is replaced.
//!
//! A [`Table`] is declared once by its user: a name (fixed forever: it names the table in every
//! data dir and snapshot) and a [`Codec`] each for keys and values, which turns them into one of
//! the [`Column`] types the backend stores (`u64`, `String` or `Vec<u8>`). [`Proto`] stores a
//! protobuf message. Writes go through a [`TableWriter`] (from `ApplyBatch::tables` or
//! `Backend::write`), reads through a [`TableReader`] (`Backend::read`).

use std::marker::PhantomData;

use redb::{Key, ReadableTable, TableDefinition, TableError, Value, WriteTransaction};

use crate::error::BackendError;
use crate::read_tx::ReadTx;

/// An error turning a stored column back into an item.
pub type DecodeError = Box<dyn std::error::Error + Send + Sync>;

/// How a key or value is stored: `u64`, `String` or `Vec<u8>` (the backend's column types; a
/// table keeps its column types for life).
pub trait Column: stored::Stored {}

impl Column for u64 {}
impl Column for String {}
impl Column for Vec<u8> {}

/// The storage engine's view of a column type, out of reach of other crates.
mod stored {
    use super::{Key, Value};

    /// A column type and the storage engine's type for it.
    pub trait Stored: Sized {
        /// The storage engine's type (which also names the type in the file).
        type Engine: Key + 'static;

        /// Borrows the column as the engine's type.
        fn as_engine(&self) -> <Self::Engine as Value>::SelfType<'_>;

        /// Copies the column out of the engine's type.
        fn from_engine(value: <Self::Engine as Value>::SelfType<'_>) -> Self;
    }

    impl Stored for u64 {
        type Engine = u64;

        fn as_engine(&self) -> u64 {
            *self
        }

        fn from_engine(value: u64) -> u64 {
            value
        }
    }

    impl Stored for String {
        type Engine = &'static str;

        fn as_engine(&self) -> &str {
            self
        }

        fn from_engine(value: &str) -> String {
            value.to_owned()
        }
    }

    impl Stored for Vec<u8> {
        type Engine = &'static [u8];

        fn as_engine(&self) -> &[u8] {
            self
        }

        fn from_engine(value: &[u8]) -> Vec<u8> {
            value.to_vec()
        }
    }
}

/// Turns a table's keys or values into a [`Column`] and back.
pub trait Codec {
    /// What callers put and read.
    type Item;
    /// How it is stored.
    type Column: Column;

    /// The stored form of `item`.
    fn encode(item: &Self::Item) -> Self::Column;

    /// The item stored as `column`.
    fn decode(column: Self::Column) -> Result<Self::Item, DecodeError>;
}

macro_rules! stored_as_is {
    ($($t:ty),*) => {
        $(
            impl Codec for $t {
                type Item = $t;
                type Column = $t;

                fn encode(item: &$t) -> $t {
                    item.clone()
                }

                fn decode(column: $t) -> Result<$t, DecodeError> {
                    Ok(column)
                }
            }
        )*
    };
}

stored_as_is!(u64, String, Vec<u8>);

/// A protobuf message, stored as its encoding.
pub struct Proto<M>(PhantomData<fn() -> M>);

impl<M: prost::Message + Default> Codec for Proto<M> {
    type Item = M;
    type Column = Vec<u8>;

    fn encode(item: &M) -> Vec<u8> {
        item.encode_to_vec()
    }

    fn decode(column: Vec<u8>) -> Result<M, DecodeError> {
        Ok(M::decode(column.as_slice())?)
    }
}

/// A table of the backend: its name, and how its keys (`K`) and values (`V`) are stored.
pub struct Table<K, V> {
    name: &'static str,
    codecs: PhantomData<fn() -> (K, V)>,
}

/// Names of the store's own tables (the key and meta tables), which a [`Table`] may not use.
const RESERVED: [&str; 2] = ["key", "meta"];

/// A decoded row: key and value.
type Row<K, V> = (<K as Codec>::Item, <V as Codec>::Item);

type Definition<K, V> = TableDefinition<
    'static,
    <<K as Codec>::Column as stored::Stored>::Engine,
    <<V as Codec>::Column as stored::Stored>::Engine,
>;

impl<K: Codec, V: Codec> Table<K, V> {
    /// A table named `name` (which must not be "key" or "meta", the store's own tables).
    pub const fn new(name: &'static str) -> Table<K, V> {
        Table {
            name,
            codecs: PhantomData,
        }
    }

    /// The table's name in the backend.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    fn definition(&self) -> Result<Definition<K, V>, BackendError> {
        if RESERVED.contains(&self.name) {
            return Err(BackendError::new(
                "opening table",
                format!("{:?} is one of the store's own tables", self.name),
            ));
        }
        Ok(TableDefinition::new(self.name))
    }

    fn decode_row(&self, key: K::Column, value: V::Column) -> Result<Row<K, V>, BackendError> {
        let decoded = K::decode(key).and_then(|k| Ok((k, V::decode(value)?)));
        decoded.map_err(|e| BackendError::new("decoding table row", format!("{}: {e}", self.name)))
    }
}

/// Writes to tables inside one backend write transaction; they commit (or vanish) with it.
#[derive(Clone, Copy)]
pub struct TableWriter<'tx> {
    tx: &'tx WriteTransaction,
}

impl<'tx> TableWriter<'tx> {
    pub(crate) fn new(tx: &'tx WriteTransaction) -> TableWriter<'tx> {
        TableWriter { tx }
    }

    /// Writes (or overwrites) the row at `key`.
    pub fn put<K: Codec, V: Codec>(
        &self,
        table: &Table<K, V>,
        key: &K::Item,
        value: &V::Item,
    ) -> Result<(), BackendError> {
        let mut rows = self
            .tx
            .open_table(table.definition()?)
            .map_err(BackendError::with("opening table"))?;
        let (key, value) = (K::encode(key), V::encode(value));
        rows.insert(
            stored::Stored::as_engine(&key),
            stored::Stored::as_engine(&value),
        )
        .map_err(BackendError::with("writing table row"))?;
        Ok(())
    }

    /// Deletes the row at `key`, if there is one.
    pub fn delete<K: Codec, V: Codec>(
        &self,
        table: &Table<K, V>,
        key: &K::Item,
    ) -> Result<(), BackendError> {
        let mut rows = self
            .tx
            .open_table(table.definition()?)
            .map_err(BackendError::with("opening table"))?;
        let key = K::encode(key);
        rows.remove(stored::Stored::as_engine(&key))
            .map_err(BackendError::with("deleting table row"))?;
        Ok(())
    }

    /// Deletes every row of `table`.
    pub fn clear<K: Codec, V: Codec>(&self, table: &Table<K, V>) -> Result<(), BackendError> {
        let mut rows = self
            .tx
            .open_table(table.definition()?)
            .map_err(BackendError::with("opening table"))?;
        rows.retain(|_, _| false)
            .map_err(BackendError::with("deleting table rows"))?;
        Ok(())
    }
}

/// Reads tables (and the consistent index) from one snapshot of the backend.
pub struct TableReader {
    tx: ReadTx,
}

impl TableReader {
    pub(crate) fn new(tx: ReadTx) -> TableReader {
        TableReader { tx }
    }

    /// Every row of `table`, in key order (none if the table was never written).
    pub fn rows<K: Codec, V: Codec>(
        &self,
        table: &Table<K, V>,
    ) -> Result<Vec<Row<K, V>>, BackendError> {
        let rows = match self.tx.open_table(table.definition()?) {
            Ok(rows) => rows,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(BackendError::new("opening table", e)),
        };
        let mut out = Vec::new();
        for row in rows.iter().map_err(BackendError::with("reading table"))? {
            let (key, value) = row.map_err(BackendError::with("reading table"))?;
            out.push(table.decode_row(
                stored::Stored::from_engine(key.value()),
                stored::Stored::from_engine(value.value()),
            )?);
        }
        Ok(out)
    }

    /// The row at `key`, if there is one.
    pub fn get<K: Codec, V: Codec>(
        &self,
        table: &Table<K, V>,
        key: &K::Item,
    ) -> Result<Option<V::Item>, BackendError> {
        let rows = match self.tx.open_table(table.definition()?) {
            Ok(rows) => rows,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(BackendError::new("opening table", e)),
        };
        let key = K::encode(key);
        let Some(value) = rows
            .get(stored::Stored::as_engine(&key))
            .map_err(BackendError::with("reading table"))?
        else {
            return Ok(None);
        };
        let value = V::decode(stored::Stored::from_engine(value.value()));
        value
            .map(Some)
            .map_err(|e| BackendError::new("decoding table row", format!("{}: {e}", table.name)))
    }

    /// The raft index and term the snapshot holds the state of (0, 0 for a new database).
    pub fn consistent_index(&self) -> Result<(u64, u64), BackendError> {
        crate::meta::read_consistent_index(&self.tx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use oxcd_api::etcdserverpb::PutRequest;
    use redb::TableHandle;

    use super::*;
    use crate::backend::Backend;
    use crate::store::KvStore;

    #[test]
    fn reserved_names_are_the_store_tables() {
        assert_eq!(
            RESERVED,
            [
                crate::backend::KEY_TABLE.name(),
                crate::meta::META_TABLE.name()
            ]
        );
    }

    /// A protobuf message as a table value.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Note {
        #[prost(string, tag = "1")]
        text: String,
    }

    const NOTES: Table<u64, Proto<Note>> = Table::new("notes");

    fn note(text: &str) -> Note {
        Note { text: text.into() }
    }

    #[test]
    fn table_writes_commit_or_vanish_with_the_apply_batch() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(Backend::open(&dir.path().join("db")).unwrap());
        let store = KvStore::open(backend.clone()).unwrap();
        let put = PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        };

        let mut dropped = store.begin_apply().unwrap();
        dropped.put(&put, &|_| false).unwrap();
        dropped.tables().put(&NOTES, &1, &note("gone")).unwrap();
        drop(dropped);
        assert!(backend.read().unwrap().rows(&NOTES).unwrap().is_empty());

        let mut batch = store.begin_apply().unwrap();
        batch.put(&put, &|_| false).unwrap();
        batch.tables().put(&NOTES, &1, &note("one")).unwrap();
        batch.tables().put(&NOTES, &2, &note("two")).unwrap();
        batch.tables().delete(&NOTES, &2).unwrap();
        batch.set_consistent_index(5, 1).unwrap();
        batch.commit(true).unwrap();

        let read = backend.read().unwrap();
        assert_eq!(read.rows(&NOTES).unwrap(), vec![(1, note("one"))]);
        assert_eq!(read.get(&NOTES, &1).unwrap(), Some(note("one")));
        assert_eq!(read.consistent_index().unwrap(), (5, 1));
        assert_eq!(store.current_revision(), 2);
    }

    #[test]
    fn clear_empties_one_table_only() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::open(&dir.path().join("db")).unwrap();
        let other: Table<u64, Vec<u8>> = Table::new("other");
        backend
            .write(|tables| {
                tables.put(&NOTES, &1, &note("one"))?;
                tables.put(&NOTES, &2, &note("two"))?;
                tables.put(&other, &1, &vec![1])
            })
            .unwrap();
        backend.write(|tables| tables.clear(&NOTES)).unwrap();
        let read = backend.read().unwrap();
        assert!(read.rows(&NOTES).unwrap().is_empty());
        assert_eq!(read.rows(&other).unwrap(), vec![(1, vec![1])]);
    }

    #[test]
    fn a_row_that_does_not_decode_names_its_table() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::open(&dir.path().join("db")).unwrap();
        let raw: Table<u64, Vec<u8>> = Table::new("notes");
        backend
            .write(|tables| tables.put(&raw, &1, &vec![0xff]))
            .unwrap();
        let error = backend.read().unwrap().rows(&NOTES).unwrap_err();
        assert!(error.to_string().contains("notes"), "{error}");
    }
}
