//! `--target-leader`: finds the client URLs of the current raft leader so that every
//! connection goes to it and no request pays for a follower's forwarding hop.

use anyhow::{Context, Result, anyhow, bail};
use oxcd_api::etcdserverpb::cluster_client::ClusterClient;
use oxcd_api::etcdserverpb::maintenance_client::MaintenanceClient;
use oxcd_api::etcdserverpb::{MemberListRequest, StatusRequest};

use crate::connections::Dialer;

/// The client URLs the leader advertises, learned from the first endpoint that answers.
pub async fn leader_endpoints(endpoints: &[String], dialer: &Dialer) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    for endpoint in endpoints {
        match ask_for_leader(endpoint, dialer).await {
            Ok(urls) => return Ok(urls),
            Err(err) => failures.push(format!("{endpoint}: {err:#}")),
        }
    }
    Err(anyhow!(
        "failed to find a leader endpoint ({})",
        failures.join("; ")
    ))
}

async fn ask_for_leader(endpoint: &str, dialer: &Dialer) -> Result<Vec<String>> {
    let channel = dialer.dial(endpoint).await?;
    let status = MaintenanceClient::new(channel.clone())
        .status(StatusRequest {})
        .await
        .context("status")?
        .into_inner();
    if status.leader == 0 {
        bail!("the member knows no leader");
    }
    let members = ClusterClient::new(channel)
        .member_list(MemberListRequest::default())
        .await
        .context("member list")?
        .into_inner()
        .members;
    let leader = members
        .into_iter()
        .find(|member| member.id == status.leader)
        .ok_or_else(|| anyhow!("leader {:x} is not in the member list", status.leader))?;
    if leader.client_ur_ls.is_empty() {
        bail!("leader {:x} advertises no client URLs", leader.id);
    }
    Ok(leader.client_ur_ls)
}
