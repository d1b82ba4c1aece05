//! Runs real etcdctl 3.5.1 (with `ETCDCTL_API=3`, as the seed's script exports) against a set
//! of endpoints, with a bound on how long each invocation may take; the same runner drives
//! `oxctl` for tests that compare the two clients.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::process::Command;

/// Default bound on one etcdctl invocation.
pub const ETCDCTL_TIMEOUT: Duration = Duration::from_secs(30);

/// An etcdctl invocation target.
#[derive(Debug, Clone)]
pub struct Etcdctl {
    binary: Option<PathBuf>,
    endpoints: Vec<String>,
    netns: Option<String>,
    timeout: Duration,
    flags: Vec<String>,
}

/// What one invocation printed.
#[derive(Debug, Clone)]
pub struct CtlOutput {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CtlOutput {
    /// The output if etcdctl exited with 0, else an error with everything it printed.
    pub fn success(self) -> Result<CtlOutput> {
        if self.code == Some(0) {
            Ok(self)
        } else {
            bail!(
                "etcdctl exited with {:?}\nstdout:\n{}\nstderr:\n{}",
                self.code,
                self.stdout,
                self.stderr
            )
        }
    }
}

impl CtlOutput {
    /// What `member add` printed: the new member's id (hex) and the `ETCD_INITIAL_CLUSTER` to
    /// start it with.
    pub fn added_member(&self) -> Option<(String, String)> {
        let id = self
            .stdout
            .strip_prefix("Member ")?
            .split_whitespace()
            .next()?
            .to_string();
        let initial = self
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("ETCD_INITIAL_CLUSTER="))?
            .trim_matches('"')
            .to_string();
        Some((id, initial))
    }
}

impl Etcdctl {
    /// Talks to `endpoints`, passed as `--endpoints=a,b,c` exactly as given.
    pub fn new<S: Into<String>>(endpoints: impl IntoIterator<Item = S>) -> Etcdctl {
        Etcdctl {
            binary: None,
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            netns: None,
            timeout: ETCDCTL_TIMEOUT,
            flags: Vec::new(),
        }
    }

    /// Runs oxcd's `oxctl` instead of etcdctl, with the same arguments and environment.
    pub fn oxctl(mut self) -> Result<Etcdctl> {
        self.binary = Some(crate::binaries::oxctl()?);
        Ok(self)
    }

    /// Runs etcdctl inside network namespace `netns`.
    pub fn in_netns(mut self, netns: &str) -> Etcdctl {
        self.netns = Some(netns.to_owned());
        self
    }

    /// Passes `flags` (`--cacert=...`, `--user=...`) before every command's own arguments.
    pub fn with_flags(mut self, flags: impl IntoIterator<Item = String>) -> Etcdctl {
        self.flags.extend(flags);
        self
    }

    /// Sets the bound on one invocation.
    pub fn timeout(mut self, timeout: Duration) -> Etcdctl {
        self.timeout = timeout;
        self
    }

    /// The `--endpoints=...` argument.
    pub fn endpoints_arg(&self) -> String {
        format!("--endpoints={}", self.endpoints.join(","))
    }

    /// Runs `etcdctl --endpoints=... args...`; any exit code is returned, not an error.
    pub async fn run(&self, args: &[&str]) -> Result<CtlOutput> {
        let mut command = self.command(args)?;
        command.stdin(Stdio::null());
        let output = tokio::time::timeout(self.timeout, command.output())
            .await
            .with_context(|| format!("etcdctl {} took over {:?}", args.join(" "), self.timeout))?
            .context("running etcdctl")?;
        Ok(CtlOutput {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Runs `etcdctl --endpoints=... args...`, which must exit 0 (an error says what it
    /// printed otherwise).
    pub async fn ok(&self, args: &[&str]) -> Result<CtlOutput> {
        self.run(args).await?.success()
    }

    /// Runs a command that may never end by itself (`watch`, `lease keep-alive`): `stdin` is
    /// written and left open, and after `duration` the command is killed (exit code `None`).
    /// What it printed until then is returned.
    pub async fn run_for(
        &self,
        args: &[&str],
        stdin: &str,
        duration: Duration,
    ) -> Result<CtlOutput> {
        use tokio::io::AsyncWriteExt;
        let mut command = self.command(args)?;
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().context("running etcdctl")?;
        let mut input = child.stdin.take().context("etcdctl stdin")?;
        input.write_all(stdin.as_bytes()).await?;
        let code = match tokio::time::timeout(duration, child.wait()).await {
            Ok(status) => status?.code(),
            Err(_) => {
                child.start_kill()?;
                None
            }
        };
        drop(input);
        let output = child.wait_with_output().await?;
        Ok(CtlOutput {
            code,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Starts a long-running command (`lock`, `elect`) with its output piped, for a test to
    /// read as it goes, signal ([`interrupt`]) and wait for. It is killed when dropped.
    pub fn spawn(&self, args: &[&str]) -> Result<tokio::process::Child> {
        let mut command = self.command(args)?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.spawn().context("running etcdctl")
    }

    fn command(&self, args: &[&str]) -> Result<Command> {
        let etcdctl = match &self.binary {
            Some(binary) => binary.clone(),
            None => oxcd_testkit::etcd::etcdctl()?,
        };
        let mut command = match &self.netns {
            Some(netns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", netns]).arg(&etcdctl);
                command
            }
            None => Command::new(&etcdctl),
        };
        command
            .arg(self.endpoints_arg())
            .args(&self.flags)
            .args(args)
            .env("ETCDCTL_API", "3")
            .kill_on_drop(true);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ETCDCTL_") && key != "ETCDCTL_API" {
                command.env_remove(key);
            }
        }
        Ok(command)
    }
}

/// Sends SIGINT to a spawned etcdctl (what Ctrl-C does): `lock` and `elect` release and exit.
pub fn interrupt(child: &tokio::process::Child) -> Result<()> {
    let pid = child.id().context("etcdctl already exited")?;
    // SAFETY: kill(2) on a child we own and have not reaped.
    if unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) } != 0 {
        bail!("SIGINT to etcdctl: {}", std::io::Error::last_os_error());
    }
    Ok(())
}
