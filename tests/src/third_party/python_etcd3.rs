//! python-etcd3's own tests (`tests/` of its source distribution), run with pytest from the
//! install script's virtualenv inside a [`SuiteServer`]'s namespace, with real etcdctl on
//! `PATH` as the tests expect.

use std::ffi::OsString;
use std::time::Duration;

use anyhow::{Context, Result};

use super::suite_server::CLIENT_URL;
use super::{Outcomes, SuiteRun, SuiteServer, installed};

/// The installed distribution's directory name (see `scripts/install-third-party-suites.sh`).
pub const DISTRIBUTION_DIR: &str = "python-etcd3-0.12.0";

/// Bound on the whole pytest run (about 80 s when nothing hangs).
const RUN_TIMEOUT: Duration = Duration::from_secs(420);

/// Runs the suite against `server`.
pub async fn run(server: &SuiteServer) -> Result<SuiteRun> {
    let dir = installed(DISTRIBUTION_DIR)?;
    let etcdctl = oxcd_testkit::etcd::etcdctl()?;
    let mut path = OsString::from(etcdctl.parent().context("etcdctl has a directory")?);
    if let Some(inherited) = std::env::var_os("PATH") {
        path.push(":");
        path.push(inherited);
    }
    let mut command = server.command(dir.join("venv/bin/python"));
    command
        .args([
            "-m",
            "pytest",
            "-v",
            "-p",
            "no:warnings",
            "-p",
            "no:cacheprovider",
            "tests",
        ])
        .current_dir(dir.join("source"))
        .env("PATH", path)
        .env("PYTHON_ETCD_HTTP_URL", CLIENT_URL)
        .env("ETCDCTL_API", "3")
        // The distribution's generated protobuf modules predate the C++ runtime's checks.
        .env("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
        // Both servers' runs share the source tree: nothing may be written into it.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ETCDCTL_") && key != "ETCDCTL_API" {
            command.env_remove(key);
        }
    }
    let output = tokio::time::timeout(RUN_TIMEOUT, command.output())
        .await
        .context("python-etcd3's tests took too long")??;
    let mut report = String::from_utf8_lossy(&output.stdout).into_owned();
    report.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok(SuiteRun {
        outcomes: Outcomes::from_pytest(&report),
        report,
    })
}
