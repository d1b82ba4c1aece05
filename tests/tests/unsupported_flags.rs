//! A real `oxcd` process given an etcd flag it cannot honour yet must refuse to start: exit
//! non-zero within seconds, with etcd's `failed to verify flags` warning naming the flag on
//! stderr, instead of serving (a `unix://` URL would otherwise be a TCP port). Real etcd would
//! start with these flags, so there is no oracle to compare with. (TLS is served:
//! `tls_listeners.rs`, `peer_tls.rs`.)

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oxcd_testkit::ports;
use oxcd_tests::binaries;
use serde_json::Value;

/// How long a refusing member may take to exit.
const EXIT_WITHIN: Duration = Duration::from_secs(10);

/// How the process ended: its exit code and its stderr.
struct Ended {
    code: Option<i32>,
    stderr: String,
}

/// An oxcd command for a complete single-member configuration in `dir` on free loopback
/// ports, plus `extra` (a later flag wins), with none of the test runner's `ETCD_*`
/// variables (the server reads them as flags). Returns it with the client address.
fn member_command(dir: &Path, extra: &[String]) -> (Command, String) {
    let ports = ports::free_ports(2);
    let client = format!("http://127.0.0.1:{}", ports[0]);
    let peer = format!("http://127.0.0.1:{}", ports[1]);
    let mut command = Command::new(binaries::oxcd().unwrap());
    command
        .current_dir(dir)
        .args(["--name", "m1", "--data-dir"])
        .arg(dir.join("m1"))
        .args(["--listen-client-urls", &client])
        .args(["--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer])
        .args(["--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", &format!("m1={peer}")])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ETCD_") {
            command.env_remove(key);
        }
    }
    (command, format!("127.0.0.1:{}", ports[0]))
}

/// Runs a member with `extra` flags and waits for it to exit.
fn run_oxcd(extra: &[String]) -> Ended {
    let dir = tempfile::tempdir().unwrap();
    let (mut command, _) = member_command(dir.path(), extra);
    command.stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > EXIT_WITHIN {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("oxcd {extra:?} still running after {EXIT_WITHIN:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Ended {
        code: status.code(),
        stderr,
    }
}

/// The `error` of the `failed to verify flags` line on stderr.
fn verify_error(ended: &Ended) -> String {
    ended
        .stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["msg"] == "failed to verify flags")
        .and_then(|line| line["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no 'failed to verify flags' line:\n{}", ended.stderr))
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

#[test]
fn a_unix_socket_peer_url_makes_oxcd_exit() {
    let ended = run_oxcd(&args(&["--listen-peer-urls", "unix://peer:0"]));
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    assert_eq!(
        verify_error(&ended),
        "--listen-peer-urls=unix://peer:0 is not supported yet: oxcd listens only on TCP, refusing to start rather than listen elsewhere than asked"
    );
}

#[test]
fn flags_at_their_default_still_start_a_member() {
    // The same configuration with the refused flags at etcd's defaults serves; the process is
    // stopped as soon as it is up, so any exit before that is a failure.
    let dir = tempfile::tempdir().unwrap();
    let defaults = args(&[
        "--client-cert-auth=false",
        "--auto-compaction-retention=0",
        "--quota-backend-bytes=0",
        "--force-new-cluster=false",
    ]);
    let (mut command, address) = member_command(dir.path(), &defaults);
    let mut child = command.stderr(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    let up = loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("oxcd exited with {status} although every flag is at its default");
        }
        if std::net::TcpStream::connect(&address).is_ok() {
            break true;
        }
        if started.elapsed() > Duration::from_secs(20) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(up, "oxcd did not listen on {address}");
}
