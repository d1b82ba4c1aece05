//! Histories too long to keep encoded in an index page. Decoding and re-encoding a history on
//! every change costs its whole length, so a key written thousands of times between
//! compactions (a counter, a lock key, a leader key) would make each of its puts, and the
//! index rebuild at startup, quadratic. Past [`SPILL_BYTES`] a history moves here, decoded,
//! and its page entry holds only a marker naming its slot; it moves back once compaction has
//! made it small again.

use prost::encoding::{decode_varint, encode_varint};

use crate::key_index::KeyIndex;

/// Encoded histories longer than this are spilled.
pub(crate) const SPILL_BYTES: usize = 256;

/// Spilled histories, each in a numbered slot that its page entry names.
#[derive(Default)]
pub(crate) struct SpilledHistories {
    /// Freed slots hold an empty history (no allocation) until reused.
    slots: Vec<KeyIndex>,
    free: Vec<u32>,
}

/// The slot a page entry's history names, if it is a marker. A stored history is never empty,
/// so its encoding never starts with a zero generation count; a marker does.
pub(crate) fn slot_of(history: &[u8]) -> Option<u32> {
    let (&0, mut rest) = history.split_first()? else {
        return None;
    };
    let slot = decode_varint(&mut rest).expect("the index decodes the markers it wrote");
    Some(u32::try_from(slot).expect("the index writes slot numbers that fit in u32"))
}

/// The page entry that names `slot`.
pub(crate) fn marker(slot: u32) -> Vec<u8> {
    let mut out = vec![0];
    encode_varint(u64::from(slot), &mut out);
    out
}

impl SpilledHistories {
    /// Number of histories held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// The history in `slot`.
    pub(crate) fn get(&self, slot: u32) -> &KeyIndex {
        &self.slots[slot as usize]
    }

    /// Takes the history out of `slot` to change it; the slot stays taken until it is
    /// [`SpilledHistories::put_back`] or [`SpilledHistories::release`]d.
    pub(crate) fn take(&mut self, slot: u32) -> KeyIndex {
        std::mem::take(&mut self.slots[slot as usize])
    }

    /// Puts a changed history back in the slot it was taken from.
    pub(crate) fn put_back(&mut self, slot: u32, history: KeyIndex) {
        self.slots[slot as usize] = history;
    }

    /// Frees a slot whose history was taken for good.
    pub(crate) fn release(&mut self, slot: u32) {
        self.slots[slot as usize] = KeyIndex::default();
        self.free.push(slot);
    }

    /// Holds `history` in a free slot and returns the slot.
    pub(crate) fn add(&mut self, history: KeyIndex) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = history;
                slot
            }
            None => {
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 spilled keys");
                self.slots.push(history);
                slot
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revision::Revision;

    #[test]
    fn markers_are_told_from_encoded_histories() {
        for slot in [0, 1, 127, 128, 300_000, u32::MAX] {
            assert_eq!(slot_of(&marker(slot)), Some(slot));
        }
        let mut history = KeyIndex::default();
        history.put(Revision::new(5, 0));
        let mut encoded = Vec::new();
        history.encode(&mut encoded);
        assert_eq!(slot_of(&encoded), None);
    }

    #[test]
    fn freed_slots_are_reused() {
        let mut spilled = SpilledHistories::default();
        let a = spilled.add(KeyIndex::default());
        let b = spilled.add(KeyIndex::default());
        spilled.take(a);
        spilled.release(a);
        assert_eq!(spilled.len(), 1);
        assert_eq!(spilled.add(KeyIndex::default()), a);
        assert_ne!(a, b);
        assert_eq!(spilled.len(), 2);
    }
}
