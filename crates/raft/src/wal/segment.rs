//! WAL segment files: `{seq:016x}-{first_index:016x}.wal`, where `seq` increases by one per
//! segment and `first_index` is the index the first entry written to it was expected to have.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, RaftError};

/// One segment file of the WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Position in the sequence of segments.
    pub seq: u64,
    /// Index expected for the first entry written to this segment.
    pub first_index: u64,
    /// Location on disk.
    pub path: PathBuf,
}

/// The file name of segment `seq` starting at `first_index`.
pub(super) fn file_name(seq: u64, first_index: u64) -> String {
    format!("{seq:016x}-{first_index:016x}.wal")
}

fn parse_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".wal")?;
    let (seq, first) = stem.split_once('-')?;
    if seq.len() != 16 || first.len() != 16 {
        return None;
    }
    Some((
        u64::from_str_radix(seq, 16).ok()?,
        u64::from_str_radix(first, 16).ok()?,
    ))
}

/// Lists the segments in `dir` in sequence order, checking that no segment is missing in the
/// middle (old segments may have been released from the front).
pub(super) fn list(dir: &Path) -> Result<Vec<Segment>, RaftError> {
    let mut segments = Vec::new();
    let read = fs::read_dir(dir).ctx(|| format!("read WAL directory {}", dir.display()))?;
    for entry in read {
        let entry = entry.ctx(|| format!("read WAL directory {}", dir.display()))?;
        let name = entry.file_name();
        let Some((seq, first_index)) = name.to_str().and_then(parse_name) else {
            continue;
        };
        segments.push(Segment {
            seq,
            first_index,
            path: entry.path(),
        });
    }
    segments.sort_by_key(|s| s.seq);
    for pair in segments.windows(2) {
        if pair[1].seq != pair[0].seq + 1 {
            return Err(RaftError::corrupt(
                &pair[1].path,
                0,
                format!(
                    "WAL segment sequence jumps from {:x} to {:x}",
                    pair[0].seq, pair[1].seq
                ),
            ));
        }
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let name = file_name(0x1f, 0x2a);
        assert_eq!(name, "000000000000001f-000000000000002a.wal");
        assert_eq!(parse_name(&name), Some((0x1f, 0x2a)));
        assert_eq!(parse_name("0-1.wal"), None);
        assert_eq!(parse_name("000000000000001f-000000000000002a.tmp"), None);
    }

    #[test]
    fn missing_middle_segment_is_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        for seq in [0u64, 1, 3] {
            fs::write(dir.path().join(file_name(seq, seq * 10 + 1)), b"").expect("write");
        }
        assert!(matches!(list(dir.path()), Err(RaftError::Corrupt { .. })));
        fs::remove_file(dir.path().join(file_name(0, 1))).expect("remove");
        fs::write(dir.path().join(file_name(2, 21)), b"").expect("write");
        let seqs: Vec<u64> = list(dir.path())
            .expect("list")
            .iter()
            .map(|s| s.seq)
            .collect();
        assert_eq!(seqs, vec![1, 2, 3]);
    }
}
