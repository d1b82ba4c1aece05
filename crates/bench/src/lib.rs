//! oxbench: a low-level load generator for etcd v3 servers, modelled on etcd's
//! `tools/benchmark`. It drives the KV, Lease, Watch, Lock and Maintenance gRPC services over raw tonic
//! connections with many concurrent requesters and reports throughput and latency
//! percentiles, as text or JSON.

pub mod bench;
pub mod cli;
pub mod connections;
pub mod defrag_stall;
pub mod keys;
pub mod latency;
pub mod leader;
pub mod lock;
pub mod mixed;
pub mod put;
pub mod range;
pub mod report;
pub mod runner;
pub mod txn_put;
pub mod watch;
pub mod workload;
