//! [`MemberChange`]: a membership change as callers propose it, kept apart from raft-rs's
//! conf-change messages, which stay inside this crate.

use protobuf::Message as _;
use raft::prelude::{ConfChange, ConfChangeSingle, ConfChangeType, ConfChangeV2};

use crate::apply::{CommittedEntry, EntryKind};
use crate::error::RaftError;

/// One change to the raft configuration. Each is proposed on its own (an ordinary conf
/// change, never joint consensus), as etcd's member API does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    /// Adds a voting member, or promotes a learner to one.
    AddVoter(u64),
    /// Adds a non-voting member that receives the log.
    AddLearner(u64),
    /// Removes a member.
    Remove(u64),
}

impl MemberChange {
    /// raft-rs's form of the change: a single-change `ConfChangeV2`.
    pub(crate) fn to_raft(self) -> ConfChangeV2 {
        let (kind, node_id) = match self {
            MemberChange::AddVoter(id) => (ConfChangeType::AddNode, id),
            MemberChange::AddLearner(id) => (ConfChangeType::AddLearnerNode, id),
            MemberChange::Remove(id) => (ConfChangeType::RemoveNode, id),
        };
        let mut single = ConfChangeSingle::default();
        single.set_change_type(kind);
        single.node_id = node_id;
        let mut cc = ConfChangeV2::default();
        cc.set_changes(vec![single].into());
        cc
    }

    fn from_single(kind: ConfChangeType, node_id: u64) -> MemberChange {
        match kind {
            ConfChangeType::AddNode => MemberChange::AddVoter(node_id),
            ConfChangeType::AddLearnerNode => MemberChange::AddLearner(node_id),
            ConfChangeType::RemoveNode => MemberChange::Remove(node_id),
        }
    }
}

impl CommittedEntry {
    /// The membership change a committed conf-change entry carries, with the context its
    /// proposer attached. Entries this crate's handle proposes always hold exactly one
    /// change; anything else (a normal entry, joint consensus, a malformed payload) is an
    /// error.
    pub fn member_change(&self) -> Result<(MemberChange, Vec<u8>), RaftError> {
        let malformed = |why: String| {
            RaftError::InvalidConfig(format!("conf change at index {}: {why}", self.index))
        };
        match self.kind {
            EntryKind::Normal => Err(malformed("not a conf-change entry".into())),
            EntryKind::ConfChange => {
                let cc = ConfChange::parse_from_bytes(&self.data)
                    .map_err(|e| malformed(e.to_string()))?;
                let change = MemberChange::from_single(cc.get_change_type(), cc.node_id);
                Ok((change, cc.get_context().to_vec()))
            }
            EntryKind::ConfChangeV2 => {
                let cc = ConfChangeV2::parse_from_bytes(&self.data)
                    .map_err(|e| malformed(e.to_string()))?;
                let [single] = cc.get_changes() else {
                    return Err(malformed(format!(
                        "{} changes in one entry; oxcd proposes exactly one",
                        cc.get_changes().len()
                    )));
                };
                let change = MemberChange::from_single(single.get_change_type(), single.node_id);
                Ok((change, cc.get_context().to_vec()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use raft::prelude::ConfChangeTransition;

    use super::*;

    #[test]
    fn a_change_is_one_single_change_without_joint_consensus() {
        let cc = MemberChange::AddLearner(4).to_raft();
        assert_eq!(cc.get_transition(), ConfChangeTransition::Auto);
        assert_eq!(cc.get_changes().len(), 1);
        assert_eq!(
            cc.get_changes()[0].get_change_type(),
            ConfChangeType::AddLearnerNode
        );
        assert_eq!(cc.get_changes()[0].node_id, 4);
        assert!(
            cc.enter_joint().is_none(),
            "a single change needs no joint config"
        );
        let kinds = [
            (MemberChange::AddVoter(2), ConfChangeType::AddNode),
            (MemberChange::Remove(3), ConfChangeType::RemoveNode),
        ];
        for (change, kind) in kinds {
            assert_eq!(change.to_raft().get_changes()[0].get_change_type(), kind);
        }
    }

    #[test]
    fn a_committed_change_decodes_back_with_its_context() {
        for change in [
            MemberChange::AddVoter(2),
            MemberChange::AddLearner(3),
            MemberChange::Remove(4),
        ] {
            let mut cc = change.to_raft();
            cc.set_context(b"ctx".to_vec().into());
            let entry = CommittedEntry {
                index: 9,
                term: 2,
                kind: EntryKind::ConfChangeV2,
                data: cc.write_to_bytes().expect("encode"),
            };
            assert_eq!(
                entry.member_change().expect("decode"),
                (change, b"ctx".to_vec())
            );
        }
        let normal = CommittedEntry {
            index: 9,
            term: 2,
            kind: EntryKind::Normal,
            data: Vec::new(),
        };
        assert!(normal.member_change().is_err());
    }
}
