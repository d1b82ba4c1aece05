//! Harness for oxcd's multi-process tests: it finds the oxcd binary (etcd's are found by
//! `oxcd_testkit::etcd`), starts clusters of real processes on loopback or inside network namespaces, injects
//! faults (kill -9, restart, SIGSTOP, partitions), drives real `etcdctl`, and generates the
//! seeded operation streams of the differential tests. Every process, data directory and
//! namespace it creates is removed when its owner is dropped, also when a test panics.

pub mod acked_writers;
pub mod ascii_table;
pub mod binaries;
pub mod cluster;
pub mod convergence;
pub mod crash_points;
pub mod differential;
pub mod etcdctl;
pub mod grpc;
pub mod member;
pub mod netns;
pub mod proxy;
pub mod robustness;
pub mod server;
pub mod small_disk;
pub mod spawner;
pub mod stale;
pub mod wait;
pub mod watch_stream;

pub use cluster::{Cluster, ClusterSpec, Placement};
pub use etcdctl::Etcdctl;
pub use netns::NetnsLab;
pub use server::Server;
