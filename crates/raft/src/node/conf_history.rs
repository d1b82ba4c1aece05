//! The raft configuration (ConfState) as of each applied conf change, so a snapshot taken at
//! any index after the last snapshot records the membership that was in force at that index.

use raft::prelude::ConfState;

/// ConfStates keyed by the index of the entry that produced them, oldest first.
#[derive(Debug, Clone, Default)]
pub struct ConfHistory {
    states: Vec<(u64, ConfState)>,
}

impl ConfHistory {
    /// A history starting with `cs` in force at `index` (a snapshot's).
    pub fn new(index: u64, cs: ConfState) -> Self {
        ConfHistory {
            states: vec![(index, cs)],
        }
    }

    /// Records that `cs` is in force from `index` on.
    pub fn record(&mut self, index: u64, cs: ConfState) {
        let keep = self.states.partition_point(|(i, _)| *i < index);
        self.states.truncate(keep);
        self.states.push((index, cs));
    }

    /// The ConfState in force at `index`.
    pub fn at(&self, index: u64) -> ConfState {
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

    /// Forgets states superseded before `index` (a new snapshot's), keeping the one in force.
    pub fn compact(&mut self, index: u64) {
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
        assert_eq!(h.at(4), cs(&[1]));
        assert_eq!(h.at(5), cs(&[1, 2]));
        assert_eq!(h.at(100), cs(&[1, 2, 3]));
        h.compact(7);
        assert_eq!(h.at(7), cs(&[1, 2]));
        assert_eq!(h.at(u64::MAX), cs(&[1, 2, 3]));
        // Re-applying after a restart replaces later records.
        h.record(5, cs(&[1, 4]));
        assert_eq!(h.at(u64::MAX), cs(&[1, 4]));
    }
}
