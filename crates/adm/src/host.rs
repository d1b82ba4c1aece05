//! Where a member runs and how oxadm acts there: this machine, or a host reached with the
//! system's OpenSSH client (so `~/.ssh/config`, agents, jump hosts and `known_hosts` work as
//! they do for `ssh` itself; host keys are checked, never accepted silently). Everything oxadm
//! does on a host is a POSIX shell script run there, and files go up through the same login.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::cluster_file::{MemberEntry, SshLogin};

/// Bound on one script's run on a host.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// A host oxadm acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// This machine.
    Local,
    /// A host reached over SSH.
    Ssh(SshHost),
}

/// An SSH destination with the options to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshHost {
    /// The address, as the cluster file names it.
    pub address: String,
    /// How to log in.
    pub login: SshLogin,
    /// Further `ssh` arguments from the cluster file (`-o Name=value`, `-J jump`, ...).
    pub options: Vec<String>,
}

impl Host {
    /// The host `member` runs on.
    pub fn of(member: &MemberEntry, ssh_options: &[String]) -> Host {
        match &member.ssh {
            None => Host::Local,
            Some(login) => Host::Ssh(SshHost {
                address: member.host.clone(),
                login: login.clone(),
                options: ssh_options.to_vec(),
            }),
        }
    }

    /// Where paths relative to a member's `home` start: the SSH login's home (where a login
    /// starts), or for this machine the cluster file's directory `file_dir`.
    pub fn base_dir(&self, file_dir: &std::path::Path) -> String {
        match self {
            Host::Ssh(_) => ".".to_owned(),
            Host::Local => file_dir.to_string_lossy().into_owned(),
        }
    }

    /// How messages name the host.
    pub fn describe(&self) -> String {
        match self {
            Host::Local => "this machine".to_owned(),
            Host::Ssh(ssh) => ssh.destination(),
        }
    }

    /// Runs `script` with `sh` on the host, feeding it `input`; its standard output, or an
    /// error with its standard error (and, for SSH failures, what to do about them).
    pub async fn run(&self, script: &str, input: &[u8]) -> Result<String> {
        let mut command = match self {
            Host::Local => {
                let mut command = Command::new("sh");
                command.args(["-c", script]);
                command
            }
            Host::Ssh(ssh) => {
                let mut command = Command::new("ssh");
                command
                    .args(ssh.arguments())
                    .arg("--")
                    .arg(format!("sh -c {}", quote(script)));
                command
            }
        };
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("running a command on {}", self.describe()))?;
        let mut stdin = child.stdin.take().context("the command's standard input")?;
        let feed = async move {
            stdin.write_all(input).await?;
            stdin.shutdown().await
        };
        let (fed, output) = tokio::time::timeout(SCRIPT_TIMEOUT, async {
            tokio::join!(feed, child.wait_with_output())
        })
        .await
        .with_context(|| {
            format!(
                "{} did not answer within {}s",
                self.describe(),
                SCRIPT_TIMEOUT.as_secs()
            )
        })?;
        let output = output?;
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if let Host::Ssh(ssh) = self
            && output.status.code() == Some(255)
        {
            bail!("{}", ssh.explain_failure(&stderr));
        }
        // A script that exits before reading all its input breaks the pipe; its status tells.
        if !output.status.success() {
            bail!(
                "on {}: {}",
                self.describe(),
                if stderr.is_empty() {
                    output.status.to_string()
                } else {
                    stderr
                }
            );
        }
        fed.with_context(|| format!("sending data to {}", self.describe()))?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Writes `content` to `path` on the host (relative to the login's home), with `mode`;
    /// the file appears whole or not at all.
    pub async fn upload(&self, content: &[u8], path: &str, mode: u32) -> Result<()> {
        let path = quote(path);
        let script = format!(
            "set -e; mkdir -p \"$(dirname {path})\"; cat > {path}.partial; chmod {mode:o} {path}.partial; mv -f {path}.partial {path}"
        );
        self.run(&script, content)
            .await
            .with_context(|| format!("uploading {path} to {}", self.describe()))?;
        Ok(())
    }
}

impl SshHost {
    /// `[user@]address`.
    pub fn destination(&self) -> String {
        match &self.login.user {
            Some(user) => format!("{user}@{}", self.address),
            None => self.address.clone(),
        }
    }

    fn arguments(&self) -> Vec<String> {
        // BatchMode: never wait for a password or a host-key question nobody can answer.
        let mut arguments = vec![
            "-o".to_owned(),
            "BatchMode=yes".to_owned(),
            "-o".to_owned(),
            "ConnectTimeout=10".to_owned(),
        ];
        if let Some(port) = self.login.port {
            arguments.extend(["-p".to_owned(), port.to_string()]);
        }
        if let Some(key) = &self.login.key {
            arguments.extend(["-i".to_owned(), key.to_string_lossy().into_owned()]);
        }
        arguments.extend(self.options.iter().cloned());
        arguments.push(self.destination());
        arguments
    }

    /// ssh's error, with what to do about the usual causes.
    fn explain_failure(&self, stderr: &str) -> String {
        let port = self.login.port.unwrap_or(22);
        let destination = self.destination();
        let hint = if stderr.contains("Permission denied") {
            format!(
                "authentication failed: put your public key in {destination}'s ~/.ssh/authorized_keys (`ssh-copy-id -p {port} {destination}`), or name the private key with -i / `ssh: {{key: ...}}`"
            )
        } else if stderr.contains("Host key verification failed")
            || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        {
            format!(
                "{}'s host key is not the one known_hosts has for it (or it has none): check the key, then `ssh-keyscan -p {port} {} >> ~/.ssh/known_hosts`",
                self.address, self.address
            )
        } else if stderr.contains("Could not resolve hostname") {
            format!("the name {} does not resolve", self.address)
        } else {
            format!(
                "cannot reach {}:{port} over SSH: is the host up and sshd running?",
                self.address
            )
        };
        format!("{hint}\n  ssh {destination}: {stderr}")
    }
}

/// `text` quoted for a POSIX shell.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scripts_run_with_their_input_and_failures_carry_stderr() {
        let out = Host::Local.run("cat; echo done", b"input\n").await.unwrap();
        assert_eq!(out, "input\ndone\n");
        let err = Host::Local
            .run("echo broken >&2; exit 3", b"")
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("broken"), "{err:#}");
    }

    #[tokio::test]
    async fn uploads_land_whole_with_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub dir/it's.bin");
        Host::Local
            .upload(b"\x00\x01binary", path.to_str().unwrap(), 0o755)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"\x00\x01binary");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }

    #[test]
    fn ssh_failures_say_what_to_do() {
        let host = SshHost {
            address: "10.0.0.9".into(),
            login: SshLogin {
                user: Some("etcd".into()),
                port: Some(2222),
                key: None,
            },
            options: vec![],
        };
        assert!(
            host.explain_failure("etcd@10.0.0.9: Permission denied (publickey).")
                .contains("ssh-copy-id -p 2222 etcd@10.0.0.9")
        );
        assert!(
            host.explain_failure("Host key verification failed.")
                .contains("ssh-keyscan -p 2222 10.0.0.9")
        );
        assert!(
            host.explain_failure("ssh: connect to host 10.0.0.9 port 2222: Connection refused")
                .contains("cannot reach 10.0.0.9:2222")
        );
    }
}
