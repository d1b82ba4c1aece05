//! Bootstrap: turns a data dir plus the `--initial-*` flags into this member's identity.
//!
//! A data dir with a WAL is a restart: its stored identity wins and the `--initial-*` flags are
//! ignored, as in etcd. Otherwise a new cluster is created from `--initial-cluster`: member ids
//! derive from the peer URLs and the cluster token, the cluster id from the member ids, so every
//! member computes the same values independently.
//!
//! Whether the data dir holds raft state is decided before anything in it is opened or
//! created, and a data dir whose raft state is damaged is refused untouched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oxcd_api::etcdserverpb::Member;
use oxcd_mvcc::Backend;

use crate::membership::{Identity, Membership};
use oxcd_etcd_compat::config::{ClusterState, ConfigError, ServerConfig};

/// The outcome of bootstrap.
#[derive(Debug)]
pub(crate) struct Bootstrapped {
    /// Cluster and member id.
    pub identity: Identity,
    /// Voters to start a brand-new raft group with; empty on restart (the WAL knows).
    pub initial_voters: Vec<u64>,
    /// Peer URLs of every member, for the peer transport.
    pub peer_urls: HashMap<u64, Vec<String>>,
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
    /// Joining an existing cluster needs runtime reconfiguration, which is not available yet.
    #[error(
        "--initial-cluster-state=existing needs a member added with 'member add', which oxcd does not support yet; start all members with --initial-cluster-state=new"
    )]
    JoinUnsupported,
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

/// Prepares the data dir and decides this member's identity.
pub(crate) fn bootstrap(cfg: &ServerConfig) -> Result<Bootstrapped, BootstrapError> {
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
        let membership = Membership::load(&backend).map_err(storage)?;
        return Ok(Bootstrapped {
            identity,
            initial_voters: Vec::new(),
            peer_urls: peer_urls_of(&membership.members()),
            backend_path,
            restarted: true,
        });
    }
    if cfg.initial_cluster_state == ClusterState::Existing {
        return Err(BootstrapError::JoinUnsupported);
    }

    let cluster = cfg
        .bootstrap_cluster()
        .map_err(BootstrapError::InitialCluster)?;
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
    let members: Vec<Member> = cluster
        .members
        .iter()
        .map(|m| Member {
            id: m.id,
            peer_ur_ls: m.peer_urls.iter().map(ToString::to_string).collect(),
            ..Default::default()
        })
        .collect();

    backend
        .write(|tables| Membership::bootstrap(tables, identity, &members))
        .map_err(storage)?;
    Ok(Bootstrapped {
        identity,
        initial_voters: members.iter().map(|m| m.id).collect(),
        peer_urls: peer_urls_of(&members),
        backend_path,
        restarted: false,
    })
}

fn peer_urls_of(members: &[Member]) -> HashMap<u64, Vec<String>> {
    members
        .iter()
        .map(|m| (m.id, m.peer_ur_ls.clone()))
        .collect()
}
