//! Leader election (etcd's `v3election` service, clientv3's election recipe on the server):
//! candidates queue under `NAME/` like lockers, each key holding the candidate's value; the
//! oldest key leads. A leader is named by its [`LeaderKey`] — the key and its create revision
//! — so a Proclaim or Resign from a leader whose key was deleted (and perhaps recreated) since
//! does nothing.

use std::sync::Arc;

use oxcd_api::etcdserverpb::request_op::Request as Op;
use oxcd_api::etcdserverpb::{
    DeleteRangeRequest, RangeResponse, RequestOp, ResponseHeader, TxnRequest,
};
use oxcd_api::queue::{created_at, head, queue_key, queue_prefix};
use oxcd_api::v3electionpb::LeaderKey;

use super::error::CoordinationError;
use super::queue::{
    Claim, commit, join, put, read, session_lease, still_queued, wait_for_predecessors,
};
use crate::auth::Caller;
use crate::server::EtcdServer;

/// Campaigns in election `name` with `value` for `caller` and `lease` (0: a new 60 s lease), waiting until
/// the candidate leads; answers its leader key and the header of the txn that queued it. A
/// candidate already queued with this lease keeps its place, its value replaced by `value`.
/// A caller that goes away while waiting leaves the queue.
///
/// Unlike etcd 3.5.1, leadership is not granted when the candidate's key vanished while it
/// waited (its lease expired or was revoked, or it resigned): then the answer is "election:
/// not leader" — etcd would name a leader that another candidate may already follow.
pub(crate) async fn campaign(
    server: &Arc<EtcdServer>,
    caller: &Caller,
    name: &[u8],
    lease: i64,
    value: &[u8],
) -> Result<(LeaderKey, ResponseHeader), CoordinationError> {
    let lease = session_lease(server, caller, lease).await?;
    let prefix = queue_prefix(name);
    let key = queue_key(&prefix, lease);
    let place = join(server, caller, &prefix, &key, value, lease).await?;
    if place.found.as_ref().is_some_and(|kv| kv.value != value) {
        proclaim_as(server, caller, &key, place.revision, lease, value).await?;
    }
    if !place.first {
        let claim = Claim::new(server.clone(), key.clone(), Some(place.revision));
        let waited = wait_for_predecessors(server, &prefix, place.revision).await;
        // etcd withdraws only a candidate whose client went away (the drop), not one whose
        // wait failed.
        claim.keep();
        waited?;
        let (queued, _) = still_queued(server, &key, place.revision, lease)?;
        if !queued {
            return Err(CoordinationError::NotLeader);
        }
    }
    let leader = LeaderKey {
        name: name.to_vec(),
        key,
        rev: place.revision,
        lease,
    };
    Ok((leader, place.header))
}

/// Replaces the leader's value, if `leader` still leads (its key has its create revision).
/// The key is bound to `leader.lease` (0: a new 60 s lease, as etcd does).
pub(crate) async fn proclaim(
    server: &EtcdServer,
    caller: &Caller,
    leader: Option<&LeaderKey>,
    value: &[u8],
) -> Result<ResponseHeader, CoordinationError> {
    let leader = leader.ok_or(CoordinationError::MissingLeaderKey)?;
    let lease = session_lease(server, caller, leader.lease).await?;
    proclaim_as(server, caller, &leader.key, leader.rev, lease, value).await
}

async fn proclaim_as(
    server: &EtcdServer,
    caller: &Caller,
    key: &[u8],
    revision: i64,
    lease: i64,
    value: &[u8],
) -> Result<ResponseHeader, CoordinationError> {
    let resp = commit(
        server,
        caller,
        TxnRequest {
            compare: vec![created_at(key, revision)],
            success: vec![put(key, value, lease)],
            failure: vec![],
        },
    )
    .await?;
    if !resp.succeeded {
        return Err(CoordinationError::NotLeader);
    }
    Ok(resp.header.unwrap_or_default())
}

/// The current leader of election `name`: the key with the lowest create revision.
pub(crate) async fn leader(
    server: &EtcdServer,
    name: &[u8],
) -> Result<RangeResponse, CoordinationError> {
    let resp = read(server, &head(&queue_prefix(name))).await?;
    if resp.kvs.is_empty() {
        return Err(CoordinationError::NoLeader);
    }
    Ok(resp)
}

/// Gives up leadership: deletes the leader's key if it still has its create revision. A leader
/// that no longer leads resigns successfully, changing nothing. `leader.lease` 0 grants a new
/// 60 s lease first, as etcd does.
pub(crate) async fn resign(
    server: &EtcdServer,
    caller: &Caller,
    leader: Option<&LeaderKey>,
) -> Result<ResponseHeader, CoordinationError> {
    let leader = leader.ok_or(CoordinationError::MissingLeaderKey)?;
    session_lease(server, caller, leader.lease).await?;
    let resp = commit(
        server,
        caller,
        TxnRequest {
            compare: vec![created_at(&leader.key, leader.rev)],
            success: vec![RequestOp {
                request: Some(Op::RequestDeleteRange(DeleteRangeRequest {
                    key: leader.key.clone(),
                    ..Default::default()
                })),
            }],
            failure: vec![],
        },
    )
    .await?;
    Ok(resp.header.unwrap_or_default())
}
