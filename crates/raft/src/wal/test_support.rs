//! What the WAL's unit tests share: a member's metadata, entries and hard states to write,
//! what was read back, in a form assertions can compare, and the shortcuts into a [`Wal`]
//! that only tests take (the node creates and opens its WAL in steps, see `node/bootstrap`).

use std::path::Path;

use raft::prelude::{Entry, HardState};

use super::{Metadata, Segment, Wal, WalOptions, WalState};
use crate::error::RaftError;

impl Wal {
    /// Creates a new WAL in `dir` (created if missing) for `metadata`.
    pub(crate) fn create(
        dir: &Path,
        metadata: Metadata,
        opts: WalOptions,
    ) -> Result<Wal, RaftError> {
        Wal::create_with(dir, metadata, opts, || Ok(()))
    }

    /// Opens the WAL in `dir`, replays it, checks it belongs to `metadata`'s member and
    /// cluster, cuts off a torn tail and positions it for appending.
    pub(crate) fn open(
        dir: &Path,
        metadata: Metadata,
        opts: WalOptions,
    ) -> Result<(Wal, WalState), RaftError> {
        Wal::recover(dir, metadata)?.open(opts)
    }

    /// The live segments, oldest first.
    pub(super) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Index of the last entry logged (or of the snapshot when the log is empty).
    pub(super) fn last_index(&self) -> u64 {
        self.last_index
    }
}

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
