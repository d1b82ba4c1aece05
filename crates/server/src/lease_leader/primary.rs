//! The primary: follows this member's raft role (promoting or demoting the lessor's clocks)
//! and, while leader, proposes the revocation of expired leases and the checkpoints of
//! long ones through raft, so every member deletes the same keys at the same revision.

use std::sync::Arc;
use std::time::Duration;

use oxcd_api::etcdserverpb::{LeaseCheckpointRequest, LeaseRevokeRequest};
use oxcd_raft::Role;

use crate::auth::Caller;
use crate::server::EtcdServer;

/// How often the primary looks for expired leases and due checkpoints (etcd: 500 ms).
const SCAN_INTERVAL: Duration = Duration::from_millis(500);
/// etcd's revoke rate: at most this many leases revoked per second.
const REVOKES_PER_SECOND: usize = 1000;
/// Checkpoints carried by one proposal (etcd's batch size).
const CHECKPOINTS_PER_PROPOSAL: usize = 1000;

/// Proposes the revocation of expired leases (each on its own, as etcd does) and one batch of
/// due checkpoints.
fn propose_due(server: &Arc<EtcdServer>) {
    let lessor = server.state().lessor();
    let per_scan = REVOKES_PER_SECOND * SCAN_INTERVAL.as_millis() as usize / 1000;
    for id in lessor.take_expired(per_scan) {
        let server = server.clone();
        tokio::spawn(async move {
            let revoke = LeaseRevokeRequest { id };
            match server.propose(&Caller::member(), revoke).await {
                Ok(_) => server.metrics().watch_lease().record_expired(),
                Err(e) => {
                    tracing::warn!(lease_id = %format!("{id:016x}"), error = %e, "failed to revoke an expired lease");
                }
            }
        });
    }
    let checkpoints = lessor.take_due_checkpoints(CHECKPOINTS_PER_PROPOSAL);
    if !checkpoints.is_empty() {
        let server = server.clone();
        tokio::spawn(async move {
            let checkpoint = LeaseCheckpointRequest { checkpoints };
            if let Err(e) = server.propose(&Caller::member(), checkpoint).await {
                tracing::warn!(error = %e, "failed to checkpoint leases");
            }
        });
    }
}

/// Runs the primary's duties for `server` until the runtime stops.
pub(crate) fn spawn(server: Arc<EtcdServer>, election_timeout: Duration) {
    tokio::spawn(async move {
        let mut status = server.raft().subscribe();
        let mut scan = tokio::time::interval(SCAN_INTERVAL);
        scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut was_leader = false;
        loop {
            // Raft's status changes with every commit; only the role matters here, and the
            // lease scan runs on its own tick.
            let scan_due = tokio::select! {
                changed = status.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    false
                }
                _ = scan.tick() => true,
            };
            let leader = status.borrow_and_update().role == Role::Leader;
            if leader != was_leader {
                was_leader = leader;
                let lessor = server.state().lessor();
                if leader {
                    tracing::info!("promoting lessor: this member now expires leases");
                    lessor.promote(election_timeout);
                } else {
                    lessor.demote();
                }
            }
            if leader && scan_due {
                propose_due(&server);
            }
        }
    });
}
