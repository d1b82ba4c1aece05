//! What workload clients record: every operation with the times it was invoked and answered
//! (monotonic nanoseconds since the run started) and what came back. A request that failed in
//! a way that leaves its effect unknown (a timeout, a broken connection, a lost leader) is
//! *indeterminate*: the checker must allow both that it took effect and that it did not.

use std::fmt;

/// One operation a workload client sends, as the checker understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `Put(key, value)`.
    Put { key: Vec<u8>, value: Vec<u8> },
    /// `Range(key)`; `serializable` reads are served from a member's local state and are not
    /// expected to be linearizable, so the checker leaves them out unless told otherwise.
    Get { key: Vec<u8>, serializable: bool },
    /// `DeleteRange(key)`.
    Delete { key: Vec<u8> },
    /// A compare-and-swap txn: if `mod_revision(key) == expected_mod_revision` (0 for a key
    /// that does not exist) then put `value`, else get `key`.
    CompareAndSwap {
        key: Vec<u8>,
        expected_mod_revision: i64,
        value: Vec<u8>,
    },
    /// A txn without compares that puts every pair at one revision.
    MultiPut { pairs: Vec<(Vec<u8>, Vec<u8>)> },
}

impl Op {
    /// Every key the operation touches.
    pub fn keys(&self) -> Vec<&[u8]> {
        match self {
            Op::Put { key, .. }
            | Op::Get { key, .. }
            | Op::Delete { key }
            | Op::CompareAndSwap { key, .. } => vec![key.as_slice()],
            Op::MultiPut { pairs } => pairs.iter().map(|(k, _)| k.as_slice()).collect(),
        }
    }

    /// The value the operation writes to `key`, if it writes one there.
    pub fn written_value(&self, key: &[u8]) -> Option<&[u8]> {
        match self {
            Op::Put { value, .. } | Op::CompareAndSwap { value, .. } => Some(value),
            Op::MultiPut { pairs } => pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_slice()),
            Op::Get { .. } | Op::Delete { .. } => None,
        }
    }

    /// Whether the operation can change the store.
    pub fn is_write(&self) -> bool {
        !matches!(self, Op::Get { .. })
    }
}

/// A key's value and modification revision as a response reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Observed {
    /// The value.
    pub value: Vec<u8>,
    /// Its `mod_revision`.
    pub mod_revision: i64,
}

/// What a successful response said. `revision` is always the response header's revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A put at `revision`.
    Put { revision: i64 },
    /// A read: the store was at `revision` and the key held `kv` (`None`: absent).
    Get { revision: i64, kv: Option<Observed> },
    /// A delete of `deleted` keys; at `revision` (a new one if anything was deleted).
    Delete { revision: i64, deleted: i64 },
    /// A compare-and-swap; when it did not swap, `current` is what the else-branch read.
    CompareAndSwap {
        revision: i64,
        swapped: bool,
        current: Option<Observed>,
    },
    /// A multi-key put at `revision`.
    MultiPut { revision: i64 },
}

impl Outcome {
    /// The response header's revision.
    pub fn revision(&self) -> i64 {
        match self {
            Outcome::Put { revision }
            | Outcome::Get { revision, .. }
            | Outcome::Delete { revision, .. }
            | Outcome::CompareAndSwap { revision, .. }
            | Outcome::MultiPut { revision } => *revision,
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// Answered; the answer.
    Ok(Outcome),
    /// Refused in a way that guarantees it had no effect (e.g. rejected before proposal).
    Failed(String),
    /// Its effect is unknown (timeout, lost connection, leader change).
    Indeterminate(String),
}

/// One operation of one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The client that sent it (each client sends one request at a time).
    pub client: usize,
    /// The request.
    pub op: Op,
    /// When it was sent.
    pub invoked_ns: u64,
    /// When its answer arrived (or the client gave up).
    pub completed_ns: u64,
    /// The answer.
    pub completion: Completion,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let op = match &self.op {
            Op::Put { key, value } => format!("put {} {}", show(key), show(value)),
            Op::Get { key, serializable } => {
                let kind = if *serializable { " (serializable)" } else { "" };
                format!("get {}{kind}", show(key))
            }
            Op::Delete { key } => format!("del {}", show(key)),
            Op::CompareAndSwap {
                key,
                expected_mod_revision,
                value,
            } => format!(
                "cas {} if mod_rev={expected_mod_revision} then {}",
                show(key),
                show(value)
            ),
            Op::MultiPut { pairs } => {
                let pairs: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{}={}", show(k), show(v)))
                    .collect();
                format!("multi-put {}", pairs.join(","))
            }
        };
        let kv = |kv: &Option<Observed>| match kv {
            Some(o) => format!("{}@{}", show(&o.value), o.mod_revision),
            None => "absent".to_owned(),
        };
        let answer = match &self.completion {
            Completion::Ok(Outcome::Put { revision }) => format!("ok rev {revision}"),
            Completion::Ok(Outcome::Get { revision, kv: got }) => {
                format!("ok rev {revision}: {}", kv(got))
            }
            Completion::Ok(Outcome::Delete { revision, deleted }) => {
                format!("ok rev {revision}, deleted {deleted}")
            }
            Completion::Ok(Outcome::CompareAndSwap {
                revision,
                swapped,
                current,
            }) => {
                if *swapped {
                    format!("ok rev {revision}, swapped")
                } else {
                    format!("ok rev {revision}, not swapped: {}", kv(current))
                }
            }
            Completion::Ok(Outcome::MultiPut { revision }) => format!("ok rev {revision}"),
            Completion::Failed(why) => format!("failed ({why})"),
            Completion::Indeterminate(why) => format!("indeterminate ({why})"),
        };
        write!(
            f,
            "client {} [{:.6}s, {:.6}s] {op} -> {answer}",
            self.client,
            self.invoked_ns as f64 / 1e9,
            self.completed_ns as f64 / 1e9
        )
    }
}
