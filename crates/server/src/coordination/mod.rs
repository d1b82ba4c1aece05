//! Coordination built on the key space, as etcd's `v3lock` and `v3election` services serve it:
//! a distributed lock and leader election. Both queue contenders the same way (`queue.rs`):
//! each puts a key `NAME/LEASE-ID-IN-HEX` bound to its lease, and the one whose key has the
//! lowest create revision holds the lock or leads. Every write is an ordinary KV request
//! proposed through raft (replicated, watched and counted like any client's); Leader and
//! Observe read linearizably, while a waiter, once its key has joined, reads this member's
//! applied state (`queue.rs` says why that suffices) and so pays no ReadIndex round trip per
//! hand-over; a waiter waits for its predecessor's delete (`key_deletes.rs` at the crate root: the apply loop wakes
//! exactly the waiters of the keys a batch deleted), so it costs nothing until then, and
//! Observe follows its election through the watch hub (`key_watch.rs`).
//!
//! Errors keep etcd's messages. etcd's services call the KV layer through an in-process client
//! and hand its errors back as plain Go errors, so clients receive every one of them with code
//! `Unknown`; the gRPC adapters do the same with [`CoordinationError`].

mod election;
mod error;
mod key_watch;
mod lock;
mod observe;
mod queue;

pub(crate) use election::{campaign, leader, proclaim, resign};
pub(crate) use error::CoordinationError;
pub(crate) use lock::{lock, unlock};
pub(crate) use observe::observe;
