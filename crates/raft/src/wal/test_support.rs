//! What the WAL's unit tests share: a member's metadata, entries and hard states to write,
//! and what was read back, in a form assertions can compare.

use raft::prelude::{Entry, HardState};

use super::{Metadata, WalOptions, WalState};

pub(super) const META: Metadata = Metadata {
    member_id: 7,
    cluster_id: 99,
};

pub(super) fn entry(index: u64, term: u64, data: &str) -> Entry {
    Entry {
        index,
        term,
        data: bytes::Bytes::copy_from_slice(data.as_bytes()),
        ..Default::default()
    }
}

pub(super) fn hard_state(term: u64, vote: u64, commit: u64) -> HardState {
    HardState {
        term,
        vote,
        commit,
        ..Default::default()
    }
}

/// Default options with segments of `segment_size` bytes.
pub(super) fn options(segment_size: u64) -> WalOptions {
    WalOptions {
        segment_size,
        ..WalOptions::default()
    }
}

/// The entries read back, as (index, term, data).
pub(super) fn entries_of(state: &WalState) -> Vec<(u64, u64, String)> {
    state
        .entries
        .iter()
        .map(|e| {
            (
                e.index,
                e.term,
                String::from_utf8_lossy(&e.data).into_owned(),
            )
        })
        .collect()
}
