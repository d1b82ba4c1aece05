//! Rebuilding raft's durable state at start: creates the WAL and the initial snapshot for a
//! new cluster, or replays the WAL on top of the last snapshot, and works out where the
//! state machine stands relative to the log.
//!
//! A member with no data is bootstrapped; a member with data it cannot read is refused with
//! the damaged file and what to do, and its data dir is left exactly as it was: rebuilding it
//! would forget the member's term and vote (it could vote twice) and acknowledged entries.

use std::path::Path;
use std::sync::Arc;

use raft::prelude::{ConfState, Entry, EntryType, Snapshot, SnapshotMetadata};
use raft::storage::MemStorage;

use super::conf_history::ConfHistory;
use super::storage::NodeStorage;
use crate::apply::Apply;
use crate::config::RaftConfig;
use crate::error::RaftError;
use crate::snap::SnapStore;
use crate::state_machine::StateMachine;
use crate::wal::{self, Metadata, Wal, WalDir, WalOptions};

/// What the operator can do about a data dir that is refused.
const DAMAGE_ADVICE: &str = "the data dir was left untouched; restore it from a backup, or \
     remove this member from the cluster (member remove), delete its data dir and add it again \
     (member add)";

/// Whether `wal_dir` and `snap_dir` hold raft state (so the member restarts rather than
/// bootstraps) that can be read back, found without changing anything: the whole WAL is
/// replayed and the snapshot it starts after loaded, so a caller can refuse damaged data
/// before it opens (and so changes) anything else in the data dir, as the server does with
/// its backend. Damage is an error naming the damaged file and what the operator can do.
pub fn has_durable_state(wal_dir: &Path, snap_dir: &Path) -> Result<bool, RaftError> {
    if !found_durable_state(wal_dir, snap_dir)? {
        return Ok(false);
    }
    let (_, state) = Wal::read(wal_dir).map_err(with_advice)?;
    SnapStore::load_in(snap_dir, state.snapshot.index, state.snapshot.term).map_err(with_advice)?;
    Ok(true)
}

/// Whether `wal_dir` and `snap_dir` hold raft state, from the names of the files alone.
/// Damage that makes this undecidable — a gap in the WAL's segments, snapshots without a
/// WAL — is an error naming the damaged file.
fn found_durable_state(wal_dir: &Path, snap_dir: &Path) -> Result<bool, RaftError> {
    let found = (|| {
        let snaps = SnapStore::durable_files(snap_dir)?;
        let initial = SnapStore::metadata_path_in(snap_dir, 0, 0);
        match wal::inspect(wal_dir)? {
            WalDir::Segments => Ok(true),
            WalDir::Empty if snaps.is_empty() => Ok(false),
            // The initial snapshot is saved just before the first segment is renamed into
            // place, so with that segment's temporary file it is an interrupted bootstrap.
            WalDir::CreationInterrupted if snaps.iter().all(|f| *f == initial) => Ok(false),
            _ => Err(RaftError::corrupt(
                wal_dir,
                0,
                format!(
                    "the WAL directory holds no WAL segment but the snapshot directory holds \
                     {}: the WAL was removed or lost",
                    snaps
                        .first()
                        .map_or_else(String::new, |f| f.display().to_string())
                ),
            )),
        }
    })();
    found.map_err(with_advice)
}

/// Adds what the operator can do to a damage report.
fn with_advice(err: RaftError) -> RaftError {
    match err {
        RaftError::Corrupt {
            file,
            offset,
            reason,
        } => RaftError::Corrupt {
            file,
            offset,
            reason: format!("{reason}; {DAMAGE_ADVICE}"),
        },
        other => other,
    }
}

/// Durable state, restored.
pub(super) struct Restored {
    pub wal: Wal,
    pub snaps: SnapStore,
    pub storage: NodeStorage,
    /// Index raft starts applying after.
    pub applied: u64,
    /// Index of the last snapshot.
    pub snapshot_index: u64,
    /// A received snapshot database the state machine has not durably applied yet.
    pub pending_snapshot: Option<Apply>,
    /// Conf-change entries at or below `applied`, which raft must re-apply to know the
    /// current membership.
    pub conf_changes: Vec<Entry>,
}

pub(super) fn restore(
    cfg: &RaftConfig,
    sm: &Arc<dyn StateMachine>,
    runtime: tokio::runtime::Handle,
) -> Result<Restored, RaftError> {
    let identity = Metadata {
        member_id: cfg.id,
        cluster_id: cfg.cluster_id,
    };
    let opts = WalOptions {
        unsafe_no_fsync: cfg.unsafe_no_fsync,
        max_wals: cfg.max_wals,
        ..WalOptions::default()
    };
    let (wal, state, snap_meta, snaps) = if found_durable_state(&cfg.wal_dir, &cfg.snap_dir)? {
        // Everything is read and checked before anything is changed: only a torn tail that
        // was never acknowledged is ever cut, and only once the rest is known good.
        let recovery = Wal::recover(&cfg.wal_dir, identity).map_err(with_advice)?;
        let marker = recovery.state().snapshot;
        let meta =
            SnapStore::load_in(&cfg.snap_dir, marker.index, marker.term).map_err(with_advice)?;
        let durable = sm.durable_applied_index();
        let db_path = SnapStore::received_db_path_in(&cfg.snap_dir, marker.index);
        if durable < marker.index && !db_path.exists() {
            return Err(with_advice(RaftError::corrupt(
                &db_path,
                0,
                format!(
                    "state machine is at applied index {durable}, behind the snapshot at \
                     {}, and the snapshot database is missing",
                    marker.index
                ),
            )));
        }
        let (mut wal, mut state) = recovery.open(opts)?;
        if cfg.force_new_cluster {
            // The membership the state machine recorded is the newest committed one, unless
            // a snapshot database is still to be applied (then the snapshot's is).
            let recorded = (durable >= marker.index).then(|| sm.conf_state()).flatten();
            let (members, members_index) = match recorded {
                Some(conf) => (conf.to_raft(), durable),
                None => (meta.get_conf_state().clone(), marker.index),
            };
            super::standalone::rewrite_as_standalone(
                cfg.id,
                &mut wal,
                &mut state,
                &members,
                members_index,
                durable,
            )?;
        }
        (wal, state, meta, SnapStore::open(&cfg.snap_dir)?)
    } else {
        tracing::info!(
            member_id = %format!("{:x}", cfg.id),
            cluster_id = %format!("{:x}", cfg.cluster_id),
            voters = ?cfg.initial_voters,
            "starting a new raft log"
        );
        let snaps = SnapStore::open(&cfg.snap_dir)?;
        let mut meta = SnapshotMetadata::default();
        meta.set_conf_state(ConfState {
            voters: cfg.initial_voters.clone(),
            ..Default::default()
        });
        let wal = Wal::create_with(&cfg.wal_dir, identity, opts, || snaps.save(&meta).map(drop))?;
        (wal, Default::default(), meta, snaps)
    };

    let mem = MemStorage::new();
    let (snap_index, snap_term) = (snap_meta.index, snap_meta.term);
    let conf = ConfHistory::new(snap_index, snap_meta.get_conf_state().clone());
    if snap_index == 0 {
        mem.wl().set_conf_state(snap_meta.get_conf_state().clone());
    } else {
        let mut snap = Snapshot::default();
        snap.set_metadata(snap_meta);
        mem.wl().apply_snapshot(snap).map_err(RaftError::raft)?;
    }
    mem.wl().append(&state.entries).map_err(RaftError::raft)?;
    let last_index = state.entries.last().map_or(snap_index, |e| e.index);
    let mut hs = state.hard_state;
    // The snapshot is committed by definition; the hard state written with it may be older.
    hs.commit = hs.commit.clamp(snap_index, last_index);
    hs.term = hs.term.max(snap_term);
    mem.wl().set_hardstate(hs.clone());

    let durable = sm.durable_applied_index();
    let mut pending_snapshot = None;
    if durable < snap_index {
        // Checked to exist before anything was changed (a new log starts at index 0).
        pending_snapshot = Some(Apply::Snapshot {
            index: snap_index,
            term: snap_term,
            db_path: snaps.received_db_path(snap_index),
        });
    }
    let applied = durable.clamp(snap_index, hs.commit);
    // A state machine that records the membership it accepted gives it as of `durable`,
    // which is at least the log's snapshot unless a snapshot database is still to be applied
    // (then the snapshot's metadata is newer).
    let recorded = if pending_snapshot.is_none() {
        sm.conf_state()
    } else {
        None
    };
    let (conf, conf_changes) = match recorded {
        Some(recorded) => {
            let cs = recorded.to_raft();
            mem.wl().set_conf_state(cs.clone());
            (ConfHistory::new(applied, cs), Vec::new())
        }
        None => {
            let replay = state
                .entries
                .iter()
                .filter(|e| e.index <= applied && e.get_entry_type() != EntryType::EntryNormal)
                .cloned()
                .collect();
            (conf, replay)
        }
    };
    tracing::info!(
        member_id = %format!("{:x}", cfg.id),
        snapshot_index = snap_index,
        first_index = snap_index + 1,
        last_index,
        commit = hs.commit,
        term = hs.term,
        applied,
        "restored raft log"
    );
    let storage = NodeStorage::new(
        mem,
        (snap_index, snap_term),
        conf,
        sm.clone(),
        snaps.clone(),
        runtime,
    );
    Ok(Restored {
        wal,
        snaps,
        storage,
        applied,
        snapshot_index: snap_index,
        pending_snapshot,
        conf_changes,
    })
}
