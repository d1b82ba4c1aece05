//! [`MemberChange`]: a membership change as callers propose it, kept apart from raft-rs's
//! conf-change messages, which stay inside this crate.

use raft::prelude::{ConfChangeSingle, ConfChangeType, ConfChangeV2};

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
}
