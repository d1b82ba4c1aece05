//! A member whose data dir is damaged refuses to start, as an operator meets it: the process
//! exits non-zero within seconds with a fatal log line naming the damaged file, and leaves
//! every file of the data dir exactly as it was, so a backup or a repair can still use them.
//! Only a torn tail, which a crash leaves and nobody was told was written, is cut.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oxcd_api::etcdserverpb::RangeRequest;
use oxcd_tests::acked_writers::{AckedWriters, assert_nothing_lost};
use oxcd_tests::data_dir::{backend_path, contents};
use oxcd_tests::member::{Member, MemberConfig};
use oxcd_tests::{Cluster, ClusterSpec, Server, grpc};

/// How long a member with damaged data may take to give up.
const EXIT_WITHIN: Duration = Duration::from_secs(10);
/// How long a healthy member may take to serve clients.
const READY_WITHIN: Duration = Duration::from_secs(20);
/// Keys written before the damage.
const KEYS: usize = 20;

/// Offsets of the records in a WAL segment (`[len u32][type u8][crc u32][payload]`), up to
/// the zero-filled preallocated end.
fn record_offsets(segment: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 0;
    while at + 9 <= segment.len() && segment[at..at + 9].iter().any(|&b| b != 0) {
        offsets.push(at);
        let len = u32::from_le_bytes(segment[at..at + 4].try_into().unwrap()) as usize;
        at += 9 + len;
    }
    offsets
}

/// Starts `member` on its damaged data dir and checks it refuses: exits non-zero in time,
/// logs a fatal line naming `named`, and changes no file.
fn assert_refused(member: &mut Member, data_dir: &Path, named: &str) {
    let before = contents(data_dir);
    member.start().unwrap();
    let started = Instant::now();
    while member.is_running() {
        assert!(
            started.elapsed() < EXIT_WITHIN,
            "a member with damaged data kept running:\n{}",
            member.log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let code = member.exit_code();
    assert!(
        code.is_some_and(|c| c != 0),
        "exit code {code:?}:\n{}",
        member.log_tail(30)
    );
    let log = member.current_log();
    let fatal = log
        .lines()
        .find(|l| serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v["level"] == "fatal"))
        .unwrap_or_else(|| panic!("no fatal line:\n{log}"));
    assert!(fatal.contains(named), "{named} not named in {fatal}");
    assert!(fatal.contains("backup"), "no advice in {fatal}");
    let after = contents(data_dir);
    let changed: Vec<&PathBuf> = before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .collect();
    assert!(
        changed.is_empty(),
        "the refused data dir was changed: {changed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_wal_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let config = MemberConfig::alone(dir.path());
    let data_dir = config.data_dir.clone();
    let server = Server::Oxcd;
    let mut member = Member::new(server, server.binary().unwrap(), config);
    member.start().unwrap();
    member.wait_ready(READY_WITHIN).await.unwrap();
    let mut clients = grpc::connect(&member.client_url()).await.unwrap();
    for i in 0..KEYS {
        clients
            .put(&format!("key-{i:02}"), &"v".repeat(100), 0)
            .await
            .unwrap();
    }
    drop(clients);
    member.terminate(Duration::from_secs(10)).unwrap();

    let wal_dir = data_dir.join("member").join("wal");
    let segments: Vec<PathBuf> = std::fs::read_dir(&wal_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    assert_eq!(segments.len(), 1, "{segments:?}");
    let segment = segments[0].clone();
    let segment_name = segment.file_name().unwrap().to_string_lossy().into_owned();
    let original = std::fs::read(&segment).unwrap();
    let records = record_offsets(&original);
    assert!(records.len() > KEYS, "{} records", records.len());

    // Flipped bytes in a record in the middle of the log, acknowledged records after it.
    let target = records[records.len() / 2] + 9 + 2;
    let mut damaged = original.clone();
    for b in &mut damaged[target..target + 4] {
        *b ^= 0x5a;
    }
    std::fs::write(&segment, &damaged).unwrap();
    assert_refused(&mut member, &data_dir, &segment_name);
    std::fs::write(&segment, &original).unwrap();

    // The segment removed: snapshots remain, so this is lost data, not a new member.
    std::fs::remove_file(&segment).unwrap();
    assert_refused(&mut member, &data_dir, &wal_dir.display().to_string());
    std::fs::write(&segment, &original).unwrap();

    // The backend database gone: refused, and no empty one is made in its place.
    let backend = backend_path(&data_dir);
    let backend_bytes = std::fs::read(&backend).unwrap();
    std::fs::remove_file(&backend).unwrap();
    assert_refused(&mut member, &data_dir, "no bootstrapped backend");
    assert!(!backend.exists());

    // The backend database's first tree pages overwritten: the member stops at once, naming it.
    let mut garbled = backend_bytes.clone();
    garbled[3 * 4096..7 * 4096].fill(0xff);
    std::fs::write(&backend, &garbled).unwrap();
    member.start().unwrap();
    let started = Instant::now();
    while member.is_running() {
        assert!(
            started.elapsed() < EXIT_WITHIN,
            "a member with a damaged backend kept running:\n{}",
            member.log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(member.exit_code().is_some_and(|c| c != 0));
    let log = member.current_log();
    let fatal = log
        .lines()
        .find(|l| l.contains(r#""level":"fatal""#))
        .unwrap_or_else(|| panic!("no fatal line:\n{log}"));
    assert!(
        fatal.contains(&backend.display().to_string()) && fatal.contains("backup"),
        "{fatal}"
    );
    std::fs::write(&backend, &backend_bytes).unwrap();

    // Repaired (as from a backup), the member starts with every key.
    member.start().unwrap();
    member.wait_ready(READY_WITHIN).await.unwrap();
    let mut clients = grpc::connect(&member.client_url()).await.unwrap();
    let range = clients
        .kv
        .range(RangeRequest {
            key: b"key-".to_vec(),
            range_end: b"key.".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(range.kvs.len(), KEYS);
    member.terminate(Duration::from_secs(10)).unwrap();
}

/// A member killed in the middle of a write leaves a torn record after its last whole one —
/// a write it never acknowledged (what it acknowledged was fsynced first): it starts, cuts
/// only that record (with a warning naming the segment), catches up from the others, and ends
/// with every acknowledged write and the same `HashKV` as they.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_torn_wal_tail_after_kill_9_is_cut_and_the_member_catches_up() {
    let mut cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 3))
        .await
        .unwrap();
    let writers = AckedWriters::start(&cluster.endpoints(), "torn", 100);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let torn = 2;
    cluster.kill9(torn).unwrap();

    let wal_dir = cluster
        .member(torn)
        .config()
        .data_dir
        .join("member")
        .join("wal");
    let last_segment = std::fs::read_dir(&wal_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .max()
        .unwrap();
    let mut bytes = std::fs::read(&last_segment).unwrap();
    let last = *record_offsets(&bytes).last().unwrap();
    let len = u32::from_le_bytes(bytes[last..last + 4].try_into().unwrap()) as usize;
    // The next write had reached the disk only halfway (its header and half its payload; a
    // copy of the last record's first half stands in for it) when the process died.
    let end = last + 9 + len;
    let half_written = bytes[last..last + (9 + len) / 2].to_vec();
    bytes[end..end + half_written.len()].copy_from_slice(&half_written);
    std::fs::write(&last_segment, &bytes).unwrap();

    cluster.restart(torn).await.unwrap();
    let segment_name = last_segment.file_name().unwrap().to_string_lossy();
    let log = cluster.member(torn).current_log();
    assert!(
        log.lines()
            .any(|line| line.contains("torn write") && line.contains(segment_name.as_ref())),
        "no warning about the cut tail:\n{log}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let acked = writers.stop().await;
    assert_nothing_lost(&cluster, &acked, "torn").await;
}
