//! What the raft node hands to the server's apply loop.

use std::path::PathBuf;

use raft::prelude::{Entry, EntryType};

/// What the apply loop must apply, strictly in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Apply {
    /// Committed log entries (normal entries carry proposal bytes; empty-data entries are
    /// leader no-ops; conf-change entries carry raft ConfChange/ConfChangeV2 bytes).
    Entries(Vec<CommittedEntry>),
    /// Replace the whole state machine with the database file at `db_path` (received from the
    /// leader), then continue; entries with index <= the restored db's own applied index are
    /// skipped.
    Snapshot {
        /// Raft index of the snapshot.
        index: u64,
        /// Raft term of the snapshot.
        term: u64,
        /// The received database file.
        db_path: PathBuf,
    },
}

/// One committed log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedEntry {
    /// Log index.
    pub index: u64,
    /// Term the entry was proposed in.
    pub term: u64,
    /// What `data` holds.
    pub kind: EntryKind,
    /// Proposal bytes, or an encoded conf change.
    pub data: Vec<u8>,
}

/// The kind of a committed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A proposal (or, with empty data, a leader's no-op).
    Normal,
    /// An encoded raft `ConfChange`.
    ConfChange,
    /// An encoded raft `ConfChangeV2`.
    ConfChangeV2,
}

impl EntryKind {
    pub(crate) fn from_raft(t: EntryType) -> Self {
        match t {
            EntryType::EntryNormal => EntryKind::Normal,
            EntryType::EntryConfChange => EntryKind::ConfChange,
            EntryType::EntryConfChangeV2 => EntryKind::ConfChangeV2,
        }
    }
}

impl CommittedEntry {
    /// Takes ownership of a raft entry's payload.
    pub(crate) fn from_raft(mut e: Entry) -> Self {
        CommittedEntry {
            index: e.index,
            term: e.term,
            kind: EntryKind::from_raft(e.get_entry_type()),
            data: Vec::from(std::mem::take(&mut e.data)),
        }
    }
}
