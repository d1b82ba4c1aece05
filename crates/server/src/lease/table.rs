//! The backend's lease table: one row per granted lease (etcd's "lease" bucket), written in the
//! apply transaction that grants, checkpoints or revokes it, so leases survive restarts and
//! travel in snapshots with the keys attached to them.

use oxcd_mvcc::{Backend, BackendError, Codec, DecodeError, Proto, Table, TableWriter};

/// Lease id (8 bytes, big-endian) → [`StoredLease`].
const LEASE_TABLE: Table<LeaseId, Proto<StoredLease>> = Table::new("lease");

/// A lease as stored (the fields of etcd's `leasepb.Lease`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StoredLease {
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

/// A lease id as the lease table's key: 8 bytes, big-endian, as etcd stores it.
struct LeaseId;

impl Codec for LeaseId {
    type Item = i64;
    type Column = Vec<u8>;

    fn encode(id: &i64) -> Vec<u8> {
        id.to_be_bytes().to_vec()
    }

    fn decode(bytes: Vec<u8>) -> Result<i64, DecodeError> {
        let bytes: [u8; 8] = bytes.try_into().map_err(|_| "a lease id is 8 bytes long")?;
        Ok(i64::from_be_bytes(bytes))
    }
}

/// A failure reading or writing the lease table.
#[derive(Debug, thiserror::Error)]
#[error("lease table: {0}")]
pub(crate) struct LeaseTableError(#[from] BackendError);

/// Writes (or overwrites) a lease's row.
pub(crate) fn store(tables: TableWriter<'_>, lease: &StoredLease) -> Result<(), LeaseTableError> {
    Ok(tables.put(&LEASE_TABLE, &lease.id, lease)?)
}

/// Deletes a lease's row.
pub(crate) fn remove(tables: TableWriter<'_>, id: i64) -> Result<(), LeaseTableError> {
    Ok(tables.delete(&LEASE_TABLE, &id)?)
}

/// Every stored lease.
pub(crate) fn load(backend: &Backend) -> Result<Vec<StoredLease>, LeaseTableError> {
    let rows = backend.read()?.rows(&LEASE_TABLE)?;
    Ok(rows.into_iter().map(|(_, lease)| lease).collect())
}
