//! Differential testing: for the KV service, a seeded stream of requests
//! (`oxcd_testkit::kv_generator`) is sent to two servers and their answers must be identical
//! (real etcd is the oracle); `masking` hides what differs between two clusters by design.

pub mod masking;
pub mod outcome;
pub mod runner;

pub use outcome::KvOutcome;
pub use runner::{RunSummary, Side};
