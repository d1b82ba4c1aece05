//! The backend's lease table: one row per granted lease (etcd's "lease" bucket), written in the
//! apply transaction that grants, checkpoints or revokes it, so leases survive restarts and
//! travel in snapshots with the keys attached to them.

use prost::Message;
use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

/// Lease id (8 bytes, big-endian) → [`StoredLease`].
const LEASE_TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("lease");

/// A lease as stored (the fields of etcd's `leasepb.Lease`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredLease {
    /// Lease id.
    #[prost(int64, tag = "1")]
    pub id: i64,
    /// Granted TTL in seconds (after the minimum TTL rule).
    #[prost(int64, tag = "2")]
    pub ttl: i64,
    /// Remaining TTL recorded by the last checkpoint, 0 when none.
    #[prost(int64, tag = "3")]
    pub remaining_ttl: i64,
}

/// A failure reading or writing the lease table.
#[derive(Debug, thiserror::Error)]
#[error("lease table: {0}")]
pub struct LeaseTableError(String);

fn failed<E: std::fmt::Display>(e: E) -> LeaseTableError {
    LeaseTableError(e.to_string())
}

/// Writes (or overwrites) a lease's row.
pub fn store(tx: &WriteTransaction, lease: &StoredLease) -> Result<(), LeaseTableError> {
    let mut table = tx.open_table(LEASE_TABLE).map_err(failed)?;
    table
        .insert(
            lease.id.to_be_bytes().as_slice(),
            lease.encode_to_vec().as_slice(),
        )
        .map_err(failed)?;
    Ok(())
}

/// Deletes a lease's row.
pub fn remove(tx: &WriteTransaction, id: i64) -> Result<(), LeaseTableError> {
    let mut table = tx.open_table(LEASE_TABLE).map_err(failed)?;
    table.remove(id.to_be_bytes().as_slice()).map_err(failed)?;
    Ok(())
}

/// Every stored lease.
pub fn load(db: &redb::Database) -> Result<Vec<StoredLease>, LeaseTableError> {
    let tx = db.begin_read().map_err(failed)?;
    let table = match tx.open_table(LEASE_TABLE) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(failed(e)),
    };
    let mut leases = Vec::new();
    for row in table.iter().map_err(failed)? {
        let (_, value) = row.map_err(failed)?;
        leases.push(StoredLease::decode(value.value()).map_err(failed)?);
    }
    Ok(leases)
}
