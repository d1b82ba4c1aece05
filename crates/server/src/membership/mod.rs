//! Cluster membership: the member set as stored and served (`members.rs`), and etcd's rules
//! for changing it (`change.rs`).

mod change;
mod members;

pub(crate) use change::{ChangeRequest, PeerLinks, Removal};
pub(crate) use members::{Identity, Membership};
#[cfg(test)]
pub(crate) use members::{MEMBERS, REMOVED};
