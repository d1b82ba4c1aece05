//! Leases as replicated state: the [`Lessor`] holding every lease and its keys, and the backend
//! [`table`] they are stored in. Both change only in the apply loop (`apply/lease.rs`), so they
//! are identical on every member. The lessor also keeps the primary's clocks (when each lease
//! expires), which exist on the leader only and are never replicated; the tasks that act on
//! them — proposing expiries and checkpoints, forwarding keep-alives to the leader — are the
//! leader-side layer in [`crate::lease_leader`].

mod lessor;
pub(crate) mod table;

pub(crate) use lessor::{Lessor, NotPrimary, Renewal};
