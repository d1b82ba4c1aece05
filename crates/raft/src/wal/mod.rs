//! The write-ahead log: the durable copy of raft's hard state and log.
//!
//! Segments (`{seq:016x}-{first_index:016x}.wal`) are preallocated with `fallocate` (so a
//! full disk shows when a segment is created, not mid-write) and rolled at a size limit; each
//! begins with the member's metadata, the latest snapshot marker and hard state, so older
//! segments can be released once a snapshot covers all their entries (and deleted beyond
//! `max_wals`). Records are CRC-chained (see the `record` module). Appends are buffered and made
//! durable by one `fdatasync` per [`Wal::commit`] — once per raft Ready (group commit).
//!
//! Reading back never repairs damage except one kind: a torn write at the tail of the last
//! segment that no valid record follows, which cannot have been acknowledged (see the
//! `replay` module). Anything else — a gap in the segments, a bad record that valid ones
//! follow, damage in a sealed segment — is refused with the file and offset, leaving the
//! files as they are.

mod codec;
mod record;
mod replay;
mod segment;

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use raft::prelude::{Entry, HardState};

pub(crate) use codec::{Metadata, SnapshotMarker};
pub(crate) use replay::WalState;
pub(crate) use segment::Segment;

use crate::error::{IoContext, RaftError};
use crate::fsutil;

/// Size at which a segment is rolled (and to which it is preallocated).
pub(crate) const DEFAULT_SEGMENT_SIZE: u64 = 64 * 1024 * 1024;

/// etcd's default `--max-wals`.
pub(crate) const DEFAULT_MAX_WALS: usize = 5;

/// Tunables of the WAL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WalOptions {
    /// Segment size in bytes; a segment is rolled once its data reaches this size.
    pub segment_size: u64,
    /// Skip `fdatasync` on commit (etcd's `--unsafe-no-fsync`): a crash of the machine can
    /// lose acknowledged writes. Segment creation and rolling stay durable.
    pub unsafe_no_fsync: bool,
    /// Most segment files kept (etcd's `--max-wals`, 0 = no limit): segments a snapshot
    /// covers are deleted, oldest first, only while more than this many exist.
    pub max_wals: usize,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
            unsafe_no_fsync: false,
            max_wals: DEFAULT_MAX_WALS,
        }
    }
}

/// What a WAL directory holds, as found without changing anything in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WalDir {
    /// No directory, or no segment in it: nothing was ever logged.
    Empty,
    /// Only the first segment's temporary file: a new member crashed while creating its WAL,
    /// before anything could be logged (the rename of that file is the commit point).
    CreationInterrupted,
    /// Segments, in an unbroken sequence.
    Segments,
}

/// Looks at `dir` without touching it; a broken segment sequence is corruption.
pub(crate) fn inspect(dir: &Path) -> Result<WalDir, RaftError> {
    if !dir.exists() {
        return Ok(WalDir::Empty);
    }
    if !segment::list(dir)?.is_empty() {
        return Ok(WalDir::Segments);
    }
    if first_segment_tmp(dir).exists() {
        return Ok(WalDir::CreationInterrupted);
    }
    Ok(WalDir::Empty)
}

fn first_segment_tmp(dir: &Path) -> PathBuf {
    dir.join(format!("{}.tmp", segment::file_name(0, 1)))
}

/// An open write-ahead log, positioned for appending.
#[derive(Debug)]
pub(crate) struct Wal {
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
    /// Index of the latest persisted snapshot segments were released to: segments all of
    /// whose entries are at or below it may be deleted.
    released_to: u64,
}

/// A WAL read back and checked but not yet changed: the state it holds can be inspected (and
/// the snapshot it names checked) before [`Recovery::open`] cuts a torn tail and prepares the
/// last segment for appending.
pub(crate) struct Recovery {
    dir: PathBuf,
    metadata: Metadata,
    segments: Vec<Segment>,
    replayed: replay::Replayed,
}

impl Recovery {
    /// The raft state the WAL holds.
    pub(crate) fn state(&self) -> &WalState {
        &self.replayed.state
    }

    /// Cuts off a torn tail (the only repair ever made), preallocates the last segment and
    /// positions the WAL for appending.
    pub(crate) fn open(self, opts: WalOptions) -> Result<(Wal, WalState), RaftError> {
        let Recovery {
            dir,
            metadata,
            segments,
            replayed,
        } = self;
        let Some(last) = segments.last().cloned() else {
            return Err(RaftError::InvalidConfig(format!(
                "no WAL in {}",
                dir.display()
            )));
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&last.path)
            .ctx(|| format!("open WAL segment {}", last.path.display()))?;
        let tail = replayed.tail;
        if tail.torn_bytes > 0 {
            tracing::warn!(
                segment = %last.path.display(),
                offset = tail.valid_end,
                dropped_bytes = tail.torn_bytes,
                "WAL ends with a torn write that was never acknowledged (no valid record \
                 follows it); cutting it off"
            );
            file.set_len(tail.valid_end)
                .ctx(|| format!("truncate torn WAL tail of {}", last.path.display()))?;
        }
        let len = file
            .metadata()
            .ctx(|| format!("stat {}", last.path.display()))?
            .len();
        if len < opts.segment_size {
            fsutil::preallocate(&file, opts.segment_size)
                .ctx(|| format!("preallocate {}", last.path.display()))?;
        }
        if tail.torn_bytes > 0 || len < opts.segment_size {
            file.sync_all()
                .ctx(|| format!("sync {}", last.path.display()))?;
        }
        let state = replayed.state;
        let last_index = state
            .entries
            .last()
            .map_or(state.snapshot.index, |e| e.index);
        let mut wal = Wal {
            dir,
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
            released_to: state.snapshot.index,
        };
        if tail.valid_end == 0 {
            // The last segment was created but its header never made it to disk.
            wal.append_segment_header();
            wal.sync_pending()?;
        }
        Ok((wal, state))
    }
}

impl Wal {
    /// Creates a new WAL in `dir`, running `before_commit` once the first segment is written
    /// and synced under its temporary name but before it is renamed into place: whatever
    /// `before_commit` makes durable is then never seen without the WAL, and a crash before
    /// the rename leaves [`WalDir::CreationInterrupted`].
    pub(crate) fn create_with(
        dir: &Path,
        metadata: Metadata,
        opts: WalOptions,
        before_commit: impl FnOnce() -> Result<(), RaftError>,
    ) -> Result<Wal, RaftError> {
        fsutil::create_dir_all_durable(dir, 0o700)?;
        if inspect(dir)? == WalDir::Segments {
            return Err(RaftError::InvalidConfig(format!(
                "WAL directory {} already holds a WAL",
                dir.display()
            )));
        }
        let snapshot = SnapshotMarker::default();
        let new = NewSegment {
            dir,
            opts,
            metadata,
            seq: 0,
            first_index: 1,
            snapshot,
            hard_state: &HardState::default(),
        };
        let (seg, file, offset, crc) = new.create(before_commit)?;
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
            released_to: 0,
        })
    }

    /// Reads the WAL in `dir` without opening it for writing or repairing it (for offline
    /// tools): the identity it was written for and the raft state it holds. A torn tail is
    /// ignored, as [`Wal::open`] would cut it off.
    pub(crate) fn read(dir: &Path) -> Result<(Metadata, WalState), RaftError> {
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

    /// Replays the WAL in `dir` and checks it belongs to `metadata`'s member and cluster,
    /// changing nothing on disk: damage is reported, never repaired, at this stage.
    pub(crate) fn recover(dir: &Path, metadata: Metadata) -> Result<Recovery, RaftError> {
        let segments = segment::list(dir)?;
        if segments.is_empty() {
            return Err(RaftError::InvalidConfig(format!(
                "no WAL in {}",
                dir.display()
            )));
        }
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
        Ok(Recovery {
            dir: dir.to_path_buf(),
            metadata,
            segments,
            replayed,
        })
    }

    /// Buffers entries; they replace any logged entries from their first index on.
    pub(crate) fn append_entries(&mut self, entries: &[Entry]) {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return;
        };
        debug_assert!(
            first.index <= self.last_index + 1,
            "WAL entries must follow the log without a gap: {} after {}",
            first.index,
            self.last_index
        );
        debug_assert!(
            entries.windows(2).all(|w| w[1].index == w[0].index + 1),
            "WAL entries of one batch must be consecutive"
        );
        self.crc = record::encode(
            &mut self.pending,
            self.crc,
            record::RecordType::Entries,
            |b| codec::put_entries(b, entries),
        );
        self.last_index = last.index;
    }

    /// Buffers a hard state.
    pub(crate) fn append_hard_state(&mut self, hs: &HardState) {
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
    pub(crate) fn append_snapshot_marker(&mut self, marker: SnapshotMarker) {
        self.crc = record::encode(
            &mut self.pending,
            self.crc,
            record::RecordType::SnapshotMarker,
            |b| codec::put_snapshot_marker(b, marker),
        );
        self.snapshot = marker;
        self.last_index = self.last_index.max(marker.index);
    }

    /// Bytes of records buffered for the next write.
    pub(crate) fn pending_bytes(&self) -> usize {
        self.pending.len()
    }

    /// Writes the buffered records and makes them durable with one `fdatasync` (skipped with
    /// `unsafe_no_fsync`); rolls to a new segment when the current one is full. Returns
    /// whether it synced.
    pub(crate) fn commit(&mut self) -> Result<bool, RaftError> {
        if self.pending.is_empty() {
            return Ok(false);
        }
        let synced = if self.opts.unsafe_no_fsync {
            self.write_unsynced()?;
            false
        } else {
            self.sync_pending()?;
            true
        };
        if self.offset >= self.opts.segment_size {
            self.roll()?;
        }
        Ok(synced)
    }

    /// Writes the buffered records and syncs them whatever the options say: a segment
    /// header must be durable before anything is appended after it.
    fn sync_pending(&mut self) -> Result<(), RaftError> {
        self.write_unsynced()?;
        let path = self.current_path();
        self.file
            .sync_data()
            .ctx(|| format!("fdatasync WAL segment {}", path.display()))
    }

    /// Writes the buffered records without waiting for the disk: for records whose loss in a
    /// crash is harmless (a commit index only moving forward). A later [`Wal::commit`] or
    /// [`Wal::sync`] makes them durable.
    pub(crate) fn write_unsynced(&mut self) -> Result<(), RaftError> {
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

    /// Writes anything buffered and makes everything written durable (unless
    /// `unsafe_no_fsync`).
    pub(crate) fn sync(&mut self) -> Result<(), RaftError> {
        if self.opts.unsafe_no_fsync {
            return self.write_unsynced();
        }
        self.sync_pending()
    }

    /// Marks segments all of whose entries are at or below `index` (a persisted snapshot's
    /// index) as no longer needed and deletes the oldest of them while more than `max_wals`
    /// segments exist; returns how many were deleted. The current segment is always kept.
    pub(crate) fn release_to(&mut self, index: u64) -> Result<usize, RaftError> {
        self.released_to = self.released_to.max(index);
        self.purge()
    }

    fn purge(&mut self) -> Result<usize, RaftError> {
        let max = self.opts.max_wals;
        let mut removed = 0;
        let purgeable = |wal: &Wal| {
            max > 0
                && wal.segments.len() > max
                && wal.segments.len() > 1
                && wal.segments[1].first_index.saturating_sub(1) <= wal.released_to
        };
        if purgeable(self) && self.opts.unsafe_no_fsync {
            // Even without fsyncs, the snapshot marker that replaces a segment must be on
            // disk before the segment goes, or a power loss leaves a WAL with a hole.
            self.sync_pending()?;
        }
        while max > 0
            && self.segments.len() > max
            && self.segments.len() > 1
            && self.segments[1].first_index.saturating_sub(1) <= self.released_to
        {
            let seg = self.segments.remove(0);
            fs::remove_file(&seg.path)
                .ctx(|| format!("remove WAL segment {}", seg.path.display()))?;
            removed += 1;
        }
        if removed > 0 {
            fsutil::sync_dir(&self.dir)?;
        }
        Ok(removed)
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
        let new = NewSegment {
            dir: &self.dir,
            opts: self.opts,
            metadata: self.metadata,
            seq,
            first_index: self.last_index + 1,
            snapshot: self.snapshot,
            hard_state: &self.hard_state,
        };
        let (seg, file, offset, crc) = new.create(|| Ok(()))?;
        tracing::debug!(segment = %seg.path.display(), "created a new WAL segment");
        self.segments.push(seg);
        self.file = file;
        self.offset = offset;
        self.crc = crc;
        self.purge()?;
        Ok(())
    }
}

/// A segment about to be created.
struct NewSegment<'a> {
    dir: &'a Path,
    opts: WalOptions,
    metadata: Metadata,
    seq: u64,
    first_index: u64,
    snapshot: SnapshotMarker,
    hard_state: &'a HardState,
}

impl NewSegment<'_> {
    /// Creates the segment with its header records, preallocated, atomically (written and
    /// synced under a temporary name, then renamed, with the directory synced) so a crash
    /// never leaves a headerless segment behind. `before_commit` runs just before the rename.
    fn create(
        self,
        before_commit: impl FnOnce() -> Result<(), RaftError>,
    ) -> Result<(Segment, File, u64, u32), RaftError> {
        let name = segment::file_name(self.seq, self.first_index);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut header = Vec::new();
        let mut crc = record::encode(&mut header, 0, record::RecordType::Metadata, |b| {
            codec::put_metadata(b, self.metadata)
        });
        crc = record::encode(&mut header, crc, record::RecordType::SnapshotMarker, |b| {
            codec::put_snapshot_marker(b, self.snapshot)
        });
        crc = record::encode(&mut header, crc, record::RecordType::HardState, |b| {
            codec::put_hard_state(b, self.hard_state)
        });
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .ctx(|| format!("create WAL segment {}", tmp.display()))?;
        // Allocating first means a full disk fails here, before any record is written.
        fsutil::preallocate(&file, self.opts.segment_size.max(header.len() as u64))
            .ctx(|| format!("preallocate WAL segment {}", tmp.display()))?;
        file.write_all_at(&header, 0)
            .ctx(|| format!("write WAL segment {}", tmp.display()))?;
        file.sync_all()
            .ctx(|| format!("sync WAL segment {}", tmp.display()))?;
        // The temporary name must be durable before `before_commit` makes anything else
        // durable: it is what marks an interrupted WAL creation.
        fsutil::sync_dir(self.dir)?;
        before_commit()?;
        fs::rename(&tmp, &path)
            .ctx(|| format!("rename {} to {}", tmp.display(), path.display()))?;
        fsutil::sync_dir(self.dir)?;
        Ok((
            Segment {
                seq: self.seq,
                first_index: self.first_index,
                path,
            },
            file,
            header.len() as u64,
            crc,
        ))
    }
}

#[cfg(test)]
mod damage_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
