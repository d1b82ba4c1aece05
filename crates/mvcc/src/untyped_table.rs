//! Tables whose types the caller does not know: backend snapshots copy every table and the
//! whole-backend hash reads every row, whatever the table holds. redb tables are typed and offer
//! no raw-bytes view, so [`visit`] tries every pair of the column types a table can have (the
//! store's tables use bytes; typed tables use `u64`, `String` or `Vec<u8>`) and hands the table
//! to a [`TableVisitor`] with its real types. [`walk`] goes over every row of every table as
//! bytes, for the whole-backend hashes.

use redb::{
    Key, ReadOnlyTable, ReadTransaction, ReadableTable, TableDefinition, TableError, TableHandle,
    Value,
};

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

/// One step of [`walk`].
pub(crate) enum Walked<'a> {
    /// A table begins.
    Table(&'a str),
    /// A row of the current table, as stored bytes.
    Row {
        /// The table's name.
        table: &'a str,
        /// The row's key.
        key: &'a [u8],
        /// The row's value.
        value: &'a [u8],
    },
}

/// Hands `step` every table of `tx` in name order, each followed by its rows in key order.
pub(crate) fn walk(
    tx: &ReadTransaction,
    step: &mut dyn FnMut(Walked<'_>),
) -> Result<(), BackendError> {
    let mut names: Vec<String> = tx
        .list_tables()
        .map_err(BackendError::with("listing tables"))?
        .map(|handle| handle.name().to_string())
        .collect();
    names.sort_unstable();
    for name in &names {
        visit(tx, name, &mut RowsAsBytes { step: &mut *step })?;
    }
    Ok(())
}

/// Feeds a table's name and rows to a [`walk`] step.
struct RowsAsBytes<'s> {
    step: &'s mut dyn FnMut(Walked<'_>),
}

impl TableVisitor for RowsAsBytes<'_> {
    fn visit<K: Key + 'static, V: Value + 'static>(
        &mut self,
        name: &str,
        table: ReadOnlyTable<K, V>,
    ) -> Result<(), BackendError> {
        (self.step)(Walked::Table(name));
        for row in table
            .iter()
            .map_err(BackendError::with("reading a table"))?
        {
            let (key, value) = row.map_err(BackendError::with("reading a table"))?;
            let (key, value) = (key.value(), value.value());
            (self.step)(Walked::Row {
                table: name,
                key: K::as_bytes(&key).as_ref(),
                value: V::as_bytes(&value).as_ref(),
            });
        }
        Ok(())
    }
}
