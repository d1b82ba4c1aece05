//! Seeding a backend restored from a snapshot for a brand-new cluster (`oxutl snapshot
//! restore`): the snapshot's membership, removed-member ids and alarms (rows about members of
//! the old cluster) are dropped, the new cluster's identity and members are written exactly as
//! bootstrap computes them from the same `--initial-cluster` flags, and the consistent index is
//! reset so the new raft log is applied from its first entry.
//!
//! A data dir holding such a backend and no WAL is what bootstrap's new-cluster path expects:
//! it finds its own identity stored, starts a new raft log with the initial members as voters,
//! and serves every key, lease and revision of the snapshot.

use oxcd_api::etcdserverpb::Member;
use oxcd_etcd_compat::config::ServerConfig;
use oxcd_mvcc::{Backend, BackendError, offline};

use crate::alarms::ALARM_TABLE;
use crate::membership::{Identity, MEMBERS, Membership, REMOVED};

/// The identity written into a restored backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredIdentity {
    /// The new cluster's id.
    pub cluster_id: u64,
    /// This member's id.
    pub member_id: u64,
    /// Every member of the new cluster: id and peer URLs.
    pub members: Vec<(u64, Vec<String>)>,
}

/// Why a restored backend cannot be seeded.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// `--initial-cluster` and the member's flags are inconsistent (etcd's messages).
    #[error("{0}")]
    InitialCluster(String),
    /// The backend cannot be written.
    #[error("{0}")]
    Storage(String),
}

impl From<BackendError> for RestoreError {
    fn from(e: BackendError) -> RestoreError {
        RestoreError::Storage(e.to_string())
    }
}

/// Writes the new cluster described by `cfg` (`--name`, `--initial-cluster`,
/// `--initial-cluster-token`, `--initial-advertise-peer-urls`) into `backend`, replacing the
/// snapshot's membership and alarms, then resets the consistent index.
pub fn seed_new_cluster(
    backend: &Backend,
    cfg: &ServerConfig,
) -> Result<RestoredIdentity, RestoreError> {
    let cluster = cfg
        .bootstrap_cluster()
        .map_err(|e| RestoreError::InitialCluster(e.to_string()))?;
    let identity = Identity {
        cluster_id: cluster.cluster_id,
        member_id: cluster.local_member_id,
    };
    let members: Vec<Member> = cluster
        .members
        .iter()
        .map(|m| Member {
            id: m.id,
            peer_ur_ls: m.peer_urls.iter().map(ToString::to_string).collect(),
            ..Default::default()
        })
        .collect();
    backend.write(|tables| -> Result<(), RestoreError> {
        tables.clear(&MEMBERS)?;
        tables.clear(&REMOVED)?;
        tables.clear(&ALARM_TABLE)?;
        Membership::bootstrap(tables, identity, &members)
            .map_err(|e| RestoreError::Storage(e.to_string()))
    })?;
    offline::reset_consistent_index(backend)?;
    Ok(RestoredIdentity {
        cluster_id: identity.cluster_id,
        member_id: identity.member_id,
        members: members.into_iter().map(|m| (m.id, m.peer_ur_ls)).collect(),
    })
}
