//! The seed's verification of a new cluster, with real etcdctl: `member list` shows every
//! member started, and `endpoint status -w table` shows exactly one leader.

use anyhow::{Result, ensure};

use crate::Etcdctl;
use crate::ascii_table::AsciiTable;

/// Checks that `etcdctl` sees `members` started members named `<prefix>...` and one leader.
pub async fn assert_seed_checks(etcdctl: &Etcdctl, members: usize, prefix: &str) -> Result<()> {
    let list = etcdctl.ok(&["member", "list"]).await?.stdout;
    let started = format!(", started, {prefix}");
    let count = list.lines().filter(|line| line.contains(&started)).count();
    ensure!(
        count == members,
        "member list shows {count} started members, not {members}:\n{list}"
    );
    let status = etcdctl
        .ok(&["endpoint", "status", "-w", "table"])
        .await?
        .stdout;
    let table = AsciiTable::parse(&status)?;
    let leaders = table
        .column("IS LEADER")?
        .iter()
        .filter(|v| **v == "true")
        .count();
    ensure!(
        leaders == 1,
        "endpoint status shows {leaders} leaders:\n{status}"
    );
    Ok(())
}
