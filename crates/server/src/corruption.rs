//! Corruption checks between members, as etcd makes them: members that applied the same log
//! must hold the same key history, so their HashKV at one revision must agree.
//!
//! - `--experimental-initial-corrupt-check`: before serving clients, a member asks every peer
//!   for HashKV at its own revision; a peer with the same compaction and another hash means
//!   this member's data diverged, and it refuses to serve.
//! - `--experimental-corrupt-check-time`: the leader compares, at that interval, its hash with
//!   every follower's and raises the CORRUPT alarm for a member that disagrees (for itself if
//!   its own hash changed under an unchanged revision), which stops every change cluster-wide.
//!
//! etcd asks peers on their peer URLs; oxcd asks their client URLs (published through raft
//! with their attributes) over gRPC, with the same request and answer.

use std::sync::Arc;
use std::time::Duration;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::alarm_request::AlarmAction;
use oxcd_api::etcdserverpb::maintenance_client::MaintenanceClient;
use oxcd_api::etcdserverpb::{AlarmRequest, AlarmType, HashKvRequest, HashKvResponse};
use oxcd_raft::Role;

use crate::auth::Caller;
use crate::server::EtcdServer;

/// One peer's answer to HashKV at a revision.
struct PeerHash {
    id: u64,
    endpoints: Vec<String>,
    answer: Result<HashKvResponse, tonic::Status>,
}

/// This member's HashKV at its current revision: (hash, revision, compacted revision).
async fn local_hash(server: &EtcdServer) -> Result<(u32, i64, i64), EtcdError> {
    let kv = server.state().kv();
    let started = std::time::Instant::now();
    let hashed = tokio::task::spawn_blocking(move || kv.hash_kv(0))
        .await
        .map_err(|_| EtcdError::Stopped)?;
    server.metrics().store().record_hash_rev(started.elapsed());
    hashed
}

/// Asks every other member for HashKV at `revision`, trying its client URLs in turn.
async fn peer_hashes(server: &EtcdServer, revision: i64) -> Vec<PeerHash> {
    let own = server.identity().member_id;
    let timeout = server.settings().request_timeout;
    let mut out = Vec::new();
    for member in server.state().membership().members() {
        if member.id == own || member.client_ur_ls.is_empty() {
            continue;
        }
        let mut answer = Err(tonic::Status::unavailable("no client URL answered"));
        for url in &member.client_ur_ls {
            answer = ask(url, revision, timeout).await;
            match &answer {
                Ok(_) => break,
                Err(status) => tracing::warn!(
                    local_member_id = %format!("{own:x}"),
                    requested_revision = revision,
                    remote_peer_endpoint = %url,
                    error = %status.message(),
                    "failed hash kv request"
                ),
            }
        }
        out.push(PeerHash {
            id: member.id,
            endpoints: member.client_ur_ls.clone(),
            answer,
        });
    }
    out
}

async fn ask(url: &str, revision: i64, timeout: Duration) -> Result<HashKvResponse, tonic::Status> {
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_string())
        .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?
        .connect_timeout(timeout)
        .timeout(timeout);
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut client = MaintenanceClient::new(channel);
    Ok(client
        .hash_kv(HashKvRequest { revision })
        .await?
        .into_inner())
}

/// The initial check: `Err` with etcd's message when a peer with the same compaction holds
/// another hash at this member's revision. `local` is this member's (hash, revision, compacted
/// revision) as its backend held them at start, before anything from the log was applied.
pub(crate) async fn initial_check(
    server: &EtcdServer,
    local: (u32, i64, i64),
) -> Result<(), String> {
    let own = format!("{:x}", server.identity().member_id);
    tracing::info!(
        local_member_id = %own,
        timeout = %oxcd_etcd_compat::gotext::duration::format(server.settings().request_timeout),
        "starting initial corruption check"
    );
    let (hash, revision, compacted) = local;
    let mut mismatches = 0;
    for peer in peer_hashes(server, revision).await {
        match &peer.answer {
            Ok(resp) if resp.hash != hash => {
                let same_compaction = resp.compact_revision == compacted;
                tracing::warn!(
                    local_member_id = %own,
                    local_member_revision = revision,
                    local_member_compact_revision = compacted,
                    local_member_hash = hash,
                    remote_peer_id = %format!("{:x}", peer.id),
                    remote_peer_endpoints = ?peer.endpoints,
                    remote_peer_revision = resp.header.as_ref().map_or(0, |h| h.revision),
                    remote_peer_compact_revision = resp.compact_revision,
                    remote_peer_hash = resp.hash,
                    "{}",
                    if same_compaction {
                        "found different hash values from remote peer"
                    } else {
                        "found different compact revision values from remote peer"
                    }
                );
                if same_compaction {
                    mismatches += 1;
                }
            }
            Ok(_) => {}
            Err(status) => tracing::warn!(
                local_member_id = %own,
                local_member_revision = revision,
                remote_peer_id = %format!("{:x}", peer.id),
                remote_peer_endpoints = ?peer.endpoints,
                error = %status.message(),
                "cannot fetch hash from remote peer"
            ),
        }
    }
    if mismatches > 0 {
        return Err(format!("{own} found data inconsistency with peers"));
    }
    tracing::info!(local_member_id = %own, "initial corruption checking passed; no corruption");
    Ok(())
}

/// Runs the leader's periodic check every `interval` for the life of the runtime.
pub(crate) fn spawn_monitor(server: Arc<EtcdServer>, interval: Duration) {
    tracing::info!(
        local_member_id = %format!("{:x}", server.identity().member_id),
        interval = %oxcd_etcd_compat::gotext::duration::format(interval),
        "enabled corruption checking"
    );
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            if server.raft().status().role != Role::Leader {
                continue;
            }
            if let Err(e) = check_peers(&server).await {
                tracing::warn!(error = %e, "failed to check hash KV");
            }
        }
    });
}

/// One leader check: which members (itself included) disagree, by etcd's rules.
async fn check_peers(server: &Arc<EtcdServer>) -> Result<(), EtcdError> {
    let (hash, revision, compacted) = local_hash(server).await?;
    let peers = peer_hashes(server, revision).await;
    server.read_barrier().await?;
    let (hash2, revision2, compacted2) = local_hash(server).await?;
    let mut suspect = None;
    if hash2 != hash && revision2 == revision && compacted2 == compacted {
        tracing::warn!(
            revision_1 = revision,
            compact_revision_1 = compacted,
            hash_1 = hash,
            revision_2 = revision2,
            compact_revision_2 = compacted2,
            hash_2 = hash2,
            "found hash mismatch"
        );
        suspect.get_or_insert(server.identity().member_id);
    }
    let mut checked = 0;
    for peer in &peers {
        let Ok(resp) = &peer.answer else { continue };
        checked += 1;
        let follower = format!("{:x}", peer.id);
        let follower_revision = resp.header.as_ref().map_or(0, |h| h.revision);
        if follower_revision > revision2 {
            tracing::warn!(leader_revision = revision2, follower_revision, follower_peer_id = %follower, "revision from follower must be less than or equal to leader's");
            suspect.get_or_insert(peer.id);
        }
        if resp.compact_revision > compacted2 {
            tracing::warn!(leader_compact_revision = compacted2, follower_compact_revision = resp.compact_revision, follower_peer_id = %follower, "compact revision from follower must be less than or equal to leader's");
            suspect.get_or_insert(peer.id);
        }
        if resp.compact_revision == compacted && resp.hash != hash {
            tracing::warn!(leader_compact_revision = compacted2, leader_hash = hash, follower_compact_revision = resp.compact_revision, follower_hash = resp.hash, follower_peer_id = %follower, "same compact revision then hashes must match");
            suspect.get_or_insert(peer.id);
        }
    }
    tracing::info!(
        number_of_peers_checked = checked,
        "finished peer corruption check"
    );
    if let Some(member_id) = suspect {
        let raise = AlarmRequest {
            action: AlarmAction::Activate as i32,
            member_id,
            alarm: AlarmType::Corrupt as i32,
        };
        server.propose(&Caller::member(), raise).await?;
    }
    Ok(())
}
