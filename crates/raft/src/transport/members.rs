//! Asking a running cluster who its members are, over the peer service: how a member started
//! with `--initial-cluster-state=existing` learns the cluster ID and the member IDs (its own
//! included, assigned by `member add`) before it has any state of its own.

use std::sync::Arc;
use std::time::Duration;

use super::dial::{PeerTls, dial};
use super::proto::MembersRequest;
use super::proto::raft_peer_client::RaftPeerClient;
use crate::error::RaftError;

/// A cluster as one of its members described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCluster {
    /// The cluster's ID.
    pub cluster_id: u64,
    /// Every member's ID and peer URLs, ordered by ID.
    pub members: Vec<(u64, Vec<String>)>,
}

/// Asks the members at `peer_urls`, one after the other, for the cluster's membership; the
/// first answer wins. `tls` is how `https://` peers are dialled (see
/// [`crate::RaftConfig::peer_tls`]). Fails with every URL's reason when none answers within
/// `timeout` each.
pub async fn fetch_cluster(
    peer_urls: &[String],
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<RemoteCluster, RaftError> {
    let mut reasons = Vec::new();
    for url in peer_urls {
        match tokio::time::timeout(timeout, ask(url, &tls)).await {
            Ok(Ok(cluster)) => return Ok(cluster),
            Ok(Err(reason)) => reasons.push(format!("{url}: {reason}")),
            Err(_) => reasons.push(format!("{url}: no answer within {timeout:?}")),
        }
    }
    Err(RaftError::Unreachable(format!(
        "could not retrieve the cluster's members from its peers ({})",
        reasons.join("; ")
    )))
}

async fn ask(url: &str, tls: &PeerTls) -> Result<RemoteCluster, String> {
    let channel = dial(url, tls, |endpoint| {
        endpoint.connect_timeout(Duration::from_secs(1))
    })
    .await?;
    let answer = RaftPeerClient::new(channel)
        .members(MembersRequest {})
        .await
        .map_err(|status| status.message().to_string())?
        .into_inner();
    let mut members: Vec<(u64, Vec<String>)> = answer
        .members
        .into_iter()
        .map(|m| (m.id, m.peer_urls))
        .collect();
    members.sort_unstable_by_key(|(id, _)| *id);
    Ok(RemoteCluster {
        cluster_id: answer.cluster_id,
        members,
    })
}
