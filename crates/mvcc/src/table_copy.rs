//! Copying one table of unknown type between databases, for backend snapshots. redb tables are
//! typed and offer no raw-bytes view, so the copy tries every pair of the column types a table can
//! have (the store's tables use bytes; typed tables use `u64`, `String` or `Vec<u8>`).

use redb::{
    Key, ReadTransaction, ReadableTable, TableDefinition, TableError, Value, WriteTransaction,
};

use crate::error::BackendError;

/// Copies table `name` from `src` into `dest`, whatever its (supported) key and value types.
pub(crate) fn copy_table(
    src: &ReadTransaction,
    dest: &WriteTransaction,
    name: &str,
) -> Result<(), BackendError> {
    macro_rules! try_types {
        ($(($k:ty, $v:ty)),* $(,)?) => {
            $(
                if copy_as::<$k, $v>(src, dest, name)? {
                    return Ok(());
                }
            )*
        };
    }
    try_types!(
        (&[u8], &[u8]),
        (&[u8], u64),
        (&[u8], &str),
        (&str, &[u8]),
        (&str, u64),
        (&str, &str),
        (u64, &[u8]),
        (u64, u64),
        (u64, &str),
    );
    Err(BackendError::new(
        "copying table to snapshot",
        format!("table {name:?} has key/value types the snapshot copy does not know"),
    ))
}

/// Copies the table if it has types `K`/`V`; `Ok(false)` if it has other types.
fn copy_as<K: Key + 'static, V: Value + 'static>(
    src: &ReadTransaction,
    dest: &WriteTransaction,
    name: &str,
) -> Result<bool, BackendError> {
    let definition: TableDefinition<K, V> = TableDefinition::new(name);
    let table = match src.open_table(definition) {
        Ok(table) => table,
        Err(TableError::TableTypeMismatch { .. }) | Err(TableError::TableIsMultimap(_)) => {
            return Ok(false);
        }
        Err(e) => return Err(BackendError::new("opening table for snapshot", e)),
    };
    let mut out = dest
        .open_table(definition)
        .map_err(BackendError::with("creating table in snapshot"))?;
    for entry in table
        .iter()
        .map_err(BackendError::with("reading table for snapshot"))?
    {
        let (key, value) = entry.map_err(BackendError::with("reading table for snapshot"))?;
        out.insert(key.value(), value.value())
            .map_err(BackendError::with("writing table to snapshot"))?;
    }
    Ok(true)
}
