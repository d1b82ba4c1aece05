//! What the ready loop receives from handles, the transport and background tasks.

use raft::prelude::Message;
use tokio::sync::oneshot;

use super::read_index::ReadReply;
use crate::apply::CommittedEntry;
use crate::error::RaftError;
use crate::status::ConfStateSummary;

/// Client requests; gated by apply backpressure.
pub enum Request {
    /// Propose opaque bytes.
    Propose {
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), RaftError>>,
    },
    /// Propose a membership change.
    ProposeConfChange {
        context: Vec<u8>,
        cc: raft::prelude::ConfChangeV2,
        reply: oneshot::Sender<Result<(), RaftError>>,
    },
    /// Join the next ReadIndex round.
    ReadIndex { reply: ReadReply },
}

/// Control events; always received, whatever the backlog.
pub enum Control {
    /// Apply a committed conf change to raft.
    ConfChange {
        entry: CommittedEntry,
        reply: oneshot::Sender<Result<ConfStateSummary, RaftError>>,
    },
    /// Start a leadership transfer to `target`.
    TransferLeader { target: u64 },
    /// A peer could not be reached.
    Unreachable(u64),
    /// A snapshot transfer to `to` ended.
    SnapshotStatus { to: u64, ok: bool },
    /// Stop; the sender is answered once the WAL is closed.
    Stop(oneshot::Sender<()>),
}

/// Raft messages received from peers.
pub type Inbox = Vec<Message>;
