//! The oxcd server: bootstrap, the apply loop and the client-facing services. Its configuration
//! and logging (etcd's flags, zap lines, fatal exits) come from `oxcd_etcd_compat`.
//!
//! A write travels `grpc` (validate) → `server` (propose, wait) → raft → `apply` (one backend
//! transaction per batch) → back to the waiting proposer; a read goes `grpc` → `server`
//! (ReadIndex barrier) → the KV store in `state`. Only what the `oxcd` binary needs is public,
//! `restore`, which `oxutl snapshot restore` uses to seed a new cluster's backend, and
//! `backup`, which `oxutl backup` uses to copy a stopped member into a new one-member cluster.

#![warn(unreachable_pub)]

mod alarms;
mod apply;
mod auth;
mod auto_compaction;
pub mod backup;
mod bootstrap;
mod coalesced_writes;
mod coordination;
mod corruption;
mod cors;
pub mod fail_stop;
mod gateway;
mod go_http;
mod grpc;
mod grpc_health;
mod http;
mod key_deletes;
mod learner_promotion;
mod lease;
mod lease_leader;
mod listeners;
mod membership;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod memory_trim;
mod metrics;
mod peer_dial;
mod probes;
mod proposal;
mod quota;
pub mod restore;
pub mod run;
mod serve;
mod server;
mod state;
mod version;
mod wait;
