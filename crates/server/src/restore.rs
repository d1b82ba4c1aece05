//! Seeding a backend restored from a snapshot for a brand-new cluster (`oxutl snapshot
//! restore`): the snapshot's membership, removed-member ids and alarms (rows about members of
//! the old cluster) are dropped, the new cluster's identity and members are written exactly as
//! bootstrap computes them from the same `--initial-cluster` flags, and the consistent index is
//! reset so the new raft log is applied from its first entry.
//!
//! A data dir holding such a backend and no WAL is what bootstrap's new-cluster path expects:
//! it finds its own identity stored, starts a new raft log with the initial members as voters,
//! and serves every key, lease and revision of the snapshot.

use oxcd_etcd_compat::config::ServerConfig;
use oxcd_mvcc::{Backend, BackendError, offline};

use crate::alarms::ALARM_TABLE;
use crate::bootstrap::initial_members;
use crate::membership::{Identity, Membership};

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
    let members = initial_members(&cluster);
    backend.write(|tables| -> Result<(), RestoreError> {
        tables.clear(&ALARM_TABLE)?;
        Membership::reseed(tables, identity, &members)
            .map_err(|e| RestoreError::Storage(e.to_string()))
    })?;
    offline::reset_consistent_index(backend)?;
    Ok(RestoredIdentity {
        cluster_id: identity.cluster_id,
        member_id: identity.member_id,
        members: members.into_iter().map(|m| (m.id, m.peer_ur_ls)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use oxcd_api::etcdserverpb::{AlarmMember, AlarmType, Member};
    use oxcd_etcd_compat::config::{self, ParseOutcome};
    use oxcd_mvcc::{KvStore, TableReader};

    use super::*;
    use crate::membership::{MEMBERS, REMOVED};

    fn config(name: &str, initial_cluster: &str) -> ServerConfig {
        let peer = initial_cluster
            .split(',')
            .find_map(|m| m.strip_prefix(&format!("{name}=")))
            .unwrap();
        let args = [
            format!("--name={name}"),
            format!("--initial-cluster={initial_cluster}"),
            "--initial-cluster-token=restored".to_owned(),
            format!("--initial-advertise-peer-urls={peer}"),
        ];
        match config::parse(args, &HashMap::new()).unwrap() {
            ParseOutcome::Run(cfg) => *cfg,
            other => panic!("{other:?}"),
        }
    }

    fn member_ids(read: &TableReader) -> Vec<u64> {
        read.rows(&MEMBERS)
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }

    #[test]
    fn the_old_clusters_members_removals_alarms_and_index_give_way_to_the_new_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(Backend::open(&dir.path().join("db")).unwrap());
        let store = KvStore::open(backend.clone()).unwrap();
        let mut batch = store.begin_apply().unwrap();
        batch.set_consistent_index(42, 3).unwrap();
        batch.commit(true).unwrap();
        drop(store);
        assert_eq!(backend.consistent_index().unwrap(), (42, 3));
        let old = config("old", "old=http://127.0.0.1:1");
        let old_cluster = old.bootstrap_cluster().unwrap();
        let old_identity = Identity {
            cluster_id: old_cluster.cluster_id,
            member_id: old_cluster.local_member_id,
        };
        let old_member = Member {
            id: old_identity.member_id,
            name: "old".into(),
            ..Default::default()
        };
        backend
            .write(|tables| -> Result<(), RestoreError> {
                Membership::bootstrap(tables, old_identity, &[old_member])
                    .map_err(|e| RestoreError::Storage(e.to_string()))?;
                tables.put(
                    &ALARM_TABLE,
                    &AlarmMember {
                        member_id: old_identity.member_id,
                        alarm: AlarmType::Nospace as i32,
                    },
                    &Vec::new(),
                )?;
                tables.put(&REMOVED, &7, &12)?;
                Ok(())
            })
            .unwrap();

        let cluster = "n1=http://127.0.0.1:2,n2=http://127.0.0.1:3";
        let cfg = config("n2", cluster);
        let seeded = seed_new_cluster(&backend, &cfg).unwrap();
        let expected = cfg.bootstrap_cluster().unwrap();
        assert_eq!(seeded.cluster_id, expected.cluster_id);
        assert_eq!(seeded.member_id, expected.local_member_id);
        let mut ids: Vec<u64> = expected.members.iter().map(|m| m.id).collect();
        ids.sort_unstable();

        let read = backend.read().unwrap();
        assert_eq!(member_ids(&read), ids);
        assert!(read.rows(&ALARM_TABLE).unwrap().is_empty());
        assert!(read.rows(&REMOVED).unwrap().is_empty());
        assert_eq!(read.consistent_index().unwrap(), (0, 0));
        assert_eq!(
            Membership::stored_identity(&backend).unwrap(),
            Some(Identity {
                cluster_id: expected.cluster_id,
                member_id: expected.local_member_id,
            })
        );
    }
}
