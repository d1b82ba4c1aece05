//! The ring of recently committed changes and the published revision watchers wait on.
//!
//! The apply loop publishes each committed batch's events once; every watch stream reads them
//! through shared `Arc`s, so a thousand watchers of one key cost one copy of the change. The
//! ring is bounded in bytes: the oldest batches are dropped first, and a watcher that still
//! needs them reads the backend instead.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use oxcd_api::mvccpb::Event;
use parking_lot::RwLock;
use prost::Message;
use tokio::sync::watch;

use super::interest::{InterestId, Interests, StreamSignal, wake_all};
use crate::history::event_revision;

/// The events one committed apply batch produced, in revision order.
#[derive(Debug)]
pub(crate) struct CommittedChanges {
    events: Vec<Event>,
    /// Their encoded size, counted against the ring's capacity.
    bytes: usize,
}

impl CommittedChanges {
    /// The events, oldest first.
    pub(crate) fn events(&self) -> &[Event] {
        &self.events
    }

    /// Revision of the last change in the batch.
    fn last_revision(&self) -> i64 {
        self.events.last().map_or(0, event_revision)
    }
}

struct Ring {
    batches: VecDeque<Arc<CommittedChanges>>,
    bytes: usize,
    /// Every change from this revision up to the published one is in `batches`.
    covered_from: i64,
}

/// Recent committed changes for the watch streams, plus the revision they are complete up to.
pub struct WatchHub {
    ring: RwLock<Ring>,
    capacity_bytes: usize,
    /// The published revision, and the ring's `covered_from`, readable without the lock: every
    /// stream checks them on every wake-up. Stored after the ring changed, so a reader that
    /// sees a revision finds its changes in the ring.
    revision: AtomicI64,
    covered_from: AtomicI64,
    /// The spans watch streams registered: a publish wakes only the streams it concerns.
    interests: RwLock<Interests>,
    /// Wakes every subscriber on every publish (the in-process watches of the lock and
    /// election services).
    published: watch::Sender<i64>,
}

impl WatchHub {
    /// A hub whose store is at `revision`, keeping at most about `capacity_bytes` of events.
    pub fn new(revision: i64, capacity_bytes: usize) -> WatchHub {
        WatchHub {
            ring: RwLock::new(Ring {
                batches: VecDeque::new(),
                bytes: 0,
                covered_from: revision + 1,
            }),
            capacity_bytes,
            revision: AtomicI64::new(revision),
            covered_from: AtomicI64::new(revision + 1),
            interests: RwLock::new(Interests::default()),
            published: watch::channel(revision).0,
        }
    }

    /// Records the changes of a committed batch that moved the store to `revision`, and wakes
    /// the streams whose registered spans they fall in and every subscriber. Called by the
    /// apply loop after the backend commit, in commit order.
    pub fn publish(&self, revision: i64, events: Vec<Event>) {
        let bytes = events.iter().map(Message::encoded_len).sum::<usize>();
        let changes = Arc::new(CommittedChanges { events, bytes });
        {
            let mut ring = self.ring.write();
            if !changes.events.is_empty() {
                ring.bytes += bytes;
                ring.batches.push_back(changes.clone());
                while ring.bytes > self.capacity_bytes && ring.batches.len() > 1 {
                    let Some(oldest) = ring.batches.pop_front() else {
                        break;
                    };
                    ring.bytes -= oldest.bytes;
                    ring.covered_from = oldest.last_revision() + 1;
                }
            }
            self.covered_from
                .store(ring.covered_from, Ordering::Release);
        }
        let mut matched = Vec::new();
        {
            // The revision moves under the lock a registration takes: a span registered at
            // revision R is noted for every change after R and for none before.
            let interests = self.interests.read();
            for event in changes.events() {
                if let Some(kv) = &event.kv {
                    interests.note_change(&kv.key, event_revision(event), &mut matched);
                }
            }
            self.revision.store(revision, Ordering::Release);
        }
        wake_all(&matched);
        self.published.send_replace(revision);
    }

    /// Forgets every change kept: the store was replaced (a snapshot from the leader) and is
    /// now at `revision`; watchers behind it read the new backend, and every stream is woken
    /// to see that.
    pub fn reset(&self, revision: i64) {
        {
            let mut ring = self.ring.write();
            ring.batches.clear();
            ring.bytes = 0;
            ring.covered_from = revision + 1;
            self.covered_from
                .store(ring.covered_from, Ordering::Release);
        }
        {
            // What changed between the old revision and the new one is known only to the new
            // backend: no stream's watchers may skip any of it.
            let interests = self.interests.read();
            let old = self.revision.swap(revision, Ordering::AcqRel);
            interests.note_unknown_everywhere(old + 1, revision);
        }
        self.published.send_replace(revision);
    }

    /// Registers `key` / `range_end` (etcd's encoding) for the stream of `signal`. Returns
    /// the registration and the revision it starts after: every later change in the span is
    /// noted with the signal and wakes it.
    pub fn register(
        &self,
        key: &[u8],
        range_end: &[u8],
        signal: &Arc<StreamSignal>,
    ) -> (InterestId, i64) {
        let mut interests = self.interests.write();
        let id = interests.register(key, range_end, signal);
        (id, self.revision.load(Ordering::Acquire))
    }

    /// Withdraws a registration made for `key`.
    pub fn withdraw(&self, id: InterestId, key: &[u8]) {
        self.interests.write().withdraw(id, key);
    }

    /// The revision every published change is complete up to.
    pub fn revision(&self) -> i64 {
        self.revision.load(Ordering::Acquire)
    }

    /// A receiver that changes whenever the published revision does.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.published.subscribe()
    }

    /// Bytes of events held.
    #[cfg(test)]
    fn held_bytes(&self) -> usize {
        self.ring.read().bytes
    }

    /// Whether the ring holds every change from revision `from` on (a watcher there reads
    /// memory only; one further behind reads the backend).
    pub fn holds(&self, from: i64) -> bool {
        from >= self.covered_from.load(Ordering::Acquire)
    }

    /// The batches holding every change from revision `from` on, or `None` when the ring no
    /// longer holds all of them (the caller reads the backend).
    pub(crate) fn changes_from(&self, from: i64) -> Option<Vec<Arc<CommittedChanges>>> {
        let ring = self.ring.read();
        if from < ring.covered_from {
            return None;
        }
        let first = ring
            .batches
            .partition_point(|batch| batch.last_revision() < from);
        Some(ring.batches.range(first..).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_api::mvccpb::KeyValue;

    fn put(key: &str, rev: i64) -> Event {
        Event {
            r#type: 0,
            kv: Some(KeyValue {
                key: key.into(),
                mod_revision: rev,
                create_revision: rev,
                version: 1,
                value: vec![0; 100],
                lease: 0,
            }),
            prev_kv: None,
        }
    }

    #[test]
    fn keeps_recent_batches_within_capacity() {
        let hub = WatchHub::new(1, 1000);
        assert!(hub.changes_from(2).is_some_and(|b| b.is_empty()));
        for rev in 2..=30 {
            hub.publish(rev, vec![put("k", rev)]);
        }
        assert_eq!(hub.revision(), 30);
        assert!(hub.held_bytes() <= 1000);
        assert!(hub.changes_from(2).is_none(), "oldest batches dropped");
        let recent = hub.changes_from(29).expect("recent batches kept");
        assert_eq!(recent.len(), 2);
        assert!(hub.changes_from(31).is_some_and(|b| b.is_empty()));
    }

    #[test]
    fn reset_forgets_everything() {
        let hub = WatchHub::new(0, 1 << 20);
        hub.publish(1, vec![put("a", 1)]);
        hub.reset(50);
        assert_eq!(hub.revision(), 50);
        assert!(hub.changes_from(1).is_none());
        assert!(hub.changes_from(51).is_some());
    }
}
