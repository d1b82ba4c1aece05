//! Promoting a learner to a voting member. Only the leader knows how far a learner's log has
//! caught up, so the leader decides: `Cluster.MemberPromote` on the leader comes here (a
//! follower forwards the request to it), and so does the opt-in automatic promotion
//! (`--auto-promote-learners`, an oxcd extension: etcd promotes only when asked, and tools
//! retry `member promote` until the learner is ready, kubeadm's timeouts included). While the
//! member leads, the automatic promoter looks at the learners every [`CHECK_EVERY`] and
//! promotes each one that passes the checks a `member promote` would.

use std::sync::Arc;
use std::time::Duration;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::Member;
use oxcd_raft::{MemberChange, Replication};

use crate::membership::ChangeRequest;
use crate::server::EtcdServer;

/// How often the automatic promoter looks for learners that have caught up.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Promotes learner `id`, this member leading with `replication`; the members after the
/// change. Counted in the learner-promotion metrics, as etcd counts its leader's decisions.
pub(crate) async fn promote(
    server: &EtcdServer,
    id: u64,
    replication: &Replication,
) -> Result<Vec<Member>, EtcdError> {
    let promoted = checked_promote(server, id, replication).await;
    server
        .metrics()
        .record_learner_promotion(promoted.as_ref().err().map(failure_reason));
    promoted
}

async fn checked_promote(
    server: &EtcdServer,
    id: u64,
    replication: &Replication,
) -> Result<Vec<Member>, EtcdError> {
    let membership = server.state().membership();
    membership.check(&ChangeRequest::Promote(id))?;
    membership.may_promote(id, replication, server.settings().strict_reconfig_check)?;
    server
        .propose_member_change(
            MemberChange::AddVoter(id),
            Some(Member {
                id,
                ..Default::default()
            }),
            true,
        )
        .await
}

/// The `Reason` label of a failed promotion: the text of etcd's internal error, which for the
/// membership checks differs from the message its clients get.
fn failure_reason(error: &EtcdError) -> &'static str {
    match error {
        EtcdError::MemberNotFound => "membership: ID not found",
        EtcdError::MemberNotLearner => "membership: can only promote a learner member",
        other => other.message(),
    }
}

/// Starts the automatic promoter for the life of the runtime.
pub(crate) fn spawn_automatic(server: Arc<EtcdServer>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CHECK_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            promote_caught_up(&server).await;
        }
    });
}

/// Promotes, one at a time, the learners that have caught up, if this member leads. A learner
/// still catching up is passed over silently (it is no failed promotion: nobody asked yet).
async fn promote_caught_up(server: &EtcdServer) {
    let Ok(Some(replication)) = server.raft().replication().await else {
        return;
    };
    let membership = server.state().membership();
    let strict = server.settings().strict_reconfig_check;
    let ready = membership
        .members()
        .into_iter()
        .filter(|member| member.is_learner)
        .filter(|member| {
            membership
                .may_promote(member.id, &replication, strict)
                .is_ok()
        });
    for learner in ready.collect::<Vec<_>>() {
        match promote(server, learner.id, &replication).await {
            Ok(_) => tracing::info!(
                member_id = %format!("{:x}", learner.id),
                name = %learner.name,
                "promoted a learner that caught up with the leader (--auto-promote-learners)"
            ),
            Err(error) => tracing::warn!(
                member_id = %format!("{:x}", learner.id),
                error = %error.message(),
                "failed to promote a learner automatically"
            ),
        }
    }
}
