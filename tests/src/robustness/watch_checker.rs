//! Checks watch logs against etcd's watch guarantees and against the KV history:
//! - **ordered**: revisions only grow along a watcher's log;
//! - **unique**: no change is delivered twice;
//! - **atomic**: all changes of a revision arrive in one response;
//! - **reliable** and **resumable**: a watcher's changes, across every reconnect, are exactly
//!   the reference history up to where it got, and it got to the end;
//! - **bookmarkable**: after a progress notification at `P`, nothing at or below `P` arrives;
//! - the reference history (read back from revision 1 after the run) holds every
//!   acknowledged write at its revision, and every change in it comes from a write a client
//!   sent.

use std::collections::{BTreeMap, BTreeSet};

use super::history::{Completion, Op, Outcome, Record};
use super::watchers::{Change, WatchEntry, WatchLog};

/// A broken watch guarantee.
#[derive(Debug, Clone)]
pub struct WatchBroken {
    /// The watch client (`None`: the reference history itself).
    pub client: Option<usize>,
    /// What is wrong.
    pub what: String,
}

fn broken(client: Option<usize>, what: String) -> WatchBroken {
    WatchBroken { client, what }
}

/// Checks every log against `reference` (all changes of the watched keys, in order) and the
/// reference against the KV `records`.
pub fn check(logs: &[WatchLog], reference: &[Change], records: &[Record]) -> Vec<WatchBroken> {
    let mut found = check_reference(reference, records);
    for log in logs {
        found.extend(check_log(log, reference));
    }
    found
}

fn check_log(log: &WatchLog, reference: &[Change]) -> Vec<WatchBroken> {
    let who = Some(log.client);
    let mut found = Vec::new();
    let mut delivered: Vec<Change> = Vec::new();
    let mut last_revision = 0;
    let mut bookmark = 0;
    for entry in &log.entries {
        match entry {
            WatchEntry::Started { .. } => {}
            WatchEntry::Progress { revision } => bookmark = bookmark.max(*revision),
            WatchEntry::Canceled {
                compact_revision,
                reason,
            } => found.push(broken(
                who,
                format!("watch cancelled (compact revision {compact_revision}, reason {reason:?})"),
            )),
            WatchEntry::Events { header, changes } => {
                let (Some(first), Some(last)) = (changes.first(), changes.last()) else {
                    continue;
                };
                if first.revision <= last_revision {
                    found.push(broken(
                        who,
                        format!(
                            "a response starting at revision {} came after revision {last_revision} \
                             (out of order, repeated or a revision split across responses)",
                            first.revision
                        ),
                    ));
                }
                if first.revision <= bookmark {
                    found.push(broken(
                        who,
                        format!(
                            "revision {} delivered after a progress notification at {bookmark}",
                            first.revision
                        ),
                    ));
                }
                if changes.windows(2).any(|w| w[1].revision < w[0].revision) {
                    found.push(broken(
                        who,
                        format!("revisions out of order within a response: {changes:?}"),
                    ));
                }
                if *header < last.revision {
                    found.push(broken(
                        who,
                        format!(
                            "response header revision {header} below its last event's {}",
                            last.revision
                        ),
                    ));
                }
                last_revision = last_revision.max(last.revision);
                delivered.extend(changes.iter().cloned());
            }
        }
    }
    let unique: BTreeSet<(i64, &[u8])> = delivered
        .iter()
        .map(|c| (c.revision, c.key.as_slice()))
        .collect();
    if unique.len() != delivered.len() {
        found.push(broken(who, "a change was delivered twice".into()));
    }
    let expected: Vec<&Change> = reference
        .iter()
        .filter(|c| c.revision <= last_revision)
        .collect();
    let got: Vec<&Change> = delivered.iter().collect();
    if got != expected {
        let at = got
            .iter()
            .zip(&expected)
            .take_while(|(a, b)| a == b)
            .count();
        found.push(broken(
            who,
            format!(
                "delivered changes differ from the history at change {at}: got {:?}, history has {:?}",
                got.get(at),
                expected.get(at)
            ),
        ));
    }
    let end = reference.last().map_or(0, |c| c.revision);
    if last_revision < end {
        found.push(broken(
            who,
            format!("never caught up: stopped at revision {last_revision} of {end}"),
        ));
    }
    found
}

/// Every acknowledged write must be in the history at its revision, and every change in the
/// history must come from some write (values are unique, so each names its write).
fn check_reference(reference: &[Change], records: &[Record]) -> Vec<WatchBroken> {
    let mut found = Vec::new();
    let history: BTreeSet<&Change> = reference.iter().collect();
    let mut written: BTreeMap<(&[u8], &[u8]), &Record> = BTreeMap::new();
    for record in records {
        for key in record.op.keys() {
            if let Some(value) = record.op.written_value(key) {
                written.insert((key, value), record);
            }
        }
        let Completion::Ok(outcome) = &record.completion else {
            continue;
        };
        let expect: Vec<Change> = match (&record.op, outcome) {
            (Op::Put { key, value }, Outcome::Put { revision })
            | (
                Op::CompareAndSwap { key, value, .. },
                Outcome::CompareAndSwap {
                    revision,
                    swapped: true,
                    ..
                },
            ) => vec![Change {
                revision: *revision,
                key: key.clone(),
                value: Some(value.clone()),
            }],
            (Op::MultiPut { pairs }, Outcome::MultiPut { revision }) => pairs
                .iter()
                .map(|(key, value)| Change {
                    revision: *revision,
                    key: key.clone(),
                    value: Some(value.clone()),
                })
                .collect(),
            (Op::Delete { key }, Outcome::Delete { revision, deleted }) if *deleted > 0 => {
                vec![Change {
                    revision: *revision,
                    key: key.clone(),
                    value: None,
                }]
            }
            _ => Vec::new(),
        };
        for change in expect {
            if !history.contains(&change) {
                found.push(broken(
                    None,
                    format!("acknowledged write missing from the watch history: {record}"),
                ));
            }
        }
    }
    for change in reference {
        if let Some(value) = &change.value
            && !written.contains_key(&(change.key.as_slice(), value.as_slice()))
        {
            found.push(broken(
                None,
                format!("the history holds a value nobody wrote: {change:?}"),
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(revision: i64, key: &str, value: &str) -> Change {
        Change {
            revision,
            key: key.into(),
            value: Some(value.into()),
        }
    }

    fn events(changes: &[Change]) -> WatchEntry {
        WatchEntry::Events {
            header: changes.last().map_or(0, |c| c.revision),
            changes: changes.to_vec(),
        }
    }

    fn log(entries: Vec<WatchEntry>) -> WatchLog {
        WatchLog { client: 0, entries }
    }

    fn reference() -> Vec<Change> {
        vec![
            put(2, "a", "1"),
            put(3, "a", "2"),
            put(3, "b", "3"),
            put(4, "b", "4"),
        ]
    }

    #[test]
    fn a_complete_resumed_log_passes() {
        let r = reference();
        let good = log(vec![
            WatchEntry::Started { from: 1 },
            events(&r[..1]),
            WatchEntry::Progress { revision: 2 },
            WatchEntry::Started { from: 3 },
            events(&r[1..3]),
            events(&r[3..]),
        ]);
        assert!(
            check_log(&good, &r).is_empty(),
            "{:?}",
            check_log(&good, &r)
        );
    }

    #[test]
    fn gaps_duplicates_split_revisions_and_late_events_are_caught() {
        let r = reference();
        let gap = log(vec![events(&r[..1]), events(&r[3..])]);
        assert!(!check_log(&gap, &r).is_empty(), "a lost change");
        let duplicate = log(vec![events(&r[..2]), events(&r[1..])]);
        assert!(!check_log(&duplicate, &r).is_empty(), "a repeated change");
        let split = log(vec![events(&r[..2]), events(&r[2..])]);
        assert!(!check_log(&split, &r).is_empty(), "revision 3 split in two");
        let late = log(vec![
            events(&r[..1]),
            WatchEntry::Progress { revision: 3 },
            events(&r[1..]),
        ]);
        assert!(
            !check_log(&late, &r).is_empty(),
            "an event behind a bookmark"
        );
        let stuck = log(vec![events(&r[..3])]);
        assert!(
            !check_log(&stuck, &r).is_empty(),
            "never reached revision 4"
        );
    }
}
