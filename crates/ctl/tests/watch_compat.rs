//! `oxctl watch` against `etcdctl watch` 3.5.1: both tools watch the same history on twin etcd
//! servers (same identity, same operations), each for a fixed time, and what they printed by
//! then, and how they ended, must be identical. A watch never ends by itself, so every run is
//! killed at its deadline; both tools flush each response as it arrives, so the output up to
//! that point is complete.

use oxcd_testkit::etcd::require_etcdctl;
use oxcd_testkit::etcd_cluster::Cluster;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long each watch runs before it is killed: long enough for the server to replay the
/// history, short enough to keep the test quick.
const WATCH_FOR: Duration = Duration::from_millis(1500);

/// What a tool printed and how it ended: `None` as exit code means it was still watching.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

/// Starts `tool` with `args` against `endpoint`, writing `stdin` but keeping it open (an
/// interactive watch ends at end of input).
fn start(tool: &Path, endpoint: &str, args: &[&str], stdin: &str) -> Child {
    let mut child = Command::new(tool)
        .arg(format!("--endpoints={endpoint}"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", tool.display()));
    child
        .stdin
        .as_mut()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child
}

/// Waits until `child` exits or the deadline passes (then kills it), and collects its output.
fn finish(mut child: Child, deadline: Instant) -> Outcome {
    let mut code = None;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("poll") {
            code = status.code();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if code.is_none() {
        let _ = child.kill();
    }
    let output = child.wait_with_output().expect("collect output");
    Outcome {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code,
    }
}

/// Runs one case through both tools at once (etcdctl on the first twin, oxctl on the
/// second) and describes any difference.
fn compare(etcdctl: &Path, twins: &Cluster, args: &[&str], stdin: &str) -> Option<String> {
    let oxctl = PathBuf::from(env!("CARGO_BIN_EXE_oxctl"));
    let endpoints = twins.endpoints();
    let expected = start(etcdctl, &endpoints[0], args, stdin);
    let actual = start(&oxctl, &endpoints[1], args, stdin);
    let deadline = Instant::now() + WATCH_FOR;
    let expected = finish(expected, deadline);
    let actual = finish(actual, deadline);
    (expected != actual).then(|| {
        format!("watch {args:?} (stdin {stdin:?}):\n  etcdctl {expected:?}\n  oxctl   {actual:?}")
    })
}

/// Applies the same operation to both twins.
fn on_both(etcdctl: &Path, twins: &Cluster, args: &[&str]) {
    for endpoint in twins.endpoints() {
        let output = Command::new(etcdctl)
            .arg(format!("--endpoints={endpoint}"))
            .args(args)
            .output()
            .expect("run etcdctl");
        assert!(output.status.success(), "etcdctl {args:?}: {output:?}");
    }
}

/// Watches over a history of puts and deletes, in every form etcdctl offers.
const HISTORY_CASES: &[(&[&str], &str)] = &[
    (&["watch", "a", "--rev", "1"], ""),
    (&["watch", "a", "--rev", "1", "--prev-kv"], ""),
    (&["watch", "a", "--rev", "3"], ""),
    (&["watch", "a", "c", "--rev", "1"], ""),
    (&["watch", "--prefix", "a", "--rev", "1"], ""),
    (&["watch", "--prefix", "", "--rev", "1"], ""),
    (&["watch", "a", "--rev", "1", "-w", "json"], ""),
    (&["watch", "a", "--rev", "1", "-w", "fields"], ""),
    (&["watch", "a", "--rev", "1", "-w", "protobuf"], ""),
    (&["watch", "no-such-key", "--rev", "1"], ""),
    (
        &[
            "watch",
            "a",
            "--rev",
            "1",
            "--",
            "sh",
            "-c",
            "echo $ETCD_WATCH_REVISION $ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY $ETCD_WATCH_VALUE",
        ],
        "",
    ),
    (&["watch", "a", "--rev", "1", "--", "false"], ""),
    (
        &["watch", "a", "--rev", "1", "--", "no-such-command-anywhere"],
        "",
    ),
    (&["watch", "-i"], "watch a --rev 2\n"),
    (&["watch", "-i"], "watch --prefix b --rev 1\n"),
    (&["watch", "-i", "-w", "json"], "watch a\nprogress\n"),
    (&["watch", "-i"], "watch a\nprogress\n"),
    (&["watch", "-i"], "watch a --rev 1 -- echo seen\n"),
    (&["watch", "-i"], "get a\n"),
    (&["watch", "-i"], "watch\n"),
    (&["watch", "-i"], "\n"),
    // Bad arguments end the command at once.
    (&["watch"], ""),
    (&["watch", "a", "b", "c"], ""),
    (&["watch", "a", "b", "--prefix"], ""),
    (&["watch", "a", "--rev", "x"], ""),
    (&["watch", "a", "--", "echo"], ""),
    (&["watch", "--", "echo"], ""),
];

#[test]
fn watch_output_matches_etcdctl() {
    let etcdctl = require_etcdctl();
    let twins = Cluster::twins();
    for op in [
        &["put", "a", "1"][..],
        &["put", "ab", "x"],
        &["put", "a", "2"],
        &["put", "b", "y"],
        &["del", "a"],
        &["put", "a", "3"],
    ] {
        on_both(&etcdctl, &twins, op);
    }
    let mut failures: Vec<String> = HISTORY_CASES
        .iter()
        .filter_map(|(args, stdin)| compare(&etcdctl, &twins, args, stdin))
        .collect();
    // Once history is compacted away, a watch from before it is cancelled by the server.
    on_both(&etcdctl, &twins, &["compaction", "5"]);
    for args in [
        &["watch", "a", "--rev", "2"][..],
        &["watch", "a", "--rev", "5"],
        &["watch", "a", "--rev", "2", "-w", "json"],
    ] {
        failures.extend(compare(&etcdctl, &twins, args, ""));
    }
    failures.extend(compare(
        &etcdctl,
        &twins,
        &["watch", "-i"],
        "watch a --rev 2\n",
    ));
    assert!(
        failures.is_empty(),
        "{} watch cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
