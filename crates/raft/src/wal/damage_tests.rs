//! Damaged WAL files as a crash or a bad disk leaves them: a torn tail of the last segment
//! is cut (earlier records kept), and everything else is refused with the damaged file and
//! offset, leaving every file exactly as it was.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;

use super::test_support::*;
use super::*;
use crate::snap::SnapStore;

/// Every file under `dir` (recursively) with its contents.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read dir") {
            let path = e.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), fs::read(&path).expect("read"));
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for (path, bytes) in contents(from) {
        let rel = path.strip_prefix(from).expect("below");
        fs::write(to.join(rel), bytes).expect("write");
    }
}

fn damage(path: &Path, f: impl FnOnce(&fs::File)) {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open segment");
    f(&file);
}

fn flip_bit(path: &Path, offset: u64, bit: u32) {
    damage(path, |f| {
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, offset).expect("read");
        f.write_all_at(&[b[0] ^ (1 << bit)], offset).expect("write");
    });
}

/// Opening `dir` must fail with a corruption error for `file` at `offset` and change nothing.
fn assert_refused(dir: &Path, file: &Path, offset: Option<u64>, opts: WalOptions) -> String {
    let before = contents(dir);
    let err = match Wal::open(dir, META, opts) {
        Ok(_) => panic!("a damaged WAL was opened"),
        Err(e) => e,
    };
    match &err {
        RaftError::Corrupt {
            file: f, offset: o, ..
        } => {
            assert_eq!(f, file, "{err}");
            if let Some(offset) = offset {
                assert_eq!(*o, offset, "{err}");
            }
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
    assert!(
        contents(dir) == before,
        "a refused WAL directory was changed"
    );
    err.to_string()
}

#[test]
fn a_tail_torn_at_any_offset_of_the_last_record_is_cut() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(base.path(), META, options(4096)).expect("create");
    wal.append_entries(&[entry(1, 1, "first"), entry(2, 1, "second")]);
    wal.append_hard_state(&hard_state(1, 7, 2));
    wal.commit().expect("commit");
    let start = wal.offset;
    wal.append_entries(&[entry(3, 1, "the last record, written in part only")]);
    wal.commit().expect("commit");
    let end = wal.offset;
    let path = wal.segments()[0].path.clone();
    let name = path.file_name().expect("name").to_owned();
    drop(wal);
    let original = fs::read(&path).expect("read");
    let kept = vec![(1, 1, "first".into()), (2, 1, "second".into())];

    for at in start..end {
        for truncate in [false, true] {
            let case = tempfile::tempdir().expect("tempdir");
            copy_dir(base.path(), case.path());
            let seg = case.path().join(&name);
            damage(&seg, |f| {
                if truncate {
                    f.set_len(at).expect("truncate");
                } else {
                    f.write_all_at(&vec![0u8; (end - at) as usize], at)
                        .expect("zero");
                }
            });
            let what = format!("torn at {at} (record {start}..{end}), truncated: {truncate}");
            let (mut wal, state) = Wal::open(case.path(), META, options(4096))
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            // Zeroing bytes that were zeros already (the record ends with an empty context's
            // zero length) leaves the record whole.
            if !truncate && original[at as usize..end as usize].iter().all(|&b| b == 0) {
                assert_eq!(entries_of(&state).len(), 3, "{what}");
                continue;
            }
            assert_eq!(entries_of(&state), kept, "{what}");
            assert_eq!(state.hard_state, hard_state(1, 7, 2), "{what}");
            let bytes = fs::read(&seg).expect("read");
            assert!(
                bytes[start as usize..].iter().all(|&b| b == 0),
                "{what}: the torn bytes were not cut"
            );
            wal.append_entries(&[entry(3, 2, "rewritten")]);
            wal.commit().expect("commit after the cut");
            drop(wal);
            let (_, state) = Wal::open(case.path(), META, options(4096)).expect("reopen");
            let mut expected = kept.clone();
            expected.push((3, 2, "rewritten".into()));
            assert_eq!(entries_of(&state), expected, "{what}");
        }
    }
}

/// Writes a small synced commit, then one group commit ending in an entries record that
/// spans several 4 KiB pages, followed by a hard state record if `then_hard_state`; returns
/// the WAL's directory, its segment, and where the large record starts and the commit ends.
fn wal_with_a_multi_page_commit(then_hard_state: bool) -> (tempfile::TempDir, PathBuf, u64, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, options(64 * 1024)).expect("create");
    wal.append_entries(&[entry(1, 1, "synced")]);
    wal.append_hard_state(&hard_state(1, 7, 1));
    wal.commit().expect("commit");
    wal.append_hard_state(&hard_state(2, 7, 1));
    let start = wal.offset + wal.pending_bytes() as u64;
    wal.append_entries(&[entry(2, 2, &"p".repeat(12_000))]);
    if then_hard_state {
        wal.append_hard_state(&hard_state(2, 7, 2));
    }
    wal.commit().expect("commit");
    let end = wal.offset;
    let path = wal.segments()[0].path.clone();
    drop(wal);
    (dir, path, start, end)
}

const PAGE: u64 = 4096;

fn zero(path: &Path, from: u64, to: u64) {
    damage(path, |f| {
        f.write_all_at(&vec![0u8; (to - from) as usize], from)
            .expect("zero")
    });
}

#[test]
fn a_lost_page_before_a_written_one_in_the_last_commit_is_cut() {
    let (probe, _, start, end) = wal_with_a_multi_page_commit(false);
    drop(probe);
    // The page holding the large record's header (the bytes before it in that page were
    // synced earlier and survive), and a page in the middle of the record; the record's
    // last page was written each time.
    let header_page = (start, (start / PAGE + 1) * PAGE);
    let middle = (start / PAGE + 1) * PAGE;
    for (from, to) in [header_page, (middle, middle + PAGE)] {
        let (dir, path, _, _) = wal_with_a_multi_page_commit(false);
        zero(&path, from, to);
        let bytes = fs::read(&path).expect("read");
        assert!(
            to < end && bytes[to as usize..end as usize].iter().any(|&b| b != 0),
            "a later page of the commit must hold data"
        );
        let (_, state) = Wal::open(dir.path(), META, options(64 * 1024))
            .unwrap_or_else(|e| panic!("zeroed {from}..{to}: {e}"));
        assert_eq!(entries_of(&state), vec![(1, 1, "synced".into())]);
        // Records of the commit before the damage are whole, so they are kept.
        assert_eq!(state.hard_state, hard_state(2, 7, 1));
        let bytes = fs::read(&path).expect("read");
        assert!(bytes[start as usize..].iter().all(|&b| b == 0));
    }
}

#[test]
fn a_lost_page_followed_by_a_whole_valid_record_is_refused() {
    // The valid record after the hole may have been synced later (and acknowledged): the
    // damage cannot be proven to be an unacknowledged torn write, so nothing is cut.
    let (dir, path, start, _) = wal_with_a_multi_page_commit(true);
    let middle = (start / PAGE + 1) * PAGE;
    zero(&path, middle, middle + PAGE);
    assert_refused(dir.path(), &path, Some(start), options(64 * 1024));
}

/// Three commits of one entry each in one segment; returns the directory, the segment and
/// where the middle commit's record starts.
fn three_records() -> (tempfile::TempDir, PathBuf, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, options(4096)).expect("create");
    wal.append_entries(&[entry(1, 1, "one")]);
    wal.commit().expect("commit");
    let middle = wal.offset;
    wal.append_entries(&[entry(2, 1, "two")]);
    wal.commit().expect("commit");
    wal.append_entries(&[entry(3, 1, "three")]);
    wal.commit().expect("commit");
    let path = wal.segments()[0].path.clone();
    drop(wal);
    (dir, path, middle)
}

#[test]
fn a_bit_flip_in_the_length_or_crc_of_a_synced_record_is_refused() {
    // Header: [len u32][type u8][crc u32]. Every bit of the length and of the CRC.
    let fields = (0..32u32)
        .map(|b| (u64::from(b / 8), b % 8))
        .chain((0..32u32).map(|b| (5 + u64::from(b / 8), b % 8)));
    for (byte, bit) in fields {
        let (dir, path, middle) = three_records();
        flip_bit(&path, middle + byte, bit);
        let msg = assert_refused(dir.path(), &path, Some(middle), options(4096));
        assert!(msg.contains("valid record"), "{msg}");
    }
}

#[test]
fn damage_in_a_sealed_segment_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, options(4096)).expect("create");
    let header_end = wal.offset;
    let payload = "x".repeat(1500);
    for i in 1..=8 {
        wal.append_entries(&[entry(i, 1, &payload)]);
        wal.commit().expect("commit");
    }
    let segments = wal.segments().to_vec();
    assert!(segments.len() >= 3);
    drop(wal);
    // The last record of the first segment: nothing follows it in its own segment.
    let first_len = fs::metadata(&segments[0].path).expect("stat").len();
    let last_record = first_len - (record::HEADER_LEN as u64 + 4 + 25 + 1500);
    assert!(last_record > header_end);
    flip_bit(&segments[0].path, last_record + 1, 0);
    assert_refused(
        dir.path(),
        &segments[0].path,
        Some(last_record),
        options(4096),
    );
}

/// A WAL of several 4 KiB segments, none released.
fn segmented() -> (tempfile::TempDir, Vec<Segment>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, options(4096)).expect("create");
    let payload = "s".repeat(1000);
    for i in 1..=16 {
        wal.append_entries(&[entry(i, 1, &payload)]);
        wal.append_hard_state(&hard_state(1, 7, i));
        wal.commit().expect("commit");
    }
    let segments = wal.segments().to_vec();
    assert!(segments.len() >= 4, "{segments:?}");
    drop(wal);
    (dir, segments)
}

#[test]
fn a_removed_middle_segment_is_refused() {
    let (dir, segments) = segmented();
    fs::remove_file(&segments[1].path).expect("remove");
    let msg = assert_refused(dir.path(), &segments[2].path, Some(0), options(4096));
    assert!(msg.contains("jumps"), "{msg}");
    let snap = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        crate::has_durable_state(dir.path(), snap.path()),
        Err(RaftError::Corrupt { file, .. }) if file == segments[2].path
    ));
}

#[test]
fn a_removed_first_segment_is_refused() {
    let (dir, segments) = segmented();
    fs::remove_file(&segments[0].path).expect("remove");
    let msg = assert_refused(dir.path(), &segments[1].path, Some(0), options(4096));
    assert!(msg.contains("missing"), "{msg}");
}

#[test]
fn snapshots_without_a_wal_are_refused_and_an_interrupted_creation_is_not() {
    let root = tempfile::tempdir().expect("tempdir");
    let (wal_dir, snap_dir) = (root.path().join("wal"), root.path().join("snap"));
    assert!(!crate::has_durable_state(&wal_dir, &snap_dir).expect("nothing there"));

    // A crash after the initial snapshot was saved but before the first segment was renamed
    // into place: nothing was ever logged, so the member bootstraps again.
    let snaps = SnapStore::open(&snap_dir).expect("snap store");
    let crashed = Wal::create_with(&wal_dir, META, options(4096), || {
        snaps.save(&raft::prelude::SnapshotMetadata::default())?;
        Err(RaftError::InvalidConfig("crash".into()))
    });
    assert!(crashed.is_err());
    assert_eq!(
        inspect(&wal_dir).expect("inspect"),
        WalDir::CreationInterrupted
    );
    assert!(!crate::has_durable_state(&wal_dir, &snap_dir).expect("interrupted"));
    Wal::create(&wal_dir, META, options(4096)).expect("create over the interrupted one");
    assert!(crate::has_durable_state(&wal_dir, &snap_dir).expect("a WAL"));

    // The WAL's segments gone while snapshots remain: refused, naming the WAL directory.
    for seg in segment::list(&wal_dir).expect("list") {
        fs::remove_file(seg.path).expect("remove");
    }
    let before = contents(root.path());
    match crate::has_durable_state(&wal_dir, &snap_dir) {
        Err(RaftError::Corrupt { file, reason, .. }) => {
            assert_eq!(file, wal_dir);
            assert!(reason.contains("backup"), "{reason}");
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
    assert!(contents(root.path()) == before);
}
