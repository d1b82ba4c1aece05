//! oxcd's multi-version key-value store, with etcd 3.5.1's exact KV semantics, and the owner of
//! the backend file (no other crate sees the storage engine).
//!
//! Every change gets a revision `(main, sub)`; the backend's key table holds each revision's
//! key-value (etcd's layout, so HashKV matches), and an in-memory index maps each key to its
//! generations of revisions. The apply loop writes through [`ApplyBatch`] (one backend
//! transaction per batch of raft entries); readers use [`KvStore::range`] against the published
//! revision. Other state the server keeps in the backend lives in typed tables ([`Table`]),
//! written in the same transaction as the batch. [`validate`] holds the request checks etcd makes
//! before proposing; [`watch`] is the watchable store the Watch service reads committed changes
//! from.
//!
//! Modules, from the bottom up: `error`, `revision` and `kv_header` (encodings); `meta`, `table`,
//! `untyped_table` and `backend` (the database file); `key_index` and `index` (the in-memory index);
//! `view`, `compare`, `range`, `txn` (requests against any view); `shared` (the state the store
//! shares between threads), `read_view`, `history`, `hash` (reads of it); `compaction`, `defrag`,
//! `apply` (writes), then `store`; `watch` on top of it; `offline` is what `oxutl` does to a
//! backend file no member has open.

#![warn(unreachable_pub)]

mod apply;
mod backend;
mod compaction;
mod compaction_report;
mod compare;
mod crc32c;
mod defrag;
mod error;
mod go_sort;
mod hash;
mod history;
mod index;
mod index_page;
mod key_index;
mod kv_header;
mod meta;
pub mod offline;
mod range;
mod range_pieces;
mod read_tx;
mod read_view;
mod revision;
mod row_cursor;
mod shared;
mod spilled_histories;
mod store;
mod table;
mod table_copy;
mod txn;
mod untyped_table;
pub mod validate;
mod view;
pub mod watch;

pub use apply::ApplyBatch;
pub use backend::Backend;
pub use compaction::{CompactionDone, CompactionError, CompactionWait};
pub use compaction_report::{CompactionObserver, CompactionReport};
pub use defrag::DefragReport;
pub use error::BackendError;
pub use history::ChunkLimit;
pub use range_pieces::{RangeAnswer, RangeEncoder, RangePieces};
pub use store::{KvStore, LeasedKeys};
pub use table::{Codec, Column, DecodeError, Proto, Table, TableReader, TableWriter};
pub use txn::is_txn_read_only;
