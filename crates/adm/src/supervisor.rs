//! `oxadm supervise`: the process that keeps one member running where no systemd does. It
//! writes its pid file, runs oxcd with its output appended to the member's log, and restarts
//! it after a failure (oxcd stops on a fatal error and recovers from its files when started
//! again), waiting longer after each quick failure. A member that exits by itself with status 0
//! (it was removed from the cluster) is not restarted. SIGHUP restarts oxcd at once (a rolling
//! restart or upgrade asks for that). SIGTERM or SIGINT stops oxcd gracefully,
//! then the supervisor removes its pid file and exits; a supervisor killed outright takes oxcd
//! with it (SIGTERM through the parent-death signal).

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};
use tokio::signal::unix::{SignalKind, signal};

use crate::process::running_supervisor;

/// How long oxcd may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);
/// The first wait before a restart, doubled after each quick failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait before a restart.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run at least this long counts as healthy: the next failure waits `FIRST_BACKOFF` again.
const STABLE_RUN: Duration = Duration::from_secs(60);

/// The supervisor's first line in the log: what follows is about this supervisor's member.
pub const SUPERVISING: &str = "supervising oxcd";
/// What the line saying that oxcd failed has after the failure.
pub const RESTARTING_AFTER_FAILURE: &str = "; restarting it in ";

/// What to supervise.
pub struct Supervised {
    /// Where the supervisor writes its pid.
    pub pid_file: PathBuf,
    /// Where oxcd's output and the supervisor's lines go.
    pub log_file: PathBuf,
    /// The program and its arguments.
    pub command: Vec<OsString>,
}

/// Runs until stopped by a signal or by the program's exit with status 0.
pub async fn supervise(supervised: Supervised) -> Result<()> {
    let Some((program, arguments)) = supervised.command.split_first() else {
        bail!("supervise: no program to run");
    };
    if let Some(pid) = running_supervisor(&supervised.pid_file) {
        bail!(
            "another supervisor (pid {pid}) already runs this member ({})",
            supervised.pid_file.display()
        );
    }
    write_pid_file(&supervised.pid_file)?;
    note(&supervised, SUPERVISING)?;
    let result = run_loop(&supervised, program, arguments).await;
    let _ = std::fs::remove_file(&supervised.pid_file);
    result
}

async fn run_loop(
    supervised: &Supervised,
    program: &OsString,
    arguments: &[OsString],
) -> Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let log = open_log(&supervised.log_file)?;
        let started = Instant::now();
        let mut command = Command::new(program);
        command
            .args(arguments)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: the hook only calls prctl(2), which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                // A supervisor killed outright takes its member down gracefully instead of
                // leaving it running unsupervised.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", program.to_string_lossy()))?;
        let status = tokio::select! {
            status = child.wait() => status?,
            _ = terminate.recv() => return stop(&mut child).await,
            _ = interrupt.recv() => return stop(&mut child).await,
            _ = hangup.recv() => {
                stop(&mut child).await?;
                note(supervised, "restarting oxcd on request (SIGHUP)")?;
                backoff = FIRST_BACKOFF;
                continue;
            }
        };
        if status.success() {
            note(supervised, "oxcd exited with status 0; not restarting it")?;
            return Ok(());
        }
        if started.elapsed() >= STABLE_RUN {
            backoff = FIRST_BACKOFF;
        }
        note(
            supervised,
            &format!(
                "oxcd {}{RESTARTING_AFTER_FAILURE}{}s",
                describe(status),
                backoff.as_secs()
            ),
        )?;
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Stops oxcd as etcd is stopped (SIGTERM: it finishes what it is doing), killing it if it
/// does not stop in time.
async fn stop(child: &mut Child) -> Result<()> {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) takes plain integers and has no memory effects.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    }
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        child.kill().await?;
    }
    Ok(())
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("ended ({status})"),
    }
}

fn open_log(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening the log {}", path.display()))
}

/// Appends a line of the supervisor's own to the member's log.
fn note(supervised: &Supervised, text: &str) -> Result<()> {
    let mut log = open_log(&supervised.log_file)?;
    writeln!(log, "oxadm supervise: {text}")?;
    Ok(())
}

fn write_pid_file(path: &Path) -> Result<()> {
    let partial = path.with_extension("pid.partial");
    std::fs::write(&partial, format!("{}\n", std::process::id()))
        .and_then(|()| std::fs::rename(&partial, path))
        .with_context(|| format!("writing the pid file {}", path.display()))
}
