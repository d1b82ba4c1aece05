//! One watch's position in the change history and the events it selects: a key or range, the
//! NOPUT / NODELETE filters, and the next revision it has yet to deliver.

use oxcd_api::EtcdError;
use oxcd_api::mvccpb::Event;
use oxcd_api::mvccpb::event::EventType;

use super::hub::WatchHub;
use crate::history::{ChunkLimit, event_bytes, event_revision};
use crate::index::KeySpan;
use crate::store::KvStore;

/// Which kinds of events a watcher drops (etcd's `WatchCreateRequest.filters`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Drop puts.
    pub no_put: bool,
    /// Drop deletes.
    pub no_delete: bool,
}

/// What one step of a watcher produced.
#[derive(Debug)]
pub enum WatchProgress {
    /// Nothing new: the watcher has delivered everything published.
    UpToDate,
    /// Events (possibly none, when nothing in the scanned revisions matched), complete up to
    /// the chunk's revision.
    Chunk(WatchChunk),
    /// The watcher fell behind the compacted revision: the events it needs are gone.
    Compacted(i64),
    /// The backend could not be read.
    Failed(EtcdError),
}

/// Matching events of whole revisions, oldest first.
#[derive(Debug)]
pub struct WatchChunk {
    /// The events that passed the key range and the filters.
    pub events: Vec<Event>,
    /// Every revision up to this one has been scanned.
    pub revision: i64,
}

/// Events scanned from the backend per step by a watcher that fell behind the ring (most may
/// not match, so this is more than a chunk's worth).
const BACKEND_SCAN_EVENTS: usize = 4096;

/// A watch over a key or range, reading committed changes from `next_revision` on.
#[derive(Debug, Clone)]
pub struct Watcher {
    key: Vec<u8>,
    range_end: Vec<u8>,
    filter: EventFilter,
    next_revision: i64,
}

impl Watcher {
    /// A watcher of `key` / `range_end` (etcd's encoding: empty end is one key, `"\0"` every
    /// key from `key` on) delivering changes from revision `start` on.
    pub fn new(key: Vec<u8>, range_end: Vec<u8>, filter: EventFilter, start: i64) -> Watcher {
        Watcher {
            key,
            range_end,
            filter,
            next_revision: start.max(1),
        }
    }

    /// The first revision not yet delivered.
    pub fn next_revision(&self) -> i64 {
        self.next_revision
    }

    /// The watched key, or the start of the watched range.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Moves on to `revision` without reading the changes before it: the caller knows none
    /// of them concerns this watcher (see `StreamSignal::skip_target`). Never moves back.
    pub fn skip_to(&mut self, revision: i64) {
        self.next_revision = self.next_revision.max(revision);
    }

    /// Whether the hub has published changes up to `until` this watcher has not delivered yet.
    pub fn is_behind(&self, hub: &WatchHub, until: i64) -> bool {
        self.next_revision <= hub.revision().min(until)
    }

    /// Reads the next whole revisions, no further than `until`, collecting matching events up
    /// to `limit` (never splitting a revision): from the ring when it still holds them, from
    /// `store`'s backend otherwise.
    pub fn step(
        &mut self,
        hub: &WatchHub,
        store: &KvStore,
        limit: ChunkLimit,
        until: i64,
    ) -> WatchProgress {
        let published = hub.revision().min(until);
        if self.next_revision > published {
            return WatchProgress::UpToDate;
        }
        match hub.changes_from(self.next_revision) {
            Some(batches) => {
                let mut events = Vec::new();
                let mut bytes = 0;
                let mut scanned = self.next_revision - 1;
                let mut full = false;
                'batches: for batch in &batches {
                    for event in batch.events() {
                        let rev = event_revision(event);
                        if rev < self.next_revision {
                            continue;
                        }
                        if rev > published {
                            break 'batches;
                        }
                        if rev > scanned && limit.reached(events.len(), bytes) {
                            full = true;
                            break 'batches;
                        }
                        scanned = rev;
                        if self.selects(event) {
                            bytes += event_bytes(event);
                            events.push(event.clone());
                        }
                    }
                }
                if !full {
                    scanned = published;
                }
                self.next_revision = scanned + 1;
                WatchProgress::Chunk(WatchChunk {
                    events,
                    revision: scanned,
                })
            }
            None => match store.events(
                self.next_revision,
                ChunkLimit {
                    events: BACKEND_SCAN_EVENTS.max(limit.events),
                    bytes: limit.bytes,
                },
            ) {
                Ok((all, next)) => {
                    // The store publishes a commit just before the hub does: stay within the
                    // hub's revision, so no event runs ahead of what progress notifications
                    // (which report the hub's revision) say.
                    let next = next.min(published + 1);
                    let events: Vec<Event> = all
                        .into_iter()
                        .filter(|e| event_revision(e) < next && self.selects(e))
                        .collect();
                    self.next_revision = next;
                    WatchProgress::Chunk(WatchChunk {
                        events,
                        revision: next - 1,
                    })
                }
                Err(EtcdError::Compacted) => WatchProgress::Compacted(store.compact_revision()),
                Err(e) => WatchProgress::Failed(e),
            },
        }
    }

    fn selects(&self, event: &Event) -> bool {
        let Some(kv) = &event.kv else {
            return false;
        };
        let dropped = if event.r#type == EventType::Delete as i32 {
            self.filter.no_delete
        } else {
            self.filter.no_put
        };
        !dropped && KeySpan::new(&self.key, &self.range_end).contains(&kv.key)
    }
}
