//! The Rust `etcd-client` crate's own tests (`tests/*.rs` of the published crate): built once
//! with cargo into `.third-party/`, then each test executable run inside a
//! [`SuiteServer`]'s namespace.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::{Outcomes, SuiteRun, SuiteServer, installed};

/// The installed crate's directory name (see `scripts/install-third-party-suites.sh`).
pub const CRATE_DIR: &str = "etcd-client-0.21.1";

/// Bound on building the crate and its tests (two cores, from nothing).
const BUILD_TIMEOUT: Duration = Duration::from_secs(420);

/// Bound on one test executable's run; the token-refresh tests alone sleep half a minute.
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// One test executable of the crate.
pub struct TestBinary {
    /// The test target's name (`client`, `namespace`, …).
    pub name: String,
    /// The executable.
    pub path: PathBuf,
}

/// Builds the crate's integration tests (offline: the install script fetched everything) and
/// returns their executables.
pub async fn build_tests() -> Result<Vec<TestBinary>> {
    let dir = installed(CRATE_DIR)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = tokio::process::Command::new(cargo);
    command
        .args(["test", "--tests", "--no-run", "--offline", "--locked"])
        .args([
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .env(
            "CARGO_TARGET_DIR",
            dir.with_file_name(format!("{CRATE_DIR}-target")),
        )
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(BUILD_TIMEOUT, command.output())
        .await
        .context("building etcd-client's tests took too long")??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "building etcd-client's tests failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let binaries: Vec<TestBinary> = stdout.lines().filter_map(test_binary).collect();
    if binaries.is_empty() {
        bail!("cargo built no test executable for etcd-client:\n{stdout}");
    }
    Ok(binaries)
}

/// A test target's executable from one of cargo's JSON messages.
fn test_binary(message: &str) -> Option<TestBinary> {
    let message: serde_json::Value = serde_json::from_str(message).ok()?;
    if message["reason"] != "compiler-artifact" || message["target"]["kind"][0] != "test" {
        return None;
    }
    Some(TestBinary {
        name: message["target"]["name"].as_str()?.to_owned(),
        path: message["executable"].as_str()?.into(),
    })
}

/// Runs every test executable against `server`, one after the other.
pub async fn run(server: &SuiteServer, binaries: &[TestBinary]) -> Result<SuiteRun> {
    let mut outcomes = Outcomes::default();
    let mut report = String::new();
    for binary in binaries {
        let mut command = server.command(&binary.path);
        command.current_dir(installed(CRATE_DIR)?);
        let output = tokio::time::timeout(RUN_TIMEOUT, command.output())
            .await
            .with_context(|| format!("etcd-client's {} tests took too long", binary.name))??;
        let stdout = String::from_utf8_lossy(&output.stdout);
        outcomes.merge(Outcomes::from_libtest(&binary.name, &stdout));
        report.push_str(&stdout);
        report.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    Ok(SuiteRun { outcomes, report })
}
