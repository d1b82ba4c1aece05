//! `oxadm systemd`: prints each member's systemd unit as `up` installs it where systemd runs
//! (`systemd_unit.rs`), with the paths and user of its host, for an operator who installs units
//! by hand.

use std::path::Path;

use anyhow::Result;

use crate::cluster_file::ClusterFile;
use crate::member_control::MemberOnHost;
use crate::systemd_unit::{UNIT_DIR, unit_file, unit_name};

/// `oxadm systemd`: prints the unit of each member of `file` (or of `name` alone) as `up`
/// installs it where systemd runs, for an operator who installs units by hand.
pub async fn print_units(file: &ClusterFile, file_dir: &Path, name: Option<&str>) -> Result<()> {
    let members = match name {
        Some(name) => vec![file.member(name)?],
        None => file.members.iter().collect(),
    };
    for member in members {
        let on_host = MemberOnHost::new(file, member, file_dir);
        let dir = on_host.dir().await?;
        let user = on_host.host.run("id -un", b"").await?;
        let bin_dir = match dir.rsplit_once('/') {
            Some((home, _)) => format!("{home}/bin"),
            None => "bin".to_owned(),
        };
        println!(
            "# {UNIT_DIR}/{} on {}",
            unit_name(&member.name),
            on_host.host.describe()
        );
        print!(
            "{}",
            unit_file(&member.name, &file.token, user.trim(), &dir, &bin_dir)
        );
        println!();
    }
    Ok(())
}
