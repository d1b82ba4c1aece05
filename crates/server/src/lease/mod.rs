//! Leases: the [`Lessor`] holding every lease and its keys, the backend [`table`] they are
//! stored in, the [`primary`] task through which the leader expires and checkpoints them, and
//! [`forward`], which takes keep-alives and TTL queries that reach a follower to the leader.

pub mod forward;
mod lessor;
pub mod primary;
pub mod table;

pub use lessor::{LeaseStatus, Lessor, NotPrimary, Renewal};
