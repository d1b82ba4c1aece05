//! Removes what crashed test runs left behind. Everything the harness creates is named
//! `oxt-<pid>-...` (network namespaces, temporary directories), so leftovers of a process that
//! no longer exists can be found and deleted without touching those of live test processes.

use std::path::Path;
use std::sync::Once;

use crate::netns::command::{kill_processes_in, run};

/// Prefix of every namespace and temporary directory the harness creates.
pub const PREFIX: &str = "oxt-";

/// Sweeps once per process; later calls return at once.
pub fn sweep_once() {
    static SWEEP: Once = Once::new();
    SWEEP.call_once(sweep);
}

/// Deletes namespaces and temporary directories of test processes that no longer exist.
/// Failures are reported on stderr and otherwise ignored: a leftover must not fail a test.
pub fn sweep() {
    for namespace in stale_namespaces() {
        kill_processes_in(&namespace);
        match run("ip", &["netns", "del", &namespace]) {
            Ok(_) => eprintln!("oxt: removed stale network namespace {namespace}"),
            Err(error) => eprintln!("oxt: cannot remove stale namespace {namespace}: {error:#}"),
        }
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if owner_is_gone(&name) && entry.path().is_dir() {
            for mount in crate::small_disk::mounts_under(&entry.path()) {
                crate::small_disk::unmount(&mount);
            }
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => eprintln!("oxt: removed stale directory {}", entry.path().display()),
                Err(error) => eprintln!(
                    "oxt: cannot remove stale directory {}: {error}",
                    entry.path().display()
                ),
            }
        }
    }
}

/// Namespaces named by this harness whose creator is gone.
pub fn stale_namespaces() -> Vec<String> {
    // Without `ip` (loopback-only test runs) there are no namespaces to sweep.
    let Ok(listing) = run("ip", &["netns", "list"]) else {
        return Vec::new();
    };
    listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| owner_is_gone(name))
        .map(str::to_owned)
        .collect()
}

/// The pid in `oxt-<pid>-...`, if `name` has that shape.
pub fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()
}

/// Whether `name` was created by a harness process that has exited.
fn owner_is_gone(name: &str) -> bool {
    owner_pid(name).is_some_and(|pid| {
        pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
    })
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn owner_pid_reads_the_prefix() {
        assert_eq!(owner_pid("oxt-1234-0-hub"), Some(1234));
        assert_eq!(owner_pid("oxt-99-abc"), Some(99));
        assert_eq!(owner_pid("oxt-x-1"), None);
        assert_eq!(owner_pid("other-1234-0"), None);
    }

    #[test]
    fn live_owners_are_not_stale() {
        assert!(!owner_is_gone(&format!("oxt-{}-0", std::process::id())));
        assert!(!owner_is_gone("oxt-1-0"), "pid 1 always exists");
    }

    #[test]
    fn directories_of_dead_owners_are_removed() {
        let mut child = Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let dir = std::env::temp_dir().join(format!("oxt-{dead}-sweeptest"));
        std::fs::create_dir_all(dir.join("member")).unwrap();
        sweep();
        assert!(!dir.exists(), "{} survived the sweep", dir.display());
    }
}
