//! The error type of the consensus layer.

use std::path::PathBuf;

/// Everything that can go wrong in the raft node, its WAL, its snapshots and its transport.
#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    /// There is no leader (election in progress, or this member is partitioned), or raft
    /// dropped the proposal for that reason.
    #[error("no leader")]
    NoLeader,
    /// raft refused the proposal although there is a leader (a conf change is already
    /// pending, or leadership is being transferred); retry later.
    #[error("proposal dropped")]
    ProposalDropped,
    /// raft rejected the proposal for another reason.
    #[error("proposal rejected: {0}")]
    ProposalRejected(String),
    /// The operation got no answer in time.
    #[error("timed out")]
    Timeout,
    /// The node has been stopped.
    #[error("raft node stopped")]
    Stopped,
    /// A peer or an on-disk WAL belongs to another cluster.
    #[error("cluster ID mismatch: local {local:x}, remote {remote:x}")]
    ClusterIdMismatch {
        /// Our cluster ID.
        local: u64,
        /// The cluster ID we were given.
        remote: u64,
    },
    /// The WAL on disk was written by another member.
    #[error("member ID mismatch: expected {expected:x}, WAL belongs to {found:x}")]
    MemberIdMismatch {
        /// The ID this node was started with.
        expected: u64,
        /// The ID recorded in the WAL.
        found: u64,
    },
    /// An I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, including the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Persistent state failed validation (bad CRC, malformed record, missing file).
    #[error("corrupt {}: offset {offset}: {reason}", file.display())]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damage within the file.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The configuration cannot be used.
    #[error("invalid raft configuration: {0}")]
    InvalidConfig(String),
    /// Peers could not be reached or answered with an error (the reasons).
    #[error("{0}")]
    Unreachable(String),
    /// The other members refuse this one: it was removed from the cluster.
    #[error(
        "the member has been permanently removed from the cluster; the data-dir used by this member must be removed"
    )]
    Removed,
    /// The consensus library rejected an operation (its message).
    #[error("raft: {0}")]
    Raft(String),
}

impl RaftError {
    /// Wraps an I/O error with a description of what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        RaftError::Io {
            context: context.into(),
            source,
        }
    }

    /// Wraps an error of raft-rs, whose types stay inside this crate.
    pub(crate) fn raft(e: raft::Error) -> Self {
        RaftError::Raft(e.to_string())
    }

    /// Builds a corruption error for `file` at `offset`.
    pub(crate) fn corrupt(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        RaftError::Corrupt {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }
}

/// Adds path context to I/O results.
pub(crate) trait IoContext<T> {
    /// Converts an I/O error into [`RaftError::Io`] described by `context()`.
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, RaftError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, RaftError> {
        self.map_err(|source| RaftError::Io {
            context: context(),
            source,
        })
    }
}
