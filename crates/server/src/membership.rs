//! Cluster membership: which members exist, their peer and client URLs and names, and the ids
//! of this cluster and this member. Kept in memory for cheap reads and in the backend (`members`
//! and `cluster` tables) in the same transaction as everything else the apply loop writes.

use std::collections::BTreeMap;

use parking_lot::RwLock;
use prost::Message;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use oxcd_api::etcdserverpb::Member;

use crate::proposal::MemberAttributes;

const MEMBERS: TableDefinition<u64, &[u8]> = TableDefinition::new("members");
const CLUSTER: TableDefinition<&str, u64> = TableDefinition::new("cluster");
const CLUSTER_ID_KEY: &str = "cluster_id";
const LOCAL_ID_KEY: &str = "local_member_id";

/// Errors reading or writing membership in the backend.
#[derive(Debug, thiserror::Error)]
#[error("membership storage: {0}")]
pub struct MembershipError(String);

fn storage<E: std::fmt::Display>(e: E) -> MembershipError {
    MembershipError(e.to_string())
}

/// The ids that identify a data dir: which cluster it belongs to and which member it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// Cluster id.
    pub cluster_id: u64,
    /// This member's id.
    pub member_id: u64,
}

/// The member set, shared by the services (reads) and the apply loop (writes).
pub struct Membership {
    identity: Identity,
    members: RwLock<BTreeMap<u64, Member>>,
}

impl Membership {
    /// Records a brand-new cluster in the backend: its identity and the initial members (with
    /// peer URLs only; names and client URLs arrive when each member publishes itself).
    pub fn bootstrap(
        tx: &WriteTransaction,
        identity: Identity,
        members: &[Member],
    ) -> Result<(), MembershipError> {
        Self::set_local_identity(tx, identity)?;
        let mut table = tx.open_table(MEMBERS).map_err(storage)?;
        for m in members {
            table
                .insert(m.id, m.encode_to_vec().as_slice())
                .map_err(storage)?;
        }
        Ok(())
    }

    /// Records which cluster and member this backend belongs to.
    pub fn set_local_identity(
        tx: &WriteTransaction,
        identity: Identity,
    ) -> Result<(), MembershipError> {
        let mut cluster = tx.open_table(CLUSTER).map_err(storage)?;
        cluster
            .insert(CLUSTER_ID_KEY, identity.cluster_id)
            .map_err(storage)?;
        cluster
            .insert(LOCAL_ID_KEY, identity.member_id)
            .map_err(storage)?;
        Ok(())
    }

    /// The identity stored in a data dir's backend, if it was ever bootstrapped.
    pub fn stored_identity(db: &Database) -> Result<Option<Identity>, MembershipError> {
        let tx = db.begin_read().map_err(storage)?;
        let cluster = match tx.open_table(CLUSTER) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(storage(e)),
        };
        let cluster_id = cluster.get(CLUSTER_ID_KEY).map_err(storage)?;
        let member_id = cluster.get(LOCAL_ID_KEY).map_err(storage)?;
        Ok(match (cluster_id, member_id) {
            (Some(c), Some(m)) => Some(Identity {
                cluster_id: c.value(),
                member_id: m.value(),
            }),
            _ => None,
        })
    }

    /// Loads the member set of a bootstrapped backend.
    pub fn load(db: &Database) -> Result<Membership, MembershipError> {
        let identity = Self::stored_identity(db)?
            .ok_or_else(|| MembershipError("backend holds no cluster identity".into()))?;
        let tx = db.begin_read().map_err(storage)?;
        let table = tx.open_table(MEMBERS).map_err(storage)?;
        let mut members = BTreeMap::new();
        for row in table.iter().map_err(storage)? {
            let (id, bytes) = row.map_err(storage)?;
            let member = Member::decode(bytes.value()).map_err(storage)?;
            members.insert(id.value(), member);
        }
        Ok(Membership {
            identity,
            members: RwLock::new(members),
        })
    }

    /// This cluster's and this member's ids.
    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// Every member, ordered by id.
    pub fn members(&self) -> Vec<Member> {
        self.members.read().values().cloned().collect()
    }

    /// One member by id.
    pub fn member(&self, id: u64) -> Option<Member> {
        self.members.read().get(&id).cloned()
    }

    /// Applies a member's published name and client URLs (ignored for unknown members, which
    /// may have been removed after publishing).
    pub fn apply_attributes(
        &self,
        tx: &WriteTransaction,
        attrs: &MemberAttributes,
    ) -> Result<(), MembershipError> {
        let mut members = self.members.write();
        let Some(member) = members.get_mut(&attrs.id) else {
            return Ok(());
        };
        member.name = attrs.name.clone();
        member.client_ur_ls = attrs.client_urls.clone();
        let mut table = tx.open_table(MEMBERS).map_err(storage)?;
        table
            .insert(member.id, member.encode_to_vec().as_slice())
            .map_err(storage)?;
        Ok(())
    }

    /// Replaces the in-memory view after the backend was swapped for a snapshot.
    pub fn reload(&self, db: &Database) -> Result<(), MembershipError> {
        let fresh = Self::load(db)?;
        *self.members.write() = fresh.members.into_inner();
        Ok(())
    }
}
