//! What the raft node needs to know about the state machine it feeds.

use std::path::Path;

use crate::status::ConfStateSummary;

/// The server's state machine as seen by consensus: how far it is durable, and how to copy it.
pub trait StateMachine: Send + Sync + 'static {
    /// Highest applied index whose effects are on disk (fsynced). The log is never compacted
    /// past it.
    fn durable_applied_index(&self) -> u64;

    /// Writes a consistent copy of the whole state-machine database to `dest` (a file path)
    /// and returns the applied index that copy contains; used to ship a snapshot to a lagging
    /// follower.
    fn write_snapshot(&self, dest: &Path) -> std::io::Result<u64>;

    /// The raft configuration in force at [`StateMachine::durable_applied_index`], if the state
    /// machine records it with each conf change it accepts. Raft then restarts from it instead
    /// of re-applying the WAL's conf changes, which would also re-apply changes the state
    /// machine refused. `None` (the default) means "replay them all".
    fn conf_state(&self) -> Option<ConfStateSummary> {
        None
    }
}
