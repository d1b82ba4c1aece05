//! Reading a WAL back: decodes every segment in order, rebuilds the raft log with the same
//! append semantics raft used when writing it (later records win), and finds where appending
//! can resume.

use std::fs;
use std::path::Path;

use raft::prelude::{Entry, HardState};

use super::codec::{self, Metadata, SnapshotMarker};
use super::record::{self, DecodeError, RecordType};
use super::segment::Segment;
use crate::error::{IoContext, RaftError};

/// The durable raft state recovered from a WAL.
#[derive(Debug, Clone, Default)]
pub struct WalState {
    /// The hard state last written.
    pub hard_state: HardState,
    /// The snapshot the log starts after.
    pub snapshot: SnapshotMarker,
    /// The log entries after the snapshot, consecutive from `snapshot.index + 1`.
    pub entries: Vec<Entry>,
}

/// Where appending resumes in the last segment.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tail {
    /// End of the last valid record.
    pub valid_end: u64,
    /// CRC of the last valid record (0 when the segment holds none).
    pub crc: u32,
    /// Whether damaged bytes after `valid_end` (a torn write) must be discarded.
    pub torn: bool,
}

/// Everything replay learned.
pub(super) struct Replayed {
    pub metadata: Metadata,
    pub state: WalState,
    pub tail: Tail,
}

/// The log as rebuilt so far.
#[derive(Default)]
struct LogBuilder {
    snapshot: SnapshotMarker,
    entries: Vec<Entry>,
    /// Set when replay starts in a segment whose entries begin after its header's (older)
    /// snapshot marker because the segments before it were released: the entries are valid
    /// but float until a later marker covers the gap below them.
    floating: bool,
    seen_entries: bool,
}

impl LogBuilder {
    fn term_of(&self, index: u64) -> Option<u64> {
        if index == self.snapshot.index {
            return Some(self.snapshot.term);
        }
        let first = self.entries.first()?.index;
        if index < first {
            return None;
        }
        self.entries.get((index - first) as usize).map(|e| e.term)
    }

    /// A snapshot either covers a prefix of our log (taken locally, or received while the log
    /// already matched it) or replaced the whole log (received from a leader).
    fn apply_marker(&mut self, m: SnapshotMarker) {
        if self.floating {
            let first = self.entries.first().map_or(u64::MAX, |e| e.index);
            if m.index < first.saturating_sub(1) {
                self.snapshot = m;
                return;
            }
            self.floating = false;
            if m.index + 1 == first {
                self.snapshot = m;
                return;
            }
        }
        if self.term_of(m.index) == Some(m.term) {
            let keep_from = self.entries.partition_point(|e| e.index <= m.index);
            self.entries.drain(..keep_from);
        } else {
            self.entries.clear();
        }
        self.snapshot = m;
    }

    fn append(&mut self, mut batch: Vec<Entry>) -> Result<(), String> {
        let covered = batch.partition_point(|e| e.index <= self.snapshot.index);
        batch.drain(..covered);
        let Some(first) = batch.first().map(|e| e.index) else {
            return Ok(());
        };
        let last = self.entries.last().map_or(self.snapshot.index, |e| e.index);
        let first_run = !self.seen_entries;
        self.seen_entries = true;
        if first > last + 1 {
            if !first_run {
                return Err(format!("entries jump from index {last} to {first}"));
            }
            self.floating = true;
            self.entries.clear();
        }
        let keep = self.entries.partition_point(|e| e.index < first);
        self.entries.truncate(keep);
        self.entries.append(&mut batch);
        Ok(())
    }
}

fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// Replays `segments` (in sequence order, at least one).
pub(super) fn replay(segments: &[Segment]) -> Result<Replayed, RaftError> {
    let mut log = LogBuilder::default();
    let mut hard_state = HardState::default();
    let mut metadata: Option<Metadata> = None;
    let mut tail = Tail {
        valid_end: 0,
        crc: 0,
        torn: false,
    };
    for (i, seg) in segments.iter().enumerate() {
        let is_last = i + 1 == segments.len();
        let data =
            fs::read(&seg.path).ctx(|| format!("read WAL segment {}", seg.path.display()))?;
        let mut offset = 0usize;
        let mut crc = 0u32;
        let mut torn = false;
        while offset < data.len() {
            let rest = &data[offset..];
            let rec = match record::decode(rest, crc) {
                Ok(rec) => rec,
                Err(err) => {
                    torn = classify_damage(&seg.path, offset, rest, err, is_last)?;
                    break;
                }
            };
            let corrupt = |reason: String| RaftError::corrupt(&seg.path, offset as u64, reason);
            if offset == 0 && rec.kind != RecordType::Metadata {
                return Err(corrupt(
                    "segment does not start with a metadata record".into(),
                ));
            }
            match rec.kind {
                RecordType::Metadata => {
                    let m = codec::get_metadata(rec.payload).map_err(|e| corrupt(e.0.into()))?;
                    match metadata {
                        Some(prev) if prev != m => {
                            return Err(corrupt(format!(
                                "metadata {m:?} differs from earlier segments' {prev:?}"
                            )));
                        }
                        _ => metadata = Some(m),
                    }
                }
                RecordType::HardState => {
                    hard_state =
                        codec::get_hard_state(rec.payload).map_err(|e| corrupt(e.0.into()))?;
                }
                RecordType::Entries => {
                    let batch = codec::get_entries(rec.payload).map_err(|e| corrupt(e.0.into()))?;
                    log.append(batch).map_err(corrupt)?;
                }
                RecordType::SnapshotMarker => {
                    let m =
                        codec::get_snapshot_marker(rec.payload).map_err(|e| corrupt(e.0.into()))?;
                    log.apply_marker(m);
                }
            }
            crc = rec.crc;
            offset += rec.size;
        }
        if is_last {
            tail = Tail {
                valid_end: offset as u64,
                crc,
                torn,
            };
        }
    }
    let last_path = segments.last().map(|s| s.path.clone()).unwrap_or_default();
    let metadata = metadata
        .ok_or_else(|| RaftError::corrupt(&last_path, 0, "WAL holds no metadata record"))?;
    if let Some(first) = log
        .entries
        .first()
        .filter(|f| f.index != log.snapshot.index + 1)
    {
        return Err(RaftError::corrupt(
            &last_path,
            0,
            format!(
                "log starts at index {} but the snapshot is at {}",
                first.index, log.snapshot.index
            ),
        ));
    }
    Ok(Replayed {
        metadata,
        state: WalState {
            hard_state,
            snapshot: log.snapshot,
            entries: log.entries,
        },
        tail,
    })
}

/// Decides whether an undecodable record ends the data (Ok(false)), is a torn write at the
/// tail of the last segment that must be cut off (Ok(true)), or is corruption (Err).
fn classify_damage(
    path: &Path,
    offset: usize,
    rest: &[u8],
    err: DecodeError,
    is_last: bool,
) -> Result<bool, RaftError> {
    let corrupt = |reason: String| Err(RaftError::corrupt(path, offset as u64, reason));
    match err {
        DecodeError::End if all_zero(rest) => Ok(false),
        DecodeError::End => corrupt("zeroed record header followed by data".into()),
        DecodeError::Truncated { .. } if is_last => Ok(true),
        DecodeError::Truncated { claimed_end } => corrupt(format!(
            "record claims {claimed_end} bytes but the segment ends"
        )),
        DecodeError::BadCrc { end } if is_last && all_zero(&rest[end..]) => Ok(true),
        DecodeError::BadCrc { .. } => corrupt("record CRC mismatch".into()),
        DecodeError::BadType(t) => corrupt(format!("unknown record type {t}")),
    }
}
