//! Consensus for oxcd: a [`RaftNode`] around raft-rs that persists its log in our own
//! write-ahead log, snapshots and compacts it, and talks to the other members over its own
//! gRPC peer service. It knows nothing of keys: it replicates opaque byte entries and hands
//! committed ones to the server's apply loop. raft-rs's own types stay inside: callers see
//! [`MemberChange`], [`CommittedEntry`] and [`ConfStateSummary`] instead.

#![warn(unreachable_pub)]

mod apply;
mod config;
mod error;
pub mod fsutil;
mod log_backup;
mod logger;
mod member_change;
pub mod metrics;
mod node;
mod peers;
mod snap;
mod state_machine;
mod status;
mod transport;
mod wal;

pub use apply::{Apply, CommittedEntry, EntryKind};
pub use config::{PeerListener, RaftConfig};
pub use error::RaftError;
pub use log_backup::{LogBackup, SourceLog};
pub use member_change::MemberChange;
pub use metrics::RaftMetrics;
pub use node::{RaftHandle, RaftNode, Refusal, has_durable_state};
pub use peers::PeerUrls;
pub use state_machine::StateMachine;
pub use status::{ConfStateSummary, PeerProgress, RaftStatus, Replication, Role};
pub use transport::{RemoteCluster, fetch_cluster};
