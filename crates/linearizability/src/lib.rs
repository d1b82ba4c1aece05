//! Linearizability checking of histories of etcd KV operations, as the robustness tests record
//! them: what a client recorded ([`history`]), etcd's semantics for one key ([`model`]) and the
//! search for a linearization ([`checker`]).
//!
//! A crate of its own, with no dependencies, so that the workspace can build just this search
//! optimized in the dev profile: unoptimized it takes minutes on a history with many
//! indeterminate writes, while the rest of the test harness compiles faster unoptimized.

pub mod checker;
pub mod history;
pub mod model;
