//! The linearizability checker: Wing & Gong's search with Lowe's memoization, as Porcupine
//! does it, over each key's sub-history (etcd's operations on different keys commute except
//! through revisions, which the robustness harness's invariants check across keys).
//!
//! Every operation is an interval from invocation to answer; the search tries to order them
//! so that each takes effect at one instant inside its interval and the [`model`] accepts
//! every answer. Indeterminate operations have no end (they may take effect at any later
//! time, or never: linearized last). Definitely failed operations and reads without an answer
//! constrain nothing and are left out.

use std::collections::HashSet;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use crate::history::{Completion, Op, Outcome, Record};
use crate::model::{self, KeyState, StateSet};

/// What the checker counts as a linearizable operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPolicy {
    /// Serializable reads are left out: etcd does not promise they are linearizable.
    LinearizableOnly,
    /// Serializable reads are checked too. They may be stale, so this is the deliberately
    /// unsafe setting that shows the checker finds real violations.
    IncludeSerializable,
}

/// The verdict for one key.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The key.
    pub key: Vec<u8>,
    /// A small sub-history of that key that is not linearizable, in invocation order.
    pub history: Vec<Record>,
}

/// The result of checking a whole history.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Operations that took part in the check.
    pub operations_checked: usize,
    /// Keys checked.
    pub keys: usize,
    /// Keys whose sub-history is not linearizable.
    pub violations: Vec<Violation>,
    /// Keys whose search ran out of its budget before reaching a verdict.
    pub inconclusive: Vec<Vec<u8>>,
}

/// Most configurations (linearized set and model states) one search remembers: bounds its
/// memory (16 bytes each) on long failing histories, whose search must exhaust them.
const MAX_CONFIGURATIONS: usize = 10_000_000;

/// Checks `records` key by key.
pub fn check(records: &[Record], policy: ReadPolicy) -> Report {
    let relevant: Vec<&Record> = records.iter().filter(|r| counts(r, policy)).collect();
    let mut keys: Vec<&[u8]> = relevant.iter().flat_map(|r| r.op.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut report = Report {
        operations_checked: relevant.len(),
        keys: keys.len(),
        violations: Vec::new(),
        inconclusive: Vec::new(),
    };
    for key in keys {
        let on_key: Vec<&Record> = relevant
            .iter()
            .copied()
            .filter(|r| r.op.keys().contains(&key))
            .collect();
        let ops = without_unseen_lost_writes(key, on_key);
        match search(key, &ops) {
            Ok(()) => {}
            Err(Failure::Stuck(stuck)) => report.violations.push(Violation {
                key: key.to_vec(),
                history: minimize(key, ops, stuck).into_iter().cloned().collect(),
            }),
            Err(Failure::OutOfBudget) => report.inconclusive.push(key.to_vec()),
        }
    }
    report
}

/// Whether the record takes part in the check at all.
fn counts(record: &Record, policy: ReadPolicy) -> bool {
    match (&record.op, &record.completion) {
        (_, Completion::Failed(_)) => false,
        (Op::Get { .. }, Completion::Indeterminate(_)) => false,
        (Op::Get { serializable, .. }, Completion::Ok(_)) => {
            !serializable || policy == ReadPolicy::IncludeSerializable
        }
        _ => true,
    }
}

fn outcome(record: &Record) -> Option<&Outcome> {
    match &record.completion {
        Completion::Ok(outcome) => Some(outcome),
        Completion::Failed(_) | Completion::Indeterminate(_) => None,
    }
}

/// One end of an operation's interval in the time-ordered list the search walks.
#[derive(Debug, Clone, Copy)]
struct Node {
    op: usize,
    is_call: bool,
    /// For a call, the index of its return node.
    partner: usize,
    prev: usize,
    next: usize,
}

/// Index of the list's head sentinel; `NONE` marks the end.
const HEAD: usize = 0;
const NONE: usize = usize::MAX;

/// The time-ordered doubly linked list of calls and returns, from which linearized
/// operations are lifted and, on backtracking, put back.
struct Timeline {
    nodes: Vec<Node>,
}

impl Timeline {
    fn new(ops: &[&Record]) -> Timeline {
        // (time, calls before returns at equal times, which treats touching intervals as
        // concurrent: the permissive reading), op, is_call
        let mut events: Vec<(u64, u8, usize, bool)> = Vec::with_capacity(2 * ops.len());
        for (i, record) in ops.iter().enumerate() {
            events.push((record.invoked_ns, 0, i, true));
            let end = match record.completion {
                Completion::Indeterminate(_) => u64::MAX,
                _ => record.completed_ns,
            };
            events.push((end, 1, i, false));
        }
        events.sort();
        let mut nodes = vec![Node {
            op: NONE,
            is_call: false,
            partner: NONE,
            prev: NONE,
            next: NONE,
        }];
        let mut return_node = vec![NONE; ops.len()];
        for &(_, _, op, is_call) in &events {
            let index = nodes.len();
            nodes.push(Node {
                op,
                is_call,
                partner: NONE,
                prev: index - 1,
                next: NONE,
            });
            nodes[index - 1].next = index;
            if !is_call {
                return_node[op] = index;
            }
        }
        for node in nodes.iter_mut().skip(1) {
            if node.is_call {
                node.partner = return_node[node.op];
            }
        }
        Timeline { nodes }
    }

    fn first(&self) -> usize {
        self.nodes[HEAD].next
    }

    fn unlink(&mut self, index: usize) {
        let Node { prev, next, .. } = self.nodes[index];
        self.nodes[prev].next = next;
        if next != NONE {
            self.nodes[next].prev = prev;
        }
    }

    fn relink(&mut self, index: usize) {
        let Node { prev, next, .. } = self.nodes[index];
        self.nodes[prev].next = index;
        if next != NONE {
            self.nodes[next].prev = index;
        }
    }

    /// Takes a call and its return out of the list.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        self.unlink(self.nodes[call].partner);
    }

    /// Undoes [`Timeline::lift`] (in reverse order, so the links come back exactly).
    fn unlift(&mut self, call: usize) {
        self.relink(self.nodes[call].partner);
        self.relink(call);
    }
}

/// Whether the operations on `key` have a linearization the model accepts, as far as the
/// search budget tells (a search that runs out counts as linearizable: minimizing then keeps
/// what it cannot prove unnecessary).
fn is_linearizable(key: &[u8], ops: &[&Record]) -> bool {
    !matches!(search(key, ops), Err(Failure::Stuck(_)))
}

/// Why a search found no linearization.
#[derive(Debug, Clone, Copy)]
enum Failure {
    /// There is none.
    Stuck(Stuck),
    /// It gave up after [`MAX_CONFIGURATIONS`].
    OutOfBudget,
}

/// Where a failed search got stuck: the answer time of the operation that blocked its
/// deepest attempt. The violation is usually close before it.
#[derive(Debug, Clone, Copy)]
struct Stuck {
    at_ns: u64,
}

/// Looks for a linearization of the operations on `key`.
fn search(key: &[u8], ops: &[&Record]) -> Result<(), Failure> {
    let mut timeline = Timeline::new(ops);
    let mut linearized = vec![0u64; ops.len().div_ceil(64)];
    let mut states: StateSet = vec![KeyState::initial()];
    // Configurations are remembered by two independent 64-bit hashes: a collision (about
    // 2^-128 a pair) could only hide a linearization, never invent one.
    let hashers = (RandomState::new(), RandomState::new());
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    // (call node, states before it)
    let mut stack: Vec<(usize, StateSet)> = Vec::new();
    let mut stuck = Stuck { at_ns: 0 };
    let mut deepest = 0;
    let mut entry = timeline.first();
    while timeline.first() != NONE {
        let node = timeline.nodes[entry];
        if node.is_call {
            let record = ops[node.op];
            let next = model::step(&states, key, &record.op, outcome(record));
            if !next.is_empty() {
                linearized[node.op / 64] |= 1 << (node.op % 64);
                let configuration = (&linearized, &next);
                let fingerprint = (
                    hashers.0.hash_one(configuration),
                    hashers.1.hash_one(configuration),
                );
                if seen.len() >= MAX_CONFIGURATIONS {
                    return Err(Failure::OutOfBudget);
                }
                if seen.insert(fingerprint) {
                    stack.push((entry, std::mem::replace(&mut states, next)));
                    timeline.lift(entry);
                    entry = timeline.first();
                    continue;
                }
                linearized[node.op / 64] &= !(1 << (node.op % 64));
            }
            entry = node.next;
        } else {
            // An operation answered before anything could take effect in its place.
            if stack.len() >= deepest {
                deepest = stack.len();
                stuck.at_ns = ops[node.op].completed_ns;
            }
            let Some((call, before)) = stack.pop() else {
                return Err(Failure::Stuck(stuck));
            };
            let op = timeline.nodes[call].op;
            linearized[op / 64] &= !(1 << (op % 64));
            states = before;
            timeline.unlift(call);
            entry = timeline.nodes[call].next;
        }
    }
    Ok(())
}

/// Leaves out lost writes that nothing depends on. A write whose answer was lost may be
/// linearized last, i.e. as if it never happened, which is always possible; it only matters
/// if its value was read, or if a later delete counted a key that might otherwise not have
/// existed. Every other lost write can go, which keeps the search from trying each of them at
/// every point of the history.
fn without_unseen_lost_writes<'a>(key: &[u8], ops: Vec<&'a Record>) -> Vec<&'a Record> {
    ops.iter()
        .copied()
        .filter(|r| {
            let lost_value_write = matches!(r.completion, Completion::Indeterminate(_))
                && r.op.written_value(key).is_some();
            !lost_value_write || ops.iter().any(|other| depends_on(key, other, r))
        })
        .collect()
}

/// Whether `other` may need `write` to have happened: it observed the value written, it is a
/// compare-and-swap that swapped on the revision the write got, or it is a delete that
/// removed the key and could have taken effect after the write.
fn depends_on(key: &[u8], other: &Record, write: &Record) -> bool {
    if std::ptr::eq(other, write) {
        return false;
    }
    let Some(value) = write.op.written_value(key) else {
        return false;
    };
    let swapped_on_it = match (&other.op, outcome(other), outcome(write)) {
        (
            Op::CompareAndSwap {
                expected_mod_revision,
                ..
            },
            Some(Outcome::CompareAndSwap { swapped: true, .. }),
            Some(written),
        ) => *expected_mod_revision == written.revision(),
        _ => false,
    };
    let removed_after_it = other.completed_ns > write.invoked_ns
        && matches!(outcome(other), Some(Outcome::Delete { deleted, .. }) if *deleted > 0);
    observes(other, value) || swapped_on_it || removed_after_it
}

/// Shrinks a non-linearizable sub-history, in three steps:
///
/// 1. the shortest failing prefix closed under real time (every operation invoked before the
///    last one in it finished): whatever comes later is linearized after it, so such a prefix
///    fails only if the whole history does;
/// 2. the shortest failing suffix of that, keeping the earlier writes it [depends on] and the
///    deletes from the first of those on (which an observed absence may depend on);
/// 3. dropping, one at a time, every operation whose removal keeps it failing — except
///    deletes, and writes a remaining operation depends on, without which it would fail for
///    a different reason than the one found.
///
/// [depends on]: depends_on
fn minimize<'a>(key: &[u8], mut ops: Vec<&'a Record>, stuck: Stuck) -> Vec<&'a Record> {
    /// Bounds the quadratic last step.
    const MAX_REMOVALS_TRIED: usize = 300;
    ops.sort_by_key(|r| r.invoked_ns);
    // A lost answer ends nothing: what follows may precede such an operation, whose own
    // effect nothing in the prefix constrains.
    let end = |r: &Record| match r.completion {
        Completion::Indeterminate(_) => r.invoked_ns,
        _ => r.completed_ns,
    };
    let prefix = |len: usize| -> Vec<&'a Record> {
        // Grow until nothing left out started before everything inside had finished.
        let mut len = len;
        loop {
            let finished = ops[..len].iter().map(|r| end(r)).max().unwrap_or(0);
            let closed = ops.iter().take_while(|r| r.invoked_ns <= finished).count();
            if closed <= len {
                return ops[..len].to_vec();
            }
            len = closed;
        }
    };
    // Exhausting a failing search is the costly part, so start from the prefix up to where
    // the search got stuck, which usually fails already.
    let up_to_stuck = ops
        .iter()
        .take_while(|r| r.invoked_ns <= stuck.at_ns)
        .count();
    let mut failing = ops.len();
    if up_to_stuck < failing && !is_linearizable(key, &prefix(up_to_stuck)) {
        failing = up_to_stuck;
    }
    let mut passing = 0;
    while failing - passing > 1 {
        let middle = passing + (failing - passing) / 2;
        if is_linearizable(key, &prefix(middle)) {
            passing = middle;
        } else {
            failing = middle;
        }
    }
    let ops = prefix(failing);
    let suffix = |start: usize| -> Vec<&'a Record> {
        let inside = &ops[start..];
        let writers: Vec<&Record> = ops[..start]
            .iter()
            .copied()
            .filter(|w| inside.iter().any(|r| depends_on(key, r, w)))
            .collect();
        let deletes_from = writers.first().map_or(u64::MAX, |w| w.invoked_ns);
        let deletes = ops[..start]
            .iter()
            .copied()
            .filter(|d| matches!(d.op, Op::Delete { .. }) && d.completed_ns >= deletes_from);
        let mut kept: Vec<&Record> = writers.iter().copied().chain(deletes).collect();
        kept.sort_by_key(|r| r.invoked_ns);
        kept.extend_from_slice(inside);
        kept
    };
    let (mut failing_start, mut passing_start) = (0, ops.len());
    while passing_start - failing_start > 1 {
        let middle = failing_start + (passing_start - failing_start) / 2;
        if is_linearizable(key, &suffix(middle)) {
            passing_start = middle;
        } else {
            failing_start = middle;
        }
    }
    let mut ops = suffix(failing_start);
    let mut tried = 0;
    let mut i = 0;
    while i < ops.len() && tried < MAX_REMOVALS_TRIED {
        let candidate = ops[i];
        let needed = ops.iter().any(|other| depends_on(key, other, candidate));
        if needed || matches!(candidate.op, Op::Delete { .. }) {
            i += 1;
            continue;
        }
        tried += 1;
        let rest: Vec<&Record> = ops
            .iter()
            .copied()
            .filter(|other| !std::ptr::eq(*other, candidate))
            .collect();
        if is_linearizable(key, &rest) {
            i += 1;
        } else {
            ops = rest;
        }
    }
    ops
}

fn observes(record: &Record, value: &[u8]) -> bool {
    let observed = match outcome(record) {
        Some(Outcome::Get { kv, .. }) => kv.as_ref(),
        Some(Outcome::CompareAndSwap { current, .. }) => current.as_ref(),
        _ => None,
    };
    observed.is_some_and(|o| o.value == value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Observed;

    fn record(client: usize, span: (u64, u64), op: Op, completion: Completion) -> Record {
        Record {
            client,
            op,
            invoked_ns: span.0,
            completed_ns: span.1,
            completion,
        }
    }

    fn put(client: usize, span: (u64, u64), value: &str, revision: i64) -> Record {
        record(
            client,
            span,
            Op::Put {
                key: b"k".to_vec(),
                value: value.into(),
            },
            Completion::Ok(Outcome::Put { revision }),
        )
    }

    fn lost_put(client: usize, start: u64, value: &str) -> Record {
        record(
            client,
            (start, start + 1),
            Op::Put {
                key: b"k".to_vec(),
                value: value.into(),
            },
            Completion::Indeterminate("timeout".into()),
        )
    }

    fn get(client: usize, span: (u64, u64), seen: Option<(&str, i64)>, revision: i64) -> Record {
        record(
            client,
            span,
            Op::Get {
                key: b"k".to_vec(),
                serializable: false,
            },
            Completion::Ok(Outcome::Get {
                revision,
                kv: seen.map(|(v, m)| Observed {
                    value: v.into(),
                    mod_revision: m,
                }),
            }),
        )
    }

    fn verdict(history: &[Record]) -> bool {
        check(history, ReadPolicy::LinearizableOnly)
            .violations
            .is_empty()
    }

    #[test]
    fn sequential_history_is_linearizable() {
        assert!(verdict(&[
            put(0, (0, 10), "a", 2),
            get(1, (20, 30), Some(("a", 2)), 2),
            put(0, (40, 50), "b", 3),
            get(1, (60, 70), Some(("b", 3)), 3),
        ]));
    }

    #[test]
    fn a_stale_read_after_a_completed_write_is_a_violation() {
        let history = [
            put(0, (0, 10), "a", 2),
            put(0, (20, 30), "b", 3),
            get(1, (40, 50), Some(("a", 2)), 2),
        ];
        let report = check(&history, ReadPolicy::LinearizableOnly);
        assert_eq!(report.violations.len(), 1);
        assert_eq!(report.violations[0].key, b"k");
    }

    #[test]
    fn concurrent_operations_may_take_effect_in_either_order() {
        // The read overlaps the write: seeing the old or the new value are both fine.
        let base = put(0, (0, 10), "a", 2);
        for seen in [("a", 2), ("b", 3)] {
            let revision = seen.1;
            assert!(verdict(&[
                base.clone(),
                put(0, (20, 60), "b", 3),
                get(1, (30, 40), Some(seen), revision),
            ]));
        }
    }

    #[test]
    fn reads_cannot_flip_between_old_and_new_values() {
        // Two sequential reads during one write: once the new value was seen, the old one
        // may not come back.
        assert!(!verdict(&[
            put(0, (0, 10), "a", 2),
            put(0, (20, 100), "b", 3),
            get(1, (30, 40), Some(("b", 3)), 3),
            get(1, (50, 60), Some(("a", 2)), 2),
        ]));
        assert!(verdict(&[
            put(0, (0, 10), "a", 2),
            put(0, (20, 100), "b", 3),
            get(1, (30, 40), Some(("a", 2)), 2),
            get(1, (50, 60), Some(("b", 3)), 3),
        ]));
    }

    #[test]
    fn indeterminate_writes_may_or_may_not_have_happened() {
        let applied = [
            put(0, (0, 10), "a", 2),
            lost_put(0, 20, "b"),
            get(1, (100, 110), Some(("b", 3)), 3),
        ];
        let not_applied = [
            put(0, (0, 10), "a", 2),
            lost_put(0, 20, "b"),
            get(1, (100, 110), Some(("a", 2)), 2),
        ];
        assert!(verdict(&applied));
        assert!(verdict(&not_applied));
        // ...but not both, in that order.
        let both = [
            put(0, (0, 10), "a", 2),
            lost_put(0, 20, "b"),
            get(1, (100, 110), Some(("b", 3)), 3),
            get(1, (120, 130), Some(("a", 2)), 3),
        ];
        assert!(!verdict(&both));
    }

    #[test]
    fn lost_writes_nobody_depends_on_are_left_out_and_those_a_delete_counted_kept() {
        let mut history = vec![put(0, (0, 10), "a", 2)];
        for i in 0..30 {
            history.push(lost_put(1, 20 + i, &format!("lost-{i}")));
        }
        history.push(get(2, (100, 110), Some(("a", 2)), 2));
        let report = check(&history, ReadPolicy::LinearizableOnly);
        assert!(report.violations.is_empty());
        // Without the put it lost, this delete would have had nothing to delete.
        let delete_after_lost = [
            lost_put(1, 0, "lost"),
            record(
                2,
                (100, 110),
                Op::Delete { key: b"k".to_vec() },
                Completion::Ok(Outcome::Delete {
                    revision: 3,
                    deleted: 1,
                }),
            ),
        ];
        assert!(verdict(&delete_after_lost));
        // A delete sent before the lost put may still have taken effect after it.
        let overlapping_delete = [
            record(
                2,
                (0, 100),
                Op::Delete { key: b"k".to_vec() },
                Completion::Ok(Outcome::Delete {
                    revision: 3,
                    deleted: 1,
                }),
            ),
            lost_put(1, 10, "lost"),
        ];
        assert!(verdict(&overlapping_delete));
    }

    #[test]
    fn a_value_nobody_wrote_is_a_violation() {
        assert!(!verdict(&[get(1, (0, 10), Some(("ghost", 2)), 2)]));
    }

    #[test]
    fn serializable_reads_are_only_checked_when_asked() {
        let mut stale = get(1, (40, 50), Some(("a", 2)), 2);
        stale.op = Op::Get {
            key: b"k".to_vec(),
            serializable: true,
        };
        let history = [put(0, (0, 10), "a", 2), put(0, (20, 30), "b", 3), stale];
        assert!(verdict(&history));
        let unsafe_report = check(&history, ReadPolicy::IncludeSerializable);
        assert_eq!(unsafe_report.violations.len(), 1);
    }

    #[test]
    fn failed_operations_and_unanswered_reads_are_left_out() {
        let mut refused = put(0, (20, 30), "b", 0);
        refused.completion = Completion::Failed("etcdserver: too many requests".into());
        let mut unanswered = get(1, (40, 50), None, 0);
        unanswered.completion = Completion::Indeterminate("timeout".into());
        let history = [
            put(0, (0, 10), "a", 2),
            refused,
            unanswered,
            get(1, (60, 70), Some(("a", 2)), 2),
        ];
        let report = check(&history, ReadPolicy::LinearizableOnly);
        assert!(report.violations.is_empty());
        assert_eq!(report.operations_checked, 2);
    }

    #[test]
    fn the_reported_history_is_minimal() {
        let mut history = vec![put(0, (0, 10), "a", 2)];
        // Plenty of harmless reads around the violation.
        for i in 0..20 {
            let t = 100 + i * 10;
            history.push(get(2, (t, t + 5), Some(("a", 2)), 2));
        }
        history.push(put(0, (400, 410), "b", 3));
        history.push(get(1, (420, 430), Some(("a", 2)), 2));
        let report = check(&history, ReadPolicy::LinearizableOnly);
        assert_eq!(report.violations.len(), 1);
        let minimal = &report.violations[0].history;
        assert_eq!(minimal.len(), 3, "{minimal:#?}");
    }

    #[test]
    fn a_late_violation_after_a_long_history_is_reported_in_a_few_operations() {
        let mut history = Vec::new();
        // 300 writes, each read back: none can be dropped without orphaning its read.
        for i in 0..300u64 {
            let t = i * 100;
            let revision = i as i64 + 2;
            let value = format!("v{i}");
            history.push(put(0, (t, t + 10), &value, revision));
            history.push(get(1, (t + 20, t + 30), Some((&value, revision)), revision));
        }
        // A stale read at the end.
        history.push(get(2, (40_000, 40_010), Some(("v10", 12)), 12));
        let report = check(&history, ReadPolicy::LinearizableOnly);
        assert_eq!(report.violations.len(), 1);
        let minimal = &report.violations[0].history;
        assert!(minimal.len() <= 4, "{minimal:#?}");
        assert!(
            minimal.iter().any(|r| r.client == 2),
            "the stale read is named"
        );
    }

    #[test]
    fn minimizing_never_drops_the_delete_an_absence_depends_on() {
        let delete = record(
            0,
            (20, 30),
            Op::Delete { key: b"k".to_vec() },
            Completion::Ok(Outcome::Delete {
                revision: 3,
                deleted: 1,
            }),
        );
        let history = [
            put(0, (0, 10), "a", 2),
            delete,
            get(1, (40, 50), None, 3),
            put(0, (60, 70), "b", 4),
            // The real violation: b was written and read back, then a stale absence.
            get(1, (80, 90), Some(("b", 4)), 4),
            get(2, (100, 110), None, 3),
        ];
        let report = check(&history, ReadPolicy::LinearizableOnly);
        assert_eq!(report.violations.len(), 1);
        let minimal = &report.violations[0].history;
        let has_delete = minimal.iter().any(|r| matches!(r.op, Op::Delete { .. }));
        let reads_absent_after_a = minimal.iter().any(|r| r.client == 1 && r.invoked_ns == 40);
        assert!(has_delete || !reads_absent_after_a, "{minimal:#?}");
        assert!(
            minimal.iter().any(|r| r.client == 2),
            "the stale read is named"
        );
    }

    #[test]
    fn multi_key_puts_are_checked_on_every_key() {
        let multi = record(
            0,
            (0, 10),
            Op::MultiPut {
                pairs: vec![
                    (b"k".to_vec(), b"a".to_vec()),
                    (b"j".to_vec(), b"x".to_vec()),
                ],
            },
            Completion::Ok(Outcome::MultiPut { revision: 2 }),
        );
        let read_j = |seen: Option<Observed>| {
            record(
                1,
                (20, 30),
                Op::Get {
                    key: b"j".to_vec(),
                    serializable: false,
                },
                Completion::Ok(Outcome::Get {
                    revision: 2,
                    kv: seen,
                }),
            )
        };
        let seen = Observed {
            value: b"x".to_vec(),
            mod_revision: 2,
        };
        assert!(verdict(&[multi.clone(), read_j(Some(seen))]));
        assert!(!verdict(&[multi, read_j(None)]));
    }

    #[test]
    fn many_concurrent_clients_are_checked_quickly() {
        // 8 clients, 400 operations on one key, heavily overlapping: memoization keeps this
        // from exploding (a hang would hit the test runner's timeout).
        let mut history = Vec::new();
        let mut revision = 1;
        let mut last: Option<(String, i64)> = None;
        for round in 0..50u64 {
            for client in 0..8usize {
                let start = round * 100 + client as u64;
                if client % 2 == 0 {
                    revision += 1;
                    let value = format!("v{round}-{client}");
                    history.push(put(client, (start, start + 50), &value, revision));
                    last = Some((value, revision));
                } else {
                    let seen = last.as_ref().map(|(v, m)| (v.as_str(), *m));
                    history.push(get(client, (start, start + 50), seen, revision));
                }
            }
        }
        assert!(verdict(&history));
    }
}
