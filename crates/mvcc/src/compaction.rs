//! Physical compaction, in the background: after a compaction is committed (reads below its
//! revision already fail), a thread compacts the index and deletes the dropped revisions from
//! the key table a few thousand keys at a time, each step in its own short, durable write
//! transaction so the apply loop is never stalled for long and the pages a step frees can be
//! reused by the next. The last step records the finished revision; an interrupted compaction
//! is resumed when the store is opened again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use redb::Durability;

use crate::backend::KEY_TABLE;
use crate::compaction_report::CompactionReport;
use crate::error::BackendError;
use crate::meta::{FINISHED_COMPACT_REV, write_compact_rev};
use crate::shared::Shared;

/// Keys compacted per write transaction.
const KEYS_PER_STEP: usize = 2000;
/// Pause between steps, so queued apply batches get the write transaction.
const PAUSE_BETWEEN_STEPS: Duration = Duration::from_millis(1);

/// Why a compaction did not finish.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CompactionError {
    /// The batch that scheduled it was not committed.
    #[error("compaction was not committed")]
    NotCommitted,
    /// The store shut down first; the compaction resumes when the store is opened again.
    #[error("store closed before the compaction finished")]
    Stopped,
    /// The backend failed; the compaction resumes when the store is opened again.
    #[error("compaction failed: {0}")]
    Failed(String),
}

/// Resolves once a compaction has physically finished (what `physical: true` waits for).
#[derive(Clone)]
pub struct CompactionDone {
    completion: Arc<Completion>,
}

#[derive(Default)]
pub(crate) struct Completion {
    state: Mutex<CompletionState>,
    finished: Condvar,
}

#[derive(Default)]
struct CompletionState {
    outcome: Option<Result<(), CompactionError>>,
    wakers: Vec<Waker>,
}

/// A new pending completion and the handle that waits for it.
pub(crate) fn completion() -> (CompactionDone, Arc<Completion>) {
    let completion = Arc::new(Completion::default());
    (
        CompactionDone {
            completion: completion.clone(),
        },
        completion,
    )
}

impl Completion {
    pub(crate) fn finish(&self, outcome: Result<(), CompactionError>) {
        let mut state = self.state.lock();
        if state.outcome.is_none() {
            state.outcome = Some(outcome);
        }
        for waker in state.wakers.drain(..) {
            waker.wake();
        }
        self.finished.notify_all();
    }
}

impl CompactionDone {
    /// Waits (asynchronously) until the compaction has finished.
    pub fn wait(&self) -> CompactionWait<'_> {
        CompactionWait { done: self }
    }

    /// Blocks the thread until the compaction has finished.
    pub fn wait_blocking(&self) -> Result<(), CompactionError> {
        let mut state = self.completion.state.lock();
        loop {
            if let Some(outcome) = &state.outcome {
                return outcome.clone();
            }
            self.completion.finished.wait(&mut state);
        }
    }

    /// The outcome, if the compaction is over.
    pub fn outcome(&self) -> Option<Result<(), CompactionError>> {
        self.completion.state.lock().outcome.clone()
    }
}

/// Future returned by [`CompactionDone::wait`].
pub struct CompactionWait<'a> {
    done: &'a CompactionDone,
}

impl Future for CompactionWait<'_> {
    type Output = Result<(), CompactionError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.done.completion.state.lock();
        match &state.outcome {
            Some(outcome) => Poll::Ready(outcome.clone()),
            None => {
                if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    state.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

struct Job {
    rev: i64,
    done: Arc<Completion>,
}

/// The background thread that runs compactions one after another.
pub(crate) struct Compactor {
    jobs: Option<mpsc::Sender<Job>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Compactor {
    pub(crate) fn start(shared: Arc<Shared>) -> Result<Compactor, BackendError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("mvcc-compactor".into())
            .spawn(move || {
                for job in queue {
                    let outcome = compact(&shared, job.rev, &stopping);
                    let failure = match &outcome {
                        Ok(()) => {
                            tracing::info!(revision = job.rev, "finished scheduled compaction");
                            None
                        }
                        Err(CompactionError::Failed(e)) => Some(e.clone()),
                        Err(e) => {
                            tracing::warn!(revision = job.rev, error = %e, "compaction did not finish");
                            None
                        }
                    };
                    job.done.finish(outcome);
                    // A backend that cannot be written is the end of this member (fail stop,
                    // through the process's panic hook); the compaction resumes on restart.
                    if let Some(e) = failure {
                        panic!("backend failed while compacting at revision {}: {e}", job.rev);
                    }
                }
            })
            .map_err(BackendError::with("starting compactor thread"))?;
        Ok(Compactor {
            jobs: Some(jobs),
            stop,
            thread: Some(thread),
        })
    }

    /// Queues a compaction at `rev`; `done` is told when it is over.
    pub(crate) fn schedule(&self, rev: i64, done: Arc<Completion>) {
        let job = Job { rev, done };
        match &self.jobs {
            Some(jobs) => {
                if let Err(mpsc::SendError(job)) = jobs.send(job) {
                    job.done.finish(Err(CompactionError::Stopped));
                }
            }
            None => job.done.finish(Err(CompactionError::Stopped)),
        }
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.jobs = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("compactor thread panicked");
        }
    }
}

/// Compacts the index and the key table at `rev`, step by step.
fn compact(shared: &Shared, rev: i64, stop: &AtomicBool) -> Result<(), CompactionError> {
    let failed = |e: BackendError| CompactionError::Failed(e.to_string());
    let mut cursor: Option<Box<[u8]>> = None;
    let mut removed = Vec::new();
    let mut report = CompactionReport::default();
    let started = Instant::now();
    loop {
        if stop.load(Ordering::Acquire) {
            return Err(CompactionError::Stopped);
        }
        // The write transaction keeps apply batches out while the index changes, so a batch
        // never has to undo writes over a half-compacted key.
        let paused = shared.compaction_pause.lock();
        let mut tx = shared.backend.begin_write().map_err(failed)?;
        let step_started = Instant::now();
        removed.clear();
        let next = {
            let mut index = shared.index.write();
            if shared.index_floor.load(Ordering::Acquire) < rev {
                shared.index_floor.store(rev, Ordering::Release);
            }
            index.compact_some(rev, cursor.as_deref(), KEYS_PER_STEP, &mut removed)
        };
        report.index_pauses.push(step_started.elapsed());
        report.keys += removed.len() as u64;
        let mut freed = 0;
        {
            let mut table = tx
                .open_table(KEY_TABLE)
                .map_err(|e| failed(BackendError::new("opening key table", e)))?;
            for (r, tombstone) in &removed {
                let key = r.to_key(*tombstone);
                let old = table
                    .remove(key.as_bytes())
                    .map_err(|e| failed(BackendError::new("deleting compacted revision", e)))?;
                debug_assert!(
                    old.is_some(),
                    "the key index and key table agree: compacted revision {r:?} is in the table"
                );
                if let Some(value) = old {
                    freed += key.as_bytes().len() + value.value().len();
                }
            }
        }
        let finished = next.is_none();
        if finished {
            write_compact_rev(&tx, FINISHED_COMPACT_REV, rev).map_err(failed)?;
        }
        // Every step is durable, as etcd commits each compaction batch: redb reuses the pages
        // a commit frees only once a durable commit follows, so non-durable steps grew the
        // file by every page the compaction rewrote (from 544 MiB to 4 GiB for a million
        // keys, half of them deleted). A crash before the last step resumes the compaction.
        tx.set_durability(Durability::Immediate)
            .map_err(|e| failed(BackendError::new("setting compaction durability", e)))?;
        fail::fail_point!("compactBeforeCommitBatch");
        shared
            .backend
            .commit(tx, "committing compaction step")
            .map_err(failed)?;
        fail::fail_point!("compactAfterCommitBatch");
        drop(paused);
        report.pauses.push(step_started.elapsed());
        shared.backend.add_stored_bytes(-(freed as i64));
        // The published snapshot would otherwise keep every page this step replaced until
        // the next write (with none during a compaction, until its end).
        shared.refresh_snapshot();
        if finished {
            report.total = started.elapsed();
            let observer = shared.compaction_observer.read().clone();
            if let Some(observer) = observer {
                observer(&report);
            }
            return Ok(());
        }
        cursor = next;
        std::thread::sleep(PAUSE_BETWEEN_STEPS);
    }
}
