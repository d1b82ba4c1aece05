//! The request checks etcd 3.5.1 makes in its gRPC layer before a request is proposed
//! (`v3rpc/key.go`): empty keys, flag combinations, the txn operation limit (which shrinks for
//! nested txns) and keys written twice in one txn. They depend on the request alone.

use std::collections::HashSet;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::request_op::Request;
use oxcd_api::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest};

/// Checks a range request.
pub fn validate_range(req: &RangeRequest) -> Result<(), EtcdError> {
    if req.key.is_empty() {
        return Err(EtcdError::EmptyKey);
    }
    Ok(())
}

/// Checks a put request.
pub fn validate_put(req: &PutRequest) -> Result<(), EtcdError> {
    if req.key.is_empty() {
        return Err(EtcdError::EmptyKey);
    }
    if req.ignore_value && !req.value.is_empty() {
        return Err(EtcdError::ValueProvided);
    }
    if req.ignore_lease && req.lease != 0 {
        return Err(EtcdError::LeaseProvided);
    }
    Ok(())
}

/// Checks a delete request.
pub fn validate_delete_range(req: &DeleteRangeRequest) -> Result<(), EtcdError> {
    if req.key.is_empty() {
        return Err(EtcdError::EmptyKey);
    }
    Ok(())
}

/// Checks a txn: sizes and every operation (recursively), then that no key is put twice or
/// both put and deleted (puts in the two branches of one nested txn may repeat each other).
pub fn validate_txn(req: &TxnRequest, max_txn_ops: usize) -> Result<(), EtcdError> {
    check_txn(req, i64::try_from(max_txn_ops).unwrap_or(i64::MAX))?;
    check_overlaps(&req.success)?;
    check_overlaps(&req.failure)?;
    Ok(())
}

fn check_txn(req: &TxnRequest, max_ops: i64) -> Result<(), EtcdError> {
    let ops = req
        .compare
        .len()
        .max(req.success.len())
        .max(req.failure.len()) as i64;
    if ops > max_ops {
        return Err(EtcdError::TooManyOps);
    }
    if req.compare.iter().any(|c| c.key.is_empty()) {
        return Err(EtcdError::EmptyKey);
    }
    for op in req.success.iter().chain(&req.failure) {
        check_op(op, max_ops - ops)?;
    }
    Ok(())
}

fn check_op(op: &RequestOp, max_ops: i64) -> Result<(), EtcdError> {
    match &op.request {
        Some(Request::RequestRange(r)) => validate_range(r),
        Some(Request::RequestPut(p)) => validate_put(p),
        Some(Request::RequestDeleteRange(d)) => validate_delete_range(d),
        Some(Request::RequestTxn(t)) => check_txn(t, max_ops),
        // etcd answers an empty operation this way.
        None => Err(EtcdError::KeyNotFound),
    }
}

/// Keys deleted by a txn level: a single key, or `[key, range_end)` (a `"\0"` end covers no
/// key here, exactly as in etcd's interval check).
#[derive(Clone, Copy)]
enum Deleted<'a> {
    Key(&'a [u8]),
    Range(&'a [u8], &'a [u8]),
}

impl Deleted<'_> {
    fn covers(&self, key: &[u8]) -> bool {
        match *self {
            Deleted::Key(k) => k == key,
            Deleted::Range(begin, end) => begin <= key && key < end,
        }
    }
}

type Writes<'a> = (HashSet<&'a [u8]>, Vec<Deleted<'a>>);

/// etcd's `checkIntervals`: returns the keys put and the ranges deleted by `ops` (nested txns
/// included) or `DuplicateKey`.
fn check_overlaps(ops: &[RequestOp]) -> Result<Writes<'_>, EtcdError> {
    let mut dels: Vec<Deleted<'_>> = ops
        .iter()
        .filter_map(|op| match &op.request {
            Some(Request::RequestDeleteRange(d)) if d.range_end.is_empty() => {
                Some(Deleted::Key(&d.key))
            }
            Some(Request::RequestDeleteRange(d)) => Some(Deleted::Range(&d.key, &d.range_end)),
            _ => None,
        })
        .collect();
    let deleted = |dels: &[Deleted<'_>], key: &[u8]| dels.iter().any(|d| d.covers(key));

    let mut puts: HashSet<&[u8]> = HashSet::new();
    for op in ops {
        let Some(Request::RequestTxn(t)) = &op.request else {
            continue;
        };
        let (puts_then, dels_then) = check_overlaps(&t.success)?;
        let (puts_else, dels_else) = check_overlaps(&t.failure)?;
        for k in &puts_then {
            if puts.contains(k) || deleted(&dels, k) {
                return Err(EtcdError::DuplicateKey);
            }
            puts.insert(k);
        }
        for k in &puts_else {
            // The same key in both branches is fine: only one branch runs.
            if (puts.contains(k) && !puts_then.contains(k)) || deleted(&dels, k) {
                return Err(EtcdError::DuplicateKey);
            }
            puts.insert(k);
        }
        dels.extend(dels_then);
        dels.extend(dels_else);
    }

    for op in ops {
        let Some(Request::RequestPut(p)) = &op.request else {
            continue;
        };
        let k = p.key.as_slice();
        if puts.contains(k) || deleted(&dels, k) {
            return Err(EtcdError::DuplicateKey);
        }
        puts.insert(k);
    }
    Ok((puts, dels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestPut(PutRequest {
                key: k.into(),
                ..Default::default()
            })),
        }
    }

    fn del(k: &str, end: &str) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestDeleteRange(DeleteRangeRequest {
                key: k.into(),
                range_end: end.into(),
                ..Default::default()
            })),
        }
    }

    fn get(k: &str) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestRange(RangeRequest {
                key: k.into(),
                ..Default::default()
            })),
        }
    }

    fn txn(success: Vec<RequestOp>, failure: Vec<RequestOp>) -> TxnRequest {
        TxnRequest {
            compare: Vec::new(),
            success,
            failure,
        }
    }

    fn nested(t: TxnRequest) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestTxn(t)),
        }
    }

    #[test]
    fn flat_checks() {
        assert_eq!(
            validate_range(&RangeRequest::default()),
            Err(EtcdError::EmptyKey)
        );
        let mut p = PutRequest {
            key: b"k".to_vec(),
            ignore_value: true,
            value: b"v".to_vec(),
            ..Default::default()
        };
        assert_eq!(validate_put(&p), Err(EtcdError::ValueProvided));
        p.value.clear();
        p.ignore_lease = true;
        p.lease = 5;
        assert_eq!(validate_put(&p), Err(EtcdError::LeaseProvided));
        assert_eq!(
            validate_delete_range(&DeleteRangeRequest::default()),
            Err(EtcdError::EmptyKey)
        );
    }

    #[test]
    fn op_limits_shrink_when_nesting() {
        let t = txn(vec![get("a"), get("b")], vec![]);
        assert_eq!(validate_txn(&t, 2), Ok(()));
        assert_eq!(validate_txn(&t, 1), Err(EtcdError::TooManyOps));
        let outer = txn(vec![nested(txn(vec![get("x")], vec![])), get("y")], vec![]);
        assert_eq!(validate_txn(&outer, 3), Ok(()));
        assert_eq!(validate_txn(&outer, 2), Err(EtcdError::TooManyOps));
        let empty_op = txn(vec![RequestOp { request: None }], vec![]);
        assert_eq!(validate_txn(&empty_op, 10), Err(EtcdError::KeyNotFound));
    }

    #[test]
    fn duplicate_keys_as_etcd_detects_them() {
        let dup = |ops| validate_txn(&txn(ops, vec![]), 128);
        assert_eq!(dup(vec![put("a"), put("a")]), Err(EtcdError::DuplicateKey));
        assert_eq!(
            dup(vec![put("a"), del("a", "")]),
            Err(EtcdError::DuplicateKey)
        );
        assert_eq!(
            dup(vec![del("a", "c"), put("b")]),
            Err(EtcdError::DuplicateKey)
        );
        assert_eq!(dup(vec![del("a", "c"), put("c")]), Ok(()));
        assert_eq!(dup(vec![del("a", "\0"), put("b")]), Ok(()));
        assert_eq!(dup(vec![del("a", "c"), del("b", "d")]), Ok(()));
        // Both branches of one nested txn may put the same key.
        assert_eq!(
            dup(vec![nested(txn(vec![put("a")], vec![put("a")]))]),
            Ok(())
        );
        // Two nested txns may not.
        assert_eq!(
            dup(vec![
                nested(txn(vec![put("a")], vec![])),
                nested(txn(vec![], vec![put("a")]))
            ]),
            Err(EtcdError::DuplicateKey)
        );
        // A nested put over an earlier nested delete is caught, the other order is not.
        assert_eq!(
            dup(vec![
                nested(txn(vec![del("a", "")], vec![])),
                nested(txn(vec![put("a")], vec![]))
            ]),
            Err(EtcdError::DuplicateKey)
        );
        assert_eq!(
            dup(vec![
                nested(txn(vec![put("a")], vec![])),
                nested(txn(vec![del("a", "")], vec![]))
            ]),
            Ok(())
        );
        assert_eq!(
            dup(vec![put("a"), nested(txn(vec![del("a", "b")], vec![]))]),
            Err(EtcdError::DuplicateKey)
        );
    }
}
