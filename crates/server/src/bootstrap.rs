//! Bootstrap: turns a data dir plus the `--initial-*` flags into this member's identity.
//!
//! A data dir with a WAL is a restart: its stored identity wins and the `--initial-*` flags are
//! ignored, as in etcd. Otherwise, with `--initial-cluster-state new`, a new cluster is created
//! from `--initial-cluster`: member ids derive from the peer URLs and the cluster token, the
//! cluster id from the member ids, so every member computes the same values independently.
//! With `existing`, the member joins a running cluster that `member add` prepared: it asks the
//! other members listed in `--initial-cluster` for the membership, checks that the flags
//! describe exactly that membership (etcd's rule), and takes the ids from it.
//!
//! Whether the data dir holds raft state is decided before anything in it is opened or
//! created, and a data dir whose raft state is damaged is refused untouched.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use oxcd_api::etcdserverpb::Member;
use oxcd_mvcc::Backend;

use crate::membership::{Identity, Membership};
use oxcd_etcd_compat::config::{BootstrapCluster, ClusterState, ConfigError, ServerConfig};

/// The outcome of bootstrap.
#[derive(Debug)]
pub(crate) struct Bootstrapped {
    /// Cluster and member id.
    pub identity: Identity,
    /// Voters to start a brand-new raft group with; empty on restart (the WAL knows) and
    /// when joining (the leader's snapshot brings the membership).
    pub initial_voters: Vec<u64>,
    /// Path of the backend database.
    pub backend_path: PathBuf,
    /// Whether an existing data dir was reopened.
    pub restarted: bool,
}

/// Why a member cannot start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BootstrapError {
    /// The data dir cannot be created or read.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The failure.
        source: std::io::Error,
    },
    /// The backend cannot be opened or written.
    #[error("{0}")]
    Storage(String),
    /// `--initial-cluster` is inconsistent with this member's flags.
    #[error("{0}")]
    InitialCluster(ConfigError),
    /// The data dir was bootstrapped for another cluster or member.
    #[error(
        "data dir {data_dir} belongs to member {stored_member:x} of cluster {stored_cluster:x}, but the flags describe member {member:x} of cluster {cluster:x}; use a new data dir or the original --initial-cluster flags"
    )]
    DataDirOfAnotherCluster {
        /// The data dir.
        data_dir: String,
        /// Member id stored there.
        stored_member: u64,
        /// Cluster id stored there.
        stored_cluster: u64,
        /// Member id from the flags.
        member: u64,
        /// Cluster id from the flags.
        cluster: u64,
    },
    /// The raft state in the data dir is damaged; the message names the file and what the
    /// operator can do.
    #[error("{0}")]
    Damaged(oxcd_raft::RaftError),
    /// A WAL exists but the backend lacks the cluster identity.
    #[error(
        "data dir {0} has a WAL but no bootstrapped backend (member/snap/db); it is damaged: restore the member from a backup, or remove it from the cluster and add it back with an empty data directory"
    )]
    MissingBackend(String),
    /// The data dir belongs to a member that was removed from its cluster.
    #[error(
        "member {member:x} has been permanently removed from cluster {cluster:x}; the data-dir used by this member ({data_dir}) must be removed (add it again with 'member add' and an empty data dir)"
    )]
    Removed {
        /// The data dir.
        data_dir: String,
        /// This member's id.
        member: u64,
        /// Its cluster's id.
        cluster: u64,
    },
    /// Joining an existing cluster failed: its members could not be asked, or the flags do
    /// not describe its membership.
    #[error("{0}")]
    Join(String),
}

fn storage<E: std::fmt::Display>(e: E) -> BootstrapError {
    BootstrapError::Storage(e.to_string())
}

fn create_private_dir(dir: &Path) -> Result<(), BootstrapError> {
    oxcd_raft::fsutil::create_dir_all_durable(dir, 0o700).map_err(|e| match e {
        oxcd_raft::RaftError::Io { context, source } => BootstrapError::Io { context, source },
        other => BootstrapError::Storage(other.to_string()),
    })
}

/// Prepares the data dir and decides this member's identity; a joining member asks its peers,
/// dialling `https://` ones with `peer_tls`.
pub(crate) async fn bootstrap(
    cfg: &ServerConfig,
    peer_tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Bootstrapped, BootstrapError> {
    let restart = oxcd_raft::has_durable_state(&cfg.wal_dir, &cfg.snap_dir)
        .map_err(BootstrapError::Damaged)?;
    create_private_dir(&cfg.data_dir)?;
    create_private_dir(&cfg.member_dir)?;
    create_private_dir(&cfg.snap_dir)?;
    let backend_path = cfg.backend_path();
    if restart && !backend_path.exists() {
        // Opening would create an empty one over what should be there.
        return Err(BootstrapError::MissingBackend(
            cfg.data_dir.display().to_string(),
        ));
    }
    let backend = Backend::open(&backend_path).map_err(storage)?;
    let stored = Membership::stored_identity(&backend).map_err(storage)?;

    if restart {
        let identity = stored
            .ok_or_else(|| BootstrapError::MissingBackend(cfg.data_dir.display().to_string()))?;
        if Membership::load(&backend)
            .map_err(storage)?
            .peer_urls()
            .is_removed(identity.member_id)
        {
            return Err(BootstrapError::Removed {
                data_dir: cfg.data_dir.display().to_string(),
                member: identity.member_id,
                cluster: identity.cluster_id,
            });
        }
        return Ok(Bootstrapped {
            identity,
            initial_voters: Vec::new(),
            backend_path,
            restarted: true,
        });
    }

    let cluster = cfg
        .bootstrap_cluster()
        .map_err(BootstrapError::InitialCluster)?;
    if cfg.initial_cluster_state == ClusterState::Existing {
        let (identity, members) = join(cfg, &cluster, peer_tls).await?;
        backend
            .write(|tables| Membership::bootstrap(tables, identity, &members))
            .map_err(storage)?;
        return Ok(Bootstrapped {
            identity,
            initial_voters: Vec::new(),
            backend_path,
            restarted: false,
        });
    }
    let identity = Identity {
        cluster_id: cluster.cluster_id,
        member_id: cluster.local_member_id,
    };
    if let Some(stored) = stored.filter(|s| *s != identity) {
        return Err(BootstrapError::DataDirOfAnotherCluster {
            data_dir: cfg.data_dir.display().to_string(),
            stored_member: stored.member_id,
            stored_cluster: stored.cluster_id,
            member: identity.member_id,
            cluster: identity.cluster_id,
        });
    }
    let members = initial_members(&cluster);
    backend
        .write(|tables| Membership::bootstrap(tables, identity, &members))
        .map_err(storage)?;
    Ok(Bootstrapped {
        identity,
        initial_voters: members.iter().map(|m| m.id).collect(),
        backend_path,
        restarted: false,
    })
}

/// The members `--initial-cluster` describes, with their ids and peer URLs only (names and
/// client URLs arrive when each member publishes itself).
pub(crate) fn initial_members(cluster: &BootstrapCluster) -> Vec<Member> {
    cluster
        .members
        .iter()
        .map(|m| Member {
            id: m.id,
            peer_ur_ls: m.peer_urls.iter().map(ToString::to_string).collect(),
            ..Default::default()
        })
        .collect()
}

/// How long each peer may take to describe the cluster to a joining member.
const JOIN_ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks the other members of `--initial-cluster` for the running cluster's membership and
/// matches it against the flags as etcd's `ValidateClusterAndAssignIDs` does: the same
/// number of members, each listed member's peer URLs exactly those of one running member,
/// whose id it takes. Returns this member's identity and the membership to start from.
async fn join(
    cfg: &ServerConfig,
    cluster: &BootstrapCluster,
    peer_tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<(Identity, Vec<Member>), BootstrapError> {
    let sorted = |urls: &[String]| {
        let mut urls = urls.to_vec();
        urls.sort();
        urls
    };
    let others: Vec<String> = cluster
        .members
        .iter()
        .filter(|m| m.name != cfg.name)
        .flat_map(|m| m.peer_urls.iter().map(ToString::to_string))
        .collect();
    let remote = oxcd_raft::fetch_cluster(&others, JOIN_ASK_TIMEOUT, peer_tls)
        .await
        .map_err(|e| {
            BootstrapError::Join(format!(
                "cannot fetch cluster info from peer urls: {e}; with --initial-cluster-state=existing the other members of --initial-cluster must be running"
            ))
        })?;
    if remote.members.len() != cluster.members.len() {
        return Err(BootstrapError::Join(format!(
            "error validating peerURLs: member count is unequal (--initial-cluster lists {}, the running cluster {:x} has {}); add this member with 'member add' first and start it with the --initial-cluster that command prints",
            cluster.members.len(),
            remote.cluster_id,
            remote.members.len()
        )));
    }
    let mut local_id = None;
    let mut members = Vec::with_capacity(remote.members.len());
    for listed in &cluster.members {
        let urls = sorted(
            &listed
                .peer_urls
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        );
        let Some((id, _)) = remote.members.iter().find(|(_, u)| sorted(u) == urls) else {
            return Err(BootstrapError::Join(format!(
                "error validating peerURLs: no running member of cluster {:x} has the peer URLs {urls:?} of member {} in --initial-cluster",
                remote.cluster_id, listed.name
            )));
        };
        if listed.name == cfg.name {
            local_id = Some(*id);
        }
        members.push(Member {
            id: *id,
            peer_ur_ls: urls,
            ..Default::default()
        });
    }
    let member_id = local_id.ok_or_else(|| {
        BootstrapError::Join(format!(
            "couldn't find local name {} in the initial cluster configuration",
            cfg.name
        ))
    })?;
    tracing::info!(
        local_member_id = %format!("{member_id:x}"),
        cluster_id = %format!("{:x}", remote.cluster_id),
        "joining an existing cluster"
    );
    Ok((
        Identity {
            cluster_id: remote.cluster_id,
            member_id,
        },
        members,
    ))
}
