//! Starts child processes that cannot outlive the test process.
//!
//! Drop-based cleanup does not run when a test process is killed (a nextest timeout, Ctrl-C),
//! so every child also gets `PR_SET_PDEATHSIG = SIGKILL`. The kernel fires that signal when the
//! *thread* that forked the child exits, not the process; children are therefore forked from
//! one dedicated thread that lives as long as the process, never from a test or runtime thread.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};

type Request = (Command, Sender<io::Result<Child>>);

static SPAWNER: OnceLock<Mutex<Sender<Request>>> = OnceLock::new();

/// Spawns `command` so that it is killed when this process dies.
pub fn spawn(mut command: Command) -> io::Result<Child> {
    let parent = std::process::id();
    // SAFETY: the hook only calls async-signal-safe libc functions (prctl, getppid, _exit)
    // between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then nobody would ever
            // deliver the signal.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let sender = spawner_thread()?
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let (reply, response) = mpsc::channel();
    sender
        .send((command, reply))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    response
        .recv()
        .map_err(|_| io::Error::other("the spawner thread dropped a request"))?
}

fn spawner_thread() -> io::Result<&'static Mutex<Sender<Request>>> {
    if let Some(sender) = SPAWNER.get() {
        return Ok(sender);
    }
    let (sender, requests) = mpsc::channel::<Request>();
    let candidate = Mutex::new(sender);
    // Only the thread whose sender wins the race is started; a losing sender is dropped.
    if SPAWNER.set(candidate).is_ok() {
        std::thread::Builder::new()
            .name("oxt-spawner".into())
            .spawn(move || {
                for (mut command, reply) in requests {
                    // A requester that gave up no longer needs the answer.
                    let _ = reply.send(command.spawn());
                }
            })?;
    }
    SPAWNER
        .get()
        .ok_or_else(|| io::Error::other("spawner registration vanished"))
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use super::*;

    const HELPER_ENV: &str = "OXT_SPAWNER_HELPER";

    #[test]
    fn spawned_children_run_and_report_their_exit_status() {
        let mut command = Command::new("sh");
        command.args(["-c", "exit 7"]);
        let status = spawn(command).unwrap().wait().unwrap();
        assert_eq!(status.code(), Some(7));
    }

    /// Runs inside a separate copy of this test binary, started by
    /// `children_die_with_the_test_process`.
    #[test]
    #[ignore = "helper process for children_die_with_the_test_process"]
    fn helper_spawns_a_sleeper_and_waits() {
        if std::env::var_os(HELPER_ENV).is_none() {
            return;
        }
        let mut command = Command::new("sleep");
        command.arg("120");
        let mut child = spawn(command).unwrap();
        println!("sleeper={}", child.id());
        // Blocks until the parent test kills this helper process.
        child.wait().unwrap();
    }

    #[test]
    fn children_die_with_the_test_process() {
        let mut helper = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "spawner::tests::helper_spawns_a_sleeper_and_waits",
                "--ignored",
                "--nocapture",
            ])
            .env(HELPER_ENV, "1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = helper.stdout.take().unwrap();
        let sleeper: i32 = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("sleeper=").map(str::to_owned))
            .expect("helper printed its child's pid")
            .parse()
            .unwrap();
        assert!(is_alive(sleeper), "the sleeper runs while its parent does");
        helper.kill().unwrap();
        helper.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_alive(sleeper) {
            assert!(
                Instant::now() < deadline,
                "pid {sleeper} outlived the process that spawned it"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Running and not a zombie (a killed orphan may wait a moment for init to reap it).
    fn is_alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let state = stat.rsplit_once(") ")?.1.chars().next()?;
                Some(state != 'Z' && state != 'X')
            })
            .unwrap_or(false)
    }
}
