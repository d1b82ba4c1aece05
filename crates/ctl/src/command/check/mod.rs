//! `check perf` and `check datascale`: etcdctl's load checks of a cluster.

pub mod datascale;
pub mod memory_metric;
pub mod perf;
pub mod progress_bar;
pub mod report;
pub mod workload;
