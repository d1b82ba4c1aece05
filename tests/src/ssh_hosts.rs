//! Hosts as the seed has them, for `oxadm`'s tests: each a network namespace with its own
//! address (a [`NetnsLab`] host) running its own `sshd` (Debian's openssh-server) in a mount
//! namespace of its own, where the login user's home is a private directory — so the same
//! paths on each host do not collide, as on separate machines. Login is key-based, as a
//! non-root user, like the seed's `etcd` user. Needs root.

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

/// Running hosts; every process and namespace goes on drop.
pub struct SshHosts {
    // Dropped first: the namespaces' processes (sshd and all it started) die with them.
    lab: NetnsLab,
    sshds: Vec<Child>,
    dir: TempDir,
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
        let hosts = SshHosts { lab, sshds, dir };
        for i in 0..count {
            let ip = hosts.lab.host(i).ip.to_string();
            wait::until_ok(
                &format!("sshd on {ip}"),
                Duration::from_secs(20),
                || async { hosts.ssh(i, "true").await.map(drop) },
            )
            .await
            .with_context(|| hosts.sshd_log(i))?;
        }
        Ok(hosts)
    }

    /// The lab the hosts are in.
    pub fn lab(&self) -> &NetnsLab {
        &self.lab
    }

    /// Host `i`'s address.
    pub fn ip(&self, i: usize) -> String {
        self.lab.host(i).ip.to_string()
    }

    /// The private key every host accepts for [`SSH_USER`].
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// A `known_hosts` file with every host's key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// `oxadm`'s spec of member `peer<i+1>` on host `i`: `peer<i+1>=<user>@<address>`.
    pub fn member_spec(&self, i: usize) -> String {
        format!("peer{}={SSH_USER}@{}", i + 1, self.ip(i))
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

    /// Host `i`'s private home directory, as seen from this machine.
    pub fn home(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("h{i}")).join("home")
    }

    /// Runs `script` on host `i` over SSH as [`SSH_USER`]; its standard output.
    pub async fn ssh(&self, i: usize, script: &str) -> Result<String> {
        let output = tokio::process::Command::new("ssh")
            .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-i"])
            .arg(self.client_key())
            .arg(format!(
                "-oUserKnownHostsFile={}",
                self.known_hosts().display()
            ))
            .arg(format!("{SSH_USER}@{}", self.ip(i)))
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
        let path = self.dir.path().join(format!("h{i}/sshd.log"));
        format!(
            "sshd's log: {}",
            fs::read_to_string(path).unwrap_or_default()
        )
    }
}

impl Drop for SshHosts {
    fn drop(&mut self) {
        for sshd in &mut self.sshds {
            let _ = sshd.kill();
            let _ = sshd.wait();
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
