//! Runs `oxadm` for its tests, on this machine or inside a lab host, with a bound on how long
//! it may take, and gives back everything it printed.

use std::process::Output;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::{NetnsLab, binaries};

/// Bound on one `oxadm` command (bringing up a cluster included).
const OXADM_TIMEOUT: Duration = Duration::from_secs(240);

/// What one `oxadm` run did.
pub struct OxadmRun {
    /// Its exit status and output.
    pub output: Output,
}

impl OxadmRun {
    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.output.status.success()
    }

    /// Panics, showing what it printed, unless `text` appears in it exactly `times` times.
    #[track_caller]
    pub fn assert_says(&self, text: &str, times: usize) {
        let printed = self.text();
        assert_eq!(
            printed.matches(text).count(),
            times,
            "{text:?} in:\n{printed}"
        );
    }

    /// Its standard output, then its standard error.
    pub fn text(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }
}

/// Runs `oxadm args...` on this machine.
pub async fn oxadm<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<OxadmRun> {
    let command = tokio::process::Command::new(binaries::oxadm()?);
    finish(command, args).await
}

/// Runs `oxadm args...` on this machine; panics, showing what it printed, unless it succeeds.
pub async fn oxadm_ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> OxadmRun {
    let run = oxadm(args).await.expect("running oxadm");
    let words: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
    assert!(
        run.success(),
        "oxadm {} failed:\n{}",
        words.join(" "),
        run.text()
    );
    run
}

/// Runs `oxadm args...` on this machine; panics, showing what it printed, unless it fails
/// saying `message`.
pub async fn oxadm_refused<S: AsRef<std::ffi::OsStr>>(args: &[S], message: &str) -> OxadmRun {
    let run = oxadm(args).await.expect("running oxadm");
    assert!(
        !run.success(),
        "oxadm succeeded where it must refuse:\n{}",
        run.text()
    );
    assert!(
        run.text().contains(message),
        "{message:?} in:\n{}",
        run.text()
    );
    run
}

/// Runs `oxadm args...` inside host `i` of `lab`.
pub async fn oxadm_in<S: AsRef<std::ffi::OsStr>>(
    lab: &NetnsLab,
    i: usize,
    args: &[S],
) -> Result<OxadmRun> {
    let oxadm = binaries::oxadm()?;
    let command =
        tokio::process::Command::from(lab.command(i, oxadm.to_str().context("a UTF-8 path")?));
    finish(command, args).await
}

async fn finish<S: AsRef<std::ffi::OsStr>>(
    mut command: tokio::process::Command,
    args: &[S],
) -> Result<OxadmRun> {
    command.args(args).kill_on_drop(true);
    let output = tokio::time::timeout(OXADM_TIMEOUT, command.output())
        .await
        .context("oxadm did not finish in time")?
        .context("running oxadm")?;
    Ok(OxadmRun { output })
}
