//! What each request needs of its caller's permissions, as etcd's auth applier checks it: read
//! permission for ranges and compares, write permission for puts and deletes (and read too when
//! the previous value is returned), root for the auth requests but a user's own record and
//! roles. The apply step (`apply/authorization.rs`) runs these for writes; the services for what
//! they serve without raft (read-only txns among them).
//!
//! Beyond etcd 3.5.1, as its later releases: a txn nested in a txn is checked like the rest,
//! and a put that attaches a lease needs write permission on the keys already attached to it.
//! oxcd also requires write permission on every key for a compaction, which etcd leaves to
//! anyone.

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{
    DeleteRangeRequest, PutRequest, RequestOp, TxnRequest, request_op::Request as Op,
};

use super::caller::Caller;
use super::permissions::Access;
use super::request::{AuthOp, AuthRequest};
use super::store::AuthStore;
use crate::lease::Lessor;

/// Every key: from the smallest key on (etcd's "from key" end).
const ALL_KEYS: (&[u8], &[u8]) = (b"\0", b"\0");

/// The permission checks of the KV, lease and auth requests, for one caller.
pub(crate) struct RequestCheck<'a> {
    auth: &'a AuthStore,
    lessor: &'a Lessor,
    caller: &'a Caller,
}

impl<'a> RequestCheck<'a> {
    /// Checks for `caller` against `auth`, with the keys attached to leases in `lessor`.
    pub(crate) fn new(auth: &'a AuthStore, lessor: &'a Lessor, caller: &'a Caller) -> Self {
        RequestCheck {
            auth,
            lessor,
            caller,
        }
    }

    /// A compaction removes history of every key: it needs write permission on all of them.
    pub(crate) fn compaction(&self) -> Result<(), EtcdError> {
        self.keys(ALL_KEYS.0, ALL_KEYS.1, Access::Write)
    }

    /// A range (or a watch) over `[key, range_end)`.
    pub(crate) fn range(&self, key: &[u8], range_end: &[u8]) -> Result<(), EtcdError> {
        self.keys(key, range_end, Access::Read)
    }

    fn keys(&self, key: &[u8], range_end: &[u8], access: Access) -> Result<(), EtcdError> {
        let caller = self.caller;
        self.auth
            .check(&caller.user, caller.auth_revision, key, range_end, access)
    }

    /// A put: the key, the keys already on its lease, and its previous value if returned.
    pub(crate) fn put(&self, put: &PutRequest) -> Result<(), EtcdError> {
        self.keys(&put.key, &[], Access::Write)?;
        // A lease whose keys the caller could not write is one it could not revoke either, so
        // it may not attach more keys to it.
        self.lease_keys_writable(put.lease)?;
        if put.prev_kv {
            self.keys(&put.key, &[], Access::Read)?;
        }
        Ok(())
    }

    /// A delete: the range, and its previous values if returned.
    pub(crate) fn delete(&self, delete: &DeleteRangeRequest) -> Result<(), EtcdError> {
        self.keys(&delete.key, &delete.range_end, Access::Write)?;
        if delete.prev_kv {
            self.keys(&delete.key, &delete.range_end, Access::Read)?;
        }
        Ok(())
    }

    /// A txn: every compare, and every operation of both branches.
    pub(crate) fn txn(&self, txn: &TxnRequest) -> Result<(), EtcdError> {
        for compare in &txn.compare {
            self.range(&compare.key, &compare.range_end)?;
        }
        txn.success
            .iter()
            .chain(&txn.failure)
            .try_for_each(|op| self.op(op))
    }

    fn op(&self, op: &RequestOp) -> Result<(), EtcdError> {
        match &op.request {
            Some(Op::RequestRange(range)) => self.range(&range.key, &range.range_end),
            Some(Op::RequestPut(put)) => self.put(put),
            Some(Op::RequestDeleteRange(delete)) => self.delete(delete),
            Some(Op::RequestTxn(txn)) => self.txn(txn),
            None => Ok(()),
        }
    }

    /// Whether the caller may write every key attached to lease `id` (a root may).
    pub(crate) fn lease_keys_writable(&self, id: i64) -> Result<(), EtcdError> {
        if id == 0 || self.auth.check_admin(&self.caller.user).is_ok() {
            return Ok(());
        }
        let keys = self.lessor.attached_keys(id).unwrap_or_default();
        keys.iter()
            .try_for_each(|key| self.keys(key, &[], Access::Write))
    }

    /// etcd's rules for the auth requests: root only, but a user may read itself and the
    /// roles it holds.
    pub(crate) fn auth_request(&self, request: &AuthRequest) -> Result<(), EtcdError> {
        let user = &self.caller.user;
        let admin = self.auth.check_admin(user);
        match &request.op {
            Some(AuthOp::Authenticate(_)) => Ok(()),
            Some(AuthOp::UserGet(get)) if admin.is_err() && get.name == *user => Ok(()),
            Some(AuthOp::RoleGet(get)) if admin.is_err() && self.auth.has_role(user, &get.role) => {
                Ok(())
            }
            _ => admin,
        }
    }
}
