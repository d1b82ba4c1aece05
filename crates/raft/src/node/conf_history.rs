//! The raft configuration (ConfState) as of each applied conf change, so a snapshot taken at
//! any index after the last snapshot records the membership that was in force at that index.
//!
//! The history only answers for indexes it is complete through: the apply loop hands a conf
//! change over before it reports a later index applied, so once an index is reported every
//! conf change at or below it has been recorded (or is covered by a snapshot).

use raft::prelude::ConfState;

/// ConfStates keyed by the index of the entry that produced them, oldest first.
#[derive(Debug, Clone, Default)]
pub(super) struct ConfHistory {
    states: Vec<(u64, ConfState)>,
    /// Every conf change at or below this index is recorded.
    complete_through: u64,
}

impl ConfHistory {
    /// A history starting with `cs` in force at `index` (a snapshot's).
    pub(super) fn new(index: u64, cs: ConfState) -> Self {
        ConfHistory {
            states: vec![(index, cs)],
            complete_through: index,
        }
    }

    /// Records that `cs` is in force from `index` on.
    pub(super) fn record(&mut self, index: u64, cs: ConfState) {
        debug_assert!(
            index > self.complete_through,
            "conf change at {index} recorded after index {} was reported applied",
            self.complete_through
        );
        let keep = self.states.partition_point(|(i, _)| *i < index);
        self.states.truncate(keep);
        self.states.push((index, cs));
    }

    /// Notes that every conf change at or below `index` is recorded.
    pub(super) fn complete_through(&mut self, index: u64) {
        self.complete_through = self.complete_through.max(index);
    }

    /// The index of the entry (or snapshot) that produced the latest ConfState.
    pub(super) fn latest_index(&self) -> u64 {
        self.states.last().map_or(0, |(i, _)| *i)
    }

    /// The ConfState in force now.
    pub(super) fn latest(&self) -> ConfState {
        self.states
            .last()
            .map(|(_, cs)| cs.clone())
            .unwrap_or_default()
    }

    /// The ConfState in force at `index`, which the history must be complete through.
    pub(super) fn at(&self, index: u64) -> ConfState {
        debug_assert!(
            index <= self.complete_through,
            "conf state at {index} asked for, but conf changes are only known through {}",
            self.complete_through
        );
        let pos = self.states.partition_point(|(i, _)| *i <= index);
        match pos.checked_sub(1).and_then(|p| self.states.get(p)) {
            Some((_, cs)) => cs.clone(),
            None => self
                .states
                .first()
                .map(|(_, cs)| cs.clone())
                .unwrap_or_default(),
        }
    }

    /// The ConfState in force at `index`, if the history knows it: `index` is neither beyond
    /// what is complete nor before the oldest state kept.
    pub(super) fn known_at(&self, index: u64) -> Option<ConfState> {
        let oldest = self.states.first().map_or(0, |(i, _)| *i);
        (oldest..=self.complete_through)
            .contains(&index)
            .then(|| self.at(index))
    }

    /// Whether states before `index` were forgotten, so [`ConfHistory::known_at`] can never
    /// answer for it.
    pub(super) fn forgotten(&self, index: u64) -> bool {
        self.states.first().is_some_and(|(i, _)| index < *i)
    }

    /// Forgets states superseded before `index` (a new snapshot's), keeping the one in force.
    pub(super) fn compact(&mut self, index: u64) {
        let pos = self.states.partition_point(|(i, _)| *i <= index);
        if pos > 1 {
            self.states.drain(..pos - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs(voters: &[u64]) -> ConfState {
        ConfState {
            voters: voters.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn lookup_finds_the_state_in_force() {
        let mut h = ConfHistory::new(0, cs(&[1]));
        h.record(5, cs(&[1, 2]));
        h.record(9, cs(&[1, 2, 3]));
        h.complete_through(100);
        assert_eq!(h.at(4), cs(&[1]));
        assert_eq!(h.at(5), cs(&[1, 2]));
        assert_eq!(h.at(100), cs(&[1, 2, 3]));
        h.compact(7);
        assert_eq!(h.at(7), cs(&[1, 2]));
        assert_eq!(h.latest(), cs(&[1, 2, 3]));
        assert_eq!(h.latest_index(), 9);
    }

    #[test]
    fn a_restart_replays_conf_changes_over_later_records() {
        let mut h = ConfHistory::new(0, cs(&[1]));
        h.record(5, cs(&[1, 2]));
        h.record(9, cs(&[1, 2, 3]));
        h.record(5, cs(&[1, 4]));
        assert_eq!(h.latest(), cs(&[1, 4]));
    }

    #[test]
    fn only_indexes_the_history_is_complete_through_are_known() {
        let mut h = ConfHistory::new(10, cs(&[1]));
        h.record(12, cs(&[1, 2]));
        assert_eq!(
            h.known_at(12),
            None,
            "the apply loop has not reported 12 yet"
        );
        h.complete_through(15);
        assert_eq!(h.known_at(12), Some(cs(&[1, 2])));
        assert_eq!(h.known_at(16), None);
        assert_eq!(
            h.known_at(9),
            None,
            "before the snapshot the history starts at"
        );
        assert!(h.forgotten(9));
        assert!(!h.forgotten(16));
    }
}
