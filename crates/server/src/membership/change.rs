//! Changing the member set by etcd's rules: what a change must satisfy against the replicated
//! membership when it is applied (checked identically on every member, so a refused change is
//! a no-op everywhere), and the `--strict-reconfig-check` rules a member applies before it
//! proposes one (which look at which members have started and which this member has been
//! reaching).

use std::time::{Duration, Instant};

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::Member;
use oxcd_mvcc::TableWriter;
use oxcd_raft::Replication;

use super::members::{MEMBERS, Membership, MembershipError, REMOVED};

/// etcd allows one learner at a time.
const MAX_LEARNERS: usize = 1;

/// A learner may be promoted once its log matches at least this share of the leader's.
const LEARNER_READY_SHARE: f64 = 0.9;

/// How long a peer must have been reachable to count as healthy (etcd's `HealthInterval`).
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);

/// What this member's transport tells of its peers: since when each has been reachable.
pub(crate) struct PeerLinks<'a> {
    /// Since when messages to a member have been getting through.
    pub(crate) active_since: Box<dyn Fn(u64) -> Option<Instant> + 'a>,
    /// The time of the check.
    pub(crate) now: Instant,
}

/// A change to the member set, as an applied entry asks for it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChangeRequest<'a> {
    /// A new member (its id, peer URLs, and whether it is a learner).
    Add(&'a Member),
    /// A learner becoming a voter.
    Promote(u64),
    /// A member leaving for good.
    Remove(u64),
    /// A member's new peer URLs.
    Update {
        /// The member.
        id: u64,
        /// Its peer URLs from now on.
        peer_urls: &'a [String],
    },
}

impl ChangeRequest<'_> {
    fn id(&self) -> u64 {
        match self {
            ChangeRequest::Add(m) => m.id,
            ChangeRequest::Promote(id) | ChangeRequest::Remove(id) => *id,
            ChangeRequest::Update { id, .. } => *id,
        }
    }
}

/// Whether an applied removal took this member itself out of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removal {
    /// Another member, or no removal.
    NotLocal,
    /// This member was removed: it must stop.
    Local,
}

impl Membership {
    /// etcd's checks of a change against the membership it is applied to. A refused change
    /// changes nothing, on any member.
    pub(crate) fn check(&self, change: &ChangeRequest<'_>) -> Result<(), EtcdError> {
        let members = self.members.read();
        let id = change.id();
        if self.peers.is_removed(id) {
            // etcd's ErrIDRemoved, which its gRPC layer reports as "member not found".
            return Err(EtcdError::MemberNotFound);
        }
        let urls_in_use = |except: Option<u64>, urls: &[String]| {
            members
                .values()
                .filter(|m| Some(m.id) != except)
                .flat_map(|m| &m.peer_ur_ls)
                .any(|u| urls.contains(u))
        };
        match change {
            ChangeRequest::Add(member) => {
                if members.contains_key(&id) {
                    return Err(EtcdError::MemberExist);
                }
                if urls_in_use(None, &member.peer_ur_ls) {
                    return Err(EtcdError::PeerUrlExist);
                }
                let learners = members.values().filter(|m| m.is_learner).count();
                if member.is_learner && learners + 1 > MAX_LEARNERS {
                    return Err(EtcdError::TooManyLearners);
                }
            }
            ChangeRequest::Promote(_) => match members.get(&id) {
                None => return Err(EtcdError::MemberNotFound),
                Some(m) if !m.is_learner => return Err(EtcdError::MemberNotLearner),
                Some(_) => {}
            },
            ChangeRequest::Remove(_) => {
                if !members.contains_key(&id) {
                    return Err(EtcdError::MemberNotFound);
                }
            }
            ChangeRequest::Update { peer_urls, .. } => {
                if !members.contains_key(&id) {
                    return Err(EtcdError::MemberNotFound);
                }
                if urls_in_use(Some(id), peer_urls) {
                    return Err(EtcdError::PeerUrlExist);
                }
            }
        }
        Ok(())
    }

    /// Applies a change [`Membership::check`] accepted, in memory, in `tables` (removed at
    /// raft index `index`) and in the peer transport's URL table.
    pub(crate) fn apply_change(
        &self,
        tables: TableWriter<'_>,
        change: &ChangeRequest<'_>,
        index: u64,
    ) -> Result<Removal, MembershipError> {
        let mut members = self.members.write();
        let id = change.id();
        match change {
            ChangeRequest::Add(member) => {
                let added = Member {
                    id,
                    name: String::new(),
                    peer_ur_ls: member.peer_ur_ls.clone(),
                    client_ur_ls: Vec::new(),
                    is_learner: member.is_learner,
                };
                tables.put(&MEMBERS, &id, &added)?;
                self.peers.set(id, added.peer_ur_ls.clone());
                members.insert(id, added);
            }
            ChangeRequest::Promote(_) => {
                if let Some(m) = members.get_mut(&id) {
                    m.is_learner = false;
                    tables.put(&MEMBERS, &id, m)?;
                }
            }
            ChangeRequest::Update { peer_urls, .. } => {
                if let Some(m) = members.get_mut(&id) {
                    m.peer_ur_ls = peer_urls.to_vec();
                    tables.put(&MEMBERS, &id, m)?;
                    self.peers.set(id, peer_urls.to_vec());
                }
            }
            ChangeRequest::Remove(_) => {
                members.remove(&id);
                tables.delete(&MEMBERS, &id)?;
                tables.put(&REMOVED, &id, &index)?;
                self.peers.remove(id);
                if id == self.identity.member_id {
                    return Ok(Removal::Local);
                }
            }
        }
        Ok(Removal::NotLocal)
    }

    /// Voting members that have published themselves (etcd's "started" members).
    fn started_voters(&self, except: Option<u64>) -> (usize, usize) {
        let members = self.members.read();
        let voters = members
            .values()
            .filter(|m| !m.is_learner && Some(m.id) != except);
        let (mut total, mut started) = (0, 0);
        for m in voters {
            total += 1;
            if !m.name.is_empty() {
                started += 1;
            }
        }
        (total, started)
    }

    /// `--strict-reconfig-check` before adding a member: a new voter must not leave the
    /// started voters short of the grown cluster's quorum, and every voter must have been
    /// reachable for [`HEALTH_INTERVAL`] (etcd's "connected fully").
    pub(crate) fn may_add(&self, learner: bool, links: &PeerLinks<'_>) -> Result<(), EtcdError> {
        if !learner {
            let (voters, started) = self.started_voters(None);
            let total = voters + 1;
            // Growing a one-member cluster (restoring a cluster from one member) is allowed.
            let one_to_two = started == 1 && total == 2;
            if !one_to_two && started < total / 2 + 1 {
                return Err(EtcdError::MemberNotEnoughStarted);
            }
        }
        let voters = self.voter_ids();
        if self.connected(&voters, links) < voters.len() {
            return Err(EtcdError::Unhealthy);
        }
        Ok(())
    }

    /// `--strict-reconfig-check` before removing member `id`: removing a learner is always
    /// safe; a voter may go only if the started voters left still form a quorum and, unless
    /// it is unreachable already, the voters reachable for [`HEALTH_INTERVAL`] would too.
    pub(crate) fn may_remove(&self, id: u64, links: &PeerLinks<'_>) -> Result<(), EtcdError> {
        if self.member(id).is_some_and(|m| m.is_learner) {
            return Ok(());
        }
        let (voters, started) = self.started_voters(Some(id));
        if started < voters / 2 + 1 {
            return Err(EtcdError::MemberNotEnoughStarted);
        }
        if id != self.identity.member_id && (links.active_since)(id).is_none() {
            // A member that is down is not part of the active quorum.
            return Ok(());
        }
        let voters = self.voter_ids();
        let active = self.connected(&voters, links);
        if active.saturating_sub(1) < 1 + (voters.len().saturating_sub(1)) / 2 {
            return Err(EtcdError::Unhealthy);
        }
        Ok(())
    }

    fn voter_ids(&self) -> Vec<u64> {
        self.members
            .read()
            .values()
            .filter(|m| !m.is_learner)
            .map(|m| m.id)
            .collect()
    }

    /// How many of `ids` this member counts as connected: itself, and the members reachable
    /// since at least [`HEALTH_INTERVAL`] ago.
    fn connected(&self, ids: &[u64], links: &PeerLinks<'_>) -> usize {
        let since = links.now.checked_sub(HEALTH_INTERVAL);
        ids.iter()
            .filter(|id| {
                **id == self.identity.member_id
                    || matches!(((links.active_since)(**id), since), (Some(up), Some(since)) if up <= since)
            })
            .count()
    }

    /// Before promoting learner `id`: it must have caught up with the leader (checked on the
    /// leader, which alone knows), and with `strict`, the voters started plus the learner
    /// must form a quorum of the grown cluster. A learner raft does not track yet is not ready:
    /// the apply thread lists a new member before the ready loop adds it to raft's
    /// configuration (etcd applies both in one step and lets such a learner pass), and the
    /// automatic promoter once promoted a learner that had never started in that gap, leaving a
    /// one-member cluster without a quorum.
    pub(crate) fn may_promote(
        &self,
        id: u64,
        replication: &Replication,
        strict: bool,
    ) -> Result<(), EtcdError> {
        let caught_up = match (
            replication.peer(id),
            replication.peer(self.identity.member_id),
        ) {
            (Some(learner), Some(leader)) => {
                learner.matched as f64 >= leader.matched as f64 * LEARNER_READY_SHARE
            }
            _ => false,
        };
        if !caught_up {
            return Err(EtcdError::LearnerNotReady);
        }
        if strict {
            // The learner counts as a started voter of the grown cluster.
            let (voters, started) = self.started_voters(None);
            let (total, started) = (voters + 1, started + 1);
            if started < total / 2 + 1 {
                return Err(EtcdError::MemberNotEnoughStarted);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use oxcd_raft::{PeerProgress, PeerUrls};
    use parking_lot::RwLock;

    use super::*;
    use crate::membership::Identity;

    const LEADER: u64 = 1;
    const LEARNER: u64 = 2;

    fn leader_with_learner() -> Membership {
        let member = |id, is_learner| Member {
            id,
            is_learner,
            ..Default::default()
        };
        Membership {
            identity: Identity {
                cluster_id: 7,
                member_id: LEADER,
            },
            members: RwLock::new(BTreeMap::from([
                (LEADER, member(LEADER, false)),
                (LEARNER, member(LEARNER, true)),
            ])),
            peers: PeerUrls::new(),
        }
    }

    fn replication(peers: &[(u64, u64)]) -> Replication {
        Replication {
            peers: peers
                .iter()
                .map(|&(id, matched)| PeerProgress {
                    id,
                    matched,
                    recently_active: true,
                })
                .collect(),
        }
    }

    #[test]
    fn a_learner_is_promoted_once_its_log_caught_up() {
        let membership = leader_with_learner();
        let check = |peers: &[(u64, u64)]| {
            membership
                .may_promote(LEARNER, &replication(peers), false)
                .err()
        };
        assert_eq!(check(&[(LEADER, 1000), (LEARNER, 900)]), None);
        assert_eq!(
            check(&[(LEADER, 1000), (LEARNER, 899)]),
            Some(EtcdError::LearnerNotReady)
        );
        assert_eq!(
            check(&[(LEADER, 1000), (LEARNER, 0)]),
            Some(EtcdError::LearnerNotReady)
        );
        // Listed as a member, not yet in raft's configuration: it has caught up with nothing.
        assert_eq!(check(&[(LEADER, 1000)]), Some(EtcdError::LearnerNotReady));
    }
}
