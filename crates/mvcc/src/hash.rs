//! The whole-backend hash (etcd's `Hash`: every table, each row's key and value, skipping rows
//! that describe the member rather than the replicated state), and HashKV as etcd 3.5.1
//! computes it, so members of a mixed or migrated cluster can compare hashes: CRC-32C over the bucket name "key" and then every key-table row (revision key and
//! stored `KeyValue` bytes) up to the requested revision, where rows at or below the compacted
//! revision count only if compaction keeps them (all count if it keeps none).

use std::sync::atomic::Ordering;

use oxcd_api::EtcdError;

use redb::TableHandle;

use crate::backend::KEY_TABLE;
use crate::crc32c::Crc32c;
use crate::error::BackendError;
use crate::meta::{self, META_TABLE};
use crate::revision::Revision;
use crate::shared::{READ_CHUNK, Shared};
use crate::untyped_table::{self, Walked};
use crate::view::ReadError;

/// Returns (hash, current revision, compacted revision) for `rev` (0: current).
pub(crate) fn hash_kv(shared: &Shared, rev: i64) -> Result<(u32, i64, i64), ReadError> {
    'retry: loop {
        let compacted = shared.compact.load(Ordering::Acquire);
        let current = shared.current.load(Ordering::Acquire);
        if rev > 0 && rev <= compacted {
            return Err(EtcdError::Compacted.into());
        }
        if rev > 0 && rev > current {
            return Err(EtcdError::FutureRev.into());
        }
        let at = if rev == 0 { current } else { rev };
        let tx = shared.backend.begin_read()?;

        let mut keep = Vec::new();
        let mut keeps_any = false;
        let mut cursor = None;
        loop {
            let index = shared.index.read();
            if shared.index_floor.load(Ordering::Acquire) > compacted {
                // A newer compaction started; hash against its revision instead.
                continue 'retry;
            }
            cursor = index.keep_some(at, cursor.as_deref(), READ_CHUNK, |r| {
                keeps_any = true;
                if r.main <= compacted {
                    keep.push(r);
                }
            });
            drop(index);
            if cursor.is_none() {
                break;
            }
        }
        keep.sort_unstable();

        let table = tx
            .open_table(KEY_TABLE)
            .map_err(BackendError::with("opening key table"))?;
        let mut crc = Crc32c::new();
        crc.update(b"key");
        if at >= 0 {
            let upper = Revision::new(at.saturating_add(1), 0).to_key(false);
            for row in table
                .range::<&[u8]>(..upper.as_bytes())
                .map_err(BackendError::with("scanning key table"))?
            {
                let (k, v) = row.map_err(BackendError::with("scanning key table"))?;
                let key = k.value();
                let Some((r, _)) = Revision::from_key(key) else {
                    continue;
                };
                if r.main <= compacted && keeps_any && keep.binary_search(&r).is_err() {
                    continue;
                }
                crc.update(key);
                crc.update(v.value());
            }
        }
        return Ok((crc.finish(), current, compacted));
    }
}

/// A CRC-32C over every table of the backend as of the published revision: each table's name,
/// then each row's key and value bytes in key order, tables in name order. Rows of the meta
/// table that describe this member's progress are left out, and so are those `skip(table, key)`
/// names. Returns the hash and the revision it describes.
pub(crate) fn hash_backend(
    shared: &Shared,
    skip: &dyn Fn(&str, &[u8]) -> bool,
) -> Result<(u32, i64), BackendError> {
    let Some(snapshot) = shared.snapshot.read().clone() else {
        return Err(BackendError::new(
            "hashing the backend",
            "no read transaction of the published revision is open",
        ));
    };
    let tx = snapshot.transaction();
    let mut crc = Crc32c::new();
    untyped_table::walk(tx, &mut |walked| match walked {
        Walked::Table(name) => crc.update(name.as_bytes()),
        Walked::Row { table, key, value } => {
            let member_local = table == META_TABLE.name() && meta::is_member_local(key);
            if !member_local && !skip(table, key) {
                crc.update(key);
                crc.update(value);
            }
        }
    })?;
    Ok((crc.finish(), snapshot.rev))
}
