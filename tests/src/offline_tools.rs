//! Running the offline tools on a member's files: oxcd's `oxutl` and real etcdutl 3.5.1, the
//! same arguments to each, with what they printed.

use std::path::Path;
use std::process::Output;

use oxcd_testkit::etcd::etcdutl;

use crate::binaries;

/// Runs `oxutl args...` to the end.
pub fn oxutl(args: &[&str]) -> Output {
    run(&binaries::oxutl().expect("oxutl binary"), args)
}

/// Runs real `etcdutl args...` to the end.
pub fn real_etcdutl(args: &[&str]) -> Output {
    run(&etcdutl().expect("etcdutl 3.5.1"), args)
}

fn run(binary: &Path, args: &[&str]) -> Output {
    std::process::Command::new(binary)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", binary.display()))
}

/// What a command that must succeed printed on stdout (a failure panics with all it printed).
pub fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a command printed on stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
