//! `oxadm add`, `remove` and `replace`: membership changes made the way etcd's runtime
//! reconfiguration guide makes them, one at a time and only while the rest of the cluster is
//! healthy. `add` checks the new host like `up` does, installs the binaries, announces the
//! member as a learner (it does not count for the quorum while it catches up), starts it with
//! `initial-cluster-state: existing` and promotes it once the leader accepts the promotion.
//! `remove` moves leadership off the member first, removes it, stops it and sets its files
//! aside so they are never started again. `replace` is `remove` then `add`, for a member whose
//! host or disk died. The cluster file follows every change.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use oxcd_api::etcdserverpb::{
    MemberAddRequest, MemberListRequest, MemberPromoteRequest, MemberRemoveRequest,
};
use oxcd_client::Client;

use crate::cluster_file::{ClusterFile, MemberEntry, directory_of, member_from_spec};
use crate::health::{ClusterReport, change_client, wait_healthy};
use crate::host::{Host, quote};
use crate::member_control::{MemberOnHost, first_failed_start};
use crate::preflight;
use crate::rolling::move_leadership_away;
use crate::up::{Binaries, install_binaries, start_member};

/// Bound on a new learner catching up far enough to be promoted.
const PROMOTE_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound on the cluster becoming healthy after a change.
const HEALTHY_AGAIN: Duration = Duration::from_secs(60);

/// Adds the member `spec` (`NAME=[USER@]HOST[:SSH_PORT]`) to the cluster of `file`, saved at
/// `file_path`.
pub async fn add(
    file: &ClusterFile,
    file_path: &Path,
    spec: &str,
    key: Option<PathBuf>,
    binary: Option<PathBuf>,
) -> Result<()> {
    let started = Instant::now();
    let new_member = member_from_spec(spec, &key)?;
    if file.members.iter().any(|m| m.name == new_member.name) {
        bail!(
            "{} is already a member (see `oxadm status`)",
            new_member.name
        );
    }
    ClusterReport::require_healthy(file, "add members only to a healthy cluster").await?;
    let mut grown = file.clone();
    grown.members.push(new_member.clone());
    grown.check()?;
    let binaries = Binaries::choose(&grown, binary)?;
    let host = Host::of(&new_member, &grown.ssh_options);
    let base = host.base_dir(&directory_of(file_path));
    let found = preflight::check(&grown, &new_member, &host, &base, binaries.arch())
        .await
        .with_context(|| {
            format!(
                "{} on {}; nothing was changed",
                new_member.name,
                host.describe()
            )
        })?;
    if found.running.is_some() {
        bail!(
            "a member {} already runs on {}",
            new_member.name,
            host.describe()
        );
    }
    install_binaries(
        std::slice::from_ref(&host),
        std::slice::from_ref(&found),
        &binaries,
    )
    .await?;

    let client = change_client(file, &file.client_urls()).await?;
    let peer_url = grown.peer_url(&new_member);
    let added = client
        .cluster()
        .member_add(MemberAddRequest {
            peer_ur_ls: vec![peer_url.clone()],
            is_learner: true,
        })
        .await
        .with_context(|| format!("announcing {} ({peer_url}) to the cluster", new_member.name))?
        .into_inner();
    let id = added
        .member
        .context("MemberAdd answered without the member")?
        .id;
    println!("{}: added as learner {id:x}", new_member.name);
    grown.save(file_path, "Written by `oxadm`; day-two commands read it.")?;
    start_member(&grown, &new_member, &host, &found, "existing").await?;
    let file_dir = directory_of(file_path);
    let just_started = [&new_member];
    tokio::select! {
        promoted = promote_when_caught_up(&client, id, &new_member.name) => promoted?,
        failure = first_failed_start(&grown, &file_dir, &just_started) => return Err(failure),
    }
    wait_healthy(&grown, HEALTHY_AGAIN).await?;
    println!(
        "{}: a voting member on {}, cluster healthy ({:.1}s)",
        new_member.name,
        host.describe(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Removes member `name` from the cluster of `file`, saved at `file_path`.
pub async fn remove(file: &ClusterFile, file_path: &Path, name: &str) -> Result<()> {
    let member = file.member(name)?;
    if file.members.len() == 1 {
        bail!("{name} is the only member: `oxadm down` stops the cluster");
    }
    let report = ClusterReport::collect(file).await;
    let others_answer = report
        .members
        .iter()
        .filter(|m| m.name != name)
        .all(|m| m.status.is_ok());
    if !others_answer || report.leader().is_none() {
        bail!(
            "removing {name} now could cost the quorum: every other member must be healthy ({})\n{}",
            report.summary(),
            report.table()
        );
    }
    let client = change_client(file, &file.client_urls()).await?;
    let id = member_id(&client, name).await?;
    if report.leader() == Some(id) {
        move_leadership_away(file, &report, name).await?;
    }
    client
        .cluster()
        .member_remove(MemberRemoveRequest { id })
        .await
        .with_context(|| format!("removing {name} ({id:x})"))?;
    println!("{name}: removed from the cluster");
    let mut shrunk = file.clone();
    shrunk.members.retain(|m| m.name != name);
    shrunk.save(file_path, "Written by `oxadm`; day-two commands read it.")?;
    set_aside(file, member, file_path).await;
    wait_healthy(&shrunk, HEALTHY_AGAIN).await?;
    Ok(())
}

/// Replaces member `name` (whose host or disk died) by a new member of the same name, on
/// `spec`'s host if given, else on the same host.
pub async fn replace(
    file: &ClusterFile,
    file_path: &Path,
    name: &str,
    spec: Option<&str>,
    key: Option<PathBuf>,
    binary: Option<PathBuf>,
) -> Result<()> {
    let old = file.member(name)?.clone();
    let spec = match spec {
        Some(spec) => spec.to_owned(),
        None => {
            let login = old.ssh.clone().unwrap_or_default();
            let user = login.user.map(|u| format!("{u}@")).unwrap_or_default();
            let port = login.port.map(|p| format!(":{p}")).unwrap_or_default();
            let host = if old.host.contains(':') {
                format!("[{}]", old.host)
            } else {
                old.host.clone()
            };
            format!("{name}={user}{host}{port}")
        }
    };
    let key = key.or_else(|| old.ssh.as_ref().and_then(|login| login.key.clone()));
    remove(file, file_path, name).await?;
    let shrunk = ClusterFile::load(file_path)?;
    add(&shrunk, file_path, &spec, key, binary).await
}

/// Stops the removed member where it ran and renames its directory, so that neither its
/// supervisor nor a later `up` starts it again; a host that cannot be reached is reported.
async fn set_aside(file: &ClusterFile, member: &MemberEntry, file_path: &Path) {
    let on_host = MemberOnHost::new(file, member, &directory_of(file_path));
    match on_host.stop().await {
        Ok(said) => println!("{}: {said}", member.name),
        Err(error) => eprintln!("warning: {}: could not stop it: {error:#}", member.name),
    }
    if let Err(error) = on_host.remove_unit().await {
        eprintln!("warning: {}: {error:#}", member.name);
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let script = format!(
        "cd {} && cd {} && mv {name} {name}.removed-{stamp}",
        quote(&on_host.host.base_dir(&directory_of(file_path))),
        quote(&file.home),
        name = quote(&member.name)
    );
    match on_host.host.run(&script, b"").await {
        Ok(_) => println!(
            "{}: its files were set aside as {}.removed-{stamp}",
            member.name, member.name
        ),
        Err(error) => eprintln!(
            "warning: {}: its files stay in place: {error:#}",
            member.name
        ),
    }
}

async fn promote_when_caught_up(client: &Client, id: u64, name: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        match client
            .cluster()
            .member_promote(MemberPromoteRequest { id })
            .await
        {
            Ok(_) => {
                println!("{name}: promoted to a voting member");
                return Ok(());
            }
            // The leader refuses the promotion until the learner is in sync.
            Err(_) if started.elapsed() < PROMOTE_TIMEOUT => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(status) => {
                bail!(
                    "{name} did not catch up within {}s (last refusal: {}); see `oxadm logs {name}`",
                    PROMOTE_TIMEOUT.as_secs(),
                    status.message()
                )
            }
        }
    }
}

async fn member_id(client: &Client, name: &str) -> Result<u64> {
    let members = client
        .cluster()
        .member_list(MemberListRequest { linearizable: true })
        .await?
        .into_inner()
        .members;
    members
        .iter()
        .find(|m| m.name == name)
        .map(|m| m.id)
        .with_context(|| format!("the cluster has no member named {name}"))
}
