//! Tables whose types the caller does not know: backend snapshots copy every table and the
//! whole-backend hash reads every row, whatever the table holds. redb tables are typed and offer
//! no raw-bytes view, so [`visit`] tries every pair of the column types a table can have (the
//! store's tables use bytes; typed tables use `u64`, `String` or `Vec<u8>`) and hands the table
//! to a [`TableVisitor`] with its real types.

use redb::{Key, ReadOnlyTable, ReadTransaction, TableDefinition, TableError, Value};

use crate::error::BackendError;

/// Work done on one table once its types are known.
pub(crate) trait TableVisitor {
    /// Called with table `name`, opened with its own key and value types.
    fn visit<K: Key + 'static, V: Value + 'static>(
        &mut self,
        name: &str,
        table: ReadOnlyTable<K, V>,
    ) -> Result<(), BackendError>;
}

/// Opens table `name` of `tx` with its types and hands it to `visitor`.
pub(crate) fn visit(
    tx: &ReadTransaction,
    name: &str,
    visitor: &mut impl TableVisitor,
) -> Result<(), BackendError> {
    macro_rules! try_types {
        ($(($k:ty, $v:ty)),* $(,)?) => {
            $(
                if let Some(table) = open_as::<$k, $v>(tx, name)? {
                    return visitor.visit(name, table);
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
        "reading table",
        format!("table {name:?} has key/value types oxcd does not know"),
    ))
}

/// The table if it has types `K`/`V`; `None` if it has other types.
fn open_as<K: Key + 'static, V: Value + 'static>(
    tx: &ReadTransaction,
    name: &str,
) -> Result<Option<ReadOnlyTable<K, V>>, BackendError> {
    let definition: TableDefinition<K, V> = TableDefinition::new(name);
    match tx.open_table(definition) {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableTypeMismatch { .. }) | Err(TableError::TableIsMultimap(_)) => Ok(None),
        Err(e) => Err(BackendError::new("opening table", e)),
    }
}
