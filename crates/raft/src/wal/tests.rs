//! WAL behaviour under restart, crashes, corruption, raft log truncation, rollover, segment
//! retention (`max_wals`) and `unsafe_no_fsync`.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use super::test_support::*;
use super::*;

fn small() -> WalOptions {
    options(4096)
}

#[test]
fn round_trip_restores_entries_and_hard_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, small()).expect("create");
    wal.append_entries(&[entry(1, 1, "a"), entry(2, 1, "b")]);
    wal.append_hard_state(&hard_state(1, 7, 1));
    wal.commit().expect("commit");
    wal.append_entries(&[entry(3, 2, "c")]);
    wal.append_hard_state(&hard_state(2, 7, 3));
    wal.commit().expect("commit");
    drop(wal);

    let (wal, state) = Wal::open(dir.path(), META, small()).expect("open");
    assert_eq!(state.hard_state, hard_state(2, 7, 3));
    assert_eq!(
        entries_of(&state),
        vec![(1, 1, "a".into()), (2, 1, "b".into()), (3, 2, "c".into())]
    );
    assert_eq!(wal.last_index(), 3);
}

#[test]
fn reopened_wal_keeps_appending_on_the_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, small()).expect("create");
    wal.append_entries(&[entry(1, 1, "a")]);
    wal.commit().expect("commit");
    drop(wal);
    let (mut wal, _) = Wal::open(dir.path(), META, small()).expect("open");
    wal.append_entries(&[entry(2, 1, "b")]);
    wal.commit().expect("commit");
    drop(wal);
    let (_, state) = Wal::open(dir.path(), META, small()).expect("reopen");
    assert_eq!(
        entries_of(&state),
        vec![(1, 1, "a".into()), (2, 1, "b".into())]
    );
}

#[test]
fn offline_read_reports_identity_and_state_without_touching_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, small()).expect("create");
    wal.append_entries(&[entry(1, 1, "a")]);
    wal.append_hard_state(&hard_state(1, 7, 1));
    wal.commit().expect("commit");
    wal.append_entries(&[entry(2, 1, "half written")]);
    wal.commit().expect("commit");
    let torn_end = wal.offset;
    drop(wal);
    let path = segment_path(dir.path());
    let f = OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open segment");
    f.write_all_at(&[0u8; 4], torn_end - 12)
        .expect("tear the last record");
    drop(f);
    let before = std::fs::read(&path).expect("read");

    let (meta, state) = Wal::read(dir.path()).expect("read");
    assert_eq!(meta, META);
    assert_eq!(state.hard_state, hard_state(1, 7, 1));
    assert_eq!(entries_of(&state), vec![(1, 1, "a".into())]);
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "read must not repair"
    );
    assert!(Wal::read(&dir.path().join("missing")).is_err());
}

#[test]
fn identity_mismatch_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    Wal::create(dir.path(), META, small()).expect("create");
    let other_member = Metadata {
        member_id: 8,
        ..META
    };
    assert!(matches!(
        Wal::open(dir.path(), other_member, small()),
        Err(RaftError::MemberIdMismatch {
            expected: 8,
            found: 7
        })
    ));
    let other_cluster = Metadata {
        cluster_id: 100,
        ..META
    };
    assert!(matches!(
        Wal::open(dir.path(), other_cluster, small()),
        Err(RaftError::ClusterIdMismatch {
            local: 100,
            remote: 99
        })
    ));
    assert!(
        Wal::create(dir.path(), META, small()).is_err(),
        "create must not clobber a WAL"
    );
}

#[test]
fn overwritten_suffix_replays_as_raft_left_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, small()).expect("create");
    wal.append_entries(&[
        entry(1, 1, "a"),
        entry(2, 1, "b"),
        entry(3, 1, "c"),
        entry(4, 1, "d"),
    ]);
    wal.commit().expect("commit");
    // A new leader at term 2 overwrote the uncommitted entries from index 3 on.
    wal.append_entries(&[entry(3, 2, "C")]);
    wal.commit().expect("commit");
    wal.append_entries(&[entry(4, 2, "D"), entry(5, 2, "E")]);
    wal.commit().expect("commit");
    // And another leader overwrote index 5 only.
    wal.append_entries(&[entry(5, 3, "e")]);
    wal.commit().expect("commit");
    drop(wal);
    let (_, state) = Wal::open(dir.path(), META, small()).expect("open");
    assert_eq!(
        entries_of(&state),
        vec![
            (1, 1, "a".into()),
            (2, 1, "b".into()),
            (3, 2, "C".into()),
            (4, 2, "D".into()),
            (5, 3, "e".into())
        ]
    );
}

fn segment_path(dir: &Path) -> PathBuf {
    segment::list(dir)
        .expect("list")
        .last()
        .expect("a segment")
        .path
        .clone()
}

#[test]
fn torn_tail_record_is_truncated_and_appends_continue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, small()).expect("create");
    wal.append_entries(&[entry(1, 1, "a")]);
    wal.commit().expect("commit");
    let good_end = wal.offset;
    wal.append_entries(&[entry(2, 1, "a rather long payload that gets torn")]);
    wal.commit().expect("commit");
    let torn_end = wal.offset;
    drop(wal);
    // Simulate a crash mid-write: the last record's second half never reached the disk.
    let path = segment_path(dir.path());
    let f = OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open segment");
    let half = (good_end + torn_end) / 2;
    f.write_all_at(&vec![0u8; (torn_end - half) as usize], half)
        .expect("zero tail");
    drop(f);

    let (mut wal, state) = Wal::open(dir.path(), META, small()).expect("open after torn write");
    assert_eq!(entries_of(&state), vec![(1, 1, "a".into())]);
    wal.append_entries(&[entry(2, 1, "b")]);
    wal.commit().expect("commit after truncation");
    drop(wal);
    let (_, state) = Wal::open(dir.path(), META, small()).expect("reopen");
    assert_eq!(
        entries_of(&state),
        vec![(1, 1, "a".into()), (2, 1, "b".into())]
    );
}

#[test]
fn tail_cut_short_without_preallocation_is_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, small()).expect("create");
    wal.append_entries(&[entry(1, 1, "a")]);
    wal.commit().expect("commit");
    wal.append_entries(&[entry(2, 1, "bbbbbbbbbbbbbbbb")]);
    wal.commit().expect("commit");
    let end = wal.offset;
    drop(wal);
    let path = segment_path(dir.path());
    let f = OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open segment");
    f.set_len(end - 5).expect("cut file");
    drop(f);
    let (_, state) = Wal::open(dir.path(), META, small()).expect("open");
    assert_eq!(entries_of(&state), vec![(1, 1, "a".into())]);
}

#[test]
fn corruption_in_the_middle_is_a_hard_error_with_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, small()).expect("create");
    let header_end = wal.offset;
    wal.append_entries(&[entry(1, 1, "first")]);
    wal.commit().expect("commit");
    wal.append_entries(&[entry(2, 1, "second")]);
    wal.commit().expect("commit");
    drop(wal);
    let path = segment_path(dir.path());
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("open segment");
    let mut byte = [0u8; 1];
    let target = header_end + record::HEADER_LEN as u64 + 10;
    f.read_exact_at(&mut byte, target).expect("read");
    f.write_all_at(&[byte[0] ^ 0x40], target)
        .expect("flip a bit");
    drop(f);
    match Wal::open(dir.path(), META, small()) {
        Err(RaftError::Corrupt { file, offset, .. }) => {
            assert_eq!(file, path);
            assert_eq!(offset, header_end);
        }
        other => panic!("expected corruption error, got {other:?}"),
    }
}

#[test]
fn corruption_in_an_older_segment_is_a_hard_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, small()).expect("create");
    let payload = "x".repeat(1500);
    for i in 1..=8 {
        wal.append_entries(&[entry(i, 1, &payload)]);
        wal.commit().expect("commit");
    }
    let segments = wal.segments().to_vec();
    assert!(segments.len() >= 2);
    drop(wal);
    // Cut the first (sealed) segment short: only the last segment may have a torn tail.
    let f = OpenOptions::new()
        .write(true)
        .open(&segments[0].path)
        .expect("open");
    let len = f.metadata().expect("stat").len();
    f.set_len(len - 3).expect("cut");
    drop(f);
    assert!(matches!(
        Wal::open(dir.path(), META, small()),
        Err(RaftError::Corrupt { file, .. }) if file == segments[0].path
    ));
}

#[test]
fn segments_roll_and_are_released_after_a_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = WalOptions {
        max_wals: 1,
        ..small()
    };
    let mut wal = Wal::create(dir.path(), META, opts).expect("create");
    let payload = "y".repeat(1000);
    for i in 1..=20 {
        wal.append_entries(&[entry(i, 1, &payload)]);
        wal.append_hard_state(&hard_state(1, 7, i));
        wal.commit().expect("commit");
    }
    let segments = wal.segments().to_vec();
    assert!(segments.len() >= 4, "expected rollover, got {segments:?}");
    for s in &segments {
        let name = s.path.file_name().and_then(|n| n.to_str()).expect("name");
        assert_eq!(name, segment::file_name(s.seq, s.first_index));
    }
    // Nothing is released while no snapshot covers a whole segment.
    assert_eq!(wal.release_to(0).expect("release"), 0);

    let snap_index = 12;
    wal.append_snapshot_marker(SnapshotMarker {
        index: snap_index,
        term: 1,
    });
    wal.commit().expect("commit marker");
    let released = wal.release_to(snap_index).expect("release");
    assert!(released >= 1);
    let remaining = wal.segments().to_vec();
    assert_eq!(remaining[0].seq, segments[released].seq);
    assert!(remaining[0].first_index - 1 <= snap_index);
    assert!(
        remaining
            .get(1)
            .is_none_or(|s| s.first_index - 1 > snap_index)
    );
    for s in &segments[..released] {
        assert!(!s.path.exists(), "{} should be gone", s.path.display());
    }
    drop(wal);

    let (_, state) = Wal::open(dir.path(), META, opts).expect("open after release");
    assert_eq!(
        state.snapshot,
        SnapshotMarker {
            index: snap_index,
            term: 1
        }
    );
    assert_eq!(state.hard_state, hard_state(1, 7, 20));
    let indexes: Vec<u64> = state.entries.iter().map(|e| e.index).collect();
    assert_eq!(indexes, (snap_index + 1..=20).collect::<Vec<_>>());
}

#[test]
fn received_snapshot_replaces_a_divergent_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, small()).expect("create");
    wal.append_entries(&[entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c")]);
    wal.commit().expect("commit");
    // A snapshot from a leader at (10, 3) does not match our log: it replaces it.
    wal.append_snapshot_marker(SnapshotMarker { index: 10, term: 3 });
    wal.append_hard_state(&hard_state(3, 0, 10));
    wal.append_entries(&[entry(11, 3, "k")]);
    wal.commit().expect("commit");
    drop(wal);
    let (_, state) = Wal::open(dir.path(), META, small()).expect("open");
    assert_eq!(state.snapshot, SnapshotMarker { index: 10, term: 3 });
    assert_eq!(entries_of(&state), vec![(11, 3, "k".into())]);

    // A local snapshot at an entry we hold keeps the entries after it.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, small()).expect("create");
    wal.append_entries(&[entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c")]);
    wal.append_snapshot_marker(SnapshotMarker { index: 2, term: 1 });
    wal.commit().expect("commit");
    drop(wal);
    let (_, state) = Wal::open(dir.path(), META, small()).expect("open");
    assert_eq!(entries_of(&state), vec![(3, 1, "c".into())]);
}

/// Writes `n` commits of one 1000-byte entry each, rolling 4 KiB segments every few commits.
fn write_segments(dir: &Path, opts: WalOptions, n: u64) -> Wal {
    let mut wal = Wal::create(dir, META, opts).expect("create");
    let payload = "z".repeat(1000);
    for i in 1..=n {
        wal.append_entries(&[entry(i, 1, &payload)]);
        wal.append_hard_state(&hard_state(1, 7, i));
        wal.commit().expect("commit");
    }
    wal
}

fn seqs(wal: &Wal) -> Vec<u64> {
    wal.segments().iter().map(|s| s.seq).collect()
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "wal"))
        })
        .count()
}

#[test]
fn max_wals_keeps_released_segments_up_to_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = WalOptions {
        max_wals: 3,
        ..small()
    };
    let mut wal = write_segments(dir.path(), opts, 30);
    let all = seqs(&wal);
    assert!(all.len() >= 8, "expected many segments, got {all:?}");
    // Beyond the limit but still needed: nothing is removed, neither by rolling nor here.
    assert_eq!(wal.release_to(0).expect("release"), 0);
    assert_eq!(seqs(&wal), all);

    // A snapshot covering the first two segments only: those two go, the rest is needed.
    let covers_two = wal.segments()[2].first_index - 1;
    assert_eq!(wal.release_to(covers_two).expect("release"), 2);
    assert_eq!(seqs(&wal), all[2..].to_vec());
    assert!(!wal.segments().is_empty());
    assert_eq!(files_in(dir.path()), all.len() - 2);

    // A snapshot covering everything but the current segment: down to the limit, oldest
    // first.
    let last = wal.last_index();
    wal.append_snapshot_marker(SnapshotMarker {
        index: last,
        term: 1,
    });
    wal.commit().expect("commit marker");
    wal.release_to(last).expect("release");
    assert_eq!(seqs(&wal), all[all.len() - 3..].to_vec());
    assert_eq!(files_in(dir.path()), 3);

    // Released segments that roll past the limit later are removed as new ones appear.
    let payload = "z".repeat(1000);
    for i in last + 1..=last + 12 {
        wal.append_entries(&[entry(i, 1, &payload)]);
        wal.commit().expect("commit");
    }
    // More than the limit are needed now: every released one is gone, the rest stays.
    let segs = wal.segments().to_vec();
    assert!(segs.len() > 3, "{segs:?}");
    assert!(segs[0].first_index - 1 <= last && segs[1].first_index - 1 > last);
    assert_eq!(files_in(dir.path()), segs.len());
    drop(wal);
    let (_, state) = Wal::open(dir.path(), META, opts).expect("reopen");
    assert_eq!(state.entries.last().map(|e| e.index), Some(last + 12));
}

#[test]
fn max_wals_zero_keeps_every_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = WalOptions {
        max_wals: 0,
        ..small()
    };
    let mut wal = write_segments(dir.path(), opts, 20);
    let all = seqs(&wal);
    let last = wal.last_index();
    wal.append_snapshot_marker(SnapshotMarker {
        index: last,
        term: 1,
    });
    wal.commit().expect("commit marker");
    assert_eq!(wal.release_to(last).expect("release"), 0);
    assert_eq!(seqs(&wal), all);
    assert_eq!(files_in(dir.path()), all.len());
}

#[test]
fn unsafe_no_fsync_skips_the_sync_but_keeps_the_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = WalOptions {
        unsafe_no_fsync: true,
        ..small()
    };
    let mut wal = Wal::create(dir.path(), META, opts).expect("create");
    wal.append_entries(&[entry(1, 1, "a")]);
    assert!(
        !wal.commit().expect("commit"),
        "no fdatasync with unsafe_no_fsync"
    );
    wal.append_entries(&[entry(2, 1, "b")]);
    wal.append_hard_state(&hard_state(1, 7, 2));
    assert!(!wal.commit().expect("commit"));
    wal.sync().expect("sync");
    drop(wal);
    let (_, state) = Wal::open(dir.path(), META, opts).expect("reopen");
    assert_eq!(
        entries_of(&state),
        vec![(1, 1, "a".into()), (2, 1, "b".into())]
    );
    assert_eq!(state.hard_state, hard_state(1, 7, 2));

    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), META, small()).expect("create");
    wal.append_entries(&[entry(1, 1, "a")]);
    assert!(wal.commit().expect("commit"), "a normal commit syncs");
    assert!(
        !wal.commit().expect("commit"),
        "nothing pending, nothing to sync"
    );
}

/// Measurement (not an assertion) of group commit: fsyncs per second and entries per second
/// for batches of 1, 16 and 256 entries. Run with
/// `cargo test -p oxcd-raft --lib measure_wal_group_commit -- --ignored --nocapture`.
#[test]
#[ignore = "measurement, run on demand"]
fn measure_wal_group_commit() {
    use std::time::Instant;
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = Metadata {
        member_id: 1,
        cluster_id: 1,
    };
    let mut wal = Wal::create(dir.path(), meta, WalOptions::default()).expect("create");
    for batch in [1usize, 16, 256] {
        let rounds = 2_000 / batch.min(16) + 20;
        let mut index = wal.last_index();
        let started = Instant::now();
        for _ in 0..rounds {
            let entries: Vec<Entry> = (0..batch)
                .map(|_| {
                    index += 1;
                    Entry {
                        index,
                        term: 1,
                        data: vec![b'x'; 256].into(),
                        ..Default::default()
                    }
                })
                .collect();
            wal.append_entries(&entries);
            wal.commit().expect("commit");
        }
        let took = started.elapsed();
        println!(
            "WAL: {rounds} commits of {batch} x 256 B entries: {:.2} ms/commit, {:.0} entries/s",
            took.as_secs_f64() * 1000.0 / rounds as f64,
            (rounds * batch) as f64 / took.as_secs_f64()
        );
    }
}
