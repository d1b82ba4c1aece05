//! Hosts as the seed has them, for `oxadm`'s tests: each a network namespace with its own
//! address (a [`NetnsLab`] host) running its own `sshd` (Debian's openssh-server) in a mount
//! namespace of its own, where the login user's home is a private directory — so the same
//! paths on each host do not collide, as on separate machines. Login is key-based, as a
//! non-root user, like the seed's `etcd` user. Needs root.
//!
//! Or hosts where systemd runs ([`SshHosts::with_systemd`]): each namespace boots this
//! machine's own systemd in a container (`systemd-nspawn --volatile=yes`: a throw-away root
//! file system with only `/usr` shared, read-only, so nothing it does reaches this machine's
//! files), with a copy of `/etc` whose only enabled service is sshd, and root's home a private
//! directory; login is as root, who may manage units.

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::netns::run;
use crate::{NetnsLab, spawner, stale, wait};

/// The login user on every host (created on this machine when missing, never removed: other
/// runs use it too).
pub const SSH_USER: &str = "oxt-etcd";

/// Where the user's home is mounted inside each host's mount namespace.
const HOME: &str = "/home/oxt-etcd";

/// The sshd binary openssh-server installs.
const SSHD: &str = "/usr/sbin/sshd";

/// What boots a host where systemd runs.
const NSPAWN: &str = "/usr/bin/systemd-nspawn";

/// Running hosts; every process and namespace goes on drop.
pub struct SshHosts {
    // Dropped first: the namespaces' processes (sshd, systemd and all they started) die with
    // them.
    lab: NetnsLab,
    sshds: Vec<Child>,
    dir: TempDir,
    user: &'static str,
    /// The containers' names, when the hosts boot systemd.
    machines: Vec<String>,
}

impl SshHosts {
    /// Starts `count` hosts and waits until each accepts the client key.
    pub async fn start(count: usize) -> Result<SshHosts> {
        if !Path::new(SSHD).is_file() {
            bail!("{SSHD} is missing: scripts/install-test-deps.sh installs openssh-server");
        }
        let (uid, gid) = ensure_user()?;
        fs::create_dir_all(HOME)?;
        // sshd's privilege-separation directory.
        fs::create_dir_all("/run/sshd")?;
        let lab = NetnsLab::create(count)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}{}-ssh-", stale::PREFIX, std::process::id()))
            .tempdir()?;
        // sshd refuses keys in directories others may write to; the temp dir is private.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
        keygen(&dir.path().join("client_key"))?;
        let client_public = fs::read_to_string(dir.path().join("client_key.pub"))?;
        let mut known_hosts = String::new();
        let mut sshds = Vec::new();
        for (i, host) in lab.hosts().iter().enumerate() {
            let host_dir = dir.path().join(format!("h{i}"));
            let home = host_dir.join("home");
            fs::create_dir_all(home.join(".ssh"))?;
            fs::write(home.join(".ssh/authorized_keys"), &client_public)?;
            for path in [
                &home,
                &home.join(".ssh"),
                &home.join(".ssh/authorized_keys"),
            ] {
                chown(path, Some(uid), Some(gid))?;
            }
            let host_key = host_dir.join("host_key");
            keygen(&host_key)?;
            let public = fs::read_to_string(host_key.with_extension("pub"))?;
            known_hosts.push_str(&format!("{} {}", host.ip, public));
            let config = host_dir.join("sshd_config");
            fs::write(&config, sshd_config(&host.ip.to_string(), &host_key))?;
            let log = fs::File::create(host_dir.join("sshd.log"))?;
            let mut command = Command::new("ip");
            command
                .args([
                    "netns",
                    "exec",
                    &host.netns,
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                ])
                .args([
                    "sh",
                    "-c",
                    r#"mount --bind "$1" "$2" && exec "$3" -D -e -f "$4""#,
                    "sh",
                ])
                .arg(&home)
                .arg(HOME)
                .arg(SSHD)
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log);
            sshds.push(spawner::spawn(command).context("starting sshd")?);
        }
        fs::write(dir.path().join("known_hosts"), known_hosts)?;
        let hosts = SshHosts {
            lab,
            sshds,
            dir,
            user: SSH_USER,
            machines: Vec::new(),
        };
        hosts
            .wait_for_logins("true", Duration::from_secs(20))
            .await?;
        Ok(hosts)
    }

    /// Boots `count` hosts where systemd runs and waits until each finished booting and
    /// accepts the client key for root.
    pub async fn with_systemd(count: usize) -> Result<SshHosts> {
        if !Path::new(NSPAWN).is_file() {
            bail!("{NSPAWN} is missing: scripts/install-test-deps.sh installs systemd-container");
        }
        let lab = NetnsLab::create(count)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}{}-systemd-", stale::PREFIX, std::process::id()))
            .tempdir()?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
        keygen(&dir.path().join("client_key"))?;
        let client_public = fs::read_to_string(dir.path().join("client_key.pub"))?;
        let host_public = fs::read_to_string("/etc/ssh/ssh_host_ed25519_key.pub")
            .context("this machine's sshd host key (openssh-server makes it)")?;
        let mut known_hosts = String::new();
        let mut containers = Vec::new();
        let mut machines = Vec::new();
        for (i, host) in lab.hosts().iter().enumerate() {
            let machine = format!("{}h{i}", lab.name());
            let host_dir = dir.path().join(format!("h{i}"));
            let home = host_dir.join("home");
            fs::create_dir_all(home.join(".ssh"))?;
            fs::set_permissions(&home, fs::Permissions::from_mode(0o700))?;
            fs::write(home.join(".ssh/authorized_keys"), &client_public)?;
            let etc = host_dir.join("etc");
            run("cp", &["-a", "/etc", etc.to_str().context("a UTF-8 path")?])?;
            let wants = etc.join("systemd/system/multi-user.target.wants");
            for entry in fs::read_dir(&wants)? {
                let entry = entry?;
                if entry.file_name() != "ssh.service" {
                    fs::remove_file(entry.path())?;
                }
            }
            if !wants.join("ssh.service").exists() {
                std::os::unix::fs::symlink(
                    "/lib/systemd/system/ssh.service",
                    wants.join("ssh.service"),
                )?;
            }
            fs::write(
                etc.join("ssh/sshd_config.d/oxt.conf"),
                "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n",
            )?;
            known_hosts.push_str(&format!("{} {}", host.ip, host_public));
            let log = fs::File::create(host_dir.join("boot.log"))?;
            let mut command = Command::new(NSPAWN);
            command
                .args(["--quiet", "--directory=/", "--volatile=yes"])
                // Without systemd on this machine there is no machined to register with and
                // no unit to put the container in.
                .args(["--register=no", "--keep-unit"])
                .arg(format!("--machine={machine}"))
                .arg(format!(
                    "--network-namespace-path=/run/netns/{}",
                    host.netns
                ))
                .arg(format!("--bind={}:/etc", etc.display()))
                .arg(format!("--bind={}:/root", home.display()))
                .args(["--boot", "--", "systemd.firstboot=off"])
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log);
            containers.push(spawner::spawn(command).context("starting systemd-nspawn")?);
            machines.push(machine);
        }
        fs::write(dir.path().join("known_hosts"), known_hosts)?;
        let hosts = SshHosts {
            lab,
            sshds: containers,
            dir,
            user: "root",
            machines,
        };
        hosts
            .wait_for_logins(
                "systemctl is-system-running --wait >/dev/null || true",
                Duration::from_secs(90),
            )
            .await?;
        Ok(hosts)
    }

    /// Waits until every host runs `script` over SSH.
    async fn wait_for_logins(&self, script: &str, timeout: Duration) -> Result<()> {
        for i in 0..self.lab.hosts().len() {
            let ip = self.lab.host(i).ip.to_string();
            wait::until_ok(&format!("sshd on {ip}"), timeout, || async {
                self.ssh(i, script).await.map(drop)
            })
            .await
            .with_context(|| self.sshd_log(i))?;
        }
        Ok(())
    }

    /// The lab the hosts are in.
    pub fn lab(&self) -> &NetnsLab {
        &self.lab
    }

    /// Host `i`'s address.
    pub fn ip(&self, i: usize) -> String {
        self.lab.host(i).ip.to_string()
    }

    /// The login user.
    pub fn user(&self) -> &str {
        self.user
    }

    /// The private key every host accepts for the login user.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// A `known_hosts` file with every host's key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// `oxadm`'s spec of member `peer<i+1>` on host `i`: `peer<i+1>=<user>@<address>`.
    pub fn member_spec(&self, i: usize) -> String {
        format!("peer{}={}@{}", i + 1, self.user, self.ip(i))
    }

    /// The `oxadm` option that makes its `ssh` trust exactly these hosts' keys.
    pub fn known_hosts_option(&self) -> String {
        format!(
            "--ssh-option=-oUserKnownHostsFile={}",
            self.known_hosts().display()
        )
    }

    /// `oxadm up -f <file>` with members `peer1..` on hosts `0..members`, logging in with the
    /// client key and these hosts' keys.
    pub fn oxadm_up_args(&self, file: &str, members: usize) -> Vec<String> {
        let mut args = vec!["up".to_owned(), "-f".to_owned(), file.to_owned()];
        args.extend((0..members).map(|i| self.member_spec(i)));
        args.extend([
            "-i".to_owned(),
            self.client_key().display().to_string(),
            self.known_hosts_option(),
        ]);
        args
    }

    /// A cluster file as an operator writes one, with a comment: token `token`, members
    /// `peer1..` on hosts `0..members`, logging in with the client key and these hosts' keys.
    pub fn cluster_file_text(&self, token: &str, members: usize) -> String {
        let members: String = (0..members)
            .map(|i| {
                format!(
                    "  - name: peer{}\n    host: {}\n    ssh: {{user: {}, key: {}}}\n",
                    i + 1,
                    self.ip(i),
                    self.user,
                    self.client_key().display()
                )
            })
            .collect();
        format!(
            "# Our production cluster.\ntoken: {token}\nssh-options: [\"-oUserKnownHostsFile={}\"]\nmembers:\n{members}",
            self.known_hosts().display()
        )
    }

    /// Host `i`'s private home directory, as seen from this machine.
    pub fn home(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("h{i}")).join("home")
    }

    /// Runs `script` on host `i` over SSH as the login user; its standard output.
    pub async fn ssh(&self, i: usize, script: &str) -> Result<String> {
        let output = tokio::process::Command::new("ssh")
            .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-i"])
            .arg(self.client_key())
            .arg(format!(
                "-oUserKnownHostsFile={}",
                self.known_hosts().display()
            ))
            .arg(format!("{}@{}", self.user, self.ip(i)))
            .arg(script)
            .stdin(Stdio::null())
            .output()
            .await?;
        if !output.status.success() {
            bail!(
                "ssh to host {i}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn sshd_log(&self, i: usize) -> String {
        let host_dir = self.dir.path().join(format!("h{i}"));
        let log = ["sshd.log", "boot.log"]
            .iter()
            .find_map(|name| fs::read_to_string(host_dir.join(name)).ok())
            .unwrap_or_default();
        format!("the host's log: {log}")
    }
}

impl Drop for SshHosts {
    fn drop(&mut self) {
        for sshd in &mut self.sshds {
            let _ = sshd.kill();
            let _ = sshd.wait();
        }
        for machine in &self.machines {
            // What systemd-nspawn leaves behind when killed.
            let _ = fs::remove_dir_all(Path::new("/run/systemd/nspawn/propagate").join(machine));
        }
    }
}

/// The user's uid and gid, creating the user first if needed.
fn ensure_user() -> Result<(u32, u32)> {
    if run("id", &["-u", SSH_USER]).is_err() {
        // Another test process may be creating it at the same moment; one of the two wins.
        let _ = run(
            "useradd",
            &[
                "--system",
                "--no-create-home",
                "--home-dir",
                HOME,
                "--shell",
                "/bin/sh",
                SSH_USER,
            ],
        );
    }
    // No password, but not a locked account either: sshd without PAM refuses locked ones.
    run("usermod", &["-p", "*", SSH_USER])?;
    let uid = run("id", &["-u", SSH_USER])?.trim().parse()?;
    let gid = run("id", &["-g", SSH_USER])?.trim().parse()?;
    Ok((uid, gid))
}

fn keygen(path: &Path) -> Result<()> {
    let path = path.to_str().context("a UTF-8 key path")?;
    run(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-C", "oxt", "-f", path],
    )
    .map(drop)
}

fn sshd_config(ip: &str, host_key: &Path) -> String {
    format!(
        "ListenAddress {ip}\nPort 22\nHostKey {}\nPidFile none\nUsePAM no\nStrictModes no\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
         AuthorizedKeysFile .ssh/authorized_keys\nAllowUsers {SSH_USER}\n",
        host_key.display()
    )
}
