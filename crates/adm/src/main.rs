//! `oxadm`: deploys and operates oxcd clusters: `up` brings a cluster up on hosts over SSH
//! (`up.rs`, after `preflight.rs` checked every host; `host.rs` runs scripts there), `down`
//! stops it (`down.rs`), `status` shows it (`health.rs`), `restart` and `upgrade` go through
//! the members one at a time (`rolling.rs`), `logs` reads a member's log (`member_control.rs`
//! acts on one member where it runs), `add`, `remove` and `replace` change the membership
//! (`membership.rs`), `backup` saves a snapshot (`backup.rs`) and `restore` makes a cluster
//! from one (`restore.rs`), `certs renew` renews TLS certificates (`certs.rs`), `init` writes
//! an example cluster file (`init.rs`), `systemd` prints members' units (`systemd_print.rs`),
//! and `local up|down|status` runs a cluster on this machine for development (`local.rs`).
//!
//! The pieces: `cluster_file.rs` (the YAML file naming the members), `member_files.rs` (a
//! member's directory and its configuration in etcd's config-file format), `pki.rs` (the
//! certificate authority and the certificates it signs), `systemd_unit.rs` (members run as
//! systemd units where the host allows), `supervisor.rs` (`oxadm supervise`, which keeps a
//! member running otherwise), `process.rs` (finding supervisors by pid file) and `verify.rs`
//! (the seed's two checks, shown with `oxctl`).

mod backup;
mod certs;
mod cluster_file;
mod down;
mod health;
mod host;
mod init;
mod local;
mod member_control;
mod member_files;
mod membership;
mod pki;
mod preflight;
mod process;
mod restore;
mod rolling;
mod supervisor;
mod systemd_print;
mod systemd_unit;
mod up;
mod verify;

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Deploys and operates oxcd clusters.
#[derive(Parser)]
#[command(name = "oxadm", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `-f`: where the cluster file is.
#[derive(clap::Args)]
struct ClusterFileArg {
    /// The cluster file.
    #[arg(short = 'f', long = "file", default_value = cluster_file::DEFAULT_NAME)]
    file: PathBuf,
}

impl ClusterFileArg {
    /// The cluster file, read and checked, and the directory it is in.
    fn load(&self) -> Result<(cluster_file::ClusterFile, PathBuf)> {
        let file = cluster_file::ClusterFile::load(&self.file)?;
        Ok((file, cluster_file::directory_of(&self.file)))
    }
}

/// How to log in to new hosts and what to install there.
#[derive(clap::Args)]
struct InstallArgs {
    /// The private key to log in with (as `ssh -i`).
    #[arg(short = 'i', long = "identity")]
    identity: Option<PathBuf>,
    /// The oxcd binary to install; by default the `oxcd` beside `oxadm`.
    #[arg(long)]
    binary: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// A cluster on this machine, for development.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
    /// Brings a cluster up on its hosts over SSH: checks every host, installs oxcd, writes each
    /// member's configuration, starts the members that are not running, waits until the
    /// cluster is healthy and shows `member list` and `endpoint status`.
    Up {
        /// The members, as NAME=[USER@]HOST[:SSH_PORT]; without them, those of the cluster
        /// file. With them, the cluster file is written for later commands.
        members: Vec<String>,
        #[command(flatten)]
        file: ClusterFileArg,
        #[command(flatten)]
        install: InstallArgs,
        /// Where members keep their files (data dir, configuration, log) as `<DIR>/<name>/`,
        /// relative to the SSH user's home (default `oxcd`).
        #[arg(long, visible_alias = "data-dir", value_name = "DIR")]
        home: Option<String>,
        /// The cluster token (`--initial-cluster-token`); a random one by default.
        #[arg(long)]
        token: Option<String>,
        /// A further argument for every `ssh` (repeatable), e.g. `--ssh-option=-oPort=2222`.
        #[arg(long = "ssh-option", allow_hyphen_values = true)]
        ssh_options: Vec<String>,
        /// Members serve clients and peers over TLS only, with certificates of a certificate
        /// authority oxadm makes and keeps in `pki/` beside the cluster file; oxadm (and
        /// oxctl or etcdctl, given `pki/client.pem`) present a client certificate.
        #[arg(long)]
        tls: bool,
    },
    /// Stops every member of a cluster (the data stays).
    Down {
        #[command(flatten)]
        file: ClusterFileArg,
    },
    /// Restarts every member in turn, never losing quorum: followers first, the leader last
    /// after its leadership moved, the cluster healthy again after each.
    Restart {
        #[command(flatten)]
        file: ClusterFileArg,
    },
    /// Installs a new oxcd on every host, then restarts every member in turn as `restart`.
    Upgrade {
        #[command(flatten)]
        file: ClusterFileArg,
        /// The new oxcd binary; by default the `oxcd` beside `oxadm`.
        #[arg(long)]
        binary: Option<PathBuf>,
    },
    /// Adds a member: checks its host, installs oxcd, announces it as a learner, starts it and
    /// promotes it once it caught up.
    Add {
        /// The new member, as NAME=[USER@]HOST[:SSH_PORT].
        member: String,
        #[command(flatten)]
        file: ClusterFileArg,
        #[command(flatten)]
        install: InstallArgs,
    },
    /// Removes a member (leadership moved off it first), stops it and sets its files aside.
    Remove {
        /// The member's name.
        name: String,
        #[command(flatten)]
        file: ClusterFileArg,
    },
    /// Replaces a member whose host or disk died: removes it, then adds a new member of the
    /// same name (on another host if given).
    Replace {
        /// The member's name.
        name: String,
        /// Where the new member runs, as NAME=[USER@]HOST[:SSH_PORT]; by default where the
        /// old one ran.
        member: Option<String>,
        #[command(flatten)]
        file: ClusterFileArg,
        #[command(flatten)]
        install: InstallArgs,
    },
    /// Prints the end of a member's log.
    Logs {
        /// The member's name.
        name: String,
        #[command(flatten)]
        file: ClusterFileArg,
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: u32,
    },
    /// Makes the cluster of the cluster file anew from a backup, on its hosts (those the
    /// backup came from, or others): the members' old files are set aside, each member's data
    /// is restored from the backup, and the members start as a new cluster.
    Restore {
        /// The backup (`oxadm backup` or `etcdctl snapshot save`); checked against
        /// `BACKUP.sha256` when there is one.
        backup: PathBuf,
        #[command(flatten)]
        file: ClusterFileArg,
        /// The oxcd binary to install; by default the cluster file's, else the `oxcd` beside
        /// `oxadm`.
        #[arg(long)]
        binary: Option<PathBuf>,
    },
    /// Prints each member's systemd unit, as `up` installs it where systemd runs and the login
    /// may manage units (root or passwordless sudo).
    Systemd {
        /// Only this member's.
        name: Option<String>,
        #[command(flatten)]
        file: ClusterFileArg,
    },
    /// Writes a commented example cluster file to start from.
    Init {
        #[command(flatten)]
        file: ClusterFileArg,
    },
    /// Saves a snapshot of the cluster's data to a local file, with its SHA-256 beside it.
    Backup {
        /// Where to save the snapshot.
        target: PathBuf,
        #[command(flatten)]
        file: ClusterFileArg,
    },
    /// The cluster's certificates (a cluster brought up with `--tls`).
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
    /// Shows every member of a cluster (health, leader, DB size, raft term and index) and its
    /// alarms.
    Status {
        #[command(flatten)]
        file: ClusterFileArg,
    },
    /// Runs a program and restarts it when it fails (how oxadm runs members without systemd).
    #[command(hide = true)]
    Supervise {
        /// Where to write this process's pid.
        #[arg(long)]
        pid_file: PathBuf,
        /// Where the program's output goes (appended).
        #[arg(long)]
        log_file: PathBuf,
        /// The program and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<OsString>,
    },
}

#[derive(Subcommand)]
enum CertsCommand {
    /// Makes every member new server and peer certificates and oxadm a new client
    /// certificate, from the cluster's authority; members use them without restarting.
    Renew {
        #[command(flatten)]
        file: ClusterFileArg,
    },
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Starts a local cluster (or the members of it that are not running), waits until it is
    /// healthy and shows `member list` and `endpoint status`.
    Up {
        /// The number of members of a new cluster (1 to 6; by default 3).
        members: Option<usize>,
        /// The directory holding the cluster's files.
        #[arg(long, default_value = local::DEFAULT_DIR)]
        dir: PathBuf,
        /// The oxcd binary to run; by default the `oxcd` beside `oxadm`.
        #[arg(long)]
        binary: Option<PathBuf>,
    },
    /// Stops every member of the local cluster.
    Down {
        /// The directory holding the cluster's files.
        #[arg(long, default_value = local::DEFAULT_DIR)]
        dir: PathBuf,
        /// Also deletes the members' data and files.
        #[arg(long)]
        purge: bool,
    },
    /// Shows the local cluster's members.
    Status {
        /// The directory holding the cluster's files.
        #[arg(long, default_value = local::DEFAULT_DIR)]
        dir: PathBuf,
    },
}

/// The cluster `up` brings up, and what to write to the cluster file once every host passed
/// its checks: the command line's members (keeping the token and certificate authority of a
/// cluster file that already names them), else the cluster file's, with TLS added if asked.
fn cluster_for_up(
    path: &std::path::Path,
    members: &[String],
    mut command_line: cluster_file::CommandLineCluster,
    tls: bool,
) -> Result<(cluster_file::ClusterFile, cluster_file::FileUpdate)> {
    use cluster_file::FileUpdate;
    let authority = || -> Result<pki::TlsFiles> {
        let dir = std::path::absolute(cluster_file::directory_of(path))?;
        Ok(pki::TlsFiles::in_dir(&dir.join("pki")))
    };
    if members.is_empty() {
        let mut file = cluster_file::ClusterFile::load(path)?;
        if tls && file.tls.is_none() {
            file.tls = Some(authority()?);
            return Ok((file, FileUpdate::AddTls(path.to_path_buf())));
        }
        return Ok((file, FileUpdate::Nothing));
    }
    if tls {
        command_line.tls = Some(authority()?);
    }
    let mut wanted = cluster_file::ClusterFile::from_command_line(members, command_line)?;
    if path.exists() {
        let existing = cluster_file::ClusterFile::load(path)?;
        if !existing.same_members(&wanted) {
            anyhow::bail!(
                "{} describes another cluster: run `oxadm up` without members to bring that one up, or remove the file",
                path.display()
            );
        }
        wanted.token = existing.token;
        if existing.tls.is_some() {
            wanted.tls = existing.tls;
        }
    }
    Ok((wanted, FileUpdate::Write(path.to_path_buf())))
}

/// Prints the status table of the cluster of the cluster file at `path`.
async fn status(path: &std::path::Path) -> Result<()> {
    let file = cluster_file::ClusterFile::load(path)?;
    print!("{}", health::ClusterReport::collect(&file).await.table());
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("Error: starting the async runtime: {error}");
            std::process::exit(1);
        }
    };
    if let Err(error) = runtime.block_on(run(cli.command)) {
        eprintln!("Error: {error:#}");
        std::process::exit(1);
    }
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Local { command } => match command {
            LocalCommand::Up {
                members,
                dir,
                binary,
            } => local::up(&dir, members, binary).await,
            LocalCommand::Down { dir, purge } => local::down(&dir, purge).await,
            LocalCommand::Status { dir } => status(&dir.join(cluster_file::DEFAULT_NAME)).await,
        },
        Command::Status { file } => status(&file.file).await,
        Command::Init { file } => init::init(&file.file),
        Command::Systemd { name, file } => {
            let (cluster, directory) = file.load()?;
            systemd_print::print_units(&cluster, &directory, name.as_deref()).await
        }
        Command::Restore {
            backup,
            file,
            binary,
        } => {
            let (cluster, directory) = file.load()?;
            restore::restore(&cluster, &directory, &backup, binary).await
        }
        Command::Certs {
            command: CertsCommand::Renew { file },
        } => {
            let (cluster, directory) = file.load()?;
            certs::renew(&cluster, &directory).await
        }
        Command::Up {
            members,
            file,
            install,
            home,
            token,
            ssh_options,
            tls,
        } => {
            let command_line = cluster_file::CommandLineCluster {
                key: install.identity,
                token,
                home,
                binary: install.binary.clone(),
                ssh_options,
                tls: None,
            };
            let (cluster, update) = cluster_for_up(&file.file, &members, command_line, tls)?;
            let directory = cluster_file::directory_of(&file.file);
            up::up(&cluster, &directory, install.binary, &update).await
        }
        Command::Restart { file } => {
            let (cluster, directory) = file.load()?;
            rolling::restart(&cluster, &directory).await
        }
        Command::Upgrade { file, binary } => {
            let (cluster, directory) = file.load()?;
            rolling::upgrade(&cluster, &directory, binary).await
        }
        Command::Logs { name, file, lines } => {
            let (cluster, directory) = file.load()?;
            let member = cluster.member(&name)?;
            let on_host = member_control::MemberOnHost::new(&cluster, member, &directory);
            print!("{}", on_host.log_tail(lines).await?);
            Ok(())
        }
        Command::Add {
            member,
            file,
            install,
        } => {
            let (cluster, _) = file.load()?;
            membership::add(
                &cluster,
                &file.file,
                &member,
                install.identity,
                install.binary,
            )
            .await
        }
        Command::Remove { name, file } => {
            let (cluster, _) = file.load()?;
            membership::remove(&cluster, &file.file, &name).await
        }
        Command::Replace {
            name,
            member,
            file,
            install,
        } => {
            let (cluster, _) = file.load()?;
            let spec = member.as_deref();
            membership::replace(
                &cluster,
                &file.file,
                &name,
                spec,
                install.identity,
                install.binary,
            )
            .await
        }
        Command::Backup { target, file } => {
            let (cluster, _) = file.load()?;
            backup::backup(&cluster, &target).await
        }
        Command::Down { file } => {
            let (cluster, directory) = file.load()?;
            down::down(&cluster, &directory).await
        }
        Command::Supervise {
            pid_file,
            log_file,
            command,
        } => {
            supervisor::supervise(supervisor::Supervised {
                pid_file,
                log_file,
                command,
            })
            .await
        }
    }
}
