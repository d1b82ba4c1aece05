//! Supervisors oxadm started and left running on this machine, found again through their pid
//! files (stopping them is `member_control.rs`'s, on any host).

use std::path::Path;

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
