//! Checks over a whole history that tie keys together through etcd's global revision, which
//! the per-key linearizability check cannot see:
//!
//! - every change has its own revision (a multi-key txn one for all its keys);
//! - real time respects revisions: an operation that started after another finished never
//!   observes an older revision, and a change made after it gets a newer one;
//! - every client's view only moves forward.
//!
//! Serializable reads are excluded: etcd allows them to be stale.

use std::collections::HashMap;

use super::history::{Completion, Op, Outcome, Record};

/// One broken invariant, with the operations that show it.
#[derive(Debug, Clone)]
pub struct Broken {
    /// What is wrong.
    pub what: String,
    /// The operations involved.
    pub records: Vec<Record>,
}

/// Whether the answer created a new revision.
fn changed_store(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Put { .. } | Outcome::MultiPut { .. } => true,
        Outcome::Delete { deleted, .. } => *deleted > 0,
        Outcome::CompareAndSwap { swapped, .. } => *swapped,
        Outcome::Get { .. } => false,
    }
}

/// The answered, linearizable operations with their answers.
fn answered(records: &[Record]) -> Vec<(&Record, &Outcome)> {
    records
        .iter()
        .filter(|r| {
            !matches!(
                r.op,
                Op::Get {
                    serializable: true,
                    ..
                }
            )
        })
        .filter_map(|r| match &r.completion {
            Completion::Ok(outcome) => Some((r, outcome)),
            _ => None,
        })
        .collect()
}

/// Every invariant the history breaks (empty: none).
pub fn check(records: &[Record]) -> Vec<Broken> {
    let ops = answered(records);
    let mut broken = Vec::new();
    unique_revisions(&ops, &mut broken);
    real_time_order(&ops, &mut broken);
    client_views(&ops, &mut broken);
    broken
}

fn unique_revisions(ops: &[(&Record, &Outcome)], broken: &mut Vec<Broken>) {
    let mut by_revision: HashMap<i64, &Record> = HashMap::new();
    for (record, outcome) in ops.iter().filter(|(_, o)| changed_store(o)) {
        if let Some(first) = by_revision.insert(outcome.revision(), record) {
            broken.push(Broken {
                what: format!("two changes share revision {}", outcome.revision()),
                records: vec![first.clone(), (*record).clone()],
            });
        }
    }
}

fn real_time_order(ops: &[(&Record, &Outcome)], broken: &mut Vec<Broken>) {
    // Sweep by invocation time, remembering the highest revision of everything that had
    // finished before: a later operation may not observe less, nor change the store without
    // going beyond it.
    let mut by_completion: Vec<&(&Record, &Outcome)> = ops.iter().collect();
    by_completion.sort_by_key(|(r, _)| r.completed_ns);
    let mut by_invocation: Vec<&(&Record, &Outcome)> = ops.iter().collect();
    by_invocation.sort_by_key(|(r, _)| r.invoked_ns);
    let mut finished = 0;
    let mut highest: Option<(&Record, i64)> = None;
    for (record, outcome) in by_invocation {
        while finished < by_completion.len()
            && by_completion[finished].0.completed_ns < record.invoked_ns
        {
            let (done, done_outcome) = by_completion[finished];
            if highest.is_none_or(|(_, rev)| done_outcome.revision() > rev) {
                highest = Some((done, done_outcome.revision()));
            }
            finished += 1;
        }
        let Some((earlier, floor)) = highest else {
            continue;
        };
        let revision = outcome.revision();
        let wrong = if changed_store(outcome) {
            revision <= floor
        } else {
            revision < floor
        };
        if wrong {
            broken.push(Broken {
                what: format!(
                    "revision {revision} observed after an operation that had finished at revision {floor}"
                ),
                records: vec![earlier.clone(), (*record).clone()],
            });
        }
    }
}

fn client_views(ops: &[(&Record, &Outcome)], broken: &mut Vec<Broken>) {
    let mut by_client: HashMap<usize, Vec<&(&Record, &Outcome)>> = HashMap::new();
    for op in ops {
        by_client.entry(op.0.client).or_default().push(op);
    }
    for (client, mut seen) in by_client {
        seen.sort_by_key(|(r, _)| r.invoked_ns);
        for pair in seen.windows(2) {
            let ((before, before_outcome), (after, after_outcome)) = (pair[0], pair[1]);
            let (a, b) = (before_outcome.revision(), after_outcome.revision());
            let wrong = if changed_store(after_outcome) {
                b <= a
            } else {
                b < a
            };
            if wrong {
                broken.push(Broken {
                    what: format!("client {client} saw revision {b} after revision {a}"),
                    records: vec![(*before).clone(), (*after).clone()],
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robustness::history::Observed;

    fn put(client: usize, key: &str, span: (u64, u64), revision: i64) -> Record {
        Record {
            client,
            op: Op::Put {
                key: key.into(),
                value: b"v".to_vec(),
            },
            invoked_ns: span.0,
            completed_ns: span.1,
            completion: Completion::Ok(Outcome::Put { revision }),
        }
    }

    fn get(client: usize, key: &str, span: (u64, u64), revision: i64) -> Record {
        Record {
            client,
            op: Op::Get {
                key: key.into(),
                serializable: false,
            },
            invoked_ns: span.0,
            completed_ns: span.1,
            completion: Completion::Ok(Outcome::Get {
                revision,
                kv: Some(Observed {
                    value: b"v".to_vec(),
                    mod_revision: 2,
                }),
            }),
        }
    }

    #[test]
    fn a_consistent_history_breaks_nothing() {
        let history = [
            put(0, "a", (0, 10), 2),
            put(1, "b", (5, 15), 3),
            get(0, "b", (20, 30), 3),
            get(1, "a", (20, 30), 3),
            put(0, "a", (40, 50), 4),
        ];
        assert!(check(&history).is_empty(), "{:?}", check(&history));
    }

    #[test]
    fn shared_revisions_are_found() {
        let broken = check(&[put(0, "a", (0, 10), 2), put(1, "b", (0, 10), 2)]);
        assert_eq!(broken.len(), 1);
        assert!(broken[0].what.contains("share revision 2"));
    }

    #[test]
    fn going_back_in_time_across_keys_is_found() {
        // The write to b finished at revision 5; a read of a that starts later sees 4.
        let broken = check(&[put(0, "b", (0, 10), 5), get(1, "a", (20, 30), 4)]);
        assert!(broken.iter().any(|b| b.what.contains("observed after")));
    }

    #[test]
    fn a_client_whose_view_moves_backwards_is_found() {
        let broken = check(&[get(0, "a", (0, 10), 7), get(0, "b", (20, 30), 6)]);
        assert!(broken.iter().any(|b| b.what.contains("client 0")));
    }

    #[test]
    fn serializable_reads_may_be_stale() {
        let mut stale = get(1, "a", (20, 30), 4);
        stale.op = Op::Get {
            key: b"a".to_vec(),
            serializable: true,
        };
        assert!(check(&[put(0, "b", (0, 10), 5), stale]).is_empty());
    }
}
