//! The history of one key: its generations (a generation runs from the put that creates the key
//! to the tombstone that deletes it), each with the revisions that modified the key. This is
//! etcd's `keyIndex`, with the same answers for "what was the key at revision R", compaction and
//! the revisions to keep; plus `revert_after`, which undoes an aborted batch.

use std::ops::Deref;

use prost::encoding::{decode_varint, encode_varint};

use crate::revision::Revision;

/// What a key was at some revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyAt {
    /// The revision holding the key's value.
    pub modified: Revision,
    /// When the key's current generation was created.
    pub created: Revision,
    /// Number of puts since creation, including the one at `modified`.
    pub version: i64,
}

/// All generations of one key, oldest first. The last generation is the live one (empty when the
/// key is deleted); every earlier generation ends with a tombstone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyIndex {
    generations: Vec<Generation>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Generation {
    /// Version the key reached in this generation; compaction drops revisions but not versions.
    ver: i64,
    created: Revision,
    revs: Revs,
}

/// The revisions of one generation, oldest first. A single revision (most keys, and every key
/// after compaction) is stored inline, saving an allocation per key. Always in canonical form:
/// `Many` never holds exactly one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Revs {
    One(Revision),
    Many(Vec<Revision>),
}

impl Default for Revs {
    fn default() -> Self {
        Revs::Many(Vec::new())
    }
}

impl Deref for Revs {
    type Target = [Revision];

    fn deref(&self) -> &[Revision] {
        match self {
            Revs::One(r) => std::slice::from_ref(r),
            Revs::Many(v) => v,
        }
    }
}

impl Revs {
    fn push(&mut self, rev: Revision) {
        match self {
            Revs::Many(v) if v.is_empty() => *self = Revs::One(rev),
            Revs::Many(v) => push_compact(v, rev),
            Revs::One(first) => *self = Revs::Many(vec![*first, rev]),
        }
    }

    fn pop(&mut self) {
        match self {
            Revs::One(_) => *self = Revs::default(),
            Revs::Many(v) => {
                v.pop();
                if let [only] = v[..] {
                    *self = Revs::One(only);
                }
            }
        }
    }

    /// Removes the `n` oldest revisions, appending them to `removed` as non-tombstones.
    fn drop_oldest(&mut self, n: usize, removed: &mut Vec<(Revision, bool)>) {
        let Revs::Many(v) = self else {
            return;
        };
        if n == 0 {
            return;
        }
        removed.extend(v.drain(..n).map(|r| (r, false)));
        match v[..] {
            [only] => *self = Revs::One(only),
            _ => shrink_if_sparse(v),
        }
    }
}

impl Generation {
    fn is_empty(&self) -> bool {
        self.revs.is_empty()
    }

    /// Position of the newest revision at or before `at`.
    fn newest_at(&self, at: i64) -> Option<usize> {
        self.revs.iter().rposition(|r| r.main <= at)
    }
}

/// Pushes without the usual growth to four slots while the vector is small: most keys have
/// one generation and few revisions, and the spare slots would multiply the index's memory.
fn push_compact<T>(v: &mut Vec<T>, item: T) {
    if v.len() == v.capacity() && v.len() < 4 {
        v.reserve_exact(1);
    }
    v.push(item);
}

/// Gives back spare capacity after compaction dropped most of a vector.
fn shrink_if_sparse<T>(v: &mut Vec<T>) {
    if v.capacity() > 4 && v.capacity() > 2 * v.len() {
        v.shrink_to_fit();
    }
}

impl KeyIndex {
    /// A key seen for the first time when rebuilding the index: its oldest stored revision.
    pub(crate) fn restored(created: Revision, modified: Revision, version: i64) -> KeyIndex {
        KeyIndex {
            generations: vec![Generation {
                ver: version,
                created,
                revs: Revs::One(modified),
            }],
        }
    }

    /// True when the key has no revision left (it is removed from the index then).
    pub(crate) fn is_empty(&self) -> bool {
        match self.generations.as_slice() {
            [] => true,
            [only] => only.is_empty(),
            _ => false,
        }
    }

    /// Whether a spilled history is short enough to go back into its page (see
    /// `spilled_histories.rs`): a few generations and revisions, judged without walking a
    /// long history.
    pub(crate) fn is_small(&self) -> bool {
        self.generations.len() <= 4
            && self.generations.iter().map(|g| g.revs.len()).sum::<usize>() <= 16
    }

    /// Records a put at `rev`, creating a generation if the key was deleted.
    pub(crate) fn put(&mut self, rev: Revision) {
        if self.generations.is_empty() {
            push_compact(&mut self.generations, Generation::default());
        }
        let last = self.generations.len() - 1;
        let g = &mut self.generations[last];
        if g.is_empty() {
            g.created = rev;
        }
        g.revs.push(rev);
        g.ver += 1;
    }

    /// Records a deletion at `rev`; false (and nothing recorded) if the key is not live.
    pub(crate) fn tombstone(&mut self, rev: Revision) -> bool {
        match self.generations.last() {
            Some(g) if !g.is_empty() => {}
            _ => return false,
        }
        self.put(rev);
        push_compact(&mut self.generations, Generation::default());
        true
    }

    /// The key as of revision `at`, or `None` if it did not exist then.
    pub(crate) fn get(&self, at: i64) -> Option<KeyAt> {
        let g = self.generation_at(at)?;
        let n = g.newest_at(at)?;
        Some(KeyAt {
            modified: g.revs[n],
            created: g.created,
            version: g.ver - (g.revs.len() - n - 1) as i64,
        })
    }

    /// The generation alive at `at`; `None` when `at` falls between generations.
    fn generation_at(&self, at: i64) -> Option<&Generation> {
        let last = self.generations.len().checked_sub(1)?;
        for (i, g) in self.generations.iter().enumerate().rev() {
            let (Some(first), Some(newest)) = (g.revs.first(), g.revs.last()) else {
                continue;
            };
            if i != last && newest.main <= at {
                return None;
            }
            if first.main <= at {
                return Some(g);
            }
        }
        None
    }

    /// The generation a compaction at `at` starts from, and the newest revision in it at `at`.
    fn compaction_point(&self, at: i64) -> (usize, Option<usize>) {
        let mut gi = 0;
        while gi + 1 < self.generations.len() {
            if self.generations[gi]
                .revs
                .last()
                .is_some_and(|t| t.main > at)
            {
                break;
            }
            gi += 1;
        }
        (gi, self.generations[gi].newest_at(at))
    }

    /// Drops the revisions a compaction at `at` makes unreachable: everything at or before `at`
    /// except the newest revision of the live generation (tombstones are not kept). Dropped
    /// revisions are appended to `removed` with whether they are tombstones.
    pub(crate) fn compact(&mut self, at: i64, removed: &mut Vec<(Revision, bool)>) {
        if self.generations.is_empty() {
            return;
        }
        let (mut gi, newest) = self.compaction_point(at);
        for g in &self.generations[..gi] {
            let last = g.revs.len().saturating_sub(1);
            removed.extend(g.revs.iter().enumerate().map(|(i, r)| (*r, i == last)));
        }
        let is_last_generation = gi + 1 == self.generations.len();
        let g = &mut self.generations[gi];
        if !g.is_empty() {
            if let Some(n) = newest {
                g.revs.drop_oldest(n, removed);
            }
            if g.revs.len() == 1 && !is_last_generation {
                removed.push((g.revs[0], true));
                gi += 1;
            }
        }
        self.generations.drain(..gi);
        shrink_if_sparse(&mut self.generations);
    }

    /// The revision a compaction at `at` would keep for this key, if any.
    pub(crate) fn keep(&self, at: i64) -> Option<Revision> {
        if self.is_empty() {
            return None;
        }
        let (gi, newest) = self.compaction_point(at);
        let n = newest?;
        let g = &self.generations[gi];
        if n == g.revs.len() - 1 && gi + 1 != self.generations.len() {
            return None;
        }
        Some(g.revs[n])
    }

    /// Forgets every revision with a main revision above `floor`: undoes the writes of a batch
    /// that was not committed (they are always the newest revisions of the key).
    pub(crate) fn revert_after(&mut self, floor: i64) {
        while let Some(last) = self.generations.last_mut() {
            if last.revs.last().is_some_and(|r| r.main > floor) {
                last.revs.pop();
                last.ver -= 1;
                if last.revs.is_empty() {
                    last.ver = 0;
                    last.created = Revision::default();
                }
                continue;
            }
            let last_is_empty = last.is_empty();
            let n = self.generations.len();
            let made_by_reverted_tombstone = last_is_empty
                && n > 1
                && self.generations[n - 2]
                    .revs
                    .last()
                    .is_some_and(|t| t.main > floor);
            if made_by_reverted_tombstone {
                self.generations.pop();
                continue;
            }
            break;
        }
    }
}

/// The encoded form the index keeps (see `index_page.rs`): the number of generations, then
/// for each its version, creation revision and revisions (each main revision as the zigzag
/// difference from the one before, starting from the creation's), all as varints. A key put
/// once takes 7 to 10 bytes.
impl KeyIndex {
    /// Appends the encoded history to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        encode_varint(self.generations.len() as u64, out);
        for g in &self.generations {
            encode_varint(g.ver as u64, out);
            encode_varint(g.created.main as u64, out);
            encode_varint(g.created.sub as u64, out);
            encode_varint(g.revs.len() as u64, out);
            let mut previous = g.created.main;
            for rev in g.revs.iter() {
                encode_varint(zigzag(rev.main.wrapping_sub(previous)), out);
                encode_varint(rev.sub as u64, out);
                previous = rev.main;
            }
        }
    }

    /// Decodes a history [`KeyIndex::encode`] wrote. The index only holds what it encoded
    /// itself, so anything else is a bug in the index, not damaged input.
    pub(crate) fn decode(mut bytes: &[u8]) -> KeyIndex {
        let mut next = || decode_varint(&mut bytes).expect("the index decodes what it encoded");
        let count = next() as usize;
        let mut generations = Vec::with_capacity(count);
        for _ in 0..count {
            let ver = next() as i64;
            let created = Revision::new(next() as i64, next() as i64);
            let n = next() as usize;
            let mut previous = created.main;
            let mut read_rev = || {
                let main = previous.wrapping_add(unzigzag(next()));
                previous = main;
                Revision::new(main, next() as i64)
            };
            let revs = match n {
                0 => Revs::default(),
                1 => Revs::One(read_rev()),
                _ => {
                    let mut v = Vec::with_capacity(n);
                    for _ in 0..n {
                        v.push(read_rev());
                    }
                    Revs::Many(v)
                }
            };
            generations.push(Generation { ver, created, revs });
        }
        KeyIndex { generations }
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(main: i64) -> Revision {
        Revision::new(main, 0)
    }

    /// put(1) put(2) tombstone(3) put(4) tombstone(5), as in etcd's documentation.
    fn sample() -> KeyIndex {
        let mut ki = KeyIndex::default();
        ki.put(r(1));
        ki.put(r(2));
        assert!(ki.tombstone(r(3)));
        ki.put(r(4));
        assert!(ki.tombstone(r(5)));
        ki
    }

    fn round_trip(ki: &KeyIndex) -> KeyIndex {
        let mut bytes = Vec::new();
        ki.encode(&mut bytes);
        KeyIndex::decode(&bytes)
    }

    #[test]
    fn encoding_round_trips_every_shape() {
        let mut ki = KeyIndex::default();
        assert_eq!(round_trip(&ki), ki);
        let mut bytes = Vec::new();
        ki.put(Revision::new(1_000_000, 0));
        ki.encode(&mut bytes);
        assert!(
            bytes.len() <= 10,
            "a key put once takes {} bytes",
            bytes.len()
        );
        assert_eq!(round_trip(&ki), ki);
        let ki = sample();
        assert_eq!(round_trip(&ki), ki);
        let mut restored = KeyIndex::restored(r(7), Revision::new(3, 2), 5);
        assert_eq!(round_trip(&restored), restored);
        restored.put(Revision::new(i64::MAX, i64::MAX));
        assert_eq!(round_trip(&restored), restored);
        let mut compacted = sample();
        compacted.compact(2, &mut Vec::new());
        assert_eq!(round_trip(&compacted), compacted);
    }

    #[test]
    fn get_follows_generations() {
        let ki = sample();
        assert_eq!(ki.get(0), None);
        let at1 = ki.get(1).unwrap();
        assert_eq!((at1.modified, at1.created, at1.version), (r(1), r(1), 1));
        let at2 = ki.get(2).unwrap();
        assert_eq!((at2.modified, at2.version), (r(2), 2));
        assert_eq!(ki.get(3), None);
        let at4 = ki.get(4).unwrap();
        assert_eq!((at4.modified, at4.created, at4.version), (r(4), r(4), 1));
        assert_eq!(ki.get(5), None);
        assert_eq!(ki.get(100), None);
    }

    #[test]
    fn tombstone_needs_a_live_key() {
        let mut ki = sample();
        assert!(!ki.tombstone(r(6)));
        ki.put(r(7));
        assert_eq!(ki.get(7).unwrap().version, 1);
    }

    #[test]
    fn compaction_matches_etcd_examples() {
        let mut ki = sample();
        let mut removed = Vec::new();
        ki.compact(2, &mut removed);
        assert_eq!(removed, vec![(r(1), false)]);
        assert_eq!(ki.get(2).unwrap().version, 2);

        removed.clear();
        ki.compact(4, &mut removed);
        assert_eq!(removed, vec![(r(2), false), (r(3), true)]);
        assert_eq!(ki.get(4).unwrap().modified, r(4));

        removed.clear();
        ki.compact(5, &mut removed);
        assert_eq!(removed, vec![(r(4), false), (r(5), true)]);
        assert!(ki.is_empty());
    }

    #[test]
    fn compaction_keeps_latest_live_revision_and_version() {
        let mut ki = KeyIndex::default();
        for m in 1..=5 {
            ki.put(r(m));
        }
        let mut removed = Vec::new();
        ki.compact(3, &mut removed);
        assert_eq!(removed.len(), 2);
        assert_eq!(ki.keep(3), Some(r(3)));
        assert_eq!(ki.get(5).unwrap().version, 5);
        assert_eq!(ki.get(3).unwrap().version, 3);
    }

    #[test]
    fn keep_skips_tombstones() {
        let ki = sample();
        assert_eq!(ki.keep(2), Some(r(2)));
        assert_eq!(ki.keep(3), None);
        assert_eq!(ki.keep(4), Some(r(4)));
        assert_eq!(ki.keep(9), None);
    }

    #[test]
    fn revert_after_restores_the_previous_shape() {
        let mut base = KeyIndex::default();
        base.put(r(1));
        base.put(r(2));
        for ops in [
            vec!["put"],
            vec!["del"],
            vec!["del", "put"],
            vec!["put", "del", "put", "del"],
        ] {
            let mut ki = base.clone();
            for (i, op) in ops.iter().enumerate() {
                let rev = Revision::new(10, i as i64);
                if *op == "put" {
                    ki.put(rev);
                } else {
                    assert!(ki.tombstone(rev));
                }
            }
            ki.revert_after(9);
            assert_eq!(ki, base, "after {ops:?}");
        }

        let mut deleted = base.clone();
        assert!(deleted.tombstone(r(3)));
        let mut ki = deleted.clone();
        ki.put(r(10));
        ki.revert_after(9);
        assert_eq!(ki, deleted);

        let mut fresh = KeyIndex::default();
        fresh.put(r(10));
        fresh.revert_after(9);
        assert!(fresh.is_empty());
    }
}
