//! The WAL writer thread: persists what the ready loop hands it, in order, with one
//! `fdatasync` for everything that queued up meanwhile (group commit), and reports back which
//! Ready is durable together with the messages that had to wait for it (votes, append
//! acknowledgements). While the thread writes, the ready loop keeps stepping messages and
//! proposals.
//!
//! When the ready loop has nothing else waiting it writes inline instead
//! ([`WalWriter::write_now`]), blocking itself for that one fsync: handing a lone write to the
//! thread and waiting to hear back costs two thread wake-ups, which at low load are a large
//! part of a request's latency. Under load it hands off and pipelines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use raft::prelude::{Entry, HardState, Message};
use tokio::sync::mpsc;

use crate::error::RaftError;
use crate::fsutil::waiting_on_disk;
use crate::metrics::RaftMetrics;
use crate::wal::{SnapshotMarker, Wal};

/// Most tasks folded into one write.
const MAX_TASKS_PER_WRITE: usize = 1024;

/// One Ready's worth of persistence (or a local snapshot marker).
#[derive(Default)]
pub(super) struct WriteTask {
    /// The Ready's number; 0 for work that is not a Ready.
    pub number: u64,
    /// A snapshot now covers the log up to here.
    pub marker: Option<SnapshotMarker>,
    /// New log entries (replacing any from their first index on).
    pub entries: Vec<Entry>,
    /// The new hard state.
    pub hard_state: Option<HardState>,
    /// Whether the write must reach the disk before being acknowledged (raft's `must_sync`:
    /// new entries, a snapshot, or a changed term or vote).
    pub must_sync: bool,
    /// Messages to send once this is durable.
    pub messages: Vec<Message>,
    /// Release WAL segments covered by a snapshot at this index once written.
    pub release_to: Option<u64>,
}

/// What became durable.
pub(super) struct Persisted {
    /// Highest Ready number persisted (0 if none was among the tasks).
    pub number: u64,
    /// How many tasks this covers.
    pub tasks: usize,
    /// Messages that may now be sent.
    pub messages: Vec<Message>,
    /// The index of a snapshot whose marker (with `release_to`) became durable among the
    /// tasks: older snapshot files may go now, not before.
    pub released: Option<u64>,
}

/// The handle to the writer thread.
pub(super) struct WalWriter {
    /// Shared with the thread, which holds the lock only while it writes a batch.
    wal: Arc<Mutex<Wal>>,
    /// Set once any write failed: the WAL's state is then unknown and must not be synced again.
    failed: Arc<AtomicBool>,
    metrics: Arc<RaftMetrics>,
    tasks: Option<mpsc::UnboundedSender<WriteTask>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WalWriter {
    /// Starts the writer thread owning `wal`; returns it and the stream of completions.
    pub(super) fn spawn(
        wal: Wal,
        member_id: u64,
        metrics: Arc<RaftMetrics>,
    ) -> Result<
        (
            WalWriter,
            mpsc::UnboundedReceiver<Result<Persisted, RaftError>>,
        ),
        RaftError,
    > {
        let (tasks, rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let wal = Arc::new(Mutex::new(wal));
        let failed = Arc::new(AtomicBool::new(false));
        let thread = {
            let (wal, failed, metrics) = (wal.clone(), failed.clone(), metrics.clone());
            std::thread::Builder::new()
                .name(format!("wal-{member_id:x}"))
                .spawn(move || run(&wal, &failed, rx, done_tx, &metrics))
                .map_err(|e| RaftError::io("spawn the WAL writer thread", e))?
        };
        Ok((
            WalWriter {
                wal,
                failed,
                metrics,
                tasks: Some(tasks),
                thread: Some(thread),
            },
            done_rx,
        ))
    }

    /// Persists `task` on the caller's thread (telling the runtime when it syncs). Only for
    /// when no submitted task is still unwritten, so that writes stay in order.
    pub(super) fn write_now(&self, task: WriteTask) -> Result<Persisted, RaftError> {
        let mut wal = self.wal.lock();
        let must_sync = task.must_sync;
        let write = || persist(&mut wal, task, || None, &self.metrics);
        // Without a sync (a heartbeat's answer, a commit index) it is page-cache writes at most.
        let outcome = if must_sync {
            waiting_on_disk(write)
        } else {
            write()
        };
        if outcome.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
        outcome
    }

    /// Queues a task; false if the writer has stopped (after a write failure).
    pub(super) fn submit(&self, task: WriteTask) -> bool {
        self.tasks.as_ref().is_some_and(|t| t.send(task).is_ok())
    }

    /// Lets the writer finish what is queued, syncs, and waits for the thread to exit.
    pub(super) fn close(&mut self) {
        self.tasks.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the WAL writer thread panicked");
        }
    }
}

impl Drop for WalWriter {
    fn drop(&mut self) {
        self.close();
    }
}

fn run(
    wal: &Mutex<Wal>,
    failed: &AtomicBool,
    mut tasks: mpsc::UnboundedReceiver<WriteTask>,
    done: mpsc::UnboundedSender<Result<Persisted, RaftError>>,
    metrics: &RaftMetrics,
) {
    while let Some(first) = tasks.blocking_recv() {
        // The lock is released before the ready loop hears of the write, so an inline write
        // that follows never waits for it.
        let outcome = persist(&mut wal.lock(), first, || tasks.try_recv().ok(), metrics);
        if outcome.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        let write_failed = outcome.is_err();
        if done.send(outcome).is_err() || write_failed {
            break;
        }
    }
    // After a failed write or fsync the file's state is unknown; syncing again could make a
    // half-written batch durable.
    if failed.load(Ordering::Relaxed) {
        return;
    }
    let mut wal = wal.lock();
    if let Err(e) = wal.sync() {
        tracing::error!(error = %e, "failed to sync the WAL while closing it");
    }
}

/// Writes `first` and whatever `next` yields (up to [`MAX_TASKS_PER_WRITE`] tasks) with one
/// `fdatasync` if any of them must be durable, and releases segments a snapshot covers.
fn persist(
    wal: &mut Wal,
    first: WriteTask,
    mut next: impl FnMut() -> Option<WriteTask>,
    metrics: &RaftMetrics,
) -> Result<Persisted, RaftError> {
    let mut persisted = Persisted {
        number: 0,
        tasks: 0,
        messages: Vec::new(),
        released: None,
    };
    let mut sync = false;
    let mut release_to = None;
    let mut task = Some(first);
    while let Some(current) = task.take() {
        if let Some(marker) = current.marker {
            wal.append_snapshot_marker(marker);
        }
        wal.append_entries(&current.entries);
        if let Some(hs) = &current.hard_state {
            wal.append_hard_state(hs);
        }
        sync |= current.must_sync;
        release_to = current.release_to.or(release_to);
        persisted.number = persisted.number.max(current.number);
        persisted.tasks += 1;
        if persisted.messages.is_empty() {
            persisted.messages = current.messages;
        } else {
            persisted.messages.extend(current.messages);
        }
        if persisted.tasks < MAX_TASKS_PER_WRITE {
            task = next();
        }
    }
    let bytes = wal.pending_bytes();
    fail::fail_point!("raftBeforeSave", |_| Err(injected_io_error(
        "raftBeforeSave"
    )));
    if sync {
        let started = Instant::now();
        // With --unsafe-no-fsync nothing was synced, so there is no fsync to time (as etcd).
        if wal.commit()? {
            metrics.wal_fsync().observe(started.elapsed());
        }
    } else {
        wal.write_unsynced()?;
    }
    fail::fail_point!("raftAfterSave", |_| Err(injected_io_error("raftAfterSave")));
    // The held-back messages go out once this returns: everything they acknowledge is written.
    debug_assert_eq!(
        wal.pending_bytes(),
        0,
        "messages released before their Ready was written"
    );
    metrics.add_wal_write_bytes(bytes);
    if let Some(index) = release_to {
        wal.release_to(index)?;
        persisted.released = Some(index);
        fail::fail_point!("raftAfterWALRelease");
    }
    Ok(persisted)
}

/// The error a crash point set to `return` makes the WAL write fail with, as a disk would.
#[cfg(feature = "failpoints")]
fn injected_io_error(point: &str) -> RaftError {
    RaftError::io(
        format!("crash point {point}"),
        std::io::Error::other("injected I/O error"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::{Metadata, WalOptions};

    fn entry(index: u64) -> Entry {
        Entry {
            index,
            term: 1,
            data: bytes::Bytes::from_static(b"x"),
            ..Default::default()
        }
    }

    /// Persists two must-sync tasks and returns how many fsyncs the metrics saw.
    fn fsyncs_observed(unsafe_no_fsync: bool) -> u64 {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = WalOptions {
            segment_size: 64 * 1024,
            unsafe_no_fsync,
            ..WalOptions::default()
        };
        let meta = Metadata {
            member_id: 1,
            cluster_id: 2,
        };
        let mut wal = Wal::create(dir.path(), meta, opts).expect("create");
        let metrics = RaftMetrics::default();
        for index in 1..=2 {
            let task = WriteTask {
                number: index,
                entries: vec![entry(index)],
                must_sync: true,
                ..Default::default()
            };
            persist(&mut wal, task, || None, &metrics).expect("persist");
        }
        drop(wal);
        let (_, state) = Wal::open(dir.path(), meta, opts).expect("reopen");
        assert_eq!(
            state.entries.len(),
            2,
            "the entries were written either way"
        );
        metrics.wal_fsync().snapshot().count
    }

    #[test]
    fn unsafe_no_fsync_skips_and_does_not_time_the_fsync() {
        assert_eq!(fsyncs_observed(false), 2);
        assert_eq!(fsyncs_observed(true), 0);
    }
}
