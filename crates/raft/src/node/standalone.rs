//! `--force-new-cluster`: restarting one surviving member as a cluster of its own, as etcd's
//! `restartAsStandaloneNode` does. The log's uncommitted tail is discarded (no quorum will ever
//! commit it now) and committed conf changes are appended that remove every other member (and
//! promote this one if it is a learner). They reach the state machine like any conf change, so
//! the removed members are recorded as removed and never come back with their old ids.

use raft::prelude::{ConfState, Entry, EntryType};

use crate::apply::CommittedEntry;
use crate::error::RaftError;
use crate::member_change::MemberChange;
use crate::wal::{Wal, WalState};

/// Rewrites the restored log of member `id` so that it forms a cluster alone: `members` is
/// the configuration in force at `members_index`; conf changes committed after it are taken
/// into account. Entries up to `applied` (what the state machine holds) count as committed
/// even if the hard state's commit index lags behind. The new entries are written to `wal`
/// (durably) and to `state`.
pub(super) fn rewrite_as_standalone(
    id: u64,
    wal: &mut Wal,
    state: &mut WalState,
    members: &ConfState,
    members_index: u64,
    applied: u64,
) -> Result<(), RaftError> {
    let last = state
        .entries
        .last()
        .map_or(state.snapshot.index, |e| e.index);
    let commit = state.hard_state.commit.max(applied.min(last));
    let (mut voters, mut learners) = (members.voters.clone(), members.learners.clone());
    for entry in state
        .entries
        .iter()
        .filter(|e| e.index > members_index && e.index <= commit)
        .filter(|e| e.get_entry_type() != EntryType::EntryNormal)
    {
        match CommittedEntry::from_raft(entry.clone()).member_change()?.0 {
            MemberChange::AddVoter(m) => {
                learners.retain(|l| *l != m);
                voters.push(m);
            }
            MemberChange::AddLearner(m) => learners.push(m),
            MemberChange::Remove(m) => {
                voters.retain(|v| *v != m);
                learners.retain(|l| *l != m);
            }
        }
    }
    if !voters.contains(&id) {
        return Err(RaftError::InvalidConfig(format!(
            "--force-new-cluster: member {id:x} is not a voting member of its cluster (a learner, or removed); only a voter can continue the cluster alone"
        )));
    }
    let mut others: Vec<u64> = voters
        .iter()
        .chain(&learners)
        .copied()
        .filter(|m| *m != id)
        .collect();
    others.sort_unstable();
    others.dedup();
    if others.is_empty() {
        tracing::info!(member_id = %format!("{id:x}"), "--force-new-cluster: already the only member");
        return Ok(());
    }
    let discarded = state.entries.iter().filter(|e| e.index > commit).count();
    state.entries.retain(|e| e.index <= commit);
    let term = state.hard_state.term;
    let mut index = commit;
    let mut appended = Vec::with_capacity(others.len());
    for other in others {
        index += 1;
        let cc = MemberChange::Remove(other).to_raft();
        let mut entry = Entry::default();
        entry.set_entry_type(EntryType::EntryConfChangeV2);
        entry.index = index;
        entry.term = term;
        entry.data = protobuf::Message::write_to_bytes(&cc)
            .map_err(|e| RaftError::InvalidConfig(format!("encoding a conf change: {e}")))?
            .into();
        appended.push(entry);
    }
    state.hard_state.commit = index;
    wal.append_entries(&appended);
    wal.append_hard_state(&state.hard_state);
    wal.sync()?;
    tracing::warn!(
        member_id = %format!("{id:x}"),
        discarded_uncommitted_entries = discarded,
        removed_members = appended.len(),
        commit_index = index,
        "forcing a new cluster: this member alone from now on"
    );
    state.entries.extend(appended);
    Ok(())
}
