//! Async client for the etcd v3 API, wire-compatible with etcd 3.5 servers and oxcd.
//!
//! [`Client::connect`] takes etcdctl-style endpoints and [`ConnectOptions`]; its accessors
//! ([`Client::kv`], [`Client::watch`], ...) hand out the generated tonic clients on one shared
//! [`BalancedChannel`], which spreads requests over the endpoints and fails over the way Go's
//! clientv3 does: a request that never reached a server moves on to the next endpoint, reads and
//! other repeatable calls are also retried on `Unavailable`, and writes that may have been
//! delivered are never sent twice.
//!
//! [`concurrency`] holds the recipes built on those services — a [`concurrency::Session`]
//! (a lease kept alive), a [`concurrency::Mutex`] with fencing tokens and guarded writes, and
//! an [`concurrency::Election`] — laid out as Go's clientv3 lays them out, so Rust and Go
//! programs share locks and elections.

#![warn(unreachable_pub)]

mod atomic_instant;
mod auth_token;
mod balanced_channel;
mod client;
pub mod concurrency;
mod endpoint;
mod error;
mod options;
mod rpc_kind;

pub use balanced_channel::BalancedChannel;
pub use client::{
    AuthClient, Client, ClusterClient, ElectionClient, KvClient, LeaseClient, LockClient,
    MaintenanceClient, WatchClient,
};
pub use endpoint::{Endpoint, Scheme};
pub use error::ClientError;
pub use options::{ConnectOptions, Credentials, TlsOptions};

/// The generated protocol types, re-exported so users need only this crate.
pub use oxcd_api as api;
