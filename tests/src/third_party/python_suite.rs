//! Python clients' own pytest suites (the `tests/` of their source distributions), run from
//! the install script's virtualenvs inside a [`SuiteServer`]'s namespace, with real etcdctl on
//! `PATH` as the suites expect.

use std::ffi::OsString;
use std::time::Duration;

use anyhow::{Context, Result};

use super::suite_server::CLIENT_URL;
use super::{Outcomes, SuiteRun, SuiteServer, installed};

/// Bound on one whole pytest run (about 80 s when nothing hangs).
const RUN_TIMEOUT: Duration = Duration::from_secs(420);

/// How to run one client's suite.
pub struct PythonSuite {
    /// The installed directory's name (see `scripts/install-third-party-suites.sh`), holding
    /// `source/` and `venv/`.
    pub dir: &'static str,
    /// The suite's directory in the source tree.
    pub test_dir: &'static str,
    /// The variable the suite reads the server's URL from.
    pub endpoint_variable: &'static str,
    /// pytest arguments besides the test directory.
    pub pytest_args: &'static [&'static str],
    /// Further environment the suite needs.
    pub env: &'static [(&'static str, &'static str)],
}

/// python-etcd3 0.12.0.
pub const PYTHON_ETCD3: PythonSuite = PythonSuite {
    dir: "python-etcd3-0.12.0",
    test_dir: "tests",
    endpoint_variable: "PYTHON_ETCD_HTTP_URL",
    pytest_args: &[],
    // Its generated protobuf modules predate the C++ runtime's checks.
    env: &[("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")],
};

/// aetcd 1.0.0 (asyncio client).
pub const AETCD: PythonSuite = PythonSuite {
    dir: "aetcd-1.0.0",
    test_dir: "tests",
    endpoint_variable: "TEST_ETCD_HTTP_URL",
    // Its configuration adds coverage options for a plugin the suite does not need.
    pytest_args: &["-o", "addopts="],
    env: &[],
};

/// etcd3gw 2.7.0 (OpenStack's client, over the JSON gateway only). Its port comes from a
/// second variable, whose default is the suite server's.
pub const ETCD3GW: PythonSuite = PythonSuite {
    dir: "etcd3gw-2.7.0",
    test_dir: "etcd3gw/tests",
    endpoint_variable: "TOOZ_TEST_HTTP_URL",
    pytest_args: &[],
    env: &[],
};

impl PythonSuite {
    /// Runs the suite against `server`.
    pub async fn run(&self, server: &SuiteServer) -> Result<SuiteRun> {
        let dir = installed(self.dir)?;
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
            ])
            .args(self.pytest_args)
            .arg(self.test_dir)
            .current_dir(dir.join("source"))
            .env("PATH", path)
            .env(self.endpoint_variable, CLIENT_URL)
            .env("ETCDCTL_API", "3")
            // Both servers' runs share the source tree: nothing may be written into it.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .envs(self.env.iter().copied());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ETCDCTL_") && key != "ETCDCTL_API" {
                command.env_remove(key);
            }
        }
        let output = tokio::time::timeout(RUN_TIMEOUT, command.output())
            .await
            .with_context(|| format!("{}'s tests took too long", self.dir))??;
        let mut report = String::from_utf8_lossy(&output.stdout).into_owned();
        report.push_str(&String::from_utf8_lossy(&output.stderr));
        Ok(SuiteRun {
            outcomes: Outcomes::from_pytest(&report),
            report,
        })
    }
}
