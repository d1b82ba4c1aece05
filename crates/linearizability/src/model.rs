//! etcd's key-value semantics for one key, as the linearizability checker steps them: the
//! key's value and `mod_revision`, plus the highest store revision an operation has observed
//! so far (revisions only grow along the linearization, and a write gets a new one).
//!
//! The model is nondeterministic where the history leaves things open: a write whose answer
//! was lost took effect at an unknown revision, and a compare-and-swap whose answer was lost
//! may have swapped or not. A step therefore maps a set of possible states to the set of
//! states that could follow; an empty set means the operation cannot happen there.

use crate::history::{Observed, Op, Outcome};

/// A key's `mod_revision` as far as the history tells it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModRevision {
    /// Reported by a response.
    Known(i64),
    /// Written by an indeterminate request: some revision above this one.
    Above(i64),
}

/// One possible state of one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyState {
    /// Value and modification revision; `None` when the key does not exist.
    pub kv: Option<(Vec<u8>, ModRevision)>,
    /// The highest store revision observed by the operations linearized so far.
    pub floor: i64,
}

impl KeyState {
    /// The state before any operation: absent, at revision 0.
    pub fn initial() -> KeyState {
        KeyState { kv: None, floor: 0 }
    }
}

/// The set of states the history still allows, kept sorted and free of duplicates so that
/// equal sets compare equal (the checker caches them).
pub type StateSet = Vec<KeyState>;

/// Applies `op` on `key` with its answer (`None`: indeterminate) to every state of `states`.
pub fn step(states: &StateSet, key: &[u8], op: &Op, outcome: Option<&Outcome>) -> StateSet {
    let mut next: StateSet = states
        .iter()
        .flat_map(|state| step_one(state, key, op, outcome))
        .collect();
    next.sort();
    next.dedup();
    next
}

fn step_one(state: &KeyState, key: &[u8], op: &Op, outcome: Option<&Outcome>) -> Vec<KeyState> {
    let floor = state.floor;
    match (op, outcome) {
        (Op::Put { value, .. }, Some(Outcome::Put { revision })) => {
            written(state, value, *revision).into_iter().collect()
        }
        (Op::MultiPut { .. }, Some(Outcome::MultiPut { revision })) => {
            let value = op.written_value(key).unwrap_or_default();
            written(state, value, *revision).into_iter().collect()
        }
        (Op::Put { value, .. }, None) => vec![written_unknown(state, value)],
        (Op::MultiPut { .. }, None) => {
            vec![written_unknown(
                state,
                op.written_value(key).unwrap_or_default(),
            )]
        }
        (Op::Get { .. }, Some(Outcome::Get { revision, kv })) => {
            read(state, kv.as_ref(), *revision).into_iter().collect()
        }
        (Op::Delete { .. }, Some(Outcome::Delete { revision, deleted })) => {
            let revision = *revision;
            let allowed = match &state.kv {
                Some(_) => *deleted == 1 && revision > floor,
                None => *deleted == 0 && revision >= floor,
            };
            if allowed {
                vec![KeyState {
                    kv: None,
                    floor: revision,
                }]
            } else {
                Vec::new()
            }
        }
        (Op::Delete { .. }, None) => vec![KeyState { kv: None, floor }],
        (
            Op::CompareAndSwap {
                expected_mod_revision,
                value,
                ..
            },
            Some(Outcome::CompareAndSwap {
                revision,
                swapped: true,
                ..
            }),
        ) => {
            let Some(bound) = bind_mod_revision(state, *expected_mod_revision, true) else {
                return Vec::new();
            };
            written(&bound, value, *revision).into_iter().collect()
        }
        (
            Op::CompareAndSwap {
                expected_mod_revision,
                ..
            },
            Some(Outcome::CompareAndSwap {
                revision,
                swapped: false,
                current,
            }),
        ) => read(state, current.as_ref(), *revision)
            .filter(|after| current_mod_revision(after) != *expected_mod_revision)
            .into_iter()
            .collect(),
        (
            Op::CompareAndSwap {
                expected_mod_revision,
                value,
                ..
            },
            None,
        ) => {
            // Either the comparison held and the swap happened at an unknown revision, or
            // it did not and nothing changed.
            let mut next = Vec::new();
            if let Some(bound) = bind_mod_revision(state, *expected_mod_revision, true) {
                next.push(written_unknown(&bound, value));
            }
            if bind_mod_revision(state, *expected_mod_revision, false).is_some() {
                next.push(state.clone());
            }
            next
        }
        // An answer of the wrong kind never matches.
        _ => Vec::new(),
    }
}

/// A write answered at `revision`: the revision must be new.
fn written(state: &KeyState, value: &[u8], revision: i64) -> Option<KeyState> {
    (revision > state.floor).then(|| KeyState {
        kv: Some((value.to_vec(), ModRevision::Known(revision))),
        floor: revision,
    })
}

/// A write whose answer was lost: it took some revision above everything observed so far.
fn written_unknown(state: &KeyState, value: &[u8]) -> KeyState {
    KeyState {
        kv: Some((value.to_vec(), ModRevision::Above(state.floor))),
        floor: state.floor,
    }
}

/// A read at `revision` that saw `observed`: the store cannot have gone back in time, and the
/// value must be the state's (which pins down an unknown modification revision).
fn read(state: &KeyState, observed: Option<&Observed>, revision: i64) -> Option<KeyState> {
    if revision < state.floor {
        return None;
    }
    let kv = match (&state.kv, observed) {
        (None, None) => None,
        (Some((value, ModRevision::Known(m))), Some(o))
            if *value == o.value && *m == o.mod_revision =>
        {
            state.kv.clone()
        }
        (Some((value, ModRevision::Above(above))), Some(o))
            if *value == o.value && o.mod_revision > *above && o.mod_revision <= revision =>
        {
            Some((value.clone(), ModRevision::Known(o.mod_revision)))
        }
        _ => return None,
    };
    Some(KeyState {
        kv,
        floor: revision,
    })
}

/// The state with its modification revision pinned so that comparing it with `expected`
/// gives `equal`, or `None` if that cannot be.
fn bind_mod_revision(state: &KeyState, expected: i64, equal: bool) -> Option<KeyState> {
    match &state.kv {
        None => ((expected == 0) == equal).then(|| state.clone()),
        Some((_, ModRevision::Known(m))) => ((*m == expected) == equal).then(|| state.clone()),
        Some((value, ModRevision::Above(above))) => {
            if equal {
                (expected > *above).then(|| KeyState {
                    kv: Some((value.clone(), ModRevision::Known(expected))),
                    floor: state.floor,
                })
            } else {
                // Some revision above `above` other than `expected` always exists.
                Some(state.clone())
            }
        }
    }
}

fn current_mod_revision(state: &KeyState) -> i64 {
    match &state.kv {
        None => 0,
        Some((_, ModRevision::Known(m))) => *m,
        // Only reached after `read` pinned it; an unknown revision never equals a given one.
        Some((_, ModRevision::Above(_))) => -1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(value: &str) -> Op {
        Op::Put {
            key: b"k".to_vec(),
            value: value.as_bytes().to_vec(),
        }
    }

    fn get() -> Op {
        Op::Get {
            key: b"k".to_vec(),
            serializable: false,
        }
    }

    fn seen(value: &str, mod_revision: i64) -> Option<Observed> {
        Some(Observed {
            value: value.as_bytes().to_vec(),
            mod_revision,
        })
    }

    fn run(steps: &[(Op, Option<Outcome>)]) -> StateSet {
        let mut states = vec![KeyState::initial()];
        for (op, outcome) in steps {
            states = step(&states, b"k", op, outcome.as_ref());
        }
        states
    }

    #[test]
    fn a_read_sees_the_last_write_and_never_goes_back() {
        let wrote = (put("a"), Some(Outcome::Put { revision: 2 }));
        let read = |revision, kv| (get(), Some(Outcome::Get { revision, kv }));
        assert!(!run(&[wrote.clone(), read(2, seen("a", 2))]).is_empty());
        assert!(!run(&[wrote.clone(), read(5, seen("a", 2))]).is_empty());
        assert!(run(&[wrote.clone(), read(2, None)]).is_empty());
        assert!(run(&[wrote.clone(), read(1, seen("a", 2))]).is_empty());
        assert!(run(&[wrote.clone(), read(2, seen("a", 3))]).is_empty());
        let older = (put("b"), Some(Outcome::Put { revision: 2 }));
        assert!(
            run(&[wrote, older]).is_empty(),
            "a write needs a new revision"
        );
    }

    #[test]
    fn a_lost_write_is_pinned_by_the_read_that_sees_it() {
        let states = run(&[
            (put("a"), None),
            (
                get(),
                Some(Outcome::Get {
                    revision: 7,
                    kv: seen("a", 4),
                }),
            ),
        ]);
        assert_eq!(
            states,
            vec![KeyState {
                kv: Some((b"a".to_vec(), ModRevision::Known(4))),
                floor: 7
            }]
        );
        let too_new = run(&[
            (put("a"), None),
            (
                get(),
                Some(Outcome::Get {
                    revision: 3,
                    kv: seen("a", 4),
                }),
            ),
        ]);
        assert!(too_new.is_empty(), "a value cannot be newer than the read");
    }

    #[test]
    fn compare_and_swap_follows_the_modification_revision() {
        let cas = |expected, outcome| {
            (
                Op::CompareAndSwap {
                    key: b"k".to_vec(),
                    expected_mod_revision: expected,
                    value: b"c".to_vec(),
                },
                outcome,
            )
        };
        let wrote = (put("a"), Some(Outcome::Put { revision: 2 }));
        let swapped = Some(Outcome::CompareAndSwap {
            revision: 3,
            swapped: true,
            current: None,
        });
        let refused = Some(Outcome::CompareAndSwap {
            revision: 2,
            swapped: false,
            current: seen("a", 2),
        });
        assert!(!run(&[wrote.clone(), cas(2, swapped.clone())]).is_empty());
        assert!(run(&[wrote.clone(), cas(1, swapped)]).is_empty());
        assert!(!run(&[wrote.clone(), cas(1, refused.clone())]).is_empty());
        assert!(run(&[wrote.clone(), cas(2, refused)]).is_empty());
        // A lost CAS whose comparison holds swapped (had it not, it is linearized last).
        let lost = run(&[wrote, cas(2, None)]);
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].kv, Some((b"c".to_vec(), ModRevision::Above(2))));
        // Against a revision the history does not know, both outcomes stay open.
        assert_eq!(run(&[(put("a"), None), cas(5, None)]).len(), 2);
    }

    #[test]
    fn deletes_count_what_existed() {
        let del = |revision, deleted| {
            (
                Op::Delete { key: b"k".to_vec() },
                Some(Outcome::Delete { revision, deleted }),
            )
        };
        assert!(!run(&[del(1, 0)]).is_empty());
        assert!(run(&[del(2, 1)]).is_empty());
        let wrote = (put("a"), Some(Outcome::Put { revision: 2 }));
        assert!(!run(&[wrote.clone(), del(3, 1)]).is_empty());
        assert!(run(&[wrote.clone(), del(2, 1)]).is_empty());
        assert!(run(&[wrote, del(3, 0)]).is_empty());
    }
}
