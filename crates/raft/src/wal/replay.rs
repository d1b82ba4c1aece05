//! Reading a WAL back: decodes every segment in order, rebuilds the raft log with the same
//! append semantics raft used when writing it (later records win), and finds where appending
//! can resume — telling a torn, never-acknowledged tail (cut) from damage to synced records
//! (refused).

use std::fs;
use std::path::Path;

use raft::prelude::{Entry, HardState};

use super::codec::{self, Metadata, SnapshotMarker};
use super::record::{self, DecodeError, RecordType};
use super::segment::Segment;
use crate::error::{IoContext, RaftError};

/// The durable raft state recovered from a WAL.
#[derive(Debug, Clone, Default)]
pub(crate) struct WalState {
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
    /// Bytes of a torn write after `valid_end` (up to the last non-zero byte) that must be
    /// cut off before appending; 0 when the segment ends cleanly.
    pub torn_bytes: u64,
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
        torn_bytes: 0,
    };
    for (i, seg) in segments.iter().enumerate() {
        let is_last = i + 1 == segments.len();
        let data =
            fs::read(&seg.path).ctx(|| format!("read WAL segment {}", seg.path.display()))?;
        let mut offset = 0usize;
        let mut crc = 0u32;
        let mut torn_bytes = 0;
        while offset < data.len() {
            let rec = match record::decode(&data[offset..], crc) {
                Ok(rec) => rec,
                Err(err) => {
                    let damage = Damage {
                        path: &seg.path,
                        data: &data,
                        offset,
                        prev_crc: crc,
                    };
                    torn_bytes = damage.classify(err, is_last)?;
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
                torn_bytes,
            };
        }
    }
    let last_path = segments.last().map(|s| s.path.clone()).unwrap_or_default();
    let metadata = metadata
        .ok_or_else(|| RaftError::corrupt(&last_path, 0, "WAL holds no metadata record"))?;
    // Segments are only ever released from the front once a snapshot covers everything before
    // the next one, so the oldest remaining segment never starts past the latest snapshot.
    if let Some(first) = segments
        .first()
        .filter(|s| s.first_index.saturating_sub(1) > log.snapshot.index)
    {
        return Err(RaftError::corrupt(
            &first.path,
            0,
            format!(
                "the oldest WAL segment starts at index {} but the latest snapshot is at \
                 index {}: the segments before it are missing",
                first.first_index, log.snapshot.index
            ),
        ));
    }
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

/// A record that does not decode, in the segment it was found in.
struct Damage<'a> {
    path: &'a Path,
    /// The whole segment.
    data: &'a [u8],
    /// Where the undecodable record starts.
    offset: usize,
    /// CRC of the last valid record before it.
    prev_crc: u32,
}

impl Damage<'_> {
    /// Decides whether an undecodable record is the clean end of the data (zeros up to the end
    /// of the file: `Ok(0)`), a torn write at the tail of the last segment that must be cut
    /// (`Ok(bytes to drop)`), or corruption of data that was synced (`Err`).
    ///
    /// Only the last segment can hold a write that was interrupted, and only after its last
    /// valid record; and a write is acknowledged only once it was synced as a whole. So the
    /// damage is a torn, never-acknowledged write exactly when nothing after it was ever
    /// acknowledged either: when no CRC-correct record follows it. The disk may persist the
    /// pages of an interrupted write in any order, so zeros followed by written bytes are torn
    /// too as long as those bytes hold no valid record. A valid record after the damage proves
    /// the damaged bytes were synced before it: refused, as is anything in an older segment.
    fn classify(&self, err: DecodeError, is_last: bool) -> Result<u64, RaftError> {
        let rest = &self.data[self.offset..];
        let what = match err {
            // The preallocated, never written part of the last segment. A sealed segment was
            // cut to its data when it was rolled, so zeros there replaced synced records.
            DecodeError::End if all_zero(rest) && is_last => return Ok(0),
            DecodeError::End if all_zero(rest) => "zero-filled bytes where records were".to_owned(),
            // The CRC matched: this record was written whole, so it is not a torn write.
            DecodeError::BadType(t) => return Err(self.corrupt(format!("unknown record type {t}"))),
            DecodeError::End => "zeroed record header followed by data".to_owned(),
            DecodeError::Truncated { claimed_end } => format!(
                "record claims {claimed_end} bytes but only {} remain in the segment",
                rest.len()
            ),
            DecodeError::BadCrc { .. } => "record CRC mismatch".to_owned(),
        };
        if !is_last {
            return Err(self.corrupt(format!(
                "{what} in a sealed segment (only the last segment may end in a torn write)"
            )));
        }
        if let Some(valid) = self.valid_record_after() {
            return Err(self.corrupt(format!(
                "{what}, followed by a valid record at offset {valid}: the damaged record \
                 was synced (acknowledged), so it is not a torn write"
            )));
        }
        let written_end = rest.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        Ok(written_end as u64)
    }

    /// The offset of the first CRC-correct record after the damage, if any. Its chain seed is
    /// unknown once the chain broke, so three candidates are tried: the CRC the damaged
    /// record stores (right if only its length or payload was hit), the CRC it should have
    /// (right if only its stored CRC was hit), and the CRC stored by any record header that
    /// claims to end exactly where the candidate starts (its intact predecessor).
    fn valid_record_after(&self) -> Option<usize> {
        let data = self.data;
        let damaged = &data[self.offset..];
        let mut seeds: Vec<u32> = record::recompute(damaged, self.prev_crc)
            .into_iter()
            .collect();
        if damaged.len() >= record::HEADER_LEN {
            seeds.push(u32::from_le_bytes([
                damaged[5], damaged[6], damaged[7], damaged[8],
            ]));
        }
        // Seeds offered by headers that claim to end at a given offset.
        let mut predecessors: std::collections::HashMap<usize, Vec<u32>> = Default::default();
        if let Some((end, crc)) = record::peek(damaged) {
            predecessors.entry(self.offset + end).or_default().push(crc);
        }
        // A record's type byte is never zero, so none starts in the zero-filled end.
        let written_end = data.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        for p in self.offset + 1..written_end {
            let Some((end, crc)) = record::peek(&data[p..]) else {
                continue;
            };
            let chained = seeds
                .iter()
                .chain(predecessors.get(&p).into_iter().flatten())
                .any(|&seed| record::decode(&data[p..], seed).is_ok());
            if chained {
                return Some(p);
            }
            predecessors.entry(p + end).or_default().push(crc);
        }
        None
    }

    fn corrupt(&self, reason: String) -> RaftError {
        RaftError::corrupt(self.path, self.offset as u64, reason)
    }
}
