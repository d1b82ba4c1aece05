//! The oxcd server: bootstrap, the apply loop and the client-facing services. Its configuration
//! and logging (etcd's flags, zap lines, fatal exits) come from `oxcd_etcd_compat`.
//!
//! A write travels `grpc` (validate) → `server` (propose, wait) → raft → `apply` (one backend
//! transaction per batch) → back to the waiting proposer; a read goes `grpc` → `server`
//! (ReadIndex barrier) → the KV store in `state`.

pub mod apply;
pub mod bootstrap;
pub mod fail_stop;
pub mod grpc;
pub mod http;
pub mod lease;
pub mod membership;
pub mod metrics;
pub mod proposal;
pub mod run;
pub mod serve;
pub mod server;
pub mod state;
pub mod wait;
