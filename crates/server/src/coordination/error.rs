//! The errors of the lock and election services, with etcd's messages.

use std::fmt;

use oxcd_api::EtcdError;

/// Why a lock or election request failed, with etcd's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CoordinationError {
    /// A KV or lease request made on the caller's behalf failed.
    Server(EtcdError),
    /// The lock's key vanished while it waited (its lease expired or was revoked, or someone
    /// deleted it): the lock is not granted.
    SessionExpired,
    /// The caller does not lead the election (anymore).
    NotLeader,
    /// Nobody campaigns in the election.
    NoLeader,
    /// A Proclaim or Resign without its `leader`.
    MissingLeaderKey,
}

impl From<EtcdError> for CoordinationError {
    fn from(e: EtcdError) -> Self {
        CoordinationError::Server(e)
    }
}

impl fmt::Display for CoordinationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CoordinationError::Server(e) => e.message(),
            CoordinationError::SessionExpired => "mutex: session is expired",
            CoordinationError::NotLeader => "election: not leader",
            CoordinationError::NoLeader => "election: no leader",
            CoordinationError::MissingLeaderKey => "\"leader\" field must be provided",
        })
    }
}
