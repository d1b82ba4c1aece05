//! The caller's permissions, checked as each request is applied: every member checks the same
//! request against the same auth state at the same point of the log, so a write is allowed or
//! refused alike everywhere and the members never diverge (etcd's auth applier). Reads served
//! without raft are checked by the services (`grpc/caller.rs`); what each request needs is in
//! `auth/request_check.rs`.

use oxcd_api::EtcdError;

use crate::auth::{AuthStore, Caller, RequestCheck};
use crate::lease::Lessor;
use crate::proposal::Request;

/// What refuses `request` by `caller` (none for an entry that names nobody, checked as a
/// client without credentials), if anything.
pub(super) fn refusal(
    auth: &AuthStore,
    lessor: &Lessor,
    caller: Option<&Caller>,
    request: &Request,
) -> Option<EtcdError> {
    let anonymous = Caller::anonymous();
    let caller = caller.unwrap_or(&anonymous);
    if caller.member || !auth.status().0 {
        return None;
    }
    let check = RequestCheck::new(auth, lessor, caller);
    let checked = match request {
        Request::Put(put) => check.put(put),
        Request::DeleteRange(delete) => check.delete(delete),
        Request::Txn(txn) => check.txn(txn),
        Request::Compaction(_) => check.compaction(),
        Request::LeaseRevoke(revoke) => check.lease_keys_writable(revoke.id),
        Request::Auth(auth_request) => check.auth_request(auth_request),
        // Leases are granted to any user (the services refuse clients without one);
        // membership and alarms are checked by the services; the rest is the members' own.
        Request::LeaseGrant(_)
        | Request::LeaseCheckpoint(_)
        | Request::MemberAttributes(_)
        | Request::MemberUpdate(_)
        | Request::Alarm(_) => Ok(()),
    };
    checked.err()
}
