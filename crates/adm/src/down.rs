//! `oxadm down`: stops every member of a cluster file on its host — its supervisor gets
//! SIGTERM and stops oxcd gracefully (SIGKILL after a grace period) — and leaves the data.

use std::path::Path;

use anyhow::Result;
use futures::future::join_all;

use crate::cluster_file::ClusterFile;
use crate::member_control::MemberOnHost;

/// Stops every member of `file`; `file_dir` is where relative local paths start.
pub async fn down(file: &ClusterFile, file_dir: &Path) -> Result<()> {
    let stops = file.members.iter().map(|member| async move {
        let on_host = MemberOnHost::new(file, member, file_dir);
        let said = on_host.stop().await?;
        println!("{}: {said} ({})", member.name, on_host.host.describe());
        Ok::<(), anyhow::Error>(())
    });
    join_all(stops)
        .await
        .into_iter()
        .collect::<Result<Vec<()>>>()?;
    Ok(())
}
