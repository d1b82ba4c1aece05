//! The distributed lock (etcd's `v3lock` service, clientv3's mutex recipe on the server): the
//! caller's key joins the queue under `NAME/`, and the lock is granted once every key created
//! before it is gone — and only if the caller's key is then still there, created when it
//! joined and bound to a lease that still exists (a lock is never granted on a lease that is
//! gone, etcd-io/etcd#11456).

use std::sync::Arc;

use oxcd_api::etcdserverpb::{DeleteRangeRequest, ResponseHeader};
use oxcd_api::queue::{queue_key, queue_prefix};
use oxcd_mvcc::validate;

use super::error::CoordinationError;
use super::queue::{Claim, join, session_lease, still_queued, wait_for_predecessors};
use crate::auth::Caller;
use crate::server::EtcdServer;

/// Acquires the lock `name` for `caller` and `lease` (0: a new 60 s lease), waiting as long as it takes;
/// answers the lock's key and the header of the read that confirmed it. A caller that goes
/// away while waiting (the future is dropped) leaves the queue.
pub(crate) async fn lock(
    server: &Arc<EtcdServer>,
    caller: &Caller,
    name: &[u8],
    lease: i64,
) -> Result<(Vec<u8>, ResponseHeader), CoordinationError> {
    let lease = session_lease(server, caller, lease).await?;
    let prefix = queue_prefix(name);
    let key = queue_key(&prefix, lease);
    let place = join(server, caller, &prefix, &key, b"", lease).await?;
    if place.first {
        return Ok((key, place.header));
    }
    let claim = Claim::new(server.clone(), key.clone(), None);
    if let Err(e) = wait_for_predecessors(server, &prefix, place.revision).await {
        claim.withdraw().await;
        return Err(e.into());
    }
    let confirmed = still_queued(server, &key, place.revision, lease);
    let (queued, header) = match confirmed {
        Ok(confirmed) => confirmed,
        Err(e) => {
            claim.withdraw().await;
            return Err(e.into());
        }
    };
    claim.keep();
    if !queued {
        return Err(CoordinationError::SessionExpired);
    }
    Ok((key, header))
}

/// Releases a lock for `caller`: deletes its key.
pub(crate) async fn unlock(
    server: &EtcdServer,
    caller: &Caller,
    key: &[u8],
) -> Result<ResponseHeader, CoordinationError> {
    let delete = DeleteRangeRequest {
        key: key.to_vec(),
        ..Default::default()
    };
    validate::validate_delete_range(&delete)?;
    let mut resp = server.propose(caller, delete).await?;
    server.finish_header(&mut resp.header);
    Ok(resp.header.unwrap_or_default())
}
