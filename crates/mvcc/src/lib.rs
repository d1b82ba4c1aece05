//! oxcd's multi-version key-value store, with etcd 3.5.1's exact KV semantics.
//!
//! Every change gets a revision `(main, sub)`; the backend's key table holds each revision's
//! key-value (etcd's layout, so HashKV matches), and an in-memory index maps each key to its
//! generations of revisions. The apply loop writes through [`ApplyBatch`] (one backend
//! transaction per batch of raft entries); readers use [`KvStore::range`] against the published
//! revision. [`validate`] holds the request checks etcd makes before proposing; [`watch`] is
//! the watchable store the Watch service reads committed changes from.

mod apply;
mod backend;
mod compaction;
mod compare;
mod crc32c;
mod go_sort;
mod hash;
mod history;
mod index;
mod key_index;
mod kv_header;
mod range;
mod revision;
mod store;
mod table_copy;
mod txn;
pub mod validate;
mod view;
pub mod watch;

pub use apply::ApplyBatch;
pub use backend::{Backend, BackendError, read_consistent_index};
pub use compaction::{CompactionDone, CompactionError, CompactionWait};
pub use history::ChunkLimit;
pub use revision::Revision;
pub use store::KvStore;
pub use txn::is_txn_read_only;
