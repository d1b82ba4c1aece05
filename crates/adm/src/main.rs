//! `oxadm`: deploys and operates oxcd clusters. Today it runs a local cluster for development
//! (`local up|down|status`, `local.rs`) and shows any cluster's state from its cluster file
//! (`status`, `health.rs`); deploying to hosts over SSH builds on the same pieces.
//!
//! The pieces: `cluster_file.rs` (the YAML file naming the members), `member_files.rs` (a
//! member's directory and its configuration in etcd's config-file format), `supervisor.rs`
//! (`oxadm supervise`, which keeps a member running where no systemd does), `process.rs`
//! (finding and stopping supervisors by pid file) and `verify.rs` (the seed's two checks,
//! shown with `oxctl`).

mod cluster_file;
mod health;
mod local;
mod member_files;
mod process;
mod supervisor;
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

#[derive(Subcommand)]
enum Command {
    /// A cluster on this machine, for development.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
    /// Shows every member of a cluster (health, leader, DB size, raft term and index) and its
    /// alarms.
    Status {
        /// The cluster file.
        #[arg(short = 'f', long = "file", default_value = cluster_file::DEFAULT_NAME)]
        file: PathBuf,
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
            LocalCommand::Down { dir, purge } => local::down(&dir, purge),
            LocalCommand::Status { dir } => status(&dir.join(cluster_file::DEFAULT_NAME)).await,
        },
        Command::Status { file } => status(&file).await,
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
