//! A single member the way third-party client suites expect to find one: started with etcd's
//! default URLs (clients on `localhost:2379`) and a two-second token TTL, with a `root` user
//! (password `rootpwd`) for suites that expect one — inside a network namespace of its own, so
//! the fixed port collides with nothing else and a suite run there sees only this server.

use std::ffi::OsStr;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use tempfile::TempDir;

use crate::{Etcdctl, NetnsLab, Server, spawner, stale, wait};

/// The client URL of etcd's defaults, which the suites dial.
pub const CLIENT_URL: &str = "http://127.0.0.1:2379";

/// The root user's password the suites authenticate with.
pub const ROOT_PASSWORD: &str = "rootpwd";

/// `--auth-token-ttl`: the suites' token-refresh tests sleep 4 s and expect the token gone.
const TOKEN_TTL_SECONDS: &str = "2";

/// Bound on the member serving after its start.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running member in its own namespace; the process, namespace and files go on drop.
pub struct SuiteServer {
    // Dropped before `dir`: the namespace's processes are killed with it.
    lab: NetnsLab,
    process: Child,
    dir: TempDir,
}

impl SuiteServer {
    /// Starts `server` and waits until it serves.
    pub async fn start(server: Server) -> Result<SuiteServer> {
        let lab = NetnsLab::create(1)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}{}-suite-", stale::PREFIX, std::process::id()))
            .tempdir()
            .context("creating the suite server's directory")?;
        let log = File::create(dir.path().join("server.log"))?;
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &lab.host(0).netns])
            .arg(server.binary()?)
            .args(["--name", "default", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--auth-token-ttl", TOKEN_TTL_SECONDS])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let process = spawner::spawn(command).with_context(|| format!("starting {server}"))?;
        let suite_server = SuiteServer { lab, process, dir };
        suite_server
            .wait_ready()
            .await
            .with_context(|| format!("{server} did not come up:\n{}", suite_server.log()))?;
        Ok(suite_server)
    }

    async fn wait_ready(&self) -> Result<()> {
        let etcdctl = self.etcdctl();
        wait::until_ok("the suite server to serve", READY_TIMEOUT, || {
            etcdctl.ok(&["endpoint", "health"])
        })
        .await?;
        Ok(())
    }

    /// Adds user `root` with password [`ROOT_PASSWORD`] and the root role.
    pub async fn add_root_user(&self) -> Result<()> {
        let etcdctl = self.etcdctl();
        let password = format!("--new-user-password={ROOT_PASSWORD}");
        etcdctl.ok(&["user", "add", "root", &password]).await?;
        etcdctl.ok(&["user", "grant-role", "root", "root"]).await?;
        Ok(())
    }

    /// Real etcdctl, run inside the namespace against the server.
    pub fn etcdctl(&self) -> Etcdctl {
        Etcdctl::new([CLIENT_URL]).in_netns(&self.lab.host(0).netns)
    }

    /// A command that runs `program` inside the server's namespace; killed when dropped.
    pub fn command(&self, program: impl AsRef<OsStr>) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("ip");
        command
            .args(["netns", "exec", &self.lab.host(0).netns])
            .arg(program)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }
}

impl Drop for SuiteServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
