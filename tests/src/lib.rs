//! Harness for oxcd's multi-process tests: it finds the oxcd binary, starts clusters of real
//! processes (oxcd or etcd) on loopback or inside network namespaces, injects faults (kill -9,
//! restart, SIGSTOP, partitions), runs lock holders as processes of their own to fault them
//! too, drives real `etcdctl`, and runs the differential tests' request
//! streams against two servers. Every process, data directory and namespace it creates is
//! removed when its owner is dropped, also when a test panics. What other crates' tests share
//! too (etcd's locator, free ports, seeded generators) lives in `oxcd_testkit`.

pub mod acked_writers;
pub mod ascii_table;
pub mod binaries;
pub mod cli_flags;
pub mod cluster;
pub mod convergence;
pub mod crash_points;
pub mod ctl_pair;
pub mod data_dir;
pub mod differential;
pub mod etcdctl;
pub mod grpc;
pub mod grpc_tls;
pub mod http_json;
pub mod locks;
pub mod member;
pub mod netns;
pub mod offline_tools;
pub mod oxadm_runs;
pub mod peer_tls;
pub mod proxy;
pub mod robustness;
pub mod seed_checks;
pub mod server;
pub mod small_disk;
pub mod spawner;
pub mod ssh_hosts;
pub mod stale;
pub mod third_party;
pub mod tls_member;
pub mod wait;
pub mod watch_stream;

pub use cluster::{Cluster, ClusterSpec, Placement};
pub use etcdctl::Etcdctl;
pub use netns::NetnsLab;
pub use server::Server;
