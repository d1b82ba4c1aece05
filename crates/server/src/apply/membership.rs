//! Applying membership requests: a member's published name and client URLs, new peer URLs
//! (`MemberUpdate`), and raft's conf changes (add, promote, remove). A conf change is checked
//! against the replicated membership by etcd's rules first; a refused one changes nothing,
//! on any member, and raft never sees it. An accepted one is recorded in the batch's backend
//! transaction and handed to raft in log order.

use prost::Message;

use oxcd_api::etcdserverpb::{Member, MemberUpdateRequest};
use oxcd_mvcc::ApplyBatch;
use oxcd_raft::{CommittedEntry, MemberChange};

use super::step::{Apply, ApplyContext, ApplyError};
use super::{ApplyLoop, Handover};
use crate::membership::{ChangeRequest, Removal};
use crate::proposal::{MemberAttributes, MemberChangeContext, Outcome};

impl Apply for MemberAttributes {
    fn apply(&self, cx: &mut ApplyContext<'_, '_>) -> Result<Outcome<()>, ApplyError> {
        cx.state
            .membership()
            .apply_attributes(cx.batch.tables(), self)
            .map_err(ApplyError::storage)?;
        Ok(Ok(()))
    }
}

impl Apply for MemberUpdateRequest {
    fn apply(&self, cx: &mut ApplyContext<'_, '_>) -> Result<Outcome<Vec<Member>>, ApplyError> {
        let membership = cx.state.membership();
        let change = ChangeRequest::Update {
            id: self.id,
            peer_urls: &self.peer_ur_ls,
        };
        if let Err(e) = membership.check(&change) {
            return Ok(Err(e));
        }
        membership
            .apply_change(cx.batch.tables(), &change, 0)
            .map_err(ApplyError::storage)?;
        tracing::info!(
            updated_remote_peer_id = %format!("{:x}", self.id),
            updated_remote_peer_urls = ?self.peer_ur_ls,
            "updated member"
        );
        Ok(Ok(membership.members()))
    }
}

impl ApplyLoop {
    /// Applies the conf change in `entry`: checks it, records it and hands it to raft, and
    /// keeps the member list after it (or the refusal) for its proposer.
    pub(super) fn apply_member_change(
        &self,
        batch: &mut ApplyBatch<'_>,
        entry: &CommittedEntry,
        handovers: &mut Vec<Handover>,
    ) -> Result<Removal, ApplyError> {
        let (change, context) = match entry.member_change() {
            Ok(decoded) => decoded,
            Err(e) => {
                // No member proposes such an entry; ignoring it everywhere keeps the members
                // in step.
                tracing::error!(index = entry.index, error = %e, "ignoring an undecodable conf change");
                return Ok(Removal::NotLocal);
            }
        };
        let context = MemberChangeContext::decode(context.as_slice()).unwrap_or_default();
        let mut added = context.member.clone().unwrap_or_default();
        let request = match change {
            MemberChange::AddVoter(id) if context.promote => ChangeRequest::Promote(id),
            MemberChange::AddVoter(id) | MemberChange::AddLearner(id) => {
                added.id = id;
                added.is_learner = matches!(change, MemberChange::AddLearner(_));
                ChangeRequest::Add(&added)
            }
            MemberChange::Remove(id) => ChangeRequest::Remove(id),
        };
        let membership = self.state.membership();
        let applied = match membership.check(&request) {
            Ok(()) => {
                let removal = membership
                    .apply_change(batch.tables(), &request, entry.index)
                    .map_err(ApplyError::storage)?;
                self.raft
                    .apply_conf_change(entry)
                    .map_err(ApplyError::raft)?;
                tracing::info!(
                    index = entry.index,
                    change = ?request,
                    "applied a configuration change through raft"
                );
                Ok(removal)
            }
            Err(refusal) => {
                tracing::warn!(
                    index = entry.index,
                    change = ?request,
                    error = %refusal.message(),
                    "rejected a configuration change"
                );
                Err(refusal)
            }
        };
        if let Some(proposer) = self.waiters.take::<MemberChangeContext>(context.id) {
            let outcome = match &applied {
                Ok(_) => Ok(membership.members()),
                Err(refusal) => Err(*refusal),
            };
            handovers.push(Box::new(move || {
                let _ = proposer.send(outcome);
            }));
        }
        Ok(applied.unwrap_or(Removal::NotLocal))
    }
}
