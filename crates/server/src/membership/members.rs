//! The member set: which members exist, their peer and client URLs and names, which are
//! learners, which ids were removed for good, and the ids of this cluster and this member. Kept
//! in memory for cheap reads and in the backend (`members`, `members_removed` and `cluster`
//! tables) in the same transaction as everything else the apply loop writes; the peer
//! transport's URL table follows every change.

use std::collections::{BTreeMap, HashMap, HashSet};

use parking_lot::RwLock;

use oxcd_api::etcdserverpb::Member;
use oxcd_mvcc::{Backend, BackendError, Proto, Table, TableReader, TableWriter};
use oxcd_raft::{ConfStateSummary, PeerUrls};

use crate::proposal::MemberAttributes;

/// Member id → `etcdserverpb.Member`.
pub(crate) const MEMBERS: Table<u64, Proto<Member>> = Table::new("members");
/// Id of every member ever removed → the raft index that removed it: an id never comes back.
pub(crate) const REMOVED: Table<u64, u64> = Table::new("members_removed");
/// Which cluster and member this backend belongs to, by name (`CLUSTER_ID_KEY`, `LOCAL_ID_KEY`).
const CLUSTER: Table<String, u64> = Table::new("cluster");
const CLUSTER_ID_KEY: &str = "cluster_id";
const LOCAL_ID_KEY: &str = "local_member_id";

/// Errors reading or writing membership in the backend.
#[derive(Debug, thiserror::Error)]
#[error("membership storage: {0}")]
pub(crate) struct MembershipError(pub(super) String);

impl From<BackendError> for MembershipError {
    fn from(e: BackendError) -> MembershipError {
        MembershipError(e.to_string())
    }
}

/// The ids that identify a data dir: which cluster it belongs to and which member it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    /// Cluster id.
    pub cluster_id: u64,
    /// This member's id.
    pub member_id: u64,
}

/// The member set, shared by the services (reads) and the apply loop (writes).
pub(crate) struct Membership {
    pub(super) identity: Identity,
    pub(super) members: RwLock<BTreeMap<u64, Member>>,
    /// Where the peer transport finds each member, kept equal to `members`' peer URLs, and
    /// the ids removed for good (the one copy of them in memory).
    pub(super) peers: PeerUrls,
}

impl Membership {
    /// Records a brand-new cluster in the backend: its identity and the initial members (with
    /// peer URLs only; names and client URLs arrive when each member publishes itself).
    pub(crate) fn bootstrap(
        tables: TableWriter<'_>,
        identity: Identity,
        members: &[Member],
    ) -> Result<(), MembershipError> {
        Self::set_local_identity(tables, identity)?;
        for m in members {
            tables.put(&MEMBERS, &m.id, m)?;
        }
        Ok(())
    }

    /// Replaces whatever membership `tables` hold (a restored snapshot's: its members and
    /// removed ids) with a brand-new cluster's, as [`Membership::bootstrap`] records one.
    pub(crate) fn reseed(
        tables: TableWriter<'_>,
        identity: Identity,
        members: &[Member],
    ) -> Result<(), MembershipError> {
        tables.clear(&MEMBERS)?;
        tables.clear(&REMOVED)?;
        Self::bootstrap(tables, identity, members)
    }

    /// Records which cluster and member this backend belongs to.
    pub(crate) fn set_local_identity(
        tables: TableWriter<'_>,
        identity: Identity,
    ) -> Result<(), MembershipError> {
        tables.put(&CLUSTER, &CLUSTER_ID_KEY.to_owned(), &identity.cluster_id)?;
        tables.put(&CLUSTER, &LOCAL_ID_KEY.to_owned(), &identity.member_id)?;
        Ok(())
    }

    /// Whether backend row `key` of `table` is this member's own id rather than replicated
    /// membership, so whole-backend hashes compared across members leave it out.
    pub(crate) fn is_member_local(table: &str, key: &[u8]) -> bool {
        table == CLUSTER.name() && key == LOCAL_ID_KEY.as_bytes()
    }

    /// The identity stored in a data dir's backend, if it was ever bootstrapped.
    pub(crate) fn stored_identity(backend: &Backend) -> Result<Option<Identity>, MembershipError> {
        Self::identity_in(&backend.read()?)
    }

    fn identity_in(read: &TableReader) -> Result<Option<Identity>, MembershipError> {
        let cluster_id = read.get(&CLUSTER, &CLUSTER_ID_KEY.to_owned())?;
        let member_id = read.get(&CLUSTER, &LOCAL_ID_KEY.to_owned())?;
        Ok(match (cluster_id, member_id) {
            (Some(cluster_id), Some(member_id)) => Some(Identity {
                cluster_id,
                member_id,
            }),
            _ => None,
        })
    }

    /// Loads the member set of a bootstrapped backend.
    pub(crate) fn load(backend: &Backend) -> Result<Membership, MembershipError> {
        let read = backend.read()?;
        let identity = Self::identity_in(&read)?
            .ok_or_else(|| MembershipError("backend holds no cluster identity".into()))?;
        let (members, removed) = Self::stored_sets(&read)?;
        let peers = PeerUrls::new();
        peers.replace(peer_map(&members), removed);
        Ok(Membership {
            identity,
            members: RwLock::new(members),
            peers,
        })
    }

    /// The raft configuration the stored member set stands for (learners apart, every member
    /// votes), or `None` for a backend that has applied nothing yet: its configuration is the
    /// one raft's first snapshot holds (a member joining a cluster records the members it
    /// was told of before raft has given it any).
    pub(crate) fn stored_conf_state(
        backend: &Backend,
    ) -> Result<Option<ConfStateSummary>, MembershipError> {
        let (applied, _) = backend.consistent_index()?;
        if applied == 0 {
            return Ok(None);
        }
        let members: Vec<Member> = backend
            .read()?
            .rows(&MEMBERS)?
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        Ok(Some(conf_state_of(members.iter())))
    }

    /// The peer transport's table of member URLs, which follows this membership.
    pub(crate) fn peer_urls(&self) -> &PeerUrls {
        &self.peers
    }

    /// This cluster's and this member's ids.
    pub(crate) fn identity(&self) -> Identity {
        self.identity
    }

    /// Every member, ordered by id.
    pub(crate) fn members(&self) -> Vec<Member> {
        self.members.read().values().cloned().collect()
    }

    /// One member by id.
    pub(crate) fn member(&self, id: u64) -> Option<Member> {
        self.members.read().get(&id).cloned()
    }

    /// Applies a member's published name and client URLs (ignored for unknown members, which
    /// may have been removed after publishing).
    pub(crate) fn apply_attributes(
        &self,
        tables: TableWriter<'_>,
        attrs: &MemberAttributes,
    ) -> Result<(), MembershipError> {
        let mut members = self.members.write();
        let Some(member) = members.get_mut(&attrs.id) else {
            return Ok(());
        };
        member.name = attrs.name.clone();
        member.client_ur_ls = attrs.client_urls.clone();
        tables.put(&MEMBERS, &member.id, member)?;
        Ok(())
    }

    /// Replaces the in-memory view after the backend was swapped for a snapshot.
    pub(crate) fn reload(&self, backend: &Backend) -> Result<(), MembershipError> {
        let (members, removed) = Self::stored_sets(&backend.read()?)?;
        self.peers.replace(peer_map(&members), removed);
        *self.members.write() = members;
        Ok(())
    }

    /// The stored members and removed ids.
    fn stored_sets(
        read: &TableReader,
    ) -> Result<(BTreeMap<u64, Member>, HashSet<u64>), MembershipError> {
        let members = read.rows(&MEMBERS)?.into_iter().collect();
        let removed = read.rows(&REMOVED)?.into_iter().map(|(id, _)| id).collect();
        Ok((members, removed))
    }

    /// Whether this member is a learner.
    pub(crate) fn is_local_learner(&self) -> bool {
        self.members
            .read()
            .get(&self.identity.member_id)
            .is_some_and(|m| m.is_learner)
    }
}

/// The raft configuration of a member set.
fn conf_state_of<'a>(members: impl Iterator<Item = &'a Member>) -> ConfStateSummary {
    let (mut voters, mut learners) = (Vec::new(), Vec::new());
    for m in members {
        if m.is_learner {
            learners.push(m.id);
        } else {
            voters.push(m.id);
        }
    }
    ConfStateSummary {
        voters,
        learners,
        ..Default::default()
    }
}

fn peer_map(members: &BTreeMap<u64, Member>) -> HashMap<u64, Vec<String>> {
    members
        .iter()
        .map(|(id, m)| (*id, m.peer_ur_ls.clone()))
        .collect()
}
