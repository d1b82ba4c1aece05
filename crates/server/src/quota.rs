//! The backend quota (`--quota-backend-bytes`), checked as etcd checks it before a put, a txn or
//! a lease grant is proposed: the backend file's size plus an estimate of what the request adds
//! must stay below the quota — so once the file has reached it, even a txn that only reads or
//! deletes is refused, as in etcd (plain ranges and deletes are not checked). A request that does not fit raises the NOSPACE alarm through
//! raft (from then on every member refuses such requests until it is disarmed) and is answered
//! "database space exceeded".

use oxcd_api::etcdserverpb::{PutRequest, RequestOp, TxnRequest, request_op};

/// etcd's estimate of what storing a key's metadata costs, in bytes.
const KV_OVERHEAD: u64 = 256;
/// etcd's estimate of what storing a lease costs, in bytes.
pub(crate) const LEASE_OVERHEAD: u64 = 64;

/// A limit on the backend's size; none when quotas are disabled (a negative flag).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BackendQuota {
    limit: Option<u64>,
    /// What `etcd_server_quota_backend_bytes` shows: the limit, or the negative flag value
    /// that disabled it.
    reported: i64,
}

impl BackendQuota {
    /// A quota of `limit` bytes (none: disabled by the negative `flag`).
    pub(crate) fn new(flag: i64, limit: Option<u64>) -> BackendQuota {
        let reported = limit.map_or(flag, |l| i64::try_from(l).unwrap_or(i64::MAX));
        BackendQuota { limit, reported }
    }

    /// The value of the `etcd_server_quota_backend_bytes` gauge.
    pub(crate) fn reported(&self) -> i64 {
        self.reported
    }

    /// Whether a request costing `cost` bytes fits a backend of `size` bytes.
    pub(crate) fn fits(&self, size: u64, cost: u64) -> bool {
        self.limit
            .is_none_or(|limit| size.saturating_add(cost) < limit)
    }
}

/// What a put adds: its key, its value and the metadata kept with them.
pub(crate) fn put_cost(put: &PutRequest) -> u64 {
    KV_OVERHEAD + put.key.len() as u64 + put.value.len() as u64
}

/// What a txn adds: the puts of its costlier branch (puts in nested txns are not counted,
/// as etcd 3.5 counts them).
pub(crate) fn txn_cost(txn: &TxnRequest) -> u64 {
    let branch = |ops: &[RequestOp]| -> u64 {
        ops.iter()
            .map(|op| match &op.request {
                Some(request_op::Request::RequestPut(put)) => put_cost(put),
                _ => 0,
            })
            .sum()
    };
    branch(&txn.success).max(branch(&txn.failure))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: &str) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key: key.into(),
                value: value.into(),
                ..Default::default()
            })),
        }
    }

    #[test]
    fn costs_and_limits_follow_etcd() {
        assert_eq!(put_cost(&PutRequest::default()), 256);
        let txn = TxnRequest {
            success: vec![put("a", "1"), put("b", "2")],
            failure: vec![put("long-key", "long value")],
            ..Default::default()
        };
        assert_eq!(txn_cost(&txn), 2 * 258);
        assert_eq!(txn_cost(&TxnRequest::default()), 0);

        let quota = BackendQuota::new(1000, Some(1000));
        assert!(quota.fits(700, 299));
        assert!(!quota.fits(700, 300), "the sum must stay below the quota");
        assert!(quota.fits(999, 0));
        assert!(!quota.fits(1000, 0), "a full backend takes no txn at all");
        let disabled = BackendQuota::new(-1, None);
        assert!(disabled.fits(u64::MAX, 1));
        assert_eq!(disabled.reported(), -1);
    }
}
