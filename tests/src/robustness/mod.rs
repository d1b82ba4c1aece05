//! The reliability harness: workload clients record histories of concurrent operations while
//! faults are injected into a real cluster; afterwards the history is checked for
//! linearizability (per key, against etcd's semantics with revisions), for the invariants that
//! tie keys together through the global revision, and the members' `HashKV` must agree.
//!
//! Watch clients follow the workload's keys through the faults; their logs are checked for
//! etcd's watch guarantees against the history read back afterwards ([`watch_checker`]).
//!
//! Lease clients register keys with leases, keep them alive for a while and let them go; no
//! key may vanish before its TTL ran out and every key must vanish once let go ([`leases`]).
//!
//! Auth changes go on through the faults too; afterwards every member must hold the same auth
//! state ([`auth_churn`]).
//!
//! [`runner::run`] does all of that for one [`runner::RunSpec`]; the pieces stand alone so that
//! later workloads (locks, elections) can add their own histories and checkers.
//!
//! The recorded operations, etcd's model of one key and the linearizability search live in
//! `oxcd-linearizability`, a crate built optimized even in the dev profile, and are re-exported
//! here with the harness that records and checks them.

pub use oxcd_linearizability::{checker, history, model};

pub mod auth_churn;
pub mod faults;
pub mod invariants;
pub mod leases;
pub mod runner;
pub mod watch_checker;
pub mod watchers;
pub mod workload;
