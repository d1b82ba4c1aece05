//! Snapshot files in `snap_dir`.
//!
//! * `{term:016x}-{index:016x}.snap` — raft snapshot metadata (index, term, conf state) framed
//!   as `[crc32 u32][len u32][protobuf SnapshotMetadata]`; the state itself lives in the
//!   server's database, so raft snapshots carry no data.
//! * `{index:016x}.snap.db` — a state-machine database received from the leader, handed to the
//!   apply loop as [`crate::Apply::Snapshot`].
//! * `{index:016x}.gen.db` — a database copy this member made to send to a lagging follower.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use protobuf::Message as _;
use raft::prelude::SnapshotMetadata;

use crate::error::{IoContext, RaftError};

/// The snapshot directory.
#[derive(Debug, Clone)]
pub(crate) struct SnapStore {
    dir: PathBuf,
}

/// What a file in the snapshot directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SnapFile {
    Metadata { term: u64, index: u64 },
    ReceivedDb { index: u64 },
    GeneratedDb { index: u64 },
    Partial,
}

fn parse_hex(s: &str) -> Option<u64> {
    (s.len() == 16)
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
}

fn classify(name: &str) -> Option<SnapFile> {
    if name.ends_with(".part") || name.ends_with(".tmp") {
        return Some(SnapFile::Partial);
    }
    if let Some(stem) = name.strip_suffix(".snap.db") {
        return Some(SnapFile::ReceivedDb {
            index: parse_hex(stem)?,
        });
    }
    if let Some(stem) = name.strip_suffix(".gen.db") {
        return Some(SnapFile::GeneratedDb {
            index: parse_hex(stem)?,
        });
    }
    let stem = name.strip_suffix(".snap")?;
    let (term, index) = stem.split_once('-')?;
    Some(SnapFile::Metadata {
        term: parse_hex(term)?,
        index: parse_hex(index)?,
    })
}

/// Writes `bytes` to `path` through a synced temporary file; returns how long the sync took.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<Duration, RaftError> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
    f.write_all(bytes)
        .ctx(|| format!("write {}", tmp.display()))?;
    let syncing = Instant::now();
    f.sync_all().ctx(|| format!("sync {}", tmp.display()))?;
    let synced = syncing.elapsed();
    fs::rename(&tmp, path).ctx(|| format!("rename {} to {}", tmp.display(), path.display()))?;
    Ok(synced)
}

/// How long saving a snapshot's metadata took (etcd's snap save metrics).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SaveTimes {
    /// The file's sync.
    pub(crate) fsync: Duration,
    /// The whole save, directory sync included.
    pub(crate) total: Duration,
}

impl SnapStore {
    /// Opens (creating if needed) the snapshot directory and removes leftovers of interrupted
    /// writes and transfers.
    pub(crate) fn open(dir: &Path) -> Result<SnapStore, RaftError> {
        crate::fsutil::create_dir_all_durable(dir, 0o700)?;
        let store = SnapStore {
            dir: dir.to_path_buf(),
        };
        for (name, kind) in store.files()? {
            if matches!(kind, SnapFile::Partial | SnapFile::GeneratedDb { .. }) {
                let path = dir.join(name);
                fs::remove_file(&path).ctx(|| format!("remove {}", path.display()))?;
            }
        }
        Ok(store)
    }

    /// The snapshot metadata files and received databases in `dir` (none if it does not
    /// exist), found without changing anything: whether this member ever held raft state.
    pub(crate) fn durable_files(dir: &Path) -> Result<Vec<PathBuf>, RaftError> {
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let store = SnapStore {
            dir: dir.to_path_buf(),
        };
        let mut out: Vec<PathBuf> = store
            .files()?
            .into_iter()
            .filter(|(_, kind)| {
                matches!(
                    kind,
                    SnapFile::Metadata { .. } | SnapFile::ReceivedDb { .. }
                )
            })
            .map(|(name, _)| dir.join(name))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Where the metadata of the snapshot at (`index`, `term`) is stored in `dir`.
    pub(crate) fn metadata_path_in(dir: &Path, index: u64, term: u64) -> PathBuf {
        dir.join(format!("{term:016x}-{index:016x}.snap"))
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn files(&self) -> Result<Vec<(String, SnapFile)>, RaftError> {
        let mut out = Vec::new();
        let read = fs::read_dir(&self.dir)
            .ctx(|| format!("read snapshot directory {}", self.dir.display()))?;
        for entry in read {
            let entry = entry.ctx(|| format!("read snapshot directory {}", self.dir.display()))?;
            if let Some(name) = entry.file_name().to_str()
                && let Some(kind) = classify(name)
            {
                out.push((name.to_owned(), kind));
            }
        }
        Ok(out)
    }

    fn metadata_path(&self, term: u64, index: u64) -> PathBuf {
        SnapStore::metadata_path_in(&self.dir, index, term)
    }

    /// Where a database received from the leader for snapshot `index` is stored.
    pub(crate) fn received_db_path(&self, index: u64) -> PathBuf {
        Self::received_db_path_in(&self.dir, index)
    }

    /// [`SnapStore::received_db_path`] in `dir`, for checks made before the store is opened.
    pub(crate) fn received_db_path_in(dir: &Path, index: u64) -> PathBuf {
        dir.join(format!("{index:016x}.snap.db"))
    }

    /// Where transfer number `transfer` of a database for snapshot `index` is written until
    /// complete and verified; each transfer has its own file, so two at once cannot mix.
    pub(crate) fn partial_db_path(&self, index: u64, transfer: u64) -> PathBuf {
        self.dir
            .join(format!("{index:016x}-{transfer}.snap.db.part"))
    }

    /// Where a database copy made for followers at `index` is stored.
    pub(crate) fn generated_db_path(&self, index: u64) -> PathBuf {
        self.dir.join(format!("{index:016x}.gen.db"))
    }

    /// Where a database copy for followers is written before its index is known.
    pub(crate) fn generating_db_path(&self, attempt: u64) -> PathBuf {
        self.dir.join(format!("generating-{attempt}.tmp"))
    }

    /// Durably stores snapshot metadata.
    pub(crate) fn save(&self, meta: &SnapshotMetadata) -> Result<SaveTimes, RaftError> {
        let started = Instant::now();
        let body = meta
            .write_to_bytes()
            .map_err(|e| RaftError::InvalidConfig(format!("encode snapshot metadata: {e}")))?;
        let len = u32::try_from(body.len())
            .map_err(|_| RaftError::InvalidConfig("snapshot metadata too large".into()))?;
        let mut bytes = Vec::with_capacity(8 + body.len());
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&body);
        let path = self.metadata_path(meta.term, meta.index);
        let fsync = write_durably(&path, &bytes)?;
        crate::fsutil::sync_dir(&self.dir)?;
        Ok(SaveTimes {
            fsync,
            total: started.elapsed(),
        })
    }

    /// Loads the metadata of the snapshot at (`index`, `term`) from `dir`, verifying its CRC,
    /// without opening the store (whose cleanup must wait until the data dir is known good).
    pub(crate) fn load_in(
        dir: &Path,
        index: u64,
        term: u64,
    ) -> Result<SnapshotMetadata, RaftError> {
        let path = SnapStore::metadata_path_in(dir, index, term);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RaftError::corrupt(
                    &path,
                    0,
                    format!(
                        "the snapshot the WAL starts after (index {index}, term {term}) is missing"
                    ),
                ));
            }
            Err(e) => {
                return Err(RaftError::io(
                    format!("read snapshot {}", path.display()),
                    e,
                ));
            }
        };
        if bytes.len() < 8 {
            return Err(RaftError::corrupt(&path, 0, "snapshot file too short"));
        }
        let crc = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        let body = &bytes[8..];
        if body.len() != len {
            return Err(RaftError::corrupt(&path, 4, "snapshot length mismatch"));
        }
        if crc32fast::hash(body) != crc {
            return Err(RaftError::corrupt(&path, 0, "snapshot CRC mismatch"));
        }
        let meta = SnapshotMetadata::parse_from_bytes(body)
            .map_err(|e| RaftError::corrupt(&path, 8, format!("snapshot metadata: {e}")))?;
        if meta.index != index || meta.term != term {
            return Err(RaftError::corrupt(
                &path,
                8,
                "snapshot metadata disagrees with its name",
            ));
        }
        Ok(meta)
    }

    /// Removes metadata files beyond the newest `keep` (0 keeps them all, as etcd's
    /// `--max-snapshots=0`) among those at or below `durable_marker`, the index of the newest
    /// snapshot the WAL durably records — newer files are not the WAL's yet (their marker may
    /// still be lost in a crash), so they neither count nor go. Also removes received
    /// databases the state machine has durably moved past (`durable_applied`), keeping the
    /// newest one.
    pub(crate) fn purge(
        &self,
        keep: usize,
        durable_marker: u64,
        durable_applied: u64,
    ) -> Result<(), RaftError> {
        let files = self.files()?;
        let mut metas: Vec<(u64, u64, &String)> = files
            .iter()
            .filter_map(|(name, kind)| match kind {
                SnapFile::Metadata { term, index } if *index <= durable_marker => {
                    Some((*index, *term, name))
                }
                _ => None,
            })
            .collect();
        metas.sort();
        let excess = match keep {
            0 => 0,
            keep => metas.len().saturating_sub(keep),
        };
        let mut doomed: Vec<&String> = metas[..excess].iter().map(|m| m.2).collect();
        let newest_db = files
            .iter()
            .filter_map(|(_, kind)| match kind {
                SnapFile::ReceivedDb { index } => Some(*index),
                _ => None,
            })
            .max();
        for (name, kind) in &files {
            if let SnapFile::ReceivedDb { index } = kind
                && *index <= durable_applied
                && Some(*index) != newest_db
            {
                doomed.push(name);
            }
        }
        for name in doomed {
            let path = self.dir.join(name);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(RaftError::io(format!("remove {}", path.display()), e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl SnapStore {
        fn load(&self, index: u64, term: u64) -> Result<SnapshotMetadata, RaftError> {
            SnapStore::load_in(&self.dir, index, term)
        }
    }

    fn meta(index: u64, term: u64, voters: Vec<u64>) -> SnapshotMetadata {
        let mut m = SnapshotMetadata {
            index,
            term,
            ..Default::default()
        };
        m.mut_conf_state().voters = voters;
        m
    }

    #[test]
    fn metadata_round_trips_and_damage_is_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SnapStore::open(dir.path()).expect("open");
        store.save(&meta(42, 3, vec![1, 2, 3])).expect("save");
        assert_eq!(store.load(42, 3).expect("load"), meta(42, 3, vec![1, 2, 3]));
        assert!(store.load(42, 4).is_err());

        let path = store.metadata_path(3, 42);
        let mut bytes = fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0x10;
        fs::write(&path, bytes).expect("write");
        assert!(matches!(store.load(42, 3), Err(RaftError::Corrupt { .. })));
    }

    #[test]
    fn purge_keeps_the_newest_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SnapStore::open(dir.path()).expect("open");
        for i in 1..=8 {
            store.save(&meta(i * 10, 1, vec![1])).expect("save");
        }
        fs::write(store.received_db_path(30), b"db").expect("write");
        fs::write(store.received_db_path(70), b"db").expect("write");
        fs::write(store.received_db_path(90), b"db").expect("write");
        store.purge(3, 80, 75).expect("purge");
        for i in 1..=5 {
            assert!(!store.metadata_path(1, i * 10).exists());
        }
        for i in 6..=8 {
            assert!(store.load(i * 10, 1).is_ok());
        }
        assert!(!store.received_db_path(30).exists());
        assert!(!store.received_db_path(70).exists());
        assert!(
            store.received_db_path(90).exists(),
            "not yet applied durably"
        );
    }

    #[test]
    fn purge_never_touches_snapshots_the_wal_does_not_durably_record_yet() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SnapStore::open(dir.path()).expect("open");
        for i in 1..=8 {
            store.save(&meta(i * 10, 1, vec![1])).expect("save");
        }
        // The WAL's newest durable marker is at 60: 70 and 80 may still lose their marker.
        store.purge(1, 60, 0).expect("purge");
        for i in 1..=5 {
            assert!(!store.metadata_path(1, i * 10).exists());
        }
        for i in 6..=8 {
            assert!(store.load(i * 10, 1).is_ok(), "snapshot {} kept", i * 10);
        }
    }

    #[test]
    fn purge_with_zero_keeps_every_metadata_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SnapStore::open(dir.path()).expect("open");
        for i in 1..=8 {
            store.save(&meta(i * 10, 1, vec![1])).expect("save");
        }
        store.purge(0, 80, 80).expect("purge");
        for i in 1..=8 {
            assert!(store.load(i * 10, 1).is_ok(), "snapshot {} kept", i * 10);
        }
    }

    #[test]
    fn open_clears_interrupted_transfers() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("0000000000000005.snap.db.part"), b"half").expect("write");
        fs::write(dir.path().join("0000000000000005.gen.db"), b"old").expect("write");
        fs::write(dir.path().join("0000000000000006.snap.db"), b"whole").expect("write");
        SnapStore::open(dir.path()).expect("open");
        assert!(!dir.path().join("0000000000000005.snap.db.part").exists());
        assert!(!dir.path().join("0000000000000005.gen.db").exists());
        assert!(dir.path().join("0000000000000006.snap.db").exists());
    }
}
