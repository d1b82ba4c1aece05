//! Rebuilding raft's durable state at start: creates the WAL and the initial snapshot for a
//! new cluster, or replays the WAL on top of the last snapshot, and works out where the
//! state machine stands relative to the log.

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
use crate::wal::{Metadata, Wal, WalOptions};

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
    let snaps = SnapStore::open(&cfg.snap_dir)?;
    let identity = Metadata {
        member_id: cfg.id,
        cluster_id: cfg.cluster_id,
    };
    let (wal, state, snap_meta) = if Wal::exists(&cfg.wal_dir) {
        let (wal, state) = Wal::open(&cfg.wal_dir, identity, WalOptions::default())?;
        let meta = snaps.load(state.snapshot.index, state.snapshot.term)?;
        (wal, state, meta)
    } else {
        tracing::info!(
            member_id = %format!("{:x}", cfg.id),
            cluster_id = %format!("{:x}", cfg.cluster_id),
            voters = ?cfg.initial_voters,
            "starting a new raft log"
        );
        let mut meta = SnapshotMetadata::default();
        meta.set_conf_state(ConfState {
            voters: cfg.initial_voters.clone(),
            ..Default::default()
        });
        // The initial membership is saved before the WAL exists, so a crash in between just
        // starts over as a new cluster.
        snaps.save(&meta)?;
        let wal = Wal::create(&cfg.wal_dir, identity, WalOptions::default())?;
        (wal, Default::default(), meta)
    };

    let mem = MemStorage::new();
    let (snap_index, snap_term) = (snap_meta.index, snap_meta.term);
    let conf = ConfHistory::new(snap_index, snap_meta.get_conf_state().clone());
    if snap_index == 0 {
        mem.wl().set_conf_state(snap_meta.get_conf_state().clone());
    } else {
        let mut snap = Snapshot::default();
        snap.set_metadata(snap_meta);
        mem.wl().apply_snapshot(snap)?;
    }
    mem.wl().append(&state.entries)?;
    let last_index = state.entries.last().map_or(snap_index, |e| e.index);
    let mut hs = state.hard_state;
    // The snapshot is committed by definition; the hard state written with it may be older.
    hs.commit = hs.commit.clamp(snap_index, last_index);
    hs.term = hs.term.max(snap_term);
    mem.wl().set_hardstate(hs.clone());

    let durable = sm.durable_applied_index();
    let mut pending_snapshot = None;
    if durable < snap_index {
        let db_path = snaps.received_db_path(snap_index);
        if !db_path.exists() {
            return Err(RaftError::corrupt(
                &db_path,
                0,
                format!(
                    "state machine is at applied index {durable}, behind the snapshot at \
                     {snap_index}, and the snapshot database is missing"
                ),
            ));
        }
        pending_snapshot = Some(Apply::Snapshot {
            index: snap_index,
            term: snap_term,
            db_path,
        });
    }
    let applied = durable.clamp(snap_index, hs.commit);
    let conf_changes = state
        .entries
        .iter()
        .filter(|e| e.index <= applied && e.get_entry_type() != EntryType::EntryNormal)
        .cloned()
        .collect();
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
