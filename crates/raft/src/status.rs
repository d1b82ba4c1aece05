//! The cheap, observable view of a raft node's state.

/// The role this member currently plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Following a leader (or waiting for one).
    #[default]
    Follower,
    /// Running a pre-vote round.
    PreCandidate,
    /// Running an election.
    Candidate,
    /// The leader.
    Leader,
}

impl Role {
    pub(crate) fn from_raft(r: raft::StateRole) -> Self {
        match r {
            raft::StateRole::Follower => Role::Follower,
            raft::StateRole::PreCandidate => Role::PreCandidate,
            raft::StateRole::Candidate => Role::Candidate,
            raft::StateRole::Leader => Role::Leader,
        }
    }
}

/// A snapshot of the node's raft state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RaftStatus {
    /// This member's ID.
    pub id: u64,
    /// The current leader's ID, 0 when there is none.
    pub leader: u64,
    /// The current term.
    pub term: u64,
    /// The commit index.
    pub commit: u64,
    /// The index of the last entry in the log.
    pub last_index: u64,
    /// The applied index, as reported by the apply loop.
    pub applied: u64,
    /// Whether this member is a learner.
    pub is_learner: bool,
    /// The role this member plays.
    pub role: Role,
}

/// Members of the raft configuration after a conf change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfStateSummary {
    /// Voting members.
    pub voters: Vec<u64>,
    /// Non-voting members.
    pub learners: Vec<u64>,
    /// Voters of the outgoing configuration while in joint consensus.
    pub voters_outgoing: Vec<u64>,
    /// Voters that become learners when joint consensus is left.
    pub learners_next: Vec<u64>,
    /// Whether joint consensus is left automatically.
    pub auto_leave: bool,
}

impl ConfStateSummary {
    pub(crate) fn from_raft(cs: &raft::prelude::ConfState) -> Self {
        ConfStateSummary {
            voters: cs.voters.clone(),
            learners: cs.learners.clone(),
            voters_outgoing: cs.voters_outgoing.clone(),
            learners_next: cs.learners_next.clone(),
            auto_leave: cs.auto_leave,
        }
    }

    pub(crate) fn to_raft(&self) -> raft::prelude::ConfState {
        raft::prelude::ConfState {
            voters: self.voters.clone(),
            learners: self.learners.clone(),
            voters_outgoing: self.voters_outgoing.clone(),
            learners_next: self.learners_next.clone(),
            auto_leave: self.auto_leave,
            ..Default::default()
        }
    }

    /// Every member of the configuration, voters and learners, sorted.
    pub fn members(&self) -> Vec<u64> {
        let mut all: Vec<u64> = self
            .voters
            .iter()
            .chain(&self.voters_outgoing)
            .chain(&self.learners)
            .chain(&self.learners_next)
            .copied()
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// How far one member's log matches the leader's, as the leader tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerProgress {
    /// The member.
    pub id: u64,
    /// The highest log index known to be replicated on it.
    pub matched: u64,
    /// Whether it answered the leader within the last election timeout.
    pub recently_active: bool,
}

/// The leader's view of replication to every member (itself included).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Replication {
    /// One entry per member of the configuration, ordered by id.
    pub peers: Vec<PeerProgress>,
}

impl Replication {
    /// The progress of member `id`.
    pub fn peer(&self, id: u64) -> Option<&PeerProgress> {
        self.peers.iter().find(|p| p.id == id)
    }
}
