//! Async client for the etcd v3 API, wire-compatible with etcd 3.5 servers and oxcd.
//!
//! [`Client::connect`] takes etcdctl-style endpoints and [`ConnectOptions`]; its accessors
//! ([`Client::kv`], [`Client::watch`], ...) hand out the generated tonic clients on one shared
//! [`BalancedChannel`], which spreads requests over the endpoints and fails over the way Go's
//! clientv3 does: a request that never reached a server moves on to the next endpoint, reads and
//! other repeatable calls are also retried on `Unavailable`, and writes that may have been
//! delivered are never sent twice.
//!
//! On top of them sit typed calls: [`Client::get`], [`Client::put`], [`Client::delete`] with
//! option builders ([`GetOptions`], ...), and [`Client::txn`] with the [`Txn`] builder; their
//! answers wrap the protobuf ones (`into_raw` gives them back).
//!
//! Long-lived calls survive failures: [`Client::watch_stream`] re-creates a broken watch on
//! another endpoint from the revision after the last one delivered; [`LeaseKeeper`] renews a
//! lease across broken streams; [`Client::watch_config`] loads a prefix and follows it,
//! reloading after a compaction.
//!
//! [`concurrency`] holds the recipes built on those services — a [`concurrency::Session`]
//! (a lease kept alive), a [`concurrency::Mutex`] with fencing tokens and guarded writes, and
//! an [`concurrency::Election`] — laid out as Go's clientv3 lays them out, so Rust and Go
//! programs share locks and elections. [`discovery`] registers service instances and follows
//! the live set.
//!
//! TLS (rustls, through `oxcd-tls`) follows clientv3: `https://` endpoints, or bare `host:port`
//! endpoints when [`TlsOptions`] are given, are dialled over TLS with the CA bundle, client
//! certificate and verification switch of [`TlsOptions`]; unusable files fail
//! [`Client::connect`] with [`ClientError::Tls`], and a failed handshake fails calls the way a
//! refused connection does.

#![warn(unreachable_pub)]

mod atomic_instant;
mod auth_token;
mod balanced_channel;
mod client;
pub mod concurrency;
mod config_watch;
pub mod discovery;
mod endpoint;
mod error;
mod kv;
mod lease;
mod options;
mod rpc_kind;
mod txn;
mod watch_stream;

pub use balanced_channel::BalancedChannel;
pub use client::{
    AuthClient, Client, ClusterClient, ElectionClient, KvClient, LeaseClient, LockClient,
    MaintenanceClient, WatchClient,
};
pub use config_watch::{ConfigEvent, ConfigWatch, Snapshot};
pub use endpoint::{Endpoint, Scheme};
pub use error::ClientError;
pub use kv::{DeleteOptions, DeleteResult, GetOptions, GetResponse, PutOptions, PutResult};
pub use lease::{Lease, LeaseKeeper, LeaseStatus};
pub use options::{ConnectOptions, Credentials, TlsOptions};
pub use txn::{Compare, CompareOp, Op, OpResult, Txn, TxnResult};
pub use watch_stream::{WatchBatch, WatchError, WatchOptions, WatchStream};

/// The generated protocol types, re-exported so users need only this crate.
pub use oxcd_api as api;
