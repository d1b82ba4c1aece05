//! What the ready loop receives from handles, the transport and background tasks.

use raft::prelude::Message;
use tokio::sync::oneshot;

use super::read_index::ReadReply;
use crate::apply::CommittedEntry;
use crate::error::RaftError;

/// What the ready loop calls when raft refuses a proposal. An accepted proposal's refusal is
/// dropped unused: the proposer hears of it only through its applied entry, without a reply
/// that would wake it once more in between.
pub type Refusal = Box<dyn FnOnce(RaftError) + Send>;

/// Client requests; gated by apply backpressure.
pub(crate) enum Request {
    /// Propose opaque bytes.
    Propose { data: Vec<u8>, refused: Refusal },
    /// Propose a membership change.
    ProposeConfChange {
        cc: raft::prelude::ConfChangeV2,
        reply: oneshot::Sender<Result<(), RaftError>>,
    },
    /// Join the next ReadIndex round.
    ReadIndex { reply: ReadReply },
}

/// Control events; always received, whatever the backlog. The apply loop's progress travels
/// here too, so the ready loop sees it in the order the apply loop made it: a conf change is
/// applied to raft before any index after it counts as applied.
pub(crate) enum Control {
    /// The apply loop reached a committed conf change: apply it to raft.
    ConfChange(CommittedEntry),
    /// The apply loop applied everything up to this index.
    Applied(u64),
    /// Report the leader's replication progress (`None` when this member is not the leader).
    Replication(oneshot::Sender<Option<crate::status::Replication>>),
    /// Start a leadership transfer to `target`.
    TransferLeader { target: u64 },
    /// A peer could not be reached.
    Unreachable(u64),
    /// A snapshot transfer to `to` ended.
    SnapshotStatus { to: u64, ok: bool },
    /// A peer refused this member as removed from the cluster: raft must end.
    Removed,
    /// Stop; the sender is answered once the WAL is closed.
    Stop(oneshot::Sender<()>),
}

/// Raft messages received from peers.
pub(crate) type Inbox = Vec<Message>;
