//! Processes oxadm started and left running, found again through their pid files: whether one
//! still runs, and stopping it (SIGTERM, then SIGKILL after a grace period).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// The pid in `pid_file`, if the file exists and that process is still an `oxadm supervise`
/// (a pid reused by another program after a reboot does not count).
pub fn running_supervisor(pid_file: &Path) -> Option<i32> {
    // Supervisors are given absolute paths; compare in that form.
    let pid_file = std::path::absolute(pid_file).ok()?;
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let command_line = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let arguments: Vec<&[u8]> = command_line.split(|&b| b == 0).collect();
    let ours = arguments.iter().any(|a| *a == b"supervise")
        && arguments
            .iter()
            .any(|a| *a == pid_file.as_os_str().as_encoded_bytes());
    ours.then_some(pid)
}

/// Sends SIGTERM to `pid` and waits until it is gone; SIGKILL after `grace`.
pub fn stop(pid: i32, grace: Duration) -> Result<()> {
    signal(pid, libc::SIGTERM)?;
    let deadline = Instant::now() + grace;
    while alive(pid) {
        if Instant::now() >= deadline {
            signal(pid, libc::SIGKILL)?;
            while alive(pid) {
                std::thread::sleep(Duration::from_millis(20));
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Whether `pid` still exists (and is not a zombie waiting for its parent).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses, which may itself hold spaces.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

fn signal(pid: i32, signal: i32) -> Result<()> {
    // SAFETY: kill(2) takes plain integers and has no memory effects.
    if unsafe { libc::kill(pid, signal) } == 0 {
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::ESRCH) {
        return Ok(());
    }
    Err(error).with_context(|| format!("signalling process {pid}"))
}
