//! Differential testing of the KV service: a seeded stream of requests
//! (`oxcd_testkit::kv_generator`) is sent to two servers and their answers must be identical
//! (real etcd is the oracle).

pub mod outcome;
pub mod runner;

pub use outcome::KvOutcome;
pub use runner::{RunSummary, Side};
