//! Applying lease requests: grant, revoke (deleting the lease's keys in one revision) and
//! checkpoint. The lessor's replicated part and the backend's lease table change together here,
//! in the batch's one backend transaction.

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::request_op;
use oxcd_api::etcdserverpb::{
    DeleteRangeRequest, LeaseCheckpointRequest, LeaseGrantRequest, LeaseGrantResponse,
    LeaseRevokeRequest, LeaseRevokeResponse, RequestOp, TxnRequest,
};

use super::step::{Apply, ApplyContext, ApplyError};
use crate::lease::table::{self as lease_table, StoredLease};
use crate::proposal::Outcome;

/// Writes a lease's row in the batch's transaction.
fn store(cx: &ApplyContext<'_, '_>, lease: &StoredLease) -> Result<(), ApplyError> {
    lease_table::store(cx.batch.tables(), lease).map_err(ApplyError::storage)
}

/// Deletes a lease's row in the batch's transaction.
fn remove(cx: &ApplyContext<'_, '_>, id: i64) -> Result<(), ApplyError> {
    lease_table::remove(cx.batch.tables(), id).map_err(ApplyError::storage)
}

impl Apply for LeaseGrantRequest {
    fn apply(
        &self,
        cx: &mut ApplyContext<'_, '_>,
    ) -> Result<Outcome<LeaseGrantResponse>, ApplyError> {
        let stored = match cx.state.lessor().grant(self.id, self.ttl) {
            Ok(stored) => stored,
            Err(e) => return Ok(Err(e)),
        };
        store(cx, &stored)?;
        cx.metrics.watch_lease().record_granted(stored.ttl);
        Ok(Ok(LeaseGrantResponse {
            header: Some(cx.header()),
            id: stored.id,
            ttl: stored.ttl,
            error: String::new(),
        }))
    }
}

impl Apply for LeaseRevokeRequest {
    /// Revokes the lease: its keys are deleted in one revision (one txn, as etcd does), then
    /// the lease is forgotten.
    fn apply(
        &self,
        cx: &mut ApplyContext<'_, '_>,
    ) -> Result<Outcome<LeaseRevokeResponse>, ApplyError> {
        let lessor = cx.state.lessor();
        let Some(keys) = lessor.attached_keys(self.id) else {
            return Ok(Err(EtcdError::LeaseNotFound));
        };
        if !keys.is_empty() {
            let deletes = TxnRequest {
                success: keys
                    .into_iter()
                    .map(|key| RequestOp {
                        request: Some(request_op::Request::RequestDeleteRange(
                            DeleteRangeRequest {
                                key,
                                ..Default::default()
                            },
                        )),
                    })
                    .collect(),
                ..Default::default()
            };
            // The lessor follows these deletes with the rest of the request's changes.
            if let Err(e) = cx.batch.txn(&deletes, &|_| true) {
                return Ok(Err(e));
            }
        }
        remove(cx, self.id)?;
        lessor.remove(self.id);
        cx.metrics.watch_lease().record_revoked();
        Ok(Ok(LeaseRevokeResponse {
            header: Some(cx.header()),
        }))
    }
}

impl Apply for LeaseCheckpointRequest {
    fn apply(&self, cx: &mut ApplyContext<'_, '_>) -> Result<Outcome<()>, ApplyError> {
        for stored in cx.state.lessor().checkpoint(&self.checkpoints) {
            store(cx, &stored)?;
        }
        Ok(Ok(()))
    }
}
