//! One step of the apply loop: applying one request. Each request kind implements [`Apply`] in
//! the file of its domain (`kv.rs`, `lease.rs`, `membership.rs`); the loop in `mod.rs` only
//! dispatches to it and hands the typed outcome to the kind's waiting proposer.

use oxcd_api::etcdserverpb::ResponseHeader;
use oxcd_mvcc::ApplyBatch;

use crate::metrics::ServerMetrics;
use crate::proposal::{Outcome, Proposal};
use crate::state::ServerState;

/// What applying one request works with: the batch open for the committed entries (every write
/// goes into its one backend transaction) and the member's state and counters.
pub(super) struct ApplyContext<'a, 'b> {
    /// The open batch; committed by the loop after the last entry.
    pub(super) batch: &'a mut ApplyBatch<'b>,
    /// The raft index of the entry applied.
    pub(super) index: u64,
    /// Membership and the lessor, changed in step with the batch.
    pub(super) state: &'a ServerState,
    /// Counters the apply step updates.
    pub(super) metrics: &'a ServerMetrics,
}

impl ApplyContext<'_, '_> {
    /// A response header at the store's revision after the writes so far.
    pub(super) fn header(&self) -> ResponseHeader {
        ResponseHeader {
            revision: self.batch.revision(),
            ..Default::default()
        }
    }
}

/// A request kind the apply loop applies.
pub(super) trait Apply: Proposal {
    /// Applies the request in `cx.batch`. An etcd error (the request is refused, nothing
    /// changed) is the proposer's outcome; an [`ApplyError`] stops the member.
    fn apply(&self, cx: &mut ApplyContext<'_, '_>) -> Result<Outcome<Self::Output>, ApplyError>;
}

/// A failure that stops the apply loop (and the member).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApplyError {
    /// The backend could not be read or written.
    #[error("backend: {0}")]
    Storage(String),
    /// Raft stopped before it could take a committed configuration change.
    #[error("raft: {0}")]
    Raft(String),
}

impl ApplyError {
    pub(super) fn storage<E: std::fmt::Display>(e: E) -> Self {
        ApplyError::Storage(e.to_string())
    }

    pub(super) fn raft<E: std::fmt::Display>(e: E) -> Self {
        ApplyError::Raft(e.to_string())
    }
}
