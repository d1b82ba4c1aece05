//! Read transactions counted while open ([`ReadTx`], [`OpenRead`]): what the backend reports as
//! `etcd_mvcc_db_open_read_transactions`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use redb::ReadTransaction;

/// Counts one open read transaction until dropped.
pub(crate) struct OpenRead(Arc<AtomicI64>);

impl OpenRead {
    /// Counts one more in `open`.
    pub(crate) fn new(open: Arc<AtomicI64>) -> OpenRead {
        open.fetch_add(1, Ordering::Relaxed);
        OpenRead(open)
    }
}

impl Drop for OpenRead {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A read transaction of the backend, counted as open while it lives.
pub(crate) struct ReadTx {
    tx: ReadTransaction,
    _open: OpenRead,
}

impl ReadTx {
    pub(crate) fn new(tx: ReadTransaction, open: OpenRead) -> ReadTx {
        ReadTx { tx, _open: open }
    }
}

impl std::ops::Deref for ReadTx {
    type Target = ReadTransaction;

    fn deref(&self) -> &ReadTransaction {
        &self.tx
    }
}
