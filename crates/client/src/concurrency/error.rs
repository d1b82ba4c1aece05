//! [`ConcurrencyError`]: why a lock, election or session call failed, in clientv3's words.

use crate::error::ClientError;
use crate::watch_stream::WatchError;

/// Why a concurrency operation failed; the messages are clientv3's.
#[derive(Debug, thiserror::Error)]
pub enum ConcurrencyError {
    /// `try_lock` found the mutex held by another session.
    #[error("mutex: Locked by another session")]
    Locked,
    /// The lock was granted, but the session's lock key is gone (its lease expired).
    #[error("mutex: session is expired")]
    SessionExpired,
    /// This election handle does not lead (never did, resigned, or lost its key).
    #[error("election: not leader")]
    NotLeader,
    /// Nobody leads the election.
    #[error("election: no leader")]
    NoLeader,
    /// The session campaigning was lost before it became leader.
    #[error("election: session expired")]
    ElectionSessionExpired,
    /// A call failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A watch the recipe relied on could not go on (its revision was compacted, or the
    /// server cancelled it).
    #[error(transparent)]
    Watch(WatchError),
}

impl From<WatchError> for ConcurrencyError {
    fn from(error: WatchError) -> Self {
        match error {
            WatchError::Client(error) => ConcurrencyError::Client(error),
            other => ConcurrencyError::Watch(other),
        }
    }
}

impl From<tonic::Status> for ConcurrencyError {
    fn from(status: tonic::Status) -> Self {
        ConcurrencyError::Client(ClientError::from(status))
    }
}

impl ConcurrencyError {
    /// A watch a wait or an observation relied on ended before what it waited for happened.
    pub(super) fn watch_closed() -> ConcurrencyError {
        ConcurrencyError::Client(ClientError::Status(tonic::Status::unavailable(
            "watch closed",
        )))
    }
}
