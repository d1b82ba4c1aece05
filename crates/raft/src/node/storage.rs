//! The log storage raft-rs reads from: raft-rs's in-memory `MemStorage` (filled from the WAL at
//! start and kept in step by the ready loop), plus two things it lacks: the term at the
//! compaction boundary, and snapshots made from the state machine in the background for
//! lagging followers.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use raft::prelude::{ConfState, Entry, Snapshot, SnapshotMetadata};
use raft::storage::MemStorage;
use raft::{GetEntriesContext, RaftState, Storage, StorageError};

use super::conf_history::ConfHistory;
use crate::snap::SnapStore;
use crate::state_machine::StateMachine;

/// A state-machine copy made for followers. Its ConfState is looked up only when it is sent:
/// the copy may hold entries the ready loop has not heard applied yet, and so conf changes
/// it has not recorded yet.
#[derive(Debug, Clone)]
struct Generated {
    index: u64,
    term: u64,
    path: PathBuf,
}

impl Generated {
    /// The snapshot raft sends for this copy, with the membership in force at its index.
    fn snapshot(&self, cs: ConfState) -> Snapshot {
        let mut meta = SnapshotMetadata {
            index: self.index,
            term: self.term,
            ..Default::default()
        };
        meta.set_conf_state(cs);
        let mut snap = Snapshot::default();
        snap.set_metadata(meta);
        snap
    }
}

#[derive(Debug, Default)]
enum GenState {
    #[default]
    Idle,
    Generating,
    Ready(Generated),
}

/// State shared between raft (ready loop) and background snapshot generation.
struct Shared {
    mem: MemStorage,
    /// (index, term) of the last compacted entry, so `term(first_index - 1)` keeps working.
    boundary: Mutex<(u64, u64)>,
    conf: Mutex<ConfHistory>,
    generation: Mutex<GenState>,
    attempts: AtomicU64,
    sm: Arc<dyn StateMachine>,
    snaps: SnapStore,
    runtime: tokio::runtime::Handle,
}

/// Storage handed to raft-rs. Cloning shares it.
#[derive(Clone)]
pub(super) struct NodeStorage {
    shared: Arc<Shared>,
}

impl NodeStorage {
    /// Wraps `mem`, whose snapshot point is `boundary` and membership history `conf`.
    pub(super) fn new(
        mem: MemStorage,
        boundary: (u64, u64),
        conf: ConfHistory,
        sm: Arc<dyn StateMachine>,
        snaps: SnapStore,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        NodeStorage {
            shared: Arc::new(Shared {
                mem,
                boundary: Mutex::new(boundary),
                conf: Mutex::new(conf),
                generation: Mutex::new(GenState::Idle),
                attempts: AtomicU64::new(0),
                sm,
                snaps,
                runtime,
            }),
        }
    }

    /// The underlying in-memory log.
    pub(super) fn mem(&self) -> &MemStorage {
        &self.shared.mem
    }

    /// Records a conf change applied at `index`.
    pub(super) fn record_conf_state(&self, index: u64, cs: ConfState) {
        self.shared.mem.wl().set_conf_state(cs.clone());
        self.shared.conf.lock().record(index, cs);
    }

    /// Notes that the apply loop applied everything up to `index`, so every conf change at
    /// or below it has been recorded.
    pub(super) fn conf_complete_through(&self, index: u64) {
        self.shared.conf.lock().complete_through(index);
    }

    /// The ConfState in force at `index`, which must be applied already.
    pub(super) fn conf_state_at(&self, index: u64) -> ConfState {
        self.shared.conf.lock().at(index)
    }

    /// The ConfState in force now, and the index of the entry (or snapshot) it comes from.
    pub(super) fn latest_conf_state(&self) -> (u64, ConfState) {
        let conf = self.shared.conf.lock();
        (conf.latest_index(), conf.latest())
    }

    /// Installs a snapshot received from the leader: the log restarts after it.
    pub(super) fn apply_snapshot(&self, snap: Snapshot) -> raft::Result<()> {
        let meta = snap.get_metadata();
        let (index, term, cs) = (meta.index, meta.term, meta.get_conf_state().clone());
        self.shared.mem.wl().apply_snapshot(snap)?;
        *self.shared.boundary.lock() = (index, term);
        *self.shared.conf.lock() = ConfHistory::new(index, cs);
        Ok(())
    }

    /// Drops entries before `compact_to` (exclusive), remembering the boundary term; and
    /// forgets membership history superseded before `snapshot_index`.
    pub(super) fn compact(&self, compact_to: u64, snapshot_index: u64) -> raft::Result<()> {
        let first = self.first_index()?;
        if compact_to > first {
            let boundary_term = self.term(compact_to - 1)?;
            self.shared.mem.wl().compact(compact_to)?;
            *self.shared.boundary.lock() = (compact_to - 1, boundary_term);
        }
        self.shared.conf.lock().compact(snapshot_index);
        Ok(())
    }

    /// Starts making a state-machine copy for followers in the background.
    fn start_generation(&self) {
        let this = self.clone();
        self.shared.runtime.spawn_blocking(move || {
            let outcome = this.generate();
            let mut state = this.shared.generation.lock();
            *state = match outcome {
                Ok(generated) => {
                    tracing::info!(
                        index = generated.index,
                        term = generated.term,
                        "created a state-machine snapshot to send to a follower"
                    );
                    if let GenState::Ready(old) = &*state
                        && old.path != generated.path
                    {
                        let _ = fs::remove_file(&old.path);
                    }
                    GenState::Ready(generated)
                }
                Err(e) => {
                    tracing::error!(error = %e, "failed to create a snapshot for a follower");
                    GenState::Idle
                }
            };
        });
    }

    fn generate(&self) -> std::io::Result<Generated> {
        let shared = &self.shared;
        let attempt = shared.attempts.fetch_add(1, Ordering::Relaxed);
        let tmp = shared.snaps.generating_db_path(attempt);
        let index = match shared.sm.write_snapshot(&tmp) {
            Ok(index) => index,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let term = self.term(index).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            std::io::Error::other(format!("snapshot at index {index} is outside the log: {e}"))
        })?;
        let path = shared.snaps.generated_db_path(index);
        fs::rename(&tmp, &path)?;
        Ok(Generated { index, term, path })
    }
}

impl Storage for NodeStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        self.shared.mem.initial_state()
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.shared.mem.entries(low, high, max_size, context)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        let (b_index, b_term) = *self.shared.boundary.lock();
        if idx == b_index {
            return Ok(b_term);
        }
        self.shared.mem.term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        self.shared.mem.first_index()
    }

    fn last_index(&self) -> raft::Result<u64> {
        self.shared.mem.last_index()
    }

    /// Hands out the latest state-machine copy if it is recent enough for `request_index`, the
    /// log still continues right after it and the membership at its index is known; otherwise
    /// starts making one (unless the membership is only not known yet) and asks raft to retry
    /// later.
    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        let first = self.first_index()?;
        let mut state = self.shared.generation.lock();
        let regenerate = match &*state {
            GenState::Generating => false,
            GenState::Ready(g) if g.index >= request_index && g.index + 1 >= first => {
                let conf = self.shared.conf.lock();
                match conf.known_at(g.index) {
                    // A member restores only a snapshot whose membership includes it: a copy
                    // older than a new member's addition is of no use to it.
                    Some(cs) if in_conf(&cs, to) => return Ok(g.snapshot(cs)),
                    Some(_) => true,
                    // Unless that membership was forgotten, the apply loop's report that it
                    // got this far is on its way.
                    None => conf.forgotten(g.index),
                }
            }
            _ => true,
        };
        if regenerate {
            *state = GenState::Generating;
            drop(state);
            self.start_generation();
        }
        Err(raft::Error::Store(
            StorageError::SnapshotTemporarilyUnavailable,
        ))
    }
}

/// Whether `id` is a member (voter or learner) of `cs`.
fn in_conf(cs: &ConfState, id: u64) -> bool {
    cs.voters
        .iter()
        .chain(&cs.learners)
        .chain(&cs.voters_outgoing)
        .chain(&cs.learners_next)
        .any(|m| *m == id)
}
