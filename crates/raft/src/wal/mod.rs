//! The write-ahead log: the durable copy of raft's hard state and log.
//!
//! Segments (`{seq:016x}-{first_index:016x}.wal`) are preallocated and rolled at a size
//! limit; each begins with the member's metadata, the latest snapshot marker and hard state,
//! so older segments can be released once a snapshot covers all their entries. Records are
//! CRC-chained (see [`record`]). Appends are buffered and made durable by one `fdatasync` per
//! [`Wal::commit`] — once per raft Ready (group commit).

mod codec;
mod record;
mod replay;
mod segment;

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use raft::prelude::{Entry, HardState};

pub use codec::{Metadata, SnapshotMarker};
pub use replay::WalState;
pub use segment::{Segment, sync_dir};

use crate::error::{IoContext, RaftError};

/// Size at which a segment is rolled (and to which it is preallocated).
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 * 1024 * 1024;

/// Tunables of the WAL.
#[derive(Debug, Clone, Copy)]
pub struct WalOptions {
    /// Segment size in bytes; a segment is rolled once its data reaches this size.
    pub segment_size: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
        }
    }
}

/// An open write-ahead log, positioned for appending.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    metadata: Metadata,
    segments: Vec<Segment>,
    file: File,
    /// Where the next write lands in the current segment.
    offset: u64,
    /// CRC of the last encoded record (pending ones included): the chain's next seed.
    crc: u32,
    /// Records encoded since the last commit.
    pending: Vec<u8>,
    last_index: u64,
    hard_state: HardState,
    snapshot: SnapshotMarker,
}

impl Wal {
    /// Whether `dir` holds a WAL.
    pub fn exists(dir: &Path) -> bool {
        segment::list(dir).is_ok_and(|s| !s.is_empty())
    }

    /// Creates a new WAL in `dir` (created if missing) for `metadata`.
    pub fn create(dir: &Path, metadata: Metadata, opts: WalOptions) -> Result<Wal, RaftError> {
        fs::create_dir_all(dir).ctx(|| format!("create WAL directory {}", dir.display()))?;
        if Wal::exists(dir) {
            return Err(RaftError::InvalidConfig(format!(
                "WAL directory {} already holds a WAL",
                dir.display()
            )));
        }
        let snapshot = SnapshotMarker::default();
        let (seg, file, offset, crc) =
            create_segment(dir, opts, metadata, 0, 1, snapshot, &HardState::default())?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            opts,
            metadata,
            segments: vec![seg],
            file,
            offset,
            crc,
            pending: Vec::new(),
            last_index: 0,
            hard_state: HardState::default(),
            snapshot,
        })
    }

    /// Reads the WAL in `dir` without opening it for writing or repairing it (for offline
    /// tools): the identity it was written for and the raft state it holds. A torn tail is
    /// ignored, as [`Wal::open`] would cut it off.
    pub fn read(dir: &Path) -> Result<(Metadata, WalState), RaftError> {
        let segments = segment::list(dir)?;
        if segments.is_empty() {
            return Err(RaftError::InvalidConfig(format!(
                "no WAL in {}",
                dir.display()
            )));
        }
        let replayed = replay::replay(&segments)?;
        Ok((replayed.metadata, replayed.state))
    }

    /// Opens the WAL in `dir`, replays it, checks it belongs to `metadata`'s member and
    /// cluster, cuts off a torn tail and positions it for appending.
    pub fn open(
        dir: &Path,
        metadata: Metadata,
        opts: WalOptions,
    ) -> Result<(Wal, WalState), RaftError> {
        let segments = segment::list(dir)?;
        let Some(last) = segments.last().cloned() else {
            return Err(RaftError::InvalidConfig(format!(
                "no WAL in {}",
                dir.display()
            )));
        };
        let replayed = replay::replay(&segments)?;
        if replayed.metadata.cluster_id != metadata.cluster_id {
            return Err(RaftError::ClusterIdMismatch {
                local: metadata.cluster_id,
                remote: replayed.metadata.cluster_id,
            });
        }
        if replayed.metadata.member_id != metadata.member_id {
            return Err(RaftError::MemberIdMismatch {
                expected: metadata.member_id,
                found: replayed.metadata.member_id,
            });
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&last.path)
            .ctx(|| format!("open WAL segment {}", last.path.display()))?;
        let tail = replayed.tail;
        if tail.torn {
            tracing::warn!(
                segment = %last.path.display(),
                offset = tail.valid_end,
                "WAL ends with a torn record (interrupted write); truncating it"
            );
            file.set_len(tail.valid_end)
                .ctx(|| format!("truncate torn WAL tail of {}", last.path.display()))?;
        }
        let len = file
            .metadata()
            .ctx(|| format!("stat {}", last.path.display()))?
            .len();
        if len < opts.segment_size {
            file.set_len(opts.segment_size)
                .ctx(|| format!("preallocate {}", last.path.display()))?;
        }
        if tail.torn || len < opts.segment_size {
            file.sync_all()
                .ctx(|| format!("sync {}", last.path.display()))?;
        }
        let state = replayed.state;
        let last_index = state
            .entries
            .last()
            .map_or(state.snapshot.index, |e| e.index);
        let mut wal = Wal {
            dir: dir.to_path_buf(),
            opts,
            metadata,
            segments,
            file,
            offset: tail.valid_end,
            crc: tail.crc,
            pending: Vec::new(),
            last_index,
            hard_state: state.hard_state.clone(),
            snapshot: state.snapshot,
        };
        if tail.valid_end == 0 {
            // The last segment was created but its header never made it to disk.
            wal.append_segment_header();
            wal.commit()?;
        }
        Ok((wal, state))
    }

    /// Buffers entries; they replace any logged entries from their first index on.
    pub fn append_entries(&mut self, entries: &[Entry]) {
        let Some(last) = entries.last() else { return };
        self.crc = record::encode(
            &mut self.pending,
            self.crc,
            record::RecordType::Entries,
            |b| codec::put_entries(b, entries),
        );
        self.last_index = last.index;
    }

    /// Buffers a hard state.
    pub fn append_hard_state(&mut self, hs: &HardState) {
        self.crc = record::encode(
            &mut self.pending,
            self.crc,
            record::RecordType::HardState,
            |b| codec::put_hard_state(b, hs),
        );
        self.hard_state = hs.clone();
    }

    /// Buffers a snapshot marker: the log up to `marker.index` is now covered by a snapshot
    /// (and, if the log did not hold that entry with that term, replaced by it).
    pub fn append_snapshot_marker(&mut self, marker: SnapshotMarker) {
        self.crc = record::encode(
            &mut self.pending,
            self.crc,
            record::RecordType::SnapshotMarker,
            |b| codec::put_snapshot_marker(b, marker),
        );
        self.snapshot = marker;
        self.last_index = self.last_index.max(marker.index);
    }

    /// Whether records are buffered but not yet durable.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Bytes of records buffered for the next write.
    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }

    /// Writes the buffered records and makes them durable with one `fdatasync`; rolls to a
    /// new segment when the current one is full.
    pub fn commit(&mut self) -> Result<(), RaftError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let path = self.current_path();
        self.file
            .write_all_at(&self.pending, self.offset)
            .ctx(|| format!("write WAL segment {}", path.display()))?;
        self.file
            .sync_data()
            .ctx(|| format!("fdatasync WAL segment {}", path.display()))?;
        self.offset += self.pending.len() as u64;
        self.pending.clear();
        if self.offset >= self.opts.segment_size {
            self.roll()?;
        }
        Ok(())
    }

    /// Writes the buffered records without waiting for the disk: for records whose loss in a
    /// crash is harmless (a commit index only moving forward). A later [`Wal::commit`] or
    /// [`Wal::sync`] makes them durable.
    pub fn write_unsynced(&mut self) -> Result<(), RaftError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let path = self.current_path();
        self.file
            .write_all_at(&self.pending, self.offset)
            .ctx(|| format!("write WAL segment {}", path.display()))?;
        self.offset += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Writes anything buffered and makes everything written durable.
    pub fn sync(&mut self) -> Result<(), RaftError> {
        self.write_unsynced()?;
        let path = self.current_path();
        self.file
            .sync_data()
            .ctx(|| format!("fdatasync WAL segment {}", path.display()))
    }

    /// Deletes segments all of whose entries are at or below `index` (a persisted snapshot's
    /// index); returns how many were released. The current segment is always kept.
    pub fn release_to(&mut self, index: u64) -> Result<usize, RaftError> {
        let mut released = 0;
        while self.segments.len() > 1 && self.segments[1].first_index.saturating_sub(1) <= index {
            let seg = self.segments.remove(0);
            fs::remove_file(&seg.path)
                .ctx(|| format!("remove WAL segment {}", seg.path.display()))?;
            released += 1;
        }
        if released > 0 {
            segment::sync_dir(&self.dir)?;
        }
        Ok(released)
    }

    /// The live segments, oldest first.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Index of the last entry logged (or of the snapshot when the log is empty).
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    fn current_path(&self) -> PathBuf {
        self.segments
            .last()
            .map(|s| s.path.clone())
            .unwrap_or_else(|| self.dir.clone())
    }

    fn append_segment_header(&mut self) {
        let (metadata, snapshot, hs) = (self.metadata, self.snapshot, self.hard_state.clone());
        self.crc = 0;
        self.crc = record::encode(&mut self.pending, 0, record::RecordType::Metadata, |b| {
            codec::put_metadata(b, metadata)
        });
        self.append_snapshot_marker(snapshot);
        self.append_hard_state(&hs);
    }

    /// Seals the current segment (dropping its preallocated tail) and starts the next one.
    fn roll(&mut self) -> Result<(), RaftError> {
        let path = self.current_path();
        self.file
            .set_len(self.offset)
            .ctx(|| format!("seal WAL segment {}", path.display()))?;
        self.file
            .sync_all()
            .ctx(|| format!("sync WAL segment {}", path.display()))?;
        let seq = self.segments.last().map_or(0, |s| s.seq + 1);
        let (seg, file, offset, crc) = create_segment(
            &self.dir,
            self.opts,
            self.metadata,
            seq,
            self.last_index + 1,
            self.snapshot,
            &self.hard_state,
        )?;
        tracing::debug!(segment = %seg.path.display(), "created a new WAL segment");
        self.segments.push(seg);
        self.file = file;
        self.offset = offset;
        self.crc = crc;
        Ok(())
    }
}

/// Creates segment `seq` with its header records, preallocated, atomically (written under a
/// temporary name, then renamed) so a crash never leaves a headerless segment behind.
fn create_segment(
    dir: &Path,
    opts: WalOptions,
    metadata: Metadata,
    seq: u64,
    first_index: u64,
    snapshot: SnapshotMarker,
    hs: &HardState,
) -> Result<(Segment, File, u64, u32), RaftError> {
    let name = segment::file_name(seq, first_index);
    let path = dir.join(&name);
    let tmp = dir.join(format!("{name}.tmp"));
    let mut header = Vec::new();
    let mut crc = record::encode(&mut header, 0, record::RecordType::Metadata, |b| {
        codec::put_metadata(b, metadata)
    });
    crc = record::encode(&mut header, crc, record::RecordType::SnapshotMarker, |b| {
        codec::put_snapshot_marker(b, snapshot)
    });
    crc = record::encode(&mut header, crc, record::RecordType::HardState, |b| {
        codec::put_hard_state(b, hs)
    });
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .ctx(|| format!("create WAL segment {}", tmp.display()))?;
    file.write_all_at(&header, 0)
        .ctx(|| format!("write WAL segment {}", tmp.display()))?;
    file.set_len(opts.segment_size.max(header.len() as u64))
        .ctx(|| format!("preallocate WAL segment {}", tmp.display()))?;
    file.sync_all()
        .ctx(|| format!("sync WAL segment {}", tmp.display()))?;
    fs::rename(&tmp, &path).ctx(|| format!("rename {} to {}", tmp.display(), path.display()))?;
    segment::sync_dir(dir)?;
    Ok((
        Segment {
            seq,
            first_index,
            path,
        },
        file,
        header.len() as u64,
        crc,
    ))
}

#[cfg(test)]
mod tests;
