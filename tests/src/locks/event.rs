//! What an `oxlocker` process reports, one [`Event`] per stdout line, and how its guarded
//! writes are laid out in etcd: `<name>-writes/<token>-<seq>` (unique per write, so the history
//! is every key under the prefix by revision) with value `<holder> <token> <seq>`, plus the
//! shared `<name>-resource` key every write overwrites with the same value.

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, Result, bail};

/// One step of a holder or campaigner, as printed on its stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The lock was granted with this fencing token.
    Acquired {
        /// The lock key's create revision.
        token: i64,
    },
    /// Guarded write `seq` of the tenure with `token` was applied at `revision`.
    Wrote {
        /// The tenure's fencing token.
        token: i64,
        /// The write's number within the tenure.
        seq: u64,
        /// The revision the transaction created.
        revision: i64,
    },
    /// Guarded write `seq` was refused: the lock key was gone (`held = false`).
    Refused {
        /// The tenure's fencing token.
        token: i64,
        /// The write's number within the tenure.
        seq: u64,
    },
    /// The holder unlocked after its writes.
    Released {
        /// The tenure's fencing token.
        token: i64,
    },
    /// The campaigner became leader; its key was created at `revision`.
    Leading {
        /// The create revision of the campaigner's key.
        revision: i64,
    },
    /// The leader proclaimed round `round`.
    Proclaimed {
        /// The create revision of the leader's key.
        revision: i64,
        /// The proclamation's number.
        round: u64,
    },
    /// A proclamation was refused: the campaigner no longer leads.
    Deposed {
        /// The create revision of the lost key.
        revision: i64,
    },
    /// The leader resigned.
    Resigned {
        /// The create revision of the resigned key.
        revision: i64,
    },
    /// A call failed (its outcome unknown); the process starts over.
    Failed {
        /// The error.
        what: String,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Acquired { token } => write!(f, "acquired {token}"),
            Event::Wrote {
                token,
                seq,
                revision,
            } => write!(f, "wrote {token} {seq} {revision}"),
            Event::Refused { token, seq } => write!(f, "refused {token} {seq}"),
            Event::Released { token } => write!(f, "released {token}"),
            Event::Leading { revision } => write!(f, "leading {revision}"),
            Event::Proclaimed { revision, round } => write!(f, "proclaimed {revision} {round}"),
            Event::Deposed { revision } => write!(f, "deposed {revision}"),
            Event::Resigned { revision } => write!(f, "resigned {revision}"),
            // One event per line: the error's own line breaks must not split it.
            Event::Failed { what } => write!(f, "failed {}", what.replace('\n', " ")),
        }
    }
}

impl FromStr for Event {
    type Err = anyhow::Error;

    fn from_str(line: &str) -> Result<Event> {
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        if kind == "failed" {
            return Ok(Event::Failed {
                what: rest.to_owned(),
            });
        }
        let numbers: Vec<i64> = rest
            .split_whitespace()
            .map(|n| n.parse().with_context(|| format!("{n:?} in {line:?}")))
            .collect::<Result<_>>()?;
        let event = match (kind, numbers.as_slice()) {
            ("acquired", &[token]) => Event::Acquired { token },
            ("wrote", &[token, seq, revision]) => Event::Wrote {
                token,
                seq: seq as u64,
                revision,
            },
            ("refused", &[token, seq]) => Event::Refused {
                token,
                seq: seq as u64,
            },
            ("released", &[token]) => Event::Released { token },
            ("leading", &[revision]) => Event::Leading { revision },
            ("proclaimed", &[revision, round]) => Event::Proclaimed {
                revision,
                round: round as u64,
            },
            ("deposed", &[revision]) => Event::Deposed { revision },
            ("resigned", &[revision]) => Event::Resigned { revision },
            _ => bail!("not an oxlocker event: {line:?}"),
        };
        Ok(event)
    }
}

/// The prefix under which the holders of lock `name` record their guarded writes.
pub fn history_prefix(name: &str) -> String {
    format!("{name}-writes/")
}

/// The key of guarded write `seq` in the tenure with `token`: unique, so never overwritten.
pub fn history_key(name: &str, token: i64, seq: u64) -> String {
    format!("{}{token:020}-{seq:06}", history_prefix(name))
}

/// The key every guarded write of lock `name` overwrites, standing for the protected resource.
pub fn resource_key(name: &str) -> String {
    format!("{name}-resource")
}

/// One guarded write as stored: who made it, under which token, its number in the tenure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteRecord {
    /// The holder process's id.
    pub holder: u64,
    /// The tenure's fencing token.
    pub token: i64,
    /// The write's number within the tenure.
    pub seq: u64,
}

impl fmt::Display for WriteRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.holder, self.token, self.seq)
    }
}

impl FromStr for WriteRecord {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<WriteRecord> {
        let fields: Vec<&str> = text.split(' ').collect();
        let &[holder, token, seq] = fields.as_slice() else {
            bail!("a write record has three fields: {text:?}");
        };
        Ok(WriteRecord {
            holder: holder
                .parse()
                .with_context(|| format!("holder in {text:?}"))?,
            token: token
                .parse()
                .with_context(|| format!("token in {text:?}"))?,
            seq: seq.parse().with_context(|| format!("seq in {text:?}"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_a_round_trip_through_their_line() {
        let events = [
            Event::Acquired { token: 7 },
            Event::Wrote {
                token: 7,
                seq: 2,
                revision: 11,
            },
            Event::Refused { token: 7, seq: 3 },
            Event::Released { token: 7 },
            Event::Leading { revision: 4 },
            Event::Proclaimed {
                revision: 4,
                round: 1,
            },
            Event::Deposed { revision: 4 },
            Event::Resigned { revision: 4 },
            Event::Failed {
                what: "deadline exceeded".into(),
            },
        ];
        for event in events {
            assert_eq!(event.to_string().parse::<Event>().unwrap(), event);
        }
        let multiline = Event::Failed {
            what: "a\nb".into(),
        };
        assert!(!multiline.to_string().contains('\n'));
        assert!("acquired".parse::<Event>().is_err());
        assert!("wrote 1 x 3".parse::<Event>().is_err());
    }

    #[test]
    fn history_keys_sort_by_token_then_seq_and_records_round_trip() {
        assert!(history_key("l", 9, 10) < history_key("l", 10, 0));
        assert!(history_key("l", 10, 2) < history_key("l", 10, 11));
        assert!(history_key("l", 3, 0).starts_with(&history_prefix("l")));
        let record = WriteRecord {
            holder: 2,
            token: 40,
            seq: 5,
        };
        assert_eq!(record.to_string().parse::<WriteRecord>().unwrap(), record);
        assert!("2 40".parse::<WriteRecord>().is_err());
    }
}
