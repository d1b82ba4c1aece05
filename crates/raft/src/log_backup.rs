//! The raft half of an offline backup (`oxutl backup`, etcdutl's legacy `backup`): a stopped
//! member's log and snapshot metadata, copied into a new data dir under a new identity so the
//! copy starts as a cluster of one.
//!
//! The source is only read. The copy keeps every committed entry at its index and term, so
//! the backend copied beside it (whose consistent index points into this log) replays exactly
//! the entries it had not applied yet; entries the caller rejects (membership changes of the
//! old cluster) become empty entries, which the state machine skips as it skips a leader's
//! no-op. The uncommitted tail is dropped: no quorum of the old cluster will ever commit it,
//! and a cluster of one would commit it at once (as `--force-new-cluster` drops it). The
//! snapshot the log starts after records the new member as the only voter, and the WAL is
//! written for the new member and cluster ids.

use std::path::{Path, PathBuf};

use raft::prelude::{ConfState, Entry, EntryType, SnapshotMetadata};

use crate::apply::CommittedEntry;
use crate::error::RaftError;
use crate::snap::SnapStore;
use crate::wal::{self, Metadata, Wal, WalDir, WalOptions, WalState};

/// Entries written per WAL record, so a long log rolls into segments as a member's would.
const ENTRIES_PER_RECORD: usize = 1024;

/// A stopped member's raft log, read and checked, nothing in it changed.
pub struct SourceLog {
    snap_dir: PathBuf,
    state: WalState,
    snapshot: SnapshotMetadata,
}

/// What [`SourceLog::write_backup`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBackup {
    /// Index of the snapshot the copied log starts after (0: it starts at the first entry).
    pub snapshot_index: u64,
    /// The commit index of the copy: the source's, or what its backend applied if more.
    pub commit: u64,
    /// The term of the copy's hard state.
    pub term: u64,
    /// Entries copied (emptied ones included).
    pub entries: usize,
    /// Uncommitted entries left out.
    pub dropped_uncommitted: usize,
}

impl SourceLog {
    /// Reads the WAL in `wal_dir` and the snapshot metadata it starts after in `snap_dir`,
    /// refusing a directory with no WAL and damaged files (naming them) as a restart would.
    /// A torn tail is ignored, as a restart would cut it.
    pub fn read(wal_dir: &Path, snap_dir: &Path) -> Result<SourceLog, RaftError> {
        if wal::inspect(wal_dir)? != WalDir::Segments {
            return Err(RaftError::InvalidConfig(format!(
                "no WAL in {}: not the data dir of a member that has started",
                wal_dir.display()
            )));
        }
        let (_, state) = Wal::read(wal_dir)?;
        let snapshot = SnapStore::load_in(snap_dir, state.snapshot.index, state.snapshot.term)?;
        Ok(SourceLog {
            snap_dir: snap_dir.to_path_buf(),
            state,
            snapshot,
        })
    }

    /// Index of the snapshot the log starts after.
    pub fn snapshot_index(&self) -> u64 {
        self.state.snapshot.index
    }

    /// Where the member keeps the database of that snapshot if it received it from a leader
    /// and may not have applied it yet (the file need not exist).
    pub fn snapshot_db(&self) -> PathBuf {
        SnapStore::received_db_path_in(&self.snap_dir, self.state.snapshot.index)
    }

    /// Writes the copy into `wal_dir` and `snap_dir` (created; no WAL may be there) for the
    /// single voter `member_id` of cluster `cluster_id`. `applied` is the index the backend
    /// copied beside it has applied (entries up to it count as committed); `keep` sees each
    /// committed entry and says whether it stays or becomes an empty entry.
    pub fn write_backup(
        self,
        wal_dir: &Path,
        snap_dir: &Path,
        (member_id, cluster_id): (u64, u64),
        applied: u64,
        mut keep: impl FnMut(&CommittedEntry) -> bool,
    ) -> Result<LogBackup, RaftError> {
        let SourceLog {
            state,
            mut snapshot,
            ..
        } = self;
        let WalState {
            mut hard_state,
            snapshot: marker,
            mut entries,
        } = state;
        let last = entries.last().map_or(marker.index, |e| e.index);
        let commit = hard_state.commit.max(applied.min(last)).max(marker.index);
        let dropped_uncommitted = entries.iter().filter(|e| e.index > commit).count();
        entries.retain(|e| e.index <= commit);
        for entry in &mut entries {
            if !keep(&CommittedEntry::from_raft(entry.clone())) {
                *entry = empty_entry(entry.index, entry.term);
            }
        }
        hard_state.commit = commit;

        snapshot.set_conf_state(ConfState {
            voters: vec![member_id],
            ..Default::default()
        });
        let snaps = SnapStore::open(snap_dir)?;
        let identity = Metadata {
            member_id,
            cluster_id,
        };
        let mut wal = Wal::create_with(wal_dir, identity, WalOptions::default(), || {
            snaps.save(&snapshot).map(drop)
        })?;
        if marker.index > 0 {
            wal.append_snapshot_marker(marker);
        }
        for chunk in entries.chunks(ENTRIES_PER_RECORD) {
            wal.append_entries(chunk);
            wal.commit()?;
        }
        wal.append_hard_state(&hard_state);
        wal.sync()?;
        Ok(LogBackup {
            snapshot_index: marker.index,
            commit,
            term: hard_state.term,
            entries: entries.len(),
            dropped_uncommitted,
        })
    }
}

/// An entry that changes nothing, at `index` and `term`: what a new leader appends.
fn empty_entry(index: u64, term: u64) -> Entry {
    let mut entry = Entry::default();
    entry.set_entry_type(EntryType::EntryNormal);
    entry.index = index;
    entry.term = term;
    entry
}

#[cfg(test)]
mod tests {
    use raft::prelude::HardState;

    use super::*;
    use crate::apply::EntryKind;
    use crate::wal::SnapshotMarker;

    fn entry(index: u64, term: u64, kind: EntryType, data: &[u8]) -> Entry {
        let mut e = Entry::default();
        e.set_entry_type(kind);
        e.index = index;
        e.term = term;
        e.data = data.to_vec().into();
        e
    }

    /// A member's WAL and snapshot dir: snapshot at (`snap_index`, 1), entries after it up
    /// to 10 (a conf change at 7, the others carrying their index), committed through 8.
    fn source(dir: &Path, snap_index: u64) -> (PathBuf, PathBuf) {
        let (wal_dir, snap_dir) = (dir.join("wal"), dir.join("snap"));
        let snaps = SnapStore::open(&snap_dir).unwrap();
        let mut meta = SnapshotMetadata::default();
        meta.set_conf_state(ConfState {
            voters: vec![1, 2, 3],
            ..Default::default()
        });
        let mut wal = Wal::create_with(
            &wal_dir,
            Metadata {
                member_id: 1,
                cluster_id: 9,
            },
            WalOptions::default(),
            || snaps.save(&meta).map(drop),
        )
        .unwrap();
        if snap_index > 0 {
            meta.index = snap_index;
            meta.term = 1;
            snaps.save(&meta).unwrap();
            wal.append_snapshot_marker(SnapshotMarker {
                index: snap_index,
                term: 1,
            });
        }
        let entries: Vec<Entry> = (snap_index + 1..=10)
            .map(|i| match i {
                7 => entry(i, 2, EntryType::EntryConfChangeV2, b"cc"),
                _ => entry(i, 2, EntryType::EntryNormal, &[i as u8]),
            })
            .collect();
        wal.append_entries(&entries);
        wal.append_hard_state(&HardState {
            term: 2,
            vote: 2,
            commit: 8,
            ..Default::default()
        });
        wal.sync().unwrap();
        (wal_dir, snap_dir)
    }

    #[test]
    fn committed_entries_keep_their_places_and_rejected_ones_are_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let (src_wal, src_snap) = source(dir.path(), 0);
        let before = std::fs::read_dir(&src_wal).unwrap().count();
        let (dest_wal, dest_snap) = (dir.path().join("b/wal"), dir.path().join("b/snap"));
        let log = SourceLog::read(&src_wal, &src_snap).unwrap();
        let mut seen = Vec::new();
        let report = log
            .write_backup(&dest_wal, &dest_snap, (5, 6), 3, |e| {
                seen.push(e.index);
                !(e.kind != EntryKind::Normal || e.data == [4])
            })
            .unwrap();
        assert_eq!(seen, (1..=8).collect::<Vec<_>>());
        assert_eq!(
            report,
            LogBackup {
                snapshot_index: 0,
                commit: 8,
                term: 2,
                entries: 8,
                dropped_uncommitted: 2,
            }
        );
        assert_eq!(std::fs::read_dir(&src_wal).unwrap().count(), before);

        let (metadata, state) = Wal::read(&dest_wal).unwrap();
        assert_eq!(
            metadata,
            Metadata {
                member_id: 5,
                cluster_id: 6
            }
        );
        assert_eq!(state.hard_state.commit, 8);
        assert_eq!(state.hard_state.term, 2);
        let kept: Vec<(u64, u64, Vec<u8>)> = state
            .entries
            .iter()
            .map(|e| (e.index, e.term, e.data.to_vec()))
            .collect();
        let expected: Vec<(u64, u64, Vec<u8>)> = (1..=8)
            .map(|i| match i {
                4 | 7 => (i, 2, Vec::new()),
                _ => (i, 2, vec![i as u8]),
            })
            .collect();
        assert_eq!(kept, expected);
        assert!(
            state
                .entries
                .iter()
                .all(|e| e.get_entry_type() == EntryType::EntryNormal)
        );
        let meta = SnapStore::load_in(&dest_snap, 0, 0).unwrap();
        assert_eq!(meta.get_conf_state().voters, vec![5]);
    }

    #[test]
    fn a_log_after_a_snapshot_starts_after_it_in_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let (src_wal, src_snap) = source(dir.path(), 5);
        let log = SourceLog::read(&src_wal, &src_snap).unwrap();
        assert_eq!(log.snapshot_index(), 5);
        assert_eq!(log.snapshot_db(), src_snap.join("0000000000000005.snap.db"));
        let (dest_wal, dest_snap) = (dir.path().join("b/wal"), dir.path().join("b/snap"));
        // The backend applied past the hard state's commit: those entries were committed.
        let report = log
            .write_backup(&dest_wal, &dest_snap, (5, 6), 9, |_| true)
            .unwrap();
        assert_eq!(report.commit, 9);
        assert_eq!(report.dropped_uncommitted, 1);
        let (_, state) = Wal::read(&dest_wal).unwrap();
        assert_eq!(state.snapshot, SnapshotMarker { index: 5, term: 1 });
        assert_eq!(
            state.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
            vec![6, 7, 8, 9]
        );
        let meta = SnapStore::load_in(&dest_snap, 5, 1).unwrap();
        assert_eq!(meta.get_conf_state().voters, vec![5]);
    }

    #[test]
    fn a_dir_without_a_wal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = SourceLog::read(&dir.path().join("wal"), &dir.path().join("snap"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("no WAL in"), "{err}");
    }
}
