//! A member stopped with SIGTERM or SIGINT exits 0 and leaves its backend holding everything it
//! applied: the restart starts from there instead of applying the WAL again (which, for a member
//! with a large log, is minutes of work and, before this held, replayed onto a backend whose
//! consistent index was seconds old).

use std::path::Path;
use std::time::{Duration, Instant};

use oxcd_api::etcdserverpb::StatusRequest;
use oxcd_mvcc::Backend;
use oxcd_tests::data_dir::backend_path;
use oxcd_tests::member::{Member, MemberConfig};
use oxcd_tests::{Server, grpc};

/// How long a healthy member may take to serve clients.
const READY_WITHIN: Duration = Duration::from_secs(20);
/// How long a signalled member may take to exit.
const EXIT_WITHIN: Duration = Duration::from_secs(15);
/// Writes between stops: fewer than the apply loop's periodic sync would make durable.
const KEYS: usize = 50;

/// The member's applied raft index, as `Status` reports it.
async fn applied_index(member: &Member) -> u64 {
    let mut clients = grpc::connect(&member.client_url()).await.unwrap();
    clients
        .maintenance
        .status(StatusRequest {})
        .await
        .unwrap()
        .into_inner()
        .raft_applied_index
}

/// Writes `KEYS` keys named after `round`; returns the revision of the last.
async fn write_round(member: &Member, round: &str) -> i64 {
    let mut clients = grpc::connect(&member.client_url()).await.unwrap();
    let mut revision = 0;
    for i in 0..KEYS {
        revision = clients
            .put(&format!("{round}-{i:02}"), "value", 0)
            .await
            .unwrap();
    }
    revision
}

/// Sends `signal` and waits for the process to exit; asserts it exited 0.
fn stop_with(member: &mut Member, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(member.pid().expect("the member runs")).unwrap();
    // SAFETY: kill(2) on the pid of a child this harness started and has not reaped.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let started = Instant::now();
    while member.is_running() {
        assert!(
            started.elapsed() < EXIT_WITHIN,
            "the member did not exit on signal {signal}:\n{}",
            member.log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        member.exit_code(),
        Some(0),
        "signal {signal}:\n{}",
        member.log_tail(30)
    );
}

/// The raft index the backend file records as applied.
fn backend_consistent_index(data_dir: &Path) -> u64 {
    Backend::open(&backend_path(data_dir))
        .unwrap()
        .consistent_index()
        .unwrap()
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signalled_member_keeps_what_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let config = MemberConfig::alone(dir.path());
    let data_dir = config.data_dir.clone();
    let server = Server::Oxcd;
    let mut member = Member::new(server, server.binary().unwrap(), config);

    let mut expected_revision = 1;
    for (round, signal) in [("term", libc::SIGTERM), ("int", libc::SIGINT)] {
        member.start().unwrap();
        member.wait_ready(READY_WITHIN).await.unwrap();
        let revision = write_round(&member, round).await;
        expected_revision += KEYS as i64;
        assert_eq!(revision, expected_revision);
        let applied = applied_index(&member).await;
        stop_with(&mut member, signal);
        let durable = backend_consistent_index(&data_dir);
        assert!(
            durable >= applied,
            "after {round}, the backend holds index {durable}, the member had applied {applied}"
        );
    }

    member.start().unwrap();
    member.wait_ready(READY_WITHIN).await.unwrap();
    let mut clients = grpc::connect(&member.client_url()).await.unwrap();
    let (kvs, revision) = clients.all_keys().await.unwrap();
    assert_eq!(kvs.len(), 2 * KEYS);
    assert_eq!(revision, expected_revision);
    member
        .terminate(EXIT_WITHIN)
        .expect("the member stops at the end");
}
