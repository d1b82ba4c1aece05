//! Reading many stored key-value rows by revision, in ascending order, from a snapshot: a
//! forward scan through each run of nearby revisions, a single lookup for a row far from the
//! one before. A huge range reads its rows this way (sorting them by revision first): rows
//! written in key order are then read in one scan instead of a B-tree descent each.

use redb::ReadOnlyTable;

use crate::error::BackendError;
use crate::revision::Revision;
use crate::view::{ReadError, missing_row, read_stored};

/// How many main revisions ahead of the scan a row may be and still be scanned to; farther
/// ones are sought.
const SCAN_AHEAD: i64 = 32;

type KeyTable = ReadOnlyTable<&'static [u8], &'static [u8]>;
type Rows<'t> = redb::Range<'t, &'static [u8], &'static [u8]>;

/// A reader of rows in ascending revision order.
pub(crate) struct RowCursor<'t> {
    table: &'t KeyTable,
    /// The scan through the current run of nearby rows, if one is under way.
    rows: Option<Rows<'t>>,
    /// The revision read last.
    at: Option<Revision>,
}

impl<'t> RowCursor<'t> {
    /// A cursor over `table`.
    pub(crate) fn new(table: &'t KeyTable) -> RowCursor<'t> {
        RowCursor {
            table,
            rows: None,
            at: None,
        }
    }

    /// Runs `with` on the stored row of `rev`, which must come after every revision read
    /// before. The index named the revision, so a missing row is damage.
    pub(crate) fn read<T>(
        &mut self,
        rev: Revision,
        with: impl FnOnce(&[u8]) -> T,
    ) -> Result<T, ReadError> {
        let near = self
            .at
            .is_some_and(|at| at < rev && rev.main - at.main <= SCAN_AHEAD);
        self.at = Some(rev);
        if !near {
            // A lone row: one descent, where a scan would also set up its far end.
            self.rows = None;
            return Ok(read_stored(self.table, &rev, with)?);
        }
        let rows = match &mut self.rows {
            Some(rows) => rows,
            None => self.rows.insert(
                self.table
                    .range::<&[u8]>(rev.to_key(false).as_bytes()..)
                    .map_err(BackendError::with("reading key table"))?,
            ),
        };
        loop {
            let (key, value) = rows
                .next()
                .ok_or_else(|| missing_row(&rev))?
                .map_err(BackendError::with("reading key table"))?;
            let (found, tombstone) = Revision::from_key(key.value()).ok_or_else(|| {
                ReadError::from(BackendError::new(
                    "reading key table",
                    format!("malformed revision key {:?}", key.value()),
                ))
            })?;
            if found < rev {
                continue;
            }
            if found > rev || tombstone {
                return Err(missing_row(&rev).into());
            }
            return Ok(with(value.value()));
        }
    }
}

/// The positions of `revs` in ascending revision order.
pub(crate) fn revision_order(revs: &[Revision]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..revs.len() as u32).collect();
    if !revs.is_sorted() {
        order.sort_unstable_by_key(|&i| revs[i as usize]);
    }
    order
}
