//! Which watch streams want which keys. A stream registers the span of each of its watchers
//! with its [`StreamSignal`]; a publish wakes only the streams that one of the batch's changes
//! falls in, and notes the revision of that change. A stream's caught-up watchers then skip
//! every revision before the first noted one: no stream is woken, and no watcher scans, for
//! changes that cannot concern it. This is what lets one member serve thousands of streams
//! that each watch their own key (every node of a system watching its own configuration).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::index::KeySpan;

/// Revisions of matching changes a stream keeps before it stops noting them one by one.
const NOTED_REVISIONS: usize = 4096;

/// One stream's wake-up and the revisions at which changes matched its registered spans.
#[derive(Debug, Default)]
pub struct StreamSignal {
    noted: Mutex<Noted>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct Noted {
    /// Revisions of the batches with a matching change, ascending.
    revisions: VecDeque<i64>,
    /// When too many were noted: the first and the last revision of the matches no longer
    /// noted. A watcher never skips past the first until it has passed the last.
    unnoted_from: Option<i64>,
    unnoted_to: i64,
}

impl StreamSignal {
    /// A signal for a new stream.
    pub fn new() -> Arc<StreamSignal> {
        Arc::new(StreamSignal::default())
    }

    /// Waits until a change matched one of the stream's spans since the last wait returned
    /// (a match while nobody waits is kept for the next wait).
    pub async fn matched(&self) {
        self.notify.notified().await;
    }

    /// Where a watcher of this stream, registered before revision `next` and with every
    /// change before `next` delivered, may continue with the published revision at
    /// `published`: the first noted revision at or after `next`, or `published + 1` when no
    /// change up to it matched. Never before `next`.
    pub fn skip_target(&self, next: i64, published: i64) -> i64 {
        let noted = self.noted.lock();
        let first_noted = noted
            .revisions
            .iter()
            .copied()
            .find(|&revision| revision >= next);
        let target = [first_noted, noted.unnoted_from]
            .into_iter()
            .flatten()
            .fold(published + 1, i64::min);
        target.max(next)
    }

    /// Forgets the revisions before `revision`: every watcher of the stream has passed them.
    pub fn forget_before(&self, revision: i64) {
        let mut noted = self.noted.lock();
        while noted.revisions.front().is_some_and(|&r| r < revision) {
            noted.revisions.pop_front();
        }
        if noted.unnoted_from.is_some() && noted.unnoted_to < revision {
            noted.unnoted_from = None;
        }
    }

    fn note(&self, revision: i64) {
        let mut noted = self.noted.lock();
        if noted.unnoted_from.is_some() || noted.revisions.len() >= NOTED_REVISIONS {
            noted.unnoted_from.get_or_insert(revision);
            noted.unnoted_to = revision;
        } else if noted.revisions.back() != Some(&revision) {
            noted.revisions.push_back(revision);
        }
    }

    /// Marks `from..=to` as changes this stream cannot skip, noted or not.
    fn note_unknown(&self, from: i64, to: i64) {
        let mut noted = self.noted.lock();
        let first = noted.unnoted_from.map_or(from, |f| f.min(from));
        noted.unnoted_from = Some(first);
        noted.unnoted_to = noted.unnoted_to.max(to);
    }

    fn wake(&self) {
        self.notify.notify_one();
    }
}

/// A registration, to be withdrawn with [`Interests::withdraw`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InterestId(u64);

/// Every registered span, by stream.
#[derive(Default)]
pub(crate) struct Interests {
    next_id: u64,
    /// Single keys, the common case, found by hash.
    keys: HashMap<Vec<u8>, Vec<(InterestId, Arc<StreamSignal>)>>,
    /// Ranges, checked one by one.
    ranges: Vec<RangeInterest>,
}

/// A registered range (etcd's encoding of its end).
struct RangeInterest {
    id: InterestId,
    key: Vec<u8>,
    range_end: Vec<u8>,
    signal: Arc<StreamSignal>,
}

impl Interests {
    /// Registers `key` / `range_end` (etcd's encoding) for `signal`.
    pub(crate) fn register(
        &mut self,
        key: &[u8],
        range_end: &[u8],
        signal: &Arc<StreamSignal>,
    ) -> InterestId {
        let id = InterestId(self.next_id);
        self.next_id += 1;
        if range_end.is_empty() {
            self.keys
                .entry(key.to_vec())
                .or_default()
                .push((id, signal.clone()));
        } else {
            self.ranges.push(RangeInterest {
                id,
                key: key.to_vec(),
                range_end: range_end.to_vec(),
                signal: signal.clone(),
            });
        }
        id
    }

    /// Withdraws a registration of `key` (the key it was made with).
    pub(crate) fn withdraw(&mut self, id: InterestId, key: &[u8]) {
        if let Some(signals) = self.keys.get_mut(key) {
            signals.retain(|(registered, _)| *registered != id);
            if signals.is_empty() {
                self.keys.remove(key);
            }
        }
        self.ranges.retain(|range| range.id != id);
    }

    /// Notes `revision` with every stream a change of `key` at it concerns, adding each such
    /// stream once to `matched`.
    pub(crate) fn note_change(
        &self,
        key: &[u8],
        revision: i64,
        matched: &mut Vec<Arc<StreamSignal>>,
    ) {
        let by_key = self.keys.get(key).into_iter().flatten();
        let by_range = self
            .ranges
            .iter()
            .filter(|range| KeySpan::new(&range.key, &range.range_end).contains(key))
            .map(|range| &range.signal);
        for signal in by_key.map(|(_, signal)| signal).chain(by_range) {
            signal.note(revision);
            if !matched.iter().any(|seen| Arc::ptr_eq(seen, signal)) {
                matched.push(signal.clone());
            }
        }
    }
}

impl Interests {
    /// Marks `from..=to` as changes no stream may skip, and wakes every stream: the store
    /// was replaced, and what changed in between is not known here.
    pub(crate) fn note_unknown_everywhere(&self, from: i64, to: i64) {
        let keyed = self.keys.values().flatten().map(|(_, signal)| signal);
        let ranged = self.ranges.iter().map(|range| &range.signal);
        let mut seen: Vec<&Arc<StreamSignal>> = Vec::new();
        for signal in keyed.chain(ranged) {
            if seen.iter().any(|s| Arc::ptr_eq(s, signal)) {
                continue;
            }
            seen.push(signal);
            signal.note_unknown(from, to);
            signal.wake();
        }
    }
}

/// Wakes the streams `matched` collected, once the publish they belong to is visible.
pub(crate) fn wake_all(matched: &[Arc<StreamSignal>]) {
    for signal in matched {
        signal.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_matching_streams_are_noted() {
        let mut interests = Interests::default();
        let a = StreamSignal::new();
        let b = StreamSignal::new();
        interests.register(b"a", b"", &a);
        interests.register(b"p/", b"p0", &b);
        let mut matched = Vec::new();
        interests.note_change(b"p/x", 5, &mut matched);
        interests.note_change(b"p/y", 5, &mut matched);
        assert_eq!(matched.len(), 1);
        assert!(Arc::ptr_eq(&matched[0], &b));
        assert_eq!(a.skip_target(2, 9), 10, "nothing matched a");
        assert_eq!(b.skip_target(2, 9), 5);
        assert_eq!(b.skip_target(6, 9), 10);
        assert_eq!(
            b.skip_target(6, 4),
            6,
            "never before the watcher's position"
        );
    }

    #[test]
    fn withdrawn_spans_no_longer_match() {
        let mut interests = Interests::default();
        let a = StreamSignal::new();
        let key = interests.register(b"k", b"", &a);
        let range = interests.register(b"k", b"\0", &a);
        interests.withdraw(key, b"k");
        interests.withdraw(range, b"k");
        let mut matched = Vec::new();
        interests.note_change(b"k", 3, &mut matched);
        assert!(matched.is_empty());
        assert_eq!(a.skip_target(1, 3), 4);
    }

    #[test]
    fn forgotten_and_overflowing_revisions() {
        let signal = StreamSignal::new();
        for revision in 1..=(NOTED_REVISIONS as i64 + 10) {
            signal.note(revision);
        }
        let overflow = NOTED_REVISIONS as i64 + 1;
        assert_eq!(signal.skip_target(overflow, overflow + 100), overflow);
        signal.forget_before(overflow);
        assert_eq!(
            signal.skip_target(overflow + 5, overflow + 100),
            overflow + 5,
            "past the last noted revision, a watcher stops at its own position"
        );
        signal.forget_before(overflow + 9);
        assert_eq!(
            signal.skip_target(overflow + 9, overflow + 100),
            overflow + 9,
            "an unnoted match remains at {}",
            overflow + 9
        );
        signal.forget_before(overflow + 10);
        assert_eq!(
            signal.skip_target(overflow + 10, overflow + 100),
            overflow + 101
        );
    }
}
