//! One cluster member: its fixed configuration (name, URLs, data dir, command line) and its
//! current server process, which can be started, killed, stopped, paused and restarted with
//! the same command line. Output of every incarnation is appended to one log file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use oxcd_api::etcdserverpb::StatusRequest;

use crate::grpc;
use crate::grpc_tls::{self, ClusterTls};
use crate::peer_tls::PeerTls;
use crate::server::Server;
use crate::spawner;
use crate::wait::{self, Attempt};

/// The log line etcd (and oxcd) prints once a client listener serves requests.
pub const READY_LOG_LINE: &str = r#""msg":"ready to serve client requests""#;

/// Bound on a process reaching the stopped state after SIGSTOP.
const PAUSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many log lines of each member are printed when a test fails.
pub const LOG_TAIL_LINES: usize = 60;

/// Where and how a member runs; fixed for its whole life, across restarts.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// `--name`.
    pub name: String,
    /// The address both URLs use.
    pub ip: IpAddr,
    /// Port of the client URL.
    pub client_port: u16,
    /// Port of the peer URL.
    pub peer_port: u16,
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// File that receives the server's stdout and stderr.
    pub log_path: PathBuf,
    /// Network namespace to run in (`ip netns exec`); `None` runs in the test's namespace.
    pub netns: Option<String>,
    /// Every argument after the binary.
    pub args: Vec<String>,
    /// Client TLS: the client URL is `https://` and the harness connects with these.
    pub client_tls: Option<ClusterTls>,
    /// Peer TLS: the peer URL is `https://`.
    pub peer_tls: Option<PeerTls>,
}

impl MemberConfig {
    /// Member `name` at `ip` with (client, peer) `ports`, in namespace `netns` if any, its
    /// data dir and log under `root`; no command line yet.
    pub fn new(
        root: &Path,
        name: &str,
        ip: IpAddr,
        (client_port, peer_port): (u16, u16),
        netns: Option<String>,
    ) -> MemberConfig {
        MemberConfig {
            name: name.to_string(),
            ip,
            client_port,
            peer_port,
            data_dir: root.join(name),
            log_path: root.join(format!("{name}.log")),
            netns,
            args: Vec::new(),
            client_tls: None,
            peer_tls: None,
        }
    }

    /// Member `m1` on loopback at free ports, its files under `root`, alone in a new cluster
    /// (the seed's flags).
    pub fn alone(root: &Path) -> MemberConfig {
        let ports = oxcd_testkit::ports::free_ports(2);
        let localhost = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        let mut config = MemberConfig::new(root, "m1", localhost, (ports[0], ports[1]), None);
        config.args = config.seed_args(&format!("m1={}", config.peer_url()), "t");
        config
    }

    /// `http://ip:client_port` (`https://` with client TLS).
    pub fn client_url(&self) -> String {
        let scheme = if self.client_tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", socket_text(self.ip, self.client_port))
    }

    /// `http://ip:peer_port` (`https://` with peer TLS).
    pub fn peer_url(&self) -> String {
        let scheme = if self.peer_tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", socket_text(self.ip, self.peer_port))
    }

    /// The member's command line with exactly the flags of the seed's `start-etcds.sh`, in
    /// its order, for a new cluster of `initial_cluster` with `token`.
    pub fn seed_args(&self, initial_cluster: &str, token: &str) -> Vec<String> {
        self.args_for_state(initial_cluster, token, "new")
    }

    /// [`MemberConfig::seed_args`] with `--initial-cluster-state state` (`new`, or
    /// `existing` for a member joining a running cluster).
    pub fn args_for_state(&self, initial_cluster: &str, token: &str, state: &str) -> Vec<String> {
        let data_dir = self.data_dir.to_string_lossy();
        let (peer_url, client_url) = (self.peer_url(), self.client_url());
        [
            "--name",
            &self.name,
            "--data-dir",
            &data_dir,
            "--initial-advertise-peer-urls",
            &peer_url,
            "--listen-peer-urls",
            &peer_url,
            "--advertise-client-urls",
            &client_url,
            "--listen-client-urls",
            &client_url,
            "--initial-cluster",
            initial_cluster,
            "--initial-cluster-state",
            state,
            "--initial-cluster-token",
            token,
        ]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect()
    }
}

fn socket_text(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

/// A member and, while it runs, its process.
pub struct Member {
    server: Server,
    binary: PathBuf,
    config: MemberConfig,
    child: Option<Child>,
    paused: bool,
    /// Offset in the log file where the current incarnation's output starts.
    incarnation_start: u64,
    /// The member ID the server reported about itself.
    id: Option<u64>,
}

impl Member {
    /// A member that is not running yet.
    pub fn new(server: Server, binary: PathBuf, config: MemberConfig) -> Member {
        Member {
            server,
            binary,
            config,
            child: None,
            paused: false,
            incarnation_start: 0,
            id: None,
        }
    }

    /// The member's configuration.
    pub fn config(&self) -> &MemberConfig {
        &self.config
    }

    /// Replaces the command line of the member's next start.
    pub fn set_args(&mut self, args: Vec<String>) {
        self.config.args = args;
    }

    /// `--name`.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The client URL (`http://ip:port`).
    pub fn client_url(&self) -> String {
        self.config.client_url()
    }

    /// The command line after the binary, exactly as passed to the server.
    pub fn args(&self) -> &[String] {
        &self.config.args
    }

    /// The member ID the server reported once it was ready.
    pub fn id(&self) -> Option<u64> {
        self.id
    }

    /// The pid of the running process.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the harness started the process and has neither stopped nor paused it (it may
    /// still have crashed; requests to it then fail).
    pub fn is_up(&self) -> bool {
        self.child.is_some() && !self.paused
    }

    /// Whether a process is running (possibly paused).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_)) | Err(_)) | None => false,
        }
    }

    /// The exit code of a process that has exited (`None` while it runs, was never started,
    /// or died by a signal).
    pub fn exit_code(&mut self) -> Option<i32> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => status.code(),
            _ => None,
        }
    }

    /// Whether the process is stopped with SIGSTOP.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Starts the server with the member's command line.
    pub fn start(&mut self) -> Result<()> {
        self.start_with_env(&[])
    }

    /// Starts the process with extra environment variables (e.g. `FAILPOINTS`) for this run.
    pub fn start_with_env(&mut self, env: &[(&str, &str)]) -> Result<()> {
        if self.is_running() {
            bail!("member {} is already running", self.config.name);
        }
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.config.log_path)
            .with_context(|| format!("opening {}", self.config.log_path.display()))?;
        self.incarnation_start = log
            .metadata()
            .with_context(|| format!("reading {}", self.config.log_path.display()))?
            .len();
        writeln!(
            log,
            "=== oxt: starting {} {} {}",
            self.server,
            self.binary.display(),
            self.config.args.join(" ")
        )
        .with_context(|| format!("writing {}", self.config.log_path.display()))?;
        let mut command = self.command(&log)?;
        command.envs(env.iter().copied());
        let child = spawner::spawn(command).with_context(|| {
            format!(
                "starting {} for member {}",
                self.binary.display(),
                self.config.name
            )
        })?;
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    fn command(&self, log: &File) -> Result<Command> {
        let mut command = match &self.config.netns {
            Some(netns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", netns]).arg(&self.binary);
                command
            }
            None => Command::new(&self.binary),
        };
        command.args(&self.config.args);
        // The server reads ETCD_* variables as flags; none of the test runner's may leak in.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ETCD_") {
                command.env_remove(key);
            }
        }
        command
            .env("ETCDCTL_API", "3")
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("duplicating the log file handle")?)
            .stderr(log.try_clone().context("duplicating the log file handle")?);
        Ok(command)
    }

    /// Sends `signal` to the running process.
    fn signal(&self, signal: libc::c_int) -> Result<()> {
        let pid = self
            .pid()
            .with_context(|| format!("member {} is not running", self.config.name))?;
        // SAFETY: kill(2) on a pid we own; the child is not reaped until we wait on it.
        if unsafe { libc::kill(pid as libc::pid_t, signal) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("signal {signal} to pid {pid}"));
        }
        Ok(())
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill9(&mut self) -> Result<()> {
        let mut child = self
            .child
            .take()
            .with_context(|| format!("member {} is not running", self.config.name))?;
        // Already exited on its own: nothing to kill, just reap.
        if child.try_wait().ok().flatten().is_none() {
            child
                .kill()
                .with_context(|| format!("killing member {}", self.config.name))?;
        }
        child
            .wait()
            .with_context(|| format!("reaping member {}", self.config.name))?;
        self.paused = false;
        Ok(())
    }

    /// Stops the process with SIGTERM, falling back to SIGKILL after `grace`.
    pub fn terminate(&mut self, grace: Duration) -> Result<()> {
        if !self.is_running() {
            self.child = None;
            return Ok(());
        }
        self.signal(libc::SIGTERM)?;
        if self.paused {
            self.signal(libc::SIGCONT)?;
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !self.is_running() {
                self.child = None;
                self.paused = false;
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill9()
    }

    /// Freezes the process with SIGSTOP and returns once every thread has stopped: kill(2)
    /// returns before that, and a fast server can still answer a request in between.
    pub fn pause(&mut self) -> Result<()> {
        self.signal(libc::SIGSTOP)?;
        self.paused = true;
        let pid = self.pid().context("paused member has no pid")?;
        let deadline = Instant::now() + PAUSE_TIMEOUT;
        while !all_threads_stopped(pid) {
            if Instant::now() >= deadline {
                bail!(
                    "member {} (pid {pid}) did not stop within {PAUSE_TIMEOUT:?} of SIGSTOP",
                    self.config.name
                );
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Thaws a paused process with SIGCONT.
    pub fn resume(&mut self) -> Result<()> {
        self.signal(libc::SIGCONT)?;
        self.paused = false;
        Ok(())
    }

    /// Waits until the current incarnation serves clients: it logged [`READY_LOG_LINE`] or
    /// answered a gRPC `Status`. Fails at once, with the log, if the process exits.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let what = format!("member {} to serve clients", self.config.name);
        let url = self.client_url();
        let tls = self.config.client_tls.clone();
        let result = wait::until(&what, timeout, || {
            let exited = match self.child.as_mut().map(Child::try_wait) {
                Some(Ok(None)) => None,
                Some(Ok(Some(status))) => Some(format!("the server exited: {status}")),
                Some(Err(error)) => Some(format!("the server cannot be waited on: {error}")),
                None => Some("the server is not running".to_owned()),
            };
            let logged_ready = self.current_log().contains(READY_LOG_LINE);
            let url = url.clone();
            let tls = tls.clone();
            async move {
                if let Some(reason) = exited {
                    return Attempt::Fail(anyhow::anyhow!(reason));
                }
                if logged_ready {
                    return Attempt::Done(());
                }
                match status_member_id(&url, Duration::from_secs(1), tls.as_ref()).await {
                    Ok(_) => Attempt::Done(()),
                    Err(error) => Attempt::Retry(format!("{error:#}")),
                }
            }
        })
        .await;
        if let Err(error) = result {
            return Err(error.context(format!(
                "member {} is not ready; its last log lines:\n{}",
                self.config.name,
                self.log_tail(LOG_TAIL_LINES)
            )));
        }
        let url = self.client_url();
        let id = wait::until_ok(
            &format!("member {} to report its ID", self.config.name),
            timeout,
            || status_member_id(&url, Duration::from_secs(2), tls.as_ref()),
        )
        .await?;
        self.id = Some(id);
        Ok(())
    }

    /// Everything the member logged, across incarnations.
    pub fn log(&self) -> String {
        read_lossy(&self.config.log_path)
    }

    /// What the current incarnation logged.
    pub fn current_log(&self) -> String {
        let log = std::fs::read(&self.config.log_path).unwrap_or_default();
        let start = usize::try_from(self.incarnation_start)
            .unwrap_or(usize::MAX)
            .min(log.len());
        String::from_utf8_lossy(&log[start..]).into_owned()
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if self.child.is_some()
            && let Err(error) = self.kill9()
        {
            eprintln!("oxt: cleaning up member {}: {error:#}", self.config.name);
        }
    }
}

/// Whether every thread of `pid` is in the stopped state (`T` in `/proc/<pid>/task/*/stat`).
pub(crate) fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat"))
            .ok()
            .and_then(|stat| {
                // The state follows the parenthesized command name, which may contain spaces.
                let state = stat.rsplit_once(") ")?.1.chars().next()?;
                Some(state == 'T' || state == 't')
            })
            .unwrap_or(true)
    })
}

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// Asks the server at `url` for its status and returns the member ID in the header.
async fn status_member_id(url: &str, timeout: Duration, tls: Option<&ClusterTls>) -> Result<u64> {
    let mut clients = match tls {
        Some(tls) => grpc_tls::connect(url, timeout, tls).await?,
        None => grpc::connect_with_timeout(url, timeout).await?,
    };
    let status = clients
        .maintenance
        .status(StatusRequest {})
        .await
        .context("Status")?
        .into_inner();
    status
        .header
        .map(|header| header.member_id)
        .context("Status response without a header")
}
