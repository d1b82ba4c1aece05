//! Runs the administration commands (`ip`, `iptables`) the network lab is built with, turning
//! a non-zero exit into an error that shows the command and its stderr, and empties namespaces
//! of their processes before they are deleted.

use std::process::Command;

use anyhow::{Context, Result, bail};

/// Runs `program args...` and returns its stdout.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    let output = Command::new(program).args(args).output().with_context(|| {
        format!("running {program} (is it installed? see scripts/install-test-deps.sh)")
    })?;
    if !output.status.success() {
        bail!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout).with_context(|| format!("{program} printed non-UTF-8"))
}

/// Runs `program args...` inside network namespace `netns`.
pub fn run_in(netns: &str, program: &str, args: &[&str]) -> Result<String> {
    let mut full = vec!["netns", "exec", netns, program];
    full.extend_from_slice(args);
    run("ip", &full)
}

/// SIGKILLs every process inside namespace `netns` (a missing namespace has none).
pub fn kill_processes_in(netns: &str) {
    let Ok(pids) = run("ip", &["netns", "pids", netns]) else {
        return;
    };
    for pid in pids
        .split_whitespace()
        .filter_map(|pid| pid.parse::<libc::pid_t>().ok())
    {
        // SAFETY: kill(2) on a pid the kernel listed; one that vanished meanwhile just fails.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_stdout_and_reports_failures_with_stderr() {
        assert_eq!(run("sh", &["-c", "echo hi"]).unwrap(), "hi\n");
        let error = run("sh", &["-c", "echo boom >&2; exit 3"]).unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains("boom") && text.contains("sh -c"), "{text}");
    }
}
