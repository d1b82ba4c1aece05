//! `oxadm local up|down`: a cluster of N members on this machine for development, laid
//! out as etcd's own Procfile lays one out (`infra1` on 2379/2380, `infra2` on 22379/22380,
//! …). Its cluster file and each member's files live in one directory (`oxcd-local` by
//! default); each member runs under `oxadm supervise`, so it outlives the command and is
//! restarted after a crash. `up` on a running cluster starts nothing and only checks it.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cluster_file::{ClusterFile, DEFAULT_NAME, MemberEntry};
use crate::down;
use crate::health::wait_started;
use crate::member_files::{MemberFiles, member_config};
use crate::process::running_supervisor;
use crate::verify::{self, beside_oxadm};

/// The directory `local` commands use when none is given.
pub const DEFAULT_DIR: &str = "oxcd-local";

/// Client ports of the members, in order, as etcd's Procfile has them; peer ports are one up.
const CLIENT_PORTS: [u16; 6] = [2379, 22379, 32379, 42379, 52379, 62379];

/// Bound on a new cluster becoming healthy.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(60);

/// `local up`: starts the members of the cluster in `dir` that are not running (creating a
/// cluster of `size` members there first if there is none), waits until it is healthy and
/// shows the seed's verification.
pub async fn up(dir: &Path, size: Option<usize>, binary: Option<PathBuf>) -> Result<()> {
    let started = Instant::now();
    let file_path = dir.join(DEFAULT_NAME);
    let file = if file_path.exists() {
        let file = ClusterFile::load(&file_path)?;
        if let Some(size) = size.filter(|&size| size != file.members.len()) {
            bail!(
                "{} holds a local cluster of {} members, not {size}; run `oxadm local down --purge --dir {}` to start over",
                dir.display(),
                file.members.len(),
                dir.display()
            );
        }
        file
    } else {
        let file = new_cluster(size.unwrap_or(3))?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        file.save(
            &file_path,
            "A local oxcd cluster, written by `oxadm local up`.",
        )?;
        file
    };
    let binary = match binary.or_else(|| file.binary.clone()) {
        Some(binary) => binary,
        None => beside_oxadm("oxcd")?,
    };
    let home = home_of(dir, &file);
    let mut started_members = Vec::new();
    for member in &file.members {
        let files = MemberFiles::new(&home, &member.name);
        if let Some(pid) = running_supervisor(&files.pid_file()) {
            println!("{}: already running (supervisor pid {pid})", member.name);
            continue;
        }
        start_member(&file, member, &files, &binary)?;
        started_members.push(member);
    }
    if !started_members.is_empty() {
        let names: Vec<&str> = started_members.iter().map(|m| m.name.as_str()).collect();
        println!("started {}", names.join(", "));
    }
    let report = wait_started(&file, dir, &started_members, HEALTHY_TIMEOUT).await?;
    verify::announce_healthy(&file, &report, started)
}

/// `local down`: stops every member; `purge` then deletes the directory's cluster.
pub async fn down(dir: &Path, purge: bool) -> Result<()> {
    let file_path = dir.join(DEFAULT_NAME);
    let file = ClusterFile::load(&file_path)?;
    down::down(&file, dir).await?;
    let home = home_of(dir, &file);
    if purge {
        for member in &file.members {
            let member_dir = MemberFiles::new(&home, &member.name).dir().to_path_buf();
            if member_dir.exists() {
                std::fs::remove_dir_all(&member_dir)
                    .with_context(|| format!("removing {}", member_dir.display()))?;
            }
        }
        std::fs::remove_file(&file_path)?;
        // Only when nothing but oxadm's files was there.
        let _ = std::fs::remove_dir(dir);
        println!(
            "removed the cluster's data and files from {}",
            dir.display()
        );
    }
    Ok(())
}

fn new_cluster(size: usize) -> Result<ClusterFile> {
    if size == 0 || size > CLIENT_PORTS.len() {
        bail!(
            "a local cluster has 1 to {} members, not {size} (3 or 5 make sense: an even number tolerates no more failures than one member fewer)",
            CLIENT_PORTS.len()
        );
    }
    let members = CLIENT_PORTS[..size]
        .iter()
        .enumerate()
        .map(|(i, &port)| MemberEntry {
            name: format!("infra{}", i + 1),
            host: "127.0.0.1".to_owned(),
            ssh: None,
            client_port: Some(port),
            peer_port: Some(port + 1),
        })
        .collect();
    let file = ClusterFile {
        tls: None,
        token: "oxcd-local".to_owned(),
        client_port: CLIENT_PORTS[0],
        peer_port: CLIENT_PORTS[0] + 1,
        home: ".".to_owned(),
        binary: None,
        ssh_options: Vec::new(),
        settings: Default::default(),
        members,
    };
    file.check()?;
    Ok(file)
}

/// Writes the member's configuration and starts its supervisor, detached from this process
/// and its terminal.
fn start_member(
    file: &ClusterFile,
    member: &MemberEntry,
    files: &MemberFiles,
    binary: &Path,
) -> Result<()> {
    std::fs::create_dir_all(files.dir())
        .with_context(|| format!("creating {}", files.dir().display()))?;
    let in_place = MemberFiles::at(&absolute(files.dir())?);
    std::fs::write(
        files.config(),
        member_config(file, member, &in_place, "new")?,
    )
    .with_context(|| format!("writing {}", files.config().display()))?;
    let oxadm = std::env::current_exe().context("finding the oxadm executable")?;
    let mut command = Command::new(oxadm);
    command
        .arg("supervise")
        .arg("--pid-file")
        .arg(absolute(&files.pid_file())?)
        .arg("--log-file")
        .arg(absolute(&files.log())?)
        .arg("--")
        .arg(absolute(binary)?)
        .args([
            OsString::from("--config-file"),
            absolute(&files.config())?.into(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: Ctrl-C in this terminal does not reach the member.
        .process_group(0);
    command
        .spawn()
        .with_context(|| format!("starting the supervisor of {}", member.name))?;
    Ok(())
}

/// Where the members' directories are: the file's `home`, relative to `dir`.
fn home_of(dir: &Path, file: &ClusterFile) -> PathBuf {
    match file.home.as_str() {
        "." => dir.to_path_buf(),
        home => dir.join(home),
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}
